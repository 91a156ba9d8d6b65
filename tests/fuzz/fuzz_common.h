/*
 * Shared by the libFuzzer targets in tests/fuzz: APR set-up once per
 * process, a fresh pool per input, and helpers that cut an input into
 * NUL-terminated strings.  Strings are copied with malloc-exact sizes
 * (not from a pool) where a parser takes (buf, len), so AddressSanitizer
 * sees a read one byte past the end.
 */
#ifndef H5S3_FUZZ_COMMON_H
#define H5S3_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static apr_pool_t *fuzz_root;

static inline void fuzz_apr_init(void)
{
    if (!fuzz_root) {
        apr_initialize();
        apr_pool_create(&fuzz_root, NULL);
    }
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    fuzz_apr_init();
    apr_pool_create(&p, fuzz_root);
    return p;
}

/* data[0..size) as a NUL-terminated string (an embedded NUL ends it). */
static inline char *fuzz_str(const uint8_t *data, size_t size, apr_pool_t *p)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

/*
 * Cut data at every byte sep into at most n fields (the last takes the
 * rest).  Missing fields are NULL, so parsers see "absent" as well as
 * "empty".  Returns the number of fields present.
 */
static inline int fuzz_fields(char **out, int n, const uint8_t *data, size_t size,
                       char sep, apr_pool_t *p)
{
    int k = 0;
    size_t start = 0, i;

    memset(out, 0, sizeof(*out) * (size_t)n);
    if (size == 0)
        return 0;
    for (i = 0; i <= size && k < n; i++) {
        if (i == size || (data[i] == (uint8_t)sep && k < n - 1)) {
            out[k++] = apr_pstrmemdup(p, (const char *)data + start,
                                      i - start);
            start = i + 1;
        }
    }
    return k;
}

#endif
