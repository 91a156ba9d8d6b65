/*
 * The S3 virtual file driver for HDF5 1.10: a read-only H5FD class whose
 * reads go through the page cache, plus the per-thread request context
 * the driver charges its traffic to (open files are shared by requests).
 */
#include <stdlib.h>
#include <string.h>

#include "hdf5/io/h5s3_h5_io.h"
#include "base/h5s3_errors.h"
#include "base/h5s3_log.h"
#include "base/h5s3_once.h"

/* What H5Pset_driver stores in a file access property list. */
typedef struct vfd_fapl {
    h5s3_h5_source *src;
} vfd_fapl;

typedef struct vfd_file {
    H5FD_t pub;                 /* must come first: HDF5 casts */
    h5s3_h5_source *src;
    haddr_t eoa;
} vfd_file;

#define VFD_MAXADDR ((haddr_t)(((apr_uint64_t)1 << 62) - 1))

static hid_t driver_id = H5I_INVALID_HID;
static apr_status_t init_rv = APR_SUCCESS;
static h5s3_once init_once = H5S3_ONCE_INIT;

/*
 * The request current on this thread: HDF5 calls the driver with no
 * context of ours, so this is how a read finds the request to charge and
 * to tell its failure.  A read outside any request (a tool, a test) keeps
 * its failure in tl_unreported instead, until it is asked for.
 */
static __thread h5s3_h5_request *cur_rq;
static __thread apr_status_t tl_unreported;
static __thread int tl_silenced;

/* ---- request context --------------------------------------------------- */

void h5s3_h5_request_begin(h5s3_h5_request *rq)
{
    h5s3_h5_thread_init();
    cur_rq = rq;
    rq->unreported = APR_SUCCESS;
    tl_unreported = APR_SUCCESS;
}

void h5s3_h5_request_end(void)
{
    cur_rq = NULL;
    tl_unreported = APR_SUCCESS;
}

h5s3_h5_request *h5s3_h5_request_current(void)
{
    return cur_rq;
}

/* Where the failure of the HDF5 call under way is kept. */
static apr_status_t *unreported(void)
{
    return cur_rq ? &cur_rq->unreported : &tl_unreported;
}

apr_status_t h5s3_h5_request_status(apr_status_t fallback)
{
    apr_status_t *u = unreported(), rv = *u;

    *u = APR_SUCCESS;
    if (rv == APR_SUCCESS && cur_rq
        && cur_rq->result.status == H5S3_E_LIMIT) {
        rv = H5S3_E_LIMIT;      /* HDF5 failed because a budget ran out */
    }
    return rv != APR_SUCCESS ? rv : fallback;
}

/* ---- driver callbacks -------------------------------------------------- */

static void *vfd_fapl_copy(const void *old)
{
    vfd_fapl *fa = malloc(sizeof(*fa));

    if (fa) {
        *fa = *(const vfd_fapl *)old;
    }
    return fa;
}

static herr_t vfd_fapl_free(void *fa)
{
    free(fa);
    return 0;
}

static void *vfd_fapl_get(H5FD_t *file)
{
    vfd_fapl fa;

    fa.src = ((vfd_file *)file)->src;
    return vfd_fapl_copy(&fa);
}

static H5FD_t *vfd_open(const char *name, unsigned flags, hid_t fapl,
                        haddr_t maxaddr)
{
    const vfd_fapl *fa;
    vfd_file *f;

    if (flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC
                 | H5F_ACC_EXCL)) {
        return NULL;            /* objects in S3 are read-only here */
    }
    fa = H5Pget_driver_info(fapl);
    if (!fa || !fa->src) {
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    if (!f) {
        return NULL;
    }
    f->src = fa->src;
    return &f->pub;
}

static herr_t vfd_close(H5FD_t *file)
{
    free(file);
    return 0;
}

/* Two opens of one source are the same file; other sources never are. */
static int vfd_cmp(const H5FD_t *a, const H5FD_t *b)
{
    const h5s3_h5_source *x = ((const vfd_file *)a)->src;
    const h5s3_h5_source *y = ((const vfd_file *)b)->src;

    return x < y ? -1 : x > y;
}

static herr_t vfd_query(const H5FD_t *file, unsigned long *flags)
{
    if (flags) {
        *flags = H5FD_FEAT_DATA_SIEVE | H5FD_FEAT_ACCUMULATE_METADATA_READ;
    }
    return 0;
}

static haddr_t vfd_get_eoa(const H5FD_t *file, H5FD_mem_t type)
{
    return ((const vfd_file *)file)->eoa;
}

static herr_t vfd_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr)
{
    ((vfd_file *)file)->eoa = addr;
    return 0;
}

static haddr_t vfd_get_eof(const H5FD_t *file, H5FD_mem_t type)
{
    return (haddr_t)((const vfd_file *)file)->src->obj.size;
}

