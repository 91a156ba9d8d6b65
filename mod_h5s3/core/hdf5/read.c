/*
 * Bounded strided reads of dataset values.  Before each H5Dread the
 * chunks the selection touches are looked up (H5Dget_chunk_info_by_coord,
 * only those: a stride that skips whole chunks skips their bytes too) and
 * the missing ones fetched concurrently into the page cache, outside
 * HDF5's global lock; HDF5 then decodes them from memory.  Contiguous
 * datasets get the byte ranges of the selected rows the same way.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_filters.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_storage.h"
#include "hdf5/h5s3_h5_types.h"
#include "hdf5/h5s3_h5_vlen.h"

/* Contiguous rows farther apart than this are fetched element by element
 * rather than as one span. */
#define SPAN_GAP (256 * 1024)
#define MAX_RANGES 100000

static volatile apr_uint32_t plugins_state;

void h5s3_h5_plugins_init(void)
{
    if (apr_atomic_cas32(&plugins_state, 1, 0) == 0) {
        unsigned int i, n = 0;
        int found = 0;

        h5s3_h5_global_init();
        /* HDF5_PLUGIN_PATH, when set, replaces HDF5's default list: keep
         * it first and add Debian's directory after it. */
        if (H5PLsize(&n) >= 0) {
            for (i = 0; i < n && !found; i++) {
                char buf[512];

                if (H5PLget(i, buf, sizeof(buf)) > 0
                    && strcmp(buf, H5S3_H5_PLUGIN_DIR) == 0) {
                    found = 1;
                }
            }
        }
        if (!found) {
            H5PLappend(H5S3_H5_PLUGIN_DIR);
        }
        apr_atomic_set32(&plugins_state, 2);
    }
    else {
        while (apr_atomic_read32(&plugins_state) != 2) {
            apr_sleep(1000);
        }
    }
}

static apr_status_t dset_cleanup(void *data)
{
    h5s3_h5_dset *d = data;

    if (d->mtype >= 0) {
        H5Tclose(d->mtype);
    }
    if (d->ftype >= 0) {
        H5Tclose(d->ftype);
    }
    if (d->did >= 0) {
        H5Dclose(d->did);
    }
    return APR_SUCCESS;
}

static h5s3_h5_kind kind_of(hid_t t)
{
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
    case H5T_FLOAT:
        return H5S3_H5_KIND_NUMERIC;
    case H5T_ENUM:
        /* h5py reads other enums as their integer base type. */
        return h5s3_h5_type_is_bool(t) ? H5S3_H5_KIND_BOOL
                                       : H5S3_H5_KIND_NUMERIC;
    case H5T_COMPOUND:
        return h5s3_h5_type_is_complex(t) ? H5S3_H5_KIND_COMPLEX
                                          : H5S3_H5_KIND_OTHER;
    default:
        return H5S3_H5_KIND_OTHER;
    }
}

int h5s3_h5_kind_numeric(h5s3_h5_kind k)
{
    return k != H5S3_H5_KIND_OTHER;
}

