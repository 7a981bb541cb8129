/* glob.c: exclude patterns and the glob matcher behind them.
 *
 * How matching stays linear. A naive recursive glob matcher backtracks into
 * every '*' and takes exponential time on patterns like "a*a*a*a*b"; the
 * watcher runs user patterns against untrusted file names, so that is a
 * denial of service. This matcher never backtracks more than one level:
 *
 * - Within one '/'-free piece of pattern ("segment"), only the most recent
 *   '*' is ever widened. An earlier '*' that swallowed more could only end
 *   where the later one can reach too, so retrying it is pointless. That is
 *   the classic O(n * m) wildcard algorithm.
 * - '*', '?' and classes never match '/', so every '/' of the pattern lines
 *   up with exactly one '/' of the subject: a "**"-free stretch of pattern
 *   ("chunk") with k slashes spans exactly k+1 subject components. Its first
 *   segment matches the tail of one component, the middle ones whole
 *   components, the last one the head of a component.
 * - "**" can swallow anything, so for the chunk after it the earliest-ending
 *   match is always the best one: whatever a later end could be followed
 *   by, the next "**" can reach from an earlier end too. Chunks are thus
 *   matched greedily, left to right, each search starting where the
 *   previous chunk ended, and never revisited.
 *
 * Each subject component is matched against each pattern segment a bounded
 * number of times, which gives O(len * pattern length) overall.
 */
#include "glob.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Returned instead of a subject offset when nothing matches. */
#define NOMATCH SIZE_MAX

/* How a chunk may be placed in the subject. */
enum {
    ANCHOR_START = 1u << 0, /* it starts exactly at the search start: the first chunk */
    ANCHOR_END = 1u << 1,   /* it ends exactly at the subject's end: the last chunk */
    AT_BOUNDARY = 1u << 2,  /* it starts at 0 or right after a '/': it follows "**" + '/' */
};

/* Compiled pattern flags. */
enum {
    PAT_RELPATH = 1u << 0,  /* matched against the relative path, not the name */
    PAT_DIR_ONLY = 1u << 1, /* had a trailing '/': matches directories only */
};

/* A "**"-free stretch of pattern. */
struct chunk {
    const char *p, *end;
    size_t slashes; /* '/' tokens in it: it spans slashes + 1 subject components */
};

struct iw_exclude {
    const char *pattern; /* stripped of its leading and trailing '/', NUL-terminated */
    unsigned flags;      /* PAT_* */
};

struct iw_excludes {
    size_t count;
    int need_relpath;
    struct iw_exclude items[]; /* followed by the pattern strings */
};

/* ---- Tokens ------------------------------------------------------------ */

/* Length of the class at p (which is '['), up to and including its closing
 * ']', or 0 when it has none: then the '[' is an ordinary byte, as in
 * fnmatch(3). A ']' right after the opening (or after '!'/'^') is a member,
 * so that "[]]" and "[!]]" can be written. */
static size_t class_len(const char *p, const char *end)
{
    const char *q = p + 1;

    if (q < end && (*q == '!' || *q == '^'))
        q++;
    if (q < end && *q == ']')
        q++;
    while (q < end && *q != ']') {
        if (*q == '\\' && q + 1 < end)
            q++;
        q++;
    }
    return q < end ? (size_t)(q - p) + 1 : 0;
}

/* Length of the token at p: an escape (2), a class (3 or more), or one
 * byte. A lone trailing '\' stands for itself. */
static size_t tok_len(const char *p, const char *end)
{
    if (*p == '\\' && p + 1 < end)
        return 2;
    if (*p == '[') {
        size_t n = class_len(p, end);
        if (n)
            return n;
    }
    return 1;
}

/* Whether the token at p is a path separator: '/' or an escaped '/'. */
static int tok_is_slash(const char *p, size_t tl)
{
    return (tl == 1 && p[0] == '/') || (tl == 2 && p[1] == '/');
}

/* Reads one class member at *q (an escape or a byte) and advances. */
static unsigned char class_member(const char **q, const char *end)
{
    if (**q == '\\' && *q + 1 < end)
        (*q)++;
    return (unsigned char)*(*q)++;
}

