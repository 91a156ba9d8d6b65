/*
 * What a read touches, fetched ahead.  Before each H5Dread the chunks
 * the selection touches are looked up (the chunk index walked by
 * hdf5/format, else H5Dget_chunk_info_by_coord, only those: a stride
 * that skips whole chunks skips their bytes too) and the missing ones
 * fetched concurrently into the page cache (by their exact bytes, not
 * the pages around them), outside HDF5's global lock;
 * HDF5 then decodes them from memory.  Contiguous datasets get the byte
 * ranges of the selected rows the same way.
 */
#include <stdlib.h>

#include "base/h5s3_checked.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_read_private.h"

/* Contiguous rows farther apart than this are fetched element by element
 * rather than as one span. */
#define SPAN_GAP (256 * 1024)
#define MAX_RANGES 100000

typedef struct ranges {
    apr_off_t *off;
    apr_size_t *len;
    int n;
    int cap;
    int full;
} ranges;

static void add_range(ranges *r, apr_off_t off, apr_size_t len)
{
    if (r->full || len == 0 || off < 0) {
        return;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        apr_off_t *o;
        apr_size_t *l;

        if (cap > MAX_RANGES) {
            r->full = 1;
            return;
        }
        o = realloc(r->off, (size_t)cap * sizeof(*o));
        if (o) {
            r->off = o;
        }
        l = o ? realloc(r->len, (size_t)cap * sizeof(*l)) : NULL;
        if (!o || !l) {
            r->full = 1;
            return;
        }
        r->len = l;
        r->cap = cap;
    }
    r->off[r->n] = off;
    r->len[r->n] = len;
    r->n++;
}

/*
 * The distinct chunk indices along one dim that the selection touches
 * (the selection is within the dim: h5s3_h5_read checked it), at most
 * as many as chunks it spans, not one per selected index.
 */
static hsize_t *chunk_list(hsize_t *n, hsize_t start, hsize_t stride,
                           hsize_t count, hsize_t chunk)
{
    hsize_t *l, k, last = (hsize_t)-1, max = 1, end;

    if (count > 0 && h5s3_slab_end(&end, start, stride, count)) {
        max = (end - 1) / chunk - start / chunk + 1;
    }
    if (max > count) {
        max = count;
    }
    l = malloc((size_t)(max ? max : 1) * sizeof(*l));
    if (!l) {
        return NULL;
    }
    *n = 0;
    for (k = 0; k < count; k++) {
        hsize_t c = (start + k * stride) / chunk;

        if (c != last) {
            if (*n == max) {
                free(l);        /* cannot happen for a checked slab */
                return NULL;
            }
            l[(*n)++] = c;
            last = c;
        }
    }
    return l;
}

/*
 * The chunks the selection touches, looked up and their pages queued in
 * r.  First the chunk index itself is fetched level by level (for a v1
 * B-tree it then gives the table directly); else HDF5 looks each chunk
 * up, from the cache.  Returns the table when every touched chunk is
 * allocated (what the decoder needs), else NULL.
 */
static h5s3_h5_chunks *prefetch_chunked(const h5s3_h5_dset *d, ranges *r,
                                        const hsize_t *start,
                                        const hsize_t *stride,
                                        const hsize_t *count)
{
    hsize_t *lists[H5S3_H5_RANK_MAX] = {0}, lens[H5S3_H5_RANK_MAX];
    hsize_t idx[H5S3_H5_RANK_MAX], coord[H5S3_H5_RANK_MAX];
    h5s3_h5_chunks *c = NULL;
    hsize_t total = 0;
    int i, cap = 0, complete = 0;

    for (i = 0; i < d->ndim; i++) {
        if (d->chunk[i] == 0) {
            goto cleanup;
        }
        lists[i] = chunk_list(&lens[i], start[i], stride[i], count[i],
                              d->chunk[i]);
        if (!lists[i]) {
            goto cleanup;
        }
        idx[i] = 0;
    }
    if (!h5s3_dims_product(&total, lens, d->ndim, 1,
                           H5S3_H5_MAX_PREFETCH_CHUNKS) || total == 0) {
        goto cleanup;
    }
    h5s3_h5_prefetch_chunk_index(&c, d->did, h5s3_h5_file_source(d->file),
                                 d->ndim, d->chunk, lists, lens);
    if (c) {
        complete = (hsize_t)c->n == total;
        for (i = 0; i < c->n; i++) {
            add_range(r, c->addr[i], c->size[i]);
        }
        goto cleanup;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        goto cleanup;
    }
    c->rank = d->ndim;
    complete = 1;
    for (;;) {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        apr_off_t at;

        for (i = 0; i < d->ndim; i++) {
            coord[i] = lists[i][idx[i]] * d->chunk[i];
        }
        if (H5Dget_chunk_info_by_coord(d->did, coord, &mask, &addr,
                                       &size) >= 0
            && addr != HADDR_UNDEF && size > 0 && size <= APR_SIZE_MAX
            && H5S3_ADD(&at, d->base, addr)) {
            add_range(r, at, (apr_size_t)size);
            if (complete && !h5s3_h5_chunks_add(c, &cap, coord, at,
                                                (apr_size_t)size, mask)) {
                complete = 0;
            }
        }
        else {
            complete = 0;
        }
        for (i = d->ndim - 1; i >= 0; i--) {
            if (++idx[i] < lens[i]) {
                break;
            }
            idx[i] = 0;
        }
        if (i < 0) {
            break;
        }
    }

cleanup:
    for (i = 0; i < d->ndim; i++) {
        free(lists[i]);
    }
    if (!complete) {
        h5s3_h5_chunks_free(c);
        c = NULL;
    }
    return c;
}

