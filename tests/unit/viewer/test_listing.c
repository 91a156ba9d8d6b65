/* /files rows from S3 entries (docs/viewer-api.md §1.3). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "viewer/h5s3_listing.h"
#include "unit_common.h"

static h5s3_s3_entry entry(const char *key, apr_off_t size)
{
    h5s3_s3_entry e;

    memset(&e, 0, sizeof(e));
    e.key = key;
    e.size = size;
    e.etag = "abc";
    /* 2026-01-10T12:47:55.906Z */
    e.mtime = apr_time_from_sec(1768049275) + 906000;
    return e;
}

static json_t *build(const char *prefix, int folders, int max,
                     const char **keys, int n)
{
    h5s3_listing *l = h5s3_listing_create(prefix, folders, max, pool);
    int i, full = 0;

    for (i = 0; i < n && !full; i++) {
        h5s3_s3_entry e = entry(keys[i], 10 + i);
        full = h5s3_listing_add(l, &e);
    }
    return h5s3_listing_result(l);
}

START_TEST(files_then_sorted_folders)
{
    const char *keys[] = {"Folder_1/random_05.h5", "Folder_1/sub/x.h5",
                          "a.h5", "empty-folder/", "z/y/"};
    json_t *j = build("", 1, 100, keys, 5);
    json_t *files = json_object_get(j, "files");
    const char *expect[] = {"Folder_1/random_05.h5", "Folder_1/sub/x.h5",
                            "a.h5", "Folder_1/", "Folder_1/sub/",
                            "empty-folder/", "z/", "z/y/"};
    size_t i;

    ck_assert_uint_eq(json_array_size(files), 8);
    for (i = 0; i < 8; i++) {
        json_t *row = json_array_get(files, i);
        ck_assert_str_eq(json_string_value(json_object_get(row, "key")),
                         expect[i]);
        ck_assert_int_eq(json_is_true(json_object_get(row, "is_folder")),
                         i >= 3);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(j, "files_count")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "folders_count")),
                     5);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 8);
    ck_assert(json_is_false(json_object_get(j, "truncated")));
    json_decref(j);
}
END_TEST

START_TEST(file_row_fields)
{
    const char *keys[] = {"a.h5"};
    json_t *j = build("", 1, 100, keys, 1);
    json_t *row = json_array_get(json_object_get(j, "files"), 0);

    ck_assert_str_eq(json_string_value(json_object_get(row, "etag")), "abc");
    ck_assert_str_eq(json_string_value(json_object_get(row, "type")), "file");
    ck_assert_int_eq(json_integer_value(json_object_get(row, "size")), 10);
    ck_assert_str_eq(json_string_value(json_object_get(row, "last_modified")),
                     "2026-01-10T12:47:55.906000+00:00");
    json_decref(j);
}
END_TEST

START_TEST(no_folders_when_disabled)
{
    const char *keys[] = {"d/a.h5", "e/"};
    json_t *j = build("", 0, 100, keys, 2);

    ck_assert_uint_eq(json_array_size(json_object_get(j, "files")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "folders_count")),
                     0);
    json_decref(j);
}
END_TEST

START_TEST(folders_only_under_prefix)
{
    const char *keys[] = {"Folder_1/random_05.h5", "Folder_1/sub/x.h5"};
    json_t *j = build("/Folder_1/s", 1, 100, keys, 2);
    json_t *files = json_object_get(j, "files");

    /* Folder_1/ does not start with the prefix Folder_1/s; Folder_1/sub/ does. */
    ck_assert_uint_eq(json_array_size(files), 3);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(files, 2), "key")), "Folder_1/sub/");
    ck_assert_str_eq(json_string_value(json_object_get(j, "prefix")),
                     "/Folder_1/s");
    json_decref(j);
}
END_TEST

START_TEST(truncated_at_max_items)
{
    const char *keys[] = {"a", "b", "c", "d"};
    json_t *j = build("", 1, 2, keys, 4);

    ck_assert_int_eq(json_integer_value(json_object_get(j, "files_count")), 2);
    ck_assert(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
    /* Exactly max_items files is "truncated" too, as upstream says. */
    j = build("", 1, 4, keys, 4);
    ck_assert(json_is_true(json_object_get(j, "truncated")));
    json_decref(j);
}
END_TEST

START_TEST(s3_prefix_drops_leading_slashes)
{
    h5s3_listing *l = h5s3_listing_create("//a/b", 1, 10, pool);

    ck_assert_str_eq(h5s3_listing_s3_prefix(l), "a/b");
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("listing", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, files_then_sorted_folders);
    tcase_add_test(tc, file_row_fields);
    tcase_add_test(tc, no_folders_when_disabled);
    tcase_add_test(tc, folders_only_under_prefix);
    tcase_add_test(tc, truncated_at_max_items);
    tcase_add_test(tc, s3_prefix_drops_leading_slashes);
    return unit_run(s);
}
