/*
 * Attributes of an object in h5py's attrs.keys() order, with their values
 * as safe JSON.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_describe.h"
#include "viewer/h5s3_h5_values.h"

typedef struct {
    apr_array_header_t *names;
    int max;
    apr_pool_t *p;
} attr_names;

static herr_t collect_name(hid_t loc, const char *name,
                           const H5A_info_t *info, void *op)
{
    attr_names *an = op;

    (void)loc;
    (void)info;
    if (an->names->nelts >= an->max)
        return 1;           /* stop: we have enough */
    APR_ARRAY_PUSH(an->names, const char *) = apr_pstrdup(an->p, name);
    return an->names->nelts >= an->max ? 1 : 0;
}

static hid_t object_cpl(hid_t obj)
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
    hid_t cpl = object_cpl(obj);
    unsigned flags = 0;

    if (cpl < 0)
        return H5_INDEX_NAME;
    if (H5Pget_attr_creation_order(cpl, &flags) < 0)
        flags = 0;
    H5Pclose(cpl);
    return (flags & H5P_CRT_ORDER_TRACKED) ? H5_INDEX_CRT_ORDER
                                           : H5_INDEX_NAME;
}

apr_status_t h5s3_h5_attrs(json_t **out, int *total, hid_t obj, int max,
                           int as_list, apr_pool_t *p)
{
    H5O_info_t oi;
    attr_names an;
    H5_index_t idx;
    hsize_t n = 0;
    json_t *res;
    int i;

    *out = NULL;
    if (total)
        *total = 0;
    if (H5Oget_info2(obj, &oi, H5O_INFO_NUM_ATTRS) < 0)
        return H5S3_E_NOTHDF5;
    if (total)
        *total = (int)oi.num_attrs;
    an.names = apr_array_make(p, max > 0 ? max : 1, sizeof(const char *));
    an.max = max;
    an.p = p;
    idx = attr_index(obj);
    if (max > 0 && oi.num_attrs > 0
        && H5Aiterate2(obj, idx, H5_ITER_INC, &n, collect_name, &an) < 0
        && idx == H5_INDEX_CRT_ORDER) {
        /* Tracked but not indexed: HDF5 cannot walk that order. */
        an.names->nelts = 0;
        n = 0;
        if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &n, collect_name,
                        &an) < 0)
            return H5S3_E_NOTHDF5;
    }
    res = as_list ? json_array() : json_object();
    if (!res)
        return APR_ENOMEM;
    for (i = 0; i < an.names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(an.names, i, const char *);
        hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
        const char *key = h5s3_utf8_clean(name, p);
        json_t *val = NULL;

        if (attr < 0 || h5s3_h5_attr_value(&val, obj, attr, p)
                        != APR_SUCCESS || !val) {
            if (val)
                json_decref(val);
            val = json_string("<unreadable>");
        }
        if (attr >= 0)
            H5Aclose(attr);
        if (as_list)
            json_array_append_new(res, json_pack("{s:s, s:o}", "name", key,
                                                 "value", val));
        else
            json_object_set_new(res, key, val);
    }
    *out = res;
    return APR_SUCCESS;
}
