/* cfg — see cfg.h. The table below is the only place an environment
 * variable of fleetcrypt is named and read. */
#include "cfg.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum { T_STR, T_INT, T_I64, T_NUM, T_ENUM, T_KV, T_KVFILE } cfg_type;

#define NOFIELD ((size_t)-1)
#define W CFG_BIN_WORKER
#define C CFG_BIN_COORDINATOR
#define CLI CFG_BIN_CLI
#define K CFG_BIN_KAFKA_DEV

typedef struct cfg_row {
    cfg_id id;
    const char *env;
    const char *env2;          /* read when env is unset (AWS_DEFAULT_REGION) */
    cfg_type type;
    const char *dflt;          /* the default as text; NULL = unset */
    const char *dflt_doc;      /* how the default reads in help, when not dflt itself */
    double min, max;           /* T_INT, T_I64, T_NUM */
    const char *const *values; /* T_ENUM, NULL-terminated */
    bool word;                 /* T_STR: only [A-Za-z0-9._-], not empty */
    unsigned bins;             /* the binaries that read it */
    const char *flag;          /* command-line flag (without --) or NULL */
    const char *metavar;
    unsigned flag_bins;        /* the binaries that accept the flag */
    size_t off, cap;           /* field in fc_config, or NOFIELD (read through cfg_env_*) */
    const char *help;
} cfg_row;

#define FIELD(f) offsetof(fc_config, f), sizeof(((fc_config *)0)->f)

static const char *const sslmodes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL};
static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const formats[] = {"text", "json", NULL};

