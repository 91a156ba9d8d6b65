/*
 * The per-request limits and the per-process memory budget
 * (include/hdf5/io/h5s3_h5_io.h), on the checked arithmetic of
 * tests/unit/base/test_checked.c: what stops a hostile file.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_thread_proc.h>

#include "base/h5s3_errors.h"
#include "hdf5/io/h5s3_h5_io.h"
#include "unit_common.h"

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

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("limits", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, limits_charge_the_current_request);
    tcase_add_test(tc, memory_budget_reserves_and_releases);
    tcase_add_test(tc, memory_budget_is_one_for_all_threads);
    return unit_run(s);
}
