/*
 * POST /api/buckets/{bucket}/compute-savings: one background job per
 * bucket across all processes, its figures shared through the cache.
 *
 * A job is claimed by a cache entry (the task id, short TTL, refreshed by
 * the running job).  The claim is made under the h5s3-jobs global mutex,
 * so two processes of one host cannot both start a job; servers sharing a
 * redis/memcache cache race only in the instant between get and set.  A
 * job that dies with its process leaves a claim that expires by itself.
 *
 * The job runs in a thread of the child that took the request.  A cleanup
 * on the child pool cancels it and joins the thread on shutdown and
 * graceful restart; partial sums die with the job.  Its figures live in
 * the cache, not in the job: a finished job is joined, unlinked and its
 * pool destroyed at the next compute-savings request of its process, so
 * a process holds no more than its running jobs and the last finished
 * one, however many requests it served.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_escape.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <util_mutex.h>

#include "glue/routes/h5s3_api.h"
#include "json/h5s3_json.h"
#include "base/h5s3_log.h"

APLOG_USE_MODULE(h5s3);

#define MUTEX_TYPE   "h5s3-jobs"
#define CLAIM_NS     "api-savings-claim"
#define RESULT_NS    "api-savings"
#define ERROR_NS     "api-savings-error"
#define CLAIM_TTL    apr_time_from_sec(60)
#define CLAIM_EVERY  apr_time_from_sec(10)
#define RESULT_TTL   apr_time_from_sec(15 * 60)

typedef struct h5s3_api_savings_job job;
struct h5s3_api_savings_job {
    job *next;
    apr_pool_t *pool;                   /* everything of the job's, the
                                         * thread record included */
    apr_thread_t *thread;
    volatile apr_uint32_t cancel;
    volatile apr_uint32_t done;
    server_rec *server;
    h5s3_s3_client *client;
    const char *bucket;
    const char *ckey;                   /* endpoint "\n" bucket */
    const char *task_id;
    apr_time_t started, refreshed;
    h5s3_api_probe pb;
    h5s3_dg_store *inner;
    h5s3_s3_call call;
    h5s3_result result;                 /* the job thread's, in its pool */
};

/* This part of the module state (glue/h5s3_glue.h), and the cache. */
static h5s3_api_savings_state *const ss = &h5s3_module_state.savings;
static h5s3_cache *const cache = &h5s3_module_state.cache;

static const char *cache_key(const h5s3_srv_conf *sc, const char *bucket,
                             apr_pool_t *p)
{
    return apr_pstrcat(p, sc->cache_scope, "\n", bucket, NULL);
}

/* ------------------------------------------------------------------ */
/* The job thread                                                       */

/* Keep the claim alive while the job makes progress. */
static void refresh_claim(job *jb, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();

    if (now - jb->refreshed >= CLAIM_EVERY) {
        jb->refreshed = now;
        h5s3_cache_set(cache, CLAIM_NS, jb->ckey, jb->task_id,
                       strlen(jb->task_id), CLAIM_TTL, p);
    }
}

static void drop_claim(job *jb, apr_pool_t *p)
{
    char *val;
    apr_size_t len;

    /* Only our own: a claim that expired may have been taken since. */
    if (h5s3_cache_get(cache, CLAIM_NS, jb->ckey, &val, &len, p)
        == APR_SUCCESS && !strcmp(val, jb->task_id)) {
        h5s3_cache_remove(cache, CLAIM_NS, jb->ckey, p);
    }
}

/* A store that refreshes the claim on every page and probe. */
static apr_status_t w_head(h5s3_dg_store *st, h5s3_s3_object_info **info,
                           const char *key, apr_pool_t *p)
{
    job *jb = st->baton;
    return jb->inner->head(jb->inner, info, key, p);
}

static apr_status_t w_get(h5s3_dg_store *st, const char *key,
                          const char *if_match, h5s3_s3_data_cb on_data,
                          void *baton, apr_pool_t *p)
{
    job *jb = st->baton;
    return jb->inner->get(jb->inner, key, if_match, on_data, baton, p);
}

static apr_status_t w_list(h5s3_dg_store *st, h5s3_s3_list_page **page,
                           const char *prefix, const char *delimiter,
                           const char *token, int max_keys, apr_pool_t *p)
{
    job *jb = st->baton;

    refresh_claim(jb, p);
    return jb->inner->list(jb->inner, page, prefix, delimiter, token,
                           max_keys, p);
}

