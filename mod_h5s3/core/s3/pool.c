/*
 * The per-process pool of curl handles.  Easy handles (and the multi
 * handles of h5s3_s3_get_ranges) are kept between requests behind a
 * mutex, so a handle keeps its keep-alive connection from one request to
 * the next.  One curl share holds the DNS cache and TLS sessions of all
 * handles.
 */
#include <string.h>
#include <curl/curl.h>
#include <apr_pools.h>
#include <apr_thread_mutex.h>

#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_internal.h"

#define POOL_KEEP       64              /* idle handles kept per process */

static struct {
    int inited;
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    CURL *easy[POOL_KEEP];
    int neasy;
    CURLM *multi[POOL_KEEP];
    int nmulti;
    CURLSH *share;
    apr_thread_mutex_t *share_lock[CURL_LOCK_DATA_LAST];
} hp;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *u)
{
    if (data < CURL_LOCK_DATA_LAST && hp.share_lock[data]) {
        apr_thread_mutex_lock(hp.share_lock[data]);
    }
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
    if (data < CURL_LOCK_DATA_LAST && hp.share_lock[data]) {
        apr_thread_mutex_unlock(hp.share_lock[data]);
    }
}

/*
 * Mutexes and the share object (DNS cache and TLS sessions only: curl
 * does not support sharing connections between threads).
 */
static apr_status_t pool_make_locks(void)
{
    apr_status_t rv;
    int i;

    rv = apr_thread_mutex_create(&hp.lock, APR_THREAD_MUTEX_DEFAULT, hp.pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        rv = apr_thread_mutex_create(&hp.share_lock[i],
                                     APR_THREAD_MUTEX_DEFAULT, hp.pool);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    hp.share = curl_share_init();
    if (hp.share == NULL) {
        return APR_ENOMEM;
    }
    curl_share_setopt(hp.share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(hp.share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(hp.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(hp.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return APR_SUCCESS;
}

apr_status_t h5s3_s3_global_init(void)
{
    apr_status_t rv;

    if (hp.inited) {
        return APR_SUCCESS;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return APR_EGENERAL;
    }
    rv = apr_pool_create(&hp.pool, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(hp.pool, "h5s3_s3_handles");
    rv = pool_make_locks();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    hp.inited = 1;
    return APR_SUCCESS;
}

void h5s3_s3_pool_forget(void)
{
    if (!hp.inited) {
        return;
    }
    /*
     * The handles' sockets belong to the parent: dropping the pointers
     * (a small, one-off leak) is the only safe thing; cleaning them up
     * would write TLS close-notify on connections the parent still uses.
     */
    hp.neasy = 0;
    hp.nmulti = 0;
    hp.share = NULL;
    memset(hp.share_lock, 0, sizeof(hp.share_lock));
    if (pool_make_locks() != APR_SUCCESS) {
        hp.inited = 0;
    }
}

CURLSH *h5s3_s3_share(void)
{
    return hp.share;
}

CURL *h5s3_s3_easy_get(void)
{
    CURL *h = NULL;

    if (hp.lock) {
        apr_thread_mutex_lock(hp.lock);
        if (hp.neasy > 0) {
            h = hp.easy[--hp.neasy];
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    return h ? h : curl_easy_init();
}

void h5s3_s3_easy_put(CURL *h, int healthy)
{
    if (h == NULL) {
        return;
    }
    if (healthy && hp.lock) {
        /* reset keeps the live connection and caches, drops the options */
        curl_easy_reset(h);
        apr_thread_mutex_lock(hp.lock);
        if (hp.neasy < POOL_KEEP) {
            hp.easy[hp.neasy++] = h;
            h = NULL;
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    if (h) {
        curl_easy_cleanup(h);
    }
}

CURLM *h5s3_s3_multi_get(void)
{
    CURLM *m = NULL;

    if (hp.lock) {
        apr_thread_mutex_lock(hp.lock);
        if (hp.nmulti > 0) {
            m = hp.multi[--hp.nmulti];
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    return m ? m : curl_multi_init();
}

void h5s3_s3_multi_put(CURLM *m)
{
    if (m == NULL) {
        return;
    }
    if (hp.lock) {
        apr_thread_mutex_lock(hp.lock);
        if (hp.nmulti < POOL_KEEP) {
            hp.multi[hp.nmulti++] = m;
            m = NULL;
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    if (m) {
        curl_multi_cleanup(m);
    }
}
