/*
 * Ranged GETs: one range on the calling thread, or many ranges of one
 * object at once over a curl multi handle.  Both ask with a Range header
 * (and If-Match when the caller knows the ETag) and check the answer the
 * same way: a 416 is the end of the object, not a failure, and a 206
 * must start where it was asked to.
 */
#include <string.h>
#include <curl/curl.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_internal.h"
#include "s3/h5s3_s3_sign.h"

/* A GET of [offset, offset + len), If-Match the ETag when one is given. */
static void range_request(h5s3_s3_xreq *rq, const char *bucket,
                          const char *key, const char *if_match,
                          apr_off_t offset, apr_size_t len, apr_pool_t *p)
{
    h5s3_s3_xreq_init(rq, "GET", bucket, key);
    rq->headers = apr_array_make(p, 2, sizeof(h5s3_s3_kv));
    h5s3_s3_kv_add(rq->headers, "Range",
                   apr_psprintf(p, "bytes=%" APR_OFF_T_FMT "-%" APR_OFF_T_FMT,
                                offset, offset + (apr_off_t)len - 1));
    if (if_match) {
        h5s3_s3_kv_add(rq->headers, "If-Match",
                       h5s3_s3_if_match_value(if_match, p));
    }
}

/* The body of a ranged answer goes to buf, which holds len bytes. */
static void range_sink(h5s3_s3_xfer *x, char *buf, apr_size_t len,
                       apr_off_t offset)
{
    x->buf = buf;
    x->cap = len;
    x->range_offset = offset;
}

