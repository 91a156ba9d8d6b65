/*
 * Streaming reconstruction with the real xdelta3, through the store seam
 * filled with local files: byte-exact output, the held-back last piece,
 * corrupted references, tampered deltas, and upload round trips.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include "dg/h5s3_dg.h"
#include "unit_common.h"

static char dir[64];
static const char *cache;

static const char *path_of(const char *name)
{
    return apr_pstrcat(pool, dir, "/", name, NULL);
}

/* ---- a local store: key -> (file, metadata) ---- */

typedef struct obj {
    const char *path;
    apr_table_t *meta;
} obj;

typedef struct local {
    apr_hash_t *objs;
    int gets, puts, n;
} local;

static local store_data;
static h5s3_dg_store store;

static apr_status_t l_head(h5s3_dg_store *st, h5s3_s3_object_info **info,
                           const char *key, apr_pool_t *p)
{
    local *l = st->baton;
    obj *o = apr_hash_get(l->objs, key, APR_HASH_KEY_STRING);
    h5s3_s3_object_info *in;
    apr_finfo_t fi;

    if (!o)
        return H5S3_E_NOTFOUND;
    ck_assert_int_eq(apr_stat(&fi, o->path, APR_FINFO_SIZE | APR_FINFO_MTIME,
                              p), APR_SUCCESS);
    in = apr_pcalloc(p, sizeof(*in));
    in->size = fi.size;
    in->mtime = fi.mtime;
    in->etag = apr_psprintf(p, "%" APR_OFF_T_FMT, fi.size);
    in->meta = apr_table_copy(p, o->meta);
    *info = in;
    return APR_SUCCESS;
}

