/*
 * H5S3RateLimit for a fleet: when H5S3Cache names a network provider
 * (redis or memcache), every server takes its clients' tokens from one
 * budget kept there, so N servers behind a load balancer allow a client
 * the configured rate, not N times it.  The request and its answer are
 * the core's (include/base/h5s3_fleetrl.h); here are the connections.
 *
 * Each child keeps a few connections to the provider's first server (the
 * address H5S3Cache names) in a resource list, one per thread at a time,
 * so a request costs one round trip.  Every step has a short timeout.
 * When the provider fails or is slow, the request is limited by the
 * machine's shared-memory table instead (glue/ops/ratelimit.c) and this
 * child leaves the provider alone for a second before it asks again: a
 * provider that is down costs neither answers nor time.  Whether the
 * provider is down is kept in the table for all the server's processes,
 * so the failure is logged once, and once the recovery.
 */
#include <string.h>
#include <apr_atomic.h>
#include <apr_network_io.h>
#include <apr_strings.h>

#include "glue/h5s3_glue.h"
#include "base/h5s3_fleetrl.h"

APLOG_USE_MODULE(h5s3);

/* Per connect, send and receive: well under any client's patience. */
#define FLEET_TIMEOUT apr_time_from_msec(250)
/* How long a child limits locally after a failure before it asks again. */
#define FLEET_RETRY apr_time_from_sec(1)
#define FLEET_CONNS_KEPT 4
#define FLEET_CONNS_MAX 256
#define FLEET_CONN_TTL apr_time_from_sec(60)

typedef struct fleet_conn {
    apr_pool_t *pool;           /* unmanaged: made from any thread */
    apr_socket_t *sock;
} fleet_conn;

static h5s3_ratelimit_fleet *const fl = &h5s3_module_state.ratelimit_fleet;

/* ---- set-up ----------------------------------------------------------- */

apr_status_t h5s3_ratelimit_fleet_post_config(apr_pool_t *pconf,
                                              server_rec *s)
{
    const char *provider = h5s3_module_state.socache.provider_name;
    const char *args = h5s3_module_state.socache.args;
    char *first, *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    apr_status_t rv;

    memset(fl, 0, sizeof(*fl));
    if (provider == NULL || args == NULL) {
        return APR_SUCCESS;
    }
    if (!strcmp(provider, "redis")) {
        fl->kind = H5S3_FLEETRL_REDIS;
    }
    else if (!strcmp(provider, "memcache")) {
        fl->kind = H5S3_FLEETRL_MEMCACHE;
    }
    else {
        return APR_SUCCESS;
    }
    /* mod_socache_redis and _memcache take "HOST:PORT[,HOST:PORT...]". */
    first = apr_pstrdup(pconf, args);
    first[strcspn(first, ", \t")] = '\0';
    rv = apr_parse_addr_port(&host, &scope, &port, first, pconf);
    if (rv != APR_SUCCESS || host == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "H5S3-0608: "
                     "H5S3RateLimit: cannot read a server address in "
                     "H5S3Cache %s:%s; the rate limit stays per machine",
                     provider, args);
        return APR_SUCCESS;
    }
    fl->on = 1;
    fl->host = host;
    fl->port = port ? port
                    : (fl->kind == H5S3_FLEETRL_REDIS ? 6379 : 11211);
    fl->name = apr_psprintf(pconf, "%s %s:%u", provider, host,
                            (unsigned)fl->port);
    return APR_SUCCESS;
}

static apr_status_t conn_make(void **out, void *params, apr_pool_t *pool)
{
    fleet_conn *c;
    apr_pool_t *cp;
    apr_status_t rv;

    (void)params;
    (void)pool;
    rv = apr_pool_create_unmanaged_ex(&cp, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c = apr_pcalloc(cp, sizeof(*c));
    c->pool = cp;
    rv = apr_socket_create(&c->sock, fl->addr->family, SOCK_STREAM,
                           APR_PROTO_TCP, cp);
    if (rv == APR_SUCCESS) {
        apr_socket_opt_set(c->sock, APR_TCP_NODELAY, 1);
        apr_socket_timeout_set(c->sock, FLEET_TIMEOUT);
        rv = apr_socket_connect(c->sock, fl->addr);
    }
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return rv;
    }
    *out = c;
    return APR_SUCCESS;
}

static apr_status_t conn_drop(void *resource, void *params, apr_pool_t *pool)
{
    fleet_conn *c = resource;

    (void)params;
    (void)pool;
    apr_socket_close(c->sock);
    apr_pool_destroy(c->pool);
    return APR_SUCCESS;
}

void h5s3_ratelimit_fleet_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!fl->on) {
        return;
    }
    rv = apr_sockaddr_info_get(&fl->addr, fl->host, APR_UNSPEC, fl->port, 0,
                               pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_reslist_create(&fl->conns, 0, FLEET_CONNS_KEPT,
                                FLEET_CONNS_MAX, FLEET_CONN_TTL, conn_make,
                                conn_drop, NULL, pchild);
    }
    if (rv != APR_SUCCESS) {
        fl->conns = NULL;
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "H5S3-0609: "
                     "H5S3RateLimit: no connections to %s in this child; "
                     "its rate limit stays per machine", fl->name);
        return;
    }
    /* Never wait for a connection longer than for an answer. */
    apr_reslist_timeout_set(fl->conns, FLEET_TIMEOUT);
}

/* ---- one exchange ----------------------------------------------------- */

