// Writing audit rows into saas.audit_logs.
//
// Rows are inserted as the owner of saas.audit_logs (table_owner.hpp).  The
// direct insert path (audit_direct_insert.hpp) is tried first; cached SPI
// plans are the fallback for whatever it declines.
#pragma once

#include "audit_row.hpp"

namespace saas::audit {

// Inserts one audit row now.
void write_change(const RelationInfo *info, const SessionContext *session,
                  const RowIdentity &identity, const RowChange &change);

// Collects audit rows of one statement and inserts them with one multi-row
// INSERT per batch.  Create with batch_begin in a memory context that lives
// for the statement; the rows' JSONB must live in that context too.
struct Batch;
Batch *batch_begin(const RelationInfo *info, const SessionContext *session);
void batch_add(Batch *batch, const RowIdentity &identity, const RowChange &change);
void batch_finish(Batch *batch);

} // namespace saas::audit