static apr_status_t w_head_many(h5s3_dg_store *st, h5s3_s3_head_item *items,
                                int n, apr_pool_t *p)
{
    job *jb = st->baton;

    refresh_claim(jb, p);
    return jb->inner->head_many(jb->inner, items, n, p);
}

static apr_status_t w_recall(void *baton, apr_table_t **meta,
                             const char *s3key, apr_pool_t *p)
{
    job *jb = baton;

    refresh_claim(jb, p);
    return h5s3_api_probe_recall(&jb->pb, meta, s3key, p);
}

static void w_remember(void *baton, const char *s3key, apr_table_t *meta,
                       apr_pool_t *p)
{
    job *jb = baton;

    h5s3_api_probe_remember(&jb->pb, s3key, meta, p);
}

static void *APR_THREAD_FUNC run(apr_thread_t *thd, void *data)
{
    job *jb = data;
    apr_pool_t *p = apr_thread_pool_get(thd);
    h5s3_dg_store st;
    h5s3_dg_prober pr;
    h5s3_dg_savings s;
    sigset_t all;
    apr_status_t rv;

    /*
     * Signals are the MPM's business: prefork handles SIGTERM by exiting
     * from the handler, which must not run on this thread (the exit path
     * joins it).
     */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    memset(&st, 0, sizeof(st));
    st.head = w_head;
    st.get = w_get;
    st.list = w_list;
    st.baton = jb;
    h5s3_result_init(&jb->result, p);
    jb->call.result = &jb->result;
    jb->inner = h5s3_dg_store_s3(jb->client, jb->bucket, &jb->call, p);
    jb->inner->parallel = h5s3_conf_probe_parallel(&h5s3_module_state.conf);
    st.head_many = w_head_many;
    st.parallel = jb->inner->parallel;
    jb->refreshed = apr_time_now();
    pr.recall = w_recall;
    pr.remember = w_remember;
    pr.baton = jb;

    rv = h5s3_dg_savings_compute(&s, &st, &jb->cancel, &pr, p);
    if (rv == APR_SUCCESS) {
        json_t *j = h5s3_dg_savings_json(&s);
        char *text;

        json_object_set_new(j, "computed_at", json_string(
            h5s3_dg_time_iso(apr_time_now(), p)));
        json_object_set_new(j, "task_id", json_string(jb->task_id));
        if ((text = json_dumps(j, JSON_COMPACT)) != NULL) {
            h5s3_cache_set(cache, RESULT_NS, jb->ckey, text,
                           strlen(text), RESULT_TTL, p);
            free(text);
        }
        json_decref(j);
        h5s3_cache_remove(cache, ERROR_NS, jb->ckey, p);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, jb->server, "H5S3-0120: "
                     "savings of bucket %s (task %s): %" APR_INT64_T_FMT
                     " objects, %" APR_INT64_T_FMT " bytes stored for %"
                     APR_INT64_T_FMT ", in %" APR_TIME_T_FMT " ms, %u S3 "
                     "requests", jb->bucket, jb->task_id, s.object_count,
                     s.stored_bytes, s.original_bytes,
                     apr_time_as_msec(apr_time_now() - jb->started),
                     jb->call.requests);
    }
    else if (rv == H5S3_E_ABORTED) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, jb->server, "H5S3-0121: "
                     "savings of bucket %s (task %s) cancelled by shutdown "
                     "or restart; partial results discarded", jb->bucket,
                     jb->task_id);
    }
    else {
        json_t *j = json_pack("{s:s, s:s, s:s}", "code",
                              rv == H5S3_E_TIMEOUT ? "timeout" : "sdk_error",
                              "message", h5s3_error_name(rv),
                              "task_id", jb->task_id);
        char *text = json_dumps(j, JSON_COMPACT);

        if (text) {
            h5s3_cache_set(cache, ERROR_NS, jb->ckey, text,
                           strlen(text), RESULT_TTL, p);
            free(text);
        }
        json_decref(j);
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, jb->server, "H5S3-0122: "
                     "savings of bucket %s (task %s) failed: %s (S3 HTTP %d "
                     "%s)", jb->bucket, jb->task_id, h5s3_error_name(rv),
                     jb->result.s3_status,
                     jb->result.s3_code ? jb->result.s3_code : "");
    }
    /* The codec log (docs/deltaglider-format.md §5.7): every outcome. */
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, jb->server, "H5S3-0151: codec "
                 "savings of bucket %s (task %s): cmd=\"compute-savings\" "
                 "duration_ms=%" APR_TIME_T_FMT " rc=%d%s%s", jb->bucket,
                 jb->task_id, apr_time_as_msec(apr_time_now() - jb->started),
                 rv == APR_SUCCESS ? 0 : 1, rv == APR_SUCCESS ? "" : " ",
                 rv == APR_SUCCESS ? "" : h5s3_error_name(rv));
    drop_claim(jb, p);
    h5s3_server_status_savings_running(-1);
    apr_atomic_set32(&jb->done, 1);
    apr_thread_exit(thd, rv);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Process life cycle                                                   */

