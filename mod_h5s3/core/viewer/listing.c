/* /files listing rows (see include/viewer/h5s3_listing.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "json/h5s3_json.h"
#include "json/h5s3_text.h"
#include "viewer/h5s3_listing.h"

struct h5s3_listing {
    apr_pool_t *pool;
    const char *prefix;         /* echoed */
    const char *norm;           /* S3 prefix: leading '/' stripped */
    int include_folders;
    int max_items;
    int files_count;
    json_t *files;
    apr_hash_t *folders;        /* set of folder keys */
};

h5s3_listing *h5s3_listing_create(const char *prefix, int include_folders,
                                  int max_items, apr_pool_t *p)
{
    h5s3_listing *l = apr_pcalloc(p, sizeof(*l));

    l->pool = p;
    l->prefix = prefix;
    l->norm = prefix;
    while (*l->norm == '/') {
        l->norm++;
    }
    l->include_folders = include_folders;
    l->max_items = max_items;
    l->files = h5s3_json_pool_own(p, json_array());
    l->folders = apr_hash_make(p);
    return l;
}

const char *h5s3_listing_s3_prefix(const h5s3_listing *l)
{
    return l->norm;
}

static void add_folder(h5s3_listing *l, const char *key, apr_size_t len)
{
    if (len < strlen(l->norm) || strncmp(key, l->norm, strlen(l->norm)) != 0) {
        return;
    }
    if (apr_hash_get(l->folders, key, len) == NULL) {
        char *k = apr_pstrmemdup(l->pool, key, len);
        apr_hash_set(l->folders, k, len, k);
    }
}

/* Every ancestor "a/", "a/b/" of key (and key itself when it ends in '/'). */
static void add_ancestors(h5s3_listing *l, const char *key)
{
    const char *s;

    for (s = strchr(key, '/'); s != NULL; s = strchr(s + 1, '/')) {
        add_folder(l, key, (apr_size_t)(s - key + 1));
    }
}

int h5s3_listing_add(h5s3_listing *l, const h5s3_s3_entry *e)
{
    size_t n = strlen(e->key);
    json_t *row;

    if (l->files_count >= l->max_items) {
        return 1;
    }
    if (n > 0 && e->key[n - 1] == '/') {
        /* Folder placeholders are never files. */
        if (l->include_folders) {
            add_ancestors(l, e->key);
        }
        return 0;
    }
    row = json_pack("{s:s, s:b, s:s, s:s, s:I, s:s}",
                    "etag", e->etag ? e->etag : "",
                    "is_folder", 0,
                    "key", e->key,
                    "last_modified", h5s3_time_isoformat(l->pool, e->mtime, 1),
                    "size", (json_int_t)e->size,
                    "type", "file");
    json_array_append_new(l->files, row);
    l->files_count++;
    if (l->include_folders) {
        add_ancestors(l, e->key);
    }
    return l->files_count >= l->max_items;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *h5s3_listing_result(h5s3_listing *l)
{
    apr_array_header_t *names;
    apr_hash_index_t *hi;
    json_t *files = json_deep_copy(l->files);
    int i;

    names = apr_array_make(l->pool, (int)apr_hash_count(l->folders),
                           sizeof(const char *));
    for (hi = apr_hash_first(l->pool, l->folders); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        APR_ARRAY_PUSH(names, const char *) = k;
    }
    /* Python's sorted() on str compares code points; strcmp on UTF-8 agrees. */
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
    for (i = 0; i < names->nelts; i++) {
        json_array_append_new(files, json_pack(
            "{s:n, s:b, s:s, s:n, s:i, s:s}", "etag", "is_folder", 1,
            "key", APR_ARRAY_IDX(names, i, const char *), "last_modified",
            "size", 0, "type", "folder"));
    }
    return json_pack("{s:o, s:I, s:i, s:i, s:b, s:i, s:s, s:b}",
                     "files", files,
                     "count", (json_int_t)json_array_size(files),
                     "files_count", l->files_count,
                     "folders_count", names->nelts,
                     "include_folders", l->include_folders,
                     "max_items", l->max_items,
                     "prefix", l->prefix,
                     "truncated", l->files_count >= l->max_items);
}

apr_status_t h5s3_listing_fetch(json_t **out, h5s3_s3_client *c,
                                const char *bucket, const char *prefix,
                                int include_folders, int max_items,
                                h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_listing *l = h5s3_listing_create(prefix, include_folders, max_items, p);
    const char *token = NULL;
    apr_pool_t *sub;
    apr_status_t rv = APR_SUCCESS;
    int full = 0;

    apr_pool_create(&sub, p);
    do {
        h5s3_s3_list_page *page;
        int i;

        apr_pool_clear(sub);
        rv = h5s3_s3_list(&page, c, bucket,
                          *l->norm ? l->norm : NULL, NULL, token, 1000,
                          call, sub);
        if (rv != APR_SUCCESS) {
            goto cleanup;
        }
        for (i = 0; i < page->entries->nelts && !full; i++) {
            full = h5s3_listing_add(l, &APR_ARRAY_IDX(page->entries, i,
                                                      h5s3_s3_entry));
        }
        token = (page->truncated && page->next_token)
                    ? apr_pstrdup(p, page->next_token) : NULL;
    } while (token && !full);
    *out = h5s3_json_pool_own(p, h5s3_listing_result(l));

cleanup:
    apr_pool_destroy(sub);
    return rv;
}
