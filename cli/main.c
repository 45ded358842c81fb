/* fleetcrypt — the CLI dispatcher: finds the subcommand and hands over.
 * Subcommands live one per file; the table below is the only place that
 * lists them, with their usage line and --help text (docs/cli.md mirrors
 * it). */
#include "cfg.h"
#include "cli.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const cli_cmd commands[] = {
    {"submit", cli_submit,
     "submit --campaign ID --kms-key KEY [--strategy NAME] [--max-parallel N]\n"
     "                  [--region R] [--keep-snapshots] [--yes] [--dry-run] [--file CAMPAIGN.json]\n"
     "                  [--select 'engine=E,encrypted=true|false,tag:K=V,id-prefix=P'] [INSTANCE_ID ... | -]\n"
     "                  [strategy options, below]",
     "Validate a fleet and enqueue a campaign (nothing is enqueued unless everything validates).\n"
     "--dry-run prints each instance's AWS-level preflight verdict (ok, skipped, failed) and\n"
     "enqueues nothing; it exits 3 when any instance would fail preflight, 0 when every one is\n"
     "ok or skipped (2 bad usage, 1 AWS or Redis failure). The confirmation names the caller\n"
     "(ARN and account, from STS GetCallerIdentity); it asks on a terminal, and off one --yes\n"
     "is required (exit 2 without it; a strategy that makes no AWS call is exempt).\n"
     "examples:\n"
     "  fleetcrypt submit --campaign q4 --kms-key alias/rds db1 db2 --yes\n"
     "  printf 'db1\\ndb2\\n' | fleetcrypt submit --campaign q4 --kms-key alias/rds - --yes\n"
     "  fleetcrypt submit --campaign dev --kms-key alias/rds --file campaign.json --dry-run || exit 1\n"
     "  fleetcrypt submit --campaign dev --kms-key alias/rds --select 'engine=postgres,encrypted=false,tag:env=dev'\n"},
    {"status", cli_status, "status [CAMPAIGN] [-o|--output json|table] [--json]",
     "Progress from Redis. Without CAMPAIGN: every campaign with its counts. -o json: one JSON\n"
     "document, numbers as numbers (--json is the same); -o table (default): for people.\n"
     "examples:\n"
     "  fleetcrypt status\n"
     "  fleetcrypt status q4 -o json | jq .counts\n"},
    {"top", cli_top, "top [CAMPAIGN] [--once] [--interval SECONDS] [-o|--output json|table]",
     "Live view: counts per state and step, progress, throughput (instances/hour over 5 and\n"
     "60 min, steps/min), ETA, AWS API rate vs budget, throttles, slowest and failed instances.\n"
     "Refreshes in place on a terminal (every 2 s); prints one line per refresh otherwise.\n"
     "Without CAMPAIGN: the most recent running campaign. -o json: one JSON snapshot of the\n"
     "same figures (numbers as numbers), then exit.\n"
     "examples:\n"
     "  fleetcrypt top q4\n"
     "  fleetcrypt top q4 -o json | jq .throughput\n"
     "  fleetcrypt top q4 --once\n"
     "  fleetcrypt top q4 --interval 10 >> progress.log\n"},
    {"wait", cli_wait, "wait CAMPAIGN [--for done|terminal] [--timeout SECONDS] [--interval SECONDS]",
     "Block until the campaign's outcome is known; for scripts and CI. --for done (default):\n"
     "until every instance is done or skipped, answering at once when one failed or was\n"
     "aborted; --for terminal: until nothing is pending or in flight. The last counts are one\n"
     "line on stdout. Exit: 0 every instance done or skipped, 3 an instance failed, 4 the\n"
     "campaign (or, without a failure, an instance) was aborted, 5 --timeout passed first,\n"
     "2 bad usage or no such campaign, 1 Redis unreachable for 60 s.\n"
     "examples:\n"
     "  fleetcrypt wait q4 --timeout 7200 && echo all encrypted\n"
     "  fleetcrypt wait q4 --for terminal; case $? in 3) fleetcrypt status q4 ;; esac\n"},
    {"approve", cli_approve, "approve CAMPAIGN [INSTANCE_ID ...]",
     "Approve cutover (campaigns submitted with --cutover approve). Without instances: the\n"
     "whole campaign, including instances that reach cutover later.\n"
     "examples:\n"
     "  fleetcrypt approve q4 db1 db2\n"
     "  fleetcrypt approve q4\n"},
    {"rollback", cli_rollback, "rollback CAMPAIGN [INSTANCE_ID ...]",
     "Campaigns with --rollback-window: cut back to the old source while its window is open\n"
     "(writers blocked on the encrypted instance, every write on it carried back, sequences set,\n"
     "switched back by the campaign's method, writers let in on the source; the encrypted\n"
     "instance is kept, blocked). Refused after finalize. Without instances: every instance.\n"
     "examples:\n"
     "  fleetcrypt rollback q4 db1\n"},
    {"finalize", cli_finalize, "finalize CAMPAIGN [INSTANCE_ID ...]",
     "Campaigns with --rollback-window: close the window now (reverse replication removed from\n"
     "both sides, then verify, replicas and cleanup retire the old source as without a window).\n"
     "Without instances: every instance.\n"
     "examples:\n"
     "  fleetcrypt finalize q4\n"},
    {"pause", cli_pause, "pause CAMPAIGN [INSTANCE_ID ...]",
     "Start no new step (running steps finish). Without instances: the whole campaign.\n"
     "examples:\n"
     "  fleetcrypt pause q4\n"
     "  fleetcrypt pause q4 db7\n"},
    {"resume", cli_resume, "resume CAMPAIGN [INSTANCE_ID ...]",
     "Undo pause: paused instances continue at once where they stopped.\n"
     "examples:\n"
     "  fleetcrypt resume q4\n"
     "  fleetcrypt resume q4 db7\n"},
    {"abort", cli_abort, "abort CAMPAIGN [INSTANCE_ID ...] [--yes] [--dry-run]",
     "Abort instances: pending ones end `aborted` at once; in-flight ones run their strategy's\n"
     "undo step (what each undoes is listed below; one without an undo step fails the instance\n"
     "with the reason). A failed instance that never switched is undone the same way; one that\n"
     "failed after the switch is left for retry. Without\n"
     "instances: every unfinished or failed instance, nothing more is admitted, and the campaign\n"
     "ends `aborted`: it asks on a terminal, and off one --yes is required. --dry-run prints\n"
     "what would happen to each instance and changes nothing.\n"
     "examples:\n"
     "  fleetcrypt abort q4 db3\n"
     "  fleetcrypt abort q4 --dry-run\n"
     "  fleetcrypt abort q4 --yes\n"},
    {"retry", cli_retry, "retry CAMPAIGN INSTANCE_ID",
     "Run a failed instance again from the step it failed in (after fixing the cause).\n"
     "example:\n"
     "  fleetcrypt retry q4 db3\n"},
    {"logs", cli_logs, "logs CAMPAIGN INSTANCE_ID [-f|--follow] [-o|--output json|table]",
     "The transition stream of one instance: time, step, attempt, outcome, from->to, reason.\n"
     "-f/--follow: then each new transition as it happens, until the instance is done, failed,\n"
     "skipped or aborted (exit 0) or the command is interrupted. -o json: one JSON object per\n"
     "transition and line (ts, ts_ms, step, attempt, outcome, from, to, next, duration_ms,\n"
     "reason; numbers as numbers).\n"
     "examples:\n"
     "  fleetcrypt logs q4 db3\n"
     "  fleetcrypt logs q4 db3 --follow -o json | jq -r .outcome\n"},
    {"report", cli_report,
     "report [CAMPAIGN | --select SEL] [-o|--output json|table|csv|html] [--format json|table|csv|html]\n"
     "                  [-o|--output FILE]",
     "Audit evidence: one row per instance (every campaign without CAMPAIGN) with its state, key\n"
     "before and after, cutover time, downtime, rows and tables verified, retired source and\n"
     "retain-until (finished + retention days, default 30), confirmed by one paginated\n"
     "DescribeDBInstances. JSON (default), a table, CSV, or one self-contained HTML page: -o\n"
     "names the format (--format is the same), or a file to write: a value with a '.' or '/'.\n"
     "examples:\n"
     "  fleetcrypt report q4 -o html -o q4-report.html\n"
     "  fleetcrypt report q4 -o table\n"
     "  fleetcrypt report q4 -o csv > q4.csv\n"
     "  fleetcrypt report | jq .summary\n"
     "  fleetcrypt report --select 'engine=postgres,encrypted=false,tag:env=dev' --format html --output fleet.html\n"},
    {"strategies", cli_strategies, "strategies [--json | --markdown | --completion]",
     "What this build's strategies are, from their descriptors: engines, steps, options (with\n"
     "allowed values and defaults), admission cost, what abort undoes, downtime. --json for tools,\n"
     "--markdown is docs/strategies.md. Reads nothing but the binary.\n"},
    {"retire", cli_retire,
     "retire CAMPAIGN [INSTANCE_ID ...] [--retention-days N] [--force] [--yes] [--dry-run]\n"
     "                  [--wait-timeout SECONDS]",
     "After the retention period (finished + N days; default the campaign's, else 30): take a\n"
     "final snapshot fc-<campaign>-<instance>-final of each finished instance's retired source\n"
     "(tagged fleetcrypt:role=retired-source), wait until it is available, then delete the\n"
     "source. Prints what it will delete first; refuses (exit 2) before the period unless\n"
     "--force; asks on a terminal unless --yes (stdin not a terminal: --yes is required).\n"
     "Safe to run again: the snapshot is reused, a source already gone is success.\n"
     "examples:\n"
     "  fleetcrypt retire q4 --dry-run\n"
     "  fleetcrypt retire q4 db1 db2\n"
     "  fleetcrypt retire q4 --force --yes   # before the retention period ends\n"},
};

