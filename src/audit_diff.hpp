// Turning audited rows into JSONB and diffing an old row against a new one.
//
// Every value is exactly what to_jsonb(row)->'column' gives, so a reader can
// compare audit_logs values with to_jsonb() output.  All functions allocate
// in CurrentMemoryContext and may ereport: no C++ objects with destructors.
#pragma once

#include "audit_cache.hpp"

extern "C" {
#include "utils/jsonb.h"
}

namespace saas::audit {

// One audited change, ready to be written to saas.audit_logs.
struct RowChange {
    const char *action;  // INSERT, UPDATE, DELETE, SOFT_DELETE, RESTORE
    Jsonb *old_values;   // nullptr for INSERT
    Jsonb *new_values;   // nullptr for DELETE
    int changed_count;   // UPDATE family only
    int *changed_attnos; // 1-based, in column order (excluded columns too);
                         // nullptr unless UPDATE
};

// The recorded columns of a row (not dropped, not excluded) as a JSONB object.
Jsonb *row_to_jsonb(const RelationInfo *info, const Datum *values, const bool *nulls);

// True when the stored images differ (so numeric 1.0 -> 1.00 is a change).
bool column_changed(const Column &col, Datum old_value, bool old_null, Datum new_value,
                    bool new_null);

// Fills change for an UPDATE: the changed columns' names (excluded ones
// too), the values of the changed recorded columns only (an UPDATE of
// excluded columns alone has empty old and new objects), and the action
// (SOFT_DELETE / RESTORE when deleted_at goes from/to NULL).  Returns false
// when nothing worth recording changed (no change, or only updated_at).
bool diff_update(const RelationInfo *info, const Datum *old_values, const bool *old_nulls,
                 const Datum *new_values, const bool *new_nulls, RowChange *change);

} // namespace saas::audit
