/*
 * Chunk decoding outside HDF5.  HDF5 1.10 (thread-safe build) decodes
 * chunks one after another behind its global lock; a strided read of a
 * big compressed dataset is then bound by one core inflating every chunk
 * it touches.  For the common pipelines (deflate, shuffle, none) and
 * types stored as they are read, the chunks' stored bytes are taken from
 * the page cache, decoded by a few threads, and the selected elements
 * copied out; anything else is left to H5Dread.
 *
 * The helper threads come from one bounded pool per process
 * (H5S3DecodeThreads), not from each request: the calling thread always
 * decodes too, so a request progresses even when every pool thread is
 * busy with other requests, and never waits for a helper that has not
 * started.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

#include <apr_atomic.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_pool.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "base/h5s3_once.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"

#define MAX_FILTERS     8
/* Threads one request decodes with at most (its own included). */
#define MAX_THREADS     8
/* Stored bytes read at once before decoding; bounds memory per request. */
#define MAX_RAW_BATCH   (64 * 1024 * 1024)
/* Chunks bigger than this decoded are left to HDF5 (memory per thread). */
#define MAX_DECODED     (64 * 1024 * 1024)

typedef struct pipeline {
    int n;
    H5Z_filter_t id[MAX_FILTERS];
    unsigned esize[MAX_FILTERS];        /* shuffle: bytes per element */
} pipeline;

typedef struct job {
    const h5s3_h5_dset *d;
    const h5s3_h5_chunks *c;
    const pipeline *pl;
    const hsize_t *start, *stride, *count;
    hsize_t ostride[H5S3_H5_RANK_MAX];  /* elements, output */
    hsize_t cstride[H5S3_H5_RANK_MAX];  /* elements, inside a chunk */
    apr_size_t decoded;                 /* bytes of one decoded chunk */
    const char *raw;                    /* stored bytes of this batch */
    const apr_size_t *rawoff;           /* per chunk of the batch */
    int first, last;                    /* batch: chunks [first, last) */
    char *out;
    hsize_t nout;                       /* elements of out */
    volatile apr_uint32_t next;
    volatile apr_uint32_t failed;
} job;

/*
 * What a batch shares with the pool tasks it queued.  A queued task may
 * start after the batch is over (the pool was busy): it then only sees
 * `closed` and drops its reference, so the batch never waits for it and
 * it never touches the caller's (gone) job.  The last reference frees.
 */
typedef struct batch_sync {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *idle;
    volatile apr_uint32_t refs;
    int closed;                         /* under lock */
    int active;                         /* tasks in work(), under lock */
    job *j;
} batch_sync;

/* The process's decode threads (lazily, or h5s3_h5_decode_threads_init). */
static apr_thread_pool_t *decode_pool;
static int decode_max = H5S3_H5_DEFAULT_DECODE_THREADS;
static volatile apr_uint32_t pool_state;        /* 0 none, 1 making, 2 made */
static h5s3_once lazy_once = H5S3_ONCE_INIT;   /* made on first use once */

static int get_pipeline(pipeline *pl, const h5s3_h5_dset *d)
{
    hid_t dcpl = H5Dget_create_plist(d->did);
    int i, n, ok = dcpl >= 0;

    pl->n = 0;
    n = ok ? H5Pget_nfilters(dcpl) : -1;
    ok = ok && n >= 0 && n <= MAX_FILTERS;
    for (i = 0; ok && i < n; i++) {
        unsigned flags = 0, cd[8] = {0};
        size_t ncd = 8;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd,
                                         cd, 0, NULL, NULL);

        pl->id[i] = id;
        pl->esize[i] = 0;
        if (id == H5Z_FILTER_SHUFFLE) {
            /* HDF5 stores the element size as its first value. */
            pl->esize[i] = ncd >= 1 && cd[0] ? cd[0] : (unsigned)d->msize;
        }
        else if (id != H5Z_FILTER_DEFLATE) {
            ok = 0;
        }
    }
    pl->n = ok ? n : 0;
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    return ok;
}

