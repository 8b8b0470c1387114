#!/usr/bin/env python3
# pool.t: many client connections concentrated onto a small backend pool. 200 busy clients
# on a pool of 4 all succeed while MariaDB never sees more than 4 connections of theirs;
# 32 concurrent SLEEPs on 4 backends queue instead of failing; 4096 clients on a pool of
# 16 each get their answer.
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

SCHEMA = lib.create_schema("t_pool")
A = lib.Account("t_pool_a", "pw-pool-a", schemas=[SCHEMA])
B = lib.Account("t_pool_b", "pw-pool-b", schemas=[SCHEMA])
C = lib.Account("t_pool_c", "pw-pool-c", schemas=[SCHEMA])


class Sampler:
    """Polls MariaDB's PROCESSLIST (as root, directly) for the given users and keeps the
    largest number of their connections seen at once, and every thread id seen."""

    def __init__(self, users, interval=0.02):
        self.users = users
        self.interval = interval
        self.max = 0
        self.ids = set()
        self.samples = 0
        self._stop = threading.Event()
        self._conn = lib.root_connect()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        sql = ("SELECT ID FROM information_schema.PROCESSLIST WHERE USER IN (%s)"
               % ",".join(["%s"] * len(self.users)))
        while not self._stop.is_set():
            with self._conn.cursor() as cur:
                cur.execute(sql, self.users)
                ids = [r[0] for r in cur.fetchall()]
            self.samples += 1
            self.max = max(self.max, len(ids))
            self.ids.update(ids)
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(10)
        self._conn.close()
        return self


# ---- 200 clients x 50 queries on a pool of 4
# The pool's own bound: no reserve connections beyond it (--reserve-pool; isolation.t
# tests those), which a loaded machine can call for here (an account with nothing running
# while no connection came free for 50 ms).
s = lib.start_sluice([A, B, C], pool_size=4, extra_args=["--reserve-pool", "0"])
N_CLIENTS, N_QUERIES = 200, 50
errors = []
wrong = []
conn_ids = set()
lock = threading.Lock()
start = threading.Barrier(N_CLIENTS)


def client(k):
    acct = A if k % 2 == 0 else B
    try:
        conn = s.connect(acct)
    except Exception as e:  # noqa: BLE001
        with lock:
            errors.append("client %d connect: %r" % (k, e))
        start.abort()
        return
    try:
        start.wait(60)
    except threading.BrokenBarrierError:
        pass
    mine = set()
    try:
        with conn.cursor() as cur:
            for i in range(N_QUERIES):
                if i % 10 == 0:
                    cur.execute("SELECT SLEEP(0.002), CURRENT_USER(), @@pseudo_thread_id")
                    row = cur.fetchone()
                    if row[1] != acct.name + "@%":
                        with lock:
                            wrong.append("client %d ran as %s" % (k, row[1]))
                else:
                    cur.execute("SELECT %s, @@pseudo_thread_id", (k * 1000 + i,))
                    row = cur.fetchone()
                    if row[0] != k * 1000 + i:
                        with lock:
                            wrong.append("client %d query %d got %r" % (k, i, row))
                mine.add(row[-1])
    except Exception as e:  # noqa: BLE001
        with lock:
            errors.append("client %d: %r" % (k, e))
    finally:
        conn.close()
    with lock:
        conn_ids.update(mine)


