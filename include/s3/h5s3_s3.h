/*
 * S3 client core: SigV4-signed requests over libcurl, with a per-process
 * pool of easy handles.  No httpd headers here: the module glue and the
 * unit tests use the same code.
 */
#ifndef H5S3_S3_H
#define H5S3_S3_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "base/h5s3_errors.h"
#include "base/h5s3_result.h"

/*
 * The longest key S3 stores, in bytes (UTF-8).  A longer key names no
 * object, and S3 refuses a request for one (400), which would read as a
 * gateway failure: callers refuse it first.  A plain number, so that
 * APR_STRINGIFY() can put it in messages.
 */
#define H5S3_S3_KEY_MAX 1024

/*
 * TLS to an https endpoint beyond the defaults, read at configuration
 * time (s3/h5s3_s3_tls.h loads and checks it), before httpd gives up
 * root, so a key only root can read still reaches the children.  All
 * NULL: the system's trust store and no client certificate.  The peer's
 * certificate and its host name are always verified; nothing here turns
 * that off.  The bytes are not copied by a client: they live as long as
 * the configuration that read them.
 */
typedef struct h5s3_s3_tls {
    const char *ca_pem;         /* PEM CA certificates trusted instead of */
    apr_size_t ca_len;          /* the system store */
    const char *ca_dir;         /* a hashed directory of CA certificates */
    const char *cert_pem;       /* client certificate, then its chain (PEM) */
    apr_size_t cert_len;
    const char *key_pem;        /* its private key (PEM, unencrypted) */
    apr_size_t key_len;
} h5s3_s3_tls;

/* Where and how to reach one S3 service; one per virtual host. */
typedef struct h5s3_s3_config {
    const char *endpoint;       /* http(s)://host[:port], no trailing slash */
    const char *region;         /* SigV4 region, e.g. us-east-1 */
    const char *access_key;     /* NULL: unsigned (anonymous) requests */
    const char *secret_key;
    int virtual_host;           /* 1: bucket.host addressing; 0: path-style */
    long connect_timeout_ms;
    long total_timeout_ms;
    /*
     * What caches of this client's answers are keyed by, besides bucket
     * and key: the endpoint and the credentials, so that a vhost whose
     * credentials S3 would refuse never reads what another vhost cached.
     * NULL: the endpoint alone.
     */
    const char *scope;
    h5s3_s3_tls tls;
} h5s3_s3_config;

/*
 * Per-call accounting.  The caller owns it (one per HTTP request, zeroed
 * to start); the client adds to the counters.  May be NULL.
 */
typedef struct h5s3_s3_call {
    apr_uint32_t requests;      /* S3 requests issued */
    apr_uint64_t bytes;         /* response body bytes received */
    apr_uint32_t errors;        /* S3 requests that failed */
    /*
     * Where the last failed exchange is told: its HTTP status, S3's Code
     * (or a curl reason) and Message, in the s3_* fields.  NULL: counted
     * only.  A pointer rather than a result of the call's own: the glue
     * points it at the request's one result, so what S3 answered and
     * what the core refused reach the error writers in the same struct,
     * while every S3 call site still passes just the call.
     */
    h5s3_result *result;
} h5s3_s3_call;

typedef struct h5s3_s3_client h5s3_s3_client;

/* What HEAD (or a GET) tells about an object. */
typedef struct h5s3_s3_object_info {
    apr_off_t size;
    const char *etag;           /* without the surrounding quotes */
    apr_time_t mtime;           /* Last-Modified */
    const char *content_type;
    apr_table_t *meta;          /* x-amz-meta-NAME -> value, NAME lower-cased */
} h5s3_s3_object_info;

/* One ListObjectsV2 entry. */
typedef struct h5s3_s3_entry {
    const char *key;
    apr_off_t size;
    const char *etag;           /* without quotes */
    apr_time_t mtime;
    const char *last_modified;  /* as S3 sent it (ISO 8601) */
} h5s3_s3_entry;

/* One page of ListObjectsV2. */
typedef struct h5s3_s3_list_page {
    apr_array_header_t *entries;        /* of h5s3_s3_entry */
    apr_array_header_t *prefixes;       /* of const char * (CommonPrefixes) */
    int truncated;
    const char *next_token;             /* NextContinuationToken or NULL */
    int key_count;                      /* KeyCount as sent, -1: absent */
} h5s3_s3_list_page;

/* Process-wide set-up: call once before any client is used (curl_global_init). */
apr_status_t h5s3_s3_global_init(void);

/* A client for one configuration; cfg is copied into p. */
apr_status_t h5s3_s3_client_create(h5s3_s3_client **client,
                                   const h5s3_s3_config *cfg, apr_pool_t *p);

/* The client's cache scope (h5s3_s3_config.scope, or its endpoint). */
const char *h5s3_s3_client_scope(const h5s3_s3_client *c);

/*
 * Forget pooled curl handles inherited from a parent process without
 * cleaning them up (their sockets belong to the parent): call in child_init.
 */
void h5s3_s3_pool_forget(void);

