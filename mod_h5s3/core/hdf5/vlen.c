/*
 * Variable-length data within the request's budget (see
 * include/hdf5/h5s3_h5_vlen.h).  HDF5 allocates every element's data on
 * a read, and N elements may all point at one large heap object: the
 * bytes are charged before they are allocated wherever that is known.
 */
#include <stdlib.h>
#include <string.h>

#include "base/h5s3_errors.h"
#include "hdf5/format/h5s3_h5_format.h"
#include "hdf5/h5s3_h5_vlen.h"

#define MAX_DEPTH 32

/* H5Tdetect_class counts a vlen string as a string, not as vlen. */
static int type_has_vlen(hid_t t, int depth)
{
    hid_t sub;
    int i, n, has = 0;

    if (depth > MAX_DEPTH) {
        return 1;               /* cannot tell: assume so */
    }
    switch (H5Tget_class(t)) {
    case H5T_VLEN:
        return 1;
    case H5T_STRING:
        return H5Tis_variable_str(t) > 0;
    case H5T_ARRAY:
        sub = H5Tget_super(t);
        has = sub < 0 || type_has_vlen(sub, depth + 1);
        if (sub >= 0) {
            H5Tclose(sub);
        }
        return has;
    case H5T_COMPOUND:
        n = H5Tget_nmembers(t);
        for (i = 0; i < n && !has; i++) {
            sub = H5Tget_member_type(t, (unsigned)i);
            has = sub < 0 || type_has_vlen(sub, depth + 1);
            if (sub >= 0) {
                H5Tclose(sub);
            }
        }
        return has;
    default:
        return 0;
    }
}

int h5s3_h5_type_has_vlen(hid_t t)
{
    return type_has_vlen(t, 0);
}

apr_status_t h5s3_h5_attr_vlen_charge(hid_t attr, hid_t mt, hsize_t n,
                                      int *after)
{
    apr_uint64_t bytes;

    *after = 0;
    if (!type_has_vlen(mt, 0)) {
        return APR_SUCCESS;
    }
    if (h5s3_h5_attr_vlen_bytes(&bytes, attr) == APR_SUCCESS) {
        return h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, bytes);
    }
    /* Unknown sizes: one element reads one heap object, no repeat (then
     * charged by h5s3_h5_attr_vlen_charge_read); more could repeat one
     * object without bound. */
    if (n > 1) {
        return H5S3_E_UNSUPPORTED;
    }
    *after = 1;
    return APR_SUCCESS;
}

void h5s3_h5_attr_vlen_charge_read(hid_t mt, const void *buf, hsize_t n)
{
    apr_uint64_t bytes = 0;
    hsize_t i;

    if (n == 0 || !buf) {
        return;
    }
    for (i = 0; i < n; i++) {
        const unsigned char *ptr = (const unsigned char *)buf
                                   + i * H5Tget_size(mt);

        if (H5Tis_variable_str(mt) > 0) {
            const char *str;

            memcpy(&str, ptr, sizeof(str));
            bytes += str ? strlen(str) + 1 : 0;
        }
        else if (H5Tget_class(mt) == H5T_VLEN) {
            hvl_t v;
            hid_t bt = H5Tget_super(mt);

            memcpy(&v, ptr, sizeof(v));
            bytes += bt >= 0 ? v.len * H5Tget_size(bt) : 0;
            if (bt >= 0) {
                H5Tclose(bt);
            }
        }
    }
    h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, bytes);
}

/* The tracking allocator of h5s3_h5_vlen_dxpl (see the header). */
static void *vlen_alloc(size_t size, void *info)
{
    h5s3_h5_vlen_track *t = info;
    void *mem;

    if (h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, size) != APR_SUCCESS) {
        return NULL;            /* HDF5 fails the read: we report */
    }
    if (t->n == t->cap) {
        apr_size_t cap = t->cap ? 2 * t->cap : 256;
        void **p = realloc(t->ptrs, cap * sizeof(*p));

        if (!p) {
            return NULL;
        }
        t->ptrs = p;
        t->cap = cap;
    }
    mem = malloc(size ? size : 1);
    if (mem) {
        t->ptrs[t->n++] = mem;
    }
    return mem;
}

static void vlen_free(void *mem, void *info)
{
    h5s3_h5_vlen_track *t = info;
    apr_size_t i;

    /* Not on the path of a read into a zeroed buffer; kept exact. */
    for (i = t->n; mem && i > 0; i--) {
        if (t->ptrs[i - 1] == mem) {
            t->ptrs[i - 1] = NULL;
            break;
        }
    }
    free(mem);
}

void h5s3_h5_vlen_untrack(h5s3_h5_vlen_track *t, int failed)
{
    apr_size_t i;

    for (i = 0; failed && i < t->n; i++) {
        free(t->ptrs[i]);
    }
    free(t->ptrs);
    memset(t, 0, sizeof(*t));
}

hid_t h5s3_h5_vlen_dxpl(hid_t mtype, h5s3_h5_vlen_track *t)
{
    hid_t dxpl;

    if (H5Tdetect_class(mtype, H5T_VLEN) <= 0
        && H5Tdetect_class(mtype, H5T_STRING) <= 0) {
        return H5P_DEFAULT;
    }
    dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_vlen_mem_manager(dxpl, vlen_alloc, t,
                                             vlen_free, t) < 0) {
        H5Pclose(dxpl);
        dxpl = -1;
    }
    return dxpl;
}
