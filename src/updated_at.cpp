// saas.set_updated_at(): BEFORE INSERT OR UPDATE ... FOR EACH ROW trigger.
//
//   saas.set_updated_at([column name [, mode]])
//     column  timestamptz or timestamp column to maintain (default updated_at)
//     mode    'changed' (default): an UPDATE that changes no other column keeps
//             the stored value, so updated_at means "last real change";
//             'always': every UPDATE sets it.
//
// INSERT: a NULL column gets the transaction timestamp (now()); an explicit
// value is kept (imports keep their history), 'infinity' too, but the next
// UPDATE replaces an infinite stamp (see "Never move backwards" below).  UPDATE: the column is set
// to now(), or, for a no-op UPDATE in 'changed' mode, to its stored value; it is trigger-managed
// either way.
//
// created_at policy: if the table has a created_at column (other than the
// maintained one), an UPDATE that changes its value raises SQLSTATE 428C9
// (generated_always), the code PostgreSQL itself raises when an UPDATE writes
// a system-managed column.  We raise instead of silently keeping the old
// value: a silently ignored write is a wrong result the client never learns
// about.  Assigning the stored value (ORMs writing back every field) is fine.
//
// Everything here calls PostgreSQL and may longjmp: plain C data only.
#include "boundary.hpp"
#include "trigger_cache.hpp"

extern "C" {
#include "utils/datum.h"
}

namespace {

using saas::TriggerCacheEntry;

// Per-trigger state (trigger_cache.hpp): two triggers on one table may
// maintain different columns.  A relcache invalidation of the table (ALTER
// TABLE, DROP, CREATE OR REPLACE TRIGGER) marks it stale, so the attribute
// numbers are looked up again.
struct TriggerState {
    TriggerCacheEntry key;
    NameData column; // trigger arguments the state was built from
    bool always;
    AttrNumber target_attnum;
    Oid target_type;           // TIMESTAMPTZOID or TIMESTAMPOID
    AttrNumber created_attnum; // 0: no created_at column to protect
};

saas::TriggerCache states =
    saas::make_trigger_cache("saas_schema updated_at trigger states", sizeof(TriggerState));

[[noreturn]] void protocol_error(const char *what, const char *hint) {
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("saas.set_updated_at: %s", what), errhint("%s", hint)));
    pg_unreachable();
}

constexpr const char *kUsageHint =
    "Use CREATE TRIGGER ... BEFORE INSERT OR UPDATE ON tbl FOR EACH ROW EXECUTE FUNCTION "
    "saas.set_updated_at(['column' [, 'always']]), or saas.enable_updated_at(tbl).";

// Looks up the columns for st; raises if the table does not fit.
void resolve(TriggerState *st, Relation rel, const char *column, bool always) {
    TupleDesc desc = RelationGetDescr(rel);
    const char *relname = RelationGetRelationName(rel);
    st->key.valid = false;
    st->key.relation_oid = RelationGetRelid(rel);
    namestrcpy(&st->column, column);
    st->always = always;

    int attnum = SPI_fnumber(desc, column); // skips dropped columns
    if (attnum == SPI_ERROR_NOATTRIBUTE)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN),
                 errmsg("column \"%s\" of relation \"%s\" does not exist", column, relname),
                 errdetail("Trigger function saas.set_updated_at maintains column \"%s\".", column),
                 errhint("Add a timestamptz column \"%s\", or name an existing column in the "
                         "trigger's first argument.",
                         column)));
    if (attnum <= 0)
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
             errmsg("saas.set_updated_at cannot maintain system column \"%s\" of relation \"%s\"",
                    column, relname)));
    Oid type = TupleDescAttr(desc, attnum - 1)->atttypid;
    if (type != TIMESTAMPTZOID && type != TIMESTAMPOID)
        ereport(ERROR,
                (errcode(ERRCODE_DATATYPE_MISMATCH),
                 errmsg("column \"%s\" of relation \"%s\" is of type %s", column, relname,
                        format_type_be(type)),
                 errdetail("saas.set_updated_at needs a column of type timestamp with time zone "
                           "or timestamp without time zone.")));

    int created = SPI_fnumber(desc, "created_at");
    st->created_attnum = (created > 0 && created != attnum) ? AttrNumber(created) : 0;
    st->target_attnum = AttrNumber(attnum);
    st->target_type = type;
    st->key.valid = true;
}

// True if any column other than `skip` differs between the two images.
bool row_changed(TupleTableSlot *old_slot, TupleTableSlot *new_slot, TupleDesc desc,
                 AttrNumber skip) {
    slot_getallattrs(old_slot);
    slot_getallattrs(new_slot);
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped || i + 1 == skip) continue;
        bool old_null = old_slot->tts_isnull[i], new_null = new_slot->tts_isnull[i];
        if (old_null != new_null) return true;
        if (!old_null && !datum_image_eq(old_slot->tts_values[i], new_slot->tts_values[i],
                                         att->attbyval, att->attlen))
            return true;
    }
    return false;
}

} // namespace

