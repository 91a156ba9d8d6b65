/*
 * h5grove's /stats/: the finite values of a selection, streamed in
 * bounded blocks, with the running minimum, maximum, least positive
 * values, mean and standard deviation (Welford), in the data's own
 * type: 64-bit integers stay exact.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "grove/h5s3_grove_dataset.h"
#include "hdf5/h5s3_h5_read.h"

/* ---- accumulating ----------------------------------------------------- */

typedef struct acc_t {
    int is_float;
    int exact;                  /* 64-bit integers kept exact */
    int sgn;
    apr_uint64_t n;
    long double mean, m2;
    double fmin, fmax, fspos, fpos;
    long long imin, imax, ispos, ipos;
    unsigned long long umin, umax, uspos, upos;
    int has_spos, has_pos;
} acc_t;

static void acc_welford(acc_t *a, long double x)
{
    long double delta = x - a->mean;

    a->n++;
    a->mean += delta / (long double)a->n;
    a->m2 += delta * (x - a->mean);
}

/*
 * The running minimum, maximum, least positive and least non-negative
 * value (NONNEG: V >= 0, written out so that unsigned types need no
 * always-true comparison) of V in A's fields of one C type: the same
 * rules for the f(loat), i(signed) and u(nsigned) fields.
 */
#define ACC_RANGE(a, v, min, max, spos, pos, nonneg)                    \
    do {                                                                \
        if ((a)->n == 0 || (v) < (a)->min) {                            \
            (a)->min = (v);                                             \
        }                                                               \
        if ((a)->n == 0 || (v) > (a)->max) {                            \
            (a)->max = (v);                                             \
        }                                                               \
        if ((v) > 0 && (!(a)->has_spos || (v) < (a)->spos)) {           \
            (a)->spos = (v);                                            \
            (a)->has_spos = 1;                                          \
        }                                                               \
        if ((nonneg) && (!(a)->has_pos || (v) < (a)->pos)) {            \
            (a)->pos = (v);                                             \
            (a)->has_pos = 1;                                           \
        }                                                               \
    } while (0)

static void acc_double(acc_t *a, double v)
{
    if (!isfinite(v)) {
        return;
    }
    ACC_RANGE(a, v, fmin, fmax, fspos, fpos, v >= 0);
    acc_welford(a, v);
}

static void acc_ll(acc_t *a, long long v)
{
    ACC_RANGE(a, v, imin, imax, ispos, ipos, v >= 0);
    acc_welford(a, (long double)v);
}

static void acc_ull(acc_t *a, unsigned long long v)
{
    ACC_RANGE(a, v, umin, umax, uspos, upos, 1);
    acc_welford(a, (long double)v);
}

/* ---- the answer ------------------------------------------------------- */

static void put_ll(h5s3_grove_buf *b, long long v)
{
    char s[32];

    snprintf(s, sizeof(s), "%lld", v);
    h5s3_grove_buf_puts(b, s);
}

static void put_ull(h5s3_grove_buf *b, unsigned long long v)
{
    char s[32];

    snprintf(s, sizeof(s), "%llu", v);
    h5s3_grove_buf_puts(b, s);
}

/* Python int() of a float: truncation toward zero. */
static void put_trunc(h5s3_grove_buf *b, long double v)
{
    char s[64];

    snprintf(s, sizeof(s), "%.0Lf", truncl(v));
    h5s3_grove_buf_puts(b, strcmp(s, "-0") == 0 ? "0" : s);
}

/* One statistic in the data's own type: float, unsigned or signed. */
static void put_stat(h5s3_grove_buf *b, const acc_t *a, double f,
                     unsigned long long u, long long i)
{
    if (a->is_float)
        h5s3_grove_put_double(b, f);
    else if (a->exact && !a->sgn)
        put_ull(b, u);
    else
        put_ll(b, i);
}

