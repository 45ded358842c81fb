/* submit — validate a campaign completely, then enqueue it in one go:
 *   1. arguments / campaign file, ids well-formed, strategy in this build;
 *      a selector (--select / "select") is parsed here and resolved with one
 *      paginated DescribeDBInstances before step 2; then, with one paginated
 *      DescribeDBInstances and one DescribeDBClusters, an Aurora member named
 *      (or selected) is replaced by its cluster: a cluster is one source;
 *   2. Redis: campaign id unused, no instance in another active campaign;
 *   3. AWS: the KMS key exists and is enabled (DescribeKey), the account
 *      (GetCallerIdentity), quota headroom (DescribeAccountAttributes: every
 *      target is one more DB instance and each retired source is kept);
 *   4. the confirmation names the caller (ARN, account); --dry-run stops
 *      here; then it asks on a terminal unless --yes, and off a terminal
 *      --yes is required (for a strategy that makes AWS calls);
 *   5. claim the instances, create the campaign and its records.
 * Nothing is written before every check passed. Bad input exits 2 with one
 * line on stderr. */
#include "aws.h"
#include "catalog.h"
#include "cli.h"
#include "kms.h"
#include "ratelimit.h"
#include "rds.h"
#include "step.h"
#include "store_model.h"
#include "sts.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INSTANCES 100000

typedef struct sub_opts {
    char campaign[48];
    char kms_key[512];
    char strategy[32];
    char region[32];
    int max_parallel;
    bool keep_snapshots, yes, dry_run;
    char file[1024];
    json_t *extra;     /* other documented options, kept in the campaign spec */
    char select[1024];   /* --select / file "select": resolved in run() */
    bool have_select;
    char **ids;
    int nids, cap;
} sub_opts;

static int validate_extras(const sub_opts *o);
static int validate_xacct(const sub_opts *o, const strategy_def *sd);

static bool add_id(sub_opts *o, const char *id)
{
    for (int i = 0; i < o->nids; i++)
        if (!strcmp(o->ids[i], id)) return true; /* duplicates collapse */
    if (o->nids >= MAX_INSTANCES) return false;
    if (o->nids == o->cap) {
        int nc = o->cap ? o->cap * 2 : 64;
        char **n = realloc(o->ids, (size_t)nc * sizeof *n);
        if (!n) return false;
        o->ids = n;
        o->cap = nc;
    }
    o->ids[o->nids] = strdup(id);
    if (!o->ids[o->nids]) return false;
    o->nids++;
    return true;
}

static void free_opts(sub_opts *o)
{
    for (int i = 0; i < o->nids; i++) free(o->ids[i]);
    free(o->ids);
    json_decref(o->extra);
}

static int read_stdin_ids(sub_opts *o)
{
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t')) p[--l] = 0;
        if (!*p || *p == '#') continue;
        if (!fc_valid_db_identifier(p)) return cli_err(CLI_USAGE, "invalid instance id '%.80s' on stdin", p);
        if (!add_id(o, p)) return cli_err(CLI_USAGE, "too many instances");
    }
    return CLI_OK;
}

typedef struct sel_walk {
    sub_opts *o;
    int added;
    bool overflow;
} sel_walk;

static bool sel_add(void *ud, const rds_instance *i)
{
    sel_walk *w = ud;
    if (!fc_valid_db_identifier(i->identifier)) return true;
    int before = w->o->nids;
    if (!add_id(w->o, i->identifier)) {
        w->overflow = true;
        return false;
    }
    if (w->o->nids > before) w->added++;
    return true;
}

/* One paginated DescribeDBInstances (engine as a server-side filter); the
 * matching ids join the ones given otherwise. */
static int resolve_selector(aws_client *c, sub_opts *o, const char *key_arn)
{
    cli_selector sel;
    int rc = cli_selector_parse(o->select, &sel);
    if (rc) return rc;
    fc_strlcpy(sel.campaign_key, key_arn, sizeof sel.campaign_key);
    sel_walk w = {.o = o};
    bool stopped = false;
    aws_error e;
    aws_error_clear(&e);
    if (!cli_selector_each(c, &sel, sel_add, &w, &stopped, &e))
        return cli_err(e.kind == AWS_ERR_PERMANENT ? CLI_USAGE : CLI_FAIL, "select: DescribeDBInstances: %s: %s",
                       e.code, e.message);
    if (w.overflow) return cli_err(CLI_USAGE, "select: too many instances (more than %d)", MAX_INSTANCES);
    if (w.added == 0) return cli_err(CLI_USAGE, "select: selector matched no instance ('%.200s')", o->select);
    printf("selected %d instance(s) by '%s':", w.added, o->select);
    int shown = 0;
    for (int k = o->nids - w.added; k < o->nids && shown < 50; k++, shown++) printf(" %s", o->ids[k]);
    printf("%s\n", w.added > shown ? " ..." : "");
    return CLI_OK;
}

/* Every instance and cluster of the region, described once for the fold,
 * the quota check and the dry run. */
typedef struct fleet_view {
    rds_instance_list *inst;
    rds_cluster_list *clu;
} fleet_view;

static const rds_instance *fleet_instance(const fleet_view *f, const char *id)
{
    for (size_t j = 0; f->inst && j < f->inst->n; j++)
        if (!strcmp(f->inst->v[j].identifier, id)) return &f->inst->v[j];
    return NULL;
}

static const rds_cluster *fleet_cluster(const fleet_view *f, const char *id)
{
    for (size_t j = 0; f->clu && j < f->clu->n; j++)
        if (!strcmp(f->clu->v[j].identifier, id)) return &f->clu->v[j];
    return NULL;
}

/* The account's instances, and its clusters when a named source may be one:
 * not an instance, or an Aurora member (folded into its cluster). A
 * campaign of instances only asks no DescribeDBClusters. */
