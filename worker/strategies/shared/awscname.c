/* awscname — see awscname.h. */
#include "awscname.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "route53.h"
#include "util.h"

#define POLL_MS 1000

static step_rc say(step_result *res, step_rc rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static step_rc say(step_result *res, step_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *fact(step_ctx *ctx, const char *name)
{
    const char *v = step_ctx_fact(ctx, name);
    return v ? v : "";
}

static bool same_name(const char *a, const char *b)
{
    char x[R53_NAME_MAX], y[R53_NAME_MAX];
    return r53_norm(a, x, sizeof x) && r53_norm(b, y, sizeof y) && !strcmp(x, y);
}

bool awscname_name_for(const char *field, const char *id, const aws_tag *tags, size_t ntags, char *out, size_t cap)
{
    out[0] = 0;
    const char *f = field;
    size_t idl = strlen(id);
    for (const char *p = f; p && *p;) {
        size_t l = strcspn(p, ",\n");
        while (l && (*p == ' ' || *p == '\t')) p++, l--;
        if (l > idl + 1 && !strncmp(p, id, idl) && p[idl] == '=') {
            size_t nl = l - idl - 1;
            if (nl + 1 > cap) return false;
            memcpy(out, p + idl + 1, nl);
            out[nl] = 0;
            while (nl && (out[nl - 1] == ' ' || out[nl - 1] == '\t')) out[--nl] = 0;
            return nl > 0;
        }
        p += l;
        if (*p) p++;
    }
    for (size_t i = 0; i < ntags; i++)
        if (!strcmp(tags[i].key, AWSCNAME_TAG) && tags[i].value[0]) return fc_strlcpy(out, tags[i].value, cap);
    return false;
}

/* The record as Route 53 has it now. */
static step_rc read_record(step_ctx *ctx, step_result *res, aws_client *c, r53_rrset *rr)
{
    bool found = false;
    aws_error e;
    aws_error_clear(&e);
    if (!r53_get_rrset(c, fact(ctx, "cname_zone"), fact(ctx, "cname_name"), "CNAME", rr, &found, &e))
        return awsstep_fail(res, &e, "ListResourceRecordSets");
    if (!found)
        return say(res, STEP_FAIL, "cname: the record %s (CNAME) is gone from zone %s", fact(ctx, "cname_name"),
                   fact(ctx, "cname_zone"));
    return STEP_OK;
}

/* UPSERT (value, ttl) under the intent fact `intent`; when an earlier run
 * may have acted (the intent was there) the record is read first and left
 * alone when it is that already and its change id is known. The change id
 * into fact change_fact (may be NULL). */
static step_rc upsert(step_ctx *ctx, step_result *res, aws_client *c, const char *intent, const char *value,
                      int64_t ttl, const char *change_fact, const char *why)
{
    if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
    step_intent in = step_ctx_intent(ctx, intent);
    if (in == STEP_INTENT_NO) return LEASE_LOST(res);
    r53_rrset rr;
    memset(&rr, 0, sizeof rr);
    if (in == STEP_INTENT_LOOK) {
        step_rc rc = read_record(ctx, res, c, &rr);
        if (rc != STEP_OK) return rc;
        if (same_name(rr.value, value) && rr.ttl == ttl && (!change_fact || *fact(ctx, change_fact)))
            return STEP_OK; /* done by an earlier run */
    }
    fc_strlcpy(rr.name, fact(ctx, "cname_name"), sizeof rr.name);
    fc_strlcpy(rr.type, "CNAME", sizeof rr.type);
    fc_strlcpy(rr.value, value, sizeof rr.value);
    rr.ttl = ttl;
    char comment[200], change[128];
    snprintf(comment, sizeof comment, "fleetcrypt %s %s: %s", step_ctx_campaign(ctx), step_ctx_instance(ctx), why);
    aws_error e;
    aws_error_clear(&e);
    if (!r53_upsert(c, fact(ctx, "cname_zone"), &rr, comment, change, sizeof change, &e))
        return awsstep_fail(res, &e, "ChangeResourceRecordSets");
    if (change_fact) step_ctx_set_fact(ctx, change_fact, change);
    log_info("cname: record changed", "name=%s ttl=%lld why=\"%s\" change=%s", rr.name, (long long)ttl, why, change);
    return STEP_OK;
}

/* Is change fact `change_fact` INSYNC? A missing id counts as not. With
 * busy non-NULL a GetChange that failed only for now (throttled or 5xx
 * after the client's own retries) is not the step's end: *busy is set and
 * the caller polls again (res->reason says why meanwhile). */
static step_rc insync(step_ctx *ctx, step_result *res, aws_client *c, const char *change_fact, bool *yes,
                      bool *busy)
{
    *yes = false;
    if (busy) *busy = false;
    const char *id = fact(ctx, change_fact);
    if (!*id) return STEP_OK;
    aws_error e;
    aws_error_clear(&e);
    if (!r53_change_insync(c, id, yes, &e)) {
        step_rc rc = awsstep_fail(res, &e, "GetChange");
        if (busy && rc == STEP_RETRY) {
            *busy = true;
            return STEP_OK;
        }
        return rc;
    }
    return STEP_OK;
}

step_rc awscname_learn(step_ctx *ctx, step_result *res, const char *name, const char *source_address)
{
    if (step_ctx_fact(ctx, "cname_ttl_try")) {
        /* fleetcrypt changed the record already: what it found is in the facts */
        if (!*fact(ctx, "cname_old_value") || !*fact(ctx, "cname_old_ttl"))
            return say(res, STEP_FAIL, "cname: the record's original value and TTL were not recorded");
        return STEP_OK;
    }
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    char zid[128], zname[R53_NAME_MAX], norm[R53_NAME_MAX];
    if (!r53_norm(name, norm, sizeof norm)) return say(res, STEP_FAIL, "cname: name too long");
    bool found = false;
    aws_error e;
    aws_error_clear(&e);
    if (!r53_zone_for(c, norm, zid, sizeof zid, zname, sizeof zname, &found, &e))
        return awsstep_fail(res, &e, "ListHostedZonesByName");
    if (!found)
        return say(res, STEP_FAIL, "cname: no hosted zone of this account holds %s (--cutover-method cname needs the "
                   "application's CNAME in Route 53)", norm);
    step_ctx_set_fact(ctx, "cname_name", norm);
    step_ctx_set_fact(ctx, "cname_zone", zid);
    r53_rrset rr;
    if (!r53_get_rrset(c, zid, norm, "CNAME", &rr, &found, &e)) return awsstep_fail(res, &e, "ListResourceRecordSets");
    if (!found)
        return say(res, STEP_FAIL, "cname: %s has no CNAME record in zone %s (%s)", norm, zname, zid);
    if (rr.nvalues != 1 || rr.ttl < 0)
        return say(res, STEP_FAIL, "cname: %s is not a simple CNAME with one value", norm);
    if (!same_name(rr.value, source_address))
        return say(res, STEP_FAIL, "cname: %s points at %s, not at the source's endpoint %s", norm, rr.value,
                   source_address);
    step_ctx_set_fact(ctx, "cname_old_value", rr.value);
    step_ctx_set_factf(ctx, "cname_old_ttl", "%lld", (long long)rr.ttl);
    log_info("cname: record found", "name=%s zone=%s ttl=%lld", norm, zid, (long long)rr.ttl);
    return STEP_OK;
}

step_rc awscname_lower_ttl(step_ctx *ctx, step_result *res, int64_t low_ttl, bool *ready, int64_t *wait_ms)
{
    *ready = false;
    *wait_ms = POLL_MS;
    int64_t old_ttl = awsstep_fact_i64(ctx, "cname_old_ttl", -1);
    if (old_ttl < 0 || !*fact(ctx, "cname_zone")) return say(res, STEP_FAIL, "cname: the record was never learnt");
    if (low_ttl > old_ttl) low_ttl = old_ttl;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    step_rc rc = STEP_OK;
    if (!*fact(ctx, "cname_ttl_change")) {
        step_ctx_set_factf(ctx, "cname_low_ttl", "%lld", (long long)low_ttl);
        rc = upsert(ctx, res, c, "cname_ttl_try", fact(ctx, "cname_old_value"), low_ttl, "cname_ttl_change",
                    "TTL lowered ahead of the cutover");
        if (rc != STEP_OK) return rc;
    }
    int64_t since = awsstep_fact_i64(ctx, "cname_ttl_insync_ms", 0);
    if (since <= 0) {
        bool yes = false;
        if ((rc = insync(ctx, res, c, "cname_ttl_change", &yes, NULL)) != STEP_OK) return rc;
        if (!yes) {
            say(res, STEP_WAIT, "cname: waiting for the lowered TTL of %s to be INSYNC", fact(ctx, "cname_name"));
            return STEP_OK;
        }
        since = fc_now_ms();
        step_ctx_set_factf(ctx, "cname_ttl_insync_ms", "%lld", (long long)since);
    }
    int64_t left = since + old_ttl * 1000 - fc_now_ms();
    if (left > 0) {
        *wait_ms = left < 30000 ? left + 50 : 30000;
        say(res, STEP_WAIT, "cname: waiting out the old TTL of %s (%llds left)", fact(ctx, "cname_name"),
            (long long)(left / 1000));
        return STEP_OK;
    }
    *ready = true;
    return STEP_OK;
}

step_rc awscname_switched(step_ctx *ctx, step_result *res, const char *target_address, bool *switched)
{
    *switched = false;
    if (!*fact(ctx, "cname_zone")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    r53_rrset rr;
    step_rc rc = read_record(ctx, res, c, &rr);
    if (rc != STEP_OK) return rc;
    *switched = *target_address && same_name(rr.value, target_address);
    return STEP_OK;
}

/* UPSERT the record to (value, ttl) under intent fact `intent` (change id
 * into `change`), then wait until GetChange says INSYNC, bounded by
 * deadline: the switch to the encrypted copy and the rollback's switch
 * back. Fact `mark` (epoch ms) once INSYNC; crash point `crash` (tests)
 * between the UPSERT and its outcome. */
static step_rc switch_to(step_ctx *ctx, step_result *res, const char *value, int64_t ttl, const char *intent,
                         const char *change, const char *mark, const char *crash, int64_t deadline, const char *why)
{
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    step_rc rc = STEP_OK;
    if (!*fact(ctx, change)) {
        /* Writers are blocked: an UPSERT throttled or failing with a 5xx
         * (made perhaps, its answer lost) is sent again until the deadline
         * (an UPSERT of the same value is idempotent) rather than ending
         * the step, whose re-run would learn the switch from the record and
         * lose the switch's snapshot verify compares (test_issue16_faults.py) */
        for (;;) {
            rc = upsert(ctx, res, c, intent, value, ttl, change, why);
            if (rc != STEP_RETRY || fc_mono_ms() > deadline || !step_ctx_lease_ok(ctx)) break;
            log_info("cname: change not confirmed; sending it again", "why=\"%s\"", res->reason);
            fc_sleep_ms(POLL_MS);
        }
        if (rc != STEP_OK) return rc;
        fc_crashpoint(crash); /* tests: switched, its change id lost with the worker */
    }
    /* Writers are blocked: a GetChange throttled or failing with a 5xx
     * (Route 53 allows 5 requests/s per account) is polled again until the
     * deadline, not a retry of the whole step, whose re-run learns the
     * switch from the record and so loses the switch's snapshot that verify
     * compares (found under AWS faults: test_issue16_faults.py). */
    for (;;) {
        bool yes = false, busy = false;
        if ((rc = insync(ctx, res, c, change, &yes, &busy)) != STEP_OK) return rc;
        if (yes) break;
        if (fc_mono_ms() > deadline) {
            res->wait_ms = 5000;
            return say(res, STEP_WAIT, "cname: waiting for the change of %s to %s to be INSYNC",
                       fact(ctx, "cname_name"), value);
        }
        if (!step_ctx_lease_ok(ctx)) return LEASE_LOST(res);
        fc_sleep_ms(busy ? POLL_MS : POLL_MS / 4);
    }
    res->reason[0] = 0;
    awsstep_mark(ctx, mark);
    log_info("cname: the name reaches its new value", "name=%s value=%s why=\"%s\"", fact(ctx, "cname_name"), value,
             why);
    return STEP_OK;
}

step_rc awscname_switch(step_ctx *ctx, step_result *res, const char *target_address, int64_t deadline)
{
    if (!*target_address) return say(res, STEP_FAIL, "cname: the encrypted instance's endpoint is unknown");
    int64_t ttl = awsstep_fact_i64(ctx, "cname_low_ttl", awsstep_fact_i64(ctx, "cname_old_ttl", 60));
    return switch_to(ctx, res, target_address, ttl, "cname_switch_try", "cname_switch_change", "cname_switched_ms",
                     "cutover.cname_upserted", deadline, "switched to the encrypted instance");
}

step_rc awscname_switch_back(step_ctx *ctx, step_result *res, int64_t deadline)
{
    const char *old = fact(ctx, "cname_old_value");
    int64_t old_ttl = awsstep_fact_i64(ctx, "cname_old_ttl", -1);
    if (!*old || old_ttl < 0) return say(res, STEP_FAIL, "cname: the record's original value and TTL are unknown");
    return switch_to(ctx, res, old, old_ttl, "cname_rb_try", "cname_rb_change", "cname_rb_switched_ms",
                     "rollback.cname_upserted", deadline,
                     "rollback: switched back to the source");
}

step_rc awscname_restore_ttl(step_ctx *ctx, step_result *res)
{
    if (!strcmp(fact(ctx, "cname_ttl_restored"), "1")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    r53_rrset rr;
    step_rc rc = read_record(ctx, res, c, &rr);
    if (rc != STEP_OK) return rc;
    int64_t old_ttl = awsstep_fact_i64(ctx, "cname_old_ttl", -1);
    if (old_ttl >= 0 && rr.ttl != old_ttl &&
        (rc = upsert(ctx, res, c, "cname_restore_try", rr.value, old_ttl, NULL, "old TTL restored")) != STEP_OK)
        return rc;
    step_ctx_set_fact(ctx, "cname_ttl_restored", "1");
    return STEP_OK;
}

step_rc awscname_roll_back(step_ctx *ctx, step_result *res)
{
    if (!step_ctx_fact(ctx, "cname_ttl_try") && !step_ctx_fact(ctx, "cname_switch_try")) return STEP_OK;
    aws_client *c = step_ctx_aws(ctx);
    if (!c) return NO_CLIENT(res);
    r53_rrset rr;
    step_rc rc = read_record(ctx, res, c, &rr);
    if (rc != STEP_OK) return rc;
    const char *old = fact(ctx, "cname_old_value");
    int64_t old_ttl = awsstep_fact_i64(ctx, "cname_old_ttl", -1);
    if (!*old || old_ttl < 0) return say(res, STEP_FAIL, "cname: the record's original value and TTL are unknown");
    if (same_name(rr.value, old) && rr.ttl == old_ttl) return STEP_OK;
    return upsert(ctx, res, c, "cname_back_try", old, old_ttl, NULL, "abort: value and TTL restored");
}