sampler = Sampler([A.name, B.name])
t0 = time.monotonic()
threads = [threading.Thread(target=client, args=(k,)) for k in range(N_CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join(240)
elapsed = time.monotonic() - t0
sampler.stop()
diag("%d clients x %d queries in %.1f s; backend connections seen at once: max %d (%d samples);"
     " distinct backend thread ids: %d" % (N_CLIENTS, N_QUERIES, elapsed, sampler.max,
                                          sampler.samples, len(sampler.ids)))
ok(not errors, "%d clients x %d queries: no errors" % (N_CLIENTS, N_QUERIES),
   lambda: "%d errors, first: %s" % (len(errors), "\n".join(errors[:5])))
ok(not wrong, "every answer belongs to its query and account", lambda: "\n".join(wrong[:5]))
ok(sampler.max >= 1, "the sampler saw the backend connections")
if lib.sluice_only("at most 4 backend connections in PROCESSLIST"):
    ok(sampler.max <= 4, "at most 4 backend connections in PROCESSLIST",
       "max %d" % sampler.max)
if lib.sluice_only("clients ran on at most 4 backend connections"):
    ok(len(conn_ids) <= 4, "clients ran on at most 4 backend connections",
       "backend thread ids (@@pseudo_thread_id): %s" % sorted(conn_ids)[:20])

# ---- saturation: 32 concurrent SLEEP(0.25) on 4 backends queue, they do not fail
N_SLEEPERS, SLEEP = 32, 0.25
results = []


def sleeper(k):
    conn = s.connect(C)
    try:
        with conn.cursor() as cur:
            t = time.monotonic()
            cur.execute("SELECT SLEEP(%s)", (SLEEP,))
            cur.fetchall()
            return time.monotonic() - t
    finally:
        conn.close()


t0 = time.monotonic()
with ThreadPoolExecutor(N_SLEEPERS) as ex:
    futs = [ex.submit(sleeper, k) for k in range(N_SLEEPERS)]
    fails = []
    for f in futs:
        try:
            results.append(f.result(120))
        except Exception as e:  # noqa: BLE001
            fails.append(repr(e))
elapsed = time.monotonic() - t0
diag("%d x SLEEP(%.2f): %.2f s wall, longest wait %.2f s" % (N_SLEEPERS, SLEEP, elapsed,
                                                            max(results or [0])))
ok(not fails, "%d concurrent SLEEPs on a pool of 4 all succeed" % N_SLEEPERS,
   lambda: "\n".join(fails[:5]))
if lib.sluice_only("they ran at most 4 at a time"):
    ok(elapsed >= N_SLEEPERS * SLEEP / 4 * 0.95, "they ran at most 4 at a time",
       "%.2f s < %.2f s" % (elapsed, N_SLEEPERS * SLEEP / 4))
lib.finish(s)

# ---- 4096 clients on a pool of 16
N_MANY = 4096
if lib.DIRECT:
    # MariaDB itself has max_connections=3000 in the sandbox.
    N_MANY = min(N_MANY, int(lib.root_sql("SELECT @@max_connections")[0][0]) - 300)
need = N_MANY + 200
if lib.nofile_limit() < need:
    lib.skip("%d clients on a pool of 16" % N_MANY,
             "open files limit %d < %d" % (lib.nofile_limit(), need))
    lib.done_testing()

s16 = lib.start_sluice([C], pool_size=16)
conns = []
errs = []


def open_one(k):
    conn = s16.connect(C, connect_timeout=30, read_timeout=60)
    with conn.cursor() as cur:
        cur.execute("SELECT %s", (k,))
        if cur.fetchone()[0] != k:
            raise RuntimeError("client %d: wrong answer" % k)
    return conn


sampler = Sampler([C.name], interval=0.1)
t0 = time.monotonic()
with ThreadPoolExecutor(32) as ex:
    for batch in range(0, N_MANY, 256):
        for f in [ex.submit(open_one, k) for k in range(batch, min(batch + 256, N_MANY))]:
            try:
                conns.append(f.result(120))
            except Exception as e:  # noqa: BLE001
                errs.append(repr(e))
opened = time.monotonic() - t0
diag("%d connections opened in %.1f s (%d failed)" % (len(conns), opened, len(errs)))
ok(not errs and len(conns) == N_MANY, "%d clients connect and run SELECT" % N_MANY,
   lambda: "%d failed, first: %s" % (len(errs), errs[:3]))


def again(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        return cur.fetchone()[0] == 1


with ThreadPoolExecutor(32) as ex:
    res = []
    for f in [ex.submit(again, conn) for conn in conns]:
        try:
            res.append(f.result(120))
        except Exception as e:  # noqa: BLE001
            res.append(repr(e))
bad = [r for r in res if r is not True]
ok(not bad, "all %d open clients answer a second query" % len(conns),
   lambda: "%d failed, first: %s" % (len(bad), bad[:3]))
sampler.stop()
diag("backend connections seen at once: max %d" % sampler.max)
if lib.sluice_only("at most 16 backend connections for 4096 clients"):
    ok(sampler.max <= 16, "at most 16 backend connections for 4096 clients",
       "max %d" % sampler.max)
for conn in conns:
    conn.close()
lib.finish(s16)
lib.done_testing()
