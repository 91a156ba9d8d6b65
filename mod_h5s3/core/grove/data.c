/*
 * h5grove's /data/ and /stats/: a selection read as one strided
 * hyperslab (chunks prefetched concurrently by h5s3_h5_read), converted
 * the way h5grove's dtype=safe converts (float16 -> <f4, float128 ->
 * <f8, big-endian -> little-endian) by HDF5 itself while reading, then
 * encoded.  Statistics stream the selection in bounded blocks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "hdf5/h5s3_h5_filters.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_types.h"

typedef enum {
    GK_INT, GK_FLOAT, GK_BOOL, GK_COMPLEX, GK_ENUM, GK_BITFIELD, GK_OTHER
} gkind;

static gkind kind_of(hid_t t)
{
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        return GK_INT;
    case H5T_FLOAT:
        return GK_FLOAT;
    case H5T_BITFIELD:
        return GK_BITFIELD;
    case H5T_ENUM:
        return h5s3_h5_type_is_bool(t) ? GK_BOOL : GK_ENUM;
    case H5T_COMPOUND:
        return h5s3_h5_type_is_complex(t) ? GK_COMPLEX : GK_OTHER;
    default:
        return GK_OTHER;
    }
}

int h5s3_grove_bool_arg(const char *raw, int fallback)
{
    if (raw == NULL) {
        return fallback;
    }
    return strcasecmp(raw, "false") != 0;
}

static const char *base_name(const char *file)
{
    const char *s = strrchr(file, '/');

    return s ? s + 1 : file;
}

/* Open PATH as a dataset, with h5grove's messages. */
static apr_status_t open_dset(h5s3_h5_dset **d, const char **err, hid_t fid,
                              struct h5s3_h5_file *f, const char *file,
                              const char *path, apr_pool_t *p)
{
    const char *derr = NULL;
    apr_status_t rv = h5s3_h5_dset_open(d, &derr, fid, f, path, p);

    if (rv == H5S3_E_NOPATH) {
        *err = apr_psprintf(p, "%s is not a valid path in %s", path,
                            base_name(file));
    }
    else if (rv == H5S3_E_INVALID) {
        *err = apr_psprintf(p, "%s is not a dataset", path);
    }
    else if (rv != APR_SUCCESS && derr) {
        *err = derr;            /* external storage, a corrupt shape... */
    }
    return rv;
}

/* The filters a dataset needs must be available (h5s3_h5_dset_readable
 * refuses opaque data, which /data/?format=bin serves). */
static apr_status_t filters_ok(const h5s3_h5_dset *d, const char **err,
                               apr_pool_t *p)
{
    hid_t dcpl = H5Dget_create_plist(d->did);
    int i, n = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
    apr_status_t rv = APR_SUCCESS;

    for (i = 0; i < n; i++) {
        unsigned flags = 0, cd[32];
        size_t ncd = 32;
        char name[256] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd,
                                         cd, sizeof(name), name, NULL);

        if (id >= 0 && H5Zfilter_avail(id) <= 0) {
            *err = apr_psprintf(p, "Dataset %s is compressed with the '%s' "
                                "filter (id %d), which is not available on "
                                "this server", d->path,
                                h5s3_h5_filter_name(id, name, p), (int)id);
            rv = H5S3_E_UNSUPPORTED;
            break;
        }
    }
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    if (rv == APR_SUCCESS && d->layout == H5D_CHUNKED) {
        hsize_t bytes = 0;

        /* Checked: 32-bit chunk dims wrap a 64-bit product. */
        for (i = 0; i < d->ndim; i++) {
            if (d->chunk[i] == 0) {
                rv = H5S3_E_UNSUPPORTED;
            }
        }
        if (rv != APR_SUCCESS
            || !h5s3_dims_product(&bytes, d->chunk, d->ndim,
                                  H5Tget_size(d->ftype),
                                  H5S3_H5_MAX_CHUNK_BYTES)) {
            *err = apr_psprintf(p, "Dataset %s has chunks larger than this "
                                "server decodes", d->path);
            rv = H5S3_E_UNSUPPORTED;
        }
    }
    return rv;
}

