/*
 * GET /files/{key}/data (docs/viewer-api.md §1.8): matrix, heatmap and
 * line slices with the contract's strict validation, caps and fields.
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

char *h5s3_h5_arg_lower(const char *s, apr_pool_t *p)
{
    char *c, *e;

    while (apr_isspace(*s)) {
        s++;
    }
    c = apr_pstrdup(p, s);
    for (e = c; *e; e++) {
        *e = (char)apr_tolower(*e);
    }
    while (e > c && apr_isspace(e[-1])) {
        *--e = '\0';
    }
    return c;
}

apr_status_t h5s3_h5_arg_int(apr_int64_t *out, int *set, h5s3_result *res,
                             apr_table_t *args, const char *name,
                             apr_int64_t def, apr_int64_t min,
                             apr_pool_t *p)
{
    const char *s = apr_table_get(args, name);

    if (set) {
        *set = 0;
    }
    *out = def;
    if (s == NULL || *s == '\0') {
        return APR_SUCCESS;
    }
    if (h5s3_py_parse_int(out, s) != APR_SUCCESS) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "Invalid %s parameter",
                                  name);
    }
    if (*out < min) {
        return h5s3_result_printf(res, H5S3_E_INVALID,
                                  "%s must be >= %" APR_INT64_T_FMT, name,
                                  min);
    }
    if (set) {
        *set = 1;
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_data_mode(const char **mode, h5s3_result *res,
                               const char *raw, int required,
                               apr_pool_t *p)
{
    const char *m;

    if (required && (raw == NULL || *raw == '\0')) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Missing required parameter: mode");
    }
    m = h5s3_h5_arg_lower(raw ? raw : "", p);
    if (strcmp(m, "matrix") && strcmp(m, "heatmap") && strcmp(m, "line")) {
        return h5s3_result_set(res, H5S3_E_INVALID, "Invalid mode parameter");
    }
    *mode = m;
    return APR_SUCCESS;
}

static apr_status_t too_large(h5s3_result *res, hsize_t n)
{
    return h5s3_result_printf(res, H5S3_E_INVALID, "Selection too large for "
                              "JSON (%" APR_UINT64_T_FMT " > %d elements)",
                              (apr_uint64_t)n, H5S3_H5_JSON_MAX_ELEMENTS);
}

/* A failure ends the function, told in res (which is in scope). */
#define CHECK(expr) do { rv = (expr); if (rv != APR_SUCCESS) \
    return h5s3_result_status(res, rv); } while (0)

static apr_status_t plane(json_t **data, const h5s3_h5_dset *d,
                          const h5s3_h5_sel *sel, hsize_t r0, hsize_t rs,
                          hsize_t rn, hsize_t c0, hsize_t cs, hsize_t cn,
                          double *mn, double *mx, int want_minmax,
                          apr_pool_t *p)
{
    void *buf = NULL;
    hsize_t dims[2] = {rn, cn};
    apr_status_t rv;

    if (rn == 0 || cn == 0) {
        *data = json_array();
        return APR_SUCCESS;
    }
    rv = h5s3_h5_read_plane(&buf, d, sel, r0, rs, rn, c0, cs, cn);
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_buf_json_raw(data, d, buf, 2, dims, p);
    }
    if (rv == APR_SUCCESS && want_minmax) {
        double *v = malloc((size_t)(rn * cn) * sizeof(*v));
        h5s3_h5_stats st;

        if (v) {
            h5s3_h5_to_double(v, d, buf, rn * cn);
            h5s3_h5_stats_compute(&st, v, (apr_size_t)(rn * cn));
            *mn = st.min;
            *mx = st.max;
            free(v);
        }
    }
    h5s3_h5_buf_free(d, buf, rn * cn);
    return rv;
}

