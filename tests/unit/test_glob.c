/* test_glob.c: the glob matcher and compiled exclude lists. */
#include "check.h"
#include "glob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct glob_case {
    const char *pattern;
    const char *subject; /* NUL-terminated here; matched by length */
    int want;
};

static void run_cases(struct iw_check *t, const struct glob_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct glob_case *c = &cases[i];
        int got = iw_glob_match(c->pattern, c->subject, strlen(c->subject));
        if (!CHECK(got == c->want))
            fprintf(stderr, "    pattern \"%s\" subject \"%s\": got %d\n", c->pattern, c->subject,
                    got);
    }
}

#define RUN(cases) run_cases(t, cases, sizeof(cases) / sizeof(cases[0]))

static void test_literal(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"abc", "abc", 1}, {"abc", "abd", 0}, {"abc", "ab", 0},    {"abc", "abcd", 0},
        {"", "", 1},       {"", "a", 0},      {".git", ".git", 1}, {".git", "git", 0},
        {"a/b", "a/b", 1}, {"a/b", "a/c", 0}, {"a/b", "a", 0},     {"a", "a/b", 0},
        {"ABC", "abc", 0}, /* case matters */
    };
    RUN(cases);
}

static void test_star(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"*", "", 1},
        {"*", "abc", 1},
        {"*.o", "main.o", 1},
        {"*.o", "main.c", 0},
        {"*.o", ".o", 1},
        {"*.o", "main.o.c", 0},
        {"a*b*c", "aXbYc", 1},
        {"a*b*c", "abc", 1},
        {"a*b*c", "abcb", 0},
        {"*a", "bab", 0},
        {"*ab", "aab", 1},
        {"a*", "a", 1},
        {"*.tar.*", "x.tar.gz", 1},
        {"**", "", 1},
        /* '*' never crosses '/' */
        {"*", "a/b", 0},
        {"a*", "a/b", 0},
        {"*b", "a/b", 0},
        {"*/b", "a/b", 1},
        {"*/*", "a/b", 1},
        {"*/*", "a/b/c", 0},
        {"a/*/c", "a/b/c", 1},
        {"a/*/c", "a/b/x/c", 0},
        {"a/*", "a/", 1},
    };
    RUN(cases);
}

static void test_question(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"?", "a", 1},    {"?", "", 0},      {"?", "ab", 0},  {"a?c", "abc", 1},
        {"a?c", "ac", 0}, {"a?c", "a/c", 0}, {"?", "/", 0},   {"??", "ab", 1},
        {"*?", "", 0},    {"*?", "x", 1},    {"?*?", "x", 0}, {"?*?", "xy", 1},
    };
    RUN(cases);
}

static void test_class(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"[abc]", "b", 1},
        {"[abc]", "d", 0},
        {"[abc]", "", 0},
        {"[a-c]x", "bx", 1},
        {"[a-c]", "d", 0},
        {"[a-c]", "a", 1},
        {"[a-c]", "c", 1},
        {"[0-9][0-9]", "42", 1},
        {"[a-cx-z]", "y", 1},
        {"[!a-c]", "d", 1},
        {"[!a-c]", "b", 0},
        {"[^a]", "b", 1},
        {"[^a]", "a", 0},
        {"[]]", "]", 1},
        {"[]a]", "a", 1},
        {"[]a]", "b", 0},
        {"[!]]", "]", 0},
        {"[!]]", "x", 1},
        {"[^]a]", "a", 0},
        {"[a-]", "-", 1},
        {"[-a]", "-", 1},
        {"[a-]", "b", 0},
        {"[z-a]", "a", 0}, /* reversed range: empty */
        {"[\\]]", "]", 1},
        {"[\\]]", "\\", 0},
        {"[\\\\]", "\\", 1},
        {"[a\\-z]", "-", 1},
        {"[a\\-z]", "m", 0},
        {"[*?]", "*", 1},
        {"[*?]", "a", 0},
        {"*.[ch]", "x.h", 1},
        {"*.[ch]", "x.o", 0},
        /* a class never matches '/', not even one that lists it */
        {"[/]", "/", 0},
        {"a[/]b", "a/b", 0},
        {"[!a]", "/", 0},
        {"a[!x]b", "a/b", 0},
        {"[.-0]", "/", 0},
    };
    RUN(cases);
}

