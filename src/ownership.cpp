// The data belongs to the DBA.  The extension's tables, views and type are
// not extension members: pg_dump dumps their definitions (with whatever the
// DBA added) like any table, and pg_upgrade carries them over.  The extension
// owns only its functions and catalog.  Two things follow, both done by the
// event trigger here:
//
//  1. A restore runs CREATE EXTENSION (and so the install script) before the
//     dumped tables are created.  The tables that CREATE EXTENSION just made
//     in this same session are still empty; when the restore then creates the
//     first of them from the dump, they are dropped, so that the dumped
//     definitions (customisations included) are the only ones.
//  2. What pg_dump would silently lose is refused when it is typed: changes
//     to the extension's member functions (pg_dump never dumps members),
//     changing which objects belong to the extension, and renaming or
//     reshaping what the extension's code refers to by name.
#include "boundary.hpp"
#include "table_owner.hpp"

extern "C" {
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "nodes/parsenodes.h"
#include "parser/parse_func.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/builtins.h"
#include "utils/rls.h"
#include "utils/catcache.h"
#include "utils/syscache.h"
}

namespace {

constexpr const char *kExtension = "saas_schema";
constexpr const char *kSchema = "saas";

// ---------------------------------------------------------------------------
// The objects CREATE EXTENSION made in this session, until a restore replaces
// them or the session ends.
// ---------------------------------------------------------------------------
constexpr int kMaxPristine = 64;

struct PristineObject {
    Oid oid;
    char kind; // 'r' table, 'v' view, 'T' type
    NameData name;
};

struct PristineInstall {
    Oid database;
    TransactionId xid; // the CREATE EXTENSION's transaction
    int count;
    PristineObject objects[kMaxPristine];
};

PristineInstall pristine;

void forget_pristine() noexcept {
    pristine.count = 0;
}

bool pristine_still_valid() {
    if (pristine.count == 0 || pristine.database != MyDatabaseId) return false;
    if (!TransactionIdIsCurrentTransactionId(pristine.xid) &&
        !TransactionIdDidCommit(pristine.xid)) {
        forget_pristine(); // the CREATE EXTENSION rolled back
        return false;
    }
    return true;
}

const PristineObject *find_pristine(const char *schema, const char *name) {
    if (schema == nullptr || strcmp(schema, kSchema) != 0 || name == nullptr) return nullptr;
    for (int i = 0; i < pristine.count; i++)
        if (strcmp(NameStr(pristine.objects[i].name), name) == 0) return &pristine.objects[i];
    return nullptr;
}

// pg_dump and pg_restore sessions (every format, pg_dumpall too) start with
// check_function_bodies = false and row_security = off; an interactive
// session that just created the extension has neither.
bool session_is_restoring() {
    return !check_function_bodies && !row_security;
}

// Nothing was ever written to the tables CREATE EXTENSION made.
bool pristine_tables_empty() {
    for (int i = 0; i < pristine.count; i++) {
        const PristineObject &object = pristine.objects[i];
        if (object.kind != 'r') continue;
        Relation rel = try_relation_open(object.oid, AccessShareLock);
        if (rel == nullptr) continue;
        bool empty =
            rel->rd_rel->relkind != RELKIND_RELATION || RelationGetNumberOfBlocks(rel) == 0;
        relation_close(rel, AccessShareLock);
        if (!empty) return false;
    }
    return true;
}

void append_names(StringInfo sql, char kind, bool *any) {
    for (int i = 0; i < pristine.count; i++) {
        const PristineObject &object = pristine.objects[i];
        if (object.kind != kind) continue;
        appendStringInfo(sql, "%s%s", *any ? ", " : "",
                         quote_qualified_identifier(kSchema, NameStr(object.name)));
        *any = true;
    }
}

// Drops the objects CREATE EXTENSION made, views first, then tables (one
// statement, so foreign keys among them need no order), then the type.  No
// CASCADE: anything else depending on them stops the restore with an error
// rather than being dropped too.
void replace_pristine_objects(const char *first_name) {
    StringInfoData sql;
    initStringInfo(&sql);
    const struct {
        char kind;
        const char *command;
    } steps[] = {{'v', "DROP VIEW IF EXISTS "},
                 {'r', "DROP TABLE IF EXISTS "},
                 {'T', "DROP TYPE IF EXISTS "}};
    for (const auto &step : steps) {
        StringInfoData names;
        initStringInfo(&names);
        bool any = false;
        append_names(&names, step.kind, &any);
        if (any) appendStringInfo(&sql, "%s%s;\n", step.command, names.data);
    }
    forget_pristine(); // before the DROPs fire this event trigger again
    ereport(NOTICE,
            (errmsg("saas_schema: the restore's definition of %s.%s replaces the one CREATE "
                    "EXTENSION made; so do the other tables, views and types it dumped",
                    kSchema, first_name)));
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute(sql.data, false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    SPI_finish();
}

// The schema and name a command creates, when it creates a relation or type.
bool created_name(Node *parsetree, const char **schema, const char **name) {
    switch (nodeTag(parsetree)) {
    case T_CreateStmt: {
        RangeVar *rv = castNode(CreateStmt, parsetree)->relation;
        *schema = rv->schemaname;
        *name = rv->relname;
        return true;
    }
    case T_ViewStmt: {
        RangeVar *rv = castNode(ViewStmt, parsetree)->view;
        *schema = rv->schemaname;
        *name = rv->relname;
        return true;
    }
    case T_CreateEnumStmt:
    case T_CompositeTypeStmt:
    case T_CreateDomainStmt: {
        List *names = nodeTag(parsetree) == T_CreateEnumStmt
                          ? castNode(CreateEnumStmt, parsetree)->typeName
                      : nodeTag(parsetree) == T_CreateDomainStmt
                          ? castNode(CreateDomainStmt, parsetree)->domainname
                          : nullptr;
        if (nodeTag(parsetree) == T_CompositeTypeStmt) {
            RangeVar *rv = castNode(CompositeTypeStmt, parsetree)->typevar;
            *schema = rv->schemaname;
            *name = rv->relname;
            return true;
        }
        DeconstructQualifiedName(names, const_cast<char **>(schema), const_cast<char **>(name));
        return true;
    }
    default:
        return false;
    }
}

void take_over_from_restore(Node *parsetree) {
    const char *schema = nullptr;
    const char *name = nullptr;
    if (!created_name(parsetree, &schema, &name)) return;
    if (!pristine_still_valid() || find_pristine(schema, name) == nullptr) return;
    if (!session_is_restoring() || !pristine_tables_empty()) return;
    replace_pristine_objects(name);
}

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------
Oid extension_oid() {
    return get_extension_oid(kExtension, true);
}

bool is_member(const ObjectAddress &address, Oid extension) {
    return OidIsValid(address.objectId) &&
           getExtensionOfObject(address.classId, address.objectId) == extension;
}

[[noreturn]] void refuse_member_change(const ObjectAddress &address, const char *command) {
    char *description = getObjectDescription(&address, false);
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("cannot %s %s: it belongs to extension %s", command, description, kExtension),
             errdetail("pg_dump never dumps an extension's own objects; a restore recreates them "
                       "as the extension ships them, so this change would be lost."),
             errhint("Write your own function under another name (or in another schema) and use "
                     "that; objects you create are yours, and pg_dump dumps them.")));
    pg_unreachable();
}

