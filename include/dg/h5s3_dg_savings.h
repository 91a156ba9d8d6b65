/*
 * What DeltaGlider saves in a bucket (dg/savings.c): a pure accumulator
 * and the walk over a whole bucket.
 */
#ifndef H5S3_DG_SAVINGS_H
#define H5S3_DG_SAVINGS_H

#include <apr_pools.h>
#include <jansson.h>
#include "dg/h5s3_dg_catalog.h"
#include "dg/h5s3_dg_store.h"

typedef struct h5s3_dg_savings {
    apr_int64_t object_count;   /* deltas + directs */
    apr_int64_t original_bytes;
    apr_int64_t stored_bytes;
    double savings_pct;
} h5s3_dg_savings;

/* Pure accumulator, fed one S3 entry at a time. */
typedef struct h5s3_dg_savings_acc h5s3_dg_savings_acc;
h5s3_dg_savings_acc *h5s3_dg_savings_acc_create(apr_pool_t *p);
/* original: dg-file-size of a delta (-1 unknown: its stored size); ignored otherwise. */
void h5s3_dg_savings_acc_add(h5s3_dg_savings_acc *acc, const char *s3key,
                             apr_off_t size, apr_off_t original);
void h5s3_dg_savings_acc_finish(h5s3_dg_savings *out,
                                const h5s3_dg_savings_acc *acc);

/*
 * Page through the whole bucket; the deltas of each page of the listing
 * are probed together (h5s3_dg_probe_many through pr, which may be
 * NULL).  *cancel (may be NULL) is checked between pages and their
 * probes; when set, H5S3_E_ABORTED and *out untouched.
 */
apr_status_t h5s3_dg_savings_compute(h5s3_dg_savings *out, h5s3_dg_store *st,
                                     volatile apr_uint32_t *cancel,
                                     const h5s3_dg_prober *pr,
                                     apr_pool_t *p);

json_t *h5s3_dg_savings_json(const h5s3_dg_savings *s);

#endif
