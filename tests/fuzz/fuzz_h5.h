/*
 * The harness shared by the HDF5 fuzz targets (fuzz_h5_open,
 * fuzz_h5_struct): an input is an HDF5 file, opened through the S3
 * driver on a memory fetch seam and a small page cache, then described
 * and previewed the way /children, /meta and /preview do.
 *
 * What one execution costs should be HDF5's and the module's work, not
 * the harness's (tests/fuzz/README.md has the figures):
 *
 * - HDF5 allocates its metadata cache (a struct of about 1 MiB) on every
 *   open.  Its free lists are capped at 64 KiB a list by default, so the
 *   struct goes back to malloc at every close; under AddressSanitizer a
 *   block that large is a fresh mmap each time, whose page faults were a
 *   quarter of an execution.  Larger caps let HDF5 recycle it, as glibc
 *   would in production (fuzz_h5_lists.h; the floor sets the same).
 * - One pool is cleared per input instead of a pool created and
 *   destroyed, and the page cache key is a counter, not a SHA-256.
 * - libFuzzer runs LeakSanitizer over the whole heap (and the input once
 *   more) after any input that malloc'ed more than it freed.  HDF5 1.10
 *   leaks on the error paths of a third of the corrupt files (leaks that
 *   tests/fuzz/lsan.supp suppresses anyway), so those scans were most of
 *   the time spent, and libFuzzer gives up leak detection altogether
 *   after 1000 of them.  The harness checks each input itself instead
 *   (fuzz_h5_leaks below, the targets run with -detect_leaks=0): it
 *   keeps the blocks allocated during the execution, and of those still
 *   allocated at its end, asks AddressSanitizer where they were
 *   allocated.  Blocks of HDF5 (its free lists, its leaks) and of APR
 *   pools are not the module's; any other is, and a LeakSanitizer pass
 *   then tells a leak from a block something still points to.  Leaks in
 *   the module's code are reported for the input that made them, as
 *   before, without a scan per HDF5 leak.
 *
 * HDF5 ids are not malloc leaks LeakSanitizer could see (HDF5's tables
 * keep them reachable, and the file close would close most of them): an
 * object the module leaves open would grow a long-lived production
 * process.  Every execution checks that the module closed what it opened.
 */
#ifndef H5S3_FUZZ_H5_H
#define H5S3_FUZZ_H5_H

#define _GNU_SOURCE 1
#include <link.h>
#include <stdio.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#include "fuzz_common.h"
#include "fuzz_h5_lists.h"
#include "base/h5s3_errors.h"
#include "viewer/h5s3_h5_describe.h"
#include "hdf5/h5s3_h5_file.h"
#include "viewer/h5s3_h5_view.h"
#include "pagecache/h5s3_pagecache.h"

#define FUZZ_H5_PAGE 4096
#define FUZZ_H5_PAGES 256
#define FUZZ_H5_MAX_CHILDREN 16
#define FUZZ_H5_MAX_PREVIEWS 4

/* What an execution does past the open (fuzz_h5_run's what). */
#define FUZZ_H5_DESCRIBE 1      /* prefetch, /meta and /children */
#define FUZZ_H5_PREVIEW  2      /* /preview of up to 4 datasets */

typedef struct { const uint8_t *data; size_t size; } fuzz_h5_mem;

static h5s3_pagecache *fuzz_h5_cache;
static apr_pool_t *fuzz_h5_pool;
static apr_uint64_t fuzz_h5_generation;

/*
 * HDF5 numbers the ids of a type in sequence and has no public count of
 * the open ones for dataspaces, datatypes and property lists: an id of
 * each such type made after every execution bounds the ids the execution
 * made, and each of those must be closed again.
 */
#define FUZZ_H5_PROBES 3
static hid_t fuzz_h5_probe_last[FUZZ_H5_PROBES];

static hid_t fuzz_h5_probe(int k)
{
    switch (k) {
    case 0:
        return H5Screate(H5S_SCALAR);
    case 1:
        return H5Tcopy(H5T_NATIVE_INT);
    default:
        return H5Pcreate(H5P_LINK_ACCESS);
    }
}

/* ---- per-input leak check ---------------------------------------------- */

/*
 * Blocks allocated during the current execution, in the order they came,
 * logged by AddressSanitizer's malloc hook; at the end, those still
 * allocated are the survivors (a block freed during the execution is in
 * ASan's quarantine or free, and one reused was logged again).  The
 * hook runs inside malloc: no allocation here, and no instrumentation
 * (it would slow every malloc of HDF5).  An append per malloc and a look
 * at each logged block at the end cost less than a set kept up to date
 * on every malloc and free, whose random accesses missed the cache.
 */
#define FUZZ_H5_LOG (1u << 17)
#define FUZZ_H5_NOINSTR \
    __attribute__((no_sanitize("address", "undefined", "coverage")))
