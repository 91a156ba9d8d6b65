/*
 * The fleet's rate-limit bucket on a network cache: requests and answers
 * (include/base/h5s3_fleetrl.h says what each provider keeps).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <apr_sha1.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "base/h5s3_fleetrl.h"

/*
 * The token bucket of glue/ops/ratelimit.c, in Lua: redis runs a script
 * alone, so the read and the write of a bucket are one atomic step for
 * the whole fleet.  The clock is the redis server's (TIME), so servers
 * whose clocks differ still refill one bucket alike.  Numbers are
 * written with string.format: Lua's tostring would print the stamp in
 * exponent notation.  The key expires once the bucket is full again (it
 * then carries no state).
 */
static const char SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local rate = tonumber(ARGV[1])\n"
    "local burst = tonumber(ARGV[2])\n"
    "local b = redis.call('HMGET', KEYS[1], 'k', 's')\n"
    "local tok = tonumber(b[1])\n"
    "local st = tonumber(b[2])\n"
    "if tok == nil or st == nil or not (tok <= burst) or tok < -1 then\n"
    "  tok = burst st = now\n"
    "end\n"
    "if now > st then tok = math.min(burst, tok + (now - st) * rate / 1e6)"
    " end\n"
    "local ok, wait = 0, 0\n"
    "if tok >= 1 then tok = tok - 1 ok = 1\n"
    "else wait = math.floor((1 - tok) * 1e6 / rate) + 1 end\n"
    "redis.call('HSET', KEYS[1], 'k', string.format('%.17g', tok),"
    " 's', string.format('%.0f', now))\n"
    "redis.call('PEXPIRE', KEYS[1], string.format('%.0f',"
    " math.ceil((burst - tok) * 1000 / rate) + 1000))\n"
    "return {ok, wait}\n";

/* memcached reads an expiry over 30 days as a Unix time. */
#define MC_MAX_EXPIRY 2592000

const char *h5s3_fleetrl_key(const char *site, const char *zone,
                             const char *client, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[APR_SHA1_DIGESTSIZE];
    char out[8 + 2 * APR_SHA1_DIGESTSIZE + 1];
    apr_sha1_ctx_t c;
    int i;

    apr_sha1_init(&c);
    apr_sha1_update(&c, site, (unsigned int)strlen(site));
    apr_sha1_update(&c, "", 1);
    apr_sha1_update(&c, zone, (unsigned int)strlen(zone));
    apr_sha1_update(&c, "", 1);
    apr_sha1_update(&c, client, (unsigned int)strlen(client));
    apr_sha1_final(d, &c);
    memcpy(out, "h5s3:rl:", 8);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        out[8 + 2 * i] = hex[d[i] >> 4];
        out[9 + 2 * i] = hex[d[i] & 15];
    }
    out[sizeof(out) - 1] = '\0';
    return apr_pstrdup(p, out);
}

/* A memcached window: burst/rate seconds, at least a millisecond. */
static apr_int64_t mc_window_us(const h5s3_fleetrl_bucket *b)
{
    double w = b->burst / b->rate * 1e6;

    if (!(w >= 1000)) {
        return 1000;
    }
    return w > 1e15 ? (apr_int64_t)1e15 : (apr_int64_t)w;
}

static const char *redis_request(const h5s3_fleetrl_bucket *b,
                                 apr_size_t *len, apr_pool_t *p)
{
    const char *rate = apr_psprintf(p, "%.17g", b->rate);
    const char *burst = apr_psprintf(p, "%.17g", b->burst);
    char *out = apr_psprintf(p, "*6\r\n$4\r\nEVAL\r\n$%lu\r\n%s\r\n"
                             "$1\r\n1\r\n$%lu\r\n%s\r\n$%lu\r\n%s\r\n"
                             "$%lu\r\n%s\r\n",
                             (unsigned long)strlen(SCRIPT), SCRIPT,
                             (unsigned long)strlen(b->key), b->key,
                             (unsigned long)strlen(rate), rate,
                             (unsigned long)strlen(burst), burst);

    *len = strlen(out);
    return out;
}

/*
 * `add` with noreply creates the window's counter at 0 (or does nothing
 * when another request or server made it first), then `incr` counts
 * this request: one write, one answer, in the order sent.
 */
static const char *memcache_request(const h5s3_fleetrl_bucket *b,
                                    apr_size_t *len, apr_pool_t *p)
{
    apr_int64_t w = mc_window_us(b);
    apr_int64_t expiry = w / 1000000 + 2;
    const char *key = apr_psprintf(p, "%s:%" APR_INT64_T_FMT, b->key,
                                   b->now_us / w);
    char *out;

    if (expiry > MC_MAX_EXPIRY) {
        expiry = MC_MAX_EXPIRY;
    }
    out = apr_psprintf(p, "add %s 0 %" APR_INT64_T_FMT " 1 noreply\r\n0\r\n"
                       "incr %s 1\r\n", key, expiry, key);
    *len = strlen(out);
    return out;
}

