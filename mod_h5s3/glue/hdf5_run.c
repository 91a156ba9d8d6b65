/*
 * Running HDF5 work for a request: the object's current ETag (shared
 * across processes for H5S3ValidateTTL, so a warm request costs no S3
 * request), the open file from the process table, per-request accounting
 * of S3 traffic, and the mapping of failures to one status.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_file.h"

APLOG_USE_MODULE(h5s3);

/* Remember what was validated, so opening the file needs no second HEAD. */
static void remember(h5s3_req *q, const char *bucket, const char *key,
                     const char *etag, apr_off_t size, apr_time_t mtime,
                     apr_time_t checked)
{
    h5s3_s3_object_info *info = apr_pcalloc(q->r->pool, sizeof(*info));

    info->etag = etag;
    info->size = size;
    info->mtime = mtime;
    q->object = info;
    q->object_bucket = bucket;
    q->object_key = key;
    q->object_checked = checked;
}

/*
 * What S3 says about the object.  Cold, one ranged GET of the bytes that
 * opening the file reads first stands for the HEAD (its headers carry the
 * ETag and size); the bytes go to the page cache, so the open that
 * follows sends no request.  Not when nothing remembers the ETag (TTL 0):
 * then the open file is reused after a HEAD and the bytes would be waste.
 */
static apr_status_t object_info(h5s3_s3_object_info **info, h5s3_req *q,
                                const char *bucket, const char *key,
                                long ttl)
{
    h5s3_h5_files *files = h5s3_module_state.hdf5.files;
    apr_size_t want = files && ttl > 0 ? h5s3_h5_files_open_read(files) : 0;
    apr_size_t got;
    char *buf;
    apr_status_t rv;

    if (want > 0 && (buf = malloc(want)) != NULL) {
        rv = h5s3_s3_get_range_info(&got, info, q->sc->client, bucket, key,
                                    NULL, 0, want, buf, &q->call,
                                    q->r->pool);
        if (rv == APR_SUCCESS && (*info)->etag && (*info)->size >= 0) {
            h5s3_h5_files_seed(files, q->sc->client, bucket, key, *info,
                               buf, got);
        }
        free(buf);
        if (rv != APR_SUCCESS || ((*info)->etag && (*info)->size >= 0)) {
            return rv;
        }
        /* A 416 (empty object) may come without an ETag: ask HEAD. */
    }
    return h5s3_s3_head(info, q->sc->client, bucket, key, &q->call,
                        q->r->pool);
}

/*
 * The entry is "SIZE MTIME CHECKED\nETAG" (times in microseconds, CHECKED
 * when S3 said it): the size and ETag open the file, the mtime is the
 * answers' Last-Modified, and CHECKED says until when answers made from
 * this ETag may be served without asking again.
 */
static int parse_object(const char *val, apr_off_t *size, apr_time_t *mtime,
                        apr_time_t *checked, const char **etag)
{
    char *end;
    apr_int64_t v[3];
    int i;

    for (i = 0; i < 3; i++) {
        v[i] = apr_strtoi64(val, &end, 10);
        if (end == val || *end != (i < 2 ? ' ' : '\n') || v[i] < -1) {
            return 0;
        }
        val = end + 1;
    }
    *size = (apr_off_t)v[0];
    *mtime = (apr_time_t)v[1];
    *checked = (apr_time_t)v[2];
    *etag = val;
    return 1;
}

apr_status_t h5s3_object_etag(const char **etag, h5s3_req *q,
                              const char *bucket, const char *key)
{
    apr_pool_t *p = q->r->pool;
    const char *ckey = apr_pstrcat(p, q->sc->cache_scope, "\n", bucket, "\n",
                                   key, NULL);
    long ttl = h5s3_conf_validate_ttl(q->sc);
    h5s3_s3_object_info *info;
    apr_off_t size;
    apr_time_t mtime, checked;
    char *val;
    apr_size_t len;
    apr_status_t rv;

    if (strlen(key) > H5S3_S3_KEY_MAX) {
        return H5S3_E_NOTFOUND;
    }
    if (ttl > 0 && h5s3_cache_get(&h5s3_module_state.cache, "object", ckey,
                                  &val, &len, p) == APR_SUCCESS
        && parse_object(val, &size, &mtime, &checked, etag)) {
        remember(q, bucket, key, *etag, size, mtime, checked);
        return APR_SUCCESS;
    }
    checked = apr_time_now();
    rv = object_info(&info, q, bucket, key, ttl);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *etag = info->etag ? info->etag : "";
    remember(q, bucket, key, *etag, info->size, info->mtime, checked);
    if (ttl > 0) {
        val = apr_psprintf(p, "%" APR_OFF_T_FMT " %" APR_TIME_T_FMT " %"
                           APR_TIME_T_FMT "\n%s", info->size, info->mtime,
                           checked, *etag);
        h5s3_cache_set(&h5s3_module_state.cache, "object", ckey, val,
                       strlen(val), apr_time_from_sec(ttl), p);
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_hdf5_run(json_t **out, const char **etag, h5s3_req *q,
                           const char *bucket, const char *key,
                           h5s3_hdf5_work_fn *prefetch,
                           h5s3_hdf5_work_fn *work, void *baton)
{
    h5s3_h5_files *files = h5s3_module_state.hdf5.files;
    const h5s3_s3_object_info *known;
    h5s3_h5_request rq;
    h5s3_h5_file *f = NULL;
    apr_status_t rv;

    if (files == NULL || q->sc->client == NULL) {
        return APR_EGENERAL;
    }
    if (strlen(key) > H5S3_S3_KEY_MAX) {
        return H5S3_E_NOTFOUND;
    }
    memset(&rq, 0, sizeof(rq));
    rq.call = &q->call;
    rq.limits = &q->sc->limits;
    h5s3_result_init(&rq.result, q->r->pool);
    h5s3_h5_request_begin(&rq);
    known = (q->object && !strcmp(q->object_bucket, bucket)
             && !strcmp(q->object_key, key)) ? q->object : NULL;
    rv = h5s3_h5_file_open_known(
        &f, files, q->sc->client, bucket, key,
        apr_time_from_sec(h5s3_conf_validate_ttl(q->sc)), known, &q->call,
        q->r->pool);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    *etag = apr_pstrdup(q->r->pool, h5s3_h5_file_etag(f));
    if (prefetch) {
        /* Best effort: a failed prefetch only means slower reads. */
        json_t *unused = NULL;
        prefetch(&unused, f, baton, q->r->pool);
        /* Unless the file wanted more than a request may fetch. */
        if (rq.result.status == H5S3_E_LIMIT) {
            rv = H5S3_E_LIMIT;
            goto cleanup;
        }
    }
    rv = work(out, f, baton, q->r->pool);
    if (rv != APR_SUCCESS) {
        /* An S3 failure inside HDF5 can look like a missing path: S3 wins. */
        rv = h5s3_h5_request_status(rv);
    }

cleanup:
    if (rv == H5S3_E_LIMIT || rq.result.status == H5S3_E_LIMIT) {
        /* The request's result, for the error: which limit, if known. */
        rv = h5s3_result_set(&q->result, H5S3_E_LIMIT, h5s3_result_detail(
            &rq.result, "The file needs more than a request may do"));
    }
    if (f) {
        h5s3_h5_file_release(f);
    }
    h5s3_h5_request_end();
    return rv;
}
