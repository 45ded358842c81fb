/* preflight — steps `preflight` and `prepare-source` of mysql-binlog.
 *
 * preflight reads, changes nothing: engine (mysql 5.7.6+, mariadb 10.4+:
 * ALTER USER ... ACCOUNT LOCK), available,
 * automated backups on (RDS needs them for the seed's read replica), no
 * read replica of the customer's, the key verdict (shared/awsstep.h), the
 * source's configuration for the restore (awsstep_learn_source),
 * binlog_format=ROW in the parameter group and on the running server (else
 * failed naming the parameter: fleetcrypt does not change parameter
 * groups), log_bin on, no non-transactional base table (a crash-consistent
 * snapshot of MyISAM/Aria is not exact: refused, use `offline`), tables
 * without a primary key warned (row-based apply scans them), enabled events
 * refused while the event scheduler runs (the restored target has the same
 * parameter group and would run them twice, see docs/mysql-binlog.md).
 * With --cutover-method cname: the application's record named for the
 * source (campaign field cname or tag fleetcrypt:cname) found on the
 * source's Endpoint.Address (shared/awscname.c, facts cname_*); refused
 * with an RDS Proxy in front (it would keep the retired source) and for an
 * Aurora MySQL cluster (its cutover is the cluster rename).
 * Facts: engine, engine_version, master_user, master_secret_arn,
 * nopk_tables, events, the awsstep_learn_source facts.
 *
 * An identifier that names a DB cluster (Aurora MySQL) takes the cluster
 * checks (cluster.c: binlog_format in the cluster parameter group), then
 * the same database checks through the cluster endpoint.
 *
 * prepare-source (fenced): binlog retention on the source set with
 * mysql.rds_set_configuration to binlog_retention_hours (24) unless it is
 * already longer (fact retention_before); the replication user
 * fc_repl_<hash> with only REPLICATION SLAVE, REPLICATION CLIENT, its
 * password derived from the master password (mb_common.h; never logged or
 * stored). Idempotent: CREATE USER IF NOT EXISTS, then ALTER USER to the
 * same derived password, GRANT again. */
#include "mysqlbinlog.h"
#include "mb_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awscluster.h"
#include "awscname.h"
#include "awsproxy.h"
#include "awsstep.h"
#include "log.h"
#include "util.h"

#define USER_SCHEMAS                                                                                              \
    "TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', '" MB_SCHEMA "')"

static step_rc param_group_check(step_ctx *ctx, step_result *res, const rds_instance *i)
{
    if (i->n_param_groups == 0) return STEP_OK;
    const char *g = i->param_groups[0].name;
    if (!strcmp(i->param_groups[0].apply_status, "pending-reboot")) {
        MB_REASON(res, "parameter group %s waits for a reboot of the source (binlog_format is static): reboot it "
                       "first", g);
        return STEP_FAIL;
    }
    rds_parameter_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_parameters(step_ctx_aws(ctx), g, NULL, &pl, &e))
        return awsstep_fail(res, &e, "DescribeDBParameters");
    step_rc rc = mb_binlog_format_verdict(res, pl, "parameter group", g, "source");
    rds_parameter_list_free(pl);
    return rc;
}

step_rc mb_binlog_format_verdict(step_result *res, const rds_parameter_list *pl, const char *kind, const char *group,
                                 const char *reboot)
{
    const rds_parameter *p = rds_parameter_find(pl, "binlog_format");
    char have[64];
    fc_strlcpy(have, p && p->value ? p->value : "(default)", sizeof have);
    if (strcasecmp(have, "ROW") != 0) {
        MB_REASON(res, "binlog_format is %s in %s %s: binlog replication needs binlog_format=ROW (set it and reboot "
                       "the %s; fleetcrypt does not change parameter groups)", have, kind, group, reboot);
        return STEP_FAIL;
    }
    return STEP_OK;
}

