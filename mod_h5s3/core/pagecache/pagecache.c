/*
 * Shared-memory page cache of S3 object pages (see include/pagecache/h5s3_pagecache.h).
 *
 * Segment layout, all addressed by offsets from the segment base so every
 * process can map it anywhere:
 *
 *   header | bucket heads (uint32 each) | slots | page data (64-aligned)
 *
 * A slot describes one cached page; slots hang off hash buckets in singly
 * linked chains (slot index + 1, 0 ends a chain).  Eviction is a clock:
 * a hit sets the slot's reference bit, the hand clears it and takes the
 * first slot found without it.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "pagecache/h5s3_pagecache.h"
#include "base/h5s3_errors.h"

#define PC_MAGIC        0x48355043u     /* "H5PC" */
#define PC_VERSION      2u
#define PC_ALIGN        64
#define PC_MIN_SLOTS    8
/* A single fetched range stays below this, so one huge read becomes a few
 * parallel ranges and the bounce buffer stays bounded. */
#define PC_MAX_RUN      (8 * 1024 * 1024)
/* Prefetch fetches gaps of up to this many unneeded pages rather than
 * splitting a range: one request beats two.  A gap holding a cached page
 * is never bridged: that would fetch the page again. */
#define PC_GAP_PAGES    2
/* A big prefetch is cut into at most this many ranges (the fetcher runs
 * them concurrently), none shorter than PC_MIN_SPLIT: about what one S3
 * connection moves in the time a request takes to start (4 MiB at
 * ~100 MB/s and ~40 ms); smaller pieces only cost requests. */
#define PC_SPLIT_WAYS   8
#define PC_MIN_SPLIT    (4 * 1024 * 1024)

/* Extents (exact byte ranges of at most a page) are keyed by the page
 * their first byte is in, with this bit set: never a page number. */
#define EXT_KEY(p)      ((apr_uint64_t)(p) | ((apr_uint64_t)1 << 63))

#define SLOT_USED       1u
#define SLOT_REF        2u

typedef struct pc_header {
    apr_uint32_t magic;
    apr_uint32_t version;
    apr_uint64_t page_size;
    apr_uint64_t size;
    apr_uint32_t nslots;
    apr_uint32_t nbuckets;
    apr_uint32_t hand;
    apr_uint32_t used;
    apr_uint64_t off_buckets;
    apr_uint64_t off_slots;
    apr_uint64_t off_data;
    /* Updated atomically so mod_status may read them without the lock. */
    apr_uint64_t hits;
    apr_uint64_t misses;
    apr_uint64_t inserts;
    apr_uint64_t evictions;
} pc_header;

typedef struct pc_slot {
    unsigned char fp[H5S3_PAGECACHE_FP_LEN];
    apr_uint64_t page;
    apr_uint64_t start;         /* an extent's first byte */
    apr_uint32_t len;           /* valid bytes (the last page is short) */
    apr_uint32_t next;          /* next slot in the chain, index + 1 */
    apr_uint32_t bucket;
    apr_uint32_t flags;
} pc_slot;

struct h5s3_pagecache {
    char *base;
    pc_header *hdr;
    apr_uint32_t *buckets;
    pc_slot *slots;
    char *data;
    apr_size_t page_size;
    apr_global_mutex_t *mutex;
};

/* One run of adjacent pages fetched as one range. */
typedef struct pc_run {
    apr_uint64_t first;
    apr_uint64_t npages;
} pc_run;

#define HDR_SIZE \
    ((sizeof(pc_header) + PC_ALIGN - 1) / PC_ALIGN * PC_ALIGN)

static apr_size_t slot_cost(apr_size_t page_size)
{
    return page_size + sizeof(pc_slot) + sizeof(apr_uint32_t);
}

apr_size_t h5s3_pagecache_segment_size(apr_size_t page_size,
                                       apr_uint32_t npages)
{
    return HDR_SIZE + 2 * PC_ALIGN + (apr_size_t)npages * slot_cost(page_size);
}

static apr_uint64_t align_up(apr_uint64_t v, apr_uint64_t a)
{
    return (v + a - 1) / a * a;
}

static void bind_segment(h5s3_pagecache *pc)
{
    pc->hdr = (pc_header *)pc->base;
    pc->buckets = (apr_uint32_t *)(pc->base + pc->hdr->off_buckets);
    pc->slots = (pc_slot *)(pc->base + pc->hdr->off_slots);
    pc->data = pc->base + pc->hdr->off_data;
}

