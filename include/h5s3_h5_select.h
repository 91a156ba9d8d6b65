/*
 * Which plane of an N-d dataset a viewer request shows: display_dims
 * (the row and column dims) and fixed_indices (the index of every other
 * dim), parsed the lenient way of /preview or the strict way of /data
 * and /export/csv (hdf-viewer-api.md §1.7, §1.8 step 6).  Pure functions.
 */
#ifndef H5S3_H5_SELECT_H
#define H5S3_H5_SELECT_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>

#define H5S3_H5_RANK_MAX 32     /* H5S_MAX_RANK */

typedef struct h5s3_h5_sel {
    int ndim;
    hsize_t shape[H5S3_H5_RANK_MAX];
    int row_dim;                /* display_dims[0]; -1 when ndim < 2 */
    int col_dim;                /* display_dims[1] */
    hsize_t index[H5S3_H5_RANK_MAX];  /* fixed index of non-display dims */
    int given[H5S3_H5_RANK_MAX];      /* index came from fixed_indices */
} h5s3_h5_sel;

/* Python int(s): surrounding whitespace, an optional sign, decimal digits
 * (single underscores between digits).  H5S3_E_INVALID otherwise or on
 * overflow. */
apr_status_t h5s3_h5_parse_int(apr_int64_t *out, const char *s);

/* /preview: never fails; bad parts are dropped, indices clamped. */
void h5s3_h5_select_lenient(h5s3_h5_sel *sel, int ndim,
                            const hsize_t *shape, const char *display_dims,
                            const char *fixed_indices);

/* /data and /export/csv: H5S3_E_INVALID with *err set to the contract's
 * message ("display_dims out of range", ...). */
apr_status_t h5s3_h5_select_strict(h5s3_h5_sel *sel, const char **err,
                                   int ndim, const hsize_t *shape,
                                   const char *display_dims,
                                   const char *fixed_indices,
                                   apr_pool_t *p);

/* Rows and columns of the selected plane (0 when ndim < 2). */
hsize_t h5s3_h5_sel_rows(const h5s3_h5_sel *sel);
hsize_t h5s3_h5_sel_cols(const h5s3_h5_sel *sel);

/* {"<dim>": index} for every non-display dim; [r, c] or null. */
json_t *h5s3_h5_sel_fixed_json(const h5s3_h5_sel *sel);
json_t *h5s3_h5_sel_dims_json(const h5s3_h5_sel *sel);

#endif
