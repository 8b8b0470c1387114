#!/usr/bin/env python3
# isolation_admin.t: issue 11, section 5 ("the admin API without a token obeys any web
# page"), as a DNS-rebinding page or a hostile local page would try it.
#
# 1. Without a token, a request whose Host is not a loopback literal or localhost (a
#    DNS-rebinding page sends its own name), or that carries a foreign Origin, gets 403
#    with a JSON error and changes nothing: alice's password stays. Host localhost:PORT,
#    127.0.0.1:PORT, [::1] and no Host at all (HTTP/1.0) are served. With a token, a
#    foreign Origin is refused on writes even with the right token.
# 2. A password changed through the admin API takes effect on the backend side too: a
#    client that proved the new password runs its statements only on backend connections
#    authenticated with it. Pooled connections MariaDB authenticated with the old one,
#    idle or busy at the change, are re-authenticated (COM_CHANGE_USER) before such a
#    client uses them: with sluice on P3 and MariaDB still on P2, the P3 client gets
#    MariaDB's 1045, though idle connections logged in as alice exist.
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("the admin API needs a sluice started here (SLUICE_TEST_ADDR is set)")
if subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode != 0:
    lib.skip_all("curl is not installed")

SCHEMA = lib.create_schema("t_iadm")
P1, P2, P3 = "pw-iadm-one", "pw-iadm-two", "pw-iadm-three"
ALICE = lib.Account("t_iadm_alice", P1, schemas=[SCHEMA])

# No token: the API is served on loopback only and must defend itself by Host/Origin.
s = lib.Sluice([ALICE], pool_size=1, threads=1, start=False)
s.admin_token = ""  # --admin-token "" = none (overrides SLUICE_ADMIN_TOKEN)
s.start()
PORT = s.admin_port


