/*
 * Signed, URL-safe tokens (HMAC-SHA256): download tokens and the opaque
 * list cursors.  A token is base64url(payload) "." base64url(mac); the
 * payload is not secret, only tamper-proof.  Secrets never leave here.
 */
#ifndef H5S3_TOKEN_H
#define H5S3_TOKEN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>
#include "base/h5s3_errors.h"

/*
 * A well-formed token whose lifetime is over.  Tampered or malformed
 * tokens are H5S3_E_INVALID; expiry is told apart so the glue can say
 * "prepare again" (410) rather than "bad request".
 */
#ifndef H5S3_E_EXPIRED
#define H5S3_E_EXPIRED       (H5S3_E_BASE + 40)
#endif

/* Lifetime of a download token (docs/browser-api.md §7.2: 5 minutes). */
#define H5S3_TOKEN_DOWNLOAD_TTL apr_time_from_sec(300)

typedef struct h5s3_token_key {
    const unsigned char *data;
    apr_size_t len;             /* at least 1 byte */
} h5s3_token_key;

/* Base64url without padding (RFC 4648 section 5). */
const char *h5s3_token_b64url_encode(const unsigned char *data,
                                     apr_size_t len, apr_pool_t *p);
/*
 * H5S3_E_INVALID on anything but the one spelling the encoder writes: a
 * character outside the alphabet ('+', '/', '=', spaces), a length no
 * encoding has, or unused low bits set in the last character.
 */
apr_status_t h5s3_token_b64url_decode(unsigned char **out, apr_size_t *outlen,
                                      const char *in, apr_pool_t *p);

/* Sign an arbitrary payload: *token = b64url(payload) "." b64url(mac). */
apr_status_t h5s3_token_sign(const char **token, const h5s3_token_key *key,
                             const char *payload, apr_size_t len,
                             apr_pool_t *p);

/*
 * Sign a JSON object, written compact, and drop it (o is stolen).  o NULL
 * (json_pack refused a value, e.g. one not UTF-8) is H5S3_E_INVALID.
 */
apr_status_t h5s3_token_sign_json(const char **token,
                                  const h5s3_token_key *key, json_t *o,
                                  apr_pool_t *p);

/*
 * Check a token's MAC in constant time and return its payload
 * (NUL-terminated, *len without the NUL).  H5S3_E_INVALID when malformed
 * or tampered.
 */
apr_status_t h5s3_token_open(const char **payload, apr_size_t *len,
                             const h5s3_token_key *key, const char *token,
                             apr_pool_t *p);

/* What a download token binds. */
typedef struct h5s3_download_token {
    const char *bucket;
    const char *key;            /* logical key */
    const char *etag;           /* ETag of the stored object it was made for */
    apr_time_t expires;
} h5s3_download_token;

/* A token for (bucket, key, etag) valid until now + ttl. */
apr_status_t h5s3_token_download_make(const char **token,
                                      const h5s3_token_key *key,
                                      const char *bucket, const char *okey,
                                      const char *etag, apr_time_t now,
                                      apr_interval_time_t ttl, apr_pool_t *p);

/*
 * Verify and decode.  H5S3_E_INVALID: tampered/malformed;
 * H5S3_E_EXPIRED: genuine but past its expiry (*out is still filled).
 */
apr_status_t h5s3_token_download_check(h5s3_download_token **out,
                                       const h5s3_token_key *key,
                                       const char *token, apr_time_t now,
                                       apr_pool_t *p);

/* A random key of len bytes (for "no H5S3TokenSecret configured"). */
apr_status_t h5s3_token_key_random(h5s3_token_key **out, apr_size_t len,
                                   apr_pool_t *p);

#endif
