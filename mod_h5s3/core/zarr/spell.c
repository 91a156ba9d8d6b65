/*
 * The pure parts of the Zarr store view (docs/zarr.md): dtype strings of
 * HDF5 types, the numcodecs equivalents of a filter pipeline, chunk keys,
 * numbers as Zarr spells them, numcodecs' VLenUTF8 encoding.
 */
#include <math.h>
#include <string.h>
#include <apr_strings.h>

#include "zarr/h5s3_zarr.h"
#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_types.h"

json_t *h5s3_zarr_real(double v)
{
    if (isnan(v)) {
        return json_string("NaN");
    }
    if (isinf(v)) {
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    }
    return json_real(v);
}

/* An IEEE float of 2, 4 or 8 bytes, as NumPy's f2, f4, f8 are. */
static int ieee_float(hid_t t, size_t size)
{
    size_t spos, epos, esize, mpos, msize;

    if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) {
        return 0;
    }
    switch (size) {
    case 2:
        return spos == 15 && epos == 10 && esize == 5 && mpos == 0
               && msize == 10;
    case 4:
        return spos == 31 && epos == 23 && esize == 8 && mpos == 0
               && msize == 23;
    case 8:
        return spos == 63 && epos == 52 && esize == 11 && mpos == 0
               && msize == 52;
    default:
        return 0;
    }
}

/* The typestr of an integer, float or enum type; NULL if it has none. */
static const char *atomic_typestr(char *kind, hid_t t, apr_pool_t *p)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    H5T_order_t order = H5Tget_order(t);
    char bo = size == 1 ? '|' : order == H5T_ORDER_BE ? '>' : '<';

    if (cls == H5T_STRING && size > 0 && H5Tis_variable_str(t) == 0) {
        *kind = 'S';
        return apr_psprintf(p, "|S%" APR_SIZE_T_FMT, size);
    }
    if (size == 0 || (size > 1 && order != H5T_ORDER_LE
                      && order != H5T_ORDER_BE)) {
        return NULL;
    }
    if (cls == H5T_ENUM) {
        hid_t base;
        const char *s;

        if (h5s3_h5_type_is_bool(t)) {
            *kind = 'b';
            return "|b1";
        }
        base = H5Tget_super(t);
        if (base < 0) {
            return NULL;
        }
        s = atomic_typestr(kind, base, p);
        H5Tclose(base);
        return s;
    }
    if (cls == H5T_INTEGER && (size == 1 || size == 2 || size == 4
                               || size == 8)) {
        *kind = H5Tget_sign(t) == H5T_SGN_NONE ? 'u' : 'i';
        return apr_psprintf(p, "%c%c%" APR_SIZE_T_FMT, bo, *kind, size);
    }
    if (cls == H5T_FLOAT && ieee_float(t, size)) {
        *kind = 'f';
        return apr_psprintf(p, "%c%c%" APR_SIZE_T_FMT, bo, *kind, size);
    }
    return NULL;
}

static const char *class_reason(H5T_class_t cls)
{
    switch (cls) {
    case H5T_REFERENCE: return "reference data has no Zarr v2 dtype";
    case H5T_OPAQUE: return "opaque data has no Zarr v2 dtype";
    case H5T_VLEN: return "variable-length sequences have no Zarr v2 dtype";
    case H5T_ARRAY: return "array types are not served";
    case H5T_BITFIELD: return "bitfields have no Zarr v2 dtype";
    case H5T_TIME: return "HDF5 time types have no Zarr v2 dtype";
    default: return "this HDF5 type has no Zarr v2 dtype";
    }
}