apr_status_t h5s3_api_savings_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t h5s3_api_savings_post_config(apr_pool_t *pconf, server_rec *s)
{
    return h5s3_mutex_create(&ss->claim_mutex, NULL, MUTEX_TYPE, s, pconf,
                             "H5S3-0104", "savings-job");
}

apr_status_t h5s3_api_savings_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_allocator_t *alloc = NULL;
    apr_thread_mutex_t *m = NULL;
    apr_status_t rv;

    if (ss->claim_mutex) {
        h5s3_mutex_child_init(&ss->claim_mutex, NULL, pchild, s, "H5S3-0105",
                              "savings-job");
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
        return rv;
    }
    apr_allocator_mutex_set(alloc, m);
    if ((rv = apr_pool_create_unmanaged_ex(&ss->pool, NULL, alloc))
        != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        ss->pool = NULL;
        return rv;
    }
    apr_allocator_owner_set(alloc, ss->pool);
    if ((rv = apr_thread_mutex_create(&ss->lock, APR_THREAD_MUTEX_DEFAULT,
                                      pchild)) != APR_SUCCESS) {
        ss->lock = NULL;
    }
    return rv;
}

/* Join *link's thread, unlink it and free all it had; ss->lock held. */
static void forget(job **link)
{
    job *jb = *link;
    apr_status_t st;

    /* Only once joined is the thread done with jb->pool, where APR
     * keeps its thread record too. */
    apr_thread_join(&st, jb->thread);
    *link = jb->next;
    apr_pool_destroy(jb->pool);
    h5s3_server_status_savings_held(-1);
}

/* Forget the jobs that have finished; ss->lock held. */
static void reap(void)
{
    job **link = &ss->jobs;

    while (*link) {
        if (apr_atomic_read32(&(*link)->done)) {
            forget(link);
        }
        else {
            link = &(*link)->next;
        }
    }
}

/* Jobs first (they use the pool), then the pool. */
void h5s3_api_savings_child_exit(void)
{
    job *jb;

    if (ss->lock != NULL) {
        apr_thread_mutex_lock(ss->lock);
        ss->closing = 1;
        for (jb = ss->jobs; jb; jb = jb->next) {
            apr_atomic_set32(&jb->cancel, 1);
        }
        /* Jobs never take ss->lock: joining under it cannot deadlock. */
        while (ss->jobs) {
            forget(&ss->jobs);
        }
        apr_thread_mutex_unlock(ss->lock);
    }
    if (ss->pool) {
        apr_pool_destroy(ss->pool);
        ss->pool = NULL;
    }
}

/* Start the thread; the claim is already ours. */
static apr_status_t start_job(h5s3_req *q, const char *bucket,
                              const char *ckey, const char *task_id)
{
    apr_pool_t *pool;
    job *jb;
    apr_status_t rv;

    if (ss->lock == NULL || ss->pool == NULL) {
        return APR_EGENERAL;
    }
    apr_thread_mutex_lock(ss->lock);
    if (ss->closing) {
        apr_thread_mutex_unlock(ss->lock);
        return APR_EGENERAL;
    }
    reap();
    /* A pool per job (the jobs pool's allocator is thread-safe), so that
     * forgetting a job gives back everything it took. */
    if ((rv = apr_pool_create(&pool, ss->pool)) != APR_SUCCESS) {
        apr_thread_mutex_unlock(ss->lock);
        return rv;
    }
    jb = apr_pcalloc(pool, sizeof(*jb));
    jb->pool = pool;
    jb->server = q->r->server;
    jb->client = q->sc->client;
    jb->bucket = apr_pstrdup(pool, bucket);
    jb->ckey = apr_pstrdup(pool, ckey);
    jb->task_id = apr_pstrdup(pool, task_id);
    jb->started = apr_time_now();
    h5s3_api_probe_init(&jb->pb, q->sc, jb->bucket, pool);
    jb->pb.endpoint = apr_pstrdup(pool, jb->pb.endpoint);
    jb->pb.gen = apr_pstrdup(pool, jb->pb.gen);
    /* Counted before the thread can finish and uncount itself. */
    h5s3_server_status_savings_running(1);
    rv = apr_thread_create(&jb->thread, NULL, run, jb, pool);
    if (rv == APR_SUCCESS) {
        jb->next = ss->jobs;
        ss->jobs = jb;
        h5s3_server_status_savings_held(1);
    }
    else {
        h5s3_server_status_savings_running(-1);
        apr_pool_destroy(pool);
    }
    apr_thread_mutex_unlock(ss->lock);
    return rv;
}

