/*
 * New-style groups with many links keep them in a fractal heap indexed
 * by a v2 B-tree (the Link Info message of the group's header): dense
 * link storage.  Its headers, roots, leaves and direct blocks are
 * fetched in three batches before HDF5 iterates over it.
 */
#include <stdlib.h>
#include <string.h>

#include "hdf5/format/h5s3_h5_format_private.h"

#define LINFO_MSG       0x0002

/* log2 of a power of two. */
static unsigned log2_of(apr_uint64_t v)
{
    unsigned n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

/* Bytes HDF5 uses to encode a count of at most n (H5VM_limit_enc_size). */
static int enc_size(apr_uint64_t n)
{
    int bits = 0;

    while (n >> bits) {
        bits++;
    }
    return bits / 8 + 1;
}

/* What the two headers of a group's dense link storage say. */
typedef struct dense {
    h5s3_fmt_geometry g;
    apr_uint64_t undef;         /* the undefined address */
    apr_off_t heap, bt;         /* the heap's and the name index's headers */
    apr_size_t hlen, blen;
    /* The name index (a v2 B-tree): nsize 0 when there is none to walk. */
    apr_off_t broot;
    apr_size_t nsize, rsize;
    unsigned depth, nrec;
    /* The heap's doubling table and its root block. */
    int have_heap;
    apr_off_t hroot;
    apr_size_t ilen;
    unsigned width, rows, bits;
    apr_uint64_t start, maxdirect;
} dense;

/* The headers of the group's fractal heap and name index, from the Link
 * Info message of its object header; 0 for another kind of group. */
static int dense_find(dense *d, hid_t gid, hid_t fid, h5s3_h5_source *src)
{
    const h5s3_fmt_geometry *g = &d->g;
    H5O_info_t oi;
    unsigned char msg[64];
    apr_size_t mlen = 0, at;

    if (H5Oget_info2(gid, &oi, H5O_INFO_BASIC) < 0
        || !h5s3_fmt_geometry_get(fid, &d->g)
        || !h5s3_fmt_find_msg(src, g, g->base + (apr_off_t)oi.addr,
                              LINFO_MSG, msg, sizeof(msg), &mlen)
        || mlen < 2 || msg[0] != 0) {
        return 0;               /* old-style or compact */
    }
    d->undef = (apr_uint64_t)-1 >> (64 - 8 * g->sa);
    at = 2 + ((msg[1] & 1) ? 8 : 0);
    if (at + 2 * (apr_size_t)g->sa > mlen
        || h5s3_fmt_le(msg + at, g->sa) == d->undef) {
        return 0;               /* links in the header itself */
    }
    d->hlen = 14 + 12 * (apr_size_t)g->ss + 3 * (apr_size_t)g->sa + 12;
    d->blen = 18 + (apr_size_t)g->sa + (apr_size_t)g->ss + 4;
    /* Not in the object: HDF5 will say. */
    return h5s3_fmt_addr(&d->heap, src, g->base, h5s3_fmt_le(msg + at, g->sa),
                         d->hlen)
           && h5s3_fmt_addr(&d->bt, src, g->base,
                            h5s3_fmt_le(msg + at + g->sa, g->sa), d->blen);
}

/* The name index's root node, from its header (fetched): added to b
 * when it is a tree we would walk.  0 when out of memory. */
static int btree_root(dense *d, h5s3_h5_source *src, h5s3_fmt_batch *b)
{
    const h5s3_fmt_geometry *g = &d->g;
    unsigned char bh[64];

    if (h5s3_fmt_read(src, d->bt, d->blen, bh) != APR_SUCCESS
        || memcmp(bh, "BTHD", 4) != 0) {
        return 1;
    }
    d->nsize = (apr_size_t)h5s3_fmt_le(bh + 6, 4);
    d->rsize = (apr_size_t)h5s3_fmt_le(bh + 10, 2);
    d->depth = (unsigned)h5s3_fmt_le(bh + 12, 2);
    d->nrec = (unsigned)h5s3_fmt_le(bh + 16 + g->sa, 2);
    if (d->nsize <= 10 || d->nsize > 65536 || d->rsize == 0
        || h5s3_fmt_le(bh + 16, g->sa) == d->undef
        || !h5s3_fmt_addr(&d->broot, src, g->base,
                          h5s3_fmt_le(bh + 16, g->sa), d->nsize)) {
        d->nsize = 0;           /* no tree we would walk */
        return 1;
    }
    return h5s3_fmt_batch_add(b, d->broot, d->nsize);
}

/* The heap's root block, from its header (fetched): added to b when the
 * heap is one we would read.  0 when out of memory. */
static int heap_root(dense *d, h5s3_h5_source *src, h5s3_fmt_batch *b)
{
    const h5s3_fmt_geometry *g = &d->g;
    unsigned char hh[256];
    apr_size_t at = 14 + 10 * (apr_size_t)g->ss + 2 * (apr_size_t)g->sa;
    apr_uint64_t root;

    if (h5s3_fmt_read(src, d->heap, d->hlen, hh) != APR_SUCCESS
        || memcmp(hh, "FRHP", 4) != 0 || h5s3_fmt_le(hh + 7, 2) != 0) {
        return 1;
    }
    d->width = (unsigned)h5s3_fmt_le(hh + at, 2);
    d->start = h5s3_fmt_le(hh + at + 2, g->ss);
    d->maxdirect = h5s3_fmt_le(hh + at + 2 + g->ss, g->ss);
    d->bits = (unsigned)h5s3_fmt_le(hh + at + 2 + 2 * g->ss, 2);
    d->rows = (unsigned)h5s3_fmt_le(hh + at + 6 + 2 * g->ss + g->sa, 2);
    root = h5s3_fmt_le(hh + at + 6 + 2 * g->ss, g->sa);
    /* The doubling table as HDF5 requires it (powers of two), and a
     * root that holds no more rows than the heap's size allows
     * (H5HF_dtable_init): so the root block is a few KiB at most. */
    d->have_heap = d->width > 0 && d->width <= 4096
                   && !(d->width & (d->width - 1))
                   && d->start > 0 && !(d->start & (d->start - 1))
                   && d->maxdirect >= d->start
                   && !(d->maxdirect & (d->maxdirect - 1))
                   && d->bits <= 64
                   && log2_of(d->start) + log2_of(d->width) <= d->bits
                   && d->rows <= d->bits - log2_of(d->start)
                                 - log2_of(d->width) + 1
                   && root != d->undef;
    if (!d->have_heap) {
        return 1;
    }
    /* Root block: a direct block, or an indirect block of rows. */
    d->ilen = d->rows == 0 ? (apr_size_t)d->start
              : 5 + (apr_size_t)g->sa + (d->bits + 7) / 8
                + (apr_size_t)d->rows * d->width * (apr_size_t)g->sa + 4;
    d->have_heap = (d->rows > 0 || d->start <= APR_SIZE_MAX)
                   && h5s3_fmt_addr(&d->hroot, src, g->base, root, d->ilen);
    return !d->have_heap || h5s3_fmt_batch_add(b, d->hroot, d->ilen);
}

/* The leaves under the name index's root (fetched), for a tree of depth
 * 1, added to b.  0 when out of memory. */
static int btree_leaves(const dense *d, h5s3_h5_source *src,
                        h5s3_fmt_batch *b)
{
    const h5s3_fmt_geometry *g = &d->g;
    unsigned char *buf;
    unsigned c;
    int ps, ok = 1;

    if (d->depth != 1 || d->nsize <= 10 || d->rsize == 0) {
        return 1;
    }
    ps = g->sa + enc_size((d->nsize - 10) / d->rsize);
    buf = malloc(d->nsize);
    if (buf && h5s3_fmt_read(src, d->broot, d->nsize, buf) == APR_SUCCESS
        && memcmp(buf, "BTIN", 4) == 0
        && 6 + (apr_size_t)d->nrec * d->rsize
           + (d->nrec + 1) * (apr_size_t)ps <= d->nsize) {
        for (c = 0; ok && c <= d->nrec; c++) {
            apr_size_t o = 6 + (apr_size_t)d->nrec * d->rsize
                           + (apr_size_t)c * (apr_size_t)ps;
            apr_off_t leaf;

            if (h5s3_fmt_addr(&leaf, src, g->base,
                              h5s3_fmt_le(buf + o, g->sa), d->nsize)
                && !h5s3_fmt_batch_add(b, leaf, d->nsize)) {
                ok = 0;
            }
        }
    }
    free(buf);
    return ok;
}

/* The direct blocks in the rows of the heap's root indirect block
 * (fetched), added to b.  0 when out of memory. */
static int heap_blocks(const dense *d, h5s3_h5_source *src,
                       h5s3_fmt_batch *b)
{
    const h5s3_fmt_geometry *g = &d->g;
    unsigned char *buf;
    apr_size_t at;
    unsigned maxrows, r, c;
    int ok = 1;

    if (!d->have_heap || d->rows == 0) {
        return 1;
    }
    /* Rows of direct blocks: log2(maxdirect / start) + 2. */
    maxrows = log2_of(d->maxdirect) - log2_of(d->start) + 2;
    buf = malloc(d->ilen);
    at = 5 + (apr_size_t)g->sa + (d->bits + 7) / 8;
    if (buf && h5s3_fmt_read(src, d->hroot, d->ilen, buf) == APR_SUCCESS
        && memcmp(buf, "FHIB", 4) == 0) {
        for (r = 0; ok && r < d->rows && r < maxrows; r++) {
            /* At most maxdirect: no shift past 64 bits. */
            apr_uint64_t size = r < 2 ? d->start : d->start << (r - 1);

            for (c = 0; ok && c < d->width && size <= APR_SIZE_MAX; c++) {
                apr_uint64_t a = h5s3_fmt_le(buf + at
                                             + ((apr_size_t)r * d->width
                                                + c) * g->sa, g->sa);
                apr_off_t blk;

                if (a != d->undef && a != 0
                    && h5s3_fmt_addr(&blk, src, g->base, a, size)
                    && !h5s3_fmt_batch_add(b, blk, (apr_size_t)size)) {
                    ok = 0;
                }
            }
        }
    }
    free(buf);
    return ok;
}

/*
 * New-style groups with many links keep them in a fractal heap indexed by
 * a v2 B-tree (Link Info message).  Iterating reads the B-tree's leaves
 * and the heap's direct blocks one after another; fetched first, in
 * three batches (the two headers; the two roots; the B-tree's leaves and
 * the direct blocks), they are read from the cache.  Best effort: a
 * filtered heap, or deeper trees, are partly left to HDF5; out of memory
 * for a batch, the rest is.
 */
apr_status_t h5s3_fmt_prefetch_dense(hid_t gid, hid_t fid,
                                     h5s3_h5_source *src)
{
    dense d;
    h5s3_fmt_batch b = {0};
    apr_status_t rv = APR_SUCCESS;

    memset(&d, 0, sizeof(d));
    if (!dense_find(&d, gid, fid, src)) {
        return APR_SUCCESS;
    }

    /* Batch 1: the heap header and the name index's header. */
    if (!h5s3_fmt_batch_add(&b, d.heap, d.hlen)
        || !h5s3_fmt_batch_add(&b, d.bt, d.blen)) {
        goto cleanup;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    b.n = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    /* Batch 2: the B-tree's root node and the heap's root block. */
    if (!btree_root(&d, src, &b) || !heap_root(&d, src, &b) || b.n == 0) {
        goto cleanup;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    b.n = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    /* Batch 3: the B-tree's leaves (a tree of depth 1) and the heap's
     * direct blocks under its root. */
    if (btree_leaves(&d, src, &b) && heap_blocks(&d, src, &b) && b.n > 0) {
        rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    }

cleanup:
    free(b.offs);
    free(b.lens);
    return rv;
}
