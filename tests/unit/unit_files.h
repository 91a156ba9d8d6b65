/*
 * Local files standing in for S3 objects, for the tests of the page
 * cache and of HDF5 (part of tests/unit/libunit.la, with unit_common.h):
 * a fetch seam that reads a local file and counts what it is asked, a
 * page cache in the test's pool, an HDF5 source over both, and temporary
 * HDF5 files written with the C API.
 */
#ifndef UNIT_FILES_H
#define UNIT_FILES_H

#include <hdf5.h>
#include <apr_pools.h>

#include "pagecache/h5s3_pagecache.h"
#include "hdf5/io/h5s3_h5_io.h"

/* The fetch seam's state: a local file and what it was asked.  The
 * counters are updated atomically (threads share one seam). */
typedef struct unit_file_src {
    int fd;
    apr_status_t fail;          /* != 0: fetches fail with this ... */
    int fail_after;             /* ... > 0: only those after this many */
    apr_uint32_t calls;         /* fetches */
    apr_uint32_t ranges;        /* ranges asked, over every fetch */
    apr_uint64_t bytes;         /* bytes read */
    apr_uint32_t last_n;        /* ranges of the last fetch */
    apr_size_t last_len0;       /* length of its first range */
} unit_file_src;

/* An h5s3_pagecache_fetch_fn: baton is a unit_file_src. */
apr_status_t unit_file_fetch(void *baton, h5s3_s3_range *r, int n,
                             apr_pool_t *p);

/* obj is the file at path (opened into a zeroed *fs, the test fails when
 * it cannot be), its size the file's, fetched by unit_file_fetch and
 * keyed in the page cache by key and etag. */
void unit_file_object(h5s3_pagecache_object *obj, unit_file_src *fs,
                      const char *path, const char *key, const char *etag);

/* A page cache of `pages` pages of page_size bytes, in the test's pool,
 * shared by no other process. */
h5s3_pagecache *unit_heap_cache(apr_size_t page_size, apr_uint32_t pages);

/* src is the file at path read through pc (keyed by path): what
 * h5s3_h5_vfd_open takes.  fs counts the fetches; close fs->fd after. */
void unit_h5_source(h5s3_h5_source *src, unit_file_src *fs,
                    const char *path, h5s3_pagecache *pc);

/* unit_setup, then h5s3_h5_global_init (the driver registered). */
void unit_setup_h5_io(void);

/* A new HDF5 file in /tmp, created for writing; its name goes to path
 * (UNIT_TEMP_PATH bytes).  H5Fclose and unlink it when done. */
#define UNIT_TEMP_PATH 64
hid_t unit_h5_temp_file(char *path);

#endif
