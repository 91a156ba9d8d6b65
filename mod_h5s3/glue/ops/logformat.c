/*
 * %{NOTE}J for LogFormat: a request note as a JSON value.
 *
 * mod_log_config escapes %{NOTE}n for a text log: '"' and '\' become \"
 * and \\ (fine in JSON), but control characters and every byte >= 0x80
 * become \xHH, which no JSON parser accepts, and an unset note is "-".
 * Object keys are UTF-8 and may hold anything, so a JSON access log
 * needs its own escaping: this handler writes a quoted JSON string
 * (non-ASCII as \uXXXX, invalid UTF-8 as U+FFFD) or null when the note is
 * unset; the module's numeric notes (h5s3-s3-*) come out as bare numbers.
 * conf/h5s3-json-log.conf uses it.
 */
#include <string.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <mod_log_config.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

static const char *const numeric_notes[] = {
    "h5s3-s3-requests", "h5s3-s3-bytes", "h5s3-s3-status",
    "h5s3-codec-ms", "h5s3-codec-rc", NULL
};

static int is_numeric_note(const char *name)
{
    int i;

    for (i = 0; numeric_notes[i]; i++) {
        if (!strcmp(numeric_notes[i], name)) {
            return 1;
        }
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s, 0 if it is not one. */
static apr_size_t utf8_len(const unsigned char *s, apr_size_t n)
{
    apr_size_t len, i;
    unsigned long cp;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    }
    else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates and beyond U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
        return 0;
    }
    return len;
}

/*
 * JSON with ASCII only: the log line then survives any tool.  Invalid
 * UTF-8 becomes U+FFFD so the line still parses.
 */
static const char *json_quote(apr_pool_t *p, const char *v)
{
    json_t *s;
    char *dump, *out;
    apr_size_t n = strlen(v), i = 0;

    s = json_stringn(v, n);
    if (s == NULL) {
        char *clean = apr_palloc(p, 3 * n + 1), *o = clean;
        while (i < n) {
            apr_size_t k = utf8_len((const unsigned char *)v + i, n - i);
            if (k == 0) {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            }
            else {
                memcpy(o, v + i, k);
                o += k;
                i += k;
            }
        }
        *o = '\0';
        s = json_stringn(clean, (size_t)(o - clean));
    }
    if (s == NULL) {
        return "null";
    }
    dump = json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    json_decref(s);
    if (dump == NULL) {
        return "null";
    }
    out = apr_pstrdup(p, dump);
    free(dump);
    return out;
}

static const char *log_json_note(request_rec *r, char *name)
{
    const char *v = apr_table_get(r->notes, name);

    if (v == NULL) {
        return "null";
    }
    if (is_numeric_note(name)) {
        const char *d = v;
        if (*d == '\0') {
            return "null";
        }
        for (; *d; d++) {
            if (*d < '0' || *d > '9') {
                return "null";
            }
        }
        return v;
    }
    return json_quote(r->pool, v);
}

void h5s3_logformat_pre_config(apr_pool_t *pconf)
{
    APR_OPTIONAL_FN_TYPE(ap_register_log_handler) *reg;

    /*
     * mod_log_config makes its table in a REALLY_FIRST pre_config; without
     * mod_log_config there is nothing to register with.
     */
    reg = APR_RETRIEVE_OPTIONAL_FN(ap_register_log_handler);
    if (reg) {
        reg(pconf, "J", log_json_note, 0);
    }
}
