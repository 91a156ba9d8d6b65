/*
 * Text the core builds from untrusted bytes: HDF5 strings and names as
 * JSON (UTF-8 with errors='ignore'), Python float/complex reprs, CSV
 * cells and file names, S3 URI encoding.  Checked properties: the JSON
 * string always exists, float reprs read back to the same double, CSV
 * cells with separators are quoted, encoded URIs and file names use only
 * their alphabets.
 */
#include <stdio.h>
#include <math.h>
#include <apr_lib.h>
#include "fuzz_common.h"
#include "viewer/h5s3_csv.h"
#include "viewer/h5s3_h5_values.h"
#include "s3/h5s3_s3_sign.h"

static void fail(const char *what, const char *s)
{
    fprintf(stderr, "fuzz_text: %s: \"%s\"\n", what, s);
    abort();
}

typedef struct { char *buf; apr_size_t len, cap; } sink_t;

static apr_status_t collect(void *baton, const char *buf, apr_size_t len)
{
    sink_t *s = baton;

    if (s->len + len + 1 > s->cap) {
        s->cap = (s->len + len + 1) * 2;
        s->buf = realloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return APR_SUCCESS;
}

static void check_float(double v, apr_pool_t *p)
{
    char buf[64];
    const char *r = h5s3_py_float_repr(v, p);

    if (isfinite(v) && strtod(r, NULL) != v)
        fail("py_float_repr does not read back", r);
    if (h5s3_csv_float(buf, v) >= sizeof(buf))
        fail("csv_float overflowed its buffer", buf);
    if (isfinite(v) && strtod(buf, NULL) != v)
        fail("csv_float does not read back", buf);
    (void)h5s3_py_complex_str(v, -v, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size, p);
    const char *c, *enc;
    json_t *j;
    h5s3_csv_out out;
    sink_t sink = { NULL, 0, 0 };
    double v;
    size_t i;

    /* Exactly size bytes, embedded NULs included. */
    j = h5s3_json_utf8((const char *)data, size);
    if (!j)
        fail("json_utf8 gave no string", s);
    json_decref(j);
    c = h5s3_utf8_clean(s, p);
    if (!(j = json_string(c)))
        fail("utf8_clean left invalid UTF-8", s);
    json_decref(j);

    if (size >= sizeof(double)) {
        memcpy(&v, data, sizeof(v));
        check_float(v, p);
    }
    check_float(strtod(s, NULL), p);

    if (h5s3_csv_is_plain_number((const char *)data, size)) {
        char *end;
        if (!size || (strtod(s, &end), *end) || strlen(s) != size)
            fail("is_plain_number accepted a non-number", s);
    }
    if (h5s3_csv_out_init(&out, collect, &sink) == APR_SUCCESS) {
        h5s3_csv_cell(&out, (const char *)data, size);
        h5s3_csv_put(&out, "\r\n", 2);
        h5s3_csv_flush(&out);
        h5s3_csv_out_free(&out);
        if (memchr(data, ',', size) || memchr(data, '"', size)
            || memchr(data, '\n', size) || memchr(data, '\r', size)) {
            if (!sink.buf || sink.buf[0] != '"')
                fail("a cell with a separator is not quoted", s);
        }
        free(sink.buf);
    }
    c = h5s3_csv_segment(s, "x", p);
    for (i = 0; c[i]; i++)
        if (!apr_isalnum(c[i]) && !strchr("-_.", c[i]))
            fail("file name segment has a bad character", c);
    (void)h5s3_csv_filename(s, s, "matrix", p);

    enc = h5s3_s3_uri_encode(p, s, (int)(size & 1));
    for (i = 0; enc[i]; i++) {
        if (enc[i] == '%') {
            if (!apr_isxdigit(enc[i + 1]) || !apr_isxdigit(enc[i + 2]))
                fail("bad escape in URI encoding", enc);
            i += 2;
        }
        else if (!apr_isalnum(enc[i]) && !strchr("-_.~/", enc[i]))
            fail("unencoded character in URI encoding", enc);
    }
    apr_pool_destroy(p);
    return 0;
}