static int fleet_load(aws_client *c, const sub_opts *o, fleet_view *f)
{
    rds_describe_opts d;
    memset(&d, 0, sizeof d);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_instances_all(c, &d, &f->inst, &e))
        return cli_err(CLI_FAIL, "DescribeDBInstances: %s: %s", e.code, e.message);
    bool clusters = false;
    for (int k = 0; k < o->nids && !clusters; k++) {
        const rds_instance *i = fleet_instance(f, o->ids[k]);
        clusters = !i || i->cluster_id[0];
    }
    if (!clusters) return CLI_OK;
    aws_error_clear(&e);
    if (!rds_describe_db_clusters_all(c, &d, &f->clu, &e))
        return cli_err(CLI_FAIL, "DescribeDBClusters: %s: %s", e.code, e.message);
    return CLI_OK;
}

/* An Aurora member named on its own is replaced by its cluster (the cluster
 * moves as one unit with all its members); a writer named like its cluster
 * is that cluster. Duplicates collapse. */
static int fold_members(sub_opts *o, const fleet_view *f)
{
    char **old = o->ids;
    int n = o->nids;
    o->ids = NULL;
    o->nids = o->cap = 0;
    int rc = CLI_OK;
    for (int k = 0; k < n; k++) {
        const rds_instance *i = fleet_instance(f, old[k]);
        const char *id = old[k];
        if (i && i->cluster_id[0]) {
            if (strcmp(i->cluster_id, old[k]))
                printf("%s is a member of cluster %s: the cluster is migrated as one unit with all its members\n",
                       old[k], i->cluster_id);
            id = i->cluster_id;
        }
        if (rc == CLI_OK && !add_id(o, id)) rc = cli_err(CLI_USAGE, "too many instances");
        free(old[k]);
    }
    free(old);
    return rc;
}

/* What the sources may create: DB instances (a cluster: its members),
 * DB clusters (one per cluster). */
static void fleet_cost(const fleet_view *f, const sub_opts *o, const strategy_def *sd, int *inst, int *clusters)
{
    *inst = *clusters = 0;
    for (int k = 0; k < o->nids; k++) {
        const rds_cluster *cl = fleet_instance(f, o->ids[k]) ? NULL : fleet_cluster(f, o->ids[k]);
        *inst += cl ? (int)cl->n_members : sd->quota_instances;
        *clusters += cl ? 1 : 0;
    }
}

/* Campaign file: {"campaign", "kms_key", "strategy", "max_parallel", "region",
 * "keep_snapshots", "select", "instances": ["id" | {"id": ...}]}; flags win. */
static int read_file(sub_opts *o, bool set_campaign, bool set_key, bool set_strategy, bool set_mp, bool set_region)
{
    json_error_t je;
    json_t *j = json_load_file(o->file, 0, &je);
    if (!j) return cli_err(CLI_USAGE, "campaign file %s: line %d: %s", o->file, je.line, je.text);
    int rc = CLI_USAGE;
    if (!json_is_object(j)) {
        cli_err(CLI_USAGE, "campaign file %s: top level must be an object", o->file);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (!strcmp(k, "select")) {
            if (!json_is_string(v)) {
                cli_err(CLI_USAGE, "campaign file %s: field select must be a string", o->file);
                goto out;
            }
            if (!o->have_select) {
                if (!fc_strlcpy(o->select, json_string_value(v), sizeof o->select)) {
                    cli_err(CLI_USAGE, "campaign file %s: field select is too long", o->file);
                    goto out;
                }
                o->have_select = true;
            }
        } else if (!strcmp(k, "campaign") || !strcmp(k, "kms_key") || !strcmp(k, "strategy") || !strcmp(k, "region")) {
            if (!json_is_string(v)) {
                cli_err(CLI_USAGE, "campaign file %s: field %s must be a string", o->file, k);
                goto out;
            }
            const char *s = json_string_value(v);
            if (!strcmp(k, "campaign") && !set_campaign) fc_strlcpy(o->campaign, s, sizeof o->campaign);
            if (!strcmp(k, "kms_key") && !set_key) fc_strlcpy(o->kms_key, s, sizeof o->kms_key);
            if (!strcmp(k, "strategy") && !set_strategy) fc_strlcpy(o->strategy, s, sizeof o->strategy);
            if (!strcmp(k, "region") && !set_region) fc_strlcpy(o->region, s, sizeof o->region);
        } else if (!strcmp(k, "max_parallel")) {
            if (!json_is_integer(v)) {
                cli_err(CLI_USAGE, "campaign file %s: field max_parallel must be an integer", o->file);
                goto out;
            }
            if (!set_mp) o->max_parallel = (int)json_integer_value(v);
        } else if (!strcmp(k, "keep_snapshots")) {
            if (!json_is_boolean(v)) {
                cli_err(CLI_USAGE, "campaign file %s: field keep_snapshots must be true or false", o->file);
                goto out;
            }
            if (json_is_true(v)) o->keep_snapshots = true;
        } else if (!strcmp(k, "instances")) {
            if (!json_is_array(v)) {
                cli_err(CLI_USAGE, "campaign file %s: field instances must be an array", o->file);
                goto out;
            }
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                const char *id = json_is_string(e) ? json_string_value(e)
                                 : json_is_object(e) ? json_string_value(json_object_get(e, "id"))
                                                     : NULL;
                if (!id || !fc_valid_db_identifier(id)) {
                    cli_err(CLI_USAGE, "campaign file %s: instances[%zu] is not a valid instance id", o->file, i);
                    goto out;
                }
                if (!add_id(o, id)) {
                    cli_err(CLI_USAGE, "too many instances");
                    goto out;
                }
            }
        } else {
            /* other documented options travel in the spec */
            json_object_set(o->extra, k, v);
        }
    }
    rc = CLI_OK;
out:
    json_decref(j);
    return rc;
}

/* Every strategy's flags (its non-tuning options, from the descriptors),
 * each name once; which strategy may use which is checked after parsing. */
#define MAX_STRATEGY_FLAGS 64
static const opt_def *sflags[MAX_STRATEGY_FLAGS];
static int nsflags;

