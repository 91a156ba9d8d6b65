/*
 * Process state of the bucket browser API: the HMAC key for download
 * tokens and list cursors, the reference cache directory, the lock that
 * makes savings-job claims atomic across processes, and the child pool
 * job threads live in.  Set up in post_config, before the children fork,
 * so every child of one generation shares them.
 */
#include <errno.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <util_mutex.h>
#include <unixd.h>

#include "glue/routes/h5s3_api.h"
#include "base/h5s3_conf_values.h"

APLOG_USE_MODULE(h5s3);

#define JOBS_MUTEX_TYPE "h5s3-jobs"
#define TOKEN_SECRET_MIN 16
#define RANDOM_KEY_LEN 32

static h5s3_token_key *random_key;
static const char *refcache_path;        /* resolved in post_config */
static apr_global_mutex_t *jobs_mutex;
static apr_pool_t *jobs_pool;

/* ------------------------------------------------------------------ */
/* Directives                                                           */

const char *h5s3_api_set_token_secret(cmd_parms *cmd, void *dc,
                                      const char *spec)
{
    h5s3_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                             &h5s3_module);
    const char *value, *why;
    int named = !strncmp(spec, "env:", 4) || !strncmp(spec, "file:", 5);

    /* A literal secret is never echoed back in an error. */
    if (h5s3_conf_resolve_secret(&value, &why, spec, cmd->pool)) {
        return apr_psprintf(cmd->pool, "%s: %s%s%s%s",
                            cmd->directive->directive, named ? "'" : "",
                            named ? spec : "", named ? "': " : "", why);
    }
    if (strlen(value) < TOKEN_SECRET_MIN) {
        return apr_psprintf(cmd->pool, "%s: %s%s%sthe secret needs at least "
                            "%d bytes", cmd->directive->directive,
                            named ? "'" : "", named ? spec : "",
                            named ? "': " : "", TOKEN_SECRET_MIN);
    }
    sc->token_secret = value;
    return NULL;
}

const char *h5s3_api_set_refcache_dir(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (*arg == '\0') {
        return "H5S3RefCacheDir: an empty path is not valid";
    }
    h5s3_global.refcache_dir = ap_server_root_relative(cmd->pool, arg);
    if (h5s3_global.refcache_dir == NULL) {
        return apr_psprintf(cmd->pool, "H5S3RefCacheDir: '%s' is not a "
                            "valid path", arg);
    }
    return NULL;
}

const char *h5s3_api_set_upload(cmd_parms *cmd, void *dcv, int on)
{
    ((h5s3_dir_conf *)dcv)->upload = on;
    return NULL;
}

const char *h5s3_api_set_max_upload(cmd_parms *cmd, void *dcv,
                                    const char *arg)
{
    apr_off_t size;
    const char *why;

    if (h5s3_conf_parse_size(&size, &why, arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid: %s",
                            cmd->directive->directive, arg, why);
    }
    if (size < 1) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid: the limit "
                            "must be at least 1 byte",
                            cmd->directive->directive, arg);
    }
    ((h5s3_dir_conf *)dcv)->max_upload = size;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                            */

const h5s3_token_key *h5s3_api_token_key(const h5s3_srv_conf *sc,
                                         apr_pool_t *p)
{
    static h5s3_token_key none = {(const unsigned char *)"-", 1};
    h5s3_token_key *k;

    if (sc->token_secret == NULL) {
        /* "none" only if post_config did not run: tokens then never verify
         * across a restart, which is all a random key promises anyway. */
        return random_key ? random_key : &none;
    }
    k = apr_palloc(p, sizeof(*k));
    k->data = (const unsigned char *)sc->token_secret;
    k->len = strlen(sc->token_secret);
    return k;
}

const char *h5s3_api_refcache_dir(void)
{
    return refcache_path;
}

void h5s3_api_codec_opts(h5s3_dg_codec_opts *opts, const h5s3_srv_conf *sc,
                         const char *bucket)
{
    memset(opts, 0, sizeof(*opts));
    opts->cache_dir = refcache_path;
    /* The scope the answer caches use: endpoint and credentials. */
    opts->cache_scope = sc->cache_scope;
    opts->bucket = bucket;
}

apr_status_t h5s3_api_jobs_lock(void)
{
    return jobs_mutex ? apr_global_mutex_lock(jobs_mutex) : APR_SUCCESS;
}

