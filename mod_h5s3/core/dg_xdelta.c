/*
 * Running the xdelta3 program.  A subprocess rather than a linked
 * library: Debian's xdelta3 is the reference codec DeltaGlider uses, and
 * a crash or runaway decode stays outside httpd.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <apr_file_io.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "h5s3_dg.h"

struct h5s3_dg_xdelta_proc {
    apr_proc_t proc;
    apr_file_t *err;            /* the child's stderr, a temp file */
    apr_pool_t *pool;
    int reaped;
};

static const char *program(const h5s3_dg_codec_opts *opts)
{
    return opts && opts->xdelta3 && *opts->xdelta3 ? opts->xdelta3
                                                   : "xdelta3";
}

static const char *tmp_dir(const h5s3_dg_codec_opts *opts, apr_pool_t *p)
{
    const char *d = NULL;

    if (opts && opts->tmp_dir && *opts->tmp_dir)
        return opts->tmp_dir;
    if (opts && opts->cache_dir && *opts->cache_dir)
        return opts->cache_dir;
    if (apr_temp_dir_get(&d, p) != APR_SUCCESS)
        d = "/tmp";
    return d;
}

/*
 * The decoder's stdout.  xdelta3 writes whole 8 MiB windows and waits
 * until they are taken; through a pipe (64 KiB, at most 1 MiB for an
 * unprivileged user) moving the bytes costs Linux more than decoding
 * them: a page allocated and freed per 4 KiB.  A Unix stream socket with
 * 4 MiB buffers carries them at about twice the speed, with the same
 * back-pressure.  Its buffers are capped by net.core.wmem_max and
 * rmem_max: take what is granted.  A pipe if no socket can be made.
 */
#define OUT_BUFFER (4 * 1024 * 1024)

/* apr_os_file_put registers no cleanup: close what is still open. */
static apr_status_t close_put_file(void *baton)
{
    apr_file_t *f = baton;
    apr_os_file_t fd = -1;

    if (apr_os_file_get(&fd, f) == APR_SUCCESS && fd >= 0)
        apr_file_close(f);
    return APR_SUCCESS;
}

