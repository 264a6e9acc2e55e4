// The extension's own settings (GUCs, saas.*), as opposed to the
// application's transaction settings app.* (app_settings.hpp).
#pragma once

namespace saas {

// saas.test_seed: 0 = off (production).  Non-zero makes
// saas.uuid_generate_v7() deterministic for the session (see uuidv7.cpp).
extern int test_seed;

// saas.audit_enabled: on by default; superusers may switch the audit trigger
// off for maintenance (the application role cannot: PGC_SUSET).
extern bool audit_enabled;

// saas.audit_note: a JSON object added to the metadata of audit rows written
// while it is set (the reverts set it, transaction-local); '' when unset.
extern char *audit_note;

// Defines the settings above and reserves the "saas" prefix; called once
// from _PG_init.
void define_extension_gucs();

} // namespace saas