static const cfg_row rows[CFG__COUNT] = {
    {CFG_KAFKA_BROKERS, "FLEETCRYPT_KAFKA_BROKERS", NULL, T_STR, NULL, "(required)", 0, 0, NULL, false, W | C,
     "kafka-brokers", "HOST:PORT,...", W | C, FIELD(kafka_brokers), "Kafka bootstrap servers."},
    {CFG_LIBRDKAFKA_CONFIG, "FLEETCRYPT_LIBRDKAFKA_CONFIG", NULL, T_KVFILE, NULL, "(none)", 0, 0, NULL, false, W | C,
     NULL, NULL, 0, NOFIELD, 0,
     "A librdkafka properties file as kcat's -F reads it: key=value a line, # comments; values keep their commas. "
     "Applied first; -F FILE adds one."},
    {CFG_LIBRDKAFKA, "FLEETCRYPT_LIBRDKAFKA", NULL, T_KV, NULL, "(none)", 0, 0, NULL, false, W | C, NULL, NULL, 0,
     NOFIELD, 0, "librdkafka settings k=v,k2=v2 (SASL, TLS; a value with a comma: -X or the properties file); "
     "-X k=v adds one."},
    {CFG_REDIS_URL, "FLEETCRYPT_REDIS_URL", NULL, T_STR, NULL, "(required)", 0, 0, NULL, false, CLI | W | C,
     "redis-url", "URL", CLI | W | C, FIELD(redis_url),
     "redis://[user:password@]host:port[/db] (user and password percent-encoded); rediss:// for TLS, through "
     "FLEETCRYPT_REDIS_TLS_PROXY."},
    {CFG_REDIS_TLS_PROXY, "FLEETCRYPT_REDIS_TLS_PROXY", NULL, T_STR, NULL, "(none)", 0, 0, NULL, false, CLI | W | C,
     NULL, NULL, 0, FIELD(redis_tls_proxy),
     "With a rediss:// URL (required then): HOST:PORT of the local TLS client (the stunnel sidecar) that reaches the "
     "URL's server; Debian's Redis client library 0.14 speaks no TLS."},
    {CFG_TOPIC_PREFIX, "FLEETCRYPT_TOPIC_PREFIX", NULL, T_STR, "fleetcrypt", NULL, 0, 0, NULL, true, W | C | K,
     "topic-prefix", "P", W | C | K, FIELD(topic_prefix), "Kafka topics are P.steps, P.events, P.dlq."},
    {CFG_KEY_PREFIX, "FLEETCRYPT_KEY_PREFIX", NULL, T_STR, "fc", NULL, 0, 0, NULL, false, CLI | W | C, "key-prefix",
     "K", CLI | W | C, FIELD(key_prefix), "Prefix of every Redis key."},
    {CFG_REGION, "AWS_REGION", "AWS_DEFAULT_REGION", T_STR, NULL, "(the profile's)", 0, 0, NULL, false, CLI | W | C,
     "region", "R", CLI | W | C, FIELD(region),
     "AWS region (else AWS_DEFAULT_REGION, else the profile's region, as the AWS SDKs)."},
    {CFG_PROFILE, "AWS_PROFILE", NULL, T_STR, NULL, "default", 0, 0, NULL, false, CLI | W | C, "profile", "NAME",
     CLI | W | C, FIELD(profile), "AWS profile of ~/.aws/config and ~/.aws/credentials (credentials, region, "
     "endpoints, CA bundle); the flag sets AWS_PROFILE."},
    {CFG_NODE_ID, "FLEETCRYPT_NODE_ID", NULL, T_STR, NULL, "host:pid", 0, 0, NULL, false, CLI | W | C, "node-id",
     "ID", CLI | W | C, FIELD(node_id), "This process's name in leases, logs and the audit trail."},
    {CFG_METRICS_ADDR, "FLEETCRYPT_METRICS_ADDR", NULL, T_STR, NULL, "(off)", 0, 0, NULL, false, W | C,
     "metrics-addr", "HOST:PORT", W | C, FIELD(metrics_addr), "Serve Prometheus /metrics, /healthz and /readyz here: IPV4:PORT or [IPV6]:PORT (port 0: any)."},
    {CFG_EXECUTORS, "FLEETCRYPT_EXECUTORS", NULL, T_INT, "8", NULL, 1, 256, NULL, false, W, "executors", "N", W,
     FIELD(executors), "Worker threads running steps."},
    {CFG_RETIRED_CHECK_S, "FLEETCRYPT_RETIRED_CHECK_S", NULL, T_INT, "900", NULL, 0, 86400, NULL, false, C,
     "retired-check-s", "S", C, FIELD(retired_check_s),
     "Period of the retired-source and master-secret check, s (0 = off)."},
    {CFG_LEASE_MS, "FLEETCRYPT_LEASE_MS", NULL, T_I64, "30000", NULL, 1000, 3600000, NULL, false, W, NULL, NULL, 0,
     FIELD(lease_ms), "Lease of a running step, ms (renewed every third)."},
    {CFG_OUTBOX_GRACE_MS, "FLEETCRYPT_OUTBOX_GRACE_MS", NULL, T_I64, "5000", NULL, 100, 600000, NULL, false, W, NULL,
     NULL, 0, FIELD(outbox_grace_ms), "Outbox grace before the coordinator re-emits a successor, ms."},
    {CFG_SHUTDOWN_MS, "FLEETCRYPT_SHUTDOWN_MS", NULL, T_I64, "20000", NULL, 0, 600000, NULL, false, W, NULL, NULL, 0,
     FIELD(shutdown_ms), "On SIGTERM, wait this long for running steps, ms."},
    {CFG_STEP_DEADLINE_MAX_S, "FLEETCRYPT_STEP_DEADLINE_MAX_S", NULL, T_I64, "0", NULL, 0, 604800, NULL, false,
     CLI | W | C, NULL, NULL, 0, FIELD(step_deadline_max_s),
     "Cap on every step deadline, s (0: none; re-drives and retry then use 1800)."},
    {CFG_REGION_INFLIGHT, "FLEETCRYPT_REGION_INFLIGHT", NULL, T_I64, "0", NULL, 0, 100000, NULL, false, C, NULL,
     NULL, 0, FIELD(region_inflight), "Instances in flight per account and region (0 = no limit)."},
    {CFG_POLL_MIN_MS, "FLEETCRYPT_POLL_MIN_MS", NULL, T_I64, "1000", NULL, 50, 600000, NULL, false, C, NULL, NULL, 0,
     FIELD(poll_min_ms), "Shortest interval between AWS polls of one instance, ms."},
    {CFG_POLL_MAX_MS, "FLEETCRYPT_POLL_MAX_MS", NULL, T_I64, "300000", NULL, 1000, 3600000, NULL, false, C, NULL,
     NULL, 0, FIELD(poll_max_ms), "Longest interval between AWS polls of one instance, ms."},
    {CFG_POLL_FLOOR_SCALE, "FLEETCRYPT_POLL_FLOOR_SCALE", NULL, T_NUM, "1", NULL, 0, 100, NULL, false, C, NULL,
     NULL, 0, FIELD(poll_floor_scale),
     "Real seconds per AWS second of the wait floors (a first wait of a restore, snapshot, stop or rename, "
     "nothing learnt yet, is first looked at at the least AWS takes for it): 1 against AWS, an "
     "emulator's time scale against it, 0 = no floors."},
    {CFG_LEADER_MS, "FLEETCRYPT_LEADER_MS", NULL, T_I64, "6000", NULL, 1000, 600000, NULL, false, C, NULL, NULL, 0,
     FIELD(leader_ms), "Lease of the active coordinator, ms."},
    {CFG_AWS_RATE, "FLEETCRYPT_AWS_RATE", NULL, T_NUM, "10", NULL, 0.1, 10000, NULL, false, W | C, NULL, NULL, 0,
     FIELD(aws_rate), "AWS requests/s per account, region and service (shared through Redis)."},
    {CFG_AWS_BURST, "FLEETCRYPT_AWS_BURST", NULL, T_NUM, "50", NULL, 1, 100000, NULL, false, W | C, NULL, NULL, 0,
     FIELD(aws_burst), "AWS token bucket size."},
    {CFG_LIMIT_COPY, "FLEETCRYPT_LIMIT_COPY", NULL, T_INT, "20", NULL, 1, 10000, NULL, false, W, NULL, NULL, 0,
     NOFIELD, 0, "Snapshot copies in flight per account and region."},
    {CFG_LIMIT_RESTORE, "FLEETCRYPT_LIMIT_RESTORE", NULL, T_INT, "20", NULL, 1, 10000, NULL, false, W, NULL, NULL, 0,
     NOFIELD, 0, "Restores in flight per account and region."},
    {CFG_LIMIT_CUTOVER, "FLEETCRYPT_LIMIT_CUTOVER", NULL, T_INT, "10", NULL, 1, 10000, NULL, false, W, NULL, NULL, 0,
     NOFIELD, 0, "Cutovers in flight per account and region."},
    {CFG_PG_SSLMODE, "FLEETCRYPT_PG_SSLMODE", NULL, T_ENUM, NULL, "PGSSLMODE, else verify-full", 0, 0, sslmodes,
     false, W, NULL, NULL, 0, NOFIELD, 0, "libpq sslmode of every database connection."},
    {CFG_PG_SSLROOTCERT, "FLEETCRYPT_PG_SSLROOTCERT", NULL, T_STR, NULL, "FLEETCRYPT_RDS_CA_BUNDLE", 0, 0, NULL,
     false, W, NULL, NULL, 0, NOFIELD, 0, "Root certificate file of database connections."},
    {CFG_RDS_CA_BUNDLE, "FLEETCRYPT_RDS_CA_BUNDLE", NULL, T_STR, NULL, "PGSSLROOTCERT", 0, 0, NULL, false, W, NULL,
     NULL, 0, NOFIELD, 0, "The RDS CA bundle (root certificate when FLEETCRYPT_PG_SSLROOTCERT is unset)."},
    {CFG_LOG_LEVEL, "FLEETCRYPT_LOG_LEVEL", NULL, T_ENUM, NULL, "info", 0, 0, levels, false, W | C | K, NULL, NULL,
     0, NOFIELD, 0, "Least severe log line written."},
    {CFG_LOG_FORMAT, "FLEETCRYPT_LOG_FORMAT", NULL, T_ENUM, "text", NULL, 0, 0, formats, false, CLI | W | C | K,
     NULL, NULL, 0, NOFIELD, 0, "Log lines as key=value text or JSON."},
    {CFG_TEST_CRASH_AT, "FLEETCRYPT_TEST_CRASH_AT", NULL, T_STR, NULL, "(none)", 0, 0, NULL, false, W, NULL, NULL, 0,
     NOFIELD, 0, "Tests only: crash points (comma-separated) that SIGKILL the process."},
    {CFG_TEST_CRASH_DIR, "FLEETCRYPT_TEST_CRASH_DIR", NULL, T_STR, NULL, "(none)", 0, 0, NULL, false, W, NULL, NULL,
     0, NOFIELD, 0, "Tests only: a crash point fires once, recorded in this directory."},
    {CFG_TEST_HOLD_AT, "FLEETCRYPT_TEST_HOLD_AT", NULL, T_STR, NULL, "(none)", 0, 0, NULL, false, W, NULL, NULL, 0,
     NOFIELD, 0,
     "Tests only: hold points (comma-separated) where the process waits, once, for the test (files in "
     "FLEETCRYPT_TEST_CRASH_DIR)."},
};

