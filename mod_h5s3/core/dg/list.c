/*
 * Logical objects from a store: listing pages, resolving one logical key,
 * probing deltas for their original size, and the JSON the API returns.
 */
#include <string.h>
#include <apr_strings.h>

#include "dg/h5s3_dg_catalog.h"
#include "dg/h5s3_dg_keys.h"
#include "base/h5s3_log.h"

/* Set a delta's meta and original size from its x-amz-meta table. */
static apr_status_t probed(h5s3_dg_object *obj, apr_table_t *meta,
                           apr_pool_t *p)
{
    h5s3_dg_meta *m;
    apr_status_t rv = h5s3_dg_meta_parse(&m, NULL, obj->s3_key, meta, p);

    if (rv != APR_SUCCESS)
        return rv;
    obj->meta = m;
    if (obj->compressed)
        obj->original_bytes = m->file_size >= 0 ? m->file_size
                                                : obj->stored_bytes;
    return APR_SUCCESS;
}

static int recalled(h5s3_dg_object *obj, const h5s3_dg_prober *pr,
                    apr_status_t *rv, apr_pool_t *p)
{
    apr_table_t *meta;

    if (!pr || !pr->recall
        || pr->recall(pr->baton, &meta, obj->s3_key, p) != APR_SUCCESS
        || !meta)
        return 0;
    *rv = probed(obj, meta, p);
    return 1;
}

static apr_status_t head_said(h5s3_dg_object *obj, const h5s3_dg_prober *pr,
                              h5s3_s3_object_info *info, apr_pool_t *p)
{
    apr_table_t *meta = info->meta ? info->meta : apr_table_make(p, 1);

    if (pr && pr->remember)
        pr->remember(pr->baton, obj->s3_key, meta, p);
    return probed(obj, meta, p);
}

apr_status_t h5s3_dg_object_probe(h5s3_dg_object *obj, h5s3_dg_store *st,
                                  const h5s3_dg_prober *pr, apr_pool_t *p)
{
    h5s3_s3_object_info *info;
    apr_status_t rv;

    if (recalled(obj, pr, &rv, p))
        return rv;
    if ((rv = st->head(st, &info, obj->s3_key, p)) != APR_SUCCESS)
        return rv;
    return head_said(obj, pr, info, p);
}

/*
 * A delta that vanished or carries unreadable metadata must not break a
 * whole listing: it keeps its stored size as its original.
 */
static apr_status_t tolerate(h5s3_dg_object *o, apr_status_t rv)
{
    if (rv == H5S3_E_NOTFOUND || rv == H5S3_E_INVALID) {
        h5s3_log(H5S3_LOG_INFO, rv, "deltaglider: cannot probe %s",
                 o->s3_key);
        o->original_bytes = o->stored_bytes;
        return APR_SUCCESS;
    }
    return rv;
}

apr_status_t h5s3_dg_probe_many(h5s3_dg_object **objs, int n,
                                h5s3_dg_store *st, const h5s3_dg_prober *pr,
                                int *heads, apr_pool_t *p)
{
    h5s3_s3_head_item *items;
    h5s3_dg_object **whose;
    apr_status_t rv, first = APR_SUCCESS;
    int i, k = 0;

    if (heads)
        *heads = 0;
    if (n <= 0)
        return APR_SUCCESS;
    items = apr_pcalloc(p, sizeof(*items) * (apr_size_t)n);
    whose = apr_palloc(p, sizeof(*whose) * (apr_size_t)n);
    for (i = 0; i < n; i++) {
        if (recalled(objs[i], pr, &rv, p)) {
            if ((rv = tolerate(objs[i], rv)) != APR_SUCCESS
                && first == APR_SUCCESS)
                first = rv;
            continue;
        }
        items[k].key = objs[i]->s3_key;
        whose[k++] = objs[i];
    }
    if (k == 0 || first != APR_SUCCESS)
        return first;
    if (heads)
        *heads = k;
    if (st->head_many) {
        if ((rv = st->head_many(st, items, k, p)) != APR_SUCCESS)
            return rv;
    }
    else {
        for (i = 0; i < k; i++)
            items[i].status = st->head(st, &items[i].info, items[i].key, p);
    }
    for (i = 0; i < k; i++) {
        rv = items[i].status;
        if (rv == APR_SUCCESS)
            rv = head_said(whose[i], pr, items[i].info, p);
        if ((rv = tolerate(whose[i], rv)) != APR_SUCCESS
            && first == APR_SUCCESS)
            first = rv;
    }
    return first;
}

/*
 * S3 groups folders by raw keys, so a folder holding only internals (an
 * orphaned reference.bin) would show up empty.  One small LIST per folder
 * on the first page tells; beyond DG_PREFIX_CHECKS they are shown as-is.
 */
#define DG_PREFIX_CHECKS 100
#define DG_PREFIX_PEEK   8

