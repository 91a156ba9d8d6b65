/*
 * The h5grove-compatible API under /h5grove/ (docs/h5grove.md),
 * so H5Web's H5GroveProvider is a viewer for mod_h5s3: /, /meta/,
 * /attr/, /data/, /stats/, /paths/, with file = object key in the
 * vhost's default bucket (bucket= may name another mapped alias).
 * Errors are h5grove's {"message": ...} with its phrases.  /meta/,
 * /attr/, /paths/ and /stats/ answers are cached in the shared cache
 * keyed by (endpoint, bucket, key, ETag, arguments); describing a group
 * also stores the /meta/ answers of its non-group children, which H5Web
 * asks for next.
 */
#include <string.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "hdf5/h5s3_h5_file.h"

APLOG_USE_MODULE(h5s3);

int h5s3_grove_error(h5s3_req *q, int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "message", msg ? msg : "Error");
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    const char *body = text ? apr_pstrdup(q->r->pool, text)
                            : "{\"message\":\"Error\"}";

    free(text);
    json_decref(j);
    if (status == HTTP_SERVICE_UNAVAILABLE || status == HTTP_GATEWAY_TIME_OUT
        || status == HTTP_BAD_GATEWAY) {
        apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
    }
    return h5s3_send_body(q, status, "application/json", body, strlen(body));
}

/*
 * A failed core call, in h5grove's words: the core's detail when it said
 * what was wrong (q->result), else h5grove's own phrase.
 */
static int grove_fail(h5s3_req *q, apr_status_t rv)
{
    apr_pool_t *p = q->r->pool;
    const char *detail = q->result.detail;

    switch (rv) {
    case H5S3_E_NOTFOUND:
        return h5s3_grove_error(q, HTTP_NOT_FOUND, detail ? detail
                                : "File not found!");
    case H5S3_E_NOPATH:
        return h5s3_grove_error(q, HTTP_NOT_FOUND, detail ? detail
            : apr_psprintf(p, "%s is not a valid path in %s",
                           apr_table_get(q->args, "path"), q->key));
    case H5S3_E_DENIED:
        return h5s3_grove_error(q, HTTP_FORBIDDEN,
                                "Cannot read file: Permission denied!");
    case H5S3_E_INVALID:
    case H5S3_E_UNSUPPORTED:
        return h5s3_grove_error(q, HTTP_UNPROCESSABLE_ENTITY, detail ? detail
                                : "This server cannot serve that data");
    case H5S3_E_NOTHDF5:
        return h5s3_grove_error(q, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(
            p, "Cannot read file: %s is not a valid HDF5 file", q->key));
    case H5S3_E_LIMIT:
    case H5S3_E_BUSY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, "H5S3-0092: h5grove "
                      "%s of %s in bucket %s refused: %s", q->route, q->key,
                      q->bucket, h5s3_message_for(q, rv));
        return h5s3_grove_error(q, h5s3_http_status_for(rv),
                                h5s3_message_for(q, rv));
    case H5S3_E_TOOLARGE:
        return h5s3_grove_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE,
                                detail ? detail
                                : "The selection is too large");
    default:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, q->r, "H5S3-0070: "
                      "h5grove %s of %s in bucket %s failed: %s (S3 HTTP %d "
                      "%s)", q->route, q->key, q->bucket,
                      h5s3_error_name(rv), q->result.s3_status,
                      q->result.s3_code ? q->result.s3_code : "");
        return h5s3_grove_error(q, h5s3_http_status_for(rv),
                                h5s3_message_for(q, rv));
    }
}

/* file= (required) and bucket= (a mapped alias, default bucket if absent). */
static const h5s3_bucket_map *grove_begin(h5s3_req *q, int *rc)
{
    const char *file = apr_table_get(q->args, "file");
    const char *alias = apr_table_get(q->args, "bucket");
    const h5s3_bucket_map *m;

    if (file == NULL || *file == '\0') {
        *rc = h5s3_grove_error(q, HTTP_UNPROCESSABLE_ENTITY,
                               "File argument is required");
        return NULL;
    }
    q->key = file;
    m = h5s3_bucket_lookup(q->sc, alias);
    if (m == NULL) {
        *rc = h5s3_grove_error(q, HTTP_NOT_FOUND, apr_psprintf(
            q->r->pool, "File not found! (bucket '%s' is not mapped here)",
            alias ? alias : ""));
        return NULL;
    }
    q->bucket = m->bucket;
    return m;
}

