/*
 * Logical listing (pure), cursor paging, savings: from S3 entries and
 * metadata held in memory, no S3.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include "dg/h5s3_dg.h"
#include "unit_common.h"

static const h5s3_token_key key = {(const unsigned char *)"k3y", 3};

typedef struct fixture_entry {
    const char *key;
    apr_off_t size;
    int mtime;                  /* seconds */
    const char *file_size;      /* dg-file-size of deltas, NULL: none */
} fixture_entry;

/* The fixture of docs/deltaglider-format.md §9 plus the variants it lists. */
static const fixture_entry bucket[] = {
    {".deltaglider/stats_quick.json", 50, 1, NULL},
    {"P/notes.txt", 100, 5, NULL},
    {"P/reference.bin", 10000, 2, NULL},
    {"P/sub/deep.zip.delta", 30, 9, "9000"},
    {"P/v1.zip.delta", 40, 3, "10000"},
    {"P/v2.zip.delta", 2000, 4, "11000"},
    {"Q/reference.bin", 700, 6, NULL},
    {"README", 10, 7, NULL},
    {"dup.zip", 500, 8, NULL},
    {"dup.zip.delta", 20, 8, "500"},
    {"z.delta", 5, 10, NULL},
};
#define NB ((int)(sizeof(bucket) / sizeof(bucket[0])))

static apr_array_header_t *entries_of(const fixture_entry *f, int n,
                                      const char *prefix)
{
    apr_array_header_t *a = apr_array_make(pool, n, sizeof(h5s3_s3_entry));
    int i;

    for (i = 0; i < n; i++) {
        h5s3_s3_entry *e;
        if (strncmp(f[i].key, prefix, strlen(prefix)) != 0)
            continue;
        e = apr_array_push(a);
        memset(e, 0, sizeof(*e));
        e->key = f[i].key;
        e->size = f[i].size;
        e->etag = "e";
        e->mtime = apr_time_from_sec(1700000000 + f[i].mtime);
    }
    return a;
}

static const char *keys_of(const apr_array_header_t *objs)
{
    const char *s = "";
    int i;

    for (i = 0; i < objs->nelts; i++)
        s = apr_pstrcat(pool, s, i ? "," : "",
                        APR_ARRAY_IDX(objs, i, h5s3_dg_object *)->key, NULL);
    return s;
}

static const char *strs_of(const apr_array_header_t *a)
{
    const char *s = "";
    int i;

    for (i = 0; i < a->nelts; i++)
        s = apr_pstrcat(pool, s, i ? "," : "",
                        APR_ARRAY_IDX(a, i, const char *), NULL);
    return s;
}

/* Give every delta its fixture original size, as a probe would. */
static void resolve(apr_array_header_t *objs)
{
    int i, j;

    for (i = 0; i < objs->nelts; i++) {
        h5s3_dg_object *o = APR_ARRAY_IDX(objs, i, h5s3_dg_object *);
        for (j = 0; j < NB; j++)
            if (o->compressed && strcmp(bucket[j].key, o->s3_key) == 0)
                o->original_bytes = bucket[j].file_size
                                    ? apr_atoi64(bucket[j].file_size)
                                    : o->stored_bytes;
    }
}

static h5s3_dg_query query(const char *prefix, const char *delim)
{
    h5s3_dg_query q;
    const char *bad;

    memset(&q, 0, sizeof(q));
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, NULL, NULL, NULL),
                     APR_SUCCESS);
    q.bucket = "b";
    q.prefix = prefix;
    q.delimiter = delim;
    return q;
}

static h5s3_dg_page *page_of(const h5s3_dg_query *q)
{
    apr_array_header_t *objs, *pfx;
    h5s3_dg_page *pg;

    ck_assert_int_eq(h5s3_dg_catalog_build(&objs, &pfx,
                                           entries_of(bucket, NB, q->prefix),
                                           NULL, q->prefix, q->delimiter,
                                           pool), APR_SUCCESS);
    resolve(objs);
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, q, &key, pool),
                     APR_SUCCESS);
    return pg;
}