// The object types of the extension's members that statements name with an
// ObjectWithArgs (functions) or a plain name (the event trigger); the
// extension's other member, its internal table, is a relation and reached
// through the RangeVar checks.  (get_object_address expects a different node
// per statement and type, so only these shapes are passed to it.)
bool member_kind(ObjectType type) {
    switch (type) {
    case OBJECT_FUNCTION:
    case OBJECT_PROCEDURE:
    case OBJECT_ROUTINE:
    case OBJECT_AGGREGATE:
    case OBJECT_EVENT_TRIGGER:
        return true;
    default:
        return false;
    }
}

void check_member_target(ObjectType type, Node *object, Oid extension, const char *command) {
    if (object == nullptr || !member_kind(type)) return;
    Relation relation = nullptr;
    ObjectAddress address = get_object_address(type, object, &relation, AccessShareLock, true);
    if (relation != nullptr) relation_close(relation, AccessShareLock);
    if (is_member(address, extension)) refuse_member_change(address, command);
}

// The functions CREATE [OR REPLACE] FUNCTION saas.x would replace or shadow:
// any member function of that name (the extension ships no overloads).
void check_function_create(CreateFunctionStmt *stmt, Oid extension) {
    char *schema = nullptr;
    char *name = nullptr;
    DeconstructQualifiedName(stmt->funcname, &schema, &name);
    Oid namespace_oid = schema != nullptr ? get_namespace_oid(schema, true) : InvalidOid;
    if (schema == nullptr) {
        // Unqualified: the function lands in the first schema of search_path.
        List *path = fetch_search_path(false);
        namespace_oid = path != NIL ? linitial_oid(path) : InvalidOid;
    }
    if (!OidIsValid(namespace_oid)) return;
    CatCList *candidates = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
    for (int i = 0; i < candidates->n_members; i++) {
        HeapTuple tuple = &candidates->members[i]->tuple;
        auto *proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
        if (proc->pronamespace != namespace_oid) continue;
        ObjectAddress address;
        ObjectAddressSet(address, ProcedureRelationId, proc->oid);
        if (is_member(address, extension)) {
            ReleaseSysCacheList(candidates);
            refuse_member_change(address, stmt->replace ? "replace" : "overload");
        }
    }
    ReleaseSysCacheList(candidates);
}

