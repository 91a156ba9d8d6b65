/*
 * A v1 B-tree of raw data chunks (the chunk index of datasets written
 * with HDF5 1.8/1.10 defaults) walked level by level, only down the
 * nodes that may hold a wanted chunk, each level fetched in one batch;
 * its leaves give the table of wanted chunks without asking HDF5.
 */
#include <stdlib.h>
#include <string.h>

#include "hdf5/format/h5s3_h5_format_private.h"

/* Leaves of a read wanting every chunk are fetched with the bytes
 * between them when they are at most this far apart. */
#define DENSE_GAP       (1024 * 1024)
/* Bytes of each chunk index node fetched ahead (a node HDF5 sizes for
 * 2K entries may hold a few: the rest is read only if it is used). */
#define MAX_NODE_PREFETCH (64 * 1024)

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

/* A walk of a v1 B-tree of chunks, one level at a time. */
typedef struct chunk_walk {
    h5s3_h5_source *src;
    const h5s3_fmt_geometry *g;
    const h5s3_fmt_want *w;
    unsigned k;                 /* half rank: a node has 2k entries */
    apr_size_t ksize;           /* a key: size, mask, rank + 1 offsets */
    apr_size_t hsize;           /* a node's header */
    apr_size_t esize;           /* a key and a child's address */
    unsigned char *buf;         /* the node read (of the memory budget) */
    apr_size_t bufsize;
    h5s3_h5_chunks *c;          /* the chunks found */
    int cap;
    hsize_t last[H5S_MAX_RANK]; /* the last chunk found */
    apr_off_t *next;            /* the children to visit at the next level */
    int nn;
} chunk_walk;

/*
 * The entries of the node in cw->buf, on level `level`: a leaf's wanted
 * chunks go to the table, an inner node's children that may lead to one
 * to cw->next.  0 when the node breaks a rule of the walk.
 */
static int node_entries(chunk_walk *cw, int level, unsigned used)
{
    const h5s3_fmt_geometry *g = cw->g;
    const h5s3_fmt_want *w = cw->w;
    h5s3_h5_chunks *c = cw->c;
    hsize_t lo[H5S_MAX_RANK], hi[H5S_MAX_RANK];
    int rank = w->rank, d;
    unsigned e;

    for (e = 0; e < used; e++) {
        const unsigned char *key = cw->buf + cw->hsize + e * cw->esize;
        const unsigned char *rkey = key + cw->esize;
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
            if ((c->n > 0 && lex_cmp(cw->last, lo, rank) >= 0)
                || (hsize_t)c->n >= w->total
                || !h5s3_fmt_addr(&child, cw->src, g->base,
                                  h5s3_fmt_le(key + cw->ksize, g->sa),
                                  size)
                || !h5s3_h5_chunks_add(c, &cw->cap, lo, child,
                                       (apr_size_t)size,
                                       (unsigned)h5s3_fmt_le(key + 4, 4))) {
                return 0;
            }
            memcpy(cw->last, lo, (apr_size_t)rank * sizeof(*lo));
        }
        else if (wanted_between(w, lo, hi)) {
            if (cw->nn == H5S3_FMT_MAX_NODES) {
                return 0;
            }
            if (h5s3_fmt_addr(&child, cw->src, g->base,
                              h5s3_fmt_le(key + cw->ksize, g->sa),
                              cw->hsize)) {
                cw->next[cw->nn++] = child;
            }
        }
    }
    return 1;
}

/*
 * Read the node at `at` and take its entries.  *level is the level of
 * the nodes read so far on this one (-1 for the first), prev the level
 * above (-1 at the root): a node must agree with both.  1 to go on; 0 to
 * stop, *rv saying why (APR_SUCCESS: the tree looks wrong, HDF5 looks
 * chunks up itself).
 */
