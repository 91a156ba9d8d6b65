/*
 * Hostile files through the S3 driver (a local-file fetch seam): the
 * byte-patched files of tests/fixtures/make_hostile_fixtures.py and files
 * written here with the HDF5 C API.  Every size a file declares is
 * checked before it sizes a buffer or ends a loop; the per-request limits
 * stop what a file would make a request do.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "viewer/h5s3_csv.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"
#include "viewer/h5s3_h5_describe.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "viewer/h5s3_h5_values.h"
#include "viewer/h5s3_h5_view.h"
#include "json/h5s3_json.h"
#include "unit_common.h"
#include "unit_files.h"

#define PS (64 * 1024)

static char dir[] = "/tmp/h5s3-hostile-XXXXXX";
static char capi[160];

/* Files HDF5 writes itself (no patch needed): a shape whose element
 * count wraps, and an attribute of (2^32, 2^32) that HDF5 counts as 0. */
static void write_capi(const char *path)
{
    hsize_t d3[3] = {1, 16384, (1ULL << 50) + 1};
    hsize_t md[3] = {H5S_UNLIMITED, H5S_UNLIMITED, H5S_UNLIMITED};
    hsize_t ch[3] = {1, 16, 1024}, da[2] = {1ULL << 32, 1ULL << 32};
    hid_t f, s, dcpl, d, a;

    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    s = H5Screate_simple(3, d3, md);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, ch);
    d = H5Dcreate2(f, "wrap3", H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl,
                   H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(s);
    s = H5Screate_simple(2, da, NULL);
    ck_assert_int_eq(H5Sget_simple_extent_npoints(s), 0);
    a = H5Acreate2(f, "wrap", H5T_NATIVE_INT8, s, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
}

static void setup(void)
{
    unit_setup_h5_io();
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* The small variant: a 16 KiB string behind every vlen element. */
    ck_assert_int_eq(unit_fixture_script("make_hostile_fixtures.py",
                                         apr_pstrcat(pool, dir, " --small",
                                                     NULL)), 0);
    snprintf(capi, sizeof(capi), "%s/capi.h5", dir);
    write_capi(capi);
}

static void teardown(void)
{
    unit_sh("rm -rf %s", dir);
    unit_teardown();
}

typedef struct opened {
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid;
} opened;

/* dir/name through the driver over a fresh page cache. */
static opened *open_h5(const char *name)
{
    opened *o = apr_pcalloc(pool, sizeof(*o));
    const char *path = name[0] == '/' ? name
                                      : apr_pstrcat(pool, dir, "/", name,
                                                    NULL);

    unit_h5_source(&o->src, &o->fs, path, unit_heap_cache(PS, 256));
    ck_assert_int_eq(h5s3_h5_vfd_open(&o->fid, &o->src, 4096), APR_SUCCESS);
    return o;
}

static void close_h5(opened *o)
{
    H5Fclose(o->fid);
    close(o->fs.fd);
}

static h5s3_h5_preview_opts full_preview(void)
{
    h5s3_h5_preview_opts op;

    memset(&op, 0, sizeof(op));
    op.mode = "auto";
    op.detail = "full";
    op.include_stats = 1;
    return op;
}

/* The preview of (1, 16384, 2^50+1) divided by a product that wrapped to
 * 0 (SIGFPE); h5grove's /stats/ looped ~2^40 times.  Now: refused. */
START_TEST(wrapping_shapes_are_refused_on_every_value_core)
{
    static const char *const paths[] = {"/wrap3", "/wrap0", "/wrap8"};
    opened *o = open_h5("wrap_shape.h5"), *c = open_h5(capi);
    h5s3_h5_preview_opts op = full_preview();
    apr_table_t *args = apr_table_make(pool, 4);
    int i;

    for (i = 0; i < 4; i++) {
        hid_t fid = i < 3 ? o->fid : c->fid;
        const char *path = i < 3 ? paths[i] : "/wrap3";
        h5s3_result res;
        h5s3_h5_dset *d = NULL;
        h5s3_grove_payload pl;
        h5s3_grove_data_opts go;
        h5s3_h5_csv *csv = NULL;
        json_t *out = NULL;
        char *json = NULL;

        h5s3_result_init(&res, pool);
        ck_assert_int_eq(h5s3_h5_dset_open(&d, &res, fid, NULL, path,
                                           pool), H5S3_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(res.detail, "more than 2^64 elements"));
        h5s3_result_reset(&res);
        ck_assert_int_eq(h5s3_h5_preview(&out, &res, fid, NULL, path, &op,
                                         pool), H5S3_E_UNSUPPORTED);
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(strstr(res.detail, "2^64"));
        h5s3_result_reset(&res);
        ck_assert_int_eq(h5s3_h5_data(&out, &res, fid, NULL, path, "line",
                                      args, pool), H5S3_E_UNSUPPORTED);
        ck_assert_int_eq(h5s3_h5_csv_prepare(&csv, &res, fid, NULL, "k",
                                             path, "matrix", args, pool),
                         H5S3_E_UNSUPPORTED);
        h5s3_result_reset(&res);
        ck_assert_int_eq(h5s3_grove_stats(&json, &res, fid, NULL, "w.h5",
                                          path, NULL, pool),
                         H5S3_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(res.detail, "2^64"));
        memset(&go, 0, sizeof(go));
        h5s3_result_reset(&res);
        ck_assert_int_eq(h5s3_grove_data(&pl, &res, fid, NULL, "w.h5", path,
                                         &go, pool), H5S3_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(res.detail, "2^64"));
    }
    close_h5(o);
    close_h5(c);
}
END_TEST

/* (2^31, 2^31) does not wrap: a strided preview of fill values. */
START_TEST(a_huge_shape_that_fits_previews_small)
{
    opened *o = open_h5("wrap_shape.h5");
    h5s3_h5_preview_opts op = full_preview();
    h5s3_result res;
    json_t *out = NULL, *st;
    h5s3_h5_dset *d;
    char *json = NULL;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_h5_preview(&out, &res, o->fid, NULL, "/big", &op,
                                     pool), APR_SUCCESS);
    st = json_object_get(out, "stats");
    ck_assert(json_is_true(json_object_get(st, "supported")));
    ck_assert_int_gt(json_integer_value(json_object_get(st, "sample_size")),
                     0);
    json_decref(out);
    /* Whole-dataset statistics: over the cap, said at once. */
    ck_assert_int_eq(h5s3_grove_stats(&json, &res, o->fid, NULL, "w.h5",
                                      "/big", NULL, pool), H5S3_E_TOOLARGE);
    ck_assert_int_eq(h5s3_grove_stats(&json, &res, o->fid, NULL, "w.h5",
                                      "/big", "0:10,5:7", pool),
                     APR_SUCCESS);
    ck_assert_str_eq(json, "{\"strict_positive_min\":null,\"positive_min\""
                     ":0.0,\"min\":0.0,\"max\":0.0,\"mean\":0.0,"
                     "\"std\":0.0}");
    /* A selection past the dims is refused before any offset. */
    ck_assert_int_eq(h5s3_h5_dset_open(&d, &res, o->fid, NULL, "/big",
                                       pool), APR_SUCCESS);
    {
        hsize_t start[2] = {0, (1ULL << 31) - 1}, stride[2] = {1, 1};
        hsize_t count[2] = {1, 2}, wrap[2] = {1, 1ULL << 63};
        void *buf = NULL;

        ck_assert_int_eq(h5s3_h5_read(&buf, d, start, stride, count),
                         H5S3_E_INVALID);
        count[1] = 1;
        ck_assert_int_eq(h5s3_h5_read(&buf, d, start, wrap, count),
                         APR_SUCCESS);
        h5s3_h5_buf_free(d, buf, 1);
        count[1] = 2;
        start[1] = 0;
        ck_assert_int_eq(h5s3_h5_read(&buf, d, start, wrap, count),
                         H5S3_E_INVALID);
    }
    close_h5(o);
}
END_TEST

