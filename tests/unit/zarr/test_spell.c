/*
 * The pure parts of the Zarr store view (docs/zarr.md): dtype strings of
 * HDF5 types in their stored byte order, the numcodecs codecs of filter
 * pipelines, chunk keys and their errors, numbers as Zarr spells them,
 * numcodecs' VLenUTF8 bytes, synthetic chunks of contiguous datasets.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>
#include <hdf5.h>
#include <jansson.h>

#include "base/h5s3_errors.h"
#include "json/h5s3_json.h"
#include "zarr/h5s3_zarr.h"
#include "zarr/h5s3_zarr_private.h"
#include "unit_common.h"

/* The dtype of type t as JSON text, or the failure's detail. */
static const char *dtype_of(hid_t t)
{
    h5s3_zarr_type z;
    h5s3_result res;
    char *s;
    const char *out;

    h5s3_result_init(&res, pool);
    if (h5s3_zarr_type_of(&z, &res, t) != APR_SUCCESS) {
        return apr_pstrcat(pool, "ERR ", res.detail ? res.detail : "",
                           NULL);
    }
    s = json_dumps(z.dtype, JSON_COMPACT | JSON_ENCODE_ANY);
    out = apr_pstrdup(pool, s);
    free(s);
    h5s3_zarr_type_close(&z);
    return out;
}

START_TEST(test_numeric_dtypes_keep_byte_order)
{
    ck_assert_str_eq(dtype_of(H5T_STD_I8LE), "\"|i1\"");
    ck_assert_str_eq(dtype_of(H5T_STD_U8BE), "\"|u1\"");
    ck_assert_str_eq(dtype_of(H5T_STD_I16BE), "\">i2\"");
    ck_assert_str_eq(dtype_of(H5T_STD_U32LE), "\"<u4\"");
    ck_assert_str_eq(dtype_of(H5T_STD_I64LE), "\"<i8\"");
    ck_assert_str_eq(dtype_of(H5T_IEEE_F32BE), "\">f4\"");
    ck_assert_str_eq(dtype_of(H5T_IEEE_F64LE), "\"<f8\"");
    ck_assert_str_eq(dtype_of(H5T_IEEE_F64BE), "\">f8\"");
}
END_TEST

START_TEST(test_other_dtypes)
{
    hid_t s = H5Tcopy(H5T_C_S1), v = H5Tcopy(H5T_C_S1), e, c, cx, h;
    signed char f = 0, t = 1;
    int red = 0;

    H5Tset_size(s, 10);
    ck_assert_str_eq(dtype_of(s), "\"|S10\"");
    H5Tset_size(v, H5T_VARIABLE);
    ck_assert_str_eq(dtype_of(v), "\"|O\"");
    /* h5py's bool */
    e = H5Tenum_create(H5T_NATIVE_SCHAR);
    H5Tenum_insert(e, "FALSE", &f);
    H5Tenum_insert(e, "TRUE", &t);
    ck_assert_str_eq(dtype_of(e), "\"|b1\"");
    H5Tclose(e);
    /* another enum: its base type */
    e = H5Tenum_create(H5T_STD_I32BE);
    H5Tenum_insert(e, "RED", &red);
    ck_assert_str_eq(dtype_of(e), "\">i4\"");
    H5Tclose(e);
    /* a compound with padding, members listed packed, by offset */
    c = H5Tcreate(H5T_COMPOUND, 40);
    H5Tinsert(c, "b", 16, H5T_IEEE_F64BE);
    H5Tinsert(c, "a", 0, H5T_STD_I32LE);
    H5Tinsert(c, "s", 24, s);
    ck_assert_str_eq(dtype_of(c),
                     "[[\"a\",\"<i4\"],[\"b\",\">f8\"],[\"s\",\"|S10\"]]");
    /* h5py's complex */
    cx = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(cx, "r", 0, H5T_IEEE_F64LE);
    H5Tinsert(cx, "i", 8, H5T_IEEE_F64LE);
    ck_assert_str_eq(dtype_of(cx), "\"<c16\"");
    /* a compound holding a vlen string: left out, the member named */
    H5Tclose(c);
    c = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(c, "name", 0, v);
    ck_assert_ptr_nonnull(strstr(dtype_of(c), "member 'name'"));
    /* a custom float (24 bits of mantissa in 4 bytes is IEEE; 3 is not) */
    h = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(h, 31, 24, 7, 0, 24);
    ck_assert_str_eq(dtype_of(h), "ERR a number format NumPy does not have");
    H5Tclose(h);
    H5Tclose(c);
    H5Tclose(cx);
    H5Tclose(s);
    H5Tclose(v);
}
END_TEST

