/*
 * h5grove's /data/: a selection read as one strided hyperslab, converted
 * the way h5grove's dtype=safe converts (float16 -> <f4, float128 ->
 * <f8, big-endian -> little-endian) by HDF5 itself while reading, then
 * encoded (json, csv, bin, npy, tiff).
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

/*
 * The memory type of the binary encodings and its NumPy descr: the file
 * type itself for dtype=origin (exact bytes, order kept), h5grove's
 * _sanitize_dtype for dtype=safe.
 */
static hid_t binary_type(const char **descr, char *nkind, int *nsize,
                         hid_t ft, h5s3_grove_kind k, int safe, int scalar,
                         apr_pool_t *p)
{
    hid_t mt = -1, s;
    size_t size = H5Tget_size(ft);
    char order = order_char(ft), kind = 'u';

    switch (k) {
    case H5S3_GROVE_INT:
    case H5S3_GROVE_BITFIELD:
        kind = (k == H5S3_GROVE_INT && H5Tget_sign(ft) != H5T_SGN_NONE)
               ? 'i' : 'u';
        mt = H5Tcopy(ft);
        if (safe) {
            H5Tset_order(mt, H5T_ORDER_LE);
            order = '<';
        }
        break;
    case H5S3_GROVE_ENUM:
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
    case H5S3_GROVE_BOOL:
        mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
        *descr = "|b1";
        *nkind = 'u';
        *nsize = 1;
        return mt;
    case H5S3_GROVE_FLOAT:
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
    case H5S3_GROVE_COMPLEX:
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
        if (k == H5S3_GROVE_COMPLEX || k == H5S3_GROVE_ENUM) {
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
    h5s3_grove_kind k;
    const char *fmt = o->format ? o->format : "json";
    const char *dtype = o->dtype ? o->dtype : "origin";
    const char *descr = NULL;
    char nkind = 0;
    int nsize = 0, safe = 0, numeric, rank, flat = 0;
    int is_json, is_bin, is_npy, is_csv, is_tiff;
    hsize_t dims[H5S3_H5_RANK_MAX], nelem;
    H5T_class_t cls;
    hid_t mt;
    h5s3_grove_read *r;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    out->head = h5s3_grove_buf_make(p);
    if (path == NULL) {
        path = "/";
    }
    rv = h5s3_grove_dset_open(&d, err, fid, f, file_name, path, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    k = h5s3_grove_kind_of(d->ftype);
    cls = H5Tget_class(d->ftype);
    numeric = k != H5S3_GROVE_OTHER && !d->empty_space;

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
        if (is_tiff && (rank != 2 || k == H5S3_GROVE_COMPLEX)) {
            *err = k == H5S3_GROVE_COMPLEX
                   ? "Unsupported encoding tiff for complex data"
                   : "Unsupported encoding tiff for data that is not 2-D";
            return H5S3_E_INVALID;
        }
    }
    if (is_bin && !numeric && !d->empty_space && cls != H5T_OPAQUE
        && !(cls == H5T_STRING && H5Tis_variable_str(d->ftype) <= 0)) {
        *err = apr_psprintf(p, "Unsupported encoding bin for %s data",
                            d->dtype);
        return H5S3_E_INVALID;
    }
    rv = h5s3_grove_filters_ok(d, err, p);
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
    rv = h5s3_grove_read_sel(&r, d, mt, sel.start, sel.stride, sel.count,
                             nelem, p);
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
        h5s3_grove_numfmt nf;
        double *re = NULL, *im = NULL;
        apr_size_t nb = (apr_size_t)(nelem ? nelem : 1) * sizeof(double);

        /* nelem is at most H5S3_GROVE_MAX_ELEMENTS here. */
        rv = h5s3_h5_mem_alloc((void **)&re, nb, 0);
        if (rv == APR_SUCCESS && k == H5S3_GROVE_COMPLEX) {
            rv = h5s3_h5_mem_alloc((void **)&im, nb, 0);
        }
        if (rv != APR_SUCCESS) {
            h5s3_h5_mem_free(re);
            return rv;
        }
        h5s3_grove_numfmt_of(&nf, mt);
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

        if (k == H5S3_GROVE_BOOL && esize != 1 && raw) {
            /* NumPy bools are one byte: squeeze wider enum bases. */
            hsize_t i;
            h5s3_grove_numfmt nf;

            h5s3_grove_numfmt_of(&nf, mt);
            for (i = 0; i < nelem; i++) {
                raw[i] = h5s3_grove_num_at(raw + i * esize, H5T_INTEGER, esize,
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
