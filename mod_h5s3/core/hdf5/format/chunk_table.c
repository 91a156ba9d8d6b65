/*
 * The table of the allocated chunks a selection touches, as a chunk
 * index gives them (chunk_btree.c) or HDF5 does (hdf5/read_ahead.c): grown
 * within the process's memory budget, bounded in length.
 */
#include <stdlib.h>
#include <string.h>

#include "hdf5/format/h5s3_h5_format_private.h"

void h5s3_h5_chunks_free(h5s3_h5_chunks *c)
{
    if (c) {
        free(c->coords);
        free(c->addr);
        free(c->size);
        free(c->mask);
        h5s3_h5_mem_release(c->reserved);
        free(c);
    }
}

int h5s3_h5_chunks_add(h5s3_h5_chunks *c, int *cap, const hsize_t *coord,
                       apr_off_t addr, apr_size_t size, unsigned mask)
{
    if (c->n == *cap) {
        int ncap = *cap ? 2 * *cap : 256;
        hsize_t *co;
        apr_off_t *ad;
        apr_size_t *sz;
        unsigned *mk;
        apr_uint64_t bytes = (apr_uint64_t)ncap
                             * ((apr_uint64_t)c->rank * sizeof(*co)
                                + sizeof(*ad) + sizeof(*sz) + sizeof(*mk));

        if (ncap > H5S3_FMT_MAX_TABLE || c->rank < 1 || c->rank > H5S_MAX_RANK
            || h5s3_h5_mem_reserve(bytes - c->reserved) != APR_SUCCESS) {
            return 0;
        }
        c->reserved = bytes;
        co = realloc(c->coords, (apr_size_t)ncap * (apr_size_t)c->rank
                                * sizeof(*co));
        if (co) {
            c->coords = co;
        }
        ad = realloc(c->addr, (apr_size_t)ncap * sizeof(*ad));
        if (ad) {
            c->addr = ad;
        }
        sz = realloc(c->size, (apr_size_t)ncap * sizeof(*sz));
        if (sz) {
            c->size = sz;
        }
        mk = realloc(c->mask, (apr_size_t)ncap * sizeof(*mk));
        if (mk) {
            c->mask = mk;
        }
        if (!co || !ad || !sz || !mk) {
            return 0;
        }
        *cap = ncap;
    }
    memcpy(c->coords + (apr_size_t)c->n * (apr_size_t)c->rank, coord,
           (apr_size_t)c->rank * sizeof(*coord));
    c->addr[c->n] = addr;
    c->size[c->n] = size;
    c->mask[c->n] = mask;
    c->n++;
    return 1;
}
