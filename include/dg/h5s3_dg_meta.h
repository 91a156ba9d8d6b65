/*
 * DeltaGlider's object metadata (dg/meta.c): the dg-* fields of an S3
 * object read into one struct, and checked before anything is fetched by
 * what they name.
 */
#ifndef H5S3_DG_META_H
#define H5S3_DG_META_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "base/h5s3_result.h"

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
    /* The proxy's fields (docs/deltaglider-format.md §3.3). */
    const char *md5;            /* dg-md5, as written */
    const char *multipart_etag; /* dg-multipart-etag, as written */
    int encrypted;              /* dg-encrypted present: not rebuildable */
    const char *encryption;     /* dg-encrypted's value, e.g. the scheme */
    const char *encryption_key_id;  /* dg-encryption-key-id, may be NULL */
    const char *native_encryption;  /* dg-encrypted-native (S3 decrypts) */
    apr_table_t *user;          /* user-* fields, prefix stripped; never NULL */
} h5s3_dg_meta;

/*
 * One metadata field by its canonical hyphenated name without the "dg-"
 * prefix (e.g. "file-sha256"), trying dg-x-y, dg_x_y, x_y, x-y in that
 * order.  meta has lower-cased names as h5s3_s3_head gives them.
 */
const char *h5s3_dg_meta_get(apr_table_t *meta, const char *name,
                             apr_pool_t *p);

/*
 * A proxy field by its exact name (e.g. "dg-encrypted"), as written
 * bare or inside the proxy's user map ("user-dg-encrypted"); empty
 * values count as absent.
 */
const char *h5s3_dg_meta_proxy_get(apr_table_t *meta, const char *name,
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

#endif
