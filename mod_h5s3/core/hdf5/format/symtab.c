/*
 * Old-style (symbol table) groups keep their links in a v1 B-tree whose
 * leaves (SNODs) are scattered over the file, the names in a local heap;
 * listing one would read them one after another, each a GET under
 * HDF5's global lock.  Walked here level by level, each level one batch.
 */
#include <stdlib.h>
#include <string.h>

#include "hdf5/format/h5s3_h5_format_private.h"

#define STAB_MSG        0x0011
/* What HDF5 1.10 reads first at a local heap's address. */
#define HEAP_SPEC_READ  512

/* B-tree and heap addresses from a v1 object header's STAB message. */
static int find_stab(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                     apr_off_t oh, apr_off_t *btree, apr_off_t *heap)
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
apr_status_t h5s3_fmt_prefetch_symtab(hid_t gid, hid_t fid,
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
    /* HDF5 reads a local heap's header 512 bytes at a time first. */
    lens[1] = hsize > HEAP_SPEC_READ ? hsize : HEAP_SPEC_READ;
    rv = h5s3_fmt_prefetch_exact_gap(src, nodes, lens, 2, H5S3_FMT_META_GAP);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    /* The heap's data (the link names) goes with the next batch. */
    if (h5s3_fmt_read(src, heap, hsize, hdr) == APR_SUCCESS
        && memcmp(hdr, "HEAP", 4) == 0
        && h5s3_fmt_addr(&hat, src, g.base,
                         h5s3_fmt_le(hdr + 8 + 2 * g.ss, g.sa),
                         h5s3_fmt_le(hdr + 8, g.ss))) {
        extra_off = hat;
        extra_len = (apr_size_t)h5s3_fmt_le(hdr + 8, g.ss);
        /* Names right after the header are read with it, as one block:
         * fetch that block (both within the object: checked above). */
        if (hat >= heap && hat - heap <= HEAP_SPEC_READ) {
            extra_len += (apr_size_t)(hat - heap);
            extra_off = heap;
        }
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
            rv = h5s3_fmt_prefetch_exact_gap(src, next, lens, nn + 1,
                                             H5S3_FMT_META_GAP);
        }
        else {
            rv = h5s3_fmt_prefetch_exact_gap(src, next, lens, nn,
                                             H5S3_FMT_META_GAP);
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
