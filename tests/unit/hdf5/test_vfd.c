/*
 * The S3 virtual file driver on a local-file fetch seam: HDF5 files
 * written by h5py read back through the page cache; objects that are not
 * HDF5 or are truncated give H5S3_E_NOTHDF5; a failed fetch surfaces as
 * its S3 status and leaves the process usable; group prefetch turns the
 * describing of 200 children into cache hits.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "hdf5/h5s3_h5_file.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"
#include "unit_files.h"

#define PS (64 * 1024)

static char dir[] = "/tmp/h5s3-vfd-XXXXXX";

/* Generated once, in the parent, before the forked tests run. */
static const char *fixture(const char *kind, const char *extra)
{
    static char paths[3][128];
    static const char *kinds[3] = { "basic", "big", "wide" };
    char args[512];
    int i;

    for (i = 0; i < 2 && strcmp(kinds[i], kind) != 0; i++) {
    }
    if (paths[i][0]) {
        return paths[i];
    }
    snprintf(paths[i], sizeof(paths[i]), "%s/%s.h5", dir, kind);
    snprintf(args, sizeof(args), "%s %s %s", kind, paths[i],
             extra ? extra : "");
    if (unit_fixture_script("make_vfd_fixtures.py", args) != 0) {
        exit(EXIT_FAILURE);
    }
    return paths[i];
}

static void read_doubles(hid_t fid, const char *name, double *out)
{
    hid_t d = H5Dopen2(fid, name, H5P_DEFAULT);

    ck_assert_int_ge(d, 0);
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                             H5P_DEFAULT, out), 0);
    H5Dclose(d);
}

START_TEST(reads_h5py_file)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 32);
    h5s3_h5_source src;
    unit_file_src fs;
    h5s3_h5_request rq = {0};
    hid_t fid, d, a;
    double data[1000];
    int ints[100][7], r, c, i, version = 0;
    char *s = NULL;

    unit_h5_source(&src, &fs, fixture("basic", NULL), pc);
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &src, 128 * 1024), APR_SUCCESS);
    /* The whole (21 KB) file came in the single open read. */
    ck_assert_uint_eq(fs.calls, 1);

    read_doubles(fid, "/data", data);
    for (i = 0; i < 1000; i++) {
        ck_assert_double_eq(data[i], i * 0.5);
    }
    d = H5Dopen2(fid, "/group/ints", H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    ck_assert_int_ge(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL,
                             H5P_DEFAULT, ints), 0);
    H5Dclose(d);
    for (r = 0; r < 100; r++) {
        for (c = 0; c < 7; c++) {
            ck_assert_int_eq(ints[r][c], r * 10 + c);
        }
    }
    a = H5Aopen(fid, "version", H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Aread(a, H5T_NATIVE_INT, &version), 0);
    H5Aclose(a);
    ck_assert_int_eq(version, 3);

    d = H5Dopen2(fid, "/group/sub/name", H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    {
        hid_t t = H5Tcopy(H5T_C_S1);

        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        ck_assert_int_ge(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s), 0);
        ck_assert_str_eq(s, "hello h5s3");
        H5free_memory(s);
        H5Tclose(t);
    }
    H5Dclose(d);
    ck_assert_int_ge(H5Fclose(fid), 0);

    /* Every read after the open came from the cache. */
    ck_assert_uint_eq(fs.calls, 1);
    ck_assert_uint_gt(rq.page_hits, 0);
    ck_assert_uint_eq(rq.page_misses, 1);
    h5s3_h5_request_end();
    close(fs.fd);
}
END_TEST

START_TEST(reopen_hits_the_cache)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 32);
    h5s3_h5_source s1, s2;
    unit_file_src f1, f2;
    hid_t fid;
    double data[1000];

    unit_h5_source(&s1, &f1, fixture("basic", NULL), pc);
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &s1, 4096), APR_SUCCESS);
    read_doubles(fid, "/data", data);
    H5Fclose(fid);
    ck_assert_uint_gt(f1.calls, 0);

    /* Another source for the same object (another process, say). */
    unit_h5_source(&s2, &f2, fixture("basic", NULL), pc);
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &s2, 4096), APR_SUCCESS);
    read_doubles(fid, "/data", data);
    ck_assert_double_eq(data[999], 999 * 0.5);
    H5Fclose(fid);
    ck_assert_uint_eq(f2.calls, 0);
    close(f1.fd);
    close(f2.fd);
}
END_TEST

