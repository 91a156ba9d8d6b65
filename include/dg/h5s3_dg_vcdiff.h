/*
 * The VCDIFF file header of a delta (dg/vcdiff.c), read before xdelta3
 * is started, to refuse what it could not decode byte-exactly.
 */
#ifndef H5S3_DG_VCDIFF_H
#define H5S3_DG_VCDIFF_H

#include <apr_pools.h>

#define H5S3_VCD_DECOMPRESS 0x01
#define H5S3_VCD_CODETABLE  0x02
#define H5S3_VCD_APPHEADER  0x04

typedef struct h5s3_dg_vcdiff_header {
    int version;
    int indicator;
    int secondary_id;           /* -1: none; 1 DJW, 2 LZMA, 16 FGK */
    apr_size_t codetable_len;
    const char *appheader;      /* NULL if none */
    /* xdelta3's application header "tgtname/tgtcomp/srcname/srccomp". */
    const char *tgtname, *tgtcomp, *srcname, *srccomp;
    apr_size_t header_len;      /* bytes up to the first window */
} h5s3_dg_vcdiff_header;

/*
 * Parse the file header from the first len bytes.  APR_INCOMPLETE: give
 * more bytes; H5S3_E_INVALID: not VCDIFF.
 */
apr_status_t h5s3_dg_vcdiff_parse(h5s3_dg_vcdiff_header **out,
                                  const unsigned char *buf, apr_size_t len,
                                  apr_pool_t *p);

/* 1 if xdelta3 would recompress on decode (non-empty tgtcomp/srccomp). */
int h5s3_dg_vcdiff_recompressed(const h5s3_dg_vcdiff_header *h);

#endif
