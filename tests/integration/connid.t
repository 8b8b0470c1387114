#!/usr/bin/env python3
# connid.t: one connection id per session, whichever way it is read, and KILL accepts it
# (issue 12, symptom 4). Through a pool of 2 with other sessions busy, a session's
# statements run on changing backend connections:
#  (a) CONNECTION_ID() in every statement form (alone, in a list, aliased, in a derived
#      table, in WHERE) is the id in the session's greeting, with MariaDB's column name
#      and type;
#  (b) a second session of the account finds the first one's SLEEP in
#      information_schema.PROCESSLIST (a backend thread id) and KILL QUERY <that id>
#      stops it at once; the session goes on;
#  (c) the same with the id from SELECT CONNECTION_ID() (alone, and aliased);
#  (d) KILL CONNECTION <processlist id>, and KILL <session id>, end the session;
#  (e) another account's session gets 1094 for either id, and the sleep goes on.
# Everything but the 1094 of (e) (MariaDB answers 1095 there) passes against MariaDB
# directly (SLUICE_TEST_ADDR=its port).
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, like, ok  # noqa: E402

lib.require_sandbox()

A = lib.Account("t_cid_a", "pw-cid-a")
B = lib.Account("t_cid_b", "pw-cid-b")
s = lib.start_sluice([A, B], pool_size=2)

# ---- other sessions keep both backend connections busy
stop = threading.Event()
load_errors = []


def busy(acct, stop):
    try:
        c = s.connect(acct)
        cur = c.cursor()
        for _ in range(100000):
            if stop.is_set():
                break
            cur.execute("SELECT SLEEP(0.003)")
            cur.fetchall()
        c.close()
    except Exception as e:  # noqa: BLE001
        load_errors.append(repr(e))


def start_load(accts, stop):
    ts = [threading.Thread(target=busy, args=(a, stop), daemon=True) for a in accts]
    for t in ts:
        t.start()
    return ts


loaders = start_load((A, A, B), stop)


def q(cur, sql):
    cur.execute(sql)
    return cur.fetchall()


# ---- (a) CONNECTION_ID() in every form
x = s.connect(A)
xid = x.thread_id()
cur = x.cursor()
forms = [
    ("SELECT CONNECTION_ID()", 0, "CONNECTION_ID()"),
    ("SELECT 1, CONNECTION_ID()", 1, "CONNECTION_ID()"),
    ("SELECT CONNECTION_ID() AS x", 0, "x"),
    ("SELECT * FROM (SELECT CONNECTION_ID()) t", 0, "CONNECTION_ID()"),
    ("select connection_id ( ), 2", 0, "connection_id ( )"),
    ("SELECT CONNECTION_ID() + 1", 0, "CONNECTION_ID() + 1"),
]
seen = {}
names = {}
for rnd in range(5):
    for sql, col, name in forms:
        cur.execute(sql)
        v = cur.fetchone()[col]
        if sql.endswith("+ 1"):
            v -= 1
        seen.setdefault(sql, set()).add(int(v))
        names.setdefault(sql, set()).add(cur.description[col][0])
    where = q(cur, "SELECT 'found' FROM DUAL WHERE CONNECTION_ID() = %d" % xid)
    seen.setdefault("WHERE CONNECTION_ID() = <greeting id>", set()).add(
        xid if where == (("found",),) else -1)
backend_ids = {r[0] for r in lib.root_sql(
    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (A.name,))}
diag("greeting id %d; backend threads of %s: %s" % (xid, A.name, sorted(backend_ids)))
for sql, vals in seen.items():
    is_(vals, {xid}, "(a) %s: the greeting's id, 5 times" % sql)
for sql, col, name in forms:
    is_(names[sql], {name}, "(a) %s: column named %r as in MariaDB" % (sql, name))
cur.execute("SELECT CONNECTION_ID()")
f = cur._result.fields[0]
is_((f.type_code, f.length, bool(f.flags & 32)), (3, 10, True),
    "(a) SELECT CONNECTION_ID(): INT UNSIGNED, length 10, as MariaDB describes it")
ok(not load_errors, "(a) the other sessions ran without errors", lambda: load_errors[:3])
# The KILL cases below keep one other session of the account busy, not bob's: with a pool
# of 2 and one connection asleep, anticipation would keep the other for bob's next
# statement, and the second session's processlist look-ups would wait out the sleep.
stop.set()
for t in loaders:
    t.join(10)
stop = threading.Event()
loaders = start_load((A,), stop)