void h5s3_api_jobs_unlock(void)
{
    if (jobs_mutex) {
        apr_global_mutex_unlock(jobs_mutex);
    }
}

apr_pool_t *h5s3_api_jobs_pool(void)
{
    return jobs_pool;
}

/* ------------------------------------------------------------------ */
/* Hooks                                                                */

static int api_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    /* Configuration is read again on restart: forget the last one. */
    random_key = NULL;
    refcache_path = NULL;
    jobs_mutex = NULL;
    return ap_mutex_register(pconf, JOBS_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT,
                             0) == APR_SUCCESS ? OK : !OK;
}

static int needs_random_key(server_rec *s)
{
    for (; s != NULL; s = s->next) {
        h5s3_srv_conf *sc = ap_get_module_config(s->module_config,
                                                 &h5s3_module);
        if (sc->buckets->nelts > 0 && sc->token_secret == NULL) {
            return 1;
        }
    }
    return 0;
}

static int api_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    static const char *const key = "h5s3-api-post-config";
    void *done = NULL;
    apr_status_t rv;

    /* The first of httpd's two start-up passes only checks syntax. */
    apr_pool_userdata_get(&done, key, s->process->pool);
    if (done == NULL) {
        apr_pool_userdata_set((void *)1, key, apr_pool_cleanup_null,
                              s->process->pool);
        return OK;
    }
    /*
     * Made here, before the fork, so that every child shares it; made
     * even when every vhost has a secret, so no code path is left keyless.
     */
    if ((rv = h5s3_token_key_random(&random_key, RANDOM_KEY_LEN, pconf))
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0100: cannot "
                     "make a random key for download tokens");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (needs_random_key(s)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "H5S3-0101: "
                     "H5S3TokenSecret is not set: download tokens and list "
                     "cursors are signed with a random key, valid only "
                     "until restart and only on this server");
    }

    refcache_path = h5s3_conf_refcache_dir(&h5s3_global, pconf);
    rv = apr_dir_make_recursive(refcache_path, APR_FPROT_UREAD
                                | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                pconf);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0102: cannot "
                     "create the reference cache directory %s "
                     "(H5S3RefCacheDir)", refcache_path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The children run as User/Group: the directory must be theirs. */
    if (geteuid() == 0
        && chown(refcache_path, ap_unixd_config.user_id,
                 ap_unixd_config.group_id) != 0) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, APR_FROM_OS_ERROR(errno), s,
                     "H5S3-0103: cannot give %s to the server's User",
                     refcache_path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    rv = ap_global_mutex_create(&jobs_mutex, NULL, JOBS_MUTEX_TYPE, NULL, s,
                                pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0104: cannot "
                     "create the savings-job mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Jobs first (they use the pool), then the pool. */
static apr_status_t child_cleanup(void *data)
{
    h5s3_api_savings_shutdown();
    if (jobs_pool) {
        apr_pool_destroy(jobs_pool);
        jobs_pool = NULL;
    }
    return APR_SUCCESS;
}

static void api_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_allocator_t *alloc = NULL;
    apr_thread_mutex_t *m = NULL;
    apr_status_t rv;

    if (jobs_mutex) {
        rv = apr_global_mutex_child_init(&jobs_mutex,
                                         apr_global_mutex_lockfile(jobs_mutex),
                                         pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "H5S3-0105: cannot "
                         "attach the savings-job mutex in a child");
        }
    }
    /*
     * Job threads create and destroy sub-pools concurrently with requests:
     * an allocator with its own mutex makes that safe.
     */
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&m, APR_THREAD_MUTEX_DEFAULT,
                                         pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "H5S3-0106: cannot set "
                     "up the savings-job pool");
        if (alloc) {
            apr_allocator_destroy(alloc);
        }
        return;
    }
    apr_allocator_mutex_set(alloc, m);
    if ((rv = apr_pool_create_unmanaged_ex(&jobs_pool, NULL, alloc))
        != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        jobs_pool = NULL;
        return;
    }
    apr_allocator_owner_set(alloc, jobs_pool);
    h5s3_api_savings_child_init(pchild);
    apr_pool_cleanup_register(pchild, NULL, child_cleanup,
                              apr_pool_cleanup_null);
}

void h5s3_api_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(api_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(api_post_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_child_init(api_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
