/*
 * The shared cache: a mod_socache provider chosen by H5S3Cache (shmcb by
 * default), exposed to the core through the h5s3_cache seam.  The recipe is
 * mod_authn_socache's: provider looked up at config time, instance created
 * from the directive, initialised with a global mutex in post_config.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <ap_provider.h>
#include <util_mutex.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

#define MUTEX_TYPE "h5s3-cache"
#define DEFAULT_PROVIDER "shmcb"
/* 64 MiB of shared memory: entries up to 1 MiB (previews, data slices). */
#define DEFAULT_SHMCB_ARGS "h5s3-cache(67108864)"
#define SHMCB_DEFAULT_SIZE (512 * 1024)
#define AVG_OBJECT_SIZE 16384

/* This part of the module state (glue/h5s3_glue.h). */
static h5s3_socache_state *const so = &h5s3_module_state.socache;

const char *h5s3_socache_configure(cmd_parms *cmd, const char *arg)
{
    const char *sep = strchr(arg, ':');
    const char *name = sep ? apr_pstrmemdup(cmd->pool, arg, sep - arg) : arg;
    const char *args = sep ? sep + 1 : NULL;
    const char *err;

    so->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                      AP_SOCACHE_PROVIDER_VERSION);
    if (so->provider == NULL) {
        return apr_psprintf(cmd->pool, "H5S3Cache: unknown cache provider "
                            "'%s' (is mod_socache_%s loaded?)", name, name);
    }
    so->provider_name = name;
    so->args = args;
    err = so->provider->create(&so->instance, args, cmd->temp_pool,
                               cmd->pool);
    if (err) {
        return apr_psprintf(cmd->pool, "H5S3Cache: '%s': %s", arg, err);
    }
    return NULL;
}

apr_status_t h5s3_socache_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

/* The largest value we store, so a retrieve buffer can hold any entry. */
static apr_size_t max_value_for(const char *name, const char *args)
{
    if (!strcmp(name, "shmcb")) {
        apr_size_t size = SHMCB_DEFAULT_SIZE;
        const char *open = args ? strrchr(args, '(') : NULL;
        if (open) {
            size = (apr_size_t)apr_atoi64(open + 1);
        }
        /* An entry must fit one of shmcb's sub-caches (32 with our hints). */
        return size / 64;
    }
    /* memcached's default item limit is 1 MiB; redis takes more: one rule. */
    return 1000 * 1000;
}

static int locked(void)
{
    return so->mutex && (so->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE);
}

/*
 * A retrieve must hand the provider a buffer as large as any entry:
 * memcache and redis refuse a smaller one with an error line, and none
 * of them says the size first.  Reserving max_value bytes from the
 * request pool on every lookup (1 MiB with the default shmcb) made each
 * warm request map and fault fresh pages; one buffer per thread, reused,
 * costs that once, and the pool gets a right-sized copy.
 */
static __thread unsigned char *tl_buf;
static __thread apr_size_t tl_buf_size;
/* Lookups this thread made since the request began (h5s3_cache_lookups). */
static __thread unsigned int tl_lookups;

void h5s3_cache_lookups_reset(void)
{
    tl_lookups = 0;
}

unsigned int h5s3_cache_lookups(void)
{
    return tl_lookups;
}

/* Frees a thread's buffer when the thread ends (a savings job's, say). */
static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void make_buf_key(void)
{
    (void)pthread_key_create(&buf_key, free);
}

static unsigned char *retrieve_buffer(apr_size_t want)
{
    if (tl_buf == NULL || tl_buf_size < want) {
        /* Kept for the thread's life: a thread serves request after
         * request, and the buffer is what every one of them needs. */
        pthread_once(&buf_once, make_buf_key);
        free(tl_buf);
        tl_buf_size = 0;
        tl_buf = malloc(want);
        (void)pthread_setspecific(buf_key, tl_buf);
        if (tl_buf == NULL) {
            return NULL;
        }
        tl_buf_size = want;
    }
    return tl_buf;
}

