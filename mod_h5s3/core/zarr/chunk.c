/*
 * One chunk of a dataset as the Zarr store serves it (docs/zarr.md): the
 * stored bytes' place in the object when they pass through unchanged,
 * else the chunk read by HDF5 in the file's byte order, padded to the full
 * chunk shape with the fill value.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "zarr/h5s3_zarr.h"
#include "zarr/h5s3_zarr_private.h"
#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_quiet.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_storage.h"
#include "hdf5/h5s3_h5_vlen.h"
#include "hdf5/io/h5s3_h5_io.h"
#include "json/h5s3_json.h"

typedef struct chunk_ctx {
    hid_t did, dcpl, space;
    h5s3_zarr_type t;
    int rank;
    hsize_t shape[H5S3_ZARR_RANK_MAX];
    hsize_t chunk[H5S3_ZARR_RANK_MAX];
    hsize_t idx[H5S3_ZARR_RANK_MAX];
    hsize_t start[H5S3_ZARR_RANK_MAX];
    hsize_t count[H5S3_ZARR_RANK_MAX];
    H5D_layout_t layout;
    int passthrough;
    int reencode;               /* stored with filters skipped */
} chunk_ctx;

/* The user block: HDF5's addresses are relative to its end. */
static apr_off_t user_block(hid_t fid)
{
    hid_t fcpl = H5Fget_create_plist(fid);
    hsize_t ub = 0;

    if (fcpl >= 0) {
        if (H5Pget_userblock(fcpl, &ub) < 0) {
            ub = 0;
        }
        H5Pclose(fcpl);
    }
    return (apr_off_t)ub;
}

/* The stored bytes of a passthrough chunk, or why not. */
static apr_status_t stored(h5s3_zarr_chunk *out, h5s3_result *res,
                           chunk_ctx *c, hid_t fid, const char *key,
                           apr_off_t file_size)
{
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    apr_off_t at, end;

    if (H5Dget_chunk_info_by_coord(c->did, c->start, &mask, &addr, &size) < 0
        || addr == HADDR_UNDEF || size == 0) {
        return h5s3_result_printf(res, H5S3_E_NOTFOUND, "Chunk '%s' is not "
                                  "allocated; use the fill value", key);
    }
    if (!c->passthrough) {
        return APR_SUCCESS;
    }
    if (mask != 0) {
        /* A valid chunk whose bytes the .zarray codecs do not describe:
         * HDF5 decodes it, and it is encoded again as they say. */
        c->reencode = 1;
        return APR_SUCCESS;
    }
    if (size > H5S3_H5_MAX_CHUNK_BYTES || addr > (haddr_t)APR_INT64_MAX
        || !H5S3_ADD(&at, user_block(fid), (apr_off_t)addr)
        || !H5S3_ADD(&end, at, (apr_off_t)size) || end > file_size) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Chunk '%s' lies "
                                  "outside the file or is too large", key);
    }
    out->passthrough = 1;
    out->offset = at;
    out->size = (apr_size_t)size;
    return APR_SUCCESS;
}

/* Fill buf (n elements of size bytes) with the dataset's fill value. */
static void prefill(char *buf, apr_uint64_t n, const chunk_ctx *c)
{
    H5D_fill_value_t st;
    char one[256];
    apr_uint64_t i;

    if (c->t.size == 0 || c->t.size > sizeof(one)
        || H5Pfill_value_defined(c->dcpl, &st) < 0
        || st != H5D_FILL_VALUE_USER_DEFINED
        || H5Pget_fill_value(c->dcpl, c->t.mtype, one) < 0) {
        return;     /* HDF5's default fill: zeros (buf is zeroed) */
    }
    for (i = 0; i < n; i++) {
        memcpy(buf + i * c->t.size, one, c->t.size);
    }
}

/* A charged buffer given back to the budget when its request ends. */
static apr_status_t free_charged(void *buf)
{
    h5s3_h5_mem_free(buf);
    return APR_SUCCESS;
}

