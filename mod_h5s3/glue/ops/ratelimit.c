/*
 * H5S3RateLimit: a token bucket per (server, Location, client), shared by
 * every httpd process.  A client is an IPv4 address or an IPv6 /64.
 *
 * The buckets live in a fixed table of slots in anonymous shared memory,
 * addressed by index (never by pointer), updated under one global mutex.
 * A slot is found by a keyed hash (SipHash-2-4, apr_siphash24), so
 * clients cannot aim their addresses at one slot and push others out.
 * Its key is random, made with the table and kept in the table's header,
 * so every generation that keeps the table hashes a client alike.
 * Lookups probe a small window of slots; when it is full, a bucket that
 * has refilled completely (it then carries no state) or else the least
 * recently used one is taken over.
 *
 * The table and its mutex are made once per server life, in the process
 * pool, and kept in the module's retained block (glue/state.c) across
 * generations: a graceful restart neither forgets who was throttled nor
 * gives old and new children two different mutexes over the same memory.
 */
#include <string.h>
#include <netinet/in.h>
#include <apr_general.h>
#include <apr_shm.h>
#include <apr_siphash.h>
#include <apr_strings.h>
#include <util_mutex.h>

#include <http_core.h>

#include "glue/h5s3_glue.h"
#include "json/h5s3_json.h"

APLOG_USE_MODULE(h5s3);

#define MUTEX_TYPE "h5s3-ratelimit"
/*
 * "h5s1rl" + layout version: 2 since the key is SipHash's 16 bytes, 3
 * since the header holds the fleet provider's state.
 */
#define TABLE_MAGIC 0x68357331726c0003ULL
#define TABLE_SLOTS 8192                    /* 256 KiB; power of two */
#define PROBE 8
#define HASH_KEY_LEN APR_SIPHASH_KSIZE
#define MAX_RATE 1e6
#define MAX_BURST 1e7

/* One bucket.  32 bytes, so slots stay 8-byte aligned in the segment. */
typedef struct rl_slot {
    apr_uint64_t tag;           /* keyed hash of the client; 0: free */
    double tokens;              /* tokens left at `stamp` */
    apr_int64_t stamp;          /* last update, microseconds */
    apr_int64_t full_at;        /* when the bucket is full again */
} rl_slot;

typedef struct rl_header {
    apr_uint64_t magic;
    apr_uint32_t nslots;
    apr_uint32_t slots_offset;  /* from the segment base */
    unsigned char key[HASH_KEY_LEN];
    h5s3_ratelimit_shared fleet;    /* glue/ops/ratelimit_fleet.c */
} rl_header;

static rl_header *header(void)
{
    return apr_shm_baseaddr_get(h5s3_module_state.ratelimit->shm);
}

static rl_slot *slot_at(apr_uint32_t i)
{
    char *base = apr_shm_baseaddr_get(h5s3_module_state.ratelimit->shm);

    return (rl_slot *)(base + header()->slots_offset) + i;
}

h5s3_ratelimit_shared *h5s3_ratelimit_shared_get(void)
{
    return h5s3_module_state.ratelimit ? &header()->fleet : NULL;
}

/* ---- configuration ---------------------------------------------------- */

void h5s3_ratelimit_conf_init(h5s3_ratelimit_conf *c)
{
    c->rate = H5S3_UNSET;
    c->burst = H5S3_UNSET;
    c->zone = NULL;
}

void h5s3_ratelimit_conf_merge(h5s3_ratelimit_conf *c,
                               const h5s3_ratelimit_conf *base,
                               const h5s3_ratelimit_conf *add)
{
    *c = add->rate != H5S3_UNSET ? *add : *base;
}

static const char *parse_number(double *out, cmd_parms *cmd,
                                const char *arg, double max)
{
    char *end;
    double v = strtod(arg, &end);

    if (end == arg || *end != '\0' || !(v > 0) || v > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid: expected a "
                            "number greater than 0 and at most %.0f",
                            cmd->directive->directive, arg, max);
    }
    *out = v;
    return NULL;
}

const char *h5s3_ratelimit_set(cmd_parms *cmd, void *dcv, const char *rate,
                               const char *burst)
{
    h5s3_ratelimit_conf *c = &((h5s3_dir_conf *)dcv)->ratelimit;
    const char *err;

    /* The bucket belongs to the context the directive is written in. */
    c->zone = cmd->path ? cmd->path : "";
    if (!strcasecmp(rate, "off") && burst == NULL) {
        c->rate = 0;
        c->burst = 0;
        return NULL;
    }
    if ((err = parse_number(&c->rate, cmd, rate, MAX_RATE))) {
        return err;
    }
    /* Default burst: one second of traffic, at least one request. */
    c->burst = c->rate < 1 ? 1 : (double)(apr_int64_t)(c->rate + 0.999999);
    if (burst && (err = parse_number(&c->burst, cmd, burst, MAX_BURST))) {
        return err;
    }
    if (c->burst < 1) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not valid: the burst "
                            "must allow at least one request",
                            cmd->directive->directive, burst);
    }
    return NULL;
}

/* ---- shared table ----------------------------------------------------- */

