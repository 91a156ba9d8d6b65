/*
 * Bucket browser API (docs/browser-api.md): the error envelope of §2,
 * helpers the /api routes share, and the read-only routes: buckets,
 * logical object listing and object metadata.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "glue/routes/h5s3_api.h"
#include "json/h5s3_json.h"

APLOG_USE_MODULE(h5s3);

/* ------------------------------------------------------------------ */
/* Errors                                                               */

int h5s3_api_error(h5s3_req *q, int status, const char *code,
                   const char *msg, json_t *details)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code,
                          "message", msg,
                          "details", details ? details : json_object());

    if (status == HTTP_SERVICE_UNAVAILABLE || status == HTTP_GATEWAY_TIME_OUT
        || status == HTTP_TOO_MANY_REQUESTS) {
        apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
    }
    return h5s3_send_json(q, status, h5s3_json_pool_own(q->r->pool, j));
}

/* What S3 said, for the details of an sdk_error. */
static json_t *s3_details(h5s3_req *q, const char *reason)
{
    json_t *d = json_object();

    if (q->call.errors && q->result.s3_status) {
        json_object_set_new(d, "s3_status",
                            json_integer(q->result.s3_status));
    }
    if (q->call.errors && q->result.s3_code) {
        json_object_set_new(d, "s3_code", json_string(q->result.s3_code));
    }
    if (reason) {
        json_object_set_new(d, "reason", json_string(reason));
    }
    return d;
}

int h5s3_api_error_for(h5s3_req *q, apr_status_t rv, const char *what,
                       const char *reason)
{
    const char *s3code = q->call.errors && q->result.s3_code
                         ? q->result.s3_code : "";
    const char *msg = h5s3_message_for(q, rv);

    switch (rv) {
    case H5S3_E_NOTFOUND:
    case APR_NOTFOUND:
        if (!strcmp(s3code, "NoSuchBucket") || !strcmp(what, "bucket")) {
            return h5s3_api_error(q, HTTP_NOT_FOUND, "bucket_not_found",
                                  "The bucket does not exist in S3",
                                  s3_details(q, reason));
        }
        return h5s3_api_error(q, HTTP_NOT_FOUND, "key_not_found",
                              "No such object", s3_details(q, reason));
    case H5S3_E_INTEGRITY:
        return h5s3_api_error(q, HTTP_BAD_REQUEST, "integrity_failed",
                              "The object failed its integrity check and "
                              "cannot be served", s3_details(q, reason));
    case H5S3_E_TIMEOUT:
        return h5s3_api_error(q, HTTP_GATEWAY_TIME_OUT, "timeout", msg,
                              s3_details(q, reason));
    case H5S3_E_UNREACHABLE:
        return h5s3_api_error(q, HTTP_SERVICE_UNAVAILABLE, "sdk_error", msg,
                              s3_details(q, reason));
    case H5S3_E_UPSTREAM:
        if (q->result.s3_status == 503 || !strcmp(s3code, "SlowDown")) {
            return h5s3_api_error(q, HTTP_SERVICE_UNAVAILABLE, "throttled",
                                  "S3 storage asked us to slow down; retry "
                                  "later", s3_details(q, reason));
        }
        return h5s3_api_error(q, HTTP_BAD_GATEWAY, "sdk_error", msg,
                              s3_details(q, reason));
    case H5S3_E_DENIED:
    case H5S3_E_BADREQUEST:
        return h5s3_api_error(q, HTTP_BAD_GATEWAY, "sdk_error", msg,
                              s3_details(q, reason));
    case H5S3_E_CHANGED:
        return h5s3_api_error(q, HTTP_CONFLICT, "object_changed",
                              "The object changed while it was read; retry",
                              s3_details(q, reason));
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, q->r, "H5S3-0110: %s: "
                      "unexpected failure (%s)%s%s", q->route,
                      h5s3_error_name(rv), reason ? ": " : "",
                      reason ? reason : "");
        return h5s3_api_error(q, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                              "Internal server error", NULL);
    }
}

int h5s3_api_bad_metadata(h5s3_req *q, const char *key)
{
    json_t *details = json_pack("{s:s}", "key", key);
    const char *why = q->result.detail;

    /* Whoever wrote the object chose it: worth a line for the operator. */
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, "H5S3-0136: %s/%s: "
                  "DeltaGlider metadata refused: %s", q->bucket, key,
                  why ? why : "malformed");
    if (why) {
        json_object_set_new(details, "reason", json_string(why));
    }
    return h5s3_api_error(q, HTTP_BAD_REQUEST, "integrity_failed",
                          "The object's DeltaGlider metadata is malformed",
                          details);
}

static int bad_param(h5s3_req *q, const char *name, const char *msg)
{
    return h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_parameter", msg,
                          json_pack("{s:s}", "parameter", name));
}