/* Whether byte c is in the class p[0..len) ("[...]", well-formed). A range
 * whose ends are reversed is empty. '/' is never a member: a class stands
 * for one byte of a component, like '?'. */
static int class_match(const char *p, size_t len, unsigned char c)
{
    const char *q = p + 1, *end = p + len - 1; /* end: the closing ']' */
    int negate = 0, found = 0;

    if (*q == '!' || *q == '^') {
        negate = 1;
        q++;
    }
    while (q < end) {
        unsigned char lo = class_member(&q, end), hi = lo;
        if (q + 1 < end && *q == '-') { /* a '-' before the ']' is a member */
            q++;
            hi = class_member(&q, end);
        }
        if (lo <= c && c <= hi)
            found = 1;
    }
    return c != '/' && found != negate;
}

/* Whether the non-'*' token p[0..tl) matches byte c. */
static int tok_match(const char *p, size_t tl, unsigned char c)
{
    if (tl == 2)
        return c == (unsigned char)p[1];
    if (tl > 2)
        return class_match(p, tl, c);
    if (*p == '?')
        return c != '/';
    return c == (unsigned char)*p;
}

/* ---- One segment: '/'-free pattern against '/'-free subject ------------ */

/* Matches the '/'-free pattern p[0..pe) against s[a..b), which holds no '/'.
 * float_start: the match may start anywhere in [a, b] (as if the pattern
 * began with '*'); else exactly at a. float_end: the match may end anywhere;
 * else exactly at b. Returns the earliest possible end, or NOMATCH.
 *
 * Only the most recent '*' is widened on a mismatch (see the top of the
 * file); its start only moves forward, so this is O((b - a + 1) * (pe - p)). */
static size_t seg_match(const char *p, const char *pe, const unsigned char *s, size_t a, size_t b,
                        int float_start, int float_end)
{
    const char *pi = p, *star_p = float_start ? p : NULL;
    size_t si = a, star_s = a;

    for (;;) {
        if (pi == pe) {
            if (float_end || si == b)
                return si;
        } else if (*pi == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        } else {
            size_t tl = tok_len(pi, pe);
            if (si < b && tok_match(pi, tl, s[si])) {
                pi += tl;
                si++;
                continue;
            }
        }
        if (!star_p || star_s >= b)
            return NOMATCH;
        pi = star_p;
        si = ++star_s;
    }
}

/* ---- Subject components ------------------------------------------------ */

/* End of the component containing offset i: the next '/' or len. */
static size_t comp_end(const unsigned char *s, size_t len, size_t i)
{
    const unsigned char *q = i < len ? memchr(s + i, '/', len - i) : NULL;
    return q ? (size_t)(q - s) : len;
}

/* Start of the component followed by exactly k slashes, or NOMATCH when the
 * subject has fewer than k. */
static size_t comp_from_end(const unsigned char *s, size_t len, size_t k)
{
    size_t i = len;

    for (;;) {
        while (i > 0 && s[i - 1] != '/')
            i--;
        if (k == 0)
            return i;
        if (i == 0)
            return NOMATCH;
        i--;
        k--;
    }
}

/* ---- Chunks ------------------------------------------------------------ */

/* The end of the pattern segment starting at p, within a chunk ending at
 * end; sets *next to the start of the following segment (past the '/'). */
static const char *pseg_end(const char *p, const char *end, const char **next)
{
    while (p < end) {
        size_t tl = tok_len(p, end);
        if (tok_is_slash(p, tl)) {
            *next = p + tl;
            return p;
        }
        p += tl;
    }
    *next = end;
    return end;
}

/* Matches chunk c with its first segment in the subject component that
 * contains offset from. The first segment starts at from (anchored or at a
 * boundary) or anywhere after it in that component (floating) and must reach
 * the component's end if more segments follow; the middle segments take
 * whole components; the last one the head of its component (or all of the
 * last component, with ANCHOR_END). Returns the end, or NOMATCH. */
