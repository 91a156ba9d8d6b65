/*
 * Text the way JSON and Python want it (see include/json/h5s3_text.h):
 * bytes decoded as UTF-8 dropping invalid sequences, floats and complex
 * numbers as Python prints them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"

#include "json/h5s3_json_numbers.h"
#include "json/h5s3_text.h"

/* Length of the well-formed UTF-8 sequence at S (at most N bytes), or 0
 * when the byte there starts no valid sequence (RFC 3629 table). */
static size_t utf8_seq(const unsigned char *s, size_t n)
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
        size_t len = utf8_seq(u + i, n - i);

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

/* Python's format of V in repr mode, optionally signed and with ".0". */
static const char *py_float(double v, int always_sign, int add_dot0,
                            apr_pool_t *p)
{
    char buf[H5S3_NUM_TEXT_MAX];

    h5s3_num_py_format(buf, v, (always_sign ? H5S3_NUM_SIGN : 0)
                               | (add_dot0 ? H5S3_NUM_DOT0 : 0));
    return apr_pstrdup(p, buf);
}

const char *h5s3_py_float_repr(double v, apr_pool_t *p)
{
    return py_float(v, 0, 1, p);
}

const char *h5s3_py_complex_str(double re, double im, apr_pool_t *p)
{
    /* CPython complex_repr: a +0 real part is left out, with no
     * parentheses; otherwise the imaginary part always carries a sign. */
    if (re == 0 && !signbit(re))
        return apr_pstrcat(p, py_float(im, 0, 0, p), "j", NULL);
    return apr_pstrcat(p, "(", py_float(re, 0, 0, p),
                       py_float(im, 1, 0, p), "j)", NULL);
}

apr_status_t h5s3_py_parse_int(apr_int64_t *out, const char *s)
{
    apr_uint64_t v = 0;
    int neg = 0, digits = 0, prev_us = 0;

    if (s == NULL) {
        return H5S3_E_INVALID;
    }
    while (apr_isspace(*s)) {
        s++;
    }
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    for (; *s; s++) {
        if (*s == '_') {
            /* Python allows one underscore between digits. */
            if (!digits || prev_us) {
                return H5S3_E_INVALID;
            }
            prev_us = 1;
            continue;
        }
        if (!apr_isdigit(*s)) {
            break;
        }
        /* v * 10 + digit must stay within int64 (so negating is safe). */
        if (v > (apr_uint64_t)(APR_INT64_MAX - (*s - '0')) / 10) {
            return H5S3_E_INVALID;
        }
        v = v * 10 + (apr_uint64_t)(*s - '0');
        digits++;
        prev_us = 0;
    }
    if (!digits || prev_us) {
        return H5S3_E_INVALID;
    }
    while (apr_isspace(*s)) {
        s++;
    }
    if (*s) {
        return H5S3_E_INVALID;
    }
    *out = neg ? -(apr_int64_t)v : (apr_int64_t)v;
    return APR_SUCCESS;
}
