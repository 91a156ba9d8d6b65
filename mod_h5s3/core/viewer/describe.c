/*
 * /children and /meta of the HDF Viewer API, from an open HDF5 file.
 * Field names, presence rules and order follow the upstream reader
 * (hdf5_reader.py get_children / get_metadata) as h5py evaluates it;
 * links that upstream could not follow are described instead of failing.
 */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_describe.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_quiet.h"
#include "hdf5/h5s3_h5_storage.h"
#include "hdf5/h5s3_h5_types.h"
#include "viewer/h5s3_h5_values.h"

/* The end of a public call (see include/hdf5/h5s3_h5_quiet.h): an
 * answer that HDF5 failures shaped, or a failure, gives way to the S3
 * driver's failure, if any, and is not kept. */
static apr_status_t quiet_off(h5s3_h5_quiet *q, apr_status_t rv,
                              json_t **out)
{
    apr_status_t s3 = h5s3_h5_quiet_off(q);

    if (s3 != APR_SUCCESS && (rv == APR_SUCCESS || rv == H5S3_E_NOTHDF5
                              || rv == H5S3_E_NOPATH)) {
        if (*out) {
            json_decref(*out);
            *out = NULL;
        }
        return s3;
    }
    return rv;
}

static void set(json_t *o, const char *key, json_t *val)
{
    json_object_set_new(o, key, val);
}

/* shape, size, ndim as h5py gives them: a null dataspace has shape and
 * size None and ndim 0; a scalar has shape () and size 1. */
static void space_fields(json_t *o, hid_t space)
{
    hsize_t dims[H5S_MAX_RANK];
    int rank, i;
    json_t *shape;
    unsigned long long size = 1;
    int overflow = 0;

    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        set(o, "shape", json_null());
        set(o, "size", json_null());
        set(o, "ndim", json_integer(0));
        return;
    }
    rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > H5S_MAX_RANK
        || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        rank = 0;
    shape = json_array();
    for (i = 0; i < rank; i++) {
        json_array_append_new(shape, json_integer((json_int_t)dims[i]));
        if (dims[i] && size > (unsigned long long)LLONG_MAX / dims[i])
            overflow = 1;
        size *= dims[i];
    }
    set(o, "shape", shape);
    set(o, "size", overflow ? json_real((double)size)
                            : json_integer((json_int_t)size));
    set(o, "ndim", json_integer(rank));
}

static const char *dtype_or_void(hid_t type, apr_pool_t *p)
{
    const char *s;

    if (h5s3_h5_dtype_str(&s, type, p) == APR_SUCCESS)
        return s;
    return apr_psprintf(p, "|V%lu", (unsigned long)H5Tget_size(type));
}

/* Dataset fields shared by children and meta; FOR_META adds the type
 * objects, the filter list and compression_opts. */
static void dataset_fields(json_t *o, hid_t dset, int for_meta,
                           apr_pool_t *p)
{
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset);
    hid_t dcpl = H5Dget_create_plist(dset);
    const char *comp = NULL;
    json_t *filters = NULL, *copts = NULL, *chunks;

    if (space >= 0)
        space_fields(o, space);
    if (type >= 0)
        set(o, "dtype", h5s3_json_str(dtype_or_void(type, p), p));
    chunks = h5s3_h5_chunks_json(dcpl);
    if (chunks)
        set(o, "chunks", chunks);
    if (dcpl >= 0)
        h5s3_h5_filters(for_meta ? &filters : NULL, &comp,
                        for_meta ? &copts : NULL, dcpl, p);
    if (comp)
        set(o, "compression", json_string(comp));
    if (for_meta) {
        json_t *tinfo = NULL, *raw = NULL, *grove = NULL;

        if (dcpl >= 0)
            h5s3_h5_storage_json(o, dcpl, p);

        if (type >= 0
            && h5s3_h5_type_info(&tinfo, &raw, type, p) == APR_SUCCESS) {
            set(o, "type", tinfo);
            set(o, "rawType", raw);
        }
        if (type >= 0 && h5s3_h5_type_json(&grove, type, p) == APR_SUCCESS)
            set(o, "hdf5_type", grove);
        set(o, "filters", filters ? filters : json_array());
        if (copts)
            set(o, "compression_opts", copts);
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
}

static json_t *num_children(hid_t group)
{
    H5G_info_t gi;

    if (H5Gget_info(group, &gi) < 0)
        return json_integer(0);
    return json_integer((json_int_t)gi.nlinks);
}

