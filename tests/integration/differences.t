#!/usr/bin/env python3
# differences.t: what a pooled session could see differently from a direct one (issue 12,
# docs/pooling.md's table "what a pooled session does differently from a direct one"),
# each run straight against MariaDB and through sluice, beside other sessions of the
# account that use the same backend connections, and compared: user variables and
# information_schema.USER_VARIABLES, variables set by stored functions and triggers,
# LAST_INSERT_ID() after an explicit id, CONNECTION_ID() in the processlist, a view and an
# expression, the diagnostics area (SHOW WARNINGS, @@warning_count, SHOW ERRORS) and
# ROW_COUNT().
import os
import sys
import subprocess
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("differences.t starts sluices with pools of its own sizes")

SCHEMA = lib.create_schema("t_diff")
A = lib.Account("t_diff_a", "pw-diff-a", schemas=[SCHEMA])
B = lib.Account("t_diff_b", "pw-diff-b", schemas=[SCHEMA])
lib.root_sql("CREATE OR REPLACE TABLE %s.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) "
             "AUTO_INCREMENT=1000" % SCHEMA)
lib.root_sql("INSERT INTO %s.t (v) VALUES (1), (2), (3)" % SCHEMA)
lib.root_sql("DROP FUNCTION IF EXISTS %s.set_fv" % SCHEMA)
lib.root_sql("CREATE FUNCTION %s.set_fv() RETURNS INT NOT DETERMINISTIC "
             "BEGIN SET @fv = 7; RETURN 1; END" % SCHEMA)

s1 = lib.start_sluice([A, B], pool_size=1, extra_args=["--reserve-pool", "0"])


def direct(**kw):
    args = dict(host=lib.MARIADB_HOST, port=lib.MARIADB_PORT, user=A.name,
                password=A.password, database=SCHEMA, autocommit=True, charset="utf8mb4",
                connect_timeout=10, read_timeout=60)
    args.update(kw)
    return lib.pymysql.connect(**args)


def q(c, sql):
    cur = c.cursor()
    cur.execute(sql)
    rows = cur.fetchall() if cur.description else ()
    return rows, cur.description


def both(fn):
    """fn(connect) run straight to MariaDB and through the pool of one."""
    return fn(direct), fn(lambda **kw: s1.connect(A, **kw))


# ---- user variables: what information_schema.USER_VARIABLES lists, beside another
# session of the account that set one on the connection (and is still there) and after
# one that left
def user_variables(connect):
    x = connect()
    q(x, "SET @left_by_x = 'secret of x'")
    gone = connect()
    q(gone, "SET @left_by_gone = 'secret of gone'")
    gone.close()
    y = connect()
    rows, _ = q(y, "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.USER_VARIABLES "
                   "ORDER BY 1")
    q(y, "SET @mine = 1")
    mine, _ = q(y, "SELECT VARIABLE_NAME FROM information_schema.USER_VARIABLES")
    back, _ = q(x, "SELECT @left_by_x")
    y.close()
    x.close()
    return rows, mine, back


want, got = both(user_variables)
diag("USER_VARIABLES directly: %r; through sluice: %r" % (want, got))
ok(all(v is None for _, v in got[0]),
   "information_schema.USER_VARIABLES shows no value another session set", repr(got))
is_(got[0], want[0], "information_schema.USER_VARIABLES lists no other session's names")
is_(got[1], want[1], "... and the session's own once it sets one")
is_(got[2], want[2], "... and the session that set one still has it")


