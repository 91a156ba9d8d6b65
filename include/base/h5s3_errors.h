/*
 * Status codes of the core beyond APR's own, so the glue can map each
 * failure to the right HTTP status without knowing where it came from.
 */
#ifndef H5S3_ERRORS_H
#define H5S3_ERRORS_H

#include <apr_errno.h>

#define H5S3_E_BASE          (APR_OS_START_USERERR + 5300)
#define H5S3_E_NOTFOUND      (H5S3_E_BASE + 1)  /* S3 404 / no such key or bucket */
#define H5S3_E_DENIED        (H5S3_E_BASE + 2)  /* S3 401/403: credentials or policy */
#define H5S3_E_UNREACHABLE   (H5S3_E_BASE + 3)  /* could not connect to S3 */
#define H5S3_E_TIMEOUT       (H5S3_E_BASE + 4)  /* S3 too slow */
#define H5S3_E_UPSTREAM      (H5S3_E_BASE + 5)  /* S3 5xx or a malformed answer */
#define H5S3_E_CHANGED       (H5S3_E_BASE + 6)  /* ETag no longer matches (412) */
#define H5S3_E_BADREQUEST    (H5S3_E_BASE + 7)  /* S3 rejected the request (other 4xx) */
#define H5S3_E_INVALID       (H5S3_E_BASE + 8)  /* bad input to a core function */
#define H5S3_E_NOTHDF5       (H5S3_E_BASE + 9)  /* object is not a readable HDF5 file */
#define H5S3_E_NOPATH        (H5S3_E_BASE + 10) /* HDF5 path does not exist */
#define H5S3_E_UNSUPPORTED   (H5S3_E_BASE + 11) /* type, filter or feature we cannot serve */
#define H5S3_E_INTEGRITY     (H5S3_E_BASE + 12) /* checksum mismatch */
#define H5S3_E_TOOLARGE      (H5S3_E_BASE + 13) /* over a configured cap */
#define H5S3_E_ABORTED       (H5S3_E_BASE + 14) /* a callback stopped the transfer */
/*
 * The object's contents would make one request do more than a per-request
 * limit allows (bytes prefetched, ranges, index nodes, links listed,
 * variable-length bytes): the file, not the request, is at fault (422).
 */
#define H5S3_E_LIMIT         (H5S3_E_BASE + 15)
/* The process is at its memory budget for concurrent requests (503). */
#define H5S3_E_BUSY          (H5S3_E_BASE + 16)

/* A short, stable name for a status ("not_found", "timeout", ...). */
const char *h5s3_error_name(apr_status_t rv);

#endif
