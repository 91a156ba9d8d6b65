/*
 * How the bytes of an HDF5 file are read: a virtual file driver whose
 * reads go through the shared page cache (or any source with a fetch
 * seam), the request each read is charged to, and the budgets a request
 * may spend whatever the file says: bytes read and fetched ahead, index
 * nodes, links listed, variable-length bytes, and the process's memory.
 *
 * HDF5 1.10 (thread-safe build) runs every HDF5 call of a process behind
 * one global lock, so a thread waiting on S3 inside a driver read stalls
 * all others: what can be fetched before an HDF5 call is fetched outside
 * it (include/hdf5/format/h5s3_h5_format.h).
 */
#ifndef H5S3_H5_IO_H
#define H5S3_H5_IO_H

#include <hdf5.h>
#include <apr_pools.h>
#include <apr_time.h>
#include "base/h5s3_result.h"
#include "s3/h5s3_s3.h"
#include "pagecache/h5s3_pagecache.h"

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
 * thread: HDF5 calls the driver with no context of ours, so the request
 * is found through the thread.  Zero it, set call, give result a pool
 * (h5s3_result_init), begin; end when the request is done.
 */
typedef struct h5s3_h5_request {
    h5s3_s3_call *call;         /* S3 requests and bytes (may be NULL) */
    apr_uint32_t page_hits;     /* pages served from the page cache */
    apr_uint32_t page_misses;   /* pages fetched from S3 */
    const h5s3_h5_limits *limits;   /* NULL: the defaults */
    apr_uint64_t spent[H5S3_H5_LIMIT_COUNT];
    /*
     * What went wrong in the request: the status of the last read the
     * driver saw fail, or, once a limit was exceeded, H5S3_E_LIMIT with
     * the detail naming the limit (kept: nothing is read after it).
     */
    h5s3_result result;
    /*
     * The failure of the HDF5 call under way, until
     * h5s3_h5_request_status hands it out.
     */
    apr_status_t unreported;
} h5s3_h5_request;

void h5s3_h5_request_begin(h5s3_h5_request *rq);
void h5s3_h5_request_end(void);
h5s3_h5_request *h5s3_h5_request_current(void);

/*
 * Spend n from the current request's budget of kind k.  APR_SUCCESS while
 * within it; H5S3_E_LIMIT once over, recorded in rq->result with the
 * detail naming the limit (kept: every later charge of the request fails
 * too, and h5s3_h5_request_status reports the limit).  Without a current
 * request the default limits apply to this one charge alone.
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
 * The status to report for an HDF5 call that failed: the failure the
 * driver saw during it if any (then cleared; the request's result keeps
 * it), else H5S3_E_LIMIT when the request is over a limit, else
 * fallback.  HDF5 itself only knows "read failed".  Outside any request
 * (a tool, a test) the thread keeps the failure until it is asked for.
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

/* ---- ranges in flight ------------------------------------------------- */

/*
 * How many ranges of one request's batch are in flight at once
 * (H5S3FetchParallel, per process): a batch of N ranges costs about
 * N / this many round trips, so a cold listing of a level of headers
 * costs one when it is at least the level's width.
 */
#define H5S3_H5_DEFAULT_FETCH_PARALLEL 64
#define H5S3_H5_MAX_FETCH_PARALLEL 1024

void h5s3_h5_fetch_parallel_set(int n);
int h5s3_h5_fetch_parallel(void);

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

#endif
