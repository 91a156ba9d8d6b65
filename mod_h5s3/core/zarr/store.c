/*
 * The consolidated metadata of an HDF5 file as a Zarr v2 store
 * (docs/zarr.md): a walk of the hard links from the root group, each
 * group a .zgroup and .zattrs, each dataset the store can serve a .zarray
 * and .zattrs; what it cannot serve is named in the parent's .zattrs.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_base64.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "zarr/h5s3_zarr.h"
#include "zarr/h5s3_zarr_private.h"
#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_attrs.h"
#include "hdf5/h5s3_h5_filters.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_quiet.h"
#include "hdf5/h5s3_h5_storage.h"
#include "hdf5/h5s3_h5_types.h"
#include "hdf5/h5s3_h5_vlen.h"
#include "json/h5s3_json.h"
#include <math.h>
#include "json/h5s3_text.h"
#include "viewer/h5s3_h5_values.h"

#define NC_DIM_ONLY "This is a netCDF dimension but not a netCDF variable"

typedef struct walk {
    apr_pool_t *p;
    h5s3_result *res;
    json_t *meta;               /* the "metadata" object */
    apr_hash_t *seen;           /* object addresses reached */
    apr_hash_t *phony;          /* length -> apr_array of names */
    int nphony;
} walk;

/* ---- attributes ------------------------------------------------------------ */

/* One element at b of native memory type mt, for the simple classes;
 * NULL for the others. */
static json_t *element(hid_t mt, const char *b)
{
    H5T_class_t cls = H5Tget_class(mt);
    size_t size = H5Tget_size(mt);

    if (cls == H5T_INTEGER) {
        int sgn = H5Tget_sign(mt) != H5T_SGN_NONE;
        apr_int64_t s = 0;
        apr_uint64_t u = 0;

        switch (size) {
        case 1: s = *(const signed char *)b; u = *(const unsigned char *)b;
            break;
        case 2: s = *(const short *)b; u = *(const unsigned short *)b; break;
        case 4: s = *(const int *)b; u = *(const unsigned *)b; break;
        case 8: s = *(const apr_int64_t *)b; u = *(const apr_uint64_t *)b;
            break;
        default: return NULL;
        }
        if (sgn) {
            return json_integer((json_int_t)s);
        }
        return u > (apr_uint64_t)INT64_MAX ? json_real((double)u)
                                           : json_integer((json_int_t)u);
    }
    if (cls == H5T_FLOAT && size == sizeof(double)) {
        return h5s3_zarr_real(*(const double *)b);
    }
    if (cls == H5T_FLOAT && size == sizeof(float)) {
        return h5s3_zarr_real((double)*(const float *)b);
    }
    if (cls == H5T_STRING && H5Tis_variable_str(mt) > 0) {
        const char *s = *(char *const *)b;
        return h5s3_json_utf8(s ? s : "", s ? strlen(s) : 0);
    }
    if (cls == H5T_STRING) {
        size_t n = 0;
        while (n < size && b[n] != '\0') {
            n++;
        }
        if (H5Tget_strpad(mt) == H5T_STR_SPACEPAD) {
            while (n > 0 && b[n - 1] == ' ') {
                n--;
            }
        }
        return h5s3_json_utf8(b, n);
    }
    return NULL;
}

/* Nested lists of dims[0] x dims[1] x ... elements from *at. */
static json_t *nest(hid_t mt, const char **at, size_t esize, int rank,
                    const hsize_t *dims)
{
    json_t *a, *e;
    hsize_t i;

    if (rank == 0) {
        e = element(mt, *at);
        *at += esize;
        return e;
    }
    a = json_array();
    for (i = 0; i < dims[0]; i++) {
        if ((e = nest(mt, at, esize, rank - 1, dims + 1)) == NULL) {
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, e);
    }
    return a;
}

