/*
 * DeltaGlider's names for things in a bucket (dg/keys.c): which keys are
 * deltas, references or internals, and a key's deltaspace
 * (docs/deltaglider-format.md).
 */
#ifndef H5S3_DG_KEYS_H
#define H5S3_DG_KEYS_H

#include <apr_pools.h>

#define H5S3_DG_REFERENCE_NAME "reference.bin"
#define H5S3_DG_DELTA_SUFFIX   ".delta"
#define H5S3_DG_INTERNAL_DIR   ".deltaglider/"
#define H5S3_DG_TOOL           "mod_h5s3/0.1.0"

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

#endif
