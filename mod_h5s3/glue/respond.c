/*
 * Writing responses: JSON bodies with a Content-Length, the viewer's error
 * envelope, the mapping of core failures to HTTP statuses, and the request
 * notes / debug headers every route gets.
 */
#include <string.h>
#include <apr_encode.h>
#include <apr_sha1.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_errors.h"
#include "json/h5s3_json.h"

APLOG_USE_MODULE(h5s3);

int h5s3_send_body(h5s3_req *q, int status, const char *ctype,
                   const char *body, apr_size_t len)
{
    request_rec *r = q->r;

    r->status = status;
    ap_set_content_type(r, ctype);
    ap_set_content_length(r, (apr_off_t)len);
    /*
     * An answer h5s3_http_validate gave an ETag may be kept and
     * revalidated (its Cache-Control is set); anything else, errors
     * above all, must not be stored unchecked.
     */
    if (status != HTTP_OK
        || apr_table_get(r->headers_out, "ETag") == NULL) {
        apr_table_unset(r->headers_out, "ETag");
        apr_table_unset(r->headers_out, "Last-Modified");
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    }
    /* Debug headers must be in place before the first body byte leaves. */
    h5s3_finish_request(q);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

/*
 * What an answer's ETag digests besides its inputs: the module's version
 * and the layout of its answers, so an upgrade that changes a byte of an
 * answer changes every ETag.  Bump H5S3_ANSWER_LAYOUT when an answer's
 * bytes change within one version.
 */
#define H5S3_ANSWER_LAYOUT "1"

const char *h5s3_http_etag(h5s3_req *q, const char *ns, const char *what,
                           const char *validator)
{
    apr_sha1_ctx_t ctx;
    unsigned char md[APR_SHA1_DIGESTSIZE];
    static const char version[] = H5S3_MODULE_VERSION "/" H5S3_ANSWER_LAYOUT;
    char *out = apr_palloc(q->r->pool, 2 + 28 + 1);
    apr_size_t n = 0;

    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)version,
                           sizeof(version));
    apr_sha1_update_binary(&ctx, (const unsigned char *)ns, strlen(ns) + 1);
    apr_sha1_update_binary(&ctx, (const unsigned char *)what,
                           strlen(what) + 1);
    apr_sha1_update_binary(&ctx, (const unsigned char *)validator,
                           strlen(validator));
    apr_sha1_final(md, &ctx);
    /* Strong, base64url: no character a header or a quote would mind. */
    out[0] = '"';
    apr_encode_base64(out + 1, (const char *)md, sizeof(md),
                      APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING, &n);
    out[1 + n] = '"';
    out[2 + n] = '\0';
    return out;
}

int h5s3_http_validate(h5s3_req *q, const char *etag, apr_time_t mtime)
{
    request_rec *r = q->r;

    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(r->headers_out, "Cache-Control",
                   h5s3_conf_cache_control(q->dc));
    if (mtime > 0) {
        ap_update_mtime(r, mtime);
        ap_set_last_modified(r);
    }
    /*
     * httpd's own rules (RFC 9110 section 13.2.2): If-None-Match first,
     * If-Modified-Since only without it.  A failed If-Match or
     * If-Unmodified-Since (412) is left to the answer: reads only.
     */
    if (ap_meets_conditions(r) != HTTP_NOT_MODIFIED) {
        return 0;
    }
    r->status = HTTP_NOT_MODIFIED;
    if (q->cache_state == NULL) {
        q->cache_state = "hit";
    }
    h5s3_finish_request(q);
    return 1;
}

int h5s3_send_json(h5s3_req *q, int status, const json_t *body)
{
    char *buf;
    apr_size_t len;

    if (h5s3_json_dump(&buf, &len, body, q->r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "H5S3-0020: a response could not be serialised");
        buf = "{\"error\":\"Internal server error\",\"success\":false}\n";
        len = strlen(buf);
        status = HTTP_INTERNAL_SERVER_ERROR;
    }
    return h5s3_send_body(q, status, "application/json", buf, len);
}

int h5s3_viewer_error(h5s3_req *q, int status, const char *msg)
{
    json_t *j = h5s3_json_pool_own(q->r->pool, json_pack(
        "{s:s, s:b}", "error", msg, "success", 0));

    if (status == HTTP_SERVICE_UNAVAILABLE || status == HTTP_GATEWAY_TIME_OUT) {
        apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
    }
    return h5s3_send_json(q, status, j);
}

