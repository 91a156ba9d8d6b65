/*
 * DeltaGlider key conventions: which keys are deltas, references or
 * internal, and what a logical key is.
 */
#include <string.h>
#include <apr_strings.h>

#include "dg/h5s3_dg_keys.h"

/* docs/deltaglider-format.md §2.6; compound ones end in these. */
static const char *const eligible[] = {
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".dmg",
    ".iso", ".pkg", ".deb", ".rpm", ".apk", ".jar", ".war", ".ear", NULL
};

static const char *basename_of(const char *key)
{
    const char *s = strrchr(key, '/');
    return s ? s + 1 : key;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    apr_size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int h5s3_dg_delta_eligible(const char *key)
{
    const char *name = basename_of(key);
    int i;

    for (i = 0; eligible[i]; i++) {
        /* ".zip" alone is a hidden file, not a zip archive. */
        if (ends_with_ci(name, eligible[i])
            && strlen(name) > strlen(eligible[i]))
            return 1;
    }
    return 0;
}

int h5s3_dg_key_internal(const char *key)
{
    if (strcmp(basename_of(key), H5S3_DG_REFERENCE_NAME) == 0)
        return 1;
    /* .deltaglider/ at the root or as any path component. */
    if (strncmp(key, H5S3_DG_INTERNAL_DIR, sizeof(H5S3_DG_INTERNAL_DIR) - 1)
        == 0)
        return 1;
    return strstr(key, "/" H5S3_DG_INTERNAL_DIR) != NULL;
}

int h5s3_dg_key_is_delta(const char *key)
{
    apr_size_t n = strlen(key), m = sizeof(H5S3_DG_DELTA_SUFFIX) - 1;
    /* A bare ".delta" file name has no logical name to show. */
    return n > m && strcmp(key + n - m, H5S3_DG_DELTA_SUFFIX) == 0
        && key[n - m - 1] != '/';
}

const char *h5s3_dg_logical_key(const char *s3key, apr_pool_t *p)
{
    if (h5s3_dg_key_is_delta(s3key))
        return apr_pstrmemdup(p, s3key, strlen(s3key)
                              - (sizeof(H5S3_DG_DELTA_SUFFIX) - 1));
    return apr_pstrdup(p, s3key);
}

const char *h5s3_dg_deltaspace(const char *key, apr_pool_t *p)
{
    const char *s = strrchr(key, '/');
    return s ? apr_pstrmemdup(p, key, (apr_size_t)(s - key + 1)) : "";
}

const char *h5s3_dg_reference_key(const char *key, apr_pool_t *p)
{
    return apr_pstrcat(p, h5s3_dg_deltaspace(key, p),
                       H5S3_DG_REFERENCE_NAME, NULL);
}
