"""The OpenAPI contract (openapi.yaml at the top of the repository) as the
integration tests use it: which operation a request reaches and what its
response must look like.

    c = contract()
    c.check("GET", "/hdf/files?prefix=a", "/hdf", 200, headers, body)

raises AssertionError (naming the request, the status and the problem)
when the response is not what openapi.yaml promises: an undocumented
status, a Content-Type the operation does not list, a JSON body that does
not match its schema (Debian's python3-jsonschema, draft 2020-12, as
OpenAPI 3.1 specifies), or a header the response must carry.  Routing
follows the module's router (glue/router.c): the Location and one
trailing slash are dropped, the fixed parts of a template match the path
as sent (an escape such as %2F never spells one), a {param} runs up to
the template's fixed suffix, the first template that matches and takes
the method wins; unknown paths and other methods get the error envelope
x-h5s3-unrouted names for the family of the decoded path.
"""

import json
import os
import re
import urllib.parse

import jsonschema
import yaml
from jsonschema import validators

from .s3server import REPO

SPEC = os.path.join(REPO, "openapi.yaml")

# Media types whose bodies are JSON documents.
_JSON = ("application/json",)
# Answers httpd gives itself before the handler runs (authentication and
# authorisation sit in front of the Location, e.g. `Require all denied`):
# not the module's contract.  Its own 401 and 403 pages are HTML; the
# module's 403s are JSON and checked like any answer.
_HTTPD_OWN = {401, 403}


def _no_nan(token):
    raise ValueError("%s is not JSON" % token)


def _fast_items(validator, items, instance, schema):
    """items: true accepts anything; skip the walk over big value arrays."""
    if items is True:
        return
    yield from jsonschema._validators.items(validator, items, instance,
                                            schema)


_Validator = validators.extend(jsonschema.Draft202012Validator,
                               {"items": _fast_items})

_ANNOTATIONS = {"description", "title", "examples", "example"}


