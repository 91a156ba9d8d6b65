/*
 * Shared declarations of the httpd glue: configuration records, the
 * per-request context and the response helpers every route uses.  Core
 * code never includes this file.
 */
#ifndef H5S3_GLUE_H
#define H5S3_GLUE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_socache.h>
#include <apr_global_mutex.h>
#include <jansson.h>

#include "h5s3_cache.h"
#include "h5s3_s3.h"

extern module AP_MODULE_DECLARE_DATA h5s3_module;

#define H5S3_UNSET (-1)

/* One H5S3Bucket line. */
typedef struct h5s3_bucket_map {
    const char *bucket;
    const char *alias;          /* defaults to the bucket name */
} h5s3_bucket_map;

/* Per server / virtual host.  Unset fields are NULL or H5S3_UNSET. */
typedef struct h5s3_srv_conf {
    server_rec *server;
    const char *endpoint;
    const char *region;
    const char *access_key;
    const char *secret_key;
    int creds_set;
    apr_array_header_t *buckets;        /* of h5s3_bucket_map */
    int buckets_set;
    long connect_timeout;               /* seconds */
    long total_timeout;
    long list_ttl;
    long meta_ttl;
    long validate_ttl;
    int virtual_host;
    /* Built in child_init, one per process. */
    h5s3_s3_client *client;
} h5s3_srv_conf;

/* Per <Location>. */
typedef struct h5s3_dir_conf {
    const char *base;                   /* the Location path the handler serves */
    int debug_headers;
} h5s3_dir_conf;

/* Process-wide settings (global context only). */
typedef struct h5s3_global_conf {
    const char *cache_provider_name;
    const char *cache_args;
    const ap_socache_provider_t *cache_provider;
    ap_socache_instance_t *cache_instance;
    apr_global_mutex_t *cache_mutex;
    h5s3_cache cache;                   /* the core's view of the socache */
    apr_off_t page_cache_size;
} h5s3_global_conf;

extern h5s3_global_conf h5s3_global;

/* Effective values with defaults applied. */
const char *h5s3_conf_region(const h5s3_srv_conf *sc);
long h5s3_conf_list_ttl(const h5s3_srv_conf *sc);
long h5s3_conf_meta_ttl(const h5s3_srv_conf *sc);
long h5s3_conf_validate_ttl(const h5s3_srv_conf *sc);

extern const command_rec h5s3_directives[];
void *h5s3_create_srv_conf(apr_pool_t *p, server_rec *s);
void *h5s3_merge_srv_conf(apr_pool_t *p, void *base, void *add);
void *h5s3_create_dir_conf(apr_pool_t *p, char *dir);
void *h5s3_merge_dir_conf(apr_pool_t *p, void *base, void *add);
/* post_config check of every vhost: buckets need an endpoint. */
apr_status_t h5s3_conf_check_servers(server_rec *s, apr_pool_t *ptemp);

/* socache glue (h5s3_socache.c). */
const char *h5s3_socache_configure(cmd_parms *cmd, const char *arg);
apr_status_t h5s3_socache_pre_config(apr_pool_t *pconf);
apr_status_t h5s3_socache_post_config(apr_pool_t *pconf, server_rec *s);
void h5s3_socache_child_init(apr_pool_t *p, server_rec *s);

/* Everything one request needs, passed to every route handler. */
typedef struct h5s3_req {
    request_rec *r;
    h5s3_srv_conf *sc;
    h5s3_dir_conf *dc;
    const char *rel;                    /* decoded path below the Location */
    apr_table_t *args;                  /* decoded query, first value wins */
    const char *route;                  /* route name, for logs */
    const char *bucket;                 /* resolved S3 bucket, for logs */
    const char *key;                    /* object key, for logs */
    const char *cache_state;            /* "hit", "miss" or NULL */
    h5s3_s3_call call;
} h5s3_req;

typedef int h5s3_route_fn(h5s3_req *q, const char *key);

/* Router (h5s3_router.c): the handler hook. */
int h5s3_handler(request_rec *r);

/* Responses (h5s3_respond.c).  Each returns OK so handlers can `return` it. */
int h5s3_send_body(h5s3_req *q, int status, const char *ctype,
                   const char *body, apr_size_t len);
int h5s3_send_json(h5s3_req *q, int status, const json_t *body);
/* HDF Viewer envelope {"error": msg, "success": false}. */
int h5s3_viewer_error(h5s3_req *q, int status, const char *msg);
/* The HTTP status and a message for a failed core call (S3 or HDF5). */
int h5s3_status_for(apr_status_t rv);
const char *h5s3_message_for(h5s3_req *q, apr_status_t rv);
/* Route notes, debug headers and the one log line of a failure. */
void h5s3_finish_request(h5s3_req *q);

/* Bucket mapping: alias (NULL or "" = default) to bucket, NULL if unmapped. */
const h5s3_bucket_map *h5s3_bucket_lookup(const h5s3_srv_conf *sc,
                                          const char *alias);

/* HDF Viewer routes (h5s3_viewer_files.c). */
int h5s3_route_root(h5s3_req *q, const char *key);
int h5s3_route_health(h5s3_req *q, const char *key);
int h5s3_route_files(h5s3_req *q, const char *key);
int h5s3_route_files_refresh(h5s3_req *q, const char *key);

#endif