static apr_status_t send_all(apr_socket_t *sock, const char *buf,
                             apr_size_t len)
{
    apr_status_t rv = APR_SUCCESS;

    while (len > 0 && rv == APR_SUCCESS) {
        apr_size_t n = len;
        rv = apr_socket_send(sock, buf, &n);
        buf += n;
        len -= n;
    }
    return rv;
}

/* Reads until the core has a whole answer (or an error). */
static apr_status_t read_answer(apr_socket_t *sock,
                                const h5s3_fleetrl_bucket *b,
                                h5s3_fleetrl_verdict *v, h5s3_result *res)
{
    char buf[512];
    apr_size_t got = 0;
    apr_status_t rv = APR_INCOMPLETE;

    while (rv == APR_INCOMPLETE) {
        apr_size_t n = sizeof(buf) - got;
        rv = apr_socket_recv(sock, buf + got, &n);
        if (rv != APR_SUCCESS || n == 0) {
            return h5s3_result_set(res, rv == APR_SUCCESS ? APR_EOF : rv,
                                   "no answer");
        }
        got += n;
        rv = h5s3_fleetrl_answer(fl->kind, b, buf, got, v, res);
        if (rv == APR_INCOMPLETE && got == sizeof(buf)) {
            return h5s3_result_set(res, H5S3_E_UPSTREAM, "an overlong "
                                   "answer");
        }
    }
    return rv;
}

static apr_status_t exchange(const h5s3_fleetrl_bucket *b,
                             h5s3_fleetrl_verdict *v, apr_pool_t *p,
                             h5s3_result *res)
{
    fleet_conn *c = NULL;
    apr_size_t len;
    const char *req = h5s3_fleetrl_request(fl->kind, b, &len, p);
    apr_status_t rv;

    rv = apr_reslist_acquire(fl->conns, (void **)&c);
    if (rv != APR_SUCCESS) {
        c = NULL;
        h5s3_result_set(res, rv, "cannot connect");
        goto cleanup;
    }
    if ((rv = send_all(c->sock, req, len)) != APR_SUCCESS) {
        h5s3_result_set(res, rv, "cannot send");
        goto cleanup;
    }
    rv = read_answer(c->sock, b, v, res);

cleanup:
    if (c != NULL) {
        /* A connection that failed may hold half an answer: drop it. */
        if (rv == APR_SUCCESS) {
            apr_reslist_release(fl->conns, c);
        }
        else {
            apr_reslist_invalidate(fl->conns, c);
        }
    }
    return rv;
}

/* ---- the state shared by the server's processes ----------------------- */

static apr_uint32_t stamp_ms(apr_time_t t)
{
    return (apr_uint32_t)apr_time_as_msec(t) | 1;
}

static void failed(request_rec *r, apr_status_t rv, const h5s3_result *res)
{
    h5s3_ratelimit_shared *sh = h5s3_ratelimit_shared_get();
    apr_time_t now = apr_time_now();

    fl->retry_at = now + FLEET_RETRY;
    if (sh == NULL) {
        return;
    }
    apr_atomic_inc32(&sh->failures);
    /* The process that marks it down logs it; the others say nothing. */
    if (apr_atomic_cas32(&sh->down, stamp_ms(now), 0) == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, "H5S3-0610: "
                      "H5S3RateLimit: the shared budget on %s failed (%s); "
                      "limiting on this machine until it answers", fl->name,
                      h5s3_result_detail(res, "no answer"));
    }
}

/*
 * An answer to an exchange started at `start`.  Only an exchange started
 * after the failure clears it: an answer already on its way when the
 * provider went down says nothing about its recovery.
 */
static void answered(request_rec *r, apr_time_t start)
{
    h5s3_ratelimit_shared *sh = h5s3_ratelimit_shared_get();
    apr_uint32_t down;

    if (sh == NULL || (down = apr_atomic_read32(&sh->down)) == 0) {
        return;
    }
    if ((apr_int32_t)(stamp_ms(start) - down) > 0
        && apr_atomic_cas32(&sh->down, 0, down) == down) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "H5S3-0611: "
                      "H5S3RateLimit: %s answers again; the fleet's shared "
                      "budget is back", fl->name);
    }
}

int h5s3_ratelimit_fleet_take(request_rec *r, const h5s3_ratelimit_conf *c,
                              const char *client, apr_int64_t *wait_us)
{
    apr_time_t start = apr_time_now();
    h5s3_fleetrl_bucket b;
    h5s3_fleetrl_verdict v;
    h5s3_result res;
    apr_status_t rv;

    if (fl->conns == NULL || start < fl->retry_at) {
        return -1;
    }
    /*
     * The site by name, not by port: the servers of a fleet may listen
     * on different ports behind their balancer.
     */
    b.key = h5s3_fleetrl_key(r->server->server_hostname
                             ? r->server->server_hostname : "", c->zone,
                             client, r->pool);
    b.rate = c->rate;
    b.burst = c->burst;
    b.now_us = (apr_int64_t)start;
    h5s3_result_init(&res, r->pool);
    rv = exchange(&b, &v, r->pool, &res);
    if (rv != APR_SUCCESS) {
        failed(r, rv, &res);
        return -1;
    }
    answered(r, start);
    *wait_us = v.wait_us;
    return v.allowed;
}

void h5s3_ratelimit_fleet_status(const char **budget, const char **provider,
                                 apr_uint32_t *failures)
{
    h5s3_ratelimit_shared *sh = h5s3_ratelimit_shared_get();
    int down = sh != NULL && apr_atomic_read32(&sh->down) != 0;

    *provider = fl->on ? fl->name : "none";
    *failures = sh != NULL ? apr_atomic_read32(&sh->failures) : 0;
    *budget = !fl->on ? "local" : down ? "local (provider down)" : "fleet";
}
