/* step — see step.h. */
#include "step.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <strings.h>

const step_def *strategy_step(const strategy_def *sd, const char *name)
{
    if (!sd || !name) return NULL;
    for (size_t i = 0; i < sd->nsteps; i++)
        if (!strcmp(sd->steps[i].name, name)) return &sd->steps[i];
    return NULL;
}

step_fn strategy_impl_fn(const strategy_impl *si, const char *step)
{
    if (!si || !step) return NULL;
    for (size_t i = 0; i < si->nfns; i++)
        if (!strcmp(si->fns[i].step, step)) return si->fns[i].fn;
    return NULL;
}

int strategy_wait_floor_s(const strategy_def *sd, const char *step)
{
    if (!sd || !step) return 0;
    for (size_t i = 0; i < sd->nwait_floors; i++)
        if (!strcmp(sd->wait_floors[i].step, step)) return sd->wait_floors[i].seconds > 0 ? sd->wait_floors[i].seconds : 0;
    return 0;
}

const opt_def *strategy_opt(const strategy_def *sd, const char *name)
{
    if (!sd || !name) return NULL;
    for (size_t i = 0; i < sd->nopts; i++) {
        const char *a = sd->opts[i].name, *b = name;
        while (*a && *b && (*a == *b || ((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))) a++, b++;
        if (!*a && !*b) return &sd->opts[i];
    }
    return NULL;
}

bool strategy_serves_engine(const strategy_def *sd, const char *engine)
{
    if (!sd || !sd->engines || !engine || !*engine) return false;
    size_t n = strlen(engine);
    for (const char *p = sd->engines; *p;) {
        size_t l = strcspn(p, " ");
        if (l == n && !strncmp(p, engine, n)) return true;
        p += l;
        while (*p == ' ') p++;
    }
    return false;
}

bool opt_truthy(const char *v)
{
    if (!v) return false;
    return !strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on");
}

static bool opt_falsy(const char *v)
{
    return !strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off");
}

bool opt_parse_bytes(const char *v, int64_t *out)
{
    if (!v || !*v) return false;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0) return false;
    int64_t mul = 1;
    switch (toupper((unsigned char)*end)) {
    case 0: break;
    case 'K': mul = 1024LL; end++; break;
    case 'M': mul = 1024LL * 1024; end++; break;
    case 'G': mul = 1024LL * 1024 * 1024; end++; break;
    case 'T': mul = 1024LL * 1024 * 1024 * 1024; end++; break;
    case 'B': break;
    default: return false;
    }
    if (*end == 'i' || *end == 'I') end++;
    if (*end == 'b' || *end == 'B') end++;
    if (*end) return false;
    if (n > INT64_MAX / mul) return false;
    *out = (int64_t)n * mul;
    return true;
}

bool opt_check(const opt_def *o, const char *v, char *err, size_t cap)
{
    if (!v) v = "";
    switch (o->type) {
    case OPT_ENUM: {
        size_t n = strlen(v);
        for (const char *p = o->allowed ? o->allowed : ""; *p;) {
            size_t l = strcspn(p, "|");
            if (l == n && n && !strncmp(p, v, n)) goto extra;
            p += l;
            if (*p == '|') p++;
        }
        snprintf(err, cap, "--%s must be one of %s, got '%.40s'", o->name, o->allowed ? o->allowed : "", v);
        return false;
    }
    case OPT_BOOL:
        if (!opt_truthy(v) && !opt_falsy(v)) {
            snprintf(err, cap, "--%s must be true or false, got '%.40s'", o->name, v);
            return false;
        }
        break;
    case OPT_INT: {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        long long lo = LLONG_MIN, hi = LLONG_MAX;
        if (o->allowed) sscanf(o->allowed, "%lld..%lld", &lo, &hi);
        if (!*v || *end || n < lo || n > hi) {
            snprintf(err, cap, "--%s must be an integer in [%s], got '%.40s'", o->name,
                     o->allowed ? o->allowed : "any", v);
            return false;
        }
        break;
    }
    case OPT_BYTES: {
        int64_t b;
        if (!opt_parse_bytes(v, &b)) {
            snprintf(err, cap, "--%s must be a byte count (e.g. 512MB, 2GiB), got '%.40s'", o->name, v);
            return false;
        }
        break;
    }
    case OPT_STRING:
        break;
    }
extra:
    if (o->validate && !o->validate(v, err, cap)) return false;
    return true;
}

