#!/usr/bin/env python3
# drivers.t: the drivers applications really use see through sluice what they see straight
# from MariaDB (issue 12, "Done means"). Every program in tests/integration/drivers/ does
# the same checks with its own driver (typed prepared statements, a 20 MB blob,
# transactions, errors 1062/1064, session variables, USE, LAST_INSERT_ID, a temporary
# table, a 100,000-row streamed result, multi-statements, batches, reset, a result
# abandoned half-read, KILL QUERY, 16 connections x 50 transactions) and prints one line
# per check: "ok NAME" or "not ok NAME: REASON". Each program runs straight to MariaDB,
# then through sluice with --pool-size 4 and with 16; every check that passes directly
# must print the same line through sluice. A check that fails directly is only reported
# (diag). A driver that is not installed is skipped with the reason.
#
#   SLUICE_DRIVERS=go,java     run only these drivers (names as in DRIVERS below)
#   SLUICE_NODE_MODULES=DIR    node_modules holding mysql2 and mariadb (npm install)
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

# Nine drivers, three modes each (a hung 16 x 50 check ends after 5 s without progress):
# more than the default 300 s.
os.environ.setdefault("SLUICE_TEST_TIMEOUT", "900")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DRV = os.path.join(HERE, "drivers")
RUN_TIMEOUT = 120  # one driver program in one mode
SYS_PY = "/usr/bin/python3"  # Debian's python3-mysqldb, -sqlalchemy, -pymysql
CONNJ = "/usr/share/java/mariadb-java-client.jar"
GOPATH = "/usr/share/gocode"

