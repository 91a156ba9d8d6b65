/*
 * The encodings of h5grove's /data/ and /attr/: JSON text as orjson
 * writes it (shortest float repr, NaN/Inf null, complex [re, im], bytes
 * decoded), the .npy v1.0 header, np.savetxt's CSV, a baseline TIFF
 * header.  Values are written straight into a growable buffer: a million
 * numbers never become a million jansson objects.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "grove/h5s3_grove.h"
#include "grove/h5s3_grove_dataset.h"
#include "hdf5/h5s3_h5_types.h"
#include "json/h5s3_json_numbers.h"
#include "json/h5s3_text.h"

#define MAX_DEPTH 16

/* ---- buffer ----------------------------------------------------------- */

static apr_status_t buf_cleanup(void *data)
{
    h5s3_grove_buf *b = data;

    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    return APR_SUCCESS;
}

h5s3_grove_buf *h5s3_grove_buf_make(apr_pool_t *p)
{
    h5s3_grove_buf *b = apr_pcalloc(p, sizeof(*b));

    apr_pool_cleanup_register(p, b, buf_cleanup, apr_pool_cleanup_null);
    return b;
}

void h5s3_grove_buf_add(h5s3_grove_buf *b, const void *s, apr_size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 256;
        char *d;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        d = realloc(b->data, cap);
        if (d == NULL) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void h5s3_grove_buf_puts(h5s3_grove_buf *b, const char *s)
{
    h5s3_grove_buf_add(b, s, strlen(s));
}

/* ---- numbers and strings ---------------------------------------------- */

void h5s3_grove_put_double(h5s3_grove_buf *b, double v)
{
    char s[H5S3_NUM_TEXT_MAX];

    if (!isfinite(v)) {
        h5s3_grove_buf_add(b, "null", 4);
        return;
    }
    h5s3_grove_buf_add(b, s, h5s3_num_g_double(s, v));
}

void h5s3_grove_put_float(h5s3_grove_buf *b, float v)
{
    char s[H5S3_NUM_TEXT_MAX];

    if (!isfinite(v)) {
        h5s3_grove_buf_add(b, "null", 4);
        return;
    }
    h5s3_grove_buf_add(b, s, h5s3_num_g_float(s, v));
}

void h5s3_grove_put_string(h5s3_grove_buf *b, const char *str, apr_size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    apr_size_t i = 0, run = 0;
    char esc[8];

    h5s3_grove_buf_add(b, "\"", 1);
    while (i < n) {
        /* ASCII inline: most strings are all of it. */
        int len = s[i] < 0x80 ? 1 : (int)h5s3_utf8_seq_len(s + i, n - i);

        if (len == 1 && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\') {
            i++;
            run++;
            continue;
        }
        h5s3_grove_buf_add(b, s + i - run, run);
        run = 0;
        if (len == 0) {
            i++;                /* errors='ignore' */
            continue;
        }
        if (len > 1) {
            h5s3_grove_buf_add(b, s + i, (apr_size_t)len);
            i += (apr_size_t)len;
            continue;
        }
        switch (s[i]) {
        case '"':
            h5s3_grove_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            h5s3_grove_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            h5s3_grove_buf_add(b, "\\n", 2);
            break;
        case '\r':
            h5s3_grove_buf_add(b, "\\r", 2);
            break;
        case '\t':
            h5s3_grove_buf_add(b, "\\t", 2);
            break;
        case '\b':
            h5s3_grove_buf_add(b, "\\b", 2);
            break;
        case '\f':
            h5s3_grove_buf_add(b, "\\f", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
            h5s3_grove_buf_add(b, esc, 6);
            break;
        }
        i++;
    }
    h5s3_grove_buf_add(b, s + i - run, run);
    h5s3_grove_buf_add(b, "\"", 1);
}

/* ---- values ----------------------------------------------------------- */

/* What an element of a memory type is, worked out once, not per value. */
typedef struct tdesc tdesc;
struct tdesc {
    H5T_class_t cls;
    size_t size;
    int sgn;
    int is_bool;
    int is_complex;
    int vlen_str;
    int region;                 /* region reference */
    int nmembers;
    tdesc *members;             /* compound */
    size_t *offsets;
    tdesc *base;                /* enum base, array/vlen element */
    int ndims;                  /* array */
    hsize_t adims[H5S3_H5_RANK_MAX];
};

static void describe(tdesc *d, hid_t t, int depth)
{
    hid_t sup;
    hsize_t bytes;
    int i;

    memset(d, 0, sizeof(*d));
    d->cls = H5Tget_class(t);
    d->size = H5Tget_size(t);
    if (depth > MAX_DEPTH) {
        d->cls = H5T_NO_CLASS;
        return;
    }
    switch (d->cls) {
    case H5T_INTEGER:
        d->sgn = H5Tget_sign(t) != H5T_SGN_NONE;
        break;
    case H5T_STRING:
        d->vlen_str = H5Tis_variable_str(t) > 0;
        break;
    case H5T_REFERENCE:
        d->region = H5Tequal(t, H5T_STD_REF_DSETREG) > 0;
        break;
    case H5T_COMPOUND:
        d->is_complex = h5s3_h5_type_is_complex(t);
        d->nmembers = H5Tget_nmembers(t);
        if (d->nmembers < 0) {
            d->nmembers = 0;
        }
        d->members = calloc((size_t)d->nmembers + 1, sizeof(tdesc));
        d->offsets = calloc((size_t)d->nmembers + 1, sizeof(size_t));
        for (i = 0; d->members && d->offsets && i < d->nmembers; i++) {
            hid_t m = H5Tget_member_type(t, (unsigned)i);

            d->offsets[i] = H5Tget_member_offset(t, (unsigned)i);
            if (m >= 0) {
                describe(&d->members[i], m, depth + 1);
                H5Tclose(m);
            }
            else {
                d->members[i].cls = H5T_NO_CLASS;
            }
        }
        if (!d->members || !d->offsets) {
            d->nmembers = 0;
        }
        break;
    case H5T_ENUM:
    case H5T_ARRAY:
    case H5T_VLEN:
        if (d->cls == H5T_ENUM) {
            d->is_bool = h5s3_h5_type_is_bool(t);
        }
        if (d->cls == H5T_ARRAY) {
            d->ndims = H5Tget_array_ndims(t);
            if (d->ndims < 0 || d->ndims > H5S3_H5_RANK_MAX
                || H5Tget_array_dims2(t, d->adims) < 0) {
                d->ndims = 0;
            }
        }
        sup = H5Tget_super(t);
        d->base = calloc(1, sizeof(tdesc));
        if (sup >= 0 && d->base) {
            describe(d->base, sup, depth + 1);
        }
        else if (d->base) {
            d->base->cls = H5T_NO_CLASS;
        }
        if (sup >= 0) {
            H5Tclose(sup);
        }
        /* HDF5 sizes an array type with an unchecked product of the dims
         * a file declares: never walk more than the element holds. */
        if (d->cls == H5T_ARRAY && d->ndims > 0
            && (!d->base || !h5s3_dims_product(&bytes, d->adims, d->ndims,
                                               d->base->size, d->size))) {
            d->ndims = 0;       /* written as null */
        }
        break;
    default:
        break;
    }
}

static void undescribe(tdesc *d)
{
    int i;

    for (i = 0; d->members && i < d->nmembers; i++) {
        undescribe(&d->members[i]);
    }
    free(d->members);
    free(d->offsets);
    if (d->base) {
        undescribe(d->base);
        free(d->base);
    }
}

static void put_int(h5s3_grove_buf *b, const unsigned char *ptr,
                    size_t size, int sgn)
{
    char s[H5S3_NUM_TEXT_MAX];
    apr_uint64_t v;

    if (!h5s3_grove_int_at(&v, ptr, size, sgn)) {
        h5s3_grove_buf_add(b, "null", 4);
        return;
    }
    h5s3_grove_buf_add(b, s, sgn ? h5s3_num_i64(s, (apr_int64_t)v)
                                 : h5s3_num_u64(s, v));
}

static void put_float_at(h5s3_grove_buf *b, const unsigned char *ptr,
                         size_t size)
{
    if (size == sizeof(float)) {
        float f;

        memcpy(&f, ptr, sizeof(f));
        h5s3_grove_put_float(b, f);
    }
    else if (size == sizeof(double)) {
        double d;

        memcpy(&d, ptr, sizeof(d));
        h5s3_grove_put_double(b, d);
    }
    else if (size == sizeof(long double)) {
        long double ld;

        memcpy(&ld, ptr, sizeof(ld));
        h5s3_grove_put_double(b, (double)ld);
    }
    else {
        h5s3_grove_buf_add(b, "null", 4);
    }
}

static void put_elem(h5s3_grove_buf *b, const tdesc *d,
                     const unsigned char *ptr, int inline_array);

/* COUNT elements of D from *PTR nested per DIMS, advancing *PTR. */
static void put_nested(h5s3_grove_buf *b, const tdesc *d,
                       const unsigned char **ptr, int rank,
                       const hsize_t *dims, int brackets)
{
    hsize_t i;

    if (rank == 0) {
        put_elem(b, d, *ptr, 0);
        *ptr += d->size;
        return;
    }
    if (brackets) {
        h5s3_grove_buf_add(b, "[", 1);
    }
    for (i = 0; i < dims[0] && !b->oom; i++) {
        if (i) {
            h5s3_grove_buf_add(b, ",", 1);
        }
        put_nested(b, d, ptr, rank - 1, dims + 1, 1);
    }
    if (brackets) {
        h5s3_grove_buf_add(b, "]", 1);
    }
}

/* Bytes without their trailing NULs: NumPy 'S' values lose them, and
 * np.void.tolist() is bytes, which lose them too. */
static void put_bytes(h5s3_grove_buf *b, const unsigned char *ptr,
                      size_t n)
{
    while (n > 0 && ptr[n - 1] == '\0') {
        n--;
    }
    h5s3_grove_put_string(b, (const char *)ptr, n);
}

static void put_enum(h5s3_grove_buf *b, const tdesc *d,
                     const unsigned char *ptr)
{
    apr_uint64_t v;

    if (!d->is_bool) {
        put_int(b, ptr, d->base->size, d->base->sgn);
        return;
    }
    h5s3_grove_int_at(&v, ptr, d->base->size, d->base->sgn);
    h5s3_grove_buf_puts(b, v ? "true" : "false");
}

/* A compound as a list of its members; a complex number as [re, im]. */
static void put_compound(h5s3_grove_buf *b, const tdesc *d,
                         const unsigned char *ptr)
{
    int i;

    h5s3_grove_buf_add(b, "[", 1);
    if (d->is_complex && d->nmembers == 2) {
        put_float_at(b, ptr + d->offsets[0], d->members[0].size);
        h5s3_grove_buf_add(b, ",", 1);
        put_float_at(b, ptr + d->offsets[1], d->members[1].size);
    }
    else {
        for (i = 0; i < d->nmembers; i++) {
            if (i) {
                h5s3_grove_buf_add(b, ",", 1);
            }
            put_elem(b, &d->members[i], ptr + d->offsets[i], 0);
        }
    }
    h5s3_grove_buf_add(b, "]", 1);
}

/* An array element nested per its dims, or INLINE: np.ravel, the
 * subarray's values joining the flat list (as many as describe() found
 * the element holds). */
static void put_array(h5s3_grove_buf *b, const tdesc *d,
                      const unsigned char *ptr, int inline_array)
{
    const unsigned char *q = ptr;
    hsize_t n = 0, k;

    if (d->ndims == 0 || !d->base) {
        h5s3_grove_buf_add(b, "null", 4);
        return;
    }
    if (!inline_array) {
        put_nested(b, d->base, &q, d->ndims, d->adims, 1);
        return;
    }
    h5s3_dims_product(&n, d->adims, d->ndims, 1, UINT64_MAX);
    for (k = 0; k < n; k++) {
        if (k) {
            h5s3_grove_buf_add(b, ",", 1);
        }
        put_elem(b, d->base, q, 0);
        q += d->base->size;
    }
}

static void put_vlen(h5s3_grove_buf *b, const tdesc *d,
                     const unsigned char *ptr)
{
    hvl_t v;
    const unsigned char *q;
    hsize_t n;

    memcpy(&v, ptr, sizeof(v));
    q = v.p;
    n = v.p ? (hsize_t)v.len : 0;
    if (!d->base) {
        h5s3_grove_buf_add(b, "null", 4);
        return;
    }
    put_nested(b, d->base, &q, 1, &n, 1);
}

/* References as h5py's str() of them. */
static void put_reference(h5s3_grove_buf *b, const tdesc *d,
                          const unsigned char *ptr)
{
    size_t k;

    for (k = 0; k < d->size && ptr[k] == 0; k++) {
    }
    h5s3_grove_buf_puts(b, d->region
        ? (k == d->size ? "\"<HDF5 region reference (null)>\""
                        : "\"<HDF5 region reference>\"")
        : (k == d->size ? "\"<HDF5 object reference (null)>\""
                        : "\"<HDF5 object reference>\""));
}

static void put_elem(h5s3_grove_buf *b, const tdesc *d,
                     const unsigned char *ptr, int inline_array)
{
    switch (d->cls) {
    case H5T_INTEGER:
        put_int(b, ptr, d->size, d->sgn);
        break;
    case H5T_BITFIELD:
        put_int(b, ptr, d->size, 0);
        break;
    case H5T_FLOAT:
        put_float_at(b, ptr, d->size);
        break;
    case H5T_ENUM:
        put_enum(b, d, ptr);
        break;
    case H5T_STRING:
        if (d->vlen_str) {
            const char *s;

            memcpy(&s, ptr, sizeof(s));
            h5s3_grove_put_string(b, s ? s : "", s ? strlen(s) : 0);
        }
        else {
            put_bytes(b, ptr, d->size);
        }
        break;
    case H5T_OPAQUE:
        put_bytes(b, ptr, d->size);
        break;
    case H5T_COMPOUND:
        put_compound(b, d, ptr);
        break;
    case H5T_ARRAY:
        put_array(b, d, ptr, inline_array);
        break;
    case H5T_VLEN:
        put_vlen(b, d, ptr);
        break;
    case H5T_REFERENCE:
        put_reference(b, d, ptr);
        break;
    default:
        h5s3_grove_buf_add(b, "null", 4);
        break;
    }
}

void h5s3_grove_values_json(h5s3_grove_buf *b, hid_t mt, const void *buf,
                            int rank, const hsize_t *dims, int flat_arrays)
{
    tdesc d;
    const unsigned char *ptr = buf;
    hsize_t i, n = 1;

    describe(&d, mt, 0);
    if (!h5s3_dims_product(&n, dims, rank, 1, UINT64_MAX)) {
        /* The callers' counts are checked: this only guards the API. */
        h5s3_grove_buf_add(b, "null", 4);
        undescribe(&d);
        return;
    }
    if (flat_arrays && d.cls == H5T_ARRAY && rank <= 1) {
        /* np.ravel of h5py's result: subarray values inline. */
        h5s3_grove_buf_add(b, "[", 1);
        for (i = 0; i < n && !b->oom; i++) {
            if (i) {
                h5s3_grove_buf_add(b, ",", 1);
            }
            put_elem(b, &d, ptr, 1);
            ptr += d.size;
        }
        h5s3_grove_buf_add(b, "]", 1);
    }
    else if (n > 0 && buf == NULL) {
        h5s3_grove_buf_add(b, "null", 4);
    }
    else {
        put_nested(b, &d, &ptr, rank, dims, 1);
    }
    undescribe(&d);
}

/* ---- npy -------------------------------------------------------------- */

void h5s3_grove_npy_header(h5s3_grove_buf *b, const char *descr, int rank,
                           const hsize_t *dims)
{
    char shape[64 * H5S3_H5_RANK_MAX + 8], hdr[sizeof(shape) + 128];
    size_t n = 0, total;
    unsigned short hlen;
    int i;

    shape[n++] = '(';
    for (i = 0; i < rank; i++) {
        n += (size_t)snprintf(shape + n, sizeof(shape) - n, "%s%llu",
                              i ? ", " : "", (unsigned long long)dims[i]);
    }
    if (rank == 1) {
        shape[n++] = ',';
    }
    shape[n++] = ')';
    shape[n] = '\0';
    n = (size_t)snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order'"
                         ": False, 'shape': %s, }", descr, shape);
    /* Magic, version, length, dict, spaces, '\n': a multiple of 64. */
    total = 10 + n + 1;
    total = (total + 63) / 64 * 64;
    hlen = (unsigned short)(total - 10);
    h5s3_grove_buf_add(b, "\x93NUMPY\x01\x00", 8);
    {
        unsigned char le[2] = {(unsigned char)(hlen & 0xff),
                               (unsigned char)(hlen >> 8)};

        h5s3_grove_buf_add(b, le, 2);
    }
    h5s3_grove_buf_add(b, hdr, n);
    while (n + 1 < hlen) {
        h5s3_grove_buf_add(b, " ", 1);
        n++;
    }
    h5s3_grove_buf_add(b, "\n", 1);
}

/* ---- csv -------------------------------------------------------------- */

/* Python's '%.18e' % v. */
static void put_e18(h5s3_grove_buf *b, double v)
{
    char s[48];

    if (isnan(v)) {
        h5s3_grove_buf_add(b, "nan", 3);
        return;
    }
    if (isinf(v)) {
        h5s3_grove_buf_puts(b, v > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(s, sizeof(s), "%.18e", v);
    h5s3_grove_buf_puts(b, s);
}

void h5s3_grove_csv(h5s3_grove_buf *b, const double *re, const double *im,
                    int rank, const hsize_t *dims)
{
    hsize_t rows = rank >= 1 ? dims[0] : 0;
    hsize_t cols = rank == 2 ? dims[1] : 1;
    hsize_t i, j, k = 0;

    for (i = 0; i < rows && !b->oom; i++) {
        for (j = 0; j < cols; j++, k++) {
            if (j) {
                h5s3_grove_buf_add(b, ",", 1);
            }
            if (im) {
                h5s3_grove_buf_add(b, " (", 2);
                put_e18(b, re[k]);
                h5s3_grove_buf_add(b, "+", 1);
                put_e18(b, im[k]);
                h5s3_grove_buf_add(b, "j)", 2);
            }
            else {
                put_e18(b, re[k]);
            }
        }
        h5s3_grove_buf_add(b, "\n", 1);
    }
}

/* ---- tiff ------------------------------------------------------------- */

static void le16(h5s3_grove_buf *b, unsigned v)
{
    unsigned char x[2] = {(unsigned char)(v & 0xff),
                          (unsigned char)((v >> 8) & 0xff)};

    h5s3_grove_buf_add(b, x, 2);
}

static void le32(h5s3_grove_buf *b, apr_uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v & 0xff),
                          (unsigned char)((v >> 8) & 0xff),
                          (unsigned char)((v >> 16) & 0xff),
                          (unsigned char)((v >> 24) & 0xff)};

    h5s3_grove_buf_add(b, x, 4);
}

/* One IFD entry: SHORT (3) or LONG (4), one value. */
static void entry(h5s3_grove_buf *b, unsigned tag, unsigned type,
                  apr_uint32_t v)
{
    le16(b, tag);
    le16(b, type);
    le32(b, 1);
    if (type == 3) {
        le16(b, v);
        le16(b, 0);
    }
    else {
        le32(b, v);
    }
}

void h5s3_grove_tiff_header(h5s3_grove_buf *b, char kind, int size,
                            hsize_t rows, hsize_t cols)
{
    const unsigned n = 10;
    const apr_uint32_t data = 8 + 2 + n * 12 + 4 + 2;   /* 8-aligned */
    apr_uint32_t bytes = (apr_uint32_t)(rows * cols * (hsize_t)size);

    h5s3_grove_buf_add(b, "II*\0", 4);
    le32(b, 8);
    le16(b, n);
    entry(b, 256, 4, (apr_uint32_t)cols);       /* ImageWidth */
    entry(b, 257, 4, (apr_uint32_t)rows);       /* ImageLength */
    entry(b, 258, 3, (apr_uint32_t)size * 8);   /* BitsPerSample */
    entry(b, 259, 3, 1);                        /* no compression */
    entry(b, 262, 3, 1);                        /* minisblack */
    entry(b, 273, 4, data);                     /* StripOffsets */
    entry(b, 277, 3, 1);                        /* SamplesPerPixel */
    entry(b, 278, 4, (apr_uint32_t)rows);       /* RowsPerStrip */
    entry(b, 279, 4, bytes);                    /* StripByteCounts */
    entry(b, 339, 3, kind == 'f' ? 3 : kind == 'i' ? 2 : 1);
    le32(b, 0);                                 /* no next IFD */
    le16(b, 0);                                 /* pad to DATA */
}
