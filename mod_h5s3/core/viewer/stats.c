/*
 * Statistics over finite values: the preview's strided sample (docs/viewer-api.md §3.2),
 * read as at most ndim hyperslabs holding exactly the first 100000 values
 * of the strided grid in C order, so a huge dataset costs a bounded read.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "json/h5s3_json.h"
#include "viewer/h5s3_h5_stats.h"
#include "viewer/h5s3_h5_values.h"

void h5s3_h5_stats_compute(h5s3_h5_stats *st, const double *v, apr_size_t n)
{
    apr_size_t i;
    double sum = 0, sq = 0;

    memset(st, 0, sizeof(*st));
    st->n = n;
    st->min = st->max = st->mean = st->std = NAN;
    for (i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            continue;
        }
        if (st->finite == 0 || v[i] < st->min) {
            st->min = v[i];
        }
        if (st->finite == 0 || v[i] > st->max) {
            st->max = v[i];
        }
        sum += v[i];
        st->finite++;
    }
    if (st->finite == 0) {
        return;
    }
    st->mean = sum / (double)st->finite;
    for (i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            double dv = v[i] - st->mean;
            sq += dv * dv;
        }
    }
    st->std = sqrt(sq / (double)st->finite);
}

hsize_t h5s3_h5_stats_stride(hsize_t total, int ndim)
{
    double s;

    if (ndim <= 0 || total <= H5S3_H5_STATS_SAMPLE) {
        return 1;
    }
    s = ceil(pow((double)total / H5S3_H5_STATS_SAMPLE, 1.0 / ndim));
    return s < 1 ? 1 : (hsize_t)s;
}

static json_t *unsupported(const char *reason)
{
    return json_pack("{s:b, s:s}", "supported", 0, "reason", reason);
}

/* Read grid positions [from, from + n) of dims >= k given the fixed
 * prefix, as whole slabs: appends to v. */
static apr_status_t read_piece(const h5s3_h5_dset *d, double *v,
                               apr_size_t *got, const hsize_t *start,
                               const hsize_t *stride, const hsize_t *count)
{
    void *buf = NULL;
    hsize_t n = 0;
    apr_status_t rv;

    /* At most the sample's size (the caller's counts say so). */
    if (!h5s3_dims_product(&n, count, d->ndim, 1, H5S3_H5_STATS_SAMPLE)) {
        return H5S3_E_TOOLARGE;
    }
    if (n == 0) {
        return APR_SUCCESS;
    }
    rv = h5s3_h5_read(&buf, d, start, stride, count);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    h5s3_h5_to_double(v + *got, d, buf, n);
    *got += (apr_size_t)n;
    h5s3_h5_buf_free(d, buf, n);
    return APR_SUCCESS;
}

/*
 * The first `want` positions of the grid (every s-th index of each dim)
 * in C order, appended to v: whole slabs of dim 0, then of dim 1 at the
 * next dim-0 index, and so on.
 */
static apr_status_t sample_grid(const h5s3_h5_dset *d, double *v,
                                apr_size_t *got, apr_size_t want, hsize_t s,
                                const hsize_t *grid)
{
    hsize_t inner[H5S3_H5_RANK_MAX + 1];
    hsize_t start[H5S3_H5_RANK_MAX], stride[H5S3_H5_RANK_MAX];
    hsize_t count[H5S3_H5_RANK_MAX];
    apr_status_t rv;
    int k;

    /* Products saturate (checked: a wrap to 0 would divide by zero
     * below); past 2^50 a slab holds more than the sample anyway.  No dim
     * is 0 here (nelem > 0), so neither is any product. */
    inner[d->ndim] = 1;
    for (k = d->ndim - 1; k >= 0; k--) {
        if (!H5S3_MUL(&inner[k], inner[k + 1], grid[k])
            || inner[k] > (hsize_t)1 << 50) {
            inner[k] = (hsize_t)1 << 50;
        }
    }
    for (k = 0; k < d->ndim; k++) {
        start[k] = 0;
        stride[k] = s;
        count[k] = grid[k];
    }
    for (k = 0; k < d->ndim && *got < want; k++) {
        apr_size_t left = want - *got;
        hsize_t whole = left / inner[k + 1];
        int j;

        if (whole > grid[k]) {
            whole = grid[k];
        }
        if (whole > 0) {
            hsize_t c[H5S3_H5_RANK_MAX];

            memcpy(c, count, sizeof(c));
            c[k] = whole;
            for (j = k + 1; j < d->ndim; j++) {
                c[j] = grid[j];
            }
            rv = read_piece(d, v, got, start, stride, c);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
        /* Then one more index of this dim, partially. */
        start[k] += whole * s;
        count[k] = 1;
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_preview_stats(json_t **out, const h5s3_h5_dset *d,
                                   apr_pool_t *p)
{
    hsize_t s, grid[H5S3_H5_RANK_MAX];
    double gridtotal = 1, *v = NULL;
    apr_size_t want, got = 0;
    h5s3_h5_stats st;
    apr_status_t rv = APR_SUCCESS;
    int k;

    if (!h5s3_h5_kind_numeric(d->kind)) {
        *out = unsupported("non-numeric");
        return APR_SUCCESS;
    }
    if (d->nelem == 0) {
        *out = unsupported("empty");
        return APR_SUCCESS;
    }
    if (d->kind == H5S3_H5_KIND_COMPLEX) {
        *out = unsupported("complex");
        return APR_SUCCESS;
    }
    s = h5s3_h5_stats_stride(d->nelem, d->ndim);
    for (k = 0; k < d->ndim; k++) {
        grid[k] = h5s3_ceil_div(d->shape[k], s);
        gridtotal *= (double)grid[k];
    }
    want = gridtotal < H5S3_H5_STATS_SAMPLE ? (apr_size_t)gridtotal
                                            : H5S3_H5_STATS_SAMPLE;
    v = malloc((want ? want : 1) * sizeof(*v));
    if (!v) {
        return APR_ENOMEM;
    }
    if (d->ndim == 0) {
        hsize_t none = 0;

        rv = read_piece(d, v, &got, &none, &none, &none);
    }
    else {
        rv = sample_grid(d, v, &got, want, s, grid);
    }
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    h5s3_h5_stats_compute(&st, v, got);
    *out = json_pack("{s:b, s:o, s:o, s:o, s:o, s:I, s:b, s:s}",
                     "supported", 1,
                     "min", h5s3_json_real_or_null(st.min),
                     "max", h5s3_json_real_or_null(st.max),
                     "mean", h5s3_json_real_or_null(st.mean),
                     "std", h5s3_json_real_or_null(st.std),
                     "sample_size", (json_int_t)got,
                     "sampled", (hsize_t)got < d->nelem,
                     "method", "strided");
    if (*out == NULL) {
        rv = APR_ENOMEM;
    }

cleanup:
    free(v);
    return rv;
}
