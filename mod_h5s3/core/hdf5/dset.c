/*
 * Opening a dataset for reading its values: the checks that refuse what
 * cannot be stored (a shape of more than 2^64 elements, a compact
 * dataset shorter than its shape, values outside the object) and those
 * that turn unreadable data (missing filter plugin, references, opaque,
 * oversized chunks) into a clear 422; the filter plugins HDF5 loads.
 */
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "base/h5s3_once.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_filters.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_storage.h"
#include "hdf5/h5s3_h5_types.h"

static h5s3_once plugins_once = H5S3_ONCE_INIT;

static void add_plugin_dir(void)
{
    unsigned int i, n = 0;
    int found = 0;

    h5s3_h5_global_init();
    /* HDF5_PLUGIN_PATH, when set, replaces HDF5's default list: keep
     * it first and add Debian's directory after it. */
    if (H5PLsize(&n) >= 0) {
        for (i = 0; i < n && !found; i++) {
            char buf[512];

            if (H5PLget(i, buf, sizeof(buf)) > 0
                && strcmp(buf, H5S3_H5_PLUGIN_DIR) == 0) {
                found = 1;
            }
        }
    }
    if (!found) {
        H5PLappend(H5S3_H5_PLUGIN_DIR);
    }
}

void h5s3_h5_plugins_init(void)
{
    h5s3_once_run(&plugins_once, add_plugin_dir);
}

static apr_status_t dset_cleanup(void *data)
{
    h5s3_h5_dset *d = data;

    if (d->mtype >= 0) {
        H5Tclose(d->mtype);
    }
    if (d->ftype >= 0) {
        H5Tclose(d->ftype);
    }
    if (d->did >= 0) {
        H5Dclose(d->did);
    }
    return APR_SUCCESS;
}

static h5s3_h5_kind kind_of(hid_t t)
{
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
    case H5T_FLOAT:
        return H5S3_H5_KIND_NUMERIC;
    case H5T_ENUM:
        /* h5py reads other enums as their integer base type. */
        return h5s3_h5_type_is_bool(t) ? H5S3_H5_KIND_BOOL
                                       : H5S3_H5_KIND_NUMERIC;
    case H5T_COMPOUND:
        return h5s3_h5_type_is_complex(t) ? H5S3_H5_KIND_COMPLEX
                                          : H5S3_H5_KIND_OTHER;
    default:
        return H5S3_H5_KIND_OTHER;
    }
}

int h5s3_h5_kind_numeric(h5s3_h5_kind k)
{
    return k != H5S3_H5_KIND_OTHER;
}

