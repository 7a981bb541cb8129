/* run_paths.c: the deduplicated, ordered list of changed paths. */
#include "run_paths.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS_INITIAL 64

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * UINT64_C(1099511628211);
    return h;
}

/* The slot holding p[0..n), or the empty slot where it would go. The table
 * is never full (at most 3/4), so the probe ends. */
static struct iw_path_slot *find_slot(const struct iw_pathset *s, const char *p, size_t n)
{
    size_t mask = s->nslots - 1;
    for (size_t i = hash_bytes(p, n) & mask;; i = (i + 1) & mask) {
        struct iw_path_slot *slot = &s->slots[i];
        if (slot->len == 0 || (slot->len == n && memcmp(s->buf + slot->off, p, n) == 0))
            return slot;
    }
}

static int grow_slots(struct iw_pathset *s)
{
    size_t n = s->nslots ? s->nslots * 2 : SLOTS_INITIAL;
    struct iw_path_slot *old = s->slots;
    size_t old_n = s->nslots;
    s->slots = calloc(n, sizeof(*s->slots));
    if (!s->slots) {
        s->slots = old;
        return -ENOMEM;
    }
    s->nslots = n;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].len)
            *find_slot(s, s->buf + old[i].off, old[i].len) = old[i];
    free(old);
    return 0;
}

/* Makes room for `more` bytes plus the NUL. The buffer never exceeds
 * IW_PATHS_MAX + 1, so offsets fit in 32 bits. */
static int reserve(struct iw_pathset *s, size_t more)
{
    if (s->len + more + 1 <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + more + 1)
        cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b)
        return -ENOMEM;
    s->buf = b;
    s->cap = cap;
    return 0;
}

int iw_pathset_add(struct iw_pathset *s, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if ((s->count + 1) * 4 > s->nslots * 3 && grow_slots(s) < 0)
        return -ENOMEM;
    struct iw_path_slot *slot = find_slot(s, p, n);
    if (slot->len)
        return 0;
    size_t sep = s->len ? 1 : 0;
    if (s->len + sep + n > IW_PATHS_MAX) {
        s->truncated = 1;
        return 0;
    }
    if (reserve(s, sep + n) < 0)
        return -ENOMEM;
    if (sep)
        s->buf[s->len++] = '\n';
    memcpy(s->buf + s->len, p, n);
    slot->off = (uint32_t)s->len;
    slot->len = (uint32_t)n;
    s->len += n;
    s->buf[s->len] = '\0';
    s->count++;
    return 0;
}

const char *iw_pathset_value(const struct iw_pathset *s)
{
    return s->len ? s->buf : "";
}

void iw_pathset_clear(struct iw_pathset *s)
{
    if (s->count)
        memset(s->slots, 0, s->nslots * sizeof(*s->slots));
    s->count = 0;
    s->len = 0;
    s->truncated = 0;
}

void iw_pathset_free(struct iw_pathset *s)
{
    free(s->buf);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}