/*
 * The shared shape of the JSON routes: ETag (trusted for
 * H5S3ValidateTTL), cache lookup, HDF5 work on a miss, cache store.
 */
typedef struct grove_work {
    h5s3_req *q;
    const char *path;
    const char *selection;
    h5s3_grove_links links;
    const apr_array_header_t *keys;
    h5s3_grove_data_opts opts;
    h5s3_grove_payload payload;
    apr_array_header_t *ahead;
    char *json;
} grove_work;

static int serve_cached_json(h5s3_req *q, const h5s3_bucket_map *m,
                             const char *ns, const char *shape,
                             h5s3_hdf5_work_fn *prefetch,
                             h5s3_hdf5_work_fn *work, grove_work *w)
{
    apr_pool_t *p = q->r->pool;
    const char *etag = NULL;
    h5s3_answer a;
    json_t *unused = NULL;
    apr_status_t rv;
    int i;

    memset(&a, 0, sizeof(a));
    a.ns = ns;
    a.bucket = m->bucket;
    a.key = q->key;
    a.shape = shape;
    a.ttl = h5s3_conf_meta_ttl(q->sc);
    if (h5s3_answer_begin(q, &a, &rv)) {
        return OK;
    }
    if (rv != APR_SUCCESS) {
        return grove_fail(q, rv);
    }
    q->cache_state = "miss";
    rv = h5s3_hdf5_run(&unused, &etag, q, m->bucket, q->key, prefetch, work,
                       w);
    if (rv != APR_SUCCESS) {
        return grove_fail(q, rv);
    }
    for (i = 0; w->ahead && i < w->ahead->nelts; i++) {
        const h5s3_grove_ahead *h = &APR_ARRAY_IDX(w->ahead, i,
                                                   h5s3_grove_ahead);

        h5s3_answer_keep(q, &a, "grove_meta", apr_psprintf(
            p, "%s\n%d", h->path, H5S3_GROVE_LINKS_ONLY_VALID), etag,
            h->json, strlen(h->json));
    }
    /* Made from the file actually read, whose ETag it keeps. */
    return h5s3_answer_send(q, &a, etag, w->json, strlen(w->json));
}

/* ---- / ------------------------------------------------------------------ */

int h5s3_route_grove_root(h5s3_req *q, const char *key)
{
    (void)key;
    return h5s3_send_body(q, HTTP_OK, "text/plain; charset=utf-8", "ok", 2);
}

/* ---- /meta/ ------------------------------------------------------------- */

static apr_status_t prefetch_group(json_t **unused, h5s3_h5_file *f,
                                   void *baton, apr_pool_t *p)
{
    grove_work *w = baton;

    (void)unused;
    (void)p;
    return h5s3_h5_prefetch_group(f, w->path);
}

static apr_status_t work_meta(json_t **out, h5s3_h5_file *f, void *baton,
                              apr_pool_t *p)
{
    grove_work *w = baton;

    *out = NULL;
    return h5s3_grove_meta(&w->json, &w->q->result, &w->ahead,
                           h5s3_h5_file_id(f), w->q->key, w->path, w->links,
                           p);
}

/* resolve_links=; 1 when the 422 was sent. */
static int links_bad(h5s3_req *q, grove_work *w)
{
    if (h5s3_grove_links_parse(&w->links, &q->result, apr_table_get(
            q->args, "resolve_links"), q->r->pool) != APR_SUCCESS) {
        h5s3_grove_error(q, HTTP_UNPROCESSABLE_ENTITY, q->result.detail);
        return 1;
    }
    return 0;
}

/*
 * Every route's opening: the work for path=, the file and bucket, and
 * (links) resolve_links=.  NULL when an error went out; *rc is then
 * what the route returns.
 */
