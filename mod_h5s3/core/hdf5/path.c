/*
 * HDF5 path resolution with h5py's rules (h5g._path_valid), except that
 * links are reported rather than failing: a dangling soft link or an
 * external link at the end of a path is an answer, not an error.
 * External links are never followed: their target would be a file
 * outside the bucket mapping (or on the server's disk).
 */
#include <string.h>

#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_path.h"
#include "hdf5/format/h5s3_h5_format.h"
#include "hdf5/h5s3_h5_file.h"

static herr_t refuse_elink(const char *parent_file, const char *parent_group,
                           const char *child_file, const char *child_obj,
                           unsigned *acc_flags, hid_t fapl, void *op_data)
{
    (void)parent_file;
    (void)parent_group;
    (void)child_file;
    (void)child_obj;
    (void)acc_flags;
    (void)fapl;
    (void)op_data;
    return -1;
}

hid_t h5s3_h5_lapl_no_external(void)
{
    hid_t lapl = H5Pcreate(H5P_LINK_ACCESS);

    if (lapl >= 0 && H5Pset_elink_cb(lapl, refuse_elink, NULL) < 0) {
        H5Pclose(lapl);
        return -1;
    }
    return lapl;
}

typedef struct {
    apr_array_header_t *names;
    hsize_t limit;
    int more;
    int over;                   /* the entries budget ran out */
    apr_pool_t *p;
} name_page;

static herr_t page_link(hid_t g, const char *name, const H5L_info_t *li,
                        void *op)
{
    name_page *pg = op;

    (void)g;
    (void)li;
    if (pg->limit && (hsize_t)pg->names->nelts >= pg->limit) {
        pg->more = 1;
        return 1;               /* stop: the page is full */
    }
    if (h5s3_h5_charge(H5S3_H5_LIMIT_ENTRIES, 1) != APR_SUCCESS) {
        pg->over = 1;
        return 1;
    }
    APR_ARRAY_PUSH(pg->names, const char *) = apr_pstrdup(pg->p, name);
    return 0;
}

apr_status_t h5s3_h5_link_names(apr_array_header_t **out, int *more, hid_t g,
                                hsize_t offset, hsize_t limit,
                                apr_pool_t *p)
{
    H5_index_t idx = h5s3_h5_link_index(g);
    name_page pg;
    hsize_t pos = offset;
    herr_t hr;

    memset(&pg, 0, sizeof(pg));
    pg.names = apr_array_make(p, 16, sizeof(const char *));
    pg.limit = limit;
    pg.p = p;
    hr = H5Literate(g, idx, H5_ITER_INC, &pos, page_link, &pg);
    if (hr < 0 && idx == H5_INDEX_CRT_ORDER && !pg.over) {
        /* A damaged creation-order index: h5py would fail; list by name. */
        pg.names->nelts = 0;
        pg.more = 0;
        pos = offset;
        hr = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &pos, page_link, &pg);
    }
    if (pg.over) {
        return H5S3_E_LIMIT;
    }
    if (hr < 0) {
        /* An offset past the end is an empty page, not a broken file. */
        H5G_info_t gi;

        if (H5Gget_info(g, &gi) >= 0 && offset >= gi.nlinks) {
            pg.names->nelts = 0;
        }
        else {
            return h5s3_h5_request_status(H5S3_E_NOTHDF5);
        }
    }
    if (more) {
        *more = pg.more;
    }
    *out = pg.names;
    return APR_SUCCESS;
}

void h5s3_h5_obj_close(h5s3_h5_obj *o)
{
    if (o && o->obj >= 0) {
        H5Oclose(o->obj);
        o->obj = -1;
    }
}

