/*
 * HDF5 objects described as the HDF Viewer contract's JSON: the cores of
 * GET /files/{key}/children?path= and GET /files/{key}/meta?path=.
 * Every function takes an already open file; where its bytes come from
 * (S3 VFD, sec2) does not matter here.  Nothing is printed: the public
 * entry points switch HDF5's automatic error printing off while they run.
 */
#ifndef H5S3_H5_DESCRIBE_H
#define H5S3_H5_DESCRIBE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>
#include <apr_tables.h>

#include "hdf5/h5s3_h5_path.h"
#include "hdf5/h5s3_h5_filters.h"

#define H5S3_H5_CHILD_ATTRS 10  /* attributes shown per child dataset */
#define H5S3_H5_META_ATTRS  20  /* attributes shown by /meta */

/*
 * The JSON array of the children of the group at PATH (docs/viewer-api.md §1.5),
 * in h5py keys() order (creation order when the group tracks it, else
 * name order).  Each child's path is PATH.rstrip('/') + '/' + name.
 *   group:   {name, path, type:"group", num_children}
 *   dataset: {name, path, type:"dataset", shape, dtype, size, ndim,
 *             chunks?, compression?, attributes?, num_attributes?,
 *             attributes_truncated?}
 *   datatype: {name, path, type:"datatype", dtype}
 *   dangling soft link: {name, path, type:"soft_link", target}
 *   external link (never followed): {name, path, type:"external_link",
 *             target_file, target_path}
 *   a valid soft link is described as its target, plus link:"soft" and
 *   target.
 * PATH naming a dataset, datatype or link gives [].  A PATH that does
 * not exist gives H5S3_E_NOPATH.
 */
apr_status_t h5s3_h5_children(json_t **out, hid_t file, const char *path,
                              apr_pool_t *p);

/* Where a page of children sits in its group. */
typedef struct h5s3_h5_page {
    hsize_t total;              /* links in the group (0 for non-groups) */
    int more;                   /* links remain after this page */
} h5s3_h5_page;

/*
 * One page of the same: the children from the offset-th, at most limit
 * (0: the request's entries budget).  pg (may be NULL) tells the total
 * and whether more follow.  H5S3_E_LIMIT when the page would list more
 * links than the request's entries budget.
 */
apr_status_t h5s3_h5_children_page(json_t **out, h5s3_h5_page *pg,
                                   hid_t file, const char *path,
                                   hsize_t offset, hsize_t limit,
                                   apr_pool_t *p);

/*
 * The "metadata" object of /meta (docs/viewer-api.md §1.6) for the object at PATH: name,
 * path, kind, attributes ([{name, value}], at most 20), num_attributes,
 * attributes_truncated (only when more than 20); groups: type:"group",
 * num_children; datasets: shape, dtype, size, ndim, type, rawType,
 * filters, chunks?, compression?, compression_opts?, plus hdf5_type (the
 * h5grove type object); datatypes: kind:"datatype", dtype, type, rawType,
 * hdf5_type; links that cannot be followed: kind "soft_link" (target) or
 * "external_link" (target_file, target_path).
 * H5S3_E_NOPATH when PATH does not exist.
 */
apr_status_t h5s3_h5_meta(json_t **out, hid_t file, const char *path,
                          apr_pool_t *p);

/* The first MAX attributes of OBJ in h5py attrs.keys() order, their
 * values sanitised; *TOTAL gets the attribute count.  AS_LIST selects
 * [{name, value}] (meta) over {name: value} (children).  An attribute
 * that cannot be read gets the value "<unreadable>". */
apr_status_t h5s3_h5_attrs(json_t **out, int *total, hid_t obj, int max,
                           int as_list, apr_pool_t *p);


#endif