/*
 * An attribute as JSON: numbers (non-finite ones spelt as Zarr does) and
 * strings written here; other classes as the viewer writes them.  A
 * one-element 1-D array is its element, as netCDF reads it.
 */
static apr_status_t attr_json(json_t **out, hid_t obj, hid_t attr,
                              apr_pool_t *p)
{
    h5s3_h5_attr_values v;
    apr_status_t rv;
    const char *at;

    *out = NULL;
    rv = h5s3_h5_attr_read(&v, attr);
    if (rv == APR_SUCCESS && v.null_space) {
        *out = json_null();
    }
    else if (rv == APR_SUCCESS) {
        int rank = v.rank == 1 && v.dims[0] == 1 ? 0 : v.rank;

        at = v.buf;
        *out = v.buf ? nest(v.mt, &at, H5Tget_size(v.mt), rank, v.dims)
                     : NULL;
        if (*out == NULL && H5Tget_class(v.mt) == H5T_ENUM
            && h5s3_h5_type_is_bool(v.mt) && v.n == 1) {
            *out = json_boolean(*(const char *)v.buf != 0);
        }
    }
    h5s3_h5_attr_values_free(&v);
    if (rv == APR_SUCCESS && *out == NULL) {
        rv = h5s3_h5_attr_value(out, obj, attr, p);
        if (rv == APR_SUCCESS && *out) {
            h5s3_json_reals_repr(*out, p);
        }
    }
    return rv;
}

/* A string attribute's value (scalar or the first element), or NULL. */
static const char *attr_string(hid_t obj, const char *name, apr_pool_t *p)
{
    hid_t a, t;
    json_t *j = NULL;
    const char *s = NULL;

    if (H5Aexists(obj, name) <= 0 || (a = H5Aopen(obj, name, H5P_DEFAULT))
        < 0) {
        return NULL;
    }
    t = H5Aget_type(a);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING
        && attr_json(&j, obj, a, p) == APR_SUCCESS && json_is_string(j)) {
        s = apr_pstrdup(p, json_string_value(j));
    }
    json_decref(j);
    if (t >= 0) {
        H5Tclose(t);
    }
    H5Aclose(a);
    return s;
}

static apr_status_t attrs_of(json_t **out, hid_t obj, apr_pool_t *p)
{
    apr_array_header_t *names;
    apr_status_t rv;
    int i;

    *out = json_object();
    rv = h5s3_h5_attr_names(&names, obj, 0, 0, p);
    if (rv != APR_SUCCESS) {
        return rv == H5S3_E_LIMIT ? rv : APR_SUCCESS;
    }
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        hid_t a;
        json_t *j = NULL;

        if (h5s3_zarr_attr_hidden(name)) {
            continue;
        }
        if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0) {
            continue;
        }
        rv = attr_json(&j, obj, a, p);
        H5Aclose(a);
        if (rv == H5S3_E_LIMIT) {
            return rv;
        }
        /* An attribute that cannot be read is left out, not the object. */
        if (rv == APR_SUCCESS && j) {
            json_object_set_new(*out, name, j);
        }
    }
    return APR_SUCCESS;
}

/* ---- dimensions ------------------------------------------------------------ */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

/* The last component of the HDF5 name of the object referenced. */
static const char *scale_name(hid_t did, const hobj_ref_t *ref, apr_pool_t *p)
{
    hid_t o = H5Rdereference2(did, H5P_DEFAULT, H5R_OBJECT, ref);
    char buf[1024];
    ssize_t n;

    if (o < 0) {
        return NULL;
    }
    n = H5Iget_name(o, buf, sizeof(buf));
    H5Oclose(o);
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        return NULL;
    }
    return apr_pstrdup(p, base_name(buf));
}

