/*
 * The text of one number (see include/json/h5s3_json_numbers.h): the
 * shortest digits (shortest_digits.c) laid out as Python's repr() and
 * format(v, 'r') lay them out, or as C's "%.<P>g" with the h5grove
 * encoder's ".0", and integers in decimal.
 */
#include <math.h>
#include <string.h>

#include "json/h5s3_json_numbers.h"

static const char DIGITS2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "68697071727374757677787980818283848586878889909192939495969798"
    "99";

/* The ND decimal digits of V at OUT (ND from h5s3_num_digits). */
static void put_digits(char *out, apr_uint64_t v, int nd)
{
    char *o = out + nd;

    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);

        v /= 100;
        o -= 2;
        memcpy(o, DIGITS2 + 2 * r, 2);
    }
    if (v >= 10) {
        o -= 2;
        memcpy(o, DIGITS2 + 2 * v, 2);
    }
    else {
        *--o = (char)('0' + v);
    }
}

/* "e+16", "e-05", "e+308" at O; returns the end. */
static char *put_exp(char *o, int x)
{
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    x = x < 0 ? -x : x;
    if (x >= 100) {
        *o++ = (char)('0' + x / 100);
        x %= 100;
    }
    memcpy(o, DIGITS2 + 2 * x, 2);
    return o + 2;
}

/*
 * D (ND digits) x 10^E at O, returning the end.  Python's 'r' mode and
 * C's "%.<P>g" lay digits out alike: the exponent form when the decimal
 * point would sit more than SCI_ABOVE digits right of the first digit
 * (16 for Python, P for "%g") or 4 left of it, else positional, with
 * ".0" after an integral value when DOT0.
 */
static char *put_layout(char *o, apr_uint64_t d, int nd, int e,
                        int sci_above, int dot0)
{
    int decpt = nd + e;

    if (decpt <= -4 || decpt > sci_above) {
        put_digits(o + 1, d, nd);
        o[0] = o[1];
        if (nd > 1) {
            o[1] = '.';
            o += nd + 1;
        }
        else {
            o += 1;
        }
        return put_exp(o, decpt - 1);
    }
    if (decpt <= 0) {
        memcpy(o, "0.", 2);
        memset(o + 2, '0', (size_t)-decpt);
        o += 2 - decpt;
        put_digits(o, d, nd);
        return o + nd;
    }
    if (decpt < nd) {
        put_digits(o + 1, d, nd);
        memmove(o, o + 1, (size_t)decpt);
        o[decpt] = '.';
        return o + nd + 1;
    }
    put_digits(o, d, nd);
    o += nd;
    memset(o, '0', (size_t)(decpt - nd));
    o += decpt - nd;
    if (dot0) {
        memcpy(o, ".0", 2);
        o += 2;
    }
    return o;
}

apr_size_t h5s3_num_py_format(char *buf, double v, int flags)
{
    char *o = buf;

    if (isnan(v)) {
        strcpy(buf, flags & H5S3_NUM_SIGN ? "+nan" : "nan");
        return strlen(buf);
    }
    if (signbit(v)) {
        *o++ = '-';
    }
    else if (flags & H5S3_NUM_SIGN) {
        *o++ = '+';
    }
    if (isinf(v)) {
        memcpy(o, "inf", 3);
        o += 3;
    }
    else {
        apr_uint64_t d;
        int e, nd = h5s3_num_shortest(&d, &e, v);

        o = put_layout(o, d, nd, e, 16, flags & H5S3_NUM_DOT0);
    }
    *o = '\0';
    return (apr_size_t)(o - buf);
}

apr_size_t h5s3_num_py_repr(char *buf, double v)
{
    return h5s3_num_py_format(buf, v, H5S3_NUM_DOT0);
}

/* "%.<P>g" of D (ND digits, ND <= P) x 10^E, then ".0" if integral. */
static apr_size_t g_layout(char *buf, int neg, apr_uint64_t d, int nd, int e,
                           int p)
{
    char *o = buf;

    if (neg) {
        *o++ = '-';
    }
    o = put_layout(o, d, nd, e, p, 1);
    *o = '\0';
    return (apr_size_t)(o - buf);
}

apr_size_t h5s3_num_g_double(char *buf, double v)
{
    apr_uint64_t d;
    int e, nd = h5s3_num_shortest(&d, &e, v);

    /* The shortest form is the 15-digit rounding when it has 15 digits
     * or fewer, so "%.15g" already gives it; past that P = ND. */
    return g_layout(buf, signbit(v) != 0, d, nd, e, nd > 15 ? nd : 15);
}

apr_size_t h5s3_num_g_float(char *buf, float v)
{
    apr_uint64_t d;
    int e, nd = h5s3_num_shortest_f(&d, &e, v);

    return g_layout(buf, signbit(v) != 0, d, nd, e, nd > 6 ? nd : 6);
}

apr_size_t h5s3_num_u64(char *buf, apr_uint64_t v)
{
    int nd = h5s3_num_digits(v);

    put_digits(buf, v, nd);
    buf[nd] = '\0';
    return (apr_size_t)nd;
}

apr_size_t h5s3_num_i64(char *buf, apr_int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        /* -(v + 1) + 1 keeps INT64_MIN in range. */
        return 1 + h5s3_num_u64(buf + 1, (apr_uint64_t)(-(v + 1)) + 1);
    }
    return h5s3_num_u64(buf, (apr_uint64_t)v);
}