START_TEST(hides_internals_recursive)
{
    h5s3_dg_query q = query("", NULL);
    h5s3_dg_page *pg = page_of(&q);

    /* No reference.bin, no .deltaglider/, ".delta" stripped, delta wins. */
    ck_assert_str_eq(keys_of(pg->objects), "P/notes.txt,P/sub/deep.zip,"
                     "P/v1.zip,P/v2.zip,README,dup.zip,z");
    ck_assert_int_eq(pg->prefixes->nelts, 0);
    ck_assert_ptr_null(pg->cursor);
    ck_assert_uint_eq(pg->total, 7);
}
END_TEST

START_TEST(delimiter_on_logical_keys)
{
    h5s3_dg_query q = query("", "/");
    h5s3_dg_page *pg = page_of(&q);
    h5s3_dg_object *o;

    ck_assert_str_eq(keys_of(pg->objects), "README,dup.zip,z");
    /* Q/ holds only an orphaned reference: not a logical folder. */
    ck_assert_str_eq(strs_of(pg->prefixes), "P/");
    o = APR_ARRAY_IDX(pg->objects, 1, h5s3_dg_object *);
    ck_assert(o->compressed);
    ck_assert_int_eq(o->original_bytes, 500);
    ck_assert_int_eq(o->stored_bytes, 20);
    ck_assert_str_eq(o->s3_key, "dup.zip.delta");

    q = query("P/", "/");
    pg = page_of(&q);
    ck_assert_str_eq(keys_of(pg->objects), "P/notes.txt,P/v1.zip,P/v2.zip");
    ck_assert_str_eq(strs_of(pg->prefixes), "P/sub/");
}
END_TEST

START_TEST(s3_side_prefixes)
{
    apr_array_header_t *objs, *pfx, *s3p = apr_array_make(pool, 3,
                                                          sizeof(char *));

    APR_ARRAY_PUSH(s3p, const char *) = "P/";
    APR_ARRAY_PUSH(s3p, const char *) = ".deltaglider/";
    APR_ARRAY_PUSH(s3p, const char *) = "x/.deltaglider/";
    ck_assert_int_eq(h5s3_dg_catalog_build(&objs, &pfx,
                                           entries_of(bucket, 0, ""), s3p,
                                           "", "/", pool), APR_SUCCESS);
    ck_assert_str_eq(strs_of(pfx), "P/");
    ck_assert_int_eq(h5s3_dg_catalog_build(&objs, &pfx, NULL, NULL, "", "|",
                                           pool), H5S3_E_INVALID);
}
END_TEST

START_TEST(sort_orders)
{
    h5s3_dg_query q = query("P/", NULL);
    const char *bad;

    q.sort = H5S3_DG_SORT_SIZE;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/notes.txt,P/sub/deep.zip,P/v1.zip,P/v2.zip");
    q.descending = 1;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/v2.zip,P/v1.zip,P/sub/deep.zip,P/notes.txt");
    q.sort = H5S3_DG_SORT_MODIFIED;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/sub/deep.zip,P/notes.txt,P/v2.zip,P/v1.zip");
    /* savings: v1 99.6%, deep 99.67%, v2 81.8%, notes 0% */
    q.sort = H5S3_DG_SORT_SAVINGS;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/sub/deep.zip,P/v1.zip,P/v2.zip,P/notes.txt");
    q.sort = H5S3_DG_SORT_NAME;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/v2.zip,P/v1.zip,P/sub/deep.zip,P/notes.txt");

    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, "modified_desc", NULL,
                                         "true", "5"), APR_SUCCESS);
    ck_assert_int_eq(q.sort, H5S3_DG_SORT_MODIFIED);
    ck_assert(q.descending);
    ck_assert_int_eq(q.compressed, H5S3_DG_COMPRESSED_TRUE);
    ck_assert_int_eq(q.limit, 5);
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, "savings_pct", "asc",
                                         "false", NULL), APR_SUCCESS);
    ck_assert_int_eq(q.sort, H5S3_DG_SORT_SAVINGS);
    ck_assert(!q.descending);
    ck_assert_int_eq(q.limit, 200);
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, "colour", NULL, NULL,
                                         NULL), H5S3_E_INVALID);
    ck_assert_str_eq(bad, "sort");
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, "up", NULL, NULL),
                     H5S3_E_INVALID);
    ck_assert_str_eq(bad, "order");
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, NULL, "yes", NULL),
                     H5S3_E_INVALID);
    ck_assert_str_eq(bad, "compressed");
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, NULL, NULL, "0"),
                     H5S3_E_INVALID);
    ck_assert_str_eq(bad, "limit");
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, NULL, NULL, "1001"),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, NULL, NULL, "1000"),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_dg_query_parse(&q, &bad, NULL, NULL, NULL, "5x"),
                     H5S3_E_INVALID);
}
END_TEST

