/*
 * The Zarr v2 store view of an HDF5 file: GET/HEAD {Location}/zarr/{key}/
 * and {Location}/zarr/@{alias}/{key}/ followed by a store key
 * (docs/zarr.md).  The consolidated metadata is built once per object
 * ETag and kept in the shared cache; chunks are a ranged GET of their
 * stored bytes, or decoded by the core.
 */
#include <string.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "json/h5s3_json.h"
#include "zarr/h5s3_zarr.h"

APLOG_USE_MODULE(h5s3);

/* What one store request names, once the path is taken apart. */
typedef struct zarr_req {
    const h5s3_bucket_map *m;
    const char *key;            /* object key */
    const char *store;          /* store key, decoded: "a/b/.zarray" */
    const char *etag;
    json_t *meta;               /* the consolidated metadata */
    const char *meta_text;      /* its dump, when read from the cache */
    apr_size_t meta_len;
    const char *array;          /* HDF5 path of the chunk's array */
    const char *chunk;          /* chunk key */
    h5s3_zarr_chunk c;
} zarr_req;

static int escaped_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}

/* Decode %XX of s[0, n); NULL on a bad escape, a NUL, or (no_slash) %2F. */
static char *decode(apr_pool_t *p, const char *s, size_t n, int no_slash)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= n + 0 || !escaped_hex(s[i + 1]) || !escaped_hex(s[i + 2])) {
            return NULL;
        }
        {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            char c = (char)strtol(hex, NULL, 16);
            if (c == '\0' || (no_slash && c == '/')) {
                return NULL;
            }
            *o++ = c;
        }
        i += 2;
    }
    *o = '\0';
    return out;
}

/* A store error in the viewer's envelope, never cached by anyone. */
static int zarr_error(h5s3_req *q, int status, const char *msg)
{
    return h5s3_viewer_error(q, status, msg);
}

static int core_error(h5s3_req *q, zarr_req *z, apr_status_t rv)
{
    apr_pool_t *p = q->r->pool;
    const char *detail = h5s3_result_detail(&q->result, NULL);

    switch (rv) {
    case H5S3_E_INVALID:
        return zarr_error(q, HTTP_BAD_REQUEST, detail ? detail
                          : "Invalid store key");
    case H5S3_E_NOPATH:
        return zarr_error(q, HTTP_NOT_FOUND, detail ? detail : apr_psprintf(
            p, "Key '%s' not found in the store of '%s'", z->store, z->key));
    case H5S3_E_NOTFOUND:
        return zarr_error(q, HTTP_NOT_FOUND, detail ? detail : apr_psprintf(
            p, "File '%s' not found", z->key));
    case H5S3_E_NOTHDF5:
        return zarr_error(q, HTTP_UNPROCESSABLE_ENTITY, apr_psprintf(
            p, "'%s' is not a valid HDF5 file", z->key));
    case H5S3_E_UNSUPPORTED:
        return zarr_error(q, HTTP_UNPROCESSABLE_ENTITY, detail ? detail
                          : apr_psprintf(p, "'%s' uses an HDF5 feature this "
                                         "server cannot read", z->key));
    case H5S3_E_LIMIT:
    case H5S3_E_BUSY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, "H5S3-0160: zarr %s "
                      "of %s in bucket %s refused: %s", z->store, z->key,
                      q->bucket, h5s3_message_for(q, rv));
        return zarr_error(q, h5s3_http_status_for(rv),
                          h5s3_message_for(q, rv));
    default:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, "H5S3-0161: zarr "
                      "%s of %s in bucket %s failed: %s (S3 HTTP %d %s)",
                      z->store, z->key, q->bucket, h5s3_error_name(rv),
                      q->result.s3_status,
                      q->result.s3_code ? q->result.s3_code : "");
        return zarr_error(q, h5s3_http_status_for(rv),
                          h5s3_message_for(q, rv));
    }
}

/*
 * Split the raw path below /zarr/ into bucket, object key and store key.
 * 0 when good; else the error was sent and *rc is the handler's result.
 */
