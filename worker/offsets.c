/* offsets — see offsets.h. Each partition keeps its in-flight offsets in
 * arrival order with a done flag; the head advances over finished ones. */
#include "offsets.h"

#include <stdlib.h>
#include <string.h>

typedef struct ent {
    int64_t offset;
    bool done;
} ent;

typedef struct part {
    ent *v;
    size_t head, len, cap;  /* entries v[head .. len) */
    uint64_t gen;
} part;

struct offtrack {
    part p[OFFTRACK_MAX_PARTITIONS];
};

offtrack *offtrack_new(void) { return calloc(1, sizeof(offtrack)); }

void offtrack_free(offtrack *o)
{
    if (!o) return;
    for (int i = 0; i < OFFTRACK_MAX_PARTITIONS; i++) free(o->p[i].v);
    free(o);
}

static part *get(offtrack *o, int32_t partition)
{
    if (partition < 0 || partition >= OFFTRACK_MAX_PARTITIONS) return NULL;
    return &o->p[partition];
}

void offtrack_reset(offtrack *o, int32_t partition)
{
    part *p = get(o, partition);
    if (!p) return;
    p->head = p->len = 0;
    p->gen++;
}

uint64_t offtrack_generation(const offtrack *o, int32_t partition)
{
    if (partition < 0 || partition >= OFFTRACK_MAX_PARTITIONS) return 0;
    return o->p[partition].gen;
}

bool offtrack_add(offtrack *o, int32_t partition, int64_t offset)
{
    part *p = get(o, partition);
    if (!p) return false;
    if (p->head > 0 && p->head == p->len) p->head = p->len = 0;
    if (p->len == p->cap) {
        if (p->head > p->cap / 2) { /* compact */
            memmove(p->v, p->v + p->head, (p->len - p->head) * sizeof *p->v);
            p->len -= p->head;
            p->head = 0;
        } else {
            size_t nc = p->cap ? p->cap * 2 : 64;
            ent *nv = realloc(p->v, nc * sizeof *nv);
            if (!nv) return false;
            p->v = nv;
            p->cap = nc;
        }
    }
    p->v[p->len].offset = offset;
    p->v[p->len].done = false;
    p->len++;
    return true;
}

int64_t offtrack_done(offtrack *o, int32_t partition, int64_t offset, uint64_t generation)
{
    part *p = get(o, partition);
    if (!p || generation != p->gen) return -1;
    bool found = false;
    for (size_t i = p->head; i < p->len; i++)
        if (p->v[i].offset == offset) {
            p->v[i].done = true;
            found = true;
            break;
        }
    if (!found) return -1;
    int64_t store = -1;
    while (p->head < p->len && p->v[p->head].done) {
        store = p->v[p->head].offset + 1;
        p->head++;
    }
    return store;
}

long offtrack_pending(const offtrack *o)
{
    long n = 0;
    for (int i = 0; i < OFFTRACK_MAX_PARTITIONS; i++) n += (long)(o->p[i].len - o->p[i].head);
    return n;
}