SAAS_FUNCTION(saas_set_updated_at) {
    if (!CALLED_AS_TRIGGER(fcinfo)) protocol_error("not called by trigger manager", kUsageHint);
    TriggerData *td = reinterpret_cast<TriggerData *>(fcinfo->context);
    if (!TRIGGER_FIRED_BEFORE(td->tg_event))
        protocol_error("must be fired BEFORE the row change", kUsageHint);
    if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
        protocol_error("must be fired FOR EACH ROW", kUsageHint);
    bool is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
    if (!is_update && !TRIGGER_FIRED_BY_INSERT(td->tg_event))
        protocol_error("must be fired for INSERT or UPDATE only", kUsageHint);

    Trigger *trigger = td->tg_trigger;
    if (trigger->tgnargs > 2)
        ereport(
            ERROR,
            (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
             errmsg("saas.set_updated_at: trigger \"%s\" has %d arguments, at most 2 are allowed",
                    trigger->tgname, trigger->tgnargs),
             errhint("%s", kUsageHint)));
    const char *column = trigger->tgnargs >= 1 ? trigger->tgargs[0] : "updated_at";
    bool always = false;
    if (trigger->tgnargs == 2) {
        if (strcmp(trigger->tgargs[1], "always") == 0)
            always = true;
        else if (strcmp(trigger->tgargs[1], "changed") != 0)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("saas.set_updated_at: invalid mode \"%s\" in trigger \"%s\"",
                            trigger->tgargs[1], trigger->tgname),
                     errhint("The second argument is 'changed' (the default) or 'always'.")));
    }

    auto *st = reinterpret_cast<TriggerState *>(saas::trigger_cache_entry(&states, trigger->tgoid));
    Relation rel = td->tg_relation;
    if (!saas::trigger_cache_entry_current(&st->key, rel) || st->always != always ||
        strcmp(NameStr(st->column), column) != 0)
        resolve(st, rel, column, always);

    TupleDesc desc = RelationGetDescr(rel);
    HeapTuple tuple = is_update ? td->tg_newtuple : td->tg_trigtuple;
    AttrNumber attnum = st->target_attnum;
    Form_pg_attribute target = TupleDescAttr(desc, attnum - 1);

    if (is_update && st->created_attnum != 0) {
        Form_pg_attribute att = TupleDescAttr(desc, st->created_attnum - 1);
        bool old_null, new_null;
        Datum old_value = slot_getattr(td->tg_trigslot, st->created_attnum, &old_null);
        Datum new_value = slot_getattr(td->tg_newslot, st->created_attnum, &new_null);
        if (old_null != new_null ||
            (!old_null && !datum_image_eq(old_value, new_value, att->attbyval, att->attlen)))
            ereport(
                ERROR,
                (errcode(ERRCODE_GENERATED_ALWAYS),
                 errmsg("column \"created_at\" of relation \"%s\" cannot be changed by UPDATE",
                        RelationGetRelationName(rel)),
                 errdetail("created_at records when the row was inserted; trigger \"%s\" keeps it "
                           "unchanged.",
                           trigger->tgname),
                 errhint("Leave created_at out of the UPDATE.")));
    }

    Datum value;
    if (!is_update) {
        bool isnull;
        slot_getattr(td->tg_trigslot, attnum, &isnull);
        if (!isnull) return PointerGetDatum(tuple); // explicit value kept
        value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    } else if (!always && !row_changed(td->tg_trigslot, td->tg_newslot, desc, attnum)) {
        // No-op UPDATE: keep the stored value (also undoing an explicit write).
        bool old_null, new_null;
        Datum old_value = slot_getattr(td->tg_trigslot, attnum, &old_null);
        Datum new_value = slot_getattr(td->tg_newslot, attnum, &new_null);
        if (old_null == new_null &&
            (old_null || datum_image_eq(old_value, new_value, target->attbyval, target->attlen)))
            return PointerGetDatum(tuple);
        int col = attnum;
        return PointerGetDatum(
            heap_modify_tuple_by_cols(tuple, desc, 1, &col, &old_value, &old_null));
    } else {
        value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
    }
    // timestamp without time zone: the session-time-zone local time, exactly
    // what now()::timestamp gives.
    if (st->target_type == TIMESTAMPOID) value = DirectFunctionCall1(timestamptz_timestamp, value);
    if (is_update) {
        // Never move backwards.  now() is the transaction's start: a
        // transaction that started later but updated the row first (we waited
        // for its lock) has already stamped a later time; keep that one.
        // Only a finite stamp can come from a transaction: 'infinity' (an
        // explicit value kept by an INSERT) would otherwise pin the column
        // forever, as nothing is later.  It is replaced like an older stamp.
        bool old_null;
        Datum old_value = slot_getattr(td->tg_trigslot, attnum, &old_null);
        if (!old_null && !TIMESTAMP_NOT_FINITE(DatumGetTimestamp(old_value)) &&
            DatumGetTimestamp(old_value) > DatumGetTimestamp(value))
            value = old_value;
    }

    int col = attnum;
    bool null_flag = false;
    return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 1, &col, &value, &null_flag));
}