#undef W
#undef C
#undef CLI
#undef K

static const char *bin_names[] = {"cli", "worker", "coordinator", "kafka-dev"};

static const char *env_value(const cfg_row *r)
{
    const char *v = getenv(r->env);
    if ((!v || !*v) && r->env2) v = getenv(r->env2);
    return v && *v ? v : NULL;
}

/* The rows that may carry a password (in a URL, as sasl.password=…): each is
 * also read from the file its <env>_FILE variable names. */
static const cfg_id secret_rows[] = {CFG_REDIS_URL, CFG_LIBRDKAFKA};

static bool row_secret(const cfg_row *r)
{
    for (size_t i = 0; i < sizeof secret_rows / sizeof secret_rows[0]; i++)
        if (r->id == secret_rows[i]) return true;
    return false;
}

/* The value of row r: its variable, or for a secret row the contents of the
 * file <env>_FILE names (into buf; one trailing newline dropped), so a
 * password is in neither `ps` nor the environment. *out is NULL when unset.
 * False with err (naming the variables and the path, never the text) when
 * both are set or the file cannot be read. */
static bool env_lookup(const cfg_row *r, char *buf, size_t cap, const char **out, char *err, size_t errcap)
{
    *out = env_value(r);
    if (!row_secret(r)) return true;
    char fname[96];
    snprintf(fname, sizeof fname, "%s_FILE", r->env);
    const char *path = getenv(fname);
    if (!path || !*path) return true;
    if (*out) {
        snprintf(err, errcap, "%s and %s are both set: set one", r->env, fname);
        return false;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: cannot read %.300s", fname, path);
        return false;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    bool more = n == cap - 1 && fgetc(f) != EOF;
    bool bad = ferror(f) != 0;
    fclose(f);
    buf[n] = 0;
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
    if (n > 0 && buf[n - 1] == '\r') buf[--n] = 0;
    if (bad || more || n == 0 || strlen(buf) != n) {
        snprintf(err, errcap, "%s: %.300s is %s", fname, path,
                 bad ? "unreadable" : more ? "too long" : n == 0 ? "empty" : "not text");
        return false;
    }
    *out = buf;
    return true;
}

static void expected(const cfg_row *r, char *out, size_t cap)
{
    switch (r->type) {
    case T_INT:
    case T_I64: snprintf(out, cap, "an integer in [%.0f, %.0f]", r->min, r->max); break;
    case T_NUM: snprintf(out, cap, "a number in [%g, %g]", r->min, r->max); break;
    case T_ENUM: {
        size_t n = (size_t)snprintf(out, cap, "one of ");
        for (int i = 0; r->values[i] && n < cap; i++)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", r->values[i]);
        break;
    }
    case T_KV: snprintf(out, cap, "k=v,k2=v2"); break;
    case T_KVFILE: snprintf(out, cap, "a readable file"); break;
    case T_STR: snprintf(out, cap, r->word ? "a non-empty name of [A-Za-z0-9._-]" : "a string"); break;
    }
}

/* Check text against row r; store it at dst (a field of r's type) unless
 * dst is NULL. what names the source in the message (env name or --flag).
 * Values are echoed only for types that cannot carry a secret. */
static bool parse_value(const cfg_row *r, const char *what, const char *v, void *dst, const char **canon, char *err,
                        size_t errcap)
{
    char exp[160];
    expected(r, exp, sizeof exp);
    switch (r->type) {
    case T_STR: {
        if (r->word) {
            bool ok = *v != 0;
            for (const char *p = v; *p && ok; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                     *p == '.' || *p == '_' || *p == '-';
            if (!ok) {
                snprintf(err, errcap, "%s: expected %s, got '%.60s'", what, exp, v);
                return false;
            }
        }
        if (dst && r->off != NOFIELD && !fc_strlcpy(dst, v, r->cap)) {
            snprintf(err, errcap, "%s: value too long (max %zu characters)", what, r->cap - 1);
            return false;
        }
        if (canon) *canon = v;
        return true;
    }
    case T_INT:
    case T_I64:
    case T_NUM: {
        char *end = NULL;
        double d = 0;
        long long n = 0;
        if (r->type == T_NUM) d = strtod(v, &end);
        else n = strtoll(v, &end, 10), d = (double)n;
        if (!*v || *end || isnan(d) || d < r->min || d > r->max) {
            snprintf(err, errcap, "%s: expected %s, got '%.60s'", what, exp, v);
            return false;
        }
        if (dst && r->type == T_INT) *(int *)dst = (int)n;
        if (dst && r->type == T_I64) *(int64_t *)dst = (int64_t)n;
        if (dst && r->type == T_NUM) *(double *)dst = d;
        return true;
    }
    case T_ENUM:
        for (int i = 0; r->values[i]; i++)
            if (!strcasecmp(v, r->values[i])) {
                if (canon) *canon = r->values[i];
                return true;
            }
        snprintf(err, errcap, "%s: expected %s, got '%.60s'", what, exp, v);
        return false;
    case T_KV:
    case T_KVFILE: break;
    }
    return true;
}

/* One setting: key (kl bytes) and value. */
static bool add_kv(fc_config *c, const char *key, size_t kl, const char *val, char *err, size_t errcap)
{
    if (c->kafka_kv_count >= CFG_MAX_KAFKA_KV) {
        snprintf(err, errcap, "too many librdkafka settings (max %d)", CFG_MAX_KAFKA_KV);
        return false;
    }
    if (kl >= 256 || strlen(val) >= 256) {
        snprintf(err, errcap, "librdkafka setting too long");
        return false;
    }
    memcpy(c->kafka_kv[c->kafka_kv_count][0], key, kl);
    c->kafka_kv[c->kafka_kv_count][0][kl] = 0;
    fc_strlcpy(c->kafka_kv[c->kafka_kv_count][1], val, 256);
    c->kafka_kv_count++;
    return true;
}

bool cfg_add_kafka_kv(fc_config *c, const char *kv, char *err, size_t errcap)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        /* the text may be a password typed without its key: never echoed */
        snprintf(err, errcap, "librdkafka setting must be key=value");
        return false;
    }
    return add_kv(c, kv, (size_t)(eq - kv), eq + 1, err, errcap);
}

