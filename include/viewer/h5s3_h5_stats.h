/*
 * Summary statistics of dataset values over the finite values only
 * (docs/viewer-api.md §3.2, §6: one ±inf must not turn min and max into null): the strided
 * sample of /preview (docs/viewer-api.md §3.2) and min/max of a plane.
 */
#ifndef H5S3_H5_STATS_H
#define H5S3_H5_STATS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <jansson.h>

#include "hdf5/h5s3_h5_read.h"

#define H5S3_H5_STATS_SAMPLE 100000

typedef struct h5s3_h5_stats {
    apr_size_t n;               /* values looked at */
    apr_size_t finite;          /* of which finite */
    double min, max, mean, std; /* population std; NaN when finite == 0 */
} h5s3_h5_stats;

/* Two-pass mean and std for accuracy; non-finite values are skipped. */
void h5s3_h5_stats_compute(h5s3_h5_stats *st, const double *v, apr_size_t n);

/* The per-axis stride of the preview sample: ceil((total/100000)^(1/ndim)),
 * at least 1. */
hsize_t h5s3_h5_stats_stride(hsize_t total, int ndim);

/*
 * The preview's "stats" object for an open dataset: {supported:false,
 * reason} (non-numeric, empty, complex) or {supported:true, min, max,
 * mean, std, sample_size, sampled, method:"strided"}.  The sample is the
 * first 100000 values (C order) of the dataset strided on every axis;
 * only those are read.
 */
apr_status_t h5s3_h5_preview_stats(json_t **out, const h5s3_h5_dset *d,
                                   apr_pool_t *p);

#endif
