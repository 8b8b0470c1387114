#!/usr/bin/env python3
# admin.t: the admin REST API driven with curl against a running sluice and real MariaDB.
# Every endpoint (health, accounts, backends, stats, metrics, the dashboard page), every
# refusal (401, 400, 404, 405, 409, 413, 415) with a JSON error naming the field, and that
# a refused request changes nothing (the rules and the store generation are the same
# before and after). Live effects through pymysql: a created account logs in at once, a
# changed password takes over at once, a deleted account's logins get 1045, a changed
# weight moves the backend-time shares, and a restart on the same --db keeps every rule.
# /metrics is parsed with a small Prometheus text-format (0.0.4) parser of our own.
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, like, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("the admin API needs a sluice started here (SLUICE_TEST_ADDR is set)")
if subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode != 0:
    lib.skip_all("curl is not installed")

SCHEMA = lib.create_schema("t_adm")
A = lib.Account("t_adm_a", "pw-adm-a", schemas=[SCHEMA])
B = lib.Account("t_adm_b", "pw-adm-b", schemas=[SCHEMA])
# Created over the API in this test; the MariaDB side is made by hand below.
N = lib.Account("t_adm_new", "pw-adm-new", schemas=[SCHEMA])
for name in (N.name,):
    lib.drop_user(name)

POOL = 4
s = lib.Sluice([A, B], pool_size=POOL)
BASE = "http://127.0.0.1:%d" % s.admin_port
JSON_CT = "application/json"


# ---------------------------------------------------------------- curl

class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body        # text
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def error(self):
        return self.json.get("error") if isinstance(self.json, dict) else None

    def __repr__(self):
        return "HTTP %s %s" % (self.status, self.body[:300])


_curl_n = [0]


