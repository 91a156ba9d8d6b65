/*
 * h5grove selections: parse_slice (comma-separated members, each an int
 * or start:stop[:step]) applied with h5py's rules (negative indices count
 * from the end, slices clamp like Python's, step >= 1, missing trailing
 * members select whole dims), turned into one strided hyperslab.
 */
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "hdf5/h5s3_h5_read.h"
#include "json/h5s3_text.h"

/* One part of a slice: empty means "not given". */
static apr_status_t part(apr_int64_t *v, int *given, const char *s)
{
    const char *t = s;

    while (*t == ' ' || *t == '\t') {
        t++;
    }
    if (*t == '\0') {
        *given = 0;
        return APR_SUCCESS;
    }
    *given = 1;
    return h5s3_py_parse_int(v, s);
}

/* Python's slice.indices for a positive step. */
static apr_int64_t clamp(apr_int64_t v, apr_int64_t n)
{
    if (v < 0) {
        v += n;
        if (v < 0) {
            v = 0;
        }
    }
    return v > n ? n : v;
}

static apr_status_t member(h5s3_grove_sel *sel, h5s3_result *res, int dim,
                           const char *m, hsize_t len, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, m), *parts[4];
    int n = 0, g0, g1, g2;
    apr_int64_t a = 0, b = 0, c = 1, ilen = (apr_int64_t)len;
    char *s = copy, *colon;

    while (n < 4) {
        parts[n++] = s;
        colon = strchr(s, ':');
        if (!colon) {
            break;
        }
        *colon = '\0';
        s = colon + 1;
    }
    if (n == 4 || (n == 3 && strchr(s, ':'))) {
        return h5s3_result_printf(res, H5S3_E_INVALID,
                                  "%s is not a valid slice", m);
    }
    if (n == 1) {
        if (h5s3_py_parse_int(&a, m) != APR_SUCCESS) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "invalid literal "
                                      "for int() with base 10: '%s'", m);
        }
        b = a;
        if (a < 0) {
            a += ilen;
        }
        if (a < 0 || a >= ilen) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Index (%"
                                      APR_INT64_T_FMT ") out of range for (0-%"
                                      APR_INT64_T_FMT ")", b, ilen - 1);
        }
        sel->start[dim] = (hsize_t)a;
        sel->stride[dim] = 1;
        sel->count[dim] = 1;
        return APR_SUCCESS;
    }
    if (part(&a, &g0, parts[0]) != APR_SUCCESS
        || part(&b, &g1, parts[1]) != APR_SUCCESS
        || (n == 3 && part(&c, &g2, parts[2]) != APR_SUCCESS)) {
        return h5s3_result_printf(res, H5S3_E_INVALID,
                                  "%s is not a valid slice", m);
    }
    if (n == 3 && !g2) {
        c = 1;
    }
    if (c < 1) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "Step must be >= 1 "
                                  "(got %" APR_INT64_T_FMT ")", c);
    }
    a = g0 ? clamp(a, ilen) : 0;
    b = g1 ? clamp(b, ilen) : ilen;
    sel->start[dim] = (hsize_t)a;
    sel->stride[dim] = (hsize_t)c;
    sel->count[dim] = b > a ? (hsize_t)((b - a + c - 1) / c) : 0;
    if (sel->count[dim] == 0) {
        sel->start[dim] = 0;
    }
    sel->out_dims[sel->out_ndim++] = sel->count[dim];
    return APR_SUCCESS;
}

apr_status_t h5s3_grove_sel_parse(h5s3_grove_sel *sel, h5s3_result *res,
                                  const char *text, int ndim,
                                  const hsize_t *shape, apr_pool_t *p)
{
    char *copy, *m, *comma;
    int dim = 0, i;
    apr_status_t rv;

    memset(sel, 0, sizeof(*sel));
    if (ndim < 0 || ndim > H5S3_H5_RANK_MAX) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "Unsupported dataset rank");
    }
    sel->ndim = ndim;
    if (text && *text) {
        copy = apr_pstrdup(p, text);
        for (m = copy; m; m = comma ? comma + 1 : NULL) {
            comma = strchr(m, ',');
            if (comma) {
                *comma = '\0';
            }
            if (dim >= ndim) {
                return h5s3_result_printf(res, H5S3_E_INVALID, "%s has too "
                                          "many members to slice a %dD "
                                          "dataset", text, ndim);
            }
            rv = member(sel, res, dim, m, shape[dim], p);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            dim++;
        }
    }
    for (i = dim; i < ndim; i++) {
        sel->start[i] = 0;
        sel->stride[i] = 1;
        sel->count[i] = shape[i];
        sel->out_dims[sel->out_ndim++] = shape[i];
    }
    /* Counts come from the file's shape: a wrapped product would pass
     * the caps and then drive loops over the real, huge selection. */
    if (!h5s3_dims_product(&sel->nelem, sel->count, ndim, 1, UINT64_MAX)) {
        return h5s3_result_set(res, H5S3_E_TOOLARGE,
                               "The selection has more than 2^64 elements");
    }
    return APR_SUCCESS;
}