static step_rc database_checks(mb_session *s)
{
    step_rc rc = STEP_OK;
    myq *q = mb_conn(s, MB_SOURCE, &rc);
    if (!q) return rc;
    char err[400];
    myq_res *r = myq_query(q, "SELECT @@global.binlog_format, @@global.log_bin, @@global.event_scheduler, VERSION()",
                           err, sizeof err);
    if (!r) return mb_sql_fail(s->res, q, "reading the server settings", err);
    const char *fmt = myq_cell(r, 0, 0), *lb = myq_cell(r, 0, 1), *ev = myq_cell(r, 0, 2);
    bool row = fmt && !strcasecmp(fmt, "ROW"), logbin = lb && !strcmp(lb, "1");
    bool sched = ev && !strcasecmp(ev, "ON");
    step_ctx_set_fact(s->ctx, "server_version", myq_cell(r, 0, 3) ? myq_cell(r, 0, 3) : "");
    char fmtc[32];
    fc_strlcpy(fmtc, fmt ? fmt : "?", sizeof fmtc);
    myq_res_free(r);
    if (!row) {
        MB_REASON(s->res, "binlog_format is %s on the running source: binlog replication needs binlog_format=ROW "
                          "(reboot it after setting the parameter group)", fmtc);
        return STEP_FAIL;
    }
    if (!logbin) {
        MB_REASON(s->res, "the source writes no binary log (log_bin off: enable automated backups)");
        return STEP_FAIL;
    }
    r = myq_query(q,
                  "SELECT TABLE_SCHEMA, TABLE_NAME, IFNULL(ENGINE, '?') FROM information_schema.TABLES WHERE "
                  "TABLE_TYPE = 'BASE TABLE' AND " USER_SCHEMAS " AND IFNULL(ENGINE, '?') <> 'InnoDB' "
                  "ORDER BY 1, 2 LIMIT 5",
                  err, sizeof err);
    if (!r) return mb_sql_fail(s->res, q, "listing non-transactional tables", err);
    if (r->nrows > 0) {
        MB_REASON(s->res, "non-transactional table %s.%s (engine %s)%s: a crash-consistent snapshot of it is not "
                          "exact; convert it to InnoDB or use the offline strategy",
                  myq_cell(r, 0, 0), myq_cell(r, 0, 1), myq_cell(r, 0, 2), r->nrows > 1 ? " and others" : "");
        myq_res_free(r);
        return STEP_FAIL;
    }
    myq_res_free(r);
    r = myq_query(q,
                  "SELECT COUNT(*) FROM information_schema.TABLES t WHERE t.TABLE_TYPE = 'BASE TABLE' AND "
                  "t." USER_SCHEMAS " AND NOT EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c "
                  "WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND "
                  "c.CONSTRAINT_TYPE = 'PRIMARY KEY')",
                  err, sizeof err);
    if (!r) return mb_sql_fail(s->res, q, "listing tables without a primary key", err);
    const char *nopk = myq_cell(r, 0, 0);
    step_ctx_set_fact(s->ctx, "nopk_tables", nopk ? nopk : "0");
    if (nopk && strcmp(nopk, "0"))
        log_warn("mysql-binlog: tables without a primary key (row-based apply scans them: slow catch-up)",
                 "instance=%s tables=%s", step_ctx_instance(s->ctx), nopk);
    myq_res_free(r);
    r = myq_query(q, "SELECT COUNT(*) FROM information_schema.EVENTS WHERE STATUS = 'ENABLED'", err, sizeof err);
    if (!r) return mb_sql_fail(s->res, q, "listing events", err);
    const char *nev = myq_cell(r, 0, 0);
    step_ctx_set_fact(s->ctx, "events", nev ? nev : "0");
    bool twice = sched && nev && strcmp(nev, "0") != 0;
    char nevc[32];
    fc_strlcpy(nevc, nev ? nev : "0", sizeof nevc);
    myq_res_free(r);
    if (twice) {
        MB_REASON(s->res, "the event scheduler runs with %s enabled event(s): the restored target (same parameter "
                          "group) would run them too while it replicates; disable the events or set "
                          "event_scheduler=OFF for the campaign", nevc);
        return STEP_FAIL;
    }
    return STEP_OK;
}

bool mb_cname(step_ctx *ctx)
{
    const char *m = step_ctx_opt(ctx, "cutover-method");
    return m && !strcmp(m, "cname");
}

/* --cutover-method cname: the record named for the instance, on its
 * endpoint (shared/awscname.c); no RDS Proxy in front (fact proxy_names:
 * awsproxy_learn first), which would keep sending clients to the retired
 * source. */