static apr_status_t l_get(h5s3_dg_store *st, const char *key,
                          const char *if_match, h5s3_s3_data_cb on_data,
                          void *baton, apr_pool_t *p)
{
    local *l = st->baton;
    obj *o = apr_hash_get(l->objs, key, APR_HASH_KEY_STRING);
    char buf[65536];
    FILE *f;
    size_t n;
    apr_status_t rv = APR_SUCCESS;

    if (!o)
        return H5S3_E_NOTFOUND;
    l->gets++;
    f = fopen(o->path, "rb");
    ck_assert_ptr_nonnull(f);
    while (rv == APR_SUCCESS && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        rv = on_data(baton, buf, n);
    fclose(f);
    return rv;
}

static apr_status_t l_put(h5s3_dg_store *st, const char *key, apr_off_t size,
                          const char *ctype, apr_table_t *meta,
                          h5s3_s3_read_cb read_cb, void *baton, apr_pool_t *p)
{
    local *l = st->baton;
    obj *o = apr_pcalloc(pool, sizeof(*o));
    char buf[10000];
    apr_off_t total = 0;
    FILE *f;

    o->path = apr_psprintf(pool, "%s/put-%d", dir, ++l->n);
    o->meta = apr_table_copy(pool, meta);
    f = fopen(o->path, "wb");
    ck_assert_ptr_nonnull(f);
    for (;;) {
        apr_size_t n = sizeof(buf);
        ck_assert_int_eq(read_cb(baton, buf, &n), APR_SUCCESS);
        if (n == 0)
            break;
        fwrite(buf, 1, n, f);
        total += (apr_off_t)n;
    }
    fclose(f);
    ck_assert_int_eq(total, size);
    l->puts++;
    apr_hash_set(l->objs, apr_pstrdup(pool, key), APR_HASH_KEY_STRING, o);
    return APR_SUCCESS;
}

static void put_local(const char *key, const char *file, apr_table_t *meta)
{
    obj *o = apr_pcalloc(pool, sizeof(*o));
    o->path = path_of(file);
    o->meta = meta ? meta : apr_table_make(pool, 1);
    apr_hash_set(store_data.objs, key, APR_HASH_KEY_STRING, o);
}

static const char *sha_of(const char *file, apr_off_t *size)
{
    const char *hex;
    ck_assert_int_eq(h5s3_dg_file_sha256(&hex, size, path_of(file), pool),
                     APR_SUCCESS);
    return hex;
}

static h5s3_dg_codec_opts opts;

static void setup(void)
{
    unit_setup();
    strcpy(dir, "/tmp/h5s3-restore-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    cache = path_of("cache");
    unit_sh("mkdir %s", cache);
    /* v1: 3 MB; v2: v1 with edits, an insertion and an append. */
    unit_sh("cd %s && head -c 3000000 /dev/urandom > v1.zip && "
            "(head -c 1000000 v1.zip; echo inserted; "
            "tail -c +1000001 v1.zip | head -c 1500000; "
            "head -c 70000 /dev/urandom; tail -c 400000 v1.zip) "
            "> v2.zip", dir);
    memset(&store_data, 0, sizeof(store_data));
    store_data.objs = apr_hash_make(pool);
    store.head = l_head;
    store.get = l_get;
    store.put = l_put;
    store.list = NULL;
    store.baton = &store_data;
    memset(&opts, 0, sizeof(opts));
    opts.cache_dir = cache;
    opts.cache_scope = "http://s3.test#0123456789abcdef";
    opts.bucket = "unit";
    opts.chunk_size = 256 * 1024;
}

/* Where a delta's reference is cached, relative to dir (or absolute). */
static const char *cached_ref(const h5s3_dg_meta *m, int absolute)
{
    const char *name;

    ck_assert_int_eq(h5s3_dg_ref_cache_name(&name, opts.cache_scope,
                                            opts.bucket, m->ref_key,
                                            m->ref_sha256, pool),
                     APR_SUCCESS);
    return apr_pstrcat(pool, absolute ? cache : "cache", "/", name, NULL);
}

static void teardown(void)
{
    unit_sh("rm -rf %s", dir);
    unit_teardown();
}

/* v1 as P/reference.bin, delta of target against it as P/<name>.delta. */
static h5s3_dg_meta *publish_against(const char *ref, const char *name,
                                     const char *target)
{
    const char *h1, *ht;
    h5s3_result res;
    apr_off_t s1, st;
    apr_table_t *rm = apr_table_make(pool, 4), *dm = apr_table_make(pool, 8);
    h5s3_dg_meta *m;
    const char *dkey = apr_pstrcat(pool, "P/", name, ".delta", NULL);

    h5s3_result_init(&res, pool);
    h1 = sha_of(ref, &s1);
    ht = sha_of(target, &st);
    apr_table_set(rm, "dg-file-sha256", h1);
    apr_table_set(rm, "dg-note", "reference");
    put_local("P/reference.bin", ref, rm);
    ck_assert_int_eq(h5s3_dg_xdelta_encode(&res, &opts, path_of(ref),
                                           path_of(target),
                                           path_of(apr_pstrcat(pool, name,
                                                   ".d", NULL)), pool),
                     APR_SUCCESS);
    apr_table_set(dm, "dg-file-sha256", ht);
    apr_table_set(dm, "dg-file-size", apr_off_t_toa(pool, st));
    apr_table_set(dm, "dg-ref-key", "P/reference.bin");
    apr_table_set(dm, "dg-ref-sha256", h1);
    put_local(dkey, apr_pstrcat(pool, name, ".d", NULL), dm);
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, dkey, dm, pool), APR_SUCCESS);
    return m;
}

static h5s3_dg_meta *publish(const char *name, const char *target)
{
    return publish_against("v1.zip", name, target);
}

/* ---- a receiver that hashes what it is given ---- */

typedef struct sink {
    EVP_MD_CTX *md;
    apr_off_t bytes;
    int calls;
    int fail_after;             /* 0: never */
    apr_size_t max_piece;
    apr_interval_time_t stall;  /* on the first piece: a slow client */
} sink;

static apr_status_t sink_data(void *baton, const char *data, apr_size_t len)
{
    sink *s = baton;

    if (s->calls++ == 0 && s->stall)
        apr_sleep(s->stall);
    s->bytes += (apr_off_t)len;
    if (len > s->max_piece)
        s->max_piece = len;
    EVP_DigestUpdate(s->md, data, len);
    if (s->fail_after && s->calls >= s->fail_after)
        return H5S3_E_ABORTED;
    return APR_SUCCESS;
}

static void sink_init(sink *s)
{
    memset(s, 0, sizeof(*s));
    s->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL);
}