static apr_status_t drop_internal_prefixes(apr_array_header_t *pfxs,
                                           h5s3_dg_store *st, apr_pool_t *p)
{
    int i, out = 0;

    for (i = 0; i < pfxs->nelts; i++) {
        const char *cp = APR_ARRAY_IDX(pfxs, i, const char *);
        h5s3_s3_list_page *lp;
        int j, visible = 1;
        apr_status_t rv;

        if (i < DG_PREFIX_CHECKS) {
            rv = st->list(st, &lp, cp, NULL, NULL, DG_PREFIX_PEEK, p);
            if (rv != APR_SUCCESS)
                return rv;
            visible = lp->truncated;
            for (j = 0; !visible && j < lp->entries->nelts; j++)
                visible = !h5s3_dg_key_internal(
                    APR_ARRAY_IDX(lp->entries, j, h5s3_s3_entry).key);
        }
        if (visible)
            APR_ARRAY_IDX(pfxs, out++, const char *) = cp;
    }
    pfxs->nelts = out;
    return APR_SUCCESS;
}

/* The deltas of objs whose original size is not known yet, at once. */
static apr_status_t probe_deltas(const apr_array_header_t *objs,
                                 h5s3_dg_store *st, const h5s3_dg_prober *pr,
                                 apr_pool_t *p)
{
    h5s3_dg_object **want = apr_palloc(p, sizeof(*want)
                                       * (apr_size_t)(objs->nelts + 1));
    int i, n = 0;

    for (i = 0; i < objs->nelts; i++) {
        h5s3_dg_object *o = APR_ARRAY_IDX(objs, i, h5s3_dg_object *);
        if (o->compressed && o->original_bytes < 0)
            want[n++] = o;
    }
    return h5s3_dg_probe_many(want, n, st, pr, NULL, p);
}

apr_status_t h5s3_dg_list(h5s3_dg_page **page, h5s3_dg_store *st,
                          const h5s3_dg_query *q, const h5s3_token_key *key,
                          const h5s3_dg_prober *pr, apr_pool_t *p)
{
    apr_array_header_t *entries, *s3pfx, *objs, *pfxs;
    const char *token = NULL;
    int limited = 0;
    apr_status_t rv;

    if (q->delimiter && *q->delimiter && strcmp(q->delimiter, "/") != 0)
        return H5S3_E_INVALID;
    entries = apr_array_make(p, 256, sizeof(h5s3_s3_entry));
    s3pfx = apr_array_make(p, 16, sizeof(const char *));
    do {
        h5s3_s3_list_page *lp;

        rv = st->list(st, &lp, q->prefix, q->delimiter && *q->delimiter
                      ? q->delimiter : NULL, token, 1000, p);
        if (rv != APR_SUCCESS)
            return rv;
        apr_array_cat(entries, lp->entries);
        if (lp->prefixes)
            apr_array_cat(s3pfx, lp->prefixes);
        token = lp->truncated ? lp->next_token : NULL;
        if (token && entries->nelts + s3pfx->nelts >= H5S3_DG_SCAN_MAX) {
            limited = 1;
            break;
        }
    } while (token);

    if ((rv = h5s3_dg_catalog_build(&objs, &pfxs, entries, s3pfx,
                                    q->prefix, q->delimiter, p))
        != APR_SUCCESS)
        return rv;
    /* Folders are only returned with the first page. */
    if (!(q->cursor && *q->cursor)
        && (rv = drop_internal_prefixes(pfxs, st, p)) != APR_SUCCESS)
        return rv;
    if (h5s3_dg_catalog_needs_sizes(q)
        && (rv = probe_deltas(objs, st, pr, p)) != APR_SUCCESS)
        return rv;
    if ((rv = h5s3_dg_catalog_page(page, objs, pfxs, q, key, p))
        != APR_SUCCESS)
        return rv;
    if ((rv = probe_deltas((*page)->objects, st, pr, p)) != APR_SUCCESS)
        return rv;
    (*page)->limited = limited;
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_stat(h5s3_dg_object **out, h5s3_result *res,
                          h5s3_dg_store *st, const char *key,
                          apr_pool_t *p)
{
    h5s3_s3_object_info *info;
    h5s3_dg_object *o;
    const char *dkey;
    apr_status_t rv;

    /* Nothing wrong yet: an earlier refusal's reason does not linger. */
    h5s3_result_set(res, APR_SUCCESS, NULL);
    if (!key || !*key || h5s3_dg_key_internal(key)
        || h5s3_dg_key_is_delta(key) || key[strlen(key) - 1] == '/')
        return h5s3_result_status(res, H5S3_E_NOTFOUND);
    o = apr_pcalloc(p, sizeof(*o));
    o->key = apr_pstrdup(p, key);
    dkey = apr_pstrcat(p, key, H5S3_DG_DELTA_SUFFIX, NULL);
    rv = st->head(st, &info, dkey, p);
    if (rv == APR_SUCCESS) {
        o->s3_key = dkey;
        o->compressed = 1;
    }
    else if (rv == H5S3_E_NOTFOUND) {
        if ((rv = st->head(st, &info, key, p)) != APR_SUCCESS)
            return h5s3_result_status(res, rv);
        o->s3_key = o->key;
    }
    else {
        return h5s3_result_status(res, rv);
    }
    o->stored_bytes = info->size;
    o->modified = info->mtime;
    o->etag = info->etag;
    if ((rv = h5s3_dg_meta_parse(&o->meta, res, o->s3_key, info->meta, p))
        != APR_SUCCESS)
        return rv;
    o->original_bytes = o->compressed && o->meta->file_size >= 0
                        ? o->meta->file_size : o->stored_bytes;
    *out = o;
    return APR_SUCCESS;
}

const char *h5s3_dg_time_iso(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t tm;
    char buf[32];
    apr_size_t len = 0;

    apr_time_exp_gmt(&tm, t);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return apr_pstrmemdup(p, buf, len);
}

/* ISO 8601 without a pool: JSON views own their strings. */
static json_t *time_json(apr_time_t t)
{
    apr_time_exp_t tm;
    char buf[32];
    apr_size_t len = 0;

    apr_time_exp_gmt(&tm, t);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_stringn(buf, len);
}

static void set_str(json_t *j, const char *name, const char *v)
{
    if (v)
        json_object_set_new(j, name, json_string(v));
}

/* Only when the metadata was read: listings probe deltas, not all. */
static void set_encryption(json_t *j, const h5s3_dg_meta *m)
{
    if (!j || !m || !m->encrypted)
        return;
    json_object_set_new(j, "encrypted", json_true());
    set_str(j, "encryption_key_id", m->encryption_key_id);
}

json_t *h5s3_dg_object_json(const h5s3_dg_object *o)
{
    apr_off_t orig = o->original_bytes >= 0 ? o->original_bytes
                                            : o->stored_bytes;
    json_t *j = json_pack("{s:s, s:I, s:I, s:b, s:o}", "key", o->key,
                          "original_bytes", (json_int_t)orig,
                          "stored_bytes", (json_int_t)o->stored_bytes,
                          "compressed", o->compressed,
                          "modified", time_json(o->modified));

    set_encryption(j, o->meta);
    return j;
}

static json_t *user_json(const h5s3_dg_meta *m)
{
    json_t *u = json_object();
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    if (!m->user)
        return u;
    arr = apr_table_elts(m->user);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++)
        json_object_set_new(u, e[i].key, json_string(e[i].val));
    return u;
}