# ---- a sleeping session, and a second session that kills it
class Sleeper:
    """conn runs SELECT SLEEP(secs) with a marker in a thread; result: rows or errno."""

    def __init__(self, conn, secs, marker):
        self.conn, self.res, self.ended = conn, None, None
        self.sql = "SELECT SLEEP(%d) /* %s */" % (secs, marker)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t0 = time.monotonic()
        self.t.start()

    def run(self):
        try:
            c = self.conn.cursor()
            c.execute(self.sql)
            self.res = ("rows", c.fetchall())
        except Exception as e:  # noqa: BLE001
            self.res = ("err", e.args[0] if e.args else repr(e))
        self.ended = time.monotonic()

    def wait(self, secs):
        self.t.join(secs)
        return self.res


def find_in_processlist(cur, marker):
    """The ID of the thread whose INFO runs marker's SLEEP, as the account sees it."""
    last = {}

    def look():
        try:
            rows = q(cur, "SELECT ID, INFO FROM information_schema.PROCESSLIST "
                          "WHERE INFO LIKE 'SELECT SLEEP(%%%s%%'" % marker)
        except Exception as e:  # noqa: BLE001
            last["seen"] = repr(e)
            raise
        last["seen"] = rows
        return rows[0][0] if len(rows) == 1 else None
    pid = lib.wait_until(look, 30)  # a loaded (sanitizer) build on 2 busy cores is slow
    if pid is None:
        diag("%s: not found in the processlist; last answer %r; all threads: %r"
             % (marker, last.get("seen"), lib.root_sql(
                 "SELECT ID, USER, COMMAND, TIME, INFO FROM information_schema.PROCESSLIST")))
    return pid


def interrupted(res):
    """MariaDB's answer to a SLEEP stopped by KILL QUERY: ERR 1317 (or SLEEP's 1)."""
    return res == ("err", 1317) or res == ("rows", ((1,),))


y = s.connect(A)
ycur = y.cursor()


def kill_query_case(label, marker, get_id):
    sl = Sleeper(x, 10, marker)
    pid = find_in_processlist(ycur, marker)
    ok(pid is not None, "%s: the sleep is in the processlist (ID %s)" % (label, pid))
    kid = get_id(pid) or 0
    t_kill = time.monotonic()
    e = lib.error_of(lambda: ycur.execute("KILL QUERY %d" % kid))
    ok(e is None, "%s: KILL QUERY %d is accepted" % (label, kid), "got %r" % (e,))
    res = sl.wait(12)
    took = (sl.ended or time.monotonic()) - t_kill
    ok(interrupted(res) and took < 2,
       "%s: the sleep ends within 2 s, interrupted as MariaDB does it" % label,
       "got %r %.2f s after the KILL" % (res, took))
    is_(q(x.cursor(), "SELECT 7"), ((7,),), "%s: the killed session goes on" % label)


# (b) the id from the processlist
kill_query_case("(b) processlist ID", "cid-b", lambda pid: pid)
# (c) the id from CONNECTION_ID(), alone and aliased
cid_alone = int(q(x.cursor(), "SELECT CONNECTION_ID()")[0][0])
kill_query_case("(c) SELECT CONNECTION_ID()", "cid-c1", lambda pid: cid_alone)
cid_alias = int(q(x.cursor(), "SELECT CONNECTION_ID() AS my_id")[0][0])
kill_query_case("(c) SELECT CONNECTION_ID() AS my_id", "cid-c2", lambda pid: cid_alias)

# (e) another account: 1094 for either id, and the sleep goes on
z = s.connect(B)
sl = Sleeper(x, 3, "cid-e")
pid = find_in_processlist(ycur, "cid-e")
ok(pid is not None, "(e) the sleep is in the processlist (ID %s)" % pid)
for what, kid in (("processlist ID", pid), ("session id", xid)):
    e = lib.error_of(lambda: z.cursor().execute("KILL QUERY %d" % kid))
    if lib.sluice_only("(e) another account's KILL QUERY <%s>: 1094" % what):
        is_(e, (1094, "Unknown thread id: %d" % kid),
            "(e) another account's KILL QUERY <%s>: 1094, worded as MariaDB" % what)
res = sl.wait(10)
took = (sl.ended or time.monotonic()) - sl.t0
ok(res == ("rows", ((0,),)) and took >= 2.8,
   "(e) the sleep was not interrupted", "got %r after %.2f s" % (res, took))

# (d) KILL CONNECTION <processlist id> ends the session; KILL <session id> too
sl = Sleeper(x, 10, "cid-d")
pid = find_in_processlist(ycur, "cid-d")
ok(pid is not None, "(d) the sleep is in the processlist (ID %s)" % pid)
t_kill = time.monotonic()
e = lib.error_of(lambda: ycur.execute("KILL CONNECTION %d" % (pid or 0)))
ok(e is None, "(d) KILL CONNECTION <processlist ID> is accepted", "got %r" % (e,))
res = sl.wait(12)
took = (sl.ended or time.monotonic()) - t_kill
ok(res is not None and res[0] == "err" and took < 2,
   "(d) the sleeping session's statement fails at once", "got %r after %.2f s" % (res, took))
