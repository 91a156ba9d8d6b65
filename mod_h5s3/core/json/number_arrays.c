/*
 * Whole numeric arrays as JSON text in one pass (see
 * include/json/h5s3_json_numbers.h): one buffer sized for the longest
 * text of every element, written with no per-value allocation and no
 * HDF5 call per element.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/h5s3_errors.h"
#include "json/h5s3_json_numbers.h"

apr_size_t h5s3_num_type_size(h5s3_num_type t)
{
    switch (t) {
    case H5S3_NUM_I8: case H5S3_NUM_U8: case H5S3_NUM_B8:
        return 1;
    case H5S3_NUM_I16: case H5S3_NUM_U16: case H5S3_NUM_B16:
        return 2;
    case H5S3_NUM_I32: case H5S3_NUM_U32: case H5S3_NUM_B32:
    case H5S3_NUM_F32:
        return 4;
    case H5S3_NUM_FLD:
        return sizeof(long double);
    default:
        return 8;
    }
}

/* The longest text of one element, separator included. */
static apr_size_t elem_room(h5s3_num_type t)
{
    switch (t) {
    case H5S3_NUM_I8: case H5S3_NUM_U8:
        return 5;
    case H5S3_NUM_I16: case H5S3_NUM_U16:
        return 7;
    case H5S3_NUM_I32: case H5S3_NUM_U32:
        return 12;
    case H5S3_NUM_I64: case H5S3_NUM_U64:
        return 21;
    case H5S3_NUM_B8: case H5S3_NUM_B16: case H5S3_NUM_B32:
    case H5S3_NUM_B64:
        return 6;
    default:
        return 26;      /* "-1.2345678901234567e-308," */
    }
}

static char *put_i(char *o, apr_int64_t v)
{
    return o + h5s3_num_i64(o, v);
}

static char *put_u(char *o, apr_uint64_t v)
{
    return o + h5s3_num_u64(o, v);
}

/* repr(), or null for NaN and infinities (the viewer's sanitiser).  The
 * NUL h5s3_num_py_repr ends with lands inside the element's room. */
static char *put_f(char *o, double v)
{
    if (!isfinite(v)) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    return o + h5s3_num_py_repr(o, v);
}

static char *put_b(char *o, int v)
{
    if (v) {
        memcpy(o, "true", 4);
        return o + 4;
    }
    memcpy(o, "false", 5);
    return o + 5;
}

/* N comma-separated elements of T from P; the type switch is outside
 * the loops. */
#define ROW(ctype, put, conv)                                           \
    for (i = 0; i < n; i++) {                                           \
        ctype x;                                                        \
        memcpy(&x, p + i * sizeof(ctype), sizeof(ctype));               \
        if (i) {                                                        \
            *o++ = ',';                                                 \
        }                                                               \
        o = put(o, conv(x));                                            \
    }

#define AS_I(x) ((apr_int64_t)(x))
#define AS_U(x) ((apr_uint64_t)(x))
#define AS_D(x) ((double)(x))
#define AS_B(x) ((x) != 0)

static char *put_row(char *o, h5s3_num_type t, const unsigned char *p,
                     hsize_t n)
{
    hsize_t i;

    switch (t) {
    case H5S3_NUM_I8: ROW(signed char, put_i, AS_I); break;
    case H5S3_NUM_I16: ROW(short, put_i, AS_I); break;
    case H5S3_NUM_I32: ROW(int, put_i, AS_I); break;
    case H5S3_NUM_I64: ROW(long long, put_i, AS_I); break;
    case H5S3_NUM_U8: ROW(unsigned char, put_u, AS_U); break;
    case H5S3_NUM_U16: ROW(unsigned short, put_u, AS_U); break;
    case H5S3_NUM_U32: ROW(unsigned int, put_u, AS_U); break;
    case H5S3_NUM_U64: ROW(unsigned long long, put_u, AS_U); break;
    case H5S3_NUM_F32: ROW(float, put_f, AS_D); break;
    case H5S3_NUM_F64: ROW(double, put_f, AS_D); break;
    case H5S3_NUM_FLD: ROW(long double, put_f, AS_D); break;
    case H5S3_NUM_B8: ROW(unsigned char, put_b, AS_B); break;
    case H5S3_NUM_B16: ROW(unsigned short, put_b, AS_B); break;
    case H5S3_NUM_B32: ROW(unsigned int, put_b, AS_B); break;
    case H5S3_NUM_B64: ROW(unsigned long long, put_b, AS_B); break;
    }
    return o;
}

/* Lists nested RANK deep (RANK >= 1); advances *P past the elements. */
static char *put_nested(char *o, h5s3_num_type t, apr_size_t esize,
                        const unsigned char **p, int rank,
                        const hsize_t *dims)
{
    hsize_t i;

    *o++ = '[';
    if (rank == 1) {
        if (dims[0] > 0) {
            o = put_row(o, t, *p, dims[0]);
            *p += dims[0] * esize;
        }
    }
    else {
        for (i = 0; i < dims[0]; i++) {
            if (i) {
                *o++ = ',';
            }
            o = put_nested(o, t, esize, p, rank - 1, dims + 1);
        }
    }
    *o++ = ']';
    return o;
}

apr_status_t h5s3_json_numbers(char **out, apr_size_t *len, h5s3_num_type t,
                               const void *buf, int rank,
                               const hsize_t *dims)
{
    const unsigned char *p = buf;
    double room = (double)elem_room(t), lists = 0, n = 1;
    char *text, *o;
    int k;

    *out = NULL;
    *len = 0;
    /* Bound the text: every element at its longest, every list its
     * brackets and comma; counted in doubles so no product wraps. */
    for (k = 0; k < rank; k++) {
        lists += n * 3;         /* n lists at this level */
        n *= (double)dims[k];
    }
    room = n * room + lists + 1;
    if (room > (double)H5S3_JSON_NUMBERS_MAX_BYTES) {
        return H5S3_E_TOOLARGE;
    }
    text = malloc((size_t)room);
    if (text == NULL) {
        return APR_ENOMEM;
    }
    if (rank == 0) {
        o = put_row(text, t, p, 1);
    }
    else {
        o = put_nested(text, t, h5s3_num_type_size(t), &p, rank, dims);
    }
    *o = '\0';
    *out = text;
    *len = (apr_size_t)(o - text);
    return APR_SUCCESS;
}