/* Packed compound members, sorted by offset, as [[name, typestr], ...]. */
static apr_status_t compound_dtype(h5s3_zarr_type *t, h5s3_result *res,
                                   apr_pool_t *p)
{
    int n = H5Tget_nmembers(t->mtype), i, j;
    size_t *offs;
    json_t **items;

    if (n <= 0) {
        return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                               "a compound without members");
    }
    offs = apr_pcalloc(p, sizeof(*offs) * (size_t)n);
    items = apr_pcalloc(p, sizeof(*items) * (size_t)n);
    for (i = 0; i < n; i++) {
        hid_t mt = H5Tget_member_type(t->mtype, (unsigned)i);
        char *name = H5Tget_member_name(t->mtype, (unsigned)i);
        char kind = 0;
        const char *ts = mt >= 0 ? atomic_typestr(&kind, mt, p) : NULL;

        offs[i] = H5Tget_member_offset(t->mtype, (unsigned)i);
        if (ts && name) {
            items[i] = json_pack("[s, s]", name, ts);
        }
        if (mt >= 0) {
            H5Tclose(mt);
        }
        if (items[i] == NULL) {
            const char *why = apr_psprintf(p, "compound member '%s' has no "
                                           "Zarr v2 dtype",
                                           name ? name : "?");
            H5free_memory(name);
            for (j = 0; j < n; j++) {
                json_decref(items[j]);
            }
            return h5s3_result_set(res, H5S3_E_UNSUPPORTED, why);
        }
        H5free_memory(name);
    }
    /* Members are few: insertion sort by offset. */
    for (i = 1; i < n; i++) {
        for (j = i; j > 0 && offs[j - 1] > offs[j]; j--) {
            size_t o = offs[j];
            json_t *x = items[j];
            offs[j] = offs[j - 1];
            items[j] = items[j - 1];
            offs[j - 1] = o;
            items[j - 1] = x;
        }
    }
    t->dtype = json_array();
    for (i = 0; i < n; i++) {
        json_array_append_new(t->dtype, items[i]);
    }
    t->kind = 'V';
    return APR_SUCCESS;
}

static apr_status_t type_of(h5s3_zarr_type *t, h5s3_result *res,
                            hid_t ftype, apr_pool_t *p)
{
    H5T_class_t cls = H5Tget_class(ftype);
    const char *ts;

    if (cls == H5T_STRING && H5Tis_variable_str(ftype) > 0) {
        t->mtype = H5Tcopy(H5T_C_S1);
        if (t->mtype < 0 || H5Tset_size(t->mtype, H5T_VARIABLE) < 0
            || H5Tset_cset(t->mtype, H5Tget_cset(ftype)) < 0) {
            return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                                   "a string type HDF5 cannot copy");
        }
        t->vlen_str = 1;
        t->kind = 'O';
        t->dtype = json_string("|O");
        return APR_SUCCESS;
    }
    t->mtype = H5Tcopy(ftype);
    if (t->mtype < 0) {
        return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                               "a type HDF5 cannot copy");
    }
    if (cls == H5T_COMPOUND && h5s3_h5_type_is_complex(ftype)) {
        hid_t mt = H5Tget_member_type(ftype, 0);
        char kind = 0;

        ts = mt >= 0 ? atomic_typestr(&kind, mt, p) : NULL;
        if (mt >= 0) {
            H5Tclose(mt);
        }
        if (ts == NULL || kind != 'f' || H5Tpack(t->mtype) < 0) {
            return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                                   "a complex type of no NumPy precision");
        }
        t->kind = 'c';
        t->size = H5Tget_size(t->mtype);
        t->dtype = json_string(apr_psprintf(p, "%cc%" APR_SIZE_T_FMT, ts[0], t->size));
        return APR_SUCCESS;
    }
    if (cls == H5T_COMPOUND) {
        apr_status_t rv;

        if (H5Tpack(t->mtype) < 0) {
            return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                                   "a compound HDF5 cannot pack");
        }
        rv = compound_dtype(t, res, p);
        t->size = H5Tget_size(t->mtype);
        return rv;
    }
    ts = atomic_typestr(&t->kind, ftype, p);
    if (ts == NULL) {
        return h5s3_result_set(res, H5S3_E_UNSUPPORTED,
                               cls == H5T_INTEGER || cls == H5T_FLOAT
                               || cls == H5T_ENUM
                               ? "a number format NumPy does not have"
                               : class_reason(cls));
    }
    t->size = H5Tget_size(ftype);
    t->dtype = json_string(ts);
    return APR_SUCCESS;
}

