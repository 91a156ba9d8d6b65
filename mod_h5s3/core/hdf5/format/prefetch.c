/*
 * Metadata prefetch.  Describing the children of a wide group would read
 * their object headers one after another, each miss a GET made while
 * holding HDF5's global lock.  Instead: list the hard links' addresses
 * (one HDF5 call), fetch the missing pages concurrently outside HDF5, and
 * let the describing read them from the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "base/h5s3_checked.h"
#include "hdf5/format/h5s3_h5_format_private.h"
#include "base/h5s3_errors.h"

/* Bytes fetched at each object header address: the prefix and first
 * messages of a typical dataset header; pages make the exact figure moot. */
#define OHDR_GUESS 1024
/* Old-style (symbol table) groups keep their links in a v1 B-tree whose
 * leaves (SNODs) are scattered over the file; listing one would read them
 * one after another.  Walked level by level, each level one batch. */
#define STAB_MSG        0x0011
#define LINFO_MSG       0x0002
/* Leaves of a read wanting every chunk are fetched with the bytes
 * between them when they are at most this far apart. */
#define DENSE_GAP       (1024 * 1024)
/* A fixed array data block larger than this is left to HDF5. */
#define PC_HINT_MAX     (64 * 1024 * 1024)

typedef struct addr_list {
    apr_off_t *offs;
    int n;
    int cap;
    int oom;
    hsize_t limit;              /* links to look at (0: all) */
    hsize_t seen;
    apr_uint64_t max;           /* addresses worth collecting */
} addr_list;

static herr_t collect_cb(hid_t g, const char *name, const H5L_info_t *info,
                         void *data)
{
    addr_list *l = data;

    if (l->limit && l->seen++ >= l->limit) {
        return 1;               /* past the page */
    }
    if (info->type != H5L_TYPE_HARD || info->u.address == HADDR_UNDEF
        || info->u.address > APR_INT64_MAX) {
        return 0;
    }
    /* A hint, not the listing: a group wider than a request may still
     * fetch ranges for has its first headers fetched, the rest read by
     * HDF5 (a wide group is no reason to refuse a listing). */
    if ((apr_uint64_t)l->n >= l->max) {
        return 1;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        apr_off_t *o = realloc(l->offs, (apr_size_t)cap * sizeof(*o));

        if (!o) {
            l->oom = 1;
            return 1;           /* stop; what we have is still useful */
        }
        l->offs = o;
        l->cap = cap;
    }
    l->offs[l->n++] = (apr_off_t)info->u.address;
    return 0;
}

/* B-tree and heap addresses from a v1 object header's STAB message. */
static int find_stab(h5s3_h5_source *src, const h5s3_fmt_geometry *g, apr_off_t oh,
                     apr_off_t *btree, apr_off_t *heap)
{
    unsigned char buf[4096];
    apr_size_t len = sizeof(buf), pos;

    if (oh < 0 || oh >= src->obj.size) {
        return 0;
    }
    if (src->obj.size - oh < (apr_off_t)len) {
        len = (apr_size_t)(src->obj.size - oh);
    }
    if (len < 16 || h5s3_fmt_read(src, oh, len, buf) != APR_SUCCESS
        || buf[0] != 1) {
        return 0;               /* v2 headers hold no symbol table */
    }
    if (h5s3_fmt_le(buf + 8, 4) + 16 < len) {
        len = (apr_size_t)h5s3_fmt_le(buf + 8, 4) + 16;
    }
    for (pos = 16; pos + 8 <= len;) {
        unsigned type = (unsigned)h5s3_fmt_le(buf + pos, 2);
        apr_size_t size = (apr_size_t)h5s3_fmt_le(buf + pos + 2, 2);

        if (type == STAB_MSG && pos + 8 + 2 * g->sa <= len) {
            *btree = (apr_off_t)h5s3_fmt_le(buf + pos + 8, g->sa);
            *heap = (apr_off_t)h5s3_fmt_le(buf + pos + 8 + g->sa, g->sa);
            return 1;
        }
        pos += 8 + size;
    }
    return 0;
}

static apr_size_t node_size(const h5s3_fmt_geometry *g)
{
    return 8 + 2 * g->sa + (2 * g->ik + 1) * g->ss + 2 * g->ik * g->sa;
}

