/* redis_fixture — unit tests of the Redis scripts run against a real
 * redis-server: FC_TEST_REDIS_URL when set (pytest or CI provide one),
 * otherwise the test binary starts its own redis-server on a free loopback
 * port without persistence and stops it at the end. Each test uses its own
 * key prefix so they never see each other's keys. */
#ifndef FC_TEST_REDIS_FIXTURE_H
#define FC_TEST_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "store.h"
#include "util.h"

static pid_t fx_redis_pid = 0;
static char fx_redis_url[128];

static int fx_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        close(fd);
        return -1;
    }
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int fx_redis_up(void **state)
{
    (void)state;
    const char *u = getenv("FC_TEST_REDIS_URL");
    if (u && *u) {
        fc_strlcpy(fx_redis_url, u, sizeof fx_redis_url);
        return 0;
    }
    int port = fx_free_port();
    if (port <= 0) return -1;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("redis-server", "redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
        _exit(127);
    }
    if (pid < 0) return -1;
    fx_redis_pid = pid;
    snprintf(fx_redis_url, sizeof fx_redis_url, "redis://127.0.0.1:%d/0", port);
    for (int i = 0; i < 100; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0) return 0;
        fc_sleep_ms(50);
    }
    return -1;
}

static int fx_redis_down(void **state)
{
    (void)state;
    if (fx_redis_pid > 0) {
        kill(fx_redis_pid, SIGTERM);
        waitpid(fx_redis_pid, NULL, 0);
        fx_redis_pid = 0;
    }
    return 0;
}

/* A store on the test Redis with a fresh key prefix. */
static store *fx_store(const char *prefix)
{
    fc_config c;
    char err[256];
    memset(&c, 0, sizeof c);
    fc_strlcpy(c.redis_url, fx_redis_url, sizeof c.redis_url);
    snprintf(c.key_prefix, sizeof c.key_prefix, "%s%d", prefix, (int)getpid());
    store *s = store_open(&c, err, sizeof err);
    if (!s) fprintf(stderr, "store_open: %s\n", err);
    return s;
}

#endif
