/*
 * The S3 operations that are one exchange each: HEAD, a streaming GET of
 * a whole object, PUT (in memory or streamed) and one page of
 * ListObjectsV2.  Ranged GETs are in ranges.c.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_internal.h"
#include "s3/h5s3_s3_sign.h"
#include "s3/h5s3_s3_xml.h"

apr_status_t h5s3_s3_head(h5s3_s3_object_info **info, h5s3_s3_client *c,
                          const char *bucket, const char *key,
                          h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_s3_xreq rq;
    h5s3_s3_xfer *x;
    apr_status_t rv;

    *info = NULL;
    if (key == NULL) {
        return H5S3_E_INVALID;
    }
    h5s3_s3_xreq_init(&rq, "HEAD", bucket, key);
    rv = h5s3_s3_perform(&x, c, &rq, NULL, NULL, call, p);
    if (rv == APR_SUCCESS) {
        *info = h5s3_s3_xfer_info(x, p);
    }
    if (x) {
        h5s3_s3_xfer_release(x);
    }
    return rv;
}

/* One exchange whose status is all the caller needs from it. */
static apr_status_t perform_once(h5s3_s3_client *c, const h5s3_s3_xreq *rq,
                                 h5s3_s3_prep_fn prep, void *prep_baton,
                                 h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_s3_xfer *x;
    apr_status_t rv = h5s3_s3_perform(&x, c, rq, prep, prep_baton, call, p);

    if (x) {
        h5s3_s3_xfer_release(x);
    }
    return rv;
}

typedef struct stream_prep {
    h5s3_s3_head_cb on_head;
    h5s3_s3_data_cb on_data;
    void *baton;
} stream_prep;

static void prep_stream(h5s3_s3_xfer *x, void *baton)
{
    stream_prep *s = baton;

    x->on_head = s->on_head;
    x->on_data = s->on_data;
    x->baton = s->baton;
}

apr_status_t h5s3_s3_get_stream(h5s3_s3_client *c, const char *bucket,
                                const char *key, const char *if_match,
                                h5s3_s3_head_cb on_head,
                                h5s3_s3_data_cb on_data, void *baton,
                                h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_s3_xreq rq;
    stream_prep sp;

    if (key == NULL || on_data == NULL) {
        return H5S3_E_INVALID;
    }
    h5s3_s3_xreq_init(&rq, "GET", bucket, key);
    rq.streaming = 1;
    if (if_match) {
        rq.headers = apr_array_make(p, 1, sizeof(h5s3_s3_kv));
        h5s3_s3_kv_add(rq.headers, "If-Match",
                       h5s3_s3_if_match_value(if_match, p));
    }
    sp.on_head = on_head;
    sp.on_data = on_data;
    sp.baton = baton;
    return perform_once(c, &rq, prep_stream, &sp, call, p);
}

/*
 * Content-Type and x-amz-meta-* headers of a PUT.  A name or value that
 * would split or end a header line is refused, not sent.
 */
static apr_status_t put_headers(apr_array_header_t **out,
                                const char *content_type, apr_table_t *meta,
                                apr_pool_t *p)
{
    apr_array_header_t *hdrs = apr_array_make(p, 4, sizeof(h5s3_s3_kv));
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    if (content_type) {
        h5s3_s3_kv_add(hdrs, "Content-Type", content_type);
    }
    if (meta) {
        arr = apr_table_elts(meta);
        e = (const apr_table_entry_t *)arr->elts;
        for (i = 0; i < arr->nelts; i++) {
            if (e[i].key == NULL || *e[i].key == '\0'
                || strpbrk(e[i].key, ": \t\r\n")
                || (e[i].val && strpbrk(e[i].val, "\r\n"))) {
                return H5S3_E_INVALID;
            }
            h5s3_s3_kv_add(hdrs,
                           apr_pstrcat(p, "x-amz-meta-", e[i].key, NULL),
                           e[i].val ? e[i].val : "");
        }
    }
    *out = hdrs;
    return APR_SUCCESS;
}

