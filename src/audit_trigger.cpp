// saas.audit_trigger(): the audit trigger's entry point.
//
// FOR EACH ROW it writes one audit row per changed row.  FOR EACH STATEMENT
// with transition tables it diffs the whole statement in C++ and writes the
// audit rows with multi-row INSERTs (much cheaper for bulk statements).
#include "audit_writer.hpp"
#include "extension_gucs.hpp"

extern "C" {
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/acl.h"
#include "utils/rls.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}
#include "table_owner.hpp"

namespace {

using namespace saas::audit;

void check_trigger_call(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("saas.audit_trigger() must be called as a trigger"),
                        errhint("Use saas.enable_audit(table) to install it.")));
    TriggerData *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
    TriggerEvent event = trigdata->tg_event;
    // TRUNCATE is counted before it happens; row changes after they happen.
    bool truncate = TRIGGER_FIRED_BY_TRUNCATE(event);
    bool when_ok = truncate ? TRIGGER_FIRED_BEFORE(event) && TRIGGER_FIRED_FOR_STATEMENT(event)
                            : TRIGGER_FIRED_AFTER(event);
    if (!when_ok)
        ereport(
            ERROR,
            (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
             errmsg("trigger \"%s\" on \"%s\" must be %s to run saas.audit_trigger()",
                    trigdata->tg_trigger->tgname, RelationGetRelationName(trigdata->tg_relation),
                    truncate ? "a BEFORE TRUNCATE statement trigger" : "an AFTER trigger"),
             errhint("Use saas.enable_audit(table) to install it.")));
}

// slot_getallattrs fills tts_values for the slot's descriptor; the cached
// description must have been built from the same descriptor.
void load_slot(const RelationInfo *info, TupleTableSlot *slot) {
    slot_getallattrs(slot);
    if (slot->tts_tupleDescriptor->natts != info->natts)
        elog(ERROR, "audit trigger: row has %d columns, cached description has %d",
             slot->tts_tupleDescriptor->natts, info->natts);
}

// Computes the audit row for one changed row.  Returns false when the
// change is not recorded (an UPDATE that changed nothing of interest).
bool describe_change(const RelationInfo *info, TriggerEvent event, TupleTableSlot *old_slot,
                     TupleTableSlot *new_slot, RowIdentity *identity, RowChange *change) {
    memset(change, 0, sizeof *change);
    if (TRIGGER_FIRED_BY_INSERT(event)) {
        load_slot(info, new_slot);
        change->action = "INSERT";
        change->new_values = row_to_jsonb(info, new_slot->tts_values, new_slot->tts_isnull);
        *identity = row_identity(info, new_slot->tts_values, new_slot->tts_isnull);
        return true;
    }
    if (TRIGGER_FIRED_BY_DELETE(event)) {
        load_slot(info, old_slot);
        change->action = "DELETE";
        change->old_values = row_to_jsonb(info, old_slot->tts_values, old_slot->tts_isnull);
        *identity = row_identity(info, old_slot->tts_values, old_slot->tts_isnull);
        return true;
    }
    load_slot(info, old_slot);
    load_slot(info, new_slot);
    if (!diff_update(info, old_slot->tts_values, old_slot->tts_isnull, new_slot->tts_values,
                     new_slot->tts_isnull, change))
        return false;
    *identity = row_identity(info, new_slot->tts_values, new_slot->tts_isnull);
    return true;
}

void audit_row(TriggerData *trigdata, const RelationInfo *info, const SessionContext *session) {
    TriggerEvent event = trigdata->tg_event;
    TupleTableSlot *old_slot = nullptr;
    TupleTableSlot *new_slot = nullptr;
    if (TRIGGER_FIRED_BY_INSERT(event))
        new_slot = trigdata->tg_trigslot;
    else if (TRIGGER_FIRED_BY_DELETE(event))
        old_slot = trigdata->tg_trigslot;
    else {
        old_slot = trigdata->tg_trigslot;
        new_slot = trigdata->tg_newslot;
    }
    RowIdentity identity;
    RowChange change;
    if (describe_change(info, event, old_slot, new_slot, &identity, &change))
        write_change(info, session, identity, change);
}

