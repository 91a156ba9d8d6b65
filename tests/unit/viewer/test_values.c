/*
 * Value sanitising: non-finite floats, Python's float/complex spellings,
 * UTF-8 with errors='ignore', and whole in-memory buffers of HDF5 types
 * turned into JSON that always serialises.
 */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "json/h5s3_json.h"
#include "viewer/h5s3_h5_values.h"
#include "unit_common.h"

/* Serialise and compare: also proves the JSON is valid (jansson refuses
 * to dump NaN). */
static void assert_json(json_t *j, const char *want)
{
    char *s;

    ck_assert_ptr_nonnull(j);
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    free(s);
    json_decref(j);
}

START_TEST(test_non_finite_is_null)
{
    assert_json(h5s3_json_real_or_null(NAN), "null");
    assert_json(h5s3_json_real_or_null(INFINITY), "null");
    assert_json(h5s3_json_real_or_null(-INFINITY), "null");
    assert_json(h5s3_json_real_or_null(2.5), "2.5");
}
END_TEST

START_TEST(test_py_float_repr)
{
    ck_assert_str_eq(h5s3_py_float_repr(0.1, pool), "0.1");
    ck_assert_str_eq(h5s3_py_float_repr(1.0, pool), "1.0");
    ck_assert_str_eq(h5s3_py_float_repr(-0.0, pool), "-0.0");
    ck_assert_str_eq(h5s3_py_float_repr(1e-5, pool), "1e-05");
    ck_assert_str_eq(h5s3_py_float_repr(0.0001, pool), "0.0001");
    ck_assert_str_eq(h5s3_py_float_repr(1e16, pool), "1e+16");
    ck_assert_str_eq(h5s3_py_float_repr(1e15, pool), "1000000000000000.0");
    ck_assert_str_eq(h5s3_py_float_repr(123.456, pool), "123.456");
    ck_assert_str_eq(h5s3_py_float_repr(1.5e300, pool), "1.5e+300");
    ck_assert_str_eq(h5s3_py_float_repr((double)0.1f, pool),
                     "0.10000000149011612");
    ck_assert_str_eq(h5s3_py_float_repr(NAN, pool), "nan");
    ck_assert_str_eq(h5s3_py_float_repr(-INFINITY, pool), "-inf");
}
END_TEST

START_TEST(test_py_complex_str)
{
    ck_assert_str_eq(h5s3_py_complex_str(1, 2, pool), "(1+2j)");
    ck_assert_str_eq(h5s3_py_complex_str(0, 1, pool), "1j");
    ck_assert_str_eq(h5s3_py_complex_str(0, -2.5, pool), "-2.5j");
    ck_assert_str_eq(h5s3_py_complex_str(-0.0, 1, pool), "(-0+1j)");
    ck_assert_str_eq(h5s3_py_complex_str(0.5, -1, pool), "(0.5-1j)");
    ck_assert_str_eq(h5s3_py_complex_str(NAN, 0, pool), "(nan+0j)");
    ck_assert_str_eq(h5s3_py_complex_str(1, INFINITY, pool), "(1+infj)");
    ck_assert_str_eq(h5s3_py_complex_str(1e16, -2.5e-7, pool),
                     "(1e+16-2.5e-07j)");
}
END_TEST

START_TEST(test_utf8_ignore)
{
    assert_json(h5s3_json_utf8("ok\xff\xfe" "end", 7), "\"okend\"");
    assert_json(h5s3_json_utf8("\xc3\xa9", 2), "\"\\u00E9\"");
    /* truncated, overlong and surrogate sequences are all dropped */
    assert_json(h5s3_json_utf8("a\xe2\x82", 3), "\"a\"");
    assert_json(h5s3_json_utf8("\xc0\xafx", 3), "\"x\"");
    assert_json(h5s3_json_utf8("\xed\xa0\x80y", 4), "\"y\"");
    assert_json(h5s3_json_utf8("\xf0\x9f\x98\x80", 4),
                "\"\\uD83D\\uDE00\"");
    assert_json(h5s3_json_utf8("a\0b", 3), "\"a\\u0000b\"");
    ck_assert_str_eq(h5s3_utf8_clean("n\xffm", pool), "nm");
}
END_TEST