apr_status_t h5s3_pagecache_init(h5s3_pagecache **out, void *base,
                                 apr_size_t size, apr_size_t page_size,
                                 apr_global_mutex_t *mutex, int create,
                                 apr_pool_t *p)
{
    h5s3_pagecache *pc;
    pc_header *hdr = base;
    apr_size_t nslots;

    *out = NULL;
    if (!base || page_size < 4096 || (page_size & (page_size - 1))
        || ((apr_uintptr_t)base % 8) != 0) {
        return H5S3_E_INVALID;
    }
    if (size < HDR_SIZE + 2 * PC_ALIGN) {
        return APR_ENOSPC;
    }
    nslots = (size - HDR_SIZE - 2 * PC_ALIGN) / slot_cost(page_size);
    if (nslots < PC_MIN_SLOTS) {
        return APR_ENOSPC;
    }
    if (nslots > 0x7fffffffu) {
        nslots = 0x7fffffffu;
    }

    pc = apr_pcalloc(p, sizeof(*pc));
    pc->base = base;
    pc->page_size = page_size;
    pc->mutex = mutex;

    if (create) {
        memset(hdr, 0, HDR_SIZE);
        hdr->page_size = page_size;
        hdr->size = size;
        hdr->nslots = (apr_uint32_t)nslots;
        hdr->nbuckets = (apr_uint32_t)nslots;
        hdr->off_buckets = HDR_SIZE;
        hdr->off_slots = align_up(hdr->off_buckets
                                  + nslots * sizeof(apr_uint32_t), 8);
        hdr->off_data = align_up(hdr->off_slots + nslots * sizeof(pc_slot),
                                 PC_ALIGN);
        memset(pc->base + hdr->off_buckets, 0,
               hdr->off_data - hdr->off_buckets);
        hdr->version = PC_VERSION;
        hdr->magic = PC_MAGIC;
    }
    else if (hdr->magic != PC_MAGIC || hdr->version != PC_VERSION
             || hdr->page_size != page_size || hdr->size != size) {
        return H5S3_E_INVALID;
    }
    bind_segment(pc);
    *out = pc;
    return APR_SUCCESS;
}

apr_size_t h5s3_pagecache_page_size(const h5s3_pagecache *pc)
{
    return pc ? pc->page_size : H5S3_PAGECACHE_DEFAULT_PAGE;
}

void h5s3_pagecache_fingerprint(unsigned char *fp, const char *scope,
                                const char *bucket, const char *key,
                                const char *etag)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    static const char nul = 0;

    memset(fp, 0, H5S3_PAGECACHE_FP_LEN);
    if (!ctx) {
        return;
    }
    /* Lengths are implied by the NUL separators: none of the parts may
     * contain a NUL, so two different tuples never hash the same input.
     * The scope (endpoint and credentials) keeps two services, or two
     * sets of credentials, from ever sharing a page. */
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, scope ? scope : "", strlen(scope ? scope : ""));
    EVP_DigestUpdate(ctx, &nul, 1);
    EVP_DigestUpdate(ctx, bucket ? bucket : "", strlen(bucket ? bucket : ""));
    EVP_DigestUpdate(ctx, &nul, 1);
    EVP_DigestUpdate(ctx, key ? key : "", strlen(key ? key : ""));
    EVP_DigestUpdate(ctx, &nul, 1);
    EVP_DigestUpdate(ctx, etag ? etag : "", strlen(etag ? etag : ""));
    EVP_DigestFinal_ex(ctx, fp, &n);
    EVP_MD_CTX_free(ctx);
}

/* ---- locked primitives ------------------------------------------------ */

static int lock(h5s3_pagecache *pc)
{
    return !pc->mutex || apr_global_mutex_lock(pc->mutex) == APR_SUCCESS;
}

static void unlock(h5s3_pagecache *pc)
{
    if (pc->mutex) {
        apr_global_mutex_unlock(pc->mutex);
    }
}

static apr_uint32_t bucket_of(const h5s3_pagecache *pc,
                              const unsigned char *fp, apr_uint64_t page)
{
    apr_uint64_t h;

    memcpy(&h, fp, sizeof(h));
    h ^= (page + 1) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (apr_uint32_t)(h % pc->hdr->nbuckets);
}

/* Caller holds the lock.  Returns the slot index or -1. */
static long find_slot(h5s3_pagecache *pc, const unsigned char *fp,
                      apr_uint64_t page)
{
    apr_uint32_t i = pc->buckets[bucket_of(pc, fp, page)];
    apr_uint32_t guard = pc->hdr->nslots;

    while (i && guard--) {
        pc_slot *s = &pc->slots[i - 1];

        if (s->page == page && (s->flags & SLOT_USED)
            && memcmp(s->fp, fp, H5S3_PAGECACHE_FP_LEN) == 0) {
            return (long)(i - 1);
        }
        i = s->next;
    }
    return -1;
}

static char *slot_data(h5s3_pagecache *pc, long idx)
{
    return pc->data + (apr_size_t)idx * pc->page_size;
}

static void unlink_slot(h5s3_pagecache *pc, apr_uint32_t idx)
{
    pc_slot *s = &pc->slots[idx];
    apr_uint32_t *link = &pc->buckets[s->bucket];
    apr_uint32_t guard = pc->hdr->nslots;

    while (*link && guard--) {
        if (*link == idx + 1) {
            *link = s->next;
            break;
        }
        link = &pc->slots[*link - 1].next;
    }
    s->next = 0;
    s->flags = 0;
}

