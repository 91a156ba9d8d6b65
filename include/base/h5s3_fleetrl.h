/*
 * A rate-limit bucket kept by a network cache (redis or memcached) for a
 * whole fleet of servers: the bytes of one request that takes a token,
 * and the reading of the answer.  One request, one answer: a round trip
 * per client request.  No sockets here; the glue sends and receives
 * (glue/ops/ratelimit_fleet.c), and falls back to its shared-memory
 * table when the provider does not answer.
 *
 *   redis     EVAL of a Lua token bucket: the same bucket as the local
 *             table (burst + rate * elapsed), updated atomically on the
 *             redis server with the redis server's clock.
 *   memcache  memcached has no scripts: a counter per window of
 *             burst/rate seconds that allows burst requests, created by
 *             `add` (with an expiry) and counted by `incr`, both in one
 *             write.  Over time it allows the same rate; a client can be
 *             off by up to one burst from the token bucket's count, and
 *             the windows follow the servers' clocks.
 */
#ifndef H5S3_FLEETRL_H
#define H5S3_FLEETRL_H

#include <apr_pools.h>
#include "base/h5s3_result.h"

typedef enum h5s3_fleetrl_kind {
    H5S3_FLEETRL_REDIS,
    H5S3_FLEETRL_MEMCACHE
} h5s3_fleetrl_kind;

/* What one bucket is: its rate (tokens per second) and burst. */
typedef struct h5s3_fleetrl_bucket {
    const char *key;            /* from h5s3_fleetrl_key */
    double rate;
    double burst;
    apr_int64_t now_us;         /* memcache: this server's clock */
} h5s3_fleetrl_bucket;

typedef struct h5s3_fleetrl_verdict {
    int allowed;                /* 1: the request may go on */
    apr_int64_t wait_us;        /* not allowed: time until a token */
} h5s3_fleetrl_verdict;

/*
 * The provider's key of a bucket: "h5s3:rl:" and the SHA-1 (hex) of the
 * site, the zone (Location) and the client, each ended by a NUL (no part
 * holds one, so no two triples hash the same text): every server of a
 * fleet names one client's bucket alike, and the key suits memcached.
 */
const char *h5s3_fleetrl_key(const char *site, const char *zone,
                             const char *client, apr_pool_t *p);

/* The bytes to send to take one token from b (*len of them). */
const char *h5s3_fleetrl_request(h5s3_fleetrl_kind kind,
                                 const h5s3_fleetrl_bucket *b,
                                 apr_size_t *len, apr_pool_t *p);

/*
 * Reads the answer to that request from buf[0..len).  APR_SUCCESS and
 * *v; APR_INCOMPLETE: not all of it is there yet; H5S3_E_UPSTREAM: the
 * provider answered an error or something else (detail in res).
 */
apr_status_t h5s3_fleetrl_answer(h5s3_fleetrl_kind kind,
                                 const h5s3_fleetrl_bucket *b,
                                 const char *buf, apr_size_t len,
                                 h5s3_fleetrl_verdict *v, h5s3_result *res);

#endif
