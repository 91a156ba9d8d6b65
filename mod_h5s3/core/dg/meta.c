/*
 * DeltaGlider object metadata, with the spellings older writers and the
 * Rust proxy use (docs/deltaglider-format.md §3).
 */
#include <errno.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "dg/h5s3_dg_keys.h"
#include "dg/h5s3_dg_meta.h"

const char *h5s3_dg_meta_get(apr_table_t *meta, const char *name,
                             apr_pool_t *p)
{
    char *under, *c;
    const char *v;

    if (!meta)
        return NULL;
    under = apr_pstrdup(p, name);
    for (c = under; *c; c++)
        if (*c == '-')
            *c = '_';
    if ((v = apr_table_get(meta, apr_pstrcat(p, "dg-", name, NULL))))
        return v;
    if ((v = apr_table_get(meta, apr_pstrcat(p, "dg_", under, NULL))))
        return v;
    if ((v = apr_table_get(meta, under)))
        return v;
    return apr_table_get(meta, name);
}

const char *h5s3_dg_meta_proxy_get(apr_table_t *meta, const char *name,
                                   apr_pool_t *p)
{
    const char *v;

    if (!meta)
        return NULL;
    v = apr_table_get(meta, name);
    if (!v || !*v)
        v = apr_table_get(meta, apr_pstrcat(p, "user-", name, NULL));
    return v && *v ? v : NULL;
}

static int user_entry(void *rec, const char *key, const char *value)
{
    apr_table_t *user = rec;

    /* The proxy's own markers ride in its user map: not the user's. */
    if (strncasecmp(key, "user-", 5) == 0 && key[5]
        && strncasecmp(key + 5, "dg-", 3) != 0)
        apr_table_set(user, key + 5, value);
    return 1;
}

/* dg-md5, dg-multipart-etag, the encryption markers and user-* fields. */
static void parse_proxy(h5s3_dg_meta *m, apr_table_t *meta, apr_pool_t *p)
{
    m->md5 = h5s3_dg_meta_proxy_get(meta, "dg-md5", p);
    m->multipart_etag = h5s3_dg_meta_proxy_get(meta, "dg-multipart-etag", p);
    m->encryption = h5s3_dg_meta_proxy_get(meta, "dg-encrypted", p);
    m->encrypted = m->encryption != NULL;
    m->encryption_key_id = h5s3_dg_meta_proxy_get(meta,
                                                  "dg-encryption-key-id", p);
    m->native_encryption = h5s3_dg_meta_proxy_get(meta,
                                                  "dg-encrypted-native", p);
    m->user = apr_table_make(p, 4);
    if (meta)
        apr_table_do(user_entry, m->user, meta, NULL);
}

static apr_status_t parse_size(apr_off_t *out, const char *v)
{
    char *end;
    apr_int64_t n;

    *out = -1;
    if (!v)
        return APR_SUCCESS;
    while (apr_isspace(*v))
        v++;
    if (!apr_isdigit(*v))
        return H5S3_E_INVALID;
    errno = 0;
    n = apr_strtoi64(v, &end, 10);
    while (apr_isspace(*end))
        end++;
    if (errno || *end || n < 0)
        return H5S3_E_INVALID;
    *out = (apr_off_t)n;
    return APR_SUCCESS;
}

static apr_status_t parse_sha(const char **out, const char *v, apr_pool_t *p)
{
    char *s;
    int i;

    *out = NULL;
    if (!v)
        return APR_SUCCESS;
    s = apr_pstrdup(p, v);
    apr_collapse_spaces(s, s);
    for (i = 0; s[i]; i++) {
        if (!apr_isxdigit(s[i]))
            return H5S3_E_INVALID;
        s[i] = (char)apr_tolower(s[i]);
    }
    if (i != 64)
        return H5S3_E_INVALID;
    *out = s;
    return APR_SUCCESS;
}

const char *h5s3_dg_ref_path_problem(const char *ref_path)
{
    const unsigned char *c;
    const char *seg, *end;
    apr_size_t n;

    if (!ref_path)
        return NULL;
    if (!*ref_path)
        return "dg-ref-path is empty";
    /* First, so no later reason can stand for a path that has them. */
    for (c = (const unsigned char *)ref_path; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            return "dg-ref-path contains control characters";
        if (*c == '\\')
            return "dg-ref-path contains a backslash";
    }
    if (strlen(ref_path) > H5S3_S3_KEY_MAX)
        return "dg-ref-path is longer than an S3 key can be";
    if (*ref_path == '/')
        return "dg-ref-path is absolute: it must be relative to the "
               "delta's folder";
    for (seg = ref_path; ; seg = end + 1) {
        end = strchr(seg, '/');
        n = end ? (apr_size_t)(end - seg) : strlen(seg);
        if (n == 0)
            return "dg-ref-path has an empty segment";
        if (n == 2 && seg[0] == '.' && seg[1] == '.')
            return "dg-ref-path has a '..' segment: it must stay inside "
                   "the delta's folder";
        if (n == 1 && seg[0] == '.')
            return "dg-ref-path has a '.' segment";
        if (!end)
            return NULL;
    }
}

