/*
 * The handler: work out the path below the Location, decode the query,
 * pick a route by method and path, and make sure whatever happens the
 * client gets JSON (never an httpd HTML error page).
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <http_core.h>
#include <ap_expr.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

#define BIT_GET  (AP_METHOD_BIT << M_GET)
#define BIT_POST (AP_METHOD_BIT << M_POST)

/*
 * A pattern is a fixed path or prefix "{key}" suffix: the key may hold
 * slashes, as object keys do.  First match wins, so longer suffixes go first.
 * A POST route says what it takes, for the cross-site request guard.
 */
typedef struct h5s3_route {
    const char *name;
    const char *pattern;
    apr_int64_t methods;
    h5s3_route_fn *fn;
    h5s3_post_kind post;
} h5s3_route;

static const h5s3_route routes[] = {
    {"root", "/", BIT_GET, h5s3_route_root},
    {"health", "/health", BIT_GET, h5s3_route_health},
    {"openapi", "/openapi.yaml", BIT_GET, h5s3_route_openapi},
    {"files", "/files", BIT_GET, h5s3_route_files},
    {"files_refresh", "/files/refresh", BIT_POST, h5s3_route_files_refresh,
     H5S3_POST_ACTION},
    {"children", "/files/{key}/children", BIT_GET, h5s3_route_children},
    {"meta", "/files/{key}/meta", BIT_GET, h5s3_route_meta},
    {"preview", "/files/{key}/preview", BIT_GET, h5s3_route_preview},
    {"data", "/files/{key}/data", BIT_GET, h5s3_route_data},
    {"export_csv", "/files/{key}/export/csv", BIT_GET,
     h5s3_route_export_csv},
    {"api_buckets", "/api/buckets", BIT_GET, h5s3_route_api_buckets},
    {"api_compute_savings", "/api/buckets/{key}/compute-savings", BIT_POST,
     h5s3_route_api_compute_savings, H5S3_POST_JSON},
    {"api_objects", "/api/objects", BIT_GET, h5s3_route_api_objects},
    {"api_metadata", "/api/objects/{key}/metadata", BIT_GET,
     h5s3_route_api_metadata},
    {"api_download_prepare", "/api/download/prepare", BIT_POST,
     h5s3_route_api_download_prepare, H5S3_POST_JSON},
    {"api_download", "/api/download/{key}", BIT_GET,
     h5s3_route_api_download},
    {"api_upload", "/api/upload", BIT_POST, h5s3_route_api_upload,
     H5S3_POST_FILE},
    {"grove_root", "/h5grove", BIT_GET, h5s3_route_grove_root},
    {"grove_meta", "/h5grove/meta", BIT_GET, h5s3_route_grove_meta},
    {"grove_attr", "/h5grove/attr", BIT_GET, h5s3_route_grove_attr},
    {"grove_data", "/h5grove/data", BIT_GET, h5s3_route_grove_data},
    {"grove_stats", "/h5grove/stats", BIT_GET, h5s3_route_grove_stats},
    {"grove_paths", "/h5grove/paths", BIT_GET, h5s3_route_grove_paths},
    /* The store takes the rest of the path, escapes and all (docs/zarr.md). */
    {"zarr", "/zarr/{raw}", BIT_GET, h5s3_route_zarr},
    {NULL, NULL, 0, NULL}
};

/* The byte "%XX" at s stands for (its two hex digits already checked). */
static int escaped_byte(const char *s)
{
    char hex[3] = {s[1], s[2], 0};

    return (int)strtol(hex, NULL, 16);
}

