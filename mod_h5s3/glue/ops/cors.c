/*
 * CORS for the Locations that set H5S3CORSAllowOrigin.
 *
 * Everything happens in a header_parser hook: it runs after httpd has
 * merged the <Location> configuration but before any access, authn or
 * authz hook, so a preflight (which browsers send without credentials)
 * is answered 204 before authentication can refuse it.  For every other
 * request the headers go into r->err_headers_out, where they survive a
 * 401 from mod_auth_basic, a 429 from the rate limit or a 502 from S3.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"

APLOG_USE_MODULE(h5s3);

#define ALLOW_METHODS "GET, HEAD, POST, PUT, DELETE, OPTIONS"
#define DEFAULT_ALLOW_HEADERS "Accept, Authorization, Content-Type, Range"
#define EXPOSE_HEADERS "Content-Disposition, Retry-After, X-H5S3-Route, " \
    "X-H5S3-Cache, X-H5S3-S3-Requests, X-H5S3-S3-Bytes"

void h5s3_cors_conf_init(h5s3_cors_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->any = H5S3_UNSET;
    c->max_age = H5S3_UNSET;
    c->credentials = H5S3_UNSET;
}

void h5s3_cors_conf_merge(h5s3_cors_conf *c, const h5s3_cors_conf *base,
                          const h5s3_cors_conf *add)
{
    /* The origin list is one setting: an inner Location replaces it. */
    if (add->any != H5S3_UNSET) {
        c->any = add->any;
        c->origins = add->origins;
    }
    else {
        c->any = base->any;
        c->origins = base->origins;
    }
    c->max_age = add->max_age != H5S3_UNSET ? add->max_age : base->max_age;
    c->headers = add->headers ? add->headers : base->headers;
    c->credentials = add->credentials != H5S3_UNSET ? add->credentials
                                                    : base->credentials;
}

static const char *star_and_credentials(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "%s: H5S3CORSAllowOrigin * cannot be "
                        "combined with H5S3CORSAllowCredentials On (browsers "
                        "refuse it): list the origins instead",
                        cmd->directive->directive);
}

/* Scheme, host and optional port, as browsers send in Origin. */
static int valid_origin(const char *o)
{
    const char *host;

    if (!strncmp(o, "https://", 8)) {
        host = o + 8;
    }
    else if (!strncmp(o, "http://", 7)) {
        host = o + 7;
    }
    else {
        return 0;
    }
    return *host != '\0' && strpbrk(host, "/?#@ \t\"") == NULL;
}

const char *h5s3_cors_set_origin(cmd_parms *cmd, void *dcv, const char *arg)
{
    h5s3_cors_conf *c = &((h5s3_dir_conf *)dcv)->cors;

    /* A new directive line starts a new list (ITERATE calls once per word). */
    if (c->origins == NULL || c->line != cmd->directive) {
        c->origins = apr_array_make(cmd->pool, 4, sizeof(const char *));
        c->line = cmd->directive;
        c->any = 0;
    }
    if (!strcmp(arg, "*")) {
        if (c->origins->nelts > 0) {
            return apr_psprintf(cmd->pool, "%s: '*' stands alone, it cannot "
                                "be listed with origins",
                                cmd->directive->directive);
        }
        if (c->credentials == 1) {
            return star_and_credentials(cmd);
        }
        c->any = 1;
        return NULL;
    }
    if (c->any == 1) {
        return apr_psprintf(cmd->pool, "%s: '*' stands alone, it cannot be "
                            "listed with origins", cmd->directive->directive);
    }
    if (!valid_origin(arg)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid: an origin is "
                            "http(s)://host[:port], without a path, or *",
                            cmd->directive->directive, arg);
    }
    *(const char **)apr_array_push(c->origins) = arg;
    return NULL;
}

