// Direct inserts into saas.audit_logs (see audit_direct_insert.hpp).
//
// Modelled on COPY FROM (copyfrom.c), which inserts without a plan: per row
// ExecConstraints, table_tuple_insert and ExecInsertIndexTuples on the
// partition's ResultRelInfo.  Routing is PostgreSQL's own range lookup
// (partition_range_datum_bsearch over the parent's partition descriptor, as
// get_partition_for_tuple does), so no PartitionTupleRouting is set up per
// call.  Nothing else fires: the inserter declines when any INSERT trigger
// exists.
//
// The executor calls used here change shape between major versions
// (InitResultRelInfo, ExecInsertIndexTuples, partition descriptors), and the
// code relies on how PostgreSQL 15's ExecRelCheck uses ri_ConstraintExprs.
// It is therefore compiled for PostgreSQL 15 only (pg.hpp rejects older
// majors); on a later major direct_begin declines and every audit row takes
// the SPI path.
#include "audit_direct_insert.hpp"
#include "invalidated_cache.hpp"
#include "table_owner.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/syscache.h"
}

namespace saas::audit {

#if PG_VERSION_NUM >= 150000 && PG_VERSION_NUM < 160000 // PostgreSQL 15 only: see above

namespace {

// --- The session cache ---------------------------------------------------------
// Everything catalog-derived that an insert needs is built once per session and
// kept until an invalidation touches it: the column map, the planned and
// initialised default and CHECK expressions, one ResultRelInfo per partition
// with its IndexInfos, and an EState whose per-tuple context the inserts use.
// What each trigger call still does is the least the executor does per
// statement: lock and open the parent, the partition and its indexes; then
// route, check and insert.
//
// Invalidation callbacks only mark the cache stale.  It is rebuilt by the next
// direct_begin that finds no inserter active (a callback can fire while one
// is, e.g. when heap_insert opens a TOAST table); an active inserter that finds
// it stale declines its remaining rows, which then go through SPI.  Relations
// in use are locked (RowExclusiveLock), so what can invalidate them meanwhile
// takes weaker locks (statistics, CREATE INDEX CONCURRENTLY's catalog steps)
// and leaves the row being inserted valid.
//
// ExprStates outlive transactions here, which is safe for expressions made of
// Vars, Consts and functions written in C or internal (no SQL-language
// function caches, no subplans).  Any other default or CHECK expression on
// audit_logs sends every audit row through SPI.

constexpr int kMaxPartitions = 32;    // partitions cached per session
constexpr int kMaxOpenPartitions = 4; // partitions one inserter writes to

struct PartitionEntry {
    Oid relid;
    bool usable;
    ResultRelInfo *rri; // ri_RelationDesc, ri_IndexRelationDescs: set per use
    int nindexes;
    Oid *index_oids;
    AttrMap *map;         // parent to partition columns; nullptr when the same
    TupleTableSlot *slot; // the row in the partition's layout (when map)
};

struct SessionCache {
    bool valid;
    bool usable; // the parent's layout takes direct inserts
    Oid parent_oid;
    MemoryContext context;
    EState *estate;
    TupleTableSlot *slot; // a row of the parent, virtual
    int natts;
    int key_att;          // the partition key column (0-based)
    int *source;          // per parent column: its index in kAuditColumns, or -1
    ExprState **defaults; // per parent column not supplied: its default, or nullptr
    int npartitions;
    PartitionEntry partitions[kMaxPartitions];
};

SessionCache cache;
// At most one inserter is active (direct_begin declines inside another).  An
// abort of its subtransaction or transaction ends it: its direct_end never runs.
bool inserter_active = false;
SubTransactionId active_subtransaction = InvalidSubTransactionId;
bool transaction_callbacks_registered = false;

// Stale when the parent, a cached partition or one of its indexes is
// invalidated, and on any change to a function or type: planned
// expressions can inline functions and depend on types.
void mark_cache_stale(InvalidatedCache *, Oid relid) {
    if (!cache.valid) return;
    if (relid == InvalidOid || relid == cache.parent_oid) {
        cache.valid = false;
        return;
    }
    for (int p = 0; p < cache.npartitions; p++) {
        const PartitionEntry &entry = cache.partitions[p];
        bool hit = entry.relid == relid;
        for (int i = 0; !hit && i < entry.nindexes; i++)
            hit = entry.index_oids[i] == relid;
        if (hit) {
            cache.valid = false;
            return;
        }
    }
}

constexpr int kFunctionAndTypeCaches[] = {PROCOID, TYPEOID};
InvalidatedCache cache_invalidation = {mark_cache_stale, kFunctionAndTypeCaches, 2, false};

void on_transaction_end(XactEvent event, void *) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
        event == XACT_EVENT_PREPARE)
        inserter_active = false;
}

