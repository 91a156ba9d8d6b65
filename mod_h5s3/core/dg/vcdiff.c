/*
 * The VCDIFF file header (RFC 3284 section 4.1) plus xdelta3's
 * application header, read so deltas xdelta3 would recompress on decode
 * (upstream issue #4) are refused before any byte is served.
 */
#include <string.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "dg/h5s3_dg_vcdiff.h"

/* RFC 3284 base-128 big-endian integer; APR_INCOMPLETE past the end. */
static apr_status_t varint(apr_uint64_t *out, const unsigned char *buf,
                           apr_size_t len, apr_size_t *pos)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 10; i++) {
        unsigned char b;
        if (*pos >= len)
            return APR_INCOMPLETE;
        b = buf[(*pos)++];
        v = (v << 7) | (b & 0x7f);
        if (!(b & 0x80)) {
            *out = v;
            return APR_SUCCESS;
        }
    }
    return H5S3_E_INVALID;
}

/* Field n (0-based) of "a/b/c/d"; "" when missing. */
static const char *field(const char *s, int n, apr_pool_t *p)
{
    const char *end;

    while (n-- > 0) {
        s = strchr(s, '/');
        if (!s)
            return "";
        s++;
    }
    end = strchr(s, '/');
    return end ? apr_pstrmemdup(p, s, (apr_size_t)(end - s))
               : apr_pstrdup(p, s);
}

apr_status_t h5s3_dg_vcdiff_parse(h5s3_dg_vcdiff_header **out,
                                  const unsigned char *buf, apr_size_t len,
                                  apr_pool_t *p)
{
    static const unsigned char magic[3] = {0xD6, 0xC3, 0xC4};
    h5s3_dg_vcdiff_header *h;
    apr_size_t pos = 5;
    apr_uint64_t n;
    apr_status_t rv;

    if (memcmp(buf, magic, len < 3 ? len : 3) != 0)
        return H5S3_E_INVALID;
    if (len < 5)
        return APR_INCOMPLETE;
    h = apr_pcalloc(p, sizeof(*h));
    h->version = buf[3];
    h->indicator = buf[4];
    h->secondary_id = -1;
    /* Version 0 is RFC 3284; xdelta3 writes 0 too.  Bits above 0x07 are
     * reserved: a header we would misread. */
    if (h->version != 0 || (h->indicator & ~0x07))
        return H5S3_E_INVALID;
    if (h->indicator & H5S3_VCD_DECOMPRESS) {
        if (pos >= len)
            return APR_INCOMPLETE;
        h->secondary_id = buf[pos++];
    }
    if (h->indicator & H5S3_VCD_CODETABLE) {
        if ((rv = varint(&n, buf, len, &pos)) != APR_SUCCESS)
            return rv;
        if (n > len - pos)
            return APR_INCOMPLETE;
        h->codetable_len = (apr_size_t)n;
        pos += (apr_size_t)n;
    }
    h->tgtname = h->tgtcomp = h->srcname = h->srccomp = "";
    if (h->indicator & H5S3_VCD_APPHEADER) {
        const char *app;
        if ((rv = varint(&n, buf, len, &pos)) != APR_SUCCESS)
            return rv;
        if (n > 65536)
            return H5S3_E_INVALID;
        if (n > len - pos)
            return APR_INCOMPLETE;
        app = apr_pstrmemdup(p, (const char *)buf + pos, (apr_size_t)n);
        h->appheader = app;
        pos += (apr_size_t)n;
        /* xdelta3 writes "tgt/tgtcomp/src/srccomp" or "tgt/tgtcomp". */
        h->tgtname = field(app, 0, p);
        h->tgtcomp = field(app, 1, p);
        h->srcname = field(app, 2, p);
        h->srccomp = field(app, 3, p);
    }
    h->header_len = pos;
    *out = h;
    return APR_SUCCESS;
}

int h5s3_dg_vcdiff_recompressed(const h5s3_dg_vcdiff_header *h)
{
    return (h->tgtcomp && *h->tgtcomp) || (h->srccomp && *h->srccomp);
}
