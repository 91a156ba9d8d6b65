/* See unit_common.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <hdf5.h>

#include "unit_common.h"

apr_pool_t *pool;

void unit_setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

void unit_teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

void unit_setup_h5(void)
{
    unit_setup();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

Suite *unit_suite(const char *name, const char *tcase_name, TCase **tc,
                  SFun setup, SFun teardown)
{
    Suite *s = suite_create(name);

    *tc = tcase_create(tcase_name);
    if (setup || teardown) {
        tcase_add_checked_fixture(*tc, setup, teardown);
    }
    suite_add_tcase(s, *tc);
    return s;
}

int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void unit_sh(const char *fmt, ...)
{
    va_list ap;
    char *cmd;

    va_start(ap, fmt);
    cmd = apr_pvsprintf(pool, fmt, ap);
    va_end(ap);
    ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

int unit_fixture_script(const char *script, const char *args)
{
    const char *srcdir = getenv("srcdir");
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/fixtures/%s %s",
             srcdir ? srcdir : ".", script, args);
    if (system(cmd) != 0) {
        fprintf(stderr, "fixture generator failed: %s\n", cmd);
        return -1;
    }
    return 0;
}
