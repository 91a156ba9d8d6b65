/*
 * h5grove's /meta/, /attr/ and /paths/ from an open HDF5 file: entity
 * JSON (content.py metadata(), keys in sorted_dict order), attribute
 * values, and the H5Lvisit path list, with h5grove's link resolution
 * modes and error phrases (H5Web matches them by substring).
 * External links are never followed: their targets lie outside S3.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "grove/h5s3_grove_dataset.h"
#include "hdf5/h5s3_h5_attrs.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_quiet.h"
#include "hdf5/h5s3_h5_storage.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_types.h"
#include "json/h5s3_text.h"

/* The end of a public call: the S3 driver's failure, if any, wins over
 * whatever HDF5 made of it. */
static apr_status_t quiet_off(h5s3_h5_quiet *q, h5s3_result *res,
                              apr_status_t rv)
{
    apr_status_t s3 = h5s3_h5_quiet_off(q);

    return h5s3_result_status(res, s3 != APR_SUCCESS ? s3 : rv);
}

const char *h5s3_grove_path_join(const char *prefix, const char *name,
                                 apr_pool_t *p)
{
    size_t n;

    if (prefix == NULL || strcmp(prefix, "/") == 0) {
        return apr_pstrcat(p, "/", name, NULL);
    }
    n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/') {
        n--;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, prefix, n), "/", name, NULL);
}

apr_status_t h5s3_grove_links_parse(h5s3_grove_links *out, h5s3_result *res,
                                    const char *raw, apr_pool_t *p)
{
    *out = H5S3_GROVE_LINKS_ONLY_VALID;
    if (raw == NULL) {
        return APR_SUCCESS;
    }
    if (!strcasecmp(raw, "true") || !strcasecmp(raw, "all")) {
        *out = H5S3_GROVE_LINKS_ALL;
    }
    else if (!strcasecmp(raw, "false") || !strcasecmp(raw, "none")) {
        *out = H5S3_GROVE_LINKS_NONE;
    }
    else if (strcasecmp(raw, "only_valid") != 0) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "%s is not a valid "
                                  "value for link resolution. Accepted values "
                                  "are: all, none or only_valid", raw);
    }
    return APR_SUCCESS;
}

static apr_status_t dump(char **out, json_t *j, apr_pool_t *p)
{
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    char *buf;

    if (n == 0) {
        return APR_ENOMEM;
    }
    buf = apr_palloc(p, n + 1);
    json_dumpb(j, buf, n, JSON_COMPACT | JSON_ENCODE_ANY);
    buf[n] = '\0';
    *out = buf;
    return APR_SUCCESS;
}

/* ---- type objects ------------------------------------------------------ */

/* h5grove 4.0 lists compound members as [{name, ...type}]. */
static void fix_members(json_t *t)
{
    json_t *m, *list, *v, *e;
    const char *k;

    if (!json_is_object(t)) {
        return;
    }
    fix_members(json_object_get(t, "base"));
    m = json_object_get(t, "members");
    if (json_integer_value(json_object_get(t, "class")) != H5T_COMPOUND
        || !json_is_object(m)) {
        return;
    }
    list = json_array();
    json_object_foreach(m, k, v) {
        fix_members(v);
        e = json_pack("{s:s}", "name", k);
        json_object_update(e, v);
        json_array_append_new(list, e);
    }
    json_object_set_new(t, "members", list);
}

static json_t *type_json(hid_t t, apr_pool_t *p)
{
    json_t *j = NULL;

    if (t < 0 || h5s3_h5_type_json(&j, t, p) != APR_SUCCESS || !j) {
        return json_pack("{s:i, s:I}", "class", t >= 0 ? H5Tget_class(t)
                         : -1, "size", (json_int_t)(t >= 0 ? H5Tget_size(t)
                                                    : 0));
    }
    fix_members(j);
    return j;
}

static json_t *space_shape(hid_t space)
{
    hsize_t dims[H5S_MAX_RANK];
    json_t *a;
    int n, i;

    if (space < 0 || H5Sget_simple_extent_type(space) == H5S_NULL) {
        return json_null();
    }
    n = H5Sget_simple_extent_ndims(space);
    a = json_array();
    if (n > 0 && n <= H5S_MAX_RANK
        && H5Sget_simple_extent_dims(space, dims, NULL) >= 0) {
        for (i = 0; i < n; i++) {
            json_array_append_new(a, json_integer((json_int_t)dims[i]));
        }
    }
    return a;
}