static herr_t vfd_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl,
                       haddr_t addr, size_t size, void *buf)
{
    vfd_file *f = (vfd_file *)file;
    h5s3_h5_request *rq = cur_rq;
    h5s3_pagecache_counts counts = {0};
    apr_status_t rv;

    if (addr == HADDR_UNDEF || size > VFD_MAXADDR || addr > VFD_MAXADDR
        || addr + size > f->eoa) {
        return -1;
    }
    /* HDF5's own reads (index nodes, heaps, data) spend the budget too. */
    rv = h5s3_h5_charge(H5S3_H5_LIMIT_READ_BYTES, size);
    if (rv != APR_SUCCESS) {
        f->src->failed = 1;     /* HDF5 saw a failed read: start afresh */
        *unreported() = rv;
        return -1;
    }
    rv = h5s3_pagecache_read(f->src->cache, &f->src->obj, (apr_off_t)addr,
                             size, buf, &counts);
    if (rq) {
        rq->page_hits += counts.hits;
        rq->page_misses += counts.misses;
    }
    if (rv != APR_SUCCESS) {
        /* HDF5 only learns "read failed": keep the reason for the caller,
         * and mark the file so it is not handed to the next request. */
        f->src->failed = 1;
        *unreported() = rv;
        if (rq) {
            h5s3_result_status(&rq->result, rv);
        }
        /* APR's formatter knows APR_UINT64_T_FMT, not %llu or %zu. */
        h5s3_log(H5S3_LOG_INFO, rv, "h5s3 driver: read of %s at %"
                 APR_UINT64_T_FMT "+%" APR_SIZE_T_FMT " failed",
                 f->src->name ? f->src->name : "?", (apr_uint64_t)addr,
                 (apr_size_t)size);
        return -1;
    }
    return 0;
}

static herr_t vfd_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl,
                        haddr_t addr, size_t size, const void *buf)
{
    return -1;
}

/* H5Fget_vfd_handle: the source, for readers of the file's own bytes. */
static herr_t vfd_get_handle(H5FD_t *file, hid_t fapl, void **handle)
{
    (void)fapl;
    *handle = ((vfd_file *)file)->src;
    return 0;
}

static const H5FD_class_t vfd_class = {
    "h5s3",                     /* name */
    VFD_MAXADDR,                /* maxaddr */
    H5F_CLOSE_STRONG,           /* fc_degree */
    NULL,                       /* terminate */
    NULL, NULL, NULL,           /* sb_size, sb_encode, sb_decode */
    sizeof(vfd_fapl),           /* fapl_size */
    vfd_fapl_get,
    vfd_fapl_copy,
    vfd_fapl_free,
    0, NULL, NULL,              /* dxpl_size, dxpl_copy, dxpl_free */
    vfd_open,
    vfd_close,
    vfd_cmp,
    vfd_query,
    NULL,                       /* get_type_map */
    NULL, NULL,                 /* alloc, free */
    vfd_get_eoa,
    vfd_set_eoa,
    vfd_get_eof,
    vfd_get_handle,
    vfd_read,
    vfd_write,
    NULL, NULL,                 /* flush, truncate */
    NULL, NULL,                 /* lock, unlock */
    H5FD_FLMAP_DICHOTOMY
};

h5s3_h5_source *h5s3_h5_source_of(hid_t obj)
{
    hid_t fid = H5Iget_file_id(obj), fapl;
    void *handle = NULL;
    int ours;

    if (fid < 0) {
        return NULL;
    }
    fapl = H5Fget_access_plist(fid);
    ours = fapl >= 0 && driver_id != H5I_INVALID_HID
           && H5Pget_driver(fapl) == driver_id;
    if (fapl >= 0) {
        H5Pclose(fapl);
    }
    if (!ours || H5Fget_vfd_handle(fid, H5P_DEFAULT, &handle) < 0) {
        handle = NULL;
    }
    H5Fclose(fid);              /* H5Iget_file_id's reference only */
    return handle;
}

/* ---- process and thread set-up ---------------------------------------- */

void h5s3_h5_thread_init(void)
{
    if (!tl_silenced) {
        /* The switch is per thread in a thread-safe build. */
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        tl_silenced = 1;
    }
}

/* The library and our driver, once per process (init_rv: how it went). */
static void init_hdf5(void)
{
    if (H5open() < 0) {
        init_rv = H5S3_E_UNSUPPORTED;
        return;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    driver_id = H5FDregister(&vfd_class);
    if (driver_id < 0) {
        init_rv = H5S3_E_UNSUPPORTED;
    }
}

apr_status_t h5s3_h5_global_init(void)
{
    apr_status_t rv = h5s3_once_run(&init_once, init_hdf5);

    h5s3_h5_thread_init();
    return rv != APR_SUCCESS ? rv : init_rv;
}

hid_t h5s3_h5_driver_id(void)
{
    return driver_id;
}

/* ---- opening ---------------------------------------------------------- */

apr_status_t h5s3_h5_vfd_open(hid_t *fid, h5s3_h5_source *src,
                              apr_size_t open_read)
{
    h5s3_pagecache_counts counts = {0};
    h5s3_h5_request *rq = cur_rq;
    vfd_fapl fa;
    hid_t fapl = H5I_INVALID_HID;
    apr_off_t off0 = 0;
    apr_size_t len0;
    apr_status_t rv;

    *fid = H5I_INVALID_HID;
    rv = h5s3_h5_global_init();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *unreported() = APR_SUCCESS;
    if (src->obj.size < 8) {
        return H5S3_E_NOTHDF5;  /* shorter than the signature */
    }
    /* One request for the superblock and, usually, the root group's
     * metadata, before HDF5 takes its global lock and reads piecemeal. */
    len0 = open_read;
    if ((apr_off_t)len0 > src->obj.size) {
        len0 = (apr_size_t)src->obj.size;
    }
    rv = h5s3_pagecache_prefetch(src->cache, &src->obj, &off0, &len0, 1,
                                 &counts);
    if (rq) {
        rq->page_hits += counts.hits;
        rq->page_misses += counts.misses;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }

    fa.src = src;
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_driver(fapl, driver_id, &fa) < 0
        || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        rv = H5S3_E_UNSUPPORTED;
        goto cleanup;
    }
    *fid = H5Fopen(src->name ? src->name : "h5s3", H5F_ACC_RDONLY, fapl);
    if (*fid < 0) {
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
    }

cleanup:
    if (fapl >= 0) {
        H5Pclose(fapl);
    }
    return rv;
}
