/*
 * HDF5 type -> NumPy/h5py spellings, for types built in memory with
 * H5Tcreate/H5Tcopy.  Expected strings are what NumPy 1.24 prints for the
 * dtype h5py 3.7 maps each type to.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_types.h"
#include "unit_common.h"

static const char *dstr(hid_t t)
{
    const char *s = NULL;

    ck_assert_int_eq(h5s3_h5_dtype_str(&s, t, pool), APR_SUCCESS);
    return s;
}

static const char *tstr(hid_t t)
{
    const char *s = NULL;

    ck_assert_int_eq(h5s3_h5_dtype_typestr(&s, t, pool), APR_SUCCESS);
    return s;
}

START_TEST(test_numbers)
{
    ck_assert_str_eq(dstr(H5T_STD_I8LE), "int8");
    ck_assert_str_eq(dstr(H5T_STD_U8BE), "uint8");   /* 1 byte: no order */
    ck_assert_str_eq(dstr(H5T_STD_I16LE), "int16");
    ck_assert_str_eq(dstr(H5T_STD_U32LE), "uint32");
    ck_assert_str_eq(dstr(H5T_STD_I64LE), "int64");
    ck_assert_str_eq(dstr(H5T_STD_U64LE), "uint64");
    ck_assert_str_eq(dstr(H5T_STD_I32BE), ">i4");
    ck_assert_str_eq(dstr(H5T_IEEE_F32LE), "float32");
    ck_assert_str_eq(dstr(H5T_IEEE_F64LE), "float64");
    ck_assert_str_eq(dstr(H5T_IEEE_F64BE), ">f8");
    ck_assert_str_eq(tstr(H5T_IEEE_F32LE), "<f4");
    ck_assert_str_eq(tstr(H5T_STD_I8LE), "|i1");
    ck_assert_str_eq(tstr(H5T_STD_U16LE), "<u2");
    ck_assert_str_eq(dstr(H5T_STD_B16LE), "uint16");  /* bitfield */
    ck_assert_str_eq(dstr(H5T_STD_B32BE), ">u4");
    ck_assert_str_eq(dstr(H5T_NATIVE_LDOUBLE), "float128");
}
END_TEST

START_TEST(test_float16)
{
    /* h5py's half float: IEEE F32 reshaped to 16 bits. */
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);

    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    ck_assert_str_eq(dstr(t), "float16");
    ck_assert_str_eq(tstr(t), "<f2");
    H5Tclose(t);
}
END_TEST

static hid_t bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char v = 0;

    H5Tenum_insert(t, "FALSE", &v);
    v = 1;
    H5Tenum_insert(t, "TRUE", &v);
    return t;
}

START_TEST(test_bool_and_enum)
{
    hid_t b = bool_type(), e = H5Tenum_create(H5T_STD_I32BE);
    int v = 7;

    ck_assert(h5s3_h5_type_is_bool(b));
    ck_assert_str_eq(dstr(b), "bool");
    ck_assert_str_eq(tstr(b), "|b1");
    H5Tenum_insert(e, "SEVEN", &v);
    ck_assert(!h5s3_h5_type_is_bool(e));
    ck_assert_str_eq(dstr(e), ">i4");          /* an enum is its base */
    H5Tclose(b);
    H5Tclose(e);
}
END_TEST

START_TEST(test_strings_opaque_refs)
{
    hid_t s = H5Tcopy(H5T_C_S1), v = H5Tcopy(H5T_C_S1);
    hid_t o = H5Tcreate(H5T_OPAQUE, 8);
    hid_t seq = H5Tvlen_create(H5T_NATIVE_INT);

    H5Tset_size(s, 10);
    H5Tset_size(v, H5T_VARIABLE);
    H5Tset_cset(v, H5T_CSET_UTF8);
    ck_assert_str_eq(dstr(s), "|S10");
    ck_assert_str_eq(dstr(v), "object");
    ck_assert_str_eq(tstr(v), "|O");
    ck_assert_str_eq(dstr(o), "|V8");
    ck_assert_str_eq(dstr(seq), "object");
    ck_assert_str_eq(dstr(H5T_STD_REF_OBJ), "object");
    ck_assert_str_eq(dstr(H5T_STD_REF_DSETREG), "object");
    H5Tclose(s);
    H5Tclose(v);
    H5Tclose(o);
    H5Tclose(seq);
}
END_TEST

static hid_t complex_type(hid_t f, size_t s)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, 2 * s);

    H5Tinsert(t, "r", 0, f);
    H5Tinsert(t, "i", s, f);
    return t;
}

START_TEST(test_complex)
{
    hid_t c8 = complex_type(H5T_IEEE_F32LE, 4);
    hid_t c16 = complex_type(H5T_IEEE_F64LE, 8);
    hid_t be = complex_type(H5T_IEEE_F64BE, 8);
    hid_t notc = H5Tcreate(H5T_COMPOUND, 8);

    H5Tinsert(notc, "re", 0, H5T_IEEE_F32LE);
    H5Tinsert(notc, "im", 4, H5T_IEEE_F32LE);
    ck_assert_str_eq(dstr(c8), "complex64");
    ck_assert_str_eq(dstr(c16), "complex128");
    ck_assert_str_eq(tstr(c16), "<c16");
    ck_assert_str_eq(dstr(be), ">c16");
    ck_assert_str_eq(dstr(notc), "[('re', '<f4'), ('im', '<f4')]");
    H5Tclose(c8);
    H5Tclose(c16);
    H5Tclose(be);
    H5Tclose(notc);
}
END_TEST

