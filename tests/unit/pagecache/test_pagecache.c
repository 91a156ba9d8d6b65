/*
 * The shared page cache: hits and misses, coalescing of missing pages,
 * eviction, ETag isolation, failures, and correctness under threads and
 * fork()ed processes sharing one segment.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_general.h>
#include <apr_shm.h>
#include <apr_global_mutex.h>
#include <apr_thread_proc.h>

#include "pagecache/h5s3_pagecache.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"
#include "unit_files.h"

#define PS 4096
#define OBJ_SIZE (256 * PS + 123)       /* short last page on purpose */

static char tmpl[] = "/tmp/h5s3-pc-XXXXXX";
static char path_a[64], path_b[64];
static char *content_a, *content_b;

static char *make_file(char *path)
{
    char *buf = malloc(OBJ_SIZE);
    int fd, i;

    strcpy(path, tmpl);
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    for (i = 0; i < OBJ_SIZE; i++) {
        buf[i] = (char)(rand() & 0xff);
    }
    ck_assert_int_eq(write(fd, buf, OBJ_SIZE), OBJ_SIZE);
    close(fd);
    return buf;
}

static void setup(void)
{
    unit_setup();
    srand(42);
    content_a = make_file(path_a);
    content_b = make_file(path_b);
}

static void teardown(void)
{
    unlink(path_a);
    unlink(path_b);
    free(content_a);
    free(content_b);
    unit_teardown();
}

static void open_obj(h5s3_pagecache_object *obj, unit_file_src *src,
                     const char *path, const char *etag)
{
    unit_file_object(obj, src, path, "key", etag);
    obj->size = OBJ_SIZE;
}

static h5s3_pagecache *heap_cache(apr_uint32_t pages, void **mem)
{
    apr_size_t size = h5s3_pagecache_segment_size(PS, pages);
    h5s3_pagecache *pc;

    *mem = calloc(1, size);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, *mem, size, PS, NULL, 1, pool),
                     APR_SUCCESS);
    return pc;
}

START_TEST(hit_after_miss)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(64, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_counts c = {0};
    h5s3_pagecache_stats st;
    char buf[300];

    open_obj(&obj, &src, path_a, "etag1");
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 5000, 300, buf, &c),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 5000, 300);
    ck_assert_uint_eq(c.misses, 1);
    ck_assert_uint_eq(c.hits, 0);
    ck_assert_uint_eq(src.calls, 1);
    /* A whole page was fetched, not just the 300 bytes. */
    ck_assert_uint_eq(c.bytes, PS);

    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 4096, 10, buf, &c),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 4096, 10);
    ck_assert_uint_eq(c.hits, 1);
    ck_assert_uint_eq(c.misses, 0);
    ck_assert_uint_eq(src.calls, 1);
    ck_assert(h5s3_pagecache_contains(pc, obj.fp, 1));
    ck_assert(!h5s3_pagecache_contains(pc, obj.fp, 2));

    h5s3_pagecache_stats_get(pc, &st);
    ck_assert_uint_eq(st.hits, 1);
    ck_assert_uint_eq(st.misses, 1);
    ck_assert_uint_eq(st.used, 1);
    ck_assert_uint_ge(st.slots, 64);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(adjacent_missing_pages_are_one_range)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(64, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_counts c = {0};
    char *buf = malloc(8 * PS);

    open_obj(&obj, &src, path_a, "etag1");
    /* Six pages, all missing: one call, one range of six pages. */
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 100, 5 * PS + 10, buf, &c),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 100, 5 * PS + 10);
    ck_assert_uint_eq(src.calls, 1);
    ck_assert_uint_eq(src.ranges, 1);
    ck_assert_uint_eq(src.last_len0, 6 * PS);
    ck_assert_uint_eq(c.misses, 6);

    /* Pages 10 and 13 cached; reading 9..15 leaves runs 9, 11-12, 14-15:
     * three ranges in a single call to the fetcher. */
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 10 * PS, 1, buf, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 13 * PS, 1, buf, NULL),
                     APR_SUCCESS);
    src.calls = src.ranges = 0;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 9 * PS, 7 * PS, buf, &c),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 9 * PS, 7 * PS);
    ck_assert_uint_eq(src.calls, 1);
    ck_assert_uint_eq(src.ranges, 3);
    ck_assert_uint_eq(c.hits, 2);
    ck_assert_uint_eq(c.misses, 5);
    close(src.fd);
    free(buf);
    free(mem);
}
END_TEST