/* The scale names of DIMENSION_LIST, one per dim; 0 when absent or bad. */
static int dimension_list(const char **names, hid_t did, int rank,
                          apr_pool_t *p)
{
    hid_t a = -1, space = -1, mt = -1;
    hvl_t vl[H5S3_ZARR_RANK_MAX];
    hsize_t n = 0;
    int ok = 0, i, loaded = 0, after = 0;

    if (H5Aexists(did, "DIMENSION_LIST") <= 0) {
        return 0;
    }
    memset(vl, 0, sizeof(vl));
    if ((a = H5Aopen(did, "DIMENSION_LIST", H5P_DEFAULT)) < 0
        || (space = H5Aget_space(a)) < 0
        || H5Sget_simple_extent_ndims(space) != 1
        || H5Sget_simple_extent_dims(space, &n, NULL) < 0
        || n != (hsize_t)rank
        || (mt = H5Tvlen_create(H5T_STD_REF_OBJ)) < 0
        /* What reading allocates is charged first: the lists are the
         * file's, as long as it says. */
        || h5s3_h5_attr_vlen_charge(a, mt, n, &after) != APR_SUCCESS
        || H5Aread(a, mt, vl) < 0) {
        goto cleanup;
    }
    loaded = 1;
    if (after) {
        h5s3_h5_attr_vlen_charge_read(mt, vl, n);
    }
    ok = 1;
    for (i = 0; i < rank && ok; i++) {
        names[i] = vl[i].len >= 1 && vl[i].p
                   ? scale_name(did, (const hobj_ref_t *)vl[i].p, p) : NULL;
        ok = names[i] != NULL;
    }

cleanup:
    if (loaded) {
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, vl);
    }
    if (mt >= 0) {
        H5Tclose(mt);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    if (a >= 0) {
        H5Aclose(a);
    }
    return ok;
}

/* phony_dim_N: the k-th dim of this array of a length takes the k-th
 * name given to that length, a new one when there is none yet. */
static json_t *phony_dims(walk *w, int rank, const hsize_t *shape)
{
    json_t *a = json_array();
    int i, j;

    for (i = 0; i < rank; i++) {
        int k = 0;
        apr_array_header_t *names = apr_hash_get(w->phony, &shape[i],
                                                 sizeof(hsize_t));
        for (j = 0; j < i; j++) {
            k += shape[j] == shape[i];
        }
        if (names == NULL) {
            hsize_t *len = apr_pmemdup(w->p, &shape[i], sizeof(hsize_t));
            names = apr_array_make(w->p, 2, sizeof(const char *));
            apr_hash_set(w->phony, len, sizeof(hsize_t), names);
        }
        while (names->nelts <= k) {
            APR_ARRAY_PUSH(names, const char *) =
                apr_psprintf(w->p, "phony_dim_%d", w->nphony++);
        }
        json_array_append_new(a, json_string(APR_ARRAY_IDX(names, k,
                                                           const char *)));
    }
    return a;
}

static json_t *array_dimensions(walk *w, hid_t did, const char *path,
                                int rank, const hsize_t *shape, int is_scale)
{
    const char *names[H5S3_ZARR_RANK_MAX];
    json_t *a;
    int i;

    if (rank > 0 && dimension_list(names, did, rank, w->p)) {
        a = json_array();
        for (i = 0; i < rank; i++) {
            json_array_append_new(a, json_string(names[i]));
        }
        return a;
    }
    if (is_scale && rank == 1) {
        return json_pack("[s]", base_name(path));
    }
    return phony_dims(w, rank, shape);
}

/* ---- arrays ------------------------------------------------------------------ */

/*
 * Is every chunk of the dataset stored, so no client ever needs the fill
 * value?  Walks the chunk index (within the request's budgets).
 */
