#!/usr/bin/env python3
# Hardening (issue 6), limits, shutdown, the admin port and the rules store:
#  - slow-loris handshakes (bytes trickled, never finished) are dropped by the 10 s
#    handshake timeout while normal clients keep connecting;
#  - --max-clients N: the (N+1)th connection gets ERR 1040; an account's max_connections
#    C: its (C+1)th connection gets ERR 1203;
#  - SIGTERM drains: SELECT SLEEP(3) in flight complete with their results, new
#    connections are refused, sluice exits 0 within the 10 s drain;
#  - the admin port: malformed, oversized (> 1 MiB), trickled and unauthenticated
#    requests get a 4xx or are dropped, and MySQL clients do not notice;
#  - the SQLite file locked by another process when an admin change comes in: 5xx with an
#    error, the running rules stay; a corrupt db file at start: non-zero exit with a
#    message; a missing one: created fresh.
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, like, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("starts and signals its own sluice processes")

import pymysql  # noqa: E402

SCHEMA = lib.create_schema("t_hard_limits")
N = lib.Account("t_hard_limits", "pw-hl", schemas=[SCHEMA])
L = lib.Account("t_hard_limited", "pw-hl2", schemas=[SCHEMA])
MAX_CLIENTS = 20
s = lib.Sluice([N, L], pool_size=4, extra_args=["--max-clients", str(MAX_CLIENTS)],
               start=False)
r = s.run_cli(["account", "set", L.name, "--max-connections", "3"])
is_(r.returncode, 0, "account set %s --max-connections 3" % L.name)
s.start()


