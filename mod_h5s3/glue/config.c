/*
 * Directives and configuration records.  Every value is validated here, at
 * configuration time, so `apachectl -t` names the directive and the bad
 * value instead of a request failing later.
 */
#include <string.h>
#include <apr_escape.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_conf_values.h"
#include "s3/h5s3_s3_tls.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/io/h5s3_h5_io.h"
#include "dg/h5s3_dg_store.h"

APLOG_USE_MODULE(h5s3);

/*
 * Defaults.  Each is defined here once and applied by its getter below
 * (h5s3_conf_*): nothing else reads a field that may be unset, so the
 * value a directive leaves out is the same wherever it is used.  The
 * help texts in h5s3_directives quote these numbers.  The decode threads
 * and the memory budget are the core's own defaults (hdf5/h5s3_h5_read.h,
 * hdf5/io/h5s3_h5_io.h), which its unit tests use too.
 */
#define DEFAULT_REGION "us-east-1"
#define DEFAULT_CONNECT_TIMEOUT 5               /* seconds */
#define DEFAULT_TOTAL_TIMEOUT 60                /* seconds */
#define DEFAULT_LIST_TTL 30                     /* seconds */
#define DEFAULT_META_TTL 300                    /* seconds */
#define DEFAULT_VALIDATE_TTL 30                 /* seconds */
#define DEFAULT_PAGE_CACHE_MB 64                /* MiB */
#define DEFAULT_MAX_UPLOAD_MB 1024              /* MiB */
#define DEFAULT_REFCACHE_DIR "h5s3-refcache"    /* in DefaultRuntimeDir */
/*
 * Answers carry a strong ETag: a browser keeps them and asks again with
 * If-None-Match, which costs no S3 request while the object's ETag is
 * trusted (docs/viewer-api.md, "HTTP caching").  private: behind
 * authentication an answer is one user's; a public site says otherwise.
 */
#define DEFAULT_CACHE_CONTROL "private, max-age=0, must-revalidate"

void *h5s3_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    h5s3_srv_conf *sc = apr_pcalloc(p, sizeof(*sc));

    sc->server = s;
    sc->buckets = apr_array_make(p, 4, sizeof(h5s3_bucket_map));
    sc->connect_timeout = H5S3_UNSET;
    sc->total_timeout = H5S3_UNSET;
    sc->list_ttl = H5S3_UNSET;
    sc->meta_ttl = H5S3_UNSET;
    sc->validate_ttl = H5S3_UNSET;
    sc->virtual_host = H5S3_UNSET;
    sc->token_secret = NULL;
    h5s3_h5_limits_default(&sc->limits);
    return sc;
}

#define MERGE_PTR(f) (add->f ? add->f : base->f)
#define MERGE_NUM(f) (add->f != H5S3_UNSET ? add->f : base->f)

/* Each TLS directive is inherited on its own, as mod_ssl's are. */
static void merge_tls(h5s3_s3_tls *t, const h5s3_s3_tls *base,
                      const h5s3_s3_tls *add)
{
    const h5s3_s3_tls *ca = add->ca_pem ? add : base;
    const h5s3_s3_tls *client = add->cert_pem ? add : base;

    t->ca_pem = ca->ca_pem;
    t->ca_len = ca->ca_len;
    t->ca_dir = add->ca_dir ? add->ca_dir : base->ca_dir;
    t->cert_pem = client->cert_pem;
    t->cert_len = client->cert_len;
    t->key_pem = client->key_pem;
    t->key_len = client->key_len;
}