/* Decode %XX once (no '+' handling: this is a path). NULL on bad escapes. */
static char *decode_path(apr_pool_t *p, const char *s, size_t n)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || !apr_isxdigit(s[i + 1])
                || !apr_isxdigit(s[i + 2])) {
                return NULL;
            }
            /* A NUL would silently cut the key short: refuse it. */
            if ((*o++ = (char)escaped_byte(s + i)) == '\0') {
                return NULL;
            }
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/*
 * Does the raw, still percent-encoded path match pattern?  The fixed parts
 * compare byte for byte, so no escape ever matches there: httpd leaves %2F
 * encoded when it picks the <Location> (AllowEncodedSlashes NoDecode), and
 * decoding it here would take "/api%2Fupload" to the upload route past a
 * <Location .../api/upload> that never applied.  Only the {key} part is
 * decoded, once, into *key (NULL when the pattern has none).
 */
static int match(const char *pattern, const char *raw, const char **key,
                 apr_pool_t *p)
{
    const char *brace = strstr(pattern, "{key}");
    size_t pre, suf, n = strlen(raw);

    *key = NULL;
    /* "{raw}" ends a pattern: the route gets the rest undecoded, to split
     * it itself where '/' and %2F mean different things. */
    if ((brace = strstr(pattern, "{raw}")) != NULL) {
        pre = (size_t)(brace - pattern);
        if (n <= pre || strncmp(raw, pattern, pre) != 0) {
            return 0;
        }
        *key = raw + pre;
        return 1;
    }
    brace = strstr(pattern, "{key}");
    if (brace == NULL) {
        return strcmp(pattern, raw) == 0;
    }
    pre = (size_t)(brace - pattern);
    suf = strlen(brace + 5);
    if (n <= pre + suf || strncmp(raw, pattern, pre) != 0
        || strcmp(raw + n - suf, brace + 5) != 0) {
        return 0;
    }
    *key = decode_path(p, raw + pre, n - pre - suf);
    return *key != NULL;
}