static void stats_json(h5s3_grove_buf *b, const acc_t *a)
{
    long double std = a->n ? sqrtl(a->m2 / (long double)a->n) : 0;

    if (a->n == 0) {
        h5s3_grove_buf_puts(b, "{\"strict_positive_min\":null,"
                            "\"positive_min\":null,\"min\":null,"
                            "\"max\":null,\"mean\":null,\"std\":null}");
        return;
    }
    h5s3_grove_buf_puts(b, "{\"strict_positive_min\":");
    if (a->has_spos)
        put_stat(b, a, a->fspos, a->uspos, a->ispos);
    else
        h5s3_grove_buf_puts(b, "null");
    h5s3_grove_buf_puts(b, ",\"positive_min\":");
    if (a->has_pos)
        put_stat(b, a, a->fpos, a->upos, a->ipos);
    else
        h5s3_grove_buf_puts(b, "null");
    h5s3_grove_buf_puts(b, ",\"min\":");
    put_stat(b, a, a->fmin, a->umin, a->imin);
    h5s3_grove_buf_puts(b, ",\"max\":");
    put_stat(b, a, a->fmax, a->umax, a->imax);
    h5s3_grove_buf_puts(b, ",\"mean\":");
    if (a->is_float) {
        h5s3_grove_put_double(b, (double)a->mean);
        h5s3_grove_buf_puts(b, ",\"std\":");
        h5s3_grove_put_double(b, (double)std);
    }
    else {
        /* h5grove casts every statistic of non-float data with int(). */
        put_trunc(b, a->mean);
        h5s3_grove_buf_puts(b, ",\"std\":");
        put_trunc(b, std);
    }
    h5s3_grove_buf_puts(b, "}");
}

/* ---- the walk --------------------------------------------------------- */

/* The memory type blocks of D are read with. */
static hid_t stats_mem_type(const h5s3_h5_dset *d, h5s3_grove_kind k,
                            const acc_t *a)
{
    hid_t mt;

    if (k == H5S3_GROVE_INT && a->exact) {
        return H5Tcopy(a->sgn ? H5T_NATIVE_LLONG : H5T_NATIVE_ULLONG);
    }
    if (k == H5S3_GROVE_FLOAT) {
        return H5Tcopy(H5T_NATIVE_DOUBLE);
    }
    if (k == H5S3_GROVE_BITFIELD) {
        mt = H5Tcopy(d->ftype);
        H5Tset_order(mt, H5T_ORDER_LE);
        return mt;
    }
    return H5Tget_native_type(d->ftype, H5T_DIR_ASCEND);
}

/* The N elements of R into A. */
static void acc_block(acc_t *a, const h5s3_grove_read *r, hsize_t n)
{
    h5s3_grove_numfmt nf;
    hsize_t e;

    h5s3_grove_numfmt_of(&nf, r->dc.mtype);
    for (e = 0; e < n && r->buf; e++) {
        const unsigned char *ptr = (const unsigned char *)r->buf
                                   + e * r->dc.msize;

        if (a->exact && a->sgn) {
            long long v;
            memcpy(&v, ptr, 8);
            acc_ll(a, v);
        }
        else if (a->exact) {
            unsigned long long v;
            memcpy(&v, ptr, 8);
            acc_ull(a, v);
        }
        else if (a->is_float) {
            double v;
            memcpy(&v, ptr, 8);
            acc_double(a, v);
        }
        else {
            double v = h5s3_grove_num_at(ptr, H5T_INTEGER, nf.size, nf.sgn);
            acc_ll(a, (long long)(nf.is_bool ? v != 0 : v));
        }
    }
}

/* One block (START, STRIDE, COUNT: N elements) read and accumulated,
 * in a pool of its own so that its buffer goes at once. */
static apr_status_t stats_block(acc_t *a, const h5s3_h5_dset *d,
                                h5s3_grove_kind k, const hsize_t *start,
                                const hsize_t *stride, const hsize_t *count,
                                hsize_t n, apr_pool_t *p)
{
    hid_t mt = stats_mem_type(d, k, a);
    h5s3_grove_read *r;
    apr_pool_t *sub;
    apr_status_t rv;

    if (mt < 0) {
        return H5S3_E_UNSUPPORTED;
    }
    apr_pool_create(&sub, p);
    rv = h5s3_grove_read_sel(&r, d, mt, start, stride, count, n, sub);
    if (rv == APR_SUCCESS) {
        acc_block(a, r, n);
    }
    apr_pool_destroy(sub);
    return rv;
}

/* Blocks: every index of the dims before *SPLIT, *STEP indices of
 * *SPLIT at a time, the dims after it whole, at most
 * H5S3_GROVE_STATS_BLOCK elements when the inner dims allow. */
static apr_status_t block_plan(int *split, hsize_t *step,
                               const h5s3_grove_sel *sel, int nd)
{
    hsize_t inner = 1;
    int i;

    *split = 0;
    for (i = 0; i < nd; i++) {
        /* At most nelem (checked), or 0 with a count of 0. */
        if (!h5s3_dims_product(&inner, sel->count + i + 1, nd - i - 1, 1,
                               UINT64_MAX)) {
            return H5S3_E_TOOLARGE;
        }
        *split = i;
        if (inner <= H5S3_GROVE_STATS_BLOCK) {
            break;
        }
    }
    *step = inner ? H5S3_GROVE_STATS_BLOCK / inner : 1;
    if (*step < 1) {
        *step = 1;
    }
    return APR_SUCCESS;
}