apr_status_t h5s3_zarr_type_of(h5s3_zarr_type *t, h5s3_result *res,
                               hid_t ftype)
{
    apr_pool_t *p;
    apr_status_t rv;

    memset(t, 0, sizeof(*t));
    t->mtype = -1;
    if (apr_pool_create(&p, res->p) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    rv = type_of(t, res, ftype, p);
    apr_pool_destroy(p);
    if (rv != APR_SUCCESS) {
        h5s3_zarr_type_close(t);
    }
    return rv;
}

void h5s3_zarr_type_close(h5s3_zarr_type *t)
{
    if (t->mtype >= 0) {
        H5Tclose(t->mtype);
    }
    t->mtype = -1;
    json_decref(t->dtype);
    t->dtype = NULL;
}

/* The names numcodecs' Blosc uses for blosc's compressor codes. */
static const char *blosc_cname(unsigned code)
{
    static const char *names[] = {"blosclz", "lz4", "lz4hc", "snappy",
                                  "zlib", "zstd"};

    return code < sizeof(names) / sizeof(names[0]) ? names[code] : NULL;
}

/* The compressor of one filter, or NULL when it is not one. */
static json_t *compressor_of(const h5s3_zarr_filter *f)
{
    switch (f->id) {
    case H5Z_FILTER_DEFLATE:
        return json_pack("{s:s, s:i}", "id", "zlib", "level",
                         f->ncd > 0 && f->cd[0] <= 9 ? (int)f->cd[0] : 6);
    case 307:   /* bzip2, as the HDF5 filter registry numbers it */
        return json_pack("{s:s, s:i}", "id", "bz2", "level",
                         f->ncd > 0 && f->cd[0] >= 1 && f->cd[0] <= 9
                         ? (int)f->cd[0] : 9);
    case 32001: /* blosc: a self-describing frame, as numcodecs reads it */
        if (f->ncd >= 7 && blosc_cname(f->cd[6]) && f->cd[5] <= 2) {
            return json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "blosc",
                             "cname", blosc_cname(f->cd[6]), "clevel",
                             (int)f->cd[4], "shuffle", (int)f->cd[5],
                             "blocksize", 0);
        }
        return NULL;
    default:
        return NULL;
    }
}

int h5s3_zarr_codecs(json_t **filters, json_t **compressor,
                     const h5s3_zarr_filter *f, int n, size_t elem)
{
    json_t *fl = NULL, *comp = NULL;
    int i;

    *filters = json_null();
    *compressor = json_null();
    for (i = 0; i < n; i++) {
        if (f[i].id == H5Z_FILTER_SHUFFLE && comp == NULL) {
            if (fl == NULL) {
                fl = json_array();
            }
            json_array_append_new(fl, json_pack("{s:s, s:i}", "id",
                                                "shuffle", "elementsize",
                                                (int)elem));
            continue;
        }
        if (comp == NULL && i == n - 1
            && (comp = compressor_of(&f[i])) != NULL) {
            continue;
        }
        /* No exact equivalent in this place: the server decodes. */
        json_decref(fl);
        json_decref(comp);
        return 0;
    }
    if (fl) {
        json_decref(*filters);
        *filters = fl;
    }
    if (comp) {
        json_decref(*compressor);
        *compressor = comp;
    }
    return 1;
}

apr_status_t h5s3_zarr_chunk_key(hsize_t *idx, h5s3_result *res,
                                 const char *key, int rank,
                                 const hsize_t *grid)
{
    const char *s = key;
    int k = 0;

    if (rank == 0) {
        if (strcmp(key, "0") != 0) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Invalid chunk "
                                      "key '%s': a scalar array has the "
                                      "single chunk '0'", key);
        }
        return APR_SUCCESS;
    }
    for (k = 0; k < rank; k++) {
        apr_uint64_t v = 0;
        const char *start = s;

        while (*s >= '0' && *s <= '9') {
            if (!H5S3_MUL(&v, v, 10) || !H5S3_ADD(&v, v, *s - '0')) {
                return h5s3_result_printf(res, H5S3_E_NOPATH, "Chunk key "
                                          "'%s' is outside the chunk grid",
                                          key);
            }
            s++;
        }
        if (s == start || (*s != '.' && *s != '\0')
            || (*s == '.' && k == rank - 1) || (*s == '\0' && k < rank - 1)) {
            return h5s3_result_printf(res, H5S3_E_INVALID, "Invalid chunk "
                                      "key '%s': it must be %d decimal "
                                      "indices joined by '.'", key, rank);
        }
        if (v >= grid[k]) {
            return h5s3_result_printf(res, H5S3_E_NOPATH, "Chunk key '%s' "
                                      "is outside the chunk grid (index %d "
                                      "must be below %" APR_UINT64_T_FMT ")",
                                      key, k, (apr_uint64_t)grid[k]);
        }
        idx[k] = (hsize_t)v;
        if (*s == '.') {
            s++;
        }
    }
    return APR_SUCCESS;
}

hsize_t h5s3_zarr_contig_rows(hsize_t rows, apr_uint64_t row_bytes)
{
    apr_uint64_t fit = row_bytes ? H5S3_ZARR_CONTIG_CHUNK_BYTES / row_bytes
                                 : rows;

    if (fit < 1) {
        fit = 1;
    }
    if (rows < 1) {
        rows = 1;
    }
    return fit < rows ? (hsize_t)fit : rows;
}

static void put_u32le(char *o, apr_uint32_t v)
{
    o[0] = (char)(v & 0xff);
    o[1] = (char)((v >> 8) & 0xff);
    o[2] = (char)((v >> 16) & 0xff);
    o[3] = (char)((v >> 24) & 0xff);
}

