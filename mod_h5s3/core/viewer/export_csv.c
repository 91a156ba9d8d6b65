/*
 * GET /files/{key}/export/csv (docs/viewer-api.md §1.9): everything is validated before the
 * first byte; then the window is read in strips of chunk_rows rows (fewer
 * when rows are wide: memory stays under H5S3_CSV_BUDGET_BYTES whatever
 * the window) and written as it is formatted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "viewer/h5s3_csv.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_read.h"
#include "viewer/h5s3_h5_select.h"
#include "viewer/h5s3_h5_values.h"
#include "viewer/h5s3_h5_view.h"

struct h5s3_h5_csv {
    apr_pool_t *p;
    const char *name;
    int line;
    h5s3_h5_dset *d;
    h5s3_h5_sel sel;
    /* matrix / heatmap */
    hsize_t r0, c0, nr, nc, chunk_rows;
    /* line */
    h5s3_h5_line_plan_t lp;
    hsize_t off, n, chunk_points;
    h5s3_h5_dset *cmp[H5S3_CSV_MAX_COMPARE];
    const char *cmp_label[H5S3_CSV_MAX_COMPARE];
    int ncmp;
};

/* A failure ends the function, told in res (which is in scope). */
#define CHECK(expr) do { rv = (expr); if (rv != APR_SUCCESS) \
    return h5s3_result_status(res, rv); } while (0)

const char *h5s3_h5_csv_name(const h5s3_h5_csv *c)
{
    return c->name;
}

static int csv_numeric(const h5s3_h5_dset *d)
{
    /* Upstream: dtype string has float/int/uint/bool and not complex. */
    return d->kind == H5S3_H5_KIND_NUMERIC || d->kind == H5S3_H5_KIND_BOOL;
}

