/*
 * The cross-site request guard of the POST routes.
 *
 * Any web page can make a browser send a "simple" POST to this server
 * without asking first (a form, or fetch() with a form or text/plain body,
 * or none at all), with the user's cookies and Basic credentials: the
 * same-origin policy only hides the answer from the page, the upload or
 * the refresh happens anyway.  Such a request can only carry one of the
 * three form media types, so every POST here must carry another one:
 * application/json for the JSON routes (with a body or without), a file
 * type for uploads.  The one body-less action (/files/refresh, which
 * only drops cached listings) may also carry none, as the HDF Viewer's
 * own page sends it: browsers add Origin to every POST, which is checked.  For any other type the browser asks first, with a
 * CORS preflight that only the origins of H5S3CORSAllowOrigin pass.
 *
 * When the browser also says where a request comes from (Origin,
 * Sec-Fetch-Site), that has to be this server or an allowed origin too,
 * which covers what a media type alone cannot (older browsers and plugins
 * that sent other types without a preflight).  Clients that send neither
 * header, such as curl or scripts, only need the media type.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

/*
 * The media type of a Content-Type value, lower case and without its
 * parameters, or NULL when there is none: the part browsers classify a
 * request by.  httpd has trimmed the value's leading and trailing blanks.
 */
static char *media_type(apr_pool_t *p, const char *value)
{
    char *t = ap_field_noparam(p, value);

    if (t == NULL || *t == '\0') {
        return NULL;
    }
    ap_str_tolower(t);
    return t;
}

/*
 * A type a file may be uploaded as: a well-formed type/subtype that no
 * form can send (a browser asks before it sends any other).  multipart is
 * never the raw file the route stores.
 */
static int file_type_ok(const char *t)
{
    const char *slash = t ? ap_scan_http_token(t) : NULL;

    if (slash == NULL || slash == t || *slash != '/' || slash[1] == '\0'
        || *ap_scan_http_token(slash + 1) != '\0') {
        return 0;
    }
    return strcmp(t, "text/plain") != 0
           && strcmp(t, "application/x-www-form-urlencoded") != 0
           && strncmp(t, "multipart/", 10) != 0;
}

/* The port a URI names, or its scheme's own. */
static apr_port_t port_of(const apr_uri_t *u, const char *scheme)
{
    return u->port_str && *u->port_str ? u->port
                                       : apr_uri_port_of_scheme(scheme);
}

/*
 * Is origin (scheme://host[:port], as browsers send it) the one this
 * request was sent to?  The scheme is httpd's for the request (https with
 * mod_ssl, or ServerName's scheme), the host and port those of the Host
 * header, which httpd has parsed into r->hostname and r->parsed_uri.
 */
static int same_origin(request_rec *r, const char *origin)
{
    const char *scheme = ap_http_scheme(r);
    apr_uri_t u;

    if (r->hostname == NULL || scheme == NULL
        || apr_uri_parse(r->pool, origin, &u) != APR_SUCCESS
        || u.scheme == NULL || u.hostname == NULL || u.user || u.password
        || (u.path && *u.path) || u.query || u.fragment
        || strcasecmp(u.scheme, scheme) != 0
        || strcasecmp(u.hostname, r->hostname) != 0) {
        return 0;
    }
    return port_of(&u, u.scheme) == port_of(&r->parsed_uri, scheme);
}

/* The refusal, in the envelope of the route's family, naming the header. */
static int refuse(h5s3_req *q, int is_api, int status, const char *code,
                  const char *header, const char *msg)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, "H5S3-0710: %s %s "
                  "refused (%d): %s", q->r->method, q->route, status, msg);
    if (is_api) {
        return h5s3_api_error(q, status, code, msg,
                              json_pack("{s:s}", "header", header));
    }
    return h5s3_viewer_error(q, status, msg);
}

int h5s3_csrf_check(h5s3_req *q, h5s3_post_kind kind, int is_api)
{
    request_rec *r = q->r;
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *type;
    int listed;

    if (kind == H5S3_POST_NONE) {
        return DECLINED;
    }
    listed = origin && h5s3_cors_origin_allowed(&q->dc->cors, origin);
    if (origin && !listed && !same_origin(r, origin)) {
        return refuse(q, is_api, HTTP_FORBIDDEN, "cross_site_request",
                      "Origin", "Cross-site request refused: the Origin "
                      "header names neither this server nor an origin of "
                      "H5S3CORSAllowOrigin");
    }
    if (site && !strcasecmp(site, "cross-site") && !listed) {
        return refuse(q, is_api, HTTP_FORBIDDEN, "cross_site_request",
                      "Sec-Fetch-Site", "Cross-site request refused: "
                      "Sec-Fetch-Site is cross-site and the Origin header "
                      "names no origin of H5S3CORSAllowOrigin");
    }
    type = media_type(r->pool, apr_table_get(r->headers_in, "Content-Type"));
    /* A body-less action (dropping cached listings) from a page of this
     * server sends no type at all (the HDF Viewer's refresh button does):
     * the Origin check above is what keeps other sites out.  A form's
     * type is still refused. */
    if (kind == H5S3_POST_ACTION && type != NULL
        && strcmp(type, "application/json") != 0) {
        return refuse(q, is_api, HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "unsupported_media_type", "Content-Type",
                      "Content-Type must be application/json, or none");
    }
    if (kind == H5S3_POST_JSON
        && (type == NULL || strcmp(type, "application/json") != 0)) {
        return refuse(q, is_api, HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "unsupported_media_type", "Content-Type",
                      "Content-Type must be application/json");
    }
    if (kind == H5S3_POST_FILE && !file_type_ok(type)) {
        return refuse(q, is_api, HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "unsupported_media_type", "Content-Type",
                      "Content-Type must be application/octet-stream (or "
                      "the file's own media type; not text/plain, "
                      "multipart or a form type): send the file as the "
                      "raw request body");
    }
    return DECLINED;
}