static uintptr_t fuzz_h5_log[FUZZ_H5_LOG];
static unsigned fuzz_h5_nlog;
static int fuzz_h5_tracking, fuzz_h5_overflow;
#ifdef FUZZ_H5_STATS
/* Diagnostics (-DFUZZ_H5_STATS): executions, LeakSanitizer passes, files
 * HDF5 opened. */
static long fuzz_h5_stats[3];
static void fuzz_h5_stats_print(void)
{
    fprintf(stderr, "fuzz_h5 stats: %ld executions, %ld opened, %ld leak "
            "passes\n", fuzz_h5_stats[0], fuzz_h5_stats[2], fuzz_h5_stats[1]);
}
#endif

FUZZ_H5_NOINSTR
static void fuzz_h5_malloc_hook(const volatile void *ptr, size_t size)
{
    if (!fuzz_h5_tracking || !ptr)
        return;
    if (fuzz_h5_nlog == FUZZ_H5_LOG) {
        fuzz_h5_overflow = 1;   /* too many to follow: scan at the end */
        return;
    }
    fuzz_h5_log[fuzz_h5_nlog++] = (uintptr_t)ptr;
}

/* ASan takes both hooks or neither. */
FUZZ_H5_NOINSTR
static void fuzz_h5_free_hook(const volatile void *ptr)
{
}

/* Code ranges of the libraries whose blocks are not the module's. */
typedef struct { uintptr_t lo, hi; } fuzz_h5_range;
static fuzz_h5_range fuzz_h5_skip[8];
static int fuzz_h5_nskip;

static int fuzz_h5_phdr(struct dl_phdr_info *info, size_t sz, void *data)
{
    int i;

    if (!info->dlpi_name || (!strstr(info->dlpi_name, "libhdf5")
                             && !strstr(info->dlpi_name, "libapr-1")))
        return 0;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)
            && fuzz_h5_nskip < 8) {
            fuzz_h5_skip[fuzz_h5_nskip].lo = info->dlpi_addr + ph->p_vaddr;
            fuzz_h5_skip[fuzz_h5_nskip].hi = info->dlpi_addr + ph->p_vaddr
                                             + ph->p_memsz;
            fuzz_h5_nskip++;
        }
    }
    return 0;
}

/*
 * A block allocated with HDF5 or APR on its stack: HDF5's own (lsan.supp
 * suppresses a leak with libhdf5 on its stack, so does this) or pool
 * memory, reclaimed with the pool.
 */
static int fuzz_h5_not_ours(uintptr_t p)
{
    void *trace[64];
    size_t n = __asan_get_alloc_stack((void *)p, trace, 64, NULL), i;
    int r;

    for (i = 0; i < n; i++) {
        for (r = 0; r < fuzz_h5_nskip; r++) {
            if ((uintptr_t)trace[i] >= fuzz_h5_skip[r].lo
                && (uintptr_t)trace[i] < fuzz_h5_skip[r].hi)
                return 1;
        }
    }
    return 0;
}

static void fuzz_h5_leaks_init(void)
{
    dl_iterate_phdr(fuzz_h5_phdr, NULL);
    __sanitizer_install_malloc_and_free_hooks(fuzz_h5_malloc_hook,
                                              fuzz_h5_free_hook);
}

static void fuzz_h5_leaks_begin(void)
{
    fuzz_h5_tracking = 1;
}

/* After the execution: a block only the module could have leaked makes
 * LeakSanitizer look, and a leak it finds (reported) stops the run. */
static void fuzz_h5_leaks_end(void)
{
    unsigned n;
    int suspect = fuzz_h5_overflow;

    fuzz_h5_tracking = 0;
    for (n = 0; n < fuzz_h5_nlog && !suspect; n++) {
        /* Still allocated: the start of a live chunk. */
        if (__sanitizer_get_ownership((const void *)fuzz_h5_log[n])
            && !fuzz_h5_not_ours(fuzz_h5_log[n]))
            suspect = 1;
    }
    fuzz_h5_nlog = 0;
    fuzz_h5_overflow = 0;
#ifdef FUZZ_H5_STATS
    fuzz_h5_stats[1] += suspect;
#endif
    if (suspect && __lsan_do_recoverable_leak_check()) {
        fprintf(stderr, "fuzz_h5: the module leaked memory (above)\n");
        abort();
    }
}

/* ---- the execution ------------------------------------------------------ */

