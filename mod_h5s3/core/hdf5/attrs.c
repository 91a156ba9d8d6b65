/*
 * Attribute names in h5py's order (see include/hdf5/h5s3_h5_attrs.h).
 */
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_attrs.h"
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
