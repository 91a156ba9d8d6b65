/*
 * The floor for the HDF5 fuzz targets: what opening and closing a file
 * held in memory costs in HDF5 itself, with HDF5's own in-memory driver
 * (H5Pset_fapl_core + H5Pset_file_image), no module code at all.  A fuzz
 * target that opens the same bytes through the S3 driver cannot be
 * cheaper per execution than this; tests/fuzz/README.md compares the two.
 *
 *   bench_h5_floor [-n ROUNDS] [-s SECONDS] FILE|DIR...
 *
 * Every file (a directory: every file in it) is opened and closed once per
 * round; rounds repeat until ROUNDS (default: as many as fit in SECONDS,
 * default 10).  Inputs HDF5 refuses count as executions too, like the
 * fuzzer's: a failed H5Fopen is part of the cost of a mutated input.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <hdf5.h>
#include "fuzz_h5_lists.h"

typedef struct {
    char *name;
    void *data;
    size_t size;
} input;

static input *inputs;
static size_t ninputs, cap;

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    input *in;

    if (!f || fstat(fileno(f), &st) != 0) {
        perror(path);
        exit(2);
    }
    if (ninputs == cap) {
        cap = cap ? cap * 2 : 64;
        inputs = realloc(inputs, cap * sizeof(*inputs));
    }
    in = &inputs[ninputs++];
    in->name = strdup(path);
    in->size = (size_t)st.st_size;
    in->data = malloc(in->size ? in->size : 1);
    if (in->size && fread(in->data, 1, in->size, f) != in->size) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

static void add_path(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (stat(path, &st) != 0) {
        perror(path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    d = opendir(path);
    while (d && (e = readdir(d)) != NULL) {
        char buf[4096];

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(buf, sizeof(buf), "%s/%s", path, e->d_name);
        add_file(buf);
    }
    if (d) {
        closedir(d);
    }
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One execution: what the fuzz target's open and close stand for. */
static int open_close(const input *in)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t fid;

    H5Pset_fapl_core(fapl, 64 * 1024, 0);
    H5Pset_file_image(fapl, in->data, in->size);
    fid = H5Fopen("floor.h5", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (fid < 0) {
        return 0;
    }
    H5Fclose(fid);
    return 1;
}

int main(int argc, char **argv)
{
    long rounds = 0, r, execs = 0, opened = 0;
    double seconds = 10, t0, t;
    size_t i;
    int a;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            rounds = atol(argv[++a]);
        }
        else if (strcmp(argv[a], "-s") == 0 && a + 1 < argc) {
            seconds = atof(argv[++a]);
        }
        else {
            add_path(argv[a]);
        }
    }
    if (ninputs == 0) {
        fprintf(stderr, "usage: %s [-n ROUNDS] [-s SECONDS] FILE|DIR...\n",
                argv[0]);
        return 2;
    }
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* As the fuzz harness does: the floor is HDF5's open in the fuzzer's
     * conditions, not AddressSanitizer's mmap of a 1 MiB struct. */
    if (fuzz_h5_free_lists() < 0) {
        fprintf(stderr, "H5set_free_list_limits failed\n");
        return 2;
    }
    /* One untimed round: library set-up and first-touch page faults are
     * not per-execution costs (libFuzzer's INITED line excludes them too). */
    for (i = 0; i < ninputs; i++) {
        open_close(&inputs[i]);
    }
    t0 = now();
    for (r = 0; rounds ? r < rounds : now() - t0 < seconds; r++) {
        for (i = 0; i < ninputs; i++) {
            opened += open_close(&inputs[i]);
            execs++;
        }
    }
    t = now() - t0;
    printf("inputs: %zu (%ld of %ld executions opened)\n", ninputs, opened,
           execs);
    printf("executions: %ld in %.2f s\n", execs, t);
    printf("per execution: %.1f us\n", t * 1e6 / execs);
    printf("executions per minute: %.0f\n", execs * 60.0 / t);
    return 0;
}
