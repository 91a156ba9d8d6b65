/* The cache seam: hashing, expiry, size limits and generations. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "base/h5s3_cache.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"

START_TEST(set_get_remove)
{
    h5s3_cache *c = h5s3_cache_memory_create(pool);
    char *v;
    apr_size_t n;

    ck_assert_int_eq(h5s3_cache_get(c, "ns", "k", &v, &n, pool), APR_NOTFOUND);
    ck_assert_int_eq(h5s3_cache_set(c, "ns", "k", "value", 5,
                                    apr_time_from_sec(60), pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_cache_get(c, "ns", "k", &v, &n, pool), APR_SUCCESS);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(v, "value");
    /* Same key in another namespace is another entry. */
    ck_assert_int_eq(h5s3_cache_get(c, "other", "k", &v, &n, pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(h5s3_cache_remove(c, "ns", "k", pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_cache_get(c, "ns", "k", &v, &n, pool), APR_NOTFOUND);
}
END_TEST

START_TEST(expired_entries_are_gone)
{
    h5s3_cache *c = h5s3_cache_memory_create(pool);
    char *v;
    apr_size_t n;

    ck_assert_int_eq(h5s3_cache_set(c, "ns", "k", "x", 1, -1, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_cache_get(c, "ns", "k", &v, &n, pool), APR_NOTFOUND);
}
END_TEST

START_TEST(values_over_the_limit_are_refused)
{
    h5s3_cache *c = h5s3_cache_memory_create(pool);
    char big[64];
    char *v;
    apr_size_t n;

    memset(big, 'a', sizeof(big));
    c->max_value = 32;
    ck_assert_int_eq(h5s3_cache_set(c, "ns", "k", big, sizeof(big),
                                    apr_time_from_sec(60), pool),
                     H5S3_E_TOOLARGE);
    ck_assert_int_eq(h5s3_cache_get(c, "ns", "k", &v, &n, pool), APR_NOTFOUND);
}
END_TEST

START_TEST(generations_change_when_bumped)
{
    h5s3_cache *c = h5s3_cache_memory_create(pool);
    const char *g0, *g1, *g2, *other;

    ck_assert_int_eq(h5s3_cache_generation(&g0, c, "files\nb1", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_cache_bump_generation(c, "files\nb1", pool),
                     APR_SUCCESS);
    h5s3_cache_generation(&g1, c, "files\nb1", pool);
    h5s3_cache_bump_generation(c, "files\nb1", pool);
    h5s3_cache_generation(&g2, c, "files\nb1", pool);
    h5s3_cache_generation(&other, c, "files\nb2", pool);
    ck_assert_str_ne(g0, g1);
    ck_assert_str_ne(g1, g2);
    ck_assert_str_eq(other, g0);
}
END_TEST

START_TEST(null_cache_is_a_miss)
{
    char *v;
    apr_size_t n;

    ck_assert_int_eq(h5s3_cache_get(NULL, "ns", "k", &v, &n, pool),
                     APR_NOTFOUND);
    ck_assert_int_eq(h5s3_cache_set(NULL, "ns", "k", "x", 1, 10, pool),
                     APR_SUCCESS);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("cache", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, set_get_remove);
    tcase_add_test(tc, expired_entries_are_gone);
    tcase_add_test(tc, values_over_the_limit_are_refused);
    tcase_add_test(tc, generations_change_when_bumped);
    tcase_add_test(tc, null_cache_is_a_miss);
    return unit_run(s);
}
