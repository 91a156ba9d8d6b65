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

#include "h5s3_checked.h"
#include "h5s3_errors.h"
#include "h5s3_h5_file.h"
#include "h5s3_h5_read.h"
#include "h5s3_h5_types.h"
#include "h5s3_h5_values.h"
#include "h5s3_json.h"

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

/* Python's format of V in repr mode, optionally signed and with ".0". */
static const char *py_float(double v, int always_sign, int add_dot0,
                            apr_pool_t *p)
{
    char buf[H5S3_NUM_TEXT_MAX];

    h5s3_num_py_format(buf, v, (always_sign ? H5S3_NUM_SIGN : 0)
                               | (add_dot0 ? H5S3_NUM_DOT0 : 0));
    return apr_pstrdup(p, buf);
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

/* H5Tdetect_class counts a vlen string as a string, not as vlen. */
static int type_has_vlen(hid_t t, int depth)
{
    hid_t sub;
    int i, n, has = 0;

    if (depth > MAX_DEPTH) {
        return 1;               /* cannot tell: assume so */
    }
    switch (H5Tget_class(t)) {
    case H5T_VLEN:
        return 1;
    case H5T_STRING:
        return H5Tis_variable_str(t) > 0;
    case H5T_ARRAY:
        sub = H5Tget_super(t);
        has = sub < 0 || type_has_vlen(sub, depth + 1);
        if (sub >= 0) {
            H5Tclose(sub);
        }
        return has;
    case H5T_COMPOUND:
        n = H5Tget_nmembers(t);
        for (i = 0; i < n && !has; i++) {
            sub = H5Tget_member_type(t, (unsigned)i);
            has = sub < 0 || type_has_vlen(sub, depth + 1);
            if (sub >= 0) {
                H5Tclose(sub);
            }
        }
        return has;
    default:
        return 0;
    }
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
    hsize_t dims[H5S_MAX_RANK], bytes;
    int nd = H5Tget_array_ndims(mt);
    hid_t bt;
    json_t *j;

    if (nd <= 0 || nd > H5S_MAX_RANK || H5Tget_array_dims2(mt, dims) < 0)
        return json_null();
    bt = H5Tget_super(mt);
    if (bt < 0)
        return json_null();
    /* HDF5 sizes an array type with an unchecked product of the dims a
     * file declares: walk no more than the element really holds. */
    if (!h5s3_dims_product(&bytes, dims, nd, H5Tget_size(bt),
                           H5Tget_size(mt))) {
        H5Tclose(bt);
        return json_null();
    }
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

/* The h5s3_json_numbers type of an integer of SIZE bytes. */
static int int_num_type(h5s3_num_type *t, size_t size, int sgn)
{
    switch (size) {
    case 1:
        *t = sgn ? H5S3_NUM_I8 : H5S3_NUM_U8;
        return 1;
    case 2:
        *t = sgn ? H5S3_NUM_I16 : H5S3_NUM_U16;
        return 1;
    case 4:
        *t = sgn ? H5S3_NUM_I32 : H5S3_NUM_U32;
        return 1;
    case 8:
        *t = sgn ? H5S3_NUM_I64 : H5S3_NUM_U64;
        return 1;
    default:
        return 0;
    }
}

int h5s3_h5_num_type(h5s3_num_type *t, hid_t mt)
{
    size_t size = H5Tget_size(mt);

    switch (H5Tget_class(mt)) {
    case H5T_INTEGER:
        return int_num_type(t, size, H5Tget_sign(mt) != H5T_SGN_NONE);
    case H5T_BITFIELD:
        return int_num_type(t, size, 0);
    case H5T_FLOAT:
        if (size == sizeof(float)) {
            *t = H5S3_NUM_F32;
        }
        else if (size == sizeof(double)) {
            *t = H5S3_NUM_F64;
        }
        else if (size == sizeof(long double)) {
            *t = H5S3_NUM_FLD;
        }
        else {
            return 0;
        }
        return 1;
    case H5T_ENUM: {
        hid_t bt = H5Tget_super(mt);
        int ok;

        if (bt < 0) {
            return 0;
        }
        ok = int_num_type(t, H5Tget_size(bt),
                          H5Tget_sign(bt) != H5T_SGN_NONE);
        H5Tclose(bt);
        if (ok && h5s3_h5_type_is_bool(mt)) {
            *t = size == 1 ? H5S3_NUM_B8 : size == 2 ? H5S3_NUM_B16
                 : size == 4 ? H5S3_NUM_B32 : H5S3_NUM_B64;
        }
        return ok;
    }
    default:
        return 0;
    }
}

apr_status_t h5s3_h5_buf_json_raw(json_t **out, const h5s3_h5_dset *d,
                                  const void *buf, int rank,
                                  const hsize_t *dims, apr_pool_t *p)
{
    h5s3_num_type t;
    char *text;
    apr_size_t len;
    apr_status_t rv;

    if (!h5s3_h5_num_type(&t, d->mtype)
        || h5s3_num_type_size(t) != d->msize) {
        return h5s3_h5_buf_json(out, d, buf, rank, dims, p);
    }
    rv = h5s3_json_numbers(&text, &len, t, buf, rank, dims);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = h5s3_json_raw(text, len, p);
    return *out ? APR_SUCCESS : APR_ENOMEM;
}

int h5s3_h5_type_has_vlen(hid_t t)
{
    return type_has_vlen(t, 0);
}

apr_status_t h5s3_h5_attr_vlen_charge(hid_t attr, hid_t mt, hsize_t n,
                                      int *after)
{
    apr_uint64_t bytes;

    *after = 0;
    if (!type_has_vlen(mt, 0)) {
        return APR_SUCCESS;
    }
    if (h5s3_h5_attr_vlen_bytes(&bytes, attr) == APR_SUCCESS) {
        return h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, bytes);
    }
    /* Unknown sizes: one element reads one heap object, no repeat (then
     * charged by h5s3_h5_attr_vlen_charge_read); more could repeat one
     * object without bound. */
    if (n > 1) {
        return H5S3_E_UNSUPPORTED;
    }
    *after = 1;
    return APR_SUCCESS;
}

void h5s3_h5_attr_vlen_charge_read(hid_t mt, const void *buf, hsize_t n)
{
    apr_uint64_t bytes = 0;
    hsize_t i;

    if (n == 0 || !buf) {
        return;
    }
    for (i = 0; i < n; i++) {
        const unsigned char *ptr = (const unsigned char *)buf
                                   + i * H5Tget_size(mt);

        if (H5Tis_variable_str(mt) > 0) {
            const char *str;

            memcpy(&str, ptr, sizeof(str));
            bytes += str ? strlen(str) + 1 : 0;
        }
        else if (H5Tget_class(mt) == H5T_VLEN) {
            hvl_t v;
            hid_t bt = H5Tget_super(mt);

            memcpy(&v, ptr, sizeof(v));
            bytes += bt >= 0 ? v.len * H5Tget_size(bt) : 0;
            if (bt >= 0) {
                H5Tclose(bt);
            }
        }
    }
    h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, bytes);
}

