/*
 * awssim_rds — RDS for PostgreSQL's permission model on the emulator's
 * instances (PostgreSQL 15). Loaded by shared_preload_libraries from a
 * directory the emulator owns; see docs/emulator.md, "Permission model".
 *
 * On RDS the master user is not a superuser: it is a member of
 * rds_superuser, and RDS lets that role do a few things stock PostgreSQL
 * reserves to superusers, and refuses a few things to everybody but its
 * own rdsadmin. This ProcessUtility hook does the same, and nothing else:
 *
 *  raised rights, for members of rds_superuser only (the statement runs as
 *  the bootstrap superuser, restored in PG_FINALLY; event triggers do not
 *  fire for it, so no user code runs with those rights):
 *    CREATE PUBLICATION ... FOR ALL TABLES / FOR TABLES IN SCHEMA,
 *    ALTER PUBLICATION ... TABLES IN SCHEMA,
 *    CREATE / ALTER / DROP SUBSCRIPTION (a password and a TCP host are
 *      required in the connection string, as PostgreSQL 16 requires of
 *      non-superusers: no trust login on the private socket),
 *    CREATE / ALTER / DROP EVENT TRIGGER,
 *    CREATE / DROP EXTENSION of extensions stock PostgreSQL does not mark
 *      trusted (pg_prewarm, ...), but never untrusted languages,
 *    SET session_replication_role,
 *    ALTER ROLE (login, password, ...) of roles whose REPLICATION stands for
 *      their rds_replication membership (see below);
 *  created objects are then owned by the calling role, as on RDS.
 *
 *  rds_replication: REPLICATION is a role attribute in PostgreSQL (not
 *  inherited), so after GRANT/REVOKE of a role and CREATE ROLE ... IN ROLE
 *  the grantees' REPLICATION attribute is set to "is a member of
 *  rds_replication" (directly or through rds_superuser).
 *
 *  refused to everybody but real superusers, as on RDS:
 *    ALTER SYSTEM; COPY ... TO/FROM PROGRAM or a server file;
 *    membership in pg_read_server_files, pg_write_server_files,
 *      pg_execute_server_program (CREATEROLE could grant them in PG 15);
 *    SUPERUSER in CREATE/ALTER ROLE;
 *    SET / RESET / ALTER ROLE|DATABASE SET of rds.* settings (those change
 *      only through the DB parameter group; set_config() is refused by
 *      reserving the "rds" prefix).
 * Untrusted languages, server-side file functions and lo_import/lo_export
 * stay refused by PostgreSQL itself for non-superusers.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_event_trigger.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_subscription.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/publicationcmds.h"
#include "commands/subscriptioncmds.h"
#include "commands/user.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static ProcessUtility_hook_type prev_hook = NULL;

static const char *const forbidden_roles[] = {
    "pg_read_server_files", "pg_write_server_files", "pg_execute_server_program", NULL};

static Oid role_oid(const char *name) { return get_role_oid(name, true); }

static bool is_rds_superuser(void)
{
    Oid r = role_oid("rds_superuser");
    return !superuser() && OidIsValid(r) && has_privs_of_role(GetUserId(), r);
}

static void refuse(const char *what, const char *hint)
{
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("%s is not allowed on RDS", what),
                    hint ? errhint("%s", hint) : 0));
}

static bool rds_setting(const char *name)
{
    return name && pg_strncasecmp(name, "rds.", 4) == 0;
}

static void check_setting(VariableSetStmt *s)
{
    if (s && rds_setting(s->name))
        refuse(psprintf("changing \"%s\"", s->name), "rds.* settings change only through the DB parameter group");
}

static void check_forbidden_role(const char *name)
{
    for (int i = 0; forbidden_roles[i]; i++)
        if (name && strcmp(name, forbidden_roles[i]) == 0)
            refuse(psprintf("membership in %s", name), NULL);
}

static void check_role_options(List *options)
{
    ListCell *lc;
    foreach (lc, options) {
        DefElem *d = lfirst_node(DefElem, lc);
        if (strcmp(d->defname, "superuser") == 0 && d->arg && boolVal(d->arg))
            refuse("creating a superuser or granting SUPERUSER", NULL);
        if (strcmp(d->defname, "addroleto") == 0) {
            ListCell *rc;
            foreach (rc, (List *) d->arg) {
                RoleSpec *spec = lfirst(rc);
                if (spec->roletype == ROLESPEC_CSTRING) check_forbidden_role(spec->rolename);
            }
        }
    }
}

/* ALTER GROUP g ADD USER u: g gains members */
static void check_alter_role(AlterRoleStmt *s)
{
    ListCell *lc;
    check_role_options(s->options);
    if (s->action > 0 && s->role->roletype == ROLESPEC_CSTRING)
        foreach (lc, s->options)
            if (strcmp(lfirst_node(DefElem, lc)->defname, "rolemembers") == 0)
                check_forbidden_role(s->role->rolename);
}

