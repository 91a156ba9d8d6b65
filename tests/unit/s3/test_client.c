/*
 * The S3 client without a server: configuration checks, argument checks,
 * and the transport failures (refused connection) with their accounting.
 * Exchanges with a real S3 are in
 * tests/integration/core/test_s3_client_rgw.py.
 */
#include <check.h>
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_network_io.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "pagecache/h5s3_pagecache.h"
#include "unit_common.h"

static apr_socket_t *held;

static void setup(void)
{
    unit_setup();
    ck_assert_int_eq(h5s3_s3_global_init(), APR_SUCCESS);
}

/* A loopback port that is bound but not listening: connections refused. */
static const char *refusing_endpoint(void)
{
    apr_sockaddr_t *sa;
    apr_port_t port;

    ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0,
                                           pool), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_create(&held, APR_INET, SOCK_STREAM,
                                       APR_PROTO_TCP, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_bind(held, sa), APR_SUCCESS);
    ck_assert_int_eq(apr_socket_addr_get(&sa, APR_LOCAL, held), APR_SUCCESS);
    port = sa->port;
    return apr_psprintf(pool, "http://127.0.0.1:%u", port);
}

static h5s3_s3_client *client_for(const char *endpoint, const char *ak,
                                  const char *sk)
{
    h5s3_s3_config cfg;
    h5s3_s3_client *c = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.endpoint = endpoint;
    cfg.access_key = ak;
    cfg.secret_key = sk;
    cfg.connect_timeout_ms = 2000;
    cfg.total_timeout_ms = 3000;
    ck_assert_int_eq(h5s3_s3_client_create(&c, &cfg, pool), APR_SUCCESS);
    return c;
}

START_TEST(config_checked)
{
    static const char *bad[] = {
        NULL, "", "127.0.0.1:7480", "ftp://h/", "http://", "http://h?x=1",
        "http://user:pw@h/"
    };
    h5s3_s3_config cfg;
    h5s3_s3_client *c;
    unsigned i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.endpoint = bad[i];
        ck_assert_msg(h5s3_s3_client_create(&c, &cfg, pool)
                      == H5S3_E_INVALID, "endpoint %s", bad[i]);
        ck_assert_ptr_null(c);
    }
    /* A key without its secret (or the reverse) is a mistake. */
    memset(&cfg, 0, sizeof(cfg));
    cfg.endpoint = "http://127.0.0.1:7480";
    cfg.access_key = "AK";
    ck_assert_int_eq(h5s3_s3_client_create(&c, &cfg, pool), H5S3_E_INVALID);
    cfg.secret_key = "SK";
    ck_assert_int_eq(h5s3_s3_client_create(&c, &cfg, pool), APR_SUCCESS);
    cfg.endpoint = "https://[::1]:8443/prefix/";
    ck_assert_int_eq(h5s3_s3_client_create(&c, &cfg, pool), APR_SUCCESS);
}
END_TEST

/* The scope caches are keyed by (endpoint and credentials) is the one the
 * configuration names, kept by the client: without it two vhosts on one
 * endpoint with different credentials would share cached pages. */
START_TEST(scope_is_kept)
{
    h5s3_s3_config cfg;
    h5s3_s3_client *c, *d;
    char scope[] = "http://127.0.0.1:7480#0123abcd";
    unsigned char fa[H5S3_PAGECACHE_FP_LEN], fb[H5S3_PAGECACHE_FP_LEN];

    memset(&cfg, 0, sizeof(cfg));
    cfg.endpoint = "http://127.0.0.1:7480";
    ck_assert_int_eq(h5s3_s3_client_create(&c, &cfg, pool), APR_SUCCESS);
    ck_assert_str_eq(h5s3_s3_client_scope(c), "http://127.0.0.1:7480");
    cfg.scope = scope;
    ck_assert_int_eq(h5s3_s3_client_create(&d, &cfg, pool), APR_SUCCESS);
    scope[0] = 'X';             /* the client keeps its own copy */
    ck_assert_str_eq(h5s3_s3_client_scope(d),
                     "http://127.0.0.1:7480#0123abcd");
    h5s3_pagecache_fingerprint(fa, h5s3_s3_client_scope(c), "b", "k", "e");
    h5s3_pagecache_fingerprint(fb, h5s3_s3_client_scope(d), "b", "k", "e");
    ck_assert(memcmp(fa, fb, sizeof(fa)) != 0);
}
END_TEST