START_TEST(test_left_out_types_say_why)
{
    hid_t vl = H5Tvlen_create(H5T_NATIVE_INT);
    hid_t op = H5Tcreate(H5T_OPAQUE, 4);
    hsize_t three = 3;
    hid_t arr = H5Tarray_create2(H5T_NATIVE_INT, 1, &three);

    ck_assert_str_eq(dtype_of(H5T_STD_REF_OBJ),
                     "ERR reference data has no Zarr v2 dtype");
    ck_assert_str_eq(dtype_of(op), "ERR opaque data has no Zarr v2 dtype");
    ck_assert_str_eq(dtype_of(vl),
                     "ERR variable-length sequences have no Zarr v2 dtype");
    ck_assert_str_eq(dtype_of(arr), "ERR array types are not served");
    H5Tclose(vl);
    H5Tclose(op);
    H5Tclose(arr);
}
END_TEST

static const char *codecs(const h5s3_zarr_filter *f, int n, size_t elem)
{
    json_t *fl, *comp, *both;
    char *s;
    const char *out;
    int pass = h5s3_zarr_codecs(&fl, &comp, f, n, elem);

    both = json_pack("{s:b, s:o, s:o}", "pass", pass, "filters", fl,
                     "compressor", comp);
    s = json_dumps(both, JSON_COMPACT | JSON_SORT_KEYS);
    out = apr_pstrdup(pool, s);
    free(s);
    json_decref(both);
    return out;
}

START_TEST(test_codecs_of_pipelines)
{
    h5s3_zarr_filter shuf = {H5Z_FILTER_SHUFFLE, 1, {4}};
    h5s3_zarr_filter gz = {H5Z_FILTER_DEFLATE, 1, {6}};
    h5s3_zarr_filter bz = {307, 1, {9}};
    h5s3_zarr_filter fl32 = {H5Z_FILTER_FLETCHER32, 0, {0}};
    h5s3_zarr_filter lz4 = {32004, 0, {0}};
    h5s3_zarr_filter blosc = {32001, 7, {2, 2, 4, 0, 5, 1, 1}};
    h5s3_zarr_filter p1[] = {shuf, gz}, p2[] = {gz, shuf}, p3[] = {shuf,
                                                                   gz, fl32};

    ck_assert_str_eq(codecs(NULL, 0, 4), "{\"compressor\":null,"
                     "\"filters\":null,\"pass\":true}");
    ck_assert_str_eq(codecs(p1, 2, 8), "{\"compressor\":{\"id\":\"zlib\","
                     "\"level\":6},\"filters\":[{\"elementsize\":8,"
                     "\"id\":\"shuffle\"}],\"pass\":true}");
    ck_assert_str_eq(codecs(&bz, 1, 4), "{\"compressor\":{\"id\":\"bz2\","
                     "\"level\":9},\"filters\":null,\"pass\":true}");
    ck_assert_str_eq(codecs(&blosc, 1, 4), "{\"compressor\":{\"blocksize\":0,"
                     "\"clevel\":5,\"cname\":\"lz4\",\"id\":\"blosc\","
                     "\"shuffle\":1},\"filters\":null,\"pass\":true}");
    /* Decoded on the server: no exact equivalent, or not in this order. */
    ck_assert_str_eq(codecs(p2, 2, 4), "{\"compressor\":null,"
                     "\"filters\":null,\"pass\":false}");
    ck_assert_str_eq(codecs(p3, 3, 4), "{\"compressor\":null,"
                     "\"filters\":null,\"pass\":false}");
    ck_assert_str_eq(codecs(&lz4, 1, 4), "{\"compressor\":null,"
                     "\"filters\":null,\"pass\":false}");
}
END_TEST

static apr_status_t key(hsize_t *idx, const char *k, int rank,
                        const hsize_t *grid, const char **detail)
{
    h5s3_result res;
    apr_status_t rv;

    h5s3_result_init(&res, pool);
    rv = h5s3_zarr_chunk_key(idx, &res, k, rank, grid);
    *detail = res.detail;
    return rv;
}

