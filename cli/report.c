/* report — `fleetcrypt report [CAMPAIGN | --select SEL] [-o json|table|csv|html] [-o FILE]`:
 * the evidence an auditor asks for. One row per instance of the campaign (or
 * of every campaign) from the instance records and their facts (Redis), and
 * one paginated DescribeDBInstances per region to confirm the encryption
 * state now: the serving identifier (after) and the retired source (before).
 * With --select (the selector of `submit --select`, common.c): one row per
 * instance of the region that matches, those no campaign holds as "not
 * migrated by fleetcrypt" with their state now.
 * Rendering is view_report.c. Also holds the helpers retire.c shares
 * (record fields, retention, the AWS client). */
#include "cli.h"
#include "kms.h"
#include "rds.h"
#include "step.h"
#include "store_model.h"
#include "util.h"
#include "view_report.h"

#include <jansson.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPORT_MAX_BYTES (256u << 20)
#define REPORT_MAX_REGIONS 8

const char *cli_kv(const store_kv *h, const char *name) { return kv_str(h, name); }

int cli_retention_days(const store_kv *campaign_hash)
{
    const char *v = cli_kv(campaign_hash, "retention_days");
    long d = *v ? strtol(v, NULL, 10) : -1;
    if (d < 0) {
        json_t *spec = json_loads(cli_kv(campaign_hash, "spec"), 0, NULL);
        json_t *j = spec ? json_object_get(spec, "retention_days") : NULL;
        if (json_is_integer(j)) d = (long)json_integer_value(j);
        json_decref(spec);
    }
    return d < 0 || d > 36500 ? 30 : (int)d;
}

bool cli_region(const fc_config *cfg, char *out, size_t cap)
{
    if (cfg->region[0]) return fc_strlcpy(out, cfg->region, cap);
    return aws_profile_region(out, cap);
}

aws_session *cli_aws(const char *region) { return cli_aws_as(region, NULL, NULL); }

aws_session *cli_aws_as(const char *region, const char *role_arn, const char *external_id)
{
    aws_session_opts so;
    memset(&so, 0, sizeof so);
    so.client.region = region && *region ? region : NULL;
    so.creds.role_arn = role_arn && *role_arn ? role_arn : NULL;
    so.creds.external_id = external_id && *external_id ? external_id : NULL;
    /* An operator's one-shot command (submit scans the whole fleet, page by
     * page) has no step retry behind it: retry throttling and 5xx longer
     * than the SDKs' 3 attempts before giving up, unless AWS_MAX_ATTEMPTS or
     * the profile's max_attempts says otherwise (read as the SDKs do). */
    int n = 0;
    char mode[16];
    aws_error re;
    if (!aws_retry_settings(NULL, &n, mode, sizeof mode, &re)) {
        cli_err(CLI_FAIL, "%s: %s", re.code, re.message);
        return NULL;
    }
    so.client.retry.max_attempts = n > 0 ? n : CLI_AWS_MAX_ATTEMPTS;
    aws_error e;
    aws_session *sess = aws_session_new(&so, &e);
    if (!sess) cli_err(CLI_FAIL, "AWS client: %s: %s", e.code, e.message);
    return sess;
}

bool cli_has_tag(const rds_instance *i, const char *k, const char *v)
{
    for (size_t n = 0; n < i->n_tags; n++)
        if (!strcmp(i->tags[n].key, k) && (!v || !strcmp(i->tags[n].value, v))) return true;
    return false;
}

const rds_instance *cli_find_retired(const rds_instance_list *l, const char *campaign, const char *instance)
{
    for (size_t n = 0; l && n < l->n; n++)
        if (cli_has_tag(&l->v[n], "fleetcrypt:role", "retired-source") &&
            cli_has_tag(&l->v[n], "fleetcrypt:original-id", instance) &&
            cli_has_tag(&l->v[n], "fleetcrypt:campaign", campaign) &&
            !cli_has_tag(&l->v[n], "fleetcrypt:replica-of", NULL)) /* a retired former read replica */
            return &l->v[n];
    return NULL;
}

static const rds_instance *find_id(const rds_instance_list *l, const char *id)
{
    for (size_t n = 0; l && id && *id && n < l->n; n++)
        if (!strcmp(l->v[n].identifier, id)) return &l->v[n];
    return NULL;
}

typedef struct region_cache {
    char region[32];
    rds_instance_list *list;
    bool failed;
} region_cache;

