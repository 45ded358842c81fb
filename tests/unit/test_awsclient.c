/* test_awsclient — the whole signed call path against a scripted loopback
 * HTTP server in a thread: debug logs never contain the secret key or the
 * session token; throttling/5xx retries are bounded and report to the hooks;
 * auth errors fail fast after one attempt; the rate-limiter hook can refuse;
 * the retry quota stops a retry storm; which outcomes make a call ambiguous
 * (aws_client_last_call_ambiguous) and a rename whose answer was lost; a
 * call under a deadline (aws_client_retry_until): sent again past
 * max_attempts until the deadline, busy answers only when asked, the
 * quota, the limiter and go_on still obeyed, a rename's lost answer then
 * busy then gone settled as done. */
#define _GNU_SOURCE 1 /* strcasestr */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws.h"
#include "log.h"
#include "rds.h"
#include "sts.h"
#include "util.h"

#define SECRET "SECRETKEY-abc123-do-not-log"
#define TOKEN "SESSIONTOKEN-xyz789-do-not-log"
#define MAX_SCRIPT 24
#define LOST 0 /* a script entry whose request is read and never answered */

typedef struct resp {
    int status;
    const char *body;
} resp;

static struct {
    int lfd;
    int port;
    pthread_t th;
    volatile int stop;
    resp script[MAX_SCRIPT];
    int nscript;
    int served;            /* requests answered */
    char last_req[16384];  /* headers + body of the last request */
    bool saw_token;
    resp after;            /* the answer past the script's end */
} S;

static const char *IDENTITY =
    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/t</Arn><UserId>AID</UserId>"
    "<Account>123456789012</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>rid-ok</RequestId></ResponseMetadata></GetCallerIdentityResponse>";
static const char *THROTTLE =
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
    "</Message></Error><RequestId>rid-throttle</RequestId></ErrorResponse>";
static const char *UNAVAILABLE =
    "<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>try later</Message></Error>"
    "<RequestId>rid-503</RequestId></ErrorResponse>";
static const char *INTERNAL =
    "<ErrorResponse><Error><Code>InternalFailure</Code><Message>oops</Message></Error>"
    "<RequestId>rid-500</RequestId></ErrorResponse>";
static const char *INVALID =
    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>no</Message>"
    "</Error><RequestId>rid-400</RequestId></ErrorResponse>";
static const char *CLUSTER_NOT_FOUND =
    "<ErrorResponse><Error><Type>Sender</Type><Code>DBClusterNotFoundFault</Code><Message>DBCluster orders "
    "not found.</Message></Error><RequestId>rid-404</RequestId></ErrorResponse>";
static const char *INSTANCE_NOT_FOUND =
    "<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance db1 "
    "not found.</Message></Error><RequestId>rid-404</RequestId></ErrorResponse>";
static const char *CLUSTER_RENAMED =
    "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters><DBCluster>"
    "<DBClusterIdentifier>orders-old</DBClusterIdentifier><Status>renaming</Status></DBCluster></DBClusters>"
    "</DescribeDBClustersResult><ResponseMetadata><RequestId>rid-d</RequestId></ResponseMetadata>"
    "</DescribeDBClustersResponse>";
static const char *INSTANCE_RENAMED =
    "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances><DBInstance>"
    "<DBInstanceIdentifier>db1-old</DBInstanceIdentifier><DBInstanceStatus>renaming</DBInstanceStatus>"
    "</DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>rid-d</RequestId>"
    "</ResponseMetadata></DescribeDBInstancesResponse>";
static const char *BUSY =
    "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidDBInstanceState</Code><Message>DB instance is not "
    "available</Message></Error><RequestId>rid-busy</RequestId></ErrorResponse>";
static const char *INSTANCE_MODIFIED =
    "<ModifyDBInstanceResponse><ModifyDBInstanceResult><DBInstance>"
    "<DBInstanceIdentifier>db1-old</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus>"
    "</DBInstance></ModifyDBInstanceResult><ResponseMetadata><RequestId>rid-m</RequestId>"
    "</ResponseMetadata></ModifyDBInstanceResponse>";
static const char *NONE_CLUSTERS =
    "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters/></DescribeDBClustersResult>"
    "<ResponseMetadata><RequestId>rid-d</RequestId></ResponseMetadata></DescribeDBClustersResponse>";
