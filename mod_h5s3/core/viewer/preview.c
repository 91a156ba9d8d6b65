/*
 * GET /files/{key}/preview (docs/viewer-api.md §1.7): a table, a plot
 * (line or strided heatmap), a row profile and sample statistics, each a
 * bounded strided read.  Unlike upstream, scalar datasets preview (as a
 * one-value table and line).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_conf_values.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_read.h"
#include "viewer/h5s3_h5_select.h"
#include "viewer/h5s3_h5_stats.h"
#include "viewer/h5s3_h5_values.h"
#include "viewer/h5s3_h5_view.h"
#include "json/h5s3_json.h"

apr_status_t h5s3_h5_preview_opts_parse(h5s3_h5_preview_opts *o,
                                        h5s3_result *res, apr_table_t *args,
                                        apr_pool_t *p)
{
    const char *mode = apr_table_get(args, "mode");
    const char *detail = apr_table_get(args, "detail");
    const char *stats = apr_table_get(args, "include_stats");
    const char *max = apr_table_get(args, "max_size");

    memset(o, 0, sizeof(*o));
    o->mode = "auto";
    if (mode) {
        char *m = apr_pstrdup(p, mode), *c;

        for (c = m; *c; c++) {
            *c = (char)apr_tolower(*c);
        }
        if (!strcmp(m, "line") || !strcmp(m, "table")
            || !strcmp(m, "heatmap")) {
            o->mode = m;
        }
    }
    o->detail = "full";
    if (detail && *(detail = h5s3_h5_arg_lower(detail, p))) {
        if (strcmp(detail, "fast") && strcmp(detail, "full")) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "Invalid detail parameter");
        }
        o->detail = detail;
    }
    o->include_stats = !strcmp(o->detail, "full");
    if (stats && *(stats = h5s3_h5_arg_lower(stats, p))
        && h5s3_conf_parse_bool(&o->include_stats, stats) != APR_SUCCESS) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Invalid include_stats parameter");
    }
    o->display_dims = apr_table_get(args, "display_dims");
    o->fixed_indices = apr_table_get(args, "fixed_indices");
    if (max && *max) {
        apr_int64_t v;

        if (h5s3_py_parse_int(&v, max) != APR_SUCCESS) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "Invalid max_size parameter");
        }
        if (v <= 0) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "max_size must be a positive integer");
        }
        o->max_size = v > H5S3_PREVIEW_MAX_HEATMAP ? H5S3_PREVIEW_MAX_HEATMAP
                                                   : (int)v;
    }
    return APR_SUCCESS;
}

static json_t *unsupported(const char *reason)
{
    return json_pack("{s:b, s:s}", "supported", 0, "reason", reason);
}

static json_t *index_list(hsize_t start, hsize_t step, hsize_t n)
{
    json_t *a = json_array();
    hsize_t i;

    for (i = 0; a && i < n; i++) {
        json_array_append_new(a, json_integer((json_int_t)(start + i * step)));
    }
    return a;
}

/* Read a plane window and wrap it as JSON [[...]]. */
static apr_status_t plane_json(json_t **out, const h5s3_h5_dset *d,
                               const h5s3_h5_sel *sel, hsize_t rstep,
                               hsize_t rcount, hsize_t cstep,
                               hsize_t ccount, apr_pool_t *p)
{
    void *buf = NULL;
    hsize_t dims[2] = {rcount, ccount};
    apr_status_t rv;

    rv = h5s3_h5_read_plane(&buf, d, sel, 0, rstep, rcount, 0, cstep,
                            ccount);
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_buf_json_raw(out, d, buf, 2, dims, p);
    }
    h5s3_h5_buf_free(d, buf, rcount * ccount);
    return rv;
}

/* A 1-D read of dim 0 (or the one value of a scalar). */
static apr_status_t line_json(json_t **out, const h5s3_h5_dset *d,
                              const hsize_t *pos, int vary, hsize_t step,
                              hsize_t count, apr_pool_t *p)
{
    void *buf = NULL;
    apr_status_t rv;

    if (d->ndim == 0) {
        if (count == 0) {
            *out = json_array();
            return APR_SUCCESS;
        }
        rv = h5s3_h5_read(&buf, d, NULL, NULL, NULL);
        if (rv == APR_SUCCESS) {
            json_t *v = NULL;
            rv = h5s3_h5_buf_json_raw(&v, d, buf, 0, NULL, p);
            *out = json_array();
            json_array_append_new(*out, v);
        }
        h5s3_h5_buf_free(d, buf, 1);
        return rv;
    }
    rv = h5s3_h5_read_line(&buf, d, pos, vary, 0, step, count);
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_buf_json_raw(out, d, buf, 1, &count, p);
    }
    h5s3_h5_buf_free(d, buf, count);
    return rv;
}

