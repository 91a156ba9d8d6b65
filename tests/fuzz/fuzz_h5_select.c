/*
 * display_dims / fixed_indices of /preview (lenient) and /data,
 * /export/csv (strict), and the Python-int parser under them, checked
 * against a reference: whatever the query says, the selection stays
 * inside the dataset.  Input: byte 0 = rank (0..8), then one byte per
 * dim choosing its size, then "display_dims\nfixed_indices".
 */
#include <stdio.h>
#include <apr_lib.h>
#include "fuzz_common.h"
#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_select.h"

static void fail(const char *what, const char *s)
{
    fprintf(stderr, "fuzz_h5_select: %s: \"%s\"\n", what, s ? s : "(null)");
    abort();
}

/*
 * Python int() on s, as __int128: 1 and *v when it parses, 0 when not.
 * Values beyond 2^100 are reported as 2^100 (overflow either way).
 */
static int ref_int(__int128 *v, const char *s)
{
    __int128 n = 0, cap = (__int128)1 << 100;
    int neg = 0, digits = 0, prev_us = 0;

    while (apr_isspace(*s))
        s++;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    for (; *s; s++) {
        if (*s == '_') {
            if (!digits || prev_us)
                return 0;
            prev_us = 1;
            continue;
        }
        if (!apr_isdigit(*s))
            break;
        if (n < cap)
            n = n * 10 + (*s - '0');
        digits++;
        prev_us = 0;
    }
    if (!digits || prev_us)
        return 0;
    while (apr_isspace(*s))
        s++;
    if (*s)
        return 0;
    *v = neg ? -n : n;
    return 1;
}

static void check_int(const char *s)
{
    apr_int64_t got;
    __int128 want;
    int ok = h5s3_py_parse_int(&got, s) == APR_SUCCESS;
    int rok = ref_int(&want, s);
    __int128 lim = (__int128)1 << 62;

    if (ok && !rok)
        fail("parse_int accepted what Python refuses", s);
    if (ok && got != want)
        fail("parse_int gave a wrong value", s);
    /* Values within +-2^62 must parse; beyond int64 they must not. */
    if (!ok && rok && want <= lim && want >= -lim)
        fail("parse_int refused a valid number", s);
}

static void check_sel(const h5s3_h5_sel *sel, int ndim, const char *what)
{
    int d;

    if (ndim >= 2) {
        if (sel->row_dim < 0 || sel->row_dim >= ndim || sel->col_dim < 0
            || sel->col_dim >= ndim || sel->row_dim == sel->col_dim)
            fail("display dims out of range or equal", what);
    }
    else if (sel->row_dim != -1)
        fail("a plane below 2-D", what);
    for (d = 0; d < ndim; d++) {
        if (d == sel->row_dim || d == sel->col_dim)
            continue;
        if (sel->shape[d] ? sel->index[d] >= sel->shape[d]
                          : sel->index[d] != 0)
            fail("fixed index outside its dim", what);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    hsize_t shape[H5S3_H5_RANK_MAX];
    h5s3_h5_sel sel;
    h5s3_result res;
    char *f[2], *part, *cur;
    int ndim, d;
    json_t *j;

    h5s3_result_init(&res, p);
    if (size < 1)
        goto done;
    ndim = data[0] % 9;
    data++, size--;
    for (d = 0; d < ndim; d++) {
        unsigned b = d < (int)size ? data[d] : 3;
        /* Mostly small dims, some empty, some huge. */
        shape[d] = b < 0xf0 ? (hsize_t)(b % 17)
                            : (hsize_t)1 << (b - 0xf0 + 30);
    }
    if (size < (size_t)ndim)
        size = 0;
    else
        data += ndim, size -= ndim;
    fuzz_fields(f, 2, data, size, '\n', p);

    /* Every comma-separated part through the int parser. */
    for (d = 0; d < 2; d++) {
        if (!f[d])
            continue;
        cur = apr_pstrdup(p, f[d]);
        for (part = apr_strtok(cur, ",=:", &cur); part;
             part = apr_strtok(NULL, ",=:", &cur))
            check_int(part);
        check_int(f[d]);
    }

    h5s3_h5_select_lenient(&sel, ndim, shape, f[0], f[1]);
    check_sel(&sel, ndim, "lenient");
    (void)h5s3_h5_sel_rows(&sel);
    (void)h5s3_h5_sel_cols(&sel);
    j = h5s3_h5_sel_fixed_json(&sel);
    json_decref(j);
    j = h5s3_h5_sel_dims_json(&sel);
    json_decref(j);

    if (h5s3_h5_select_strict(&sel, &res, ndim, shape, f[0], f[1], p)
        == APR_SUCCESS)
        check_sel(&sel, ndim, "strict");
    else if (!res.detail)
        fail("strict refused without a message", f[0]);
done:
    apr_pool_destroy(p);
    return 0;
}
