/*
 * Shared declarations of the httpd glue: configuration records and their
 * getters, the module state and its lifecycle, the per-request context,
 * the hook functions mod_h5s3.c registers and the response helpers every
 * route uses.  Core code never includes this file.
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
#include <apr_reslist.h>
#include <apr_shm.h>
#include <apr_thread_mutex.h>
#include <jansson.h>

#include "base/h5s3_cache.h"
#include "s3/h5s3_s3.h"
#include "hdf5/h5s3_h5_file.h"
#include "base/h5s3_token.h"

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
    const char *token_secret;           /* H5S3TokenSecret, resolved */
    /*
     * H5S3CACertificateFile, H5S3CACertificatePath and
     * H5S3ClientCertificateFile, read and checked as the directives are
     * (as root, before httpd drops privileges).
     */
    h5s3_s3_tls tls;
    /*
     * What cache keys are scoped by: the endpoint plus a digest of the
     * credentials (and of the client certificate, which is a credential
     * too), so a vhost whose credentials S3 would refuse can never read
     * what another vhost cached for the same bucket.
     */
    const char *cache_scope;
    /* H5S3Limit: what one request may make the module do (0: unset). */
    apr_uint64_t limits_set[H5S3_H5_LIMIT_COUNT];
    h5s3_h5_limits limits;              /* effective, after the merge */
    /* Built in child_init, one per process. */
    h5s3_s3_client *client;
} h5s3_srv_conf;

/* H5S3RateLimit of a <Location> (glue/ops/ratelimit.c). */
typedef struct h5s3_ratelimit_conf {
    double rate;                        /* tokens per second; 0 off */
    double burst;                       /* bucket size */
    const char *zone;                   /* the Location it was set in */
} h5s3_ratelimit_conf;

/* H5S3CORS* of a <Location> (glue/ops/cors.c). */
typedef struct h5s3_cors_conf {
    apr_array_header_t *origins;        /* of const char * */
    int any;                            /* "*" */
    long max_age;
    const char *headers;                /* Access-Control-Allow-Headers */
    int credentials;
    const void *line, *headers_line;    /* directive lines being read */
} h5s3_cors_conf;

/* Per <Location>. */
typedef struct h5s3_dir_conf {
    int debug_headers;
    h5s3_ratelimit_conf ratelimit;
    h5s3_cors_conf cors;
    int upload;                         /* H5S3Upload */
    apr_off_t max_upload;               /* H5S3MaxUploadSize, -1 unset */
} h5s3_dir_conf;

/*
 * Settings of the main server only (GLOBAL_ONLY directives), read again
 * with every generation's configuration.  0 or NULL when unset: read
 * them through the h5s3_conf_* getters below.
 */
typedef struct h5s3_global_conf {
    apr_off_t page_cache_size;          /* H5S3PageCache */
    int decode_threads;                 /* H5S3DecodeThreads */
    apr_off_t memory_budget;            /* H5S3MemoryBudget */
    const char *refcache_dir;           /* H5S3RefCacheDir, absolute */
} h5s3_global_conf;

/*
 * Effective values with defaults applied (glue/config.c, where every
 * default is defined): read a setting that may be unset only through
 * these.
 */
const char *h5s3_conf_region(const h5s3_srv_conf *sc);
long h5s3_conf_list_ttl(const h5s3_srv_conf *sc);           /* seconds */
long h5s3_conf_meta_ttl(const h5s3_srv_conf *sc);
long h5s3_conf_validate_ttl(const h5s3_srv_conf *sc);
long h5s3_conf_connect_timeout(const h5s3_srv_conf *sc);    /* seconds */
long h5s3_conf_total_timeout(const h5s3_srv_conf *sc);
int h5s3_conf_virtual_host(const h5s3_srv_conf *sc);
/* The S3 client configuration of a vhost. */
void h5s3_conf_s3_config(h5s3_s3_config *cfg, const h5s3_srv_conf *sc);
int h5s3_conf_debug_headers(const h5s3_dir_conf *dc);
int h5s3_conf_upload(const h5s3_dir_conf *dc);
apr_off_t h5s3_conf_max_upload(const h5s3_dir_conf *dc);     /* bytes */
apr_size_t h5s3_conf_page_cache_size(const h5s3_global_conf *gc);
int h5s3_conf_decode_threads(const h5s3_global_conf *gc);
apr_uint64_t h5s3_conf_memory_budget(const h5s3_global_conf *gc);
/* H5S3RefCacheDir, else a directory in DefaultRuntimeDir (made from p). */
const char *h5s3_conf_refcache_dir(const h5s3_global_conf *gc,
                                   apr_pool_t *p);