// A private read pointer, so other readers of the transition table (other
// statement triggers) are not disturbed.
void start_reading(Tuplestorestate *table) {
    int pointer = tuplestore_alloc_read_pointer(table, EXEC_FLAG_REWIND);
    tuplestore_select_read_pointer(table, pointer);
    tuplestore_rescan(table);
}

// Reads the rows of a transition table one by one into slot.
struct TransitionReader {
    Tuplestorestate *table;
    TupleTableSlot *slot;
};

bool next_row(TransitionReader *reader) {
    return reader->table != nullptr &&
           tuplestore_gettupleslot(reader->table, true, false, reader->slot);
}

// Describes one row change and adds it to the batch, in a per-row context.
void add_change(Batch *batch, const RelationInfo *info, TriggerEvent event,
                TupleTableSlot *old_slot, TupleTableSlot *new_slot, MemoryContext row_context) {
    MemoryContext old_context = MemoryContextSwitchTo(row_context);
    RowIdentity identity;
    RowChange change;
    if (describe_change(info, event, old_slot, new_slot, &identity, &change))
        batch_add(batch, identity, change);
    MemoryContextSwitchTo(old_context);
    MemoryContextReset(row_context);
}

// An UPDATE whose transition tables differ in length: some old rows have no
// new version.  That happens when a row moves to another partition and a
// BEFORE INSERT trigger there returns NULL: PostgreSQL has deleted the row
// from its old partition and inserts nothing, so the row is gone.  Rows are
// paired by the table's uuid id: an old row without a new one is recorded
// as DELETE, a new row without an old one as INSERT, the rest as UPDATEs.
// Without an id nothing can be paired: every old row is a DELETE, every new
// one an INSERT (what the table holds afterwards is still exactly right).
struct NewRowEntry {
    pg_uuid_t id; // hash key
    int64 index;  // into the new rows' array
};

