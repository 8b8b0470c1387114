#!/usr/bin/env python3
# Hardening (issue 6), clients misbehaving under load:
#  - clients vanishing (shutdown(SHUT_RDWR)) mid-query and mid-result, at random, while
#    others run queries: afterwards sluice serves, MariaDB sees at most pool-size
#    connections, none is stuck (pool-size parallel SLEEP(1) take ~1 s);
#  - a connection storm (up to 10,000 connections opened and closed by 4 threads, at
#    most 45 s): the open descriptors of sluice return to the baseline, its RSS stays
#    within 20 MB of the baseline taken after a warm-up, and clients already connected
#    keep being served.
import http.client
import json
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("measures the sluice process; cannot run against SLUICE_TEST_ADDR")

import pymysql  # noqa: E402
from pymysql.constants import COMMAND  # noqa: E402

SCHEMA = lib.create_schema("t_hard_storm")
S = lib.Account("t_hard_storm", "pw-hs", schemas=[SCHEMA])
POOL = 4
# The pool's own bound is what is counted below: without the reserve (issue 11), which
# under ASan, with three vanished clients' statements still draining, once opened a 5th.
s = lib.start_sluice([S], pool_size=POOL, extra_args=["--reserve-pool", "0"])
PID = s.proc.pid


def admin_json(method, path):
    c = http.client.HTTPConnection("127.0.0.1", s.admin_port, timeout=10)
    try:
        c.request(method, path, headers={"Authorization": "Bearer " + s.admin_token})
        resp = c.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        c.close()


def clients_now():
    return admin_json("GET", "/v1/stats")[1]["clients"]


def nfds():
    return len(os.listdir("/proc/%d/fd" % PID))


