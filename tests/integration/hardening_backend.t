#!/usr/bin/env python3
# Hardening (issue 6), the backend misbehaving under load, against a private MariaDB this
# file starts (and kills) itself so that other test files keep their sandbox:
#  - kill -9 of MariaDB: sluice stays up, clients get MySQL errors within seconds, the
#    pool retries with backoff (connect_failures_total grows slowly), and new sessions
#    work within 10 s of MariaDB being back;
#  - SIGSTOP of MariaDB for 8 s with the pool busy: queued requests get ERR 1226 when the
#    account's queue_timeout_ms (2000) runs out, no client waits forever, and everything
#    works again after SIGCONT.
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("kills its own MariaDB; cannot run against SLUICE_TEST_ADDR")

import pymysql  # noqa: E402

SANDBOX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                       "mariadb-sandbox.sh")
if not os.path.exists(SANDBOX):
    SANDBOX = os.path.join(os.environ.get("srcdir", "."), "scripts", "mariadb-sandbox.sh")


# ---------------------------------------------------------------- a private MariaDB

class PrivateMariaDB:
    """A MariaDB of this test's own (scripts/mariadb-sandbox.sh in a temporary
    directory), which may be killed, stopped and restarted at will."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-hardening-mdb-")
        self.port = lib.free_port()
        self.start()

    def start(self):
        r = subprocess.run(["bash", SANDBOX, "start", self.dir, str(self.port)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            lib.bail_out("private MariaDB did not start: %s" % r.stderr[-2000:])
        with open(os.path.join(self.dir, "mysqld.pid")) as f:
            self.pid = int(f.read().strip())

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def kill9(self):
        os.kill(self.pid, signal.SIGKILL)
        lib.wait_until(lambda: not self.alive() or _reap(self.pid), 10)

    def signal(self, sig):
        os.kill(self.pid, sig)

    def cleanup(self):
        try:
            if self.alive():
                os.kill(self.pid, signal.SIGCONT)
            subprocess.run(["bash", SANDBOX, "stop", self.dir], capture_output=True,
                           timeout=90)
        finally:
            if not os.environ.get("SLUICE_TEST_KEEP"):
                shutil.rmtree(self.dir, ignore_errors=True)


def _reap(pid):
    # mariadbd is not our child (the sandbox script spawned it), but be safe.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


mdb = PrivateMariaDB()
import atexit  # noqa: E402
atexit.register(mdb.cleanup)
diag("private MariaDB pid %d on 127.0.0.1:%d in %s" % (mdb.pid, mdb.port, mdb.dir))
# Everything lib does as root, and the --backend of the sluice, now go to the private one.
lib.MARIADB_PORT = mdb.port
lib.MARIADB_HOST = "127.0.0.1"
lib.MARIADB_SOCKET = os.path.join(mdb.dir, "mysqld.sock")

SCHEMA = lib.create_schema("t_hard_backend")
B = lib.Account("t_hard_backend", "pw-hb", schemas=[SCHEMA])
POOL = 4
s = lib.Sluice([B], pool_size=POOL, start=False)
r = s.run_cli(["account", "set", B.name, "--queue-timeout-ms", "2000"])
is_(r.returncode, 0, "account set --queue-timeout-ms 2000")
s.start()


def admin_json(method, path):
    c = http.client.HTTPConnection("127.0.0.1", s.admin_port, timeout=10)
    try:
        c.request(method, path, headers={"Authorization": "Bearer " + s.admin_token})
        resp = c.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        c.close()


def backend_stats():
    st, body = admin_json("GET", "/v1/stats")
    assert st == 200, st
    return body["backends"][0]


def q1(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def fresh_query():
    """(value or None, (errno, msg) or None, seconds) of a new client's SELECT 1."""
    t0 = time.monotonic()
    try:
        conn = s.connect(B, connect_timeout=8, read_timeout=8, write_timeout=8)
        try:
            return q1(conn, "SELECT 1"), None, time.monotonic() - t0
        finally:
            conn.close()
    except pymysql.err.MySQLError as e:
        return None, (e.args[0] if e.args else None, str(e.args[1:] or e)), \
            time.monotonic() - t0


def fresh_query_works():
    return fresh_query()[0] == 1