static apr_status_t prepare_compare(h5s3_h5_csv *c, h5s3_result *res,
                                    hid_t fid, struct h5s3_h5_file *f,
                                    const char *path, const char *list)
{
    apr_pool_t *p = c->p;
    char *copy = apr_pstrdup(p, list), *tok, *last;
    const char *paths[64];
    const char *base = path[0] == '/' ? path
                                      : apr_pstrcat(p, "/", path, NULL);
    int n = 0, i, k;
    apr_status_t rv;

    for (tok = apr_strtok(copy, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        char *e;
        const char *q;
        int dup = 0;

        while (apr_isspace(*tok)) {
            tok++;
        }
        e = tok + strlen(tok);
        while (e > tok && apr_isspace(e[-1])) {
            *--e = '\0';
        }
        if (!*tok) {
            continue;
        }
        q = *tok == '/' ? tok : apr_pstrcat(p, "/", tok, NULL);
        if (!strcmp(q, base)) {
            continue;
        }
        for (k = 0; k < n; k++) {
            dup |= !strcmp(paths[k], q);
        }
        if (dup) {
            continue;
        }
        if (n == H5S3_CSV_MAX_COMPARE) {
            return h5s3_result_set(res, H5S3_E_INVALID, "Up to 4 "
                                   "compare_paths are supported per line "
                                   "export.");
        }
        paths[n++] = q;
    }
    for (i = 0; i < n; i++) {
        h5s3_h5_dset *d;
        const char *slash = strrchr(paths[i], '/');

        rv = h5s3_h5_dset_open(&d, res, fid, f, paths[i], p);
        if (rv == H5S3_E_NOPATH) {
            return h5s3_result_printf(res, rv, "Compare dataset '%s' not "
                                      "found", paths[i]);
        }
        if (rv != APR_SUCCESS) {
            return h5s3_result_status(res, rv);
        }
        if (d->ndim != c->d->ndim
            || memcmp(d->shape, c->d->shape,
                      (size_t)d->ndim * sizeof(hsize_t))) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Compare dataset "
                                      "'%s' shape does not match base "
                                      "dataset.", paths[i]);
        }
        if (!csv_numeric(d)) {
            return h5s3_result_printf(res, H5S3_E_INVALID,
                                      "Compare dataset '%s' is not numeric.",
                                      paths[i]);
        }
        CHECK(h5s3_h5_dset_readable(d, res, p));
        c->cmp[i] = d;
        c->cmp_label[i] = slash && slash[1] ? slash + 1 : paths[i];
    }
    c->ncmp = n;
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_csv_prepare(h5s3_h5_csv **out, h5s3_result *res,
                                 hid_t fid, struct h5s3_h5_file *f,
                                 const char *key, const char *path,
                                 const char *mode, apr_table_t *args,
                                 apr_pool_t *p)
{
    h5s3_h5_csv *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;
    apr_int64_t v;
    int set;

    *out = NULL;
    c->p = p;
    c->line = !strcmp(mode, "line");
    c->name = h5s3_csv_filename(key, path, mode, p);
    CHECK(h5s3_h5_dset_open(&c->d, res, fid, f, path, p));
    CHECK(h5s3_h5_select_strict(&c->sel, res, c->d->ndim, c->d->shape,
                                apr_table_get(args, "display_dims"),
                                apr_table_get(args, "fixed_indices"), p));
    if (!c->line && c->d->ndim < 2) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Mode requires a 2D or higher dataset");
    }
    if (c->line && !csv_numeric(c->d)) {
        return h5s3_result_set(res, H5S3_E_INVALID, "Line CSV export requires "
                               "numeric dataset dtype.");
    }
    CHECK(h5s3_h5_dset_readable(c->d, res, p));

    if (!c->line) {
        hsize_t rows = h5s3_h5_sel_rows(&c->sel);
        hsize_t cols = h5s3_h5_sel_cols(&c->sel);
        apr_int64_t ro, co, rl, cl;
        int rl_set, cl_set;
        double cells;

        CHECK(h5s3_h5_arg_int(&ro, NULL, res, args, "row_offset", 0, 0, p));
        CHECK(h5s3_h5_arg_int(&co, NULL, res, args, "col_offset", 0, 0, p));
        CHECK(h5s3_h5_arg_int(&rl, &rl_set, res, args, "row_limit", 0, 1,
                              p));
        CHECK(h5s3_h5_arg_int(&cl, &cl_set, res, args, "col_limit", 0, 1,
                              p));
        CHECK(h5s3_h5_arg_int(&v, NULL, res, args, "chunk_rows", 256, 1, p));
        c->chunk_rows = (hsize_t)v;
        CHECK(h5s3_h5_arg_int(&v, NULL, res, args, "chunk_cols", 256, 1, p));
        c->r0 = (hsize_t)ro;
        c->c0 = (hsize_t)co;
        c->nr = c->r0 < rows ? rows - c->r0 : 0;
        c->nc = c->c0 < cols ? cols - c->c0 : 0;
        if (rl_set && (hsize_t)rl < c->nr) {
            c->nr = (hsize_t)rl;
        }
        if (cl_set && (hsize_t)cl < c->nc) {
            c->nc = (hsize_t)cl;
        }
        cells = (double)c->nr * (double)c->nc;
        if (cells == 0) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "Requested export window is empty.");
        }
        if (cells > H5S3_CSV_MAX_CELLS) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "CSV export "
                                      "exceeds limit (%.0f > %d cells).",
                                      cells, H5S3_CSV_MAX_CELLS);
        }
    }
    else {
        apr_int64_t off, lim;
        const char *cmp = apr_table_get(args, "compare_paths");

        CHECK(h5s3_h5_line_plan(&c->lp, res, c->d, &c->sel, args, p));
        CHECK(h5s3_h5_arg_int(&off, NULL, res, args, "line_offset", 0, 0, p));
        CHECK(h5s3_h5_arg_int(&lim, &set, res, args, "line_limit", 0, 1, p));
        CHECK(h5s3_h5_arg_int(&v, NULL, res, args, "chunk_points", 50000, 1,
                              p));
        c->chunk_points = (hsize_t)v;
        if (cmp && *cmp) {
            CHECK(prepare_compare(c, res, fid, f, path, cmp));
        }
        c->off = (hsize_t)off;
        c->n = c->off < c->lp.length ? c->lp.length - c->off : 0;
        if (set && (hsize_t)lim < c->n) {
            c->n = (hsize_t)lim;
        }
        if (c->n == 0) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "Requested export window is empty.");
        }
        if (c->n > H5S3_CSV_MAX_POINTS) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Line CSV export "
                                      "exceeds limit (%" APR_UINT64_T_FMT " > "
                                      "%d points).", (apr_uint64_t)c->n,
                                      H5S3_CSV_MAX_POINTS);
        }
    }
    *out = c;
    return APR_SUCCESS;
}

