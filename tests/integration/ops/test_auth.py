"""Authentication stays Apache's: mod_auth_basic + mod_authn_file +
mod_authz_user in front of the module (the preflight still 204 before it),
and three virtual hosts that share nothing: buckets, users, CORS origins
and rate-limit buckets."""

import base64
import json
import subprocess

import pytest

from harness.ops_util import load, ops_vhost

AUTH_MODULES = load("authn_core", "authn_file", "auth_basic", "authz_user")


def basic(user, password):
    tok = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + tok}


def htpasswd(path, user, password, create):
    subprocess.run(["htpasswd", "-b", "-B"] + (["-c"] if create else [])
                   + [path, user, password], check=True,
                   capture_output=True)


def auth_block(realm, userfile):
    return ('        AuthType Basic\n        AuthName "%s"\n'
            "        AuthBasicProvider file\n"
            "        AuthUserFile %s\n        Require valid-user\n"
            % (realm, userfile))


@pytest.fixture
def three(rgw, make_httpd, mpm):
    """alpha: auth (alice) + CORS; beta: auth (bob), other bucket, rate
    limit; gamma: anonymous, CORS '*'."""
    h = make_httpd("", mpm=mpm, start=False)
    ua, ub = h.path("alpha.htpasswd"), h.path("beta.htpasswd")
    htpasswd(ua, "alice", "wonder land", True)
    htpasswd(ub, "bob", "builder", True)
    conf = (AUTH_MODULES
            + ops_vhost(rgw, "alpha.test", ["h5data"], loc=(
                auth_block("alpha", ua)
                + "        H5S3CORSAllowOrigin https://alpha.example\n"
                + "        H5S3CORSAllowCredentials On\n"))
            + ops_vhost(rgw, "beta.test", [("other", "main")], loc=(
                auth_block("beta", ub)
                + "        H5S3RateLimit 1 2\n"))
            + ops_vhost(rgw, "gamma.test", ["many"], loc=(
                "        H5S3CORSAllowOrigin *\n")))
    h.conf_body = conf
    return h.start()


def files(h, host, headers=None):
    s, hd, body = h.get("/hdf/files", host=host, headers=headers)
    return s, hd, body


# mod_auth_basic logs refused logins at error level: expected here.
REFUSED = r"\[auth_basic:error\].*AH0161[78]"


@pytest.mark.expect_errors(REFUSED)
def test_basic_auth_in_front_of_the_module(three):
    h = three
    origin = {"Origin": "https://alpha.example"}
    # Preflight: no credentials, still 204 with CORS headers.
    s, hd, body = h.request("OPTIONS", "/hdf/files", host="alpha.test",
                            headers=dict(origin, **{
                                "Access-Control-Request-Method": "GET",
                                "Access-Control-Request-Headers":
                                    "authorization"}))
    assert s == 204 and body == b""
    assert hd["Access-Control-Allow-Origin"] == "https://alpha.example"
    assert hd["Access-Control-Allow-Credentials"] == "true"
    assert "Authorization" in hd["Access-Control-Allow-Headers"]
    # No credentials: 401 from mod_auth_basic, CORS headers kept so the
    # page's script can see the 401.
    s, hd, _ = files(h, "alpha.test", origin)
    assert s == 401
    assert hd["WWW-Authenticate"].startswith('Basic realm="alpha"')
    assert hd["Access-Control-Allow-Origin"] == "https://alpha.example"
    # Wrong password, wrong user (bob belongs to beta): 401
    assert files(h, "alpha.test", basic("alice", "nope"))[0] == 401
    assert files(h, "alpha.test", basic("bob", "builder"))[0] == 401
    # Right credentials: 200, the module answers
    s, hd, body = files(h, "alpha.test", dict(origin,
                                              **basic("alice", "wonder land")))
    assert s == 200 and json.loads(body)["success"] is True
    assert hd["Access-Control-Allow-Origin"] == "https://alpha.example"
    # the access log names the user httpd authenticated
    entries = h.access_log_entries(min_count=5)
    assert any(e["route"] == "files" and e["status"] == 200 for e in entries)


@pytest.mark.expect_errors(REFUSED)
def test_three_vhosts_are_isolated(three, rgw):
    h = three
    alice, bob = basic("alice", "wonder land"), basic("bob", "builder")
    a = json.loads(files(h, "alpha.test", alice)[2])
    b = json.loads(files(h, "beta.test", bob)[2])
    g = json.loads(files(h, "gamma.test")[2])
    keys = [{r["key"] for r in x["files"] if not r["is_folder"]}
            for x in (a, b, g)]
    for i in range(3):
        for j in range(3):
            if i != j:
                assert not keys[i] & keys[j]
    # Buckets of one vhost are unreachable from another, by name or alias
    for host, hdr, name in (("alpha.test", alice, "other"),
                            ("alpha.test", alice, "main"),
                            ("gamma.test", None, "h5data"),
                            ("beta.test", bob, "many")):
        s, _, body = h.get("/hdf/files?bucket=" + name, host=host,
                           headers=hdr)
        assert s == 404, (host, name, body)
    # Users: alice cannot enter beta, bob cannot enter alpha
    assert files(h, "beta.test", alice)[0] == 401
    assert files(h, "alpha.test", bob)[0] == 401
    # CORS: alpha's origin means nothing on gamma's '*' or on beta
    s, hd, _ = files(h, "beta.test", dict(bob, Origin="https://alpha.example"))
    assert s in (200, 429) and "Access-Control-Allow-Origin" not in hd
    s, hd, _ = files(h, "gamma.test", {"Origin": "https://alpha.example"})
    assert hd["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in hd
    # Rate limit: beta's bucket (burst 2) is used up; alpha and gamma are
    # not limited at all.
    for _ in range(3):
        s, hd, body = files(h, "beta.test", bob)
    assert s == 429 and json.loads(body)["success"] is False
    for _ in range(5):
        assert files(h, "alpha.test", alice)[0] == 200
        assert files(h, "gamma.test")[0] == 200