static void collect_strategy_flags(void)
{
    if (nsflags) return;
    size_t n;
    const strategy_def *const *all = strategy_all(&n);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < all[i]->nopts; k++) {
            const opt_def *od = &all[i]->opts[k];
            bool seen = od->tuning;
            for (int j = 0; j < nsflags && !seen; j++) seen = !strcmp(sflags[j]->name, od->name);
            if (!seen && nsflags < MAX_STRATEGY_FLAGS) sflags[nsflags++] = od;
        }
}

enum { SO_KEEP = 256, SO_DRY, SO_CAMPAIGN, SO_KEY, SO_STRATEGY, SO_REGION, SO_MP, SO_SELECT, SO_FILE,
       SO_FLAG = 300 };

typedef struct sub_parse {
    sub_opts *o;
    bool set_campaign, set_key, set_strategy, set_mp, set_region;
} sub_parse;

static int sub_opt(void *ud, int val, const char *v)
{
    sub_parse *p = ud;
    sub_opts *o = p->o;
    switch (val) {
    case 'y': o->yes = true; break;
    case SO_KEEP: o->keep_snapshots = true; break;
    case SO_DRY: o->dry_run = true; break;
    case SO_CAMPAIGN:
        fc_strlcpy(o->campaign, v, sizeof o->campaign);
        p->set_campaign = true;
        break;
    case SO_KEY:
        if (!fc_strlcpy(o->kms_key, v, sizeof o->kms_key)) return cli_err(CLI_USAGE, "--kms-key is too long");
        p->set_key = true;
        break;
    case SO_STRATEGY:
        fc_strlcpy(o->strategy, v, sizeof o->strategy);
        p->set_strategy = true;
        break;
    case SO_REGION:
        fc_strlcpy(o->region, v, sizeof o->region);
        p->set_region = true;
        break;
    case SO_MP: {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > 10000)
            return cli_err(CLI_USAGE, "--max-parallel must be an integer in [1, 10000], got '%.40s'", v);
        o->max_parallel = (int)n;
        p->set_mp = true;
        break;
    }
    case SO_SELECT:
        if (!fc_strlcpy(o->select, v, sizeof o->select)) return cli_err(CLI_USAGE, "select: selector is too long");
        o->have_select = true;
        break;
    case SO_FILE: fc_strlcpy(o->file, v, sizeof o->file); break;
    default:
        if (val >= SO_FLAG && val < SO_FLAG + nsflags) {
            /* a strategy's option: checked against that strategy once it is known */
            const opt_def *od = sflags[val - SO_FLAG];
            json_object_set_new(o->extra, od->name, od->type == OPT_BOOL ? json_true() : json_string(v));
        }
    }
    return CLI_GO;
}

static int parse(sub_opts *o, fc_config *cfg, int argc, char **argv)
{
    bool want_stdin = false;
    collect_strategy_flags();
    struct option opts[12 + MAX_STRATEGY_FLAGS] = {
        {"yes", no_argument, NULL, 'y'},
        {"keep-snapshots", no_argument, NULL, SO_KEEP},
        {"dry-run", no_argument, NULL, SO_DRY},
        {"campaign", required_argument, NULL, SO_CAMPAIGN},
        {"kms-key", required_argument, NULL, SO_KEY},
        {"strategy", required_argument, NULL, SO_STRATEGY},
        {"region", required_argument, NULL, SO_REGION},
        {"max-parallel", required_argument, NULL, SO_MP},
        {"select", required_argument, NULL, SO_SELECT},
        {"file", required_argument, NULL, SO_FILE},
    };
    int n = 10;
    for (int k = 0; k < nsflags; k++)
        opts[n++] = (struct option){sflags[k]->name, sflags[k]->type == OPT_BOOL ? no_argument : required_argument,
                                    NULL, SO_FLAG + k};
    sub_parse sp = {.o = o};
    int first = argc;
    int prc = cli_args(cfg, argc, argv, opts, "y", sub_opt, &sp, &first);
    if (prc != CLI_GO) return prc;
    bool set_campaign = sp.set_campaign, set_key = sp.set_key, set_strategy = sp.set_strategy, set_mp = sp.set_mp,
         set_region = sp.set_region;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-")) {
            want_stdin = true;
            continue;
        }
        if (!fc_valid_db_identifier(a)) return cli_err(CLI_USAGE, "invalid instance id '%.80s'", a);
        if (!add_id(o, a)) return cli_err(CLI_USAGE, "too many instances");
    }
    if (o->file[0]) {
        int rc = read_file(o, set_campaign, set_key, set_strategy, set_mp, set_region);
        if (rc) return rc;
    }
    if (want_stdin) {
        int rc = read_stdin_ids(o);
        if (rc) return rc;
    }
    if (!o->campaign[0]) return cli_err(CLI_USAGE, "--campaign is required");
    if (!fc_valid_campaign_id(o->campaign))
        return cli_err(CLI_USAGE, "invalid campaign id '%s' (1-40 of a-z, 0-9, '-')", o->campaign);
    if (!o->kms_key[0]) return cli_err(CLI_USAGE, "--kms-key is required");
    if (o->max_parallel < 1 || o->max_parallel > 10000)
        return cli_err(CLI_USAGE, "max_parallel must be in [1, 10000]");
    if (!strategy_find(o->strategy))
        return cli_err(CLI_USAGE, "strategy %s is not available in this build (it has: %s)", o->strategy,
                       strategy_names(", "));
    if (o->have_select) {
        cli_selector sel;
        int rc = cli_selector_parse(o->select, &sel); /* malformed: exit 2 before any call */
        if (rc) return rc;
    } else if (o->nids == 0) {
        return cli_err(CLI_USAGE, "no instances given (arguments, '-' for stdin, --file or --select)");
    }
    return validate_extras(o);
}

/* The strategy's options (its descriptor's opts) must be valid before
 * anything is enqueued; an option the strategy does not have is refused. */