/* Read SEL of D with memory type MT into *buf (freed with the pool). */
typedef struct read_t {
    h5s3_h5_dset dc;
    void *buf;
    hsize_t n;
} read_t;

static apr_status_t read_cleanup(void *data)
{
    read_t *r = data;

    h5s3_h5_buf_free(&r->dc, r->buf, r->n);
    if (r->dc.mtype >= 0) {
        H5Tclose(r->dc.mtype);
    }
    return APR_SUCCESS;
}

static apr_status_t read_sel(read_t **out, const h5s3_h5_dset *d, hid_t mt,
                             const hsize_t *start, const hsize_t *stride,
                             const hsize_t *count, hsize_t n, apr_pool_t *p)
{
    read_t *r = apr_pcalloc(p, sizeof(*r));

    r->dc = *d;
    r->dc.mtype = mt;           /* ours: closed by read_cleanup */
    r->dc.msize = H5Tget_size(mt);
    apr_pool_cleanup_register(p, r, read_cleanup, apr_pool_cleanup_null);
    *out = r;
    if (d->empty_space || n == 0) {
        return APR_SUCCESS;
    }
    r->n = n;
    return h5s3_h5_read(&r->buf, &r->dc, start, stride, count);
}

/* ---- numbers out of native buffers ---------------------------------- */

static double num_at(const unsigned char *ptr, H5T_class_t cls, size_t size,
                     int sgn)
{
    if (cls == H5T_FLOAT) {
        if (size == sizeof(float)) {
            float f;
            memcpy(&f, ptr, sizeof(f));
            return f;
        }
        if (size == sizeof(double)) {
            double v;
            memcpy(&v, ptr, sizeof(v));
            return v;
        }
        if (size == sizeof(long double)) {
            long double v;
            memcpy(&v, ptr, sizeof(v));
            return (double)v;
        }
        return NAN;
    }
    switch (size) {
    case 1:
        return sgn ? (double)*(const signed char *)ptr : (double)*ptr;
    case 2: {
        short s;
        unsigned short u;
        memcpy(&s, ptr, 2);
        memcpy(&u, ptr, 2);
        return sgn ? s : u;
    }
    case 4: {
        int s;
        unsigned int u;
        memcpy(&s, ptr, 4);
        memcpy(&u, ptr, 4);
        return sgn ? s : (double)u;
    }
    case 8: {
        long long s;
        unsigned long long u;
        memcpy(&s, ptr, 8);
        memcpy(&u, ptr, 8);
        return sgn ? (double)s : (double)u;
    }
    default:
        return NAN;
    }
}

/* What the numeric values of a native memory type look like. */
typedef struct numfmt {
    H5T_class_t cls;            /* of the scalar: INTEGER or FLOAT */
    size_t size;
    int sgn;
    int is_bool;
    int complex_;
    size_t off_im;
} numfmt;

static void numfmt_of(numfmt *nf, hid_t mt)
{
    hid_t s;

    memset(nf, 0, sizeof(*nf));
    nf->cls = H5Tget_class(mt);
    nf->size = H5Tget_size(mt);
    if (nf->cls == H5T_INTEGER) {
        nf->sgn = H5Tget_sign(mt) != H5T_SGN_NONE;
    }
    else if (nf->cls == H5T_BITFIELD) {
        nf->cls = H5T_INTEGER;
    }
    else if (nf->cls == H5T_ENUM) {
        nf->is_bool = h5s3_h5_type_is_bool(mt);
        s = H5Tget_super(mt);
        nf->cls = H5T_INTEGER;
        nf->sgn = s >= 0 && H5Tget_sign(s) != H5T_SGN_NONE;
        if (s >= 0) {
            H5Tclose(s);
        }
    }
    else if (nf->cls == H5T_COMPOUND) {
        s = H5Tget_member_type(mt, 0);
        nf->complex_ = 1;
        nf->cls = H5T_FLOAT;
        nf->off_im = H5Tget_member_offset(mt, 1);
        nf->size = s >= 0 ? H5Tget_size(s) : 0;
        if (s >= 0) {
            H5Tclose(s);
        }
    }
}

