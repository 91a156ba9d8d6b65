/*
 * display_dims / fixed_indices parsing: the lenient preview rules and the
 * strict /data rules with the contract's exact messages.
 */
#include <check.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_select.h"
#include "unit_common.h"

static const hsize_t shape4[4] = {3, 4, 5, 6};

START_TEST(test_parse_int)
{
    apr_int64_t v;

    ck_assert_int_eq(h5s3_py_parse_int(&v, " -12 "), APR_SUCCESS);
    ck_assert_int_eq(v, -12);
    ck_assert_int_eq(h5s3_py_parse_int(&v, "1_000"), APR_SUCCESS);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(h5s3_py_parse_int(&v, "+7"), APR_SUCCESS);
    ck_assert_int_eq(v, 7);
    ck_assert_int_ne(h5s3_py_parse_int(&v, "1.5"), APR_SUCCESS);
    ck_assert_int_ne(h5s3_py_parse_int(&v, ""), APR_SUCCESS);
    ck_assert_int_ne(h5s3_py_parse_int(&v, "-"), APR_SUCCESS);
    ck_assert_int_ne(h5s3_py_parse_int(&v, "1__0"), APR_SUCCESS);
    ck_assert_int_ne(h5s3_py_parse_int(&v, "_1"), APR_SUCCESS);
    ck_assert_int_ne(h5s3_py_parse_int(&v, "abc"), APR_SUCCESS);
    ck_assert_int_ne(h5s3_py_parse_int(&v, "99999999999999999999999"),
                     APR_SUCCESS);
}
END_TEST

START_TEST(test_lenient_defaults)
{
    h5s3_h5_sel s;

    h5s3_h5_select_lenient(&s, 4, shape4, NULL, NULL);
    ck_assert_int_eq(s.row_dim, 2);
    ck_assert_int_eq(s.col_dim, 3);
    ck_assert_int_eq(s.index[0], 1);
    ck_assert_int_eq(s.index[1], 2);
}
END_TEST

START_TEST(test_lenient_drops_bad_parts)
{
    h5s3_h5_sel s;

    /* junk, out of range and duplicates dropped; negatives wrap */
    h5s3_h5_select_lenient(&s, 4, shape4, "x,9,-4,0,1", "1=-3,0:99,z,3=1");
    ck_assert_int_eq(s.row_dim, 0);
    ck_assert_int_eq(s.col_dim, 1);
    ck_assert_int_eq(s.index[2], 2);    /* default middle */
    ck_assert_int_eq(s.index[3], 1);
    /* one valid dim only: back to the last two */
    h5s3_h5_select_lenient(&s, 4, shape4, "1,1", "0=-5,1=99");
    ck_assert_int_eq(s.row_dim, 2);
    ck_assert_int_eq(s.col_dim, 3);
    ck_assert_int_eq(s.index[0], 0);    /* negative clamps to 0 */
    ck_assert_int_eq(s.index[1], 3);    /* clamped to size-1 */
    /* transposed order is kept */
    h5s3_h5_select_lenient(&s, 4, shape4, "3,1", NULL);
    ck_assert_int_eq(s.row_dim, 3);
    ck_assert_int_eq(s.col_dim, 1);
    ck_assert_int_eq(h5s3_h5_sel_rows(&s), 6);
    ck_assert_int_eq(h5s3_h5_sel_cols(&s), 4);
}
END_TEST

static const char *strict_err(const char *dd, const char *fi)
{
    h5s3_h5_sel s;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    if (h5s3_h5_select_strict(&s, &res, 4, shape4, dd, fi, pool)
            == APR_SUCCESS) {
        return "ok";
    }
    return res.detail;
}

START_TEST(test_strict_messages)
{
    ck_assert_str_eq(strict_err("0", NULL),
                     "display_dims must include two distinct dims");
    ck_assert_str_eq(strict_err("0,1,2", NULL),
                     "display_dims must include two distinct dims");
    ck_assert_str_eq(strict_err("1,-3", NULL),
                     "display_dims must include two distinct dims");
    ck_assert_str_eq(strict_err("a,1", NULL),
                     "Invalid display_dims parameter");
    ck_assert_str_eq(strict_err("0,4", NULL), "display_dims out of range");
    ck_assert_str_eq(strict_err("0,-5", NULL), "display_dims out of range");
    ck_assert_str_eq(strict_err(NULL, "0"),
                     "Invalid fixed_indices parameter");
    ck_assert_str_eq(strict_err(NULL, "0=x"),
                     "Invalid fixed_indices parameter");
    ck_assert_str_eq(strict_err(NULL, "7=0"),
                     "fixed_indices dim out of range");
    ck_assert_str_eq(strict_err(NULL, "1=4"),
                     "fixed_indices index out of range for dim 1");
    ck_assert_str_eq(strict_err(NULL, "-3=-5"),
                     "fixed_indices index out of range for dim 1");
    ck_assert_str_eq(strict_err("0,1", "0=99"), "ok"); /* display: dropped */
    ck_assert_str_eq(strict_err(" 2 , 3 ", "0:1, 1=-1"), "ok");
}
END_TEST

START_TEST(test_strict_wraps)
{
    h5s3_h5_sel s;
    h5s3_result res;
    json_t *j;
    char *txt;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_h5_select_strict(&s, &res, 4, shape4, "-1,-3",
                                           "0=-1", pool), APR_SUCCESS);
    ck_assert_int_eq(s.row_dim, 3);
    ck_assert_int_eq(s.col_dim, 1);
    ck_assert_int_eq(s.index[0], 2);
    ck_assert_int_eq(s.index[2], 2);
    j = h5s3_h5_sel_fixed_json(&s);
    txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(txt, "{\"0\":2,\"2\":2}");
    free(txt);
    json_decref(j);
    j = h5s3_h5_sel_dims_json(&s);
    txt = json_dumps(j, JSON_COMPACT);
    ck_assert_str_eq(txt, "[3,1]");
    free(txt);
    json_decref(j);
    /* 1-D: no display dims */
    {
        hsize_t n = 10;
        ck_assert_int_eq(h5s3_h5_select_strict(&s, &res, 1, &n, "0,1", NULL,
                                               pool), APR_SUCCESS);
        ck_assert_int_eq(s.row_dim, -1);
    }
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_select", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, test_parse_int);
    tcase_add_test(tc, test_lenient_defaults);
    tcase_add_test(tc, test_lenient_drops_bad_parts);
    tcase_add_test(tc, test_strict_messages);
    tcase_add_test(tc, test_strict_wraps);
    return unit_run(s);
}
