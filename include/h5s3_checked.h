/*
 * Overflow-checked arithmetic for sizes, counts and offsets that come
 * from stored objects (HDF5 headers, S3 answers) or from requests.
 * Every product or sum of such numbers goes through these: a file that
 * declares a shape of (1, 16384, 2^50+1) must get an error, never a
 * wrapped product that sizes a buffer or ends a loop early.
 *
 * H5S3_MUL and H5S3_ADD are type-generic (GCC/Clang builtins): the result
 * must fit the type of *out, so storing into a 32-bit or a size_t
 * variable also checks the narrowing.  Each is true when the result fits
 * (and stored), false when it would not (*out is then unspecified).
 */
#ifndef H5S3_CHECKED_H
#define H5S3_CHECKED_H

#include <stdint.h>

#define H5S3_MUL(out, a, b) (!__builtin_mul_overflow((a), (b), (out)))
#define H5S3_ADD(out, a, b) (!__builtin_add_overflow((a), (b), (out)))

/*
 * The product of n dimensions (hsize_t, as HDF5 reports them) times elem
 * (1 for a plain element count), if it fits and is at most cap (use
 * UINT64_MAX for none).  The empty product (n == 0, a scalar) is elem.
 * Any zero dimension gives 0, whatever the others: an empty selection
 * never overflows.
 */
static inline int h5s3_dims_product(unsigned long long *out,
                                    const unsigned long long *dims, int n,
                                    unsigned long long elem,
                                    unsigned long long cap)
{
    unsigned long long r = elem;
    int i;

    for (i = 0; i < n; i++) {
        if (dims[i] == 0) {
            *out = 0;
            return 1;
        }
    }
    for (i = 0; i < n; i++) {
        if (!H5S3_MUL(&r, r, dims[i])) {
            return 0;
        }
    }
    if (r > cap) {
        return 0;
    }
    *out = r;
    return 1;
}

#endif