START_TEST(filter_and_search)
{
    h5s3_dg_query q = query("", NULL);

    q.compressed = H5S3_DG_COMPRESSED_TRUE;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/sub/deep.zip,P/v1.zip,P/v2.zip,dup.zip,z");
    q.compressed = H5S3_DG_COMPRESSED_FALSE;
    ck_assert_str_eq(keys_of(page_of(&q)->objects),
                     "P/notes.txt,README");
    q.compressed = H5S3_DG_COMPRESSED_ANY;
    q.search = "V2.Z";
    ck_assert_str_eq(keys_of(page_of(&q)->objects), "P/v2.zip");
    /* ".delta" is not part of a delta's logical key. */
    q.search = "zip.delta";
    ck_assert_str_eq(keys_of(page_of(&q)->objects), "");
    q.search = "delta";
    ck_assert_str_eq(keys_of(page_of(&q)->objects), "");
    q.search = "readme";
    ck_assert_str_eq(keys_of(page_of(&q)->objects), "README");
}
END_TEST

/* Page through with the cursor; the concatenation is the whole listing. */
static void pages_cover(h5s3_dg_sort sort, int desc, int limit)
{
    h5s3_dg_query q = query("", NULL), all;
    const char *joined = "";
    int pages = 0;

    q.sort = sort;
    q.descending = desc;
    all = q;
    all.limit = 1000;
    q.limit = limit;
    for (;;) {
        h5s3_dg_page *pg = page_of(&q);
        const char *k = keys_of(pg->objects);
        if (*k)
            joined = apr_pstrcat(pool, joined, *joined ? "," : "", k, NULL);
        pages++;
        ck_assert_int_le(pg->objects->nelts, limit);
        if (pages > 1)
            ck_assert_int_eq(pg->prefixes->nelts, 0);
        if (!pg->cursor)
            break;
        q.cursor = pg->cursor;
        ck_assert_int_lt(pages, 20);
    }
    ck_assert_str_eq(joined, keys_of(page_of(&all)->objects));
    ck_assert_int_eq(pages, (7 + limit - 1) / limit);
}

START_TEST(cursor_round_trip)
{
    int s, l;

    for (s = H5S3_DG_SORT_NAME; s <= H5S3_DG_SORT_SAVINGS; s++)
        for (l = 1; l <= 4; l++) {
            pages_cover((h5s3_dg_sort)s, 0, l);
            pages_cover((h5s3_dg_sort)s, 1, l);
        }
}
END_TEST

