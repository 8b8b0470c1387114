"""Load generators and measurements for the QoS tests (qos.t) and scripts/bench-qos.

- Load: sysbench running one SQL statement in a loop on N connections (a generated Lua
  script), timestamped per-second throughput, SIGSTOP/SIGCONT to pause it, a latency
  histogram at the end.
- Quiet: a few connections running point selects with a think time between them (a
  tenant that does not saturate anything), latencies measured client-side by
  tests/integration/quietload (C, libmariadb; what is measured is then the gateway and
  the backend, not a Python client's CPU time on a box whose CPUs are all busy).
- api()/stats(): the admin API of a lib.Sluice.
- shares(): each account's share of backend time over a window, from the deltas of
  backend_time_ms_total in /v1/stats.
"""

import atexit
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

TABLE_ROWS = 10000
POINT_SELECT = "SELECT c FROM sbtest1 WHERE id=%d"

# One statement in a loop; "%d" in QOS_SQL becomes a random id in 1..QOS_ROWS.
LUA = """\
local sql = os.getenv("QOS_SQL")
local rows = tonumber(os.getenv("QOS_ROWS") or "10000")
function thread_init()
  drv = sysbench.sql.driver()
  con = drv:connect()
end
function event()
  con:query(string.format(sql, math.random(1, rows)))
end
function thread_done()
  con:disconnect()
end
"""


def have_sysbench():
    return shutil.which("sysbench") is not None