/* The fetch seam: ranges of the input, zeros past its end. */
static apr_status_t fuzz_h5_fetch(void *baton, h5s3_s3_range *r, int n,
                                  apr_pool_t *p)
{
    fuzz_h5_mem *m = baton;
    int i;

    for (i = 0; i < n; i++) {
        apr_size_t got = 0;

        if (r[i].offset >= 0 && (apr_uint64_t)r[i].offset < m->size) {
            got = m->size - (apr_size_t)r[i].offset;
            if (got > r[i].len)
                got = r[i].len;
            memcpy(r[i].buf, m->data + r[i].offset, got);
        }
        r[i].got = got;
        r[i].status = APR_SUCCESS;
    }
    return APR_SUCCESS;
}

static void fuzz_h5_init(const char *target)
{
    apr_size_t segsize = h5s3_pagecache_segment_size(FUZZ_H5_PAGE,
                                                     FUZZ_H5_PAGES);
    int k;

    fuzz_apr_init();
    if (h5s3_h5_global_init() != APR_SUCCESS
        || h5s3_pagecache_init(&fuzz_h5_cache,
                               apr_pcalloc(fuzz_root, segsize), segsize,
                               FUZZ_H5_PAGE, NULL, 1, fuzz_root)
           != APR_SUCCESS
        || apr_pool_create(&fuzz_h5_pool, fuzz_root) != APR_SUCCESS
        || fuzz_h5_free_lists() < 0) {
        fprintf(stderr, "%s: set-up failed\n", target);
        abort();
    }
    for (k = 0; k < FUZZ_H5_PROBES; k++) {
        fuzz_h5_probe_last[k] = fuzz_h5_probe(k);
        H5Idec_ref(fuzz_h5_probe_last[k]);
    }
    fuzz_h5_leaks_init();
#ifdef FUZZ_H5_STATS
    atexit(fuzz_h5_stats_print);
#endif
}

/* Objects of the file still open besides the file (before its close). */
static void fuzz_h5_check_objects(hid_t fid)
{
    ssize_t n = H5Fget_obj_count(fid, H5F_OBJ_ALL), i;
    hid_t ids[16];

    if (n == 1) {
        return;
    }
    fprintf(stderr, "fuzz_h5: %ld objects of the file left open by the "
            "module:\n", (long)n - 1);
    n = H5Fget_obj_ids(fid, H5F_OBJ_ALL & ~H5F_OBJ_FILE, 16, ids);
    for (i = 0; i < n; i++) {
        char name[256] = "?";

        H5Iget_name(ids[i], name, sizeof(name));
        fprintf(stderr, "  id %lld, type %d, refs %d, %s\n",
                (long long)ids[i], (int)H5Iget_type(ids[i]),
                H5Iget_ref(ids[i]), name);
    }
    abort();
}

/* Ids made since the last call and still open: the module's leak. */
static void fuzz_h5_check_ids(void)
{
    int k, leaked = 0;

    for (k = 0; k < FUZZ_H5_PROBES; k++) {
        hid_t now = fuzz_h5_probe(k), id;

        for (id = fuzz_h5_probe_last[k] + 1; id < now; id++) {
            if (H5Iis_valid(id) > 0) {
                fprintf(stderr, "fuzz_h5: id %lld (HDF5 id type %d) left "
                        "open by the module\n", (long long)id,
                        (int)H5Iget_type(id));
                leaked = 1;
            }
        }
        fuzz_h5_probe_last[k] = now;
        H5Idec_ref(now);
    }
    if (leaked || H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) {
        fprintf(stderr, "fuzz_h5: HDF5 ids left open after the execution\n");
        abort();
    }
}

static void fuzz_h5_preview_one(hid_t fid, const char *path, apr_pool_t *p)
{
    h5s3_h5_preview_opts o;
    h5s3_result res;
    json_t *pv = NULL;

    h5s3_result_init(&res, p);
    if (h5s3_h5_preview_opts_parse(&o, &res, apr_table_make(p, 1), p)
        == APR_SUCCESS
        && h5s3_h5_preview(&pv, &res, fid, NULL, path, &o, p)
           == APR_SUCCESS) {
        json_decref(pv);
    }
}

/*
 * A number from all of the input's bytes, to choose what to describe of
 * it.  Any mutation may change it, so each child of a corpus input gets
 * its turn over the mutations of that input.
 */
FUZZ_H5_NOINSTR
static uint64_t fuzz_h5_pick(const uint8_t *d, size_t n)
{
    uint64_t h = n * 0x9E3779B97F4A7C15ull, w;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, d + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ d[i]) * 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 29);
}

/* /preview of up to 4 datasets among the root's first 16 links, found
 * without describing them: the names as /children lists them, the type
 * from the object header (external links not followed). */