/* ------------------------------------------------------------------ */
/* Shared helpers                                                       */

const h5s3_bucket_map *h5s3_api_bucket(h5s3_req *q, const char *alias,
                                       int *rc)
{
    const h5s3_bucket_map *m = h5s3_bucket_lookup(q->sc, alias);

    if (m == NULL) {
        *rc = h5s3_api_error(q, HTTP_NOT_FOUND, "bucket_not_found",
                             q->sc->buckets->nelts == 0
                             ? "No bucket is mapped on this server"
                             : apr_psprintf(q->r->pool, "Bucket '%s' is not "
                                            "available on this server",
                                            alias ? alias : ""),
                             json_pack("{s:s}", "bucket",
                                       alias ? alias : ""));
        return NULL;
    }
    q->bucket = m->bucket;
    return m;
}

h5s3_dg_object *h5s3_api_object(h5s3_req *q, const h5s3_bucket_map *m,
                                const char *key, int *rc)
{
    h5s3_dg_object *o;
    apr_status_t rv;

    q->key = key;
    if (strlen(key) > H5S3_S3_KEY_MAX) {
        /* No S3 key is longer; S3 would refuse the HEAD (a 502). */
        *rc = h5s3_api_error(q, HTTP_NOT_FOUND, "key_not_found",
                             "No such object", NULL);
        return NULL;
    }
    rv = h5s3_dg_stat(&o, &q->result, h5s3_api_store(q, m->bucket), key,
                      q->r->pool);
    if (rv == H5S3_E_INVALID) {
        *rc = h5s3_api_bad_metadata(q, key);
        return NULL;
    }
    if (rv != APR_SUCCESS) {
        *rc = h5s3_api_error_for(q, rv, "key", NULL);
        return NULL;
    }
    return o;
}

const h5s3_bucket_map *h5s3_api_bucket_by_name(const h5s3_srv_conf *sc,
                                               const char *bucket)
{
    int i;

    for (i = 0; i < sc->buckets->nelts; i++) {
        const h5s3_bucket_map *m = &APR_ARRAY_IDX(sc->buckets, i,
                                                  h5s3_bucket_map);
        if (!strcmp(m->bucket, bucket)) {
            return m;
        }
    }
    return NULL;
}

h5s3_dg_store *h5s3_api_store(h5s3_req *q, const char *bucket)
{
    h5s3_dg_store *st = h5s3_dg_store_s3(q->sc->client, bucket, &q->call,
                                         q->r->pool);

    st->parallel = h5s3_conf_probe_parallel(&h5s3_module_state.conf);
    return st;
}

void h5s3_api_probe_init(h5s3_api_probe *pb, const h5s3_srv_conf *sc,
                         const char *bucket, apr_pool_t *p)
{
    const char *gen = "0";

    h5s3_cache_generation(&gen, &h5s3_module_state.cache,
                          h5s3_listing_family(sc, bucket, p), p);
    pb->endpoint = sc->cache_scope;
    pb->bucket = bucket;
    pb->gen = gen;
    /* What a HEAD said is trusted as long as an ETag is. */
    pb->ttl = apr_time_from_sec(h5s3_conf_validate_ttl(sc));
    pb->prober.recall = h5s3_api_probe_recall;
    pb->prober.remember = h5s3_api_probe_remember;
    pb->prober.baton = pb;
}

static const char *probe_key(const h5s3_api_probe *pb, const char *s3key,
                             apr_pool_t *p)
{
    return apr_pstrcat(p, pb->endpoint, "\n", pb->bucket, "\n", pb->gen,
                       "\n", s3key, NULL);
}

/*
 * A delta's x-amz-meta table, cached as a JSON object so every process
 * (and the savings job) skips the HEAD while it is trusted.
 */
apr_status_t h5s3_api_probe_recall(void *baton, apr_table_t **meta,
                                   const char *s3key, apr_pool_t *p)
{
    h5s3_api_probe *pb = baton;
    const char *name;
    json_t *j, *v;
    char *val;
    apr_size_t len;

    if (pb->ttl <= 0
        || h5s3_cache_get(&h5s3_module_state.cache, "api-probe",
                          probe_key(pb, s3key, p), &val, &len, p)
           != APR_SUCCESS) {
        return APR_NOTFOUND;
    }
    j = json_loadb(val, len, 0, NULL);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return APR_NOTFOUND;
    }
    *meta = apr_table_make(p, 16);
    json_object_foreach(j, name, v) {
        if (json_is_string(v)) {
            apr_table_set(*meta, name, json_string_value(v));
        }
    }
    json_decref(j);
    return APR_SUCCESS;
}