apr_status_t h5s3_s3_head(h5s3_s3_object_info **info, h5s3_s3_client *c,
                          const char *bucket, const char *key,
                          h5s3_s3_call *call, apr_pool_t *p);

/*
 * Ranged GET of [offset, offset+len) into buf.  *got receives the bytes
 * read (short at end of object).  if_match: when not NULL, the ETag the
 * object must still have (If-Match); a changed object gives
 * H5S3_E_CHANGED.
 */
apr_status_t h5s3_s3_get_range(apr_size_t *got, h5s3_s3_client *c,
                               const char *bucket, const char *key,
                               const char *if_match, apr_off_t offset,
                               apr_size_t len, char *buf,
                               h5s3_s3_call *call, apr_pool_t *p);

/*
 * The same, and *info (may be NULL: not wanted) receives what the
 * response says about the object: ETag, Last-Modified and the object's
 * size (from Content-Range, or Content-Length for a 200).  A range past
 * the end (416, e.g. any range of an empty object) gives *got 0 and a
 * size of 0; its ETag may be NULL.  So one GET can stand for HEAD + GET.
 */
apr_status_t h5s3_s3_get_range_info(apr_size_t *got,
                                    h5s3_s3_object_info **info,
                                    h5s3_s3_client *c, const char *bucket,
                                    const char *key, const char *if_match,
                                    apr_off_t offset, apr_size_t len,
                                    char *buf, h5s3_s3_call *call,
                                    apr_pool_t *p);

/* Many ranges of one object at once (curl multi), at most max_parallel in flight. */
typedef struct h5s3_s3_range {
    apr_off_t offset;
    apr_size_t len;
    char *buf;                  /* len bytes, owned by the caller */
    apr_size_t got;             /* out */
    apr_status_t status;        /* out */
} h5s3_s3_range;

apr_status_t h5s3_s3_get_ranges(h5s3_s3_client *c, const char *bucket,
                                const char *key, const char *if_match,
                                h5s3_s3_range *ranges, int n,
                                int max_parallel, h5s3_s3_call *call,
                                apr_pool_t *p);

/*
 * HEADs of many keys of one bucket at once (curl multi), at most
 * max_parallel in flight, each counted in call as one request.  Every
 * item gets its own status (and info on success); a keep-alive
 * connection found closed is tried once more.  The return is
 * APR_SUCCESS unless the multi handle itself could not be had: callers
 * read the items' statuses.
 */
typedef struct h5s3_s3_head_item {
    const char *key;
    h5s3_s3_object_info *info;  /* out: NULL unless status is APR_SUCCESS */
    apr_status_t status;        /* out */
} h5s3_s3_head_item;

apr_status_t h5s3_s3_head_many(h5s3_s3_client *c, const char *bucket,
                               h5s3_s3_head_item *items, int n,
                               int max_parallel, h5s3_s3_call *call,
                               apr_pool_t *p);

/*
 * Streaming GET of a whole object (or from offset to the end when
 * offset > 0).  on_head is called once with the object's info before the
 * first body byte (may be NULL); on_data for each piece of the body.  A
 * non-APR_SUCCESS return from a callback aborts the transfer and is
 * returned.
 */
typedef apr_status_t (*h5s3_s3_head_cb)(void *baton, const h5s3_s3_object_info *info);
typedef apr_status_t (*h5s3_s3_data_cb)(void *baton, const char *data, apr_size_t len);

apr_status_t h5s3_s3_get_stream(h5s3_s3_client *c, const char *bucket,
                                const char *key, const char *if_match,
                                h5s3_s3_head_cb on_head,
                                h5s3_s3_data_cb on_data, void *baton,
                                h5s3_s3_call *call, apr_pool_t *p);

/*
 * PUT an object whose body is pulled from read_cb (returns bytes in *len,
 * 0 at end).  size must be known (Content-Length); the payload is sent
 * UNSIGNED-PAYLOAD so it can stream.  meta: x-amz-meta-* names without
 * the prefix (may be NULL).
 */
typedef apr_status_t (*h5s3_s3_read_cb)(void *baton, char *buf, apr_size_t *len);

apr_status_t h5s3_s3_put_stream(h5s3_s3_client *c, const char *bucket,
                                const char *key, apr_off_t size,
                                const char *content_type, apr_table_t *meta,
                                h5s3_s3_read_cb read_cb, void *baton,
                                h5s3_s3_call *call, apr_pool_t *p);

/* PUT of a small in-memory body (signed payload). */
apr_status_t h5s3_s3_put(h5s3_s3_client *c, const char *bucket,
                         const char *key, const char *body, apr_size_t len,
                         const char *content_type, apr_table_t *meta,
                         h5s3_s3_call *call, apr_pool_t *p);

/* One ListObjectsV2 page. prefix/delimiter/token may be NULL; max_keys 1..1000. */
apr_status_t h5s3_s3_list(h5s3_s3_list_page **page, h5s3_s3_client *c,
                          const char *bucket, const char *prefix,
                          const char *delimiter, const char *token,
                          int max_keys, h5s3_s3_call *call, apr_pool_t *p);

#endif
