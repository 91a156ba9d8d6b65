/*
 * display_dims / fixed_indices: the lenient rules of /preview and the
 * strict ones of /data (docs/viewer-api.md §1.7, §1.8).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_select.h"

/* Next comma-separated part, stripped; NULL at the end. */
static char *next_part(char **cursor, apr_pool_t *p)
{
    char *s = *cursor, *end, *comma;

    if (s == NULL) {
        return NULL;
    }
    comma = strchr(s, ',');
    if (comma) {
        *comma = '\0';
        *cursor = comma + 1;
    }
    else {
        *cursor = NULL;
    }
    while (apr_isspace(*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && apr_isspace(end[-1])) {
        *--end = '\0';
    }
    return s;
}

static void init_sel(h5s3_h5_sel *sel, int ndim, const hsize_t *shape)
{
    int i;

    memset(sel, 0, sizeof(*sel));
    sel->ndim = ndim;
    for (i = 0; i < ndim && i < H5S3_H5_RANK_MAX; i++) {
        sel->shape[i] = shape[i];
    }
    sel->row_dim = ndim >= 2 ? ndim - 2 : -1;
    sel->col_dim = ndim >= 2 ? ndim - 1 : -1;
}

static int is_display(const h5s3_h5_sel *sel, int d)
{
    return d == sel->row_dim || d == sel->col_dim;
}

/* Missing non-display dims get the middle index. */
static void fill_defaults(h5s3_h5_sel *sel)
{
    int d;

    for (d = 0; d < sel->ndim; d++) {
        if (is_display(sel, d)) {
            sel->index[d] = 0;
            sel->given[d] = 0;
        }
        else if (!sel->given[d]) {
            sel->index[d] = sel->shape[d] / 2;
        }
    }
}

/* "d=i" or "d:i" into its two halves; 0 when neither separator. */
static int split_pair(char *part, char **a, char **b)
{
    char *sep = strchr(part, '=');

    if (sep == NULL) {
        sep = strchr(part, ':');
    }
    if (sep == NULL) {
        return 0;
    }
    *sep = '\0';
    *a = part;
    *b = sep + 1;
    return 1;
}

void h5s3_h5_select_lenient(h5s3_h5_sel *sel, int ndim,
                            const hsize_t *shape, const char *display_dims,
                            const char *fixed_indices)
{
    apr_pool_t *p = NULL;
    char *cur, *part;
    int dims[2], nd = 0;

    init_sel(sel, ndim, shape);
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fill_defaults(sel);
        return;
    }
    if (ndim >= 2 && display_dims && *display_dims) {
        cur = apr_pstrdup(p, display_dims);
        while ((part = next_part(&cur, p)) != NULL && nd < 2) {
            apr_int64_t v;

            if (h5s3_py_parse_int(&v, part) != APR_SUCCESS) {
                continue;
            }
            if (v < 0) {
                v += ndim;
            }
            if (v < 0 || v >= ndim || (nd == 1 && dims[0] == (int)v)) {
                continue;
            }
            dims[nd++] = (int)v;
        }
        if (nd == 2) {
            sel->row_dim = dims[0];
            sel->col_dim = dims[1];
        }
    }
    if (fixed_indices && *fixed_indices) {
        cur = apr_pstrdup(p, fixed_indices);
        while ((part = next_part(&cur, p)) != NULL) {
            char *a, *b;
            apr_int64_t d, i;

            if (!split_pair(part, &a, &b)
                || h5s3_py_parse_int(&d, a) != APR_SUCCESS
                || h5s3_py_parse_int(&i, b) != APR_SUCCESS) {
                continue;
            }
            if (d < 0) {
                d += ndim;
            }
            if (d < 0 || d >= ndim || is_display(sel, (int)d)) {
                continue;
            }
            /* Clamped, not wrapped: upstream preview does so. */
            if (i < 0 || sel->shape[d] == 0) {
                i = 0;
            }
            else if ((hsize_t)i >= sel->shape[d]) {
                i = (apr_int64_t)sel->shape[d] - 1;
            }
            sel->index[d] = (hsize_t)i;
            sel->given[d] = 1;
        }
    }
    fill_defaults(sel);
    apr_pool_destroy(p);
}

