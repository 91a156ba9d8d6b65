/*
 * S3 requests over libcurl.  Easy handles (and multi handles for
 * get_ranges) live in a per-process pool guarded by a mutex, so a handle
 * keeps its keep-alive connection from one request to the next; a handle
 * whose exchange failed is destroyed rather than trusted again.  Every
 * request carries x-amz-date and x-amz-content-sha256 and, when the
 * configuration has credentials, a SigV4 Authorization.
 */
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <curl/curl.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_date.h>
#include <apr_thread_mutex.h>

#include "base/h5s3_errors.h"
#include "base/h5s3_log.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_sign.h"
#include "s3/h5s3_s3_xml.h"

#define POOL_KEEP       64              /* idle handles kept per process */
#define ERR_BODY_MAX    (64 * 1024)     /* enough for any S3 error document */
#define LIST_BODY_MAX   (32 * 1024 * 1024)

struct h5s3_s3_client {
    h5s3_s3_config cfg;
    const char *scheme;         /* "http" or "https" */
    const char *hostport;       /* host[:port] as the Host header says it */
    const char *base_path;      /* endpoint path prefix, "" normally */
    apr_thread_mutex_t *key_lock;
    char key_date[9];           /* date of the cached signing key */
    unsigned char signing_key[32];
};

/* ---- per-process handle pool ----------------------------------------- */

static struct {
    int inited;
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    CURL *easy[POOL_KEEP];
    int neasy;
    CURLM *multi[POOL_KEEP];
    int nmulti;
    CURLSH *share;
    apr_thread_mutex_t *share_lock[CURL_LOCK_DATA_LAST];
} hp;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *u)
{
    if (data < CURL_LOCK_DATA_LAST && hp.share_lock[data]) {
        apr_thread_mutex_lock(hp.share_lock[data]);
    }
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
    if (data < CURL_LOCK_DATA_LAST && hp.share_lock[data]) {
        apr_thread_mutex_unlock(hp.share_lock[data]);
    }
}

/*
 * Mutexes and the share object (DNS cache and TLS sessions only: curl
 * does not support sharing connections between threads).
 */
