/*
 * Route answers in the shared cache: one way to key them (scoped by the
 * vhost's credentials, so a vhost S3 would refuse never reads another's
 * answers), to find them, to keep them and to give them their HTTP
 * validators.
 *
 * A record is "h5s3a1 TRUSTED MTIME\nVALIDATOR\nBODY": until when (in
 * microseconds) the object's ETag VALIDATOR may be believed without
 * asking S3 or the ETag entry again, the object's Last-Modified (0:
 * unknown), and the body as made (with "cached":false).  A warm request
 * is then one lookup: the record says both that the answer is current
 * and what its ETag is (docs/viewer-api.md, "HTTP caching").
 */
#include <string.h>
#include <apr_sha1.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

#define MAGIC "h5s3a1 "

typedef struct record {
    apr_time_t trusted_until;
    apr_time_t mtime;
    const char *validator;
    char *body;
    apr_size_t len;
} record;

const char *h5s3_answer_key(h5s3_req *q, const char *bucket, const char *key,
                            const char *etag, const char *shape)
{
    return apr_pstrcat(q->r->pool, q->sc->cache_scope, "\n", bucket, "\n",
                       key, "\n", etag, "\n", shape, NULL);
}

/* Where the record of a lives: the fixed validator, if any, in the key. */
static const char *record_key(h5s3_req *q, const h5s3_answer *a,
                              const char *ns_shape)
{
    return h5s3_answer_key(q, a->bucket, a->key, a->fixed ? a->fixed : "",
                           ns_shape);
}

/* Parses text (NUL-terminated, len bytes) in place; 0 when not a record. */
static int parse(record *rec, char *text, apr_size_t len)
{
    char *end, *nl;
    apr_int64_t v[2];
    const char *at = text + sizeof(MAGIC) - 1;
    int i;

    if (len < sizeof(MAGIC) - 1 || memcmp(text, MAGIC, sizeof(MAGIC) - 1)) {
        return 0;
    }
    for (i = 0; i < 2; i++) {
        v[i] = apr_strtoi64(at, &end, 10);
        if (end == at || *end != (i == 0 ? ' ' : '\n')) {
            return 0;
        }
        at = end + 1;
    }
    if ((nl = strchr(at, '\n')) == NULL) {
        return 0;
    }
    *nl = '\0';
    rec->trusted_until = (apr_time_t)v[0];
    rec->mtime = (apr_time_t)v[1];
    rec->validator = at;
    rec->body = nl + 1;
    rec->len = len - (apr_size_t)(rec->body - text);
    return 1;
}

static int lookup(record *rec, h5s3_req *q, const char *ns, const char *ckey,
                  long ttl)
{
    char *text;
    apr_size_t len;

    return ttl > 0 && h5s3_cache_get(&h5s3_module_state.cache, ns, ckey,
                                     &text, &len, q->r->pool) == APR_SUCCESS
           && parse(rec, text, len);
}

static void store(h5s3_req *q, const char *ns, const char *ckey, long ttl,
                  apr_time_t trusted_until, apr_time_t mtime,
                  const char *validator, const char *body, apr_size_t len)
{
    apr_pool_t *p = q->r->pool;
    const char *head;
    apr_size_t hlen;
    char *text;

    if (ttl <= 0) {
        return;
    }
    head = apr_psprintf(p, MAGIC "%" APR_TIME_T_FMT " %" APR_TIME_T_FMT
                        "\n%s\n", trusted_until, mtime, validator);
    hlen = strlen(head);
    text = apr_palloc(p, hlen + len);
    memcpy(text, head, hlen);
    memcpy(text + hlen, body, len);
    /* Too large for the cache is fine: the next request computes it. */
    h5s3_cache_set(&h5s3_module_state.cache, ns, ckey, text, hlen + len,
                   apr_time_from_sec(ttl), p);
}

/* A fixed answer's validator: the body's digest (see h5s3_answer). */
static const char *body_digest(apr_pool_t *p, const char *body,
                               apr_size_t len)
{
    apr_sha1_ctx_t ctx;
    unsigned char md[APR_SHA1_DIGESTSIZE];
    char *hex = apr_palloc(p, 2 * sizeof(md) + 1);
    static const char digits[] = "0123456789abcdef";
    apr_size_t i;

    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)body,
                           (unsigned int)len);
    apr_sha1_final(md, &ctx);
    for (i = 0; i < sizeof(md); i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * sizeof(md)] = '\0';
    return hex;
}

