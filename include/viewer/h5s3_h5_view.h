/*
 * The cores of GET /files/{key}/preview and GET /files/{key}/data
 * (docs/viewer-api.md §1.7, §1.8): query arguments in, the payload JSON
 * out (without key, cached, cache_version and success, which the glue
 * adds).  Validation failures are H5S3_E_INVALID, res's detail the
 * contract's exact text; unservable data is H5S3_E_UNSUPPORTED (the
 * detail says why); a missing path H5S3_E_NOPATH.
 */
#ifndef H5S3_H5_VIEW_H
#define H5S3_H5_VIEW_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <hdf5.h>
#include <jansson.h>

#include "base/h5s3_result.h"
#include "hdf5/h5s3_h5_read.h"

struct h5s3_h5_file;

#define H5S3_PREVIEW_MAX_HEATMAP 512
#define H5S3_PREVIEW_MAX_CELLS   200000
#define H5S3_PREVIEW_TABLE_1D    1000
#define H5S3_PREVIEW_TABLE_2D    200
#define H5S3_PREVIEW_LINE_POINTS 5000
#define H5S3_PREVIEW_LINE_TARGET 3000
#define H5S3_DATA_MATRIX_MAX     2000
#define H5S3_DATA_HEATMAP_MAX    1024
#define H5S3_DATA_LINE_POINTS    5000
#define H5S3_DATA_EXACT_MAX      20000

typedef struct h5s3_h5_preview_opts {
    const char *mode;           /* auto|line|table|heatmap */
    const char *detail;         /* fast|full */
    int include_stats;
    int max_size;               /* 0: default */
    const char *display_dims;   /* raw, may be NULL */
    const char *fixed_indices;
} h5s3_h5_preview_opts;

/* Validate the preview arguments (path excluded) in the contract's order. */
apr_status_t h5s3_h5_preview_opts_parse(h5s3_h5_preview_opts *o,
                                        h5s3_result *res, apr_table_t *args,
                                        apr_pool_t *p);

apr_status_t h5s3_h5_preview(json_t **out, h5s3_result *res, hid_t fid,
                             struct h5s3_h5_file *f, const char *path,
                             const h5s3_h5_preview_opts *o, apr_pool_t *p);

/* The /data mode: "Missing required parameter: mode" or "Invalid mode
 * parameter" (the latter also for /export/csv, where REQUIRED is 0). */
apr_status_t h5s3_h5_data_mode(const char **mode, h5s3_result *res,
                               const char *raw, int required,
                               apr_pool_t *p);

apr_status_t h5s3_h5_data(json_t **out, h5s3_result *res, hid_t fid,
                          struct h5s3_h5_file *f, const char *path,
                          const char *mode, apr_table_t *args,
                          apr_pool_t *p);

/* An argument's text as the upstream compares it: surrounding white
 * space dropped, lower case (Python's s.strip().lower()), in P. */
char *h5s3_h5_arg_lower(const char *s, apr_pool_t *p);

/* Shared by /data and /export/csv: an integer argument with a default
 * and a minimum ("Invalid <name> parameter", "<name> must be >= <min>").
 * *set tells whether it was given (may be NULL). */
apr_status_t h5s3_h5_arg_int(apr_int64_t *out, int *set, h5s3_result *res,
                             apr_table_t *args, const char *name,
                             apr_int64_t def, apr_int64_t min,
                             apr_pool_t *p);

/* Which dim a line varies along and where every other dim stands, from
 * line_dim and line_index (docs/viewer-api.md §1.8.5; shared with the CSV export). */
typedef struct h5s3_h5_line_plan_t {
    int vary;
    hsize_t pos[H5S3_H5_RANK_MAX];
    hsize_t length;             /* size of the varying dim */
    const char *axis;           /* "dim", "row" or "col" */
    apr_int64_t index;          /* line_index, -1 for null */
} h5s3_h5_line_plan_t;

apr_status_t h5s3_h5_line_plan(h5s3_h5_line_plan_t *lp, h5s3_result *res,
                               const h5s3_h5_dset *d,
                               const h5s3_h5_sel *sel, apr_table_t *args,
                               apr_pool_t *p);

#endif
