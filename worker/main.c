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
    int pa = cfg_parse_args(&cfg, argc, argv, "fleetcrypt-worker",
                            "usage: fleetcrypt-worker [--kafka-brokers B] [--redis-url U] [--topic-prefix P]\n"
                   "                         [--key-prefix K] [--executors N] [--node-id ID] [-X k=v]\n");
    if (pa != CFG_ARGS_OK) return pa;
    if (!cfg_validate(&cfg, true, true, err, sizeof err)) {
        fprintf(stderr, "fleetcrypt-worker: %s\n", err);
        return 2;
    }
    char desc[2048];
    cfg_describe(&cfg, desc, sizeof desc);
    log_info("config", "%s", desc);
    return worker_run(&cfg);
}
