/*
 * HDF Viewer routes that serve dataset values: /files/{key}/preview,
 * /files/{key}/data and /files/{key}/export/csv (docs/viewer-api.md
 * §1.7-1.9).  Preview and data payloads are cached in the shared cache
 * keyed by (endpoint, bucket, key, ETag, every argument that shapes the
 * output) for H5S3MetaTTL; the CSV export is streamed, never cached.
 */
#include <apr_strings.h>
#include <util_filter.h>

#include "glue/h5s3_glue.h"
#include "viewer/h5s3_csv.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_file.h"
#include "viewer/h5s3_h5_view.h"
#include "json/h5s3_json.h"

APLOG_USE_MODULE(h5s3);

typedef struct data_work {
    const char *path;
    const char *key;
    const char *mode;
    const h5s3_h5_preview_opts *opts;   /* preview */
    h5s3_req *q;                        /* csv */
    const char *csv_name;               /* csv: the file's name */
    int streamed;
} data_work;

/*
 * The error for a failed values route, in the viewer's envelope; the
 * core's detail, when it said what was wrong, else the route's words.
 */
static int data_error(h5s3_req *q, apr_status_t rv, const data_work *w)
{
    apr_pool_t *p = q->r->pool;
    const char *detail = q->result.detail;

    switch (rv) {
    case H5S3_E_INVALID:
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                 detail ? detail : "Invalid request");
    case H5S3_E_NOTFOUND:
        return h5s3_viewer_error(q, HTTP_NOT_FOUND, apr_psprintf(
            p, "File '%s' not found", w->key));
    case H5S3_E_NOPATH:
        return h5s3_viewer_error(q, HTTP_NOT_FOUND, detail ? detail
            : apr_psprintf(p, "Path '%s' not found in '%s'", w->path,
                           w->key));
    case H5S3_E_NOTHDF5:
        return h5s3_viewer_error(q, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(
            p, "'%s' is not a valid HDF5 file", w->key));
    case H5S3_E_UNSUPPORTED:
        return h5s3_viewer_error(q, HTTP_UNPROCESSABLE_ENTITY, detail ? detail
            : apr_psprintf(p, "'%s' uses an HDF5 feature this server "
                           "cannot read", w->key));
    case H5S3_E_LIMIT:
    case H5S3_E_BUSY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, "H5S3-0091: %s in "
                      "bucket %s refused: %s", w->key, q->bucket,
                      h5s3_message_for(q, rv));
        return h5s3_viewer_error(q, h5s3_http_status_for(rv),
                                 h5s3_message_for(q, rv));
    case H5S3_E_TOOLARGE:
        return h5s3_viewer_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE,
                                 detail ? detail : "Selection too large");
    default:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, q->r, "H5S3-0060: "
                      "reading values of %s in %s from bucket %s failed: "
                      "%s (S3 HTTP %d %s)", w->path, w->key, q->bucket,
                      h5s3_error_name(rv), q->result.s3_status,
                      q->result.s3_code ? q->result.s3_code : "");
        return h5s3_viewer_error(q, h5s3_http_status_for(rv),
                                 h5s3_message_for(q, rv));
    }
}

static apr_status_t work_preview(json_t **out, h5s3_h5_file *f, void *baton,
                                 apr_pool_t *p)
{
    data_work *w = baton;

    return h5s3_h5_preview(out, &w->q->result, h5s3_h5_file_id(f), f,
                           w->path, w->opts, p);
}

static apr_status_t work_data(json_t **out, h5s3_h5_file *f, void *baton,
                              apr_pool_t *p)
{
    data_work *w = baton;

    return h5s3_h5_data(out, &w->q->result, h5s3_h5_file_id(f), f,
                        w->path, w->mode, w->q->args, p);
}

static int cmp_entry(const void *a, const void *b)
{
    const apr_table_entry_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : strcmp(x->val, y->val);
}

