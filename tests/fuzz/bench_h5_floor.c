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
 *
 * Built with -DBENCH_H5_TARGET and a fuzz target instead of libFuzzer
 * (bench_h5_struct, bench_h5_values, bench_h5_open), the same loop runs
 * the target's LLVMFuzzerTestOneInput on each input: the target's cost
 * measured the way the floor's is, inputs in memory, no libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
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

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

#ifdef BENCH_H5_TARGET
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The targets' custom mutators call libFuzzer's: never here. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size)
{
    return size;
}

/* One execution of the fuzz target. */
static int execute(const input *in)
{
    LLVMFuzzerTestOneInput(in->data, in->size);
    return 1;
}
#else
/* One execution: what the fuzz target's open and close stand for. */
static int execute(const input *in)
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
#endif

int main(int argc, char **argv)
{
    long rounds = 0, r, execs = 0, opened = 0;
    double seconds = 10, t0, t, c0, c;
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
#ifdef BENCH_H5_TARGET
    LLVMFuzzerInitialize(&argc, &argv);
#else
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* As the fuzz harness does: the floor is HDF5's open in the fuzzer's
     * conditions, not AddressSanitizer's mmap of a 1 MiB struct. */
    if (fuzz_h5_free_lists() < 0) {
        fprintf(stderr, "H5set_free_list_limits failed\n");
        return 2;
    }
#endif
    /* One untimed round: library set-up and first-touch page faults are
     * not per-execution costs (libFuzzer's INITED line excludes them too). */
    for (i = 0; i < ninputs; i++) {
        execute(&inputs[i]);
    }
    t0 = now();
    c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (r = 0; rounds ? r < rounds : now() - t0 < seconds; r++) {
        for (i = 0; i < ninputs; i++) {
            opened += execute(&inputs[i]);
            execs++;
        }
    }
    t = now() - t0;
    c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
#ifdef BENCH_H5_TARGET
    (void)opened;
    printf("inputs: %zu\n", ninputs);
#else
    printf("inputs: %zu (%ld of %ld executions opened)\n", ninputs, opened,
           execs);
#endif
    printf("executions: %ld in %.2f s, %.2f s of CPU\n", execs, t, c);
    printf("per execution: %.1f us, %.1f us of CPU\n", t * 1e6 / execs,
           c * 1e6 / execs);
    printf("executions per minute: %.0f, per CPU minute: %.0f\n",
           execs * 60.0 / t, execs * 60.0 / c);
    return 0;
}