/* Chunk dims of 2^31 x 2^31 x 4 floats: 2^66 bytes, a 64-bit product of
 * 0 that passed every cap.  HDF5 opens it; we refuse to decode it. */
START_TEST(wrapping_chunk_sizes_are_refused)
{
    static const char *const files[] = {"chunk_wrap.h5", "chunk_wrap_v2.h5"};
    static const char *const paths[] = {"/c64", "/c"};
    int i;

    for (i = 0; i < 2; i++) {
        opened *o = open_h5(files[i]);
        h5s3_result res;
        h5s3_h5_dset *d = NULL;
        h5s3_h5_chunks *c = calloc(1, sizeof(*c));
        hsize_t zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
        int cap = 0;
        float out[1] = {-1};
        char *json = NULL;

        h5s3_result_init(&res, pool);
        ck_assert_int_eq(h5s3_h5_dset_open(&d, &res, o->fid, NULL, paths[i],
                                           pool), APR_SUCCESS);
        ck_assert_uint_eq(d->chunk[0], 1ULL << 31);
        ck_assert_int_eq(h5s3_h5_dset_readable(d, &res, pool),
                         H5S3_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(res.detail, "chunks of more than"));
        /* The decoder itself never sizes a buffer from the wrap. */
        c->rank = 3;
        ck_assert(h5s3_h5_chunks_add(c, &cap, zero, 0, 16, 0));
        ck_assert_int_eq(h5s3_h5_decode_chunks(out, d, &o->src, c, zero,
                                               one, one),
                         H5S3_E_UNSUPPORTED);
        ck_assert(out[0] == -1);
        h5s3_h5_chunks_free(c);
        ck_assert_int_eq(h5s3_grove_stats(&json, &res, o->fid, NULL, "c.h5",
                                          paths[i], NULL, pool),
                         H5S3_E_UNSUPPORTED);
        close_h5(o);
    }
}
END_TEST

