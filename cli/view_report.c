/* view_report — see view_report.h. */
#include "view_report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *jstr_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

static json_t *count_or_null(long long v) { return v >= 0 ? json_integer(v) : json_null(); }

/* DMS's per-table statistics (fact dms_table_stats): table names and
 * counts, never values. */
static json_t *dms_tables_json(const report_row *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->ndms_tables; i++) {
        const report_dms_table *t = &r->dms_tables[i];
        json_t *o = json_object();
        json_object_set_new(o, "table", json_string(t->name));
        json_object_set_new(o, "inserts", json_integer(t->inserts));
        json_object_set_new(o, "updates", json_integer(t->updates));
        json_object_set_new(o, "deletes", json_integer(t->deletes));
        json_object_set_new(o, "ddls", count_or_null(t->ddls));
        json_object_set_new(o, "full_load_rows", count_or_null(t->full_load_rows));
        json_object_set_new(o, "validation", strcmp(t->validation, "-") ? json_string(t->validation) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

/* One table's statistics as text: "db/schema.table ins=1 upd=2 del=0 ddl=0 load=5 validation=X". */
static void dms_table_text(const report_dms_table *t, char *out, size_t cap)
{
    char ddl[24] = "?", load[24] = "?";
    if (t->ddls >= 0) snprintf(ddl, sizeof ddl, "%lld", t->ddls);
    if (t->full_load_rows >= 0) snprintf(load, sizeof load, "%lld", t->full_load_rows);
    snprintf(out, cap, "%s ins=%lld upd=%lld del=%lld ddl=%s load=%s validation=%s", t->name, t->inserts, t->updates,
             t->deletes, ddl, load, t->validation);
}

/* Every table's statistics in one cell (CSV), "; "-separated. */
static bool dms_tables_cell(const report_row *r, dbuf *out)
{
    bool ok = true;
    for (size_t i = 0; i < r->ndms_tables && ok; i++) {
        char line[400];
        dms_table_text(&r->dms_tables[i], line, sizeof line);
        ok = dbuf_appends(out, i ? "; " : "") && dbuf_appends(out, line);
    }
    if (ok && r->dms_tables_more > 0) ok = dbuf_printf(out, "; +%lld more tables", r->dms_tables_more);
    return ok;
}

/* DMS's evidence: null without DMS (has_dms); validation null when
 * DMS's validation did not run (--dms-validation fleetcrypt); tables: the
 * task's per-table statistics ([] before the cutover recorded them). */
static json_t *dms_json(const report_row *r)
{
    if (!r->has_dms) return json_null();
    json_t *d = json_object();
    json_object_set_new(d, "apply_exceptions",
                        r->dms_apply_exceptions >= 0 ? json_integer(r->dms_apply_exceptions) : json_null());
    json_object_set_new(d, "tables", dms_tables_json(r));
    json_object_set_new(d, "tables_omitted", json_integer(r->dms_tables_more));
    if (r->dms_val_tables < 0) {
        json_object_set_new(d, "validation", json_null());
        return d;
    }
    json_t *v = json_object(), *mis = json_array();
    json_object_set_new(v, "tables", json_integer(r->dms_val_tables));
    json_object_set_new(v, "validated", json_integer(r->dms_val_validated));
    json_object_set_new(v, "failures", json_integer(r->dms_val_failures));
    for (const char *p = r->dms_val_mismatched; *p;) {
        size_t l = strcspn(p, ",");
        json_array_append_new(mis, json_stringn(p, l));
        p += l + (p[l] == ',');
    }
    json_object_set_new(v, "mismatched", mis);
    json_object_set_new(v, "error", r->dms_val_error[0] ? json_string(r->dms_val_error) : json_null());
    json_object_set_new(d, "validation", v);
    return d;
}

/* The same as one line (CSV, HTML): "" for other strategies. */
static void dms_text(const report_row *r, char *out, size_t cap)
{
    out[0] = 0;
    if (!r->has_dms) return;
    char ae[32] = "?";
    if (r->dms_apply_exceptions >= 0) snprintf(ae, sizeof ae, "%lld", r->dms_apply_exceptions);
    if (r->dms_val_tables < 0)
        snprintf(out, cap, "DMS validation not run; apply exceptions %s", ae);
    else if (r->dms_val_error[0])
        snprintf(out, cap, "DMS validation error: %.120s; apply exceptions %s", r->dms_val_error, ae);
    else
        snprintf(out, cap, "DMS validation %lld/%lld tables validated, %lld failures%s%.150s; apply exceptions %s",
                 r->dms_val_validated, r->dms_val_tables, r->dms_val_failures,
                 r->dms_val_mismatched[0] ? " in " : "", r->dms_val_mismatched, ae);
}

bool report_render_json(const report_meta *m, const report_row *rows, size_t n, dbuf *out)
{
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "title", json_string(m->title));
    json_object_set_new(root, "generated_at", json_string(m->generated_at));
    json_object_set_new(root, "generated_by", json_string(m->generated_by));
    size_t done = 0, failed = 0, unmanaged = 0;
    for (size_t i = 0; i < n; i++) {
        const report_row *r = &rows[i];
        json_t *o = json_object(), *tabs = json_array();
        bool in_c = !r->unmanaged; /* before/after apply to campaign instances only */
        json_object_set_new(o, "instance", json_string(r->instance));
        json_object_set_new(o, "kind", json_string(r->kind[0] ? r->kind : "instance"));
        if (r->members[0]) {
            json_t *mem = json_array();
            for (const char *p = r->members; *p;) {
                size_t l = strcspn(p, ",");
                json_array_append_new(mem, json_stringn(p, l));
                p += l + (p[l] == ',');
            }
            json_object_set_new(o, "members", mem);
        }
        json_object_set_new(o, "campaign", in_c ? json_string(r->campaign) : json_null());
        json_object_set_new(o, "state", json_string(r->state));
        json_object_set_new(o, "strategy", jstr_or_null(r->strategy));
        json_object_set_new(o, "encrypted_before", in_c ? json_boolean(r->encrypted_before) : json_null());
        json_object_set_new(o, "key_before", jstr_or_null(r->key_before));
        json_object_set_new(o, "encrypted_after", in_c ? json_boolean(r->encrypted_after) : json_null());
        json_object_set_new(o, "key_after", jstr_or_null(r->key_after));
        json_object_set_new(o, "cutover_at", jstr_or_null(r->cutover_at));
        json_object_set_new(o, "downtime_s", r->downtime_s >= 0 ? json_real(r->downtime_s) : json_null());
        if (r->rb_state[0]) {
            json_t *rb = json_object();
            json_object_set_new(rb, "state", json_string(r->rb_state));
            json_object_set_new(rb, "ends_at", jstr_or_null(r->rb_until));
            json_object_set_new(rb, "reverse_lag_bytes", r->rb_lag_bytes >= 0 ? json_integer(r->rb_lag_bytes) : json_null());
            json_object_set_new(o, "rollback_window", rb);
        } else {
            json_object_set_new(o, "rollback_window", json_null());
        }
        json_object_set_new(o, "rows_verified", r->rows_verified >= 0 ? json_integer(r->rows_verified) : json_null());
        json_object_set_new(o, "tables_verified", json_integer(r->tables_verified));
        for (size_t t = 0; t < r->ntables; t++) {
            json_t *to = json_object();
            json_object_set_new(to, "table", json_string(r->tables[t].name));
            json_object_set_new(to, "rows", json_integer(r->tables[t].rows));
            json_object_set_new(to, "checksum", json_string(r->tables[t].checksum));
            json_array_append_new(tabs, to);
        }
        json_object_set_new(o, "tables", tabs);
        json_object_set_new(o, "retired_source", jstr_or_null(r->retired_source));
        if (r->target_account[0]) json_object_set_new(o, "target_account", json_string(r->target_account));
        json_object_set_new(o, "retain_until", jstr_or_null(r->retain_until));
        json_object_set_new(o, "error", jstr_or_null(r->error));
        json_object_set_new(o, "engine", jstr_or_null(r->engine));
        json_object_set_new(o, "encrypted_now", r->now_known ? json_boolean(r->encrypted_now) : json_null());
        json_object_set_new(o, "key_now", jstr_or_null(r->key_now));
        json_object_set_new(o, "migrated_by_fleetcrypt", json_boolean(in_c && !strcmp(r->state, "done")));
        json_object_set_new(o, "encryption_before", in_c ? jstr_or_null(r->enc_before) : json_null());
        json_object_set_new(o, "encryption_after", in_c ? jstr_or_null(r->enc_after) : json_null());
        json_object_set_new(o, "encryption_now", r->now_known ? jstr_or_null(r->enc_now) : json_null());
        json_object_set_new(o, "dms", dms_json(r));
        json_array_append_new(arr, o);
        done += !strcmp(r->state, "done");
        failed += !strcmp(r->state, "failed");
        unmanaged += r->unmanaged;
    }
    json_t *sum = json_object();
    json_object_set_new(sum, "instances", json_integer((json_int_t)n));
    json_object_set_new(sum, "done", json_integer((json_int_t)done));
    json_object_set_new(sum, "failed", json_integer((json_int_t)failed));
    json_object_set_new(sum, "not_migrated", json_integer((json_int_t)unmanaged));
    json_object_set_new(root, "summary", sum);
    json_object_set_new(root, "instances", arr);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    bool ok = text && dbuf_appends(out, text) && dbuf_appends(out, "\n");
    free(text);
    return ok;
}

/* RFC 4180 cell; formula-looking cells get a leading quote (CSV injection). */
static bool csv_cell(dbuf *out, const char *s, bool last)
{
    bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';
    bool ok = dbuf_appends(out, "\"") && (!formula || dbuf_appends(out, "'"));
    for (const char *p = s; *p && ok; p++) ok = *p == '"' ? dbuf_appends(out, "\"\"") : dbuf_append(out, p, 1);
    return ok && dbuf_appends(out, last ? "\"\r\n" : "\",");
}

bool report_render_csv(const report_meta *m, const report_row *rows, size_t n, dbuf *out)
{
    (void)m;
    static const char *hdr[] = {"instance", "campaign", "state", "strategy", "encrypted_before", "key_before",
                                "encrypted_after", "key_after", "cutover_at", "downtime_s", "rows_verified",
                                "tables_verified", "retired_source", "retain_until", "error", "engine",
                                "encrypted_now", "key_now", "migrated_by_fleetcrypt", "encryption_before",
                                "encryption_after", "encryption_now", "dms_evidence", "dms_tables"};
    const size_t nh = sizeof hdr / sizeof hdr[0];
    bool ok = true;
    for (size_t i = 0; i < nh && ok; i++) ok = csv_cell(out, hdr[i], i == nh - 1);
    for (size_t i = 0; i < n && ok; i++) {
        const report_row *r = &rows[i];
        char dt[32] = "", rv[32] = "", tv[16];
        if (r->downtime_s >= 0) snprintf(dt, sizeof dt, "%.3f", r->downtime_s);
        if (r->rows_verified >= 0) snprintf(rv, sizeof rv, "%lld", r->rows_verified);
        snprintf(tv, sizeof tv, "%d", r->tables_verified);
        bool in_c = !r->unmanaged;
        char dms[400];
        dms_text(r, dms, sizeof dms);
        dbuf tabs;
        dbuf_init(&tabs, 1 << 20);
        ok = dms_tables_cell(r, &tabs);
        const char *cells[] = {r->instance, r->campaign, r->state, r->strategy,
                               !in_c ? "" : r->encrypted_before ? "true" : "false", r->key_before,
                               !in_c ? "" : r->encrypted_after ? "true" : "false", r->key_after, r->cutover_at, dt, rv, tv,
                               r->retired_source, r->retain_until, r->error, r->engine,
                               !r->now_known ? "" : r->encrypted_now ? "true" : "false", r->key_now,
                               in_c && !strcmp(r->state, "done") ? "true" : "false", in_c ? r->enc_before : "",
                               in_c ? r->enc_after : "", r->now_known ? r->enc_now : "", dms,
                               tabs.data ? tabs.data : ""};
        for (size_t c = 0; c < nh && ok; c++) ok = csv_cell(out, cells[c], c == nh - 1);
        dbuf_free(&tabs);
    }
    return ok;
}

static bool html_text(dbuf *out, const char *s)
{
    bool ok = true;
    for (const char *p = s; *p && ok; p++) {
        switch (*p) {
        case '<': ok = dbuf_appends(out, "&lt;"); break;
        case '>': ok = dbuf_appends(out, "&gt;"); break;
        case '&': ok = dbuf_appends(out, "&amp;"); break;
        case '"': ok = dbuf_appends(out, "&quot;"); break;
        case '\'': ok = dbuf_appends(out, "&#39;"); break;
        default: ok = dbuf_append(out, p, 1);
        }
    }
    return ok;
}

static bool td(dbuf *out, const char *cls, const char *text)
{
    return dbuf_printf(out, "<td class=\"%s\">", cls) && html_text(out, text) && dbuf_appends(out, "</td>");
}

bool report_render_html(const report_meta *m, const report_row *rows, size_t n, dbuf *out)
{
    size_t done = 0, failed = 0, skipped = 0, unmanaged = 0;
    long long rows_total = 0;
    for (size_t i = 0; i < n; i++) {
        unmanaged += rows[i].unmanaged;
        done += !strcmp(rows[i].state, "done");
        failed += !strcmp(rows[i].state, "failed");
        skipped += !strcmp(rows[i].state, "skipped");
        if (rows[i].rows_verified > 0) rows_total += rows[i].rows_verified;
    }
    bool ok = dbuf_appends(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fleetcrypt report — ") &&
              html_text(out, m->title) &&
              dbuf_appends(out, "</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
                                "table{border-collapse:collapse;width:100%;font-size:13px}"
                                "th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}"
                                "th{background:#f0f0f0}.done{color:#060}.failed{color:#a00}.num{text-align:right}"
                                "details{margin:2px 0}code{font-size:12px}</style></head><body>\n<h1>fleetcrypt encryption report</h1>\n<p id=\"meta\">") &&
              html_text(out, m->title) && dbuf_appends(out, " — generated ") && html_text(out, m->generated_at) &&
              dbuf_appends(out, " by ") && html_text(out, m->generated_by) &&
              dbuf_printf(out, "</p>\n<p id=\"summary\">instances: <b id=\"n-instances\">%zu</b>, done: <b id=\"n-done\">%zu</b>, "
                               "failed: <b id=\"n-failed\">%zu</b>, skipped: <b id=\"n-skipped\">%zu</b>, rows verified: <b id=\"n-rows\">%lld</b>, "
                               "not migrated by fleetcrypt: <b id=\"n-not-migrated\">%zu</b></p>\n",
                          n, done, failed, skipped, rows_total, unmanaged) &&
              dbuf_appends(out, "<table id=\"instances\"><thead><tr><th>instance</th><th>campaign</th><th>state</th>"
                                "<th>before</th><th>after</th><th>cutover (UTC)</th><th>downtime s</th><th>rows verified</th>"
                                "<th>tables</th><th>retired source</th><th>retain until</th><th>note</th>"
                                "<th>engine</th><th>now</th><th>migrated by fleetcrypt</th><th>encryption before</th>"
                                "<th>encryption after</th><th>encryption now</th><th>DMS evidence</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < n && ok; i++) {
        const report_row *r = &rows[i];
        char before[300] = "", after[300] = "", now[300] = "", dt[32] = "", rv[32] = "";
        if (!r->unmanaged) {
            snprintf(before, sizeof before, "%s%s", r->encrypted_before ? "encrypted " : "unencrypted",
                     r->encrypted_before ? r->key_before : "");
            snprintf(after, sizeof after, "%s%s", r->encrypted_after ? "encrypted " : "unencrypted",
                     r->encrypted_after ? r->key_after : "");
        }
        char dms[400];
        dms_text(r, dms, sizeof dms);
        if (r->now_known)
            snprintf(now, sizeof now, "%s%s", r->encrypted_now ? "encrypted " : "unencrypted",
                     r->encrypted_now ? r->key_now : "");
        const char *mig = r->unmanaged ? REPORT_NOT_MIGRATED : !strcmp(r->state, "done") ? "yes" : "no";
        if (r->downtime_s >= 0) snprintf(dt, sizeof dt, "%.3f", r->downtime_s);
        if (r->rows_verified >= 0) snprintf(rv, sizeof rv, "%lld", r->rows_verified);
        ok = dbuf_appends(out, "<tr data-instance=\"") && html_text(out, r->instance) && dbuf_appends(out, "\">") &&
             td(out, "instance", r->instance) && td(out, "campaign", r->campaign) && td(out, r->state, r->state) &&
             td(out, "before", before) && td(out, "after", after) && td(out, "cutover", r->cutover_at) &&
             td(out, "num downtime", dt) && td(out, "num rows", rv) &&
             dbuf_printf(out, "<td class=\"tables\">%d", r->tables_verified);
        if (ok && r->ntables) {
            ok = dbuf_appends(out, "<details><summary>checksums</summary>");
            for (size_t t = 0; t < r->ntables && ok; t++)
                ok = dbuf_appends(out, "<div><code>") && html_text(out, r->tables[t].name) &&
                     dbuf_printf(out, "</code> %lld rows <code>", r->tables[t].rows) &&
                     html_text(out, r->tables[t].checksum) && dbuf_appends(out, "</code></div>");
            ok = ok && dbuf_appends(out, "</details>");
        }
        ok = ok && dbuf_appends(out, "</td>") && td(out, "retired", r->retired_source) &&
             td(out, "retain", r->retain_until) && td(out, "note", r->error) && td(out, "engine", r->engine) &&
             td(out, "now", now) && td(out, "migrated", mig) && td(out, "enc-before", r->unmanaged ? "" : r->enc_before) &&
             td(out, "enc-after", r->unmanaged ? "" : r->enc_after) && td(out, "enc-now", r->now_known ? r->enc_now : "") &&
             dbuf_appends(out, "<td class=\"dms\">") && html_text(out, dms);
        if (ok && r->ndms_tables) {
            ok = dbuf_appends(out, "<details><summary>DMS table statistics</summary>");
            for (size_t t = 0; t < r->ndms_tables && ok; t++) {
                char line[400];
                dms_table_text(&r->dms_tables[t], line, sizeof line);
                ok = dbuf_appends(out, "<div><code>") && html_text(out, line) && dbuf_appends(out, "</code></div>");
            }
            if (ok && r->dms_tables_more > 0) ok = dbuf_printf(out, "<div>+%lld more tables</div>", r->dms_tables_more);
            ok = ok && dbuf_appends(out, "</details>");
        }
        ok = ok && dbuf_appends(out, "</td></tr>\n");
    }
    return ok && dbuf_appends(out, "</tbody></table>\n</body></html>\n");
}

/* One table cell: "-" when empty, whitespace inside replaced so columns split. */
static bool table_cell(dbuf *out, const char *v, int width, bool last)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", v && *v ? v : "-");
    for (char *p = buf; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') *p = '_';
    return last ? dbuf_printf(out, "%s\n", buf) : dbuf_printf(out, "%-*s ", width, buf);
}

bool report_render_table(const report_meta *m, const report_row *rows, size_t n, dbuf *out)
{
    (void)m;
    static const char *const hdr[] = {"INSTANCE", "CAMPAIGN", "STATE", "BEFORE", "AFTER", "CUTOVER", "DOWNTIME_S",
                                      "RETAIN_UNTIL"};
    static const int w[] = {40, 24, 16, 20, 20, 24, 10, 24};
    const size_t nh = sizeof hdr / sizeof hdr[0];
    bool ok = true;
    for (size_t c = 0; c < nh && ok; c++) ok = table_cell(out, hdr[c], w[c], c == nh - 1);
    for (size_t i = 0; i < n && ok; i++) {
        const report_row *r = &rows[i];
        bool in_c = !r->unmanaged;
        char dt[32] = "";
        if (r->downtime_s >= 0) snprintf(dt, sizeof dt, "%.1f", r->downtime_s);
        /* before/after: the encryption type, else encrypted or not */
        const char *before = !in_c ? "" : r->enc_before[0] ? r->enc_before : r->encrypted_before ? "kms" : "none";
        const char *after = !in_c ? "" : r->enc_after[0] ? r->enc_after : r->encrypted_after ? "kms" : "none";
        const char *cells[] = {r->instance, in_c ? r->campaign : "", r->state, before, after, r->cutover_at, dt,
                               r->retain_until};
        for (size_t c = 0; c < nh && ok; c++) ok = table_cell(out, cells[c], w[c], c == nh - 1);
    }
    /* pg-logical's rollback windows, under the table */
    for (size_t i = 0; i < n && ok; i++) {
        const report_row *r = &rows[i];
        if (!r->rb_state[0]) continue;
        char lag[48] = "unknown";
        if (r->rb_lag_bytes >= 0) snprintf(lag, sizeof lag, "%lld bytes", (long long)r->rb_lag_bytes);
        ok = dbuf_printf(out, "rollback window %s: %s, ends %s, last reverse lag %s\n", r->instance, r->rb_state,
                         r->rb_until[0] ? r->rb_until : "-", lag);
    }
    return ok;
}
