/* The fleet's rate-limit bucket: keys, requests, answers, garbage. */
#include <check.h>
#include <string.h>
#include <apr_strings.h>
#include "base/h5s3_errors.h"
#include "base/h5s3_fleetrl.h"
#include "unit_common.h"

START_TEST(keys_are_stable_and_valid)
{
    const char *k = h5s3_fleetrl_key("a.test", "/hdf", "192.0.2.1", pool);

    ck_assert_uint_eq(strlen(k), 8 + 40);
    ck_assert(strncmp(k, "h5s3:rl:", 8) == 0);
    ck_assert_uint_eq(strspn(k + 8, "0123456789abcdef"), 40);
    ck_assert_str_eq(k, h5s3_fleetrl_key("a.test", "/hdf", "192.0.2.1",
                                         pool));
    /* Each part counts, and the separator keeps them apart. */
    ck_assert_str_ne(k, h5s3_fleetrl_key("a.test", "/hdf", "192.0.2.2",
                                         pool));
    ck_assert_str_ne(k, h5s3_fleetrl_key("a.test", "/other", "192.0.2.1",
                                         pool));
    ck_assert_str_ne(h5s3_fleetrl_key("a", "b\nc", "d", pool),
                     h5s3_fleetrl_key("a\nb", "c", "d", pool));
}
END_TEST

START_TEST(redis_request_is_one_eval)
{
    h5s3_fleetrl_bucket b = {"h5s3:rl:ab", 10, 20, 0};
    apr_size_t len;
    const char *req = h5s3_fleetrl_request(H5S3_FLEETRL_REDIS, &b, &len,
                                           pool);

    ck_assert_uint_eq(len, strlen(req));
    ck_assert(strncmp(req, "*6\r\n$4\r\nEVAL\r\n$", 15) == 0);
    ck_assert_ptr_nonnull(strstr(req, "redis.call('TIME')"));
    ck_assert_ptr_nonnull(strstr(req, "\r\n$1\r\n1\r\n$10\r\nh5s3:rl:ab\r\n"
                                      "$2\r\n10\r\n$2\r\n20\r\n"));
    ck_assert(strcmp(req + len - 2, "\r\n") == 0);
}
END_TEST

START_TEST(redis_answers)
{
    h5s3_fleetrl_bucket b = {"k", 10, 20, 0};
    h5s3_fleetrl_verdict v;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "*2\r\n:1\r\n:0\r\n", 12, &v, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(v.allowed, 1);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "*2\r\n:0\r\n:99001\r\n", 16, &v,
                                         &res), APR_SUCCESS);
    ck_assert_int_eq(v.allowed, 0);
    ck_assert_int_eq(v.wait_us, 99001);
    /* Cut anywhere: wait for more. */
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "*2\r\n:0\r\n:99", 11, &v, &res),
                     APR_INCOMPLETE);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b, "", 0, &v,
                                         &res), APR_INCOMPLETE);
    /* Errors and garbage. */
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "-NOSCRIPT x\r\n", 13, &v, &res),
                     H5S3_E_UPSTREAM);
    ck_assert_ptr_nonnull(strstr(res.detail, "NOSCRIPT"));
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "*2\r\n:-1\r\n:0\r\n", 13, &v,
                                         &res), H5S3_E_UPSTREAM);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "*2\r\n:7\r\n:0\r\n", 12, &v, &res),
                     H5S3_E_UPSTREAM);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_REDIS, &b,
                                         "*2\n:1\n:0\n", 9, &v, &res),
                     H5S3_E_UPSTREAM);
}
END_TEST

START_TEST(memcache_windows)
{
    /* 10/s, burst 2: windows of 0.2 s that allow 2 requests each. */
    h5s3_fleetrl_bucket b = {"h5s3:rl:ab", 10, 2, 1000000};
    h5s3_fleetrl_verdict v;
    h5s3_result res;
    apr_size_t len;
    const char *req = h5s3_fleetrl_request(H5S3_FLEETRL_MEMCACHE, &b, &len,
                                           pool);

    h5s3_result_init(&res, pool);
    ck_assert_str_eq(req, "add h5s3:rl:ab:5 0 2 1 noreply\r\n0\r\n"
                          "incr h5s3:rl:ab:5 1\r\n");
    ck_assert_uint_eq(len, strlen(req));
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b, "2\r\n",
                                         3, &v, &res), APR_SUCCESS);
    ck_assert_int_eq(v.allowed, 1);
    b.now_us = 1050000;
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b, "3\r\n",
                                         3, &v, &res), APR_SUCCESS);
    ck_assert_int_eq(v.allowed, 0);
    ck_assert_int_eq(v.wait_us, 150000);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b, "3",
                                         1, &v, &res), APR_INCOMPLETE);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b,
                                         "NOT_FOUND\r\n", 11, &v, &res),
                     H5S3_E_UPSTREAM);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b,
                                         "SERVER_ERROR out of memory\r\n",
                                         28, &v, &res), H5S3_E_UPSTREAM);
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b,
                                         "-1\r\n", 4, &v, &res),
                     H5S3_E_UPSTREAM);
}
END_TEST

START_TEST(memcache_extreme_rates)
{
    /* A window never shorter than 1 ms, an expiry never past 30 days. */
    h5s3_fleetrl_bucket fast = {"k", 1e6, 1, 5000};
    h5s3_fleetrl_bucket slow = {"k", 1e-9, 1e7, 5000};
    apr_size_t len;

    ck_assert_str_eq(h5s3_fleetrl_request(H5S3_FLEETRL_MEMCACHE, &fast,
                                          &len, pool),
                     "add k:5 0 2 1 noreply\r\n0\r\nincr k:5 1\r\n");
    ck_assert_str_eq(h5s3_fleetrl_request(H5S3_FLEETRL_MEMCACHE, &slow,
                                          &len, pool),
                     "add k:0 0 2592000 1 noreply\r\n0\r\nincr k:0 1\r\n");
}
END_TEST

START_TEST(overlong_line_is_garbage)
{
    h5s3_fleetrl_bucket b = {"k", 10, 2, 0};
    h5s3_fleetrl_verdict v;
    h5s3_result res;
    char buf[600];

    h5s3_result_init(&res, pool);
    memset(buf, '9', sizeof(buf));
    ck_assert_int_eq(h5s3_fleetrl_answer(H5S3_FLEETRL_MEMCACHE, &b, buf,
                                         sizeof(buf), &v, &res),
                     H5S3_E_UPSTREAM);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("fleetrl", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, keys_are_stable_and_valid);
    tcase_add_test(tc, redis_request_is_one_eval);
    tcase_add_test(tc, redis_answers);
    tcase_add_test(tc, memcache_windows);
    tcase_add_test(tc, memcache_extreme_rates);
    tcase_add_test(tc, overlong_line_is_garbage);
    return unit_run(s);
}