START_TEST(test_chunk_keys)
{
    hsize_t grid[3] = {4, 1, 10}, idx[3];
    const char *d;

    ck_assert_int_eq(key(idx, "3.0.9", 3, grid, &d), APR_SUCCESS);
    ck_assert_uint_eq(idx[0], 3);
    ck_assert_uint_eq(idx[2], 9);
    ck_assert_int_eq(key(idx, "0", 0, grid, &d), APR_SUCCESS);
    ck_assert_int_eq(key(idx, "1", 0, grid, &d), H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(d, "single chunk '0'"));
    ck_assert_int_eq(key(idx, "4.0.0", 3, grid, &d), H5S3_E_NOPATH);
    ck_assert_ptr_nonnull(strstr(d, "index 0 must be below 4"));
    ck_assert_int_eq(key(idx, "99999999999999999999999.0.0", 3, grid, &d),
                     H5S3_E_NOPATH);
    ck_assert_int_eq(key(idx, "18446744073709551615.0.0", 3, grid, &d),
                     H5S3_E_NOPATH);
    {
        static const char *bad[] = {"", "0.0", "0.0.0.0", "0..0", ".0.0",
                                    "0.0.", "0.0.x", "-1.0.0", "+1.0.0",
                                    "0 .0.0", "0/0/0", "0.0.0 ", NULL};
        int i;
        for (i = 0; bad[i]; i++) {
            ck_assert_msg(key(idx, bad[i], 3, grid, &d) == H5S3_E_INVALID,
                          "key '%s'", bad[i]);
            ck_assert_ptr_nonnull(strstr(d, "3 decimal indices"));
        }
    }
}
END_TEST

START_TEST(test_numbers_as_zarr_spells_them)
{
    json_t *j;

    j = h5s3_zarr_real(NAN);
    ck_assert_str_eq(json_string_value(j), "NaN");
    json_decref(j);
    j = h5s3_zarr_real(INFINITY);
    ck_assert_str_eq(json_string_value(j), "Infinity");
    json_decref(j);
    j = h5s3_zarr_real(-INFINITY);
    ck_assert_str_eq(json_string_value(j), "-Infinity");
    json_decref(j);
    j = h5s3_zarr_real(-2.5);
    ck_assert(json_is_real(j) && json_real_value(j) == -2.5);
    json_decref(j);
}
END_TEST