/* A KMS key's manager (AWS or CUSTOMER; "" unknown): from the facts the
 * steps recorded (f.source_kms/f.source_key_manager, the campaign's
 * kms_key_arn/kms_key_manager), else one DescribeKey per distinct key. */
typedef struct key_kind {
    char key[256];
    char manager[16];
} key_kind;
#define REPORT_MAX_KEYS 256

typedef struct rep {
    report_row *rows;
    report_table **tables; /* per row, owned */
    report_dms_table **dms; /* per row, owned */
    size_t n, cap;
    region_cache regions[REPORT_MAX_REGIONS];
    size_t nregions;
    bool aws_failed;
    key_kind keys[REPORT_MAX_KEYS];
    size_t nkeys;
} rep;

static key_kind *key_find(rep *r, const char *key)
{
    for (size_t i = 0; i < r->nkeys; i++)
        if (!strcmp(r->keys[i].key, key)) return &r->keys[i];
    return NULL;
}

/* Remember what a fact says of key (nothing when either is empty). */
static void key_seed(rep *r, const char *key, const char *manager)
{
    if (!*key || !*manager || strlen(key) >= sizeof r->keys[0].key || key_find(r, key) || r->nkeys == REPORT_MAX_KEYS)
        return;
    fc_strlcpy(r->keys[r->nkeys].key, key, sizeof r->keys[0].key);
    fc_strlcpy(r->keys[r->nkeys].manager, manager, sizeof r->keys[0].manager);
    r->nkeys++;
}

/* The manager of key, asking KMS (in the key's region: arn:aws:kms:REGION:…)
 * once per key; "" when KMS does not answer (the type is then "kms"). */
static const char *key_manager(rep *r, const char *key)
{
    key_kind *k = key_find(r, key);
    if (k) return k->manager;
    if (r->nkeys == REPORT_MAX_KEYS || strlen(key) >= sizeof r->keys[0].key) return "";
    k = &r->keys[r->nkeys++];
    fc_strlcpy(k->key, key, sizeof k->key);
    k->manager[0] = 0;
    char region[32] = "";
    if (!strncmp(key, "arn:", 4)) {
        const char *p = key;
        for (int n = 0; n < 3 && p; n++) p = strchr(p + 1, ':');
        if (p) {
            size_t l = strcspn(p + 1, ":");
            if (l < sizeof region) {
                memcpy(region, p + 1, l);
                region[l] = 0;
            }
        }
    }
    aws_session *sess = cli_aws(region);
    if (!sess) return k->manager;
    kms_key *d = NULL;
    aws_error e;
    aws_error_clear(&e);
    if (kms_describe_key(aws_session_client(sess), key, &d, &e)) fc_strlcpy(k->manager, d->key_manager, sizeof k->manager);
    else fprintf(stderr, "fleetcrypt: report: DescribeKey %s: %s (encryption type shown as kms)\n", key, e.code);
    kms_key_free(d);
    aws_session_free(sess);
    return k->manager;
}

/* Every row's encryption types, once the rows are in. */
static void fill_types(rep *r)
{
    for (size_t i = 0; i < r->n; i++) {
        report_row *row = &r->rows[i];
        if (!row->unmanaged) {
            /* encrypted without a key ARN: an AWS owned key (sse-rds) */
            fc_strlcpy(row->enc_before,
                       kms_encryption_type(row->encrypted_before, !row->encrypted_before ? ""
                                                                  : *row->key_before ? key_manager(r, row->key_before)
                                                                                     : "AWS_OWNED"),
                       sizeof row->enc_before);
            fc_strlcpy(row->enc_after,
                       kms_encryption_type(row->encrypted_after, row->encrypted_after ? key_manager(r, row->key_after) : ""),
                       sizeof row->enc_after);
        }
        if (row->now_known)
            fc_strlcpy(row->enc_now, kms_encryption_type(row->encrypted_now, row->encrypted_now ? key_manager(r, row->key_now) : ""),
                       sizeof row->enc_now);
    }
}