/* libdeflate: whole-buffer inflate, about twice zlib's speed. */
static int inflate_all(struct libdeflate_decompressor *z, char *dst,
                       apr_size_t dlen, const char *src, apr_size_t slen)
{
    size_t got = 0;

    return libdeflate_zlib_decompress(z, src, slen, dst, dlen, &got)
           == LIBDEFLATE_SUCCESS && got == dlen;
}

/* H5Z's shuffle, undone: byte j of element i was at j * n + i. */
static void unshuffle(char *dst, const char *src, apr_size_t len,
                      unsigned esize)
{
    apr_size_t n = len / esize, i, j;

    for (j = 0; j < esize; j++) {
        const char *s = src + j * n;

        for (i = 0; i < n; i++) {
            dst[i * esize + j] = s[i];
        }
    }
    memcpy(dst + n * esize, src + n * esize, len - n * esize);
}

/*
 * Undo the pipeline on one chunk's stored bytes.  Returns the buffer that
 * holds the decoded chunk (a or b), NULL when it does not decode to
 * exactly one chunk.  *shuffled is set when the last step, a shuffle of
 * whole elements, was left undone: scatter gathers the few selected
 * elements' bytes itself rather than unshuffling the whole chunk.
 */
static char *decode_one(const job *j, struct libdeflate_decompressor *z,
                        const char *raw, apr_size_t rlen, unsigned mask,
                        char *a, char *b, int *shuffled)
{
    const char *cur = raw;
    apr_size_t clen = rlen;
    int i;

    *shuffled = 0;
    for (i = j->pl->n - 1; i >= 0; i--) {
        char *dst = cur == a ? b : a;

        if (mask & (1u << i)) {
            continue;           /* this filter was skipped for the chunk */
        }
        if (i == 0 && j->pl->id[0] == H5Z_FILTER_SHUFFLE
            && j->pl->esize[0] == j->d->msize && clen == j->decoded
            && j->d->msize > 1 && clen / j->d->msize > 1) {
            *shuffled = 1;
            break;
        }
        if (j->pl->id[i] == H5Z_FILTER_DEFLATE) {
            if (!inflate_all(z, dst, j->decoded, cur, clen)) {
                return NULL;
            }
            clen = j->decoded;
        }
        else {
            if (clen != j->decoded) {
                return NULL;
            }
            if (j->pl->esize[i] <= 1 || clen / j->pl->esize[i] <= 1) {
                continue;       /* H5Z leaves such data as it is */
            }
            unshuffle(dst, cur, clen, j->pl->esize[i]);
        }
        cur = dst;
    }
    if (clen != j->decoded) {
        return NULL;
    }
    return (char *)cur;         /* may be raw itself: only read */
}

/*
 * Copy the selected elements of the decoded chunk at coord to the output
 * (from its byte planes when it is still shuffled).  coord comes from the
 * file's chunk index: the arithmetic cannot wrap (c1 saturates; indices
 * are within the checked selection), and every element's offsets are
 * checked against both buffers before the copy, in release builds too:
 * 0 (nothing touched beyond) when one would fall outside.
 */
