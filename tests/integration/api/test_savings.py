"""POST /api/buckets/{bucket}/compute-savings and the figures in
GET /api/buckets: background jobs in a real httpd (both MPMs), one per
bucket across processes, cancelled by graceful restart and shutdown;
figures checked against an independent boto3 computation."""

import re
import time

import pytest

from harness.api_common import (MANY_BUCKET, api_conf, api_json,
                                assert_api_error, many_bucket, python_savings,
                                wait_savings)


@pytest.fixture(scope="module")
def many(rgw):
    return many_bucket(rgw)


def conf(rgw):
    return api_conf(rgw, buckets=(("dgdata", "data"), ("dgedge", "edge"),
                                  (MANY_BUCKET, "many")))


def start(h, name):
    status, _, body = api_json(h, "POST",
                               "/api/buckets/%s/compute-savings" % name)
    assert status == 202, body
    assert body["status"] == "accepted" and body["bucket"] == name
    assert re.fullmatch(r"[0-9a-f]{24}", body["task_id"])
    return body["task_id"]


def many_expected(many):
    plain = sum(v for k, v in many["sizes"].items() if k.endswith(".txt"))
    deltas = sum(v for k, v in many["sizes"].items() if k.endswith(".zip"))
    stored = plain + 10 * many["deltas"]
    orig = plain + deltas
    return {"object_count": many["plain"] + many["deltas"],
            "original_bytes": orig, "stored_bytes": stored,
            "savings_pct": max(0.0, (1 - stored / orig) * 100)}


def same_figures(row, want):
    for f in ("object_count", "original_bytes", "stored_bytes"):
        assert row[f] == want[f], (f, row, want)
    assert abs(row["savings_pct"] - want["savings_pct"]) < 1e-6


def test_figures_match_independent_computation(rgw, make_httpd, mpm):
    h = make_httpd(conf(rgw), mpm=mpm)
    s3 = rgw.client()
    for name, bucket in (("data", "dgdata"), ("edge", "dgedge")):
        start(h, name)
        row = wait_savings(h, name)
        want = python_savings(s3, bucket)
        same_figures(row, want)
        assert row["computed_at"].endswith("Z")
        assert "error" not in row
        if bucket == "dgdata":
            assert row["object_count"] == 13
            assert 40 < row["savings_pct"] < 100
    # Every process sees the figures (new connections, other children).
    for _ in range(6):
        _, _, body = api_json(h, "GET", "/api/buckets")
        rows = {b["name"]: b for b in body["buckets"]}
        assert rows["data"]["object_count"] == 13
        assert rows["many"]["object_count"] is None


def test_one_job_per_bucket_across_processes(rgw, make_httpd, mpm, many):
    h = make_httpd(conf(rgw), mpm=mpm)
    first = start(h, "many")
    # Separate connections, so (prefork) separate processes.
    again = [start(h, "many") for _ in range(3)]
    assert again == [first] * 3
    _, _, body = api_json(h, "GET", "/api/buckets")
    row = {b["name"]: b for b in body["buckets"]}["many"]
    assert row["pending"] is True and row["task_id"] == first
    # Another bucket is another job.
    other = start(h, "data")
    assert other != first
    row = wait_savings(h, "many")
    same_figures(row, many_expected(many))
    wait_savings(h, "data")
    done = [ln for ln in h.error_log_lines() if "H5S3-0120" in ln
            and first in ln]
    assert len(done) == 1, done
    # Once finished, a new request is a new job.
    assert start(h, "many") != first
    wait_savings(h, "many")


def test_cancelled_by_graceful_restart_and_stop(rgw, make_httpd, mpm, many):
    h = make_httpd(conf(rgw), mpm=mpm)
    task = start(h, "many")
    h.graceful()
    lines = [ln for ln in h.error_log_lines() if "H5S3-0121" in ln]
    assert len(lines) == 1 and task in lines[0], h.error_log_lines()[-20:]
    # Partial results were discarded and the claim released.
    _, _, body = api_json(h, "GET", "/api/buckets")
    row = {b["name"]: b for b in body["buckets"]}["many"]
    assert row["pending"] is False and row["object_count"] is None
    # The new generation starts afresh; stopping the server cancels too.
    task2 = start(h, "many")
    assert task2 != task
    h.stop()
    lines = [ln for ln in h.error_log_lines() if "H5S3-0121" in ln]
    assert len(lines) == 2 and task2 in lines[1]


def test_unknown_bucket_and_wrong_method(rgw, make_httpd):
    h = make_httpd(conf(rgw))
    status, _, body = api_json(h, "POST", "/api/buckets/dgdata/"
                               "compute-savings")
    assert status == 404
    assert_api_error(body, "bucket_not_found")
    status, hdrs, body = api_json(h, "GET", "/api/buckets/data/"
                                  "compute-savings")
    assert status == 405 and hdrs["Allow"] == "POST"
    assert_api_error(body, "method_not_allowed")
