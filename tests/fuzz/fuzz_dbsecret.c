/* fuzz_dbsecret — libFuzzer target for the db-secret parsers (lib/dbsecret.c):
 * the --db-secret reference (dbsecret_parse) and the secret's JSON
 * (dbsecret_from_json, the Secrets Manager string or the file:PATH form).
 * Any text is accepted or refused with a reason. An accepted reference,
 * formatted canonically, parses to the same reference; accepted credentials
 * have a user name, and a refusal leaves nothing of the secret behind. */
#include "dbsecret.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;

    dbsecret_ref r, back;
    char err[512] = "";
    if (dbsecret_parse(text, &r, err, sizeof err)) {
        char canon[1100];
        dbsecret_format(&r, canon, sizeof canon);
        err[0] = 0;
        if (!dbsecret_parse(canon, &back, err, sizeof err)) abort();
        if (memcmp(&r, &back, sizeof r) != 0) abort();
        if (r.kind == DBSECRET_FILE && r.value[0] != '/') abort();
    } else if (!err[0]) {
        abort();
    }

    static const char *const ids[] = {"db-1", "a", NULL};
    for (int i = 0; i < 3; i++) {
        db_credentials c;
        err[0] = 0;
        if (dbsecret_from_json(text, ids[i], &c, err, sizeof err)) {
            if (!c.username[0]) abort();
            if (!memchr(c.username, 0, sizeof c.username) || !memchr(c.password, 0, sizeof c.password)) abort();
        } else {
            if (!err[0]) abort();
            static const db_credentials zero;
            if (memcmp(&c, &zero, sizeof c) != 0) abort(); /* nothing left behind */
        }
    }
    free(text);
    return 0;
}
