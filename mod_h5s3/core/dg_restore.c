/*
 * Reconstruction of DeltaGlider deltas, streamed in bounded memory:
 * reference from a SHA-256-keyed disk cache (verified on every use), delta
 * spooled to a temp file, xdelta3 decoding into two alternating buffers.
 * The last buffer is only released once the output's SHA-256 matched.
 */
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "h5s3_dg.h"
#include "h5s3_log.h"

#define CHUNK_DEFAULT (1024 * 1024)
#define CHUNK_MAX     (16 * 1024 * 1024)

static const char *hex_of(const unsigned char *md, unsigned int n,
                          apr_pool_t *p)
{
    static const char digits[] = "0123456789abcdef";
    char *s = apr_palloc(p, 2 * n + 1);
    unsigned int i;

    for (i = 0; i < n; i++) {
        s[2 * i] = digits[md[i] >> 4];
        s[2 * i + 1] = digits[md[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static const char *md_final_hex(EVP_MD_CTX *ctx, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_DigestFinal_ex(ctx, md, &n);
    return hex_of(md, n, p);
}

apr_status_t h5s3_dg_file_sha256(const char **hex, apr_off_t *size,
                                 const char *path, apr_pool_t *p)
{
    apr_file_t *f;
    EVP_MD_CTX *ctx;
    char *buf;
    apr_off_t total = 0;
    apr_status_t rv;

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BUFFERED,
                            APR_OS_DEFAULT, p)) != APR_SUCCESS)
        return rv;
    buf = apr_palloc(p, 65536);
    ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (;;) {
        apr_size_t n = 65536;
        rv = apr_file_read(f, buf, &n);
        if (n > 0) {
            EVP_DigestUpdate(ctx, buf, n);
            total += (apr_off_t)n;
        }
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
            break;
        }
        if (rv != APR_SUCCESS)
            break;
    }
    apr_file_close(f);
    if (rv == APR_SUCCESS) {
        *hex = md_final_hex(ctx, p);
        if (size)
            *size = total;
    }
    EVP_MD_CTX_free(ctx);
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

apr_status_t h5s3_dg_reference_get(const char **path, const char **reason,
                                   h5s3_dg_store *st, const char *ref_key,
                                   const char *ref_sha256,
                                   const h5s3_dg_codec_opts *opts,
                                   apr_pool_t *p)
{
    const char *dir = cache_dir(opts), *final, *got;
    apr_finfo_t fi;
    spool sp;
    char *tmpl;
    apr_status_t rv;

    *reason = NULL;
    if (!dir || !sha_ok(ref_sha256)) {
        *reason = "no reference cache directory or reference hash";
        return H5S3_E_INVALID;
    }
    final = apr_pstrcat(p, dir, "/ref-", ref_sha256, ".bin", NULL);
    if (apr_stat(&fi, final, APR_FINFO_TYPE, p) == APR_SUCCESS) {
        /* Re-verified on each use: a disk cache can rot or be tampered. */
        rv = h5s3_dg_file_sha256(&got, NULL, final, p);
        if (rv == APR_SUCCESS && strcmp(got, ref_sha256) == 0) {
            *path = final;
            return APR_SUCCESS;
        }
        h5s3_log(H5S3_LOG_WARNING, rv, "deltaglider: cached reference %s "
                 "no longer matches its hash; fetching again", final);
        apr_file_remove(final, p);
    }

    memset(&sp, 0, sizeof(sp));
    tmpl = apr_pstrcat(p, dir, "/ref-XXXXXX", NULL);
    if ((rv = apr_file_mktemp(&sp.f, tmpl, APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_BUFFERED, p)) != APR_SUCCESS) {
        *reason = "cannot create a file in the reference cache";
        return rv;
    }
    sp.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sp.md, EVP_sha256(), NULL);
    rv = st->get(st, ref_key, NULL, spool_data, &sp, p);
    if (rv == APR_SUCCESS)
        rv = apr_file_close(sp.f);
    else
        apr_file_close(sp.f);
    got = md_final_hex(sp.md, p);
    EVP_MD_CTX_free(sp.md);
    if (rv != APR_SUCCESS) {
        *reason = apr_psprintf(p, "cannot fetch reference %s", ref_key);
        goto fail;
    }
    if (strcmp(got, ref_sha256) != 0) {
        *reason = apr_psprintf(p, "reference %s has SHA-256 %s, the delta "
                               "expects %s", ref_key, got, ref_sha256);
        rv = H5S3_E_INTEGRITY;
        goto fail;
    }
    /* Atomic publish: other processes see a whole, verified file or none. */
    if ((rv = apr_file_rename(tmpl, final, p)) != APR_SUCCESS) {
        *reason = "cannot publish the reference in the cache";
        goto fail;
    }
    *path = final;
    return APR_SUCCESS;
fail:
    apr_file_remove(tmpl, p);
    return rv;
}

