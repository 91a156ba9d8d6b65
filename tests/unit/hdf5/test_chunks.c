/*
 * Chunk indexes and chunk decoding outside HDF5, on files written by h5py
 * read through the S3 driver over a local-file fetch seam: the v1 B-tree
 * walk finds exactly the chunks HDF5 finds, one fetch batch per level,
 * only the wanted subtrees; a fixed array index is fetched in two
 * batches; decoded selections equal H5Dread's.  Also the prefetch of
 * new-style groups' dense link storage.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_thread_proc.h>

#include "hdf5/h5s3_h5_file.h"
#include "hdf5/h5s3_h5_read.h"
#include "base/h5s3_errors.h"
#include "unit_common.h"
#include "unit_files.h"

#define PS (64 * 1024)

static char dir[] = "/tmp/h5s3-chunks-XXXXXX";
static char path_v1[128], path_latest[128];

static void make_fixture(char *path, const char *kind)
{
    char args[512];

    snprintf(path, 128, "%s/%s.h5", dir, kind);
    snprintf(args, sizeof(args), "%s %s", kind, path);
    if (unit_fixture_script("make_chunk_fixtures.py", args) != 0) {
        exit(EXIT_FAILURE);
    }
}

/* The file at path opened through the driver over a fresh cache. */
static hid_t open_file(h5s3_h5_source *src, unit_file_src *fs,
                       const char *path)
{
    hid_t fid;

    unit_h5_source(src, fs, path, unit_heap_cache(PS, 512));
    /* Small open read: the chunk index is not fetched by chance. */
    ck_assert_int_eq(h5s3_h5_vfd_open(&fid, src, 4096), APR_SUCCESS);
    return fid;
}

/* Chunk indices along each dim: every one, or [lo, hi) of dim `only`. */
typedef struct wanted {
    int rank;
    hsize_t chunk[H5S_MAX_RANK];
    hsize_t *lists[H5S_MAX_RANK];
    hsize_t lens[H5S_MAX_RANK];
} wanted;

static void want_all(wanted *w, hid_t did, int only, hsize_t lo, hsize_t hi)
{
    hid_t space = H5Dget_space(did), dcpl = H5Dget_create_plist(did);
    hsize_t dims[H5S_MAX_RANK];
    int k;
    hsize_t i;

    w->rank = H5Sget_simple_extent_dims(space, dims, NULL);
    ck_assert_int_eq(H5Pget_chunk(dcpl, w->rank, w->chunk), w->rank);
    for (k = 0; k < w->rank; k++) {
        hsize_t n = (dims[k] + w->chunk[k] - 1) / w->chunk[k];
        hsize_t a = k == only ? lo : 0, b = k == only ? hi : n;

        w->lens[k] = b - a;
        w->lists[k] = apr_palloc(pool, (b - a) * sizeof(hsize_t));
        for (i = a; i < b; i++) {
            w->lists[k][i - a] = i;
        }
    }
    H5Sclose(space);
    H5Pclose(dcpl);
}

/* Every wanted chunk HDF5 knows is in the table, with its address. */
static int check_table(hid_t did, const wanted *w, const h5s3_h5_chunks *c)
{
    hsize_t idx[H5S_MAX_RANK] = {0}, coord[H5S_MAX_RANK];
    int found = 0, k, i;

    for (;;) {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;

        for (k = 0; k < w->rank; k++) {
            coord[k] = w->lists[k][idx[k]] * w->chunk[k];
        }
        ck_assert_int_ge(H5Dget_chunk_info_by_coord(did, coord, &mask, &addr,
                                                    &size), 0);
        if (addr != HADDR_UNDEF) {
            for (i = 0; i < c->n; i++) {
                if (memcmp(c->coords + (apr_size_t)i * w->rank, coord,
                           (apr_size_t)w->rank * sizeof(hsize_t)) == 0) {
                    break;
                }
            }
            ck_assert_int_lt(i, c->n);
            ck_assert_int_eq(c->addr[i], (apr_off_t)addr);
            ck_assert_uint_eq(c->size[i], size);
            ck_assert_uint_eq(c->mask[i], mask);
            found++;
        }
        for (k = w->rank - 1; k >= 0; k--) {
            if (++idx[k] < w->lens[k]) {
                break;
            }
            idx[k] = 0;
        }
        if (k < 0) {
            break;
        }
    }
    ck_assert_int_eq(found, c->n);
    return found;
}

