/* unlisted.c: the regular files of the directories-only model.
 *
 * With fanotify, a tree's regular files need no node: events name their
 * directory (by handle) and their name, and no new-directory race or
 * bounded queue asks for a listing to diff against. But the rules still
 * need one bit per name: did this file exist? A rename onto an existing
 * name must report the replaced file's delete first; a delete or a change
 * of a name the model never had is stale. So a quiet scan keeps, per
 * directory, the sorted hashes of the regular files it listed: 4 bytes a
 * file instead of a node and a table slot (about 70). The first event that
 * names such a file turns it into a node (iw_child_get) whose inode is not
 * known (IW_NODE_HASHED); from then on the node is the truth and its hash
 * is marked taken.
 *
 * The array: [0] entries, [1] entries not taken yet, then the entries in
 * ascending order, each the name's hash with its lowest bit replaced by
 * "not taken yet" (1). Two names of one directory with the same 31 bits
 * are both kept; a name that was never listed but shares them is taken for
 * a listed one (one chance in two billion per pair of names in a
 * directory). What such a collision costs depends on the event that meets
 * it: a create of a regular file does not consult the hashes once the
 * scan's own events are read; a rename onto the new name, or a directory
 * (anything but a regular file) made under it, reports a delete of that
 * name first, which did not exist, and takes the listed name's entry, so
 * that the listed file's own later delete or change is not reported and
 * its rename is told as a create of the new name; and a create read with
 * the scan's own events is taken for the listed file, a duplicate. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define IW_LIVE 1u

/* Sorting runs once per directory of a scan, most of them a few dozen
 * files: insertion sort there, and beyond it a radix sort (three passes of
 * 11 bits) from v into out, which is where the result must end anyway.
 * qsort's callback per comparison was a visible part of a big tree's
 * start-up. */
#define IW_SMALL_SORT 48
#define IW_RADIX_BITS 11

static void sort_into(uint32_t *v, size_t n, uint32_t *out)
{
    if (n <= IW_SMALL_SORT) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        memcpy(out, v, n * sizeof(*v));
        return;
    }
    uint32_t *from = v, *to = out;
    for (unsigned shift = 0; shift < 32; shift += IW_RADIX_BITS) {
        size_t count[1u << IW_RADIX_BITS] = {0};
        uint32_t mask = (1u << IW_RADIX_BITS) - 1;
        for (size_t i = 0; i < n; i++)
            count[(from[i] >> shift) & mask]++;
        size_t at = 0;
        for (size_t b = 0; b <= mask; b++) {
            size_t c = count[b];
            count[b] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(from[i] >> shift) & mask]++] = from[i];
        uint32_t *t = from;
        from = to;
        to = t;
    }
    /* Three passes (0, 11, 22): the last one wrote into out. */
}

int iw_unlisted_set(inowatch *w, struct iw_dir *d, uint32_t *hashes, size_t n)
{
    iw_unlisted_free(w, d);
    if (n == 0)
        return 0;
    if (n > UINT32_MAX - 2)
        return -ENOMEM;
    uint32_t *a = malloc((n + 2) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        hashes[i] |= IW_LIVE;
    sort_into(hashes, n, a + 2);
    a[0] = a[1] = (uint32_t)n;
    d->unlisted = a;
    w->stats.model_bytes += (n + 2) * sizeof(*a);
    w->stats.files_hashed += n;
    return 0;
}

void iw_unlisted_free(inowatch *w, struct iw_dir *d)
{
    if (!d->unlisted)
        return;
    w->stats.model_bytes -= (d->unlisted[0] + 2) * sizeof(*d->unlisted);
    w->stats.files_hashed -= d->unlisted[1];
    free(d->unlisted);
    d->unlisted = NULL;
}

/* The first entry not taken yet with the hash's 31 bits, or NULL. */
static uint32_t *find_live(const struct iw_dir *d, uint32_t hash)
{
    if (!d->unlisted)
        return NULL;
    uint32_t *v = d->unlisted + 2, key = hash & ~IW_LIVE;
    size_t lo = 0, hi = d->unlisted[0];
    while (lo < hi) { /* the first entry >= key */
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < d->unlisted[0] && (v[lo] & ~IW_LIVE) == key; lo++)
        if (v[lo] & IW_LIVE)
            return v + lo;
    return NULL;
}

int iw_unlisted_has(const struct iw_dir *d, const char *name, size_t len)
{
    return find_live(d, iw_hash_name(name, len)) != NULL;
}

/* Marks the name's entry taken; the array goes when nothing in it is live. */
static int unlisted_take(inowatch *w, struct iw_dir *d, const char *name, size_t len)
{
    uint32_t *e = find_live(d, iw_hash_name(name, len));
    if (!e)
        return 0;
    *e &= ~IW_LIVE;
    w->stats.files_hashed--;
    if (--d->unlisted[1] == 0)
        iw_unlisted_free(w, d);
    return 1;
}

/* A taken entry is never looked at again, even when a name with no node
 * matches it: the model may have dropped a name before the event that
 * explains it is read (a settling that asked the disk, a rename onto it),
 * and that event must then find nothing. */
struct iw_node *iw_child_get(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                             int isdir, int *ret_err)
{
    *ret_err = 0;
    struct iw_node *c = iw_child_find(d, name, len);
    if (c || isdir || !d->unlisted || !unlisted_take(w, d, name, len))
        return c;
    c = iw_child_new(w, d, name, len, INOWATCH_TYPE_FILE, 0, ret_err);
    if (c)
        c->flags |= IW_NODE_HASHED;
    return c;
}

int iw_has_unlisted(const struct iw_node *n)
{
    const struct iw_dir *d = iw_as_dir((struct iw_node *)n);
    if (!d || n->type != INOWATCH_TYPE_DIR)
        return 0;
    if (d->unlisted)
        return 1;
    for (uint32_t i = 0; i < d->cap; i++)
        if (d->slots[i] && iw_has_unlisted(d->slots[i]))
            return 1;
    return 0;
}
