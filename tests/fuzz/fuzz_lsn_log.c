/* fuzz_lsn_log — libFuzzer target for the find-start-lsn log parser: any
 * bytes must parse without crashing or reading out of bounds, and every
 * success must keep the exactly-once invariant (redo_done < start <= end)
 * and name the startup process it used. Seeds: tests/fuzz/seeds/fuzz_lsn_log
 * (test_lsn's table, written by FC_LSN_SEED_DIR=... test_lsn). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copy so ASan catches any read past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    static const uint64_t segs[] = {0, 1u << 20, 1u << 24, 1u << 30, 3u << 20};
    /* RDS's prefix (the default), PostgreSQL's default, a padded one with %q
     * and %b, one without %p (always refused); with and without a restore time */
    static const char *const prefixes[] = {NULL, "%m [%p] ", "[%5p] %t %b %q%u@%d ", "%t "};
    static const int64_t afters[] = {0, 1714557540};
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
            for (size_t t = 0; t < sizeof afters / sizeof afters[0]; t++) {
                lsn_log_opts o = {.wal_segment_size = segs[i], .max_record_span = (size & 1) ? 4096 : 0,
                                  .line_prefix = prefixes[k], .restored_after = afters[t]};
                lsn_log_result r;
                char err[256];
                if (lsn_find_start(buf, size, &o, &r, err, sizeof err)) {
                    if (!(r.start_lsn > r.redo_done && r.start_lsn <= r.end_of_wal)) abort();
                    if (r.startup_pid < 0 || r.start_line == 0) abort();
                } else if (err[0] == 0) {
                    abort(); /* a failure always says why */
                }
            }
        }
    }
    fc_lsn v;
    char s[64];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;
    if (lsn_parse(s, &v)) {
        char back[FC_LSN_STRLEN];
        fc_lsn w;
        if (!lsn_parse(lsn_format(v, back), &w) || w != v) abort();
    }
    free(buf);
    return 0;
}
