/*
 * Private declarations of the bucket browser API (/api, docs/browser-api.md): the
 * pieces h5s3_api*.c share.  Routes and directive handlers the rest of
 * the glue needs are declared in glue/h5s3_glue.h.
 */
#ifndef H5S3_API_H
#define H5S3_API_H

#include "glue/h5s3_glue.h"
#include "dg/h5s3_dg.h"
#include "base/h5s3_token.h"

/* Body of a POST /api/download/prepare and the like: small JSON only. */
#define H5S3_API_MAX_JSON_BODY (64 * 1024)

/* The API's part of the module state (glue/api_state.c). */

/* The HMAC key of this vhost: H5S3TokenSecret, else the random one. */
const h5s3_token_key *h5s3_api_token_key(const h5s3_srv_conf *sc,
                                         apr_pool_t *p);
/*
 * Codec options for restores and uploads from bucket through this vhost:
 * its references are cached apart from every other scope and bucket.
 */
void h5s3_api_codec_opts(h5s3_dg_codec_opts *opts, const h5s3_srv_conf *sc,
                         const char *bucket);
/*
 * The codec log (docs/deltaglider-format.md §5.7): one INFO line for the
 * xdelta3 run in run (none if nothing ran), and the request notes
 * h5s3-codec-cmd, h5s3-codec-ms and h5s3-codec-rc.  what: "reconstruct"
 * or "upload delta"; bucket and key the object.
 */
void h5s3_api_codec_log(h5s3_req *q, const h5s3_dg_codec_run *run,
                        const char *what, const char *bucket,
                        const char *key);

/* Shared helpers (glue/routes/api.c). */

/*
 * The mapped bucket a request names by alias (NULL or "": the default);
 * NULL after an /api error response was sent (*rc).
 */
const h5s3_bucket_map *h5s3_api_bucket(h5s3_req *q, const char *alias,
                                       int *rc);
/*
 * The object key names in m's bucket, as the core sees it (q->key set);
 * NULL after an /api error response was sent (*rc): 404 key_not_found
 * for a key longer than S3 allows, 400 integrity_failed for metadata the
 * core refused, else what h5s3_api_error_for says.
 */
h5s3_dg_object *h5s3_api_object(h5s3_req *q, const h5s3_bucket_map *m,
                                const char *key, int *rc);
/* The mapping of this vhost that serves S3 bucket name, or NULL. */
const h5s3_bucket_map *h5s3_api_bucket_by_name(const h5s3_srv_conf *sc,
                                               const char *bucket);
/* A DeltaGlider store over one bucket, counting into q->call, its
 * metadata HEADs H5S3ProbeParallel at a time. */
h5s3_dg_store *h5s3_api_store(h5s3_req *q, const char *bucket);

/*
 * What HEADs of deltas said, kept in the shared cache (for h5s3_dg_list
 * and the savings jobs): pb->prober recalls and remembers through it.
 */
typedef struct h5s3_api_probe {
    const char *endpoint;
    const char *bucket;
    const char *gen;                    /* the bucket's listing generation */
    apr_interval_time_t ttl;
    h5s3_dg_prober prober;              /* baton: this struct */
} h5s3_api_probe;
void h5s3_api_probe_init(h5s3_api_probe *pb, const h5s3_srv_conf *sc,
                         const char *bucket, apr_pool_t *p);
apr_status_t h5s3_api_probe_recall(void *baton, apr_table_t **meta,
                                   const char *s3key, apr_pool_t *p);
void h5s3_api_probe_remember(void *baton, const char *s3key,
                             apr_table_t *meta, apr_pool_t *p);

/*
 * An /api error for a failed core call: the status and code that fit rv
 * (S3 down: 503/504 with Retry-After), what names the object concerned
 * for not-found ("bucket" or "key").
 */
int h5s3_api_error_for(h5s3_req *q, apr_status_t rv, const char *what,
                       const char *reason);

/*
 * 400 integrity_failed for an object whose DeltaGlider metadata the core
 * refused (H5S3_E_INVALID), the core's detail in q->result (may be NULL)
 * in details.reason.
 */
int h5s3_api_bad_metadata(h5s3_req *q, const char *key);

/* "ALIAS/LOGICAL-KEY" split at the first '/'; NULL if malformed. */
const char *h5s3_api_split_key(const char **alias, const char *path,
                               apr_pool_t *p);

/* Savings figures and pending state of one bucket into a /buckets row. */
void h5s3_api_savings_fill(json_t *row, h5s3_req *q, const char *bucket);

/* Read a small request body (at most max bytes); NULL after an error. */
const char *h5s3_api_read_body(h5s3_req *q, apr_size_t max, int *rc);

#endif
