/*
 * Numbers as text (see include/json/h5s3_json_numbers.h).  The shortest digits come
 * from Ryu (Ulf Adams, "Ryu: fast float-to-string conversion", PLDI
 * 2018): the rounding interval of the value is scaled by a power of ten
 * held to 125 bits, which the paper proves enough to get the exact floor
 * of each bound, then digits are dropped while the bounds still differ.
 * It is about ten times faster than printf, and exact where "%.17g" and
 * a strtod check are not (they miss some 16-digit shortest forms).
 * Floats use the same tables: a 24-bit mantissa is a special case of the
 * 53-bit one.  The tables (ryu_tables.c) are written by
 * tools/gen-ryu-tables.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/h5s3_errors.h"
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

static int count_digits(apr_uint64_t v)
{
    int n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

int h5s3_num_shortest(apr_uint64_t *d, int *exp10, double v)
{
    apr_uint64_t bits, mant, m2;
    int exp, e2;

    memcpy(&bits, &v, sizeof(bits));
    mant = bits & ((APR_UINT64_C(1) << 52) - 1);
    exp = (int)((bits >> 52) & 0x7ff);
    if (exp == 0 && mant == 0) {
        *d = 0;
        *exp10 = 0;
        return 1;
    }
    if (exp == 0) {
        m2 = mant;
        e2 = 1 - 1023 - 52 - 2;
    }
    else {
        m2 = (APR_UINT64_C(1) << 52) | mant;
        e2 = exp - 1023 - 52 - 2;
    }
    *d = shortest(exp10, m2, e2, mant != 0 || exp <= 1);
    return count_digits(*d);
}

int h5s3_num_shortest_f(apr_uint64_t *d, int *exp10, float v)
{
    apr_uint32_t bits, mant, m2;
    int exp, e2;

    memcpy(&bits, &v, sizeof(bits));
    mant = bits & ((1u << 23) - 1);
    exp = (int)((bits >> 23) & 0xff);
    if (exp == 0 && mant == 0) {
        *d = 0;
        *exp10 = 0;
        return 1;
    }
    if (exp == 0) {
        m2 = mant;
        e2 = 1 - 127 - 23 - 2;
    }
    else {
        m2 = (1u << 23) | mant;
        e2 = exp - 127 - 23 - 2;
    }
    *d = shortest(exp10, m2, e2, mant != 0 || exp <= 1);
    return count_digits(*d);
}

/* ---- layout ------------------------------------------------------------ */

static const char DIGITS2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "68697071727374757677787980818283848586878889909192939495969798"
    "99";

/* The ND decimal digits of V at OUT (ND from count_digits). */
static void put_digits(char *out, apr_uint64_t v, int nd)
{
    char *o = out + nd;

    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);

        v /= 100;
        o -= 2;
        memcpy(o, DIGITS2 + 2 * r, 2);
    }
    if (v >= 10) {
        o -= 2;
        memcpy(o, DIGITS2 + 2 * v, 2);
    }
    else {
        *--o = (char)('0' + v);
    }
}

/* "e+16", "e-05", "e+308" at O; returns the end. */
static char *put_exp(char *o, int x)
{
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    x = x < 0 ? -x : x;
    if (x >= 100) {
        *o++ = (char)('0' + x / 100);
        x %= 100;
    }
    memcpy(o, DIGITS2 + 2 * x, 2);
    return o + 2;
}

/* Python's 'r' layout of D (ND digits) x 10^E: exponent form when the
 * decimal point would sit more than 16 digits right or 4 left of the
 * first digit.  Returns the end. */
static char *py_layout(char *o, apr_uint64_t d, int nd, int e, int dot0)
{
    int decpt = nd + e;

    if (decpt <= -4 || decpt > 16) {
        put_digits(o + 1, d, nd);
        o[0] = o[1];
        if (nd > 1) {
            o[1] = '.';
            o += nd + 1;
        }
        else {
            o += 1;
        }
        return put_exp(o, decpt - 1);
    }
    if (decpt <= 0) {
        memcpy(o, "0.", 2);
        memset(o + 2, '0', (size_t)-decpt);
        o += 2 - decpt;
        put_digits(o, d, nd);
        return o + nd;
    }
    if (decpt < nd) {
        put_digits(o + 1, d, nd);
        memmove(o, o + 1, (size_t)decpt);
        o[decpt] = '.';
        return o + nd + 1;
    }
    put_digits(o, d, nd);
    o += nd;
    memset(o, '0', (size_t)(decpt - nd));
    o += decpt - nd;
    if (dot0) {
        memcpy(o, ".0", 2);
        o += 2;
    }
    return o;
}

/* repr of a finite double at O; returns the end. */
static char *put_repr(char *o, double v)
{
    apr_uint64_t d;
    int e, nd = h5s3_num_shortest(&d, &e, v);

    if (signbit(v)) {
        *o++ = '-';
    }
    return py_layout(o, d, nd, e, 1);
}

