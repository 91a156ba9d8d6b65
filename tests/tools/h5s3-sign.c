/*
 * h5s3-sign: print the SigV4 Authorization header the core computes for a
 * request described as JSON on stdin, so tests can compare it with
 * independent signers (botocore).
 *
 *   {"method": "GET", "host": "h:8000", "path": "/bucket/raw key",
 *    "query": [["prefix", "a b"], ...], "headers": [["Range", "..."], ...],
 *    "payload_hash": "<hex>|UNSIGNED-PAYLOAD" (or "payload": "<body>"),
 *    "date": "20130524T000000Z", "region": "us-east-1", "service": "s3",
 *    "access_key": "...", "secret_key": "..."}
 *
 * stdout: the Authorization value (with --json: a JSON object that also
 * has the canonical request, URI and query); stderr: the canonical request
 * and the string to sign.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <jansson.h>

#include "s3/h5s3_s3_sign.h"

static const char *str(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* [["name", "value"], ...] or {"name": "value", ...} */
static int pairs(h5s3_s3_kv **out, json_t *v, apr_pool_t *p)
{
    h5s3_s3_kv *kv;
    int n = 0;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *e;

        kv = apr_pcalloc(p, sizeof(*kv) * (json_array_size(v) + 1));
        json_array_foreach(v, i, e) {
            if (!json_is_array(e) || json_array_size(e) != 2
                || !json_is_string(json_array_get(e, 0))) {
                return -1;
            }
            kv[n].name = json_string_value(json_array_get(e, 0));
            kv[n].value = json_is_string(json_array_get(e, 1))
                          ? json_string_value(json_array_get(e, 1)) : NULL;
            n++;
        }
    }
    else if (json_is_object(v)) {
        const char *k;
        json_t *e;

        kv = apr_pcalloc(p, sizeof(*kv) * (json_object_size(v) + 1));
        json_object_foreach(v, k, e) {
            kv[n].name = k;
            kv[n].value = json_is_string(e) ? json_string_value(e) : NULL;
            n++;
        }
    }
    else {
        return -1;
    }
    *out = kv;
    return n;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    json_t *in;
    json_error_t jerr;
    h5s3_s3_sign_req r;
    h5s3_s3_signature *sig;
    h5s3_s3_kv *q, *h;
    char hash[65];
    const char *payload;
    int as_json = argc > 1 && !strcmp(argv[1], "--json");
    apr_status_t rv;

    apr_initialize();
    apr_pool_create(&p, NULL);
    in = json_loadf(stdin, 0, &jerr);
    if (in == NULL || !json_is_object(in)) {
        fprintf(stderr, "h5s3-sign: bad JSON on stdin: %s\n", jerr.text);
        return 2;
    }
    memset(&r, 0, sizeof(r));
    r.method = str(in, "method");
    r.host = str(in, "host");
    r.path = str(in, "path");
    r.amz_date = str(in, "date");
    r.region = str(in, "region") ? str(in, "region") : "us-east-1";
    r.service = str(in, "service") ? str(in, "service") : "s3";
    r.access_key = str(in, "access_key");
    r.secret_key = str(in, "secret_key");
    r.nquery = pairs(&q, json_object_get(in, "query"), p);
    r.nheaders = pairs(&h, json_object_get(in, "headers"), p);
    if (r.nquery < 0 || r.nheaders < 0) {
        fprintf(stderr, "h5s3-sign: query/headers must be pairs\n");
        return 2;
    }
    r.query = q;
    r.headers = h;
    r.payload_hash = str(in, "payload_hash");
    payload = str(in, "payload");
    if (r.payload_hash == NULL) {
        h5s3_s3_sha256_hex(hash, payload ? payload : "",
                           payload ? strlen(payload) : 0);
        r.payload_hash = hash;
    }
    rv = h5s3_s3_sign(&sig, &r, p);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "h5s3-sign: cannot sign (status %d): a field is "
                "missing or malformed\n", rv);
        return 1;
    }
    fprintf(stderr, "--- canonical request\n%s\n--- string to sign\n%s\n",
            sig->canonical_request, sig->string_to_sign);
    if (as_json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
                              "authorization", sig->authorization,
                              "signature", sig->signature,
                              "signed_headers", sig->signed_headers,
                              "canonical_request", sig->canonical_request,
                              "canonical_uri", sig->canonical_uri,
                              "canonical_query", sig->canonical_query);

        json_dumpf(o, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(o);
    }
    else {
        printf("%s\n", sig->authorization);
    }
    json_decref(in);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