/* One paginated DescribeDBInstances per region, on first use. */
static const rds_instance_list *fleet(rep *r, const char *region)
{
    for (size_t i = 0; i < r->nregions; i++)
        if (!strcmp(r->regions[i].region, region)) return r->regions[i].list;
    if (r->nregions == REPORT_MAX_REGIONS) return NULL;
    region_cache *rc = &r->regions[r->nregions++];
    fc_strlcpy(rc->region, region, sizeof rc->region);
    aws_session *sess = cli_aws(region);
    if (!sess) {
        rc->failed = r->aws_failed = true;
        return NULL;
    }
    aws_client *c = aws_session_client(sess);
    rds_describe_opts o;
    memset(&o, 0, sizeof o);
    aws_error e;
    aws_error_clear(&e);
    if (!rds_describe_db_instances_all(c, &o, &rc->list, &e)) {
        cli_err(CLI_FAIL, "DescribeDBInstances (%s): %s: %.200s", region, e.code, e.message);
        rc->failed = r->aws_failed = true;
        rc->list = NULL;
    }
    aws_session_free(sess);
    return rc->list;
}

static report_row *new_row(rep *r)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        report_row *nr = realloc(r->rows, nc * sizeof *nr);
        if (!nr) return NULL;
        r->rows = nr;
        report_table **nt = realloc(r->tables, nc * sizeof *nt);
        if (!nt) return NULL;
        r->tables = nt;
        report_dms_table **nd = realloc(r->dms, nc * sizeof *nd);
        if (!nd) return NULL;
        r->dms = nd;
        r->cap = nc;
    }
    report_row *row = &r->rows[r->n];
    memset(row, 0, sizeof *row);
    r->tables[r->n] = NULL;
    r->dms[r->n] = NULL;
    r->n++;
    row->downtime_s = -1;
    row->rb_lag_bytes = -1;
    row->rows_verified = -1;
    row->dms_apply_exceptions = row->dms_val_tables = row->dms_val_validated = row->dms_val_failures = -1;
    return row;
}

static void fmt_ms(const char *v, char *out, size_t cap)
{
    long long ms = *v ? strtoll(v, NULL, 10) : 0;
    if (ms > 0) cli_fmt_time(ms, out, cap);
    else out[0] = 0;
}

/* The next line of a multi-line fact into line (cut to cap); *p moves past
 * it. False at the end. */
static bool next_line(const char **p, char *line, size_t cap)
{
    if (!**p) return false;
    const char *nl = strchr(*p, '\n');
    size_t len = nl ? (size_t)(nl - *p) : strlen(*p);
    size_t keep = len < cap ? len : cap - 1;
    memcpy(line, *p, keep);
    line[keep] = 0;
    *p += nl ? len + 1 : len;
    return true;
}

/* Per-table checksums when the facts carry them: f.verify_sums, one
 * "table\trows\tchecksum" per line. */
static void parse_sums(rep *r, report_row *row, const char *sums)
{
    if (!*sums) return;
    size_t lines = 1;
    for (const char *p = sums; *p; p++) lines += *p == '\n';
    report_table *t = calloc(lines, sizeof *t);
    if (!t) return;
    size_t n = 0;
    const char *p = sums;
    char line[512];
    while (n < lines && next_line(&p, line, sizeof line)) {
        char *a = strchr(line, '\t'), *b = a ? strchr(a + 1, '\t') : NULL;
        if (a && b) {
            *a = *b = 0;
            fc_strlcpy(t[n].name, line, sizeof t[n].name);
            t[n].rows = strtoll(a + 1, NULL, 10);
            fc_strlcpy(t[n].checksum, b + 1, sizeof t[n].checksum);
            n++;
        }
    }
    r->tables[row - r->rows] = t;
    row->tables = t;
    row->ntables = n;
    row->tables_verified = (int)n;
}

/* DMS's per-table statistics: f.dms_table_stats, one
 * "db/schema.table\tinserts\tupdates\tdeletes\tvalidation[\tddls\tfull-load rows]"
 * per line, and a last "+N\tmore" line when the worker capped it. */
static void parse_dms_tables(rep *r, report_row *row, const char *stats)
{
    if (!*stats) return;
    size_t lines = 1;
    for (const char *p = stats; *p; p++) lines += *p == '\n';
    report_dms_table *t = calloc(lines, sizeof *t);
    if (!t) return;
    size_t n = 0;
    const char *p = stats;
    char line[512];
    while (n < lines && next_line(&p, line, sizeof line)) {
        char *col[7] = {0};
        int nc = 0;
        char *save = NULL;
        for (char *q = strtok_r(line, "\t", &save); q && nc < 7; q = strtok_r(NULL, "\t", &save)) col[nc++] = q;
        if (nc == 2 && col[0][0] == '+' && !strcmp(col[1], "more")) {
            row->dms_tables_more = strtoll(col[0] + 1, NULL, 10);
            continue;
        }
        if (nc < 5) continue;
        report_dms_table *d = &t[n++];
        fc_strlcpy(d->name, col[0], sizeof d->name);
        d->inserts = strtoll(col[1], NULL, 10);
        d->updates = strtoll(col[2], NULL, 10);
        d->deletes = strtoll(col[3], NULL, 10);
        fc_strlcpy(d->validation, col[4], sizeof d->validation);
        d->ddls = nc > 5 ? strtoll(col[5], NULL, 10) : -1;
        d->full_load_rows = nc > 6 ? strtoll(col[6], NULL, 10) : -1;
    }
    r->dms[row - r->rows] = t;
    row->dms_tables = t;
    row->ndms_tables = n;
}