/* Fill buf from the decoder's stdout; *n < size only at the end. */
static apr_status_t fill(apr_size_t *n, apr_file_t *out, char *buf,
                         apr_size_t size, EVP_MD_CTX *md)
{
    apr_status_t rv = apr_file_read_full(out, buf, size, n);

    if (*n > 0)
        EVP_DigestUpdate(md, buf, *n);
    return rv == APR_EOF ? APR_SUCCESS : rv;
}

static apr_status_t decode_stream(h5s3_dg_restore_result *res,
                                  h5s3_dg_xdelta_proc *x,
                                  const h5s3_dg_meta *meta,
                                  apr_size_t chunk,
                                  h5s3_s3_data_cb on_data, void *baton,
                                  apr_pool_t *p)
{
    apr_file_t *out = h5s3_dg_xdelta_output(x);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char *held = apr_palloc(p, chunk), *cur = apr_palloc(p, chunk), *t;
    apr_size_t held_len = 0, n;
    const char *why = NULL;
    apr_status_t rv;

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (;;) {
        if ((rv = fill(&n, out, cur, chunk, md)) != APR_SUCCESS) {
            res->reason = "cannot read the decoder's output";
            goto abort;
        }
        if (n == 0)
            break;
        res->bytes += (apr_off_t)n;
        /* Longer than promised: no need to decode the rest to know. */
        if (meta->file_size >= 0 && res->bytes > meta->file_size) {
            res->reason = apr_psprintf(p, "reconstructed output exceeds "
                                       "dg-file-size %" APR_OFF_T_FMT,
                                       meta->file_size);
            rv = H5S3_E_INTEGRITY;
            goto abort;
        }
        if (held_len > 0 && (rv = on_data(baton, held, held_len))
            != APR_SUCCESS) {
            res->reason = "the receiver stopped the transfer";
            goto abort;
        }
        t = held, held = cur, cur = t;
        held_len = n;
    }
    res->sha256 = md_final_hex(md, p);
    EVP_MD_CTX_free(md);
    if ((rv = h5s3_dg_xdelta_finish(&why, x, 0)) != APR_SUCCESS) {
        res->reason = why;
        return rv;
    }
    if (strcmp(res->sha256, meta->file_sha256) != 0) {
        res->reason = apr_psprintf(p, "reconstructed SHA-256 %s does not "
                                   "match dg-file-sha256 %s", res->sha256,
                                   meta->file_sha256);
        return H5S3_E_INTEGRITY;
    }
    if (meta->file_size >= 0 && res->bytes != meta->file_size) {
        res->reason = apr_psprintf(p, "reconstructed %" APR_OFF_T_FMT
                                   " bytes, dg-file-size says %"
                                   APR_OFF_T_FMT, res->bytes,
                                   meta->file_size);
        return H5S3_E_INTEGRITY;
    }
    /* Verified: only now may the receiver complete the file. */
    if (held_len > 0 && (rv = on_data(baton, held, held_len))
        != APR_SUCCESS) {
        res->reason = "the receiver stopped the transfer";
        return rv;
    }
    return APR_SUCCESS;
abort:
    EVP_MD_CTX_free(md);
    h5s3_dg_xdelta_finish(NULL, x, 1);
    return rv;
}

