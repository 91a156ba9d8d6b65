/*
 * Mutated HDF5 files opened through the S3 driver (on a memory fetch
 * seam and a small page cache), then described and previewed the way
 * /children, /meta and /preview do (fuzz_h5.h), with libFuzzer's own
 * byte-level mutations; fuzz_h5_struct mutates the same inputs knowing
 * HDF5's layout.  HDF5 1.10 itself is not built for hostile files: what
 * it may allocate is bounded by the run options (ASan
 * max_allocation_size_mb, libFuzzer -rss_limit_mb), see scripts/fuzz.sh
 * and tests/fuzz/known-issues/README.md.
 */
#include "fuzz_h5.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_h5_init("fuzz_h5_open");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_h5_run(data, size, FUZZ_H5_DESCRIBE | FUZZ_H5_PREVIEW);
    return 0;
}