/* The instance as DescribeDBInstances shows it now. */
static void fill_now(report_row *row, const rds_instance *i)
{
    fc_strlcpy(row->engine, i->engine, sizeof row->engine);
    row->now_known = true;
    row->encrypted_now = i->storage_encrypted;
    fc_strlcpy(row->key_now, i->storage_encrypted ? i->kms_key_id : "", sizeof row->key_now);
}

static void fill_row(rep *r, report_row *row, const char *campaign, const store_kv *camp, const store_kv *rec,
                     const char *id, int retention_days)
{
    fc_strlcpy(row->instance, id, sizeof row->instance);
    fc_strlcpy(row->campaign, campaign, sizeof row->campaign);
    fc_strlcpy(row->state, cli_kv(rec, "state"), sizeof row->state);
    bool cluster = !strcmp(cli_kv(rec, "f.kind"), "cluster");
    fc_strlcpy(row->kind, cluster ? "cluster" : "instance", sizeof row->kind);
    if (cluster) {
        /* one unit: its members (f.members lines, the writer first) */
        const char *m = cli_kv(rec, "f.members");
        size_t n = 0;
        while (*m && n + 1 < sizeof row->members) {
            size_t l = strcspn(m, "\t\n");
            n += (size_t)snprintf(row->members + n, sizeof row->members - n, "%s%.*s", n ? "," : "", (int)l, m);
            m += strcspn(m, "\n");
            if (*m) m++;
        }
    }
    fc_strlcpy(row->strategy, cli_kv(camp, "strategy"), sizeof row->strategy);
    fc_strlcpy(row->error, cli_kv(rec, "error"), sizeof row->error);
    bool done = !strcmp(row->state, "done");

    const char *cut = cli_kv(rec, "f.switched_at");
    fmt_ms(*cut ? cut : cli_kv(rec, "f.renamed_at"), row->cutover_at, sizeof row->cutover_at);
    fc_strlcpy(row->rb_state, cli_kv(rec, "f.rb_state"), sizeof row->rb_state);
    if (*row->rb_state) {
        fmt_ms(cli_kv(rec, "f.rb_until_ms"), row->rb_until, sizeof row->rb_until);
        if (*cli_kv(rec, "f.rb_lag_bytes")) row->rb_lag_bytes = strtoll(cli_kv(rec, "f.rb_lag_bytes"), NULL, 10);
    }
    const char *dt = cli_kv(rec, "downtime_s");
    if (*dt) row->downtime_s = strtod(dt, NULL);
    else if (*cli_kv(rec, "f.downtime_ms")) row->downtime_s = strtod(cli_kv(rec, "f.downtime_ms"), NULL) / 1000.0;
    const char *rv = cli_kv(rec, "rows_verified");
    if (!*rv) rv = cli_kv(rec, "f.rows_verified");
    if (*rv) row->rows_verified = strtoll(rv, NULL, 10);
    parse_sums(r, row, cli_kv(rec, "f.verify_sums"));
    const char *mism = cli_kv(rec, "f.verify_tables");
    if (!*row->error && !strcmp(cli_kv(rec, "f.verify_incomplete"), "1"))
        snprintf(row->error, sizeof row->error,
                 "verification incomplete: the snapshot of the switch was lost in a restart; differing from the "
                 "live target (may be writes since the switch): %.100s", mism);
    else if (!*row->error && *mism) snprintf(row->error, sizeof row->error, "verify mismatches: %.200s", mism);
    /* an instance replicated through AWS DMS (fact dms_task_arn.1): DMS's
     * validation, apply exceptions and per-table statistics (docs/dms.md, facts) */
    if (*cli_kv(rec, "f.dms_task_arn.1")) {
        row->has_dms = true;
        const char *ae = cli_kv(rec, "f.apply_exceptions");
        if (*ae) row->dms_apply_exceptions = strtoll(ae, NULL, 10);
        if (!strcmp(cli_kv(rec, "f.dms_validation_done"), "1")) {
            row->dms_val_tables = strtoll(cli_kv(rec, "f.dms_validation_tables"), NULL, 10);
            row->dms_val_validated = strtoll(cli_kv(rec, "f.dms_validation_validated"), NULL, 10);
            row->dms_val_failures = strtoll(cli_kv(rec, "f.dms_validation_failures"), NULL, 10);
            fc_strlcpy(row->dms_val_mismatched, cli_kv(rec, "f.dms_validation_mismatched"),
                       sizeof row->dms_val_mismatched);
            fc_strlcpy(row->dms_val_error, cli_kv(rec, "f.dms_validation_error"), sizeof row->dms_val_error);
        }
        parse_dms_tables(r, row, cli_kv(rec, "f.dms_table_stats"));
    }
    long dropped = strtol(cli_kv(rec, "f.verify_sums_dropped"), NULL, 10);
    if (!*row->error && dropped > 0)
        snprintf(row->error, sizeof row->error, "checksums of %ld more table(s) not recorded (fact size cap)",
                 dropped);

    /* AWS now: the serving identifier and the retired source */
    /* (a cluster is not in DescribeDBInstances: its facts say before and after) */
    const rds_instance_list *l = cluster ? NULL : fleet(r, cli_kv(camp, "region"));
    /* moved into another account: the encrypted instance is not in this
     * account's DescribeDBInstances (its facts say what it is) */
    bool moved = *cli_kv(rec, "f.target_account") != 0;
    fc_strlcpy(row->target_account, cli_kv(rec, "f.target_account"), sizeof row->target_account);
    const rds_instance *cur = moved && done ? NULL : find_id(l, id);
    const rds_instance *ret = cli_find_retired(l, campaign, id);
    if (!ret) ret = find_id(l, cli_kv(rec, "f.retired_id"));
    const char *retired_id = ret ? ret->identifier : cli_kv(rec, "retired_source");
    if (!*retired_id) retired_id = cli_kv(rec, "f.retired_id");
    fc_strlcpy(row->retired_source, retired_id, sizeof row->retired_source);

    key_seed(r, cli_kv(rec, "f.source_kms"), cli_kv(rec, "f.source_key_manager"));
    key_seed(r, cli_kv(camp, "kms_key_arn"), cli_kv(camp, "kms_key_manager"));
    /* before: what preflight saw (f.source_encrypted / f.source_kms), else
     * the retired source if it is still there, else the instance itself */
    const rds_instance *src = ret ? ret : (done ? NULL : cur);
    const char *fenc = cli_kv(rec, "f.source_encrypted");
    if (*fenc) {
        row->encrypted_before = !strcmp(fenc, "1");
        if (row->encrypted_before) fc_strlcpy(row->key_before, cli_kv(rec, "f.source_kms"), sizeof row->key_before);
    } else if (src) {
        row->encrypted_before = src->storage_encrypted;
        if (src->storage_encrypted) fc_strlcpy(row->key_before, src->kms_key_id, sizeof row->key_before);
    } else if (*cli_kv(rec, "f.source_kms")) {
        row->encrypted_before = true;
        fc_strlcpy(row->key_before, cli_kv(rec, "f.source_kms"), sizeof row->key_before);
    }
    /* after: the campaign's key for done instances, confirmed by AWS when it answers */
    if (done) {
        row->encrypted_after = true;
        const char *k = cli_kv(rec, "f.target_kms");
        fc_strlcpy(row->key_after, *k ? k : cli_kv(camp, "kms_key_arn"), sizeof row->key_after);
    } else if (cur) {
        row->encrypted_after = cur->storage_encrypted;
        if (cur->storage_encrypted) fc_strlcpy(row->key_after, cur->kms_key_id, sizeof row->key_after);
    } else {
        row->encrypted_after = row->encrypted_before;
        fc_strlcpy(row->key_after, row->key_before, sizeof row->key_after);
    }
    if (done && l && cur) {
        row->encrypted_after = cur->storage_encrypted;
        if (!cur->storage_encrypted || strcmp(cur->kms_key_id, row->key_after)) {
            char note[256];
            snprintf(note, sizeof note, "AWS reports %s %.180s now", cur->storage_encrypted ? "key" : "unencrypted",
                     cur->storage_encrypted ? cur->kms_key_id : "");
            fc_strlcpy(row->error, note, sizeof row->error);
            if (cur->storage_encrypted) fc_strlcpy(row->key_after, cur->kms_key_id, sizeof row->key_after);
        }
    } else if (done && l && !cur && !moved) {
        fc_strlcpy(row->error, "not found in DescribeDBInstances", sizeof row->error);
        row->encrypted_after = false;
    }

    long long fin = strtoll(cli_kv(rec, "finished_ms"), NULL, 10);
    if (*row->retired_source && fin > 0)
        cli_fmt_time(fin + (long long)retention_days * 86400000LL, row->retain_until, sizeof row->retain_until);
    const char *rat = cli_kv(rec, "retired_at");
    if (*rat && !*row->error) {
        char t[40];
        fmt_ms(rat, t, sizeof t);
        snprintf(row->error, sizeof row->error, "source deleted %s, final snapshot %.150s", t,
                 cli_kv(rec, "final_snapshot"));
    }
    if (cur) fill_now(row, cur);
}

