/* cli — the fleetcrypt command line: a dispatcher (main.c) and one file per
 * subcommand (submit.c, status.c, ...). Exit codes: 0 success, 2 bad usage
 * or bad input (one line on stderr), 1 any other failure; `submit --dry-run`
 * 3 when an instance would fail preflight; `wait` 3, 4, 5 (wait.c). */
#ifndef FC_CLI_H
#define FC_CLI_H

#include "cfg.h"
#include "rds.h"
#include "session.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2
#define CLI_DRY_RUN_FAILED 3 /* submit --dry-run: at least one instance would fail preflight */

typedef struct cli_cmd {
    const char *name;
    int (*run)(fc_config *cfg, int argc, char **argv);
    const char *usage;
    const char *help; /* shown by `fleetcrypt COMMAND --help`: what it does, examples */
} cli_cmd;

int cli_submit(fc_config *cfg, int argc, char **argv);
int cli_status(fc_config *cfg, int argc, char **argv);
int cli_abort(fc_config *cfg, int argc, char **argv);   /* ops.c */
int cli_approve(fc_config *cfg, int argc, char **argv); /* ops.c */
int cli_rollback(fc_config *cfg, int argc, char **argv); /* ops.c */
/* pg-logical's rollback window of one record (facts rb_state, rb_until_ms,
 * rb_lag_bytes) as {"state","ends_ms","ends_in_s","reverse_lag_bytes"},
 * NULL when the instance never had one; and as one line of text (false for
 * a non-object). status.c; also used by top and report. */
json_t *cli_rollback_json(const char *state, const char *until_ms, const char *lag, int64_t now_ms);
bool cli_rollback_line(const json_t *rb, char *out, size_t cap);
int cli_finalize(fc_config *cfg, int argc, char **argv); /* ops.c */
int cli_pause(fc_config *cfg, int argc, char **argv);   /* ops.c */
int cli_resume(fc_config *cfg, int argc, char **argv);  /* ops.c */
int cli_retry(fc_config *cfg, int argc, char **argv);   /* ops.c */
int cli_logs(fc_config *cfg, int argc, char **argv);    /* ops.c */
int cli_top(fc_config *cfg, int argc, char **argv);     /* top.c */
int cli_report(fc_config *cfg, int argc, char **argv);  /* report.c */
int cli_retire(fc_config *cfg, int argc, char **argv);  /* retire.c */
int cli_strategies(fc_config *cfg, int argc, char **argv); /* strategies.c */
int cli_wait(fc_config *cfg, int argc, char **argv);       /* wait.c */
/* The part of a command's --help that comes from the strategies'
 * descriptors (submit: each strategy's flags; abort: what each undoes). */
void cli_strategies_help(FILE *f, const char *command);

/* Shared by report.c and retire.c (defined in report.c). */
/* Value of field name in a hash read from the store, "" if absent. */
const char *cli_kv(const store_kv *h, const char *name);
/* Campaign retention in days: field retention_days, else spec.retention_days, else 30. */
int cli_retention_days(const store_kv *campaign_hash);
/* An AWS session for region (NULL/"" = the environment's), or NULL with the
 * reason printed; its client is aws_session_client(). No shared rate limit. */
/* Attempts per AWS call of the CLI (throttling and 5xx retried with the
 * SDKs' backoff); AWS_MAX_ATTEMPTS overrides. */
#define CLI_AWS_MAX_ATTEMPTS 8
aws_session *cli_aws(const char *region);
/* The same in another account: AssumeRole role_arn (external id may be
 * NULL) on top of the operator's credentials. */
aws_session *cli_aws_as(const char *region, const char *role_arn, const char *external_id);
/* The region as the AWS SDKs find it: cfg->region (--region, AWS_REGION,
 * AWS_DEFAULT_REGION), else the profile's (AWS_PROFILE / --profile). False
 * when there is none. */
bool cli_region(const fc_config *cfg, char *out, size_t cap);
/* Tag k present (with value v, or any value when v is NULL). */
bool cli_has_tag(const rds_instance *i, const char *k, const char *v);
/* The retired source of campaign/instance in l (tags role=retired-source, original-id, campaign), or NULL. */
const rds_instance *cli_find_retired(const rds_instance_list *l, const char *campaign,
                                            const char *instance);

