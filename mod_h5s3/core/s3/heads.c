/*
 * HEADs of many keys at once over a curl multi handle: what a listing of
 * DeltaGlider deltas needs, since each delta's original size lives in its
 * metadata (docs/deltaglider-format.md §3).  One after another, N deltas
 * cost N round trips; here they cost N / max_parallel.
 */
#include <string.h>
#include <curl/curl.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_internal.h"

/* One h5s3_s3_head_many call under way. */
typedef struct heads_run {
    h5s3_s3_client *c;
    const char *bucket;
    h5s3_s3_head_item *items;
    int n;
    int max_parallel;
    h5s3_s3_call *call;
    apr_pool_t *p;
    CURLM *m;
    /* The exchanges in the multi and their items, by slot (at most
     * max_parallel): a finished one is found among these, not among
     * every item. */
    h5s3_s3_xfer **slot_x;
    int *slot_item;
    char *retried;              /* by item index: sent again once */
    int *queue;                 /* item indexes still to start */
    int queued, next;
    int running;
    int done;
} heads_run;

/* The slot of an exchange in flight (x NULL: a free slot), or -1. */
static int slot_of(heads_run *hr, const h5s3_s3_xfer *x)
{
    int i;

    for (i = 0; i < hr->max_parallel; i++) {
        if (hr->slot_x[i] == x) {
            return i;
        }
    }
    return -1;
}

static void start_one(heads_run *hr, int i)
{
    h5s3_s3_head_item *it = &hr->items[i];
    h5s3_s3_xreq rq;
    h5s3_s3_xfer *x;
    apr_status_t rv;
    int k;

    if (it->key == NULL) {
        it->status = H5S3_E_INVALID;
        hr->done++;
        return;
    }
    h5s3_s3_xreq_init(&rq, "HEAD", hr->bucket, it->key);
    if ((rv = h5s3_s3_xfer_begin(&x, hr->c, &rq, hr->p)) != APR_SUCCESS) {
        it->status = rv;
        hr->done++;
        return;
    }
    if (curl_multi_add_handle(hr->m, x->h) != CURLM_OK) {
        it->status = h5s3_s3_xfer_end(x, CURLE_FAILED_INIT, hr->call);
        hr->done++;
        return;
    }
    k = slot_of(hr, NULL);
    hr->slot_x[k] = x;
    hr->slot_item[k] = i;
    hr->running++;
}

static void start_more(heads_run *hr)
{
    while (hr->running < hr->max_parallel && hr->next < hr->queued) {
        start_one(hr, hr->queue[hr->next++]);
    }
}

static void collect(heads_run *hr)
{
    CURLMsg *msg;
    int q;

    while ((msg = curl_multi_info_read(hr->m, &q)) != NULL) {
        h5s3_s3_xfer *x = NULL;
        CURLcode cc;
        int i, k;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        cc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(hr->m, msg->easy_handle);
        k = slot_of(hr, x);
        i = hr->slot_item[k];
        hr->slot_x[k] = NULL;
        hr->running--;
        if (!hr->retried[i] && h5s3_s3_xfer_retryable(cc, x)) {
            /* A kept-alive connection the server had closed: once more,
             * counted as a request as h5s3_s3_perform counts it. */
            hr->retried[i] = 1;
            if (hr->call) {
                hr->call->requests++;
            }
            h5s3_s3_xfer_abandon(x);
            hr->queue[hr->queued++] = i;
            continue;
        }
        hr->items[i].status = h5s3_s3_xfer_end(x, cc, hr->call);
        if (hr->items[i].status == APR_SUCCESS) {
            hr->items[i].info = h5s3_s3_xfer_info(x, hr->p);
        }
        h5s3_s3_xfer_release(x);
        hr->done++;
    }
}

/* The multi handle failed: drop what is in flight, fail what is left. */
static void abandon(heads_run *hr)
{
    int i;

    for (i = 0; i < hr->max_parallel; i++) {
        if (hr->slot_x[i]) {
            curl_multi_remove_handle(hr->m, hr->slot_x[i]->h);
            h5s3_s3_xfer_abandon(hr->slot_x[i]);
            hr->slot_x[i] = NULL;
        }
    }
    for (i = 0; i < hr->n; i++) {
        if (hr->items[i].status == APR_EINIT) {
            hr->items[i].status = H5S3_E_UPSTREAM;
        }
    }
    curl_multi_cleanup(hr->m);
    hr->m = NULL;
}

apr_status_t h5s3_s3_head_many(h5s3_s3_client *c, const char *bucket,
                               h5s3_s3_head_item *items, int n,
                               int max_parallel, h5s3_s3_call *call,
                               apr_pool_t *p)
{
    heads_run hr;
    int i, still;

    if (n < 0 || (n > 0 && items == NULL)) {
        return H5S3_E_INVALID;
    }
    if (n == 0) {
        return APR_SUCCESS;
    }
    memset(&hr, 0, sizeof(hr));
    hr.c = c;
    hr.bucket = bucket;
    hr.items = items;
    hr.n = n;
    hr.max_parallel = max_parallel < 1 ? 1 : max_parallel;
    hr.call = call;
    hr.p = p;
    hr.slot_x = apr_pcalloc(p, sizeof(*hr.slot_x)
                               * (apr_size_t)hr.max_parallel);
    hr.slot_item = apr_pcalloc(p, sizeof(*hr.slot_item)
                                  * (apr_size_t)hr.max_parallel);
    hr.retried = apr_pcalloc(p, (apr_size_t)n);
    /* Each item is queued at most twice (its one retry). */
    hr.queue = apr_palloc(p, sizeof(*hr.queue) * 2 * (apr_size_t)n);
    for (i = 0; i < n; i++) {
        items[i].info = NULL;
        items[i].status = APR_EINIT;
        hr.queue[hr.queued++] = i;
    }
    if ((hr.m = h5s3_s3_multi_get()) == NULL) {
        return APR_ENOMEM;
    }
    while (hr.done < n) {
        start_more(&hr);
        if (hr.running == 0) {
            if (hr.next >= hr.queued) {
                break;
            }
            continue;
        }
        if (curl_multi_perform(hr.m, &still) != CURLM_OK) {
            break;
        }
        collect(&hr);
        if (hr.running > 0 && hr.done < n) {
            curl_multi_poll(hr.m, NULL, 0, 1000, NULL);
        }
    }
    if (hr.done < n) {
        abandon(&hr);
    }
    h5s3_s3_multi_put(hr.m);
    return APR_SUCCESS;
}