def q1(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def fresh_query_works(sl=s, acct=N):
    conn = sl.connect(acct, connect_timeout=5, read_timeout=5)
    try:
        return q1(conn, "SELECT 1") == 1
    finally:
        conn.close()


def raw():
    return socket.create_connection(("127.0.0.1", s.port), timeout=5)


def closed_within(sock, secs):
    """Read until EOF or reset; (closed?, seconds)."""
    t0 = time.monotonic()
    sock.settimeout(0.25)
    while time.monotonic() - t0 < secs:
        try:
            if not sock.recv(65536):
                return True, time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return True, time.monotonic() - t0
    return False, time.monotonic() - t0


bystander = s.connect(N)
is_(q1(bystander, "SELECT 1"), 1, "bystander connected")

# ================================================================ slow-loris
LORIS = 12
loris_res = {}


def loris(k):
    sock = raw()
    t0 = time.monotonic()
    try:
        sock.recv(4096)  # the greeting
        # A plausible handshake response header announcing 200 bytes, then 1 byte/s.
        sock.sendall(b"\xc8\x00\x00\x01")
        sock.settimeout(1)
        while time.monotonic() - t0 < 20:
            try:
                sock.send(b"\x85")
            except OSError:
                break
            try:
                if not sock.recv(4096):
                    break
            except socket.timeout:
                pass
            except OSError:
                break
        loris_res[k] = time.monotonic() - t0
    finally:
        sock.close()


normal = {"ok": 0, "err": []}
loris_done = threading.Event()


def normal_clients():
    while not loris_done.is_set():
        try:
            if fresh_query_works():
                normal["ok"] += 1
        except Exception as e:  # noqa: BLE001
            normal["err"].append(repr(e))
        time.sleep(0.5)


ls = [threading.Thread(target=loris, args=(k,), daemon=True) for k in range(LORIS)]
for t in ls:
    t.start()
nt = threading.Thread(target=normal_clients, daemon=True)
nt.start()
for t in ls:
    t.join(30)
loris_done.set()
nt.join(10)
secs = sorted(loris_res.values())
diag("slow-loris sockets dropped after %s s" % [round(x, 1) for x in secs])
ok(len(secs) == LORIS and all(9 <= x <= 13 for x in secs),
   "%d slow-loris handshakes dropped after the 10 s handshake timeout" % LORIS, repr(secs))
ok(normal["ok"] >= 15 and not normal["err"],
   "normal clients kept connecting meanwhile (%d)" % normal["ok"], repr(normal["err"][:3]))
lib.check("bystander still served", lambda: q1(bystander, "SELECT 2") == 2)



# ---------------------------------------------------------------- admin helpers
def admin(method, path, body=None, token=True, headers=None, sl=s):
    """(status, parsed JSON or text) of one admin request."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + (sl.admin_token if token is True else token)
    if body is not None:
        h.setdefault("Content-Type", "application/json")
        body = json.dumps(body) if not isinstance(body, (bytes, str)) else body
    c = http.client.HTTPConnection("127.0.0.1", sl.admin_port, timeout=30)
    try:
        c.request(method, path, body=body, headers=h)
        resp = c.getresponse()
        data = resp.read()
        try:
            return resp.status, json.loads(data or b"null")
        except ValueError:
            return resp.status, data.decode("utf-8", "replace")
    finally:
        c.close()


def clients_now():
    return admin("GET", "/v1/stats")[1]["clients"]


def admin_raw(payload, secs=15, trickle=None):
    """Send payload to the admin port (byte by byte every trickle seconds if set); return
    the status of the answer, or 'closed' if the server hung up without one, or
    'timeout'."""
    sock = socket.create_connection(("127.0.0.1", s.admin_port), timeout=secs)
    got = b""
    try:
        try:
            if trickle:
                for i in range(len(payload)):
                    sock.sendall(payload[i:i + 1])
                    time.sleep(trickle)
            else:
                sock.sendall(payload)
        except OSError:
            pass  # the server may stop reading and hang up: look at what it said
        t0 = time.monotonic()
        while time.monotonic() - t0 < secs:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return "timeout"
            except OSError:
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                break
    finally:
        sock.close()
    if got.startswith(b"HTTP/1."):
        return int(got.split(b" ", 2)[1])
    return "closed" if not got else got[:60]


def refused(x):
    # 4xx, or 505 (HTTP Version Not Supported), or a hang-up without an answer.
    return x == "closed" or (isinstance(x, int) and (400 <= x < 500 or x == 505))


# ================================================================ --max-clients
ok(lib.wait_until(lambda: clients_now() == 1, 10), "only the bystander is connected",
   lambda: "clients=%r" % clients_now())
held = []
for i in range(MAX_CLIENTS - 1):
    held.append(s.connect(N))
is_(clients_now(), MAX_CLIENTS, "%d clients connected (--max-clients %d)"
    % (MAX_CLIENTS, MAX_CLIENTS))
e = lib.error_of(lambda: s.connect(N).close())
ok(e is not None and e[0] == 1040, "client %d gets ERR 1040" % (MAX_CLIENTS + 1), repr(e))
diag("ERR %r" % (e,))
lib.check("clients already connected keep working", lambda: q1(held[-1], "SELECT 3") == 3)
held.pop().close()
ok(lib.wait_until(fresh_query_works, 5), "after one leaves, a new client gets in")
for c in held:
    c.close()
ok(lib.wait_until(lambda: clients_now() == 1, 10), "clients counted back down to 1")

# ================================================================ max_connections
ls_ = [s.connect(L) for _ in range(3)]
e = lib.error_of(lambda: s.connect(L).close())
ok(e is not None and e[0] == 1203, "account with max_connections 3: the 4th gets ERR 1203",
   repr(e))
diag("ERR %r" % (e,))
ok(lib.wait_until(fresh_query_works, 5), "another account is not limited by it")
ls_.pop().close()
ok(lib.wait_until(lambda: fresh_query_works(acct=L), 5),
   "after one of the 3 leaves, the account gets in again")

# ================================================================ the admin port
for name, payload in [
        ("a request line of garbage", b"GARBAGE\r\n\r\n"),
        ("4 KiB of random bytes", os.urandom(4096) + b"\r\n\r\n"),
        ("an unknown HTTP version", b"GET /v1/health HTTP/7.3\r\n\r\n"),
        ("a negative Content-Length",
         b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
        ("a header without a colon", b"GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n"),
        ("a 1.2 MiB header", b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: "
         + b"a" * (1200 * 1024) + b"\r\n\r\n"),
        ("a 1.2 MiB URL", b"GET /v1/" + b"a" * (1200 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("a declared 2 MiB body (authorised)",
         ("POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
          "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
          % (s.admin_token, 2 << 20)).encode() + b"{" + b" " * (1200 * 1024)),
        ("a chunked 1.2 MiB body (authorised)",
         ("POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
          % s.admin_token).encode()
         + (b"10000\r\n" + b" " * 0x10000 + b"\r\n") * 19 + b"0\r\n\r\n")]:
    t0 = time.monotonic()
    out = admin_raw(payload)
    ok(refused(out), "admin: %s: answered 4xx or dropped (%r, %.1f s)"
       % (name, out, time.monotonic() - t0))
lib.check("MySQL clients unaffected by the malformed admin requests",
          lambda: q1(bystander, "SELECT 4") == 4)

st, body = admin("GET", "/v1/accounts", token=False)
is_(st, 401, "admin: no token: 401")
st, body = admin("GET", "/v1/accounts", token="wrong-" + s.admin_token)
is_(st, 401, "admin: wrong token: 401")
st, body = admin("POST", "/v1/accounts", {"name": "t_hard_intruder", "password": "x"},
                 token=False)
is_(st, 401, "admin: creating an account without a token: 401")
is_(admin("GET", "/v1/accounts/t_hard_intruder")[0], 404, "... and nothing was created")
st, body = admin("POST", "/v1/accounts", b'{"name": "x", ', token=True)
is_(st, 400, "admin: truncated JSON: 400")
st, body = admin("PATCH", "/v1/accounts/" + L.name, b"[" * 100000, token=True)
ok(400 <= st < 500, "admin: 100000 nested arrays: 4xx (%d)" % st)

# Slow clients: 30 idle connections and one trickling its request over ~4 s while
# others use the API and MySQL.
idle = [socket.create_connection(("127.0.0.1", s.admin_port), timeout=5) for _ in range(30)]
slow = {}
st_t = threading.Thread(target=lambda: slow.update(out=admin_raw(
    b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n", secs=40, trickle=0.1)))
t0 = time.monotonic()
st_t.start()
time.sleep(0.5)
lat = []
for _ in range(5):
    t1 = time.monotonic()
    code = admin("GET", "/v1/health", token=False)[0]
    lat.append((code, round(time.monotonic() - t1, 3)))
ok(all(c == 200 for c, _ in lat) and max(x for _, x in lat) < 1,
   "admin: answers others while 30 idle and 1 trickling connections are open", repr(lat))
lib.check("MySQL clients unaffected by slow admin clients",
          lambda: q1(bystander, "SELECT 5") == 5)
st_t.join(45)
ok(slow.get("out") == 200 or refused(slow.get("out")),
   "admin: the trickled request is answered or dropped (%r after %.1f s)"
   % (slow.get("out"), time.monotonic() - t0))
for sock in idle:
    sock.close()
is_(admin("GET", "/v1/health", token=False)[0], 200, "admin: health 200 afterwards")
ok(s.alive(), "sluice alive after the admin abuse")

# ================================================================ store locked
st, acct = admin("GET", "/v1/accounts/" + L.name)
is_((st, acct.get("max_connections") if isinstance(acct, dict) else acct), (200, 3),
    "account %s has max_connections 3" % L.name)
lk = sqlite3.connect(s.db, timeout=1, isolation_level=None)
lk.execute("BEGIN EXCLUSIVE")
diag("holding BEGIN EXCLUSIVE on %s" % s.db)
t0 = time.monotonic()
st, body = admin("PATCH", "/v1/accounts/" + L.name, {"max_connections": 10})
took = time.monotonic() - t0
diag("PATCH while locked: %d %r after %.1f s" % (st, body, took))
ok(500 <= st < 600, "admin change while the store is locked: 5xx (%d)" % st)
ok(isinstance(body, dict) and body.get("error"), "... with an error message", repr(body))
ok(took < 15, "... within 15 s (%.1f s)" % took)
# The running rules are those of before: the 4th connection is still refused.
ls_.append(s.connect(L))
e = lib.error_of(lambda: s.connect(L).close())
ok(e is not None and e[0] == 1203, "the running rules stay: the 4th connection still gets 1203",
   repr(e))
lk.execute("ROLLBACK")
lk.close()
st, acct = admin("GET", "/v1/accounts/" + L.name)
is_(acct.get("max_connections") if isinstance(acct, dict) else acct, 3,
    "the store still says max_connections 3")
st, body = admin("PATCH", "/v1/accounts/" + L.name, {"max_connections": 10})
is_(st, 200, "lock released: the same change succeeds")
ok(lib.wait_until(lambda: fresh_query_works(acct=L), 5), "... and applies: a 4th gets in")
for c in ls_:
    c.close()

# ================================================================ SIGTERM drain
d = lib.Sluice([N], pool_size=4)
sleepers = [d.connect(N) for _ in range(3)]
res = {}


def sleeper(k):
    t0 = time.monotonic()
    try:
        res[k] = (q1(sleepers[k], "SELECT SLEEP(3)"), time.monotonic() - t0)
    except Exception as e:  # noqa: BLE001
        res[k] = (repr(e), time.monotonic() - t0)


ts = [threading.Thread(target=sleeper, args=(k,)) for k in range(3)]
for t in ts:
    t.start()
time.sleep(0.5)
t_term = time.monotonic()
d.proc.send_signal(signal.SIGTERM)
time.sleep(0.3)
try:
    late = fresh_query_works(sl=d)
    late = "served" if late else "wrong answer"
except Exception as e:  # noqa: BLE001
    late = repr(e)
diag("a new client 0.3 s after SIGTERM: %s" % late)
ok(late != "served", "draining: a new connection is refused", late)
for t in ts:
    t.join(15)
diag("in-flight SLEEP(3): %r" % res)
ok(len(res) == 3 and all(v[0] == 0 for v in res.values()),
   "the 3 queries in flight complete with their result", repr(res))
try:
    code = d.proc.wait(12)
except subprocess.TimeoutExpired:
    code = "still running"
took = time.monotonic() - t_term
ok(code == 0 and took < 11, "sluice exits 0 within the drain timeout (%r after %.1f s)"
   % (code, took))
for c in sleepers:
    try:
        c.close()
    except Exception:  # noqa: BLE001
        pass


# ================================================================ db file at start
def start_with_db(path, wait=10):
    port = lib.free_port()
    p = subprocess.Popen([lib.SLUICE_BIN, "--listen", "127.0.0.1:%d" % port, "--backend",
                          "%s:%d" % (lib.MARIADB_HOST, lib.MARIADB_PORT), "--db", path,
                          "--admin", "off", "--pool-size", "2"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    up = lib.wait_until(lambda: p.poll() is not None or
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        or True, wait)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=15)[0].decode("utf-8", "replace")
        return "listening", p.returncode, out
    return "exited" if up else "hung", p.returncode, p.communicate()[0].decode("utf-8",
                                                                               "replace")


corrupt = os.path.join(s.dir, "corrupt.db")
with open(corrupt, "wb") as f:
    f.write(os.urandom(65536))
what, code, out = start_with_db(corrupt)
diag("random bytes as the db: %s, exit %r: %s" % (what, code, out.strip()[-300:]))
ok(what == "exited" and code not in (0, None), "a db file of random bytes: non-zero exit")
like(out, r"(?i)corrupt\.db.*(not a database|corrupt|malformed|encrypted)",
     "... with a message naming the file and the problem")

corrupt2 = os.path.join(s.dir, "corrupt2.db")
shutil_src = sqlite3.connect(corrupt2)
shutil_src.execute("CREATE TABLE x(a)")
shutil_src.commit()
shutil_src.close()
with open(corrupt2, "r+b") as f:
    f.seek(100)
    f.write(os.urandom(8000))
what, code, out = start_with_db(corrupt2)
diag("a SQLite file with a mangled body: %s, exit %r: %s" % (what, code, out.strip()[-300:]))
ok(what == "exited" and code not in (0, None), "a SQLite file with garbage after the header: "
   "non-zero exit")
like(out, r"(?i)corrupt2\.db.*(not a database|corrupt|malformed)",
     "... with a message naming the file and the problem")

missing = os.path.join(s.dir, "fresh", "sluice.db")
os.mkdir(os.path.dirname(missing))
what, code, out = start_with_db(missing)
ok(what == "listening" and code == 0, "a missing db file: sluice starts, exits 0 on SIGTERM",
   "%s %r %s" % (what, code, out[-500:]))
ok(os.path.exists(missing), "... and created the file")
r = subprocess.run([lib.SLUICE_BIN, "--db", missing, "account", "list"], capture_output=True,
                   text=True, timeout=30)
ok(r.returncode == 0 and L.name not in r.stdout, "... a fresh, empty store", r.stdout + r.stderr)

what, code, out = start_with_db(os.path.join(s.dir, "no", "such", "dir", "x.db"))
diag("db in a missing directory: %s, exit %r: %s" % (what, code, out.strip()[-300:]))
ok(what == "exited" and code not in (0, None), "a db path in a missing directory: non-zero exit")
like(out, r"x\.db", "... with a message naming the file")

lib.check("bystander still served at the end", lambda: q1(bystander, "SELECT 6") == 6)
bystander.close()
lib.finish(s)
lib.done_testing()
