/*
 * A dataset's filter pipeline as the HDF Viewer reports it.  h5py names
 * only gzip, lzf and szip as "compression"; the viewer lists that one
 * first, then shuffle and fletcher32.  We append every other filter
 * (plugins such as lz4, blosc, bzip2, zstd; nbit; scaleoffset) with its
 * registered id, which upstream silently left out.
 */
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_filters.h"
#include "json/h5s3_text.h"

#define FILTER_LZF 32000
#define MAX_CD 32

static const struct {
    H5Z_filter_t id;
    const char *name;
} known_filters[] = {
    { 1, "gzip" },
    { 2, "shuffle" },
    { 3, "fletcher32" },
    { 4, "szip" },
    { 5, "nbit" },
    { 6, "scaleoffset" },
    { 307, "bzip2" },
    { 32000, "lzf" },
    { 32001, "blosc" },
    { 32002, "mafisc" },
    { 32003, "snappy" },
    { 32004, "lz4" },
    { 32008, "bitshuffle" },
    { 32013, "zfp" },
    { 32014, "fpzip" },
    { 32015, "zstd" },
    { 32017, "sz" },
    { 32018, "fcidecomp" },
    { 32024, "sz3" },
    { 32026, "blosc2" },
};

const char *h5s3_h5_filter_name(H5Z_filter_t id, const char *hdf5_name,
                                apr_pool_t *p)
{
    size_t i;

    for (i = 0; i < sizeof(known_filters) / sizeof(known_filters[0]); i++)
        if (known_filters[i].id == id)
            return known_filters[i].name;
    if (hdf5_name && *hdf5_name)
        return h5s3_utf8_clean(hdf5_name, p);
    return apr_psprintf(p, "filter_%d", (int)id);
}

/*
 * Filter ids HDF5 found no plugin for, remembered per process.  For an id
 * it does not know, H5Zfilter_avail searches the plugin directories and
 * loads every plugin there, on every call: a file naming a made-up
 * filter would have each request open and load a directory of shared
 * objects.  Plugins are installed with a package and a restart (new
 * processes), so a miss stays a miss for the life of the process.
 * Lock-free: a slot is claimed with a compare-and-swap; when all are
 * taken, HDF5 is simply asked again.
 */
#define MISSING_SLOTS 64

static volatile apr_uint32_t missing_ids[MISSING_SLOTS];

static int known_missing(H5Z_filter_t f)
{
    int i;

    for (i = 0; i < MISSING_SLOTS; i++) {
        apr_uint32_t v = apr_atomic_read32(&missing_ids[i]);

        if (v == 0) {
            return 0;
        }
        if (v == (apr_uint32_t)f + 1) {
            return 1;
        }
    }
    return 0;
}

static void remember_missing(H5Z_filter_t f)
{
    int i;

    for (i = 0; i < MISSING_SLOTS; i++) {
        apr_uint32_t v = apr_atomic_cas32(&missing_ids[i],
                                          (apr_uint32_t)f + 1, 0);

        if (v == 0 || v == (apr_uint32_t)f + 1) {
            return;
        }
    }
}

static int filter_available(H5Z_filter_t f)
{
    if (known_missing(f)) {
        return 0;
    }
    if (H5Zfilter_avail(f) > 0) {
        return 1;
    }
    remember_missing(f);
    return 0;
}

int h5s3_h5_filter_missing(H5Z_filter_t *id, const char **name, hid_t dcpl,
                           apr_pool_t *p)
{
    int i, n = H5Pget_nfilters(dcpl);

    for (i = 0; i < n; i++) {
        unsigned flags = 0, cd[MAX_CD];
        size_t ncd = MAX_CD;
        char hname[256] = "";
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd,
                                        sizeof(hname), hname, NULL);

        if (f >= 0 && !filter_available(f)) {
            *id = f;
            *name = h5s3_h5_filter_name(f, hname, p);
            return 1;
        }
    }
    return 0;
}

typedef struct {
    H5Z_filter_t id;
    unsigned cd[MAX_CD];
    size_t ncd;
    char name[256];
} filter_rec;

