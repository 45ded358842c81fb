/* awsmemo — see awsmemo.h. */
#include "awsmemo.h"

#include <pthread.h>
#include <string.h>

#include "util.h"

#define MEMO_N 64
#define MEMO_KEY 256

static struct {
    char key[MEMO_KEY];
    int64_t at; /* fc_mono_ms; 0 = empty */
} memo[MEMO_N];
static pthread_mutex_t memo_mu = PTHREAD_MUTEX_INITIALIZER;

bool awsmemo_seen(const char *key, int64_t max_age_ms)
{
    int64_t now = fc_mono_ms();
    bool yes = false;
    pthread_mutex_lock(&memo_mu);
    for (int i = 0; i < MEMO_N && !yes; i++)
        yes = memo[i].at > 0 && now - memo[i].at <= max_age_ms && !strcmp(memo[i].key, key);
    pthread_mutex_unlock(&memo_mu);
    return yes;
}

void awsmemo_put(const char *key)
{
    if (strlen(key) >= MEMO_KEY) return;
    int64_t now = fc_mono_ms();
    pthread_mutex_lock(&memo_mu);
    int at = 0;
    for (int i = 0; i < MEMO_N; i++) {
        if (memo[i].at > 0 && !strcmp(memo[i].key, key)) {
            at = i;
            break;
        }
        if (memo[i].at < memo[at].at) at = i; /* the oldest (or an empty one) */
    }
    fc_strlcpy(memo[at].key, key, sizeof memo[at].key);
    memo[at].at = now > 0 ? now : 1;
    pthread_mutex_unlock(&memo_mu);
}

void awsmemo_reset(void)
{
    pthread_mutex_lock(&memo_mu);
    memset(memo, 0, sizeof memo);
    pthread_mutex_unlock(&memo_mu);
}
