/* fuzz_json.c: libFuzzer entry point for the output escapers.
 *
 * The input is a file name's bytes. For iw_json_string() the output must fit
 * the bound, be one JSON string literal (RFC 8259 syntax, valid UTF-8, no raw
 * control byte or DEL), and decode, with Python's surrogateescape rule for
 * \udc80..\udcff, back to exactly the input. For iw_text_escape() the output
 * must fit its bound, hold no control byte, and unescape to the input. The
 * decoders here are written independently of the encoders on purpose.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits at j[0..4); -1 if they are not. */
static long hex4(const unsigned char *j)
{
    long v = 0;

    for (int k = 0; k < 4; k++) {
        int d = hex_value(j[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Appends code point cp (not a surrogate) as UTF-8. */
static size_t put_utf8(uint8_t *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the well-formed UTF-8 character at u[0..n), u[0] >= 0x80, or 0:
 * decodes it and rejects overlong forms, surrogates and values past
 * U+10FFFF by value, not by byte ranges as the encoder does. */
static size_t raw_utf8(const unsigned char *u, size_t n)
{
    static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = u[0] >= 0xf0 && u[0] < 0xf8 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc0 ? 2 : 0;
    unsigned long cp;

    if (!len || u[0] >= 0xf8 || len > n)
        return 0;
    cp = u[0] & (0x7f >> len);
    for (size_t k = 1; k < len; k++) {
        if ((u[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (u[k] & 0x3f);
    }
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Decodes the \u escape at j[i] (which is 'u'): one code point, or a pair.
 * Appends its bytes to o; returns the input consumed, or 0 if invalid. */
static size_t decode_u(const unsigned char *j, size_t i, size_t end, uint8_t *o, size_t *on)
{
    long cp = i + 5 <= end ? hex4(j + i + 1) : -1;

    if (cp < 0)
        return 0;
    if (cp >= 0xd800 && cp <= 0xdbff) { /* a pair is allowed by JSON, never emitted */
        long lo = i + 11 <= end && j[i + 5] == '\\' && j[i + 6] == 'u' ? hex4(j + i + 7) : -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return 0;
        *on += put_utf8(o + *on, 0x10000 + (((unsigned long)cp - 0xd800) << 10) +
                                     ((unsigned long)lo - 0xdc00));
        return 11;
    }
    if (cp >= 0xdc80 && cp <= 0xdcff) { /* surrogateescape: one raw byte */
        o[(*on)++] = (uint8_t)(cp & 0xff);
        return 5;
    }
    if (cp >= 0xdc00 && cp <= 0xdfff) /* no byte to give back */
        return 0;
    *on += put_utf8(o + *on, (unsigned long)cp);
    return 5;
}

/* The byte a two-character escape stands for, or -1. */
static int simple_escape(unsigned char e)
{
    switch (e) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '/':
        return '/';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

/* Decodes the JSON string literal j[0..n) into o; returns 0 if invalid. */
static int json_decode(const unsigned char *j, size_t n, uint8_t *o, size_t *on)
{
    size_t i = 1, end = n - 1;

    *on = 0;
    if (n < 2 || j[0] != '"' || j[end] != '"')
        return 0;
    while (i < end) {
        unsigned char c = j[i];
        if (c == '"' || c < 0x20 || c == 0x7f) /* 0x7f is legal JSON, but we promise \u007f */
            return 0;
        if (c >= 0x80) {
            size_t len = raw_utf8(j + i, end - i);
            if (!len)
                return 0;
            memcpy(o + *on, j + i, len);
            *on += len;
            i += len;
        } else if (c != '\\') {
            o[(*on)++] = c;
            i++;
        } else if (i + 1 < end && j[i + 1] == 'u') {
            size_t used = decode_u(j, i + 1, end, o, on);
            if (!used)
                return 0;
            i += 1 + used;
        } else {
            int b = i + 1 < end ? simple_escape(j[i + 1]) : -1;
            if (b < 0)
                return 0;
            o[(*on)++] = (uint8_t)b;
            i += 2;
        }
    }
    return 1;
}

/* Undoes iw_text_escape(); returns 0 if t[0..n) is not a possible output. */
static int text_decode(const unsigned char *t, size_t n, uint8_t *o, size_t *on)
{
    *on = 0;
    for (size_t i = 0; i < n;) {
        if (t[i] < 0x20 || t[i] == 0x7f)
            return 0;
        if (t[i] != '\\') {
            o[(*on)++] = t[i++];
            continue;
        }
        if (i + 1 >= n)
            return 0;
        unsigned char e = t[i + 1];
        if (e == 'x') {
            int hi = i + 3 < n ? hex_value(t[i + 2]) : -1, lo = hi >= 0 ? hex_value(t[i + 3]) : -1;
            int b = hi << 4 | lo;
            if (lo < 0 || (b >= 0x20 && b != 0x7f)) /* only control bytes take \xNN */
                return 0;
            o[(*on)++] = (uint8_t)b;
            i += 4;
            continue;
        }
        if (e != '\\' && e != 'n' && e != 't' && e != 'r')
            return 0;
        o[(*on)++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : '\\';
        i += 2;
    }
    return 1;
}

static void check_json(const uint8_t *data, size_t size, uint8_t *back)
{
    size_t bound = iw_json_string_bound(size), back_len;
    char *out = malloc(bound);

    if (!out)
        abort();
    size_t n = iw_json_string(out, (const char *)data, size);
    if (n > bound || !json_decode((const unsigned char *)out, n, back, &back_len))
        abort();
    if (back_len != size || memcmp(back, data, size) != 0)
        abort();
    free(out);
}

static void check_text(const uint8_t *data, size_t size, uint8_t *back)
{
    size_t bound = iw_text_escape_bound(size), back_len;
    char *out = malloc(bound ? bound : 1);

    if (!out)
        abort();
    size_t n = iw_text_escape(out, (const char *)data, size);
    if (n > bound || !text_decode((const unsigned char *)out, n, back, &back_len))
        abort();
    if (back_len != size || memcmp(back, data, size) != 0)
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Room for the worst a broken encoder could make the decoders produce:
     * no more bytes than the escaped text has, itself within the bound. */
    uint8_t *back = malloc(iw_json_string_bound(size));

    if (!back)
        abort();
    check_json(data, size, back);
    check_text(data, size, back);
    free(back);
    return 0;
}
