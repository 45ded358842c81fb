/* common — helpers shared by the CLI's subcommands: the error line, common
 * flags, the Redis connection, and the instance selector that `submit
 * --select` and `report --select` resolve the same way. */
#include "cli.h"
#include "dbuf.h"
#include "log.h"
#include "util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fleetcrypt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static const cli_cmd *g_cmd; /* the subcommand running (main.c sets it) */

void cli_set_command(const cli_cmd *cmd) { g_cmd = cmd; }

static void cmd_help(FILE *f, void *ud)
{
    (void)ud;
    if (!g_cmd) return;
    fprintf(f, "usage: fleetcrypt %s\n\n%s", g_cmd->usage, g_cmd->help);
    cli_strategies_help(f, g_cmd->name);
}

int cli_args(fc_config *cfg, int argc, char **argv, const struct option *opts, const char *shortopts,
             int (*on_opt)(void *ud, int val, const char *arg), void *ud, int *first)
{
    char prog[64];
    snprintf(prog, sizeof prog, "fleetcrypt %s", g_cmd ? g_cmd->name : (argc > 0 ? argv[0] : ""));
    const cfg_cmd cmd = {.prog = prog, .bins = CFG_BIN_CLI, .opts = opts, .shortopts = shortopts,
                         .on_opt = on_opt, .ud = ud, .help = cmd_help};
    int rc = cfg_getopt(cfg, &cmd, argc, argv, first);
    return rc == CFG_ARGS_OK ? CLI_GO : rc == CFG_ARGS_EXIT_OK ? CLI_HELPED : rc;
}

int cli_output_arg(const char *arg, bool *json)
{
    if (!strcmp(arg, "json")) *json = true;
    else if (!strcmp(arg, "table")) *json = false;
    else return cli_err(CLI_USAGE, "output: '%.40s' is not json or table", arg);
    return CLI_GO;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80) return 1;
    size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || (n == 2 && p[0] < 0xC2) || (n == 4 && p[0] > 0xF4)) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F))) return 0; /* overlong, surrogate */
    if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))) return 0;
    return n;
}

json_t *cli_json_text(const char *text, bool empty_null)
{
    if (!text || !*text) return empty_null ? json_null() : json_string("");
    json_t *j = json_string(text);
    if (j) return j;
    dbuf b;
    dbuf_init(&b, 4 * strlen(text) + 16);
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        size_t n = utf8_len(p);
        if (n) dbuf_append(&b, (const char *)p, n);
        else dbuf_appends(&b, "\xEF\xBF\xBD");
        p += n ? n : 1;
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    dbuf_free(&b);
    return j ? j : json_string("");
}

store *cli_store(const fc_config *cfg)
{
    char err[512];
    if (!cfg_validate(cfg, false, true, err, sizeof err)) {
        cli_err(CLI_USAGE, "%s", err);
        return NULL;
    }
    store *s = store_open(cfg, err, sizeof err);
    if (!s) cli_err(CLI_FAIL, "%s", err);
    return s;
}

