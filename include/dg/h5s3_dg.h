/*
 * DeltaGlider core: the on-S3 format (docs/deltaglider-format.md) read
 * natively.  Logical listing, metadata, savings, streaming reconstruction
 * with xdelta3 and SHA-256 verification, and uploads the way DeltaGlider
 * stores them.  Everything here is what a command-line tool would need;
 * the /api routes are glue on top.
 */
#ifndef H5S3_DG_H
#define H5S3_DG_H

#include <apr_file_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>
#include "base/h5s3_errors.h"
#include "base/h5s3_result.h"
#include "s3/h5s3_s3.h"
#include "base/h5s3_token.h"

#define H5S3_DG_REFERENCE_NAME "reference.bin"
#define H5S3_DG_DELTA_SUFFIX   ".delta"
#define H5S3_DG_INTERNAL_DIR   ".deltaglider/"
#define H5S3_DG_TOOL           "mod_h5s3/0.1.0"

/* ------------------------------------------------------------------ */
/* Key classification (dg/keys.c)                                       */

/* 1 if key's file name has a delta-eligible extension (case-insensitive). */
int h5s3_dg_delta_eligible(const char *key);
/* 1 if the S3 key is internal: a reference.bin or under .deltaglider/. */
int h5s3_dg_key_internal(const char *key);
/* 1 if the S3 key ends with ".delta". */
int h5s3_dg_key_is_delta(const char *key);
/* The logical key of an S3 key (".delta" stripped), allocated from p. */
const char *h5s3_dg_logical_key(const char *s3key, apr_pool_t *p);
/* The deltaspace prefix of a key: up to and including its last '/', or "". */
const char *h5s3_dg_deltaspace(const char *key, apr_pool_t *p);
/* The bucket key of the reference for key's deltaspace. */
const char *h5s3_dg_reference_key(const char *key, apr_pool_t *p);

/* ------------------------------------------------------------------ */
/* Metadata (dg/meta.c)                                                 */

typedef enum {
    H5S3_DG_PLAIN = 0,          /* no DeltaGlider metadata */
    H5S3_DG_DIRECT,             /* stored as-is by DeltaGlider */
    H5S3_DG_DELTA,              /* <name>.delta against a reference */
    H5S3_DG_REFERENCE           /* <prefix>/reference.bin */
} h5s3_dg_kind;

typedef struct h5s3_dg_meta {
    h5s3_dg_kind kind;
    const char *tool;
    const char *original_name;
    const char *source_name;    /* reference only */
    const char *file_sha256;    /* lower-case hex, NULL if absent */
    apr_off_t file_size;        /* original size, -1 if absent */
    const char *ref_key;        /* bucket key of the reference (deltas) */
    const char *ref_sha256;
    apr_off_t delta_size;       /* -1 if absent */
    const char *delta_cmd;
    const char *created_at;
    const char *note;
    const char *compression;    /* "none" on direct objects */
    int zero_diff;
} h5s3_dg_meta;

/*
 * One metadata field by its canonical hyphenated name without the "dg-"
 * prefix (e.g. "file-sha256"), trying dg-x-y, dg_x_y, x_y, x-y in that
 * order.  meta has lower-cased names as h5s3_s3_head gives them.
 */
const char *h5s3_dg_meta_get(apr_table_t *meta, const char *name,
                             apr_pool_t *p);

/*
 * Interpret the metadata of S3 object s3key (may be NULL meta: plain).
 * A malformed size or hash, or a delta's dg-ref-path that
 * h5s3_dg_ref_path_problem refuses, is H5S3_E_INVALID with the reason
 * as res's detail (res may be NULL): better refuse an object than verify
 * against garbage or fetch what it should not name.
 */
apr_status_t h5s3_dg_meta_parse(h5s3_dg_meta **out, h5s3_result *res,
                                const char *s3key, apr_table_t *meta,
                                apr_pool_t *p);

/*
 * Why a delta's dg-ref-path may not be followed, NULL if it may (or is
 * NULL).  It is relative to the delta's deltaspace and must stay in it:
 * not empty, no leading '/', no empty, "." or ".." segment, no
 * backslash, no control character, at most H5S3_S3_KEY_MAX bytes.
 */