def curl(method, path, body=None, token=True, ctype=JSON_CT, extra=()):
    """One request with the curl binary. token: True (the right one), None (no
    Authorization header), or a full Authorization header value. body: str or bytes,
    sent on stdin. Returns a Reply."""
    _curl_n[0] += 1
    out = os.path.join(s.dir, "curl.body")
    hdr = os.path.join(s.dir, "curl.head")
    cmd = ["curl", "-sS", "--max-time", "20", "-o", out, "-D", hdr, "-w", "%{http_code}"]
    if method != "GET":
        cmd += ["-X", method]
    if token is True:
        cmd += ["-H", "Authorization: Bearer " + s.admin_token]
    elif token is not None:
        cmd += ["-H", "Authorization: " + token]
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else body
        cmd += ["--data-binary", "@-"]
        if ctype is not None:
            cmd += ["-H", "Content-Type: " + ctype]
        else:
            cmd += ["-H", "Content-Type:"]  # curl would send form-urlencoded otherwise
    cmd += list(extra) + [BASE + path]
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("curl %s %s failed (%d): %s" % (method, path, r.returncode,
                                                           r.stderr.decode(errors="replace")))
    headers = {}
    with open(hdr, "rb") as f:
        for line in f.read().decode("latin-1").splitlines():
            if ":" in line and not line.startswith("HTTP/"):
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
    with open(out, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return Reply(int(r.stdout.decode().strip() or 0), headers, text)


def get(path, **kw):
    return curl("GET", path, **kw)


def post(path, obj, **kw):
    return curl("POST", path, body=obj if isinstance(obj, (str, bytes)) else json.dumps(obj), **kw)


def patch(path, obj, **kw):
    return curl("PATCH", path, body=obj if isinstance(obj, (str, bytes)) else json.dumps(obj),
                **kw)


def delete(path, **kw):
    return curl("DELETE", path, **kw)


def state():
    """Everything a write could change: the rules as the API shows them and the store's
    generation (bumped by every committed write)."""
    acc = get("/v1/accounts")
    be = get("/v1/backends")
    h = get("/v1/health", token=None)
    return (acc.status, acc.body, be.status, be.body, h.json and h.json.get("generation"))


def status_is(r, want, name):
    return ok(r.status == want, name, lambda: "expected HTTP %d, got %r" % (want, r))


def login(acct, password=None):
    """Log in through sluice and run one query; returns None or (errno, message)."""
    def go():
        kw = {} if password is None else {"password": password}
        c = s.connect(acct, **kw)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                cur.fetchall()
        finally:
            c.close()
    return lib.error_of(go)


# ---------------------------------------------------------------- health, page, tokens

r = get("/v1/health", token=None)
status_is(r, 200, "GET /v1/health without a token: 200")
ok(isinstance(r.json, dict) and r.json.get("status") == "ok" and
   isinstance(r.json.get("generation"), int) and r.json.get("last_publish") == "ok" and
   isinstance(r.json.get("publish_failures"), int),
   "health: status ok, generation, last_publish, publish_failures", repr(r))
like(r.headers.get("content-type"), r"^application/json", "health: Content-Type JSON")

r = get("/", token=None)
status_is(r, 200, "GET / (dashboard) without a token: 200")
like(r.headers.get("content-type"), r"^text/html", "dashboard: text/html")
like(r.headers.get("content-security-policy"), r"default-src 'none'",
     "dashboard: strict Content-Security-Policy")
ok("<canvas" in r.body and "/v1/stats" in r.body and "http://" not in r.body.replace(
    "http://www.w3.org", "") and "https://" not in r.body,
   "dashboard: self-contained (a canvas, polls /v1/stats, loads nothing from elsewhere)")

PROTECTED = [("GET", "/v1/accounts"), ("POST", "/v1/accounts"), ("GET", "/v1/accounts/t_adm_a"),
             ("PATCH", "/v1/accounts/t_adm_a"), ("DELETE", "/v1/accounts/t_adm_a"),
             ("GET", "/v1/backends"), ("POST", "/v1/backends"), ("GET", "/v1/backends/x"),
             ("PATCH", "/v1/backends/x"), ("DELETE", "/v1/backends/x"),
             ("GET", "/v1/stats"), ("GET", "/metrics")]
before = state()
bad = []
for method, path in PROTECTED:
    body = '{"weight":7}' if method in ("POST", "PATCH") else None
    if method == "POST" and "accounts" in path:
        body = '{"name":"t_adm_sneak","password":"x"}'
    if method == "POST" and "backends" in path:
        body = '{"name":"sneak","host":"127.0.0.1"}'
    for tok, what in ((None, "no token"), ("Bearer wrong-" + s.admin_token, "wrong token"),
                      ("Bearer " + s.admin_token[:-1], "token prefix"),
                      ("Bearer " + s.admin_token + "x", "token plus a byte"),
                      ("Basic " + s.admin_token, "Basic scheme"),
                      ("Bearer", "empty bearer")):
        r = curl(method, path, body=body, token=tok)
        if r.status != 401 or "Bearer" not in r.headers.get("www-authenticate", "") or \
                not r.error():
            bad.append("%s %s (%s): %r %r" % (method, path, what, r,
                                                r.headers.get("www-authenticate")))
ok(not bad, "401 with WWW-Authenticate and a JSON error for %d endpoints x 6 bad tokens"
   % len(PROTECTED), lambda: "\n".join(bad))
is_(state(), before, "the refused requests changed nothing")
r = get("/v1/accounts", token="bearer " + s.admin_token)
status_is(r, 200, "the scheme name is case-insensitive (\"bearer\")")

# ---------------------------------------------------------------- accounts: read

r = get("/v1/accounts")
status_is(r, 200, "GET /v1/accounts: 200")
names = [a.get("name") for a in (r.json or {}).get("accounts", [])]
is_(names, sorted([A.name, B.name]), "the list holds the two accounts, ordered by name")
FIELDS = {"name", "has_password", "weight", "reservation", "max_qps", "max_connections",
          "max_queue", "queue_timeout_ms", "max_pinned", "pinned_idle_timeout_ms"}
ok(all(set(a) == FIELDS for a in r.json["accounts"]),
   "every account has exactly the documented fields (no password, no hash)", repr(r))
ok("pw-adm" not in r.body and "password\"" not in r.body.replace("has_password\"", ""),
   "no password in the list")

r = get("/v1/accounts/" + A.name)
status_is(r, 200, "GET /v1/accounts/t_adm_a: 200")
is_(r.json, {"name": A.name, "has_password": True, "weight": 1, "reservation": 0,
             "max_qps": 0, "max_connections": 0, "max_queue": 10000,
             "queue_timeout_ms": 120000, "max_pinned": 0, "pinned_idle_timeout_ms": 60000},
    "the account with its default rules")

# ---------------------------------------------------------------- accounts: create, login

lib._mariadb_user(N.name, N.password, N.schemas)
e = login(N)
ok(e is not None and e[0] == 1045, "before POST the MariaDB user cannot log in through sluice",
   "got %r" % (e,))
r = post("/v1/accounts", {"name": N.name, "password": N.password, "weight": 3,
                          "max_connections": 50, "queue_timeout_ms": 30000})
status_is(r, 201, "POST /v1/accounts: 201")
is_(r.headers.get("location"), "/v1/accounts/" + N.name, "POST: Location header")
is_(r.json, {"name": N.name, "has_password": True, "weight": 3, "reservation": 0,
             "max_qps": 0, "max_connections": 50, "max_queue": 10000,
             "queue_timeout_ms": 30000, "max_pinned": 0, "pinned_idle_timeout_ms": 60000},
    "POST: the reply shows the new account, no password")
t0 = time.monotonic()
e = login(N)
ok(e is None, "the new account logs in through sluice at once (%.0f ms after the 201)"
   % ((time.monotonic() - t0) * 1000), "got %r" % (e,))
is_(get("/v1/accounts/" + N.name).json, r.json, "GET shows what POST answered")
e = login(N, password="wrong")
ok(e is not None and e[0] == 1045, "the new account with a wrong password: 1045", "got %r" % (e,))

before = state()
r = post("/v1/accounts", {"name": N.name, "password": "other"})
status_is(r, 409, "POST of an existing name: 409")
like(r.error(), N.name, "409: the error names the account")
is_(state(), before, "the 409 changed nothing")
e = login(N)
ok(e is None, "the duplicate POST did not change the password", "got %r" % (e,))

# ---------------------------------------------------------------- accounts: validation

LONG = "a" * 65
REFUSED = [
    # (method, path, body, status, pattern the error must match, what)
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weigth":2}', 400, r'unknown field "weigth"',
     "unknown field"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","password":"p","id":9}', 400,
     r'unknown field "id"', "unknown field id"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":"2"}', 400, r"weight", "weight as string"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":2.5}', 400, r"weight", "weight as float"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":true}', 400, r"weight", "weight as bool"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":null}', 400, r"weight", "weight null"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":[1]}', 400, r"weight", "weight array"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":0}', 400, r"weight", "weight 0"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":-1}', 400, r"weight", "weight -1"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":10001}', 400, r"weight",
     "weight 10001"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","weight":1e30}', 400, r"weight", "weight 1e30"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","reservation":-1}', 400, r"reservation",
     "reservation -1"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","max_qps":4294967296}', 400, r"max_qps",
     "max_qps 2^32"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","max_qps":99999999999999999999999}', 400,
     r"JSON|max_qps", "max_qps beyond 64 bits"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","max_connections":-5}', 400,
     r"max_connections", "max_connections -5"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","max_queue":0}', 400, r"max_queue",
     "max_queue 0"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","queue_timeout_ms":-1}', 400,
     r"queue_timeout_ms", "queue_timeout_ms -1"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","max_pinned":10001}', 400,
     r"max_pinned", "max_pinned 10001"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","pinned_idle_timeout_ms":"x"}', 400,
     r"pinned_idle_timeout_ms", "pinned_idle_timeout_ms as a string"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","password":5}', 400, r"password",
     "password as number"),
    ("POST", "/v1/accounts", json.dumps({"name": "t_adm_x", "password": "p" * 1025}), 400,
     r"password", "password of 1025 bytes"),
    ("POST", "/v1/accounts", '{"password":"p"}', 400, r"name", "name missing"),
    ("POST", "/v1/accounts", '{"name":""}', 400, r"name", "empty name"),
    ("POST", "/v1/accounts", '{"name":5}', 400, r"name", "name as number"),
    ("POST", "/v1/accounts", json.dumps({"name": LONG}), 400, r"name", "name of 65 chars"),
    ("POST", "/v1/accounts", '{"name":"bad name"}', 400, r"name", "name with a space"),
    ("POST", "/v1/accounts", '{"name":"x\'@\'%"}', 400, r"name", "name x'@'%"),
    ("POST", "/v1/accounts", '{"name":"a/b"}', 400, r"name", "name with a slash"),
    ("POST", "/v1/accounts", '{"name":"t;DROP"}', 400, r"name", "name with ;"),
    ("POST", "/v1/accounts", '{"name":"caf\\u00e9"}', 400, r"name", "name with a non-ASCII letter"),
    ("POST", "/v1/accounts", '{"name":"a\\u0000b"}', 400, r".", "name with NUL"),
    ("POST", "/v1/accounts", '{"name":"x\\ny"}', 400, r"name", "name with a newline"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x",', 400, r"JSON", "truncated JSON"),
    ("POST", "/v1/accounts", "{'name':'t_adm_x'}", 400, r"JSON", "single-quoted JSON"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x"} trailing', 400, r"JSON", "trailing garbage"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","name":"t_adm_y"}', 400, r"JSON|duplicate",
     "duplicate key"),
    ("POST", "/v1/accounts", '[{"name":"t_adm_x"}]', 400, r"object", "array body"),
    ("POST", "/v1/accounts", '"t_adm_x"', 400, r"object|JSON", "string body"),
    ("POST", "/v1/accounts", "", 400, r"object|JSON", "empty body"),
    ("POST", "/v1/accounts", b'{"name":"\xff\xfe"}', 400, r"JSON|name", "invalid UTF-8"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"weigth":2}', 400, r'unknown field "weigth"',
     "PATCH unknown field"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"weight":"heavy"}', 400, r"weight",
     "PATCH weight as string"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"weight":-3}', 400, r"weight", "PATCH weight -3"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"weight":5,"max_queue":0}', 400, r"max_queue",
     "PATCH good weight with bad max_queue (all or nothing)"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"name":"t_adm_b"}', 400, r"name", "PATCH rename"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"weight":2', 400, r"JSON", "PATCH truncated JSON"),
    ("PATCH", "/v1/accounts/t_adm_a", '{"password":"pw-new","weight":0}', 400, r"weight",
     "PATCH password with a bad weight"),
    ("GET", "/v1/accounts/t_adm_nobody", None, 404, r"account", "GET unknown account"),
    ("PATCH", "/v1/accounts/t_adm_nobody", '{"weight":2}', 404, r"account",
     "PATCH unknown account"),
    ("DELETE", "/v1/accounts/t_adm_nobody", None, 404, r"account", "DELETE unknown account"),
    ("GET", "/v1/accounts/" + "z" * 300, None, 404, r".", "GET a 300-byte name"),
    ("GET", "/v1/nothing", None, 404, r"endpoint", "unknown endpoint"),
    ("GET", "/v1/accounts/t_adm_a/x", None, 404, r"endpoint", "path below an account"),
    ("PUT", "/v1/accounts/t_adm_a", '{"weight":2}', 405, r"PUT", "PUT an account"),
    ("DELETE", "/v1/accounts", None, 405, r"DELETE", "DELETE the collection"),
    ("POST", "/v1/stats", "{}", 405, r"POST", "POST /v1/stats"),
    # reservations: the pool has 4 connections
    ("POST", "/v1/accounts", '{"name":"t_adm_x","reservation":5}', 409, r"reservation",
     "a reservation larger than the pool"),
    ("POST", "/v1/accounts", '{"name":"t_adm_x","reservation":4294967295}', 409,
     r"reservation", "reservation 2^32-1"),
]
before = state()
for method, path, body, want, pattern, what in REFUSED:
    r = curl(method, path, body=body)
    ok(r.status == want and r.error() and re.search(pattern, r.error()),
       "%s %s, %s: %d with an error naming it" % (method, path[:40], what, want),
       "expected %d matching %r, got %r" % (want, pattern, r))
