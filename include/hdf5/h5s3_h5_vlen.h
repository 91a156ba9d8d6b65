/*
 * Variable-length data (sequences, strings) read within the request's
 * budget, H5S3_H5_LIMIT_VLEN_BYTES: HDF5 allocates every element's data
 * on a read, and a hostile file can point N elements at one large heap
 * object.
 */
#ifndef H5S3_H5_VLEN_H
#define H5S3_H5_VLEN_H

#include <apr_errno.h>
#include <apr.h>
#include <hdf5.h>

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

/*
 * Reading variable-length data: HDF5 allocates it element by element,
 * each before it copies the element's heap object in.  Charging each
 * allocation to H5S3_H5_LIMIT_VLEN_BYTES bounds what N elements pointing
 * at one big object can cost (H5Dvlen_get_buf_size would not: it reads
 * every element's object to add up their sizes, the very amplification
 * this stops).  A read that fails half-way leaves what HDF5 had
 * allocated where nobody frees it (some in its own conversion buffer):
 * every allocation is remembered, and freed when the read failed.
 */
typedef struct h5s3_h5_vlen_track {
    void **ptrs;
    apr_size_t n;
    apr_size_t cap;
} h5s3_h5_vlen_track;

/*
 * A transfer list with that allocator for memory type mtype when it has
 * vlen data or strings, H5P_DEFAULT otherwise, -1 when it cannot be
 * made.  t starts zeroed and outlives the read.
 */
hid_t h5s3_h5_vlen_dxpl(hid_t mtype, h5s3_h5_vlen_track *t);
/* After the read (and H5Dvlen_reclaim when it succeeded): frees what a
 * failed read had allocated, and the tracker's own list. */
void h5s3_h5_vlen_untrack(h5s3_h5_vlen_track *t, int failed);

#endif