static void test_escape(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"\\*", "*", 1},
        {"\\*", "a", 0},
        {"\\?", "?", 1},
        {"\\?", "a", 0},
        {"\\[a]", "[a]", 1},
        {"\\[a]", "a", 0},
        {"a\\\\b", "a\\b", 1},
        {"\\a", "a", 1},
        {"\\**", "*abc", 1},
        {"\\**", "abc", 0},
        {"a\\/b", "a/b", 1},
        {"*\\/*", "a/b", 1},
        /* iw_glob_match gives malformed patterns a literal meaning */
        {"[ab", "[ab", 1},
        {"[ab", "a", 0},
        {"a\\", "a\\", 1},
    };
    RUN(cases);
}

static void test_double_star(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"**", "a/b/c", 1},
        {"a/**", "a/b/c", 1},
        {"a/**", "a/b", 1},
        {"a/**", "a", 0},
        {"a/**", "ab/c", 0},
        {"**/b", "b", 1},
        {"**/b", "a/b", 1},
        {"**/b", "x/y/b", 1},
        {"**/b", "ab", 0},
        {"**/b", "a/bc", 0},
        {"a/**/b", "a/b", 1},
        {"a/**/b", "a/x/b", 1},
        {"a/**/b", "a/x/y/b", 1},
        {"a/**/b", "a/xb", 0},
        {"a/**/b", "ab", 0},
        {"a/**/b", "a/x/y/bb", 0},
        {"a/**/b", "x/a/b", 0},
        {"a**b", "ab", 1},
        {"a**b", "axb", 1},
        {"a**b", "a/x/b", 1},
        {"a**b", "a/x/c", 0},
        {"a/**/b/**/c", "a/b/c", 1},
        {"a/**/b/**/c", "a/x/b/y/z/c", 1},
        {"a/**/b/**/c", "a/x/c", 0},
        {"**/*.o", "main.o", 1},
        {"**/*.o", "src/x/main.o", 1},
        {"**/*.o", "src/x/main.c", 0},
        {"src/**/*.c", "src/b.c", 1},
        {"src/**/*.c", "src/a/b.c", 1},
        {"src/**/*.c", "src/a/b.h", 0},
        {"src/**/*.c", "lib/src/a.c", 0},
        {"**/.git", ".git", 1},
        {"**/.git/**", "x/.git/y", 1},
        {"a/**/**/b", "a/b", 1},
        {"a/**/**/b", "a/x/y/b", 1},
        {"***", "a/b", 1},
        {"x/**y", "x/a/by", 1},
        {"x/**y", "x/y", 1},
        {"**a", "b/ba", 1},
        {"*/**/x", "a/x", 1},
        {"*/**/x", "x", 0},
        {"a/**/*/b", "a/b", 0},
        {"a/**/*/b", "a/x/b", 1},
        {"a/*/**/b/c", "a/x/b/c", 1},
    };
    RUN(cases);
}

static void test_bytes(struct iw_check *t)
{
    static const struct glob_case cases[] = {
        {"\xff*",
         "\xff\xfe"
         "abc",
         1},
        {"*\xe9", "caf\xe9", 1},
        {"caf\xc3\xa9", "caf\xc3\xa9", 1},
        {"[\xe9]", "\xe9", 1},
        {"[\x80-\xff]", "\xc3", 1},
        {"[\x80-\xff]", "a", 0},
        {"?", "\xc3\xa9", 0}, /* '?' is one byte, not one character */
        {"??", "\xc3\xa9", 1},
        {"*", "\x01\x02\x7f", 1},
        {"\x7f?", "\x7f\n", 1},
    };
    RUN(cases);

    /* Lengths are honoured: a NUL in the subject is a byte like others, and
     * bytes after len are not looked at. */
    CHECK(iw_glob_match("a?b", "a\0b", 3) == 1);
    CHECK(iw_glob_match("a*", "a\0/", 3) == 0);
    CHECK(iw_glob_match("main.o", "main.o.bak", 6) == 1);
    CHECK(iw_glob_match("*.o", "x.oops", 3) == 1);
    CHECK(iw_glob_match("", "abc", 0) == 1);
}

/* Runs pattern against subject and fails if it takes over a second of CPU:
 * a backtracking matcher takes years on these. */