apr_status_t h5s3_zarr_charged_alloc(char **out, apr_size_t n, apr_pool_t *p)
{
    void *buf = NULL;
    apr_status_t rv = h5s3_h5_mem_alloc(&buf, n ? n : 1, 1);

    *out = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, buf, free_charged, apr_pool_cleanup_null);
    *out = buf;
    return APR_SUCCESS;
}

/* The chunk read by HDF5 into a full-shape buffer. */
static apr_status_t decoded(h5s3_zarr_chunk *out, h5s3_result *res,
                            chunk_ctx *c, const char *key, apr_pool_t *p)
{
    unsigned long long n;
    apr_uint64_t bytes;
    hsize_t zero[H5S3_ZARR_RANK_MAX];
    hid_t mspace = -1, fspace = -1, dxpl = H5P_DEFAULT;
    h5s3_h5_vlen_track vm = {NULL, 0, 0};
    size_t esize = c->t.vlen_str ? sizeof(char *) : c->t.size;
    char *buf = NULL;
    apr_status_t rv = APR_SUCCESS;
    int read = 0;

    if (!h5s3_dims_product(&n, (const unsigned long long *)c->chunk,
                           c->rank, 1, UINT64_MAX)
        || !H5S3_MUL(&bytes, n, esize) || bytes > H5S3_H5_MAX_CHUNK_BYTES) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Chunk '%s' is "
                                  "larger than %d MiB decoded", key,
                                  H5S3_H5_MAX_CHUNK_BYTES >> 20);
    }
    /*
     * Charged to the process's memory budget before it exists, as the
     * viewer's read buffers are (docs/zarr.md): over it, H5S3_E_BUSY, a
     * 503 with Retry-After.  Released when the request's pool goes,
     * after the answer was sent.
     */
    rv = h5s3_zarr_charged_alloc(&buf, (apr_size_t)bytes, p);
    if (rv != APR_SUCCESS) {
        return h5s3_result_printf(res, rv, "Chunk '%s' does not fit the "
                                  "memory budget now", key);
    }
    if (!c->t.vlen_str) {
        prefill(buf, n, c);
    }
    memset(zero, 0, sizeof(zero));
    fspace = H5Scopy(c->space);
    mspace = c->rank ? H5Screate_simple(c->rank, c->chunk, NULL)
                     : H5Screate(H5S_SCALAR);
    if (fspace < 0 || mspace < 0
        || (c->rank && (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, c->start,
                                            NULL, c->count, NULL) < 0
                        || H5Sselect_hyperslab(mspace, H5S_SELECT_SET, zero,
                                               NULL, c->count, NULL) < 0))) {
        rv = h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Chunk '%s' cannot "
                                "be selected", key);
        goto cleanup;
    }
    /*
     * A chunk's vlen strings are charged to the vlen-bytes budget as HDF5
     * allocates them (a hostile file can point every element at one
     * large heap object), and freed if the read fails half way.
     */
    if (c->t.vlen_str && (dxpl = h5s3_h5_vlen_dxpl(c->t.mtype, &vm)) < 0) {
        rv = h5s3_result_set(res, APR_ENOMEM, "no transfer list");
        goto cleanup;
    }
    if (H5Dread(c->did, c->t.mtype, mspace, fspace, dxpl, buf) < 0) {
        /* Over the vlen budget, the limit says so. */
        rv = h5s3_h5_limit_status();
        if (rv == APR_SUCCESS) {
            rv = h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Chunk '%s' "
                                    "cannot be read by HDF5", key);
        }
        goto cleanup;
    }
    read = 1;
    if (c->t.vlen_str) {
        rv = h5s3_zarr_vlen_utf8(&out->buf, &out->len, (char **)buf, n, p);
        if (rv == H5S3_E_TOOLARGE) {
            rv = h5s3_result_printf(res, rv, "Chunk '%s' holds more than "
                                    "4 GiB of strings", key);
        }
    }
    else {
        out->buf = buf;
        out->len = (apr_size_t)bytes;
    }

