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
#include "utils/memutils.h"
#include "utils/acl.h"
#include "utils/rls.h"
#include "utils/tuplestore.h"
}

namespace {

using namespace saas::audit;

void check_trigger_call(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("saas.audit_trigger() must be called as a trigger"),
                        errhint("Use saas.enable_audit(table) to install it.")));
    TriggerData *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
    TriggerEvent event = trigdata->tg_event;
    if (!TRIGGER_FIRED_AFTER(event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("trigger \"%s\" on \"%s\" must be an AFTER trigger to run "
                               "saas.audit_trigger()",
                               trigdata->tg_trigger->tgname,
                               RelationGetRelationName(trigdata->tg_relation)),
                        errhint("Use saas.enable_audit(table) to install it.")));
    if (!TRIGGER_FIRED_BY_INSERT(event) && !TRIGGER_FIRED_BY_UPDATE(event) &&
        !TRIGGER_FIRED_BY_DELETE(event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("saas.audit_trigger() audits INSERT, UPDATE and DELETE only"),
                        errdetail("Trigger \"%s\" on \"%s\" fired for TRUNCATE.",
                                  trigdata->tg_trigger->tgname,
                                  RelationGetRelationName(trigdata->tg_relation))));
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
    TupleTableSlot *old_slot = nullptr;
    TupleTableSlot *new_slot = nullptr;
    if (needs_old) {
        old_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
        start_reading(old_table);
    }
    if (needs_new) {
        new_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
        start_reading(new_table);
    }

    MemoryContext row_context =
        AllocSetContextCreate(CurrentMemoryContext, "saas audit row", ALLOCSET_DEFAULT_SIZES);
    Batch *batch = batch_begin(info, session);
    // For an UPDATE, the n-th row of the old table and the n-th row of the
    // new table are the same row: AfterTriggerSaveEvent (trigger.c) appends
    // a row's old and new versions to the two tuplestores in the same call
    // (a cross-partition move appends them in its delete then insert step).
    for (;;) {
        bool has_old = needs_old && tuplestore_gettupleslot(old_table, true, false, old_slot);
        bool has_new = needs_new && tuplestore_gettupleslot(new_table, true, false, new_slot);
        if (needs_old && needs_new && has_old != has_new)
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("transition tables of an UPDATE on \"%s\" differ in length",
                                   RelationGetRelationName(trigdata->tg_relation))));
        if (!has_old && !has_new) break;
        MemoryContext old_context = MemoryContextSwitchTo(row_context);
        RowIdentity identity;
        RowChange change;
        if (describe_change(info, event, old_slot, new_slot, &identity, &change))
            batch_add(batch, identity, change);
        MemoryContextSwitchTo(old_context);
        MemoryContextReset(row_context);
    }
    batch_finish(batch);
    MemoryContextDelete(row_context);
    if (old_slot != nullptr) ExecDropSingleTupleTableSlot(old_slot);
    if (new_slot != nullptr) ExecDropSingleTupleTableSlot(new_slot);
}

// True when this change must not be audited:
//  * saas.audit_enabled = off (superuser maintenance);
//  * a dump being restored.  The extension's triggers exist before pg_restore
//    loads the tables' rows (CREATE EXTENSION runs first), so without this a
//    restore would log every restored row as a new INSERT.  pg_dump and
//    pg_restore scripts run with row_security = off; a role subject to
//    row-level security cannot change an audited table in that mode at all
//    (PostgreSQL raises an error instead), so only superusers and BYPASSRLS
//    roles that explicitly turned row_security off are affected.
bool audit_suppressed() {
    if (!saas::audit_enabled) return true;
    return !row_security && (superuser() || has_bypassrls_privilege(GetUserId()));
}

} // namespace

SAAS_FUNCTION(saas_audit_trigger) {
    check_trigger_call(fcinfo);
    if (audit_suppressed()) return PointerGetDatum(nullptr);
    TriggerData *trigdata = reinterpret_cast<TriggerData *>(fcinfo->context);
    RelationInfo *info = lookup_relation_info(trigdata);
    SessionContext session;
    read_session_context(&session);
    if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
        audit_row(trigdata, info, &session);
    else
        audit_statement(trigdata, info, &session);
    return PointerGetDatum(nullptr);
}
