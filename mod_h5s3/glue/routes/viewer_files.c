/*
 * HDF Viewer routes that do not open HDF5 files: service info, health,
 * the bucket listing and its refresh (docs/viewer-api.md §1.1-1.4).
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_conf_values.h"
#include "base/h5s3_errors.h"
#include "json/h5s3_json.h"
#include "json/h5s3_text.h"
#include "viewer/h5s3_listing.h"

APLOG_USE_MODULE(h5s3);


int h5s3_route_root(h5s3_req *q, const char *key)
{
    json_t *j = h5s3_json_pool_own(q->r->pool, json_pack(
        "{s:s, s:s, s:s, s:s}", "files", "/files/", "health", "/health",
        "service", "HDF Viewer Backend", "status", "running"));

    return h5s3_send_json(q, HTTP_OK, j);
}

int h5s3_route_health(h5s3_req *q, const char *key)
{
    json_t *j = h5s3_json_pool_own(q->r->pool, json_pack(
        "{s:s, s:s, s:s}", "service", "HDF Viewer Backend",
        "status", "healthy",
        "timestamp", h5s3_time_isoformat(q->r->pool, apr_time_now(), 0)));

    return h5s3_send_json(q, HTTP_OK, j);
}

/* Python's str.strip(): leading and trailing whitespace. */
static const char *strip(apr_pool_t *p, const char *s)
{
    const char *e;

    while (*s && apr_isspace(*s)) {
        s++;
    }
    e = s + strlen(s);
    while (e > s && apr_isspace(e[-1])) {
        e--;
    }
    return apr_pstrmemdup(p, s, (apr_size_t)(e - s));
}

static int has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* The bucket a viewer request names (bucket=ALIAS); NULL after an error. */
const h5s3_bucket_map *h5s3_viewer_bucket(h5s3_req *q, int *rc)
{
    const char *alias = apr_table_get(q->args, "bucket");
    const h5s3_bucket_map *m;

    if (q->sc->buckets->nelts == 0) {
        *rc = h5s3_viewer_error(q, HTTP_BAD_REQUEST, "Missing required S3 "
                                "configuration: no H5S3Bucket for this server");
        return NULL;
    }
    m = h5s3_bucket_lookup(q->sc, alias);
    if (m == NULL) {
        *rc = h5s3_viewer_error(q, HTTP_NOT_FOUND, apr_psprintf(
            q->r->pool, "Bucket '%s' is not available on this server",
            alias));
        return NULL;
    }
    q->bucket = m->bucket;
    return m;
}

const char *h5s3_listing_family(const h5s3_srv_conf *sc, const char *bucket,
                                apr_pool_t *p)
{
    return apr_pstrcat(p, "files\n", sc->cache_scope, "\n", bucket, NULL);
}

int h5s3_route_files(h5s3_req *q, const char *unused)
{
    apr_pool_t *p = q->r->pool;
    const char *prefix = strip(p, apr_table_get(q->args, "prefix")
                                      ? apr_table_get(q->args, "prefix") : "");
    const char *s_inc = apr_table_get(q->args, "include_folders");
    const char *s_max = apr_table_get(q->args, "max_items");
    const h5s3_bucket_map *m;
    const char *gen;
    h5s3_answer a;
    int include = 1, rc;
    long max_items = H5S3_LISTING_MAX_ITEMS_DEFAULT;
    json_t *result;
    char *body;
    apr_size_t len;
    apr_status_t rv;

    /* Too long for any key, or not listable (S3 refuses: a 502). */
    if (strlen(prefix) > H5S3_S3_KEY_MAX || has_control(prefix)) {
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                 "Invalid prefix parameter");
    }
    if (s_inc && h5s3_conf_parse_bool(&include, strip(p, s_inc))) {
        return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                 "Invalid include_folders parameter");
    }
    if (s_max) {
        if (h5s3_conf_parse_long(&max_items, NULL, strip(p, s_max),
                                 LONG_MIN, LONG_MAX)) {
            return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                     "Invalid max_items parameter");
        }
        if (max_items < 1 || max_items > H5S3_LISTING_MAX_ITEMS_LIMIT) {
            return h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                                     "max_items must be between 1 and 50000");
        }
    }
    if ((m = h5s3_viewer_bucket(q, &rc)) == NULL) {
        return rc;
    }

    h5s3_cache_generation(&gen, &h5s3_module_state.cache,
                          h5s3_listing_family(q->sc, m->bucket, p), p);
    /* The bucket's listing generation stands where an object's ETag would. */
    memset(&a, 0, sizeof(a));
    a.ns = "files";
    a.bucket = m->bucket;
    a.key = prefix;
    a.shape = apr_psprintf(p, "%d\n%ld", include, max_items);
    a.ttl = h5s3_conf_list_ttl(q->sc);
    a.flip_cached = 1;
    a.fixed = gen;
    if (h5s3_answer_begin(q, &a, &rv)) {
        return OK;
    }
    q->cache_state = "miss";

    rv = h5s3_listing_fetch(&result, q->sc->client, m->bucket, prefix,
                            include, (int)max_items, &q->call, p);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                      "H5S3-0030: listing bucket %s failed: %s (S3 HTTP %d %s)",
                      m->bucket, h5s3_error_name(rv), q->result.s3_status,
                      q->result.s3_code ? q->result.s3_code : "");
        return h5s3_viewer_error(q, h5s3_http_status_for(rv),
                                 h5s3_message_for(q, rv));
    }
    json_object_set_new(result, "success", json_true());
    json_object_set_new(result, "cached", json_false());
    if (h5s3_json_dump(&body, &len, result, p) != APR_SUCCESS) {
        return h5s3_viewer_error(q, HTTP_INTERNAL_SERVER_ERROR,
                                 "Internal server error");
    }
    return h5s3_answer_send(q, &a, NULL, body, len);
}

int h5s3_route_files_refresh(h5s3_req *q, const char *unused)
{
    int i;

    for (i = 0; i < q->sc->buckets->nelts; i++) {
        const h5s3_bucket_map *m = &APR_ARRAY_IDX(q->sc->buckets, i,
                                                  h5s3_bucket_map);
        h5s3_cache_bump_generation(&h5s3_module_state.cache,
                                   h5s3_listing_family(q->sc, m->bucket,
                                                       q->r->pool),
                                   q->r->pool);
    }
    return h5s3_send_json(q, HTTP_OK, h5s3_json_pool_own(q->r->pool, json_pack(
        "{s:s, s:b}", "message", "Cache cleared successfully",
        "success", 1)));
}
