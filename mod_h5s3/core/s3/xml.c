/*
 * ListObjectsV2 and Error documents, through apr_xml.  Element names are
 * matched by local name: AWS puts them in the 2006-03-01 namespace, some
 * servers in none.
 */
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_xml.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_xml.h"

static apr_status_t parse_doc(apr_xml_doc **doc, const char *body,
                              apr_size_t len, apr_pool_t *p)
{
    apr_xml_parser *xp = apr_xml_parser_create(p);

    *doc = NULL;
    if (body == NULL || len == 0) {
        return H5S3_E_UPSTREAM;
    }
    if (apr_xml_parser_feed(xp, body, len) != APR_SUCCESS
        || apr_xml_parser_done(xp, doc) != APR_SUCCESS
        || *doc == NULL || (*doc)->root == NULL) {
        *doc = NULL;
        return H5S3_E_UPSTREAM;
    }
    return APR_SUCCESS;
}

/* All text directly inside an element (expat may hand it in pieces). */
static const char *elem_text(const apr_xml_elem *e, apr_pool_t *p)
{
    const apr_text *t;
    const char *s = "";

    for (t = e->first_cdata.first; t; t = t->next) {
        s = apr_pstrcat(p, s, t->text, NULL);
    }
    return s;
}

static const apr_xml_elem *child(const apr_xml_elem *e, const char *name)
{
    const apr_xml_elem *c;

    for (c = e->first_child; c; c = c->next) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

static const char *child_text(const apr_xml_elem *e, const char *name,
                              apr_pool_t *p)
{
    const apr_xml_elem *c = child(e, name);

    return c ? elem_text(c, p) : NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* EncodingType=url: form-style percent-encoding, '+' for space. */
static const char *url_decode(const char *s, apr_pool_t *p)
{
    char *out, *o;

    if (s == NULL) {
        return NULL;
    }
    out = o = apr_palloc(p, strlen(s) + 1);
    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        }
        else if (*s == '+') {
            *o++ = ' ';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

static const char *strip_quotes(const char *s, apr_pool_t *p)
{
    apr_size_t n;

    if (s == NULL) {
        return NULL;
    }
    while (apr_isspace(*s)) {
        s++;
    }
    n = strlen(s);
    while (n > 0 && apr_isspace(s[n - 1])) {
        n--;
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        return apr_pstrmemdup(p, s + 1, n - 2);
    }
    return apr_pstrmemdup(p, s, n);
}

apr_status_t h5s3_s3_parse_iso8601(apr_time_t *t, const char *s)
{
    apr_time_exp_t tm;
    int y, mo, d, h, mi, sec, n = 0;
    apr_time_t out;

    *t = 0;
    if (s == NULL
        || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
                  &sec, &n) != 6
        || n != 19) {
        return H5S3_E_INVALID;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 60) {
        return H5S3_E_INVALID;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    s += n;
    if (*s == '.') {
        /* Milliseconds or finer: keep microseconds. */
        long usec = 0;
        int digits = 0;

        for (s++; apr_isdigit(*s); s++) {
            if (digits < 6) {
                usec = usec * 10 + (*s - '0');
                digits++;
            }
        }
        while (digits++ < 6) {
            usec *= 10;
        }
        tm.tm_usec = (apr_int32_t)usec;
    }
    if (*s != '\0' && strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0) {
        return H5S3_E_INVALID;
    }
    if (apr_time_exp_gmt_get(&out, &tm) != APR_SUCCESS) {
        return H5S3_E_INVALID;
    }
    *t = out;
    return APR_SUCCESS;
}

apr_status_t h5s3_s3_xml_parse_list(h5s3_s3_list_page **page,
                                    const char *body, apr_size_t len,
                                    apr_pool_t *p)
{
    apr_xml_doc *doc;
    const apr_xml_elem *root, *e;
    h5s3_s3_list_page *pg;
    const char *s;
    int urlenc;
    apr_status_t rv;

    *page = NULL;
    if ((rv = parse_doc(&doc, body, len, p)) != APR_SUCCESS) {
        return rv;
    }
    root = doc->root;
    if (strcmp(root->name, "ListBucketResult") != 0) {
        return H5S3_E_UPSTREAM;
    }
    pg = apr_pcalloc(p, sizeof(*pg));
    pg->entries = apr_array_make(p, 64, sizeof(h5s3_s3_entry));
    pg->prefixes = apr_array_make(p, 8, sizeof(const char *));
    pg->key_count = -1;

    s = child_text(root, "EncodingType", p);
    urlenc = s && !strcasecmp(s, "url");
    s = child_text(root, "IsTruncated", p);
    pg->truncated = s && !strcasecmp(s, "true");
    s = child_text(root, "NextContinuationToken", p);
    pg->next_token = (s && *s) ? s : NULL;
    s = child_text(root, "KeyCount", p);
    if (s && *s) {
        pg->key_count = atoi(s);
    }

    for (e = root->first_child; e; e = e->next) {
        if (!strcmp(e->name, "Contents")) {
            h5s3_s3_entry *en = apr_array_push(pg->entries);
            const char *v;

            memset(en, 0, sizeof(*en));
            en->key = child_text(e, "Key", p);
            if (en->key == NULL) {
                return H5S3_E_UPSTREAM;
            }
            if (urlenc) {
                en->key = url_decode(en->key, p);
            }
            v = child_text(e, "Size", p);
            en->size = v ? apr_atoi64(v) : 0;
            en->etag = strip_quotes(child_text(e, "ETag", p), p);
            en->last_modified = child_text(e, "LastModified", p);
            if (en->last_modified) {
                h5s3_s3_parse_iso8601(&en->mtime, en->last_modified);
            }
        }
        else if (!strcmp(e->name, "CommonPrefixes")) {
            const char *v = child_text(e, "Prefix", p);

            if (v) {
                APR_ARRAY_PUSH(pg->prefixes, const char *) =
                    urlenc ? url_decode(v, p) : v;
            }
        }
    }
    /* A truncated page without a token would make callers loop forever. */
    if (pg->truncated && pg->next_token == NULL) {
        return H5S3_E_UPSTREAM;
    }
    *page = pg;
    return APR_SUCCESS;
}

apr_status_t h5s3_s3_xml_parse_error(const char **code, const char **message,
                                     const char *body, apr_size_t len,
                                     apr_pool_t *p)
{
    apr_xml_doc *doc;
    apr_status_t rv;

    *code = NULL;
    *message = NULL;
    if ((rv = parse_doc(&doc, body, len, p)) != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(doc->root->name, "Error") != 0) {
        return H5S3_E_UPSTREAM;
    }
    *code = child_text(doc->root, "Code", p);
    *message = child_text(doc->root, "Message", p);
    return APR_SUCCESS;
}