int h5s3_http_status_for(apr_status_t rv)
{
    switch (rv) {
    case H5S3_E_NOTFOUND:
    case H5S3_E_NOPATH:
    case APR_NOTFOUND:
        return HTTP_NOT_FOUND;
    case H5S3_E_INVALID:
        return HTTP_BAD_REQUEST;
    case H5S3_E_NOTHDF5:
    case H5S3_E_UNSUPPORTED:
        return HTTP_UNPROCESSABLE_ENTITY;
    case H5S3_E_TOOLARGE:
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case H5S3_E_LIMIT:
        return HTTP_UNPROCESSABLE_ENTITY;
    case H5S3_E_BUSY:
        return HTTP_SERVICE_UNAVAILABLE;
    case H5S3_E_UNREACHABLE:
        return HTTP_SERVICE_UNAVAILABLE;
    case H5S3_E_TIMEOUT:
        return HTTP_GATEWAY_TIME_OUT;
    case H5S3_E_DENIED:
    case H5S3_E_UPSTREAM:
    case H5S3_E_BADREQUEST:
    case H5S3_E_CHANGED:
    default:
        return HTTP_BAD_GATEWAY;
    }
}

const char *h5s3_message_for(h5s3_req *q, apr_status_t rv)
{
    apr_pool_t *p = q->r->pool;
    const char *code = q->result.s3_code ? q->result.s3_code : "";

    switch (rv) {
    case H5S3_E_UNREACHABLE:
        return "S3 storage is unreachable; retry later";
    case H5S3_E_TIMEOUT:
        return "S3 storage did not answer in time; retry later";
    case H5S3_E_DENIED:
        return apr_psprintf(p, "S3 storage denied access%s%s: check "
                            "H5S3Credentials and the bucket policy",
                            *code ? ": " : "", code);
    case H5S3_E_UPSTREAM:
        if (!strcmp(code, "TLSError") && q->result.s3_message) {
            /* "TLS: certificate not trusted; ...": the s3 layer's words,
             * naming the problem and the directive that fixes it. */
            return q->result.s3_message;
        }
        return apr_psprintf(p, "S3 storage failed (HTTP %d%s%s); retry later",
                            q->result.s3_status, *code ? ", " : "", code);
    case H5S3_E_BADREQUEST:
        return apr_psprintf(p, "S3 storage rejected the request (HTTP %d%s%s)",
                            q->result.s3_status, *code ? ", " : "", code);
    case H5S3_E_CHANGED:
        return "The object changed while it was read; retry";
    case H5S3_E_LIMIT:
        /* The limit's name and value, when the core said which. */
        return h5s3_result_detail(q->result.status == H5S3_E_LIMIT
                                  ? &q->result : NULL,
                                  "The file needs more than a request may "
                                  "do");
    case H5S3_E_BUSY:
        return "The server is at its memory budget; retry later";
    default:
        return "Internal server error";
    }
}

void h5s3_finish_request(h5s3_req *q)
{
    request_rec *r = q->r;
    const char *reqs = apr_psprintf(r->pool, "%u", q->call.requests);
    const char *bytes = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                     q->call.bytes);
    const char *lookups = apr_psprintf(r->pool, "%u", h5s3_cache_lookups());

    apr_table_setn(r->notes, "h5s3-route", q->route);
    apr_table_setn(r->notes, "h5s3-s3-requests", reqs);
    apr_table_setn(r->notes, "h5s3-s3-bytes", bytes);
    apr_table_setn(r->notes, "h5s3-cache-lookups", lookups);
    if (q->bucket) {
        apr_table_setn(r->notes, "h5s3-bucket", q->bucket);
    }
    if (q->key) {
        apr_table_setn(r->notes, "h5s3-key", q->key);
    }
    if (q->cache_state) {
        apr_table_setn(r->notes, "h5s3-cache", q->cache_state);
    }
    if (q->call.errors) {
        apr_table_setn(r->notes, "h5s3-s3-status",
                       apr_psprintf(r->pool, "%d", q->result.s3_status));
    }
    if (h5s3_conf_debug_headers(q->dc)) {
        apr_table_setn(r->err_headers_out, "X-H5S3-Route", q->route);
        apr_table_setn(r->err_headers_out, "X-H5S3-S3-Requests", reqs);
        apr_table_setn(r->err_headers_out, "X-H5S3-S3-Bytes", bytes);
        apr_table_setn(r->err_headers_out, "X-H5S3-Cache-Lookups", lookups);
        if (q->cache_state) {
            apr_table_setn(r->err_headers_out, "X-H5S3-Cache", q->cache_state);
        }
    }
}
