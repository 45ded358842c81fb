/* ec2 — the EC2 calls fleetcrypt makes (the EC2 Query protocol: `<item>`
 * lists, no Result wrapper): VPC security groups by id or by name with
 * their inbound rules (DescribeSecurityGroups), to map a source's groups by
 * name into another account and to judge whether they admit the target
 * account's subnets; subnets by id (DescribeSubnets) for their CIDRs. */
#ifndef FC_AWS_EC2_H
#define FC_AWS_EC2_H

#include <stddef.h>

#include "aws.h"

/* One inbound rule: protocol ("tcp", "-1" = all, ...), ports (-1 when
 * the protocol has none), its IPv4 CIDRs and referenced groups (id and
 * owner account), at most EC2_MAX_PEERS each. */
#define EC2_MAX_PEERS 8
#define EC2_MAX_PERMS 16
typedef struct ec2_perm {
    char proto[8];
    int from, to;
    char cidrs[EC2_MAX_PEERS][48];
    size_t n_cidrs;
    char groups[EC2_MAX_PEERS][32];
    char group_owners[EC2_MAX_PEERS][16];
    size_t n_groups;
} ec2_perm;

typedef struct ec2_sg {
    char id[32];
    char name[256];
    char vpc[32];
    ec2_perm ingress[EC2_MAX_PERMS];
    size_t n_ingress;
} ec2_sg;

typedef struct ec2_sg_list {
    ec2_sg *v;
    size_t n;
} ec2_sg_list;
void ec2_sg_list_free(ec2_sg_list *l);

/* The groups with these ids (GroupId.N; an unknown id is an error
 * InvalidGroup.NotFound) or, when ids is NULL, with these names (filter
 * group-name: every VPC; none found is an empty list). At most 16 each. */
bool ec2_describe_security_groups(aws_client *c, const char *const *ids, size_t nids, const char *const *names,
                                  size_t nnames, ec2_sg_list **out, aws_error *err);

typedef struct ec2_subnet {
    char id[32];
    char cidr[48];
} ec2_subnet;

typedef struct ec2_subnet_list {
    ec2_subnet *v;
    size_t n;
} ec2_subnet_list;
void ec2_subnet_list_free(ec2_subnet_list *l);

/* The subnets with these ids (SubnetId.N, at most 16; an unknown id is an
 * error InvalidSubnetID.NotFound). */
bool ec2_describe_subnets(aws_client *c, const char *const *ids, size_t nids, ec2_subnet_list **out,
                          aws_error *err);

#endif