def curl(srv, method, path, body=None, headers=(), http10=False):
    """One request to srv's admin API; returns (status, parsed JSON or None, raw body)."""
    out = os.path.join(srv.dir, "curl.body")
    cmd = ["curl", "-sS", "--max-time", "20", "-o", out, "-w", "%{http_code}", "-X", method]
    if http10:
        cmd.append("-0")
    for h in headers:
        cmd += ["-H", h]
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        cmd += ["--data-binary", "@-", "-H", "Content-Type: application/json"]
    cmd.append("http://127.0.0.1:%d%s" % (srv.admin_port, path))
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("curl failed (%d): %s" % (r.returncode, r.stderr.decode()))
    with open(out, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    try:
        js = json.loads(text) if text else None
    except ValueError:
        js = None
    return int(r.stdout.decode().strip() or 0), js, text


def refused(r):
    """403 with a JSON body {"error": "..."}."""
    st, js, _ = r
    return st == 403 and isinstance(js, dict) and isinstance(js.get("error"), str)


def login_error(password):
    """Log alice in through sluice with password and run one statement: None or
    (errno, message)."""
    def go():
        c = s.connect(ALICE, password=password)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                cur.fetchall()
        finally:
            c.close()
    return lib.error_of(go)


def denied(e):
    return e is not None and e[0] == 1045


# ---------------------------------------------------------------- 1. Host and Origin

path = "/v1/accounts/" + ALICE.name
r = curl(s, "PATCH", path, {"password": P2}, ["Host: rebind.attacker.example"])
ok(refused(r), "no token, PATCH with Host: rebind.attacker.example gets 403 + JSON error",
   "got %r" % (r,))
diag("its error: %s" % r[2])
r = curl(s, "PATCH", path, {"password": P2}, ["Host: rebind.attacker.example:%d" % PORT])
ok(refused(r), "... and with the port", "got %r" % (r,))
e1, e2 = login_error(P1), login_error(P2)
ok(e1 is None and denied(e2), "alice's password is unchanged: the old one logs in, the new fails",
   "old: %r new: %r" % (e1, e2))

for h in ("Host: rebind.attacker.example", "Host: 127.0.0.1.attacker.example",
          "Host: localhost.attacker.example:%d" % PORT, "Host: 10.0.0.1:%d" % PORT,
          "Host: [::ffff:127.0.0.1]:%d" % PORT, "Host: 127.0.0.1@evil.example"):
    r = curl(s, "GET", "/v1/accounts", headers=[h])
    ok(refused(r), "no token, GET /v1/accounts with '%s': 403 (nothing to read)" % h,
       "got %r" % (r,))
r = curl(s, "GET", "/v1/health", headers=["Host: rebind.attacker.example"])
ok(refused(r), "no token, GET /v1/health with a foreign Host: 403 too", "got %r" % (r,))
r = curl(s, "GET", "/", headers=["Host: rebind.attacker.example"])
ok(refused(r), "no token, GET / (dashboard) with a foreign Host: 403", "got %r" % (r,))

for o in ("Origin: http://evil.example", "Origin: null", "Origin: https://localhost:%d" % PORT,
          "Origin: http://localhost.evil.example", "Origin: http://127.0.0.1:%d/x" % PORT):
    r = curl(s, "PATCH", path, {"password": P2}, ["Host: 127.0.0.1:%d" % PORT, o])
    ok(refused(r), "no token, PATCH with loopback Host and '%s': 403" % o, "got %r" % (r,))
r = curl(s, "GET", "/v1/stats", headers=["Origin: http://evil.example"])
ok(refused(r), "no token, GET /v1/stats with Origin: http://evil.example: 403", "got %r" % (r,))
e1, e2 = login_error(P1), login_error(P2)
ok(e1 is None and denied(e2), "still unchanged after the foreign Origins",
   "old: %r new: %r" % (e1, e2))

for h in ("Host: localhost:%d" % PORT, "Host: 127.0.0.1:%d" % PORT, "Host: localhost",
          "Host: LocalHost:%d" % PORT, "Host: 127.9.8.7", "Host: [::1]:%d" % PORT,
          "Host: [::1]"):
    r = curl(s, "GET", "/v1/stats", headers=[h])
    ok(r[0] == 200, "no token, GET /v1/stats with '%s': 200" % h, "got %r" % (r,))
r = curl(s, "GET", "/v1/health", headers=["Host:"], http10=True)
ok(r[0] == 200, "no token, HTTP/1.0 without a Host header: 200 (no browser sends that)",
   "got %r" % (r,))
for o in ("Origin: http://localhost:%d" % PORT, "Origin: http://127.0.0.1:%d" % PORT,
          "Origin: http://[::1]:%d" % PORT):
    r = curl(s, "PATCH", path, {"weight": 2}, ["Host: localhost:%d" % PORT, o])
    ok(r[0] == 200, "no token, PATCH with Host localhost and '%s': 200" % o, "got %r" % (r,))

# With a token the token is the defence (the API may serve any name), but a write from a
# page of another origin is refused even with it.
TOK = "t-" + os.urandom(8).hex()
st = lib.Sluice([], pool_size=1, threads=1, start=False)
st.admin_token = TOK
st.start()
auth = "Authorization: Bearer " + TOK
r = curl(st, "GET", "/v1/stats", headers=[auth, "Host: admin.example:%d" % st.admin_port])
ok(r[0] == 200, "token: GET with the token and any Host: 200", "got %r" % (r,))
r = curl(st, "GET", "/v1/stats", headers=["Host: localhost:%d" % st.admin_port])
ok(r[0] == 401, "token: a loopback Host does not replace the token: 401", "got %r" % (r,))
r = curl(st, "POST", "/v1/backends", {"name": "x", "host": "127.0.0.1", "port": 1},
         [auth, "Origin: http://evil.example"])
ok(refused(r), "token: POST with the token and Origin: http://evil.example: 403",
   "got %r" % (r,))
r = curl(st, "GET", "/v1/backends", headers=[auth])
ok(r[0] == 200 and isinstance(r[1], dict) and
   all(b.get("name") != "x" for b in r[1].get("backends", [{"name": "x"}])),
   "... and nothing was created", "got %r" % (r,))
r = curl(st, "GET", "/v1/stats", headers=[auth, "Origin: http://evil.example"])
ok(r[0] == 200, "token: GET with the token and a foreign Origin: 200 (reads need the token)",
   "got %r" % (r,))
r = curl(st, "PATCH", "/v1/backends/default", {"pool_size": 1},
         [auth, "Host: admin.example:%d" % st.admin_port,
          "Origin: http://admin.example:%d" % st.admin_port])
ok(r[0] == 200, "token: a write from the API's own origin (Origin = Host): 200",
   "got %r" % (r,))
lib.finish(st)

# ---------------------------------------------------------------- 2. the backend side


def change_users(thread_id):
    """COM_CHANGE_USERs MariaDB's general log (a table, on for this part) has seen on the
    backend thread thread_id."""
    return lib.root_sql("SELECT COUNT(*) FROM mysql.general_log WHERE thread_id = %s"
                        " AND command_type = 'Change user'", (thread_id,))[0][0]


def run_as(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def set_password(pw):
    r = curl(s, "PATCH", path, {"password": pw}, ["Host: localhost:%d" % PORT])
    if r[0] != 200:
        lib.bail_out("PATCH password through the API failed: %r" % (r,))


# Part 1 may have failed and left another password in sluice (the rebinding PATCH went
# through before the fix): start part 2 from P1 on both sides.
set_password(P1)

# (a) The pool (one connection) warmed by alice under P1; MariaDB and sluice both move to
# P2. A client proving P2 runs on a connection re-authenticated with P2.
warm = s.connect(ALICE)
run_as(warm, "SELECT 1")
warm.close()
thr = [t[0] for t in lib.backend_threads([ALICE.name])]
ok(len(thr) == 1, "the pool holds one backend connection logged in as alice",
   "threads: %r" % (thr,))
lib.root_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (ALICE.name, P2))
set_password(P2)
ALICE.password = P2
glog = lib.root_sql("SELECT @@global.general_log, @@global.log_output")[0]
lib.root_sql("SET GLOBAL log_output = 'TABLE'")
lib.root_sql("SET GLOBAL general_log = 1")
try:
    cu0 = change_users(thr[0])
    new = s.connect(ALICE)
    rows = run_as(new, "SELECT CURRENT_USER(), @@pseudo_thread_id")
    cu1 = change_users(thr[0])
    new.close()
finally:
    lib.root_sql("SET GLOBAL general_log = %s" % int(glog[0]))
    lib.root_sql("SET GLOBAL log_output = %s", (glog[1],))
ok(rows[0][0].startswith(ALICE.name + "@"), "a client proving P2 runs as alice",
   "got %r" % (rows,))
ok(rows[0][1] == thr[0] and cu1 > cu0,
   "... on the pooled connection, which MariaDB re-authenticated after the change "
   "(thread %s; its COM_CHANGE_USERs %d -> %d)" % (rows[0][1], cu0, cu1))

# (b) Sluice's password for alice goes to P3 while MariaDB keeps P2, with the pool's
# connection idle and logged in as alice (under P2). A client proving P3 must not run
# anything: its statement needs MariaDB to accept P3.
warm = s.connect(ALICE)
run_as(warm, "SELECT 1")
warm.close()
ok(len(lib.backend_threads([ALICE.name])) == 1, "an idle connection logged in as alice exists")
set_password(P3)
e = login_error(P3)
ok(denied(e), "sluice on P3, MariaDB on P2, idle alice connection: the P3 client's statement "
   "gets MariaDB's 1045, it does not run", "got %r" % (e,))
diag("its error: %r" % (e,))

# (c) A connection busy at the change: an old client (proved P2) runs SLEEP while the
# password moves from P3 back... to P1 in sluice only; once it is free, a client proving
# P1 gets it re-authenticated (MariaDB: 1045), while the old client, which proved P2 (as
# MariaDB still wants), goes on.
set_password(P2)
old = s.connect(ALICE, password=P2)
run_as(old, "SELECT 1")
res = {}


def sleeper():
    res["e"] = lib.error_of(lambda: run_as(old, "SELECT SLEEP(1.5)"))


t = threading.Thread(target=sleeper)
t.start()
ok(lib.wait_until(lambda: any(x[4] and "SLEEP" in x[4]
                              for x in lib.backend_threads([ALICE.name])), 10),
   "the old client's SLEEP runs on the pool's one connection")
set_password(P1)
e = login_error(P1)
t.join(30)
ok(res.get("e") is None, "the old client's statement finished", "got %r" % (res,))
ok(denied(e), "the connection busy at the change is re-authenticated for a client proving P1: "
   "MariaDB's 1045", "got %r" % (e,))
e = lib.error_of(lambda: run_as(old, "SELECT CURRENT_USER()"))
ok(e is None, "the client that proved P2 before the change goes on with P2", "got %r" % (e,))
old.close()

lib.root_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (ALICE.name, P1))
ok(login_error(P1) is None, "with MariaDB back on P1, the P1 client runs")

lib.finish(s)
lib.drop_user(ALICE.name)
lib.drop_schema(SCHEMA)
lib.done_testing()