void *h5s3_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    h5s3_srv_conf *base = basev, *add = addv;
    h5s3_srv_conf *sc = apr_pcalloc(p, sizeof(*sc));

    sc->server = add->server;
    sc->endpoint = MERGE_PTR(endpoint);
    sc->region = MERGE_PTR(region);
    sc->creds_set = add->creds_set || base->creds_set;
    sc->access_key = add->creds_set ? add->access_key : base->access_key;
    sc->secret_key = add->creds_set ? add->secret_key : base->secret_key;
    /* A vhost's bucket map replaces the main server's: isolation by default. */
    sc->buckets_set = add->buckets_set || base->buckets_set;
    sc->buckets = add->buckets_set ? add->buckets : base->buckets;
    sc->connect_timeout = MERGE_NUM(connect_timeout);
    sc->total_timeout = MERGE_NUM(total_timeout);
    sc->list_ttl = MERGE_NUM(list_ttl);
    sc->meta_ttl = MERGE_NUM(meta_ttl);
    sc->validate_ttl = MERGE_NUM(validate_ttl);
    sc->virtual_host = MERGE_NUM(virtual_host);
    sc->token_secret = MERGE_PTR(token_secret);
    merge_tls(&sc->tls, &base->tls, &add->tls);
    {
        int k;

        for (k = 0; k < H5S3_H5_LIMIT_COUNT; k++) {
            sc->limits_set[k] = add->limits_set[k] ? add->limits_set[k]
                                                   : base->limits_set[k];
        }
        h5s3_h5_limits_default(&sc->limits);
        for (k = 0; k < H5S3_H5_LIMIT_COUNT; k++) {
            if (sc->limits_set[k]) {
                sc->limits.max[k] = sc->limits_set[k];
            }
        }
    }
    return sc;
}

void *h5s3_create_dir_conf(apr_pool_t *p, char *dir)
{
    h5s3_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    dc->debug_headers = H5S3_UNSET;
    dc->upload = H5S3_UNSET;
    dc->max_upload = H5S3_UNSET;
    h5s3_ratelimit_conf_init(&dc->ratelimit);
    h5s3_cors_conf_init(&dc->cors);
    return dc;
}

void *h5s3_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    h5s3_dir_conf *base = basev, *add = addv;
    h5s3_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    dc->debug_headers = MERGE_NUM(debug_headers);
    dc->upload = MERGE_NUM(upload);
    dc->max_upload = MERGE_NUM(max_upload);
    dc->cache_control = add->cache_control ? add->cache_control
                                           : base->cache_control;
    h5s3_ratelimit_conf_merge(&dc->ratelimit, &base->ratelimit,
                              &add->ratelimit);
    h5s3_cors_conf_merge(&dc->cors, &base->cors, &add->cors);
    return dc;
}

const char *h5s3_conf_region(const h5s3_srv_conf *sc)
{
    return sc->region ? sc->region : DEFAULT_REGION;
}

long h5s3_conf_list_ttl(const h5s3_srv_conf *sc)
{
    return sc->list_ttl != H5S3_UNSET ? sc->list_ttl : DEFAULT_LIST_TTL;
}

long h5s3_conf_meta_ttl(const h5s3_srv_conf *sc)
{
    return sc->meta_ttl != H5S3_UNSET ? sc->meta_ttl : DEFAULT_META_TTL;
}

long h5s3_conf_validate_ttl(const h5s3_srv_conf *sc)
{
    return sc->validate_ttl != H5S3_UNSET ? sc->validate_ttl
                                          : DEFAULT_VALIDATE_TTL;
}

long h5s3_conf_connect_timeout(const h5s3_srv_conf *sc)
{
    return sc->connect_timeout != H5S3_UNSET ? sc->connect_timeout
                                             : DEFAULT_CONNECT_TIMEOUT;
}

long h5s3_conf_total_timeout(const h5s3_srv_conf *sc)
{
    return sc->total_timeout != H5S3_UNSET ? sc->total_timeout
                                           : DEFAULT_TOTAL_TIMEOUT;
}

/* Path-style addressing unless H5S3AddressingStyle virtual. */
int h5s3_conf_virtual_host(const h5s3_srv_conf *sc)
{
    return sc->virtual_host == 1;
}

