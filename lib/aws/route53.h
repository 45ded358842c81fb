/* route53 — the Route 53 calls fleetcrypt makes (REST XML on aws.c's
 * request, SigV4 service `route53`, region us-east-1; endpoint
 * AWS_ENDPOINT_URL_ROUTE_53 / [services] route_53, as awscli and botocore
 * name it): the hosted zone holding a name (ListHostedZonesByName), one
 * record set (ListResourceRecordSets), UPSERT (ChangeResourceRecordSets)
 * and a change's status (GetChange). Names are compared lower-case with
 * the trailing dot (r53_norm). Used by the CNAME cutover
 * (worker/strategies/shared/awscname.c). */
#ifndef FC_AWS_ROUTE53_H
#define FC_AWS_ROUTE53_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"

#define R53_NAME_MAX 256

/* One simple record set with one value (a CNAME). */
typedef struct r53_rrset {
    char name[R53_NAME_MAX];  /* normalised */
    char type[12];
    int64_t ttl;
    char value[R53_NAME_MAX]; /* the first value, as Route 53 returns it */
    int nvalues;
} r53_rrset;

/* `in` lower-cased with one trailing dot (false when it does not fit). */
bool r53_norm(const char *in, char *out, size_t cap);
/* The hosted zone holding `name`: the longest zone name that `name` ends
 * with, one ListHostedZonesByName per suffix (the first zone of that name
 * Route 53 lists). *found false when the account has none. zone_id without
 * "/hostedzone/". */
bool r53_zone_for(aws_client *c, const char *name, char *zone_id, size_t idcap, char *zone_name, size_t zncap,
                  bool *found, aws_error *err);
/* The record set (name, type) of the zone; *found false when absent. */
bool r53_get_rrset(aws_client *c, const char *zone_id, const char *name, const char *type, r53_rrset *out,
                   bool *found, aws_error *err);
/* UPSERT rr (one value) with comment; change_id (without "/change/") of the change. */
bool r53_upsert(aws_client *c, const char *zone_id, const r53_rrset *rr, const char *comment, char *change_id,
                size_t cap, aws_error *err);
/* GetChange: *insync when Status is INSYNC. */
bool r53_change_insync(aws_client *c, const char *change_id, bool *insync, aws_error *err);

#endif
