/*
 * Text the way JSON and Python want it: bytes from a file decoded as
 * UTF-8 dropping what is not (Python's errors='ignore'), so every string
 * we write is valid JSON (json/utf8.c); floats and complex numbers as
 * Python's repr() and str() print them, int() of a string and a time's
 * isoformat() (json/py_text.c).
 */
#ifndef H5S3_TEXT_H
#define H5S3_TEXT_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <jansson.h>

/* The length of the well-formed UTF-8 sequence at S (N > 0 bytes left),
 * or 0 when the byte there starts none. */
size_t h5s3_utf8_seq_len(const unsigned char *s, size_t n);

/* N bytes at S as a JSON string, invalid UTF-8 dropped (NULL: no memory). */
json_t *h5s3_json_utf8(const char *s, size_t n);

/* The same for a C string, as a string of P ("" for NULL). */
const char *h5s3_utf8_clean(const char *s, apr_pool_t *p);

/* A C string from a file (a name, a link target) as a JSON string,
 * invalid UTF-8 dropped ("" for NULL). */
json_t *h5s3_json_str(const char *s, apr_pool_t *p);

/* Python's repr(float(v)) ("1.0", "1e+100", "nan"). */
const char *h5s3_py_float_repr(double v, apr_pool_t *p);

/* Python's str(complex(re, im)) ("(1+2j)", "3j"). */
const char *h5s3_py_complex_str(double re, double im, apr_pool_t *p);

/* Python int(s): surrounding whitespace, an optional sign, decimal digits
 * (single underscores between digits).  H5S3_E_INVALID otherwise or on
 * overflow. */
apr_status_t h5s3_py_parse_int(apr_int64_t *out, const char *s);

/* Python's datetime.isoformat() of an aware UTC time:
 * 2026-01-10T12:47:55.906000 (+00:00 appended WITH_OFFSET). */
const char *h5s3_time_isoformat(apr_pool_t *p, apr_time_t t, int with_offset);

#endif
