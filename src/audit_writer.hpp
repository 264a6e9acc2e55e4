// Writing audit rows into saas.audit_logs.
//
// Rows are inserted as the owner of saas.audit_logs (table_owner.hpp).  The
// direct insert path (audit_direct_insert.hpp) is tried first; cached SPI
// plans are the fallback for whatever it declines.
#pragma once

#include "audit_diff.hpp"

extern "C" {
#include "utils/uuid.h"
}

namespace saas::audit {

// Values that are the same for every audit row of one trigger call.
struct SessionContext {
    bool has_actor;
    pg_uuid_t actor_id; // from app.current_user_id
    Jsonb *metadata;    // from app.request_metadata, '{}' when unset
};

// Reads the actor and the request metadata (validated, with clear errors
// naming the setting).
void read_session_context(SessionContext *session);

// The row's identity in audit_logs: tenant and record id.
struct RowIdentity {
    Datum organization_id;
    Datum record_id;
    bool record_id_null;
};

RowIdentity row_identity(const RelationInfo *info, const Datum *values, const bool *nulls);

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