static const char *BADSIG =
    "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The "
    "request signature we calculated does not match</Message></Error><RequestId>rid-sig"
    "</RequestId></ErrorResponse>";

static void serve_conn(int fd)
{
    char buf[65536];
    size_t have = 0;
    while (!S.stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (r <= 0) return;
        have += (size_t)r;
        buf[have] = 0;
        char *eoh = strstr(buf, "\r\n\r\n");
        if (!eoh) continue;
        size_t clen = 0;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl) clen = (size_t)strtoul(cl + 17, NULL, 10);
        size_t total = (size_t)(eoh + 4 - buf) + clen;
        if (have < total) continue;
        snprintf(S.last_req, sizeof(S.last_req), "%.*s", (int)total, buf);
        if (strcasestr(buf, "\r\nX-Amz-Security-Token: " TOKEN "\r\n")) S.saw_token = true;
        resp rs = S.served < S.nscript ? S.script[S.served] : S.after;
        S.served++;
        if (rs.status == LOST) return; /* read, never answered: the connection closes */
        char out[8192];
        int n = snprintf(out, sizeof(out),
                         "HTTP/1.1 %d X\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\n"
                         "x-amzn-RequestId: rid-hdr-%d\r\n\r\n%s",
                         rs.status, strlen(rs.body), S.served, rs.body);
        if (send(fd, out, (size_t)n, 0) != n) return;
        memmove(buf, buf + total, have - total);
        have -= total;
    }
}

static void *server(void *arg)
{
    (void)arg;
    while (!S.stop) {
        struct pollfd p = {.fd = S.lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0) continue;
        serve_conn(fd);
        close(fd);
    }
    return NULL;
}

static int start_server(void **state)
{
    (void)state;
    memset(&S, 0, sizeof(S));
    S.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) || listen(S.lfd, 8) ||
        getsockname(S.lfd, (struct sockaddr *)&a, &l))
        return -1;
    S.port = ntohs(a.sin_port);
    S.after = (resp){200, IDENTITY};
    return pthread_create(&S.th, NULL, server, NULL);
}

static int stop_server(void **state)
{
    (void)state;
    S.stop = 1;
    pthread_join(S.th, NULL);
    close(S.lfd);
    return 0;
}

static void script(const resp *r, int n)
{
    for (int i = 0; i < n; i++) S.script[i] = r[i];
    S.nscript = n;
    S.served = 0;
}

typedef struct counts {
    int acquire, urgent, throttle, calls;
    bool refuse;
    int statuses[16];
} counts;

static bool h_acquire(void *ud, const char *svc, const char *action)
{
    (void)svc, (void)action;
    counts *c = ud;
    c->acquire++;
    return !c->refuse;
}
static bool h_acquire_urgent(void *ud, const char *svc, const char *action)
{
    (void)svc, (void)action;
    counts *c = ud;
    c->urgent++;
    return !c->refuse;
}
static void h_throttle(void *ud, const char *svc, const char *action)
{
    (void)svc, (void)action;
    ((counts *)ud)->throttle++;
}
static void h_call(void *ud, const char *svc, const char *action, int status, const char *code,
                   int64_t ms)
{
    (void)svc, (void)action, (void)code, (void)ms;
    counts *c = ud;
    if (c->calls < 16) c->statuses[c->calls] = status;
    c->calls++;
}

/* The client borrows its credentials provider: one fixed provider per test,
 * freed by drop_client after the client. */
static aws_cred_provider *g_provider;

static aws_cred_provider *fixed_provider(const aws_creds *cr)
{
    aws_error err;
    aws_cred_opts co = {.fixed = cr};
    aws_cred_provider *p = aws_cred_provider_new(&co, NULL, &err);
    assert_non_null(p);
    return p;
}

static void drop_client(aws_client *c)
{
    aws_client_free(c);
    aws_cred_provider_free(g_provider);
    g_provider = NULL;
}