static int validate_extras(const sub_opts *o)
{
    const strategy_def *sd = strategy_find(o->strategy);
    const char *k;
    json_t *v;
    json_object_foreach(o->extra, k, v) {
        if (!strcmp(k, "keep_snapshots")) continue; /* every strategy's: a campaign field */
        const opt_def *od = strategy_opt(sd, k);
        if (!od) return cli_err(CLI_USAGE, "--%s is not an option of strategy %s", k, sd->name);
        char buf[1024] = "", err[320];
        if (json_is_string(v)) fc_strlcpy(buf, json_string_value(v), sizeof buf);
        else if (json_is_boolean(v)) fc_strlcpy(buf, json_is_true(v) ? "1" : "0", sizeof buf);
        else if (json_is_integer(v)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        else return cli_err(CLI_USAGE, "--%s must be a string, a number or a boolean", k);
        if (!opt_check(od, buf, err, sizeof err)) return cli_err(CLI_USAGE, "%s", err);
    }
    return validate_xacct(o, sd);
}

/* An extra option's string value ("" when absent or not a string). */
static const char *extra_str(const sub_opts *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o->extra, k));
    return v ? v : "";
}

/* --target-account-role: an identifier cannot be renamed into another
 * account, nor an RDS Proxy target (cname), the external id only with it, the key by ARN
 * (an alias would be looked up in the campaign's account). */
static int validate_xacct(const sub_opts *o, const strategy_def *sd)
{
    const char *role = extra_str(o, "target-account-role");
    if (!*role) {
        if (*extra_str(o, "target-external-id"))
            return cli_err(CLI_USAGE, "--target-external-id needs --target-account-role");
        return CLI_OK;
    }
    const char *m = extra_str(o, "cutover-method");
    const opt_def *od = strategy_opt(sd, "cutover-method");
    if (!*m && od && od->def) m = od->def;
    /* a rename stays in its account; an RDS Proxy registers targets of its
     * own account only (RegisterDBProxyTargets takes identifiers) */
    if (od && strcmp(m, "cname"))
        return cli_err(CLI_USAGE, "--cutover-method %s cannot switch clients into another account: use "
                       "--cutover-method cname with --target-account-role", m);
    if (strncmp(o->kms_key, "arn:", 4))
        return cli_err(CLI_USAGE, "--kms-key must be the target account's key ARN with --target-account-role");
    if (*extra_str(o, "rollback-window"))
        return cli_err(CLI_USAGE, "--rollback-window does not work across accounts yet: drop it or "
                       "--target-account-role");
    return CLI_OK;
}

/* Same KMS key? ARNs compare whole; a bare key id matches an ARN's tail. */
static bool same_key(const char *a, const char *b)
{
    if (!a[0] || !b[0]) return false;
    if (!strcmp(a, b)) return true;
    const char *ta = strrchr(a, '/'), *tb = strrchr(b, '/');
    return ta && tb && !strcmp(ta, tb);
}

/* --dry-run: the AWS-level preflight of every instance, with its verdict.
 * One paginated describe answers every instance; each distinct parameter
 * group is read once. Database-level checks need credentials, which the CLI
 * never reads: the workers' preflight runs them. Returns how many would fail. */
static bool dry_rekey(const strategy_def *sd, const sub_opts *o)
{
    json_t *rv = sd->rekey_option ? json_object_get(o->extra, sd->rekey_option) : NULL;
    return json_is_true(rv) || (json_is_string(rv) && opt_truthy(json_string_value(rv)));
}

/* A cluster's verdict: engine, key (an AWS owned key has no ARN), status,
 * members (role, class, tier) and the cluster parameter group. */
static bool dry_reboot(const strategy_def *sd, const sub_opts *o)
{
    json_t *rv = sd->reboot_option ? json_object_get(o->extra, sd->reboot_option) : NULL;
    return json_is_true(rv) || (json_is_string(rv) && opt_truthy(json_string_value(rv)));
}

/* The strategy's required parameter for a cluster: it lives in the *cluster*
 * parameter group (DescribeDBClusterParameters) and takes effect on the
 * writer when it reboots (its DBClusterParameterGroupStatus). Returns false
 * with the failure in v, or true with a note for an ok verdict in note
 * (empty when nothing is to be done). */
static bool cluster_param_ok(aws_client *c, const strategy_def *sd, const sub_opts *o, const rds_cluster *cl,
                             char *v, size_t cap, char *note, size_t ncap)
{
    note[0] = 0;
    if (!sd->required_param) return true;
    rds_parameter_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_cluster_parameters(c, cl->param_group, NULL, &pl, &e)) {
        snprintf(v, cap, "DescribeDBClusterParameters of %.200s: %.200s", cl->param_group,
                 e.message[0] ? e.message : e.code);
        return false;
    }
    const rds_parameter *p = rds_parameter_find(pl, sd->required_param);
    bool on = p && p->value && !strcmp(p->value, sd->required_value);
    rds_parameter_list_free(pl);
    bool reboot = dry_reboot(sd, o);
    const rds_cluster_member *w = rds_cluster_writer(cl);
    char hint[96] = "";
    if (sd->reboot_option) snprintf(hint, sizeof hint, " (allow it with --%s)", sd->reboot_option);
    if (!on) {
        if (reboot) {
            snprintf(note, ncap, "%s=%s will be set in a fleetcrypt-owned copy of cluster parameter group %.200s "
                     "and the writer rebooted (inside the window)", sd->required_param, sd->required_value,
                     cl->param_group);
            return true;
        }
        snprintf(v, cap, "%s is not %s in cluster parameter group %.200s: needs cluster parameter group change + "
                 "writer reboot%s", sd->required_param, sd->required_value, cl->param_group, hint);
        return false;
    }
    if (w && w->param_group_status[0] && strcmp(w->param_group_status, "in-sync")) {
        if (reboot) {
            snprintf(note, ncap, "the writer %s (%s) will be rebooted to apply %s=%s (inside the window)",
                     w->instance_id, w->param_group_status, sd->required_param, sd->required_value);
            return true;
        }
        snprintf(v, cap, "%s=%s is in cluster parameter group %.200s but the writer %s is %s: needs a writer "
                 "reboot%s", sd->required_param, sd->required_value, cl->param_group, w->instance_id,
                 w->param_group_status, hint);
        return false;
    }
    return true;
}

