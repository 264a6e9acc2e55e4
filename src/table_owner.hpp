// Running code as a table's owner, the way PostgreSQL's RI triggers do: the
// audit log is written as the owner of saas.audit_logs, so the application
// role needs no privilege on it (which keeps it append-only).
//
// Plain begin/end calls, no RAII: an ERROR in between longjmps past the end
// call, and (sub)transaction abort restores the user id and security context
// itself.
#pragma once

#include "pg.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/guc.h"
#include "utils/syscache.h"
}

namespace saas {

struct SavedUser {
    Oid user_id;
    int sec_context;
};

// Switches to owner (a local user id change that also lifts FORCE ROW LEVEL
// SECURITY, as for RI checks) and returns what restore_user needs.
inline SavedUser become_table_owner(Oid owner) {
    SavedUser saved;
    GetUserIdAndSecContext(&saved.user_id, &saved.sec_context);
    SetUserIdAndSecContext(owner,
                           saved.sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
    return saved;
}

inline void restore_user(const SavedUser &saved) {
    SetUserIdAndSecContext(saved.user_id, saved.sec_context);
}

inline Oid relation_owner(Oid relid) {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

// Pins search_path to pg_catalog, pg_temp until unpin_search_path: queries
// run as an owner (or on behalf of any role) must not resolve to objects a
// role planted in its own schemas.  Returns the GUC nest level to unpin.
inline int pin_catalog_search_path() {
    int level = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                            GUC_ACTION_SAVE, true, 0, false);
    return level;
}

inline void unpin_search_path(int level) {
    AtEOXact_GUC(true, level);
}

// The relation saas.<name> (any kind: an owner may have replaced a table by
// a view), or InvalidOid when there is none.
inline Oid saas_relation(const char *name) {
    Oid nsp = get_namespace_oid("saas", true);
    return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
}

// SPI_execute_with_args (SPI connected) as owner, search_path pinned: the
// way the extension reads or writes a table on behalf of a role that must
// not run the table owner's code with its own rights, nor the owner run a
// caller's planted objects.
inline int spi_execute_as_owner(Oid owner, const char *sql, int nargs, Oid *types, Datum *values,
                                const char *nulls, bool read_only, long count) {
    SavedUser saved = become_table_owner(owner);
    int guc_level = pin_catalog_search_path();
    int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count);
    unpin_search_path(guc_level);
    restore_user(saved);
    return rc;
}

} // namespace saas
