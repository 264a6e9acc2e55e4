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
#include "catalog/partition.h"
#include "commands/extension.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

namespace saas::audit {
namespace {

struct CacheEntry {
    TriggerCacheEntry key;
    // Invalidation only marks the entry stale: the description is released
    // later, because a trigger call may still be using it.
    RelationInfo *info;
};

// A description records the name of a relation (the audited one or a
// partitioned ancestor): renaming that relation, or its schema, makes it
// stale (the entry's also_oid, and any pg_namespace change).
constexpr int kNamespaceCache[] = {NAMESPACEOID};
TriggerCache relation_cache =
    make_trigger_cache("saas audit relation cache", sizeof(CacheEntry), kNamespaceCache, 1);

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

// --- Which logical table names a relation may record changes under ---------
//
// The trigger writes audit rows as the owner of saas.audit_logs, into the
// log of whatever tenant the row names.  Its first argument, the logical
// table name, is therefore only believed when it names the audited relation
// itself, one of its partitioned ancestors (a partition's rows carry the
// name of the table the trigger was installed on) or, on Citus, the logical
// table a shard belongs to.  Anything else would let whoever can attach the
// trigger to a table of their own write rows into another tenant's history
// of, say, saas.tasks.  Checked once per trigger, when its description is
// built (so also again after ALTER TABLE ... RENAME).

char *qualified_name(Oid relid) {
    char *nspname = get_namespace_name(get_rel_namespace(relid));
    char *relname = get_rel_name(relid);
    if (nspname == nullptr || relname == nullptr) return nullptr;
    return psprintf("%s.%s", nspname, relname);
}

// relid or the partitioned ancestor of relid named logical, or InvalidOid.
Oid relation_or_ancestor_named(const char *logical, Oid relid) {
    char *own = qualified_name(relid);
    if (own != nullptr && strcmp(own, logical) == 0) return relid;
    if (!get_rel_relispartition(relid)) return InvalidOid;
    ListCell *cell;
    foreach (cell, get_partition_ancestors(relid)) {
        char *name = qualified_name(lfirst_oid(cell));
        if (name != nullptr && strcmp(name, logical) == 0) return lfirst_oid(cell);
    }
    return InvalidOid;
}

// The logical table of relid when relid is a Citus shard (on a worker, the
// trigger fires on shards such as saas.tasks_102104), else InvalidOid.
// Citus is not linked: its metadata is read with SPI, and only when the
// citus extension exists in this database.  A shard is named
// <logical name>_<shard id> (Citus may shorten long names before the
// suffix); pg_catalog.shard_name() confirms the exact name.
Oid citus_logical_table(Oid relid) {
    if (!OidIsValid(get_extension_oid("citus", true))) return InvalidOid;
    const char *relname = get_rel_name(relid);
    const char *underscore = relname != nullptr ? strrchr(relname, '_') : nullptr;
    if (underscore == nullptr || underscore[1] == '\0') return InvalidOid;
    int64 shard_id = 0;
    for (const char *p = underscore + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || shard_id > (PG_INT64_MAX - 9) / 10) return InvalidOid;
        shard_id = shard_id * 10 + (*p - '0');
    }
    char *nspname = get_namespace_name(get_rel_namespace(relid));
    const char *qualified = quote_qualified_identifier(nspname, relname);
    const char *unqualified = quote_identifier(relname);

    Oid logical = InvalidOid;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(shard_id)};
    int rc = SPI_execute_with_args(
        "SELECT s.logicalrelid::pg_catalog.oid, "
        "pg_catalog.shard_name(s.logicalrelid, s.shardid) "
        "FROM pg_catalog.pg_dist_shard AS s WHERE s.shardid OPERATOR(pg_catalog.=) $1",
        1, types, values, nullptr, true, 1);
    if (rc == SPI_OK_SELECT && SPI_processed == 1) {
        bool isnull;
        Datum oid = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        char *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
        // shard_name() leaves shards in schema public unqualified.
        if (!isnull && name != nullptr &&
            (strcmp(name, qualified) == 0 ||
             (strcmp(nspname, "public") == 0 && strcmp(name, unqualified) == 0)))
            logical = DatumGetObjectId(oid);
    }
    SPI_finish();
    return logical;
}

// The relation whose name rel may record changes under (see above), or
// InvalidOid; *shard tells whether rel is a Citus shard of it.
Oid relation_named(const char *logical, Relation rel, bool *shard) {
    Oid relid = RelationGetRelid(rel);
    Oid named = relation_or_ancestor_named(logical, relid);
    *shard = false;
    if (OidIsValid(named)) return named;
    // On Citus, the logical table of the shard, or of the shard that is its
    // partition root (a partition's shards are partitions of the parent's).
    Oid candidates[2] = {relid, InvalidOid};
    if (rel->rd_rel->relispartition) {
        List *ancestors = get_partition_ancestors(relid);
        if (ancestors != NIL) candidates[1] = llast_oid(ancestors);
    }
    for (Oid candidate : candidates) {
        if (!OidIsValid(candidate)) continue;
        Oid shard_of = citus_logical_table(candidate);
        if (OidIsValid(shard_of)) named = relation_or_ancestor_named(logical, shard_of);
        if (OidIsValid(named)) {
            *shard = true;
            return named;
        }
    }
    return InvalidOid;
}

// Returns the relation whose name the audit rows carry; *shard tells
// whether rel is a Citus shard of it.
Oid check_audited_relation(Relation rel, Trigger *trigger, const char *logical, bool *shard) {
    const char *own = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                                 RelationGetRelationName(rel));
    // enable_audit() is called on the root of a partition tree.
    Oid root = RelationGetRelid(rel);
    if (rel->rd_rel->relispartition) {
        List *ancestors = get_partition_ancestors(root);
        if (ancestors != NIL) root = llast_oid(ancestors);
    }
    const char *install_on =
        quote_qualified_identifier(get_namespace_name(get_rel_namespace(root)), get_rel_name(root));
    // A temporary table is private to its session and outside every
    // tenant's row-level security: its rows may claim any tenant.
    if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("audit trigger \"%s\" cannot audit temporary table \"%s\"",
                               trigger->tgname, RelationGetRelationName(rel)),
                        errdetail("Audit rows are written as the owner of saas.audit_logs into "
                                  "the log of the tenant each row names; a temporary table's "
                                  "rows are not bound to a tenant."),
                        errhint("Audit permanent tables only, with saas.enable_audit().")));
    *shard = false;
    if (logical == nullptr) return RelationGetRelid(rel);
    Oid named = relation_named(logical, rel, shard);
    if (!OidIsValid(named))
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("audit trigger \"%s\" on %s may not record changes as \"%s\"",
                               trigger->tgname, own, logical),
                        errdetail("The logical table name (the trigger's first argument) must "
                                  "be the audited table's own schema-qualified name, that of a "
                                  "partitioned table it belongs to or, on Citus, that of the "
                                  "distributed table of the shard."),
                        errhint("Install the trigger with saas.enable_audit('%s'); after "
                                "renaming an audited table, call saas.enable_audit() again.",
                                install_on)));
    return named;
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
    bool named = trigger->tgnargs >= 1 && trigger->tgargs[0][0] != '\0';
    info->named_relation = check_audited_relation(
        rel, trigger, named ? trigger->tgargs[0] : nullptr, &info->citus_shard);
    if (named) {
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
    entry->key.also_oid = entry->info->named_relation;
    entry->key.valid = true;
    return entry->info;
}

} // namespace saas::audit