void h5s3_conf_s3_config(h5s3_s3_config *cfg, const h5s3_srv_conf *sc)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->endpoint = sc->endpoint;
    cfg->region = h5s3_conf_region(sc);
    cfg->access_key = sc->access_key;
    cfg->secret_key = sc->secret_key;
    cfg->virtual_host = h5s3_conf_virtual_host(sc);
    cfg->scope = sc->cache_scope;
    cfg->tls = sc->tls;
    cfg->connect_timeout_ms = 1000L * h5s3_conf_connect_timeout(sc);
    cfg->total_timeout_ms = 1000L * h5s3_conf_total_timeout(sc);
}

int h5s3_conf_debug_headers(const h5s3_dir_conf *dc)
{
    return dc->debug_headers == 1;
}

const char *h5s3_conf_cache_control(const h5s3_dir_conf *dc)
{
    return dc->cache_control ? dc->cache_control : DEFAULT_CACHE_CONTROL;
}

int h5s3_conf_upload(const h5s3_dir_conf *dc)
{
    return dc->upload == 1;
}

apr_off_t h5s3_conf_max_upload(const h5s3_dir_conf *dc)
{
    return dc->max_upload != H5S3_UNSET
           ? dc->max_upload : (apr_off_t)DEFAULT_MAX_UPLOAD_MB * 1024 * 1024;
}

apr_size_t h5s3_conf_page_cache_size(const h5s3_global_conf *gc)
{
    return gc->page_cache_size ? (apr_size_t)gc->page_cache_size
                               : (apr_size_t)DEFAULT_PAGE_CACHE_MB
                                 * 1024 * 1024;
}

int h5s3_conf_decode_threads(const h5s3_global_conf *gc)
{
    return gc->decode_threads ? gc->decode_threads
                              : H5S3_H5_DEFAULT_DECODE_THREADS;
}

int h5s3_conf_probe_parallel(const h5s3_global_conf *gc)
{
    return gc->probe_parallel ? gc->probe_parallel
                              : H5S3_DG_PROBE_PARALLEL_DEFAULT;
}

int h5s3_conf_fetch_parallel(const h5s3_global_conf *gc)
{
    return gc->fetch_parallel ? gc->fetch_parallel
                              : H5S3_H5_DEFAULT_FETCH_PARALLEL;
}

apr_uint64_t h5s3_conf_memory_budget(const h5s3_global_conf *gc)
{
    return gc->memory_budget ? (apr_uint64_t)gc->memory_budget
                             : H5S3_H5_DEFAULT_MEM_BUDGET;
}

const char *h5s3_conf_refcache_dir(const h5s3_global_conf *gc,
                                   apr_pool_t *p)
{
    return gc->refcache_dir ? gc->refcache_dir
                            : ap_runtime_dir_relative(p,
                                                      DEFAULT_REFCACHE_DIR);
}

static h5s3_srv_conf *srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &h5s3_module);
}

const char *h5s3_directive_bad(cmd_parms *cmd, const char *value,
                               const char *why)
{
    return apr_psprintf(cmd->pool, "%s: '%s' is not valid: %s",
                        cmd->directive->directive, value, why);
}

const char *h5s3_directive_size(apr_off_t *out, cmd_parms *cmd,
                                const char *arg, apr_off_t min,
                                const char *too_small)
{
    h5s3_result res;
    apr_off_t size;

    h5s3_result_init(&res, cmd->temp_pool);
    if (h5s3_conf_parse_size(&size, &res, arg)) {
        return h5s3_directive_bad(cmd, arg, res.detail);
    }
    if (size < min) {
        return h5s3_directive_bad(cmd, arg, too_small);
    }
    *out = size;
    return NULL;
}

const char *h5s3_directive_long(long *out, cmd_parms *cmd, const char *arg,
                                long min, long max)
{
    h5s3_result res;

    h5s3_result_init(&res, cmd->temp_pool);
    if (h5s3_conf_parse_long(out, &res, arg, min, max)) {
        return h5s3_directive_bad(cmd, arg, res.detail);
    }
    return NULL;
}