static int walk_node(chunk_walk *cw, apr_off_t at, int *level, int prev,
                     apr_status_t *rv)
{
    h5s3_h5_source *src = cw->src;
    unsigned char head[8 + 2 * 8];
    unsigned used;
    apr_size_t len;

    *rv = h5s3_h5_charge(H5S3_H5_LIMIT_INDEX_NODES, 1);
    if (*rv != APR_SUCCESS) {
        return 0;
    }
    if (at >= src->obj.size
        || (apr_uint64_t)(src->obj.size - at) < cw->hsize
        || h5s3_fmt_read(src, at, cw->hsize, head) != APR_SUCCESS
        || memcmp(head, "TREE", 4) != 0 || head[4] != 1
        || (*level >= 0 && head[5] != *level)
        || (prev >= 0 && head[5] != prev - 1)) {
        return 0;
    }
    *level = head[5];
    used = (unsigned)h5s3_fmt_le(head + 6, 2);
    if (used > 2 * cw->k) {
        return 0;
    }
    /* The entries it uses and the key after the last; no more. */
    len = cw->hsize + (apr_size_t)used * cw->esize + cw->ksize;
    if ((apr_uint64_t)(src->obj.size - at) < len) {
        return 0;
    }
    if (len > cw->bufsize) {
        h5s3_h5_mem_free(cw->buf);
        cw->buf = NULL;
        cw->bufsize = 0;
        *rv = h5s3_h5_mem_alloc((void **)&cw->buf, len, 0);
        if (*rv != APR_SUCCESS) {
            return 0;
        }
        cw->bufsize = len;
    }
    if (h5s3_fmt_read(src, at, len, cw->buf) != APR_SUCCESS) {
        return 0;
    }
    return node_entries(cw, *level, used);
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
apr_status_t h5s3_fmt_walk_chunk_btree(h5s3_h5_chunks **out,
                                       h5s3_h5_source *src,
                                       const h5s3_fmt_geometry *g,
                                       unsigned k, apr_off_t root,
                                       const h5s3_fmt_want *w)
{
    chunk_walk cw;
    int n = 1, depth, i, ok = 0, prev = -1;
    apr_size_t nsize;
    apr_off_t *nodes = NULL;
    apr_size_t *lens = NULL;
    apr_status_t rv = APR_SUCCESS;

    memset(&cw, 0, sizeof(cw));
    cw.src = src;
    cw.g = g;
    cw.w = w;
    cw.k = k;
    cw.ksize = 8 + 8 * (apr_size_t)(w->rank + 1);
    cw.hsize = 8 + 2 * (apr_size_t)g->sa;
    cw.esize = cw.ksize + (apr_size_t)g->sa;
    nsize = cw.hsize + 2 * (apr_size_t)k * cw.esize + cw.ksize;
    nodes = malloc(H5S3_FMT_MAX_NODES * sizeof(*nodes));
    cw.next = malloc(H5S3_FMT_MAX_NODES * sizeof(*cw.next));
    lens = malloc(H5S3_FMT_MAX_NODES * sizeof(*lens));
    cw.c = calloc(1, sizeof(*cw.c));
    if (!nodes || !cw.next || !lens || !cw.c) {
        goto cleanup;
    }
    cw.c->rank = w->rank;
    for (i = 0; i < H5S3_FMT_MAX_NODES; i++) {
        /* Enough for the entries of most nodes; more is read on demand. */
        lens[i] = nsize < MAX_NODE_PREFETCH ? nsize : MAX_NODE_PREFETCH;
    }
    nodes[0] = root;
    /* Nodes are read whole at their own address: their exact bytes. */
    rv = h5s3_h5_prefetch_exact_src(src, nodes, lens, 1);

    for (depth = 0; rv == APR_SUCCESS && depth < H5S3_FMT_MAX_BTREE_DEPTH;
         depth++) {
        int level = -1;

        cw.nn = 0;
        for (i = 0; i < n; i++) {
            if (!walk_node(&cw, nodes[i], &level, prev, &rv)) {
                goto cleanup;
            }
        }
        if (level <= 0) {
            ok = level == 0;
            break;
        }
        prev = level;
        if (level == 1 && w->dense) {
            rv = prefetch_leaves(src, cw.next, cw.nn, lens[0]);
        }
        else {
            rv = h5s3_h5_prefetch_exact_src(src, cw.next, lens, cw.nn);
        }
        memcpy(nodes, cw.next, (apr_size_t)cw.nn * sizeof(*nodes));
        n = cw.nn;
    }

cleanup:
    free(nodes);
    free(cw.next);
    free(lens);
    h5s3_h5_mem_free(cw.buf);
    if (ok && rv == APR_SUCCESS) {
        *out = cw.c;
    }
    else {
        h5s3_h5_chunks_free(cw.c);
    }
    return rv;
}