/* The reference hash a delta must be checked against. */
static apr_status_t expected_ref_sha(const char **sha, const char **reason,
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
    if ((rv = st->head(st, &info, meta->ref_key, p)) != APR_SUCCESS) {
        *reason = apr_psprintf(p, "reference %s unavailable",
                               meta->ref_key);
        return rv;
    }
    if ((rv = h5s3_dg_meta_parse(&rm, meta->ref_key, info->meta, p))
        != APR_SUCCESS || !rm->file_sha256) {
        *reason = "neither the delta nor its reference carries the "
                  "reference's SHA-256";
        return H5S3_E_INTEGRITY;
    }
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
    apr_pool_t *p;
    spool sp;
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

    memset(&sp, 0, sizeof(sp));
    if ((rv = apr_file_mktemp(&sp.f, apr_pstrcat(p, tmp_dir(opts),
                                                 "/dgdelta-XXXXXX", NULL),
                              APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_DELONCLOSE, p)) != APR_SUCCESS) {
        res->reason = "cannot create a spool file";
        goto done;
    }
    if ((rv = st->get(st, delta_key, etag, spool_data, &sp, p))
        != APR_SUCCESS) {
        res->reason = apr_psprintf(p, "cannot fetch delta %s", delta_key);
        goto done;
    }
    rv = h5s3_dg_vcdiff_parse(&vh, sp.head, sp.headlen, p);
    if (rv != APR_SUCCESS) {
        res->reason = rv == APR_INCOMPLETE ? "delta is truncated"
                                           : "delta is not VCDIFF";
        rv = H5S3_E_INTEGRITY;
        goto done;
    }
    if (h5s3_dg_vcdiff_recompressed(vh)) {
        res->reason = apr_psprintf(p, "delta was made with external "
                                   "recompression (tgtcomp '%s', srccomp "
                                   "'%s'): it cannot be restored "
                                   "byte-exactly", vh->tgtcomp,
                                   vh->srccomp);
        rv = H5S3_E_INTEGRITY;
        goto done;
    }
    if ((rv = expected_ref_sha(&ref_sha, &res->reason, st, meta, p))
        != APR_SUCCESS)
        goto done;
    if ((rv = h5s3_dg_reference_get(&ref_path, &res->reason, st,
                                    meta->ref_key, ref_sha, opts, p))
        != APR_SUCCESS)
        goto done;
    if ((rv = apr_file_seek(sp.f, APR_SET, &zero)) != APR_SUCCESS) {
        res->reason = "cannot rewind the spooled delta";
        goto done;
    }
    if ((rv = h5s3_dg_xdelta_decode_start(&x, opts, ref_path, sp.f, p))
        != APR_SUCCESS) {
        res->reason = "cannot start xdelta3";
        goto done;
    }
    rv = decode_stream(res, x, meta, chunk, on_data, baton, p);
done:
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

typedef struct passthru {
    h5s3_s3_data_cb on_data;
    void *baton;
    h5s3_dg_restore_result *res;
    EVP_MD_CTX *md;
} passthru;

static apr_status_t pass_data(void *baton, const char *data, apr_size_t len)
{
    passthru *pt = baton;

    pt->res->bytes += (apr_off_t)len;
    EVP_DigestUpdate(pt->md, data, len);
    return pt->on_data(pt->baton, data, len);
}

apr_status_t h5s3_dg_download(h5s3_dg_restore_result *res, h5s3_dg_store *st,
                              const h5s3_dg_object *obj,
                              const h5s3_dg_codec_opts *opts,
                              h5s3_s3_data_cb on_data, void *baton,
                              apr_pool_t *p)
{
    passthru pt;
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    if (obj->compressed) {
        h5s3_dg_meta *m = obj->meta;
        if (!m) {
            h5s3_dg_object tmp = *obj;
            if ((rv = h5s3_dg_object_probe(&tmp, st, NULL, NULL, p))
                != APR_SUCCESS)
                return rv;
            m = tmp.meta;
        }
        return h5s3_dg_restore(res, st, obj->s3_key, m, obj->etag, opts,
                               on_data, baton, p);
    }
    /* Direct and plain objects are served as stored. */
    pt.on_data = on_data;
    pt.baton = baton;
    pt.res = res;
    pt.md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(pt.md, EVP_sha256(), NULL);
    rv = st->get(st, obj->s3_key, obj->etag, pass_data, &pt, p);
    res->sha256 = md_final_hex(pt.md, p);
    EVP_MD_CTX_free(pt.md);
    return rv;
}