static aws_client *client(counts *cn, int max_attempts, int quota)
{
    char url[64];
    aws_creds cr;
    aws_error err;
    memset(&cr, 0, sizeof(cr));
    snprintf(cr.access_key_id, sizeof(cr.access_key_id), "AKIDTEST");
    snprintf(cr.secret_access_key, sizeof(cr.secret_access_key), SECRET);
    snprintf(cr.session_token, sizeof(cr.session_token), TOKEN);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", S.port);
    aws_client_opts o = {.region = "us-east-1", .endpoint_url = url, .timeout_ms = 5000};
    o.retry.max_attempts = max_attempts;
    o.retry.base_ms = 2;
    o.retry.cap_ms = 20;
    o.retry.quota_max = quota;
    o.retry.until_base_ms = 2;
    o.retry.until_cap_ms = 10;
    g_provider = fixed_provider(&cr);
    aws_client *c = aws_client_new(&o, g_provider, &err);
    assert_non_null(c);
    aws_hooks h = {.acquire = h_acquire, .acquire_urgent = h_acquire_urgent, .on_throttle = h_throttle,
                   .on_call = h_call, .ud = cn};
    aws_client_set_hooks(c, &h);
    return c;
}

static void test_no_secret_in_debug_logs(void **state)
{
    (void)state;
    char path[] = "/tmp/fc-awslog-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    log_set_stream(f);
    log_set_level(LOG_DEBUG);

    counts cn = {0};
    aws_client *c = client(&cn, 3, 500);
    aws_identity *id = NULL;
    aws_error err;
    /* success, a retried 503, a throttle, and an auth failure: every log path */
    resp r[] = {{200, IDENTITY}, {503, UNAVAILABLE}, {200, IDENTITY}, {400, THROTTLE},
                {200, IDENTITY}, {403, BADSIG}};
    script(r, 6);
    assert_true(sts_get_caller_identity(c, &id, &err));
    assert_string_equal(id->account, "123456789012");
    aws_identity_free(id);
    assert_true(sts_get_caller_identity(c, &id, &err));
    aws_identity_free(id);
    rds_instance_list *l = NULL;
    assert_true(rds_describe_db_instances_page(c, NULL, &l, &err) || true);
    rds_instance_list_free(l);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_string_equal(err.code, "SignatureDoesNotMatch");
    drop_client(c);

    log_set_stream(stderr);
    log_set_level(LOG_INFO);
    fflush(f);
    fseek(f, 0, SEEK_SET);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = 0;
    fclose(f);
    unlink(path);
    assert_true(S.saw_token);                         /* the token was really sent */
    assert_non_null(strstr(text, "aws call ok"));     /* debug logging really happened */
    assert_non_null(strstr(text, "aws call retry"));
    assert_non_null(strstr(text, "aws call failed"));
    assert_non_null(strstr(text, "rid-sig"));         /* failures carry the request id */
    if (strstr(text, SECRET) || strstr(text, TOKEN) || strstr(text, "Signature="))
        fail_msg("secret material found in the log:\n%s", text);
}

/* The User-Agent carries the one version (CMake's project version, FC_VERSION). */
static void test_user_agent_has_version(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 1, 500);
    aws_identity *id = NULL;
    aws_error err;
    script(NULL, 0);
    assert_true(sts_get_caller_identity(c, &id, &err));
    aws_identity_free(id);
    drop_client(c);
    if (!strcasestr(S.last_req, "\r\nUser-Agent: fleetcrypt/" FC_VERSION "\r\n"))
        fail_msg("no User-Agent fleetcrypt/%s in:\n%s", FC_VERSION, S.last_req);
}

static void test_throttle_bounded(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 3, 500);
    aws_identity *id = NULL;
    aws_error err;
    resp r[] = {{400, THROTTLE}, {400, THROTTLE}, {400, THROTTLE}, {200, IDENTITY}};
    script(r, 4);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_int_equal(err.kind, AWS_ERR_THROTTLE);
    assert_string_equal(err.code, "Throttling");
    assert_string_equal(err.request_id, "rid-throttle");
    assert_int_equal(S.served, 3);      /* max_attempts, no more */
    assert_int_equal(cn.acquire, 3);    /* acquire before every attempt */
    assert_int_equal(cn.throttle, 3);   /* every throttling response reported */
    assert_int_equal(cn.calls, 3);
    assert_int_equal(aws_client_retry_tokens(c), 490); /* two retries at 5 tokens */
    /* 5xx then success: recovered, the retry's tokens come back */
    resp r2[] = {{503, UNAVAILABLE}, {200, IDENTITY}};
    script(r2, 2);
    assert_true(sts_get_caller_identity(c, &id, &err));
    aws_identity_free(id);
    assert_int_equal(S.served, 2);
    assert_int_equal(aws_client_retry_tokens(c), 490);
    drop_client(c);
}