START_TEST(tampered_cursor)
{
    h5s3_dg_query q = query("", NULL);
    apr_array_header_t *objs, *pfx;
    h5s3_dg_page *pg;
    const h5s3_token_key other = {(const unsigned char *)"k3z", 3};
    char *bad;

    q.limit = 2;
    pg = page_of(&q);
    ck_assert_ptr_nonnull(pg->cursor);
    ck_assert_int_eq(h5s3_dg_catalog_build(&objs, &pfx,
                                           entries_of(bucket, NB, ""), NULL,
                                           "", NULL, pool), APR_SUCCESS);
    bad = apr_pstrdup(pool, pg->cursor);
    bad[3] = bad[3] == 'x' ? 'y' : 'x';
    q.cursor = bad;
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, &q, &key, pool),
                     H5S3_E_INVALID);
    q.cursor = "garbage";
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, &q, &key, pool),
                     H5S3_E_INVALID);
    /* Genuine cursor, wrong secret or another query: refused too. */
    q.cursor = NULL;
    pg = page_of(&q);
    q.cursor = pg->cursor;
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, &q, &other, pool),
                     H5S3_E_INVALID);
    q.sort = H5S3_DG_SORT_SIZE;
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, &q, &key, pool),
                     H5S3_E_INVALID);
    q.sort = H5S3_DG_SORT_NAME;
    q.bucket = "other";
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, &q, &key, pool),
                     H5S3_E_INVALID);
    q.bucket = "b";
    ck_assert_int_eq(h5s3_dg_catalog_page(&pg, objs, pfx, &q, &key, pool),
                     APR_SUCCESS);
}
END_TEST

START_TEST(json_views)
{
    h5s3_dg_query q = query("", "/");
    h5s3_dg_page *pg = page_of(&q);
    json_t *j = h5s3_dg_page_json(pg), *o;
    h5s3_dg_object *obj = APR_ARRAY_IDX(pg->objects, 1, h5s3_dg_object *);

    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_array_size(json_object_get(j, "objects")), 3);
    ck_assert_str_eq(json_string_value(json_array_get(
        json_object_get(j, "common_prefixes"), 0)), "P/");
    ck_assert(json_is_null(json_object_get(j, "cursor")));
    o = json_array_get(json_object_get(j, "objects"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(o, "key")), "dup.zip");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "original_bytes")),
                     500);
    ck_assert(json_is_true(json_object_get(o, "compressed")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "modified")),
                     "2023-11-14T22:13:28Z");
    json_decref(j);

    j = h5s3_dg_metadata_json(obj);
    ck_assert(json_is_false(json_object_get(j, "accept_ranges")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "stored_bytes")),
                     20);
    json_decref(j);
}
END_TEST

START_TEST(savings_accumulator)
{
    h5s3_dg_savings_acc *acc = h5s3_dg_savings_acc_create(pool);
    h5s3_dg_savings s;
    int i;

    for (i = 0; i < NB; i++)
        h5s3_dg_savings_acc_add(acc, bucket[i].key, bucket[i].size,
                                bucket[i].file_size
                                ? apr_atoi64(bucket[i].file_size) : -1);
    h5s3_dg_savings_acc_finish(&s, acc);
    /* deltas: deep, v1, v2, dup, z (no dg-file-size: its stored size);
     * directs: notes, README, dup.zip. */
    ck_assert_int_eq(s.object_count, 8);
    ck_assert_int_eq(s.original_bytes, 9000 + 10000 + 11000 + 500
                     + 100 + 10 + 500 + 5);
    /* P/reference.bin counts (P has deltas), Q's orphan does not; the
     * root has a delta (dup) but no reference. */
    ck_assert_int_eq(s.stored_bytes, 30 + 40 + 2000 + 20 + 100 + 10 + 500
                     + 5 + 10000);
    ck_assert(s.savings_pct > 59.0 && s.savings_pct < 60.0);
    ck_assert(h5s3_dg_savings_pct(100, 150) == 0.0);
    ck_assert(h5s3_dg_savings_pct(0, 0) == 0.0);
    ck_assert(h5s3_dg_savings_pct(200, 50) == 75.0);
}
END_TEST

/* ---- an in-memory store: list pages of 3, HEAD with metadata ---- */

typedef struct mem {
    int lists, heads;
    volatile apr_uint32_t *cancel;
    int cancel_after_lists;
} mem;

