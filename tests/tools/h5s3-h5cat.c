/*
 * h5s3-h5cat: open an HDF5 object in S3 through the S3 driver and the page
 * cache, print dataset values or group listings and what it cost in S3
 * requests.  For integration tests and benchmarks.  S3 configuration from
 * the environment, as h5s3-s3: H5S3_ENDPOINT, H5S3_REGION,
 * H5S3_ACCESS_KEY, H5S3_SECRET_KEY, H5S3_VHOST=1, H5S3_TIMEOUT_MS.
 *
 *   h5s3-h5cat [options] BUCKET KEY [PATH...]       (PATH default "/")
 *     -c BYTES     page cache size (heap; default 64 MiB, 0: none)
 *     -p BYTES     page size (default 65536)
 *     -n N         values printed per dataset (default 1000)
 *     -t SECONDS   H5S3ValidateTTL (default 30)
 *     --prefetch   prefetch a group's children before listing it
 *     --passes N   do it N times (default 1)
 *     --reopen     between passes, close the files (a new open-file table,
 *                  the same page cache: what another process would see)
 *     --threads N  each pass runs N threads sharing the table and the
 *                  cache, each doing --iterations M requests; the pass
 *                  reports "failures" and "mismatches" (results that
 *                  differ from the first) and the first result
 *     --wait       before each pass after the first, wait for a line on
 *                  stdin (lets a test change the object in between)
 *   A PATH written N:PATH is only visited in pass N.
 *
 * stdout: one JSON object per pass: {"pass", "status", "etag", "size",
 * "paths": {PATH: {"type": "dataset", "shape", "values"} |
 * {"type": "group", "children": [{"name", "type"}...]}},
 * "s3_requests", "s3_bytes", "page_hits", "page_misses"}.
 * Exit status 0 on success, 1 on failure, 2 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <jansson.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "pagecache/h5s3_pagecache.h"
#include "hdf5/h5s3_h5_file.h"

static long max_values = 1000;

static void usage(void)
{
    fprintf(stderr, "usage: h5s3-h5cat [-c BYTES] [-p BYTES] [-n N] "
            "[-t SECONDS] [--prefetch] [--passes N] [--reopen] BUCKET KEY "
            "[PATH...]\n");
    exit(2);
}

static const char *type_name(H5O_type_t t)
{
    switch (t) {
    case H5O_TYPE_GROUP:
        return "group";
    case H5O_TYPE_DATASET:
        return "dataset";
    case H5O_TYPE_NAMED_DATATYPE:
        return "datatype";
    default:
        return "unknown";
    }
}

static apr_status_t dataset_json(json_t **out, hid_t d)
{
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d), mt = H5I_INVALID_HID;
    hsize_t dims[H5S_MAX_RANK];
    hssize_t n;
    json_t *o = json_object(), *shape = json_array(), *vals = json_array();
    apr_status_t rv = APR_SUCCESS;
    int rank, i;
    H5T_class_t cls;

    rank = H5Sget_simple_extent_dims(sp, dims, NULL);
    n = H5Sget_simple_extent_npoints(sp);
    cls = H5Tget_class(t);
    if (rank < 0 || n < 0) {
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
        goto cleanup;
    }
    for (i = 0; i < rank; i++) {
        json_array_append_new(shape, json_integer((json_int_t)dims[i]));
    }
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && n > 0) {
        double *v = malloc((size_t)n * sizeof(double));

        if (!v) {
            rv = APR_ENOMEM;
            goto cleanup;
        }
        if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                    v) < 0) {
            free(v);
            rv = h5s3_h5_request_status(H5S3_E_UNSUPPORTED);
            goto cleanup;
        }
        for (i = 0; i < n && i < max_values; i++) {
            json_array_append_new(vals, json_real(v[i]));
        }
        free(v);
    }
    else if (cls == H5T_STRING && n == 1 && H5Tis_variable_str(t) > 0) {
        char *s = NULL;

        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) < 0) {
            rv = h5s3_h5_request_status(H5S3_E_UNSUPPORTED);
            goto cleanup;
        }
        json_array_append_new(vals, json_string(s ? s : ""));
        H5free_memory(s);
    }

cleanup:
    if (mt >= 0) {
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Sclose(sp);
    json_object_set_new(o, "type", json_string("dataset"));
    json_object_set_new(o, "shape", shape);
    json_object_set_new(o, "values", vals);
    *out = o;
    return rv;
}

typedef struct list_ctx {
    json_t *children;
    apr_status_t rv;
} list_ctx;

static herr_t child_cb(hid_t g, const char *name, const H5L_info_t *info,
                       void *data)
{
    list_ctx *l = data;
    json_t *c = json_object();
    H5O_info_t oi;

    json_object_set_new(c, "name", json_string(name));
    if (info->type != H5L_TYPE_HARD) {
        json_object_set_new(c, "type", json_string("link"));
    }
    else if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC,
                                  H5P_DEFAULT) < 0) {
        l->rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
        json_decref(c);
        return -1;
    }
    else {
        json_object_set_new(c, "type", json_string(type_name(oi.type)));
    }
    json_array_append_new(l->children, c);
    return 0;
}

static apr_status_t path_json(json_t **out, h5s3_h5_file *f,
                              const char *path, int prefetch)
{
    hid_t fid = h5s3_h5_file_id(f), obj, g;
    H5O_info_t oi;
    list_ctx l;
    hsize_t idx = 0;
    apr_status_t rv;

    *out = NULL;
    if (H5Oget_info_by_name2(fid, path, &oi, H5O_INFO_BASIC,
                             H5P_DEFAULT) < 0) {
        return h5s3_h5_request_status(H5S3_E_NOPATH);
    }
    if (oi.type == H5O_TYPE_DATASET) {
        obj = H5Dopen2(fid, path, H5P_DEFAULT);
        if (obj < 0) {
            return h5s3_h5_request_status(H5S3_E_NOTHDF5);
        }
        rv = dataset_json(out, obj);
        H5Dclose(obj);
        return rv;
    }
    if (oi.type != H5O_TYPE_GROUP) {
        return H5S3_E_UNSUPPORTED;
    }
    if (prefetch) {
        rv = h5s3_h5_prefetch_group(f, path);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    g = H5Gopen2(fid, path, H5P_DEFAULT);
    if (g < 0) {
        return h5s3_h5_request_status(H5S3_E_NOPATH);
    }
    l.children = json_array();
    l.rv = APR_SUCCESS;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, child_cb, &l) < 0
        && l.rv == APR_SUCCESS) {
        l.rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
    }
    H5Gclose(g);
    *out = json_object();
    json_object_set_new(*out, "type", json_string("group"));
    json_object_set_new(*out, "children", l.children);
    return l.rv;
}

/* What every request of a run shares. */
typedef struct run_ctx {
    h5s3_s3_client *client;
    h5s3_h5_files *table;
    const char *bucket;
    const char *key;
    const char **paths;
    int npaths;
    int prefetch;
    apr_interval_time_t ttl;
} run_ctx;

