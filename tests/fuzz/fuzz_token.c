/*
 * Tokens and their base64url: download tokens arrive in URLs, so the
 * decoder and the MAC check see anything.  The payload decoder behind
 * the MAC is reached too, by signing the input with the fuzzer's key
 * (only we can sign, but a bug there must not hide behind the MAC).
 * Round trips are checked: decode(encode(x)) == x, open(sign(x)) == x.
 */
#include <stdio.h>
#include "fuzz_common.h"
#include "base/h5s3_token.h"

static const unsigned char key_bytes[] = "fuzz-token-secret";
static const h5s3_token_key key = { key_bytes, sizeof(key_bytes) - 1 };

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_token: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size, p);
    unsigned char *dec;
    apr_size_t declen, plen;
    const char *enc, *tok, *payload;
    h5s3_download_token *dt;
    apr_time_t now = apr_time_from_sec(1700000000);

    /* The raw input as base64url, as a token, as a download token. */
    if (h5s3_token_b64url_decode(&dec, &declen, s, p) == APR_SUCCESS) {
        enc = h5s3_token_b64url_encode(dec, declen, p);
        check(h5s3_token_b64url_decode(&dec, &plen, enc, p) == APR_SUCCESS,
              "re-encoded text does not decode");
        check(plen == declen, "re-encoded text decodes to another length");
    }
    h5s3_token_open(&payload, &plen, &key, s, p);
    h5s3_token_download_check(&dt, &key, s, now, p);

    /* Arbitrary bytes survive encode/decode. */
    enc = h5s3_token_b64url_encode(data, size, p);
    check(h5s3_token_b64url_decode(&dec, &declen, enc, p) == APR_SUCCESS,
          "encoded bytes do not decode");
    check(declen == size && (size == 0 || memcmp(dec, data, size) == 0),
          "decode(encode(x)) != x");

    /* The input as a genuine payload: the JSON decoder behind the MAC. */
    if (h5s3_token_sign(&tok, &key, (const char *)data, size, p)
        == APR_SUCCESS) {
        check(h5s3_token_open(&payload, &plen, &key, tok, p) == APR_SUCCESS,
              "a token we signed does not open");
        check(plen == size && (size == 0 || memcmp(payload, data, size) == 0),
              "open(sign(x)) != x");
        h5s3_token_download_check(&dt, &key, tok, now, p);
    }
    apr_pool_destroy(p);
    return 0;
}
