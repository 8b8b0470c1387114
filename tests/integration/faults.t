#!/usr/bin/env python3
# faults.t: misbehaving clients and a misbehaving backend. Garbage on the port closes that
# client only; a client that stalls in the handshake is dropped; clients that vanish in
# the middle of a query or a result do not cost a backend connection; backend connections
# killed on the server side come back by themselves.
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

import pymysql  # noqa: E402
from pymysql.constants import COMMAND  # noqa: E402

SCHEMA = lib.create_schema("t_faults")
F = lib.Account("t_faults", "pw-faults", schemas=[SCHEMA])
s = lib.start_sluice([F], pool_size=4)


def q1(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def fresh_query_works():
    conn = s.connect(F, connect_timeout=5, read_timeout=5)
    try:
        return q1(conn, "SELECT 1") == 1
    finally:
        conn.close()


def raw():
    return socket.create_connection((s.host, s.port), timeout=5)


def read_packet(sock):
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4 - len(data))
        if not chunk:
            return None
        data += chunk
    n = data[0] | data[1] << 8 | data[2] << 16
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def closed_within(sock, secs):
    """Read until EOF; returns (closed?, seconds, bytes read). A reset counts as closed."""
    t0 = time.monotonic()
    got = b""
    sock.settimeout(0.5)
    while time.monotonic() - t0 < secs:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, time.monotonic() - t0, got
        if not chunk:
            return True, time.monotonic() - t0, got
        got += chunk
    return False, time.monotonic() - t0, got


bystander = s.connect(F)
is_(q1(bystander, "SELECT 1"), 1, "bystander client connected")


# ---- garbage on the port
def garbage_before_greeting(sock):
    sock.sendall(os.urandom(1024))


def garbage_framed(sock):
    read_packet(sock)
    body = os.urandom(200)
    sock.sendall(struct.pack("<I", len(body))[:3] + b"\x01" + body)


def handshake_nonsense(sock):
    # Well framed, PROTOCOL_41 set, but the user name runs to the end of the packet.
    read_packet(sock)
    body = struct.pack("<IIB23x", 0x000FA685, 1 << 24, 45) + b"x" * 64
    sock.sendall(struct.pack("<I", len(body))[:3] + b"\x01" + body)


def http_request(sock):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")


def huge_length(sock):
    read_packet(sock)
    sock.sendall(b"\xff\xff\xff\x01" + os.urandom(4096))
    sock.shutdown(socket.SHUT_WR)


for name, fn in [("1 KiB of random bytes before the greeting", garbage_before_greeting),
                 ("a framed random handshake response", garbage_framed),
                 ("a handshake response with an unterminated user", handshake_nonsense),
                 ("an HTTP request", http_request),
                 ("a 16 MiB length header, 4 KiB, then EOF", huge_length)]:
    sock = raw()
    try:
        fn(sock)
        closed, secs, _ = closed_within(sock, 15)
    except (ConnectionResetError, BrokenPipeError):
        closed, secs = True, 0
    finally:
        sock.close()
    ok(closed, "garbage (%s): connection closed" % name, "still open after %.1f s" % secs)
    lib.check("bystander still served after: %s" % name, lambda: q1(bystander, "SELECT 2") == 2)

# garbage in the command phase, after a real login
cg = s.connect(F)
try:
    cg._sock.sendall(b"\x05\x00\x00\x07" + b"\x03junk" + os.urandom(512))
    closed, secs, _ = closed_within(cg._sock, 15)
    diag("garbage after login: %s after %.1f s" % ("closed" if closed else "still open", secs))
except OSError as e:
    diag("garbage after login: %r" % e)
finally:
    cg._sock.close()
lib.check("bystander still served after garbage in the command phase",
          lambda: q1(bystander, "SELECT 3") == 3)

# 50 garbage clients at once
done = []


def garbage_client(k):
    try:
        sock = raw()
        sock.sendall(os.urandom(64 + k))
        done.append(closed_within(sock, 20)[0])
        sock.close()
    except OSError:
        done.append(True)


ts = [threading.Thread(target=garbage_client, args=(k,)) for k in range(50)]
for t in ts:
    t.start()
for t in ts:
    t.join(30)
is_(done.count(True), 50, "50 concurrent garbage clients all closed")
lib.check("new clients still served", fresh_query_works)

# ---- stalled handshakes are dropped (sluice's handshake timeout is 10 s)
results = {}


def stall(kind):
    sock = raw()
    try:
        greeting = read_packet(sock)
        if kind == "half a handshake response":
            sock.sendall(b"\x40\x00\x00\x01" + b"\x85\xa6\x0f\x00")
        results[kind] = closed_within(sock, 20) + (greeting is not None,)
    except OSError as e:
        results[kind] = (True, 0, repr(e), True)
    finally:
        sock.close()


