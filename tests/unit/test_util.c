/* test_util — a daemon's stop on a signal (fc_stop_on_signals): the first
 * SIGTERM or SIGINT sets the stop flag, SIGPIPE is ignored, a second signal
 * exits at once with 128 + the signal. Run in a child process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child's exit status after: install, raise first, check the flag,
 * raise SIGPIPE, raise second. 2: the flag was not set by the first; 3: the
 * second signal did not end the process. */
static int child_status(int first, int second)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fc_stop_on_signals();
        if (*fc_stop_flag()) _exit(4);
        raise(first);
        if (!*fc_stop_flag()) _exit(2);
        raise(SIGPIPE);
        raise(second);
        _exit(3);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_stop_on_signals(void **state)
{
    (void)state;
    assert_int_equal(child_status(SIGTERM, SIGTERM), 128 + SIGTERM);
    assert_int_equal(child_status(SIGINT, SIGTERM), 128 + SIGTERM);
    assert_int_equal(child_status(SIGTERM, SIGINT), 128 + SIGINT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_on_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