static apr_status_t c_get(h5s3_cache *c, const unsigned char *id,
                          unsigned int idlen, char **val, apr_size_t *len,
                          apr_pool_t *p)
{
    server_rec *s = c->baton;
    unsigned int n = (unsigned int)c->max_value;
    unsigned char *buf = retrieve_buffer((apr_size_t)n + 1);
    char *out;
    apr_status_t rv;

    if (buf == NULL) {
        return APR_NOTFOUND;
    }
    tl_lookups++;
    if (locked()) {
        apr_global_mutex_lock(so->mutex);
    }
    rv = so->provider->retrieve(so->instance, s, id, idlen, buf, &n, p);
    if (locked()) {
        apr_global_mutex_unlock(so->mutex);
    }
    h5s3_server_status_cache_lookup(rv == APR_SUCCESS);
    if (rv != APR_SUCCESS || n > c->max_value) {
        return APR_NOTFOUND;
    }
    out = apr_palloc(p, (apr_size_t)n + 1);
    memcpy(out, buf, n);
    out[n] = '\0';
    *val = out;
    *len = n;
    return APR_SUCCESS;
}

static apr_status_t c_set(h5s3_cache *c, const unsigned char *id,
                          unsigned int idlen, const char *val, apr_size_t len,
                          apr_time_t expiry, apr_pool_t *p)
{
    server_rec *s = c->baton;
    apr_status_t rv;

    if (locked()) {
        apr_global_mutex_lock(so->mutex);
    }
    rv = so->provider->store(so->instance, s, id, idlen, expiry,
                             (unsigned char *)val, (unsigned int)len, p);
    if (locked()) {
        apr_global_mutex_unlock(so->mutex);
    }
    return rv;
}

static apr_status_t c_remove(h5s3_cache *c, const unsigned char *id,
                             unsigned int idlen, apr_pool_t *p)
{
    server_rec *s = c->baton;
    apr_status_t rv;

    if (locked()) {
        apr_global_mutex_lock(so->mutex);
    }
    rv = so->provider->remove(so->instance, s, id, idlen, p);
    if (locked()) {
        apr_global_mutex_unlock(so->mutex);
    }
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

static apr_status_t destroy_cache(void *data)
{
    server_rec *s = data;

    if (so->instance) {
        so->provider->destroy(so->instance, s);
        so->instance = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_socache_post_config(apr_pool_t *pconf, server_rec *s)
{
    struct ap_socache_hints hints = {32, AVG_OBJECT_SIZE,
                                     apr_time_from_sec(30)};
    h5s3_cache *cache = &h5s3_module_state.cache;
    const char *err;
    apr_status_t rv;

    if (so->provider == NULL) {
        so->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
                                          DEFAULT_PROVIDER,
                                          AP_SOCACHE_PROVIDER_VERSION);
        if (so->provider == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "H5S3-0010: the "
                         "default cache provider shmcb is not available: "
                         "LoadModule socache_shmcb_module, or set H5S3Cache");
            return APR_EGENERAL;
        }
        so->provider_name = DEFAULT_PROVIDER;
        so->args = DEFAULT_SHMCB_ARGS;
        err = so->provider->create(&so->instance, DEFAULT_SHMCB_ARGS,
                                   pconf, pconf);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "H5S3-0011: %s", err);
            return APR_EGENERAL;
        }
    }
    rv = h5s3_mutex_create(&so->mutex, NULL, MUTEX_TYPE, s, pconf,
                           "H5S3-0012", "cache");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = so->provider->init(so->instance, "h5s3", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0013: cannot "
                     "initialise the %s cache", so->provider_name);
        return rv;
    }
    apr_pool_cleanup_register(pconf, s, destroy_cache, apr_pool_cleanup_null);

    cache->get = c_get;
    cache->set = c_set;
    cache->remove = c_remove;
    cache->max_value = max_value_for(so->provider_name, so->args);
    cache->baton = s;
    return APR_SUCCESS;
}

apr_status_t h5s3_socache_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (so->mutex == NULL) {
        return APR_SUCCESS;
    }
    return h5s3_mutex_child_init(&so->mutex, NULL, pchild, s, "H5S3-0014",
                                 "cache");
}