/* A cluster's members fact (f.members: "id\t...\n" lines, the writer
 * first; worker/strategies/shared/awscluster.h) as a JSON array of ids. */
json_t *cli_members_json(const char *fact);

/* ms since the epoch → "YYYY-MM-DDTHH:MM:SS.mmmZ" (ops.c). */
void cli_fmt_time(int64_t ms, char *out, size_t cap);

/* An instance selector (`submit --select`, `report --select`, common.c):
 * "engine=postgres,encrypted=false,tag:env=dev,id-prefix=app-", terms joined
 * by ',', each KEY=VALUE; every term must hold. engine is also the
 * server-side filter of the one paginated DescribeDBInstances. */
#define CLI_SEL_MAX_TAGS 16
typedef struct cli_selector {
    char engine[32];
    int encrypted;          /* -1 any, 0, 1, 2: encrypted=not-campaign-key (submit only: unencrypted or
                             * encrypted with a key other than campaign_key, an AWS owned key included) */
    char campaign_key[256]; /* the campaign key's ARN, set by submit before matching */
    char id_prefix[64];
    aws_tag tags[CLI_SEL_MAX_TAGS];
    int ntags;
} cli_selector;
/* Parse text; CLI_OK or CLI_USAGE with "select: bad term '…'" printed.
 * "encrypted" takes true, false or not-campaign-key. */
int cli_selector_parse(const char *text, cli_selector *sel);
/* Every term of sel holds for i. */
bool cli_selector_match(const cli_selector *sel, const rds_instance *i);
/* One paginated DescribeDBInstances (engine as the server-side filter):
 * fn(ud, instance) for every matching instance; fn returns false to stop
 * (then *stopped is set). False with e filled when AWS fails. */
bool cli_selector_each(aws_client *c, const cli_selector *sel, bool (*fn)(void *ud, const rds_instance *i),
                       void *ud, bool *stopped, aws_error *e);

/* Print "fleetcrypt: <msg>" on stderr and return code. */
int cli_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse a subcommand's argv (argv[0] is its name) with lib/base/cfg.c's
 * getopt_long parser: its own options (opts rows, val handed to on_opt,
 * which returns CLI_GO or an exit code after printing why), the CLI's
 * common flags from the table (--redis-url, --key-prefix, --node-id),
 * --help (the command's usage and help from main.c's table, then the common
 * flags and the environment), --version, and --. CLI_GO with the operands
 * in argv[*first..argc-1], CLI_HELPED after --help/--version, else the
 * exit code. */
#define CLI_GO (-1)
#define CLI_HELPED (-2) /* --help or --version printed: main exits 0 */
struct option;
int cli_args(fc_config *cfg, int argc, char **argv, const struct option *opts, const char *shortopts,
             int (*on_opt)(void *ud, int val, const char *arg), void *ud, int *first);
/* The subcommand about to run (its name and help text for cli_args). */
void cli_set_command(const cli_cmd *cmd);
/* `-o/--output json|table` of status, top and logs (report takes csv, html
 * and a file too, report.c): *json set; CLI_GO, or CLI_USAGE with
 * "output: 'x' is not json or table" printed. */
int cli_output_arg(const char *arg, bool *json);
/* A JSON string of text that may hold bytes that are not UTF-8 (an error
 * from a server, a reason): each invalid byte becomes U+FFFD, so the
 * document always serializes. NULL or "" is JSON null when empty_null. */
json_t *cli_json_text(const char *text, bool empty_null);

/* Connect to Redis or print why. */
store *cli_store(const fc_config *cfg);

#ifdef FC_UNIT_TESTING
/* submit.c: argument and campaign-file checks alone (UNITTEST, for tests and
 * fuzz targets; argv[0] is "submit"); CLI_OK or CLI_USAGE, the campaign id and
 * the ids joined by '\n'. */
int submit_check_args(fc_config *cfg, int argc, char **argv, char *campaign, size_t ccap, char *ids,
                      size_t icap, int *nids);
#endif

#endif