/* Caller holds the lock: a free slot, evicting by clock if need be. */
static apr_uint32_t take_slot(h5s3_pagecache *pc)
{
    pc_header *h = pc->hdr;
    apr_uint32_t tries = 2 * h->nslots + 1;

    while (tries--) {
        apr_uint32_t idx = h->hand;
        pc_slot *s = &pc->slots[idx];

        h->hand = (idx + 1) % h->nslots;
        if (!(s->flags & SLOT_USED)) {
            h->used++;
            return idx;
        }
        if (s->flags & SLOT_REF) {
            s->flags &= ~SLOT_REF;
            continue;
        }
        unlink_slot(pc, idx);
        apr_atomic_inc64(&h->evictions);
        return idx;
    }
    /* Unreachable: the second sweep finds every reference bit cleared. */
    unlink_slot(pc, h->hand);
    return h->hand;
}

/*
 * Copy the part of page `page` that lies in [lo, hi) to dst (dst maps lo).
 * Returns 1 on a hit.
 */
static int lookup_copy(h5s3_pagecache *pc, const unsigned char *fp,
                       apr_uint64_t page, apr_off_t lo, apr_off_t hi,
                       char *dst)
{
    apr_off_t pstart = (apr_off_t)(page * pc->page_size);
    apr_off_t a = lo > pstart ? lo : pstart;
    apr_off_t b = hi < pstart + (apr_off_t)pc->page_size
                  ? hi : pstart + (apr_off_t)pc->page_size;
    long idx;
    int hit = 0;

    if (!lock(pc)) {
        return 0;
    }
    idx = find_slot(pc, fp, page);
    if (idx >= 0 && pstart + (apr_off_t)pc->slots[idx].len >= b) {
        memcpy(dst + (a - lo), slot_data(pc, idx) + (a - pstart),
               (apr_size_t)(b - a));
        pc->slots[idx].flags |= SLOT_REF;
        hit = 1;
    }
    unlock(pc);
    apr_atomic_inc64(hit ? &pc->hdr->hits : &pc->hdr->misses);
    return hit;
}

static void insert_page(h5s3_pagecache *pc, const unsigned char *fp,
                        apr_uint64_t page, const char *src, apr_size_t len)
{
    long idx;
    apr_uint32_t b;
    pc_slot *s;

    if (len > pc->page_size || !lock(pc)) {
        return;
    }
    if (find_slot(pc, fp, page) < 0) {
        idx = take_slot(pc);
        s = &pc->slots[idx];
        b = bucket_of(pc, fp, page);
        memcpy(s->fp, fp, H5S3_PAGECACHE_FP_LEN);
        s->page = page;
        s->start = page * pc->page_size;
        s->len = (apr_uint32_t)len;
        memcpy(slot_data(pc, idx), src, len);
        s->bucket = b;
        s->next = pc->buckets[b];
        /* Not referenced yet: a scan that is never read again must not
         * push out pages that are. */
        s->flags = SLOT_USED;
        pc->buckets[b] = (apr_uint32_t)idx + 1;
        apr_atomic_inc64(&pc->hdr->inserts);
    }
    unlock(pc);
}

/* ---- extents ---------------------------------------------------------- */

/*
 * Caller holds the lock: the extent of fp holding [lo, hi), or -1.  An
 * extent is at most a page long, so one holding lo starts in lo's page
 * or the one before; several extents may share a key (the chain is
 * walked to its end).
 */
static long find_extent(h5s3_pagecache *pc, const unsigned char *fp,
                        apr_off_t lo, apr_off_t hi)
{
    apr_uint64_t p0 = (apr_uint64_t)lo / pc->page_size, p;
    int k;

    for (k = 0; k < 2; k++) {
        apr_uint32_t i, guard = pc->hdr->nslots;

        if (k == 1 && p0 == 0) {
            break;
        }
        p = p0 - (apr_uint64_t)k;
        i = pc->buckets[bucket_of(pc, fp, EXT_KEY(p))];
        while (i && guard--) {
            pc_slot *s = &pc->slots[i - 1];

            if (s->page == EXT_KEY(p) && (s->flags & SLOT_USED)
                && s->start <= (apr_uint64_t)lo
                && s->start + s->len >= (apr_uint64_t)hi
                && memcmp(s->fp, fp, H5S3_PAGECACHE_FP_LEN) == 0) {
                return (long)(i - 1);
            }
            i = s->next;
        }
    }
    return -1;
}

/* Copy [lo, hi) from the extent holding it to dst (NULL: only look).
 * 1 on a hit. */
static int extent_copy(h5s3_pagecache *pc, const unsigned char *fp,
                       apr_off_t lo, apr_off_t hi, char *dst)
{
    long idx;

    if (hi - lo > (apr_off_t)pc->page_size || !lock(pc)) {
        return 0;
    }
    idx = find_extent(pc, fp, lo, hi);
    if (idx >= 0) {
        pc_slot *s = &pc->slots[idx];

        if (dst) {
            memcpy(dst, slot_data(pc, idx) + (lo - (apr_off_t)s->start),
                   (apr_size_t)(hi - lo));
        }
        s->flags |= SLOT_REF;
    }
    unlock(pc);
    return idx >= 0;
}