class Load:
    """n client threads, each on its own connection, running sql in a loop; an error
    reconnects. Every operation is recorded as (start, seconds, errno or 0, message)."""

    def __init__(self, n, sql):
        self.sql = sql
        self.stop = threading.Event()
        self.ops = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def run(self):
        conn = None
        while not self.stop.is_set():
            t0 = time.monotonic()
            err, msg = 0, ""
            try:
                if conn is None:
                    conn = s.connect(B, connect_timeout=10, read_timeout=12, write_timeout=12)
                q1(conn, self.sql)
            except pymysql.err.MySQLError as e:
                err = e.args[0] if e.args and isinstance(e.args[0], int) else -1
                msg = str(e.args[1]) if len(e.args) > 1 else str(e)
                try:
                    if conn is not None:
                        conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
            with self.lock:
                self.ops.append((t0, time.monotonic() - t0, err, msg))
            if err:
                time.sleep(0.05)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def finish(self, timeout):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        return [t for t in self.threads if t.is_alive()]

    def between(self, a, b):
        with self.lock:
            return [o for o in self.ops if a <= o[0] < b]


# ================================================================ kill -9 and restart
load = Load(6, "SELECT SLEEP(0.02)")
ok(lib.wait_until(lambda: len(load.ops) > 50, 15), "load runs before the kill")
before = backend_stats()
is_(before["connected"], POOL, "the pool is full under load")

t_kill = time.monotonic()
mdb.kill9()
ok(not mdb.alive(), "MariaDB killed with SIGKILL")
fail0 = backend_stats()["connect_failures_total"]

# While it is down, new clients get an error, quickly.
downs = []
for i in range(5):
    downs.append(fresh_query())
    time.sleep(0.3)
for v, e, secs in downs:
    diag("while down: new client: %r %r after %.2f s" % (v, e, secs))
ok(all(v is None and e is not None for v, e, _ in downs),
   "while down: every new client's query gets a MySQL error", repr(downs))
ok(all(secs < 5 for _, _, secs in downs), "while down: each error comes within 5 s",
   repr([round(x[2], 2) for x in downs]))
ok(all(e and isinstance(e[0], int) and e[0] > 0 for _, e, _ in downs),
   "while down: errors carry a MySQL error number", repr(downs))

# Count the connect attempts sluice makes in a 3 s window while it is down (the load's
# six clients keep asking).
t_a = time.monotonic()
fa = backend_stats()["connect_failures_total"]
time.sleep(3)
t_b = time.monotonic()
fb_stats = backend_stats()
fb = fb_stats["connect_failures_total"]
rate = (fb - fa) / (t_b - t_a)
diag("connect failures while down: %d in %.1f s (%.1f/s); last_error %r"
     % (fb - fa, t_b - t_a, rate, fb_stats.get("last_error")))
ok(fb > fail0 or fb > before["connect_failures_total"], "sluice counted connect failures")
ok(rate < 50, "no reconnect storm: < 50 connect attempts per second while down",
   "%.1f/s" % rate)
ok(fb_stats.get("last_error"), "/v1/stats shows the backend's last error",
   repr(fb_stats))
ok(s.alive(), "sluice still running while MariaDB is down")

mdb.start()
t_up = time.monotonic()
diag("MariaDB restarted (pid %d)" % mdb.pid)
ok(lib.wait_until(fresh_query_works, 10, interval=0.2), "new sessions work within 10 s")
diag("first new session %.1f s after MariaDB was back" % (time.monotonic() - t_up))
ok(lib.wait_until(lambda: any(o[2] == 0 for o in load.between(t_up, 1e18)), 10),
   "the load's clients succeed again")
t_mark = time.monotonic()
lib.wait_until(lambda: len(load.between(t_mark, 1e18)) > 60, 10)
late = load.between(t_mark, 1e18)
ok(late and all(o[2] == 0 for o in late), "after recovery: no more errors (%d ops)" % len(late),
   repr([o for o in late if o[2]][:5]))
stuck = load.finish(15)
ok(not stuck, "every load thread finished")
# Judged once every operation begun while it was down has ended.
down_ops = load.between(t_kill + 0.5, t_b)
slow = [o for o in down_ops if o[1] > 5]
ok(down_ops and all(o[2] for o in down_ops),
   "load while down: every operation fails (%d)" % len(down_ops),
   repr(down_ops[:5]))
