/*
 * What the files of the S3 client share, and nothing outside the s3 layer
 * may use (the public interface is s3/h5s3_s3.h):
 *
 *   client.c    a client: one service's address, credentials and the
 *               signing key of the day;
 *   pool.c      the per-process pool of curl handles;
 *   tls.c       TLS material and what a failed handshake means (its
 *               interface is public, s3/h5s3_s3_tls.h: the glue loads
 *               the files);
 *   exchange.c  one signed request and its response, with the mapping of
 *               curl and HTTP failures to status codes;
 *   ops.c       HEAD, streaming GET, PUT and ListObjectsV2;
 *   ranges.c    ranged GETs, one at a time or many at once (curl multi);
 *   heads.c     HEADs of many keys at once (curl multi).
 */
#ifndef H5S3_S3_INTERNAL_H
#define H5S3_S3_INTERNAL_H

#include <curl/curl.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>

#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_sign.h"

/* Enough for any S3 error document. */
#define H5S3_S3_ERR_BODY_MAX    (64 * 1024)
/* The largest body kept in memory (a page of ListObjectsV2). */
#define H5S3_S3_MEM_BODY_MAX    (32 * 1024 * 1024)

struct h5s3_s3_client {
    h5s3_s3_config cfg;
    const char *scheme;         /* "http" or "https" */
    const char *hostport;       /* host[:port] as the Host header says it */
    const char *base_path;      /* endpoint path prefix, "" normally */
    apr_thread_mutex_t *key_lock;
    char key_date[9];           /* date of the cached signing key */
    unsigned char signing_key[32];
    /* The last TLS failure logged as an error, and when (under key_lock). */
    int tls_logged;
    apr_time_t tls_logged_at;
};

/*
 * Log a TLS failure of this client's endpoint: an error the first time
 * (per process), and again when the failure changes or a minute has
 * passed; debug otherwise.  A request whose ranges all fail the same
 * handshake, or a burst of requests, is one line, not hundreds.
 */
void h5s3_s3_client_tls_failed(h5s3_s3_client *c, int failure,
                               const char *msg);

/*
 * The SigV4 signing key for the date of amz_date (YYYYMMDD...), derived
 * once a day per client.  1 and key filled, or 0 when it cannot be.
 */
int h5s3_s3_client_signing_key(h5s3_s3_client *c, const char *amz_date,
                               unsigned char key[32]);

/* ---- pool.c: per-process curl handles ---------------------------------- */

/* A pooled (or new) easy handle; NULL when curl cannot make one. */
CURL *h5s3_s3_easy_get(void);
/*
 * Back to the pool when healthy (its connection is kept alive), else
 * destroyed: a handle whose exchange failed is not trusted again.
 */
void h5s3_s3_easy_put(CURL *h, int healthy);
CURLM *h5s3_s3_multi_get(void);
void h5s3_s3_multi_put(CURLM *m);
/* The process's curl share (DNS cache, TLS sessions), or NULL. */
CURLSH *h5s3_s3_share(void);

/* ---- exchange.c: one request and its response --------------------------- */

/* What to send. */
typedef struct h5s3_s3_xreq {
    const char *method;
    const char *bucket;
    const char *key;                /* NULL: a bucket-level request */
    apr_array_header_t *query;      /* of h5s3_s3_kv */
    apr_array_header_t *headers;    /* of h5s3_s3_kv, all signed */
    const char *payload_hash;
    const char *body;               /* small in-memory upload */
    apr_size_t body_len;
    h5s3_s3_read_cb read_cb;        /* streaming upload */
    void *read_baton;
    apr_off_t upload_size;
    int upload;
    int streaming;                  /* long transfer: stall limit, no total */
} h5s3_s3_xreq;

/* A request with nothing set but these (key NULL: the bucket's). */
void h5s3_s3_xreq_init(h5s3_s3_xreq *rq, const char *method,
                       const char *bucket, const char *key);

