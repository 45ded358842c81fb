/* retire — `fleetcrypt retire CAMPAIGN [INSTANCE…]`: after the retention
 * period, a final snapshot of each finished instance's retired source, then
 * its deletion. Says what it will delete first; refuses before finished +
 * retention unless --force; asks on a terminal unless --yes (and requires
 * --yes when stdin is not one). Idempotent: an existing final snapshot is
 * reused, a source already gone is success. Deletes only an instance still
 * tagged fleetcrypt:role=retired-source (what deploy/iam/
 * fleetcrypt-retire-policy.json allows). The source's former read
 * replicas, promoted and retired by step `replicas` (tagged
 * fleetcrypt:replica-of=INSTANCE), are retired with it, each with its own
 * final snapshot. The record gets retired_at,
 * final_snapshot and retired_source (and, before the first AWS call,
 * retiring_ms) by plain HSET (the instance is
 * terminal: no lease). */
#include "cli.h"
#include "rds.h"
#include "step.h"
#include "store_model.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETIRE_POLL_MS 2000

typedef struct target {
    char id[64];       /* the campaign's instance */
    char orig[64];     /* fleetcrypt:original-id: id, or the replaced read replica's name */
    char retired[64];  /* its retired source (or a retired former read replica) */
    char snap[64];     /* fc-<campaign>-<orig>-final */
    long long retain_until_ms;
    bool replica;      /* a former read replica of the source (fleetcrypt:replica-of=id) */
} target;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Before the first AWS call: tells the coordinator not to stop the retired
 * source again while it is being snapshotted and deleted. */
static bool record_retiring(store *s, const char *campaign, const target *t)
{
    return store_record_retiring(s, campaign, t->id, fc_now_ms());
}

static bool record_done(store *s, const char *campaign, const target *t)
{
    return store_record_retired(s, campaign, t->id, fc_now_ms(), t->snap, t->retired);
}

/* Final snapshot exists and is available (creating it if needed), within wait_s. */
static bool final_snapshot(aws_client *c, const char *campaign, const target *t, int wait_s)
{
    int64_t deadline = fc_now_ms() + (int64_t)wait_s * 1000;
    bool created = false;
    int last_pct = -1;
    char last_status[32] = "";
    for (;;) {
        rds_snapshot *sn = NULL;
        aws_error e;
        aws_error_clear(&e);
        if (rds_describe_db_snapshot(c, t->snap, &sn, &e)) {
            if (!strcmp(sn->status, "available")) {
                if (sn->instance_id[0] && strcmp(sn->instance_id, t->retired)) {
                    cli_err(CLI_FAIL, "snapshot %s exists but is of %s, not %s", t->snap, sn->instance_id, t->retired);
                    rds_snapshot_free(sn);
                    return false;
                }
                printf("  snapshot %s: available%s\n", t->snap, created ? "" : " (reused)");
                rds_snapshot_free(sn);
                return true;
            }
            if (strcmp(sn->status, "creating") && strcmp(sn->status, "backing-up")) {
                cli_err(CLI_FAIL, "snapshot %s is %s", t->snap, sn->status);
                rds_snapshot_free(sn);
                return false;
            }
            if (sn->percent_progress != last_pct || strcmp(sn->status, last_status)) {
                printf("  snapshot %s: %s %d%%\n", t->snap, sn->status, sn->percent_progress);
                fflush(stdout);
                last_pct = sn->percent_progress;
                fc_strlcpy(last_status, sn->status, sizeof last_status);
            }
            rds_snapshot_free(sn);
        } else if (e.kind == AWS_ERR_NOT_FOUND && !created) {
            aws_tag tags[4];
            const char *kv[4][2] = {{"fleetcrypt:campaign", campaign},
                                    {"fleetcrypt:instance", t->id},
                                    {"fleetcrypt:role", "final-snapshot"},
                                    {"fleetcrypt:original-id", t->orig}};
            for (int k = 0; k < 4; k++) {
                fc_strlcpy(tags[k].key, kv[k][0], sizeof tags[k].key);
                fc_strlcpy(tags[k].value, kv[k][1], sizeof tags[k].value);
            }
            aws_error_clear(&e);
            if (rds_create_db_snapshot(c, t->snap, t->retired, tags, 4, NULL, &e)) {
                printf("  snapshot %s of %s: requested\n", t->snap, t->retired);
                fflush(stdout);
                created = true;
            } else if (!strcmp(e.code, "DBSnapshotAlreadyExists")) {
                created = true;
            } else if (strcmp(e.code, "InvalidDBInstanceState")) {
                cli_err(CLI_FAIL, "CreateDBSnapshot %s: %s: %.200s", t->snap, e.code, e.message);
                return false;
            }
        } else if (e.kind != AWS_ERR_NOT_FOUND) {
            cli_err(CLI_FAIL, "DescribeDBSnapshots %s: %s: %.200s", t->snap, e.code, e.message);
            return false;
        }
        if (fc_now_ms() >= deadline) {
            cli_err(CLI_FAIL, "snapshot %s not available after %d s (run retire again to resume)", t->snap, wait_s);
            return false;
        }
        sleep_ms(RETIRE_POLL_MS);
    }
}