bool strategy_opts_resolve(const strategy_def *sd, const char *spec_json, char **out, char *err, size_t cap)
{
    for (size_t i = 0; i < sd->nopts; i++) out[i] = NULL;
    json_t *j = NULL;
    if (spec_json && *spec_json) {
        json_error_t je;
        j = json_loads(spec_json, 0, &je);
        if (!json_is_object(j)) {
            json_decref(j);
            snprintf(err, cap, "campaign spec is not a JSON object");
            return false;
        }
    }
    bool ok = true;
    for (size_t i = 0; i < sd->nopts && ok; i++) {
        const opt_def *o = &sd->opts[i];
        char buf[1024] = "";
        bool given = false;
        const char *key;
        json_t *x;
        json_object_foreach(j, key, x) {
            if (strategy_opt(sd, key) != o) continue;
            given = true;
            if (json_is_string(x)) fc_strlcpy(buf, json_string_value(x), sizeof buf);
            else if (json_is_true(x)) fc_strlcpy(buf, "1", sizeof buf);
            else if (json_is_false(x)) fc_strlcpy(buf, "0", sizeof buf);
            else if (json_is_integer(x)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(x));
            else {
                snprintf(err, cap, "--%s: must be a string, a number or a boolean", o->name);
                ok = false;
            }
        }
        if (!ok) break;
        if (!given) fc_strlcpy(buf, o->def ? o->def : "", sizeof buf);
        if ((given || buf[0]) && !opt_check(o, buf, err, cap)) ok = false;
        else if (!(out[i] = strdup(buf))) {
            snprintf(err, cap, "out of memory");
            ok = false;
        }
    }
    json_decref(j);
    if (!ok) strategy_opts_free(sd, out);
    return ok;
}

void strategy_opts_free(const strategy_def *sd, char **vals)
{
    for (size_t i = 0; i < sd->nopts; i++) {
        free(vals[i]);
        vals[i] = NULL;
    }
}

void step_limits_default(step_limits *l)
{
    l->grace_ms = 5000;
    l->deadline_cap_s = 0;
    l->backoff_base_ms = 1000;
    l->backoff_cap_ms = 60000;
}

const char *step_rc_name(step_rc rc)
{
    switch (rc) {
    case STEP_OK: return "ok";
    case STEP_WAIT: return "wait";
    case STEP_RETRY: return "retry";
    case STEP_FAIL: return "fail";
    case STEP_SKIP: return "skip";
    case STEP_NEXT: return "next";
    }
    return "fail";
}

int64_t step_backoff_bound_ms(const step_limits *lim, uint32_t attempt)
{
    int64_t b = lim->backoff_base_ms;
    for (uint32_t i = 1; i < attempt && b < lim->backoff_cap_ms; i++) b *= 2;
    return b < lim->backoff_cap_ms ? b : lim->backoff_cap_ms;
}

int64_t step_deadline_s(const step_limits *lim, const step_def *d)
{
    int64_t s = d && d->deadline_s > 0 ? d->deadline_s : 600;
    if (lim->deadline_cap_s > 0 && s > lim->deadline_cap_s) s = lim->deadline_cap_s;
    return s;
}

static void to_done(step_transition *o, const char *state, const char *err)
{
    o->new_state = state;
    o->due_ms = -1;
    o->emit_now = false;
    o->deadline_ms = 0;
    snprintf(o->error, sizeof o->error, "%s", err ? err : "");
}

/* A failure of cur: hand it to cur's on_fail (its undo) when the table has
 * that step, else the instance fails. */
static void fail_or_undo(const strategy_def *sd, const step_def *cur, const char *reason, int64_t now_ms,
                         const step_limits *lim, step_transition *o)
{
    o->outcome = "fail";
    const step_def *u = cur->on_fail && *cur->on_fail ? strategy_step(sd, cur->on_fail) : NULL;
    if (cur->on_fail && *cur->on_fail && (!u || u == cur)) {
        char e[STEP_REASON_MAX + 64];
        snprintf(e, sizeof e, "%s (and its undo step %s is not in strategy %s)", reason, cur->on_fail, sd->name);
        to_done(o, "failed", e);
        return;
    }
    if (!u) {
        to_done(o, "failed", reason);
        return;
    }
    o->undo = true;
    fc_strlcpy(o->new_step, u->name, sizeof o->new_step);
    o->new_state = "running";
    o->new_attempt = 1;
    o->due_ms = now_ms + lim->grace_ms;
    o->emit_now = true;
    o->deadline_ms = now_ms + step_deadline_s(lim, u) * 1000;
    snprintf(o->error, sizeof o->error, "%s", reason);
}