/* The ETag header, Last-Modified and Cache-Control; 1 when a 304 went. */
static int validate(h5s3_req *q, const h5s3_answer *a, const char *ckey,
                    const char *validator, apr_time_t mtime)
{
    return h5s3_http_validate(q, h5s3_http_etag(q, a->ns, ckey, validator),
                              mtime);
}

/* "cached":false becomes true, in place (the body is our own copy). */
static void flip(record *rec)
{
    static const char flag[] = "\"cached\":false";
    char *at;

    /* A quote inside a JSON string is escaped, so the first match of
     * "cached":false is the top-level key (sorted first, in practice). */
    if ((at = strstr(rec->body, flag)) == NULL) {
        return;
    }
    memcpy(at, "\"cached\":true", sizeof("\"cached\":true") - 1);
    at += sizeof("\"cached\":true") - 1;
    memmove(at, at + 1, (apr_size_t)(rec->body + rec->len - at - 1));
    rec->len--;
}

static int send_hit(h5s3_req *q, const h5s3_answer *a, record *rec)
{
    if (a->flip_cached) {
        flip(rec);
    }
    q->cache_state = "hit";
    h5s3_send_body(q, HTTP_OK, "application/json", rec->body, rec->len);
    return 1;
}

int h5s3_answer_begin(h5s3_req *q, h5s3_answer *a, apr_status_t *rv)
{
    const char *ckey = record_key(q, a, a->shape);
    apr_time_t now = apr_time_now();
    record rec;
    int found = lookup(&rec, q, a->ns, ckey, a->ttl);

    *rv = APR_SUCCESS;
    if (a->fixed) {
        /* The caller validated: the record is current while it lives. */
        if (!found) {
            return 0;
        }
        if (validate(q, a, ckey, rec.validator, rec.mtime)) {
            return 1;
        }
        return send_hit(q, a, &rec);
    }
    if (found && now < rec.trusted_until) {
        /* The warm path: one lookup, no S3, no second entry. */
        if (validate(q, a, ckey, rec.validator, rec.mtime)) {
            return 1;
        }
        return send_hit(q, a, &rec);
    }
    *rv = h5s3_object_etag(&a->etag, q, a->bucket, a->key);
    if (*rv != APR_SUCCESS) {
        return 0;
    }
    a->mtime = q->object->mtime;
    a->trusted_until = q->object_checked
                       + apr_time_from_sec(h5s3_conf_validate_ttl(q->sc));
    found = found && !strcmp(rec.validator, a->etag);
    if (found) {
        /* Made from the same object: trusted again, from now on, so the
         * next request is back on the one-lookup path. */
        store(q, a->ns, ckey, a->ttl, a->trusted_until, a->mtime, a->etag,
              rec.body, rec.len);
    }
    /* The client's copy, if current, needs neither the body nor work. */
    if (validate(q, a, ckey, a->etag, a->mtime)) {
        return 1;
    }
    return found ? send_hit(q, a, &rec) : 0;
}

void h5s3_answer_keep(h5s3_req *q, const h5s3_answer *a, const char *ns,
                      const char *shape, const char *etag, const char *text,
                      apr_size_t len)
{
    /* Trusted only if the file read is the one validated. */
    int same = a->etag && etag && !strcmp(a->etag, etag);

    store(q, ns, record_key(q, a, shape), a->ttl,
          same ? a->trusted_until : 0, same ? a->mtime : 0, etag, text, len);
}

int h5s3_answer_send(h5s3_req *q, h5s3_answer *a, const char *etag,
                     const char *text, apr_size_t len)
{
    const char *ckey = record_key(q, a, a->shape);
    const char *validator;
    apr_time_t mtime = 0;

    if (a->fixed) {
        validator = body_digest(q->r->pool, text, len);
        store(q, a->ns, ckey, a->ttl, 0, 0, validator, text, len);
    }
    else {
        validator = etag ? etag : "";
        h5s3_answer_keep(q, a, a->ns, a->shape, validator, text, len);
        if (a->etag && !strcmp(a->etag, validator)) {
            mtime = a->mtime;
        }
    }
    if (validate(q, a, ckey, validator, mtime)) {
        return OK;
    }
    return h5s3_send_body(q, HTTP_OK, "application/json", text, len);
}
