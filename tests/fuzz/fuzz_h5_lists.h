/*
 * HDF5's free-list caps, set alike by the fuzz harness (fuzz_h5.h) and
 * by the floor it is measured against (bench_h5_floor.c).
 *
 * HDF5 allocates its metadata cache (a struct of about 1 MiB) on every
 * open.  Its free lists are capped at 64 KiB a list by default, so the
 * struct goes back to malloc at every close; under AddressSanitizer a
 * block that large is a fresh mmap each time, whose page faults cost
 * more than the rest of the open.  Larger caps let HDF5 recycle it, as
 * glibc would in production (its mmap threshold rises after the first
 * such free).  A floor without them measures that mmap, not HDF5: 0.55
 * ms an open and close instead of 0.15 (tests/fuzz/README.md).
 */
#ifndef H5S3_FUZZ_H5_LISTS_H
#define H5S3_FUZZ_H5_LISTS_H

#include <hdf5.h>

static inline herr_t fuzz_h5_free_lists(void)
{
    /* 64 MiB for all lists of a kind, 16 MiB for one list: room for the
     * metadata cache struct, still bounded. */
    return H5set_free_list_limits(64 << 20, 16 << 20, 64 << 20, 16 << 20,
                                  64 << 20, 16 << 20);
}

#endif
