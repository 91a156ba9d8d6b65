/*
 * HDF5 type -> the NumPy dtype h5py would give it, and that dtype's
 * spellings.  We first build a small model of the NumPy dtype (kind,
 * byte order, item size, fields, subarray), following h5py 3's
 * TypeID.py_dtype rules, then print it with NumPy's own formatting rules
 * (numpy/core/_dtype.py), so the strings match Python byte for byte.
 */
#include <string.h>
#include <stdio.h>

#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_types.h"

#define MAX_DEPTH 32

typedef struct npdt npdt;
struct npdt {
    char kind;          /* b i u f c S V O */
    char order;         /* NumPy byteorder attribute: < > = | */
    size_t itemsize;
    int vlen;           /* dtype.metadata mentions vlen */
    int nfields;        /* > 0: structured */
    const char **names;
    size_t *offsets;
    npdt **fields;
    npdt *base;         /* subarray base, with ndims/dims */
    int ndims;
    hsize_t dims[H5S_MAX_RANK];
};

static int host_is_le(void)
{
    const unsigned short one = 1;
    return *(const unsigned char *)&one == 1;
}

static int order_is_be(hid_t t)
{
    return H5Tget_order(t) == H5T_ORDER_BE;
}

/* NumPy byteorder of a multi-byte number stored in ORDER. */
static char np_order(int big_endian, size_t size)
{
    if (size <= 1)
        return '|';
    if (big_endian == !host_is_le())
        return '=';
    return big_endian ? '>' : '<';
}

int h5s3_h5_type_is_bool(hid_t type)
{
    int n, i, ok = 1;

    if (H5Tget_class(type) != H5T_ENUM || H5Tget_nmembers(type) != 2)
        return 0;
    n = 2;
    for (i = 0; i < n && ok; i++) {
        char *name = H5Tget_member_name(type, (unsigned)i);
        long long v = 0;
        hid_t sup = H5Tget_super(type);
        unsigned char raw[16];

        memset(raw, 0, sizeof(raw));
        ok = name != NULL && sup >= 0 && H5Tget_size(sup) <= sizeof(raw)
             && H5Tget_member_value(type, (unsigned)i, raw) >= 0
             && H5Tconvert(sup, H5T_NATIVE_LLONG, 1, raw, NULL,
                           H5P_DEFAULT) >= 0;
        if (ok) {
            memcpy(&v, raw, sizeof(v));
            ok = (strcmp(name, "FALSE") == 0 && v == 0)
                 || (strcmp(name, "TRUE") == 0 && v == 1);
        }
        if (sup >= 0)
            H5Tclose(sup);
        if (name)
            H5free_memory(name);
    }
    /* Both names must differ, which the value check already ensures. */
    return ok;
}

int h5s3_h5_type_is_complex(hid_t type)
{
    hid_t m0 = -1, m1 = -1;
    char *n0 = NULL, *n1 = NULL;
    int ok = 0;
    size_t s;

    if (H5Tget_class(type) != H5T_COMPOUND || H5Tget_nmembers(type) != 2)
        return 0;
    n0 = H5Tget_member_name(type, 0);
    n1 = H5Tget_member_name(type, 1);
    m0 = H5Tget_member_type(type, 0);
    m1 = H5Tget_member_type(type, 1);
    if (!n0 || !n1 || m0 < 0 || m1 < 0)
        goto cleanup;
    if (strcmp(n0, "r") || strcmp(n1, "i"))
        goto cleanup;
    if (H5Tget_class(m0) != H5T_FLOAT || H5Tget_class(m1) != H5T_FLOAT)
        goto cleanup;
    s = H5Tget_size(m0);
    ok = (s == 4 || s == 8 || s == 16) && H5Tget_size(m1) == s
         && H5Tget_member_offset(type, 0) == 0
         && H5Tget_member_offset(type, 1) == s
         && H5Tget_size(type) == 2 * s;
cleanup:
    if (n0)
        H5free_memory(n0);
    if (n1)
        H5free_memory(n1);
    if (m0 >= 0)
        H5Tclose(m0);
    if (m1 >= 0)
        H5Tclose(m1);
    return ok;
}

static apr_status_t np_build(npdt **out, hid_t t, int depth, apr_pool_t *p);

