// Direct inserts into saas.audit_logs (see audit_direct_insert.hpp).
//
// Modelled on COPY FROM (copyfrom.c), which inserts into a partitioned table
// without a plan: a ResultRelInfo for the parent, tuple routing with
// ExecFindPartition (which opens the partition and its indexes), then per row
// ExecConstraints, table_tuple_insert and ExecInsertIndexTuples.  Nothing else
// fires: the inserter declines when any INSERT trigger exists.
//
// The executor calls used here changed shape between major versions
// (InitResultRelInfo, ExecFindPartition, ExecInsertIndexTuples, the
// root-to-partition map fields), and the code relies on how PostgreSQL 15's
// ExecRelCheck fills ri_ConstraintExprs.  It is therefore compiled for
// PostgreSQL 15 only; on other versions direct_begin declines and every audit
// row takes the SPI path.
#include "audit_direct_insert.hpp"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "catalog/pg_class.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

namespace saas::audit {

const char *const kSuppliedColumnNames[kSuppliedColumns] = {
    "organization_id", "table_name", "record_id",       "action",         "user_id",
    "old_values",      "new_values", "changed_columns", "transaction_id", "metadata"};
const Oid kSuppliedColumnTypes[kSuppliedColumns] = {UUIDOID, TEXTOID,  UUIDOID,  TEXTOID,
                                                    UUIDOID, JSONBOID, JSONBOID, TEXTARRAYOID,
                                                    INT8OID, JSONBOID};

#if PG_VERSION_NUM >= 150000 && PG_VERSION_NUM < 160000

namespace {

// --- Planned expressions, cached across calls ---------------------------------
// Key: the stored nodeToString text (pg_constraint.conbin / pg_attrdef.adbin as
// the relcache holds it), so a changed constraint or default is a new key and
// nothing needs invalidating when tables change.  Planning can inline SQL
// functions and look up types, so any pg_proc or pg_type invalidation empties
// the cache (at the next lookup: a callback may fire in the middle of one).
// Callers get copies: the ExprStates built from them never point into the cache.
constexpr int kMaxCachedExprs = 64;
struct CachedExpr {
    char *text;
    Expr *planned;
};
MemoryContext expr_cache_context = nullptr;
CachedExpr cached_exprs[kMaxCachedExprs];
int cached_expr_count = 0;
bool expr_cache_stale = false;

void mark_expr_cache_stale(Datum, int, uint32) {
    expr_cache_stale = true;
}

void expr_cache_init() {
    if (expr_cache_context != nullptr) return;
    expr_cache_context = AllocSetContextCreate(CacheMemoryContext, "saas audit direct insert exprs",
                                               ALLOCSET_SMALL_SIZES);
    CacheRegisterSyscacheCallback(PROCOID, mark_expr_cache_stale, (Datum)0);
    CacheRegisterSyscacheCallback(TYPEOID, mark_expr_cache_stale, (Datum)0);
}

void expr_cache_reset() {
    cached_expr_count = 0;
    MemoryContextReset(expr_cache_context);
}

// A planned copy (in CurrentMemoryContext) of the expression stored as text.
Expr *planned_expr(const char *text) {
    if (expr_cache_stale) {
        expr_cache_stale = false;
        expr_cache_reset();
    }
    for (int i = 0; i < cached_expr_count; i++)
        if (strcmp(cached_exprs[i].text, text) == 0)
            return static_cast<Expr *>(copyObjectImpl(cached_exprs[i].planned));
    if (cached_expr_count == kMaxCachedExprs) expr_cache_reset();
    MemoryContext caller = MemoryContextSwitchTo(expr_cache_context);
    Expr *planned = expression_planner(static_cast<Expr *>(stringToNode(text)));
    char *key = pstrdup(text);
    MemoryContextSwitchTo(caller);
    cached_exprs[cached_expr_count].text = key;
    cached_exprs[cached_expr_count].planned = planned;
    cached_expr_count++;
    return static_cast<Expr *>(copyObjectImpl(planned));
}

bool has_insert_triggers(const TriggerDesc *trigdesc) {
    return trigdesc != nullptr &&
           (trigdesc->trig_insert_before_row || trigdesc->trig_insert_after_row ||
            trigdesc->trig_insert_instead_row || trigdesc->trig_insert_before_statement ||
            trigdesc->trig_insert_after_statement || trigdesc->trig_insert_new_table);
}

constexpr int kMaxAcceptedPartitions = 16;

} // namespace

struct DirectInserter {
    bool usable;
    Oid owner;
    EState *estate;
    Relation parent;
    ResultRelInfo *root;
    ModifyTableState *mtstate;
    PartitionTupleRouting *proute;
    TupleTableSlot *slot; // a row of the parent, virtual
    int natts;
    int *source;          // per parent column: index of the supplied value, or -1
    ExprState **defaults; // per parent column not supplied: its default, or nullptr
    int accepted_count;   // partitions checked and prepared in this call
    ResultRelInfo *accepted[kMaxAcceptedPartitions];
};

namespace {

// Maps the parent's columns to the supplied values and defaults.  False when
// the layout is not what the direct path knows how to fill.
bool map_columns(DirectInserter *ins) {
    TupleDesc desc = RelationGetDescr(ins->parent);
    TupleConstr *constr = desc->constr;
    if (constr != nullptr && constr->has_generated_stored) return false;
    ins->natts = desc->natts;
    ins->source = static_cast<int *>(palloc(sizeof(int) * desc->natts));
    ins->defaults = static_cast<ExprState **>(palloc0(sizeof(ExprState *) * desc->natts));
    int found = 0;
    for (int a = 0; a < desc->natts; a++) {
        Form_pg_attribute att = TupleDescAttr(desc, a);
        ins->source[a] = -1;
        if (att->attisdropped) continue;
        if (att->attidentity != '\0' || att->attgenerated != '\0') return false;
        for (int c = 0; c < kSuppliedColumns; c++) {
            if (strcmp(NameStr(att->attname), kSuppliedColumnNames[c]) != 0) continue;
            if (att->atttypid != kSuppliedColumnTypes[c]) return false;
            ins->source[a] = c;
            found++;
        }
        if (ins->source[a] >= 0 || !att->atthasdef || constr == nullptr) continue;
        for (int d = 0; d < constr->num_defval; d++) {
            if (constr->defval[d].adnum != att->attnum) continue;
            Expr *expr = planned_expr(constr->defval[d].adbin);
            if (exprType(reinterpret_cast<Node *>(expr)) != att->atttypid) return false;
            ins->defaults[a] = ExecInitExpr(expr, nullptr);
        }
    }
    return found == kSuppliedColumns;
}

// Checks a partition the first time a row is routed to it in this call, and
// gives it the cached CHECK constraint expressions (PostgreSQL 15's
// ExecRelCheck parses them from text when ri_ConstraintExprs is NULL).
bool accept_partition(DirectInserter *ins, ResultRelInfo *part) {
    for (int i = 0; i < ins->accepted_count; i++)
        if (ins->accepted[i] == part) return true;
    Relation rel = part->ri_RelationDesc;
    if (rel->rd_rel->relkind != RELKIND_RELATION || part->ri_FdwRoutine != nullptr) return false;
    if (has_insert_triggers(part->ri_TrigDesc)) return false;
    TupleConstr *constr = RelationGetDescr(rel)->constr;
    if (constr != nullptr && constr->has_generated_stored) return false;
    for (int i = 0; i < part->ri_NumIndices; i++) {
        // Exclusion constraints need a snapshot and deferred unique checks
        // need after-trigger events: leave both to the executor proper.
        if (part->ri_IndexRelationInfo[i]->ii_ExclusionOps != nullptr ||
            !part->ri_IndexRelationDescs[i]->rd_index->indimmediate)
            return false;
    }
    if (constr != nullptr && constr->num_check > 0) {
        if (constr->num_check != rel->rd_rel->relchecks) return false;
        MemoryContext old = MemoryContextSwitchTo(ins->estate->es_query_cxt);
        ExprState **exprs =
            static_cast<ExprState **>(palloc(sizeof(ExprState *) * constr->num_check));
        for (int i = 0; i < constr->num_check; i++)
            exprs[i] = ExecInitExpr(planned_expr(constr->check[i].ccbin), nullptr);
        part->ri_ConstraintExprs = exprs;
        MemoryContextSwitchTo(old);
    }
    if (ins->accepted_count < kMaxAcceptedPartitions) ins->accepted[ins->accepted_count++] = part;
    return true;
}

void release(EState *estate, Relation parent, ModifyTableState *mtstate,
             PartitionTupleRouting *proute) {
    if (proute != nullptr) ExecCleanupTupleRouting(mtstate, proute);
    table_close(parent, NoLock); // the lock is kept until the end of the transaction
    ExecResetTupleTable(estate->es_tupleTable, false);
    FreeExecutorState(estate);
}

} // namespace

DirectInserter *direct_begin(Oid audit_logs, Oid owner) {
    // Let the SPI path raise the executor's errors for writes where they
    // are not allowed.
    if (XactReadOnly || IsInParallelMode()) return nullptr;
    // With Citus (saas.distribute()), audit_logs may be a distributed table
    // whose rows live in shards on other nodes: only an INSERT through the
    // planner (SPI) reaches them.  A heap insert here would write into the
    // coordinator's local shell table.  Citus is always preloaded.
    const char *preload = GetConfigOption("shared_preload_libraries", true, false);
    if (preload != nullptr && strstr(preload, "citus") != nullptr) return nullptr;
    expr_cache_init();
    Relation parent = table_open(audit_logs, RowExclusiveLock);
    if (parent->rd_rel->relkind != RELKIND_PARTITIONED_TABLE ||
        has_insert_triggers(parent->trigdesc)) {
        table_close(parent, NoLock);
        return nullptr;
    }
    EState *estate = CreateExecutorState();
    MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
    DirectInserter *ins = static_cast<DirectInserter *>(palloc0(sizeof(DirectInserter)));
    ins->owner = owner;
    ins->estate = estate;
    ins->parent = parent;
    if (!map_columns(ins)) {
        MemoryContextSwitchTo(old);
        release(estate, parent, nullptr, nullptr);
        return nullptr;
    }
    // Range table index 0: no range table, no permission checks (the rows
    // are written as the owner, like the SPI path).
    ins->root = makeNode(ResultRelInfo);
    InitResultRelInfo(ins->root, parent, 0, nullptr, 0);
    // As in CopyFrom: a dummy ModifyTableState for ExecFindPartition.
    ins->mtstate = makeNode(ModifyTableState);
    ins->mtstate->ps.plan = nullptr;
    ins->mtstate->ps.state = estate;
    ins->mtstate->operation = CMD_INSERT;
    ins->mtstate->mt_nrels = 1;
    ins->mtstate->resultRelInfo = ins->root;
    ins->mtstate->rootResultRelInfo = ins->root;
    ins->proute = ExecSetupPartitionTupleRouting(estate, parent);
    ins->slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(parent), &TTSOpsVirtual);
    ins->usable = true;
    MemoryContextSwitchTo(old);
    return ins;
}

