// The actor: the application user a change is made by, as the audit trigger
// records it (audit_logs.user_id) and saas.current_actor_id() returns it.
//
// app.current_user_id is an ordinary setting: any role can set it with
// set_config(..., true) and name any user, of any tenant.  It is believed
// only for an actor that saas.set_actor() accepts: an active user of the
// current tenant (app.current_tenant_id), in this transaction.  Otherwise
// there is no actor (NULL) and no request metadata ({}).
//
// saas.set_actor() certifies its check for this backend and transaction
// (saas._certify_actor()), so the common case costs two comparisons.  An
// actor set any other way -- by hand, or propagated by Citus to the worker
// that runs the audit trigger on a shard -- is checked the same way
// set_actor checks it, by one lookup in saas.users (as its owner), whose
// result is kept for the rest of the transaction.
#pragma once

#include "pg.hpp"

extern "C" {
#include "utils/uuid.h"
}

namespace saas {

// True, with the actor in *out, when app.current_user_id names an active
// user of the current tenant.  False when it is unset or empty, when no
// tenant is set, or when the user is unknown, another tenant's or
// deactivated.  A setting that is not a uuid raises 22P02 naming it.
bool checked_actor(pg_uuid_t *out);

// Whether actor is a user of tenant, and an active one, looked up in
// saas.users as its owner (row-level security lifted).
enum class UserState { Unknown, Inactive, Active };
UserState user_state(const pg_uuid_t &tenant, const pg_uuid_t &actor);

// Records that saas.set_actor() checked actor for tenant in this
// transaction (used by saas._certify_actor() only).
void remember_certified_actor(const pg_uuid_t &tenant, const pg_uuid_t &actor);

} // namespace saas
