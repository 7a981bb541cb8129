/* fuzz_glob.c: libFuzzer entry point for the glob matcher.
 *
 * Input: pattern bytes, a NUL, subject bytes (the subject may hold more
 * NULs). Without a NUL the input is both the pattern and the subject.
 *
 * Checked: no crash or sanitizer report; a pattern without special bytes
 * matches exactly the equal subject; and, for small inputs, the result
 * equals that of a slow reference matcher written straight from the
 * definition of each construct (memoised, so it stays polynomial), which is
 * what catches mistakes in the fast matcher's greedy reasoning. Exclude
 * lists are compiled from the pattern too, to exercise that code.
 */
#include "glob.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { REF_MAX = 64 }; /* the reference runs on patterns and subjects up to this */

struct ref {
    const char *p;
    size_t pn;
    const unsigned char *s;
    size_t sn;
    unsigned char prev_slash[REF_MAX + 1]; /* the token before offset i is a '/' */
    signed char memo[REF_MAX + 1][REF_MAX + 1];
};

/* The reference's own reading of a token's length (see glob.h). */
static size_t ref_tok_len(const char *p, size_t i, size_t n)
{
    if (p[i] == '\\')
        return i + 1 < n ? 2 : 1;
    if (p[i] != '[')
        return 1;
    size_t j = i + 1;
    if (j < n && (p[j] == '!' || p[j] == '^'))
        j++;
    if (j < n && p[j] == ']')
        j++;
    for (; j < n && p[j] != ']'; j++)
        if (p[j] == '\\' && j + 1 < n)
            j++;
    return j < n ? j - i + 1 : 1;
}

static int ref_is_slash(const char *p, size_t i, size_t tl)
{
    return (tl == 1 && p[i] == '/') || (tl == 2 && p[i + 1] == '/');
}

/* Whether c is in the class p[i..i+tl). */
static int ref_class(const char *p, size_t i, size_t tl, unsigned char c)
{
    size_t j = i + 1, close = i + tl - 1;
    int neg = 0, in = 0;

    if (p[j] == '!' || p[j] == '^') {
        neg = 1;
        j++;
    }
    while (j < close) {
        if (p[j] == '\\')
            j++;
        unsigned char lo = (unsigned char)p[j++], hi = lo;
        if (j + 1 < close && p[j] == '-') { /* a '-' just before ']' is a member */
            j++;
            if (p[j] == '\\')
                j++;
            hi = (unsigned char)p[j++];
        }
        in |= lo <= c && c <= hi;
    }
    return c != '/' && in != neg;
}

static int ref_tok(const char *p, size_t i, size_t tl, unsigned char c)
{
    if (tl > 2)
        return ref_class(p, i, tl, c);
    if (tl == 2)
        return c == (unsigned char)p[i + 1];
    if (p[i] == '?')
        return c != '/';
    return c == (unsigned char)p[i];
}

static int ref_match(struct ref *r, size_t pi, size_t si);

/* A run of stars at pi: any run of bytes; when it is a whole component
 * (after a slash or at the start, and before a slash) it may also stand for
 * no component at all, taking its trailing slash with it. */
static int ref_stars(struct ref *r, size_t pi, size_t si)
{
    size_t q = pi;

    while (q < r->pn && r->p[q] == '*')
        q++;
    if (q < r->pn && r->prev_slash[pi] && ref_is_slash(r->p, q, ref_tok_len(r->p, q, r->pn))) {
        size_t after = q + ref_tok_len(r->p, q, r->pn);
        for (size_t k = si; k <= r->sn; k++)
            if ((k == si || r->s[k - 1] == '/') && ref_match(r, after, k))
                return 1;
        return 0;
    }
    for (size_t k = si; k <= r->sn; k++)
        if (ref_match(r, q, k))
            return 1;
    return 0;
}

static int ref_step(struct ref *r, size_t pi, size_t si)
{
    if (pi == r->pn)
        return si == r->sn;
    if (r->p[pi] == '*' && pi + 1 < r->pn && r->p[pi + 1] == '*')
        return ref_stars(r, pi, si);
    if (r->p[pi] == '*') {
        for (size_t k = si; k <= r->sn; k++) {
            if (ref_match(r, pi + 1, k))
                return 1;
            if (k < r->sn && r->s[k] == '/')
                return 0;
        }
        return 0;
    }
    size_t tl = ref_tok_len(r->p, pi, r->pn);
    return si < r->sn && ref_tok(r->p, pi, tl, r->s[si]) && ref_match(r, pi + tl, si + 1);
}

static int ref_match(struct ref *r, size_t pi, size_t si)
{
    if (r->memo[pi][si] < 0)
        r->memo[pi][si] = (signed char)ref_step(r, pi, si);
    return r->memo[pi][si];
}

static int reference(const char *p, size_t pn, const unsigned char *s, size_t sn)
{
    struct ref *r = malloc(sizeof(*r));
    int prev = 1, res;

    if (!r)
        abort();
    *r = (struct ref){.p = p, .pn = pn, .s = s, .sn = sn};
    memset(r->memo, -1, sizeof(r->memo));
    memset(r->prev_slash, 0, sizeof(r->prev_slash));
    for (size_t i = 0; i < pn;) {
        size_t tl = ref_tok_len(p, i, pn);
        r->prev_slash[i] = (unsigned char)prev;
        prev = ref_is_slash(p, i, tl);
        i += tl;
    }
    res = ref_match(r, 0, 0);
    free(r);
    return res;
}

static int has_special(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '*' || p[i] == '?' || p[i] == '[' || p[i] == '\\')
            return 1;
    return 0;
}

static void fuzz_excludes(const char *pat, const char *subj, size_t sn)
{
    const char *const list[] = {pat, "*.o", NULL};
    struct iw_excludes *ex = NULL;

    if (iw_excludes_new(&ex, list, NULL) == 0) {
        (void)iw_excluded(ex, subj, sn, subj, sn, 0);
        (void)iw_excluded(ex, subj, sn, subj, sn, 1);
        iw_excludes_free(ex);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t pn = nul ? (size_t)(nul - data) : size;
    size_t sn = nul ? size - pn - 1 : size;
    char *pat = malloc(pn + 1), *subj = malloc(sn ? sn : 1);

    if (!pat || !subj)
        abort();
    memcpy(pat, data, pn);
    pat[pn] = '\0';
    if (sn) /* an exact-size copy, so that the sanitizer sees overreads */
        memcpy(subj, nul ? nul + 1 : data, sn);

    int got = iw_glob_match(pat, subj, sn);
    if (got != 0 && got != 1)
        abort();
    if (!has_special(pat, pn) && got != (pn == sn && memcmp(pat, subj, sn) == 0))
        abort();
    if (pn <= REF_MAX && sn <= REF_MAX &&
        got != reference(pat, pn, (const unsigned char *)subj, sn))
        abort();
    fuzz_excludes(pat, subj, sn);
    free(pat);
    free(subj);
    return 0;
}