static int add_campaign(store *s, rep *r, const char *campaign, bool must_exist)
{
    store_kv camp;
    if (!store_campaign_read(s, campaign, NULL, 0, &camp)) return cli_err(CLI_FAIL, "redis unavailable");
    if (camp.n == 0) {
        store_kv_free(&camp);
        return must_exist ? cli_err(CLI_USAGE, "campaign: no such campaign %s", campaign) : CLI_OK;
    }
    int days = cli_retention_days(&camp);
    sargs ids;
    sargs_init(&ids);
    store_instances(s, campaign, &ids);
    int rc = CLI_OK;
    for (int i = 0; i < ids.n && rc == CLI_OK; i++) {
        const char *id = ids.v[i];
        store_kv rec;
        bool got = store_record_read(s, campaign, id, NULL, 0, &rec);
        report_row *row = got ? new_row(r) : NULL;
        if (!row) rc = cli_err(CLI_FAIL, got ? "out of memory" : "redis unavailable");
        else fill_row(r, row, campaign, &camp, &rec, id, days);
        store_kv_free(&rec);
    }
    sargs_free(&ids);
    store_kv_free(&camp);
    return rc;
}

/* ---- report --select: every instance in scope, migrated or not ---- */
#define LOOKUP_BATCH 500

/* The campaign that accounts for row i so far: its record's state decides
 * whether a later campaign replaces it (a done one wins, else the latest). */