static void test_auth_fails_fast(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 5, 500);
    aws_identity *id = NULL;
    aws_error err;
    resp r[] = {{403, BADSIG}, {200, IDENTITY}};
    script(r, 2);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_int_equal(err.kind, AWS_ERR_AUTH);
    assert_int_equal(err.http_status, 403);
    assert_int_equal(S.served, 1);
    assert_int_equal(cn.calls, 1);
    drop_client(c);
}

static void test_rate_limiter_refuses(void **state)
{
    (void)state;
    counts cn = {.refuse = true};
    aws_client *c = client(&cn, 3, 500);
    aws_identity *id = NULL;
    aws_error err;
    script(NULL, 0);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_string_equal(err.code, "RateLimited");
    assert_int_equal(S.served, 0);
    drop_client(c);
}

static void test_retry_quota_stops_storm(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 10, 10); /* room for two retries only */
    aws_identity *id = NULL;
    aws_error err;
    resp r[] = {{500, UNAVAILABLE}, {500, UNAVAILABLE}, {500, UNAVAILABLE}, {500, UNAVAILABLE},
                {500, UNAVAILABLE}, {500, UNAVAILABLE}};
    script(r, 6);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_int_equal(S.served, 3);
    assert_int_equal(aws_client_retry_tokens(c), 0);
    drop_client(c);
}

static void test_endpoints(void **state)
{
    (void)state;
    aws_error err;
    aws_creds cr = {.access_key_id = "A", .secret_access_key = "B"};
    unsetenv("AWS_ENDPOINT_URL");
    setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1/", 1);
    aws_client_opts o = {.region = "eu-central-1"};
    aws_cred_provider *p = fixed_provider(&cr);
    aws_client *c = aws_client_new(&o, p, &err);
    assert_non_null(c);
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_RDS), "https://rds.eu-central-1.amazonaws.com");
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_STS), "https://sts.eu-central-1.amazonaws.com");
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_SECRETS),
                        "https://secretsmanager.eu-central-1.amazonaws.com");
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_KMS), "http://127.0.0.1:1");
    aws_client_free(c);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2", 1);
    o.region = "cn-north-1";
    c = aws_client_new(&o, p, &err);
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_RDS), "http://127.0.0.1:2");
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_KMS), "http://127.0.0.1:1");
    aws_client_free(c);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_KMS");
    c = aws_client_new(&o, p, &err);
    assert_string_equal(aws_client_endpoint(c, AWS_SVC_RDS), "https://rds.cn-north-1.amazonaws.com.cn");
    aws_client_free(c);
    aws_client_free(NULL);
    /* no provider: refused, not a client that cannot sign */
    assert_null(aws_client_new(&o, NULL, &err));
    assert_string_equal(err.code, "NoCredentials");
    aws_cred_provider_free(p);
}

/* Which outcomes leave a call ambiguous (AWS may have carried out an attempt
 * whose failure the client retried): a 5xx or an unanswered attempt retried;
 * not a first-try success, a 4xx refusal, throttling (answered before AWS
 * acts), a limiter refusal; and each call starts afresh. */
