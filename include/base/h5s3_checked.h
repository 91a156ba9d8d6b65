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

/*
 * ceil(a / b) without the wrap of (a + b - 1) / b, which a dimension near
 * 2^64 (a hostile file's) would cause; 0 when b is 0.
 */
static inline unsigned long long h5s3_ceil_div(unsigned long long a,
                                               unsigned long long b)
{
    return b ? a / b + (a % b != 0) : 0;
}

/*
 * One past the last index a strided selection touches, start + (count -
 * 1) * stride + 1 (start when count is 0), if it fits: a selection lies
 * within a dimension of size dim when this is true and *end <= dim.
 */
static inline int h5s3_slab_end(unsigned long long *end,
                                unsigned long long start,
                                unsigned long long stride,
                                unsigned long long count)
{
    unsigned long long span;

    if (count == 0) {
        *end = start;
        return 1;
    }
    return H5S3_MUL(&span, count - 1, stride) && H5S3_ADD(&span, span, 1)
           && H5S3_ADD(end, start, span);
}

#endif
