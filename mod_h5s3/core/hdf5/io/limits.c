/*
 * Per-request limits on what a file can make the module do (see
 * include/hdf5/h5s3_h5_file.h): the budgets, their names, and charging the request
 * current on this thread.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include "hdf5/io/h5s3_h5_io.h"
#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"

typedef struct limit_def {
    const char *name;
    apr_uint64_t dflt;
    int bytes;
    const char *what;           /* for the error: "more than N <what>" */
} limit_def;

#define MIB ((apr_uint64_t)1024 * 1024)

static const limit_def defs[H5S3_H5_LIMIT_COUNT] = {
    /* A 2000x2000 float64 window of a dataset in small chunks, or a wide
     * strided plane, reads at most a few hundred MiB. */
    {"read-bytes", 1024 * MIB, 1, "bytes read from the file"},
    {"prefetch-bytes", 512 * MIB, 1, "bytes fetched ahead"},
    {"prefetch-ranges", 65536, 0, "byte ranges fetched ahead"},
    /* Index nodes walked: a B-tree over a million chunks has ~16k. */
    {"index-nodes", 65536, 0, "index nodes walked"},
    {"entries", 100000, 0, "links listed"},
    {"vlen-bytes", 64 * MIB, 1, "bytes of variable-length data"},
};

void h5s3_h5_limits_default(h5s3_h5_limits *l)
{
    int k;

    for (k = 0; k < H5S3_H5_LIMIT_COUNT; k++) {
        l->max[k] = defs[k].dflt;
    }
}

const char *h5s3_h5_limit_name(h5s3_h5_limit_kind k)
{
    return (unsigned)k < H5S3_H5_LIMIT_COUNT ? defs[k].name : "?";
}

int h5s3_h5_limit_lookup(const char *name)
{
    int k;

    for (k = 0; k < H5S3_H5_LIMIT_COUNT; k++) {
        if (!strcmp(name, defs[k].name)) {
            return k;
        }
    }
    return -1;
}

int h5s3_h5_limit_is_bytes(h5s3_h5_limit_kind k)
{
    return (unsigned)k < H5S3_H5_LIMIT_COUNT && defs[k].bytes;
}

apr_uint64_t h5s3_h5_limit(h5s3_h5_limit_kind k)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();

    if ((unsigned)k >= H5S3_H5_LIMIT_COUNT) {
        return 0;
    }
    return rq && rq->limits ? rq->limits->max[k] : defs[k].dflt;
}

/* Has the request exceeded one of its limits?  (Its result says so.) */
static int over_limit(const h5s3_h5_request *rq)
{
    return rq && rq->result.status == H5S3_E_LIMIT;
}

apr_uint64_t h5s3_h5_limit_left(h5s3_h5_limit_kind k)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();
    apr_uint64_t max = h5s3_h5_limit(k);

    if ((unsigned)k >= H5S3_H5_LIMIT_COUNT || over_limit(rq)) {
        return 0;
    }
    return rq ? (rq->spent[k] < max ? max - rq->spent[k] : 0) : max;
}

apr_status_t h5s3_h5_limit_status(void)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();

    return over_limit(rq) ? H5S3_E_LIMIT : APR_SUCCESS;
}

/* Spend n of kind k (spend 0: only check that n more would fit). */
static apr_status_t charge(h5s3_h5_limit_kind k, apr_uint64_t n, int spend)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();
    apr_uint64_t max = h5s3_h5_limit(k), total;

    if ((unsigned)k >= H5S3_H5_LIMIT_COUNT) {
        return H5S3_E_INVALID;
    }
    if (rq == NULL) {
        return n <= max ? APR_SUCCESS : H5S3_E_LIMIT;
    }
    if (over_limit(rq)) {
        return H5S3_E_LIMIT;    /* one limit exceeded ends the request */
    }
    if (!H5S3_ADD(&total, rq->spent[k], n) || total > max) {
        return h5s3_result_printf(&rq->result, H5S3_E_LIMIT,
                                  "The file would need more than %"
                                  APR_UINT64_T_FMT " %s for this request "
                                  "(limit %s)", max, defs[k].what,
                                  defs[k].name);
    }
    if (spend) {
        rq->spent[k] = total;
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_charge(h5s3_h5_limit_kind k, apr_uint64_t n)
{
    return charge(k, n, 1);
}

apr_status_t h5s3_h5_charge_check(h5s3_h5_limit_kind k, apr_uint64_t n)
{
    return charge(k, n, 0);
}

/* ---- per-process memory budget ----------------------------------------- */

static volatile apr_uint64_t mem_budget = H5S3_H5_DEFAULT_MEM_BUDGET;
static volatile apr_uint64_t mem_used;

void h5s3_h5_mem_budget_set(apr_uint64_t bytes)
{
    apr_atomic_set64(&mem_budget, bytes);
}

apr_uint64_t h5s3_h5_mem_budget(void)
{
    return apr_atomic_read64(&mem_budget);
}

apr_uint64_t h5s3_h5_mem_reserved(void)
{
    return apr_atomic_read64(&mem_used);
}

apr_status_t h5s3_h5_mem_reserve(apr_uint64_t n)
{
    apr_uint64_t max = apr_atomic_read64(&mem_budget), cur, next;

    if (n == 0) {
        return APR_SUCCESS;
    }
    /* Compare and swap: two requests never both take the last bytes. */
    do {
        cur = apr_atomic_read64(&mem_used);
        if (!H5S3_ADD(&next, cur, n) || (max && next > max)) {
            return H5S3_E_BUSY;
        }
    } while (apr_atomic_cas64(&mem_used, next, cur) != cur);
    return APR_SUCCESS;
}

void h5s3_h5_mem_release(apr_uint64_t n)
{
    if (n) {
        apr_atomic_sub64(&mem_used, n);
    }
}

/* In front of every block of h5s3_h5_mem_alloc: its size (16 bytes keep
 * the block as aligned as malloc's). */
typedef union mem_head {
    apr_size_t size;
    long double align;
} mem_head;

apr_status_t h5s3_h5_mem_alloc(void **out, apr_size_t n, int zero)
{
    apr_size_t total;
    mem_head *h;
    apr_status_t rv;

    *out = NULL;
    if (!H5S3_ADD(&total, n, sizeof(mem_head))) {
        return APR_ENOMEM;
    }
    rv = h5s3_h5_mem_reserve(n);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    h = zero ? calloc(1, total) : malloc(total);
    if (h == NULL) {
        h5s3_h5_mem_release(n);
        return APR_ENOMEM;
    }
    h->size = n;
    *out = h + 1;
    return APR_SUCCESS;
}

void h5s3_h5_mem_free(void *p)
{
    mem_head *h;

    if (p == NULL) {
        return;
    }
    h = (mem_head *)p - 1;
    h5s3_h5_mem_release(h->size);
    free(h);
}

/* ---- ranges in flight ------------------------------------------------- */

static volatile apr_uint32_t fetch_parallel = H5S3_H5_DEFAULT_FETCH_PARALLEL;

void h5s3_h5_fetch_parallel_set(int n)
{
    if (n < 1) {
        n = H5S3_H5_DEFAULT_FETCH_PARALLEL;
    }
    if (n > H5S3_H5_MAX_FETCH_PARALLEL) {
        n = H5S3_H5_MAX_FETCH_PARALLEL;
    }
    apr_atomic_set32(&fetch_parallel, (apr_uint32_t)n);
}

int h5s3_h5_fetch_parallel(void)
{
    return (int)apr_atomic_read32(&fetch_parallel);
}
