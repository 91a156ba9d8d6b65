/*
 * Mutated HDF5 files opened through the S3 driver (on a memory fetch
 * seam and a small page cache), then described and previewed the way
 * /children, /meta and /preview do.  HDF5 1.10 itself is not built for
 * hostile files: what it may allocate is bounded by the run options
 * (ASan max_allocation_size_mb, libFuzzer -rss_limit_mb), see
 * scripts/fuzz.sh and tests/fuzz/known-issues/README.md.
 */
#include <stdio.h>
#include "fuzz_common.h"
#include "h5s3_errors.h"
#include "h5s3_h5_describe.h"
#include "h5s3_h5_file.h"
#include "h5s3_h5_view.h"
#include "h5s3_pagecache.h"

#define PAGE 4096
#define MAX_CHILDREN 16
#define MAX_PREVIEWS 4

typedef struct { const uint8_t *data; size_t size; } mem_src;

static h5s3_pagecache *cache;
static unsigned long generation;

/* The fetch seam: ranges of the input, zeros past its end. */
static apr_status_t mem_fetch(void *baton, h5s3_s3_range *r, int n,
                              apr_pool_t *p)
{
    mem_src *m = baton;
    int i;

    for (i = 0; i < n; i++) {
        apr_size_t got = 0;

        if (r[i].offset >= 0 && (apr_uint64_t)r[i].offset < m->size) {
            got = m->size - (apr_size_t)r[i].offset;
            if (got > r[i].len)
                got = r[i].len;
            memcpy(r[i].buf, m->data + r[i].offset, got);
        }
        r[i].got = got;
        r[i].status = APR_SUCCESS;
    }
    return APR_SUCCESS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_size_t segsize = h5s3_pagecache_segment_size(PAGE, 256);

    fuzz_apr_init();
    if (h5s3_h5_global_init() != APR_SUCCESS
        || h5s3_pagecache_init(&cache, apr_pcalloc(fuzz_root, segsize),
                               segsize, PAGE, NULL, 1, fuzz_root)
           != APR_SUCCESS) {
        fprintf(stderr, "fuzz_h5_open: set-up failed\n");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    mem_src m = { data, size };
    h5s3_h5_source src;
    char etag[32];
    hid_t fid = -1;
    json_t *kids = NULL, *meta = NULL;
    size_t i, previews = 0;

    memset(&src, 0, sizeof(src));
    src.cache = cache;
    src.name = "s3://fuzz/input.h5";
    src.obj.size = (apr_off_t)size;
    src.obj.fetch = mem_fetch;
    src.obj.baton = &m;
    /* A new "ETag" per input: pages of earlier inputs are never found. */
    snprintf(etag, sizeof(etag), "%lu", ++generation);
    h5s3_pagecache_fingerprint(src.obj.fp, "", "fuzz", "input.h5", etag);

    if (h5s3_h5_vfd_open(&fid, &src, PAGE * 2) != APR_SUCCESS)
        goto done;
    h5s3_h5_prefetch_group_src(fid, &src, "/");
    if (h5s3_h5_meta(&meta, fid, "/", p) == APR_SUCCESS)
        json_decref(meta);
    if (h5s3_h5_children(&kids, fid, "/", p) != APR_SUCCESS)
        goto done;
    for (i = 0; i < json_array_size(kids) && i < MAX_CHILDREN; i++) {
        json_t *kid = json_array_get(kids, i);
        const char *path = json_string_value(json_object_get(kid, "path"));
        const char *type = json_string_value(json_object_get(kid, "type"));
        json_t *sub = NULL;

        if (!path)
            continue;
        if (h5s3_h5_meta(&meta, fid, path, p) == APR_SUCCESS)
            json_decref(meta);
        if (type && strcmp(type, "group") == 0
            && h5s3_h5_children(&sub, fid, path, p) == APR_SUCCESS)
            json_decref(sub);
        if (type && strcmp(type, "dataset") == 0
            && previews++ < MAX_PREVIEWS) {
            h5s3_h5_preview_opts o;
            const char *err = NULL;
            apr_table_t *args = apr_table_make(p, 1);
            json_t *pv = NULL;

            if (h5s3_h5_preview_opts_parse(&o, &err, args, p)
                == APR_SUCCESS
                && h5s3_h5_preview(&pv, &err, fid, NULL, path, &o, p)
                   == APR_SUCCESS)
                json_decref(pv);
        }
    }
    json_decref(kids);
done:
    if (fid >= 0)
        H5Fclose(fid);
    apr_pool_destroy(p);
    return 0;
}
