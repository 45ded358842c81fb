/* awsxnet — the network path of a cross-account pg-logical move, judged at
 * preflight from EC2's records (no connection can be made yet: the target
 * does not exist): the target account's subnets (the source's DB subnet
 * group, by name there; DescribeSubnets for their CIDRs) must be admitted
 * on the source's port by the source's VPC security groups — by CIDR (a
 * rule whose IPv4 range contains the subnet's) or by group (a rule naming
 * one of the target's security groups, owned by the target account: fact
 * target_sgs or the campaign's target_security_groups). Routing (VPC
 * peering, Transit Gateway, route tables, network ACLs) is not judged here:
 * the subscribe step's connection from the target proves the whole path
 * before replication starts (docs/cross-account.md, *What is proven where*). */
#ifndef FC_STRATEGY_AWSXNET_H
#define FC_STRATEGY_AWSXNET_H

#include "awsstep.h"
#include "ec2.h"

/* Pure (unit-tested): is an IPv4 CIDR `inner` inside `outer`? false when either is malformed. */
bool awsxnet_cidr_within(const char *inner, const char *outer);
/* Pure (unit-tested): does one of groups src[n] admit TCP `port` from subnet CIDR `cidr`, or from one of
 * the target's groups tsgs[ntsg] of account tacct? */
bool awsxnet_admits(const ec2_sg *src, size_t n, const char *cidr, const char *const *tsgs, size_t ntsg,
                    const char *tacct, int port);

/* Preflight (--target-account-role, after awsxacct_preflight*): the source's groups sg_ids[nsg]
 * admit the target account's subnets of subnet_group on port. STEP_OK, STEP_FAIL with a one-line
 * reason naming the subnet, the groups and the rule to add, STEP_RETRY when AWS is busy. */
step_rc awsxnet_preflight(step_ctx *ctx, step_result *res, const char *subnet_group, char (*sg_ids)[32],
                          size_t nsg, int port);

#endif
