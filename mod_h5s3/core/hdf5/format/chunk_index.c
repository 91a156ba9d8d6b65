/*
 * The chunk index of a dataset is found through the Data Layout message
 * of its object header (HDF5 1.10 has no call that gives its address).
 * A v1 B-tree (layout message version 3) is walked level by level
 * (chunk_btree.c) and gives the chunk table directly; a fixed array
 * (version 4, index type 3) has its header and data block fetched in two
 * batches and HDF5 looks chunks up in the cache.  Other indexes are left
 * to HDF5.
 */
#include <string.h>

#include "base/h5s3_checked.h"
#include "hdf5/format/h5s3_h5_format_private.h"

#define LAYOUT_MSG      0x0008
#define FA_INDEX        3
/* A fixed array data block larger than this is left to HDF5. */
#define PC_HINT_MAX     (64 * 1024 * 1024)

/* A fixed array index: its header, then its data block (one range). */
static apr_status_t prefetch_fixed_array(h5s3_h5_source *src,
                                         const h5s3_fmt_geometry *g,
                                         apr_off_t hdr)
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
        || !h5s3_fmt_addr(&dblk, src, g->base,
                          h5s3_fmt_le(buf + 8 + g->ss, g->sa), len)) {
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
        || !h5s3_fmt_find_msg(src, &g, g.base + (apr_off_t)oi.addr,
                              LAYOUT_MSG, msg, sizeof(msg), &mlen)
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
        if (!h5s3_fmt_addr(&at_off, src, g.base, bt,
                           8 + 2 * (apr_size_t)g.sa)) {
            return APR_SUCCESS; /* not in the object: HDF5 will say */
        }
        return h5s3_fmt_walk_chunk_btree(out, src, &g, ik, at_off, &w);
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
