/* JSON helpers shared by every route: one way to serialise, one way to own. */
#ifndef H5S3_JSON_H
#define H5S3_JSON_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

/*
 * Serialise the way the upstream viewer API does (Flask jsonify): keys
 * sorted, compact separators, non-ASCII escaped, trailing newline.  NaN
 * and infinities must have been replaced by null before (jansson refuses
 * them), so the output is always valid JSON.
 */
apr_status_t h5s3_json_dump(char **out, apr_size_t *len, const json_t *j,
                            apr_pool_t *p);

/* Tie a reference to a pool: json_decref runs when the pool is cleared. */
json_t *h5s3_json_pool_own(apr_pool_t *p, json_t *j);

/* A real, or null when the value is NaN or infinite. */
json_t *h5s3_json_real_or_null(double v);

/* Python's datetime.isoformat() for an aware UTC time: 2026-01-10T12:47:55.906000+00:00 */
const char *h5s3_time_isoformat(apr_pool_t *p, apr_time_t t, int with_offset);

#endif