/* Every chunk of a 1-D dataset, wanted: lists[0] = 0..n-1. */
static apr_status_t index_of(h5s3_h5_chunks **out, opened *o,
                             const char *path, hsize_t nchunks,
                             hsize_t chunk)
{
    hid_t did = H5Dopen2(o->fid, path, H5P_DEFAULT);
    hsize_t *list = apr_palloc(pool, nchunks * sizeof(*list)), i;
    hsize_t *lists[1] = {list}, lens[1] = {nchunks};
    apr_status_t rv;

    ck_assert_int_ge(did, 0);
    for (i = 0; i < nchunks; i++) {
        list[i] = i;
    }
    rv = h5s3_h5_prefetch_chunk_index(out, did, &o->src, 1, &chunk, lists,
                                      lens);
    H5Dclose(did);
    return rv;
}

/* A root claiming 0 entries wrote offs[0] of a malloc(0); one claiming
 * 65535 (room for 64) is not walked; neither gives a table. */
START_TEST(btree_nodes_of_zero_or_too_many_entries)
{
    opened *o = open_h5("btree_zero.h5"), *m = open_h5("btree_many.h5");
    h5s3_h5_chunks *c = NULL;
    h5s3_h5_dset *d;
    h5s3_result res;
    void *buf = NULL;
    hsize_t start = 0, stride = 1, count = 400, i;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(index_of(&c, o, "/zero", 100, 4), APR_SUCCESS);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(index_of(&c, o, "/two", 100, 4), APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->n, 100);
    for (i = 1; i < 100; i++) {
        ck_assert_uint_gt(c->coords[i], c->coords[i - 1]);
    }
    h5s3_h5_chunks_free(c);
    c = NULL;
    /* No chunk found: the fill value, the legitimately small answer. */
    ck_assert_int_eq(h5s3_h5_dset_open(&d, &res, o->fid, NULL, "/zero",
                                       pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_read(&buf, d, &start, &stride, &count),
                     APR_SUCCESS);
    for (i = 0; i < 400; i++) {
        ck_assert_int_eq(((int *)buf)[i], 0);
    }
    h5s3_h5_buf_free(d, buf, 400);

    ck_assert_int_eq(index_of(&c, m, "/many", 100, 4), APR_SUCCESS);
    ck_assert_ptr_null(c);
    /* HDF5 refuses the node too: the file's fault, not a 5xx. */
    ck_assert_int_eq(h5s3_h5_dset_open(&d, &res, m->fid, NULL, "/many",
                                       pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_read(&buf, d, &start, &stride, &count),
                     H5S3_E_NOTHDF5);
    close_h5(o);
    close_h5(m);
}
END_TEST

/* K patched to 32767: HDF5 sizes every node for 65534 entries (2.6 MB at
 * rank 2).  The walk reads each node's header and the entries it uses,
 * and charges every node to the request. */
START_TEST(btree_nodes_are_read_as_far_as_used)
{
    opened *o = open_h5("btree_huge.h5");
    hid_t did = H5Dopen2(o->fid, "/d", H5P_DEFAULT);
    hsize_t list0[100], list1[1] = {0}, i;
    hsize_t *lists[2] = {list0, list1}, lens[2] = {100, 1};
    hsize_t chunk[2] = {1, 8};
    h5s3_h5_chunks *c = NULL;
    h5s3_h5_request rq;
    h5s3_h5_limits l;

    for (i = 0; i < 100; i++) {
        list0[i] = i;
    }
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, pool);
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, did, &o->src, 2,
                                                  chunk, lists, lens),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->n, 100);
    h5s3_h5_chunks_free(c);
    c = NULL;
    /* The whole file is 16 KiB: no node was fetched whole. */
    ck_assert_uint_le(o->fs.bytes, o->src.obj.size);
    ck_assert_uint_ge(rq.spent[H5S3_H5_LIMIT_INDEX_NODES], 25);
    ck_assert_uint_lt(rq.spent[H5S3_H5_LIMIT_PREFETCH_BYTES], 256 * 1024);
    h5s3_h5_request_end();

    /* Fewer index nodes allowed than the tree has: the walk stops and
     * the request is over its limit. */
    h5s3_h5_limits_default(&l);
    l.max[H5S3_H5_LIMIT_INDEX_NODES] = 3;
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, pool);
    rq.limits = &l;
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, did, &o->src, 2,
                                                  chunk, lists, lens),
                     H5S3_E_LIMIT);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(rq.result.detail, "limit index-nodes"));
    h5s3_h5_request_end();
    H5Dclose(did);
    close_h5(o);
}
END_TEST

