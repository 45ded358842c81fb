/* pglogical_extra — see pgl_db_extra.h. */
#include "pgl_db_extra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool pgl_wal_segment_size(pgq *q, uint64_t *out, char *err, size_t errcap)
{
    char v[32];
    if (!pgq_scalar(q, pgq_sql("pgl_wal_segsize"), 0, NULL, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "reading wal_segment_size: %s", q->err);
        return false;
    }
    *out = strtoull(v, NULL, 10);
    if (!lsn_valid_segsize(*out)) {
        pgq_seterr(err, errcap, "implausible wal_segment_size %s", v);
        return false;
    }
    return true;
}

bool pgl_storage_used(pgq *q, int64_t *out, char *err, size_t errcap)
{
    char v[32];
    *out = -1;
    if (!pgq_scalar(q, pgq_sql("pgl_storage_used"), 0, NULL, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "measuring disk usage: %s", q->err);
        return false;
    }
    *out = strtoll(v, NULL, 10);
    return true;
}

bool pgl_protected_roles(pgq *q, const char *master, char ***list, int *n, char *err, size_t errcap)
{
    const char *p[] = {master};
    return pgl_query_list(q, "pgl_superusers", 1, p, "listing superusers", list, n, err, errcap);
}

bool pgl_admin_rights(pgq *q, const pgl_db_names *nm, const char *master, char *err, size_t errcap)
{
    const char *p[] = {master};
    char v[8];
    if (!pgq_scalar(q, pgq_sql("pgl_role_is_super"), 1, p, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "role %s: %s", master, q->err);
        return false;
    }
    const char *a[] = {nm->admin_role};
    bool super = v[0] == 't';
    if (!pgq_tmpl_script(q, super ? "pgl_role_superuser" : "pgl_role_createrole", 1, a)) {
        pgq_seterr(err, errcap, "ALTER ROLE %s %s: %s", nm->admin_role, super ? "SUPERUSER" : "CREATEROLE",
                      q->err);
        return false;
    }
    /* RDS: rds_superuser does not pass ownership checks, and the cutover
     * drops as the admin role what the master user created (publication,
     * event triggers, fleetcrypt's schema, the subscription): the admin role
     * acts as the master through membership. */
    const char *m[] = {master, nm->admin_role};
    if (!super && !pgq_tmpl_script(q, "pgl_grant_role", 2, m)) {
        pgq_seterr(err, errcap, "GRANT %s TO %s: %s", master, nm->admin_role, q->err);
        return false;
    }
    /* self-managed servers only (the master is a superuser there): the
     * subscription's login needs the REPLICATION attribute itself */
    const char *b[] = {nm->sub_role};
    if (super && !pgq_tmpl_script(q, "pgl_role_replication", 1, b)) {
        pgq_seterr(err, errcap, "ALTER ROLE %s REPLICATION: %s", nm->sub_role, q->err);
        return false;
    }
    return true;
}

bool pgl_blocked_since(pgq *q, const pgl_db_names *nm, int *count, int64_t *since_ms, char *err,
                        size_t errcap)
{
    *count = 0;
    *since_ms = 0;
    const char *s[] = {nm->schema};
    char v[16];
    if (!pgq_scalar(q, pgq_sql("pgl_schema_exists"), 1, s, v, sizeof v, NULL)) {
        pgq_seterr(err, errcap, "schema %s: %s", nm->schema, q->err);
        return false;
    }
    if (atoi(v) == 0) return true;
    PGresult *r = pgq_tmpl_exec(q, "pgl_blocked_since", 1, s, 0, NULL);
    if (!r) {
        if (!strcmp(q->sqlstate, "42P01")) return true; /* no block record table */
        pgq_seterr(err, errcap, "reading the block record: %s", q->err);
        return false;
    }
    *count = atoi(PQgetvalue(r, 0, 0));
    *since_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return true;
}

bool pgl_pin_snapshot(pgq *q, char *err, size_t errcap)
{
    if (!pgq_script(q, pgq_sql("pgl_pin_snapshot"))) {
        pgq_seterr(err, errcap, "pinning a snapshot: %s", q->err);
        return false;
    }
    return true;
}
