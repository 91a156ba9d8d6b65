/*
 * HDF5 values -> JSON, sanitised so the output is always valid JSON and
 * reads like what the HDF Viewer's Python sanitiser produces (docs/viewer-api.md §3.3).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_attrs.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_types.h"
#include "viewer/h5s3_h5_values.h"
#include "json/h5s3_json.h"

#define MAX_DEPTH 32


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
        return h5s3_json_utf8(s, s ? strlen(s) : 0);
    }
    /* NumPy 'S' values lose their trailing NULs. */
    n = H5Tget_size(mt);
    while (n > 0 && ptr[n - 1] == '\0')
        n--;
    return h5s3_json_utf8((const char *)ptr, n);
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
        return h5s3_json_utf8(big, strlen(big));
    }
    return h5s3_json_utf8(name, strlen(name));
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
        return json_string(h5s3_py_complex_str(re, im, c->p));
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
        return h5s3_json_real_or_null(d);
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
        return h5s3_json_utf8((const char *)ptr, size);
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

apr_status_t h5s3_h5_attr_value(json_t **out, hid_t loc, hid_t attr,
                                apr_pool_t *p)
{
    h5s3_h5_attr_values v;
    apr_status_t rv;

    *out = NULL;
    rv = h5s3_h5_attr_read(&v, attr);
    if (rv == APR_SUCCESS && v.null_space)
        *out = json_null();   /* h5py.Empty */
    else if (rv == APR_SUCCESS)
        rv = h5s3_h5_values_json(out, loc, v.mt, v.buf, v.rank, v.dims, p);
    h5s3_h5_attr_values_free(&v);
    return rv;
}

apr_status_t h5s3_h5_buf_json(json_t **out, const h5s3_h5_dset *d,
                              const void *buf, int rank, const hsize_t *dims,
                              apr_pool_t *p)
{
    int i;

    for (i = 0; i < rank; i++) {
        if (dims[i] == 0) {
            /* Nothing was read: the empty nesting, as tolist() gives. */
            *out = json_array();
            if (i > 0) {
                hsize_t k;
                json_t *row;

                for (k = 0; k < dims[0]; k++) {
                    row = json_array();
                    json_array_append_new(*out, row);
                }
            }
            return APR_SUCCESS;
        }
    }
    return h5s3_h5_values_json(out, d->did, d->mtype, buf, rank, dims, p);
}
