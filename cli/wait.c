/* wait — `fleetcrypt wait CAMPAIGN [--for done|terminal] [--timeout S]
 * [--interval S]`: block until a campaign's outcome is known, for scripts
 * and CI. Reads the campaign hash (state, abort_requested) and its counts
 * hash every interval; writes nothing.
 *
 *   --for done      (default) until every instance is done or skipped, or
 *                   the outcome is already decided: an instance failed or
 *                   was aborted, or the campaign was aborted.
 *   --for terminal  until nothing is pending or in flight (the campaign
 *                   ended done or aborted), whatever the outcome.
 *
 * Exit codes (distinct, for `case $?`): 0 every instance done or skipped;
 * 3 an instance failed; 4 the campaign was aborted (or, without a failure,
 * an instance was); 5 the timeout passed first; 2 bad usage or no such
 * campaign; 1 Redis unreachable for WAIT_REDIS_GIVE_UP_MS. On exit the last
 * counts are one line on stdout; progress goes to stderr when the counts
 * change. */
#include "cli.h"
#include "store.h"
#include "store_model.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_FAILED 3
#define WAIT_ABORTED 4
#define WAIT_TIMEOUT 5
#define WAIT_REDIS_GIVE_UP_MS 60000

static const char *const STATES[] = {"pending", "running", "waiting_approval", "done", "failed", "skipped", "aborted"};
enum { S_PENDING, S_RUNNING, S_APPROVAL, S_DONE, S_FAILED, S_SKIPPED, S_ABORTED, S_N };

typedef struct wait_args {
    bool terminal;   /* --for terminal */
    double timeout;  /* seconds; 0 = none */
    double interval; /* seconds */
} wait_args;

typedef struct snapshot {
    char state[24];
    bool abort_requested;
    long long n[S_N];
    long long total;
} snapshot;

static int wait_opt(void *ud, int val, const char *arg)
{
    wait_args *a = ud;
    char *end = NULL;
    if (val == 'f') {
        if (!strcmp(arg, "done")) a->terminal = false;
        else if (!strcmp(arg, "terminal")) a->terminal = true;
        else return cli_err(CLI_USAGE, "for: '%.40s' is not done or terminal", arg);
    } else if (val == 't') {
        a->timeout = strtod(arg, &end);
        if (!*arg || *end || !(a->timeout >= 0) || a->timeout > 31 * 86400.0)
            return cli_err(CLI_USAGE, "timeout: '%.40s' is not a number of seconds >= 0 (0: none)", arg);
    } else if (val == 'i') {
        a->interval = strtod(arg, &end);
        if (!*arg || *end || !(a->interval >= 0.2) || a->interval > 3600)
            return cli_err(CLI_USAGE, "interval: '%.40s' is not a number of seconds in [0.2, 3600]", arg);
    }
    return CLI_GO;
}

/* 1 read, 0 no such campaign, -1 Redis error. */
static int read_snapshot(store *s, const char *campaign, snapshot *out)
{
    static const char *const cf[] = {"state", "abort_requested"};
    memset(out, 0, sizeof *out);
    store_kv c;
    if (!store_campaign_read(s, campaign, cf, FC_ARRAY_LEN(cf), &c)) return -1;
    if (!*kv_str(&c, "state")) {
        store_kv_free(&c);
        return 0;
    }
    fc_strlcpy(out->state, kv_str(&c, "state"), sizeof out->state);
    out->abort_requested = !strcmp(kv_str(&c, "abort_requested"), "1");
    store_kv_free(&c);
    store_kv k;
    if (!store_counts_read(s, campaign, STATES, S_N, &k)) return -1;
    for (int i = 0; i < S_N; i++) {
        long long v = strtoll(kv_str(&k, STATES[i]), NULL, 10);
        out->n[i] = v > 0 ? v : 0;
        out->total += out->n[i];
    }
    store_kv_free(&k);
    return 1;
}

static bool same(const snapshot *a, const snapshot *b)
{
    if (strcmp(a->state, b->state) || a->abort_requested != b->abort_requested) return false;
    for (int i = 0; i < S_N; i++)
        if (a->n[i] != b->n[i]) return false;
    return true;
}

