/* fuzz_campaign_file — libFuzzer target for the campaign file `submit --file`
 * reads (cli/submit.c, through submit_check_args: the same checks submit
 * runs before any Redis or AWS call, including the selector, --window and
 * --db-secret found in the file). Any bytes are accepted or refused with
 * exit code 2, never a crash or a leak. An accepted file names a valid
 * campaign id and valid, distinct instance ids, and reading it again gives
 * the same result. */
#include "cli.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/dev/shm/fuzz_campaign_file.%d.json", (int)getpid());
    /* every refusal prints its one line on stderr: run with -close_fd_mask=2
     * (tests/run does) to keep libFuzzer's own output readable */
    return 0;
}

static int check(fc_config *cfg, char *campaign, size_t ccap, char *ids, size_t icap, int *nids)
{
    char *argv[] = {"submit", "--file", path, NULL}; /* argv[0] is the subcommand (getopt_long) */
    return submit_check_args(cfg, 3, argv, campaign, ccap, ids, icap, nids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    fc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.region, sizeof cfg.region, "us-east-1");
    static char ids1[1 << 16], ids2[1 << 16];
    char c1[64], c2[64];
    int n1 = 0, n2 = 0;
    int rc = check(&cfg, c1, sizeof c1, ids1, sizeof ids1, &n1);
    if (rc != CLI_OK && rc != CLI_USAGE) abort();
    if (rc == CLI_OK) {
        if (!fc_valid_campaign_id(c1)) abort();
        /* valid and distinct ids */
        char *save = ids1;
        int seen = 0;
        for (char *p = ids1; n1 && p; seen++) {
            char *nl = strchr(p, '\n');
            if (nl) *nl = 0;
            if (!fc_valid_db_identifier(p)) abort();
            for (char *q = save; q < p; q += strlen(q) + 1)
                if (!strcmp(q, p)) abort();
            p = nl ? nl + 1 : NULL;
        }
        if (n1 && seen != n1 && strlen(ids1) < sizeof ids1 - 64) abort();
        /* a second read gives the same answer */
        memset(&cfg, 0, sizeof cfg);
        snprintf(cfg.region, sizeof cfg.region, "us-east-1");
        if (check(&cfg, c2, sizeof c2, ids2, sizeof ids2, &n2) != CLI_OK) abort();
        if (strcmp(c1, c2) || n1 != n2) abort();
    }
    unlink(path);
    return 0;
}