extern const command_rec h5s3_directives[];
void *h5s3_create_srv_conf(apr_pool_t *p, server_rec *s);
void *h5s3_merge_srv_conf(apr_pool_t *p, void *base, void *add);
void *h5s3_create_dir_conf(apr_pool_t *p, char *dir);
void *h5s3_merge_dir_conf(apr_pool_t *p, void *base, void *add);
/*
 * Reading a directive's value, for the setters of every part
 * (glue/config.c).  Each returns NULL, or the message httpd prints, which
 * names the directive and the value: "H5S3X: 'v' is not valid: why".
 * Nothing is stored when the value is refused.
 */
const char *h5s3_directive_bad(cmd_parms *cmd, const char *value,
                               const char *why);
/* A size (512K, 64M, 1G) of at least min bytes, else too_small. */
const char *h5s3_directive_size(apr_off_t *out, cmd_parms *cmd,
                                const char *arg, apr_off_t min,
                                const char *too_small);
/* A whole number from min to max. */
const char *h5s3_directive_long(long *out, cmd_parms *cmd, const char *arg,
                                long min, long max);
/*
 * A secret given as a literal, env:NAME or file:/path; the message names
 * the spec only when it is not the secret itself.
 */
const char *h5s3_directive_secret(const char **out, cmd_parms *cmd,
                                  const char *spec);
const char *h5s3_directive_secret_bad(cmd_parms *cmd, const char *spec,
                                      const char *why);
/* H5S3Cache PROVIDER[:ARGS] (glue/socache.c). */
const char *h5s3_socache_configure(cmd_parms *cmd, const char *arg);
/*
 * The check_config of every server: buckets need an endpoint.  Logs what
 * is wrong, naming the directive and the server; also resolves each
 * server's cache scope.
 */
apr_status_t h5s3_conf_check_servers(server_rec *s, apr_pool_t *ptemp);

/* ------------------------------------------------------------------ */
/* Module state (glue/state.c)                                          */
/*
 * Everything the module holds outside its configuration records lives in
 * one struct, h5s3_module_state, and comes in three lifetimes:
 *
 *  generation  cleared in pre_config, filled while the configuration is
 *              read and in post_config (in pconf, before the children
 *              fork, so every child of one generation shares it);
 *  child       made in child_init in pchild, taken down by the child
 *              pool's cleanup (h5s3_state_child_init registers it);
 *  server life h5s3_retained, made once in the process pool and found
 *              again through ap_retained_data, so that it survives
 *              graceful restarts.
 *
 * glue/state.c owns the lifecycle: one pre_config, check_config,
 * post_config and child_init, each calling every part below in order.
 * A part's lifecycle functions set up only its own member; the rest of
 * the glue reads them.
 */

/* The shared cache (glue/socache.c), per generation. */
typedef struct h5s3_socache_state {
    const char *provider_name;          /* H5S3Cache's, or the default */
    const char *args;
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;          /* attached again in each child */
} h5s3_socache_state;

/* HDF5 reading (glue/hdf5_state.c). */
struct h5s3_h5_files;
struct h5s3_pagecache;
typedef struct h5s3_hdf5_state {
    apr_shm_t *segment;                 /* the page cache's shared memory */
    apr_global_mutex_t *mutex;          /* over the page cache */
    struct h5s3_pagecache *page_cache;  /* attached again in each child */
    struct h5s3_h5_files *files;        /* child: the open files */
} h5s3_hdf5_state;

/* The bucket browser API (glue/api_state.c), per generation. */
typedef struct h5s3_api_state {
    h5s3_token_key *random_key;         /* for vhosts without a secret */
    const char *refcache_path;          /* H5S3RefCacheDir, resolved */
} h5s3_api_state;

