// Per-trigger relation cache for the audit trigger (see audit_cache.hpp).
//
// Entries are keyed by trigger OID: a trigger on a partitioned table is
// cloned onto each partition with its own OID, and partitions may have a
// different physical column layout than their parent (dropped columns), so
// each clone gets its own description.
#include "audit_cache.hpp"
#include "trigger_cache.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
}

namespace saas::audit {
namespace {

struct CacheEntry {
    TriggerCacheEntry key;
    // Invalidation only marks the entry stale: the description is released
    // later, because a trigger call may still be using it.
    RelationInfo *info;
};

TriggerCache relation_cache = make_trigger_cache("saas audit relation cache", sizeof(CacheEntry));

ValueKind value_kind_for(Oid type_id) {
    switch (type_id) {
    case BOOLOID:
        return ValueKind::Bool;
    case INT2OID:
    case INT4OID:
    case INT8OID:
        return ValueKind::Integer;
    case NUMERICOID:
        return ValueKind::Numeric;
    case TEXTOID:
    case VARCHAROID:
        return ValueKind::Text;
    case UUIDOID:
        return ValueKind::Uuid;
    case JSONBOID:
        return ValueKind::Jsonb;
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
        return ValueKind::DateTime;
    default:
        return ValueKind::Generic;
    }
}

int find_column(RelationInfo *info, const char *name) {
    for (int i = 0; i < info->natts; i++) {
        if (!info->columns[i].dropped && strcmp(NameStr(info->columns[i].name), name) == 0)
            return i + 1;
    }
    return 0;
}

bool is_uuid_column(RelationInfo *info, int attno) {
    return attno > 0 && getBaseType(info->columns[attno - 1].type_id) == UUIDOID;
}

// Fills info from the relation and the trigger arguments:
//   tgargs[0]  logical table name (default: the relation's schema.name)
//   tgargs[1]  tenant column (default: organization_id)
//   tgargs[2:] excluded columns
void describe_relation(RelationInfo *info, TriggerData *trigdata) {
    Relation rel = trigdata->tg_relation;
    Trigger *trigger = trigdata->tg_trigger;
    TupleDesc desc = RelationGetDescr(rel);

    info->natts = desc->natts;
    info->columns = static_cast<Column *>(palloc0(sizeof(Column) * Max(desc->natts, 1)));
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        Column *col = &info->columns[i];
        col->name = att->attname;
        col->dropped = att->attisdropped;
        if (col->dropped) continue;
        col->type_id = att->atttypid;
        col->type_len = att->attlen;
        col->type_by_val = att->attbyval;
        col->updated_at = strcmp(NameStr(att->attname), "updated_at") == 0;
        // Credentials are never written to the audit log, whatever the
        // trigger arguments say.
        col->excluded = strcmp(NameStr(att->attname), "password_hash") == 0;
        col->kind = value_kind_for(att->atttypid);
        if (col->kind == ValueKind::Generic) {
            // to_jsonb reads its argument type from the call expression, so
            // give it one: to_jsonb(NULL::<column type>).
            fmgr_info_cxt(F_TO_JSONB, &col->to_jsonb_fn, info->context);
            Const *arg = makeNullConst(att->atttypid, att->atttypmod, att->attcollation);
            FuncExpr *call = makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(arg), InvalidOid,
                                          InvalidOid, COERCE_EXPLICIT_CALL);
            fmgr_info_set_expr(reinterpret_cast<Node *>(call), &col->to_jsonb_fn);
        }
    }

    const char *relname = RelationGetRelationName(rel);
    const char *tenant_column = "organization_id";
    if (trigger->tgnargs >= 1 && trigger->tgargs[0][0] != '\0') {
        info->table_name = cstring_to_text(trigger->tgargs[0]);
    } else {
        char *nspname = get_namespace_name(RelationGetNamespace(rel));
        info->table_name = cstring_to_text(psprintf("%s.%s", nspname, relname));
    }
    if (trigger->tgnargs >= 2) tenant_column = trigger->tgargs[1];

    info->tenant_attno = find_column(info, tenant_column);
    if (info->tenant_attno == 0)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                        errmsg("audit trigger \"%s\": table \"%s\" has no tenant column \"%s\"",
                               trigger->tgname, relname, tenant_column),
                        errhint("Install the trigger with saas.enable_audit(), which checks "
                                "the table and passes the right arguments.")));
    if (!is_uuid_column(info, info->tenant_attno))
        ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                        errmsg("audit trigger \"%s\": tenant column \"%s\" of table \"%s\" "
                               "must be of type uuid",
                               trigger->tgname, tenant_column, relname)));

    for (int a = 2; a < trigger->tgnargs; a++) {
        int attno = find_column(info, trigger->tgargs[a]);
        if (attno == 0)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("audit trigger \"%s\": excluded column \"%s\" does not "
                                   "exist in table \"%s\"",
                                   trigger->tgname, trigger->tgargs[a], relname),
                            errhint("Call saas.enable_audit() again with the current "
                                    "column list.")));
        info->columns[attno - 1].excluded = true;
    }

    // Tables without a uuid "id" (junction tables) get record_id NULL; their
    // key columns are in old_values/new_values.
    int id_attno = find_column(info, "id");
    info->id_attno = is_uuid_column(info, id_attno) ? id_attno : 0;
    info->deleted_at_attno = find_column(info, "deleted_at");
}

RelationInfo *build_relation_info(TriggerData *trigdata) {
    MemoryContext context =
        AllocSetContextCreate(CacheMemoryContext, "saas audit relation", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(context);
    RelationInfo *info = static_cast<RelationInfo *>(palloc0(sizeof(RelationInfo)));
    info->context = context;
    // If describing fails (bad arguments), the half-built context must not
    // stay in CacheMemoryContext: park it under the transaction so an ERROR
    // frees it, and move it to the cache only on success.
    MemoryContextSetParent(context, CurTransactionContext);
    describe_relation(info, trigdata);
    MemoryContextSetParent(context, CacheMemoryContext);
    MemoryContextSwitchTo(old);
    return info;
}

} // namespace

RelationInfo *lookup_relation_info(TriggerData *trigdata) {
    auto *entry = reinterpret_cast<CacheEntry *>(
        trigger_cache_entry(&relation_cache, trigdata->tg_trigger->tgoid));
    if (entry->info != nullptr && trigger_cache_entry_current(&entry->key, trigdata->tg_relation))
        return entry->info;
    if (entry->info != nullptr) {
        // A caller up the stack may still hold the stale description: free
        // it with the transaction instead of now.
        MemoryContextSetParent(entry->info->context, TopTransactionContext);
        entry->info = nullptr;
    }
    entry->info = build_relation_info(trigdata);
    entry->key.relation_oid = RelationGetRelid(trigdata->tg_relation);
    entry->key.valid = true;
    return entry->info;
}

} // namespace saas::audit