static const h5s3_bucket_map *grove_open(grove_work *w, h5s3_req *q,
                                         int links, int *rc)
{
    const h5s3_bucket_map *m;

    memset(w, 0, sizeof(*w));
    w->q = q;
    w->path = apr_table_get(q->args, "path");
    if (w->path == NULL) {
        w->path = "/";
    }
    if ((m = grove_begin(q, rc)) == NULL) {
        return NULL;
    }
    if (links && links_bad(q, w)) {
        *rc = OK;
        return NULL;
    }
    return m;
}

int h5s3_route_grove_meta(h5s3_req *q, const char *key)
{
    const h5s3_bucket_map *m;
    grove_work w;
    int rc;

    (void)key;
    if ((m = grove_open(&w, q, 1, &rc)) == NULL) {
        return rc;
    }
    return serve_cached_json(q, m, "grove_meta", apr_psprintf(
        q->r->pool, "%s\n%d", w.path, w.links), prefetch_group, work_meta,
        &w);
}

/* ---- /attr/ ------------------------------------------------------------- */

/* Every attr_keys value: the router keeps only the first of a name. */
static apr_array_header_t *attr_keys(h5s3_req *q)
{
    apr_pool_t *p = q->r->pool;
    apr_array_header_t *keys = NULL;
    char *copy, *tok, *last;

    if (q->r->args == NULL) {
        return NULL;
    }
    copy = apr_pstrdup(p, q->r->args);
    for (tok = apr_strtok(copy, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(tok, '=');
        char *val = eq ? eq + 1 : "";

        if (eq) {
            *eq = '\0';
        }
        if (ap_unescape_urlencoded(tok) != OK || strcmp(tok, "attr_keys")
            || ap_unescape_urlencoded(val) != OK) {
            continue;
        }
        if (keys == NULL) {
            keys = apr_array_make(p, 4, sizeof(const char *));
        }
        APR_ARRAY_PUSH(keys, const char *) = val;
    }
    return keys;
}

static apr_status_t work_attr(json_t **out, h5s3_h5_file *f, void *baton,
                              apr_pool_t *p)
{
    grove_work *w = baton;

    *out = NULL;
    return h5s3_grove_attr(&w->json, &w->q->result, h5s3_h5_file_id(f),
                           w->q->key, w->path, w->keys, p);
}

int h5s3_route_grove_attr(h5s3_req *q, const char *key)
{
    apr_pool_t *p = q->r->pool;
    const h5s3_bucket_map *m;
    grove_work w;
    const char *shape;
    int rc, i;

    (void)key;
    if ((m = grove_open(&w, q, 0, &rc)) == NULL) {
        return rc;
    }
    w.keys = attr_keys(q);
    shape = apr_pstrcat(p, w.path, w.keys ? "\nkeys" : "\nall", NULL);
    for (i = 0; w.keys && i < w.keys->nelts; i++) {
        shape = apr_pstrcat(p, shape, "\001",
                            APR_ARRAY_IDX(w.keys, i, const char *), NULL);
    }
    return serve_cached_json(q, m, "grove_attr", shape, NULL, work_attr, &w);
}

/* ---- /paths/ ------------------------------------------------------------ */

static apr_status_t work_paths(json_t **out, h5s3_h5_file *f, void *baton,
                               apr_pool_t *p)
{
    grove_work *w = baton;

    *out = NULL;
    return h5s3_grove_paths(&w->json, &w->q->result, h5s3_h5_file_id(f),
                            w->q->key, w->path, w->links, p);
}

int h5s3_route_grove_paths(h5s3_req *q, const char *key)
{
    const h5s3_bucket_map *m;
    grove_work w;
    int rc;

    (void)key;
    if ((m = grove_open(&w, q, 1, &rc)) == NULL) {
        return rc;
    }
    return serve_cached_json(q, m, "grove_paths", apr_psprintf(
        q->r->pool, "%s\n%d", w.path, w.links), NULL, work_paths, &w);
}

/* ---- /stats/ ------------------------------------------------------------ */

static apr_status_t work_stats(json_t **out, h5s3_h5_file *f, void *baton,
                               apr_pool_t *p)
{
    grove_work *w = baton;

    *out = NULL;
    return h5s3_grove_stats(&w->json, &w->q->result, h5s3_h5_file_id(f), f,
                            w->q->key, w->path, w->selection, p);
}

int h5s3_route_grove_stats(h5s3_req *q, const char *key)
{
    const h5s3_bucket_map *m;
    grove_work w;
    int rc;

    (void)key;
    if ((m = grove_open(&w, q, 0, &rc)) == NULL) {
        return rc;
    }
    w.selection = apr_table_get(q->args, "selection");
    return serve_cached_json(q, m, "grove_stats", apr_pstrcat(
        q->r->pool, w.path, "\n", w.selection ? w.selection : "\001", NULL),
        NULL, work_stats, &w);
}

/* ---- /data/ ------------------------------------------------------------- */

static apr_status_t work_data(json_t **out, h5s3_h5_file *f, void *baton,
                              apr_pool_t *p)
{
    grove_work *w = baton;

    *out = NULL;
    return h5s3_grove_data(&w->payload, &w->q->result, h5s3_h5_file_id(f),
                           f, w->q->key, w->path, &w->opts, p);
}

static int send_payload(h5s3_req *q, const h5s3_grove_payload *pl)
{
    request_rec *r = q->r;

    r->status = HTTP_OK;
    ap_set_content_type(r, pl->ctype);
    /* H5Web's progress bar reads it. */
    ap_set_content_length(r, (apr_off_t)(pl->head->len + pl->raw_len));
    if (apr_table_get(r->headers_out, "ETag") == NULL) {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    }
    if (pl->disposition) {
        apr_table_setn(r->headers_out, "Content-Disposition",
                       pl->disposition);
    }
    h5s3_finish_request(q);
    if (!r->header_only) {
        if (pl->head->len) {
            ap_rwrite(pl->head->data, (int)pl->head->len, r);
        }
        if (pl->raw_len) {
            ap_rwrite(pl->raw, (int)pl->raw_len, r);
        }
    }
    return OK;
}

int h5s3_route_grove_data(h5s3_req *q, const char *key)
{
    const h5s3_bucket_map *m;
    grove_work w;
    const char *etag = NULL, *validated, *what;
    json_t *unused = NULL;
    apr_status_t rv;
    int rc;

    (void)key;
    if ((m = grove_open(&w, q, 0, &rc)) == NULL) {
        return rc;
    }
    w.opts.selection = apr_table_get(q->args, "selection");
    w.opts.format = apr_table_get(q->args, "format");
    w.opts.dtype = apr_table_get(q->args, "dtype");
    w.opts.flatten = h5s3_grove_bool_arg(apr_table_get(q->args, "flatten"),
                                         0);
    /*
     * Not kept in the shared cache (values can be large), but validated:
     * H5Web asks the same slices again, and a 304 needs only the
     * object's ETag, trusted for H5S3ValidateTTL.
     */
    what = h5s3_answer_key(q, m->bucket, q->key, "", apr_psprintf(
        q->r->pool, "%s\n%s\n%s\n%s\n%d", w.path,
        w.opts.selection ? w.opts.selection : "\001",
        w.opts.format ? w.opts.format : "\001",
        w.opts.dtype ? w.opts.dtype : "\001", w.opts.flatten));
    rv = h5s3_object_etag(&validated, q, m->bucket, q->key);
    if (rv != APR_SUCCESS) {
        return grove_fail(q, rv);
    }
    if (h5s3_http_validate(q, h5s3_http_etag(q, "grove_data", what,
                                             validated), q->object->mtime)) {
        return OK;
    }
    rv = h5s3_hdf5_run(&unused, &etag, q, m->bucket, q->key, NULL,
                       work_data, &w);
    if (rv != APR_SUCCESS) {
        return grove_fail(q, rv);
    }
    if (w.payload.head->oom) {
        return h5s3_grove_error(q, HTTP_INTERNAL_SERVER_ERROR,
                                "Out of memory");
    }
    /* The file read changed since it was validated: its own ETag. */
    if (strcmp(etag, validated)) {
        apr_table_unset(q->r->headers_out, "Last-Modified");
        if (h5s3_http_validate(q, h5s3_http_etag(q, "grove_data", what,
                                                 etag), 0)) {
            return OK;
        }
    }
    return send_payload(q, &w.payload);
}
