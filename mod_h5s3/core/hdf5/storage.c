/*
 * Where a dataset keeps its raw data (see include/hdf5/h5s3_h5_storage.h).  Only the
 * dataset creation property list is read: HDF5 has parsed the layout and
 * external-file-list messages into it when the dataset was opened, and
 * reading it opens no external or source file.
 */
#include <apr_strings.h>

#include "hdf5/h5s3_h5_storage.h"
#include "json/h5s3_text.h"
#include "base/h5s3_errors.h"

/* Enough for any honest file; a hostile one may declare thousands. */
#define LIST_MAX 64
#define NAME_MAX_LEN 4096

static int external_count(hid_t dcpl)
{
    int n = H5Pget_external_count(dcpl);

    return n > 0 ? n : 0;
}

apr_status_t h5s3_h5_storage_check(h5s3_result *res, hid_t dcpl,
                                   const char *path, apr_pool_t *p)
{
    H5D_layout_t layout;

    if (dcpl < 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED,
                                  "Dataset '%s': its storage cannot be read",
                                  path);
    }
    layout = H5Pget_layout(dcpl);
    if (layout == H5D_VIRTUAL) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' is a "
                                  "virtual dataset, whose sources would be "
                                  "opened outside the object: this server "
                                  "never serves a virtual dataset's values",
                                  path);
    }
    if (external_count(dcpl) > 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' "
                                  "keeps its values in files outside the "
                                  "object (external raw data storage), which "
                                  "this server never reads", path);
    }
    if (layout < 0) {
        return h5s3_result_printf(res, H5S3_E_UNSUPPORTED, "Dataset '%s' has "
                                  "a storage layout this server cannot read",
                                  path);
    }
    return APR_SUCCESS;
}

static void external_json(json_t *o, hid_t dcpl, int n, apr_pool_t *p)
{
    json_t *list = json_array();
    char *name = apr_palloc(p, NAME_MAX_LEN);
    int i;

    for (i = 0; i < n && i < LIST_MAX; i++) {
        off_t offset = 0;
        hsize_t size = 0;

        name[0] = '\0';
        if (H5Pget_external(dcpl, (unsigned)i, NAME_MAX_LEN, name, &offset,
                            &size) < 0) {
            break;
        }
        name[NAME_MAX_LEN - 1] = '\0';
        json_array_append_new(list, json_pack(
            "{s:o, s:I, s:I}", "name", h5s3_json_str(name, p),
            "offset", (json_int_t)offset,
            /* H5F_UNLIMITED (all ones) reads as -1: "to the end". */
            "size", (json_int_t)size));
    }
    json_object_set_new(o, "external_files", list);
    if (n > LIST_MAX) {
        json_object_set_new(o, "external_file_count", json_integer(n));
    }
}

/* A string property of mapping i, bounded, or "" on failure. */
static const char *virtual_name(hid_t dcpl, size_t i, int dataset,
                                apr_pool_t *p)
{
    char *buf = apr_palloc(p, NAME_MAX_LEN);
    ssize_t n = dataset ? H5Pget_virtual_dsetname(dcpl, i, buf, NAME_MAX_LEN)
                        : H5Pget_virtual_filename(dcpl, i, buf, NAME_MAX_LEN);

    if (n < 0) {
        return "";
    }
    buf[NAME_MAX_LEN - 1] = '\0';
    return buf;
}

static void virtual_json(json_t *o, hid_t dcpl, apr_pool_t *p)
{
    json_t *list = json_array();
    size_t n = 0, i;

    if (H5Pget_virtual_count(dcpl, &n) < 0) {
        n = 0;
    }
    for (i = 0; i < n && i < LIST_MAX; i++) {
        json_array_append_new(list, json_pack(
            "{s:o, s:o}",
            "file", h5s3_json_str(virtual_name(dcpl, i, 0, p), p),
            "dataset", h5s3_json_str(virtual_name(dcpl, i, 1, p), p)));
    }
    json_object_set_new(o, "virtual_sources", list);
    if (n > LIST_MAX) {
        json_object_set_new(o, "virtual_source_count",
                            json_integer((json_int_t)n));
    }
}

void h5s3_h5_storage_json(json_t *o, hid_t dcpl, apr_pool_t *p)
{
    const char *name;
    int next;

    switch (H5Pget_layout(dcpl)) {
    case H5D_COMPACT:
        name = "compact";
        break;
    case H5D_CONTIGUOUS:
        next = external_count(dcpl);
        if (next > 0) {
            json_object_set_new(o, "layout", json_string("external"));
            external_json(o, dcpl, next, p);
            return;
        }
        name = "contiguous";
        break;
    case H5D_CHUNKED:
        name = "chunked";
        break;
    case H5D_VIRTUAL:
        json_object_set_new(o, "layout", json_string("virtual"));
        virtual_json(o, dcpl, p);
        return;
    default:
        name = "unknown";
        break;
    }
    json_object_set_new(o, "layout", json_string(name));
}

json_t *h5s3_h5_chunks_json(hid_t dcpl)
{
    hsize_t c[H5S_MAX_RANK];
    json_t *chunks;
    int i, n;

    if (dcpl < 0 || H5Pget_layout(dcpl) != H5D_CHUNKED) {
        return NULL;
    }
    n = H5Pget_chunk(dcpl, H5S_MAX_RANK, c);
    if (n <= 0) {
        return NULL;
    }
    chunks = json_array();
    for (i = 0; i < n; i++) {
        json_array_append_new(chunks, json_integer((json_int_t)c[i]));
    }
    return chunks;
}