/* ------------------------------------------------------------------ */
/* children                                                             */

static void child_attrs(json_t *o, hid_t obj, apr_pool_t *p)
{
    json_t *attrs = NULL;
    int total = 0;

    if (h5s3_h5_attrs(&attrs, &total, obj, H5S3_H5_CHILD_ATTRS, 0, p)
        != APR_SUCCESS)
        return;
    if (total > 0) {
        set(o, "attributes", attrs);
        set(o, "num_attributes", json_integer(total));
        if (total > H5S3_H5_CHILD_ATTRS)
            set(o, "attributes_truncated", json_true());
    } else {
        json_decref(attrs);
    }
}

static json_t *child_entry(hid_t g, const char *name, const char *cpath,
                           hid_t lapl, apr_pool_t *p)
{
    json_t *o = json_pack("{s:o, s:o}", "name", h5s3_json_str(name, p),
                          "path", h5s3_json_str(cpath, p));
    h5s3_h5_obj c;

    if (!o)
        return NULL;
    /* Unreadable links are listed as "unknown", never fail the list. */
    if (h5s3_h5_open_link(&c, g, name, lapl, p) != APR_SUCCESS) {
        set(o, "type", json_string("unknown"));
        return o;
    }
    switch (c.kind) {
    case H5S3_H5_LINK_EXTERNAL:
        set(o, "type", json_string("external_link"));
        set(o, "target_file", h5s3_json_str(c.ext_file, p));
        set(o, "target_path", h5s3_json_str(c.ext_path, p));
        return o;
    case H5S3_H5_LINK_DANGLING:
        set(o, "type", json_string("soft_link"));
        set(o, "target", h5s3_json_str(c.soft_target, p));
        return o;
    case H5S3_H5_LINK_USER:
        set(o, "type", json_string("unknown"));
        return o;
    default:
        break;
    }
    if (c.soft_target) {
        set(o, "link", json_string("soft"));
        set(o, "target", h5s3_json_str(c.soft_target, p));
    }
    switch (c.type) {
    case H5I_GROUP:
        set(o, "type", json_string("group"));
        set(o, "num_children", num_children(c.obj));
        break;
    case H5I_DATASET:
        set(o, "type", json_string("dataset"));
        dataset_fields(o, c.obj, 0, p);
        child_attrs(o, c.obj, p);
        break;
    case H5I_DATATYPE:
        set(o, "type", json_string("datatype"));
        set(o, "dtype", h5s3_json_str(dtype_or_void(c.obj, p), p));
        break;
    default:
        set(o, "type", json_string("unknown"));
        break;
    }
    h5s3_h5_obj_close(&c);
    return o;
}

apr_status_t h5s3_h5_children(json_t **out, hid_t file, const char *path,
                              apr_pool_t *p)
{
    return h5s3_h5_children_page(out, NULL, file, path, 0, 0, p);
}

apr_status_t h5s3_h5_children_page(json_t **out, h5s3_h5_page *pg,
                                   hid_t file, const char *path,
                                   hsize_t offset, hsize_t limit,
                                   apr_pool_t *p)
{
    H5G_info_t gi;
    int more = 0;
    h5s3_h5_obj target;
    apr_array_header_t *names;
    apr_status_t rv;
    h5s3_h5_quiet q;
    json_t *arr = NULL;
    hid_t lapl = -1;
    const char *prefix;
    size_t plen;
    int i;

    *out = NULL;
    if (pg)
        memset(pg, 0, sizeof(*pg));
    if (!path || !p)
        return H5S3_E_INVALID;
    h5s3_h5_quiet_on(&q);
    rv = h5s3_h5_open_path(&target, file, path, p);
    if (rv != APR_SUCCESS)
        goto cleanup;
    arr = json_array();
    if (!arr) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    if (target.kind != H5S3_H5_LINK_OBJECT || target.type != H5I_GROUP)
        goto cleanup;      /* datasets, datatypes and links have no children */
    rv = h5s3_h5_link_names(&names, &more, target.obj, offset, limit, p);
    if (rv != APR_SUCCESS)
        goto cleanup;
    if (pg) {
        pg->more = more;
        pg->total = H5Gget_info(target.obj, &gi) >= 0 ? gi.nlinks : 0;
    }
    lapl = h5s3_h5_lapl_no_external();
    if (lapl < 0) {
        rv = H5S3_E_NOTHDF5;
        goto cleanup;
    }
    /* path.rstrip('/') */
    plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    prefix = apr_pstrndup(p, path, plen);
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        json_t *entry = child_entry(target.obj, name,
                                    apr_pstrcat(p, prefix, "/", name, NULL),
                                    lapl, p);

        if (!entry || json_array_append_new(arr, entry) < 0) {
            rv = APR_ENOMEM;
            goto cleanup;
        }
    }
