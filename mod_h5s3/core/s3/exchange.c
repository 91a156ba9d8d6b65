/*
 * One S3 exchange: a request built, signed and sent on a pooled curl
 * handle, its response taken in (headers into a table, the body into the
 * caller's buffer, its callbacks or memory), and its outcome mapped to a
 * status, with the S3 error Code and Message kept in the caller's
 * h5s3_s3_call.  Every request carries x-amz-date and
 * x-amz-content-sha256 and, when the configuration has credentials, a
 * SigV4 Authorization.
 */
#include <string.h>
#include <stdlib.h>
#include <curl/curl.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_date.h>

#include "base/h5s3_errors.h"
#include "base/h5s3_log.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_internal.h"
#include "s3/h5s3_s3_sign.h"
#include "s3/h5s3_s3_tls.h"
#include "s3/h5s3_s3_xml.h"

/* ---- small helpers ----------------------------------------------------- */

static apr_status_t mem_free(void *data)
{
    h5s3_s3_xfer *x = data;

    free(x->mem);
    x->mem = NULL;
    x->mem_len = x->mem_cap = 0;
    return APR_SUCCESS;
}

static int mem_append(h5s3_s3_xfer *x, const char *d, apr_size_t len,
                      apr_size_t max)
{
    if (x->mem_len + len > max) {
        return 0;
    }
    if (x->mem_len + len + 1 > x->mem_cap) {
        apr_size_t ncap = x->mem_cap ? x->mem_cap * 2 : 16384;
        char *n;

        while (ncap < x->mem_len + len + 1) {
            ncap *= 2;
        }
        n = realloc(x->mem, ncap);
        if (n == NULL) {
            return 0;
        }
        x->mem = n;
        x->mem_cap = ncap;
    }
    memcpy(x->mem + x->mem_len, d, len);
    x->mem_len += len;
    x->mem[x->mem_len] = '\0';
    return 1;
}

static const char *strip_quotes(const char *s, apr_pool_t *p)
{
    apr_size_t n;

    if (s == NULL) {
        return NULL;
    }
    n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        return apr_pstrmemdup(p, s + 1, n - 2);
    }
    return apr_pstrdup(p, s);
}

typedef struct meta_walk {
    apr_table_t *meta;
} meta_walk;

static int collect_meta(void *baton, const char *k, const char *v)
{
    meta_walk *w = baton;

    if (strncmp(k, "x-amz-meta-", 11) == 0 && k[11] != '\0') {
        apr_table_set(w->meta, k + 11, v);
    }
    return 1;
}

apr_off_t h5s3_s3_content_range_total(const char *cr, apr_off_t *start)
{
    const char *slash;

    *start = -1;
    if (cr == NULL || strncasecmp(cr, "bytes ", 6) != 0) {
        return -1;
    }
    *start = apr_atoi64(cr + 6);
    slash = strchr(cr, '/');
    if (slash == NULL || slash[1] == '*') {
        return -1;
    }
    return apr_atoi64(slash + 1);
}

h5s3_s3_object_info *h5s3_s3_xfer_info(const h5s3_s3_xfer *x,
                                       apr_pool_t *p)
{
    h5s3_s3_object_info *info = apr_pcalloc(p, sizeof(*info));
    const char *v;
    meta_walk w;
    apr_off_t start;

    v = apr_table_get(x->rh, "content-length");
    info->size = v ? apr_atoi64(v) : -1;
    if (x->status == 206) {
        apr_off_t total = h5s3_s3_content_range_total(
            apr_table_get(x->rh, "content-range"), &start);

        if (total >= 0) {
            info->size = total;
        }
    }
    info->etag = strip_quotes(apr_table_get(x->rh, "etag"), p);
    v = apr_table_get(x->rh, "last-modified");
    info->mtime = v ? apr_date_parse_http(v) : 0;
    v = apr_table_get(x->rh, "content-type");
    info->content_type = v ? apr_pstrdup(p, v) : NULL;
    info->meta = apr_table_make(p, 4);
    w.meta = info->meta;
    apr_table_do(collect_meta, &w, x->rh, NULL);
    return info;
}