/* Every argument but etag, sorted: what shapes a /data payload. */
static const char *sorted_args(h5s3_req *q)
{
    apr_pool_t *p = q->r->pool;
    const apr_array_header_t *arr = apr_table_elts(q->args);
    apr_table_entry_t *e = apr_pmemdup(p, arr->elts,
                                       arr->nelts * sizeof(*e) + 1);
    const char *s = "";
    int i;

    qsort(e, (size_t)arr->nelts, sizeof(*e), cmp_entry);
    for (i = 0; i < arr->nelts; i++) {
        if (strcmp(e[i].key, "etag") == 0) {
            continue;
        }
        s = apr_pstrcat(p, s, *s ? "&" : "", e[i].key, "=", e[i].val, NULL);
    }
    return s;
}

static int serve_json(h5s3_req *q, const h5s3_bucket_map *m, const char *key,
                      const char *ns, const char *shape, data_work *w,
                      h5s3_hdf5_work_fn *work)
{
    apr_pool_t *p = q->r->pool;
    const char *version = apr_table_get(q->args, "etag");
    const char *etag = NULL;
    h5s3_answer a;
    json_t *result = NULL;
    char *text;
    apr_size_t len;
    apr_status_t rv;

    if (version == NULL || *version == '\0') {
        version = "ttl";
    }
    memset(&a, 0, sizeof(a));
    a.ns = ns;
    a.bucket = m->bucket;
    a.key = key;
    a.shape = apr_pstrcat(p, version, "\n", shape, NULL);
    a.ttl = h5s3_conf_meta_ttl(q->sc);
    a.flip_cached = 1;
    if (h5s3_answer_begin(q, &a, &rv)) {
        return OK;
    }
    if (rv != APR_SUCCESS) {
        return data_error(q, rv, w);
    }
    q->cache_state = "miss";
    rv = h5s3_hdf5_run(&result, &etag, q, m->bucket, key, NULL, work, w);
    if (rv != APR_SUCCESS) {
        return data_error(q, rv, w);
    }
    h5s3_json_pool_own(p, result);
    json_object_set_new(result, "key", json_string(key));
    json_object_set_new(result, "cached", json_false());
    json_object_set_new(result, "cache_version", json_string(version));
    json_object_set_new(result, "success", json_true());
    if (h5s3_json_dump(&text, &len, result, p) != APR_SUCCESS) {
        return h5s3_viewer_error(q, HTTP_INTERNAL_SERVER_ERROR,
                                 "Internal server error");
    }
    /* Made from the file actually read, whose ETag it keeps. */
    return h5s3_answer_send(q, &a, etag, text, len);
}

/*
 * What every value route does first: the work record and the required
 * path.  DECLINED to go on; anything else is the error response, sent.
 */
static int begin(h5s3_req *q, const char *key, data_work *w)
{
    q->key = key;
    memset(w, 0, sizeof(*w));
    w->key = key;
    w->path = apr_table_get(q->args, "path");
    w->q = q;
    if (w->path == NULL || *w->path == '\0') {
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                 "Missing required parameter: path");
    }
    return DECLINED;
}

/* /data and /export/csv next: the mode (csv: as CSV allows it), the bucket. */
static int mode_and_bucket(h5s3_req *q, data_work *w, int for_data,
                           const h5s3_bucket_map **m)
{
    int rc;

    if (h5s3_h5_data_mode(&w->mode, &q->result,
                          apr_table_get(q->args, "mode"), for_data,
                          q->r->pool) != APR_SUCCESS) {
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST, q->result.detail);
    }
    if ((*m = h5s3_viewer_bucket(q, &rc)) == NULL) {
        return rc;
    }
    return DECLINED;
}

