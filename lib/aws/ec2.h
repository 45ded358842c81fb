/* ec2 — the one EC2 call fleetcrypt makes: VPC security groups by id or by
 * name (DescribeSecurityGroups, the EC2 Query protocol: `<item>` lists, no
 * Result wrapper), to map a source's groups by name into another account. */
#ifndef FC_AWS_EC2_H
#define FC_AWS_EC2_H

#include <stddef.h>

#include "aws.h"

typedef struct ec2_sg {
    char id[32];
    char name[256];
    char vpc[32];
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

#endif
