/*
 * /children and /meta cores on a file built in memory (core driver, no
 * backing store): path rules, link descriptions, attribute order and
 * truncation, filters, and NaN attributes serialising as null.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_describe.h"
#include "unit_common.h"

static hid_t file = -1;

static void add_attr_double(hid_t obj, const char *name, double v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                         H5P_DEFAULT);

    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    H5Sclose(sp);
}

static void setup(void)
{
    hid_t fapl, g, sp, d, dcpl;
    hsize_t dims[1] = { 100 }, chunk[1] = { 10 };
    int i;

    unit_setup_h5();
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 16, 0);
    file = H5Fcreate("mem.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    ck_assert_int_ge(file, 0);

    g = H5Gcreate2(file, "grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    sp = H5Screate_simple(1, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 6);
    d = H5Dcreate2(g, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
    add_attr_double(d, "nan", NAN);
    for (i = 0; i < 12; i++) {
        char name[16];

        snprintf(name, sizeof(name), "k%02d", 11 - i);
        add_attr_double(d, name, i);
    }
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Gclose(g);
    H5Lcreate_soft("/grp/data", file, "soft", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/nowhere", file, "dangling", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external("other.h5", "/x", file, "ext", H5P_DEFAULT,
                       H5P_DEFAULT);
}

static void teardown(void)
{
    H5Fclose(file);
    unit_teardown();
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

    ck_assert_ptr_nonnull(s);
    json_decref(j);
    return s;
}

START_TEST(test_root_children)
{
    json_t *j = NULL, *soft;
    char *s;

    ck_assert_int_eq(h5s3_h5_children(&j, file, "/", pool), APR_SUCCESS);
    ck_assert_int_eq(json_array_size(j), 4);
    soft = json_incref(json_array_get(j, 3));
    json_array_remove(j, 3);
    s = dump(j);
    ck_assert_str_eq(s,
        "[{\"name\":\"dangling\",\"path\":\"/dangling\","
        "\"target\":\"/nowhere\",\"type\":\"soft_link\"},"
        "{\"name\":\"ext\",\"path\":\"/ext\",\"target_file\":\"other.h5\","
        "\"target_path\":\"/x\",\"type\":\"external_link\"},"
        "{\"name\":\"grp\",\"num_children\":1,\"path\":\"/grp\","
        "\"type\":\"group\"}]");
    free(s);
    /* a valid soft link is its target, named by the link */
    ck_assert_str_eq(json_string_value(json_object_get(soft, "type")),
                     "dataset");
    ck_assert_str_eq(json_string_value(json_object_get(soft, "link")),
                     "soft");
    ck_assert_str_eq(json_string_value(json_object_get(soft, "path")),
                     "/soft");
    ck_assert_int_eq(json_integer_value(json_object_get(soft, "size")), 100);
    json_decref(soft);
}
END_TEST

START_TEST(test_dataset_child_fields)
{
    json_t *j = NULL, *c, *attrs;

    ck_assert_int_eq(h5s3_h5_children(&j, file, "/grp/", pool), APR_SUCCESS);
    ck_assert_int_eq(json_array_size(j), 1);
    c = json_array_get(j, 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "path")),
                     "/grp/data");
    ck_assert_str_eq(json_string_value(json_object_get(c, "dtype")),
                     "float32");
    ck_assert_str_eq(json_string_value(json_object_get(c, "compression")),
                     "gzip");
    ck_assert_int_eq(json_integer_value(
                         json_array_get(json_object_get(c, "chunks"), 0)), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "num_attributes")),
                     13);
    ck_assert(json_is_true(json_object_get(c, "attributes_truncated")));
    attrs = json_object_get(c, "attributes");
    ck_assert_int_eq(json_object_size(attrs), 10);
    /* name order: k00..k09 come before "nan" */
    ck_assert_ptr_nonnull(json_object_get(attrs, "k09"));
    ck_assert_ptr_null(json_object_get(attrs, "nan"));
    json_decref(j);
}
END_TEST