typedef struct scope_item {
    bool found, done;
} scope_item;

/* Rows for the instances of region matching sel: first "not migrated"
 * from DescribeDBInstances alone, then one report_lookup.lua call per
 * campaign and batch of LOOKUP_BATCH ids (1 + campaigns × batches round
 * trips, never one per instance) turns those a campaign holds into that
 * campaign's row. A retired source is its own row, named as such. */
static int add_selected(store *s, rep *r, const cli_selector *sel, const char *region)
{
    const rds_instance_list *l = fleet(r, region);
    if (!l) return r->aws_failed ? CLI_FAIL : cli_err(CLI_FAIL, "too many regions");
    size_t first = r->n;
    for (size_t i = 0; i < l->n; i++) {
        const rds_instance *in = &l->v[i];
        if (!cli_selector_match(sel, in)) continue;
        report_row *row = new_row(r);
        if (!row) return cli_err(CLI_FAIL, "out of memory");
        fc_strlcpy(row->instance, in->identifier, sizeof row->instance);
        fill_now(row, in);
        if (cli_has_tag(in, "fleetcrypt:role", "retired-source")) {
            /* fleetcrypt's own artefact: the stopped original of a migrated instance */
            const char *orig = "", *camp = "";
            for (size_t t = 0; t < in->n_tags; t++) {
                if (!strcmp(in->tags[t].key, "fleetcrypt:original-id")) orig = in->tags[t].value;
                if (!strcmp(in->tags[t].key, "fleetcrypt:campaign")) camp = in->tags[t].value;
            }
            fc_strlcpy(row->campaign, camp, sizeof row->campaign);
            fc_strlcpy(row->state, "retired-source", sizeof row->state);
            row->encrypted_before = row->encrypted_after = in->storage_encrypted;
            fc_strlcpy(row->key_before, row->key_now, sizeof row->key_before);
            fc_strlcpy(row->key_after, row->key_now, sizeof row->key_after);
            snprintf(row->error, sizeof row->error, "retired source of %.63s (campaign %.47s)", orig, camp);
        } else {
            row->unmanaged = true;
            fc_strlcpy(row->state, "not-migrated", sizeof row->state);
            fc_strlcpy(row->error, REPORT_NOT_MIGRATED, sizeof row->error);
        }
    }
    size_t n = r->n - first;
    if (n == 0) return CLI_OK;
    scope_item *seen = calloc(n, sizeof *seen);
    size_t *idx = calloc(LOOKUP_BATCH, sizeof *idx);
    const char **ids = calloc(LOOKUP_BATCH, sizeof *ids);
    int rc = CLI_OK;
    sargs cs;
    sargs_init(&cs);
    if (!seen || !idx || !ids) rc = cli_err(CLI_FAIL, "out of memory");
    else if (!store_campaigns(s, false, 0, &cs)) rc = cli_err(CLI_FAIL, "redis unavailable");
    for (int c = 0; rc == CLI_OK && c < cs.n; c++) {
        const char *campaign = cs.v[c];
        for (size_t b = 0; rc == CLI_OK && b < n; b += LOOKUP_BATCH) {
            int nb = 0;
            for (size_t j = b; j < n && j < b + LOOKUP_BATCH; j++) {
                const report_row *row = &r->rows[first + j];
                if (!row->unmanaged && !seen[j].found) continue; /* retired sources: no record of their own */
                idx[nb] = j;
                ids[nb] = row->instance;
                nb++;
            }
            if (nb == 0) continue;
            store_lookup x;
            if (!store_report_lookup(s, campaign, ids, (size_t)nb, &x)) {
                rc = cli_err(CLI_FAIL, "redis unavailable");
                break;
            }
            const store_kv *camp = x.found ? &x.campaign : NULL;
            bool same_region = camp && !strcmp(cli_kv(camp, "region"), region);
            int days = camp ? cli_retention_days(camp) : 30;
            for (size_t e = 0; same_region && e < x.n; e++) {
                long long pos = x.v[e].pos;
                const store_kv *rec = &x.v[e].rec;
                if (pos < 1 || pos > nb || rec->n == 0) continue;
                size_t j = idx[pos - 1];
                bool done = !strcmp(cli_kv(rec, "state"), "done");
                if (seen[j].done && !done) continue; /* a done campaign accounts for it already */
                report_row *row = &r->rows[first + j];
                char id[sizeof row->instance];
                fc_strlcpy(id, row->instance, sizeof id);
                free(r->tables[first + j]);
                r->tables[first + j] = NULL;
                free(r->dms[first + j]);
                r->dms[first + j] = NULL;
                memset(row, 0, sizeof *row);
                row->downtime_s = -1;
                row->rows_verified = -1;
                row->dms_apply_exceptions = row->dms_val_tables = row->dms_val_validated = row->dms_val_failures = -1;
                fill_row(r, row, campaign, camp, rec, id, days);
                seen[j].found = true;
                seen[j].done = done;
            }
            store_lookup_free(&x);
        }
    }
    sargs_free(&cs);
    free(seen);
    free(idx);
    free(ids);
    return rc;
}