#define KAFKA_FILE_MAX (64 * 1024)

bool cfg_add_kafka_file(fc_config *c, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot read librdkafka properties file %s: %s", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    int ln = 0;
    bool ok = true;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        ln++;
        total += (size_t)n;
        if (total > KAFKA_FILE_MAX) {
            snprintf(err, errcap, "%s is larger than %d bytes", path, KAFKA_FILE_MAX);
            ok = false;
            break;
        }
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        size_t l = strlen(s);
        while (l && isspace((unsigned char)s[l - 1])) s[--l] = 0;
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        size_t kl = eq ? (size_t)(eq - s) : 0;
        while (kl && isspace((unsigned char)s[kl - 1])) kl--;
        if (!eq || kl == 0) {
            snprintf(err, errcap, "%s:%d: not key=value", path, ln);
            ok = false;
            break;
        }
        const char *v = eq + 1;
        while (isspace((unsigned char)*v)) v++;
        char e[128];
        if (!add_kv(c, s, kl, v, e, sizeof e)) {
            snprintf(err, errcap, "%s:%d: %s", path, ln, e);
            ok = false;
        }
    }
    if (line) fc_wipe(line, cap); /* it held a value, maybe a password */
    free(line);
    fclose(f);
    return ok;
}

static bool load_kv(fc_config *c, const cfg_row *r, const char *v, char *err, size_t errcap)
{
    char tmp[4096];
    if (!fc_strlcpy(tmp, v, sizeof tmp)) {
        snprintf(err, errcap, "%s: value too long", r->env);
        return false;
    }
    char *save = NULL;
    int n = 0;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        n++;
        char e[256];
        if (!cfg_add_kafka_kv(c, t, e, sizeof e)) {
            /* the setting may hold a password (sasl.password=…): name its key, never its value */
            size_t kl = strcspn(t, "=");
            snprintf(err, errcap, "%s: setting %d ('%.*s') is not key=value or there are too many", r->env, n,
                     (int)(kl > 60 ? 60 : kl), t);
            return false;
        }
    }
    return true;
}