/* Literal secrets are never echoed back: only env:/file: specs are named. */
const char *h5s3_directive_secret_bad(cmd_parms *cmd, const char *spec,
                                      const char *why)
{
    int named = !strncmp(spec, "env:", 4) || !strncmp(spec, "file:", 5);

    return apr_psprintf(cmd->pool, "%s: %s%s%s%s", cmd->directive->directive,
                        named ? "'" : "", named ? spec : "",
                        named ? "': " : "", why);
}

const char *h5s3_directive_secret(const char **out, cmd_parms *cmd,
                                  const char *spec)
{
    h5s3_result res;

    h5s3_result_init(&res, cmd->temp_pool);
    if (h5s3_conf_resolve_secret(out, &res, spec, cmd->pool)) {
        return h5s3_directive_secret_bad(cmd, spec, res.detail);
    }
    return NULL;
}

static const char *set_endpoint(cmd_parms *cmd, void *dc, const char *arg)
{
    h5s3_result res;

    h5s3_result_init(&res, cmd->temp_pool);
    if (h5s3_conf_parse_endpoint(&srv(cmd)->endpoint, &res, arg, cmd->pool)) {
        return h5s3_directive_bad(cmd, arg, res.detail);
    }
    return NULL;
}

static const char *set_region(cmd_parms *cmd, void *dc, const char *arg)
{
    if (*arg == '\0' || strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-")
                        != strlen(arg)) {
        return h5s3_directive_bad(cmd, arg,
                                  "a region has only a-z, 0-9 and '-'");
    }
    srv(cmd)->region = arg;
    return NULL;
}

static const char *set_credentials(cmd_parms *cmd, void *dc,
                                   const char *access, const char *secret)
{
    h5s3_srv_conf *sc = srv(cmd);
    const char *err;

    if ((err = h5s3_directive_secret(&sc->access_key, cmd, access))
        || (err = h5s3_directive_secret(&sc->secret_key, cmd, secret))) {
        return err;
    }
    sc->creds_set = 1;
    return NULL;
}

static const char *add_bucket(cmd_parms *cmd, void *dc, const char *bucket,
                              const char *alias)
{
    h5s3_srv_conf *sc = srv(cmd);
    h5s3_bucket_map *m;
    h5s3_result res;
    int i;

    h5s3_result_init(&res, cmd->temp_pool);
    if (h5s3_conf_check_bucket(&res, bucket)) {
        return h5s3_directive_bad(cmd, bucket, res.detail);
    }
    if (alias == NULL) {
        alias = bucket;
    }
    else if (h5s3_conf_check_alias(&res, alias)) {
        return h5s3_directive_bad(cmd, alias, res.detail);
    }
    if (!sc->buckets_set) {
        /* The first line in this context starts a fresh map. */
        sc->buckets = apr_array_make(cmd->pool, 4, sizeof(h5s3_bucket_map));
        sc->buckets_set = 1;
    }
    for (i = 0; i < sc->buckets->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(sc->buckets, i, h5s3_bucket_map).alias,
                    alias)) {
            return apr_psprintf(cmd->pool, "%s: alias '%s' is already mapped "
                                "in this server", cmd->directive->directive,
                                alias);
        }
    }
    m = apr_array_push(sc->buckets);
    m->bucket = bucket;
    m->alias = alias;
    return NULL;
}

static const char *set_timeout(cmd_parms *cmd, void *dc, const char *conn,
                               const char *total)
{
    h5s3_srv_conf *sc = srv(cmd);
    const char *err;

    if ((err = h5s3_directive_long(&sc->connect_timeout, cmd, conn, 1, 3600))
        || (err = h5s3_directive_long(&sc->total_timeout, cmd, total, 1,
                                      86400))) {
        return err;
    }
    if (sc->total_timeout < sc->connect_timeout) {
        return h5s3_directive_bad(cmd, total, "the total timeout must not be "
                                  "shorter than the connect timeout");
    }
    return NULL;
}

static const char *set_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    long *field = (long *)((char *)srv(cmd) + (apr_size_t)cmd->info);

    return h5s3_directive_long(field, cmd, arg, 0, 30 * 24 * 3600);
}

