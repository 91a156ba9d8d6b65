/*
 * HDF Viewer routes that look inside HDF5 files: /files/{key}/children and
 * /files/{key}/meta (docs/viewer-api.md §1.5-1.6).  Payloads are cached in
 * the shared cache keyed by (bucket, key, path) with the ETag of the
 * object they were made from, trusted for H5S3ValidateTTL, so a warm
 * request costs one cache lookup and no S3 request (glue/answer_cache.c).
 */
#include <string.h>
#include <limits.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_describe.h"
#include "hdf5/h5s3_h5_file.h"
#include "json/h5s3_json.h"
#include "base/h5s3_conf_values.h"

APLOG_USE_MODULE(h5s3);


/*
 * /children lists a page of a group: a group may hold millions of links,
 * and listing them all would be GBs of JSON from one HDF5 call under the
 * library's global lock.  The default page is larger than any group of
 * an ordinary file; "H5S3Limit entries" caps the largest.
 */
#define CHILDREN_LIMIT_DEFAULT 10000

typedef struct viewer_work {
    const char *path;
    int children;
    hsize_t offset;
    hsize_t limit;
    h5s3_h5_page page;
} viewer_work;

static apr_status_t prefetch_group(json_t **unused, h5s3_h5_file *f,
                                   void *baton, apr_pool_t *p)
{
    viewer_work *w = baton;

    return h5s3_h5_prefetch_group_page(f, w->path, w->offset, w->limit);
}

static apr_status_t describe(json_t **out, h5s3_h5_file *f, void *baton,
                             apr_pool_t *p)
{
    viewer_work *w = baton;
    hid_t fid = h5s3_h5_file_id(f);

    return w->children ? h5s3_h5_children_page(out, &w->page, fid, w->path,
                                               w->offset, w->limit, p)
                       : h5s3_h5_meta(out, fid, w->path, p);
}

