/*
 * HDF5 values as JSON that is always valid: the sanitisation rules of the
 * HDF Viewer API (docs/viewer-api.md §3.3): non-finite floats become null, bytes are
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

#include "json/h5s3_json_numbers.h"
#include "json/h5s3_text.h"

#include "hdf5/h5s3_h5_vlen.h"

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

#include "hdf5/h5s3_h5_read.h"

/* N elements at BUF as JSON (RANK 0-2 nesting, dims as given). */
apr_status_t h5s3_h5_buf_json(json_t **out, const h5s3_h5_dset *d,
                              const void *buf, int rank, const hsize_t *dims,
                              apr_pool_t *p);

/*
 * h5s3_h5_buf_json for payloads dumped with
 * h5s3_json_dump: plain numbers (h5s3_h5_num_type) are written straight
 * to text and put in the tree as h5s3_json_raw placeholders, so the tree
 * must be dumped with P; other types go through h5s3_h5_buf_json.
 */
apr_status_t h5s3_h5_buf_json_raw(json_t **out, const h5s3_h5_dset *d,
                                  const void *buf, int rank,
                                  const hsize_t *dims, apr_pool_t *p);

/* The value of an open attribute as JSON (null for a null dataspace).
 * LOC is the object the attribute is attached to. */
apr_status_t h5s3_h5_attr_value(json_t **out, hid_t loc, hid_t attr,
                                apr_pool_t *p);

#endif
