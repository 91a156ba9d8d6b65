/*
 * The h5grove cores on a local HDF5 file written with the C API: /meta/
 * entity JSON and its children, link modes and error phrases, /attr/,
 * /paths/, /data/ encodings (dtype=safe swaps big-endian) and /stats/.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "unit_common.h"
#include "unit_files.h"

static char fname[UNIT_TEMP_PATH];
static hid_t fid = -1;

static void make_file(void)
{
    hid_t f, g, s, d, a, st;
    hsize_t dims[2] = {2, 3}, one = 1;
    int v[6] = {-1, 2, 3, 4, 5, 60};
    double fl[3] = {1.5, -2.0, 0.25};
    hsize_t three = 3;

    f = unit_h5_temp_file(fname);
    g = H5Gcreate2(f, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    s = H5Screate_simple(2, dims, NULL);
    d = H5Dcreate2(g, "be", H5T_STD_I32BE, s, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Sclose(s);
    s = H5Screate_simple(1, &one, NULL);
    a = H5Acreate2(d, "units", H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, v + 5);
    H5Aclose(a);
    H5Sclose(s);
    H5Dclose(d);
    s = H5Screate_simple(1, &three, NULL);
    d = H5Dcreate2(f, "f8", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, fl);
    H5Dclose(d);
    st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    s = H5Screate(H5S_SCALAR);
    a = H5Acreate2(f, "title", st, s, H5P_DEFAULT, H5P_DEFAULT);
    {
        const char *t = "hello";
        H5Awrite(a, st, &t);
    }
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(st);
    H5Lcreate_soft("/nowhere", f, "dangling", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/grp/be", f, "alias", H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);
}

static void setup(void)
{
    unit_setup_h5();
    make_file();
    fid = H5Fopen(fname, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(fid, 0);
}

static void teardown(void)
{
    unit_teardown();            /* datasets close before the file */
    H5Fclose(fid);
    unlink(fname);
}

static const char *meta(const char *path, h5s3_grove_links links,
                        apr_status_t want)
{
    char *json = NULL;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_meta(&json, &res, NULL, fid, "dir/f.h5",
                                     path, links, pool), want);
    return want == APR_SUCCESS ? json : res.detail;
}

START_TEST(test_meta)
{
    apr_array_header_t *ahead = NULL;
    char *json = NULL;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_str_eq(meta("/grp/be", 0, APR_SUCCESS),
        "{\"attributes\":[{\"name\":\"units\",\"shape\":[1],\"type\":"
        "{\"class\":0,\"size\":4,\"dtype\":\"<i4\",\"order\":0,\"sign\":1}}"
        "],\"chunks\":null,\"filters\":null,\"kind\":\"dataset\",\"name\":"
        "\"be\",\"shape\":[2,3],\"type\":{\"class\":0,\"size\":4,\"dtype\":"
        "\">i4\",\"order\":1,\"sign\":1}}");
    ck_assert_str_eq(meta("/dangling", 0, APR_SUCCESS),
        "{\"kind\":\"soft_link\",\"name\":\"dangling\",\"target_path\":"
        "\"/nowhere\"}");
    ck_assert_str_eq(meta("/alias", H5S3_GROVE_LINKS_NONE, APR_SUCCESS),
        "{\"kind\":\"soft_link\",\"name\":\"alias\",\"target_path\":"
        "\"/grp/be\"}");
    ck_assert_ptr_nonnull(strstr(meta("/alias", 0, APR_SUCCESS),
                                 "\"kind\":\"dataset\",\"name\":\"alias\""));
    ck_assert_str_eq(meta("/dangling", H5S3_GROVE_LINKS_ALL,
                          H5S3_E_NOTFOUND),
        "Cannot resolve <SoftLink to \"/nowhere\"> at /dangling of f.h5");
    ck_assert_str_eq(meta("/nope", 0, H5S3_E_NOPATH),
                     "/nope is not a valid path in f.h5");

    ck_assert_int_eq(h5s3_grove_meta(&json, &res, &ahead, fid, "f.h5", "/",
                                     0, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(json, "\"name\":\"alias\""));
    ck_assert_ptr_nonnull(strstr(json, "{\"attributes\":[],\"kind\":"
                                 "\"group\",\"name\":\"grp\"}"));
    ck_assert_ptr_nonnull(strstr(json, "\"name\":\"title\""));
    /* children answered ahead: every child but the group */
    ck_assert_int_eq(ahead->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(ahead, 0, h5s3_grove_ahead).path,
                     "/alias");
}
END_TEST

START_TEST(test_attr_paths)
{
    char *json = NULL;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_attr(&json, &res, fid, "f.h5", "/", NULL,
                                     pool), APR_SUCCESS);
    ck_assert_str_eq(json, "{\"title\":\"hello\"}");
    ck_assert_int_eq(h5s3_grove_paths(&json, &res, fid, "f.h5", "/", 0,
                                      pool), APR_SUCCESS);
    ck_assert_str_eq(json, "[\"/\",\"/alias\",\"/dangling\",\"/f8\","
                     "\"/grp\",\"/grp/be\"]");
    ck_assert_int_eq(h5s3_grove_paths(&json, &res, fid, "f.h5", "/grp", 0,
                                      pool), APR_SUCCESS);
    ck_assert_str_eq(json, "[\"/grp\",\"/grp/be\"]");
    ck_assert_int_eq(h5s3_grove_paths(&json, &res, fid, "f.h5", "/",
                                      H5S3_GROVE_LINKS_ALL, pool),
                     H5S3_E_NOTFOUND);
    ck_assert_int_eq(h5s3_grove_paths(&json, &res, fid, "f.h5", "/f8", 0,
                                      pool), H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "/f8 is not a group");
}
END_TEST

