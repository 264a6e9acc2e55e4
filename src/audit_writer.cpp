// Writes audit rows (see audit_writer.hpp).
#include "audit_writer.hpp"
#include "audit_direct_insert.hpp"
#include "invalidated_cache.hpp"
#include "table_owner.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
}

namespace saas::audit {
namespace {

// Rows per multi-row INSERT in statement mode: large enough to amortise the
// executor start-up, small enough to bound the arrays' memory.
constexpr int kBatchRows = 2000;

// --- saas.audit_logs' OID and owner, refreshed after any invalidation of it

Oid audit_logs_oid = InvalidOid;
Oid audit_logs_owner = InvalidOid;

void forget_audit_logs(InvalidatedCache *, Oid relid) {
    if (relid == InvalidOid || relid == audit_logs_oid) audit_logs_oid = InvalidOid;
}

InvalidatedCache audit_logs_invalidation = {forget_audit_logs, nullptr, 0, false};

Oid audit_logs_owner_id() {
    watch_invalidation(&audit_logs_invalidation);
    if (audit_logs_oid != InvalidOid) return audit_logs_owner;
    Oid relid = saas_relation("audit_logs");
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation \"saas.audit_logs\" does not exist"),
                        errhint("The saas_schema extension must be installed for the audit "
                                "trigger to work.")));
    audit_logs_owner = relation_owner(relid);
    audit_logs_oid = relid;
    return audit_logs_owner;
}

// --- The SPI INSERTs, derived from kAuditColumns

// One element of a batch INSERT's array parameter.
struct ElementType {
    Oid type;
    int16 len;
    bool by_val;
    char align;
};

ElementType batch_element(const AuditColumnSpec &col) {
    if (col.batch == BatchForm::PerRowText) return {TEXTOID, -1, false, TYPALIGN_INT};
    return {col.type, col.type_len, col.type_by_val, col.type_align};
}

enum class InsertKind : uint8_t { Row, Batch };

void append_column_names(StringInfo sql, bool per_row_only) {
    bool first = true;
    for (const AuditColumnSpec &col : kAuditColumns) {
        if (per_row_only && col.batch == BatchForm::Shared) continue;
        if (!first) appendStringInfoString(sql, ", ");
        appendStringInfoString(sql, col.name);
        first = false;
    }
}

// Row:   INSERT INTO saas.audit_logs (organization_id, ...) VALUES ($1, ...)
// Batch: INSERT INTO saas.audit_logs (organization_id, ...)
//        SELECT u.organization_id, $2, ..., u.changed_columns::pg_catalog.text[], ...
//        FROM ROWS FROM (pg_catalog.unnest($1), ...) AS u(organization_id, ...)
// Built once per backend, when the plan is prepared.
void build_insert(InsertKind kind, StringInfo sql, Oid *types) {
    appendStringInfoString(sql, "INSERT INTO saas.audit_logs (");
    append_column_names(sql, false);
    appendStringInfoString(sql, kind == InsertKind::Row ? ") VALUES (" : ") SELECT ");
    for (int c = 0; c < kAuditColumnCount; c++) {
        const AuditColumnSpec &col = kAuditColumns[c];
        if (c > 0) appendStringInfoString(sql, ", ");
        if (kind == InsertKind::Row || col.batch == BatchForm::Shared) {
            appendStringInfo(sql, "$%d", c + 1);
            types[c] = col.type;
            continue;
        }
        appendStringInfo(sql, "u.%s", col.name);
        if (col.batch == BatchForm::PerRowText)
            appendStringInfo(sql, "::%s",
                             format_type_extended(col.type, -1, FORMAT_TYPE_FORCE_QUALIFY));
        types[c] = get_array_type(batch_element(col).type);
    }
    if (kind == InsertKind::Row) {
        appendStringInfoChar(sql, ')');
        return;
    }
    appendStringInfoString(sql, " FROM ROWS FROM (");
    bool first = true;
    for (int c = 0; c < kAuditColumnCount; c++) {
        if (kAuditColumns[c].batch == BatchForm::Shared) continue;
        appendStringInfo(sql, "%spg_catalog.unnest($%d)", first ? "" : ", ", c + 1);
        first = false;
    }
    appendStringInfoString(sql, ") AS u(");
    append_column_names(sql, true);
    appendStringInfoChar(sql, ')');
}

SPIPlanPtr insert_plans[2] = {nullptr, nullptr};

SPIPlanPtr insert_plan(InsertKind kind) {
    SPIPlanPtr *slot = &insert_plans[static_cast<int>(kind)];
    if (*slot != nullptr) return *slot;
    StringInfoData sql;
    initStringInfo(&sql);
    Oid types[kAuditColumnCount];
    build_insert(kind, &sql, types);
    SPIPlanPtr plan = SPI_prepare(sql.data, kAuditColumnCount, types);
    if (plan == nullptr)
        elog(ERROR, "SPI_prepare failed for audit insert: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed for audit insert");
    pfree(sql.data);
    *slot = plan;
    return plan;
}

