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