/* ---- attributes -------------------------------------------------------- */

/* Attribute names in h5py's attrs order, or by name (metadata()), as
 * many as the entries budget allows: dense attribute storage can hold
 * millions.  On a failure the names listed so far are the answer. */
static apr_array_header_t *attr_names(hid_t obj, int by_name, apr_pool_t *p)
{
    apr_array_header_t *names;

    (void)h5s3_h5_attr_names(&names, obj, 0, by_name, p);
    return names;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *attrs_meta(hid_t obj, apr_pool_t *p)
{
    apr_array_header_t *names = attr_names(obj, 1, p);
    json_t *a = json_array();
    int i;

    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
        hid_t space = attr >= 0 ? H5Aget_space(attr) : -1;
        hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;

        json_array_append_new(a, json_pack(
            "{s:o, s:o, s:o}", "name", h5s3_json_str(name, p),
            "shape", space_shape(space), "type", type_json(type, p)));
        if (type >= 0) {
            H5Tclose(type);
        }
        if (space >= 0) {
            H5Sclose(space);
        }
        if (attr >= 0) {
            H5Aclose(attr);
        }
    }
    return a;
}

/* One attribute's value as JSON text: null for a null dataspace, and
 * for what cannot be read. */
static void attr_value(h5s3_grove_buf *b, hid_t attr)
{
    h5s3_h5_attr_values v;

    if (h5s3_h5_attr_read(&v, attr) == APR_SUCCESS && !v.null_space) {
        h5s3_grove_values_json(b, v.mt, v.buf, v.rank, v.dims, 0);
    }
    else {
        h5s3_grove_buf_add(b, "null", 4);
    }
    h5s3_h5_attr_values_free(&v);
}

/* ---- entities ---------------------------------------------------------- */

typedef enum { AS_OBJECT, AS_SOFT, AS_EXTERNAL } as_kind;

typedef struct {
    as_kind as;
    hid_t obj;
    const char *soft_target;
    const char *ext_file, *ext_path;
} entity_t;

static json_t *link_json(const entity_t *e, const char *name, apr_pool_t *p)
{
    if (e->as == AS_SOFT) {
        return json_pack("{s:s, s:o, s:o}", "kind", "soft_link",
                         "name", h5s3_json_str(name, p),
                         "target_path", h5s3_json_str(e->soft_target, p));
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "kind", "external_link",
                     "name", h5s3_json_str(name, p),
                     "target_file", h5s3_json_str(e->ext_file, p),
                     "target_path", h5s3_json_str(e->ext_path, p));
}

static json_t *filters_json(hid_t dcpl)
{
    int i, n = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
    json_t *a;

    if (n <= 0) {
        return json_null();
    }
    a = json_array();
    for (i = 0; i < n; i++) {
        unsigned flags = 0, cd[32];
        size_t ncd = 32;
        char name[257] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd,
                                         sizeof(name) - 1, name, NULL);

        name[sizeof(name) - 1] = '\0';
        json_array_append_new(a, json_pack(
            "{s:I, s:s}", "id", (json_int_t)id, "name", name));
    }
    return a;
}