START_TEST(btree_table_is_what_hdf5_finds)
{
    static const char *names[] = { "/gz", "/plain", "/many", "/partial" };
    static const int expect[] = { 16 * 22, 5 * 5 * 6, 5000, 2 };
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_v1);
    int i;

    for (i = 0; i < 4; i++) {
        hid_t did = H5Dopen2(fid, names[i], H5P_DEFAULT);
        h5s3_h5_chunks *c = NULL;
        wanted w;

        ck_assert_int_ge(did, 0);
        want_all(&w, did, -1, 0, 0);
        ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(
                             &c, did, &src, w.rank, w.chunk, w.lists,
                             w.lens), APR_SUCCESS);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(check_table(did, &w, c), expect[i]);
        h5s3_h5_chunks_free(c);
        H5Dclose(did);
    }
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

START_TEST(btree_walk_is_one_batch_per_level)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_v1);
    hid_t did = H5Dopen2(fid, "/many", H5P_DEFAULT);
    h5s3_h5_chunks *c = NULL;
    apr_uint32_t before;
    wanted w;

    ck_assert_int_ge(did, 0);
    want_all(&w, did, -1, 0, 0);
    before = fs.calls;
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, did, &src, w.rank,
                                                  w.chunk, w.lists, w.lens),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->n, 5000);
    /* 5000 chunks, 64 a node: three levels, at most one batch each. */
    ck_assert_uint_le(fs.calls - before, 3);
    /* HDF5's own lookups now find every node in the cache. */
    before = fs.calls;
    check_table(did, &w, c);
    ck_assert_uint_eq(fs.calls, before);
    h5s3_h5_chunks_free(c);
    H5Dclose(did);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

START_TEST(btree_walk_reads_only_wanted_subtrees)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_v1);
    hid_t did = H5Dopen2(fid, "/many", H5P_DEFAULT);
    h5s3_h5_chunks *c = NULL;
    apr_uint64_t before;
    wanted w;

    ck_assert_int_ge(did, 0);
    /* Row 42 only: 50 chunks of 5000, in one or two leaves. */
    want_all(&w, did, 0, 42, 43);
    before = fs.bytes;
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, did, &src, w.rank,
                                                  w.chunk, w.lists, w.lens),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    /* Root, one or two inner nodes and leaves, each by its own bytes
     * (2616 here): not the 79 leaves, nor the pages around them. */
    ck_assert_uint_le(fs.bytes - before, 6 * 2616);
    /* (HDF5's H5Dget_chunk_info_by_coord walks the index in order
     * itself: what it reads is not the walk's.) */
    ck_assert_int_eq(check_table(did, &w, c), 50);
    h5s3_h5_chunks_free(c);
    H5Dclose(did);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

START_TEST(fixed_array_is_fetched_in_two_batches)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_latest);
    hid_t did = H5Dopen2(fid, "/fa", H5P_DEFAULT);
    h5s3_h5_chunks *c = NULL;
    apr_uint32_t before;
    wanted w;

    ck_assert_int_ge(did, 0);
    want_all(&w, did, -1, 0, 0);
    before = fs.calls;
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, did, &src, w.rank,
                                                  w.chunk, w.lists, w.lens),
                     APR_SUCCESS);
    ck_assert_ptr_null(c);      /* HDF5 looks chunks up, in the cache */
    ck_assert_uint_le(fs.calls - before, 2);
    before = fs.calls;
    {
        hsize_t coord[2] = { 450, 450 };
        unsigned mask;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;

        ck_assert_int_ge(H5Dget_chunk_info_by_coord(did, coord, &mask,
                                                    &addr, &size), 0);
        ck_assert(addr != HADDR_UNDEF);
    }
    ck_assert_uint_eq(fs.calls, before);
    H5Dclose(did);
    /* An extensible array is left to HDF5, quietly. */
    did = H5Dopen2(fid, "/ea", H5P_DEFAULT);
    ck_assert_int_ge(did, 0);
    want_all(&w, did, -1, 0, 0);
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, did, &src, w.rank,
                                                  w.chunk, w.lists, w.lens),
                     APR_SUCCESS);
    ck_assert_ptr_null(c);
    H5Dclose(did);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