static size_t chunk_at(const struct chunk *c, const unsigned char *s, size_t len, size_t from,
                       unsigned mode)
{
    const char *p = c->p, *next;
    size_t a = from;
    /* AT_BOUNDARY needs no check of its own: the "**" + '/' before the
     * chunk ended on a '/' (or at the start), so the first candidate from is
     * a component start, and so is every later one chunk_match() tries. */
    int float_start = !(mode & (ANCHOR_START | AT_BOUNDARY));

    for (size_t j = 0;; j++) {
        const char *pe = pseg_end(p, c->end, &next);
        size_t b = comp_end(s, len, a);
        if (j == c->slashes) {
            if ((mode & ANCHOR_END) && b != len)
                return NOMATCH;
            return seg_match(p, pe, s, a, b, float_start, !(mode & ANCHOR_END));
        }
        if (b == len || seg_match(p, pe, s, a, b, float_start, 0) == NOMATCH)
            return NOMATCH;
        float_start = 0;
        a = b + 1;
        p = next;
    }
}

/* Finds the earliest-ending match of chunk c that starts at or after cur,
 * placed as mode says. Returns its end, or NOMATCH. */
static size_t chunk_match(const struct chunk *c, const unsigned char *s, size_t len, size_t cur,
                          unsigned mode)
{
    if (mode & ANCHOR_START)
        return chunk_at(c, s, len, cur, mode);
    if (mode & ANCHOR_END) {
        /* The last segment takes the last component, which fixes the first
         * segment's component. If cur lies past it, chunk_at() runs out of
         * components and fails. */
        size_t st = comp_from_end(s, len, c->slashes);
        if (st == NOMATCH)
            return NOMATCH;
        return chunk_at(c, s, len, st < cur ? cur : st, mode);
    }
    /* Components in order: a match in an earlier one ends earlier. */
    for (size_t st = cur;;) {
        size_t r = chunk_at(c, s, len, st, mode);
        if (r != NOMATCH)
            return r;
        st = comp_end(s, len, st);
        if (st == len)
            return NOMATCH;
        st++;
    }
}

/* Reads the chunk starting at p: up to the next run of two or more '*' or
 * the end. *prev_slash tracks whether the last token read was a '/', which
 * decides whether a following "**" + '/' may match zero components. Returns
 * the end of the chunk. */
static const char *scan_chunk(const char *p, const char *end, int *prev_slash, struct chunk *ret)
{
    ret->p = p;
    ret->slashes = 0;
    while (p < end && !(p[0] == '*' && p + 1 < end && p[1] == '*')) {
        size_t tl = tok_len(p, end);
        *prev_slash = tok_is_slash(p, tl);
        ret->slashes += (size_t)*prev_slash;
        p += tl;
    }
    ret->end = p;
    return p;
}

/* Skips the run of '*' at *pp and returns the placement mode of the chunk
 * after it: AT_BOUNDARY when the run is a whole component ("**" between two
 * slashes, or at the start before a slash), whose trailing slash is then
 * consumed so that the run can stand for zero components. */
static unsigned skip_stars(const char **pp, const char *end, int *prev_slash)
{
    const char *p = *pp;

    while (p < end && *p == '*')
        p++;
    if (*prev_slash && p < end) {
        size_t tl = tok_len(p, end);
        if (tok_is_slash(p, tl)) {
            *pp = p + tl;
            return AT_BOUNDARY; /* *prev_slash stays 1: a slash was consumed */
        }
    }
    *prev_slash = 0;
    *pp = p;
    return 0;
}

int iw_glob_match(const char *pattern, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    const char *p = pattern, *end = pattern + strlen(pattern);
    unsigned mode = ANCHOR_START;
    int prev_slash = 1; /* the pattern's start counts as a component start */
    size_t cur = 0;

    for (;;) {
        struct chunk c;
        p = scan_chunk(p, end, &prev_slash, &c);
        if (p == end)
            mode |= ANCHOR_END;
        cur = chunk_match(&c, s, len, cur, mode);
        if (cur == NOMATCH)
            return 0;
        if (p == end)
            return 1;
        mode = skip_stars(&p, end, &prev_slash);
    }
}

/* ---- Compiled lists ---------------------------------------------------- */

