/*
 * HDF5 files in S3, read in place: a virtual file driver whose reads go
 * through the shared page cache, a per-process table of open files
 * validated by ETag, per-request accounting, and metadata prefetch.
 *
 * HDF5 1.10 (thread-safe build) runs every HDF5 call of a process behind
 * one global lock, so a thread waiting on S3 inside a driver read stalls
 * all others: whatever can be fetched before an HDF5 call (pages of the
 * superblock, of object headers, of chunks) is fetched outside it, with
 * the prefetch functions below.
 */
#ifndef H5S3_H5_FILE_H
#define H5S3_H5_FILE_H

#include <hdf5.h>
#include <apr_pools.h>
#include <apr_time.h>
#include "h5s3_s3.h"
#include "h5s3_pagecache.h"

/* ---- process set-up ---------------------------------------------------- */

/*
 * Register the S3 driver and silence HDF5's automatic error printing.
 * Idempotent and thread-safe; every function below calls it, the glue may
 * call it in child_init.
 */
apr_status_t h5s3_h5_global_init(void);

/* The registered driver's id (H5I_INVALID_HID before global init). */
hid_t h5s3_h5_driver_id(void);

/*
 * HDF5 keeps its error-printing switch per thread: call before HDF5 calls
 * in a thread that did not come through h5s3_h5_file_open or
 * h5s3_h5_request_begin.
 */
void h5s3_h5_thread_init(void);

/* ---- per-request limits ------------------------------------------------ */

/*
 * What one request may make the module do, whatever the file says.  Every
 * byte of a stored object is attacker-controlled: sizes, counts and
 * addresses read from it only ever spend from these budgets, and going
 * over one ends the request with H5S3_E_LIMIT (422) naming the limit.
 * Set per server with "H5S3Limit NAME VALUE".
 */
typedef enum {
    H5S3_H5_LIMIT_READ_BYTES = 0,  /* bytes the driver reads (cache or S3) */
    H5S3_H5_LIMIT_PREFETCH_BYTES,  /* bytes fetched ahead of HDF5 */
    H5S3_H5_LIMIT_RANGES,          /* byte ranges fetched ahead */
    H5S3_H5_LIMIT_INDEX_NODES,     /* B-tree and other index nodes walked */
    H5S3_H5_LIMIT_ENTRIES,         /* links listed (one page of a group) */
    H5S3_H5_LIMIT_VLEN_BYTES,      /* variable-length data read */
    H5S3_H5_LIMIT_COUNT
} h5s3_h5_limit_kind;

typedef struct h5s3_h5_limits {
    apr_uint64_t max[H5S3_H5_LIMIT_COUNT];
} h5s3_h5_limits;

/* The defaults: large enough for any sane file, small enough to bound. */
void h5s3_h5_limits_default(h5s3_h5_limits *l);

/* "read-bytes", "prefetch-bytes", ...: the directive's spelling. */
const char *h5s3_h5_limit_name(h5s3_h5_limit_kind k);

/* The kind spelled name, or -1. */
int h5s3_h5_limit_lookup(const char *name);

/* Is the value a byte size (K/M/G suffixes) rather than a count? */
int h5s3_h5_limit_is_bytes(h5s3_h5_limit_kind k);

/* ---- per-request accounting ------------------------------------------- */

/*
 * Open files are shared by the requests (threads) of a process, so the
 * driver charges its S3 traffic to the request current on the calling
 * thread.  Zero it, set call, begin; end when the request is done.
 */
typedef struct h5s3_h5_request {
    h5s3_s3_call *call;         /* S3 requests and bytes (may be NULL) */
    apr_uint32_t page_hits;     /* pages served from the page cache */
    apr_uint32_t page_misses;   /* pages fetched from S3 */
    apr_status_t status;        /* last S3 failure seen by the driver */
    const h5s3_h5_limits *limits;   /* NULL: the defaults */
    apr_uint64_t spent[H5S3_H5_LIMIT_COUNT];
    const char *why;            /* which limit, once one was exceeded */
    char why_buf[160];
} h5s3_h5_request;

void h5s3_h5_request_begin(h5s3_h5_request *rq);
void h5s3_h5_request_end(void);
h5s3_h5_request *h5s3_h5_request_current(void);