/* Decode start/stride/count of path and compare with H5Dread. */
static apr_status_t decode_vs_hdf5(hid_t fid, h5s3_h5_source *src,
                                  const char *path, const hsize_t *start,
                                  const hsize_t *stride,
                                  const hsize_t *count)
{
    h5s3_h5_dset *d;
    h5s3_h5_chunks *c = NULL;
    wanted w;
    hsize_t n = 1;
    hid_t fspace, mspace;
    char *got, *want;
    apr_status_t rv;
    int k;
    hsize_t i, j;

    ck_assert_int_eq(h5s3_h5_dset_open(&d, NULL, fid, NULL, path, pool),
                     APR_SUCCESS);
    w.rank = d->ndim;
    for (k = 0; k < d->ndim; k++) {
        hsize_t last = H5S3_H5_RANK_MAX;

        w.chunk[k] = d->chunk[k];
        w.lists[k] = apr_palloc(pool, count[k] * sizeof(hsize_t));
        w.lens[k] = 0;
        for (i = 0; i < count[k]; i++) {
            j = (start[k] + i * stride[k]) / d->chunk[k];
            if (w.lens[k] == 0 || j != last) {
                w.lists[k][w.lens[k]++] = j;
                last = j;
            }
        }
        n *= count[k];
    }
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&c, d->did, src, w.rank,
                                                  w.chunk, w.lists, w.lens),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c);
    got = calloc(n, d->msize);
    want = calloc(n, d->msize);
    rv = h5s3_h5_decode_chunks(got, d, src, c, start, stride, count);
    fspace = H5Dget_space(d->did);
    ck_assert_int_ge(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start,
                                         stride, count, NULL), 0);
    mspace = H5Screate_simple(d->ndim, count, NULL);
    ck_assert_int_ge(H5Dread(d->did, d->mtype, mspace, fspace, H5P_DEFAULT,
                             want), 0);
    if (rv == APR_SUCCESS) {
        ck_assert_mem_eq(got, want, n * d->msize);
    }
    H5Sclose(mspace);
    H5Sclose(fspace);
    free(got);
    free(want);
    h5s3_h5_chunks_free(c);
    return rv;
}

START_TEST(decoded_selections_equal_hdf5)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_v1);

    {
        /* Strided, offset, to the ragged edge. */
        hsize_t st[] = { 3, 1 }, sd[] = { 7, 13 }, ct[] = { 142, 84 };

        ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/gz", st, sd, ct),
                         APR_SUCCESS);
    }
    {
        hsize_t st[] = { 0, 0 }, sd[] = { 1, 1 }, ct[] = { 1000, 1100 };

        ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/gz", st, sd, ct),
                         APR_SUCCESS);
    }
    {
        /* One element, one chunk. */
        hsize_t st[] = { 999, 1099 }, sd[] = { 1, 1 }, ct[] = { 1, 1 };

        ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/gz", st, sd, ct),
                         APR_SUCCESS);
    }
    {
        hsize_t st[] = { 2, 0, 5 }, sd[] = { 3, 5, 2 }, ct[] = { 10, 8, 22 };

        ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/plain", st, sd, ct),
                         APR_SUCCESS);
    }
    {
        hsize_t st[] = { 0, 7 }, sd[] = { 9, 31 }, ct[] = { 12, 161 };

        ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/many", st, sd, ct),
                         APR_SUCCESS);
    }
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

START_TEST(other_pipelines_and_types_are_left_to_hdf5)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_v1);
    hsize_t st[] = { 0, 0 }, sd[] = { 1, 1 }, ct[] = { 20, 20 };

    ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/fletcher", st, sd, ct),
                     H5S3_E_UNSUPPORTED);
    ck_assert_int_eq(decode_vs_hdf5(fid, &src, "/be", st, sd, ct),
                     H5S3_E_UNSUPPORTED);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

