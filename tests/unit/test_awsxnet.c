/* test_awsxnet — the cross-account network path, table-driven: IPv4 CIDR
 * containment and whether a source's inbound rules admit a target subnet
 * (worker/strategies/shared/awsxnet.c), and the subscribe step's one-line
 * reason when the target cannot connect (pgl_xnet_reason). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "awsxnet.h"
#include "pglogical_logic.h"

static void test_cidr_within(void **state)
{
    (void)state;
    struct {
        const char *inner, *outer;
        bool want;
    } t[] = {
        {"172.31.0.0/20", "172.31.0.0/16", true},
        {"172.31.16.0/20", "172.31.0.0/16", true},
        {"172.31.0.0/16", "172.31.0.0/20", false},  /* wider than the rule */
        {"10.1.2.0/24", "10.0.0.0/8", true},
        {"10.1.2.0/24", "0.0.0.0/0", true},
        {"11.0.0.0/24", "10.0.0.0/8", false},
        {"10.1.2.0/24", "10.1.2.0/24", true},
        {"10.1.2.0/24", "10.1.2.7/24", true},       /* host bits in the rule ignored */
        {"10.1.2.0/24", "10.1.3.0/24", false},
        {"10.1.2.0/33", "10.0.0.0/8", false},       /* malformed */
        {"10.1.2/24", "10.0.0.0/8", false},
        {"10.1.2.0/24", "", false},
        {"300.1.2.0/24", "0.0.0.0/0", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (awsxnet_cidr_within(t[i].inner, t[i].outer) != t[i].want)
            fail_msg("row %zu: %s within %s: expected %d", i, t[i].inner, t[i].outer, t[i].want);
}

static void rule(ec2_sg *g, const char *proto, int from, int to, const char *cidr, const char *group,
                 const char *owner)
{
    ec2_perm *r = &g->ingress[g->n_ingress++];
    memset(r, 0, sizeof *r);
    snprintf(r->proto, sizeof r->proto, "%s", proto);
    r->from = from;
    r->to = to;
    if (cidr) snprintf(r->cidrs[r->n_cidrs++], sizeof r->cidrs[0], "%s", cidr);
    if (group) {
        snprintf(r->groups[r->n_groups], sizeof r->groups[0], "%s", group);
        snprintf(r->group_owners[r->n_groups++], sizeof r->group_owners[0], "%s", owner ? owner : "");
    }
}

static void test_admits(void **state)
{
    (void)state;
    static ec2_sg g[2];
    const char *tsgs[] = {"sg-target"};
    struct {
        const char *proto;
        int from, to;
        const char *cidr, *group, *owner;
        const char *subnet;
        int port;
        bool want;
    } t[] = {
        {"tcp", 5432, 5432, "172.31.0.0/16", NULL, NULL, "172.31.0.0/20", 5432, true},
        {"tcp", 5432, 5432, "172.31.0.0/16", NULL, NULL, "172.31.0.0/20", 5433, false},  /* another port */
        {"tcp", 5000, 6000, "172.31.0.0/16", NULL, NULL, "172.31.0.0/20", 5433, true},   /* a range */
        {"udp", 5432, 5432, "172.31.0.0/16", NULL, NULL, "172.31.0.0/20", 5432, false},  /* not TCP */
        {"-1", -1, -1, "172.31.0.0/16", NULL, NULL, "172.31.0.0/20", 5432, true},        /* all traffic */
        {"tcp", 5432, 5432, "10.0.0.0/8", NULL, NULL, "172.31.0.0/20", 5432, false},     /* another network */
        {"tcp", 5432, 5432, "172.31.0.0/24", NULL, NULL, "172.31.0.0/20", 5432, false},  /* part of the subnet */
        {"tcp", 5432, 5432, NULL, "sg-target", "210987654321", "172.31.0.0/20", 5432, true},
        {"tcp", 5432, 5432, NULL, "sg-target", "", "172.31.0.0/20", 5432, true},          /* owner omitted */
        {"tcp", 5432, 5432, NULL, "sg-target", "111111111111", "172.31.0.0/20", 5432, false}, /* another account */
        {"tcp", 5432, 5432, NULL, "sg-other", "210987654321", "172.31.0.0/20", 5432, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        memset(g, 0, sizeof g);
        rule(&g[1], t[i].proto, t[i].from, t[i].to, t[i].cidr, t[i].group, t[i].owner); /* the second group */
        bool got = awsxnet_admits(g, 2, t[i].subnet, tsgs, 1, "210987654321", t[i].port);
        if (got != t[i].want) fail_msg("row %zu: expected %d, got %d", i, t[i].want, got);
    }
    memset(g, 0, sizeof g);
    assert_false(awsxnet_admits(g, 2, "172.31.0.0/20", tsgs, 1, "210987654321", 5432)); /* no rule at all */
}

static void test_xnet_reason(void **state)
{
    (void)state;
    char out[1024];
    const char *err = "subscribe (database app): could not connect to the publisher: connection to server at "
                      "\"127.0.0.9\", port 5440 failed: Connection refused\n\tIs the server running on that host?";
    assert_true(pgl_xnet_reason(err, "210987654321", "127.0.0.9", 5440, out, sizeof out));
    assert_null(strchr(out, '\n'));
    assert_non_null(strstr(out, "account 210987654321 cannot connect to the source at 127.0.0.9:5440"));
    assert_non_null(strstr(out, "Connection refused"));
    assert_null(strstr(out, "Is the server running"));
    assert_non_null(strstr(out, "nothing has been replicated yet"));
    assert_false(pgl_xnet_reason("permission denied for database app", "2", "h", 1, out, sizeof out));
    assert_false(pgl_xnet_reason(NULL, "2", "h", 1, out, sizeof out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_within),
        cmocka_unit_test(test_admits),
        cmocka_unit_test(test_xnet_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
