/*
 * Metadata prefetch.  Describing the children of a wide group would read
 * their object headers one after another, each miss a GET made while
 * holding HDF5's global lock.  Instead: list the hard links' addresses
 * (one HDF5 call), fetch the missing pages concurrently outside HDF5, and
 * let the describing read them from the cache.  The group's own index
 * (symtab.c, dense.c) is fetched first, so listing it reads the cache.
 */
#include <stdlib.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/format/h5s3_h5_format_private.h"

/* Bytes fetched at each object header address: the prefix and first
 * messages of a typical dataset header; pages make the exact figure moot. */
#define OHDR_GUESS 1024

typedef struct addr_list {
    apr_off_t *offs;
    int n;
    int cap;
    int oom;
    hsize_t limit;              /* links to look at (0: all) */
    hsize_t seen;
    apr_uint64_t max;           /* addresses worth collecting */
} addr_list;

static herr_t collect_cb(hid_t g, const char *name, const H5L_info_t *info,
                         void *data)
{
    addr_list *l = data;

    if (l->limit && l->seen++ >= l->limit) {
        return 1;               /* past the page */
    }
    if (info->type != H5L_TYPE_HARD || info->u.address == HADDR_UNDEF
        || info->u.address > APR_INT64_MAX) {
        return 0;
    }
    /* A hint, not the listing: a group wider than a request may still
     * fetch ranges for has its first headers fetched, the rest read by
     * HDF5 (a wide group is no reason to refuse a listing). */
    if ((apr_uint64_t)l->n >= l->max) {
        return 1;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        apr_off_t *o = realloc(l->offs, (apr_size_t)cap * sizeof(*o));

        if (!o) {
            l->oom = 1;
            return 1;           /* stop; what we have is still useful */
        }
        l->offs = o;
        l->cap = cap;
    }
    l->offs[l->n++] = (apr_off_t)info->u.address;
    return 0;
}

apr_status_t h5s3_h5_prefetch_group_src(hid_t fid, h5s3_h5_source *src,
                                        const char *path, hsize_t offset,
                                        hsize_t limit)
{
    addr_list l = {0};
    apr_size_t *lens = NULL;
    hid_t gid;
    hsize_t idx = 0;
    herr_t err;
    apr_status_t rv = APR_SUCCESS;
    int i;

    h5s3_fmt_geometry g;
    int geom;

    h5s3_h5_thread_init();
    if (!src->cache) {
        return APR_SUCCESS;     /* nowhere to put the pages */
    }
    gid = H5Gopen2(fid, path && *path ? path : "/", H5P_DEFAULT);
    if (gid < 0) {
        return h5s3_h5_request_status(H5S3_E_NOPATH);
    }
    rv = h5s3_fmt_prefetch_symtab(gid, fid, src);
    if (rv == APR_SUCCESS) {
        rv = h5s3_fmt_prefetch_dense(gid, fid, src);
    }
    if (rv != APR_SUCCESS) {
        H5Gclose(gid);
        return rv;
    }
    /* The page's links only, in the order the listing uses; as many
     * headers as the request may still fetch ranges for. */
    idx = offset;
    l.limit = limit;
    l.max = h5s3_h5_limit_left(H5S3_H5_LIMIT_RANGES);
    err = H5Literate(gid, h5s3_h5_link_index(gid), H5_ITER_INC, &idx,
                     collect_cb, &l);
    H5Gclose(gid);
    geom = h5s3_fmt_geometry_get(fid, &g);
    if (!geom) {
        g.base = 0;
    }
    if (err < 0) {
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
        goto cleanup;
    }
    if (l.n == 0) {
        goto cleanup;
    }
    lens = malloc((apr_size_t)l.n * sizeof(*lens));
    if (!lens) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < l.n; i++) {
        /* Link addresses are relative to the base (after a user block);
         * the driver sees absolute ones.  Both below 2^63 (collect_cb). */
        if (!H5S3_ADD(&l.offs[i], l.offs[i], g.base)) {
            l.offs[i] = -1;     /* dropped by h5s3_h5_prefetch_ranges_src */
        }
        lens[i] = OHDR_GUESS;
    }
    /* The headers' own bytes, a level at a time; without the file's
     * geometry (continuations cannot be read), pages around them. */
    rv = geom ? h5s3_fmt_prefetch_headers(src, &g, l.offs, l.n)
              : h5s3_h5_prefetch_ranges_src(src, l.offs, lens, l.n);

cleanup:
    free(l.offs);
    free(lens);
    return rv;
}

/* ---- link order -------------------------------------------------------- */

H5_index_t h5s3_h5_link_index(hid_t g)
{
    hid_t gcpl = H5Gget_create_plist(g);
    unsigned flags = 0;
    H5_index_t idx = H5_INDEX_NAME;

    if (gcpl >= 0) {
        if (H5Pget_link_creation_order(gcpl, &flags) >= 0
            && (flags & H5P_CRT_ORDER_TRACKED)) {
            idx = H5_INDEX_CRT_ORDER;
        }
        H5Pclose(gcpl);
    }
    return idx;
}
