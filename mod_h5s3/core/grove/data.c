/*
 * h5grove's /data/: a selection read as one strided hyperslab, converted
 * the way h5grove's dtype=safe converts (float16 -> <f4, float128 ->
 * <f8, big-endian -> little-endian) by HDF5 itself while reading, then
 * written by the encoding asked for (json, csv, bin, npy, tiff), each a
 * writer in ENCODINGS below.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "grove/h5s3_grove_dataset.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_types.h"
#include "hdf5/io/h5s3_h5_io.h"

int h5s3_grove_bool_arg(const char *raw, int fallback)
{
    if (raw == NULL) {
        return fallback;
    }
    return strcasecmp(raw, "false") != 0;
}

/* ---- numbers for csv -------------------------------------------------- */

static void to_doubles(double *re, double *im,
                       const h5s3_grove_numfmt *nf, size_t esize,
                       const void *buf, hsize_t n)
{
    const unsigned char *ptr = buf;
    hsize_t i;

    for (i = 0; i < n; i++, ptr += esize) {
        re[i] = h5s3_grove_num_at(ptr, nf->cls, nf->size, nf->sgn);
        if (nf->is_bool) {
            re[i] = re[i] != 0;
        }
        if (im) {
            im[i] = h5s3_grove_num_at(ptr + nf->off_im, nf->cls, nf->size,
                                      nf->sgn);
        }
    }
}

/* ---- the memory type of the binary encodings -------------------------- */

static char order_char(hid_t t)
{
    return H5Tget_order(t) == H5T_ORDER_BE ? '>' : '<';
}

/* A binary encoding's memory type, and its NumPy kind, order and size. */
typedef struct bin_type {
    hid_t mt;
    char kind;
    char order;
    size_t size;
} bin_type;

/* Integers and bitfields: the file's bytes, little-endian when safe. */
static void bin_int(bin_type *b, hid_t ft, h5s3_grove_kind k, int safe)
{
    b->kind = (k == H5S3_GROVE_INT && H5Tget_sign(ft) != H5T_SGN_NONE)
              ? 'i' : 'u';
    b->mt = H5Tcopy(ft);
    if (safe) {
        H5Tset_order(b->mt, H5T_ORDER_LE);
        b->order = '<';
    }
}

/* Floats: float16 widened to <f4 and float128 narrowed to <f8 when
 * safe, the others as they are, little-endian when safe. */
static void bin_float(bin_type *b, hid_t ft, int safe)
{
    b->kind = 'f';
    if (safe && b->size < 4) {
        b->mt = H5Tcopy(H5T_IEEE_F32LE);
        b->size = 4;
    }
    else if (safe && b->size > 8) {
        b->mt = H5Tcopy(H5T_IEEE_F64LE);
        b->size = 8;
    }
    else {
        b->mt = H5Tcopy(ft);
        if (safe) {
            H5Tset_order(b->mt, H5T_ORDER_LE);
        }
    }
    if (safe) {
        b->order = '<';
    }
}

/* Enums and complex numbers: the byte order of PART (their base or
 * first member, closed here), the native type when safe. */
static void bin_parts(bin_type *b, hid_t ft, hid_t part, int safe)
{
    if (part >= 0) {
        b->order = order_char(part);
        H5Tclose(part);
    }
    b->mt = safe ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : H5Tcopy(ft);
    if (safe) {
        b->order = '<';
    }
}

/*
 * The memory type of the binary encodings and its NumPy descr: the file
 * type itself for dtype=origin (exact bytes, order kept), h5grove's
 * _sanitize_dtype for dtype=safe.
 */