apr_size_t h5s3_num_py_format(char *buf, double v, int flags)
{
    char *o = buf;

    if (isnan(v)) {
        strcpy(buf, flags & H5S3_NUM_SIGN ? "+nan" : "nan");
        return strlen(buf);
    }
    if (signbit(v)) {
        *o++ = '-';
    }
    else if (flags & H5S3_NUM_SIGN) {
        *o++ = '+';
    }
    if (isinf(v)) {
        memcpy(o, "inf", 3);
        o += 3;
    }
    else {
        apr_uint64_t d;
        int e, nd = h5s3_num_shortest(&d, &e, v);

        o = py_layout(o, d, nd, e, flags & H5S3_NUM_DOT0);
    }
    *o = '\0';
    return (apr_size_t)(o - buf);
}

apr_size_t h5s3_num_py_repr(char *buf, double v)
{
    return h5s3_num_py_format(buf, v, H5S3_NUM_DOT0);
}

/* "%.<P>g" of D (ND digits, ND <= P) x 10^E, then ".0" if integral. */
static apr_size_t g_layout(char *buf, int neg, apr_uint64_t d, int nd, int e,
                           int p)
{
    char *o = buf;
    int x = nd + e - 1;         /* exponent of the first digit */

    if (neg) {
        *o++ = '-';
    }
    if (x < -4 || x >= p) {
        put_digits(o + 1, d, nd);
        o[0] = o[1];
        if (nd > 1) {
            o[1] = '.';
            o += nd + 1;
        }
        else {
            o += 1;
        }
        o = put_exp(o, x);
    }
    else if (x < 0) {
        memcpy(o, "0.", 2);
        memset(o + 2, '0', (size_t)(-x - 1));
        o += 1 - x;
        put_digits(o, d, nd);
        o += nd;
    }
    else if (x + 1 < nd) {
        put_digits(o + 1, d, nd);
        memmove(o, o + 1, (size_t)x + 1);
        o[x + 1] = '.';
        o += nd + 1;
    }
    else {
        put_digits(o, d, nd);
        o += nd;
        memset(o, '0', (size_t)(x + 1 - nd));
        o += x + 1 - nd;
        memcpy(o, ".0", 2);
        o += 2;
    }
    *o = '\0';
    return (apr_size_t)(o - buf);
}

apr_size_t h5s3_num_g_double(char *buf, double v)
{
    apr_uint64_t d;
    int e, nd = h5s3_num_shortest(&d, &e, v);

    /* The shortest form is the 15-digit rounding when it has 15 digits
     * or fewer, so "%.15g" already gives it; past that P = ND. */
    return g_layout(buf, signbit(v) != 0, d, nd, e, nd > 15 ? nd : 15);
}

apr_size_t h5s3_num_g_float(char *buf, float v)
{
    apr_uint64_t d;
    int e, nd = h5s3_num_shortest_f(&d, &e, v);

    return g_layout(buf, signbit(v) != 0, d, nd, e, nd > 6 ? nd : 6);
}

apr_size_t h5s3_num_u64(char *buf, apr_uint64_t v)
{
    int nd = count_digits(v);

    put_digits(buf, v, nd);
    buf[nd] = '\0';
    return (apr_size_t)nd;
}

apr_size_t h5s3_num_i64(char *buf, apr_int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        /* -(v + 1) + 1 keeps INT64_MIN in range. */
        return 1 + h5s3_num_u64(buf + 1, (apr_uint64_t)(-(v + 1)) + 1);
    }
    return h5s3_num_u64(buf, (apr_uint64_t)v);
}

/* ---- arrays ------------------------------------------------------------ */

apr_size_t h5s3_num_type_size(h5s3_num_type t)
{
    switch (t) {
    case H5S3_NUM_I8: case H5S3_NUM_U8: case H5S3_NUM_B8:
        return 1;
    case H5S3_NUM_I16: case H5S3_NUM_U16: case H5S3_NUM_B16:
        return 2;
    case H5S3_NUM_I32: case H5S3_NUM_U32: case H5S3_NUM_B32:
    case H5S3_NUM_F32:
        return 4;
    case H5S3_NUM_FLD:
        return sizeof(long double);
    default:
        return 8;
    }
}

/* The longest text of one element, separator included. */
static apr_size_t elem_room(h5s3_num_type t)
{
    switch (t) {
    case H5S3_NUM_I8: case H5S3_NUM_U8:
        return 5;
    case H5S3_NUM_I16: case H5S3_NUM_U16:
        return 7;
    case H5S3_NUM_I32: case H5S3_NUM_U32:
        return 12;
    case H5S3_NUM_I64: case H5S3_NUM_U64:
        return 21;
    case H5S3_NUM_B8: case H5S3_NUM_B16: case H5S3_NUM_B32:
    case H5S3_NUM_B64:
        return 6;
    default:
        return 26;      /* "-1.2345678901234567e-308," */
    }
}