static apr_status_t mem_list(h5s3_dg_store *st, h5s3_s3_list_page **page,
                             const char *prefix, const char *delimiter,
                             const char *token, int max_keys, apr_pool_t *p)
{
    mem *m = st->baton;
    h5s3_s3_list_page *lp = apr_pcalloc(p, sizeof(*lp));
    int start = token ? atoi(token) : 0, i, n = 0;

    m->lists++;
    if (m->cancel && m->lists == m->cancel_after_lists)
        *m->cancel = 1;
    lp->entries = apr_array_make(p, 3, sizeof(h5s3_s3_entry));
    lp->prefixes = apr_array_make(p, 1, sizeof(const char *));
    if (max_keys > 3)
        max_keys = 3;
    prefix = prefix ? prefix : "";
    for (i = start; i < NB && n < max_keys; i++) {
        const char *k = bucket[i].key, *slash;
        h5s3_s3_entry *e;

        if (strncmp(k, prefix, strlen(prefix)) != 0)
            continue;
        slash = delimiter ? strchr(k + strlen(prefix), '/') : NULL;
        if (slash) {
            const char *cp = apr_pstrmemdup(p, k, slash - k + 1);
            if (lp->prefixes->nelts && !strcmp(cp, APR_ARRAY_IDX(
                    lp->prefixes, lp->prefixes->nelts - 1, const char *)))
                continue;
            APR_ARRAY_PUSH(lp->prefixes, const char *) = cp;
            n++;
            continue;
        }
        e = apr_array_push(lp->entries);
        memset(e, 0, sizeof(*e));
        e->key = apr_pstrdup(p, k);
        e->size = bucket[i].size;
        e->mtime = apr_time_from_sec(1700000000 + bucket[i].mtime);
        e->etag = "e";
        n++;
    }
    /* Skip what the last folder swallowed (S3 never repeats a prefix). */
    while (delimiter && i < NB && lp->prefixes->nelts
           && !strncmp(bucket[i].key, APR_ARRAY_IDX(lp->prefixes,
               lp->prefixes->nelts - 1, const char *),
               strlen(APR_ARRAY_IDX(lp->prefixes, lp->prefixes->nelts - 1,
                                    const char *))))
        i++;
    lp->truncated = i < NB;
    lp->next_token = lp->truncated ? apr_itoa(p, i) : NULL;
    *page = lp;
    return APR_SUCCESS;
}

static apr_status_t mem_head(h5s3_dg_store *st, h5s3_s3_object_info **info,
                             const char *k, apr_pool_t *p)
{
    mem *m = st->baton;
    int i;

    m->heads++;
    for (i = 0; i < NB; i++) {
        if (strcmp(bucket[i].key, k) == 0) {
            h5s3_s3_object_info *in = apr_pcalloc(p, sizeof(*in));
            in->size = bucket[i].size;
            in->etag = "e";
            in->meta = apr_table_make(p, 2);
            if (bucket[i].file_size)
                apr_table_set(in->meta, "dg-file-size", bucket[i].file_size);
            *info = in;
            return APR_SUCCESS;
        }
    }
    return H5S3_E_NOTFOUND;
}

static h5s3_dg_store *mem_store(mem *m)
{
    h5s3_dg_store *st = apr_pcalloc(pool, sizeof(*st));
    memset(m, 0, sizeof(*m));
    st->list = mem_list;
    st->head = mem_head;
    st->baton = m;
    return st;
}