/* 200 elements pointing at one 16 KiB heap string: 3.2 MiB to read. */
START_TEST(vlen_dataset_reads_are_charged)
{
    opened *o = open_h5("vlen_amp.h5");
    h5s3_h5_request rq;
    h5s3_h5_limits l;
    h5s3_h5_dset *d;
    h5s3_result res;
    void *buf = NULL;
    hsize_t start = 0, stride = 1, count = 200;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_h5_dset_open(&d, &res, o->fid, NULL, "/s1", pool),
                     APR_SUCCESS);
    h5s3_h5_limits_default(&l);
    l.max[H5S3_H5_LIMIT_VLEN_BYTES] = 1024 * 1024;
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, pool);
    rq.limits = &l;
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_read(&buf, d, &start, &stride, &count),
                     H5S3_E_LIMIT);
    ck_assert_ptr_null(buf);
    ck_assert_ptr_nonnull(strstr(rq.result.detail, "limit vlen-bytes"));
    /* It stopped at the limit: at most one element past it was read. */
    ck_assert_uint_le(rq.spent[H5S3_H5_LIMIT_VLEN_BYTES], 1024 * 1024);
    h5s3_h5_request_end();

    /* Within the default limit the same read gives the strings. */
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, pool);
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_read(&buf, d, &start, &stride, &count),
                     APR_SUCCESS);
    ck_assert_uint_eq(strlen(((char **)buf)[199]), 16 * 1024);
    ck_assert_uint_eq(rq.spent[H5S3_H5_LIMIT_VLEN_BYTES],
                      200 * (16 * 1024 + 1));
    h5s3_h5_buf_free(d, buf, 200);
    h5s3_h5_request_end();
    close_h5(o);
}
END_TEST

/* H5Aread takes no allocator: the lengths stored with the heap IDs say
 * what it would allocate, before it reads anything. */
