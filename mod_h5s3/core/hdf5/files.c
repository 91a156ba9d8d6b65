/*
 * The per-process table of open S3 HDF5 files.  Opening a file costs a
 * HEAD, a superblock read and HDF5's own set-up; requests of a process
 * reuse a recently opened file instead, trusting its ETag for
 * validate_ttl, so a warm request costs no S3 request at all.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "hdf5/h5s3_h5_file.h"
#include "base/h5s3_errors.h"
#include "base/h5s3_log.h"

struct h5s3_h5_file {
    h5s3_h5_files *table;
    h5s3_s3_client *client;
    const char *bucket;
    const char *key;
    const char *etag;
    hid_t fid;
    apr_time_t validated;       /* when S3 last confirmed the ETag */
    int refs;                   /* holders (requests) */
    int in_table;               /* 0: being dropped, close on last release */
    apr_pool_t *pool;
    h5s3_h5_source src;
    h5s3_h5_file *prev, *next;  /* most recently used first */
};

struct h5s3_h5_files {
    apr_thread_mutex_t *mutex;
    h5s3_pagecache *cache;
    int max_files;
    int nfiles;
    apr_size_t open_read;
    h5s3_h5_file *head, *tail;
};

/* ---- the production fetcher: ranged GETs pinned to the ETag ----------- */

static apr_status_t s3_fetch(void *baton, h5s3_s3_range *ranges, int n,
                             apr_pool_t *p)
{
    h5s3_h5_file *f = baton;
    h5s3_h5_request *rq = h5s3_h5_request_current();
    h5s3_s3_call *call = rq ? rq->call : NULL;
    apr_status_t rv;

    if (n == 1) {
        rv = h5s3_s3_get_range(&ranges[0].got, f->client, f->bucket, f->key,
                               f->etag, ranges[0].offset, ranges[0].len,
                               ranges[0].buf, call, p);
        ranges[0].status = rv;
        return rv;
    }
    return h5s3_s3_get_ranges(f->client, f->bucket, f->key, f->etag, ranges,
                              n, h5s3_h5_fetch_parallel(), call,
                              p);
}

/* ---- table bookkeeping (caller holds the mutex) ------------------------ */

static void list_remove(h5s3_h5_files *t, h5s3_h5_file *f)
{
    if (!f->in_table) {
        return;
    }
    if (f->prev) {
        f->prev->next = f->next;
    }
    else {
        t->head = f->next;
    }
    if (f->next) {
        f->next->prev = f->prev;
    }
    else {
        t->tail = f->prev;
    }
    f->prev = f->next = NULL;
    f->in_table = 0;
    t->nfiles--;
}

static void list_push_front(h5s3_h5_files *t, h5s3_h5_file *f)
{
    f->prev = NULL;
    f->next = t->head;
    if (t->head) {
        t->head->prev = f;
    }
    t->head = f;
    if (!t->tail) {
        t->tail = f;
    }
    f->in_table = 1;
    t->nfiles++;
}

static h5s3_h5_file *list_find(h5s3_h5_files *t, h5s3_s3_client *c,
                               const char *bucket, const char *key)
{
    h5s3_h5_file *f;

    for (f = t->head; f; f = f->next) {
        if (f->client == c && strcmp(f->key, key) == 0
            && strcmp(f->bucket, bucket) == 0) {
            return f;
        }
    }
    return NULL;
}

/*
 * f (may be NULL) out of the table; into victims, for the caller to
 * close once the mutex is released, when nobody holds it (else its last
 * h5s3_h5_file_release closes it).
 */
static void list_drop(h5s3_h5_files *t, h5s3_h5_file *f,
                      h5s3_h5_file **victims, int *nvictims)
{
    if (f == NULL) {
        return;
    }
    list_remove(t, f);
    if (f->refs == 0) {
        victims[(*nvictims)++] = f;
    }
}

/* HDF5 calls run outside the table mutex: never hold both locks. */
static void file_close(h5s3_h5_file *f)
{
    if (f->fid >= 0) {
        H5Fclose(f->fid);
    }
    apr_pool_destroy(f->pool);
}

static void close_list(h5s3_h5_file **v, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        file_close(v[i]);
    }
}

static apr_status_t table_cleanup(void *data)
{
    h5s3_h5_files_flush(data);
    return APR_SUCCESS;
}

/* ---- public API ------------------------------------------------------ */