static hid_t binary_type(const char **descr, char *nkind, int *nsize,
                         hid_t ft, h5s3_grove_kind k, int safe, int scalar,
                         apr_pool_t *p)
{
    bin_type b;
    hid_t s;

    b.mt = -1;
    b.kind = 'u';
    b.order = order_char(ft);
    b.size = H5Tget_size(ft);
    switch (k) {
    case H5S3_GROVE_INT:
    case H5S3_GROVE_BITFIELD:
        bin_int(&b, ft, k, safe);
        break;
    case H5S3_GROVE_ENUM:
        s = H5Tget_super(ft);
        b.kind = s >= 0 && H5Tget_sign(s) != H5T_SGN_NONE ? 'i' : 'u';
        bin_parts(&b, ft, s, safe);
        break;
    case H5S3_GROVE_BOOL:
        *descr = "|b1";
        *nkind = 'u';
        *nsize = 1;
        return H5Tget_native_type(ft, H5T_DIR_ASCEND);
    case H5S3_GROVE_FLOAT:
        bin_float(&b, ft, safe);
        break;
    case H5S3_GROVE_COMPLEX:
        b.kind = 'c';
        bin_parts(&b, ft, H5Tget_member_type(ft, 0), safe);
        b.size = b.mt >= 0 ? H5Tget_size(b.mt) : b.size;
        break;
    default:
        /* opaque, fixed strings: their bytes as they are */
        *descr = apr_psprintf(p, "|V%lu", (unsigned long)b.size);
        *nkind = 'V';
        *nsize = (int)b.size;
        return H5Tcopy(ft);
    }
    if (scalar && !safe && b.order == '>') {
        /* NumPy scalars are native: h5py's d[()] of a big-endian scalar
         * (or an all-int selection) is little-endian here. */
        if (k == H5S3_GROVE_COMPLEX || k == H5S3_GROVE_ENUM) {
            H5Tclose(b.mt);
            b.mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        }
        else {
            H5Tset_order(b.mt, H5T_ORDER_LE);
        }
        b.order = '<';
    }
    if (b.size == 1) {
        b.order = '|';
    }
    *descr = apr_psprintf(p, "%c%c%lu", b.order, b.kind,
                          (unsigned long)b.size);
    *nkind = b.kind;
    *nsize = (int)b.size;
    return b.mt;
}

/* What a /data/ request settled before its encoding writes it. */
typedef struct data_req {
    const char *path;
    const char *fmt;
    h5s3_h5_dset *d;
    h5s3_grove_kind k;
    int numeric;                /* a kind with numbers, data present */
    int safe;                   /* dtype=safe */
    int rank;                   /* of the answer (1 when flattened) */
    int flat;
    hsize_t dims[H5S3_H5_RANK_MAX];
    hsize_t nelem;
    h5s3_grove_sel sel;
    hid_t mt;                   /* the memory type read */
    const char *descr;          /* binary encodings: NumPy's descr */
    char nkind;                 /* ... its kind ('u', 'i', 'f', ...) */
    int nsize;                  /* ... and size */
    h5s3_grove_read *r;
} data_req;

/*
 * One encoding of /data/.  TEXT ones (json, csv) read the native memory
 * type and are bounded by elements; the others send bytes of
 * binary_type() (SAFE: always dtype=safe's), bounded by bytes.
 * NUMERIC ones refuse non-numeric data and, unless SCALARS, scalars and
 * empty datasets.  CHECK (may be NULL) adds the encoding's own rules.
 */
typedef struct encoding {
    const char *name;
    int text;
    int safe;
    int numeric;
    int scalars;
    apr_status_t (*check)(const data_req *q, h5s3_result *res,
                          apr_pool_t *p);
    apr_status_t (*write)(h5s3_grove_payload *out, const data_req *q);
} encoding;

/* ---- the writers ------------------------------------------------------ */

static apr_status_t write_json(h5s3_grove_payload *out, const data_req *q)
{
    out->ctype = "application/json";
    if (q->d->empty_space) {
        h5s3_grove_buf_add(out->head, "null", 4);
    }
    else {
        h5s3_grove_values_json(out->head, q->mt, q->r->buf, q->rank,
                               q->dims, q->flat);
    }
    return APR_SUCCESS;
}

static apr_status_t check_csv(const data_req *q, h5s3_result *res,
                              apr_pool_t *p)
{
    (void)p;
    if (q->rank > 2) {
        return h5s3_result_set(res, H5S3_E_INVALID, "Unsupported encoding csv "
                               "for data of more than 2 dimensions");
    }
    return APR_SUCCESS;
}

static apr_status_t write_csv(h5s3_grove_payload *out, const data_req *q)
{
    h5s3_grove_numfmt nf;
    double *re = NULL, *im = NULL;
    apr_size_t nb = (apr_size_t)(q->nelem ? q->nelem : 1) * sizeof(double);
    apr_status_t rv;

    /* nelem is at most H5S3_GROVE_MAX_ELEMENTS here. */
    rv = h5s3_h5_mem_alloc((void **)&re, nb, 0);
    if (rv == APR_SUCCESS && q->k == H5S3_GROVE_COMPLEX) {
        rv = h5s3_h5_mem_alloc((void **)&im, nb, 0);
    }
    if (rv != APR_SUCCESS) {
        h5s3_h5_mem_free(re);
        return rv;
    }
    h5s3_grove_numfmt_of(&nf, q->mt);
    to_doubles(re, im, &nf, H5Tget_size(q->mt), q->r->buf, q->nelem);
    h5s3_grove_csv(out->head, re, im, q->rank, q->dims);
    h5s3_h5_mem_free(re);
    h5s3_h5_mem_free(im);
    out->ctype = "text/csv";
    out->disposition = "attachment; filename=\"data.csv\"";
    return APR_SUCCESS;
}

