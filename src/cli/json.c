/* json.c: JSON string literals and one-line text for file names.
 *
 * iw_json_string() runs once per event path, so the common case (a path of
 * plain printable ASCII) is copied sixteen bytes at a time after one test of
 * the whole block (SSE2; eight, one word at a time, without it); only the
 * bytes that need a decision take the slow path.
 */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char hex_digits[] = "0123456789abcdef";

/* Byte-wise constants for the word-at-a-time tests. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero if some byte of w is zero. Exact about whether one exists: a
 * borrow can only start at a byte that really is zero. */
static inline uint64_t has_zero(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/* Nonzero if some byte of w must not be copied as it is into a JSON string:
 * below 0x20, '"', '\', or 0x7f and above (DEL, and non-ASCII, which needs
 * UTF-8 validation). Adding 1 to each byte sets its top bit exactly for
 * 0x7f..0xff; a carry out of a byte only comes from 0xff, whose top bit was
 * already set, so the answer stays exact. */
static inline uint64_t word_needs_care(uint64_t w)
{
    uint64_t ctrl = (w - ONES * 0x20) & ~w & HIGHS;
    uint64_t high = ((w + ONES) | w) & HIGHS;

    return ctrl | high | has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\'));
}

static inline int byte_is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

#ifdef __SSE2__
/* Whether the 16 bytes at u are all plain: the same test as
 * word_needs_care(), sixteen bytes in a few instructions (x86-64 always
 * has SSE2). Signed compares: 0x20..0x7e are the positive bytes above
 * 0x1f and below 0x7f; 0x80..0xff are negative and fail the first. */
static inline int block_is_plain(const unsigned char *u)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)u);
    __m128i in_range = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1f)),
                                     _mm_cmpgt_epi8(_mm_set1_epi8(0x7f), v));
    __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    return _mm_movemask_epi8(_mm_andnot_si128(special, in_range)) == 0xffff;
}
#endif

/* Writes "\u" and four lowercase hex digits of cp. */
static char *put_u(char *o, unsigned cp)
{
    o[0] = '\\';
    o[1] = 'u';
    o[2] = hex_digits[(cp >> 12) & 0xf];
    o[3] = hex_digits[(cp >> 8) & 0xf];
    o[4] = hex_digits[(cp >> 4) & 0xf];
    o[5] = hex_digits[cp & 0xf];
    return o + 6;
}

/* Writes the escape for an ASCII byte that is not plain. The two-letter
 * forms are the ones RFC 8259 defines; the rest use \u00XX. */
static char *put_ascii_escape(char *o, unsigned char c)
{
    char letter;

    switch (c) {
    case '"':
        letter = '"';
        break;
    case '\\':
        letter = '\\';
        break;
    case '\b':
        letter = 'b';
        break;
    case '\f':
        letter = 'f';
        break;
    case '\n':
        letter = 'n';
        break;
    case '\r':
        letter = 'r';
        break;
    case '\t':
        letter = 't';
        break;
    default:
        return put_u(o, c);
    }
    o[0] = '\\';
    o[1] = letter;
    return o + 2;
}

/* Length of the valid UTF-8 sequence at u[0..avail) (u[0] >= 0x80), or 0.
 * Strict, as in Unicode's table of well-formed byte sequences: the second
 * byte's range depends on the lead, which rules out overlong forms (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4); C0, C1 and F5..FF
 * never start a sequence. A sequence cut short counts as invalid, so each
 * of its bytes gets escaped, as Python's decoder does. */
static size_t utf8_len(const unsigned char *u, size_t avail)
{
    unsigned char c = u[0], lo = 0x80, hi = 0xbf;
    size_t len;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (avail < len || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((u[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Copies the plain bytes at u[*i..n) to o, a word at a time while whole
 * words are plain; returns the new output position. */
static char *copy_plain(char *o, const unsigned char *u, size_t *i, size_t n)
{
    size_t k = *i;
    uint64_t w;

#ifdef __SSE2__
    while (n - k >= 16 && block_is_plain(u + k)) {
        memcpy(o, u + k, 16);
        o += 16;
        k += 16;
    }
    /* The end as the block that ends the string (see below for words). */
    if (k < n && n - k < 16 && n >= *i + 16 && block_is_plain(u + n - 16)) {
        memcpy(o - (16 - (n - k)), u + n - 16, 16);
        *i = n;
        return o + (n - k);
    }
#endif
    while (n - k >= 8) {
        memcpy(&w, u + k, 8); /* compiles to one unaligned load */
        if (word_needs_care(w))
            break;
        memcpy(o, &w, 8);
        o += 8;
        k += 8;
    }
    /* The last bytes, as the word that ends the string: it overlaps bytes
     * this call already copied one for one, so writing it again at the
     * matching place changes nothing before k. */
    if (k < n && n - k < 8 && n >= *i + 8) {
        memcpy(&w, u + n - 8, 8);
        if (!word_needs_care(w)) {
            memcpy(o - (8 - (n - k)), &w, 8);
            o += n - k;
            *i = n;
            return o;
        }
    }
    while (k < n && byte_is_plain(u[k]))
        *o++ = (char)u[k++];
    *i = k;
    return o;
}

size_t iw_json_string(char *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    char *o = out;
    size_t i = 0;

    *o++ = '"';
    for (;;) {
        o = copy_plain(o, u, &i, n);
        if (i == n)
            break;
        if (u[i] < 0x80) {
            o = put_ascii_escape(o, u[i++]);
            continue;
        }
        size_t len = utf8_len(u + i, n - i);
        if (len) {
            memcpy(o, u + i, len);
            o += len;
            i += len;
        } else {
            o = put_u(o, 0xdc00u | u[i++]);
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

/* Writes the text-form escape of byte c, which is '\' or a control byte. */
static char *put_text_escape(char *o, unsigned char c)
{
    char letter = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : 0;

    *o++ = '\\';
    if (letter) {
        *o++ = letter;
        return o;
    }
    o[0] = 'x';
    o[1] = hex_digits[c >> 4];
    o[2] = hex_digits[c & 0xf];
    return o + 3;
}

size_t iw_text_escape(char *out, const char *s, size_t n)
{
    char *o = out;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f && c != '\\')
            *o++ = (char)c;
        else
            o = put_text_escape(o, c);
    }
    return (size_t)(o - out);
}

int iw_json_print(FILE *f, const char *s)
{
    size_t n = strlen(s);
    char *buf = malloc(iw_json_string_bound(n));
    if (!buf)
        return fputs("null", f) < 0 ? -1 : 0;
    size_t len = iw_json_string(buf, s, n);
    int r = fwrite(buf, 1, len, f) == len ? 0 : -1;
    free(buf);
    return r;
}
