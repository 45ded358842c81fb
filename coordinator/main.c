/* fleetcrypt-coordinator — wiring only: configuration (env, then flags:
 * the common ones of lib/base/cfg.c's table, -X key=value for librdkafka), logs,
 * then the loop (loop.c). Several may run: one is active. */
#include "cfg.h"
#include "coord.h"
#include "log.h"

#include <stdio.h>

static void help(FILE *f, void *ud)
{
    (void)ud;
    fprintf(f, "usage: fleetcrypt-coordinator [options]\n"
               "Admits instances, polls AWS, re-drives stuck steps (several may run: one is active).\n");
}

int main(int argc, char **argv)
{
    log_init("coordinator");
    fc_config cfg;
    const cfg_cmd cmd = {.prog = "fleetcrypt-coordinator", .bins = CFG_BIN_COORDINATOR, .help = help};
    int rc = cfg_daemon_args(&cfg, &cmd, true, true, argc, argv);
    if (rc != CFG_ARGS_OK) return rc;
    char desc[2048];
    cfg_describe(&cfg, desc, sizeof desc);
    log_info("config", "%s", desc);
    return coord_run(&cfg);
}
