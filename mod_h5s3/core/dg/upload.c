/*
 * Uploads stored the way DeltaGlider stores them (docs/deltaglider-format.md §8):
 * direct by extension, else reference.bin + zero-diff delta for the first
 * file of a deltaspace, else a delta against that reference.
 */
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "dg/h5s3_dg_upload.h"
#include "dg/h5s3_dg_restore.h"
#include "dg/h5s3_dg_keys.h"
#include "base/h5s3_log.h"

static const char *now_iso_us(apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_time_exp_t tm;
    char buf[40];
    apr_size_t len = 0;

    apr_time_exp_gmt(&tm, now);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    return apr_psprintf(p, "%s.%06dZ", buf, tm.tm_usec);
}

static apr_status_t file_read(void *baton, char *buf, apr_size_t *len)
{
    apr_status_t rv = apr_file_read(baton, buf, len);

    if (rv == APR_EOF) {
        *len = 0;
        return APR_SUCCESS;
    }
    return rv;
}

static apr_status_t put_file(h5s3_dg_store *st, const char *key,
                             const char *path, apr_off_t size,
                             apr_table_t *meta, apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv;

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BUFFERED,
                            APR_OS_DEFAULT, p)) != APR_SUCCESS)
        return rv;
    rv = st->put(st, key, size, "application/octet-stream", meta, file_read,
                 f, p);
    apr_file_close(f);
    return rv;
}