/* Savings jobs (glue/routes/api_savings.c). */
struct h5s3_api_savings_job;
typedef struct h5s3_api_savings_state {
    apr_global_mutex_t *claim_mutex;    /* a claim is atomic on one host */
    apr_pool_t *pool;                   /* child: the jobs' pools' parent,
                                         * with a thread-safe allocator */
    apr_thread_mutex_t *lock;           /* child: over jobs and closing */
    struct h5s3_api_savings_job *jobs;  /* child: started, not yet joined */
    int closing;                        /* child: exiting, start none */
} h5s3_api_savings_state;

/* The rate-limit table (glue/ops/ratelimit.c). */
typedef struct h5s3_ratelimit_table {
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;
    const char *lockfile;
} h5s3_ratelimit_table;

/*
 * The rate limit's budget on the shared cache's server, for a fleet
 * (glue/ops/ratelimit_fleet.c): set in post_config when H5S3Cache names
 * redis or memcache, connections made per child.
 */
typedef struct h5s3_ratelimit_fleet {
    int on;                             /* 0: shmcb, budget per machine */
    int kind;                           /* h5s3_fleetrl_kind */
    const char *name;                   /* "redis HOST:PORT" */
    const char *host;
    apr_port_t port;
    apr_sockaddr_t *addr;               /* child */
    apr_reslist_t *conns;               /* child: NULL, not usable */
    volatile apr_time_t retry_at;       /* child: skip the provider until */
} h5s3_ratelimit_fleet;

/* In the rate-limit table, shared by the processes of one server. */
typedef struct h5s3_ratelimit_shared {
    volatile apr_uint32_t down;         /* 0, or when it failed (ms | 1) */
    volatile apr_uint32_t failures;     /* failed exchanges, ever */
} h5s3_ratelimit_shared;

/*
 * What lives as long as the server (glue/state.c keeps it; its key
 * there names this layout): graceful restarts keep who was throttled and
 * the /server-status counters, and old and new children lock the same
 * mutex over the same table.
 */
typedef struct h5s3_retained {
    h5s3_ratelimit_table ratelimit;     /* glue/ops/ratelimit.c */
    apr_shm_t *counters;                /* glue/ops/server_status.c */
} h5s3_retained;

typedef struct h5s3_state {
    h5s3_global_conf conf;              /* main-server directives */
    server_rec *log_server;             /* where the core's lines go */
    h5s3_cache cache;                   /* the shared cache, for the core */
    h5s3_socache_state socache;
    h5s3_hdf5_state hdf5;
    h5s3_api_state api;
    h5s3_api_savings_state savings;
    h5s3_retained *retained;            /* from post_config on */
    /* This generation's use of retained memory; NULL: not available. */
    h5s3_ratelimit_table *ratelimit;
    h5s3_ratelimit_fleet ratelimit_fleet;
    volatile apr_uint64_t *counters;
} h5s3_state;

extern h5s3_state h5s3_module_state;

/* The lifecycle hooks (registered in mod_h5s3.c). */
int h5s3_state_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp);
int h5s3_state_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s);
int h5s3_state_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s);
void h5s3_state_child_init(apr_pool_t *pchild, server_rec *s);

/*
 * A part's global mutex (glue/state.c), of a type the part registered in
 * pre_config: made in post_config, attached in every child (with the
 * lock file ap_global_mutex_create gave, or, lockfile NULL, the one the
 * mutex names).  A failure is logged under the part's code: "cannot
 * create the WHAT mutex" (emerg), "cannot attach the WHAT mutex in a
 * child" (crit).
 */
apr_status_t h5s3_mutex_create(apr_global_mutex_t **mutex,
                               const char **lockfile, const char *type,
                               server_rec *s, apr_pool_t *p,
                               const char *code, const char *what);
apr_status_t h5s3_mutex_child_init(apr_global_mutex_t **mutex,
                                   const char *lockfile, apr_pool_t *pchild,
                                   server_rec *s, const char *code,
                                   const char *what);

/* The parts' lifecycle, called from glue/state.c only. */
apr_status_t h5s3_socache_pre_config(apr_pool_t *pconf);
apr_status_t h5s3_socache_post_config(apr_pool_t *pconf, server_rec *s);
apr_status_t h5s3_socache_child_init(apr_pool_t *pchild, server_rec *s);

apr_status_t h5s3_hdf5_pre_config(apr_pool_t *pconf);
apr_status_t h5s3_hdf5_post_config(apr_pool_t *pconf, server_rec *s);
apr_status_t h5s3_hdf5_child_init(apr_pool_t *pchild, server_rec *s);