bool cfg_load(fc_config *c, unsigned bins, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < CFG__COUNT; i++) {
        const cfg_row *r = &rows[i];
        if (r->off != NOFIELD && r->dflt && !parse_value(r, r->env, r->dflt, (char *)c + r->off, NULL, err, errcap))
            return false; /* a bad default in the table: the unit test catches it */
    }
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(c->node_id, sizeof c->node_id, "%s:%d", host, (int)getpid());

    for (size_t i = 0; i < CFG__COUNT; i++) {
        const cfg_row *r = &rows[i];
        char buf[4096];
        const char *v = NULL;
        if ((r->bins & bins) && !env_lookup(r, buf, sizeof buf, &v, err, errcap)) return false;
        if (!v) continue;
        if (r->type == T_KV) {
            if (!load_kv(c, r, v, err, errcap)) return false;
            continue;
        }
        if (r->type == T_KVFILE) {
            char e[512];
            if (!cfg_add_kafka_file(c, v, e, sizeof e)) {
                snprintf(err, errcap, "%s: %s", r->env, e);
                return false;
            }
            continue;
        }
        if (!parse_value(r, r->env, v, r->off != NOFIELD ? (char *)c + r->off : NULL, NULL, err, errcap))
            return false;
    }
    return true;
}

bool cfg_from_env(fc_config *c, char *err, size_t errcap) { return cfg_load(c, CFG_BIN_ALL, err, errcap); }

bool cfg_apply_flag(fc_config *c, const char *name, const char *value, bool *known, char *err, size_t errcap)
{
    *known = false;
    if (!strcmp(name, "X")) {
        *known = true;
        return cfg_add_kafka_kv(c, value, err, errcap);
    }
    for (size_t i = 0; i < CFG__COUNT; i++) {
        const cfg_row *r = &rows[i];
        if (r->flag && !strcmp(r->flag, name) && r->off != NOFIELD) {
            *known = true;
            char what[64];
            snprintf(what, sizeof what, "--%s", r->flag);
            if (!parse_value(r, what, value, (char *)c + r->off, NULL, err, errcap)) return false;
            /* the credential chain and region lookup read AWS_PROFILE, as the SDKs do */
            if (r->id == CFG_PROFILE && setenv("AWS_PROFILE", value, 1) != 0) {
                snprintf(err, errcap, "--profile: cannot set AWS_PROFILE");
                return false;
            }
            return true;
        }
    }
    snprintf(err, errcap, "unknown option --%s", name);
    return false;
}

int64_t cfg_redrive_deadline_s(const fc_config *c)
{
    return c->step_deadline_max_s > 0 ? c->step_deadline_max_s : CFG_REDRIVE_DEADLINE_DEFAULT_S;
}

/* ---- library accessors ---- */

static const char *current(const cfg_row *r, const char **canon)
{
    char err[256];
    const char *v = env_value(r);
    *canon = v;
    if (v && parse_value(r, r->env, v, NULL, canon, err, sizeof err)) return v;
    *canon = r->dflt;
    return r->dflt;
}

int64_t cfg_env_int(cfg_id id)
{
    const char *canon;
    const char *v = current(&rows[id], &canon);
    return v ? (int64_t)strtoll(v, NULL, 10) : 0;
}

double cfg_env_num(cfg_id id)
{
    const char *canon;
    const char *v = current(&rows[id], &canon);
    return v ? strtod(v, NULL) : 0;
}

const char *cfg_env_str(cfg_id id)
{
    const char *canon;
    current(&rows[id], &canon);
    return canon;
}

int cfg_find(const char *env)
{
    for (size_t i = 0; i < CFG__COUNT; i++)
        if (!strcmp(rows[i].env, env)) return (int)i;
    return -1;
}

/* ---- help and docs from the table ---- */

static const char *type_name(const cfg_row *r)
{
    switch (r->type) {
    case T_INT:
    case T_I64: return "integer";
    case T_NUM: return "number";
    case T_ENUM: return "enum";
    case T_KV: return "k=v list";
    case T_KVFILE: return "path";
    case T_STR: break;
    }
    return "string";
}

static void readers(unsigned bins, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (int b = 0; b < 4; b++)
        if (bins & (1u << b)) n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", bin_names[b]);
}

void cfg_print_flags(FILE *f, unsigned bins)
{
    for (size_t i = 0; i < CFG__COUNT; i++) {
        const cfg_row *r = &rows[i];
        if (!r->flag || !(r->flag_bins & bins)) continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s %s", r->flag, r->metavar);
        char src[160]; /* a secret: the file variable keeps it out of ps */
        if (row_secret(r)) snprintf(src, sizeof src, "%s, or a file: %s_FILE", r->env, r->env);
        else snprintf(src, sizeof src, "%s", r->env);
        fprintf(f, "  %-30s %s (%s)\n", lhs, r->help, src);
    }
    if (rows[CFG_LIBRDKAFKA].bins & bins) {
        fprintf(f, "  %-30s %s\n", "-X k=v", "One librdkafka setting (repeatable; the value may hold commas).");
        fprintf(f, "  %-30s %s\n", "-F FILE",
                "librdkafka settings from a properties file, as kcat's -F (FLEETCRYPT_LIBRDKAFKA_CONFIG).");
    }
    fprintf(f, "  %-30s %s\n", "-h, --help", "This help.");
    fprintf(f, "  %-30s %s\n", "--version", "Print the version.");
}