const char *h5s3_dg_ref_path_problem(const char *ref_path);

/* ------------------------------------------------------------------ */
/* Storage seam (dg/store.c): S3 in production, local data in tests.    */

typedef struct h5s3_dg_store h5s3_dg_store;
struct h5s3_dg_store {
    apr_status_t (*head)(h5s3_dg_store *st, h5s3_s3_object_info **info,
                         const char *key, apr_pool_t *p);
    /* Whole-object streaming GET; if_match may be NULL. */
    apr_status_t (*get)(h5s3_dg_store *st, const char *key,
                        const char *if_match, h5s3_s3_data_cb on_data,
                        void *baton, apr_pool_t *p);
    apr_status_t (*list)(h5s3_dg_store *st, h5s3_s3_list_page **page,
                         const char *prefix, const char *delimiter,
                         const char *token, int max_keys, apr_pool_t *p);
    apr_status_t (*put)(h5s3_dg_store *st, const char *key, apr_off_t size,
                        const char *content_type, apr_table_t *meta,
                        h5s3_s3_read_cb read_cb, void *baton, apr_pool_t *p);
    void *baton;
};

/* A store over one bucket of an S3 client; call may be NULL. */
h5s3_dg_store *h5s3_dg_store_s3(h5s3_s3_client *client, const char *bucket,
                                h5s3_s3_call *call, apr_pool_t *p);

/* ------------------------------------------------------------------ */
/* Logical objects and listing (dg/catalog.c: pure; dg/list.c: S3)      */

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
 * Resolves a delta's metadata (HEAD), so the glue can put a cache in
 * front.  The default (NULL) is a plain HEAD through the store.
 */
typedef apr_status_t (*h5s3_dg_probe_fn)(void *baton, h5s3_dg_meta **meta,
                                         h5s3_dg_store *st,
                                         const char *s3key, apr_pool_t *p);

/* Fill obj->meta and obj->original_bytes of a delta by probing. */
apr_status_t h5s3_dg_object_probe(h5s3_dg_object *obj, h5s3_dg_store *st,
                                  h5s3_dg_probe_fn probe, void *pbaton,
                                  apr_pool_t *p);

/* Most S3 entries one listing scans before it says "limited". */
#define H5S3_DG_SCAN_MAX 100000

/*
 * A logical page from the store: lists the prefix (S3 delimiter when
 * q->delimiter is set), probes the deltas it must (all of them for size
 * or savings order, else only the page's) and pages.  On the first page
 * each folder costs one small LIST, to hide folders holding only
 * DeltaGlider internals (the first 100 folders; the rest are shown).
 */
apr_status_t h5s3_dg_list(h5s3_dg_page **page, h5s3_dg_store *st,
                          const h5s3_dg_query *q, const h5s3_token_key *key,
                          h5s3_dg_probe_fn probe, void *pbaton,
                          apr_pool_t *p);

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

/* ------------------------------------------------------------------ */
/* Savings (dg/savings.c)                                               */

typedef struct h5s3_dg_savings {
    apr_int64_t object_count;   /* deltas + directs */
    apr_int64_t original_bytes;
    apr_int64_t stored_bytes;
    double savings_pct;
} h5s3_dg_savings;

/* Pure accumulator, fed one S3 entry at a time. */
typedef struct h5s3_dg_savings_acc h5s3_dg_savings_acc;
h5s3_dg_savings_acc *h5s3_dg_savings_acc_create(apr_pool_t *p);
/* original: dg-file-size of a delta (-1 unknown: its stored size); ignored otherwise. */
void h5s3_dg_savings_acc_add(h5s3_dg_savings_acc *acc, const char *s3key,
                             apr_off_t size, apr_off_t original);
void h5s3_dg_savings_acc_finish(h5s3_dg_savings *out,
                                const h5s3_dg_savings_acc *acc);

/*
 * Page through the whole bucket, HEAD per delta (through probe, NULL:
 * plain HEAD).  *cancel (may be NULL) is checked between pages and
 * probes; when set, H5S3_E_ABORTED and *out untouched.
 */
