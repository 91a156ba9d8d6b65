"""openapi.yaml: linted with @redocly/cli, in step with the router and the
directives, served by the module byte for byte, and strict enough that
the response validation of the harness (schema.py) can fail."""

import os
import re
import subprocess

import pytest
import yaml

from harness import schema
from harness.common import vhost

REPO = schema.REPO
SPEC = schema.SPEC
TOOLS = os.path.join(REPO, "tools", "openapi")
HOST = "openapi.test"


def spec_bytes():
    with open(SPEC, "rb") as f:
        return f.read()


# ---- the document itself -------------------------------------------------

def test_redocly_lint():
    redocly = os.path.join(TOOLS, "node_modules", ".bin", "redocly")
    assert os.path.exists(redocly), (
        "@redocly/cli is not installed: run scripts/install-node-tools.sh")
    env = dict(os.environ, REDOCLY_TELEMETRY="off",
               REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_COLOR="1")
    # npx resolves the same binary from tools/openapi's lockfile.
    r = subprocess.run(["npx", "--no-install", "--prefix", TOOLS, "redocly",
                        "lint", "--format=stylish", "openapi.yaml"],
                       cwd=REPO, capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=180)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "valid" in out, out
    assert not re.search(r"\b(error|warning)\b", out.split("validating", 1)
                         [-1].split("validated in", 1)[0]), out


def test_plain_ascii_and_final_newline():
    """What the build embeds (scripts/embed-text.awk) must round-trip."""
    raw = spec_bytes()
    assert raw.endswith(b"\n")
    raw.decode("ascii")
    assert b"\r" not in raw


def router_routes():
    """(method, pattern) of every entry of routes[] in glue/router.c."""
    with open(os.path.join(REPO, "mod_h5s3", "glue", "router.c")) as f:
        src = f.read()
    table = src[src.index("routes[] = {"):]
    table = table[:table.index("{NULL, NULL")]
    out = set()
    for m in re.finditer(r'\{"\w+",\s*"([^"]+)",\s*([A-Z_ |]+),', table):
        for bit in m.group(2).split("|"):
            # {raw} (the rest of the path, undecoded) spans like {key}
            out.add((bit.strip().replace("BIT_", ""),
                     m.group(1).replace("{raw}", "{key}")))
    return out


def spec_routes(spec):
    """The same from openapi.yaml: {a}/{b} spans become the router's {key},
    and the trailing slash goes (the router drops one)."""
    out = set()
    for path, item in spec["paths"].items():
        p = path.rstrip("/") or "/"
        if "{" in p:
            p = p[:p.index("{")] + "{key}" + p[p.rindex("}") + 1:]
        for m in item:
            if m in ("get", "post", "put", "delete", "patch"):
                out.add((m.upper(), p))
    return out


def test_every_route_of_the_router_is_documented_and_back():
    spec = yaml.safe_load(spec_bytes())
    code, doc = router_routes(), spec_routes(spec)
    assert len(code) >= 23, code
    assert code - doc == set(), "routes missing from openapi.yaml"
    assert doc - code == set(), "openapi.yaml documents routes the router " \
                                "does not have"


def directives_in_glue():
    """Every directive of the glue's command tables (mod_h5s3/**.c)."""
    src = ""
    for top, _, names in os.walk(os.path.join(REPO, "mod_h5s3")):
        for name in names:
            if name.endswith(".c"):
                with open(os.path.join(top, name)) as f:
                    src += f.read()
    return set(re.findall(r'AP_INIT_\w+\(\s*"(H5S3\w+)"', src))


def test_directives_named_exist():
    """x-h5s3-directives name real directives (the glue's command tables)."""
    spec = yaml.safe_load(spec_bytes())
    real = directives_in_glue()
    assert "H5S3Bucket" in real, "cannot read the directive tables"
    table = spec["x-h5s3-directive-table"]
    assert set(table) <= real, set(table) - real
    for path, item in spec["paths"].items():
        for m, op in item.items():
            for d in op.get("x-h5s3-directives", []):
                assert d in table, (path, m, d)