lib.require_sandbox()
SCHEMA = lib.create_schema("t_drivers")
SCHEMA2 = lib.create_schema("t_drivers2")
A = lib.Account("t_drivers", "pw-drivers", schemas=[SCHEMA, SCHEMA2])
# The MariaDB user exists before the direct runs (start_sluice makes it too, later): on a
# fresh sandbox the direct runs met 1045 and every check was left out of the comparison.
lib._mariadb_user(A.name, A.password, A.schemas)
# The 20 MB blob: MariaDB's default max_allowed_packet is 16 MiB.
lib.root_sql("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
TMP = tempfile.mkdtemp(prefix="sluice-drivers-")


def have_py_module(mod):
    if not os.path.exists(SYS_PY):
        return False
    r = subprocess.run([SYS_PY, "-c", "import " + mod], capture_output=True, timeout=30)
    return r.returncode == 0


def node_modules():
    for d in (os.environ.get("SLUICE_NODE_MODULES"), os.path.join(DRV, "node_modules")):
        if d and os.path.isdir(d):
            return d
    return None


def prep_node(pkg, script):
    if shutil.which("node") is None:
        return None, "node is not installed (Debian: nodejs)"
    nm = node_modules()
    if nm is None or not os.path.isdir(os.path.join(nm, pkg)):
        return None, ("npm package %s not found in $SLUICE_NODE_MODULES or %s/node_modules"
                      " (npm install --prefix %s mysql2 mariadb)" % (pkg, DRV, DRV))
    return (["node", os.path.join(DRV, script)], {"NODE_PATH": nm}), None


def prep_go():
    if shutil.which("go") is None:
        return None, "go is not installed (Debian: golang-go)"
    if not os.path.isdir(os.path.join(GOPATH, "src/github.com/go-sql-driver/mysql")):
        return None, "go-sql-driver is not installed (golang-github-go-sql-driver-mysql-dev)"
    out = os.path.join(TMP, "godrv")
    env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off",
               GOCACHE=os.path.join(TMP, "gocache"))
    r = subprocess.run(["go", "build", "-o", out, os.path.join(DRV, "godrv.go")], env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return None, "go build failed: " + r.stderr[-800:]
    return ([out], {}), None


def prep_java():
    if shutil.which("javac") is None or shutil.which("java") is None:
        return None, "javac/java are not installed"
    if not os.path.exists(CONNJ):
        return None, "MariaDB Connector/J is not installed (Debian: libmariadb-java)"
    r = subprocess.run(["javac", "-d", TMP, "-cp", CONNJ, os.path.join(DRV, "Drv.java")],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return None, "javac failed: " + r.stderr[-800:]
    return (["java", "-cp", TMP + ":" + CONNJ, "Drv"], {}), None


def prep_py(mods, script):
    for m in mods:
        if not have_py_module(m):
            return None, "%s cannot import %s (Debian: python3-%s)" % (SYS_PY, m, m.lower())
    return ([SYS_PY, os.path.join(DRV, script)], {}), None


def prep_php():
    if shutil.which("php") is None:
        return None, "php is not installed (Debian: php-cli php-mysql)"
    r = subprocess.run(["php", "-m"], capture_output=True, text=True, timeout=30)
    if "mysqli" not in r.stdout or "pdo_mysql" not in r.stdout:
        return None, "php has no mysqli/pdo_mysql (Debian: php-mysql)"
    return (["php", os.path.join(DRV, "phpdrv.php")], {}), None


def prep_ruby():
    if shutil.which("ruby") is None:
        return None, "ruby is not installed (Debian: ruby-mysql2)"
    r = subprocess.run(["ruby", "-e", "require 'mysql2'"], capture_output=True, timeout=30)
    if r.returncode != 0:
        return None, "ruby cannot require mysql2 (Debian: ruby-mysql2)"
    return (["ruby", os.path.join(DRV, "rbdrv.rb")], {}), None


def prep_perl():
    r = subprocess.run(["perl", "-MDBD::mysql", "-e", "1"], capture_output=True, timeout=30)
    if r.returncode != 0:
        return None, "perl has no DBD::mysql (Debian: libdbd-mysql-perl)"
    return (["perl", os.path.join(DRV, "pldrv.pl")], {}), None


DRIVERS = [
    ("mysqldb", lambda: prep_py(["MySQLdb"], "mysqldb.py")),
    ("sqlalchemy", lambda: prep_py(["sqlalchemy", "pymysql"], "sqla.py")),
    ("go", prep_go),
    ("node-mysql2", lambda: prep_node("mysql2", "mysql2.js")),
    ("node-mariadb", lambda: prep_node("mariadb", "mariadb.js")),
    ("java", prep_java),
    ("php", prep_php),
    ("ruby", prep_ruby),
    ("perl", prep_perl),
]
only = [d for d in os.environ.get("SLUICE_DRIVERS", "").split(",") if d]


def run(cmd, port):
    """The program's lines as {check: line}, plus whether it ended well and how. A program
    still running after RUN_TIMEOUT is killed."""
    argv, env = cmd
    t0 = time.monotonic()
    p = subprocess.Popen(argv + ["127.0.0.1", str(port), A.name, A.password, SCHEMA, SCHEMA2],
                         env=dict(os.environ, **env), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=TMP)
    # A program still running after 30 s hangs somewhere: show what MariaDB is doing.
    snap = threading.Timer(30, lambda: diag("%s still running after 30 s; MariaDB:\n%s" % (
        argv[-1], "\n".join(repr(t) for t in lib.root_sql(
            "SELECT ID, COMMAND, TIME, STATE, LEFT(INFO, 80) FROM information_schema.PROCESSLIST"
            " WHERE USER = %s", (A.name,))))))
    snap.daemon = True
    snap.start()
    try:
        out, err = p.communicate(timeout=RUN_TIMEOUT)
        how, good = "exit %d" % p.returncode, p.returncode == 0
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        how, good = "killed after %d s" % RUN_TIMEOUT, False
    snap.cancel()
    lines = {}
    for line in out.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            name = line.split(" ", 2)[1] if line.startswith("ok ") else line.split(" ", 3)[2]
            lines[name.rstrip(":")] = line
    return lines, good, "%s in %.1f s%s" % (how, time.monotonic() - t0,
                                           ("; stderr: " + err[-600:]) if err.strip() else "")


progs = []
for name, prep in DRIVERS:
    if only and name not in only:
        continue
    cmd, why = prep()
    if cmd is None:
        lib.skip(name, why)
        continue
    progs.append((name, cmd))

direct = {}
for name, cmd in progs:
    lines, good, how = run(cmd, lib.MARIADB_PORT)
    ok(good and lines and any(v.startswith("ok ") for v in lines.values()),
       "%s runs straight to MariaDB" % name, how)
    diag("%s direct: %s" % (name, how))
    for line in lines.values():
        if not line.startswith("ok "):
            diag("%s fails directly (not compared): %s" % (name, line))
    direct[name] = lines

for pool in (4, 16):
    s = lib.start_sluice([A], pool_size=pool)
    for name, cmd in progs:
        lines, good, how = run(cmd, s.port)
        diag("%s pool %d: %s" % (name, pool, how))
        for check, want in direct[name].items():
            if want.startswith("ok "):
                is_(lines.get(check), want, "%s pool %d: %s" % (name, pool, check))
        for check, line in lines.items():
            if check not in direct[name]:
                diag("%s pool %d: %s (no such line directly)" % (name, pool, line))
        ok(good, "%s pool %d: runs to its end" % (name, pool), how)
    lib.finish(s)

shutil.rmtree(TMP, ignore_errors=True)
lib.done_testing()