cleanup:
    if (read && c->t.vlen_str) {
        H5Dvlen_reclaim(c->t.mtype, mspace, dxpl, buf);
    }
    if (c->t.vlen_str) {
        h5s3_h5_vlen_untrack(&vm, !read);
    }
    if (dxpl != H5P_DEFAULT && dxpl >= 0) {
        H5Pclose(dxpl);
    }
    if (mspace >= 0) {
        H5Sclose(mspace);
    }
    if (fspace >= 0) {
        H5Sclose(fspace);
    }
    return rv;
}

/*
 * The decoded chunk in out encoded with the array's codecs: its shuffles,
 * then zlib as stored deflate blocks (any zlib decoder reads them, and
 * nothing is compressed on the server's CPU).  Another compressor has no
 * encoder here: 422, its name said.
 */
static apr_status_t reencode(h5s3_zarr_chunk *out, h5s3_result *res,
                             const json_t *filters, const json_t *compressor,
                             const char *key, apr_pool_t *p)
{
    const char *comp = json_string_value(json_object_get(compressor, "id"));
    char *tmp = NULL, *enc;
    apr_size_t i, size;
    apr_status_t rv;

    if (compressor && !json_is_null(compressor)
        && (comp == NULL || strcmp(comp, "zlib") != 0)) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Chunk '%s' was "
                                  "stored with filters skipped, and the "
                                  "server cannot encode it as %s again", key,
                                  comp ? comp : "?");
    }
    for (i = 0; i < json_array_size(filters); i++) {
        json_int_t es = json_integer_value(json_object_get(
            json_array_get(filters, i), "elementsize"));

        if (es <= 0) {
            return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Chunk '%s' "
                                      "cannot be shuffled again", key);
        }
        if (tmp == NULL) {
            rv = h5s3_zarr_charged_alloc(&tmp, out->len, p);
            if (rv != APR_SUCCESS) {
                return h5s3_result_printf(res, rv, "Chunk '%s' does not fit "
                                          "the memory budget now", key);
            }
        }
        h5s3_zarr_shuffle(tmp, out->buf, out->len, (size_t)es);
        /* The shuffled bytes become the input of the next codec. */
        enc = out->buf;
        out->buf = tmp;
        tmp = enc;
    }
    if (comp == NULL) {
        return APR_SUCCESS;
    }
    if ((rv = h5s3_zarr_zlib_stored_size(&size, out->len)) != APR_SUCCESS
        || (rv = h5s3_zarr_charged_alloc(&enc, size, p)) != APR_SUCCESS) {
        return h5s3_result_printf(res, rv, "Chunk '%s' does not fit the "
                                  "memory budget now", key);
    }
    out->len = h5s3_zarr_zlib_stored(enc, out->buf, out->len);
    out->buf = enc;
    return APR_SUCCESS;
}

