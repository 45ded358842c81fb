/* cli — the fleetcrypt command line: a dispatcher (main.c) and one file per
 * subcommand (submit.c, status.c, ...). Exit codes: 0 success, 2 bad usage
 * or bad input (one line on stderr), 1 any other failure. */
#ifndef FC_CLI_H
#define FC_CLI_H

#include "cfg.h"
#include "store.h"

#include <stdbool.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

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
int cli_pause(fc_config *cfg, int argc, char **argv);   /* ops.c */
int cli_resume(fc_config *cfg, int argc, char **argv);  /* ops.c */
int cli_retry(fc_config *cfg, int argc, char **argv);   /* ops.c */
int cli_logs(fc_config *cfg, int argc, char **argv);    /* ops.c */
int cli_top(fc_config *cfg, int argc, char **argv);     /* top.c */
int cli_report(fc_config *cfg, int argc, char **argv);  /* report.c */
int cli_retire(fc_config *cfg, int argc, char **argv);  /* retire.c */

/* Shared by report.c and retire.c (defined in report.c). */
struct rds_instance;
struct rds_instance_list;
struct aws_client;
/* Value of field name in an HGETALL reply, "" if absent. */
const char *cli_kv(const redisReply *r, const char *name);
/* Campaign retention in days: field retention_days, else spec.retention_days, else 30. */
int cli_retention_days(const redisReply *campaign_hash);
/* An AWS client for region (NULL/"" = the environment's), or NULL with the reason printed. */
struct aws_client *cli_aws(const char *region);
/* Tag k present (with value v, or any value when v is NULL). */
bool cli_has_tag(const struct rds_instance *i, const char *k, const char *v);
/* The retired source of campaign/instance in l (tags role=retired-source, original-id, campaign), or NULL. */
const struct rds_instance *cli_find_retired(const struct rds_instance_list *l, const char *campaign,
                                            const char *instance);

/* ms since the epoch → "YYYY-MM-DDTHH:MM:SS.mmmZ" (ops.c). */
void cli_fmt_time(int64_t ms, char *out, size_t cap);

/* Print "fleetcrypt: <msg>" on stderr and return code. */
int cli_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Apply a common config flag (--redis-url ...). Returns 1 applied (consumed
 * argv[i+1]), 0 not a config flag, -1 invalid (message printed). */
int cli_config_flag(fc_config *cfg, int argc, char **argv, int i);
/* Connect to Redis or print why. */
store *cli_store(const fc_config *cfg);

#endif
