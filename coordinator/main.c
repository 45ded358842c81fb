/* fleetcrypt-coordinator — wiring only: configuration (env, then flags),
 * logs, then the loop (loop.c). Several may run: one is active. */
#include "cfg.h"
#include "coord.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    log_init("coordinator");
    fc_config cfg;
    char err[512];
    if (!cfg_from_env(&cfg, err, sizeof err)) {
        fprintf(stderr, "fleetcrypt-coordinator: %s\n", err);
        return 2;
    }
    int pa = cfg_parse_args(&cfg, argc, argv, "fleetcrypt-coordinator",
                            "usage: fleetcrypt-coordinator [--kafka-brokers B] [--redis-url U] [--topic-prefix P]\n"
                   "                              [--key-prefix K] [--node-id ID] [--metrics-addr H:P]\n"
                   "                              [--retired-check-s S] [-X k=v]\n");
    if (pa != CFG_ARGS_OK) return pa;
    if (!cfg_validate(&cfg, true, true, err, sizeof err)) {
        fprintf(stderr, "fleetcrypt-coordinator: %s\n", err);
        return 2;
    }
    char desc[2048];
    cfg_describe(&cfg, desc, sizeof desc);
    log_info("config", "%s", desc);
    return coord_run(&cfg);
}
