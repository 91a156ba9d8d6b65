/*
 * Numbers as text, fast: the shortest decimal digits that read back as
 * the same double (or float) (json/shortest_digits.c), laid out as
 * Python's repr() does (json/number_text.c), and whole numeric arrays
 * written as JSON text in one pass, with no per-value allocation and no
 * HDF5 call per element (json/number_arrays.c; docs/viewer-api.md §0.1,
 * §3.3).
 */
#ifndef H5S3_JSON_NUMBERS_H
#define H5S3_JSON_NUMBERS_H

#include <apr.h>
#include <apr_errno.h>
#include <hdf5.h>

/* Room for the text of any one number written here, NUL included. */
#define H5S3_NUM_TEXT_MAX 32

/* Largest array text h5s3_json_numbers builds (H5S3_E_TOOLARGE past it). */
#define H5S3_JSON_NUMBERS_MAX_BYTES ((apr_size_t)512 * 1024 * 1024)

/*
 * Shortest digits D (no trailing zeros) with |V| = D * 10^*EXP10 that
 * read back as V, the one nearest V when several are as short (what
 * Python's repr and Ryu choose).  V finite; 0 gives D = 0, *EXP10 = 0.
 * Returns the number of digits of D.
 */
int h5s3_num_shortest(apr_uint64_t *d, int *exp10, double v);

/* The same for a float: digits that read back as V through strtof. */
int h5s3_num_shortest_f(apr_uint64_t *d, int *exp10, float v);

/* The number of decimal digits of V (1 for 0). */
int h5s3_num_digits(apr_uint64_t v);

/* Layout flags of h5s3_num_py_format. */
#define H5S3_NUM_DOT0 1         /* integral values end in ".0" (repr) */
#define H5S3_NUM_SIGN 2         /* always a sign: "+1.5", "+nan" */

/*
 * Python's format of a double in 'r' mode into BUF (H5S3_NUM_TEXT_MAX
 * bytes), returning the length: "0.1", "1e-05", "1e+16", "nan", "-inf";
 * with H5S3_NUM_DOT0 it is repr(): "1.0".
 */
apr_size_t h5s3_num_py_format(char *buf, double v, int flags);

/* repr(float(V)): h5s3_num_py_format(buf, v, H5S3_NUM_DOT0). */
apr_size_t h5s3_num_py_repr(char *buf, double v);

/*
 * C's "%.<P>g" with P the least of 15, 16, 17 whose text reads back as V,
 * then ".0" when the text has neither '.' nor an exponent: the h5grove
 * encoder's float text ("1e+16", "0.1", "100.0").  V finite.
 */
apr_size_t h5s3_num_g_double(char *buf, double v);

/* The same for a float, P from 6 to 9 and read back through strtof. */
apr_size_t h5s3_num_g_float(char *buf, float v);

/* Decimal text of an integer. */
apr_size_t h5s3_num_i64(char *buf, apr_int64_t v);
apr_size_t h5s3_num_u64(char *buf, apr_uint64_t v);

/* Element types h5s3_json_numbers writes (native byte order). */
typedef enum {
    H5S3_NUM_I8, H5S3_NUM_I16, H5S3_NUM_I32, H5S3_NUM_I64,
    H5S3_NUM_U8, H5S3_NUM_U16, H5S3_NUM_U32, H5S3_NUM_U64,
    H5S3_NUM_F32, H5S3_NUM_F64, H5S3_NUM_FLD,   /* FLD: long double */
    H5S3_NUM_B8, H5S3_NUM_B16, H5S3_NUM_B32, H5S3_NUM_B64  /* bools */
} h5s3_num_type;

/* Bytes of one element of type T. */
apr_size_t h5s3_num_type_size(h5s3_num_type t);

/*
 * The values of type T at BUF as JSON text, nested RANK deep per DIMS
 * (RANK 0: one bare value), as Python's json.dumps(a.tolist()) after the
 * viewer's sanitiser writes them: floats as repr() of the double they
 * widen to, NaN and infinities null, bools true/false, integers exact.
 * *OUT is malloc'ed (the caller frees it), *LEN its length; BUF may be
 * NULL when a dim is 0.  APR_ENOMEM, or H5S3_E_TOOLARGE over
 * H5S3_JSON_NUMBERS_MAX_BYTES.
 */
apr_status_t h5s3_json_numbers(char **out, apr_size_t *len, h5s3_num_type t,
                               const void *buf, int rank,
                               const hsize_t *dims);

#endif