static void allowed(const cfg_row *r, char *out, size_t cap)
{
    if (r->type == T_STR && !r->word) out[0] = 0;
    else if (r->type == T_ENUM) {
        size_t n = 0;
        out[0] = 0;
        for (int i = 0; r->values[i]; i++)
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", i ? ", " : "", r->values[i]);
    } else if (r->type == T_INT || r->type == T_I64) snprintf(out, cap, "%.0f..%.0f", r->min, r->max);
    else if (r->type == T_NUM) snprintf(out, cap, "%g..%g", r->min, r->max);
    else if (r->type == T_STR) snprintf(out, cap, "[A-Za-z0-9._-]");
    else out[0] = 0;
}

void cfg_print_env(FILE *f, unsigned bins)
{
    for (size_t i = 0; i < CFG__COUNT; i++) {
        const cfg_row *r = &rows[i];
        if (!(r->bins & bins)) continue;
        char al[160];
        allowed(r, al, sizeof al);
        fprintf(f, "  %-31s %s\n  %-31s %s, default %s%s%s\n", r->env, r->help, "", type_name(r),
                r->dflt_doc ? r->dflt_doc : r->dflt, al[0] ? "; " : "", al);
        if (row_secret(r)) {
            char fname[96];
            snprintf(fname, sizeof fname, "%s_FILE", r->env);
            fprintf(f, "  %-31s A file holding %s (kept out of ps and the environment; not with it).\n"
                       "  %-31s path, default (none)\n", fname, r->env, "");
        }
    }
}

void cfg_print_markdown(FILE *f)
{
    fputs("# Configuration\n\n"
          "<!-- Generated from the table in lib/base/cfg.c by `fleetcrypt --help-env`;\n"
          "     tests/integration/test_cli_config.py checks that they agree. -->\n\n"
          "Every `FLEETCRYPT_*` variable (and the region) is one row of the table in\n"
          "`lib/base/cfg.c`, read nowhere else. A binary checks the variables it reads at\n"
          "startup: a bad value exits 2 with the variable's name and what was expected.\n"
          "An empty value counts as unset. A flag, where there is one, overrides the\n"
          "variable. Each binary's `--help` lists its own flags and variables. The AWS\n"
          "variables of credentials and endpoints (`AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...,\n"
          "see docs/aws-client.md) and libpq's `PGSSLMODE` / `PGSSLROOTCERT` keep their\n"
          "usual meaning.\n\n"
          "| Variable | Meaning | Type | Default | Allowed | Flag | Read by |\n"
          "|---|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < CFG__COUNT; i++) {
        const cfg_row *r = &rows[i];
        char al[160], rd[96], fl[64] = "";
        allowed(r, al, sizeof al);
        readers(r->bins, rd, sizeof rd);
        if (r->flag) snprintf(fl, sizeof fl, "`--%s`", r->flag);
        else if (r->type == T_KV) snprintf(fl, sizeof fl, "`-X k=v`");
        else if (r->type == T_KVFILE) snprintf(fl, sizeof fl, "`-F FILE`");
        fprintf(f, "| `%s` | %s | %s | %s | %s | %s | %s |\n", r->env, r->help, type_name(r),
                r->dflt_doc ? r->dflt_doc : r->dflt, al, fl, rd);
        if (row_secret(r))
            fprintf(f, "| `%s_FILE` | A file holding `%s` (one trailing newline dropped): the secret stays out of "
                       "`ps` and the environment. Not together with `%s`. | path | (none) |  |  | %s |\n",
                    r->env, r->env, r->env, rd);
    }
    fputs("\nSecrets: a value that may hold a password (`FLEETCRYPT_REDIS_URL`,\n"
          "`FLEETCRYPT_LIBRDKAFKA` with `sasl.password=`) is also read from the file its\n"
          "`*_FILE` variable names (a Kubernetes Secret volume, systemd's\n"
          "`$CREDENTIALS_DIRECTORY`), so it is in neither `ps` (as a flag would be) nor\n"
          "`/proc/PID/environ`; setting both is an error; no message quotes the file.\n"
          "\n`FLEETCRYPT_STEP_DEADLINE_MAX_S` caps every step's deadline in the worker;\n"
          "unset (0), the coordinator re-drives a stuck instance after 1800 s and\n"
          "`fleetcrypt retry` gives the retried step 1800 s.\n",
          f);
}

/* ---- the argument parser ---- */

#define OPT_ROW 1000
#define OPT_VERSION 2000

static void print_help(const cfg_cmd *cmd)
{
    if (cmd->help) cmd->help(stdout, cmd->ud);
    printf("\ncommon options:\n");
    cfg_print_flags(stdout, cmd->bins);
    printf("\nenvironment (docs/configuration.md):\n");
    cfg_print_env(stdout, cmd->bins);
}

/* A secret given as a flag: once copied, overwrite it where `ps` and
 * /proc/PID/cmdline read it (the process's own argv strings), as MySQL's
 * client does for --password. FLEETCRYPT_*_FILE keeps it out altogether. */
