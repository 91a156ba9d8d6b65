/*
 * h5s3-dg: the DeltaGlider core on the command line, for integration
 * tests against a real S3.  Configuration from the environment:
 *   H5S3_ENDPOINT (required), H5S3_REGION, H5S3_ACCESS_KEY,
 *   H5S3_SECRET_KEY, H5S3_TOKEN_SECRET (cursor key; default "test").
 *
 *   list BUCKET [-P PREFIX] [-d /] [-s SORT] [-O asc|desc]
 *        [-c true|false|any] [-q SEARCH] [-n LIMIT] [-C CURSOR] [--all]
 *   meta BUCKET KEY
 *   savings BUCKET
 *   get BUCKET KEY -o FILE --cache DIR [--chunk BYTES]
 *   put BUCKET KEY FILE --cache DIR
 *
 * stdout: one JSON object with "status" ("ok" or a status name) and, on
 * failure, "reason".  "get" also reports "delivered": the bytes handed to
 * the receiver (written to FILE).  Exit 0 ok, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>

#include "dg/h5s3_dg.h"
#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"

static apr_pool_t *pool;

static void usage(void)
{
    fprintf(stderr, "usage: h5s3-dg list|meta|savings|get|put ... "
            "(see the source header)\n");
    exit(2);
}

static const char *opt(int argc, char **argv, const char *flag)
{
    int i;

    for (i = 0; i < argc - 1; i++)
        if (!strcmp(argv[i], flag))
            return argv[i + 1];
    return NULL;
}

static int has_flag(int argc, char **argv, const char *flag)
{
    int i;

    for (i = 0; i < argc; i++)
        if (!strcmp(argv[i], flag))
            return 1;
    return 0;
}

static int finish(json_t *out, apr_status_t rv, const char *reason)
{
    char *text;

    json_object_set_new(out, "status", json_string(
        rv == APR_SUCCESS ? "ok" : h5s3_error_name(rv)));
    if (reason)
        json_object_set_new(out, "reason", json_string(reason));
    text = json_dumps(out, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(out);
    return rv == APR_SUCCESS ? 0 : 1;
}

static int cmd_list(h5s3_dg_store *st, const char *bucket, int argc,
                    char **argv)
{
    h5s3_dg_query q;
    h5s3_token_key key;
    h5s3_dg_page *pg;
    const char *bad, *secret = getenv("H5S3_TOKEN_SECRET");
    json_t *out = json_object(), *all = json_array(), *pfx = NULL;
    int pages = 0, i;
    apr_status_t rv;

    memset(&q, 0, sizeof(q));
    if ((rv = h5s3_dg_query_parse(&q, &bad, opt(argc, argv, "-s"),
                                  opt(argc, argv, "-O"),
                                  opt(argc, argv, "-c"),
                                  opt(argc, argv, "-n"))) != APR_SUCCESS) {
        json_decref(all);
        return finish(out, rv, apr_psprintf(pool, "bad %s", bad));
    }
    q.bucket = bucket;
    q.prefix = opt(argc, argv, "-P") ? opt(argc, argv, "-P") : "";
    q.delimiter = opt(argc, argv, "-d");
    q.search = opt(argc, argv, "-q");
    q.cursor = opt(argc, argv, "-C");
    secret = secret ? secret : "test";
    key.data = (const unsigned char *)secret;
    key.len = strlen(secret);
    for (;;) {
        if ((rv = h5s3_dg_list(&pg, st, &q, &key, NULL, pool))
            != APR_SUCCESS) {
            json_decref(all);
            json_decref(pfx);
            return finish(out, rv, NULL);
        }
        pages++;
        if (!has_flag(argc, argv, "--all")) {
            json_decref(out);
            json_decref(all);
            return finish(h5s3_dg_page_json(pg), APR_SUCCESS, NULL);
        }
        if (!pfx) {
            json_t *j = h5s3_dg_page_json(pg);
            pfx = json_incref(json_object_get(j, "common_prefixes"));
            json_decref(j);
        }
        for (i = 0; i < pg->objects->nelts; i++)
            json_array_append_new(all, h5s3_dg_object_json(
                APR_ARRAY_IDX(pg->objects, i, h5s3_dg_object *)));
        if (!pg->cursor)
            break;
        q.cursor = pg->cursor;
    }
    json_object_set_new(out, "objects", all);
    json_object_set_new(out, "common_prefixes", pfx);
    json_object_set_new(out, "pages", json_integer(pages));
    return finish(out, APR_SUCCESS, NULL);
}

static apr_status_t write_out(void *baton, const char *data, apr_size_t len)
{
    apr_off_t *delivered = (apr_off_t *)((void **)baton)[1];
    FILE *f = ((void **)baton)[0];

    if (fwrite(data, 1, len, f) != len)
        return APR_EGENERAL;
    *delivered += (apr_off_t)len;
    return APR_SUCCESS;
}

static int cmd_get(h5s3_dg_store *st, const char *key, int argc, char **argv)
{
    const char *path = opt(argc, argv, "-o");
    h5s3_dg_codec_opts opts;
    h5s3_dg_restore_result res;
    h5s3_dg_object *o;
    json_t *out = json_object();
    apr_off_t delivered = 0;
    void *baton[2];
    FILE *f;
    apr_status_t rv;

    if (!path)
        usage();
    memset(&opts, 0, sizeof(opts));
    opts.cache_dir = opt(argc, argv, "--cache");
    /* The module scopes by endpoint and credentials; the endpoint will do. */
    opts.cache_scope = getenv("H5S3_ENDPOINT");
    opts.bucket = argv[2];
    if (opt(argc, argv, "--chunk"))
        opts.chunk_size = (apr_size_t)atol(opt(argc, argv, "--chunk"));
    if ((rv = h5s3_dg_stat(&o, NULL, st, key, pool)) != APR_SUCCESS)
        return finish(out, rv, NULL);
    if (!(f = fopen(path, "wb")))
        return finish(out, APR_EGENERAL, "cannot open output");
    baton[0] = f;
    baton[1] = &delivered;
    rv = h5s3_dg_download(&res, st, o, &opts, write_out, baton, pool);
    fclose(f);
    json_object_set_new(out, "compressed", json_boolean(o->compressed));
    json_object_set_new(out, "bytes", json_integer(res.bytes));
    json_object_set_new(out, "delivered", json_integer(delivered));
    if (res.sha256)
        json_object_set_new(out, "sha256", json_string(res.sha256));
    return finish(out, rv, res.reason);
}

