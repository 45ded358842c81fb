/* view_report — renders `fleetcrypt report`: the evidence an auditor asks
 * for, as JSON, CSV, one self-contained HTML page or a table for a terminal. A row is an instance
 * of a campaign, or (report --select) an instance in scope that no campaign
 * holds ("not migrated by fleetcrypt"). Pure functions of the
 * rows; the caller gathers them from Redis and AWS. Every text cell is
 * escaped for its format; CSV cells that a spreadsheet would run as a
 * formula (= + - @) are prefixed with a quote. */
#ifndef FC_VIEW_REPORT_H
#define FC_VIEW_REPORT_H

#include "dbuf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct report_table {
    char name[192];          /* schema-qualified, as the server prints it */
    long long rows;
    char checksum[72];
} report_table;

/* DMS's per-table statistics of an instance's task (fact dms_table_stats,
 * DescribeTableStatistics after the task stopped): names and counts only. */
typedef struct report_dms_table {
    char name[192];          /* db/schema.table */
    long long inserts, updates, deletes, ddls, full_load_rows; /* < 0: not recorded (older facts) */
    char validation[48];     /* ValidationState, "-" when none */
} report_dms_table;

typedef struct report_row {
    char instance[64];
    char kind[16];           /* "cluster" for an Aurora cluster (one unit), else "instance" */
    char members[512];       /* a cluster's members, writer first, comma-separated */
    char campaign[48];
    char state[24];
    char strategy[32];
    bool encrypted_before, encrypted_after;
    char key_before[256];    /* "" when unencrypted */
    char key_after[256];
    char cutover_at[40];     /* ISO 8601 UTC, "" if none */
    double downtime_s;       /* < 0: unknown */
    char rb_state[16];       /* pg-logical's rollback window (fact rb_state): "" none, open, finalized, rolled-back, … */
    char rb_until[32];       /* its end (UTC) */
    long long rb_lag_bytes;  /* its last reverse lag; < 0 unknown */
    long long rows_verified; /* < 0: unknown */
    int tables_verified;
    const report_table *tables; /* borrowed, may be NULL */
    size_t ntables;
    char retired_source[64];
    char target_account[16];  /* moved into this account (--target-account-role); "" = the campaign's */
    char retain_until[40];
    char error[256];
    /* the instance now (DescribeDBInstances), for every row when AWS answered */
    char engine[32];         /* "" unknown */
    bool now_known;          /* AWS listed this identifier */
    bool encrypted_now;
    char key_now[256];
    /* the encryption type of before, after and now (kms_encryption_type:
     * none, kms-aws-managed, kms-customer-managed, kms); "" unknown or n/a */
    char enc_before[24], enc_after[24], enc_now[24];
    /* `report --select`: an instance in scope that no campaign ever held.
     * campaign, state, strategy and before/after do not apply (null/empty);
     * it is shown with its state now and "not migrated by fleetcrypt". */
    bool unmanaged;
    /* DMS's evidence of an instance replicated through AWS DMS (facts of
     * docs/dms.md); has_dms false otherwise. Counts and table names only. */
    bool has_dms;
    long long dms_apply_exceptions;  /* < 0: not recorded */
    long long dms_val_tables, dms_val_validated, dms_val_failures; /* < 0: DMS validation not run */
    char dms_val_mismatched[256];    /* db/schema.table, comma-separated */
    char dms_val_error[160];
    const report_dms_table *dms_tables; /* borrowed, may be NULL */
    size_t ndms_tables;
    long long dms_tables_more;       /* tables the capped fact left out */
} report_row;

#define REPORT_NOT_MIGRATED "not migrated by fleetcrypt"

typedef struct report_meta {
    char title[128];         /* e.g. "campaign q4-encrypt" */
    char generated_at[40];
    char generated_by[96];
} report_meta;

bool report_render_json(const report_meta *m, const report_row *rows, size_t n, dbuf *out);
bool report_render_csv(const report_meta *m, const report_row *rows, size_t n, dbuf *out);
bool report_render_html(const report_meta *m, const report_row *rows, size_t n, dbuf *out);
/* `report -o table`: a header line, then one whitespace-aligned line per row
 * (INSTANCE CAMPAIGN STATE BEFORE AFTER CUTOVER DOWNTIME_S RETAIN_UNTIL),
 * "-" for an empty cell, so `awk '{print $3}'` is the state. */
bool report_render_table(const report_meta *m, const report_row *rows, size_t n, dbuf *out);

#endif
