/*
 * JSON helpers shared by every route: one way to serialise, one way to own
 * (json/dump.c), reals as Python writes them (json/reals.c).
 */
#ifndef H5S3_JSON_H
#define H5S3_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/*
 * Serialise the way the upstream viewer API does (Flask jsonify): keys
 * sorted, compact separators, non-ASCII escaped, trailing newline.  NaN
 * and infinities must have been replaced by null before (jansson refuses
 * them), so the output is always valid JSON.  Raw texts h5s3_json_raw
 * registered in P are spliced in.
 */
apr_status_t h5s3_json_dump(char **out, apr_size_t *len, const json_t *j,
                            apr_pool_t *p);

/*
 * Raw JSON text in a tree: a placeholder string that h5s3_json_dump
 * replaces by TEXT (LEN bytes, a valid JSON value, ASCII), so a big
 * numeric array is written once as text, not as a jansson node per
 * value.  TEXT must be malloc'ed: P owns it from here (freed when P is
 * cleared, also on failure) and the tree must be dumped with P: another
 * pool's dump would leave the placeholder.  NULL when out of memory.
 */
json_t *h5s3_json_raw(char *text, apr_size_t len, apr_pool_t *p);

/* Python's repr(V) as a raw number, null when V is NaN or infinite
 * (json_real writes "%.17g": 0.1 would be 0.10000000000000001). */
json_t *h5s3_json_real_repr(double v, apr_pool_t *p);

/* Every real in J (an object or array, searched recursively) replaced
 * in place by h5s3_json_real_repr: for trees made elsewhere with
 * json_real.  Same rules on P. */
void h5s3_json_reals_repr(json_t *j, apr_pool_t *p);

/* Tie a reference to a pool: json_decref runs when the pool is cleared. */
json_t *h5s3_json_pool_own(apr_pool_t *p, json_t *j);

/* A real, or null when the value is NaN or infinite. */
json_t *h5s3_json_real_or_null(double v);

#endif