START_TEST(savings_compute_pages_and_cancels)
{
    mem m;
    h5s3_dg_store *st = mem_store(&m);
    h5s3_dg_savings s, untouched;
    volatile apr_uint32_t cancel = 0;

    ck_assert_int_eq(h5s3_dg_savings_compute(&s, st, &cancel, NULL,
                                             pool), APR_SUCCESS);
    ck_assert_int_eq(m.lists, 4);       /* 11 entries, pages of 3 */
    ck_assert_int_eq(m.heads, 5);       /* one per .delta */
    ck_assert_int_eq(s.object_count, 8);
    ck_assert_int_eq(s.stored_bytes, 12705);
    ck_assert_int_eq(s.original_bytes, 31115);

    memset(&untouched, 0x5a, sizeof(untouched));
    s = untouched;
    st = mem_store(&m);
    m.cancel = &cancel;
    m.cancel_after_lists = 2;
    ck_assert_int_eq(h5s3_dg_savings_compute(&s, st, &cancel, NULL,
                                             pool), H5S3_E_ABORTED);
    ck_assert(memcmp(&s, &untouched, sizeof(s)) == 0);
    ck_assert_int_le(m.lists, 2);
}
END_TEST

START_TEST(list_probes_only_what_it_must)
{
    mem m;
    h5s3_dg_store *st = mem_store(&m);
    h5s3_dg_query q = query("", NULL);
    h5s3_dg_page *pg;
    h5s3_dg_object *o;
    const char *cursor;

    q.limit = 2;
    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, NULL, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(keys_of(pg->objects), "P/notes.txt,P/sub/deep.zip");
    ck_assert_int_eq(m.heads, 1);
    o = APR_ARRAY_IDX(pg->objects, 1, h5s3_dg_object *);
    ck_assert_int_eq(o->original_bytes, 9000);
    cursor = pg->cursor;
    q.cursor = cursor;
    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, NULL, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(keys_of(pg->objects), "P/v1.zip,P/v2.zip");

    st = mem_store(&m);
    q = query("", NULL);
    q.sort = H5S3_DG_SORT_SIZE;
    q.descending = 1;
    q.limit = 1;
    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, NULL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m.heads, 5);
    ck_assert_str_eq(keys_of(pg->objects), "P/v2.zip");
}
END_TEST

/* head_many over mem_head, counting calls and the largest batch. */
static int many_calls, many_largest;

static apr_status_t mem_head_many(h5s3_dg_store *st, h5s3_s3_head_item *it,
                                  int n, apr_pool_t *p)
{
    int i;

    many_calls++;
    if (n > many_largest)
        many_largest = n;
    for (i = 0; i < n; i++)
        it[i].status = mem_head(st, &it[i].info, it[i].key, p);
    return APR_SUCCESS;
}

/* A prober over an apr_hash: what the shared cache does in the glue. */
static apr_status_t hash_recall(void *baton, apr_table_t **meta,
                                const char *s3key, apr_pool_t *p)
{
    apr_table_t *t = apr_hash_get(baton, s3key, APR_HASH_KEY_STRING);

    if (!t)
        return APR_NOTFOUND;
    *meta = apr_table_copy(p, t);
    return APR_SUCCESS;
}

static void hash_remember(void *baton, const char *s3key, apr_table_t *meta,
                          apr_pool_t *p)
{
    apr_hash_set(baton, apr_pstrdup(pool, s3key), APR_HASH_KEY_STRING,
                 apr_table_copy(pool, meta));
}

