/*
 * What reading a variable-length attribute will allocate, from the
 * lengths stored with it in its object's header: HDF5 1.10's H5Aread
 * takes no transfer list through which its allocations could be
 * charged, so the budget (hdf5/vlen.c) is checked before it reads.
 */
#include <string.h>

#include "base/h5s3_checked.h"
#include "hdf5/format/h5s3_h5_format_private.h"

#define ATTR_MSG        0x000C

typedef struct attr_find {
    const char *name;           /* with its NUL: as the message stores it */
    apr_size_t nlen;
    apr_uint64_t storage;       /* H5Aget_storage_size: the data's bytes */
    apr_uint64_t nelem;
    apr_size_t esize;           /* one element on disk: length + heap ID */
    apr_size_t base;            /* memory bytes per unit of length */
    int string;                 /* one more byte per element (a NUL) */
    int found;
    apr_uint64_t bytes;
} attr_find;

static apr_size_t pad8(apr_size_t n)
{
    return (n + 7) & ~(apr_size_t)7;
}

/* An attribute message (versions 1 to 3): its name, then after the type
 * and the space its data, nelem elements of `length, collection, index`;
 * the lengths say what reading it allocates. */
static int attr_msg(void *baton, unsigned type, const unsigned char *body,
                    apr_size_t size)
{
    attr_find *af = baton;
    apr_size_t nsz, tsz, ssz, noff, doff;
    apr_uint64_t i, data;

    if (type != ATTR_MSG || size < 8) {
        return 0;
    }
    nsz = (apr_size_t)h5s3_fmt_le(body + 2, 2);
    tsz = (apr_size_t)h5s3_fmt_le(body + 4, 2);
    ssz = (apr_size_t)h5s3_fmt_le(body + 6, 2);
    switch (body[0]) {
    case 1:
        noff = 8;
        doff = 8 + pad8(nsz) + pad8(tsz) + pad8(ssz);
        break;
    case 2:
        noff = 8;
        doff = 8 + nsz + tsz + ssz;
        break;
    case 3:
        noff = 9;
        doff = 9 + nsz + tsz + ssz;
        break;
    default:
        return 0;
    }
    if (nsz != af->nlen || noff + nsz > size
        || memcmp(body + noff, af->name, nsz) != 0) {
        return 0;               /* another attribute */
    }
    af->found = 1;
    /* All of the data in the message, in elements of the expected size;
     * else we cannot tell (found, bytes unknown: refused by the caller). */
    if (doff > size || af->storage > size - doff
        || !H5S3_MUL(&data, af->nelem, (apr_uint64_t)af->esize)
        || af->storage != data) {
        af->found = -1;
        return 1;
    }
    for (i = 0; i < af->nelem; i++) {
        apr_uint64_t len = h5s3_fmt_le(body + doff + i * af->esize, 4), b;

        /* At most 2^32 * 2^32 + 1 per element, 64K elements: no wrap,
         * but the caller's limit is far below: saturate. */
        if (!H5S3_MUL(&b, len, (apr_uint64_t)af->base)
            || !H5S3_ADD(&b, b, (apr_uint64_t)af->string)
            || !H5S3_ADD(&af->bytes, af->bytes, b)) {
            af->bytes = UINT64_MAX;
            break;
        }
    }
    return 1;
}

apr_status_t h5s3_h5_attr_vlen_bytes(apr_uint64_t *bytes, hid_t attr)
{
    h5s3_h5_source *src = h5s3_h5_source_of(attr);
    attr_find af;
    H5O_info_t oi;
    h5s3_fmt_geometry g;
    hid_t ftype = -1, space = -1, sup = -1, fid;
    hssize_t np;
    char name[1024];
    ssize_t nlen;
    int ok = 0;

    *bytes = 0;
    memset(&af, 0, sizeof(af));
    if (!src || !src->cache) {
        return APR_ENOTIMPL;
    }
    nlen = H5Aget_name(attr, sizeof(name), name);
    ftype = H5Aget_type(attr);
    space = H5Aget_space(attr);
    np = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    fid = H5Iget_file_id(attr);
    if (fid >= 0) {
        ok = h5s3_fmt_geometry_get(fid, &g);
        H5Fclose(fid);
    }
    /* A vlen sequence of a fixed type, or a vlen string: nothing nested. */
    if (ok && nlen > 0 && (apr_size_t)nlen < sizeof(name) && ftype >= 0
        && np >= 0) {
        if (H5Tis_variable_str(ftype) > 0) {
            af.base = 1;
            af.string = 1;
        }
        else if (H5Tget_class(ftype) == H5T_VLEN
                 && (sup = H5Tget_super(ftype)) >= 0
                 && H5Tdetect_class(sup, H5T_VLEN) <= 0
                 && H5Tdetect_class(sup, H5T_STRING) <= 0) {
            hid_t msup = H5Tget_native_type(sup, H5T_DIR_ASCEND);

            af.base = msup >= 0 ? H5Tget_size(msup) : 0;
            if (msup >= 0) {
                H5Tclose(msup);
            }
        }
    }
    if (sup >= 0) {
        H5Tclose(sup);
    }
    if (ftype >= 0) {
        H5Tclose(ftype);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    /* The attribute's location is its object's: H5Oget_info on an
     * attribute describes the object header that holds it. */
    if (!ok || af.base == 0 || H5Oget_info2(attr, &oi, H5O_INFO_BASIC) < 0) {
        return APR_ENOTIMPL;
    }
    af.name = name;
    af.nlen = (apr_size_t)nlen + 1;
    af.storage = H5Aget_storage_size(attr);
    af.nelem = (apr_uint64_t)np;
    af.esize = 4 + (apr_size_t)g.sa + 4;
    if (!h5s3_fmt_ohdr_walk(src, &g, g.base + (apr_off_t)oi.addr, attr_msg,
                            &af)
        || af.found != 1) {
        return APR_ENOTIMPL;    /* dense storage, or not as expected */
    }
    *bytes = af.bytes;
    return APR_SUCCESS;
}