void audit_unequal_update(Batch *batch, const RelationInfo *info, TransitionReader *old_rows,
                          TransitionReader *new_rows, int64 new_count, MemoryContext row_context) {
    MemoryContext pairing =
        AllocSetContextCreate(CurrentMemoryContext, "saas audit pairing", ALLOCSET_DEFAULT_SIZES);
    MemoryContext caller = MemoryContextSwitchTo(pairing);
    MinimalTuple *rows =
        static_cast<MinimalTuple *>(palloc(sizeof(MinimalTuple) * Max(new_count, 1)));
    bool *paired = static_cast<bool *>(palloc0(sizeof(bool) * Max(new_count, 1)));
    HTAB *by_id = nullptr;
    if (info->id_attno > 0) {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof ctl);
        ctl.keysize = sizeof(pg_uuid_t);
        ctl.entrysize = sizeof(NewRowEntry);
        ctl.hcxt = pairing;
        by_id = hash_create("saas audit new rows by id", Max(new_count, 16), &ctl,
                            HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    int64 count = 0;
    while (count < new_count && next_row(new_rows)) {
        rows[count] = ExecCopySlotMinimalTuple(new_rows->slot);
        if (by_id != nullptr) {
            bool isnull;
            Datum id = slot_getattr(new_rows->slot, info->id_attno, &isnull);
            bool found = false;
            auto *entry = isnull ? nullptr
                                 : static_cast<NewRowEntry *>(
                                       hash_search(by_id, DatumGetUUIDP(id), HASH_ENTER, &found));
            if (entry != nullptr && !found) entry->index = count; // a duplicate id stays unpaired
        }
        count++;
    }
    MemoryContextSwitchTo(caller);

    while (next_row(old_rows)) {
        NewRowEntry *entry = nullptr;
        if (by_id != nullptr) {
            bool isnull;
            Datum id = slot_getattr(old_rows->slot, info->id_attno, &isnull);
            if (!isnull)
                entry = static_cast<NewRowEntry *>(
                    hash_search(by_id, DatumGetUUIDP(id), HASH_FIND, nullptr));
        }
        if (entry != nullptr && !paired[entry->index]) {
            paired[entry->index] = true;
            ExecStoreMinimalTuple(rows[entry->index], new_rows->slot, false);
            add_change(batch, info, TRIGGER_EVENT_UPDATE, old_rows->slot, new_rows->slot,
                       row_context);
        } else {
            add_change(batch, info, TRIGGER_EVENT_DELETE, old_rows->slot, nullptr, row_context);
        }
    }
    for (int64 i = 0; i < count; i++) {
        if (paired[i]) continue;
        ExecStoreMinimalTuple(rows[i], new_rows->slot, false);
        add_change(batch, info, TRIGGER_EVENT_INSERT, nullptr, new_rows->slot, row_context);
    }
    ExecClearTuple(new_rows->slot);
    MemoryContextDelete(pairing);
}

void audit_statement(TriggerData *trigdata, const RelationInfo *info,
                     const SessionContext *session) {
    TriggerEvent event = trigdata->tg_event;
    Tuplestorestate *old_table = trigdata->tg_oldtable;
    Tuplestorestate *new_table = trigdata->tg_newtable;
    bool needs_old = TRIGGER_FIRED_BY_UPDATE(event) || TRIGGER_FIRED_BY_DELETE(event);
    bool needs_new = TRIGGER_FIRED_BY_UPDATE(event) || TRIGGER_FIRED_BY_INSERT(event);
    if ((needs_old && old_table == nullptr) || (needs_new && new_table == nullptr))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("statement-level trigger \"%s\" on \"%s\" needs transition tables",
                               trigdata->tg_trigger->tgname,
                               RelationGetRelationName(trigdata->tg_relation)),
                        errhint("Use saas.enable_audit(table, mode => 'statement'), which declares "
                                "REFERENCING OLD TABLE / NEW TABLE.")));

    TupleDesc desc = RelationGetDescr(trigdata->tg_relation);
    TransitionReader old_rows = {nullptr, nullptr};
    TransitionReader new_rows = {nullptr, nullptr};
    if (needs_old) {
        old_rows = {old_table, MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple)};
        start_reading(old_table);
    }
    if (needs_new) {
        new_rows = {new_table, MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple)};
        start_reading(new_table);
    }

    MemoryContext row_context =
        AllocSetContextCreate(CurrentMemoryContext, "saas audit row", ALLOCSET_DEFAULT_SIZES);
    Batch *batch = batch_begin(info, session);
    int64 old_count = needs_old ? tuplestore_tuple_count(old_table) : 0;
    int64 new_count = needs_new ? tuplestore_tuple_count(new_table) : 0;
    if (needs_old && needs_new && old_count != new_count) {
        audit_unequal_update(batch, info, &old_rows, &new_rows, new_count, row_context);
    } else {
        // For an UPDATE, the n-th row of the old table and the n-th row of
        // the new table are the same row: AfterTriggerSaveEvent (trigger.c)
        // appends a row's old and new versions to the two tuplestores in the
        // same call (a cross-partition move appends them in its delete then
        // insert step, with nothing in between).
        for (;;) {
            bool has_old = next_row(&old_rows);
            bool has_new = next_row(&new_rows);
            if (!has_old && !has_new) break;
            add_change(batch, info, event, has_old ? old_rows.slot : nullptr,
                       has_new ? new_rows.slot : nullptr, row_context);
        }
    }
    batch_finish(batch);
    MemoryContextDelete(row_context);
    if (old_rows.slot != nullptr) ExecDropSingleTupleTableSlot(old_rows.slot);
    if (new_rows.slot != nullptr) ExecDropSingleTupleTableSlot(new_rows.slot);
}

