// The extension's own settings (see extension_gucs.hpp).
#include "extension_gucs.hpp"
#include "pg.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace saas {

int test_seed = 0;
bool audit_enabled = true;
char *audit_note = nullptr;

namespace {

// saas.test_seed may only come from an explicit SET (or set_config) in a
// session, never from postgresql.conf, ALTER SYSTEM, ALTER DATABASE/ROLE ...
// SET or connection options: a deterministic id generator must not be
// switchable on for a whole server or role by accident.  Together with
// PGC_SUSET (superusers only) this keeps it out of production.
bool check_test_seed(int *newval, void **extra, GucSource source) {
    if (*newval == 0 || source == PGC_S_SESSION) return true;
    GUC_check_errcode(ERRCODE_CANT_CHANGE_RUNTIME_PARAM);
    GUC_check_errmsg("saas.test_seed can only be set with SET in a session");
    GUC_check_errdetail("It makes saas.uuid_generate_v7() deterministic and is meant for "
                        "regression tests only.");
    return false;
}

} // namespace

void define_extension_gucs() {
    DefineCustomIntVariable(
        "saas.test_seed",
        "Makes saas.uuid_generate_v7() deterministic in this session (tests only).",
        "0 (the default) is production behaviour. A non-zero seed starts a reproducible "
        "sequence of version 7 UUIDs; superusers only, and only with SET in a session.",
        &test_seed, 0, 0, INT_MAX, PGC_SUSET, 0, check_test_seed, nullptr, nullptr);
    DefineCustomBoolVariable(
        "saas.audit_enabled", "Whether saas.audit_trigger() records changes.",
        "Superusers may turn it off for maintenance; sessions restoring a dump "
        "(row_security = off, set by pg_dump/pg_restore) skip auditing anyway.",
        &audit_enabled, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "saas.audit_note", "A JSON object added to the metadata of the audit rows written now.",
        "Set (transaction-local) by saas.revert_record() and saas.revert_transaction() while "
        "they undo changes, so that their own audit rows say what they revert.",
        &audit_note, "", PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr,
        nullptr);
    // Reserve our GUC prefix: a typo such as "SET saas.tset_seed" then fails
    // loudly instead of silently creating a placeholder.
    MarkGUCPrefixReserved("saas");
}

} // namespace saas
