/*
 * The filters of a dataset: their names (our table of registered ids
 * first, then HDF5's) and the list the HDF Viewer API reports.
 */
#ifndef H5S3_H5_FILTERS_H
#define H5S3_H5_FILTERS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>

/* Filters of a dataset creation property list, as the HDF Viewer reports
 * them: FILTERS gets the list (gzip/lzf/szip first, then shuffle, then
 * fletcher32, then any other filter, e.g. plugins, with its real id);
 * *COMPRESSION gets "gzip", "lzf", "szip" or NULL (h5py's rule);
 * *COMPRESSION_OPTS gets the gzip level, ["nn"|"ec", pixels] for szip,
 * or NULL.  Any output may be NULL when not wanted. */
apr_status_t h5s3_h5_filters(json_t **filters, const char **compression,
                             json_t **compression_opts, hid_t dcpl,
                             apr_pool_t *p);

/* A filter's short name: our table of registered ids first ("gzip",
 * "lz4", "blosc", "bzip2", "zstd", ...), then HDF5's name, then
 * "filter_<id>". */
const char *h5s3_h5_filter_name(H5Z_filter_t id, const char *hdf5_name,
                                apr_pool_t *p);

/* The first filter of DCPL that HDF5 cannot apply on this server (its
 * plugin is missing): 1, with its id in *ID and its short name
 * (h5s3_h5_filter_name) in *NAME; 0 when every filter is available. */
int h5s3_h5_filter_missing(H5Z_filter_t *id, const char **name, hid_t dcpl,
                           apr_pool_t *p);

#endif