apr_status_t h5s3_h5_select_strict(h5s3_h5_sel *sel, h5s3_result *res,
                                   int ndim, const hsize_t *shape,
                                   const char *display_dims,
                                   const char *fixed_indices,
                                   apr_pool_t *p)
{
    char *cur, *part;

    init_sel(sel, ndim, shape);
    if (ndim >= 2 && display_dims && *display_dims) {
        char *parts[3];
        apr_int64_t v[2];
        int n = 0, k;

        cur = apr_pstrdup(p, display_dims);
        while ((part = next_part(&cur, p)) != NULL) {
            if (*part && n < 3) {
                parts[n++] = part;
            }
        }
        if (n != 2) {
            return h5s3_result_set(res, H5S3_E_INVALID, "display_dims must "
                                   "include two distinct dims");
        }
        for (k = 0; k < 2; k++) {
            if (h5s3_py_parse_int(&v[k], parts[k]) != APR_SUCCESS) {
                return h5s3_result_set(res, H5S3_E_INVALID,
                                       "Invalid display_dims parameter");
            }
        }
        for (k = 0; k < 2; k++) {
            if (v[k] < 0) {
                v[k] += ndim;
            }
            if (v[k] < 0 || v[k] >= ndim) {
                return h5s3_result_set(res, H5S3_E_INVALID,
                                       "display_dims out of range");
            }
        }
        if (v[0] == v[1]) {
            return h5s3_result_set(res, H5S3_E_INVALID, "display_dims must "
                                   "include two distinct dims");
        }
        sel->row_dim = (int)v[0];
        sel->col_dim = (int)v[1];
    }
    if (fixed_indices && *fixed_indices) {
        cur = apr_pstrdup(p, fixed_indices);
        while ((part = next_part(&cur, p)) != NULL) {
            char *a, *b;
            apr_int64_t d, i;

            if (!*part) {
                continue;
            }
            if (!split_pair(part, &a, &b)
                || h5s3_py_parse_int(&d, a) != APR_SUCCESS
                || h5s3_py_parse_int(&i, b) != APR_SUCCESS) {
                return h5s3_result_set(res, H5S3_E_INVALID,
                                       "Invalid fixed_indices parameter");
            }
            if (d < 0) {
                d += ndim;
            }
            if (d < 0 || d >= ndim) {
                return h5s3_result_set(res, H5S3_E_INVALID,
                                       "fixed_indices dim out of range");
            }
            if (is_display(sel, (int)d)) {
                continue;
            }
            if (i < 0) {
                /* From the end, unsigned: a (corrupt) dim may pass 2^63. */
                hsize_t back = (hsize_t)-i;
                i = back <= sel->shape[d]
                        && sel->shape[d] - back <= (hsize_t)APR_INT64_MAX
                    ? (apr_int64_t)(sel->shape[d] - back) : -1;
            }
            if (sel->shape[d] == 0 && i <= 0) {
                i = 0;
            }
            else if (i < 0 || (hsize_t)i >= sel->shape[d]) {
                return h5s3_result_printf(res, H5S3_E_INVALID, "fixed_indices "
                                          "index out of range for dim %d",
                                          (int)d);
            }
            sel->index[d] = (hsize_t)i;
            sel->given[d] = 1;
        }
    }
    fill_defaults(sel);
    return APR_SUCCESS;
}

hsize_t h5s3_h5_sel_rows(const h5s3_h5_sel *sel)
{
    return sel->row_dim >= 0 ? sel->shape[sel->row_dim] : 0;
}

hsize_t h5s3_h5_sel_cols(const h5s3_h5_sel *sel)
{
    return sel->col_dim >= 0 ? sel->shape[sel->col_dim] : 0;
}

json_t *h5s3_h5_sel_fixed_json(const h5s3_h5_sel *sel)
{
    json_t *o = json_object();
    int d;

    /* Below 2-D there is no plane: upstream reports {} (1-D preview). */
    for (d = 0; o && sel->row_dim >= 0 && d < sel->ndim; d++) {
        char name[16];

        if (is_display(sel, d)) {
            continue;
        }
        snprintf(name, sizeof(name), "%d", d);
        json_object_set_new(o, name, json_integer((json_int_t)sel->index[d]));
    }
    return o;
}

json_t *h5s3_h5_sel_dims_json(const h5s3_h5_sel *sel)
{
    if (sel->row_dim < 0) {
        return json_null();
    }
    return json_pack("[i,i]", sel->row_dim, sel->col_dim);
}
