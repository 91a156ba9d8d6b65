/*
 * The powers of five the shortest-digits algorithm scales by
 * (mod_h5s3/core/json/shortest_digits.c), each 125 bits held as {low 64
 * bits, high 64 bits}.  mod_h5s3/core/json/ryu_tables.c defines them and
 * is written by tools/gen-ryu-tables.py; the counts here are the ones
 * the script derives from the binary64 exponent range (a definition with
 * another count does not compile against these declarations).
 */
#ifndef H5S3_RYU_TABLES_H
#define H5S3_RYU_TABLES_H

#include <apr.h>

#define H5S3_RYU_POW5_BITS      125
#define H5S3_RYU_POW5_INV_BITS  125
#define H5S3_RYU_POW5_COUNT     326
#define H5S3_RYU_POW5_INV_COUNT 291

/* 5^i: its top 125 bits. */
extern const apr_uint64_t h5s3_ryu_pow5[H5S3_RYU_POW5_COUNT][2];

/* 2^(bits(5^q) - 1 + 125) / 5^q, rounded up. */
extern const apr_uint64_t h5s3_ryu_pow5_inv[H5S3_RYU_POW5_INV_COUNT][2];

#endif