def nbs_var(connect):
    """A user variable assigned after a backslash string of a NO_BACKSLASH_ESCAPES
    session ('C:\\' ends at its second quote there)."""
    c = connect()
    q(c, "SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
    q(c, "SELECT 'C:\\', @nbs := 5")
    churn = connect()
    q(churn, "SET @nbs = 'churn'")
    churn.close()
    rows, _ = q(c, "SELECT @nbs")
    c.close()
    return rows


want, got = both(nbs_var)
is_(got, want,
    "a variable assigned after 'C:\\' in a NO_BACKSLASH_ESCAPES session is there after the "
    "connection served another session")


# ---- user variables a statement assigns without naming them: a stored function it calls,
# a trigger it fires; alone and beside a variable the statement names. Each session's
# connection serves another session of the account in between (pool of 2): the session
# keeps its connection when such a variable appears (sluice cannot read back what it
# cannot name).
s2 = lib.start_sluice([A], pool_size=2, extra_args=["--reserve-pool", "0"])
lib.root_sql("CREATE OR REPLACE TABLE %s.tr (id INT PRIMARY KEY, v INT)" % SCHEMA)
lib.root_sql("CREATE TRIGGER %s.tr_set BEFORE INSERT ON %s.tr FOR EACH ROW SET @trg = NEW.id"
             % (SCHEMA, SCHEMA))


def unnamed_vars(connect, stmt):
    c = connect()
    for part in stmt.split("; "):
        q(c, part)
    churn = connect()  # another session of the account, on the connection c used
    q(churn, "SET @fv = 'churn', @other = 'churn', @trg = 'churn'")
    churn.close()
    rows, _ = q(c, "SELECT @fv, @other, @trg")
    c.close()
    return rows


for n, stmt in enumerate(("SELECT set_fv()", "SELECT set_fv(), @other := 1",
                          "INSERT INTO tr VALUES (%d, 1)",
                          "INSERT INTO tr VALUES (%d, 1), (%d, @other := 5)",
                          # the session has @fv already; the function changes it
                          "SET @fv = 1; SELECT @other := set_fv()",
                          # with a warning: the capture cannot list the others then
                          "SELECT set_fv(), @other := 'abc' + 1")):
    lib.root_sql("DELETE FROM %s.tr" % SCHEMA)
    ids = tuple(range(10 * n + 1, 10 * n + 1 + stmt.count("%d")))
    want = unnamed_vars(direct, stmt % ids)
    lib.root_sql("DELETE FROM %s.tr" % SCHEMA)
    got = unnamed_vars(lambda **kw: s2.connect(A, **kw), stmt % ids)
    is_(got, want, "the variables %s set are there after the connection served another "
        "session" % stmt.replace("%d", "N"))



def function_var_leak(connect):
    """A variable a stored function set, beside a warning, is not another session's to
    read once the connection has gone back to the pool (after --diag-keep-ms)."""
    c = connect()
    q(c, "SELECT set_fv(), @other := 'abc' + 1")
    time.sleep(0.8)
    b = connect()
    rows, _ = q(b, "SELECT @fv")
    b.close()
    c.close()
    return rows


s1v = lib.start_sluice([A], pool_size=1, extra_args=["--reserve-pool", "0"])
want = function_var_leak(direct)
got = function_var_leak(lambda **kw: s1v.connect(A, **kw))
is_(got, want, "a variable a function set beside a warning does not reach the next session "
    "on the connection")
lib.finish(s1v)
lib.finish(s2)


# ---- LAST_INSERT_ID() first used in SQL after an explicit id
def lid_explicit(connect):
    """(the id the first insert generated, LAST_INSERT_ID() read later in SQL)"""
    c = connect()
    cur = c.cursor()
    cur.execute("INSERT INTO t (v) VALUES (10)")          # generated: LAST_INSERT_ID() = it
    generated = cur.lastrowid
    q(c, "INSERT INTO t (id, v) VALUES (90000, 11)")      # explicit: LAST_INSERT_ID() stays
    churn = connect()
    q(churn, "INSERT INTO t (v) VALUES (12)")
    churn.close()
    rows, _ = q(c, "SELECT LAST_INSERT_ID()")
    q(c, "DELETE FROM t WHERE id >= 90000")
    c.close()
    return generated, rows[0][0]


want_lid = lid_explicit(direct)
got_lid = lid_explicit(lambda **kw: s1.connect(A, **kw))
sx = lib.start_sluice([A], pool_size=1, extra_args=["--reserve-pool", "0",
                                                     "--exact-last-insert-id"])
exact_lid = lid_explicit(lambda **kw: sx.connect(A, **kw))
lib.finish(sx)
diag("(generated id, LAST_INSERT_ID() after an explicit id): directly %r, through sluice %r, "
     "with --exact-last-insert-id %r" % (want_lid, got_lid, exact_lid))
is_(want_lid[1], want_lid[0], "directly, LAST_INSERT_ID() after an explicit id is the "
    "generated one")
is_(exact_lid[1], exact_lid[0], "with --exact-last-insert-id, LAST_INSERT_ID() first used "
    "after an insert with an explicit id is the earlier generated one")
ok(got_lid[1] in (got_lid[0], 90000), "by default it is that or the explicit id, as "
   "docs/pooling.md says (%r)" % (got_lid,))

# ---- CONNECTION_ID()
def processlist(connect):
    c = connect()
    rows, _ = q(c, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                   "WHERE ID = CONNECTION_ID()")
    c.close()
    return rows[0][0]


want, got = both(processlist)
is_(got, want, "PROCESSLIST WHERE ID = CONNECTION_ID() finds the session's row (a statement "
    "that reads the processlist keeps the function, whose ids are the backend's)")


def connid_view(connect):
    """CONNECTION_ID() in a view is the server's: the processlist id of the connection
    that runs it, which KILL takes (connid.t)."""
    c = connect()
    q(c, "CREATE OR REPLACE VIEW v_cid AS SELECT CONNECTION_ID() AS id")
    rows, _ = q(c, "SELECT (SELECT COUNT(*) FROM information_schema.PROCESSLIST p "
                   "WHERE p.ID = v_cid.id) FROM v_cid")
    c.close()
    return rows[0][0]


want, got = both(connid_view)
is_(got, want, "CONNECTION_ID() in a view names the processlist row of the connection "
    "that runs it")


def connid_type(connect):
    c = connect()
    _, desc = q(c, "SELECT CONNECTION_ID() + 1")
    c.close()
    return desc[0][1], desc[0][3]  # type, length


want, got = both(connid_type)
diag("CONNECTION_ID() + 1: (type, length) directly %r, through sluice %r (docs/pooling.md: "
     "the length is the literal's)" % (want, got))
is_(got[0], want[0], "CONNECTION_ID() + 1 is typed as MariaDB types it (BIGINT)")

# ---- the diagnostics area: SHOW WARNINGS and ROW_COUNT() after a statement. A statement
# that leaves warnings or an error keeps its connection for the session's next statement
# (--diag-keep-ms), which runs there when it reads them; ROW_COUNT() is the session's own
# (sluice writes it in).
def first_show_warnings(connect):
    """A session's first SHOW WARNINGS, beside another session of the account whose
    statement left a warning on the one connection (and that session's own, later)."""
    a = connect()
    q(a, "SELECT 'abc' + 1")
    b = connect()
    rows, _ = q(b, "SHOW WARNINGS")
    b.close()
    a.close()
    return rows


want, got = both(first_show_warnings)
is_(got, want, "a session's first SHOW WARNINGS shows no other session's warning")


def first_show_warnings_ac0(connect):
    """The same for a session with autocommit off (Python's DB-API default), whose
    statements reserve room to hold a connection before they run."""
    a = connect()
    q(a, "SELECT 'abc' + 1")
    b = connect(autocommit=False)
    rows, _ = q(b, "SHOW WARNINGS")
    b.rollback()
    b.close()
    a.close()
    return rows


want, got = both(first_show_warnings_ac0)
is_(got, want, "... also with autocommit off")


def diag_forms(connect):
    c = connect()
    out = []
    q(c, "SELECT 'abc' + 1")
    out.append(q(c, "SHOW WARNINGS")[0])
    out.append(q(c, "SHOW WARNINGS")[0])        # reading them keeps them
    out.append(q(c, "SELECT @@warning_count")[0])
    try:
        q(c, "SELEC 1")
    except lib.pymysql.MySQLError as e:
        out.append(e.args[0])
    out.append(q(c, "SHOW ERRORS")[0])
    out.append(q(c, "SHOW COUNT(*) ERRORS")[0])
    q(c, "SELECT * FROM t LIMIT 0")               # a statement that uses a table: cleared
    out.append(q(c, "SHOW WARNINGS")[0])
    c.close()
    return out


want, got = both(diag_forms)
is_(got, want, "SHOW WARNINGS (twice), @@warning_count, SHOW ERRORS, SHOW COUNT(*) ERRORS, "
    "and after a statement that clears them: as directly")


def kept_too_long(connect):
    """A session whose statement left a warning and then sat idle does not keep the one
    connection: another tenant's statement runs within the keep (500 ms) and a tick."""
    a = connect()
    q(a, "SELECT 'abc' + 1")
    t0 = time.time()
    o = s1.connect(B) if connect is not direct else direct(user=B.name, password=B.password)
    rows, _ = q(o, "SHOW WARNINGS")
    waited = time.time() - t0
    o.close()
    a.close()
    return rows, waited


want, got = both(kept_too_long)
diag("another tenant's first statement beside an idle session that kept the connection "
     "for its warnings: waited %.3f s (directly %.3f s)" % (got[1], want[1]))
ok(got[1] < 2.0, "an idle session keeps a connection for its warnings no longer than "
   "--diag-keep-ms (waited %.3f s)" % got[1])
is_(got[0], (), "... and the other tenant sees none of them")
lib.finish(s1)

s4 = lib.start_sluice([A], pool_size=4)
stop = []


def busy():
    c = s4.connect(A)
    while not stop:
        q(c, "SELECT 1")
    c.close()


def diagnostics(connect, n=100):
    """(SHOW WARNINGS right after a warning empty, ... after a statement between that uses
    no table empty, ROW_COUNT() after an UPDATE wrong), of n each"""
    c = connect()
    lost_warn = lost_later = wrong_rc = 0
    for _ in range(n):
        q(c, "SELECT 'abc' + 1")
        rows, _ = q(c, "SHOW WARNINGS")
        lost_warn += len(rows) != 1
        q(c, "SELECT 'abc' + 1")
        q(c, "SELECT 2")                       # no table: MariaDB keeps the warning
        rows, _ = q(c, "SHOW WARNINGS")
        lost_later += len(rows) != 1
        q(c, "UPDATE t SET v = v + 1 WHERE id < 1003")
        rows, _ = q(c, "SELECT ROW_COUNT()")
        wrong_rc += rows[0][0] != 3
    c.close()
    return lost_warn, lost_later, wrong_rc


want = diagnostics(direct)
threads = [threading.Thread(target=busy) for _ in range(8)]
for t in threads:
    t.start()
got = diagnostics(lambda: s4.connect(A))
stop.append(1)
for t in threads:
    t.join(30)
diag("of 100 each, SHOW WARNINGS empty / SHOW WARNINGS after SELECT 2 empty / ROW_COUNT() "
     "wrong: directly %r, through a pool of 4 beside 8 busy sessions %r" % (want, got))
is_(want, (0, 0, 0), "directly, SHOW WARNINGS and ROW_COUNT() always see the statement before")
is_(got[0], 0, "SHOW WARNINGS right after a statement sees its warning (%d of 100 empty)"
    % got[0])
is_(got[1], 0, "SHOW WARNINGS after a statement that uses no table still sees it (%d of 100 "
    "empty)" % got[1])
is_(got[2], 0, "ROW_COUNT() right after an UPDATE is its count (%d of 100 wrong)" % got[2])

# ROW_COUNT() in a server-side prepared statement (DBD::mysql), beside another session
# that runs its own UPDATE between the session's UPDATE and the execute: through a pool
# of 2, the session stays where the statement was prepared.
if subprocess.run(["perl", "-MDBD::mysql", "-e", "1"], capture_output=True).returncode != 0:
    lib.skip("ROW_COUNT() in a prepared statement", "DBD::mysql is not installed "
             "(Debian: libdbd-mysql-perl)")
else:
    s2p = lib.start_sluice([A], pool_size=2, extra_args=["--reserve-pool", "0"])
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rowcount_ps.pl")
    out = {}
    for how, host, port in (("directly", lib.MARIADB_HOST, lib.MARIADB_PORT),
                            ("through sluice", s2p.host, s2p.port)):
        r = subprocess.run(["perl", script, host, str(port), A.name, A.password, SCHEMA],
                           capture_output=True, text=True, timeout=120)
        out[how] = r.stdout.strip()
        if r.returncode != 0 or r.stderr.strip():
            diag("rowcount_ps.pl %s: exit %d, %s" % (how, r.returncode, r.stderr.strip()))
    diag("ROW_COUNT() in a prepared statement: directly %r, through sluice %r"
         % (out["directly"], out["through sluice"]))
    is_(out["through sluice"], out["directly"], "ROW_COUNT() in a server-side prepared "
        "statement is the session's previous statement's, as directly")
    lib.finish(s2p)


def row_count_forms(connect):
    c = connect()
    out = []
    for sql in ("UPDATE t SET v = v + 1 WHERE id < 1002", "SELECT 1",
                "INSERT INTO t (id, v) VALUES (1000, 0) ON DUPLICATE KEY UPDATE v = v + 1",
                "DO 1", "SELECT 'abc' + 1", "SELEC 1"):
        try:
            q(c, sql)
        except lib.pymysql.MySQLError:
            pass
        rows, desc = q(c, "SELECT ROW_COUNT(), ROW_COUNT() + 0 AS plus")
        out.append((sql, rows[0], desc[0][0], desc[0][1], desc[0][3]))
    c.close()
    return out


want, got = row_count_forms(direct), row_count_forms(lambda **kw: s4.connect(A, **kw))
for w, g in zip(want, got):
    is_(g, w, "ROW_COUNT() after %s: value, column name, type and width as directly" % w[0])
lib.finish(s4)
lib.done_testing()
