/*
 * The HDF Viewer's /files listing: a recursive S3 listing turned into file
 * and folder rows (docs/viewer-api.md §1.3).  Pure logic plus one paging
 * loop over the S3 client.
 */
#ifndef H5S3_LISTING_H
#define H5S3_LISTING_H

#include <apr_pools.h>
#include <jansson.h>
#include "s3/h5s3_s3.h"

#define H5S3_LISTING_MAX_ITEMS_DEFAULT 20000
#define H5S3_LISTING_MAX_ITEMS_LIMIT 50000

typedef struct h5s3_listing h5s3_listing;

/* prefix: as the client gave it, already stripped of surrounding blanks. */
h5s3_listing *h5s3_listing_create(const char *prefix, int include_folders,
                                  int max_items, apr_pool_t *p);

/* The prefix to send to S3 (leading '/' removed). */
const char *h5s3_listing_s3_prefix(const h5s3_listing *l);

/* Add one S3 entry in listing order; returns 1 once max_items files are in. */
int h5s3_listing_add(h5s3_listing *l, const h5s3_s3_entry *e);

/*
 * The response fields: files (files then folders), count, files_count,
 * folders_count, truncated, include_folders, max_items, prefix.  The
 * caller adds success and cached.
 */
json_t *h5s3_listing_result(h5s3_listing *l);

/* Page through S3 (ListObjectsV2, 1000 at a time) until full or done. */
apr_status_t h5s3_listing_fetch(json_t **out, h5s3_s3_client *c,
                                const char *bucket, const char *prefix,
                                int include_folders, int max_items,
                                h5s3_s3_call *call, apr_pool_t *p);

#endif