static apr_status_t chunk_of(h5s3_zarr_chunk *out, h5s3_result *res,
                             chunk_ctx *c, hid_t fid, const char *path,
                             const char *key, apr_off_t file_size,
                             apr_pool_t *p)
{
    hsize_t grid[H5S3_ZARR_RANK_MAX];
    json_t *filters = NULL, *compressor = NULL;
    hid_t ftype;
    apr_status_t rv;
    int i;

    if ((c->dcpl = H5Dget_create_plist(c->did)) < 0) {
        return h5s3_result_printf(res, H5S3_E_NOTHDF5, "Dataset '%s' cannot "
                                  "be read", path);
    }
    if ((rv = h5s3_h5_storage_check(res, c->dcpl, path, p)) != APR_SUCCESS) {
        return rv;
    }
    c->space = H5Dget_space(c->did);
    c->rank = c->space >= 0 ? H5Sget_simple_extent_ndims(c->space) : -1;
    if (c->rank < 0 || c->rank > H5S3_ZARR_RANK_MAX
        || H5Sget_simple_extent_type(c->space) == H5S_NULL
        || H5Sget_simple_extent_dims(c->space, c->shape, NULL) < 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' "
                                  "has no values", path);
    }
    ftype = H5Dget_type(c->did);
    rv = ftype >= 0 ? h5s3_zarr_type_of(&c->t, res, ftype)
                    : H5S3_E_UNSUPPORTED;
    if (ftype >= 0) {
        H5Tclose(ftype);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = h5s3_zarr_layout(res, c->chunk, &filters, &compressor, &c->passthrough,
                          &c->layout, c->did, c->dcpl, &c->t, c->rank,
                          c->shape);
    /* Kept for a chunk to encode again (reencode), freed with p. */
    h5s3_json_pool_own(p, filters);
    h5s3_json_pool_own(p, compressor);
    if (rv != APR_SUCCESS) {
        return h5s3_result_printf(res, rv, "Dataset '%s' cannot be served: "
                                  "%s", path, h5s3_result_detail(res, "?"));
    }
    for (i = 0; i < c->rank; i++) {
        grid[i] = (hsize_t)h5s3_ceil_div(c->shape[i], c->chunk[i]);
    }
    rv = h5s3_zarr_chunk_key(c->idx, res, key, c->rank, grid);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < c->rank; i++) {
        /* idx < grid, so idx * chunk < shape: no wrap. */
        c->start[i] = c->idx[i] * c->chunk[i];
        c->count[i] = c->shape[i] - c->start[i] < c->chunk[i]
                      ? c->shape[i] - c->start[i] : c->chunk[i];
    }
    if (c->layout == H5D_CHUNKED) {
        rv = stored(out, res, c, fid, key, file_size);
        if (rv != APR_SUCCESS || out->passthrough) {
            return rv;
        }
    }
    else if (c->layout == H5D_CONTIGUOUS
             && H5Dget_offset(c->did) == HADDR_UNDEF) {
        return h5s3_result_printf(res, H5S3_E_NOTFOUND, "Chunk '%s' is not "
                                  "allocated; use the fill value", key);
    }
    rv = decoded(out, res, c, key, p);
    if (rv == APR_SUCCESS && c->reencode) {
        rv = reencode(out, res, filters, compressor, key, p);
    }
    return rv;
}

apr_status_t h5s3_zarr_chunk_get(h5s3_zarr_chunk *out, h5s3_result *res,
                                 hid_t fid, const char *path,
                                 const char *key, apr_off_t file_size,
                                 apr_pool_t *p)
{
    h5s3_h5_obj o;
    h5s3_h5_quiet quiet;
    chunk_ctx c;
    apr_status_t rv, s3;
    int opened;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    memset(&o, 0, sizeof(o));
    c.dcpl = c.space = -1;
    c.t.mtype = -1;
    o.obj = -1;
    h5s3_h5_quiet_on(&quiet);
    rv = h5s3_h5_open_path(&o, fid, path, p);
    opened = rv == APR_SUCCESS;
    if (rv == APR_SUCCESS && (o.kind != H5S3_H5_LINK_OBJECT
                              || o.type != H5I_DATASET)) {
        rv = h5s3_result_printf(res, H5S3_E_NOPATH, "'%s' is not an array "
                                "of the store", path);
    }
    else if (rv != APR_SUCCESS) {
        rv = h5s3_result_printf(res, rv, "'%s' is not an array of the store",
                                path);
    }
    if (rv == APR_SUCCESS) {
        c.did = o.obj;
        rv = chunk_of(out, res, &c, fid, path, key, file_size, p);
    }
    h5s3_zarr_type_close(&c.t);
    if (c.space >= 0) {
        H5Sclose(c.space);
    }
    if (c.dcpl >= 0) {
        H5Pclose(c.dcpl);
    }
    if (opened) {
        h5s3_h5_obj_close(&o);
    }
    s3 = h5s3_h5_quiet_off(&quiet);
    return s3 != APR_SUCCESS ? s3 : rv;
}
