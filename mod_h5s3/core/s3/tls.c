/*
 * TLS material for an endpoint, checked with OpenSSL the way libcurl
 * will read it (PEM_X509_INFO_read_bio for CA bundles, PEM certificates
 * and keys for the client), and the meaning of a failed TLS exchange.
 */
#include <string.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3_tls.h"

/* ---- files ------------------------------------------------------------- */

/* A regular file, read whole into p and NUL-terminated. */
static apr_status_t read_file(char **data, apr_size_t *len,
                              h5s3_result *res, const char *path,
                              apr_pool_t *p)
{
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_status_t rv;
    char err[120];

    *data = NULL;
    *len = 0;
    rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_TYPE | APR_FINFO_SIZE, f);
    }
    if (rv != APR_SUCCESS) {
        rv = h5s3_result_printf(res, H5S3_E_INVALID, "'%s' cannot be read: "
                                "%s", path,
                                apr_strerror(rv, err, sizeof(err)));
        goto cleanup;
    }
    if (fi.filetype != APR_REG) {
        rv = h5s3_result_printf(res, H5S3_E_INVALID,
                                "'%s' is not a regular file", path);
        goto cleanup;
    }
    if (fi.size > H5S3_S3_TLS_FILE_MAX) {
        rv = h5s3_result_printf(res, H5S3_E_INVALID, "'%s' is larger than "
                                "%d bytes", path, H5S3_S3_TLS_FILE_MAX);
        goto cleanup;
    }
    *len = (apr_size_t)fi.size;
    *data = apr_palloc(p, *len + 1);
    rv = apr_file_read_full(f, *data, *len, len);
    if (rv != APR_SUCCESS && !(rv == APR_EOF && *len == 0)) {
        rv = h5s3_result_printf(res, H5S3_E_INVALID, "'%s' cannot be read: "
                                "%s", path,
                                apr_strerror(rv, err, sizeof(err)));
        goto cleanup;
    }
    (*data)[*len] = '\0';
    rv = APR_SUCCESS;
cleanup:
    if (f) {
        apr_file_close(f);
    }
    return rv;
}

/* Wipes a buffer that held a key when its pool goes. */
typedef struct wipe {
    void *data;
    apr_size_t len;
} wipe;

static apr_status_t wipe_now(void *baton)
{
    wipe *w = baton;

    OPENSSL_cleanse(w->data, w->len);
    return APR_SUCCESS;
}

static void wipe_later(void *data, apr_size_t len, apr_pool_t *p)
{
    wipe *w = apr_palloc(p, sizeof(*w));

    w->data = data;
    w->len = len;
    apr_pool_cleanup_register(p, w, wipe_now, apr_pool_cleanup_null);
}

/* ---- CA certificates --------------------------------------------------- */

apr_status_t h5s3_s3_tls_check_ca(int *count, h5s3_result *res,
                                  const char *pem, apr_size_t len)
{
    BIO *bio = NULL;
    STACK_OF(X509_INFO) *infos = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i, n = 0;

    if (count) {
        *count = 0;
    }
    if (pem == NULL || len > H5S3_S3_TLS_FILE_MAX
        || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
        return h5s3_result_set(res, H5S3_E_INVALID, "holds no PEM "
                               "certificate");
    }
    /* The very reader libcurl uses for CURLOPT_CAINFO_BLOB. */
    infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    if (infos == NULL) {
        rv = h5s3_result_set(res, H5S3_E_INVALID, "a PEM block in it does "
                             "not parse");
        goto cleanup;
    }
    for (i = 0; i < sk_X509_INFO_num(infos); i++) {
        if (sk_X509_INFO_value(infos, i)->x509) {
            n++;
        }
    }
    if (n == 0) {
        rv = h5s3_result_set(res, H5S3_E_INVALID, "holds no PEM "
                             "certificate");
        goto cleanup;
    }
    if (count) {
        *count = n;
    }
cleanup:
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(bio);
    ERR_clear_error();
    return rv;
}

