// Writes audit rows (see audit_writer.hpp).
#include "audit_writer.hpp"
#include "audit_direct_insert.hpp"
#include "invalidated_cache.hpp"
#include "table_owner.hpp"
#include "app_settings.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/namespace.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
}

namespace saas::audit {
namespace {

constexpr int kColumns = 10;
static_assert(kColumns == kSuppliedColumns, "the SQL column lists follow kSuppliedColumnNames");
// Rows per multi-row INSERT in statement mode: large enough to amortise the
// executor start-up, small enough to bound the arrays' memory.
constexpr int kBatchRows = 2000;

const char *const kRowInsertSql =
    "INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, "
    "old_values, new_values, changed_columns, transaction_id, metadata) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

// changed_columns travels as the text form of each row's text[]: a text[][]
// cannot hold rows with different numbers of changed columns.
const char *const kBatchInsertSql =
    "INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, "
    "old_values, new_values, changed_columns, transaction_id, metadata) "
    "SELECT u.o, $2, u.r, u.a, $5, u.ov, u.nv, u.cc::pg_catalog.text[], $9, $10 "
    "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3), pg_catalog.unnest($4), "
    "pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8)) "
    "AS u(o, r, a, ov, nv, cc)";

SPIPlanPtr row_plan = nullptr;
SPIPlanPtr batch_plan = nullptr;

// saas.audit_logs' OID and owner, refreshed after any invalidation of it.
Oid audit_logs_oid = InvalidOid;
Oid audit_logs_owner = InvalidOid;

void forget_audit_logs(InvalidatedCache *, Oid relid) {
    if (relid == InvalidOid || relid == audit_logs_oid) audit_logs_oid = InvalidOid;
}

InvalidatedCache audit_logs_invalidation = {forget_audit_logs, nullptr, 0, false};

Oid audit_logs_owner_id() {
    watch_invalidation(&audit_logs_invalidation);
    if (audit_logs_oid != InvalidOid) return audit_logs_owner;
    Oid nsp = get_namespace_oid("saas", true);
    Oid relid = OidIsValid(nsp) ? get_relname_relid("audit_logs", nsp) : InvalidOid;
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation \"saas.audit_logs\" does not exist"),
                        errhint("The saas_schema extension must be installed for the audit "
                                "trigger to work.")));
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
    audit_logs_owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    audit_logs_oid = relid;
    return audit_logs_owner;
}

SPIPlanPtr prepare_plan(SPIPlanPtr *slot, const char *sql, const Oid *types) {
    if (*slot != nullptr) return *slot;
    SPIPlanPtr plan = SPI_prepare(sql, kColumns, const_cast<Oid *>(types));
    if (plan == nullptr)
        elog(ERROR, "SPI_prepare failed for audit insert: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed for audit insert");
    *slot = plan;
    return plan;
}

// Runs a prepared insert as the owner of saas.audit_logs.
void execute_as_owner(SPIPlanPtr *slot, const char *sql, const Oid *types, Datum *values,
                      const char *nulls) {
    Oid owner = audit_logs_owner_id();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    SPIPlanPtr plan = prepare_plan(slot, sql, types);
    SavedUser saved = become_table_owner(owner);
    int rc = SPI_execute_plan(plan, values, nulls, false, 0);
    restore_user(saved);
    if (rc != SPI_OK_INSERT) elog(ERROR, "audit insert failed: %s", SPI_result_code_string(rc));
    SPI_finish();
}

// Inserts one row through the direct path (audit_direct_insert.hpp) when it
// can take it; false means: use SPI.  nulls in SPI's ' '/'n' form.
bool insert_directly(Datum *values, const char *nulls) {
    Oid owner = audit_logs_owner_id();
    DirectInserter *inserter = direct_begin(audit_logs_oid, owner);
    if (inserter == nullptr) return false;
    bool isnull[kColumns];
    for (int c = 0; c < kColumns; c++)
        isnull[c] = nulls[c] == 'n';
    bool done = direct_insert(inserter, values, isnull);
    direct_end(inserter);
    return done;
}

// The top-level transaction id with epoch, as txid_current() reports it.
// Read only when a row is written, so a statement that audits nothing does
// not assign a transaction id.
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

} // namespace

