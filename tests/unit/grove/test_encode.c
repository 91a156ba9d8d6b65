/*
 * h5grove encodings: JSON numbers and strings as orjson writes them,
 * values of memory types built with H5Tcreate (complex as [re, im], bool
 * enums, strings, compounds, arrays), the .npy header NumPy reads, CSV as
 * np.savetxt writes it and the TIFF header layout.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "grove/h5s3_grove.h"
#include "unit_common.h"

static h5s3_grove_buf *newbuf(void)
{
    return h5s3_grove_buf_make(pool);
}

static const char *dbl(double v)
{
    h5s3_grove_buf *b = newbuf();

    h5s3_grove_put_double(b, v);
    return apr_pstrdup(pool, b->data);
}

static const char *flt(float v)
{
    h5s3_grove_buf *b = newbuf();

    h5s3_grove_put_float(b, v);
    return apr_pstrdup(pool, b->data);
}

START_TEST(test_numbers)
{
    ck_assert_str_eq(dbl(0.1), "0.1");
    ck_assert_str_eq(dbl(1.0), "1.0");
    ck_assert_str_eq(dbl(-2.5), "-2.5");
    ck_assert_str_eq(dbl(1.0 / 3), "0.3333333333333333");
    ck_assert_str_eq(dbl(1e100), "1e+100");
    ck_assert_str_eq(dbl(NAN), "null");
    ck_assert_str_eq(dbl(-INFINITY), "null");
    ck_assert_str_eq(flt(0.1f), "0.1");
    ck_assert_str_eq(flt(65504.0f), "65504.0");
    ck_assert_str_eq(flt(1.0f / 3), "0.33333334");
    ck_assert_str_eq(flt(INFINITY), "null");
}
END_TEST

START_TEST(test_strings)
{
    h5s3_grove_buf *b = newbuf();

    h5s3_grove_put_string(b, "a\"b\\c\n\x01\xc3\xa9", 9);
    ck_assert_str_eq(b->data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
    b = newbuf();
    h5s3_grove_put_string(b, "ok\xff\xfe" "end", 7);   /* errors=ignore */
    ck_assert_str_eq(b->data, "\"okend\"");
    b = newbuf();
    h5s3_grove_put_string(b, "\xe2\x82", 2);           /* truncated */
    ck_assert_str_eq(b->data, "\"\"");
}
END_TEST

START_TEST(test_values)
{
    h5s3_grove_buf *b = newbuf();
    int ints[6] = {1, -2, 3, 4, 5, 6};
    hsize_t dims[2] = {2, 3}, one = 2, zero[2] = {3, 0};
    double cplx[4] = {1.0, 2.0, -0.5, NAN};
    hid_t ct = H5Tcreate(H5T_COMPOUND, 16), bt, st;
    signed char bools[3] = {1, 0, 1};
    char fixed[2][4] = {{'a', 'b', 0, 0}, {'c', 'd', 'e', 'f'}};
    hsize_t three = 3;
    signed char v;

    h5s3_grove_values_json(b, H5T_NATIVE_INT, ints, 2, dims, 0);
    ck_assert_str_eq(b->data, "[[1,-2,3],[4,5,6]]");
    b = newbuf();
    h5s3_grove_values_json(b, H5T_NATIVE_INT, ints, 0, NULL, 0);
    ck_assert_str_eq(b->data, "1");
    b = newbuf();
    h5s3_grove_values_json(b, H5T_NATIVE_INT, NULL, 2, zero, 0);
    ck_assert_str_eq(b->data, "[[],[],[]]");

    H5Tinsert(ct, "r", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "i", 8, H5T_NATIVE_DOUBLE);
    b = newbuf();
    h5s3_grove_values_json(b, ct, cplx, 1, &one, 0);
    ck_assert_str_eq(b->data, "[[1.0,2.0],[-0.5,null]]");
    H5Tclose(ct);

    bt = H5Tenum_create(H5T_NATIVE_SCHAR);
    v = 0;
    H5Tenum_insert(bt, "FALSE", &v);
    v = 1;
    H5Tenum_insert(bt, "TRUE", &v);
    b = newbuf();
    h5s3_grove_values_json(b, bt, bools, 1, &three, 0);
    ck_assert_str_eq(b->data, "[true,false,true]");
    H5Tclose(bt);

    st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    b = newbuf();
    h5s3_grove_values_json(b, st, fixed, 1, &one, 0);
    ck_assert_str_eq(b->data, "[\"ab\",\"cdef\"]");
    H5Tclose(st);
}
END_TEST