ts = [threading.Thread(target=stall, args=(k,))
      for k in ("greeting read, nothing sent", "half a handshake response")]
for t in ts:
    t.start()
for t in ts:
    t.join(30)
for kind, (closed, secs, _, greeted) in sorted(results.items()):
    ok(greeted and closed, "stalled handshake (%s) dropped within 20 s" % kind,
       "closed=%s after %.1f s" % (closed, secs))
    diag("%s: dropped after %.1f s" % (kind, secs))
lib.check("bystander still served after stalled handshakes", lambda: q1(bystander, "SELECT 4") == 4)


# ---- clients vanishing mid-query and mid-result must not leak backend connections
def vanish(sql, read_bytes):
    conn = s.connect(F)
    conn._execute_command(COMMAND.COM_QUERY, sql)
    if read_bytes:
        got = 0
        conn._sock.settimeout(10)
        while got < read_bytes:
            chunk = conn._sock.recv(65536)
            if not chunk:
                break
            got += len(chunk)
    conn._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn._sock.close()


for _ in range(6):
    vanish("SELECT SLEEP(2)", 0)
for _ in range(6):
    vanish("SELECT REPEAT('x', 1000000) FROM seq_1_to_200", 256 * 1024)
t0 = time.monotonic()
ok(lib.wait_until(fresh_query_works, 20), "12 vanished clients: new clients served within 20 s")
diag("first answer %.1f s after the vanishings" % (time.monotonic() - t0))


def backends_idle():
    return all(r[2] != "Query" for r in lib.backend_threads([F.name]))


ok(lib.wait_until(backends_idle, 30), "no backend still runs a vanished client's query (30 s)",
   lambda: repr(lib.backend_threads([F.name])))
par = []


def four_sleepers(k):
    conn = s.connect(F)
    try:
        q1(conn, "SELECT SLEEP(1)")
        par.append(True)
    finally:
        conn.close()


t0 = time.monotonic()
ts = [threading.Thread(target=four_sleepers, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join(30)
elapsed = time.monotonic() - t0
is_(len(par), 4, "4 concurrent SLEEP(1) after the vanishings succeed")
if lib.sluice_only("... in parallel: all 4 backend connections are back in the pool"):
    ok(elapsed < 1.9, "... in parallel: all 4 backend connections are back in the pool",
       "took %.2f s" % elapsed)


# ---- backend connections killed on the server side
def kill_backends():
    ids = [r[0] for r in lib.backend_threads([F.name])]
    for i in ids:
        try:
            lib.root_sql("KILL %d" % i)
        except pymysql.err.MySQLError:
            pass
    return ids


for round_ in (1, 2):
    k = s.connect(F)
    q1(k, "SELECT 1")
    killed = kill_backends()
    ok(killed, "round %d: killed %d backend connections as root" % (round_, len(killed)))
    try:
        outcome = "worked" if q1(k, "SELECT 5") == 5 else "wrong answer"
    except pymysql.err.MySQLError as e:
        outcome = "error %r" % (e.args,)
    diag("round %d: next query on the old client: %s" % (round_, outcome))
    ok(outcome == "worked" or outcome.startswith("error"),
       "round %d: the old client gets an answer or an error, not a hang" % round_)
    t0 = time.monotonic()
    ok(lib.wait_until(fresh_query_works, 10), "round %d: new clients served within 10 s" % round_)
    diag("round %d: served again after %.1f s" % (round_, time.monotonic() - t0))
    try:
        k.close()
    except pymysql.err.Error:
        pass

# a query in flight when its backend connection is killed
kq = s.connect(F, read_timeout=30)
res = {}


def long_query():
    t = time.monotonic()
    try:
        res["out"] = q1(kq, "SELECT SLEEP(20)")
    except pymysql.err.MySQLError as e:
        res["out"] = e.args
    res["secs"] = time.monotonic() - t


th = threading.Thread(target=long_query)
th.start()
ok(lib.wait_until(lambda: any(r[4] and "SLEEP(20)" in r[4]
                              for r in lib.backend_threads([F.name])), 10),
   "in-flight query visible on the backend")
kill_backends()
th.join(25)
diag("in-flight query after KILL: %r after %.1f s" % (res.get("out"), res.get("secs", -1)))
ok("secs" in res and res["secs"] < 15, "in-flight query ends promptly when its backend dies",
   repr(res))
ok(lib.wait_until(fresh_query_works, 10), "new clients served within 10 s after that")
lib.check("bystander: an answer or a clean error, then a fresh client works", lambda: (
    (lib.error_of(lambda: q1(bystander, "SELECT 6")) is not None or True) and fresh_query_works()))
lib.finish(s)
lib.done_testing()
