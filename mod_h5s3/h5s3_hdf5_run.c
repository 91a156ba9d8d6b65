/*
 * Running HDF5 work for a request: the object's current ETag (shared
 * across processes for H5S3ValidateTTL, so a warm request costs no S3
 * request), the open file from the process table, per-request accounting
 * of S3 traffic, and the mapping of failures to one status.
 */
#include <apr_strings.h>

#include "h5s3_glue.h"
#include "h5s3_errors.h"
#include "h5s3_h5_file.h"

APLOG_USE_MODULE(h5s3);

apr_status_t h5s3_object_etag(const char **etag, h5s3_req *q,
                              const char *bucket, const char *key)
{
    apr_pool_t *p = q->r->pool;
    const char *ckey = apr_pstrcat(p, q->sc->cache_scope, "\n", bucket, "\n",
                                   key, NULL);
    long ttl = h5s3_conf_validate_ttl(q->sc);
    h5s3_s3_object_info *info;
    char *val;
    apr_size_t len;
    apr_status_t rv;

    if (ttl > 0 && h5s3_cache_get(&h5s3_global.cache, "etag", ckey, &val,
                                  &len, p) == APR_SUCCESS) {
        *etag = val;
        return APR_SUCCESS;
    }
    rv = h5s3_s3_head(&info, q->sc->client, bucket, key, &q->call, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *etag = info->etag ? info->etag : "";
    if (ttl > 0) {
        h5s3_cache_set(&h5s3_global.cache, "etag", ckey, *etag,
                       strlen(*etag), apr_time_from_sec(ttl), p);
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_hdf5_run(json_t **out, const char **etag, h5s3_req *q,
                           const char *bucket, const char *key,
                           h5s3_hdf5_work_fn *prefetch,
                           h5s3_hdf5_work_fn *work, void *baton)
{
    h5s3_h5_files *files = h5s3_hdf5_files();
    h5s3_h5_request rq;
    h5s3_h5_file *f = NULL;
    apr_status_t rv;

    if (files == NULL || q->sc->client == NULL) {
        return APR_EGENERAL;
    }
    memset(&rq, 0, sizeof(rq));
    rq.call = &q->call;
    h5s3_h5_request_begin(&rq);
    rv = h5s3_h5_file_open(&f, files, q->sc->client, bucket, key,
                           apr_time_from_sec(h5s3_conf_validate_ttl(q->sc)),
                           &q->call, q->r->pool);
    if (rv != APR_SUCCESS) {
        goto done;
    }
    *etag = apr_pstrdup(q->r->pool, h5s3_h5_file_etag(f));
    if (prefetch) {
        /* Best effort: a failed prefetch only means slower reads. */
        json_t *unused = NULL;
        prefetch(&unused, f, baton, q->r->pool);
    }
    rv = work(out, f, baton, q->r->pool);
    if (rv != APR_SUCCESS) {
        /* An S3 failure inside HDF5 can look like a missing path: S3 wins. */
        rv = h5s3_h5_request_status(rv);
    }

done:
    if (f) {
        h5s3_h5_file_release(f);
    }
    h5s3_h5_request_end();
    return rv;
}