def rss_kb():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def q1(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def fresh_query_works():
    conn = s.connect(S, connect_timeout=5, read_timeout=5)
    try:
        return q1(conn, "SELECT 1") == 1
    finally:
        conn.close()


class Bystanders:
    """n clients connected throughout, each running a small query every 20 ms."""

    def __init__(self, n, sql="SELECT 1"):
        self.stop = threading.Event()
        self.done = [0] * n
        self.errors = []
        self.worst = 0.0
        self.conns = [s.connect(S, read_timeout=30) for _ in range(n)]
        self.threads = [threading.Thread(target=self.run, args=(k, sql), daemon=True)
                        for k in range(n)]
        for t in self.threads:
            t.start()

    def run(self, k, sql):
        conn = self.conns[k]
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                q1(conn, sql)
                self.done[k] += 1
            except Exception as e:  # noqa: BLE001
                self.errors.append("bystander %d: %r" % (k, e))
                return
            self.worst = max(self.worst, time.monotonic() - t0)
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        for c in self.conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        return [t for t in self.threads if t.is_alive()]


# ================================================================ vanishing clients
def vanish_once(rng):
    conn = s.connect(S, read_timeout=30)
    kind = rng.choice(["mid-query", "mid-result", "mid-result"])
    if kind == "mid-query":
        conn._execute_command(COMMAND.COM_QUERY, "SELECT SLEEP(%.2f)" % rng.uniform(0.2, 1.0))
        time.sleep(rng.uniform(0, 0.3))
    else:
        rows = rng.choice([20, 100, 300])
        conn._execute_command(COMMAND.COM_QUERY,
                              "SELECT REPEAT('x', 100000) FROM seq_1_to_%d" % rows)
        want = rng.randint(1, rows * 100000 // 2)
        got = 0
        conn._sock.settimeout(10)
        while got < want:
            chunk = conn._sock.recv(min(65536, want - got))
            if not chunk:
                break
            got += len(chunk)
    # pymysql keeps the socket referenced from its reader: close() alone would not end
    # the TCP connection, shutdown() does.
    conn._sock.shutdown(socket.SHUT_RDWR)
    conn._sock.close()
    return kind


vanished = {"mid-query": 0, "mid-result": 0}
vanish_errors = []
vlock = threading.Lock()


def vanisher(seed, until):
    rng = random.Random(seed)
    while time.monotonic() < until:
        try:
            kind = vanish_once(rng)
            with vlock:
                vanished[kind] += 1
        except Exception as e:  # noqa: BLE001
            with vlock:
                vanish_errors.append(repr(e))


by = Bystanders(3, "SELECT SLEEP(0.01)")
until = time.monotonic() + 12
vs = [threading.Thread(target=vanisher, args=(k, until), daemon=True) for k in range(4)]
for t in vs:
    t.start()
for t in vs:
    t.join(60)
diag("vanished: %r; errors on the vanishing side: %d %s"
     % (vanished, len(vanish_errors), vanish_errors[:3]))
ok(vanished["mid-query"] >= 10 and vanished["mid-result"] >= 10,
   "clients vanished mid-query and mid-result (%d, %d)"
   % (vanished["mid-query"], vanished["mid-result"]))
ok(not vanish_errors, "vanishing clients were served until they left", repr(vanish_errors[:5]))
stuck = by.finish()
ok(not by.errors and not stuck, "bystanders saw no errors meanwhile (%d queries)"
   % sum(by.done), "\n".join(by.errors[:5]))
ok(s.alive(), "sluice alive after the vanishings")
ok(lib.wait_until(fresh_query_works, 10), "a new client is served")
nb = len(lib.backend_threads([S.name]))
ok(nb <= POOL, "MariaDB's processlist: %d <= %d connections of the account" % (nb, POOL),
   repr(lib.backend_threads([S.name])))
ok(lib.wait_until(lambda: all(r[2] != "Query" for r in lib.backend_threads([S.name])), 15),
   "no backend connection still runs a vanished client's query",
   lambda: repr(lib.backend_threads([S.name])))
par = []


def sleeper():
    conn = s.connect(S)
    try:
        par.append(q1(conn, "SELECT SLEEP(1)") == 0)
    finally:
        conn.close()


t0 = time.monotonic()
ts = [threading.Thread(target=sleeper) for _ in range(POOL)]
for t in ts:
    t.start()
for t in ts:
    t.join(20)
elapsed = time.monotonic() - t0
ok(par.count(True) == POOL and elapsed < 1.9,
   "no backend connection stuck: %d parallel SLEEP(1) in %.2f s" % (POOL, elapsed),
   repr(par))
ok(lib.wait_until(lambda: clients_now() == 0, 10), "sluice counts 0 clients afterwards",
   lambda: "clients=%r" % clients_now())


# ================================================================ connection storm
def greeting_then_close():
    sock = socket.create_connection((s.host, s.port), timeout=10)
    try:
        sock.recv(4096)
    finally:
        sock.close()


def close_at_once():
    socket.create_connection((s.host, s.port), timeout=10).close()


def login_quit():
    s.connect(S, connect_timeout=10).close()


def login_query_quit():
    conn = s.connect(S, connect_timeout=10)
    try:
        q1(conn, "SELECT 1")
    finally:
        conn.close()


KINDS = [login_quit, login_quit, login_query_quit, greeting_then_close, close_at_once]
storm_count = [0]
storm_errors = []
slock = threading.Lock()


def storm(seed, limit, until):
    rng = random.Random(seed)
    while time.monotonic() < until:
        with slock:
            if storm_count[0] >= limit:
                return
            storm_count[0] += 1
        try:
            rng.choice(KINDS)()
        except Exception as e:  # noqa: BLE001
            with slock:
                storm_errors.append(repr(e))


def run_storm(limit, secs, nthreads=4):
    storm_count[0] = 0
    until = time.monotonic() + secs
    ts = [threading.Thread(target=storm, args=(k, limit, until), daemon=True)
          for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(secs + 30)
    return storm_count[0]


by = Bystanders(2)
run_storm(500, 20)  # warm-up: the allocator's arenas, libevent's tables
ok(lib.wait_until(lambda: clients_now() == 2, 10), "warm-up over: 2 clients left")
fd0, rss0 = nfds(), rss_kb()
diag("baseline after warm-up: %d fds, VmRSS %d kB" % (fd0, rss0))
t0 = time.monotonic()
n = run_storm(10000, 45)
secs = time.monotonic() - t0
fd_peak_rss = rss_kb()
diag("storm: %d connections in %.1f s (%.0f/s), %d errors %s"
     % (n, secs, n / secs, len(storm_errors), storm_errors[:3]))
ok(n >= 5000, "storm: at least 5000 connections opened and closed (%d)" % n)
ok(not storm_errors, "storm: every connection was served", repr(storm_errors[:5]))
stuck = by.finish()
ok(not by.errors and not stuck and min(by.done) > 50,
   "existing clients kept working during the storm (%r queries, worst %.2f s)"
   % (by.done, by.worst), "\n".join(by.errors[:5]))
ok(by.worst < 2, "... and no query of theirs waited 2 s", "worst %.2f s" % by.worst)
ok(lib.wait_until(lambda: clients_now() == 0, 15), "sluice counts 0 clients after the storm",
   lambda: "clients=%r" % clients_now())
ok(lib.wait_until(lambda: nfds() <= fd0 - 2, 15),
   "open descriptors back to the baseline (%d before, without the 2 bystanders %d)"
   % (fd0, fd0 - 2), lambda: "now %d: %s" % (nfds(), sorted(
       os.readlink("/proc/%d/fd/%s" % (PID, f)) for f in os.listdir("/proc/%d/fd" % PID))))
fd1, rss1 = nfds(), rss_kb()
diag("after the storm: %d fds (baseline %d, 2 bystanders gone), VmRSS %d kB "
     "(baseline %d kB, %+d kB; %d kB right after the storm)"
     % (fd1, fd0, rss1, rss0, rss1 - rss0, fd_peak_rss))
# Under AddressSanitizer freed memory sits in its quarantine (256 MB by default) before
# reuse, so RSS grows without a leak; there the leak check at exit (lib.finish: exit 0)
# is the judge, and RSS only has to stay under the quarantine's size.
with open("/proc/%d/maps" % PID) as f:
    asan = "libasan" in f.read()
bound = 20 * 1024 + (256 * 1024 if asan else 0)
ok(rss1 - rss0 < bound, "RSS within %d MB of the baseline (%+d kB)%s"
   % (bound // 1024, rss1 - rss0, " (ASan build: 20 MB + quarantine)" if asan else ""))
ok(lib.wait_until(fresh_query_works, 5), "a new client is served after the storm")
lib.finish(s)
lib.done_testing()
