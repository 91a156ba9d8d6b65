/*
 * AWS Signature Version 4 for S3: canonical request, string to sign,
 * signing key and Authorization header.  S3 differs from the generic
 * algorithm in one way that matters: the path is encoded once and never
 * normalised ("//" and "." segments are signed as they are).
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_lib.h>
#include <apr_escape.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3_sign.h"

/* Percent-escapes are upper case (SigV4's canonical form). */
static const char hexu[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
        || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
        || c == '~';
}

char *h5s3_s3_uri_encode(apr_pool_t *p, const char *s, int encode_slash)
{
    apr_size_t n = 0;
    const unsigned char *u;
    char *out, *o;

    if (s == NULL) {
        return apr_pstrdup(p, "");
    }
    for (u = (const unsigned char *)s; *u; u++) {
        n += (is_unreserved(*u) || (*u == '/' && !encode_slash)) ? 1 : 3;
    }
    out = o = apr_palloc(p, n + 1);
    for (u = (const unsigned char *)s; *u; u++) {
        if (is_unreserved(*u) || (*u == '/' && !encode_slash)) {
            *o++ = (char)*u;
        }
        else {
            *o++ = '%';
            *o++ = hexu[*u >> 4];
            *o++ = hexu[*u & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

void h5s3_s3_sha256_hex(char out[65], const void *data, apr_size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = sizeof(md);

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    /* Lower-case hex, NUL-terminated: SigV4's form of a hash. */
    apr_escape_hex(out, md, 32, 0, NULL);
}

static int hmac(unsigned char out[32], const void *key, apr_size_t klen,
                const char *msg, apr_size_t mlen)
{
    unsigned int outlen = 32;

    return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
                mlen, out, &outlen) != NULL;
}

apr_status_t h5s3_s3_signing_key(unsigned char key[32], const char *secret,
                                 const char *yyyymmdd, const char *region,
                                 const char *service)
{
    unsigned char k[32];
    char seed[256];
    apr_size_t slen;

    if (!secret || !yyyymmdd || !region || !service) {
        return H5S3_E_INVALID;
    }
    slen = strlen(secret);
    if (slen + 5 > sizeof(seed)) {
        return H5S3_E_INVALID;
    }
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, slen);
    if (!hmac(k, seed, slen + 4, yyyymmdd, strlen(yyyymmdd))
        || !hmac(k, k, 32, region, strlen(region))
        || !hmac(k, k, 32, service, strlen(service))
        || !hmac(key, k, 32, "aws4_request", 12)) {
        OPENSSL_cleanse(seed, sizeof(seed));
        return APR_EGENERAL;
    }
    /* The secret must not linger on the stack. */
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(k, sizeof(k));
    return APR_SUCCESS;
}

typedef struct enc_kv {
    const char *name;
    const char *value;
} enc_kv;

static int cmp_enc_kv(const void *a, const void *b)
{
    const enc_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->value, y->value);
}

char *h5s3_s3_canonical_query(apr_pool_t *p, const h5s3_s3_kv *query,
                              int nquery)
{
    enc_kv *kv;
    apr_array_header_t *parts;
    int i;

    if (nquery <= 0 || query == NULL) {
        return apr_pstrdup(p, "");
    }
    /* Sort by the encoded forms: that is what S3 compares. */
    kv = apr_palloc(p, sizeof(*kv) * nquery);
    for (i = 0; i < nquery; i++) {
        kv[i].name = h5s3_s3_uri_encode(p, query[i].name, 1);
        kv[i].value = h5s3_s3_uri_encode(p, query[i].value, 1);
    }
    qsort(kv, nquery, sizeof(*kv), cmp_enc_kv);
    parts = apr_array_make(p, nquery, sizeof(const char *));
    for (i = 0; i < nquery; i++) {
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(p, kv[i].name, "=", kv[i].value, NULL);
    }
    return apr_array_pstrcat(p, parts, '&');
}

/* Lower-case a header name; NULL when it must not be signed. */
static char *signable_name(apr_pool_t *p, const char *name)
{
    char *n, *c;

    if (name == NULL || *name == '\0') {
        return NULL;
    }
    n = apr_pstrdup(p, name);
    for (c = n; *c; c++) {
        *c = apr_tolower(*c);
    }
    /* Same exclusions as the AWS SDKs: hop-by-hop or proxy-rewritten. */
    if (!strcmp(n, "expect") || !strcmp(n, "user-agent")
        || !strcmp(n, "authorization") || !strcmp(n, "x-amzn-trace-id")
        || !strcmp(n, "host") || !strcmp(n, "x-amz-date")) {
        return NULL;
    }
    return n;
}

/* Trim and collapse runs of spaces, as SigV4 requires. */
static char *trim_value(apr_pool_t *p, const char *v)
{
    char *out, *o;
    int space = 0;

    if (v == NULL) {
        return apr_pstrdup(p, "");
    }
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    out = o = apr_palloc(p, strlen(v) + 1);
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            space = 1;
            continue;
        }
        if (space && o != out) {
            *o++ = ' ';
        }
        space = 0;
        *o++ = *v;
    }
    *o = '\0';
    return out;
}