static int parse_path(int *rc, h5s3_req *q, zarr_req *z, const char *raw)
{
    apr_pool_t *p = q->r->pool;
    const char *alias = NULL, *slash;

    if (*raw == '@') {
        slash = strchr(raw, '/');
        alias = slash ? decode(p, raw + 1, (size_t)(slash - raw - 1), 1)
                      : NULL;
        if (alias == NULL || *alias == '\0') {
            *rc = zarr_error(q, HTTP_BAD_REQUEST, "Invalid store path: "
                             "expected /zarr/@{alias}/{key}/...");
            return 1;
        }
        raw = slash + 1;
    }
    slash = strchr(raw, '/');
    z->key = decode(p, raw, slash ? (size_t)(slash - raw) : strlen(raw), 0);
    if (z->key == NULL || *z->key == '\0') {
        *rc = zarr_error(q, HTTP_BAD_REQUEST, "Invalid store path: the "
                         "object key is missing or badly escaped");
        return 1;
    }
    q->key = z->key;
    if (slash == NULL || slash[1] == '\0') {
        *rc = zarr_error(q, HTTP_NOT_FOUND, apr_psprintf(
            p, "The store root of '%s' has no document of its own: ask for "
            ".zmetadata below it", z->key));
        return 1;
    }
    z->store = decode(p, slash + 1, strlen(slash + 1), 1);
    if (z->store == NULL) {
        *rc = zarr_error(q, HTTP_BAD_REQUEST, "Invalid store key: bad "
                         "percent-encoding, or %2F after the object key "
                         "(only {key} may hold %2F)");
        return 1;
    }
    if (q->sc->buckets->nelts == 0) {
        *rc = zarr_error(q, HTTP_BAD_REQUEST, "Missing required S3 "
                         "configuration: no H5S3Bucket for this server");
        return 1;
    }
    if ((z->m = h5s3_bucket_lookup(q->sc, alias)) == NULL) {
        *rc = zarr_error(q, HTTP_NOT_FOUND, apr_psprintf(
            p, "Bucket '%s' is not available on this server", alias));
        return 1;
    }
    q->bucket = z->m->bucket;
    return 0;
}

/* As /children does: the root group's children's headers fetched in a few
 * concurrent batches before HDF5 walks them one by one. */
static apr_status_t prefetch_root(json_t **unused, h5s3_h5_file *f,
                                  void *baton, apr_pool_t *p)
{
    return h5s3_h5_prefetch_group(f, "/");
}

static apr_status_t build_meta(json_t **out, h5s3_h5_file *f, void *baton,
                               apr_pool_t *p)
{
    h5s3_req *q = baton;

    return h5s3_zarr_metadata(out, &q->result, h5s3_h5_file_id(f), p);
}

/*
 * The consolidated metadata, from the shared cache or built.  For
 * .zmetadata itself (only_text) the cached dump is the answer as it is:
 * no parse, and a u8 fill value above 2^63, which jansson cannot parse,
 * still comes from the cache (docs/zarr.md).
 */