/* 1-D and scalar previews. */
static apr_status_t preview_1d(json_t *o, const h5s3_h5_dset *d,
                               const h5s3_h5_preview_opts *op, int fast,
                               apr_pool_t *p)
{
    hsize_t n = d->ndim == 0 ? d->nelem : d->shape[0], pos[1] = {0};
    hsize_t tn = n < H5S3_PREVIEW_TABLE_1D ? n : H5S3_PREVIEW_TABLE_1D;
    int want_table = !fast || !strcmp(op->mode, "table");
    int want_plot = !fast || !strcmp(op->mode, "line")
                    || !strcmp(op->mode, "heatmap");
    json_t *vals = NULL;
    apr_status_t rv;

    if (want_table) {
        rv = line_json(&vals, d, pos, 0, 1, tn, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        json_object_set_new(o, "table", json_pack(
            "{s:s, s:o, s:I, s:i, s:i}", "kind", "1d", "values", vals,
            "count", (json_int_t)tn, "start", 0, "step", 1));
    }
    if (want_plot) {
        hsize_t s = 1, k;

        if (!h5s3_h5_kind_numeric(d->kind)) {
            json_object_set_new(o, "plot", unsupported("non-numeric"));
            return APR_SUCCESS;
        }
        if (d->empty_space) {
            json_object_set_new(o, "plot", unsupported("empty"));
            return APR_SUCCESS;
        }
        if (n > H5S3_PREVIEW_LINE_POINTS) {
            s = h5s3_ceil_div(n, H5S3_PREVIEW_LINE_TARGET);
        }
        k = h5s3_ceil_div(n, s);
        if (k > H5S3_PREVIEW_LINE_POINTS) {
            k = H5S3_PREVIEW_LINE_POINTS;
        }
        rv = line_json(&vals, d, pos, 0, s, k, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        json_object_set_new(o, "plot", json_pack(
            "{s:s, s:o, s:o, s:I, s:i, s:I}", "type", "line",
            "x", index_list(0, s, k), "y", vals, "count", (json_int_t)k,
            "x_start", 0, "x_step", (json_int_t)s));
    }
    return APR_SUCCESS;
}

static apr_status_t preview_2d(json_t *o, const h5s3_h5_dset *d,
                               const h5s3_h5_sel *sel,
                               const h5s3_h5_preview_opts *op, int fast,
                               apr_pool_t *p)
{
    hsize_t rows = h5s3_h5_sel_rows(sel), cols = h5s3_h5_sel_cols(sel);
    int numeric = h5s3_h5_kind_numeric(d->kind);
    json_t *data = NULL;
    apr_status_t rv;

    if (!fast || !strcmp(op->mode, "table")) {
        hsize_t tr = rows < H5S3_PREVIEW_TABLE_2D ? rows
                                                  : H5S3_PREVIEW_TABLE_2D;
        hsize_t tc = cols < H5S3_PREVIEW_TABLE_2D ? cols
                                                  : H5S3_PREVIEW_TABLE_2D;

        rv = plane_json(&data, d, sel, 1, tr, 1, tc, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        json_object_set_new(o, "table", json_pack(
            "{s:s, s:o, s:[I,I], s:i, s:i, s:i, s:i}", "kind", "2d",
            "data", data, "shape", (json_int_t)tr, (json_int_t)tc,
            "row_start", 0, "col_start", 0, "row_step", 1, "col_step", 1));
    }
    if (!fast || !strcmp(op->mode, "heatmap")) {
        if (!numeric) {
            json_object_set_new(o, "plot", unsupported("non-numeric"));
        }
        else if (rows == 0 || cols == 0) {
            json_object_set_new(o, "plot", unsupported("empty"));
        }
        else {
            hsize_t S = op->max_size ? (hsize_t)op->max_size
                                     : H5S3_PREVIEW_MAX_HEATMAP;
            hsize_t tr = rows < S ? rows : S, tc = cols < S ? cols : S;
            hsize_t sr, sc, nr, nc;

            if (tr * tc > H5S3_PREVIEW_MAX_CELLS) {
                double scale = sqrt((double)(tr * tc)
                                    / H5S3_PREVIEW_MAX_CELLS);

                tr = (hsize_t)floor((double)tr / scale);
                tc = (hsize_t)floor((double)tc / scale);
                tr = tr ? tr : 1;
                tc = tc ? tc : 1;
            }
            sr = h5s3_ceil_div(rows, tr);
            sc = h5s3_ceil_div(cols, tc);
            nr = h5s3_ceil_div(rows, sr);
            nc = h5s3_ceil_div(cols, sc);
            rv = plane_json(&data, d, sel, sr, nr, sc, nc, p);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            json_object_set_new(o, "plot", json_pack(
                "{s:s, s:o, s:[I,I], s:i, s:i, s:I, s:I}", "type", "heatmap",
                "data", data, "shape", (json_int_t)nr, (json_int_t)nc,
                "row_start", 0, "col_start", 0, "row_step", (json_int_t)sr,
                "col_step", (json_int_t)sc));
        }
    }
    if ((!fast || !strcmp(op->mode, "line")) && numeric && rows > 0
        && cols > 0) {
        hsize_t pos[H5S3_H5_RANK_MAX];
        hsize_t s = h5s3_ceil_div(cols, H5S3_PREVIEW_LINE_TARGET);
        hsize_t k;
        int i;

        for (i = 0; i < d->ndim; i++) {
            pos[i] = sel->index[i];
        }
        pos[sel->row_dim] = rows / 2;
        s = s ? s : 1;
        k = h5s3_ceil_div(cols, s);
        rv = line_json(&data, d, pos, sel->col_dim, s, k, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        json_object_set_new(o, "profile", json_pack(
            "{s:s, s:I, s:o, s:o, s:I, s:i, s:I, s:i, s:i}", "type", "row",
            "index", (json_int_t)(rows / 2), "x", index_list(0, s, k),
            "y", data, "count", (json_int_t)k, "x_start", 0,
            "x_step", (json_int_t)s, "dim_row", sel->row_dim,
            "dim_col", sel->col_dim));
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_preview(json_t **out, h5s3_result *res, hid_t fid,
                             struct h5s3_h5_file *f, const char *path,
                             const h5s3_h5_preview_opts *op, apr_pool_t *p)
{
    h5s3_h5_dset *d;
    h5s3_h5_sel sel;
    json_t *o = NULL, *shape, *stats = NULL;
    int fast, i, heat = op->max_size ? op->max_size
                                     : H5S3_PREVIEW_MAX_HEATMAP;
    apr_status_t rv;

    *out = NULL;
    rv = h5s3_h5_dset_open(&d, res, fid, f, path, p);
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_dset_readable(d, res, p);
    }
    if (rv != APR_SUCCESS) {
        return h5s3_result_status(res, rv);
    }
    fast = !strcmp(op->detail, "fast") && strcmp(op->mode, "auto") != 0;
    h5s3_h5_select_lenient(&sel, d->ndim, d->shape, op->display_dims,
                           op->fixed_indices);
    shape = json_array();
    for (i = 0; i < d->ndim; i++) {
        json_array_append_new(shape, json_integer((json_int_t)d->shape[i]));
    }
    o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:i, s:s, s:n, "
                  "s:n, s:n}",
                  "dtype", d->dtype, "path", path, "mode", op->mode,
                  "shape", shape, "display_dims",
                  h5s3_h5_sel_dims_json(&sel), "detail", op->detail,
                  "fixed_indices", h5s3_h5_sel_fixed_json(&sel),
                  "ndim", d->ndim,
                  "preview_type", d->ndim == 1 ? "1d"
                                  : d->ndim == 2 ? "2d" : "nd",
                  "plot", "profile", "table");
    if (o == NULL) {
        return h5s3_result_status(res, APR_ENOMEM);
    }
    json_object_set_new(o, "limits", json_pack(
        "{s:i, s:i, s:i, s:i, s:i}", "max_elements", 250000,
        "max_heatmap_size", heat, "max_line_points",
        H5S3_PREVIEW_LINE_POINTS, "table_1d_max", H5S3_PREVIEW_TABLE_1D,
        "table_2d_max", H5S3_PREVIEW_TABLE_2D));
    if (d->ndim < 2) {
        rv = preview_1d(o, d, op, fast, p);
    }
    else {
        rv = preview_2d(o, d, &sel, op, fast, p);
    }
    if (rv == APR_SUCCESS) {
        if (!op->include_stats) {
            stats = unsupported("disabled");
        }
        else {
            rv = h5s3_h5_preview_stats(&stats, d, p);
        }
    }
    if (rv != APR_SUCCESS) {
        json_decref(o);
        if (rv == H5S3_E_TOOLARGE) {
            return h5s3_result_set(res, rv, "Selection too large to preview");
        }
        return h5s3_result_status(res, rv);
    }
    h5s3_json_reals_repr(stats, p);   /* repr(), not "%.17g" */
    json_object_set_new(o, "stats", stats);
    *out = o;
    return APR_SUCCESS;
}
