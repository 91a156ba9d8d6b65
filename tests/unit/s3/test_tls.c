/*
 * TLS material and failures (s3/h5s3_s3_tls.h): what the configuration
 * check accepts and refuses, and how curl's outcome of a failed
 * handshake is named.  Certificates are made here with OpenSSL; the
 * exchanges over TLS are in tests/integration/ops/test_s3_tls.py.
 */
#include <check.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3_tls.h"
#include "unit_common.h"

/* A BIO's text, copied into the pool. */
static char *bio_text(BIO *b)
{
    char *mem;
    long n = BIO_get_mem_data(b, &mem);

    return apr_pstrmemdup(pool, mem, (apr_size_t)n);
}

/*
 * A P-256 key and a self-signed certificate for it, as PEM; with
 * passphrase, the key encrypted under it.
 */
static void make_pair(const char **cert, const char **key,
                      const char *passphrase)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());

    ck_assert_ptr_nonnull(k);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"h5s3 unit", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    ck_assert_int_eq(PEM_write_bio_X509(cb, x), 1);
    ck_assert_int_eq(PEM_write_bio_PrivateKey(
        kb, k, passphrase ? EVP_aes_256_cbc() : NULL,
        (unsigned char *)passphrase, passphrase ? (int)strlen(passphrase) : 0,
        NULL, NULL), 1);
    *cert = bio_text(cb);
    *key = bio_text(kb);
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(k);
}

static const char *write_file(const char *name, const char *text)
{
    const char *dir;
    char *path;
    apr_file_t *f;

    ck_assert_int_eq(apr_temp_dir_get(&dir, pool), APR_SUCCESS);
    path = apr_psprintf(pool, "%s/h5s3-tls-%d-%s", dir, (int)getpid(), name);
    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_WRITE
                                   | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                                   APR_FPROT_UREAD | APR_FPROT_UWRITE, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_file_puts(text, f), APR_SUCCESS);
    apr_file_close(f);
    return path;
}

START_TEST(ca_pem_checked)
{
    const char *c1, *k1, *c2, *k2;
    h5s3_result res;
    int n;

    h5s3_result_init(&res, pool);
    make_pair(&c1, &k1, NULL);
    make_pair(&c2, &k2, NULL);
    ck_assert_int_eq(h5s3_s3_tls_check_ca(&n, &res, c1, strlen(c1)),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    c2 = apr_pstrcat(pool, c1, "some words between blocks\n", c2, NULL);
    ck_assert_int_eq(h5s3_s3_tls_check_ca(&n, &res, c2, strlen(c2)),
                     APR_SUCCESS);
    ck_assert_int_eq(n, 2);

    ck_assert_int_eq(h5s3_s3_tls_check_ca(&n, &res, "not PEM at all\n", 15),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "holds no PEM certificate");
    ck_assert_int_eq(h5s3_s3_tls_check_ca(&n, &res, "", 0), H5S3_E_INVALID);
    /* A key is PEM, but no certificate. */
    ck_assert_int_eq(h5s3_s3_tls_check_ca(&n, &res, k1, strlen(k1)),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "holds no PEM certificate");
    c2 = "-----BEGIN CERTIFICATE-----\nno!base64\n-----END CERTIFICATE-----\n";
    ck_assert_int_eq(h5s3_s3_tls_check_ca(&n, &res, c2, strlen(c2)),
                     H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "does not parse"));
}
END_TEST