/* The error for a failed HDF5 route, in the viewer's envelope. */
static int hdf5_error(h5s3_req *q, apr_status_t rv, const char *key,
                      const char *path)
{
    apr_pool_t *p = q->r->pool;

    switch (rv) {
    case H5S3_E_NOTFOUND:
        return h5s3_viewer_error(q, HTTP_NOT_FOUND, apr_psprintf(
            p, "File '%s' not found", key));
    case H5S3_E_NOPATH:
        return h5s3_viewer_error(q, HTTP_NOT_FOUND, apr_psprintf(
            p, "Path '%s' not found in '%s'", path, key));
    case H5S3_E_NOTHDF5:
        return h5s3_viewer_error(q, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(
            p, "'%s' is not a valid HDF5 file", key));
    case H5S3_E_UNSUPPORTED:
        return h5s3_viewer_error(q, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(
            p, "'%s' uses an HDF5 feature this server cannot read", key));
    case H5S3_E_LIMIT:
    case H5S3_E_BUSY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, "H5S3-0090: %s in "
                      "bucket %s refused: %s", key, q->bucket,
                      h5s3_message_for(q, rv));
        return h5s3_viewer_error(q, h5s3_http_status_for(rv),
                                 h5s3_message_for(q, rv));
    default:
        /* rv is ours, not an APR error: the message names it instead. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, "H5S3-0050: "
                      "reading %s from bucket %s failed: %s (S3 HTTP %d %s)",
                      key, q->bucket, h5s3_error_name(rv),
                      q->result.s3_status,
                      q->result.s3_code ? q->result.s3_code : "");
        return h5s3_viewer_error(q, h5s3_http_status_for(rv),
                                 h5s3_message_for(q, rv));
    }
}

/* offset and limit of /children.  0 when good; else the 400 naming the
 * parameter was sent and *rc is the handler's result. */
static int page_params(int *rc, h5s3_req *q, viewer_work *w)
{
    const char *s_off = apr_table_get(q->args, "offset");
    const char *s_lim = apr_table_get(q->args, "limit");
    apr_uint64_t max = q->sc->limits.max[H5S3_H5_LIMIT_ENTRIES];
    long v;

    w->offset = 0;
    w->limit = CHILDREN_LIMIT_DEFAULT < max ? CHILDREN_LIMIT_DEFAULT : max;
    if (s_off) {
        if (h5s3_conf_parse_long(&v, &q->result, s_off, 0, LONG_MAX)) {
            *rc = h5s3_viewer_error(q, HTTP_BAD_REQUEST, apr_psprintf(
                q->r->pool, "Invalid offset parameter: %s",
                q->result.detail));
            return 1;
        }
        w->offset = (hsize_t)v;
    }
    if (s_lim) {
        if (h5s3_conf_parse_long(&v, NULL, s_lim, 1, LONG_MAX)
            || (apr_uint64_t)v > max) {
            *rc = h5s3_viewer_error(q, HTTP_BAD_REQUEST, apr_psprintf(
                q->r->pool, "Invalid limit parameter: it must be between 1 "
                "and %" APR_UINT64_T_FMT, max));
            return 1;
        }
        w->limit = (hsize_t)v;
    }
    return 0;
}

/* Where the page sits: total, offset, limit and the next page's offset. */
static void page_fields(json_t *body, const viewer_work *w)
{
    json_object_set_new(body, "total", json_integer((json_int_t)
                                                    w->page.total));
    json_object_set_new(body, "offset", json_integer((json_int_t)w->offset));
    json_object_set_new(body, "limit", json_integer((json_int_t)w->limit));
    json_object_set_new(body, "next_offset", w->page.more
                        ? json_integer((json_int_t)(w->offset + w->limit))
                        : json_null());
}

static int viewer_hdf5(h5s3_req *q, const char *key, int children)
{
    apr_pool_t *p = q->r->pool;
    const char *path = apr_table_get(q->args, "path");
    const char *ns = children ? "children" : "meta";
    const h5s3_bucket_map *m;
    viewer_work w;
    h5s3_answer a;
    const char *etag, *shape;
    json_t *result = NULL, *body;
    char *text;
    apr_size_t len;
    apr_status_t rv;
    int rc;

    q->key = key;
    if (children && (path == NULL || *path == '\0')) {
        path = "/";
    }
    if (!children && (path == NULL || *path == '\0')) {
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                 "Missing required parameter: path");
    }
    memset(&w, 0, sizeof(w));
    if (children && page_params(&rc, q, &w)) {
        return rc;
    }
    if ((m = h5s3_viewer_bucket(q, &rc)) == NULL) {
        return rc;
    }
    /* A page is its own answer: the cache key names it. */
    shape = children ? apr_psprintf(p, "%s\n%" APR_UINT64_T_FMT "+%"
                                    APR_UINT64_T_FMT, path,
                                    (apr_uint64_t)w.offset,
                                    (apr_uint64_t)w.limit)
                     : path;

    memset(&a, 0, sizeof(a));
    a.ns = ns;
    a.bucket = m->bucket;
    a.key = key;
    a.shape = shape;
    a.ttl = h5s3_conf_meta_ttl(q->sc);
    a.flip_cached = 1;
    if (h5s3_answer_begin(q, &a, &rv)) {
        return OK;
    }
    if (rv != APR_SUCCESS) {
        return hdf5_error(q, rv, key, path);
    }
    q->cache_state = "miss";

    w.path = path;
    w.children = children;
    rv = h5s3_hdf5_run(&result, &etag, q, m->bucket, key,
                       children ? prefetch_group : NULL, describe, &w);
    if (rv != APR_SUCCESS) {
        return hdf5_error(q, rv, key, path);
    }
    h5s3_json_pool_own(p, result);
    body = h5s3_json_pool_own(p, json_pack(
        "{s:b, s:O, s:s, s:b}", "cached", 0,
        children ? "children" : "metadata", result, "key", key,
        "success", 1));
    if (children) {
        json_object_set_new(body, "path", json_string(path));
        page_fields(body, &w);
    }
    if (h5s3_json_dump(&text, &len, body, p) != APR_SUCCESS) {
        return h5s3_viewer_error(q, HTTP_INTERNAL_SERVER_ERROR,
                                 "Internal server error");
    }
    /* Made from the file actually read, whose ETag it keeps. */
    return h5s3_answer_send(q, &a, etag, text, len);
}

int h5s3_route_children(h5s3_req *q, const char *key)
{
    return viewer_hdf5(q, key, 1);
}

int h5s3_route_meta(h5s3_req *q, const char *key)
{
    return viewer_hdf5(q, key, 0);
}