static int cmd_put(h5s3_dg_store *st, const char *key, const char *file,
                   int argc, char **argv)
{
    h5s3_dg_codec_opts opts;
    h5s3_dg_upload_result *r;
    apr_status_t rv;

    memset(&opts, 0, sizeof(opts));
    opts.cache_dir = opt(argc, argv, "--cache");
    /* The module scopes by endpoint and credentials; the endpoint will do. */
    opts.cache_scope = getenv("H5S3_ENDPOINT");
    opts.bucket = argv[2];
    rv = h5s3_dg_upload_file(&r, st, key, file, &opts, pool);
    if (rv != APR_SUCCESS)
        return finish(json_object(), rv, NULL);
    return finish(json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:s}",
                            "key", r->key, "s3_key", r->s3_key,
                            "compressed", r->compressed,
                            "created_reference", r->created_reference,
                            "original_bytes", (json_int_t)r->original_bytes,
                            "stored_bytes", (json_int_t)r->stored_bytes,
                            "sha256", r->sha256), APR_SUCCESS, NULL);
}

int main(int argc, char **argv)
{
    h5s3_s3_config cfg;
    h5s3_s3_client *c;
    h5s3_s3_call call;
    h5s3_dg_store *st;
    const char *cmd;
    int ret;

    if (argc < 3)
        usage();
    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&pool, NULL);
    memset(&cfg, 0, sizeof(cfg));
    memset(&call, 0, sizeof(call));
    cfg.endpoint = getenv("H5S3_ENDPOINT");
    cfg.region = getenv("H5S3_REGION");
    cfg.access_key = getenv("H5S3_ACCESS_KEY");
    cfg.secret_key = getenv("H5S3_SECRET_KEY");
    if (!cfg.endpoint || h5s3_s3_global_init() != APR_SUCCESS
        || h5s3_s3_client_create(&c, &cfg, pool) != APR_SUCCESS) {
        fprintf(stderr, "h5s3-dg: bad configuration (H5S3_ENDPOINT?)\n");
        return 2;
    }
    cmd = argv[1];
    st = h5s3_dg_store_s3(c, argv[2], &call, pool);
    if (!strcmp(cmd, "list")) {
        ret = cmd_list(st, argv[2], argc, argv);
    }
    else if (!strcmp(cmd, "meta") && argc >= 4) {
        h5s3_dg_object *o;
        apr_status_t rv = h5s3_dg_stat(&o, NULL, st, argv[3], pool);
        ret = rv == APR_SUCCESS
              ? finish(h5s3_dg_metadata_json(o), rv, NULL)
              : finish(json_object(), rv, NULL);
    }
    else if (!strcmp(cmd, "savings")) {
        h5s3_dg_savings s;
        apr_status_t rv = h5s3_dg_savings_compute(&s, st, NULL, NULL,
                                                  pool);
        ret = rv == APR_SUCCESS ? finish(h5s3_dg_savings_json(&s), rv, NULL)
                                : finish(json_object(), rv, NULL);
    }
    else if (!strcmp(cmd, "get") && argc >= 4) {
        ret = cmd_get(st, argv[3], argc, argv);
    }
    else if (!strcmp(cmd, "put") && argc >= 5) {
        ret = cmd_put(st, argv[3], argv[4], argc, argv);
    }
    else {
        usage();
        ret = 2;
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return ret;
}
