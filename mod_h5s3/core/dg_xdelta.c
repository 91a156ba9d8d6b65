/*
 * Running the xdelta3 program.  A subprocess rather than a linked
 * library: Debian's xdelta3 is the reference codec DeltaGlider uses, and
 * a crash or runaway decode stays outside httpd.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
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

/* Pipe capacity asked for the decoder's stdout (Linux; the default is
 * 64 KB).  xdelta3 writes whole 8 MB windows: with a small pipe it and
 * its reader wake each other every 64 KB, which costs more than the
 * decoding itself. */
#define PIPE_SIZE (1024 * 1024)

static void grow_pipe(apr_file_t *pipe)
{
#ifdef F_SETPIPE_SZ
    apr_os_file_t fd;
    int size;

    if (apr_os_file_get(&fd, pipe) != APR_SUCCESS)
        return;
    /* Unprivileged users are capped (pipe-max-size, per-user quota):
     * take what is granted, the default still works. */
    for (size = PIPE_SIZE; size >= 128 * 1024; size /= 2)
        if (fcntl(fd, F_SETPIPE_SZ, size) >= 0)
            return;
#else
    (void)pipe;
#endif
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
    apr_status_t rv;

    x->pool = p;
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
        || (rv = apr_procattr_child_err_set(attr, x->err, NULL))
           != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH))
           != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS)
        return rv;
    if ((rv = apr_proc_create(&x->proc, argv[0], argv, NULL, attr, p))
        != APR_SUCCESS)
        return rv;
    if (pipe_out && x->proc.out)
        grow_pipe(x->proc.out);
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

apr_status_t h5s3_dg_xdelta_decode_start(h5s3_dg_xdelta_proc **proc,
                                         const h5s3_dg_codec_opts *opts,
                                         const char *source,
                                         apr_file_t *delta_in, apr_pool_t *p)
{
    const char *argv[] = {program(opts), "-d", "-c", "-s", source, NULL};
    return spawn(proc, argv, opts, delta_in, 1, p);
}

apr_file_t *h5s3_dg_xdelta_output(h5s3_dg_xdelta_proc *proc)
{
    return proc->proc.out;
}