/* The values as they were read, NumPy's one-byte bools squeezed. */
static apr_status_t write_bin(h5s3_grove_payload *out, const data_req *q)
{
    size_t esize = H5Tget_size(q->mt);
    unsigned char *raw = q->r->buf;

    if (q->k == H5S3_GROVE_BOOL && esize != 1 && raw) {
        /* NumPy bools are one byte: squeeze wider enum bases. */
        hsize_t i;
        h5s3_grove_numfmt nf;

        h5s3_grove_numfmt_of(&nf, q->mt);
        for (i = 0; i < q->nelem; i++) {
            raw[i] = h5s3_grove_num_at(raw + i * esize, H5T_INTEGER, esize,
                                       nf.sgn) != 0;
        }
        esize = 1;
    }
    out->raw = raw;
    out->raw_len = (apr_size_t)(q->nelem * esize);
    out->ctype = "application/octet-stream";
    return APR_SUCCESS;
}

/* bin refuses what has no fixed bytes: variable-length strings, vlens,
 * references... (opaque data and fixed strings go as they are). */
static apr_status_t check_bin(const data_req *q, h5s3_result *res,
                              apr_pool_t *p)
{
    H5T_class_t cls = H5Tget_class(q->d->ftype);

    if (!q->numeric && !q->d->empty_space && cls != H5T_OPAQUE
        && !(cls == H5T_STRING && H5Tis_variable_str(q->d->ftype) <= 0)) {
        return h5s3_result_printf(res, H5S3_E_INVALID,
                                  "Unsupported encoding bin for %s data",
                                  q->d->dtype);
    }
    return APR_SUCCESS;
}

static apr_status_t write_npy(h5s3_grove_payload *out, const data_req *q)
{
    write_bin(out, q);
    h5s3_grove_npy_header(out->head, q->descr, q->rank, q->dims);
    out->disposition = "attachment; filename=\"data.npy\"";
    return APR_SUCCESS;
}

static apr_status_t check_tiff(const data_req *q, h5s3_result *res,
                               apr_pool_t *p)
{
    (void)p;
    if (q->rank != 2 || q->k == H5S3_GROVE_COMPLEX) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               q->k == H5S3_GROVE_COMPLEX
                               ? "Unsupported encoding tiff for complex data"
                               : "Unsupported encoding tiff for data that "
                                 "is not 2-D");
    }
    return APR_SUCCESS;
}

static apr_status_t write_tiff(h5s3_grove_payload *out, const data_req *q)
{
    write_bin(out, q);
    out->ctype = "image/tiff";
    h5s3_grove_tiff_header(out->head, q->nkind, q->nsize, q->dims[0],
                           q->dims[1]);
    out->disposition = "attachment; filename=\"data.tiff\"";
    return APR_SUCCESS;
}

static const encoding ENCODINGS[] = {
    /* name    text safe numeric scalars check       write */
    {"json",   1,   0,   0,      1,      NULL,       write_json},
    {"bin",    0,   0,   0,      1,      check_bin,  write_bin},
    {"npy",    0,   0,   1,      1,      NULL,       write_npy},
    {"csv",    1,   0,   1,      0,      check_csv,  write_csv},
    {"tiff",   0,   1,   1,      0,      check_tiff, write_tiff},
};

/* ---- the request ------------------------------------------------------ */

/* The dataset, the selection, dtype and flatten (get_dataset_slice). */
static apr_status_t data_select(data_req *q, h5s3_result *res, hid_t fid,
                                struct h5s3_h5_file *f,
                                const char *file_name,
                                const h5s3_grove_data_opts *o, apr_pool_t *p)
{
    const char *dtype = o->dtype ? o->dtype : "origin";
    h5s3_h5_dset *d;
    apr_status_t rv;

    rv = h5s3_grove_dset_open(&q->d, res, fid, f, file_name, q->path, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    d = q->d;
    q->k = h5s3_grove_kind_of(d->ftype);
    q->numeric = q->k != H5S3_GROVE_OTHER && !d->empty_space;
    rv = h5s3_grove_sel_parse(&q->sel, res, o->selection, d->ndim, d->shape,
                              p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(dtype, "safe") == 0) {
        if (!q->numeric) {
            return h5s3_result_set(res, H5S3_E_INVALID, "Unsupported dtype "
                                   "safe for non-numeric data");
        }
        q->safe = 1;
    }
    else if (strcmp(dtype, "origin") != 0) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "Unsupported dtype %s",
                                  dtype);
    }
    q->rank = d->empty_space ? 0 : q->sel.out_ndim;
    memcpy(q->dims, q->sel.out_dims, sizeof(q->dims));
    q->nelem = d->empty_space ? 0 : q->sel.nelem;
    if (o->flatten && q->rank >= 1) {
        q->flat = 1;
        q->rank = 1;
        q->dims[0] = q->nelem;
    }
    return APR_SUCCESS;
}

