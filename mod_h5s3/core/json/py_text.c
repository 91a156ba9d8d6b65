/*
 * Text as Python prints it (see include/json/h5s3_text.h): floats and
 * complex numbers as repr() and str() write them, int() of a string, and
 * datetime.isoformat().
 */
#include <math.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"

#include "json/h5s3_json_numbers.h"
#include "json/h5s3_text.h"

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

const char *h5s3_time_isoformat(apr_pool_t *p, apr_time_t t, int with_offset)
{
    apr_time_exp_t x;
    char *s;

    apr_time_exp_gmt(&x, t);
    s = apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d", x.tm_year + 1900,
                     x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
    /* isoformat() leaves out the fraction when it is zero. */
    if (x.tm_usec) {
        s = apr_psprintf(p, "%s.%06d", s, x.tm_usec);
    }
    return with_offset ? apr_pstrcat(p, s, "+00:00", NULL) : s;
}
