/* Once-only set-up on apr_thread_once (see include/base/h5s3_once.h). */
#include <apr_allocator.h>
#include <apr_atomic.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "base/h5s3_once.h"

/*
 * The control of once, made and published by the first callers.  It
 * lives in an unmanaged pool of its own, which no caller's pool clears
 * and apr_terminate does not destroy: the control must outlive both, or
 * a later caller would run fn again.  The pool's allocator is made here
 * and its address kept in the h5s3_once: APR may take pool memory from
 * mmap, which leak checkers do not scan, so a pointer into the pool alone
 * would make the (malloc'ed) allocator look leaked.
 */
static apr_status_t once_control(apr_thread_once_t **out, h5s3_once *once)
{
    apr_thread_once_t *control, *mine;
    apr_allocator_t *alloc;
    apr_pool_t *p;
    apr_status_t rv;

    /* A compare-and-swap that changes nothing: a read with a barrier. */
    control = apr_atomic_casptr(&once->control, NULL, NULL);
    if (control != NULL) {
        *out = control;
        return APR_SUCCESS;
    }
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, alloc)) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, p);  /* destroyed with p */
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
    once->allocator = alloc;
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
