/* route53 — see route53.h. */
#include "route53.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dbuf.h"
#include "log.h"
#include "util.h"

#define R53_API "/2013-04-01"

bool r53_norm(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    while (n && in[n - 1] == '.') n--;
    if (n + 2 > cap) return false;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '.';
    out[n + 1] = 0;
    return true;
}

/* A Route 53 id ("/hostedzone/Z1", "Z1", "/change/C1") without its prefix. */
static void strip_id(const char *id, char *out, size_t cap)
{
    const char *s = strrchr(id, '/');
    fc_strlcpy(out, s ? s + 1 : id, cap);
}

/* Ids go into paths: Route 53's are [A-Z0-9]; refuse anything else. */
static bool safe_id(const char *id, aws_error *err)
{
    if (!*id) goto bad;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') goto bad;
    return true;
bad:
    aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidInput", "bad Route 53 id '%.60s'", id);
    return false;
}

static void xml_esc(dbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': dbuf_appends(b, "&amp;"); break;
        case '<': dbuf_appends(b, "&lt;"); break;
        case '>': dbuf_appends(b, "&gt;"); break;
        case '"': dbuf_appends(b, "&quot;"); break;
        default: dbuf_append(b, s, 1);
        }
    }
}

bool r53_zone_for(aws_client *c, const char *name, char *zone_id, size_t idcap, char *zone_name, size_t zncap,
                  bool *found, aws_error *err)
{
    char n[R53_NAME_MAX];
    *found = false;
    zone_id[0] = zone_name[0] = 0;
    if (!r53_norm(name, n, sizeof n)) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidInput", "name too long");
        return false;
    }
    /* longest suffix first: db1.corp.example., corp.example., example. */
    for (const char *suffix = n; suffix && *suffix && strcmp(suffix, "."); ) {
        const char *q[] = {"dnsname", suffix, "maxitems", "1"};
        aws_xml *x = NULL;
        if (!aws_rest_xml_call(c, AWS_SVC_ROUTE53, "ListHostedZonesByName", "GET", R53_API "/hostedzonesbyname", q, 2,
                               NULL, &x, err))
            return false;
        const aws_xml_node *z = x ? aws_xml_find(aws_xml_root(x), "HostedZones/HostedZone") : NULL;
        char zn[R53_NAME_MAX] = "", zid[128] = "", norm[R53_NAME_MAX] = "";
        if (z) {
            aws_xml_text(z, "Name", zn, sizeof zn);
            aws_xml_text(z, "Id", zid, sizeof zid);
        }
        aws_xml_free(x);
        if (zn[0] && r53_norm(zn, norm, sizeof norm) && !strcmp(norm, suffix)) {
            strip_id(zid, zone_id, idcap);
            fc_strlcpy(zone_name, norm, zncap);
            *found = true;
            return true;
        }
        const char *dot = strchr(suffix, '.');
        suffix = dot ? dot + 1 : NULL;
    }
    return true;
}

bool r53_get_rrset(aws_client *c, const char *zone_id, const char *name, const char *type, r53_rrset *out,
                   bool *found, aws_error *err)
{
    char n[R53_NAME_MAX], path[200];
    memset(out, 0, sizeof *out);
    *found = false;
    if (!safe_id(zone_id, err)) return false;
    if (!r53_norm(name, n, sizeof n)) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidInput", "name too long");
        return false;
    }
    snprintf(path, sizeof path, R53_API "/hostedzone/%s/rrset", zone_id);
    const char *q[] = {"name", n, "type", type, "maxitems", "1"};
    aws_xml *x = NULL;
    if (!aws_rest_xml_call(c, AWS_SVC_ROUTE53, "ListResourceRecordSets", "GET", path, q, 3, NULL, &x, err))
        return false;
    const aws_xml_node *r = x ? aws_xml_find(aws_xml_root(x), "ResourceRecordSets/ResourceRecordSet") : NULL;
    char rn[R53_NAME_MAX] = "", rt[16] = "";
    if (r) {
        aws_xml_text(r, "Name", rn, sizeof rn);
        aws_xml_text(r, "Type", rt, sizeof rt);
    }
    /* the listing starts at (name, type): the first set may be the next one */
    if (r && r53_norm(rn, out->name, sizeof out->name) && !strcmp(out->name, n) && !strcmp(rt, type)) {
        fc_strlcpy(out->type, rt, sizeof out->type);
        if (!aws_xml_int64(r, "TTL", &out->ttl)) out->ttl = -1;
        const aws_xml_node *v = aws_xml_find(r, "ResourceRecords/ResourceRecord");
        if (v) aws_xml_text(v, "Value", out->value, sizeof out->value);
        for (; v; v = aws_xml_next_same(v)) out->nvalues++;
        *found = true;
    } else {
        memset(out, 0, sizeof *out);
    }
    aws_xml_free(x);
    return true;
}

bool r53_upsert(aws_client *c, const char *zone_id, const r53_rrset *rr, const char *comment, char *change_id,
                size_t cap, aws_error *err)
{
    char path[200], ttl[32];
    change_id[0] = 0;
    if (!safe_id(zone_id, err)) return false;
    snprintf(path, sizeof path, R53_API "/hostedzone/%s/rrset/", zone_id);
    snprintf(ttl, sizeof ttl, "%lld", (long long)rr->ttl);
    dbuf b;
    dbuf_init(&b, 16384);
    dbuf_appends(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ChangeResourceRecordSetsRequest "
                     "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeBatch>");
    if (comment && *comment) {
        dbuf_appends(&b, "<Comment>");
        xml_esc(&b, comment);
        dbuf_appends(&b, "</Comment>");
    }
    dbuf_appends(&b, "<Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>");
    xml_esc(&b, rr->name);
    dbuf_appends(&b, "</Name><Type>");
    xml_esc(&b, rr->type);
    dbuf_appends(&b, "</Type><TTL>");
    dbuf_appends(&b, ttl);
    dbuf_appends(&b, "</TTL><ResourceRecords><ResourceRecord><Value>");
    xml_esc(&b, rr->value);
    bool ok = dbuf_appends(&b, "</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes>"
                               "</ChangeBatch></ChangeResourceRecordSetsRequest>");
    if (!ok) {
        dbuf_free(&b);
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "InvalidInput", "change batch too large");
        return false;
    }
    aws_xml *x = NULL;
    ok = aws_rest_xml_call(c, AWS_SVC_ROUTE53, "ChangeResourceRecordSets", "POST", path, NULL, 0, b.data, &x, err);
    dbuf_free(&b);
    if (!ok) return false;
    char id[128] = "";
    if (x) aws_xml_text(aws_xml_root(x), "ChangeInfo/Id", id, sizeof id);
    aws_xml_free(x);
    strip_id(id, change_id, cap);
    log_info("route53: record upserted", "zone=%s name=%s type=%s ttl=%lld change=%s", zone_id, rr->name, rr->type,
             (long long)rr->ttl, change_id);
    return true;
}

bool r53_change_insync(aws_client *c, const char *change_id, bool *insync, aws_error *err)
{
    char path[200], status[32] = "";
    *insync = false;
    if (!safe_id(change_id, err)) return false;
    snprintf(path, sizeof path, R53_API "/change/%s", change_id);
    aws_xml *x = NULL;
    if (!aws_rest_xml_call(c, AWS_SVC_ROUTE53, "GetChange", "GET", path, NULL, 0, NULL, &x, err)) return false;
    if (x) aws_xml_text(aws_xml_root(x), "ChangeInfo/Status", status, sizeof status);
    aws_xml_free(x);
    *insync = !strcmp(status, "INSYNC");
    return true;
}