static void usage(FILE *f, void *ud)
{
    (void)ud;
    fprintf(f, "usage: fleetcrypt [--help | --version] COMMAND [options]   (fleetcrypt COMMAND --help for examples)\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) fprintf(f, "  fleetcrypt %s\n", commands[i].usage);
}

static const cli_cmd *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

enum { OPT_HELP_ENV = 256 };

static int top_opt(void *ud, int val, const char *arg)
{
    (void)arg;
    if (val == OPT_HELP_ENV) { /* hidden: docs/configuration.md, from the table */
        cfg_print_markdown(stdout);
        *(bool *)ud = true;
    }
    return CFG_ARGS_OK;
}

int main(int argc, char **argv)
{
    log_init("cli");
    log_set_level(LOG_WARN);
    fc_config cfg;
    char err[512];
    /* options before COMMAND: only --help, --version (and the hidden --help-env) */
    static const struct option opts[] = {{"help-env", no_argument, NULL, OPT_HELP_ENV}, {NULL, 0, NULL, 0}};
    bool printed = false;
    const cfg_cmd top = {.prog = "fleetcrypt", .bins = CFG_BIN_CLI, .opts = opts, .shortopts = "+",
                         .on_opt = top_opt, .ud = &printed, .help = usage};
    bool env_ok = cfg_load(&cfg, CFG_BIN_CLI, err, sizeof err); /* refused below: --help and --version answer */
    int first = argc;
    int rc = cfg_getopt(&cfg, &top, argc, argv, &first);
    if (rc != CFG_ARGS_OK) return rc;
    if (printed) return CLI_OK;
    if (first >= argc) {
        usage(stderr, NULL);
        return CLI_USAGE;
    }
    const char *name = argv[first];
    if (!strcmp(name, "help")) { /* fleetcrypt help [COMMAND] */
        const cli_cmd *c = first + 1 < argc ? find(argv[first + 1]) : NULL;
        if (c) {
            printf("usage: fleetcrypt %s\n\n%s", c->usage, c->help);
            cli_strategies_help(stdout, c->name);
        } else {
            usage(stdout, NULL);
        }
        return CLI_OK;
    }
    const cli_cmd *cmd = find(name);
    if (!cmd) return cli_err(CLI_USAGE, "unknown command '%s' (try --help)", name);
    if (!env_ok) return cli_err(CLI_USAGE, "%s", err);
    cli_set_command(cmd);
    rc = cmd->run(&cfg, argc - first, argv + first);
    return rc == CLI_HELPED ? CLI_OK : rc;
}
