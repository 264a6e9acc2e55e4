// Reading the application's transaction-local settings (SET LOCAL app.*), as
// opposed to the extension's own GUCs (extension_gucs.hpp).
//
// Naming: the application's acting user is the *actor* in C++ (set by
// saas.set_actor(), read by saas.current_actor_id()).  Of its names only the
// SQL ones say "user": the setting app.current_user_id and the audit column
// user_id.  Elsewhere "user" is a PostgreSQL role (GetUserId, table_owner.hpp).
#pragma once

#include "pg.hpp"

extern "C" {
#include "utils/jsonb.h"
#include "utils/uuid.h"
}

namespace saas {

constexpr const char *kTenantSetting = "app.current_tenant_id";
constexpr const char *kActorSetting = "app.current_user_id";
constexpr const char *kRequestMetadataSetting = "app.request_metadata";

// Read the tenant / the actor.  Return false when the setting is unset or
// empty (callers treat that as "no tenant"/"no actor": fail closed).  A value
// that is not a uuid raises ERRCODE_INVALID_TEXT_REPRESENTATION naming the
// setting: a malformed tenant id must never silently match nothing or
// something.
bool read_tenant_id(pg_uuid_t *out);
bool read_actor_id(pg_uuid_t *out);

// The request metadata as a JSONB object, '{}' when unset or empty.  Not a
// JSON object: an error naming the setting.  The result is cached for the
// session until the setting's text changes: callers must not modify it.
Jsonb *read_request_metadata();

// An empty JSONB object, built once per session: callers must not modify it.
Jsonb *empty_request_metadata();

// Parses the textual forms uuid_in accepts (optional braces, hyphens between
// groups of four hex digits).  Returns false on anything else.  Pure C++.
bool parse_uuid_text(const char *text, pg_uuid_t *out) noexcept;

} // namespace saas
