// What saas.set_tenant(), saas.set_actor() and saas.export_tenant() read or
// write in tables, done as the tables' owner.
//
// set_tenant and set_actor are SECURITY DEFINER, owned by whoever installed
// the extension (a superuser, unless a database owner installed it).  The
// tables may belong to another role: a superuser restored a database
// owner's dump, or handed the tables over with ALTER TABLE ... OWNER.  That
// role controls what reading or writing its tables runs (a view in place of
// a table, a trigger, a cast of a column's type), and run as the functions'
// owner, its code would get a superuser's rights.  Run as the table's owner,
// it gets the rights it has anyway.
#include "actor.hpp"
#include "app_settings.hpp"
#include "boundary.hpp"
#include "table_owner.hpp"

extern "C" {
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
}

namespace {

// The relation saas.<name>; 42P01 when there is none.
Oid existing_saas_relation(const char *name) {
    Oid relid = saas::saas_relation(name);
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation \"saas.%s\" does not exist", name)));
    return relid;
}

bool is_json_object(Jsonb *value) {
    return JB_ROOT_IS_OBJECT(value) && !JB_ROOT_IS_SCALAR(value);
}

} // namespace

// saas._organization_exists(org uuid): set_tenant's check.  Anyone may call
// it: it answers what set_tenant answers anyone.
SAAS_FUNCTION(saas_organization_exists) {
    Datum org = PG_GETARG_DATUM(0);
    Oid organizations = existing_saas_relation("organizations");
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[1] = {UUIDOID};
    Datum values[1] = {org};
    int rc = saas::spi_execute_as_owner(saas::relation_owner(organizations),
                                        "SELECT FROM saas.organizations AS o "
                                        "WHERE o.id OPERATOR(pg_catalog.=) $1",
                                        1, types, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "organization lookup failed: %s", SPI_result_code_string(rc));
    bool found = SPI_processed > 0;
    SPI_finish();
    PG_RETURN_BOOL(found);
}

// saas._user_is_active(tenant uuid, user_id uuid): set_actor's check; NULL
// when the user is not one of the tenant's.  Anyone may call it: set_actor
// answers the same after set_tenant.
SAAS_FUNCTION(saas_user_is_active) {
    auto *tenant = PG_GETARG_UUID_P(0);
    auto *user = PG_GETARG_UUID_P(1);
    int guc_level = saas::pin_catalog_search_path();
    saas::UserState state = saas::user_state(*tenant, *user);
    saas::unpin_search_path(guc_level);
    if (state == saas::UserState::Unknown) PG_RETURN_NULL();
    PG_RETURN_BOOL(state == saas::UserState::Active);
}

// saas._audit_export(org uuid, summary jsonb, metadata jsonb): the EXPORT
// audit row of saas.export_tenant(), written as the owner of
// saas.audit_logs, as the audit trigger writes.  The application role,
// which may export its tenant, has no INSERT on audit_logs (so that it
// cannot forge audit rows): this writes nothing but an EXPORT row of the
// current tenant, with the checked actor.
SAAS_FUNCTION(saas_audit_export) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) ||
        !is_json_object(PG_GETARG_JSONB_P(1)) || !is_json_object(PG_GETARG_JSONB_P(2)))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("saas._audit_export: invalid arguments"),
                        errhint("An organization id and two JSON objects.")));
    auto *org = PG_GETARG_UUID_P(0);
    pg_uuid_t tenant;
    if (!saas::read_tenant_id(&tenant) || memcmp(tenant.data, org->data, UUID_LEN) != 0)
        ereport(ERROR,
                (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                 errmsg("saas._audit_export: organization %s is not the current tenant",
                        DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(org))))));
    pg_uuid_t actor = {};
    bool has_actor = saas::checked_actor(&actor);
    Oid audit_logs = existing_saas_relation("audit_logs");

    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[4] = {UUIDOID, UUIDOID, JSONBOID, JSONBOID};
    Datum values[4] = {UUIDPGetDatum(org), UUIDPGetDatum(&actor), PG_GETARG_DATUM(1),
                       PG_GETARG_DATUM(2)};
    const char nulls[4] = {' ', has_actor ? ' ' : 'n', ' ', ' '};
    int rc = saas::spi_execute_as_owner(
        saas::relation_owner(audit_logs),
        "INSERT INTO saas.audit_logs (organization_id, table_name, record_id, action, user_id, "
        "new_values, transaction_id, metadata) "
        "VALUES ($1, 'saas.organizations', NULL, 'EXPORT', $2, $3, pg_catalog.txid_current(), $4)",
        4, types, values, nulls, false, 0);
    if (rc != SPI_OK_INSERT) elog(ERROR, "EXPORT audit row failed: %s", SPI_result_code_string(rc));
    SPI_finish();
    PG_RETURN_VOID();
}