static h5s3_grove_payload data(const char *path, const char *sel,
                               const char *format, const char *dtype,
                               int flatten)
{
    h5s3_grove_payload pl;
    h5s3_grove_data_opts o = {sel, format, dtype, flatten};
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_data(&pl, &res, fid, NULL, "f.h5", path, &o,
                                     pool), APR_SUCCESS);
    return pl;
}

START_TEST(test_data)
{
    h5s3_grove_payload pl = data("/grp/be", NULL, NULL, NULL, 0);
    const unsigned char *raw;
    h5s3_grove_data_opts o = {NULL, "npy", "safe", 0};
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_str_eq(pl.head->data, "[[-1,2,3],[4,5,60]]");
    pl = data("/grp/be", "1,::2", NULL, NULL, 0);
    ck_assert_str_eq(pl.head->data, "[4,60]");
    pl = data("/grp/be", NULL, NULL, NULL, 1);
    ck_assert_str_eq(pl.head->data, "[-1,2,3,4,5,60]");
    pl = data("/grp/be", "0", "bin", "safe", 0);
    ck_assert_int_eq(pl.raw_len, 12);
    raw = pl.raw;
    ck_assert_int_eq(raw[4], 2);                /* little-endian now */
    pl = data("/grp/be", "0", "bin", "origin", 0);
    raw = pl.raw;
    ck_assert_int_eq(raw[7], 2);                /* as stored: big-endian */
    pl = data("/grp/be", NULL, "npy", "origin", 0);
    ck_assert_ptr_nonnull(strstr(pl.head->data + 10, "'descr': '>i4'"));
    ck_assert_ptr_nonnull(strstr(pl.head->data + 10, "'shape': (2, 3)"));
    ck_assert_int_eq(pl.raw_len, 24);
    pl = data("/grp/be", "1,2", "npy", "origin", 0);
    ck_assert_ptr_nonnull(strstr(pl.head->data + 10, "'descr': '<i4'"));
    pl = data("/f8", NULL, "csv", NULL, 0);
    ck_assert_str_eq(pl.head->data, "1.500000000000000000e+00\n"
                     "-2.000000000000000000e+00\n2.500000000000000000e-01\n");
    ck_assert_str_eq(pl.disposition, "attachment; filename=\"data.csv\"");
    o.selection = "9";
    ck_assert_int_eq(h5s3_grove_data(&pl, &res, fid, NULL, "f.h5", "/f8", &o,
                                     pool), H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "Index (9) out of range for (0-2)");
}
END_TEST

START_TEST(test_stats)
{
    char *json = NULL;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_grove_stats(&json, &res, fid, NULL, "f.h5",
                                      "/grp/be", NULL, pool), APR_SUCCESS);
    /* mean 12.1666 and std 20.6 become int() as h5grove casts them */
    ck_assert_str_eq(json, "{\"strict_positive_min\":2,\"positive_min\":2,"
                     "\"min\":-1,\"max\":60,\"mean\":12,\"std\":21}");
    ck_assert_int_eq(h5s3_grove_stats(&json, &res, fid, NULL, "f.h5", "/f8",
                                      "1:", pool), APR_SUCCESS);
    ck_assert_str_eq(json, "{\"strict_positive_min\":0.25,\"positive_min\":"
                     "0.25,\"min\":-2.0,\"max\":0.25,\"mean\":-0.875,"
                     "\"std\":1.125}");
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("grove_entity", "core", &tc, setup, teardown);

    tcase_add_test(tc, test_meta);
    tcase_add_test(tc, test_attr_paths);
    tcase_add_test(tc, test_data);
    tcase_add_test(tc, test_stats);
    return unit_run(s);
}
