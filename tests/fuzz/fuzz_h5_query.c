/*
 * The query arguments of /preview, /data and /export/csv, as the router
 * hands them over (already %-decoded): preview options, mode, integer
 * arguments, the plane selection and the line plan.  Input: byte 0 =
 * rank (0..6), byte 1 = flags, then one byte per dim choosing its size,
 * then "name=value&name=value..." (names free, so the fuzzer finds the
 * real ones through the string comparisons).
 */
#include <stdio.h>
#include "fuzz_common.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_read.h"
#include "viewer/h5s3_h5_select.h"
#include "viewer/h5s3_h5_view.h"

static const char *const int_args[] = {
    "row_offset", "col_offset", "row_limit", "col_limit", "chunk_rows",
    "chunk_cols", "line_offset", "line_limit", "chunk_points", "line_index",
    "max_size", NULL
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_h5_query: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_table_t *args = apr_table_make(p, 8);
    h5s3_h5_preview_opts o;
    h5s3_h5_dset d;
    h5s3_h5_sel sel;
    h5s3_h5_line_plan_t lp;
    const char *mode;
    h5s3_result res;
    char *s, *pair, *last;
    apr_int64_t v;
    int flags, k, set;

    h5s3_result_init(&res, p);
    if (size < 2)
        goto done;
    memset(&d, 0, sizeof(d));
    d.ndim = data[0] % 7;
    flags = data[1];
    data += 2, size -= 2;
    for (k = 0; k < d.ndim; k++) {
        unsigned b = k < (int)size ? data[k] : 5;
        d.shape[k] = b < 0xf8 ? (hsize_t)(b % 23) : (hsize_t)1 << (b & 63);
    }
    if (size < (size_t)d.ndim)
        size = 0;
    else
        data += d.ndim, size -= d.ndim;

    s = fuzz_str(data, size, p);
    for (pair = apr_strtok(s, "&", &last); pair;
         pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');
        if (eq)
            *eq++ = '\0';
        apr_table_add(args, pair, eq ? eq : "");
    }

    h5s3_result_reset(&res);
    if (h5s3_h5_preview_opts_parse(&o, &res, args, p) != APR_SUCCESS) {
        if (!res.detail)
            fail("preview options refused without a message");
    }
    else if (o.max_size < 0)
        fail("negative max_size accepted");

    h5s3_result_reset(&res);
    if (h5s3_h5_data_mode(&mode, &res, apr_table_get(args, "mode"),
                          flags & 1, p) != APR_SUCCESS && !res.detail)
        fail("mode refused without a message");

    for (k = 0; int_args[k]; k++) {
        h5s3_result_reset(&res);
        if (h5s3_h5_arg_int(&v, &set, &res, args, int_args[k], 7, flags & 2,
                            p) == APR_SUCCESS) {
            if (v < (flags & 2))
                fail("integer argument below its minimum");
        }
        else if (!res.detail)
            fail("integer argument refused without a message");
    }

    h5s3_result_reset(&res);
    if (h5s3_h5_select_strict(&sel, &res, d.ndim, d.shape,
                              apr_table_get(args, "display_dims"),
                              apr_table_get(args, "fixed_indices"), p)
        != APR_SUCCESS)
        goto done;
    h5s3_result_reset(&res);
    if (h5s3_h5_line_plan(&lp, &res, &d, &sel, args, p) == APR_SUCCESS) {
        if (lp.vary < 0 || lp.vary >= d.ndim)
            fail("line varies along a dim that does not exist");
        if (lp.length != d.shape[lp.vary])
            fail("line length is not its dim's size");
        for (k = 0; k < d.ndim; k++)
            if (k != lp.vary && d.shape[k] && lp.pos[k] >= d.shape[k])
                fail("line position outside the dataset");
    }
    else if (!res.detail)
        fail("line plan refused without a message");
done:
    apr_pool_destroy(p);
    return 0;
}
