/*
 * h5s3-describe FILE PATH children|meta
 *
 * Opens a local HDF5 file with the default (sec2) driver and prints what
 * the /children or /meta route would put in its body, as compact JSON
 * with sorted keys and ASCII escapes (Flask's jsonify style).  Exit 0 on
 * success; otherwise prints the status name and exits 2 for a missing
 * path, 3 for anything else (1 for usage errors).
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "h5s3_errors.h"
#include "h5s3_h5_describe.h"

int main(int argc, char **argv)
{
    apr_pool_t *pool = NULL;
    apr_status_t rv;
    json_t *out = NULL;
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
    file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        printf("%s\n", h5s3_status_name(H5S3_E_NOTHDF5));
        goto done;
    }
    if (strcmp(argv[3], "children") == 0)
        rv = h5s3_h5_children(&out, file, argv[2], pool);
    else
        rv = h5s3_h5_meta(&out, file, argv[2], pool);
    H5Fclose(file);
    if (rv != APR_SUCCESS) {
        printf("%s\n", h5s3_status_name(rv));
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