/* ---- formatting --------------------------------------------------------- */

/* Python repr() of a JSON scalar inside a list (strings quoted). */
static void py_repr(h5s3_csv_out *o, json_t *j, int top);

static void py_str_json(h5s3_csv_out *tmp, json_t *j)
{
    py_repr(tmp, j, 1);
}

static void py_repr(h5s3_csv_out *o, json_t *j, int top)
{
    char buf[64];
    apr_size_t n;

    switch (json_typeof(j)) {
    case JSON_NULL:
        if (!top) {
            h5s3_csv_put(o, "None", 4);
        }
        break;
    case JSON_TRUE:
        h5s3_csv_put(o, "True", 4);
        break;
    case JSON_FALSE:
        h5s3_csv_put(o, "False", 5);
        break;
    case JSON_INTEGER:
        n = (apr_size_t)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(j));
        h5s3_csv_put(o, buf, n);
        break;
    case JSON_REAL:
        n = h5s3_csv_float(buf, json_real_value(j));
        h5s3_csv_put(o, buf, n);
        break;
    case JSON_STRING: {
        const char *s = json_string_value(j);
        apr_size_t len = json_string_length(j), i;

        if (top) {
            h5s3_csv_put(o, s, len);
            break;
        }
        h5s3_csv_put(o, "'", 1);
        for (i = 0; i < len; i++) {
            if (s[i] == '\'' || s[i] == '\\') {
                h5s3_csv_put(o, "\\", 1);
            }
            h5s3_csv_put(o, s + i, 1);
        }
        h5s3_csv_put(o, "'", 1);
        break;
    }
    case JSON_ARRAY: {
        size_t i;

        h5s3_csv_put(o, "[", 1);
        for (i = 0; i < json_array_size(j); i++) {
            if (i) {
                h5s3_csv_put(o, ", ", 2);
            }
            py_repr(o, json_array_get(j, i), 0);
        }
        h5s3_csv_put(o, "]", 1);
        break;
    }
    default:
        break;
    }
}

typedef struct textbuf {
    char *iov_base;
    size_t iov_len;
} textbuf;

static apr_status_t collect(void *baton, const char *buf, apr_size_t len)
{
    textbuf *v = baton;
    char *n = realloc(v->iov_base, v->iov_len + len);

    if (!n) {
        return APR_ENOMEM;
    }
    memcpy(n + v->iov_len, buf, len);
    v->iov_base = n;
    v->iov_len += len;
    return APR_SUCCESS;
}