static void insert_extent(h5s3_pagecache *pc, const unsigned char *fp,
                          apr_off_t start, const char *src, apr_size_t len)
{
    long idx;
    apr_uint32_t b;
    apr_uint64_t key = EXT_KEY((apr_uint64_t)start / pc->page_size);
    pc_slot *s;

    if (len == 0 || len > pc->page_size || !lock(pc)) {
        return;
    }
    if (find_extent(pc, fp, start, start + (apr_off_t)len) < 0) {
        idx = take_slot(pc);
        s = &pc->slots[idx];
        b = bucket_of(pc, fp, key);
        memcpy(s->fp, fp, H5S3_PAGECACHE_FP_LEN);
        s->page = key;
        s->start = (apr_uint64_t)start;
        s->len = (apr_uint32_t)len;
        memcpy(slot_data(pc, idx), src, len);
        s->bucket = b;
        s->next = pc->buckets[b];
        s->flags = SLOT_USED;
        pc->buckets[b] = (apr_uint32_t)idx + 1;
        apr_atomic_inc64(&pc->hdr->inserts);
    }
    unlock(pc);
}

void h5s3_pagecache_put(h5s3_pagecache *pc, const h5s3_pagecache_object *obj,
                        apr_off_t offset, const char *buf, apr_size_t len)
{
    apr_size_t ps, done;

    if (!pc || !obj || !buf || offset < 0 || offset >= obj->size) {
        return;
    }
    ps = pc->page_size;
    if ((apr_uint64_t)offset % ps != 0) {
        return;
    }
    if ((apr_off_t)len > obj->size - offset) {
        len = (apr_size_t)(obj->size - offset);
    }
    for (done = 0; done < len; done += ps) {
        apr_size_t plen = len - done < ps ? len - done : ps;

        if (plen < ps && offset + (apr_off_t)(done + plen) != obj->size) {
            break;
        }
        insert_page(pc, obj->fp, ((apr_uint64_t)offset + done) / ps,
                    buf + done, plen);
    }
}

int h5s3_pagecache_contains(h5s3_pagecache *pc, const unsigned char *fp,
                            apr_uint64_t page)
{
    int found;

    if (!pc || !lock(pc)) {
        return 0;
    }
    found = find_slot(pc, fp, page) >= 0;
    unlock(pc);
    return found;
}

void h5s3_pagecache_stats_get(h5s3_pagecache *pc, h5s3_pagecache_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!pc) {
        return;
    }
    st->page_size = pc->page_size;
    st->slots = pc->hdr->nslots;
    st->used = apr_atomic_read32(&pc->hdr->used);
    st->hits = apr_atomic_read64(&pc->hdr->hits);
    st->misses = apr_atomic_read64(&pc->hdr->misses);
    st->inserts = apr_atomic_read64(&pc->hdr->inserts);
    st->evictions = apr_atomic_read64(&pc->hdr->evictions);
}

/*
 * A fetched range that failed or came short: the first such failure of a
 * batch becomes *rv (the range's own status, else the batch's, else
 * "upstream"), and the caller skips the range.
 */
static int range_failed(apr_status_t *rv, const h5s3_s3_range *r,
                        apr_status_t frv)
{
    if (r->status == APR_SUCCESS && r->got == r->len) {
        return 0;
    }
    if (*rv == APR_SUCCESS) {
        *rv = r->status != APR_SUCCESS ? r->status
              : frv != APR_SUCCESS ? frv : H5S3_E_UPSTREAM;
    }
    return 1;
}

/* ---- fetching runs ---------------------------------------------------- */

/*
 * Fetch the runs (in one call to the fetcher), insert their pages when the
 * cache can hold them, and copy what overlaps [lo, hi) into dst (dst may be
 * NULL for a prefetch).
 */
static apr_status_t fetch_runs(h5s3_pagecache *pc,
                               const h5s3_pagecache_object *obj,
                               apr_size_t ps, const pc_run *runs, int nruns,
                               apr_off_t lo, apr_off_t hi, char *dst,
                               h5s3_pagecache_counts *counts)
{
    h5s3_s3_range *ranges;
    apr_pool_t *tp = NULL;
    apr_status_t rv, frv;
    apr_uint64_t cacheable = pc ? pc->hdr->nslots / 2 : 0;
    int i;

    ranges = calloc((apr_size_t)nruns, sizeof(*ranges));
    if (!ranges) {
        return APR_ENOMEM;
    }
    rv = apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    for (i = 0; i < nruns; i++) {
        apr_off_t start = (apr_off_t)(runs[i].first * ps);
        apr_off_t end = (apr_off_t)((runs[i].first + runs[i].npages) * ps);

        if (end > obj->size) {
            end = obj->size;
        }
        ranges[i].offset = start;
        ranges[i].len = (apr_size_t)(end - start);
        ranges[i].buf = malloc(ranges[i].len);
        if (!ranges[i].buf) {
            rv = APR_ENOMEM;
            goto cleanup;
        }
    }
    if (counts) {
        counts->fetches += (apr_uint32_t)nruns;
    }
    frv = obj->fetch(obj->baton, ranges, nruns, tp);

    for (i = 0; i < nruns; i++) {
        h5s3_s3_range *r = &ranges[i];
        apr_uint64_t k;

        if (counts) {
            counts->bytes += r->got;
        }
        if (range_failed(&rv, r, frv)) {
            continue;
        }
        for (k = 0; k < runs[i].npages; k++) {
            apr_off_t pstart = r->offset + (apr_off_t)(k * ps);
            apr_size_t plen = r->len - (apr_size_t)(k * ps);
            const char *src = r->buf + k * ps;

            if (plen > ps) {
                plen = ps;
            }
            if (pc && runs[i].npages <= cacheable) {
                insert_page(pc, obj->fp, runs[i].first + k, src, plen);
            }
            if (dst) {
                apr_off_t a = lo > pstart ? lo : pstart;
                apr_off_t b = hi < pstart + (apr_off_t)plen
                              ? hi : pstart + (apr_off_t)plen;

                if (a < b) {
                    memcpy(dst + (a - lo), src + (a - pstart),
                           (apr_size_t)(b - a));
                }
            }
        }
    }
    if (rv == APR_SUCCESS && frv != APR_SUCCESS) {
        rv = frv;
    }

cleanup:
    for (i = 0; i < nruns; i++) {
        free(ranges[i].buf);
    }
    free(ranges);
    if (tp) {
        apr_pool_destroy(tp);
    }
    return rv;
}