static bool campaign_aborted(const snapshot *p) { return !strcmp(p->state, "aborted") || p->abort_requested; }

/* The exit code once the outcome is known, or -1 to keep waiting. */
static int outcome(const wait_args *a, const snapshot *p)
{
    bool finished = !strcmp(p->state, "done") || !strcmp(p->state, "aborted") ||
                    (p->total > 0 && p->n[S_PENDING] + p->n[S_RUNNING] + p->n[S_APPROVAL] == 0);
    bool decided = finished || (!a->terminal && (p->n[S_FAILED] > 0 || p->n[S_ABORTED] > 0 || campaign_aborted(p)));
    if (!decided) return -1;
    if (campaign_aborted(p)) return WAIT_ABORTED;
    if (p->n[S_FAILED] > 0) return WAIT_FAILED;
    if (p->n[S_ABORTED] > 0) return WAIT_ABORTED;
    return CLI_OK;
}

static void print_counts(FILE *f, const char *prefix, const char *campaign, const snapshot *p)
{
    fprintf(f, "%scampaign=%s state=%s", prefix, campaign, p->state);
    for (int i = 0; i < S_N; i++) fprintf(f, " %s=%lld", STATES[i], p->n[i]);
    fprintf(f, " total=%lld\n", p->total);
    fflush(f);
}

int cli_wait(fc_config *cfg, int argc, char **argv)
{
    wait_args wa = {.terminal = false, .timeout = 0, .interval = 2.0};
    static const struct option opts[] = {{"for", required_argument, NULL, 'f'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {NULL, 0, NULL, 0}};
    int first = argc;
    int rc0 = cli_args(cfg, argc, argv, opts, NULL, wait_opt, &wa, &first);
    if (rc0 != CLI_GO) return rc0;
    const char *campaign = NULL;
    for (int i = first; i < argc; i++) {
        if (!campaign) campaign = argv[i];
        else return cli_err(CLI_USAGE, "wait: one campaign at a time");
    }
    if (!campaign) return cli_err(CLI_USAGE, "wait: CAMPAIGN is required");
    if (!fc_valid_campaign_id(campaign)) return cli_err(CLI_USAGE, "campaign: invalid id '%.60s'", campaign);
    store *s = cli_store(cfg);
    if (!s) return CLI_FAIL;

    int64_t start = fc_mono_ms(), down_since = 0;
    int64_t deadline = wa.timeout > 0 ? start + (int64_t)(wa.timeout * 1000) : 0;
    int64_t step_ms = (int64_t)(wa.interval * 1000);
    snapshot cur, shown;
    memset(&shown, 0, sizeof shown);
    bool have = false;
    int rc;
    for (;;) {
        int r = read_snapshot(s, campaign, &cur);
        int64_t now = fc_mono_ms();
        if (r == 0) {
            rc = cli_err(CLI_USAGE, "no such campaign: %s", campaign);
            break;
        }
        if (r < 0) {
            if (!down_since) {
                down_since = now;
                fprintf(stderr, "fleetcrypt: wait: redis unreachable, retrying\n");
            } else if (now - down_since >= WAIT_REDIS_GIVE_UP_MS) {
                rc = cli_err(CLI_FAIL, "wait: redis unreachable for %d s", WAIT_REDIS_GIVE_UP_MS / 1000);
                break;
            }
        } else {
            down_since = 0;
            if (!have || !same(&cur, &shown)) {
                print_counts(stderr, "waiting: ", campaign, &cur);
                shown = cur;
                have = true;
            }
            rc = outcome(&wa, &cur);
            if (rc >= 0) {
                print_counts(stdout, "", campaign, &cur);
                break;
            }
        }
        if (deadline && now >= deadline) {
            if (have) print_counts(stdout, "", campaign, &shown);
            fprintf(stderr, "fleetcrypt: wait: timeout after %.1f s (campaign %s not %s yet)\n", wa.timeout,
                    campaign, wa.terminal ? "finished" : "done");
            rc = WAIT_TIMEOUT;
            break;
        }
        int64_t nap = step_ms;
        if (deadline && deadline - now < nap) nap = deadline - now > 0 ? deadline - now : 0;
        fc_sleep_ms(nap);
    }
    store_close(s);
    return rc;
}