/*
 * Walk the group's B-tree level by level, fetching each level's nodes,
 * then the leaves and the local heap's data, each step one concurrent
 * batch.  Best effort: anything unexpected stops the walk quietly and
 * HDF5 reads the rest itself.
 */
static apr_status_t h5s3_fmt_prefetch_symtab(hid_t gid, hid_t fid,
                                          h5s3_h5_source *src)
{
    H5O_info_t oi;
    h5s3_fmt_geometry g;
    apr_off_t btree, heap, *nodes = NULL, *next = NULL, hat;
    apr_size_t *lens = NULL, nsize, hsize, extra_len = 0;
    apr_off_t extra_off = 0;
    unsigned char *buf = NULL, hdr[40];
    int n = 1, depth, i;
    apr_status_t rv = APR_SUCCESS;

    /* Not H5Gget_info: on these groups it counts links by reading every
     * leaf, the very walk this avoids.  No STAB message: a new-style group. */
    if (H5Oget_info2(gid, &oi, H5O_INFO_BASIC) < 0
        || !h5s3_fmt_geometry_get(fid, &g)
        || !find_stab(src, &g, g.base + (apr_off_t)oi.addr, &btree, &heap)) {
        return APR_SUCCESS;
    }
    nsize = node_size(&g);
    hsize = 8 + 2 * g.ss + g.sa;
    if (!h5s3_fmt_addr(&btree, src, g.base, (apr_uint64_t)btree, nsize)
        || !h5s3_fmt_addr(&heap, src, g.base, (apr_uint64_t)heap, hsize)) {
        return APR_SUCCESS;     /* HDF5 will say what is wrong */
    }
    nodes = malloc(H5S3_FMT_MAX_NODES * sizeof(*nodes));
    next = malloc(H5S3_FMT_MAX_NODES * sizeof(*next));
    lens = malloc(H5S3_FMT_MAX_NODES * sizeof(*lens));
    buf = malloc(nsize);
    if (!nodes || !next || !lens || !buf) {
        rv = APR_ENOMEM;
        goto cleanup;
    }

    /* The root node and the heap header together. */
    nodes[0] = btree;
    nodes[1] = heap;
    lens[0] = nsize;
    lens[1] = hsize;
    rv = h5s3_h5_prefetch_ranges_src(src, nodes, lens, 2);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    /* The heap's data (the link names) goes with the next batch. */
    if (h5s3_fmt_read(src, heap, hsize, hdr) == APR_SUCCESS
        && memcmp(hdr, "HEAP", 4) == 0
        && h5s3_fmt_addr(&hat, src, g.base, h5s3_fmt_le(hdr + 8 + 2 * g.ss, g.sa),
                     h5s3_fmt_le(hdr + 8, g.ss))) {
        extra_off = hat;
        extra_len = (apr_size_t)h5s3_fmt_le(hdr + 8, g.ss);
    }

    for (depth = 0; depth < H5S3_FMT_MAX_BTREE_DEPTH && n > 0; depth++) {
        int nn = 0, level = -1;

        for (i = 0; i < n; i++) {
            unsigned used, k;

            rv = h5s3_h5_charge(H5S3_H5_LIMIT_INDEX_NODES, 1);
            if (rv != APR_SUCCESS) {
                goto cleanup;
            }
            if (h5s3_fmt_read(src, nodes[i], nsize, buf) != APR_SUCCESS
                || memcmp(buf, "TREE", 4) != 0 || buf[4] != 0) {
                goto cleanup;
            }
            level = buf[5];
            used = (unsigned)h5s3_fmt_le(buf + 6, 2);
            if (used > 2 * g.ik) {
                goto cleanup;
            }
            for (k = 0; k < used && nn < H5S3_FMT_MAX_NODES; k++) {
                apr_size_t at = 8 + 2 * g.sa + g.ss + k * (g.sa + g.ss);
                apr_size_t clen = level == 0 ? 8 + 2 * g.lk * (2 * g.sa + 24)
                                             : nsize;

                if (h5s3_fmt_addr(&next[nn], src, g.base,
                              h5s3_fmt_le(buf + at, g.sa), clen)) {
                    nn++;
                }
            }
        }
        for (i = 0; i < nn; i++) {
            /* Children of level 0 are symbol nodes, else B-tree nodes. */
            lens[i] = level == 0 ? 8 + 2 * g.lk * (2 * (apr_size_t)g.sa + 24)
                                 : nsize;
        }
        if (extra_len && nn < H5S3_FMT_MAX_NODES) {
            next[nn] = extra_off;
            lens[nn] = extra_len;
            extra_len = 0;
            rv = h5s3_h5_prefetch_ranges_src(src, next, lens, nn + 1);
        }
        else {
            rv = h5s3_h5_prefetch_ranges_src(src, next, lens, nn);
        }
        if (rv != APR_SUCCESS || level == 0) {
            break;
        }
        memcpy(nodes, next, (apr_size_t)nn * sizeof(*nodes));
        n = nn;
    }

cleanup:
    free(nodes);
    free(next);
    free(lens);
    free(buf);
    return rv;
}