apr_status_t h5s3_h5_dset_open(h5s3_h5_dset **out, const char **err,
                               hid_t fid, struct h5s3_h5_file *f,
                               const char *path, apr_pool_t *p)
{
    h5s3_h5_obj o;
    h5s3_h5_dset *d;
    hid_t space = -1, dcpl = -1, fcpl = -1;
    hsize_t ub = 0;
    apr_status_t rv;

    h5s3_h5_plugins_init();
    *out = NULL;
    rv = h5s3_h5_open_path(&o, fid, path, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (o.kind == H5S3_H5_LINK_DANGLING) {
        h5s3_h5_obj_close(&o);
        return H5S3_E_NOPATH;
    }
    if (o.kind != H5S3_H5_LINK_OBJECT || o.type != H5I_DATASET) {
        h5s3_h5_obj_close(&o);
        *err = apr_psprintf(p, "Path '%s' is not a dataset", path);
        return H5S3_E_INVALID;
    }
    /* Before anything else asks HDF5 about it (H5Dget_space resolves a
     * virtual dataset's extent from its sources): values that live
     * outside the object are never read. */
    dcpl = H5Dget_create_plist(o.obj);
    rv = h5s3_h5_storage_check(err, dcpl, path, p);
    if (dcpl >= 0) {
        H5Pclose(dcpl);
        dcpl = -1;
    }
    if (rv != APR_SUCCESS) {
        h5s3_h5_obj_close(&o);
        return rv;
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->did = o.obj;             /* ours now: closed by dset_cleanup */
    d->ftype = d->mtype = -1;
    d->file = f;
    d->path = apr_pstrdup(p, path);
    apr_pool_cleanup_register(p, d, dset_cleanup, apr_pool_cleanup_null);

    d->ftype = H5Dget_type(d->did);
    if (d->ftype < 0 || (d->mtype = h5s3_h5_mem_type(d->ftype)) < 0) {
        return h5s3_h5_request_status(H5S3_E_UNSUPPORTED);
    }
    d->msize = H5Tget_size(d->mtype);
    d->kind = kind_of(d->ftype);
    if (h5s3_h5_dtype_str(&d->dtype, d->ftype, p) != APR_SUCCESS) {
        d->dtype = "object";
    }
    space = H5Dget_space(d->did);
    if (space < 0) {
        return h5s3_h5_request_status(H5S3_E_UNSUPPORTED);
    }
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        d->empty_space = 1;
        d->ndim = 0;
        d->nelem = 0;
    }
    else {
        d->ndim = H5Sget_simple_extent_ndims(space);
        if (d->ndim < 0 || d->ndim > H5S3_H5_RANK_MAX
            || H5Sget_simple_extent_dims(space, d->shape, NULL) < 0) {
            H5Sclose(space);
            return H5S3_E_UNSUPPORTED;
        }
        /* HDF5 multiplies the dims unchecked: a shape such as (1, 16384,
         * 2^50 + 1) would look like 16384 elements to it and to every
         * size derived from the count.  No such dataset can be stored. */
        if (!h5s3_dims_product(&d->nelem, d->shape, d->ndim, 1,
                               UINT64_MAX)) {
            H5Sclose(space);
            *err = apr_psprintf(p, "Corrupt dataset '%s': its shape has "
                                "more than 2^64 elements", path);
            return H5S3_E_UNSUPPORTED;
        }
    }
    H5Sclose(space);

    dcpl = H5Dget_create_plist(d->did);
    d->layout = dcpl >= 0 ? H5Pget_layout(dcpl) : H5D_LAYOUT_ERROR;
    if (d->layout == H5D_CHUNKED && d->ndim > 0
        && H5Pget_chunk(dcpl, d->ndim, d->chunk) != d->ndim) {
        memset(d->chunk, 0, sizeof(d->chunk));  /* refused when read */
    }
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    /* HDF5 1.10 trusts a compact dataset's dataspace over its stored
     * size and reads past the buffer (found by tests/fuzz): refuse. */
    if (d->layout == H5D_COMPACT && !d->empty_space && d->nelem > 0) {
        size_t esize = H5Tget_size(d->ftype);
        hsize_t have = H5Dget_storage_size(d->did);

        if (esize == 0 || d->nelem > have / esize) {
            *err = apr_psprintf(p, "Corrupt dataset '%s': %" APR_UINT64_T_FMT
                                " bytes stored for %" APR_UINT64_T_FMT
                                " elements", path, (apr_uint64_t)have,
                                (apr_uint64_t)d->nelem);
            return H5S3_E_UNSUPPORTED;
        }
    }
    fcpl = H5Fget_create_plist(fid);
    if (fcpl >= 0) {
        if (H5Pget_userblock(fcpl, &ub) >= 0) {
            d->base = (apr_off_t)ub;
        }
        H5Pclose(fcpl);
    }
    *out = d;
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_dset_readable(const h5s3_h5_dset *d, const char **err,
                                   apr_pool_t *p)
{
    hid_t dcpl;
    int i;
    hsize_t chunk_bytes = 0;
    H5Z_filter_t id;
    const char *name;

    if (H5Tdetect_class(d->ftype, H5T_REFERENCE) > 0) {
        *err = apr_psprintf(p, "Dataset '%s' holds HDF5 references, "
                            "which cannot be served as values", d->path);
        return H5S3_E_UNSUPPORTED;
    }
    if (H5Tdetect_class(d->ftype, H5T_OPAQUE) > 0) {
        *err = apr_psprintf(p, "Dataset '%s' holds opaque data, which "
                            "cannot be served as values", d->path);
        return H5S3_E_UNSUPPORTED;
    }
    if (d->msize == 0) {
        *err = apr_psprintf(p, "Dataset '%s' has a type this server "
                            "cannot read", d->path);
        return H5S3_E_UNSUPPORTED;
    }
    if (d->layout == H5D_CHUNKED) {
        for (i = 0; i < d->ndim; i++) {
            if (d->chunk[i] == 0) {
                *err = apr_psprintf(p, "Corrupt dataset '%s': a chunk "
                                    "dimension is 0", d->path);
                return H5S3_E_UNSUPPORTED;
            }
        }
        /* Checked: 32-bit chunk dims times the element size wrap 64 bits
         * with a few dims, and a wrapped size would undersize buffers. */
        if (!h5s3_dims_product(&chunk_bytes, d->chunk, d->ndim, d->msize,
                               H5S3_H5_MAX_CHUNK_BYTES)) {
            *err = apr_psprintf(p, "Dataset '%s' has chunks of more than "
                                "the %d bytes this server decodes",
                                d->path, H5S3_H5_MAX_CHUNK_BYTES);
            return H5S3_E_UNSUPPORTED;
        }
    }
    dcpl = H5Dget_create_plist(d->did);
    if (dcpl < 0) {
        return h5s3_h5_request_status(H5S3_E_UNSUPPORTED);
    }
    if (h5s3_h5_filter_missing(&id, &name, dcpl, p)) {
        *err = apr_psprintf(p, "Dataset '%s' is compressed with the '%s' "
                            "filter (id %d), which is not available on this "
                            "server", d->path, name, (int)id);
        H5Pclose(dcpl);
        return H5S3_E_UNSUPPORTED;
    }
    H5Pclose(dcpl);
    return APR_SUCCESS;
}

/* ---- prefetch ---------------------------------------------------------- */

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

/* Returns the chunk table for the decoder (chunked layouts), or NULL. */
static h5s3_h5_chunks *prefetch(const h5s3_h5_dset *d, const hsize_t *start,
                                const hsize_t *stride, const hsize_t *count)
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
        /* Best effort: a failure here only means HDF5 reads itself. */
        h5s3_h5_prefetch_ranges(d->file, r.off, r.len, r.n);
    }
    free(r.off);
    free(r.len);
    return c;
}

