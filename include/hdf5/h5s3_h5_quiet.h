/*
 * The frame of a public call that walks a file and describes what it
 * finds (the viewer's /children and /meta, h5grove's /meta/, /attr/ and
 * /paths/).  HDF5 prints its error stack by default; a library must not.
 * And many HDF5 failures are absorbed into such answers ("<unreadable>",
 * a null, a skipped link): when the cause was the S3 driver failing to
 * fetch bytes, the answer must not be served or cached, so the call
 * learns the driver's status at its end.
 */
#ifndef H5S3_H5_QUIET_H
#define H5S3_H5_QUIET_H

#include <apr_errno.h>
#include <hdf5.h>

typedef struct h5s3_h5_quiet {
    H5E_auto2_t fn;
    void *data;
} h5s3_h5_quiet;

/* HDF5's error printing off, a stale S3 status of the driver cleared. */
void h5s3_h5_quiet_on(h5s3_h5_quiet *q);

/* Printing back as it was; the S3 failure the driver saw since
 * h5s3_h5_quiet_on (then cleared), or APR_SUCCESS. */
apr_status_t h5s3_h5_quiet_off(h5s3_h5_quiet *q);

#endif
