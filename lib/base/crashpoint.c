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

void fc_crashpoint(const char *name)
{
    const char *at = cfg_env_str(CFG_TEST_CRASH_AT);
    const char *dir = cfg_env_str(CFG_TEST_CRASH_DIR);
    if (!at || !*at || !dir || !*dir || !name) return;
    size_t n = strlen(name);
    const char *p = at;
    bool listed = false;
    while (*p && !listed) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        listed = l == n && !strncmp(p, name, n);
        p = e ? e + 1 : p + l;
    }
    if (!listed) return;
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
