/*
 * Logging seam: the core never includes httpd headers, so it logs through
 * a function the glue installs (ap_log_error in the module, stderr or a
 * capture in unit tests).
 */
#ifndef H5S3_LOG_H
#define H5S3_LOG_H

#include <apr_errno.h>

/* Same numbering as httpd's APLOG_* levels. */
#define H5S3_LOG_ERR     3
#define H5S3_LOG_WARNING 4
#define H5S3_LOG_NOTICE  5
#define H5S3_LOG_INFO    6
#define H5S3_LOG_DEBUG   7
#define H5S3_LOG_TRACE1  8

typedef void h5s3_log_fn(int level, apr_status_t rv, const char *msg);

/* Install the process-wide logger (NULL: silent). */
void h5s3_log_set(h5s3_log_fn *fn, int max_level);
int h5s3_log_is_level(int level);
void h5s3_log(int level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
