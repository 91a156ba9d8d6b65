/*
 * CSV text: a buffered writer, the contract's cell rules (§1.9) and file
 * names.  The formula-injection guard prefixes a quote to cells starting
 * with = + - @, except plain numbers (upstream turns -5 into '-5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "h5s3_csv.h"

apr_status_t h5s3_csv_out_init(h5s3_csv_out *o, h5s3_csv_write_fn *w,
                               void *baton)
{
    memset(o, 0, sizeof(*o));
    o->cap = H5S3_CSV_FLUSH + 4096;
    o->buf = malloc(o->cap);
    o->write = w;
    o->baton = baton;
    return o->buf ? APR_SUCCESS : APR_ENOMEM;
}

void h5s3_csv_out_free(h5s3_csv_out *o)
{
    free(o->buf);
    o->buf = NULL;
}

apr_status_t h5s3_csv_flush(h5s3_csv_out *o)
{
    if (o->status == APR_SUCCESS && o->len > 0) {
        o->status = o->write(o->baton, o->buf, o->len);
        o->total += o->len;
    }
    o->len = 0;
    return o->status;
}

void h5s3_csv_put(h5s3_csv_out *o, const char *s, apr_size_t n)
{
    while (n > 0 && o->status == APR_SUCCESS) {
        apr_size_t room = o->cap - o->len, k = n < room ? n : room;

        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
        if (o->len >= H5S3_CSV_FLUSH) {
            h5s3_csv_flush(o);
        }
    }
}

int h5s3_csv_is_plain_number(const char *s, apr_size_t n)
{
    apr_size_t i = 0, digits = 0;

    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    while (i < n && apr_isdigit(s[i])) {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && apr_isdigit(s[i])) {
            i++;
            digits++;
        }
    }
    if (!digits) {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        apr_size_t e = 0;

        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        while (i < n && apr_isdigit(s[i])) {
            i++;
            e++;
        }
        if (!e) {
            return 0;
        }
    }
    return i == n;
}

void h5s3_csv_cell(h5s3_csv_out *o, const char *s, apr_size_t n)
{
    apr_size_t i = 0, j;
    int quote = 0;

    while (i < n && s[i] == ' ') {
        i++;
    }
    if (i < n && (s[i] == '=' || s[i] == '+' || s[i] == '-' || s[i] == '@')
        && !h5s3_csv_is_plain_number(s, n)) {
        if (memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\r', n)
            || memchr(s, '\n', n)) {
            h5s3_csv_put(o, "\"'", 2);
            quote = 1;
        }
        else {
            h5s3_csv_put(o, "'", 1);
        }
    }
    else if (memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\r', n)
             || memchr(s, '\n', n)) {
        h5s3_csv_put(o, "\"", 1);
        quote = 1;
    }
    if (!quote) {
        h5s3_csv_put(o, s, n);
        return;
    }
    for (i = 0, j = 0; j < n; j++) {
        if (s[j] == '"') {
            h5s3_csv_put(o, s + i, j - i + 1);
            h5s3_csv_put(o, "\"", 1);
            i = j + 1;
        }
    }
    h5s3_csv_put(o, s + i, n - i);
    h5s3_csv_put(o, "\"", 1);
}

const char *h5s3_csv_segment(const char *s, const char *fallback,
                             apr_pool_t *p)
{
    char *c = apr_pstrdup(p, s ? s : ""), *e, *b;

    for (e = c; *e; e++) {
        if (!apr_isalnum(*e) && *e != '-' && *e != '_' && *e != '.') {
            *e = '_';
        }
    }
    b = c;
    while (*b == '_') {
        b++;
    }
    while (e > b && e[-1] == '_') {
        *--e = '\0';
    }
    return *b ? b : fallback;
}

const char *h5s3_csv_filename(const char *key, const char *path,
                              const char *mode, apr_pool_t *p)
{
    const char *base = strrchr(key, '/');
    char *pp = apr_pstrdup(p, path ? path : ""), *c;

    base = base ? base + 1 : key;
    for (c = pp; *c; c++) {
        if (*c == '/') {
            *c = '_';
        }
    }
    return apr_pstrcat(p, h5s3_csv_segment(base, "file", p), "_",
                       h5s3_csv_segment(pp, "root", p), "_",
                       h5s3_csv_segment(mode, "data", p), "_full.csv",
                       NULL);
}

apr_size_t h5s3_csv_float(char *buf, double v)
{
    char tmp[48], digits[24];
    int prec, nd = 0, exp10, decpt, neg;
    char *s, *e;
    apr_size_t n = 0;

    if (isnan(v)) {
        memcpy(buf, "nan", 4);
        return 3;
    }
    if (isinf(v)) {
        strcpy(buf, v < 0 ? "-inf" : "inf");
        return strlen(buf);
    }
    /* Shortest round-trip digits: 15 significant digits suffice when a
     * shorter form exists (it is then the 15-digit rounding, padded);
     * subnormals have fewer digits of precision: search from 1. */
    for (prec = fabs(v) < 2.2250738585072014e-308 ? 1 : 15; prec <= 17;
         prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (prec == 17 || strtod(tmp, NULL) == v) {
            break;
        }
    }
    neg = tmp[0] == '-';
    for (s = tmp + neg; *s && *s != 'e'; s++) {
        if (apr_isdigit(*s)) {
            digits[nd++] = *s;
        }
    }
    e = strchr(tmp, 'e');
    exp10 = e ? atoi(e + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    digits[nd] = '\0';
    decpt = exp10 + 1;
    if (neg) {
        buf[n++] = '-';
    }
    if (decpt <= -4 || decpt > 16) {
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            memcpy(buf + n, digits + 1, (size_t)nd - 1);
            n += (apr_size_t)nd - 1;
        }
        n += (apr_size_t)sprintf(buf + n, "e%c%02d", exp10 < 0 ? '-' : '+',
                                 abs(exp10));
    }
    else if (decpt <= 0) {
        buf[n++] = '0';
        buf[n++] = '.';
        memset(buf + n, '0', (size_t)-decpt);
        n += (apr_size_t)-decpt;
        memcpy(buf + n, digits, (size_t)nd);
        n += (apr_size_t)nd;
    }
    else if (decpt < nd) {
        memcpy(buf + n, digits, (size_t)decpt);
        n += (apr_size_t)decpt;
        buf[n++] = '.';
        memcpy(buf + n, digits + decpt, (size_t)(nd - decpt));
        n += (apr_size_t)(nd - decpt);
    }
    else {
        memcpy(buf + n, digits, (size_t)nd);
        n += (apr_size_t)nd;
        memset(buf + n, '0', (size_t)(decpt - nd));
        n += (apr_size_t)(decpt - nd);
        memcpy(buf + n, ".0", 2);
        n += 2;
    }
    buf[n] = '\0';
    return n;
}
