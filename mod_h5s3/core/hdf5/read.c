/*
 * Bounded strided reads of dataset values: the selection checked
 * against the dataset and the read cap, what it touches fetched ahead
 * (read_ahead.c), then decoded outside HDF5 (chunk_decode.c) or read by
 * H5Dread with variable-length data charged as it is allocated.  Also
 * the plane and line reads the viewer makes, and values as doubles.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "hdf5/h5s3_h5_read_private.h"
#include "hdf5/h5s3_h5_vlen.h"

/*
 * HDF5 keeps decoded chunks in its chunk cache between reads: a read
 * whose chunks fit in it may be followed by another of the same chunks
 * (a CSV export row by row) that HDF5 serves without decoding again.
 * Decoding ourselves pays off when the chunks would not fit anyway.
 */
static int worth_decoding(const h5s3_h5_dset *d, const h5s3_h5_chunks *c)
{
    hid_t dapl = H5Dget_access_plist(d->did);
    size_t nslots = 0, nbytes = 1024 * 1024;
    double w0 = 0, bytes = (double)d->msize * c->n;
    int k;

    if (dapl >= 0) {
        H5Pget_chunk_cache(dapl, &nslots, &nbytes, &w0);
        H5Pclose(dapl);
    }
    for (k = 0; k < d->ndim; k++) {
        bytes *= (double)d->chunk[k];
    }
    return bytes > (double)nbytes;
}

apr_status_t h5s3_h5_read(void **buf, const h5s3_h5_dset *d,
                          const hsize_t *start, const hsize_t *stride,
                          const hsize_t *count)
{
    hid_t fspace = -1, mspace = -1, dxpl = H5P_DEFAULT;
    hsize_t nelem = 0, bytes, end;
    h5s3_h5_chunks *chunks = NULL;
    h5s3_h5_vlen_track track = {NULL, 0, 0};
    apr_status_t rv = APR_SUCCESS;
    int i;

    *buf = NULL;
    if (d->empty_space) {
        return APR_SUCCESS;
    }
    /* Every index is within its dim, so no offset computed from them
     * below can wrap (the element count fits: h5s3_h5_dset_open). */
    for (i = 0; i < d->ndim; i++) {
        if (count[i] > 0
            && (stride[i] == 0
                || !h5s3_slab_end(&end, start[i], stride[i], count[i])
                || end > d->shape[i])) {
            return H5S3_E_INVALID;
        }
    }
    if (!h5s3_dims_product(&nelem, count, d->ndim, 1, UINT64_MAX)) {
        return H5S3_E_TOOLARGE;
    }
    if (nelem == 0) {
        return APR_SUCCESS;
    }
    if (!H5S3_MUL(&bytes, nelem, d->msize)
        || bytes > H5S3_H5_MAX_READ_BYTES) {
        return H5S3_E_TOOLARGE;
    }
    if (d->ndim > 0) {
        chunks = h5s3_h5_read_prefetch(d, start, stride, count);
        /* A prefetch the file made too large ends the request here. */
        rv = h5s3_h5_limit_status();
        if (rv != APR_SUCCESS) {
            h5s3_h5_chunks_free(chunks);
            return rv;
        }
    }
    rv = h5s3_h5_mem_alloc(buf, (apr_size_t)bytes, 1);
    if (rv != APR_SUCCESS) {
        h5s3_h5_chunks_free(chunks);
        return rv;
    }
    if (chunks && !worth_decoding(d, chunks)) {
        h5s3_h5_chunks_free(chunks);
        chunks = NULL;
    }
    if (chunks) {
        /* Decoded in threads outside HDF5 when the pipeline allows; on
         * any other failure HDF5 reads the selection itself (and
         * reports).  Over a budget it would only fail there too. */
        apr_status_t drv = h5s3_h5_decode_chunks(
            *buf, d, h5s3_h5_file_source(d->file), chunks, start, stride,
            count);

        h5s3_h5_chunks_free(chunks);
        if (drv == APR_SUCCESS) {
            return APR_SUCCESS;
        }
        if (drv == H5S3_E_BUSY || drv == H5S3_E_LIMIT) {
            rv = drv;
            goto cleanup;
        }
        memset(*buf, 0, (size_t)bytes);
    }
    fspace = H5Dget_space(d->did);
    if (fspace < 0) {
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
        goto cleanup;
    }
    if (d->ndim > 0) {
        if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, stride, count,
                                NULL) < 0) {
            rv = H5S3_E_INVALID;
            goto cleanup;
        }
        mspace = H5Screate_simple(d->ndim, count, NULL);
    }
    else {
        mspace = H5Screate(H5S_SCALAR);
    }
    dxpl = h5s3_h5_vlen_dxpl(d->mtype, &track);
    if (mspace < 0 || dxpl < 0) {
        rv = APR_ENOMEM;
    }
    else if (H5Dread(d->did, d->mtype, mspace, fspace, dxpl, *buf) < 0) {
        /* Unless S3 failed or a limit ran out, what is stored does not
         * read: a corrupt index or chunk (the file's fault, not ours). */
        rv = h5s3_h5_request_status(H5S3_E_NOTHDF5);
    }

