/*
 * Object headers: every message of a v1 or v2 header handed to a
 * callback, continuation blocks followed, or the first message of one
 * type.  HDF5 1.10 has no call that gives the address of a dataset's
 * chunk index or an attribute's stored lengths: they are read from the
 * messages.
 */
#include <stdlib.h>
#include <string.h>

#include "hdf5/format/h5s3_h5_format_private.h"

#define CONT_MSG        0x0010
#define MAX_OH_BLOCKS   16
#define MAX_OH_BLOCK    (64 * 1024)

/*
 * Every message of the object header at oh (v1 or v2 headers, following
 * continuation blocks: at most MAX_OH_BLOCKS of MAX_OH_BLOCK bytes, each
 * within the object) handed to fn.  1 when fn stopped the walk, 0 when
 * the messages ran out or the header looks wrong.
 */
int h5s3_fmt_ohdr_walk(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                       apr_off_t oh, h5s3_fmt_msg_fn *fn, void *baton)
{
    apr_off_t boff[MAX_OH_BLOCKS];
    apr_size_t blen[MAX_OH_BLOCKS];
    unsigned char pre[64], *buf = NULL;
    apr_size_t plen = sizeof(pre), pos;
    int nblk = 1, b, v2 = 0, tracked = 0, found = 0;

    if (oh < 0 || oh >= src->obj.size) {
        return 0;
    }
    if (src->obj.size - oh < (apr_off_t)plen) {
        plen = (apr_size_t)(src->obj.size - oh);
    }
    if (plen < 16 || h5s3_fmt_read(src, oh, plen, pre) != APR_SUCCESS) {
        return 0;
    }
    if (memcmp(pre, "OHDR", 4) == 0 && pre[4] == 2) {
        unsigned flags = pre[5];
        int csz = 1 << (flags & 3);

        v2 = 1;
        tracked = (flags & 0x04) != 0;
        pos = 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
        if (pos + (apr_size_t)csz > plen) {
            return 0;
        }
        boff[0] = oh + (apr_off_t)(pos + (apr_size_t)csz);
        blen[0] = (apr_size_t)h5s3_fmt_le(pre + pos, csz);
    }
    else if (pre[0] == 1) {
        boff[0] = oh + 16;
        blen[0] = (apr_size_t)h5s3_fmt_le(pre + 8, 4);
    }
    else {
        return 0;
    }
    buf = malloc(MAX_OH_BLOCK);
    if (!buf) {
        return 0;
    }
    for (b = 0; b < nblk && !found; b++) {
        apr_size_t len = blen[b], hl = v2 ? 4 + (tracked ? 2 : 0) : 8;

        if (len > MAX_OH_BLOCK) {
            len = MAX_OH_BLOCK;
        }
        if (boff[b] < 0 || boff[b] >= src->obj.size
            || (apr_uint64_t)(src->obj.size - boff[b]) < len
            || h5s3_fmt_read(src, boff[b], len, buf) != APR_SUCCESS) {
            break;
        }
        for (pos = 0; pos + hl <= len;) {
            unsigned type = v2 ? buf[pos]
                                  : (unsigned)h5s3_fmt_le(buf + pos, 2);
            apr_size_t size = (apr_size_t)h5s3_fmt_le(buf + pos
                                                      + (v2 ? 1 : 2), 2);
            const unsigned char *body = buf + pos + hl;

            if (pos + hl + size > len) {
                break;
            }
            if (fn(baton, type, body, size)) {
                found = 1;
                break;
            }
            if (type == CONT_MSG && nblk < MAX_OH_BLOCKS
                && size >= (apr_size_t)(g->sa + g->ss)) {
                apr_uint64_t rel = h5s3_fmt_le(body, g->sa);
                apr_size_t l = (apr_size_t)h5s3_fmt_le(body + g->sa, g->ss);
                apr_off_t a;

                if (v2) {
                    /* "OCHK" first, a checksum last. */
                    rel += 4;
                    l = l >= 8 ? l - 8 : 0;
                }
                if (h5s3_fmt_addr(&a, src, g->base, rel, 0)) {
                    boff[nblk] = a;
                    blen[nblk] = l;
                    nblk++;
                }
            }
            pos += hl + size;
        }
    }
    free(buf);
    return found;
}

typedef struct msg_want {
    unsigned type;
    unsigned char *out;
    apr_size_t cap;
    apr_size_t *outlen;
} msg_want;