static const char *set_addressing(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!strcasecmp(arg, "path")) {
        srv(cmd)->virtual_host = 0;
    }
    else if (!strcasecmp(arg, "virtual")) {
        srv(cmd)->virtual_host = 1;
    }
    else {
        return h5s3_directive_bad(cmd, arg, "expected 'path' or 'virtual'");
    }
    return NULL;
}

static const char *set_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    return err ? err : h5s3_socache_configure(cmd, arg);
}

static const char *set_page_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    return err ? err : h5s3_directive_size(
        &h5s3_module_state.conf.page_cache_size, cmd, arg, 1024 * 1024,
        "the page cache needs at least 1M");
}

/* H5S3DecodeThreads N: the process's chunk decode threads. */
static const char *set_decode_threads(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n;

    if (err == NULL && (err = h5s3_directive_long(&n, cmd, arg, 1, 64))
                       == NULL) {
        h5s3_module_state.conf.decode_threads = (int)n;
    }
    return err;
}

/* H5S3FetchParallel N: ranges of one request's batch in flight. */
static const char *set_fetch_parallel(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n;

    if (err == NULL
        && (err = h5s3_directive_long(&n, cmd, arg, 1,
                                      H5S3_H5_MAX_FETCH_PARALLEL)) == NULL) {
        h5s3_module_state.conf.fetch_parallel = (int)n;
    }
    return err;
}

/* H5S3MemoryBudget SIZE: what a process's requests may hold at once. */
static const char *set_memory_budget(cmd_parms *cmd, void *dc,
                                     const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    return err ? err : h5s3_directive_size(
        &h5s3_module_state.conf.memory_budget, cmd, arg, 16 * 1024 * 1024,
        "the memory budget needs at least 16M");
}

/* H5S3Limit NAME VALUE: one per-request budget (include/hdf5/h5s3_h5_file.h). */
static const char *set_limit(cmd_parms *cmd, void *dc, const char *name,
                             const char *arg)
{
    h5s3_srv_conf *sc = srv(cmd);
    int k = h5s3_h5_limit_lookup(name);
    const char *err;
    apr_off_t bytes;
    long n;

    if (k < 0) {
        return apr_psprintf(cmd->pool, "H5S3Limit: unknown limit '%s' "
                            "(read-bytes, prefetch-bytes, prefetch-ranges, "
                            "index-nodes, entries, vlen-bytes)", name);
    }
    if (h5s3_h5_limit_is_bytes(k)) {
        if ((err = h5s3_directive_size(&bytes, cmd, arg, 1024,
                                       "a byte limit is at least 1K"))) {
            return err;
        }
        sc->limits_set[k] = (apr_uint64_t)bytes;
    }
    else {
        if ((err = h5s3_directive_long(&n, cmd, arg, 1, 100000000L))) {
            return err;
        }
        sc->limits_set[k] = (apr_uint64_t)n;
    }
    sc->limits.max[k] = sc->limits_set[k];
    return NULL;
}

/* "DIRECTIVE: detail" for a TLS file; the detail names the file. */
static const char *tls_error(cmd_parms *cmd, const h5s3_result *res)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->directive->directive,
                        h5s3_result_detail(res, "cannot be used"));
}

/*
 * H5S3CACertificateFile PATH.  Read now, while httpd is still root: the
 * children get the bytes, never the file (the same for the two below).
 */
static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    h5s3_result res;

    h5s3_result_init(&res, cmd->temp_pool);
    if (path == NULL) {
        return h5s3_directive_bad(cmd, arg, "not a valid path");
    }
    if (h5s3_s3_tls_load_ca(&srv(cmd)->tls, &res, path, cmd->pool)) {
        return tls_error(cmd, &res);
    }
    return NULL;
}

