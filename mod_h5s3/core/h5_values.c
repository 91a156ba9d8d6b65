/*
 * HDF5 values -> JSON, sanitised so the output is always valid JSON and
 * reads like what the HDF Viewer's Python sanitiser produces (§3.3).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "h5s3_errors.h"
#include "h5s3_h5_types.h"
#include "h5s3_h5_values.h"

#define MAX_DEPTH 32

json_t *h5s3_h5_json_finite(double v)
{
    if (!isfinite(v))
        return json_null();
    return json_real(v);
}

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

json_t *h5s3_h5_json_utf8(const char *s, size_t n)
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

const char *h5s3_h5_utf8_clean(const char *s, apr_pool_t *p)
{
    json_t *j;
    const char *r;

    if (!s)
        return "";
    j = h5s3_h5_json_utf8(s, strlen(s));
    r = j ? apr_pstrdup(p, json_string_value(j)) : "";
    if (j)
        json_decref(j);
    return r;
}

/* repr()-style text of a finite or non-finite double, after CPython's
 * format_float_short in 'r' mode: shortest round-trip digits, exponent
 * form below 1e-4 and from 1e16 on. */
static const char *py_float(double v, int always_sign, int add_dot0,
                            apr_pool_t *p)
{
    char buf[64], digits[32], *e;
    const char *sign;
    int prec, exp10, decpt, nd = 0;
    char *s;

    if (isnan(v))
        return always_sign ? "+nan" : "nan";
    sign = signbit(v) ? "-" : (always_sign ? "+" : "");
    if (isinf(v))
        return apr_pstrcat(p, sign, "inf", NULL);
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (prec == 17)
        snprintf(buf, sizeof(buf), "%.*e", prec, v);
    for (s = buf; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && nd < (int)sizeof(digits) - 1)
            digits[nd++] = *s;
    digits[nd] = '\0';
    e = strchr(buf, 'e');
    exp10 = e ? atoi(e + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    decpt = exp10 + 1;
    if (decpt <= -4 || decpt > 16) {
        const char *mant = nd > 1
            ? apr_psprintf(p, "%c.%s", digits[0], digits + 1)
            : apr_psprintf(p, "%c", digits[0]);

        return apr_psprintf(p, "%s%se%c%02d", sign, mant,
                            exp10 < 0 ? '-' : '+', abs(exp10));
    }
    if (decpt <= 0)
        return apr_psprintf(p, "%s0.%s%s", sign,
                            apr_pstrndup(p, "000000", (apr_size_t)-decpt),
                            digits);
    if (decpt < nd)
        return apr_psprintf(p, "%s%.*s.%s", sign, decpt, digits,
                            digits + decpt);
    s = apr_palloc(p, (apr_size_t)decpt + 1);
    memcpy(s, digits, (size_t)nd);
    memset(s + nd, '0', (size_t)(decpt - nd));
    s[decpt] = '\0';
    return apr_pstrcat(p, sign, s, add_dot0 ? ".0" : "", NULL);
}

const char *h5s3_h5_py_float_repr(double v, apr_pool_t *p)
{
    return py_float(v, 0, 1, p);
}

const char *h5s3_h5_py_complex_str(double re, double im, apr_pool_t *p)
{
    /* CPython complex_repr: a +0 real part is left out, with no
     * parentheses; otherwise the imaginary part always carries a sign. */
    if (re == 0 && !signbit(re))
        return apr_pstrcat(p, py_float(im, 0, 0, p), "j", NULL);
    return apr_pstrcat(p, "(", py_float(re, 0, 0, p),
                       py_float(im, 1, 0, p), "j)", NULL);
}

hid_t h5s3_h5_mem_type(hid_t file_type)
{
    return H5Tget_native_type(file_type, H5T_DIR_ASCEND);
}

/* ------------------------------------------------------------------ */

typedef struct {
    hid_t loc;
    apr_pool_t *p;
} conv_ctx;

static json_t *elem_json(conv_ctx *c, hid_t mt, const unsigned char *ptr,
                         int depth);

static json_t *int_json(const unsigned char *ptr, size_t size, int is_signed)
{
    if (is_signed) {
        switch (size) {
        case 1: { signed char v; memcpy(&v, ptr, 1);
                  return json_integer(v); }
        case 2: { short v; memcpy(&v, ptr, 2); return json_integer(v); }
        case 4: { int v; memcpy(&v, ptr, 4); return json_integer(v); }
        case 8: { long long v; memcpy(&v, ptr, 8);
                  return json_integer((json_int_t)v); }
        }
    } else {
        switch (size) {
        case 1: return json_integer(*ptr);
        case 2: { unsigned short v; memcpy(&v, ptr, 2);
                  return json_integer(v); }
        case 4: { unsigned int v; memcpy(&v, ptr, 4);
                  return json_integer((json_int_t)v); }
        case 8: {
            unsigned long long v;

            memcpy(&v, ptr, 8);
            /* jansson integers are signed 64-bit: past that the exact
             * value cannot be written, so fall back to a double. */
            if (v > (unsigned long long)LLONG_MAX)
                return json_real((double)v);
            return json_integer((json_int_t)v);
        }
        }
    }
    return json_null();
}

static int float_value(double *out, const unsigned char *ptr, size_t size)
{
    if (size == sizeof(float)) {
        float f;

        memcpy(&f, ptr, sizeof(f));
        *out = f;
    } else if (size == sizeof(double)) {
        memcpy(out, ptr, sizeof(double));
    } else if (size == sizeof(long double)) {
        long double ld;

        memcpy(&ld, ptr, sizeof(ld));
        *out = (double)ld;
    } else {
        return 0;
    }
    return 1;
}

static json_t *string_json(hid_t mt, const unsigned char *ptr)
{
    size_t n;

    if (H5Tis_variable_str(mt) > 0) {
        const char *s;

        memcpy(&s, ptr, sizeof(s));
        return h5s3_h5_json_utf8(s, s ? strlen(s) : 0);
    }
    /* NumPy 'S' values lose their trailing NULs. */
    n = H5Tget_size(mt);
    while (n > 0 && ptr[n - 1] == '\0')
        n--;
    return h5s3_h5_json_utf8((const char *)ptr, n);
}

static json_t *ref_json(conv_ctx *c, hid_t mt, const unsigned char *ptr)
{
    H5R_type_t rt;
    size_t size = H5Tget_size(mt), i;
    char name[1024];
    ssize_t len;

    for (i = 0; i < size && ptr[i] == 0; i++)
        ;
    if (i == size)
        return json_null();     /* a null reference */
    if (H5Tequal(mt, H5T_STD_REF_OBJ) > 0)
        rt = H5R_OBJECT;
    else if (H5Tequal(mt, H5T_STD_REF_DSETREG) > 0)
        rt = H5R_DATASET_REGION;
    else
        return json_null();
    len = H5Rget_name(c->loc, rt, ptr, name, sizeof(name));
    if (len <= 0)
        return json_null();
    if ((size_t)len >= sizeof(name)) {
        char *big = apr_palloc(c->p, (apr_size_t)len + 1);

        if (H5Rget_name(c->loc, rt, ptr, big, (size_t)len + 1) <= 0)
            return json_null();
        return h5s3_h5_json_utf8(big, strlen(big));
    }
    return h5s3_h5_json_utf8(name, strlen(name));
}

static json_t *compound_json(conv_ctx *c, hid_t mt, const unsigned char *ptr,
                             int depth)
{
    int i, n = H5Tget_nmembers(mt);
    json_t *a;

    if (h5s3_h5_type_is_complex(mt)) {
        hid_t m0 = H5Tget_member_type(mt, 0);
        size_t s = H5Tget_size(m0);
        double re, im;

        H5Tclose(m0);
        if (!float_value(&re, ptr, s) || !float_value(&im, ptr + s, s))
            return json_null();
        return json_string(h5s3_h5_py_complex_str(re, im, c->p));
    }
    a = json_array();
    for (i = 0; a && i < n; i++) {
        hid_t f = H5Tget_member_type(mt, (unsigned)i);
        size_t off = H5Tget_member_offset(mt, (unsigned)i);

        json_array_append_new(a, f >= 0 ? elem_json(c, f, ptr + off,
                                                     depth + 1)
                                        : json_null());
        if (f >= 0)
            H5Tclose(f);
    }
    return a;
}

static json_t *nested(conv_ctx *c, hid_t bt, const unsigned char **ptr,
                      size_t esize, int rank, const hsize_t *dims,
                      int depth);

static json_t *array_json(conv_ctx *c, hid_t mt, const unsigned char *ptr,
                          int depth)
{
    hsize_t dims[H5S_MAX_RANK];
    int nd = H5Tget_array_ndims(mt);
    hid_t bt;
    json_t *j;

    if (nd <= 0 || nd > H5S_MAX_RANK || H5Tget_array_dims2(mt, dims) < 0)
        return json_null();
    bt = H5Tget_super(mt);
    if (bt < 0)
        return json_null();
    j = nested(c, bt, &ptr, H5Tget_size(bt), nd, dims, depth + 1);
    H5Tclose(bt);
    return j;
}

static json_t *vlen_json(conv_ctx *c, hid_t mt, const unsigned char *ptr,
                         int depth)
{
    hvl_t v;
    hid_t bt;
    hsize_t dim;
    const unsigned char *q;
    json_t *j;

    memcpy(&v, ptr, sizeof(v));
    bt = H5Tget_super(mt);
    if (bt < 0)
        return json_null();
    dim = v.p ? (hsize_t)v.len : 0;
    q = v.p;
    j = nested(c, bt, &q, H5Tget_size(bt), 1, &dim, depth + 1);
    H5Tclose(bt);
    return j;
}

static json_t *elem_json(conv_ctx *c, hid_t mt, const unsigned char *ptr,
                         int depth)
{
    size_t size = H5Tget_size(mt);
    double d;

    if (depth > MAX_DEPTH)
        return json_null();
    switch (H5Tget_class(mt)) {
    case H5T_INTEGER:
        return int_json(ptr, size, H5Tget_sign(mt) != H5T_SGN_NONE);
    case H5T_BITFIELD:
        return int_json(ptr, size, 0);
    case H5T_FLOAT:
        if (!float_value(&d, ptr, size))
            return json_null();
        return h5s3_h5_json_finite(d);
    case H5T_ENUM: {
        hid_t bt = H5Tget_super(mt);
        json_t *j;

        if (bt < 0)
            return json_null();
        j = int_json(ptr, H5Tget_size(bt), H5Tget_sign(bt) != H5T_SGN_NONE);
        H5Tclose(bt);
        if (j && h5s3_h5_type_is_bool(mt)) {
            int truth = json_integer_value(j) != 0;

            json_decref(j);
            return json_boolean(truth);
        }
        return j;
    }
    case H5T_STRING:
        return string_json(mt, ptr);
    case H5T_OPAQUE:
        return h5s3_h5_json_utf8((const char *)ptr, size);
    case H5T_COMPOUND:
        return compound_json(c, mt, ptr, depth);
    case H5T_ARRAY:
        return array_json(c, mt, ptr, depth);
    case H5T_VLEN:
        return vlen_json(c, mt, ptr, depth);
    case H5T_REFERENCE:
        return ref_json(c, mt, ptr);
    default:
        return json_null();
    }
}

/* Lists nested RANK deep; advances *PTR past the elements consumed. */
static json_t *nested(conv_ctx *c, hid_t bt, const unsigned char **ptr,
                      size_t esize, int rank, const hsize_t *dims,
                      int depth)
{
    json_t *a;
    hsize_t i;

    if (rank == 0) {
        json_t *j = elem_json(c, bt, *ptr, depth);

        *ptr += esize;
        return j;
    }
    a = json_array();
    for (i = 0; a && i < dims[0]; i++) {
        json_t *j = nested(c, bt, ptr, esize, rank - 1, dims + 1, depth);

        if (!j || json_array_append_new(a, j) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

apr_status_t h5s3_h5_values_json(json_t **out, hid_t loc, hid_t mtype,
                                 const void *buf, int rank,
                                 const hsize_t *dims, apr_pool_t *p)
{
    conv_ctx c;
    const unsigned char *ptr = buf;

    c.loc = loc;
    c.p = p;
    *out = nested(&c, mtype, &ptr, H5Tget_size(mtype), rank, dims, 0);
    return *out ? APR_SUCCESS : APR_ENOMEM;
}

apr_status_t h5s3_h5_attr_value(json_t **out, hid_t loc, hid_t attr,
                                apr_pool_t *p)
{
    hid_t space = -1, ftype = -1, mt = -1;
    hsize_t dims[H5S_MAX_RANK];
    hssize_t npoints;
    int rank;
    void *buf = NULL;
    apr_status_t rv = H5S3_E_UNSUPPORTED;
    size_t esize;

    *out = NULL;
    space = H5Aget_space(attr);
    if (space < 0)
        goto done;
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        *out = json_null();   /* h5py.Empty */
        rv = APR_SUCCESS;
        goto done;
    }
    rank = H5Sget_simple_extent_ndims(space);
    npoints = H5Sget_simple_extent_npoints(space);
    if (rank < 0 || rank > H5S_MAX_RANK || npoints < 0
        || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        goto done;
    if (npoints > H5S3_H5_MAX_ATTR_ELEMENTS) {
        rv = H5S3_E_TOOLARGE;
        goto done;
    }
    ftype = H5Aget_type(attr);
    if (ftype < 0)
        goto done;
    mt = h5s3_h5_mem_type(ftype);
    if (mt < 0)
        goto done;
    esize = H5Tget_size(mt);
    if (esize == 0)
        goto done;
    buf = calloc(npoints ? (size_t)npoints : 1, esize);
    if (!buf) {
        rv = APR_ENOMEM;
        goto done;
    }
    if (H5Aread(attr, mt, buf) < 0)
        goto done;
    rv = h5s3_h5_values_json(out, loc, mt, buf, rank, dims, p);
    if (H5Tdetect_class(mt, H5T_VLEN) > 0
        || H5Tdetect_class(mt, H5T_STRING) > 0)
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf);
done:
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (space >= 0)
        H5Sclose(space);
    return rv;
}