START_TEST(small_read_of_a_big_file)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 64);
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid;
    double tail[100];
    int i;

    unit_h5_source(&src, &fs, fixture("big", "8"), pc);
    ck_assert_int_gt(src.obj.size, 8 * 1024 * 1024);
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &src, 128 * 1024), APR_SUCCESS);
    read_doubles(fid, "/tail", tail);
    for (i = 0; i < 100; i++) {
        ck_assert_double_eq(tail[i], i * 2.5);
    }
    H5Fclose(fid);
    /* Superblock, root, /tail's header and data: a few pages of 8 MB. */
    ck_assert_uint_le(fs.bytes, 512 * 1024);
    ck_assert_uint_le(fs.calls, 4);
    close(fs.fd);
}
END_TEST

static apr_status_t open_path(const char *path, hid_t *fid)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 16);
    h5s3_h5_source *src = apr_pcalloc(pool, sizeof(*src));
    unit_file_src *fs = apr_pcalloc(pool, sizeof(*fs));

    unit_h5_source(src, fs, path, pc);
    return h5s3_h5_vfd_open(fid, src, 128 * 1024);
}

static const char *write_file(const char *name, const char *data,
                              apr_size_t len)
{
    const char *path = apr_psprintf(pool, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

START_TEST(not_hdf5)
{
    char junk[300000];
    hid_t fid = 1234;
    int i;

    for (i = 0; i < (int)sizeof(junk); i++) {
        junk[i] = (char)((unsigned)i * 7919u % 251u);
    }
    ck_assert_int_eq(open_path(write_file("junk.bin", junk, sizeof(junk)),
                               &fid), H5S3_E_NOTHDF5);
    ck_assert_int_lt(fid, 0);
    ck_assert_int_eq(open_path(write_file("text.txt", "hello\n", 6), &fid),
                     H5S3_E_NOTHDF5);
    ck_assert_int_eq(open_path(write_file("empty", "", 0), &fid),
                     H5S3_E_NOTHDF5);
    /* The HDF5 signature alone is not a file. */
    ck_assert_int_eq(open_path(write_file("sig", "\211HDF\r\n\032\n", 8),
                               &fid), H5S3_E_NOTHDF5);
}
END_TEST

START_TEST(truncated_hdf5)
{
    const char *path = fixture("basic", NULL);
    char *buf = malloc(30000);
    FILE *f = fopen(path, "rb");
    apr_size_t n = fread(buf, 1, 30000, f);
    apr_size_t cuts[] = { n / 2, 1000, 100, n - 1 };
    hid_t fid;
    int i;

    fclose(f);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(open_path(write_file("cut.h5", buf, cuts[i]), &fid),
                         H5S3_E_NOTHDF5);
    }
    free(buf);
}
END_TEST

START_TEST(failed_read_reports_s3_status)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 32);
    h5s3_h5_source src;
    unit_file_src fs;
    h5s3_h5_request rq = {0};
    hid_t fid, d;
    double tail[100];

    /* The open read works, the dataset read at the end of 8 MB fails. */
    unit_h5_source(&src, &fs, fixture("big", "8"), pc);
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &src, 128 * 1024), APR_SUCCESS);
    fs.fail = H5S3_E_TIMEOUT;
    fs.fail_after = (int)fs.calls;
    d = H5Dopen2(fid, "/tail", H5P_DEFAULT);
    if (d >= 0) {
        ck_assert_int_lt(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL,
                                 H5P_DEFAULT, tail), 0);
        H5Dclose(d);
    }
    ck_assert_int_eq(h5s3_h5_request_status(H5S3_E_NOTHDF5), H5S3_E_TIMEOUT);
    ck_assert_int_eq(rq.result.status, H5S3_E_TIMEOUT);
    /* Read once, the status is cleared. */
    ck_assert_int_eq(h5s3_h5_request_status(APR_SUCCESS), APR_SUCCESS);
    ck_assert(src.failed);
    H5Fclose(fid);
    h5s3_h5_request_end();

    /* The process is fine: the same object opens and reads. */
    fs.fail = 0;
    src.failed = 0;
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &src, 128 * 1024), APR_SUCCESS);
    read_doubles(fid, "/tail", tail);
    ck_assert_double_eq(tail[99], 99 * 2.5);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

START_TEST(failed_open_reports_s3_status)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 32);
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid;

    unit_h5_source(&src, &fs, fixture("basic", NULL), pc);
    fs.fail = H5S3_E_UNREACHABLE;
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &src, 128 * 1024),
                     H5S3_E_UNREACHABLE);
    /* Failing inside H5Fopen (no open read) also keeps the status. */
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &src, 0), H5S3_E_UNREACHABLE);
    close(fs.fd);
}
END_TEST

