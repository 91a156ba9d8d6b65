/*
 * Downloads: POST /api/download/prepare signs a token bound to (bucket,
 * key, ETag); GET /api/download/{token} streams the original.  Deltas
 * are reconstructed by the core, which holds the last piece back until
 * the SHA-256 matched: a failure before the first byte is a 400
 * integrity_failed, a failure after it closes the connection short of
 * Content-Length, so a client never gets a complete, plausible file.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_buckets.h>
#include <apr_lib.h>

#include "glue/routes/h5s3_api.h"
#include "json/h5s3_json.h"

APLOG_USE_MODULE(h5s3);

/* ------------------------------------------------------------------ */
/* POST /api/download/prepare                                           */

/*
 * Encrypted by the DeltaGlider proxy (docs/deltaglider-format.md §3.3):
 * without its key the bytes are ciphertext, so refused before the first
 * byte, by name, never served nor reported as an integrity failure.
 */
static int refuse_encrypted(h5s3_req *q, const h5s3_dg_object *o)
{
    const h5s3_dg_meta *m = o->meta;
    json_t *details;

    if (!m || !m->encrypted) {
        return DECLINED;
    }
    details = json_pack("{s:s}", "key", o->key);
    if (m->encryption_key_id) {
        json_object_set_new(details, "encryption_key_id",
                            json_string(m->encryption_key_id));
    }
    return h5s3_api_error(q, HTTP_UNPROCESSABLE_ENTITY, "encrypted",
                          apr_psprintf(q->r->pool, "The object is encrypted "
                                       "by the DeltaGlider proxy with key "
                                       "id %s; it cannot be served without "
                                       "that key", m->encryption_key_id
                                       ? m->encryption_key_id : "(none)"),
                          details);
}

/* The Location the handler serves, without a trailing '/'. */
static const char *base_path(h5s3_req *q)
{
    const char *b = q->base && *q->base == '/' ? q->base : "";
    size_t n = strlen(b);

    while (n > 0 && b[n - 1] == '/') {
        n--;
    }
    return apr_pstrmemdup(q->r->pool, b, n);
}

static int bad_body(h5s3_req *q, const char *name, const char *msg)
{
    return h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_parameter", msg,
                          json_pack("{s:s}", "parameter", name));
}

int h5s3_route_api_download_prepare(h5s3_req *q, const char *unused)
{
    apr_pool_t *p = q->r->pool;
    const char *body, *alias = NULL, *key = NULL, *token;
    const h5s3_bucket_map *m;
    h5s3_dg_object *o;
    json_t *j, *jb, *jk;
    int rc;
    apr_status_t rv;

    if ((body = h5s3_api_read_body(q, H5S3_API_MAX_JSON_BODY, &rc)) == NULL) {
        return rc;
    }
    j = h5s3_json_pool_own(p, json_loads(body, 0, NULL));
    if (j == NULL || !json_is_object(j)) {
        return bad_body(q, "body", "The body must be a JSON object "
                        "{\"bucket\": ..., \"key\": ...}");
    }
    jb = json_object_get(j, "bucket");
    jk = json_object_get(j, "key");
    if (jb && !json_is_null(jb)) {
        if (!json_is_string(jb)) {
            return bad_body(q, "bucket", "bucket must be a string");
        }
        alias = json_string_value(jb);
    }
    if (!jk || !json_is_string(jk) || !*json_string_value(jk)) {
        return bad_body(q, "key", "key is required (a non-empty string)");
    }
    key = json_string_value(jk);
    if ((m = h5s3_api_bucket(q, alias, &rc)) == NULL
        || (o = h5s3_api_object(q, m, key, &rc)) == NULL) {
        return rc;
    }
    if ((rc = refuse_encrypted(q, o)) != DECLINED) {
        return rc;
    }
    rv = h5s3_token_download_make(&token, h5s3_api_token_key(q->sc, p),
                                  m->bucket, o->key, o->etag, apr_time_now(),
                                  H5S3_TOKEN_DOWNLOAD_TTL, p);
    if (rv != APR_SUCCESS) {
        return h5s3_api_error_for(q, rv, "key", "cannot sign the token");
    }
    return h5s3_send_json(q, HTTP_OK, h5s3_json_pool_own(p, json_pack(
        "{s:s, s:I, s:I, s:s}", "download_token", token,
        "estimated_bytes", (json_int_t)o->original_bytes,
        "expires_in", (json_int_t)apr_time_sec(H5S3_TOKEN_DOWNLOAD_TTL),
        "download_url", apr_pstrcat(p, base_path(q), "/api/download/",
                                    token, NULL))));
}