apr_status_t h5s3_pagecache_read(h5s3_pagecache *pc,
                                 const h5s3_pagecache_object *obj,
                                 apr_off_t offset, apr_size_t len, char *buf,
                                 h5s3_pagecache_counts *counts)
{
    apr_size_t ps = h5s3_pagecache_page_size(pc);
    apr_uint64_t max_run = PC_MAX_RUN / ps;
    apr_off_t end, avail;
    apr_uint64_t first, last, n, i;
    unsigned char *missing = NULL;
    pc_run *runs = NULL;
    int nruns = 0;
    apr_status_t rv = APR_SUCCESS;

    if (len == 0) {
        return APR_SUCCESS;
    }
    /* The caller's buffer holds len bytes from offset: a range that would
     * end past 2^63 (a hostile address) cannot be a real read. */
    if (offset < 0 || !obj || !obj->fetch
        || len > (apr_uint64_t)(APR_INT64_MAX - offset)) {
        return H5S3_E_INVALID;
    }
    end = offset + (apr_off_t)len;
    avail = end < obj->size ? end : obj->size;
    if (avail < end) {
        /* Past the end of the object reads as zeros, like a POSIX file. */
        apr_off_t z = offset > obj->size ? offset : obj->size;

        memset(buf + (z - offset), 0, (apr_size_t)(end - z));
    }
    if (offset >= avail) {
        return APR_SUCCESS;
    }
    /* An exact range fetched earlier (a chunk, an object header) that
     * holds the whole read. */
    if (pc && extent_copy(pc, obj->fp, offset, avail, buf)) {
        apr_atomic_inc64(&pc->hdr->hits);
        if (counts) {
            counts->hits++;
        }
        return APR_SUCCESS;
    }
    first = (apr_uint64_t)offset / ps;
    last = (apr_uint64_t)(avail - 1) / ps;
    n = last - first + 1;

    missing = malloc(n);
    runs = malloc(n * sizeof(*runs));
    if (!missing || !runs) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < n; i++) {
        missing[i] = !(pc && lookup_copy(pc, obj->fp, first + i, offset,
                                         avail, buf));
        if (counts) {
            if (missing[i]) {
                counts->misses++;
            }
            else {
                counts->hits++;
            }
        }
    }
    for (i = 0; i < n; i++) {
        if (!missing[i]) {
            continue;
        }
        if (nruns && runs[nruns - 1].first + runs[nruns - 1].npages
                     == first + i
            && runs[nruns - 1].npages < max_run) {
            runs[nruns - 1].npages++;
        }
        else {
            runs[nruns].first = first + i;
            runs[nruns].npages = 1;
            nruns++;
        }
    }
    if (nruns) {
        rv = fetch_runs(pc, obj, ps, runs, nruns, offset, avail, buf, counts);
    }

cleanup:
    free(missing);
    free(runs);
    return rv;
}

