/*
 * The module's process state and its lifecycle: h5s3_module_state, and
 * the pre_config, check_config, post_config and child_init hooks that set
 * it up, each calling every part in order (the parts are declared in
 * glue/h5s3_glue.h, with what each owns).
 *
 * What must survive a graceful restart (the rate-limit table, the
 * /server-status counters) is kept in one block of ap_retained_data,
 * made here; the parts fill in their own members of it.
 *
 * Order matters in two places.  Mutex types are registered in
 * pre_config, before the Mutex directive is read.  In a child, the
 * savings jobs come last and are the first thing the child pool's
 * cleanup takes down, so no job outlives the S3 clients, the shared cache
 * or the pool it runs on.
 */
#include <http_core.h>
#include <util_mutex.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_log.h"

APLOG_USE_MODULE(h5s3);

/*
 * The retained block's key names its layout (bump it when h5s3_retained
 * changes): a module built with another layout, loaded by a graceful
 * restart, must not read this one.
 */
#define RETAINED_KEY "h5s3-retained-1"

h5s3_state h5s3_module_state;

/* The core's log lines go to the main server's error log. */
static void log_sink(int level, apr_status_t rv, const char *msg)
{
    ap_log_error(APLOG_MARK, level, rv, h5s3_module_state.log_server, "%s",
                 msg);
}

int h5s3_state_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    /*
     * The configuration is read again on every restart: forget the last
     * generation, whose pool is gone by now.
     */
    memset(&h5s3_module_state, 0, sizeof(h5s3_module_state));
    if (h5s3_socache_pre_config(pconf) != APR_SUCCESS
        || h5s3_hdf5_pre_config(pconf) != APR_SUCCESS
        || h5s3_api_savings_pre_config(pconf) != APR_SUCCESS
        || h5s3_ratelimit_pre_config(pconf) != APR_SUCCESS) {
        return !OK;
    }
    h5s3_logformat_pre_config(pconf);
    return OK;
}

int h5s3_state_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    /*
     * httpd runs check_config after reading the configuration, for
     * `apachectl -t` and before every generation's post_config alike: a
     * bad configuration is refused here, and httpd exits with status 1
     * itself (never a module's exit(), which would skip its cleanups).
     */
    return h5s3_conf_check_servers(s, ptemp) == APR_SUCCESS ? OK : !OK;
}

/* Made once per server life, in the process pool, and found again. */
static h5s3_retained *retained(void)
{
    h5s3_retained *kept = ap_retained_data_get(RETAINED_KEY);

    if (kept == NULL) {
        kept = ap_retained_data_create(RETAINED_KEY, sizeof(*kept));
        memset(kept, 0, sizeof(*kept));
    }
    return kept;
}

int h5s3_state_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    /*
     * httpd reads the configuration twice at start-up; the first pass
     * only checks it.  Shared memory, mutexes and keys are made in the
     * second, and in every generation after it.
     */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    h5s3_module_state.retained = retained();
    if (h5s3_socache_post_config(pconf, s) != APR_SUCCESS
        || h5s3_hdf5_post_config(pconf, s) != APR_SUCCESS
        || h5s3_s3_global_init() != APR_SUCCESS
        || h5s3_ratelimit_post_config(s) != APR_SUCCESS
        || h5s3_ratelimit_fleet_post_config(pconf, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Figures are nice to have: the server runs without them. */
    h5s3_server_status_post_config(s);
    if (h5s3_api_post_config(pconf, s) != APR_SUCCESS
        || h5s3_api_savings_post_config(pconf, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    h5s3_module_state.log_server = s;
    h5s3_log_set(log_sink,
                 ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX));
    return OK;
}

/* One S3 client per vhost that has an endpoint, in this process. */
static void s3_clients_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *vs;

    /* The handles inherited from the parent are the parent's. */
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

/* The child is exiting (its pool is being destroyed). */
static apr_status_t child_exit(void *data)
{
    h5s3_api_savings_child_exit();
    return APR_SUCCESS;
}

void h5s3_state_child_init(apr_pool_t *pchild, server_rec *s)
{
    /*
     * A part that fails logs why and leaves its member empty: the child
     * serves what it can (a request needing the part then fails).
     */
    h5s3_socache_child_init(pchild, s);
    h5s3_hdf5_child_init(pchild, s);
    s3_clients_child_init(pchild, s);
    h5s3_ratelimit_child_init(pchild, s);
    h5s3_api_savings_child_init(pchild, s);
    /* Registered last, so it runs before the cleanups of all the above. */
    apr_pool_cleanup_register(pchild, NULL, child_exit,
                              apr_pool_cleanup_null);
}

apr_status_t h5s3_mutex_create(apr_global_mutex_t **mutex,
                               const char **lockfile, const char *type,
                               server_rec *s, apr_pool_t *p,
                               const char *code, const char *what)
{
    apr_status_t rv = ap_global_mutex_create(mutex, lockfile, type, NULL, s,
                                             p, 0);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "%s: cannot create the "
                     "%s mutex", code, what);
    }
    return rv;
}

apr_status_t h5s3_mutex_child_init(apr_global_mutex_t **mutex,
                                   const char *lockfile, apr_pool_t *pchild,
                                   server_rec *s, const char *code,
                                   const char *what)
{
    apr_status_t rv;

    rv = apr_global_mutex_child_init(mutex, lockfile ? lockfile
                                     : apr_global_mutex_lockfile(*mutex),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "%s: cannot attach the "
                     "%s mutex in a child", code, what);
    }
    return rv;
}