void h5s3_api_probe_remember(void *baton, const char *s3key,
                             apr_table_t *meta, apr_pool_t *p)
{
    h5s3_api_probe *pb = baton;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    json_t *j;
    char *text;
    int i;

    if (pb->ttl <= 0 || meta == NULL) {
        return;
    }
    arr = apr_table_elts(meta);
    e = (const apr_table_entry_t *)arr->elts;
    j = json_object();
    for (i = 0; i < arr->nelts; i++) {
        json_object_set_new(j, e[i].key, json_string(e[i].val));
    }
    if ((text = json_dumps(j, JSON_COMPACT)) != NULL) {
        h5s3_cache_set(&h5s3_module_state.cache, "api-probe",
                       probe_key(pb, s3key, p), text, strlen(text), pb->ttl,
                       p);
        free(text);
    }
    json_decref(j);
}

const char *h5s3_api_read_body(h5s3_req *q, apr_size_t max, int *rc)
{
    request_rec *r = q->r;
    const char *clen = apr_table_get(r->headers_in, "Content-Length");
    char *buf = apr_palloc(r->pool, max + 1);
    apr_size_t got = 0;
    int st;

    if (clen && apr_atoi64(clen) > (apr_int64_t)max) {
        *rc = h5s3_api_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE,
                             "payload_too_large", apr_psprintf(
                                 r->pool, "The request body is limited to "
                                 "%" APR_SIZE_T_FMT " bytes", max), NULL);
        return NULL;
    }
    if ((st = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        *rc = h5s3_api_error(q, st, "invalid_parameter",
                             "The request body cannot be read", NULL);
        return NULL;
    }
    if (ap_should_client_block(r)) {
        for (;;) {
            long n = ap_get_client_block(r, buf + got, max + 1 - got);
            if (n < 0) {
                *rc = h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_parameter",
                                     "The request body cannot be read", NULL);
                return NULL;
            }
            if (n == 0) {
                break;
            }
            got += (apr_size_t)n;
            if (got > max) {
                *rc = h5s3_api_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "payload_too_large", apr_psprintf(
                                         r->pool, "The request body is "
                                         "limited to %" APR_SIZE_T_FMT
                                         " bytes", max), NULL);
                return NULL;
            }
        }
    }
    buf[got] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* GET /api/buckets                                                     */

int h5s3_route_api_buckets(h5s3_req *q, const char *unused)
{
    json_t *rows = json_array();
    int i;

    for (i = 0; i < q->sc->buckets->nelts; i++) {
        const h5s3_bucket_map *m = &APR_ARRAY_IDX(q->sc->buckets, i,
                                                  h5s3_bucket_map);
        json_t *row = json_pack("{s:s}", "name", m->alias);

        h5s3_api_savings_fill(row, q, m->bucket);
        json_array_append_new(rows, row);
    }
    return h5s3_send_json(q, HTTP_OK, h5s3_json_pool_own(
        q->r->pool, json_pack("{s:o}", "buckets", rows)));
}

/* ------------------------------------------------------------------ */
/* GET /api/objects                                                     */

/* A prefix S3 can hold and that does not point into DeltaGlider's own. */
static const char *prefix_problem(const char *prefix)
{
    const unsigned char *c;

    if (strlen(prefix) > H5S3_S3_KEY_MAX) {
        return "The prefix is longer than " APR_STRINGIFY(H5S3_S3_KEY_MAX)
               " bytes";
    }
    for (c = (const unsigned char *)prefix; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return "The prefix contains control characters";
        }
    }
    if (!strncmp(prefix, H5S3_DG_INTERNAL_DIR,
                 strlen(H5S3_DG_INTERNAL_DIR))
        || strstr(prefix, "/" H5S3_DG_INTERNAL_DIR)) {
        return "The prefix points into DeltaGlider's internal objects";
    }
    return NULL;
}

static const char *arg(h5s3_req *q, const char *name)
{
    const char *v = apr_table_get(q->args, name);
    return v && *v ? v : NULL;
}

