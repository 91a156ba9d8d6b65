/* Configuration value parsers (see include/base/h5s3_conf_values.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include "base/h5s3_conf_values.h"
#include "base/h5s3_errors.h"

apr_status_t h5s3_conf_parse_endpoint(const char **norm, h5s3_result *res,
                                      const char *url, apr_pool_t *p)
{
    apr_uri_t u;
    const char *host;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || u.scheme == NULL
        || u.hostname == NULL || *u.hostname == '\0') {
        return h5s3_result_set(res, H5S3_E_INVALID, "expected "
                               "http://host[:port] or https://host[:port]");
    }
    if (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https")) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "the scheme must be http or https");
    }
    if ((u.path && strcmp(u.path, "") && strcmp(u.path, "/")) || u.query
        || u.fragment || u.user || u.password) {
        return h5s3_result_set(res, H5S3_E_INVALID, "the endpoint takes no "
                               "path, query, fragment or user info");
    }
    if (u.port_str && (u.port == 0 || *u.port_str == '\0'
                       || strspn(u.port_str, "0123456789")
                          != strlen(u.port_str))) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "the port must be a number from 1 to 65535");
    }
    /* apr_uri takes "http://[[]:" as host "[": refuse what no host has. */
    if (strspn(u.hostname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
               "WXYZ0123456789.-_:") != strlen(u.hostname)) {
        return h5s3_result_set(res, H5S3_E_INVALID, "the host name has "
                               "characters no host name has");
    }
    /* apr_uri strips IPv6 brackets; put them back for the URL we build. */
    host = strchr(u.hostname, ':') ? apr_pstrcat(p, "[", u.hostname, "]", NULL)
                                   : u.hostname;
    *norm = apr_psprintf(p, "%s://%s%s%s", apr_pstrdup(p, u.scheme), host,
                         u.port_str ? ":" : "", u.port_str ? u.port_str : "");
    {
        char *s = (char *)*norm;
        for (; *s && *s != ':'; s++) {
            *s = (char)tolower((unsigned char)*s);
        }
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_parse_size(apr_off_t *bytes, h5s3_result *res,
                                  const char *s)
{
    char *end;
    apr_int64_t v;
    apr_int64_t mult = 1;

    if (s == NULL || !isdigit((unsigned char)*s)) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "expected a size such as 512K, 64M or 1G");
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno) {
        return h5s3_result_set(res, H5S3_E_INVALID, "the size is too large");
    }
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mult = 1024; break;
        case 'M': mult = 1024 * 1024; break;
        case 'G': mult = 1024 * 1024 * 1024; break;
        default:
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "the unit must be K, M or G");
        }
        end++;
        if (*end == 'B' || *end == 'b') {
            end++;
        }
        if (*end) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "unexpected characters after the unit");
        }
    }
    if (v > APR_INT64_MAX / mult) {
        return h5s3_result_set(res, H5S3_E_INVALID, "the size is too large");
    }
    *bytes = (apr_off_t)(v * mult);
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_parse_long(long *out, h5s3_result *res, const char *s,
                                  long min, long max)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0') {
        return h5s3_result_set(res, H5S3_E_INVALID, "expected a whole number");
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s) {
        return h5s3_result_set(res, H5S3_E_INVALID, "expected a whole number");
    }
    if (v < min || v > max) {
        return h5s3_result_set(res, H5S3_E_INVALID,
                               "the number is out of range");
    }
    *out = v;
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_resolve_secret(const char **value, h5s3_result *res,
                                      const char *spec, apr_pool_t *p)
{
    if (strncmp(spec, "env:", 4) == 0) {
        char *v;
        if (spec[4] == '\0' || apr_env_get(&v, spec + 4, p) != APR_SUCCESS) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "the environment variable is not set");
        }
        if (*v == '\0') {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "the environment variable is empty");
        }
        *value = v;
        return APR_SUCCESS;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        apr_file_t *f;
        char buf[4096];
        apr_size_t n = sizeof(buf) - 1;
        char *nl;

        if (apr_file_open(&f, spec + 5, APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
            return h5s3_result_set(res, H5S3_E_INVALID,
                                   "the file cannot be read");
        }
        if (apr_file_read(f, buf, &n) != APR_SUCCESS) {
            n = 0;
        }
        apr_file_close(f);
        buf[n] = '\0';
        if ((nl = strpbrk(buf, "\r\n")) != NULL) {
            *nl = '\0';
        }
        if (buf[0] == '\0') {
            return h5s3_result_set(res, H5S3_E_INVALID, "the file is empty");
        }
        *value = apr_pstrdup(p, buf);
        return APR_SUCCESS;
    }
    if (*spec == '\0') {
        return h5s3_result_set(res, H5S3_E_INVALID, "the value is empty");
    }
    *value = spec;
    return APR_SUCCESS;
}

#define DIGITS "0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/*
 * A name of min to max characters, each one of allowed: what bucket names
 * and aliases share.  The sets are spelled out rather than taken from
 * <ctype.h>, whose classes follow the locale.
 */
static apr_status_t check_name(h5s3_result *res, const char *name,
                               size_t min, size_t max, const char *allowed,
                               const char *wrong_length,
                               const char *wrong_char)
{
    size_t n = strlen(name);

    if (n < min || n > max) {
        return h5s3_result_set(res, H5S3_E_INVALID, wrong_length);
    }
    if (strspn(name, allowed) != n) {
        return h5s3_result_set(res, H5S3_E_INVALID, wrong_char);
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_check_bucket(h5s3_result *res, const char *name)
{
    apr_status_t rv;

    rv = check_name(res, name, 3, 63, LOWER DIGITS ".-",
                    "a bucket name has 3 to 63 characters",
                    "a bucket name has only a-z, 0-9, '.' and '-'");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!strchr(LOWER DIGITS, name[0])
        || !strchr(LOWER DIGITS, name[strlen(name) - 1])) {
        return h5s3_result_set(res, H5S3_E_INVALID, "a bucket name starts and "
                               "ends with a letter or digit");
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_check_alias(h5s3_result *res, const char *name)
{
    return check_name(res, name, 1, 63, UPPER LOWER DIGITS "._-",
                      "an alias has 1 to 63 characters",
                      "an alias has only A-Z, a-z, 0-9, '.', '_' and '-'");
}

apr_status_t h5s3_conf_parse_bool(int *out, const char *s)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    int i;

    for (i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return APR_SUCCESS;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return APR_SUCCESS;
        }
    }
    return H5S3_E_INVALID;
}
