/*
 * Our own readers of HDF5's on-disk structures (superblock, object
 * headers, symbol tables, fractal heaps, chunk indexes), used to fetch
 * what HDF5 will read next in a few concurrent batches, outside its
 * global lock, and to learn sizes HDF5 only finds out while allocating.
 * Every address, size and count they read is the file's, so each is
 * checked and spends the request's budgets (include/hdf5/io).
 */
#ifndef H5S3_H5_FORMAT_H
#define H5S3_H5_FORMAT_H

#include "hdf5/io/h5s3_h5_io.h"

/* The index h5py lists group g's links by: creation order when the group
 * tracks it, else name. */
H5_index_t h5s3_h5_link_index(hid_t g);

/*
 * Fetch the pages of [offsets[i], offsets[i] + lens[i]) of src that are
 * not cached, coalesced, concurrently, outside any HDF5 call.
 */
apr_status_t h5s3_h5_prefetch_ranges_src(h5s3_h5_source *src,
                                         const apr_off_t *offsets,
                                         const apr_size_t *lens, int n);

/*
 * The same for ranges read whole by their own address (raw chunks,
 * object headers): fetched exactly, not as the pages around them
 * (h5s3_pagecache_prefetch_exact), within the same budgets.
 */
apr_status_t h5s3_h5_prefetch_exact_src(h5s3_h5_source *src,
                                        const apr_off_t *offsets,
                                        const apr_size_t *lens, int n);

/*
 * Before describing the children of the group at path of file fid, read
 * through src: collect their object header addresses (hard links), from
 * the offset-th link in h5py's order, at most limit (0: all), and fetch
 * the missing pages concurrently, so describing them reads from the
 * cache.  H5S3_E_NOPATH when path is not a group.
 */
apr_status_t h5s3_h5_prefetch_group_src(hid_t fid, h5s3_h5_source *src,
                                        const char *path, hsize_t offset,
                                        hsize_t limit);

/*
 * How many bytes HDF5 will allocate for the variable-length data of
 * attribute attr when it reads it, from the lengths stored with the
 * attribute (its heap IDs), without reading a heap: H5Aread has no
 * transfer list to charge allocations through in HDF5 1.10.  For
 * attributes in their object's header (compact storage) of a vlen
 * sequence or string type; APR_ENOTIMPL otherwise (dense storage, vlen
 * inside compounds or arrays, another driver).
 */
apr_status_t h5s3_h5_attr_vlen_bytes(apr_uint64_t *bytes, hid_t attr);

/*
 * The allocated chunks of a dataset that a selection touches, in the
 * order of its chunk index (row-major by chunk offset).
 */
typedef struct h5s3_h5_chunks {
    int rank;
    int n;
    hsize_t *coords;            /* n * rank element offsets */
    apr_off_t *addr;            /* absolute file addresses */
    apr_size_t *size;           /* stored (filtered) sizes */
    unsigned *mask;             /* filters skipped */
    apr_uint64_t reserved;      /* bytes held of the memory budget */
} h5s3_h5_chunks;

void h5s3_h5_chunks_free(h5s3_h5_chunks *c);

/* Append one chunk (coord: rank element offsets); *cap is the capacity,
 * 0 for a new table.  0 when out of memory (or the memory budget) or
 * over a million chunks. */
int h5s3_h5_chunks_add(h5s3_h5_chunks *c, int *cap, const hsize_t *coord,
                       apr_off_t addr, apr_size_t size, unsigned mask);

/*
 * Before looking chunks up: fetch the chunk index of dataset did level by
 * level, each level one concurrent batch, only the nodes that may hold a
 * wanted chunk.  Wanted: every chunk whose index along dim k is in
 * lists[k] (sorted, lens[k] entries; index = offset / chunk[k]).  For a
 * v1 B-tree index (files of HDF5 1.8/1.10 defaults) *out receives the
 * wanted chunks found (absent ones are not allocated); for the other
 * index types only their pages are fetched and *out is NULL: ask HDF5.
 * Best effort: APR_SUCCESS with *out NULL on anything unexpected.
 */
apr_status_t h5s3_h5_prefetch_chunk_index(h5s3_h5_chunks **out, hid_t did,
                                          h5s3_h5_source *src, int rank,
                                          const hsize_t *chunk,
                                          hsize_t *const *lists,
                                          const hsize_t *lens);

#endif
