/*
 * What every unit test shares (tests/unit/libunit.la, linked into each):
 * a fresh APR pool per test, the libcheck suite around the tests, and
 * shell commands and fixture generators run from a test.  What the tests
 * of the page cache and of HDF5 share on top is in unit_files.h.
 */
#ifndef UNIT_COMMON_H
#define UNIT_COMMON_H

#include <check.h>
#include <apr_pools.h>

/* The pool of the running test: made by unit_setup, destroyed by
 * unit_teardown. */
extern apr_pool_t *pool;

/* APR initialised and a new pool; unit_teardown undoes both. */
void unit_setup(void);
void unit_teardown(void);

/* unit_setup, and HDF5's error stack kept quiet: the tests provoke
 * HDF5 errors on purpose. */
void unit_setup_h5(void);

/* A suite `name` of one test case `tcase_name`, with setup and teardown
 * around each test (either may be NULL); add the tests to *tc. */
Suite *unit_suite(const char *name, const char *tcase_name, TCase **tc,
                  SFun setup, SFun teardown);

/* Runs every test of s (CK_NORMAL) and frees it: the exit status of a
 * test program, EXIT_SUCCESS when no test failed. */
int unit_run(Suite *s);

/* Runs the command fmt formats (apr_psprintf, in pool) with the shell;
 * the test fails unless it exits 0. */
void unit_sh(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Runs "/usr/bin/python3 $srcdir/tests/fixtures/SCRIPT ARGS" (a fixture
 * generator) with the shell: 0 when it exits 0, else -1, the command
 * said on stderr.  Usable outside a test (in main, before the forked
 * tests run). */
int unit_fixture_script(const char *script, const char *args);

#endif