cleanup:
    if (lapl >= 0)
        H5Pclose(lapl);
    h5s3_h5_obj_close(&target);
    if (rv != APR_SUCCESS && arr) {
        json_decref(arr);
        arr = NULL;
    }
    *out = arr;
    return quiet_off(&q, rv, out);
}

/* ------------------------------------------------------------------ */
/* meta                                                                 */

static void meta_attrs(json_t *o, hid_t obj, apr_pool_t *p)
{
    json_t *attrs = NULL;
    int total = 0;

    if (obj < 0 || h5s3_h5_attrs(&attrs, &total, obj, H5S3_H5_META_ATTRS, 1,
                                 p) != APR_SUCCESS) {
        set(o, "attributes", json_array());
        set(o, "num_attributes", json_integer(0));
        return;
    }
    set(o, "attributes", attrs);
    set(o, "num_attributes", json_integer(total));
    if (total > H5S3_H5_META_ATTRS)
        set(o, "attributes_truncated", json_true());
}

static void kind(json_t *o, const char *k)
{
    set(o, "kind", json_string(k));
    set(o, "type", json_string(k));
}

apr_status_t h5s3_h5_meta(json_t **out, hid_t file, const char *path,
                          apr_pool_t *p)
{
    h5s3_h5_obj t;
    apr_status_t rv;
    h5s3_h5_quiet q;
    json_t *o = NULL;
    const char *slash, *name;

    *out = NULL;
    if (!path || !p)
        return H5S3_E_INVALID;
    h5s3_h5_quiet_on(&q);
    rv = h5s3_h5_open_path(&t, file, path, p);
    if (rv != APR_SUCCESS)
        goto cleanup;
    /* path.split('/')[-1] if path != '/' else '' */
    slash = strrchr(path, '/');
    name = strcmp(path, "/") == 0 ? "" : (slash ? slash + 1 : path);
    o = json_pack("{s:o, s:o}", "name", h5s3_json_str(name, p),
                  "path", h5s3_json_str(path, p));
    if (!o) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    if (t.soft_target && t.kind == H5S3_H5_LINK_OBJECT) {
        set(o, "link", json_string("soft"));
        set(o, "target", h5s3_json_str(t.soft_target, p));
    }
    switch (t.kind) {
    case H5S3_H5_LINK_DANGLING:
        kind(o, "soft_link");
        set(o, "target", h5s3_json_str(t.soft_target, p));
        meta_attrs(o, -1, p);
        goto cleanup;
    case H5S3_H5_LINK_EXTERNAL:
        kind(o, "external_link");
        set(o, "target_file", h5s3_json_str(t.ext_file, p));
        set(o, "target_path", h5s3_json_str(t.ext_path, p));
        meta_attrs(o, -1, p);
        goto cleanup;
    case H5S3_H5_LINK_USER:
        kind(o, "unknown");
        meta_attrs(o, -1, p);
        goto cleanup;
    default:
        break;
    }
    meta_attrs(o, t.obj, p);
    switch (t.type) {
    case H5I_GROUP:
        kind(o, "group");
        set(o, "num_children", num_children(t.obj));
        break;
    case H5I_DATASET:
        set(o, "kind", json_string("dataset"));
        set(o, "type", json_string("dataset"));  /* replaced below */
        dataset_fields(o, t.obj, 1, p);
        break;
    case H5I_DATATYPE: {
        json_t *tinfo = NULL, *raw = NULL, *grove = NULL;

        kind(o, "datatype");
        set(o, "dtype", h5s3_json_str(dtype_or_void(t.obj, p), p));
        if (h5s3_h5_type_info(&tinfo, &raw, t.obj, p) == APR_SUCCESS) {
            set(o, "type", tinfo);
            set(o, "rawType", raw);
        }
        if (h5s3_h5_type_json(&grove, t.obj, p) == APR_SUCCESS)
            set(o, "hdf5_type", grove);
        break;
    }
    default:
        kind(o, "unknown");
        break;
    }
cleanup:
    h5s3_h5_obj_close(&t);
    if (rv != APR_SUCCESS && o) {
        json_decref(o);
        o = NULL;
    }
    *out = o;
    return quiet_off(&q, rv, out);
}