/* One "request": open (or reuse) the file, visit the paths, release. */
static apr_status_t one_request(json_t **res, const run_ctx *x, int pass)
{
    h5s3_s3_call call;
    h5s3_h5_request rq;
    h5s3_h5_file *f = NULL;
    json_t *out = json_object(), *jpaths = json_object();
    apr_pool_t *p;
    apr_status_t rv;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    memset(&call, 0, sizeof(call));
    memset(&rq, 0, sizeof(rq));
    rq.call = &call;
    h5s3_result_init(&rq.result, p);
    h5s3_h5_request_begin(&rq);
    rv = h5s3_h5_file_open(&f, x->table, x->client, x->bucket, x->key,
                           x->ttl, &call, p);
    if (rv == APR_SUCCESS) {
        json_object_set_new(out, "etag", json_string(h5s3_h5_file_etag(f)));
        json_object_set_new(out, "size", json_integer(
                                (json_int_t)h5s3_h5_file_size(f)));
        for (i = 0; i < x->npaths && rv == APR_SUCCESS; i++) {
            const char *path = x->paths[i], *colon = strchr(path, ':');
            json_t *pj = NULL;

            if (colon && path[0] != '/') {
                if (atoi(path) != pass) {
                    continue;
                }
                path = colon + 1;
            }
            rv = path_json(&pj, f, path, x->prefetch);
            if (pj) {
                json_object_set_new(jpaths, path, pj);
            }
        }
        h5s3_h5_file_release(f);
    }
    h5s3_h5_request_end();
    json_object_set_new(out, "pass", json_integer(pass));
    json_object_set_new(out, "status", json_string(
        rv == APR_SUCCESS ? "ok" : h5s3_error_name(rv)));
    json_object_set_new(out, "paths", jpaths);
    json_object_set_new(out, "s3_requests", json_integer(call.requests));
    json_object_set_new(out, "s3_bytes", json_integer((json_int_t)call.bytes));
    json_object_set_new(out, "page_hits", json_integer(rq.page_hits));
    json_object_set_new(out, "page_misses", json_integer(rq.page_misses));
    apr_pool_destroy(p);
    *res = out;
    return rv;
}

