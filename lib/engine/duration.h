/* duration — a length of time as an operator writes it: a whole number
 * followed by s, m, h or d ("90s", "30m", "48h", "7d"), or a bare number
 * of seconds; also the option validator of such fields (--rollback-window). */
#ifndef FC_DURATION_H
#define FC_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_DURATION_MAX_S (366LL * 86400) /* a year: longer is a typo */

/* *seconds from s; false for anything else (empty, negative, overflow, > FC_DURATION_MAX_S). */
bool fc_duration_parse(const char *s, int64_t *seconds);
/* opt_def validator: "" is allowed (unset), else fc_duration_parse and > 0. */
bool duration_opt_check(const char *v, char *err, size_t errcap);

#endif
