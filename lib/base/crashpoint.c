/* crashpoint — fc_crashpoint (declared in util.h): the chaos tests' crash
 * points, configured by FLEETCRYPT_TEST_CRASH_AT / _DIR through the config
 * table (kept out of util.c, which the config table itself uses). */
#include "cfg.h"
#include "util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool listed_in(const char *at, const char *name)
{
    size_t n = strlen(name);
    const char *p = at;
    bool listed = false;
    while (*p && !listed) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        listed = l == n && !strncmp(p, name, n);
        p = e ? e + 1 : p + l;
    }
    return listed;
}

void fc_crashpoint(const char *name)
{
    const char *at = cfg_env_str(CFG_TEST_CRASH_AT);
    const char *dir = cfg_env_str(CFG_TEST_CRASH_DIR);
    if (!at || !*at || !dir || !*dir || !name || !listed_in(at, name)) return;
    char path[1024];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path) return;
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) return; /* fired already (or the directory is unusable) */
    char line[64];
    int ll = snprintf(line, sizeof line, "%d\n", (int)getpid());
    if (ll > 0) (void)!write(fd, line, (size_t)ll);
    close(fd);
    fprintf(stderr, "fleetcrypt: test crash point %s reached: SIGKILL\n", name);
    fflush(stderr);
    kill(getpid(), SIGKILL);
}

void fc_holdpoint(const char *name)
{
    const char *at = cfg_env_str(CFG_TEST_HOLD_AT);
    const char *dir = cfg_env_str(CFG_TEST_CRASH_DIR);
    if (!at || !*at || !dir || !*dir || !name || !listed_in(at, name)) return;
    char held[1024], go[1024];
    int w1 = snprintf(held, sizeof held, "%s/%s.held", dir, name);
    int w2 = snprintf(go, sizeof go, "%s/%s.go", dir, name);
    if (w1 < 0 || (size_t)w1 >= sizeof held || w2 < 0 || (size_t)w2 >= sizeof go) return;
    int fd = open(held, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) return; /* held once already */
    close(fd);
    fprintf(stderr, "fleetcrypt: test hold point %s reached: waiting for %s\n", name, go);
    fflush(stderr);
    for (int i = 0; i < 2400 && access(go, F_OK) != 0; i++) usleep(50 * 1000);
}
