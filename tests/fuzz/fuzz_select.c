/* fuzz_select — libFuzzer target for the `--select` expression parser
 * (cli_selector_parse, cli/common.c; submit and report share it): any text
 * is accepted or refused with exit code 2, never a crash; an accepted
 * selector written back in its canonical form parses to the same selector,
 * and matches an instance built from its own terms. */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void format(const cli_selector *s, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
#define ADD(...) do { int w_ = snprintf(out + n, cap - n, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= cap - n) abort(); n += (size_t)w_; } while (0)
    if (s->engine[0]) ADD("%sengine=%s", n ? "," : "", s->engine);
    if (s->encrypted >= 0) ADD("%sencrypted=%s", n ? "," : "", s->encrypted ? "true" : "false");
    if (s->id_prefix[0]) ADD("%sid-prefix=%s", n ? "," : "", s->id_prefix);
    for (int t = 0; t < s->ntags; t++) ADD("%stag:%s=%s", n ? "," : "", s->tags[t].key, s->tags[t].value);
#undef ADD
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    cli_selector a, b;
    int rc = cli_selector_parse(text, &a);
    if (rc != CLI_OK && rc != CLI_USAGE) abort();
    if (rc == CLI_OK) {
        if (a.ntags < 0 || a.ntags > CLI_SEL_MAX_TAGS) abort();
        if (a.encrypted < -1 || a.encrypted > 1) abort();
        char canon[8192];
        format(&a, canon, sizeof canon);
        if (cli_selector_parse(canon, &b) != CLI_OK) abort();
        if (memcmp(&a, &b, sizeof a) != 0) abort();
        /* an instance carrying exactly the selected properties matches */
        rds_instance in;
        memset(&in, 0, sizeof in);
        snprintf(in.engine, sizeof in.engine, "%s", a.engine[0] ? a.engine : "postgres");
        in.storage_encrypted = a.encrypted == 1;
        snprintf(in.identifier, sizeof in.identifier, "%sx", a.id_prefix);
        aws_tag tags[CLI_SEL_MAX_TAGS];
        for (int t = 0; t < a.ntags; t++) tags[t] = a.tags[t];
        in.tags = tags;
        in.n_tags = (size_t)a.ntags;
        if (strlen(a.id_prefix) < sizeof in.identifier - 1 && strlen(a.engine) < sizeof in.engine &&
            !cli_selector_match(&a, &in))
            abort();
    }
    free(text);
    return 0;
}