static int scatter(const job *j, const char *chunk, const hsize_t *coord,
                   int shuffled)
{
    const h5s3_h5_dset *d = j->d;
    int nd = d->ndim, k;
    hsize_t lo[H5S3_H5_RANK_MAX], hi[H5S3_H5_RANK_MAX];
    hsize_t idx[H5S3_H5_RANK_MAX];
    size_t es = d->msize, b, plane = j->decoded / d->msize;

    /* Selection indices k with start + k*stride inside this chunk. */
    for (k = 0; k < nd; k++) {
        hsize_t c0 = coord[k], c1;

        if (!H5S3_ADD(&c1, c0, d->chunk[k])) {
            c1 = UINT64_MAX;    /* a chunk at the end of a 2^64 dim */
        }
        lo[k] = c0 > j->start[k]
                ? h5s3_ceil_div(c0 - j->start[k], j->stride[k]) : 0;
        hi[k] = c1 > j->start[k]
                ? (c1 - 1 - j->start[k]) / j->stride[k] + 1 : 0;
        if (hi[k] > j->count[k]) {
            hi[k] = j->count[k];
        }
        if (lo[k] >= hi[k]) {
            return 1;
        }
        idx[k] = lo[k];
    }
    for (;;) {
        hsize_t o = 0, in = 0, m, inner = nd - 1;

        for (k = 0; k < nd - 1; k++) {
            o += idx[k] * j->ostride[k];
            in += (j->start[k] + idx[k] * j->stride[k] - coord[k])
                  * j->cstride[k];
        }
        for (m = lo[inner]; m < hi[inner]; m++) {
            hsize_t ci = in + j->start[inner] + m * j->stride[inner]
                         - coord[inner];

            if (ci >= plane || o + m >= j->nout) {
                return 0;       /* a bug or a lie: touch nothing else */
            }
            if (shuffled) {
                char *dst = j->out + (o + m) * es;

                for (b = 0; b < es; b++) {
                    dst[b] = chunk[b * plane + ci];
                }
            }
            else {
                memcpy(j->out + (o + m) * es, chunk + ci * es, es);
            }
        }
        for (k = nd - 2; k >= 0; k--) {
            if (++idx[k] < hi[k]) {
                break;
            }
            idx[k] = lo[k];
        }
        if (k < 0) {
            break;
        }
    }
    return 1;
}

static void work(job *j)
{
    char *a = malloc(j->decoded), *b = malloc(j->decoded);
    struct libdeflate_decompressor *z = libdeflate_alloc_decompressor();

    if (!a || !b || !z) {
        apr_atomic_set32(&j->failed, 1);
    }
    while (!apr_atomic_read32(&j->failed)) {
        int i = j->first + (int)apr_atomic_inc32(&j->next);
        const char *chunk;
        int shuffled;

        if (i >= j->last) {
            break;
        }
        chunk = decode_one(j, z, j->raw + j->rawoff[i - j->first],
                           j->c->size[i], j->c->mask[i], a, b, &shuffled);
        if (!chunk
            || !scatter(j, chunk, j->c->coords + (apr_size_t)i * j->c->rank,
                        shuffled)) {
            apr_atomic_set32(&j->failed, 1);
            break;
        }
    }
    free(a);
    free(b);
    if (z) {
        libdeflate_free_decompressor(z);
    }
}

/* ---- the process's decode threads ------------------------------------- */