/* Delete the retired source if it still carries the tag. */
static bool delete_source(aws_client *c, const char *campaign, const target *t)
{
    rds_instance *i = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_instance(c, t->retired, &i, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND) return true;
        cli_err(CLI_FAIL, "DescribeDBInstances %s: %s: %.200s", t->retired, e.code, e.message);
        return false;
    }
    bool tagged = cli_has_tag(i, "fleetcrypt:role", "retired-source") &&
                  cli_has_tag(i, "fleetcrypt:original-id", t->orig) && cli_has_tag(i, "fleetcrypt:campaign", campaign) &&
                  (!t->replica || cli_has_tag(i, "fleetcrypt:replica-of", t->id));
    bool deleting = !strcmp(i->status, "deleting");
    rds_instance_free(i);
    if (deleting) return true;
    if (!tagged) {
        cli_err(CLI_FAIL, "%s no longer carries fleetcrypt:role=retired-source for %s: not deleted", t->retired, t->id);
        return false;
    }
    aws_error_clear(&e);
    if (!rds_delete_db_instance(c, t->retired, NULL, NULL, &e) && e.kind != AWS_ERR_NOT_FOUND) {
        cli_err(CLI_FAIL, "DeleteDBInstance %s: %s: %.200s", t->retired, e.code, e.message);
        return false;
    }
    printf("  %s: deleted (final snapshot %s kept)\n", t->retired, t->snap);
    return true;
}

static bool add_target(target *x, const char *campaign, const char *id, const char *orig, const char *retired,
                       long long until_ms, bool replica)
{
    memset(x, 0, sizeof *x);
    fc_strlcpy(x->id, id, sizeof x->id);
    fc_strlcpy(x->orig, orig, sizeof x->orig);
    fc_strlcpy(x->retired, retired, sizeof x->retired);
    x->retain_until_ms = until_ms;
    x->replica = replica;
    return step_resource_name(campaign, orig, "final", x->snap, sizeof x->snap);
}

static bool confirm(int n)
{
    printf("Delete %d retired instance(s)? [y/N] ", n);
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return false;
    return line[0] == 'y' || line[0] == 'Y';
}

typedef struct retire_args {
    int retention, wait_s;
    bool force, yes, dry;
} retire_args;

static int retire_opt(void *ud, int val, const char *arg)
{
    retire_args *a = ud;
    if (val == 'f') a->force = true;
    else if (val == 'y') a->yes = true;
    else if (val == 'n') a->dry = true;
    else if (val == 'r' || val == 'w') {
        char *end = NULL;
        long v = strtol(arg, &end, 10);
        if (!*arg || *end || v < 0 || v > 36500)
            return cli_err(CLI_USAGE, "%s: needs a whole number (0..36500)", val == 'r' ? "retention-days" : "wait-timeout");
        if (val == 'r') a->retention = (int)v;
        else a->wait_s = (int)v;
    }
    return CLI_GO;
}

