/*
 * Attribute names in h5py's order and attribute values read within the
 * request's budgets (see include/hdf5/h5s3_h5_attrs.h).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_attrs.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_types.h"
#include "hdf5/h5s3_h5_vlen.h"
#include "hdf5/io/h5s3_h5_io.h"

hid_t h5s3_h5_object_cpl(hid_t obj)
{
    switch (H5Iget_type(obj)) {
    case H5I_GROUP:
        return H5Gget_create_plist(obj);
    case H5I_DATASET:
        return H5Dget_create_plist(obj);
    case H5I_DATATYPE:
        return H5Tget_create_plist(obj);
    default:
        return -1;
    }
}

/* h5py iterates by creation order when the object tracks it. */
static H5_index_t attr_index(hid_t obj)
{
    hid_t cpl = h5s3_h5_object_cpl(obj);
    unsigned flags = 0;

    if (cpl < 0) {
        return H5_INDEX_NAME;
    }
    if (H5Pget_attr_creation_order(cpl, &flags) < 0) {
        flags = 0;
    }
    H5Pclose(cpl);
    return (flags & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER
                                           : H5_INDEX_NAME;
}

typedef struct {
    apr_array_header_t *names;
    int max;                    /* 0: bounded by the entries budget */
    apr_pool_t *p;
} name_list;

static herr_t collect_name(hid_t loc, const char *name,
                           const H5A_info_t *info, void *op)
{
    name_list *nl = op;

    (void)loc;
    (void)info;
    if (nl->max > 0 && nl->names->nelts >= nl->max) {
        return 1;               /* stop: we have enough */
    }
    if (nl->max == 0
        && h5s3_h5_charge(H5S3_H5_LIMIT_ENTRIES, 1) != APR_SUCCESS) {
        return 1;               /* over budget: the request's limit is set */
    }
    APR_ARRAY_PUSH(nl->names, const char *) = apr_pstrdup(nl->p, name);
    return nl->max > 0 && nl->names->nelts >= nl->max ? 1 : 0;
}

apr_status_t h5s3_h5_attr_names(apr_array_header_t **out, hid_t obj,
                                int max, int by_name, apr_pool_t *p)
{
    name_list nl;
    H5_index_t idx = by_name ? H5_INDEX_NAME : attr_index(obj);
    hsize_t n = 0;
    apr_status_t rv = APR_SUCCESS;

    nl.names = apr_array_make(p, max > 0 ? max : 8, sizeof(const char *));
    nl.max = max;
    nl.p = p;
    *out = nl.names;
    if (H5Aiterate2(obj, idx, H5_ITER_INC, &n, collect_name, &nl) < 0
        && idx == H5_INDEX_CRT_ORDER) {
        /* Tracked but not indexed: HDF5 cannot walk that order. */
        nl.names->nelts = 0;
        n = 0;
        if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &n, collect_name,
                        &nl) < 0) {
            rv = H5S3_E_NOTHDF5;
        }
    }
    return rv;
}

/* The dataspace of V: rank, dims and a checked element count. */
static apr_status_t attr_space(h5s3_h5_attr_values *v)
{
    hssize_t npoints;

    if (H5Sget_simple_extent_type(v->space) == H5S_NULL) {
        v->null_space = 1;
        return APR_SUCCESS;
    }
    v->rank = H5Sget_simple_extent_ndims(v->space);
    npoints = H5Sget_simple_extent_npoints(v->space);
    if (v->rank < 0 || v->rank > H5S_MAX_RANK || npoints < 0
        || H5Sget_simple_extent_dims(v->space, v->dims, NULL) < 0) {
        return H5S3_E_UNSUPPORTED;
    }
    /* A count that wrapped would size the buffer for fewer elements than
     * the dims walk. */
    if (!h5s3_dims_product(&v->n, v->dims, v->rank, 1,
                           H5S3_H5_MAX_ATTR_ELEMENTS)) {
        return H5S3_E_TOOLARGE;
    }
    return v->n == (hsize_t)npoints ? APR_SUCCESS : H5S3_E_UNSUPPORTED;
}

apr_status_t h5s3_h5_attr_read(h5s3_h5_attr_values *v, hid_t attr)
{
    apr_status_t rv;
    size_t esize;
    int after = 0;

    memset(v, 0, sizeof(*v));
    v->ftype = v->mt = -1;
    v->space = H5Aget_space(attr);
    if (v->space < 0) {
        return H5S3_E_UNSUPPORTED;
    }
    rv = attr_space(v);
    if (rv != APR_SUCCESS || v->null_space) {
        return rv;
    }
    v->ftype = H5Aget_type(attr);
    v->mt = v->ftype >= 0 ? h5s3_h5_mem_type(v->ftype) : -1;
    esize = v->mt >= 0 ? H5Tget_size(v->mt) : 0;
    if (esize == 0) {
        return H5S3_E_UNSUPPORTED;
    }
    rv = h5s3_h5_attr_vlen_charge(attr, v->mt, v->n, &after);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    v->buf = calloc(v->n ? (size_t)v->n : 1, esize);
    if (v->buf == NULL) {
        return APR_ENOMEM;
    }
    if (H5Aread(attr, v->mt, v->buf) < 0) {
        return H5S3_E_UNSUPPORTED;
    }
    v->loaded = 1;
    if (after) {
        h5s3_h5_attr_vlen_charge_read(v->mt, v->buf, v->n);
    }
    return APR_SUCCESS;
}

void h5s3_h5_attr_values_free(h5s3_h5_attr_values *v)
{
    if (v->loaded && (H5Tdetect_class(v->mt, H5T_VLEN) > 0
                      || H5Tdetect_class(v->mt, H5T_STRING) > 0)) {
        H5Dvlen_reclaim(v->mt, v->space, H5P_DEFAULT, v->buf);
    }
    free(v->buf);
    if (v->mt >= 0) {
        H5Tclose(v->mt);
    }
    if (v->ftype >= 0) {
        H5Tclose(v->ftype);
    }
    if (v->space >= 0) {
        H5Sclose(v->space);
    }
    v->buf = NULL;
    v->loaded = 0;
    v->mt = v->ftype = v->space = -1;
}
