// The direct insert path for audit rows: saas.audit_logs rows are inserted
// with the executor's building blocks (partition routing, NOT NULL and CHECK
// constraints, heap insert, index insert with unique checks) instead of an
// SPI INSERT, which saves the SPI executor start-up per row.
//
// An inserter lives for one trigger call (one row in row mode, one statement
// in statement mode): relations are opened when it starts and closed when it
// ends, so no relcache reference outlives the call (DDL later in the same
// transaction, e.g. saas.audit_create_partitions(), sees nothing in use).
// Everything catalog-derived (column map, default and CHECK expressions,
// each partition's ResultRelInfo and IndexInfos, an EState) is cached for the
// session and dropped by relcache/syscache invalidation, so a call costs the
// relation opens plus the inserts themselves.
//
// Whenever the target is unusual (INSERT triggers, generated or identity
// columns, an unexpected column layout, foreign partitions, exclusion or
// deferrable constraints, expression or partial indexes on audit_logs,
// defaults or CHECKs calling functions not written in C, Citus loaded, a
// read-only transaction, a PostgreSQL version other than 15) the inserter
// declines and the caller uses the SPI path, which handles everything.
#pragma once

#include "audit_columns.hpp"

namespace saas::audit {

struct DirectInserter;

// Opens saas.audit_logs (OID audit_logs, owned by owner) for direct inserts.
// Returns nullptr when the direct path cannot be used: use SPI instead.
DirectInserter *direct_begin(Oid audit_logs, Oid owner);

// Inserts one row (values in kAuditColumns order).  Returns false,
// without inserting, when the row's partition cannot take direct inserts;
// the inserter then declines every later row too (direct_usable).
bool direct_insert(DirectInserter *inserter, const Datum *values, const bool *nulls);

bool direct_usable(const DirectInserter *inserter);

// Closes the relations (locks are kept until the end of the transaction).
void direct_end(DirectInserter *inserter);

} // namespace saas::audit