static int fully_allocated(hid_t did, H5D_layout_t layout, int rank,
                           const hsize_t *shape, const hsize_t *chunk)
{
    unsigned long long total = 1;
    hsize_t n = 0;
    hid_t space;
    int i, ok;

    if (layout == H5D_COMPACT) {
        return 1;
    }
    if (layout == H5D_CONTIGUOUS) {
        return H5Dget_offset(did) != HADDR_UNDEF;
    }
    for (i = 0; i < rank; i++) {
        if (!H5S3_MUL(&total, total, h5s3_ceil_div(shape[i], chunk[i]))) {
            return 0;
        }
    }
    if (total == 0) {
        return 1;
    }
    /* HDF5 1.10 wants the dataspace itself here, not H5S_ALL. */
    if ((space = H5Dget_space(did)) < 0) {
        return 0;
    }
    ok = H5Dget_num_chunks(did, space, &n) >= 0 && n == total;
    H5Sclose(space);
    return ok;
}

/* The _FillValue attribute of a numeric dataset as JSON, or NULL. */
static json_t *cf_fill_value(hid_t did, const h5s3_zarr_type *t,
                             apr_pool_t *p)
{
    hid_t a;
    json_t *j = NULL;

    if (!strchr("iufb", t->kind) || H5Aexists(did, "_FillValue") <= 0
        || (a = H5Aopen(did, "_FillValue", H5P_DEFAULT)) < 0) {
        return NULL;
    }
    if (attr_json(&j, did, a, p) != APR_SUCCESS
        || !(json_is_number(j) || json_is_boolean(j) || json_is_string(j))) {
        json_decref(j);
        j = NULL;
    }
    H5Aclose(a);
    return j;
}

/*
 * The fill value as Zarr v2 writes it for the dtype.  xarray copies it
 * into _FillValue and masks every value equal to it, so it follows
 * netCDF's rule, where only the _FillValue attribute masks: that
 * attribute when there is one; else null when every chunk is stored
 * (nothing reads a fill value then); else HDF5's fill value (zero when
 * the file set none), so missing chunks read as HDF5 reads them
 * (docs/zarr.md).  null for vlen strings.
 */
static json_t *fill_value(hid_t did, hid_t dcpl, const h5s3_zarr_type *t,
                          H5D_layout_t layout, int rank,
                          const hsize_t *shape, const hsize_t *chunk,
                          apr_pool_t *p)
{
    H5D_fill_value_t st;
    unsigned char *b;
    json_t *cf = cf_fill_value(did, t, p);

    if (cf) {
        return cf;
    }
    if (t->vlen_str || H5Pfill_value_defined(dcpl, &st) < 0
        || st == H5D_FILL_VALUE_UNDEFINED || t->size == 0
        || fully_allocated(did, layout, rank, shape, chunk)) {
        return json_null();
    }
    b = apr_pcalloc(p, t->size);
    if (H5Pget_fill_value(dcpl, t->mtype, b) < 0) {
        return json_null();
    }
    return h5s3_zarr_fill_json(b, t, p);
}

/* The chunk shape and codecs of dataset did; *passthrough when chunks go
 * as stored. */