static void test_last_call_ambiguous(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        resp r[4];
        int n;
        bool ok, ambiguous;
    } T[] = {
        {"first-try success", {{200, NULL}}, 1, true, false},
        {"503 retried, then served", {{503, NULL}, {200, NULL}}, 2, true, true},
        {"500 retried, then a refusal", {{500, NULL}, {400, NULL}}, 2, false, true},
        {"answer lost, retried", {{LOST, NULL}, {200, NULL}}, 2, true, true},
        {"answer lost on every try", {{LOST, NULL}, {LOST, NULL}, {LOST, NULL}}, 3, false, true},
        {"throttled, retried", {{400, NULL}, {200, NULL}}, 2, true, false},
        {"4xx refusal", {{400, NULL}}, 1, false, false},
        {"throttled, then 503, then served", {{429, NULL}, {503, NULL}, {200, NULL}}, 3, true, true},
        {"first-try success after an ambiguous call", {{200, NULL}}, 1, true, false},
    };
    counts cn = {0};
    aws_client *c = client(&cn, 3, 500);
    for (size_t t = 0; t < sizeof T / sizeof T[0]; t++) {
        resp r[4];
        for (int i = 0; i < T[t].n; i++) {
            r[i].status = T[t].r[i].status;
            /* 400: a throttle when a retry follows, else a refusal */
            r[i].body = r[i].status == 200   ? IDENTITY
                        : r[i].status == 429 ? THROTTLE
                        : r[i].status == 400 ? (i + 1 < T[t].n ? THROTTLE : INVALID)
                        : r[i].status >= 500 ? INTERNAL
                                             : "";
            if (r[i].status == 429) r[i].status = 400;
        }
        script(r, T[t].n);
        aws_identity *id = NULL;
        aws_error err;
        aws_error_clear(&err);
        bool ok = sts_get_caller_identity(c, &id, &err);
        aws_identity_free(id);
        bool amb = aws_client_last_call_ambiguous(c);
        if (ok != T[t].ok || amb != T[t].ambiguous || S.served != T[t].n) {
            drop_client(c); /* its kept-alive connection would hold the one-connection server */
            fail_msg("%s: expected ok=%d ambiguous=%d after %d attempts, got ok=%d ambiguous=%d after %d (%s)",
                     T[t].what, T[t].ok, T[t].ambiguous, T[t].n, ok, amb, S.served, err.code);
        }
    }
    /* a call the rate limiter refuses made no attempt: not ambiguous */
    cn.refuse = true;
    aws_identity *id = NULL;
    aws_error err;
    script(NULL, 0);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_false(aws_client_last_call_ambiguous(c));
    drop_client(c);
}

/* ModifyDBInstance's options for a rename of db1 to db1-old, applied now. */
static void rename_db1(rds_modify_instance_opts *io)
{
    rds_modify_instance_opts_init(io);
    io->identifier = "db1";
    io->new_identifier = "db1-old";
    io->apply_immediately = true;
}

/* A rename carried out by AWS whose answer was lost: the retry finds the old
 * name gone (NotFound) and the call is done when the new name is there; a
 * NotFound on a first try, or with the new name not there either, stays a
 * failure. Clusters (ModifyDBCluster) and instances (ModifyDBInstance). */
