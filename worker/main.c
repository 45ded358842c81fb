/* fleetcrypt-worker — wiring only: configuration (env, then flags), logs,
 * then the consumer loop (consumer.c). Flags: any common option as
 * --name value (see lib/cfg.c), -X key=value for librdkafka. */
#include "cfg.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    log_init("worker");
    fc_config cfg;
    char err[512];
    if (!cfg_from_env(&cfg, err, sizeof err)) {
        fprintf(stderr, "fleetcrypt-worker: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: fleetcrypt-worker [--kafka-brokers B] [--redis-url U] [--topic-prefix P]\n"
                   "                         [--key-prefix K] [--executors N] [--node-id ID] [-X k=v]\n");
            return 0;
        }
        const char *name = !strcmp(a, "-X") ? "X" : (!strncmp(a, "--", 2) ? a + 2 : NULL);
        bool known = false;
        if (!name || i + 1 >= argc || !cfg_apply_flag(&cfg, name, argv[i + 1], &known, err, sizeof err)) {
            fprintf(stderr, "fleetcrypt-worker: %s\n", name && i + 1 < argc ? err : "bad arguments (try --help)");
            return 2;
        }
        i++;
    }
    if (!cfg_validate(&cfg, true, true, err, sizeof err)) {
        fprintf(stderr, "fleetcrypt-worker: %s\n", err);
        return 2;
    }
    char desc[2048];
    cfg_describe(&cfg, desc, sizeof desc);
    log_info("config", "%s", desc);
    return worker_run(&cfg);
}