apr_status_t h5s3_h5_dset_open(h5s3_h5_dset **out, h5s3_result *res,
                               hid_t fid, struct h5s3_h5_file *f,
                               const char *path, apr_pool_t *p)
{
    h5s3_h5_obj o;
    h5s3_h5_dset *d;
    hid_t space = -1, dcpl = -1, fcpl = -1;
    hsize_t ub = 0;
    apr_status_t rv;

    h5s3_h5_plugins_init();
    *out = NULL;
    rv = h5s3_h5_open_path(&o, fid, path, p);
    if (rv != APR_SUCCESS) {
        return h5s3_result_status(res, rv);
    }
    if (o.kind == H5S3_H5_LINK_DANGLING) {
        h5s3_h5_obj_close(&o);
        return h5s3_result_status(res, H5S3_E_NOPATH);
    }
    if (o.kind != H5S3_H5_LINK_OBJECT || o.type != H5I_DATASET) {
        h5s3_h5_obj_close(&o);
        return h5s3_result_printf(res, H5S3_E_INVALID,
                                  "Path '%s' is not a dataset", path);
    }
    /* Before anything else asks HDF5 about it (H5Dget_space resolves a
     * virtual dataset's extent from its sources): values that live
     * outside the object are never read. */
    dcpl = H5Dget_create_plist(o.obj);
    rv = h5s3_h5_storage_check(res, dcpl, path, p);
    if (dcpl >= 0) {
        H5Pclose(dcpl);
        dcpl = -1;
    }
    if (rv != APR_SUCCESS) {
        h5s3_h5_obj_close(&o);
        return rv;
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->did = o.obj;             /* ours now: closed by dset_cleanup */
    d->ftype = d->mtype = -1;
    d->file = f;
    d->path = apr_pstrdup(p, path);
    apr_pool_cleanup_register(p, d, dset_cleanup, apr_pool_cleanup_null);

    d->ftype = H5Dget_type(d->did);
    if (d->ftype < 0 || (d->mtype = h5s3_h5_mem_type(d->ftype)) < 0) {
        return h5s3_result_status(res, h5s3_h5_request_status(
            H5S3_E_UNSUPPORTED));
    }
    d->msize = H5Tget_size(d->mtype);
    d->kind = kind_of(d->ftype);
    if (h5s3_h5_dtype_str(&d->dtype, d->ftype, p) != APR_SUCCESS) {
        d->dtype = "object";
    }
    space = H5Dget_space(d->did);
    if (space < 0) {
        return h5s3_result_status(res, h5s3_h5_request_status(
            H5S3_E_UNSUPPORTED));
    }
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        d->empty_space = 1;
        d->ndim = 0;
        d->nelem = 0;
    }
    else {
        d->ndim = H5Sget_simple_extent_ndims(space);
        if (d->ndim < 0 || d->ndim > H5S3_H5_RANK_MAX
            || H5Sget_simple_extent_dims(space, d->shape, NULL) < 0) {
            H5Sclose(space);
            return h5s3_result_status(res, H5S3_E_UNSUPPORTED);
        }
        /* HDF5 multiplies the dims unchecked: a shape such as (1, 16384,
         * 2^50 + 1) would look like 16384 elements to it and to every
         * size derived from the count.  No such dataset can be stored. */
        if (!h5s3_dims_product(&d->nelem, d->shape, d->ndim, 1,
                               UINT64_MAX)) {
            H5Sclose(space);
            return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Corrupt "
                                      "dataset '%s': its shape has more than "
                                      "2^64 elements", path);
        }
    }
    H5Sclose(space);

    dcpl = H5Dget_create_plist(d->did);
    d->layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    if (d->layout == H5D_CHUNKED && d->ndim > 0
        && H5Pget_chunk(dcpl, d->ndim, d->chunk) != d->ndim) {
        memset(d->chunk, 0, sizeof(d->chunk));  /* refused when read */
    }
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    /* HDF5 1.10 trusts a compact dataset's dataspace over its stored
     * size and reads past the buffer (found by tests/fuzz): refuse. */
    if (d->layout == H5D_COMPACT && !d->empty_space && d->nelem > 0) {
        size_t esize = H5Tget_size(d->ftype);
        hsize_t have = H5Dget_storage_size(d->did);

        if (esize == 0 || d->nelem > have / esize) {
            return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Corrupt "
                                      "dataset '%s': %" APR_UINT64_T_FMT
                                      " bytes stored for %" APR_UINT64_T_FMT
                                      " elements", path, (apr_uint64_t)have,
                                      (apr_uint64_t)d->nelem);
        }
    }
    fcpl = H5Fget_create_plist(fid);
    if (fcpl >= 0) {
        if (H5Pget_userblock(fcpl, &ub) >= 0) {
            d->base = (apr_off_t)ub;
        }
        H5Pclose(fcpl);
    }
    *out = d;
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_dset_readable(const h5s3_h5_dset *d, h5s3_result *res,
                                   apr_pool_t *p)
{
    hid_t dcpl;
    int i;
    H5Z_filter_t id;
    const char *name;
    hsize_t chunk_bytes = 0;

    if (H5Tdetect_class(d->ftype, H5T_REFERENCE) > 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' "
                                  "holds HDF5 references, which cannot be "
                                  "served as values", d->path);
    }
    if (H5Tdetect_class(d->ftype, H5T_OPAQUE) > 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' "
                                  "holds opaque data, which cannot be served "
                                  "as values", d->path);
    }
    if (d->msize == 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' has "
                                  "a type this server cannot read", d->path);
    }
    if (d->layout == H5D_CHUNKED) {
        for (i = 0; i < d->ndim; i++) {
            if (d->chunk[i] == 0) {
                return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Corrupt "
                                          "dataset '%s': a chunk dimension is "
                                          "0", d->path);
            }
        }
        /* Checked: 32-bit chunk dims times the element size wrap 64 bits
         * with a few dims, and a wrapped size would undersize buffers. */
        if (!h5s3_dims_product(&chunk_bytes, d->chunk, d->ndim, d->msize,
                               H5S3_H5_MAX_CHUNK_BYTES)) {
            return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' "
                                      "has chunks of more than the %d bytes "
                                      "this server decodes", d->path,
                                      H5S3_H5_MAX_CHUNK_BYTES);
        }
    }
    dcpl = H5Dget_create_plist(d->did);
    if (dcpl < 0) {
        return h5s3_result_status(res, h5s3_h5_request_status(
            H5S3_E_UNSUPPORTED));
    }
    if (h5s3_h5_filter_missing(&id, &name, dcpl, p)) {
        H5Pclose(dcpl);
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' is "
                                  "compressed with the '%s' filter (id %d), "
                                  "which is not available on this server",
                                  d->path, name, (int)id);
    }
    H5Pclose(dcpl);
    return APR_SUCCESS;
}