/* Query parameters, form-decoded, first value of a repeated name wins. */
static apr_table_t *parse_args(apr_pool_t *p, const char *args)
{
    apr_table_t *t = apr_table_make(p, 8);
    char *copy, *tok, *last;

    if (args == NULL) {
        return t;
    }
    copy = apr_pstrdup(p, args);
    for (tok = apr_strtok(copy, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(tok, '=');
        char *name = tok, *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
        if (ap_unescape_urlencoded(name) != OK
            || ap_unescape_urlencoded(val) != OK) {
            continue;
        }
        if (*name && apr_table_get(t, name) == NULL) {
            apr_table_set(t, name, val);
        }
    }
    return t;
}

/*
 * The <Location> whose SetHandler chose us: the longest non-regex Location
 * prefix of the URI whose handler is h5s3.  Our own per-dir config cannot
 * tell, since httpd creates it for a section only when one of our
 * directives appears there, and SetHandler is core's.
 */
static const char *handler_base(request_rec *r)
{
    core_server_config *sconf = ap_get_core_module_config(
        r->server->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)sconf->sec_url->elts;
    const char *best = NULL;
    size_t best_len = 0;
    int i;

    for (i = 0; i < sconf->sec_url->nelts; i++) {
        core_dir_config *c = ap_get_core_module_config(sec[i]);
        const char *err = NULL, *h;
        size_t n;

        if (c->r || c->d_is_fnmatch || c->expr_handler == NULL || !c->d) {
            continue;
        }
        n = strlen(c->d);
        if (n <= best_len || strncmp(r->uri, c->d, n) != 0
            || (r->uri[n] != '/' && r->uri[n] != '\0'
                && (n == 0 || c->d[n - 1] != '/'))) {
            continue;
        }
        h = ap_expr_str_exec(r, c->expr_handler, &err);
        if (err == NULL && h && strcmp(h, "h5s3") == 0) {
            best = c->d;
            best_len = n;
        }
    }
    return best;
}

/*
 * Requests for h5s3 name objects, not files: keep core from mapping them
 * to the file system, as mod_proxy does.  Core's translate_name merges
 * DocumentRoot and the URL (refused, HTML 403, beyond PATH_MAX) and its
 * map_to_storage stats every segment (refused beyond NAME_MAX), while S3
 * keys may be 1024 bytes, URLs longer still.  The handler is not set yet
 * when names are translated: read SetHandler from the <Location>s merged
 * so far, and mark the request by its filename "h5s3:URI".
 */
static int is_h5s3_location(request_rec *r)
{
    core_dir_config *c = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *h;

    if (c == NULL || c->expr_handler == NULL) {
        return 0;
    }
    h = ap_expr_str_exec(r, c->expr_handler, &err);
    return err == NULL && h && strcmp(h, "h5s3") == 0;
}

int h5s3_translate_name(request_rec *r)
{
    if (!is_h5s3_location(r)) {
        return DECLINED;
    }
    r->filename = apr_pstrcat(r->pool, "h5s3:", r->uri, NULL);
    return OK;
}

/* httpd resets per_dir_config before this phase: go by the filename. */
int h5s3_map_to_storage(request_rec *r)
{
    return r->filename && strncmp(r->filename, "h5s3:", 5) == 0 ? OK
                                                                 : DECLINED;
}

/*
 * How many bytes at the start of the raw path spell the Location base as
 * httpd compared it with r->uri (decoded, but for %2F, which stays as
 * sent), when a '/' or the end follows them; 0 when they do not.
 */
static size_t base_length(const char *raw, const char *base)
{
    size_t blen, i = 0, j = 0;

    if (base == NULL || *base != '/') {
        return 0;
    }
    blen = strlen(base);
    while (blen > 1 && base[blen - 1] == '/') {
        blen--;
    }
    if (blen <= 1) {
        return 0;
    }
    while (j < blen && raw[i] != '\0') {
        if (raw[i] != '%') {
            if (raw[i] != base[j]) {
                return 0;
            }
            i++;
            j++;
        }
        else if (escaped_byte(raw + i) == '/') {
            if (j + 3 > blen || strncmp(raw + i, base + j, 3) != 0) {
                return 0;
            }
            i += 3;
            j += 3;
        }
        else {
            if (escaped_byte(raw + i) != (unsigned char)base[j]) {
                return 0;
            }
            i += 3;
            j++;
        }
    }
    return j == blen && (raw[i] == '/' || raw[i] == '\0') ? i : 0;
}

/*
 * The path below the Location as the client sent it, percent-escapes and
 * all: match() decodes the {key} part of a route only, so %2F and %25 in
 * keys decode exactly once and an escape never spells a fixed part (httpd
 * has decoded r->uri already, but for %2F).  NULL when an escape is
 * malformed or decodes to NUL.
 */
static const char *relative_path(request_rec *r, const char *base)
{
    const char *raw = r->unparsed_uri ? r->unparsed_uri : r->uri;
    size_t n = strcspn(raw, "?#");
    const char *path = apr_pstrmemdup(r->pool, raw, n);

    if (decode_path(r->pool, path, n) == NULL) {
        return NULL;
    }
    if (*path != '/') {
        /* absolute-form request target: keep only the path */
        const char *slash = strstr(path, "://");
        path = slash ? strchr(slash + 3, '/') : NULL;
        if (path == NULL) {
            return "/";
        }
    }
    path += base_length(path, base);
    if (*path == '\0') {
        return "/";
    }
    /* Routes answer with or without a trailing slash, as upstream does. */
    n = strlen(path);
    if (n > 1 && path[n - 1] == '/') {
        path = apr_pstrmemdup(r->pool, path, n - 1);
    }
    return path;
}

static const char *allow_header(apr_pool_t *p, apr_int64_t methods)
{
    const char *s = "";

    if (methods & BIT_GET) {
        s = "GET, HEAD";
    }
    if (methods & BIT_POST) {
        s = *s ? apr_pstrcat(p, s, ", POST", NULL) : "POST";
    }
    return s;
}

int h5s3_handler(request_rec *r)
{
    h5s3_req *q;
    const h5s3_route *rt;
    const char *key = NULL, *raw;
    apr_int64_t allowed = 0;
    apr_int64_t method_bit;
    int rc, is_api;

    if (r->handler == NULL || strcmp(r->handler, "h5s3") != 0) {
        return DECLINED;
    }
    /*
     * No route serves byte ranges (downloads say Accept-Ranges: none):
     * without this, httpd's byterange filter would cut any answer with a
     * Content-Length to a 206 piece, e.g. half a JSON document.
     */
    q = apr_pcalloc(r->pool, sizeof(*q));
    /* But the Zarr store does (glue/routes/zarr.c puts it back). */
    q->range = apr_table_get(r->headers_in, "Range");
    apr_table_unset(r->headers_in, "Range");
    apr_table_unset(r->headers_in, "Request-Range");
    q->r = r;
    q->sc = ap_get_module_config(r->server->module_config, &h5s3_module);
    q->dc = ap_get_module_config(r->per_dir_config, &h5s3_module);
    q->args = parse_args(r->pool, r->args);
    q->base = handler_base(r);
    raw = relative_path(r, q->base);
    /* Decoded, for the family of an error envelope and for logs. */
    q->rel = raw ? decode_path(r->pool, raw, strlen(raw)) : NULL;
    q->route = "none";
    h5s3_result_init(&q->result, r->pool);
    q->call.result = &q->result;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "h5s3: %s %s below %s",
                  r->method, raw ? raw : "(bad path)",
                  q->base ? q->base : "/");

    /* Before anything costly. */
    if ((rc = h5s3_ratelimit_check(q)) != DECLINED) {
        goto cleanup;
    }
    if (q->rel == NULL) {
        rc = h5s3_viewer_error(q, HTTP_BAD_REQUEST,
                               "Invalid percent-encoding in the path");
        goto cleanup;
    }
    /* HEAD arrives as M_GET with header_only set. */
    method_bit = AP_METHOD_BIT << r->method_number;
    for (rt = routes; rt->pattern; rt++) {
        const char *k;
        if (!match(rt->pattern, raw, &k, r->pool)) {
            continue;
        }
        if (rt->methods & method_bit) {
            q->route = rt->name;
            key = k;
            ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "h5s3: route %s%s%s",
                          rt->name, key ? ", key " : "", key ? key : "");
            /* Before the route reads a byte of the body or acts. */
            rc = h5s3_csrf_check(q, rt->post,
                                 !strncmp(rt->pattern, "/api/", 5));
            if (rc == DECLINED) {
                rc = rt->fn(q, key);
            }
            goto cleanup;
        }
        allowed |= rt->methods;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "h5s3: no route for %s %s",
                  r->method, raw);
    /* The /h5grove routes answer h5grove's {"message"}, also here. */
    if (!strncmp(q->rel, "/h5grove/", 9) || !strcmp(q->rel, "/h5grove")) {
        if (allowed) {
            apr_table_setn(r->headers_out, "Allow",
                           allow_header(r->pool, allowed));
            rc = h5s3_grove_error(q, HTTP_METHOD_NOT_ALLOWED,
                                  "Method not allowed");
        }
        else {
            rc = h5s3_grove_error(q, HTTP_NOT_FOUND, "Not found");
        }
        goto cleanup;
    }
    /* The /api routes speak the /api error envelope, also when there is none. */
    is_api = !strncmp(q->rel, "/api/", 5) || !strcmp(q->rel, "/api");
    if (allowed) {
        apr_table_setn(r->headers_out, "Allow", allow_header(r->pool, allowed));
        rc = is_api ? h5s3_api_error(q, HTTP_METHOD_NOT_ALLOWED,
                                     "method_not_allowed",
                                     "Method not allowed", NULL)
                    : h5s3_viewer_error(q, HTTP_METHOD_NOT_ALLOWED,
                                        "Method not allowed");
    }
    else {
        rc = is_api ? h5s3_api_error(q, HTTP_NOT_FOUND, "not_found",
                                     "No such API route", NULL)
                    : h5s3_viewer_error(q, HTTP_NOT_FOUND, "Not found");
    }

cleanup:
    h5s3_finish_request(q);
    return rc;
}
