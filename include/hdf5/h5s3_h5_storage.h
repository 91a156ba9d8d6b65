/*
 * Where a dataset keeps its raw data, and refusing what lives outside the
 * object.  HDF5 can keep raw data in "external files" (H5Pset_external)
 * or map it from other datasets and files (virtual datasets); HDF5 then
 * opens those by name on the local file system.  A file in a bucket is
 * untrusted input, so its values are never read through either: the
 * layout and the names are described as facts, nothing is opened.
 */
#ifndef H5S3_H5_STORAGE_H
#define H5S3_H5_STORAGE_H

#include <apr_pools.h>
#include <hdf5.h>
#include <jansson.h>
#include "base/h5s3_result.h"

/*
 * APR_SUCCESS when the values of the dataset with creation property list
 * dcpl are stored in the file itself; H5S3_E_UNSUPPORTED, the detail
 * naming the reason ("external raw data storage", "virtual dataset") and
 * the dataset path, otherwise.
 */
apr_status_t h5s3_h5_storage_check(h5s3_result *res, hid_t dcpl,
                                   const char *path, apr_pool_t *p);

/*
 * Add "layout" ("compact", "contiguous", "chunked", "external" or
 * "virtual") to o, and for external storage "external_files" (name,
 * offset, size of each segment), for a virtual dataset "virtual_sources"
 * (file and dataset names of each mapping); at most 64 listed, with
 * "external_file_count" / "virtual_source_count" when there are more.
 */
void h5s3_h5_storage_json(json_t *o, hid_t dcpl, apr_pool_t *p);

/* The chunk shape of a chunked layout as a JSON list of integers; NULL
 * for another layout, a DCPL < 0 or a shape HDF5 cannot tell. */
json_t *h5s3_h5_chunks_json(hid_t dcpl);

#endif