apr_status_t h5s3_ratelimit_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t create_table(h5s3_ratelimit_table *t, server_rec *s)
{
    apr_pool_t *pool = s->process->pool;
    apr_size_t off = APR_ALIGN(sizeof(rl_header), 64);
    apr_size_t size = off + TABLE_SLOTS * sizeof(rl_slot);
    rl_header *h;
    apr_status_t rv;

    rv = apr_shm_create(&t->shm, size, NULL, pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "H5S3-0601: cannot "
                     "create the rate-limit table");
        return rv;
    }
    h = apr_shm_baseaddr_get(t->shm);
    memset(h, 0, size);
    if (apr_generate_random_bytes(h->key, HASH_KEY_LEN) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "H5S3-0602: no random "
                     "bytes for the rate-limit hash key");
        return APR_EGENERAL;
    }
    h->nslots = TABLE_SLOTS;
    h->slots_offset = (apr_uint32_t)off;
    h->magic = TABLE_MAGIC;
    /*
     * Made in the process pool like the table: every generation's
     * children lock the same mutex, so a graceful restart cannot have
     * old and new children update one slot at once.
     */
    return h5s3_mutex_create(&t->mutex, &t->lockfile, MUTEX_TYPE, s, pool,
                             "H5S3-0603", "rate-limit");
}

apr_status_t h5s3_ratelimit_post_config(server_rec *s)
{
    h5s3_ratelimit_table *t = &h5s3_module_state.retained->ratelimit;
    apr_status_t rv;

    if (t->shm == NULL || t->mutex == NULL
        || ((rl_header *)apr_shm_baseaddr_get(t->shm))->magic
           != TABLE_MAGIC) {
        if ((rv = create_table(t, s)) != APR_SUCCESS) {
            t->shm = NULL;
            t->mutex = NULL;
            return rv;
        }
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "H5S3-0604: keeping the "
                     "rate-limit table of the previous generation");
    }
    h5s3_module_state.ratelimit = t;
    /* A new generation may name another provider: ask it afresh. */
    header()->fleet.down = 0;
    return APR_SUCCESS;
}

apr_status_t h5s3_ratelimit_child_init(apr_pool_t *pchild, server_rec *s)
{
    h5s3_ratelimit_table *t = h5s3_module_state.ratelimit;

    if (t == NULL) {
        return APR_SUCCESS;
    }
    h5s3_ratelimit_fleet_child_init(pchild, s);
    return h5s3_mutex_child_init(&t->mutex, t->lockfile, pchild, s,
                                 "H5S3-0605", "rate-limit");
}

/* ---- the bucket ------------------------------------------------------- */

/*
 * Who a bucket belongs to.  An IPv6 client holds a whole /64 (a site gets
 * one at least, and hosts pick and rotate their own addresses in it), so
 * counting per address would give it 2^64 buckets: the /64 is the client.
 * An IPv4-mapped address (::ffff:a.b.c.d, from a dual-stack listener or
 * mod_remoteip) is the IPv4 client it stands for, one per address.  The
 * address is r->useragent_addr, which mod_remoteip sets along with
 * r->useragent_ip.
 */
static const char *client_id(request_rec *r)
{
#if APR_HAVE_IPV6
    const apr_sockaddr_t *sa = r->useragent_addr;

    if (sa != NULL && sa->family == APR_INET6) {
        const unsigned char *b = (const unsigned char *)sa->ipaddr_ptr;

        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)sa->ipaddr_ptr)) {
            return apr_psprintf(r->pool, "%u.%u.%u.%u", b[12], b[13], b[14],
                                b[15]);
        }
        return apr_psprintf(r->pool, "%02x%02x:%02x%02x:%02x%02x:%02x%02x"
                            "::/64", b[0], b[1], b[2], b[3], b[4], b[5],
                            b[6], b[7]);
    }
#endif
    return r->useragent_ip ? r->useragent_ip : "";
}

static apr_uint64_t client_tag(request_rec *r, const h5s3_ratelimit_conf *c,
                               const char *client)
{
    const rl_header *h = header();
    const char *id = apr_psprintf(r->pool, "%s\n%u\n%s\n%s",
                                  r->server->server_hostname
                                  ? r->server->server_hostname : "",
                                  (unsigned)r->server->port, c->zone,
                                  client);
    apr_uint64_t tag = apr_siphash24(id, strlen(id), h->key);

    return tag ? tag : 1;
}

/*
 * Take one token.  Returns 1 when the request may go on; otherwise 0 and
 * *wait_us, the time until a token is there.  Caller holds the mutex.
 */