cleanup:
    if (dxpl >= 0 && dxpl != H5P_DEFAULT) {
        H5Pclose(dxpl);
    }
    h5s3_h5_vlen_untrack(&track, rv != APR_SUCCESS);
    if (mspace >= 0) {
        H5Sclose(mspace);
    }
    if (fspace >= 0) {
        H5Sclose(fspace);
    }
    if (rv != APR_SUCCESS) {
        h5s3_h5_mem_free(*buf);
        *buf = NULL;
    }
    return rv;
}

apr_status_t h5s3_h5_read_plane(void **buf, const h5s3_h5_dset *d,
                                const h5s3_h5_sel *sel,
                                hsize_t r0, hsize_t rstep, hsize_t rcount,
                                hsize_t c0, hsize_t cstep, hsize_t ccount)
{
    hsize_t start[H5S3_H5_RANK_MAX], stride[H5S3_H5_RANK_MAX];
    hsize_t count[H5S3_H5_RANK_MAX];
    unsigned char *in, *outp;
    hsize_t i, j;
    int k;
    apr_status_t rv;

    *buf = NULL;
    for (k = 0; k < d->ndim; k++) {
        start[k] = sel->index[k];
        stride[k] = 1;
        count[k] = 1;
    }
    start[sel->row_dim] = r0;
    stride[sel->row_dim] = rstep ? rstep : 1;
    count[sel->row_dim] = rcount;
    start[sel->col_dim] = c0;
    stride[sel->col_dim] = cstep ? cstep : 1;
    count[sel->col_dim] = ccount;
    rv = h5s3_h5_read((void **)&in, d, start, stride, count);
    if (rv != APR_SUCCESS || in == NULL || sel->row_dim < sel->col_dim) {
        *buf = in;
        return rv;
    }
    /* Read as [ccount][rcount]: transpose so rows follow row_dim.  Plain
     * byte moves: vlen pointers move with their elements.  The size is
     * the read's, which h5s3_h5_read checked. */
    rv = h5s3_h5_mem_alloc((void **)&outp,
                           (apr_size_t)(rcount * ccount) * d->msize, 0);
    if (rv != APR_SUCCESS) {
        h5s3_h5_buf_free(d, in, rcount * ccount);
        return rv;
    }
    for (i = 0; i < rcount; i++) {
        for (j = 0; j < ccount; j++) {
            memcpy(outp + (i * ccount + j) * d->msize,
                   in + (j * rcount + i) * d->msize, d->msize);
        }
    }
    h5s3_h5_mem_free(in);
    *buf = outp;
    return APR_SUCCESS;
}

