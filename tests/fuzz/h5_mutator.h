/*
 * A libFuzzer custom mutator for HDF5 files (fuzz_h5_struct,
 * fuzz_h5_values).  Byte-level mutations of an HDF5 file mostly die at
 * the first checksum (every version-2 structure carries one) or in a
 * field HDF5 checks first; this one knows enough of the on-disk layout
 * (the HDF5 File Format Specification, version 3) to change what the
 * parsers behind those checks use:
 *
 * - it maps an input: the superblock (its size of offsets and lengths,
 *   its base address), every block with a signature (OHDR, OCHK, TREE,
 *   HEAP, SNOD, GCOL, BTHD/BTIN/BTLF, FRHP/FHDB/FHIB, FAHD/FADB,
 *   EAHD/EAIB/EADB/EASB, FSHD/FSSE, SMTB/SMLI), version-1 object headers
 *   (no signature: found where the superblock, symbol table nodes and
 *   continuation messages point, and by their shape), and the messages
 *   of every object header;
 * - it rewrites one integer field of one of them (a dimension, a size,
 *   a count, an address, a message type) with a value parsers get wrong:
 *   0, 1, 2^31-1, 2^32-1, 2^63-1, 2^64-1, the file size +-k, the old value
 *   +-k, or the address of another structure;
 * - then it recomputes the Jenkins lookup3 checksum of every structure
 *   whose checksum held before, so the change reaches the parser.
 *
 * A quarter of the mutations (and every input without a superblock) go
 * to libFuzzer's own mutator, whose result gets its checksums fixed the
 * same way when it kept the input's size.
 */
#ifndef H5S3_H5_MUTATOR_H
#define H5S3_H5_MUTATOR_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* The mutator runs between executions: coverage of it would be noise. */
#define H5M_FN static __attribute__((no_sanitize("coverage")))

/* ---- Jenkins lookup3 (hashlittle), as the format uses it ------------- */

/*
 * Hashing is most of the mutator's time: h5m_chk_search hashes every
 * prefix of a structure to find its checksum, some 10^5 bytes a block.
 * The hash reads whole words and is not instrumented (every caller keeps
 * [k, k + len) inside the input; h5m_chk_ok and h5m_fix check it), which
 * makes a mutation about ten times cheaper.
 */
#define H5M_HASH static __attribute__((no_sanitize("address", "undefined", \
                                                   "coverage")))
#define H5M_ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

H5M_HASH uint32_t h5m_word(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
#else
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
#endif
}

H5M_HASH uint32_t h5m_lookup3(const uint8_t *k, size_t len, uint32_t init)
{
    uint32_t a, b, c;

    a = b = c = 0xdeadbeefu + (uint32_t)len + init;
    while (len > 12) {
        a += h5m_word(k);
        b += h5m_word(k + 4);
        c += h5m_word(k + 8);
        /* mix */
        a -= c; a ^= H5M_ROT(c, 4);  c += b;
        b -= a; b ^= H5M_ROT(a, 6);  a += c;
        c -= b; c ^= H5M_ROT(b, 8);  b += a;
        a -= c; a ^= H5M_ROT(c, 16); c += b;
        b -= a; b ^= H5M_ROT(a, 19); a += c;
        c -= b; c ^= H5M_ROT(b, 4);  b += a;
        len -= 12;
        k += 12;
    }
    /* The last 1..12 bytes; nothing left means no final mix. */
    switch (len) {
    case 12: c += (uint32_t)k[11] << 24; /* fall through */
    case 11: c += (uint32_t)k[10] << 16; /* fall through */
    case 10: c += (uint32_t)k[9] << 8;   /* fall through */
    case 9:  c += k[8];                  /* fall through */
    case 8:  b += (uint32_t)k[7] << 24;  /* fall through */
    case 7:  b += (uint32_t)k[6] << 16;  /* fall through */
    case 6:  b += (uint32_t)k[5] << 8;   /* fall through */
    case 5:  b += k[4];                  /* fall through */
    case 4:  a += (uint32_t)k[3] << 24;  /* fall through */
    case 3:  a += (uint32_t)k[2] << 16;  /* fall through */
    case 2:  a += (uint32_t)k[1] << 8;   /* fall through */
    case 1:  a += k[0];
        break;
    case 0:
        return c;
    }
    /* final */
    c ^= b; c -= H5M_ROT(b, 14);
    a ^= c; a -= H5M_ROT(c, 11);
    b ^= a; b -= H5M_ROT(a, 25);
    c ^= b; c -= H5M_ROT(b, 16);
    a ^= c; a -= H5M_ROT(c, 4);
    b ^= a; b -= H5M_ROT(a, 14);
    c ^= b; c -= H5M_ROT(b, 24);
    return c;
}

/* ---- little-endian fields ------------------------------------------- */

