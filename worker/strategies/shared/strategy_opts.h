/* strategy_opts.h — option entries (opt_def, lib/engine/step.h) that several
 * strategies' descriptors declare alike: one spelling, one help line, one
 * validator. A descriptor puts them in its opts table; data only. */
#ifndef FC_STRATEGY_OPTS_H
#define FC_STRATEGY_OPTS_H

#include "dbsecret.h"
#include "window.h"

#define FC_OPT_WINDOW                                                                                      \
    {"window", OPT_STRING, NULL, "", window_opt_check,                                                     \
     "cutovers only inside 'DAYS HH:MM-HH:MM' or RDS's 'ddd:hh24:mi-ddd:hh24:mi' (UTC), e.g. "             \
     "'mon-fri 02:00-04:00', 'sun:02:00-sun:04:00'",                                                       \
     false}

#define FC_OPT_DB_SECRET                                                                                   \
    {"db-secret", OPT_STRING, NULL, "", dbsecret_opt_check,                                                \
     "where the database credentials are: rds-managed (default: the instance's RDS-managed master secret), a " \
     "Secrets Manager secret ARN, or file:PATH (an absolute path read on every worker, not where submit runs)", \
     false}

#endif