apr_status_t h5s3_zarr_layout(h5s3_result *res, hsize_t *chunk, json_t **filters,
                              json_t **compressor, int *passthrough,
                              H5D_layout_t *layout, hid_t did, hid_t dcpl,
                              const h5s3_zarr_type *t, int rank,
                              const hsize_t *shape)
{
    h5s3_zarr_filter f[16];
    int i, n;
    apr_uint64_t row = t->size ? t->size : sizeof(char *);

    *filters = json_null();
    *compressor = json_null();
    *passthrough = 0;
    *layout = H5Pget_layout(dcpl);
    for (i = 0; i < rank; i++) {
        chunk[i] = shape[i] > 0 ? shape[i] : 1;
    }
    if (*layout == H5D_CHUNKED) {
        if (H5Pget_chunk(dcpl, rank, chunk) != rank) {
            return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                                   "a chunk shape HDF5 cannot tell");
        }
        for (i = 0; i < rank; i++) {
            if (chunk[i] == 0) {
                return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                                       "a chunk dimension of 0");
            }
        }
        n = H5Pget_nfilters(dcpl);
        if (n < 0 || n > 16) {
            return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                                   "a filter pipeline HDF5 cannot tell");
        }
        for (i = 0; i < n; i++) {
            unsigned flags;
            size_t ncd = 8;
            char name[64];

            f[i].id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, f[i].cd,
                                     sizeof(name), name, NULL);
            f[i].ncd = ncd < 8 ? ncd : 8;
        }
        if (!t->vlen_str && t->kind != 'V') {
            *passthrough = h5s3_zarr_codecs(filters, compressor, f, n,
                                            t->size);
        }
        if (!*passthrough) {
            H5Z_filter_t id;
            const char *name;

            if (h5s3_h5_filter_missing(&id, &name, dcpl, res->p)) {
                return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "its "
                                          "chunks need the %s filter "
                                          "(id %d), which this server does "
                                          "not have", name, (int)id);
            }
        }
        return APR_SUCCESS;
    }
    if (*layout == H5D_CONTIGUOUS && rank > 0) {
        for (i = 1; i < rank; i++) {
            if (!H5S3_MUL(&row, row, chunk[i])) {
                row = APR_UINT64_MAX;
            }
        }
        chunk[0] = h5s3_zarr_contig_rows(shape[0], row);
    }
    (void)did;
    return APR_SUCCESS;
}

static json_t *array_zarray(walk *w, hid_t did, hid_t dcpl,
                            const h5s3_zarr_type *t, int rank,
                            const hsize_t *shape, const char **why)
{
    hsize_t chunk[H5S3_ZARR_RANK_MAX];
    json_t *filters, *compressor, *jshape, *jchunks, *z;
    int pass, i;
    H5D_layout_t layout;

    h5s3_result r;

    h5s3_result_init(&r, w->p);
    if (h5s3_zarr_layout(&r, chunk, &filters, &compressor, &pass, &layout,
                         did, dcpl, t, rank, shape) != APR_SUCCESS) {
        *why = h5s3_result_detail(&r, "a chunk layout HDF5 does not "
                                  "describe");
        return NULL;
    }
    if (t->vlen_str) {
        json_decref(filters);
        filters = json_pack("[{s:s}]", "id", "vlen-utf8");
    }
    jshape = json_array();
    jchunks = json_array();
    for (i = 0; i < rank; i++) {
        json_array_append_new(jshape, json_integer((json_int_t)shape[i]));
        json_array_append_new(jchunks, json_integer((json_int_t)chunk[i]));
    }
    z = json_pack("{s:i, s:o, s:o, s:O, s:o, s:o, s:o, s:s, s:s}",
                  "zarr_format", 2, "shape", jshape, "chunks", jchunks,
                  "dtype", t->dtype, "compressor", compressor,
                  "filters", filters, "fill_value", fill_value(did, dcpl, t, layout, rank, shape,
                                          chunk, w->p),
                  "order", "C", "dimension_separator", ".");
    return z;
}

/* A dataset: its .zarray and .zattrs, or the reason it is left out
 * (NULL: listed, or not an array of the store at all). */
