/*
 * Logical listing, pure: S3 entries in, a filtered, sorted, signed-cursor
 * page of logical objects out.  No I/O, so unit tests cover all of it.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "dg/h5s3_dg_catalog.h"
#include "dg/h5s3_dg_keys.h"

double h5s3_dg_savings_pct(apr_off_t original, apr_off_t stored)
{
    double pct;

    if (original <= 0)
        return 0.0;
    pct = (1.0 - (double)stored / (double)original) * 100.0;
    return pct < 0.0 ? 0.0 : pct;
}

apr_status_t h5s3_dg_query_parse(h5s3_dg_query *q, const char **bad,
                                 const char *sort, const char *order,
                                 const char *compressed, const char *limit)
{
    static const struct { const char *name; h5s3_dg_sort sort; } sorts[] = {
        {"name", H5S3_DG_SORT_NAME}, {"size", H5S3_DG_SORT_SIZE},
        {"modified", H5S3_DG_SORT_MODIFIED},
        {"savings_pct", H5S3_DG_SORT_SAVINGS}, {"savings", H5S3_DG_SORT_SAVINGS},
        {NULL, 0}
    };
    int i;

    *bad = NULL;
    q->sort = H5S3_DG_SORT_NAME;
    q->descending = 0;
    q->compressed = H5S3_DG_COMPRESSED_ANY;
    q->limit = H5S3_DG_LIMIT_DEFAULT;
    if (sort && *sort) {
        apr_size_t n = strlen(sort);
        /* The seed writes sort=modified_desc: accept a direction suffix. */
        if (n > 5 && strcmp(sort + n - 5, "_desc") == 0) {
            q->descending = 1;
            n -= 5;
        }
        else if (n > 4 && strcmp(sort + n - 4, "_asc") == 0) {
            n -= 4;
        }
        for (i = 0; sorts[i].name; i++)
            if (strlen(sorts[i].name) == n
                && strncmp(sorts[i].name, sort, n) == 0)
                break;
        if (!sorts[i].name) {
            *bad = "sort";
            return H5S3_E_INVALID;
        }
        q->sort = sorts[i].sort;
    }
    if (order && *order) {
        if (strcmp(order, "asc") == 0)
            q->descending = 0;
        else if (strcmp(order, "desc") == 0)
            q->descending = 1;
        else {
            *bad = "order";
            return H5S3_E_INVALID;
        }
    }
    if (compressed && *compressed) {
        if (strcmp(compressed, "any") == 0)
            q->compressed = H5S3_DG_COMPRESSED_ANY;
        else if (strcmp(compressed, "true") == 0)
            q->compressed = H5S3_DG_COMPRESSED_TRUE;
        else if (strcmp(compressed, "false") == 0)
            q->compressed = H5S3_DG_COMPRESSED_FALSE;
        else {
            *bad = "compressed";
            return H5S3_E_INVALID;
        }
    }
    if (limit && *limit) {
        char *end;
        apr_int64_t n;

        n = apr_strtoi64(limit, &end, 10);
        if (*end || !apr_isdigit(*limit) || n < 1
            || n > H5S3_DG_LIMIT_MAX) {
            *bad = "limit";
            return H5S3_E_INVALID;
        }
        q->limit = (int)n;
    }
    return APR_SUCCESS;
}