static const char *sink_hex(sink *s)
{
    unsigned char md[32];
    unsigned int n;
    char *hex = apr_palloc(pool, 65);
    int i;

    EVP_DigestFinal_ex(s->md, md, &n);
    EVP_MD_CTX_free(s->md);
    for (i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    return hex;
}

/* Change one byte of a file in place (to 255 minus what it was). */
static void flip_byte(const char *path, apr_off_t at)
{
    unit_sh("f=%s; n=%" APR_OFF_T_FMT "; "
            "b=$(dd if=$f bs=1 skip=$n count=1 2>/dev/null "
            "| od -An -tu1 | tr -d ' '); "
            "printf \"\\\\$(printf %%o $((255 - b)))\" "
            "| dd of=$f bs=1 seek=$n conv=notrunc 2>/dev/null",
            path, at);
}

START_TEST(reconstructs_byte_exact)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    apr_off_t size;
    const char *h2 = sha_of("v2.zip", &size);
    apr_finfo_t fi;
    sink s;
    int gets;

    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), h2);
    ck_assert_int_eq(s.bytes, size);
    ck_assert_int_eq(res.bytes, size);
    ck_assert_str_eq(res.sha256, h2);
    ck_assert_int_gt(s.calls, 10);                  /* streamed */
    ck_assert_uint_le(s.max_piece, opts.chunk_size);
    /* The reference is cached under its key; the next restore reuses it. */
    ck_assert_int_eq(apr_stat(&fi, cached_ref(m, 1), APR_FINFO_SIZE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(fi.size, 3000000);
    gets = store_data.gets;
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), h2);
    ck_assert_int_eq(store_data.gets, gets + 1);    /* the delta only */
}
END_TEST

/*
 * The decoder runs with an 8 MiB source buffer (-B), the encoder with
 * xdelta3's 64 MiB: a target made of a 40 MB reference's 1 MB blocks in
 * reverse order copies from up to 39 MB away.  Still byte-exact.
 */
START_TEST(far_matches_outside_source_buffer)
{
    h5s3_dg_meta *m;
    h5s3_dg_restore_result res;
    apr_off_t size;
    apr_finfo_t fi;
    const char *want;
    sink s;

    unit_sh("cd %s && head -c 41943040 /dev/urandom > big1 "
            "&& for i in $(seq 39 -1 0); do dd if=big1 bs=1048576 "
            "skip=$i count=1 status=none; done > big2", dir);
    want = sha_of("big2", &size);
    m = publish_against("big1", "big2", "big2");
    /* Copies, not literals: the delta really reaches far back. */
    ck_assert_int_eq(apr_stat(&fi, path_of("big2.d"), APR_FINFO_SIZE, pool),
                     APR_SUCCESS);
    ck_assert_int_lt(fi.size, 1048576);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/big2.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), want);
    ck_assert_int_eq(s.bytes, size);
}
END_TEST

START_TEST(zero_diff_delta)
{
    h5s3_dg_meta *m = publish("v1.zip", "v1.zip");
    h5s3_dg_restore_result res;
    sink s;

    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v1.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), sha_of("v1.zip", NULL));
}
END_TEST

START_TEST(corrupted_reference)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    sink s;

    /* (A fixed 'X' left the file intact once in 256 runs.) */
    unit_sh("cd %s && cp v1.zip bad.bin", dir);
    flip_byte(path_of("bad.bin"), 12345);
    put_local("P/reference.bin", "bad.bin", NULL);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_INTEGRITY);
    ck_assert_ptr_nonnull(strstr(res.reason, "reference"));
    ck_assert_int_eq(s.bytes, 0);
    sink_hex(&s);
}
END_TEST

/*
 * The same reference key and dg-ref-sha256 in another bucket, or through
 * another endpoint or credentials, is another cache entry: a good copy
 * cached for one never stands in for the other's corrupted one.
 */
START_TEST(cache_is_per_scope_and_bucket)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_codec_opts other = opts;
    const char *h2 = sha_of("v2.zip", NULL), *good;
    h5s3_dg_restore_result res;
    int gets, i;
    sink s;

    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), h2);
    good = cached_ref(m, 1);
    /* The store now holds a corrupted reference under the same key. */
    unit_sh("cd %s && cp v1.zip bad.bin", dir);
    flip_byte(path_of("bad.bin"), 12345);
    put_local("P/reference.bin", "bad.bin", NULL);
    for (i = 0; i < 2; i++) {
        other.bucket = i == 0 ? "another-bucket" : opts.bucket;
        other.cache_scope = i == 0 ? opts.cache_scope
                                   : "http://other.test#0123456789abcdef";
        gets = store_data.gets;
        sink_init(&s);
        ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m,
                                         NULL, &other, sink_data, &s, pool),
                         H5S3_E_INTEGRITY);
        ck_assert_ptr_nonnull(strstr(res.reason, "reference P/reference.bin "
                                     "has SHA-256"));
        ck_assert_int_eq(s.bytes, 0);
        sink_hex(&s);
        /* The delta and the reference were both fetched. */
        ck_assert_int_eq(store_data.gets, gets + 2);
    }
    /* The first bucket still restores from its own verified copy. */
    gets = store_data.gets;
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), h2);
    ck_assert_int_eq(store_data.gets, gets + 1);
    ck_assert_str_eq(sha_of(apr_pstrcat(pool, "cache/",
                                        strrchr(good, '/') + 1, NULL), NULL),
                     m->ref_sha256);
}
END_TEST

