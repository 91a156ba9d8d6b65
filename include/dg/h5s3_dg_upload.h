/*
 * Uploads stored the way DeltaGlider stores them (dg/upload.c).
 */
#ifndef H5S3_DG_UPLOAD_H
#define H5S3_DG_UPLOAD_H

#include <apr_pools.h>
#include "dg/h5s3_dg_codec.h"
#include "dg/h5s3_dg_store.h"

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

#endif