static void check_fast(struct iw_check *t, const char *pattern, const char *subject, int want)
{
    clock_t start = clock();
    int got = iw_glob_match(pattern, subject, strlen(subject));
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;

    if (!CHECK(got == want) || !CHECK(secs < 1.0))
        fprintf(stderr, "    pattern \"%s\": got %d in %.3f s\n", pattern, got, secs);
}

static void test_pathological(struct iw_check *t)
{
    enum { N = 10000 };
    char *flat = malloc(N + 1), *deep = malloc(N + 1);

    if (!CHECK(flat && deep)) {
        free(flat);
        free(deep);
        return;
    }
    memset(flat, 'a', N);
    flat[N] = '\0';
    for (size_t i = 0; i < N; i++) /* components of 99 'a' (50 and 49 at the ends) */
        deep[i] = i % 100 == 50 ? '/' : 'a';
    deep[N] = '\0';
    check_fast(t, "a*a*a*a*a*a*a*b", flat, 0);
    check_fast(t, "a*a*a*a*a*a*a*a", flat, 1);
    check_fast(t, "*a*a*a*a*a*a*a*", flat, 1);
    check_fast(t, "**a*a*a*a*a*a*b", flat, 0);
    check_fast(t, "**a*a*a*a*a*a*b**", flat, 0);
    check_fast(t, "**a*a*a*b**a*a*a*a*b", flat, 0);
    check_fast(t, "**/a*a*a*a*a*a*b", deep, 0);
    check_fast(t, "**/a*a*a*/*a*a*a*b/**", deep, 0);
    check_fast(t, "a*/**/*a*a/a*a*a*a*a", deep, 1);
    check_fast(t, "*a*a*a*a*a*a*a*b", deep, 0);
    free(flat);
    free(deep);
}