void on_subtransaction_event(SubXactEvent event, SubTransactionId subid, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB && active_subtransaction >= subid) inserter_active = false;
}

void register_callbacks() {
    watch_invalidation(&cache_invalidation);
    if (transaction_callbacks_registered) return;
    RegisterXactCallback(on_transaction_end, nullptr);
    RegisterSubXactCallback(on_subtransaction_event, nullptr);
    transaction_callbacks_registered = true;
}

bool citus_preloaded() {
    // shared_preload_libraries cannot change while the server runs.
    static int preloaded = -1;
    if (preloaded < 0) {
        const char *preload = GetConfigOption("shared_preload_libraries", true, false);
        preloaded = preload != nullptr && strstr(preload, "citus") != nullptr ? 1 : 0;
    }
    return preloaded == 1;
}

bool function_not_cacheable(Oid function, void *) {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
    if (!HeapTupleIsValid(tuple)) return true;
    Oid language = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->prolang;
    ReleaseSysCache(tuple);
    return language != INTERNALlanguageId && language != ClanguageId;
}

bool expression_not_cacheable(Node *node, void *context) {
    if (node == nullptr) return false;
    if (IsA(node, SubLink) || IsA(node, SubPlan) || IsA(node, Param)) return true;
    if (check_functions_in_node(node, function_not_cacheable, nullptr)) return true;
    // PostgreSQL 15 declares the walker as bool (*)(); void (*)() is the
    // generic function pointer type GCC lets us cast through.
    auto walker =
        reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(expression_not_cacheable));
    return expression_tree_walker(node, walker, context);
}

// An initialised expression (in the cache's context) from its stored text,
// or nullptr when it may not outlive the transaction.
ExprState *cached_expression(const char *stored, Oid expected_type) {
    Expr *planned = expression_planner(static_cast<Expr *>(stringToNode(stored)));
    if (expression_not_cacheable(reinterpret_cast<Node *>(planned), nullptr)) return nullptr;
    if (expected_type != InvalidOid && exprType(reinterpret_cast<Node *>(planned)) != expected_type)
        return nullptr;
    return ExecInitExpr(planned, nullptr);
}

bool has_insert_triggers(const TriggerDesc *trigdesc) {
    return trigdesc != nullptr &&
           (trigdesc->trig_insert_before_row || trigdesc->trig_insert_after_row ||
            trigdesc->trig_insert_instead_row || trigdesc->trig_insert_before_statement ||
            trigdesc->trig_insert_after_statement || trigdesc->trig_insert_new_table);
}

// Maps the parent's columns to the supplied values and defaults.  False when
// the layout is not what the direct path knows how to fill.
bool map_columns(Relation parent) {
    TupleDesc desc = RelationGetDescr(parent);
    TupleConstr *constr = desc->constr;
    if (constr != nullptr && constr->has_generated_stored) return false;
    cache.natts = desc->natts;
    cache.source = static_cast<int *>(palloc(sizeof(int) * desc->natts));
    cache.defaults = static_cast<ExprState **>(palloc0(sizeof(ExprState *) * desc->natts));
    int found = 0;
    for (int a = 0; a < desc->natts; a++) {
        Form_pg_attribute att = TupleDescAttr(desc, a);
        cache.source[a] = -1;
        if (att->attisdropped) continue;
        if (att->attidentity != '\0' || att->attgenerated != '\0') return false;
        for (int c = 0; c < kAuditColumnCount; c++) {
            if (strcmp(NameStr(att->attname), kAuditColumns[c].name) != 0) continue;
            if (att->atttypid != kAuditColumns[c].type) return false;
            cache.source[a] = c;
            found++;
        }
        if (cache.source[a] >= 0 || !att->atthasdef || constr == nullptr) continue;
        for (int d = 0; d < constr->num_defval; d++) {
            if (constr->defval[d].adnum != att->attnum) continue;
            cache.defaults[a] = cached_expression(constr->defval[d].adbin, att->atttypid);
            if (cache.defaults[a] == nullptr) return false;
        }
    }
    return found == kAuditColumnCount;
}

