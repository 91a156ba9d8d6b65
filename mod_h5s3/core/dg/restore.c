/*
 * Reconstruction of DeltaGlider deltas, streamed in bounded memory:
 * reference from a disk cache keyed by where it came from and its
 * SHA-256, delta spooled to a temp file, xdelta3 decoding into two
 * alternating buffers.
 *
 * A reference is hashed when it enters the cache (while it streams in
 * from S3) and its file's size, mtime and inode are remembered
 * (opts->verified); a later use whose file still has that stamp is not
 * hashed again: the output's SHA-256, checked on every restore, catches
 * a reference that rotted in place anyway, and then the reference is
 * hashed, and evicted when it is what went wrong.  A cached file without
 * a stamp is hashed by a thread while xdelta3 already decodes (the hash
 * would otherwise delay the first byte by a whole read of the
 * reference).  The last buffer is only released once the output's
 * SHA-256 (and that hash, when one runs) matched, so a wrong reference or
 * a wrong output never yields a complete file.
 */
#include <string.h>
#include <apr_atomic.h>
#include <apr_escape.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <openssl/evp.h>

#include "dg/h5s3_dg_restore.h"
#include "dg/h5s3_dg_vcdiff.h"
#include "dg/h5s3_dg_keys.h"
#include "base/h5s3_log.h"

#define CHUNK_DEFAULT (1024 * 1024)
#define CHUNK_MAX     (16 * 1024 * 1024)
/* File reads and spool writes: few syscalls, still cache-friendly. */
#define IO_BUF        (1024 * 1024)

/* Internal: the cached reference failed before any byte went out. */
#define REF_RETRY     (H5S3_E_INTEGRITY + 1000)

static const char *md_final_hex(EVP_MD_CTX *ctx, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_DigestFinal_ex(ctx, md, &n);
    return apr_pescape_hex(p, md, n, 0);
}

/*
 * SHA-256 of an open, unbuffered file from its current offset.  Touches
 * no pool (buf is the caller's), so a thread may run it; *cancel (may be
 * NULL) stops it early with APR_EINTR.
 */
static apr_status_t hash_file(unsigned char md[32], apr_off_t *size,
                              apr_file_t *f, char *buf,
                              volatile apr_uint32_t *cancel)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    apr_off_t total = 0;
    unsigned int n = 0;
    apr_status_t rv;

    if (!ctx)
        return APR_ENOMEM;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (;;) {
        apr_size_t got = IO_BUF;
        if (cancel && apr_atomic_read32(cancel)) {
            rv = APR_EINTR;
            break;
        }
        rv = apr_file_read(f, buf, &got);
        if (got > 0) {
            EVP_DigestUpdate(ctx, buf, got);
            total += (apr_off_t)got;
        }
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
            break;
        }
        if (rv != APR_SUCCESS)
            break;
    }
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    if (size)
        *size = total;
    return rv;
}

