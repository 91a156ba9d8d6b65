/*
 * Running the xdelta3 program.  A subprocess rather than a linked
 * library: Debian's xdelta3 is the reference codec DeltaGlider uses, and
 * a crash or runaway decode stays outside httpd.
 *
 * Started with posix_spawn, not fork: it runs from a worker thread of a
 * threaded MPM, where a fork copies a big address space and runs APR's
 * exec cleanups in a child that only has the forking thread.  The child
 * gets exactly three descriptors (stdin, stdout, stderr), every other
 * one closed whether or not it was marked close-on-exec (sockets,
 * files other modules opened), no blocked signal and no ignored one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <apr_file_io.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "base/h5s3_errors.h"
#include "dg/h5s3_dg_codec.h"

extern char **environ;

struct h5s3_dg_xdelta_proc {
    apr_proc_t proc;            /* the child's pid, our end of its stdout */
    apr_file_t *err;            /* the child's stderr, a temp file */
    apr_pool_t *pool;
    int reaped;
    h5s3_dg_codec_run *run;     /* where the codec log's facts go */
    apr_time_t started;
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

/* The decoder's stdout: the socket above, else a pipe. */
static apr_status_t output_channel(apr_file_t **ours, apr_file_t **theirs,
                                   apr_pool_t *p)
{
    if (socket_channel(ours, theirs, p) == APR_SUCCESS)
        return APR_SUCCESS;
    return apr_file_pipe_create_ex(ours, theirs, APR_FULL_BLOCK, p);
}

/*
 * However the pool goes (a caller that never reached finish), the child
 * is killed and reaped: no zombie, no orphan decoding on.
 */
static apr_status_t reap_cleanup(void *baton)
{
    h5s3_dg_xdelta_proc *x = baton;
    apr_exit_why_e why;
    int code;

    if (!x->reaped) {
        apr_proc_kill(&x->proc, SIGKILL);
        apr_proc_wait(&x->proc, &code, &why, APR_WAIT);
        x->reaped = 1;
    }
    return APR_SUCCESS;
}

/* path relative to dir if it is inside it, else NULL. */
static const char *under(const char *path, const char *dir)
{
    apr_size_t n;

    if (!dir || !*dir)
        return NULL;
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1])
        return path + n + 1;
    return NULL;
}

/*
 * The command for the codec log: no directory outside the cache or the
 * spool shows (docs/deltaglider-format.md §5.7).
 */
static const char *printable(const char *const *argv,
                             const h5s3_dg_codec_opts *opts, apr_pool_t *p)
{
    const char *out = "", *a, *rel;
    int i;

    for (i = 0; argv[i]; i++) {
        a = argv[i];
        if (*a == '/') {
            if (!(rel = under(a, opts ? opts->cache_dir : NULL))
                && !(rel = under(a, opts ? opts->tmp_dir : NULL)))
                rel = strrchr(a, '/') + 1;
            a = rel;
        }
        out = i ? apr_pstrcat(p, out, " ", a, NULL) : a;
    }
    return out;
}

/*
 * Run argv[0] (searched on PATH) with in (NULL: /dev/null) as stdin,
 * stdout our end of a channel (want_out) or /dev/null, and stderr a
 * temp file, nothing else inherited.
 */
