/*
 * Overflow-checked arithmetic (include/base/h5s3_checked.h), the per-request limits
 * and the per-process memory budget (include/hdf5/h5s3_h5_file.h): the ground every
 * hostile-file fix stands on.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_thread_proc.h>

#include "base/h5s3_checked.h"
#include "base/h5s3_errors.h"
#include "hdf5/h5s3_h5_file.h"

static void setup(void)
{
    apr_initialize();
}

static void teardown(void)
{
    apr_terminate();
}

START_TEST(mul_and_add_check_the_type_of_the_result)
{
    unsigned long long u64;
    unsigned u32;
    apr_size_t sz;
    apr_off_t off;

    ck_assert(H5S3_MUL(&u64, 1ULL << 32, 1ULL << 31));
    ck_assert_uint_eq(u64, 1ULL << 63);
    ck_assert(!H5S3_MUL(&u64, 1ULL << 32, 1ULL << 32));
    /* 16384 x (2^50 + 1): the product the preview wrapped. */
    ck_assert(!H5S3_MUL(&u64, 16384ULL, (1ULL << 50) + 1));
    /* Storing narrows: 65537 x 65536 fits 64 bits, not 32. */
    ck_assert(!H5S3_MUL(&u32, 65537ULL, 65536ULL));
    ck_assert(H5S3_MUL(&u32, 65535U, 65536U));
    ck_assert(!H5S3_ADD(&u64, UINT64_MAX, 1));
    ck_assert(H5S3_ADD(&sz, (apr_size_t)1 << 62, (apr_size_t)1 << 62));
    /* An address from a file plus a base must stay an apr_off_t. */
    ck_assert(!H5S3_ADD(&off, (apr_off_t)1, UINT64_MAX >> 1));
    ck_assert(H5S3_ADD(&off, (apr_off_t)512, 1024ULL));
    ck_assert_int_eq(off, 1536);
}
END_TEST

START_TEST(dims_product_wraps_no_shape)
{
    unsigned long long out = 7;
    unsigned long long wrap3[3] = {1, 16384, (1ULL << 50) + 1};
    unsigned long long wrap0[2] = {1ULL << 33, 1ULL << 33};
    unsigned long long big[2] = {1ULL << 31, 1ULL << 31};
    unsigned long long chunk[3] = {1ULL << 31, 1ULL << 31, 4};
    unsigned long long empty[3] = {1ULL << 40, 0, 1ULL << 40};

    ck_assert(!h5s3_dims_product(&out, wrap3, 3, 1, UINT64_MAX));
    ck_assert(!h5s3_dims_product(&out, wrap0, 2, 1, UINT64_MAX));
    ck_assert(h5s3_dims_product(&out, big, 2, 1, UINT64_MAX));
    ck_assert_uint_eq(out, 1ULL << 62);
    /* Chunk bytes: 2^66, 0 when wrapped, and over any cap. */
    ck_assert(!h5s3_dims_product(&out, chunk, 3, 4, UINT64_MAX));
    ck_assert(!h5s3_dims_product(&out, big, 2, 4, 256 * 1024 * 1024));
    ck_assert(h5s3_dims_product(&out, chunk + 2, 1, 4, 256));
    ck_assert_uint_eq(out, 16);
    /* A zero dim is an empty selection, whatever the others. */
    ck_assert(h5s3_dims_product(&out, empty, 3, 8, 1));
    ck_assert_uint_eq(out, 0);
    /* Rank 0 (a scalar): the element size. */
    ck_assert(h5s3_dims_product(&out, NULL, 0, 8, UINT64_MAX));
    ck_assert_uint_eq(out, 8);
}
END_TEST