static void test_lost_rename_answer(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 3, 500);
    aws_error err;
    rds_modify_cluster_opts co;
    rds_modify_cluster_opts_init(&co);
    co.identifier = "orders";
    co.new_identifier = "orders-old";
    co.apply_immediately = true;
    rds_cluster *cl = NULL;
    /* answered 500 after AWS renamed; the retry's NotFound is its own effect */
    resp r1[] = {{500, INTERNAL}, {404, CLUSTER_NOT_FOUND}, {200, CLUSTER_RENAMED}};
    script(r1, 3);
    aws_error_clear(&err);
    if (!rds_modify_db_cluster(c, &co, &cl, &err))
        fail_msg("lost cluster rename answer: expected done, got %s (%s)", err.code, err.message);
    assert_int_equal(S.served, 3);
    assert_string_equal(cl->identifier, "orders-old");
    rds_cluster_free(cl);
    cl = NULL;
    /* the same, the answer never came (connection closed), no result wanted */
    resp r2[] = {{LOST, ""}, {404, CLUSTER_NOT_FOUND}, {200, CLUSTER_RENAMED}};
    script(r2, 3);
    assert_true(rds_modify_db_cluster(c, &co, NULL, &err));
    assert_int_equal(S.served, 3);
    /* NotFound on the first try: the cluster is not there; nothing looked up */
    resp r3[] = {{404, CLUSTER_NOT_FOUND}, {200, CLUSTER_RENAMED}};
    script(r3, 2);
    assert_false(rds_modify_db_cluster(c, &co, &cl, &err));
    assert_int_equal(err.kind, AWS_ERR_NOT_FOUND);
    assert_string_equal(err.code, "DBClusterNotFoundFault");
    assert_int_equal(S.served, 1);
    assert_null(cl);
    /* ambiguous, but the new name is not there either: the NotFound stands */
    resp r4[] = {{503, UNAVAILABLE}, {404, CLUSTER_NOT_FOUND}, {200, NONE_CLUSTERS}};
    script(r4, 3);
    assert_false(rds_modify_db_cluster(c, &co, &cl, &err));
    assert_string_equal(err.code, "DBClusterNotFoundFault");
    assert_int_equal(S.served, 3);
    assert_null(cl);
    /* not a rename: a NotFound after a lost answer is not looked into */
    co.new_identifier = NULL;
    co.backup_retention = 5;
    resp r5[] = {{500, INTERNAL}, {404, CLUSTER_NOT_FOUND}, {200, CLUSTER_RENAMED}};
    script(r5, 3);
    assert_false(rds_modify_db_cluster(c, &co, NULL, &err));
    assert_int_equal(S.served, 2);
    /* an instance rename, the same way */
    rds_modify_instance_opts io;
    rename_db1(&io);
    rds_instance *in = NULL;
    resp r6[] = {{500, INTERNAL}, {404, INSTANCE_NOT_FOUND}, {200, INSTANCE_RENAMED}};
    script(r6, 3);
    if (!rds_modify_db_instance(c, &io, &in, &err))
        fail_msg("lost instance rename answer: expected done, got %s (%s)", err.code, err.message);
    assert_string_equal(in->identifier, "db1-old");
    rds_instance_free(in);
    in = NULL;
    /* ambiguous, and the look-up of the new name itself fails for now: not
     * known either way, so a failure for now (the caller tries again
     * later), never the permanent NotFound of the name it renamed away */
    resp r7[] = {{500, INTERNAL}, {404, INSTANCE_NOT_FOUND}, {503, UNAVAILABLE}, {503, UNAVAILABLE},
                 {503, UNAVAILABLE}};
    script(r7, 5);
    aws_error_clear(&err);
    assert_false(rds_modify_db_instance(c, &io, &in, &err));
    assert_int_equal(S.served, 5);
    assert_null(in);
    if (err.kind != AWS_ERR_TRANSIENT)
        fail_msg("lost rename answer, look-up failing for now: expected a transient error, got %s (kind %d)",
                 err.code, (int)err.kind);
    drop_client(c);
}


static void fill(resp *r, int n, resp v)
{
    for (int i = 0; i < n; i++) r[i] = v;
}

/* Under a deadline, a throttle/5xx is sent again past max_attempts (here
 * 1: no retry at all otherwise) until it succeeds; put back, the standard
 * policy again. Every attempt asked the limiter: as an urgent call (writers
 * blocked: ahead of the fleet's other calls) under the deadline. */
static void test_until_retries_past_max_attempts(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 1, 500);
    aws_identity *id = NULL;
    aws_error err;
    resp r[7];
    fill(r, 6, (resp){503, UNAVAILABLE});
    r[2] = (resp){400, THROTTLE};
    r[6] = (resp){200, IDENTITY};
    script(r, 7);
    aws_retry_until u = {.until_ms = fc_mono_ms() + 60000}, prev;
    aws_client_retry_until(c, &u, &prev);
    assert_int_equal(prev.until_ms, 0);
    if (!sts_get_caller_identity(c, &id, &err)) fail_msg("under a deadline: expected done, got %s", err.code);
    aws_identity_free(id);
    assert_int_equal(S.served, 7);
    assert_int_equal(cn.urgent, 7);
    assert_int_equal(cn.acquire, 0);
    assert_int_equal(cn.throttle, 1);
    aws_retry_until back;
    aws_client_retry_until(c, &prev, &back);
    assert_int_equal(back.until_ms, u.until_ms);
    script(r, 7);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_int_equal(S.served, 1);
    assert_int_equal(cn.acquire, 1);
    assert_int_equal(cn.urgent, 7);
    drop_client(c);
}

/* A deadline already passed: the standard policy alone. go_on false
 * stops; the retry quota still ends a storm under a deadline, and so does
 * the attempts' ceiling when the quota would not. */
static int go_on_left;
static bool go_on_count(void *ud)
{
    (void)ud;
    return go_on_left-- > 0;
}