typedef struct names {
    char *v[256];
    int n;
} names;

static herr_t name_cb(hid_t g, const char *name, const H5L_info_t *info,
                      void *data)
{
    names *l = data;

    l->v[l->n++] = strdup(name);
    return 0;
}

/* What a describe does per child: header, type, shape. */
static void describe_children(hid_t fid, const char *path, int *ndatasets)
{
    hid_t g = H5Gopen2(fid, path, H5P_DEFAULT);
    names l = {0};
    hsize_t idx = 0;
    int i;

    ck_assert_int_ge(g, 0);
    ck_assert_int_ge(H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, &idx,
                                name_cb, &l), 0);
    *ndatasets = 0;
    for (i = 0; i < l.n; i++) {
        H5O_info_t oi;
        hid_t d, sp, t;
        hsize_t dims[1];

        ck_assert_int_ge(H5Oget_info_by_name(g, l.v[i], &oi, H5P_DEFAULT),
                         0);
        if (oi.type == H5O_TYPE_DATASET) {
            d = H5Dopen2(g, l.v[i], H5P_DEFAULT);
            sp = H5Dget_space(d);
            t = H5Dget_type(d);
            ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 1);
            ck_assert_uint_eq(dims[0], 2048);
            ck_assert_int_eq(H5Tget_class(t), H5T_FLOAT);
            H5Tclose(t);
            H5Sclose(sp);
            H5Dclose(d);
            (*ndatasets)++;
        }
        free(l.v[i]);
    }
    H5Gclose(g);
}

START_TEST(group_prefetch_makes_describe_hit)
{
    h5s3_pagecache *pc = unit_heap_cache(PS, 128);
    h5s3_h5_source a, b;
    unit_file_src fa, fb;
    h5s3_h5_request rq = {0};
    hid_t fid;
    int n, before;

    /* Without prefetch: each child's header is a miss, one at a time. */
    unit_h5_source(&a, &fa, fixture("wide", NULL), pc);
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &a, 128 * 1024), APR_SUCCESS);
    describe_children(fid, "/wide", &n);
    ck_assert_int_eq(n, 200);
    H5Fclose(fid);
    ck_assert_uint_ge(fa.calls, 20);

    /* With prefetch (another ETag, so a cold cache). */
    unit_h5_source(&b, &fb, fixture("wide", NULL), pc);
    h5s3_pagecache_fingerprint(b.obj.fp, "", "bucket", "wide", "etag2");
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, &b, 128 * 1024), APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_prefetch_group_src(fid, &b, "/wide", 0, 0),
                     APR_SUCCESS);
    before = (int)fb.calls;
    /* Open read, the group's own metadata, one concurrent batch. */
    ck_assert_int_le(before, 4);
    h5s3_h5_request_begin(&rq);
    describe_children(fid, "/wide", &n);
    h5s3_h5_request_end();
    ck_assert_int_eq(n, 200);
    ck_assert_uint_eq(fb.calls, (apr_uint32_t)before);
    ck_assert_uint_eq(rq.page_misses, 0);
    ck_assert_uint_ge(rq.page_hits, 200);

    ck_assert_int_eq(h5s3_h5_prefetch_group_src(fid, &b, "/nope", 0, 0),
                     H5S3_E_NOPATH);
    ck_assert_int_eq(h5s3_h5_prefetch_group_src(fid, &b, "/wide/d000", 0, 0),
                     H5S3_E_NOPATH);
    H5Fclose(fid);
    close(fa.fd);
    close(fb.fd);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_vfd", "core", &tc, unit_setup_h5_io,
                          unit_teardown);
    char cmd[128];
    int rv;

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    fixture("basic", NULL);
    fixture("big", "8");
    fixture("wide", NULL);

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reads_h5py_file);
    tcase_add_test(tc, reopen_hits_the_cache);
    tcase_add_test(tc, small_read_of_a_big_file);
    tcase_add_test(tc, not_hdf5);
    tcase_add_test(tc, truncated_hdf5);
    tcase_add_test(tc, failed_read_reports_s3_status);
    tcase_add_test(tc, failed_open_reports_s3_status);
    tcase_add_test(tc, group_prefetch_makes_describe_hit);
    rv = unit_run(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", dir);
    }
    return rv;
}