static void mask_arg(char *v)
{
    for (; *v; v++) *v = 'x';
}

int cfg_getopt(fc_config *c, const cfg_cmd *cmd, int argc, char **argv, int *first)
{
    size_t nown = 0;
    while (cmd->opts && cmd->opts[nown].name) nown++;
    struct option *lo = calloc(nown + CFG__COUNT + 3, sizeof *lo);
    if (!lo) {
        fprintf(stderr, "%s: out of memory\n", cmd->prog);
        return CFG_ARGS_BAD;
    }
    size_t n = 0;
    for (size_t i = 0; i < nown; i++) lo[n++] = cmd->opts[i];
    for (size_t i = 0; i < CFG__COUNT; i++)
        if (rows[i].flag && (rows[i].flag_bins & cmd->bins))
            lo[n++] = (struct option){rows[i].flag, required_argument, NULL, OPT_ROW + (int)i};
    lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    bool kafka = (rows[CFG_LIBRDKAFKA].bins & cmd->bins) != 0;
    /* a leading '+' in the command's shortopts: stop at the first operand
     * (the CLI's COMMAND); ':' first reports a missing value as ':' */
    const char *own = cmd->shortopts ? cmd->shortopts : "";
    bool in_order = own[0] == '+';
    char shortopts[64];
    snprintf(shortopts, sizeof shortopts, "%s:h%s%s", in_order ? "+" : "", kafka ? "X:F:" : "", own + in_order);

    int rc = CFG_ARGS_OK;
    optind = 0; /* glibc: start over (the CLI parses twice, tests many times) */
    opterr = 0;
    int o;
    char err[512];
    while (rc == CFG_ARGS_OK && (o = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
        const char *at = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        if (o == 'h') {
            print_help(cmd);
            rc = CFG_ARGS_EXIT_OK;
        } else if (o == OPT_VERSION) {
            printf("%.*s %s\n", (int)strcspn(cmd->prog, " "), cmd->prog, FC_VERSION);
            rc = CFG_ARGS_EXIT_OK;
        } else if (o == '?') {
            if (optopt) fprintf(stderr, "%s: unknown option -%c (try --help)\n", cmd->prog, optopt);
            else {
                int nl = (int)strcspn(at, "="), matches = 0;
                for (size_t i = 0; nl > 2 && i < n; i++) matches += !strncmp(lo[i].name, at + 2, (size_t)nl - 2);
                fprintf(stderr, "%s: %s option %.*s (try --help)\n", cmd->prog, matches > 1 ? "ambiguous" : "unknown",
                        nl, at);
            }
            rc = CFG_ARGS_BAD;
        } else if (o == ':') {
            fprintf(stderr, "%s: %s needs a value\n", cmd->prog, at);
            rc = CFG_ARGS_BAD;
        } else if (o == 'X' && kafka) {
            if (!cfg_add_kafka_kv(c, optarg, err, sizeof err)) {
                fprintf(stderr, "%s: -X: %s\n", cmd->prog, err);
                rc = CFG_ARGS_BAD;
            }
            char key[128] = "";
            size_t kl = strcspn(optarg, "=");
            if (optarg[kl] && kl < sizeof key) {
                memcpy(key, optarg, kl);
                key[kl] = 0;
                if (strstr(key, "password") || strstr(key, "secret")) mask_arg(optarg + kl + 1); /* sasl.password=… */
            }
        } else if (o == 'F' && kafka) {
            if (!cfg_add_kafka_file(c, optarg, err, sizeof err)) {
                fprintf(stderr, "%s: -F: %s\n", cmd->prog, err);
                rc = CFG_ARGS_BAD;
            }
        } else if (o >= OPT_ROW && o < OPT_ROW + CFG__COUNT) {
            bool known;
            if (!cfg_apply_flag(c, rows[o - OPT_ROW].flag, optarg, &known, err, sizeof err)) {
                fprintf(stderr, "%s: %s\n", cmd->prog, err);
                rc = CFG_ARGS_BAD;
            }
            if (row_secret(&rows[o - OPT_ROW])) mask_arg(optarg); /* copied: out of ps from now on */
        } else if (cmd->on_opt) {
            rc = cmd->on_opt(cmd->ud, o, optarg);
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", cmd->prog, at);
            rc = CFG_ARGS_BAD;
        }
    }
    if (first) *first = optind;
    free(lo);
    return rc;
}

int cfg_daemon_args(fc_config *c, const cfg_cmd *cmd, bool need_kafka, bool need_redis, int argc, char **argv)
{
    char err[512], env_err[512] = "";
    if (!cfg_load(c, cmd->bins, env_err, sizeof env_err) && !env_err[0]) fc_strlcpy(env_err, "bad environment", sizeof env_err);
    int first = argc;
    int rc = cfg_getopt(c, cmd, argc, argv, &first);
    if (rc != CFG_ARGS_OK) return rc; /* --help and --version answer whatever the environment holds */
    if (env_err[0]) {
        fprintf(stderr, "%s: %s\n", cmd->prog, env_err);
        return CFG_ARGS_BAD;
    }
    if (first < argc) {
        fprintf(stderr, "%s: unexpected argument '%.60s' (try --help)\n", cmd->prog, argv[first]);
        return CFG_ARGS_BAD;
    }
    if (!cfg_validate(c, need_kafka, need_redis, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cmd->prog, err);
        return CFG_ARGS_BAD;
    }
    return CFG_ARGS_OK;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decode n bytes of s into dst (cap); false on a bad %XX or no room. */
static bool pct_decode(const char *s, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int a = i + 1 < n ? hexval(s[i + 1]) : -1, b = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (a < 0 || b < 0 || (a == 0 && b == 0)) return false; /* %00 would cut the text */
            ch = (char)(a * 16 + b);
            i += 2;
        }
        if (o + 1 >= cap) return false;
        dst[o++] = ch;
    }
    dst[o] = 0;
    return true;
}