static void test_until_bounded(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 1, 500);
    aws_identity *id = NULL;
    aws_error err;
    resp r[MAX_SCRIPT];
    fill(r, MAX_SCRIPT, (resp){503, UNAVAILABLE});
    script(r, MAX_SCRIPT);
    aws_retry_until u = {.until_ms = fc_mono_ms() - 1};
    aws_client_retry_until(c, &u, NULL);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_int_equal(S.served, 1);
    /* go_on says stop after two retries (a lost lease) */
    script(r, MAX_SCRIPT);
    u.until_ms = fc_mono_ms() + 60000;
    u.go_on = go_on_count;
    go_on_left = 2;
    aws_client_retry_until(c, &u, NULL);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_int_equal(S.served, 3);
    drop_client(c);
    c = client(&cn, 1, 10); /* room for two retries */
    script(r, MAX_SCRIPT);
    u.go_on = NULL;
    aws_client_retry_until(c, &u, NULL);
    assert_false(sts_get_caller_identity(c, &id, &err));
    assert_string_equal(err.code, "ServiceUnavailable");
    assert_int_equal(S.served, 3);
    drop_client(c);
    c = client(&cn, 1, 100000); /* a quota that would allow thousands */
    script(r, MAX_SCRIPT);
    S.after = (resp){503, UNAVAILABLE};
    aws_client_retry_until(c, &u, NULL);
    assert_false(sts_get_caller_identity(c, &id, &err));
    S.after = (resp){200, IDENTITY};
    assert_int_equal(S.served, AWS_RETRY_UNTIL_MAX_ATTEMPTS);
    drop_client(c);
}

/* A busy answer (InvalidDBInstanceState) is sent again only under a
 * deadline that says busy, and takes no retry quota (AWS answered); a
 * rename's lost answer, then busy, then gone: done. */
static void test_until_busy(void **state)
{
    (void)state;
    counts cn = {0};
    aws_client *c = client(&cn, 3, 500);
    aws_error err;
    rds_modify_instance_opts io;
    rename_db1(&io);
    rds_instance *in = NULL;
    resp r[] = {{400, BUSY}, {400, BUSY}, {200, INSTANCE_MODIFIED}};
    script(r, 3);
    assert_false(rds_modify_db_instance(c, &io, &in, &err));
    assert_string_equal(err.code, "InvalidDBInstanceState");
    assert_int_equal(S.served, 1);
    aws_retry_until u = {.until_ms = fc_mono_ms() + 60000};
    aws_client_retry_until(c, &u, NULL);
    script(r, 3);
    assert_false(rds_modify_db_instance(c, &io, &in, &err));
    assert_int_equal(S.served, 1);
    u.busy = true;
    aws_client_retry_until(c, &u, NULL);
    script(r, 3);
    int tokens = aws_client_retry_tokens(c);
    if (!rds_modify_db_instance(c, &io, &in, &err)) fail_msg("busy under a deadline: expected done, got %s", err.code);
    assert_int_equal(S.served, 3);
    assert_string_equal(in->identifier, "db1-old");
    assert_int_equal(aws_client_retry_tokens(c), tokens);
    rds_instance_free(in);
    in = NULL;
    /* the rename's answer lost (500 after AWS took it), the instance busy
     * renaming on the next tries, then the old name gone: done, the new
     * name looked up (rds_rename_carried_out) — one call, no step re-run */
    resp r2[] = {{500, INTERNAL}, {400, BUSY}, {400, BUSY}, {404, INSTANCE_NOT_FOUND}, {200, INSTANCE_RENAMED}};
    script(r2, 5);
    if (!rds_modify_db_instance(c, &io, &in, &err))
        fail_msg("lost answer, busy, gone: expected done, got %s (%s)", err.code, err.message);
    assert_int_equal(S.served, 5);
    assert_string_equal(in->identifier, "db1-old");
    rds_instance_free(in);
    drop_client(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_secret_in_debug_logs),
        cmocka_unit_test(test_user_agent_has_version),
        cmocka_unit_test(test_throttle_bounded),
        cmocka_unit_test(test_auth_fails_fast),
        cmocka_unit_test(test_rate_limiter_refuses),
        cmocka_unit_test(test_retry_quota_stops_storm),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_last_call_ambiguous),
        cmocka_unit_test(test_lost_rename_answer),
        cmocka_unit_test(test_until_retries_past_max_attempts),
        cmocka_unit_test(test_until_bounded),
        cmocka_unit_test(test_until_busy),
    };
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_ENDPOINT_URL_RDS");
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