START_TEST(prefetch_coalesces_and_then_hits)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(64, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_counts c = {0};
    apr_off_t offs[] = { 20 * PS + 5, 3 * PS, 21 * PS + 100, 23 * PS, 40 * PS };
    apr_size_t lens[] = { 100, 10, PS, 8, 1 };
    char buf[PS];
    int i;

    open_obj(&obj, &src, path_a, "etag1");
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, offs, lens, 5, &c),
                     APR_SUCCESS);
    /* Pages 3 | 20..23 | 40: three ranges in
     * one call, so the fetcher can run them concurrently. */
    ck_assert_uint_eq(src.calls, 1);
    ck_assert_uint_eq(src.ranges, 3);
    for (i = 0; i < 5; i++) {
        memset(&c, 0, sizeof(c));
        ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, offs[i], lens[i], buf,
                                             &c), APR_SUCCESS);
        ck_assert_mem_eq(buf, content_a + offs[i], lens[i]);
        ck_assert_uint_eq(c.misses, 0);
    }
    ck_assert_uint_eq(src.calls, 1);
    /* Everything cached: a second prefetch asks for nothing. */
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, offs, lens, 5, NULL),
                     APR_SUCCESS);
    ck_assert_uint_eq(src.calls, 1);
    close(src.fd);
    free(mem);
}
END_TEST

/*
 * Exact ranges: the bytes asked for (neighbours within the gap share a
 * range), kept as extents any read inside finds; a range longer than a
 * page kept as its pages; nothing fetched twice.
 */
START_TEST(exact_ranges_fetch_their_bytes_only)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(64, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_counts c = {0};
    /* Two 300-byte ranges 100 bytes apart (one range), one far off, and
     * one of 2.5 pages (its pages). */
    apr_off_t offs[] = { 10 * PS + 7, 10 * PS + 407, 50 * PS + 11,
                         100 * PS + 5 };
    apr_size_t lens[] = { 300, 300, 64, 2 * PS + PS / 2 };
    char buf[3 * PS];
    int i;

    open_obj(&obj, &src, path_a, "etag1");
    ck_assert_int_eq(h5s3_pagecache_prefetch_exact(pc, &obj, offs, lens, 4,
                                                   1024, &c), APR_SUCCESS);
    ck_assert_uint_eq(src.calls, 1);
    ck_assert_uint_eq(src.ranges, 3);
    ck_assert_uint_eq(c.fetches, 3);
    /* 700 + 64 + the 2.5 pages widened to the 3 pages they touch. */
    ck_assert_uint_eq(src.bytes, 700 + 64 + 3 * PS);
    for (i = 0; i < 4; i++) {
        memset(&c, 0, sizeof(c));
        ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, offs[i], lens[i], buf,
                                             &c), APR_SUCCESS);
        ck_assert_mem_eq(buf, content_a + offs[i], lens[i]);
        ck_assert_uint_eq(c.misses, 0);
    }
    /* A read inside a range (HDF5 reads a header 512 bytes first, an
     * accumulator the part it lacks) hits too; peek sees it. */
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 10 * PS + 200, 300, buf,
                                         NULL), APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 10 * PS + 200, 300);
    ck_assert_int_eq(h5s3_pagecache_peek(pc, &obj, 50 * PS + 20, 10, buf),
                     1);
    ck_assert_mem_eq(buf, content_a + 50 * PS + 20, 10);
    ck_assert_int_eq(h5s3_pagecache_peek(pc, &obj, 50 * PS + 70, 10, buf),
                     0);
    ck_assert_uint_eq(src.calls, 1);
    /* Asked again: nothing to fetch. */
    ck_assert_int_eq(h5s3_pagecache_prefetch_exact(pc, &obj, offs, lens, 4,
                                                   1024, NULL), APR_SUCCESS);
    ck_assert_uint_eq(src.calls, 1);
    /* A read past an extent's end is no hit: it reads the page. */
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 50 * PS + 11, 200, buf,
                                         &c), APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 50 * PS + 11, 200);
    ck_assert_uint_eq(c.misses, 1);
    close(src.fd);
    free(mem);
}
END_TEST

/* Hostile ranges (negative, past the end, lengths near 2^64) are
 * clipped or dropped; more extents than the cache holds fall back to
 * pages. */
