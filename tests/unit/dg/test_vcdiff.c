/*
 * VCDIFF header parsing on deltas made by the real xdelta3, including
 * the gzip case where xdelta3 recompresses on decode (upstream issue #4).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "dg/h5s3_dg.h"
#include "unit_common.h"

static char dir[64];

static void setup(void)
{
    unit_setup();
    strcpy(dir, "/tmp/h5s3-vcdiff-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* Two related inputs, plain and as gzip'd tarballs. */
    unit_sh("cd %s && head -c 300000 /dev/urandom > a.bin && "
            "(cat a.bin; echo changed) > b.bin && "
            "tar czf v1.tgz a.bin && tar czf v2.tgz a.bin b.bin",
            dir);
}

static void teardown(void)
{
    unit_sh("rm -rf %s", dir);
    unit_teardown();
}

static h5s3_dg_vcdiff_header *parse_file(const char *name)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    unsigned char buf[4096];
    h5s3_dg_vcdiff_header *h = NULL;
    FILE *f = fopen(path, "rb");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    ck_assert_int_eq(h5s3_dg_vcdiff_parse(&h, buf, n, pool), APR_SUCCESS);
    return h;
}

START_TEST(plain_delta)
{
    h5s3_dg_vcdiff_header *h;

    unit_sh("cd %s && xdelta3 -e -f -9 -s a.bin b.bin d 2>/dev/null",
            dir);
    h = parse_file("d");
    ck_assert_int_eq(h->version, 0);
    ck_assert(h->indicator & H5S3_VCD_APPHEADER);
    ck_assert(h->indicator & H5S3_VCD_DECOMPRESS);
    ck_assert_int_eq(h->secondary_id, 2);           /* LZMA */
    ck_assert_str_eq(h->appheader, "b.bin//a.bin/");
    ck_assert_str_eq(h->tgtname, "b.bin");
    ck_assert_str_eq(h->srcname, "a.bin");
    ck_assert_str_eq(h->tgtcomp, "");
    ck_assert_str_eq(h->srccomp, "");
    ck_assert(!h5s3_dg_vcdiff_recompressed(h));
    ck_assert_uint_eq(h->header_len, 6 + 1 + strlen(h->appheader));
}
END_TEST

START_TEST(gzip_without_D_is_recompressed)
{
    h5s3_dg_vcdiff_header *h;

    unit_sh("cd %s && xdelta3 -e -f -9 -s v1.tgz v2.tgz d "
            "2>/dev/null", dir);
    h = parse_file("d");
    ck_assert_str_eq(h->tgtname, "v2.tgz");
    ck_assert_str_eq(h->tgtcomp, "G");
    ck_assert_str_eq(h->srcname, "v1.tgz");
    ck_assert_str_eq(h->srccomp, "G");
    ck_assert(h5s3_dg_vcdiff_recompressed(h));
}
END_TEST

START_TEST(gzip_with_D_is_exact)
{
    h5s3_dg_vcdiff_header *h;

    unit_sh("cd %s && xdelta3 -e -f -9 -D -s v1.tgz v2.tgz d",
            dir);
    h = parse_file("d");
    ck_assert_str_eq(h->tgtcomp, "");
    ck_assert_str_eq(h->srccomp, "");
    ck_assert(!h5s3_dg_vcdiff_recompressed(h));
}
END_TEST

START_TEST(our_encoder_uses_D)
{
    h5s3_dg_codec_opts opts = {dir, NULL, NULL, 0};
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_dg_xdelta_encode(&res, &opts,
        apr_pstrcat(pool, dir, "/v1.tgz", NULL),
        apr_pstrcat(pool, dir, "/v2.tgz", NULL),
        apr_pstrcat(pool, dir, "/ours", NULL), pool), APR_SUCCESS);
    ck_assert(!h5s3_dg_vcdiff_recompressed(parse_file("ours")));
}
END_TEST

START_TEST(no_source_no_secondary_no_appheader)
{
    h5s3_dg_vcdiff_header *h;

    unit_sh("cd %s && xdelta3 -e -f -S none b.bin d1", dir);
    h = parse_file("d1");
    ck_assert_int_eq(h->secondary_id, -1);
    ck_assert_str_eq(h->appheader, "b.bin/");
    ck_assert_str_eq(h->srcname, "");
    ck_assert(!h5s3_dg_vcdiff_recompressed(h));

    unit_sh("cd %s && xdelta3 -e -f -A -s a.bin b.bin d2",
            dir);
    h = parse_file("d2");
    ck_assert_ptr_null(h->appheader);
    ck_assert(!(h->indicator & H5S3_VCD_APPHEADER));
    ck_assert(!h5s3_dg_vcdiff_recompressed(h));
}
END_TEST

START_TEST(short_and_bad_input)
{
    static const unsigned char good[] = {
        0xD6, 0xC3, 0xC4, 0x00, 0x04, 0x05, 'a', '/', 'G', '/', 'b'
    };
    static const unsigned char bad[] = {'P', 'K', 3, 4, 0, 0};
    static const unsigned char reserved[] = {0xD6, 0xC3, 0xC4, 0x00, 0x08};
    h5s3_dg_vcdiff_header *h;
    apr_size_t n;

    for (n = 0; n < sizeof(good); n++)
        ck_assert_int_eq(h5s3_dg_vcdiff_parse(&h, good, n, pool),
                         APR_INCOMPLETE);
    ck_assert_int_eq(h5s3_dg_vcdiff_parse(&h, good, sizeof(good), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(h->tgtcomp, "G");
    ck_assert(h5s3_dg_vcdiff_recompressed(h));
    ck_assert_int_eq(h5s3_dg_vcdiff_parse(&h, bad, sizeof(bad), pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_dg_vcdiff_parse(&h, reserved, sizeof(reserved),
                                          pool), H5S3_E_INVALID);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("dg_vcdiff", "core", &tc, setup, teardown);

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plain_delta);
    tcase_add_test(tc, gzip_without_D_is_recompressed);
    tcase_add_test(tc, gzip_with_D_is_exact);
    tcase_add_test(tc, our_encoder_uses_D);
    tcase_add_test(tc, no_source_no_secondary_no_appheader);
    tcase_add_test(tc, short_and_bad_input);
    return unit_run(s);
}