START_TEST(test_compound_forms)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, 12), pad = H5Tcreate(H5T_COMPOUND, 16);
    hid_t inner = H5Tcreate(H5T_COMPOUND, 4), nested;
    hid_t s3 = H5Tcopy(H5T_C_S1), arr, b = bool_type();
    hsize_t dims[2] = { 2, 3 };

    H5Tinsert(t, "a", 0, H5T_STD_I32LE);
    H5Tinsert(t, "b", 4, H5T_IEEE_F64LE);
    ck_assert_str_eq(dstr(t), "[('a', '<i4'), ('b', '<f8')]");
    ck_assert_str_eq(tstr(t), "|V12");

    H5Tinsert(pad, "a", 0, H5T_STD_I32LE);
    H5Tinsert(pad, "b", 8, H5T_IEEE_F64LE);
    ck_assert_str_eq(dstr(pad), "{'names': ['a', 'b'], 'formats': "
                     "['<i4', '<f8'], 'offsets': [0, 8], 'itemsize': 16}");

    H5Tset_size(s3, 3);
    H5Tinsert(inner, "x", 0, H5T_STD_I8LE);
    H5Tinsert(inner, "it's", 1, H5T_STD_U8LE);
    H5Tinsert(inner, "f", 2, b);
    H5Tinsert(inner, "y", 3, H5T_STD_I8LE);
    arr = H5Tarray_create2(H5T_IEEE_F32BE, 2, dims);
    nested = H5Tcreate(H5T_COMPOUND, 4 + 3 + 24);
    H5Tinsert(nested, "in", 0, inner);
    H5Tinsert(nested, "s", 4, s3);
    H5Tinsert(nested, "v", 7, arr);
    ck_assert_str_eq(dstr(nested),
                     "[('in', [('x', 'i1'), (\"it's\", 'u1'), ('f', '?'), "
                     "('y', 'i1')]), ('s', 'S3'), ('v', '>f4', (2, 3))]");
    ck_assert_str_eq(dstr(arr), "('>f4', (2, 3))");
    ck_assert_str_eq(tstr(arr), "|V24");
    H5Tclose(t);
    H5Tclose(pad);
    H5Tclose(inner);
    H5Tclose(nested);
    H5Tclose(s3);
    H5Tclose(arr);
    H5Tclose(b);
}
END_TEST

START_TEST(test_type_info)
{
    json_t *ti = NULL, *raw = NULL;

    ck_assert_int_eq(h5s3_h5_type_info(&ti, &raw, H5T_STD_I64LE, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(ti, "class")),
                     "Integer");
    ck_assert_str_eq(json_string_value(json_object_get(ti, "endianness")),
                     "native");
    ck_assert_int_eq(json_integer_value(json_object_get(ti, "size")), 64);
    ck_assert(json_is_true(json_object_get(ti, "signed")));
    ck_assert_int_eq(json_integer_value(json_object_get(raw, "type")), 7);
    ck_assert(json_is_true(json_object_get(raw, "littleEndian")));
    json_decref(ti);
    json_decref(raw);

    ck_assert_int_eq(h5s3_h5_type_info(&ti, &raw, H5T_IEEE_F32BE, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(ti, "endianness")),
                     "big-endian");
    ck_assert_ptr_null(json_object_get(ti, "signed"));
    ck_assert(json_is_false(json_object_get(raw, "littleEndian")));
    ck_assert_int_eq(json_integer_value(json_object_get(raw, "type")), 11);
    json_decref(ti);
    json_decref(raw);
}
END_TEST

START_TEST(test_grove_type)
{
    hid_t s = H5Tcopy(H5T_C_S1), arr;
    hsize_t dim = 3;
    json_t *j = NULL, *base;

    H5Tset_size(s, H5T_VARIABLE);
    H5Tset_cset(s, H5T_CSET_UTF8);
    ck_assert_int_eq(h5s3_h5_type_json(&j, s, pool), APR_SUCCESS);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "class")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "cset")), 1);
    ck_assert(json_is_true(json_object_get(j, "vlen")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "dtype")), "|O");
    json_decref(j);

    arr = H5Tarray_create2(H5T_STD_I16BE, 1, &dim);
    ck_assert_int_eq(h5s3_h5_type_json(&j, arr, pool), APR_SUCCESS);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "class")), 10);
    ck_assert_int_eq(json_integer_value(
                         json_array_get(json_object_get(j, "dims"), 0)), 3);
    base = json_object_get(j, "base");
    ck_assert_int_eq(json_integer_value(json_object_get(base, "order")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(base, "dtype")),
                     ">i2");
    json_decref(j);
    H5Tclose(s);
    H5Tclose(arr);
}
END_TEST

START_TEST(test_invalid)
{
    const char *s = "x";

    ck_assert_int_eq(h5s3_h5_dtype_str(&s, -1, pool), H5S3_E_INVALID);
    ck_assert_ptr_null(s);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_types", "core", &tc,
                          unit_setup_h5, unit_teardown);

    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_float16);
    tcase_add_test(tc, test_bool_and_enum);
    tcase_add_test(tc, test_strings_opaque_refs);
    tcase_add_test(tc, test_complex);
    tcase_add_test(tc, test_compound_forms);
    tcase_add_test(tc, test_type_info);
    tcase_add_test(tc, test_grove_type);
    tcase_add_test(tc, test_invalid);
    return unit_run(s);
}