def test_every_operation_is_fully_described():
    """operationId, a success response with a body schema, 429 (rate
    limit), and typed parameters everywhere."""
    c = schema.contract()
    ids = set()
    for tmpl, method, op in c.operations():
        assert op["operationId"] not in ids
        ids.add(op["operationId"])
        codes = set(op["responses"])
        assert codes & {"200", "202"}, (tmpl, method)
        assert "429" in codes, (tmpl, method)
        for p in c.parameters(op):
            assert "schema" in p and p["schema"], (tmpl, p)
        ok = c.resolve(op["responses"].get("200")
                       or op["responses"]["202"])
        assert ok.get("content"), (tmpl, method)


# ---- the validator can fail ------------------------------------------------

class H(dict):
    def get(self, k, d=None):
        for key, v in self.items():
            if key.lower() == k.lower():
                return v
        return d


JSON = H({"Content-Type": "application/json"})


def test_contract_rejects_drift():
    c = schema.contract()
    good = (b'{"service":"HDF Viewer Backend","status":"healthy",'
            b'"timestamp":"2026-01-01T00:00:00.123456"}')
    assert c.check("GET", "/hdf/health", "/hdf", 200, JSON, good) \
        == "/health"
    bad = [
        (200, JSON, good.replace(b'"healthy"', b'"sick"')),      # value
        (200, JSON, good[:-1] + b',"extra":1}'),                  # closed
        (200, JSON, b'{"service":"HDF Viewer Backend"}'),         # required
        (201, JSON, good),                                        # status
        (200, H({"Content-Type": "text/html"}), good),            # type
        (200, JSON, b"{not json"),
        (500, JSON, b'{"error":"Internal server error","success":false}'),
    ]
    for status, hdrs, body in bad:
        with pytest.raises(AssertionError):
            c.check("GET", "/hdf/health", "/hdf", status, hdrs, body)
    # NaN is not JSON.
    with pytest.raises(AssertionError):
        c.check("GET", "/hdf/h5grove/attr/?file=x", "/hdf", 200, JSON,
                b'{"a": NaN}')
    # Unknown routes and wrong methods: the family's envelope, Allow.
    c.check("GET", "/hdf/nope", "/hdf", 404, JSON,
            b'{"error":"Not found","success":false}')
    c.check("GET", "/hdf/api/nope", "/hdf", 404, JSON,
            b'{"error":{"code":"not_found","message":"x","details":{}}}')
    with pytest.raises(AssertionError):
        c.check("GET", "/hdf/api/nope", "/hdf", 404, JSON,
                b'{"error":"Not found","success":false}')
    allow = H({"Content-Type": "application/json", "Allow": "POST"})
    c.check("GET", "/hdf/files/refresh", "/hdf", 405, allow,
            b'{"error":"Method not allowed","success":false}')
    with pytest.raises(AssertionError):
        c.check("GET", "/hdf/files/refresh", "/hdf", 405, JSON,
                b'{"error":"Method not allowed","success":false}')


def test_routing_follows_the_router():
    c = schema.contract()
    r = c.route
    assert r("GET", "/files/a/b.h5/children")[0] == "/files/{key}/children"
    assert r("GET", "/files/a/export/csv")[0] == "/files/{key}/export/csv"
    assert r("GET", "/api/objects/al/k/x/metadata")[0] == \
        "/api/objects/{bucket}/{key}/metadata"
    # The one-segment form still reaches the route (which answers 400).
    assert r("GET", "/api/objects/al/metadata")[0] == \
        "/api/objects/{bucket}/{key}/metadata"
    # GET on the prepare path is a (bad) token, as in the router.
    assert r("GET", "/api/download/prepare")[0] == "/api/download/{token}"
    assert r("POST", "/api/download/prepare")[0] == "/api/download/prepare"
    tmpl, op, allowed = r("DELETE", "/files/refresh")
    assert op is None and allowed == {"POST"}
    assert schema.Contract.rel_path("/hdf/h5grove/meta/?file=a", "/hdf") \
        == "/h5grove/meta"
    assert schema.Contract.rel_path("/hdf", "/hdf") == "/"
    # Escapes stay as sent: only a {param} decodes them, and they never
    # spell a fixed part (the router's rule against %2F past <Location>).
    assert schema.Contract.rel_path("/hdf/files/a%2Fb/meta", "/hdf") \
        == "/files/a%2Fb/meta"
    assert r("GET", "/files/a%2Fb/meta")[0] == "/files/{key}/meta"
    assert r("POST", "/api%2Fupload") == (None, None, set())
    assert r("GET", "/files/a.h5%2Fmeta") == (None, None, set())
    assert r("GET", "/fil%65s") == (None, None, set())
    assert schema.Contract.rel_path("/h%64f/files", "/hdf") == "/files"
    assert schema.Contract.rel_path("/hdf%2Ffiles", "/hdf") == \
        "/hdf%2Ffiles"
    assert schema.Contract.rel_path("/hdf/x%zz", "/hdf") is None