/* ------------------------------------------------------------------ */
/* GET /api/download/{token}                                            */

/* RFC 6266: an ASCII fallback, and filename* when it had to change. */
static const char *disposition(const char *key, apr_pool_t *p)
{
    static const char attr[] = "!#$&+-.^_`|~";
    const char *name = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
    size_t n = strlen(name), i;
    char *ascii = apr_palloc(p, n + 1), *ext = apr_palloc(p, 3 * n + 1);
    char *e = ext, *a = ascii;
    int changed = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
                    && c != '%';
        /* One '_' per character: UTF-8 continuation bytes add none. */
        if (plain || (c & 0xC0) != 0x80) {
            *a++ = plain ? (char)c : '_';
        }
        changed |= !plain;
        if (apr_isalnum(c) || (c && strchr(attr, c))) {
            *e++ = (char)c;
        }
        else {
            e += apr_snprintf(e, 4, "%%%02X", c);
        }
    }
    *a = '\0';
    *e = '\0';
    if (!changed) {
        return apr_psprintf(p, "attachment; filename=\"%s\"", ascii);
    }
    return apr_psprintf(p, "attachment; filename=\"%s\"; "
                        "filename*=UTF-8''%s", ascii, ext);
}

/* Pieces at least this large are flushed as they are passed. */
#define FLUSH_PIECE (256 * 1024)

typedef struct dl {
    h5s3_req *q;
    const h5s3_dg_object *o;
    apr_bucket_brigade *bb;
    apr_off_t length;                   /* Content-Length, -1: chunked */
    apr_off_t sent;
    int started;
} dl;

static void send_headers(dl *d)
{
    request_rec *r = d->q->r;
    const h5s3_dg_object *o = d->o;
    const char *letag = o->meta && o->meta->file_sha256
                        ? o->meta->file_sha256 : o->etag;

    r->status = HTTP_OK;
    ap_set_content_type(r, "application/octet-stream");
    if (d->length >= 0) {
        ap_set_content_length(r, d->length);
    }
    apr_table_setn(r->headers_out, "Content-Disposition",
                   disposition(o->key, r->pool));
    if (letag) {
        apr_table_setn(r->headers_out, "X-DG-Logical-ETag",
                       apr_pstrcat(r->pool, "\"", letag, "\"", NULL));
    }
    apr_table_setn(r->headers_out, "Accept-Ranges", "none");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    h5s3_finish_request(d->q);
    d->started = 1;
}

static apr_status_t on_data(void *baton, const char *data, apr_size_t len)
{
    dl *d = baton;
    request_rec *r = d->q->r;
    apr_status_t rv;

    if (!d->started) {
        send_headers(d);
    }
    /* Transient: the network filters copy only what they cannot write. */
    APR_BRIGADE_INSERT_TAIL(d->bb, apr_bucket_transient_create(
        data, len, r->connection->bucket_alloc));
    /*
     * A whole decoded piece (1 MiB): written out before we return, so
     * the core never sets its tail aside (a copy) while the buffer is
     * refilled.  S3's small pieces of direct objects are left to gather.
     */
    if (len >= FLUSH_PIECE) {
        APR_BRIGADE_INSERT_TAIL(d->bb, apr_bucket_flush_create(
            r->connection->bucket_alloc));
    }
    rv = ap_pass_brigade(r->output_filters, d->bb);
    apr_brigade_cleanup(d->bb);
    if (rv != APR_SUCCESS || r->connection->aborted) {
        return APR_ECONNABORTED;
    }
    d->sent += (apr_off_t)len;
    return APR_SUCCESS;
}