after = state()
is_(after, before, "%d refused requests changed nothing (rules and generation)" % len(REFUSED))
r = get("/v1/accounts/t_adm_x")
status_is(r, 404, "no account t_adm_x was created by any of them")

r = post("/v1/accounts", '{"name":"t_adm_x"}', ctype=None)
status_is(r, 415, "POST without Content-Type: 415")
r = post("/v1/accounts", '{"name":"t_adm_x"}', ctype="text/plain")
status_is(r, 415, "POST with Content-Type text/plain: 415")
r = patch("/v1/accounts/t_adm_a", '{"weight":9}', ctype="application/x-www-form-urlencoded")
status_is(r, 415, "PATCH with a form Content-Type: 415")
r = post("/v1/accounts", '{"name":"t_adm_cs","weight":2}', ctype="application/json; charset=utf-8")
status_is(r, 201, "Content-Type with a charset parameter is accepted")
status_is(delete("/v1/accounts/t_adm_cs"), 204, "DELETE t_adm_cs: 204")
r = curl("PUT", "/v1/accounts/t_adm_a", body="{}")
like(r.headers.get("allow"), r"GET.*PATCH.*DELETE", "405 lists the allowed methods in Allow")

# Bodies over the limit (64 KiB, docs/admin.md), declared and chunked, and far over 1 MiB.
big = json.dumps({"name": "t_adm_big", "password": "x" * 70000})
huge = json.dumps({"name": "t_adm_big", "password": "x" * (2 * 1024 * 1024)})
before = state()
for body, extra, what in ((big, (), "70 KB body"),
                          (big, ("-H", "Transfer-Encoding: chunked"), "70 KB chunked body"),
                          (huge, (), "2 MiB body"),
                          (huge, ("-H", "Transfer-Encoding: chunked"), "2 MiB chunked body")):
    r = curl("POST", "/v1/accounts", body=body, extra=extra)
    ok(r.status == 413 and r.error() and re.search(r"larger than \d+ bytes", r.error()),
       "%s: 413 with an error giving the limit" % what, repr(r))
r = curl("PATCH", "/v1/accounts/t_adm_a", body=json.dumps({"password": "y" * 70000}))
status_is(r, 413, "PATCH with a 70 KB body: 413")
r = curl("POST", "/v1/accounts", body='{"name":"t_adm_x"}',
         extra=("-H", "Content-Length: 99999999999999999999999"))
ok(r.status in (400, 413), "an absurd Content-Length is refused (%d)" % r.status, repr(r))
is_(state(), before, "the oversized requests changed nothing")
ok(login(A) is None, "t_adm_a still logs in with its password after the refused PATCHes")

