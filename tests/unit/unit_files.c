/* See unit_files.h. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_atomic.h>

#include "base/h5s3_errors.h"
#include "unit_common.h"
#include "unit_files.h"

apr_status_t unit_file_fetch(void *baton, h5s3_s3_range *r, int n,
                             apr_pool_t *p)
{
    unit_file_src *s = baton;
    apr_uint32_t call = apr_atomic_inc32(&s->calls) + 1;
    apr_status_t rv = APR_SUCCESS;
    int i;

    (void)p;
    apr_atomic_add32(&s->ranges, (apr_uint32_t)n);
    s->last_n = (apr_uint32_t)n;
    s->last_len0 = r[0].len;
    for (i = 0; i < n; i++) {
        ssize_t got;

        if (s->fail && (int)call > s->fail_after) {
            r[i].got = 0;
            r[i].status = rv = s->fail;
            continue;
        }
        got = pread(s->fd, r[i].buf, r[i].len, r[i].offset);
        r[i].got = got > 0 ? (apr_size_t)got : 0;
        r[i].status = APR_SUCCESS;
        apr_atomic_add64(&s->bytes, r[i].got);
    }
    return rv;
}

void unit_file_object(h5s3_pagecache_object *obj, unit_file_src *fs,
                      const char *path, const char *key, const char *etag)
{
    struct stat st;

    memset(fs, 0, sizeof(*fs));
    fs->fd = open(path, O_RDONLY);
    ck_assert_int_ge(fs->fd, 0);
    ck_assert_int_eq(fstat(fs->fd, &st), 0);
    memset(obj, 0, sizeof(*obj));
    h5s3_pagecache_fingerprint(obj->fp, "", "bucket", key, etag);
    obj->size = st.st_size;
    obj->fetch = unit_file_fetch;
    obj->baton = fs;
}

h5s3_pagecache *unit_heap_cache(apr_size_t page_size, apr_uint32_t pages)
{
    apr_size_t size = h5s3_pagecache_segment_size(page_size, pages);
    void *mem = apr_pcalloc(pool, size + 8);
    h5s3_pagecache *pc;

    ck_assert_int_eq(h5s3_pagecache_init(&pc, mem, size, page_size, NULL, 1,
                                         pool), APR_SUCCESS);
    return pc;
}

void unit_h5_source(h5s3_h5_source *src, unit_file_src *fs,
                    const char *path, h5s3_pagecache *pc)
{
    memset(src, 0, sizeof(*src));
    unit_file_object(&src->obj, fs, path, path, "etag");
    src->cache = pc;
    src->name = path;
}

void unit_setup_h5_io(void)
{
    unit_setup();
    ck_assert_int_eq(h5s3_h5_global_init(), APR_SUCCESS);
}

hid_t unit_h5_temp_file(char *path)
{
    hid_t fid;
    int fd;

    strcpy(path, "/tmp/h5s3-unit-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(fid, 0);
    return fid;
}
