/*
 * DeltaGlider object metadata (x-amz-meta-* headers: whoever writes the
 * object chooses them) and key classification.  Input: the S3 key on the
 * first line, then "name: value" lines (names lower-cased, as the S3
 * client stores them).  An input of the key alone means "no metadata".
 */
#include <stdio.h>
#include <apr_lib.h>
#include <apr_tables.h>
#include "fuzz_common.h"
#include "dg/h5s3_dg.h"

static const char *const names[] = {
    "tool", "original-name", "source-name", "file-sha256", "file-size",
    "ref-key", "ref-path", "ref-sha256", "delta-size", "delta-cmd",
    "created-at", "note", "compression", NULL
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(data, size, p), *key, *rest, *line, *last;
    apr_table_t *meta = NULL;
    h5s3_dg_meta *m;
    const char *ref_path;
    h5s3_result res;
    h5s3_dg_savings_acc *acc;
    h5s3_dg_savings sv;
    volatile size_t sink = 0;
    int i;

    h5s3_result_init(&res, p);
    key = s;
    rest = strchr(s, '\n');
    if (rest) {
        *rest++ = '\0';
        meta = apr_table_make(p, 8);
        for (line = apr_strtok(rest, "\n", &last); line;
             line = apr_strtok(NULL, "\n", &last)) {
            char *colon = strchr(line, ':'), *c;
            if (!colon)
                continue;
            *colon++ = '\0';
            for (c = line; *c; c++)
                *c = (char)apr_tolower(*c);
            while (*colon == ' ')
                colon++;
            apr_table_add(meta, line, colon);
        }
    }

    sink += (size_t)h5s3_dg_delta_eligible(key) + h5s3_dg_key_internal(key)
            + h5s3_dg_key_is_delta(key);
    sink += strlen(h5s3_dg_logical_key(key, p));
    sink += strlen(h5s3_dg_deltaspace(key, p));
    sink += strlen(h5s3_dg_reference_key(key, p));
    for (i = 0; names[i]; i++) {
        const char *v = h5s3_dg_meta_get(meta, names[i], p);
        sink += v ? strlen(v) : 0;
    }

    ref_path = h5s3_dg_meta_get(meta, "ref-path", p);
    if (h5s3_dg_meta_parse(&m, &res, key, meta, p) == APR_SUCCESS) {
        h5s3_dg_object obj;
        const char *space = h5s3_dg_deltaspace(key, p);
        json_t *j;

        if (m->file_sha256 && strlen(m->file_sha256) != 64) {
            fprintf(stderr, "accepted a sha256 of %zu chars\n",
                    strlen(m->file_sha256));
            abort();
        }
        /* A delta's dg-ref-path never leads outside its deltaspace. */
        if (m->kind == H5S3_DG_DELTA && ref_path
            && (h5s3_dg_ref_path_problem(ref_path)
                || (!h5s3_dg_meta_get(meta, "ref-key", p)
                    && (strncmp(m->ref_key, space, strlen(space)) != 0
                        || strlen(m->ref_key) > H5S3_S3_KEY_MAX)))) {
            fprintf(stderr, "followed dg-ref-path '%s' to '%s'\n",
                    ref_path, m->ref_key);
            abort();
        }
        memset(&obj, 0, sizeof(obj));
        obj.key = h5s3_dg_logical_key(key, p);
        obj.s3_key = key;
        obj.original_bytes = m->file_size;
        obj.stored_bytes = 1000;
        obj.compressed = m->kind == H5S3_DG_DELTA;
        obj.etag = "etag";
        obj.meta = m;
        j = h5s3_dg_metadata_json(&obj);
        json_decref(j);
        j = h5s3_dg_object_json(&obj);
        json_decref(j);
    }
    else if (!res.detail) {
        fprintf(stderr, "refused metadata without a reason\n");
        abort();
    }

    acc = h5s3_dg_savings_acc_create(p);
    h5s3_dg_savings_acc_add(acc, key, (apr_off_t)size, (apr_off_t)size * 2);
    h5s3_dg_savings_acc_add(acc, key, 0, -1);
    h5s3_dg_savings_acc_finish(&sv, acc);
    (void)sink;
    apr_pool_destroy(p);
    return 0;
}