/* The RDS Proxies whose target group has cluster id (TRACKED_CLUSTER; with
 * cluster false: instance id, an RDS_INSTANCE target of no cluster) as
 * "a, b" in out ("" for none); false with the reason in out when AWS could
 * not say. */
static bool source_proxies(aws_client *c, const char *id, bool cluster, char *out, size_t cap)
{
    out[0] = 0;
    rds_proxy_list *pl = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_proxies(c, NULL, &pl, &e)) {
        snprintf(out, cap, "DescribeDBProxies: %.200s", e.message[0] ? e.message : e.code);
        return false;
    }
    size_t n = 0;
    for (size_t k = 0; k < pl->n; k++) {
        rds_proxy_target_list *tl = NULL;
        aws_error_clear(&e);
        if (!rds_describe_db_proxy_targets(c, pl->v[k].name, NULL, &tl, &e)) continue; /* deleted meanwhile */
        for (size_t t = 0; t < tl->n; t++)
            if ((cluster ? !strcmp(tl->v[t].type, "TRACKED_CLUSTER")
                         : !strcmp(tl->v[t].type, "RDS_INSTANCE") && !tl->v[t].tracked_cluster_id[0]) &&
                !strcmp(tl->v[t].rds_resource_id, id) && n < cap)
                n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", pl->v[k].name);
        rds_proxy_target_list_free(tl);
    }
    rds_proxy_list_free(pl);
    return true;
}

/* pg-logical's --initial-copy for a cluster (docs/clusters.md, "When the
 * snapshot cannot be restored"): what it will do, "" when nothing. */
static void initial_copy_note(const strategy_def *sd, const sub_opts *o, bool owned, char *out, size_t cap)
{
    out[0] = 0;
    if (!strategy_opt(sd, "initial-copy")) return;
    json_t *jv = json_object_get(o->extra, "initial-copy");
    const char *m = json_is_string(jv) ? json_string_value(jv) : "auto";
    const char *cost = "reads the whole database; login roles other than the master user get no password";
    if (!strcmp(m, "always"))
        snprintf(out, cap, "--initial-copy always: a new cluster with the campaign key filled by logical "
                 "replication with initial copy, no snapshot (%s)", cost);
    else if (owned && !strcmp(m, "never"))
        snprintf(out, cap, "if AWS refuses to restore its AWS-owned-key snapshot under the campaign key (not "
                 "documented either way) the source fails (--initial-copy never)");
    else if (owned)
        snprintf(out, cap, "if AWS refuses to restore its AWS-owned-key snapshot under the campaign key (not "
                 "documented either way), a new cluster with the campaign key is filled by logical replication "
                 "with initial copy instead (--initial-copy auto; %s)", cost);
}

static const char *cluster_verdict(aws_client *c, const strategy_def *sd, const sub_opts *o, const fleet_view *f,
                                   const rds_cluster *cl, const char *key_arn, char *v, size_t cap)
{
    bool owned = cl->storage_encrypted && !cl->kms_key_id[0];
    const char *key = owned ? "an AWS owned key (sse-rds)" : cl->kms_key_id;
    if (!strategy_serves_engine(sd, cl->engine)) {
        snprintf(v, cap, "cluster engine %s is not supported by %s", cl->engine, o->strategy);
        return "failed";
    }
    if (cl->storage_encrypted && same_key(cl->kms_key_id, key_arn)) {
        snprintf(v, cap, "already encrypted with the requested key");
        return "skipped";
    }
    if (cl->storage_encrypted && !dry_rekey(sd, o)) {
        if (sd->rekey_option)
            snprintf(v, cap, "already encrypted with another key (%.200s); --%s to move it to the campaign key", key,
                     sd->rekey_option);
        else
            snprintf(v, cap, "already encrypted with another key (%.200s)", key);
        return "skipped";
    }
    if (cl->n_members == 0) {
        snprintf(v, cap, "cluster has no instances");
        return "failed";
    }
    char note[600];
    if (!cluster_param_ok(c, sd, o, cl, v, cap, note, sizeof note)) return "failed";
    size_t n = (size_t)snprintf(v, cap, "eligible cluster (status %s; %s; members:", cl->status,
                                cl->storage_encrypted ? "re-key" : "unencrypted");
    for (size_t k = 0; k < cl->n_members && n < cap; k++) {
        const rds_instance *m = fleet_instance(f, cl->members[k].instance_id);
        n += (size_t)snprintf(v + n, cap - n, " %s (%s, %s, tier %d)", cl->members[k].instance_id,
                              cl->members[k].is_writer ? "writer" : "reader", m ? m->instance_class : "?",
                              cl->members[k].promotion_tier);
    }
    if (n < cap)
        n += (size_t)snprintf(v + n, cap - n, "; cluster parameter group %s; from key %s); %s", cl->param_group,
                              cl->storage_encrypted ? key : "none", sd->dry_run_note);
    if (note[0] && n < cap) n += (size_t)snprintf(v + n, cap - n, "; %s", note);
    /* an RDS Proxy in front of the cluster: how the strategy moves it */
    char px[300];
    if (!source_proxies(c, cl->identifier, true, px, sizeof px)) {
        if (n < cap) n += (size_t)snprintf(v + n, cap - n, "; RDS Proxies in front of it not checked (%s)", px);
    } else if (px[0] && n < cap) {
        if (sd->proxy_cluster_note)
            n += (size_t)snprintf(v + n, cap - n, "; behind RDS Proxy %s: %s", px, sd->proxy_cluster_note);
        else
            n += (size_t)snprintf(v + n, cap - n, "; behind RDS Proxy %s: %s does not switch proxies (switch the "
                                  "proxy's target to the encrypted cluster after the campaign)", px, o->strategy);
    }
    initial_copy_note(sd, o, owned, note, sizeof note);
    if (note[0] && n < cap) snprintf(v + n, cap - n, "; %s", note);
    return "ok";
}