static void to_doubles(double *re, double *im, const numfmt *nf,
                       size_t esize, const void *buf, hsize_t n)
{
    const unsigned char *ptr = buf;
    hsize_t i;

    for (i = 0; i < n; i++, ptr += esize) {
        re[i] = num_at(ptr, nf->cls, nf->size, nf->sgn);
        if (nf->is_bool) {
            re[i] = re[i] != 0;
        }
        if (im) {
            im[i] = num_at(ptr + nf->off_im, nf->cls, nf->size, nf->sgn);
        }
    }
}

/* ---- /data/ ------------------------------------------------------------ */

static char order_char(hid_t t)
{
    return H5Tget_order(t) == H5T_ORDER_BE ? '>' : '<';
}

/*
 * The memory type of the binary encodings and its NumPy descr: the file
 * type itself for dtype=origin (exact bytes, order kept), h5grove's
 * _sanitize_dtype for dtype=safe.
 */
static hid_t binary_type(const char **descr, char *nkind, int *nsize,
                         hid_t ft, gkind k, int safe, int scalar,
                         apr_pool_t *p)
{
    hid_t mt = -1, s;
    size_t size = H5Tget_size(ft);
    char order = order_char(ft), kind = 'u';

    switch (k) {
    case GK_INT:
    case GK_BITFIELD:
        kind = (k == GK_INT && H5Tget_sign(ft) != H5T_SGN_NONE) ? 'i' : 'u';
        mt = H5Tcopy(ft);
        if (safe) {
            H5Tset_order(mt, H5T_ORDER_LE);
            order = '<';
        }
        break;
    case GK_ENUM:
        s = H5Tget_super(ft);
        kind = s >= 0 && H5Tget_sign(s) != H5T_SGN_NONE ? 'i' : 'u';
        if (s >= 0) {
            order = order_char(s);
            H5Tclose(s);
        }
        mt = safe ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : H5Tcopy(ft);
        if (safe) {
            order = '<';
        }
        break;
    case GK_BOOL:
        mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        *descr = "|b1";
        *nkind = 'u';
        *nsize = 1;
        return mt;
    case GK_FLOAT:
        kind = 'f';
        if (safe && size < 4) {
            mt = H5Tcopy(H5T_IEEE_F32LE);
            size = 4;
        }
        else if (safe && size > 8) {
            mt = H5Tcopy(H5T_IEEE_F64LE);
            size = 8;
        }
        else {
            mt = H5Tcopy(ft);
            if (safe) {
                H5Tset_order(mt, H5T_ORDER_LE);
            }
        }
        if (safe) {
            order = '<';
        }
        break;
    case GK_COMPLEX:
        kind = 'c';
        s = H5Tget_member_type(ft, 0);
        if (s >= 0) {
            order = order_char(s);
            H5Tclose(s);
        }
        mt = safe ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : H5Tcopy(ft);
        if (safe) {
            order = '<';
        }
        size = mt >= 0 ? H5Tget_size(mt) : size;
        break;
    default:
        /* opaque, fixed strings: their bytes as they are */
        *descr = apr_psprintf(p, "|V%lu", (unsigned long)size);
        *nkind = 'V';
        *nsize = (int)size;
        return H5Tcopy(ft);
    }
    if (scalar && !safe && order == '>') {
        /* NumPy scalars are native: h5py's d[()] of a big-endian scalar
         * (or an all-int selection) is little-endian here. */
        if (k == GK_COMPLEX || k == GK_ENUM) {
            H5Tclose(mt);
            mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        }
        else {
            H5Tset_order(mt, H5T_ORDER_LE);
        }
        order = '<';
    }
    if (size == 1) {
        order = '|';
    }
    *descr = apr_psprintf(p, "%c%c%lu", order, kind, (unsigned long)size);
    *nkind = kind;
    *nsize = (int)size;
    return mt;
}

