/*
 * An HDF5 file as a read-only Zarr v2 store (docs/zarr.md): the
 * consolidated metadata of the whole file (.zgroup, .zarray and .zattrs of
 * every group and dataset), and one chunk of a dataset, either as its
 * stored bytes (when the filter pipeline has an exact numcodecs
 * equivalent) or decoded by HDF5.  The pure parts (dtype strings, codecs,
 * chunk keys, the spelling of numbers) are separate so the unit tests
 * check them without a file.
 */
#ifndef H5S3_ZARR_H
#define H5S3_ZARR_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>
#include "base/h5s3_result.h"

/* Synthetic chunks of contiguous datasets: whole rows, at most this. */
#define H5S3_ZARR_CONTIG_CHUNK_BYTES (4 * 1024 * 1024)
/* Groups nested deeper than this are left out of the store. */
#define H5S3_ZARR_MAX_DEPTH 64
#define H5S3_ZARR_RANK_MAX 32

/* ---- pure parts ---------------------------------------------------------- */

/* A double as Zarr writes it in JSON: a number, or "NaN", "Infinity",
 * "-Infinity". */
json_t *h5s3_zarr_real(double v);

/*
 * How a dataset's elements are sent: the Zarr dtype (a typestr such as
 * ">f8", or a list [[name, typestr], ...] for compounds), the HDF5 type
 * chunks are read as (the file's layout and byte order, compounds packed),
 * the size of one element in a chunk (0 for vlen strings).
 */
typedef struct h5s3_zarr_type {
    json_t *dtype;
    hid_t mtype;
    size_t size;
    int vlen_str;
    char kind;                  /* NumPy kind: i u f b S c V O */
} h5s3_zarr_type;

/* The type of file type FTYPE; H5S3_E_UNSUPPORTED with the reason in res
 * ("reference data", "opaque data", ...) when Zarr v2 cannot hold it.
 * Close with h5s3_zarr_type_close. */
apr_status_t h5s3_zarr_type_of(h5s3_zarr_type *t, h5s3_result *res,
                               hid_t ftype);
void h5s3_zarr_type_close(h5s3_zarr_type *t);

/*
 * One filter of an HDF5 pipeline, as read from a creation property list:
 * its id and client values.  The numcodecs codecs of the pipeline go to
 * *filters (a list, or null) and *compressor (an object, or null) when
 * each filter has an exact equivalent in the same order (shuffles, then at
 * most one of deflate, bzip2, blosc); returns 1 then (passthrough), else
 * 0 with both null (the server decodes).  elem is the element size.
 */
typedef struct h5s3_zarr_filter {
    H5Z_filter_t id;
    size_t ncd;
    unsigned cd[8];
} h5s3_zarr_filter;
int h5s3_zarr_codecs(json_t **filters, json_t **compressor,
                     const h5s3_zarr_filter *f, int n, size_t elem);

/*
 * The chunk key "i.j.k" of an array of rank dims (a scalar's only key is
 * "0") into idx, each index below grid[k] (chunks along dim k).
 * H5S3_E_INVALID when malformed (detail says why), H5S3_E_NOPATH when an
 * index is past the grid.
 */
apr_status_t h5s3_zarr_chunk_key(hsize_t *idx, h5s3_result *res,
                                 const char *key, int rank,
                                 const hsize_t *grid);

/* Rows of a synthetic chunk of a contiguous dataset whose rows hold
 * row_bytes each: as many as fit H5S3_ZARR_CONTIG_CHUNK_BYTES, at least 1,
 * at most rows (at least 1). */
hsize_t h5s3_zarr_contig_rows(hsize_t rows, apr_uint64_t row_bytes);

/*
 * n strings as numcodecs' VLenUTF8 encodes them: a little-endian uint32
 * count, then each string's uint32 length and bytes (NULL is "").
 * H5S3_E_TOOLARGE past 4 GiB.
 */
apr_status_t h5s3_zarr_vlen_utf8(char **out, apr_size_t *len,
                                 char *const *strs, apr_uint64_t n,
                                 apr_pool_t *p);

/*
 * Re-encoding the decoded bytes of a chunk stored with some filters
 * skipped, so it reads with its array's .zarray codecs (docs/zarr.md):
 * numcodecs' shuffle of len bytes of elem-byte elements into out (len
 * bytes); a zlib stream of stored (uncompressed) deflate blocks, which
 * every zlib decoder reads, of *out bytes for len bytes (H5S3_E_TOOLARGE
 * past apr_size_t), and writing it to out, returning its length.
 */
void h5s3_zarr_shuffle(char *out, const char *in, apr_size_t len,
                       size_t elem);
apr_status_t h5s3_zarr_zlib_stored_size(apr_size_t *out, apr_size_t len);
apr_size_t h5s3_zarr_zlib_stored(char *out, const char *in, apr_size_t len);

/* Attribute names the store does not show (netCDF and dimension scale
 * bookkeeping). */
int h5s3_zarr_attr_hidden(const char *name);

/* ---- a file ---------------------------------------------------------------- */

/*
 * The consolidated metadata of file fid: {"zarr_consolidated_format": 1,
 * "metadata": {...}} (docs/zarr.md).  Every link listed spends the
 * request's entries budget.
 */
apr_status_t h5s3_zarr_metadata(json_t **out, h5s3_result *res, hid_t fid,
                                apr_pool_t *p);

/*
 * n zeroed bytes charged to the process's memory budget
 * (h5s3_h5_mem_reserve), given back when p is cleared: H5S3_E_BUSY over
 * the budget, APR_ENOMEM when malloc fails.
 */
apr_status_t h5s3_zarr_charged_alloc(char **out, apr_size_t n, apr_pool_t *p);

/* One chunk: either a byte range of the object (passthrough), or bytes. */
typedef struct h5s3_zarr_chunk {
    int passthrough;
    apr_off_t offset;           /* object offset of the stored bytes */
    apr_size_t size;
    char *buf;                  /* decoded, in p */
    apr_size_t len;
} h5s3_zarr_chunk;

/*
 * Chunk KEY of the dataset at PATH (HDF5 path) of file fid, whose object
 * is file_size bytes.  H5S3_E_INVALID / H5S3_E_NOPATH for the key
 * (h5s3_zarr_chunk_key), H5S3_E_NOTFOUND with detail for an unallocated
 * chunk, H5S3_E_UNSUPPORTED for what the store cannot serve.
 */
apr_status_t h5s3_zarr_chunk_get(h5s3_zarr_chunk *out, h5s3_result *res,
                                 hid_t fid, const char *path,
                                 const char *key, apr_off_t file_size,
                                 apr_pool_t *p);

#endif