// Rebuilds the parent-level part of the cache.  Catalog lookups in here can
// process invalidations: the cache counts as valid only if none arrived.
void rebuild_cache(Relation parent) {
    if (cache.context == nullptr)
        cache.context = AllocSetContextCreate(CacheMemoryContext, "saas audit direct insert",
                                              ALLOCSET_SMALL_SIZES);
    if (cache.estate != nullptr) FreeExecutorState(cache.estate);
    cache.estate = nullptr;
    cache.npartitions = 0;
    MemoryContextReset(cache.context);
    cache.valid = true;
    cache.usable = false;
    cache.parent_oid = RelationGetRelid(parent);
    MemoryContext old = MemoryContextSwitchTo(cache.context);
    PartitionKey key = RelationGetPartitionKey(parent);
    // Routing below is for audit_logs' own layout: RANGE on one plain column.
    bool routable = key != nullptr && key->strategy == PARTITION_STRATEGY_RANGE &&
                    key->partnatts == 1 && key->partattrs[0] != 0;
    if (routable && map_columns(parent)) {
        cache.key_att = key->partattrs[0] - 1;
        cache.estate = CreateExecutorState();
        cache.slot =
            MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(parent)), &TTSOpsVirtual);
        cache.usable = true;
    }
    MemoryContextSwitchTo(old);
}

// A partition's entry, built the first time a row is routed to it.
PartitionEntry *build_partition(Relation parent, Relation rel) {
    if (cache.npartitions == kMaxPartitions) return nullptr;
    MemoryContext old = MemoryContextSwitchTo(cache.context);
    PartitionEntry *entry = &cache.partitions[cache.npartitions++];
    memset(entry, 0, sizeof(*entry));
    entry->relid = RelationGetRelid(rel);
    List *index_oids = RelationGetIndexList(rel);
    entry->index_oids = static_cast<Oid *>(palloc(sizeof(Oid) * Max(list_length(index_oids), 1)));
    ListCell *cell;
    foreach (cell, index_oids)
        entry->index_oids[entry->nindexes++] = lfirst_oid(cell);
    TupleConstr *constr = RelationGetDescr(rel)->constr;
    bool usable = rel->rd_rel->relkind == RELKIND_RELATION && !has_insert_triggers(rel->trigdesc) &&
                  !(constr != nullptr && constr->has_generated_stored) &&
                  !(constr != nullptr && constr->num_check != rel->rd_rel->relchecks);
    entry->rri = makeNode(ResultRelInfo);
    InitResultRelInfo(entry->rri, rel, 0, nullptr, 0);
    IndexInfo **infos =
        static_cast<IndexInfo **>(palloc(sizeof(IndexInfo *) * Max(entry->nindexes, 1)));
    for (int i = 0; i < entry->nindexes; i++) {
        // The lock taken here is kept; the caller opens the index again to use it.
        Relation index = index_open(entry->index_oids[i], RowExclusiveLock);
        infos[i] = BuildIndexInfo(index);
        bool immediate = index->rd_index->indimmediate;
        index_close(index, NoLock);
        // Exclusion constraints need a snapshot and deferred unique checks
        // need after-trigger events: leave both to the executor.  The
        // expressions of expression and partial indexes get ExprStates in the
        // cached EState (ExecInsertIndexTuples keeps them in the IndexInfo).
        if (infos[i]->ii_ExclusionOps != nullptr || !immediate ||
            expression_not_cacheable(reinterpret_cast<Node *>(infos[i]->ii_Expressions), nullptr) ||
            expression_not_cacheable(reinterpret_cast<Node *>(infos[i]->ii_Predicate), nullptr))
            usable = false;
    }
    entry->rri->ri_NumIndices = entry->nindexes;
    entry->rri->ri_IndexRelationInfo = infos;
    if (usable && constr != nullptr && constr->num_check > 0) {
        // PostgreSQL 15's ExecRelCheck uses these instead of parsing the
        // constraints from text (one entry per constr->check[], in order).
        ExprState **checks =
            static_cast<ExprState **>(palloc(sizeof(ExprState *) * constr->num_check));
        for (int i = 0; usable && i < constr->num_check; i++) {
            checks[i] = cached_expression(constr->check[i].ccbin, BOOLOID);
            usable = checks[i] != nullptr;
        }
        entry->rri->ri_ConstraintExprs = checks;
    }
    if (usable) {
        entry->map = build_attrmap_by_name_if_req(RelationGetDescr(parent), RelationGetDescr(rel));
        if (entry->map != nullptr)
            entry->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)),
                                                   &TTSOpsVirtual);
    }
    entry->usable = usable;
    MemoryContextSwitchTo(old);
    return entry;
}

} // namespace

