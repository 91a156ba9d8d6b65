/*
 * CSV cells and names: quoting, the formula guard that leaves plain
 * numbers alone, Python float spelling, file name segments.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "viewer/h5s3_csv.h"
#include "unit_common.h"

static char out[4096];
static apr_size_t outlen;

static apr_status_t sink(void *baton, const char *buf, apr_size_t len)
{
    (void)baton;
    memcpy(out + outlen, buf, len);
    outlen += len;
    out[outlen] = '\0';
    return APR_SUCCESS;
}

static const char *cell(const char *s)
{
    h5s3_csv_out o;

    outlen = 0;
    out[0] = '\0';
    ck_assert_int_eq(h5s3_csv_out_init(&o, sink, NULL), APR_SUCCESS);
    h5s3_csv_cell(&o, s, strlen(s));
    h5s3_csv_flush(&o);
    h5s3_csv_out_free(&o);
    return out;
}

START_TEST(test_cells)
{
    ck_assert_str_eq(cell("abc"), "abc");
    ck_assert_str_eq(cell("-5"), "-5");
    ck_assert_str_eq(cell("-1.5e-05"), "-1.5e-05");
    ck_assert_str_eq(cell("+3"), "+3");
    ck_assert_str_eq(cell("=SUM(A1)"), "'=SUM(A1)");
    ck_assert_str_eq(cell("  @x"), "'  @x");
    ck_assert_str_eq(cell("-x"), "'-x");
    ck_assert_str_eq(cell("-inf"), "'-inf");
    ck_assert_str_eq(cell("a,b"), "\"a,b\"");
    ck_assert_str_eq(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    ck_assert_str_eq(cell("l1\nl2"), "\"l1\nl2\"");
    ck_assert_str_eq(cell("=a,b"), "\"'=a,b\"");
}
END_TEST

START_TEST(test_plain_number)
{
    ck_assert(h5s3_csv_is_plain_number("12", 2));
    ck_assert(h5s3_csv_is_plain_number("-0.5", 4));
    ck_assert(h5s3_csv_is_plain_number("1e+16", 5));
    ck_assert(!h5s3_csv_is_plain_number("1e", 2));
    ck_assert(!h5s3_csv_is_plain_number("-", 1));
    ck_assert(!h5s3_csv_is_plain_number(" 1", 2));
    ck_assert(!h5s3_csv_is_plain_number("nan", 3));
}
END_TEST

static const char *f(double v)
{
    static char buf[64];
    h5s3_csv_float(buf, v);
    return buf;
}

START_TEST(test_float_repr)
{
    ck_assert_str_eq(f(0.0), "0.0");
    ck_assert_str_eq(f(-0.0), "-0.0");
    ck_assert_str_eq(f(0.1), "0.1");
    ck_assert_str_eq(f(1e-05), "1e-05");
    ck_assert_str_eq(f(0.0001), "0.0001");
    ck_assert_str_eq(f(10.0), "10.0");
    ck_assert_str_eq(f(1e16), "1e+16");
    ck_assert_str_eq(f(123456789012345678.0), "1.2345678901234568e+17");
    ck_assert_str_eq(f(1234567890123456.0), "1234567890123456.0");
    ck_assert_str_eq(f((double)0.1f), "0.10000000149011612");
    ck_assert_str_eq(f(-2.5), "-2.5");
    ck_assert_str_eq(f(1.0 / 3), "0.3333333333333333");
    ck_assert_str_eq(f(5e-324), "5e-324");
    ck_assert_str_eq(f(1.7976931348623157e308), "1.7976931348623157e+308");
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(h5s3_csv_filename("sample.h5", "/array_2d", "matrix",
                                       pool),
                     "sample.h5_array_2d_matrix_full.csv");
    ck_assert_str_eq(h5s3_csv_filename("dir/a b.h5", "/", "line", pool),
                     "a_b.h5_root_line_full.csv");
    ck_assert_str_eq(h5s3_csv_filename("__", "/g/d;x", "", pool),
                     "file_g_d_x_data_full.csv");
    ck_assert_str_eq(h5s3_csv_segment("\"x\"", "f", pool), "x");
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("csv", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, test_cells);
    tcase_add_test(tc, test_plain_number);
    tcase_add_test(tc, test_float_repr);
    tcase_add_test(tc, test_names);
    return unit_run(s);
}
