/*
 * HDF5 reading, its part of the module state (h5s3_module_state.hdf5):
 * the page cache segment (anonymous shared memory made before the
 * children fork, so every process maps the same pages) and, per child,
 * the table of open files, the memory budget and the decode threads.
 */
#include <apr_shm.h>
#include <util_mutex.h>

#include "glue/h5s3_glue.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "pagecache/h5s3_pagecache.h"

APLOG_USE_MODULE(h5s3);

#define MUTEX_TYPE "h5s3-pagecache"

/* This part of the module state (glue/h5s3_glue.h). */
static h5s3_hdf5_state *const hs = &h5s3_module_state.hdf5;

apr_status_t h5s3_hdf5_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t h5s3_hdf5_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_size_t size = h5s3_conf_page_cache_size(&h5s3_module_state.conf);
    apr_status_t rv;

    rv = h5s3_mutex_create(&hs->mutex, NULL, MUTEX_TYPE, s, pconf,
                           "H5S3-0040", "page cache");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_shm_create(&hs->segment, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0041: cannot "
                     "create %" APR_SIZE_T_FMT " bytes of shared memory for "
                     "H5S3PageCache", size);
        return rv;
    }
    rv = h5s3_pagecache_init(&hs->page_cache,
                             apr_shm_baseaddr_get(hs->segment),
                             apr_shm_size_get(hs->segment),
                             H5S3_PAGECACHE_DEFAULT_PAGE, hs->mutex, 1,
                             pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0042: cannot "
                     "format the page cache");
        return rv;
    }
    return h5s3_h5_global_init();
}

apr_status_t h5s3_hdf5_child_init(apr_pool_t *pchild, server_rec *s)
{
    const h5s3_global_conf *gc = &h5s3_module_state.conf;
    apr_status_t rv;

    /* One memory budget and one pool of decode threads per process,
     * whatever the number of requests (or threads) it serves. */
    h5s3_h5_mem_budget_set(h5s3_conf_memory_budget(gc));
    h5s3_h5_fetch_parallel_set(h5s3_conf_fetch_parallel(gc));
    rv = h5s3_h5_decode_threads_init(h5s3_conf_decode_threads(gc), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "H5S3-0044: cannot "
                     "start the chunk decode threads; requests decode "
                     "alone");
    }
    if (hs->segment == NULL) {
        return APR_SUCCESS;
    }
    rv = apr_global_mutex_child_init(&hs->mutex,
                                     apr_global_mutex_lockfile(hs->mutex),
                                     pchild);
    if (rv == APR_SUCCESS) {
        /* Re-attach: the child's mutex handle may differ from the parent's. */
        rv = h5s3_pagecache_init(&hs->page_cache,
                                 apr_shm_baseaddr_get(hs->segment),
                                 apr_shm_size_get(hs->segment),
                                 H5S3_PAGECACHE_DEFAULT_PAGE, hs->mutex, 0,
                                 pchild);
    }
    if (rv == APR_SUCCESS) {
        rv = h5s3_h5_files_create(&hs->files, hs->page_cache,
                                  H5S3_H5_DEFAULT_MAX_FILES, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "H5S3-0043: cannot set "
                     "up HDF5 reading in this process");
        hs->files = NULL;
    }
    return rv;
}