/* H5S3CACertificatePath DIR: a hashed directory, read by curl as needed. */
static const char *set_ca_path(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    h5s3_result res;

    h5s3_result_init(&res, cmd->temp_pool);
    if (path == NULL) {
        return h5s3_directive_bad(cmd, arg, "not a valid path");
    }
    if (h5s3_s3_tls_check_ca_dir(&srv(cmd)->tls, &res, path, cmd->pool)) {
        return tls_error(cmd, &res);
    }
    return NULL;
}

/* H5S3ClientCertificateFile CERT [KEY]: the key may be readable by root only. */
static const char *set_client_cert(cmd_parms *cmd, void *dc,
                                   const char *cert, const char *key)
{
    const char *cpath = ap_server_root_relative(cmd->pool, cert);
    const char *kpath = key ? ap_server_root_relative(cmd->pool, key) : NULL;
    h5s3_result res;

    h5s3_result_init(&res, cmd->temp_pool);
    if (cpath == NULL || (key && kpath == NULL)) {
        return h5s3_directive_bad(cmd, cpath ? key : cert, "not a valid path");
    }
    if (h5s3_s3_tls_load_client(&srv(cmd)->tls, &res, cpath, kpath,
                                cmd->pool)) {
        return tls_error(cmd, &res);
    }
    return NULL;
}

static const char *set_debug_headers(cmd_parms *cmd, void *dcv, int on)
{
    ((h5s3_dir_conf *)dcv)->debug_headers = on;
    return NULL;
}

static const char *set_cache_control(cmd_parms *cmd, void *dcv,
                                     const char *arg)
{
    const char *c;

    if (arg[strspn(arg, " \t")] == '\0') {
        return h5s3_directive_bad(cmd, arg, "it must not be empty");
    }
    /* It becomes a header line as written: no line breaks, ASCII only. */
    for (c = arg; *c; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
            return h5s3_directive_bad(cmd, arg, "it must be printable "
                                      "ASCII on one line");
        }
    }
    ((h5s3_dir_conf *)dcv)->cache_control = arg;
    return NULL;
}

