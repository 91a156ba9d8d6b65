/*
 * Reconstruction (dg/restore.c): references fetched and verified into
 * the cache, deltas decoded by xdelta3 and streamed with their SHA-256
 * checked before the last piece goes out.
 */
#ifndef H5S3_DG_RESTORE_H
#define H5S3_DG_RESTORE_H

#include <apr_pools.h>
#include "base/h5s3_result.h"
#include "s3/h5s3_s3.h"
#include "dg/h5s3_dg_catalog.h"
#include "dg/h5s3_dg_codec.h"
#include "dg/h5s3_dg_meta.h"
#include "dg/h5s3_dg_store.h"

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

/* SHA-256 and size of a local file (lower-case hex). */
apr_status_t h5s3_dg_file_sha256(const char **hex, apr_off_t *size,
                                 const char *path, apr_pool_t *p);

#endif