apr_status_t h5s3_dg_savings_compute(h5s3_dg_savings *out, h5s3_dg_store *st,
                                     volatile apr_uint32_t *cancel,
                                     h5s3_dg_probe_fn probe, void *pbaton,
                                     apr_pool_t *p);

json_t *h5s3_dg_savings_json(const h5s3_dg_savings *s);

/* ------------------------------------------------------------------ */
/* VCDIFF header (dg/vcdiff.c)                                          */

#define H5S3_VCD_DECOMPRESS 0x01
#define H5S3_VCD_CODETABLE  0x02
#define H5S3_VCD_APPHEADER  0x04

typedef struct h5s3_dg_vcdiff_header {
    int version;
    int indicator;
    int secondary_id;           /* -1: none; 1 DJW, 2 LZMA, 16 FGK */
    apr_size_t codetable_len;
    const char *appheader;      /* NULL if none */
    /* xdelta3's application header "tgtname/tgtcomp/srcname/srccomp". */
    const char *tgtname, *tgtcomp, *srcname, *srccomp;
    apr_size_t header_len;      /* bytes up to the first window */
} h5s3_dg_vcdiff_header;

/*
 * Parse the file header from the first len bytes.  APR_INCOMPLETE: give
 * more bytes; H5S3_E_INVALID: not VCDIFF.
 */
apr_status_t h5s3_dg_vcdiff_parse(h5s3_dg_vcdiff_header **out,
                                  const unsigned char *buf, apr_size_t len,
                                  apr_pool_t *p);

/* 1 if xdelta3 would recompress on decode (non-empty tgtcomp/srccomp). */
int h5s3_dg_vcdiff_recompressed(const h5s3_dg_vcdiff_header *h);

/* ------------------------------------------------------------------ */
/* Reconstruction (dg/restore.c) and upload (dg/upload.c)               */

typedef struct h5s3_dg_codec_opts {
    const char *cache_dir;      /* reference cache (see below); required */
    const char *tmp_dir;        /* spool for deltas; NULL: cache_dir */
    const char *xdelta3;        /* program; NULL: "xdelta3" on PATH */
    apr_size_t chunk_size;      /* output piece; 0: 1 MiB; max 16 MiB */
    /*
     * Whose references these are: the S3 endpoint and credential scope
     * the store reads with, and its bucket (NULL: "").  A cached
     * reference is only ever used for the same scope, bucket, reference
     * key and SHA-256 it was fetched for.
     */
    const char *cache_scope;
    const char *bucket;
} h5s3_dg_codec_opts;

/*
 * The reference cache's file name (no directory) of one reference:
 * "ref-" + hex SHA-256 of scope, bucket, ref_key and ref_sha256 (each
 * NUL-terminated; NULL counts as "") + ".bin".  Keys never appear in a
 * path, and a reference cached for one bucket or tenant is never taken
 * for another's, even when both claim the same SHA-256.
 */
apr_status_t h5s3_dg_ref_cache_name(const char **name, const char *scope,
                                    const char *bucket, const char *ref_key,
                                    const char *ref_sha256, apr_pool_t *p);

/*
 * The xdelta3 program (dg/xdelta.c), run with posix_spawn and nothing
 * but its three standard descriptors.  Encoding
 * passes -D so gzip/bzip2/xz inputs are diffed as they are and decode
 * byte-exactly (docs/deltaglider-format.md §5.3, upstream issue #4).
 * A failure is told in res (xdelta3's message, or that it could not run).
 */
apr_status_t h5s3_dg_xdelta_encode(h5s3_result *res,
                                   const h5s3_dg_codec_opts *opts,
                                   const char *source, const char *target,
                                   const char *out, apr_pool_t *p);

typedef struct h5s3_dg_xdelta_proc h5s3_dg_xdelta_proc;

/* Start "xdelta3 -d -c -B 8MiB -s source" with delta_in as its stdin. */
apr_status_t h5s3_dg_xdelta_decode_start(h5s3_dg_xdelta_proc **proc,
                                         const h5s3_dg_codec_opts *opts,
                                         const char *source,
                                         apr_file_t *delta_in, apr_pool_t *p);
