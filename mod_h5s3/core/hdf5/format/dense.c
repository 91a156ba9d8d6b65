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

/*
 * New-style groups with many links keep them in a fractal heap indexed by
 * a v2 B-tree (Link Info message).  Iterating reads the B-tree's leaves
 * and the heap's direct blocks one after another; fetched first, in
 * three batches (the two headers; the two roots; the B-tree's leaves and
 * the direct blocks), they are read from the cache.  Best effort: a
 * filtered heap, or deeper trees, are partly left to HDF5.
 */
apr_status_t h5s3_fmt_prefetch_dense(hid_t gid, hid_t fid,
                                     h5s3_h5_source *src)
{
    H5O_info_t oi;
    h5s3_fmt_geometry g;
    unsigned char msg[64], hh[256], bh[64], *buf = NULL;
    apr_size_t mlen = 0, at, hlen, blen, ilen = 0, nsize = 0, rsize = 0;
    apr_uint64_t undef, start = 0, maxdirect = 0;
    apr_off_t heap, bt, hroot = 0, broot = 0;
    unsigned width = 0, rows = 0, maxrows = 0, bits = 0, depth = 0;
    unsigned nrec = 0, r, c;
    h5s3_fmt_batch b = {0};
    apr_status_t rv = APR_SUCCESS;
    int have_heap = 0;

    if (H5Oget_info2(gid, &oi, H5O_INFO_BASIC) < 0
        || !h5s3_fmt_geometry_get(fid, &g)
        || !h5s3_fmt_find_msg(src, &g, g.base + (apr_off_t)oi.addr,
                              LINFO_MSG, msg, sizeof(msg), &mlen)
        || mlen < 2 || msg[0] != 0) {
        return APR_SUCCESS;     /* old-style or compact */
    }
    undef = (apr_uint64_t)-1 >> (64 - 8 * g.sa);
    at = 2 + ((msg[1] & 1) ? 8 : 0);
    if (at + 2 * (apr_size_t)g.sa > mlen
        || h5s3_fmt_le(msg + at, g.sa) == undef) {
        return APR_SUCCESS;     /* links in the header itself */
    }

    /* Batch 1: the heap header and the name index's header. */
    hlen = 14 + 12 * (apr_size_t)g.ss + 3 * (apr_size_t)g.sa + 12;
    blen = 18 + (apr_size_t)g.sa + (apr_size_t)g.ss + 4;
    if (!h5s3_fmt_addr(&heap, src, g.base, h5s3_fmt_le(msg + at, g.sa),
                       hlen)
        || !h5s3_fmt_addr(&bt, src, g.base,
                          h5s3_fmt_le(msg + at + g.sa, g.sa), blen)) {
        return APR_SUCCESS;     /* not in the object: HDF5 will say */
    }
    if (!h5s3_fmt_batch_add(&b, heap, hlen)
        || !h5s3_fmt_batch_add(&b, bt, blen)) {
        goto cleanup;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    b.n = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    /* Batch 2: the B-tree's root node and the heap's root block. */
    if (h5s3_fmt_read(src, bt, blen, bh) == APR_SUCCESS
        && memcmp(bh, "BTHD", 4) == 0) {
        nsize = (apr_size_t)h5s3_fmt_le(bh + 6, 4);
        rsize = (apr_size_t)h5s3_fmt_le(bh + 10, 2);
        depth = (unsigned)h5s3_fmt_le(bh + 12, 2);
        nrec = (unsigned)h5s3_fmt_le(bh + 16 + g.sa, 2);
        if (nsize <= 10 || nsize > 65536 || rsize == 0
            || h5s3_fmt_le(bh + 16, g.sa) == undef
            || !h5s3_fmt_addr(&broot, src, g.base,
                              h5s3_fmt_le(bh + 16, g.sa), nsize)) {
            nsize = 0;          /* no tree we would walk */
        }
        else if (!h5s3_fmt_batch_add(&b, broot, nsize)) {
            goto cleanup;
        }
    }
    if (h5s3_fmt_read(src, heap, hlen, hh) == APR_SUCCESS
        && memcmp(hh, "FRHP", 4) == 0 && h5s3_fmt_le(hh + 7, 2) == 0) {
        at = 14 + 10 * (apr_size_t)g.ss + 2 * (apr_size_t)g.sa;
        width = (unsigned)h5s3_fmt_le(hh + at, 2);
        start = h5s3_fmt_le(hh + at + 2, g.ss);
        maxdirect = h5s3_fmt_le(hh + at + 2 + g.ss, g.ss);
        bits = (unsigned)h5s3_fmt_le(hh + at + 2 + 2 * g.ss, 2);
        rows = (unsigned)h5s3_fmt_le(hh + at + 6 + 2 * g.ss + g.sa, 2);
        /* The doubling table as HDF5 requires it (powers of two), and a
         * root that holds no more rows than the heap's size allows
         * (H5HF_dtable_init): so the root block is a few KiB at most. */
        have_heap = width > 0 && width <= 4096 && !(width & (width - 1))
                    && start > 0 && !(start & (start - 1))
                    && maxdirect >= start && !(maxdirect & (maxdirect - 1))
                    && bits <= 64
                    && log2_of(start) + log2_of(width) <= bits
                    && rows <= bits - log2_of(start) - log2_of(width) + 1
                    && h5s3_fmt_le(hh + at + 6 + 2 * g.ss, g.sa) != undef;
        if (have_heap) {
            /* Root block: a direct block, or an indirect block of rows. */
            ilen = rows == 0 ? (apr_size_t)start
                   : 5 + (apr_size_t)g.sa + (bits + 7) / 8
                     + (apr_size_t)rows * width * (apr_size_t)g.sa + 4;
            have_heap = (rows > 0 || start <= APR_SIZE_MAX)
                        && h5s3_fmt_addr(&hroot, src, g.base,
                                         h5s3_fmt_le(hh + at + 6 + 2 * g.ss,
                                                     g.sa),
                                         ilen);
        }
    }
    if (have_heap) {
        if (!h5s3_fmt_batch_add(&b, hroot, ilen)) {
            goto cleanup;
        }
    }
    if (b.n == 0) {
        goto cleanup;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    b.n = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    /* Batch 3: the B-tree's leaves (a tree of depth 1) and the heap's
     * direct blocks under its root. */
    if (depth == 1 && nsize > 10 && rsize > 0) {
        int ps = g.sa + enc_size((nsize - 10) / rsize);

        buf = malloc(nsize);
        if (buf && h5s3_fmt_read(src, broot, nsize, buf) == APR_SUCCESS
            && memcmp(buf, "BTIN", 4) == 0
            && 6 + (apr_size_t)nrec * rsize + (nrec + 1) * (apr_size_t)ps
               <= nsize) {
            for (c = 0; c <= nrec; c++) {
                apr_size_t o = 6 + (apr_size_t)nrec * rsize
                               + (apr_size_t)c * (apr_size_t)ps;
                apr_off_t leaf;

                if (h5s3_fmt_addr(&leaf, src, g.base,
                                  h5s3_fmt_le(buf + o, g.sa), nsize)
                    && !h5s3_fmt_batch_add(&b, leaf, nsize)) {
                    goto cleanup;
                }
            }
        }
        free(buf);
        buf = NULL;
    }
    if (have_heap && rows > 0) {
        /* Rows of direct blocks: log2(maxdirect / start) + 2. */
        maxrows = log2_of(maxdirect) - log2_of(start) + 2;
        buf = malloc(ilen);
        at = 5 + (apr_size_t)g.sa + (bits + 7) / 8;
        if (buf && h5s3_fmt_read(src, hroot, ilen, buf) == APR_SUCCESS
            && memcmp(buf, "FHIB", 4) == 0) {
            for (r = 0; r < rows && r < maxrows; r++) {
                /* At most maxdirect: no shift past 64 bits. */
                apr_uint64_t size = r < 2 ? start : start << (r - 1);

                for (c = 0; c < width && size <= APR_SIZE_MAX; c++) {
                    apr_uint64_t a = h5s3_fmt_le(buf + at
                                                 + ((apr_size_t)r * width
                                                    + c) * g.sa, g.sa);
                    apr_off_t blk;

                    if (a != undef && a != 0
                        && h5s3_fmt_addr(&blk, src, g.base, a, size)
                        && !h5s3_fmt_batch_add(&b, blk, (apr_size_t)size)) {
                        goto cleanup;
                    }
                }
            }
        }
    }
    if (b.n > 0) {
        rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    }

cleanup:
    free(buf);
    free(b.offs);
    free(b.lens);
    return rv;
}