/* Unbuffered: APR's 4 KB buffer would cut a big read into 4 KB syscalls. */
static apr_status_t open_read(apr_file_t **f, const char *path,
                              apr_pool_t *p)
{
    return apr_file_open(f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
}

apr_status_t h5s3_dg_file_sha256(const char **hex, apr_off_t *size,
                                 const char *path, apr_pool_t *p)
{
    unsigned char md[32];
    apr_file_t *f;
    apr_status_t rv;

    if ((rv = open_read(&f, path, p)) != APR_SUCCESS)
        return rv;
    rv = hash_file(md, size, f, apr_palloc(p, IO_BUF), NULL);
    apr_file_close(f);
    if (rv == APR_SUCCESS)
        *hex = apr_pescape_hex(p, md, 32, 0);
    return rv;
}

static int sha_ok(const char *s)
{
    int i;
    for (i = 0; s && s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s && i == 64;
}

/* Writes a fetched body to a file, hashing on the way. */
typedef struct spool {
    apr_file_t *f;
    EVP_MD_CTX *md;
    apr_off_t bytes;
    unsigned char head[4096];   /* the first bytes, for the VCDIFF header */
    apr_size_t headlen;
} spool;

static apr_status_t spool_data(void *baton, const char *data, apr_size_t len)
{
    spool *s = baton;

    if (s->headlen < sizeof(s->head)) {
        apr_size_t n = sizeof(s->head) - s->headlen;
        if (n > len)
            n = len;
        memcpy(s->head + s->headlen, data, n);
        s->headlen += n;
    }
    if (s->md)
        EVP_DigestUpdate(s->md, data, len);
    s->bytes += (apr_off_t)len;
    return apr_file_write_full(s->f, data, len, NULL);
}

static const char *cache_dir(const h5s3_dg_codec_opts *opts)
{
    return opts && opts->cache_dir && *opts->cache_dir ? opts->cache_dir
                                                       : NULL;
}

static const char *tmp_dir(const h5s3_dg_codec_opts *opts)
{
    return opts && opts->tmp_dir && *opts->tmp_dir ? opts->tmp_dir
                                                   : cache_dir(opts);
}

apr_status_t h5s3_dg_ref_cache_name(const char **name, const char *scope,
                                    const char *bucket, const char *ref_key,
                                    const char *ref_sha256, apr_pool_t *p)
{
    const char *parts[4];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx;
    int i, ok;

    parts[0] = scope;
    parts[1] = bucket;
    parts[2] = ref_key;
    parts[3] = ref_sha256;
    if (!(ctx = EVP_MD_CTX_new()))
        return APR_ENOMEM;
    ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    /* With its NUL each part ends unambiguously: no two tuples collide. */
    for (i = 0; ok && i < 4; i++) {
        const char *s = parts[i] ? parts[i] : "";
        ok = EVP_DigestUpdate(ctx, s, strlen(s) + 1);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return APR_EGENERAL;
    *name = apr_pstrcat(p, "ref-", apr_pescape_hex(p, md, n, 0), ".bin",
                        NULL);
    return APR_SUCCESS;
}

/* The cache file of a reference, whether or not it exists. */
static apr_status_t cache_path(const char **path, h5s3_result *res,
                               const char *ref_key, const char *ref_sha256,
                               const h5s3_dg_codec_opts *opts,
                               apr_pool_t *p)
{
    const char *dir = cache_dir(opts), *name;
    apr_status_t rv;

    if (!dir || !sha_ok(ref_sha256) || !ref_key)
        return h5s3_result_set(res, H5S3_E_INVALID, "no reference cache "
                               "directory or reference hash");
    if ((rv = h5s3_dg_ref_cache_name(&name, opts->cache_scope, opts->bucket,
                                     ref_key, ref_sha256, p))
        != APR_SUCCESS)
        return h5s3_result_set(res, rv, "cannot name the reference's cache "
                               "file");
    *path = apr_pstrcat(p, dir, "/", name, NULL);
    return APR_SUCCESS;
}

static int is_file(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;

    return apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS
           && fi.filetype == APR_REG;
}

/* ------------------------------------------------------------------ */
/* References verified once                                             */

#define VERIFIED_NS   "dg-ref-verified"
#define VERIFIED_TTL  apr_time_from_sec(7 * 24 * 3600)

/* What a cache file looks like now: "size mtime inode", NULL if gone. */
static const char *file_stamp(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_SIZE
                 | APR_FINFO_MTIME | APR_FINFO_INODE, p) != APR_SUCCESS
        || fi.filetype != APR_REG)
        return NULL;
    return apr_psprintf(p, "%" APR_OFF_T_FMT " %" APR_TIME_T_FMT " %lu",
                        fi.size, fi.mtime, (unsigned long)fi.inode);
}

/* path hashed right just now: later uses may skip the hash. */
static void verified_set(const h5s3_dg_codec_opts *opts, const char *path,
                         apr_pool_t *p)
{
    const char *stamp;

    if (opts && opts->verified && (stamp = file_stamp(path, p)) != NULL)
        h5s3_cache_set(opts->verified, VERIFIED_NS, path, stamp,
                       strlen(stamp), VERIFIED_TTL, p);
}

/* 1 when path was verified and has not changed since. */
static int verified_is(const h5s3_dg_codec_opts *opts, const char *path,
                       apr_pool_t *p)
{
    const char *now;
    char *val;
    apr_size_t len;

    if (!opts || !opts->verified
        || h5s3_cache_get(opts->verified, VERIFIED_NS, path, &val, &len, p)
           != APR_SUCCESS
        || (now = file_stamp(path, p)) == NULL)
        return 0;
    return len == strlen(now) && memcmp(val, now, len) == 0;
}

/* The cache file goes, and what was remembered about it. */
static void evict(const h5s3_dg_codec_opts *opts, const char *path,
                  apr_pool_t *p)
{
    if (opts && opts->verified)
        h5s3_cache_remove(opts->verified, VERIFIED_NS, path, p);
    apr_file_remove(path, p);
}

/* One line per hash of a reference's bytes (tests count them). */
static void log_hashed(const char *path, apr_off_t bytes, const char *how)
{
    const char *base = strrchr(path, '/');

    h5s3_log(H5S3_LOG_INFO, APR_SUCCESS, "deltaglider: reference %s "
             "hashed (%" APR_OFF_T_FMT " bytes, %s)", base ? base + 1 : path,
             bytes, how);
}

/* Fetch the reference into the cache, hashing while it streams in. */
static apr_status_t fetch_reference(h5s3_result *res, h5s3_dg_store *st,
                                    const char *ref_key,
                                    const char *ref_sha256,
                                    const char *final,
                                    const h5s3_dg_codec_opts *opts,
                                    apr_pool_t *p)
{
    const char *got;
    spool sp;
    char *tmpl;
    apr_status_t rv;

    memset(&sp, 0, sizeof(sp));
    tmpl = apr_pstrcat(p, cache_dir(opts), "/ref-XXXXXX", NULL);
    if ((rv = apr_file_mktemp(&sp.f, tmpl, APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_BUFFERED, p)) != APR_SUCCESS)
        return h5s3_result_set(res, rv, "cannot create a file in the "
                               "reference cache");
    /* S3 hands over ~16 KB pieces: write them in big blocks. */
    apr_file_buffer_set(sp.f, apr_palloc(p, IO_BUF), IO_BUF);
    sp.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sp.md, EVP_sha256(), NULL);
    rv = st->get(st, ref_key, NULL, spool_data, &sp, p);
    if (rv == APR_SUCCESS)
        rv = apr_file_close(sp.f);
    else
        apr_file_close(sp.f);
    got = md_final_hex(sp.md, p);
    EVP_MD_CTX_free(sp.md);
    /* Fetched, verified, then published by an atomic rename: other
     * processes see a whole, verified file or none. */
    if (rv != APR_SUCCESS)
        h5s3_result_printf(res, rv, "cannot fetch reference %s", ref_key);
    else if (strcmp(got, ref_sha256) != 0)
        rv = h5s3_result_printf(res, H5S3_E_INTEGRITY, "reference %s has "
                                "SHA-256 %s, the delta expects %s", ref_key,
                                got, ref_sha256);
    else if ((rv = apr_file_rename(tmpl, final, p)) != APR_SUCCESS)
        h5s3_result_set(res, rv, "cannot publish the reference in the "
                        "cache");
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmpl, p);
        return rv;
    }
    log_hashed(final, sp.bytes, "fetched");
    verified_set(opts, final, p);
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_reference_get(const char **path, h5s3_result *res,
                                   h5s3_dg_store *st, const char *ref_key,
                                   const char *ref_sha256,
                                   const h5s3_dg_codec_opts *opts,
                                   apr_pool_t *p)
{
    const char *final, *got;
    apr_off_t size = 0;
    apr_status_t rv;

    h5s3_result_set(res, APR_SUCCESS, NULL);    /* nothing wrong yet */
    if ((rv = cache_path(&final, res, ref_key, ref_sha256, opts, p))
        != APR_SUCCESS)
        return rv;
    if (is_file(final, p)) {
        /*
         * Re-verified on each use: what is encoded against it is stored,
         * and no output check would catch a rotten source here.
         */
        rv = h5s3_dg_file_sha256(&got, &size, final, p);
        if (rv == APR_SUCCESS)
            log_hashed(final, size, "cached");
        if (rv == APR_SUCCESS && strcmp(got, ref_sha256) == 0) {
            verified_set(opts, final, p);
            *path = final;
            return APR_SUCCESS;
        }
        h5s3_log(H5S3_LOG_WARNING, rv, "deltaglider: cached reference %s "
                 "no longer matches its hash; fetching again", final);
        evict(opts, final, p);
    }
    if ((rv = fetch_reference(res, st, ref_key, ref_sha256, final,
                              opts, p))
        != APR_SUCCESS)
        return rv;
    *path = final;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Verifying a cached reference while xdelta3 decodes from it           */

typedef struct ref_check {
    const char *path;
    const char *want;           /* expected SHA-256, hex */
    apr_file_t *f;
    char *buf;
    /* Verified before and unchanged: hashed only if the output fails. */
    int lazy;
    apr_pool_t *pool;
    apr_off_t size;             /* bytes hashed */
#if APR_HAS_THREADS
    apr_thread_t *thd;
#endif
    int running;                /* a thread was started and not joined */
    volatile apr_uint32_t done; /* the thread's result is final */
    volatile apr_uint32_t cancel;
    apr_status_t rv;
    unsigned char md[32];
} ref_check;

#if APR_HAS_THREADS
static void *APR_THREAD_FUNC ref_check_main(apr_thread_t *t, void *baton)
{
    ref_check *rc = baton;

    (void)t;
    rc->rv = hash_file(rc->md, &rc->size, rc->f, rc->buf, &rc->cancel);
    apr_atomic_set32(&rc->done, 1);
    /* Returning, not apr_thread_exit: that would touch a shared pool. */
    return NULL;
}
#endif

static void ref_check_join(ref_check *rc)
{
#if APR_HAS_THREADS
    apr_status_t ignored;

    if (rc->running) {
        apr_thread_join(&ignored, rc->thd);
        rc->running = 0;
    }
#endif
}

/* Whatever way the restore ends, no thread outlives its buffers. */
static apr_status_t ref_check_cleanup(void *baton)
{
    ref_check *rc = baton;

    apr_atomic_set32(&rc->cancel, 1);
    ref_check_join(rc);
    return APR_SUCCESS;
}

/* Start hashing path in a thread (or right now, without threads). */
static apr_status_t ref_check_start(ref_check *rc, const char *path,
                                    const char *want, apr_pool_t *p)
{
    apr_status_t rv;

    memset(rc, 0, sizeof(*rc));
    rc->path = path;
    rc->want = want;
    if ((rv = open_read(&rc->f, path, p)) != APR_SUCCESS)
        return rv;
    rc->buf = apr_palloc(p, IO_BUF);
    apr_pool_pre_cleanup_register(p, rc, ref_check_cleanup);
#if APR_HAS_THREADS
    if (apr_thread_create(&rc->thd, NULL, ref_check_main, rc, p)
        == APR_SUCCESS) {
        rc->running = 1;
        return APR_SUCCESS;
    }
#endif
    rc->rv = hash_file(rc->md, &rc->size, rc->f, rc->buf, NULL);
    apr_atomic_set32(&rc->done, 1);
    return APR_SUCCESS;
}

/* A verified, unchanged reference: nothing runs unless asked. */
static void ref_check_lazy(ref_check *rc, const char *path,
                           const char *want, apr_pool_t *p)
{
    memset(rc, 0, sizeof(*rc));
    rc->path = path;
    rc->want = want;
    rc->lazy = 1;
    rc->pool = p;
}

/* The lazy check's hash, on the calling thread. */
static void ref_check_now(ref_check *rc)
{
    if ((rc->rv = open_read(&rc->f, rc->path, rc->pool)) == APR_SUCCESS) {
        rc->buf = apr_palloc(rc->pool, IO_BUF);
        rc->rv = hash_file(rc->md, &rc->size, rc->f, rc->buf, NULL);
        apr_file_close(rc->f);
    }
    apr_atomic_set32(&rc->done, 1);
}

/* 1 matched, -1 failed, 0 not known yet (wait: block until known). */
static int ref_check_state(ref_check *rc, int wait)
{
    char got[65];

    if (!wait && !apr_atomic_read32(&rc->done))
        return 0;
    if (rc->lazy && !apr_atomic_read32(&rc->done))
        ref_check_now(rc);
    /* Done (or about to be): the join is what publishes rv and md. */
    ref_check_join(rc);
    if (rc->rv != APR_SUCCESS)
        return -1;
    /* want is lower-case hex (dg/meta.c lowers it), as is what
     * apr_escape_hex writes. */
    apr_escape_hex(got, rc->md, 32, 0, NULL);
    return strncmp(rc->want, got, 64) == 0 ? 1 : -1;
}

static const char *ref_check_reason(ref_check *rc, apr_pool_t *p)
{
    if (rc->rv != APR_SUCCESS)
        return apr_psprintf(p, "cached reference %s could not be read",
                            rc->path);
    return apr_psprintf(p, "cached reference %s has SHA-256 %s, the delta "
                        "expects %s", rc->path,
                        apr_pescape_hex(p, rc->md, 32, 0),
                        rc->want);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                             */

/*
 * The output's SHA-256 on a thread of its own: the request's thread reads
 * the decoder and writes to the client while the previous pieces are
 * hashed.  Pieces are hashed in order; a buffer is read into again only
 * once its piece was hashed (out_hash_wait) and sent.
 */
#define OUT_RING 3

typedef struct out_hash {
    EVP_MD_CTX *md;
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;
    apr_thread_t *thd;
#endif
    int running;                /* a thread hashes; else out_hash_add does */
    int stop;
    apr_pool_t *pool;
    const char *data[OUT_RING];
    apr_size_t len[OUT_RING];
    apr_uint64_t added, hashed;
} out_hash;

#if APR_HAS_THREADS
static void *APR_THREAD_FUNC out_hash_main(apr_thread_t *t, void *baton)
{
    out_hash *oh = baton;

    (void)t;
    apr_thread_mutex_lock(oh->lock);
    for (;;) {
        const char *d;
        apr_size_t n;

        while (oh->hashed == oh->added && !oh->stop)
            apr_thread_cond_wait(oh->cond, oh->lock);
        if (oh->hashed == oh->added)
            break;
        d = oh->data[oh->hashed % OUT_RING];
        n = oh->len[oh->hashed % OUT_RING];
        apr_thread_mutex_unlock(oh->lock);
        EVP_DigestUpdate(oh->md, d, n);
        apr_thread_mutex_lock(oh->lock);
        oh->hashed++;
        apr_thread_cond_broadcast(oh->cond);
    }
    apr_thread_mutex_unlock(oh->lock);
    /* Returning, not apr_thread_exit: that would touch a shared pool. */
    return NULL;
}
#endif

/* Stop the thread once everything added is hashed, and join it. */
static apr_status_t out_hash_stop(void *baton)
{
    out_hash *oh = baton;
#if APR_HAS_THREADS
    apr_status_t ignored;

    if (oh->running) {
        apr_thread_mutex_lock(oh->lock);
        oh->stop = 1;
        apr_thread_cond_broadcast(oh->cond);
        apr_thread_mutex_unlock(oh->lock);
        apr_thread_join(&ignored, oh->thd);
        oh->running = 0;
    }
#endif
    return APR_SUCCESS;
}

static void out_hash_start(out_hash *oh, apr_pool_t *p)
{
    memset(oh, 0, sizeof(*oh));
    oh->pool = p;
    oh->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(oh->md, EVP_sha256(), NULL);
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&oh->lock, APR_THREAD_MUTEX_DEFAULT, p)
        == APR_SUCCESS
        && apr_thread_cond_create(&oh->cond, p) == APR_SUCCESS
        && apr_thread_create(&oh->thd, NULL, out_hash_main, oh, p)
           == APR_SUCCESS) {
        oh->running = 1;
        /* Whatever way the restore ends, no thread outlives the buffers. */
        apr_pool_pre_cleanup_register(p, oh, out_hash_stop);
    }
#endif
}