/* The decoder's stdout (read until APR_EOF). */
apr_file_t *h5s3_dg_xdelta_output(h5s3_dg_xdelta_proc *proc);
/*
 * Reap the decoder (killing it first when kill is set).  A non-zero exit
 * is H5S3_E_INTEGRITY with xdelta3's message in res (may be NULL).
 */
apr_status_t h5s3_dg_xdelta_finish(h5s3_result *res,
                                   h5s3_dg_xdelta_proc *proc, int kill);

typedef struct h5s3_dg_restore_result {
    apr_off_t bytes;            /* bytes produced (all, even if not passed on) */
    const char *sha256;         /* of the produced bytes */
    const char *reason;         /* why it failed, for logs and error details */
} h5s3_dg_restore_result;

/*
 * Make sure the reference ref_key with this SHA-256 is in the cache
 * directory (under h5s3_dg_ref_cache_name of opts' scope and bucket),
 * re-verified now; fetch it (checking the hash) if needed.  *path is
 * the cached file.  H5S3_E_INTEGRITY when the stored reference does not
 * hash to ref_sha256; res says which step failed.
 */
apr_status_t h5s3_dg_reference_get(const char **path, h5s3_result *res,
                                   h5s3_dg_store *st, const char *ref_key,
                                   const char *ref_sha256,
                                   const h5s3_dg_codec_opts *opts,
                                   apr_pool_t *p);

/*
 * Stream the original of a delta to on_data in pieces of at most
 * chunk_size.  The last piece is held back until the output's SHA-256
 * (and size) matched dg-file-sha256 and the reference matched its
 * SHA-256: on a mismatch on_data never sees it and H5S3_E_INTEGRITY is
 * returned with res->reason, so the glue can abort the connection
 * instead of completing a plausible file.  A reference fetched from the
 * store is verified before decoding; a cached one is re-hashed by a
 * thread while xdelta3 already decodes (a rotten cache file found before
 * the first piece went out is fetched again transparently, after it the
 * restore fails naming the "cached reference"; either way the file is
 * removed from the cache).  etag (may be NULL) pins the delta (If-Match).
 */
apr_status_t h5s3_dg_restore(h5s3_dg_restore_result *res, h5s3_dg_store *st,
                             const char *delta_key, const h5s3_dg_meta *meta,
                             const char *etag, const h5s3_dg_codec_opts *opts,
                             h5s3_s3_data_cb on_data, void *baton,
                             apr_pool_t *p);

/*
 * Stream a resolved logical object: deltas via h5s3_dg_restore, direct
 * and plain objects straight from the store (pinned by obj->etag).
 */
apr_status_t h5s3_dg_download(h5s3_dg_restore_result *res, h5s3_dg_store *st,
                              const h5s3_dg_object *obj,
                              const h5s3_dg_codec_opts *opts,
                              h5s3_s3_data_cb on_data, void *baton,
                              apr_pool_t *p);

typedef struct h5s3_dg_upload_result {
    const char *key;            /* logical key */
    const char *s3_key;         /* stored as */
    int compressed;
    int created_reference;      /* this upload made the deltaspace's reference */
    apr_off_t original_bytes;
    apr_off_t stored_bytes;
    const char *sha256;
} h5s3_dg_upload_result;

/*
 * Store the local file at logical key the way DeltaGlider does: direct
 * (dg-compression=none) unless delta-eligible; the first eligible file of
 * a deltaspace becomes reference.bin plus a zero-diff delta; later ones a
 * delta against it.  Keys ending ".delta", named reference.bin or under
 * .deltaglider/ are H5S3_E_INVALID.
 */
apr_status_t h5s3_dg_upload_file(h5s3_dg_upload_result **out,
                                 h5s3_dg_store *st, const char *key,
                                 const char *path,
                                 const h5s3_dg_codec_opts *opts,
                                 apr_pool_t *p);

/* SHA-256 and size of a local file (lower-case hex). */
apr_status_t h5s3_dg_file_sha256(const char **hex, apr_off_t *size,
                                 const char *path, apr_pool_t *p);

#endif