START_TEST(ceil_div_and_slab_end_do_not_wrap)
{
    unsigned long long end;

    ck_assert_uint_eq(h5s3_ceil_div(10, 3), 4);
    ck_assert_uint_eq(h5s3_ceil_div(9, 3), 3);
    ck_assert_uint_eq(h5s3_ceil_div(0, 3), 0);
    ck_assert_uint_eq(h5s3_ceil_div(5, 0), 0);
    /* (a + b - 1) / b would give 0 here. */
    ck_assert_uint_eq(h5s3_ceil_div(UINT64_MAX, 512), (UINT64_MAX >> 9) + 1);
    ck_assert_uint_eq(h5s3_ceil_div(UINT64_MAX, UINT64_MAX), 1);

    ck_assert(h5s3_slab_end(&end, 5, 3, 4));    /* 5 8 11 14 */
    ck_assert_uint_eq(end, 15);
    ck_assert(h5s3_slab_end(&end, 7, 100, 0));
    ck_assert_uint_eq(end, 7);
    ck_assert(h5s3_slab_end(&end, UINT64_MAX - 1, 1, 1));
    ck_assert_uint_eq(end, UINT64_MAX);
    ck_assert(!h5s3_slab_end(&end, UINT64_MAX, 1, 1));
    ck_assert(!h5s3_slab_end(&end, 0, 1ULL << 40, 1ULL << 30));
}
END_TEST

START_TEST(limits_charge_the_current_request)
{
    h5s3_h5_request rq;
    h5s3_h5_limits l;
    apr_pool_t *p;

    apr_pool_create(&p, NULL);      /* where the limit's detail lives */
    h5s3_h5_limits_default(&l);
    l.max[H5S3_H5_LIMIT_VLEN_BYTES] = 1000;
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, p);
    rq.limits = &l;
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_limit_status(), APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, 600),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, 400),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, 1),
                     H5S3_E_LIMIT);
    ck_assert_ptr_nonnull(rq.result.detail);
    ck_assert(strstr(rq.result.detail, "limit vlen-bytes") != NULL);
    ck_assert(strstr(rq.result.detail, "1000") != NULL);
    ck_assert_int_eq(h5s3_h5_limit_status(), H5S3_E_LIMIT);
    /* One limit exceeded ends the request: every later charge fails. */
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_RANGES, 1), H5S3_E_LIMIT);
    /* A check spends nothing, but over the limit it ends the request. */
    h5s3_h5_request_end();
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, p);
    rq.limits = &l;
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_charge_check(H5S3_H5_LIMIT_VLEN_BYTES, 1000),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_charge_check(H5S3_H5_LIMIT_VLEN_BYTES, 1000),
                     APR_SUCCESS);
    ck_assert_uint_eq(rq.spent[H5S3_H5_LIMIT_VLEN_BYTES], 0);
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_VLEN_BYTES, 300),
                     APR_SUCCESS);
    ck_assert_uint_eq(h5s3_h5_limit_left(H5S3_H5_LIMIT_VLEN_BYTES), 700);
    ck_assert_int_eq(h5s3_h5_charge_check(H5S3_H5_LIMIT_VLEN_BYTES, 701),
                     H5S3_E_LIMIT);
    ck_assert_ptr_nonnull(rq.result.detail);
    ck_assert_uint_eq(h5s3_h5_limit_left(H5S3_H5_LIMIT_RANGES), 0);
    /* A charge whose sum wraps is over any limit. */
    h5s3_h5_request_end();
    memset(&rq, 0, sizeof(rq));
    h5s3_result_init(&rq.result, p);
    h5s3_h5_request_begin(&rq);
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_READ_BYTES, 10),
                     APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_charge(H5S3_H5_LIMIT_READ_BYTES, UINT64_MAX),
                     H5S3_E_LIMIT);
    h5s3_h5_request_end();
    ck_assert_int_eq(h5s3_h5_limit_status(), APR_SUCCESS);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(memory_budget_reserves_and_releases)
{
    void *a = NULL, *b = NULL;
    apr_uint64_t base = h5s3_h5_mem_reserved();

    h5s3_h5_mem_budget_set(base + 1000);
    ck_assert_int_eq(h5s3_h5_mem_reserve(600), APR_SUCCESS);
    ck_assert_int_eq(h5s3_h5_mem_reserve(500), H5S3_E_BUSY);
    ck_assert_uint_eq(h5s3_h5_mem_reserved(), base + 600);
    h5s3_h5_mem_release(600);
    ck_assert_uint_eq(h5s3_h5_mem_reserved(), base);
    /* Blocks carry their size: freed, they give it all back. */
    ck_assert_int_eq(h5s3_h5_mem_alloc(&a, 700, 1), APR_SUCCESS);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(((unsigned char *)a)[699], 0);
    ck_assert_uint_eq((apr_uintptr_t)a % 16, 0);
    ck_assert_int_eq(h5s3_h5_mem_alloc(&b, 301, 0), H5S3_E_BUSY);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(h5s3_h5_mem_alloc(&b, 300, 0), APR_SUCCESS);
    h5s3_h5_mem_free(a);
    h5s3_h5_mem_free(b);
    h5s3_h5_mem_free(NULL);
    ck_assert_uint_eq(h5s3_h5_mem_reserved(), base);
    /* A request too big for any budget, and one that wraps. */
    ck_assert_int_eq(h5s3_h5_mem_reserve(UINT64_MAX), H5S3_E_BUSY);
    ck_assert_int_eq(h5s3_h5_mem_alloc(&a, (apr_size_t)-8, 0),
                     APR_ENOMEM);
    /* No budget: anything that malloc gives. */
    h5s3_h5_mem_budget_set(0);
    ck_assert_int_eq(h5s3_h5_mem_reserve((apr_uint64_t)1 << 50),
                     APR_SUCCESS);
    h5s3_h5_mem_release((apr_uint64_t)1 << 50);
    h5s3_h5_mem_budget_set(H5S3_H5_DEFAULT_MEM_BUDGET);
    ck_assert_uint_eq(h5s3_h5_mem_reserved(), base);
}
END_TEST