// Whether a function is one the extension ships (saas._shipped_functions()).
bool shipped_function(Oid function) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid argtypes[1] = {OIDOID};
    Datum values[1] = {ObjectIdGetDatum(function)};
    int rc = SPI_execute_with_args(
        "SELECT EXISTS (SELECT FROM saas._shipped_functions() AS s "
        "WHERE pg_catalog.to_regprocedure(s.function_identity) OPERATOR(pg_catalog.=) $1)",
        1, argtypes, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    bool isnull;
    bool shipped =
        DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_finish();
    return shipped;
}

// ALTER EXTENSION saas_schema ADD/DROP: which objects belong to the extension
// decides what pg_dump dumps, so it is not for changing by hand.  The one
// direction allowed is dropping from it what is not its own (what someone
// added by hand: dropping it from the extension makes pg_dump dump it
// again).  Putting back what was removed is saas.repair_extension_member().
void check_extension_contents(AlterExtensionContentsStmt *stmt) {
    if (strcmp(stmt->extname, kExtension) != 0) return;
    if (stmt->action < 0) {
        bool own = false;
        if (stmt->objtype == OBJECT_FUNCTION || stmt->objtype == OBJECT_PROCEDURE ||
            stmt->objtype == OBJECT_ROUTINE) {
            Relation relation = nullptr;
            ObjectAddress address =
                get_object_address(stmt->objtype, stmt->object, &relation, AccessShareLock, true);
            if (relation != nullptr) relation_close(relation, AccessShareLock);
            own = OidIsValid(address.objectId) && shipped_function(address.objectId);
        } else if (stmt->objtype == OBJECT_EVENT_TRIGGER) {
            own = true;
        }
        if (!own) return;
    }
    ereport(
        ERROR,
        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
         stmt->action > 0 ? errmsg("cannot add objects to extension %s", kExtension)
                          : errmsg("cannot drop objects of its own from extension %s", kExtension),
         errdetail("The extension's own objects are recreated by CREATE EXTENSION on restore and "
                   "everything else is dumped by pg_dump: an object moved across that line is lost "
                   "or duplicated by the next restore."),
         errhint("Leave your objects outside the extension; saas.lint() reports objects whose "
                 "membership was changed before, with the fix.")));
}

// What the extension's code refers to by name.
struct NamedColumn {
    const char *table;
    const char *column; // nullptr: the table itself
};
constexpr NamedColumn kReferencedByName[] = {
    {"organizations", nullptr},
    {"organizations", "id"},
    {"users", nullptr},
    {"users", "id"},
    {"users", "organization_id"},
    {"users", "is_active"},
    {"tickets", nullptr},
    {"tickets", "number"},
    {"tickets", "organization_id"},
    {"audit_logs", nullptr},
    {"audit_logs_default", nullptr},
    {"audit_logs", "id"},
    {"audit_logs", "organization_id"},
    {"audit_logs", "table_name"},
    {"audit_logs", "record_id"},
    {"audit_logs", "action"},
    {"audit_logs", "user_id"},
    {"audit_logs", "old_values"},
    {"audit_logs", "new_values"},
    {"audit_logs", "changed_columns"},
    {"audit_logs", "transaction_id"},
    {"audit_logs", "created_at"},
    {"audit_logs", "metadata"},
};

bool referenced_by_name(const char *table, const char *column) {
    for (const auto &entry : kReferencedByName) {
        if (strcmp(entry.table, table) != 0) continue;
        if (column == nullptr ? entry.column == nullptr
                              : entry.column != nullptr && strcmp(entry.column, column) == 0)
            return true;
    }
    return false;
}