typedef struct hdr {
    const char *name;
    const char *value;
    int order;
} hdr;

static int cmp_hdr(const void *a, const void *b)
{
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    /* Keep duplicates in the order given: their values are joined. */
    return c ? c : x->order - y->order;
}

static int valid_amz_date(const char *d)
{
    int i;

    if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') {
        return 0;
    }
    for (i = 0; i < 15; i++) {
        if (i != 8 && (d[i] < '0' || d[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

apr_status_t h5s3_s3_sign(h5s3_s3_signature **out,
                          const h5s3_s3_sign_req *req, apr_pool_t *p)
{
    h5s3_s3_signature *sig;
    hdr *h;
    int nh = 0, i;
    apr_array_header_t *canon, *names;
    char date[9], crhash[65], sighex[65];
    unsigned char key[32], mac[32];
    const char *scope, *cr, *sts;
    apr_status_t rv;

    *out = NULL;
    if (!req || !req->method || !req->host || !req->path
        || req->path[0] != '/' || !req->payload_hash || !req->region
        || !req->service || !req->access_key || !req->secret_key
        || !valid_amz_date(req->amz_date)) {
        return H5S3_E_INVALID;
    }
    sig = apr_pcalloc(p, sizeof(*sig));
    sig->canonical_uri = h5s3_s3_uri_encode(p, req->path, 0);
    sig->canonical_query = h5s3_s3_canonical_query(p, req->query,
                                                   req->nquery);

    h = apr_palloc(p, sizeof(*h) * (req->nheaders + 2));
    h[nh].name = "host";
    h[nh].value = trim_value(p, req->host);
    h[nh].order = nh;
    nh++;
    h[nh].name = "x-amz-date";
    h[nh].value = req->amz_date;
    h[nh].order = nh;
    nh++;
    for (i = 0; i < req->nheaders; i++) {
        char *n = signable_name(p, req->headers[i].name);

        if (n) {
            h[nh].name = n;
            h[nh].value = trim_value(p, req->headers[i].value);
            h[nh].order = nh;
            nh++;
        }
    }
    qsort(h, nh, sizeof(*h), cmp_hdr);

    canon = apr_array_make(p, nh, sizeof(const char *));
    names = apr_array_make(p, nh, sizeof(const char *));
    for (i = 0; i < nh; i++) {
        const char *v = h[i].value;

        while (i + 1 < nh && !strcmp(h[i + 1].name, h[i].name)) {
            v = apr_pstrcat(p, v, ",", h[++i].value, NULL);
        }
        APR_ARRAY_PUSH(canon, const char *) =
            apr_pstrcat(p, h[i].name, ":", v, "\n", NULL);
        APR_ARRAY_PUSH(names, const char *) = h[i].name;
    }
    sig->signed_headers = apr_array_pstrcat(p, names, ';');

    cr = apr_pstrcat(p, req->method, "\n", sig->canonical_uri, "\n",
                     sig->canonical_query, "\n",
                     apr_array_pstrcat(p, canon, 0), "\n",
                     sig->signed_headers, "\n", req->payload_hash, NULL);
    sig->canonical_request = cr;
    h5s3_s3_sha256_hex(crhash, cr, strlen(cr));

    memcpy(date, req->amz_date, 8);
    date[8] = '\0';
    scope = apr_pstrcat(p, date, "/", req->region, "/", req->service,
                        "/aws4_request", NULL);
    sts = apr_pstrcat(p, "AWS4-HMAC-SHA256\n", req->amz_date, "\n", scope,
                      "\n", crhash, NULL);
    sig->string_to_sign = sts;

    if (req->signing_key) {
        memcpy(key, req->signing_key, 32);
    }
    else if ((rv = h5s3_s3_signing_key(key, req->secret_key, date,
                                       req->region, req->service))
             != APR_SUCCESS) {
        return rv;
    }
    if (!hmac(mac, key, 32, sts, strlen(sts))) {
        OPENSSL_cleanse(key, sizeof(key));
        return APR_EGENERAL;
    }
    OPENSSL_cleanse(key, sizeof(key));
    apr_escape_hex(sighex, mac, 32, 0, NULL);
    sig->signature = apr_pstrdup(p, sighex);
    sig->authorization = apr_pstrcat(p, "AWS4-HMAC-SHA256 Credential=",
                                     req->access_key, "/", scope,
                                     ", SignedHeaders=", sig->signed_headers,
                                     ", Signature=", sighex, NULL);
    *out = sig;
    return APR_SUCCESS;
}
