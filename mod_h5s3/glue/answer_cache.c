/*
 * Route answers in the shared cache: one way to key them (scoped by the
 * vhost's credentials, so a vhost S3 would refuse never reads another's
 * answers), to find them and to keep them.
 */
#include <apr_strings.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

const char *h5s3_answer_key(h5s3_req *q, const char *bucket, const char *key,
                            const char *etag, const char *shape)
{
    return apr_pstrcat(q->r->pool, q->sc->cache_scope, "\n", bucket, "\n",
                       key, "\n", etag, "\n", shape, NULL);
}

int h5s3_answer_lookup(h5s3_req *q, const char *ns, const char *ckey,
                       long ttl, int flip_cached)
{
    static const char flag[] = "\"cached\":false";
    apr_pool_t *p = q->r->pool;
    char *text, *at;
    apr_size_t len;

    if (ttl <= 0 || h5s3_cache_get(&h5s3_module_state.cache, ns, ckey,
                                   &text, &len, p) != APR_SUCCESS) {
        return 0;
    }
    if (flip_cached) {
        /* A quote inside a JSON string is escaped, so the first match of
         * "cached":false is the top-level key (sorted first, in practice). */
        if ((at = strstr(text, flag)) == NULL) {
            return 0;
        }
        text = apr_pstrcat(p, apr_pstrmemdup(p, text, (apr_size_t)(at - text)),
                           "\"cached\":true", at + sizeof(flag) - 1, NULL);
        len--;
    }
    q->cache_state = "hit";
    h5s3_send_body(q, HTTP_OK, "application/json", text, len);
    return 1;
}

void h5s3_answer_store(h5s3_req *q, const char *ns, const char *ckey,
                       const char *text, apr_size_t len, long ttl)
{
    if (ttl > 0) {
        /* Too large for the cache is fine: the next request computes it. */
        h5s3_cache_set(&h5s3_module_state.cache, ns, ckey, text, len,
                       apr_time_from_sec(ttl), q->r->pool);
    }
}