static apr_status_t data_matrix(json_t *o, h5s3_result *res,
                                const h5s3_h5_dset *d,
                                const h5s3_h5_sel *sel, apr_table_t *args,
                                apr_pool_t *p)
{
    apr_int64_t ro, co, rl, cl, rs, cs;
    hsize_t rows = h5s3_h5_sel_rows(sel), cols = h5s3_h5_sel_cols(sel);
    hsize_t orows, ocols;
    json_t *data = NULL;
    apr_status_t rv;

    CHECK(h5s3_h5_arg_int(&ro, NULL, res, args, "row_offset", 0, 0, p));
    CHECK(h5s3_h5_arg_int(&co, NULL, res, args, "col_offset", 0, 0, p));
    CHECK(h5s3_h5_arg_int(&rl, NULL, res, args, "row_limit", 100, 1, p));
    CHECK(h5s3_h5_arg_int(&cl, NULL, res, args, "col_limit", 100, 1, p));
    CHECK(h5s3_h5_arg_int(&rs, NULL, res, args, "row_step", 1, 1, p));
    CHECK(h5s3_h5_arg_int(&cs, NULL, res, args, "col_step", 1, 1, p));
    if ((hsize_t)ro > rows) {
        ro = (apr_int64_t)rows;
    }
    if ((hsize_t)co > cols) {
        co = (apr_int64_t)cols;
    }
    if ((hsize_t)rl > rows - (hsize_t)ro) {
        rl = (apr_int64_t)(rows - (hsize_t)ro);
    }
    if ((hsize_t)cl > cols - (hsize_t)co) {
        cl = (apr_int64_t)(cols - (hsize_t)co);
    }
    if (rl > H5S3_DATA_MATRIX_MAX || cl > H5S3_DATA_MATRIX_MAX) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Matrix limits exceed 2000x2000");
    }
    orows = h5s3_ceil_div((hsize_t)rl, (hsize_t)rs);
    ocols = h5s3_ceil_div((hsize_t)cl, (hsize_t)cs);
    if (orows * ocols > H5S3_H5_JSON_MAX_ELEMENTS) {
        return too_large(res, orows * ocols);
    }
    CHECK(plane(&data, d, sel, (hsize_t)ro, (hsize_t)rs, orows, (hsize_t)co,
                (hsize_t)cs, ocols, NULL, NULL, 0, p));
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "row_offset", json_integer(ro));
    json_object_set_new(o, "col_offset", json_integer(co));
    json_object_set_new(o, "shape", json_pack("[I,I]", (json_int_t)orows,
                                              (json_int_t)ocols));
    json_object_set_new(o, "downsample_info", json_pack(
        "{s:I, s:I}", "row_step", (json_int_t)rs, "col_step",
        (json_int_t)cs));
    return APR_SUCCESS;
}