# Reservations summing over the pool (4): 3 + 2 > 4.
r = post("/v1/accounts", {"name": "t_adm_r1", "reservation": 3})
status_is(r, 201, "POST t_adm_r1 with reservation 3 of a pool of 4: 201")
before = state()
r = post("/v1/accounts", {"name": "t_adm_r2", "reservation": 2})
ok(r.status == 409 and "reservation" in (r.error() or ""),
   "POST reservation 2 more (sum 5 > pool 4): 409 naming reservation", repr(r))
r = patch("/v1/accounts/" + A.name, {"reservation": 2})
ok(r.status == 409 and "reservation" in (r.error() or ""),
   "PATCH t_adm_a reservation 2 (sum 5 > pool 4): 409", repr(r))
r = patch("/v1/accounts/t_adm_r1", {"reservation": 5})
ok(r.status == 409, "PATCH t_adm_r1 reservation 3 -> 5 (> pool 4): 409", repr(r))
is_(state(), before, "the refused reservations changed nothing")
r = patch("/v1/accounts/" + A.name, {"reservation": 1})
ok(r.status == 200 and r.json.get("reservation") == 1,
   "PATCH t_adm_a reservation 1 (sum exactly 4): 200", repr(r))
r = patch("/v1/accounts/" + A.name, {"reservation": 0})
status_is(r, 200, "PATCH t_adm_a reservation back to 0")
status_is(delete("/v1/accounts/t_adm_r1"), 204, "DELETE t_adm_r1: 204")

# ---------------------------------------------------------------- accounts: PATCH live

r = patch("/v1/accounts/" + A.name, {"max_qps": 1000, "queue_timeout_ms": 60000})
ok(r.status == 200 and r.json.get("max_qps") == 1000 and r.json.get("queue_timeout_ms") == 60000
   and r.json.get("weight") == 1 and r.json.get("max_queue") == 10000,
   "PATCH changes only the fields it names", repr(r))
gen0 = get("/v1/health", token=None).json["generation"]
r = patch("/v1/accounts/" + A.name, {})
status_is(r, 200, "an empty PATCH: 200 (re-publish)")
ok(get("/v1/health", token=None).json["generation"] >= gen0, "generation does not go back")
r = patch("/v1/accounts/" + A.name, {"max_qps": 0, "queue_timeout_ms": 120000})
status_is(r, 200, "PATCH max_qps and queue_timeout_ms back")

# Password: MariaDB first (sluice logs in to the backend with the account's hash), then
# sluice; the old password must stop working through sluice at once.
NEWPW = "pw-adm-new-2"
lib._mariadb_user(N.name, NEWPW, N.schemas)
r = patch("/v1/accounts/" + N.name, {"password": NEWPW})
ok(r.status == 200 and r.json.get("has_password") is True and NEWPW not in r.body,
   "PATCH password: 200, the reply shows has_password only", repr(r))
e = login(N)
ok(e is not None and e[0] == 1045, "after PATCH password the old password is refused (1045)",
   "got %r" % (e,))
e = login(N, password=NEWPW)
ok(e is None, "after PATCH password the new one works at once", "got %r" % (e,))
N.password = NEWPW

# ---------------------------------------------------------------- stats and the weight

def stats():
    r = get("/v1/stats")
    return {a["name"]: a for a in r.json["accounts"]} if r.status == 200 else None


def loader(acct, stop, counts, key):
    c = s.connect(acct)
    try:
        with c.cursor() as cur:
            while not stop.is_set():
                cur.execute("SELECT SLEEP(0.005)")
                cur.fetchall()
                counts[key] += 1
    except Exception as ex:  # noqa: BLE001
        counts["err"] = "%s: %s" % (acct.name, ex)
    finally:
        c.close()


def share_of_a(seconds):
    """Backend time of t_adm_a / (t_adm_a + t_adm_b) over the next `seconds`, from the
    backend_time_ms_total counters."""
    s0 = stats()
    time.sleep(seconds)
    s1 = stats()
    da = s1[A.name]["backend_time_ms_total"] - s0[A.name]["backend_time_ms_total"]
    db = s1[B.name]["backend_time_ms_total"] - s0[B.name]["backend_time_ms_total"]
    return da / (da + db) if da + db > 0 else None, da, db


s_before = stats()
stop = threading.Event()
counts = {"a": 0, "b": 0, "err": None}
threads = [threading.Thread(target=loader, args=(acct, stop, counts, key), daemon=True)
           for acct, key in ((A, "a"), (B, "b")) for _ in range(8)]
for t in threads:
    t.start()
time.sleep(1.0)
even, da, db = share_of_a(3.0)
diag("weights 1:1 -> t_adm_a's share of backend time %.3f (%.0f ms vs %.0f ms)"
     % (even or -1, da, db))
ok(even is not None and 0.3 < even < 0.7, "weights 1:1 under contention: share of t_adm_a near "
   "0.5 (%.2f)" % (even or -1))
st = stats()
ok(st[A.name]["active"] + st[A.name]["queued"] > 0 and st[A.name]["connections"] >= 8 and
   st[A.name]["qps"] > 0, "under load: /v1/stats shows connections, qps, active/queued",
   repr(st.get(A.name)))
r = patch("/v1/accounts/" + A.name, {"weight": 4})
ok(r.status == 200 and r.json.get("weight") == 4, "PATCH t_adm_a weight 4 under load: 200",
   repr(r))
is_(get("/v1/accounts/" + A.name).json.get("weight"), 4, "GET shows weight 4")
time.sleep(0.5)
heavy, da, db = share_of_a(3.0)
diag("weights 4:1 -> t_adm_a's share of backend time %.3f (%.0f ms vs %.0f ms)"
     % (heavy or -1, da, db))
ok(heavy is not None and heavy > 0.65 and heavy > (even or 0) + 0.1,
   "after PATCH weight 4 the share of t_adm_a moves towards 0.8 (%.2f)" % (heavy or -1))
stop.set()
for t in threads:
    t.join(15)
ok(counts["err"] is None and counts["a"] > 0 and counts["b"] > 0,
   "no client dropped while the rules changed (%d + %d queries)" % (counts["a"], counts["b"]),
   repr(counts["err"]))
