/* json.h: escaping file names for the CLI's output.
 *
 * File names on Linux are arbitrary bytes except '/' and NUL: not
 * necessarily UTF-8, possibly holding newlines or terminal escapes. The JSON
 * form must be valid JSON and still give back the exact bytes; the text form
 * must stay on one line and never feed control bytes to a terminal.
 */
#ifndef IW_JSON_H
#define IW_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Upper bound of the bytes iw_json_string() writes for an n-byte input,
 * quotes included: at most 6 bytes ("\u001f", "\udcff") per input byte. */
static inline size_t iw_json_string_bound(size_t n)
{
    return 6 * n + 2;
}

/* Writes s[0..n) as a JSON string literal, quotes included, to out (which
 * has room for iw_json_string_bound(n) bytes; no NUL is added) and returns
 * the bytes written. Valid UTF-8 (strict: no overlong forms, no surrogates,
 * nothing above U+10FFFF) is copied as it is. Every byte that is not part of
 * a valid sequence becomes the escape \udcXX (lowercase hex of the byte):
 * Python's surrogateescape, so os.fsencode(json.loads(x)) gives back the
 * raw bytes. '"' and '\' are escaped; control bytes use \b \f \n \r \t or
 * \u00XX, and 0x7f is written \u007f. */
size_t iw_json_string(char *out, const char *s, size_t n);

/* Upper bound of the bytes iw_text_escape() writes for an n-byte input. */
static inline size_t iw_text_escape_bound(size_t n)
{
    return 4 * n;
}

/* For the human-readable one-line-per-event output: copies s[0..n) to out,
 * writing '\' as "\\", newline as "\n", tab as "\t", carriage return as
 * "\r", other bytes below 0x20 and 0x7f as "\xNN" (lowercase hex); every
 * other byte, including non-UTF-8 ones, as it is. No NUL is added. Returns
 * the bytes written. */
size_t iw_text_escape(char *out, const char *s, size_t n);

/* Writes the NUL-terminated s to f as a JSON string literal ("null" if
 * memory runs out). Returns 0, or -1 when the write failed. */
int iw_json_print(FILE *f, const char *s);

#endif /* IW_JSON_H */
