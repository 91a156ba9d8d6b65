/*
 * Bounded reads of dataset values: strided hyperslabs of any rank, with
 * the chunks (or, for contiguous data, the byte ranges) they touch
 * fetched concurrently into the page cache before HDF5 decodes them, so
 * a slice costs one parallel batch of S3 requests, not one per chunk.
 * Also the checks that turn unreadable data (missing filter plugin,
 * references, opaque, oversized chunks) into a clear 422.
 */
#ifndef H5S3_H5_READ_H
#define H5S3_H5_READ_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>
#include "base/h5s3_result.h"


/*
 * The plane of an N-d dataset a read shows: its row and column dims and
 * the fixed index of every other dim.  The viewer picks it from
 * display_dims and fixed_indices (include/viewer/h5s3_h5_select.h).
 */
#define H5S3_H5_RANK_MAX 32     /* H5S_MAX_RANK */

typedef struct h5s3_h5_sel {
    int ndim;
    hsize_t shape[H5S3_H5_RANK_MAX];
    int row_dim;                /* display_dims[0]; -1 when ndim < 2 */
    int col_dim;                /* display_dims[1] */
    hsize_t index[H5S3_H5_RANK_MAX];  /* fixed index of non-display dims */
    int given[H5S3_H5_RANK_MAX];      /* index came from fixed_indices */
} h5s3_h5_sel;

struct h5s3_h5_file;

/* Caps that bound what one request may allocate. */
#define H5S3_H5_MAX_READ_BYTES  (128 * 1024 * 1024)  /* one read buffer */
#define H5S3_H5_MAX_CHUNK_BYTES (256 * 1024 * 1024)  /* one decoded chunk */
#define H5S3_H5_MAX_PREFETCH_CHUNKS 65536
/* Attributes larger than this many elements are not expanded. */
#define H5S3_H5_MAX_ATTR_ELEMENTS 500000

/* Debian's filter plugins (lz4, bzip2, blosc). */
#define H5S3_H5_PLUGIN_DIR "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

/* What the values of a dataset are, for the numeric code paths. */
typedef enum {
    H5S3_H5_KIND_NUMERIC = 0,   /* integer or float (incl. float16) */
    H5S3_H5_KIND_BOOL,          /* h5py bool enum */
    H5S3_H5_KIND_COMPLEX,       /* h5py complex compound */
    H5S3_H5_KIND_OTHER          /* strings, compounds, enums, arrays ... */
} h5s3_h5_kind;

typedef struct h5s3_h5_dset {
    hid_t did;
    hid_t ftype;
    hid_t mtype;                /* native memory type (h5s3_h5_mem_type) */
    size_t msize;
    int ndim;
    hsize_t shape[H5S3_H5_RANK_MAX];
    hsize_t nelem;
    const char *dtype;          /* str(np.dtype) */
    h5s3_h5_kind kind;
    H5D_layout_t layout;
    hsize_t chunk[H5S3_H5_RANK_MAX];
    int empty_space;            /* H5S_NULL dataspace */
    apr_off_t base;             /* user block size */
    struct h5s3_h5_file *file;  /* for prefetch; NULL: HDF5 reads alone */
    const char *path;
} h5s3_h5_dset;

/*
 * Point HDF5 at the filter plugins (H5PLappend, once per process; an
 * HDF5_PLUGIN_PATH of the environment keeps its precedence).
 */
void h5s3_h5_plugins_init(void);

/*
 * Open the dataset at PATH.  H5S3_E_NOPATH when it does not exist,
 * H5S3_E_INVALID (detail "Path '<p>' is not a dataset") for another object.
 * F (may be NULL) is used for prefetch.  Closed when P is cleared.
 */
apr_status_t h5s3_h5_dset_open(h5s3_h5_dset **out, h5s3_result *res,
                               hid_t fid, struct h5s3_h5_file *f,
                               const char *path, apr_pool_t *p);

/*
 * Can its values be read and served?  H5S3_E_UNSUPPORTED, the detail naming
 * the missing filter or the unservable type (reference, opaque), or a
 * chunk too large to decode within the caps.
 */
apr_status_t h5s3_h5_dset_readable(const h5s3_h5_dset *d, h5s3_result *res,
                                   apr_pool_t *p);

/* Numeric for plots and stats: numbers, bool and complex (NumPy's view). */
int h5s3_h5_kind_numeric(h5s3_h5_kind k);

/*
 * Read the hyperslab start/stride/count (one per dim; count may be 0)
 * into *buf (malloc'ed, of d->mtype, C order, NULL when empty), after
 * prefetching what it touches.  H5S3_E_TOOLARGE over the read cap.
 * Free with h5s3_h5_buf_free.
 */
apr_status_t h5s3_h5_read(void **buf, const h5s3_h5_dset *d,
                          const hsize_t *start, const hsize_t *stride,
                          const hsize_t *count);

/*
 * A strided window of the selected plane, rows following sel->row_dim
 * (transposed when the row dim comes after the column dim): *buf holds
 * rcount x ccount elements, row-major.
 */
apr_status_t h5s3_h5_read_plane(void **buf, const h5s3_h5_dset *d,
                                const h5s3_h5_sel *sel,
                                hsize_t r0, hsize_t rstep, hsize_t rcount,
                                hsize_t c0, hsize_t cstep, hsize_t ccount);

/*
 * COUNT elements along dim VARY from OFF by STEP, every other dim at
 * POS[dim].
 */
apr_status_t h5s3_h5_read_line(void **buf, const h5s3_h5_dset *d,
                               const hsize_t *pos, int vary, hsize_t off,
                               hsize_t step, hsize_t count);

void h5s3_h5_buf_free(const h5s3_h5_dset *d, void *buf, hsize_t n);

struct h5s3_h5_chunks;
struct h5s3_h5_source;

/*
 * The hyperslab start/stride/count of d decoded without HDF5: c holds
 * every chunk it touches; their stored bytes are read through src (the
 * file's source: its page cache), the filters undone (deflate, shuffle)
 * by a few threads outside HDF5's global lock, the selected elements
 * copied into out
 * (count[] in C order, d->msize bytes each).  H5S3_E_UNSUPPORTED when
 * the type or a filter is not one decoded here (use H5Dread); any other
 * failure also means: use H5Dread.
 */
apr_status_t h5s3_h5_decode_chunks(void *out, const h5s3_h5_dset *d,
                                   struct h5s3_h5_source *src,
                                   const struct h5s3_h5_chunks *c,
                                   const hsize_t *start,
                                   const hsize_t *stride,
                                   const hsize_t *count);

/*
 * The process's pool of decode threads: at most n run at once whatever
 * the number of requests (H5S3DecodeThreads; the glue calls this in
 * child_init).  Made with the default size on first use otherwise.  A
 * request's own thread decodes too, so it needs no pool thread to
 * progress.  The pool goes with p.
 */
#define H5S3_H5_DEFAULT_DECODE_THREADS 4
apr_status_t h5s3_h5_decode_threads_init(int n, apr_pool_t *p);

/* Values of d->mtype at BUF as doubles (NaN where there is no number). */
void h5s3_h5_to_double(double *out, const h5s3_h5_dset *d, const void *buf,
                       hsize_t n);


/* The selection a request asked for is too large: the status to use. */
#define H5S3_H5_JSON_MAX_ELEMENTS 500000

#endif
