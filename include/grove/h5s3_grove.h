/*
 * The h5grove-compatible API (h5grove 4.0, as H5Web's H5GroveProvider
 * uses it: docs/h5grove.md): selections, entity JSON, value
 * encodings (json, bin, npy, csv, tiff) and statistics, from an open
 * HDF5 file.  No httpd here: the glue (glue/routes/grove.c) maps the statuses
 * to HTTP and res's detail to the {"message": ...} body.
 *
 * Status conventions: H5S3_E_NOPATH (404, "<path> is not a valid path in
 * <file>"), H5S3_E_NOTFOUND with a detail (404, "Cannot resolve ..."),
 * H5S3_E_INVALID with a detail (422), H5S3_E_UNSUPPORTED with a detail
 * (422), H5S3_E_TOOLARGE with a detail (413).
 */
#ifndef H5S3_GROVE_H
#define H5S3_GROVE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <hdf5.h>
#include <jansson.h>

#include "base/h5s3_result.h"
#include "hdf5/h5s3_h5_read.h"

struct h5s3_h5_file;

/* Caps: JSON and CSV are text, bounded by elements; binary encodings by
 * bytes (one read buffer); statistics stream, bounded by elements read. */
#define H5S3_GROVE_MAX_ELEMENTS       1000000
#define H5S3_GROVE_MAX_BYTES          H5S3_H5_MAX_READ_BYTES
#define H5S3_GROVE_STATS_MAX_ELEMENTS 200000000
#define H5S3_GROVE_STATS_BLOCK        (1 << 20)
/* Children of a group whose /meta/ is stored in the cache ahead. */
#define H5S3_GROVE_MAX_AHEAD          2000

/* ---- growable byte buffer (malloc'ed, freed with its pool) ------------ */

typedef struct h5s3_grove_buf {
    char *data;
    apr_size_t len;
    apr_size_t cap;
    int oom;                    /* an append failed: contents incomplete */
} h5s3_grove_buf;

/* A new empty buffer in P; its data is freed when P is cleared. */
h5s3_grove_buf *h5s3_grove_buf_make(apr_pool_t *p);
void h5s3_grove_buf_add(h5s3_grove_buf *b, const void *s, apr_size_t n);
void h5s3_grove_buf_puts(h5s3_grove_buf *b, const char *s);

/* ---- selection ("0,:,:", "1:10:2", truncated, negative indices) ------- */

typedef struct h5s3_grove_sel {
    int ndim;                           /* rank of the dataset */
    hsize_t start[H5S3_H5_RANK_MAX];
    hsize_t stride[H5S3_H5_RANK_MAX];
    hsize_t count[H5S3_H5_RANK_MAX];
    int out_ndim;                       /* rank of the result */
    hsize_t out_dims[H5S3_H5_RANK_MAX];
    hsize_t nelem;
} h5s3_grove_sel;

/*
 * h5grove's parse_slice + h5py indexing: TEXT (NULL or "" = everything)
 * holds comma-separated members, each an integer (negative counts from
 * the end; the dim is dropped) or start:stop[:step] (parts may be empty;
 * step >= 1; bounds clamped like Python slices).  Fewer members than
 * NDIM select the rest whole.  H5S3_E_INVALID, told in res, otherwise.
 */
apr_status_t h5s3_grove_sel_parse(h5s3_grove_sel *sel, h5s3_result *res,
                                  const char *text, int ndim,
                                  const hsize_t *shape, apr_pool_t *p);

/* ---- JSON text as orjson writes it ----------------------------------- */

/* Shortest round-trip repr ("0.1", "1.0", "1e+100"); null if not finite. */
void h5s3_grove_put_double(h5s3_grove_buf *b, double v);
void h5s3_grove_put_float(h5s3_grove_buf *b, float v);
/* A JSON string of N bytes, invalid UTF-8 dropped. */
void h5s3_grove_put_string(h5s3_grove_buf *b, const char *s, apr_size_t n);

/*
 * Values of native memory type MT at BUF as JSON: RANK 0 is one value,
 * else lists nested per DIMS.  Complex numbers are [re, im], bool enums
 * true/false, other enums their integer, compounds lists, strings and
 * opaque bytes decoded, references h5py's str().  FLAT_ARRAYS writes the
 * elements of a top-level array type inline (np.ravel of h5py's result).
 */
void h5s3_grove_values_json(h5s3_grove_buf *b, hid_t mt, const void *buf,
                            int rank, const hsize_t *dims, int flat_arrays);