/* --threads: many requests at once on the shared table and cache. */
typedef struct worker {
    const run_ctx *x;
    int pass;
    int iters;
    json_t *first;              /* first result */
    int failures;
    int mismatches;
    apr_uint64_t requests;
} worker;

static void *APR_THREAD_FUNC worker_main(apr_thread_t *t, void *data)
{
    worker *w = data;
    int i;

    for (i = 0; i < w->iters; i++) {
        json_t *r;

        if (one_request(&r, w->x, w->pass) != APR_SUCCESS) {
            w->failures++;
        }
        w->requests += json_integer_value(json_object_get(r, "s3_requests"));
        if (!w->first) {
            w->first = r;
            continue;
        }
        if (!json_equal(json_object_get(r, "paths"),
                        json_object_get(w->first, "paths"))) {
            w->mismatches++;
        }
        json_decref(r);
    }
    return NULL;
}

static apr_status_t threaded_pass(json_t **res, const run_ctx *x, int pass,
                                  int nthreads, int iters, apr_pool_t *p)
{
    apr_thread_t **th = apr_pcalloc(p, nthreads * sizeof(*th));
    worker *w = apr_pcalloc(p, nthreads * sizeof(*w));
    json_t *out;
    apr_status_t trv;
    apr_uint64_t requests = 0;
    int i, failures = 0, mismatches = 0, asked = nthreads;

    for (i = 0; i < nthreads; i++) {
        w[i].x = x;
        w[i].pass = pass;
        w[i].iters = iters;
        if (apr_thread_create(&th[i], NULL, worker_main, &w[i], p)
            != APR_SUCCESS) {
            failures++;         /* run with the threads that started */
            nthreads = i;
            break;
        }
    }
    for (i = 0; i < nthreads; i++) {
        apr_thread_join(&trv, th[i]);
    }
    out = w[0].first ? json_deep_copy(w[0].first) : json_object();
    for (i = 0; i < nthreads; i++) {
        failures += w[i].failures;
        mismatches += w[i].mismatches;
        requests += w[i].requests;
        if (w[i].first && !json_equal(json_object_get(w[i].first, "paths"),
                                      json_object_get(out, "paths"))) {
            mismatches++;
        }
        json_decref(w[i].first);
    }
    json_object_set_new(out, "threads", json_integer(asked));
    json_object_set_new(out, "requests_done",
                        json_integer(nthreads * iters));
    json_object_set_new(out, "failures", json_integer(failures));
    json_object_set_new(out, "mismatches", json_integer(mismatches));
    json_object_set_new(out, "s3_requests", json_integer(requests));
    if (failures || mismatches) {
        json_object_set_new(out, "status", json_string("inconsistent"));
    }
    *res = out;
    return failures || mismatches ? APR_EGENERAL : APR_SUCCESS;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool;
    h5s3_s3_config cfg;
    h5s3_s3_client *c;
    h5s3_pagecache *pc = NULL;
    h5s3_h5_files *table = NULL;
    apr_pool_t *table_pool = NULL;
    apr_size_t cache_size = 64 * 1024 * 1024, page = 65536;
    apr_interval_time_t ttl = apr_time_from_sec(30);
    int prefetch = 0, passes = 1, reopen = 0, wait = 0, pass, i;
    int failed = 0, nthreads = 1, iters = 1;
    run_ctx x;
    const char *bucket, *key, *v;
    const char **paths;
    int npaths;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--prefetch")) {
            prefetch = 1;
        }
        else if (!strcmp(argv[i], "--reopen")) {
            reopen = 1;
        }
        else if (!strcmp(argv[i], "--wait")) {
            wait = 1;
        }
        else if (i + 1 < argc && !strcmp(argv[i], "--threads")) {
            nthreads = atoi(argv[++i]);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "--iterations")) {
            iters = atoi(argv[++i]);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "--passes")) {
            passes = atoi(argv[++i]);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "-c")) {
            cache_size = (apr_size_t)apr_atoi64(argv[++i]);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "-p")) {
            page = (apr_size_t)apr_atoi64(argv[++i]);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "-n")) {
            max_values = atol(argv[++i]);
        }
        else if (i + 1 < argc && !strcmp(argv[i], "-t")) {
            ttl = apr_time_from_sec(atol(argv[++i]));
        }
        else {
            usage();
        }
    }
    if (argc - i < 2 || passes < 1 || nthreads < 1 || iters < 1) {
        usage();
    }
    bucket = argv[i];
    key = argv[i + 1];
    npaths = argc - i - 2;
    paths = (const char **)argv + i + 2;
    if (npaths == 0) {
        static const char *root[] = { "/" };

        paths = root;
        npaths = 1;
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.endpoint = getenv("H5S3_ENDPOINT");
    cfg.region = getenv("H5S3_REGION");
    cfg.access_key = getenv("H5S3_ACCESS_KEY");
    cfg.secret_key = getenv("H5S3_SECRET_KEY");
    cfg.virtual_host = (v = getenv("H5S3_VHOST")) && !strcmp(v, "1");
    if ((v = getenv("H5S3_TIMEOUT_MS"))) {
        cfg.total_timeout_ms = atol(v);
    }
    if (h5s3_s3_global_init() != APR_SUCCESS
        || h5s3_s3_client_create(&c, &cfg, pool) != APR_SUCCESS) {
        fprintf(stderr, "h5s3-h5cat: bad configuration (H5S3_ENDPOINT?)\n");
        return 2;
    }
    if (cache_size) {
        void *mem = apr_palloc(pool, cache_size);

        if (h5s3_pagecache_init(&pc, mem, cache_size, page, NULL, 1, pool)
            != APR_SUCCESS) {
            fprintf(stderr, "h5s3-h5cat: bad cache or page size\n");
            return 2;
        }
    }

    x.client = c;
    x.bucket = bucket;
    x.key = key;
    x.paths = paths;
    x.npaths = npaths;
    x.prefetch = prefetch;
    x.ttl = ttl;
    for (pass = 1; pass <= passes; pass++) {
        json_t *out;
        apr_status_t rv;

        if (wait && pass > 1) {
            char line[64];

            if (!fgets(line, sizeof(line), stdin)) {
                break;
            }
        }
        if (!table || reopen) {
            if (table_pool) {
                apr_pool_destroy(table_pool);   /* closes the files */
            }
            apr_pool_create(&table_pool, pool);
            if (h5s3_h5_files_create(&table, pc, 0, table_pool)
                != APR_SUCCESS) {
                fprintf(stderr, "h5s3-h5cat: HDF5 set-up failed\n");
                return 1;
            }
        }
        x.table = table;
        if (nthreads > 1) {
            rv = threaded_pass(&out, &x, pass, nthreads, iters, pool);
        }
        else {
            rv = one_request(&out, &x, pass);
        }
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(out);
        if (rv != APR_SUCCESS) {
            failed = 1;
        }
    }
    if (table_pool) {
        apr_pool_destroy(table_pool);
    }
    apr_pool_destroy(pool);
    return failed;
}