apr_status_t h5s3_h5_files_create(h5s3_h5_files **out,
                                  h5s3_pagecache *cache, int max_files,
                                  apr_pool_t *p)
{
    h5s3_h5_files *t;
    apr_status_t rv;

    *out = NULL;
    rv = h5s3_h5_global_init();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    t = apr_pcalloc(p, sizeof(*t));
    rv = apr_thread_mutex_create(&t->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    t->cache = cache;
    t->max_files = max_files > 0 ? max_files : H5S3_H5_DEFAULT_MAX_FILES;
    t->open_read = H5S3_H5_DEFAULT_OPEN_READ;
    apr_pool_cleanup_register(p, t, table_cleanup, apr_pool_cleanup_null);
    *out = t;
    return APR_SUCCESS;
}

apr_size_t h5s3_h5_files_open_read(const h5s3_h5_files *t)
{
    return t && t->cache ? t->open_read : 0;
}

void h5s3_h5_files_seed(h5s3_h5_files *t, h5s3_s3_client *c,
                        const char *bucket,
                        const char *key, const h5s3_s3_object_info *info,
                        const char *buf, apr_size_t len)
{
    h5s3_pagecache_object obj;

    if (!t || !t->cache || !info || info->size <= 0) {
        return;
    }
    memset(&obj, 0, sizeof(obj));
    obj.size = info->size;
    /* The same identity open_new gives the file's pages. */
    h5s3_pagecache_fingerprint(obj.fp, h5s3_s3_client_scope(c), bucket, key,
                               info->etag ? info->etag : "");
    h5s3_pagecache_put(t->cache, &obj, 0, buf, len);
}

int h5s3_h5_files_flush(h5s3_h5_files *t)
{
    h5s3_h5_file *f, *next, **victims;
    int n = 0, left;

    apr_thread_mutex_lock(t->mutex);
    victims = t->nfiles ? malloc(t->nfiles * sizeof(*victims)) : NULL;
    for (f = t->head; f && victims; f = next) {
        next = f->next;
        if (f->refs == 0) {
            list_remove(t, f);
            victims[n++] = f;
        }
    }
    left = t->nfiles;
    apr_thread_mutex_unlock(t->mutex);
    close_list(victims, n);
    free(victims);
    return left;
}

/* Open a new file for (bucket, key) at the given ETag and size. */
static apr_status_t open_new(h5s3_h5_file **out, h5s3_h5_files *t,
                             h5s3_s3_client *c, const char *bucket,
                             const char *key,
                             const h5s3_s3_object_info *info,
                             apr_time_t validated)
{
    h5s3_h5_file *f;
    apr_pool_t *fp;
    apr_status_t rv;

    /* Unmanaged: files are created and destroyed by many threads, and a
     * shared parent pool would need a lock of its own. */
    rv = apr_pool_create_unmanaged_ex(&fp, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    f = apr_pcalloc(fp, sizeof(*f));
    f->pool = fp;
    f->table = t;
    f->client = c;
    f->bucket = apr_pstrdup(fp, bucket);
    f->key = apr_pstrdup(fp, key);
    f->etag = apr_pstrdup(fp, info->etag ? info->etag : "");
    f->fid = H5I_INVALID_HID;
    f->validated = validated;
    f->refs = 1;
    f->src.cache = t->cache;
    f->src.name = apr_psprintf(fp, "s3://%s/%s", bucket, key);
    f->src.obj.size = info->size;
    f->src.obj.fetch = s3_fetch;
    f->src.obj.baton = f;
    h5s3_pagecache_fingerprint(f->src.obj.fp, h5s3_s3_client_scope(c),
                               f->bucket, f->key, f->etag);

    rv = h5s3_h5_vfd_open(&f->fid, &f->src, t->open_read);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(fp);
        return rv;
    }
    *out = f;
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_file_open(h5s3_h5_file **out, h5s3_h5_files *t,
                               h5s3_s3_client *c, const char *bucket,
                               const char *key,
                               apr_interval_time_t validate_ttl,
                               h5s3_s3_call *call, apr_pool_t *p)
{
    return h5s3_h5_file_open_known(out, t, c, bucket, key, validate_ttl,
                                   NULL, call, p);
}

apr_status_t h5s3_h5_file_open_known(h5s3_h5_file **out, h5s3_h5_files *t,
                                     h5s3_s3_client *c, const char *bucket,
                                     const char *key,
                                     apr_interval_time_t validate_ttl,
                                     const h5s3_s3_object_info *known,
                                     h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_h5_request tmp = {0}, *rq;
    h5s3_h5_file *f, *nf = NULL, *victims[8];
    h5s3_s3_object_info *info = NULL;
    const char *known_etag = NULL;
    apr_time_t now;
    int nvictims = 0, own_rq = 0;
    apr_status_t rv;

    *out = NULL;
    if (!t || !c || !bucket || !*bucket || !key || !*key) {
        return H5S3_E_INVALID;
    }
    rv = h5s3_h5_global_init();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* The driver charges page fetches to the current request: make one
     * for the open when the caller has none. */
    rq = h5s3_h5_request_current();
    if (!rq) {
        tmp.call = call;
        h5s3_result_init(&tmp.result, p);
        h5s3_h5_request_begin(&tmp);
        own_rq = 1;
    }
    else if (!call) {
        call = rq->call;
    }

    now = apr_time_now();
    apr_thread_mutex_lock(t->mutex);
    f = list_find(t, c, bucket, key);
    if (f && f->src.failed) {
        list_drop(t, f, victims, &nvictims);
        f = NULL;
    }
    if (f && now - f->validated < validate_ttl) {
        f->refs++;
        list_remove(t, f);
        list_push_front(t, f);
        apr_thread_mutex_unlock(t->mutex);
        *out = f;
        goto cleanup;
    }
    if (f) {
        known_etag = apr_pstrdup(p, f->etag);
    }
    apr_thread_mutex_unlock(t->mutex);
    close_list(victims, nvictims);
    nvictims = 0;

    if (known && known->etag) {
        /* The caller validated the object just now: no second HEAD. */
        info = (h5s3_s3_object_info *)known;
        rv = APR_SUCCESS;
    }
    else {
        rv = h5s3_s3_head(&info, c, bucket, key, call, p);
    }
    now = apr_time_now();
    if (rv == APR_SUCCESS && known_etag && info->etag
        && strcmp(info->etag, known_etag) == 0) {
        /* Unchanged: trust it for another validate_ttl. */
        apr_thread_mutex_lock(t->mutex);
        f = list_find(t, c, bucket, key);
        if (f && !f->src.failed && strcmp(f->etag, known_etag) == 0) {
            f->validated = now;
            f->refs++;
            list_remove(t, f);
            list_push_front(t, f);
            *out = f;
        }
        apr_thread_mutex_unlock(t->mutex);
        if (*out) {
            goto cleanup;
        }
    }
    if (rv != APR_SUCCESS && rv != H5S3_E_NOTFOUND) {
        goto cleanup;           /* S3 trouble: keep the file for later */
    }

    /* Gone or changed: drop what the table holds for this object. */
    apr_thread_mutex_lock(t->mutex);
    list_drop(t, list_find(t, c, bucket, key), victims, &nvictims);
    apr_thread_mutex_unlock(t->mutex);
    close_list(victims, nvictims);
    nvictims = 0;
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }

    rv = open_new(&nf, t, c, bucket, key, info, now);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    apr_thread_mutex_lock(t->mutex);
    /* Another thread may have opened it meanwhile: the newest wins. */
    list_drop(t, list_find(t, c, bucket, key), victims, &nvictims);
    list_push_front(t, nf);
    f = t->tail;
    while (f && t->nfiles > t->max_files
           && nvictims < (int)(sizeof(victims) / sizeof(*victims))) {
        h5s3_h5_file *prev = f->prev;

        if (f->refs == 0) {
            list_remove(t, f);
            victims[nvictims++] = f;
        }
        f = prev;
    }
    apr_thread_mutex_unlock(t->mutex);
    close_list(victims, nvictims);
    *out = nf;

cleanup:
    if (own_rq) {
        h5s3_h5_request_end();
    }
    return rv;
}

void h5s3_h5_file_release(h5s3_h5_file *f)
{
    h5s3_h5_files *t;
    int close = 0;

    if (!f) {
        return;
    }
    t = f->table;
    apr_thread_mutex_lock(t->mutex);
    f->refs--;
    if (f->refs == 0 && (f->src.failed || !f->in_table)) {
        list_remove(t, f);
        close = 1;
    }
    apr_thread_mutex_unlock(t->mutex);
    if (close) {
        file_close(f);
    }
}

hid_t h5s3_h5_file_id(const h5s3_h5_file *f)
{
    return f->fid;
}

const char *h5s3_h5_file_etag(const h5s3_h5_file *f)
{
    return f->etag;
}

apr_off_t h5s3_h5_file_size(const h5s3_h5_file *f)
{
    return f->src.obj.size;
}

h5s3_h5_source *h5s3_h5_file_source(h5s3_h5_file *f)
{
    return &f->src;
}

/* ---- fetching ahead for an open file ----------------------------------- */

apr_status_t h5s3_h5_prefetch_ranges(h5s3_h5_file *f,
                                     const apr_off_t *offsets,
                                     const apr_size_t *lens, int n)
{
    return h5s3_h5_prefetch_ranges_src(&f->src, offsets, lens, n);
}

apr_status_t h5s3_h5_prefetch_group_page(h5s3_h5_file *f, const char *path,
                                         hsize_t offset, hsize_t limit)
{
    return h5s3_h5_prefetch_group_src(f->fid, &f->src, path, offset, limit);
}

apr_status_t h5s3_h5_prefetch_group(h5s3_h5_file *f, const char *path)
{
    return h5s3_h5_prefetch_group_page(f, path, 0, 0);
}