static void out_hash_add(out_hash *oh, const char *data, apr_size_t len)
{
    if (!oh->running) {
        EVP_DigestUpdate(oh->md, data, len);
        oh->added++;
        oh->hashed++;
        return;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_lock(oh->lock);
    oh->data[oh->added % OUT_RING] = data;
    oh->len[oh->added % OUT_RING] = len;
    oh->added++;
    apr_thread_cond_broadcast(oh->cond);
    apr_thread_mutex_unlock(oh->lock);
#endif
}

/* Until the first n pieces added are hashed. */
static void out_hash_wait(out_hash *oh, apr_uint64_t n)
{
#if APR_HAS_THREADS
    if (!oh->running)
        return;
    apr_thread_mutex_lock(oh->lock);
    while (oh->hashed < n)
        apr_thread_cond_wait(oh->cond, oh->lock);
    apr_thread_mutex_unlock(oh->lock);
#endif
}

/* Everything hashed: the hex digest; the context is freed. */
static const char *out_hash_final(out_hash *oh, apr_pool_t *p)
{
    const char *hex;

    out_hash_stop(oh);
    /* oh lives on the caller's stack: nothing may reach it later. */
    apr_pool_cleanup_kill(oh->pool, oh, out_hash_stop);
    hex = md_final_hex(oh->md, p);
    EVP_MD_CTX_free(oh->md);
    oh->md = NULL;
    return hex;
}

static void out_hash_drop(out_hash *oh)
{
    out_hash_stop(oh);
    apr_pool_cleanup_kill(oh->pool, oh, out_hash_stop);
    EVP_MD_CTX_free(oh->md);
    oh->md = NULL;
}

/*
 * A failure while the cached reference is unverified: if nothing went
 * out yet and the reference is what is wrong, REF_RETRY (fetch it again
 * and start over); if bytes went out, the reference's failure is the
 * reason.  Otherwise rv as it was.
 */
static apr_status_t blame_reference(h5s3_dg_restore_result *res,
                                    ref_check *rc, int sent,
                                    apr_status_t rv, apr_pool_t *p)
{
    /* A verified reference is trusted when the output is right. */
    if (!rc || (rc->lazy && rv == APR_SUCCESS)
        || ref_check_state(rc, 1) > 0)
        return rv;
    if (!sent)
        return REF_RETRY;
    res->reason = ref_check_reason(rc, p);
    return H5S3_E_INTEGRITY;
}

static apr_status_t decode_stream(h5s3_dg_restore_result *res,
                                  h5s3_dg_xdelta_proc *x,
                                  const h5s3_dg_meta *meta,
                                  ref_check *rc, apr_size_t chunk,
                                  h5s3_s3_data_cb on_data, void *baton,
                                  apr_pool_t *p)
{
    apr_file_t *out = h5s3_dg_xdelta_output(x);
    char *buf[OUT_RING];
    apr_size_t len[OUT_RING], n;
    apr_uint64_t k;             /* pieces read so far */
    out_hash oh;
    h5s3_result why;
    int sent = 0, i;
    apr_status_t rv;

    h5s3_result_init(&why, p);
    for (i = 0; i < OUT_RING; i++)
        buf[i] = apr_palloc(p, chunk);
    out_hash_start(&oh, p);
    for (k = 0; ; k++) {
        char *cur = buf[k % OUT_RING];

        /* The piece this buffer held went out already; hashed too? */
        if (k >= OUT_RING)
            out_hash_wait(&oh, k - OUT_RING + 1);
        rv = apr_file_read_full(out, cur, chunk, &n);
        if (rv != APR_SUCCESS && rv != APR_EOF) {
            res->reason = "cannot read the decoder's output";
            goto cleanup;
        }
        if (n == 0)
            break;
        len[k % OUT_RING] = n;
        out_hash_add(&oh, cur, n);
        res->bytes += (apr_off_t)n;
        /* Longer than promised: no need to decode the rest to know. */
        if (meta->file_size >= 0 && res->bytes > meta->file_size) {
            res->reason = apr_psprintf(p, "reconstructed output exceeds "
                                       "dg-file-size %" APR_OFF_T_FMT,
                                       meta->file_size);
            rv = blame_reference(res, rc, sent, H5S3_E_INTEGRITY, p);
            goto cleanup;
        }
        /* A reference found wrong stops the stream at once. */
        if (rc && ref_check_state(rc, 0) < 0) {
            rv = blame_reference(res, rc, sent, H5S3_E_INTEGRITY, p);
            goto cleanup;
        }
        /* The piece before this one goes out: the last is held back. */
        if (k > 0) {
            if ((rv = on_data(baton, buf[(k - 1) % OUT_RING],
                              len[(k - 1) % OUT_RING])) != APR_SUCCESS) {
                res->reason = "the receiver stopped the transfer";
                goto cleanup;
            }
            sent = 1;
        }
        if (n < chunk)
            break;              /* short read: the end of the output */
    }
    /* A full last piece leaves k one past it; a short one, at it. */
    if (n > 0)
        k++;
    res->sha256 = out_hash_final(&oh, p);
    if ((rv = h5s3_dg_xdelta_finish(&why, x, 0)) != APR_SUCCESS) {
        res->reason = why.detail;
        return blame_reference(res, rc, sent, rv, p);
    }
    if (strcmp(res->sha256, meta->file_sha256) != 0) {
        res->reason = apr_psprintf(p, "reconstructed SHA-256 %s does not "
                                   "match dg-file-sha256 %s", res->sha256,
                                   meta->file_sha256);
        return blame_reference(res, rc, sent, H5S3_E_INTEGRITY, p);
    }
    if (meta->file_size >= 0 && res->bytes != meta->file_size) {
        res->reason = apr_psprintf(p, "reconstructed %" APR_OFF_T_FMT
                                   " bytes, dg-file-size says %"
                                   APR_OFF_T_FMT, res->bytes,
                                   meta->file_size);
        return blame_reference(res, rc, sent, H5S3_E_INTEGRITY, p);
    }
    /* The output is right; the reference must be too, even if the
     * delta never used the bytes that differ. */
    if ((rv = blame_reference(res, rc, sent, APR_SUCCESS, p))
        != APR_SUCCESS)
        return rv;
    /* Verified: only now may the receiver complete the file. */
    if (k > 0 && (rv = on_data(baton, buf[(k - 1) % OUT_RING],
                               len[(k - 1) % OUT_RING])) != APR_SUCCESS) {
        res->reason = "the receiver stopped the transfer";
        return rv;
    }
    return APR_SUCCESS;
cleanup:
    out_hash_drop(&oh);
    h5s3_dg_xdelta_finish(NULL, x, 1);
    return rv;
}

/* The reference hash a delta must be checked against. */
static apr_status_t expected_ref_sha(const char **sha, h5s3_result *res,
                                     h5s3_dg_store *st,
                                     const h5s3_dg_meta *meta, apr_pool_t *p)
{
    h5s3_s3_object_info *info;
    h5s3_dg_meta *rm;
    apr_status_t rv;

    if (meta->ref_sha256) {
        *sha = meta->ref_sha256;
        return APR_SUCCESS;
    }
    /* Older deltas without dg-ref-sha256: trust the reference's own hash. */
    if ((rv = st->head(st, &info, meta->ref_key, p)) != APR_SUCCESS)
        return h5s3_result_printf(res, rv, "reference %s unavailable",
                                  meta->ref_key);
    if ((rv = h5s3_dg_meta_parse(&rm, NULL, meta->ref_key, info->meta, p))
        != APR_SUCCESS || !rm->file_sha256)
        return h5s3_result_set(res, H5S3_E_INTEGRITY, "neither the delta "
                               "nor its reference carries the reference's "
                               "SHA-256");
    *sha = rm->file_sha256;
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_restore(h5s3_dg_restore_result *res, h5s3_dg_store *st,
                             const char *delta_key, const h5s3_dg_meta *meta,
                             const char *etag, const h5s3_dg_codec_opts *opts,
                             h5s3_s3_data_cb on_data, void *baton,
                             apr_pool_t *pool)
{
    h5s3_dg_vcdiff_header *vh = NULL;
    h5s3_dg_xdelta_proc *x = NULL;
    const char *ref_sha = NULL, *ref_path = NULL;
    apr_size_t chunk = opts && opts->chunk_size ? opts->chunk_size
                                                : CHUNK_DEFAULT;
    apr_off_t zero = 0;
    int attempt;
    apr_pool_t *p;
    spool sp;
    h5s3_result why;            /* the reference's steps, for res->reason */
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    if (chunk > CHUNK_MAX)
        chunk = CHUNK_MAX;
    if (!tmp_dir(opts)) {
        res->reason = "no cache directory configured";
        return H5S3_E_INVALID;
    }
    if (!meta || meta->kind != H5S3_DG_DELTA || !meta->ref_key) {
        res->reason = "not a DeltaGlider delta";
        return H5S3_E_INVALID;
    }
    if (!meta->file_sha256) {
        res->reason = "delta has no dg-file-sha256: the output could not "
                      "be verified";
        return H5S3_E_INTEGRITY;
    }
    /* Buffers and temp files die with p, whatever path we leave by. */
    if ((rv = apr_pool_create(&p, pool)) != APR_SUCCESS)
        return rv;

    h5s3_result_init(&why, p);
    memset(&sp, 0, sizeof(sp));
    if ((rv = apr_file_mktemp(&sp.f, apr_pstrcat(p, tmp_dir(opts),
                                                 "/dgdelta-XXXXXX", NULL),
                              APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_DELONCLOSE, p)) != APR_SUCCESS) {
        res->reason = "cannot create a spool file";
        goto cleanup;
    }
    if ((rv = st->get(st, delta_key, etag, spool_data, &sp, p))
        != APR_SUCCESS) {
        res->reason = apr_psprintf(p, "cannot fetch delta %s", delta_key);
        goto cleanup;
    }
    rv = h5s3_dg_vcdiff_parse(&vh, sp.head, sp.headlen, p);
    if (rv != APR_SUCCESS) {
        res->reason = rv == APR_INCOMPLETE ? "delta is truncated"
                                           : "delta is not VCDIFF";
        rv = H5S3_E_INTEGRITY;
        goto cleanup;
    }
    if (h5s3_dg_vcdiff_recompressed(vh)) {
        res->reason = apr_psprintf(p, "delta was made with external "
                                   "recompression (tgtcomp '%s', srccomp "
                                   "'%s'): it cannot be restored "
                                   "byte-exactly", vh->tgtcomp,
                                   vh->srccomp);
        rv = H5S3_E_INTEGRITY;
        goto cleanup;
    }
    if ((rv = expected_ref_sha(&ref_sha, &why, st, meta, p))
        != APR_SUCCESS
        || (rv = cache_path(&ref_path, &why, meta->ref_key, ref_sha, opts,
                            p)) != APR_SUCCESS) {
        res->reason = why.detail;
        goto cleanup;
    }
    for (attempt = 0; ; attempt++) {
        ref_check *rc = NULL;

        /* Cached: decode right away, verify alongside (see top). */
        if (attempt == 0 && is_file(ref_path, p)) {
            rc = apr_palloc(p, sizeof(*rc));
            if (verified_is(opts, ref_path, p))
                ref_check_lazy(rc, ref_path, ref_sha, p);
            else if (ref_check_start(rc, ref_path, ref_sha, p)
                     != APR_SUCCESS)
                rc = NULL;
        }
        if (!rc && (rv = fetch_reference(&why, st, meta->ref_key, ref_sha,
                                         ref_path, opts, p))
                   != APR_SUCCESS) {
            res->reason = why.detail;
            goto cleanup;
        }
        if ((rv = apr_file_seek(sp.f, APR_SET, &zero)) != APR_SUCCESS) {
            res->reason = "cannot rewind the spooled delta";
            goto cleanup;
        }
        if ((rv = h5s3_dg_xdelta_decode_start(&x, opts, ref_path, sp.f, p))
            != APR_SUCCESS) {
            res->reason = "cannot start xdelta3";
            goto cleanup;
        }
        rv = decode_stream(res, x, meta, rc, chunk, on_data, baton, p);
        if (rc) {
            /* Stops the check if the restore failed first; joins. */
            ref_check_cleanup(rc);
            /* Hashed to the end (a lazy check only when the output
             * failed): a rotten cache file goes, the next use fetches it
             * again; a good one need not be hashed again. */
            if (apr_atomic_read32(&rc->done) && rc->rv != APR_EINTR) {
                if (rc->rv == APR_SUCCESS)
                    log_hashed(ref_path, rc->size, "cached");
                if (ref_check_state(rc, 1) < 0) {
                    h5s3_log(H5S3_LOG_WARNING, rc->rv, "deltaglider: %s%s",
                             ref_check_reason(rc, p), rv == REF_RETRY
                             ? "; fetching it again" : "; removed");
                    evict(opts, ref_path, p);
                }
                else if (!rc->lazy) {
                    verified_set(opts, ref_path, p);
                }
            }
        }
        if (rv != REF_RETRY || attempt > 0)
            break;
        memset(res, 0, sizeof(*res));
        zero = 0;
    }
    if (rv == REF_RETRY)
        rv = H5S3_E_INTEGRITY;
cleanup:
    if (res->reason)
        res->reason = apr_pstrdup(pool, res->reason);
    if (res->sha256)
        res->sha256 = apr_pstrdup(pool, res->sha256);
    if (rv != APR_SUCCESS)
        h5s3_log(H5S3_LOG_WARNING, rv, "deltaglider restore %s: %s",
                 delta_key, res->reason ? res->reason : "failed");
    apr_pool_destroy(p);
    return rv;
}

/*
 * Direct objects with a dg-file-sha256 are checked while they stream
 * (docs/deltaglider-format.md §3): what comes before the last expected
 * byte goes straight on, uncopied; the piece that reaches it is held
 * until the SHA-256 (and dg-file-size) matched, as for deltas.
 */
#define HOLD_MAX (16 * 1024 * 1024)

typedef struct passthru {
    h5s3_s3_data_cb on_data;
    void *baton;
    h5s3_dg_restore_result *res;
    EVP_MD_CTX *md;
    int verify;
    apr_off_t expect;           /* bytes the object should have, -1: unknown */
    char *held;                 /* the tail, held back */
    apr_size_t held_len, held_cap;
    apr_pool_t *pool;
} passthru;

static apr_status_t hold(passthru *pt, const char *data, apr_size_t len)
{
    if (len > HOLD_MAX - pt->held_len)
        return H5S3_E_INTEGRITY;
    if (pt->held_len + len > pt->held_cap) {
        apr_size_t cap = pt->held_cap ? pt->held_cap : 64 * 1024;
        char *n;

        while (cap < pt->held_len + len)
            cap *= 2;
        n = apr_palloc(pt->pool, cap);
        if (pt->held_len)
            memcpy(n, pt->held, pt->held_len);
        pt->held = n;
        pt->held_cap = cap;
    }
    memcpy(pt->held + pt->held_len, data, len);
    pt->held_len += len;
    return APR_SUCCESS;
}

static apr_status_t pass_data(void *baton, const char *data, apr_size_t len)
{
    passthru *pt = baton;
    apr_status_t rv;

    pt->res->bytes += (apr_off_t)len;
    EVP_DigestUpdate(pt->md, data, len);
    if (!pt->verify)
        return pt->on_data(pt->baton, data, len);
    /* Before the last byte (or what is held already): straight on. */
    if (pt->held_len == 0 && pt->expect >= 0
        && pt->res->bytes < pt->expect)
        return pt->on_data(pt->baton, data, len);
    if ((rv = hold(pt, data, len)) != APR_SUCCESS)
        pt->res->reason = "the object is longer than its size says";
    return rv;
}

apr_status_t h5s3_dg_download(h5s3_dg_restore_result *res, h5s3_dg_store *st,
                              const h5s3_dg_object *obj,
                              const h5s3_dg_codec_opts *opts,
                              h5s3_s3_data_cb on_data, void *baton,
                              apr_pool_t *p)
{
    const h5s3_dg_meta *m = obj->meta;
    passthru pt;
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    if (obj->compressed) {
        h5s3_dg_meta *dm = obj->meta;
        if (!dm) {
            h5s3_dg_object tmp = *obj;
            if ((rv = h5s3_dg_object_probe(&tmp, st, NULL, p))
                != APR_SUCCESS)
                return rv;
            dm = tmp.meta;
        }
        return h5s3_dg_restore(res, st, obj->s3_key, dm, obj->etag, opts,
                               on_data, baton, p);
    }
    /* Direct and plain objects are served as stored. */
    memset(&pt, 0, sizeof(pt));
    pt.on_data = on_data;
    pt.baton = baton;
    pt.res = res;
    pt.pool = p;
    pt.verify = m && m->kind == H5S3_DG_DIRECT && m->file_sha256;
    pt.expect = obj->stored_bytes;
    pt.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(pt.md, EVP_sha256(), NULL);
    rv = st->get(st, obj->s3_key, obj->etag, pass_data, &pt, p);
    res->sha256 = md_final_hex(pt.md, p);
    EVP_MD_CTX_free(pt.md);
    if (rv != APR_SUCCESS || !pt.verify)
        return rv;
    if (strcmp(res->sha256, m->file_sha256) != 0) {
        res->reason = apr_psprintf(p, "SHA-256 %s of the stored object does "
                                   "not match dg-file-sha256 %s",
                                   res->sha256, m->file_sha256);
        rv = H5S3_E_INTEGRITY;
    }
    else if (m->file_size >= 0 && res->bytes != m->file_size) {
        res->reason = apr_psprintf(p, "the stored object has %"
                                   APR_OFF_T_FMT " bytes, dg-file-size says %"
                                   APR_OFF_T_FMT, res->bytes, m->file_size);
        rv = H5S3_E_INTEGRITY;
    }
    if (rv != APR_SUCCESS) {
        h5s3_log(H5S3_LOG_WARNING, rv, "deltaglider download %s: %s",
                 obj->s3_key, res->reason);
        return rv;
    }
    /* Verified: only now may the receiver complete the file. */
    if (pt.held_len > 0
        && (rv = on_data(baton, pt.held, pt.held_len)) != APR_SUCCESS)
        res->reason = "the receiver stopped the transfer";
    return rv;
}
