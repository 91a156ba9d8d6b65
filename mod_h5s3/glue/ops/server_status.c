/*
 * The mod_h5s3 section of mod_status (/server-status, and ?auto).
 *
 * Figures come from a small block of counters in anonymous shared memory,
 * bumped with apr_atomic by every process: per-request figures are taken
 * from the request notes the handler leaves (so they are counted once, in
 * log_transaction), the rest by the code that sees the event.  Like the
 * rate-limit table, the block is made once per server life and kept in
 * the module's retained block (glue/state.c) across graceful restarts, as
 * mod_status's own counters are.
 */
#include <string.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <mod_status.h>

#include <http_core.h>

#include "glue/h5s3_glue.h"
#include "pagecache/h5s3_pagecache.h"

APLOG_USE_MODULE(h5s3);

enum {
    C_REQUESTS,         /* requests the handler answered */
    C_RESP_HIT,         /* ... from a cache (note h5s3-cache=hit) */
    C_RESP_MISS,        /* ... that missed it */
    C_HTTP_4XX,
    C_HTTP_5XX,
    C_LOOKUP_HIT,       /* socache lookups */
    C_LOOKUP_MISS,
    C_S3_REQUESTS,
    C_S3_BYTES,
    C_S3_FAILED,        /* requests during which an S3 exchange failed */
    C_THROTTLED,        /* 429 from H5S3RateLimit */
    C_PREFLIGHTS,       /* CORS preflights answered */
    C_SAVINGS_RUNNING,  /* gauges: savings job threads running, */
    C_SAVINGS_HELD,     /* and job records kept until their join */
    C_COUNT
};

static void bump(int which, apr_uint64_t n)
{
    volatile apr_uint64_t *counters = h5s3_module_state.counters;

    if (counters != NULL && n != 0) {
        apr_atomic_add64(&counters[which], n);
    }
}

static apr_uint64_t get(int which)
{
    volatile apr_uint64_t *counters = h5s3_module_state.counters;

    return counters ? apr_atomic_read64(&counters[which]) : 0;
}

void h5s3_server_status_cache_lookup(int hit)
{
    bump(hit ? C_LOOKUP_HIT : C_LOOKUP_MISS, 1);
}

void h5s3_server_status_ratelimit_rejected(void)
{
    bump(C_THROTTLED, 1);
}

void h5s3_server_status_preflight(void)
{
    bump(C_PREFLIGHTS, 1);
}

/* Gauges: every increment is matched by its process's decrement. */
static void gauge(int which, int delta)
{
    volatile apr_uint64_t *counters = h5s3_module_state.counters;

    if (counters == NULL) {
        return;
    }
    if (delta > 0) {
        apr_atomic_inc64(&counters[which]);
    }
    else if (delta < 0) {
        apr_atomic_dec64(&counters[which]);
    }
}

void h5s3_server_status_savings_running(int delta)
{
    gauge(C_SAVINGS_RUNNING, delta);
}

void h5s3_server_status_savings_held(int delta)
{
    gauge(C_SAVINGS_HELD, delta);
}

static apr_uint64_t note_number(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->notes, name);

    return v ? (apr_uint64_t)apr_atoi64(v) : 0;
}

int h5s3_server_status_log_transaction(request_rec *r)
{
    const char *route = apr_table_get(r->notes, "h5s3-route");
    const char *cache;

    if (route == NULL || !strcmp(route, "preflight")) {
        return DECLINED;
    }
    bump(C_REQUESTS, 1);
    cache = apr_table_get(r->notes, "h5s3-cache");
    if (cache) {
        bump(!strcmp(cache, "hit") ? C_RESP_HIT : C_RESP_MISS, 1);
    }
    if (r->status >= 500) {
        bump(C_HTTP_5XX, 1);
    }
    else if (r->status >= 400) {
        bump(C_HTTP_4XX, 1);
    }
    bump(C_S3_REQUESTS, note_number(r, "h5s3-s3-requests"));
    bump(C_S3_BYTES, note_number(r, "h5s3-s3-bytes"));
    if (apr_table_get(r->notes, "h5s3-s3-status")) {
        bump(C_S3_FAILED, 1);
    }
    return DECLINED;
}

apr_status_t h5s3_server_status_post_config(server_rec *s)
{
    h5s3_retained *kept = h5s3_module_state.retained;
    apr_size_t size = C_COUNT * sizeof(apr_uint64_t);
    apr_status_t rv;

    if (kept->counters == NULL || apr_shm_size_get(kept->counters) < size) {
        rv = apr_shm_create(&kept->counters, size, NULL, s->process->pool);
        if (rv != APR_SUCCESS) {
            /* Figures are nice to have: serve without them. */
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "H5S3-0620: no "
                         "shared memory for the status counters");
            kept->counters = NULL;
            return rv;
        }
        memset(apr_shm_baseaddr_get(kept->counters), 0, size);
    }
    h5s3_module_state.counters = apr_shm_baseaddr_get(kept->counters);
    return APR_SUCCESS;
}

static double ratio(apr_uint64_t hits, apr_uint64_t misses)
{
    return hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
}

typedef struct st_line {
    const char *auto_name;      /* ?auto key */
    const char *label;          /* HTML label */
    const char *value;
} st_line;

static void add(apr_array_header_t *a, const char *auto_name,
                const char *label, const char *value)
{
    st_line *l = apr_array_push(a);

    l->auto_name = auto_name;
    l->label = label;
    l->value = value;
}

