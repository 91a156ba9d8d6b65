/*
 * Chunk decoding outside HDF5.  HDF5 1.10 (thread-safe build) decodes
 * chunks one after another behind its global lock; a strided read of a
 * big compressed dataset is then bound by one core inflating every chunk
 * it touches.  For the common pipelines (deflate, shuffle, none) and
 * types stored as they are read, the chunks' stored bytes are taken from
 * the page cache, decoded by a few threads, and the selected elements
 * copied out; anything else is left to H5Dread.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "h5s3_errors.h"
#include "h5s3_h5_file.h"
#include "h5s3_h5_read.h"

#define MAX_FILTERS     8
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
    volatile apr_uint32_t next;
    volatile apr_uint32_t failed;
} job;

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

/* Copy the selected elements of the decoded chunk at coord to the output
 * (from its byte planes when it is still shuffled). */
static void scatter(const job *j, const char *chunk, const hsize_t *coord,
                    int shuffled)
{
    const h5s3_h5_dset *d = j->d;
    int nd = d->ndim, k;
    hsize_t lo[H5S3_H5_RANK_MAX], hi[H5S3_H5_RANK_MAX];
    hsize_t idx[H5S3_H5_RANK_MAX];
    size_t es = d->msize, b, plane = j->decoded / d->msize;

    /* Selection indices k with start + k*stride inside this chunk. */
    for (k = 0; k < nd; k++) {
        hsize_t c0 = coord[k], c1 = coord[k] + d->chunk[k];

        lo[k] = c0 > j->start[k]
                ? (c0 - j->start[k] + j->stride[k] - 1) / j->stride[k] : 0;
        hi[k] = c1 > j->start[k]
                ? (c1 - 1 - j->start[k]) / j->stride[k] + 1 : 0;
        if (hi[k] > j->count[k]) {
            hi[k] = j->count[k];
        }
        if (lo[k] >= hi[k]) {
            return;
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
        if (!chunk) {
            apr_atomic_set32(&j->failed, 1);
            break;
        }
        scatter(j, chunk, j->c->coords + (apr_size_t)i * j->c->rank,
                shuffled);
    }
    free(a);
    free(b);
    if (z) {
        libdeflate_free_decompressor(z);
    }
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *t, void *data)
{
    work(data);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Decode chunks [j->first, j->last) with up to nthreads threads. */
static apr_status_t run_batch(job *j, int nthreads, apr_pool_t *tp)
{
    apr_thread_t *th[MAX_THREADS];
    int started = 0, i;

    apr_atomic_set32(&j->next, 0);
    if (nthreads > j->last - j->first) {
        nthreads = j->last - j->first;
    }
    /* The calling thread is one of the workers. */
    for (i = 1; i < nthreads; i++) {
        if (apr_thread_create(&th[started], NULL, thread_main, j, tp)
            != APR_SUCCESS) {
            break;
        }
        started++;
    }
    work(j);
    for (i = 0; i < started; i++) {
        apr_status_t trv;

        apr_thread_join(&trv, th[i]);
    }
    return apr_atomic_read32(&j->failed) ? APR_EGENERAL : APR_SUCCESS;
}

static int thread_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
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
    apr_pool_t *tp = NULL;
    apr_size_t total = 0;
    apr_status_t rv = APR_SUCCESS;
    int k, i;

    if (!src || d->ndim < 1 || !c || c->n < 1 || c->rank != d->ndim
        || d->kind != H5S3_H5_KIND_NUMERIC
        || H5Tequal(d->ftype, d->mtype) <= 0 || !get_pipeline(&pl, d)) {
        return H5S3_E_UNSUPPORTED;
    }
    memset(&j, 0, sizeof(j));
    j.decoded = d->msize;
    for (k = 0; k < d->ndim; k++) {
        if (stride[k] == 0 || d->chunk[k] == 0) {
            return H5S3_E_UNSUPPORTED;
        }
        j.decoded *= (apr_size_t)d->chunk[k];
    }
    if (j.decoded > MAX_DECODED) {
        return H5S3_E_UNSUPPORTED;
    }
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
    rawoff = malloc((apr_size_t)c->n * sizeof(*rawoff));
    raw = malloc(total ? total : 1);
    if (!rawoff || !raw
        || apr_pool_create_unmanaged_ex(&tp, NULL, NULL) != APR_SUCCESS) {
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
        rv = run_batch(&j, thread_count(), tp);
    }

cleanup:
    free(rawoff);
    free(raw);
    if (tp) {
        apr_pool_destroy(tp);
    }
    return rv;
}