apr_status_t h5s3_zarr_vlen_utf8(char **out, apr_size_t *len,
                                 char *const *strs, apr_uint64_t n,
                                 apr_pool_t *p)
{
    apr_uint64_t total = 4, i, each;
    char *buf, *o;

    if (n > 0xffffffffu) {
        return H5S3_E_TOOLARGE;
    }
    for (i = 0; i < n; i++) {
        each = strs[i] ? strlen(strs[i]) : 0;
        if (each > 0xffffffffu || !H5S3_ADD(&total, total, each)
            || !H5S3_ADD(&total, total, 4)) {
            return H5S3_E_TOOLARGE;
        }
    }
    if (total > 0xffffffffu) {
        return H5S3_E_TOOLARGE;
    }
    buf = o = apr_palloc(p, (apr_size_t)total);
    put_u32le(o, (apr_uint32_t)n);
    o += 4;
    for (i = 0; i < n; i++) {
        each = strs[i] ? strlen(strs[i]) : 0;
        put_u32le(o, (apr_uint32_t)each);
        o += 4;
        if (each) {
            memcpy(o, strs[i], (size_t)each);
            o += each;
        }
    }
    *out = buf;
    *len = (apr_size_t)total;
    return APR_SUCCESS;
}

int h5s3_zarr_attr_hidden(const char *name)
{
    static const char *hidden[] = {
        "DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME",
        "_Netcdf4Dimid", "_Netcdf4Coordinates", "_NCProperties",
        "_nc3_strict", "_IsNetcdf4", "_SuperblockVersion", NULL
    };
    int i;

    for (i = 0; hidden[i]; i++) {
        if (!strcmp(name, hidden[i])) {
            return 1;
        }
    }
    return 0;
}

/* ---- re-encoding a chunk stored with filters skipped ---------------------- */

void h5s3_zarr_shuffle(char *out, const char *in, apr_size_t len,
                       size_t elem)
{
    apr_size_t n = elem ? len / elem : 0, i, j;

    /* Byte j of element i goes to plane j, as numcodecs' Shuffle and
     * HDF5's shuffle filter order them; a tail shorter than one element
     * stays where it is. */
    for (i = 0; i < n; i++) {
        for (j = 0; j < elem; j++) {
            out[j * n + i] = in[i * elem + j];
        }
    }
    memcpy(out + n * elem, in + n * elem, len - n * elem);
}

/* Deflate's largest stored block (RFC 1951, 3.2.4). */
#define STORED_MAX 65535

apr_status_t h5s3_zarr_zlib_stored_size(apr_size_t *out, apr_size_t len)
{
    apr_size_t blocks = len / STORED_MAX + (len % STORED_MAX || !len), hdr;

    /* 2 bytes of zlib header, 5 per block, 4 of Adler-32 (RFC 1950). */
    if (!H5S3_MUL(&hdr, blocks, 5) || !H5S3_ADD(&hdr, hdr, 6)
        || !H5S3_ADD(out, len, hdr)) {
        return H5S3_E_TOOLARGE;
    }
    return APR_SUCCESS;
}

apr_size_t h5s3_zarr_zlib_stored(char *out, const char *in, apr_size_t len)
{
    unsigned char *o = (unsigned char *)out;
    const unsigned char *s = (const unsigned char *)in;
    apr_uint32_t a = 1, b = 0;
    apr_size_t i, at = 0;

    /* CMF 0x78 (deflate, 32K window), FLG 0x01: 0x7801 % 31 == 0. */
    *o++ = 0x78;
    *o++ = 0x01;
    do {
        apr_size_t n = len - at < STORED_MAX ? len - at : STORED_MAX;

        *o++ = at + n == len ? 1 : 0;           /* BFINAL, BTYPE 00 */
        *o++ = (unsigned char)(n & 0xff);
        *o++ = (unsigned char)(n >> 8);
        *o++ = (unsigned char)(~n & 0xff);
        *o++ = (unsigned char)((~n >> 8) & 0xff);
        memcpy(o, s + at, n);
        o += n;
        at += n;
    } while (at < len);
    for (i = 0; i < len; i++) {
        a = (a + s[i]) % 65521;
        b = (b + a) % 65521;
    }
    *o++ = (unsigned char)(b >> 8);
    *o++ = (unsigned char)b;
    *o++ = (unsigned char)(a >> 8);
    *o++ = (unsigned char)a;
    return (apr_size_t)((char *)o - out);
}