static int prefix_internal(const char *pfx)
{
    apr_size_t n = strlen(pfx), m = sizeof(H5S3_DG_INTERNAL_DIR) - 1;
    return n >= m && strcmp(pfx + n - m, H5S3_DG_INTERNAL_DIR) == 0
        && (n == m || pfx[n - m - 1] == '/');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t h5s3_dg_catalog_build(apr_array_header_t **objects,
                                   apr_array_header_t **prefixes,
                                   const apr_array_header_t *entries,
                                   const apr_array_header_t *s3_prefixes,
                                   const char *prefix, const char *delimiter,
                                   apr_pool_t *p)
{
    apr_hash_t *byname = apr_hash_make(p), *pfxset = apr_hash_make(p);
    apr_array_header_t *objs, *pfxs;
    apr_hash_index_t *hi;
    apr_size_t plen;
    int i;

    if (!prefix)
        prefix = "";
    if (delimiter && *delimiter && strcmp(delimiter, "/") != 0)
        return H5S3_E_INVALID;
    if (delimiter && !*delimiter)
        delimiter = NULL;
    plen = strlen(prefix);

    for (i = 0; entries && i < entries->nelts; i++) {
        const h5s3_s3_entry *e = &APR_ARRAY_IDX(entries, i, h5s3_s3_entry);
        const char *rest, *slash;
        h5s3_dg_object *o, *old;

        if (strncmp(e->key, prefix, plen) != 0 || h5s3_dg_key_internal(e->key))
            continue;
        rest = e->key + plen;
        if (delimiter && (slash = strchr(rest, '/'))) {
            const char *cp = apr_pstrmemdup(p, e->key,
                                            (apr_size_t)(slash - e->key + 1));
            apr_hash_set(pfxset, cp, APR_HASH_KEY_STRING, cp);
            continue;
        }
        o = apr_pcalloc(p, sizeof(*o));
        o->s3_key = e->key;
        o->key = h5s3_dg_logical_key(e->key, p);
        o->stored_bytes = e->size;
        o->modified = e->mtime;
        o->etag = e->etag;
        o->compressed = h5s3_dg_key_is_delta(e->key);
        o->original_bytes = o->compressed ? -1 : e->size;
        /* A delta wins over a plain object with the same logical key. */
        old = apr_hash_get(byname, o->key, APR_HASH_KEY_STRING);
        if (old && old->compressed && !o->compressed)
            continue;
        apr_hash_set(byname, o->key, APR_HASH_KEY_STRING, o);
    }
    for (i = 0; s3_prefixes && i < s3_prefixes->nelts; i++) {
        const char *cp = APR_ARRAY_IDX(s3_prefixes, i, const char *);
        if (strncmp(cp, prefix, plen) == 0 && !prefix_internal(cp))
            apr_hash_set(pfxset, cp, APR_HASH_KEY_STRING, cp);
    }

    objs = apr_array_make(p, (int)apr_hash_count(byname) + 1,
                          sizeof(h5s3_dg_object *));
    for (hi = apr_hash_first(p, byname); hi; hi = apr_hash_next(hi))
        APR_ARRAY_PUSH(objs, h5s3_dg_object *) = apr_hash_this_val(hi);
    pfxs = apr_array_make(p, (int)apr_hash_count(pfxset) + 1,
                          sizeof(const char *));
    for (hi = apr_hash_first(p, pfxset); hi; hi = apr_hash_next(hi))
        APR_ARRAY_PUSH(pfxs, const char *) = apr_hash_this_val(hi);
    qsort(pfxs->elts, (size_t)pfxs->nelts, sizeof(const char *), cmp_str);
    *objects = objs;
    *prefixes = pfxs;
    return APR_SUCCESS;
}

int h5s3_dg_catalog_needs_sizes(const h5s3_dg_query *q)
{
    return q->sort == H5S3_DG_SORT_SIZE || q->sort == H5S3_DG_SORT_SAVINGS;
}

/* Where an object sits in the order: the sort value, then the key. */
typedef struct sortpos {
    const char *key;
    apr_int64_t ival;
    double dval;
    h5s3_dg_sort sort;
    int desc;
    h5s3_dg_object *obj;
} sortpos;

static apr_off_t original_of(const h5s3_dg_object *o)
{
    return o->original_bytes >= 0 ? o->original_bytes : o->stored_bytes;
}

static void pos_of(sortpos *sp, h5s3_dg_object *o, const h5s3_dg_query *q)
{
    sp->obj = o;
    sp->key = o->key;
    sp->sort = q->sort;
    sp->desc = q->descending;
    sp->ival = 0;
    sp->dval = 0;
    if (q->sort == H5S3_DG_SORT_SIZE)
        sp->ival = original_of(o);
    else if (q->sort == H5S3_DG_SORT_MODIFIED)
        sp->ival = o->modified;
    else if (q->sort == H5S3_DG_SORT_SAVINGS)
        sp->dval = h5s3_dg_savings_pct(original_of(o), o->stored_bytes);
}

static int cmp_pos(const void *va, const void *vb)
{
    const sortpos *a = va, *b = vb;
    int c = 0;

    if (a->sort == H5S3_DG_SORT_SIZE || a->sort == H5S3_DG_SORT_MODIFIED)
        c = a->ival < b->ival ? -1 : a->ival > b->ival;
    else if (a->sort == H5S3_DG_SORT_SAVINGS)
        c = a->dval < b->dval ? -1 : a->dval > b->dval;
    if (c == 0)
        c = strcmp(a->key, b->key);
    return a->desc ? -c : c;
}

/* Binds a cursor to its query, so it cannot be replayed on another. */
static const char *query_fingerprint(const h5s3_dg_query *q, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *parts[] = {
        q->bucket ? q->bucket : "", q->prefix ? q->prefix : "",
        q->delimiter ? q->delimiter : "",
        apr_psprintf(p, "%d.%d.%d", (int)q->sort, q->descending,
                     (int)q->compressed),
        q->search ? q->search : ""
    };
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    apr_size_t i;

    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    return h5s3_token_b64url_encode(md, 12, p);
}

static apr_status_t cursor_make(const char **out, const sortpos *last,
                                const h5s3_dg_query *q,
                                const h5s3_token_key *key, apr_pool_t *p)
{
    return h5s3_token_sign_json(out, key, json_pack(
        "{s:s, s:s, s:s, s:I, s:f}", "t", "cur", "q", query_fingerprint(q, p),
        "k", last->key, "i", (json_int_t)last->ival, "d", last->dval), p);
}

static apr_status_t cursor_open(sortpos *pos, const h5s3_dg_query *q,
                                const h5s3_token_key *key, apr_pool_t *p)
{
    const char *payload, *t = NULL, *fp = NULL, *k = NULL;
    apr_size_t len;
    json_int_t iv = 0;
    double dv = 0;
    json_t *o;
    apr_status_t rv;

    if ((rv = h5s3_token_open(&payload, &len, key, q->cursor, p))
        != APR_SUCCESS)
        return H5S3_E_INVALID;
    o = json_loadb(payload, len, 0, NULL);
    if (!o || json_unpack(o, "{s:s, s:s, s:s, s:I, s:F}", "t", &t, "q", &fp,
                          "k", &k, "i", &iv, "d", &dv) != 0
        || strcmp(t, "cur") != 0
        || strcmp(fp, query_fingerprint(q, p)) != 0) {
        json_decref(o);
        return H5S3_E_INVALID;
    }
    pos->key = apr_pstrdup(p, k);
    pos->ival = iv;
    pos->dval = dv;
    pos->sort = q->sort;
    pos->desc = q->descending;
    pos->obj = NULL;
    json_decref(o);
    return APR_SUCCESS;
}

static char *lower(const char *s, apr_pool_t *p)
{
    char *d = apr_pstrdup(p, s), *c;
    for (c = d; *c; c++)
        *c = (char)apr_tolower(*c);
    return d;
}

apr_status_t h5s3_dg_catalog_page(h5s3_dg_page **page,
                                  const apr_array_header_t *objects,
                                  const apr_array_header_t *prefixes,
                                  const h5s3_dg_query *q,
                                  const h5s3_token_key *key, apr_pool_t *p)
{
    h5s3_dg_page *pg = apr_pcalloc(p, sizeof(*pg));
    const char *needle = (q->search && *q->search) ? lower(q->search, p)
                                                   : NULL;
    sortpos *all, after;
    int i, n = 0, start = 0, limit = q->limit, end;
    apr_status_t rv;

    if (limit < 1 || limit > H5S3_DG_LIMIT_MAX)
        return H5S3_E_INVALID;
    if (q->cursor && *q->cursor
        && (rv = cursor_open(&after, q, key, p)) != APR_SUCCESS)
        return rv;

    all = apr_pcalloc(p, sizeof(*all) * (size_t)(objects->nelts + 1));
    for (i = 0; i < objects->nelts; i++) {
        h5s3_dg_object *o = APR_ARRAY_IDX(objects, i, h5s3_dg_object *);
        if ((q->compressed == H5S3_DG_COMPRESSED_TRUE && !o->compressed)
            || (q->compressed == H5S3_DG_COMPRESSED_FALSE && o->compressed))
            continue;
        if (needle && !strstr(lower(o->key, p), needle))
            continue;
        pos_of(&all[n++], o, q);
    }
    qsort(all, (size_t)n, sizeof(*all), cmp_pos);
    pg->total = (apr_size_t)n;

    if (q->cursor && *q->cursor) {
        /* Keyset resume: the first object strictly after the cursor. */
        while (start < n && cmp_pos(&all[start], &after) <= 0)
            start++;
    }
    end = start + limit < n ? start + limit : n;
    pg->objects = apr_array_make(p, end - start + 1,
                                 sizeof(h5s3_dg_object *));
    for (i = start; i < end; i++)
        APR_ARRAY_PUSH(pg->objects, h5s3_dg_object *) = all[i].obj;
    if (end < n && (rv = cursor_make(&pg->cursor, &all[end - 1], q, key, p))
        != APR_SUCCESS)
        return rv;

    /* Folders come with the first page only; later pages are objects. */
    pg->prefixes = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; !(q->cursor && *q->cursor) && prefixes
         && i < prefixes->nelts; i++) {
        const char *cp = APR_ARRAY_IDX(prefixes, i, const char *);
        if (needle && !strstr(lower(cp, p), needle))
            continue;
        APR_ARRAY_PUSH(pg->prefixes, const char *) = cp;
    }
    *page = pg;
    return APR_SUCCESS;
}
