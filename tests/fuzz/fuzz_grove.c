/*
 * The h5grove API's query parsing: the selection ("0,:,:", "1:10:2",
 * negative indices), resolve_links, boolean flags, path joins, and the
 * JSON text written for strings and floats.  Input: byte 0 = rank
 * (0..6), one byte per dim choosing its size, then
 * "selection\nresolve_links\nflag\nname".  Checked: a selection stays
 * inside the dataset and counts what it selects; strings and floats come
 * out as valid JSON.
 */
#include <stdio.h>
#include <math.h>
#include "fuzz_common.h"
#include "base/h5s3_errors.h"
#include "grove/h5s3_grove.h"

static void fail(const char *what, const char *s)
{
    fprintf(stderr, "fuzz_grove: %s: \"%s\"\n", what, s ? s : "(null)");
    abort();
}

static void check_json(h5s3_grove_buf *b, const char *what)
{
    json_t *j;

    if (b->oom)
        return;
    j = json_loadb(b->data, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j)
        fail(what, apr_pstrmemdup(fuzz_root, b->data, b->len > 200 ? 200
                                                                   : b->len));
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    hsize_t shape[H5S3_H5_RANK_MAX];
    h5s3_grove_sel sel;
    h5s3_grove_links links;
    h5s3_grove_buf *b;
    h5s3_result res;
    char *f[4];
    int ndim, d;
    hsize_t n = 1;

    h5s3_result_init(&res, p);
    if (size < 1)
        goto done;
    ndim = data[0] % 7;
    data++, size--;
    for (d = 0; d < ndim; d++) {
        unsigned v = d < (int)size ? data[d] : 4;
        shape[d] = v < 0xf8 ? (hsize_t)(v % 29) : (hsize_t)1 << (v - 0xf8 + 40);
    }
    if (size < (size_t)ndim)
        size = 0;
    else
        data += ndim, size -= ndim;
    fuzz_fields(f, 4, data, size, '\n', p);

    if (h5s3_grove_sel_parse(&sel, &res, f[0], ndim, shape, p)
        == APR_SUCCESS) {
        if (sel.ndim != ndim || sel.out_ndim < 0 || sel.out_ndim > ndim)
            fail("selection rank", f[0]);
        for (d = 0; d < ndim; d++) {
            if (sel.count[d] == 0)
                n = 0;
            else {
                if (sel.stride[d] == 0)
                    fail("zero stride", f[0]);
                if (sel.start[d] >= shape[d]
                    || (sel.count[d] - 1) > (shape[d] - 1 - sel.start[d])
                                            / sel.stride[d])
                    fail("selection outside the dataset", f[0]);
                n *= sel.count[d];
            }
        }
        if (sel.nelem != n)
            fail("nelem is not the product of the counts", f[0]);
    }
    else if (!res.detail)
        fail("selection refused without a message", f[0]);

    h5s3_result_reset(&res);
    if (h5s3_grove_links_parse(&links, &res, f[1], p) != APR_SUCCESS
        && !res.detail)
        fail("resolve_links refused without a message", f[1]);
    (void)h5s3_grove_bool_arg(f[2], 1);
    (void)h5s3_grove_path_join(f[3] ? f[3] : "/", f[0] ? f[0] : "", p);

    b = h5s3_grove_buf_make(p);
    h5s3_grove_put_string(b, (const char *)data, size);
    check_json(b, "put_string wrote invalid JSON");
    if (size >= sizeof(double)) {
        double v;
        float fv;

        memcpy(&v, data, sizeof(v));
        memcpy(&fv, data, sizeof(fv));
        b = h5s3_grove_buf_make(p);
        h5s3_grove_put_double(b, v);
        check_json(b, "put_double wrote invalid JSON");
        if (isfinite(v) && !b->oom
            && strtod(apr_pstrmemdup(p, b->data, b->len), NULL) != v)
            fail("put_double does not read back",
                 apr_pstrmemdup(p, b->data, b->len));
        b = h5s3_grove_buf_make(p);
        h5s3_grove_put_float(b, fv);
        check_json(b, "put_float wrote invalid JSON");
    }
    b = h5s3_grove_buf_make(p);
    h5s3_grove_npy_header(b, "<f8", ndim, shape);
    if (!b->oom && (b->len < 10 || (b->len % 64) != 0))
        fail("npy header not padded to 64 bytes", "");
done:
    apr_pool_destroy(p);
    return 0;
}
