/*
 * HDF5 files mutated knowing their layout (h5_mutator.h), opened
 * through the S3 driver and previewed the way /preview does (fuzz_h5.h):
 * chunk indexes, filters, type conversion and the value writers, for up
 * to four datasets of the root group.  Kept apart from fuzz_h5_struct
 * because reading values costs as much again as describing.
 */
#include "fuzz_h5.h"
#include "h5_mutator.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_h5_init("fuzz_h5_values");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_h5_run(data, size, FUZZ_H5_PREVIEW);
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    return h5m_mutate(data, size, max_size, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t n1,
                                 const uint8_t *d2, size_t n2, uint8_t *out,
                                 size_t max_out, unsigned int seed)
{
    return h5m_cross(d1, n1, d2, n2, out, max_out, seed);
}