int cli_retire(fc_config *cfg, int argc, char **argv)
{
    const char *campaign = NULL;
    const char **named = calloc((size_t)argc + 1, sizeof *named);
    if (!named) return cli_err(CLI_FAIL, "out of memory");
    int nnamed = 0;
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
                                         {"yes", no_argument, NULL, 'y'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"retention-days", required_argument, NULL, 'r'},
                                         {"wait-timeout", required_argument, NULL, 'w'},
                                         {NULL, 0, NULL, 0}};
    retire_args ra = {.retention = -1, .wait_s = 3600};
    int first = argc;
    int rc = cli_args(cfg, argc, argv, opts, "y", retire_opt, &ra, &first);
    if (rc == CLI_GO) rc = CLI_OK;
    else {
        free(named);
        return rc;
    }
    int retention = ra.retention, wait_s = ra.wait_s;
    bool force = ra.force, yes = ra.yes, dry = ra.dry;
    for (int i = first; i < argc; i++) {
        if (!campaign) campaign = argv[i];
        else named[nnamed++] = argv[i];
    }
    if (rc == CLI_OK && !campaign) rc = cli_err(CLI_USAGE, "retire: CAMPAIGN is required (try fleetcrypt retire --help)");
    if (rc == CLI_OK && !fc_valid_campaign_id(campaign)) rc = cli_err(CLI_USAGE, "campaign: invalid id '%.60s'", campaign);
    for (int i = 0; rc == CLI_OK && i < nnamed; i++)
        if (!fc_valid_db_identifier(named[i])) rc = cli_err(CLI_USAGE, "instance: invalid id '%.70s'", named[i]);
    if (rc != CLI_OK) {
        free(named);
        return rc;
    }
    store *s = cli_store(cfg);
    if (!s) {
        free(named);
        return CLI_FAIL;
    }
    store_kv camp = {0};
    sargs ids;
    sargs_init(&ids);
    aws_session *sess = NULL;
    aws_client *c = NULL;
    rds_instance_list *fleet = NULL;
    target *t = NULL;
    int nt = 0, nrefuse = 0;
    if (!store_campaign_read(s, campaign, NULL, 0, &camp)) {
        rc = cli_err(CLI_FAIL, "redis unavailable");
        goto out;
    }
    if (camp.n == 0) {
        rc = cli_err(CLI_USAGE, "campaign: no such campaign %s", campaign);
        goto out;
    }
    if (retention < 0) retention = cli_retention_days(&camp);
    if (!store_instances(s, campaign, &ids)) {
        rc = cli_err(CLI_FAIL, "redis unavailable");
        goto out;
    }
    for (int i = 0; i < nnamed; i++) {
        bool member = false;
        for (int j = 0; j < ids.n; j++) member |= !strcmp(ids.v[j], named[i]);
        if (!member) {
            rc = cli_err(CLI_USAGE, "instance: %s is not in campaign %s", named[i], campaign);
            goto out;
        }
    }
    sess = cli_aws(cli_kv(&camp, "region"));
    if (!sess) {
        rc = CLI_FAIL;
        goto out;
    }
    c = aws_session_client(sess);
    rds_describe_opts o;
    memset(&o, 0, sizeof o);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_instances_all(c, &o, &fleet, &e)) {
        rc = cli_err(CLI_FAIL, "DescribeDBInstances: %s: %.200s", e.code, e.message);
        goto out;
    }
    t = calloc((size_t)ids.n + (fleet ? fleet->n : 0) + 1, sizeof *t);
    if (!t) {
        rc = cli_err(CLI_FAIL, "out of memory");
        goto out;
    }
    int64_t now = fc_now_ms();
    for (int j = 0; j < ids.n; j++) {
        const char *id = ids.v[j];
        bool want = nnamed == 0;
        for (int i = 0; i < nnamed; i++) want |= !strcmp(named[i], id);
        if (!want) continue;
        store_kv rec_kv;
        if (!store_record_read(s, campaign, id, NULL, 0, &rec_kv)) {
            rc = cli_err(CLI_FAIL, "redis unavailable");
            goto out;
        }
        const store_kv *rec = &rec_kv;
        const char *state = cli_kv(rec, "state");
        if (strcmp(state, "done")) {
            if (nnamed) printf("%s: %s, not finished: nothing to retire\n", id, state);
            store_kv_free(&rec_kv);
            continue;
        }
        long long fin = strtoll(cli_kv(rec, "finished_ms"), NULL, 10);
        long long until_ms = fin + (long long)retention * 86400000LL;
        char until[40];
        cli_fmt_time(until_ms, until, sizeof until);
        const rds_instance *ret = cli_find_retired(fleet, campaign, id);
        if (!ret || !strcmp(ret->status, "deleting")) {
            if (*cli_kv(rec, "retired_at")) printf("%s: already retired (final snapshot %s)\n", id, cli_kv(rec, "final_snapshot"));
            else if (ret) printf("%s: retired source %s is being deleted\n", id, ret->identifier);
            else printf("%s: no retired source tagged for it: nothing to retire\n", id);
        } else if (!add_target(&t[nt], campaign, id, id, ret->identifier, until_ms, false)) {
            store_kv_free(&rec_kv);
            rc = cli_err(CLI_FAIL, "no snapshot name for %s", id);
            goto out;
        } else {
            printf("%s: will delete %s (stopped, unencrypted source) after final snapshot %s; retain until %s\n", id,
                   t[nt].retired, t[nt].snap, until);
            if (now < until_ms) nrefuse++;
            nt++;
        }
        /* its former read replicas, replaced by encrypted ones at step `replicas` */
        for (size_t n = 0; fleet && n < fleet->n; n++) {
            const rds_instance *r = &fleet->v[n];
            if (!cli_has_tag(r, "fleetcrypt:role", "retired-source") || !cli_has_tag(r, "fleetcrypt:campaign", campaign) ||
                !cli_has_tag(r, "fleetcrypt:replica-of", id) || !strcmp(r->status, "deleting"))
                continue;
            const char *orig = "";
            for (size_t g = 0; g < r->n_tags; g++)
                if (!strcmp(r->tags[g].key, "fleetcrypt:original-id")) orig = r->tags[g].value;
            /* same name as the campaign instance: not a replica's tag set we wrote */
            if (!strcmp(orig, id)) continue;
            if (!fc_valid_db_identifier(orig) || !add_target(&t[nt], campaign, id, orig, r->identifier, until_ms, true)) {
                printf("%s: retired replica %s has no valid fleetcrypt:original-id tag: left alone\n", id, r->identifier);
                continue;
            }
            printf("%s: will delete %s (stopped, unencrypted former read replica %s) after final snapshot %s; retain "
                   "until %s\n", id, t[nt].retired, orig, t[nt].snap, until);
            if (now < until_ms) nrefuse++;
            nt++;
        }
        store_kv_free(&rec_kv);
    }
    if (nt == 0) {
        printf("campaign %s: nothing to retire\n", campaign);
        goto out;
    }
    if (nrefuse && !force) {
        for (int i = 0; i < nt; i++)
            if (now < t[i].retain_until_ms) {
                char until[40];
                cli_fmt_time(t[i].retain_until_ms, until, sizeof until);
                cli_err(CLI_USAGE, "retention: %s must be kept until %s (%d days); --force to delete earlier",
                        t[i].retired, until, retention);
            }
        rc = CLI_USAGE;
        goto out;
    }
    if (dry) {
        printf("dry run: nothing deleted\n");
        goto out;
    }
    if (!yes) {
        if (!isatty(STDIN_FILENO)) {
            rc = cli_err(CLI_USAGE, "confirmation: stdin is not a terminal; pass --yes to delete");
            goto out;
        }
        if (!confirm(nt)) {
            printf("nothing deleted\n");
            goto out;
        }
    }
    for (int i = 0; i < nt && rc == CLI_OK; i++) {
        printf("%s: retiring %s\n", t[i].id, t[i].retired);
        fflush(stdout);
        if (!record_retiring(s, campaign, &t[i])) rc = cli_err(CLI_FAIL, "redis: could not record %s", t[i].id);
        else if (!final_snapshot(c, campaign, &t[i], wait_s) || !delete_source(c, campaign, &t[i])) rc = CLI_FAIL;
        else if (!t[i].replica && !record_done(s, campaign, &t[i]))
            rc = cli_err(CLI_FAIL, "redis: could not record %s", t[i].id);
    }
out:
    free(t);
    rds_instance_list_free(fleet);
    aws_session_free(sess);
    sargs_free(&ids);
    store_kv_free(&camp);
    store_close(s);
    free(named);
    return rc;
}