/* A subscription made with raised rights must not log in without a
 * password, nor through the private unix socket (trust for the emulator). */
static void check_conninfo(const char *conninfo)
{
    char *msg = NULL;
    bool host = false, pass = false, local = false;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (!opts) {
        PQfreemem(msg);
        ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("invalid connection string")));
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0]) continue;
        if (strcmp(o->keyword, "password") == 0) pass = true;
        if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) {
            host = true;
            if (o->val[0] == '/' || o->val[0] == '@' || strstr(o->val, ",/") || strstr(o->val, ",@"))
                local = true;
        }
    }
    PQconninfoFree(opts);
    if (!pass)
        ereport(ERROR, (errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
                        errmsg("password is required"),
                        errdetail("Non-superusers must provide a password in the connection string.")));
    if (!host || local)
        refuse("a subscription without a TCP host", "give host= in the connection string");
}

static void set_column(Oid relid, Oid indexid, AttrNumber oidatt, Oid objid, AttrNumber att, Datum value)
{
    Relation rel = table_open(relid, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    ScanKeyData key;
    SysScanDesc scan;
    HeapTuple tup, newtup;
    Datum *values = palloc0(sizeof(Datum) * desc->natts);
    bool *nulls = palloc0(sizeof(bool) * desc->natts);
    bool *repl = palloc0(sizeof(bool) * desc->natts);
    ScanKeyInit(&key, oidatt, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(objid));
    scan = systable_beginscan(rel, indexid, true, NULL, 1, &key);
    tup = systable_getnext(scan);
    if (!HeapTupleIsValid(tup)) elog(ERROR, "awssim_rds: object %u not found in catalog %u", objid, relid);
    values[att - 1] = value;
    repl[att - 1] = true;
    newtup = heap_modify_tuple(tup, desc, values, nulls, repl);
    CatalogTupleUpdate(rel, &newtup->t_self, newtup);
    systable_endscan(scan);
    table_close(rel, RowExclusiveLock);
}

/* the object was created with raised rights: the caller owns it, as on RDS */
static void give_owner(Oid relid, Oid indexid, AttrNumber oidatt, Oid objid, AttrNumber att, Oid owner)
{
    CommandCounterIncrement();
    set_column(relid, indexid, oidatt, objid, att, ObjectIdGetDatum(owner));
    changeDependencyOnOwner(relid, objid, owner);
    CommandCounterIncrement();
}

/* REPLICATION = member of rds_replication, for the roles a statement touched */
static void sync_replication(List *rolespecs)
{
    Oid repl = role_oid("rds_replication");
    ListCell *lc;
    if (!OidIsValid(repl)) return;
    CommandCounterIncrement();
    foreach (lc, rolespecs) {
        Oid r = get_rolespec_oid(lfirst(lc), true);
        HeapTuple tup;
        bool has, want;
        if (!OidIsValid(r) || superuser_arg(r) || r == repl) continue;
        tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(r));
        if (!HeapTupleIsValid(tup)) continue;
        has = ((Form_pg_authid) GETSTRUCT(tup))->rolreplication;
        ReleaseSysCache(tup);
        want = is_member_of_role_nosuper(r, repl);
        if (has != want) {
            set_column(AuthIdRelationId, AuthIdOidIndexId, Anum_pg_authid_oid, r, Anum_pg_authid_rolreplication,
                       BoolGetDatum(want));
            CommandCounterIncrement();
        }
    }
}

/* Extensions RDS offers whose control file is not "trusted" in stock
 * PostgreSQL: created with raised rights, owned by the caller (what PG does
 * for trusted ones). Untrusted languages and server-file access never. */
static bool rds_extension(const char *name)
{
    static const char *const refused[] = {"plperlu", "plpythonu", "plpython2u", "plpython3u", "pltclu",
                                          "adminpack", "file_fdw", "pg_read_server_files", NULL};
    for (int i = 0; refused[i]; i++)
        if (strcmp(name, refused[i]) == 0) return false;
    return true;
}

/* ALTER ROLE of a role whose REPLICATION attribute only stands for its
 * rds_replication membership: PostgreSQL wants a superuser for any change
 * to a REPLICATION role; RDS lets rds_superuser change such roles' login,
 * password and the like (never SUPERUSER, REPLICATION or BYPASSRLS). */
