/* fuzz_awscred — libFuzzer target for the ~/.aws config and credentials
 * parser (aws_profile_load, lib/awscred.c) and the ISO 8601 timestamps of
 * temporary credentials (aws_parse_iso8601). The input is split at the first
 * NUL byte into a config file and a credentials file. Any bytes load without
 * crashing or reading out of bounds; loading is deterministic; every value
 * read is a terminated string; and a profile found in neither file has no
 * value at all. */
#include "awscred.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char cfg_path[64], cred_path[64];

static void put(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(d, 1, n, f) != n) abort();
    fclose(f);
}

static void check_terminated(const aws_profile *p)
{
    const char *fields[] = {p->access_key_id, p->secret_access_key, p->session_token, p->role_arn,
                            p->source_profile, p->credential_source, p->web_identity_token_file,
                            p->role_session_name, p->external_id, p->region};
    const size_t caps[] = {sizeof p->access_key_id, sizeof p->secret_access_key, sizeof p->session_token,
                           sizeof p->role_arn, sizeof p->source_profile, sizeof p->credential_source,
                           sizeof p->web_identity_token_file, sizeof p->role_session_name,
                           sizeof p->external_id, sizeof p->region};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (!memchr(fields[i], 0, caps[i])) abort();
}

static bool empty_profile(const aws_profile *p)
{
    return !p->access_key_id[0] && !p->secret_access_key[0] && !p->session_token[0] && !p->role_arn[0] &&
           !p->source_profile[0] && !p->credential_source[0] && !p->web_identity_token_file[0] &&
           !p->role_session_name[0] && !p->external_id[0] && !p->region[0] && p->duration_seconds == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg_path[0]) {
        snprintf(cfg_path, sizeof cfg_path, "/dev/shm/fuzz_awscred.%d.config", (int)getpid());
        snprintf(cred_path, sizeof cred_path, "/dev/shm/fuzz_awscred.%d.credentials", (int)getpid());
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    put(cfg_path, data, n1);
    put(cred_path, nul ? nul + 1 : data + size, nul ? size - n1 - 1 : 0);

    static const char *const names[] = {"default", "dev", "prod"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        aws_profile a, b;
        aws_error e;
        memset(&e, 0, sizeof e);
        bool ok_a = aws_profile_load(cred_path, cfg_path, names[i], &a, &e);
        memset(&e, 0, sizeof e);
        bool ok_b = aws_profile_load(cred_path, cfg_path, names[i], &b, &e);
        if (ok_a != ok_b || memcmp(&a, &b, sizeof a) != 0) abort();
        if (ok_a) {
            check_terminated(&a);
            if (strcmp(a.name, names[i])) abort();
            if (!a.found && !empty_profile(&a)) abort();
        }
        aws_profile_wipe(&a);
        aws_profile_wipe(&b);
    }

    /* the same bytes as a timestamp */
    char ts[64];
    size_t tl = size < sizeof ts - 1 ? size : sizeof ts - 1;
    memcpy(ts, data, tl);
    ts[tl] = 0;
    int64_t ms = 0;
    (void)aws_parse_iso8601(ts, &ms);
    unlink(cfg_path);
    unlink(cred_path);
    return 0;
}
