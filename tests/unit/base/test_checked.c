/*
 * Overflow-checked arithmetic (include/base/h5s3_checked.h): the ground
 * every hostile-file fix stands on.  The per-request limits and the
 * memory budget built on it are tested in tests/unit/hdf5/io/.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <apr_general.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"

START_TEST(mul_and_add_check_the_type_of_the_result)
{
    unsigned long long u64;
    unsigned u32;
    apr_size_t sz;
    apr_off_t off;

    ck_assert(H5S3_MUL(&u64, 1ULL << 32, 1ULL << 31));
    ck_assert_uint_eq(u64, 1ULL << 63);
    ck_assert(!H5S3_MUL(&u64, 1ULL << 32, 1ULL << 32));
    /* 16384 x (2^50 + 1): the product the preview wrapped. */
    ck_assert(!H5S3_MUL(&u64, 16384ULL, (1ULL << 50) + 1));
    /* Storing narrows: 65537 x 65536 fits 64 bits, not 32. */
    ck_assert(!H5S3_MUL(&u32, 65537ULL, 65536ULL));
    ck_assert(H5S3_MUL(&u32, 65535U, 65536U));
    ck_assert(!H5S3_ADD(&u64, UINT64_MAX, 1));
    ck_assert(H5S3_ADD(&sz, (apr_size_t)1 << 62, (apr_size_t)1 << 62));
    /* An address from a file plus a base must stay an apr_off_t. */
    ck_assert(!H5S3_ADD(&off, (apr_off_t)1, UINT64_MAX >> 1));
    ck_assert(H5S3_ADD(&off, (apr_off_t)512, 1024ULL));
    ck_assert_int_eq(off, 1536);
}
END_TEST

START_TEST(dims_product_wraps_no_shape)
{
    unsigned long long out = 7;
    unsigned long long wrap3[3] = {1, 16384, (1ULL << 50) + 1};
    unsigned long long wrap0[2] = {1ULL << 33, 1ULL << 33};
    unsigned long long big[2] = {1ULL << 31, 1ULL << 31};
    unsigned long long chunk[3] = {1ULL << 31, 1ULL << 31, 4};
    unsigned long long empty[3] = {1ULL << 40, 0, 1ULL << 40};

    ck_assert(!h5s3_dims_product(&out, wrap3, 3, 1, UINT64_MAX));
    ck_assert(!h5s3_dims_product(&out, wrap0, 2, 1, UINT64_MAX));
    ck_assert(h5s3_dims_product(&out, big, 2, 1, UINT64_MAX));
    ck_assert_uint_eq(out, 1ULL << 62);
    /* Chunk bytes: 2^66, 0 when wrapped, and over any cap. */
    ck_assert(!h5s3_dims_product(&out, chunk, 3, 4, UINT64_MAX));
    ck_assert(!h5s3_dims_product(&out, big, 2, 4, 256 * 1024 * 1024));
    ck_assert(h5s3_dims_product(&out, chunk + 2, 1, 4, 256));
    ck_assert_uint_eq(out, 16);
    /* A zero dim is an empty selection, whatever the others. */
    ck_assert(h5s3_dims_product(&out, empty, 3, 8, 1));
    ck_assert_uint_eq(out, 0);
    /* Rank 0 (a scalar): the element size. */
    ck_assert(h5s3_dims_product(&out, NULL, 0, 8, UINT64_MAX));
    ck_assert_uint_eq(out, 8);
}
END_TEST

START_TEST(ceil_div_and_slab_end_do_not_wrap)
{
    unsigned long long end;

    ck_assert_uint_eq(h5s3_ceil_div(10, 3), 4);
    ck_assert_uint_eq(h5s3_ceil_div(9, 3), 3);
    ck_assert_uint_eq(h5s3_ceil_div(0, 3), 0);
    ck_assert_uint_eq(h5s3_ceil_div(5, 0), 0);
    /* (a + b - 1) / b would give 0 here. */
    ck_assert_uint_eq(h5s3_ceil_div(UINT64_MAX, 512), (UINT64_MAX >> 9) + 1);
    ck_assert_uint_eq(h5s3_ceil_div(UINT64_MAX, UINT64_MAX), 1);

    ck_assert(h5s3_slab_end(&end, 5, 3, 4));    /* 5 8 11 14 */
    ck_assert_uint_eq(end, 15);
    ck_assert(h5s3_slab_end(&end, 7, 100, 0));
    ck_assert_uint_eq(end, 7);
    ck_assert(h5s3_slab_end(&end, UINT64_MAX - 1, 1, 1));
    ck_assert_uint_eq(end, UINT64_MAX);
    ck_assert(!h5s3_slab_end(&end, UINT64_MAX, 1, 1));
    ck_assert(!h5s3_slab_end(&end, 0, 1ULL << 40, 1ULL << 30));
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("checked", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, mul_and_add_check_the_type_of_the_result);
    tcase_add_test(tc, dims_product_wraps_no_shape);
    tcase_add_test(tc, ceil_div_and_slab_end_do_not_wrap);
    return unit_run(s);
}
