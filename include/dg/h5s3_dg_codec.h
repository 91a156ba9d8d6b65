/*
 * Options shared by reconstruction and upload, the reference cache's file
 * names, and the xdelta3 program (dg/xdelta.c).
 */
#ifndef H5S3_DG_CODEC_H
#define H5S3_DG_CODEC_H

#include <apr_file_io.h>
#include <apr_pools.h>
#include "base/h5s3_result.h"
#include "base/h5s3_cache.h"

/*
 * One xdelta3 run, for the codec log (docs/deltaglider-format.md §5.7):
 * the command as run, paths relative to the cache or spool directory
 * (anything else by its last segment; cut at H5S3_DG_CODEC_CMD_MAX), how
 * long it took and how it ended.  cmd "": nothing ran.
 */
#define H5S3_DG_CODEC_CMD_MAX 512

typedef struct h5s3_dg_codec_run {
    /* Copied, not pooled: the restore's pool is gone when it returns. */
    char cmd[H5S3_DG_CODEC_CMD_MAX];
    apr_interval_time_t duration;
    int rc;                     /* exit code; -N: killed by signal N */
} h5s3_dg_codec_run;

typedef struct h5s3_dg_codec_opts {
    const char *cache_dir;      /* reference cache (see below); required */
    const char *tmp_dir;        /* spool for deltas; NULL: cache_dir */
    const char *xdelta3;        /* program; NULL: "xdelta3" on PATH */
    apr_size_t chunk_size;      /* output piece; 0: 1 MiB; max 16 MiB */
    /*
     * Whose references these are: the S3 endpoint and credential scope
     * the store reads with, and its bucket (NULL: "").  A cached
     * reference is only ever used for the same scope, bucket, reference
     * key and SHA-256 it was fetched for.
     */
    const char *cache_scope;
    const char *bucket;
    h5s3_dg_codec_run *run;     /* filled by the last xdelta3 run; NULL ok */
    /*
     * Where references verified in the cache are remembered, by file
     * and with its size, mtime and inode (dg/restore.c): a reference is
     * hashed when it enters the cache, and used without hashing again
     * while its file is unchanged.  NULL: hashed on every use.
     */
    h5s3_cache *verified;
} h5s3_dg_codec_opts;

/*
 * The reference cache's file name (no directory) of one reference:
 * "ref-" + hex SHA-256 of scope, bucket, ref_key and ref_sha256 (each
 * NUL-terminated; NULL counts as "") + ".bin".  Keys never appear in a
 * path, and a reference cached for one bucket or tenant is never taken
 * for another's, even when both claim the same SHA-256.
 */
apr_status_t h5s3_dg_ref_cache_name(const char **name, const char *scope,
                                    const char *bucket, const char *ref_key,
                                    const char *ref_sha256, apr_pool_t *p);

/*
 * The xdelta3 program (dg/xdelta.c), run with posix_spawn and nothing
 * but its three standard descriptors.  Encoding
 * passes -D so gzip/bzip2/xz inputs are diffed as they are and decode
 * byte-exactly (docs/deltaglider-format.md §5.3, upstream issue #4).
 * A failure is told in res (xdelta3's message, or that it could not run).
 */
apr_status_t h5s3_dg_xdelta_encode(h5s3_result *res,
                                   const h5s3_dg_codec_opts *opts,
                                   const char *source, const char *target,
                                   const char *out, apr_pool_t *p);

typedef struct h5s3_dg_xdelta_proc h5s3_dg_xdelta_proc;

/* Start "xdelta3 -d -c -B 8MiB -s source" with delta_in as its stdin. */
apr_status_t h5s3_dg_xdelta_decode_start(h5s3_dg_xdelta_proc **proc,
                                         const h5s3_dg_codec_opts *opts,
                                         const char *source,
                                         apr_file_t *delta_in, apr_pool_t *p);
/* The decoder's stdout (read until APR_EOF). */
apr_file_t *h5s3_dg_xdelta_output(h5s3_dg_xdelta_proc *proc);
/*
 * Reap the decoder (killing it first when kill is set).  A non-zero exit
 * is H5S3_E_INTEGRITY with xdelta3's message in res (may be NULL).
 */
apr_status_t h5s3_dg_xdelta_finish(h5s3_result *res,
                                   h5s3_dg_xdelta_proc *proc, int kill);

#endif