static int dry_run_verdicts(aws_client *c, const strategy_def *sd, const sub_opts *o, const char *key_arn,
                            const fleet_view *fv)
{
    const rds_instance_list *all = fv->inst;
    aws_error e;
    char groups_checked[16][256];
    bool groups_ok[16];
    int ng = 0, failing = 0;
    for (int k = 0; k < o->nids; k++) {
        const rds_instance *in = NULL;
        for (size_t j = 0; j < all->n; j++)
            if (!strcmp(all->v[j].identifier, o->ids[k])) in = &all->v[j];
        char verdict[2048];
        const char *kind = "ok";
        const rds_cluster *cl = in ? NULL : fleet_cluster(fv, o->ids[k]);
        if (cl) {
            kind = cluster_verdict(c, sd, o, fv, cl, key_arn, verdict, sizeof verdict);
            failing += !strcmp(kind, "failed");
            printf("  %-40s %-8s %s\n", o->ids[k], kind, verdict);
            continue;
        }
        /* a source encrypted with another key: eligible when the strategy can
         * re-key and the campaign asks for it (its descriptor names the flag) */
        bool rekey = dry_rekey(sd, o);
        if (!in) {
            kind = "failed";
            snprintf(verdict, sizeof verdict, "not found in %s", o->region);
        } else if (!strategy_serves_engine(sd, in->engine)) {
            kind = "failed";
            snprintf(verdict, sizeof verdict, "engine %s is not supported by %s", in->engine, o->strategy);
        } else if (in->storage_encrypted && same_key(in->kms_key_id, key_arn)) {
            kind = "skipped";
            snprintf(verdict, sizeof verdict, "already encrypted with the requested key");
        } else if (in->storage_encrypted && !rekey) {
            kind = "skipped";
            if (sd->rekey_option)
                snprintf(verdict, sizeof verdict, "already encrypted with another key (%.200s); --%s to move it to the "
                         "campaign key", in->kms_key_id, sd->rekey_option);
            else
                snprintf(verdict, sizeof verdict, "already encrypted with another key (%.200s)", in->kms_key_id);
        } else if (in->n_read_replica_ids > 0) {
            kind = "failed";
            snprintf(verdict, sizeof verdict, "has %zu read replica(s); plan their re-creation first", in->n_read_replica_ids);
        } else {
            if (in->storage_encrypted)
                snprintf(verdict, sizeof verdict, "eligible (re-key from %.200s); status %s; %s", in->kms_key_id,
                         in->status, sd->dry_run_note);
            else
                snprintf(verdict, sizeof verdict, "eligible (status %s); %s", in->status, sd->dry_run_note);
            if (sd->required_param && in->n_param_groups > 0) {
                const char *g = in->param_groups[0].name;
                int gi = -1;
                for (int x = 0; x < ng; x++)
                    if (!strcmp(groups_checked[x], g)) gi = x;
                if (gi < 0 && ng < 16) {
                    rds_parameter_list *pl = NULL;
                    aws_error_clear(&e);
                    bool on = false;
                    if (rds_describe_db_parameters(c, g, NULL, &pl, &e)) {
                        const rds_parameter *p = rds_parameter_find(pl, sd->required_param);
                        on = p && p->value && !strcmp(p->value, sd->required_value);
                    }
                    rds_parameter_list_free(pl);
                    fc_strlcpy(groups_checked[ng], g, sizeof groups_checked[ng]);
                    groups_ok[ng] = on;
                    gi = ng++;
                }
                if (gi >= 0 && !groups_ok[gi]) {
                    kind = "failed";
                    snprintf(verdict, sizeof verdict,
                             "%s is not %s in parameter group %.200s: needs parameter group change + reboot",
                             sd->required_param, sd->required_value, g);
                }
            }
        }
        if (!strcmp(kind, "ok")) {
            /* an RDS Proxy in front of the instance: how the strategy moves it */
            char px[300];
            size_t n = strlen(verdict);
            if (!source_proxies(c, in->identifier, false, px, sizeof px))
                snprintf(verdict + n, sizeof verdict - n, "; RDS Proxies in front of it not checked (%s)", px);
            else if (px[0] && sd->proxy_instance_note)
                snprintf(verdict + n, sizeof verdict - n, "; behind RDS Proxy %s: %s", px, sd->proxy_instance_note);
            else if (px[0])
                snprintf(verdict + n, sizeof verdict - n, "; behind RDS Proxy %s: %s does not switch proxies (switch "
                         "the proxy's target to the encrypted instance after the campaign)", px, o->strategy);
        }
        if (strcmp(kind, "ok")) failing += !strcmp(kind, "failed");
        printf("  %-40s %-8s %s\n", o->ids[k], kind, verdict);
    }
    return failing;
}

/* Instances already bound to another active campaign (read-only check; the
 * claim after validation is atomic and checks again). */
static int check_active(store *s, const sub_opts *o)
{
    for (int i = 0; i < o->nids; i++) {
        char member[160], owner[160];
        snprintf(member, sizeof member, "%s/%s", o->region, o->ids[i]);
        int held = store_active_owner(s, member, owner, sizeof owner);
        if (held < 0) return cli_err(CLI_FAIL, "redis unavailable");
        int rc = CLI_OK;
        if (held && strcmp(owner, o->campaign))
            rc = cli_err(CLI_USAGE, "instance %s is already in active campaign %s", o->ids[i], owner);
        if (rc) return rc;
    }
    return CLI_OK;
}