static json_t *dataset_json(hid_t d, const char *name, apr_pool_t *p)
{
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hid_t dcpl = H5Dget_create_plist(d);
    json_t *chunks = h5s3_h5_chunks_json(dcpl), *o;

    if (chunks == NULL) {
        chunks = json_null();
    }
    o = json_pack("{s:o, s:o, s:o, s:s, s:o, s:o, s:o}",
                  "attributes", attrs_meta(d, p), "chunks", chunks,
                  "filters", filters_json(dcpl), "kind", "dataset",
                  "name", h5s3_json_str(name, p), "shape", space_shape(space),
                  "type", type_json(type, p));
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    if (type >= 0) {
        H5Tclose(type);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    return o;
}

/* A child link resolved the only_valid way; left as an object with no
 * handle (skipped) when it cannot be read or is user-defined.  An
 * external link whose value is damaged is still listed, with no target. */
static void child_resolve(entity_t *e, hid_t g, const char *name,
                          hid_t lapl, apr_pool_t *p)
{
    h5s3_h5_obj c;
    apr_status_t rv = h5s3_h5_open_link(&c, g, name, lapl, p);

    memset(e, 0, sizeof(*e));
    e->obj = -1;
    if (rv != APR_SUCCESS && c.kind != H5S3_H5_LINK_EXTERNAL) {
        return;
    }
    switch (c.kind) {
    case H5S3_H5_LINK_EXTERNAL:
        e->as = AS_EXTERNAL;
        e->ext_file = c.ext_file;
        e->ext_path = c.ext_path;
        break;
    case H5S3_H5_LINK_DANGLING:
        e->as = AS_SOFT;
        e->soft_target = c.soft_target;
        break;
    case H5S3_H5_LINK_OBJECT:
        e->obj = c.obj;
        e->soft_target = c.soft_target;
        break;
    default:
        break;
    }
}

static json_t *entity_json(const entity_t *e, const char *name,
                           const char *path, int depth,
                           apr_array_header_t *ahead, apr_pool_t *p);

static json_t *children_json(hid_t g, const char *path,
                             apr_array_header_t *ahead, apr_pool_t *p)
{
    apr_array_header_t *keys;
    hid_t lapl;
    json_t *a = json_array();
    int i;

    /* h5grove lists every child: the entries budget bounds how many (over
     * it, the request's limit is set and the route answers 422). */
    if (h5s3_h5_link_names(&keys, NULL, g, 0, 0, p) != APR_SUCCESS) {
        return a;
    }
    lapl = h5s3_h5_lapl_no_external();

    for (i = 0; i < keys->nelts; i++) {
        const char *name = APR_ARRAY_IDX(keys, i, const char *);
        const char *cpath = h5s3_grove_path_join(path, name, p);
        entity_t e;
        json_t *c;

        child_resolve(&e, g, name, lapl, p);
        if (e.as == AS_OBJECT && e.obj < 0) {
            continue;           /* user-defined or damaged link */
        }
        c = entity_json(&e, h5s3_grove_basename(cpath), cpath, 0, NULL, p);
        if (e.obj >= 0) {
            H5Oclose(e.obj);
        }
        if (!c) {
            continue;
        }
        if (ahead && ahead->nelts < H5S3_GROVE_MAX_AHEAD
            && strcmp(json_string_value(json_object_get(c, "kind")),
                      "group") != 0) {
            h5s3_grove_ahead *h = apr_array_push(ahead);

            h->path = cpath;
            if (dump((char **)&h->json, c, p) != APR_SUCCESS) {
                ahead->nelts--;
            }
        }
        json_array_append_new(a, c);
    }
    if (lapl >= 0) {
        H5Pclose(lapl);
    }
    return a;
}

static json_t *entity_json(const entity_t *e, const char *name,
                           const char *path, int depth,
                           apr_array_header_t *ahead, apr_pool_t *p)
{
    json_t *o;

    if (e->as != AS_OBJECT) {
        return link_json(e, name, p);
    }
    switch (H5Iget_type(e->obj)) {
    case H5I_GROUP:
        if (depth <= 0) {
            return json_pack("{s:o, s:s, s:o}", "attributes",
                             attrs_meta(e->obj, p), "kind", "group",
                             "name", h5s3_json_str(name, p));
        }
        return json_pack("{s:o, s:o, s:s, s:o}", "attributes",
                         attrs_meta(e->obj, p), "children",
                         children_json(e->obj, path, ahead, p),
                         "kind", "group", "name", h5s3_json_str(name, p));
    case H5I_DATASET:
        return dataset_json(e->obj, name, p);
    case H5I_DATATYPE:
        return json_pack("{s:o, s:s, s:o, s:o}", "attributes",
                         attrs_meta(e->obj, p), "kind", "datatype",
                         "name", h5s3_json_str(name, p), "type",
                         type_json(e->obj, p));
    default:
        o = json_pack("{s:s, s:o}", "kind", "other",
                      "name", h5s3_json_str(name, p));
        return o;
    }
}

/*
 * get_entity_from_file: PATH resolved with LINKS.  H5S3_E_NOPATH /
 * H5S3_E_NOTFOUND ("Cannot resolve ..."), told in res.
 */
static apr_status_t resolve(entity_t *e, h5s3_result *res, hid_t fid,
                            const char *file, const char *path,
                            h5s3_grove_links links, apr_pool_t *p)
{
    h5s3_h5_obj o;
    apr_status_t rv;

    memset(e, 0, sizeof(*e));
    e->obj = -1;
    rv = h5s3_h5_open_path(&o, fid, path, p);
    if (rv == H5S3_E_NOPATH
        || (rv == APR_SUCCESS && o.kind == H5S3_H5_LINK_USER)) {
        h5s3_h5_obj_close(&o);
        return h5s3_result_printf(res, H5S3_E_NOPATH,
                                  "%s is not a valid path in %s", path,
                                  h5s3_grove_basename(file));
    }
    if (rv != APR_SUCCESS) {
        return h5s3_result_status(res, rv);
    }
    e->soft_target = o.soft_target;
    e->ext_file = o.ext_file;
    e->ext_path = o.ext_path;
    if (o.kind == H5S3_H5_LINK_OBJECT
        && (links != H5S3_GROVE_LINKS_NONE || !o.soft_target)) {
        e->as = AS_OBJECT;
        e->obj = o.obj;
        return APR_SUCCESS;
    }
    h5s3_h5_obj_close(&o);
    e->as = o.kind == H5S3_H5_LINK_EXTERNAL ? AS_EXTERNAL : AS_SOFT;
    if (links == H5S3_GROVE_LINKS_ALL) {
        const char *repr = e->as == AS_SOFT
            ? apr_psprintf(p, "<SoftLink to \"%s\">", e->soft_target)
            : apr_psprintf(p, "<ExternalLink to \"%s\" in file \"%s\"",
                           e->ext_path, e->ext_file);

        return h5s3_result_printf(res, H5S3_E_NOTFOUND,
                                  "Cannot resolve %s at %s of %s", repr, path,
                                  h5s3_grove_basename(file));
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_grove_meta(char **json, h5s3_result *res,
                             apr_array_header_t **ahead, hid_t fid,
                             const char *file_name, const char *path,
                             h5s3_grove_links links, apr_pool_t *p)
{
    h5s3_h5_quiet q;
    entity_t e;
    json_t *o = NULL;
    apr_status_t rv;

    if (path == NULL) {
        path = "/";
    }
    if (ahead) {
        *ahead = apr_array_make(p, 16, sizeof(h5s3_grove_ahead));
    }
    h5s3_h5_quiet_on(&q);
    rv = resolve(&e, res, fid, file_name, path, links, p);
    if (rv == APR_SUCCESS) {
        o = entity_json(&e, h5s3_grove_basename(path), path, 1,
                        ahead ? *ahead : NULL, p);
        rv = o ? dump(json, o, p) : APR_ENOMEM;
    }
    if (o) {
        json_decref(o);
    }
    if (e.obj >= 0) {
        H5Oclose(e.obj);
    }
    return quiet_off(&q, res, rv);
}

apr_status_t h5s3_grove_attr(char **json, h5s3_result *res, hid_t fid,
                             const char *file_name, const char *path,
                             const apr_array_header_t *keys, apr_pool_t *p)
{
    h5s3_h5_quiet q;
    entity_t e;
    h5s3_grove_buf *b;
    const apr_array_header_t *names;
    apr_status_t rv;
    int i;

    if (path == NULL) {
        path = "/";
    }
    h5s3_h5_quiet_on(&q);
    rv = resolve(&e, res, fid, file_name, path, H5S3_GROVE_LINKS_ONLY_VALID,
                 p);
    if (rv != APR_SUCCESS) {
        return quiet_off(&q, res, rv);
    }
    if (e.as != AS_OBJECT) {
        return quiet_off(&q, res, h5s3_result_printf(
            res, H5S3_E_INVALID, "%s is not a resolved entity", path));
    }
    names = keys ? keys : attr_names(e.obj, 0, p);
    b = h5s3_grove_buf_make(p);
    h5s3_grove_buf_add(b, "{", 1);
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        hid_t attr = H5Aexists(e.obj, name) > 0
                     ? H5Aopen(e.obj, name, H5P_DEFAULT) : -1;

        if (attr < 0) {
            rv = h5s3_result_printf(res, H5S3_E_NOPATH,
                                    "%s is not an attribute of %s", name,
                                    path);
            break;
        }
        if (i) {
            h5s3_grove_buf_add(b, ",", 1);
        }
        h5s3_grove_put_string(b, name, strlen(name));
        h5s3_grove_buf_add(b, ":", 1);
        attr_value(b, attr);
        H5Aclose(attr);
    }
    h5s3_grove_buf_add(b, "}", 1);
    H5Oclose(e.obj);
    if (rv == APR_SUCCESS && b->oom) {
        rv = APR_ENOMEM;
    }
    if (rv == APR_SUCCESS) {
        *json = apr_pstrmemdup(p, b->data, b->len);
    }
    return quiet_off(&q, res, rv);
}

/* ---- paths ------------------------------------------------------------- */

typedef struct {
    h5s3_grove_buf *b;
    const char *base;
    const char *file;
    h5s3_grove_links links;
    hid_t lapl;
    const char *err;
    int over;                   /* the entries budget ran out */
    apr_pool_t *p;
} visit_t;

static herr_t visit_link(hid_t g, const char *name, const H5L_info_t *li,
                         void *op)
{
    visit_t *v = op;
    const char *full;

    /* H5Lvisit walks the whole tree below: bounded by the entries budget
     * (over it the request's limit is set and the route answers 422). */
    if (h5s3_h5_charge(H5S3_H5_LIMIT_ENTRIES, 1) != APR_SUCCESS) {
        v->over = 1;
        return 1;
    }
    full = h5s3_grove_path_join(v->base, name, v->p);

    if (v->links == H5S3_GROVE_LINKS_ALL
        && (li->type == H5L_TYPE_SOFT || li->type == H5L_TYPE_EXTERNAL)
        && (li->type == H5L_TYPE_EXTERNAL
            || H5Oexists_by_name(g, name, v->lapl) <= 0)) {
        char *val = apr_palloc(v->p, li->u.val_size + 1);
        const char *repr = "link";

        if (H5Lget_val(g, name, val, li->u.val_size, v->lapl) >= 0) {
            val[li->u.val_size] = '\0';
            if (li->type == H5L_TYPE_SOFT) {
                repr = apr_psprintf(v->p, "<SoftLink to \"%s\">", val);
            }
            else {
                const char *f = NULL, *o = NULL;
                unsigned flags;

                if (H5Lunpack_elink_val(val, li->u.val_size, &flags, &f,
                                        &o) >= 0) {
                    repr = apr_psprintf(v->p, "<ExternalLink to \"%s\" in "
                                        "file \"%s\"", o ? o : "",
                                        f ? f : "");
                }
            }
        }
        v->err = apr_psprintf(v->p, "Cannot resolve %s at %s of %s", repr,
                              full, h5s3_grove_basename(v->file));
        return 1;
    }
    h5s3_grove_buf_add(v->b, ",", 1);
    h5s3_grove_put_string(v->b, full, strlen(full));
    return 0;
}

apr_status_t h5s3_grove_paths(char **json, h5s3_result *res, hid_t fid,
                              const char *file_name, const char *path,
                              h5s3_grove_links links, apr_pool_t *p)
{
    h5s3_h5_quiet q;
    entity_t e;
    h5s3_grove_buf *b;
    visit_t v;
    apr_status_t rv;
    herr_t hr;

    if (path == NULL) {
        path = "/";
    }
    h5s3_h5_quiet_on(&q);
    rv = resolve(&e, res, fid, file_name, path, links, p);
    if (rv != APR_SUCCESS) {
        return quiet_off(&q, res, rv);
    }
    if (e.as != AS_OBJECT || H5Iget_type(e.obj) != H5I_GROUP) {
        if (e.obj >= 0) {
            H5Oclose(e.obj);
        }
        return quiet_off(&q, res, h5s3_result_printf(
            res, H5S3_E_INVALID, "%s is not a group", path));
    }
    b = h5s3_grove_buf_make(p);
    h5s3_grove_buf_add(b, "[", 1);
    h5s3_grove_put_string(b, path, strlen(path));
    memset(&v, 0, sizeof(v));
    v.b = b;
    v.base = path;
    v.file = file_name;
    v.links = links;
    v.lapl = h5s3_h5_lapl_no_external();
    v.p = p;
    hr = H5Lvisit(e.obj, H5_INDEX_NAME, H5_ITER_INC, visit_link, &v);
    if (v.lapl >= 0) {
        H5Pclose(v.lapl);
    }
    H5Oclose(e.obj);
    h5s3_grove_buf_add(b, "]", 1);
    if (v.over) {
        return quiet_off(&q, res, H5S3_E_LIMIT);
    }
    if (v.err) {
        return quiet_off(&q, res, h5s3_result_set(res, H5S3_E_NOTFOUND,
                                                  v.err));
    }
    if (hr < 0) {
        return quiet_off(&q, res, H5S3_E_NOTHDF5);
    }
    if (b->oom) {
        return quiet_off(&q, res, APR_ENOMEM);
    }
    *json = apr_pstrmemdup(p, b->data, b->len);
    return quiet_off(&q, res, APR_SUCCESS);
}
