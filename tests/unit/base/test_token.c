/* HMAC-SHA256 tokens: round trips, tampering, expiry, URL safety. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "base/h5s3_token.h"
#include "unit_common.h"

static const h5s3_token_key key = {(const unsigned char *)"s3cret-key", 10};
static const h5s3_token_key other = {(const unsigned char *)"s3cret-kez", 10};

START_TEST(b64url_round_trip)
{
    unsigned char data[256], *back;
    apr_size_t n, len, i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(255 - i);
    for (n = 0; n <= sizeof(data); n += 1 + n / 3) {
        const char *enc = h5s3_token_b64url_encode(data, n, pool);
        ck_assert_uint_eq(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                 "klmnopqrstuvwxyz0123456789-_"),
                          strlen(enc));
        ck_assert_int_eq(h5s3_token_b64url_decode(&back, &len, enc, pool),
                         APR_SUCCESS);
        ck_assert_uint_eq(len, n);
        ck_assert(memcmp(back, data, n) == 0);
    }
    /* RFC 4648 test vector, unpadded. */
    ck_assert_str_eq(h5s3_token_b64url_encode((const unsigned char *)"foob",
                                              4, pool), "Zm9vYg");
    ck_assert_int_eq(h5s3_token_b64url_decode(&back, &len, "Zm9v+g", pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_token_b64url_decode(&back, &len, "Zm9vY", pool),
                     H5S3_E_INVALID);
}
END_TEST

/*
 * Fixed vectors, computed outside the module the way
 * tests/integration/api_common.py forges tokens (Python's hmac and
 * base64.urlsafe_b64encode with '=' stripped): the format is byte for
 * byte the same whoever encodes it.
 */