static int run(sub_opts *o, fc_config *cfg)
{
    store *s = cli_store(cfg);
    if (!s) return CLI_FAIL;
    int rc = CLI_FAIL;
    aws_session *sess = NULL, *tsess = NULL;
    aws_client *c = NULL;
    kms_key *key = NULL;
    aws_identity *who = NULL;
    rds_quota_list *q = NULL;
    fleet_view fv = {0};
    char **members = NULL;
    char *spec = NULL;
    char quota_seen[RL_QUOTA_SEEN_CAP] = "";
    int64_t quota_at = 0;

    int exists = store_campaign_exists(s, o->campaign);
    if (exists < 0) {
        rc = cli_err(CLI_FAIL, "redis unavailable");
        goto cleanup;
    }
    if (exists) {
        rc = cli_err(CLI_USAGE, "campaign %s already exists", o->campaign);
        goto cleanup;
    }
    const strategy_def *sd = strategy_find(o->strategy);
    char account[32] = "";
    const char *key_arn = o->kms_key;
    if (!sd->uses_aws) {
        /* a strategy that touches nothing in AWS (noop) is submitted without asking AWS */
        if (o->have_select) {
            rc = cli_err(CLI_USAGE, "--select asks AWS, and strategy %s makes no AWS call: list the instances", sd->name);
            goto cleanup;
        }
        if ((rc = check_active(s, o)) != CLI_OK) goto cleanup;
        goto checked;
    }
    sess = cli_aws(o->region);
    if (!sess) {
        rc = CLI_FAIL;
        goto cleanup;
    }
    c = aws_session_client(sess);
    aws_error e;
    aws_error_clear(&e);
    rc = CLI_FAIL;
    /* across accounts the key is the target account's: asked there, through
     * the role the workers will assume (which proves it can be assumed) */
    const char *xrole = extra_str(o, "target-account-role");
    if (*xrole && !(tsess = cli_aws_as(o->region, xrole, extra_str(o, "target-external-id")))) goto cleanup;
    if (!kms_describe_key(tsess ? aws_session_client(tsess) : c, o->kms_key, &key, &e)) {
        if (e.kind == AWS_ERR_NOT_FOUND)
            rc = cli_err(CLI_USAGE, "kms key %s not found", o->kms_key);
        else
            rc = cli_err(e.kind == AWS_ERR_PERMANENT ? CLI_USAGE : CLI_FAIL, "kms key %s%s: %s: %s", o->kms_key,
                         tsess ? " (asked in the target account through --target-account-role)" : "", e.code,
                         e.message);
        goto cleanup;
    }
    if (!key->enabled || strcmp(key->key_state, "Enabled")) {
        rc = cli_err(CLI_USAGE, "kms key %s is not enabled (state %s)", o->kms_key, key->key_state);
        goto cleanup;
    }
    key_arn = key->arn;
    /* the selector after the key: encrypted=not-campaign-key compares with it */
    if (o->have_select && (rc = resolve_selector(c, o, key_arn)) != CLI_OK) goto cleanup;
    if ((rc = fleet_load(c, o, &fv)) != CLI_OK || (rc = fold_members(o, &fv)) != CLI_OK) goto cleanup;
    if ((rc = check_active(s, o)) != CLI_OK) goto cleanup;
    rc = CLI_FAIL;
    aws_error_clear(&e);
    if (sts_get_caller_identity(c, &who, &e)) fc_strlcpy(account, who->account, sizeof account);
    else {
        /* the key ARN carries the account too: arn:aws:kms:REGION:ACCOUNT:key/ID */
        const char *p = key->arn;
        for (int n = 0; n < 4 && p; n++) p = strchr(p + 1, ':');
        if (p) {
            size_t l = strcspn(p + 1, ":");
            if (l < sizeof account) {
                memcpy(account, p + 1, l);
                account[l] = 0;
            }
        }
    }
    aws_error_clear(&e);
    quota_at = fc_now_ms();
    if (!rds_describe_account_attributes(c, &q, &e)) {
        rc = cli_err(CLI_FAIL, "DescribeAccountAttributes: %s: %s", e.code, e.message);
        goto cleanup;
    }
    const rds_quota *qi = rds_quota_find(q, "DBInstances"), *qs = rds_quota_find(q, "ManualSnapshots");
    const rds_quota *qc = rds_quota_find(q, "DBClusters");
    /* handed to the coordinator's first admission (it would ask again a moment later) */
    rl_quota_seen seen = {.at_ms = quota_at, .inst_max = qi ? (int)qi->max : -1, .inst_used = qi ? (int)qi->used : 0,
                          .snap_max = qs ? (int)qs->max : -1, .snap_used = qs ? (int)qs->used : 0,
                          .clu_max = qc ? (int)qc->max : -1, .clu_used = qc ? (int)qc->used : 0};
    rl_quota_seen_format(&seen, quota_seen, sizeof quota_seen);
    char why[512];
    int inst_cost = 0, clu_cost = 0;
    fleet_cost(&fv, o, sd, &inst_cost, &clu_cost);
    if (!rl_submit_quota_ok(qi ? (int)qi->max : -1, qi ? (int)qi->used : 0, inst_cost,
                            qs ? (int)qs->max : -1, qs ? (int)qs->used : 0, sd->quota_snapshots, why, sizeof why)) {
        rc = cli_err(CLI_USAGE, "%s", why);
        goto cleanup;
    }
    if (qc && qc->max >= 0 && (int)qc->used + clu_cost > (int)qc->max) {
        rc = cli_err(CLI_USAGE, "DB cluster quota too low: %d clusters in use + %d encrypted targets = %d needed "
                     "(each retired source cluster is kept), quota is %d", (int)qc->used, clu_cost,
                     (int)qc->used + clu_cost, (int)qc->max);
        goto cleanup;
    }

checked:
    printf("campaign %s: %d instance(s), strategy %s, max-parallel %d, region %s, key %s\n", o->campaign, o->nids,
           o->strategy, o->max_parallel, o->region, key_arn);
    printf("  %s\n", sd->downtime_note);
    if (c) {
        /* whose credentials act, and in which account: the operator checks the profile before saying yes */
        if (who) printf("  as %s (account %s)\n", who->arn, who->account);
        else printf("  as an unknown caller (GetCallerIdentity failed) in account %s\n", account[0] ? account : "unknown");
    }
    if (o->dry_run) {
        printf("preflight (AWS-level) verdicts:\n");
        int failing = c ? dry_run_verdicts(c, sd, o, key_arn, &fv) : 0;
        if (!c)
            for (int x = 0; x < o->nids; x++) printf("  %-40s %-8s %s\n", o->ids[x], "ok", sd->dry_run_note);
        printf("dry run: nothing enqueued (%d of %d would fail preflight)\n", failing, o->nids);
        /* a script or CI job gates on the exit code: 3 when any would fail */
        rc = failing > 0 ? cli_err(CLI_DRY_RUN_FAILED, "dry run: %d of %d instance(s) would fail preflight", failing,
                                   o->nids)
                         : CLI_OK;
        goto cleanup;
    }
    if (!o->yes && !isatty(0) && sd->uses_aws) {
        /* a script says so explicitly: the campaign stops or changes databases */
        rc = cli_err(CLI_USAGE, "confirmation: stdin is not a terminal; pass --yes to enqueue campaign %s "
                     "(strategy %s changes %d database(s))", o->campaign, sd->name, o->nids);
        goto cleanup;
    }
    if (!o->yes && isatty(0)) {
        printf("Proceed? [y/N] ");
        fflush(stdout);
        char ans[16] = "";
        if (!fgets(ans, sizeof ans, stdin) || (ans[0] != 'y' && ans[0] != 'Y')) {
            printf("aborted: nothing enqueued\n");
            rc = CLI_FAIL;
            goto cleanup;
        }
    }

    members = calloc((size_t)o->nids, sizeof *members);
    if (!members) goto cleanup;
    for (int i = 0; i < o->nids; i++) {
        size_t l = strlen(o->region) + strlen(o->ids[i]) + 2;
        members[i] = malloc(l);
        if (!members[i]) goto cleanup;
        snprintf(members[i], l, "%s/%s", o->region, o->ids[i]);
    }
    char cm[128], cc[64];
    int cl = store_active_claim(s, o->campaign, (const char *const *)members, o->nids, cm, sizeof cm, cc, sizeof cc);
    if (cl == 0) {
        rc = cli_err(CLI_USAGE, "instance %s is already in active campaign %s", cm, cc);
        goto cleanup;
    }
    if (cl < 0) {
        rc = cli_err(CLI_FAIL, "redis unavailable");
        goto cleanup;
    }
    json_object_set_new(o->extra, "keep_snapshots", json_boolean(o->keep_snapshots));
    spec = json_dumps(o->extra, JSON_COMPACT | JSON_SORT_KEYS);
    char mp[16], n[16];
    snprintf(mp, sizeof mp, "%d", o->max_parallel);
    snprintf(n, sizeof n, "%d", o->nids);
    const char *fields[] = {"id", o->campaign, "state", "running", "strategy", o->strategy, "kms_key", o->kms_key,
                            "kms_key_arn", key_arn, "region", o->region, "account", account, "max_parallel", mp,
                            "keep_snapshots", o->keep_snapshots ? "1" : "0", "instances", n, "spec",
                            spec ? spec : "{}", "kms_key_manager", key ? key->key_manager : "",
                            "quota_seen", quota_seen};
    int cr = store_campaign_create(s, o->campaign, fields, (int)(sizeof fields / sizeof fields[0] / 2),
                                   (const char *const *)o->ids, o->nids, fc_now_ms());
    if (cr != 1) {
        store_active_release(s, o->campaign, (const char *const *)members, o->nids);
        rc = cr == 0 ? cli_err(CLI_USAGE, "campaign %s already exists", o->campaign)
                     : cli_err(CLI_FAIL, "campaign not created (redis error)");
        goto cleanup;
    }
    printf("submitted campaign %s: %d instance(s)\n", o->campaign, o->nids);
    rc = CLI_OK;
cleanup:
    if (members)
        for (int i = 0; i < o->nids; i++) free(members[i]);
    free(members);
    free(spec);
    rds_quota_list_free(q);
    rds_instance_list_free(fv.inst);
    rds_cluster_list_free(fv.clu);
    aws_identity_free(who);
    kms_key_free(key);
    aws_session_free(tsess);
    aws_session_free(sess);
    store_close(s);
    return rc;
}

