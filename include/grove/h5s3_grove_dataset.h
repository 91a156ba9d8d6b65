/*
 * What the files of grove/ share to serve values (not for other layers):
 * a dataset opened with h5grove's messages and its filters checked
 * (grove/data.c, grove/stats.c), a selection read into memory, the
 * numbers held in native buffers (also grove/encode.c).
 */
#ifndef H5S3_GROVE_DATASET_H
#define H5S3_GROVE_DATASET_H

#include <string.h>

#include <apr.h>
#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>

#include "base/h5s3_result.h"
#include "hdf5/h5s3_h5_read.h"

struct h5s3_h5_file;

/* The kinds of data h5grove tells apart. */
typedef enum {
    H5S3_GROVE_INT, H5S3_GROVE_FLOAT, H5S3_GROVE_BOOL, H5S3_GROVE_COMPLEX,
    H5S3_GROVE_ENUM, H5S3_GROVE_BITFIELD, H5S3_GROVE_OTHER
} h5s3_grove_kind;

h5s3_grove_kind h5s3_grove_kind_of(hid_t t);

/* What follows the last '/' of S (S itself without one): a file as
 * h5grove's messages name it, an entity's name from its path. */
const char *h5s3_grove_basename(const char *s);

/* PATH opened as a dataset, with h5grove's messages in RES. */
apr_status_t h5s3_grove_dset_open(h5s3_h5_dset **d, h5s3_result *res,
                                  hid_t fid, struct h5s3_h5_file *f,
                                  const char *file, const char *path,
                                  apr_pool_t *p);

/* The filters D needs are available and its chunks within what this
 * server decodes (h5s3_h5_dset_readable also refuses opaque data, which
 * /data/?format=bin serves).  H5S3_E_UNSUPPORTED, told in RES,
 * otherwise. */
apr_status_t h5s3_grove_filters_ok(const h5s3_h5_dset *d, h5s3_result *res,
                                   apr_pool_t *p);

/* A selection read into memory: BUF holds N elements of DC.mtype. */
typedef struct h5s3_grove_read {
    h5s3_h5_dset dc;
    void *buf;
    hsize_t n;
} h5s3_grove_read;

/*
 * START, STRIDE, COUNT of D (N elements) read with the memory type MT,
 * which the read takes over: it and the buffer are freed with P.  No
 * read for an empty dataspace or N 0 (BUF NULL).
 */
apr_status_t h5s3_grove_read_sel(h5s3_grove_read **out,
                                 const h5s3_h5_dset *d, hid_t mt,
                                 const hsize_t *start, const hsize_t *stride,
                                 const hsize_t *count, hsize_t n,
                                 apr_pool_t *p);

/* The integer of SIZE bytes at PTR (native order), sign-extended (SGN)
 * or zero-extended to 64 bits in *BITS; 0 (and *BITS 0) when SIZE is not
 * 1, 2, 4 or 8.  Inline: the JSON writer calls it for every element. */
static APR_INLINE int h5s3_grove_int_at(apr_uint64_t *bits,
                                        const unsigned char *ptr,
                                        size_t size, int sgn)
{
    *bits = 0;
    switch (size) {
    case 1:
        *bits = sgn ? (apr_uint64_t)(apr_int64_t)*(const signed char *)ptr
                    : *ptr;
        return 1;
    case 2: {
        apr_int16_t s;
        apr_uint16_t u;

        memcpy(&s, ptr, 2);
        memcpy(&u, ptr, 2);
        *bits = sgn ? (apr_uint64_t)(apr_int64_t)s : u;
        return 1;
    }
    case 4: {
        apr_int32_t s;
        apr_uint32_t u;

        memcpy(&s, ptr, 4);
        memcpy(&u, ptr, 4);
        *bits = sgn ? (apr_uint64_t)(apr_int64_t)s : u;
        return 1;
    }
    case 8:
        memcpy(bits, ptr, 8);
        return 1;
    default:
        return 0;
    }
}

/* The number at PTR as a double: a float of SIZE bytes (CLS H5T_FLOAT)
 * or an integer; NaN for a size we do not read. */
double h5s3_grove_num_at(const unsigned char *ptr, H5T_class_t cls,
                         size_t size, int sgn);

/* What the numeric values of a native memory type look like. */
typedef struct h5s3_grove_numfmt {
    H5T_class_t cls;            /* of the scalar: INTEGER or FLOAT */
    size_t size;
    int sgn;
    int is_bool;
    int complex_;
    size_t off_im;
} h5s3_grove_numfmt;

void h5s3_grove_numfmt_of(h5s3_grove_numfmt *nf, hid_t mt);

#endif