START_TEST(rotten_cache_is_refetched)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    sink s;

    /* A cache file that no longer matches its name is not used. */
    unit_sh("head -c 3000000 /dev/zero > %s",
            cached_ref(m, 1));
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), sha_of("v2.zip", NULL));
    ck_assert_str_eq(sha_of(cached_ref(m, 0), NULL), m->ref_sha256);
}
END_TEST

START_TEST(rotten_cache_never_completes)
{
    h5s3_dg_meta *m;
    h5s3_dg_restore_result res;
    const char *cached, *h;
    apr_off_t size;
    apr_finfo_t fi;
    apr_status_t rv;
    sink s;
    int gets;

    /* A 48 MB reference whose first 2 MB are the original: the delta
     * never reads the bytes after, so rot there leaves the output right
     * and only the reference's own hash can tell.  Hashing 48 MB takes
     * longer than xdelta3 takes to start streaming, so the check usually
     * fails after the first byte went out (the case it exists for). */
    unit_sh("cd %s && head -c 48000000 /dev/urandom > big.zip"
            " && head -c 2000000 big.zip > p.zip", dir);
    m = publish_against("big.zip", "p.zip", "p.zip");
    h = sha_of("p.zip", &size);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/p.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), h);
    cached = cached_ref(m, 1);
    flip_byte(cached, 47000000);

    gets = store_data.gets;
    sink_init(&s);
    s.stall = apr_time_from_msec(100);
    rv = h5s3_dg_restore(&res, &store, "P/p.zip.delta", m, NULL, &opts,
                         sink_data, &s, pool);
    if (rv == APR_SUCCESS) {
        /* Found before the first byte: started over from a fresh copy. */
        ck_assert_str_eq(sink_hex(&s), h);
        ck_assert_int_eq(store_data.gets, gets + 2);
    }
    else {
        /* Found after: stopped short, the reference blamed. */
        ck_assert_int_eq(rv, H5S3_E_INTEGRITY);
        ck_assert_ptr_nonnull(strstr(res.reason, "cached reference"));
        ck_assert_int_lt(s.bytes, size);
        sink_hex(&s);
        ck_assert_int_eq(store_data.gets, gets + 1);    /* the delta */
        /* The rotten file is gone: the next restore fetches it again. */
        ck_assert_int_ne(apr_stat(&fi, cached, APR_FINFO_TYPE, pool),
                         APR_SUCCESS);
        sink_init(&s);
        ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/p.zip.delta", m,
                                         NULL, &opts, sink_data, &s, pool),
                         APR_SUCCESS);
        ck_assert_str_eq(sink_hex(&s), h);
        ck_assert_int_eq(store_data.gets, gets + 3);
    }
    ck_assert_str_eq(sha_of(cached_ref(m, 0), NULL), m->ref_sha256);
    fprintf(stderr, "rotten_cache_never_completes: found %s the first "
            "byte\n", rv == APR_SUCCESS ? "before" : "after");
}
END_TEST

START_TEST(rotten_cache_small_output_all_held)
{
    h5s3_dg_meta *m;
    h5s3_dg_restore_result res;
    const char *cached;
    sink s;

    /* A 100 KB original is one held piece: a rotten reference (in bytes
     * the delta does not use) is found before anything goes out, and the
     * restore quietly starts over from a fresh copy. */
    unit_sh("cd %s && head -c 100000 v1.zip > q.zip", dir);
    m = publish("q.zip", "q.zip");
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/q.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    sink_hex(&s);
    cached = cached_ref(m, 1);
    flip_byte(cached, 2999999);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/q.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), sha_of("q.zip", NULL));
    ck_assert_int_eq(s.calls, 1);
    ck_assert_str_eq(sha_of(cached_ref(m, 0), NULL), m->ref_sha256);
}
END_TEST

