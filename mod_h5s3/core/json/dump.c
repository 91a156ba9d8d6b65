/*
 * Serialising JSON (see include/json/h5s3_json.h): the dump the viewer
 * API answers with, the raw texts spliced into it, and references owned
 * by a pool.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_escape.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "json/h5s3_json.h"
#include "base/h5s3_errors.h"

/*
 * Raw texts live in a registry kept as userdata of the pool they were
 * made in.  A placeholder names its text by index, after a random nonce
 * of the registry, so a string coming from a file cannot pose as one:
 * in the dump it reads "\u0001h5s3raw:<nonce>:<index>" in quotes.
 */
#define RAW_KEY "h5s3_json_raw"
#define RAW_TAG "\001h5s3raw:"
#define RAW_TAG_DUMPED "\"\\u0001h5s3raw:"

typedef struct raw_frag {
    char *text;
    apr_size_t len;
} raw_frag;

typedef struct raw_reg {
    char nonce[17];
    apr_array_header_t *frags;  /* raw_frag */
} raw_reg;

static apr_status_t raw_cleanup(void *data)
{
    raw_reg *r = data;
    int i;

    for (i = 0; i < r->frags->nelts; i++) {
        free(APR_ARRAY_IDX(r->frags, i, raw_frag).text);
    }
    r->frags->nelts = 0;
    return APR_SUCCESS;
}

static raw_reg *raw_reg_make(apr_pool_t *p)
{
    void *v = NULL;
    raw_reg *r;
    unsigned char rnd[8];

    apr_pool_userdata_get(&v, RAW_KEY, p);
    if (v != NULL) {
        return v;
    }
    r = apr_pcalloc(p, sizeof(*r));
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        apr_uint64_t x = (apr_uint64_t)apr_time_now()
                         ^ (apr_uint64_t)(apr_uintptr_t)r;

        memcpy(rnd, &x, sizeof(rnd));
    }
    apr_escape_hex(r->nonce, rnd, sizeof(rnd), 0, NULL);
    r->frags = apr_array_make(p, 4, sizeof(raw_frag));
    apr_pool_userdata_setn(r, RAW_KEY, raw_cleanup, p);
    return r;
}

json_t *h5s3_json_raw(char *text, apr_size_t len, apr_pool_t *p)
{
    raw_reg *r = raw_reg_make(p);
    raw_frag *f = apr_array_push(r->frags);

    f->text = text;
    f->len = len;
    return json_string(apr_psprintf(p, RAW_TAG "%s:%d", r->nonce,
                                    r->frags->nelts - 1));
}

/* The placeholder of R at S (LEN bytes left): its text, and in *SKIP
 * the placeholder's length; NULL when S holds none. */
static const raw_frag *raw_at(const raw_reg *r, const char *s,
                              apr_size_t len, apr_size_t *skip)
{
    apr_size_t tag = sizeof(RAW_TAG_DUMPED) - 1, i;
    apr_uint64_t idx = 0;

    if (len < tag + 18 || memcmp(s, RAW_TAG_DUMPED, tag) != 0
        || memcmp(s + tag, r->nonce, 16) != 0 || s[tag + 16] != ':') {
        return NULL;
    }
    for (i = tag + 17; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        idx = idx * 10 + (apr_uint64_t)(s[i] - '0');
        if (idx >= (apr_uint64_t)r->frags->nelts) {
            return NULL;
        }
    }
    if (i == tag + 17 || i >= len || s[i] != '"') {
        return NULL;
    }
    *skip = i + 1;
    return &APR_ARRAY_IDX(r->frags, idx, raw_frag);
}

/* BUF (*LEN bytes) with the placeholders of R replaced, in P. */
static char *raw_splice(char *buf, apr_size_t *len, const raw_reg *r,
                        apr_pool_t *p)
{
    apr_size_t n = *len, total = 0, skip, k;
    const char *at, *from;
    const raw_frag *f;
    char *out = NULL, *o;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        from = buf;
        o = out;
        total = 0;
        for (at = buf; (at = memchr(at, '"', n - (apr_size_t)(at - buf)));
             ) {
            f = raw_at(r, at, n - (apr_size_t)(at - buf), &skip);
            if (f == NULL) {
                at++;
                continue;
            }
            k = (apr_size_t)(at - from);
            if (pass) {
                memcpy(o, from, k);
                memcpy(o + k, f->text, f->len);
                o += k + f->len;
            }
            total += k + f->len;
            at += skip;
            from = at;
        }
        k = n - (apr_size_t)(from - buf);
        if (pass) {
            memcpy(o, from, k);
            o[k] = '\0';
        }
        else if (from == buf) {
            return buf;         /* no placeholder */
        }
        else {
            out = apr_palloc(p, total + k + 1);
        }
        total += k;
    }
    *len = total;
    return out;
}

apr_status_t h5s3_json_dump(char **out, apr_size_t *len, const json_t *j,
                            apr_pool_t *p)
{
    size_t n;
    char *buf;
    void *r = NULL;

    n = json_dumpb(j, NULL, 0, JSON_SORT_KEYS | JSON_COMPACT
                   | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    if (n == 0) {
        return H5S3_E_INVALID;
    }
    buf = apr_palloc(p, n + 2);
    if (json_dumpb(j, buf, n, JSON_SORT_KEYS | JSON_COMPACT
                   | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) != n) {
        return H5S3_E_INVALID;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    *len = n + 1;
    /* Only P's own userdata: parents (connection, process) are shared
     * with other threads. */
    apr_pool_userdata_get(&r, RAW_KEY, p);
    if (r != NULL) {
        buf = raw_splice(buf, len, r, p);
    }
    *out = buf;
    return APR_SUCCESS;
}

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *h5s3_json_pool_own(apr_pool_t *p, json_t *j)
{
    if (j != NULL) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}
