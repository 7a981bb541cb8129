/* test_json.c: JSON string literals and one-line text escapes.
 *
 * The expected JSON was checked against Python: for each input b,
 * os.fsencode(json.loads(expected)) == b, and expected equals
 * json.dumps(b.decode('utf-8', 'surrogateescape'), ensure_ascii=False)
 * except that each lone surrogate is written as its \udcXX escape and 0x7f
 * as \u007f (Python leaves both raw, which is not valid UTF-8 output).
 */
#include "check.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

struct json_case {
    const char *in;
    size_t len;
    const char *want;
};

/* Escapes in[0..len) into a buffer of exactly the bound, so that the
 * sanitizer catches a write past it, and compares with want. */
static void check_json(struct iw_check *t, const char *in, size_t len, const char *want)
{
    size_t bound = iw_json_string_bound(len);
    char *out = malloc(bound);

    if (!CHECK(out != NULL))
        return;
    size_t n = iw_json_string(out, in, len);
    CHECK(n <= bound);
    CHECK_MEM(out, n, want, strlen(want));
    free(out);
}

static void run_cases(struct iw_check *t, const struct json_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_json(t, cases[i].in, cases[i].len, cases[i].want);
}

#define RUN(cases) run_cases(t, cases, sizeof(cases) / sizeof(cases[0]))
/* A string literal and its length, which may include NUL bytes. */
#define B(lit) lit, sizeof(lit) - 1

static void test_ascii(struct iw_check *t)
{
    static const struct json_case cases[] = {
        {B(""), "\"\""},
        {B("abc"), "\"abc\""},
        {B("src/lib/glob.c"), "\"src/lib/glob.c\""},
        {B(" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"), "\" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\""},
        {B("a\"b"), "\"a\\\"b\""},
        {B("\\"), "\"\\\\\""},
        {B("\"\\\""), "\"\\\"\\\\\\\"\""},
        {B("\x7f"), "\"\\u007f\""},
        {B("a\x7f"
           "b"),
         "\"a\\u007fb\""},
        {B("a\0b"), "\"a\\u0000b\""},
    };
    RUN(cases);
}

static void test_controls(struct iw_check *t)
{
    static const char *const want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    };
    for (int c = 0; c < 32; c++) {
        char in[3] = {'x', (char)c, 'y'}, expect[16];
        size_t n = 0;
        expect[n++] = '"';
        expect[n++] = 'x';
        memcpy(expect + n, want[c], strlen(want[c]));
        n += strlen(want[c]);
        expect[n++] = 'y';
        expect[n++] = '"';
        expect[n] = '\0';
        check_json(t, in, 3, expect);
    }
}

