/*
 * Logical objects and their listing: dg/catalog.c (pure: entries to
 * objects, filter, sort, signed cursors) and dg/list.c (the same over a
 * store, probing deltas as the order needs).
 */
#ifndef H5S3_DG_CATALOG_H
#define H5S3_DG_CATALOG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>
#include "base/h5s3_result.h"
#include "base/h5s3_token.h"
#include "dg/h5s3_dg_meta.h"
#include "dg/h5s3_dg_store.h"

typedef struct h5s3_dg_object {
    const char *key;            /* logical key */
    const char *s3_key;         /* the stored object (".delta" for deltas) */
    apr_off_t original_bytes;   /* -1 until resolved (deltas) */
    apr_off_t stored_bytes;
    int compressed;             /* 1: a delta */
    apr_time_t modified;
    const char *etag;
    h5s3_dg_meta *meta;         /* NULL unless probed (HEAD) */
} h5s3_dg_object;

typedef enum {
    H5S3_DG_SORT_NAME = 0, H5S3_DG_SORT_SIZE, H5S3_DG_SORT_MODIFIED,
    H5S3_DG_SORT_SAVINGS
} h5s3_dg_sort;

typedef enum {
    H5S3_DG_COMPRESSED_ANY = 0, H5S3_DG_COMPRESSED_TRUE,
    H5S3_DG_COMPRESSED_FALSE
} h5s3_dg_compressed_filter;

#define H5S3_DG_LIMIT_DEFAULT 200
#define H5S3_DG_LIMIT_MAX     1000

typedef struct h5s3_dg_query {
    const char *bucket;         /* bound into the cursor */
    const char *prefix;         /* "" for the whole bucket */
    const char *delimiter;      /* "/" or NULL (only "/" is supported) */
    h5s3_dg_sort sort;
    int descending;
    h5s3_dg_compressed_filter compressed;
    const char *search;         /* case-insensitive substring; NULL: none */
    int limit;                  /* 1..1000 */
    const char *cursor;         /* NULL: first page */
} h5s3_dg_query;

/*
 * Parse query parameters: sort "name|size|modified|savings_pct" optionally
 * with "_asc"/"_desc" (seed: sort=modified_desc), order "asc|desc",
 * compressed "true|false|any", limit "1..1000".  Any may be NULL (default).
 * On H5S3_E_INVALID *bad names the offending parameter.
 */
apr_status_t h5s3_dg_query_parse(h5s3_dg_query *q, const char **bad,
                                 const char *sort, const char *order,
                                 const char *compressed, const char *limit);

typedef struct h5s3_dg_page {
    apr_array_header_t *objects;        /* of h5s3_dg_object * */
    apr_array_header_t *prefixes;       /* of const char * (first page only) */
    const char *cursor;                 /* next page, NULL at the end */
    int limited;                        /* the scan hit its cap */
    apr_size_t total;                   /* matching objects, all pages */
} h5s3_dg_page;

/*
 * Pure: S3 entries (under q->prefix; from one or many list pages, with
 * or without an S3-side delimiter) and S3 common prefixes -> every
 * logical object under the prefix and the logical common prefixes.
 * Internals are hidden; a delta wins over a plain object with the same
 * logical key.  original_bytes of deltas is -1 (see h5s3_dg_catalog_page).
 */
apr_status_t h5s3_dg_catalog_build(apr_array_header_t **objects,
                                   apr_array_header_t **prefixes,
                                   const apr_array_header_t *entries,
                                   const apr_array_header_t *s3_prefixes,
                                   const char *prefix, const char *delimiter,
                                   apr_pool_t *p);

/* 1 if the query's order needs every delta's original size up front. */
int h5s3_dg_catalog_needs_sizes(const h5s3_dg_query *q);

/*
 * Pure: filter (compressed, search), sort, resume after the signed
 * cursor, cut at limit and sign the next cursor.  Objects with
 * original_bytes -1 sort as if original == stored.  A cursor that fails
 * its MAC or belongs to another query is H5S3_E_INVALID.
 */
