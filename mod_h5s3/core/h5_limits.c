/*
 * Per-request limits on what a file can make the module do (see
 * h5s3_h5_file.h): the budgets, their names, and charging the request
 * current on this thread.
 */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "h5s3_h5_file.h"
#include "h5s3_checked.h"
#include "h5s3_errors.h"

typedef struct limit_def {
    const char *name;
    apr_uint64_t dflt;
    int bytes;
    const char *what;           /* for the error: "more than N <what>" */
} limit_def;

#define MIB ((apr_uint64_t)1024 * 1024)

static const limit_def defs[H5S3_H5_LIMIT_COUNT] = {
    /* A 2000x2000 float64 window of a dataset in small chunks, or a wide
     * strided plane, reads at most a few hundred MiB. */
    {"read-bytes", 1024 * MIB, 1, "bytes read from the file"},
    {"prefetch-bytes", 512 * MIB, 1, "bytes fetched ahead"},
    {"prefetch-ranges", 65536, 0, "byte ranges fetched ahead"},
    /* Index nodes walked: a B-tree over a million chunks has ~16k. */
    {"index-nodes", 65536, 0, "index nodes walked"},
    {"entries", 100000, 0, "links listed"},
    {"vlen-bytes", 64 * MIB, 1, "bytes of variable-length data"},
};

void h5s3_h5_limits_default(h5s3_h5_limits *l)
{
    int k;

    for (k = 0; k < H5S3_H5_LIMIT_COUNT; k++) {
        l->max[k] = defs[k].dflt;
    }
}

const char *h5s3_h5_limit_name(h5s3_h5_limit_kind k)
{
    return (unsigned)k < H5S3_H5_LIMIT_COUNT ? defs[k].name : "?";
}

int h5s3_h5_limit_lookup(const char *name)
{
    int k;

    for (k = 0; k < H5S3_H5_LIMIT_COUNT; k++) {
        if (!strcmp(name, defs[k].name)) {
            return k;
        }
    }
    return -1;
}

int h5s3_h5_limit_is_bytes(h5s3_h5_limit_kind k)
{
    return (unsigned)k < H5S3_H5_LIMIT_COUNT && defs[k].bytes;
}

apr_uint64_t h5s3_h5_limit(h5s3_h5_limit_kind k)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();

    if ((unsigned)k >= H5S3_H5_LIMIT_COUNT) {
        return 0;
    }
    return rq && rq->limits ? rq->limits->max[k] : defs[k].dflt;
}

apr_status_t h5s3_h5_charge(h5s3_h5_limit_kind k, apr_uint64_t n)
{
    h5s3_h5_request *rq = h5s3_h5_request_current();
    apr_uint64_t max = h5s3_h5_limit(k), total;

    if ((unsigned)k >= H5S3_H5_LIMIT_COUNT) {
        return H5S3_E_INVALID;
    }
    if (rq == NULL) {
        return n <= max ? APR_SUCCESS : H5S3_E_LIMIT;
    }
    if (rq->why) {
        return H5S3_E_LIMIT;    /* one limit exceeded ends the request */
    }
    if (!H5S3_ADD(&total, rq->spent[k], n) || total > max) {
        snprintf(rq->why_buf, sizeof(rq->why_buf),
                 "The file would need more than %" APR_UINT64_T_FMT
                 " %s for this request (limit %s)", max, defs[k].what,
                 defs[k].name);
        rq->why = rq->why_buf;
        return H5S3_E_LIMIT;
    }
    rq->spent[k] = total;
    return APR_SUCCESS;
}