START_TEST(tampered_delta_never_succeeds)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    apr_off_t dsize, size;
    const char *h2 = sha_of("v2.zip", &size);
    apr_off_t at;
    const char *got;
    sink s;

    sha_of("v2.zip.d", &dsize);
    /* Flip bytes at several places of the delta's body. */
    for (at = 40; at < dsize; at += dsize / 5) {
        apr_status_t rv;
        /* Flipped, not set to 0xff: a byte already 0xff is not a change. */
        unit_sh("cd %s && cp v2.zip.d t.d", dir);
        flip_byte(path_of("t.d"), at);
        unit_sh("cd %s && cmp -s t.d v2.zip.d; test $? = 1",
                dir);
        put_local("P/v2.zip.delta", "t.d", NULL);
        sink_init(&s);
        rv = h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL, &opts,
                             sink_data, &s, pool);
        ck_assert_msg(rv == H5S3_E_INTEGRITY, "offset %" APR_OFF_T_FMT
                      ": %d", at, rv);
        ck_assert_ptr_nonnull(res.reason);
        /* Whatever got through, it was never the whole verified file. */
        got = sink_hex(&s);
        ck_assert(s.bytes < size || strcmp(got, h2) != 0);
    }
}
END_TEST

START_TEST(last_piece_held_back_on_mismatch)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    apr_off_t size;
    sink s;

    sha_of("v2.zip", &size);
    m->file_sha256 = "00000000000000000000000000000000"
                     "00000000000000000000000000000000";
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_INTEGRITY);
    ck_assert_ptr_nonnull(strstr(res.reason, "dg-file-sha256"));
    ck_assert_int_eq(res.bytes, size);
    /* Everything but the last piece went out; the last one never did. */
    ck_assert_int_lt(s.bytes, size);
    ck_assert_int_ge(s.bytes, size - (apr_off_t)opts.chunk_size);
    sink_hex(&s);

    /* A wrong size is caught the same way. */
    m = publish("v2.zip", "v2.zip");
    m->file_size = size - 1;
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_INTEGRITY);
    ck_assert_int_lt(s.bytes, size);
    sink_hex(&s);
}
END_TEST

START_TEST(small_output_is_all_held)
{
    h5s3_dg_restore_result res;
    apr_table_t *dm = apr_table_make(pool, 4);
    h5s3_dg_meta *m;
    sink s;

    unit_sh("cd %s && echo hello > s1.zip && "
            "echo hellO > s2.zip", dir);
    put_local("reference.bin", "s1.zip", NULL);
    ck_assert_int_eq(h5s3_dg_xdelta_encode(NULL, &opts, path_of("s1.zip"),
                                           path_of("s2.zip"),
                                           path_of("s.d"), pool),
                     APR_SUCCESS);
    put_local("s2.zip.delta", "s.d", dm);
    apr_table_set(dm, "dg-ref-sha256", sha_of("s1.zip", NULL));
    apr_table_set(dm, "dg-file-sha256", sha_of("s1.zip", NULL)); /* wrong */
    ck_assert_int_eq(h5s3_dg_meta_parse(&m, NULL, "s2.zip.delta", dm, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(m->ref_key, "reference.bin");
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "s2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_INTEGRITY);
    ck_assert_int_eq(s.calls, 0);
    sink_hex(&s);
}
END_TEST

START_TEST(recompressed_delta_refused)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    sink s;

    unit_sh("cd %s && mkdir t && cd t && cp ../v1.zip a && "
            "tar czf ../v1.tgz a && cp ../v2.zip b && "
            "tar czf ../v2.tgz a b && cd .. && "
            "xdelta3 -e -f -9 -s v1.tgz v2.tgz g.d 2>/dev/null", dir);
    put_local("P/v2.zip.delta", "g.d", NULL);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_INTEGRITY);
    ck_assert_ptr_nonnull(strstr(res.reason, "recompression"));
    ck_assert_int_eq(s.calls, 0);
    sink_hex(&s);
}
END_TEST

START_TEST(receiver_abort_stops_decoder)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    sink s;

    sink_init(&s);
    s.fail_after = 2;
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_ABORTED);
    ck_assert_int_eq(s.calls, 2);
    sink_hex(&s);
}
END_TEST

/* ---- the xdelta3 process ---- */