/* Every block of SEL of D into A, in order. */
static apr_status_t stats_walk(acc_t *a, const h5s3_h5_dset *d,
                               h5s3_grove_kind k, const h5s3_grove_sel *sel,
                               int split, hsize_t step, apr_pool_t *p)
{
    hsize_t bstart[H5S3_H5_RANK_MAX], bcount[H5S3_H5_RANK_MAX];
    hsize_t idx[H5S3_H5_RANK_MAX], j;
    int i, nd = d->ndim;
    apr_status_t rv;

    for (i = 0; i < nd; i++) {
        idx[i] = 0;
        bstart[i] = sel->start[i];
        bcount[i] = sel->count[i];
    }
    for (;;) {
        hsize_t total = nd > 0 ? sel->count[split] : 1;

        for (i = 0; i < split; i++) {
            bstart[i] = sel->start[i] + idx[i] * sel->stride[i];
            bcount[i] = 1;
        }
        for (j = 0; j < total; j += step) {
            hsize_t n = 1;

            if (nd > 0) {
                bstart[split] = sel->start[split] + j * sel->stride[split];
                bcount[split] = total - j < step ? total - j : step;
                for (i = 0; i < nd; i++) {
                    n *= bcount[i];
                }
            }
            rv = stats_block(a, d, k, bstart, sel->stride, bcount, n, p);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            if (nd == 0) {
                break;
            }
        }
        for (i = split - 1; i >= 0; i--) {
            if (++idx[i] < sel->count[i]) {
                break;
            }
            idx[i] = 0;
        }
        if (i < 0) {
            return APR_SUCCESS;
        }
    }
}

/* ---- the request ------------------------------------------------------ */

static apr_status_t stats_answer(char **json, const acc_t *a, apr_pool_t *p)
{
    h5s3_grove_buf *b = h5s3_grove_buf_make(p);

    stats_json(b, a);
    if (b->oom) {
        return APR_ENOMEM;
    }
    *json = apr_pstrmemdup(p, b->data, b->len);
    return APR_SUCCESS;
}

/* The selection SEL of D may be walked: parsed, filters there, within
 * the cap. */
static apr_status_t stats_select(h5s3_grove_sel *sel, h5s3_result *res,
                                 const h5s3_h5_dset *d,
                                 const char *selection, apr_pool_t *p)
{
    apr_status_t rv;

    rv = h5s3_grove_sel_parse(sel, res, selection, d->ndim, d->shape, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = h5s3_grove_filters_ok(d, res, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (sel->nelem > H5S3_GROVE_STATS_MAX_ELEMENTS) {
        return h5s3_result_printf(res, H5S3_E_TOOLARGE, "The selection has %"
                                  APR_UINT64_T_FMT " elements, more than the "
                                  "%d this server computes statistics over: "
                                  "ask for a smaller selection",
                                  (apr_uint64_t)sel->nelem,
                                  H5S3_GROVE_STATS_MAX_ELEMENTS);
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_grove_stats(char **json, h5s3_result *res, hid_t fid,
                              struct h5s3_h5_file *f, const char *file_name,
                              const char *path, const char *selection,
                              apr_pool_t *p)
{
    h5s3_h5_dset *d;
    h5s3_grove_sel sel;
    h5s3_grove_kind k;
    acc_t a;
    hsize_t step;
    int split;
    apr_status_t rv;

    if (path == NULL) {
        path = "/";
    }
    rv = h5s3_grove_dset_open(&d, res, fid, f, file_name, path, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    k = h5s3_grove_kind_of(d->ftype);
    if (k == H5S3_GROVE_OTHER || k == H5S3_GROVE_COMPLEX) {
        return h5s3_result_printf(res, H5S3_E_INVALID,
                                  "Unsupported statistics for %s data",
                                  d->dtype);
    }
    memset(&a, 0, sizeof(a));
    a.is_float = k == H5S3_GROVE_FLOAT;
    if (d->empty_space) {
        return h5s3_result_status(res, stats_answer(json, &a, p));
    }
    rv = stats_select(&sel, res, d, selection, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    a.exact = k == H5S3_GROVE_INT && H5Tget_size(d->ftype) == 8;
    a.sgn = k == H5S3_GROVE_INT && H5Tget_sign(d->ftype) != H5T_SGN_NONE;
    rv = block_plan(&split, &step, &sel, d->ndim);
    if (rv == APR_SUCCESS && sel.nelem > 0) {
        rv = stats_walk(&a, d, k, &sel, split, step, p);
    }
    return h5s3_result_status(res, rv == APR_SUCCESS
                                   ? stats_answer(json, &a, p) : rv);
}
