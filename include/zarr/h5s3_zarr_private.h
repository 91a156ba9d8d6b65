/*
 * What the metadata walk (zarr/store.c) and the chunk reader
 * (zarr/chunk.c) share: one answer for a dataset's chunk shape and codecs,
 * so the .zarray a client reads and the chunks it gets always agree.
 */
#ifndef H5S3_ZARR_PRIVATE_H
#define H5S3_ZARR_PRIVATE_H

#include "zarr/h5s3_zarr.h"

/*
 * The Zarr chunk shape of dataset did (creation list dcpl, type t, shape)
 * into chunk, its codecs (json null or the lists) and whether chunks go as
 * stored (*passthrough); *layout is HDF5's.  H5S3_E_UNSUPPORTED, the
 * reason in res, when the chunking cannot be read or chunks must be
 * decoded by a filter this server does not have.
 */
apr_status_t h5s3_zarr_layout(h5s3_result *res, hsize_t *chunk, json_t **filters,
                              json_t **compressor, int *passthrough,
                              H5D_layout_t *layout, hid_t did, hid_t dcpl,
                              const h5s3_zarr_type *t, int rank,
                              const hsize_t *shape);

/* A fill value of t's layout at b as Zarr v2 spells it in .zarray; a u8
 * above 2^63 is a raw number of p (h5s3_json_raw): dump it with p. */
json_t *h5s3_zarr_fill_json(const unsigned char *b, const h5s3_zarr_type *t,
                            apr_pool_t *p);

#endif
