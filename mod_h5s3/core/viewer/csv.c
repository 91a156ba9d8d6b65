/*
 * CSV text: a buffered writer, the cell rules of docs/viewer-api.md §1.9 and file
 * names.  The formula-injection guard prefixes a quote to cells starting
 * with = + - @, except plain numbers (upstream turns -5 into '-5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "viewer/h5s3_csv.h"
#include "json/h5s3_json_numbers.h"

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
    return h5s3_num_py_repr(buf, v);
}