def percentile(sorted_vals, q):
    """The q-quantile (0..1) of an ascending list (nearest rank); 0 when empty."""
    if not sorted_vals:
        return 0.0
    k = max(0, min(len(sorted_vals) - 1, int(round(q * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def prepare_table(root_connect, schema, rows=TABLE_ROWS):
    """sbtest1 (sysbench's layout) with `rows` rows in `schema`, created as root."""
    c = root_connect()
    try:
        with c.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS `%s`.sbtest1" % schema)
            cur.execute("CREATE TABLE `%s`.sbtest1 (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                        " k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '',"
                        " pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB"
                        % schema)
            rnd = random.Random(1)
            batch = []
            for i in range(1, rows + 1):
                batch.append((i, rnd.randint(1, rows), "%032x" % rnd.getrandbits(128),
                              "%020x" % rnd.getrandbits(80)))
                if len(batch) == 1000 or i == rows:
                    cur.executemany("INSERT INTO `%s`.sbtest1 (id, k, c, pad) VALUES"
                                    " (%%s, %%s, %%s, %%s)" % schema, batch)
                    batch = []
            cur.execute("ANALYZE TABLE `%s`.sbtest1" % schema)
            cur.fetchall()
    finally:
        c.close()


# ---------------------------------------------------------------- sysbench load

class Load:
    """sysbench running `sql` in a loop on `threads` connections of `account` for at most
    `seconds`. nice > 0 runs it under nice(1). Per-second throughput is read from
    --report-interval=1 lines as they arrive, stamped with time.monotonic()."""

    _lua = None

    def __init__(self, account, sql, threads, seconds, host, port, database, nice=0,
                 label=None):
        if Load._lua is None:
            fd, Load._lua = tempfile.mkstemp(prefix="qos-load-", suffix=".lua")
            with os.fdopen(fd, "w") as f:
                f.write(LUA)
        self.account = account
        self.label = label or account.name
        self.threads = threads
        self.series = []  # (monotonic time, queries per second in the second before)
        self.lines = []
        args = ["sysbench", Load._lua, "--db-driver=mysql", "--db-ps-mode=disable",
                "--mysql-host=%s" % host, "--mysql-port=%d" % port,
                "--mysql-user=%s" % account.name, "--mysql-password=%s" % account.password,
                "--mysql-db=%s" % database, "--threads=%d" % threads,
                "--time=%d" % seconds, "--report-interval=1", "--histogram=on", "run"]
        if nice:
            args = ["nice", "-n", str(nice)] + args
        env = dict(os.environ, QOS_SQL=sql, QOS_ROWS=str(TABLE_ROWS))
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _loads.append(self)

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"\]\s+thds:\s+\d+\s+tps:\s+([\d.]+)", line)
            if m:
                self.series.append((now, float(m.group(1))))

    def pause(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self, timeout=20):
        """SIGTERM now (after SIGCONT); returns the exit code (or None if it had to be
        killed)."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.terminate()
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        return self.proc.returncode

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.stop()
        self._reader.join(5)
        return self.proc.returncode

    def output(self, n=40):
        return "\n".join(self.lines[-n:])

    def summary(self):
        """queries, errors, and p50/p99 latency (ms) from sysbench's final histogram."""
        text = "\n".join(self.lines)
        res = {}
        m = re.search(r"^\s*queries:\s+(\d+)", text, re.M)
        res["queries"] = int(m.group(1)) if m else None
        m = re.search(r"^\s*ignored errors:\s+(\d+)", text, re.M)
        res["errors"] = int(m.group(1)) if m else None
        hist = []
        for m in re.finditer(r"^\s+([\d.]+)\s+\|[*\s]*?(\d+)\s*$", text, re.M):
            hist.append((float(m.group(1)), int(m.group(2))))
        total = sum(c for _, c in hist)
        for q, key in ((0.5, "p50_ms"), (0.99, "p99_ms")):
            res[key] = None
            seen = 0
            for v, c in hist:
                seen += c
                if total and seen >= q * total:
                    res[key] = v
                    break
        return res


_loads = []
atexit.register(lambda: stop_all_loads())


def stop_all_loads():
    for ld in list(_loads):
        try:
            ld.stop(5)
        except Exception:  # noqa: BLE001
            pass


# ---------------------------------------------------------------- the quiet tenant

QUIETLOAD = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                         "tests", "integration", "quietload")


class Quiet:
    """`threads` connections of `account` to host:port, each running point selects with
    `think` seconds between them (tests/integration/quietload). run(seconds) returns
    (sorted latencies in ms, queries per second)."""

    def __init__(self, account, host, port, database, threads=4, think=0.005,
                 label="quiet"):
        self.label = label
        self.series = []  # (monotonic second start, queries in that second)
        self.errors = []
        if not os.path.exists(QUIETLOAD):
            raise RuntimeError("%s is missing: build it with make check" % QUIETLOAD)
        self.proc = subprocess.Popen(
            [QUIETLOAD, host, str(port), account.name, account.password, database,
             str(threads), str(int(think * 1e6)), str(TABLE_ROWS)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().strip()
        if first != "ready":
            self.close()
            raise RuntimeError("quietload did not start: %r" % first)

    def run(self, seconds):
        lat = []
        stamps = []
        t0 = time.monotonic()
        self.proc.stdin.write("run %.3f\n" % seconds)
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            f = line.split(" ", 2)
            if f[0] == "lat":
                lat.append(int(f[1]) / 1000.0)
                stamps.append(int(f[2]) / 1000.0)
            elif f[0] == "error":
                self.errors.append(line.strip())
            elif f[0] == "done":
                failed = int(f[2]) if len(f) > 2 else 0
                if failed and not self.errors:
                    self.errors.append("quietload: %d statements failed" % failed)
                break
        else:
            self.errors.append("quietload exited (%s)" % self.proc.poll())
        buckets = {}
        for t in stamps:
            buckets[int(t)] = buckets.get(int(t), 0) + 1
        for k in sorted(buckets):
            if k < int(seconds):
                self.series.append((t0 + k + 1, buckets[k]))
        lat.sort()
        return lat, len(lat) / seconds

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)


# ---------------------------------------------------------------- admin API

def api(s, method, path, body=None, timeout=10):
    """(HTTP status, decoded JSON or text) of one admin API call on sluice `s`."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (s.admin_port, path), data=data,
                                 method=method)
    req.add_header("Authorization", "Bearer " + s.admin_token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def stats(s):
    """{account name: its /v1/stats entry}."""
    status, body = api(s, "GET", "/v1/stats")
    if status != 200:
        raise RuntimeError("GET /v1/stats: %s %s" % (status, body))
    return {a["name"]: a for a in body["accounts"]}


def shares(s, names, seconds, interval=0.5):
    """Backend-time shares of `names` over `seconds`, from the deltas of
    backend_time_ms_total. Returns (shares {name: 0..1}, ms {name: backend ms in the
    window}, min_queued {name: smallest queued seen}, last stats)."""
    first = stats(s)
    min_queued = {n: first[n]["queued"] for n in names}
    end = time.monotonic() + seconds
    last = first
    while time.monotonic() < end:
        time.sleep(min(interval, max(0.0, end - time.monotonic())))
        last = stats(s)
        for n in names:
            min_queued[n] = min(min_queued[n], last[n]["queued"])
    ms = {n: last[n]["backend_time_ms_total"] - first[n]["backend_time_ms_total"]
          for n in names}
    total = sum(ms.values())
    return ({n: (ms[n] / total if total else 0.0) for n in names}, ms, min_queued, last)


def idle(s, names, timeout=30):
    """Wait until none of `names` has a request queued or running."""
    def check():
        st = stats(s)
        return all(st[n]["active"] == 0 and st[n]["queued"] == 0 for n in names)
    return bool(_wait(check, timeout))


def _wait(cond, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except Exception:  # noqa: BLE001
            v = None
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
