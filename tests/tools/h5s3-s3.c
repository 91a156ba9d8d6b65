/*
 * h5s3-s3: the core S3 client on the command line, for integration tests
 * against a real S3.  Configuration from the environment:
 *   H5S3_ENDPOINT (required), H5S3_REGION, H5S3_ACCESS_KEY and
 *   H5S3_SECRET_KEY (both absent: anonymous), H5S3_VHOST=1,
 *   H5S3_CONNECT_TIMEOUT_MS, H5S3_TIMEOUT_MS.
 *
 *   head BUCKET KEY
 *   get-range BUCKET KEY OFFSET LEN [-m ETAG] -o FILE
 *   get-ranges BUCKET KEY OFF:LEN[,OFF:LEN...] [-p PARALLEL] [-m ETAG] -o FILE
 *   get BUCKET KEY [-m ETAG] -o FILE              (streaming)
 *   list BUCKET [-P PREFIX] [-d DELIM] [-t TOKEN] [-n MAXKEYS] [--all]
 *   put BUCKET KEY FILE [-c TYPE] [-M NAME=VALUE]... [--stream]
 *   stress BUCKET KEY THREADS ITERATIONS   (threads share the handle pool;
 *                                           each range is checked against
 *                                           one streamed copy)
 *
 * stdout: one JSON object, {"status": "ok"|status name, ...} with the
 * call accounting and, on failure, "http_status", "code", "message".
 * Exit status 0 on success, 1 on an S3/client failure, 2 on usage errors.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_thread_proc.h>
#include <jansson.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"

static apr_pool_t *pool;

static void usage(void)
{
    fprintf(stderr, "usage: h5s3-s3 head|get-range|get-ranges|get|list|put "
            "... (see the source header)\n");
    exit(2);
}

static const char *opt(int argc, char **argv, const char *flag)
{
    int i;

    for (i = 0; i < argc - 1; i++) {
        if (!strcmp(argv[i], flag)) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static int has_flag(int argc, char **argv, const char *flag)
{
    int i;

    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], flag)) {
            return 1;
        }
    }
    return 0;
}

static int finish(json_t *out, apr_status_t rv, const h5s3_s3_call *call)
{
    json_object_set_new(out, "status", json_string(
        rv == APR_SUCCESS ? "ok" : h5s3_error_name(rv)));
    json_object_set_new(out, "requests", json_integer(call->requests));
    json_object_set_new(out, "bytes", json_integer((json_int_t)call->bytes));
    json_object_set_new(out, "errors", json_integer(call->errors));
    if (rv != APR_SUCCESS) {
        const h5s3_result *res = call->result;

        json_object_set_new(out, "http_status",
                            json_integer(res->s3_status));
        if (res->s3_code) {
            json_object_set_new(out, "code", json_string(res->s3_code));
        }
        if (res->s3_message) {
            json_object_set_new(out, "message",
                                json_string(res->s3_message));
        }
    }
    json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
    fputc('\n', stdout);
    json_decref(out);
    return rv == APR_SUCCESS ? 0 : 1;
}

static int write_file(const char *path, const char *data, apr_size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "h5s3-s3: cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
    return 0;
}

static int add_meta(void *out, const char *k, const char *v)
{
    json_object_set_new(out, k, json_string(v));
    return 1;
}

static json_t *info_json(const h5s3_s3_object_info *info)
{
    json_t *meta = json_object();

    apr_table_do(add_meta, meta, info->meta, NULL);
    return json_pack("{s:I, s:s?, s:I, s:s?, s:o}",
                     "size", (json_int_t)info->size, "etag", info->etag,
                     "mtime", (json_int_t)apr_time_sec(info->mtime),
                     "content_type", info->content_type, "meta", meta);
}

typedef struct sink {
    FILE *f;
    json_t *head;
} sink;

static apr_status_t on_head(void *baton, const h5s3_s3_object_info *info)
{
    sink *s = baton;

    s->head = info_json(info);
    return APR_SUCCESS;
}

static apr_status_t on_data(void *baton, const char *data, apr_size_t len)
{
    sink *s = baton;

    return fwrite(data, 1, len, s->f) == len ? APR_SUCCESS : APR_EGENERAL;
}

typedef struct source {
    FILE *f;
} source;

static apr_status_t on_read(void *baton, char *buf, apr_size_t *len)
{
    source *s = baton;

    *len = fread(buf, 1, *len, s->f);
    return ferror(s->f) ? APR_EGENERAL : APR_SUCCESS;
}

typedef struct stress {
    h5s3_s3_client *c;
    const char *bucket, *key;
    const char *data;           /* the whole object, streamed once */
    apr_size_t size;
    int iters;
    int seed;
    int bad;                    /* ranges whose bytes differ */
    int failed;                 /* calls that did not succeed */
    h5s3_s3_call call;
} stress;