def _inline_trivial(node, trivial):
    """$refs to annotation-only schemas (accept anything) become true."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in trivial and len(node) == 1:
            return True
        return {k: _inline_trivial(v, trivial) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_trivial(v, trivial) for v in node]
    return node


class Contract:
    def __init__(self, path=SPEC):
        with open(path, "rb") as f:
            self.raw = f.read()
        spec = yaml.safe_load(self.raw)
        schemas = spec["components"]["schemas"]
        trivial = {"#/components/schemas/%s" % n for n, s in schemas.items()
                   if isinstance(s, dict) and set(s) <= _ANNOTATIONS}
        self.spec = _inline_trivial(spec, trivial)
        self._resolver = jsonschema.RefResolver.from_schema(self.spec)
        self._validators = {}
        self.routes = []
        for tmpl, item in self.spec["paths"].items():
            self.routes.append((tmpl, self._regex(tmpl), item))
        un = self.spec["x-h5s3-unrouted"]
        self.families = [(f["prefix"].rstrip("/"), f["schema"])
                         for f in un["families"]]
        self.bad_path = un["bad_path"]

    # ---- routing --------------------------------------------------------

    @staticmethod
    def _regex(tmpl):
        t = tmpl.rstrip("/") or "/"
        if "{" not in t:
            return re.compile(re.escape(t) + r"\Z", re.S)
        pre, suf = t[:t.index("{")], t[t.rindex("}") + 1:]
        return re.compile(re.escape(pre) + ".+" + re.escape(suf) + r"\Z",
                          re.S)

    @staticmethod
    def _base_length(raw, base):
        """How many bytes of raw spell the Location base as httpd compared
        it (decoded, but for %2F as sent), a '/' or the end after them; 0
        when they do not (glue/router.c base_length)."""
        b = (base or "").rstrip("/").encode("utf-8", "surrogateescape")
        if not b.startswith(b"/"):
            return 0
        i = j = 0
        while j < len(b) and i < len(raw):
            if raw[i:i + 1] != b"%":
                if raw[i] != b[j]:
                    return 0
                i, j = i + 1, j + 1
            elif int(raw[i + 1:i + 3], 16) == 0x2F:
                if raw[i:i + 3] != b[j:j + 3]:
                    return 0
                i, j = i + 3, j + 3
            else:
                if int(raw[i + 1:i + 3], 16) != b[j]:
                    return 0
                i, j = i + 3, j + 1
        if j == len(b) and raw[i:i + 1] in (b"/", b""):
            return i
        return 0

    @staticmethod
    def rel_path(target, base):
        """The router's relative path of a request target, escapes kept
        as sent, or None when its percent-escapes are malformed (or
        decode to NUL)."""
        raw = target.split("?", 1)[0].split("#", 1)[0]
        if re.search(r"%(?![0-9A-Fa-f]{2})", raw) or \
                re.search(r"%00", raw):
            return None
        path = raw.encode("utf-8", "surrogateescape")
        if not path.startswith(b"/"):
            m = re.match(rb"[A-Za-z][A-Za-z0-9+.-]*://[^/]*(/.*)?\Z", path,
                         re.S)
            path = (m.group(1) if m else None) or b"/"
        path = path[Contract._base_length(path, base):]
        if path == b"":
            return "/"
        if len(path) > 1 and path.endswith(b"/"):
            path = path[:-1]
        return path.decode("utf-8", "surrogateescape")

    @staticmethod
    def decoded(rel):
        """A relative path from rel_path, percent-decoded once."""
        return urllib.parse.unquote_to_bytes(rel).decode("utf-8",
                                                         "surrogateescape")

    def route(self, method, rel):
        """(template, operation) for a relative path; operation is None
        with the Allow set when only other methods match, template None
        when nothing does."""
        m = "get" if method.upper() == "HEAD" else method.lower()
        allowed = set()
        for tmpl, rx, item in self.routes:
            if not rx.match(rel):
                continue
            if m in item:
                return tmpl, item[m], allowed
            allowed |= {k.upper() for k in item
                        if k in ("get", "post", "put", "delete", "patch")}
        return None, None, allowed

    def family_schema(self, rel):
        for prefix, name in self.families:
            if rel == prefix or rel.startswith(prefix + "/") or not prefix:
                return name
        return self.families[-1][1]

    # ---- validation -----------------------------------------------------

    def validate(self, instance, schema, where):
        key = id(schema)
        v = self._validators.get(key)
        if v is None:
            v = _Validator(schema, resolver=self._resolver)
            self._validators[key] = (v, schema)  # keep schema alive
        else:
            v = v[0]
        err = jsonschema.exceptions.best_match(v.iter_errors(instance))
        if err is not None:
            path = "/".join(str(p) for p in err.absolute_path)
            raise AssertionError("%s: body does not match the schema at "
                                 "/%s: %s" % (where, path, err.message))

    def schema_ref(self, name):
        return {"$ref": "#/components/schemas/%s" % name}

    def _body_json(self, body, where):
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_no_nan)
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError("%s: body is not valid JSON (%s): %r"
                                 % (where, e, body[:200]))

    def _check_json(self, method, ctype, body, schema, where):
        if ctype not in _JSON:
            raise AssertionError("%s: Content-Type %r, expected JSON"
                                 % (where, ctype))
        if method.upper() == "HEAD":
            return
        self.validate(self._body_json(body, where), schema, where)

    def check(self, method, target, base, status, headers, body,
              request_headers=None):
        """Raise AssertionError when a response breaks the contract."""
        where = "%s %s -> %d" % (method, target, status)
        ctype_full = headers.get("Content-Type") or ""
        ctype = ctype_full.split(";")[0].strip().lower()
        req = {k.lower(): v for k, v in (request_headers or {}).items()}
        if status in _HTTPD_OWN and ctype not in _JSON:
            return "httpd"
        if (method.upper() == "OPTIONS" and status == 204
                and "access-control-request-method" in req):
            if body:
                raise AssertionError("%s: a preflight has no body" % where)
            return "preflight"
        rel = self.rel_path(target, base)
        if rel is None:
            if ctype == "text/html" and status in (400, 404):
                return "httpd"      # core refused the URL before routing
            if status != self.bad_path["status"]:
                raise AssertionError("%s: a malformed path must be %d"
                                     % (where, self.bad_path["status"]))
            self._check_json(method, ctype, body,
                             self.schema_ref(self.bad_path["schema"]), where)
            return "bad_path"
        tmpl, op, allowed = self.route(method, rel)
        if op is None:
            want = 405 if allowed else 404
            if status != want:
                raise AssertionError("%s: %s is %s here: expected %d"
                                     % (where, rel, "another method's"
                                        if allowed else "no route", want))
            if allowed:
                got = {a.strip() for a in
                       (headers.get("Allow") or "").split(",") if a.strip()}
                if "GET" in allowed:
                    allowed = allowed | {"HEAD"}
                if got != allowed:
                    raise AssertionError("%s: Allow %r, expected %s"
                                         % (where, headers.get("Allow"),
                                            sorted(allowed)))
            self._check_json(method, ctype, body,
                             self.schema_ref(self.family_schema(
                                 self.decoded(rel))), where)
            return "unrouted"
        where = "%s (%s %s)" % (where, method.upper(), tmpl)
        responses = op["responses"]
        resp = responses.get(str(status)) or responses.get(
            "%dXX" % (status // 100)) or responses.get("default")
        if resp is None:
            raise AssertionError("%s: status %d is not documented (%s); "
                                 "body %r" % (where, status,
                                              ", ".join(sorted(responses)),
                                              body[:300]))
        resp = self._deref(resp)
        for name, h in (resp.get("headers") or {}).items():
            h = self._deref(h)
            value = headers.get(name)
            if value is None:
                if h.get("required"):
                    raise AssertionError("%s: header %s is missing"
                                         % (where, name))
                continue
            hs = h.get("schema") or {}
            if hs.get("type") == "integer":
                if not re.fullmatch(r"[0-9]+", value.strip()):
                    raise AssertionError("%s: header %s: %r is not an "
                                         "integer" % (where, name, value))
                value = int(value)
            self.validate(value, hs, "%s: header %s" % (where, name))
        content = resp.get("content") or {}
        if not content:
            if body and method.upper() != "HEAD":
                raise AssertionError("%s: expected no body" % where)
            return tmpl
        if ctype not in content:
            raise AssertionError("%s: Content-Type %r, expected one of %s"
                                 % (where, ctype_full, sorted(content)))
        if ctype in _JSON:
            self._check_json(method, ctype, body,
                             content[ctype].get("schema", True), where)
        return tmpl

    def _deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            _, node = self._resolver.resolve(node["$ref"])
        return node

    # ---- for generators -------------------------------------------------

    def operations(self):
        """(template, method, operation) for every documented operation."""
        for tmpl, _, item in self.routes:
            for m, op in item.items():
                if m in ("get", "post", "put", "delete", "patch"):
                    yield tmpl, m.upper(), op

    def parameters(self, op):
        return [self._deref(p) for p in op.get("parameters", [])]

    def resolve(self, node):
        return self._deref(node)


_contract = None


def contract():
    """The repository's openapi.yaml, loaded once per process."""
    global _contract
    if _contract is None:
        _contract = Contract()
    return _contract