/* One value of D at PTR as a cell. */
static void put_value(h5s3_csv_out *o, const h5s3_h5_dset *d,
                      const unsigned char *ptr, apr_pool_t *scratch)
{
    char buf[64];
    apr_size_t n;
    H5T_class_t cls = H5Tget_class(d->mtype);

    if (cls == H5T_INTEGER || cls == H5T_FLOAT
        || d->kind == H5S3_H5_KIND_BOOL) {
        double v;

        if (cls == H5T_INTEGER && H5Tget_sign(d->mtype) == H5T_SGN_NONE
            && d->msize == 8) {
            unsigned long long u;
            memcpy(&u, ptr, 8);
            n = (apr_size_t)snprintf(buf, sizeof(buf), "%llu", u);
        }
        else if (cls == H5T_INTEGER && d->msize == 8) {
            long long s;
            memcpy(&s, ptr, 8);
            n = (apr_size_t)snprintf(buf, sizeof(buf), "%lld", s);
        }
        else {
            h5s3_h5_to_double(&v, d, ptr, 1);
            if (d->kind == H5S3_H5_KIND_BOOL) {
                h5s3_csv_put(o, v != 0 ? "True" : "False", v != 0 ? 4 : 5);
                return;
            }
            if (cls == H5T_INTEGER) {
                n = (apr_size_t)snprintf(buf, sizeof(buf), "%.0f", v);
            }
            else if (!isfinite(v)) {
                return;         /* null: an empty cell */
            }
            else {
                n = h5s3_csv_float(buf, v);
            }
        }
        h5s3_csv_put(o, buf, n);
        return;
    }
    {
        json_t *j = NULL;
        textbuf text = {NULL, 0};
        h5s3_csv_out tmp;

        if (h5s3_h5_values_json(&j, d->did, d->mtype, ptr, 0, NULL, scratch)
                != APR_SUCCESS || j == NULL) {
            return;
        }
        if (h5s3_csv_out_init(&tmp, collect, &text) == APR_SUCCESS) {
            py_str_json(&tmp, j);
            h5s3_csv_flush(&tmp);
            h5s3_csv_out_free(&tmp);
            if (text.iov_len) {
                h5s3_csv_cell(o, text.iov_base, text.iov_len);
            }
            free(text.iov_base);
        }
        json_decref(j);
    }
}

static void put_index(h5s3_csv_out *o, hsize_t i)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" APR_UINT64_T_FMT,
                     (apr_uint64_t)i);

    h5s3_csv_put(o, buf, (apr_size_t)n);
}

/* ---- streaming ---------------------------------------------------------- */

static apr_status_t stream_matrix(h5s3_h5_csv *c, h5s3_csv_out *o,
                                  apr_pool_t *scratch)
{
    const h5s3_h5_dset *d = c->d;
    hsize_t budget = H5S3_CSV_BUDGET_BYTES / (d->msize ? d->msize : 1);
    hsize_t h, w, r, j, i, cb;
    apr_status_t rv = APR_SUCCESS;

    budget = budget ? budget : 1;
    h5s3_csv_put(o, "row\\col", 7);
    for (j = 0; j < c->nc; j++) {
        h5s3_csv_put(o, ",", 1);
        put_index(o, c->c0 + j);
    }
    h5s3_csv_put(o, "\r\n", 2);
    /* Strips of chunk_rows rows, fewer if the rows are wide; a row wider
     * than the budget is read in column blocks. */
    h = c->chunk_rows < c->nr ? c->chunk_rows : c->nr;
    if (h * c->nc > budget) {
        h = budget / c->nc ? budget / c->nc : 1;
    }
    w = c->nc < budget ? c->nc : budget;
    for (r = 0; r < c->nr && rv == APR_SUCCESS; r += h) {
        hsize_t hh = c->nr - r < h ? c->nr - r : h;

        if (w == c->nc) {
            unsigned char *buf = NULL;

            rv = h5s3_h5_read_plane((void **)&buf, d, &c->sel, c->r0 + r, 1,
                                    hh, c->c0, 1, c->nc);
            if (rv != APR_SUCCESS) {
                break;
            }
            for (i = 0; i < hh; i++) {
                put_index(o, c->r0 + r + i);
                for (j = 0; j < c->nc; j++) {
                    h5s3_csv_put(o, ",", 1);
                    put_value(o, d, buf + (i * c->nc + j) * d->msize,
                              scratch);
                }
                h5s3_csv_put(o, "\r\n", 2);
            }
            h5s3_h5_buf_free(d, buf, hh * c->nc);
        }
        else {
            /* hh == 1 here */
            put_index(o, c->r0 + r);
            for (cb = 0; cb < c->nc && rv == APR_SUCCESS; cb += w) {
                hsize_t ww = c->nc - cb < w ? c->nc - cb : w;
                unsigned char *buf = NULL;

                rv = h5s3_h5_read_plane((void **)&buf, d, &c->sel,
                                        c->r0 + r, 1, 1, c->c0 + cb, 1, ww);
                if (rv != APR_SUCCESS) {
                    break;
                }
                for (j = 0; j < ww; j++) {
                    h5s3_csv_put(o, ",", 1);
                    put_value(o, d, buf + j * d->msize, scratch);
                }
                h5s3_h5_buf_free(d, buf, ww);
                apr_pool_clear(scratch);
            }
            h5s3_csv_put(o, "\r\n", 2);
        }
        apr_pool_clear(scratch);
        if (h5s3_csv_flush(o) != APR_SUCCESS) {
            rv = o->status;
        }
    }
    return rv;
}

