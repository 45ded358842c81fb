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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: fleetcrypt-coordinator [--kafka-brokers B] [--redis-url U] [--topic-prefix P]\n"
                   "                              [--key-prefix K] [--node-id ID] [-X k=v]\n");
            return 0;
        }
        const char *name = !strcmp(a, "-X") ? "X" : (!strncmp(a, "--", 2) ? a + 2 : NULL);
        bool known = false;
        if (!name || i + 1 >= argc || !cfg_apply_flag(&cfg, name, argv[i + 1], &known, err, sizeof err)) {
            fprintf(stderr, "fleetcrypt-coordinator: %s\n", name && i + 1 < argc ? err : "bad arguments (try --help)");
            return 2;
        }
        i++;
    }
    if (!cfg_validate(&cfg, true, true, err, sizeof err)) {
        fprintf(stderr, "fleetcrypt-coordinator: %s\n", err);
        return 2;
    }
    char desc[2048];
    cfg_describe(&cfg, desc, sizeof desc);
    log_info("config", "%s", desc);
    return coord_run(&cfg);
}