static int want_msg(void *baton, unsigned type, const unsigned char *body,
                    apr_size_t size)
{
    msg_want *w = baton;

    if (type != w->type) {
        return 0;
    }
    *w->outlen = size < w->cap ? size : w->cap;
    memcpy(w->out, body, *w->outlen);
    return 1;
}

/* The body of the first message of type `want` in the object header at
 * oh, at most cap bytes of it.  0 when there is none or the header looks
 * wrong. */
int h5s3_fmt_find_msg(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                      apr_off_t oh, unsigned want, unsigned char *out,
                      apr_size_t cap, apr_size_t *outlen)
{
    msg_want w;

    w.type = want;
    w.out = out;
    w.cap = cap;
    w.outlen = outlen;
    return h5s3_fmt_ohdr_walk(src, g, oh, want_msg, &w);
}

/* ---- fetching headers ahead ------------------------------------------- */

/* What HDF5 1.10 reads first at an object header's address. */
#define OHDR_SPEC_READ  512
/* The first fetch of each header: its prefix and, for most headers of a
 * dataset or group, all of it; a larger header says so in its prefix. */
#define OHDR_FIRST      1024
/* Fetched before each header too: without metadata aggregation HDF5
 * puts a header's continuation block at the end of the file of the
 * moment, which is usually right before the next object's header (its
 * attributes were written after its data).  A round trip saved for a
 * kilobyte. */
#define OHDR_BEHIND     1024
/* Rounds of one planned fetch: the first blocks, the rest of long
 * headers and continuation blocks, continuations of continuations. */
#define OHDR_ROUNDS     4

typedef enum { OH_PREFIX, OH_FULL, OH_CONT } oh_kind;

/* A range to fetch, and how to read it once fetched. */
typedef struct oh_item {
    apr_off_t off;              /* the range fetched */
    apr_size_t len;
    oh_kind kind;
    int v2;
    int tracked;                /* v2: creation order in each message */
    apr_off_t moff;             /* OH_FULL, OH_CONT: the messages */
    apr_size_t mlen;
} oh_item;

typedef struct oh_list {
    oh_item *it;
    int n;
    int cap;
} oh_list;

static int oh_add(oh_list *l, const oh_item *x)
{
    if (l->n >= H5S3_FMT_MAX_NODES) {
        return 0;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        oh_item *m = realloc(l->it, (apr_size_t)cap * sizeof(*m));

        if (!m) {
            return 0;
        }
        l->it = m;
        l->cap = cap;
    }
    l->it[l->n++] = *x;
    return 1;
}

/* The continuation blocks named by the messages of a cached block. */
static void oh_conts(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                     const oh_item *x, unsigned char *buf, oh_list *next)
{
    apr_size_t len = x->mlen, pos, hl = x->v2 ? 4 + (x->tracked ? 2 : 0) : 8;

    if (len == 0 || len > MAX_OH_BLOCK
        || !h5s3_pagecache_peek(src->cache, &src->obj, x->moff, len,
                                (char *)buf)) {
        return;
    }
    for (pos = 0; pos + hl <= len;) {
        unsigned type = x->v2 ? buf[pos]
                              : (unsigned)h5s3_fmt_le(buf + pos, 2);
        apr_size_t size = (apr_size_t)h5s3_fmt_le(buf + pos
                                                  + (x->v2 ? 1 : 2), 2);

        if (size > len - pos - hl) {
            break;
        }
        if (type == CONT_MSG && size >= (apr_size_t)(g->sa + g->ss)) {
            const unsigned char *body = buf + pos + hl;
            apr_uint64_t rel = h5s3_fmt_le(body, g->sa);
            apr_uint64_t l = h5s3_fmt_le(body + g->sa, g->ss);
            oh_item c = *x;

            /* v2 blocks: "OCHK", the messages, a checksum. */
            if (l <= MAX_OH_BLOCK && (!x->v2 || l >= 8)
                && h5s3_fmt_addr(&c.off, src, g->base, rel, l)) {
                c.kind = OH_CONT;
                c.len = (apr_size_t)l;
                c.moff = c.off + (x->v2 ? 4 : 0);
                c.mlen = c.len - (x->v2 ? 8 : 0);
                oh_add(next, &c);
            }
        }
        pos += hl + size;
    }
}