json_t *h5s3_dg_metadata_json(const h5s3_dg_object *o)
{
    json_t *j = h5s3_dg_object_json(o);
    const h5s3_dg_meta *m = o->meta;

    if (!j)
        return NULL;
    json_object_set_new(j, "accept_ranges", json_false());
    json_object_set_new(j, "savings_pct", json_real(h5s3_dg_savings_pct(
        o->original_bytes >= 0 ? o->original_bytes : o->stored_bytes,
        o->stored_bytes)));
    set_str(j, "etag", o->etag);
    if (m) {
        static const char *const kinds[] = {"plain", "direct", "delta",
                                            "reference"};
        json_object_set_new(j, "storage", json_string(kinds[m->kind]));
        set_str(j, "sha256", m->file_sha256);
        set_str(j, "reference_key", m->ref_key);
        set_str(j, "reference_sha256", m->ref_sha256);
        set_str(j, "original_name", m->original_name);
        set_str(j, "created_at", m->created_at);
        set_str(j, "tool", m->tool);
        set_str(j, "compression", m->compression);
        set_str(j, "note", m->note);
        set_str(j, "md5", m->md5);
        set_str(j, "multipart_etag", m->multipart_etag);
        json_object_set_new(j, "encrypted", json_boolean(m->encrypted));
        set_str(j, "encryption", m->encryption);
        set_str(j, "native_encryption", m->native_encryption);
        json_object_set_new(j, "user_metadata", user_json(m));
    }
    return j;
}

json_t *h5s3_dg_page_json(const h5s3_dg_page *pg)
{
    json_t *objs = json_array(), *pfx = json_array();
    int i;

    for (i = 0; i < pg->objects->nelts; i++)
        json_array_append_new(objs, h5s3_dg_object_json(
            APR_ARRAY_IDX(pg->objects, i, h5s3_dg_object *)));
    for (i = 0; i < pg->prefixes->nelts; i++)
        json_array_append_new(pfx, json_string(
            APR_ARRAY_IDX(pg->prefixes, i, const char *)));
    return json_pack("{s:o, s:o, s:o, s:b, s:I}", "objects", objs,
                     "common_prefixes", pfx,
                     "cursor", pg->cursor ? json_string(pg->cursor)
                                          : json_null(),
                     "limited", pg->limited,
                     "total", (json_int_t)pg->total);
}
