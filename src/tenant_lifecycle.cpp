// Tenant lifecycle (sql/schema/75_tenant_lifecycle.sql): the security label
// provider "saas_schema" through which a DBA declares personal columns, and
// the transaction-block check of saas.delete_tenant().
//
// Personal columns are declared as security labels,
//     SECURITY LABEL FOR saas_schema ON COLUMN saas.users.phone IS 'personal';
// because a label lives on the column itself: pg_dump dumps it with the
// (DBA-owned) table, pg_restore and pg_upgrade bring it back, it follows
// renames, and it disappears with the column.  PostgreSQL accepts a label
// only for a provider registered in the session, so the provider is
// registered in _PG_init; every restore path loads the library before it
// reaches the labels (CREATE EXTENSION, or creating the extension's C
// functions, which loads the library to validate them).
#include "boundary.hpp"
#include "tenant_lifecycle.hpp"

extern "C" {
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "commands/seclabel.h"
}

static constexpr const char *kProvider = "saas_schema";
static constexpr const char *kPersonal = "personal";

// Called by SECURITY LABEL FOR saas_schema before the label is stored.  A
// C callback: no C++ object lives in this frame, so ereport may longjmp
// through it.
extern "C" {
static void check_saas_label(const ObjectAddress *object, const char *label);
}

static void check_saas_label(const ObjectAddress *object, const char *label) {
    if (label == nullptr) return; // removing a label is always allowed
    if (strcmp(label, kPersonal) != 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("invalid security label \"%s\" for provider %s", label, kProvider),
                 errdetail("The only label of provider %s is '%s'.", kProvider, kPersonal),
                 errhint("SECURITY LABEL FOR %s ON COLUMN tbl.col IS '%s' declares a personal "
                         "column; IS NULL removes the declaration.",
                         kProvider, kPersonal)));
    if (object->classId != RelationRelationId || object->objectSubId <= 0)
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("security labels of provider %s apply to table columns only", kProvider),
                 errhint("SECURITY LABEL FOR %s ON COLUMN tbl.col IS '%s'", kProvider, kPersonal)));
    char relkind = get_rel_relkind(object->objectId);
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a table", get_rel_name(object->objectId)),
                        errdetail("Personal columns are declared on tables.")));
    if (get_rel_relispartition(object->objectId))
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is a partition", get_rel_name(object->objectId)),
                        errhint("Declare the column of the partitioned table instead.")));
    // Keys identify rows in the audit log and in exports; redacting them
    // would cut a record off from its history.
    const char *column = get_attname(object->objectId, object->objectSubId, false);
    if (strcmp(column, "id") == 0 || strcmp(column, "organization_id") == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("column \"%s\" of \"%s\" cannot be personal", column,
                               get_rel_name(object->objectId)),
                        errdetail("id and organization_id identify rows in the audit log; "
                                  "saas.erase_user() keeps them.")));
}

void saas::register_personal_label_provider() {
    register_label_provider(kProvider, check_saas_label);
}

// saas._require_no_transaction_block(caller text): procedures that commit
// between batches must be CALLed on their own.  Inside BEGIN ... COMMIT
// their first COMMIT would fail with a bare "invalid transaction
// termination"; this says what to do instead, before anything is changed.
SAAS_FUNCTION(saas_require_no_transaction_block) {
    if (IsTransactionBlock()) {
        const char *caller =
            PG_ARGISNULL(0) ? "this procedure" : text_to_cstring(PG_GETARG_TEXT_PP(0));
        ereport(ERROR, (errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
                        errmsg("%s cannot run inside a transaction block", caller),
                        errdetail("It commits after every batch, so that other tenants never wait "
                                  "for more than one batch."),
                        errhint("CALL %s(...) on its own, in autocommit mode.", caller)));
    }
    PG_RETURN_VOID();
}