static void np_void(npdt *d, size_t size)
{
    d->kind = 'V';
    d->order = '|';
    d->itemsize = size;
}

static apr_status_t np_int(npdt *d, hid_t t, char kind)
{
    size_t size = H5Tget_size(t);

    if (size != 1 && size != 2 && size != 4 && size != 8) {
        np_void(d, size);   /* NumPy has no such integer */
        return APR_SUCCESS;
    }
    d->kind = kind;
    d->itemsize = size;
    d->order = np_order(order_is_be(t), size);
    return APR_SUCCESS;
}

static apr_status_t np_compound(npdt *d, hid_t t, int depth, apr_pool_t *p)
{
    int i, n = H5Tget_nmembers(t);
    apr_status_t rv = APR_SUCCESS;

    if (n < 0)
        return H5S3_E_UNSUPPORTED;
    d->itemsize = H5Tget_size(t);
    if (h5s3_h5_type_is_complex(t)) {
        hid_t m0 = H5Tget_member_type(t, 0);
        size_t s = H5Tget_size(m0);

        d->kind = 'c';
        /* h5py builds dtype(member.byteorder + "c" + 2*size): NumPy then
         * normalises a native order to '='. */
        d->order = np_order(order_is_be(m0), 2 * s);
        H5Tclose(m0);
        return APR_SUCCESS;
    }
    d->kind = 'V';
    d->order = '|';
    d->nfields = n;
    d->names = apr_pcalloc(p, sizeof(*d->names) * (n ? n : 1));
    d->offsets = apr_pcalloc(p, sizeof(*d->offsets) * (n ? n : 1));
    d->fields = apr_pcalloc(p, sizeof(*d->fields) * (n ? n : 1));
    for (i = 0; i < n && rv == APR_SUCCESS; i++) {
        char *name = H5Tget_member_name(t, (unsigned)i);
        hid_t mt = H5Tget_member_type(t, (unsigned)i);

        if (!name || mt < 0)
            rv = H5S3_E_UNSUPPORTED;
        else {
            d->names[i] = apr_pstrdup(p, name);
            d->offsets[i] = H5Tget_member_offset(t, (unsigned)i);
            rv = np_build(&d->fields[i], mt, depth + 1, p);
        }
        if (name)
            H5free_memory(name);
        if (mt >= 0)
            H5Tclose(mt);
    }
    if (n == 0)
        d->nfields = 0;     /* an empty compound prints as plain void */
    return rv;
}

