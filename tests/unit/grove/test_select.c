/*
 * h5grove selections as h5py applies them to a dataset of a given shape:
 * ints drop a dim (negative from the end), slices clamp like Python's,
 * missing trailing members select whole dims, errors are 422 messages.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "unit_common.h"

static const hsize_t shape3[3] = {4, 5, 6};

static h5s3_grove_sel parse_ok(const char *text, int ndim,
                               const hsize_t *shape)
{
    h5s3_grove_sel s;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_sel_parse(&s, &res, text, ndim, shape, pool),
                     APR_SUCCESS);
    return s;
}

static const char *parse_err(const char *text, int ndim,
                             const hsize_t *shape)
{
    h5s3_grove_sel s;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_sel_parse(&s, &res, text, ndim, shape, pool),
                     H5S3_E_INVALID);
    ck_assert_ptr_nonnull(res.detail);
    return res.detail;
}

START_TEST(test_all)
{
    h5s3_grove_sel s = parse_ok(NULL, 3, shape3);

    ck_assert_int_eq(s.out_ndim, 3);
    ck_assert_int_eq(s.nelem, 120);
    ck_assert_int_eq(s.count[2], 6);
    s = parse_ok("", 3, shape3);
    ck_assert_int_eq(s.nelem, 120);
    s = parse_ok(NULL, 0, NULL);
    ck_assert_int_eq(s.out_ndim, 0);
    ck_assert_int_eq(s.nelem, 1);
}
END_TEST

START_TEST(test_h5web_plane)
{
    /* H5Web's "0,:,:" and a truncated "1" */
    h5s3_grove_sel s = parse_ok("0,:,:", 3, shape3);

    ck_assert_int_eq(s.out_ndim, 2);
    ck_assert_int_eq(s.out_dims[0], 5);
    ck_assert_int_eq(s.out_dims[1], 6);
    ck_assert_int_eq(s.start[0], 0);
    ck_assert_int_eq(s.count[0], 1);
    ck_assert_int_eq(s.nelem, 30);
    s = parse_ok("1", 3, shape3);
    ck_assert_int_eq(s.out_ndim, 2);
    ck_assert_int_eq(s.start[0], 1);
    ck_assert_int_eq(s.nelem, 30);
    s = parse_ok("-1,2", 3, shape3);
    ck_assert_int_eq(s.start[0], 3);
    ck_assert_int_eq(s.start[1], 2);
    ck_assert_int_eq(s.out_ndim, 1);
    ck_assert_int_eq(s.out_dims[0], 6);
    s = parse_ok("1,2,3", 3, shape3);
    ck_assert_int_eq(s.out_ndim, 0);
    ck_assert_int_eq(s.nelem, 1);
}
END_TEST

START_TEST(test_slices)
{
    hsize_t n10[1] = {10};
    h5s3_grove_sel s = parse_ok("1:10:2", 1, n10);

    ck_assert_int_eq(s.start[0], 1);
    ck_assert_int_eq(s.stride[0], 2);
    ck_assert_int_eq(s.count[0], 5);       /* 1 3 5 7 9 */
    s = parse_ok("::3", 1, n10);
    ck_assert_int_eq(s.count[0], 4);       /* 0 3 6 9 */
    s = parse_ok("-3:", 1, n10);
    ck_assert_int_eq(s.start[0], 7);
    ck_assert_int_eq(s.count[0], 3);
    s = parse_ok(":-8", 1, n10);
    ck_assert_int_eq(s.count[0], 2);
    s = parse_ok("5:100", 1, n10);         /* clamped */
    ck_assert_int_eq(s.count[0], 5);
    s = parse_ok("7:3", 1, n10);           /* empty, not an error */
    ck_assert_int_eq(s.count[0], 0);
    ck_assert_int_eq(s.nelem, 0);
    ck_assert_int_eq(s.out_ndim, 1);
    s = parse_ok(" 2 : 4 ", 1, n10);
    ck_assert_int_eq(s.start[0], 2);
    ck_assert_int_eq(s.count[0], 2);
}
END_TEST

