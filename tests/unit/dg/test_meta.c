/* DeltaGlider metadata and key conventions (docs/deltaglider-format.md §2, §3). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "dg/h5s3_dg.h"
#include "unit_common.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"

START_TEST(eligible_extensions)
{
    ck_assert(h5s3_dg_delta_eligible("a/v1.zip"));
    ck_assert(h5s3_dg_delta_eligible("a/V1.ZIP"));
    ck_assert(h5s3_dg_delta_eligible("x.tar.gz"));
    ck_assert(h5s3_dg_delta_eligible("x.tgz"));
    ck_assert(h5s3_dg_delta_eligible("pkg/app.JAR"));
    ck_assert(h5s3_dg_delta_eligible("i.iso"));
    ck_assert(!h5s3_dg_delta_eligible("notes.txt"));
    ck_assert(!h5s3_dg_delta_eligible("data.h5"));
    ck_assert(!h5s3_dg_delta_eligible("zip"));
    ck_assert(!h5s3_dg_delta_eligible("dir.zip/file"));
    ck_assert(!h5s3_dg_delta_eligible("a/.zip"));
}
END_TEST

START_TEST(keys)
{
    ck_assert(h5s3_dg_key_internal("reference.bin"));
    ck_assert(h5s3_dg_key_internal("P/reference.bin"));
    ck_assert(h5s3_dg_key_internal(".deltaglider/stats_quick.json"));
    ck_assert(h5s3_dg_key_internal("a/.deltaglider/tmp/x"));
    ck_assert(!h5s3_dg_key_internal("P/reference.bin.txt"));
    ck_assert(!h5s3_dg_key_internal("x.deltaglider/y"));
    ck_assert(h5s3_dg_key_is_delta("P/v1.zip.delta"));
    ck_assert(!h5s3_dg_key_is_delta("P/.delta"));
    ck_assert(!h5s3_dg_key_is_delta("P/v1.zip"));
    ck_assert_str_eq(h5s3_dg_logical_key("P/v1.zip.delta", pool), "P/v1.zip");
    ck_assert_str_eq(h5s3_dg_logical_key("P/n.txt", pool), "P/n.txt");
    ck_assert_str_eq(h5s3_dg_deltaspace("a/b/c.zip", pool), "a/b/");
    ck_assert_str_eq(h5s3_dg_deltaspace("c.zip", pool), "");
    ck_assert_str_eq(h5s3_dg_reference_key("a/b/c.zip", pool),
                     "a/b/reference.bin");
    ck_assert_str_eq(h5s3_dg_reference_key("c.zip", pool), "reference.bin");
}
END_TEST

START_TEST(alias_order)
{
    apr_table_t *m = apr_table_make(pool, 4);

    ck_assert_ptr_null(h5s3_dg_meta_get(m, "file-sha256", pool));
    apr_table_set(m, "file-sha256", "d");
    ck_assert_str_eq(h5s3_dg_meta_get(m, "file-sha256", pool), "d");
    apr_table_set(m, "file_sha256", "c");
    ck_assert_str_eq(h5s3_dg_meta_get(m, "file-sha256", pool), "c");
    apr_table_set(m, "dg_file_sha256", "b");
    ck_assert_str_eq(h5s3_dg_meta_get(m, "file-sha256", pool), "b");
    apr_table_set(m, "dg-file-sha256", "a");
    ck_assert_str_eq(h5s3_dg_meta_get(m, "file-sha256", pool), "a");
    ck_assert_ptr_null(h5s3_dg_meta_get(NULL, "file-sha256", pool));
}
END_TEST

START_TEST(delta_meta)
{
    apr_table_t *m = apr_table_make(pool, 8);
    h5s3_dg_meta *d;

    apr_table_set(m, "dg-tool", "deltaglider/6.1.2");
    apr_table_set(m, "dg-file-sha256", H2);
    apr_table_set(m, "dg-file-size", "123456");
    apr_table_set(m, "dg-ref-key", "P/reference.bin");
    apr_table_set(m, "dg-ref-sha256", H1);
    apr_table_set(m, "dg-delta-size", "77");
    apr_table_set(m, "dg-note", "zero-diff (reference identical)");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "P/v1.zip.delta", m, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_DELTA);
    ck_assert_int_eq(d->file_size, 123456);
    ck_assert_int_eq(d->delta_size, 77);
    /* Hashes are normalised to lower case. */
    ck_assert_str_eq(d->file_sha256, "abcdef0123456789abcdef0123456789"
                                     "abcdef0123456789abcdef0123456789");
    ck_assert_str_eq(d->ref_sha256, H1);
    ck_assert_str_eq(d->ref_key, "P/reference.bin");
    ck_assert(d->zero_diff);
}
END_TEST

START_TEST(legacy_and_proxy_meta)
{
    apr_table_t *m = apr_table_make(pool, 8);
    h5s3_dg_meta *d;

    /* Bare names of older writers, the proxy's relative ref-path. */
    apr_table_set(m, "file_sha256", H1);
    apr_table_set(m, "file-size", "10");
    apr_table_set(m, "dg-ref-path", "reference.bin");
    apr_table_set(m, "ref_sha256", H1);
    apr_table_set(m, "dg-note", "delta");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "a/b/v2.zip.delta", m, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_DELTA);
    ck_assert_str_eq(d->ref_key, "a/b/reference.bin");
    ck_assert_str_eq(d->file_sha256, H1);
    ck_assert_int_eq(d->file_size, 10);
    ck_assert(!d->zero_diff);

    /* No ref key at all: the deltaspace's reference. */
    m = apr_table_make(pool, 2);
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "v2.zip.delta", m, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(d->ref_key, "reference.bin");
    ck_assert_int_eq(d->file_size, -1);
    ck_assert_ptr_null(d->file_sha256);
}
END_TEST

