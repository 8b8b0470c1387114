#!/usr/bin/env python3
# anticipate.t: a light account next to a backlogged one keeps its backend connection.
# When a statement of an account with nothing else queued ends while others wait, sluice
# holds that connection for the account for --anticipate-ms (default 5) instead of
# handing it to the next account in line, which costs two COM_CHANGE_USER switches (over
# and back). Checked through the counters of /v1/stats: with anticipation most of the
# light account's statements take the held connection and few switch; with
# --anticipate-ms 0 every one of them switches. Also: a held connection goes back to the
# busy account once the hold runs out, and an account with a max_qps is never held for
# (a held connection skips the queue, and with it the token bucket).
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import qoslib  # noqa: E402
from lib import diag, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("anticipate.t starts sluice with its own flags")

POOL = 4  # at most a quarter of the pool is held: one connection
SCHEMA = lib.create_schema("t_ant")
HEAVY = lib.Account("t_ant_heavy", "pw-ant-heavy", schemas=[SCHEMA])
LIGHT = lib.Account("t_ant_light", "pw-ant-light", schemas=[SCHEMA])
RATED = lib.Account("t_ant_rated", "pw-ant-rated", schemas=[SCHEMA])
STATEMENTS = 100


def backend(s):
    status, body = qoslib.api(s, "GET", "/v1/stats")
    if status != 200:
        raise RuntimeError("GET /v1/stats: %s %s" % (status, body))
    return body["backends"][0]


class Heavy:
    """12 connections of HEAVY running SELECT SLEEP(0.003) back to back: with 4
    connections in the pool, HEAVY always has statements queued."""

    def __init__(self, s):
        self.stop = threading.Event()
        self.errors = []
        self.done = 0
        self.threads = [threading.Thread(target=self.run, args=(s,)) for _ in range(12)]
        for t in self.threads:
            t.start()

    def run(self, s):
        try:
            c = s.connect(HEAVY)
            cur = c.cursor()
            while not self.stop.is_set():
                cur.execute("SELECT SLEEP(0.003)")
                cur.fetchall()
                self.done += 1
            c.close()
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def light_run(s, acct):
    """STATEMENTS point statements, 2 ms apart, on one connection of acct; returns the
    deltas of (account switches, held hits) and the latencies in ms."""
    c = s.connect(acct)
    cur = c.cursor()
    b0 = backend(s)
    lat = []
    for _ in range(STATEMENTS):
        t = time.perf_counter()
        cur.execute("SELECT 1")
        cur.fetchall()
        lat.append((time.perf_counter() - t) * 1000)
        time.sleep(0.002)
    b1 = backend(s)
    c.close()
    lat.sort()
    return (b1["account_switches_total"] - b0["account_switches_total"],
            b1["held_hits_total"] - b0["held_hits_total"], lat)


def scenario(anticipate_ms):
    s = lib.start_sluice([HEAVY, LIGHT, RATED], pool_size=POOL, start=False,
                         extra_args=["--anticipate-ms", str(anticipate_ms)])
    r = s.run_cli(["account", "set", RATED.name, "--max-qps", "10000"])
    if r.returncode != 0:
        lib.bail_out("account set --max-qps: %s%s" % (r.stdout, r.stderr))
    s.start()
    heavy = Heavy(s)
    ok(lib.wait_until(lambda: qoslib.stats(s)[HEAVY.name]["queued"] > 0, 20, interval=0.05),
       "--anticipate-ms %d: the heavy account is backlogged" % anticipate_ms)
    res = {acct.name: light_run(s, acct) for acct in (LIGHT, RATED)}
    # Once nobody claims it, a held connection goes back to the busy account.
    busy = []
    for _ in range(20):
        time.sleep(0.05)
        busy.append(backend(s)["busy"])
    heavy.close()
    ok(not heavy.errors, "--anticipate-ms %d: the heavy account saw no errors (%d statements)"
       % (anticipate_ms, heavy.done), "; ".join(heavy.errors[:3]))
    lib.finish(s)
    return res, busy


def p(lat, q):
    return lat[min(len(lat) - 1, int(q * len(lat)))]


on, busy_on = scenario(5)
off, _ = scenario(0)
sw_on, hits_on, lat_on = on[LIGHT.name]
sw_off, hits_off, lat_off = off[LIGHT.name]
diag("light account, %d statements next to a backlogged one: with --anticipate-ms 5: %d held"
     " hits, %d switches, p50 %.2f ms, p99 %.2f ms; with 0: %d held hits, %d switches,"
     " p50 %.2f ms, p99 %.2f ms" % (STATEMENTS, hits_on, sw_on, p(lat_on, 0.5), p(lat_on, 0.99),
                                   hits_off, sw_off, p(lat_off, 0.5), p(lat_off, 0.99)))
ok(hits_on >= STATEMENTS * 0.7,
   "with anticipation most light statements take the held connection (%d of %d)"
   % (hits_on, STATEMENTS))
ok(sw_off >= STATEMENTS,
   "without it, the light account's statements switch connections over (%d switches)"
   % sw_off)
ok(sw_on * 2 <= sw_off,
   "anticipation at least halves the switches (%d against %d)" % (sw_on, sw_off))
ok(hits_off == 0, "--anticipate-ms 0 holds nothing (%d held hits)" % hits_off)
ok(on[RATED.name][1] == 0,
   "an account with a max_qps is never held for (%d held hits)" % on[RATED.name][1])
ok(max(busy_on) == POOL,
   "after the light account stops, the heavy one runs on the whole pool again (busy: %s)"
   % busy_on)
lib.done_testing()