struct OpenPartition {
    Relation rel;
    Relation *indexes;
    int opened; // indexes opened so far
    PartitionEntry *entry;
};

struct DirectInserter {
    bool usable;
    Oid owner;
    Relation parent;
    MemoryContext context; // the caller's, for per-inserter allocations
    int nopen;
    OpenPartition open[kMaxOpenPartitions];
};

namespace {

// The partition (opened, with its indexes) a row goes to, or nullptr to decline.
OpenPartition *open_partition(DirectInserter *ins, Oid relid) {
    for (int i = 0; i < ins->nopen; i++)
        if (RelationGetRelid(ins->open[i].rel) == relid)
            return ins->open[i].entry != nullptr ? &ins->open[i] : nullptr;
    if (ins->nopen == kMaxOpenPartitions) return nullptr;
    OpenPartition *op = &ins->open[ins->nopen];
    memset(op, 0, sizeof(*op));
    op->rel = table_open(relid, RowExclusiveLock);
    ins->nopen++;
    // Taking the lock may have processed invalidations.
    if (!cache.valid) return nullptr;
    PartitionEntry *entry = nullptr;
    for (int p = 0; p < cache.npartitions; p++)
        if (cache.partitions[p].relid == relid) entry = &cache.partitions[p];
    if (entry == nullptr) entry = build_partition(ins->parent, op->rel);
    if (!cache.valid || entry == nullptr || !entry->usable) return nullptr;
    op->indexes = static_cast<Relation *>(
        MemoryContextAlloc(ins->context, sizeof(Relation) * Max(entry->nindexes, 1)));
    for (int i = 0; i < entry->nindexes; i++) {
        op->indexes[i] = index_open(entry->index_oids[i], RowExclusiveLock);
        op->opened++;
    }
    // So may taking the indexes' locks.
    if (!cache.valid) return nullptr;
    op->entry = entry;
    return op;
}

// The OID of the leaf partition of the parent that takes key, or InvalidOid.
Oid route(Relation parent, Datum key, bool key_is_null) {
    PartitionDesc partdesc = RelationGetPartitionDesc(parent, !IsolationUsesXactSnapshot());
    PartitionBoundInfo bounds = partdesc->boundinfo;
    if (partdesc->nparts == 0 || bounds == nullptr) return InvalidOid;
    int index = -1;
    if (!key_is_null) {
        PartitionKey partkey = RelationGetPartitionKey(parent);
        bool equal = false;
        int offset = partition_range_datum_bsearch(partkey->partsupfunc, partkey->partcollation,
                                                   bounds, 1, &key, &equal);
        // The bound at offset is <= key: the next one is the upper bound of
        // the partition that takes it, if any.
        index = bounds->indexes[offset + 1];
    }
    if (index < 0) index = bounds->default_index;
    if (index < 0 || !partdesc->is_leaf[index]) return InvalidOid;
    return partdesc->oids[index];
}

// Inserts the row in cache.slot; false (nothing inserted) to decline.
bool insert_slot(DirectInserter *ins) {
    TupleTableSlot *slot = cache.slot;
    Oid relid =
        route(ins->parent, slot->tts_values[cache.key_att], slot->tts_isnull[cache.key_att]);
    if (!OidIsValid(relid)) return false;
    OpenPartition *op = open_partition(ins, relid);
    if (op == nullptr) return false;
    PartitionEntry *entry = op->entry;
    ResultRelInfo *rri = entry->rri;
    rri->ri_RelationDesc = op->rel;
    rri->ri_IndexRelationDescs = op->indexes;
    TupleTableSlot *row = slot;
    if (entry->map != nullptr) row = execute_attr_map_slot(entry->map, slot, entry->slot);
    EState *estate = cache.estate;
    if (RelationGetDescr(op->rel)->constr != nullptr) ExecConstraints(rri, row, estate);
    table_tuple_insert(op->rel, row, GetCurrentCommandId(true), 0, nullptr);
    if (entry->nindexes > 0) ExecInsertIndexTuples(rri, row, estate, false, false, nullptr, NIL);
    return true;
}

} // namespace

