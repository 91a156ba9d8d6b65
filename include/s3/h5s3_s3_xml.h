/*
 * The S3 XML documents the client reads: ListObjectsV2 results and Error
 * bodies, parsed with apr-util's apr_xml (expat).
 */
#ifndef H5S3_S3_XML_H
#define H5S3_S3_XML_H

#include <apr_pools.h>
#include <apr_time.h>
#include "s3/h5s3_s3.h"

/*
 * A ListBucketResult document.  Keys are returned decoded (entities, and
 * percent-encoding when the server says EncodingType=url).
 * H5S3_E_UPSTREAM when the body is not well-formed XML or not a listing.
 */
apr_status_t h5s3_s3_xml_parse_list(h5s3_s3_list_page **page,
                                    const char *body, apr_size_t len,
                                    apr_pool_t *p);

/*
 * An <Error> document: *code and *message (either may be set to NULL when
 * absent).  H5S3_E_UPSTREAM when the body is not an S3 error document.
 */
apr_status_t h5s3_s3_xml_parse_error(const char **code, const char **message,
                                     const char *body, apr_size_t len,
                                     apr_pool_t *p);

/* "2009-10-12T17:50:30.000Z" (fraction and 'Z' optional) to apr_time_t. */
apr_status_t h5s3_s3_parse_iso8601(apr_time_t *t, const char *s);

#endif
