/* check.h: a tiny assertion helper for the C unit tests.
 *
 * A failed check prints file:line and the failing expression and the test
 * goes on, so that one run shows every failure; iw_check_done() prints a
 * summary line and returns the program's exit status (1 if anything
 * failed). There is no global counter: main() owns a struct iw_check and
 * passes it down, and the CHECK macros use the one named `t` in scope:
 *
 *     static void test_x(struct iw_check *t) { CHECK(1 + 1 == 2); }
 *     int main(void) { struct iw_check t = {0}; test_x(&t); return iw_check_done(&t, "x"); }
 */
#ifndef IW_CHECK_H
#define IW_CHECK_H

#include <stdio.h>
#include <string.h>

struct iw_check {
    unsigned long checks;
    unsigned long failures;
};

/* Counts a check and reports it if it failed; returns ok. */
static inline int iw_check_report(struct iw_check *t, int ok, const char *file, int line,
                                  const char *expr)
{
    t->checks++;
    if (!ok) {
        t->failures++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    }
    return ok;
}

/* Prints n bytes with C-style escapes for anything not printable ASCII, so
 * that a mismatch in binary data is readable. */
static inline void iw_check_print_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
}

static inline int iw_check_long(struct iw_check *t, long long got, long long want, const char *file,
                                int line, const char *expr)
{
    if (iw_check_report(t, got == want, file, line, expr))
        return 1;
    fprintf(stderr, "    got %lld, want %lld\n", got, want);
    return 0;
}

static inline int iw_check_mem(struct iw_check *t, const char *got, size_t got_len,
                               const char *want, size_t want_len, const char *file, int line,
                               const char *expr)
{
    int ok = got_len == want_len && memcmp(got, want, got_len) == 0;

    if (iw_check_report(t, ok, file, line, expr))
        return 1;
    fprintf(stderr, "    got  \"");
    iw_check_print_bytes(got, got_len);
    fprintf(stderr, "\" (%zu bytes)\n    want \"", got_len);
    iw_check_print_bytes(want, want_len);
    fprintf(stderr, "\" (%zu bytes)\n", want_len);
    return 0;
}

/* Prints "<name>: N checks, N failed" and returns the exit status. */
static inline int iw_check_done(const struct iw_check *t, const char *name)
{
    printf("%s: %lu checks, %lu failed\n", name, t->checks, t->failures);
    fflush(stdout);
    return t->failures ? 1 : 0;
}

/* A condition that must hold. */
#define CHECK(cond) iw_check_report(t, !!(cond), __FILE__, __LINE__, #cond)
/* Two integers that must be equal; both are printed on failure. */
#define CHECK_EQ(got, want)                                                                        \
    iw_check_long(t, (long long)(got), (long long)(want), __FILE__, __LINE__, #got " == " #want)
/* got[0..got_len) must equal the bytes want[0..want_len). */
#define CHECK_MEM(got, got_len, want, want_len)                                                    \
    iw_check_mem(t, (got), (got_len), (want), (want_len), __FILE__, __LINE__, #got " == " #want)

#endif /* IW_CHECK_H */