static apr_status_t np_build(npdt **out, hid_t t, int depth, apr_pool_t *p)
{
    npdt *d = apr_pcalloc(p, sizeof(*d));
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    apr_status_t rv = APR_SUCCESS;
    hid_t sup = -1;

    *out = d;
    if (depth > MAX_DEPTH || cls == H5T_NO_CLASS || size == 0)
        return H5S3_E_UNSUPPORTED;
    switch (cls) {
    case H5T_INTEGER:
        rv = np_int(d, t, H5Tget_sign(t) == H5T_SGN_NONE ? 'u' : 'i');
        break;
    case H5T_BITFIELD:
        /* h5py reads bitfields as unsigned integers of the same size. */
        rv = np_int(d, t, 'u');
        break;
    case H5T_FLOAT:
        if (size != 2 && size != 4 && size != 8 && size != 16) {
            np_void(d, size);
            break;
        }
        d->kind = 'f';
        d->itemsize = size;
        /* h5py 3 gives floats an explicit byte order ('<' on a little
         * endian host, not NumPy's usual '='). */
        d->order = order_is_be(t) ? '>' : '<';
        break;
    case H5T_STRING:
        if (H5Tis_variable_str(t) > 0) {
            d->kind = 'O';
            d->itemsize = sizeof(void *);
            d->order = '|';
            d->vlen = 1;
        } else {
            d->kind = 'S';
            d->itemsize = size;
            d->order = '|';
        }
        break;
    case H5T_OPAQUE:
    case H5T_TIME:
        np_void(d, size);
        break;
    case H5T_REFERENCE:
        d->kind = 'O';
        d->itemsize = sizeof(void *);
        d->order = '|';
        break;
    case H5T_VLEN:
        d->kind = 'O';
        d->itemsize = sizeof(void *);
        d->order = '|';
        d->vlen = 1;
        break;
    case H5T_ENUM:
        if (h5s3_h5_type_is_bool(t)) {
            d->kind = 'b';
            d->itemsize = 1;
            d->order = '|';
            break;
        }
        sup = H5Tget_super(t);
        if (sup < 0)
            return H5S3_E_UNSUPPORTED;
        rv = np_build(out, sup, depth + 1, p);
        break;
    case H5T_COMPOUND:
        rv = np_compound(d, t, depth, p);
        break;
    case H5T_ARRAY: {
        int nd = H5Tget_array_ndims(t);

        if (nd <= 0 || nd > H5S_MAX_RANK)
            return H5S3_E_UNSUPPORTED;
        sup = H5Tget_super(t);
        if (sup < 0 || H5Tget_array_dims2(t, d->dims) < 0) {
            rv = H5S3_E_UNSUPPORTED;
            break;
        }
        d->ndims = nd;
        d->kind = 'V';
        d->order = '|';
        d->itemsize = size;
        rv = np_build(&d->base, sup, depth + 1, p);
        break;
    }
    default:
        np_void(d, size);
        break;
    }
    if (sup >= 0)
        H5Tclose(sup);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Printing, after numpy/core/_dtype.py                                 */

/* Python repr() of a str: single quotes unless the text has a single
 * quote and no double quote. */
static const char *py_repr(const char *s, apr_pool_t *p)
{
    int dq = strchr(s, '\'') && !strchr(s, '"');
    char q = dq ? '"' : '\'';
    size_t n = strlen(s);
    char *buf = apr_palloc(p, n * 4 + 3), *o = buf;
    const unsigned char *c;

    *o++ = q;
    for (c = (const unsigned char *)s; *c; c++) {
        if (*c == '\\' || *c == (unsigned char)q) {
            *o++ = '\\';
            *o++ = (char)*c;
        } else if (*c == '\n') {
            memcpy(o, "\\n", 2);
            o += 2;
        } else if (*c == '\r') {
            memcpy(o, "\\r", 2);
            o += 2;
        } else if (*c == '\t') {
            memcpy(o, "\\t", 2);
            o += 2;
        } else if (*c < 0x20 || *c == 0x7f) {
            o += sprintf(o, "\\x%02x", *c);
        } else {
            *o++ = (char)*c;
        }
    }
    *o++ = q;
    *o = '\0';
    return buf;
}

static const char *shape_repr(const npdt *d, apr_pool_t *p)
{
    const char *s = "(";
    int i;

    for (i = 0; i < d->ndims; i++)
        s = apr_psprintf(p, "%s%s%" APR_UINT64_T_FMT, s, i ? ", " : "",
                         (apr_uint64_t)d->dims[i]);
    return apr_pstrcat(p, s, d->ndims == 1 ? ",)" : ")", NULL);
}

static char order_char(char order)
{
    if (order == '=')
        return host_is_le() ? '<' : '>';
    return order;
}

static const char *typestr(const npdt *d, apr_pool_t *p)
{
    switch (d->kind) {
    case 'b':
        return "|b1";
    case 'O':
        return "|O";
    case 'S':
    case 'V':
        return apr_psprintf(p, "|%c%lu", d->kind, (unsigned long)d->itemsize);
    default:
        return apr_psprintf(p, "%c%c%lu", order_char(d->order), d->kind,
                            (unsigned long)d->itemsize);
    }
}

static const char *struct_str(const npdt *d, apr_pool_t *p);

/* NumPy _construction_repr(dtype, short=True). */
static const char *short_repr(const npdt *d, apr_pool_t *p)
{
    if (d->nfields > 0)
        return struct_str(d, p);
    if (d->base)
        return apr_psprintf(p, "(%s, %s)", short_repr(d->base, p),
                            shape_repr(d, p));
    switch (d->kind) {
    case 'b':
        return "'?'";
    case 'O':
        return "'O'";
    case 'S':
    case 'V':
        return apr_psprintf(p, "'%c%lu'", d->kind, (unsigned long)d->itemsize);
    default:
        if (d->order == '|')
            return apr_psprintf(p, "'%c%lu'", d->kind,
                                (unsigned long)d->itemsize);
        return apr_psprintf(p, "'%s'", typestr(d, p));
    }
}

/* NumPy prints the compact list form only for packed structs. */
static int is_packed(const npdt *d)
{
    size_t total = 0;
    int i;

    for (i = 0; i < d->nfields; i++) {
        if (d->offsets[i] != total)
            return 0;
        total += d->fields[i]->itemsize;
    }
    return total == d->itemsize;
}

static const char *struct_str(const npdt *d, apr_pool_t *p)
{
    const char *s;
    int i;

    if (is_packed(d)) {
        s = "[";
        for (i = 0; i < d->nfields; i++) {
            const npdt *f = d->fields[i];
            const char *item;

            if (f->base && f->nfields == 0)
                item = apr_psprintf(p, "(%s, %s, %s)",
                                    py_repr(d->names[i], p),
                                    short_repr(f->base, p),
                                    shape_repr(f, p));
            else
                item = apr_psprintf(p, "(%s, %s)", py_repr(d->names[i], p),
                                    short_repr(f, p));
            s = apr_pstrcat(p, s, i ? ", " : "", item, NULL);
        }
        return apr_pstrcat(p, s, "]", NULL);
    }
    s = "{'names': [";
    for (i = 0; i < d->nfields; i++)
        s = apr_pstrcat(p, s, i ? ", " : "", py_repr(d->names[i], p), NULL);
    s = apr_pstrcat(p, s, "], 'formats': [", NULL);
    for (i = 0; i < d->nfields; i++)
        s = apr_pstrcat(p, s, i ? ", " : "", short_repr(d->fields[i], p),
                        NULL);
    s = apr_pstrcat(p, s, "], 'offsets': [", NULL);
    for (i = 0; i < d->nfields; i++)
        s = apr_psprintf(p, "%s%s%lu", s, i ? ", " : "",
                         (unsigned long)d->offsets[i]);
    return apr_psprintf(p, "%s], 'itemsize': %lu}", s,
                        (unsigned long)d->itemsize);
}

/* str(np.dtype). */
static const char *np_str(const npdt *d, apr_pool_t *p)
{
    unsigned long bits = (unsigned long)d->itemsize * 8;

    if (d->nfields > 0)
        return struct_str(d, p);
    if (d->base)
        return apr_psprintf(p, "(%s, %s)", short_repr(d->base, p),
                            shape_repr(d, p));
    if (d->order != '|' && d->order != '='
        && order_char(d->order) != order_char('='))
        return typestr(d, p);   /* non-native order: "<f4" / ">f4" */
    switch (d->kind) {
    case 'b':
        return "bool";
    case 'i':
        return apr_psprintf(p, "int%lu", bits);
    case 'u':
        return apr_psprintf(p, "uint%lu", bits);
    case 'f':
        return apr_psprintf(p, "float%lu", bits);
    case 'c':
        return apr_psprintf(p, "complex%lu", bits);
    case 'O':
        return "object";
    default:
        return typestr(d, p);   /* "|S10", "|V8" */
    }
}

/* dtype.num on LP64 Linux. */
static int np_num(const npdt *d)
{
    if (d->nfields > 0 || d->base)
        return 20;
    switch (d->kind) {
    case 'b':
        return 0;
    case 'i':
        return d->itemsize == 1 ? 1 : d->itemsize == 2 ? 3
               : d->itemsize == 4 ? 5 : 7;
    case 'u':
        return d->itemsize == 1 ? 2 : d->itemsize == 2 ? 4
               : d->itemsize == 4 ? 6 : 8;
    case 'f':
        return d->itemsize == 2 ? 23 : d->itemsize == 4 ? 11
               : d->itemsize == 8 ? 12 : 13;
    case 'c':
        return d->itemsize == 8 ? 14 : d->itemsize == 16 ? 15 : 16;
    case 'O':
        return 17;
    case 'S':
        return 18;
    default:
        return 20;
    }
}

static apr_status_t model(npdt **out, hid_t type, apr_pool_t *p)
{
    if (type < 0 || !p)
        return H5S3_E_INVALID;
    return np_build(out, type, 0, p);
}

apr_status_t h5s3_h5_dtype_str(const char **out, hid_t type, apr_pool_t *p)
{
    npdt *d;
    apr_status_t rv = model(&d, type, p);

    *out = rv == APR_SUCCESS ? np_str(d, p) : NULL;
    return rv;
}

apr_status_t h5s3_h5_dtype_typestr(const char **out, hid_t type,
                                   apr_pool_t *p)
{
    npdt *d;
    apr_status_t rv = model(&d, type, p);

    *out = rv == APR_SUCCESS ? typestr(d, p) : NULL;
    return rv;
}

apr_status_t h5s3_h5_type_info(json_t **type_out, json_t **raw_out,
                               hid_t type, apr_pool_t *p)
{
    npdt *d;
    apr_status_t rv = model(&d, type, p);
    int is_int;
    const char *cls, *endian;

    if (type_out)
        *type_out = NULL;
    if (raw_out)
        *raw_out = NULL;
    if (rv != APR_SUCCESS)
        return rv;
    is_int = d->nfields == 0 && !d->base
             && (d->kind == 'i' || d->kind == 'u');
    if (is_int)
        cls = "Integer";
    else if (d->kind == 'f')
        cls = "Float";
    else if (d->kind == 'S' || d->kind == 'O')
        cls = "String";
    else if (d->kind == 'b')
        cls = "Boolean";
    else
        cls = "Unknown";
    switch (d->order) {
    case '<':
        endian = "little-endian";
        break;
    case '>':
        endian = "big-endian";
        break;
    case '=':
        endian = "native";
        break;
    default:
        endian = "not-applicable";
        break;
    }
    if (type_out) {
        *type_out = json_pack("{s:s, s:s, s:I}", "class", cls,
                              "endianness", endian,
                              "size", (json_int_t)d->itemsize * 8);
        if (*type_out && is_int)
            json_object_set_new(*type_out, "signed",
                                json_boolean(d->kind == 'i'));
    }
    if (raw_out) {
        *raw_out = json_pack("{s:i, s:I, s:b, s:b, s:I}",
                             "type", np_num(d),
                             "size", (json_int_t)d->itemsize,
                             "littleEndian",
                             d->order == '<' || d->order == '=',
                             "vlen", d->vlen,
                             "total_size", (json_int_t)d->itemsize);
        if (*raw_out && is_int)
            json_object_set_new(*raw_out, "signed",
                                json_boolean(d->kind == 'i'));
    }
    if ((type_out && !*type_out) || (raw_out && !*raw_out)) {
        if (type_out && *type_out)
            json_decref(*type_out);
        if (raw_out && *raw_out)
            json_decref(*raw_out);
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* h5grove type object                                                  */

/* h5grove's stringify_dtype: typestr, or {field: dtype} for structs. */
static json_t *grove_dtype(const npdt *d, apr_pool_t *p)
{
    json_t *o;
    int i;

    if (d->nfields == 0)
        return json_string(typestr(d, p));
    o = json_object();
    for (i = 0; o && i < d->nfields; i++)
        json_object_set_new(o, d->names[i], grove_dtype(d->fields[i], p));
    return o;
}

static json_t *grove_type(hid_t t, int depth, apr_pool_t *p);

static json_t *grove_members(hid_t t, int depth, apr_pool_t *p)
{
    json_t *m = json_object();
    int i, n = H5Tget_nmembers(t);

    for (i = 0; m && i < n; i++) {
        char *name = H5Tget_member_name(t, (unsigned)i);
        hid_t mt = H5Tget_member_type(t, (unsigned)i);

        if (name && mt >= 0)
            json_object_set_new(m, name, grove_type(mt, depth + 1, p));
        if (name)
            H5free_memory(name);
        if (mt >= 0)
            H5Tclose(mt);
    }
    return m;
}

static json_t *enum_members(hid_t t)
{
    json_t *m = json_object();
    int i, n = H5Tget_nmembers(t);
    hid_t sup = H5Tget_super(t);
    size_t ssize = sup >= 0 ? H5Tget_size(sup) : 0;

    for (i = 0; m && sup >= 0 && ssize <= 16 && i < n; i++) {
        char *name = H5Tget_member_name(t, (unsigned)i);
        unsigned char raw[16];
        long long v;

        memset(raw, 0, sizeof(raw));
        if (name && H5Tget_member_value(t, (unsigned)i, raw) >= 0
            && H5Tconvert(sup, H5T_NATIVE_LLONG, 1, raw, NULL,
                          H5P_DEFAULT) >= 0) {
            memcpy(&v, raw, sizeof(v));
            json_object_set_new(m, name, json_integer((json_int_t)v));
        }
        if (name)
            H5free_memory(name);
    }
    if (sup >= 0)
        H5Tclose(sup);
    return m;
}

static json_t *grove_type(hid_t t, int depth, apr_pool_t *p)
{
    H5T_class_t cls = H5Tget_class(t);
    npdt *d;
    json_t *o;
    hid_t sup;

    if (depth > MAX_DEPTH || np_build(&d, t, depth, p) != APR_SUCCESS)
        return json_null();
    o = json_pack("{s:i, s:I, s:o}", "class", (int)cls,
                  "size", (json_int_t)H5Tget_size(t),
                  "dtype", grove_dtype(d, p));
    if (!o)
        return json_null();
    switch (cls) {
    case H5T_INTEGER:
        json_object_set_new(o, "order", json_integer(H5Tget_order(t)));
        json_object_set_new(o, "sign", json_integer(H5Tget_sign(t)));
        break;
    case H5T_FLOAT:
    case H5T_BITFIELD:
        json_object_set_new(o, "order", json_integer(H5Tget_order(t)));
        break;
    case H5T_STRING:
        json_object_set_new(o, "cset", json_integer(H5Tget_cset(t)));
        json_object_set_new(o, "strpad", json_integer(H5Tget_strpad(t)));
        json_object_set_new(o, "vlen",
                            json_boolean(H5Tis_variable_str(t) > 0));
        break;
    case H5T_OPAQUE: {
        char *tag = H5Tget_tag(t);

        json_object_set_new(o, "tag", json_string(tag ? tag : ""));
        if (tag)
            H5free_memory(tag);
        break;
    }
    case H5T_COMPOUND:
        json_object_set_new(o, "members", grove_members(t, depth, p));
        break;
    case H5T_ENUM:
    case H5T_VLEN:
    case H5T_ARRAY:
        if (cls == H5T_ENUM)
            json_object_set_new(o, "members", enum_members(t));
        sup = H5Tget_super(t);
        if (sup >= 0) {
            json_object_set_new(o, "base", grove_type(sup, depth + 1, p));
            H5Tclose(sup);
        }
        if (cls == H5T_ARRAY) {
            hsize_t dims[H5S_MAX_RANK];
            int i, nd = H5Tget_array_ndims(t);
            json_t *a = json_array();

            if (nd > 0 && nd <= H5S_MAX_RANK
                && H5Tget_array_dims2(t, dims) >= 0)
                for (i = 0; i < nd; i++)
                    json_array_append_new(a, json_integer(
                                              (json_int_t)dims[i]));
            json_object_set_new(o, "dims", a);
        }
        break;
    default:
        break;
    }
    return o;
}

apr_status_t h5s3_h5_type_json(json_t **out, hid_t type, apr_pool_t *p)
{
    if (type < 0 || !p) {
        *out = NULL;
        return H5S3_E_INVALID;
    }
    *out = grove_type(type, 0, p);
    if (!*out)
        return APR_ENOMEM;
    if (json_is_null(*out)) {
        json_decref(*out);
        *out = NULL;
        return H5S3_E_UNSUPPORTED;
    }
    return APR_SUCCESS;
}

const char *h5s3_h5_class_name(H5T_class_t cls)
{
    switch (cls) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_TIME:
        return "time";
    case H5T_STRING:
        return "string";
    case H5T_BITFIELD:
        return "bitfield";
    case H5T_OPAQUE:
        return "opaque";
    case H5T_COMPOUND:
        return "compound";
    case H5T_REFERENCE:
        return "reference";
    case H5T_ENUM:
        return "enum";
    case H5T_VLEN:
        return "vlen";
    case H5T_ARRAY:
        return "array";
    default:
        return "unknown";
    }
}

hid_t h5s3_h5_mem_type(hid_t file_type)
{
    return H5Tget_native_type(file_type, H5T_DIR_ASCEND);
}