int h5s3_route_preview(h5s3_req *q, const char *key)
{
    apr_pool_t *p = q->r->pool;
    h5s3_h5_preview_opts opts;
    data_work w;
    const h5s3_bucket_map *m;
    const char *shape;
    int rc;

    if ((rc = begin(q, key, &w)) != DECLINED) {
        return rc;
    }
    if (h5s3_h5_preview_opts_parse(&opts, &q->result, q->args, p)
            != APR_SUCCESS) {
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST, q->result.detail);
    }
    if ((m = h5s3_viewer_bucket(q, &rc)) == NULL) {
        return rc;
    }
    w.opts = &opts;
    shape = apr_psprintf(p, "%s\n%s\n%s\n%d\n%d\n%s\n%s", w.path, opts.mode,
                         opts.detail, opts.include_stats, opts.max_size,
                         opts.display_dims ? opts.display_dims : "\001",
                         opts.fixed_indices ? opts.fixed_indices : "\001");
    return serve_json(q, m, key, "preview", shape, &w, work_preview);
}

int h5s3_route_data(h5s3_req *q, const char *key)
{
    data_work w;
    const h5s3_bucket_map *m;
    int rc;

    if ((rc = begin(q, key, &w)) != DECLINED
        || (rc = mode_and_bucket(q, &w, 1, &m)) != DECLINED) {
        return rc;
    }
    return serve_json(q, m, key, "data", sorted_args(q), &w, work_data);
}

/* ---- CSV ----------------------------------------------------------------- */

/* From here on the response is CSV: failures can only cut it off. */
static void csv_start(data_work *w)
{
    request_rec *r = w->q->r;

    w->streamed = 1;
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/csv; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    apr_table_setn(r->headers_out, "Content-Disposition", apr_psprintf(
        r->pool, "attachment; filename=\"%s\"", w->csv_name));
    h5s3_finish_request(w->q);  /* debug headers before the first byte */
}

/*
 * The first bytes go out with the first strip, once it was read: a file
 * that makes that read fail (a limit, a corrupt chunk) still gets its
 * JSON error.
 */
static apr_status_t csv_write(void *baton, const char *buf, apr_size_t len)
{
    data_work *w = baton;
    request_rec *r = w->q->r;

    if (!w->streamed) {
        csv_start(w);
    }
    if (ap_rwrite(buf, (int)len, r) < 0 || ap_rflush(r) < 0
        || r->connection->aborted) {
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

static apr_status_t work_csv(json_t **out, h5s3_h5_file *f, void *baton,
                             apr_pool_t *p)
{
    data_work *w = baton;
    request_rec *r = w->q->r;
    h5s3_h5_csv *c;
    apr_status_t rv;

    *out = NULL;
    rv = h5s3_h5_csv_prepare(&c, &w->q->result, h5s3_h5_file_id(f), f,
                             w->key, w->path, w->mode, w->q->args, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    w->csv_name = h5s3_h5_csv_name(c);
    if (r->header_only) {
        csv_start(w);
        return APR_SUCCESS;
    }
    rv = h5s3_h5_csv_stream(c, csv_write, w);
    if (rv == APR_SUCCESS && !w->streamed) {
        csv_start(w);           /* nothing was written (cannot happen) */
    }
    return rv;
}

/* Cut a streamed response off: no last chunk, connection closed. */
static void abort_stream(request_rec *r)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);

    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(
        HTTP_BAD_GATEWAY, NULL, r->pool, r->connection->bucket_alloc));
    ap_pass_brigade(r->output_filters, bb);
    r->connection->keepalive = AP_CONN_CLOSE;
}

int h5s3_route_export_csv(h5s3_req *q, const char *key)
{
    data_work w;
    const h5s3_bucket_map *m;
    const char *etag;
    json_t *unused = NULL;
    apr_status_t rv;
    int rc;

    if ((rc = begin(q, key, &w)) != DECLINED
        || (rc = mode_and_bucket(q, &w, 0, &m)) != DECLINED) {
        return rc;
    }
    rv = h5s3_hdf5_run(&unused, &etag, q, m->bucket, key, NULL, work_csv,
                       &w);
    if (!w.streamed) {
        return rv == APR_SUCCESS ? OK : data_error(q, rv, &w);
    }
    if (rv != APR_SUCCESS) {
        if (!q->r->connection->aborted) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, "H5S3-0061: "
                          "CSV export of %s in %s failed while streaming: "
                          "%s", w.path, key, h5s3_error_name(rv));
        }
        abort_stream(q->r);
    }
    return OK;
}
