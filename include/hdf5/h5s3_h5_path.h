/*
 * HDF5 paths resolved with h5py's rules, links reported rather than
 * followed when they leave the file (external links are never crossed),
 * and the links of a group listed a page at a time within the request's
 * entries budget.
 */
#ifndef H5S3_H5_PATH_H
#define H5S3_H5_PATH_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <hdf5.h>

typedef enum {
    H5S3_H5_LINK_OBJECT = 0,    /* an object (possibly via a soft link) */
    H5S3_H5_LINK_DANGLING,      /* soft link whose target does not exist */
    H5S3_H5_LINK_EXTERNAL,      /* external link: never followed */
    H5S3_H5_LINK_USER           /* user-defined link class */
} h5s3_h5_link_kind;

typedef struct {
    h5s3_h5_link_kind kind;
    hid_t obj;                  /* open object (H5Oopen) for LINK_OBJECT */
    H5I_type_t type;            /* H5I_GROUP, H5I_DATASET, H5I_DATATYPE */
    const char *soft_target;    /* set when PATH ends in a soft link */
    const char *ext_file;       /* LINK_EXTERNAL */
    const char *ext_path;
} h5s3_h5_obj;

/* Resolve PATH as h5py does for `path in file` / file[path] (absolute or
 * relative to the root, empty components and "." ignored), never
 * crossing external links.  H5S3_E_NOPATH when it does not exist.
 * Release with h5s3_h5_obj_close(). */
apr_status_t h5s3_h5_open_path(h5s3_h5_obj *out, hid_t file,
                               const char *path, apr_pool_t *p);
void h5s3_h5_obj_close(h5s3_h5_obj *o);

/*
 * The link NAME in the group LOC, as the last step of a path: followed
 * when it is hard or a soft link to an object, otherwise described
 * (dangling soft, external, user-defined).  H5S3_E_NOPATH when LOC has
 * no such link, H5S3_E_NOTHDF5 when it cannot be read; an external link
 * whose value cannot be unpacked gives H5S3_E_NOTHDF5 with kind
 * H5S3_H5_LINK_EXTERNAL and no target.  Release with h5s3_h5_obj_close().
 */
apr_status_t h5s3_h5_open_link(h5s3_h5_obj *out, hid_t loc,
                               const char *name, hid_t lapl, apr_pool_t *p);

/* A link access property list that refuses to cross external links
 * (close with H5Pclose). */
hid_t h5s3_h5_lapl_no_external(void);

/*
 * The names of group g's links in h5py's keys() order, from the
 * offset-th, at most limit of them (0: as many as the request's entries
 * budget allows).  Every name listed spends one from that budget, so a
 * group of a million links costs a bounded page, never the whole group:
 * H5S3_E_LIMIT when listing would go over.  *more (may be NULL) tells
 * whether links remain after the last one listed.
 */
apr_status_t h5s3_h5_link_names(apr_array_header_t **out, int *more, hid_t g,
                                hsize_t offset, hsize_t limit,
                                apr_pool_t *p);

#endif
