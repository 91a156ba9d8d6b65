/*
 * SigV4 against published vectors: AWS's aws-sig-v4-test-suite (the cases
 * whose path needs no normalisation, since S3 never normalises) and the
 * S3 examples of "Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk" (examplebucket, 20130524).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3_sign.h"
#include "unit_common.h"

/* ---- aws-sig-v4-test-suite ---------------------------------------- */

#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "example.amazonaws.com"

static h5s3_s3_signature *suite_sign(const char *method, const char *path,
                                     const h5s3_s3_kv *q, int nq,
                                     const h5s3_s3_kv *h, int nh,
                                     const char *body)
{
    h5s3_s3_sign_req r;
    h5s3_s3_signature *s = NULL;
    char hash[65];

    h5s3_s3_sha256_hex(hash, body, strlen(body));
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.host = SUITE_HOST;
    r.path = path;
    r.query = q;
    r.nquery = nq;
    r.headers = h;
    r.nheaders = nh;
    r.payload_hash = apr_pstrdup(pool, hash);
    r.amz_date = SUITE_DATE;
    r.region = "us-east-1";
    r.service = "service";
    r.access_key = SUITE_KEY;
    r.secret_key = SUITE_SECRET;
    ck_assert_int_eq(h5s3_s3_sign(&s, &r, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void check_suite_auth(const h5s3_s3_signature *s,
                             const char *signed_headers, const char *sig)
{
    char *want = apr_pstrcat(pool,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
        "service/aws4_request, SignedHeaders=", signed_headers,
        ", Signature=", sig, NULL);

    ck_assert_str_eq(s->authorization, want);
}

START_TEST(suite_get_vanilla)
{
    h5s3_s3_signature *s = suite_sign("GET", "/", NULL, 0, NULL, 0, "");

    ck_assert_str_eq(s->canonical_request,
        "GET\n/\n\nhost:example.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_str_eq(s->string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n"
        "20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    check_suite_auth(s, "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}
END_TEST

START_TEST(suite_post_vanilla)
{
    h5s3_s3_signature *s = suite_sign("POST", "/", NULL, 0, NULL, 0, "");

    check_suite_auth(s, "host;x-amz-date",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}
END_TEST

START_TEST(suite_query_order_key_case)
{
    static const h5s3_s3_kv q[] = {
        {"Param2", "value2"}, {"Param1", "value1"}
    };
    h5s3_s3_signature *s = suite_sign("GET", "/", q, 2, NULL, 0, "");

    ck_assert_str_eq(s->canonical_query, "Param1=value1&Param2=value2");
    check_suite_auth(s, "host;x-amz-date",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}
END_TEST

START_TEST(suite_query_unreserved)
{
    static const char *u =
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    h5s3_s3_kv q[1];
    h5s3_s3_signature *s;

    q[0].name = u;
    q[0].value = u;
    s = suite_sign("GET", "/", q, 1, NULL, 0, "");
    check_suite_auth(s, "host;x-amz-date",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
}
END_TEST

START_TEST(suite_empty_query_key)
{
    static const h5s3_s3_kv q[] = { {"Param1", "value1"} };
    h5s3_s3_signature *s = suite_sign("GET", "/", q, 1, NULL, 0, "");

    check_suite_auth(s, "host;x-amz-date",
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
}
END_TEST

START_TEST(suite_utf8_query)
{
    static const h5s3_s3_kv q[] = { {"\xe1\x88\xb4", "bar"} };
    h5s3_s3_signature *s = suite_sign("GET", "/", q, 1, NULL, 0, "");

    ck_assert_str_eq(s->canonical_query, "%E1%88%B4=bar");
    check_suite_auth(s, "host;x-amz-date",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04");
}
END_TEST

START_TEST(suite_query_order_encoded)
{
    /* Sorted by the encoded names: "%E1..." < "Param" < "Param-3". */
    static const h5s3_s3_kv q[] = {
        {"Param-3", "Value3"}, {"Param", "Value2"}, {"\xe1\x88\xb4", "Value1"}
    };
    h5s3_s3_signature *s = suite_sign("GET", "/", q, 3, NULL, 0, "");

    ck_assert_str_eq(s->canonical_query,
                     "%E1%88%B4=Value1&Param=Value2&Param-3=Value3");
    check_suite_auth(s, "host;x-amz-date",
        "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac");
}
END_TEST

START_TEST(suite_get_utf8)
{
    h5s3_s3_signature *s = suite_sign("GET", "/\xe1\x88\xb4", NULL, 0,
                                      NULL, 0, "");

    ck_assert_str_eq(s->canonical_uri, "/%E1%88%B4");
    check_suite_auth(s, "host;x-amz-date",
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}
END_TEST

START_TEST(suite_get_space)
{
    h5s3_s3_signature *s = suite_sign("GET", "/example space/", NULL, 0,
                                      NULL, 0, "");

    ck_assert_str_eq(s->canonical_uri, "/example%20space/");
    check_suite_auth(s, "host;x-amz-date",
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
}
END_TEST

START_TEST(suite_get_unreserved)
{
    h5s3_s3_signature *s = suite_sign("GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        NULL, 0, NULL, 0, "");

    check_suite_auth(s, "host;x-amz-date",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
}
END_TEST

START_TEST(suite_slashes_unnormalized)
{
    /* S3 signs "//example//" as is: no normalisation. */
    h5s3_s3_signature *s = suite_sign("GET", "//example//", NULL, 0,
                                      NULL, 0, "");

    ck_assert_str_eq(s->canonical_uri, "//example//");
    check_suite_auth(s, "host;x-amz-date",
        "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5");
}
END_TEST

START_TEST(suite_header_value_trim)
{
    static const h5s3_s3_kv h[] = {
        {"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}
    };
    h5s3_s3_signature *s = suite_sign("GET", "/", NULL, 0, h, 2, "");

    ck_assert_ptr_nonnull(strstr(s->canonical_request,
                          "my-header1:value1\nmy-header2:\"a b c\"\n"));
    check_suite_auth(s, "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}
END_TEST

START_TEST(suite_post_header_key_sort)
{
    static const h5s3_s3_kv h[] = { {"My-Header1", "value1"} };
    h5s3_s3_signature *s = suite_sign("POST", "/", NULL, 0, h, 1, "");

    check_suite_auth(s, "host;my-header1;x-amz-date",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");
}
END_TEST

START_TEST(suite_post_x_www_form_urlencoded)
{
    static const h5s3_s3_kv h[] = {
        {"Content-Type", "application/x-www-form-urlencoded"}
    };
    h5s3_s3_signature *s = suite_sign("POST", "/", NULL, 0, h, 1,
                                      "Param1=value1");

    ck_assert_str_eq(s->canonical_request,
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n"
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    check_suite_auth(s, "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}
END_TEST

START_TEST(signing_key_iam_example)
{
    /* AWS's "derive a signing key" example (IAM, 20150830). */
    unsigned char k[32];
    char hex[65];
    int i;

    ck_assert_int_eq(h5s3_s3_signing_key(k, SUITE_SECRET, "20150830",
                                         "us-east-1", "iam"), APR_SUCCESS);
    for (i = 0; i < 32; i++) {
        sprintf(hex + 2 * i, "%02x", k[i]);
    }
    ck_assert_str_eq(hex,
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}
END_TEST

/* ---- S3 examples (examplebucket) ---------------------------------- */

#define S3_KEY "AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static h5s3_s3_signature *s3_sign(const char *method, const char *path,
                                  const h5s3_s3_kv *q, int nq,
                                  const h5s3_s3_kv *h, int nh,
                                  const char *payload_hash)
{
    h5s3_s3_sign_req r;
    h5s3_s3_signature *s = NULL;

    memset(&r, 0, sizeof(r));
    r.method = method;
    r.host = "examplebucket.s3.amazonaws.com";
    r.path = path;
    r.query = q;
    r.nquery = nq;
    r.headers = h;
    r.nheaders = nh;
    r.payload_hash = payload_hash;
    r.amz_date = "20130524T000000Z";
    r.region = "us-east-1";
    r.service = "s3";
    r.access_key = S3_KEY;
    r.secret_key = S3_SECRET;
    ck_assert_int_eq(h5s3_s3_sign(&s, &r, pool), APR_SUCCESS);
    return s;
}

START_TEST(s3_get_object_range)
{
    static const h5s3_s3_kv h[] = {
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", H5S3_SHA256_EMPTY},
    };
    h5s3_s3_signature *s = s3_sign("GET", "/test.txt", NULL, 0, h, 2,
                                   H5S3_SHA256_EMPTY);

    ck_assert_str_eq(s->canonical_request,
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
        "range:bytes=0-9\nx-amz-content-sha256:" H5S3_SHA256_EMPTY "\n"
        "x-amz-date:20130524T000000Z\n\n"
        "host;range;x-amz-content-sha256;x-amz-date\n" H5S3_SHA256_EMPTY);
    ck_assert_str_eq(s->string_to_sign,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n"
        "20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    ck_assert_str_eq(s->authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
        "us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature="
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}
END_TEST

START_TEST(s3_put_object)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[65];
    h5s3_s3_kv h[3];
    h5s3_s3_signature *s;

    h5s3_s3_sha256_hex(hash, body, strlen(body));
    ck_assert_str_eq(hash,
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    h[0].name = "Date";
    h[0].value = "Fri, 24 May 2013 00:00:00 GMT";
    h[1].name = "x-amz-storage-class";
    h[1].value = "REDUCED_REDUNDANCY";
    h[2].name = "x-amz-content-sha256";
    h[2].value = hash;
    /* The key "test$file.text": '$' is encoded in the canonical URI. */
    s = s3_sign("PUT", "/test$file.text", NULL, 0, h, 3, hash);
    ck_assert_str_eq(s->canonical_uri, "/test%24file.text");
    ck_assert_str_eq(s->signed_headers,
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
    ck_assert_str_eq(s->signature,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}
END_TEST

START_TEST(s3_get_lifecycle)
{
    static const h5s3_s3_kv q[] = { {"lifecycle", NULL} };
    static const h5s3_s3_kv h[] = {
        {"x-amz-content-sha256", H5S3_SHA256_EMPTY}
    };
    h5s3_s3_signature *s = s3_sign("GET", "/", q, 1, h, 1,
                                   H5S3_SHA256_EMPTY);

    ck_assert_str_eq(s->canonical_query, "lifecycle=");
    ck_assert_str_eq(s->signature,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}
END_TEST

START_TEST(s3_list_objects)
{
    static const h5s3_s3_kv q[] = { {"prefix", "J"}, {"max-keys", "2"} };
    static const h5s3_s3_kv h[] = {
        {"x-amz-content-sha256", H5S3_SHA256_EMPTY}
    };
    h5s3_s3_signature *s = s3_sign("GET", "/", q, 2, h, 1,
                                   H5S3_SHA256_EMPTY);

    ck_assert_str_eq(s->canonical_query, "max-keys=2&prefix=J");
    ck_assert_str_eq(s->signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}
END_TEST

/* ---- helpers and rejects ------------------------------------------ */

START_TEST(uri_encode_rules)
{
    ck_assert_str_eq(h5s3_s3_uri_encode(pool, "a b/c+d=%~", 0),
                     "a%20b/c%2Bd%3D%25~");
    ck_assert_str_eq(h5s3_s3_uri_encode(pool, "a b/c+d=%~", 1),
                     "a%20b%2Fc%2Bd%3D%25~");
    ck_assert_str_eq(h5s3_s3_uri_encode(pool, "\xc3\xa9*", 1), "%C3%A9%2A");
    ck_assert_str_eq(h5s3_s3_uri_encode(pool, "", 1), "");
}
END_TEST

START_TEST(duplicate_headers_joined)
{
    static const h5s3_s3_kv h[] = {
        {"X-Amz-Meta-A", "2"}, {"x-amz-meta-a", " 1 "},
        {"User-Agent", "never signed"}, {"Expect", "100-continue"}
    };
    h5s3_s3_signature *s = suite_sign("GET", "/", NULL, 0, h, 4, "");

    ck_assert_str_eq(s->signed_headers, "host;x-amz-date;x-amz-meta-a");
    ck_assert_ptr_nonnull(strstr(s->canonical_request, "x-amz-meta-a:2,1\n"));
}
END_TEST

START_TEST(rejects_bad_input)
{
    h5s3_s3_sign_req r;
    h5s3_s3_signature *s = (void *)1;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.host = "h";
    r.path = "/";
    r.payload_hash = H5S3_SHA256_EMPTY;
    r.amz_date = "2015-08-30T12:36:00Z";
    r.region = "us-east-1";
    r.service = "s3";
    r.access_key = "a";
    r.secret_key = "b";
    ck_assert_int_eq(h5s3_s3_sign(&s, &r, pool), H5S3_E_INVALID);
    ck_assert_ptr_null(s);
    r.amz_date = "20150830T123600Z";
    r.path = "no-slash";
    ck_assert_int_eq(h5s3_s3_sign(&s, &r, pool), H5S3_E_INVALID);
    r.path = "/";
    r.secret_key = NULL;
    ck_assert_int_eq(h5s3_s3_sign(&s, &r, pool), H5S3_E_INVALID);
    r.secret_key = "b";
    ck_assert_int_eq(h5s3_s3_sign(&s, &r, pool), APR_SUCCESS);
}
END_TEST

START_TEST(cached_key_gives_same_signature)
{
    unsigned char k[32];
    h5s3_s3_sign_req r;
    h5s3_s3_signature *a, *b;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.host = SUITE_HOST;
    r.path = "/";
    r.payload_hash = H5S3_SHA256_EMPTY;
    r.amz_date = SUITE_DATE;
    r.region = "us-east-1";
    r.service = "service";
    r.access_key = SUITE_KEY;
    r.secret_key = SUITE_SECRET;
    ck_assert_int_eq(h5s3_s3_sign(&a, &r, pool), APR_SUCCESS);
    ck_assert_int_eq(h5s3_s3_signing_key(k, SUITE_SECRET, "20150830",
                                         "us-east-1", "service"),
                     APR_SUCCESS);
    r.signing_key = k;
    ck_assert_int_eq(h5s3_s3_sign(&b, &r, pool), APR_SUCCESS);
    ck_assert_str_eq(a->authorization, b->authorization);
    /* The secret never shows in what a caller might log. */
    ck_assert_ptr_null(strstr(a->authorization, SUITE_SECRET));
    ck_assert_ptr_null(strstr(a->canonical_request, SUITE_SECRET));
}
END_TEST

static Suite *sign_suite(void)
{
    TCase *t;
    Suite *s = unit_suite("s3_sign", "vectors", &t,
                          unit_setup, unit_teardown);

    tcase_add_test(t, suite_get_vanilla);
    tcase_add_test(t, suite_post_vanilla);
    tcase_add_test(t, suite_query_order_key_case);
    tcase_add_test(t, suite_query_unreserved);
    tcase_add_test(t, suite_empty_query_key);
    tcase_add_test(t, suite_utf8_query);
    tcase_add_test(t, suite_query_order_encoded);
    tcase_add_test(t, suite_get_utf8);
    tcase_add_test(t, suite_get_space);
    tcase_add_test(t, suite_get_unreserved);
    tcase_add_test(t, suite_slashes_unnormalized);
    tcase_add_test(t, suite_header_value_trim);
    tcase_add_test(t, suite_post_header_key_sort);
    tcase_add_test(t, suite_post_x_www_form_urlencoded);
    tcase_add_test(t, signing_key_iam_example);
    tcase_add_test(t, s3_get_object_range);
    tcase_add_test(t, s3_put_object);
    tcase_add_test(t, s3_get_lifecycle);
    tcase_add_test(t, s3_list_objects);
    tcase_add_test(t, uri_encode_rules);
    tcase_add_test(t, duplicate_headers_joined);
    tcase_add_test(t, rejects_bad_input);
    tcase_add_test(t, cached_key_gives_same_signature);
    return s;
}

int main(void)
{
    return unit_run(sign_suite());
}
