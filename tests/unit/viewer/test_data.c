/*
 * Preview, data and CSV cores on a local HDF5 file (sec2 driver, no S3):
 * shapes, strides, transposition, finite-only stats, the sample prefix
 * read, and the streamed CSV text.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "viewer/h5s3_csv.h"
#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_stats.h"
#include "viewer/h5s3_h5_view.h"
#include "json/h5s3_json.h"
#include "unit_common.h"
#include "unit_files.h"

static char fname[UNIT_TEMP_PATH];
static hid_t fid = -1;

static void make_file(void)
{
    hsize_t d2[2] = {30, 20}, d3[3] = {4, 30, 20}, d1[1] = {10}, ch[2] = {7, 6};
    hid_t sp, ds, dcpl;
    double *v = malloc(4 * 30 * 20 * sizeof(double));
    int i;

    fid = unit_h5_temp_file(fname);
    for (i = 0; i < 4 * 30 * 20; i++) {
        v[i] = i;
    }
    sp = H5Screate_simple(2, d2, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, ch);
    H5Pset_deflate(dcpl, 4);
    ds = H5Dcreate2(fid, "m", H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl,
                    H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(dcpl);
    sp = H5Screate_simple(3, d3, NULL);
    ds = H5Dcreate2(fid, "c3", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT,
                    H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
    v[3] = NAN;
    v[5] = INFINITY;
    v[7] = -INFINITY;
    v[8] = -5;
    sp = H5Screate_simple(1, d1, NULL);
    ds = H5Dcreate2(fid, "nan", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                    H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
    sp = H5Screate(H5S_SCALAR);
    ds = H5Dcreate2(fid, "scalar", H5T_STD_I64LE, sp, H5P_DEFAULT,
                    H5P_DEFAULT, H5P_DEFAULT);
    v[0] = 42;
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Gclose(H5Gcreate2(fid, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    free(v);
}

static void setup(void)
{
    unit_setup_h5();
    make_file();
}

static void teardown(void)
{
    unit_teardown();
    H5Fclose(fid);
    unlink(fname);
}

/* The payload as a client sees it: numeric arrays are raw text that
 * only h5s3_json_dump splices in. */
static json_t *reparse(json_t *o)
{
    char *text;
    apr_size_t len;
    json_t *j;

    ck_assert_int_eq(h5s3_json_dump(&text, &len, o, pool), APR_SUCCESS);
    json_decref(o);
    j = json_loadb(text, len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

static json_t *data(const char *path, const char *mode, const char *qs,
                    const char **err, apr_status_t *rv)
{
    apr_table_t *args = apr_table_make(pool, 8);
    char *copy = apr_pstrdup(pool, qs), *tok, *last;
    json_t *out = NULL;
    h5s3_result res;

    for (tok = apr_strtok(copy, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        apr_table_set(args, tok, eq + 1);
    }
    h5s3_result_init(&res, pool);
    *rv = h5s3_h5_data(&out, &res, fid, NULL, path, mode, args, pool);
    *err = res.detail;
    return out ? reparse(out) : NULL;
}

static double num(json_t *j)
{
    return json_number_value(j);
}

START_TEST(test_matrix_strided_transposed)
{
    const char *err;
    apr_status_t rv;
    json_t *o = data("/m", "matrix", "row_offset=2&row_limit=5&row_step=2&"
                     "col_offset=1&col_limit=3", &err, &rv);

    ck_assert_int_eq(rv, APR_SUCCESS);
    /* rows 2,4,6 ; cols 1,2,3 of v[i] = 20*r + c */
    ck_assert_int_eq(json_array_size(json_object_get(o, "data")), 3);
    ck_assert_int_eq(num(json_array_get(json_array_get(
        json_object_get(o, "data"), 1), 2)), 4 * 20 + 3);
    json_decref(o);
    o = data("/m", "matrix", "display_dims=1,0&row_limit=2&col_limit=3",
             &err, &rv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    /* rows follow dim 1: data[i][j] = m[j][i] */
    ck_assert_int_eq(num(json_array_get(json_array_get(
        json_object_get(o, "data"), 1), 2)), 2 * 20 + 1);
    json_decref(o);
    o = data("/m", "matrix", "row_limit=3000", &err, &rv);
    ck_assert_int_eq(rv, APR_SUCCESS);  /* clamped to 30 first */
    json_decref(o);
    o = data("/m", "matrix", "row_step=0", &err, &rv);
    ck_assert_int_eq(rv, H5S3_E_INVALID);
    ck_assert_str_eq(err, "row_step must be >= 1");
    o = data("/m", "matrix", "col_limit=x", &err, &rv);
    ck_assert_str_eq(err, "Invalid col_limit parameter");
    o = data("/nan", "matrix", "", &err, &rv);
    ck_assert_str_eq(err, "Mode requires a 2D or higher dataset");
    o = data("/grp", "matrix", "", &err, &rv);
    ck_assert_str_eq(err, "Path '/grp' is not a dataset");
    o = data("/nope", "matrix", "", &err, &rv);
    ck_assert_int_eq(rv, H5S3_E_NOPATH);
}
END_TEST

START_TEST(test_heatmap_and_line)
{
    const char *err;
    apr_status_t rv;
    json_t *o = data("/c3", "heatmap", "max_size=7&fixed_indices=0=-1",
                     &err, &rv), *st;

    ck_assert_int_eq(rv, APR_SUCCESS);
    /* steps ceil(30/7)=5, ceil(20/7)=3 */
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
        o, "downsample_info"), "row_step")), 5);
    ck_assert_int_eq(json_array_size(json_object_get(o, "data")), 6);
    st = json_object_get(o, "stats");
    ck_assert_int_eq(num(json_object_get(st, "min")), 3 * 600);
    ck_assert_int_eq(num(json_object_get(st, "max")),
                     3 * 600 + 25 * 20 + 18);
    json_decref(o);
    o = data("/c3", "heatmap", "max_size=1025", &err, &rv);
    ck_assert_str_eq(err, "max_size exceeds 1024");
    o = data("/m", "line", "line_dim=col&line_index=3&quality=overview&"
             "max_points=4", &err, &rv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "line_step")), 8);
    ck_assert_int_eq(num(json_array_get(json_object_get(o, "data"), 1)),
                     8 * 20 + 3);
    json_decref(o);
    o = data("/m", "line", "line_index=30", &err, &rv);
    ck_assert_str_eq(err, "line_index out of range");
    o = data("/m", "line", "line_dim=5", &err, &rv);
    ck_assert_str_eq(err, "line_dim out of range");
    o = data("/m", "line", "line_dim=x", &err, &rv);
    ck_assert_str_eq(err, "Invalid line_dim parameter");
    o = data("/m", "line", "quality=best", &err, &rv);
    ck_assert_str_eq(err, "Invalid quality parameter");
}
END_TEST