static apr_status_t spawn(h5s3_dg_xdelta_proc **out, const char *const *argv,
                          const h5s3_dg_codec_opts *opts, apr_file_t *in,
                          int want_out, apr_pool_t *p)
{
    h5s3_dg_xdelta_proc *x = apr_pcalloc(p, sizeof(*x));
    char *tmpl = apr_pstrcat(p, tmp_dir(opts, p), "/dgerr-XXXXXX", NULL);
    apr_file_t *ours = NULL, *theirs = NULL, *files[3];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t sa;
    sigset_t none, all;
    int src[3], lifted[3] = {-1, -1, -1}, i, err = 0;
    pid_t pid;
    apr_status_t rv;

    x->pool = p;
    if (want_out && (rv = output_channel(&ours, &theirs, p)) != APR_SUCCESS)
        return rv;
    if ((rv = apr_file_mktemp(&x->err, tmpl,
                              APR_FOPEN_CREATE | APR_FOPEN_READ
                              | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_DELONCLOSE, p)) != APR_SUCCESS)
        goto cleanup;           /* nothing lifted yet: all of lifted is -1 */
    files[0] = in;
    files[1] = theirs;
    files[2] = x->err;
    for (i = 0; i < 3; i++) {
        apr_os_file_t fd = -1;

        if (files[i] && apr_os_file_get(&fd, files[i]) != APR_SUCCESS)
            fd = -1;
        /*
         * The actions run in order: a source that is itself 0, 1 or 2
         * could be overwritten by an earlier dup2.  Move it out of the
         * way first (httpd keeps 0-2 open, so this is for other callers).
         */
        if (fd >= 0 && fd < 3) {
            if ((lifted[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
                rv = APR_FROM_OS_ERROR(errno);
                goto cleanup;
            }
            fd = lifted[i];
        }
        src[i] = fd;
    }

    if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
        rv = APR_FROM_OS_ERROR(err);
        goto cleanup;
    }
    if ((err = posix_spawnattr_init(&sa)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        rv = APR_FROM_OS_ERROR(err);
        goto cleanup;
    }
    for (i = 0; i < 3 && !err; i++)
        err = src[i] >= 0
              ? posix_spawn_file_actions_adddup2(&fa, src[i], i)
              : posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
                                                 i ? O_WRONLY : O_RDONLY, 0);
    /* Everything else goes, close-on-exec or not. */
    if (!err)
        err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /*
     * An exec keeps the spawning thread's signal mask and the signals
     * httpd ignores (SIGPIPE, SIGXFSZ, ...): the program gets neither.
     */
    sigemptyset(&none);
    sigfillset(&all);
    if (!err)
        err = posix_spawnattr_setsigmask(&sa, &none);
    if (!err)
        err = posix_spawnattr_setsigdefault(&sa, &all);
    if (!err)
        err = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK
                                            | POSIX_SPAWN_SETSIGDEF);
    /* glibc reports a failed exec (no such program) here, as an errno. */
    if (!err)
        err = posix_spawnp(&pid, argv[0], &fa, &sa, (char *const *)argv,
                           environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&sa);
    rv = err ? APR_FROM_OS_ERROR(err) : APR_SUCCESS;
    if (rv == APR_SUCCESS) {
        x->proc.pid = pid;
        x->proc.out = ours;
        apr_pool_cleanup_register(p, x, reap_cleanup,
                                  apr_pool_cleanup_null);
        x->started = apr_time_now();
        if ((x->run = opts ? opts->run : NULL) != NULL) {
            apr_cpystrn(x->run->cmd, printable(argv, opts, p),
                        sizeof(x->run->cmd));
            x->run->rc = -1;
            x->run->duration = 0;
        }
        *out = x;
    }
cleanup:
    for (i = 0; i < 3; i++)
        if (lifted[i] >= 0)
            close(lifted[i]);
    /* Only the child writes: the reader sees EOF when it is done. */
    if (theirs)
        apr_file_close(theirs);
    return rv;
}

apr_status_t h5s3_dg_xdelta_finish(h5s3_result *res,
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
    if (x->run) {
        x->run->duration = apr_time_now() - x->started;
        x->run->rc = APR_PROC_CHECK_EXIT(why) ? code : -code;
    }
    if (kill)
        return APR_SUCCESS;
    if (!APR_PROC_CHECK_EXIT(why) || code != 0)
        return h5s3_result_printf(res, H5S3_E_INTEGRITY,
                                  "xdelta3 failed (%s %d): %s",
                                  APR_PROC_CHECK_EXIT(why) ? "exit"
                                                           : "signal",
                                  code, err_text(x->err, x->pool));
    return APR_SUCCESS;
}

apr_status_t h5s3_dg_xdelta_encode(h5s3_result *res,
                                   const h5s3_dg_codec_opts *opts,
                                   const char *source, const char *target,
                                   const char *out, apr_pool_t *p)
{
    const char *argv[] = {program(opts), "-e", "-f", "-9", "-D", "-s",
                          source, target, out, NULL};
    h5s3_dg_xdelta_proc *x;
    apr_status_t rv;

    if ((rv = spawn(&x, argv, opts, NULL, 0, p)) != APR_SUCCESS)
        return h5s3_result_printf(res, rv, "cannot run %s", argv[0]);
    rv = h5s3_dg_xdelta_finish(res, x, 0);
    apr_file_close(x->err);
    /* A failed encode is our failure, not a bad object. */
    return h5s3_result_status(res, rv == H5S3_E_INTEGRITY ? APR_EGENERAL
                                                          : rv);
}

/*
 * The decoder's source buffer (-B).  xdelta3's default is 64 MiB, all of
 * it touched; a download's memory stays bounded (docs/deltaglider-format.md §5.5).  Decoding
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
