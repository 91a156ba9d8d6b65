/*
 * Chunk indexes and the lengths stored with attributes, read from the
 * file's own structures.
 */
#include <stdlib.h>
#include <string.h>

#include "base/h5s3_checked.h"
#include "hdf5/format/h5s3_h5_format_private.h"
#include "base/h5s3_errors.h"

/* Leaves of a read wanting every chunk are fetched with the bytes
 * between them when they are at most this far apart. */
#define DENSE_GAP       (1024 * 1024)
/* A fixed array data block larger than this is left to HDF5. */
#define PC_HINT_MAX     (64 * 1024 * 1024)

/* ---- chunk indexes ----------------------------------------------------- */

/*
 * The chunk index of a dataset is found through the Data Layout message
 * of its object header (HDF5 1.10 has no call that gives its address).
 * A v1 B-tree (layout message version 3) is walked here level by level
 * and gives the chunk table directly; a fixed array (version 4, index
 * type 3) has its header and data block fetched in two batches and HDF5
 * looks chunks up in the cache.  Other indexes are left to HDF5.
 */
#define LAYOUT_MSG      0x0008
#define H5S3_FMT_MAX_TABLE       (1 << 20)
/* Bytes of each chunk index node fetched ahead (a node HDF5 sizes for
 * 2K entries may hold a few: the rest is read only if it is used). */
#define MAX_NODE_PREFETCH (64 * 1024)
#define FA_INDEX        3

/* ---- attribute messages ----------------------------------------------- */

#define ATTR_MSG        0x000C

typedef struct attr_find {
    const char *name;           /* with its NUL: as the message stores it */
    apr_size_t nlen;
    apr_uint64_t storage;       /* H5Aget_storage_size: the data's bytes */
    apr_uint64_t nelem;
    apr_size_t esize;           /* one element on disk: length + heap ID */
    apr_size_t base;            /* memory bytes per unit of length */
    int string;                 /* one more byte per element (a NUL) */
    int found;
    apr_uint64_t bytes;
} attr_find;

static apr_size_t pad8(apr_size_t n)
{
    return (n + 7) & ~(apr_size_t)7;
}

/* An attribute message (versions 1 to 3): its name, then after the type
 * and the space its data, nelem elements of `length, collection, index`;
 * the lengths say what reading it allocates. */
static int attr_msg(void *baton, unsigned type, const unsigned char *body,
                    apr_size_t size)
{
    attr_find *af = baton;
    apr_size_t nsz, tsz, ssz, noff, doff;
    apr_uint64_t i, data;

    if (type != ATTR_MSG || size < 8) {
        return 0;
    }
    nsz = (apr_size_t)h5s3_fmt_le(body + 2, 2);
    tsz = (apr_size_t)h5s3_fmt_le(body + 4, 2);
    ssz = (apr_size_t)h5s3_fmt_le(body + 6, 2);
    switch (body[0]) {
    case 1:
        noff = 8;
        doff = 8 + pad8(nsz) + pad8(tsz) + pad8(ssz);
        break;
    case 2:
        noff = 8;
        doff = 8 + nsz + tsz + ssz;
        break;
    case 3:
        noff = 9;
        doff = 9 + nsz + tsz + ssz;
        break;
    default:
        return 0;
    }
    if (nsz != af->nlen || noff + nsz > size
        || memcmp(body + noff, af->name, nsz) != 0) {
        return 0;               /* another attribute */
    }
    af->found = 1;
    /* All of the data in the message, in elements of the expected size;
     * else we cannot tell (found, bytes unknown: refused by the caller). */
    if (doff > size || af->storage > size - doff
        || !H5S3_MUL(&data, af->nelem, (apr_uint64_t)af->esize)
        || af->storage != data) {
        af->found = -1;
        return 1;
    }
    for (i = 0; i < af->nelem; i++) {
        apr_uint64_t len = h5s3_fmt_le(body + doff + i * af->esize, 4), b;

        /* At most 2^32 * 2^32 + 1 per element, 64K elements: no wrap,
         * but the caller's limit is far below: saturate. */
        if (!H5S3_MUL(&b, len, (apr_uint64_t)af->base)
            || !H5S3_ADD(&b, b, (apr_uint64_t)af->string)
            || !H5S3_ADD(&af->bytes, af->bytes, b)) {
            af->bytes = UINT64_MAX;
            break;
        }
    }
    return 1;
}

