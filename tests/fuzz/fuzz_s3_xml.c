/*
 * S3 XML bodies (ListObjectsV2 pages and <Error> documents) and the
 * ISO 8601 times inside them: whatever a server, a proxy or a
 * man-in-the-middle sends must be refused or parsed, never crash.
 */
#include "fuzz_common.h"
#include "s3/h5s3_s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    h5s3_s3_list_page *page = NULL;
    const char *code = NULL, *msg = NULL;
    apr_time_t t;
    volatile size_t sink = 0;
    int i;

    /* The body exactly as received: not NUL-terminated. */
    if (h5s3_s3_xml_parse_list(&page, (const char *)data, size, p)
        == APR_SUCCESS) {
        for (i = 0; page->entries && i < page->entries->nelts; i++) {
            const h5s3_s3_entry *e =
                &APR_ARRAY_IDX(page->entries, i, h5s3_s3_entry);
            sink += strlen(e->key) + (e->etag ? strlen(e->etag) : 0)
                    + (e->last_modified ? strlen(e->last_modified) : 0);
        }
        for (i = 0; page->prefixes && i < page->prefixes->nelts; i++)
            sink += strlen(APR_ARRAY_IDX(page->prefixes, i, const char *));
        if (page->next_token)
            sink += strlen(page->next_token);
    }
    if (h5s3_s3_xml_parse_error(&code, &msg, (const char *)data, size, p)
        == APR_SUCCESS) {
        sink += (code ? strlen(code) : 0) + (msg ? strlen(msg) : 0);
    }
    h5s3_s3_parse_iso8601(&t, fuzz_str(data, size, p));
    (void)sink;
    apr_pool_destroy(p);
    return 0;
}
