/*
 * The bucket browser API's part of the module state
 * (h5s3_module_state.api): the HMAC key for download tokens and list
 * cursors of vhosts without H5S3TokenSecret, and the reference cache
 * directory.  Made in post_config, before the children fork, so every
 * child of one generation shares them.  The savings jobs keep their own
 * (glue/routes/api_savings.c).
 */
#include <errno.h>
#include <unistd.h>
#include <apr_strings.h>
#include <unixd.h>

#include "glue/routes/h5s3_api.h"

APLOG_USE_MODULE(h5s3);

#define TOKEN_SECRET_MIN 16
#define RANDOM_KEY_LEN 32

/* This part of the module state (glue/h5s3_glue.h). */
static h5s3_api_state *const as = &h5s3_module_state.api;

/* ------------------------------------------------------------------ */
/* Directives                                                           */

const char *h5s3_api_set_token_secret(cmd_parms *cmd, void *dc,
                                      const char *spec)
{
    h5s3_srv_conf *sc = ap_get_module_config(cmd->server->module_config,
                                             &h5s3_module);
    const char *value, *err;

    if ((err = h5s3_directive_secret(&value, cmd, spec))) {
        return err;
    }
    if (strlen(value) < TOKEN_SECRET_MIN) {
        return h5s3_directive_secret_bad(cmd, spec, apr_psprintf(
            cmd->temp_pool, "the secret needs at least %d bytes",
            TOKEN_SECRET_MIN));
    }
    sc->token_secret = value;
    return NULL;
}

const char *h5s3_api_set_refcache_dir(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    h5s3_global_conf *gc = &h5s3_module_state.conf;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (*arg == '\0') {
        return "H5S3RefCacheDir: an empty path is not valid";
    }
    gc->refcache_dir = ap_server_root_relative(cmd->pool, arg);
    if (gc->refcache_dir == NULL) {
        return apr_psprintf(cmd->pool, "H5S3RefCacheDir: '%s' is not a "
                            "valid path", arg);
    }
    return NULL;
}

/* H5S3ProbeParallel N: HEADs of delta metadata in flight at once. */
const char *h5s3_api_set_probe_parallel(cmd_parms *cmd, void *dc,
                                        const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n;

    if (err == NULL && (err = h5s3_directive_long(
                            &n, cmd, arg, 1, H5S3_DG_PROBE_PARALLEL_MAX))
                       == NULL) {
        h5s3_module_state.conf.probe_parallel = (int)n;
    }
    return err;
}

const char *h5s3_api_set_upload(cmd_parms *cmd, void *dcv, int on)
{
    ((h5s3_dir_conf *)dcv)->upload = on;
    return NULL;
}

const char *h5s3_api_set_max_upload(cmd_parms *cmd, void *dcv,
                                    const char *arg)
{
    return h5s3_directive_size(&((h5s3_dir_conf *)dcv)->max_upload, cmd, arg,
                               1, "the limit must be at least 1 byte");
}

/* ------------------------------------------------------------------ */
/* Accessors                                                            */

const h5s3_token_key *h5s3_api_token_key(const h5s3_srv_conf *sc,
                                         apr_pool_t *p)
{
    static h5s3_token_key none = {(const unsigned char *)"-", 1};
    h5s3_token_key *k;

    if (sc->token_secret == NULL) {
        /* "none" only if post_config did not run: tokens then never verify
         * across a restart, which is all a random key promises anyway. */
        return as->random_key ? as->random_key : &none;
    }
    k = apr_palloc(p, sizeof(*k));
    k->data = (const unsigned char *)sc->token_secret;
    k->len = strlen(sc->token_secret);
    return k;
}

void h5s3_api_codec_opts(h5s3_dg_codec_opts *opts, const h5s3_srv_conf *sc,
                         const char *bucket)
{
    memset(opts, 0, sizeof(*opts));
    opts->cache_dir = as->refcache_path;
    /* The scope the answer caches use: endpoint and credentials. */
    opts->cache_scope = sc->cache_scope;
    opts->bucket = bucket;
    /* Every process trusts what one verified (dg/restore.c). */
    opts->verified = &h5s3_module_state.cache;
}

void h5s3_api_codec_log(h5s3_req *q, const h5s3_dg_codec_run *run,
                        const char *what, const char *bucket,
                        const char *key)
{
    request_rec *r = q->r;
    apr_int64_t ms;

    if (run == NULL || run->cmd[0] == '\0') {
        return;
    }
    ms = (apr_int64_t)apr_time_as_msec(run->duration);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "H5S3-0150: codec %s of "
                  "%s/%s: cmd=\"%s\" duration_ms=%" APR_INT64_T_FMT
                  " rc=%d", what, bucket, key, run->cmd,
                  ms, run->rc);
    apr_table_set(r->notes, "h5s3-codec-cmd", run->cmd);
    apr_table_set(r->notes, "h5s3-codec-ms",
                  apr_psprintf(r->pool, "%" APR_INT64_T_FMT, ms));
    apr_table_set(r->notes, "h5s3-codec-rc",
                  apr_psprintf(r->pool, "%d", run->rc));
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */

static int needs_random_key(server_rec *s)
{
    for (; s != NULL; s = s->next) {
        h5s3_srv_conf *sc = ap_get_module_config(s->module_config,
                                                 &h5s3_module);
        if (sc->buckets->nelts > 0 && sc->token_secret == NULL) {
            return 1;
        }
    }
    return 0;
}

apr_status_t h5s3_api_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;

    /*
     * Made here, before the fork, so that every child shares it; made
     * even when every vhost has a secret, so no code path is left keyless.
     */
    if ((rv = h5s3_token_key_random(&as->random_key, RANDOM_KEY_LEN, pconf))
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0100: cannot "
                     "make a random key for download tokens");
        return rv;
    }
    if (needs_random_key(s)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "H5S3-0101: "
                     "H5S3TokenSecret is not set: download tokens and list "
                     "cursors are signed with a random key, valid only "
                     "until restart and only on this server");
    }

    as->refcache_path = h5s3_conf_refcache_dir(&h5s3_module_state.conf,
                                               pconf);
    rv = apr_dir_make_recursive(as->refcache_path, APR_FPROT_UREAD
                                | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                pconf);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0102: cannot "
                     "create the reference cache directory %s "
                     "(H5S3RefCacheDir)", as->refcache_path);
        return rv;
    }
    /* The children run as User/Group: the directory must be theirs. */
    if (geteuid() == 0
        && chown(as->refcache_path, ap_unixd_config.user_id,
                 ap_unixd_config.group_id) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0103: cannot "
                     "give %s to the server's User", as->refcache_path);
        return rv;
    }
    return APR_SUCCESS;
}
