/* lsn — PostgreSQL WAL positions (LSNs): parse, format, compare, and find
 * where change data capture must start after a snapshot restore by reading
 * the restored instance's PostgreSQL log (see docs/lsn-boundary.md).
 *
 * The exactly-once rule: logical decoding sends a transaction iff its COMMIT
 * record *starts* at or after the origin LSN. The restored data holds every
 * transaction whose commit record starts at or before R ("redo done at R":
 * the start of the last replayed record). The first record NOT replayed
 * starts at E, the end of the WAL the restore had ("invalid record length at
 * E" and the other end-of-WAL wordings). Every origin LSN in (R, E] is exact;
 * R itself applies the last transaction twice (measured 13/13). */
#ifndef FC_LSN_H
#define FC_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t fc_lsn;
#define FC_LSN_INVALID ((fc_lsn)0)
/* "FFFFFFFF/FFFFFFFF" + NUL */
#define FC_LSN_STRLEN 18
/* Smallest WAL record (SizeOfXLogRecord): the record at R ends at least
 * this far after R. */
#define FC_LSN_MIN_RECORD 24
#define FC_WAL_SEGSIZE_DEFAULT (16u * 1024u * 1024u)

/* Parse "X/Y" (hex, 1-8 digits each, as PostgreSQL prints it; zero-padded
 * forms accepted). The whole string must be consumed. */
bool lsn_parse(const char *s, fc_lsn *out);
/* Parse an LSN at the start of s (at most n bytes); *used gets the length. */
bool lsn_parse_prefix(const char *s, size_t n, fc_lsn *out, size_t *used);
/* Format as PostgreSQL does ("%X/%X"); returns out. */
char *lsn_format(fc_lsn lsn, char out[FC_LSN_STRLEN]);
int lsn_cmp(fc_lsn a, fc_lsn b);

/* A WAL segment size is a power of two from 1 MB to 1 GB. */
bool lsn_valid_segsize(uint64_t segsize);
/* LSN of byte `offset` of WAL segment file `fname` (24 hex digits:
 * timeline, log, seg) for segments of `segsize` bytes. */
bool lsn_from_segment(const char *fname, uint64_t offset, uint64_t segsize, fc_lsn *out,
                      char *err, size_t errcap);

/* ---- find-start-lsn: the end of WAL of the last recovery in a log ---- */
typedef struct lsn_log_opts {
    uint64_t wal_segment_size; /* 0 = 16 MB (RDS); test servers use 1 MB */
    uint64_t max_record_span;  /* end - redo_done must not exceed this; 0 = 16 MB */
    fc_lsn not_before;         /* optional: the end must be >= this (the slots'
                                  consistent point: a snapshot older than the
                                  slot would lose rows) */
    const char *line_prefix;   /* the server's log_line_prefix; NULL = RDS's
                                  "%t:%r:%u@%d:[%p]:". Must contain %p. */
    int64_t restored_after;    /* Unix seconds, 0 = unknown: a time after every
                                  line of the source's own (old log files kept
                                  on the restored volume) and before the
                                  restored server's first start, e.g. when the
                                  snapshot copy was requested. Needs a time
                                  escape (%t/%m/%n) in the prefix. */
} lsn_log_opts;

typedef enum {
    LSN_EOW_RECORD = 1, /* message names the record that could not be read: exact end */
    LSN_EOW_PAGE = 2,   /* message names a page (segment + offset): an upper bound */
} lsn_eow_kind;

typedef struct lsn_log_result {
    fc_lsn start_lsn;   /* advance the subscription's origin to this */
    fc_lsn end_of_wal;  /* the LSN the end-of-WAL message names (exact or page) */
    fc_lsn redo_done;   /* start of the last replayed record */
    fc_lsn redo_start;
    lsn_eow_kind kind;
    bool exact;         /* start_lsn == exact end of WAL (record-level message) */
    int recoveries;     /* crash recoveries (server starts that replayed WAL) in the log */
    int later_recoveries; /* recoveries after the restore's (the restored instance's own) */
    int source_starts;  /* server starts before restored_after (the source's old logs) */
    int startup_pid;    /* pid of the startup process whose recovery was used */
    size_t start_line;  /* its "database system was ..." line */
    bool incomplete;    /* on failure: the restore's recovery is not (yet) in the log,
                           it may still arrive (the log lags): worth waiting */
    size_t eow_line;    /* 1-based line numbers in the text */
    size_t redo_done_line;
    char eow_message[256]; /* the end-of-WAL message, truncated */
} lsn_log_result;

/* Read a PostgreSQL stderr-format log (any log_line_prefix, e.g. RDS's
 * "%t:%r:%u@%d:[%p]:") and find the LSN where CDC must start: the last
 * "redo starts at" group must hold exactly one end-of-WAL position and a
 * "redo done at R". Record-level wordings give the exact end E (start_lsn =
 * E). Page-level wordings (segment + offset) give only the page P where
 * reading failed: the last record may have been cut across P, so the true
 * end lies in [R + 24, P]; start_lsn is then R + 24, which is inside (R, E]
 * in every case (exact = false). Anything missing, contradictory, ambiguous
 * or implausible fails with the reason in err. Never returns R. */
bool lsn_find_start(const char *text, size_t len, const lsn_log_opts *opts,
                    lsn_log_result *res, char *err, size_t errcap);

/* Cross-check a start found in the log against what the restored server
 * reports: `checkpoint_redo` (redo_lsn of pg_control_checkpoint(), or
 * FC_LSN_INVALID when the role may not read it) and `current_wal`
 * (pg_current_wal_lsn()). The restore's crash recovery ends with a
 * checkpoint whose redo is the end of the restored WAL, and later ones only
 * move forward, so the end (record form; the start for the page form, whose
 * page is only an upper bound) can never be past checkpoint_redo, nor the
 * start past current_wal. Neither is a lower bound. False with the reason. */
bool lsn_check_server_bounds(const lsn_log_result *r, fc_lsn checkpoint_redo, fc_lsn current_wal,
                             char *err, size_t errcap);

#endif