/*
 * Spend n from the current request's budget of kind k.  APR_SUCCESS while
 * within it; H5S3_E_LIMIT once over, with rq->why naming the limit (kept:
 * every later charge of the request fails too, and
 * h5s3_h5_request_status reports the limit).  Without a current request
 * the default limits apply to this one charge alone.
 */
apr_status_t h5s3_h5_charge(h5s3_h5_limit_kind k, apr_uint64_t n);

/*
 * The same check without spending: APR_SUCCESS when n more of kind k
 * would be within the limit, else H5S3_E_LIMIT (and the request is over
 * it, as with h5s3_h5_charge).  For work whose cost is known only after
 * (a prefetch: only the missing pages are fetched), charged then.
 */
apr_status_t h5s3_h5_charge_check(h5s3_h5_limit_kind k, apr_uint64_t n);

/* The current request's limit of kind k (the default without one). */
apr_uint64_t h5s3_h5_limit(h5s3_h5_limit_kind k);

/* What is left of it (0 once the request is over any limit). */
apr_uint64_t h5s3_h5_limit_left(h5s3_h5_limit_kind k);

/*
 * H5S3_E_LIMIT once the current request has exceeded one of its limits
 * (a best-effort step such as a prefetch may have), else APR_SUCCESS:
 * lets the work that follows stop instead of failing charge by charge.
 */
apr_status_t h5s3_h5_limit_status(void);

/*
 * The status to report for an HDF5 call that failed: the S3 failure the
 * driver saw during it if any (then cleared), else fallback.  HDF5 itself
 * only knows "read failed".
 */
apr_status_t h5s3_h5_request_status(apr_status_t fallback);

/* ---- per-process memory budget ---------------------------------------- */

/*
 * The large buffers a request makes because of a file or a selection
 * (read and decode buffers, chunk tables, prefetch transfers) reserve
 * from one budget shared by every request of the process, so concurrent
 * requests on big selections cannot together grow it without bound: over
 * the budget a request gets H5S3_E_BUSY (503, retry later).  Set once per
 * process (H5S3MemoryBudget); 0 means no budget.
 */
#define H5S3_H5_DEFAULT_MEM_BUDGET ((apr_uint64_t)512 * 1024 * 1024)

void h5s3_h5_mem_budget_set(apr_uint64_t bytes);
apr_uint64_t h5s3_h5_mem_budget(void);

/* Reserve n bytes (H5S3_E_BUSY when they do not fit); give them back. */
apr_status_t h5s3_h5_mem_reserve(apr_uint64_t n);
void h5s3_h5_mem_release(apr_uint64_t n);

/* Bytes reserved now by all requests of the process. */
apr_uint64_t h5s3_h5_mem_reserved(void);

/*
 * malloc (zeroed when zero) of n bytes reserved from the budget, released
 * by h5s3_h5_mem_free (only: the size is kept in front of the block).
 * H5S3_E_BUSY over the budget, APR_ENOMEM.
 */
apr_status_t h5s3_h5_mem_alloc(void **out, apr_size_t n, int zero);
void h5s3_h5_mem_free(void *p);

/* ---- the driver on any source ------------------------------------------ */

/*
 * What the driver reads: an object of the page cache (identity, size and
 * fetch seam).  The source must outlive the HDF5 file.
 */
typedef struct h5s3_h5_source {
    h5s3_pagecache *cache;      /* NULL: no caching */
    h5s3_pagecache_object obj;
    const char *name;           /* for messages: s3://bucket/key */
    volatile int failed;        /* a read failed: do not reuse the file */
} h5s3_h5_source;

/*
 * H5Fopen src read-only through the driver, after fetching its first
 * open_read bytes in one request (superblock and root metadata).
 * H5S3_E_NOTHDF5 for an object HDF5 cannot open; the S3 status when a
 * read failed.
 */
apr_status_t h5s3_h5_vfd_open(hid_t *fid, h5s3_h5_source *src,
                              apr_size_t open_read);

/* The source an object's file is read through (this driver's files
 * only), or NULL. */
h5s3_h5_source *h5s3_h5_source_of(hid_t obj);

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

/* ---- the per-process table of open S3 files ---------------------------- */

typedef struct h5s3_h5_files h5s3_h5_files;
typedef struct h5s3_h5_file h5s3_h5_file;

#define H5S3_H5_DEFAULT_MAX_FILES 32
#define H5S3_H5_DEFAULT_OPEN_READ (128 * 1024)

