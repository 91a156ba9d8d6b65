/*
 * What went wrong: one struct for the detail of a failure, filled by the
 * core and read by whoever answers (the glue's error writers, a tool, a
 * test).  A function that can say more than its status takes an
 * h5s3_result *res next to its outputs; it still returns its status, and
 * when that is a failure res->status is the same.
 *
 *   status      the failure (APR_SUCCESS: nothing recorded)
 *   detail      for the client, naming what was wrong ("the unit must be
 *               K, M or G"); NULL when the status says it all
 *   s3_*        the last failed S3 exchange, recorded by the S3 layer
 *               through the h5s3_s3_call it counts into
 *
 * The S3 fields and the status are kept apart: an S3 failure that a
 * caller tolerates (a best-effort fetch, a 416 at the end of an object)
 * leaves the S3 fields for the logs without being the request's failure.
 *
 * res may be NULL everywhere: the caller wants the status alone.  Not
 * thread-safe: one result belongs to one thread at a time (its pool).
 */
#ifndef H5S3_RESULT_H
#define H5S3_RESULT_H

#include <apr_errno.h>
#include <apr_pools.h>

typedef struct h5s3_result {
    apr_status_t status;
    const char *detail;
    int s3_status;              /* HTTP status of the exchange, 0: none */
    const char *s3_code;        /* S3's Code, or the client's own reason */
    const char *s3_message;     /* S3's Message; never holds a secret */
    /*
     * Where printf'ed details and the S3 strings live.  NULL: details
     * given as constants are kept, printf'ed ones and S3 strings are not.
     */
    apr_pool_t *p;
    char *s3_buf;               /* private: reused by every failed exchange */
} h5s3_result;

/* Nothing went wrong yet; details will live in p. */
void h5s3_result_init(h5s3_result *res, apr_pool_t *p);

/* Forget what was recorded (the pool stays). */
void h5s3_result_reset(h5s3_result *res);

/*
 * Record the failure rv and its detail (NULL: none; otherwise a string
 * that outlives res: a constant, or one from res->p or a longer pool).
 * Returns rv, so `return h5s3_result_set(res, H5S3_E_INVALID, "...");`.
 */
apr_status_t h5s3_result_set(h5s3_result *res, apr_status_t rv,
                             const char *detail);

/* The same with a detail formatted into res->p. */
apr_status_t h5s3_result_printf(h5s3_result *res, apr_status_t rv,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * rv, recorded as the status when it is a failure; the detail is left as
 * it is (set by the step that failed, or none).  For the failures a
 * function passes on from a callee that takes no result:
 * `return h5s3_result_status(res, rv);`.
 */
apr_status_t h5s3_result_status(h5s3_result *res, apr_status_t rv);

/* detail when there is one, else otherwise. */
const char *h5s3_result_detail(const h5s3_result *res, const char *otherwise);

/*
 * The S3 layer's record of a failed exchange: HTTP status (0: no
 * answer), S3's Code and Message, copied (the exchange's pool is
 * scratch) and cut to 63 and 255 bytes.  The status and detail stay.
 */
void h5s3_result_s3_set(h5s3_result *res, int http_status, const char *code,
                        const char *message);

/* No failed exchange to report (the last one was not a failure after all). */
void h5s3_result_s3_clear(h5s3_result *res);

#endif