static apr_status_t put_common(h5s3_s3_client *c, const char *bucket,
                               const char *key, const char *body,
                               apr_size_t len, apr_off_t size,
                               h5s3_s3_read_cb read_cb, void *baton,
                               const char *content_type, apr_table_t *meta,
                               h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_s3_xreq rq;
    apr_status_t rv;

    if (key == NULL) {
        return H5S3_E_INVALID;
    }
    h5s3_s3_xreq_init(&rq, "PUT", bucket, key);
    rq.upload = 1;
    if ((rv = put_headers(&rq.headers, content_type, meta, p))
        != APR_SUCCESS) {
        return rv;
    }
    if (read_cb) {
        rq.read_cb = read_cb;
        rq.read_baton = baton;
        rq.upload_size = size;
        rq.streaming = 1;
        rq.payload_hash = H5S3_UNSIGNED_PAYLOAD;
    }
    else {
        char hash[65];

        h5s3_s3_sha256_hex(hash, body ? body : "", len);
        rq.body = body ? body : "";
        rq.body_len = len;
        rq.payload_hash = apr_pstrdup(p, hash);
    }
    return perform_once(c, &rq, NULL, NULL, call, p);
}

apr_status_t h5s3_s3_put_stream(h5s3_s3_client *c, const char *bucket,
                                const char *key, apr_off_t size,
                                const char *content_type, apr_table_t *meta,
                                h5s3_s3_read_cb read_cb, void *baton,
                                h5s3_s3_call *call, apr_pool_t *p)
{
    if (read_cb == NULL || size < 0) {
        return H5S3_E_INVALID;
    }
    return put_common(c, bucket, key, NULL, 0, size, read_cb, baton,
                      content_type, meta, call, p);
}

apr_status_t h5s3_s3_put(h5s3_s3_client *c, const char *bucket,
                         const char *key, const char *body, apr_size_t len,
                         const char *content_type, apr_table_t *meta,
                         h5s3_s3_call *call, apr_pool_t *p)
{
    if (body == NULL && len > 0) {
        return H5S3_E_INVALID;
    }
    return put_common(c, bucket, key, body, len, 0, NULL, NULL,
                      content_type, meta, call, p);
}

/* The query of one ListObjectsV2 page; empty parameters are left out. */
static apr_array_header_t *list_query(const char *prefix,
                                      const char *delimiter,
                                      const char *token, int max_keys,
                                      apr_pool_t *p)
{
    apr_array_header_t *q = apr_array_make(p, 5, sizeof(h5s3_s3_kv));

    /* No encoding-type=url: keys come XML-escaped, which apr_xml undoes. */
    h5s3_s3_kv_add(q, "list-type", "2");
    h5s3_s3_kv_add(q, "max-keys", apr_itoa(p, max_keys));
    if (prefix && *prefix) {
        h5s3_s3_kv_add(q, "prefix", prefix);
    }
    if (delimiter && *delimiter) {
        h5s3_s3_kv_add(q, "delimiter", delimiter);
    }
    if (token && *token) {
        h5s3_s3_kv_add(q, "continuation-token", token);
    }
    return q;
}

apr_status_t h5s3_s3_list(h5s3_s3_list_page **page, h5s3_s3_client *c,
                          const char *bucket, const char *prefix,
                          const char *delimiter, const char *token,
                          int max_keys, h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_s3_xreq rq;
    h5s3_s3_xfer *x;
    apr_status_t rv;

    *page = NULL;
    if (max_keys <= 0) {
        max_keys = 1000;
    }
    if (max_keys > 1000) {
        return H5S3_E_INVALID;
    }
    h5s3_s3_xreq_init(&rq, "GET", bucket, NULL);
    rq.query = list_query(prefix, delimiter, token, max_keys, p);
    rv = h5s3_s3_perform(&x, c, &rq, NULL, NULL, call, p);
    if (rv == APR_SUCCESS) {
        rv = h5s3_s3_xml_parse_list(page, x->mem, x->mem_len, p);
        if (rv != APR_SUCCESS && call) {
            call->errors++;
            h5s3_result_s3_set(call->result, (int)x->status,
                               "MalformedListing",
                               "S3 sent a listing that is not valid XML");
        }
    }
    if (x) {
        h5s3_s3_xfer_release(x);
    }
    return rv;
}