/* Threads taking and giving back the last bytes never both get them. */
typedef struct racer {
    volatile apr_uint32_t *inside;
    volatile apr_uint32_t *overlap;
} racer;

static void *APR_THREAD_FUNC race(apr_thread_t *t, void *data)
{
    racer *r = data;
    int i;

    for (i = 0; i < 20000; i++) {
        if (h5s3_h5_mem_reserve(100) == APR_SUCCESS) {
            if (apr_atomic_inc32(r->inside) != 0) {
                apr_atomic_inc32(r->overlap);
            }
            apr_atomic_dec32(r->inside);
            h5s3_h5_mem_release(100);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(memory_budget_is_one_for_all_threads)
{
    apr_pool_t *p;
    apr_thread_t *th[4];
    volatile apr_uint32_t inside = 0, overlap = 0;
    racer r = {&inside, &overlap};
    apr_uint64_t base = h5s3_h5_mem_reserved();
    apr_status_t trv;
    int i;

    apr_pool_create(&p, NULL);
    h5s3_h5_mem_budget_set(base + 150);         /* room for one */
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, race, &r, p),
                         APR_SUCCESS);
    }
    for (i = 0; i < 4; i++) {
        apr_thread_join(&trv, th[i]);
    }
    ck_assert_uint_eq(overlap, 0);
    ck_assert_uint_eq(h5s3_h5_mem_reserved(), base);
    h5s3_h5_mem_budget_set(H5S3_H5_DEFAULT_MEM_BUDGET);
    apr_pool_destroy(p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("checked");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, mul_and_add_check_the_type_of_the_result);
    tcase_add_test(tc, dims_product_wraps_no_shape);
    tcase_add_test(tc, ceil_div_and_slab_end_do_not_wrap);
    tcase_add_test(tc, limits_charge_the_current_request);
    tcase_add_test(tc, memory_budget_reserves_and_releases);
    tcase_add_test(tc, memory_budget_is_one_for_all_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