void step_plan(const strategy_def *sd, const step_def *cur, step_rc rc, const step_result *res,
               uint32_t attempt, int64_t now_ms, const step_limits *lim, step_transition *o)
{
    memset(o, 0, sizeof *o);
    o->outcome = step_rc_name(rc);
    fc_strlcpy(o->new_step, cur->name, sizeof o->new_step);
    o->new_state = "running";
    o->new_attempt = attempt;
    o->due_ms = -1;
    int max_att = cur->max_attempts > 0 ? cur->max_attempts : 8;

    switch (rc) {
    case STEP_OK:
    case STEP_NEXT: {
        const char *next = rc == STEP_OK ? cur->next : res->next;
        if (!next || !*next) {
            if (rc == STEP_NEXT) {
                o->outcome = "fail";
                to_done(o, "failed", "step jumped to an empty step name");
                return;
            }
            /* the undo step finishing means the instance is aborted */
            if (!strcmp(cur->name, STEP_ABORT_NAME))
                to_done(o, "aborted", res->reason[0] ? res->reason : "aborted; everything undone");
            else to_done(o, "done", "");
            return;
        }
        const step_def *nd = strategy_step(sd, next);
        if (!nd) {
            o->outcome = "fail";
            char e[160];
            snprintf(e, sizeof e, "unknown step %s in strategy %s", next, sd->name);
            to_done(o, "failed", e);
            return;
        }
        fc_strlcpy(o->new_step, nd->name, sizeof o->new_step);
        o->new_attempt = 1;
        o->due_ms = now_ms + lim->grace_ms;
        o->emit_now = true;
        o->deadline_ms = now_ms + step_deadline_s(lim, nd) * 1000;
        return;
    }
    case STEP_WAIT: {
        int64_t w = res->wait_ms;
        if (w < 100) w = 100;
        if (w > 86400000) w = 86400000;
        o->due_ms = now_ms + w;
        o->deadline_ms = o->due_ms + step_deadline_s(lim, cur) * 1000;
        snprintf(o->error, sizeof o->error, "%s", "");
        /* a step waiting on the operator shows as waiting_approval */
        if (!strncmp(res->reason, STEP_APPROVAL_PREFIX, strlen(STEP_APPROVAL_PREFIX)))
            o->new_state = "waiting_approval";
        return;
    }
    case STEP_RETRY: {
        if (attempt >= (uint32_t)max_att) {
            char e[STEP_REASON_MAX + 64];
            snprintf(e, sizeof e, "gave up after %u attempts: %s", attempt, res->reason);
            fail_or_undo(sd, cur, e, now_ms, lim, o);
            return;
        }
        o->new_attempt = attempt + 1;
        int64_t bound = step_backoff_bound_ms(lim, attempt);
        o->due_ms = now_ms + (int64_t)fc_rand_below((uint64_t)bound + 1);
        o->deadline_ms = o->due_ms + step_deadline_s(lim, cur) * 1000;
        snprintf(o->error, sizeof o->error, "%s", res->reason);
        return;
    }
    case STEP_SKIP:
        to_done(o, "skipped", res->reason);
        return;
    case STEP_FAIL:
    default:
    {
        /* an undo step's failure may name the step the instance failed in
         * (one whose on_fail it is): the record then shows that step */
        const step_def *f = res->next[0] ? strategy_step(sd, res->next) : NULL;
        if (f && f->on_fail && !strcmp(f->on_fail, cur->name)) fc_strlcpy(o->new_step, f->name, sizeof o->new_step);
        fail_or_undo(sd, cur, res->reason[0] ? res->reason : "failed", now_ms, lim, o);
        return;
    }
    }
}

/* ---- names ---- */
static uint64_t fnv1a(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Lowercase letters/digits/single hyphens, at most max chars, no hyphen at
 * either end. */
static void sanitize(const char *in, size_t max, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n < max && n + 1 < cap; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)c)) c = '-';
        if (c == '-' && (n == 0 || out[n - 1] == '-')) continue;
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == '-') n--;
    out[n] = 0;
}

bool step_resource_name(const char *campaign, const char *instance, const char *suffix, char *out,
                        size_t cap)
{
    char c[64], i[64], s[24];
    sanitize(campaign, 63, c, sizeof c);
    sanitize(instance, 63, i, sizeof i);
    sanitize(suffix, 20, s, sizeof s);
    char full[256];
    snprintf(full, sizeof full, "fc-%s-%s-%s", c, i, s);
    if (strlen(full) <= 63 && fc_valid_db_identifier(full) && !strcmp(c, campaign) &&
        !strcmp(i, instance)) {
        return fc_strlcpy(out, full, cap);
    }
    /* "fc-" + C + "-" + I + "-" + 8 hex + "-" + suffix  ≤ 63 */
    size_t fixed = 3 + 1 + 1 + 8 + 1 + strlen(s);
    size_t budget = fixed < 63 ? 63 - fixed : 0;
    size_t cb = budget / 2, ib = budget - cb;
    if (strlen(c) < cb) ib += cb - strlen(c);
    if (strlen(i) < ib) cb += ib - strlen(i);
    char c2[64], i2[64];
    sanitize(c, cb, c2, sizeof c2);
    sanitize(i, ib, i2, sizeof i2);
    char h[17];
    snprintf(h, sizeof h, "%016llx", (unsigned long long)fnv1a(campaign, instance));
    h[8] = 0;
    snprintf(full, sizeof full, "fc-%s%s%s%s%s-%s", c2, c2[0] ? "-" : "", i2, i2[0] ? "-" : "", h, s);
    return fc_valid_db_identifier(full) && fc_strlcpy(out, full, cap);
}
