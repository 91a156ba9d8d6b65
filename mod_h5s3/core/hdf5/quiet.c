/*
 * The frame of a describing call (see include/hdf5/h5s3_h5_quiet.h).
 */
#include "hdf5/h5s3_h5_quiet.h"
#include "hdf5/io/h5s3_h5_io.h"

void h5s3_h5_quiet_on(h5s3_h5_quiet *q)
{
    (void)h5s3_h5_request_status(APR_SUCCESS);   /* clear a stale one */
    if (H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data) < 0) {
        q->fn = NULL;
        q->data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

apr_status_t h5s3_h5_quiet_off(h5s3_h5_quiet *q)
{
    apr_status_t s3 = h5s3_h5_request_status(APR_SUCCESS);

    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
    return s3;
}
