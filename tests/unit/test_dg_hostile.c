/*
 * DeltaGlider input written by whoever can put an object: the name of a
 * reference's cache file, which must keep buckets and tenants apart and
 * never carry a key into a path.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "h5s3_dg.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

#define SCOPE "https://s3.example.com#00112233445566778899aabbccddeeff"
#define SHA   "abababababababababababababababababababababababababababababababab"

static const char *name_of(const char *scope, const char *bucket,
                           const char *key, const char *sha)
{
    const char *name = NULL;

    ck_assert_int_eq(h5s3_dg_ref_cache_name(&name, scope, bucket, key, sha,
                                            pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(name);
    return name;
}

/* The value Python's hashlib gives for the same four NUL-ended parts. */
START_TEST(cache_name_known_value)
{
    ck_assert_str_eq(name_of(SCOPE, "releases", "v1/reference.bin", SHA),
                     "ref-a0d86cc422218ae0e7df6a0281f1e4f117ee6b01c5ac5b1d"
                     "28ff1f7549b312fe.bin");
    /* NULL parts count as empty ones. */
    ck_assert_str_eq(name_of(NULL, NULL, NULL, NULL),
                     "ref-df3f619804a92fdb4057192dc43dd748ea778adc52bc498c"
                     "e80524c014b81119.bin");
    ck_assert_str_eq(name_of("", "", "", ""), name_of(NULL, NULL, NULL, NULL));
}
END_TEST

START_TEST(cache_name_depends_on_every_part)
{
    const char *base = name_of(SCOPE, "releases", "v1/reference.bin", SHA);

    ck_assert_str_ne(base, name_of(SCOPE "0", "releases",
                                   "v1/reference.bin", SHA));
    ck_assert_str_ne(base, name_of("https://s3.example.com#ffeeddccbbaa998877"
                                   "66554433221100", "releases",
                                   "v1/reference.bin", SHA));
    ck_assert_str_ne(base, name_of(SCOPE, "releases2", "v1/reference.bin",
                                   SHA));
    ck_assert_str_ne(base, name_of(SCOPE, "releases", "v2/reference.bin",
                                   SHA));
    ck_assert_str_ne(base, name_of(SCOPE, "releases", "v1/reference.bin",
                                   apr_pstrcat(pool, "cd", SHA + 2, NULL)));
    /* Deterministic: every process finds the same file. */
    ck_assert_str_eq(base, name_of(SCOPE, "releases", "v1/reference.bin",
                                   SHA));
}
END_TEST

/* Moving a boundary between parts is another entry. */
START_TEST(cache_name_parts_do_not_run_together)
{
    ck_assert_str_ne(name_of(SCOPE, "ab", "c/reference.bin", SHA),
                     name_of(SCOPE, "a", "bc/reference.bin", SHA));
    ck_assert_str_ne(name_of(SCOPE "x", "", "k", SHA),
                     name_of(SCOPE, "x", "k", SHA));
}
END_TEST

/* Whatever a key holds, the name is "ref-" + 64 hex digits + ".bin". */
START_TEST(cache_name_never_holds_a_key)
{
    static const char *const keys[] = {
        "../../etc/passwd", "/abs/reference.bin", "a/../../b",
        "x\\y", "ctl\001\177", "reference.bin", "", NULL
    };
    int i, j;

    for (i = 0; keys[i]; i++) {
        const char *n = name_of(SCOPE, "../bucket", keys[i], SHA);

        ck_assert_uint_eq(strlen(n), 4 + 64 + 4);
        ck_assert(!strncmp(n, "ref-", 4));
        ck_assert_str_eq(n + 68, ".bin");
        for (j = 4; j < 68; j++)
            ck_assert_msg(strchr("0123456789abcdef", n[j]) && n[j],
                          "%s: not lower-case hex", n);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dg_hostile");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cache_name_known_value);
    tcase_add_test(tc, cache_name_depends_on_every_part);
    tcase_add_test(tc, cache_name_parts_do_not_run_together);
    tcase_add_test(tc, cache_name_never_holds_a_key);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