bool direct_usable(const DirectInserter *ins) {
    return ins != nullptr && ins->usable;
}

bool direct_insert(DirectInserter *ins, const Datum *values, const bool *nulls) {
    if (!direct_usable(ins)) return false;
    EState *estate = ins->estate;
    ResetPerTupleExprContext(estate);
    ExprContext *econtext = GetPerTupleExprContext(estate);
    MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
    // Defaults and constraints run as the owner, as in the SPI path.  An
    // ERROR in between restores the user: transaction abort resets it.
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(ins->owner,
                           saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);

    TupleTableSlot *slot = ins->slot;
    ExecClearTuple(slot);
    for (int a = 0; a < ins->natts; a++) {
        int src = ins->source[a];
        if (src >= 0) {
            slot->tts_values[a] = values[src];
            slot->tts_isnull[a] = nulls[src];
        } else if (ins->defaults[a] != nullptr) {
            slot->tts_values[a] = ExecEvalExpr(ins->defaults[a], econtext, &slot->tts_isnull[a]);
        } else {
            slot->tts_values[a] = (Datum)0;
            slot->tts_isnull[a] = true;
        }
    }
    ExecStoreVirtualTuple(slot);

    ResultRelInfo *part = ExecFindPartition(ins->mtstate, ins->root, ins->proute, slot, estate);
    bool accepted = accept_partition(ins, part);
    if (accepted) {
        TupleTableSlot *row = slot;
        if (part->ri_RootToPartitionMap != nullptr)
            row = execute_attr_map_slot(part->ri_RootToPartitionMap->attrMap, slot,
                                        part->ri_PartitionTupleSlot);
        Relation rel = part->ri_RelationDesc;
        if (RelationGetDescr(rel)->constr != nullptr) ExecConstraints(part, row, estate);
        table_tuple_insert(rel, row, GetCurrentCommandId(true), 0, nullptr);
        if (part->ri_NumIndices > 0)
            ExecInsertIndexTuples(part, row, estate, false, false, nullptr, NIL);
    } else {
        ins->usable = false;
    }
    SetUserIdAndSecContext(saved_user, saved_context);
    MemoryContextSwitchTo(old);
    return accepted;
}

void direct_end(DirectInserter *ins) {
    if (ins == nullptr) return;
    release(ins->estate, ins->parent, ins->mtstate, ins->proute);
}

#else // not PostgreSQL 15: always the SPI path

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
