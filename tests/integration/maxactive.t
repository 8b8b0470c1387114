#!/usr/bin/env python3
# maxactive.t: --max-active N caps the queued statements running on the backend at once,
# and the pool's connections above N serve, at once, accounts that have nothing queued.
# Pool 8, --max-active 2, anticipation off (so every fast path here is a spare one):
#  - a busy account with 6 clients of SELECT SLEEP(1.5): 2 run (in /v1/stats and in
#    MariaDB's processlist), 4 wait in sluice, in fair order, not in MariaDB; what follows
#    runs in the second wave, once the scheduler has seen what such a statement costs;
#  - a light account's statements run at once on spare connections, each well under the
#    1.5 s a queued one would wait (spare_runs_total counts them);
#  - an account with a max_qps never takes a spare connection (it would skip its token
#    bucket): its statement waits for one of the 2 slots;
#  - an account under its reservation runs past the cap;
#  - without the flag max_active is the pool size; a bad value is refused at start;
#  - max_active is the backend row's rule: PATCH /v1/backends/default changes it live
#    (lowering holds statements back, 0 lets the waiting ones out at once), a bad value
#    is a 400 that changes nothing, and a restart keeps it unless --max-active is given.
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import qoslib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("maxactive.t starts sluice with its own flags")

POOL, CAP, SLEEP = 8, 2, 1.5
SCHEMA = lib.create_schema("t_maxact")


def acct(name):
    return lib.Account("t_ma_" + name, "pw-ma-" + name, schemas=[SCHEMA])


BUSY, LIGHT, RATED, RESERVED = acct("busy"), acct("light"), acct("rated"), acct("reserved")


def backend(s):
    status, body = qoslib.api(s, "GET", "/v1/stats")
    if status != 200:
        raise RuntimeError("GET /v1/stats: %s %s" % (status, body))
    return body["backends"][0]


def sleeping_in_mariadb():
    rows = lib.root_sql("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                        "WHERE USER = %s AND INFO LIKE 'SELECT SLEEP%%'", (BUSY.name,))
    return int(rows[0][0])


class Timed(threading.Thread):
    """One statement of `account` on a new connection, timed from before it is sent."""

    def __init__(self, s, account, sql):
        super().__init__()
        self.conn = s.connect(account)
        self.sql = sql
        self.secs = None
        self.error = None
        self.start()

    def run(self):
        t = time.monotonic()
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.sql)
                cur.fetchall()
            self.secs = time.monotonic() - t
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)
        self.conn.close()


# ---- without the flag: the cap is the pool
s = lib.start_sluice([BUSY], pool_size=POOL)
is_(backend(s)["max_active"], POOL, "without --max-active, max_active is the pool size")
lib.finish(s)

r = subprocess.run([lib.SLUICE_BIN, "--max-active", "lots", "--admin", "off"],
                   capture_output=True, text=True, timeout=30)
ok(r.returncode != 0 and "--max-active" in r.stderr,
   "--max-active lots is refused with a message naming the flag", lambda: r.stderr)

# ---- --max-active 2
s = lib.start_sluice([BUSY, LIGHT, RATED, RESERVED], pool_size=POOL, start=False,
                     extra_args=["--max-active", str(CAP), "--anticipate-ms", "0"])
for a, rules in ((RATED, ["--max-qps", "1000"]),
                 (RESERVED, ["--reservation", "1", "--max-qps", "1000"])):
    r = s.run_cli(["account", "set", a.name] + rules)
    if r.returncode != 0:
        lib.bail_out("account set %s: %s%s" % (a.name, r.stdout, r.stderr))
s.start()
is_(backend(s)["max_active"], CAP, "/v1/stats shows max_active %d" % CAP)
status, metrics = qoslib.api(s, "GET", "/metrics")
ok(status == 200 and 'sluice_backend_max_active{backend="default"} %d' % CAP in metrics,
   "/metrics shows sluice_backend_max_active")

busy = [Timed(s, BUSY, "SELECT SLEEP(%s)" % SLEEP) for _ in range(6)]
ok(lib.wait_until(lambda: qoslib.stats(s)[BUSY.name]["queued"] == 4, 10, interval=0.02),
   "6 busy statements: 4 wait in sluice")
# The second wave: by now the scheduler knows what the busy account's statements cost.
ok(lib.wait_until(lambda: qoslib.stats(s)[BUSY.name]["queued"] == 2, 10, interval=0.02),
   "after the first %.1f s, the next 2 run and 2 wait" % SLEEP)
st = qoslib.stats(s)[BUSY.name]
is_(st["active"], CAP, "... and %d run" % CAP)
seen = []
for _ in range(5):
    seen.append(sleeping_in_mariadb())
    time.sleep(0.05)
ok(max(seen) == CAP, "MariaDB runs %d of them at a time (processlist: %s)" % (CAP, seen))