static bool replication_role_change(AlterRoleStmt *s)
{
    static const char *const allowed[] = {"password", "canlogin", "createdb", "createrole", "inherit",
                                          "connectionlimit", "validUntil", NULL};
    Oid r = get_rolespec_oid(s->role, true);
    HeapTuple tup;
    bool repl;
    ListCell *lc;
    if (!OidIsValid(r) || superuser_arg(r)) return false;
    tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(r));
    if (!HeapTupleIsValid(tup)) return false;
    repl = ((Form_pg_authid) GETSTRUCT(tup))->rolreplication;
    ReleaseSysCache(tup);
    if (!repl || !is_member_of_role_nosuper(r, role_oid("rds_replication"))) return false;
    foreach (lc, s->options) {
        const char *name = lfirst_node(DefElem, lc)->defname;
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = strcmp(name, allowed[i]) == 0;
        if (!ok) return false;
    }
    return true;
}

static bool has_schema_objects(List *pubobjects)
{
    ListCell *lc;
    foreach (lc, pubobjects)
        if (lfirst_node(PublicationObjSpec, lc)->pubobjtype != PUBLICATIONOBJ_TABLE) return true;
    return false;
}

/* Run one allowed statement as the bootstrap superuser; returns true when
 * the statement was one of them (and ran). */
static bool run_raised(Node *n, const char *query, bool top)
{
    Oid caller = GetUserId(), save_uid;
    int save_ctx;
    ParseState *pstate;
    ObjectAddress addr = InvalidObjectAddress;
    Oid evt = InvalidOid;

    switch (nodeTag(n)) {
    case T_CreatePublicationStmt:
        if (!((CreatePublicationStmt *) n)->for_all_tables &&
            !has_schema_objects(((CreatePublicationStmt *) n)->pubobjects))
            return false;
        break;
    case T_AlterPublicationStmt:
        if (!has_schema_objects(((AlterPublicationStmt *) n)->pubobjects)) return false;
        break;
    case T_CreateSubscriptionStmt:
        check_conninfo(((CreateSubscriptionStmt *) n)->conninfo);
        break;
    case T_AlterSubscriptionStmt:
        if (((AlterSubscriptionStmt *) n)->kind == ALTER_SUBSCRIPTION_CONNECTION)
            check_conninfo(((AlterSubscriptionStmt *) n)->conninfo);
        break;
    case T_DropSubscriptionStmt:
    case T_CreateEventTrigStmt:
    case T_AlterEventTrigStmt:
        break;
    case T_DropStmt:
        if (((DropStmt *) n)->removeType != OBJECT_EVENT_TRIGGER &&
            ((DropStmt *) n)->removeType != OBJECT_EXTENSION)
            return false;
        break;
    case T_AlterRoleStmt:
        if (!replication_role_change((AlterRoleStmt *) n)) return false;
        break;
    case T_CreateExtensionStmt:
        if (!rds_extension(((CreateExtensionStmt *) n)->extname)) return false;
        break;
    case T_VariableSetStmt:
        /* RDS lets rds_superuser set these superuser-only settings */
        if (!((VariableSetStmt *) n)->name ||
            pg_strcasecmp(((VariableSetStmt *) n)->name, "session_replication_role") != 0)
            return false;
        break;
    default:
        return false;
    }

    pstate = make_parsestate(NULL);
    pstate->p_sourcetext = query;
    GetUserIdAndSecContext(&save_uid, &save_ctx);
    elog(LOG, "awssim_rds: %s for rds_superuser member %s", GetCommandTagName(CreateCommandTag(n)),
         GetUserNameFromId(caller, false));
    SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_ctx | SECURITY_LOCAL_USERID_CHANGE);
    PG_TRY();
    {
        switch (nodeTag(n)) {
        case T_CreatePublicationStmt:
            addr = CreatePublication(pstate, (CreatePublicationStmt *) n);
            break;
        case T_AlterPublicationStmt:
            AlterPublication(pstate, (AlterPublicationStmt *) n);
            break;
        case T_CreateSubscriptionStmt:
            addr = CreateSubscription(pstate, (CreateSubscriptionStmt *) n, top);
            break;
        case T_AlterSubscriptionStmt:
            AlterSubscription(pstate, (AlterSubscriptionStmt *) n, top);
            break;
        case T_DropSubscriptionStmt:
            DropSubscription((DropSubscriptionStmt *) n, top);
            break;
        case T_CreateEventTrigStmt:
            evt = CreateEventTrigger((CreateEventTrigStmt *) n);
            break;
        case T_AlterEventTrigStmt:
            AlterEventTrigger((AlterEventTrigStmt *) n);
            break;
        case T_DropStmt:
            RemoveObjects((DropStmt *) n);
            break;
        case T_AlterRoleStmt:
            AlterRole(pstate, (AlterRoleStmt *) n);
            break;
        case T_CreateExtensionStmt:
            addr = CreateExtension(pstate, (CreateExtensionStmt *) n);
            break;
        case T_VariableSetStmt:
            ExecSetVariableStmt((VariableSetStmt *) n, top);
            break;
        default:
            break;
        }
    }
    PG_FINALLY();
    {
        SetUserIdAndSecContext(save_uid, save_ctx);
    }
    PG_END_TRY();

    if (IsA(n, CreatePublicationStmt))
        give_owner(PublicationRelationId, PublicationObjectIndexId, Anum_pg_publication_oid, addr.objectId,
                   Anum_pg_publication_pubowner, caller);
    else if (IsA(n, CreateSubscriptionStmt))
        give_owner(SubscriptionRelationId, SubscriptionObjectIndexId, Anum_pg_subscription_oid, addr.objectId,
                   Anum_pg_subscription_subowner, caller);
    else if (IsA(n, CreateEventTrigStmt))
        give_owner(EventTriggerRelationId, EventTriggerOidIndexId, Anum_pg_event_trigger_oid, evt,
                   Anum_pg_event_trigger_evtowner, caller);
    else if (IsA(n, CreateExtensionStmt) && OidIsValid(addr.objectId))
        give_owner(ExtensionRelationId, ExtensionOidIndexId, Anum_pg_extension_oid, addr.objectId,
                   Anum_pg_extension_extowner, caller);
    free_parsestate(pstate);
    return true;
}

