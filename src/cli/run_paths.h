/* run_paths.h: the changed paths handed to `inowatch run`'s CMD.
 *
 * CMD gets them in one environment variable, so they are kept as the
 * variable's value itself: paths joined by newlines, each once, in the order
 * first seen. A hash table of (offset, length) pairs into that buffer finds
 * duplicates without a second copy of the paths.
 */
#ifndef IW_RUN_PATHS_H
#define IW_RUN_PATHS_H

#include <stddef.h>
#include <stdint.h>

/* Linux refuses (E2BIG) to execute with one environment string longer than
 * MAX_ARG_STRLEN (32 pages, 128 KiB); stay well below it. */
#define IW_PATHS_MAX (100u * 1024)

struct iw_path_slot {
    uint32_t off, len; /* len 0: an empty slot (a path is never empty) */
};

struct iw_pathset {
    char *buf; /* "p1\np2...", NUL-terminated once anything was added */
    size_t len, cap;
    struct iw_path_slot *slots;
    size_t nslots, count;
    int truncated; /* a path was left out: the buffer was full */
};

/* Adds p[0..n) unless it is present already. A path that would make the
 * list longer than IW_PATHS_MAX is left out and sets truncated. Returns 0 or
 * -ENOMEM. */
int iw_pathset_add(struct iw_pathset *s, const char *p, size_t n);

/* The list as the variable's value: NUL-terminated, no trailing newline;
 * "" when empty. Valid until the next add or clear. */
const char *iw_pathset_value(const struct iw_pathset *s);

/* Empties the set, keeping its memory for the next burst. */
void iw_pathset_clear(struct iw_pathset *s);

void iw_pathset_free(struct iw_pathset *s);

#endif /* IW_RUN_PATHS_H */