apr_status_t h5s3_api_post_config(apr_pool_t *pconf, server_rec *s);

apr_status_t h5s3_api_savings_pre_config(apr_pool_t *pconf);
apr_status_t h5s3_api_savings_post_config(apr_pool_t *pconf, server_rec *s);
apr_status_t h5s3_api_savings_child_init(apr_pool_t *pchild, server_rec *s);
/* Cancel and join every job of this process, free their pool. */
void h5s3_api_savings_child_exit(void);

apr_status_t h5s3_ratelimit_pre_config(apr_pool_t *pconf);
apr_status_t h5s3_ratelimit_post_config(server_rec *s);
apr_status_t h5s3_ratelimit_child_init(apr_pool_t *pchild, server_rec *s);

apr_status_t h5s3_server_status_post_config(server_rec *s);

struct h5s3_req;
struct h5s3_h5_file;
/*
 * HDF5 work on an open file (glue/hdf5_run.c).  prefetch (may be NULL)
 * runs first, outside the work, so S3 fetches happen before HDF5 asks.
 */
typedef apr_status_t h5s3_hdf5_work_fn(json_t **out, struct h5s3_h5_file *f,
                                       void *baton, apr_pool_t *p);
/* The object's ETag, trusted for H5S3ValidateTTL across processes. */
apr_status_t h5s3_object_etag(const char **etag, struct h5s3_req *q,
                              const char *bucket, const char *key);
apr_status_t h5s3_hdf5_run(json_t **out, const char **etag,
                           struct h5s3_req *q, const char *bucket,
                           const char *key, h5s3_hdf5_work_fn *prefetch,
                           h5s3_hdf5_work_fn *work, void *baton);

/* Everything one request needs, passed to every route handler. */
typedef struct h5s3_req {
    request_rec *r;
    h5s3_srv_conf *sc;
    h5s3_dir_conf *dc;
    const char *base;                   /* the Location that chose h5s3 */
    const char *rel;                    /* decoded path below the Location */
    apr_table_t *args;                  /* decoded query, first value wins */
    const char *route;                  /* route name, for logs */
    const char *bucket;                 /* resolved S3 bucket, for logs */
    const char *key;                    /* object key, for logs */
    const char *cache_state;            /* "hit", "miss" or NULL */
    /* The object h5s3_object_etag validated (ETag and size), and which. */
    h5s3_s3_object_info *object;
    const char *object_bucket;
    const char *object_key;
    h5s3_s3_call call;
    /*
     * What went wrong, for the error writers: the core's refusals (the
     * status and a detail naming what was wrong) and, through
     * call.result, which points here, the last failed S3 exchange.  One
     * per request, made with it in the request's pool.
     */
    h5s3_result result;
    /* The Range header as sent (the router unsets it; the Zarr store
     * serves byte ranges). */
    const char *range;
} h5s3_req;

typedef int h5s3_route_fn(h5s3_req *q, const char *key);

/* Operations (glue/ops/ratelimit.c, glue/ops/cors.c,
 * glue/ops/server_status.c, glue/ops/logformat.c); their hooks are
 * registered in mod_h5s3.c, their lifecycle driven by glue/state.c. */
void h5s3_ratelimit_conf_init(h5s3_ratelimit_conf *c);
void h5s3_ratelimit_conf_merge(h5s3_ratelimit_conf *c,
                               const h5s3_ratelimit_conf *base,
                               const h5s3_ratelimit_conf *add);
const char *h5s3_ratelimit_set(cmd_parms *cmd, void *dc, const char *rate,
                               const char *burst);
/* DECLINED when the request may go on, else the 429 was sent: return it. */
int h5s3_ratelimit_check(h5s3_req *q);
apr_status_t h5s3_ratelimit_usage(apr_uint32_t *used, apr_uint32_t *slots);
/* The table's shared flags (NULL: no table). */
h5s3_ratelimit_shared *h5s3_ratelimit_shared_get(void);
/* glue/ops/ratelimit_fleet.c */
apr_status_t h5s3_ratelimit_fleet_post_config(apr_pool_t *pconf,
                                              server_rec *s);
void h5s3_ratelimit_fleet_child_init(apr_pool_t *pchild, server_rec *s);
/* 1: allowed, 0: throttled (*wait_us), -1: no fleet budget: ask locally. */
int h5s3_ratelimit_fleet_take(request_rec *r, const h5s3_ratelimit_conf *c,
                              const char *client, apr_int64_t *wait_us);
