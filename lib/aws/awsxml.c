/* awsxml — see awsxml.h. */
#include "awsxml.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "sigv4.h"
#include "util.h"

#define AWS_QUERY_MAX (1024u * 1024)

/* ---------------- Query ---------------- */
void aws_query_init(aws_query *q, const char *action, const char *version)
{
    memset(q, 0, sizeof(*q));
    dbuf_init(&q->body, AWS_QUERY_MAX);
    q->failed = !dbuf_printf(&q->body, "Action=%s&Version=%s", action, version);
}

void aws_query_free(aws_query *q)
{
    if (!q) return;
    if (q->secure) dbuf_free_secure(&q->body);
    else dbuf_free(&q->body);
}

void aws_query_add(aws_query *q, const char *key, const char *value)
{
    if (!value || q->failed) return;
    if (!dbuf_append(&q->body, "&", 1) || !sigv4_uri_encode(&q->body, key, strlen(key), false) ||
        !dbuf_append(&q->body, "=", 1) ||
        !sigv4_uri_encode(&q->body, value, strlen(value), false))
        q->failed = true;
}

void aws_query_add_int(aws_query *q, const char *key, int64_t v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    aws_query_add(q, key, b);
}

void aws_query_add_bool(aws_query *q, const char *key, bool v)
{
    aws_query_add(q, key, v ? "true" : "false");
}

void aws_query_add_list(aws_query *q, const char *prefix, const char *const *values, size_t n)
{
    char key[256];
    for (size_t i = 0; i < n; i++) {
        int l = snprintf(key, sizeof(key), "%s.%zu", prefix, i + 1);
        if (l < 0 || (size_t)l >= sizeof(key)) {
            q->failed = true;
            return;
        }
        aws_query_add(q, key, values[i]);
    }
}

/* ---------------- XML ---------------- */
struct aws_xml {
    xmlDocPtr doc;
};

static pthread_once_t g_xml_once = PTHREAD_ONCE_INIT;
static void xml_init_once(void) { xmlInitParser(); }

void aws_xml_limits_default(aws_xml_limits *lim)
{
    lim->max_bytes = 8u * 1024 * 1024;
    lim->max_depth = 40;
    lim->max_nodes = 400000;
}

static bool mem_has(const char *buf, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++) {
        const char *p = memchr(buf + i, needle[0], len - i);
        if (!p || (size_t)(p - buf) + nl > len) return false;
        if (!memcmp(p, needle, nl)) return true;
        i = (size_t)(p - buf);
    }
    return false;
}

/* Walk the tree iteratively (no recursion on hostile depth) checking limits. */
static bool check_tree(xmlNodePtr root, const aws_xml_limits *lim, aws_error *err)
{
    size_t nodes = 0;
    int depth = 0;
    xmlNodePtr n = root;
    while (n) {
        if (++nodes > lim->max_nodes) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "XmlTooLarge", "more than %zu XML nodes",
                          lim->max_nodes);
            return false;
        }
        if (n->type == XML_ENTITY_REF_NODE || n->type == XML_ENTITY_NODE ||
            n->type == XML_DTD_NODE) {
            aws_error_set(err, AWS_ERR_PERMANENT, 0, "XmlForbiddenDtd", "entity in XML response");
            return false;
        }
        if (n->children && n->type == XML_ELEMENT_NODE) {
            if (++depth > lim->max_depth) {
                aws_error_set(err, AWS_ERR_PERMANENT, 0, "XmlTooDeep",
                              "XML nesting deeper than %d", lim->max_depth);
                return false;
            }
            n = n->children;
            continue;
        }
        while (n && !n->next && n != root) {
            n = n->parent;
            depth--;
        }
        if (!n || n == root) break;
        n = n->next;
    }
    return true;
}

bool aws_xml_parse(const char *buf, size_t len, const aws_xml_limits *lim, aws_xml **out,
                   aws_error *err)
{
    aws_xml_limits dl;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    aws_xml *x = NULL;
    bool ok = false;

    *out = NULL;
    if (!lim) {
        aws_xml_limits_default(&dl);
        lim = &dl;
    }
    if (!buf || len == 0) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ParseError", "empty XML response");
        return false;
    }
    if (len > lim->max_bytes || len > (size_t)INT32_MAX) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ResponseTooLarge",
                      "XML response of %zu bytes exceeds %zu", len, lim->max_bytes);
        return false;
    }
    /* AWS responses never carry a DTD; refusing it up front closes entity
     * expansion (billion laughs) and external entities before libxml2 runs. */
    if (mem_has(buf, len, "<!DOCTYPE") || mem_has(buf, len, "<!ENTITY")) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "XmlForbiddenDtd",
                      "XML response carries a DTD; refused");
        return false;
    }
    pthread_once(&g_xml_once, xml_init_once);
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "xmlNewParserCtxt failed");
        goto cleanup;
    }
    doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                XML_PARSE_NOBLANKS | XML_PARSE_NOCDATA | XML_PARSE_NODICT);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ParseError", "malformed XML: %s",
                      e && e->message ? e->message : "unknown");
        /* libxml2 messages end with a newline */
        if (err) {
            size_t l = strlen(err->message);
            while (l && (err->message[l - 1] == '\n')) err->message[--l] = 0;
        }
        goto cleanup;
    }
    if (doc->intSubset || doc->extSubset) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "XmlForbiddenDtd", "XML response has a DTD");
        goto cleanup;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "ParseError", "XML without a root element");
        goto cleanup;
    }
    if (!check_tree(root, lim, err)) goto cleanup;
    x = calloc(1, sizeof(*x));
    if (!x) {
        aws_error_set(err, AWS_ERR_PERMANENT, 0, "OutOfMemory", "aws_xml allocation failed");
        goto cleanup;
    }
    x->doc = doc;
    doc = NULL;
    *out = x;
    ok = true;
