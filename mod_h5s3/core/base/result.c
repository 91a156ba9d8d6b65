/* What went wrong (see include/base/h5s3_result.h). */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>

#include "base/h5s3_result.h"

/*
 * The S3 strings' room: the bounds the S3 client always had, so a long
 * Message from a server reads the same in logs and answers.
 */
#define S3_CODE_SIZE    64
#define S3_MESSAGE_SIZE 256

void h5s3_result_init(h5s3_result *res, apr_pool_t *p)
{
    memset(res, 0, sizeof(*res));
    res->p = p;
}

void h5s3_result_reset(h5s3_result *res)
{
    if (res) {
        apr_pool_t *p = res->p;
        char *buf = res->s3_buf;

        memset(res, 0, sizeof(*res));
        res->p = p;
        res->s3_buf = buf;      /* still p's, still reusable */
    }
}

apr_status_t h5s3_result_set(h5s3_result *res, apr_status_t rv,
                             const char *detail)
{
    if (res) {
        res->status = rv;
        res->detail = detail;
    }
    return rv;
}

apr_status_t h5s3_result_printf(h5s3_result *res, apr_status_t rv,
                                const char *fmt, ...)
{
    va_list ap;

    if (res) {
        res->status = rv;
        res->detail = NULL;
        if (res->p) {
            va_start(ap, fmt);
            res->detail = apr_pvsprintf(res->p, fmt, ap);
            va_end(ap);
        }
    }
    return rv;
}

apr_status_t h5s3_result_status(h5s3_result *res, apr_status_t rv)
{
    if (res && rv != APR_SUCCESS) {
        res->status = rv;
    }
    return rv;
}

const char *h5s3_result_detail(const h5s3_result *res, const char *otherwise)
{
    return res && res->detail ? res->detail : otherwise;
}

void h5s3_result_s3_set(h5s3_result *res, int http_status, const char *code,
                        const char *message)
{
    if (res == NULL) {
        return;
    }
    res->s3_status = http_status;
    res->s3_code = res->s3_message = NULL;
    /*
     * One buffer per result, made on the first failure: a savings job
     * counts thousands of exchanges into one result, and copying each
     * failure's strings anew would grow its pool with every one.
     */
    if (res->s3_buf == NULL && res->p && (code || message)) {
        res->s3_buf = apr_palloc(res->p, S3_CODE_SIZE + S3_MESSAGE_SIZE);
    }
    if (res->s3_buf == NULL) {
        return;
    }
    if (code) {
        apr_cpystrn(res->s3_buf, code, S3_CODE_SIZE);
        res->s3_code = res->s3_buf;
    }
    if (message) {
        char *m = res->s3_buf + S3_CODE_SIZE;

        apr_cpystrn(m, message, S3_MESSAGE_SIZE);
        res->s3_message = m;
    }
}

void h5s3_result_s3_clear(h5s3_result *res)
{
    if (res) {
        res->s3_status = 0;
        res->s3_code = res->s3_message = NULL;
    }
}
