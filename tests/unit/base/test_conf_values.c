/* Configuration value parsers: what apachectl -t accepts and refuses. */
#include <check.h>
#include <stdlib.h>
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "base/h5s3_conf_values.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"

START_TEST(endpoint_accepts_and_normalises)
{
    const char *norm;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_conf_parse_endpoint(&norm, &res,
                     "http://127.0.0.1:7480", pool), APR_SUCCESS);
    ck_assert_str_eq(norm, "http://127.0.0.1:7480");
    ck_assert_int_eq(h5s3_conf_parse_endpoint(&norm, &res,
                     "HTTPS://S3.Example.com/", pool), APR_SUCCESS);
    ck_assert_str_eq(norm, "https://S3.Example.com");
    ck_assert_int_eq(h5s3_conf_parse_endpoint(&norm, &res,
                     "http://[::1]:9000", pool), APR_SUCCESS);
    ck_assert_str_eq(norm, "http://[::1]:9000");
}
END_TEST

START_TEST(endpoint_refuses_bad_urls)
{
    const char *norm;
    h5s3_result res;
    const char *badv[] = {"ftp://host", "127.0.0.1:7480", "http://",
                          "http://host/bucket", "http://host?x=1",
                          "http://user:pw@host", "http://host:abc",
                          "http://host:0", "", "not a url"};
    size_t i;

    h5s3_result_init(&res, pool);
    for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
        h5s3_result_reset(&res);
        ck_assert_msg(h5s3_conf_parse_endpoint(&norm, &res, badv[i], pool)
                      == H5S3_E_INVALID, "accepted '%s'", badv[i]);
        ck_assert_ptr_nonnull(res.detail);
    }
}
END_TEST

START_TEST(sizes)
{
    apr_off_t n;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "64M"), APR_SUCCESS);
    ck_assert_int_eq(n, 64 * 1024 * 1024);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "512k"), APR_SUCCESS);
    ck_assert_int_eq(n, 512 * 1024);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "1G"), APR_SUCCESS);
    ck_assert_int_eq(n, 1024LL * 1024 * 1024);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "100"), APR_SUCCESS);
    ck_assert_int_eq(n, 100);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "10T"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "-1M"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "M"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_parse_size(&n, &res, "99999999999999999999G"),
                     H5S3_E_INVALID);
}
END_TEST

START_TEST(longs)
{
    long v;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_conf_parse_long(&v, &res, "30", 0, 60), APR_SUCCESS);
    ck_assert_int_eq(v, 30);
    ck_assert_int_eq(h5s3_conf_parse_long(&v, &res, "61", 0, 60),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_parse_long(&v, &res, "3x", 0, 60),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_parse_long(&v, &res, "", 0, 60),
                     H5S3_E_INVALID);
}
END_TEST

START_TEST(secrets_from_literal_env_and_file)
{
    const char *v;
    h5s3_result res;
    char path[] = "/tmp/h5s3-secret-XXXXXX";
    apr_file_t *f;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_conf_resolve_secret(&v, &res, "abc", pool),
                     APR_SUCCESS);
    ck_assert_str_eq(v, "abc");

    apr_env_set("H5S3_TEST_SECRET", "from-env", pool);
    ck_assert_int_eq(h5s3_conf_resolve_secret(&v, &res,
                     "env:H5S3_TEST_SECRET", pool), APR_SUCCESS);
    ck_assert_str_eq(v, "from-env");
    apr_env_delete("H5S3_TEST_SECRET_MISSING", pool);
    ck_assert_int_eq(h5s3_conf_resolve_secret(&v, &res,
                     "env:H5S3_TEST_SECRET_MISSING", pool), H5S3_E_INVALID);

    /* Not APR_FOPEN_DELONCLOSE, which a flags value of 0 would imply. */
    ck_assert_int_eq(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_READ
                                     | APR_FOPEN_WRITE | APR_FOPEN_EXCL, pool),
                     APR_SUCCESS);
    apr_file_puts("from-file\n", f);
    apr_file_close(f);
    ck_assert_int_eq(h5s3_conf_resolve_secret(&v, &res,
                     apr_pstrcat(pool, "file:", path, NULL), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(v, "from-file");
    apr_file_remove(path, pool);
    ck_assert_int_eq(h5s3_conf_resolve_secret(&v, &res,
                     apr_pstrcat(pool, "file:", path, NULL), pool),
                     H5S3_E_INVALID);
}
END_TEST

START_TEST(bucket_and_alias_names)
{
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_conf_check_bucket(&res, "h5data"), APR_SUCCESS);
    ck_assert_int_eq(h5s3_conf_check_bucket(&res, "my.bucket-1"), APR_SUCCESS);
    ck_assert_int_eq(h5s3_conf_check_bucket(&res, "ab"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_check_bucket(&res, "Upper"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_check_bucket(&res, "-dash"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_check_bucket(&res, "a/b/c"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_check_alias(&res, "Main_Data"), APR_SUCCESS);
    ck_assert_int_eq(h5s3_conf_check_alias(&res, "a b"), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_conf_check_alias(&res, ""), H5S3_E_INVALID);
}
END_TEST

START_TEST(booleans)
{
    int b = -1;

    ck_assert_int_eq(h5s3_conf_parse_bool(&b, "TRUE"), APR_SUCCESS);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(h5s3_conf_parse_bool(&b, "off"), APR_SUCCESS);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(h5s3_conf_parse_bool(&b, "maybe"), H5S3_E_INVALID);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("conf_values", "core", &tc,
                          unit_setup, unit_teardown);

    tcase_add_test(tc, endpoint_accepts_and_normalises);
    tcase_add_test(tc, endpoint_refuses_bad_urls);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, longs);
    tcase_add_test(tc, secrets_from_literal_env_and_file);
    tcase_add_test(tc, bucket_and_alias_names);
    tcase_add_test(tc, booleans);
    return unit_run(s);
}
