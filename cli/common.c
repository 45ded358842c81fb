/* common — helpers shared by the CLI's subcommands. */
#include "cli.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fleetcrypt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_config_flag(fc_config *cfg, int argc, char **argv, int i)
{
    const char *a = argv[i];
    const char *name = !strcmp(a, "-X") ? "X" : (!strncmp(a, "--", 2) ? a + 2 : NULL);
    if (!name) return 0;
    static const char *const common[] = {"kafka-brokers", "redis-url", "topic-prefix", "key-prefix",
                                         "node-id", "metrics-addr", "executors", "X", NULL};
    bool is_common = false;
    for (int k = 0; common[k]; k++)
        if (!strcmp(common[k], name)) is_common = true;
    if (!is_common) return 0;
    if (i + 1 >= argc) {
        cli_err(CLI_USAGE, "%s needs a value", a);
        return -1;
    }
    char err[256];
    bool known = false;
    if (!cfg_apply_flag(cfg, name, argv[i + 1], &known, err, sizeof err)) {
        cli_err(CLI_USAGE, "%s", err);
        return -1;
    }
    return 1;
}

store *cli_store(const fc_config *cfg)
{
    char err[512];
    if (!cfg_validate(cfg, false, true, err, sizeof err)) {
        cli_err(CLI_USAGE, "%s", err);
        return NULL;
    }
    store *s = store_open(cfg, err, sizeof err);
    if (!s) cli_err(CLI_FAIL, "%s", err);
    return s;
}
