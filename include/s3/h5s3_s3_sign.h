/*
 * AWS Signature Version 4 for S3, as a pure function: no clock, no
 * network, so the published test vectors and botocore can check it.
 */
#ifndef H5S3_S3_SIGN_H
#define H5S3_S3_SIGN_H

#include <apr_pools.h>

/* SHA-256 of the empty string, hex: the payload hash of a bodiless request. */
#define H5S3_SHA256_EMPTY \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define H5S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* One query parameter or header; values are raw (unencoded). */
typedef struct h5s3_s3_kv {
    const char *name;
    const char *value;          /* NULL is the same as "" */
} h5s3_s3_kv;

typedef struct h5s3_s3_sign_req {
    const char *method;         /* GET, HEAD, PUT, ... */
    const char *host;           /* Host header value, host[:port] */
    const char *path;           /* raw path, "/bucket/key", not encoded */
    const h5s3_s3_kv *query;    /* raw names and values, any order */
    int nquery;
    /*
     * Headers to sign besides host and x-amz-date (which are always
     * signed): any case, any order; duplicates are joined with ','.
     * expect, user-agent and authorization are never signed.
     */
    const h5s3_s3_kv *headers;
    int nheaders;
    const char *payload_hash;   /* hex SHA-256 or UNSIGNED-PAYLOAD */
    const char *amz_date;       /* YYYYMMDD'T'HHMMSS'Z' */
    const char *region;
    const char *service;        /* "s3" */
    const char *access_key;
    const char *secret_key;
    /* Optional: a key from h5s3_s3_signing_key() for this date/region. */
    const unsigned char *signing_key;
} h5s3_s3_sign_req;

typedef struct h5s3_s3_signature {
    const char *authorization;      /* the Authorization header value */
    const char *signature;          /* hex */
    const char *signed_headers;     /* "host;range;x-amz-date" */
    const char *canonical_request;
    const char *string_to_sign;
    const char *canonical_query;    /* also what the URL must carry */
    const char *canonical_uri;
} h5s3_s3_signature;

/*
 * Sign a request.  H5S3_E_INVALID when a required field is missing or the
 * date is malformed.
 */
apr_status_t h5s3_s3_sign(h5s3_s3_signature **out,
                          const h5s3_s3_sign_req *req, apr_pool_t *p);

/* kSigning = HMAC chain over "AWS4"+secret, date (YYYYMMDD), region, service. */
apr_status_t h5s3_s3_signing_key(unsigned char key[32], const char *secret,
                                 const char *yyyymmdd, const char *region,
                                 const char *service);

/*
 * Percent-encode every byte but A-Za-z0-9-._~ (uppercase hex); '/' is kept
 * when encode_slash is 0 (object key paths), encoded otherwise (query).
 */
char *h5s3_s3_uri_encode(apr_pool_t *p, const char *s, int encode_slash);

/* The canonical query string of params (sorted, encoded, '=' always). */
char *h5s3_s3_canonical_query(apr_pool_t *p, const h5s3_s3_kv *query,
                              int nquery);

/* Hex SHA-256 of a buffer (65 bytes incl. NUL into out). */
void h5s3_s3_sha256_hex(char out[65], const void *data, apr_size_t len);

#endif
