// Reading the transaction-local settings the application sets (SET LOCAL
// app.current_tenant_id, app.current_user_id, ...).
#pragma once

#include "pg.hpp"

extern "C" {
#include "utils/uuid.h"
}

namespace saas {

// Reads a uuid-valued setting.  Returns false when the setting is unset or
// empty (callers treat that as "no tenant"/"no actor": fail closed).  A value
// that is not a uuid raises ERRCODE_INVALID_TEXT_REPRESENTATION naming the
// setting: a malformed tenant id must never silently match nothing or
// something.
bool read_uuid_setting(const char *setting_name, pg_uuid_t *out);

// Parses the textual forms uuid_in accepts (optional braces, hyphens between
// groups of four hex digits).  Returns false on anything else.  Pure C++.
bool parse_uuid_text(const char *text, pg_uuid_t *out) noexcept;

} // namespace saas
