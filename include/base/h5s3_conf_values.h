/*
 * Parsing of configuration values, kept out of the glue so it can be unit
 * tested.  Each parser returns APR_SUCCESS or H5S3_E_INVALID, res's detail
 * a short explanation the directive handler puts in its error message.
 */
#ifndef H5S3_CONF_VALUES_H
#define H5S3_CONF_VALUES_H

#include <apr_pools.h>
#include "base/h5s3_result.h"

/* http(s)://host[:port], optional trailing '/', nothing else; *norm has no trailing '/'. */
apr_status_t h5s3_conf_parse_endpoint(const char **norm, h5s3_result *res,
                                      const char *url, apr_pool_t *p);

/* A byte size: digits with an optional K, M or G suffix (powers of 1024). */
apr_status_t h5s3_conf_parse_size(apr_off_t *bytes, h5s3_result *res,
                                  const char *s);

/* A whole number within [min, max]. */
apr_status_t h5s3_conf_parse_long(long *out, h5s3_result *res, const char *s,
                                  long min, long max);

/*
 * A secret given as a literal, as env:NAME or as file:/path (first line,
 * trailing newline removed).  Missing variables or unreadable files fail.
 */
apr_status_t h5s3_conf_resolve_secret(const char **value, h5s3_result *res,
                                      const char *spec, apr_pool_t *p);

/* S3 bucket naming rules (3-63 of a-z 0-9 . -, starting and ending alnum). */
apr_status_t h5s3_conf_check_bucket(h5s3_result *res, const char *name);

/* Aliases appear in URLs and query strings: 1-63 of A-Za-z0-9 . _ -. */
apr_status_t h5s3_conf_check_alias(h5s3_result *res, const char *name);

/* A boolean the way the viewer API spells them (1/true/yes/on, 0/false/no/off). */
apr_status_t h5s3_conf_parse_bool(int *out, const char *s);

#endif