typedef struct grow {
    char *data;
    apr_size_t len, cap;
} grow;

static apr_status_t grow_data(void *baton, const char *d, apr_size_t len)
{
    grow *g = baton;

    if (g->len + len > g->cap) {
        g->cap = (g->len + len) * 2;
        g->data = realloc(g->data, g->cap);
        if (g->data == NULL) {
            return APR_ENOMEM;
        }
    }
    memcpy(g->data + g->len, d, len);
    g->len += len;
    return APR_SUCCESS;
}

static void *APR_THREAD_FUNC stress_thread(apr_thread_t *t, void *baton)
{
    stress *s = baton;
    apr_pool_t *p;
    unsigned int r = (unsigned int)s->seed;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < s->iters; i++) {
        apr_size_t off, len, got;
        char buf[8192];

        r = r * 1103515245u + 12345u;
        off = (r >> 4) % s->size;
        r = r * 1103515245u + 12345u;
        len = 1 + (r >> 4) % sizeof(buf);
        if (h5s3_s3_get_range(&got, s->c, s->bucket, s->key, NULL,
                              (apr_off_t)off, len, buf, &s->call, p)
            != APR_SUCCESS) {
            s->failed++;
        }
        else if (got != (off + len > s->size ? s->size - off : len)
                 || memcmp(buf, s->data + off, got) != 0) {
            s->bad++;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    /* Returning (not apr_thread_exit) ends the thread the plain way. */
    return NULL;
}

int main(int argc, char **argv)
{
    h5s3_s3_config cfg;
    h5s3_s3_client *c;
    h5s3_s3_call call;
    h5s3_result res;
    json_t *out = json_object();
    apr_status_t rv;
    const char *cmd, *bucket, *key, *v;

    if (argc < 3) {
        usage();
    }
    apr_initialize();
    apr_pool_create(&pool, NULL);
    memset(&cfg, 0, sizeof(cfg));
    memset(&call, 0, sizeof(call));
    /* The failed exchange's status, Code and Message, for finish(). */
    h5s3_result_init(&res, pool);
    call.result = &res;
    cfg.endpoint = getenv("H5S3_ENDPOINT");
    cfg.region = getenv("H5S3_REGION");
    cfg.access_key = getenv("H5S3_ACCESS_KEY");
    cfg.secret_key = getenv("H5S3_SECRET_KEY");
    cfg.virtual_host = getenv("H5S3_VHOST") && !strcmp(getenv("H5S3_VHOST"),
                                                       "1");
    if ((v = getenv("H5S3_CONNECT_TIMEOUT_MS"))) {
        cfg.connect_timeout_ms = atol(v);
    }
    if ((v = getenv("H5S3_TIMEOUT_MS"))) {
        cfg.total_timeout_ms = atol(v);
    }
    if (h5s3_s3_global_init() != APR_SUCCESS
        || h5s3_s3_client_create(&c, &cfg, pool) != APR_SUCCESS) {
        fprintf(stderr, "h5s3-s3: bad configuration (H5S3_ENDPOINT?)\n");
        return 2;
    }
    cmd = argv[1];
    bucket = argv[2];
    key = argc > 3 ? argv[3] : NULL;

    if (!strcmp(cmd, "head") && key) {
        h5s3_s3_object_info *info;

        rv = h5s3_s3_head(&info, c, bucket, key, &call, pool);
        if (rv == APR_SUCCESS) {
            json_object_set_new(out, "info", info_json(info));
        }
        return finish(out, rv, &call);
    }
    if (!strcmp(cmd, "get-range") && argc >= 6) {
        apr_off_t off = apr_atoi64(argv[4]);
        apr_size_t len = (apr_size_t)apr_atoi64(argv[5]), got;
        char *buf = malloc(len ? len : 1);
        const char *file = opt(argc, argv, "-o");

        rv = h5s3_s3_get_range(&got, c, bucket, key, opt(argc, argv, "-m"),
                               off, len, buf, &call, pool);
        if (rv == APR_SUCCESS) {
            json_object_set_new(out, "got", json_integer((json_int_t)got));
            if (file) {
                write_file(file, buf, got);
            }
        }
        free(buf);
        return finish(out, rv, &call);
    }
    if (!strcmp(cmd, "get-ranges") && argc >= 5) {
        char *spec = apr_pstrdup(pool, argv[4]), *tok, *last;
        h5s3_s3_range *r = apr_pcalloc(pool, sizeof(*r) * 4096);
        int n = 0, i, par = 4;
        const char *file = opt(argc, argv, "-o");
        json_t *arr = json_array();
        FILE *f = NULL;

        if ((v = opt(argc, argv, "-p"))) {
            par = atoi(v);
        }
        for (tok = apr_strtok(spec, ",", &last); tok && n < 4096;
             tok = apr_strtok(NULL, ",", &last)) {
            char *colon = strchr(tok, ':');

            if (colon == NULL) {
                usage();
            }
            r[n].offset = apr_atoi64(tok);
            r[n].len = (apr_size_t)apr_atoi64(colon + 1);
            r[n].buf = malloc(r[n].len ? r[n].len : 1);
            n++;
        }
        rv = h5s3_s3_get_ranges(c, bucket, key, opt(argc, argv, "-m"), r, n,
                                par, &call, pool);
        if (file && (f = fopen(file, "wb")) == NULL) {
            usage();
        }
        for (i = 0; i < n; i++) {
            json_array_append_new(arr, json_pack("{s:I, s:s}",
                "got", (json_int_t)r[i].got,
                "status", r[i].status == APR_SUCCESS
                          ? "ok" : h5s3_error_name(r[i].status)));
            if (f) {
                fwrite(r[i].buf, 1, r[i].got, f);
            }
            free(r[i].buf);
        }
        if (f) {
            fclose(f);
        }
        json_object_set_new(out, "ranges", arr);
        return finish(out, rv, &call);
    }
    if (!strcmp(cmd, "get") && key) {
        sink s;
        const char *file = opt(argc, argv, "-o");

        s.head = NULL;
        s.f = fopen(file ? file : "/dev/null", "wb");
        if (s.f == NULL) {
            usage();
        }
        rv = h5s3_s3_get_stream(c, bucket, key, opt(argc, argv, "-m"),
                                on_head, on_data, &s, &call, pool);
        fclose(s.f);
        if (s.head) {
            json_object_set_new(out, "info", s.head);
        }
        return finish(out, rv, &call);
    }
    if (!strcmp(cmd, "list")) {
        const char *token = opt(argc, argv, "-t");
        int all = has_flag(argc, argv, "--all");
        int max = (v = opt(argc, argv, "-n")) ? atoi(v) : 1000;
        json_t *keys = json_array(), *prefixes = json_array();
        int pages = 0, i;

        do {
            h5s3_s3_list_page *pg;

            rv = h5s3_s3_list(&pg, c, bucket, opt(argc, argv, "-P"),
                              opt(argc, argv, "-d"), token, max, &call,
                              pool);
            if (rv != APR_SUCCESS) {
                break;
            }
            pages++;
            for (i = 0; i < pg->entries->nelts; i++) {
                h5s3_s3_entry *e = &APR_ARRAY_IDX(pg->entries, i,
                                                  h5s3_s3_entry);

                json_array_append_new(keys, json_pack(
                    "{s:s, s:I, s:s?, s:s?, s:I}", "key", e->key,
                    "size", (json_int_t)e->size, "etag", e->etag,
                    "last_modified", e->last_modified,
                    "mtime", (json_int_t)apr_time_sec(e->mtime)));
            }
            for (i = 0; i < pg->prefixes->nelts; i++) {
                json_array_append_new(prefixes, json_string(
                    APR_ARRAY_IDX(pg->prefixes, i, const char *)));
            }
            json_object_set_new(out, "truncated",
                                json_boolean(pg->truncated));
            json_object_set_new(out, "next_token", pg->next_token
                                ? json_string(pg->next_token)
                                : json_null());
            token = pg->next_token;
        } while (all && token);
        json_object_set_new(out, "pages", json_integer(pages));
        json_object_set_new(out, "keys", keys);
        json_object_set_new(out, "prefixes", prefixes);
        return finish(out, rv, &call);
    }
    if (!strcmp(cmd, "put") && argc >= 5) {
        apr_table_t *meta = apr_table_make(pool, 4);
        const char *ctype = opt(argc, argv, "-c");
        int i;

        for (i = 5; i < argc - 1; i++) {
            if (!strcmp(argv[i], "-M")) {
                char *nv = apr_pstrdup(pool, argv[i + 1]);
                char *eq = strchr(nv, '=');

                if (eq == NULL) {
                    usage();
                }
                *eq = '\0';
                apr_table_set(meta, nv, eq + 1);
            }
        }
        if (has_flag(argc, argv, "--stream")) {
            source s;
            long size;

            s.f = fopen(argv[4], "rb");
            if (s.f == NULL) {
                usage();
            }
            fseek(s.f, 0, SEEK_END);
            size = ftell(s.f);
            fseek(s.f, 0, SEEK_SET);
            rv = h5s3_s3_put_stream(c, bucket, key, size, ctype, meta,
                                    on_read, &s, &call, pool);
            fclose(s.f);
        }
        else {
            char *data;
            apr_size_t len;
            apr_file_t *f;
            apr_finfo_t fi;

            if (apr_file_open(&f, argv[4], APR_READ | APR_BINARY, 0, pool)
                || apr_file_info_get(&fi, APR_FINFO_SIZE, f)) {
                usage();
            }
            len = (apr_size_t)fi.size;
            data = apr_palloc(pool, len + 1);
            if (len && apr_file_read_full(f, data, len, NULL)) {
                usage();
            }
            apr_file_close(f);
            rv = h5s3_s3_put(c, bucket, key, data, len, ctype, meta, &call,
                             pool);
        }
        return finish(out, rv, &call);
    }
    if (!strcmp(cmd, "stress") && argc >= 6) {
        int nt = atoi(argv[4]), i, bad = 0, failed = 0;
        stress *st = apr_pcalloc(pool, sizeof(*st) * (nt > 0 ? nt : 1));
        apr_thread_t **th = apr_pcalloc(pool, sizeof(*th) * (nt + 1));
        grow g = {NULL, 0, 0};
        apr_status_t trv;

        rv = h5s3_s3_get_stream(c, bucket, key, NULL, NULL, grow_data, &g,
                                &call, pool);
        if (rv != APR_SUCCESS || g.len == 0) {
            return finish(out, rv ? rv : H5S3_E_INVALID, &call);
        }
        for (i = 0; i < nt; i++) {
            st[i].c = c;
            st[i].bucket = bucket;
            st[i].key = key;
            st[i].data = g.data;
            st[i].size = g.len;
            st[i].iters = atoi(argv[5]);
            st[i].seed = i + 1;
            apr_thread_create(&th[i], NULL, stress_thread, &st[i], pool);
        }
        for (i = 0; i < nt; i++) {
            apr_thread_join(&trv, th[i]);
            bad += st[i].bad;
            failed += st[i].failed;
            call.requests += st[i].call.requests;
            call.bytes += st[i].call.bytes;
            call.errors += st[i].call.errors;
        }
        free(g.data);
        json_object_set_new(out, "mismatched", json_integer(bad));
        json_object_set_new(out, "failed", json_integer(failed));
        return finish(out, bad || failed ? H5S3_E_INTEGRITY : APR_SUCCESS,
                      &call);
    }
    usage();
    return 2;
}
