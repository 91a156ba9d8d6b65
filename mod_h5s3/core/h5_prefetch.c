/*
 * Metadata prefetch.  Describing the children of a wide group would read
 * their object headers one after another, each miss a GET made while
 * holding HDF5's global lock.  Instead: list the hard links' addresses
 * (one HDF5 call), fetch the missing pages concurrently outside HDF5, and
 * let the describing read them from the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "h5s3_h5_file.h"
#include "h5s3_errors.h"

/* Bytes fetched at each object header address: the prefix and first
 * messages of a typical dataset header; pages make the exact figure moot. */
#define OHDR_GUESS 1024
/* Old-style (symbol table) groups keep their links in a v1 B-tree whose
 * leaves (SNODs) are scattered over the file; listing one would read them
 * one after another.  Walked level by level, each level one batch. */
#define STAB_MSG        0x0011
#define MAX_BTREE_DEPTH 8
#define MAX_NODES       65536

typedef struct addr_list {
    apr_off_t *offs;
    int n;
    int cap;
    int oom;
} addr_list;

static herr_t collect_cb(hid_t g, const char *name, const H5L_info_t *info,
                         void *data)
{
    addr_list *l = data;

    if (info->type != H5L_TYPE_HARD || info->u.address == HADDR_UNDEF) {
        return 0;
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

static void account(const h5s3_pagecache_counts *c)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();

    if (rq) {
        rq->page_hits += c->hits;
        rq->page_misses += c->misses;
    }
}

/* File geometry needed to parse raw structures. */
typedef struct geometry {
    apr_off_t base;             /* absolute address of relative address 0 */
    int sa;                     /* size of offsets */
    int ss;                     /* size of lengths */
    unsigned ik;                /* group B-tree half rank */
    unsigned lk;                /* group leaf (SNOD) half size */
} geometry;

static apr_status_t prefetch_src(h5s3_h5_source *src,
                                 const apr_off_t *offsets,
                                 const apr_size_t *lens, int n);

static apr_uint64_t get_le(const unsigned char *p, int n)
{
    apr_uint64_t v = 0;

    while (n--) {
        v = (v << 8) | p[n];
    }
    return v;
}

static apr_status_t src_read(h5s3_h5_source *src, apr_off_t addr,
                             apr_size_t len, unsigned char *buf)
{
    h5s3_pagecache_counts counts = {0};
    apr_status_t rv;

    rv = h5s3_pagecache_read(src->cache, &src->obj, addr, len, (char *)buf,
                             &counts);
    account(&counts);
    return rv;
}

static int get_geometry(hid_t fid, geometry *g)
{
    hid_t fcpl = H5Fget_create_plist(fid);
    size_t sa = 0, ss = 0;
    hsize_t ub = 0;
    int ok;

    ok = fcpl >= 0 && H5Pget_sizes(fcpl, &sa, &ss) >= 0
         && H5Pget_userblock(fcpl, &ub) >= 0
         && H5Pget_sym_k(fcpl, &g->ik, &g->lk) >= 0
         && sa >= 2 && sa <= 8 && ss >= 2 && ss <= 8
         && g->ik > 0 && g->ik < 1024 && g->lk > 0 && g->lk < 1024;
    if (fcpl >= 0) {
        H5Pclose(fcpl);
    }
    g->base = (apr_off_t)ub;
    g->sa = (int)sa;
    g->ss = (int)ss;
    return ok;
}

/* B-tree and heap addresses from a v1 object header's STAB message. */
static int find_stab(h5s3_h5_source *src, const geometry *g, apr_off_t oh,
                     apr_off_t *btree, apr_off_t *heap)
{
    unsigned char buf[4096];
    apr_size_t len = sizeof(buf), pos;

    if (oh + (apr_off_t)len > src->obj.size) {
        len = (apr_size_t)(src->obj.size - oh);
    }
    if (len < 16 || src_read(src, oh, len, buf) != APR_SUCCESS
        || buf[0] != 1) {
        return 0;               /* v2 headers hold no symbol table */
    }
    if (get_le(buf + 8, 4) + 16 < len) {
        len = (apr_size_t)get_le(buf + 8, 4) + 16;
    }
    for (pos = 16; pos + 8 <= len;) {
        unsigned type = (unsigned)get_le(buf + pos, 2);
        apr_size_t size = (apr_size_t)get_le(buf + pos + 2, 2);

        if (type == STAB_MSG && pos + 8 + 2 * g->sa <= len) {
            *btree = (apr_off_t)get_le(buf + pos + 8, g->sa);
            *heap = (apr_off_t)get_le(buf + pos + 8 + g->sa, g->sa);
            return 1;
        }
        pos += 8 + size;
    }
    return 0;
}

static apr_size_t node_size(const geometry *g)
{
    return 8 + 2 * g->sa + (2 * g->ik + 1) * g->ss + 2 * g->ik * g->sa;
}

/*
 * Walk the group's B-tree level by level, fetching each level's nodes,
 * then the leaves and the local heap's data, each step one concurrent
 * batch.  Best effort: anything unexpected stops the walk quietly and
 * HDF5 reads the rest itself.
 */
static apr_status_t prefetch_symbol_table(hid_t gid, hid_t fid,
                                          h5s3_h5_source *src)
{
    H5O_info_t oi;
    geometry g;
    apr_off_t btree, heap, *nodes = NULL, *next = NULL;
    apr_size_t *lens = NULL, nsize, hsize, extra_len = 0;
    apr_off_t extra_off = 0;
    unsigned char *buf = NULL, hdr[40];
    int n = 1, depth, i;
    apr_status_t rv = APR_SUCCESS;

    /* Not H5Gget_info: on these groups it counts links by reading every
     * leaf, the very walk this avoids.  No STAB message: a new-style group. */
    if (H5Oget_info2(gid, &oi, H5O_INFO_BASIC) < 0
        || !get_geometry(fid, &g)
        || !find_stab(src, &g, g.base + (apr_off_t)oi.addr, &btree, &heap)) {
        return APR_SUCCESS;
    }
    nsize = node_size(&g);
    hsize = 8 + 2 * g.ss + g.sa;
    nodes = malloc(MAX_NODES * sizeof(*nodes));
    next = malloc(MAX_NODES * sizeof(*next));
    lens = malloc(MAX_NODES * sizeof(*lens));
    buf = malloc(nsize);
    if (!nodes || !next || !lens || !buf) {
        rv = APR_ENOMEM;
        goto cleanup;
    }

    /* The root node and the heap header together. */
    nodes[0] = g.base + btree;
    nodes[1] = g.base + heap;
    lens[0] = nsize;
    lens[1] = hsize;
    rv = prefetch_src(src, nodes, lens, 2);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    /* The heap's data (the link names) goes with the next batch. */
    if (src_read(src, g.base + heap, hsize, hdr) == APR_SUCCESS
        && memcmp(hdr, "HEAP", 4) == 0) {
        extra_off = g.base + (apr_off_t)get_le(hdr + 8 + 2 * g.ss, g.sa);
        extra_len = (apr_size_t)get_le(hdr + 8, g.ss);
    }

    for (depth = 0; depth < MAX_BTREE_DEPTH && n > 0; depth++) {
        int nn = 0, level = -1;

        for (i = 0; i < n; i++) {
            unsigned used, k;

            if (src_read(src, nodes[i], nsize, buf) != APR_SUCCESS
                || memcmp(buf, "TREE", 4) != 0 || buf[4] != 0) {
                goto cleanup;
            }
            level = buf[5];
            used = (unsigned)get_le(buf + 6, 2);
            if (used > 2 * g.ik) {
                goto cleanup;
            }
            for (k = 0; k < used && nn < MAX_NODES; k++) {
                apr_size_t at = 8 + 2 * g.sa + g.ss + k * (g.sa + g.ss);

                next[nn++] = g.base + (apr_off_t)get_le(buf + at, g.sa);
            }
        }
        for (i = 0; i < nn; i++) {
            /* Children of level 0 are symbol nodes, else B-tree nodes. */
            lens[i] = level == 0 ? 8 + 2 * g.lk * (2 * g.sa + 24) : nsize;
        }
        if (extra_len && nn < MAX_NODES) {
            next[nn] = extra_off;
            lens[nn] = extra_len;
            extra_len = 0;
            rv = prefetch_src(src, next, lens, nn + 1);
        }
        else {
            rv = prefetch_src(src, next, lens, nn);
        }
        if (rv != APR_SUCCESS || level == 0) {
            break;
        }
        memcpy(nodes, next, (apr_size_t)nn * sizeof(*nodes));
        n = nn;
    }

cleanup:
    free(nodes);
    free(next);
    free(lens);
    free(buf);
    return rv;
}

static apr_status_t prefetch_src(h5s3_h5_source *src,
                                 const apr_off_t *offsets,
                                 const apr_size_t *lens, int n)
{
    h5s3_pagecache_counts counts = {0};
    apr_status_t rv;

    rv = h5s3_pagecache_prefetch(src->cache, &src->obj, offsets, lens, n,
                                 &counts);
    account(&counts);
    if (rv != APR_SUCCESS) {
        src->failed = 1;
    }
    return rv;
}

apr_status_t h5s3_h5_prefetch_ranges(h5s3_h5_file *f,
                                     const apr_off_t *offsets,
                                     const apr_size_t *lens, int n)
{
    return prefetch_src(h5s3_h5_file_source(f), offsets, lens, n);
}

apr_status_t h5s3_h5_prefetch_group_src(hid_t fid, h5s3_h5_source *src,
                                        const char *path)
{
    addr_list l = {0};
    apr_size_t *lens = NULL;
    hid_t gid;
    hsize_t idx = 0;
    herr_t err;
    apr_status_t rv = APR_SUCCESS;
    int i;

    geometry g;

    h5s3_h5_thread_init();
    if (!src->cache) {
        return APR_SUCCESS;     /* nowhere to put the pages */
    }
    gid = H5Gopen2(fid, path && *path ? path : "/", H5P_DEFAULT);
    if (gid < 0) {
        return h5s3_h5_request_status(H5S3_E_NOPATH);
    }
    rv = prefetch_symbol_table(gid, fid, src);
    if (rv != APR_SUCCESS) {
        H5Gclose(gid);
        return rv;
    }
    err = H5Literate(gid, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_cb,
                     &l);
    H5Gclose(gid);
    if (!get_geometry(fid, &g)) {
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
         * the driver sees absolute ones. */
        l.offs[i] += g.base;
        lens[i] = OHDR_GUESS;
    }
    rv = prefetch_src(src, l.offs, lens, l.n);

cleanup:
    free(l.offs);
    free(lens);
    return rv;
}

apr_status_t h5s3_h5_prefetch_group(h5s3_h5_file *f, const char *path)
{
    return h5s3_h5_prefetch_group_src(h5s3_h5_file_id(f),
                                      h5s3_h5_file_source(f), path);
}