const command_rec h5s3_directives[] = {
    AP_INIT_TAKE2("H5S3Limit", set_limit, NULL, RSRC_CONF,
                  "a per-request limit: NAME VALUE (read-bytes, "
                  "prefetch-bytes, prefetch-ranges, index-nodes, entries, "
                  "vlen-bytes)"),
    AP_INIT_TAKE1("H5S3Endpoint", set_endpoint, NULL, RSRC_CONF,
                  "S3 endpoint, http(s)://host[:port]"),
    AP_INIT_TAKE1("H5S3Region", set_region, NULL, RSRC_CONF,
                  "SigV4 signing region (default " DEFAULT_REGION ")"),
    AP_INIT_TAKE2("H5S3Credentials", set_credentials, NULL, RSRC_CONF,
                  "ACCESS SECRET, each literal, env:NAME or file:/path"),
    AP_INIT_TAKE12("H5S3Bucket", add_bucket, NULL, RSRC_CONF,
                   "BUCKET [ALIAS]: map a bucket; the first is the default"),
    AP_INIT_TAKE2("H5S3Timeout", set_timeout, NULL, RSRC_CONF,
                  "CONNECT TOTAL: S3 timeouts in seconds (default "
                  APR_STRINGIFY(DEFAULT_CONNECT_TIMEOUT) " "
                  APR_STRINGIFY(DEFAULT_TOTAL_TIMEOUT) ")"),
    AP_INIT_TAKE1("H5S3ListTTL", set_ttl,
                  (void *)APR_OFFSETOF(h5s3_srv_conf, list_ttl), RSRC_CONF,
                  "seconds a bucket listing is cached (default "
                  APR_STRINGIFY(DEFAULT_LIST_TTL) ")"),
    AP_INIT_TAKE1("H5S3MetaTTL", set_ttl,
                  (void *)APR_OFFSETOF(h5s3_srv_conf, meta_ttl), RSRC_CONF,
                  "seconds HDF5 metadata is cached (default "
                  APR_STRINGIFY(DEFAULT_META_TTL) ")"),
    AP_INIT_TAKE1("H5S3ValidateTTL", set_ttl,
                  (void *)APR_OFFSETOF(h5s3_srv_conf, validate_ttl), RSRC_CONF,
                  "seconds an object's ETag is trusted (default "
                  APR_STRINGIFY(DEFAULT_VALIDATE_TTL) ")"),
    AP_INIT_TAKE1("H5S3CACertificateFile", set_ca_file, NULL, RSRC_CONF,
                  "PEM file of the CA certificates trusted for the "
                  "endpoint, in place of the system store"),
    AP_INIT_TAKE1("H5S3CACertificatePath", set_ca_path, NULL, RSRC_CONF,
                  "hashed directory of CA certificates trusted for the "
                  "endpoint (openssl rehash)"),
    AP_INIT_TAKE12("H5S3ClientCertificateFile", set_client_cert, NULL,
                   RSRC_CONF, "CERT [KEY]: PEM client certificate (and "
                   "chain) and its key, for endpoints that require one"),
    AP_INIT_TAKE1("H5S3AddressingStyle", set_addressing, NULL, RSRC_CONF,
                  "path (default) or virtual-host style bucket addressing"),
    AP_INIT_TAKE1("H5S3Cache", set_cache, NULL, RSRC_CONF,
                  "mod_socache provider for shared caches, PROVIDER[:ARGS]"),
    AP_INIT_TAKE1("H5S3PageCache", set_page_cache, NULL, RSRC_CONF,
                  "size of the shared HDF5 page cache (default "
                  APR_STRINGIFY(DEFAULT_PAGE_CACHE_MB) "M)"),
    AP_INIT_TAKE1("H5S3DecodeThreads", set_decode_threads, NULL, RSRC_CONF,
                  "chunk decode threads per process (default "
                  APR_STRINGIFY(H5S3_H5_DEFAULT_DECODE_THREADS) ")"),
    AP_INIT_TAKE1("H5S3FetchParallel", set_fetch_parallel, NULL, RSRC_CONF,
                  "ranges of one request's batch in flight at once (default "
                  APR_STRINGIFY(H5S3_H5_DEFAULT_FETCH_PARALLEL) ")"),
    AP_INIT_TAKE1("H5S3MemoryBudget", set_memory_budget, NULL, RSRC_CONF,
                  "memory a process's requests may hold for file data "
                  "(default 512M)"),
    AP_INIT_FLAG("H5S3DebugHeaders", set_debug_headers, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "add X-H5S3-* headers with cache and S3 figures"),
    AP_INIT_TAKE1("H5S3CacheControl", set_cache_control, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "Cache-Control of JSON answers that carry an ETag "
                  "(default \"" DEFAULT_CACHE_CONTROL "\")"),
    AP_INIT_TAKE12("H5S3RateLimit", h5s3_ratelimit_set, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "N [BURST]: requests per second per client IP, or Off"),
    AP_INIT_ITERATE("H5S3CORSAllowOrigin", h5s3_cors_set_origin, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "origins allowed to read responses cross-site, or *"),
    AP_INIT_TAKE1("H5S3CORSMaxAge", h5s3_cors_set_max_age, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "seconds browsers may cache a preflight answer"),
    AP_INIT_ITERATE("H5S3CORSAllowHeaders", h5s3_cors_set_headers, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "request headers cross-site requests may send"),
    AP_INIT_FLAG("H5S3CORSAllowCredentials", h5s3_cors_set_credentials,
                 NULL, RSRC_CONF | ACCESS_CONF,
                 "let cross-site requests carry credentials (not with *)"),
    AP_INIT_TAKE1("H5S3TokenSecret", h5s3_api_set_token_secret, NULL,
                  RSRC_CONF, "HMAC key for download tokens and list "
                  "cursors: literal, env:NAME or file:/path"),
    AP_INIT_TAKE1("H5S3RefCacheDir", h5s3_api_set_refcache_dir, NULL,
                  RSRC_CONF, "directory for DeltaGlider references and "
                  "spools (default DefaultRuntimeDir/" DEFAULT_REFCACHE_DIR
                  ")"),
    AP_INIT_TAKE1("H5S3ProbeParallel", h5s3_api_set_probe_parallel, NULL,
                  RSRC_CONF, "DeltaGlider metadata HEADs a listing or "
                  "savings job keeps in flight at once (default "
                  APR_STRINGIFY(H5S3_DG_PROBE_PARALLEL_DEFAULT) ")"),
    AP_INIT_FLAG("H5S3Upload", h5s3_api_set_upload, NULL,
                 RSRC_CONF | ACCESS_CONF, "allow POST /api/upload"),
    AP_INIT_TAKE1("H5S3MaxUploadSize", h5s3_api_set_max_upload, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest upload accepted, e.g. 1G (default "
                  APR_STRINGIFY(DEFAULT_MAX_UPLOAD_MB) "M)"),
    {NULL}
};

/* The first 16 bytes of SHA-256(a NUL b) in hex (b: len bytes). */
static const char *digest_hex(const char *a, const char *b, apr_size_t len,
                              apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char hex[33];

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, a, strlen(a) + 1);
    EVP_DigestUpdate(ctx, b, len);
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    apr_escape_hex(hex, md, 16, 0, NULL);
    return apr_pstrdup(p, hex);
}