/* Children of ours that are zombies (exited, never reaped). */
static int zombie_children(void)
{
    char buf[512], *rp;
    int n = 0, ppid;
    char state;
    apr_dir_t *d;
    apr_finfo_t fi;

    ck_assert_int_eq(apr_dir_open(&d, "/proc", pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        FILE *f;

        if (!fi.name || fi.name[0] < '0' || fi.name[0] > '9')
            continue;
        if (!(f = fopen(apr_psprintf(pool, "/proc/%s/stat", fi.name), "r")))
            continue;
        if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')'))
            && sscanf(rp + 1, " %c %d", &state, &ppid) == 2
            && state == 'Z' && ppid == (int)getpid())
            n++;
        fclose(f);
    }
    apr_dir_close(d);
    return n;
}

/*
 * The program is spawned with its three standard descriptors and
 * nothing else, even a descriptor without close-on-exec, and with no
 * blocked or ignored signal, whatever the spawning thread had.
 */
START_TEST(spawned_with_nothing_inherited)
{
    const char *wrapper = path_of("xdelta3-wrap");
    h5s3_result res;
    const char *rec = path_of("wrap.rec");
    char line[512];
    sigset_t block, old;
    int leak, fds = 0, std = 0;
    FILE *f;

    h5s3_result_init(&res, pool);
    /* The listing is written by a child shell: dash redirects a simple
     * command in the shell itself, whose saved descriptors would show. */
    ck_assert_ptr_nonnull(f = fopen(wrapper, "w"));
    fprintf(f, "#!/bin/sh\n/bin/sh -c '{ ls -l /proc/$1/fd; "
            "grep -E \"^Sig(Blk|Ign)\" /proc/$1/status; } > \"$2\"' "
            "x $$ %s\nexec xdelta3 \"$@\"\n", rec);
    fclose(f);
    unit_sh("chmod +x %s", wrapper);
    leak = open("/dev/null", O_RDONLY);          /* no O_CLOEXEC */
    ck_assert_int_ge(leak, 3);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
    signal(SIGPIPE, SIG_IGN);
    opts.xdelta3 = wrapper;
    ck_assert_int_eq(h5s3_dg_xdelta_encode(&res, &opts, path_of("v1.zip"),
                                           path_of("v2.zip"),
                                           path_of("w.d"), pool),
                     APR_SUCCESS);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, SIG_DFL);
    close(leak);
    ck_assert_ptr_nonnull(f = fopen(rec, "r"));
    while (fgets(line, sizeof(line), f)) {
        char *arrow = strstr(line, " -> ");
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7)) {
            unsigned long long mask = strtoull(line + 7, NULL, 16);
            /* glibc's posix_spawn leaves its own two internal signals
             * (32, 33) ignored; every standard signal is as new. */
            ck_assert_msg((mask & 0x7fffffffULL) == 0, "%s", line);
            if (line[3] == 'B')
                ck_assert_msg(mask == 0, "%s", line);
            continue;
        }
        if (!arrow)
            continue;
        /* The shell reading the wrapper is the wrapper's own doing. */
        if (strstr(arrow, "xdelta3-wrap"))
            continue;
        fds++;
        std += arrow[-2] == ' ' && arrow[-1] >= '0' && arrow[-1] <= '2';
        ck_assert_msg(strstr(arrow, "/dev/null") || strstr(arrow, "dgerr-"),
                      "unexpected: %s", line);
    }
    fclose(f);
    ck_assert_int_eq(fds, 3);
    ck_assert_int_eq(std, 3);
}
END_TEST

START_TEST(missing_program_and_abandoned_decoder)
{
    h5s3_result res;
    h5s3_dg_xdelta_proc *x = NULL;
    apr_file_t *in;
    apr_pool_t *sub;

    h5s3_result_init(&res, pool);
    opts.xdelta3 = path_of("no-such-xdelta3");
    ck_assert_int_eq(h5s3_dg_xdelta_encode(&res, &opts, path_of("v1.zip"),
                                           path_of("v2.zip"),
                                           path_of("w.d"), pool),
                     APR_ENOENT);
    ck_assert_ptr_nonnull(strstr(res.detail, "cannot run"));
    ck_assert_int_eq(h5s3_dg_xdelta_decode_start(&x, &opts, path_of("v1.zip"),
                                                 NULL, pool), APR_ENOENT);
    /* A decoder whose pool goes without a finish is killed and reaped. */
    opts.xdelta3 = NULL;
    apr_pool_create(&sub, pool);
    ck_assert_int_eq(apr_file_open(&in, "/dev/zero", APR_FOPEN_READ,
                                   APR_OS_DEFAULT, sub), APR_SUCCESS);
    ck_assert_int_eq(h5s3_dg_xdelta_decode_start(&x, &opts, path_of("v1.zip"),
                                                 in, sub), APR_SUCCESS);
    apr_pool_destroy(sub);
    ck_assert_int_eq(zombie_children(), 0);
}
END_TEST