static const char *base_of(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

/* Encode target against source and PUT the delta at key.delta. */
static apr_status_t put_delta(h5s3_dg_upload_result *r, h5s3_dg_store *st,
                              const h5s3_dg_codec_opts *opts,
                              const char *source, const char *ref_key,
                              const char *ref_sha, const char *path,
                              int zero_diff, apr_pool_t *p)
{
    const char *dir = opts->tmp_dir && *opts->tmp_dir ? opts->tmp_dir
                                                      : opts->cache_dir;
    char *out = apr_pstrcat(p, dir, "/dgenc-XXXXXX", NULL);
    h5s3_result res;
    apr_table_t *meta = apr_table_make(p, 12);
    apr_file_t *tf;
    apr_finfo_t fi;
    apr_status_t rv;

    h5s3_result_init(&res, p);
    /* mktemp names a private file; xdelta3 -f then overwrites it. */
    if ((rv = apr_file_mktemp(&tf, out, APR_FOPEN_CREATE | APR_FOPEN_WRITE
                              | APR_FOPEN_EXCL, p)) != APR_SUCCESS)
        return rv;
    apr_file_close(tf);
    if ((rv = h5s3_dg_xdelta_encode(&res, opts, source, path, out, p))
        != APR_SUCCESS) {
        h5s3_log(H5S3_LOG_ERR, rv, "deltaglider upload %s: %s", r->key,
                 h5s3_result_detail(&res, "xdelta3 failed"));
        goto cleanup;
    }
    if ((rv = apr_stat(&fi, out, APR_FINFO_SIZE, p)) != APR_SUCCESS)
        goto cleanup;
    apr_table_set(meta, "dg-tool", H5S3_DG_TOOL);
    apr_table_set(meta, "dg-original-name", base_of(r->key));
    apr_table_set(meta, "dg-file-sha256", r->sha256);
    apr_table_set(meta, "dg-file-size",
                  apr_off_t_toa(p, r->original_bytes));
    apr_table_set(meta, "dg-created-at", now_iso_us(p));
    apr_table_set(meta, "dg-ref-key", ref_key);
    apr_table_set(meta, "dg-ref-sha256", ref_sha);
    apr_table_set(meta, "dg-delta-size", apr_off_t_toa(p, fi.size));
    apr_table_set(meta, "dg-delta-cmd",
                  apr_psprintf(p, "xdelta3 -e -f -9 -D -s %s %s %s",
                               H5S3_DG_REFERENCE_NAME, base_of(r->key),
                               apr_pstrcat(p, base_of(r->key),
                                           H5S3_DG_DELTA_SUFFIX, NULL)));
    if (zero_diff)
        apr_table_set(meta, "dg-note", "zero-diff (reference identical)");
    r->s3_key = apr_pstrcat(p, r->key, H5S3_DG_DELTA_SUFFIX, NULL);
    r->stored_bytes = fi.size;
    r->compressed = 1;
    rv = put_file(st, r->s3_key, out, fi.size, meta, p);
cleanup:
    apr_file_remove(out, p);
    return rv;
}

apr_status_t h5s3_dg_upload_file(h5s3_dg_upload_result **out,
                                 h5s3_dg_store *st, const char *key,
                                 const char *path,
                                 const h5s3_dg_codec_opts *opts,
                                 apr_pool_t *p)
{
    h5s3_dg_upload_result *r = apr_pcalloc(p, sizeof(*r));
    apr_table_t *meta = apr_table_make(p, 8);
    h5s3_s3_object_info *info;
    const char *ref_key, *ref_path;
    h5s3_dg_meta *rm;
    h5s3_result res;
    apr_status_t rv;

    if (!key || !*key || key[strlen(key) - 1] == '/'
        || h5s3_dg_key_internal(key) || h5s3_dg_key_is_delta(key))
        return H5S3_E_INVALID;
    r->key = apr_pstrdup(p, key);
    if ((rv = h5s3_dg_file_sha256(&r->sha256, &r->original_bytes, path, p))
        != APR_SUCCESS)
        return rv;

    if (!h5s3_dg_delta_eligible(key)) {
        apr_table_set(meta, "dg-tool", H5S3_DG_TOOL);
        apr_table_set(meta, "dg-original-name", base_of(key));
        apr_table_set(meta, "dg-file-sha256", r->sha256);
        apr_table_set(meta, "dg-file-size",
                      apr_off_t_toa(p, r->original_bytes));
        apr_table_set(meta, "dg-created-at", now_iso_us(p));
        apr_table_set(meta, "dg-compression", "none");
        r->s3_key = r->key;
        r->stored_bytes = r->original_bytes;
        if ((rv = put_file(st, key, path, r->original_bytes, meta, p))
            != APR_SUCCESS)
            return rv;
        *out = r;
        return APR_SUCCESS;
    }
    if (!opts || !opts->cache_dir || !*opts->cache_dir)
        return H5S3_E_INVALID;

    ref_key = h5s3_dg_reference_key(key, p);
    rv = st->head(st, &info, ref_key, p);
    if (rv == H5S3_E_NOTFOUND) {
        /* First eligible file here: it becomes the reference. */
        apr_table_set(meta, "dg-tool", H5S3_DG_TOOL);
        apr_table_set(meta, "dg-source-name", base_of(key));
        apr_table_set(meta, "dg-file-sha256", r->sha256);
        apr_table_set(meta, "dg-created-at", now_iso_us(p));
        apr_table_set(meta, "dg-note", "reference");
        if ((rv = put_file(st, ref_key, path, r->original_bytes, meta, p))
            != APR_SUCCESS)
            return rv;
        r->created_reference = 1;
        rv = put_delta(r, st, opts, path, ref_key, r->sha256, path, 1, p);
    }
    else if (rv == APR_SUCCESS) {
        if ((rv = h5s3_dg_meta_parse(&rm, NULL, ref_key, info->meta, p))
            != APR_SUCCESS || !rm->file_sha256) {
            h5s3_log(H5S3_LOG_ERR, rv, "deltaglider upload %s: reference "
                     "%s has no usable dg-file-sha256", key, ref_key);
            return H5S3_E_INTEGRITY;
        }
        h5s3_result_init(&res, p);
        if ((rv = h5s3_dg_reference_get(&ref_path, &res, st, ref_key,
                                        rm->file_sha256, opts, p))
            != APR_SUCCESS) {
            h5s3_log(H5S3_LOG_ERR, rv, "deltaglider upload %s: %s", key,
                     h5s3_result_detail(&res, "reference unavailable"));
            return rv;
        }
        rv = put_delta(r, st, opts, ref_path, ref_key, rm->file_sha256,
                       path, 0, p);
    }
    if (rv != APR_SUCCESS)
        return rv;
    *out = r;
    return APR_SUCCESS;
}