START_TEST(test_doubles_with_nan)
{
    double v[4] = { 1.5, NAN, -INFINITY, 2 };
    hsize_t dims[2] = { 2, 2 };
    json_t *j = NULL;

    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, H5T_NATIVE_DOUBLE, v, 2,
                                         dims, pool), APR_SUCCESS);
    assert_json(j, "[[1.5,null],[null,2.0]]");
}
END_TEST

START_TEST(test_ints_and_scalar)
{
    unsigned long long big = 18446744073709551615ULL;
    long long neg = -5;
    json_t *j = NULL;

    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, H5T_NATIVE_LLONG, &neg, 0,
                                         NULL, pool), APR_SUCCESS);
    assert_json(j, "-5");
    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, H5T_NATIVE_ULLONG, &big, 0,
                                         NULL, pool), APR_SUCCESS);
    ck_assert(json_is_real(j));
    ck_assert(json_real_value(j) == 18446744073709551615.0);
    json_decref(j);
}
END_TEST

START_TEST(test_compound_complex_bool_strings)
{
    struct {
        double r, i;
    } c = { 1, 2 };
    struct rec {
        int a;
        float f;
        char s[4];
    } r = { 7, NAN, "ab" };
    hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(c));
    hid_t rt = H5Tcreate(H5T_COMPOUND, sizeof(r));
    hid_t s4 = H5Tcopy(H5T_C_S1), bt = H5Tenum_create(H5T_NATIVE_INT8);
    signed char fv = 0, tv = 1, bools[3] = { 1, 0, 1 };
    hsize_t three = 3;
    json_t *j = NULL;

    H5Tinsert(ct, "r", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "i", 8, H5T_NATIVE_DOUBLE);
    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, ct, &c, 0, NULL, pool),
                     APR_SUCCESS);
    assert_json(j, "\"(1+2j)\"");

    H5Tset_size(s4, 4);
    H5Tinsert(rt, "a", offsetof(struct rec, a), H5T_NATIVE_INT);
    H5Tinsert(rt, "f", offsetof(struct rec, f), H5T_NATIVE_FLOAT);
    H5Tinsert(rt, "s", offsetof(struct rec, s), s4);
    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, rt, &r, 0, NULL, pool),
                     APR_SUCCESS);
    assert_json(j, "[7,null,\"ab\"]");

    H5Tenum_insert(bt, "FALSE", &fv);
    H5Tenum_insert(bt, "TRUE", &tv);
    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, bt, bools, 1, &three, pool),
                     APR_SUCCESS);
    assert_json(j, "[true,false,true]");
    H5Tclose(ct);
    H5Tclose(rt);
    H5Tclose(s4);
    H5Tclose(bt);
}
END_TEST

START_TEST(test_vlen_and_array)
{
    int a[3] = { 1, 2, 3 };
    hvl_t v = { 3, a };
    hid_t vt = H5Tvlen_create(H5T_NATIVE_INT);
    hsize_t d2[2] = { 1, 3 };
    hid_t at = H5Tarray_create2(H5T_NATIVE_INT, 2, d2);
    hid_t st = H5Tcopy(H5T_C_S1);
    const char *strs[2] = { "x", NULL };
    hsize_t two = 2;
    json_t *j = NULL;

    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, vt, &v, 0, NULL, pool),
                     APR_SUCCESS);
    assert_json(j, "[1,2,3]");
    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, at, a, 0, NULL, pool),
                     APR_SUCCESS);
    assert_json(j, "[[1,2,3]]");
    H5Tset_size(st, H5T_VARIABLE);
    ck_assert_int_eq(h5s3_h5_values_json(&j, -1, st, strs, 1, &two, pool),
                     APR_SUCCESS);
    assert_json(j, "[\"x\",\"\"]");
    H5Tclose(vt);
    H5Tclose(at);
    H5Tclose(st);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_values", "core", &tc,
                          unit_setup_h5, unit_teardown);

    tcase_add_test(tc, test_non_finite_is_null);
    tcase_add_test(tc, test_py_float_repr);
    tcase_add_test(tc, test_py_complex_str);
    tcase_add_test(tc, test_utf8_ignore);
    tcase_add_test(tc, test_doubles_with_nan);
    tcase_add_test(tc, test_ints_and_scalar);
    tcase_add_test(tc, test_compound_complex_bool_strings);
    tcase_add_test(tc, test_vlen_and_array);
    return unit_run(s);
}
