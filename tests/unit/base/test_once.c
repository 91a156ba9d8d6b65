/*
 * h5s3_once: the function runs once however many threads race for it,
 * and no caller returns before it has finished.
 */
#include <check.h>
#include <stdlib.h>
#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include "base/h5s3_once.h"
#include "unit_common.h"

#define THREADS 16

static h5s3_once race_once = H5S3_ONCE_INIT;
static volatile apr_uint32_t runs, finished, saw_unfinished;
static volatile apr_uint32_t go;

/* Slow on purpose, so the other threads arrive while it runs. */
static void slow_setup(void)
{
    apr_atomic_inc32(&runs);
    apr_sleep(apr_time_from_msec(50));
    apr_atomic_set32(&finished, 1);
}

static void *APR_THREAD_FUNC racer(apr_thread_t *t, void *data)
{
    apr_status_t rv;

    (void)data;
    while (!apr_atomic_read32(&go)) {
        apr_thread_yield();
    }
    rv = h5s3_once_run(&race_once, slow_setup);
    if (rv != APR_SUCCESS || !apr_atomic_read32(&finished)) {
        apr_atomic_inc32(&saw_unfinished);
    }
    apr_thread_exit(t, rv);
    return NULL;
}

START_TEST(runs_once_and_callers_wait)
{
    apr_thread_t *t[THREADS];
    apr_status_t rv;
    int i;

    for (i = 0; i < THREADS; i++) {
        ck_assert_int_eq(apr_thread_create(&t[i], NULL, racer, NULL, pool),
                         APR_SUCCESS);
    }
    apr_atomic_set32(&go, 1);
    for (i = 0; i < THREADS; i++) {
        ck_assert_int_eq(apr_thread_join(&rv, t[i]), APR_SUCCESS);
        ck_assert_int_eq(rv, APR_SUCCESS);
    }
    ck_assert_uint_eq(apr_atomic_read32(&runs), 1);
    ck_assert_uint_eq(apr_atomic_read32(&saw_unfinished), 0);
    /* Later calls find it done. */
    ck_assert_int_eq(h5s3_once_run(&race_once, slow_setup), APR_SUCCESS);
    ck_assert_uint_eq(apr_atomic_read32(&runs), 1);
}
END_TEST

static h5s3_once a_once = H5S3_ONCE_INIT, b_once = H5S3_ONCE_INIT;
static int a_runs, b_runs;

static void count_a(void)
{
    a_runs++;
}

static void count_b(void)
{
    b_runs++;
    /* A set-up may use another once (plugins_init uses global_init). */
    h5s3_once_run(&a_once, count_a);
}

START_TEST(onces_are_independent)
{
    ck_assert_int_eq(h5s3_once_run(&b_once, count_b), APR_SUCCESS);
    ck_assert_int_eq(h5s3_once_run(&b_once, count_b), APR_SUCCESS);
    ck_assert_int_eq(h5s3_once_run(&a_once, count_a), APR_SUCCESS);
    ck_assert_int_eq(a_runs, 1);
    ck_assert_int_eq(b_runs, 1);
}
END_TEST

static int c_runs;

static void count_c(void)
{
    c_runs++;
}

/* The control outlives the pools of the caller, and apr_terminate. */
START_TEST(survives_apr_terminate)
{
    static h5s3_once once = H5S3_ONCE_INIT;

    ck_assert_int_eq(h5s3_once_run(&once, count_c), APR_SUCCESS);
    apr_pool_destroy(pool);
    apr_terminate();
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(h5s3_once_run(&once, count_c), APR_SUCCESS);
    ck_assert_int_eq(c_runs, 1);
}
END_TEST

int main(void)
{
    TCase *tc;
    Suite *s = unit_suite("once", "core", &tc, unit_setup, unit_teardown);

    tcase_add_test(tc, runs_once_and_callers_wait);
    tcase_add_test(tc, onces_are_independent);
    tcase_add_test(tc, survives_apr_terminate);
    return unit_run(s);
}