/* "fleet", "local" or "local (PROVIDER down)"; the provider; failures. */
void h5s3_ratelimit_fleet_status(const char **budget, const char **provider,
                                 apr_uint32_t *failures);

void h5s3_cors_conf_init(h5s3_cors_conf *c);
void h5s3_cors_conf_merge(h5s3_cors_conf *c, const h5s3_cors_conf *base,
                          const h5s3_cors_conf *add);
const char *h5s3_cors_set_origin(cmd_parms *cmd, void *dc, const char *arg);
const char *h5s3_cors_set_max_age(cmd_parms *cmd, void *dc, const char *arg);
const char *h5s3_cors_set_headers(cmd_parms *cmd, void *dc, const char *arg);
const char *h5s3_cors_set_credentials(cmd_parms *cmd, void *dc, int on);
/* The header_parser hook: CORS headers, and the answer to a preflight. */
int h5s3_cors_header_parser(request_rec *r);
/* Is origin on the H5S3CORSAllowOrigin list of c ("*": any origin)? */
int h5s3_cors_origin_allowed(const h5s3_cors_conf *c, const char *origin);

/* What a POST route takes, for the cross-site request guard. */
typedef enum h5s3_post_kind {
    H5S3_POST_NONE = 0,                 /* not a POST route */
    H5S3_POST_JSON,                     /* application/json, body or not */
    H5S3_POST_ACTION,                   /* no body: no type, or JSON */
    H5S3_POST_FILE                      /* a raw file, not a form type */
} h5s3_post_kind;
/*
 * The guard (glue/ops/csrf.c): DECLINED when the POST may go on, else the
 * 403 or 415 was sent in the family's envelope (/api when is_api): return
 * it.
 */
int h5s3_csrf_check(h5s3_req *q, h5s3_post_kind kind, int is_api);

/*
 * The mod_h5s3 section of mod_status's /server-status
 * (glue/ops/server_status.c): counters bumped by the code that sees the
 * event.  Not the HTTP status of a response (h5s3_http_status_for) nor
 * the core's apr_status_t codes (base/h5s3_errors.h).
 */
/* The log_transaction hook: per-request figures from the notes. */
int h5s3_server_status_log_transaction(request_rec *r);
/* mod_status's status_hook: the section itself. */
int h5s3_server_status_hook(request_rec *r, int flags);
void h5s3_server_status_cache_lookup(int hit);
void h5s3_server_status_ratelimit_rejected(void);
void h5s3_server_status_preflight(void);
/*
 * Savings jobs (glue/routes/api_savings.c), +1 or -1: threads running, and
 * job records a process keeps until it joined their thread.
 */
void h5s3_server_status_savings_running(int delta);
void h5s3_server_status_savings_held(int delta);

/* %{NOTE}J for LogFormat, registered with mod_log_config (pre_config). */
void h5s3_logformat_pre_config(apr_pool_t *pconf);

/*
 * Route answers in the shared cache (glue/answer_cache.c).  The key is the
 * vhost's cache scope, bucket, key, ETag and shape (every other argument
 * that shapes the answer).  A lookup that hits sends the answer, with
 * "cached":false turned into true when flip_cached, and returns 1.
 */
const char *h5s3_answer_key(h5s3_req *q, const char *bucket, const char *key,
                            const char *etag, const char *shape);
int h5s3_answer_lookup(h5s3_req *q, const char *ns, const char *ckey,
                       long ttl, int flip_cached);
void h5s3_answer_store(h5s3_req *q, const char *ns, const char *ckey,
                       const char *text, apr_size_t len, long ttl);

/* Router (glue/router.c): the handler hook, and the translate_name and
 * map_to_storage hooks that keep core from mapping h5s3 URLs to files. */
int h5s3_handler(request_rec *r);
int h5s3_translate_name(request_rec *r);
int h5s3_map_to_storage(request_rec *r);

/* Responses (glue/respond.c).  Each returns OK so handlers can `return` it. */
int h5s3_send_body(h5s3_req *q, int status, const char *ctype,
                   const char *body, apr_size_t len);
