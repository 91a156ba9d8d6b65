/*
 * h5s3-describe FILE PATH children|meta
 *
 * Opens a local HDF5 file through the module's own driver and page cache
 * (on a file fetch seam instead of S3, so what the module derives from
 * the raw bytes, such as the sizes of variable-length attributes, works
 * as in the server) and prints what the /children or /meta route would
 * put in its body, as compact JSON
 * with sorted keys and ASCII escapes (Flask's jsonify style).  Exit 0 on
 * success; otherwise prints the status name and exits 2 for a missing
 * path, 3 for anything else (1 for usage errors).
 */
#include <stdio.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_describe.h"
#include "hdf5/h5s3_h5_file.h"
#include "pagecache/h5s3_pagecache.h"

#define PAGE 4096
#define PAGES 4096

/* The fetch seam: ranges of the local file, read with pread. */
static apr_status_t file_fetch(void *baton, h5s3_s3_range *r, int n,
                               apr_pool_t *p)
{
    apr_file_t *f = baton;
    int i;

    (void)p;
    for (i = 0; i < n; i++) {
        apr_size_t got = r[i].len;
        apr_off_t off = r[i].offset;

        r[i].status = apr_file_seek(f, APR_SET, &off);
        if (r[i].status == APR_SUCCESS) {
            r[i].status = apr_file_read_full(f, r[i].buf, r[i].len, &got);
            if (r[i].status == APR_EOF) {
                r[i].status = APR_SUCCESS;
            }
        }
        r[i].got = got;
        if (r[i].status != APR_SUCCESS) {
            return r[i].status;
        }
    }
    return APR_SUCCESS;
}

/* Open path through the S3 driver, its bytes read from the local file. */
static hid_t open_local(h5s3_h5_source *src, const char *path,
                        apr_pool_t *pool)
{
    apr_size_t seg = h5s3_pagecache_segment_size(PAGE, PAGES);
    h5s3_pagecache *cache;
    apr_finfo_t fi;
    apr_file_t *f;
    hid_t fid = H5I_INVALID_HID;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS
        || h5s3_pagecache_init(&cache, apr_pcalloc(pool, seg), seg, PAGE,
                               NULL, 1, pool) != APR_SUCCESS) {
        return H5I_INVALID_HID;
    }
    memset(src, 0, sizeof(*src));
    src->cache = cache;
    src->name = path;
    src->obj.size = fi.size;
    src->obj.fetch = file_fetch;
    src->obj.baton = f;
    h5s3_pagecache_fingerprint(src->obj.fp, "local", "", path, "");
    if (h5s3_h5_vfd_open(&fid, src, 0) != APR_SUCCESS) {
        return H5I_INVALID_HID;
    }
    return fid;
}

int main(int argc, char **argv)
{
    apr_pool_t *pool = NULL;
    apr_status_t rv;
    json_t *out = NULL;
    h5s3_h5_source src;
    hid_t file;
    int code = 3;

    if (argc != 4
        || (strcmp(argv[3], "children") && strcmp(argv[3], "meta"))) {
        fprintf(stderr, "usage: %s FILE PATH children|meta\n", argv[0]);
        return 1;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    apr_initialize();
    apr_pool_create(&pool, NULL);
    h5s3_h5_global_init();
    file = open_local(&src, argv[1], pool);
    if (file < 0) {
        printf("%s\n", h5s3_error_name(H5S3_E_NOTHDF5));
        goto done;
    }
    if (strcmp(argv[3], "children") == 0)
        rv = h5s3_h5_children(&out, file, argv[2], pool);
    else
        rv = h5s3_h5_meta(&out, file, argv[2], pool);
    H5Fclose(file);
    if (rv != APR_SUCCESS) {
        printf("%s\n", h5s3_error_name(rv));
        code = rv == H5S3_E_NOPATH ? 2 : 3;
        goto done;
    }
    if (json_dumpf(out, stdout, JSON_SORT_KEYS | JSON_COMPACT
                   | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) < 0)
        goto done;
    printf("\n");
    code = 0;
done:
    if (out)
        json_decref(out);
    apr_pool_destroy(pool);
    apr_terminate();
    return code;
}