void read_session_context(SessionContext *session) {
    // Unset or empty: no actor.  Malformed: 22P02 naming the setting, the
    // same error saas.current_actor_id() raises.
    session->has_actor = read_actor_id(&session->actor_id);
    session->metadata = read_request_metadata();
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

void write_change(const RelationInfo *info, const SessionContext *session,
                  const RowIdentity &identity, const RowChange &change) {
    static const Oid types[kColumns] = {UUIDOID,  TEXTOID,  UUIDOID,      TEXTOID, UUIDOID,
                                        JSONBOID, JSONBOID, TEXTARRAYOID, INT8OID, JSONBOID};
    Datum values[kColumns];
    char nulls[kColumns];
    memset(nulls, ' ', sizeof nulls);
    values[0] = identity.organization_id;
    values[1] = PointerGetDatum(info->table_name);
    values[2] = identity.record_id;
    if (identity.record_id_null) nulls[2] = 'n';
    values[3] = CStringGetTextDatum(change.action);
    values[4] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&session->actor_id));
    if (!session->has_actor) nulls[4] = 'n';
    values[5] = PointerGetDatum(change.old_values);
    if (change.old_values == nullptr) nulls[5] = 'n';
    values[6] = PointerGetDatum(change.new_values);
    if (change.new_values == nullptr) nulls[6] = 'n';
    if (change.changed_attnos != nullptr)
        values[7] = text_array(info, change);
    else
        nulls[7] = 'n';
    values[8] = transaction_id();
    values[9] = PointerGetDatum(session->metadata);
    if (insert_directly(values, nulls)) return;
    execute_as_owner(&row_plan, kRowInsertSql, types, values, nulls);
}

struct Batch {
    const RelationInfo *info;
    const SessionContext *session;
    MemoryContext context;  // lives for the statement
    bool direct_tried;      // direct_begin called
    DirectInserter *direct; // rows go here while it takes them
    bool have_transaction_id;
    Datum transaction_id;
    MemoryContext rows_context; // copies of the collected rows; reset per flush
    int count;
    Datum organization_ids[kBatchRows];
    Datum record_ids[kBatchRows];
    bool record_id_nulls[kBatchRows];
    Datum actions[kBatchRows];
    Datum old_values[kBatchRows];
    bool old_nulls[kBatchRows];
    Datum new_values[kBatchRows];
    bool new_nulls[kBatchRows];
    Datum changed[kBatchRows];
    bool changed_nulls[kBatchRows];
};

Batch *batch_begin(const RelationInfo *info, const SessionContext *session) {
    Batch *batch = static_cast<Batch *>(palloc(sizeof(Batch)));
    batch->info = info;
    batch->session = session;
    batch->rows_context =
        AllocSetContextCreate(CurrentMemoryContext, "saas audit batch", ALLOCSET_DEFAULT_SIZES);
    batch->count = 0;
    batch->context = CurrentMemoryContext;
    batch->direct_tried = false;
    batch->direct = nullptr;
    batch->have_transaction_id = false;
    return batch;
}

namespace {

Datum make_array(Datum *elems, bool *nulls, int count, Oid type, int16 len, bool byval,
                 char align) {
    int dims[1] = {count};
    int lbs[1] = {1};
    return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type, len, byval, align));
}

void batch_flush(Batch *batch) {
    if (batch->count == 0) return;
    static const Oid types[kColumns] = {UUIDARRAYOID, TEXTOID,       UUIDARRAYOID,  TEXTARRAYOID,
                                        UUIDOID,      JSONBARRAYOID, JSONBARRAYOID, TEXTARRAYOID,
                                        INT8OID,      JSONBOID};
    MemoryContext old = MemoryContextSwitchTo(batch->rows_context);
    int n = batch->count;
    Datum values[kColumns];
    char nulls[kColumns];
    memset(nulls, ' ', sizeof nulls);
    values[0] =
        make_array(batch->organization_ids, nullptr, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
    values[1] = PointerGetDatum(batch->info->table_name);
    values[2] = make_array(batch->record_ids, batch->record_id_nulls, n, UUIDOID, UUID_LEN, false,
                           TYPALIGN_CHAR);
    values[3] = make_array(batch->actions, nullptr, n, TEXTOID, -1, false, TYPALIGN_INT);
    values[4] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&batch->session->actor_id));
    if (!batch->session->has_actor) nulls[4] = 'n';
    values[5] =
        make_array(batch->old_values, batch->old_nulls, n, JSONBOID, -1, false, TYPALIGN_INT);
    values[6] =
        make_array(batch->new_values, batch->new_nulls, n, JSONBOID, -1, false, TYPALIGN_INT);
    values[7] =
        make_array(batch->changed, batch->changed_nulls, n, TEXTOID, -1, false, TYPALIGN_INT);
    values[8] = transaction_id();
    values[9] = PointerGetDatum(batch->session->metadata);
    execute_as_owner(&batch_plan, kBatchInsertSql, types, values, nulls);
    MemoryContextSwitchTo(old);
    MemoryContextReset(batch->rows_context);
    batch->count = 0;
}

