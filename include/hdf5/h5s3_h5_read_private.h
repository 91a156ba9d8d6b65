/*
 * The steps of a read (include/hdf5/h5s3_h5_read.h) in files of their
 * own, shared within the hdf5 layer only.
 */
#ifndef H5S3_H5_READ_PRIVATE_H
#define H5S3_H5_READ_PRIVATE_H

#include "hdf5/h5s3_h5_read.h"
#include "hdf5/format/h5s3_h5_format.h"

/*
 * Fetch what the hyperslab start/stride/count of d touches into the
 * page cache (hdf5/read_ahead.c): its chunks, or for contiguous data the
 * byte ranges of its rows.  Best effort: nothing when d has no file.
 * Returns the table of its chunks when every one is allocated (what the
 * decoder needs), else NULL; free it with h5s3_h5_chunks_free.
 */
h5s3_h5_chunks *h5s3_h5_read_prefetch(const h5s3_h5_dset *d,
                                      const hsize_t *start,
                                      const hsize_t *stride,
                                      const hsize_t *count);

#endif
