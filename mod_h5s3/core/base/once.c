/* Once-only set-up on apr_thread_once (see include/base/h5s3_once.h). */
#include <apr_atomic.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "base/h5s3_once.h"

/*
 * The control of once, made and published by the first callers.  It
 * lives in an unmanaged pool of its own, which no caller's pool clears
 * and apr_terminate does not destroy: the control must outlive both, or
 * a later caller would run fn again.
 */
static apr_status_t once_control(apr_thread_once_t **out, h5s3_once *once)
{
    apr_thread_once_t *control, *mine;
    apr_pool_t *p;
    apr_status_t rv;

    /* A compare-and-swap that changes nothing: a read with a barrier. */
    control = apr_atomic_casptr(&once->control, NULL, NULL);
    if (control != NULL) {
        *out = control;
        return APR_SUCCESS;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_thread_once_init(&mine, p)) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    control = apr_atomic_casptr(&once->control, mine, NULL);
    if (control != NULL) {
        /* Another thread published its control first: use that one. */
        apr_pool_destroy(p);
        *out = control;
        return APR_SUCCESS;
    }
    *out = mine;
    return APR_SUCCESS;
}

apr_status_t h5s3_once_run(h5s3_once *once, void (*fn)(void))
{
    apr_thread_once_t *control;
    apr_status_t rv = once_control(&control, once);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    return apr_thread_once(control, fn);
}
