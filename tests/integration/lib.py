"""Helpers for sluice's integration tests: TAP output, a fresh sluice per test file,
accounts on both sides, bounded waits, and a watchdog.

Environment:
  MARIADB_PORT, MARIADB_HOST   the sandbox MariaDB (scripts/mariadb-sandbox.sh); without
                               MARIADB_PORT every test file skips
  MARIADB_SOCKET               its unix socket, for root (default: root over TCP)
  SLUICE_BIN                   the gateway binary (default ./sluice)
  SLUICE_TEST_ADDR             host:port of a sluice already running (e.g. under gdb), or
                               of MariaDB itself: then no sluice is started, and pointing
                               it at MariaDB validates the tests without a gateway
  SLUICE_TEST_TIMEOUT          watchdog seconds per test file (default 300)
  SLUICE_TEST_KEEP             keep the temporary directory (sluice.db, sluice.log)
  SLUICE_TAP                   set by the Makefile: skip-all exits 0 (the TAP driver
                               reads the "1..0 # SKIP" plan); standalone it exits 77
"""

import atexit
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import pymysql
except ImportError:  # pragma: no cover - depends on the machine
    # Debian's python3-pymysql lives in the system interpreter; a python3 earlier in
    # PATH (pyenv, a venv) lacks it. Run the test again with the system one.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
            os.path.exists("/usr/bin/python3") and not os.environ.get("SLUICE_REEXEC"):
        os.environ["SLUICE_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("1..0 # SKIP python3-pymysql is not installed")
    sys.exit(0 if os.environ.get("SLUICE_TAP") else 77)

sys.stdout.reconfigure(line_buffering=True)

# ---------------------------------------------------------------- TAP

_lock = threading.Lock()
_count = 0
_failed = 0
_planned = None


def plan(n):
    """Announce the number of tests up front (optional: done_testing() prints it last)."""
    global _planned
    _planned = n
    print("1..%d" % n)


def diag(msg):
    """A TAP comment; every line of msg is prefixed with '# '."""
    with _lock:
        for line in str(msg).splitlines() or [""]:
            print("# " + line)


def ok(cond, name, detail=None):
    """One test point. On failure detail (a string or a callable giving one) is printed."""
    global _count, _failed
    with _lock:
        _count += 1
        n = _count
        if not cond:
            _failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", n, name))
    if not cond and detail is not None:
        diag(detail() if callable(detail) else detail)
    return bool(cond)


def is_(got, expected, name):
    return ok(got == expected, name, lambda: "expected: %r\n     got: %r" % (expected, got))


def like(got, pattern, name):
    return ok(got is not None and re.search(pattern, got) is not None, name,
              lambda: "expected to match: %r\n               got: %r" % (pattern, got))


def relay_tap(r, prefix, want):
    """Report the TAP lines of a C test client's run r (a CompletedProcess) as our own
    points, prefixed; its diagnostics as ours; then one point: it ran at least `want`."""
    seen = 0
    for line in r.stdout.splitlines():
        m = re.match(r"^(not )?ok \d+ - (.*)$", line)
        if m:
            seen += 1
            ok(m.group(1) is None, prefix + m.group(2))
        elif line.startswith("#"):
            diag(line[1:].strip())
    ok(seen >= want and r.returncode == 0, "%sran all its checks" % prefix,
       "exit %d, %d checks, stderr: %s" % (r.returncode, seen, r.stderr[-500:]))


def todo(cond, name, reason):
    """A TAP TODO point for a known gap: "not ok ... # TODO" does not fail the file; a
    pass is a plain pass (no XPASS that would fail the build)."""
    global _count
    with _lock:
        _count += 1
        if cond:
            print("ok %d - %s" % (_count, name))
        else:
            print("not ok %d - %s # TODO %s" % (_count, name, reason))
    return bool(cond)


def skip(name, reason):
    global _count
    with _lock:
        _count += 1
        print("ok %d - %s # SKIP %s" % (_count, name, reason))


def skip_all(reason):
    print("1..0 # SKIP %s" % reason)
    sys.exit(0 if os.environ.get("SLUICE_TAP") else 77)


def bail_out(reason):
    print("Bail out! %s" % reason)
    _stop_everything()
    os._exit(1)


def done_testing():
    """Print the plan (if plan() was not called) and exit 1 if anything failed."""
    if _planned is None:
        print("1..%d" % _count)
    if _failed:
        diag("%d of %d tests failed" % (_failed, _count))
        if _sluice_procs:
            for s in _sluice_procs:
                diag("last lines of %s:\n%s" % (s.log_path, s.log_tail(40)))
    sys.exit(1 if _failed else 0)


def check(name, fn):
    """Run fn(); ok if it returns a true value, not ok (with the exception) if it raises."""
    try:
        res = fn()
    except Exception as e:  # noqa: BLE001 - every failure is a test result here
        return ok(False, name, "%s: %s" % (type(e).__name__, e))
    return ok(res, name, "returned %r" % (res,))


def error_of(fn):
    """Run fn() and return (errno, message) of the pymysql error it raised, or None."""
    try:
        fn()
    except pymysql.err.MySQLError as e:
        if len(e.args) >= 2:
            return (e.args[0], str(e.args[1]))
        return (None, str(e))
    return None


# ---------------------------------------------------------------- waiting

def wait_until(cond, timeout, interval=0.05):
    """Poll cond() until it returns a true value or timeout seconds pass. Exceptions
    count as false. Returns the last value of cond() (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = cond()
        except Exception:  # noqa: BLE001
            v = None
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- environment

MARIADB_HOST = os.environ.get("MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ["MARIADB_PORT"]) if os.environ.get("MARIADB_PORT") else None
MARIADB_SOCKET = os.environ.get("MARIADB_SOCKET")
SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.abspath("sluice"))


def _parse_addr(s):
    host, _, port = s.rpartition(":")
    return (host or "127.0.0.1", int(port))


TEST_ADDR = _parse_addr(os.environ["SLUICE_TEST_ADDR"]) if os.environ.get("SLUICE_TEST_ADDR") \
    else None
# True when the tests talk to MariaDB itself (validating the tests, not the gateway):
# sluice-only checks then report "ok # SKIP".
DIRECT = TEST_ADDR is not None and MARIADB_PORT is not None and TEST_ADDR[1] == MARIADB_PORT


def require_sandbox():
    """Skip the whole file unless a sandbox MariaDB is there, and a sluice binary (or
    SLUICE_TEST_ADDR) to test."""
    if MARIADB_PORT is None:
        skip_all("no MariaDB sandbox (MARIADB_PORT unset; see scripts/run-integration.sh)")
    if TEST_ADDR is None and not os.access(SLUICE_BIN, os.X_OK):
        skip_all("no sluice binary at %s (set SLUICE_BIN)" % SLUICE_BIN)
    _raise_nofile()
    _start_watchdog()


def sluice_only(name):
    """True if the check may run; when the tests target MariaDB directly, reports the
    check as skipped and returns False."""
    if DIRECT:
        skip(name, "sluice-only check; SLUICE_TEST_ADDR is MariaDB itself")
        return False
    return True


def _raise_nofile():
    """Raise RLIMIT_NOFILE to the hard limit; sluice and sysbench inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    want = min(want, 65536)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def nofile_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    """A loopback TCP port that is free now (the usual small race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_name():
    return os.path.splitext(os.path.basename(sys.argv[0]))[0]


# ---------------------------------------------------------------- watchdog

def _start_watchdog():
    secs = float(os.environ.get("SLUICE_TEST_TIMEOUT", "300"))

    def fire():
        print("Bail out! watchdog: %s still running after %.0f s" % (test_name(), secs))
        sys.stdout.flush()
        _stop_everything()
        os._exit(1)

    t = threading.Timer(secs, fire)
    t.daemon = True
    t.start()


# ---------------------------------------------------------------- MariaDB as root

def root_connect(**kw):
    """A root connection to the sandbox MariaDB itself (never through sluice)."""
    args = dict(user="root", password=os.environ.get("MARIADB_ROOT_PASSWORD", ""),
                autocommit=True, connect_timeout=10, read_timeout=120, charset="utf8mb4")
    args.update(kw)
    if MARIADB_SOCKET:
        return pymysql.connect(unix_socket=MARIADB_SOCKET, **args)
    return pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, **args)


def root_sql(sql, args=None):
    """Run one statement as root; return all rows (or None)."""
    c = root_connect()
    try:
        with c.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        c.close()


def backend_threads(users):
    """[(id, user, command, time, info)] of MariaDB threads logged in as any of users."""
    c = root_connect()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT ID, USER, COMMAND, TIME, INFO FROM information_schema.PROCESSLIST"
                        " WHERE USER IN (%s)" % ",".join(["%s"] * len(users)), list(users))
            return list(cur.fetchall())
    finally:
        c.close()


def create_schema(name):
    root_sql("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4" % name)
    return name


def drop_schema(name):
    root_sql("DROP DATABASE IF EXISTS `%s`" % name)


def _mariadb_user(name, password, schemas):
    root_sql("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (name, password))
    root_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (name, password))
    for s in schemas:
        root_sql("GRANT ALL ON `%s`.* TO %%s@'%%%%'" % s, (name,))


def drop_user(name):
    root_sql("DROP USER IF EXISTS %s@'%%'", (name,))


# ---------------------------------------------------------------- sluice

_sluice_procs = []


class Account:
    def __init__(self, name, password, weight=None, schemas=()):
        self.name = name
        self.password = password
        self.weight = weight
        self.schemas = list(schemas)


class Sluice:
    """One sluice for one test file: a temporary directory with its --db and log, free
    ports, the accounts created first in MariaDB and then with `sluice account add`.

    With SLUICE_TEST_ADDR nothing is started: the accounts are created in MariaDB only
    (and, for a sluice that is already running, must already exist in it)."""

    def __init__(self, accounts, pool_size=4, threads=None, extra_args=(), start=True):
        self.accounts = list(accounts)
        self.pool_size = pool_size
        self.threads = threads
        self.extra_args = list(extra_args)
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="sluice-%s-" % test_name())
        self.db = os.path.join(self.dir, "sluice.db")
        self.log_path = os.path.join(self.dir, "sluice.log")
        self.admin_token = "t-" + os.urandom(8).hex()
        for a in self.accounts:
            _mariadb_user(a.name, a.password, a.schemas)
        if TEST_ADDR is not None:
            self.host, self.port = TEST_ADDR
            self.admin_port = None
            return
        for a in self.accounts:
            self.account_add(a)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.admin_port = free_port()
        if start:
            self.start()

    def run_cli(self, args, stdin=None):
        """Run `sluice --db F args...`; returns CompletedProcess (text)."""
        return subprocess.run([SLUICE_BIN, "--db", self.db] + list(args), input=stdin,
                              capture_output=True, text=True, timeout=30)

    def account_add(self, a):
        args = ["account", "add", a.name]
        if a.weight is not None:
            args += ["--weight", str(a.weight)]
        r = self.run_cli(args, stdin=a.password + "\n")
        if r.returncode != 0:
            bail_out("sluice account add %s failed (exit %d): %s%s"
                     % (a.name, r.returncode, r.stdout, r.stderr))

    def start(self):
        args = [SLUICE_BIN, "--listen", "127.0.0.1:%d" % self.port,
                "--backend", "%s:%d" % (MARIADB_HOST, MARIADB_PORT),
                "--pool-size", str(self.pool_size), "--db", self.db,
                "--admin", "127.0.0.1:%d" % self.admin_port,
                "--admin-token", self.admin_token, "--log-level", "debug"]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        args += self.extra_args
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        _sluice_procs.append(self)
        diag("sluice pid %d on 127.0.0.1:%d (pool %d), log %s"
             % (self.proc.pid, self.port, self.pool_size, self.log_path))
        if not wait_until(lambda: self.proc.poll() is not None or self._accepts(), 15):
            bail_out("sluice did not listen on %d within 15 s\n%s" % (self.port, self.log_tail()))
        if self.proc.poll() is not None:
            bail_out("sluice exited with %s at start-up:\n%s" % (self.proc.returncode,
                                                                 self.log_tail()))

    def _accepts(self):
        # Both ports: the workers accept clients a moment before the admin API is up.
        for port in (self.port, self.admin_port):
            with socket.create_connection((self.host, port), timeout=1):
                pass
        return True

    def alive(self):
        return self.proc is None or self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM (sluice drains and exits), SIGKILL after timeout. Returns exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            diag("sluice pid %d ignored SIGTERM for %d s: SIGKILL" % (self.proc.pid, timeout))
            self.proc.kill()
            return self.proc.wait(5)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def cleanup(self):
        self.stop()
        if os.environ.get("SLUICE_TEST_KEEP") or _failed or _crashed:
            diag("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def connect(self, account, **kw):
        """A pymysql connection through sluice (or the SLUICE_TEST_ADDR target)."""
        args = dict(host=self.host, port=self.port, user=account.name,
                    password=account.password, connect_timeout=10, read_timeout=120,
                    write_timeout=120, autocommit=True, charset="utf8mb4")
        if account.schemas:
            args["database"] = account.schemas[0]
        args.update(kw)
        return pymysql.connect(**args)

    def cli(self, account, *args, timeout=30, binary="mariadb", stdin=None):
        """Run the mariadb command-line client (or mariadb-admin) against sluice.
        Returns CompletedProcess (text)."""
        cmd = [binary, "--no-defaults", "-h", self.host, "-P", str(self.port),
               "-u", account.name, "-p" + account.password] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              input=stdin)


def _stop_everything():
    for s in list(_sluice_procs):
        try:
            if s.proc is not None and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
                try:
                    s.proc.wait(10)
                except subprocess.TimeoutExpired:
                    s.proc.kill()
        except Exception:  # noqa: BLE001
            pass


_crashed = False


def _excepthook(kind, value, tb):
    """An uncaught exception is a failed test: say so in TAP, show the gateway's log, and
    keep the temporary directory."""
    global _crashed
    _crashed = True
    import traceback
    ok(False, "no uncaught exception", "".join(traceback.format_exception(kind, value, tb)))
    for s in _sluice_procs:
        diag("last lines of %s:\n%s" % (s.log_path, s.log_tail(40)))
    sys.stdout.flush()


sys.excepthook = _excepthook


@atexit.register
def _at_exit():
    for s in list(_sluice_procs):
        try:
            s.cleanup()
        except Exception:  # noqa: BLE001
            pass


def finish(s):
    """Last test of a file: the sluice it started is still alive and exits 0 on SIGTERM."""
    name = "sluice still running, exits 0 on SIGTERM"
    if s.proc is None:
        skip(name, "no sluice started here (SLUICE_TEST_ADDR)")
        return
    alive = s.alive()
    code = s.stop()
    ok(alive and code == 0, name, lambda: "alive=%s exit=%s\n%s" % (alive, code, s.log_tail()))


def start_sluice(accounts, **kw):
    return Sluice(accounts, **kw)


def timed(fn):
    """(result, seconds) of fn()."""
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0