static apr_status_t pool_make_locks(void)
{
    apr_status_t rv;
    int i;

    rv = apr_thread_mutex_create(&hp.lock, APR_THREAD_MUTEX_DEFAULT, hp.pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        rv = apr_thread_mutex_create(&hp.share_lock[i],
                                     APR_THREAD_MUTEX_DEFAULT, hp.pool);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    hp.share = curl_share_init();
    if (hp.share == NULL) {
        return APR_ENOMEM;
    }
    curl_share_setopt(hp.share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(hp.share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(hp.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(hp.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return APR_SUCCESS;
}

apr_status_t h5s3_s3_global_init(void)
{
    apr_status_t rv;

    if (hp.inited) {
        return APR_SUCCESS;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return APR_EGENERAL;
    }
    rv = apr_pool_create(&hp.pool, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(hp.pool, "h5s3_s3_handles");
    rv = pool_make_locks();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    hp.inited = 1;
    return APR_SUCCESS;
}

void h5s3_s3_pool_forget(void)
{
    if (!hp.inited) {
        return;
    }
    /*
     * The handles' sockets belong to the parent: dropping the pointers
     * (a small, one-off leak) is the only safe thing; cleaning them up
     * would write TLS close-notify on connections the parent still uses.
     */
    hp.neasy = 0;
    hp.nmulti = 0;
    hp.share = NULL;
    memset(hp.share_lock, 0, sizeof(hp.share_lock));
    if (pool_make_locks() != APR_SUCCESS) {
        hp.inited = 0;
    }
}

static CURL *easy_get(void)
{
    CURL *h = NULL;

    if (hp.lock) {
        apr_thread_mutex_lock(hp.lock);
        if (hp.neasy > 0) {
            h = hp.easy[--hp.neasy];
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    return h ? h : curl_easy_init();
}

static void easy_put(CURL *h, int healthy)
{
    if (h == NULL) {
        return;
    }
    if (healthy && hp.lock) {
        /* reset keeps the live connection and caches, drops the options */
        curl_easy_reset(h);
        apr_thread_mutex_lock(hp.lock);
        if (hp.neasy < POOL_KEEP) {
            hp.easy[hp.neasy++] = h;
            h = NULL;
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    if (h) {
        curl_easy_cleanup(h);
    }
}

static CURLM *multi_get(void)
{
    CURLM *m = NULL;

    if (hp.lock) {
        apr_thread_mutex_lock(hp.lock);
        if (hp.nmulti > 0) {
            m = hp.multi[--hp.nmulti];
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    return m ? m : curl_multi_init();
}

static void multi_put(CURLM *m)
{
    if (m == NULL) {
        return;
    }
    if (hp.lock) {
        apr_thread_mutex_lock(hp.lock);
        if (hp.nmulti < POOL_KEEP) {
            hp.multi[hp.nmulti++] = m;
            m = NULL;
        }
        apr_thread_mutex_unlock(hp.lock);
    }
    if (m) {
        curl_multi_cleanup(m);
    }
}

/* ---- client ------------------------------------------------------------ */

const char *h5s3_s3_client_scope(const h5s3_s3_client *c)
{
    if (c == NULL) {
        return "";
    }
    return c->cfg.scope ? c->cfg.scope
                        : (c->cfg.endpoint ? c->cfg.endpoint : "");
}

apr_status_t h5s3_s3_client_create(h5s3_s3_client **client,
                                   const h5s3_s3_config *cfg, apr_pool_t *p)
{
    h5s3_s3_client *c;
    apr_uri_t u;
    apr_status_t rv;
    const char *host;

    *client = NULL;
    if (cfg == NULL || cfg->endpoint == NULL) {
        return H5S3_E_INVALID;
    }
    if ((rv = h5s3_s3_global_init()) != APR_SUCCESS) {
        return rv;
    }
    if (apr_uri_parse(p, cfg->endpoint, &u) != APR_SUCCESS
        || u.scheme == NULL || u.hostname == NULL || *u.hostname == '\0'
        || (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https"))
        || u.query || u.user) {
        return H5S3_E_INVALID;
    }
    if ((cfg->access_key == NULL) != (cfg->secret_key == NULL)) {
        return H5S3_E_INVALID;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->cfg.endpoint = apr_pstrdup(p, cfg->endpoint);
    c->cfg.region = apr_pstrdup(p, cfg->region ? cfg->region : "us-east-1");
    c->cfg.access_key = cfg->access_key ? apr_pstrdup(p, cfg->access_key)
                                        : NULL;
    c->cfg.secret_key = cfg->secret_key ? apr_pstrdup(p, cfg->secret_key)
                                        : NULL;
    c->cfg.virtual_host = cfg->virtual_host;
    c->cfg.connect_timeout_ms = cfg->connect_timeout_ms > 0
                                ? cfg->connect_timeout_ms : 5000;
    c->cfg.total_timeout_ms = cfg->total_timeout_ms > 0
                              ? cfg->total_timeout_ms : 60000;
    c->scheme = strcasecmp(u.scheme, "https") ? "http" : "https";
    host = strchr(u.hostname, ':') ? apr_pstrcat(p, "[", u.hostname, "]",
                                                 NULL)
                                   : u.hostname;
    c->hostport = u.port_str ? apr_pstrcat(p, host, ":", u.port_str, NULL)
                             : apr_pstrdup(p, host);
    c->base_path = "";
    if (u.path && strcmp(u.path, "/") != 0) {
        apr_size_t n = strlen(u.path);

        while (n > 0 && u.path[n - 1] == '/') {
            n--;
        }
        c->base_path = apr_pstrmemdup(p, u.path, n);
    }
    rv = apr_thread_mutex_create(&c->key_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *client = c;
    return APR_SUCCESS;
}

/* ---- one exchange ------------------------------------------------------ */

typedef struct xreq {
    const char *method;
    const char *bucket;
    const char *key;                /* NULL: a bucket-level request */
    apr_array_header_t *query;      /* of h5s3_s3_kv */
    apr_array_header_t *headers;    /* of h5s3_s3_kv, all signed */
    const char *payload_hash;
    const char *body;               /* small in-memory upload */
    apr_size_t body_len;
    h5s3_s3_read_cb read_cb;        /* streaming upload */
    void *read_baton;
    apr_off_t upload_size;
    int upload;
    int streaming;                  /* long transfer: stall limit, no total */
} xreq;

typedef struct xfer {
    h5s3_s3_client *c;
    apr_pool_t *p;
    CURL *h;
    struct curl_slist *hdrs;
    const char *method;
    const char *what;               /* "bucket/key" for logs */
    apr_time_t started;
    /* response */
    long status;
    apr_table_t *rh;                /* headers, lower-cased names */
    apr_uint64_t body_bytes;
    /* body sinks: a caller buffer, callbacks, or a malloc'd buffer */
    char *buf;
    apr_size_t cap;
    apr_size_t got;
    apr_off_t range_offset;
    int filled;                     /* buffer full from a 200: stop early */
    h5s3_s3_head_cb on_head;
    h5s3_s3_data_cb on_data;
    void *baton;
    int head_called;
    char *mem;
    apr_size_t mem_len, mem_cap, mem_max;
    /* upload */
    const char *up;
    apr_size_t up_len, up_off;
    h5s3_s3_read_cb read_cb;
    void *read_baton;
    /* failures detected here (counted as S3 errors) / by the caller's callbacks */
    apr_status_t own_rv;
    const char *own_msg;
    apr_status_t cb_rv;
    char errbuf[CURL_ERROR_SIZE];
    h5s3_s3_range *range;           /* get_ranges bookkeeping */
} xfer;

static apr_status_t mem_free(void *data)
{
    xfer *x = data;

    free(x->mem);
    x->mem = NULL;
    x->mem_len = x->mem_cap = 0;
    return APR_SUCCESS;
}

static int mem_append(xfer *x, const char *d, apr_size_t len,
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

/* "bytes a-b/total": the total, or -1. */
static apr_off_t content_range_total(const char *cr, apr_off_t *start)
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

static h5s3_s3_object_info *info_from_headers(const xfer *x, apr_pool_t *p)
{
    h5s3_s3_object_info *info = apr_pcalloc(p, sizeof(*info));
    const char *v;
    meta_walk w;
    apr_off_t start;

    v = apr_table_get(x->rh, "content-length");
    info->size = v ? apr_atoi64(v) : -1;
    if (x->status == 206) {
        apr_off_t total = content_range_total(
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

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
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
        if (x->status >= 200 && x->status < 300 && x->on_head
            && !x->head_called) {
            apr_status_t rv;

            x->head_called = 1;
            rv = x->on_head(x->baton, info_from_headers(x, x->p));
            if (rv != APR_SUCCESS) {
                x->cb_rv = rv;
                return 0;
            }
        }
        return len;
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

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;

    x->body_bytes += len;
    if (x->status < 200 || x->status >= 300) {
        /* An error document: keep the start, enough for Code/Message. */
        mem_append(x, data, len, ERR_BODY_MAX);
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
    if (!mem_append(x, data, len, x->mem_max)) {
        x->own_rv = H5S3_E_TOOLARGE;
        x->own_msg = "S3 response body too large";
        return 0;
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
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

static void amz_now(char out[17])
{
    apr_time_exp_t tm;

    apr_time_exp_gmt(&tm, apr_time_now());
    apr_snprintf(out, 17, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The signing key changes once a day: derive it once per date. */
static void cached_key(h5s3_s3_client *c, const char *amz_date,
                       unsigned char key[32], int *ok)
{
    char date[9];

    *ok = 0;
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    apr_thread_mutex_lock(c->key_lock);
    if (strcmp(c->key_date, date) != 0) {
        if (h5s3_s3_signing_key(c->signing_key, c->cfg.secret_key, date,
                                c->cfg.region, "s3") == APR_SUCCESS) {
            memcpy(c->key_date, date, 9);
        }
        else {
            c->key_date[0] = '\0';
        }
    }
    if (c->key_date[0]) {
        memcpy(key, c->signing_key, 32);
        *ok = 1;
    }
    apr_thread_mutex_unlock(c->key_lock);
}

static int valid_bucket(const char *b)
{
    return b && *b && strchr(b, '/') == NULL && strlen(b) <= 255;
}

static void add_hdr(apr_array_header_t *a, const char *n, const char *v)
{
    h5s3_s3_kv *kv = apr_array_push(a);

    kv->name = n;
    kv->value = v;
}

/*
 * Build, sign and configure one exchange on a pooled handle.  The URL
 * carries exactly the encoded path and query that were signed.
 */
static apr_status_t xfer_begin(xfer **out, h5s3_s3_client *c,
                               const xreq *rq, apr_pool_t *p)
{
    xfer *x;
    const char *host, *path, *query, *url, *payload;
    h5s3_s3_kv *q = NULL, *hv;
    int nq = 0, i;
    char amz_date[17];
    apr_array_header_t *hdrs;
    apr_status_t rv;
    long total_ms = c->cfg.total_timeout_ms;

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
    x->mem_max = LIST_BODY_MAX;
    apr_pool_cleanup_register(p, x, mem_free, apr_pool_cleanup_null);

    if (c->cfg.virtual_host) {
        host = apr_pstrcat(p, rq->bucket, ".", c->hostport, NULL);
        path = apr_pstrcat(p, c->base_path, "/", rq->key ? rq->key : "",
                           NULL);
    }
    else {
        host = c->hostport;
        path = apr_pstrcat(p, c->base_path, "/", rq->bucket,
                           rq->key ? "/" : "", rq->key ? rq->key : "", NULL);
    }
    if (rq->query) {
        q = (h5s3_s3_kv *)rq->query->elts;
        nq = rq->query->nelts;
    }
    payload = rq->payload_hash ? rq->payload_hash : H5S3_SHA256_EMPTY;
    amz_now(amz_date);

    hdrs = apr_array_make(p, 8, sizeof(h5s3_s3_kv));
    if (rq->headers) {
        apr_array_cat(hdrs, rq->headers);
    }
    add_hdr(hdrs, "x-amz-content-sha256", payload);

    if (c->cfg.access_key) {
        h5s3_s3_sign_req sr;
        h5s3_s3_signature *sig;
        unsigned char key[32];
        int ok;

        memset(&sr, 0, sizeof(sr));
        sr.method = rq->method;
        sr.host = host;
        sr.path = path;
        sr.query = q;
        sr.nquery = nq;
        sr.headers = (h5s3_s3_kv *)hdrs->elts;
        sr.nheaders = hdrs->nelts;
        sr.payload_hash = payload;
        sr.amz_date = amz_date;
        sr.region = c->cfg.region;
        sr.service = "s3";
        sr.access_key = c->cfg.access_key;
        sr.secret_key = c->cfg.secret_key;
        cached_key(c, amz_date, key, &ok);
        sr.signing_key = ok ? key : NULL;
        rv = h5s3_s3_sign(&sig, &sr, p);
        memset(key, 0, sizeof(key));
        if (rv != APR_SUCCESS) {
            return rv;
        }
        path = sig->canonical_uri;
        query = sig->canonical_query;
        add_hdr(hdrs, "Authorization", sig->authorization);
    }
    else {
        path = h5s3_s3_uri_encode(p, path, 0);
        query = h5s3_s3_canonical_query(p, q, nq);
    }
    url = apr_pstrcat(p, c->scheme, "://", host, path, *query ? "?" : "",
                      query, NULL);

    x->h = easy_get();
    if (x->h == NULL) {
        return APR_ENOMEM;
    }
    /* Host is set, not left to curl, so it is byte for byte what was signed. */
    x->hdrs = curl_slist_append(NULL, apr_pstrcat(p, "Host: ", host, NULL));
    x->hdrs = curl_slist_append(x->hdrs, apr_pstrcat(p, "x-amz-date: ",
                                                     amz_date, NULL));
    hv = (h5s3_s3_kv *)hdrs->elts;
    for (i = 0; i < hdrs->nelts; i++) {
        x->hdrs = curl_slist_append(x->hdrs, apr_pstrcat(p, hv[i].name, ": ",
                                    hv[i].value ? hv[i].value : "", NULL));
    }
    /* No 100-continue round trip; no Accept: */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    x->hdrs = curl_slist_append(x->hdrs, "Accept:");

    curl_easy_setopt(x->h, CURLOPT_URL, url);
    curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(x->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(x->h, CURLOPT_TCP_NODELAY, 1L);
    if (hp.share) {
        curl_easy_setopt(x->h, CURLOPT_SHARE, hp.share);
    }
    curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS,
                     c->cfg.connect_timeout_ms);
    if (rq->streaming) {
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
    x->started = apr_time_now();
    *out = x;
    return APR_SUCCESS;
}

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
 * Map the outcome of one exchange, account for it in call, release the
 * handle (destroyed unless the exchange went cleanly).  The body kept in
 * x->mem stays until p is cleared or mem_free runs.
 */
/* s into buf (truncated), or NULL for no string. */
static const char *call_copy(char *buf, apr_size_t size, const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    apr_cpystrn(buf, s, size);
    return buf;
}

static apr_status_t xfer_end(xfer *x, CURLcode cc, h5s3_s3_call *call)
{
    apr_status_t rv = APR_SUCCESS;
    const char *code = NULL, *msg = NULL;
    int healthy;

    if (x->cb_rv != APR_SUCCESS) {
        /* The caller's callback stopped it: its status, not an S3 error. */
        rv = x->cb_rv;
    }
    else if (x->own_rv != APR_SUCCESS) {
        rv = x->own_rv;
        code = "ClientError";
        msg = x->own_msg;
    }
    else if (cc != CURLE_OK && !(x->filled && x->status == 200)) {
        rv = status_from_curl(cc);
        code = rv == H5S3_E_TIMEOUT ? "Timeout"
             : cc == CURLE_COULDNT_CONNECT ? "ConnectFailed"
             : rv == H5S3_E_UNREACHABLE ? "ResolveFailed" : "TransportError";
        msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    }
    else if ((rv = status_from_http(x->status)) != APR_SUCCESS) {
        if (x->mem_len > 0) {
            h5s3_s3_xml_parse_error(&code, &msg, x->mem, x->mem_len, x->p);
        }
        if (code == NULL) {
            code = http_reason(x->status);
            if (code == NULL) {
                code = apr_psprintf(x->p, "HTTP%ld", x->status);
            }
        }
        if (msg == NULL || *msg == '\0') {
            msg = apr_psprintf(x->p, "S3 answered HTTP %ld to %s", x->status,
                               x->method);
        }
    }

    healthy = cc == CURLE_OK && x->status >= 200 && x->status < 500;
    easy_put(x->h, healthy);
    x->h = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;

    if (call) {
        call->requests++;
        call->bytes += x->body_bytes;
        if (rv != APR_SUCCESS && rv != x->cb_rv) {
            call->errors++;
            call->http_status = (int)x->status;
            /* Copied into the call: x->p may be a caller's scratch pool. */
            call->error_code = call_copy(call->error_code_buf,
                                         sizeof(call->error_code_buf), code);
            call->error_message = call_copy(call->error_message_buf,
                                            sizeof(call->error_message_buf),
                                            msg);
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

/* Transport failures worth one more try on a fresh connection. */
static int retryable(CURLcode cc, const xfer *x)
{
    return (cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR
            || cc == CURLE_RECV_ERROR)
           && x->body_bytes == 0 && x->cb_rv == APR_SUCCESS
           && x->own_rv == APR_SUCCESS && !x->head_called;
}

/* Run an exchange on the calling thread; idempotent requests retry once. */
static apr_status_t perform(xfer **out, h5s3_s3_client *c, const xreq *rq,
                            void (*prep)(xfer *, void *), void *prep_baton,
                            h5s3_s3_call *call, apr_pool_t *p)
{
    int attempt;
    apr_status_t rv = APR_SUCCESS;
    int idempotent = !rq->upload;

    *out = NULL;
    for (attempt = 0; attempt < 2; attempt++) {
        xfer *x;
        CURLcode cc;

        if ((rv = xfer_begin(&x, c, rq, p)) != APR_SUCCESS) {
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
            easy_put(x->h, 0);
            x->h = NULL;
            curl_slist_free_all(x->hdrs);
            x->hdrs = NULL;
            continue;
        }
        rv = xfer_end(x, cc, call);
        *out = x;
        break;
    }
    return rv;
}

/* ---- operations -------------------------------------------------------- */

apr_status_t h5s3_s3_head(h5s3_s3_object_info **info, h5s3_s3_client *c,
                          const char *bucket, const char *key,
                          h5s3_s3_call *call, apr_pool_t *p)
{
    xreq rq;
    xfer *x;
    apr_status_t rv;

    *info = NULL;
    if (key == NULL) {
        return H5S3_E_INVALID;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "HEAD";
    rq.bucket = bucket;
    rq.key = key;
    rv = perform(&x, c, &rq, NULL, NULL, call, p);
    if (rv == APR_SUCCESS) {
        *info = info_from_headers(x, p);
    }
    if (x) {
        apr_pool_cleanup_run(p, x, mem_free);
    }
    return rv;
}

static const char *if_match_value(const char *etag, apr_pool_t *p)
{
    if (etag == NULL) {
        return NULL;
    }
    if (*etag == '"' || !strcmp(etag, "*")) {
        return etag;
    }
    return apr_pstrcat(p, "\"", etag, "\"", NULL);
}

static void range_headers(xreq *rq, const char *if_match, apr_off_t offset,
                          apr_size_t len, apr_pool_t *p)
{
    rq->headers = apr_array_make(p, 2, sizeof(h5s3_s3_kv));
    add_hdr(rq->headers, "Range",
            apr_psprintf(p, "bytes=%" APR_OFF_T_FMT "-%" APR_OFF_T_FMT,
                         offset, offset + (apr_off_t)len - 1));
    if (if_match) {
        add_hdr(rq->headers, "If-Match", if_match_value(if_match, p));
    }
}

typedef struct range_prep {
    char *buf;
    apr_size_t len;
    apr_off_t offset;
} range_prep;

static void prep_range(xfer *x, void *baton)
{
    range_prep *r = baton;

    x->buf = r->buf;
    x->cap = r->len;
    x->range_offset = r->offset;
}

/* Ranged results: 416 is the end of the object, a 206 must start right. */
static apr_status_t range_result(xfer *x, apr_status_t rv, apr_size_t *got,
                                 h5s3_s3_call *call)
{
    apr_off_t start;

    *got = 0;
    if (rv == H5S3_E_BADREQUEST && x->status == 416) {
        if (call) {
            /* Reading at or past the end is not an S3 failure. */
            call->errors--;
            call->http_status = 0;
            call->error_code = NULL;
            call->error_message = NULL;
        }
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (x->status == 206) {
        content_range_total(apr_table_get(x->rh, "content-range"), &start);
        if (start != x->range_offset) {
            if (call) {
                call->errors++;
                call->error_code = "ClientError";
                call->error_message = "S3 sent a range other than asked";
            }
            return H5S3_E_UPSTREAM;
        }
    }
    *got = x->got;
    return APR_SUCCESS;
}

apr_status_t h5s3_s3_get_range(apr_size_t *got, h5s3_s3_client *c,
                               const char *bucket, const char *key,
                               const char *if_match, apr_off_t offset,
                               apr_size_t len, char *buf,
                               h5s3_s3_call *call, apr_pool_t *p)
{
    return h5s3_s3_get_range_info(got, NULL, c, bucket, key, if_match,
                                  offset, len, buf, call, p);
}

apr_status_t h5s3_s3_get_range_info(apr_size_t *got,
                                    h5s3_s3_object_info **info,
                                    h5s3_s3_client *c, const char *bucket,
                                    const char *key, const char *if_match,
                                    apr_off_t offset, apr_size_t len,
                                    char *buf, h5s3_s3_call *call,
                                    apr_pool_t *p)
{
    xreq rq;
    xfer *x;
    range_prep rp;
    apr_status_t rv;

    *got = 0;
    if (info) {
        *info = NULL;
    }
    if (key == NULL || offset < 0 || (len > 0 && buf == NULL)
        || (len == 0 && info)) {
        return H5S3_E_INVALID;
    }
    if (len == 0) {
        return APR_SUCCESS;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.bucket = bucket;
    rq.key = key;
    range_headers(&rq, if_match, offset, len, p);
    rp.buf = buf;
    rp.len = len;
    rp.offset = offset;
    rv = perform(&x, c, &rq, prep_range, &rp, call, p);
    if (x) {
        int past_end = x->status == 416;

        rv = range_result(x, rv, got, call);
        if (rv == APR_SUCCESS && info) {
            *info = info_from_headers(x, p);
            if (past_end) {
                /* The lengths describe the error document, not the object:
                 * a range from offset 0 is past the end only when empty. */
                (*info)->size = offset == 0 ? 0 : -1;
            }
        }
        apr_pool_cleanup_run(p, x, mem_free);
    }
    return rv;
}

typedef struct stream_prep {
    h5s3_s3_head_cb on_head;
    h5s3_s3_data_cb on_data;
    void *baton;
} stream_prep;

static void prep_stream(xfer *x, void *baton)
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
    xreq rq;
    xfer *x;
    stream_prep sp;
    apr_status_t rv;

    if (key == NULL || on_data == NULL) {
        return H5S3_E_INVALID;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.bucket = bucket;
    rq.key = key;
    rq.streaming = 1;
    if (if_match) {
        rq.headers = apr_array_make(p, 1, sizeof(h5s3_s3_kv));
        add_hdr(rq.headers, "If-Match", if_match_value(if_match, p));
    }
    sp.on_head = on_head;
    sp.on_data = on_data;
    sp.baton = baton;
    rv = perform(&x, c, &rq, prep_stream, &sp, call, p);
    if (x) {
        apr_pool_cleanup_run(p, x, mem_free);
    }
    return rv;
}

static apr_status_t put_common(h5s3_s3_client *c, const char *bucket,
                               const char *key, const char *body,
                               apr_size_t len, apr_off_t size,
                               h5s3_s3_read_cb read_cb, void *baton,
                               const char *content_type, apr_table_t *meta,
                               h5s3_s3_call *call, apr_pool_t *p)
{
    xreq rq;
    xfer *x;
    apr_status_t rv;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    if (key == NULL) {
        return H5S3_E_INVALID;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "PUT";
    rq.bucket = bucket;
    rq.key = key;
    rq.upload = 1;
    rq.headers = apr_array_make(p, 4, sizeof(h5s3_s3_kv));
    if (content_type) {
        add_hdr(rq.headers, "Content-Type", content_type);
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
            add_hdr(rq.headers,
                    apr_pstrcat(p, "x-amz-meta-", e[i].key, NULL),
                    e[i].val ? e[i].val : "");
        }
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
    rv = perform(&x, c, &rq, NULL, NULL, call, p);
    if (x) {
        apr_pool_cleanup_run(p, x, mem_free);
    }
    return rv;
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

apr_status_t h5s3_s3_list(h5s3_s3_list_page **page, h5s3_s3_client *c,
                          const char *bucket, const char *prefix,
                          const char *delimiter, const char *token,
                          int max_keys, h5s3_s3_call *call, apr_pool_t *p)
{
    xreq rq;
    xfer *x;
    apr_status_t rv;
    h5s3_s3_kv *kv;

    *page = NULL;
    if (max_keys <= 0) {
        max_keys = 1000;
    }
    if (max_keys > 1000) {
        return H5S3_E_INVALID;
    }
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.bucket = bucket;
    /* No encoding-type=url: keys come XML-escaped, which apr_xml undoes. */
    rq.query = apr_array_make(p, 5, sizeof(h5s3_s3_kv));
    kv = apr_array_push(rq.query);
    kv->name = "list-type";
    kv->value = "2";
    kv = apr_array_push(rq.query);
    kv->name = "max-keys";
    kv->value = apr_itoa(p, max_keys);
    if (prefix && *prefix) {
        kv = apr_array_push(rq.query);
        kv->name = "prefix";
        kv->value = prefix;
    }
    if (delimiter && *delimiter) {
        kv = apr_array_push(rq.query);
        kv->name = "delimiter";
        kv->value = delimiter;
    }
    if (token && *token) {
        kv = apr_array_push(rq.query);
        kv->name = "continuation-token";
        kv->value = token;
    }
    rv = perform(&x, c, &rq, NULL, NULL, call, p);
    if (rv == APR_SUCCESS) {
        rv = h5s3_s3_xml_parse_list(page, x->mem, x->mem_len, p);
        if (rv != APR_SUCCESS && call) {
            call->errors++;
            call->http_status = (int)x->status;
            call->error_code = "MalformedListing";
            call->error_message = "S3 sent a listing that is not valid XML";
        }
    }
    if (x) {
        apr_pool_cleanup_run(p, x, mem_free);
    }
    return rv;
}

/* ---- many ranges at once ----------------------------------------------- */

apr_status_t h5s3_s3_get_ranges(h5s3_s3_client *c, const char *bucket,
                                const char *key, const char *if_match,
                                h5s3_s3_range *ranges, int n,
                                int max_parallel, h5s3_s3_call *call,
                                apr_pool_t *p)
{
    CURLM *m;
    xfer **flying;
    int next = 0, running = 0, done = 0, i;
    apr_status_t first = APR_SUCCESS;

    if (key == NULL || n < 0 || (n > 0 && ranges == NULL)) {
        return H5S3_E_INVALID;
    }
    if (max_parallel < 1) {
        max_parallel = 1;
    }
    for (i = 0; i < n; i++) {
        ranges[i].got = 0;
        ranges[i].status = APR_EINIT;
    }
    m = multi_get();
    if (m == NULL) {
        return APR_ENOMEM;
    }
    flying = apr_pcalloc(p, sizeof(*flying) * (n + 1));
    while (done < n) {
        CURLMsg *msg;
        int q, still;

        while (running < max_parallel && next < n) {
            h5s3_s3_range *r = &ranges[next++];
            xreq rq;
            xfer *x;
            apr_status_t rv;

            if (r->len == 0 || r->offset < 0 || r->buf == NULL) {
                r->status = r->len == 0 ? APR_SUCCESS : H5S3_E_INVALID;
                done++;
                continue;
            }
            memset(&rq, 0, sizeof(rq));
            rq.method = "GET";
            rq.bucket = bucket;
            rq.key = key;
            range_headers(&rq, if_match, r->offset, r->len, p);
            if ((rv = xfer_begin(&x, c, &rq, p)) != APR_SUCCESS) {
                r->status = rv;
                done++;
                continue;
            }
            x->buf = r->buf;
            x->cap = r->len;
            x->range_offset = r->offset;
            x->range = r;
            if (curl_multi_add_handle(m, x->h) != CURLM_OK) {
                r->status = xfer_end(x, CURLE_FAILED_INIT, call);
                done++;
                continue;
            }
            flying[r - ranges] = x;
            running++;
        }
        if (running == 0) {
            continue;
        }
        if (curl_multi_perform(m, &still) != CURLM_OK) {
            break;
        }
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            CURL *eh;
            CURLcode cc;
            xfer *x = NULL;
            apr_status_t rv;

            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            eh = msg->easy_handle;
            cc = msg->data.result;
            curl_easy_getinfo(eh, CURLINFO_PRIVATE, (char **)&x);
            curl_multi_remove_handle(m, eh);
            flying[x->range - ranges] = NULL;
            rv = xfer_end(x, cc, call);
            x->range->status = range_result(x, rv, &x->range->got, call);
            apr_pool_cleanup_run(p, x, mem_free);
            running--;
            done++;
        }
        if (running > 0 && done < n) {
            curl_multi_poll(m, NULL, 0, 1000, NULL);
        }
    }
    if (done < n) {
        /* The multi handle failed: abandon what is in flight. */
        for (i = 0; i < n; i++) {
            if (flying[i]) {
                curl_multi_remove_handle(m, flying[i]->h);
                easy_put(flying[i]->h, 0);
                curl_slist_free_all(flying[i]->hdrs);
            }
        }
        curl_multi_cleanup(m);
        m = NULL;
        for (i = 0; i < n; i++) {
            if (ranges[i].status == APR_EINIT) {
                ranges[i].status = H5S3_E_UPSTREAM;
            }
        }
    }
    multi_put(m);
    for (i = 0; i < n; i++) {
        if (ranges[i].status != APR_SUCCESS) {
            first = ranges[i].status;
            break;
        }
    }
    return first;
}