static apr_status_t metadata(h5s3_req *q, zarr_req *z, int only_text)
{
    apr_pool_t *p = q->r->pool;
    const char *ckey;
    char *text;
    apr_size_t len;
    json_t *built = NULL;
    apr_status_t rv;

    rv = h5s3_object_etag(&z->etag, q, z->m->bucket, z->key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ckey = h5s3_answer_key(q, z->m->bucket, z->key, z->etag, "zmetadata");
    if (h5s3_conf_meta_ttl(q->sc) > 0
        && h5s3_cache_get(&h5s3_module_state.cache, "zarr", ckey, &text,
                          &len, p) == APR_SUCCESS
        && (only_text
            || (z->meta = json_loadb(text, len, 0, NULL)) != NULL)) {
        h5s3_json_pool_own(p, z->meta);
        z->meta_text = text;
        z->meta_len = len;
        q->cache_state = "hit";
        return APR_SUCCESS;
    }
    q->cache_state = "miss";
    rv = h5s3_hdf5_run(&built, &z->etag, q, z->m->bucket, z->key,
                       prefetch_root, build_meta, q);
    if (rv != APR_SUCCESS) {
        json_decref(built);
        return rv;
    }
    z->meta = h5s3_json_pool_own(p, built);
    if (h5s3_json_dump(&text, &len, z->meta, p) == APR_SUCCESS) {
        /*
         * Keyed by the ETag of the file actually read.  Too large for the
         * cache is fine: the next request builds it.
         */
        ckey = h5s3_answer_key(q, z->m->bucket, z->key, z->etag, "zmetadata");
        if (h5s3_conf_meta_ttl(q->sc) > 0) {
            h5s3_cache_set(&h5s3_module_state.cache, "zarr", ckey, text, len,
                           apr_time_from_sec(h5s3_conf_meta_ttl(q->sc)), p);
        }
    }
    return APR_SUCCESS;
}

/*
 * One byte range "bytes=A-B", "bytes=A-" or "bytes=-N" of a body of len
 * bytes: 1 and [*from, *to] when it applies, 0 when the whole body goes
 * (no Range, several ranges, a Range we do not parse: RFC 9110 lets a
 * server ignore it), -1 when it is unsatisfiable.
 */
static int one_range(apr_off_t *from, apr_off_t *to, const char *range,
                     apr_off_t len)
{
    apr_off_t a, b;
    char *end;

    if (range == NULL || strncmp(range, "bytes=", 6) != 0
        || strchr(range, ',') != NULL) {
        return 0;
    }
    range += 6;
    if (*range == '-') {
        if (apr_strtoff(&b, range + 1, &end, 10) != APR_SUCCESS || *end
            || end == range + 1 || b < 0) {
            return 0;
        }
        if (b == 0 || len == 0) {
            return -1;
        }
        *from = b < len ? len - b : 0;
        *to = len - 1;
        return 1;
    }
    if (apr_strtoff(&a, range, &end, 10) != APR_SUCCESS || end == range
        || *end != '-' || a < 0) {
        return 0;
    }
    range = end + 1;
    b = len - 1;
    if (*range && (apr_strtoff(&b, range, &end, 10) != APR_SUCCESS || *end
                   || b < a)) {
        return 0;
    }
    if (a >= len) {
        return -1;
    }
    *from = a;
    *to = b < len ? b : len - 1;
    return 1;
}

/*
 * The answer of a store key: ETag (a digest of the object's ETag and the
 * store key), Cache-Control, one byte range, and 304 for a matching
 * If-None-Match.
 */
/*
 * The bytes [from, from + n) of a chunk whose body was not read yet, into
 * *body; an error status when they cannot be had.
 */
typedef apr_status_t zarr_fetch_fn(const char **body, h5s3_req *q,
                                   zarr_req *z, apr_off_t from, apr_size_t n);

static int send_answer(h5s3_req *q, zarr_req *z, const char *ctype,
                       const char *body, apr_size_t len, zarr_fetch_fn *fetch)
{
    /* Ranges of chunks only: a piece of a JSON document is no document. */
    int is_chunk = !strcmp(ctype, "application/octet-stream");
    request_rec *r = q->r;
    /* The same recipe as every other answer's (glue/respond.c). */
    const char *etag = h5s3_http_etag(q, "zarr", apr_pstrcat(
        r->pool, q->sc->cache_scope, "\n", z->m->bucket, "\n", z->key, "\n",
        z->store, NULL), z->etag);
    const char *if_range;
    apr_off_t from = 0, to = 0;
    int cond, ranged, sliced = 0;

    apr_table_setn(r->headers_out, "ETag", etag);
    cond = ap_meets_conditions(r);
    if (cond == HTTP_NOT_MODIFIED) {
        r->status = cond;
        h5s3_finish_request(q);
        apr_table_setn(r->headers_out, "Cache-Control",
                       h5s3_conf_cache_control(q->dc));
        return OK;
    }
    if (cond != OK) {
        apr_table_unset(r->headers_out, "ETag");
        return zarr_error(q, cond, "Precondition failed");
    }
    /* If-Range naming another version: the whole body. */
    if_range = apr_table_get(r->headers_in, "If-Range");
    ranged = !is_chunk || (if_range && strcmp(if_range, etag)) ? 0
             : one_range(&from, &to, q->range, (apr_off_t)len);
    if (ranged < 0) {
        apr_table_unset(r->headers_out, "ETag");
        apr_table_setn(r->err_headers_out, "Content-Range", apr_psprintf(
            r->pool, "bytes */%" APR_SIZE_T_FMT, len));
        return zarr_error(q, HTTP_RANGE_NOT_SATISFIABLE, apr_psprintf(
            r->pool, "Range not satisfiable: the body has %" APR_SIZE_T_FMT
            " bytes", len));
    }
    if (!ranged) {
        from = 0;
        to = (apr_off_t)len - 1;
    }
    if (fetch && !r->header_only && len > 0) {
        /* Only the bytes sent are read, after a 304 or 416 none. */
        apr_status_t rv = fetch(&body, q, z, from,
                                (apr_size_t)(to - from + 1));

        if (rv != APR_SUCCESS) {
            apr_table_unset(r->headers_out, "ETag");
            return core_error(q, z, rv);
        }
        sliced = 1;
    }
    r->status = HTTP_OK;
    if (ranged) {
        r->status = HTTP_PARTIAL_CONTENT;
        apr_table_setn(r->headers_out, "Content-Range", apr_psprintf(
            r->pool, "bytes %" APR_OFF_T_FMT "-%" APR_OFF_T_FMT "/%"
            APR_SIZE_T_FMT, from, to, len));
        /* NULL: HEAD; sliced: the fetch read only the range. */
        body = body && !sliced ? body + from : body;
        len = (apr_size_t)(to - from + 1);
    }
    apr_table_setn(r->headers_out, "Accept-Ranges",
                   is_chunk ? "bytes" : "none");
    ap_set_content_type(r, ctype);
    ap_set_content_length(r, (apr_off_t)len);
    h5s3_finish_request(q);
    /* After the common notes: H5S3CacheControl, as on every answer. */
    apr_table_setn(r->headers_out, "Cache-Control",
                   h5s3_conf_cache_control(q->dc));
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

static int send_json(h5s3_req *q, zarr_req *z, const json_t *doc)
{
    char *text;
    apr_size_t len;

    if (h5s3_json_dump(&text, &len, doc, q->r->pool) != APR_SUCCESS) {
        return zarr_error(q, HTTP_INTERNAL_SERVER_ERROR,
                          "Internal server error");
    }
    return send_answer(q, z, "application/json", text, len, NULL);
}

static apr_status_t read_chunk(json_t **out, h5s3_h5_file *f, void *baton,
                               apr_pool_t *p)
{
    void **args = baton;
    h5s3_req *q = args[0];
    zarr_req *z = args[1];

    return h5s3_zarr_chunk_get(&z->c, &q->result, h5s3_h5_file_id(f),
                               z->array, z->chunk, h5s3_h5_file_size(f), p);
}

/*
 * The bytes [from, from + n) of a passthrough chunk: one ranged GET of
 * exactly those bytes of the object, pinned to the ETag read, into a
 * buffer charged to the memory budget (docs/zarr.md).
 */
static apr_status_t fetch_stored(const char **body, h5s3_req *q,
                                 zarr_req *z, apr_off_t from, apr_size_t n)
{
    apr_off_t at;
    apr_size_t got = 0;
    char *buf;
    apr_status_t rv;

    /* from + n <= the chunk's size, which ends inside the file. */
    if (!H5S3_ADD(&at, z->c.offset, from)) {
        return H5S3_E_UNSUPPORTED;
    }
    rv = h5s3_zarr_charged_alloc(&buf, n, q->r->pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = h5s3_s3_get_range(&got, q->sc->client, z->m->bucket, z->key,
                           z->etag, at, n, buf, &q->call, q->r->pool);
    if (rv == APR_SUCCESS && got != n) {
        rv = H5S3_E_UPSTREAM;
    }
    *body = buf;
    return rv;
}

static int serve_chunk(h5s3_req *q, zarr_req *z, const char *leaf)
{
    apr_pool_t *p = q->r->pool;
    const char *arr = apr_pstrmemdup(p, z->store,
                                     (apr_size_t)(leaf - z->store));
    void *args[2] = {q, z};
    apr_status_t rv;

    if (*arr) {
        arr = apr_pstrmemdup(p, arr, strlen(arr) - 1);   /* the '/' */
    }
    /*
     * No look at the metadata: it may be too large for the shared cache,
     * and rebuilding it per chunk would cost a walk of the whole file.  The
     * core serves chunks of datasets it can serve, whatever the path.
     */
    z->array = apr_pstrcat(p, "/", arr, NULL);
    z->chunk = leaf;
    rv = h5s3_hdf5_run(NULL, &z->etag, q, z->m->bucket, z->key, NULL,
                       read_chunk, args);
    if (rv != APR_SUCCESS) {
        return core_error(q, z, rv);
    }
    if (!z->c.passthrough) {
        return send_answer(q, z, "application/octet-stream", z->c.buf,
                           z->c.len, NULL);
    }
    /* HEAD needs only the size; a GET reads the bytes it sends. */
    return send_answer(q, z, "application/octet-stream", NULL, z->c.size,
                       fetch_stored);
}

int h5s3_route_zarr(h5s3_req *q, const char *raw)
{
    zarr_req z;
    const char *leaf;
    json_t *doc;
    apr_status_t rv;
    int rc;

    memset(&z, 0, sizeof(z));
    if (parse_path(&rc, q, &z, raw)) {
        return rc;
    }
    leaf = strrchr(z.store, '/');
    leaf = leaf ? leaf + 1 : z.store;
    if (*leaf != '.') {
        rv = h5s3_object_etag(&z.etag, q, z.m->bucket, z.key);
        return rv != APR_SUCCESS ? core_error(q, &z, rv)
                                 : serve_chunk(q, &z, leaf);
    }
    rv = metadata(q, &z, !strcmp(z.store, ".zmetadata"));
    if (rv != APR_SUCCESS) {
        return core_error(q, &z, rv);
    }
    if (!strcmp(z.store, ".zmetadata")) {
        /* The cached text is the dump send_json would make. */
        return z.meta_text ? send_answer(q, &z, "application/json",
                                         z.meta_text, z.meta_len, NULL)
                           : send_json(q, &z, z.meta);
    }
    doc = json_object_get(json_object_get(z.meta, "metadata"), z.store);
    if (doc == NULL) {
        return zarr_error(q, HTTP_NOT_FOUND, apr_psprintf(
            q->r->pool, "Key '%s' not found in the store of '%s'", z.store,
            z.key));
    }
    return send_json(q, &z, doc);
}