apr_status_t h5s3_h5_read_line(void **buf, const h5s3_h5_dset *d,
                               const hsize_t *pos, int vary, hsize_t off,
                               hsize_t step, hsize_t count)
{
    hsize_t start[H5S3_H5_RANK_MAX], stride[H5S3_H5_RANK_MAX];
    hsize_t cnt[H5S3_H5_RANK_MAX];
    int k;

    for (k = 0; k < d->ndim; k++) {
        start[k] = pos[k];
        stride[k] = 1;
        cnt[k] = 1;
    }
    start[vary] = off;
    stride[vary] = step ? step : 1;
    cnt[vary] = count;
    return h5s3_h5_read(buf, d, start, stride, cnt);
}

void h5s3_h5_buf_free(const h5s3_h5_dset *d, void *buf, hsize_t n)
{
    if (buf == NULL) {
        return;
    }
    if (n > 0 && (H5Tdetect_class(d->mtype, H5T_VLEN) > 0
                  || H5Tis_variable_str(d->mtype) > 0
                  || H5Tdetect_class(d->mtype, H5T_STRING) > 0)) {
        hid_t space = H5Screate_simple(1, &n, NULL);

        if (space >= 0) {
            H5Dvlen_reclaim(d->mtype, space, H5P_DEFAULT, buf);
            H5Sclose(space);
        }
    }
    h5s3_h5_mem_free(buf);
}

/* One integer of SIZE bytes as a double. */
static double int_double(const unsigned char *ptr, size_t size, int sgn)
{
    switch (size) {
    case 1:
        return sgn ? (double)*(const signed char *)ptr : (double)*ptr;
    case 2: {
        unsigned short u;
        short s;
        memcpy(&u, ptr, 2);
        memcpy(&s, ptr, 2);
        return sgn ? (double)s : (double)u;
    }
    case 4: {
        unsigned int u;
        int s;
        memcpy(&u, ptr, 4);
        memcpy(&s, ptr, 4);
        return sgn ? (double)s : (double)u;
    }
    case 8: {
        unsigned long long u;
        long long s;
        memcpy(&u, ptr, 8);
        memcpy(&s, ptr, 8);
        return sgn ? (double)s : (double)u;
    }
    default:
        return NAN;
    }
}

void h5s3_h5_to_double(double *out, const h5s3_h5_dset *d, const void *buf,
                       hsize_t n)
{
    const unsigned char *p = buf;
    H5T_class_t cls = H5Tget_class(d->mtype);
    size_t size = d->msize, bsize = size;
    int sgn = 0;
    hsize_t i;

    if (cls == H5T_INTEGER) {
        sgn = H5Tget_sign(d->mtype) != H5T_SGN_NONE;
    }
    else if (cls == H5T_ENUM) {
        hid_t bt = H5Tget_super(d->mtype);

        bsize = bt >= 0 ? H5Tget_size(bt) : 0;
        sgn = bt >= 0 && H5Tget_sign(bt) != H5T_SGN_NONE;
        if (bt >= 0) {
            H5Tclose(bt);
        }
    }
    for (i = 0; i < n; i++, p += size) {
        if (cls == H5T_INTEGER) {
            out[i] = int_double(p, size, sgn);
        }
        else if (cls == H5T_ENUM && d->kind == H5S3_H5_KIND_BOOL) {
            out[i] = int_double(p, bsize, sgn) != 0 ? 1.0 : 0.0;
        }
        else if (cls == H5T_ENUM) {
            out[i] = int_double(p, bsize, sgn);
        }
        else if (cls == H5T_FLOAT && size == sizeof(float)) {
            float f;
            memcpy(&f, p, sizeof(f));
            out[i] = f;
        }
        else if (cls == H5T_FLOAT && size == sizeof(double)) {
            memcpy(&out[i], p, sizeof(double));
        }
        else if (cls == H5T_FLOAT && size == sizeof(long double)) {
            long double ld;
            memcpy(&ld, p, sizeof(ld));
            out[i] = (double)ld;
        }
        else {
            out[i] = NAN;
        }
    }
}
