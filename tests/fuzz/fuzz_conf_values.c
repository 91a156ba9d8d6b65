/*
 * Directive values (httpd.conf is trusted, but a typo must be a clear
 * error, not a crash): endpoints, sizes, numbers, bucket names and
 * aliases, booleans, secrets given literally or as env:NAME (file:
 * specs are skipped: the fuzzer must not read arbitrary files).
 */
#include <stdio.h>
#include "fuzz_common.h"
#include "base/h5s3_conf_values.h"
#include "base/h5s3_errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size, p);
    const char *norm, *val;
    h5s3_result res;
    apr_off_t bytes;
    long n;
    int b;

    h5s3_result_init(&res, p);
    if (h5s3_conf_parse_endpoint(&norm, &res, s, p) == APR_SUCCESS) {
        /* A normalised endpoint is a fixed point. */
        const char *again;
        if (h5s3_conf_parse_endpoint(&again, &res, norm, p) != APR_SUCCESS
            || strcmp(again, norm) != 0) {
            fprintf(stderr, "endpoint %s normalises to %s, not stable\n",
                    s, norm);
            abort();
        }
    }
    else if (!res.detail) {
        fprintf(stderr, "endpoint refused without a reason\n");
        abort();
    }
    if (h5s3_conf_parse_size(&bytes, &res, s) == APR_SUCCESS && bytes < 0) {
        fprintf(stderr, "size %s parsed as %" APR_OFF_T_FMT "\n", s, bytes);
        abort();
    }
    if (h5s3_conf_parse_long(&n, &res, s, -5, 86400) == APR_SUCCESS
        && (n < -5 || n > 86400)) {
        fprintf(stderr, "long %s parsed out of range: %ld\n", s, n);
        abort();
    }
    h5s3_conf_parse_long(&n, &res, s, 0, 0x7fffffffL);
    h5s3_conf_check_bucket(&res, s);
    h5s3_conf_check_alias(&res, s);
    h5s3_conf_parse_bool(&b, s);
    if (strncmp(s, "file:", 5) != 0)
        h5s3_conf_resolve_secret(&val, &res, s, p);
    apr_pool_destroy(p);
    return 0;
}
