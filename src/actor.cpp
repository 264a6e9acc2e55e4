// The checked actor (see actor.hpp).
#include "actor.hpp"
#include "app_settings.hpp"
#include "boundary.hpp"
#include "table_owner.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "storage/proc.h"
#include "utils/syscache.h"
}

namespace saas {
namespace {

// The last verdict: for one transaction of this backend, whether the actor
// was checked for the tenant.  A spoofed actor is remembered too, so it
// costs one lookup per transaction, not one per audited row.
struct ActorVerdict {
    LocalTransactionId transaction; // InvalidLocalTransactionId: none
    pg_uuid_t tenant;
    pg_uuid_t actor;
    bool accepted;
};

ActorVerdict verdict = {InvalidLocalTransactionId, {}, {}, false};

bool same(const pg_uuid_t &a, const pg_uuid_t &b) {
    return memcmp(a.data, b.data, UUID_LEN) == 0;
}

void remember(const pg_uuid_t &tenant, const pg_uuid_t &actor, bool accepted) {
    verdict.transaction = MyProc->lxid;
    verdict.tenant = tenant;
    verdict.actor = actor;
    verdict.accepted = accepted;
}

// The actor lookup's plan, kept for the backend's life.
SPIPlanPtr lookup_plan = nullptr;

} // namespace

// set_actor's check: is actor a user of tenant, and active?  Run as the
// owner of saas.users, so that neither the caller's privileges nor row-level
// security (forced on users) change the answer.  On Citus, users is
// colocated with every tenant table: on the worker where the audit trigger
// runs on a shard, the lookup is routed to the local users shard (Citus
// allows local, not remote, queries in triggers on shards).
UserState user_state(const pg_uuid_t &tenant, const pg_uuid_t &actor) {
    Oid users = saas_relation("users");
    if (!OidIsValid(users)) return UserState::Unknown;
    Oid owner = relation_owner(users);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    if (lookup_plan == nullptr) {
        Oid types[2] = {UUIDOID, UUIDOID};
        SPIPlanPtr plan = SPI_prepare("SELECT u.is_active FROM saas.users AS u "
                                      "WHERE u.organization_id OPERATOR(pg_catalog.=) $1 "
                                      "AND u.id OPERATOR(pg_catalog.=) $2",
                                      2, types);
        if (plan == nullptr)
            elog(ERROR, "SPI_prepare failed for the actor lookup: %s",
                 SPI_result_code_string(SPI_result));
        if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed for the actor lookup");
        lookup_plan = plan;
    }
    Datum values[2] = {UUIDPGetDatum(const_cast<pg_uuid_t *>(&tenant)),
                       UUIDPGetDatum(const_cast<pg_uuid_t *>(&actor))};
    SavedUser saved = become_table_owner(owner);
    int rc = SPI_execute_plan(lookup_plan, values, nullptr, true, 1);
    restore_user(saved);
    if (rc != SPI_OK_SELECT) elog(ERROR, "actor lookup failed: %s", SPI_result_code_string(rc));
    UserState state = UserState::Unknown;
    if (SPI_processed == 1) {
        bool isnull;
        Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        state = !isnull && DatumGetBool(value) ? UserState::Active : UserState::Inactive;
    }
    SPI_finish();
    return state;
}

// For saas._certify_actor() below only.
void remember_certified_actor(const pg_uuid_t &tenant, const pg_uuid_t &actor) {
    remember(tenant, actor, true);
}

bool checked_actor(pg_uuid_t *out) {
    pg_uuid_t actor;
    if (!read_actor_id(&actor)) return false;
    pg_uuid_t tenant;
    if (!read_tenant_id(&tenant)) return false; // set_actor needs a tenant
    if (verdict.transaction != MyProc->lxid || !same(verdict.tenant, tenant) ||
        !same(verdict.actor, actor))
        remember(tenant, actor, user_state(tenant, actor) == UserState::Active);
    if (!verdict.accepted) return false;
    *out = actor;
    return true;
}

} // namespace saas

// saas._certify_actor(): called by saas.set_actor() after its checks.  It
// runs as set_actor's owner (SECURITY DEFINER), who also owns this function;
// anyone else -- even with EXECUTE granted -- is refused, so only set_actor
// can certify an actor.
SAAS_FUNCTION(saas_certify_actor) {
    Oid self = fcinfo->flinfo->fn_oid;
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for function %u", self);
    Oid owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->proowner;
    ReleaseSysCache(tuple);
    if (GetUserId() != owner)
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("saas._certify_actor() may only be called by saas.set_actor()"),
                        errhint("Call saas.set_actor(user_id) to set the acting user.")));
    pg_uuid_t tenant;
    pg_uuid_t actor;
    if (!saas::read_tenant_id(&tenant) || !saas::read_actor_id(&actor))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("saas._certify_actor(): no tenant and actor are set"),
                        errhint("Call saas.set_actor(user_id) to set the acting user.")));
    saas::remember_certified_actor(tenant, actor);
    PG_RETURN_VOID();
}