int h5s3_send_json(h5s3_req *q, int status, const json_t *body);
/* HDF Viewer envelope {"error": msg, "success": false}. */
int h5s3_viewer_error(h5s3_req *q, int status, const char *msg);
/* The HTTP status and a message for a failed core call (S3 or HDF5). */
int h5s3_http_status_for(apr_status_t rv);
const char *h5s3_message_for(h5s3_req *q, apr_status_t rv);
/*
 * Route notes and debug headers.  Runs again at the end of every request
 * (for notes); a route that streams its own body calls it before the first
 * byte (h5s3_send_body does), or the debug headers are lost.
 */
void h5s3_finish_request(h5s3_req *q);

/* Bucket mapping: alias (NULL or "" = default) to bucket, NULL if unmapped. */
const h5s3_bucket_map *h5s3_bucket_lookup(const h5s3_srv_conf *sc,
                                          const char *alias);

/*
 * The cache family of a bucket's listings, for the viewer's /files and
 * /api/objects alike: bumping its generation (refresh, upload) drops both.
 */
const char *h5s3_listing_family(const h5s3_srv_conf *sc, const char *bucket,
                                apr_pool_t *p);

/* HDF Viewer routes (glue/routes/viewer_files.c). */
int h5s3_route_root(h5s3_req *q, const char *key);
int h5s3_route_health(h5s3_req *q, const char *key);
int h5s3_route_files(h5s3_req *q, const char *key);
int h5s3_route_files_refresh(h5s3_req *q, const char *key);

/* HDF Viewer routes that read HDF5 (glue/routes/viewer_hdf5.c). */
const h5s3_bucket_map *h5s3_viewer_bucket(h5s3_req *q, int *rc);
int h5s3_route_children(h5s3_req *q, const char *key);
int h5s3_route_meta(h5s3_req *q, const char *key);

/* HDF Viewer routes that serve values (glue/routes/viewer_data.c). */
int h5s3_route_preview(h5s3_req *q, const char *key);
int h5s3_route_data(h5s3_req *q, const char *key);
int h5s3_route_export_csv(h5s3_req *q, const char *key);

/* Bucket browser API under /api (glue/routes/api*.c, docs/browser-api.md). */
const char *h5s3_api_set_token_secret(cmd_parms *cmd, void *dc,
                                      const char *spec);
const char *h5s3_api_set_refcache_dir(cmd_parms *cmd, void *dc,
                                      const char *arg);
const char *h5s3_api_set_upload(cmd_parms *cmd, void *dc, int on);
const char *h5s3_api_set_max_upload(cmd_parms *cmd, void *dc,
                                    const char *arg);
/* /api error envelope (docs/browser-api.md §2) {"error": {code, message, details}}; details (may be
 * NULL) is stolen. */
int h5s3_api_error(h5s3_req *q, int status, const char *code,
                   const char *msg, json_t *details);
int h5s3_route_api_buckets(h5s3_req *q, const char *key);
int h5s3_route_api_compute_savings(h5s3_req *q, const char *key);
int h5s3_route_api_objects(h5s3_req *q, const char *key);
int h5s3_route_api_metadata(h5s3_req *q, const char *key);
int h5s3_route_api_download_prepare(h5s3_req *q, const char *key);
int h5s3_route_api_download(h5s3_req *q, const char *key);
int h5s3_route_api_upload(h5s3_req *q, const char *key);

/* h5grove-compatible API under /h5grove/ (glue/routes/grove.c). */
/* h5grove's error body {"message": msg}. */
int h5s3_grove_error(h5s3_req *q, int status, const char *msg);
int h5s3_route_grove_root(h5s3_req *q, const char *key);
int h5s3_route_grove_meta(h5s3_req *q, const char *key);
int h5s3_route_grove_attr(h5s3_req *q, const char *key);
int h5s3_route_grove_data(h5s3_req *q, const char *key);
int h5s3_route_grove_stats(h5s3_req *q, const char *key);
int h5s3_route_grove_paths(h5s3_req *q, const char *key);

/* Zarr v2 store view (glue/routes/zarr.c, docs/zarr.md): raw is the path
 * below /zarr/, still percent-encoded. */
int h5s3_route_zarr(h5s3_req *q, const char *raw);

/* GET /openapi.yaml, the embedded openapi.yaml (glue/routes/openapi.c). */
int h5s3_route_openapi(h5s3_req *q, const char *key);

#endif