START_TEST(missing_hashes)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    sink s;

    m->file_sha256 = NULL;
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     H5S3_E_INTEGRITY);
    /* Without dg-ref-sha256 the reference's own dg-file-sha256 is used. */
    m = publish("v2.zip", "v2.zip");
    m->ref_sha256 = NULL;
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m, NULL,
                                     &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    sink_hex(&s);
}
END_TEST

static void download_matches(const char *key, const char *file)
{
    h5s3_dg_object *o;
    h5s3_dg_restore_result res;
    sink s;

    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, &store, key, pool), APR_SUCCESS);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_download(&res, &store, o, &opts, sink_data, &s,
                                      pool), APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), sha_of(file, NULL));
    ck_assert_str_eq(res.sha256, sha_of(file, NULL));
}

START_TEST(upload_round_trip)
{
    h5s3_dg_upload_result *r;
    obj *o;

    unit_sh("cd %s && echo 'some notes' > notes.txt", dir);
    ck_assert_int_eq(h5s3_dg_upload_file(&r, &store, "d/v1.zip",
                                         path_of("v1.zip"), &opts, pool),
                     APR_SUCCESS);
    ck_assert(r->compressed);
    ck_assert(r->created_reference);
    ck_assert_str_eq(r->s3_key, "d/v1.zip.delta");
    ck_assert_int_eq(store_data.puts, 2);
    o = apr_hash_get(store_data.objs, "d/reference.bin", APR_HASH_KEY_STRING);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(apr_table_get(o->meta, "dg-note"), "reference");
    ck_assert_str_eq(apr_table_get(o->meta, "dg-source-name"), "v1.zip");
    o = apr_hash_get(store_data.objs, "d/v1.zip.delta", APR_HASH_KEY_STRING);
    ck_assert_str_eq(apr_table_get(o->meta, "dg-note"),
                     "zero-diff (reference identical)");
    ck_assert_str_eq(apr_table_get(o->meta, "dg-file-size"), "3000000");

    ck_assert_int_eq(h5s3_dg_upload_file(&r, &store, "d/v2.zip",
                                         path_of("v2.zip"), &opts, pool),
                     APR_SUCCESS);
    ck_assert(!r->created_reference);
    ck_assert_int_lt(r->stored_bytes, 200000);
    o = apr_hash_get(store_data.objs, "d/v2.zip.delta", APR_HASH_KEY_STRING);
    ck_assert_str_eq(apr_table_get(o->meta, "dg-ref-key"), "d/reference.bin");
    ck_assert_str_eq(apr_table_get(o->meta, "dg-ref-sha256"),
                     sha_of("v1.zip", NULL));
    ck_assert_ptr_null(apr_table_get(o->meta, "dg-note"));

    ck_assert_int_eq(h5s3_dg_upload_file(&r, &store, "d/notes.txt",
                                         path_of("notes.txt"), &opts, pool),
                     APR_SUCCESS);
    ck_assert(!r->compressed);
    o = apr_hash_get(store_data.objs, "d/notes.txt", APR_HASH_KEY_STRING);
    ck_assert_str_eq(apr_table_get(o->meta, "dg-compression"), "none");
    ck_assert_str_eq(apr_table_get(o->meta, "dg-file-size"), "11");

    download_matches("d/v1.zip", "v1.zip");
    download_matches("d/v2.zip", "v2.zip");
    download_matches("d/notes.txt", "notes.txt");

    ck_assert_int_eq(h5s3_dg_upload_file(&r, &store, "d/reference.bin",
                                         path_of("v1.zip"), &opts, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_dg_upload_file(&r, &store, "d/x.zip.delta",
                                         path_of("v1.zip"), &opts, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_dg_upload_file(&r, &store, ".deltaglider/x",
                                         path_of("v1.zip"), &opts, pool),
                     H5S3_E_INVALID);
}
END_TEST

START_TEST(reference_hashed_once_then_trusted)
{
    h5s3_dg_meta *m = publish("v2.zip", "v2.zip");
    h5s3_dg_restore_result res;
    const char *ref = cached_ref(m, 1);
    char *val;
    apr_size_t len;
    sink s;
    int i;

    opts.verified = h5s3_cache_memory_create(pool);
    for (i = 0; i < 3; i++) {
        sink_init(&s);
        ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m,
                                         NULL, &opts, sink_data, &s, pool),
                         APR_SUCCESS);
        ck_assert_str_eq(sink_hex(&s), sha_of("v2.zip", NULL));
    }
    /* Fetched once, stamped when it entered the cache. */
    ck_assert_int_eq(store_data.gets, 1 + 3);   /* the reference + deltas */
    ck_assert_int_eq(h5s3_cache_get(opts.verified, "dg-ref-verified", ref,
                                    &val, &len, pool), APR_SUCCESS);

    /* Rot in place, size, inode and mtime kept: the stamp still matches,
     * the output check catches it, the file is evicted and fetched again
     * (nothing had gone out: 256 KiB pieces, the failure is xdelta3's
     * own window checksum before its first write). */
    unit_sh("touch -r %s %s/stamp", ref, dir);
    flip_byte(ref, 500000);
    unit_sh("touch -r %s/stamp %s", dir, ref);
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_restore(&res, &store, "P/v2.zip.delta", m,
                                     NULL, &opts, sink_data, &s, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), sha_of("v2.zip", NULL));
    ck_assert_int_eq(store_data.gets, 1 + 4 + 1);
    ck_assert_str_eq(sha_of(cached_ref(m, 0), NULL), m->ref_sha256);
    opts.verified = NULL;
}
END_TEST