/* Ranged results: 416 is the end of the object, a 206 must start right. */
static apr_status_t range_result(h5s3_s3_xfer *x, apr_status_t rv,
                                 apr_size_t *got, h5s3_s3_call *call)
{
    apr_off_t start;

    *got = 0;
    if (rv == H5S3_E_BADREQUEST && x->status == 416) {
        if (call) {
            /* Reading at or past the end is not an S3 failure. */
            call->errors--;
            h5s3_result_s3_clear(call->result);
        }
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (x->status == 206) {
        h5s3_s3_content_range_total(apr_table_get(x->rh, "content-range"),
                                    &start);
        if (start != x->range_offset) {
            if (call) {
                /* The exchange itself went well (206): the HTTP status
                 * told stays the last failed exchange's. */
                call->errors++;
                h5s3_result_s3_set(call->result, call->result
                                   ? call->result->s3_status : 0,
                                   "ClientError",
                                   "S3 sent a range other than asked");
            }
            return H5S3_E_UPSTREAM;
        }
    }
    *got = x->got;
    return APR_SUCCESS;
}

/* ---- one range --------------------------------------------------------- */

typedef struct range_prep {
    char *buf;
    apr_size_t len;
    apr_off_t offset;
} range_prep;

static void prep_range(h5s3_s3_xfer *x, void *baton)
{
    range_prep *r = baton;

    range_sink(x, r->buf, r->len, r->offset);
}

apr_status_t h5s3_s3_get_range(apr_size_t *got, h5s3_s3_client *c,
                               const char *bucket, const char *key,
                               const char *if_match, apr_off_t offset,
                               apr_size_t len, char *buf,
                               h5s3_s3_call *call, apr_pool_t *p)
{
    return h5s3_s3_get_range_info(got, NULL, c, bucket, key, if_match,
                                  offset, len, buf, call, p);
}

apr_status_t h5s3_s3_get_range_info(apr_size_t *got,
                                    h5s3_s3_object_info **info,
                                    h5s3_s3_client *c, const char *bucket,
                                    const char *key, const char *if_match,
                                    apr_off_t offset, apr_size_t len,
                                    char *buf, h5s3_s3_call *call,
                                    apr_pool_t *p)
{
    h5s3_s3_xreq rq;
    h5s3_s3_xfer *x;
    range_prep rp;
    apr_status_t rv;

    *got = 0;
    if (info) {
        *info = NULL;
    }
    if (key == NULL || offset < 0 || (len > 0 && buf == NULL)
        || (len == 0 && info)) {
        return H5S3_E_INVALID;
    }
    if (len == 0) {
        return APR_SUCCESS;
    }
    range_request(&rq, bucket, key, if_match, offset, len, p);
    rp.buf = buf;
    rp.len = len;
    rp.offset = offset;
    rv = h5s3_s3_perform(&x, c, &rq, prep_range, &rp, call, p);
    if (x) {
        int past_end = x->status == 416;

        rv = range_result(x, rv, got, call);
        if (rv == APR_SUCCESS && info) {
            *info = h5s3_s3_xfer_info(x, p);
            if (past_end) {
                /* The lengths describe the error document, not the object:
                 * a range from offset 0 is past the end only when empty. */
                (*info)->size = offset == 0 ? 0 : -1;
            }
        }
        h5s3_s3_xfer_release(x);
    }
    return rv;
}

/* ---- many ranges at once ----------------------------------------------- */

/* One h5s3_s3_get_ranges call under way. */
typedef struct ranges_run {
    h5s3_s3_client *c;
    const char *bucket;
    const char *key;
    const char *if_match;
    h5s3_s3_range *ranges;
    int n;
    int max_parallel;
    h5s3_s3_call *call;
    apr_pool_t *p;
    CURLM *m;
    h5s3_s3_xfer **flying;      /* by range index, while in the multi */
    int next;                   /* the next range to start */
    int running;                /* exchanges in the multi */
    int done;                   /* ranges with a final status */
} ranges_run;

/* Put range r in flight, or give it its final status now. */
static void start_one(ranges_run *rr, h5s3_s3_range *r)
{
    h5s3_s3_xreq rq;
    h5s3_s3_xfer *x;
    apr_status_t rv;

    if (r->len == 0 || r->offset < 0 || r->buf == NULL) {
        r->status = r->len == 0 ? APR_SUCCESS : H5S3_E_INVALID;
        rr->done++;
        return;
    }
    range_request(&rq, rr->bucket, rr->key, rr->if_match, r->offset, r->len,
                  rr->p);
    if ((rv = h5s3_s3_xfer_begin(&x, rr->c, &rq, rr->p)) != APR_SUCCESS) {
        r->status = rv;
        rr->done++;
        return;
    }
    range_sink(x, r->buf, r->len, r->offset);
    x->range = r;
    if (curl_multi_add_handle(rr->m, x->h) != CURLM_OK) {
        r->status = h5s3_s3_xfer_end(x, CURLE_FAILED_INIT, rr->call);
        rr->done++;
        return;
    }
    rr->flying[r - rr->ranges] = x;
    rr->running++;
}

/* Fill the multi handle up to max_parallel exchanges. */
static void start_more(ranges_run *rr)
{
    while (rr->running < rr->max_parallel && rr->next < rr->n) {
        start_one(rr, &rr->ranges[rr->next++]);
    }
}

/* Take the finished exchanges out of the multi handle. */
static void collect(ranges_run *rr)
{
    CURLMsg *msg;
    int q;

    while ((msg = curl_multi_info_read(rr->m, &q)) != NULL) {
        CURL *eh;
        CURLcode cc;
        h5s3_s3_xfer *x = NULL;
        apr_status_t rv;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        eh = msg->easy_handle;
        cc = msg->data.result;
        curl_easy_getinfo(eh, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(rr->m, eh);
        rr->flying[x->range - rr->ranges] = NULL;
        rv = h5s3_s3_xfer_end(x, cc, rr->call);
        x->range->status = range_result(x, rv, &x->range->got, rr->call);
        h5s3_s3_xfer_release(x);
        rr->running--;
        rr->done++;
    }
}

/*
 * The multi handle failed: abandon what is in flight, destroy the multi
 * handle rather than pool it, and fail every range left.
 */
static void abandon(ranges_run *rr)
{
    int i;

    for (i = 0; i < rr->n; i++) {
        if (rr->flying[i]) {
            curl_multi_remove_handle(rr->m, rr->flying[i]->h);
            h5s3_s3_xfer_abandon(rr->flying[i]);
        }
    }
    curl_multi_cleanup(rr->m);
    rr->m = NULL;
    for (i = 0; i < rr->n; i++) {
        if (rr->ranges[i].status == APR_EINIT) {
            rr->ranges[i].status = H5S3_E_UPSTREAM;
        }
    }
}

apr_status_t h5s3_s3_get_ranges(h5s3_s3_client *c, const char *bucket,
                                const char *key, const char *if_match,
                                h5s3_s3_range *ranges, int n,
                                int max_parallel, h5s3_s3_call *call,
                                apr_pool_t *p)
{
    ranges_run rr;
    int i, still;

    if (key == NULL || n < 0 || (n > 0 && ranges == NULL)) {
        return H5S3_E_INVALID;
    }
    for (i = 0; i < n; i++) {
        ranges[i].got = 0;
        ranges[i].status = APR_EINIT;
    }
    memset(&rr, 0, sizeof(rr));
    rr.c = c;
    rr.bucket = bucket;
    rr.key = key;
    rr.if_match = if_match;
    rr.ranges = ranges;
    rr.n = n;
    rr.max_parallel = max_parallel < 1 ? 1 : max_parallel;
    rr.call = call;
    rr.p = p;
    if ((rr.m = h5s3_s3_multi_get()) == NULL) {
        return APR_ENOMEM;
    }
    rr.flying = apr_pcalloc(p, sizeof(*rr.flying) * (n + 1));
    while (rr.done < n) {
        start_more(&rr);
        if (rr.running == 0) {
            continue;
        }
        if (curl_multi_perform(rr.m, &still) != CURLM_OK) {
            break;
        }
        collect(&rr);
        if (rr.running > 0 && rr.done < n) {
            curl_multi_poll(rr.m, NULL, 0, 1000, NULL);
        }
    }
    if (rr.done < n) {
        abandon(&rr);
    }
    h5s3_s3_multi_put(rr.m);
    for (i = 0; i < n; i++) {
        if (ranges[i].status != APR_SUCCESS) {
            return ranges[i].status;
        }
    }
    return APR_SUCCESS;
}