static char *put_i(char *o, apr_int64_t v)
{
    return o + h5s3_num_i64(o, v);
}

static char *put_u(char *o, apr_uint64_t v)
{
    return o + h5s3_num_u64(o, v);
}

static char *put_f(char *o, double v)
{
    if (!isfinite(v)) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    return put_repr(o, v);
}

static char *put_b(char *o, int v)
{
    if (v) {
        memcpy(o, "true", 4);
        return o + 4;
    }
    memcpy(o, "false", 5);
    return o + 5;
}

/* N comma-separated elements of T from P; the type switch is outside
 * the loops. */
#define ROW(ctype, put, conv)                                           \
    for (i = 0; i < n; i++) {                                           \
        ctype x;                                                        \
        memcpy(&x, p + i * sizeof(ctype), sizeof(ctype));               \
        if (i) {                                                        \
            *o++ = ',';                                                 \
        }                                                               \
        o = put(o, conv(x));                                            \
    }

#define AS_I(x) ((apr_int64_t)(x))
#define AS_U(x) ((apr_uint64_t)(x))
#define AS_D(x) ((double)(x))
#define AS_B(x) ((x) != 0)

static char *put_row(char *o, h5s3_num_type t, const unsigned char *p,
                     hsize_t n)
{
    hsize_t i;

    switch (t) {
    case H5S3_NUM_I8: ROW(signed char, put_i, AS_I); break;
    case H5S3_NUM_I16: ROW(short, put_i, AS_I); break;
    case H5S3_NUM_I32: ROW(int, put_i, AS_I); break;
    case H5S3_NUM_I64: ROW(long long, put_i, AS_I); break;
    case H5S3_NUM_U8: ROW(unsigned char, put_u, AS_U); break;
    case H5S3_NUM_U16: ROW(unsigned short, put_u, AS_U); break;
    case H5S3_NUM_U32: ROW(unsigned int, put_u, AS_U); break;
    case H5S3_NUM_U64: ROW(unsigned long long, put_u, AS_U); break;
    case H5S3_NUM_F32: ROW(float, put_f, AS_D); break;
    case H5S3_NUM_F64: ROW(double, put_f, AS_D); break;
    case H5S3_NUM_FLD: ROW(long double, put_f, AS_D); break;
    case H5S3_NUM_B8: ROW(unsigned char, put_b, AS_B); break;
    case H5S3_NUM_B16: ROW(unsigned short, put_b, AS_B); break;
    case H5S3_NUM_B32: ROW(unsigned int, put_b, AS_B); break;
    case H5S3_NUM_B64: ROW(unsigned long long, put_b, AS_B); break;
    }
    return o;
}

/* Lists nested RANK deep (RANK >= 1); advances *P past the elements. */
static char *put_nested(char *o, h5s3_num_type t, apr_size_t esize,
                        const unsigned char **p, int rank,
                        const hsize_t *dims)
{
    hsize_t i;

    *o++ = '[';
    if (rank == 1) {
        if (dims[0] > 0) {
            o = put_row(o, t, *p, dims[0]);
            *p += dims[0] * esize;
        }
    }
    else {
        for (i = 0; i < dims[0]; i++) {
            if (i) {
                *o++ = ',';
            }
            o = put_nested(o, t, esize, p, rank - 1, dims + 1);
        }
    }
    *o++ = ']';
    return o;
}

apr_status_t h5s3_json_numbers(char **out, apr_size_t *len, h5s3_num_type t,
                               const void *buf, int rank,
                               const hsize_t *dims)
{
    const unsigned char *p = buf;
    double room = (double)elem_room(t), lists = 0, n = 1;
    char *text, *o;
    int k;

    *out = NULL;
    *len = 0;
    /* Bound the text: every element at its longest, every list its
     * brackets and comma; counted in doubles so no product wraps. */
    for (k = 0; k < rank; k++) {
        lists += n * 3;         /* n lists at this level */
        n *= (double)dims[k];
    }
    room = n * room + lists + 1;
    if (room > (double)H5S3_JSON_NUMBERS_MAX_BYTES) {
        return H5S3_E_TOOLARGE;
    }
    text = malloc((size_t)room);
    if (text == NULL) {
        return APR_ENOMEM;
    }
    if (rank == 0) {
        o = put_row(text, t, p, 1);
    }
    else {
        o = put_nested(text, t, h5s3_num_type_size(t), &p, rank, dims);
    }
    *o = '\0';
    *out = text;
    *len = (apr_size_t)(o - text);
    return APR_SUCCESS;
}