patch("/v1/accounts/" + A.name, {"weight": 1})

st = stats()
ran = counts["a"]
ok(st[A.name]["queries_total"] - s_before[A.name]["queries_total"] >= ran,
   "/v1/stats queries_total of t_adm_a grew by at least the %d queries run" % ran,
   lambda: "%r -> %r" % (s_before[A.name], st[A.name]))
r = get("/v1/stats")
ok(r.status == 200 and set(r.json) >= {"accounts", "backends", "clients", "uptime_s",
                                       "generation"},
   "/v1/stats: accounts, backends, clients, uptime_s, generation", repr(r))
a0 = st[A.name]
ok(set(a0) >= {"queries_total", "qps", "active", "queued", "pinned", "connections",
               "rejected_total", "latency_ms", "backend_time_share"} and
   set(a0["latency_ms"]) == {"p50", "p95", "p99"} and
   0 < a0["latency_ms"]["p50"] <= a0["latency_ms"]["p95"] <= a0["latency_ms"]["p99"],
   "/v1/stats per account: every documented field, 0 < p50 <= p95 <= p99", repr(a0))
ok(abs(sum(a["backend_time_share"] for a in st.values()) - 1.0) < 0.01,
   "backend_time_share sums to 1 over the accounts")

# ---------------------------------------------------------------- /metrics

METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = re.compile(r"^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$")


def parse_labels(text, i):
    """Parse '{a="b",c="d"}' starting at text[i] == '{'. Returns (dict, index after '}')."""
    labels = {}
    i += 1
    while True:
        if text[i] == "}":
            return labels, i + 1
        m = re.compile(LABEL).match(text, i)
        if not m:
            raise ValueError("bad label name at %d" % i)
        name = m.group(0)
        i = m.end()
        if text[i:i + 2] != '="':
            raise ValueError("expected =\" after label %s" % name)
        i += 2
        val = []
        while True:
            ch = text[i]
            if ch == "\\":
                nxt = text[i + 1]
                if nxt not in ('\\', '"', 'n'):
                    raise ValueError("bad escape \\%s" % nxt)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif ch == '"':
                i += 1
                break
            elif ch == "\n":
                raise ValueError("newline in a label value")
            else:
                val.append(ch)
                i += 1
        if name in labels:
            raise ValueError("label %s twice" % name)
        labels[name] = "".join(val)
        if text[i] == ",":
            i += 1
        elif text[i] != "}":
            raise ValueError("expected , or } at %d" % i)


def parse_prometheus(text):
    """Our own parser of the text exposition format 0.0.4. Returns (families, samples,
    problems): families name -> {"type", "help"}, samples [(name, labels, value)]."""
    families, samples, problems, seen = {}, [], [], set()
    if not text.endswith("\n"):
        problems.append("the text does not end with a line feed")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % METRIC, line)
            if not m:
                if re.match(r"^#\s*(HELP|TYPE)\b", line):
                    problems.append("line %d: malformed %r" % (n, line))
                continue
            kind, name, rest = m.groups()
            fam = families.setdefault(name, {})
            if kind == "TYPE":
                if "type" in fam:
                    problems.append("line %d: second TYPE for %s" % (n, name))
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    problems.append("line %d: unknown type %r" % (n, rest))
                if any(sn == name for sn, _, _ in samples):
                    problems.append("line %d: TYPE after samples of %s" % (n, name))
                fam["type"] = rest
            else:
                if "help" in fam:
                    problems.append("line %d: second HELP for %s" % (n, name))
                fam["help"] = rest
            continue
        m = re.compile(METRIC).match(line)
        if not m:
            problems.append("line %d: no metric name: %r" % (n, line))
            continue
        name, i = m.group(0), m.end()
        labels = {}
        try:
            if i < len(line) and line[i] == "{":
                labels, i = parse_labels(line + "\n", i)
        except (ValueError, IndexError) as ex:
            problems.append("line %d: %s: %r" % (n, ex, line))
            continue
        parts = line[i:].split(" ")
        if len(parts) < 2 or parts[0] != "" or len(parts) > 3:
            problems.append("line %d: expected ' value [timestamp]': %r" % (n, line))
            continue
        if not VALUE.match(parts[1]):
            problems.append("line %d: bad value %r" % (n, parts[1]))
            continue
        if len(parts) == 3 and not re.match(r"^-?\d+$", parts[2]):
            problems.append("line %d: bad timestamp %r" % (n, parts[2]))
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            problems.append("line %d: duplicate series %r" % (n, key))
        seen.add(key)
        fam = family_of(name, families)
        if "type" not in families.get(fam, {}):
            problems.append("line %d: sample of %s before (or without) its TYPE" % (n, name))
        elif families[fam]["type"] == "histogram" and name.endswith("_bucket") and \
                "le" not in labels:
            problems.append("line %d: histogram bucket without le: %r" % (n, line))
        samples.append((name, labels, float(parts[1])))
    return families, samples, problems


