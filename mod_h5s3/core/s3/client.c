/*
 * A client: where one S3 service is and how to sign for it.  The
 * endpoint is parsed once here so every exchange builds its Host header
 * and path from the same pieces it signs; the SigV4 signing key, which
 * changes once a day, is derived once per date rather than per request.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "base/h5s3_errors.h"
#include "base/h5s3_log.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_internal.h"
#include "s3/h5s3_s3_sign.h"

const char *h5s3_s3_client_scope(const h5s3_s3_client *c)
{
    if (c == NULL) {
        return "";
    }
    return c->cfg.scope ? c->cfg.scope
                        : (c->cfg.endpoint ? c->cfg.endpoint : "");
}

/* An http(s) URL with a host and nothing that would not be signed. */
static apr_status_t parse_endpoint(apr_uri_t *u, const char *endpoint,
                                   apr_pool_t *p)
{
    if (apr_uri_parse(p, endpoint, u) != APR_SUCCESS
        || u->scheme == NULL || u->hostname == NULL || *u->hostname == '\0'
        || (strcasecmp(u->scheme, "http") && strcasecmp(u->scheme, "https"))
        || u->query || u->user) {
        return H5S3_E_INVALID;
    }
    return APR_SUCCESS;
}

/* Scheme, Host header value and path prefix of a parsed endpoint. */
static void set_address(h5s3_s3_client *c, const apr_uri_t *u,
                        apr_pool_t *p)
{
    const char *host;

    c->scheme = strcasecmp(u->scheme, "https") ? "http" : "https";
    host = strchr(u->hostname, ':') ? apr_pstrcat(p, "[", u->hostname, "]",
                                                  NULL)
                                    : u->hostname;
    c->hostport = u->port_str ? apr_pstrcat(p, host, ":", u->port_str, NULL)
                              : apr_pstrdup(p, host);
    c->base_path = "";
    if (u->path && strcmp(u->path, "/") != 0) {
        apr_size_t n = strlen(u->path);

        while (n > 0 && u->path[n - 1] == '/') {
            n--;
        }
        c->base_path = apr_pstrmemdup(p, u->path, n);
    }
}

apr_status_t h5s3_s3_client_create(h5s3_s3_client **client,
                                   const h5s3_s3_config *cfg, apr_pool_t *p)
{
    h5s3_s3_client *c;
    apr_uri_t u;
    apr_status_t rv;

    *client = NULL;
    if (cfg == NULL || cfg->endpoint == NULL) {
        return H5S3_E_INVALID;
    }
    if ((rv = h5s3_s3_global_init()) != APR_SUCCESS) {
        return rv;
    }
    if (parse_endpoint(&u, cfg->endpoint, p) != APR_SUCCESS) {
        return H5S3_E_INVALID;
    }
    if ((cfg->access_key == NULL) != (cfg->secret_key == NULL)
        || (cfg->tls.cert_pem == NULL) != (cfg->tls.key_pem == NULL)) {
        return H5S3_E_INVALID;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->cfg.endpoint = apr_pstrdup(p, cfg->endpoint);
    c->cfg.region = apr_pstrdup(p, cfg->region ? cfg->region : "us-east-1");
    c->cfg.access_key = cfg->access_key ? apr_pstrdup(p, cfg->access_key)
                                        : NULL;
    c->cfg.secret_key = cfg->secret_key ? apr_pstrdup(p, cfg->secret_key)
                                        : NULL;
    c->cfg.virtual_host = cfg->virtual_host;
    c->cfg.scope = cfg->scope ? apr_pstrdup(p, cfg->scope) : NULL;
    /* Not copied: one copy of a key in memory is enough (h5s3_s3.h). */
    c->cfg.tls = cfg->tls;
    c->cfg.connect_timeout_ms = cfg->connect_timeout_ms > 0
                                ? cfg->connect_timeout_ms : 5000;
    c->cfg.total_timeout_ms = cfg->total_timeout_ms > 0
                              ? cfg->total_timeout_ms : 60000;
    set_address(c, &u, p);
    rv = apr_thread_mutex_create(&c->key_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *client = c;
    return APR_SUCCESS;
}

int h5s3_s3_client_signing_key(h5s3_s3_client *c, const char *amz_date,
                               unsigned char key[32])
{
    char date[9];
    int ok = 0;

    memcpy(date, amz_date, 8);
    date[8] = '\0';
    apr_thread_mutex_lock(c->key_lock);
    if (strcmp(c->key_date, date) != 0) {
        if (h5s3_s3_signing_key(c->signing_key, c->cfg.secret_key, date,
                                c->cfg.region, "s3") == APR_SUCCESS) {
            memcpy(c->key_date, date, 9);
        }
        else {
            c->key_date[0] = '\0';
        }
    }
    if (c->key_date[0]) {
        memcpy(key, c->signing_key, 32);
        ok = 1;
    }
    apr_thread_mutex_unlock(c->key_lock);
    return ok;
}

void h5s3_s3_client_tls_failed(h5s3_s3_client *c, int failure,
                               const char *msg)
{
    apr_time_t now = apr_time_now();
    int first;

    apr_thread_mutex_lock(c->key_lock);
    first = c->tls_logged != failure
            || now - c->tls_logged_at >= apr_time_from_sec(60);
    if (first) {
        c->tls_logged = failure;
        c->tls_logged_at = now;
    }
    apr_thread_mutex_unlock(c->key_lock);
    h5s3_log(first ? H5S3_LOG_ERR : H5S3_LOG_DEBUG, 0,
             "S3 endpoint %s: %s", c->cfg.endpoint, msg);
}