/* A whole dataset's chunk table and its values read by HDF5. */
typedef struct prepared {
    h5s3_h5_dset *d;
    h5s3_h5_chunks *c;
    hsize_t start[H5S_MAX_RANK], stride[H5S_MAX_RANK], count[H5S_MAX_RANK];
    hsize_t n;
    char *want;
} prepared;

static void prepare(prepared *pr, hid_t fid, h5s3_h5_source *src,
                    const char *path)
{
    wanted w;
    int k;

    memset(pr, 0, sizeof(*pr));
    ck_assert_int_eq(h5s3_h5_dset_open(&pr->d, NULL, fid, NULL, path, pool),
                     APR_SUCCESS);
    want_all(&w, pr->d->did, -1, 0, 0);
    ck_assert_int_eq(h5s3_h5_prefetch_chunk_index(&pr->c, pr->d->did, src,
                                                  w.rank, w.chunk, w.lists,
                                                  w.lens), APR_SUCCESS);
    ck_assert_ptr_nonnull(pr->c);
    pr->n = 1;
    for (k = 0; k < pr->d->ndim; k++) {
        pr->stride[k] = 1;
        pr->count[k] = pr->d->shape[k];
        pr->n *= pr->count[k];
    }
    pr->want = calloc(pr->n, pr->d->msize);
    ck_assert_int_ge(H5Dread(pr->d->did, pr->d->mtype, H5S_ALL, H5S_ALL,
                             H5P_DEFAULT, pr->want), 0);
}

/*
 * A chunk index that lies (coordinates off the chunk grid, or near 2^64)
 * decodes into the output it was given and nothing beyond: scatter()'s
 * bounds hold in release builds too (the guard bytes stay as they were;
 * ASan watches the rest).
 */
START_TEST(decoding_a_lying_chunk_table_stays_in_bounds)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_v1);
    prepared pr;
    apr_size_t bytes;
    unsigned char *out;
    int i, k, g;

    prepare(&pr, fid, &src, "/plain");
    bytes = (apr_size_t)pr.n * pr.d->msize;
    out = malloc(bytes + 64);
    for (k = 0; k < 3; k++) {
        memset(out, 0, bytes);
        memset(out + bytes, 0xA5, 64);
        for (i = 0; i < pr.c->n; i++) {
            hsize_t *co = pr.c->coords + (apr_size_t)i * 3;

            if (k == 0) {
                co[0] += 1;             /* off the grid by one */
            }
            else if (k == 1) {
                co[2] = UINT64_MAX - 3; /* c0 + chunk wraps */
            }
            else {
                co[1] = pr.d->shape[1] - 1;     /* the last row, all */
            }
        }
        h5s3_h5_decode_chunks(out, pr.d, &src, pr.c, pr.start, pr.stride,
                              pr.count);
        for (g = 0; g < 64; g++) {
            ck_assert_uint_eq(out[bytes + g], 0xA5);
        }
    }
    free(out);
    free(pr.want);
    h5s3_h5_chunks_free(pr.c);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

typedef struct decoder {
    prepared *pr;
    h5s3_h5_source *src;
    int rounds;
    apr_status_t rv;
    int equal;
} decoder;