/*
 * One per process (child_init).  cache may be NULL.  At most max_files
 * files are kept open; the least recently used unreferenced one is closed
 * beyond that.  Files are closed when p is destroyed.
 */
apr_status_t h5s3_h5_files_create(h5s3_h5_files **table,
                                  h5s3_pagecache *cache, int max_files,
                                  apr_pool_t *p);

/*
 * How many bytes from offset 0 opening a file reads first, or 0 when the
 * table has no page cache.  A caller that reads them itself (e.g. a
 * ranged GET that also tells the ETag and size, instead of a HEAD) hands
 * them to h5s3_h5_files_seed, so the open that follows sends no request.
 */
apr_size_t h5s3_h5_files_open_read(const h5s3_h5_files *table);

/* Cache [0, len) of s3://bucket/key, read by client c, at info's ETag
 * and size. */
void h5s3_h5_files_seed(h5s3_h5_files *table, h5s3_s3_client *c,
                        const char *bucket,
                        const char *key, const h5s3_s3_object_info *info,
                        const char *buf, apr_size_t len);

/* Close every file nobody holds; returns how many stay open. */
int h5s3_h5_files_flush(h5s3_h5_files *table);

/*
 * Open s3://bucket/key, or reuse the open file when its ETag was checked
 * less than validate_ttl ago (then no S3 request at all).  Older than
 * that, a HEAD revalidates it; a changed ETag opens the new object (pages
 * of the old one are keyed by the old ETag and never found again).  The
 * client must live as long as the table (it is part of the file's key).
 * call receives the HEAD; page reads are charged to the current request's
 * call, or to call when no request is current (NULL: the current
 * request's for both).  p is only used for scratch.  Release the file
 * with h5s3_h5_file_release.  Errors: H5S3_E_NOTFOUND, H5S3_E_NOTHDF5,
 * or the S3 status of the HEAD or of a read.
 */
apr_status_t h5s3_h5_file_open(h5s3_h5_file **f, h5s3_h5_files *table,
                               h5s3_s3_client *c, const char *bucket,
                               const char *key,
                               apr_interval_time_t validate_ttl,
                               h5s3_s3_call *call, apr_pool_t *p);

/*
 * The same, when the caller already knows the object's current ETag and
 * size (it validated them within validate_ttl, e.g. through a cache shared
 * by processes): no HEAD is sent.  known may be NULL.
 */
apr_status_t h5s3_h5_file_open_known(h5s3_h5_file **f, h5s3_h5_files *table,
                                     h5s3_s3_client *c, const char *bucket,
                                     const char *key,
                                     apr_interval_time_t validate_ttl,
                                     const h5s3_s3_object_info *known,
                                     h5s3_s3_call *call, apr_pool_t *p);

/*
 * Done with the file.  A file whose read failed is dropped from the table
 * and closed once its last holder releases it.
 */
void h5s3_h5_file_release(h5s3_h5_file *f);

hid_t h5s3_h5_file_id(const h5s3_h5_file *f);
const char *h5s3_h5_file_etag(const h5s3_h5_file *f);
apr_off_t h5s3_h5_file_size(const h5s3_h5_file *f);
h5s3_h5_source *h5s3_h5_file_source(h5s3_h5_file *f);

/* ---- prefetch --------------------------------------------------------- */

/*
 * Fetch the pages of [offsets[i], offsets[i] + lens[i]) that are not
 * cached, coalesced, concurrently, outside any HDF5 call.
 */
apr_status_t h5s3_h5_prefetch_ranges(h5s3_h5_file *f,
                                     const apr_off_t *offsets,
                                     const apr_size_t *lens, int n);

/*
 * Before describing the children of the group at path: collect their
 * object header addresses (hard links) and fetch the missing pages
 * concurrently, so describing them reads from the cache.  H5S3_E_NOPATH
 * when path is not a group.
 */
apr_status_t h5s3_h5_prefetch_group(h5s3_h5_file *f, const char *path);

/* Same on any open file id and source (tests, tools). */
apr_status_t h5s3_h5_prefetch_group_src(hid_t fid, h5s3_h5_source *src,
                                        const char *path);

/*
 * Only for the children of one page of the group: from the offset-th
 * link in h5py's order, at most limit (0: all).
 */
apr_status_t h5s3_h5_prefetch_group_page(h5s3_h5_file *f, const char *path,
                                         hsize_t offset, hsize_t limit);

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
