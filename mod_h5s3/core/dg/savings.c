/*
 * Bucket savings the way docs/deltaglider-format.md §7 counts
 * them: references count only where their deltaspace has a delta.
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "dg/h5s3_dg_savings.h"
#include "dg/h5s3_dg_keys.h"
#include "base/h5s3_log.h"

struct h5s3_dg_savings_acc {
    apr_pool_t *pool;
    apr_int64_t count, original, stored;
    apr_hash_t *ref_size;       /* deltaspace -> apr_off_t * */
    apr_hash_t *has_delta;      /* deltaspace -> "" */
};

h5s3_dg_savings_acc *h5s3_dg_savings_acc_create(apr_pool_t *p)
{
    h5s3_dg_savings_acc *a = apr_pcalloc(p, sizeof(*a));
    a->pool = p;
    a->ref_size = apr_hash_make(p);
    a->has_delta = apr_hash_make(p);
    return a;
}

void h5s3_dg_savings_acc_add(h5s3_dg_savings_acc *a, const char *s3key,
                             apr_off_t size, apr_off_t original)
{
    const char *ds;
    const char *base = strrchr(s3key, '/');

    base = base ? base + 1 : s3key;
    if (strcmp(base, H5S3_DG_REFERENCE_NAME) == 0) {
        apr_off_t *sz = apr_palloc(a->pool, sizeof(*sz));
        *sz = size;
        ds = h5s3_dg_deltaspace(s3key, a->pool);
        apr_hash_set(a->ref_size, ds, APR_HASH_KEY_STRING, sz);
        return;
    }
    if (h5s3_dg_key_internal(s3key))
        return;
    a->count++;
    a->stored += size;
    if (h5s3_dg_key_is_delta(s3key)) {
        a->original += original >= 0 ? original : size;
        ds = h5s3_dg_deltaspace(s3key, a->pool);
        apr_hash_set(a->has_delta, ds, APR_HASH_KEY_STRING, "");
    }
    else {
        a->original += size;
    }
}

void h5s3_dg_savings_acc_finish(h5s3_dg_savings *out,
                                const h5s3_dg_savings_acc *a)
{
    apr_hash_index_t *hi;
    apr_int64_t stored = a->stored;

    for (hi = apr_hash_first(NULL, a->ref_size); hi; hi = apr_hash_next(hi)) {
        const char *ds = apr_hash_this_key(hi);
        if (apr_hash_get(a->has_delta, ds, APR_HASH_KEY_STRING))
            stored += *(apr_off_t *)apr_hash_this_val(hi);
    }
    out->object_count = a->count;
    out->original_bytes = a->original;
    out->stored_bytes = stored;
    out->savings_pct = h5s3_dg_savings_pct(a->original, stored);
}

static int cancelled(volatile apr_uint32_t *cancel)
{
    return cancel && *cancel;
}

/*
 * The deltas of one page of the listing, probed together: their
 * original sizes (-1: unknown, counted as stored) into orig, by entry.
 */
static apr_status_t probe_page(apr_off_t *orig, const h5s3_s3_list_page *lp,
                               h5s3_dg_store *st, const h5s3_dg_prober *pr,
                               apr_pool_t *p)
{
    int n = lp->entries->nelts, i, k = 0;
    h5s3_dg_object *objs = apr_pcalloc(p, sizeof(*objs) * (apr_size_t)n);
    h5s3_dg_object **ptrs = apr_palloc(p, sizeof(*ptrs) * (apr_size_t)n);
    int *entry = apr_palloc(p, sizeof(*entry) * (apr_size_t)n);
    apr_status_t rv;

    for (i = 0; i < n; i++) {
        const h5s3_s3_entry *e = &APR_ARRAY_IDX(lp->entries, i,
                                                h5s3_s3_entry);

        orig[i] = -1;
        if (!h5s3_dg_key_is_delta(e->key) || h5s3_dg_key_internal(e->key))
            continue;
        objs[k].s3_key = e->key;
        objs[k].compressed = 1;
        objs[k].stored_bytes = e->size;
        objs[k].original_bytes = -1;
        ptrs[k] = &objs[k];
        entry[k++] = i;
    }
    /* Gone or unreadable since the listing: counted as stored (tolerated
     * by h5s3_dg_probe_many). */
    if ((rv = h5s3_dg_probe_many(ptrs, k, st, pr, NULL, p)) != APR_SUCCESS)
        return rv;
    for (i = 0; i < k; i++)
        orig[entry[i]] = objs[i].original_bytes;
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_savings_compute(h5s3_dg_savings *out, h5s3_dg_store *st,
                                     volatile apr_uint32_t *cancel,
                                     const h5s3_dg_prober *pr,
                                     apr_pool_t *p)
{
    apr_pool_t *work, *page_pool = NULL;
    h5s3_dg_savings_acc *acc;
    const char *token = NULL;
    apr_status_t rv = APR_SUCCESS;

    /* Everything, partial sums included, dies with work: nothing leaks out. */
    if ((rv = apr_pool_create(&work, p)) != APR_SUCCESS)
        return rv;
    acc = h5s3_dg_savings_acc_create(work);
    do {
        h5s3_s3_list_page *lp;
        apr_pool_t *next;
        apr_off_t *orig;
        int i;

        if (cancelled(cancel)) {
            rv = H5S3_E_ABORTED;
            goto cleanup;
        }
        /* The token lives in the previous page's pool: copy, then drop it. */
        if ((rv = apr_pool_create(&next, work)) != APR_SUCCESS)
            goto cleanup;
        token = token ? apr_pstrdup(next, token) : NULL;
        if (page_pool)
            apr_pool_destroy(page_pool);
        page_pool = next;
        if ((rv = st->list(st, &lp, NULL, NULL, token, 1000, page_pool))
            != APR_SUCCESS)
            goto cleanup;
        if (cancelled(cancel)) {
            rv = H5S3_E_ABORTED;
            goto cleanup;
        }
        orig = apr_palloc(page_pool, sizeof(*orig)
                          * (apr_size_t)(lp->entries->nelts + 1));
        if ((rv = probe_page(orig, lp, st, pr, page_pool)) != APR_SUCCESS)
            goto cleanup;
        for (i = 0; i < lp->entries->nelts; i++) {
            const h5s3_s3_entry *e = &APR_ARRAY_IDX(lp->entries, i,
                                                    h5s3_s3_entry);
            h5s3_dg_savings_acc_add(acc, e->key, e->size, orig[i]);
        }
        token = lp->truncated ? lp->next_token : NULL;
        if (lp->truncated && !token) {
            rv = H5S3_E_UPSTREAM;       /* truncated without a way on */
            goto cleanup;
        }
    } while (token);

    if (cancelled(cancel)) {
        rv = H5S3_E_ABORTED;
        goto cleanup;
    }
    h5s3_dg_savings_acc_finish(out, acc);
cleanup:
    apr_pool_destroy(work);
    return rv;
}

json_t *h5s3_dg_savings_json(const h5s3_dg_savings *s)
{
    return json_pack("{s:I, s:I, s:I, s:f}",
                     "object_count", (json_int_t)s->object_count,
                     "original_bytes", (json_int_t)s->original_bytes,
                     "stored_bytes", (json_int_t)s->stored_bytes,
                     "savings_pct", s->savings_pct);
}