/* One exchange on one curl handle, and what came back. */
typedef struct h5s3_s3_xfer {
    h5s3_s3_client *c;
    apr_pool_t *p;
    CURL *h;
    struct curl_slist *hdrs;
    const char *method;
    const char *what;               /* "bucket/key" for logs */
    apr_time_t started;
    /* response */
    long status;
    apr_table_t *rh;                /* headers, lower-cased names */
    apr_uint64_t body_bytes;
    /* body sinks: a caller buffer, callbacks, or a malloc'd buffer */
    char *buf;
    apr_size_t cap;
    apr_size_t got;
    apr_off_t range_offset;
    int filled;                     /* buffer full from a 200: stop early */
    h5s3_s3_head_cb on_head;
    h5s3_s3_data_cb on_data;
    void *baton;
    int head_called;
    char *mem;
    apr_size_t mem_len, mem_cap, mem_max;
    /* upload */
    const char *up;
    apr_size_t up_len, up_off;
    h5s3_s3_read_cb read_cb;
    void *read_baton;
    /* failures found by the exchange (counted as S3 errors), or by the
     * caller's callbacks (not counted) */
    apr_status_t own_rv;
    const char *own_msg;
    apr_status_t cb_rv;
    char errbuf[CURL_ERROR_SIZE];
    h5s3_s3_range *range;           /* get_ranges bookkeeping */
} h5s3_s3_xfer;

/* Sets up a body sink (or other fields) of an exchange before it runs. */
typedef void (*h5s3_s3_prep_fn)(h5s3_s3_xfer *x, void *baton);

/*
 * Build, sign and configure one exchange on a pooled handle.  The body
 * kept in memory (x->mem) lives until h5s3_s3_xfer_release or p's end.
 */
apr_status_t h5s3_s3_xfer_begin(h5s3_s3_xfer **out, h5s3_s3_client *c,
                                const h5s3_s3_xreq *rq, apr_pool_t *p);

/*
 * Map the outcome of an exchange that ran (cc: curl's result), account
 * for it in call (may be NULL) and give the handle back.
 */
apr_status_t h5s3_s3_xfer_end(h5s3_s3_xfer *x, CURLcode cc,
                              h5s3_s3_call *call);

/* Drop an exchange without an outcome: its handle is not trusted again. */
void h5s3_s3_xfer_abandon(h5s3_s3_xfer *x);

/* Free the body kept in memory now rather than at the pool's end. */
void h5s3_s3_xfer_release(h5s3_s3_xfer *x);

/*
 * Run one exchange on the calling thread (h5s3_s3_xfer_begin, prep, curl,
 * h5s3_s3_xfer_end); a request without a body is tried once more on a
 * fresh connection when a kept-alive one was found closed.  *out is the
 * exchange that ran to the end, NULL when none did.
 */
apr_status_t h5s3_s3_perform(h5s3_s3_xfer **out, h5s3_s3_client *c,
                             const h5s3_s3_xreq *rq, h5s3_s3_prep_fn prep,
                             void *prep_baton, h5s3_s3_call *call,
                             apr_pool_t *p);

/*
 * 1 when an exchange that ended with cc failed on a kept-alive connection
 * the server had closed, and may be sent again on a fresh one.
 */
int h5s3_s3_xfer_retryable(CURLcode cc, const h5s3_s3_xfer *x);

/* What the response headers of x say about the object. */
h5s3_s3_object_info *h5s3_s3_xfer_info(const h5s3_s3_xfer *x,
                                       apr_pool_t *p);

/* "bytes a-b/total": the total, or -1; *start is a, or -1. */
apr_off_t h5s3_s3_content_range_total(const char *cr, apr_off_t *start);

/* Append one header or query parameter to an array of h5s3_s3_kv. */
void h5s3_s3_kv_add(apr_array_header_t *a, const char *name,
                    const char *value);

/* An ETag as an If-Match value: quoted unless it is already, or "*". */
const char *h5s3_s3_if_match_value(const char *etag, apr_pool_t *p);

#endif
