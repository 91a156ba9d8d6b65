/*
 * POST /api/upload?bucket=ALIAS&key=KEY: upload passthrough (H5S3Upload
 * On).  The raw request body is the file; it is spooled to disk (bounded
 * memory, capped by H5S3MaxUploadSize) and stored the way DeltaGlider
 * does, then every process's listings of the bucket are dropped.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "glue/routes/h5s3_api.h"
#include "json/h5s3_json.h"

APLOG_USE_MODULE(h5s3);

#define READ_BLOCK (64 * 1024)

static int too_large(h5s3_req *q, apr_off_t max)
{
    /* Do not make httpd read the rest of a body we refused. */
    q->r->connection->keepalive = AP_CONN_CLOSE;
    return h5s3_api_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE,
                          "payload_too_large", apr_psprintf(
                              q->r->pool, "Uploads are limited to %"
                              APR_OFF_T_FMT " bytes (H5S3MaxUploadSize)",
                              max), json_pack("{s:I}", "limit",
                                              (json_int_t)max));
}

/*
 * Control characters cannot travel in the x-amz-meta headers that carry
 * the name (S3 would refuse the upload: a 502 for the client's mistake).
 */
static int has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* Copy the request body to f; an HTTP status on failure, else OK. */
static int spool_body(h5s3_req *q, apr_file_t *f, apr_off_t max,
                      apr_off_t *total)
{
    request_rec *r = q->r;
    char *buf = apr_palloc(r->pool, READ_BLOCK);
    int st;

    *total = 0;
    if ((st = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return st;
    }
    if (!ap_should_client_block(r)) {
        return OK;
    }
    for (;;) {
        long n = ap_get_client_block(r, buf, READ_BLOCK);
        if (n < 0) {
            return HTTP_BAD_REQUEST;
        }
        if (n == 0) {
            return OK;
        }
        *total += n;
        if (*total > max) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        if (apr_file_write_full(f, buf, (apr_size_t)n, NULL) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
}

int h5s3_route_api_upload(h5s3_req *q, const char *unused)
{
    request_rec *r = q->r;
    apr_pool_t *p = r->pool;
    apr_off_t max = h5s3_conf_max_upload(q->dc);
    const char *spool_dir = h5s3_module_state.api.refcache_path;
    const char *key = apr_table_get(q->args, "key");
    const char *clen = apr_table_get(r->headers_in, "Content-Length");
    const h5s3_bucket_map *m;
    h5s3_dg_upload_result *res;
    h5s3_dg_codec_opts opts;
    h5s3_dg_codec_run run;
    apr_file_t *f;
    char *path;
    apr_off_t total;
    int rc;
    apr_status_t rv;

    if (!h5s3_conf_upload(q->dc)) {
        return h5s3_api_error(q, HTTP_FORBIDDEN, "upload_disabled",
                              "Uploads are not enabled here (H5S3Upload)",
                              NULL);
    }
    if (key == NULL || *key == '\0' || *key == '/'
        || key[strlen(key) - 1] == '/' || has_control(key)
        || strlen(key) > H5S3_S3_KEY_MAX) {
        return h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_parameter",
                              "key is required: the object's logical key, "
                              "not starting or ending with '/', without "
                              "control characters, at most "
                              APR_STRINGIFY(H5S3_S3_KEY_MAX) " bytes",
                              json_pack("{s:s}", "parameter", "key"));
    }
    if ((m = h5s3_api_bucket(q, apr_table_get(q->args, "bucket"), &rc))
        == NULL) {
        return rc;
    }
    q->key = key;
    if (clen && apr_atoi64(clen) > (apr_int64_t)max) {
        return too_large(q, max);
    }
    path = apr_pstrcat(p, spool_dir, "/upload-XXXXXX", NULL);
    if ((rv = apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_DELONCLOSE, p)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "H5S3-0140: cannot "
                      "create an upload spool file in %s", spool_dir);
        return h5s3_api_error(q, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                              "The upload cannot be spooled", NULL);
    }
    rc = spool_body(q, f, max, &total);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return too_large(q, max);
    }
    if (rc != OK) {
        return h5s3_api_error(q, rc == HTTP_INTERNAL_SERVER_ERROR
                              ? rc : HTTP_BAD_REQUEST,
                              rc == HTTP_INTERNAL_SERVER_ERROR
                              ? "internal_error" : "invalid_parameter",
                              "The request body could not be read",
                              json_pack("{s:s}", "parameter", "body"));
    }
    h5s3_api_codec_opts(&opts, q->sc, m->bucket);
    memset(&run, 0, sizeof(run));
    opts.run = &run;
    rv = h5s3_dg_upload_file(&res, h5s3_api_store(q, m->bucket), key, path,
                             &opts, p);
    h5s3_api_codec_log(q, &run, "upload delta", m->bucket, key);
    apr_file_close(f);                  /* removes the spool file */
    if (rv == H5S3_E_INVALID) {
        return h5s3_api_error(q, HTTP_BAD_REQUEST, "invalid_parameter",
                              "This key is reserved for DeltaGlider's own "
                              "objects (.delta, reference.bin, "
                              ".deltaglider/)",
                              json_pack("{s:s}", "parameter", "key"));
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "H5S3-0141: upload "
                      "of %s/%s failed: %s", m->bucket, key,
                      h5s3_error_name(rv));
        return h5s3_api_error_for(q, rv, "bucket", NULL);
    }
    /* Listings of this bucket, in every process, are out of date now. */
    h5s3_cache_bump_generation(&h5s3_module_state.cache,
                               h5s3_listing_family(q->sc, m->bucket, p),
                               p);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "H5S3-0142: uploaded %s/%s "
                  "(%" APR_OFF_T_FMT " bytes) as %s", m->bucket, res->key,
                  total, res->s3_key);
    return h5s3_send_json(q, HTTP_OK, h5s3_json_pool_own(p, json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:s}", "status", "ok",
        "key", res->key, "bucket", m->alias, "s3_key", res->s3_key,
        "compressed", res->compressed,
        "original_bytes", (json_int_t)res->original_bytes,
        "stored_bytes", (json_int_t)res->stored_bytes,
        "sha256", res->sha256)));
}