START_TEST(vlen_attributes_are_sized_before_reading)
{
    opened *o = open_h5("vlen_amp.h5");
    hid_t root = H5Gopen2(o->fid, "/", H5P_DEFAULT);
    hid_t s2 = H5Dopen2(o->fid, "/s2", H5P_DEFAULT);
    hid_t amp = H5Aopen(root, "amp", H5P_DEFAULT);
    hid_t amp2 = H5Aopen(s2, "amp", H5P_DEFAULT);
    hid_t note = H5Aopen(root, "note", H5P_DEFAULT);
    apr_uint64_t bytes = 0;
    h5s3_h5_request rq;
    h5s3_h5_limits l;
    json_t *v = NULL;
    char *json = NULL;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    ck_assert_int_eq(h5s3_h5_attr_vlen_bytes(&bytes, amp), APR_SUCCESS);
    ck_assert_uint_eq(bytes, 200 * (16 * 1024 + 1));
    ck_assert_int_eq(h5s3_h5_attr_vlen_bytes(&bytes, amp2), APR_SUCCESS);
    ck_assert_uint_eq(bytes, 200 * (16 * 1024 + 1));
    ck_assert_int_eq(h5s3_h5_attr_vlen_bytes(&bytes, note), APR_SUCCESS);
    ck_assert_uint_eq(bytes, 5);                /* "fine" and a NUL */

    h5s3_h5_limits_default(&l);
    l.max[H5S3_H5_LIMIT_VLEN_BYTES] = 1024 * 1024;
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, pool);
    rq.limits = &l;
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_attr_value(&v, root, note, pool), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(v), "fine");
    json_decref(v);
    v = NULL;
    ck_assert_int_eq(h5s3_h5_attr_value(&v, root, amp, pool), H5S3_E_LIMIT);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(rq.result.detail, "limit vlen-bytes"));
    /* Nothing was read: only the 5 bytes of "fine" were spent. */
    ck_assert_uint_eq(rq.spent[H5S3_H5_LIMIT_VLEN_BYTES], 5);
    h5s3_h5_request_end();

    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, pool);
    rq.limits = &l;
    h5s3_h5_request_begin(&rq);
    /* The whole answer is refused: the glue says 422 naming the limit. */
    ck_assert_int_eq(h5s3_grove_attr(&json, &res, o->fid, "v.h5", "/s2",
                                     NULL, pool), H5S3_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(rq.result.detail, "limit vlen-bytes"));
    h5s3_h5_request_end();

    H5Aclose(amp);
    H5Aclose(amp2);
    H5Aclose(note);
    H5Dclose(s2);
    H5Gclose(root);
    close_h5(o);
}
END_TEST

/* (2^32, 2^32) int8: HDF5 counts 0 elements and reads none; walking the
 * dims read 2^64 elements from a 1-element buffer. */
START_TEST(attributes_whose_count_wraps_are_not_walked)
{
    static const char *const files[] = {"wrap_shape.h5", NULL};
    int i;

    for (i = 0; i < 2; i++) {
        opened *o = open_h5(files[i] ? files[i] : capi);
        hid_t root = H5Gopen2(o->fid, "/", H5P_DEFAULT);
        hid_t a = H5Aopen(root, "wrap", H5P_DEFAULT);
        json_t *v = NULL, *all = NULL;
        char *json = NULL;
        h5s3_result res;
        int total = 0;

        h5s3_result_init(&res, pool);
        ck_assert_int_ge(a, 0);
        ck_assert_int_eq(h5s3_h5_attr_value(&v, root, a, pool),
                         H5S3_E_TOOLARGE);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(h5s3_h5_attrs(&all, &total, root, 20, 0, pool),
                         APR_SUCCESS);
        ck_assert_str_eq(json_string_value(json_object_get(all, "wrap")),
                         "<unreadable>");
        json_decref(all);
        ck_assert_int_eq(h5s3_grove_attr(&json, &res, o->fid, "w.h5", "/",
                                         NULL, pool), APR_SUCCESS);
        ck_assert_ptr_nonnull(strstr(json, "\"wrap\":null"));
        H5Aclose(a);
        H5Gclose(root);
        close_h5(o);
    }
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_hostile", "core", &tc, setup, teardown);

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, wrapping_shapes_are_refused_on_every_value_core);
    tcase_add_test(tc, a_huge_shape_that_fits_previews_small);
    tcase_add_test(tc, wrapping_chunk_sizes_are_refused);
    tcase_add_test(tc, btree_nodes_of_zero_or_too_many_entries);
    tcase_add_test(tc, btree_nodes_are_read_as_far_as_used);
    tcase_add_test(tc, vlen_dataset_reads_are_charged);
    tcase_add_test(tc, vlen_attributes_are_sized_before_reading);
    tcase_add_test(tc, attributes_whose_count_wraps_are_not_walked);
    return unit_run(s);
}