apr_status_t h5s3_h5_attr_value(json_t **out, hid_t loc, hid_t attr,
                                apr_pool_t *p)
{
    hid_t space = -1, ftype = -1, mt = -1;
    hsize_t dims[H5S_MAX_RANK], n = 0;
    hssize_t npoints;
    int rank;
    void *buf = NULL;
    apr_status_t rv = H5S3_E_UNSUPPORTED;
    size_t esize;
    int after = 0;

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
    /* HDF5's count is an unchecked product of the dims: one that wrapped
     * would size the buffer for fewer elements than the dims walk. */
    if (!h5s3_dims_product(&n, dims, rank, 1, H5S3_H5_MAX_ATTR_ELEMENTS)) {
        rv = H5S3_E_TOOLARGE;
        goto done;
    }
    if (n != (hsize_t)npoints)
        goto done;
    ftype = H5Aget_type(attr);
    if (ftype < 0)
        goto done;
    mt = h5s3_h5_mem_type(ftype);
    if (mt < 0)
        goto done;
    esize = H5Tget_size(mt);
    if (esize == 0)
        goto done;
    /* H5Aread allocates every element's vlen data: known first. */
    rv = h5s3_h5_attr_vlen_charge(attr, mt, n, &after);
    if (rv != APR_SUCCESS)
        goto done;
    rv = H5S3_E_UNSUPPORTED;
    buf = calloc(npoints ? (size_t)npoints : 1, esize);
    if (!buf) {
        rv = APR_ENOMEM;
        goto done;
    }
    if (H5Aread(attr, mt, buf) < 0)
        goto done;
    if (after)
        h5s3_h5_attr_vlen_charge_read(mt, buf, n);
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
