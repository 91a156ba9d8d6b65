/*
 * Page cache: fixed-size pages of S3 objects in one shared-memory segment,
 * used by every httpd process.  A page is keyed by a fingerprint of
 * (bucket, key, ETag) and its page number, so pages of an object that
 * changed are simply never found again and age out.
 *
 * The segment is plain memory addressed by offsets (the glue creates an
 * anonymous apr_shm before the children fork; tests may use a heap
 * buffer).  One global mutex guards it; it is held only to look up, copy
 * out or copy in a page, never while fetching from S3.
 *
 * Fetching goes through a seam (h5s3_pagecache_fetch_fn), so the cache is
 * testable without S3; production uses h5s3_s3_get_ranges.
 */
#ifndef H5S3_PAGECACHE_H
#define H5S3_PAGECACHE_H

#include <apr_pools.h>
#include <apr_global_mutex.h>
#include "s3/h5s3_s3.h"

#define H5S3_PAGECACHE_DEFAULT_PAGE (64 * 1024)
#define H5S3_PAGECACHE_FP_LEN 32

typedef struct h5s3_pagecache h5s3_pagecache;

/*
 * Fill each range from the object's origin (offset, len, buf are set; the
 * fetcher sets got and status).  Returns the first failure, APR_SUCCESS
 * when every range was read.
 */
typedef apr_status_t h5s3_pagecache_fetch_fn(void *baton,
                                             h5s3_s3_range *ranges, int n,
                                             apr_pool_t *p);

/* One object as the cache sees it. */
typedef struct h5s3_pagecache_object {
    unsigned char fp[H5S3_PAGECACHE_FP_LEN];    /* h5s3_pagecache_fingerprint */
    apr_off_t size;                             /* object size in bytes */
    h5s3_pagecache_fetch_fn *fetch;
    void *baton;
} h5s3_pagecache_object;

/* What one read or prefetch cost; the caller zeroes it, the cache adds. */
typedef struct h5s3_pagecache_counts {
    apr_uint32_t hits;          /* pages found in the cache */
    apr_uint32_t misses;        /* pages that had to be fetched */
    apr_uint32_t fetches;       /* ranges asked of the fetcher */
    apr_uint64_t bytes;         /* bytes the fetcher returned */
} h5s3_pagecache_counts;

/* Segment-wide figures (for mod_status). */
typedef struct h5s3_pagecache_stats {
    apr_size_t page_size;
    apr_uint32_t slots;
    apr_uint32_t used;
    apr_uint64_t hits;
    apr_uint64_t misses;
    apr_uint64_t inserts;
    apr_uint64_t evictions;
} h5s3_pagecache_stats;

/* Bytes of segment needed for at least npages pages of page_size. */
apr_size_t h5s3_pagecache_segment_size(apr_size_t page_size,
                                       apr_uint32_t npages);

/*
 * Attach to (create != 0: format) the segment [base, base+size).  mutex
 * guards the segment across processes and threads; NULL only when a
 * single thread of a single process uses it.  page_size must be a power
 * of two >= 4096 and is checked against the segment when attaching.
 * APR_ENOSPC when the segment cannot hold a handful of pages.
 *
 * In httpd: create in post_config (create=1, before the fork), then in
 * child_init, after apr_global_mutex_child_init, attach again (create=0)
 * with the child's mutex handle.
 */
apr_status_t h5s3_pagecache_init(h5s3_pagecache **pc, void *base,
                                 apr_size_t size, apr_size_t page_size,
                                 apr_global_mutex_t *mutex, int create,
                                 apr_pool_t *p);

apr_size_t h5s3_pagecache_page_size(const h5s3_pagecache *pc);

/* fp = SHA-256(bucket NUL key NUL etag). */
void h5s3_pagecache_fingerprint(unsigned char *fp, const char *scope,
                                const char *bucket,
                                const char *key, const char *etag);

/*
 * Read [offset, offset+len) of obj into buf, through the cache (pc NULL:
 * straight from the fetcher, page-aligned).  Missing pages are fetched
 * outside the lock; each run of adjacent missing pages is one range, and
 * all runs of one read go to the fetcher at once.  Bytes past obj->size
 * read as zeros.  counts may be NULL.
 */
apr_status_t h5s3_pagecache_read(h5s3_pagecache *pc,
                                 const h5s3_pagecache_object *obj,
                                 apr_off_t offset, apr_size_t len, char *buf,
                                 h5s3_pagecache_counts *counts);

/*
 * Make sure the pages covering the n ranges are cached: the missing ones
 * are coalesced (small gaps included) and fetched in one call to the
 * fetcher, which runs the ranges concurrently.  Best effort: returns the
 * fetcher's failure, but never fails because the cache is small.
 */
apr_status_t h5s3_pagecache_prefetch(h5s3_pagecache *pc,
                                     const h5s3_pagecache_object *obj,
                                     const apr_off_t *offsets,
                                     const apr_size_t *lens, int n,
                                     h5s3_pagecache_counts *counts);

/*
 * Exact ranges: fetch [offsets[i], offsets[i] + lens[i]) themselves, not
 * the pages around them (neighbours closer than gap bytes share one
 * range; all ranges in one call to the fetcher), and keep each range of
 * at most a page as an extent, found again by any read lying within it
 * (h5s3_pagecache_read).  A range longer than a page is fetched and kept
 * as whole pages.  What is cached already (an extent holding it, or all
 * of its pages) is not fetched.  Best effort like
 * h5s3_pagecache_prefetch.  Raw chunk data and object headers are read
 * this way: a 16 KiB chunk costs 16 KiB, not a 64 KiB page.
 */
#define H5S3_PAGECACHE_EXACT_GAP 1024
apr_status_t h5s3_pagecache_prefetch_exact(h5s3_pagecache *pc,
                                           const h5s3_pagecache_object *obj,
                                           const apr_off_t *offsets,
                                           const apr_size_t *lens, int n,
                                           apr_size_t gap,
                                           h5s3_pagecache_counts *counts);

/*
 * Copy [offset, offset+len) to buf when the cache holds all of it (an
 * extent or every page), without fetching: 1 when it did, 0 otherwise
 * (buf's content is then undefined).
 */
int h5s3_pagecache_peek(h5s3_pagecache *pc, const h5s3_pagecache_object *obj,
                        apr_off_t offset, apr_size_t len, char *buf);

/*
 * Store bytes already read from the object at offset (page-aligned) as
 * cached pages: the whole pages of [offset, offset+len), and a partial
 * last page only when it ends the object (obj->size), since a later read
 * takes a cached page as complete.  obj->fetch is not used.  Best effort:
 * nothing is stored for a misaligned offset or a NULL pc.
 */
void h5s3_pagecache_put(h5s3_pagecache *pc, const h5s3_pagecache_object *obj,
                        apr_off_t offset, const char *buf, apr_size_t len);

/* 1 when page number `page` of the object is cached. */
int h5s3_pagecache_contains(h5s3_pagecache *pc, const unsigned char *fp,
                            apr_uint64_t page);

void h5s3_pagecache_stats_get(h5s3_pagecache *pc, h5s3_pagecache_stats *st);

#endif