int h5s3_route_api_objects(h5s3_req *q, const char *unused)
{
    apr_pool_t *p = q->r->pool;
    const char *prefix = apr_table_get(q->args, "prefix");
    const char *delim = apr_table_get(q->args, "delimiter");
    const h5s3_bucket_map *m;
    h5s3_dg_query dq;
    h5s3_dg_page *pg;
    h5s3_api_probe pb;
    const char *bad, *why, *ckey;
    json_t *j;
    char *body;
    apr_size_t len;
    long ttl = h5s3_conf_list_ttl(q->sc);
    int rc;
    apr_status_t rv;

    memset(&dq, 0, sizeof(dq));
    if (h5s3_dg_query_parse(&dq, &bad, arg(q, "sort"), arg(q, "order"),
                            arg(q, "compressed"), arg(q, "limit"))
        != APR_SUCCESS) {
        return bad_param(q, bad, apr_psprintf(p, "Invalid %s parameter%s",
                                              bad, !strcmp(bad, "limit")
                                              ? ": expected 1..1000" : ""));
    }
    prefix = prefix ? prefix : "";
    if ((why = prefix_problem(prefix)) != NULL) {
        return h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_prefix", why,
                              json_pack("{s:s}", "parameter", "prefix"));
    }
    /* Folders by default, as a file browser shows them; "" lists flat. */
    if (delim == NULL) {
        delim = "/";
    }
    else if (*delim && strcmp(delim, "/") != 0) {
        return bad_param(q, "delimiter", "Invalid delimiter parameter: only "
                         "'/' or empty are supported");
    }
    if ((m = h5s3_api_bucket(q, arg(q, "bucket"), &rc)) == NULL) {
        return rc;
    }
    dq.bucket = m->bucket;
    dq.prefix = prefix;
    dq.delimiter = *delim ? delim : NULL;
    dq.search = arg(q, "search");
    dq.cursor = arg(q, "cursor");

    h5s3_api_probe_init(&pb, q->sc, m->bucket, p);
    ckey = apr_psprintf(p, "%s\n%s\n%s\n%s\n%s\n%d\n%d\n%d\n%s\n%d\n%s\n%s",
                        q->sc->cache_scope, m->bucket, pb.gen, prefix, delim,
                        (int)dq.sort, dq.descending, (int)dq.compressed,
                        dq.search ? dq.search : "", dq.limit,
                        dq.cursor ? dq.cursor : "", m->alias);
    if (ttl > 0 && h5s3_cache_get(&h5s3_module_state.cache, "api-objects",
                                  ckey, &body, &len, p) == APR_SUCCESS) {
        q->cache_state = "hit";
        return h5s3_send_body(q, HTTP_OK, "application/json", body, len);
    }
    q->cache_state = "miss";

    rv = h5s3_dg_list(&pg, h5s3_api_store(q, m->bucket), &dq,
                      h5s3_api_token_key(q->sc, p), &pb.prober, p);
    if (rv == H5S3_E_INVALID) {
        return bad_param(q, "cursor", "Invalid cursor parameter: tampered, "
                         "expired by a restart, or made for another query");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, q->r, "H5S3-0111: "
                      "listing %s/%s failed: %s (S3 HTTP %d %s)", m->bucket,
                      prefix, h5s3_error_name(rv), q->result.s3_status,
                      q->result.s3_code ? q->result.s3_code : "");
        return h5s3_api_error_for(q, rv, "bucket", NULL);
    }
    j = h5s3_json_pool_own(p, h5s3_dg_page_json(pg));
    json_object_set_new(j, "bucket", json_string(m->alias));
    json_object_set_new(j, "prefix", json_string(prefix));
    if (h5s3_json_dump(&body, &len, j, p) != APR_SUCCESS) {
        return h5s3_api_error_for(q, APR_EGENERAL, "bucket",
                                  "the listing could not be serialised");
    }
    if (ttl > 0) {
        /* Too large for the cache is fine: the next request lists again. */
        h5s3_cache_set(&h5s3_module_state.cache, "api-objects", ckey, body,
                       len, apr_time_from_sec(ttl), p);
    }
    return h5s3_send_body(q, HTTP_OK, "application/json", body, len);
}

/* ------------------------------------------------------------------ */
/* GET /api/objects/{bucket}/{key}/metadata                             */

/* "ALIAS/LOGICAL-KEY": split at the first '/'; NULL if there is none. */
const char *h5s3_api_split_key(const char **alias, const char *path,
                               apr_pool_t *p)
{
    const char *slash = strchr(path, '/');

    if (slash == NULL || slash == path || slash[1] == '\0') {
        return NULL;
    }
    *alias = apr_pstrmemdup(p, path, (apr_size_t)(slash - path));
    return slash + 1;
}

int h5s3_route_api_metadata(h5s3_req *q, const char *path)
{
    const char *alias, *key = h5s3_api_split_key(&alias, path, q->r->pool);
    const h5s3_bucket_map *m;
    h5s3_dg_object *o;
    json_t *j;
    int rc;

    if (key == NULL) {
        return bad_param(q, "key", "Expected /api/objects/{bucket}/{key}/"
                         "metadata");
    }
    if ((m = h5s3_api_bucket(q, alias, &rc)) == NULL
        || (o = h5s3_api_object(q, m, key, &rc)) == NULL) {
        return rc;
    }
    j = h5s3_json_pool_own(q->r->pool, h5s3_dg_metadata_json(o));
    json_object_set_new(j, "bucket", json_string(m->alias));
    return h5s3_send_json(q, HTTP_OK, j);
}