START_TEST(exact_ranges_hostile_and_small_cache)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(8, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    apr_off_t offs[12];
    apr_size_t lens[12];
    char buf[64];
    int i;

    open_obj(&obj, &src, path_a, "etag1");
    offs[0] = -5;
    lens[0] = 10;
    offs[1] = OBJ_SIZE + 10;
    lens[1] = 10;
    offs[2] = OBJ_SIZE - 20;
    lens[2] = (apr_size_t)-1;
    ck_assert_int_eq(h5s3_pagecache_prefetch_exact(pc, &obj, offs, lens, 3,
                                                   1024, NULL), APR_SUCCESS);
    ck_assert_uint_eq(src.bytes, 20);
    ck_assert_int_eq(h5s3_pagecache_peek(pc, &obj, OBJ_SIZE - 20, 20, buf),
                     1);
    ck_assert_mem_eq(buf, content_a + OBJ_SIZE - 20, 20);
    /* Twelve scattered ranges, a cache of 8 slots: their pages instead. */
    for (i = 0; i < 12; i++) {
        offs[i] = (apr_off_t)(i * 16 + 3) * PS + 9;
        lens[i] = 32;
    }
    ck_assert_int_eq(h5s3_pagecache_prefetch_exact(pc, &obj, offs, lens, 12,
                                                   1024, NULL), APR_SUCCESS);
    ck_assert_uint_eq(src.bytes, 20 + 12 * PS);
    close(src.fd);
    free(mem);
}
END_TEST

/*
 * A chunk prefetch after the chunk index was read: the index pages lie
 * between the chunks and are cached already.  Bridging the gaps they make
 * must not fetch them a second time (it once did: a cold heatmap fetched
 * 40% more bytes than the file holds).
 */
START_TEST(prefetch_never_refetches_cached_pages)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(64, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_counts c = {0};
    apr_off_t off = 5 * PS, span = 4 * PS, gap = 12 * PS;
    apr_size_t one = 10, len = 3 * PS, glen = 4 * PS;
    char buf[3 * PS];

    open_obj(&obj, &src, path_a, "etag1");
    /* The "index" page 5, then pages 4..6 as one range. */
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, &off, &one, 1, &c),
                     APR_SUCCESS);
    ck_assert_uint_eq(c.bytes, PS);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, &span, &len, 1, &c),
                     APR_SUCCESS);
    ck_assert_uint_eq(c.bytes, 2 * PS);
    ck_assert_uint_eq(c.fetches, 2);
    ck_assert_uint_eq(c.hits, 1);
    /* A gap of unneeded, uncached pages is still bridged: 12 and 15 in
     * one range (13 and 14 come along). */
    memset(&c, 0, sizeof(c));
    {
        apr_off_t offs[] = { gap, gap + 3 * PS };
        apr_size_t lens[] = { 1, 1 };

        ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, offs, lens, 2,
                                                 &c), APR_SUCCESS);
        ck_assert_uint_eq(c.fetches, 1);
        ck_assert_uint_eq(c.bytes, glen);
    }
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, span, len, buf, &c),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + span, len);
    ck_assert_uint_eq(c.misses, 0);
    close(src.fd);
    free(mem);
}
END_TEST

/* A big prefetch is several ranges, so the fetcher can share it out. */
START_TEST(big_prefetch_is_split_for_concurrency)
{
    apr_size_t ps = 64 * 1024, big = 20 * 1024 * 1024;
    apr_size_t size = h5s3_pagecache_segment_size(ps, 512);
    void *mem = calloc(1, size);
    char path[64];
    h5s3_pagecache *pc;
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_counts c = {0};
    apr_off_t off = 0;
    apr_size_t len = big;
    int fd;

    strcpy(path, tmpl);
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)big), 0);
    close(fd);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, size, ps, NULL, 1, pool),
                     APR_SUCCESS);
    open_obj(&obj, &src, path, "etag1");
    obj.size = (apr_off_t)big;
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, &off, &len, 1, &c),
                     APR_SUCCESS);
    /* 20 MiB: runs of 8 + 8 + 4 MiB, cut into pieces of 4 MiB (the
     * least worth a request of its own), all in one call. */
    ck_assert_uint_eq(src.calls, 1);
    ck_assert_uint_eq(c.fetches, 5);
    ck_assert_uint_eq(src.last_len0, 4 * 1024 * 1024);
    ck_assert_uint_eq(c.bytes, big);
    /* A small prefetch stays one range. */
    memset(&c, 0, sizeof(c));
    h5s3_pagecache_fingerprint(obj.fp, "", "bucket", "key", "etag2");
    len = 3 * 1024 * 1024;
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, &off, &len, 1, &c),
                     APR_SUCCESS);
    ck_assert_uint_eq(c.fetches, 1);
    close(src.fd);
    unlink(path);
    free(mem);
}
END_TEST