static apr_status_t data_heatmap(json_t *o, h5s3_result *res,
                                 const h5s3_h5_dset *d,
                                 const h5s3_h5_sel *sel, apr_table_t *args,
                                 apr_pool_t *p)
{
    apr_int64_t max;
    hsize_t rows = h5s3_h5_sel_rows(sel), cols = h5s3_h5_sel_cols(sel);
    hsize_t s, lo, hi, sr = 1, sc = 1, nr = 0, nc = 0;
    int include = 1;
    const char *inc = apr_table_get(args, "include_stats");
    double mn = NAN, mx = NAN;
    json_t *data = NULL, *stats;
    apr_status_t rv;

    CHECK(h5s3_h5_arg_int(&max, NULL, res, args, "max_size", 512, 1, p));
    if (max > H5S3_DATA_HEATMAP_MAX) {
        return h5s3_result_set(res, H5S3_E_INVALID, "max_size exceeds 1024");
    }
    if (inc && *inc
        && h5s3_conf_parse_bool(&include, h5s3_h5_arg_lower(inc, p))
           != APR_SUCCESS) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Invalid include_stats parameter");
    }
    /* The largest s <= max with min(rows,s)*min(cols,s) <= 500000. */
    lo = 1;
    hi = (hsize_t)max;
    s = 1;
    while (lo <= hi) {
        hsize_t mid = (lo + hi) / 2;
        hsize_t a = rows < mid ? rows : mid, b = cols < mid ? cols : mid;

        if (a * b <= H5S3_H5_JSON_MAX_ELEMENTS) {
            s = mid;
            lo = mid + 1;
        }
        else {
            hi = mid - 1;
        }
    }
    if (rows > 0 && cols > 0) {
        sr = h5s3_ceil_div(rows, rows < s ? rows : s);
        sc = h5s3_ceil_div(cols, cols < s ? cols : s);
        nr = h5s3_ceil_div(rows, sr);
        nc = h5s3_ceil_div(cols, sc);
    }
    CHECK(plane(&data, d, sel, 0, sr, nr, 0, sc, nc, &mn, &mx,
                include && d->kind != H5S3_H5_KIND_COMPLEX
                && h5s3_h5_kind_numeric(d->kind), p));
    if (!include || !h5s3_h5_kind_numeric(d->kind) || nr * nc == 0) {
        stats = json_null();
    }
    else {
        stats = json_pack("{s:o, s:o}", "min", h5s3_json_real_repr(mn, p),
                          "max", h5s3_json_real_repr(mx, p));
    }
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "stats", stats);
    json_object_set_new(o, "row_offset", json_integer(0));
    json_object_set_new(o, "col_offset", json_integer(0));
    json_object_set_new(o, "shape", json_pack("[I,I]", (json_int_t)nr,
                                              (json_int_t)nc));
    json_object_set_new(o, "downsample_info", json_pack(
        "{s:I, s:I}", "row_step", (json_int_t)sr, "col_step",
        (json_int_t)sc));
    json_object_set_new(o, "sampled", json_boolean(sr > 1 || sc > 1));
    json_object_set_new(o, "requested_max_size", json_integer(max));
    json_object_set_new(o, "effective_max_size", json_integer((json_int_t)s));
    json_object_set_new(o, "max_size_clamped",
                        json_boolean((apr_int64_t)s != max));
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_line_plan(h5s3_h5_line_plan_t *lp, h5s3_result *res,
                               const h5s3_h5_dset *d,
                               const h5s3_h5_sel *sel, apr_table_t *args,
                               apr_pool_t *p)
{
    const char *ld = apr_table_get(args, "line_dim");
    apr_int64_t li, dim = -1;
    int li_set, k, mode = 0;    /* 0 row, 1 col, 2 int */
    apr_status_t rv;

    memset(lp, 0, sizeof(*lp));
    lp->index = -1;
    if (ld && *ld) {
        const char *l = h5s3_h5_arg_lower(ld, p);

        if (!strcmp(l, "row")) {
            mode = 0;
        }
        else if (!strcmp(l, "col")) {
            mode = 1;
        }
        else if (h5s3_py_parse_int(&dim, l) == APR_SUCCESS) {
            mode = 2;
            if (dim < 0) {
                dim += d->ndim;
            }
            if (dim < 0 || dim >= d->ndim) {
                return h5s3_result_set(res, H5S3_E_INVALID,
                                       "line_dim out of range");
            }
        }
        else {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "Invalid line_dim parameter");
        }
    }
    CHECK(h5s3_h5_arg_int(&li, &li_set, res, args, "line_index", 0, 0, p));
    if (d->ndim == 0) {
        return h5s3_result_set(res, H5S3_E_INVALID, "Line mode requires a "
                               "dataset with at least 1 dimension");
    }
    for (k = 0; k < d->ndim; k++) {
        lp->pos[k] = sel->given[k] || (k != sel->row_dim && k != sel->col_dim)
                         ? sel->index[k] : d->shape[k] / 2;
    }
    if (d->ndim == 1) {
        lp->vary = 0;
        lp->axis = "dim";
    }
    else if (mode == 2) {
        lp->vary = (int)dim;
        lp->axis = "dim";
    }
    else {
        int fixed = mode == 0 ? sel->row_dim : sel->col_dim;
        hsize_t size = d->shape[fixed];

        lp->vary = mode == 0 ? sel->col_dim : sel->row_dim;
        lp->axis = mode == 0 ? "row" : "col";
        if (!li_set) {
            li = (apr_int64_t)(size / 2);
        }
        else if ((hsize_t)li >= size) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "line_index out of range");
        }
        lp->pos[fixed] = (hsize_t)li;
        lp->index = li;
    }
    lp->length = d->shape[lp->vary];
    return APR_SUCCESS;
}