cleanup:
    if (doc) xmlFreeDoc(doc);
    if (ctxt) xmlFreeParserCtxt(ctxt);
    return ok;
}

void aws_xml_free(aws_xml *x)
{
    if (!x) return;
    xmlFreeDoc(x->doc);
    free(x);
}

void aws_xml_free_secure(aws_xml *x)
{
    if (!x) return;
    xmlNodePtr root = xmlDocGetRootElement(x->doc), n = root;
    while (n) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
            fc_wipe(n->content, strlen((const char *)n->content));
        if (n->children) {
            n = n->children;
            continue;
        }
        while (n && !n->next && n != root) n = n->parent;
        if (!n || n == root) break;
        n = n->next;
    }
    aws_xml_free(x);
}

const aws_xml_node *aws_xml_root(const aws_xml *x)
{
    return x ? xmlDocGetRootElement(x->doc) : NULL;
}

const char *aws_xml_name(const aws_xml_node *n)
{
    return n ? (const char *)n->name : NULL;
}

const aws_xml_node *aws_xml_child(const aws_xml_node *n, const char *name)
{
    if (!n) return NULL;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && (!name || !strcmp((const char *)c->name, name)))
            return c;
    return NULL;
}

const aws_xml_node *aws_xml_find(const aws_xml_node *n, const char *path)
{
    char seg[128];
    if (!path) return n;
    while (n && *path) {
        const char *slash = strchr(path, '/');
        size_t l = slash ? (size_t)(slash - path) : strlen(path);
        if (l == 0 || l >= sizeof(seg)) return NULL;
        memcpy(seg, path, l);
        seg[l] = 0;
        n = aws_xml_child(n, seg);
        path += l + (slash ? 1 : 0);
    }
    return n;
}

const aws_xml_node *aws_xml_next_same(const aws_xml_node *n)
{
    if (!n) return NULL;
    for (xmlNodePtr c = n->next; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, (const char *)n->name))
            return c;
    return NULL;
}

const aws_xml_node *aws_xml_next(const aws_xml_node *n)
{
    if (!n) return NULL;
    for (xmlNodePtr c = n->next; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return NULL;
}

char *aws_xml_strdup(const aws_xml_node *n, const char *path)
{
    const aws_xml_node *t = aws_xml_find(n, path);
    if (!t) return NULL;
    xmlChar *c = xmlNodeGetContent(t);
    char *s = strdup(c ? (const char *)c : "");
    if (c) xmlFree(c);
    return s;
}

bool aws_xml_text(const aws_xml_node *n, const char *path, char *dst, size_t cap)
{
    if (cap) dst[0] = 0;
    const aws_xml_node *t = aws_xml_find(n, path);
    if (!t || cap == 0) return false;
    xmlChar *c = xmlNodeGetContent(t);
    bool ok = fc_strlcpy(dst, c ? (const char *)c : "", cap);
    if (c) xmlFree(c);
    return ok;
}

bool aws_xml_int64(const aws_xml_node *n, const char *path, int64_t *out)
{
    char b[40], *end = NULL;
    if (!aws_xml_text(n, path, b, sizeof(b)) || !b[0]) return false;
    errno = 0;
    long long v = strtoll(b, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

bool aws_xml_bool(const aws_xml_node *n, const char *path, bool *out)
{
    char b[8];
    if (!aws_xml_text(n, path, b, sizeof(b))) return false;
    if (!strcmp(b, "true")) *out = true;
    else if (!strcmp(b, "false")) *out = false;
    else return false;
    return true;
}

bool aws_xml_double(const aws_xml_node *n, const char *path, double *out)
{
    char b[64], *end = NULL;
    if (!aws_xml_text(n, path, b, sizeof(b)) || !b[0]) return false;
    double v = strtod(b, &end);
    if (*end) return false;
    *out = v;
    return true;
}

bool aws_xml_parse_error(const char *buf, size_t len, aws_error *err)
{
    aws_xml *x = NULL;
    aws_error perr;
    bool ok = false;
    if (!aws_xml_parse(buf, len, NULL, &x, &perr)) return false;
    const aws_xml_node *root = aws_xml_root(x);
    const aws_xml_node *e = NULL;
    if (!strcmp(aws_xml_name(root), "ErrorResponse")) e = aws_xml_child(root, "Error");
    else if (!strcmp(aws_xml_name(root), "Response")) e = aws_xml_find(root, "Errors/Error");
    else if (!strcmp(aws_xml_name(root), "Error")) e = root;
    if (e && err) {
        aws_xml_text(e, "Code", err->code, sizeof(err->code));
        aws_xml_text(e, "Message", err->message, sizeof(err->message));
        if (!aws_xml_text(root, "RequestId", err->request_id, sizeof(err->request_id)))
            aws_xml_text(root, "RequestID", err->request_id, sizeof(err->request_id));
        ok = err->code[0] != 0;
    }
    aws_xml_free(x);
    return ok;
}