START_TEST(test_array_flatten)
{
    hsize_t adims[1] = {3}, two = 2;
    hid_t at = H5Tarray_create2(H5T_NATIVE_SHORT, 1, adims);
    short v[6] = {1, 2, 3, 4, 5, 6};
    h5s3_grove_buf *b = newbuf();

    h5s3_grove_values_json(b, at, v, 1, &two, 0);
    ck_assert_str_eq(b->data, "[[1,2,3],[4,5,6]]");
    b = newbuf();
    h5s3_grove_values_json(b, at, v, 1, &two, 1);
    ck_assert_str_eq(b->data, "[1,2,3,4,5,6]");
    H5Tclose(at);
}
END_TEST

START_TEST(test_npy_header)
{
    h5s3_grove_buf *b = newbuf();
    hsize_t d2[2] = {3, 4}, d1[1] = {5};
    const char *want2 = "{'descr': '<f4', 'fortran_order': False, "
                        "'shape': (3, 4), }";

    h5s3_grove_npy_header(b, "<f4", 2, d2);
    ck_assert_int_eq(b->len % 64, 0);
    ck_assert_int_eq(memcmp(b->data, "\x93NUMPY\x01\x00", 8), 0);
    ck_assert_int_eq((unsigned char)b->data[8] | (b->data[9] << 8),
                     (int)b->len - 10);
    ck_assert_int_eq(memcmp(b->data + 10, want2, strlen(want2)), 0);
    ck_assert_int_eq(b->data[b->len - 1], '\n');
    b = newbuf();
    h5s3_grove_npy_header(b, "|b1", 1, d1);
    ck_assert_ptr_nonnull(strstr(b->data + 10, "'shape': (5,), }"));
    b = newbuf();
    h5s3_grove_npy_header(b, "<i8", 0, NULL);
    ck_assert_ptr_nonnull(strstr(b->data + 10, "'shape': (), }"));
}
END_TEST

START_TEST(test_csv)
{
    h5s3_grove_buf *b = newbuf();
    double v[4] = {1.0, -0.5, NAN, INFINITY}, im[2] = {2.0, -1.0};
    hsize_t d2[2] = {2, 2}, d1[1] = {2};

    h5s3_grove_csv(b, v, NULL, 2, d2);
    ck_assert_str_eq(b->data,
                     "1.000000000000000000e+00,-5.000000000000000000e-01\n"
                     "nan,inf\n");
    b = newbuf();
    h5s3_grove_csv(b, v, im, 1, d1);
    ck_assert_str_eq(b->data,
                     " (1.000000000000000000e+00+2.000000000000000000e+00j)\n"
                     " (-5.000000000000000000e-01+-1.000000000000000000e+00j)"
                     "\n");
}
END_TEST

START_TEST(test_tiff)
{
    h5s3_grove_buf *b = newbuf();

    h5s3_grove_tiff_header(b, 'f', 4, 3, 5);
    ck_assert_int_eq(b->len, 136);         /* pixels start at 136 */
    ck_assert_int_eq(memcmp(b->data, "II*\0\x08\0\0\0", 8), 0);
    ck_assert_int_eq(b->data[8], 10);      /* entries */
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("grove_encode", "core", &tc,
                          unit_setup_h5, unit_teardown);

    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_array_flatten);
    tcase_add_test(tc, test_npy_header);
    tcase_add_test(tc, test_csv);
    tcase_add_test(tc, test_tiff);
    return unit_run(s);
}
