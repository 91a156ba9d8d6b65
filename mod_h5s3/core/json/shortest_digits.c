/*
 * The shortest digits of a double or a float (see
 * include/json/h5s3_json_numbers.h).  They come from Ryu (Ulf Adams,
 * "Ryu: fast float-to-string conversion", PLDI 2018): the rounding
 * interval of the value is scaled by a power of ten held to 125 bits,
 * which the paper proves enough to get the exact floor of each bound,
 * then digits are dropped while the bounds still differ.  It is about
 * ten times faster than printf, and exact where "%.17g" and a strtod
 * check are not (they miss some 16-digit shortest forms).  Floats use the
 * same tables: a 24-bit mantissa is a special case of the 53-bit one.
 * The tables (ryu_tables.c) are written by tools/gen-ryu-tables.py.
 */
#include <string.h>

#include "json/h5s3_json_numbers.h"
#include "json/h5s3_ryu_tables.h"

typedef unsigned __int128 u128;

/* ceil(log2(5^e)) (1 for e = 0), for 0 <= e <= 3528. */
static int pow5bits(int e)
{
    return (int)(((apr_uint32_t)e * 1217359) >> 19) + 1;
}

/* floor(log10(2^e)), 0 <= e <= 1650. */
static int log10_pow2(int e)
{
    return (int)(((apr_uint32_t)e * 78913) >> 18);
}

/* floor(log10(5^e)), 0 <= e <= 2620. */
static int log10_pow5(int e)
{
    return (int)(((apr_uint32_t)e * 732923) >> 20);
}

/* Does 5^p divide V (V > 0)? */
static int multiple_of_pow5(apr_uint64_t v, int p)
{
    int n = 0;

    while (v % 5 == 0 && n < p) {
        v /= 5;
        n++;
    }
    return n >= p;
}

static int multiple_of_pow2(apr_uint64_t v, int p)
{
    return p < 64 && (v & ((APR_UINT64_C(1) << p) - 1)) == 0;
}