apr_status_t h5s3_grove_data(h5s3_grove_payload *out, const char **err,
                             hid_t fid, struct h5s3_h5_file *f,
                             const char *file_name, const char *path,
                             const h5s3_grove_data_opts *o, apr_pool_t *p)
{
    h5s3_h5_dset *d;
    h5s3_grove_sel sel;
    gkind k;
    const char *fmt = o->format ? o->format : "json";
    const char *dtype = o->dtype ? o->dtype : "origin";
    const char *descr = NULL;
    char nkind = 0;
    int nsize = 0, safe = 0, numeric, rank, flat = 0;
    int is_json, is_bin, is_npy, is_csv, is_tiff;
    hsize_t dims[H5S3_H5_RANK_MAX], nelem;
    H5T_class_t cls;
    hid_t mt;
    read_t *r;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    out->head = h5s3_grove_buf_make(p);
    if (path == NULL) {
        path = "/";
    }
    rv = open_dset(&d, err, fid, f, file_name, path, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    k = kind_of(d->ftype);
    cls = H5Tget_class(d->ftype);
    numeric = k != GK_OTHER && !d->empty_space;

    /* get_dataset_slice, then convert (dtype), then encode (format). */
    rv = h5s3_grove_sel_parse(&sel, err, o->selection, d->ndim, d->shape, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(dtype, "safe") == 0) {
        if (!numeric) {
            *err = "Unsupported dtype safe for non-numeric data";
            return H5S3_E_INVALID;
        }
        safe = 1;
    }
    else if (strcmp(dtype, "origin") != 0) {
        *err = apr_psprintf(p, "Unsupported dtype %s", dtype);
        return H5S3_E_INVALID;
    }
    rank = d->empty_space ? 0 : sel.out_ndim;
    memcpy(dims, sel.out_dims, sizeof(dims));
    nelem = d->empty_space ? 0 : sel.nelem;
    if (o->flatten && rank >= 1) {
        flat = 1;
        rank = 1;
        dims[0] = nelem;
    }
    is_json = strcmp(fmt, "json") == 0;
    is_bin = strcmp(fmt, "bin") == 0;
    is_npy = strcmp(fmt, "npy") == 0;
    is_csv = strcmp(fmt, "csv") == 0;
    is_tiff = strcmp(fmt, "tiff") == 0;
    if (!is_json && !is_bin) {
        if (!numeric) {
            *err = apr_psprintf(p, "Unsupported encoding %s for non-numeric "
                                "content", fmt);
            return H5S3_E_INVALID;
        }
        if (!is_npy && rank == 0) {
            *err = apr_psprintf(p, "Unsupported encoding %s for empty and "
                                "scalar datasets", fmt);
            return H5S3_E_INVALID;
        }
        if (!is_npy && !is_csv && !is_tiff) {
            *err = apr_psprintf(p, "Unsupported encoding %s", fmt);
            return H5S3_E_INVALID;
        }
        if (is_csv && rank > 2) {
            *err = "Unsupported encoding csv for data of more than 2 "
                   "dimensions";
            return H5S3_E_INVALID;
        }
        if (is_tiff && (rank != 2 || k == GK_COMPLEX)) {
            *err = k == GK_COMPLEX ? "Unsupported encoding tiff for complex "
                                     "data"
                                   : "Unsupported encoding tiff for data "
                                     "that is not 2-D";
            return H5S3_E_INVALID;
        }
    }
    if (is_bin && !numeric && !d->empty_space && cls != H5T_OPAQUE
        && !(cls == H5T_STRING && H5Tis_variable_str(d->ftype) <= 0)) {
        *err = apr_psprintf(p, "Unsupported encoding bin for %s data",
                            d->dtype);
        return H5S3_E_INVALID;
    }
    rv = filters_ok(d, err, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((is_json || is_csv) && nelem > H5S3_GROVE_MAX_ELEMENTS) {
        *err = apr_psprintf(p, "The selection has %" APR_UINT64_T_FMT
                            " elements, more than the %d this server "
                            "encodes as %s: ask for a smaller selection",
                            (apr_uint64_t)nelem, H5S3_GROVE_MAX_ELEMENTS,
                            fmt);
        return H5S3_E_TOOLARGE;
    }

    if (is_json || is_csv) {
        mt = h5s3_h5_mem_type(d->ftype);
    }
    else {
        mt = binary_type(&descr, &nkind, &nsize, d->ftype, k,
                         safe || is_tiff, rank == 0, p);
    }
    if (mt < 0) {
        *err = apr_psprintf(p, "Dataset %s has a type this server cannot "
                            "read", path);
        return H5S3_E_UNSUPPORTED;
    }
    if (!is_json && !is_csv
        && (double)nelem * (double)H5Tget_size(mt) > H5S3_GROVE_MAX_BYTES) {
        /* (nelem is exact: h5s3_grove_sel_parse checked the product) */
        *err = apr_psprintf(p, "The selection takes %.0f bytes, more than "
                            "the %d this server sends at once: ask for a "
                            "smaller selection", (double)nelem
                            * (double)H5Tget_size(mt), H5S3_GROVE_MAX_BYTES);
        H5Tclose(mt);
        return H5S3_E_TOOLARGE;
    }
    rv = read_sel(&r, d, mt, sel.start, sel.stride, sel.count, nelem, p);
    if (rv == H5S3_E_TOOLARGE) {
        *err = "The selection is larger than this server reads at once";
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }

    if (is_json) {
        out->ctype = "application/json";
        if (d->empty_space) {
            h5s3_grove_buf_add(out->head, "null", 4);
        }
        else {
            h5s3_grove_values_json(out->head, mt, r->buf, rank, dims, flat);
        }
    }
    else if (is_csv) {
        numfmt nf;
        double *re = NULL, *im = NULL;
        apr_size_t nb = (apr_size_t)(nelem ? nelem : 1) * sizeof(double);

        /* nelem is at most H5S3_GROVE_MAX_ELEMENTS here. */
        rv = h5s3_h5_mem_alloc((void **)&re, nb, 0);
        if (rv == APR_SUCCESS && k == GK_COMPLEX) {
            rv = h5s3_h5_mem_alloc((void **)&im, nb, 0);
        }
        if (rv != APR_SUCCESS) {
            h5s3_h5_mem_free(re);
            return rv;
        }
        numfmt_of(&nf, mt);
        to_doubles(re, im, &nf, H5Tget_size(mt), r->buf, nelem);
        h5s3_grove_csv(out->head, re, im, rank, dims);
        h5s3_h5_mem_free(re);
        h5s3_h5_mem_free(im);
        out->ctype = "text/csv";
        out->disposition = "attachment; filename=\"data.csv\"";
    }
    else {
        size_t esize = H5Tget_size(mt);
        unsigned char *raw = r->buf;

        if (k == GK_BOOL && esize != 1 && raw) {
            /* NumPy bools are one byte: squeeze wider enum bases. */
            hsize_t i;
            numfmt nf;

            numfmt_of(&nf, mt);
            for (i = 0; i < nelem; i++) {
                raw[i] = num_at(raw + i * esize, H5T_INTEGER, esize,
                                nf.sgn) != 0;
            }
            esize = 1;
        }
        out->raw = raw;
        out->raw_len = (apr_size_t)(nelem * esize);
        out->ctype = is_tiff ? "image/tiff" : "application/octet-stream";
        if (is_npy) {
            h5s3_grove_npy_header(out->head, descr, rank, dims);
            out->disposition = "attachment; filename=\"data.npy\"";
        }
        else if (is_tiff) {
            h5s3_grove_tiff_header(out->head, nkind, nsize, dims[0],
                                   dims[1]);
            out->disposition = "attachment; filename=\"data.tiff\"";
        }
    }
    return out->head->oom ? APR_ENOMEM : APR_SUCCESS;
}

/* ---- /stats/ ----------------------------------------------------------- */

typedef struct acc_t {
    int is_float;
    int exact;                  /* 64-bit integers kept exact */
    int sgn;
    apr_uint64_t n;
    long double mean, m2;
    double fmin, fmax, fspos, fpos;
    long long imin, imax, ispos, ipos;
    unsigned long long umin, umax, uspos, upos;
    int has_spos, has_pos;
} acc_t;

static void acc_welford(acc_t *a, long double x)
{
    long double delta = x - a->mean;

    a->n++;
    a->mean += delta / (long double)a->n;
    a->m2 += delta * (x - a->mean);
}

static void acc_double(acc_t *a, double v)
{
    if (!isfinite(v)) {
        return;
    }
    if (a->n == 0 || v < a->fmin) {
        a->fmin = v;
    }
    if (a->n == 0 || v > a->fmax) {
        a->fmax = v;
    }
    if (v > 0 && (!a->has_spos || v < a->fspos)) {
        a->fspos = v;
        a->has_spos = 1;
    }
    if (v >= 0 && (!a->has_pos || v < a->fpos)) {
        a->fpos = v;
        a->has_pos = 1;
    }
    acc_welford(a, v);
}

static void acc_ll(acc_t *a, long long v)
{
    if (a->n == 0 || v < a->imin) {
        a->imin = v;
    }
    if (a->n == 0 || v > a->imax) {
        a->imax = v;
    }
    if (v > 0 && (!a->has_spos || v < a->ispos)) {
        a->ispos = v;
        a->has_spos = 1;
    }
    if (v >= 0 && (!a->has_pos || v < a->ipos)) {
        a->ipos = v;
        a->has_pos = 1;
    }
    acc_welford(a, (long double)v);
}

static void acc_ull(acc_t *a, unsigned long long v)
{
    if (a->n == 0 || v < a->umin) {
        a->umin = v;
    }
    if (a->n == 0 || v > a->umax) {
        a->umax = v;
    }
    if (v > 0 && (!a->has_spos || v < a->uspos)) {
        a->uspos = v;
        a->has_spos = 1;
    }
    if (!a->has_pos || v < a->upos) {
        a->upos = v;
        a->has_pos = 1;
    }
    acc_welford(a, (long double)v);
}

static void put_ll(h5s3_grove_buf *b, long long v)
{
    char s[32];

    snprintf(s, sizeof(s), "%lld", v);
    h5s3_grove_buf_puts(b, s);
}

static void put_ull(h5s3_grove_buf *b, unsigned long long v)
{
    char s[32];

    snprintf(s, sizeof(s), "%llu", v);
    h5s3_grove_buf_puts(b, s);
}

/* Python int() of a float: truncation toward zero. */
static void put_trunc(h5s3_grove_buf *b, long double v)
{
    char s[64];

    snprintf(s, sizeof(s), "%.0Lf", truncl(v));
    h5s3_grove_buf_puts(b, strcmp(s, "-0") == 0 ? "0" : s);
}

/* One statistic in the data's own type: float, unsigned or signed. */
static void put_stat(h5s3_grove_buf *b, const acc_t *a, double f,
                     unsigned long long u, long long i)
{
    if (a->is_float)
        h5s3_grove_put_double(b, f);
    else if (a->exact && !a->sgn)
        put_ull(b, u);
    else
        put_ll(b, i);
}

static void stats_json(h5s3_grove_buf *b, const acc_t *a)
{
    long double std = a->n ? sqrtl(a->m2 / (long double)a->n) : 0;

    if (a->n == 0) {
        h5s3_grove_buf_puts(b, "{\"strict_positive_min\":null,"
                            "\"positive_min\":null,\"min\":null,"
                            "\"max\":null,\"mean\":null,\"std\":null}");
        return;
    }
    h5s3_grove_buf_puts(b, "{\"strict_positive_min\":");
    if (a->has_spos)
        put_stat(b, a, a->fspos, a->uspos, a->ispos);
    else
        h5s3_grove_buf_puts(b, "null");
    h5s3_grove_buf_puts(b, ",\"positive_min\":");
    if (a->has_pos)
        put_stat(b, a, a->fpos, a->upos, a->ipos);
    else
        h5s3_grove_buf_puts(b, "null");
    h5s3_grove_buf_puts(b, ",\"min\":");
    put_stat(b, a, a->fmin, a->umin, a->imin);
    h5s3_grove_buf_puts(b, ",\"max\":");
    put_stat(b, a, a->fmax, a->umax, a->imax);
    h5s3_grove_buf_puts(b, ",\"mean\":");
    if (a->is_float) {
        h5s3_grove_put_double(b, (double)a->mean);
        h5s3_grove_buf_puts(b, ",\"std\":");
        h5s3_grove_put_double(b, (double)std);
    }
    else {
        /* h5grove casts every statistic of non-float data with int(). */
        put_trunc(b, a->mean);
        h5s3_grove_buf_puts(b, ",\"std\":");
        put_trunc(b, std);
    }
    h5s3_grove_buf_puts(b, "}");
}

apr_status_t h5s3_grove_stats(char **json, const char **err, hid_t fid,
                              struct h5s3_h5_file *f, const char *file_name,
                              const char *path, const char *selection,
                              apr_pool_t *p)
{
    h5s3_h5_dset *d;
    h5s3_grove_sel sel;
    gkind k;
    acc_t a;
    h5s3_grove_buf *b;
    hsize_t bstart[H5S3_H5_RANK_MAX], bcount[H5S3_H5_RANK_MAX];
    hsize_t idx[H5S3_H5_RANK_MAX], inner = 1, step, j;
    int split, i, nd;
    numfmt nf;
    apr_status_t rv;

    if (path == NULL) {
        path = "/";
    }
    rv = open_dset(&d, err, fid, f, file_name, path, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    k = kind_of(d->ftype);
    if (k == GK_OTHER || k == GK_COMPLEX) {
        *err = apr_psprintf(p, "Unsupported statistics for %s data",
                            d->dtype);
        return H5S3_E_INVALID;
    }
    memset(&a, 0, sizeof(a));
    a.is_float = k == GK_FLOAT;
    b = h5s3_grove_buf_make(p);
    if (d->empty_space) {
        stats_json(b, &a);
        *json = apr_pstrmemdup(p, b->data, b->len);
        return APR_SUCCESS;
    }
    rv = h5s3_grove_sel_parse(&sel, err, selection, d->ndim, d->shape, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = filters_ok(d, err, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (sel.nelem > H5S3_GROVE_STATS_MAX_ELEMENTS) {
        *err = apr_psprintf(p, "The selection has %" APR_UINT64_T_FMT
                            " elements, more than the %d this server "
                            "computes statistics over: ask for a smaller "
                            "selection", (apr_uint64_t)sel.nelem,
                            H5S3_GROVE_STATS_MAX_ELEMENTS);
        return H5S3_E_TOOLARGE;
    }
    if (k == GK_INT && H5Tget_size(d->ftype) == 8) {
        a.exact = 1;
    }
    a.sgn = k == GK_INT && H5Tget_sign(d->ftype) != H5T_SGN_NONE;

    /* Blocks: every index of the dims before SPLIT, STEP indices of SPLIT
     * at a time, the dims after it whole. */
    nd = d->ndim;
    split = 0;
    for (i = 0; i < nd; i++) {
        /* At most nelem (checked), or 0 with a count of 0. */
        if (!h5s3_dims_product(&inner, sel.count + i + 1, nd - i - 1, 1,
                               UINT64_MAX)) {
            return H5S3_E_TOOLARGE;
        }
        split = i;
        if (inner <= H5S3_GROVE_STATS_BLOCK) {
            break;
        }
    }
    step = inner ? H5S3_GROVE_STATS_BLOCK / inner : 1;
    if (step < 1) {
        step = 1;
    }
    for (i = 0; i < nd; i++) {
        idx[i] = 0;
        bstart[i] = sel.start[i];
        bcount[i] = sel.count[i];
    }
    if (sel.nelem == 0) {
        stats_json(b, &a);
        *json = apr_pstrmemdup(p, b->data, b->len);
        return APR_SUCCESS;
    }
    for (;;) {
        hsize_t total = nd > 0 ? sel.count[split] : 1;

        for (i = 0; i < split; i++) {
            bstart[i] = sel.start[i] + idx[i] * sel.stride[i];
            bcount[i] = 1;
        }
        for (j = 0; j < total; j += step) {
            hid_t mt;
            read_t *r;
            hsize_t n = 1, e;
            apr_pool_t *sub;

            if (nd > 0) {
                bstart[split] = sel.start[split] + j * sel.stride[split];
                bcount[split] = total - j < step ? total - j : step;
                for (i = 0; i < nd; i++) {
                    n *= bcount[i];
                }
            }
            if (k == GK_INT && a.exact) {
                mt = H5Tcopy(a.sgn ? H5T_NATIVE_LLONG : H5T_NATIVE_ULLONG);
            }
            else if (k == GK_FLOAT) {
                mt = H5Tcopy(H5T_NATIVE_DOUBLE);
            }
            else if (k == GK_BITFIELD) {
                mt = H5Tcopy(d->ftype);
                H5Tset_order(mt, H5T_ORDER_LE);
            }
            else {
                mt = H5Tget_native_type(d->ftype, H5T_DIR_ASCEND);
            }
            if (mt < 0) {
                return H5S3_E_UNSUPPORTED;
            }
            apr_pool_create(&sub, p);
            rv = read_sel(&r, d, mt, bstart, sel.stride, bcount, n, sub);
            if (rv != APR_SUCCESS) {
                apr_pool_destroy(sub);
                return rv;
            }
            numfmt_of(&nf, mt);
            for (e = 0; e < n && r->buf; e++) {
                const unsigned char *ptr = (const unsigned char *)r->buf
                                           + e * r->dc.msize;

                if (a.exact && a.sgn) {
                    long long v;
                    memcpy(&v, ptr, 8);
                    acc_ll(&a, v);
                }
                else if (a.exact) {
                    unsigned long long v;
                    memcpy(&v, ptr, 8);
                    acc_ull(&a, v);
                }
                else if (a.is_float) {
                    double v;
                    memcpy(&v, ptr, 8);
                    acc_double(&a, v);
                }
                else {
                    double v = num_at(ptr, H5T_INTEGER, nf.size, nf.sgn);
                    acc_ll(&a, (long long)(nf.is_bool ? v != 0 : v));
                }
            }
            apr_pool_destroy(sub);
            if (nd == 0) {
                break;
            }
        }
        for (i = split - 1; i >= 0; i--) {
            if (++idx[i] < sel.count[i]) {
                break;
            }
            idx[i] = 0;
        }
        if (i < 0) {
            break;
        }
    }
    stats_json(b, &a);
    if (b->oom) {
        return APR_ENOMEM;
    }
    *json = apr_pstrmemdup(p, b->data, b->len);
    return APR_SUCCESS;
}