H5M_FN uint64_t h5m_get(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < w; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

H5M_FN void h5m_put(uint8_t *p, unsigned w, uint64_t v)
{
    unsigned i;

    for (i = 0; i < w; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the map of an input -------------------------------------------- */

enum {
    H5M_SB,             /* superblock */
    H5M_OH1,            /* version-1 object header (no signature) */
    H5M_CONT1,          /* its continuation block (messages only) */
    H5M_OHDR, H5M_OCHK, H5M_TREE, H5M_HEAP, H5M_SNOD, H5M_GCOL,
    H5M_BTHD, H5M_BTIN, H5M_BTLF, H5M_FRHP, H5M_FHDB, H5M_FHIB,
    H5M_FAHD, H5M_FADB, H5M_EAHD, H5M_EAIB, H5M_EADB, H5M_EASB,
    H5M_FSHD, H5M_FSSE, H5M_SMTB, H5M_SMLI,
    H5M_NKINDS
};

/* Signatures from H5M_OHDR on; version-1 structures carry no checksum. */
static const char h5m_sigs[][5] = {
    "", "", "",
    "OHDR", "OCHK", "TREE", "HEAP", "SNOD", "GCOL",
    "BTHD", "BTIN", "BTLF", "FRHP", "FHDB", "FHIB",
    "FAHD", "FADB", "EAHD", "EAIB", "EADB", "EASB",
    "FSHD", "FSSE", "SMTB", "SMLI"
};

#define H5M_MAXOBJ 192
#define H5M_MAXMSG 384
#define H5M_SEARCH 1024         /* how far a trailing checksum is looked for */

typedef struct {
    int kind;
    size_t off;                 /* first byte (the signature) */
    size_t end;                 /* past its last byte as far as known */
    size_t chk;                 /* its checksum's offset, when verified */
    int prefix;                 /* checksum inside, over [off, end) */
} h5m_obj;

typedef struct {
    size_t off;                 /* the message's header */
    size_t body;                /* its data */
    size_t len;                 /* bytes of data */
    unsigned type;
    int v1;                     /* version-1 header layout */
} h5m_msg;

typedef struct {
    uint8_t *d;
    size_t n;
    unsigned so, sl;            /* sizes of offsets and lengths */
    uint64_t base;              /* base address (addresses are relative) */
    int sbver;
    h5m_obj obj[H5M_MAXOBJ];
    int nobj;
    h5m_msg msg[H5M_MAXMSG];
    int nmsg;
} h5m_map;

H5M_FN int h5m_find(const h5m_map *m, int kind, size_t off)
{
    int i;

    for (i = 0; i < m->nobj; i++) {
        if (m->obj[i].off == off && m->obj[i].kind == kind)
            return i;
    }
    return -1;
}

H5M_FN h5m_obj *h5m_add(h5m_map *m, int kind, size_t off, size_t end)
{
    h5m_obj *o;

    if (m->nobj == H5M_MAXOBJ || off >= m->n || h5m_find(m, kind, off) >= 0)
        return NULL;
    o = &m->obj[m->nobj++];
    o->kind = kind;
    o->off = off;
    o->end = end > m->n ? m->n : end;
    o->chk = 0;
    o->prefix = 0;
    return o;
}

/* File offset of a stored address, or (size_t)-1 when outside the input. */
H5M_FN size_t h5m_addr(const h5m_map *m, const uint8_t *p)
{
    uint64_t a = h5m_get(p, m->so);

    if (a == UINT64_MAX >> (64 - 8 * m->so) || a + m->base >= m->n)
        return (size_t)-1;
    return (size_t)(a + m->base);
}

H5M_FN int h5m_chk_ok(const h5m_map *m, size_t off, size_t chk)
{
    return chk + 4 <= m->n && chk > off
           && h5m_lookup3(m->d + off, chk - off, 0)
              == (uint32_t)h5m_get(m->d + chk, 4);
}

/*
 * h5m_chk_search's answers, by the bytes they depend on.  A search
 * hashes every prefix of up to 1 KiB (half a megabyte when nothing
 * matches), while a mutation changes a few bytes of an input whose
 * structures were searched before (the corpus input, or the mutation it
 * stacks on): most windows come back unchanged, and one hash of the
 * window replaces a thousand.  The key is 64 bits of hash and the
 * window's length; a collision (about 2^-64 a lookup) could only
 * misplace a checksum the mutator writes, never what the target checks.
 */
#define H5M_MEMO 8192
typedef struct {
    uint64_t key;
    uint32_t len;               /* window length + 1; 0: empty slot */
    uint32_t at;                /* the checksum's offset from off, or 0 */
} h5m_memo;
static h5m_memo h5m_memos[H5M_MEMO];

/* Where the checksum that ends the structure at off is: the first
 * position whose four bytes are the lookup3 of all before. */
H5M_FN size_t h5m_chk_search(const h5m_map *m, size_t off)
{
    size_t p, lim = off + H5M_SEARCH, at = 0;
    uint64_t key;
    h5m_memo *e;

    if (m->n < 10 || off + 10 > m->n)
        return 0;
    if (lim > m->n - 4)
        lim = m->n - 4;
    /* The answer depends on the bytes [off, lim + 4) only. */
    key = (uint64_t)h5m_lookup3(m->d + off, lim + 4 - off, 0x51ed270bu) << 32
          | h5m_lookup3(m->d + off, lim + 4 - off, 0x2545f491u);
    e = &h5m_memos[(key ^ (key >> 29)) & (H5M_MEMO - 1)];
    if (e->len == lim + 4 - off + 1 && e->key == key)
        return e->at ? off + e->at : 0;
    for (p = off + 6; p <= lim; p++) {
        if (h5m_chk_ok(m, off, p)) {
            at = p - off;
            break;
        }
    }
    e->key = key;
    e->len = (uint32_t)(lim + 4 - off + 1);
    e->at = (uint32_t)at;
    return at ? off + at : 0;
}

/* A fractal heap direct block keeps its checksum after its header and
 * sums the whole block with that field zeroed: try each block size. */
H5M_FN void h5m_fhdb_chk(h5m_map *m, h5m_obj *o)
{
    size_t hdr = o->off + 5 + m->so, bs;
    int bo;

    /* The block offset is 1..8 bytes (the heap's maximum size / 8). */
    for (bo = 1; bo <= 8; bo++) {
        size_t cf = hdr + bo;
        uint32_t want;

        if (cf + 4 > m->n)
            return;
        want = (uint32_t)h5m_get(m->d + cf, 4);
        for (bs = 256; o->off + bs <= m->n && bs <= (1u << 20); bs <<= 1) {
            uint8_t save[4];
            uint32_t got;

            memcpy(save, m->d + cf, 4);
            memset(m->d + cf, 0, 4);
            got = h5m_lookup3(m->d + o->off, bs, 0);
            memcpy(m->d + cf, save, 4);
            if (got == want) {
                o->chk = cf;
                o->end = o->off + bs;
                o->prefix = 1;
                return;
            }
        }
    }
}

H5M_FN void h5m_fix(h5m_map *m, const h5m_obj *o)
{
    if (!o->chk || o->chk + 4 > m->n)
        return;
    if (o->prefix) {
        if (o->end > m->n)
            return;
        memset(m->d + o->chk, 0, 4);
        h5m_put(m->d + o->chk, 4, h5m_lookup3(m->d + o->off,
                                              o->end - o->off, 0));
    }
    else {
        h5m_put(m->d + o->chk, 4, h5m_lookup3(m->d + o->off,
                                              o->chk - o->off, 0));
    }
}

H5M_FN void h5m_add_msg(h5m_map *m, size_t off, size_t body, size_t len,
                        unsigned type, int v1)
{
    h5m_msg *g;

    if (m->nmsg == H5M_MAXMSG)
        return;
    g = &m->msg[m->nmsg++];
    g->off = off;
    g->body = body;
    g->len = len;
    g->type = type;
    g->v1 = v1;
}

H5M_FN void h5m_oh1(h5m_map *m, size_t off);

/* A continuation message: the block it names holds more messages. */
H5M_FN void h5m_cont(h5m_map *m, const uint8_t *body, int v1)
{
    size_t at = h5m_addr(m, body);
    uint64_t len = h5m_get(body + m->so, m->sl);
    size_t end, p;

    if (at == (size_t)-1 || len < 8 || len > m->n - at)
        return;
    end = at + (size_t)len;
    if (!v1) {
        int i = h5m_find(m, H5M_OCHK, at);
        h5m_obj *o = i >= 0 ? &m->obj[i] : h5m_add(m, H5M_OCHK, at, end);

        if (o && memcmp(m->d + at, "OCHK", 4) == 0
            && h5m_chk_ok(m, at, end - 4)) {
            o->end = end;
            o->chk = end - 4;
        }
        return;             /* its messages are read with the OCHK */
    }
    if (!h5m_add(m, H5M_CONT1, at, end))
        return;
    for (p = at; p + 8 <= end;) {
        unsigned type = (unsigned)h5m_get(m->d + p, 2);
        size_t len2 = (size_t)h5m_get(m->d + p + 2, 2);

        if (p + 8 + len2 > end)
            break;
        h5m_add_msg(m, p, p + 8, len2, type, 1);
        p += 8 + len2;
    }
}

/* The messages of a version-2 header or continuation chunk [p, end). */
H5M_FN void h5m_msgs2(h5m_map *m, size_t p, size_t end, int crt_order)
{
    size_t hl = 4 + (crt_order ? 2 : 0);

    while (p + hl <= end) {
        unsigned type = m->d[p];
        size_t len = (size_t)h5m_get(m->d + p + 1, 2);

        if (p + hl + len > end)
            break;
        h5m_add_msg(m, p, p + hl, len, type, 0);
        if (type == 0x10 && len >= m->so + m->sl)
            h5m_cont(m, m->d + p + hl, 0);
        p += hl + len;
    }
}

H5M_FN void h5m_ohdr(h5m_map *m, h5m_obj *o)
{
    size_t p = o->off + 6, sz;
    unsigned flags;
    uint64_t chunk0;

    if (p > m->n)
        return;
    flags = m->d[o->off + 5];
    if (flags & 0x20)
        p += 16;                /* access, modification, ... times */
    if (flags & 0x10)
        p += 4;                 /* attribute phase change values */
    sz = (size_t)1 << (flags & 3);
    if (p + sz > m->n)
        return;
    chunk0 = h5m_get(m->d + p, (unsigned)sz);
    p += sz;
    if (chunk0 > m->n - p || p + chunk0 + 4 > m->n)
        return;
    o->end = p + (size_t)chunk0 + 4;
    if (h5m_chk_ok(m, o->off, p + (size_t)chunk0))
        o->chk = p + (size_t)chunk0;
    h5m_msgs2(m, p, p + (size_t)chunk0, flags & 0x04);
}

/* Does a version-1 object header plausibly start at off? */
H5M_FN int h5m_oh1_shape(const h5m_map *m, size_t off)
{
    const uint8_t *d = m->d + off;
    uint64_t nmsg, hsize;

    if (off + 24 > m->n || d[0] != 1 || d[1] != 0)
        return 0;
    nmsg = h5m_get(d + 2, 2);
    hsize = h5m_get(d + 8, 4);
    /* The first message's size is a multiple of 8 within the header. */
    return nmsg > 0 && nmsg < 4096 && hsize >= 8 && hsize <= m->n - off - 16
           && h5m_get(d + 16, 2) < 0x20 && h5m_get(d + 18, 2) % 8 == 0
           && h5m_get(d + 18, 2) + 8 <= hsize;
}

H5M_FN void h5m_oh1(h5m_map *m, size_t off)
{
    size_t p, end;

    if (!h5m_oh1_shape(m, off))
        return;
    end = off + 16 + (size_t)h5m_get(m->d + off + 8, 4);
    if (!h5m_add(m, H5M_OH1, off, end))
        return;
    for (p = off + 16; p + 8 <= end;) {
        unsigned type = (unsigned)h5m_get(m->d + p, 2);
        size_t len = (size_t)h5m_get(m->d + p + 2, 2);

        if (p + 8 + len > end)
            break;
        h5m_add_msg(m, p, p + 8, len, type, 1);
        if (type == 0x10 && len >= m->so + m->sl)
            h5m_cont(m, m->d + p + 8, 1);
        p += 8 + len;
    }
}

/* A symbol table entry: link name offset, object header address, ... */
H5M_FN void h5m_entry(h5m_map *m, size_t at)
{
    size_t oh;

    if (at + m->sl + m->so > m->n)
        return;
    oh = h5m_addr(m, m->d + at + m->sl);
    if (oh != (size_t)-1)
        h5m_oh1(m, oh);
}

H5M_FN void h5m_superblock(h5m_map *m)
{
    static const size_t where[] = { 0, 512, 1024, 2048, 4096, 8192 };
    size_t i, s = (size_t)-1;
    h5m_obj *o;

    for (i = 0; i < sizeof(where) / sizeof(*where); i++) {
        if (where[i] + 24 <= m->n
            && memcmp(m->d + where[i], "\x89HDF\r\n\x1a\n", 8) == 0) {
            s = where[i];
            break;
        }
    }
    if (s == (size_t)-1)
        return;
    m->sbver = m->d[s + 8];
    if (m->sbver >= 2) {
        m->so = m->d[s + 9];
        m->sl = m->d[s + 10];
    }
    else {
        m->so = m->d[s + 13];
        m->sl = m->d[s + 14];
    }
    if ((m->so != 2 && m->so != 4 && m->so != 8)
        || (m->sl != 2 && m->sl != 4 && m->sl != 8)) {
        m->so = m->sl = 8;      /* corrupt: guess the usual */
    }
    if (m->sbver >= 2) {
        size_t chk = s + 12 + 4 * m->so;

        m->base = h5m_get(m->d + s + 12, m->so);
        if (m->base >= m->n)
            m->base = s;
        o = h5m_add(m, H5M_SB, s, chk + 4);
        if (o && h5m_chk_ok(m, s, chk))
            o->chk = chk;
        return;
    }
    else {
        /* Version 1 adds the indexed storage K and two reserved bytes. */
        size_t p = s + 24 + (m->sbver == 1 ? 4 : 0);

        if (p + 4 * m->so > m->n)
            return;
        m->base = h5m_get(m->d + p, m->so);
        if (m->base >= m->n)
            m->base = s;
        o = h5m_add(m, H5M_SB, s, p + 4 * m->so + 16 + 2 * m->so + 16);
        (void)o;
        h5m_entry(m, p + 4 * m->so);    /* the root group's entry */
    }
}

static const unsigned char h5m_first[256] = {
    ['O'] = 1, ['T'] = 1, ['H'] = 1, ['S'] = 1,
    ['G'] = 1, ['B'] = 1, ['F'] = 1, ['E'] = 1
};

/* The next offset from i on where a signature may start (every one
 * starts with one of O T H S G B F E), or n: a scan of every byte,
 * uninstrumented like the hash. */
H5M_HASH size_t h5m_next_sig(const uint8_t *d, size_t i, size_t n)
{
    while (i + 8 <= n && !h5m_first[d[i]])
        i++;
    return i + 8 <= n ? i : n;
}

/* Words, not memcmp: libFuzzer hooks every memcmp to learn the values
 * compared, which cost more than the build itself and taught it
 * nothing (the mutator runs between executions). */
H5M_FN int h5m_sig_kind(const uint8_t *p)
{
    uint32_t w = h5m_word(p);
    int k;

    for (k = H5M_OHDR; k < H5M_NKINDS; k++) {
        if (w == h5m_word((const uint8_t *)h5m_sigs[k]))
            return k;
    }
    return -1;
}

H5M_FN void h5m_build(h5m_map *m, uint8_t *d, size_t n)
{
    size_t i;

    memset(m, 0, offsetof(h5m_map, obj));
    m->nobj = m->nmsg = 0;
    m->d = d;
    m->n = n;
    m->so = m->sl = 8;
    h5m_superblock(m);
    if (n < 8)
        return;
    for (i = 0; (i = h5m_next_sig(d, i, n)) + 8 <= n; i++) {
        int k;
        h5m_obj *o;

        if ((k = h5m_sig_kind(d + i)) < 0)
            continue;
        if (!(o = h5m_add(m, k, i, i + 8)))
            continue;
        switch (k) {
        case H5M_OHDR:
            h5m_ohdr(m, o);
            break;
        case H5M_SNOD: {
            /* version, reserved, number of symbols, entries */
            size_t e, cnt = (size_t)h5m_get(d + i + 6, 2);
            size_t es = m->sl + m->so + 24;

            o->end = i + 8 + cnt * es;
            for (e = 0; e < cnt && e < 64; e++)
                h5m_entry(m, i + 8 + e * es);
            break;
        }
        case H5M_TREE:
        case H5M_HEAP:
        case H5M_GCOL:
            o->end = i + 8 + 2 * m->so + 2 * m->sl;
            break;
        case H5M_FHDB:
            h5m_fhdb_chk(m, o);
            if (o->chk)
                break;
            /* fall through: a block without its own checksum field */
        default:
            if ((o->chk = h5m_chk_search(m, i)) != 0)
                o->end = o->chk + 4;
            break;
        }
    }
    /* Version-1 object headers nobody points to (or through a corrupt
     * pointer): by their shape, at 8-byte boundaries. */
    for (i = 0; i + 24 <= n && m->nobj < H5M_MAXOBJ; i += 8) {
        if (d[i] == 1 && d[i + 1] == 0 && h5m_find(m, H5M_OH1, i) < 0)
            h5m_oh1(m, i);
    }
    /* The OCHK blocks the OHDRs found: mark their messages too.  Ends
     * come from the input's own counts: keep them inside it. */
    for (i = 0; i < (size_t)m->nobj; i++) {
        h5m_obj *o = &m->obj[i];

        if (o->end > n || o->end < o->off)
            o->end = n;
        if (o->kind == H5M_OCHK && o->end > o->off + 8)
            h5m_msgs2(m, o->off + 4, o->end - 4, 0);
    }
}

/* ---- choosing ------------------------------------------------------- */

typedef struct { uint64_t s; } h5m_rng;

H5M_FN uint64_t h5m_rand(h5m_rng *r)
{
    /* splitmix64: libFuzzer hands a seed, any decent generator does */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

H5M_FN size_t h5m_below(h5m_rng *r, size_t n)
{
    return n ? (size_t)(h5m_rand(r) % n) : 0;
}

/* A value a parser of this field may mishandle. */
H5M_FN uint64_t h5m_value(h5m_rng *r, const h5m_map *m, uint64_t old,
                          unsigned w, int is_addr)
{
    static const uint64_t edge[] = {
        0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 65535, 65536,
        0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull,
        0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull,
        (1ull << 50) + 1
    };
    uint64_t k = 1 + h5m_below(r, 16);

    switch (h5m_below(r, is_addr ? 9 : 7)) {
    case 0: case 1:
        return edge[h5m_below(r, sizeof(edge) / sizeof(*edge))];
    case 2:
        return h5m_below(r, 2) ? old + k : old - k;
    case 3:
        return h5m_below(r, 2) ? old << 1 : old >> 1;
    case 4:
        return old ^ (1ull << h5m_below(r, 8 * w));
    case 5:
        return h5m_below(r, 2) ? m->n + k - 8 : m->n;
    case 6:
        return (uint64_t)h5m_below(r, m->n + 1);
    default:
        /* Point at another structure (relative to the base address),
         * or into the middle of one. */
        if (m->nobj) {
            const h5m_obj *o = &m->obj[h5m_below(r, (size_t)m->nobj)];

            return o->off - m->base
                   + (h5m_below(r, 4) ? 0 : h5m_below(r, 16));
        }
        return old;
    }
}

typedef struct { size_t off; unsigned w; int addr; } h5m_field;

/*
 * The integer fields of a message body worth changing, as far as this
 * mutator knows the message; others get a grid of positions.
 */
H5M_FN int h5m_msg_fields(const h5m_map *m, const h5m_msg *g, h5m_field *f,
                          int max)
{
    const uint8_t *b = m->d + g->body;
    size_t len = g->len, p;
    int n = 0;
    unsigned so = m->so, sl = m->sl;

#define H5M_F(o_, w_, a_) do { \
        if ((size_t)(o_) + (w_) <= len && n < max) { \
            f[n].off = g->body + (o_); f[n].w = (w_); f[n].addr = (a_); n++; \
        } \
    } while (0)

    if (len == 0)
        return 0;
    switch (g->type) {
    case 0x01: {                /* dataspace: rank, flags, dims, max dims */
        unsigned rank = b[len > 1 ? 1 : 0], ver = b[0], i;
        size_t d0 = ver == 1 ? 8 : 4;

        H5M_F(1, 1, 0);
        H5M_F(2, 1, 0);
        if (ver >= 2)
            H5M_F(3, 1, 0);     /* scalar, simple, null */
        for (i = 0; i < rank && i < 32; i++) {
            H5M_F(d0 + i * sl, sl, 0);
            H5M_F(d0 + (rank + i) * sl, sl, 0);
        }
        break;
    }
    case 0x03:                  /* datatype: class bits, size, properties */
        H5M_F(0, 1, 0);
        H5M_F(1, 1, 0);
        H5M_F(4, 4, 0);
        for (p = 8; p + 4 <= len && p < 40; p += 2)
            H5M_F(p, p % 4 ? 2 : 4, 0);
        break;
    case 0x05:                  /* fill value: times, defined, size */
        H5M_F(1, 1, 0);
        H5M_F(3, 1, 0);
        H5M_F(4, 4, 0);
        break;
    case 0x06:                  /* link: flags, name length, target */
        H5M_F(1, 1, 0);
        H5M_F(2, 1, 0);
        for (p = 2; p < len && p < 16; p++)
            H5M_F(p, 1, 0);
        if (len >= so)
            H5M_F(len - so, so, 1);     /* a hard link's address */
        break;
    case 0x07:                  /* external files: slots, heap, entries */
        H5M_F(4, 2, 0);
        H5M_F(6, 2, 0);
        H5M_F(8, so, 1);
        for (p = 8 + so; p + sl <= len && n < max; p += sl)
            H5M_F(p, sl, 0);
        break;
    case 0x08: {                /* data layout */
        unsigned ver = b[0];

        H5M_F(1, 1, 0);
        if (ver < 3) {
            for (p = 8; p + 4 <= len; p += 4)
                H5M_F(p, 4, 0);
            break;
        }
        switch (len > 1 ? b[1] : 0) {
        case 0:                 /* compact: size, data */
            H5M_F(2, 2, 0);
            break;
        case 1:                 /* contiguous: address, size */
            H5M_F(2, so, 1);
            H5M_F(2 + so, sl, 0);
            break;
        case 2:
            if (ver == 3) {     /* rank, B-tree address, dims, elem size */
                H5M_F(2, 1, 0);
                H5M_F(3, so, 1);
                for (p = 3 + so; p + 4 <= len; p += 4)
                    H5M_F(p, 4, 0);
            }
            else {              /* flags, rank, dim bytes, dims, index */
                unsigned rank = len > 3 ? b[3] : 0, db = len > 4 ? b[4] : 0;

                H5M_F(2, 1, 0);
                H5M_F(3, 1, 0);
                H5M_F(4, 1, 0);
                if (db >= 1 && db <= 8) {
                    for (p = 0; p < rank && p < 33; p++)
                        H5M_F(5 + p * db, db, 0);
                    p = 5 + rank * db;
                    H5M_F(p, 1, 0);                 /* index type */
                    for (p++; p + 1 <= len - so && p < len; p++)
                        H5M_F(p, 1, 0);             /* index parameters */
                }
                if (len >= so)
                    H5M_F(len - so, so, 1);         /* index address */
            }
            break;
        default:                /* virtual: global heap address, index */
            H5M_F(2, so, 1);
            H5M_F(2 + so, 4, 0);
            break;
        }
        break;
    }
    case 0x0B:                  /* filter pipeline: count, filters */
        H5M_F(1, 1, 0);
        for (p = 2; p + 2 <= len && p < 64; p += 2)
            H5M_F(p, 2, 0);
        break;
    case 0x0C:                  /* attribute: sizes of name, type, space */
        H5M_F(1, 1, 0);
        H5M_F(2, 2, 0);
        H5M_F(4, 2, 0);
        H5M_F(6, 2, 0);
        break;
    case 0x10:                  /* continuation: address, length */
        H5M_F(0, so, 1);
        H5M_F(so, sl, 0);
        break;
    case 0x11:                  /* symbol table: B-tree, local heap */
        H5M_F(0, so, 1);
        H5M_F(so, so, 1);
        break;
    case 0x02:                  /* link info: flags, heap, B-trees */
    case 0x15:                  /* attribute info: the same shape */
        H5M_F(1, 1, 0);
        p = 2 + ((b[len > 1 ? 1 : 0] & 1) ? (g->type == 0x02 ? 8 : 2) : 0);
        H5M_F(p, so, 1);
        H5M_F(p + so, so, 1);
        H5M_F(p + 2 * so, so, 1);
        break;
    case 0x0A:                  /* group info: limits, estimates */
        for (p = 1; p + 2 <= len; p += 2)
            H5M_F(p, 2, 0);
        break;
    default:
        break;
    }
    if (n == 0) {
        /* Unknown to us: any aligned integer of the body. */
        for (p = 0; p < len && n < max; p += 2) {
            unsigned w = 1u << ((p / 2) % 4);

            H5M_F(p, w, 0);
        }
    }
#undef H5M_F
    return n;
}

/* The header fields of a structure worth changing. */
H5M_FN int h5m_obj_fields(const h5m_map *m, const h5m_obj *o, h5m_field *f,
                          int max)
{
    size_t s = o->off, p, lim = o->chk ? o->chk : o->end;
    unsigned so = m->so, sl = m->sl;
    int n = 0;

#define H5M_G(o_, w_, a_) do { \
        if (s + (o_) + (w_) <= m->n && n < max) { \
            f[n].off = s + (o_); f[n].w = (w_); f[n].addr = (a_); n++; \
        } \
    } while (0)

    switch (o->kind) {
    case H5M_SB:
        H5M_G(8, 1, 0);                         /* version */
        if (m->sbver >= 2) {
            H5M_G(9, 1, 0);
            H5M_G(10, 1, 0);
            H5M_G(11, 1, 0);
            for (p = 0; p < 4; p++)             /* base, ext, EOF, root */
                H5M_G(12 + p * so, so, p != 2);
        }
        else {
            size_t a = 24 + (m->sbver == 1 ? 4 : 0);

            for (p = 9; p < 24; p++)
                H5M_G(p, p == 16 || p == 18 ? 2 : 1, 0);
            for (p = 0; p < 4; p++)             /* base, free, EOF, driver */
                H5M_G(a + p * so, so, p != 2);
            a += 4 * so;                        /* root symbol table entry */
            H5M_G(a, sl, 0);
            H5M_G(a + sl, so, 1);
            H5M_G(a + sl + so, 4, 0);           /* cache type */
            H5M_G(a + sl + so + 8, so, 1);      /* scratch: B-tree, heap */
            H5M_G(a + sl + 2 * so + 8, so, 1);
        }
        break;
    case H5M_OH1:
        H5M_G(2, 2, 0);                         /* messages */
        H5M_G(4, 4, 0);                         /* reference count */
        H5M_G(8, 4, 0);                         /* header size */
        break;
    case H5M_OHDR:
        H5M_G(4, 1, 0);
        H5M_G(5, 1, 0);                         /* flags: field sizes */
        H5M_G(6 + ((m->d[s + 5] & 0x20) ? 16 : 0), 2, 0);
        H5M_G(6 + ((m->d[s + 5] & 0x20) ? 16 : 0)
              + ((m->d[s + 5] & 0x10) ? 4 : 0), 1 << (m->d[s + 5] & 3), 0);
        break;
    case H5M_TREE:                              /* type, level, entries */
        H5M_G(4, 1, 0);
        H5M_G(5, 1, 0);
        H5M_G(6, 2, 0);
        H5M_G(8, so, 1);
        H5M_G(8 + so, so, 1);
        for (p = 8 + 2 * so; p + 4 <= 8 + 2 * so + 64; p += 4)
            H5M_G(p, p % 8 ? 4 : 8, 0);         /* keys, children */
        break;
    case H5M_HEAP:                              /* sizes, free list, data */
        H5M_G(8, sl, 0);
        H5M_G(8 + sl, sl, 0);
        H5M_G(8 + 2 * sl, so, 1);
        break;
    case H5M_SNOD:
        H5M_G(4, 1, 0);
        H5M_G(6, 2, 0);
        for (p = 8; p < 8 + 4 * (sl + so + 24); p += sl + so + 24) {
            H5M_G(p, sl, 0);                    /* name offset in heap */
            H5M_G(p + sl, so, 1);               /* object header */
            H5M_G(p + sl + so, 4, 0);           /* cache type */
        }
        break;
    case H5M_GCOL:                              /* size, first objects */
        H5M_G(8, sl, 0);
        for (p = 8 + sl; p < 8 + sl + 64; p += 8 + sl) {
            H5M_G(p, 2, 0);
            H5M_G(p + 2, 2, 0);
            H5M_G(p + 8, sl, 0);
        }
        break;
    case H5M_BTHD:  /* type, node size, record size, depth, %, root, counts */
        H5M_G(5, 1, 0);
        H5M_G(6, 4, 0);
        H5M_G(10, 2, 0);
        H5M_G(12, 2, 0);
        H5M_G(14, 1, 0);
        H5M_G(15, 1, 0);
        H5M_G(16, so, 1);
        H5M_G(16 + so, 2, 0);
        H5M_G(18 + so, sl, 0);
        break;
    case H5M_FRHP: /* ID length, filter length, flags, ..., doubling table */
        H5M_G(5, 2, 0);
        H5M_G(7, 2, 0);
        H5M_G(9, 1, 0);
        H5M_G(10, 4, 0);
        for (p = 14; p + sl <= 14 + 10 * sl + 2 * so; p += sl)
            H5M_G(p, sl, 0);
        p = 14 + 10 * sl + 2 * so;
        H5M_G(p, 2, 0);                         /* table width */
        H5M_G(p + 2, sl, 0);                    /* starting block size */
        H5M_G(p + 2 + sl, sl, 0);               /* max direct block size */
        H5M_G(p + 2 + 2 * sl, 2, 0);            /* max heap size (bits) */
        H5M_G(p + 4 + 2 * sl, 2, 0);            /* starting rows */
        H5M_G(p + 6 + 2 * sl, so, 1);           /* root block */
        H5M_G(p + 6 + 2 * sl + so, 2, 0);       /* current rows */
        break;
    case H5M_FAHD: /* client, entry size, page bits, max entries, block */
        H5M_G(5, 1, 0);
        H5M_G(6, 1, 0);
        H5M_G(7, 1, 0);
        H5M_G(8, sl, 0);
        H5M_G(8 + sl, so, 1);
        break;
    case H5M_EAHD: /* client, sizes, bits, counts, index block */
        for (p = 5; p < 12; p++)
            H5M_G(p, 1, 0);
        for (p = 12; p < 12 + 6 * sl; p += sl)
            H5M_G(p, sl, 0);
        H5M_G(12 + 6 * sl, so, 1);
        break;
    default:        /* blocks: header address, then addresses and counts */
        H5M_G(4, 1, 0);
        H5M_G(5, 1, 0);
        for (p = 6; p + 8 <= lim - s && p < 6 + 8 * 16; p += 8 / 2)
            H5M_G(p, (p % 8) ? 4 : 8, p % 8 == 6);
        break;
    }
#undef H5M_G
    return n;
}

/* ---- mutating ------------------------------------------------------- */

/* Recompute every checksum that held before the change. */
H5M_FN void h5m_fix_all(h5m_map *m)
{
    int i;

    /* Inner structures first: a block's sum may cover another's. */
    for (i = m->nobj - 1; i >= 0; i--)
        h5m_fix(m, &m->obj[i]);
}

/* Write one field of one structure or message. */
H5M_FN int h5m_mutate_field(h5m_map *m, h5m_rng *r)
{
    h5m_field f[96];
    int n = 0;

    if (m->nmsg && h5m_below(r, 3) != 0) {
        h5m_msg *g = &m->msg[h5m_below(r, (size_t)m->nmsg)];

        if (h5m_below(r, 8) == 0) {
            /* Another message type, or another size, in the header. */
            if (g->v1) {
                if (h5m_below(r, 2))
                    h5m_put(m->d + g->off, 2, h5m_below(r, 0x18));
                else
                    h5m_put(m->d + g->off + 2, 2,
                            h5m_value(r, m, g->len, 2, 0));
            }
            else if (h5m_below(r, 2)) {
                m->d[g->off] = (uint8_t)h5m_below(r, 0x18);
            }
            else {
                h5m_put(m->d + g->off + 1, 2, h5m_value(r, m, g->len, 2, 0));
            }
            return 1;
        }
        n = h5m_msg_fields(m, g, f, 96);
    }
    if (n == 0 && m->nobj) {
        h5m_obj *o = &m->obj[h5m_below(r, (size_t)m->nobj)];

        n = h5m_obj_fields(m, o, f, 96);
    }
    if (n == 0)
        return 0;
    {
        h5m_field *x = &f[h5m_below(r, (size_t)n)];
        uint64_t old = h5m_get(m->d + x->off, x->w);

        h5m_put(m->d + x->off, x->w, h5m_value(r, m, old, x->w, x->addr));
    }
    return 1;
}

/* Copy one structure of the input over another of the same kind. */
H5M_FN int h5m_mutate_copy(h5m_map *m, h5m_rng *r)
{
    int i, j, tries;

    for (tries = 0; tries < 8; tries++) {
        i = (int)h5m_below(r, (size_t)m->nobj);
        j = (int)h5m_below(r, (size_t)m->nobj);
        if (i != j && m->obj[i].kind == m->obj[j].kind) {
            size_t len = m->obj[i].end - m->obj[i].off;

            if (m->obj[j].off + len > m->n)
                len = m->n - m->obj[j].off;
            memmove(m->d + m->obj[j].off, m->d + m->obj[i].off, len);
            return 1;
        }
    }
    return 0;
}

H5M_FN size_t h5m_mutate(uint8_t *data, size_t size, size_t max_size,
                         unsigned int seed)
{
    static h5m_map map;         /* 20 KB: not on the stack */
    h5m_rng r = { seed };
    unsigned pick = (unsigned)h5m_below(&r, 16);
    size_t n;
    int i, k;

    h5m_build(&map, data, size);
    if (map.nobj == 0 || pick < 4) {
        /* libFuzzer's bytes, then our checksums where they still fit. */
        n = LLVMFuzzerMutate(data, size, max_size);
        if (n == size && pick != 0) {
            map.d = data;
            h5m_fix_all(&map);
        }
        return n;
    }
    n = size;
    /* One to four changes of fields, sometimes a structure copied or
     * the file cut at a structure's boundary. */
    k = 1 + (int)h5m_below(&r, 4);
    for (i = 0; i < k; i++) {
        if (pick == 4 && i == 0)
            h5m_mutate_copy(&map, &r);
        else
            h5m_mutate_field(&map, &r);
    }
    if (pick != 5)
        h5m_fix_all(&map);
    if (pick == 6 && map.nobj) {
        h5m_obj *o = &map.obj[h5m_below(&r, (size_t)map.nobj)];

        n = o->off + h5m_below(&r, o->end - o->off + 1);
        if (n == 0)
            n = size;
    }
    return n <= max_size ? n : max_size;
}

/*
 * Crossover: a structure of the second input replaces the one of the
 * same kind in the first (the pieces keep their own checksums).
 */
H5M_FN size_t h5m_cross(const uint8_t *d1, size_t n1, const uint8_t *d2,
                        size_t n2, uint8_t *out, size_t max_out,
                        unsigned int seed)
{
    static h5m_map m1, m2;
    h5m_rng r = { seed };
    size_t n = n1 < max_out ? n1 : max_out;
    int tries;

    memcpy(out, d1, n);
    h5m_build(&m1, out, n);
    h5m_build(&m2, (uint8_t *)d2, n2);
    for (tries = 0; tries < 16 && m1.nobj && m2.nobj; tries++) {
        h5m_obj *a = &m1.obj[h5m_below(&r, (size_t)m1.nobj)];
        h5m_obj *b = &m2.obj[h5m_below(&r, (size_t)m2.nobj)];

        if (a->kind == b->kind && b->end > b->off) {
            size_t len = b->end - b->off;

            if (a->off + len > n)
                len = n - a->off;
            memcpy(out + a->off, d2 + b->off, len);
            return n;
        }
    }
    /* Nothing alike: the second's bytes at the same place. */
    if (n2 && n) {
        size_t at = h5m_below(&r, n < n2 ? n : n2);
        size_t len = 1 + h5m_below(&r, (n < n2 ? n : n2) - at);

        memcpy(out + at, d2 + at, len);
        h5m_fix_all(&m1);
    }
    return n;
}

#endif
