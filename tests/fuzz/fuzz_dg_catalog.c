/*
 * The logical listing of /api/objects: query parameters (sort, order,
 * compressed, limit), S3 keys (anyone who can upload chooses them) and
 * the opaque list cursor a client sends back.  Input: newline-separated
 * fields sort, order, compressed, limit, prefix, flags, search, cursor,
 * then one S3 key per line.  The cursor field is signed with the
 * fuzzer's key so the JSON behind the MAC is reached; a cursor field
 * starting with '!' goes in raw (the MAC check itself).
 */
#include <stdio.h>
#include <apr_hash.h>
#include "fuzz_common.h"
#include "dg/h5s3_dg.h"

#define NFIELDS 9
#define MAX_KEYS 64

static const unsigned char key_bytes[] = "fuzz-cursor-secret";
static const h5s3_token_key key = { key_bytes, sizeof(key_bytes) - 1 };

/* What S3 would list under prefix, with or without delimiter "/". */
static void s3_view(apr_array_header_t **entries, apr_array_header_t **pfx,
                    char *keys, const char *prefix, int delim, apr_pool_t *p)
{
    apr_hash_t *seen = apr_hash_make(p);
    apr_size_t plen = strlen(prefix);
    char *line, *last;
    int n = 0;

    *entries = apr_array_make(p, 8, sizeof(h5s3_s3_entry));
    *pfx = apr_array_make(p, 8, sizeof(const char *));
    for (line = apr_strtok(keys, "\n", &last); line && n < MAX_KEYS;
         line = apr_strtok(NULL, "\n", &last), n++) {
        h5s3_s3_entry *e;
        const char *slash;

        if (strncmp(line, prefix, plen) != 0)
            continue;
        slash = delim ? strchr(line + plen, '/') : NULL;
        if (slash) {
            const char *cp = apr_pstrmemdup(p, line, slash - line + 1);
            if (!apr_hash_get(seen, cp, APR_HASH_KEY_STRING)) {
                apr_hash_set(seen, cp, APR_HASH_KEY_STRING, cp);
                APR_ARRAY_PUSH(*pfx, const char *) = cp;
            }
            continue;
        }
        e = apr_array_push(*entries);
        e->key = line;
        e->size = (apr_off_t)strlen(line) * 1000 + n;
        e->etag = apr_psprintf(p, "etag%d", n);
        e->mtime = apr_time_from_sec(1600000000 + (n * 7919) % 1000);
        e->last_modified = "2020-09-13T12:26:40.000Z";
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *f[NFIELDS];
    h5s3_dg_query q;
    const char *bad;
    apr_array_header_t *entries, *s3pfx, *objs, *pfx;
    h5s3_dg_page *pg;
    int i, pages;

    fuzz_fields(f, NFIELDS, data, size, '\n', p);
    memset(&q, 0, sizeof(q));
    if (h5s3_dg_query_parse(&q, &bad, f[0], f[1], f[2], f[3])
        != APR_SUCCESS) {
        if (!bad) {
            fprintf(stderr, "query_parse failed without naming why\n");
            abort();
        }
        goto done;
    }
    q.bucket = "bucket";
    q.prefix = f[4] ? f[4] : "";
    q.delimiter = (f[5] && (f[5][0] & 1)) ? "/" : NULL;
    q.search = f[6];
    if (f[7] && f[7][0] == '!')
        q.cursor = f[7] + 1;
    else if (f[7] && *f[7]
             && h5s3_token_sign(&q.cursor, &key, f[7], strlen(f[7]), p)
                != APR_SUCCESS)
        goto done;
    s3_view(&entries, &s3pfx, f[8] ? f[8] : apr_pstrdup(p, ""), q.prefix,
            q.delimiter != NULL, p);
    if (h5s3_dg_catalog_build(&objs, &pfx, entries, s3pfx, q.prefix,
                              q.delimiter, p) != APR_SUCCESS)
        goto done;
    /* Some deltas resolved (as a HEAD would), some not (-1). */
    for (i = 0; i < objs->nelts; i++) {
        h5s3_dg_object *o = APR_ARRAY_IDX(objs, i, h5s3_dg_object *);
        if (o->compressed && (i & 1))
            o->original_bytes = o->stored_bytes * 3;
        json_decref(h5s3_dg_object_json(o));
    }
    /* Follow the cursors: every page is bounded, and so is the walk. */
    for (pages = 0; pages <= objs->nelts + 1; pages++) {
        json_t *j;

        if (h5s3_dg_catalog_page(&pg, objs, pfx, &q, &key, p)
            != APR_SUCCESS)
            break;
        if (pg->objects->nelts > q.limit) {
            fprintf(stderr, "page larger than its limit\n");
            abort();
        }
        j = h5s3_dg_page_json(pg);
        json_decref(j);
        if (!pg->cursor)
            break;
        q.cursor = pg->cursor;
    }
    if (pages > objs->nelts + 1) {
        fprintf(stderr, "cursor walk does not end\n");
        abort();
    }
done:
    apr_pool_destroy(p);
    return 0;
}