/* ---- reading ----------------------------------------------------------- */

/*
 * HDF5 keeps decoded chunks in its chunk cache between reads: a read
 * whose chunks fit in it may be followed by another of the same chunks
 * (a CSV export row by row) that HDF5 serves without decoding again.
 * Decoding ourselves pays off when the chunks would not fit anyway.
 */
static int worth_decoding(const h5s3_h5_dset *d, const h5s3_h5_chunks *c)
{
    hid_t dapl = H5Dget_access_plist(d->did);
    size_t nslots = 0, nbytes = 1024 * 1024;
    double w0 = 0, bytes = (double)d->msize * c->n;
    int k;

    if (dapl >= 0) {
        H5Pget_chunk_cache(dapl, &nslots, &nbytes, &w0);
        H5Pclose(dapl);
    }
    for (k = 0; k < d->ndim; k++) {
        bytes *= (double)d->chunk[k];
    }
    return bytes > (double)nbytes;
}

/*
 * Variable-length data is allocated by HDF5 element by element, each
 * before it copies the element's heap object in: charging each
 * allocation bounds what N elements pointing at one big object can cost
 * (H5Dvlen_get_buf_size would not: it reads every element's object to
 * add up their sizes, the very amplification this stops).  A read that
 * fails half-way leaves what HDF5 had allocated where nobody frees it
 * (some in its own conversion buffer): every allocation is remembered
 * and freed when the read fails.
 */
