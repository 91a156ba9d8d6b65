/*
 * The storage seam over one S3 bucket.  Restore, listing and savings go
 * through h5s3_dg_store so tests can give them local data instead.
 */
#include "dg/h5s3_dg_store.h"

typedef struct s3_store {
    h5s3_s3_client *client;
    const char *bucket;
    h5s3_s3_call *call;
} s3_store;

static apr_status_t s3_head(h5s3_dg_store *st, h5s3_s3_object_info **info,
                            const char *key, apr_pool_t *p)
{
    s3_store *s = st->baton;
    return h5s3_s3_head(info, s->client, s->bucket, key, s->call, p);
}

static apr_status_t s3_get(h5s3_dg_store *st, const char *key,
                           const char *if_match, h5s3_s3_data_cb on_data,
                           void *baton, apr_pool_t *p)
{
    s3_store *s = st->baton;
    return h5s3_s3_get_stream(s->client, s->bucket, key, if_match, NULL,
                              on_data, baton, s->call, p);
}

static apr_status_t s3_list(h5s3_dg_store *st, h5s3_s3_list_page **page,
                            const char *prefix, const char *delimiter,
                            const char *token, int max_keys, apr_pool_t *p)
{
    s3_store *s = st->baton;
    return h5s3_s3_list(page, s->client, s->bucket,
                        prefix && *prefix ? prefix : NULL, delimiter, token,
                        max_keys, s->call, p);
}

static apr_status_t s3_put(h5s3_dg_store *st, const char *key,
                           apr_off_t size, const char *content_type,
                           apr_table_t *meta, h5s3_s3_read_cb read_cb,
                           void *baton, apr_pool_t *p)
{
    s3_store *s = st->baton;
    return h5s3_s3_put_stream(s->client, s->bucket, key, size, content_type,
                              meta, read_cb, baton, s->call, p);
}

static apr_status_t s3_head_many(h5s3_dg_store *st,
                                 h5s3_s3_head_item *items, int n,
                                 apr_pool_t *p)
{
    s3_store *s = st->baton;
    return h5s3_s3_head_many(s->client, s->bucket, items, n,
                             st->parallel > 0 ? st->parallel
                             : H5S3_DG_PROBE_PARALLEL_DEFAULT, s->call, p);
}

h5s3_dg_store *h5s3_dg_store_s3(h5s3_s3_client *client, const char *bucket,
                                h5s3_s3_call *call, apr_pool_t *p)
{
    h5s3_dg_store *st = apr_pcalloc(p, sizeof(*st));
    s3_store *s = apr_pcalloc(p, sizeof(*s));

    s->client = client;
    s->bucket = bucket;
    s->call = call;
    st->head = s3_head;
    st->get = s3_get;
    st->list = s3_list;
    st->put = s3_put;
    st->head_many = s3_head_many;
    st->baton = s;
    return st;
}
