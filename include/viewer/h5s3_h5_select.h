/*
 * Which plane of an N-d dataset a viewer request shows: display_dims
 * (the row and column dims) and fixed_indices (the index of every other
 * dim), parsed the lenient way of /preview or the strict way of /data
 * and /export/csv (docs/viewer-api.md §1.7, §1.8.2).  Pure functions.
 */
#ifndef H5S3_H5_SELECT_H
#define H5S3_H5_SELECT_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>

#include "base/h5s3_result.h"
#include "hdf5/h5s3_h5_read.h"
#include "json/h5s3_text.h"

/* /preview: never fails; bad parts are dropped, indices clamped. */
void h5s3_h5_select_lenient(h5s3_h5_sel *sel, int ndim,
                            const hsize_t *shape, const char *display_dims,
                            const char *fixed_indices);

/* /data and /export/csv: H5S3_E_INVALID, res's detail the contract's
 * message ("display_dims out of range", ...). */
apr_status_t h5s3_h5_select_strict(h5s3_h5_sel *sel, h5s3_result *res,
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
