/*
 * HDF5 datatypes described the way h5py and NumPy describe them, so the
 * JSON we serve matches what the upstream Python services print:
 * str(dtype), dtype.str, the HDF Viewer "type"/"rawType" objects and the
 * h5grove type object.  Pure functions of an HDF5 type id: no I/O.
 */
#ifndef H5S3_H5_TYPES_H
#define H5S3_H5_TYPES_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <hdf5.h>
#include <jansson.h>

/* str(np.dtype) of the dtype h5py maps TYPE to: "float32", ">f4",
 * "|S10", "object", "bool", "[('a', '<i4'), ('b', '<f8')]",
 * "('<f4', (3,))", "|V8" ... */
apr_status_t h5s3_h5_dtype_str(const char **out, hid_t type, apr_pool_t *p);

/* dtype.str (the array-interface type string): "<f4", "|b1", "|O",
 * "|S10", "|V12". */
apr_status_t h5s3_h5_dtype_typestr(const char **out, hid_t type,
                                   apr_pool_t *p);

/* The HDF Viewer /meta "type" object {class, signed?, endianness, size}
 * and "rawType" object {type, size, littleEndian, vlen, total_size,
 * signed?}.  Either output may be NULL when not wanted. */
apr_status_t h5s3_h5_type_info(json_t **type_out, json_t **raw_out,
                               hid_t type, apr_pool_t *p);

/* The h5grove type object: class (H5T class code), size, dtype (typestr,
 * or an object of member dtypes for compounds), plus order/sign,
 * cset/strpad/vlen, tag, members, base, dims as the class has them.
 * Compound members are an object {name: type}; the h5grove routes turn
 * them into the list [{name, ...type}] that h5grove 4.0 and H5Web use. */
apr_status_t h5s3_h5_type_json(json_t **out, hid_t type, apr_pool_t *p);

/* h5py's special cases: an enum {FALSE: 0, TRUE: 1} is NumPy bool; a
 * compound of two equal floats named r and i is NumPy complex. */
int h5s3_h5_type_is_bool(hid_t type);
int h5s3_h5_type_is_complex(hid_t type);

/* A short lowercase name of an HDF5 type class ("integer", "float",
 * "string", "bitfield", "opaque", "compound", "reference", "enum",
 * "vlen", "array", "time", "unknown"). */
const char *h5s3_h5_class_name(H5T_class_t cls);

/* The native memory type values of file_type are read as (close it). */
hid_t h5s3_h5_mem_type(hid_t file_type);

#endif