static void add_num(apr_array_header_t *a, apr_pool_t *p,
                    const char *auto_name, const char *label,
                    apr_uint64_t v)
{
    add(a, auto_name, label, apr_psprintf(p, "%" APR_UINT64_T_FMT, v));
}

static void add_ratio(apr_array_header_t *a, apr_pool_t *p,
                      const char *auto_name, const char *label,
                      apr_uint64_t hits, apr_uint64_t misses)
{
    add(a, auto_name, label, apr_psprintf(p, "%.3f", ratio(hits, misses)));
}

int h5s3_server_status_hook(request_rec *r, int flags)
{
    apr_pool_t *p = r->pool;
    apr_array_header_t *a = apr_array_make(p, 32, sizeof(st_line));
    struct h5s3_pagecache *pc = h5s3_module_state.hdf5.page_cache;
    const char *cache_provider = h5s3_module_state.socache.provider_name;
    apr_uint32_t rl_used = 0, rl_slots = 0, rl_failures = 0;
    const char *rl_budget, *rl_provider;
    int i;

    add_num(a, p, "H5S3Requests", "requests handled", get(C_REQUESTS));
    add_num(a, p, "H5S3Responses4xx", "4xx responses", get(C_HTTP_4XX));
    add_num(a, p, "H5S3Responses5xx", "5xx responses", get(C_HTTP_5XX));
    add_num(a, p, "H5S3CacheHits", "responses from cache (hits)",
            get(C_RESP_HIT));
    add_num(a, p, "H5S3CacheMisses", "cache misses", get(C_RESP_MISS));
    add_ratio(a, p, "H5S3CacheHitRatio", "response cache hit ratio",
              get(C_RESP_HIT), get(C_RESP_MISS));
    add(a, "H5S3CacheProvider", "cache provider",
        cache_provider ? cache_provider : "none");
    add_num(a, p, "H5S3CacheLookupHits", "cache lookups found",
            get(C_LOOKUP_HIT));
    add_num(a, p, "H5S3CacheLookupMisses", "cache lookups not found",
            get(C_LOOKUP_MISS));
    add_ratio(a, p, "H5S3CacheLookupHitRatio", "cache lookup hit ratio",
              get(C_LOOKUP_HIT), get(C_LOOKUP_MISS));
    add_num(a, p, "H5S3S3Requests", "S3 requests", get(C_S3_REQUESTS));
    add_num(a, p, "H5S3S3Bytes", "S3 bytes received", get(C_S3_BYTES));
    add_num(a, p, "H5S3S3Errors", "requests with a failed S3 exchange",
            get(C_S3_FAILED));
    add_num(a, p, "H5S3RateLimitRejections", "rate-limit rejections (429)",
            get(C_THROTTLED));
    if (h5s3_ratelimit_usage(&rl_used, &rl_slots) == APR_SUCCESS) {
        add_num(a, p, "H5S3RateLimitBuckets", "rate-limit buckets in use",
                rl_used);
        add_num(a, p, "H5S3RateLimitSlots", "rate-limit table slots",
                rl_slots);
    }
    h5s3_ratelimit_fleet_status(&rl_budget, &rl_provider, &rl_failures);
    add(a, "H5S3RateLimitBudget", "rate-limit budget", rl_budget);
    add(a, "H5S3RateLimitProvider", "rate-limit fleet provider",
        rl_provider);
    add_num(a, p, "H5S3RateLimitProviderFailures",
            "rate-limit provider failures", rl_failures);
    add_num(a, p, "H5S3CORSPreflights", "CORS preflights answered",
            get(C_PREFLIGHTS));
    if (pc != NULL) {
        h5s3_pagecache_stats st;

        h5s3_pagecache_stats_get(pc, &st);
        add_num(a, p, "H5S3PageCachePageSize", "page cache page size",
                st.page_size);
        add_num(a, p, "H5S3PageCacheSlots", "page cache slots", st.slots);
        add_num(a, p, "H5S3PageCacheUsed", "page cache slots used", st.used);
        add_num(a, p, "H5S3PageCacheHits", "page cache hits", st.hits);
        add_num(a, p, "H5S3PageCacheMisses", "page cache misses", st.misses);
        add_ratio(a, p, "H5S3PageCacheHitRatio", "page cache hit ratio",
                  st.hits, st.misses);
        add_num(a, p, "H5S3PageCacheInserts", "page cache inserts",
                st.inserts);
        add_num(a, p, "H5S3PageCacheEvictions", "page cache evictions",
                st.evictions);
    }
    add_num(a, p, "H5S3SavingsJobs", "savings jobs running",
            get(C_SAVINGS_RUNNING));
    add_num(a, p, "H5S3SavingsJobRecords", "savings job records held",
            get(C_SAVINGS_HELD));

    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < a->nelts; i++) {
            const st_line *l = &APR_ARRAY_IDX(a, i, st_line);
            ap_rprintf(r, "%s: %s\n", l->auto_name, l->value);
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_h5s3</h2>\n<table border=\"0\">\n", r);
    for (i = 0; i < a->nelts; i++) {
        const st_line *l = &APR_ARRAY_IDX(a, i, st_line);
        ap_rprintf(r, "<tr><th align=\"left\">%s</th><td>%s</td></tr>\n",
                   l->label, ap_escape_html(p, l->value));
    }
    ap_rputs("</table>\n", r);
    return OK;
}
