/*
 * The storage seam of the DeltaGlider core (dg/store.c): S3 in production,
 * local data in tests.
 */
#ifndef H5S3_DG_STORE_H
#define H5S3_DG_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "s3/h5s3_s3.h"

typedef struct h5s3_dg_store h5s3_dg_store;
struct h5s3_dg_store {
    apr_status_t (*head)(h5s3_dg_store *st, h5s3_s3_object_info **info,
                         const char *key, apr_pool_t *p);
    /* Whole-object streaming GET; if_match may be NULL. */
    apr_status_t (*get)(h5s3_dg_store *st, const char *key,
                        const char *if_match, h5s3_s3_data_cb on_data,
                        void *baton, apr_pool_t *p);
    apr_status_t (*list)(h5s3_dg_store *st, h5s3_s3_list_page **page,
                         const char *prefix, const char *delimiter,
                         const char *token, int max_keys, apr_pool_t *p);
    apr_status_t (*put)(h5s3_dg_store *st, const char *key, apr_off_t size,
                        const char *content_type, apr_table_t *meta,
                        h5s3_s3_read_cb read_cb, void *baton, apr_pool_t *p);
    /*
     * HEADs of many keys at once, at most parallel in flight, each item
     * with its own status (s3/h5s3_s3.h).  May be NULL: callers then
     * call head() once per key.
     */
    apr_status_t (*head_many)(h5s3_dg_store *st, h5s3_s3_head_item *items,
                              int n, apr_pool_t *p);
    int parallel;               /* head_many's bound; < 1: the default */
    void *baton;
};

/* How many HEADs head_many keeps in flight unless told (H5S3ProbeParallel). */
#define H5S3_DG_PROBE_PARALLEL_DEFAULT 32
#define H5S3_DG_PROBE_PARALLEL_MAX     256

/* A store over one bucket of an S3 client; call may be NULL. */
h5s3_dg_store *h5s3_dg_store_s3(h5s3_s3_client *client, const char *bucket,
                                h5s3_s3_call *call, apr_pool_t *p);

#endif
