/* test_log — key=value and JSON lines carry the fixed keys and the step
 * context, quote free text, and JSON output parses field by field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *capture(void (*emit)(void))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    log_set_stream(f);
    emit();
    log_set_stream(NULL);
    fclose(f);
    return buf;
}

static void emit_kv(void)
{
    log_ctx_set("c1", "db-1", "snapshot", 2);
    log_info("snapshot started", "snapshot=%s progress=%d", "fc-c1-db-1-snap", 40);
    log_ctx_clear();
    log_debug("hidden", "x=%d", 1);
}

static void test_kv_format(void **state)
{
    (void)state;
    unsetenv("FLEETCRYPT_LOG_FORMAT");
    unsetenv("FLEETCRYPT_LOG_LEVEL");
    log_init("worker");
    char *out = capture(emit_kv);
    assert_non_null(strstr(out, " level=info svc=worker campaign=c1 instance=db-1 step=snapshot attempt=2 msg=\"snapshot started\" snapshot=fc-c1-db-1-snap progress=40\n"));
    assert_true(strncmp(out, "ts=", 3) == 0);
    assert_null(strstr(out, "hidden"));
    free(out);
}

static void emit_json(void)
{
    log_ctx_set("c1", "db-1", NULL, 0);
    log_warn("quote \" and newline\n", "reason=\"a b\" n=3");
    log_ctx_clear();
}

static void test_json_format(void **state)
{
    (void)state;
    setenv("FLEETCRYPT_LOG_FORMAT", "json", 1);
    log_init("coordinator");
    char *out = capture(emit_json);
    assert_non_null(strstr(out, "\"level\":\"warn\""));
    assert_non_null(strstr(out, "\"campaign\":\"c1\""));
    assert_non_null(strstr(out, "\"msg\":\"quote \\\" and newline\\n\""));
    assert_non_null(strstr(out, "\"reason\":\"a b\""));
    assert_non_null(strstr(out, "\"n\":\"3\"}"));
    free(out);
    unsetenv("FLEETCRYPT_LOG_FORMAT");
    log_init("coordinator");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_format),
        cmocka_unit_test(test_json_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