/* log2 of a power of two. */
static unsigned log2_of(apr_uint64_t v)
{
    unsigned n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

/* Bytes HDF5 uses to encode a count of at most n (H5VM_limit_enc_size). */
static int enc_size(apr_uint64_t n)
{
    int bits = 0;

    while (n >> bits) {
        bits++;
    }
    return bits / 8 + 1;
}

/*
 * New-style groups with many links keep them in a fractal heap indexed by
 * a v2 B-tree (Link Info message).  Iterating reads the B-tree's leaves
 * and the heap's direct blocks one after another; fetched first, in
 * three batches (the two headers; the two roots; the B-tree's leaves and
 * the direct blocks), they are read from the cache.  Best effort: a
 * filtered heap, or deeper trees, are partly left to HDF5.
 */
static apr_status_t h5s3_fmt_prefetch_dense(hid_t gid, hid_t fid,
                                         h5s3_h5_source *src)
{
    H5O_info_t oi;
    h5s3_fmt_geometry g;
    unsigned char msg[64], hh[256], bh[64], *buf = NULL;
    apr_size_t mlen = 0, at, hlen, blen, ilen = 0, nsize = 0, rsize = 0;
    apr_uint64_t undef, start = 0, maxdirect = 0;
    apr_off_t heap, bt, hroot = 0, broot = 0;
    unsigned width = 0, rows = 0, maxrows = 0, bits = 0, depth = 0;
    unsigned nrec = 0, r, c;
    h5s3_fmt_batch b = {0};
    apr_status_t rv = APR_SUCCESS;
    int have_heap = 0;

    if (H5Oget_info2(gid, &oi, H5O_INFO_BASIC) < 0 || !h5s3_fmt_geometry_get(fid, &g)
        || !h5s3_fmt_find_msg(src, &g, g.base + (apr_off_t)oi.addr, LINFO_MSG, msg,
                     sizeof(msg), &mlen)
        || mlen < 2 || msg[0] != 0) {
        return APR_SUCCESS;     /* old-style or compact */
    }
    undef = (apr_uint64_t)-1 >> (64 - 8 * g.sa);
    at = 2 + ((msg[1] & 1) ? 8 : 0);
    if (at + 2 * (apr_size_t)g.sa > mlen
        || h5s3_fmt_le(msg + at, g.sa) == undef) {
        return APR_SUCCESS;     /* links in the header itself */
    }

    /* Batch 1: the heap header and the name index's header. */
    hlen = 14 + 12 * (apr_size_t)g.ss + 3 * (apr_size_t)g.sa + 12;
    blen = 18 + (apr_size_t)g.sa + (apr_size_t)g.ss + 4;
    if (!h5s3_fmt_addr(&heap, src, g.base, h5s3_fmt_le(msg + at, g.sa), hlen)
        || !h5s3_fmt_addr(&bt, src, g.base, h5s3_fmt_le(msg + at + g.sa, g.sa),
                      blen)) {
        return APR_SUCCESS;     /* not in the object: HDF5 will say */
    }
    if (!h5s3_fmt_batch_add(&b, heap, hlen) || !h5s3_fmt_batch_add(&b, bt, blen)) {
        goto cleanup;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    b.n = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    /* Batch 2: the B-tree's root node and the heap's root block. */
    if (h5s3_fmt_read(src, bt, blen, bh) == APR_SUCCESS
        && memcmp(bh, "BTHD", 4) == 0) {
        nsize = (apr_size_t)h5s3_fmt_le(bh + 6, 4);
        rsize = (apr_size_t)h5s3_fmt_le(bh + 10, 2);
        depth = (unsigned)h5s3_fmt_le(bh + 12, 2);
        nrec = (unsigned)h5s3_fmt_le(bh + 16 + g.sa, 2);
        if (nsize <= 10 || nsize > 65536 || rsize == 0
            || h5s3_fmt_le(bh + 16, g.sa) == undef
            || !h5s3_fmt_addr(&broot, src, g.base, h5s3_fmt_le(bh + 16, g.sa),
                          nsize)) {
            nsize = 0;          /* no tree we would walk */
        }
        else if (!h5s3_fmt_batch_add(&b, broot, nsize)) {
            goto cleanup;
        }
    }
    if (h5s3_fmt_read(src, heap, hlen, hh) == APR_SUCCESS
        && memcmp(hh, "FRHP", 4) == 0 && h5s3_fmt_le(hh + 7, 2) == 0) {
        at = 14 + 10 * (apr_size_t)g.ss + 2 * (apr_size_t)g.sa;
        width = (unsigned)h5s3_fmt_le(hh + at, 2);
        start = h5s3_fmt_le(hh + at + 2, g.ss);
        maxdirect = h5s3_fmt_le(hh + at + 2 + g.ss, g.ss);
        bits = (unsigned)h5s3_fmt_le(hh + at + 2 + 2 * g.ss, 2);
        rows = (unsigned)h5s3_fmt_le(hh + at + 6 + 2 * g.ss + g.sa, 2);
        /* The doubling table as HDF5 requires it (powers of two), and a
         * root that holds no more rows than the heap's size allows
         * (H5HF_dtable_init): so the root block is a few KiB at most. */
        have_heap = width > 0 && width <= 4096 && !(width & (width - 1))
                    && start > 0 && !(start & (start - 1))
                    && maxdirect >= start && !(maxdirect & (maxdirect - 1))
                    && bits <= 64
                    && log2_of(start) + log2_of(width) <= bits
                    && rows <= bits - log2_of(start) - log2_of(width) + 1
                    && h5s3_fmt_le(hh + at + 6 + 2 * g.ss, g.sa) != undef;
        if (have_heap) {
            /* Root block: a direct block, or an indirect block of rows. */
            ilen = rows == 0 ? (apr_size_t)start
                   : 5 + (apr_size_t)g.sa + (bits + 7) / 8
                     + (apr_size_t)rows * width * (apr_size_t)g.sa + 4;
            have_heap = (rows > 0 || start <= APR_SIZE_MAX)
                        && h5s3_fmt_addr(&hroot, src, g.base,
                                     h5s3_fmt_le(hh + at + 6 + 2 * g.ss, g.sa),
                                     ilen);
        }
    }
    if (have_heap) {
        if (!h5s3_fmt_batch_add(&b, hroot, ilen)) {
            goto cleanup;
        }
    }
    if (b.n == 0) {
        goto cleanup;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    b.n = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    /* Batch 3: the B-tree's leaves (a tree of depth 1) and the heap's
     * direct blocks under its root. */
    if (depth == 1 && nsize > 10 && rsize > 0) {
        int ps = g.sa + enc_size((nsize - 10) / rsize);

        buf = malloc(nsize);
        if (buf && h5s3_fmt_read(src, broot, nsize, buf) == APR_SUCCESS
            && memcmp(buf, "BTIN", 4) == 0
            && 6 + (apr_size_t)nrec * rsize + (nrec + 1) * (apr_size_t)ps
               <= nsize) {
            for (c = 0; c <= nrec; c++) {
                apr_size_t o = 6 + (apr_size_t)nrec * rsize
                               + (apr_size_t)c * (apr_size_t)ps;
                apr_off_t leaf;

                if (h5s3_fmt_addr(&leaf, src, g.base, h5s3_fmt_le(buf + o, g.sa),
                              nsize)
                    && !h5s3_fmt_batch_add(&b, leaf, nsize)) {
                    goto cleanup;
                }
            }
        }
        free(buf);
        buf = NULL;
    }
    if (have_heap && rows > 0) {
        /* Rows of direct blocks: log2(maxdirect / start) + 2. */
        maxrows = log2_of(maxdirect) - log2_of(start) + 2;
        buf = malloc(ilen);
        at = 5 + (apr_size_t)g.sa + (bits + 7) / 8;
        if (buf && h5s3_fmt_read(src, hroot, ilen, buf) == APR_SUCCESS
            && memcmp(buf, "FHIB", 4) == 0) {
            for (r = 0; r < rows && r < maxrows; r++) {
                /* At most maxdirect: no shift past 64 bits. */
                apr_uint64_t size = r < 2 ? start : start << (r - 1);

                for (c = 0; c < width && size <= APR_SIZE_MAX; c++) {
                    apr_uint64_t a = h5s3_fmt_le(buf + at + ((apr_size_t)r * width
                                                        + c) * g.sa, g.sa);
                    apr_off_t blk;

                    if (a != undef && a != 0
                        && h5s3_fmt_addr(&blk, src, g.base, a, size)
                        && !h5s3_fmt_batch_add(&b, blk, (apr_size_t)size)) {
                        goto cleanup;
                    }
                }
            }
        }
    }
    if (b.n > 0) {
        rv = h5s3_h5_prefetch_ranges_src(src, b.offs, b.lens, b.n);
    }

cleanup:
    free(buf);
    free(b.offs);
    free(b.lens);
    return rv;
}

apr_status_t h5s3_h5_prefetch_group_src(hid_t fid, h5s3_h5_source *src,
                                        const char *path, hsize_t offset,
                                        hsize_t limit)
{
    addr_list l = {0};
    apr_size_t *lens = NULL;
    hid_t gid;
    hsize_t idx = 0;
    herr_t err;
    apr_status_t rv = APR_SUCCESS;
    int i;

    h5s3_fmt_geometry g;

    h5s3_h5_thread_init();
    if (!src->cache) {
        return APR_SUCCESS;     /* nowhere to put the pages */
    }
    gid = H5Gopen2(fid, path && *path ? path : "/", H5P_DEFAULT);
    if (gid < 0) {
        return h5s3_h5_request_status(H5S3_E_NOPATH);
    }
    rv = h5s3_fmt_prefetch_symtab(gid, fid, src);
    if (rv == APR_SUCCESS) {
        rv = h5s3_fmt_prefetch_dense(gid, fid, src);
    }
    if (rv != APR_SUCCESS) {
        H5Gclose(gid);
        return rv;
    }
    /* The page's links only, in the order the listing uses; as many
     * headers as the request may still fetch ranges for. */
    idx = offset;
    l.limit = limit;
    l.max = h5s3_h5_limit_left(H5S3_H5_LIMIT_RANGES);
    err = H5Literate(gid, h5s3_h5_link_index(gid), H5_ITER_INC, &idx,
                     collect_cb, &l);
    H5Gclose(gid);
    if (!h5s3_fmt_geometry_get(fid, &g)) {
        g.base = 0;
    }
    if (err < 0) {
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
        goto cleanup;
    }
    if (l.n == 0) {
        goto cleanup;
    }
    lens = malloc((apr_size_t)l.n * sizeof(*lens));
    if (!lens) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < l.n; i++) {
        /* Link addresses are relative to the base (after a user block);
         * the driver sees absolute ones.  Both below 2^63 (collect_cb). */
        if (!H5S3_ADD(&l.offs[i], l.offs[i], g.base)) {
            l.offs[i] = -1;     /* dropped by h5s3_h5_prefetch_ranges_src */
        }
        lens[i] = OHDR_GUESS;
    }
    rv = h5s3_h5_prefetch_ranges_src(src, l.offs, lens, l.n);

cleanup:
    free(l.offs);
    free(lens);
    return rv;
}

/* ---- link order -------------------------------------------------------- */

H5_index_t h5s3_h5_link_index(hid_t g)
{
    hid_t gcpl = H5Gget_create_plist(g);
    unsigned flags = 0;
    H5_index_t idx = H5_INDEX_NAME;

    if (gcpl >= 0) {
        if (H5Pget_link_creation_order(gcpl, &flags) >= 0
            && (flags & H5P_CRT_ORDER_TRACKED)) {
            idx = H5_INDEX_CRT_ORDER;
        }
        H5Pclose(gcpl);
    }
    return idx;
}

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