def test_locations_from_conf_body():
    conf = ("<VirtualHost *:*>\n<Location /data/v1>\n  SetHandler h5s3\n"
            "</Location>\n<Location /data/v1/static>\n  SetHandler none\n"
            "</Location>\n<Location /data/v1/files>\n  Header set X y\n"
            "</Location>\n<Location /server-status>\n"
            "  SetHandler server-status\n</Location>\n</VirtualHost>\n")
    locs = schema.h5s3_locations(conf)
    assert schema.base_for("/data/v1/files", locs) == "/data/v1"
    assert schema.base_for("/data/v1", locs) == "/data/v1"
    assert schema.base_for("/data/v1/static/x", locs) is None
    assert schema.base_for("/data/v10", locs) is None
    assert schema.base_for("/server-status", locs) is None
    assert schema.base_for("/data/v1/../x", locs) is None


# ---- served by the module ------------------------------------------------------

@pytest.fixture
def srv(make_httpd, rgw):
    return make_httpd(vhost(rgw, HOST, ["h5data"])
                      + vhost(rgw, "deep.test", ["h5data"],
                              location="/data/v1"))


def test_served_byte_for_byte(srv):
    raw = spec_bytes()
    for host, path in ((HOST, "/hdf/openapi.yaml"),
                       (HOST, "/hdf/openapi.yaml/"),
                       ("deep.test", "/data/v1/openapi.yaml?x=1")):
        status, hdrs, body = srv.get(path, host=host)
        assert status == 200, (path, body[:200])
        assert hdrs["Content-Type"] == "application/yaml"
        assert int(hdrs["Content-Length"]) == len(raw)
        assert body == raw, path
    status, hdrs, body = srv.request("HEAD", "/hdf/openapi.yaml", host=HOST)
    assert status == 200 and body == b""
    assert int(hdrs["Content-Length"]) == len(raw)
    status, hdrs, body = srv.request("POST", "/hdf/openapi.yaml", host=HOST)
    assert status == 405 and hdrs["Allow"] == "GET, HEAD"


def test_served_document_parses_to_the_spec(srv):
    status, _, body = srv.get("/hdf/openapi.yaml", host=HOST)
    assert status == 200
    doc = yaml.safe_load(body)
    assert doc["openapi"].startswith("3.1")
    assert "/openapi.yaml" in doc["paths"]


def test_directive_table_is_complete():
    spec = yaml.safe_load(spec_bytes())
    real = directives_in_glue()
    assert real - set(spec["x-h5s3-directive-table"]) == set()


def test_range_requests_get_the_whole_answer(srv):
    """No route serves byte ranges: a Range header must not turn a JSON
    answer into a 206 piece of it (httpd's byterange filter would)."""
    status, hdrs, body = srv.get("/hdf/files", host=HOST,
                                 headers={"Range": "bytes=0-10"})
    assert status == 200 and hdrs.get("Content-Range") is None
    assert body.startswith(b"{") and body.rstrip().endswith(b"}")
    status, _, body = srv.get("/hdf/openapi.yaml", host=HOST,
                              headers={"Range": "bytes=5-"})
    assert status == 200 and body == spec_bytes()


def test_long_keys_reach_the_module(srv):
    """Keys with a 300-byte segment and URLs beyond PATH_MAX are the
    module's to answer (JSON 404), not core's file mapping (HTML 403)."""
    for key in ("a" * 300 + ".h5", "/".join(["b" * 200] * 20) + ".h5"):
        status, hdrs, body = srv.get("/hdf/files/%s/meta?path=/" % key,
                                     host=HOST)
        assert status == 404, (status, body[:200])
        assert hdrs["Content-Type"] == "application/json"
    assert not [ln for ln in srv.error_log_lines() if "AH00127" in ln
                or "AH00030" in ln]
