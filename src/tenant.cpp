// Tenant context for row-level security: saas.current_tenant_id() and the
// transaction-block check behind saas.set_tenant()/saas.set_actor().
#include "boundary.hpp"
#include "actor.hpp"
#include "app_settings.hpp"

// saas.current_tenant_id(): the uuid in app.current_tenant_id, or NULL when
// unset/empty so that every policy comparison is NULL and fails closed.
SAAS_FUNCTION(saas_current_tenant_id) {
    pg_uuid_t tenant;
    if (!saas::read_tenant_id(&tenant)) PG_RETURN_NULL();
    auto *result = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *result = tenant;
    PG_RETURN_UUID_P(result);
}

// saas._require_transaction_block(caller text): SET LOCAL outside a
// transaction block is a no-op with a WARNING; for a tenant switch that would
// silently leave the session without a tenant (or, worse, lead callers to
// believe one is set), so we refuse loudly instead.
SAAS_FUNCTION(saas_require_transaction_block) {
    if (!IsTransactionBlock()) {
        const char *caller =
            PG_ARGISNULL(0) ? "this function" : text_to_cstring(PG_GETARG_TEXT_PP(0));
        ereport(ERROR,
                (errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
                 errmsg("%s must be called inside a transaction block", caller),
                 errdetail("The tenant and actor settings are transaction-local (SET LOCAL); "
                           "outside BEGIN ... COMMIT they would vanish at once."),
                 errhint("BEGIN; SELECT %s(...); ...your statements...; COMMIT;", caller)));
    }
    PG_RETURN_VOID();
}

// saas.current_actor_id(): the uuid in app.current_user_id (set by
// saas.set_actor) when it names an active user of the current tenant, else
// NULL: exactly the actor the audit trigger records (actor.hpp).
SAAS_FUNCTION(saas_current_actor_id) {
    pg_uuid_t actor;
    if (!saas::checked_actor(&actor)) PG_RETURN_NULL();
    auto *result = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    *result = actor;
    PG_RETURN_UUID_P(result);
}