START_TEST(end_of_object)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    char buf[400];
    char zeros[200] = {0};

    open_obj(&obj, &src, path_a, "etag1");
    /* The last page is 123 bytes: 200 bytes read straddle the end. */
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, OBJ_SIZE - 100, 300, buf,
                                         NULL), APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + OBJ_SIZE - 100, 100);
    ck_assert_mem_eq(buf + 100, zeros, 200);
    ck_assert_uint_eq(src.last_len0, 123);
    /* And from the cache, identical. */
    memset(buf, 1, sizeof(buf));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, OBJ_SIZE - 50, 100, buf,
                                         NULL), APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + OBJ_SIZE - 50, 50);
    ck_assert_mem_eq(buf + 50, zeros, 50);
    ck_assert_uint_eq(src.calls, 1);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(put_stores_whole_pages_and_the_end)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    apr_off_t last = (OBJ_SIZE / PS) * PS;
    char *buf = malloc(2 * PS);

    open_obj(&obj, &src, path_a, "etag1");
    /* Two pages and a half: the half page is not the end, so not stored. */
    h5s3_pagecache_put(pc, &obj, 0, content_a, 2 * PS + PS / 2);
    ck_assert(h5s3_pagecache_contains(pc, obj.fp, 0));
    ck_assert(h5s3_pagecache_contains(pc, obj.fp, 1));
    ck_assert(!h5s3_pagecache_contains(pc, obj.fp, 2));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 10, 2 * PS - 10, buf,
                                         NULL), APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 10, 2 * PS - 10);
    ck_assert_uint_eq(src.calls, 0);
    /* A short last page that ends the object is stored. */
    h5s3_pagecache_put(pc, &obj, last, content_a + last,
                       (apr_size_t)(OBJ_SIZE - last));
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, last, OBJ_SIZE - last,
                                         buf, NULL), APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + last, OBJ_SIZE - last);
    ck_assert_uint_eq(src.calls, 0);
    /* Misaligned: nothing. */
    h5s3_pagecache_put(pc, &obj, 3 * PS + 1, content_a + 3 * PS + 1, PS);
    ck_assert(!h5s3_pagecache_contains(pc, obj.fp, 3));
    ck_assert(!h5s3_pagecache_contains(pc, obj.fp, 4));
    free(buf);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(eviction_under_pressure)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_stats st;
    char buf[64];
    int round, p;

    open_obj(&obj, &src, path_a, "etag1");
    for (round = 0; round < 2; round++) {
        for (p = 0; p < 100; p++) {
            ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, p * PS + 7, 64,
                                                 buf, NULL), APR_SUCCESS);
            ck_assert_mem_eq(buf, content_a + p * PS + 7, 64);
        }
    }
    h5s3_pagecache_stats_get(pc, &st);
    ck_assert_uint_eq(st.used, st.slots);
    ck_assert_uint_ge(st.evictions, 200 - st.slots);
    /* The first pages were pushed out and had to be fetched again. */
    ck_assert_uint_eq(src.calls, 200);
    ck_assert(!h5s3_pagecache_contains(pc, obj.fp, 0));
    ck_assert(h5s3_pagecache_contains(pc, obj.fp, 99));
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(hot_pages_survive_a_scan)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    char buf[8];
    int p;

    open_obj(&obj, &src, path_a, "etag1");
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 0, 8, buf, NULL),
                     APR_SUCCESS);
    for (p = 1; p < 40; p++) {
        /* Page 0 is read between every new page: the clock keeps it. */
        ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, p * PS, 8, buf, NULL),
                         APR_SUCCESS);
        ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 0, 8, buf, NULL),
                         APR_SUCCESS);
        ck_assert_mem_eq(buf, content_a, 8);
    }
    ck_assert_uint_eq(src.calls, 40);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(etag_change_never_serves_stale_pages)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object v1, v2;
    unit_file_src s1, s2;
    char buf[100];

    /* Same bucket and key; the object was overwritten (new ETag). */
    open_obj(&v1, &s1, path_a, "etag-old");
    open_obj(&v2, &s2, path_b, "etag-new");
    ck_assert_int_eq(h5s3_pagecache_read(pc, &v1, 1000, 100, buf, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 1000, 100);
    ck_assert_int_eq(h5s3_pagecache_read(pc, &v2, 1000, 100, buf, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_b + 1000, 100);
    ck_assert_uint_eq(s2.calls, 1);
    ck_assert_int_eq(h5s3_pagecache_read(pc, &v2, 1000, 100, buf, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_b + 1000, 100);
    ck_assert_uint_eq(s2.calls, 1);
    close(s1.fd);
    close(s2.fd);
    free(mem);
}
END_TEST

START_TEST(failed_fetch_reports_and_caches_nothing)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    h5s3_pagecache_stats st;
    char buf[100];

    open_obj(&obj, &src, path_a, "etag1");
    src.fail = H5S3_E_TIMEOUT;
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 0, 100, buf, NULL),
                     H5S3_E_TIMEOUT);
    ck_assert_int_eq(h5s3_pagecache_prefetch(pc, &obj, &(apr_off_t){0},
                                             &(apr_size_t){100}, 1, NULL),
                     H5S3_E_TIMEOUT);
    h5s3_pagecache_stats_get(pc, &st);
    ck_assert_uint_eq(st.used, 0);
    src.fail = 0;
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 0, 100, buf, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a, 100);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(short_answer_is_an_error)
{
    void *mem;
    h5s3_pagecache *pc = heap_cache(16, &mem);
    h5s3_pagecache_object obj;
    unit_file_src src;
    char buf[100];

    /* The object claims to be longer than what the origin returns. */
    open_obj(&obj, &src, path_a, "etag1");
    obj.size = OBJ_SIZE + 5000;
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, OBJ_SIZE - 10, 100, buf,
                                         NULL), H5S3_E_UPSTREAM);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(no_cache_reads_through)
{
    h5s3_pagecache_object obj;
    unit_file_src src;
    char buf[100];

    open_obj(&obj, &src, path_a, "etag1");
    ck_assert_int_eq(h5s3_pagecache_read(NULL, &obj, 70000, 100, buf, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 70000, 100);
    ck_assert_int_eq(h5s3_pagecache_read(NULL, &obj, 70000, 100, buf, NULL),
                     APR_SUCCESS);
    ck_assert_uint_eq(src.calls, 2);
    close(src.fd);
}
END_TEST

START_TEST(attach_checks_the_segment)
{
    apr_size_t size = h5s3_pagecache_segment_size(PS, 32);
    void *mem = calloc(1, size);
    h5s3_pagecache *pc, *pc2;
    h5s3_pagecache_object obj;
    unit_file_src src;
    char buf[10];

    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, size, PS, NULL, 0, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, 1000, PS, NULL, 1, pool),
                     APR_ENOSPC);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, size, 3000, NULL, 1, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, size, PS, NULL, 1, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_pagecache_init(&pc2, mem, size, 2 * PS, NULL, 0,
                                         pool), H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_pagecache_init(&pc2, mem, size, PS, NULL, 0, pool),
                     APR_SUCCESS);
    /* A second attachment sees what the first cached. */
    open_obj(&obj, &src, path_a, "etag1");
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 10, 10, buf, NULL),
                     APR_SUCCESS);
    ck_assert(h5s3_pagecache_contains(pc2, obj.fp, 0));
    close(src.fd);
    free(mem);
}
END_TEST