static step_rc cname_learn(step_ctx *ctx, step_result *res, const rds_instance *i)
{
    if (!mb_cname(ctx)) return STEP_OK;
    const char *px = mb_fact(ctx, "proxy_names");
    if (*px) {
        MB_REASON(res, "--cutover-method cname: RDS Proxy %.*s has %s as its target and would keep sending clients "
                       "to the retired source: use --cutover-method rename (it moves the proxy)",
                  (int)strcspn(px, "\n"), px, i->identifier);
        return STEP_FAIL;
    }
    char name[256];
    if (!awscname_name_for(step_ctx_opt(ctx, "cname"), i->identifier, i->tags, i->n_tags, name, sizeof name)) {
        MB_REASON(res, "--cutover-method cname: no record named for %s (tag %s, or campaign file field cname "
                       "\"%s=NAME\")", i->identifier, AWSCNAME_TAG, i->identifier);
        return STEP_FAIL;
    }
    return awscname_learn(ctx, res, name, i->endpoint_address);
}

/* An Aurora MySQL cluster (cluster.c), then the same database checks. */
static step_rc cluster_preflight(step_ctx *ctx, step_result *res, bool renamed)
{
    if (mb_cname(ctx)) {
        MB_REASON(res, "--cutover-method cname: not for Aurora MySQL clusters (mysql-binlog cuts a cluster over "
                       "by its rename): use --cutover-method rename");
        return STEP_FAIL;
    }
    step_rc rc = mb_cluster_preflight(ctx, res, renamed);
    if (rc != STEP_OK) return rc;
    mb_session s;
    mb_session_init(&s, ctx, res);
    rc = database_checks(&s);
    mb_session_finish(&s);
    if (rc == STEP_OK) log_info("mysql-binlog preflight passed", "cluster=%s", step_ctx_instance(ctx));
    return rc;
}

step_rc mb_step_preflight(step_ctx *ctx, step_result *res)
{
    if (awscluster_is(ctx)) return cluster_preflight(ctx, res, false);
    bool missing = false;
    step_rc rc = STEP_OK;
    rds_instance *i = mb_describe(ctx, res, step_ctx_instance(ctx), &missing, &rc);
    if (!i && missing) {
        /* the identifier may name an Aurora MySQL cluster */
        bool renamed = false;
        int isc = awscluster_probe(ctx, res, step_ctx_aws(ctx), step_ctx_instance(ctx), &renamed, &rc);
        if (isc < 0) return rc;
        if (isc > 0) return (res->reason[0] = 0, cluster_preflight(ctx, res, renamed));
    }
    if (!i) return rc;
    if (strcmp(i->engine, "mysql") != 0 && strcmp(i->engine, "mariadb") != 0) {
        MB_REASON(res, "engine %s: mysql-binlog handles RDS for MySQL and MariaDB instances", i->engine);
        rds_instance_free(i);
        return STEP_FAIL;
    }
    bool maria = !strcmp(i->engine, "mariadb");
    if (!mb_version_at_least(i->engine_version, maria ? 10 : 5, maria ? 4 : 7, maria ? 0 : 6)) {
        MB_REASON(res, "engine %s %s: mysql-binlog needs %s (ALTER USER ... ACCOUNT LOCK)", i->engine,
                  i->engine_version, maria ? "MariaDB 10.4 or later" : "MySQL 5.7.6 or later");
        rds_instance_free(i);
        return STEP_FAIL;
    }
    if (i->cluster_id[0]) {
        MB_REASON(res, "a member of cluster %s: not an instance", i->cluster_id);
        rds_instance_free(i);
        return STEP_FAIL;
    }
    if (strcmp(i->status, "available") != 0) {
        MB_REASON(res, "source is %s; waiting for it to be available", i->status);
        res->wait_ms = 5000;
        snprintf(res->wait_on, sizeof res->wait_on, "db:%s", i->identifier);
        rds_instance_free(i);
        return STEP_WAIT;
    }
    if (i->backup_retention <= 0) {
        MB_REASON(res, "automated backups are off (backup retention 0): RDS makes no read replica without them, "
                       "and the binlog seed needs one");
        rds_instance_free(i);
        return STEP_FAIL;
    }
    if (i->read_replica_source[0]) {
        MB_REASON(res, "the source is itself a read replica of %s", i->read_replica_source);
        rds_instance_free(i);
        return STEP_FAIL;
    }
    char rid[64];
    awsstep_name(ctx, MB_SFX_REPLICA, rid, sizeof rid);
    for (size_t k = 0; k < i->n_read_replica_ids; k++)
        if (strcmp(i->read_replica_ids[k], rid) != 0) {
            MB_REASON(res, "the source has read replica %s: re-create it after the campaign (not moved by "
                           "mysql-binlog yet)", i->read_replica_ids[k]);
            rds_instance_free(i);
            return STEP_FAIL;
        }
    rc = awsstep_source_key(ctx, res, step_ctx_aws(ctx), i, step_ctx_opt_bool(ctx, "rekey"), "rekey", true);
    if (rc != STEP_OK) {
        rds_instance_free(i);
        return rc;
    }
    if ((rc = param_group_check(ctx, res, i)) != STEP_OK) {
        rds_instance_free(i);
        return rc;
    }
    /* RDS Proxies with the instance as their target: switched by the
     * cutover after the rename swap, writers still blocked (shared/awsproxy.c) */
    if ((rc = awsproxy_learn(ctx, res, AWSPROXY_INSTANCE, i->identifier, NULL, NULL, false)) != STEP_OK ||
        (rc = cname_learn(ctx, res, i)) != STEP_OK) {
        rds_instance_free(i);
        return rc;
    }
    awsstep_learn_source(ctx, i);
    step_ctx_set_fact(ctx, "engine", i->engine);
    step_ctx_set_fact(ctx, "engine_version", i->engine_version);
    step_ctx_set_fact(ctx, "master_user", i->master_username);
    step_ctx_set_fact(ctx, "master_secret_arn", i->master_user_secret_arn);
    rds_instance_free(i);
    mb_session s;
    mb_session_init(&s, ctx, res);
    rc = database_checks(&s);
    mb_session_finish(&s);
    if (rc == STEP_OK) log_info("mysql-binlog preflight passed", "instance=%s", step_ctx_instance(ctx));
    return rc;
}

