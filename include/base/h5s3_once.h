/*
 * Once-only process set-up, on apr_thread_once.
 *
 * apr_thread_once runs a function exactly once and makes every other
 * caller wait until it has returned, but its control must be made by
 * apr_thread_once_init before threads can race for it, and APR has no
 * static initialiser.  The core's set-ups are reached lazily from any
 * thread (a request's first HDF5 open, a tool's first read), so an
 * h5s3_once is a static word that its first callers fill: each makes a
 * control, one publishes it by compare-and-swap, the others free theirs
 * and use the published one.
 */
#ifndef H5S3_ONCE_H
#define H5S3_ONCE_H

#include <apr_errno.h>

typedef struct h5s3_once {
    volatile void *control;     /* apr_thread_once_t *, NULL until made */
    void *allocator;            /* its pool's allocator, held (see once.c) */
} h5s3_once;

#define H5S3_ONCE_INIT {NULL, NULL}

/*
 * Run fn once per process; a caller that comes while it runs waits for
 * it to return.  fn reports its outcome through statics of its own.
 * Fails (fn not run) only when no control can be made (APR not
 * initialised, no memory); a later call tries again.
 */
apr_status_t h5s3_once_run(h5s3_once *once, void (*fn)(void));

#endif
