/*
 * TLS material for an S3 endpoint, and what a failed TLS exchange means.
 *
 * The loaders read PEM files at configuration time and check them the
 * way libcurl will use them (OpenSSL parses both), so a bad file is an
 * error of `apachectl -t` naming the file, never a failure of the first
 * request.  Their details name the file: the glue prefixes the
 * directive.  No detail ever quotes a key's bytes.
 *
 * The classifier turns curl's outcome of an exchange into one of a few
 * TLS failures, so an answer can say "certificate not trusted" rather
 * than "TransportError".
 */
#ifndef H5S3_S3_TLS_H
#define H5S3_S3_TLS_H

#include <apr_pools.h>
#include "base/h5s3_result.h"
#include "s3/h5s3_s3.h"

/* The largest PEM file read (a CA bundle of a few hundred certificates). */
#define H5S3_S3_TLS_FILE_MAX (4 * 1024 * 1024)

/*
 * CA certificates in memory: at least one, every PEM block parsing.
 * *count receives how many certificates there are (may be NULL).
 */
apr_status_t h5s3_s3_tls_check_ca(int *count, h5s3_result *res,
                                  const char *pem, apr_size_t len);

/* Read and check a PEM file of CA certificates into tls->ca_pem. */
apr_status_t h5s3_s3_tls_load_ca(h5s3_s3_tls *tls, h5s3_result *res,
                                 const char *path, apr_pool_t *p);

/*
 * A hashed directory of CA certificates (`openssl rehash`): a directory
 * that holds at least one hashed name.  libcurl reads it at each
 * handshake, in the child, so it must stay readable by httpd's user.
 */
apr_status_t h5s3_s3_tls_check_ca_dir(h5s3_s3_tls *tls, h5s3_result *res,
                                      const char *dir, apr_pool_t *p);

/*
 * A client certificate (then its chain) and its private key, in memory:
 * both parse, the key is not encrypted and matches the certificate.
 * tls->cert_pem and tls->key_pem receive them written afresh (the key
 * alone, as PKCS#8), so neither holds anything else of the files.
 * key may be the certificate's text when one file holds both.
 */
apr_status_t h5s3_s3_tls_set_client(h5s3_s3_tls *tls, h5s3_result *res,
                                    const char *cert, apr_size_t cert_len,
                                    const char *key, apr_size_t key_len,
                                    apr_pool_t *p);

/*
 * Read cert_path and key_path (NULL: the key is in cert_path) and
 * h5s3_s3_tls_set_client them.  The bytes read are wiped once parsed,
 * and the key kept is wiped when p is cleared.
 */
apr_status_t h5s3_s3_tls_load_client(h5s3_s3_tls *tls, h5s3_result *res,
                                     const char *cert_path,
                                     const char *key_path, apr_pool_t *p);

/* What went wrong in TLS, as the client is told. */
typedef enum h5s3_s3_tls_failure {
    H5S3_TLS_NONE = 0,          /* not a TLS failure */
    H5S3_TLS_UNTRUSTED,         /* the chain does not reach a trusted CA */
    H5S3_TLS_NAME,              /* the certificate names another host */
    H5S3_TLS_EXPIRED,
    H5S3_TLS_NOT_YET_VALID,
    H5S3_TLS_CLIENT_REQUIRED,   /* the endpoint wants a client certificate */
    H5S3_TLS_CLIENT_REFUSED,    /* ... and did not take ours */
    H5S3_TLS_CLIENT_UNUSABLE,   /* curl could not use ours */
    H5S3_TLS_HANDSHAKE          /* any other TLS failure */
} h5s3_s3_tls_failure;

/*
 * The TLS failure of an exchange from curl's result code, the X.509
 * verification result (CURLINFO_SSL_VERIFYRESULT) and curl's error text;
 * client_cert: whether a client certificate was offered.
 */
h5s3_s3_tls_failure h5s3_s3_tls_classify(int curl_code, long verify_result,
                                         const char *errbuf,
                                         int client_cert);

/*
 * The message for a failure, "TLS: ..." and a hint naming the directive
 * that fixes it; errbuf adds curl's words to a HANDSHAKE failure.
 */
const char *h5s3_s3_tls_message(h5s3_s3_tls_failure f, long verify_result,
                                const char *errbuf, apr_pool_t *p);

#endif