e = lib.error_of(lambda: x.cursor().execute("SELECT 1"))
ok(e is not None, "(d) ... and the session is gone", "its next SELECT: %r" % (e,))
w = s.connect(A)
wid = w.thread_id()
e = lib.error_of(lambda: ycur.execute("KILL %d" % wid))
ok(e is None, "(d) KILL <session id> of an idle session is accepted", "got %r" % (e,))
e = lib.error_of(lambda: w.cursor().execute("SELECT 1"))
ok(e is not None, "(d) ... and that session is gone", "its next SELECT: %r" % (e,))
# mariadb-admin kill (KILL as a query) and PHP's mysqli::kill (COM_PROCESS_KILL)
PHP = shutil.which("php")


def php_kill(acct, kid):
    """errno of mysqli::kill(kid) as acct through the gateway (0: it succeeded)."""
    code = ("mysqli_report(MYSQLI_REPORT_OFF); $m = new mysqli('%s', '%s', '%s', '', %d);"
            " echo $m->kill(%d) ? 0 : $m->errno;" % (s.host, acct.name, acct.password, s.port,
                                                   kid))
    r = subprocess.run([PHP, "-r", code], capture_output=True, text=True, timeout=30)
    return r.stdout.strip() + r.stderr.strip()


for how in ("mariadb-admin", "mysqli::kill"):
    for what in ("session id", "processlist ID"):
        if how == "mysqli::kill" and not PHP:
            lib.skip("(d) %s <%s>" % (how, what), "no php")
            continue
        v = s.connect(A)
        marker = "cid-%s-%s" % (how[:5], what[:4])
        sl = Sleeper(v, 10, marker)
        pid = find_in_processlist(ycur, marker)
        kid = v.thread_id() if what == "session id" else (pid or 0)
        t_kill = time.monotonic()
        if how == "mariadb-admin":
            r = s.cli(A, "kill", str(kid), binary="mariadb-admin")
            got = "%d %s" % (r.returncode, r.stderr.strip())
        else:
            got = php_kill(A, kid)
        ok(got in ("0", "0 "), "(d) %s <%s> is accepted" % (how, what), "got %r" % got)
        res = sl.wait(12)
        took = (sl.ended or time.monotonic()) - t_kill
        ok(res is not None and res[0] == "err" and took < 2,
           "(d) ... the session's statement fails at once", "got %r after %.2f s" % (res, took))
        v.close()
if PHP and lib.sluice_only("(e) another account's mysqli::kill: 1094"):
    is_(php_kill(B, xid), "1094", "(e) another account's mysqli::kill: 1094")
is_(q(ycur, "SELECT 8"), ((8,),), "the killer's session goes on")

stop.set()
for t in loaders:
    t.join(10)
ok(not load_errors, "the other sessions ran without errors", lambda: load_errors[:3])
y.close()
z.close()
# ---- a statement that waited for room under max_pinned (HOLD_WAIT) goes through
# client_command twice: the second time must not rewrite again (the column kept the
# literal as its name: a review found it) nor take a KILL again
holder = s.connect(A)
hcur = holder.cursor()
hcur.execute("BEGIN")
hcur.execute("SELECT 1")  # holds one of the 2 connections: max_pinned (1) reached
waiter = s.connect(A, autocommit=False)
box = []


def waiting_select():
    cur = waiter.cursor()
    cur.execute("SELECT CONNECTION_ID()")
    box.append((cur.fetchone()[0], cur.description[0][0]))


t = threading.Thread(target=waiting_select)
t.start()
time.sleep(0.5)  # it waits for the holder's room (HOLD_WAIT)
waited = t.is_alive()
hcur.execute("COMMIT")
t.join(10)
ok(waited, "with autocommit off and max_pinned reached, SELECT CONNECTION_ID() waits")
is_(box, [(waiter.thread_id(), "CONNECTION_ID()")],
    "after the wait: the session's id, the column named as written")
waiter.rollback()
waiter.close()
holder.close()

# ---- the same in server-side prepared statements (DBD::mysql, mysql_server_prepare=1)
if subprocess.run(["perl", "-MDBD::mysql", "-e", "1"], capture_output=True).returncode != 0:
    lib.skip("server-side prepared CONNECTION_ID() and KILL",
             "DBD::mysql is not installed (Debian: libdbd-mysql-perl)")
else:
    r = subprocess.run(["perl", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "connid_ps.pl"),
                        s.host, str(s.port), A.name, A.password, "", B.name,
                        B.password], capture_output=True, text=True, timeout=120)
    lib.relay_tap(r, "DBD::mysql: ", 10)

lib.finish(s)
lib.done_testing()
