// Filling audit rows (see audit_row.hpp).
#include "audit_row.hpp"
#include "actor.hpp"
#include "app_settings.hpp"
#include "extension_gucs.hpp"

extern "C" {
#include "access/transam.h"
#include "utils/array.h"
}

namespace saas::audit {
namespace {

// The top-level transaction id with epoch, as txid_current() reports it.
Datum transaction_id() {
    return Int64GetDatum(static_cast<int64>(U64FromFullTransactionId(GetTopFullTransactionId())));
}

Datum text_array(const RelationInfo *info, const RowChange &change) {
    Datum *names = static_cast<Datum *>(palloc(sizeof(Datum) * Max(change.changed_count, 1)));
    for (int c = 0; c < change.changed_count; c++)
        names[c] = CStringGetTextDatum(NameStr(info->columns[change.changed_attnos[c] - 1].name));
    return PointerGetDatum(
        construct_array(names, change.changed_count, TEXTOID, -1, false, TYPALIGN_INT));
}

// The text form of a text[] of column names, e.g. {"a","b c"}.
Datum text_array_literal(const RelationInfo *info, const RowChange &change) {
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoChar(&buf, '{');
    for (int c = 0; c < change.changed_count; c++) {
        if (c > 0) appendStringInfoChar(&buf, ',');
        appendStringInfoChar(&buf, '"');
        for (const char *p = NameStr(info->columns[change.changed_attnos[c] - 1].name); *p; p++) {
            if (*p == '"' || *p == '\\') appendStringInfoChar(&buf, '\\');
            appendStringInfoChar(&buf, *p);
        }
        appendStringInfoChar(&buf, '"');
    }
    appendStringInfoChar(&buf, '}');
    return PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
}

// The note saas.revert_record / saas.revert_transaction set (saas.audit_note,
// transaction-local) while they undo changes, so that their own audit rows
// say what they revert: merged over the metadata.  Parsed once per value.
Jsonb *with_audit_note(Jsonb *metadata) {
    static char *cached_text = nullptr;
    static Jsonb *cached_note = nullptr;
    if (audit_note == nullptr || audit_note[0] == '\0') return metadata;
    if (cached_text == nullptr || strcmp(cached_text, audit_note) != 0) {
        Jsonb *parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(audit_note)));
        if (!JB_ROOT_IS_OBJECT(parsed) || JB_ROOT_IS_SCALAR(parsed))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("setting \"saas.audit_note\" must be a JSON object")));
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        Jsonb *copy = static_cast<Jsonb *>(palloc(VARSIZE(parsed)));
        memcpy(copy, parsed, VARSIZE(parsed));
        char *text = pstrdup(audit_note);
        MemoryContextSwitchTo(old);
        if (cached_note != nullptr) pfree(cached_note);
        if (cached_text != nullptr) pfree(cached_text);
        cached_note = copy;
        cached_text = text;
    }
    return DatumGetJsonbP(
        DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(metadata), JsonbPGetDatum(cached_note)));
}

} // namespace

void read_session_context(SessionContext *session) {
    // The actor only when set_actor would accept it (actor.hpp), else none;
    // the same answer saas.current_actor_id() gives.  Malformed: 22P02
    // naming the setting.  The request metadata comes with a checked actor
    // only: without one it is not set_actor's either.
    // The setting is validated either way: a malformed value is an
    // application bug worth an error, actor or not.
    Jsonb *metadata = read_request_metadata();
    session->has_actor = checked_actor(&session->actor_id);
    session->metadata = with_audit_note(session->has_actor ? metadata : empty_request_metadata());
}

RowIdentity row_identity(const RelationInfo *info, const Datum *values, const bool *nulls) {
    RowIdentity identity;
    int tenant = info->tenant_attno - 1;
    if (nulls[tenant])
        ereport(ERROR,
                (errcode(ERRCODE_NOT_NULL_VIOLATION),
                 errmsg("cannot audit a row of \"%s\" whose tenant column \"%s\" is NULL",
                        text_to_cstring(info->table_name), NameStr(info->columns[tenant].name)),
                 errhint("Every audited row must belong to an organization.")));
    identity.organization_id = values[tenant];
    identity.record_id_null = info->id_attno == 0 || nulls[info->id_attno - 1];
    identity.record_id = identity.record_id_null ? (Datum)0 : values[info->id_attno - 1];
    return identity;
}

static_assert(kAuditColumns[column_index(AuditColumn::ChangedColumns)].batch ==
                  BatchForm::PerRowText,
              "changed_columns has a text form for the batch INSERT");

void fill_audit_row(const RelationInfo *info, const SessionContext *session,
                    const RowIdentity &identity, const RowChange &change, AuditRowForm form,
                    AuditRow *row) {
    // A switch without default: a column added to AuditColumn but not
    // filled here fails the build (-Wswitch).  Unrolled, the switch folds
    // away (kAuditColumns is constexpr): straight-line stores per row.
#pragma GCC unroll 16
    for (int c = 0; c < kAuditColumnCount; c++) {
        Datum value = (Datum)0;
        bool isnull = false;
        switch (kAuditColumns[c].column) {
        case AuditColumn::OrganizationId:
            value = identity.organization_id;
            break;
        case AuditColumn::TableName:
            value = PointerGetDatum(info->table_name);
            break;
        case AuditColumn::RecordId:
            value = identity.record_id;
            isnull = identity.record_id_null;
            break;
        case AuditColumn::Action:
            value = CStringGetTextDatum(change.action);
            break;
        case AuditColumn::UserId:
            value = UUIDPGetDatum(const_cast<pg_uuid_t *>(&session->actor_id));
            isnull = !session->has_actor;
            break;
        case AuditColumn::OldValues:
            value = PointerGetDatum(change.old_values);
            isnull = change.old_values == nullptr;
            break;
        case AuditColumn::NewValues:
            value = PointerGetDatum(change.new_values);
            isnull = change.new_values == nullptr;
            break;
        case AuditColumn::ChangedColumns:
            isnull = change.changed_attnos == nullptr;
            if (!isnull)
                value = form == AuditRowForm::BatchText ? text_array_literal(info, change)
                                                        : text_array(info, change);
            break;
        case AuditColumn::TransactionId:
            value = transaction_id();
            break;
        case AuditColumn::Metadata:
            value = PointerGetDatum(session->metadata);
            break;
        }
        row->values[c] = value;
        row->nulls[c] = isnull;
    }
}

} // namespace saas::audit