/* The encoding named FMT may write Q (E NULL: no such encoding). */
static apr_status_t encoding_check(const encoding *e, const data_req *q,
                                   h5s3_result *res, apr_pool_t *p)
{
    if (e == NULL || e->numeric) {
        if (!q->numeric) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Unsupported "
                                      "encoding %s for non-numeric content",
                                      q->fmt);
        }
        if ((e == NULL || !e->scalars) && q->rank == 0) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Unsupported "
                                      "encoding %s for empty and scalar "
                                      "datasets", q->fmt);
        }
        if (e == NULL) {
            return h5s3_result_printf(res, H5S3_E_INVALID,
                                      "Unsupported encoding %s", q->fmt);
        }
    }
    return e->check ? e->check(q, res, p) : APR_SUCCESS;
}

/* The selection read with the memory type E wants, within the caps. */
static apr_status_t data_read(data_req *q, const encoding *e,
                              h5s3_result *res, apr_pool_t *p)
{
    apr_status_t rv;

    if (e->text && q->nelem > H5S3_GROVE_MAX_ELEMENTS) {
        return h5s3_result_printf(res, H5S3_E_TOOLARGE, "The selection has %"
                                  APR_UINT64_T_FMT " elements, more than the "
                                  "%d this server encodes as %s: ask for a "
                                  "smaller selection", (apr_uint64_t)q->nelem,
                                  H5S3_GROVE_MAX_ELEMENTS, q->fmt);
    }
    if (e->text) {
        q->mt = h5s3_h5_mem_type(q->d->ftype);
    }
    else {
        q->mt = binary_type(&q->descr, &q->nkind, &q->nsize, q->d->ftype,
                            q->k, q->safe || e->safe, q->rank == 0, p);
    }
    if (q->mt < 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset %s has a "
                                  "type this server cannot read", q->path);
    }
    if (!e->text && (double)q->nelem * (double)H5Tget_size(q->mt)
                    > H5S3_GROVE_MAX_BYTES) {
        /* (nelem is exact: h5s3_grove_sel_parse checked the product) */
        double bytes = (double)q->nelem * (double)H5Tget_size(q->mt);

        H5Tclose(q->mt);
        return h5s3_result_printf(res, H5S3_E_TOOLARGE, "The selection takes "
                                  "%.0f bytes, more than the %d this server "
                                  "sends at once: ask for a smaller "
                                  "selection", bytes, H5S3_GROVE_MAX_BYTES);
    }
    rv = h5s3_grove_read_sel(&q->r, q->d, q->mt, q->sel.start,
                             q->sel.stride, q->sel.count, q->nelem, p);
    if (rv == H5S3_E_TOOLARGE) {
        return h5s3_result_set(res, rv, "The selection is larger than this "
                               "server reads at once");
    }
    return h5s3_result_status(res, rv);
}

apr_status_t h5s3_grove_data(h5s3_grove_payload *out, h5s3_result *res,
                             hid_t fid, struct h5s3_h5_file *f,
                             const char *file_name, const char *path,
                             const h5s3_grove_data_opts *o, apr_pool_t *p)
{
    const encoding *e = NULL;
    data_req q;
    apr_status_t rv;
    apr_size_t i;

    memset(out, 0, sizeof(*out));
    out->head = h5s3_grove_buf_make(p);
    memset(&q, 0, sizeof(q));
    q.path = path ? path : "/";
    q.fmt = o->format ? o->format : "json";
    q.mt = -1;
    /* get_dataset_slice, then convert (dtype), then encode (format). */
    rv = data_select(&q, res, fid, f, file_name, o, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < sizeof(ENCODINGS) / sizeof(ENCODINGS[0]); i++) {
        if (strcmp(q.fmt, ENCODINGS[i].name) == 0) {
            e = &ENCODINGS[i];
        }
    }
    rv = encoding_check(e, &q, res, p);
    if (rv == APR_SUCCESS) {
        rv = h5s3_grove_filters_ok(q.d, res, p);
    }
    if (rv == APR_SUCCESS) {
        rv = data_read(&q, e, res, p);
    }
    if (rv == APR_SUCCESS) {
        rv = e->write(out, &q);
    }
    if (rv == APR_SUCCESS && out->head->oom) {
        rv = APR_ENOMEM;
    }
    return h5s3_result_status(res, rv);
}
