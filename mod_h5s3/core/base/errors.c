/* Stable short names for core status codes, used in logs and JSON errors. */
#include "base/h5s3_errors.h"

const char *h5s3_error_name(apr_status_t rv)
{
    switch (rv) {
    case APR_SUCCESS:         return "ok";
    case H5S3_E_NOTFOUND:     return "not_found";
    case H5S3_E_DENIED:       return "denied";
    case H5S3_E_UNREACHABLE:  return "unreachable";
    case H5S3_E_TIMEOUT:      return "timeout";
    case H5S3_E_UPSTREAM:     return "upstream_error";
    case H5S3_E_CHANGED:      return "changed";
    case H5S3_E_BADREQUEST:   return "bad_request";
    case H5S3_E_INVALID:      return "invalid";
    case H5S3_E_NOTHDF5:      return "not_hdf5";
    case H5S3_E_NOPATH:       return "no_path";
    case H5S3_E_UNSUPPORTED:  return "unsupported";
    case H5S3_E_INTEGRITY:    return "integrity_failed";
    case H5S3_E_TOOLARGE:     return "too_large";
    case H5S3_E_ABORTED:      return "aborted";
    case H5S3_E_LIMIT:        return "limit";
    case H5S3_E_BUSY:         return "busy";
    case APR_NOTFOUND:        return "not_found";
    case APR_ENOMEM:          return "no_memory";
    default:                  return "error";
    }
}