static apr_status_t refuse(h5s3_result *res, const char *reason)
{
    return h5s3_result_set(res, H5S3_E_INVALID, reason);
}

apr_status_t h5s3_dg_meta_parse(h5s3_dg_meta **out, h5s3_result *res,
                                const char *s3key, apr_table_t *meta,
                                apr_pool_t *p)
{
    h5s3_dg_meta *m = apr_pcalloc(p, sizeof(*m));
    const char *base = strrchr(s3key, '/');
    const char *ref_path, *problem, *space;

    /* Nothing wrong yet: an earlier refusal's reason does not linger. */
    h5s3_result_set(res, APR_SUCCESS, NULL);
    base = base ? base + 1 : s3key;
    m->tool = h5s3_dg_meta_get(meta, "tool", p);
    m->original_name = h5s3_dg_meta_get(meta, "original-name", p);
    m->source_name = h5s3_dg_meta_get(meta, "source-name", p);
    m->created_at = h5s3_dg_meta_get(meta, "created-at", p);
    m->note = h5s3_dg_meta_get(meta, "note", p);
    m->compression = h5s3_dg_meta_get(meta, "compression", p);
    m->delta_cmd = h5s3_dg_meta_get(meta, "delta-cmd", p);
    if (parse_sha(&m->file_sha256, h5s3_dg_meta_get(meta, "file-sha256", p),
                  p))
        return refuse(res, "dg-file-sha256 is not a SHA-256 in hex");
    if (parse_sha(&m->ref_sha256, h5s3_dg_meta_get(meta, "ref-sha256", p),
                  p))
        return refuse(res, "dg-ref-sha256 is not a SHA-256 in hex");
    if (parse_size(&m->file_size, h5s3_dg_meta_get(meta, "file-size", p)))
        return refuse(res, "dg-file-size is not a byte count");
    if (parse_size(&m->delta_size, h5s3_dg_meta_get(meta, "delta-size", p)))
        return refuse(res, "dg-delta-size is not a byte count");
    m->zero_diff = m->note && strncmp(m->note, "zero-diff", 9) == 0;
    parse_proxy(m, meta, p);

    if (strcmp(base, H5S3_DG_REFERENCE_NAME) == 0) {
        m->kind = H5S3_DG_REFERENCE;
    }
    else if (h5s3_dg_key_is_delta(s3key)) {
        m->kind = H5S3_DG_DELTA;
        m->ref_key = h5s3_dg_meta_get(meta, "ref-key", p);
        ref_path = h5s3_dg_meta_get(meta, "ref-path", p);
        /*
         * Whoever can write a delta chooses its metadata: a path that
         * could name anything outside the delta's deltaspace makes the
         * whole object suspect, even next to a dg-ref-key.
         */
        if ((problem = h5s3_dg_ref_path_problem(ref_path)) != NULL)
            return refuse(res, problem);
        /* The proxy's ref-path is relative to the delta's deltaspace. */
        if (!m->ref_key && ref_path) {
            space = h5s3_dg_deltaspace(s3key, p);
            if (strlen(space) + strlen(ref_path) > H5S3_S3_KEY_MAX)
                return refuse(res, "dg-ref-path is longer than an S3 key "
                              "can be");
            m->ref_key = apr_pstrcat(p, space, ref_path, NULL);
        }
        /* No chains: a deltaspace's deltas all use its reference.bin. */
        if (!m->ref_key)
            m->ref_key = h5s3_dg_reference_key(s3key, p);
    }
    else if (m->file_sha256 || m->compression || m->tool
             || m->original_name || m->file_size >= 0 || m->md5
             || m->encrypted
             || (m->note && strcmp(m->note, "passthrough") == 0)) {
        m->kind = H5S3_DG_DIRECT;
    }
    else {
        m->kind = H5S3_DG_PLAIN;
    }
    *out = m;
    return APR_SUCCESS;
}
