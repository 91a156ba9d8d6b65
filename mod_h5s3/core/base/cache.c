/*
 * Key hashing and generations on top of the cache seam, plus an in-memory
 * implementation for unit tests and tools.
 */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <apr_escape.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "base/h5s3_cache.h"
#include "base/h5s3_errors.h"
#include "base/h5s3_once.h"

#define ID_LEN 32

/*
 * SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm
 * up in its provider tables at every init (a lock, a hash lookup), which
 * was the largest cost of a warm hit in the module after the lookup.
 */
static h5s3_once sha256_once = H5S3_ONCE_INIT;
static EVP_MD *sha256_md;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

/* SHA-256 spreads ids evenly, which shmcb needs (it picks a sub-cache by the first byte). */
static void make_id(unsigned char id[ID_LEN], const char *ns, const char *key)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = ID_LEN;

    if (sha256_md == NULL) {
        h5s3_once_run(&sha256_once, fetch_sha256);
    }
    EVP_DigestInit_ex(ctx, sha256_md ? sha256_md : EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, ns, strlen(ns) + 1);
    EVP_DigestUpdate(ctx, key, strlen(key));
    EVP_DigestFinal_ex(ctx, id, &n);
    EVP_MD_CTX_free(ctx);
}

apr_status_t h5s3_cache_get(h5s3_cache *c, const char *ns, const char *key,
                            char **val, apr_size_t *len, apr_pool_t *p)
{
    unsigned char id[ID_LEN];

    if (c == NULL) {
        return APR_NOTFOUND;
    }
    make_id(id, ns, key);
    return c->get(c, id, ID_LEN, val, len, p);
}

apr_status_t h5s3_cache_set(h5s3_cache *c, const char *ns, const char *key,
                            const char *val, apr_size_t len,
                            apr_interval_time_t ttl, apr_pool_t *p)
{
    unsigned char id[ID_LEN];

    if (c == NULL) {
        return APR_SUCCESS;
    }
    if (c->max_value && len > c->max_value) {
        return H5S3_E_TOOLARGE;
    }
    make_id(id, ns, key);
    return c->set(c, id, ID_LEN, val, len, apr_time_now() + ttl, p);
}

apr_status_t h5s3_cache_remove(h5s3_cache *c, const char *ns,
                               const char *key, apr_pool_t *p)
{
    unsigned char id[ID_LEN];

    if (c == NULL) {
        return APR_SUCCESS;
    }
    make_id(id, ns, key);
    return c->remove(c, id, ID_LEN, p);
}

/* Generations live long: they only need to outlive the entries they name. */
#define GEN_TTL apr_time_from_sec(7 * 24 * 3600)

apr_status_t h5s3_cache_generation(const char **gen, h5s3_cache *c,
                                   const char *family, apr_pool_t *p)
{
    char *val;
    apr_size_t len;

    if (h5s3_cache_get(c, "gen", family, &val, &len, p) == APR_SUCCESS) {
        *gen = apr_pstrmemdup(p, val, len);
    }
    else {
        *gen = "0";
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_cache_bump_generation(h5s3_cache *c, const char *family,
                                        apr_pool_t *p)
{
    unsigned char rnd[8];
    char hex[17];

    /* Random, not a counter: no read-modify-write race between processes. */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return APR_EGENERAL;
    }
    apr_escape_hex(hex, rnd, sizeof(rnd), 0, NULL);
    return h5s3_cache_set(c, "gen", family, hex, 16, GEN_TTL, p);
}

/* ---- in-memory implementation ---- */

typedef struct mem_entry {
    char *val;
    apr_size_t len;
    apr_time_t expiry;
} mem_entry;

typedef struct mem_cache {
    h5s3_cache api;
    apr_pool_t *pool;
    apr_hash_t *table;
    apr_thread_mutex_t *lock;
} mem_cache;

static apr_status_t mem_get(h5s3_cache *c, const unsigned char *id,
                            unsigned int idlen, char **val, apr_size_t *len,
                            apr_pool_t *p)
{
    mem_cache *m = c->baton;
    mem_entry *e;
    apr_status_t rv = APR_NOTFOUND;

    apr_thread_mutex_lock(m->lock);
    e = apr_hash_get(m->table, id, idlen);
    if (e && e->expiry > apr_time_now()) {
        *val = apr_pmemdup(p, e->val, e->len + 1);
        *len = e->len;
        rv = APR_SUCCESS;
    }
    apr_thread_mutex_unlock(m->lock);
    return rv;
}

static apr_status_t mem_set(h5s3_cache *c, const unsigned char *id,
                            unsigned int idlen, const char *val,
                            apr_size_t len, apr_time_t expiry, apr_pool_t *p)
{
    mem_cache *m = c->baton;
    mem_entry *e;

    /* Test-only store: entries are never freed, which is fine for short runs. */
    apr_thread_mutex_lock(m->lock);
    e = apr_palloc(m->pool, sizeof(*e));
    e->val = apr_palloc(m->pool, len + 1);
    memcpy(e->val, val, len);
    e->val[len] = '\0';
    e->len = len;
    e->expiry = expiry;
    apr_hash_set(m->table, apr_pmemdup(m->pool, id, idlen), idlen, e);
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

static apr_status_t mem_remove(h5s3_cache *c, const unsigned char *id,
                               unsigned int idlen, apr_pool_t *p)
{
    mem_cache *m = c->baton;

    apr_thread_mutex_lock(m->lock);
    apr_hash_set(m->table, id, idlen, NULL);
    apr_thread_mutex_unlock(m->lock);
    return APR_SUCCESS;
}

h5s3_cache *h5s3_cache_memory_create(apr_pool_t *p)
{
    mem_cache *m = apr_pcalloc(p, sizeof(*m));

    m->pool = p;
    m->table = apr_hash_make(p);
    apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, p);
    m->api.get = mem_get;
    m->api.set = mem_set;
    m->api.remove = mem_remove;
    m->api.baton = m;
    return &m->api;
}