static int take_token(apr_uint64_t tag, const h5s3_ratelimit_conf *c,
                      apr_int64_t now, apr_int64_t *wait_us)
{
    const rl_header *h = header();
    apr_uint32_t mask = h->nslots - 1;
    apr_uint32_t first = (apr_uint32_t)(tag & mask), i;
    rl_slot *s = NULL, *spare = NULL, *oldest = NULL;
    double tokens;

    for (i = 0; i < PROBE; i++) {
        rl_slot *x = slot_at((first + i) & mask);
        if (x->tag == tag) {
            s = x;
            break;
        }
        /* A free slot or a full bucket carries no state: reuse it first. */
        if (x->tag == 0 || x->full_at <= now) {
            if (spare == NULL) {
                spare = x;
            }
        }
        else if (oldest == NULL || x->stamp < oldest->stamp) {
            oldest = x;
        }
    }
    if (s == NULL) {
        s = spare ? spare : oldest;
        s->tag = tag;
        s->tokens = c->burst;
        s->stamp = now;
    }
    tokens = s->tokens;
    if (now > s->stamp) {
        tokens += (double)(now - s->stamp) * c->rate / 1e6;
    }
    /* Garbage from a damaged slot can only ever reset it to full. */
    if (!(tokens <= c->burst) || !(tokens >= -1.0)) {
        tokens = c->burst;
    }
    s->stamp = now;
    if (tokens >= 1.0) {
        tokens -= 1.0;
        s->tokens = tokens;
        s->full_at = now + (apr_int64_t)((c->burst - tokens) * 1e6 / c->rate);
        return 1;
    }
    s->tokens = tokens;
    s->full_at = now + (apr_int64_t)((c->burst - tokens) * 1e6 / c->rate);
    *wait_us = (apr_int64_t)((1.0 - tokens) * 1e6 / c->rate) + 1;
    return 0;
}

/* The error envelope of the route family the path belongs to. */
static int send_throttled(h5s3_req *q, const char *msg)
{
    const char *rel = q->rel ? q->rel : "";
    json_t *j;

    if (!strncmp(rel, "/api", 4) && (rel[4] == '/' || rel[4] == '\0')) {
        j = json_pack("{s:{s:s, s:s, s:{}}}", "error", "code", "throttled",
                      "message", msg, "details");
    }
    else if (!strncmp(rel, "/h5grove", 8)
             && (rel[8] == '/' || rel[8] == '\0')) {
        j = json_pack("{s:s}", "message", msg);
    }
    else {
        j = json_pack("{s:s, s:b}", "error", msg, "success", 0);
    }
    return h5s3_send_json(q, HTTP_TOO_MANY_REQUESTS,
                          h5s3_json_pool_own(q->r->pool, j));
}

/* One token from the machine's table; 1 also when it cannot be locked. */
static int local_take(request_rec *r, const h5s3_ratelimit_conf *c,
                      const char *client, apr_int64_t *wait_us)
{
    h5s3_ratelimit_table *table = h5s3_module_state.ratelimit;
    apr_uint64_t tag = client_tag(r, c, client);
    apr_status_t rv;
    int ok;

    rv = apr_global_mutex_lock(table->mutex);
    if (rv != APR_SUCCESS) {
        /* Fail open: a broken lock must not take the service down. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "H5S3-0606: cannot "
                      "lock the rate-limit table");
        return 1;
    }
    ok = take_token(tag, c, (apr_int64_t)apr_time_now(), wait_us);
    apr_global_mutex_unlock(table->mutex);
    return ok;
}

int h5s3_ratelimit_check(h5s3_req *q)
{
    request_rec *r = q->r;
    const h5s3_ratelimit_conf *c = &q->dc->ratelimit;
    apr_int64_t wait_us = 0;
    const char *client;
    int ok;

    if (c->rate == H5S3_UNSET || c->rate <= 0
        || h5s3_module_state.ratelimit == NULL) {
        return DECLINED;
    }
    client = client_id(r);
    /* The fleet's budget first; the machine's when there is none. */
    ok = h5s3_ratelimit_fleet_take(r, c, client, &wait_us);
    if (ok < 0) {
        ok = local_take(r, c, client, &wait_us);
    }
    if (ok) {
        return DECLINED;
    }
    {
        apr_int64_t secs = (wait_us + 999999) / 1000000;
        const char *msg;

        if (secs < 1) {
            secs = 1;
        }
        msg = apr_psprintf(r->pool, "Too many requests: the limit is %g per "
                           "second (burst %g) per client; retry after %"
                           APR_INT64_T_FMT " s", c->rate, c->burst, secs);
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT, secs));
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "H5S3-0607: client %s "
                      "throttled in '%s'", client, c->zone);
        q->route = "throttled";
        h5s3_server_status_ratelimit_rejected();
        return send_throttled(q, msg);
    }
}

apr_status_t h5s3_ratelimit_usage(apr_uint32_t *used, apr_uint32_t *slots)
{
    h5s3_ratelimit_table *table = h5s3_module_state.ratelimit;
    apr_int64_t now = (apr_int64_t)apr_time_now();
    apr_uint32_t i, n = 0;

    *used = 0;
    *slots = 0;
    if (table == NULL) {
        return APR_ENOTIMPL;
    }
    if (apr_global_mutex_lock(table->mutex) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < header()->nslots; i++) {
        const rl_slot *s = slot_at(i);
        if (s->tag != 0 && s->full_at > now) {
            n++;
        }
    }
    *slots = header()->nslots;
    apr_global_mutex_unlock(table->mutex);
    *used = n;
    return APR_SUCCESS;
}
