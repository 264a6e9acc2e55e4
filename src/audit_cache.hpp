// Per-trigger cache of everything the audit trigger needs to know about the
// audited relation: column metadata, how each column becomes JSONB, and the
// positions of the special columns (tenant, id, deleted_at, updated_at).
//
// Built once per trigger and reused until a relcache invalidation of the
// relation (ALTER TABLE, DROP/CREATE TRIGGER, ...) marks it stale
// (trigger_cache.hpp).
#pragma once

#include "boundary.hpp"

namespace saas::audit {

// How a column value is turned into JSONB.  Fast kinds produce exactly what
// to_jsonb() produces for that type; everything else calls to_jsonb itself.
enum class ValueKind : uint8_t {
    Generic, // call to_jsonb through column.to_jsonb_fn
    Bool,    // JSON true/false
    Integer, // int2/int4/int8: JSON number
    Numeric, // numeric: JSON number, NaN/Infinity as strings (as to_jsonb)
    Text,    // text/varchar: JSON string of the raw text
    Uuid,    // JSON string of uuid_out
    Jsonb,   // embedded as is
    DateTime // date/timestamp/timestamptz: JsonEncodeDateTime, as to_jsonb
};

struct Column {
    NameData name;
    Oid type_id;
    int16 type_len;
    bool type_by_val;
    bool dropped;
    bool excluded;   // values never recorded (e.g. password_hash); a change
                     // shows only as the name in changed_columns
    bool updated_at; // a change to this column alone is not a change
    ValueKind kind;
    FmgrInfo to_jsonb_fn; // valid for ValueKind::Generic
};

struct RelationInfo {
    MemoryContext context; // owns this struct and everything it points to
    text *table_name;      // logical "schema.table" written to audit_logs
    Oid named_relation;    // the relation of that name: the audited one, a
                           // partitioned ancestor, or a Citus shard's table
    bool citus_shard;      // the relation is a Citus shard of named_relation
    int tenant_attno;      // 1-based; column of the organization id (uuid)
    int id_attno;          // 1-based; 0 when the table has no uuid "id"
    int deleted_at_attno;  // 1-based; 0 when the table has no soft delete
    int natts;
    Column *columns; // natts entries, index attno - 1
};

// The cached description for the relation/trigger of this trigger call;
// builds it (validating trigger arguments and columns) when missing or stale.
// The returned pointer stays valid until the end of the transaction.
RelationInfo *lookup_relation_info(TriggerData *trigdata);

} // namespace saas::audit