START_TEST(probes_go_together_and_are_remembered)
{
    mem m;
    h5s3_dg_store *st = mem_store(&m);
    h5s3_dg_query q = query("", NULL);
    h5s3_dg_prober pr = {hash_recall, hash_remember, apr_hash_make(pool)};
    h5s3_dg_savings s;
    h5s3_dg_page *pg;
    h5s3_dg_object a = {0}, b = {0}, *two[2] = {&a, &b};
    int heads;

    st->head_many = mem_head_many;
    many_calls = many_largest = 0;
    /* Size order needs every delta: one batch of the 5, not 5 HEADs. */
    q.sort = H5S3_DG_SORT_SIZE;
    q.descending = 1;
    q.limit = 2;
    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, &pr, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(keys_of(pg->objects), "P/v2.zip,P/v1.zip");
    ck_assert_int_eq(many_calls, 1);
    ck_assert_int_eq(many_largest, 5);
    ck_assert_int_eq(m.heads, 5);
    ck_assert_int_eq(apr_hash_count(pr.baton), 5);
    /* Remembered: the same listing and the savings HEAD nothing more. */
    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, &pr, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m.heads, 5);
    ck_assert_int_eq(h5s3_dg_savings_compute(&s, st, NULL, &pr, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m.heads, 5);
    ck_assert_int_eq(s.original_bytes, 31115);
    ck_assert_int_eq(many_calls, 1);

    /* A vanished delta keeps its stored size and breaks nothing. */
    a.s3_key = "gone.zip.delta";
    a.compressed = 1;
    a.stored_bytes = 7;
    a.original_bytes = -1;
    b.s3_key = "dup.zip.delta";
    b.compressed = 1;
    b.stored_bytes = 20;
    b.original_bytes = -1;
    ck_assert_int_eq(h5s3_dg_probe_many(two, 2, st, &pr, &heads, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(heads, 1);         /* dup.zip.delta was remembered */
    ck_assert_int_eq(a.original_bytes, 7);
    ck_assert_int_eq(b.original_bytes, 500);
    ck_assert_ptr_nonnull(b.meta);
}
END_TEST

START_TEST(list_hides_folders_of_internals)
{
    mem m;
    h5s3_dg_store *st = mem_store(&m);
    h5s3_dg_query q = query("", "/");
    h5s3_dg_page *pg;

    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, NULL, pool),
                     APR_SUCCESS);
    /* .deltaglider/ and Q/ (only an orphaned reference) are gone. */
    ck_assert_str_eq(strs_of(pg->prefixes), "P/");
    ck_assert_str_eq(keys_of(pg->objects), "README,dup.zip,z");
    ck_assert_int_eq(pg->objects->nelts, 3);
    q.prefix = "P/";
    ck_assert_int_eq(h5s3_dg_list(&pg, st, &q, &key, NULL, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(strs_of(pg->prefixes), "P/sub/");
    ck_assert_str_eq(keys_of(pg->objects), "P/notes.txt,P/v1.zip,P/v2.zip");
}
END_TEST

START_TEST(stat_resolves_delta_first)
{
    mem m;
    h5s3_dg_store *st = mem_store(&m);
    h5s3_dg_object *o;

    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, st, "dup.zip", pool), APR_SUCCESS);
    ck_assert(o->compressed);
    ck_assert_str_eq(o->s3_key, "dup.zip.delta");
    ck_assert_int_eq(o->original_bytes, 500);
    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, st, "README", pool), APR_SUCCESS);
    ck_assert(!o->compressed);
    ck_assert_int_eq(o->original_bytes, 10);
    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, st, "P/reference.bin", pool),
                     H5S3_E_NOTFOUND);
    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, st, "P/v1.zip.delta", pool),
                     H5S3_E_NOTFOUND);
    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, st, ".deltaglider/stats_quick.json",
                                  pool), H5S3_E_NOTFOUND);
    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, st, "nope", pool), H5S3_E_NOTFOUND);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("dg_catalog", "core", &tc,
                          unit_setup, unit_teardown);

    tcase_add_test(tc, hides_internals_recursive);
    tcase_add_test(tc, delimiter_on_logical_keys);
    tcase_add_test(tc, s3_side_prefixes);
    tcase_add_test(tc, sort_orders);
    tcase_add_test(tc, filter_and_search);
    tcase_add_test(tc, cursor_round_trip);
    tcase_add_test(tc, tampered_cursor);
    tcase_add_test(tc, json_views);
    tcase_add_test(tc, savings_accumulator);
    tcase_add_test(tc, savings_compute_pages_and_cancels);
    tcase_add_test(tc, list_probes_only_what_it_must);
    tcase_add_test(tc, list_hides_folders_of_internals);
    tcase_add_test(tc, probes_go_together_and_are_remembered);
    tcase_add_test(tc, stat_resolves_delta_first);
    return unit_run(s);
}