apr_status_t h5s3_dg_catalog_page(h5s3_dg_page **page,
                                  const apr_array_header_t *objects,
                                  const apr_array_header_t *prefixes,
                                  const h5s3_dg_query *q,
                                  const h5s3_token_key *key, apr_pool_t *p);

/* Savings of one object: (1 - stored/original) * 100, clamped at 0. */
double h5s3_dg_savings_pct(apr_off_t original, apr_off_t stored);

/*
 * What HEADs said about deltas, kept by the caller (the glue puts the
 * shared cache here) so that a delta is probed once while it is trusted.
 * Either function may be NULL.
 */
typedef struct h5s3_dg_prober {
    /* APR_SUCCESS and *meta (x-amz-meta-* names, as h5s3_s3_head gives
     * them) when s3key's metadata is known; anything else: HEAD it. */
    apr_status_t (*recall)(void *baton, apr_table_t **meta,
                           const char *s3key, apr_pool_t *p);
    /* What a HEAD of s3key said (meta may be empty, never NULL). */
    void (*remember)(void *baton, const char *s3key, apr_table_t *meta,
                     apr_pool_t *p);
    void *baton;
} h5s3_dg_prober;

/* Fill obj->meta and obj->original_bytes of a delta by probing (pr may be NULL). */
apr_status_t h5s3_dg_object_probe(h5s3_dg_object *obj, h5s3_dg_store *st,
                                  const h5s3_dg_prober *pr, apr_pool_t *p);

/*
 * The same for n deltas at once: those pr does not recall are HEADed
 * together through st->head_many (st->parallel in flight), or one after
 * another when the store has none.  A delta that vanished or carries
 * metadata h5s3_dg_meta_parse refuses keeps its stored size as its
 * original (logged at info); any other failure is returned, the first
 * found.  *heads (may be NULL) receives the HEADs sent.
 */
apr_status_t h5s3_dg_probe_many(h5s3_dg_object **objs, int n,
                                h5s3_dg_store *st, const h5s3_dg_prober *pr,
                                int *heads, apr_pool_t *p);

/* Most S3 entries one listing scans before it says "limited". */
#define H5S3_DG_SCAN_MAX 100000

/*
 * A logical page from the store: lists the prefix (S3 delimiter when
 * q->delimiter is set), probes the deltas it must (all of them for size
 * or savings order, else only the page's, in one h5s3_dg_probe_many
 * either way) and pages.  On the first page
 * each folder costs one small LIST, to hide folders holding only
 * DeltaGlider internals (the first 100 folders; the rest are shown).
 */
apr_status_t h5s3_dg_list(h5s3_dg_page **page, h5s3_dg_store *st,
                          const h5s3_dg_query *q, const h5s3_token_key *key,
                          const h5s3_dg_prober *pr, apr_pool_t *p);

/*
 * Resolve a logical key: "<key>.delta" first (a delta wins), then the key
 * itself.  Internal keys and ".delta" keys are H5S3_E_NOTFOUND.  The
 * object comes back probed (meta set).  Metadata h5s3_dg_meta_parse
 * refuses is H5S3_E_INVALID with its reason in res (may be NULL).
 */
apr_status_t h5s3_dg_stat(h5s3_dg_object **out, h5s3_result *res,
                          h5s3_dg_store *st, const char *key,
                          apr_pool_t *p);

/* JSON views (new references). */
const char *h5s3_dg_time_iso(apr_time_t t, apr_pool_t *p);
json_t *h5s3_dg_object_json(const h5s3_dg_object *obj);
/* /metadata: the object plus accept_ranges:false and DeltaGlider fields. */
json_t *h5s3_dg_metadata_json(const h5s3_dg_object *obj);
json_t *h5s3_dg_page_json(const h5s3_dg_page *page);

#endif
