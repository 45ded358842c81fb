/* fleetcrypt-worker — wiring only: configuration (env, then flags: the
 * common ones of lib/base/cfg.c's table, -X key=value for librdkafka), logs,
 * then the consumer loop (consumer.c). */
#include "cfg.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>

static void help(FILE *f, void *ud)
{
    (void)ud;
    fprintf(f, "usage: fleetcrypt-worker [options]\n"
               "Consumes step commands from Kafka and runs them (several workers share the work).\n");
}

int main(int argc, char **argv)
{
    log_init("worker");
    fc_config cfg;
    const cfg_cmd cmd = {.prog = "fleetcrypt-worker", .bins = CFG_BIN_WORKER, .help = help};
    int rc = cfg_daemon_args(&cfg, &cmd, true, true, argc, argv);
    if (rc != CFG_ARGS_OK) return rc;
    char desc[2048];
    cfg_describe(&cfg, desc, sizeof desc);
    log_info("config", "%s", desc);
    return worker_run(&cfg);
}