/* ---- concurrency ------------------------------------------------------- */

typedef struct worker {
    h5s3_pagecache *pc;
    h5s3_pagecache_object *obj;
    unsigned seed;
    int bad;
} worker;

static int hammer(h5s3_pagecache *pc, h5s3_pagecache_object *obj,
                  unsigned seed, int iters)
{
    char *buf = malloc(5 * PS);
    int i, bad = 0;

    for (i = 0; i < iters; i++) {
        apr_off_t off = rand_r(&seed) % OBJ_SIZE;
        apr_size_t len = 1 + rand_r(&seed) % (4 * PS);

        if (off + (apr_off_t)len > OBJ_SIZE) {
            len = (apr_size_t)(OBJ_SIZE - off);
        }
        if (h5s3_pagecache_read(pc, obj, off, len, buf, NULL) != APR_SUCCESS
            || memcmp(buf, content_a + off, len) != 0) {
            bad++;
        }
    }
    free(buf);
    return bad;
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *t, void *data)
{
    worker *w = data;

    w->bad = hammer(w->pc, w->obj, w->seed, 2000);
    return NULL;
}

START_TEST(threads_share_one_cache)
{
    apr_size_t size = h5s3_pagecache_segment_size(PS, 48);
    void *mem = calloc(1, size);
    apr_global_mutex_t *mutex;
    h5s3_pagecache *pc;
    h5s3_pagecache_object obj;
    h5s3_pagecache_stats st;
    unit_file_src src;
    apr_thread_t *th[8];
    worker w[8];
    apr_status_t trv;
    int i;

    ck_assert_int_eq(apr_global_mutex_create(&mutex, NULL, APR_LOCK_DEFAULT,
                                             pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, size, PS, mutex, 1, pool),
                     APR_SUCCESS);
    open_obj(&obj, &src, path_a, "etag1");
    for (i = 0; i < 8; i++) {
        w[i].pc = pc;
        w[i].obj = &obj;
        w[i].seed = 1000 + i;
        w[i].bad = -1;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, thread_main, &w[i],
                                           pool), APR_SUCCESS);
    }
    for (i = 0; i < 8; i++) {
        apr_thread_join(&trv, th[i]);
        ck_assert_int_eq(w[i].bad, 0);
    }
    h5s3_pagecache_stats_get(pc, &st);
    ck_assert_uint_gt(st.hits, 0);
    ck_assert_uint_gt(st.evictions, 0);
    close(src.fd);
    free(mem);
}
END_TEST