static void rds_utility(PlannedStmt *pstmt, const char *query, bool readOnlyTree, ProcessUtilityContext context,
                        ParamListInfo params, QueryEnvironment *env, DestReceiver *dest, QueryCompletion *qc)
{
    Node *n = pstmt->utilityStmt;
    bool super = superuser();

    if (!super) {
        switch (nodeTag(n)) {
        case T_AlterSystemStmt:
            refuse("ALTER SYSTEM", "change settings through the DB parameter group");
            break;
        case T_CopyStmt:
            if (((CopyStmt *) n)->is_program) refuse("COPY ... PROGRAM", NULL);
            if (((CopyStmt *) n)->filename) refuse("COPY to or from a server file", "use COPY ... STDIN/STDOUT");
            break;
        case T_VariableSetStmt:
            check_setting((VariableSetStmt *) n);
            break;
        case T_AlterRoleSetStmt:
            check_setting(((AlterRoleSetStmt *) n)->setstmt);
            break;
        case T_AlterDatabaseSetStmt:
            check_setting(((AlterDatabaseSetStmt *) n)->setstmt);
            break;
        case T_GrantRoleStmt:
            if (((GrantRoleStmt *) n)->is_grant) {
                ListCell *lc;
                foreach (lc, ((GrantRoleStmt *) n)->granted_roles)
                    check_forbidden_role(((AccessPriv *) lfirst(lc))->priv_name);
            }
            break;
        case T_CreateRoleStmt:
            check_role_options(((CreateRoleStmt *) n)->options);
            break;
        case T_AlterRoleStmt:
            check_alter_role((AlterRoleStmt *) n);
            break;
        default:
            break;
        }
        if (is_rds_superuser()) {
            Node *copy = readOnlyTree ? copyObject(n) : n;
            if (run_raised(copy, query, context == PROCESS_UTILITY_TOPLEVEL)) return;
        }
    }

    if (prev_hook)
        prev_hook(pstmt, query, readOnlyTree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, readOnlyTree, context, params, env, dest, qc);

    if (IsA(n, GrantRoleStmt)) {
        sync_replication(((GrantRoleStmt *) n)->grantee_roles);
    } else if (IsA(n, CreateRoleStmt)) {
        RoleSpec *spec = makeNode(RoleSpec);
        spec->roletype = ROLESPEC_CSTRING;
        spec->rolename = ((CreateRoleStmt *) n)->role;
        spec->location = -1;
        sync_replication(list_make1(spec));
    }
}

void _PG_init(void)
{
    if (!process_shared_preload_libraries_in_progress)
        ereport(ERROR, (errmsg("awssim_rds must be loaded by shared_preload_libraries")));
    MarkGUCPrefixReserved("rds");
    prev_hook = ProcessUtility_hook;
    ProcessUtility_hook = rds_utility;
}