static void *APR_THREAD_FUNC decode_thread(apr_thread_t *t, void *data)
{
    decoder *dc = data;
    apr_size_t bytes = (apr_size_t)dc->pr->n * dc->pr->d->msize;
    char *got = malloc(bytes);
    int r;

    dc->equal = 1;
    for (r = 0; r < dc->rounds && dc->rv == APR_SUCCESS; r++) {
        memset(got, 0, bytes);
        dc->rv = h5s3_h5_decode_chunks(got, dc->pr->d, dc->src, dc->pr->c,
                                       dc->pr->start, dc->pr->stride,
                                       dc->pr->count);
        dc->equal &= memcmp(got, dc->pr->want, bytes) == 0;
    }
    free(got);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/*
 * One decode thread for the whole process and six requests decoding at
 * once: their helpers queue behind each other, each request's own thread
 * decodes regardless, nobody waits for a helper that has not started,
 * and the answers are HDF5's.
 */
START_TEST(decoding_progresses_when_the_pool_is_saturated)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid;
    prepared pr;
    apr_thread_t *th[6];
    decoder dc[6];
    apr_status_t trv;
    apr_uint64_t before;
    apr_pool_t *forever;
    static apr_allocator_t *keep;       /* held: no leak at exit */
    int i;

    /* Never destroyed, like a child's pool while it serves: a helper
     * still queued when the decodes return runs later (and only drops
     * its reference), which a destroyed pool would no longer do. */
    ck_assert_int_eq(apr_allocator_create(&keep), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create_unmanaged_ex(&forever, NULL, keep),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_decode_threads_init(1, forever), APR_SUCCESS);
    fid = open_file(&src, &fs, path_v1);
    prepare(&pr, fid, &src, "/gz");
    ck_assert_int_gt(pr.c->n, 300);
    before = h5s3_h5_mem_reserved();    /* the table's, held throughout */
    for (i = 0; i < 6; i++) {
        dc[i].pr = &pr;
        dc[i].src = &src;
        dc[i].rounds = 3;
        dc[i].rv = APR_SUCCESS;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, decode_thread,
                                           &dc[i], pool), APR_SUCCESS);
    }
    for (i = 0; i < 6; i++) {
        apr_thread_join(&trv, th[i]);
        ck_assert_int_eq(dc[i].rv, APR_SUCCESS);
        ck_assert(dc[i].equal);
    }
    /* Every reservation was given back. */
    ck_assert_uint_eq(h5s3_h5_mem_reserved(), before);
    free(pr.want);
    h5s3_h5_chunks_free(pr.c);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

static herr_t count_link(hid_t g, const char *name, const H5L_info_t *info,
                         void *data)
{
    (*(int *)data)++;
    return 0;
}

/* New-style group, dense storage: listing reads the cache only. */
START_TEST(dense_group_links_are_prefetched)
{
    h5s3_h5_source src;
    unit_file_src fs;
    hid_t fid = open_file(&src, &fs, path_latest), gid;
    apr_uint32_t before;
    hsize_t idx = 0;
    int n = 0;

    before = fs.calls;
    ck_assert_int_eq(h5s3_h5_prefetch_group_src(fid, &src, "/dense", 0, 0),
                     APR_SUCCESS);
    /* Header and root, heap blocks, the children's headers: a handful of
     * batches, not one request per heap block and B-tree node. */
    ck_assert_uint_le(fs.calls - before, 6);
    before = fs.calls;
    gid = H5Gopen2(fid, "/dense", H5P_DEFAULT);
    ck_assert_int_ge(gid, 0);
    ck_assert_int_ge(H5Literate(gid, H5_INDEX_NAME, H5_ITER_NATIVE, &idx,
                                count_link, &n), 0);
    ck_assert_int_eq(n, 300);
    ck_assert_uint_eq(fs.calls, before);
    H5Gclose(gid);
    H5Fclose(fid);
    close(fs.fd);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("h5_chunks", "core", &tc, unit_setup_h5_io,
                          unit_teardown);
    int rv;

    if (!mkdtemp(dir)) {
        return EXIT_FAILURE;
    }
    make_fixture(path_v1, "v1");
    make_fixture(path_latest, "latest");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, btree_table_is_what_hdf5_finds);
    tcase_add_test(tc, btree_walk_is_one_batch_per_level);
    tcase_add_test(tc, btree_walk_reads_only_wanted_subtrees);
    tcase_add_test(tc, fixed_array_is_fetched_in_two_batches);
    tcase_add_test(tc, decoded_selections_equal_hdf5);
    tcase_add_test(tc, other_pipelines_and_types_are_left_to_hdf5);
    tcase_add_test(tc, dense_group_links_are_prefetched);
    tcase_add_test(tc, decoding_a_lying_chunk_table_stays_in_bounds);
    tcase_add_test(tc, decoding_progresses_when_the_pool_is_saturated);
    rv = unit_run(s);
    unlink(path_v1);
    unlink(path_latest);
    rmdir(dir);
    return rv;
}