static apr_status_t data_line(json_t *o, h5s3_result *res,
                              const h5s3_h5_dset *d, const h5s3_h5_sel *sel,
                              apr_table_t *args, apr_pool_t *p)
{
    h5s3_h5_line_plan_t lp;
    apr_int64_t off, lim, maxp;
    int lim_set;
    hsize_t limit, step = 1, n;
    const char *qs = apr_table_get(args, "quality"), *quality = "auto";
    const char *applied;
    void *buf = NULL;
    json_t *data = NULL;
    apr_status_t rv;

    if (qs && *qs) {
        quality = h5s3_h5_arg_lower(qs, p);
        if (strcmp(quality, "auto") && strcmp(quality, "overview")
            && strcmp(quality, "exact")) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "Invalid quality parameter");
        }
    }
    CHECK(h5s3_h5_line_plan(&lp, res, d, sel, args, p));
    CHECK(h5s3_h5_arg_int(&off, NULL, res, args, "line_offset", 0, 0, p));
    CHECK(h5s3_h5_arg_int(&lim, &lim_set, res, args, "line_limit", 0, 1, p));
    CHECK(h5s3_h5_arg_int(&maxp, NULL, res, args, "max_points",
                          H5S3_DATA_LINE_POINTS, 1, p));
    if (maxp > H5S3_DATA_LINE_POINTS) {
        maxp = H5S3_DATA_LINE_POINTS;
    }
    limit = (hsize_t)off < lp.length ? lp.length - (hsize_t)off : 0;
    if (lim_set && (hsize_t)lim < limit) {
        limit = (hsize_t)lim;
    }
    if (!strcmp(quality, "exact") && limit > H5S3_DATA_EXACT_MAX) {
        return h5s3_result_set(res, H5S3_E_INVALID, "Exact line window "
                               "exceeds 20000 points. Reduce line_limit/zoom "
                               "window or use quality=overview.");
    }
    applied = !strcmp(quality, "auto")
                  ? (limit <= H5S3_DATA_EXACT_MAX ? "exact" : "overview")
                  : quality;
    if (!strcmp(applied, "overview")) {
        step = h5s3_ceil_div(limit, (hsize_t)maxp);
        step = step ? step : 1;
    }
    n = h5s3_ceil_div(limit, step);
    if (n > H5S3_H5_JSON_MAX_ELEMENTS) {
        return too_large(res, n);
    }
    if (n > 0) {
        CHECK(h5s3_h5_read_line(&buf, d, lp.pos, lp.vary, (hsize_t)off, step,
                                n));
        rv = h5s3_h5_buf_json_raw(&data, d, buf, 1, &n, p);
        h5s3_h5_buf_free(d, buf, n);
        if (rv != APR_SUCCESS) {
            return h5s3_result_status(res, rv);
        }
    }
    else {
        data = json_array();
    }
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "axis", json_string(lp.axis));
    json_object_set_new(o, "index", lp.index < 0 ? json_null()
                                                 : json_integer(lp.index));
    json_object_set_new(o, "quality_requested", json_string(quality));
    json_object_set_new(o, "quality_applied", json_string(applied));
    json_object_set_new(o, "line_offset", json_integer(off));
    json_object_set_new(o, "line_limit", json_integer((json_int_t)limit));
    json_object_set_new(o, "requested_points",
                        json_integer((json_int_t)limit));
    json_object_set_new(o, "returned_points", json_integer((json_int_t)n));
    json_object_set_new(o, "line_step", json_integer((json_int_t)step));
    json_object_set_new(o, "shape", json_pack("[I]", (json_int_t)n));
    json_object_set_new(o, "downsample_info",
                        json_pack("{s:I}", "step", (json_int_t)step));
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_data(json_t **out, h5s3_result *res, hid_t fid,
                          struct h5s3_h5_file *f, const char *path,
                          const char *mode, apr_table_t *args,
                          apr_pool_t *p)
{
    h5s3_h5_dset *d;
    h5s3_h5_sel sel;
    json_t *o, *shape;
    apr_status_t rv;
    int i;

    *out = NULL;
    rv = h5s3_h5_dset_open(&d, res, fid, f, path, p);
    if (rv != APR_SUCCESS) {
        return h5s3_result_status(res, rv);
    }
    rv = h5s3_h5_select_strict(&sel, res, d->ndim, d->shape,
                               apr_table_get(args, "display_dims"),
                               apr_table_get(args, "fixed_indices"), p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(mode, "line") && d->ndim < 2) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Mode requires a 2D or higher dataset");
    }
    rv = h5s3_h5_dset_readable(d, res, p);
    if (rv != APR_SUCCESS) {
        return h5s3_result_status(res, rv);
    }
    shape = json_array();
    for (i = 0; i < d->ndim; i++) {
        json_array_append_new(shape, json_integer((json_int_t)d->shape[i]));
    }
    o = json_pack("{s:s, s:s, s:s, s:o, s:i, s:o, s:o}", "dtype", d->dtype,
                  "mode", mode, "path", path, "display_dims",
                  h5s3_h5_sel_dims_json(&sel), "source_ndim", d->ndim,
                  "source_shape", shape, "fixed_indices",
                  h5s3_h5_sel_fixed_json(&sel));
    if (o == NULL) {
        return h5s3_result_status(res, APR_ENOMEM);
    }
    if (!strcmp(mode, "matrix")) {
        rv = data_matrix(o, res, d, &sel, args, p);
    }
    else if (!strcmp(mode, "heatmap")) {
        rv = data_heatmap(o, res, d, &sel, args, p);
    }
    else {
        rv = data_line(o, res, d, &sel, args, p);
    }
    if (rv != APR_SUCCESS) {
        json_decref(o);
        if (rv == H5S3_E_TOOLARGE) {
            h5s3_result_set(res, rv, "Selection too large to read at once");
        }
        return rv;
    }
    *out = o;
    return APR_SUCCESS;
}