/* floor(M * MUL / 2^J), MUL a 128-bit table entry, J >= 64. */
static apr_uint64_t mul_shift(apr_uint64_t m, const apr_uint64_t *mul, int j)
{
    u128 lo = (u128)m * mul[0], hi = (u128)m * mul[1];

    return (apr_uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

/*
 * The shortest digits in the rounding interval of M2 * 2^E2 (the value
 * is 4 * M2 * 2^E2 / 4: two extra bits hold the interval's halves; the
 * lower half is a quarter ulp when MM_SHIFT is 0, at a power of two).
 * Bounds belong to the interval when M2 is even (round-half-even reads).
 */
static apr_uint64_t shortest(int *exp10, apr_uint64_t m2, int e2,
                             int mm_shift)
{
    int accept = (m2 & 1) == 0, vm_tz = 0, vr_tz = 0, e10, removed = 0;
    apr_uint64_t mv = 4 * m2, mm = mv - 1 - (apr_uint64_t)mm_shift;
    apr_uint64_t vr, vp, vm;
    unsigned last = 0;

    if (e2 >= 0) {
        /* v * 10^-q with q a little under log10(2^e2): vr = mv 2^(e2-q)
         * / 5^q, exact when 5^q divides the numerator. */
        int q = log10_pow2(e2) - (e2 > 3);
        int i = -e2 + q + H5S3_RYU_POW5_INV_BITS + pow5bits(q) - 1;

        e10 = q;
        vr = mul_shift(mv, h5s3_ryu_pow5_inv[q], i);
        vp = mul_shift(mv + 2, h5s3_ryu_pow5_inv[q], i);
        vm = mul_shift(mm, h5s3_ryu_pow5_inv[q], i);
        /* Of mv - 2 .. mv + 2 at most one is a multiple of 5. */
        if (mv % 5 == 0) {
            vr_tz = multiple_of_pow5(mv, q);
        }
        else if (accept) {
            vm_tz = multiple_of_pow5(mm, q);
        }
        else {
            vp -= (apr_uint64_t)multiple_of_pow5(mv + 2, q);
        }
    }
    else {
        /* vr = mv 5^i / 2^q with i = -e2 - q: exact when 2^q | mv. */
        int q = log10_pow5(-e2) - (-e2 > 1);
        int i = -e2 - q;
        int j = q - (pow5bits(i) - H5S3_RYU_POW5_BITS);

        e10 = q + e2;
        vr = mul_shift(mv, h5s3_ryu_pow5[i], j);
        vp = mul_shift(mv + 2, h5s3_ryu_pow5[i], j);
        vm = mul_shift(mm, h5s3_ryu_pow5[i], j);
        if (q <= 1) {
            vr_tz = 1;
            if (accept) {
                vm_tz = q == 0 || mm_shift == 1;
            }
            else {
                vp--;           /* mv + 2 is even: the bound is exact */
            }
        }
        else {
            vr_tz = multiple_of_pow2(mv, q);
        }
    }
    /* Drop digits while the interval still holds a shorter number;
     * LAST is the digit dropped last, VR_TZ whether all below it were 0,
     * VM_TZ whether vm is exact so far.  Four at a time first: when the
     * bounds differ above 10^4 they differ at every step below. */
    while (vp / 10000 > vm / 10000) {
        unsigned r = (unsigned)(vr % 10000);

        vm_tz &= vm % 10000 == 0;
        vr_tz &= last == 0 && r % 1000 == 0;
        last = r / 1000;
        vr /= 10000;
        vp /= 10000;
        vm /= 10000;
        removed += 4;
    }
    while (vp / 10 > vm / 10) {
        vm_tz &= vm % 10 == 0;
        vr_tz &= last == 0;
        last = (unsigned)(vr % 10);
        vr /= 10;
        vp /= 10;
        vm /= 10;
        removed++;
    }
    if (vm_tz) {
        /* An exact, included lower bound may end in zeros to drop. */
        while (vm > 0 && vm % 10 == 0) {
            vr_tz &= last == 0;
            last = (unsigned)(vr % 10);
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
    }
    if (vr_tz && last == 5 && vr % 2 == 0) {
        last = 4;               /* an exact tie: round half to even */
    }
    *exp10 = e10 + removed;
    return vr + ((vr == vm && (!accept || !vm_tz)) || last >= 5);
}

int h5s3_num_digits(apr_uint64_t v)
{
    int n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* The shortest digits of the binary value with biased exponent EXP and
 * mantissa field MANT of MBITS bits, exponent bias BIAS. */
static int shortest_of(apr_uint64_t *d, int *exp10, apr_uint64_t mant,
                       int exp, int mbits, int bias)
{
    apr_uint64_t m2;
    int e2;

    if (exp == 0 && mant == 0) {
        *d = 0;
        *exp10 = 0;
        return 1;
    }
    if (exp == 0) {
        m2 = mant;
        e2 = 1 - bias - mbits - 2;
    }
    else {
        m2 = (APR_UINT64_C(1) << mbits) | mant;
        e2 = exp - bias - mbits - 2;
    }
    *d = shortest(exp10, m2, e2, mant != 0 || exp <= 1);
    return h5s3_num_digits(*d);
}

int h5s3_num_shortest(apr_uint64_t *d, int *exp10, double v)
{
    apr_uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    return shortest_of(d, exp10, bits & ((APR_UINT64_C(1) << 52) - 1),
                       (int)((bits >> 52) & 0x7ff), 52, 1023);
}

int h5s3_num_shortest_f(apr_uint64_t *d, int *exp10, float v)
{
    apr_uint32_t bits;

    memcpy(&bits, &v, sizeof(bits));
    return shortest_of(d, exp10, bits & ((1u << 23) - 1),
                       (int)((bits >> 23) & 0xff), 23, 127);
}