START_TEST(forked_processes_share_one_segment)
{
    apr_size_t size = h5s3_pagecache_segment_size(PS, 48);
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;
    h5s3_pagecache *pc;
    h5s3_pagecache_object obj;
    h5s3_pagecache_stats st;
    unit_file_src src;
    char buf[16];
    pid_t kids[4];
    int i, status;

    /* What the module does: anonymous shm and a global mutex created
     * before fork, mutex re-initialised in each child. */
    ck_assert_int_eq(apr_shm_create(&shm, size, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_global_mutex_create(&mutex, NULL, APR_LOCK_DEFAULT,
                                             pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_pagecache_init(&pc, apr_shm_baseaddr_get(shm),
                                         apr_shm_size_get(shm), PS, mutex, 1,
                                         pool), APR_SUCCESS);
    open_obj(&obj, &src, path_a, "etag1");
    for (i = 0; i < 4; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            h5s3_pagecache *cpc;
            int bad;

            if (apr_global_mutex_child_init(&mutex, NULL, pool)
                != APR_SUCCESS
                || h5s3_pagecache_init(&cpc, apr_shm_baseaddr_get(shm),
                                       apr_shm_size_get(shm), PS, mutex, 0,
                                       pool) != APR_SUCCESS) {
                _exit(2);
            }
            bad = hammer(cpc, &obj, 77 + i, 3000);
            _exit(bad ? 1 : 0);
        }
    }
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    /* The children's traffic is visible to the parent: same segment. */
    h5s3_pagecache_stats_get(pc, &st);
    ck_assert_uint_gt(st.hits, 0);
    ck_assert_uint_gt(st.inserts, 0);
    ck_assert_int_eq(h5s3_pagecache_read(pc, &obj, 4242, 16, buf, NULL),
                     APR_SUCCESS);
    ck_assert_mem_eq(buf, content_a + 4242, 16);
    close(src.fd);
    apr_shm_destroy(shm);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("pagecache", "core", &tc, setup, teardown);

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hit_after_miss);
    tcase_add_test(tc, adjacent_missing_pages_are_one_range);
    tcase_add_test(tc, prefetch_coalesces_and_then_hits);
    tcase_add_test(tc, exact_ranges_fetch_their_bytes_only);
    tcase_add_test(tc, exact_ranges_hostile_and_small_cache);
    tcase_add_test(tc, prefetch_never_refetches_cached_pages);
    tcase_add_test(tc, big_prefetch_is_split_for_concurrency);
    tcase_add_test(tc, end_of_object);
    tcase_add_test(tc, put_stores_whole_pages_and_the_end);
    tcase_add_test(tc, eviction_under_pressure);
    tcase_add_test(tc, hot_pages_survive_a_scan);
    tcase_add_test(tc, etag_change_never_serves_stale_pages);
    tcase_add_test(tc, failed_fetch_reports_and_caches_nothing);
    tcase_add_test(tc, short_answer_is_an_error);
    tcase_add_test(tc, no_cache_reads_through);
    tcase_add_test(tc, attach_checks_the_segment);
    tcase_add_test(tc, threads_share_one_cache);
    tcase_add_test(tc, forked_processes_share_one_segment);
    return unit_run(s);
}