static const char *add_dataset(walk *w, hid_t did, const char *zpath,
                               const char *h5path)
{
    hid_t ftype = -1, space = -1, dcpl = -1;
    hsize_t shape[H5S3_ZARR_RANK_MAX];
    h5s3_zarr_type t;
    h5s3_result r;
    const char *why = NULL, *cls, *name;
    json_t *za = NULL, *attrs = NULL;
    int rank, is_scale;

    memset(&t, 0, sizeof(t));
    t.mtype = -1;
    h5s3_result_init(&r, w->p);
    cls = attr_string(did, "CLASS", w->p);
    name = attr_string(did, "NAME", w->p);
    is_scale = cls && !strcmp(cls, "DIMENSION_SCALE");
    if (is_scale && name && !strncmp(name, NC_DIM_ONLY, strlen(NC_DIM_ONLY))) {
        /* Names a dimension; netCDF shows no variable for it. */
        return NULL;
    }
    dcpl = H5Dget_create_plist(did);
    if (dcpl < 0) {
        why = "its creation properties cannot be read";
        goto cleanup;
    }
    if (h5s3_h5_storage_check(&r, dcpl, h5path, w->p) != APR_SUCCESS) {
        why = h5s3_result_detail(&r, "its storage is outside the file");
        goto cleanup;
    }
    space = H5Dget_space(did);
    rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank < 0 || rank > H5S3_ZARR_RANK_MAX
        || H5Sget_simple_extent_type(space) == H5S_NULL
        || H5Sget_simple_extent_dims(space, shape, NULL) < 0) {
        why = "an empty or unreadable dataspace";
        goto cleanup;
    }
    ftype = H5Dget_type(did);
    if (ftype < 0 || h5s3_zarr_type_of(&t, &r, ftype) != APR_SUCCESS) {
        why = h5s3_result_detail(&r, "a type the store cannot serve");
        goto cleanup;
    }
    za = array_zarray(w, did, dcpl, &t, rank, shape, &why);
    if (za == NULL) {
        goto cleanup;
    }
    if (attrs_of(&attrs, did, w->p) == H5S3_E_LIMIT) {
        w->res->status = H5S3_E_LIMIT;
    }
    json_object_set_new(attrs, "_ARRAY_DIMENSIONS",
                        array_dimensions(w, did, h5path, rank, shape,
                                         is_scale));
    json_object_set_new(w->meta, apr_pstrcat(w->p, zpath, "/.zarray", NULL),
                        za);
    json_object_set_new(w->meta, apr_pstrcat(w->p, zpath, "/.zattrs", NULL),
                        attrs);

cleanup:
    h5s3_zarr_type_close(&t);
    if (ftype >= 0) {
        H5Tclose(ftype);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    return why;
}

/* ---- groups ------------------------------------------------------------------ */

static apr_status_t add_group(walk *w, hid_t g, const char *zpath,
                              const char *h5path, int depth);

/* "Key of the store" for a child: "name" at the root, else "zpath/name". */
static const char *child_key(walk *w, const char *zpath, const char *name)
{
    return *zpath ? apr_pstrcat(w->p, zpath, "/", name, NULL)
                  : apr_pstrdup(w->p, name);
}

/* One link of a group; *why the reason when it is left out. */
static apr_status_t add_child(walk *w, hid_t g, const char *zpath,
                              const char *h5path, const char *name,
                              int depth, const char **why)
{
    H5L_info_t li;
    H5O_info_t oi;
    hid_t o;
    const char *key = child_key(w, zpath, name);
    const char *path = apr_pstrcat(w->p, strcmp(h5path, "/") ? h5path : "",
                                   "/", name, NULL);
    apr_status_t rv = APR_SUCCESS;
    haddr_t *addr;

    *why = NULL;
    if (!strcmp(name, ".zgroup") || !strcmp(name, ".zattrs")
        || !strcmp(name, ".zarray") || !strcmp(name, ".zmetadata")) {
        *why = "its name is a Zarr metadata key";
        return APR_SUCCESS;
    }
    if (H5Lget_info(g, name, &li, H5P_DEFAULT) < 0) {
        *why = "its link cannot be read";
        return APR_SUCCESS;
    }
    if (li.type == H5L_TYPE_SOFT) {
        *why = "a soft link (the store lists hard links only)";
        return APR_SUCCESS;
    }
    if (li.type != H5L_TYPE_HARD) {
        *why = "an external or user-defined link is never followed";
        return APR_SUCCESS;
    }
    if ((o = H5Oopen(g, name, H5P_DEFAULT)) < 0
        || H5Oget_info2(o, &oi, H5O_INFO_BASIC) < 0) {
        if (o >= 0) {
            H5Oclose(o);
        }
        *why = "the object cannot be opened";
        return APR_SUCCESS;
    }
    if (apr_hash_get(w->seen, &oi.addr, sizeof(oi.addr))) {
        *why = "an object already in the store under another name";
        H5Oclose(o);
        return APR_SUCCESS;
    }
    addr = apr_pmemdup(w->p, &oi.addr, sizeof(oi.addr));
    apr_hash_set(w->seen, addr, sizeof(*addr), "");
    if (oi.type == H5O_TYPE_GROUP) {
        if (depth >= H5S3_ZARR_MAX_DEPTH) {
            *why = "groups nested too deep";
        }
        else {
            rv = add_group(w, o, key, path, depth + 1);
            /* A group HDF5 cannot list is left out, not the file; a
             * limit or an S3 failure still ends the request. */
            if (rv == H5S3_E_NOTHDF5) {
                *why = "the group cannot be listed";
                h5s3_result_reset(w->res);
                rv = APR_SUCCESS;
            }
        }
    }
    else if (oi.type == H5O_TYPE_DATASET) {
        *why = add_dataset(w, o, key, path);
    }
    H5Oclose(o);
    return rv;
}