START_TEST(test_meta_dataset_and_nan)
{
    json_t *j = NULL, *attrs, *last, *filters;
    char *s;

    ck_assert_int_eq(h5s3_h5_meta(&j, file, "/soft", pool), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")),
                     "dataset");
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "soft");
    ck_assert_str_eq(json_string_value(json_object_get(j, "target")),
                     "/grp/data");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(j, "compression_opts")), 6);
    filters = json_object_get(j, "filters");
    ck_assert_int_eq(json_array_size(filters), 2);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(filters, 0), "name")), "gzip");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(filters, 0), "level")), 6);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(filters, 1), "name")), "shuffle");
    attrs = json_object_get(j, "attributes");
    ck_assert_int_eq(json_array_size(attrs), 13);
    last = json_array_get(attrs, 12);
    ck_assert_str_eq(json_string_value(json_object_get(last, "name")), "nan");
    ck_assert(json_is_null(json_object_get(last, "value")));
    s = dump(j);   /* NaN would make jansson fail here */
    ck_assert_ptr_null(strstr(s, "NaN"));
    free(s);
}
END_TEST

START_TEST(test_meta_root_and_links)
{
    json_t *j = NULL;

    ck_assert_int_eq(h5s3_h5_meta(&j, file, "/", pool), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "");
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "group");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "num_children")),
                     4);
    json_decref(j);
    ck_assert_int_eq(h5s3_h5_meta(&j, file, "/dangling", pool), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")),
                     "soft_link");
    json_decref(j);
    ck_assert_int_eq(h5s3_h5_meta(&j, file, "ext", pool), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")),
                     "external_link");
    json_decref(j);
}
END_TEST

START_TEST(test_missing_paths)
{
    static const char *missing[] = { "/nope", "/grp/nope", "/grp/data/x",
                                     "/ext/x", "/dangling/x", "" };
    size_t i;
    json_t *j = (json_t *)1;

    for (i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        ck_assert_int_eq(h5s3_h5_children(&j, file, missing[i], pool),
                         H5S3_E_NOPATH);
        ck_assert_ptr_null(j);
        ck_assert_int_eq(h5s3_h5_meta(&j, file, missing[i], pool),
                         H5S3_E_NOPATH);
        ck_assert_ptr_null(j);
    }
    ck_assert_int_eq(h5s3_h5_meta(&j, file, NULL, pool), H5S3_E_INVALID);
}
END_TEST

START_TEST(test_children_of_non_group)
{
    json_t *j = NULL;

    ck_assert_int_eq(h5s3_h5_children(&j, file, "/grp/data", pool),
                     APR_SUCCESS);
    ck_assert(json_is_array(j));
    ck_assert_int_eq(json_array_size(j), 0);
    json_decref(j);
}
END_TEST

START_TEST(test_filter_names)
{
    ck_assert_str_eq(h5s3_h5_filter_name(32004, "HDF5 lz4 filter", pool),
                     "lz4");
    ck_assert_str_eq(h5s3_h5_filter_name(307, NULL, pool), "bzip2");
    ck_assert_str_eq(h5s3_h5_filter_name(32015, "", pool), "zstd");
    ck_assert_str_eq(h5s3_h5_filter_name(40000, "mine", pool), "mine");
    ck_assert_str_eq(h5s3_h5_filter_name(40001, "", pool), "filter_40001");
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_describe", "core", &tc, setup, teardown);

    tcase_add_test(tc, test_root_children);
    tcase_add_test(tc, test_dataset_child_fields);
    tcase_add_test(tc, test_meta_dataset_and_nan);
    tcase_add_test(tc, test_meta_root_and_links);
    tcase_add_test(tc, test_missing_paths);
    tcase_add_test(tc, test_children_of_non_group);
    tcase_add_test(tc, test_filter_names);
    return unit_run(s);
}
