/*
 * HMAC-SHA256 tokens.  Payloads are JSON (jansson) so fields can be
 * added without breaking old tokens' parsing.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_encode.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/h5s3_token.h"

/*
 * Base64url without padding (RFC 4648 section 5), as APR writes it with
 * APR_ENCODE_BASE64URL.  tests/integration/api_common.py makes the same
 * text (urlsafe_b64encode, '=' stripped) to forge tokens.
 */
const char *h5s3_token_b64url_encode(const unsigned char *data,
                                     apr_size_t len, apr_pool_t *p)
{
    const char *out;

    if (len == 0)
        return "";
    out = apr_pencode_base64_binary(p, data, (apr_ssize_t)len,
                                    APR_ENCODE_BASE64URL, NULL);
    return out ? out : "";
}

/*
 * APR's decoder is lenient where a token must not be: it takes the
 * standard alphabet ('+', '/') and padding too, and ignores the unused
 * low bits of the last character.  A token has one spelling, the one
 * h5s3_token_b64url_encode writes (its MAC covers that text), so an
 * input that does not encode back to itself byte for byte is refused.
 */
apr_status_t h5s3_token_b64url_decode(unsigned char **out, apr_size_t *outlen,
                                      const char *in, apr_pool_t *p)
{
    apr_ssize_t n = (apr_ssize_t)strlen(in);
    apr_size_t size = 0, len = 0;
    unsigned char *buf;

    if (apr_decode_base64_binary(NULL, in, n, APR_ENCODE_NONE, &size)
        != APR_SUCCESS)
        return H5S3_E_INVALID;
    buf = apr_palloc(p, size + 1);
    if (apr_decode_base64_binary(buf, in, n, APR_ENCODE_NONE, &len)
        != APR_SUCCESS || len > size
        || strcmp(h5s3_token_b64url_encode(buf, len, p), in) != 0)
        return H5S3_E_INVALID;
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return APR_SUCCESS;
}

static apr_status_t mac_of(unsigned char *mac, const h5s3_token_key *key,
                           const char *data, apr_size_t len)
{
    unsigned int maclen = 0;

    if (!key || !key->data || key->len == 0)
        return H5S3_E_INVALID;
    if (!HMAC(EVP_sha256(), key->data, (int)key->len,
              (const unsigned char *)data, len, mac, &maclen)
        || maclen != 32)
        return APR_EGENERAL;
    return APR_SUCCESS;
}

apr_status_t h5s3_token_sign(const char **token, const h5s3_token_key *key,
                             const char *payload, apr_size_t len,
                             apr_pool_t *p)
{
    unsigned char mac[32];
    const char *body = h5s3_token_b64url_encode(
        (const unsigned char *)payload, len, p);
    /* The MAC covers the encoded text, exactly what travels. */
    apr_status_t rv = mac_of(mac, key, body, strlen(body));

    if (rv != APR_SUCCESS)
        return rv;
    *token = apr_pstrcat(p, body, ".",
                         h5s3_token_b64url_encode(mac, sizeof(mac), p),
                         NULL);
    return APR_SUCCESS;
}

apr_status_t h5s3_token_sign_json(const char **token,
                                  const h5s3_token_key *key, json_t *o,
                                  apr_pool_t *p)
{
    char *text;
    apr_status_t rv;

    if (!o)
        return H5S3_E_INVALID;
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return APR_ENOMEM;
    rv = h5s3_token_sign(token, key, text, strlen(text), p);
    free(text);
    return rv;
}

apr_status_t h5s3_token_open(const char **payload, apr_size_t *len,
                             const h5s3_token_key *key, const char *token,
                             apr_pool_t *p)
{
    unsigned char mac[32];
    unsigned char *given, *body;
    apr_size_t givenlen, bodylen;
    const char *dot;
    apr_status_t rv;

    if (!token || !(dot = strchr(token, '.')) || strchr(dot + 1, '.'))
        return H5S3_E_INVALID;
    if ((rv = mac_of(mac, key, token, (apr_size_t)(dot - token)))
        != APR_SUCCESS)
        return rv;
    if (h5s3_token_b64url_decode(&given, &givenlen, dot + 1, p)
        != APR_SUCCESS || givenlen != sizeof(mac)
        || CRYPTO_memcmp(given, mac, sizeof(mac)) != 0)
        return H5S3_E_INVALID;
    if (h5s3_token_b64url_decode(&body, &bodylen,
                                 apr_pstrmemdup(p, token,
                                                (apr_size_t)(dot - token)),
                                 p) != APR_SUCCESS)
        return H5S3_E_INVALID;
    *payload = (const char *)body;
    if (len)
        *len = bodylen;
    return APR_SUCCESS;
}

apr_status_t h5s3_token_download_make(const char **token,
                                      const h5s3_token_key *key,
                                      const char *bucket, const char *okey,
                                      const char *etag, apr_time_t now,
                                      apr_interval_time_t ttl, apr_pool_t *p)
{
    if (!bucket || !okey)
        return H5S3_E_INVALID;
    return h5s3_token_sign_json(token, key, json_pack(
        "{s:s, s:s, s:s, s:s, s:I}", "t", "dl", "b", bucket, "k", okey,
        "e", etag ? etag : "", "x", (json_int_t)apr_time_sec(now + ttl)), p);
}

apr_status_t h5s3_token_download_check(h5s3_download_token **out,
                                       const h5s3_token_key *key,
                                       const char *token, apr_time_t now,
                                       apr_pool_t *p)
{
    const char *payload, *ty = NULL, *b = NULL, *k = NULL, *e = NULL;
    apr_size_t len;
    json_t *o;
    json_int_t x = 0;
    h5s3_download_token *t;
    apr_status_t rv;

    if ((rv = h5s3_token_open(&payload, &len, key, token, p)) != APR_SUCCESS)
        return rv;
    o = json_loadb(payload, len, 0, NULL);
    if (!o || json_unpack(o, "{s:s, s:s, s:s, s:s, s:I}", "t", &ty, "b", &b,
                          "k", &k, "e", &e, "x", &x) != 0
        || strcmp(ty, "dl") != 0) {
        /* Signed by us but not a download token (e.g. a list cursor). */
        json_decref(o);
        return H5S3_E_INVALID;
    }
    if (x < 0 || x > APR_INT64_MAX / APR_USEC_PER_SEC) {
        /* Only we sign, but keep apr_time_from_sec() defined. */
        json_decref(o);
        return H5S3_E_INVALID;
    }
    t = apr_pcalloc(p, sizeof(*t));
    t->bucket = apr_pstrdup(p, b);
    t->key = apr_pstrdup(p, k);
    t->etag = apr_pstrdup(p, e);
    t->expires = apr_time_from_sec(x);
    json_decref(o);
    *out = t;
    return now >= t->expires ? H5S3_E_EXPIRED : APR_SUCCESS;
}

apr_status_t h5s3_token_key_random(h5s3_token_key **out, apr_size_t len,
                                   apr_pool_t *p)
{
    h5s3_token_key *k = apr_pcalloc(p, sizeof(*k));
    unsigned char *d = apr_palloc(p, len);

    if (len == 0 || RAND_bytes(d, (int)len) != 1)
        return APR_EGENERAL;
    k->data = d;
    k->len = len;
    *out = k;
    return APR_SUCCESS;
}