static apr_status_t add_group(walk *w, hid_t g, const char *zpath,
                              const char *h5path, int depth)
{
    apr_array_header_t *names;
    json_t *attrs = NULL, *skipped = json_object();
    apr_status_t rv;
    int i;

    rv = h5s3_h5_link_names(&names, NULL, g, 0, 0, w->p);
    if (rv != APR_SUCCESS) {
        json_decref(skipped);
        return h5s3_result_printf(w->res, rv, "Group '%s' cannot be listed",
                                  h5path);
    }
    for (i = 0; i < names->nelts && rv == APR_SUCCESS; i++) {
        const char *why = NULL;
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        rv = add_child(w, g, zpath, h5path, name, depth, &why);
        if (why) {
            json_object_set_new(skipped, name, json_string(why));
        }
    }
    if (rv == APR_SUCCESS && w->res->status == H5S3_E_LIMIT) {
        rv = H5S3_E_LIMIT;
    }
    if (rv == APR_SUCCESS) {
        rv = attrs_of(&attrs, g, w->p);
    }
    if (rv != APR_SUCCESS) {
        json_decref(skipped);
        json_decref(attrs);
        return rv;
    }
    if (json_object_size(skipped)) {
        json_object_set_new(attrs, "_h5s3_skipped", skipped);
    }
    else {
        json_decref(skipped);
    }
    json_object_set_new(w->meta, *zpath ? apr_pstrcat(w->p, zpath,
                                                      "/.zgroup", NULL)
                                        : ".zgroup",
                        json_pack("{s:i}", "zarr_format", 2));
    json_object_set_new(w->meta, *zpath ? apr_pstrcat(w->p, zpath,
                                                      "/.zattrs", NULL)
                                        : ".zattrs", attrs);
    return APR_SUCCESS;
}

apr_status_t h5s3_zarr_metadata(json_t **out, h5s3_result *res, hid_t fid,
                                apr_pool_t *p)
{
    walk w;
    hid_t root;
    h5s3_h5_quiet quiet;
    apr_status_t rv, s3;

    memset(&w, 0, sizeof(w));
    w.p = p;
    w.res = res;
    w.meta = json_object();
    w.seen = apr_hash_make(p);
    w.phony = apr_hash_make(p);
    *out = NULL;
    h5s3_h5_quiet_on(&quiet);
    root = H5Gopen2(fid, "/", H5P_DEFAULT);
    if (root < 0) {
        rv = h5s3_result_set(res, H5S3_E_NOTHDF5,
                             "The root group cannot be opened");
    }
    else {
        H5O_info_t oi;
        if (H5Oget_info2(root, &oi, H5O_INFO_BASIC) >= 0) {
            haddr_t *a = apr_pmemdup(p, &oi.addr, sizeof(oi.addr));
            apr_hash_set(w.seen, a, sizeof(*a), "");
        }
        rv = add_group(&w, root, "", "/", 0);
        H5Gclose(root);
    }
    s3 = h5s3_h5_quiet_off(&quiet);
    if (rv == APR_SUCCESS && s3 != APR_SUCCESS) {
        rv = s3;
    }
    if (rv != APR_SUCCESS) {
        json_decref(w.meta);
        return rv;
    }
    *out = json_pack("{s:i, s:o}", "zarr_consolidated_format", 1,
                     "metadata", w.meta);
    return APR_SUCCESS;
}