/* A header's first block is cached: what of it is left to fetch. */
static void oh_prefix(h5s3_h5_source *src, const h5s3_fmt_geometry *g,
                      const oh_item *x, unsigned char *buf, oh_list *next)
{
    unsigned char pre[64];
    apr_off_t oh = x->moff;     /* the header, in [x->off, x->off+x->len) */
    apr_size_t have = x->len - (apr_size_t)(oh - x->off);
    apr_size_t plen = have < sizeof(pre) ? have : sizeof(pre), pos;
    apr_uint64_t total, body;
    oh_item y = *x;

    y.off = oh;
    if (plen < 16 || !h5s3_pagecache_peek(src->cache, &src->obj, oh,
                                          plen, (char *)pre)) {
        return;
    }
    if (memcmp(pre, "OHDR", 4) == 0 && pre[4] == 2) {
        unsigned flags = pre[5];
        int csz = 1 << (flags & 3);

        y.v2 = 1;
        y.tracked = (flags & 0x04) != 0;
        pos = 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
        if (pos + (apr_size_t)csz > plen) {
            return;
        }
        body = h5s3_fmt_le(pre + pos, csz);
        pos += (apr_size_t)csz;
        if (body > MAX_OH_BLOCK) {
            return;
        }
        total = pos + body + 4;             /* and the checksum */
    }
    else if (pre[0] == 1) {
        y.v2 = 0;
        pos = 16;
        body = h5s3_fmt_le(pre + 8, 4);
        if (body > MAX_OH_BLOCK) {
            return;
        }
        total = pos + body;
    }
    else {
        return;
    }
    /* Within the object: oh lies in it, and total is small. */
    if (total > (apr_uint64_t)(src->obj.size - oh)) {
        return;
    }
    y.moff = oh + (apr_off_t)pos;
    y.mlen = (apr_size_t)body;
    if (total > have) {
        y.kind = OH_FULL;
        y.len = (apr_size_t)(total > OHDR_SPEC_READ ? total : OHDR_SPEC_READ);
        if ((apr_uint64_t)y.len > (apr_uint64_t)(src->obj.size - y.off)) {
            y.len = (apr_size_t)(src->obj.size - y.off);
        }
        oh_add(next, &y);
        return;
    }
    oh_conts(src, g, &y, buf, next);
}

apr_status_t h5s3_fmt_prefetch_headers(h5s3_h5_source *src,
                                       const h5s3_fmt_geometry *g,
                                       const apr_off_t *ohs, int n)
{
    oh_list cur = {0}, next = {0};
    apr_off_t *offs = NULL;
    apr_size_t *lens = NULL;
    unsigned char *buf = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i, round;

    if (!src->cache || n <= 0) {
        return APR_SUCCESS;
    }
    buf = malloc(MAX_OH_BLOCK);
    if (!buf) {
        return APR_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        oh_item x = {0};

        if (ohs[i] < 0 || ohs[i] >= src->obj.size) {
            continue;
        }
        x.off = ohs[i] > OHDR_BEHIND ? ohs[i] - OHDR_BEHIND : 0;
        x.len = (apr_size_t)(ohs[i] - x.off) + OHDR_FIRST;
        if ((apr_uint64_t)x.len > (apr_uint64_t)(src->obj.size - x.off)) {
            x.len = (apr_size_t)(src->obj.size - x.off);
        }
        x.moff = ohs[i];        /* the header itself */
        x.kind = OH_PREFIX;
        if (!oh_add(&cur, &x)) {
            break;
        }
    }
    for (round = 0; round < OHDR_ROUNDS && cur.n > 0; round++) {
        oh_list t;

        free(offs);
        free(lens);
        offs = malloc((apr_size_t)cur.n * sizeof(*offs));
        lens = malloc((apr_size_t)cur.n * sizeof(*lens));
        if (!offs || !lens) {
            rv = APR_ENOMEM;
            break;
        }
        for (i = 0; i < cur.n; i++) {
            offs[i] = cur.it[i].off;
            lens[i] = cur.it[i].len;
        }
        /* One level's blocks, all in flight at once. */
        rv = h5s3_fmt_prefetch_exact_gap(src, offs, lens, cur.n,
                                         H5S3_FMT_META_GAP);
        if (rv != APR_SUCCESS) {
            break;
        }
        next.n = 0;
        for (i = 0; i < cur.n; i++) {
            if (cur.it[i].kind == OH_PREFIX) {
                oh_prefix(src, g, &cur.it[i], buf, &next);
            }
            else {
                oh_conts(src, g, &cur.it[i], buf, &next);
            }
        }
        t = cur;
        cur = next;
        next = t;
    }
    free(cur.it);
    free(next.it);
    free(offs);
    free(lens);
    free(buf);
    return rv;
}