/*
 * endpoint "#" digest_hex(access, secret), and "#" digest_hex("cert",
 * client certificate) with one: S3 may grant by certificate too.
 */
static const char *cache_scope(const h5s3_srv_conf *sc, apr_pool_t *p)
{
    const char *a = sc->access_key ? sc->access_key : "";
    const char *k = sc->secret_key ? sc->secret_key : "";
    const char *scope = apr_pstrcat(p, sc->endpoint ? sc->endpoint : "", "#",
                                    digest_hex(a, k, strlen(k), p), NULL);

    if (sc->tls.cert_pem) {
        scope = apr_pstrcat(p, scope, "#", digest_hex("cert",
                            sc->tls.cert_pem, sc->tls.cert_len, p), NULL);
    }
    return scope;
}

/* Which server a message is about, as the configuration names it. */
static const char *server_name(server_rec *s, apr_pool_t *p)
{
    const char *host = s->server_hostname ? s->server_hostname : "(main)";

    if (!s->is_virtual || s->defn_name == NULL) {
        return apr_psprintf(p, "%s:%u", host, s->port);
    }
    return apr_psprintf(p, "%s:%u (<VirtualHost> at %s:%u)", host, s->port,
                        s->defn_name, s->defn_line_number);
}

apr_status_t h5s3_conf_check_servers(server_rec *s, apr_pool_t *ptemp)
{
    apr_status_t rv = APR_SUCCESS;

    for (; s != NULL; s = s->next) {
        h5s3_srv_conf *sc = ap_get_module_config(s->module_config,
                                                 &h5s3_module);

        /* Kept for the life of the configuration, hence the server's pool. */
        sc->cache_scope = cache_scope(sc, s->process->pconf);
        /* Every bad server is named, not only the first. */
        if (sc->buckets->nelts > 0 && sc->endpoint == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "H5S3-0001: H5S3Bucket is set for %s but no "
                         "H5S3Endpoint is", server_name(s, ptemp));
            rv = APR_EINVAL;
        }
    }
    return rv;
}

const h5s3_bucket_map *h5s3_bucket_lookup(const h5s3_srv_conf *sc,
                                          const char *alias)
{
    int i;

    if (sc->buckets->nelts == 0) {
        return NULL;
    }
    if (alias == NULL || *alias == '\0') {
        return &APR_ARRAY_IDX(sc->buckets, 0, h5s3_bucket_map);
    }
    for (i = 0; i < sc->buckets->nelts; i++) {
        const h5s3_bucket_map *m = &APR_ARRAY_IDX(sc->buckets, i,
                                                  h5s3_bucket_map);
        if (!strcmp(m->alias, alias)) {
            return m;
        }
    }
    return NULL;
}
