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

apr_status_t h5s3_conf_parse_endpoint(const char **norm, const char **why,
                                      const char *url, apr_pool_t *p)
{
    apr_uri_t u;
    const char *host;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || u.scheme == NULL
        || u.hostname == NULL || *u.hostname == '\0') {
        *why = "expected http://host[:port] or https://host[:port]";
        return H5S3_E_INVALID;
    }
    if (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https")) {
        *why = "the scheme must be http or https";
        return H5S3_E_INVALID;
    }
    if ((u.path && strcmp(u.path, "") && strcmp(u.path, "/")) || u.query
        || u.fragment || u.user || u.password) {
        *why = "the endpoint takes no path, query, fragment or user info";
        return H5S3_E_INVALID;
    }
    if (u.port_str && (u.port == 0 || *u.port_str == '\0'
                       || strspn(u.port_str, "0123456789")
                          != strlen(u.port_str))) {
        *why = "the port must be a number from 1 to 65535";
        return H5S3_E_INVALID;
    }
    /* apr_uri takes "http://[[]:" as host "[": refuse what no host has. */
    if (strspn(u.hostname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
               "WXYZ0123456789.-_:") != strlen(u.hostname)) {
        *why = "the host name has characters no host name has";
        return H5S3_E_INVALID;
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

apr_status_t h5s3_conf_parse_size(apr_off_t *bytes, const char **why,
                                  const char *s)
{
    char *end;
    apr_int64_t v;
    apr_int64_t mult = 1;

    if (s == NULL || !isdigit((unsigned char)*s)) {
        *why = "expected a size such as 512K, 64M or 1G";
        return H5S3_E_INVALID;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno) {
        *why = "the size is too large";
        return H5S3_E_INVALID;
    }
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mult = 1024; break;
        case 'M': mult = 1024 * 1024; break;
        case 'G': mult = 1024 * 1024 * 1024; break;
        default:
            *why = "the unit must be K, M or G";
            return H5S3_E_INVALID;
        }
        end++;
        if (*end == 'B' || *end == 'b') {
            end++;
        }
        if (*end) {
            *why = "unexpected characters after the unit";
            return H5S3_E_INVALID;
        }
    }
    if (v > APR_INT64_MAX / mult) {
        *why = "the size is too large";
        return H5S3_E_INVALID;
    }
    *bytes = (apr_off_t)(v * mult);
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_parse_long(long *out, const char **why, const char *s,
                                  long min, long max)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0') {
        *why = "expected a whole number";
        return H5S3_E_INVALID;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s) {
        *why = "expected a whole number";
        return H5S3_E_INVALID;
    }
    if (v < min || v > max) {
        *why = "the number is out of range";
        return H5S3_E_INVALID;
    }
    *out = v;
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_resolve_secret(const char **value, const char **why,
                                      const char *spec, apr_pool_t *p)
{
    if (strncmp(spec, "env:", 4) == 0) {
        char *v;
        if (spec[4] == '\0' || apr_env_get(&v, spec + 4, p) != APR_SUCCESS) {
            *why = "the environment variable is not set";
            return H5S3_E_INVALID;
        }
        if (*v == '\0') {
            *why = "the environment variable is empty";
            return H5S3_E_INVALID;
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
            *why = "the file cannot be read";
            return H5S3_E_INVALID;
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
            *why = "the file is empty";
            return H5S3_E_INVALID;
        }
        *value = apr_pstrdup(p, buf);
        return APR_SUCCESS;
    }
    if (*spec == '\0') {
        *why = "the value is empty";
        return H5S3_E_INVALID;
    }
    *value = spec;
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_check_bucket(const char **why, const char *name)
{
    size_t n = strlen(name), i;

    if (n < 3 || n > 63) {
        *why = "a bucket name has 3 to 63 characters";
        return H5S3_E_INVALID;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '-')) {
            *why = "a bucket name has only a-z, 0-9, '.' and '-'";
            return H5S3_E_INVALID;
        }
    }
    if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1])) {
        *why = "a bucket name starts and ends with a letter or digit";
        return H5S3_E_INVALID;
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_conf_check_alias(const char **why, const char *name)
{
    size_t n = strlen(name), i;

    if (n < 1 || n > 63) {
        *why = "an alias has 1 to 63 characters";
        return H5S3_E_INVALID;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-')) {
            *why = "an alias has only A-Z, a-z, 0-9, '.', '_' and '-'";
            return H5S3_E_INVALID;
        }
    }
    return APR_SUCCESS;
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
