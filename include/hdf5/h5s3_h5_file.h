/*
 * HDF5 files in S3, read in place: the per-process table of open files,
 * validated by ETag, and fetching ahead for an open file.  The driver,
 * requests and budgets are in include/hdf5/io, our readers of the
 * on-disk format in include/hdf5/format.
 */
#ifndef H5S3_H5_FILE_H
#define H5S3_H5_FILE_H

#include <hdf5.h>
#include <apr_pools.h>
#include <apr_time.h>
#include "s3/h5s3_s3.h"
#include "pagecache/h5s3_pagecache.h"
#include "hdf5/io/h5s3_h5_io.h"
#include "hdf5/format/h5s3_h5_format.h"

/* ---- the per-process table of open S3 files ---------------------------- */

typedef struct h5s3_h5_files h5s3_h5_files;
typedef struct h5s3_h5_file h5s3_h5_file;

#define H5S3_H5_DEFAULT_MAX_FILES 32
#define H5S3_H5_DEFAULT_OPEN_READ (128 * 1024)

/*
 * One per process (child_init).  cache may be NULL.  At most max_files
 * files are kept open; the least recently used unreferenced one is closed
 * beyond that.  Files are closed when p is destroyed.
 */
apr_status_t h5s3_h5_files_create(h5s3_h5_files **table,
                                  h5s3_pagecache *cache, int max_files,
                                  apr_pool_t *p);

/*
 * How many bytes from offset 0 opening a file reads first, or 0 when the
 * table has no page cache.  A caller that reads them itself (e.g. a
 * ranged GET that also tells the ETag and size, instead of a HEAD) hands
 * them to h5s3_h5_files_seed, so the open that follows sends no request.
 */
apr_size_t h5s3_h5_files_open_read(const h5s3_h5_files *table);

/* Cache [0, len) of s3://bucket/key, read by client c, at info's ETag
 * and size. */
void h5s3_h5_files_seed(h5s3_h5_files *table, h5s3_s3_client *c,
                        const char *bucket,
                        const char *key, const h5s3_s3_object_info *info,
                        const char *buf, apr_size_t len);

/* Close every file nobody holds; returns how many stay open. */
int h5s3_h5_files_flush(h5s3_h5_files *table);

/*
 * Open s3://bucket/key, or reuse the open file when its ETag was checked
 * less than validate_ttl ago (then no S3 request at all).  Older than
 * that, a HEAD revalidates it; a changed ETag opens the new object (pages
 * of the old one are keyed by the old ETag and never found again).  The
 * client must live as long as the table (it is part of the file's key).
 * call receives the HEAD; page reads are charged to the current request's
 * call, or to call when no request is current (NULL: the current
 * request's for both).  p is only used for scratch.  Release the file
 * with h5s3_h5_file_release.  Errors: H5S3_E_NOTFOUND, H5S3_E_NOTHDF5,
 * or the S3 status of the HEAD or of a read.
 */
apr_status_t h5s3_h5_file_open(h5s3_h5_file **f, h5s3_h5_files *table,
                               h5s3_s3_client *c, const char *bucket,
                               const char *key,
                               apr_interval_time_t validate_ttl,
                               h5s3_s3_call *call, apr_pool_t *p);

/*
 * The same, when the caller already knows the object's current ETag and
 * size (it validated them within validate_ttl, e.g. through a cache shared
 * by processes): no HEAD is sent.  known may be NULL.
 */
apr_status_t h5s3_h5_file_open_known(h5s3_h5_file **f, h5s3_h5_files *table,
                                     h5s3_s3_client *c, const char *bucket,
                                     const char *key,
                                     apr_interval_time_t validate_ttl,
                                     const h5s3_s3_object_info *known,
                                     h5s3_s3_call *call, apr_pool_t *p);

/*
 * Done with the file.  A file whose read failed is dropped from the table
 * and closed once its last holder releases it.
 */
void h5s3_h5_file_release(h5s3_h5_file *f);

hid_t h5s3_h5_file_id(const h5s3_h5_file *f);
const char *h5s3_h5_file_etag(const h5s3_h5_file *f);
apr_off_t h5s3_h5_file_size(const h5s3_h5_file *f);
h5s3_h5_source *h5s3_h5_file_source(h5s3_h5_file *f);

/* ---- fetching ahead for an open file ----------------------------------- */

/* h5s3_h5_prefetch_ranges_src on the file's source. */
apr_status_t h5s3_h5_prefetch_ranges(h5s3_h5_file *f,
                                     const apr_off_t *offsets,
                                     const apr_size_t *lens, int n);

/* h5s3_h5_prefetch_group_src for the whole group (every child). */
apr_status_t h5s3_h5_prefetch_group(h5s3_h5_file *f, const char *path);

/* The same for one page of the group: from the offset-th link in h5py's
 * order, at most limit (0: all). */
apr_status_t h5s3_h5_prefetch_group_page(h5s3_h5_file *f, const char *path,
                                         hsize_t offset, hsize_t limit);

#endif