/* The core's reasons name the reference when that is what failed. */
static int reference_problem(const char *reason)
{
    return reason && strstr(reason, "reference") != NULL;
}

int h5s3_route_api_download(h5s3_req *q, const char *token)
{
    request_rec *r = q->r;
    apr_pool_t *p = r->pool;
    h5s3_download_token *t;
    const h5s3_bucket_map *m;
    h5s3_dg_object *o;
    h5s3_dg_codec_opts opts;
    h5s3_dg_codec_run run;
    h5s3_dg_restore_result res;
    dl d;
    int rc;
    apr_status_t rv;

    rv = h5s3_token_download_check(&t, h5s3_api_token_key(q->sc, p), token,
                                   apr_time_now(), p);
    if (rv == H5S3_E_EXPIRED) {
        return h5s3_api_error(q, HTTP_GONE, "token_expired", "The download "
                              "token has expired: prepare the download "
                              "again", NULL);
    }
    if (rv != APR_SUCCESS) {
        return h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_token",
                              "The download token is malformed, tampered "
                              "with, or was signed with another key", NULL);
    }
    /* A token is only good where its bucket is mapped: vhost isolation. */
    if ((m = h5s3_api_bucket_by_name(q->sc, t->bucket)) == NULL) {
        return h5s3_api_error(q, HTTP_NOT_FOUND, "bucket_not_found",
                              "The token's bucket is not available on this "
                              "server", NULL);
    }
    q->bucket = m->bucket;
    if ((o = h5s3_api_object(q, m, t->key, &rc)) == NULL
        || (rc = refuse_encrypted(q, o)) != DECLINED) {
        return rc;
    }
    if (t->etag && *t->etag && o->etag && strcmp(t->etag, o->etag) != 0) {
        return h5s3_api_error(q, HTTP_CONFLICT, "object_changed",
                              "The object changed since the download was "
                              "prepared: prepare it again",
                              json_pack("{s:s}", "key", o->key));
    }

    memset(&d, 0, sizeof(d));
    d.q = q;
    d.o = o;
    d.bb = apr_brigade_create(p, r->connection->bucket_alloc);
    /* Deltas promise their size in dg-file-size; without it, chunked. */
    d.length = !o->compressed ? o->stored_bytes
               : o->meta && o->meta->file_size >= 0 ? o->meta->file_size
               : -1;
    if (r->header_only) {
        send_headers(&d);
        return OK;
    }
    h5s3_api_codec_opts(&opts, q->sc, m->bucket);
    memset(&run, 0, sizeof(run));
    opts.run = &run;
    rv = h5s3_dg_download(&res, h5s3_api_store(q, m->bucket), o, &opts,
                          on_data, &d, p);
    h5s3_api_codec_log(q, &run, "reconstruct", m->bucket, o->key);
    if (rv == APR_SUCCESS) {
        if (!d.started) {
            send_headers(&d);           /* an empty file */
        }
        return OK;
    }
    if (!d.started) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "H5S3-0130: "
                      "download of %s/%s refused: %s", m->bucket, o->key,
                      res.reason ? res.reason : h5s3_error_name(rv));
        if (o->compressed && (rv == H5S3_E_NOTFOUND || rv == APR_ENOENT)
            && reference_problem(res.reason)) {
            rv = H5S3_E_INTEGRITY;      /* the reference is gone */
        }
        return h5s3_api_error_for(q, rv, "key", res.reason);
    }
    if (rv == APR_ECONNABORTED && r->connection->aborted) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "H5S3-0131: client "
                      "went away during the download of %s/%s after %"
                      APR_OFF_T_FMT " bytes", m->bucket, o->key, d.sent);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "H5S3-0132: download of "
                      "%s/%s aborted after %" APR_OFF_T_FMT " bytes: %s",
                      m->bucket, o->key, d.sent,
                      res.reason ? res.reason : h5s3_error_name(rv));
    }
    /* Close short of Content-Length: never a complete, plausible file. */
    r->connection->keepalive = AP_CONN_CLOSE;
    r->connection->aborted = 1;
    return OK;
}