// TRUNCATE: one audit row per tenant whose rows it removes (action
// TRUNCATE, old_values {"rows": n}, no record id), so each tenant's audit
// log shows what it lost.  The rows are counted as the table's owner with
// FORCE ROW LEVEL SECURITY lifted (whoever truncates, every row goes), and
// with a fixed search_path (the query names only qualified objects).
void audit_truncate(TriggerData *trigdata, const RelationInfo *info,
                    const SessionContext *session) {
    // On Citus, TRUNCATE of a distributed table fires this trigger on the
    // distributed table (on the coordinator, or a worker's shell table),
    // whose count covers every shard.  A shard carries a copy of the trigger
    // once Citus has moved it; counting there would record its rows again.
    if (info->citus_shard) return;
    Relation rel = trigdata->tg_relation;
    StringInfoData sql;
    initStringInfo(&sql);
    // A partitioned table holds its rows in its partitions; a plain table's
    // inheritance children fire their own triggers.
    appendStringInfo(&sql, "SELECT t.%s, pg_catalog.count(*) FROM %s%s AS t GROUP BY 1",
                     quote_identifier(NameStr(info->columns[info->tenant_attno - 1].name)),
                     rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
                     quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                                RelationGetRelationName(rel)));
    MemoryContext caller_context = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = saas::spi_execute_as_owner(rel->rd_rel->relowner, sql.data, 0, nullptr, nullptr,
                                        nullptr, true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    uint64 tenants = SPI_processed;
    Datum *tenant_ids = static_cast<Datum *>(
        MemoryContextAlloc(caller_context, sizeof(Datum) * (tenants > 0 ? tenants : 1)));
    int64 *row_counts = static_cast<int64 *>(
        MemoryContextAlloc(caller_context, sizeof(int64) * (tenants > 0 ? tenants : 1)));
    for (uint64 i = 0; i < tenants; i++) {
        bool isnull;
        Datum tenant = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
        // As for a row (row_identity): no audit row without an organization.
        if (isnull)
            ereport(ERROR,
                    (errcode(ERRCODE_NOT_NULL_VIOLATION),
                     errmsg("cannot audit TRUNCATE of \"%s\": rows whose tenant column \"%s\" is "
                            "NULL",
                            text_to_cstring(info->table_name),
                            NameStr(info->columns[info->tenant_attno - 1].name)),
                     errhint("Every audited row must belong to an organization.")));
        Datum count = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
        MemoryContext spi_context = MemoryContextSwitchTo(caller_context);
        tenant_ids[i] = datumCopy(tenant, false, sizeof(pg_uuid_t));
        MemoryContextSwitchTo(spi_context);
        row_counts[i] = DatumGetInt64(count);
    }
    SPI_finish();

    for (uint64 i = 0; i < tenants; i++) {
        RowIdentity identity;
        identity.organization_id = tenant_ids[i];
        identity.record_id = (Datum)0;
        identity.record_id_null = true;
        RowChange change;
        memset(&change, 0, sizeof change);
        change.action = "TRUNCATE";
        change.old_values = DatumGetJsonbP(DirectFunctionCall1(
            jsonb_in, CStringGetDatum(psprintf("{\"rows\": " INT64_FORMAT "}", row_counts[i]))));
        write_change(info, session, identity, change);
    }
}

bool bypasses_rls(Oid role) {
    return superuser_arg(role) || has_bypassrls_privilege(role);
}

// True when this change must not be audited:
//  * saas.audit_enabled = off (superuser maintenance);
//  * a dump being restored.  Dumps made by 0.4.0 and earlier recreate the
//    tables with their triggers (CREATE EXTENSION) before pg_restore loads
//    their rows, and a data-only restore loads rows into tables that have
//    them, so without this a restore would log every restored row as a new
//    INSERT.  pg_dump and pg_restore scripts run with row_security = off; a
//    role subject to row-level security cannot change an audited table in
//    that mode at all (PostgreSQL raises an error instead).
//    Whose privilege counts is what the caller cannot forge: the session
//    user (the login, or SET SESSION AUTHORIZATION by a superuser) or the
//    role it switched to with SET ROLE (pg_restore --role), never the
//    current user.  Inside a SECURITY DEFINER function the current user is
//    the function's owner: an application role that turns row_security off
//    and calls a superuser's SECURITY DEFINER function is audited.
bool audit_suppressed() {
    if (!saas::audit_enabled) return true;
    if (row_security) return false;
    return bypasses_rls(GetSessionUserId()) || bypasses_rls(GetOuterUserId());
}

} // namespace

SAAS_FUNCTION(saas_audit_trigger) {
    check_trigger_call(fcinfo);
    if (audit_suppressed()) return PointerGetDatum(nullptr);
    TriggerData *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
    RelationInfo *info = lookup_relation_info(trigdata);
    SessionContext session;
    read_session_context(&session);
    if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
        audit_truncate(trigdata, info, &session);
    else if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
        audit_row(trigdata, info, &session);
    else
        audit_statement(trigdata, info, &session);
    return PointerGetDatum(nullptr);
}
