/* JSON helpers (see h5s3_json.h). */
#include <math.h>
#include <string.h>
#include <apr_strings.h>
#include "h5s3_json.h"
#include "h5s3_errors.h"

apr_status_t h5s3_json_dump(char **out, apr_size_t *len, const json_t *j,
                            apr_pool_t *p)
{
    size_t n;
    char *buf;

    n = json_dumpb(j, NULL, 0, JSON_SORT_KEYS | JSON_COMPACT
                   | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    if (n == 0) {
        return H5S3_E_INVALID;
    }
    buf = apr_palloc(p, n + 2);
    if (json_dumpb(j, buf, n, JSON_SORT_KEYS | JSON_COMPACT
                   | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) != n) {
        return H5S3_E_INVALID;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    *out = buf;
    *len = n + 1;
    return APR_SUCCESS;
}

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *h5s3_json_pool_own(apr_pool_t *p, json_t *j)
{
    if (j != NULL) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

json_t *h5s3_json_real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

const char *h5s3_time_isoformat(apr_pool_t *p, apr_time_t t, int with_offset)
{
    apr_time_exp_t x;
    char *s;

    apr_time_exp_gmt(&x, t);
    s = apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d", x.tm_year + 1900,
                     x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec);
    /* isoformat() leaves out the fraction when it is zero. */
    if (x.tm_usec) {
        s = apr_psprintf(p, "%s.%06d", s, x.tm_usec);
    }
    return with_offset ? apr_pstrcat(p, s, "+00:00", NULL) : s;
}