bool cfg_parse_redis_url(const char *url, fc_redis_addr *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    const char *p = url;
    if (!strncmp(p, "redis://", 8)) p += 8;
    else if (!strncmp(p, "rediss://", 9)) {
        p += 9;
        out->tls = true;
    } else {
        snprintf(err, errcap, "FLEETCRYPT_REDIS_URL must start with redis:// or rediss://");
        return false;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : 0;
        const char *pw = colon ? colon + 1 : p;
        if (!pct_decode(p, ul, out->user, sizeof out->user) ||
            !pct_decode(pw, (size_t)(at - pw), out->password, sizeof out->password)) {
            fc_wipe(out, sizeof *out);
            snprintf(err, errcap, "redis URL credentials are too long or badly percent-encoded");
            return false;
        }
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof out->host) {
        snprintf(err, errcap, "redis URL has no host");
        return false;
    }
    memcpy(out->host, p, hl);
    p += hl;
    if (*p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(err, errcap, "redis URL has a bad port");
            return false;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p == '/') {
        char *end = NULL;
        long db = strtol(p + 1, &end, 10);
        if (p[1] && (*end || db < 0 || db > 1000)) {
            snprintf(err, errcap, "redis URL has a bad database number");
            return false;
        }
        out->db = (int)db;
    } else if (*p) {
        snprintf(err, errcap, "redis URL has trailing characters");
        return false;
    }
    fc_strlcpy(out->via_host, out->host, sizeof out->via_host);
    out->via_port = out->port;
    return true;
}

bool cfg_redis_addr(const fc_config *c, fc_redis_addr *out, char *err, size_t errcap)
{
    if (!cfg_parse_redis_url(c->redis_url, out, err, errcap)) return false;
    const char *px = c->redis_tls_proxy;
    if (!out->tls) {
        if (!*px) return true;
        fc_wipe(out, sizeof *out);
        snprintf(err, errcap, "FLEETCRYPT_REDIS_TLS_PROXY is set but FLEETCRYPT_REDIS_URL is not a rediss:// URL");
        return false;
    }
    const char *colon = strrchr(px, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    size_t hl = colon ? (size_t)(colon - px) : 0;
    if (!*px || !colon || hl == 0 || hl >= sizeof out->via_host || *end || port < 1 || port > 65535) {
        fc_wipe(out, sizeof *out);
        snprintf(err, errcap, "a rediss:// URL needs FLEETCRYPT_REDIS_TLS_PROXY=HOST:PORT, the local TLS client "
                 "(stunnel) that reaches the URL's server: the Redis client library (0.14) speaks no TLS (docs/OPERATIONS.md)");
        return false;
    }
    memcpy(out->via_host, px, hl);
    out->via_host[hl] = 0;
    out->via_port = (int)port;
    return true;
}

bool cfg_validate(const fc_config *c, bool need_kafka, bool need_redis, char *err, size_t errcap)
{
    if (need_kafka && !c->kafka_brokers[0]) {
        snprintf(err, errcap, "FLEETCRYPT_KAFKA_BROKERS (or --kafka-brokers) is required");
        return false;
    }
    if (need_redis) {
        if (!c->redis_url[0]) {
            snprintf(err, errcap, "FLEETCRYPT_REDIS_URL (or --redis-url) is required");
            return false;
        }
        fc_redis_addr a;
        bool ok = cfg_redis_addr(c, &a, err, errcap);
        fc_wipe(&a, sizeof a);
        if (!ok) return false;
    }
    for (const char *p = c->topic_prefix; *p; p++) {
        if (!(( *p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
            snprintf(err, errcap, "topic prefix may only contain [A-Za-z0-9._-]");
            return false;
        }
    }
    if (!c->topic_prefix[0] || !c->key_prefix[0]) {
        snprintf(err, errcap, "topic and key prefixes must not be empty");
        return false;
    }
    return true;
}

void cfg_describe(const fc_config *c, char *out, size_t cap)
{
    char redis[512];
    fc_strlcpy(redis, c->redis_url, sizeof redis);
    char *at = strrchr(redis, '@');
    if (at && !strncmp(redis, "redis://", 8)) {
        char masked[512];
        snprintf(masked, sizeof masked, "redis://***%s", at);
        fc_strlcpy(redis, masked, sizeof redis);
    }
    snprintf(out, cap, "kafka=%s redis=%s topic_prefix=%s key_prefix=%s region=%s node=%s executors=%d kafka_settings=%d",
             c->kafka_brokers[0] ? c->kafka_brokers : "-", redis[0] ? redis : "-", c->topic_prefix,
             c->key_prefix, c->region, c->node_id, c->executors, c->kafka_kv_count);
}