static int cmp_u64(const void *a, const void *b)
{
    apr_uint64_t x = *(const apr_uint64_t *)a, y = *(const apr_uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Every page any of the n ranges touches, sorted (repeats kept): *out
 * malloc'ed (NULL when none), *npages of them. */
static apr_status_t pages_touched(apr_uint64_t **out, apr_size_t *npages,
                                  const h5s3_pagecache_object *obj,
                                  apr_size_t ps, const apr_off_t *offsets,
                                  const apr_size_t *lens, int n)
{
    apr_uint64_t *pages = NULL;
    apr_size_t cap = 0, np = 0;
    int k;

    *out = NULL;
    *npages = 0;
    for (k = 0; k < n; k++) {
        apr_off_t a = offsets[k], b;
        apr_uint64_t p;

        /* Offsets and lengths come from the file: clamp to the object
         * before adding, so a hostile address near 2^63 cannot wrap. */
        if (a < 0 || a >= obj->size || lens[k] == 0) {
            continue;
        }
        b = lens[k] >= (apr_uint64_t)(obj->size - a)
            ? obj->size : a + (apr_off_t)lens[k];
        for (p = (apr_uint64_t)a / ps; p <= (apr_uint64_t)(b - 1) / ps; p++) {
            if (np == cap) {
                apr_uint64_t *more;

                cap = cap ? 2 * cap : 64;
                more = realloc(pages, cap * sizeof(*pages));
                if (!more) {
                    free(pages);
                    return APR_ENOMEM;
                }
                pages = more;
            }
            pages[np++] = p;
        }
    }
    if (np) {
        qsort(pages, np, sizeof(*pages), cmp_u64);
    }
    *out = pages;
    *npages = np;
    return APR_SUCCESS;
}

/*
 * Keep the missing ones of the npages sorted pages, in place: *nmiss of
 * them, of *nuniq distinct pages.  One lock for all (no copying, so it
 * is short), noting in bridge[i] for the i-th missing page whether the
 * gap since the previous missing page may be fetched along: short, and
 * nothing in it cached.
 */
static apr_status_t keep_missing(h5s3_pagecache *pc, const unsigned char *fp,
                                 apr_uint64_t *pages, apr_size_t npages,
                                 unsigned char *bridge, apr_size_t *nmiss,
                                 apr_size_t *nuniq)
{
    apr_size_t i, nm = 0, nu = 0;

    if (!lock(pc)) {
        return APR_EGENERAL;
    }
    for (i = 0; i < npages; i++) {
        /* In-place compaction only writes at or below i, so pages[i - 1]
         * still holds its sorted value when compared. */
        if (i > 0 && pages[i] == pages[i - 1]) {
            continue;
        }
        nu++;
        if (find_slot(pc, fp, pages[i]) < 0) {
            if (nm > 0 && pages[i] - pages[nm - 1] - 1 <= PC_GAP_PAGES) {
                apr_uint64_t g;

                bridge[nm] = 1;
                for (g = pages[nm - 1] + 1; g < pages[i]; g++) {
                    if (find_slot(pc, fp, g) >= 0) {
                        bridge[nm] = 0;
                        break;
                    }
                }
            }
            pages[nm++] = pages[i];
        }
    }
    unlock(pc);
    *nmiss = nm;
    *nuniq = nu;
    return APR_SUCCESS;
}

/* The runs of the nmiss missing pages: a page joins the run before it
 * when the gap between them may be bridged and the run stays within
 * max_run pages.  Returns how many runs were written to runs. */
static int runs_of(pc_run *runs, const apr_uint64_t *pages,
                   const unsigned char *bridge, apr_size_t nmiss,
                   apr_uint64_t max_run)
{
    apr_size_t i;
    int nruns = 0;

    for (i = 0; i < nmiss; i++) {
        pc_run *r = nruns ? &runs[nruns - 1] : NULL;

        if (r && bridge[i] && pages[i] - r->first + 1 <= max_run) {
            r->npages = pages[i] - r->first + 1;
        }
        else {
            runs[nruns].first = pages[i];
            runs[nruns].npages = 1;
            nruns++;
        }
    }
    return nruns;
}

/*
 * Few long runs are cut so that the fetcher's connections share the
 * transfer instead of one of them carrying it all: pieces of P pages
 * number at most T/P + R, so P = T/(W - R) keeps them within W.  Out of
 * memory, the runs stay as they are.
 */
static void split_runs(pc_run **runs, int *nruns, apr_size_t ps)
{
    apr_uint64_t total = 0, piece;
    pc_run *in = *runs, *cut;
    int k, n = *nruns, ncut = 0;

    if (n >= PC_SPLIT_WAYS) {
        return;
    }
    cut = malloc((apr_size_t)(n + PC_SPLIT_WAYS) * sizeof(*cut));
    for (k = 0; k < n; k++) {
        total += in[k].npages;
    }
    piece = (total + PC_SPLIT_WAYS - n - 1)
            / (apr_uint64_t)(PC_SPLIT_WAYS - n);
    if (piece < PC_MIN_SPLIT / ps) {
        piece = PC_MIN_SPLIT / ps;
    }
    if (piece < 1) {
        piece = 1;
    }
    for (k = 0; cut && k < n; k++) {
        apr_uint64_t at = 0;

        while (at < in[k].npages && ncut < n + PC_SPLIT_WAYS) {
            apr_uint64_t len = in[k].npages - at;

            cut[ncut].first = in[k].first + at;
            cut[ncut].npages = len < piece ? len : piece;
            at += cut[ncut].npages;
            ncut++;
        }
    }
    if (cut) {
        free(in);
        *runs = cut;
        *nruns = ncut;
    }
}

apr_status_t h5s3_pagecache_prefetch(h5s3_pagecache *pc,
                                     const h5s3_pagecache_object *obj,
                                     const apr_off_t *offsets,
                                     const apr_size_t *lens, int n,
                                     h5s3_pagecache_counts *counts)
{
    apr_size_t ps, npages = 0, nmiss = 0, nuniq = 0;
    apr_uint64_t *pages = NULL;
    unsigned char *bridge = NULL;
    pc_run *runs = NULL;
    int nruns, k;
    apr_status_t rv;

    if (!pc || n <= 0 || !obj || !obj->fetch) {
        return APR_SUCCESS;
    }
    ps = pc->page_size;
    rv = pages_touched(&pages, &npages, obj, ps, offsets, lens, n);
    if (rv != APR_SUCCESS || !npages) {
        goto cleanup;
    }
    bridge = calloc(npages, 1);
    if (!bridge) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    rv = keep_missing(pc, obj->fp, pages, npages, bridge, &nmiss, &nuniq);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    if (counts) {
        counts->hits += (apr_uint32_t)(nuniq - nmiss);
    }
    if (!nmiss) {
        goto cleanup;
    }
    runs = malloc(nmiss * sizeof(*runs));
    if (!runs) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    nruns = runs_of(runs, pages, bridge, nmiss, PC_MAX_RUN / ps);
    split_runs(&runs, &nruns, ps);
    if (counts) {
        for (k = 0; k < nruns; k++) {
            counts->misses += (apr_uint32_t)runs[k].npages;
        }
    }
    apr_atomic_add64(&pc->hdr->misses, nmiss);
    rv = fetch_runs(pc, obj, ps, runs, nruns, 0, 0, NULL, counts);

cleanup:
    free(pages);
    free(bridge);
    free(runs);
    return rv;
}

/* ---- exact ranges ----------------------------------------------------- */

/* One wanted range of an exact prefetch. */
typedef struct ex_item {
    apr_off_t off;
    apr_off_t end;
} ex_item;

/* One range fetched: items [first, last) of the sorted list. */
typedef struct ex_run {
    apr_off_t off;
    apr_off_t end;
    int first;
    int last;
    int paged;                  /* kept as whole pages */
} ex_run;

static int cmp_item(const void *a, const void *b)
{
    apr_off_t x = ((const ex_item *)a)->off, y = ((const ex_item *)b)->off;

    return x < y ? -1 : x > y;
}

/* Every page of [off, end) cached (caller holds no lock). */
static int pages_cached(h5s3_pagecache *pc, const unsigned char *fp,
                        apr_off_t off, apr_off_t end)
{
    apr_uint64_t p;
    int all = 1;

    if (!lock(pc)) {
        return 0;
    }
    for (p = (apr_uint64_t)off / pc->page_size;
         all && p <= (apr_uint64_t)(end - 1) / pc->page_size; p++) {
        all = find_slot(pc, fp, p) >= 0;
    }
    unlock(pc);
    return all;
}

int h5s3_pagecache_peek(h5s3_pagecache *pc, const h5s3_pagecache_object *obj,
                        apr_off_t offset, apr_size_t len, char *buf)
{
    apr_off_t end;
    apr_uint64_t p, first, last;

    if (!pc || !obj || offset < 0 || offset >= obj->size || len == 0
        || (apr_uint64_t)len > (apr_uint64_t)(obj->size - offset)) {
        return 0;
    }
    end = offset + (apr_off_t)len;
    if (extent_copy(pc, obj->fp, offset, end, buf)) {
        return 1;
    }
    first = (apr_uint64_t)offset / pc->page_size;
    last = (apr_uint64_t)(end - 1) / pc->page_size;
    for (p = first; p <= last; p++) {
        if (!lookup_copy(pc, obj->fp, p, offset, end, buf)) {
            return 0;
        }
    }
    return 1;
}

/*
 * The runs of the m sorted items: neighbours closer than gap share one
 * (one request beats two, and the gap's bytes cost less than a round
 * trip).  A run longer than a page is widened to whole pages and kept as
 * pages: dense reads cost at most two partial pages more than asked, and
 * an extent is worth its slot only for short, sparse ranges.  Widened
 * runs that now touch their neighbours are joined.  Returns the count.
 */
static int plan_runs(ex_run *runs, const ex_item *it, int m,
                     apr_size_t gap, apr_size_t ps, apr_off_t size)
{
    int i, n = 0, w = 0;

    for (i = 0; i < m; i++) {
        ex_run *r = n ? &runs[n - 1] : NULL;

        if (r && it[i].off <= r->end + (apr_off_t)gap
            && it[i].end - r->off <= PC_MAX_RUN) {
            if (it[i].end > r->end) {
                r->end = it[i].end;
            }
            r->last = i + 1;
        }
        else {
            runs[n].off = it[i].off;
            runs[n].end = it[i].end;
            runs[n].first = i;
            runs[n].last = i + 1;
            runs[n].paged = 0;
            n++;
        }
    }
    for (i = 0; i < n; i++) {
        ex_run r = runs[i];

        if ((apr_uint64_t)(r.end - r.off) > ps) {
            r.paged = 1;
            r.off = (apr_off_t)((apr_uint64_t)r.off / ps * ps);
            /* size > ps here: the subtraction cannot wrap. */
            r.end = (apr_uint64_t)r.end > (apr_uint64_t)size - ps
                    ? size
                    : (apr_off_t)(((apr_uint64_t)r.end + ps - 1) / ps * ps);
        }
        if (w && r.off <= runs[w - 1].end
            && (r.paged || runs[w - 1].paged)) {
            ex_run *p = &runs[w - 1];

            if (!p->paged) {
                p->off = (apr_off_t)((apr_uint64_t)p->off / ps * ps);
                p->paged = 1;
            }
            if (r.end > p->end) {
                p->end = r.end;
            }
            if ((apr_uint64_t)p->end % ps && p->end != size) {
                p->end = (apr_uint64_t)p->end > (apr_uint64_t)size - ps
                         ? size
                         : (apr_off_t)(((apr_uint64_t)p->end + ps - 1)
                                       / ps * ps);
            }
            p->last = r.last;
        }
        else {
            runs[w++] = r;
        }
    }
    return w;
}

apr_status_t h5s3_pagecache_prefetch_exact(h5s3_pagecache *pc,
                                           const h5s3_pagecache_object *obj,
                                           const apr_off_t *offsets,
                                           const apr_size_t *lens, int n,
                                           apr_size_t gap,
                                           h5s3_pagecache_counts *counts)
{
    apr_size_t ps;
    ex_item *it = NULL;
    ex_run *runs = NULL;
    h5s3_s3_range *ranges = NULL;
    apr_pool_t *tp = NULL;
    apr_uint64_t room, stored = 0;
    apr_status_t rv = APR_SUCCESS, frv;
    int i, k = 0, m = 0, nruns = 0;

    if (!pc || n <= 0 || !obj || !obj->fetch) {
        return APR_SUCCESS;
    }
    ps = pc->page_size;
    room = pc->hdr->nslots / 2;
    it = malloc((apr_size_t)n * sizeof(*it));
    if (!it) {
        return APR_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        apr_off_t a = offsets[i], b;

        /* Offsets and lengths come from the file: clamp to the object
         * before adding, so a hostile address near 2^63 cannot wrap. */
        if (a < 0 || a >= obj->size || lens[i] == 0) {
            continue;
        }
        b = lens[i] >= (apr_uint64_t)(obj->size - a)
            ? obj->size : a + (apr_off_t)lens[i];
        it[k].off = a;
        it[k].end = b;
        k++;
    }
    /* Drop what is cached already (no lock held across items). */
    for (i = 0; i < k; i++) {
        if (extent_copy(pc, obj->fp, it[i].off, it[i].end, NULL)
            || pages_cached(pc, obj->fp, it[i].off, it[i].end)) {
            if (counts) {
                counts->hits++;
            }
        }
        else {
            it[m++] = it[i];
        }
    }
    if (m == 0) {
        goto cleanup;
    }
    qsort(it, (apr_size_t)m, sizeof(*it), cmp_item);
    runs = malloc((apr_size_t)m * sizeof(*runs));
    if (!runs) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    nruns = plan_runs(runs, it, m, gap, ps, obj->size);
    for (i = 0; i < nruns; i++) {
        stored += runs[i].paged
                  ? ((apr_uint64_t)(runs[i].end - runs[i].off) + ps - 1) / ps
                  : 1;
    }
    if (stored > room) {
        /* An extent takes a slot of its own: a cache too small for this
         * many is better used by the pages around them (fewer slots). */
        free(runs);
        free(it);
        return h5s3_pagecache_prefetch(pc, obj, offsets, lens, n, counts);
    }
    stored = 0;
    ranges = calloc((apr_size_t)nruns, sizeof(*ranges));
    if (!ranges) {
        rv = APR_ENOMEM;
        goto cleanup;
    }
    for (i = 0; i < nruns; i++) {
        ranges[i].offset = runs[i].off;
        ranges[i].len = (apr_size_t)(runs[i].end - runs[i].off);
        ranges[i].buf = malloc(ranges[i].len);
        if (!ranges[i].buf) {
            rv = APR_ENOMEM;
            goto cleanup;
        }
    }
    rv = apr_pool_create_unmanaged_ex(&tp, NULL, NULL);
    if (rv != APR_SUCCESS) {
        goto cleanup;
    }
    if (counts) {
        counts->fetches += (apr_uint32_t)nruns;
        counts->misses += (apr_uint32_t)m;
    }
    apr_atomic_add64(&pc->hdr->misses, (apr_uint64_t)m);
    frv = obj->fetch(obj->baton, ranges, nruns, tp);
    for (i = 0; i < nruns; i++) {
        h5s3_s3_range *r = &ranges[i];
        apr_size_t done;

        if (counts) {
            counts->bytes += r->got;
        }
        if (range_failed(&rv, r, frv)) {
            continue;
        }
        if (runs[i].paged) {
            /* Whole pages; a short one only where the object ends. */
            for (done = 0; done < r->len && stored < room; done += ps) {
                apr_size_t plen = r->len - done < ps ? r->len - done : ps;

                insert_page(pc, obj->fp,
                            ((apr_uint64_t)r->offset + done) / ps,
                            r->buf + done, plen);
                stored++;
            }
            continue;
        }
        /* The run's bytes (its ranges and the small gaps between them)
         * are one extent: one slot, and any read within a range is
         * within it. */
        if (stored < room) {
            insert_extent(pc, obj->fp, r->offset, r->buf, r->len);
            stored++;
        }
    }
    if (rv == APR_SUCCESS && frv != APR_SUCCESS) {
        rv = frv;
    }

cleanup:
    for (i = 0; ranges && i < nruns; i++) {
        free(ranges[i].buf);
    }
    free(ranges);
    free(runs);
    free(it);
    if (tp) {
        apr_pool_destroy(tp);
    }
    return rv;
}