apr_status_t h5s3_h5_open_link(h5s3_h5_obj *out, hid_t loc,
                               const char *name, hid_t lapl, apr_pool_t *p)
{
    H5L_info_t li;
    char *val;

    memset(out, 0, sizeof(*out));
    out->obj = -1;
    if (H5Lget_info(loc, name, &li, lapl) < 0)
        return H5S3_E_NOPATH;
    if (li.type == H5L_TYPE_SOFT || li.type == H5L_TYPE_EXTERNAL) {
        val = apr_palloc(p, li.u.val_size + 1);
        if (H5Lget_val(loc, name, val, li.u.val_size, lapl) < 0)
            return H5S3_E_NOTHDF5;
        val[li.u.val_size] = '\0';
        if (li.type == H5L_TYPE_EXTERNAL) {
            const char *file = NULL, *obj = NULL;
            unsigned flags;

            out->kind = H5S3_H5_LINK_EXTERNAL;  /* also when damaged */
            if (H5Lunpack_elink_val(val, li.u.val_size, &flags, &file,
                                    &obj) < 0)
                return H5S3_E_NOTHDF5;
            out->ext_file = apr_pstrdup(p, file ? file : "");
            out->ext_path = apr_pstrdup(p, obj ? obj : "");
            return APR_SUCCESS;
        }
        out->soft_target = val;
        if (H5Oexists_by_name(loc, name, lapl) <= 0) {
            out->kind = H5S3_H5_LINK_DANGLING;
            return APR_SUCCESS;
        }
    } else if (li.type != H5L_TYPE_HARD) {
        out->kind = H5S3_H5_LINK_USER;
        return APR_SUCCESS;
    }
    out->obj = H5Oopen(loc, name, lapl);
    if (out->obj < 0) {
        /* A soft link whose target cannot be opened is as good as
         * dangling; a hard link that cannot be opened is damage. */
        if (out->soft_target) {
            out->kind = H5S3_H5_LINK_DANGLING;
            return APR_SUCCESS;
        }
        return H5S3_E_NOTHDF5;
    }
    out->kind = H5S3_H5_LINK_OBJECT;
    out->type = H5Iget_type(out->obj);
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_open_path(h5s3_h5_obj *out, hid_t file,
                               const char *path, apr_pool_t *p)
{
    hid_t lapl = -1, loc = -1;
    apr_status_t rv = APR_SUCCESS;
    char *copy, *part, *last_tok;
    char **parts;
    int n = 0, i;

    memset(out, 0, sizeof(*out));
    out->obj = -1;
    if (!path || file < 0 || !p)
        return H5S3_E_INVALID;
    if (!*path)
        return H5S3_E_NOPATH;   /* h5py: '' is never in a file */

    copy = apr_pstrdup(p, path);
    parts = apr_pcalloc(p, sizeof(*parts) * (strlen(path) / 2 + 2));
    for (part = apr_strtok(copy, "/", &last_tok); part;
         part = apr_strtok(NULL, "/", &last_tok))
        parts[n++] = part;

    lapl = h5s3_h5_lapl_no_external();
    loc = H5Oopen(file, "/", H5P_DEFAULT);
    if (lapl < 0 || loc < 0) {
        rv = H5S3_E_NOTHDF5;
        goto cleanup;
    }
    for (i = 0; i < n; i++) {
        hid_t nxt;
        H5O_info_t oi;

        if (strcmp(parts[i], ".") == 0)
            continue;
        if (H5Lexists(loc, parts[i], lapl) <= 0) {
            rv = H5S3_E_NOPATH;
            goto cleanup;
        }
        if (i == n - 1) {
            rv = h5s3_h5_open_link(out, loc, parts[i], lapl, p);
            goto cleanup;
        }
        if (H5Oexists_by_name(loc, parts[i], lapl) <= 0) {
            rv = H5S3_E_NOPATH;
            goto cleanup;
        }
        nxt = H5Oopen(loc, parts[i], lapl);
        if (nxt < 0) {
            rv = H5S3_E_NOPATH;
            goto cleanup;
        }
        if (H5Oget_info2(nxt, &oi, H5O_INFO_BASIC) < 0
            || oi.type != H5O_TYPE_GROUP) {
            H5Oclose(nxt);
            rv = H5S3_E_NOPATH;
            goto cleanup;
        }
        H5Oclose(loc);
        loc = nxt;
    }
    /* Only slashes and dots: the group we stand in. */
    out->kind = H5S3_H5_LINK_OBJECT;
    out->obj = loc;
    out->type = H5Iget_type(loc);
    loc = -1;
cleanup:
    if (loc >= 0)
        H5Oclose(loc);
    if (lapl >= 0)
        H5Pclose(lapl);
    if (rv != APR_SUCCESS)
        h5s3_h5_obj_close(out);
    return rv;
}