# A light account: every statement at once, on a spare connection.
spare0 = backend(s)["spare_runs_total"]
c = s.connect(LIGHT)
lat = []
with c.cursor() as cur:
    for i in range(20):
        t = time.monotonic()
        cur.execute("SELECT %d" % i)
        got = cur.fetchall()[0][0]
        lat.append(time.monotonic() - t)
        if got != i:
            break
c.close()
spares = backend(s)["spare_runs_total"] - spare0
diag("light account next to the capped busy one: slowest of 20 statements %.1f ms, %d spare"
     " runs" % (1000 * max(lat), spares))
ok(len(lat) == 20 and max(lat) < 0.3,
   "a light account's 20 statements each answer in under 0.3 s (slowest %.3f s) while the"
   " busy one waits for %.1f s ones" % (max(lat), SLEEP))
ok(spares >= 20, "... each on a spare connection (spare_runs_total +%d)" % spares)

# max_qps: no spare connection; under its reservation: past the cap.
rated = Timed(s, RATED, "SELECT 1")
ok(lib.wait_until(lambda: qoslib.stats(s)[RATED.name]["queued"] == 1, 5, interval=0.01),
   "an account with a max_qps queues for one of the %d slots" % CAP)
reserved = Timed(s, RESERVED, "SELECT 2")
reserved.join(10)
ok(reserved.secs is not None and reserved.secs < 0.3,
   "an account under its reservation runs past the cap (%s s)" % reserved.secs,
   lambda: reserved.error)
rated.join(10)
ok(rated.secs is not None and rated.secs > 0.2,
   "... while the max_qps one waited for a slot (%s s)" % rated.secs, lambda: rated.error)
for t in busy:
    t.join(30)
ok(all(t.secs is not None for t in busy), "the 6 busy statements all finished",
   lambda: "; ".join(str(t.error) for t in busy))
waves = sorted(round(t.secs / SLEEP) for t in busy)
diag("busy statements took %s s" % ", ".join("%.2f" % t.secs for t in busy if t.secs))
ok(waves[-1] >= 3, "... in 3 waves of %d (%s)" % (CAP, waves))


# ---- live: max_active is the backend row's rule, changed by PATCH, kept across a restart
def patch_backend(body):
    return qoslib.api(s, "PATCH", "/v1/backends/default", body)


status, body = patch_backend({"max_active": 3})
ok(status == 200 and body.get("max_active") == 3, "PATCH /v1/backends/default max_active 3"
   " -> 200", lambda: "%s %s" % (status, body))
is_(backend(s)["max_active"], 3, "/v1/stats shows max_active 3 at once")
busy = [Timed(s, BUSY, "SELECT SLEEP(%s)" % SLEEP) for _ in range(5)]
ok(lib.wait_until(lambda: qoslib.stats(s)[BUSY.name]["queued"] == 2, 5, interval=0.02),
   "5 busy statements under max_active 3: 2 wait in sluice")
seen = []
for _ in range(5):
    seen.append(sleeping_in_mariadb())
    time.sleep(0.05)
ok(max(seen) == 3, "MariaDB runs 3 of them at a time (processlist: %s)" % seen)
t0 = time.monotonic()
status, body = patch_backend({"max_active": 0})
ok(status == 200 and body.get("max_active") == 0, "PATCH max_active 0 (off) -> 200")
ok(lib.wait_until(lambda: sleeping_in_mariadb() == 5, 1, interval=0.01),
   "the 2 waiting statements start at once: MariaDB runs all 5 after %.0f ms"
   % (1000 * (time.monotonic() - t0)))
is_(backend(s)["max_active"], POOL, "/v1/stats shows max_active = the pool size again")
for t in busy:
    t.join(30)
ok(all(t.secs is not None and t.secs < 2 * SLEEP for t in busy),
   "the 5 finished in one wave (%s s)" % ", ".join("%.2f" % (t.secs or -1) for t in busy))
for bad in (-1, 10001, "2", None):
    status, body = patch_backend({"max_active": bad})
    ok(status == 400 and "max_active" in str(body) and backend(s)["max_active"] == POOL,
       "PATCH max_active %r -> 400 naming the field, nothing changes" % (bad,),
       lambda: "%s %s" % (status, body))

status, body = patch_backend({"max_active": 3})
s.stop()
s.extra_args = ["--anticipate-ms", "0"]
s.start()
is_(backend(s)["max_active"], 3, "restarted without --max-active: the stored 3 runs")
s.stop()
s.extra_args = ["--anticipate-ms", "0", "--max-active", "0"]
s.start()
is_(backend(s)["max_active"], POOL, "restarted with --max-active 0: the flag is written to the"
    " row, as --pool-size is")
status, body = qoslib.api(s, "GET", "/v1/backends/default")
ok(status == 200 and body.get("max_active") == 0, "GET /v1/backends/default: max_active 0",
   lambda: "%s %s" % (status, body))
lib.finish(s)
lib.done_testing()