static void test_utf8_valid(struct iw_check *t)
{
    static const struct json_case cases[] = {
        {B("\xc3\xa9"), "\"\xc3\xa9\""},                 /* U+00E9, 2 bytes */
        {B("\xe2\x82\xac"), "\"\xe2\x82\xac\""},         /* U+20AC, 3 bytes */
        {B("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\""}, /* U+1F600, 4 bytes */
        {B("caf\xc3\xa9 \xe2\x82\xac \xf0\x90\x8d\x88"),
         "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x90\x8d\x88\""},
        /* the edges of each range */
        {B("\xc2\x80"), "\"\xc2\x80\""},
        {B("\xdf\xbf"), "\"\xdf\xbf\""},
        {B("\xe0\xa0\x80"), "\"\xe0\xa0\x80\""},
        {B("\xed\x9f\xbf"), "\"\xed\x9f\xbf\""}, /* U+D7FF, just below the surrogates */
        {B("\xee\x80\x80"), "\"\xee\x80\x80\""}, /* U+E000, just above */
        {B("\xef\xbf\xbf"), "\"\xef\xbf\xbf\""},
        {B("\xf0\x90\x80\x80"), "\"\xf0\x90\x80\x80\""},
        {B("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF */
    };
    RUN(cases);
}

static void test_utf8_invalid(struct iw_check *t)
{
    static const struct json_case cases[] = {
        /* overlong forms */
        {B("\xc0\x80"), "\"\\udcc0\\udc80\""},
        {B("\xc1\xbf"), "\"\\udcc1\\udcbf\""},
        {B("\xe0\x80\x80"), "\"\\udce0\\udc80\\udc80\""},
        {B("\xe0\x9f\xbf"), "\"\\udce0\\udc9f\\udcbf\""},
        {B("\xf0\x80\x80\x80"), "\"\\udcf0\\udc80\\udc80\\udc80\""},
        {B("\xf0\x8f\xbf\xbf"), "\"\\udcf0\\udc8f\\udcbf\\udcbf\""},
        /* UTF-8-encoded surrogates */
        {B("\xed\xa0\x80"), "\"\\udced\\udca0\\udc80\""},
        {B("\xed\xbf\xbf"), "\"\\udced\\udcbf\\udcbf\""},
        /* above U+10FFFF, and bytes that never start a sequence */
        {B("\xf4\x90\x80\x80"), "\"\\udcf4\\udc90\\udc80\\udc80\""},
        {B("\xf5\x80\x80\x80"), "\"\\udcf5\\udc80\\udc80\\udc80\""},
        {B("\xff"), "\"\\udcff\""},
        {B("\xfe\xff"), "\"\\udcfe\\udcff\""},
        /* truncated at the end */
        {B("a\xc3"), "\"a\\udcc3\""},
        {B("a\xe2\x82"), "\"a\\udce2\\udc82\""},
        {B("a\xf0\x9f\x98"), "\"a\\udcf0\\udc9f\\udc98\""},
        /* truncated mid-string: what follows is decoded afresh */
        {B("\xe2\x82"
           "a"),
         "\"\\udce2\\udc82a\""},
        {B("\xf0\x9f\x98\xe2\x82\xac"), "\"\\udcf0\\udc9f\\udc98\xe2\x82\xac\""},
        {B("x\xc3(y"), "\"x\\udcc3(y\""},
        /* lone continuation bytes */
        {B("\x80"), "\"\\udc80\""},
        {B("\xbf"), "\"\\udcbf\""},
        {B("a\x80\x80"
           "b"),
         "\"a\\udc80\\udc80b\""},
        {B("\xc3\xa9\xa9"), "\"\xc3\xa9\\udca9\""},
        /* Latin-1 names, as old systems wrote them */
        {B("caf\xe9.txt"), "\"caf\\udce9.txt\""},
        {B("\xff\xfe/\xe9t\xe9"), "\"\\udcff\\udcfe/\\udce9t\\udce9\""},
    };
    RUN(cases);
}

/* The word-at-a-time fast path must hand over to the slow path at every
 * offset: put each kind of special byte at each position of a long name. */
static void test_fast_path_edges(struct iw_check *t)
{
    static const struct {
        char byte;
        const char *esc;
    } specials[] = {{'"', "\\\""},       {'\\', "\\\\"},      {'\n', "\\n"}, {'\x1f', "\\u001f"},
                    {'\x7f', "\\u007f"}, {'\xff', "\\udcff"}, {' ', " "},    {'~', "~"}};
    enum { LEN = 40 };

    for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
        for (size_t pos = 0; pos < LEN; pos++) {
            char in[LEN], want[LEN + 16];
            size_t n = 0, el = strlen(specials[k].esc);
            memset(in, 'a', LEN);
            in[pos] = specials[k].byte;
            want[n++] = '"';
            memset(want + n, 'a', pos);
            n += pos;
            memcpy(want + n, specials[k].esc, el);
            n += el;
            memset(want + n, 'a', LEN - pos - 1);
            n += LEN - pos - 1;
            want[n++] = '"';
            want[n] = '\0';
            check_json(t, in, LEN, want);
        }
    }
}

/* The bound holds for the worst inputs: every byte a 6-byte escape. */
static void test_bound(struct iw_check *t)
{
    char in[64], out[6 * 64 + 2];

    memset(in, '\x01', sizeof(in));
    CHECK_EQ(iw_json_string(out, in, sizeof(in)), iw_json_string_bound(sizeof(in)));
    memset(in, '\x80', sizeof(in));
    CHECK_EQ(iw_json_string(out, in, sizeof(in)), iw_json_string_bound(sizeof(in)));
    CHECK_EQ(iw_json_string_bound(0), 2);
    CHECK_EQ(iw_text_escape_bound(3), 12);
}

struct text_case {
    const char *in;
    size_t len;
    const char *want;
};

static void test_text(struct iw_check *t)
{
    static const struct text_case cases[] = {
        {B(""), ""},
        {B("plain/name.c"), "plain/name.c"},
        {B("a\\b"), "a\\\\b"},
        {B("line\nbreak"), "line\\nbreak"},
        {B("tab\there"), "tab\\there"},
        {B("cr\r"), "cr\\r"},
        {B("\x1b[31m"), "\\x1b[31m"}, /* a terminal escape stays inert */
        {B("a\0b"), "a\\x00b"},
        {B("\x01\x1f\x7f"), "\\x01\\x1f\\x7f"},
        {B("\"quoted\""), "\"quoted\""},
        {B("caf\xe9 \xc3\xa9\xff"), "caf\xe9 \xc3\xa9\xff"}, /* bytes >= 0x80 as they are */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t bound = iw_text_escape_bound(cases[i].len);
        char *out = malloc(bound ? bound : 1);
        if (!CHECK(out != NULL))
            return;
        size_t n = iw_text_escape(out, cases[i].in, cases[i].len);
        CHECK(n <= bound);
        CHECK_MEM(out, n, cases[i].want, strlen(cases[i].want));
        free(out);
    }
    char out[4 * 8];
    CHECK_EQ(iw_text_escape(out, "\x01\x02\x03\x04\x05\x06\x07\x08", 8), 32);
}

int main(void)
{
    struct iw_check t = {0};

    test_ascii(&t);
    test_controls(&t);
    test_utf8_valid(&t);
    test_utf8_invalid(&t);
    test_fast_path_edges(&t);
    test_bound(&t);
    test_text(&t);
    return iw_check_done(&t, "test_json");
}