apr_status_t h5s3_s3_tls_load_ca(h5s3_s3_tls *tls, h5s3_result *res,
                                 const char *path, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    if ((rv = read_file(&data, &len, res, path, p)) != APR_SUCCESS) {
        return rv;
    }
    if (h5s3_s3_tls_check_ca(NULL, res, data, len) != APR_SUCCESS) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "'%s' %s", path,
                                  h5s3_result_detail(res, "does not parse"));
    }
    tls->ca_pem = data;
    tls->ca_len = len;
    return APR_SUCCESS;
}

/* "8 hex digits" "." digits, or ".r" digits: a name `openssl rehash` made. */
static int hashed_name(const char *n)
{
    int i;

    for (i = 0; i < 8; i++) {
        if (!apr_isxdigit(n[i])) {
            return 0;
        }
    }
    n += 8;
    if (*n++ != '.') {
        return 0;
    }
    if (*n == 'r') {
        n++;
    }
    if (!apr_isdigit(*n)) {
        return 0;
    }
    while (apr_isdigit(*n)) {
        n++;
    }
    return *n == '\0';
}

apr_status_t h5s3_s3_tls_check_ca_dir(h5s3_s3_tls *tls, h5s3_result *res,
                                      const char *dir, apr_pool_t *p)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    int hashed = 0;
    char err[120];

    rv = apr_dir_open(&d, dir, p);
    if (rv != APR_SUCCESS) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "'%s' cannot be read "
                                  "as a directory: %s", dir,
                                  apr_strerror(rv, err, sizeof(err)));
    }
    while (!hashed && apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        hashed = fi.name && hashed_name(fi.name);
    }
    apr_dir_close(d);
    if (!hashed) {
        return h5s3_result_printf(res, H5S3_E_INVALID, "'%s' holds no hashed "
                                  "certificate name (run `openssl rehash` "
                                  "on it)", dir);
    }
    tls->ca_dir = apr_pstrdup(p, dir);
    return APR_SUCCESS;
}

/* ---- the client certificate --------------------------------------------- */

/* Never ask for a passphrase (OpenSSL would prompt on a terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* The bytes a memory BIO holds, copied into p. */
static char *bio_copy(apr_size_t *len, BIO *bio, apr_pool_t *p)
{
    char *mem = NULL;
    long n = BIO_get_mem_data(bio, &mem);

    *len = n > 0 ? (apr_size_t)n : 0;
    return n > 0 ? apr_pmemdup(p, mem, (apr_size_t)n) : NULL;
}