static void test_malformed(struct iw_check *t)
{
    static const struct {
        const char *patterns[4];
        size_t bad;
    } cases[] = {
        {{"ok", "[abc", NULL}, 1}, {{"a\\", NULL}, 0},     {{"x", "y", "", NULL}, 2},
        {{"/", NULL}, 0},          {{"x", "//", NULL}, 1}, {{"[]", NULL}, 0},
        {{"[!]", NULL}, 0},        {{"a[\\]", NULL}, 0},   {{"*.o", "a/[b/", NULL}, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct iw_excludes *sentinel = (struct iw_excludes *)&cases[i], *ex = sentinel;
        size_t bad = 99;
        CHECK_EQ(iw_excludes_new(&ex, cases[i].patterns, &bad), -EINVAL);
        CHECK_EQ(bad, cases[i].bad);
        CHECK(ex == sentinel); /* left untouched on failure */
    }
    /* ret_bad may be NULL. */
    struct iw_excludes *ex = NULL;
    const char *const bad_list[] = {"[", NULL};
    CHECK_EQ(iw_excludes_new(&ex, bad_list, NULL), -EINVAL);
    CHECK(ex == NULL);

    /* Well-formed edge cases are accepted. */
    const char *const good[] = {"[]]", "[!]]", "\\\\", "\\[", "a\\/", "**", "/a/", NULL};
    CHECK_EQ(iw_excludes_new(&ex, good, NULL), 0);
    iw_excludes_free(ex);
}

/* Shorthands for iw_excluded() with NUL-terminated strings. */
static int excl(const struct iw_excludes *ex, const char *relpath, int is_dir)
{
    const char *slash = strrchr(relpath, '/');
    const char *name = slash ? slash + 1 : relpath;

    return iw_excluded(ex, name, strlen(name), relpath, strlen(relpath), is_dir);
}

static void test_excluded(struct iw_check *t)
{
    const char *const patterns[] = {".git",  "*.o",   "node_modules/", "build/*",
                                    "/dist", "/out/", "docs/**/*.tmp", NULL};
    struct iw_excludes *ex = NULL;

    if (!CHECK_EQ(iw_excludes_new(&ex, patterns, NULL), 0))
        return;
    CHECK(iw_excludes_need_relpath(ex) == 1);
    /* component patterns match the name at any depth */
    CHECK(excl(ex, ".git", 1) == 1);
    CHECK(excl(ex, "a/b/.git", 1) == 1);
    CHECK(excl(ex, "a/.gitignore", 0) == 0);
    CHECK(excl(ex, "src/main.o", 0) == 1);
    CHECK(excl(ex, "main.o", 0) == 1);
    CHECK(excl(ex, "src/main.c", 0) == 0);
    /* "dir/" matches directories only, by name */
    CHECK(excl(ex, "node_modules", 1) == 1);
    CHECK(excl(ex, "web/node_modules", 1) == 1);
    CHECK(excl(ex, "web/node_modules", 0) == 0);
    /* patterns with '/' match the whole relative path */
    CHECK(excl(ex, "build/x", 0) == 1);
    CHECK(excl(ex, "build/x", 1) == 1);
    CHECK(excl(ex, "build", 1) == 0);
    CHECK(excl(ex, "sub/build/x", 0) == 0);
    CHECK(excl(ex, "build/x/y", 0) == 0);
    CHECK(excl(ex, "docs/a.tmp", 0) == 1);
    CHECK(excl(ex, "docs/a/b/c.tmp", 0) == 1);
    CHECK(excl(ex, "x/docs/a.tmp", 0) == 0);
    /* a leading '/' anchors a slash-free pattern to the root */
    CHECK(excl(ex, "dist", 0) == 1);
    CHECK(excl(ex, "dist", 1) == 1);
    CHECK(excl(ex, "sub/dist", 1) == 0);
    /* both: anchored and directories only */
    CHECK(excl(ex, "out", 1) == 1);
    CHECK(excl(ex, "out", 0) == 0);
    CHECK(excl(ex, "sub/out", 1) == 0);
    /* the name is taken by length, not NUL */
    CHECK(iw_excluded(ex, "main.o.bak", 6, "main.o.bak", 6, 0) == 1);
    CHECK(iw_excluded(ex, "main.o.bak", 10, "main.o.bak", 10, 0) == 0);
    iw_excludes_free(ex);
}

static void test_excluded_edges(struct iw_check *t)
{
    const char *const names_only[] = {"*.swp", "tmp/", "[0-9]*", NULL};
    struct iw_excludes *ex = NULL;

    /* No list: nothing is excluded. */
    CHECK(iw_excluded(NULL, "x", 1, "x", 1, 1) == 0);
    CHECK(iw_excludes_need_relpath(NULL) == 0);
    iw_excludes_free(NULL);

    /* A NULL array compiles to an empty list. */
    if (CHECK_EQ(iw_excludes_new(&ex, NULL, NULL), 0) && CHECK(ex != NULL)) {
        CHECK(iw_excludes_need_relpath(ex) == 0);
        CHECK(iw_excluded(ex, "a", 1, NULL, 0, 1) == 0);
        iw_excludes_free(ex);
    }

    /* Component-only lists never need the relative path: NULL is fine. */
    ex = NULL;
    if (!CHECK_EQ(iw_excludes_new(&ex, names_only, NULL), 0))
        return;
    CHECK(iw_excludes_need_relpath(ex) == 0);
    CHECK(iw_excluded(ex, ".a.swp", 6, NULL, 0, 0) == 1);
    CHECK(iw_excluded(ex, "tmp", 3, NULL, 0, 1) == 1);
    CHECK(iw_excluded(ex, "tmp", 3, NULL, 0, 0) == 0);
    CHECK(iw_excluded(ex, "2024", 4, NULL, 0, 0) == 1);
    CHECK(iw_excluded(ex, "x2024", 5, NULL, 0, 0) == 0);
    iw_excludes_free(ex);

    /* The patterns are copied: the caller's strings may go away. */
    char buf[] = "*.log";
    const char *const copied[] = {buf, NULL};
    ex = NULL;
    if (!CHECK_EQ(iw_excludes_new(&ex, copied, NULL), 0))
        return;
    memset(buf, 'x', sizeof(buf) - 1);
    CHECK(iw_excluded(ex, "a.log", 5, NULL, 0, 0) == 1);
    iw_excludes_free(ex);
}

int main(void)
{
    struct iw_check t = {0};

    test_literal(&t);
    test_star(&t);
    test_question(&t);
    test_class(&t);
    test_escape(&t);
    test_double_star(&t);
    test_bytes(&t);
    test_pathological(&t);
    test_malformed(&t);
    test_excluded(&t);
    test_excluded_edges(&t);
    return iw_check_done(&t, "test_glob");
}