def _handler_of(block_body):
    m = re.search(r"^\s*SetHandler\s+(\S+)", block_body, re.M | re.I)
    return m.group(1).strip("\"'").lower() if m else None


def h5s3_locations(conf_body):
    """(location, is_h5s3) of every <Location> of a config that sets a
    handler, from its text: `<Location X> ... SetHandler h5s3 ...`."""
    out = []
    for m in re.finditer(r"<Location\s+\"?([^>\"\s]+)\"?\s*>(.*?)</Location>",
                         conf_body or "", re.S | re.I):
        h = _handler_of(m.group(2))
        if h is not None:
            out.append((m.group(1), h == "h5s3"))
    return out


def _normalize(raw):
    """The path httpd maps to a <Location>: decoded, slashes merged, dot
    segments resolved; None when it climbs above the root (httpd's 400)."""
    p = urllib.parse.unquote(raw.split("?", 1)[0].split("#", 1)[0])
    out = []
    for seg in re.sub("/+", "/", p).split("/")[1:]:
        if seg == "..":
            if not out:
                return None
            out.pop()
        elif seg != ".":
            out.append(seg)
    tail = "/" if p.endswith(("/", "/.", "/..")) and out else ""
    return "/" + "/".join(out) + tail


def base_for(path, locations):
    """The h5s3 Location a request path falls under (the longest prefix
    that sets a handler decides), or None."""
    p = _normalize(path)
    if p is None:
        return None
    best, best_len = None, -1
    for loc, is_h5s3 in locations:
        b = loc.rstrip("/")
        if b == "" or p == b or p.startswith(b + "/"):
            if len(b) > best_len:
                best, best_len = (loc if is_h5s3 else None), len(b)
    return best
