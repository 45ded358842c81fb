/* util — see util.h. */
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>

int64_t fc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fc_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void fc_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

uint64_t fc_rand_below(uint64_t n)
{
    static _Thread_local uint64_t s = 0;
    if (n == 0) return 0;
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&s;
        if (s == 0) s = 0x9e3779b97f4a7c15ULL;
    }
    /* xorshift64* */
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return (s * 0x2545F4914F6CDD1DULL) % n;
}

bool fc_strlcpy(char *dst, const char *src, size_t cap)
{
    if (cap == 0) return false;
    size_t n = strlen(src);
    bool ok = n < cap;
    if (!ok) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
    return ok;
}

bool fc_valid_db_identifier(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 63 || !isalpha((unsigned char)s[0]) || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-')) return false;
        if (c == '-' && i > 0 && s[i - 1] == '-') return false;
    }
    return true;
}

bool fc_valid_campaign_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 40 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-')) return false;
    }
    return true;
}

void fc_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = 0;
}

static volatile sig_atomic_t stop_flag = 0;

static void on_stop_signal(int sig)
{
    if (stop_flag) _exit(128 + sig); /* second signal: exit now */
    stop_flag = 1;
}

volatile sig_atomic_t *fc_stop_flag(void)
{
    return &stop_flag;
}

void fc_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}
