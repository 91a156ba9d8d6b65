/*
 * HDF5 values as JSON that is always valid: the sanitisation rules of the
 * HDF Viewer contract (§3.3): non-finite floats become null, bytes are
 * decoded as UTF-8 dropping invalid sequences, complex numbers are
 * Python's str() ("(1+2j)"), compound records become lists, enums their
 * integer (bool enums true/false), references the referenced path.
 */
#ifndef H5S3_H5_VALUES_H
#define H5S3_H5_VALUES_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>

#include "h5s3_json_numbers.h"

/* Attributes larger than this many elements are not expanded. */
#define H5S3_H5_MAX_ATTR_ELEMENTS 500000

/* Does type t hold variable-length data (sequences or strings)? */
int h5s3_h5_type_has_vlen(hid_t t);

/*
 * Before H5Aread of attribute attr (n elements, memory type mt): charge
 * the variable-length bytes the read will allocate
 * (H5S3_H5_LIMIT_VLEN_BYTES; H5S3_E_LIMIT over it), known from the
 * lengths stored with the attribute (h5s3_h5_attr_vlen_bytes).  When
 * they cannot be known, a single element is read (one heap object, no
 * repetition): *after is set, charge it after reading with
 * h5s3_h5_attr_vlen_charge_read; more is H5S3_E_UNSUPPORTED (N elements
 * could all point at one object).
 */
apr_status_t h5s3_h5_attr_vlen_charge(hid_t attr, hid_t mt, hsize_t n,
                                      int *after);
void h5s3_h5_attr_vlen_charge_read(hid_t mt, const void *buf, hsize_t n);

/* A JSON number, or null when V is NaN or infinite. */
json_t *h5s3_h5_json_finite(double v);

/* A JSON string of the N bytes at S decoded as UTF-8 with Python's
 * errors='ignore' (invalid sequences dropped). */
json_t *h5s3_h5_json_utf8(const char *s, size_t n);

/* S with invalid UTF-8 dropped (errors='ignore'), for names and keys:
 * jansson refuses invalid UTF-8. */
const char *h5s3_h5_utf8_clean(const char *s, apr_pool_t *p);

/* Python repr(float(V)): "0.1", "1e-05", "inf", "nan", "1.0". */
const char *h5s3_h5_py_float_repr(double v, apr_pool_t *p);

/* Python str(complex(RE, IM)): "(1+2j)", "1j", "(nan+0j)", "(-0-1j)". */
const char *h5s3_h5_py_complex_str(double re, double im, apr_pool_t *p);

/* The in-memory type to read a file type with: native layout, every
 * class kept (strings, references, opaque, enums, vlen, arrays).
 * Returns a new type id or a negative value.  Close with H5Tclose. */
hid_t h5s3_h5_mem_type(hid_t file_type);

/* NELEM elements of memory type MTYPE at BUF as JSON.  RANK/DIMS give
 * the nesting (RANK 0: one bare value).  LOC is any object of the file,
 * used to name referenced objects. */
apr_status_t h5s3_h5_values_json(json_t **out, hid_t loc, hid_t mtype,
                                 const void *buf, int rank,
                                 const hsize_t *dims, apr_pool_t *p);

/* Is MT a plain number type: integer, bitfield, float of 4, 8 or
 * sizeof(long double) bytes, an enum (h5py bools: bool)?  Its element
 * type for h5s3_json_numbers in *T. */
int h5s3_h5_num_type(h5s3_num_type *t, hid_t mt);

struct h5s3_h5_dset;

/*
 * h5s3_h5_buf_json (h5s3_h5_read.h) for payloads dumped with
 * h5s3_json_dump: plain numbers (h5s3_h5_num_type) are written straight
 * to text and put in the tree as h5s3_json_raw placeholders, so the tree
 * must be dumped with P; other types go through h5s3_h5_buf_json.
 */
apr_status_t h5s3_h5_buf_json_raw(json_t **out, const struct h5s3_h5_dset *d,
                                  const void *buf, int rank,
                                  const hsize_t *dims, apr_pool_t *p);

/* The value of an open attribute as JSON (null for a null dataspace).
 * LOC is the object the attribute is attached to. */
apr_status_t h5s3_h5_attr_value(json_t **out, hid_t loc, hid_t attr,
                                apr_pool_t *p);

#endif