static apr_status_t stream_line(h5s3_h5_csv *c, h5s3_csv_out *o,
                                apr_pool_t *scratch)
{
    hsize_t budget = H5S3_CSV_BUDGET_BYTES / 8 / (apr_size_t)(1 + c->ncmp);
    hsize_t blk = c->chunk_points < budget ? c->chunk_points : budget;
    hsize_t k, i;
    unsigned char *bufs[1 + H5S3_CSV_MAX_COMPARE];
    const h5s3_h5_dset *ds[1 + H5S3_CSV_MAX_COMPARE];
    int m, nd = 1 + c->ncmp;
    apr_status_t rv = APR_SUCCESS;

    ds[0] = c->d;
    for (m = 0; m < c->ncmp; m++) {
        ds[m + 1] = c->cmp[m];
    }
    h5s3_csv_put(o, "index,base", 10);
    for (m = 0; m < c->ncmp; m++) {
        h5s3_csv_put(o, ",", 1);
        h5s3_csv_cell(o, c->cmp_label[m], strlen(c->cmp_label[m]));
    }
    h5s3_csv_put(o, "\r\n", 2);
    blk = blk ? blk : 1;
    for (k = 0; k < c->n && rv == APR_SUCCESS; k += blk) {
        hsize_t nn = c->n - k < blk ? c->n - k : blk;

        memset(bufs, 0, sizeof(bufs));
        for (m = 0; m < nd && rv == APR_SUCCESS; m++) {
            rv = h5s3_h5_read_line((void **)&bufs[m], ds[m], c->lp.pos,
                                   c->lp.vary, c->off + k, 1, nn);
        }
        for (i = 0; i < nn && rv == APR_SUCCESS; i++) {
            put_index(o, c->off + k + i);
            for (m = 0; m < nd; m++) {
                h5s3_csv_put(o, ",", 1);
                put_value(o, ds[m], bufs[m] + i * ds[m]->msize, scratch);
            }
            h5s3_csv_put(o, "\r\n", 2);
        }
        for (m = 0; m < nd; m++) {
            h5s3_h5_buf_free(ds[m], bufs[m], nn);
        }
        apr_pool_clear(scratch);
        if (rv == APR_SUCCESS && h5s3_csv_flush(o) != APR_SUCCESS) {
            rv = o->status;
        }
    }
    return rv;
}

apr_status_t h5s3_h5_csv_stream(h5s3_h5_csv *c, h5s3_csv_write_fn *w,
                                void *baton)
{
    h5s3_csv_out o;
    apr_pool_t *scratch;
    apr_status_t rv;

    rv = apr_pool_create(&scratch, c->p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = h5s3_csv_out_init(&o, w, baton);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(scratch);
        return rv;
    }
    h5s3_csv_put(&o, "\xEF\xBB\xBF", 3);
    rv = c->line ? stream_line(c, &o, scratch)
                 : stream_matrix(c, &o, scratch);
    if (rv == APR_SUCCESS) {
        rv = h5s3_csv_flush(&o);
    }
    h5s3_csv_out_free(&o);
    apr_pool_destroy(scratch);
    return rv;
}
