/*
 * The geometry of a file (where relative address 0 is, the sizes of its
 * offsets and lengths, the ranks of its group B-trees) and the reads
 * every reader of the format makes through the page cache: charged and
 * counted like the driver's, at addresses checked to lie in the object.
 */
#include "base/h5s3_checked.h"
#include "hdf5/format/h5s3_h5_format_private.h"

void h5s3_fmt_account(const h5s3_pagecache_counts *c)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();

    if (rq) {
        rq->page_hits += c->hits;
        rq->page_misses += c->misses;
    }
}

/* Parsing reads what the driver would have: charged alike. */
apr_status_t h5s3_fmt_read(h5s3_h5_source *src, apr_off_t addr,
                           apr_size_t len, unsigned char *buf)
{
    h5s3_pagecache_counts counts = {0};
    apr_status_t rv;

    rv = h5s3_h5_charge(H5S3_H5_LIMIT_READ_BYTES, len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = h5s3_pagecache_read(src->cache, &src->obj, addr, len, (char *)buf,
                             &counts);
    h5s3_fmt_account(&counts);
    return rv;
}

/* An address read from the file plus the base, if it is a place in the
 * object (0 otherwise: the structure is not where it says). */
int h5s3_fmt_addr(apr_off_t *out, const h5s3_h5_source *src,
                  apr_off_t base, apr_uint64_t rel, apr_uint64_t len)
{
    apr_uint64_t a, end;

    if (base < 0 || !H5S3_ADD(&a, (apr_uint64_t)base, rel)
        || !H5S3_ADD(&end, a, len) || end > (apr_uint64_t)src->obj.size) {
        return 0;
    }
    *out = (apr_off_t)a;
    return 1;
}

int h5s3_fmt_geometry_get(hid_t fid, h5s3_fmt_geometry *g)
{
    hid_t fcpl = H5Fget_create_plist(fid);
    size_t sa = 0, ss = 0;
    hsize_t ub = 0;
    int ok;

    ok = fcpl >= 0 && H5Pget_sizes(fcpl, &sa, &ss) >= 0
         && H5Pget_userblock(fcpl, &ub) >= 0
         && H5Pget_sym_k(fcpl, &g->ik, &g->lk) >= 0
         && sa >= 2 && sa <= 8 && ss >= 2 && ss <= 8
         && g->ik > 0 && g->ik < 1024 && g->lk > 0 && g->lk < 1024;
    if (fcpl >= 0) {
        H5Pclose(fcpl);
    }
    g->base = (apr_off_t)ub;
    g->sa = (int)sa;
    g->ss = (int)ss;
    return ok;
}
