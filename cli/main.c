/* fleetcrypt — the CLI dispatcher: finds the subcommand and hands over.
 * Subcommands live one per file; the table below is the only place that
 * lists them (issue 7 adds top, approve, pause, resume, abort, retry, logs,
 * report, retire). */
#include "cfg.h"
#include "cli.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static const cli_cmd commands[] = {
    {"submit", cli_submit,
     "submit --campaign ID --kms-key KEY [--strategy pg-logical|offline] [--max-parallel N]\n"
     "                  [--region R] [--keep-snapshots] [--yes] [--dry-run] [--file CAMPAIGN.json]\n"
     "                  [INSTANCE_ID ... | -]"},
    {"status", cli_status, "status [CAMPAIGN] [--json]"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: fleetcrypt COMMAND [options]\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) fprintf(f, "  fleetcrypt %s\n", commands[i].usage);
    fprintf(f, "common options: --redis-url U --kafka-brokers B --topic-prefix P --key-prefix K -X k=v\n");
}

int main(int argc, char **argv)
{
    log_init("cli");
    log_set_level(LOG_WARN);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    fc_config cfg;
    char err[512];
    if (!cfg_from_env(&cfg, err, sizeof err)) return cli_err(CLI_USAGE, "%s", err);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, argv[1])) return commands[i].run(&cfg, argc - 2, argv + 2);
    return cli_err(CLI_USAGE, "unknown command '%s' (try --help)", argv[1]);
}