// The saas table a RangeVar names, or nullptr.
const char *saas_table_name(RangeVar *rv) {
    if (rv == nullptr) return nullptr;
    Oid relid = RangeVarGetRelid(rv, NoLock, true);
    if (!OidIsValid(relid) || get_rel_namespace(relid) != get_namespace_oid(kSchema, true))
        return nullptr;
    return get_rel_name(relid);
}

[[noreturn]] void refuse_reshape(const char *table, const char *column, const char *what) {
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             column != nullptr
                 ? errmsg("cannot %s column %s of %s.%s: extension %s uses it by name", what,
                          column, kSchema, table, kExtension)
                 : errmsg("cannot %s %s.%s: extension %s uses it by name", what, kSchema, table,
                          kExtension),
             errdetail("The extension's functions and triggers would fail on every call."),
             errhint("Add columns, indexes, constraints, triggers and policies instead; those are "
                     "yours and survive dump, restore and upgrades.")));
    pg_unreachable();
}

// Renaming or moving an audited table, or renaming a column its audit
// trigger names (the tenant column, an excluded column): the trigger's
// arguments name them, so afterwards every write would be refused (the
// trigger names another table) or an excluded column recorded under its new
// name.  Refused up front, with the way to do it.
void check_audited_rename(RangeVar *relation, ObjectType type, const char *column,
                          const char *what) {
    Oid saas_namespace = get_namespace_oid(kSchema, true);
    if (!OidIsValid(saas_namespace) || relation == nullptr) return;
    Oid relid = RangeVarGetRelid(relation, NoLock, true);
    if (!OidIsValid(relid)) return;
    Relation rel = relation_open(relid, AccessShareLock);
    bool audited = false;
    bool column_named = false;
    for (int i = 0; rel->trigdesc != nullptr && i < rel->trigdesc->numtriggers; i++) {
        const Trigger *trigger = &rel->trigdesc->triggers[i];
        if (get_func_namespace(trigger->tgfoid) != saas_namespace) continue;
        const char *function = get_func_name(trigger->tgfoid);
        if (function == nullptr || strcmp(function, "audit_trigger") != 0) continue;
        // A partition's cloned trigger names its parent: renaming the
        // partition itself changes nothing the trigger uses.
        if (!trigger->tgisclone) audited = true;
        for (int arg = 1; column != nullptr && arg < trigger->tgnargs; arg++)
            if (strcmp(trigger->tgargs[arg], column) == 0) column_named = true;
    }
    const char *name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                                  RelationGetRelationName(rel));
    relation_close(rel, AccessShareLock);
    if (column != nullptr && column_named)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("cannot rename column %s of audited table %s: its audit trigger names it",
                        quote_identifier(column), name),
                 errdetail("The audit trigger's arguments name the tenant column and the columns "
                           "kept out of the audit log; renamed, an excluded column would be "
                           "recorded."),
                 errhint("SELECT saas.disable_audit('%s'); rename the column; then "
                         "SELECT saas.enable_audit('%s', excluded_columns => ...) naming the "
                         "new names.",
                         name, name)));
    if (column == nullptr && audited && type == OBJECT_TABLE)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("cannot %s audited table %s: its audit trigger names it", what, name),
                 errdetail("Every write would be refused: the audit trigger records the table "
                           "under the name it was audited with."),
                 errhint("SELECT saas.disable_audit('%s'); %s the table; then "
                         "SELECT saas.enable_audit() on its new name. Audit rows written so far "
                         "keep the old name.",
                         name, what)));
}

void check_rename(RenameStmt *stmt, Oid extension) {
    if (stmt->renameType == OBJECT_SCHEMA) {
        if (stmt->subname != nullptr && strcmp(stmt->subname, kSchema) == 0)
            ereport(
                ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("cannot rename schema %s: extension %s lives in it", kSchema, kExtension),
                 errdetail("The extension is not relocatable; its functions refer to %s.",
                           kSchema)));
        return;
    }
    if (stmt->relation != nullptr) {
        // The extension's own uses first: those cannot be worked around.
        const char *table = saas_table_name(stmt->relation);
        if (table != nullptr && stmt->renameType == OBJECT_COLUMN &&
            referenced_by_name(table, stmt->subname))
            refuse_reshape(table, stmt->subname, "rename");
        if (table != nullptr && stmt->renameType == OBJECT_TABLE &&
            referenced_by_name(table, nullptr))
            refuse_reshape(table, nullptr, "rename");
        if (stmt->renameType == OBJECT_TABLE)
            check_audited_rename(stmt->relation, OBJECT_TABLE, nullptr, "rename");
        if (stmt->renameType == OBJECT_COLUMN)
            check_audited_rename(stmt->relation, OBJECT_COLUMN, stmt->subname, "rename");
        return;
    }
    check_member_target(stmt->renameType, stmt->object, extension, "rename");
}

