/*
 * Attributes of an object in h5py's attrs.keys() order, with their values
 * as safe JSON.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_attrs.h"
#include "viewer/h5s3_h5_describe.h"
#include "viewer/h5s3_h5_values.h"

apr_status_t h5s3_h5_attrs(json_t **out, int *total, hid_t obj, int max,
                           int as_list, apr_pool_t *p)
{
    H5O_info_t oi;
    apr_array_header_t *names;
    json_t *res;
    int i;

    *out = NULL;
    if (total)
        *total = 0;
    if (H5Oget_info2(obj, &oi, H5O_INFO_NUM_ATTRS) < 0)
        return H5S3_E_NOTHDF5;
    if (total)
        *total = (int)oi.num_attrs;
    if (max > 0 && oi.num_attrs > 0) {
        if (h5s3_h5_attr_names(&names, obj, max, 0, p) != APR_SUCCESS)
            return H5S3_E_NOTHDF5;
    }
    else {
        names = apr_array_make(p, 1, sizeof(const char *));
    }
    res = as_list ? json_array() : json_object();
    if (!res)
        return APR_ENOMEM;
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
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
