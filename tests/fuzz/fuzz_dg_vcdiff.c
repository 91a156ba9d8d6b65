/*
 * The VCDIFF (xdelta3) file header of a stored delta, read before the
 * delta is handed to xdelta3: every prefix must be "need more bytes",
 * "not VCDIFF" or a header within the buffer, never a read past it.
 */
#include <stdio.h>
#include "fuzz_common.h"
#include "dg/h5s3_dg.h"

/* A prefix in a buffer of exactly its size, so ASan sees over-reads. */
static apr_status_t parse_prefix(h5s3_dg_vcdiff_header **h,
                                 const uint8_t *data, apr_size_t len,
                                 apr_pool_t *p)
{
    unsigned char *copy = malloc(len ? len : 1);
    apr_status_t rv;

    memcpy(copy, data, len);
    rv = h5s3_dg_vcdiff_parse(h, copy, len, p);
    free(copy);
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    h5s3_dg_vcdiff_header *h = NULL;
    apr_status_t rv;
    apr_size_t cut;

    rv = h5s3_dg_vcdiff_parse(&h, data, size, p);
    if (rv == APR_SUCCESS) {
        if (h->header_len > size) {
            fprintf(stderr, "header_len %zu past the %zu bytes given\n",
                    (size_t)h->header_len, size);
            abort();
        }
        (void)h5s3_dg_vcdiff_recompressed(h);
        /* The same header from any longer-than-needed prefix. */
        rv = parse_prefix(&h, data, h->header_len, p);
        if (rv != APR_SUCCESS) {
            fprintf(stderr, "header does not parse from its own bytes\n");
            abort();
        }
    }
    /* A streaming caller offers a few bytes at a time. */
    for (cut = 0; cut < size && cut < 64; cut += 7)
        parse_prefix(&h, data, cut, p);
    apr_pool_destroy(p);
    return 0;
}