apr_status_t h5s3_h5_attr_vlen_bytes(apr_uint64_t *bytes, hid_t attr)
{
    h5s3_h5_source *src = h5s3_h5_source_of(attr);
    attr_find af;
    H5O_info_t oi;
    h5s3_fmt_geometry g;
    hid_t ftype = -1, space = -1, sup = -1, fid;
    hssize_t np;
    char name[1024];
    ssize_t nlen;
    int ok = 0;

    *bytes = 0;
    memset(&af, 0, sizeof(af));
    if (!src || !src->cache) {
        return APR_ENOTIMPL;
    }
    nlen = H5Aget_name(attr, sizeof(name), name);
    ftype = H5Aget_type(attr);
    space = H5Aget_space(attr);
    np = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    fid = H5Iget_file_id(attr);
    if (fid >= 0) {
        ok = h5s3_fmt_geometry_get(fid, &g);
        H5Fclose(fid);
    }
    /* A vlen sequence of a fixed type, or a vlen string: nothing nested. */
    if (ok && nlen > 0 && (apr_size_t)nlen < sizeof(name) && ftype >= 0
        && np >= 0) {
        if (H5Tis_variable_str(ftype) > 0) {
            af.base = 1;
            af.string = 1;
        }
        else if (H5Tget_class(ftype) == H5T_VLEN
                 && (sup = H5Tget_super(ftype)) >= 0
                 && H5Tdetect_class(sup, H5T_VLEN) <= 0
                 && H5Tdetect_class(sup, H5T_STRING) <= 0) {
            hid_t msup = H5Tget_native_type(sup, H5T_DIR_ASCEND);

            af.base = msup >= 0 ? H5Tget_size(msup) : 0;
            if (msup >= 0) {
                H5Tclose(msup);
            }
        }
    }
    if (sup >= 0) {
        H5Tclose(sup);
    }
    if (ftype >= 0) {
        H5Tclose(ftype);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    /* The attribute's location is its object's: H5Oget_info on an
     * attribute describes the object header that holds it. */
    if (!ok || af.base == 0 || H5Oget_info2(attr, &oi, H5O_INFO_BASIC) < 0) {
        return APR_ENOTIMPL;
    }
    af.name = name;
    af.nlen = (apr_size_t)nlen + 1;
    af.storage = H5Aget_storage_size(attr);
    af.nelem = (apr_uint64_t)np;
    af.esize = 4 + (apr_size_t)g.sa + 4;
    if (!h5s3_fmt_ohdr_walk(src, &g, g.base + (apr_off_t)oi.addr, attr_msg, &af)
        || af.found != 1) {
        return APR_ENOTIMPL;    /* dense storage, or not as expected */
    }
    *bytes = af.bytes;
    return APR_SUCCESS;
}

void h5s3_h5_chunks_free(h5s3_h5_chunks *c)
{
    if (c) {
        free(c->coords);
        free(c->addr);
        free(c->size);
        free(c->mask);
        h5s3_h5_mem_release(c->reserved);
        free(c);
    }
}

/* What is wanted of a chunk index. */
typedef struct h5s3_fmt_want {
    int rank;
    const hsize_t *chunk;
    hsize_t *const *lists;
    const hsize_t *lens;
    int dense;                  /* every chunk of the dataset */
    hsize_t total;              /* wanted chunks: the table's bound */
} h5s3_fmt_want;

/* First i with l[i] > v (strict) or >= v. */
static hsize_t bound(const hsize_t *l, hsize_t n, hsize_t v, int strict)
{
    hsize_t lo = 0, hi = n;

    while (lo < hi) {
        hsize_t mid = lo + (hi - lo) / 2;

        if (l[mid] < v || (strict && l[mid] == v)) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

static int listed(const hsize_t *l, hsize_t n, hsize_t v)
{
    hsize_t i = bound(l, n, v, 0);

    return i < n && l[i] == v;
}

static int lex_cmp(const hsize_t *a, const hsize_t *b, int n)
{
    int k;

    for (k = 0; k < n; k++) {
        if (a[k] != b[k]) {
            return a[k] < b[k] ? -1 : 1;
        }
    }
    return 0;
}

/*
 * 1 when some wanted chunk t has lo <= t < hi in row-major order (the
 * order HDF5 searches its B-tree in); lo, hi are chunk indices.  The
 * smallest wanted t >= lo keeps the longest wanted prefix of lo, then
 * takes the next larger wanted index, then the smallest ones.
 */
static int wanted_between(const h5s3_fmt_want *w, const hsize_t *lo,
                          const hsize_t *hi)
{
    hsize_t t[H5S_MAX_RANK];
    int p = 0, k;

    while (p < w->rank && listed(w->lists[p], w->lens[p], lo[p])) {
        p++;
    }
    if (p == w->rank) {
        return lex_cmp(lo, hi, w->rank) < 0;
    }
    for (; p >= 0; p--) {
        hsize_t i = bound(w->lists[p], w->lens[p], lo[p], 1);

        if (i < w->lens[p]) {
            memcpy(t, lo, (apr_size_t)p * sizeof(*t));
            t[p] = w->lists[p][i];
            for (k = p + 1; k < w->rank; k++) {
                t[k] = w->lists[k][0];
            }
            return lex_cmp(t, hi, w->rank) < 0;
        }
    }
    return 0;
}

int h5s3_h5_chunks_add(h5s3_h5_chunks *c, int *cap, const hsize_t *coord,
                       apr_off_t addr, apr_size_t size, unsigned mask)
{
    if (c->n == *cap) {
        int ncap = *cap ? 2 * *cap : 256;
        hsize_t *co;
        apr_off_t *ad;
        apr_size_t *sz;
        unsigned *mk;
        apr_uint64_t bytes = (apr_uint64_t)ncap
                             * ((apr_uint64_t)c->rank * sizeof(*co)
                                + sizeof(*ad) + sizeof(*sz) + sizeof(*mk));

        if (ncap > H5S3_FMT_MAX_TABLE || c->rank < 1 || c->rank > H5S_MAX_RANK
            || h5s3_h5_mem_reserve(bytes - c->reserved) != APR_SUCCESS) {
            return 0;
        }
        c->reserved = bytes;
        co = realloc(c->coords, (apr_size_t)ncap * (apr_size_t)c->rank
                                * sizeof(*co));
        if (co) {
            c->coords = co;
        }
        ad = realloc(c->addr, (apr_size_t)ncap * sizeof(*ad));
        if (ad) {
            c->addr = ad;
        }
        sz = realloc(c->size, (apr_size_t)ncap * sizeof(*sz));
        if (sz) {
            c->size = sz;
        }
        mk = realloc(c->mask, (apr_size_t)ncap * sizeof(*mk));
        if (mk) {
            c->mask = mk;
        }
        if (!co || !ad || !sz || !mk) {
            return 0;
        }
        *cap = ncap;
    }
    memcpy(c->coords + (apr_size_t)c->n * (apr_size_t)c->rank, coord,
           (apr_size_t)c->rank * sizeof(*coord));
    c->addr[c->n] = addr;
    c->size[c->n] = size;
    c->mask[c->n] = mask;
    c->n++;
    return 1;
}

static int cmp_off(const void *a, const void *b)
{
    apr_off_t x = *(const apr_off_t *)a, y = *(const apr_off_t *)b;

    return x < y ? -1 : x > y;
}

/*
 * The leaves of a read that wants every chunk: HDF5 writes a dataset's
 * leaves between its chunks, so the bytes between two nearby leaves are
 * chunks the read fetches next anyway.  Fetching the spans now makes the
 * leaf level a few big ranges (one round trip) instead of one per leaf,
 * and leaves the chunk batch little or nothing to do.
 */
static apr_status_t prefetch_leaves(h5s3_h5_source *src,
                                    const apr_off_t *leaves, int n,
                                    apr_size_t nsize)
{
    apr_off_t *offs, head = 0, tail = 0;
    apr_size_t *lens;
    apr_status_t rv;
    int i, m = 0;

    if (n <= 0) {
        return APR_SUCCESS;     /* a level of empty nodes: nothing to do */
    }
    offs = malloc((apr_size_t)n * sizeof(*offs));
    lens = malloc((apr_size_t)n * sizeof(*lens));
    if (!offs || !lens) {
        free(offs);
        free(lens);
        return APR_ENOMEM;
    }
    memcpy(offs, leaves, (apr_size_t)n * sizeof(*offs));
    qsort(offs, (apr_size_t)n, sizeof(*offs), cmp_off);
    if (n > 1) {
        /* The first leaf's chunks were written before it, the last one's
         * after it: reach out by one average leaf spacing both ways. */
        apr_off_t step = (offs[n - 1] - offs[0]) / (n - 1);

        if (step > DENSE_GAP) {
            step = DENSE_GAP;
        }
        head = offs[0] - step > 0 ? step : offs[0];
        tail = step;
    }
    for (i = 0; i < n; i++) {
        apr_off_t end = offs[i] + (apr_off_t)nsize;

        if (m > 0 && offs[i] - (offs[m - 1] + (apr_off_t)lens[m - 1])
                     <= DENSE_GAP) {
            lens[m - 1] = (apr_size_t)(end - offs[m - 1]);
        }
        else {
            offs[m] = offs[i];
            lens[m] = nsize;
            m++;
        }
    }
    offs[0] -= head;
    lens[0] += (apr_size_t)head;
    lens[m - 1] += (apr_size_t)tail;
    rv = h5s3_h5_prefetch_ranges_src(src, offs, lens, m);
    free(offs);
    free(lens);
    return rv;
}

/*
 * Walk a v1 B-tree of raw data chunks (node type 1: keys are chunk size,
 * filter mask and one 8-byte offset per dimension plus one for the
 * element; children are node or chunk addresses), one batch per level.
 *
 * Every node is the file's word: each read is charged (index nodes),
 * only its header and the entries it says it uses are read (HDF5 gives
 * every node room for 2K entries: up to 18 MB with K = 32767 and 32
 * dims), levels must descend, chunks must come in the index's order (no
 * chunk twice) and the table holds no more chunks than are wanted.
 */
static apr_status_t h5s3_fmt_walk_chunk_btree(h5s3_h5_chunks **out,
                                     h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                                     unsigned k, apr_off_t root,
                                     const h5s3_fmt_want *w)
{
    int rank = w->rank, n = 1, depth, i, cap = 0, ok = 0, prev = -1;
    apr_size_t ksize = 8 + 8 * (apr_size_t)(rank + 1);
    apr_size_t hsize = 8 + 2 * (apr_size_t)g->sa;
    apr_size_t esize = ksize + (apr_size_t)g->sa;
    apr_size_t nsize = hsize + 2 * (apr_size_t)k * esize + ksize;
    apr_size_t bufsize = 0;
    apr_off_t *nodes = NULL, *next = NULL;
    apr_size_t *lens = NULL;
    unsigned char *buf = NULL, head[8 + 2 * 8];
    h5s3_h5_chunks *c = NULL;
    hsize_t lo[H5S_MAX_RANK], hi[H5S_MAX_RANK], last[H5S_MAX_RANK];
    apr_status_t rv = APR_SUCCESS;

    nodes = malloc(H5S3_FMT_MAX_NODES * sizeof(*nodes));
    next = malloc(H5S3_FMT_MAX_NODES * sizeof(*next));
    lens = malloc(H5S3_FMT_MAX_NODES * sizeof(*lens));
    c = calloc(1, sizeof(*c));
    if (!nodes || !next || !lens || !c) {
        goto cleanup;
    }
    c->rank = rank;
    for (i = 0; i < H5S3_FMT_MAX_NODES; i++) {
        /* Enough for the entries of most nodes; more is read on demand. */
        lens[i] = nsize < MAX_NODE_PREFETCH ? nsize : MAX_NODE_PREFETCH;
    }
    nodes[0] = root;
    rv = h5s3_h5_prefetch_ranges_src(src, nodes, lens, 1);

    for (depth = 0; rv == APR_SUCCESS && depth < H5S3_FMT_MAX_BTREE_DEPTH; depth++) {
        int nn = 0, level = -1;

        for (i = 0; i < n; i++) {
            unsigned used, e;
            apr_size_t len;
            int d;

            rv = h5s3_h5_charge(H5S3_H5_LIMIT_INDEX_NODES, 1);
            if (rv != APR_SUCCESS) {
                goto cleanup;
            }
            if (nodes[i] >= src->obj.size
                || (apr_uint64_t)(src->obj.size - nodes[i]) < hsize
                || h5s3_fmt_read(src, nodes[i], hsize, head) != APR_SUCCESS
                || memcmp(head, "TREE", 4) != 0 || head[4] != 1
                || (level >= 0 && head[5] != level)
                || (prev >= 0 && head[5] != prev - 1)) {
                goto cleanup;
            }
            level = head[5];
            used = (unsigned)h5s3_fmt_le(head + 6, 2);
            if (used > 2 * k) {
                goto cleanup;
            }
            /* The entries it uses and the key after the last; no more. */
            len = hsize + (apr_size_t)used * esize + ksize;
            if ((apr_uint64_t)(src->obj.size - nodes[i]) < len) {
                goto cleanup;
            }
            if (len > bufsize) {
                h5s3_h5_mem_free(buf);
                buf = NULL;
                bufsize = 0;
                rv = h5s3_h5_mem_alloc((void **)&buf, len, 0);
                if (rv != APR_SUCCESS) {
                    goto cleanup;
                }
                bufsize = len;
            }
            if (h5s3_fmt_read(src, nodes[i], len, buf) != APR_SUCCESS) {
                goto cleanup;
            }
            for (e = 0; e < used; e++) {
                const unsigned char *key = buf + hsize + e * esize;
                const unsigned char *rkey = key + esize;
                apr_uint64_t size = h5s3_fmt_le(key, 4);
                apr_off_t child;

                for (d = 0; d < rank; d++) {
                    lo[d] = h5s3_fmt_le(key + 8 + 8 * d, 8) / w->chunk[d];
                    hi[d] = h5s3_fmt_le(rkey + 8 + 8 * d, 8) / w->chunk[d];
                }
                if (level == 0) {
                    for (d = 0; d < rank; d++) {
                        if (!listed(w->lists[d], w->lens[d], lo[d])) {
                            break;
                        }
                    }
                    if (d < rank) {
                        continue;
                    }
                    for (d = 0; d < rank; d++) {
                        lo[d] = h5s3_fmt_le(key + 8 + 8 * d, 8);
                    }
                    /* In the index's order, once each, within the
                     * wanted set, stored within the object. */
                    if ((c->n > 0 && lex_cmp(last, lo, rank) >= 0)
                        || (hsize_t)c->n >= w->total
                        || !h5s3_fmt_addr(&child, src, g->base,
                                      h5s3_fmt_le(key + ksize, g->sa), size)
                        || !h5s3_h5_chunks_add(c, &cap, lo, child,
                                               (apr_size_t)size,
                                               (unsigned)h5s3_fmt_le(key + 4,
                                                                4))) {
                        goto cleanup;
                    }
                    memcpy(last, lo, (apr_size_t)rank * sizeof(*lo));
                }
                else if (wanted_between(w, lo, hi)) {
                    if (nn == H5S3_FMT_MAX_NODES) {
                        goto cleanup;
                    }
                    if (h5s3_fmt_addr(&child, src, g->base,
                                  h5s3_fmt_le(key + ksize, g->sa), hsize)) {
                        next[nn++] = child;
                    }
                }
            }
        }
        if (level <= 0) {
            ok = level == 0;
            break;
        }
        prev = level;
        if (level == 1 && w->dense) {
            rv = prefetch_leaves(src, next, nn, lens[0]);
        }
        else {
            rv = h5s3_h5_prefetch_ranges_src(src, next, lens, nn);
        }
        memcpy(nodes, next, (apr_size_t)nn * sizeof(*nodes));
        n = nn;
    }

cleanup:
    free(nodes);
    free(next);
    free(lens);
    h5s3_h5_mem_free(buf);
    if (ok && rv == APR_SUCCESS) {
        *out = c;
    }
    else {
        h5s3_h5_chunks_free(c);
    }
    return rv;
}

/* A fixed array index: its header, then its data block (one range). */
static apr_status_t prefetch_fixed_array(h5s3_h5_source *src,
                                         const h5s3_fmt_geometry *g, apr_off_t hdr)
{
    unsigned char buf[64];
    apr_size_t hlen = 8 + (apr_size_t)(g->ss + g->sa) + 4, len;
    apr_uint64_t nent, npages = 0;
    unsigned esize, bits;
    apr_off_t dblk;
    apr_status_t rv;

    rv = h5s3_h5_prefetch_ranges_src(src, &hdr, &hlen, 1);
    if (rv != APR_SUCCESS || h5s3_fmt_read(src, hdr, hlen, buf) != APR_SUCCESS
        || memcmp(buf, "FAHD", 4) != 0) {
        return rv;
    }
    esize = buf[6];
    bits = buf[7];
    nent = h5s3_fmt_le(buf + 8, g->ss);
    if (esize == 0 || nent == 0 || nent > PC_HINT_MAX) {
        return APR_SUCCESS;     /* (and no product below can wrap) */
    }
    if (bits < 32 && nent > ((apr_uint64_t)1 << bits)) {
        npages = h5s3_ceil_div(nent, (apr_uint64_t)1 << bits);
    }
    /* Prefix, page bitmap, entries, and a checksum per page or block. */
    len = 6 + (apr_size_t)g->sa + (apr_size_t)((npages + 7) / 8)
          + (apr_size_t)(nent * esize) + 4 * (apr_size_t)(npages + 1);
    if (len > PC_HINT_MAX
        || !h5s3_fmt_addr(&dblk, src, g->base, h5s3_fmt_le(buf + 8 + g->ss, g->sa),
                      len)) {
        return APR_SUCCESS;
    }
    return h5s3_h5_prefetch_ranges_src(src, &dblk, &len, 1);
}

apr_status_t h5s3_h5_prefetch_chunk_index(h5s3_h5_chunks **out, hid_t did,
                                          h5s3_h5_source *src, int rank,
                                          const hsize_t *chunk,
                                          hsize_t *const *lists,
                                          const hsize_t *lens)
{
    H5O_info_t oi;
    h5s3_fmt_geometry g;
    hid_t fid;
    unsigned char msg[256];
    apr_size_t mlen = 0;
    unsigned ik = 0;
    apr_off_t at_off;
    h5s3_fmt_want w;
    int ok, d;

    *out = NULL;
    if (!src->cache || rank < 1 || rank >= H5S_MAX_RANK) {
        return APR_SUCCESS;
    }
    for (d = 0; d < rank; d++) {
        if (chunk[d] == 0 || lens[d] == 0) {
            return APR_SUCCESS;
        }
    }
    fid = H5Iget_file_id(did);
    if (fid < 0) {
        return APR_SUCCESS;
    }
    ok = h5s3_fmt_geometry_get(fid, &g);
    if (ok) {
        hid_t fcpl = H5Fget_create_plist(fid);

        ok = fcpl >= 0 && H5Pget_istore_k(fcpl, &ik) >= 0 && ik > 0
             && ik < 32768;
        if (fcpl >= 0) {
            H5Pclose(fcpl);
        }
    }
    H5Fclose(fid);
    if (!ok || H5Oget_info2(did, &oi, H5O_INFO_BASIC) < 0
        || !h5s3_fmt_find_msg(src, &g, g.base + (apr_off_t)oi.addr, LAYOUT_MSG, msg,
                     sizeof(msg), &mlen)
        || mlen < 4 || msg[1] != 2) {
        return APR_SUCCESS;     /* not chunked, or a header we do not know */
    }
    w.rank = rank;
    w.chunk = chunk;
    w.lists = lists;
    w.lens = lens;
    w.dense = 1;
    if (!h5s3_dims_product(&w.total, lens, rank, 1, H5S3_FMT_MAX_TABLE)) {
        return APR_SUCCESS;     /* more than a table holds: ask HDF5 */
    }
    {
        hid_t space = H5Dget_space(did);
        hsize_t dims[H5S_MAX_RANK];

        if (space < 0 || H5Sget_simple_extent_dims(space, dims, NULL)
                         != rank) {
            w.dense = 0;
        }
        for (d = 0; w.dense && d < rank; d++) {
            w.dense = lens[d] == h5s3_ceil_div(dims[d], chunk[d]);
        }
        if (space >= 0) {
            H5Sclose(space);
        }
    }
    if (msg[0] == 3) {
        /* Dimensionality counts the element as one more dimension. */
        apr_uint64_t bt;

        if (msg[2] != rank + 1 || mlen < 3 + (apr_size_t)g.sa) {
            return APR_SUCCESS;
        }
        bt = h5s3_fmt_le(msg + 3, g.sa);
        if (bt == ((apr_uint64_t)-1 >> (64 - 8 * g.sa))) {
            return APR_SUCCESS; /* no chunk written yet */
        }
        if (!h5s3_fmt_addr(&at_off, src, g.base, bt, 8 + 2 * (apr_size_t)g.sa)) {
            return APR_SUCCESS; /* not in the object: HDF5 will say */
        }
        return h5s3_fmt_walk_chunk_btree(out, src, &g, ik, at_off,
                                &w);
    }
    if (msg[0] == 4 && mlen >= 5) {
        apr_size_t enc = msg[4], at = 5 + enc * msg[3];

        if (enc < 1 || enc > 8 || at + 2 + (apr_size_t)g.sa > mlen) {
            return APR_SUCCESS;
        }
        if (msg[at] == FA_INDEX) {
            apr_uint64_t a = h5s3_fmt_le(msg + at + 2, g.sa);

            if (a != ((apr_uint64_t)-1 >> (64 - 8 * g.sa))
                && h5s3_fmt_addr(&at_off, src, g.base, a,
                             8 + (apr_size_t)(g.ss + g.sa) + 4)) {
                return prefetch_fixed_array(src, &g, at_off);
            }
        }
    }
    return APR_SUCCESS;
}