START_TEST(arguments_checked)
{
    h5s3_s3_client *c = client_for("http://127.0.0.1:9", NULL, NULL);
    h5s3_s3_call call;
    h5s3_s3_object_info *info;
    h5s3_s3_list_page *page;
    apr_size_t got = 7;
    char buf[4];

    memset(&call, 0, sizeof(call));
    ck_assert_int_eq(h5s3_s3_head(&info, c, "", "k", &call, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_s3_head(&info, c, "a/b", "k", &call, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_s3_head(&info, c, "b", "", &call, pool),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_s3_get_range(&got, c, "b", "k", NULL, -1, 4, buf,
                                       &call, pool), H5S3_E_INVALID);
    /* An empty range needs no request at all. */
    ck_assert_int_eq(h5s3_s3_get_range(&got, c, "b", "k", NULL, 0, 0, buf,
                                       &call, pool), APR_SUCCESS);
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(h5s3_s3_list(&page, c, "b", NULL, NULL, NULL, 1001,
                                  &call, pool), H5S3_E_INVALID);
    ck_assert_int_eq(call.requests, 0);
}
END_TEST

START_TEST(refused_is_unreachable)
{
    const char *secret = "VerySecretKeyThatMustNotLeak/123";
    h5s3_s3_client *c = client_for(refusing_endpoint(), "AKID", secret);
    h5s3_s3_call call;
    h5s3_result res;
    h5s3_s3_object_info *info = (void *)1;
    h5s3_s3_list_page *page;
    h5s3_s3_range r[3];
    char b[3][16];
    apr_time_t t0 = apr_time_now();
    int i;

    memset(&call, 0, sizeof(call));
    h5s3_result_init(&res, pool);
    call.result = &res;
    ck_assert_int_eq(h5s3_s3_head(&info, c, "b", "k", &call, pool),
                     H5S3_E_UNREACHABLE);
    ck_assert_ptr_null(info);
    ck_assert_int_eq(call.requests, 1);
    ck_assert_int_eq(call.errors, 1);
    ck_assert_int_eq(res.s3_status, 0);
    ck_assert_str_eq(res.s3_code, "ConnectFailed");
    ck_assert_ptr_nonnull(res.s3_message);
    ck_assert_ptr_null(strstr(res.s3_message, secret));
    ck_assert_int_eq(h5s3_s3_list(&page, c, "b", "p", "/", NULL, 10, &call,
                                  pool), H5S3_E_UNREACHABLE);
    for (i = 0; i < 3; i++) {
        r[i].offset = i * 16;
        r[i].len = 16;
        r[i].buf = b[i];
    }
    ck_assert_int_eq(h5s3_s3_get_ranges(c, "b", "k", NULL, r, 3, 2, &call,
                                        pool), H5S3_E_UNREACHABLE);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(r[i].status, H5S3_E_UNREACHABLE);
        ck_assert_int_eq(r[i].got, 0);
    }
    ck_assert_int_eq(call.requests, 5);
    ck_assert_int_eq(call.errors, 5);
    /* Refusal is immediate: no waiting for the connect timeout. */
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(2));
}
END_TEST

START_TEST(forget_then_reuse)
{
    h5s3_s3_client *c = client_for(refusing_endpoint(), NULL, NULL);
    h5s3_s3_call call;
    apr_size_t got;
    char buf[8];

    memset(&call, 0, sizeof(call));
    ck_assert_int_eq(h5s3_s3_get_range(&got, c, "b", "k", NULL, 0, 8, buf,
                                       &call, pool), H5S3_E_UNREACHABLE);
    /* As in a fresh child: the pool is emptied and still works after. */
    h5s3_s3_pool_forget();
    ck_assert_int_eq(h5s3_s3_get_range(&got, c, "b", "k", NULL, 0, 8, buf,
                                       &call, pool), H5S3_E_UNREACHABLE);
    ck_assert_int_eq(call.requests, 2);
}
END_TEST

static Suite *client_suite(void)
{
    TCase *t;
    Suite *s = unit_suite("s3_client", "offline", &t,
                          setup, unit_teardown);

    tcase_set_timeout(t, 20);
    tcase_add_test(t, config_checked);
    tcase_add_test(t, scope_is_kept);
    tcase_add_test(t, arguments_checked);
    tcase_add_test(t, refused_is_unreachable);
    tcase_add_test(t, forget_then_reuse);
    return s;
}

int main(void)
{
    return unit_run(client_suite());
}