static void prefetch_contiguous(const h5s3_h5_dset *d, ranges *r,
                                const hsize_t *start, const hsize_t *stride,
                                const hsize_t *count)
{
    haddr_t base = H5Dget_offset(d->did);
    size_t esize = H5Tget_size(d->ftype);
    hsize_t rowlen[H5S3_H5_RANK_MAX], idx[H5S3_H5_RANK_MAX], span, bytes;
    hsize_t rows = 0;
    apr_uint64_t first;
    int last = d->ndim - 1, i;

    /* H5Dget_offset is absolute (user block included), unlike chunk
     * addresses. */
    first = base;
    if (base == HADDR_UNDEF || base > APR_INT64_MAX || d->ndim == 0
        || esize == 0
        || !h5s3_dims_product(&bytes, d->shape, d->ndim, esize,
                              APR_INT64_MAX - first)) {
        return;                 /* no such data in any object: HDF5 says */
    }
    /* Elements between consecutive indices of each dim (their products
     * are at most the element count: no wrap). */
    rowlen[last] = 1;
    for (i = last - 1; i >= 0; i--) {
        rowlen[i] = rowlen[i + 1] * d->shape[i + 1];
    }
    for (i = 0; i < last; i++) {
        idx[i] = 0;
    }
    if (!h5s3_dims_product(&rows, count, last, 1, MAX_RANGES)
        || rows == 0 || count[last] == 0
        || !h5s3_slab_end(&span, 0, stride[last], count[last])) {
        return;
    }
    /* Every offset below is within [first, first + bytes): no wrap. */
    for (;;) {
        hsize_t lin = 0, k;

        for (i = 0; i < last; i++) {
            lin += (start[i] + idx[i] * stride[i]) * rowlen[i];
        }
        lin += start[last];
        if (stride[last] > SPAN_GAP / esize && count[last] > 1) {
            for (k = 0; k < count[last] && !r->full; k++) {
                add_range(r, (apr_off_t)(first + (lin + k * stride[last])
                                         * esize), esize);
            }
        }
        else {
            add_range(r, (apr_off_t)(first + lin * esize),
                      (apr_size_t)(span * esize));
        }
        for (i = last - 1; i >= 0; i--) {
            if (++idx[i] < count[i]) {
                break;
            }
            idx[i] = 0;
        }
        if (i < 0 || r->full) {
            break;
        }
    }
}

h5s3_h5_chunks *h5s3_h5_read_prefetch(const h5s3_h5_dset *d,
                                      const hsize_t *start,
                                      const hsize_t *stride,
                                      const hsize_t *count)
{
    ranges r = {0};
    h5s3_h5_chunks *c = NULL;

    if (d->file == NULL) {
        return NULL;
    }
    if (d->layout == H5D_CHUNKED) {
        c = prefetch_chunked(d, &r, start, stride, count);
    }
    else if (d->layout == H5D_CONTIGUOUS) {
        prefetch_contiguous(d, &r, start, stride, count);
    }
    if (r.n > 0 && !r.full) {
        /* Best effort: a failure here only means HDF5 reads itself.
         * Chunks are read whole at their own address: fetched by their
         * exact bytes, neighbours sharing a request across small gaps;
         * rows of a contiguous dataset by the pages around them. */
        if (d->layout == H5D_CHUNKED) {
            h5s3_h5_prefetch_exact_src(h5s3_h5_file_source(d->file), r.off,
                                       r.len, r.n);
        }
        else {
            h5s3_h5_prefetch_ranges(d->file, r.off, r.len, r.n);
        }
    }
    free(r.off);
    free(r.len);
    return c;
}