static apr_status_t pool_gone(void *data)
{
    (void)data;
    decode_pool = NULL;
    apr_atomic_set32(&pool_state, 0);
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_decode_threads_init(int n, apr_pool_t *p)
{
    apr_thread_pool_t *tp = NULL;
    apr_status_t rv;

    if (n < 1) {
        n = 1;
    }
    if (apr_atomic_cas32(&pool_state, 1, 0) != 0) {
        return APR_SUCCESS;     /* made already (or being made) */
    }
    /* Threads start when there is work, up to n, and stay. */
    rv = apr_thread_pool_create(&tp, 0, (apr_size_t)n, p);
    if (rv != APR_SUCCESS) {
        apr_atomic_set32(&pool_state, 0);
        return rv;
    }
    decode_max = n;
    decode_pool = tp;
    apr_pool_cleanup_register(p, NULL, pool_gone, apr_pool_cleanup_null);
    apr_atomic_set32(&pool_state, 2);
    return APR_SUCCESS;
}

/*
 * The pool made with the default size on first use when the glue did not
 * make it (tests, tools).  It lives as long as the process; its allocator
 * is kept here, so leak checkers see it held.
 */
static apr_allocator_t *lazy_allocator;

static void make_lazy_pool(void)
{
    apr_pool_t *p = NULL;

    if (apr_allocator_create(&lazy_allocator) == APR_SUCCESS
        && apr_pool_create_unmanaged_ex(&p, NULL, lazy_allocator)
           == APR_SUCCESS) {
        apr_allocator_owner_set(lazy_allocator, p);
        h5s3_h5_decode_threads_init(H5S3_H5_DEFAULT_DECODE_THREADS, p);
    }
}

/* The process's decode pool, or NULL if there is none: decode alone. */
static apr_thread_pool_t *get_pool(void)
{
    if (apr_atomic_read32(&pool_state) == 0) {
        h5s3_once_run(&lazy_once, make_lazy_pool);
    }
    return apr_atomic_read32(&pool_state) == 2 ? decode_pool : NULL;
}

static void sync_unref(batch_sync *bs)
{
    if (!apr_atomic_dec32(&bs->refs)) {
        apr_pool_destroy(bs->pool);     /* lock, cond and bs itself */
    }
}

static void *APR_THREAD_FUNC task_main(apr_thread_t *t, void *data)
{
    batch_sync *bs = data;
    int run;

    (void)t;
    apr_thread_mutex_lock(bs->lock);
    run = !bs->closed;
    if (run) {
        bs->active++;
    }
    apr_thread_mutex_unlock(bs->lock);
    if (run) {
        work(bs->j);
        apr_thread_mutex_lock(bs->lock);
        if (--bs->active == 0) {
            apr_thread_cond_signal(bs->idle);
        }
        apr_thread_mutex_unlock(bs->lock);
    }
    sync_unref(bs);
    return NULL;
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/*
 * Decode chunks [j->first, j->last): this thread, plus up to `helpers`
 * pool tasks (whose decode buffers the caller reserved).  Returns once
 * every chunk is done and no task is inside work(): tasks still queued
 * then find the batch closed.
 */
static apr_status_t run_batch(job *j, int helpers)
{
    apr_thread_pool_t *tp = helpers > 0 ? get_pool() : NULL;
    batch_sync *bs = NULL;
    apr_pool_t *p = NULL;
    int i;

    apr_atomic_set32(&j->next, 0);
    if (tp && apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
        bs = apr_pcalloc(p, sizeof(*bs));
        bs->pool = p;
        bs->j = j;
        if (apr_thread_mutex_create(&bs->lock, APR_THREAD_MUTEX_DEFAULT, p)
                != APR_SUCCESS
            || apr_thread_cond_create(&bs->idle, p) != APR_SUCCESS) {
            apr_pool_destroy(p);
            bs = NULL;
        }
    }
    if (bs) {
        apr_atomic_set32(&bs->refs, 1);         /* ours */
        for (i = 0; i < helpers; i++) {
            apr_atomic_inc32(&bs->refs);
            if (apr_thread_pool_push(tp, task_main, bs,
                                     APR_THREAD_TASK_PRIORITY_NORMAL, bs)
                != APR_SUCCESS) {
                apr_atomic_dec32(&bs->refs);
                break;
            }
        }
    }
    /* The calling thread decodes too, until no chunk is left. */
    work(j);
    if (bs) {
        apr_thread_mutex_lock(bs->lock);
        bs->closed = 1;
        while (bs->active > 0) {
            apr_thread_cond_wait(bs->idle, bs->lock);
        }
        apr_thread_mutex_unlock(bs->lock);
        sync_unref(bs);
    }
    return apr_atomic_read32(&j->failed) ? APR_EGENERAL : APR_SUCCESS;
}

apr_status_t h5s3_h5_decode_chunks(void *out, const h5s3_h5_dset *d,
                                   h5s3_h5_source *src,
                                   const h5s3_h5_chunks *c,
                                   const hsize_t *start,
                                   const hsize_t *stride,
                                   const hsize_t *count)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();
    pipeline pl;
    job j;
    apr_size_t *rawoff = NULL;
    char *raw = NULL;
    apr_size_t total = 0;
    hsize_t per_thread, end;
    apr_uint64_t held = 0;
    apr_status_t rv = APR_SUCCESS;
    int k, i, helpers;

    if (!src || d->ndim < 1 || !c || c->n < 1 || c->rank != d->ndim
        || d->kind != H5S3_H5_KIND_NUMERIC || d->msize == 0
        || H5Tequal(d->ftype, d->mtype) <= 0 || !get_pipeline(&pl, d)) {
        return H5S3_E_UNSUPPORTED;
    }
    memset(&j, 0, sizeof(j));
    for (k = 0; k < d->ndim; k++) {
        if (stride[k] == 0 || d->chunk[k] == 0
            || (count[k] > 0
                && (!h5s3_slab_end(&end, start[k], stride[k], count[k])
                    || end > d->shape[k]))) {
            return H5S3_E_UNSUPPORTED;
        }
    }
    /* Checked: 32-bit chunk dims times the element size wrap a size_t
     * with a few dims, and a wrapped size would undersize the buffers
     * scatter() reads.  The output holds exactly the selection. */
    if (!h5s3_dims_product(&per_thread, d->chunk, d->ndim, d->msize,
                           MAX_DECODED)
        || !h5s3_dims_product(&j.nout, count, d->ndim, 1, UINT64_MAX)) {
        return H5S3_E_UNSUPPORTED;
    }
    j.decoded = (apr_size_t)per_thread;
    per_thread *= 2;            /* work()'s two buffers */
    j.d = d;
    j.c = c;
    j.pl = &pl;
    j.start = start;
    j.stride = stride;
    j.count = count;
    j.out = out;
    j.ostride[d->ndim - 1] = 1;
    j.cstride[d->ndim - 1] = 1;
    for (k = d->ndim - 2; k >= 0; k--) {
        j.ostride[k] = j.ostride[k + 1] * count[k + 1];
        j.cstride[k] = j.cstride[k + 1] * d->chunk[k + 1];
    }
    for (i = 0; i < c->n && total < MAX_RAW_BATCH; i++) {
        total += c->size[i];
    }
    if (total > MAX_RAW_BATCH) {
        total = MAX_RAW_BATCH;
    }
    /* The stored bytes, and the calling thread's decode buffers; then
     * as many helpers as the budget has room for (none is fine). */
    rv = h5s3_h5_mem_alloc((void **)&raw, total ? total : 1, 0);
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_mem_reserve(per_thread);
    }
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    held = per_thread;
    helpers = cpu_count() - 1;
    if (helpers > decode_max) {
        helpers = decode_max;
    }
    if (helpers > c->n - 1) {
        helpers = c->n - 1;
    }
    for (i = 0; i < helpers; i++) {
        if (h5s3_h5_mem_reserve(per_thread) != APR_SUCCESS) {
            break;
        }
        held += per_thread;
    }
    helpers = i;
    rawoff = malloc((apr_size_t)c->n * sizeof(*rawoff));
    if (!rawoff) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < c->n && rv == APR_SUCCESS;) {
        apr_size_t used = 0;
        h5s3_pagecache_counts counts = {0};

        /* Stored bytes of as many chunks as fit, read (from the cache,
         * normally) on this thread: the request is charged for any miss. */
        j.first = i;
        if (c->size[i] > total) {
            rv = H5S3_E_UNSUPPORTED;
            break;
        }
        while (i < c->n && rv == APR_SUCCESS
               && used + c->size[i] <= total) {
            rawoff[i - j.first] = used;
            rv = h5s3_pagecache_read(src->cache, &src->obj, c->addr[i],
                                     c->size[i], raw + used, &counts);
            used += c->size[i];
            i++;
        }
        if (rq) {
            rq->page_hits += counts.hits;
            rq->page_misses += counts.misses;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        j.last = i;
        j.raw = raw;
        j.rawoff = rawoff;
        rv = run_batch(&j, helpers < j.last - j.first - 1
                           ? helpers : j.last - j.first - 1);
    }

cleanup:
    free(rawoff);
    h5s3_h5_mem_free(raw);
    h5s3_h5_mem_release(held);
    return rv;
}