def family_of(name, families):
    """The family a sample name belongs to: itself, or for histograms and summaries the
    name without _bucket, _sum or _count."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and families.get(base, {}).get("type") in ("histogram",
                                                                            "summary"):
            return base
    return name


def check_histograms(families, samples):
    """Every histogram series: buckets cumulative in le order, a +Inf bucket equal to
    _count, and a _sum. Returns a list of problems."""
    problems = []
    for fam, f in families.items():
        if f.get("type") != "histogram":
            continue
        series = {}
        for n, lb, v in samples:
            if family_of(n, families) != fam:
                continue
            key = tuple(sorted((k, x) for k, x in lb.items() if k != "le"))
            d = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
            if n == fam + "_bucket":
                d["buckets"].append((float(lb["le"]), v))
            elif n == fam + "_sum":
                d["sum"] = v
            elif n == fam + "_count":
                d["count"] = v
            else:
                problems.append("%s: stray sample %s" % (fam, n))
        for key, d in series.items():
            b = sorted(d["buckets"])
            if not b or b[-1][0] != float("inf"):
                problems.append("%s%r: no +Inf bucket" % (fam, key))
                continue
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                problems.append("%s%r: buckets not cumulative: %r" % (fam, key, b))
            if d["count"] != b[-1][1] or d["sum"] is None:
                problems.append("%s%r: _count %r vs +Inf %r, _sum %r"
                                % (fam, key, d["count"], b[-1][1], d["sum"]))
    return problems


for _ in range(5):
    s.connect(B).close()
r = get("/metrics")
status_is(r, 200, "GET /metrics: 200")
like(r.headers.get("content-type"), r"^text/plain; version=0\.0\.4",
     "/metrics: Content-Type text/plain; version=0.0.4")
fams, samples, problems = parse_prometheus(r.body)
ok(not problems and len(samples) > 20,
   "/metrics parses: %d samples, %d families, every line well-formed" % (len(samples), len(fams)),
   lambda: "\n".join(problems[:20]))
ok(all("help" in f and f["help"] and "type" in f for f in fams.values()),
   "every family has HELP and TYPE", lambda: repr({k: v for k, v in fams.items()
                                                   if "help" not in v or "type" not in v}))
ok(all(n.startswith("sluice_") for n in fams), "every metric has the sluice_ prefix",
   repr(sorted(fams)))
bad = [n for n, f in fams.items() if (f.get("type") == "counter") != n.endswith("_total")]
ok(not bad, "counters and only counters end in _total", repr(bad))
hp = check_histograms(fams, samples)
ok(not hp, "histograms: cumulative buckets, +Inf bucket = _count, a _sum",
   lambda: "\n".join(hp[:10]))
acc_samples = [(n, lb) for n, lb, _ in samples if n.startswith("sluice_account_")]
ok(acc_samples and all("account" in lb for _, lb in acc_samples),
   "every sluice_account_* sample has an account label", repr(acc_samples[:5]))
accounts_seen = {lb["account"] for _, lb in acc_samples}
ok({A.name, B.name, N.name} <= accounts_seen, "the three accounts appear in /metrics",
   repr(accounts_seen))
val = {(n, tuple(sorted(lb.items()))): v for n, lb, v in samples}
q_a = val.get(("sluice_account_queries_total", (("account", A.name),)))
ok(q_a is not None and q_a >= st[A.name]["queries_total"],
   "sluice_account_queries_total{account=t_adm_a} agrees with /v1/stats (%s >= %s)"
   % (q_a, st[A.name]["queries_total"]))
lat = [(lb["le"], v) for n, lb, v in samples
       if n == "sluice_account_latency_seconds_bucket" and lb.get("account") == A.name]
cnt = val.get(("sluice_account_latency_seconds_count", (("account", A.name),)))
ok(fams.get("sluice_account_latency_seconds", {}).get("type") == "histogram" and
   len(lat) >= 5 and cnt is not None and cnt >= ran,
   "latency is a histogram per account (%d buckets, _count %s >= %d queries run)"
   % (len(lat), cnt, ran), repr(lat))
ok(all(v >= 0 for n, _, v in samples if fams.get(n, {}).get("type") == "counter"),
   "no counter is negative")
ok("sluice_rules_generation" in fams and "sluice_publish_failures_total" in fams,
   "gateway-wide gauges and counters are there")
# The parser itself must catch what it claims to catch.
_, _, p = parse_prometheus('# TYPE x_total counter\nx_total{a="b} 1\n'
                           'y 1\n# TYPE z gauge\nz{a="1",a="2"} 2\nz 1 2 3\n')
hf, hs, hp = parse_prometheus('# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\n'
                              'h_bucket{le="+Inf"} 3\nh_sum 1\nh_count 4\n')
ok(len(p) >= 4 and not hp and len(check_histograms(hf, hs)) >= 2,
   "the parser rejects broken exposition text (%d + %d problems found)"
   % (len(p), len(check_histograms(hf, hs))), repr(p))

# ---------------------------------------------------------------- backends

r = get("/v1/backends")
ok(r.status == 200 and isinstance(r.json.get("backends"), list),
   "GET /v1/backends: 200 with a list", repr(r))
be_initial = r.json.get("backends")
running = get("/v1/stats").json["backends"][0]
ok(any(b["name"] == running["name"] and "%s:%s" % (b["host"], b["port"]) == running["addr"] and
       b["enabled"] for b in be_initial),
   "the backend the gateway runs (%s, %s) is an enabled row of /v1/backends"
   % (running["name"], running["addr"]), lambda: repr(be_initial))
RUNNING = running["name"]
r = post("/v1/backends", {"name": "t_adm_db1", "host": "127.0.0.1", "port": lib.MARIADB_PORT,
                          "pool_size": POOL})
status_is(r, 201, "POST /v1/backends: 201")
is_(r.headers.get("location"), "/v1/backends/t_adm_db1", "POST backend: Location header")
is_(r.json, {"name": "t_adm_db1", "host": "127.0.0.1", "port": lib.MARIADB_PORT,
             "pool_size": POOL, "max_active": 0, "enabled": True}, "POST backend: the reply")
r = post("/v1/backends", {"name": "t_adm_db2", "host": "db2.example"})
ok(r.status == 201 and r.json.get("port") == 3306 and r.json.get("pool_size") == 0,
   "POST backend with defaults: port 3306, pool_size 0", repr(r))
is_(get("/v1/backends/t_adm_db1").json.get("port"), lib.MARIADB_PORT,
    "GET /v1/backends/t_adm_db1")
is_([b["name"] for b in get("/v1/backends").json["backends"]],
    sorted([b["name"] for b in be_initial] + ["t_adm_db1", "t_adm_db2"]),
    "the list holds both, ordered by name")
r = patch("/v1/backends/t_adm_db2", {"port": 3307, "enabled": False})
ok(r.status == 200 and r.json.get("port") == 3307 and r.json.get("enabled") is False and
   r.json.get("host") == "db2.example", "PATCH backend: only the named fields change", repr(r))

BE_REFUSED = [
    ("POST", "/v1/backends", '{"name":"t_adm_db1","host":"127.0.0.1"}', 409, r"exists",
     "duplicate backend"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3"}', 400, r"host", "host missing"),
    ("POST", "/v1/backends", '{"host":"h"}', 400, r"name", "name missing"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","weight":1}', 400,
     r'unknown field "weight"', "unknown field"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":""}', 400, r"host", "empty host"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"a b"}', 400, r"host",
     "host with a space"),
    ("POST", "/v1/backends", json.dumps({"name": "t_adm_db3", "host": "h" * 256}), 400, r"host",
     "host of 256 chars"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":7}', 400, r"host", "host as number"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","port":0}', 400, r"port",
     "port 0"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","port":65536}', 400, r"port",
     "port 65536"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","port":"3306"}', 400, r"port",
     "port as string"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","pool_size":-1}', 400,
     r"pool_size", "pool_size -1"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","pool_size":10001}', 400,
     r"pool_size", "pool_size 10001"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","enabled":"yes"}', 400,
     r"enabled", "enabled as string"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h","enabled":1}', 400,
     r"enabled", "enabled as number"),
    ("POST", "/v1/backends", '{"name":"bad name","host":"h"}', 400, r"name", "bad name"),
    ("POST", "/v1/backends", '{"name":"t_adm_db3","host":"h"', 400, r"JSON", "truncated JSON"),
    ("PATCH", "/v1/backends/t_adm_db1", '{"name":"other"}', 400, r"name", "PATCH rename"),
    ("PATCH", "/v1/backends/t_adm_db1", '{"port":-1}', 400, r"port", "PATCH port -1"),
    ("PATCH", "/v1/backends/t_adm_db1", '{"host":null}', 400, r"host", "PATCH host null"),
    ("PATCH", "/v1/backends/t_adm_db1", '{"pool_size":2,"port":0}', 400, r"port",
     "PATCH good pool_size with bad port (all or nothing)"),
    ("GET", "/v1/backends/t_adm_nope", None, 404, r"backend", "GET unknown backend"),
    ("PATCH", "/v1/backends/t_adm_nope", '{"port":1}', 404, r"backend",
     "PATCH unknown backend"),
    ("DELETE", "/v1/backends/t_adm_nope", None, 404, r"backend", "DELETE unknown backend"),
]
before = state()
for method, path, body, want, pattern, what in BE_REFUSED:
    r = curl(method, path, body=body)
    ok(r.status == want and r.error() and re.search(pattern, r.error()),
       "%s %s, %s: %d" % (method, path, what, want),
       "expected %d matching %r, got %r" % (want, pattern, r))
is_(state(), before, "%d refused backend requests changed nothing" % len(BE_REFUSED))

# Issue 5: editing the backend applies live. The gateway runs the first enabled row by
# name ("default", seeded from --backend/--pool-size); /v1/stats shows what it runs.
def running_pool():
    b = get("/v1/stats").json["backends"][0]
    return b["pool_size"], b["connected"]


def sleepers(n, secs):
    """n clients of t_adm_a each running SELECT SLEEP(secs) at once; returns the errors."""
    errs = []

    def one():
        e = lib.error_of(lambda: s.connect(A).cursor().execute("SELECT SLEEP(%s)" % secs))
        if e:
            errs.append(e)
    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    return ts, errs


def running_sleeps(secs, enough=None):
    """The most SLEEPs MariaDB runs at once for t_adm_a, sampled for secs (or until
    `enough` are seen)."""
    peak, end = 0, time.monotonic() + secs
    while time.monotonic() < end and (enough is None or peak < enough):
        n = sum(1 for row in lib.backend_threads([A.name])
                if row[2] == "Query" and (row[4] or "").startswith("SELECT SLEEP"))
        peak = max(peak, n)
        time.sleep(0.02)
    return peak


r = patch("/v1/backends/" + RUNNING, {"pool_size": 2})
status_is(r, 200, "PATCH the running backend's pool_size 4 -> 2: 200")
ok(lib.wait_until(lambda: running_pool()[0] == 2, 1.0), "within a second /v1/stats shows pool 2")
# Idle connections over the new size are closed by the workers' 100 ms janitor tick;
# requests dispatched before it may still use them (reported), so wait for the trim.
ok(lib.wait_until(lambda: running_pool()[1] <= 2, 1.0),
   "within a second the idle pool is trimmed to 2 connections (%r)" % (running_pool(),))
ts, errs = sleepers(6, 0.3)
peak = running_sleeps(0.6)
for t in ts:
    t.join(15)
ok(not errs and 1 <= peak <= 2, "6 concurrent SLEEPs all succeed, at most 2 at once on "
   "MariaDB (saw %d)" % peak, repr(errs))
r = patch("/v1/backends/" + RUNNING, {"pool_size": 6})
status_is(r, 200, "PATCH pool_size 2 -> 6: 200")
ts, errs = sleepers(6, 1.5)
peak = running_sleeps(1.4, enough=6)
for t in ts:
    t.join(15)
ok(not errs and peak >= 5, "the pool grows at once: MariaDB ran %d of 6 concurrent SLEEPs at "
   "once" % peak, repr(errs))
# Reservations are checked against the pool the gateway runs now (6), not the one at start,
# and the pool cannot shrink below the reservations.
r = post("/v1/accounts", {"name": "t_adm_r4", "reservation": 5})
status_is(r, 201, "reservation 5 fits the live pool of 6: 201")
before = state()
r = patch("/v1/backends/" + RUNNING, {"pool_size": 4})
ok(r.status == 409 and "reservation" in (r.error() or ""),
   "PATCH pool_size 6 -> 4 below the reservations (5): 409 naming them", repr(r))
is_(state(), before, "the refused shrink changed nothing")
is_(running_pool()[0], 6, "the gateway still runs a pool of 6")
status_is(delete("/v1/accounts/t_adm_r4"), 204, "DELETE t_adm_r4")
status_is(patch("/v1/backends/" + RUNNING, {"pool_size": 2}), 200, "PATCH pool_size 6 -> 2")
r = post("/v1/accounts", {"name": "t_adm_r4", "reservation": 3})
ok(r.status == 409 and "reservation" in (r.error() or ""),
   "reservation 3 does not fit the live pool of 2: 409", repr(r))
if r.status == 201:
    delete("/v1/accounts/t_adm_r4")
status_is(patch("/v1/backends/" + RUNNING, {"pool_size": POOL}), 200, "PATCH pool_size back to 4")
ok(lib.wait_until(lambda: running_pool()[0] == POOL, 1.0), "/v1/stats shows pool 4 again")

# A backend whose host does not resolve, named so that it sorts first: documented as
# "saved but not applied" (500, committed). It must not block later account changes.
gen0 = get("/v1/health", token=None).json
# Only one backend runs until accounts can be placed on several: the row named "default",
# else the first enabled one. Another row is stored and waits.
r = post("/v1/backends", {"name": "a_adm_bad", "host": "no-such-host.invalid"})
status_is(r, 201, "POST a second backend (unresolvable host): stored, 201")
ok(get("/v1/stats").json["backends"][0]["name"] == RUNNING,
   "a second backend row does not take over from the running one")
# A bad address on the running backend: saved, the publish fails and says so, and the old
# address stays in use.
old_host = get("/v1/backends/" + RUNNING).json["host"]
r = patch("/v1/backends/" + RUNNING, {"host": "no-such-host.invalid"})
ok(r.status == 500 and r.json and r.json.get("committed") is True,
   "PATCH the running backend to an unresolvable host: 500 with committed", repr(r))
h = get("/v1/health", token=None).json
ok(h["last_publish"] != "ok" and h["publish_failures"] == gen0["publish_failures"] + 1,
   "/v1/health shows the failed publish", repr(h))
r = patch("/v1/accounts/" + A.name, {"max_connections": 77})
ok(r.status in (200, 500) and get("/v1/accounts/" + A.name).json.get("max_connections") == 77,
   "an account change while a bad backend row exists is saved (%d)" % r.status, repr(r))
lib._mariadb_user("t_adm_late", "pw-late", [SCHEMA])
post("/v1/accounts", {"name": "t_adm_late", "password": "pw-late"})
e = login(lib.Account("t_adm_late", "pw-late", schemas=[SCHEMA]))
ok(e is None, "... and applied: an account created meanwhile logs in", "got %r" % (e,))
delete("/v1/accounts/t_adm_late")
lib.drop_user("t_adm_late")
st_a = get("/v1/stats").json
ok(login(A) is None and st_a["backends"][0]["name"] == RUNNING,
   "the gateway keeps running the old backend address meanwhile")
status_is(patch("/v1/backends/" + RUNNING, {"host": old_host}), 200,
          "PATCH the running backend's host back")
ok(get("/v1/health", token=None).json["last_publish"] == "ok",
   "after that the next publish succeeds")
status_is(delete("/v1/backends/a_adm_bad"), 204, "DELETE the stored second backend")
status_is(patch("/v1/accounts/" + A.name, {"max_connections": 0}), 200,
          "PATCH max_connections back")
status_is(delete("/v1/backends/t_adm_db2"), 204, "DELETE /v1/backends/t_adm_db2: 204")
status_is(get("/v1/backends/t_adm_db2"), 404, "GET the deleted backend: 404")
status_is(delete("/v1/backends/t_adm_db2"), 404, "DELETE it again: 404")
ok(login(A) is None, "accounts still log in after the backend edits")

# ---------------------------------------------------------------- DELETE an account

open_c = s.connect(N)
r = delete("/v1/accounts/" + N.name)
ok(r.status == 204 and r.body == "", "DELETE /v1/accounts/t_adm_new: 204, no body", repr(r))
status_is(get("/v1/accounts/" + N.name), 404, "GET the deleted account: 404")
e = login(N)
ok(e is not None and e[0] == 1045, "a new login of the deleted account: 1045", "got %r" % (e,))
like(e and e[1], r"Access denied", "1045 with MySQL's 'Access denied' message")
ok(N.name not in {a["name"] for a in get("/v1/stats").json["accounts"]},
   "the deleted account is gone from /v1/stats")
e = lib.error_of(lambda: open_c.cursor().execute("SELECT 1"))
ok(e is not None and e[0] == 1927, "a session opened before the DELETE ends at its next "
   "statement (ERR 1927 naming the account)", "got %r" % (e,))
try:
    open_c.close()
except Exception:  # noqa: BLE001
    pass
status_is(delete("/v1/accounts/" + N.name), 404, "DELETE it again: 404")

# ---------------------------------------------------------------- restart keeps the rules

status_is(patch("/v1/accounts/" + B.name, {"weight": 7, "max_qps": 500, "max_connections": 40,
                                           "max_queue": 300, "queue_timeout_ms": 4000}),
          200, "PATCH every rule of t_adm_b")
status_is(post("/v1/accounts", {"name": "t_adm_r3", "reservation": 2, "weight": 9}), 201,
          "POST t_adm_r3 (no password, reservation 2)")
acc_before = get("/v1/accounts").body
be_before = get("/v1/backends").body
gen_before = get("/v1/health", token=None).json["generation"]
code = s.stop()
is_(code, 0, "sluice exits 0 on SIGTERM")
s.start()
acc_after = get("/v1/accounts")
is_(acc_after.body, acc_before, "after a restart on the same --db: every account and rule kept")
is_(get("/v1/backends").body, be_before, "after the restart: every backend kept")
gen_after = get("/v1/health", token=None).json["generation"]
# sluice writes --backend/--pool-size into the running backend row at start, which bumps
# the generation even when nothing changes.
ok(gen_after >= gen_before, "generation kept or bumped (%d -> %d)" % (gen_before, gen_after))
ok(login(B) is None, "t_adm_b logs in after the restart")
e = login(N)
ok(e is not None and e[0] == 1045, "the deleted account is still refused after the restart",
   "got %r" % (e,))
e = login(N, password=NEWPW)
ok(e is not None and e[0] == 1045, "... with its last password too", "got %r" % (e,))

# No token on a non-loopback address: sluice refuses to start and says why.
env = dict(os.environ)
env.pop("SLUICE_ADMIN_TOKEN", None)
p = subprocess.run([lib.SLUICE_BIN, "--listen", "127.0.0.1:%d" % lib.free_port(),
                    "--backend", "%s:%d" % (lib.MARIADB_HOST, lib.MARIADB_PORT),
                    "--db", os.path.join(s.dir, "other.db"), "--pool-size", "1",
                    "--admin", "0.0.0.0:%d" % lib.free_port()],
                   capture_output=True, text=True, timeout=30, env=env)
ok(p.returncode != 0 and "without a token" in p.stderr + p.stdout,
   "no token with --admin 0.0.0.0: sluice refuses to start and says why",
   "exit %s: %s%s" % (p.returncode, p.stdout, p.stderr))

diag("%d curl requests" % _curl_n[0])
lib.drop_user(N.name)
lib.finish(s)
lib.done_testing()