static apr_status_t socket_channel(apr_file_t **ours, apr_file_t **theirs,
                                   apr_pool_t *p)
{
    int sv[2], size = OUT_BUFFER;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return APR_FROM_OS_ERROR(errno);
    /* One way; a failed resize only costs speed. */
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    (void)shutdown(sv[0], SHUT_WR);
    (void)shutdown(sv[1], SHUT_RD);
    *ours = *theirs = NULL;
    apr_os_file_put(ours, &sv[0], APR_FOPEN_READ, p);
    apr_os_file_put(theirs, &sv[1], APR_FOPEN_WRITE, p);
    apr_pool_cleanup_register(p, *ours, close_put_file,
                              apr_pool_cleanup_null);
    apr_pool_cleanup_register(p, *theirs, close_put_file,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* The first line or so of what xdelta3 said, for the reason text. */
static const char *err_text(apr_file_t *err, apr_pool_t *p)
{
    char buf[400];
    apr_size_t n = sizeof(buf) - 1;
    apr_off_t off = 0;
    char *s;

    if (!err || apr_file_seek(err, APR_SET, &off) != APR_SUCCESS
        || apr_file_read(err, buf, &n) != APR_SUCCESS)
        return "";
    buf[n] = '\0';
    s = apr_pstrdup(p, buf);
    for (n = 0; s[n]; n++)
        if (s[n] == '\n' || s[n] == '\r')
            s[n] = ' ';
    return s;
}

static apr_status_t spawn(h5s3_dg_xdelta_proc **out, const char *const *argv,
                          const h5s3_dg_codec_opts *opts, apr_file_t *in,
                          int pipe_out, apr_pool_t *p)
{
    h5s3_dg_xdelta_proc *x = apr_pcalloc(p, sizeof(*x));
    apr_procattr_t *attr;
    char *tmpl = apr_pstrcat(p, tmp_dir(opts, p), "/dgerr-XXXXXX", NULL);
    apr_file_t *ours = NULL, *theirs = NULL;
    apr_status_t rv;

    x->pool = p;
    if (pipe_out && socket_channel(&ours, &theirs, p) == APR_SUCCESS)
        pipe_out = 0;
    if ((rv = apr_file_mktemp(&x->err, tmpl,
                              APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_DELONCLOSE, p)) != APR_SUCCESS)
        return rv;
    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_io_set(attr, APR_NO_PIPE,
                                     pipe_out ? APR_FULL_BLOCK : APR_NO_PIPE,
                                     APR_NO_PIPE)) != APR_SUCCESS
        || (in && (rv = apr_procattr_child_in_set(attr, in, NULL))
            != APR_SUCCESS)
        || (theirs && (rv = apr_procattr_child_out_set(attr, theirs, NULL))
            != APR_SUCCESS)
        || (rv = apr_procattr_child_err_set(attr, x->err, NULL))
           != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH))
           != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS)
        return rv;
    rv = apr_proc_create(&x->proc, argv[0], argv, NULL, attr, p);
    /* Only the child writes: the reader sees EOF when it is done. */
    if (theirs)
        close_put_file(theirs);
    if (rv != APR_SUCCESS)
        return rv;
    if (ours)
        x->proc.out = ours;
    *out = x;
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_xdelta_finish(const char **reason,
                                   h5s3_dg_xdelta_proc *x, int kill)
{
    int code = 0;
    apr_exit_why_e why = APR_PROC_EXIT;

    if (x->reaped)
        return APR_SUCCESS;
    if (kill)
        apr_proc_kill(&x->proc, SIGKILL);
    if (x->proc.out)
        apr_file_close(x->proc.out);
    apr_proc_wait(&x->proc, &code, &why, APR_WAIT);
    x->reaped = 1;
    if (kill)
        return APR_SUCCESS;
    if (!APR_PROC_CHECK_EXIT(why) || code != 0) {
        if (reason)
            *reason = apr_psprintf(x->pool, "xdelta3 failed (%s %d): %s",
                                   APR_PROC_CHECK_EXIT(why) ? "exit"
                                                            : "signal",
                                   code, err_text(x->err, x->pool));
        return H5S3_E_INTEGRITY;
    }
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_xdelta_encode(const char **reason,
                                   const h5s3_dg_codec_opts *opts,
                                   const char *source, const char *target,
                                   const char *out, apr_pool_t *p)
{
    const char *argv[] = {program(opts), "-e", "-f", "-9", "-D", "-s",
                          source, target, out, NULL};
    h5s3_dg_xdelta_proc *x;
    apr_status_t rv;

    if ((rv = spawn(&x, argv, opts, NULL, 0, p)) != APR_SUCCESS) {
        *reason = apr_psprintf(p, "cannot run %s", argv[0]);
        return rv;
    }
    rv = h5s3_dg_xdelta_finish(reason, x, 0);
    apr_file_close(x->err);
    /* A failed encode is our failure, not a bad object. */
    return rv == H5S3_E_INTEGRITY ? APR_EGENERAL : rv;
}

/*
 * The decoder's source buffer (-B).  xdelta3's default is 64 MiB, all of
 * it touched; the RFC bounds a download to 8-32 MB buffers.  Decoding
 * does not depend on it (a match outside the buffer is read again from
 * the seekable reference), and a small one is faster: fewer pages to
 * fault in and zero.
 */
#define SOURCE_BUFFER "8388608"

apr_status_t h5s3_dg_xdelta_decode_start(h5s3_dg_xdelta_proc **proc,
                                         const h5s3_dg_codec_opts *opts,
                                         const char *source,
                                         apr_file_t *delta_in, apr_pool_t *p)
{
    const char *argv[] = {program(opts), "-d", "-c", "-B", SOURCE_BUFFER,
                          "-s", source, NULL};

    return spawn(proc, argv, opts, delta_in, 1, p);
}

apr_file_t *h5s3_dg_xdelta_output(h5s3_dg_xdelta_proc *proc)
{
    return proc->proc.out;
}
