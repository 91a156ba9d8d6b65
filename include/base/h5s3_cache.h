/*
 * Cache seam: a keyed, expiring byte store shared by all processes.  The
 * glue fills it with a mod_socache provider (shmcb, redis, memcache); unit
 * tests with an in-memory table.  Keys are arbitrary strings: the seam
 * hashes them so a provider like shmcb spreads them over its sub-caches.
 */
#ifndef H5S3_CACHE_H
#define H5S3_CACHE_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct h5s3_cache h5s3_cache;

struct h5s3_cache {
    /* APR_NOTFOUND when absent or expired; *val is allocated from p. */
    apr_status_t (*get)(h5s3_cache *c, const unsigned char *id,
                        unsigned int idlen, char **val, apr_size_t *len,
                        apr_pool_t *p);
    apr_status_t (*set)(h5s3_cache *c, const unsigned char *id,
                        unsigned int idlen, const char *val, apr_size_t len,
                        apr_time_t expiry, apr_pool_t *p);
    apr_status_t (*remove)(h5s3_cache *c, const unsigned char *id,
                           unsigned int idlen, apr_pool_t *p);
    apr_size_t max_value;       /* largest value the provider takes, 0: no limit */
    void *baton;
};

/* Key helpers: the id stored is SHA-256(namespace "\0" key). */
apr_status_t h5s3_cache_get(h5s3_cache *c, const char *ns, const char *key,
                            char **val, apr_size_t *len, apr_pool_t *p);
apr_status_t h5s3_cache_set(h5s3_cache *c, const char *ns, const char *key,
                            const char *val, apr_size_t len,
                            apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t h5s3_cache_remove(h5s3_cache *c, const char *ns,
                               const char *key, apr_pool_t *p);

/*
 * Generations let a whole family of entries (say, every listing of one
 * bucket) be dropped at once: the generation is part of their keys, and
 * bumping it makes the old ones unreachable.  Costs one lookup.
 */
apr_status_t h5s3_cache_generation(const char **gen, h5s3_cache *c,
                                   const char *family, apr_pool_t *p);
apr_status_t h5s3_cache_bump_generation(h5s3_cache *c, const char *family,
                                        apr_pool_t *p);

/* An in-process table implementation, for unit tests and tools. */
h5s3_cache *h5s3_cache_memory_create(apr_pool_t *p);

#endif