START_TEST(kinds_and_bad_values)
{
    apr_table_t *m = apr_table_make(pool, 8);
    h5s3_dg_meta *d;

    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_PLAIN);
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", m, pool), APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_PLAIN);
    apr_table_set(m, "dg-compression", "none");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", m, pool), APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_DIRECT);
    ck_assert_str_eq(d->compression, "none");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "P/reference.bin", m, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(d->kind, H5S3_DG_REFERENCE);

    apr_table_set(m, "dg-file-size", "12x");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", m, pool), H5S3_E_INVALID);
    apr_table_set(m, "dg-file-size", "-1");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", m, pool), H5S3_E_INVALID);
    apr_table_set(m, "dg-file-size", "12");
    apr_table_set(m, "dg-file-sha256", "abc");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", m, pool), H5S3_E_INVALID);
    apr_table_set(m, "dg-file-sha256", H1 "0");
    ck_assert_int_eq(h5s3_dg_meta_parse(&d, NULL, "x.txt", m, pool), H5S3_E_INVALID);
}
END_TEST

/* The proxy's fields (docs/deltaglider-format.md §3.3). */
START_TEST(proxy_fields)
{
    apr_table_t *t = apr_table_make(pool, 16);
    h5s3_dg_meta *m;

    /* An encrypted passthrough: markers bare, user fields prefixed. */
    apr_table_set(t, "dg-tool", "deltaglider_proxy/1.19.0");
    apr_table_set(t, "dg-note", "passthrough");
    apr_table_set(t, "dg-md5", "0123456789abcdef0123456789abcdef");
    apr_table_set(t, "dg-multipart-etag", "\"abc-2\"");
    apr_table_set(t, "dg-encrypted", "aes-256-gcm-v1");
    apr_table_set(t, "dg-encryption-key-id", "kid-7");
    apr_table_set(t, "user-owner", "alice");
    apr_table_set(t, "user-dg-encrypted", "aes-256-gcm-v1");
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, "p/a.bin", t, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m->kind, H5S3_DG_DIRECT);
    ck_assert(m->encrypted);
    ck_assert_str_eq(m->encryption, "aes-256-gcm-v1");
    ck_assert_str_eq(m->encryption_key_id, "kid-7");
    ck_assert_str_eq(m->md5, "0123456789abcdef0123456789abcdef");
    ck_assert_str_eq(m->multipart_etag, "\"abc-2\"");
    ck_assert_ptr_null(m->native_encryption);
    ck_assert_str_eq(apr_table_get(m->user, "owner"), "alice");
    /* The proxy's own markers are not user metadata. */
    ck_assert_ptr_null(apr_table_get(m->user, "dg-encrypted"));
    ck_assert_int_eq(apr_table_elts(m->user)->nelts, 1);

    /* Markers kept inside the proxy's user map count as well. */
    t = apr_table_make(pool, 4);
    apr_table_set(t, "user-dg-encrypted", "aes-256-gcm-chunked-v1");
    apr_table_set(t, "user-dg-encryption-key-id", "kid-8");
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, "big.bin", t, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m->kind, H5S3_DG_DIRECT);
    ck_assert(m->encrypted);
    ck_assert_str_eq(m->encryption_key_id, "kid-8");
    ck_assert_int_eq(apr_table_elts(m->user)->nelts, 0);

    /* Natively encrypted: S3 decrypts, so not "encrypted" for us. */
    t = apr_table_make(pool, 4);
    apr_table_set(t, "dg-note", "passthrough");
    apr_table_set(t, "dg-encrypted-native", "sse-kms");
    apr_table_set(t, "dg-encrypted", "");
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, "n.txt", t, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m->kind, H5S3_DG_DIRECT);
    ck_assert(!m->encrypted);
    ck_assert_str_eq(m->native_encryption, "sse-kms");

    /* A delta with dg-note=delta keeps its kind and its user fields. */
    t = apr_table_make(pool, 8);
    apr_table_set(t, "dg-note", "delta");
    apr_table_set(t, "dg-ref-path", "reference.bin");
    apr_table_set(t, "user-build", "42");
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, "r/v2.zip.delta", t, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m->kind, H5S3_DG_DELTA);
    ck_assert_str_eq(m->ref_key, "r/reference.bin");
    ck_assert(!m->encrypted);
    ck_assert_str_eq(apr_table_get(m->user, "build"), "42");

    /* No metadata: plain, with an empty user map. */
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, "x.txt", NULL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(m->kind, H5S3_DG_PLAIN);
    ck_assert_ptr_nonnull(m->user);
    ck_assert(!m->encrypted);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("dg_meta", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, eligible_extensions);
    tcase_add_test(tc, keys);
    tcase_add_test(tc, alias_order);
    tcase_add_test(tc, delta_meta);
    tcase_add_test(tc, legacy_and_proxy_meta);
    tcase_add_test(tc, kinds_and_bad_values);
    tcase_add_test(tc, proxy_fields);
    return unit_run(s);
}
