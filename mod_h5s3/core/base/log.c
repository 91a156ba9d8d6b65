/* The core's logger: formats once, hands the line to whoever installed a sink. */
#include <stdarg.h>
#include <apr_strings.h>
#include "base/h5s3_log.h"

static h5s3_log_fn *log_sink;
static int log_max_level = H5S3_LOG_WARNING;

void h5s3_log_set(h5s3_log_fn *fn, int max_level)
{
    log_sink = fn;
    log_max_level = max_level;
}

int h5s3_log_is_level(int level)
{
    return log_sink != NULL && level <= log_max_level;
}

void h5s3_log(int level, apr_status_t rv, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (!h5s3_log_is_level(level)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_sink(level, rv, buf);
}
