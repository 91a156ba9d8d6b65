/*
 * The attributes of an open object as h5py lists them, and their values
 * read within the request's budgets: shared by the viewer
 * (viewer/attrs.c, viewer/values.c) and h5grove (grove/entity.c), which
 * must agree.
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

/* An attribute's values in memory (h5s3_h5_attr_read). */
typedef struct h5s3_h5_attr_values {
    hid_t space;
    hid_t ftype;
    hid_t mt;                   /* the native memory type of BUF */
    int null_space;             /* h5py.Empty: no values, BUF NULL */
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    hsize_t n;                  /* elements: the checked product of DIMS */
    void *buf;
    int loaded;                 /* H5Aread filled BUF (vlen data to free) */
} h5s3_h5_attr_values;

/*
 * ATTR's values read with its native memory type, every size checked
 * first: HDF5's element count is an unchecked product of the dims, and
 * H5Aread allocates every variable-length element, whose bytes the
 * request's budget is charged before (over it the request fails with the
 * limit).  A null dataspace is APR_SUCCESS with NULL_SPACE set.
 * H5S3_E_TOOLARGE over H5S3_H5_MAX_ATTR_ELEMENTS elements, the budget's
 * status over it, APR_ENOMEM, H5S3_E_UNSUPPORTED for what HDF5 cannot
 * read.  Release V with h5s3_h5_attr_values_free, also on failure.
 */
apr_status_t h5s3_h5_attr_read(h5s3_h5_attr_values *v, hid_t attr);
void h5s3_h5_attr_values_free(h5s3_h5_attr_values *v);

#endif