const char *h5s3_fleetrl_request(h5s3_fleetrl_kind kind,
                                 const h5s3_fleetrl_bucket *b,
                                 apr_size_t *len, apr_pool_t *p)
{
    return kind == H5S3_FLEETRL_REDIS ? redis_request(b, len, p)
                                      : memcache_request(b, len, p);
}

/*
 * One line of the answer starting at *pos, without its CRLF, copied to
 * line (at most cap - 1 bytes).  APR_INCOMPLETE until the CRLF is there.
 */
static apr_status_t take_line(const char *buf, apr_size_t len,
                              apr_size_t *pos, char *line, apr_size_t cap,
                              h5s3_result *res)
{
    const char *start = buf + *pos;
    const char *end = memchr(start, '\n', len - *pos);
    apr_size_t n;

    if (end == NULL) {
        if (len - *pos >= cap) {
            return h5s3_result_set(res, H5S3_E_UPSTREAM, "the rate-limit "
                                   "provider answered an overlong line");
        }
        return APR_INCOMPLETE;
    }
    n = (apr_size_t)(end - start);
    if (n == 0 || start[n - 1] != '\r') {
        return h5s3_result_set(res, H5S3_E_UPSTREAM, "the rate-limit "
                               "provider answered a line without CRLF");
    }
    n--;
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(line, start, n);
    line[n] = '\0';
    *pos = (apr_size_t)(end - buf) + 1;
    return APR_SUCCESS;
}

/* A whole decimal number, nothing else (no sign unless neg_ok). */
static int whole_number(const char *s, int neg_ok, apr_int64_t *out)
{
    char *end;
    apr_int64_t v;

    if (*s == '\0' || (*s == '-' && !neg_ok) || *s == '+' || *s == ' ') {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (*end != '\0' || errno == ERANGE) {
        return 0;
    }
    *out = v;
    return 1;
}

static apr_status_t provider_error(const char *line, h5s3_result *res)
{
    return h5s3_result_printf(res, H5S3_E_UPSTREAM, "the rate-limit "
                              "provider answered '%.80s'", line);
}

/* "*2" ":ALLOWED" ":WAIT_US", or "-ERR ...". */
static apr_status_t redis_answer(const char *buf, apr_size_t len,
                                 h5s3_fleetrl_verdict *v, h5s3_result *res)
{
    char line[256];
    apr_int64_t n[2];
    apr_size_t pos = 0;
    apr_status_t rv;
    int i;

    if ((rv = take_line(buf, len, &pos, line, sizeof(line), res))) {
        return rv;
    }
    if (strcmp(line, "*2") != 0) {
        return provider_error(line, res);
    }
    for (i = 0; i < 2; i++) {
        if ((rv = take_line(buf, len, &pos, line, sizeof(line), res))) {
            return rv;
        }
        if (line[0] != ':' || !whole_number(line + 1, 0, &n[i])) {
            return provider_error(line, res);
        }
    }
    if (n[0] > 1) {
        return provider_error("a verdict other than 0 or 1", res);
    }
    v->allowed = (int)n[0];
    v->wait_us = n[0] ? 0 : n[1];
    return APR_SUCCESS;
}

/* The count of this request in its window, or an error line. */
static apr_status_t memcache_answer(const h5s3_fleetrl_bucket *b,
                                    const char *buf, apr_size_t len,
                                    h5s3_fleetrl_verdict *v,
                                    h5s3_result *res)
{
    apr_int64_t w = mc_window_us(b), count;
    char line[256];
    apr_size_t pos = 0;
    apr_status_t rv;

    if ((rv = take_line(buf, len, &pos, line, sizeof(line), res))) {
        return rv;
    }
    if (!whole_number(line, 0, &count)) {
        return provider_error(line, res);
    }
    v->allowed = (double)count <= b->burst;
    v->wait_us = v->allowed ? 0 : (b->now_us / w + 1) * w - b->now_us;
    return APR_SUCCESS;
}

apr_status_t h5s3_fleetrl_answer(h5s3_fleetrl_kind kind,
                                 const h5s3_fleetrl_bucket *b,
                                 const char *buf, apr_size_t len,
                                 h5s3_fleetrl_verdict *v, h5s3_result *res)
{
    if (kind == H5S3_FLEETRL_REDIS) {
        return redis_answer(buf, len, v, res);
    }
    return memcache_answer(b, buf, len, v, res);
}