/* Whether p[0..end) is acceptable as an exclude pattern. iw_glob_match()
 * gives a meaning to any string, but an unterminated class or a trailing
 * '\' is almost certainly a typo (or a shell quoting accident), so the user
 * hears about it instead of watching a pattern that silently never fires. */
static int pattern_valid(const char *p, const char *end)
{
    if (p == end)
        return 0;
    while (p < end) {
        if (*p == '\\' && p + 1 == end)
            return 0;
        if (*p == '[' && !class_len(p, end))
            return 0;
        p += tok_len(p, end);
    }
    return 1;
}

/* Whether the last token of p[0..end) is an unescaped '/'. */
static int ends_with_slash(const char *p, const char *end)
{
    const char *last = NULL;

    for (; p < end; p += tok_len(p, end))
        last = p;
    return last && last + 1 == end && *last == '/';
}

/* Whether p[0..end) holds a '/' token (not one inside a class). */
static int has_slash(const char *p, const char *end)
{
    for (size_t tl; p < end; p += tl) {
        tl = tok_len(p, end);
        if (tok_is_slash(p, tl))
            return 1;
    }
    return 0;
}

/* Strips pattern of its anchoring '/' and its directory-only '/', copies
 * what remains to buf, and fills ret. Returns the bytes used in buf, or 0
 * for a malformed pattern. */
static size_t compile_one(const char *pattern, char *buf, struct iw_exclude *ret)
{
    const char *p = pattern, *end = pattern + strlen(pattern);
    unsigned flags = 0;

    if (!pattern_valid(p, end))
        return 0;
    if (*p == '/') {
        flags |= PAT_RELPATH;
        p++;
    }
    if (ends_with_slash(p, end)) {
        flags |= PAT_DIR_ONLY;
        end--;
    }
    if (p == end) /* "/" or "//": nothing left to match */
        return 0;
    if (has_slash(p, end))
        flags |= PAT_RELPATH;
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    ret->pattern = buf;
    ret->flags = flags;
    return (size_t)(end - p) + 1;
}

/* Bytes needed for a list of patterns, or 0 on overflow. */
static size_t excludes_size(const char *const *patterns, size_t *ret_count)
{
    size_t n = 0, size = sizeof(struct iw_excludes);

    for (; patterns && patterns[n]; n++) {
        size_t add = sizeof(struct iw_exclude) + strlen(patterns[n]) + 1;
        if (size > SIZE_MAX - add)
            return 0;
        size += add;
    }
    *ret_count = n;
    return size;
}

int iw_excludes_new(struct iw_excludes **ret, const char *const *patterns, size_t *ret_bad)
{
    size_t count, size = excludes_size(patterns, &count);
    struct iw_excludes *ex;
    char *buf;

    if (!size)
        return -ENOMEM;
    ex = malloc(size);
    if (!ex)
        return -ENOMEM;
    ex->count = count;
    ex->need_relpath = 0;
    buf = (char *)(ex->items + count);
    for (size_t i = 0; i < count; i++) {
        size_t used = compile_one(patterns[i], buf, &ex->items[i]);
        if (!used) {
            free(ex);
            if (ret_bad)
                *ret_bad = i;
            return -EINVAL;
        }
        buf += used;
        if (ex->items[i].flags & PAT_RELPATH)
            ex->need_relpath = 1;
    }
    *ret = ex;
    return 0;
}

void iw_excludes_free(struct iw_excludes *ex)
{
    free(ex);
}

int iw_excludes_need_relpath(const struct iw_excludes *ex)
{
    return ex ? ex->need_relpath : 0;
}

int iw_excluded(const struct iw_excludes *ex, const char *name, size_t name_len,
                const char *relpath, size_t relpath_len, int is_dir)
{
    if (!ex)
        return 0;
    for (size_t i = 0; i < ex->count; i++) {
        const struct iw_exclude *e = &ex->items[i];
        if ((e->flags & PAT_DIR_ONLY) && !is_dir)
            continue;
        if (!(e->flags & PAT_RELPATH)) {
            if (iw_glob_match(e->pattern, name, name_len))
                return 1;
        } else if (relpath && iw_glob_match(e->pattern, relpath, relpath_len)) {
            return 1;
        }
    }
    return 0;
}