void check_alter_table(AlterTableStmt *stmt) {
    const char *table = saas_table_name(stmt->relation);
    if (table == nullptr) return;
    ListCell *cell;
    foreach (cell, stmt->cmds) {
        auto *cmd = static_cast<AlterTableCmd *>(lfirst(cell));
        if (cmd->subtype == AT_DropColumn && referenced_by_name(table, cmd->name))
            refuse_reshape(table, cmd->name, "drop");
        if (cmd->subtype == AT_AlterColumnType && referenced_by_name(table, cmd->name))
            refuse_reshape(table, cmd->name, "change the type of");
    }
}

void check_set_schema(AlterObjectSchemaStmt *stmt, Oid extension) {
    if (stmt->relation != nullptr) {
        const char *table = saas_table_name(stmt->relation);
        if (table != nullptr && referenced_by_name(table, nullptr))
            refuse_reshape(table, nullptr, "move");
        if (stmt->objectType == OBJECT_TABLE)
            check_audited_rename(stmt->relation, OBJECT_TABLE, nullptr, "move");
        return;
    }
    check_member_target(stmt->objectType, stmt->object, extension, "move");
}

void refuse_lossy_command(Node *parsetree) {
    Oid extension = extension_oid();
    if (!OidIsValid(extension)) return;
    switch (nodeTag(parsetree)) {
    case T_AlterExtensionContentsStmt:
        check_extension_contents(castNode(AlterExtensionContentsStmt, parsetree));
        break;
    case T_CreateFunctionStmt:
        check_function_create(castNode(CreateFunctionStmt, parsetree), extension);
        break;
    case T_AlterFunctionStmt: {
        auto *stmt = castNode(AlterFunctionStmt, parsetree);
        check_member_target(stmt->objtype, reinterpret_cast<Node *>(stmt->func), extension,
                            "alter");
        break;
    }
    case T_CommentStmt: {
        auto *stmt = castNode(CommentStmt, parsetree);
        check_member_target(stmt->objtype, stmt->object, extension, "comment on");
        break;
    }
    case T_SecLabelStmt: {
        auto *stmt = castNode(SecLabelStmt, parsetree);
        check_member_target(stmt->objtype, stmt->object, extension, "label");
        break;
    }
    case T_AlterOwnerStmt: {
        auto *stmt = castNode(AlterOwnerStmt, parsetree);
        if (stmt->relation == nullptr)
            check_member_target(stmt->objectType, stmt->object, extension, "change the owner of");
        break;
    }
    case T_RenameStmt:
        check_rename(castNode(RenameStmt, parsetree), extension);
        break;
    case T_AlterObjectSchemaStmt:
        check_set_schema(castNode(AlterObjectSchemaStmt, parsetree), extension);
        break;
    case T_AlterTableStmt:
        check_alter_table(castNode(AlterTableStmt, parsetree));
        break;
    default:
        break;
    }
}

// A repair (saas.repair_extension_member) may replace a member function as
// shipped; allowed for the rest of the transaction that asked.
LocalTransactionId member_repair_transaction = InvalidLocalTransactionId;

bool member_repair_allowed() {
    return member_repair_transaction == MyProc->lxid;
}

} // namespace

