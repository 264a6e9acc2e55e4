// Schema changes of audited tables, recorded in saas.schema_changes by an
// event trigger (ddl_command_end and sql_drop).  Like the audit trigger it
// writes as the owner of the table it writes to, so no other role needs
// INSERT there (which keeps the record trustworthy), and it records the
// role that ran the command (current_user, and the session's login role).
#include "boundary.hpp"
#include "table_owner.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "catalog/pg_class.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "tcop/cmdtag.h"
#include "utils/rls.h"
}

namespace {

// The audited table (and its logical name) each command of the current
// event concerns: ddl_command_end commands whose object is an audited table
// or belongs to one (index, trigger, constraint, policy, rule).
constexpr const char *kCommandsQuery =
    "WITH cmd AS ("
    "  SELECT c.command_tag, c.object_type, c.object_identity,"
    "         CASE"
    "           WHEN c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
    "THEN"
    "             (SELECT COALESCE(i.indrelid, r.oid) FROM pg_catalog.pg_class AS r"
    "                LEFT JOIN pg_catalog.pg_index AS i ON i.indexrelid OPERATOR(pg_catalog.=) "
    "r.oid"
    "               WHERE r.oid OPERATOR(pg_catalog.=) c.objid)"
    "           WHEN c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass "
    "THEN"
    "             (SELECT t.tgrelid FROM pg_catalog.pg_trigger AS t"
    "               WHERE t.oid OPERATOR(pg_catalog.=) c.objid)"
    "           WHEN c.classid OPERATOR(pg_catalog.=) "
    "'pg_catalog.pg_constraint'::pg_catalog.regclass THEN"
    "             (SELECT k.conrelid FROM pg_catalog.pg_constraint AS k"
    "               WHERE k.oid OPERATOR(pg_catalog.=) c.objid)"
    "           WHEN c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass "
    "THEN"
    "             (SELECT p.polrelid FROM pg_catalog.pg_policy AS p"
    "               WHERE p.oid OPERATOR(pg_catalog.=) c.objid)"
    "           WHEN c.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
    "THEN"
    "             (SELECT w.ev_class FROM pg_catalog.pg_rewrite AS w"
    "               WHERE w.oid OPERATOR(pg_catalog.=) c.objid)"
    "         END AS tbl"
    "    FROM pg_catalog.pg_event_trigger_ddl_commands() AS c)"
    "SELECT DISTINCT pg_catalog.format('%I.%I', n.nspname, r.relname), cmd.command_tag,"
    "       cmd.object_type, cmd.object_identity"
    "  FROM cmd JOIN pg_catalog.pg_class AS r ON r.oid OPERATOR(pg_catalog.=) cmd.tbl"
    "  JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace"
    " WHERE EXISTS (SELECT FROM pg_catalog.pg_trigger AS t"
    "                WHERE t.tgrelid OPERATOR(pg_catalog.=) cmd.tbl"
    "                  AND t.tgfoid OPERATOR(pg_catalog.=) "
    "'saas.audit_trigger()'::pg_catalog.regprocedure)";

// sql_drop: the tables whose audit trigger was dropped (with the table, or
// on its own), and what the command dropped.
constexpr const char *kDropsQuery =
    "SELECT DISTINCT pg_catalog.split_part(o.object_identity, ' on ', 2), $1::text, 'dropped',"
    "       (SELECT pg_catalog.string_agg(d.object_type OPERATOR(pg_catalog.||) ' '"
    "                                     OPERATOR(pg_catalog.||) d.object_identity, ', '"
    "                                     ORDER BY d.object_type, d.object_identity)"
    "          FROM pg_catalog.pg_event_trigger_dropped_objects() AS d WHERE d.original)"
    "  FROM pg_catalog.pg_event_trigger_dropped_objects() AS o"
    " WHERE o.object_type OPERATOR(pg_catalog.=) 'trigger'"
    "   AND o.object_name OPERATOR(pg_catalog.~~) 'saas\\_audit%'";

constexpr const char *kInsert =
    "INSERT INTO saas.schema_changes (table_name, command_tag, object_type, object_identity,"
    " role_name, session_role_name) VALUES ($1, $2, $3, $4, $5::pg_catalog.name, "
    "$6::pg_catalog.name)";

// A restore re-creates triggers and indexes; those are not changes.  Its
// session has row_security off and is a superuser's (or the audit log
// owner's); neither can be faked by another role.
bool restoring(Oid owner) {
    if (row_security) return false;
    Oid session = GetSessionUserId();
    return superuser_arg(session) || has_privs_of_role(session, owner);
}

} // namespace

SAAS_FUNCTION(saas_record_schema_change) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("saas._record_schema_change() must be called as an event trigger")));
    auto *trigdata = reinterpret_cast<EventTriggerData *>(fcinfo->context);
    // The extension's own scripts build and update the schema: not changes
    // of what the DBA audits.
    if (creating_extension) PG_RETURN_NULL();
    Oid target = saas::saas_relation("schema_changes");
    if (!OidIsValid(target)) PG_RETURN_NULL(); // dropped by the DBA: nothing to record into
    HeapTuple class_tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(target));
    if (!HeapTupleIsValid(class_tuple)) PG_RETURN_NULL();
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(class_tuple))->relowner;
    ReleaseSysCache(class_tuple);
    if (restoring(owner)) PG_RETURN_NULL();

    const char *role = GetUserNameFromId(GetUserId(), false);
    const char *session_role = GetUserNameFromId(GetSessionUserId(), false);
    bool dropping = strcmp(trigdata->event, "sql_drop") == 0;

    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    // The queries name saas objects: run them as the owner too, so that DDL
    // by a role without USAGE on schema saas (a temporary table of its own)
    // is not refused by this trigger.
    saas::SavedUser saved = saas::become_table_owner(owner);
    // Every name in the queries is qualified; a fixed search_path keeps
    // anything a role planted in its own schemas out all the same.
    int guc_level = saas::pin_catalog_search_path();
    int rc;
    if (dropping) {
        Oid argtypes[1] = {TEXTOID};
        Datum args[1] = {CStringGetTextDatum(GetCommandTagName(trigdata->tag))};
        rc = SPI_execute_with_args(kDropsQuery, 1, argtypes, args, nullptr, true, 0);
    } else {
        rc = SPI_execute(kCommandsQuery, true, 0);
    }
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    SPITupleTable *found = SPI_tuptable;
    uint64 count = SPI_processed;
    if (count > 0) {
        Oid types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
        for (uint64 i = 0; i < count; i++) {
            Datum values[6];
            char nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
            for (int col = 0; col < 4; col++) {
                bool isnull;
                values[col] = SPI_getbinval(found->vals[i], found->tupdesc, col + 1, &isnull);
                if (isnull) values[col] = CStringGetTextDatum("");
            }
            values[4] = CStringGetTextDatum(role);
            values[5] = CStringGetTextDatum(session_role);
            rc = SPI_execute_with_args(kInsert, 6, types, values, nulls, false, 0);
            if (rc != SPI_OK_INSERT)
                elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
        }
    }
    saas::unpin_search_path(guc_level);
    saas::restore_user(saved);
    SPI_finish();
    PG_RETURN_NULL();
}