START_TEST(test_vlen_utf8_bytes)
{
    char *strs[] = {"a", NULL, "\xc3\xa9t\xc3\xa9"};
    static const char want[] = "\x03\0\0\0" "\x01\0\0\0" "a" "\0\0\0\0"
                               "\x05\0\0\0" "\xc3\xa9t\xc3\xa9";
    char *out;
    apr_size_t len;

    ck_assert_int_eq(h5s3_zarr_vlen_utf8(&out, &len, strs, 3, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(want) - 1);
    ck_assert(memcmp(out, want, len) == 0);
    ck_assert_int_eq(h5s3_zarr_vlen_utf8(&out, &len, strs, 0, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(h5s3_zarr_vlen_utf8(&out, &len, strs,
                                         0x100000000ULL, pool),
                     H5S3_E_TOOLARGE);
}
END_TEST

START_TEST(test_contiguous_rows)
{
    ck_assert_uint_eq(h5s3_zarr_contig_rows(300, 80), 300);
    ck_assert_uint_eq(h5s3_zarr_contig_rows(1000000, 8), 524288);
    ck_assert_uint_eq(h5s3_zarr_contig_rows(10, 64ULL << 20), 1);
    ck_assert_uint_eq(h5s3_zarr_contig_rows(0, 8), 1);
    ck_assert_uint_eq(h5s3_zarr_contig_rows(7, APR_UINT64_MAX), 1);
}
END_TEST

START_TEST(test_hidden_attributes)
{
    ck_assert(h5s3_zarr_attr_hidden("DIMENSION_LIST"));
    ck_assert(h5s3_zarr_attr_hidden("_Netcdf4Dimid"));
    ck_assert(h5s3_zarr_attr_hidden("_NCProperties"));
    ck_assert(!h5s3_zarr_attr_hidden("_FillValue"));
    ck_assert(!h5s3_zarr_attr_hidden("scale_factor"));
    ck_assert(!h5s3_zarr_attr_hidden("units"));
}
END_TEST

/* The fill value bytes b of type t as .zarray spells them. */
static const char *fill(hid_t t, const void *b)
{
    h5s3_zarr_type z;
    h5s3_result res;
    json_t *j;
    char *s;
    apr_size_t len;
    const char *out;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_zarr_type_of(&z, &res, t), APR_SUCCESS);
    j = h5s3_zarr_fill_json(b, &z, pool);
    /* The server's dump: raw numbers spliced in, a newline after. */
    ck_assert_int_eq(h5s3_json_dump(&s, &len, j, pool), APR_SUCCESS);
    ck_assert(len >= 2 && s[len - 1] == '\n');
    out = apr_pstrndup(pool, s, len - 1);
    json_decref(j);
    h5s3_zarr_type_close(&z);
    return out;
}

START_TEST(test_fill_values_as_zarr_spells_them)
{
    static const unsigned char be_i4[] = {0xff, 0xff, 0xff, 0xf9};
    static const unsigned char le_u8[] = {0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff};
    static const unsigned char be_f8_nan[] = {0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    static const unsigned char le_f4_ninf[] = {0, 0, 0x80, 0xff};
    static const unsigned char half_one[] = {0x00, 0x3c};
    static const unsigned char bytes[] = "ab\0";
    static const double cx[2] = {1.5, -2.0};
    hid_t h = H5Tcopy(H5T_IEEE_F32LE), s = H5Tcopy(H5T_C_S1), c;
    signed char one = 1, zero = 0;
    hid_t e = H5Tenum_create(H5T_NATIVE_SCHAR);

    ck_assert_str_eq(fill(H5T_STD_I32BE, be_i4), "-7");
    ck_assert_str_eq(fill(H5T_STD_U64LE, le_u8), "18446744073709551615");
    ck_assert_str_eq(fill(H5T_IEEE_F64BE, be_f8_nan), "\"NaN\"");
    ck_assert_str_eq(fill(H5T_IEEE_F32LE, le_f4_ninf), "\"-Infinity\"");
    /* float16: 1.0 */
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_precision(h, 16);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    ck_assert_str_eq(fill(h, half_one), "1.0");
    H5Tset_size(s, 3);
    ck_assert_str_eq(fill(s, bytes), "\"YWIA\"");
    H5Tenum_insert(e, "FALSE", &zero);
    H5Tenum_insert(e, "TRUE", &one);
    ck_assert_str_eq(fill(e, &one), "true");
    c = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(c, "r", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(c, "i", 8, H5T_NATIVE_DOUBLE);
    ck_assert_str_eq(fill(c, cx), "[1.5,-2.0]");
    H5Tclose(c);
    H5Tclose(e);
    H5Tclose(s);
    H5Tclose(h);
}
END_TEST

START_TEST(test_shuffle_and_stored_zlib)
{
    static const unsigned char want_abc[] = {
        0x78, 0x01, 0x01, 0x03, 0x00, 0xfc, 0xff, 'a', 'b', 'c',
        0x02, 0x4d, 0x01, 0x27     /* Adler-32 of "abc" */
    };
    const char in[] = "AaBbCcD";
    char sh[7], out[32], *big;
    apr_size_t n, size;

    h5s3_zarr_shuffle(sh, in, 7, 2);
    ck_assert(memcmp(sh, "ABCabcD", 7) == 0);
    ck_assert_int_eq(h5s3_zarr_zlib_stored_size(&size, 3), APR_SUCCESS);
    ck_assert_uint_eq(size, sizeof(want_abc));
    n = h5s3_zarr_zlib_stored(out, "abc", 3);
    ck_assert_uint_eq(n, sizeof(want_abc));
    ck_assert(memcmp(out, want_abc, n) == 0);
    /* Empty: one final empty block and Adler-32 1. */
    ck_assert_int_eq(h5s3_zarr_zlib_stored_size(&size, 0), APR_SUCCESS);
    ck_assert_uint_eq(h5s3_zarr_zlib_stored(out, "", 0), size);
    ck_assert_uint_eq(size, 11);
    ck_assert(memcmp(out + 7, "\0\0\0\1", 4) == 0);
    /* Two blocks past 65535 bytes: only the second is final. */
    ck_assert_int_eq(h5s3_zarr_zlib_stored_size(&size, 70000), APR_SUCCESS);
    ck_assert_uint_eq(size, 70000 + 2 * 5 + 6);
    big = apr_pcalloc(pool, size);
    n = h5s3_zarr_zlib_stored(big, apr_pcalloc(pool, 70000), 70000);
    ck_assert_uint_eq(n, size);
    ck_assert_int_eq(big[2], 0);
    ck_assert_int_eq(big[2 + 5 + 65535], 1);
    ck_assert_int_eq(h5s3_zarr_zlib_stored_size(&size, APR_SIZE_MAX),
                     H5S3_E_TOOLARGE);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("zarr_spell", "core", &tc,
                          unit_setup, unit_teardown);

    tcase_add_test(tc, test_numeric_dtypes_keep_byte_order);
    tcase_add_test(tc, test_other_dtypes);
    tcase_add_test(tc, test_left_out_types_say_why);
    tcase_add_test(tc, test_codecs_of_pipelines);
    tcase_add_test(tc, test_chunk_keys);
    tcase_add_test(tc, test_numbers_as_zarr_spells_them);
    tcase_add_test(tc, test_vlen_utf8_bytes);
    tcase_add_test(tc, test_contiguous_rows);
    tcase_add_test(tc, test_hidden_attributes);
    tcase_add_test(tc, test_fill_values_as_zarr_spells_them);
    tcase_add_test(tc, test_shuffle_and_stored_zlib);
    return unit_run(s);
}