/* The certificate and the chain after it, written afresh as PEM. */
static apr_status_t read_chain(X509 **leaf, BIO *out, h5s3_result *res,
                               const char *pem, apr_size_t len)
{
    BIO *in = BIO_new_mem_buf(pem, (int)len);
    X509 *x;
    apr_status_t rv = APR_SUCCESS;

    *leaf = in ? PEM_read_bio_X509(in, NULL, no_passphrase, NULL) : NULL;
    if (*leaf == NULL || !PEM_write_bio_X509(out, *leaf)) {
        rv = h5s3_result_set(res, H5S3_E_INVALID, "holds no PEM certificate");
        goto cleanup;
    }
    while ((x = PEM_read_bio_X509(in, NULL, no_passphrase, NULL)) != NULL) {
        int ok = PEM_write_bio_X509(out, x);

        X509_free(x);
        if (!ok) {
            rv = h5s3_result_set(res, APR_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
cleanup:
    BIO_free(in);
    ERR_clear_error();
    return rv;
}

/* The private key, refused when encrypted or absent. */
static EVP_PKEY *read_key(h5s3_result *res, const char *pem, apr_size_t len)
{
    BIO *in = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = in ? PEM_read_bio_PrivateKey(in, NULL, no_passphrase,
                                                 NULL) : NULL;

    BIO_free(in);
    ERR_clear_error();
    if (key == NULL) {
        /* Encrypted PEM says so in its armour, PKCS#8 or traditional. */
        int encrypted = memmem(pem, len, "ENCRYPTED", 9) != NULL;

        h5s3_result_set(res, H5S3_E_INVALID, encrypted
                        ? "the private key is encrypted: give it without a "
                          "passphrase, in a file only root can read"
                        : "holds no PEM private key");
    }
    return key;
}

apr_status_t h5s3_s3_tls_set_client(h5s3_s3_tls *tls, h5s3_result *res,
                                    const char *cert, apr_size_t cert_len,
                                    const char *key, apr_size_t key_len,
                                    apr_pool_t *p)
{
    BIO *chain = BIO_new(BIO_s_mem());
    BIO *keyout = BIO_new(BIO_s_secmem());
    X509 *leaf = NULL;
    EVP_PKEY *pkey = NULL;
    apr_status_t rv;

    if (chain == NULL || keyout == NULL || cert_len > H5S3_S3_TLS_FILE_MAX
        || key_len > H5S3_S3_TLS_FILE_MAX) {
        rv = h5s3_result_set(res, H5S3_E_INVALID, "cannot be parsed");
        goto cleanup;
    }
    if ((rv = read_chain(&leaf, chain, res, cert, cert_len)) != APR_SUCCESS) {
        goto cleanup;
    }
    if ((pkey = read_key(res, key, key_len)) == NULL) {
        rv = H5S3_E_INVALID;
        goto cleanup;
    }
    if (X509_check_private_key(leaf, pkey) != 1) {
        rv = h5s3_result_set(res, H5S3_E_INVALID, "the private key does not "
                             "match the certificate");
        goto cleanup;
    }
    if (!PEM_write_bio_PrivateKey(keyout, pkey, NULL, NULL, 0, NULL, NULL)) {
        rv = h5s3_result_set(res, APR_ENOMEM, "out of memory");
        goto cleanup;
    }
    tls->cert_pem = bio_copy(&tls->cert_len, chain, p);
    tls->key_pem = bio_copy(&tls->key_len, keyout, p);
    wipe_later((void *)tls->key_pem, tls->key_len, p);
    rv = APR_SUCCESS;
cleanup:
    X509_free(leaf);
    EVP_PKEY_free(pkey);
    BIO_free(chain);
    BIO_free(keyout);           /* secure memory: wiped as it is freed */
    ERR_clear_error();
    return rv;
}

apr_status_t h5s3_s3_tls_load_client(h5s3_s3_tls *tls, h5s3_result *res,
                                     const char *cert_path,
                                     const char *key_path, apr_pool_t *p)
{
    char *cert, *key;
    apr_size_t cert_len, key_len;
    apr_status_t rv;

    if ((rv = read_file(&cert, &cert_len, res, cert_path, p))
        != APR_SUCCESS) {
        return rv;
    }
    if (key_path == NULL) {
        key = cert;
        key_len = cert_len;
    }
    else if ((rv = read_file(&key, &key_len, res, key_path, p))
             != APR_SUCCESS) {
        OPENSSL_cleanse(cert, cert_len);
        return rv;
    }
    rv = h5s3_s3_tls_set_client(tls, res, cert, cert_len, key, key_len, p);
    OPENSSL_cleanse(key, key_len);
    if (key != cert) {
        OPENSSL_cleanse(cert, cert_len);
    }
    if (rv != APR_SUCCESS) {
        /* Which file: the key's when the key is what failed, and the
         * certificate's too when they do not match. */
        const char *d = h5s3_result_detail(res, "cannot be parsed");
        int key_fault = key_path && strstr(d, "private key") != NULL;
        int mismatch = key_path && strstr(d, "does not match") != NULL;

        return h5s3_result_printf(res, rv, "'%s': %s%s%s%s",
                                  key_fault ? key_path : cert_path, d,
                                  mismatch ? " in '" : "",
                                  mismatch ? cert_path : "",
                                  mismatch ? "'" : "");
    }
    return APR_SUCCESS;
}

/* ---- what a failure means ---------------------------------------------- */

static int says(const char *errbuf, const char *what)
{
    return errbuf && strstr(errbuf, what) != NULL;
}

/* An alert the endpoint sent about our certificate (OpenSSL's words). */
static h5s3_s3_tls_failure alert(const char *errbuf, int client_cert)
{
    static const char *const refusals[] = {
        "alert unknown ca", "alert bad certificate",
        "alert certificate unknown", "alert certificate revoked",
        "alert certificate expired", "alert unsupported certificate",
        "alert access denied"
    };
    apr_size_t i;

    if (says(errbuf, "alert certificate required")) {
        return H5S3_TLS_CLIENT_REQUIRED;
    }
    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        if (says(errbuf, refusals[i])) {
            return client_cert ? H5S3_TLS_CLIENT_REFUSED
                               : H5S3_TLS_CLIENT_REQUIRED;
        }
    }
    /* TLS 1.2 servers answer a missing certificate this way. */
    if (says(errbuf, "alert handshake failure") && !client_cert) {
        return H5S3_TLS_CLIENT_REQUIRED;
    }
    return H5S3_TLS_NONE;
}

/*
 * curl refused the peer: its own check of the host name (it says so in
 * its words, and leaves no X.509 result of its own), else the X.509
 * result says why.
 */
static h5s3_s3_tls_failure peer(long verify, const char *errbuf)
{
    if (says(errbuf, "subject name") || says(errbuf, "target host name")) {
        return H5S3_TLS_NAME;
    }
    switch (verify) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return H5S3_TLS_NAME;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return H5S3_TLS_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return H5S3_TLS_NOT_YET_VALID;
    }
    return H5S3_TLS_UNTRUSTED;
}

h5s3_s3_tls_failure h5s3_s3_tls_classify(int curl_code, long verify_result,
                                         const char *errbuf,
                                         int client_cert)
{
    h5s3_s3_tls_failure f;

    switch (curl_code) {
    case CURLE_OK:
        return H5S3_TLS_NONE;
    case CURLE_PEER_FAILED_VERIFICATION:
        return peer(verify_result, errbuf);
    case CURLE_SSL_CLIENTCERT:
        return H5S3_TLS_CLIENT_REQUIRED;
    case CURLE_SSL_CERTPROBLEM:
        return H5S3_TLS_CLIENT_UNUSABLE;
    case CURLE_SSL_CONNECT_ERROR:
        f = alert(errbuf, client_cert);
        return f != H5S3_TLS_NONE ? f : H5S3_TLS_HANDSHAKE;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        /* TLS 1.3: the endpoint judges our certificate after the
         * handshake, so its alert comes with the first read. */
        return alert(errbuf, client_cert);
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return H5S3_TLS_HANDSHAKE;
    }
    return H5S3_TLS_NONE;
}

const char *h5s3_s3_tls_message(h5s3_s3_tls_failure f, long verify_result,
                                const char *errbuf, apr_pool_t *p)
{
    switch (f) {
    case H5S3_TLS_NONE:
        return NULL;
    case H5S3_TLS_UNTRUSTED:
        return apr_psprintf(p, "TLS: certificate not trusted%s%s%s; "
                            "H5S3CACertificateFile names the CAs to trust",
                            verify_result ? " (" : "",
                            verify_result
                            ? X509_verify_cert_error_string(verify_result)
                            : "", verify_result ? ")" : "");
    case H5S3_TLS_NAME:
        return "TLS: certificate name does not match the host name of "
               "H5S3Endpoint";
    case H5S3_TLS_EXPIRED:
        return "TLS: the endpoint's certificate has expired";
    case H5S3_TLS_NOT_YET_VALID:
        return "TLS: the endpoint's certificate is not valid yet";
    case H5S3_TLS_CLIENT_REQUIRED:
        return "TLS: the endpoint requires a client certificate "
               "(H5S3ClientCertificateFile)";
    case H5S3_TLS_CLIENT_REFUSED:
        return "TLS: the endpoint refused the client certificate of "
               "H5S3ClientCertificateFile";
    case H5S3_TLS_CLIENT_UNUSABLE:
        return "TLS: the client certificate of H5S3ClientCertificateFile "
               "cannot be used";
    case H5S3_TLS_HANDSHAKE:
        break;
    }
    return apr_psprintf(p, "TLS: handshake failed%s%s",
                        errbuf && *errbuf ? ": " : "",
                        errbuf ? errbuf : "");
}