static void init_opts(sub_opts *o, const fc_config *cfg)
{
    memset(o, 0, sizeof *o);
    fc_strlcpy(o->strategy, strategy_default()->name, sizeof o->strategy);
    fc_strlcpy(o->region, cfg->region, sizeof o->region);
    o->max_parallel = 5;
    o->extra = json_object();
}

/* submit's checks of its arguments and campaign file alone, before any Redis
 * or AWS call (for unit tests and fuzz targets): CLI_OK or CLI_USAGE. On
 * CLI_OK, the campaign id and the instances named, joined by '\n'. */
UNITTEST int submit_check_args(fc_config *cfg, int argc, char **argv, char *campaign, size_t ccap,
                               char *ids, size_t icap, int *nids)
{
    sub_opts o;
    init_opts(&o, cfg);
    int rc = parse(&o, cfg, argc, argv);
    fc_strlcpy(campaign, o.campaign, ccap);
    *nids = o.nids;
    size_t used = 0;
    if (icap) ids[0] = 0;
    for (int i = 0; i < o.nids && used < icap; i++) {
        int w = snprintf(ids + used, icap - used, "%s%s", i ? "\n" : "", o.ids[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    free_opts(&o);
    return rc;
}

int cli_submit(fc_config *cfg, int argc, char **argv)
{
    sub_opts o;
    init_opts(&o, cfg);
    int rc = parse(&o, cfg, argc, argv);
    /* no hard-coded region: --region, AWS_REGION, AWS_DEFAULT_REGION, the campaign file, the profile's */
    if (rc == CLI_OK && !o.region[0] && !cli_region(cfg, o.region, sizeof o.region))
        rc = cli_err(CLI_USAGE, "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), the profile's region, or "
                     "--region");
    if (rc == CLI_OK) rc = run(&o, cfg);
    free_opts(&o);
    return rc;
}