static void fuzz_h5_preview_root(hid_t fid, apr_pool_t *p)
{
    apr_array_header_t *names = NULL;
    hid_t root = H5Gopen2(fid, "/", H5P_DEFAULT), lapl;
    int i, previews = 0;

    if (root < 0)
        return;
    if (h5s3_h5_link_names(&names, NULL, root, 0, FUZZ_H5_MAX_CHILDREN, p)
        != APR_SUCCESS) {
        H5Gclose(root);
        return;
    }
    H5Gclose(root);
    lapl = h5s3_h5_lapl_no_external();
    for (i = 0; i < names->nelts && previews < FUZZ_H5_MAX_PREVIEWS; i++) {
        const char *path = apr_pstrcat(p, "/", APR_ARRAY_IDX(names, i,
                                                             const char *),
                                       NULL);
        H5O_info_t oi;

        if (lapl >= 0 && H5Oget_info_by_name2(fid, path, &oi,
                                              H5O_INFO_BASIC, lapl) >= 0
            && oi.type == H5O_TYPE_DATASET) {
            fuzz_h5_preview_one(fid, path, p);
            previews++;
        }
    }
    if (lapl >= 0)
        H5Pclose(lapl);
}

/*
 * DESCRIBE: prefetch, /meta and /children of the root, then /meta (and
 * /children of a group) of one of its first 16 children, chosen by PICK:
 * /children already describes every child, /meta of each of them cost
 * as much again.  PREVIEW: /preview of up to 4 datasets of the root.
 */
static void fuzz_h5_walk(hid_t fid, h5s3_h5_source *src, unsigned what,
                         uint64_t pick, apr_pool_t *p)
{
    json_t *kids = NULL, *meta = NULL;
    size_t i, n, previews = 0;

    if (!(what & FUZZ_H5_DESCRIBE)) {
        if (what & FUZZ_H5_PREVIEW)
            fuzz_h5_preview_root(fid, p);
        return;
    }
    h5s3_h5_prefetch_group_src(fid, src, "/", 0, 0);
    if (h5s3_h5_meta(&meta, fid, "/", p) == APR_SUCCESS)
        json_decref(meta);
    if (h5s3_h5_children(&kids, fid, "/", p) != APR_SUCCESS)
        return;
    n = json_array_size(kids);
    if (n > FUZZ_H5_MAX_CHILDREN)
        n = FUZZ_H5_MAX_CHILDREN;
    for (i = 0; i < n; i++) {
        json_t *kid = json_array_get(kids, i);
        const char *path = json_string_value(json_object_get(kid, "path"));
        const char *type = json_string_value(json_object_get(kid, "type"));
        json_t *sub = NULL;

        if (!path)
            continue;
        if (i == pick % n) {
            if (h5s3_h5_meta(&meta, fid, path, p) == APR_SUCCESS)
                json_decref(meta);
            if (type && strcmp(type, "group") == 0
                && h5s3_h5_children(&sub, fid, path, p) == APR_SUCCESS)
                json_decref(sub);
        }
        if ((what & FUZZ_H5_PREVIEW) && type && strcmp(type, "dataset") == 0
            && previews++ < FUZZ_H5_MAX_PREVIEWS) {
            fuzz_h5_preview_one(fid, path, p);
        }
    }
    json_decref(kids);
}

static void fuzz_h5_run(const uint8_t *data, size_t size, unsigned what)
{
    fuzz_h5_mem m = { data, size };
    h5s3_h5_source src;
    hid_t fid = H5I_INVALID_HID;
    apr_uint64_t gen = ++fuzz_h5_generation;

    memset(&src, 0, sizeof(src));
    src.cache = fuzz_h5_cache;
    src.name = "s3://fuzz/input.h5";
    src.obj.size = (apr_off_t)size;
    src.obj.fetch = fuzz_h5_fetch;
    src.obj.baton = &m;
    /* A new identity per input, so pages of earlier inputs are never
     * found; any distinct bytes do, a SHA-256 is production's concern. */
    memcpy(src.obj.fp, "fuzz", 4);
    memcpy(src.obj.fp + 4, &gen, sizeof(gen));

    fuzz_h5_leaks_begin();
#ifdef FUZZ_H5_STATS
    fuzz_h5_stats[0]++;
#endif
    if (h5s3_h5_vfd_open(&fid, &src, FUZZ_H5_PAGE * 2) == APR_SUCCESS) {
#ifdef FUZZ_H5_STATS
        fuzz_h5_stats[2]++;
#endif
        fuzz_h5_walk(fid, &src, what, fuzz_h5_pick(data, size),
                     fuzz_h5_pool);
        /* The request pool's clean-ups close what a request holds (e.g.
         * h5s3_h5_dset_open's dataset): after them, nothing may be left. */
        apr_pool_clear(fuzz_h5_pool);
        fuzz_h5_check_objects(fid);
        H5Fclose(fid);
    }
    apr_pool_clear(fuzz_h5_pool);
    fuzz_h5_check_ids();
    fuzz_h5_leaks_end();
}

#endif
