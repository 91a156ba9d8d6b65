/*
 * h5s3_result: the status and the detail go together, the S3 fields stay
 * apart from them, and every function takes a NULL result.
 */
#include <check.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "base/h5s3_result.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"

START_TEST(init_is_nothing_wrong)
{
    h5s3_result res;

    memset(&res, 0xa5, sizeof(res));
    h5s3_result_init(&res, pool);
    ck_assert_int_eq(res.status, APR_SUCCESS);
    ck_assert_ptr_null(res.detail);
    ck_assert_int_eq(res.s3_status, 0);
    ck_assert_ptr_null(res.s3_code);
    ck_assert_ptr_null(res.s3_message);
    ck_assert_ptr_eq(res.p, pool);
}
END_TEST

START_TEST(set_returns_the_status)
{
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_result_set(&res, H5S3_E_INVALID, "bad unit"),
                     H5S3_E_INVALID);
    ck_assert_int_eq(res.status, H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "bad unit");
    /* A later failure replaces both: they go together. */
    h5s3_result_set(&res, H5S3_E_NOPATH, NULL);
    ck_assert_int_eq(res.status, H5S3_E_NOPATH);
    ck_assert_ptr_null(res.detail);
}
END_TEST

START_TEST(printf_formats_into_the_pool)
{
    h5s3_result res;
    char arg[16];

    h5s3_result_init(&res, pool);
    strcpy(arg, "x");
    ck_assert_int_eq(h5s3_result_printf(&res, H5S3_E_TOOLARGE,
                                        "%d rows of %s", 42, arg),
                     H5S3_E_TOOLARGE);
    strcpy(arg, "y");           /* the detail is a copy */
    ck_assert_str_eq(res.detail, "42 rows of x");
    ck_assert_int_eq(res.status, H5S3_E_TOOLARGE);
}
END_TEST

START_TEST(printf_without_a_pool_keeps_the_status)
{
    h5s3_result res;

    h5s3_result_init(&res, NULL);
    h5s3_result_set(&res, H5S3_E_INVALID, "earlier");
    ck_assert_int_eq(h5s3_result_printf(&res, H5S3_E_LIMIT, "%s", "later"),
                     H5S3_E_LIMIT);
    ck_assert_int_eq(res.status, H5S3_E_LIMIT);
    ck_assert_ptr_null(res.detail);     /* not the earlier failure's */
}
END_TEST

START_TEST(status_keeps_the_detail)
{
    h5s3_result res;

    h5s3_result_init(&res, pool);
    h5s3_result_set(&res, H5S3_E_UNSUPPORTED, "no filter");
    /* Success records nothing: an earlier failure stays readable. */
    ck_assert_int_eq(h5s3_result_status(&res, APR_SUCCESS), APR_SUCCESS);
    ck_assert_int_eq(res.status, H5S3_E_UNSUPPORTED);
    ck_assert_int_eq(h5s3_result_status(&res, H5S3_E_TIMEOUT),
                     H5S3_E_TIMEOUT);
    ck_assert_int_eq(res.status, H5S3_E_TIMEOUT);
    ck_assert_str_eq(res.detail, "no filter");
}
END_TEST

START_TEST(detail_or_otherwise)
{
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_str_eq(h5s3_result_detail(&res, "default"), "default");
    ck_assert_str_eq(h5s3_result_detail(NULL, "default"), "default");
    h5s3_result_set(&res, H5S3_E_INVALID, "named");
    ck_assert_str_eq(h5s3_result_detail(&res, "default"), "named");
    ck_assert_ptr_null(h5s3_result_detail(NULL, NULL));
}
END_TEST

START_TEST(s3_fields_apart_from_the_status)
{
    h5s3_result res;
    char *code = apr_pstrdup(pool, "NoSuchKey");

    h5s3_result_init(&res, pool);
    h5s3_result_s3_set(&res, 404, code, "The key does not exist");
    code[0] = 'X';              /* copied: the exchange's pool is scratch */
    ck_assert_int_eq(res.s3_status, 404);
    ck_assert_str_eq(res.s3_code, "NoSuchKey");
    ck_assert_str_eq(res.s3_message, "The key does not exist");
    ck_assert_int_eq(res.status, APR_SUCCESS);
    ck_assert_ptr_null(res.detail);
    /* The next failed exchange replaces it; a missing string is NULL. */
    h5s3_result_s3_set(&res, 0, "ConnectFailed", NULL);
    ck_assert_int_eq(res.s3_status, 0);
    ck_assert_str_eq(res.s3_code, "ConnectFailed");
    ck_assert_ptr_null(res.s3_message);
    h5s3_result_s3_clear(&res);
    ck_assert_ptr_null(res.s3_code);
    ck_assert_int_eq(res.s3_status, 0);
}
END_TEST

START_TEST(s3_strings_are_bounded)
{
    h5s3_result res;
    char *longer = apr_palloc(pool, 1001);
    char *first;

    memset(longer, 'm', 1000);
    longer[1000] = '\0';
    h5s3_result_init(&res, pool);
    h5s3_result_s3_set(&res, 500, longer, longer);
    ck_assert_uint_eq(strlen(res.s3_code), 63);
    ck_assert_uint_eq(strlen(res.s3_message), 255);
    /* Many failures, one buffer: the pool does not grow with them. */
    first = (char *)res.s3_code;
    h5s3_result_s3_set(&res, 503, "SlowDown", "Reduce your request rate");
    ck_assert_ptr_eq(res.s3_code, first);
    ck_assert_str_eq(res.s3_code, "SlowDown");
    ck_assert_str_eq(res.s3_message, "Reduce your request rate");
}
END_TEST

START_TEST(reset_keeps_the_pool)
{
    h5s3_result res;

    h5s3_result_init(&res, pool);
    h5s3_result_set(&res, H5S3_E_INVALID, "x");
    h5s3_result_s3_set(&res, 403, "AccessDenied", "Access Denied");
    h5s3_result_reset(&res);
    ck_assert_int_eq(res.status, APR_SUCCESS);
    ck_assert_ptr_null(res.detail);
    ck_assert_int_eq(res.s3_status, 0);
    ck_assert_ptr_null(res.s3_code);
    ck_assert_ptr_null(res.s3_message);
    ck_assert_ptr_eq(res.p, pool);
    h5s3_result_printf(&res, H5S3_E_LIMIT, "limit %s", "entries");
    ck_assert_str_eq(res.detail, "limit entries");
}
END_TEST

START_TEST(null_result_only_returns)
{
    ck_assert_int_eq(h5s3_result_set(NULL, H5S3_E_INVALID, "x"),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_result_printf(NULL, H5S3_E_NOPATH, "%s", "y"),
                     H5S3_E_NOPATH);
    ck_assert_int_eq(h5s3_result_status(NULL, H5S3_E_TIMEOUT),
                     H5S3_E_TIMEOUT);
    h5s3_result_s3_set(NULL, 500, "InternalError", "x");
    h5s3_result_s3_clear(NULL);
    h5s3_result_reset(NULL);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("result", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, init_is_nothing_wrong);
    tcase_add_test(tc, set_returns_the_status);
    tcase_add_test(tc, printf_formats_into_the_pool);
    tcase_add_test(tc, printf_without_a_pool_keeps_the_status);
    tcase_add_test(tc, status_keeps_the_detail);
    tcase_add_test(tc, detail_or_otherwise);
    tcase_add_test(tc, s3_fields_apart_from_the_status);
    tcase_add_test(tc, s3_strings_are_bounded);
    tcase_add_test(tc, reset_keeps_the_pool);
    tcase_add_test(tc, null_result_only_returns);
    return unit_run(s);
}