const char *h5s3_cors_set_max_age(cmd_parms *cmd, void *dcv, const char *arg)
{
    h5s3_cors_conf *c = &((h5s3_dir_conf *)dcv)->cors;
    char *end;
    long v = strtol(arg, &end, 10);

    if (end == arg || *end != '\0' || v < 0 || v > 86400) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid: expected "
                            "seconds from 0 to 86400",
                            cmd->directive->directive, arg);
    }
    c->max_age = v;
    return NULL;
}

const char *h5s3_cors_set_headers(cmd_parms *cmd, void *dcv, const char *arg)
{
    h5s3_cors_conf *c = &((h5s3_dir_conf *)dcv)->cors;
    const char *p;

    for (p = arg; *p; p++) {
        /* RFC 9110 token characters, plus the list separators. */
        if (!apr_isalnum(*p) && !strchr("!#$%&'*+-.^_`|~, ", *p)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not valid: header "
                                "names only", cmd->directive->directive,
                                arg);
        }
    }
    c->headers = c->headers && c->headers_line == cmd->directive
                 ? apr_pstrcat(cmd->pool, c->headers, ", ", arg, NULL) : arg;
    c->headers_line = cmd->directive;
    return NULL;
}

const char *h5s3_cors_set_credentials(cmd_parms *cmd, void *dcv, int on)
{
    h5s3_cors_conf *c = &((h5s3_dir_conf *)dcv)->cors;

    if (on && c->any == 1) {
        return star_and_credentials(cmd);
    }
    c->credentials = on;
    return NULL;
}

static const char *allowed_origin(const h5s3_cors_conf *c, const char *origin)
{
    int i;

    if (c->any == 1) {
        return "*";
    }
    for (i = 0; c->origins && i < c->origins->nelts; i++) {
        const char *o = APR_ARRAY_IDX(c->origins, i, const char *);
        /* Scheme and host compare case-insensitively. */
        if (!strcasecmp(o, origin)) {
            return origin;
        }
    }
    return NULL;
}

int h5s3_cors_origin_allowed(const h5s3_cors_conf *c, const char *origin)
{
    return allowed_origin(c, origin) != NULL;
}

int h5s3_cors_header_parser(request_rec *r)
{
    h5s3_dir_conf *dc = ap_get_module_config(r->per_dir_config,
                                             &h5s3_module);
    const h5s3_cors_conf *c;
    const char *origin, *allowed;
    int preflight;

    if (dc == NULL || r->main != NULL) {
        return DECLINED;
    }
    c = &dc->cors;
    if (c->any != 1 && (c->origins == NULL || c->origins->nelts == 0)) {
        return DECLINED;
    }
    /* The answer depends on Origin, whatever it is: tell caches. */
    apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    origin = apr_table_get(r->headers_in, "Origin");
    if (origin == NULL) {
        return DECLINED;
    }
    allowed = allowed_origin(c, origin);
    preflight = r->method_number == M_OPTIONS
                && apr_table_get(r->headers_in,
                                 "Access-Control-Request-Method") != NULL;
    if (allowed) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin",
                       allowed);
        /* Never with "*": browsers reject the pair. */
        if (c->any != 1 && c->credentials == 1) {
            apr_table_setn(r->err_headers_out,
                           "Access-Control-Allow-Credentials", "true");
        }
        if (!preflight) {
            apr_table_setn(r->err_headers_out,
                           "Access-Control-Expose-Headers", EXPOSE_HEADERS);
        }
    }
    if (!preflight) {
        return DECLINED;
    }
    if (allowed) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods",
                       ALLOW_METHODS);
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers",
                       c->headers ? c->headers : DEFAULT_ALLOW_HEADERS);
        if (c->max_age != H5S3_UNSET) {
            apr_table_setn(r->err_headers_out, "Access-Control-Max-Age",
                           apr_ltoa(r->pool, c->max_age));
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "h5s3: CORS preflight "
                  "from %s %s", origin, allowed ? "allowed" : "refused");
    apr_table_setn(r->notes, "h5s3-route", "preflight");
    h5s3_server_status_preflight();
    /* A disallowed origin gets the 204 too, but no CORS headers. */
    r->status = HTTP_NO_CONTENT;
    return DONE;
}