apr_status_t h5s3_h5_filters(json_t **filters, const char **compression,
                             json_t **compression_opts, hid_t dcpl,
                             apr_pool_t *p)
{
    int i, n, comp = -1, shuffle = -1, fletcher = -1;
    filter_rec *recs;
    json_t *list = NULL;
    static const H5Z_filter_t comp_order[] = { H5Z_FILTER_DEFLATE,
                                               FILTER_LZF,
                                               H5Z_FILTER_SZIP };
    size_t k;

    if (filters)
        *filters = NULL;
    if (compression)
        *compression = NULL;
    if (compression_opts)
        *compression_opts = NULL;
    n = H5Pget_nfilters(dcpl);
    if (n < 0)
        return H5S3_E_NOTHDF5;
    recs = apr_pcalloc(p, sizeof(*recs) * (n ? n : 1));
    for (i = 0; i < n; i++) {
        unsigned flags, config;

        recs[i].ncd = MAX_CD;
        recs[i].id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &recs[i].ncd,
                                    recs[i].cd, sizeof(recs[i].name),
                                    recs[i].name, &config);
        if (recs[i].id < 0)
            return H5S3_E_NOTHDF5;
        if (recs[i].ncd > MAX_CD)
            recs[i].ncd = MAX_CD;
        if (recs[i].id == H5Z_FILTER_SHUFFLE && shuffle < 0)
            shuffle = i;
        if (recs[i].id == H5Z_FILTER_FLETCHER32 && fletcher < 0)
            fletcher = i;
    }
    /* h5py: the first of gzip, lzf, szip present, in that order. */
    for (k = 0; k < sizeof(comp_order) / sizeof(comp_order[0]) && comp < 0;
         k++)
        for (i = 0; i < n && comp < 0; i++)
            if (recs[i].id == comp_order[k])
                comp = i;

    if (comp >= 0) {
        filter_rec *r = &recs[comp];
        const char *cname = h5s3_h5_filter_name(r->id, NULL, p);
        json_t *opts = NULL;

        if (r->id == H5Z_FILTER_DEFLATE && r->ncd >= 1 && r->cd[0])
            opts = json_integer(r->cd[0]);
        else if (r->id == H5Z_FILTER_SZIP && r->ncd >= 2) {
            const char *mask = (r->cd[0] & H5_SZIP_EC_OPTION_MASK) ? "ec"
                               : (r->cd[0] & H5_SZIP_NN_OPTION_MASK) ? "nn"
                               : NULL;

            if (mask)
                opts = json_pack("[s, i]", mask, (int)r->cd[1]);
        }
        if (compression)
            *compression = cname;
        if (filters) {
            list = json_array();
            json_array_append_new(list, json_pack("{s:s, s:i}", "name", cname,
                                                  "id", (int)r->id));
            if (r->id == H5Z_FILTER_DEFLATE && opts)
                json_object_set(json_array_get(list, 0), "level", opts);
        }
        if (compression_opts)
            *compression_opts = opts;
        else if (opts)
            json_decref(opts);
    }
    if (!filters)
        return APR_SUCCESS;
    if (!list)
        list = json_array();
    if (!list)
        return APR_ENOMEM;
    if (shuffle >= 0)
        json_array_append_new(list, json_pack("{s:s, s:i}", "name", "shuffle",
                                              "id", H5Z_FILTER_SHUFFLE));
    if (fletcher >= 0)
        json_array_append_new(list, json_pack("{s:s, s:i}", "name",
                                              "fletcher32", "id",
                                              H5Z_FILTER_FLETCHER32));
    for (i = 0; i < n; i++) {
        if (i == comp || i == shuffle || i == fletcher)
            continue;
        json_array_append_new(list, json_pack(
            "{s:s, s:i}", "name",
            h5s3_h5_filter_name(recs[i].id, recs[i].name, p),
            "id", (int)recs[i].id));
    }
    *filters = list;
    return APR_SUCCESS;
}