DirectInserter *direct_begin(Oid audit_logs, Oid owner) {
    // Let the SPI path raise the executor's errors for writes where they
    // are not allowed.  With Citus (saas.distribute()), audit_logs may be a
    // distributed table whose rows live in shards on other nodes: only an
    // INSERT through the planner (SPI) reaches them.
    if (XactReadOnly || IsInParallelMode() || citus_preloaded()) return nullptr;
    // An inserter inside another one (audited DML run by something the
    // outer insert evaluates) would overwrite the shared row slot: SPI.
    if (inserter_active) return nullptr;
    register_callbacks();
    Relation parent = table_open(audit_logs, RowExclusiveLock);
    bool ok = parent->rd_rel->relkind == RELKIND_PARTITIONED_TABLE &&
              !has_insert_triggers(parent->trigdesc);
    if (ok && (!cache.valid || cache.parent_oid != audit_logs)) rebuild_cache(parent);
    if (!ok || !cache.valid || !cache.usable) {
        table_close(parent, NoLock); // the lock is kept until the end of the transaction
        return nullptr;
    }
    DirectInserter *ins = static_cast<DirectInserter *>(palloc0(sizeof(DirectInserter)));
    ins->usable = true;
    ins->owner = owner;
    ins->parent = parent;
    ins->context = CurrentMemoryContext;
    inserter_active = true;
    active_subtransaction = GetCurrentSubTransactionId();
    return ins;
}

bool direct_usable(const DirectInserter *ins) {
    return ins != nullptr && ins->usable;
}

bool direct_insert(DirectInserter *ins, const Datum *values, const bool *nulls) {
    if (!direct_usable(ins)) return false;
    if (!cache.valid) {
        ins->usable = false;
        return false;
    }
    EState *estate = cache.estate;
    ResetPerTupleExprContext(estate);
    ExprContext *econtext = GetPerTupleExprContext(estate);
    MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
    // Defaults and constraints run as the owner, as in the SPI path.
    SavedUser saved = become_table_owner(ins->owner);

    TupleTableSlot *slot = cache.slot;
    ExecClearTuple(slot);
    for (int a = 0; a < cache.natts; a++) {
        int src = cache.source[a];
        if (src >= 0) {
            slot->tts_values[a] = values[src];
            slot->tts_isnull[a] = nulls[src];
        } else if (cache.defaults[a] != nullptr) {
            slot->tts_values[a] = ExecEvalExpr(cache.defaults[a], econtext, &slot->tts_isnull[a]);
        } else {
            slot->tts_values[a] = (Datum)0;
            slot->tts_isnull[a] = true;
        }
    }
    ExecStoreVirtualTuple(slot);
    bool inserted = insert_slot(ins);
    if (!inserted) ins->usable = false;
    restore_user(saved);
    MemoryContextSwitchTo(old);
    return inserted;
}

void direct_end(DirectInserter *ins) {
    if (ins == nullptr) return;
    for (int i = ins->nopen - 1; i >= 0; i--) {
        OpenPartition &op = ins->open[i];
        for (int x = op.opened - 1; x >= 0; x--)
            index_close(op.indexes[x], NoLock);
        table_close(op.rel, NoLock);
    }
    table_close(ins->parent, NoLock);
    inserter_active = false;
}

#else // a later major: always the SPI path

struct DirectInserter {
    int unused;
};

DirectInserter *direct_begin(Oid, Oid) {
    return nullptr;
}
bool direct_usable(const DirectInserter *) {
    return false;
}
bool direct_insert(DirectInserter *, const Datum *, const bool *) {
    return false;
}
void direct_end(DirectInserter *) {}

#endif

} // namespace saas::audit