// saas._remember_pristine_objects(): called at the end of the install script,
// before the tables, views and type are released from the extension: they are
// the objects a restore in this session may replace.
SAAS_FUNCTION(saas_remember_pristine_objects) {
    Oid extension = creating_extension ? CurrentExtensionObject : InvalidOid;
    if (!OidIsValid(extension))
        ereport(
            ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg(
                 "saas._remember_pristine_objects() runs only in the extension's install script")));
    forget_pristine();
    pristine.database = MyDatabaseId;
    pristine.xid = GetCurrentTransactionId();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    // The extension's member relations and types in its schema.
    int rc = SPI_execute(
        "SELECT d.objid, CASE WHEN d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass THEN 'T' "
        "ELSE c.relkind::text END, COALESCE(c.relname, t.typname) "
        "FROM pg_catalog.pg_depend AS d "
        "LEFT JOIN pg_catalog.pg_class AS c ON d.classid = "
        "'pg_catalog.pg_class'::pg_catalog.regclass "
        "AND c.oid = d.objid "
        "LEFT JOIN pg_catalog.pg_type AS t ON d.classid = "
        "'pg_catalog.pg_type'::pg_catalog.regclass "
        "AND t.oid = d.objid "
        "WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e' "
        "AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension AS e WHERE e.extname = "
        "'saas_schema') "
        "AND (c.relkind IN ('r', 'p', 'v') OR t.typtype IN ('e', 'c', 'd')) "
        "AND COALESCE(c.relnamespace, t.typnamespace) = 'saas'::pg_catalog.regnamespace "
        "AND COALESCE(c.relname, t.typname) !~ '^_'",
        true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    if (SPI_processed > kMaxPristine) elog(ERROR, "more than %d objects to remember", kMaxPristine);
    for (uint64 i = 0; i < SPI_processed; i++) {
        HeapTuple tuple = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool isnull;
        PristineObject &object = pristine.objects[pristine.count++];
        object.oid = DatumGetObjectId(SPI_getbinval(tuple, desc, 1, &isnull));
        char *kind = SPI_getvalue(tuple, desc, 2);
        object.kind = kind[0] == 'p' ? 'r' : kind[0]; // partitioned tables are dropped like tables
        namestrcpy(&object.name, SPI_getvalue(tuple, desc, 3));
    }
    SPI_finish();
    PG_RETURN_VOID();
}

// saas._allow_member_repair(): lets the current transaction replace member
// functions (only saas.repair_extension_member calls it).
SAAS_FUNCTION(saas_allow_member_repair) {
    member_repair_transaction = MyProc->lxid;
    PG_RETURN_VOID();
}

// saas._ddl_command_start(): the event trigger.
// DROP EXTENSION saas_schema: the personal-column declarations (security
// labels of the extension's provider) go first.  Without the extension
// nothing loads the library that registers the provider, so a dump of the
// database would hold SECURITY LABEL commands that no restore can run
// (pg_upgrade stops on them).
void drop_personal_labels_with_extension(Node *parsetree) {
    if (nodeTag(parsetree) != T_DropStmt) return;
    auto *stmt = castNode(DropStmt, parsetree);
    if (stmt->removeType != OBJECT_EXTENSION) return;
    bool ours = false;
    ListCell *cell;
    foreach (cell, stmt->objects)
        if (strcmp(strVal(lfirst(cell)), kExtension) == 0) ours = true;
    if (!ours) return;
    int guc_level = saas::pin_catalog_search_path();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    int rc = SPI_execute(
        "SELECT pg_catalog.format('SECURITY LABEL FOR %I ON COLUMN %s.%I IS NULL', l.provider, "
        "l.objoid::pg_catalog.regclass, a.attname) "
        "FROM pg_catalog.pg_seclabel AS l JOIN pg_catalog.pg_attribute AS a "
        "ON a.attrelid OPERATOR(pg_catalog.=) l.objoid "
        "AND a.attnum OPERATOR(pg_catalog.=) l.objsubid "
        "WHERE l.provider OPERATOR(pg_catalog.=) 'saas_schema' "
        "AND l.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass",
        true, 0);
    if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    uint64 count = SPI_processed;
    char **commands = static_cast<char **>(SPI_palloc(sizeof(char *) * (count > 0 ? count : 1)));
    for (uint64 i = 0; i < count; i++)
        commands[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
    for (uint64 i = 0; i < count; i++) {
        rc = SPI_execute(commands[i], false, 0);
        if (rc != SPI_OK_UTILITY) elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
    }
    SPI_finish();
    saas::unpin_search_path(guc_level);
}

SAAS_FUNCTION(saas_ddl_command_start) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("saas._ddl_command_start() must be called as an event trigger")));
    // Extension scripts (ours included) and pg_upgrade's schema restore
    // (which recreates the members and re-attaches them) do what they must.
    if (creating_extension || IsBinaryUpgrade) PG_RETURN_NULL();
    Node *parsetree = reinterpret_cast<EventTriggerData *>(fcinfo->context)->parsetree;
    take_over_from_restore(parsetree);
    if (!member_repair_allowed()) refuse_lossy_command(parsetree);
    drop_personal_labels_with_extension(parsetree);
    PG_RETURN_NULL();
}
