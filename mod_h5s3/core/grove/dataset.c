/*
 * What h5grove's /data/ and /stats/ share (see
 * include/grove/h5s3_grove_dataset.h): the dataset opened with
 * h5grove's messages, its filters checked, a selection read in one
 * strided hyperslab (chunks prefetched concurrently by h5s3_h5_read),
 * the numbers of native buffers.
 */
#include <math.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove_dataset.h"
#include "hdf5/h5s3_h5_filters.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_types.h"

h5s3_grove_kind h5s3_grove_kind_of(hid_t t)
{
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        return H5S3_GROVE_INT;
    case H5T_FLOAT:
        return H5S3_GROVE_FLOAT;
    case H5T_BITFIELD:
        return H5S3_GROVE_BITFIELD;
    case H5T_ENUM:
        return h5s3_h5_type_is_bool(t) ? H5S3_GROVE_BOOL : H5S3_GROVE_ENUM;
    case H5T_COMPOUND:
        return h5s3_h5_type_is_complex(t) ? H5S3_GROVE_COMPLEX
                                          : H5S3_GROVE_OTHER;
    default:
        return H5S3_GROVE_OTHER;
    }
}

const char *h5s3_grove_basename(const char *s)
{
    const char *slash = strrchr(s, '/');

    return slash ? slash + 1 : s;
}

apr_status_t h5s3_grove_dset_open(h5s3_h5_dset **d, h5s3_result *res,
                                  hid_t fid, struct h5s3_h5_file *f,
                                  const char *file, const char *path,
                                  apr_pool_t *p)
{
    h5s3_result inner;
    apr_status_t rv;

    /* A result of its own: h5grove words a missing path and another kind
     * of object as h5py does; the engine's detail says the rest. */
    h5s3_result_init(&inner, p);
    rv = h5s3_h5_dset_open(d, &inner, fid, f, path, p);
    if (rv == H5S3_E_NOPATH) {
        return h5s3_result_printf(res, rv, "%s is not a valid path in %s",
                                  path, h5s3_grove_basename(file));
    }
    if (rv == H5S3_E_INVALID) {
        return h5s3_result_printf(res, rv, "%s is not a dataset", path);
    }
    if (rv != APR_SUCCESS && inner.detail) {
        /* external storage, a corrupt shape... */
        return h5s3_result_set(res, rv, inner.detail);
    }
    return h5s3_result_status(res, rv);
}

apr_status_t h5s3_grove_filters_ok(const h5s3_h5_dset *d, h5s3_result *res,
                                   apr_pool_t *p)
{
    hid_t dcpl = H5Dget_create_plist(d->did);
    apr_status_t rv = APR_SUCCESS;
    H5Z_filter_t id;
    const char *name;
    int i;

    if (dcpl >= 0 && h5s3_h5_filter_missing(&id, &name, dcpl, p)) {
        rv = h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset %s is "
                                "compressed with the '%s' filter (id %d), "
                                "which is not available on this server",
                                d->path, name, (int)id);
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
            rv = h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset %s "
                                    "has chunks larger than this server "
                                    "decodes", d->path);
        }
    }
    return rv;
}

static apr_status_t read_cleanup(void *data)
{
    h5s3_grove_read *r = data;

    h5s3_h5_buf_free(&r->dc, r->buf, r->n);
    if (r->dc.mtype >= 0) {
        H5Tclose(r->dc.mtype);
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_grove_read_sel(h5s3_grove_read **out,
                                 const h5s3_h5_dset *d, hid_t mt,
                                 const hsize_t *start, const hsize_t *stride,
                                 const hsize_t *count, hsize_t n,
                                 apr_pool_t *p)
{
    h5s3_grove_read *r = apr_pcalloc(p, sizeof(*r));

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

/* ---- numbers out of native buffers ------------------------------------ */

double h5s3_grove_num_at(const unsigned char *ptr, H5T_class_t cls,
                         size_t size, int sgn)
{
    apr_uint64_t bits;

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
    if (!h5s3_grove_int_at(&bits, ptr, size, sgn)) {
        return NAN;
    }
    return sgn ? (double)(apr_int64_t)bits : (double)bits;
}

void h5s3_grove_numfmt_of(h5s3_grove_numfmt *nf, hid_t mt)
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
