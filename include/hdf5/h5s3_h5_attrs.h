/*
 * The attributes of an open object as h5py lists them: shared by the
 * viewer (viewer/attrs.c) and h5grove (grove/entity.c), which must agree
 * on the order.
 */
#ifndef H5S3_H5_ATTRS_H
#define H5S3_H5_ATTRS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <hdf5.h>

/* The creation property list of an open group, dataset or named
 * datatype (close it with H5Pclose); -1 for any other object. */
hid_t h5s3_h5_object_cpl(hid_t obj);

/*
 * The names of OBJ's attributes (const char *, in P) in h5py's attrs
 * order: creation order when OBJ tracks it, else by name; BY_NAME: by
 * name always.  At most MAX of them; with MAX 0 every name spends one
 * from the request's entries budget (dense attribute storage can hold
 * millions) and the list stops where the budget runs out.  A tracked
 * creation order that HDF5 cannot walk is listed by name instead;
 * H5S3_E_NOTHDF5 when that fails too, *OUT holding what was listed.
 */
apr_status_t h5s3_h5_attr_names(apr_array_header_t **out, hid_t obj,
                                int max, int by_name, apr_pool_t *p);

#endif