/* The claim's lock: atomic across the processes of one host. */
static void claim_lock(void)
{
    if (ss->claim_mutex) {
        apr_global_mutex_lock(ss->claim_mutex);
    }
}

static void claim_unlock(void)
{
    if (ss->claim_mutex) {
        apr_global_mutex_unlock(ss->claim_mutex);
    }
}

/* ------------------------------------------------------------------ */
/* Routes                                                               */

static const char *new_task_id(apr_pool_t *p)
{
    unsigned char raw[12];

    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        /* Unique enough for a task id, which guards nothing. */
        return apr_psprintf(p, "%" APR_TIME_T_FMT "-%" APR_PID_T_FMT,
                            apr_time_now(), getpid());
    }
    return apr_pescape_hex(p, raw, sizeof(raw), 0);
}

int h5s3_route_api_compute_savings(h5s3_req *q, const char *alias)
{
    apr_pool_t *p = q->r->pool;
    const h5s3_bucket_map *m;
    const char *ckey, *task_id;
    char *val;
    apr_size_t len;
    int rc, running = 0;
    apr_status_t rv;

    if ((m = h5s3_api_bucket(q, alias, &rc)) == NULL) {
        return rc;
    }
    ckey = cache_key(q->sc, m->bucket, p);
    claim_lock();
    if (h5s3_cache_get(cache, CLAIM_NS, ckey, &val, &len, p)
        == APR_SUCCESS && len > 0) {
        task_id = val;
        running = 1;
    }
    else {
        task_id = new_task_id(p);
        rv = h5s3_cache_set(cache, CLAIM_NS, ckey, task_id,
                            strlen(task_id), CLAIM_TTL, p);
        if (rv != APR_SUCCESS) {
            claim_unlock();
            return h5s3_api_error_for(q, rv, "bucket",
                                      "the job could not be claimed");
        }
    }
    claim_unlock();

    if (!running && (rv = start_job(q, m->bucket, ckey, task_id))
        != APR_SUCCESS) {
        h5s3_cache_remove(cache, CLAIM_NS, ckey, p);
        return h5s3_api_error(q, HTTP_SERVICE_UNAVAILABLE, "sdk_error",
                              "The savings job could not be started; retry",
                              NULL);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r, "h5s3: savings of %s: "
                  "%s task %s", m->bucket, running ? "running" : "started",
                  task_id);
    return h5s3_send_json(q, HTTP_ACCEPTED, h5s3_json_pool_own(p, json_pack(
        "{s:s, s:s, s:s}", "status", "accepted", "bucket", m->alias,
        "task_id", task_id)));
}

void h5s3_api_savings_fill(json_t *row, h5s3_req *q, const char *bucket)
{
    static const char *const fields[] = {"object_count", "original_bytes",
                                         "stored_bytes", "savings_pct",
                                         "computed_at", NULL};
    apr_pool_t *p = q->r->pool;
    const char *ckey = cache_key(q->sc, bucket, p);
    json_t *res = NULL, *err = NULL;
    char *val;
    apr_size_t len;
    int i;

    if (h5s3_cache_get(cache, RESULT_NS, ckey, &val, &len, p)
        == APR_SUCCESS) {
        res = json_loadb(val, len, 0, NULL);
    }
    /* Unknown until a computation completed: null, not a made-up zero. */
    for (i = 0; fields[i]; i++) {
        json_t *v = res ? json_object_get(res, fields[i]) : NULL;
        json_object_set(row, fields[i], v ? v : json_null());
    }
    json_decref(res);
    if (h5s3_cache_get(cache, CLAIM_NS, ckey, &val, &len, p)
        == APR_SUCCESS) {
        json_object_set_new(row, "pending", json_true());
        json_object_set_new(row, "task_id", json_stringn(val, len));
    }
    else {
        json_object_set_new(row, "pending", json_false());
    }
    if (h5s3_cache_get(cache, ERROR_NS, ckey, &val, &len, p)
        == APR_SUCCESS && (err = json_loadb(val, len, 0, NULL)) != NULL) {
        json_object_set_new(row, "error", err);
    }
}