int cli_selector_parse(const char *text, cli_selector *sel)
{
    memset(sel, 0, sizeof *sel);
    sel->encrypted = -1;
    if (!*text) return cli_err(CLI_USAGE, "select: empty selector");
    char buf[1024];
    if (!fc_strlcpy(buf, text, sizeof buf)) return cli_err(CLI_USAGE, "select: selector is too long");
    char *p = buf;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        char *term = p;
        p = comma ? comma + 1 : NULL;
        while (*term == ' ') term++;
        size_t tl = strlen(term);
        while (tl && term[tl - 1] == ' ') term[--tl] = 0;
        char *eq = strchr(term, '=');
        if (!eq || eq == term || !eq[1])
            return cli_err(CLI_USAGE, "select: bad term '%.80s' (want KEY=VALUE: engine, encrypted, tag:KEY, id-prefix)",
                           term);
        *eq = 0;
        const char *k = term, *v = eq + 1;
        if (!strcmp(k, "engine")) {
            if (sel->engine[0] || !fc_strlcpy(sel->engine, v, sizeof sel->engine))
                return cli_err(CLI_USAGE, "select: bad term 'engine=%.40s' (one engine name)", v);
        } else if (!strcmp(k, "encrypted")) {
            if (sel->encrypted != -1 || (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "not-campaign-key")))
                return cli_err(CLI_USAGE, "select: bad term 'encrypted=%.40s' (true, false or not-campaign-key, once)",
                               v);
            sel->encrypted = !strcmp(v, "not-campaign-key") ? 2 : !strcmp(v, "true");
        } else if (!strcmp(k, "id-prefix")) {
            if (sel->id_prefix[0] || !fc_strlcpy(sel->id_prefix, v, sizeof sel->id_prefix))
                return cli_err(CLI_USAGE, "select: bad term 'id-prefix=%.40s'", v);
        } else if (!strncmp(k, "tag:", 4) && k[4]) {
            if (sel->ntags >= CLI_SEL_MAX_TAGS)
                return cli_err(CLI_USAGE, "select: more than %d tag terms", CLI_SEL_MAX_TAGS);
            aws_tag *t = &sel->tags[sel->ntags++];
            if (!fc_strlcpy(t->key, k + 4, sizeof t->key) || !fc_strlcpy(t->value, v, sizeof t->value))
                return cli_err(CLI_USAGE, "select: bad term 'tag:%.40s' (too long)", k + 4);
        } else {
            return cli_err(CLI_USAGE, "select: bad term '%.40s=%.40s' (unknown key; want engine, encrypted, "
                                      "tag:KEY, id-prefix)", k, v);
        }
    }
    return CLI_OK;
}

bool cli_selector_match(const cli_selector *sel, const rds_instance *i)
{
    if (sel->engine[0] && strcmp(i->engine, sel->engine)) return false; /* also filtered server-side */
    if (sel->encrypted == 2) {
        /* not on the campaign key: unencrypted, or another key (ARNs or their key id tails) */
        const char *a = strrchr(i->kms_key_id, '/'), *b = strrchr(sel->campaign_key, '/');
        bool same = i->storage_encrypted && i->kms_key_id[0] &&
                    (!strcmp(i->kms_key_id, sel->campaign_key) || (a && b && !strcmp(a, b)));
        if (same) return false;
    } else if (sel->encrypted >= 0 && (int)i->storage_encrypted != sel->encrypted) {
        return false;
    }
    if (sel->id_prefix[0] && strncmp(i->identifier, sel->id_prefix, strlen(sel->id_prefix))) return false;
    for (int t = 0; t < sel->ntags; t++) {
        bool found = false;
        for (size_t k = 0; k < i->n_tags && !found; k++)
            found = !strcmp(i->tags[k].key, sel->tags[t].key) && !strcmp(i->tags[k].value, sel->tags[t].value);
        if (!found) return false;
    }
    return true;
}

typedef struct sel_each {
    const cli_selector *sel;
    bool (*fn)(void *ud, const rds_instance *i);
    void *ud;
    bool stopped;
} sel_each;

static bool sel_page(void *ud, const rds_instance_list *page)
{
    sel_each *w = ud;
    for (size_t k = 0; k < page->n; k++)
        if (cli_selector_match(w->sel, &page->v[k]) && !w->fn(w->ud, &page->v[k])) {
            w->stopped = true;
            return false;
        }
    return true;
}

bool cli_selector_each(aws_client *c, const cli_selector *sel, bool (*fn)(void *ud, const rds_instance *i),
                       void *ud, bool *stopped, aws_error *e)
{
    const char *engines[1] = {sel->engine};
    aws_filter f = {.name = "engine", .values = engines, .nvalues = 1};
    rds_describe_opts d;
    memset(&d, 0, sizeof d);
    d.max_records = 100;
    if (sel->engine[0]) {
        d.filters = &f;
        d.nfilters = 1;
    }
    sel_each w = {.sel = sel, .fn = fn, .ud = ud};
    bool ok = rds_describe_db_instances_each(c, &d, sel_page, &w, e);
    if (stopped) *stopped = w.stopped;
    return ok || w.stopped;
}

json_t *cli_members_json(const char *fact)
{
    json_t *a = json_array();
    while (fact && *fact) {
        size_t l = strcspn(fact, "\t\n");
        json_array_append_new(a, json_stringn(fact, l));
        fact += strcspn(fact, "\n");
        if (*fact) fact++;
    }
    return a;
}