Datum copy_varlena(const void *ptr) {
    const struct varlena *v = static_cast<const struct varlena *>(ptr);
    void *copy = palloc(VARSIZE(v));
    memcpy(copy, v, VARSIZE(v));
    return PointerGetDatum(copy);
}

Datum copy_uuid(Datum value) {
    pg_uuid_t *copy = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    memcpy(copy, DatumGetUUIDP(value), sizeof(pg_uuid_t));
    return UUIDPGetDatum(copy);
}

// Inserts the row at once through the direct path when it takes it (opened
// at the first row, so a statement that audits nothing opens nothing).
bool batch_add_direct(Batch *batch, const RowIdentity &identity, const RowChange &change) {
    if (!batch->direct_tried) {
        batch->direct_tried = true;
        Oid owner = audit_logs_owner_id();
        MemoryContext old = MemoryContextSwitchTo(batch->context);
        batch->direct = direct_begin(audit_logs_oid, owner);
        MemoryContextSwitchTo(old);
    }
    if (!direct_usable(batch->direct)) return false;
    if (!batch->have_transaction_id) {
        batch->transaction_id = transaction_id();
        batch->have_transaction_id = true;
    }
    const SessionContext *session = batch->session;
    Datum values[kColumns];
    bool nulls[kColumns] = {};
    values[0] = identity.organization_id;
    values[1] = PointerGetDatum(batch->info->table_name);
    values[2] = identity.record_id;
    nulls[2] = identity.record_id_null;
    values[3] = CStringGetTextDatum(change.action);
    values[4] = UUIDPGetDatum(const_cast<pg_uuid_t *>(&session->actor_id));
    nulls[4] = !session->has_actor;
    values[5] = PointerGetDatum(change.old_values);
    nulls[5] = change.old_values == nullptr;
    values[6] = PointerGetDatum(change.new_values);
    nulls[6] = change.new_values == nullptr;
    nulls[7] = change.changed_attnos == nullptr;
    values[7] = nulls[7] ? (Datum)0 : text_array(batch->info, change);
    values[8] = batch->transaction_id;
    values[9] = PointerGetDatum(session->metadata);
    return direct_insert(batch->direct, values, nulls);
}

} // namespace

void batch_add(Batch *batch, const RowIdentity &identity, const RowChange &change) {
    if (batch_add_direct(batch, identity, change)) return;
    if (batch->count == kBatchRows) batch_flush(batch);
    // The row's datums point into the caller's per-row memory and tuple slot:
    // keep copies until the flush.
    MemoryContext old = MemoryContextSwitchTo(batch->rows_context);
    int i = batch->count++;
    batch->organization_ids[i] = copy_uuid(identity.organization_id);
    batch->record_id_nulls[i] = identity.record_id_null;
    batch->record_ids[i] = identity.record_id_null ? (Datum)0 : copy_uuid(identity.record_id);
    batch->actions[i] = CStringGetTextDatum(change.action);
    batch->old_nulls[i] = change.old_values == nullptr;
    batch->old_values[i] = batch->old_nulls[i] ? (Datum)0 : copy_varlena(change.old_values);
    batch->new_nulls[i] = change.new_values == nullptr;
    batch->new_values[i] = batch->new_nulls[i] ? (Datum)0 : copy_varlena(change.new_values);
    batch->changed_nulls[i] = change.changed_attnos == nullptr;
    batch->changed[i] =
        batch->changed_nulls[i] ? (Datum)0 : text_array_literal(batch->info, change);
    MemoryContextSwitchTo(old);
}

void batch_finish(Batch *batch) {
    batch_flush(batch);
    if (batch->direct != nullptr) {
        MemoryContext old = MemoryContextSwitchTo(batch->context);
        direct_end(batch->direct);
        MemoryContextSwitchTo(old);
    }
    MemoryContextDelete(batch->rows_context);
}

} // namespace saas::audit
