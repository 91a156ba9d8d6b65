/*
 * CSV export (docs/viewer-api.md §1.9): a buffered writer with the
 * contract's cell rules (quoting, formula-injection guard that leaves
 * plain numbers alone), file names, and the streamed export of a matrix
 * window or of a line with compare datasets, in constant memory.
 */
#ifndef H5S3_CSV_H
#define H5S3_CSV_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <hdf5.h>
#include "base/h5s3_result.h"

struct h5s3_h5_file;

#define H5S3_CSV_MAX_CELLS   10000000
#define H5S3_CSV_MAX_POINTS  5000000
#define H5S3_CSV_MAX_COMPARE 4
#define H5S3_CSV_FLUSH       (64 * 1024)
/* Elements decoded at once while streaming (bounds process memory). */
#define H5S3_CSV_BUDGET_BYTES (8 * 1024 * 1024)

/* Where the bytes go (the glue: ap_rwrite). */
typedef apr_status_t h5s3_csv_write_fn(void *baton, const char *buf,
                                       apr_size_t len);

typedef struct h5s3_csv_out {
    char *buf;
    apr_size_t len;
    apr_size_t cap;
    h5s3_csv_write_fn *write;
    void *baton;
    apr_status_t status;        /* first write failure: stop */
    apr_uint64_t total;         /* bytes handed to write */
} h5s3_csv_out;

apr_status_t h5s3_csv_out_init(h5s3_csv_out *o, h5s3_csv_write_fn *w,
                               void *baton);
void h5s3_csv_out_free(h5s3_csv_out *o);
/* Raw bytes (separators, line ends). */
void h5s3_csv_put(h5s3_csv_out *o, const char *s, apr_size_t n);
/* One cell: '-prefixed when it starts (after spaces) with = + - @ and is
 * not a plain number; quoted when it holds , " CR or LF. */
void h5s3_csv_cell(h5s3_csv_out *o, const char *s, apr_size_t n);
apr_status_t h5s3_csv_flush(h5s3_csv_out *o);

/* A decimal number as Python's float()/int() would read it, nothing else
 * (no spaces, no inf/nan). */
int h5s3_csv_is_plain_number(const char *s, apr_size_t n);

/* One file name segment: characters other than alphanumerics and -_.
 * become _, then _ is stripped from both ends; FALLBACK when empty. */
const char *h5s3_csv_segment(const char *s, const char *fallback,
                             apr_pool_t *p);
/* "<file>_<path>_<mode>_full.csv" */
const char *h5s3_csv_filename(const char *key, const char *path,
                              const char *mode, apr_pool_t *p);

/* Python repr(float) into BUF (>= 32 bytes); returns the length. */
apr_size_t h5s3_csv_float(char *buf, double v);

/* ---- the export -------------------------------------------------------- */

typedef struct h5s3_h5_csv h5s3_h5_csv;

/*
 * Validate everything (mode given lower-cased by h5s3_h5_data_mode) and
 * open what the export reads: errors here are JSON responses, nothing has
 * been written yet.  H5S3_E_INVALID / H5S3_E_NOPATH / H5S3_E_UNSUPPORTED,
 * res's detail saying what was wrong.
 */
apr_status_t h5s3_h5_csv_prepare(h5s3_h5_csv **out, h5s3_result *res,
                                 hid_t fid, struct h5s3_h5_file *f,
                                 const char *key, const char *path,
                                 const char *mode, apr_table_t *args,
                                 apr_pool_t *p);

const char *h5s3_h5_csv_name(const h5s3_h5_csv *c);

/* Write the whole CSV (BOM, header, rows) through W. */
apr_status_t h5s3_h5_csv_stream(h5s3_h5_csv *c, h5s3_csv_write_fn *w,
                                void *baton);

#endif