ok(not slow, "load while down: no operation takes more than 5 s", repr(slow[:5]))
codes = sorted({o[2] for o in down_ops})
diag("load errors while down: %r, e.g. %r" % (codes, down_ops[0][3] if down_ops else None))

ok(s.alive(), "sluice survived the kill and restart")
lib.wait_until(lambda: backend_stats()["connected"] <= POOL, 5)
ok(len(lib.backend_threads([B.name])) <= POOL, "at most pool-size backend connections",
   repr(lib.backend_threads([B.name])))

# ================================================================ SIGSTOP, pool busy
# 12 clients on a pool of 4: 4 run, 8 queue. With MariaDB stopped, the 4 running wait
# for it, the queued get ERR 1226 after 2000 ms (queue_timeout_ms), again and again.
load = Load(12, "SELECT SLEEP(0.2)")
ok(lib.wait_until(lambda: len(load.ops) > 30, 15), "12 clients busy on 4 backends")
t_stop = time.monotonic()
mdb.signal(signal.SIGSTOP)
diag("SIGSTOP to MariaDB")
stop_secs = 8
late_client = {}


def late_client_query():
    # A client that arrives while MariaDB is stopped: logs in, then queues and times out.
    late_client.update(zip(("value", "err", "secs"), fresh_query()))


lc = threading.Thread(target=late_client_query, daemon=True)
time.sleep(1)
lc.start()
time.sleep(stop_secs - 1)
ok(s.alive(), "sluice alive while MariaDB is stopped")
t_cont = time.monotonic()
mdb.signal(signal.SIGCONT)
diag("SIGCONT after %.1f s" % (t_cont - t_stop))

stopped_ops = load.between(t_stop + 0.3, t_cont)
e1226 = [o for o in stopped_ops if o[2] == 1226]
other_errs = [o for o in stopped_ops if o[2] not in (0, 1226)]
diag("while stopped: %d operations began, %d ERR 1226, other errors %r"
     % (len(stopped_ops), len(e1226), other_errs[:3]))
ok(len(e1226) >= 8, "while stopped: queued requests get ERR 1226 (%d)" % len(e1226))
ok(all(o[1] < 3.5 for o in e1226), "ERR 1226 comes within 3.5 s (queue_timeout_ms 2000)",
   repr(sorted(round(o[1], 2) for o in e1226)[-5:]))
ok(e1226 and all(1.8 <= o[1] for o in e1226), "... and not before the 2000 ms",
   repr(sorted(round(o[1], 2) for o in e1226)[:5]))
ok(e1226 and "queue_timeout_ms" in e1226[0][3], "the error message names queue_timeout_ms",
   repr(e1226[:1]))
ok(not other_errs, "no other errors while stopped", repr(other_errs[:5]))

lc.join(15)
diag("late client while stopped: %r" % (late_client,))
ok(late_client.get("err") and late_client["err"][0] == 1226 and late_client["secs"] < 5,
   "a client arriving while stopped gets ERR 1226 within 5 s", repr(late_client))

stuck = load.finish(20)
ok(not stuck, "all 12 client threads finished within 20 s after SIGCONT",
   "%d threads still running" % len(stuck))
long_ops = [o for o in load.ops if o[1] > stop_secs + 5]
ok(not long_ops, "no operation took longer than the stop + 5 s", repr(long_ops[:5]))
t0 = time.monotonic()
ok(lib.wait_until(fresh_query_works, 10), "after SIGCONT new clients are served")
diag("served %.1f s after SIGCONT" % (time.monotonic() - t_cont))

par = []


def sleeper():
    conn = s.connect(B)
    try:
        par.append(q1(conn, "SELECT SLEEP(1)") == 0)
    finally:
        conn.close()


t0 = time.monotonic()
ts = [threading.Thread(target=sleeper) for _ in range(POOL)]
for t in ts:
    t.start()
for t in ts:
    t.join(15)
elapsed = time.monotonic() - t0
ok(par.count(True) == POOL and elapsed < 1.9,
   "after SIGCONT all %d backend connections serve in parallel" % POOL,
   "%r in %.2f s" % (par, elapsed))
ok(len(lib.backend_threads([B.name])) <= POOL, "at most pool-size backend connections")
lib.finish(s)
lib.done_testing()