START_TEST(client_pair_checked)
{
    const char *c1, *k1, *c2, *k2, *enc, *both;
    h5s3_s3_tls tls;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    make_pair(&c1, &k1, NULL);
    make_pair(&c2, &k2, NULL);
    make_pair(&c2, &enc, "a passphrase");
    memset(&tls, 0, sizeof(tls));
    ck_assert_int_eq(h5s3_s3_tls_set_client(&tls, &res, c1, strlen(c1), k1,
                                            strlen(k1), pool), APR_SUCCESS);
    /* Written afresh: the certificate alone, the key alone. */
    ck_assert_ptr_nonnull(strstr(tls.cert_pem, "BEGIN CERTIFICATE"));
    ck_assert_ptr_null(strstr(tls.cert_pem, "PRIVATE KEY"));
    ck_assert_ptr_nonnull(strstr(tls.key_pem, "BEGIN PRIVATE KEY"));
    ck_assert_ptr_null(strstr(tls.key_pem, "CERTIFICATE"));

    /* One text holding both, in either order. */
    both = apr_pstrcat(pool, k1, c1, NULL);
    memset(&tls, 0, sizeof(tls));
    ck_assert_int_eq(h5s3_s3_tls_set_client(&tls, &res, both, strlen(both),
                                            both, strlen(both), pool),
                     APR_SUCCESS);
    ck_assert_ptr_null(strstr(tls.cert_pem, "PRIVATE KEY"));

    memset(&tls, 0, sizeof(tls));
    ck_assert_int_eq(h5s3_s3_tls_set_client(&tls, &res, c1, strlen(c1), k2,
                                            strlen(k2), pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail,
                     "the private key does not match the certificate");
    ck_assert_ptr_null(tls.key_pem);
    ck_assert_int_eq(h5s3_s3_tls_set_client(&tls, &res, c2, strlen(c2), enc,
                                            strlen(enc), pool),
                     H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "encrypted"));
    ck_assert_int_eq(h5s3_s3_tls_set_client(&tls, &res, c1, strlen(c1), c1,
                                            strlen(c1), pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "holds no PEM private key");
    ck_assert_int_eq(h5s3_s3_tls_set_client(&tls, &res, k1, strlen(k1), k1,
                                            strlen(k1), pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, "holds no PEM certificate");
}
END_TEST

START_TEST(files_named)
{
    const char *c1, *k1, *c2, *k2, *cp, *kp, *kp2, *dir, *d;
    h5s3_s3_tls tls;
    h5s3_result res;

    h5s3_result_init(&res, pool);
    make_pair(&c1, &k1, NULL);
    make_pair(&c2, &k2, NULL);
    cp = write_file("cert.pem", c1);
    kp = write_file("key.pem", k1);
    kp2 = write_file("other.key", k2);
    memset(&tls, 0, sizeof(tls));
    ck_assert_int_eq(h5s3_s3_tls_load_ca(&tls, &res, cp, pool), APR_SUCCESS);
    ck_assert_uint_eq(tls.ca_len, strlen(c1));
    ck_assert_int_eq(h5s3_s3_tls_load_client(&tls, &res, cp, kp, pool),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(tls.key_pem);

    ck_assert_int_eq(h5s3_s3_tls_load_ca(&tls, &res, kp, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, apr_psprintf(pool, "'%s' holds no PEM "
                                              "certificate", kp));
    ck_assert_int_eq(h5s3_s3_tls_load_ca(&tls, &res, "/nonexistent/ca.pem",
                                         pool), H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "'/nonexistent/ca.pem' cannot "
                                             "be read"));
    ck_assert_int_eq(apr_temp_dir_get(&dir, pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_s3_tls_load_ca(&tls, &res, dir, pool),
                     H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "not a regular file"));
    /* A mismatch names the key file, and the certificate's. */
    ck_assert_int_eq(h5s3_s3_tls_load_client(&tls, &res, cp, kp2, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, apr_psprintf(
        pool, "'%s': the private key does not match the certificate in "
        "'%s'", kp2, cp));
    ck_assert_int_eq(h5s3_s3_tls_load_client(&tls, &res, cp, NULL, pool),
                     H5S3_E_INVALID);
    ck_assert_str_eq(res.detail, apr_psprintf(pool, "'%s': holds no PEM "
                                              "private key", cp));

    /* A hashed directory needs a hashed name. */
    d = apr_psprintf(pool, "%s/h5s3-tls-dir-%d", dir, (int)getpid());
    ck_assert_int_eq(apr_dir_make(d, APR_FPROT_OS_DEFAULT, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_s3_tls_check_ca_dir(&tls, &res, d, pool),
                     H5S3_E_INVALID);
    ck_assert_ptr_nonnull(strstr(res.detail, "openssl rehash"));
    {
        apr_file_t *f;
        const char *h = apr_pstrcat(pool, d, "/5d8a1f0c.0", NULL);

        ck_assert_int_eq(apr_file_open(&f, h, APR_FOPEN_WRITE
                                       | APR_FOPEN_CREATE,
                                       APR_FPROT_OS_DEFAULT, pool),
                         APR_SUCCESS);
        apr_file_close(f);
        ck_assert_int_eq(h5s3_s3_tls_check_ca_dir(&tls, &res, d, pool),
                         APR_SUCCESS);
        ck_assert_str_eq(tls.ca_dir, d);
        apr_file_remove(h, pool);
    }
    apr_dir_remove(d, pool);
    apr_file_remove(cp, pool);
    apr_file_remove(kp, pool);
    apr_file_remove(kp2, pool);
}
END_TEST

/* curl's words for each failure, as 7.88 with OpenSSL 3 writes them. */
START_TEST(failures_named)
{
    static const struct {
        int cc;
        long verify;
        const char *errbuf;
        int cert;
        h5s3_s3_tls_failure want;
    } cases[] = {
        {CURLE_PEER_FAILED_VERIFICATION, 20, "SSL certificate problem: "
         "unable to get local issuer certificate", 0, H5S3_TLS_UNTRUSTED},
        {CURLE_PEER_FAILED_VERIFICATION, 19, "SSL certificate problem: "
         "self-signed certificate in certificate chain", 0,
         H5S3_TLS_UNTRUSTED},
        {CURLE_PEER_FAILED_VERIFICATION, 1, "SSL: no alternative "
         "certificate subject name matches target host name '127.0.0.1'", 0,
         H5S3_TLS_NAME},
        {CURLE_PEER_FAILED_VERIFICATION, 0, "SSL: certificate subject name "
         "'x' does not match target host name 'y'", 1, H5S3_TLS_NAME},
        {CURLE_PEER_FAILED_VERIFICATION, 10, "SSL certificate problem: "
         "certificate has expired", 0, H5S3_TLS_EXPIRED},
        {CURLE_PEER_FAILED_VERIFICATION, 9, "", 0, H5S3_TLS_NOT_YET_VALID},
        {CURLE_RECV_ERROR, 0, "OpenSSL SSL_read: OpenSSL/3.0.19: error:"
         "0A00045C:SSL routines::tlsv13 alert certificate required, errno 0",
         0, H5S3_TLS_CLIENT_REQUIRED},
        {CURLE_RECV_ERROR, 0, "OpenSSL SSL_read: OpenSSL/3.0.19: error:"
         "0A000418:SSL routines::tlsv1 alert unknown ca, errno 0", 1,
         H5S3_TLS_CLIENT_REFUSED},
        {CURLE_SSL_CONNECT_ERROR, 0, "OpenSSL/3.0.19: error:0A000410:SSL "
         "routines::sslv3 alert handshake failure", 0,
         H5S3_TLS_CLIENT_REQUIRED},
        {CURLE_SSL_CONNECT_ERROR, 0, "OpenSSL/3.0.19: error:0A000410:SSL "
         "routines::sslv3 alert handshake failure", 1, H5S3_TLS_HANDSHAKE},
        {CURLE_SSL_CONNECT_ERROR, 0, "error:0A00010B:SSL routines::wrong "
         "version number", 0, H5S3_TLS_HANDSHAKE},
        {CURLE_SSL_CERTPROBLEM, 0, "", 1, H5S3_TLS_CLIENT_UNUSABLE},
        {CURLE_SSL_CLIENTCERT, 0, "", 0, H5S3_TLS_CLIENT_REQUIRED},
        {CURLE_OK, 0, "", 0, H5S3_TLS_NONE},
        {CURLE_COULDNT_CONNECT, 0, "Failed to connect", 0, H5S3_TLS_NONE},
        {CURLE_RECV_ERROR, 0, "Recv failure: Connection reset by peer", 0,
         H5S3_TLS_NONE},
        {CURLE_OPERATION_TIMEDOUT, 0, "Operation timed out", 1,
         H5S3_TLS_NONE},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(h5s3_s3_tls_classify(cases[i].cc, cases[i].verify,
                                           cases[i].errbuf, cases[i].cert)
                      == cases[i].want, "case %d: %s", (int)i,
                      cases[i].errbuf);
    }
    ck_assert_ptr_null(h5s3_s3_tls_message(H5S3_TLS_NONE, 0, "", pool));
    ck_assert_str_eq(h5s3_s3_tls_message(H5S3_TLS_UNTRUSTED, 20, "", pool),
                     "TLS: certificate not trusted (unable to get local "
                     "issuer certificate); H5S3CACertificateFile names the "
                     "CAs to trust");
    ck_assert_ptr_nonnull(strstr(h5s3_s3_tls_message(H5S3_TLS_NAME, 1, "",
                                                     pool),
                                 "TLS: certificate name does not match"));
    ck_assert_ptr_nonnull(strstr(h5s3_s3_tls_message(
        H5S3_TLS_CLIENT_REQUIRED, 0, "", pool), "H5S3ClientCertificateFile"));
    ck_assert_str_eq(h5s3_s3_tls_message(H5S3_TLS_HANDSHAKE, 0, "wrong "
                                         "version number", pool),
                     "TLS: handshake failed: wrong version number");
}
END_TEST

static Suite *tls_suite(void)
{
    TCase *t;
    Suite *s = unit_suite("s3_tls", "offline", &t, unit_setup, unit_teardown);

    tcase_add_test(t, ca_pem_checked);
    tcase_add_test(t, client_pair_checked);
    tcase_add_test(t, files_named);
    tcase_add_test(t, failures_named);
    return s;
}

int main(void)
{
    return unit_run(tls_suite());
}
