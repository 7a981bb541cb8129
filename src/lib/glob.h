/* glob.h: exclude patterns.
 *
 * The user's --exclude patterns are compiled once by inowatch_new() and then
 * checked against every entry the watcher discovers, so that an excluded
 * directory never gets a watch and nothing below it is ever scanned. The
 * check runs once per new entry, on the hot path of a large untar, which is
 * why matching is linear-time and allocation-free.
 *
 * Pattern syntax: '*' any run of bytes except '/', '?' one byte except '/',
 * "[abc]" "[a-z]" "[!x]" "[^x]" one byte from a class (never '/'), '\' makes
 * the next byte literal, "**" any run including '/'. A "**" that fills a
 * whole component between two slashes may also match no directory at all,
 * so that the pattern "a", "**", "b" joined by slashes matches "a/b" too;
 * likewise a leading "**" component matches zero or more leading
 * directories. (Written out, those patterns would end this comment.)
 *
 * Pattern kinds: a pattern without '/' is a component pattern, matched
 * against the entry's name alone (its ancestors were checked when they were
 * discovered); one with '/' is matched against the whole path relative to
 * the root. A trailing '/' means "directories only" and is then dropped, so
 * "node_modules/" is a component pattern; a leading '/' anchors the pattern
 * to the root and is dropped, so "/dist" is a path pattern.
 */
#ifndef IW_GLOB_H
#define IW_GLOB_H

#include <stddef.h>

/* A compiled list of patterns (opaque). */
struct iw_excludes;

/* Compiles a NULL-terminated array of patterns (a NULL array means none).
 * Returns 0, -EINVAL for a malformed pattern (an unterminated '[' class, an
 * empty pattern, a trailing lone backslash), or -ENOMEM. On -EINVAL sets
 * *ret_bad to the index of the bad pattern if ret_bad is not NULL. *ret is
 * left untouched on failure. The patterns are copied. */
int iw_excludes_new(struct iw_excludes **ret, const char *const *patterns, size_t *ret_bad);

/* Frees the list; NULL is fine. */
void iw_excludes_free(struct iw_excludes *ex);

/* 1 if any pattern needs the path relative to the root (it contains '/' or
 * was anchored with a leading '/'), so that callers build that path only
 * then; 0 otherwise (also for NULL). */
int iw_excludes_need_relpath(const struct iw_excludes *ex);

/* 1 if the entry is excluded, else 0. name[0..name_len): its last component,
 * not necessarily NUL-terminated. relpath[0..relpath_len): its path relative
 * to the root, components joined by '/', no leading '/'; it may be NULL when
 * iw_excludes_need_relpath() is 0. is_dir: whether the entry is a directory
 * (for "dir/" patterns). ex may be NULL: nothing is excluded. */
int iw_excluded(const struct iw_excludes *ex, const char *name, size_t name_len,
                const char *relpath, size_t relpath_len, int is_dir);

/* The glob primitive, exposed for tests and fuzzing: 1 if str[0..len)
 * matches the NUL-terminated pattern, else 0. Bytes are bytes: neither side
 * needs to be UTF-8, and str may contain NUL bytes. Any pattern is accepted
 * here: an unterminated '[' and a trailing lone '\' stand for themselves.
 * Time is O(len * strlen(pattern)) in the worst case; no allocation. */
int iw_glob_match(const char *pattern, const char *str, size_t len);

#endif /* IW_GLOB_H */