START_TEST(b64url_fixed_vectors)
{
    static const unsigned char edge[] = {0xfb, 0xff, 0xbf, 0x00, 0xff};
    const char *dl = "{\"t\":\"dl\",\"b\":\"bkt\",\"k\":\"dir/a b/x.zip\","
                     "\"e\":\"etag-1\",\"x\":1700000300}";
    const char *tok, *payload;
    unsigned char *back;
    apr_size_t len;

    /* The two characters that differ from standard base64. */
    ck_assert_str_eq(h5s3_token_b64url_encode(edge, sizeof(edge), pool),
                     "-_-_AP8");
    ck_assert_int_eq(h5s3_token_b64url_decode(&back, &len, "-_-_AP8", pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(edge));
    ck_assert(memcmp(back, edge, sizeof(edge)) == 0);
    ck_assert_str_eq(h5s3_token_b64url_encode(edge, 0, pool), "");
    ck_assert_int_eq(h5s3_token_b64url_decode(&back, &len, "", pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 0);

    ck_assert_int_eq(h5s3_token_sign(&tok, &key, "hello", 5, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(tok, "aGVsbG8.IqB84wqZRgluV7vIKGKm323mfuf0a3TGdqY7G265J0Y");
    ck_assert_int_eq(h5s3_token_sign(&tok, &key, dl, strlen(dl), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(tok, "eyJ0IjoiZGwiLCJiIjoiYmt0IiwiayI6ImRpci9hIGIveC56"
                     "aXAiLCJlIjoiZXRhZy0xIiwieCI6MTcwMDAwMDMwMH0."
                     "v5oxNIIpw9_P75uJXiJj4axDXg8YrIk7N4G2AUrcyb0");
    ck_assert_int_eq(h5s3_token_open(&payload, &len, &key, tok, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(dl));
    ck_assert_str_eq(payload, dl);
}
END_TEST

/* Only the encoder's own spelling decodes: a token has one text. */
START_TEST(b64url_one_spelling)
{
    static const char *const refused[] = {
        "Zm9vYg==",             /* padding */
        "Zm9vYg=",
        "Zm9v+g",               /* the standard alphabet */
        "Zm9v/g",
        "+_-_",
        "Zm9vYh",               /* unused low bits set */
        "Zm9vYmF",
        "Zm9vY",                /* a lone last character */
        "Z",
        "Zm9v Yg",              /* spaces, controls, non-ASCII */
        " Zm9vYg",
        "Zm9vYg\n",
        "Zm9v\377g",
        "Zm9v.Yg",
    };
    unsigned char *back;
    apr_size_t len, i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ck_assert_msg(h5s3_token_b64url_decode(&back, &len, refused[i], pool)
                      == H5S3_E_INVALID, "'%s' was decoded", refused[i]);
    }
    ck_assert_int_eq(h5s3_token_b64url_decode(&back, &len, "Zm9vYg", pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 4);
    ck_assert_str_eq((const char *)back, "foob");
}
END_TEST

START_TEST(sign_open_and_tamper)
{
    const char *tok, *payload;
    apr_size_t len;
    char *bad;
    size_t i;

    ck_assert_int_eq(h5s3_token_sign(&tok, &key, "hello", 5, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_token_open(&payload, &len, &key, tok, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 5);
    ck_assert_str_eq(payload, "hello");
    ck_assert_int_eq(h5s3_token_open(&payload, &len, &other, tok, pool),
                     H5S3_E_INVALID);
    /* Every single-character change anywhere is caught. */
    for (i = 0; i < strlen(tok); i++) {
        if (tok[i] == '.')
            continue;
        bad = apr_pstrdup(pool, tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        ck_assert_int_eq(h5s3_token_open(&payload, &len, &key, bad, pool),
                         H5S3_E_INVALID);
    }
    ck_assert_int_eq(h5s3_token_open(&payload, &len, &key, "", pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_token_open(&payload, &len, &key, "abc", pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_token_open(&payload, &len, &key,
                                     apr_pstrcat(pool, tok, ".x", NULL),
                                     pool), H5S3_E_INVALID);
}
END_TEST

START_TEST(download_token)
{
    apr_time_t now = apr_time_from_sec(1700000000);
    h5s3_download_token *t = NULL;
    const char *tok;

    ck_assert_int_eq(h5s3_token_download_make(&tok, &key, "bkt",
                                              "dir/a b/ü.zip", "etag-1",
                                              now, H5S3_TOKEN_DOWNLOAD_TTL,
                                              pool), APR_SUCCESS);
    ck_assert_uint_eq(strcspn(tok, "/+=?&% "), strlen(tok));
    ck_assert_int_eq(h5s3_token_download_check(&t, &key, tok,
                                               now + apr_time_from_sec(299),
                                               pool), APR_SUCCESS);
    ck_assert_str_eq(t->bucket, "bkt");
    ck_assert_str_eq(t->key, "dir/a b/ü.zip");
    ck_assert_str_eq(t->etag, "etag-1");
    ck_assert(t->expires == now + apr_time_from_sec(300));
    /* Expired is distinct from tampered. */
    ck_assert_int_eq(h5s3_token_download_check(&t, &key, tok,
                                               now + apr_time_from_sec(300),
                                               pool), H5S3_E_EXPIRED);
    ck_assert_int_eq(h5s3_token_download_check(&t, &other, tok, now, pool),
                     H5S3_E_INVALID);
    ck_assert_int_ne(H5S3_E_EXPIRED, H5S3_E_INVALID);
}
END_TEST

START_TEST(foreign_payload_is_not_a_download_token)
{
    h5s3_download_token *t;
    const char *tok, *p = "{\"t\":\"cur\",\"b\":\"x\",\"k\":\"y\","
                          "\"e\":\"\",\"x\":9999999999}";

    ck_assert_int_eq(h5s3_token_sign(&tok, &key, p, strlen(p), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_token_download_check(&t, &key, tok, 0, pool),
                     H5S3_E_INVALID);
}
END_TEST

START_TEST(random_keys_differ)
{
    h5s3_token_key *a, *b;

    ck_assert_int_eq(h5s3_token_key_random(&a, 32, pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_token_key_random(&b, 32, pool), APR_SUCCESS);
    ck_assert_uint_eq(a->len, 32);
    ck_assert(memcmp(a->data, b->data, 32) != 0);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("token", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, b64url_round_trip);
    tcase_add_test(tc, b64url_fixed_vectors);
    tcase_add_test(tc, b64url_one_spelling);
    tcase_add_test(tc, sign_open_and_tamper);
    tcase_add_test(tc, download_token);
    tcase_add_test(tc, foreign_payload_is_not_a_download_token);
    tcase_add_test(tc, random_keys_differ);
    return unit_run(s);
}