START_TEST(test_stats_finite_only)
{
    h5s3_h5_stats st;
    double v[5] = {1, NAN, INFINITY, 3, -INFINITY};

    h5s3_h5_stats_compute(&st, v, 5);
    ck_assert_int_eq(st.finite, 2);
    ck_assert(st.min == 1 && st.max == 3 && st.mean == 2 && st.std == 1);
    ck_assert_int_eq(h5s3_h5_stats_stride(400000, 2), 2);
    ck_assert_int_eq(h5s3_h5_stats_stride(100000, 2), 1);
    ck_assert_int_eq(h5s3_h5_stats_stride(1000000000, 4), 10);
}
END_TEST

START_TEST(test_preview)
{
    h5s3_h5_preview_opts op;
    apr_table_t *args = apr_table_make(pool, 4);
    h5s3_result res;
    json_t *o = NULL, *st;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_h5_preview_opts_parse(&op, &res, args, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_preview(&o, &res, fid, NULL, "/nan", &op, pool),
                     APR_SUCCESS);
    o = reparse(o);
    st = json_object_get(o, "stats");
    ck_assert(json_is_true(json_object_get(st, "supported")));
    ck_assert_int_eq(num(json_object_get(st, "min")), -5);
    ck_assert_int_eq(num(json_object_get(st, "max")), 9);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "sample_size")),
                     10);
    json_decref(o);
    ck_assert_int_eq(h5s3_h5_preview(&o, &res, fid, NULL, "/scalar", &op,
                                     pool), APR_SUCCESS);
    o = reparse(o);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(
        json_object_get(o, "table"), "values"), 0)), 42);
    json_decref(o);
    apr_table_set(args, "max_size", "0");
    ck_assert_int_eq(h5s3_h5_preview_opts_parse(&op, &res, args, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "max_size must be a positive integer");
}
END_TEST

static char *csv_text;
static apr_size_t csv_len;

static apr_status_t grab(void *b, const char *buf, apr_size_t len)
{
    (void)b;
    csv_text = realloc(csv_text, csv_len + len + 1);
    memcpy(csv_text + csv_len, buf, len);
    csv_len += len;
    csv_text[csv_len] = '\0';
    return APR_SUCCESS;
}

START_TEST(test_csv_stream)
{
    apr_table_t *args = apr_table_make(pool, 4);
    h5s3_h5_csv *c;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    apr_table_set(args, "row_limit", "3");
    apr_table_set(args, "col_limit", "2");
    apr_table_set(args, "chunk_rows", "2");
    ck_assert_int_eq(h5s3_h5_csv_prepare(&c, &res, fid, NULL, "x.h5", "/m",
                                         "matrix", args, pool), APR_SUCCESS);
    csv_len = 0;
    ck_assert_int_eq(h5s3_h5_csv_stream(c, grab, NULL), APR_SUCCESS);
    ck_assert_str_eq(csv_text, "\xEF\xBB\xBFrow\\col,0,1\r\n0,0.0,1.0\r\n"
                     "1,20.0,21.0\r\n2,40.0,41.0\r\n");
    args = apr_table_make(pool, 4);
    apr_table_set(args, "compare_paths", "nan, /nan");
    ck_assert_int_eq(h5s3_h5_csv_prepare(&c, &res, fid, NULL, "x.h5", "/nan",
                                         "line", args, pool), APR_SUCCESS);
    csv_len = 0;
    ck_assert_int_eq(h5s3_h5_csv_stream(c, grab, NULL), APR_SUCCESS);
    ck_assert_str_eq(csv_text, "\xEF\xBB\xBFindex,base\r\n0,0.0\r\n1,1.0\r\n"
                     "2,2.0\r\n3,\r\n4,4.0\r\n5,\r\n6,6.0\r\n7,\r\n8,-5.0\r\n"
                     "9,9.0\r\n");
    free(csv_text);
    csv_text = NULL;
    args = apr_table_make(pool, 4);
    apr_table_set(args, "row_offset", "30");
    ck_assert_int_eq(h5s3_h5_csv_prepare(&c, &res, fid, NULL, "x.h5", "/m",
                                         "matrix", args, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "Requested export window is empty.");
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_data", "core", &tc, setup, teardown);

    tcase_add_test(tc, test_matrix_strided_transposed);
    tcase_add_test(tc, test_heatmap_and_line);
    tcase_add_test(tc, test_stats_finite_only);
    tcase_add_test(tc, test_preview);
    tcase_add_test(tc, test_csv_stream);
    return unit_run(s);
}
