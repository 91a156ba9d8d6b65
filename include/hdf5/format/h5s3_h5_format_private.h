/*
 * What the readers of HDF5's on-disk format (mod_h5s3/core/hdf5/format/)
 * share, and no other layer uses: the geometry of a file, reads of its
 * structures charged like the driver's, and the batches of ranges they
 * fetch ahead.  Every number these readers take from a file is checked
 * here or by the caller before it sizes, addresses or counts anything.
 */
#ifndef H5S3_H5_FORMAT_PRIVATE_H
#define H5S3_H5_FORMAT_PRIVATE_H

#include "hdf5/format/h5s3_h5_format.h"

/* Any B-tree is walked at most this deep, with at most this many nodes
 * to a level: a file cannot make a walk go on for ever. */
#define H5S3_FMT_MAX_BTREE_DEPTH 8
#define H5S3_FMT_MAX_NODES       65536

/* ---- geometry and reads (geometry.c) ---------------------------------- */

/* File geometry needed to parse raw structures. */
typedef struct h5s3_fmt_geometry {
    apr_off_t base;             /* absolute address of relative address 0 */
    int sa;                     /* size of offsets */
    int ss;                     /* size of lengths */
    unsigned ik;                /* group B-tree half rank */
    unsigned lk;                /* group leaf (SNOD) half size */
} h5s3_fmt_geometry;

/* The geometry of file fid, from its creation properties; 0 when sizes
 * or ranks are outside what HDF5 writes. */
int h5s3_fmt_geometry_get(hid_t fid, h5s3_fmt_geometry *g);

/* The little-endian unsigned number of n bytes at p. */
static inline apr_uint64_t h5s3_fmt_le(const unsigned char *p, int n)
{
    apr_uint64_t v = 0;

    while (n--) {
        v = (v << 8) | p[n];
    }
    return v;
}

/* Page hits and misses of a read or a prefetch, counted for the current
 * request. */
void h5s3_fmt_account(const h5s3_pagecache_counts *c);

/* Read [addr, addr + len) of src through the page cache, charged to the
 * request's read budget. */
apr_status_t h5s3_fmt_read(h5s3_h5_source *src, apr_off_t addr,
                           apr_size_t len, unsigned char *buf);

/* An address read from the file plus the base, if [it, it + len) lies in
 * the object: 1 and *out set, else 0. */
int h5s3_fmt_addr(apr_off_t *out, const h5s3_h5_source *src,
                  apr_off_t base, apr_uint64_t rel, apr_uint64_t len);

/* ---- object headers (ohdr.c) ------------------------------------------ */

/* Called with each message of an object header; nonzero stops. */
typedef int h5s3_fmt_msg_fn(void *baton, unsigned type,
                            const unsigned char *body, apr_size_t size);

/*
 * Every message of the object header at oh (an absolute address; v1 or
 * v2, continuation blocks followed, a bounded number of bounded blocks,
 * each within the object) handed to fn.  1 when fn stopped the walk, 0
 * when the messages ran out or the header looks wrong.
 */
int h5s3_fmt_ohdr_walk(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                       apr_off_t oh, h5s3_fmt_msg_fn *fn, void *baton);

/* The body of the first message of type want in the object header at
 * oh, at most cap bytes of it (*outlen: how many).  0 when there is none
 * or the header looks wrong. */
int h5s3_fmt_find_msg(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                      apr_off_t oh, unsigned want, unsigned char *out,
                      apr_size_t cap, apr_size_t *outlen);

/*
 * Fetch the object headers at ohs (absolute addresses) ahead of HDF5,
 * by their own bytes, a level at a time: a small first block of each
 * (all in one batch), then the rest of the headers whose prefix says
 * they are longer and the continuation blocks their messages name, and
 * so on, a few rounds at most.  Each block is kept as an extent of the
 * page cache, so HDF5's reads of a header find it.  Best effort: a
 * header that looks wrong is left to HDF5.  Errors: a limit of the
 * request, the memory budget, a failed fetch.
 */
apr_status_t h5s3_fmt_prefetch_headers(h5s3_h5_source *src,
                                       const h5s3_fmt_geometry *g,
                                       const apr_off_t *ohs, int n);

/* ---- batches of ranges (batch.c) -------------------------------------- */

/* A growing list of ranges for one h5s3_h5_prefetch_ranges_src call;
 * the caller frees offs and lens. */
typedef struct h5s3_fmt_batch {
    apr_off_t *offs;
    apr_size_t *lens;
    int n;
    int cap;
} h5s3_fmt_batch;

/*
 * h5s3_h5_prefetch_exact_src with neighbours closer than gap sharing a
 * range.  Metadata blocks (headers, symbol nodes) use H5S3_FMT_META_GAP:
 * at 64 ranges in flight a request costs about a third of a millisecond
 * of a 20 ms round trip, what 32 KiB take at 100 MB/s; bridging less
 * costs requests, more costs bytes.  Headers packed a few KiB apart
 * then come in a few ranges, scattered ones by their own bytes.
 */
#define H5S3_FMT_META_GAP (32 * 1024)
apr_status_t h5s3_fmt_prefetch_exact_gap(h5s3_h5_source *src,
                                         const apr_off_t *offsets,
                                         const apr_size_t *lens, int n,
                                         apr_size_t gap);

/* Append [off, off + len); 0 when out of memory. */
int h5s3_fmt_batch_add(h5s3_fmt_batch *b, apr_off_t off, apr_size_t len);

/* ---- a group's own index (symtab.c, dense.c) -------------------------- */

/*
 * Fetch the index of group gid of file fid read through src before HDF5
 * lists it: the B-tree, symbol nodes and local heap of an old-style
 * group, or the fractal heap and v2 B-tree of a new-style group with
 * dense link storage.  APR_SUCCESS doing nothing for a group of the other
 * kind (or a compact one); best effort otherwise: what is unexpected
 * stops the walk quietly and HDF5 reads the rest.  Errors: a limit of
 * the request, the memory budget (or memory), a failed fetch.
 */
apr_status_t h5s3_fmt_prefetch_symtab(hid_t gid, hid_t fid,
                                      h5s3_h5_source *src);
apr_status_t h5s3_fmt_prefetch_dense(hid_t gid, hid_t fid,
                                     h5s3_h5_source *src);

/* ---- chunk indexes (chunk_table.c, chunk_btree.c) --------------------- */

/* A chunk table holds at most this many chunks. */
#define H5S3_FMT_MAX_TABLE       (1 << 20)

/* What is wanted of a chunk index. */
typedef struct h5s3_fmt_want {
    int rank;
    const hsize_t *chunk;
    hsize_t *const *lists;
    const hsize_t *lens;
    int dense;                  /* every chunk of the dataset */
    hsize_t total;              /* wanted chunks: the table's bound */
} h5s3_fmt_want;

/*
 * Walk the v1 B-tree of raw data chunks rooted at root (absolute) with
 * half rank k, one batch per level, down the nodes that may hold a chunk
 * w wants: *out receives the wanted chunks it holds, in its order.  Best
 * effort: *out stays NULL on a tree that looks wrong or a table that
 * cannot grow.  Errors: a limit of the request, the memory budget, a
 * failed fetch.
 */
apr_status_t h5s3_fmt_walk_chunk_btree(h5s3_h5_chunks **out,
                                       h5s3_h5_source *src,
                                       const h5s3_fmt_geometry *g,
                                       unsigned k, apr_off_t root,
                                       const h5s3_fmt_want *w);

#endif
