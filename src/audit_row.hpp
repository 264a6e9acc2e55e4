// One audit row: what goes into it, filled in the order of audit_columns.hpp.
#pragma once

#include "audit_columns.hpp"
#include "audit_diff.hpp"

extern "C" {
#include "utils/uuid.h"
}

namespace saas::audit {

// Values that are the same for every audit row of one trigger call.
struct SessionContext {
    bool has_actor;
    pg_uuid_t actor_id; // app.current_user_id, when checked (actor.hpp)
    Jsonb *metadata;    // app.request_metadata with a checked actor, else '{}'
};

// Reads the checked actor and the request metadata (validated, with clear
// errors naming the setting).
void read_session_context(SessionContext *session);

// The row's identity in audit_logs: tenant and record id.
struct RowIdentity {
    Datum organization_id;
    Datum record_id;
    bool record_id_null;
};

RowIdentity row_identity(const RelationInfo *info, const Datum *values, const bool *nulls);

// A row of the columns in kAuditColumns, indexed by column_index().
struct AuditRow {
    Datum values[kAuditColumnCount];
    bool nulls[kAuditColumnCount];
};

// How fill_audit_row writes a BatchForm::PerRowText column: as the column's
// type (to insert the row itself) or as its text form (for the batch INSERT).
enum class AuditRowForm : uint8_t { Typed, BatchText };

// Fills row in CurrentMemoryContext.  Values may point into identity,
// change, session and info, which must outlive the row.  Reads the
// transaction id, so the transaction gets one once a row is written.
void fill_audit_row(const RelationInfo *info, const SessionContext *session,
                    const RowIdentity &identity, const RowChange &change, AuditRowForm form,
                    AuditRow *row);

} // namespace saas::audit
