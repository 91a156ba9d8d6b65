/*
 * Every range the readers of the format fetch ahead goes through here:
 * collected in batches, clipped to the object, merged, checked against
 * what the request may still fetch, and handed to the page cache in one
 * concurrent transfer.
 */
#include <stdlib.h>

#include "hdf5/format/h5s3_h5_format_private.h"

int h5s3_fmt_batch_add(h5s3_fmt_batch *b, apr_off_t off, apr_size_t len)
{
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        apr_off_t *o = realloc(b->offs, (apr_size_t)cap * sizeof(*o));
        apr_size_t *l;

        if (!o) {
            return 0;
        }
        b->offs = o;
        l = realloc(b->lens, (apr_size_t)cap * sizeof(*l));
        if (!l) {
            return 0;
        }
        b->lens = l;
        b->cap = cap;
    }
    b->offs[b->n] = off;
    b->lens[b->n] = len;
    b->n++;
    return 1;
}

typedef struct span {
    apr_off_t off;
    apr_size_t len;
} span;

static int cmp_span(const void *a, const void *b)
{
    apr_off_t x = ((const span *)a)->off, y = ((const span *)b)->off;

    return x < y ? -1 : x > y;
}

/*
 * Every prefetch goes through here.  The ranges (offsets and lengths a
 * file chose) are clipped to the object, sorted and merged, so the page
 * cache sees each byte once however often a file repeats it.  All of
 * them must fit what the request may still fetch (H5S3_H5_LIMIT_RANGES,
 * _PREFETCH_BYTES); what is charged is what was fetched: pages already
 * cached cost a lookup, not a transfer, so reading the same chunks again
 * (a CSV export strip by strip) spends nothing twice.  The transfer
 * buffers reserve from the process's memory budget.  H5S3_E_LIMIT over a
 * limit, H5S3_E_BUSY over the budget (callers treat a prefetch as best
 * effort).
 */
static apr_status_t prefetch(h5s3_h5_source *src, const apr_off_t *offsets,
                             const apr_size_t *lens, int n, int exact,
                             apr_size_t gap)
{
    h5s3_pagecache_counts counts = {0};
    span *sp, *ex = NULL;
    apr_off_t *mo = NULL;
    apr_size_t *ml = NULL;
    apr_uint64_t bytes = 0;
    apr_status_t rv;
    int i, k = 0, m = 0;

    if (!src->cache || n <= 0) {
        return APR_SUCCESS;
    }
    sp = malloc((apr_size_t)n * sizeof(*sp));
    if (!sp) {
        return APR_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        apr_off_t off = offsets[i];
        apr_size_t len = lens[i];

        if (off < 0 || off >= src->obj.size || len == 0) {
            continue;
        }
        if ((apr_uint64_t)len > (apr_uint64_t)(src->obj.size - off)) {
            len = (apr_size_t)(src->obj.size - off);
        }
        sp[k].off = off;
        sp[k].len = len;
        k++;
    }
    qsort(sp, (apr_size_t)k, sizeof(*sp), cmp_span);
    if (exact) {
        /* The ranges themselves go to the cache (each kept as asked);
         * the merged ones below only size the charge. */
        ex = malloc((apr_size_t)(k ? k : 1) * sizeof(*ex));
        if (!ex) {
            free(sp);
            return APR_ENOMEM;
        }
        for (i = 0; i < k; i++) {
            ex[i] = sp[i];
        }
    }
    for (i = 0; i < k; i++) {
        /* Both within the object: no sum below can wrap. */
        apr_off_t end = sp[i].off + (apr_off_t)sp[i].len;

        /* Exact ranges are fetched with the gaps between neighbours
         * closer than gap: those bytes are charged too. */
        if (m > 0 && sp[i].off <= sp[m - 1].off + (apr_off_t)sp[m - 1].len
                                  + (apr_off_t)gap) {
            if (end > sp[m - 1].off + (apr_off_t)sp[m - 1].len) {
                sp[m - 1].len = (apr_size_t)(end - sp[m - 1].off);
            }
        }
        else {
            sp[m++] = sp[i];
        }
    }
    for (i = 0; i < m; i++) {
        bytes += sp[i].len;     /* disjoint: at most the object's size */
        if (exact && sp[i].len > h5s3_pagecache_page_size(src->cache)) {
            /* A long run is widened to whole pages at both ends. */
            bytes += 2 * h5s3_pagecache_page_size(src->cache);
        }
    }
    rv = h5s3_h5_charge_check(H5S3_H5_LIMIT_RANGES, (apr_uint64_t)m);
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_charge_check(H5S3_H5_LIMIT_PREFETCH_BYTES, bytes);
    }
    if (exact) {
        /* What goes to the fetcher: the ranges as asked. */
        free(sp);
        sp = ex;
        ex = NULL;
        m = k;
    }
    if (rv == APR_SUCCESS && m > 0) {
        mo = malloc((apr_size_t)m * sizeof(*mo));
        ml = malloc((apr_size_t)m * sizeof(*ml));
        rv = mo && ml ? h5s3_h5_mem_reserve(bytes) : APR_ENOMEM;
    }
    if (rv == APR_SUCCESS && m > 0) {
        for (i = 0; i < m; i++) {
            mo[i] = sp[i].off;
            ml[i] = sp[i].len;
        }
        rv = exact
             ? h5s3_pagecache_prefetch_exact(src->cache, &src->obj, mo, ml,
                                             m, gap, &counts)
             : h5s3_pagecache_prefetch(src->cache, &src->obj, mo, ml, m,
                                       &counts);
        h5s3_h5_mem_release(bytes);
        h5s3_fmt_account(&counts);
        if (rv != APR_SUCCESS) {
            src->failed = 1;
        }
        /* Whole pages and short gaps are fetched along: a little more
         * than asked, which the check above already allowed for. */
        h5s3_h5_charge(H5S3_H5_LIMIT_RANGES,
                       counts.fetches < (apr_uint64_t)m ? counts.fetches
                                                        : (apr_uint64_t)m);
        h5s3_h5_charge(H5S3_H5_LIMIT_PREFETCH_BYTES,
                       counts.bytes < bytes ? counts.bytes : bytes);
    }
    free(sp);
    free(ex);
    free(mo);
    free(ml);
    return rv;
}

apr_status_t h5s3_h5_prefetch_ranges_src(h5s3_h5_source *src,
                                         const apr_off_t *offsets,
                                         const apr_size_t *lens, int n)
{
    return prefetch(src, offsets, lens, n, 0, 0);
}

apr_status_t h5s3_h5_prefetch_exact_src(h5s3_h5_source *src,
                                        const apr_off_t *offsets,
                                        const apr_size_t *lens, int n)
{
    return prefetch(src, offsets, lens, n, 1, H5S3_PAGECACHE_EXACT_GAP);
}

apr_status_t h5s3_fmt_prefetch_exact_gap(h5s3_h5_source *src,
                                         const apr_off_t *offsets,
                                         const apr_size_t *lens, int n,
                                         apr_size_t gap)
{
    return prefetch(src, offsets, lens, n, 1, gap);
}