START_TEST(test_errors)
{
    hsize_t n10[1] = {10};

    ck_assert_str_eq(parse_err("0,0", 1, n10),
                     "0,0 has too many members to slice a 1D dataset");
    ck_assert_str_eq(parse_err("10", 1, n10),
                     "Index (10) out of range for (0-9)");
    ck_assert_str_eq(parse_err("-11", 1, n10),
                     "Index (-11) out of range for (0-9)");
    ck_assert_str_eq(parse_err("::0", 1, n10), "Step must be >= 1 (got 0)");
    ck_assert_str_eq(parse_err("::-1", 1, n10),
                     "Step must be >= 1 (got -1)");
    ck_assert_str_eq(parse_err("1:2:3:4", 1, n10),
                     "1:2:3:4 is not a valid slice");
    ck_assert_str_eq(parse_err("a", 1, n10),
                     "invalid literal for int() with base 10: 'a'");
    ck_assert_str_eq(parse_err("0,", 3, shape3),
                     "invalid literal for int() with base 10: ''");
    ck_assert_str_eq(parse_err("x:2", 1, n10), "x:2 is not a valid slice");
    ck_assert_str_eq(parse_err("0", 0, NULL),
                     "0 has too many members to slice a 0D dataset");
}
END_TEST

/* Counts from a hostile shape: a product that wrapped passed the caps
 * (16384 elements for (1, 16384, 2^50+1)) and drove /stats/ through
 * ~2^40 blocks.  Checked: over 2^64 is refused, a small slice is fine. */
START_TEST(test_counts_do_not_wrap)
{
    static const hsize_t wrap3[3] = {1, 16384, (1ULL << 50) + 1};
    static const hsize_t wrap0[3] = {1ULL << 33, 1ULL << 33, 1ULL << 33};
    static const hsize_t big[2] = {1ULL << 31, 1ULL << 31};
    h5s3_grove_sel s;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_sel_parse(&s, &res, NULL, 3, wrap3, pool),
                     H5S3_E_TOOLARGE);
    ck_assert_str_eq(res.detail, "The selection has more than 2^64 elements");
    h5s3_result_reset(&res);
    ck_assert_int_eq(h5s3_grove_sel_parse(&s, &res, "0:5", 3, wrap0, pool),
                     H5S3_E_TOOLARGE);
    ck_assert_ptr_nonnull(res.detail);
    s = parse_ok("0,0,0:10", 3, wrap3);
    ck_assert_uint_eq(s.nelem, 10);
    s = parse_ok("0,3,-4:", 3, wrap3);
    ck_assert_uint_eq(s.nelem, 4);
    ck_assert_uint_eq(s.start[2], (1ULL << 50) - 3);
    s = parse_ok(NULL, 2, big);
    ck_assert_uint_eq(s.nelem, 1ULL << 62);
    s = parse_ok("::3,0:0", 2, big);
    ck_assert_uint_eq(s.nelem, 0);
}
END_TEST

START_TEST(test_bool_arg)
{
    ck_assert_int_eq(h5s3_grove_bool_arg(NULL, 0), 0);
    ck_assert_int_eq(h5s3_grove_bool_arg("true", 0), 1);
    ck_assert_int_eq(h5s3_grove_bool_arg("", 0), 1);
    ck_assert_int_eq(h5s3_grove_bool_arg("FALSE", 1), 0);
    ck_assert_int_eq(h5s3_grove_bool_arg("0", 0), 1);   /* as h5grove */
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("grove_select", "core", &tc,
                          unit_setup, unit_teardown);

    tcase_add_test(tc, test_all);
    tcase_add_test(tc, test_h5web_plane);
    tcase_add_test(tc, test_slices);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_bool_arg);
    tcase_add_test(tc, test_counts_do_not_wrap);
    return unit_run(s);
}