/* ---- fill values ------------------------------------------------------------- */

static apr_uint64_t load_uint(const unsigned char *b, size_t n, int big)
{
    apr_uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        v |= (apr_uint64_t)b[big ? n - 1 - i : i] << (8 * i);
    }
    return v;
}

static double half_to_double(apr_uint64_t h)
{
    int e = (int)((h >> 10) & 0x1f);
    double m = (double)(h & 0x3ff), v;

    if (e == 0) {
        v = m / 1024.0 / 16384.0;
    }
    else if (e == 31) {
        v = m ? NAN : INFINITY;
    }
    else {
        v = (1.0 + m / 1024.0) * ldexp(1.0, e - 15);
    }
    return (h & 0x8000) ? -v : v;
}

/*
 * An unsigned 64-bit value past jansson's signed integers, as its exact
 * decimal text spliced in by h5s3_json_dump: a JSON real would round it,
 * and NumPy would not convert it back to the u8 it was (docs/zarr.md).
 */
static json_t *big_uint_json(apr_uint64_t u, apr_pool_t *p)
{
    char *text = malloc(24);

    if (text == NULL) {
        return NULL;
    }
    return h5s3_json_raw(text, (apr_size_t)apr_snprintf(
        text, 24, "%" APR_UINT64_T_FMT, u), p);
}

static json_t *number_json(const unsigned char *b, size_t n, char kind,
                           int big, apr_pool_t *p)
{
    apr_uint64_t u = load_uint(b, n, big);

    switch (kind) {
    case 'b':
        return json_boolean(u != 0);
    case 'u':
        return u > (apr_uint64_t)INT64_MAX ? big_uint_json(u, p)
                                           : json_integer((json_int_t)u);
    case 'i':
        if (n < 8 && (u >> (8 * n - 1)) & 1) {
            u |= ~(apr_uint64_t)0 << (8 * n);
        }
        return json_integer((json_int_t)(apr_int64_t)u);
    case 'f':
        if (n == 2) {
            return h5s3_zarr_real(half_to_double(u));
        }
        if (n == 4) {
            float f;
            apr_uint32_t w = (apr_uint32_t)u;
            memcpy(&f, &w, 4);
            return h5s3_zarr_real((double)f);
        }
        {
            double d;
            memcpy(&d, &u, 8);
            return h5s3_zarr_real(d);
        }
    default:
        return NULL;
    }
}

json_t *h5s3_zarr_fill_json(const unsigned char *b, const h5s3_zarr_type *t,
                            apr_pool_t *p)
{
    const char *ts = json_is_string(t->dtype) ? json_string_value(t->dtype)
                                              : NULL;
    int big = ts && ts[0] == '>';

    if (t->kind == 'S' || t->kind == 'V') {
        /* Zarr v2 writes the bytes of these as base64. */
        char *enc = apr_palloc(p, (apr_size_t)apr_base64_encode_len(
            (int)t->size));
        apr_base64_encode(enc, (const char *)b, (int)t->size);
        return json_string(enc);
    }
    if (t->kind == 'c') {
        size_t half = t->size / 2;
        return json_pack("[o, o]", number_json(b, half, 'f', big, p),
                         number_json(b + half, half, 'f', big, p));
    }
    {
        json_t *j = number_json(b, t->size, t->kind, big, p);
        return j ? j : json_null();
    }
}