typedef struct report_args {
    const char *format, *output_format, *output, *select;
} report_args;

static bool is_format(const char *v)
{
    return !strcmp(v, "json") || !strcmp(v, "table") || !strcmp(v, "csv") || !strcmp(v, "html");
}

/* -o/--output takes a format (json|table|csv|html, as -o of status, top and
 * logs) or, as before, a FILE to write: a value with a '.' or '/' in it
 * (q4.html, ./out). Anything else is refused rather than guessed. */
static int report_opt(void *ud, int val, const char *arg)
{
    report_args *a = ud;
    if (val == 'f') a->format = arg;
    else if (val == 'o' && is_format(arg)) {
        if (a->output_format && strcmp(a->output_format, arg))
            return cli_err(CLI_USAGE, "output: given twice (%.20s, %.20s)", a->output_format, arg);
        a->output_format = arg;
    } else if (val == 'o' && (strchr(arg, '.') || strchr(arg, '/'))) a->output = arg;
    else if (val == 'o')
        return cli_err(CLI_USAGE, "output: '%.40s' is not json, table, csv or html, nor a file name with a '.' or "
                                  "'/' (write ./%.40s for a file of that name)", arg, arg);
    else if (val == 's') a->select = arg;
    return CLI_GO;
}

int cli_report(fc_config *cfg, int argc, char **argv)
{
    const char *campaign = NULL;
    report_args ra = {.format = NULL};
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"select", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    int first = argc;
    int rc0 = cli_args(cfg, argc, argv, opts, "o:", report_opt, &ra, &first);
    if (rc0 != CLI_GO) return rc0;
    if (ra.format && ra.output_format && strcmp(ra.format, ra.output_format))
        return cli_err(CLI_USAGE, "output: --format %.20s and --output %.20s disagree", ra.format, ra.output_format);
    const char *format = ra.output_format ? ra.output_format : ra.format ? ra.format : "json";
    const char *output = ra.output, *select = ra.select;
    for (int i = first; i < argc; i++) {
        if (!campaign) campaign = argv[i];
        else return cli_err(CLI_USAGE, "report: one campaign at a time");
    }
    if (!is_format(format)) return cli_err(CLI_USAGE, "format: '%.20s' is not json, table, csv or html", format);
    if (campaign && !fc_valid_campaign_id(campaign)) return cli_err(CLI_USAGE, "campaign: invalid id '%.60s'", campaign);
    if (output && !*output) return cli_err(CLI_USAGE, "output: empty file name");
    cli_selector sel;
    if (select && campaign) return cli_err(CLI_USAGE, "report: a CAMPAIGN or --select, not both");
    if (select && cli_selector_parse(select, &sel) != CLI_OK) return CLI_USAGE;
    if (select && sel.encrypted == 2)
        return cli_err(CLI_USAGE, "report --select: encrypted=not-campaign-key is for submit (a report has no campaign key)");
    store *s = cli_store(cfg);
    if (!s) return CLI_FAIL;
    rep r;
    memset(&r, 0, sizeof r);
    int rc = CLI_OK;
    char region[64];
    if (select && !cli_region(cfg, region, sizeof region)) {
        rc = cli_err(CLI_USAGE, "report --select: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), the "
                     "profile's region, or --region");
    } else if (select) {
        rc = add_selected(s, &r, &sel, region);
    } else if (campaign) {
        rc = add_campaign(s, &r, campaign, true);
    } else {
        sargs cs;
        sargs_init(&cs);
        if (!store_campaigns(s, false, 0, &cs)) rc = cli_err(CLI_FAIL, "redis unavailable");
        for (int i = 0; rc == CLI_OK && i < cs.n; i++) rc = add_campaign(s, &r, cs.v[i], false);
        sargs_free(&cs);
    }
    store_close(s);
    if (rc == CLI_OK && r.aws_failed) rc = CLI_FAIL;
    if (rc == CLI_OK) fill_types(&r);
    if (rc == CLI_OK) {
        report_meta m;
        memset(&m, 0, sizeof m);
        if (select) snprintf(m.title, sizeof m.title, "instances in %.20s selected by '%.60s'", region, select);
        else snprintf(m.title, sizeof m.title, "%s%.100s", campaign ? "campaign " : "all campaigns", campaign ? campaign : "");
        cli_fmt_time(fc_now_ms(), m.generated_at, sizeof m.generated_at);
        char host[64] = "";
        if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
        snprintf(m.generated_by, sizeof m.generated_by, "fleetcrypt report on %.60s", *host ? host : "unknown host");
        dbuf out;
        dbuf_init(&out, REPORT_MAX_BYTES);
        bool ok = !strcmp(format, "json")  ? report_render_json(&m, r.rows, r.n, &out)
                  : !strcmp(format, "csv") ? report_render_csv(&m, r.rows, r.n, &out)
                  : !strcmp(format, "table") ? report_render_table(&m, r.rows, r.n, &out)
                                           : report_render_html(&m, r.rows, r.n, &out);
        if (!ok) rc = cli_err(CLI_FAIL, "report too large");
        else if (output) {
            FILE *f = fopen(output, "w");
            if (!f) rc = cli_err(CLI_FAIL, "output: cannot write %s", output);
            else {
                bool w = fwrite(out.data, 1, out.len, f) == out.len;
                if (fclose(f) != 0 || !w) rc = cli_err(CLI_FAIL, "output: write to %s failed", output);
                else fprintf(stderr, "fleetcrypt: report of %zu instance(s) written to %s\n", r.n, output);
            }
        } else if (fwrite(out.data, 1, out.len, stdout) != out.len) rc = CLI_FAIL;
        dbuf_free(&out);
    }
    for (size_t i = 0; i < r.n; i++) {
        free(r.tables[i]);
        free(r.dms[i]);
    }
    free(r.rows);
    free(r.tables);
    free(r.dms);
    for (size_t i = 0; i < r.nregions; i++) rds_instance_list_free(r.regions[i].list);
    return rc;
}