void h5s3_s3_kv_add(apr_array_header_t *a, const char *name,
                    const char *value)
{
    h5s3_s3_kv *kv = apr_array_push(a);

    kv->name = name;
    kv->value = value;
}

const char *h5s3_s3_if_match_value(const char *etag, apr_pool_t *p)
{
    if (etag == NULL) {
        return NULL;
    }
    if (*etag == '"' || !strcmp(etag, "*")) {
        return etag;
    }
    return apr_pstrcat(p, "\"", etag, "\"", NULL);
}

/* ---- curl callbacks ---------------------------------------------------- */

/* The blank line after the headers: a 2xx tells the caller what comes. */
static size_t headers_done(h5s3_s3_xfer *x, size_t len)
{
    if (x->status >= 200 && x->status < 300 && x->on_head
        && !x->head_called) {
        apr_status_t rv;

        x->head_called = 1;
        rv = x->on_head(x->baton, h5s3_s3_xfer_info(x, x->p));
        if (rv != APR_SUCCESS) {
            x->cb_rv = rv;
            return 0;
        }
    }
    return len;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    h5s3_s3_xfer *x = ud;
    size_t len = size * n;
    const char *colon, *end, *v;
    char *name, *c;

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): start over. */
        const char *sp = memchr(line, ' ', len);

        apr_table_clear(x->rh);
        x->status = sp ? atol(sp + 1) : 0;
        return len;
    }
    if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) {
        return headers_done(x, len);
    }
    colon = memchr(line, ':', len);
    if (colon == NULL) {
        return len;
    }
    end = line + len;
    while (end > colon + 1 && (end[-1] == '\r' || end[-1] == '\n'
                               || end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    name = apr_pstrmemdup(x->p, line, colon - line);
    for (c = name; *c; c++) {
        *c = apr_tolower(*c);
    }
    apr_table_addn(x->rh, name, apr_pstrmemdup(x->p, v, end - v));
    return len;
}

/* A 2xx body into the caller's buffer. */
static size_t body_to_buffer(h5s3_s3_xfer *x, const char *data, size_t len)
{
    apr_size_t take;

    if (x->status == 200 && x->range_offset > 0) {
        /* The server ignored Range: these bytes are from offset 0. */
        x->own_rv = H5S3_E_UPSTREAM;
        x->own_msg = "server ignored the Range header";
        return 0;
    }
    take = x->cap - x->got;
    if (take > len) {
        take = len;
    }
    memcpy(x->buf + x->got, data, take);
    x->got += take;
    if (take < len) {
        /* More than asked for (a 200 with the whole object): enough. */
        x->filled = 1;
        return 0;
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    h5s3_s3_xfer *x = ud;
    size_t len = size * n;

    x->body_bytes += len;
    if (x->status < 200 || x->status >= 300) {
        /* An error document: keep the start, enough for Code/Message. */
        mem_append(x, data, len, H5S3_S3_ERR_BODY_MAX);
        return len;
    }
    if (x->on_data) {
        apr_status_t rv = x->on_data(x->baton, data, len);

        if (rv != APR_SUCCESS) {
            x->cb_rv = rv;
            return 0;
        }
        return len;
    }
    if (x->buf) {
        return body_to_buffer(x, data, len);
    }
    if (!mem_append(x, data, len, x->mem_max)) {
        x->own_rv = H5S3_E_TOOLARGE;
        x->own_msg = "S3 response body too large";
        return 0;
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    h5s3_s3_xfer *x = ud;
    apr_size_t room = size * n;

    if (x->read_cb) {
        apr_size_t l = room;
        apr_status_t rv = x->read_cb(x->read_baton, buf, &l);

        if (rv != APR_SUCCESS) {
            x->cb_rv = rv;
            return CURL_READFUNC_ABORT;
        }
        return l > room ? room : l;
    }
    if (room > x->up_len - x->up_off) {
        room = x->up_len - x->up_off;
    }
    memcpy(buf, x->up + x->up_off, room);
    x->up_off += room;
    return room;
}

/* ---- building a request ------------------------------------------------ */

static void amz_now(char out[17])
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, apr_time_now());
    apr_snprintf(out, 17, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int valid_bucket(const char *b)
{
    return b && *b && strchr(b, '/') == NULL && strlen(b) <= 255;
}

/* Where a request goes: the Host header value and the raw path. */
static void request_target(const char **host, const char **path,
                           const h5s3_s3_client *c, const h5s3_s3_xreq *rq,
                           apr_pool_t *p)
{
    const char *key = rq->key ? rq->key : "";

    if (c->cfg.virtual_host) {
        *host = apr_pstrcat(p, rq->bucket, ".", c->hostport, NULL);
        *path = apr_pstrcat(p, c->base_path, "/", key, NULL);
    }
    else {
        *host = c->hostport;
        *path = apr_pstrcat(p, c->base_path, "/", rq->bucket,
                            rq->key ? "/" : "", key, NULL);
    }
}

/* The SigV4 Authorization for a request; *path and *query as signed. */
static apr_status_t sign(const char **auth, const char **path,
                         const char **query, h5s3_s3_client *c,
                         const h5s3_s3_xreq *rq, const char *host,
                         const apr_array_header_t *hdrs,
                         const char *amz_date, apr_pool_t *p)
{
    h5s3_s3_sign_req sr;
    h5s3_s3_signature *sig;
    unsigned char key[32];
    apr_status_t rv;

    memset(&sr, 0, sizeof(sr));
    sr.method = rq->method;
    sr.host = host;
    sr.path = *path;
    if (rq->query) {
        sr.query = (h5s3_s3_kv *)rq->query->elts;
        sr.nquery = rq->query->nelts;
    }
    sr.headers = (h5s3_s3_kv *)hdrs->elts;
    sr.nheaders = hdrs->nelts;
    sr.payload_hash = rq->payload_hash ? rq->payload_hash
                                       : H5S3_SHA256_EMPTY;
    sr.amz_date = amz_date;
    sr.region = c->cfg.region;
    sr.service = "s3";
    sr.access_key = c->cfg.access_key;
    sr.secret_key = c->cfg.secret_key;
    sr.signing_key = h5s3_s3_client_signing_key(c, amz_date, key) ? key
                                                                  : NULL;
    rv = h5s3_s3_sign(&sig, &sr, p);
    memset(key, 0, sizeof(key));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *auth = sig->authorization;
    *path = sig->canonical_uri;
    *query = sig->canonical_query;
    return APR_SUCCESS;
}

/*
 * The headers to send and the encoded path and query.  With credentials
 * the path and query are exactly those signed and an Authorization header
 * is added; without, they are encoded the same way, unsigned.
 */
static apr_status_t prepare_headers(apr_array_header_t **out,
                                    const char **path, const char **query,
                                    h5s3_s3_client *c,
                                    const h5s3_s3_xreq *rq, const char *host,
                                    const char *amz_date, apr_pool_t *p)
{
    apr_array_header_t *hdrs = apr_array_make(p, 8, sizeof(h5s3_s3_kv));
    const char *auth;
    apr_status_t rv;

    if (rq->headers) {
        apr_array_cat(hdrs, rq->headers);
    }
    h5s3_s3_kv_add(hdrs, "x-amz-content-sha256",
                   rq->payload_hash ? rq->payload_hash : H5S3_SHA256_EMPTY);
    if (c->cfg.access_key) {
        rv = sign(&auth, path, query, c, rq, host, hdrs, amz_date, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        h5s3_s3_kv_add(hdrs, "Authorization", auth);
    }
    else {
        const h5s3_s3_kv *q = rq->query ? (h5s3_s3_kv *)rq->query->elts
                                        : NULL;

        *path = h5s3_s3_uri_encode(p, *path, 0);
        *query = h5s3_s3_canonical_query(p, q,
                                         rq->query ? rq->query->nelts : 0);
    }
    *out = hdrs;
    return APR_SUCCESS;
}

/* The header lines for curl: Host and x-amz-date first, as signed. */
static struct curl_slist *header_lines(const char *host,
                                       const char *amz_date,
                                       const apr_array_header_t *hdrs,
                                       apr_pool_t *p)
{
    const h5s3_s3_kv *hv = (const h5s3_s3_kv *)hdrs->elts;
    struct curl_slist *l;
    int i;

    /* Host is set, not left to curl: byte for byte what was signed. */
    l = curl_slist_append(NULL, apr_pstrcat(p, "Host: ", host, NULL));
    l = curl_slist_append(l, apr_pstrcat(p, "x-amz-date: ", amz_date, NULL));
    for (i = 0; i < hdrs->nelts; i++) {
        l = curl_slist_append(l, apr_pstrcat(p, hv[i].name, ": ",
                                             hv[i].value ? hv[i].value : "",
                                             NULL));
    }
    /* No 100-continue round trip; no Accept: */
    l = curl_slist_append(l, "Expect:");
    l = curl_slist_append(l, "Accept:");
    return l;
}

/*
 * TLS as the configuration says.  Verification is set on explicitly, not
 * left to curl's defaults: no configuration turns it off.  The PEM bytes
 * are handed over without a copy (they outlive the client); curl keeps
 * its own copy with each connection, which is how it tells that a pooled
 * connection or a cached TLS session was made with the same material and
 * may be reused (one handshake per connection, not per request).
 */
static void set_tls(CURL *h, const h5s3_s3_tls *t)
{
    struct curl_blob b;

    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t->ca_pem || t->ca_dir) {
        /* In place of the system store, not beside it. */
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(h, CURLOPT_CAPATH, t->ca_dir);
    }
    b.flags = CURL_BLOB_NOCOPY;
    if (t->ca_pem) {
        b.data = (void *)t->ca_pem;
        b.len = t->ca_len;
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (t->cert_pem && t->key_pem) {
        b.data = (void *)t->cert_pem;
        b.len = t->cert_len;
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        b.data = (void *)t->key_pem;
        b.len = t->key_len;
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

/* Connection, timeouts and callbacks, the same for every exchange. */
static void set_transport(h5s3_s3_xfer *x, const char *url, int streaming)
{
    const h5s3_s3_client *c = x->c;
    long total_ms = c->cfg.total_timeout_ms;
    CURLSH *share = h5s3_s3_share();

    curl_easy_setopt(x->h, CURLOPT_URL, url);
    curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(x->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(x->h, CURLOPT_TCP_NODELAY, 1L);
    if (share) {
        curl_easy_setopt(x->h, CURLOPT_SHARE, share);
    }
    if (!strcmp(c->scheme, "https")) {
        set_tls(x->h, &c->cfg.tls);
    }
    curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS,
                     c->cfg.connect_timeout_ms);
    if (streaming) {
        /* A large object may take longer than the total: limit stalls. */
        curl_easy_setopt(x->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(x->h, CURLOPT_LOW_SPEED_TIME,
                         total_ms >= 1000 ? total_ms / 1000 : 1L);
    }
    else {
        curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, total_ms);
    }
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
}

/* The method, and the body to upload if there is one. */
static void set_method(h5s3_s3_xfer *x, const h5s3_s3_xreq *rq)
{
    if (!strcmp(rq->method, "HEAD")) {
        curl_easy_setopt(x->h, CURLOPT_NOBODY, 1L);
    }
    else if (rq->upload) {
        x->up = rq->body;
        x->up_len = rq->body_len;
        x->read_cb = rq->read_cb;
        x->read_baton = rq->read_baton;
        curl_easy_setopt(x->h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(x->h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(rq->read_cb ? rq->upload_size
                                                  : (apr_off_t)rq->body_len));
        curl_easy_setopt(x->h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(x->h, CURLOPT_READDATA, x);
        if (strcmp(rq->method, "PUT") != 0) {
            curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, rq->method);
        }
    }
    else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
}

apr_status_t h5s3_s3_xfer_begin(h5s3_s3_xfer **out, h5s3_s3_client *c,
                                const h5s3_s3_xreq *rq, apr_pool_t *p)
{
    h5s3_s3_xfer *x;
    const char *host, *path, *query = "", *url;
    char amz_date[17];
    apr_array_header_t *hdrs;
    apr_status_t rv;

    *out = NULL;
    if (!valid_bucket(rq->bucket) || (rq->key && *rq->key == '\0')) {
        return H5S3_E_INVALID;
    }
    x = apr_pcalloc(p, sizeof(*x));
    x->c = c;
    x->p = p;
    x->method = rq->method;
    x->what = apr_pstrcat(p, rq->bucket, "/", rq->key ? rq->key : "", NULL);
    x->rh = apr_table_make(p, 16);
    x->mem_max = H5S3_S3_MEM_BODY_MAX;
    apr_pool_cleanup_register(p, x, mem_free, apr_pool_cleanup_null);

    request_target(&host, &path, c, rq, p);
    amz_now(amz_date);
    rv = prepare_headers(&hdrs, &path, &query, c, rq, host, amz_date, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    url = apr_pstrcat(p, c->scheme, "://", host, path, *query ? "?" : "",
                      query, NULL);
    x->h = h5s3_s3_easy_get();
    if (x->h == NULL) {
        return APR_ENOMEM;
    }
    x->hdrs = header_lines(host, amz_date, hdrs, p);
    set_transport(x, url, rq->streaming);
    set_method(x, rq);
    x->started = apr_time_now();
    *out = x;
    return APR_SUCCESS;
}

/* ---- the outcome ------------------------------------------------------- */

static apr_status_t status_from_http(long status)
{
    if (status >= 200 && status < 300) {
        return APR_SUCCESS;
    }
    switch (status) {
    case 404:
        return H5S3_E_NOTFOUND;
    case 401:
    case 403:
        return H5S3_E_DENIED;
    case 412:
        return H5S3_E_CHANGED;
    }
    if (status >= 400 && status < 500) {
        return H5S3_E_BADREQUEST;
    }
    return H5S3_E_UPSTREAM;
}

static apr_status_t status_from_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return H5S3_E_UNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT:
        return H5S3_E_TIMEOUT;
    default:
        return H5S3_E_UPSTREAM;
    }
}

static const char *http_reason(long status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 409: return "Conflict";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 500: return "InternalError";
    case 502: return "BadGateway";
    case 503: return "ServiceUnavailable";
    case 504: return "GatewayTimeout";
    }
    return NULL;
}

/*
 * What a failed TLS exchange means ("TLS: certificate not trusted", ...),
 * logged with the endpoint; NULL when the failure is not TLS.
 */
static const char *tls_failure(const h5s3_s3_xfer *x, CURLcode cc)
{
    long verify = 0;
    h5s3_s3_tls_failure f;
    const char *msg;

    if (strcmp(x->c->scheme, "https") != 0) {
        return NULL;
    }
    curl_easy_getinfo(x->h, CURLINFO_SSL_VERIFYRESULT, &verify);
    f = h5s3_s3_tls_classify(cc, verify, x->errbuf,
                             x->c->cfg.tls.cert_pem != NULL);
    if (f == H5S3_TLS_NONE) {
        return NULL;
    }
    msg = h5s3_s3_tls_message(f, verify, x->errbuf, x->p);
    h5s3_s3_client_tls_failed(x->c, (int)f, msg);
    return msg;
}

/*
 * The status of an exchange that ran, and the S3 error Code and Message
 * to report (both NULL when it is not an S3 failure).
 */
static apr_status_t outcome(const char **code, const char **msg,
                            const h5s3_s3_xfer *x, CURLcode cc)
{
    apr_status_t rv;

    *code = *msg = NULL;
    if (x->cb_rv != APR_SUCCESS) {
        /* The caller's callback stopped it: its status, not an S3 error. */
        return x->cb_rv;
    }
    if (x->own_rv != APR_SUCCESS) {
        *code = "ClientError";
        *msg = x->own_msg;
        return x->own_rv;
    }
    if (cc != CURLE_OK && !(x->filled && x->status == 200)) {
        if ((*msg = tls_failure(x, cc)) != NULL) {
            *code = "TLSError";
            return H5S3_E_UPSTREAM;
        }
        rv = status_from_curl(cc);
        *code = rv == H5S3_E_TIMEOUT ? "Timeout"
              : cc == CURLE_COULDNT_CONNECT ? "ConnectFailed"
              : rv == H5S3_E_UNREACHABLE ? "ResolveFailed" : "TransportError";
        *msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        return rv;
    }
    if ((rv = status_from_http(x->status)) == APR_SUCCESS) {
        return rv;
    }
    if (x->mem_len > 0) {
        h5s3_s3_xml_parse_error(code, msg, x->mem, x->mem_len, x->p);
    }
    if (*code == NULL) {
        *code = http_reason(x->status);
        if (*code == NULL) {
            *code = apr_psprintf(x->p, "HTTP%ld", x->status);
        }
    }
    if (*msg == NULL || **msg == '\0') {
        *msg = apr_psprintf(x->p, "S3 answered HTTP %ld to %s", x->status,
                            x->method);
    }
    return rv;
}

void h5s3_s3_xfer_abandon(h5s3_s3_xfer *x)
{
    h5s3_s3_easy_put(x->h, 0);
    x->h = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
}

void h5s3_s3_xreq_init(h5s3_s3_xreq *rq, const char *method,
                       const char *bucket, const char *key)
{
    memset(rq, 0, sizeof(*rq));
    rq->method = method;
    rq->bucket = bucket;
    rq->key = key;
}

void h5s3_s3_xfer_release(h5s3_s3_xfer *x)
{
    apr_pool_cleanup_run(x->p, x, mem_free);
}

apr_status_t h5s3_s3_xfer_end(h5s3_s3_xfer *x, CURLcode cc,
                              h5s3_s3_call *call)
{
    const char *code, *msg;
    apr_status_t rv = outcome(&code, &msg, x, cc);
    int healthy = cc == CURLE_OK && x->status >= 200 && x->status < 500;

    h5s3_s3_easy_put(x->h, healthy);
    x->h = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;

    if (call) {
        call->requests++;
        call->bytes += x->body_bytes;
        if (rv != APR_SUCCESS && rv != x->cb_rv) {
            call->errors++;
            /* Copied by the result: x->p may be a caller's scratch pool. */
            h5s3_result_s3_set(call->result, (int)x->status, code, msg);
        }
    }
    if (h5s3_log_is_level(H5S3_LOG_DEBUG)) {
        h5s3_log(H5S3_LOG_DEBUG, rv,
                 "S3 %s %s: HTTP %ld, %" APR_UINT64_T_FMT " bytes, "
                 "%" APR_TIME_T_FMT " us%s%s", x->method, x->what, x->status,
                 x->body_bytes, apr_time_now() - x->started,
                 code ? ", " : "", code ? code : "");
    }
    return rv;
}

/*
 * Transport failures worth one more try on a fresh connection; not an
 * endpoint's TLS alert about our certificate, which would only repeat.
 */
static int retryable(CURLcode cc, const h5s3_s3_xfer *x)
{
    return (cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR
            || cc == CURLE_RECV_ERROR)
           && x->body_bytes == 0 && x->cb_rv == APR_SUCCESS
           && x->own_rv == APR_SUCCESS && !x->head_called
           && h5s3_s3_tls_classify(cc, 0, x->errbuf, 0) == H5S3_TLS_NONE;
}

int h5s3_s3_xfer_retryable(CURLcode cc, const h5s3_s3_xfer *x)
{
    return retryable(cc, x);
}

apr_status_t h5s3_s3_perform(h5s3_s3_xfer **out, h5s3_s3_client *c,
                             const h5s3_s3_xreq *rq, h5s3_s3_prep_fn prep,
                             void *prep_baton, h5s3_s3_call *call,
                             apr_pool_t *p)
{
    int attempt;
    apr_status_t rv = APR_SUCCESS;
    int idempotent = !rq->upload;

    *out = NULL;
    for (attempt = 0; attempt < 2; attempt++) {
        h5s3_s3_xfer *x;
        CURLcode cc;

        if ((rv = h5s3_s3_xfer_begin(&x, c, rq, p)) != APR_SUCCESS) {
            return rv;
        }
        if (prep) {
            prep(x, prep_baton);
        }
        cc = curl_easy_perform(x->h);
        if (attempt == 0 && idempotent && retryable(cc, x)) {
            /* A keep-alive connection the server had closed. */
            if (call) {
                call->requests++;
            }
            h5s3_s3_xfer_abandon(x);
            continue;
        }
        rv = h5s3_s3_xfer_end(x, cc, call);
        *out = x;
        break;
    }
    return rv;
}
