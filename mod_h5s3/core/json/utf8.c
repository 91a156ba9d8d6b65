/*
 * Bytes from a file as JSON strings (see include/json/h5s3_text.h):
 * decoded as UTF-8 dropping invalid sequences, as Python's
 * errors='ignore' does, so every string we write is valid JSON.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "json/h5s3_text.h"

/* RFC 3629's table of well-formed sequences. */
size_t h5s3_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len, i;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;      /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

json_t *h5s3_json_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    char *buf, *o;
    size_t i = 0;
    json_t *j;

    if (!s)
        return json_string("");
    buf = malloc(n + 1);
    if (!buf)
        return NULL;
    o = buf;
    /* With errors='ignore' every byte outside a valid sequence is
     * dropped, so skipping one byte at a time gives Python's result. */
    while (i < n) {
        size_t len = h5s3_utf8_seq_len(u + i, n - i);

        if (len == 0) {
            i++;
            continue;
        }
        memcpy(o, u + i, len);
        o += len;
        i += len;
    }
    j = json_stringn(buf, (size_t)(o - buf));
    free(buf);
    return j;
}

const char *h5s3_utf8_clean(const char *s, apr_pool_t *p)
{
    json_t *j;
    const char *r;

    if (!s)
        return "";
    j = h5s3_json_utf8(s, strlen(s));
    r = j ? apr_pstrdup(p, json_string_value(j)) : "";
    if (j)
        json_decref(j);
    return r;
}

json_t *h5s3_json_str(const char *s, apr_pool_t *p)
{
    return json_string(h5s3_utf8_clean(s, p));
}
