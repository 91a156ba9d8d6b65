/*
 * DeltaGlider input written by whoever can put an object: the name of a
 * reference's cache file, which must keep buckets and tenants apart and
 * never carry a key into a path, and a delta's dg-ref-path, which must
 * not lead out of the delta's deltaspace.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "dg/h5s3_dg.h"
#include "unit_common.h"

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

/* ---- dg-ref-path ---- */

START_TEST(ref_path_accepted)
{
    static const char *const ok[] = {
        "reference.bin", "sub/reference.bin", "a/b/c/reference.bin",
        "..reference.bin", "reference.bin..", "...", "a..b/x", ".hidden",
        "r\xc3\xa9" "f\xc3\xa9" "rence.bin", NULL
    };
    int i;

    ck_assert_ptr_null(h5s3_dg_ref_path_problem(NULL));
    for (i = 0; ok[i]; i++)
        ck_assert_msg(h5s3_dg_ref_path_problem(ok[i]) == NULL, "%s: %s",
                      ok[i], h5s3_dg_ref_path_problem(ok[i]));
}
END_TEST

START_TEST(ref_path_refused)
{
    static const struct {
        const char *path, *why;
    } bad[] = {
        {"", "empty"},
        {"..", "'..'"}, {"../reference.bin", "'..'"},
        {"../../other/reference.bin", "'..'"}, {"a/../../x", "'..'"},
        {"a/..", "'..'"}, {"sub/../reference.bin", "'..'"},
        {"/reference.bin", "absolute"}, {"/", "absolute"},
        {"//evil/reference.bin", "absolute"},
        {"a//reference.bin", "empty segment"}, {"a/", "empty segment"},
        {"./reference.bin", "'.'"}, {"a/./b", "'.'"}, {".", "'.'"},
        {"..\\reference.bin", "backslash"}, {"a\\b", "backslash"},
        {"ref\x01.bin", "control"}, {"ref\n.bin", "control"},
        {"\x7f", "control"}, {"a/\t/b", "control"},
        {"\r../x", "control"},
        {NULL, NULL}
    };
    int i;

    for (i = 0; bad[i].path; i++) {
        const char *why = h5s3_dg_ref_path_problem(bad[i].path);

        ck_assert_msg(why != NULL, "accepted '%s'", bad[i].path);
        ck_assert_msg(strstr(why, bad[i].why) != NULL, "'%s': %s",
                      bad[i].path, why);
        ck_assert(!strncmp(why, "dg-ref-path ", 12));
    }
}
END_TEST

START_TEST(ref_path_length)
{
    char *p = apr_palloc(pool, H5S3_S3_KEY_MAX + 2);

    memset(p, 'a', H5S3_S3_KEY_MAX);
    p[H5S3_S3_KEY_MAX] = '\0';
    ck_assert_ptr_null(h5s3_dg_ref_path_problem(p));
    p[H5S3_S3_KEY_MAX] = 'a';
    p[H5S3_S3_KEY_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(strstr(h5s3_dg_ref_path_problem(p), "longer"));
}
END_TEST

/* Through the metadata parser: the delta is refused, with the reason. */
START_TEST(ref_path_in_metadata)
{
    apr_table_t *m = apr_table_make(pool, 4);
    h5s3_dg_meta *d = NULL;
    h5s3_result res;
    char *longer;

    h5s3_result_init(&res, pool);
    apr_table_set(m, "dg-ref-path", "../secret/reference.bin");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "a/b/v2.zip.delta", m,
                                        pool), H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "'..'"));
    /* Also next to a dg-ref-key (which would win): the writer is hostile. */
    apr_table_set(m, "dg-ref-key", "a/b/reference.bin");
    h5s3_result_reset(&res);
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "a/b/v2.zip.delta", m,
                                        pool), H5S3_E_INVALID);
    ck_assert_ptr_nonnull(res.detail);
    /* The bare legacy spelling is the same field. */
    m = apr_table_make(pool, 4);
    apr_table_set(m, "ref_path", "/etc/passwd");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "v2.zip.delta", m, pool),
                     H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "absolute"));
    /* Short enough alone, too long once put after the deltaspace. */
    longer = apr_palloc(pool, H5S3_S3_KEY_MAX + 1);
    memset(longer, 'r', H5S3_S3_KEY_MAX - 4);
    longer[H5S3_S3_KEY_MAX - 4] = '\0';
    m = apr_table_make(pool, 4);
    apr_table_set(m, "dg-ref-path", longer);
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "v2.zip.delta", m, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "abcdef/v2.zip.delta", m,
                                        pool), H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "longer"));
    /* A good one resolves inside the deltaspace; why is cleared. */
    apr_table_set(m, "dg-ref-path", "sub/reference.bin");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "a/b/v2.zip.delta", m,
                                        pool), APR_SUCCESS);
    ck_assert_ptr_null(res.detail);
    ck_assert_str_eq(d->ref_key, "a/b/sub/reference.bin");
    /* Only deltas follow a ref-path: a direct object ignores it. */
    apr_table_set(m, "dg-ref-path", "../x");
    apr_table_set(m, "dg-compression", "none");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "a/b/notes.txt", m, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_DIRECT);
    ck_assert_ptr_null(d->ref_key);
}
END_TEST

/* Other refusals carry a reason too. */
START_TEST(other_refusals_say_why)
{
    apr_table_t *m = apr_table_make(pool, 4);
    h5s3_dg_meta *d;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    apr_table_set(m, "dg-file-size", "-3");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "x.zip.delta", m, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "dg-file-size is not a byte count");
    m = apr_table_make(pool, 4);
    apr_table_set(m, "dg-ref-sha256", "xyz");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, &res, "x.zip.delta", m, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "dg-ref-sha256 is not a SHA-256 in hex");
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("dg_hostile", "core", &tc,
                          unit_setup, unit_teardown);

    tcase_add_test(tc, cache_name_known_value);
    tcase_add_test(tc, cache_name_depends_on_every_part);
    tcase_add_test(tc, cache_name_parts_do_not_run_together);
    tcase_add_test(tc, cache_name_never_holds_a_key);
    tcase_add_test(tc, ref_path_accepted);
    tcase_add_test(tc, ref_path_refused);
    tcase_add_test(tc, ref_path_length);
    tcase_add_test(tc, ref_path_in_metadata);
    tcase_add_test(tc, other_refusals_say_why);
    return unit_run(s);
}