typedef struct vlen_track {
    void **ptrs;
    apr_size_t n;
    apr_size_t cap;
} vlen_track;

static void *vlen_alloc(size_t size, void *info)
{
    vlen_track *t = info;
    void *mem;

    if (h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, size) != APR_SUCCESS) {
        return NULL;            /* HDF5 fails the read: we report */
    }
    if (t->n == t->cap) {
        apr_size_t cap = t->cap ? 2 * t->cap : 256;
        void **p = realloc(t->ptrs, cap * sizeof(*p));

        if (!p) {
            return NULL;
        }
        t->ptrs = p;
        t->cap = cap;
    }
    mem = malloc(size ? size : 1);
    if (mem) {
        t->ptrs[t->n++] = mem;
    }
    return mem;
}

static void vlen_free(void *mem, void *info)
{
    vlen_track *t = info;
    apr_size_t i;

    /* Not on the path of a read into a zeroed buffer; kept exact. */
    for (i = t->n; mem && i > 0; i--) {
        if (t->ptrs[i - 1] == mem) {
            t->ptrs[i - 1] = NULL;
            break;
        }
    }
    free(mem);
}

/* What a failed read had allocated. */
static void vlen_untrack(vlen_track *t, int failed)
{
    apr_size_t i;

    for (i = 0; failed && i < t->n; i++) {
        free(t->ptrs[i]);
    }
    free(t->ptrs);
    memset(t, 0, sizeof(*t));
}

/* A transfer list with the charging allocator, for types with vlen data;
 * H5P_DEFAULT for others (or when it cannot be made). */
static hid_t vlen_dxpl(hid_t mtype, vlen_track *t)
{
    hid_t dxpl;

    if (H5Tdetect_class(mtype, H5T_VLEN) <= 0
        && H5Tdetect_class(mtype, H5T_STRING) <= 0) {
        return H5P_DEFAULT;
    }
    dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_vlen_mem_manager(dxpl, vlen_alloc, t,
                                             vlen_free, t) < 0) {
        H5Pclose(dxpl);
        dxpl = -1;
    }
    return dxpl;
}

apr_status_t h5s3_h5_read(void **buf, const h5s3_h5_dset *d,
                          const hsize_t *start, const hsize_t *stride,
                          const hsize_t *count)
{
    hid_t fspace = -1, mspace = -1, dxpl = H5P_DEFAULT;
    hsize_t nelem = 0, bytes, end;
    h5s3_h5_chunks *chunks = NULL;
    vlen_track track = {NULL, 0, 0};
    apr_status_t rv = APR_SUCCESS;
    int i;

    *buf = NULL;
    if (d->empty_space) {
        return APR_SUCCESS;
    }
    /* Every index is within its dim, so no offset computed from them
     * below can wrap (the element count fits: h5s3_h5_dset_open). */
    for (i = 0; i < d->ndim; i++) {
        if (count[i] > 0
            && (stride[i] == 0
                || !h5s3_slab_end(&end, start[i], stride[i], count[i])
                || end > d->shape[i])) {
            return H5S3_E_INVALID;
        }
    }
    if (!h5s3_dims_product(&nelem, count, d->ndim, 1, UINT64_MAX)) {
        return H5S3_E_TOOLARGE;
    }
    if (nelem == 0) {
        return APR_SUCCESS;
    }
    if (!H5S3_MUL(&bytes, nelem, d->msize)
        || bytes > H5S3_H5_MAX_READ_BYTES) {
        return H5S3_E_TOOLARGE;
    }
    if (d->ndim > 0) {
        chunks = prefetch(d, start, stride, count);
        /* A prefetch the file made too large ends the request here. */
        rv = h5s3_h5_limit_status();
        if (rv != APR_SUCCESS) {
            h5s3_h5_chunks_free(chunks);
            return rv;
        }
    }
    rv = h5s3_h5_mem_alloc(buf, (apr_size_t)bytes, 1);
    if (rv != APR_SUCCESS) {
        h5s3_h5_chunks_free(chunks);
        return rv;
    }
    if (chunks && !worth_decoding(d, chunks)) {
        h5s3_h5_chunks_free(chunks);
        chunks = NULL;
    }
    if (chunks) {
        /* Decoded in threads outside HDF5 when the pipeline allows; on
         * any other failure HDF5 reads the selection itself (and
         * reports).  Over a budget it would only fail there too. */
        apr_status_t drv = h5s3_h5_decode_chunks(
            *buf, d, h5s3_h5_file_source(d->file), chunks, start, stride,
            count);

        h5s3_h5_chunks_free(chunks);
        if (drv == APR_SUCCESS) {
            return APR_SUCCESS;
        }
        if (drv == H5S3_E_BUSY || drv == H5S3_E_LIMIT) {
            rv = drv;
            goto cleanup;
        }
        memset(*buf, 0, (size_t)bytes);
    }
    fspace = H5Dget_space(d->did);
    if (fspace < 0) {
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
        goto cleanup;
    }
    if (d->ndim > 0) {
        if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, stride, count,
                                NULL) < 0) {
            rv = H5S3_E_INVALID;
            goto cleanup;
        }
        mspace = H5Screate_simple(d->ndim, count, NULL);
    }
    else {
        mspace = H5Screate(H5S_SCALAR);
    }
    dxpl = vlen_dxpl(d->mtype, &track);
    if (mspace < 0 || dxpl < 0) {
        rv = APR_ENOMEM;
    }
    else if (H5Dread(d->did, d->mtype, mspace, fspace, dxpl, *buf) < 0) {
        /* Unless S3 failed or a limit ran out, what is stored does not
         * read: a corrupt index or chunk (the file's fault, not ours). */
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
    }