static step_rc retention(mb_session *s, myq *q)
{
    char err[400];
    int64_t want = step_ctx_opt_i64(s->ctx, "binlog_retention_hours", 24);
    myq_res *r = myq_query(q, "CALL mysql.rds_show_configuration", err, sizeof err);
    if (!r) return mb_sql_fail(s->res, q, "mysql.rds_show_configuration", err);
    const char *have = NULL;
    for (int k = 0; k < r->nrows; k++) {
        const char *n = myq_get(r, k, "name");
        if (n && !strcmp(n, "binlog retention hours")) have = myq_get(r, k, "value");
    }
    int64_t h = have && *have ? strtoll(have, NULL, 10) : 0;
    if (!step_ctx_fact(s->ctx, "retention_before")) step_ctx_set_fact(s->ctx, "retention_before", have ? have : "");
    myq_res_free(r);
    if (h >= want) return STEP_OK;
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)want);
    const char *a[] = {v};
    if (!myq_execf(q, err, sizeof err, "CALL mysql.rds_set_configuration('binlog retention hours', %L)", 1, a))
        return mb_sql_fail(s->res, q, "mysql.rds_set_configuration", err);
    log_info("binlog retention set on the source", "instance=%s hours=%s", step_ctx_instance(s->ctx), v);
    return STEP_OK;
}

step_rc mb_step_prepare_source(step_ctx *ctx, step_result *res)
{
    mb_session s;
    mb_session_init(&s, ctx, res);
    step_rc rc = mb_fence(&s);
    myq *q = rc == STEP_OK ? mb_conn(&s, MB_SOURCE, &rc) : NULL;
    if (!q) goto out;
    if ((rc = retention(&s, q)) != STEP_OK) goto out;
    char err[400];
    const char *a[] = {s.repl_user, s.repl_pw};
    const char *u[] = {s.repl_user};
    if (!myq_execf(q, err, sizeof err, "CREATE USER IF NOT EXISTS %L@'%%' IDENTIFIED BY %L", 2, a) ||
        !myq_execf(q, err, sizeof err, "ALTER USER %L@'%%' IDENTIFIED BY %L", 2, a) ||
        !myq_execf(q, err, sizeof err, "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO %L@'%%'", 1, u)) {
        rc = mb_sql_fail_secret(res, q, "creating the replication user", err, s.repl_pw);
        goto out;
    }
    step_ctx_set_fact(ctx, "repl_user", s.repl_user);
    log_info("replication user ready on the source", "instance=%s user=%s", step_ctx_instance(ctx), s.repl_user);
out:
    mb_session_finish(&s);
    return rc;
}
