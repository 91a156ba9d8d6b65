/*
 * mod_h5s3: the module record and its hooks.  Start-up order: directives
 * are parsed (glue/config.c), post_config checks every vhost and sets up
 * shared state before the children fork, child_init creates what belongs
 * to one process (curl handles, S3 clients).
 */
#include <apr_strings.h>
#include <http_main.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_log.h"

/* AP_DECLARE_MODULE below also declares APLOG_USE_MODULE(h5s3). */

static server_rec *log_server;

/* The core's log lines go to the main server's error log. */
static void log_sink(int level, apr_status_t rv, const char *msg)
{
    ap_log_error(APLOG_MARK, level, rv, log_server, "%s", msg);
}

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    memset(&h5s3_global, 0, sizeof(h5s3_global));
    if (h5s3_socache_pre_config(pconf) != APR_SUCCESS
        || h5s3_hdf5_pre_config(pconf) != APR_SUCCESS) {
        return !OK;
    }
    return OK;
}

/*
 * httpd runs check_config after reading the configuration, for
 * `apachectl -t` and before every generation's post_config alike: a bad
 * configuration is refused here, and httpd exits with status 1 itself
 * (never a module's exit(), which would skip its cleanups).
 */
static int check_config(apr_pool_t *pconf, apr_pool_t *plog,
                        apr_pool_t *ptemp, server_rec *s)
{
    return h5s3_conf_check_servers(s, ptemp) == APR_SUCCESS ? OK : !OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    static const char *const key = "h5s3-post-config";
    void *done = NULL;

    /* httpd runs post_config twice at start-up; set up shared state once. */
    apr_pool_userdata_get(&done, key, s->process->pool);
    if (done == NULL) {
        apr_pool_userdata_set((void *)1, key, apr_pool_cleanup_null,
                              s->process->pool);
        return OK;
    }
    if (h5s3_socache_post_config(pconf, s) != APR_SUCCESS
        || h5s3_hdf5_post_config(pconf, s) != APR_SUCCESS
        || h5s3_s3_global_init() != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    log_server = s;
    h5s3_log_set(log_sink,
                 ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX));
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *vs;

    h5s3_socache_child_init(pchild, s);
    h5s3_hdf5_child_init(pchild, s);
    h5s3_s3_pool_forget();
    for (vs = s; vs != NULL; vs = vs->next) {
        h5s3_srv_conf *sc = ap_get_module_config(vs->module_config,
                                                 &h5s3_module);
        h5s3_s3_config cfg;
        apr_status_t rv;

        if (sc->endpoint == NULL) {
            continue;
        }
        h5s3_conf_s3_config(&cfg, sc);
        rv = h5s3_s3_client_create(&sc->client, &cfg, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "H5S3-0002: cannot "
                         "create the S3 client for %s", sc->endpoint);
        }
    }
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(h5s3_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* After mod_alias and mod_rewrite, before core. */
    ap_hook_translate_name(h5s3_translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(h5s3_map_to_storage, NULL, NULL, APR_HOOK_MIDDLE);
    h5s3_ratelimit_register_hooks(p);
    h5s3_cors_register_hooks(p);
    h5s3_server_status_register_hooks(p);
    h5s3_logformat_register_hooks(p);
    h5s3_api_register_hooks(p);
}

AP_DECLARE_MODULE(h5s3) = {
    STANDARD20_MODULE_STUFF,
    h5s3_create_dir_conf,
    h5s3_merge_dir_conf,
    h5s3_create_srv_conf,
    h5s3_merge_srv_conf,
    h5s3_directives,
    register_hooks
};