cleanup:
    if (dxpl >= 0 && dxpl != H5P_DEFAULT) {
        H5Pclose(dxpl);
    }
    vlen_untrack(&track, rv != APR_SUCCESS);
    if (mspace >= 0) {
        H5Sclose(mspace);
    }
    if (fspace >= 0) {
        H5Sclose(fspace);
    }
    if (rv != APR_SUCCESS) {
        h5s3_h5_mem_free(*buf);
        *buf = NULL;
    }
    return rv;
}

apr_status_t h5s3_h5_read_plane(void **buf, const h5s3_h5_dset *d,
                                const h5s3_h5_sel *sel,
                                hsize_t r0, hsize_t rstep, hsize_t rcount,
                                hsize_t c0, hsize_t cstep, hsize_t ccount)
{
    hsize_t start[H5S3_H5_RANK_MAX], stride[H5S3_H5_RANK_MAX];
    hsize_t count[H5S3_H5_RANK_MAX];
    unsigned char *in, *outp;
    hsize_t i, j;
    int k;
    apr_status_t rv;

    *buf = NULL;
    for (k = 0; k < d->ndim; k++) {
        start[k] = sel->index[k];
        stride[k] = 1;
        count[k] = 1;
    }
    start[sel->row_dim] = r0;
    stride[sel->row_dim] = rstep ? rstep : 1;
    count[sel->row_dim] = rcount;
    start[sel->col_dim] = c0;
    stride[sel->col_dim] = cstep ? cstep : 1;
    count[sel->col_dim] = ccount;
    rv = h5s3_h5_read((void **)&in, d, start, stride, count);
    if (rv != APR_SUCCESS || in == NULL || sel->row_dim < sel->col_dim) {
        *buf = in;
        return rv;
    }
    /* Read as [ccount][rcount]: transpose so rows follow row_dim.  Plain
     * byte moves: vlen pointers move with their elements.  The size is
     * the read's, which h5s3_h5_read checked. */
    rv = h5s3_h5_mem_alloc((void **)&outp,
                           (apr_size_t)(rcount * ccount) * d->msize, 0);
    if (rv != APR_SUCCESS) {
        h5s3_h5_buf_free(d, in, rcount * ccount);
        return rv;
    }
    for (i = 0; i < rcount; i++) {
        for (j = 0; j < ccount; j++) {
            memcpy(outp + (i * ccount + j) * d->msize,
                   in + (j * rcount + i) * d->msize, d->msize);
        }
    }
    h5s3_h5_mem_free(in);
    *buf = outp;
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_read_line(void **buf, const h5s3_h5_dset *d,
                               const hsize_t *pos, int vary, hsize_t off,
                               hsize_t step, hsize_t count)
{
    hsize_t start[H5S3_H5_RANK_MAX], stride[H5S3_H5_RANK_MAX];
    hsize_t cnt[H5S3_H5_RANK_MAX];
    int k;

    for (k = 0; k < d->ndim; k++) {
        start[k] = pos[k];
        stride[k] = 1;
        cnt[k] = 1;
    }
    start[vary] = off;
    stride[vary] = step ? step : 1;
    cnt[vary] = count;
    return h5s3_h5_read(buf, d, start, stride, cnt);
}

void h5s3_h5_buf_free(const h5s3_h5_dset *d, void *buf, hsize_t n)
{
    if (buf == NULL) {
        return;
    }
    if (n > 0 && (H5Tdetect_class(d->mtype, H5T_VLEN) > 0
                  || H5Tis_variable_str(d->mtype) > 0
                  || H5Tdetect_class(d->mtype, H5T_STRING) > 0)) {
        hid_t space = H5Screate_simple(1, &n, NULL);

        if (space >= 0) {
            H5Dvlen_reclaim(d->mtype, space, H5P_DEFAULT, buf);
            H5Sclose(space);
        }
    }
    h5s3_h5_mem_free(buf);
}

/* One integer of SIZE bytes as a double. */
static double int_double(const unsigned char *ptr, size_t size, int sgn)
{
    switch (size) {
    case 1:
        return sgn ? (double)*(const signed char *)ptr : (double)*ptr;
    case 2: {
        unsigned short u;
        short s;
        memcpy(&u, ptr, 2);
        memcpy(&s, ptr, 2);
        return sgn ? (double)s : (double)u;
    }
    case 4: {
        unsigned int u;
        int s;
        memcpy(&u, ptr, 4);
        memcpy(&s, ptr, 4);
        return sgn ? (double)s : (double)u;
    }
    case 8: {
        unsigned long long u;
        long long s;
        memcpy(&u, ptr, 8);
        memcpy(&s, ptr, 8);
        return sgn ? (double)s : (double)u;
    }
    default:
        return NAN;
    }
}

void h5s3_h5_to_double(double *out, const h5s3_h5_dset *d, const void *buf,
                       hsize_t n)
{
    const unsigned char *p = buf;
    H5T_class_t cls = H5Tget_class(d->mtype);
    size_t size = d->msize, bsize = size;
    int sgn = 0;
    hsize_t i;

    if (cls == H5T_INTEGER) {
        sgn = H5Tget_sign(d->mtype) != H5T_SGN_NONE;
    }
    else if (cls == H5T_ENUM) {
        hid_t bt = H5Tget_super(d->mtype);

        bsize = bt >= 0 ? H5Tget_size(bt) : 0;
        sgn = bt >= 0 && H5Tget_sign(bt) != H5T_SGN_NONE;
        if (bt >= 0) {
            H5Tclose(bt);
        }
    }
    for (i = 0; i < n; i++, p += size) {
        if (cls == H5T_INTEGER) {
            out[i] = int_double(p, size, sgn);
        }
        else if (cls == H5T_ENUM && d->kind == H5S3_H5_KIND_BOOL) {
            out[i] = int_double(p, bsize, sgn) != 0 ? 1.0 : 0.0;
        }
        else if (cls == H5T_ENUM) {
            out[i] = int_double(p, bsize, sgn);
        }
        else if (cls == H5T_FLOAT && size == sizeof(float)) {
            float f;
            memcpy(&f, p, sizeof(f));
            out[i] = f;
        }
        else if (cls == H5T_FLOAT && size == sizeof(double)) {
            memcpy(&out[i], p, sizeof(double));
        }
        else if (cls == H5T_FLOAT && size == sizeof(long double)) {
            long double ld;
            memcpy(&ld, p, sizeof(ld));
            out[i] = (double)ld;
        }
        else {
            out[i] = NAN;
        }
    }
}