// Runs a prepared insert as the owner of saas.audit_logs.  nulls in SPI's
// ' '/'n' form.
void execute_as_owner(InsertKind kind, Datum *values, const char *nulls) {
    Oid owner = audit_logs_owner_id();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    SPIPlanPtr plan = insert_plan(kind);
    SavedUser saved = become_table_owner(owner);
    int rc = SPI_execute_plan(plan, values, nulls, false, 0);
    restore_user(saved);
    if (rc != SPI_OK_INSERT) elog(ERROR, "audit insert failed: %s", SPI_result_code_string(rc));
    SPI_finish();
}

// Inserts one row through the direct path (audit_direct_insert.hpp) when it
// can take it; false means: use SPI.
bool insert_directly(const AuditRow &row) {
    Oid owner = audit_logs_owner_id();
    DirectInserter *inserter = direct_begin(audit_logs_oid, owner);
    if (inserter == nullptr) return false;
    bool done = direct_insert(inserter, row.values, row.nulls);
    direct_end(inserter);
    return done;
}

} // namespace

void write_change(const RelationInfo *info, const SessionContext *session,
                  const RowIdentity &identity, const RowChange &change) {
    AuditRow row;
    fill_audit_row(info, session, identity, change, AuditRowForm::Typed, &row);
    if (insert_directly(row)) return;
    char nulls[kAuditColumnCount];
    for (int c = 0; c < kAuditColumnCount; c++)
        nulls[c] = row.nulls[c] ? 'n' : ' ';
    execute_as_owner(InsertKind::Row, row.values, nulls);
}

struct Batch {
    const RelationInfo *info;
    const SessionContext *session;
    MemoryContext context;      // lives for the statement
    bool direct_tried;          // direct_begin called
    DirectInserter *direct;     // rows go here while it takes them
    MemoryContext rows_context; // copies of the collected rows; reset per flush
    int count;
    // The collected rows, column by column.  A BatchForm::Shared column is
    // the same in every row: the flush takes row 0's.
    Datum values[kAuditColumnCount][kBatchRows];
    bool nulls[kAuditColumnCount][kBatchRows];
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
    return batch;
}

namespace {

void batch_flush(Batch *batch) {
    if (batch->count == 0) return;
    MemoryContext old = MemoryContextSwitchTo(batch->rows_context);
    int dims[1] = {batch->count};
    int lbs[1] = {1};
    Datum values[kAuditColumnCount];
    char nulls[kAuditColumnCount];
    for (int c = 0; c < kAuditColumnCount; c++) {
        const AuditColumnSpec &col = kAuditColumns[c];
        if (col.batch == BatchForm::Shared) {
            values[c] = batch->values[c][0];
            nulls[c] = batch->nulls[c][0] ? 'n' : ' ';
            continue;
        }
        ElementType element = batch_element(col);
        values[c] = PointerGetDatum(construct_md_array(batch->values[c], batch->nulls[c], 1, dims,
                                                       lbs, element.type, element.len,
                                                       element.by_val, element.align));
        nulls[c] = ' ';
    }
    execute_as_owner(InsertKind::Batch, values, nulls);
    MemoryContextSwitchTo(old);
    MemoryContextReset(batch->rows_context);
    batch->count = 0;
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
    AuditRow row;
    fill_audit_row(batch->info, batch->session, identity, change, AuditRowForm::Typed, &row);
    return direct_insert(batch->direct, row.values, row.nulls);
}

} // namespace

void batch_add(Batch *batch, const RowIdentity &identity, const RowChange &change) {
    if (batch_add_direct(batch, identity, change)) return;
    if (batch->count == kBatchRows) batch_flush(batch);
    AuditRow row;
    fill_audit_row(batch->info, batch->session, identity, change, AuditRowForm::BatchText, &row);
    // The row's datums point into the caller's per-row memory and tuple slot:
    // keep copies of the per-row values until the flush.  Shared values live
    // as long as the trigger call.
    MemoryContext old = MemoryContextSwitchTo(batch->rows_context);
    int i = batch->count++;
    for (int c = 0; c < kAuditColumnCount; c++) {
        const AuditColumnSpec &col = kAuditColumns[c];
        Datum value = row.values[c];
        if (col.batch != BatchForm::Shared && !row.nulls[c]) {
            ElementType element = batch_element(col);
            value = datumCopy(value, element.by_val, element.len);
        }
        batch->values[c][i] = value;
        batch->nulls[c][i] = row.nulls[c];
    }
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
