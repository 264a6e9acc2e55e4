// The columns of saas.audit_logs that the audit writers supply, described
// once: name, type and position.  Everything that writes audit rows derives
// from this table -- the direct insert path's column map, the SPI INSERTs'
// text and argument types, and fill_audit_row (audit_row.hpp).  id and
// created_at (and any column added later) take their defaults.
#pragma once

#include "pg.hpp"

extern "C" {
#include "utils/uuid.h"
}

namespace saas::audit {

enum class AuditColumn : uint8_t {
    OrganizationId,
    TableName,
    RecordId,
    Action,
    UserId, // the actor (app.current_user_id)
    OldValues,
    NewValues,
    ChangedColumns,
    TransactionId,
    Metadata,
};
constexpr int kAuditColumnCount = 10;

// How statement mode's multi-row INSERT carries a column.
enum class BatchForm : uint8_t {
    Shared,     // the same for every row of a trigger call: one parameter
    PerRow,     // an array of the column's type, one element per row, unnested
    PerRowText, // an array of the values' text forms, unnested and cast back:
                // a text[][] cannot hold rows with different numbers of
                // changed columns
};

struct AuditColumnSpec {
    AuditColumn column;
    const char *name;
    Oid type;
    int16 type_len;
    bool type_by_val;
    char type_align;
    BatchForm batch;
};

constexpr AuditColumnSpec kAuditColumns[kAuditColumnCount] = {
    {AuditColumn::OrganizationId, "organization_id", UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
     BatchForm::PerRow},
    {AuditColumn::TableName, "table_name", TEXTOID, -1, false, TYPALIGN_INT, BatchForm::Shared},
    {AuditColumn::RecordId, "record_id", UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
     BatchForm::PerRow},
    {AuditColumn::Action, "action", TEXTOID, -1, false, TYPALIGN_INT, BatchForm::PerRow},
    {AuditColumn::UserId, "user_id", UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, BatchForm::Shared},
    {AuditColumn::OldValues, "old_values", JSONBOID, -1, false, TYPALIGN_INT, BatchForm::PerRow},
    {AuditColumn::NewValues, "new_values", JSONBOID, -1, false, TYPALIGN_INT, BatchForm::PerRow},
    {AuditColumn::ChangedColumns, "changed_columns", TEXTARRAYOID, -1, false, TYPALIGN_INT,
     BatchForm::PerRowText},
    {AuditColumn::TransactionId, "transaction_id", INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
     TYPALIGN_DOUBLE, BatchForm::Shared},
    {AuditColumn::Metadata, "metadata", JSONBOID, -1, false, TYPALIGN_INT, BatchForm::Shared},
};

constexpr int column_index(AuditColumn column) {
    return static_cast<int>(column);
}

constexpr bool columns_in_enum_order() {
    for (int c = 0; c < kAuditColumnCount; c++)
        if (column_index(kAuditColumns[c].column) != c) return false;
    return column_index(AuditColumn::Metadata) == kAuditColumnCount - 1;
}
static_assert(columns_in_enum_order(), "kAuditColumns lists every AuditColumn, in enum order");

} // namespace saas::audit
