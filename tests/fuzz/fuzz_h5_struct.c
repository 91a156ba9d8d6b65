/*
 * HDF5 files mutated knowing their layout (h5_mutator.h), opened
 * through the S3 driver and described the way /children and /meta do
 * (fuzz_h5.h): the metadata parsers, at about the cost of HDF5's own
 * open.  fuzz_h5_values previews the same files' values.
 */
#include "fuzz_h5.h"
#include "h5_mutator.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_h5_init("fuzz_h5_struct");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_h5_run(data, size, FUZZ_H5_DESCRIBE);
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
