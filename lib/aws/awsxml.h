/* awsxml — the Query protocol: form-encoded request bodies (aws_query) and
 * XML responses parsed with libxml2 under hostile-input rules: no network
 * (XML_PARSE_NONET), no entity substitution (no XML_PARSE_NOENT), no DTD
 * loading; any document carrying a DOCTYPE is refused outright (AWS never
 * sends one, and that is where entity expansion and external entities live);
 * size, depth and node-count limits.
 *
 * Ownership: aws_xml_parse() hands a document the caller frees with
 * aws_xml_free(); nodes point into it and die with it. aws_xml_strdup()
 * results are the caller's (free()). aws_query owns its buffer; free with
 * aws_query_free() (wiped when marked secure). */
#ifndef FC_AWSXML_H
#define FC_AWSXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awserr.h"
#include "dbuf.h"

/* ---------------- Query request bodies ---------------- */
typedef struct aws_query {
    dbuf body;          /* "Action=...&Version=...&k=v..." */
    bool failed;        /* set by any add that could not append; checked by the sender */
    bool secure;        /* holds a secret (token, secret string): wipe on free */
} aws_query;

void aws_query_init(aws_query *q, const char *action, const char *version);
void aws_query_free(aws_query *q);
/* Add one encoded pair; value NULL is skipped (optional parameter not set). */
void aws_query_add(aws_query *q, const char *key, const char *value);
void aws_query_add_int(aws_query *q, const char *key, int64_t v);
void aws_query_add_bool(aws_query *q, const char *key, bool v);
/* List members: prefix.1, prefix.2, ... (e.g. "VpcSecurityGroupIds.member"). */
void aws_query_add_list(aws_query *q, const char *prefix, const char *const *values, size_t n);

/* ---------------- XML responses ---------------- */
typedef struct aws_xml aws_xml;
typedef struct _xmlNode aws_xml_node;

typedef struct aws_xml_limits {
    size_t max_bytes;   /* default 8 MiB */
    int max_depth;      /* default 40 element levels */
    size_t max_nodes;   /* default 400000 */
} aws_xml_limits;

void aws_xml_limits_default(aws_xml_limits *lim);
/* Parse; lim NULL = defaults. On failure err has code "ParseError" (kind
 * PERMANENT) or "ResponseTooLarge"/"XmlTooDeep"/"XmlForbiddenDtd". */
bool aws_xml_parse(const char *buf, size_t len, const aws_xml_limits *lim, aws_xml **out,
                   aws_error *err);
void aws_xml_free(aws_xml *x);
/* Overwrite every text node (for responses holding secrets), then free. */
void aws_xml_free_secure(aws_xml *x);

const aws_xml_node *aws_xml_root(const aws_xml *x);
const char *aws_xml_name(const aws_xml_node *n);
/* First element child with this local name (NULL name: any). */
const aws_xml_node *aws_xml_child(const aws_xml_node *n, const char *name);
/* Descend along "A/B/C" (local names). NULL or "" path returns n. */
const aws_xml_node *aws_xml_find(const aws_xml_node *n, const char *path);
/* Next element sibling with the same local name as n (for member lists). */
const aws_xml_node *aws_xml_next_same(const aws_xml_node *n);
/* Next element sibling, any name. */
const aws_xml_node *aws_xml_next(const aws_xml_node *n);

/* Text of the element at path under n. Copies into dst (false when missing
 * or truncated; dst is "" when missing). */
bool aws_xml_text(const aws_xml_node *n, const char *path, char *dst, size_t cap);
/* malloc'd copy of the text at path, NULL when missing. */
char *aws_xml_strdup(const aws_xml_node *n, const char *path);
bool aws_xml_int64(const aws_xml_node *n, const char *path, int64_t *out);
bool aws_xml_bool(const aws_xml_node *n, const char *path, bool *out);
bool aws_xml_double(const aws_xml_node *n, const char *path, double *out);

/* Read a Query error body (<ErrorResponse><Error><Code/><Message/></Error>
 * <RequestId/></ErrorResponse>, also <Response><Errors><Error>...) into err's
 * code, message and request id. False when the body is not such a document. */
bool aws_xml_parse_error(const char *buf, size_t len, aws_error *err);

#endif