/* A direct object "D/<name>" with dg-file-sha256 of want_file. */
static h5s3_dg_object *direct(const char *name, const char *file,
                              const char *want_file)
{
    apr_table_t *meta = apr_table_make(pool, 4);
    const char *key = apr_pstrcat(pool, "D/", name, NULL);
    h5s3_dg_object *o;

    apr_table_set(meta, "dg-file-sha256", sha_of(want_file, NULL));
    apr_table_set(meta, "dg-compression", "none");
    put_local(key, file, meta);
    ck_assert_int_eq(h5s3_dg_stat(&o, NULL, &store, key, pool), APR_SUCCESS);
    ck_assert_int_eq(o->meta->kind, H5S3_DG_DIRECT);
    return o;
}

START_TEST(direct_objects_checked_while_streaming)
{
    h5s3_dg_restore_result res;
    h5s3_dg_object *o;
    sink s;

    o = direct("good.zip", "v1.zip", "v1.zip");
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_download(&res, &store, o, &opts, sink_data, &s,
                                      pool), APR_SUCCESS);
    ck_assert_str_eq(sink_hex(&s), sha_of("v1.zip", NULL));
    ck_assert_int_eq(s.bytes, 3000000);

    /* Wrong hash: everything before the last piece went out, never all. */
    o = direct("bad.zip", "v1.zip", "v2.zip");
    sink_init(&s);
    ck_assert_int_eq(h5s3_dg_download(&res, &store, o, &opts, sink_data, &s,
                                      pool), H5S3_E_INTEGRITY);
    sink_hex(&s);
    ck_assert_int_gt(s.bytes, 0);
    ck_assert_int_lt(s.bytes, 3000000);
    ck_assert_ptr_nonnull(strstr(res.reason, "dg-file-sha256"));
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("dg_restore", "core", &tc, setup, teardown);

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reconstructs_byte_exact);
    tcase_add_test(tc, zero_diff_delta);
    tcase_add_test(tc, far_matches_outside_source_buffer);
    tcase_add_test(tc, corrupted_reference);
    tcase_add_test(tc, cache_is_per_scope_and_bucket);
    tcase_add_test(tc, rotten_cache_is_refetched);
    tcase_add_test(tc, rotten_cache_never_completes);
    tcase_add_test(tc, rotten_cache_small_output_all_held);
    tcase_add_test(tc, tampered_delta_never_succeeds);
    tcase_add_test(tc, last_piece_held_back_on_mismatch);
    tcase_add_test(tc, small_output_is_all_held);
    tcase_add_test(tc, recompressed_delta_refused);
    tcase_add_test(tc, receiver_abort_stops_decoder);
    tcase_add_test(tc, missing_hashes);
    tcase_add_test(tc, spawned_with_nothing_inherited);
    tcase_add_test(tc, missing_program_and_abandoned_decoder);
    tcase_add_test(tc, upload_round_trip);
    tcase_add_test(tc, reference_hashed_once_then_trusted);
    tcase_add_test(tc, direct_objects_checked_while_streaming);
    return unit_run(s);
}