/* ---- binary encodings ------------------------------------------------- */

/* The .npy v1.0 header for DESCR ("<f4", "|b1") and the shape. */
void h5s3_grove_npy_header(h5s3_grove_buf *b, const char *descr, int rank,
                           const hsize_t *dims);

/* np.savetxt(delimiter=",") of N doubles (rank 1: one per line; rank 2:
 * rows); complex as " (re+imj)" when IM is given. */
void h5s3_grove_csv(h5s3_grove_buf *b, const double *re, const double *im,
                    int rank, const hsize_t *dims);

/* A baseline little-endian TIFF header for ROWS x COLS samples of numpy
 * kind KIND ('u', 'i', 'f') and SIZE bytes, the pixels following it. */
void h5s3_grove_tiff_header(h5s3_grove_buf *b, char kind, int size,
                            hsize_t rows, hsize_t cols);

/* ---- entities --------------------------------------------------------- */

typedef enum {
    H5S3_GROVE_LINKS_ONLY_VALID = 0,
    H5S3_GROVE_LINKS_NONE,
    H5S3_GROVE_LINKS_ALL
} h5s3_grove_links;

/* resolve_links: none|only_valid|all (also true/false, any case);
 * NULL = only_valid.  H5S3_E_INVALID with h5grove's message. */
apr_status_t h5s3_grove_links_parse(h5s3_grove_links *out, h5s3_result *res,
                                    const char *raw, apr_pool_t *p);

/* h5grove's hdf_path_join. */
const char *h5s3_grove_path_join(const char *prefix, const char *name,
                                 apr_pool_t *p);

/* One precomputed child /meta/ answer (children that are not groups). */
typedef struct h5s3_grove_ahead {
    const char *path;
    const char *json;
} h5s3_grove_ahead;

/*
 * GET /meta/: the entity JSON text of PATH (NULL = "/") in FILE_NAME's
 * open file FID.  AHEAD (may be NULL) receives, for a group, the /meta/
 * answers of its non-group children (only_valid), so the glue can cache
 * them before H5Web asks.
 */
apr_status_t h5s3_grove_meta(char **json, h5s3_result *res,
                             apr_array_header_t **ahead, hid_t fid,
                             const char *file_name, const char *path,
                             h5s3_grove_links links, apr_pool_t *p);

/* GET /attr/: {name: value}; KEYS (may be NULL = all) in their order. */
apr_status_t h5s3_grove_attr(char **json, h5s3_result *res, hid_t fid,
                             const char *file_name, const char *path,
                             const apr_array_header_t *keys, apr_pool_t *p);

/* GET /paths/: the group's path, then every link below it (H5Lvisit). */
apr_status_t h5s3_grove_paths(char **json, h5s3_result *res, hid_t fid,
                              const char *file_name, const char *path,
                              h5s3_grove_links links, apr_pool_t *p);

/* ---- values ----------------------------------------------------------- */

typedef struct h5s3_grove_data_opts {
    const char *selection;      /* NULL: all */
    const char *format;         /* NULL: json */
    const char *dtype;          /* NULL: origin */
    int flatten;
} h5s3_grove_data_opts;

/* An encoded /data/ answer: HEAD (text, or the npy/tiff header) then RAW
 * (malloc'ed values, freed with the pool; may be NULL). */
typedef struct h5s3_grove_payload {
    const char *ctype;
    const char *disposition;    /* NULL or the Content-Disposition */
    h5s3_grove_buf *head;
    const void *raw;
    apr_size_t raw_len;
} h5s3_grove_payload;

/* parse_bool_arg: absent = FALLBACK; anything but "false" (any case) is
 * true. */
int h5s3_grove_bool_arg(const char *raw, int fallback);

apr_status_t h5s3_grove_data(h5s3_grove_payload *out, h5s3_result *res,
                             hid_t fid, struct h5s3_h5_file *f,
                             const char *file_name, const char *path,
                             const h5s3_grove_data_opts *o, apr_pool_t *p);

/* GET /stats/: {strict_positive_min, positive_min, min, max, mean, std}
 * over the finite values of the selection, read in bounded blocks. */
apr_status_t h5s3_grove_stats(char **json, h5s3_result *res, hid_t fid,
                              struct h5s3_h5_file *f, const char *file_name,
                              const char *path, const char *selection,
                              apr_pool_t *p);

#endif
