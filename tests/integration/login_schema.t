#!/usr/bin/env python3
# login_schema.t (issue 12, symptom 8): a login that names a schema is answered as
# MariaDB answers it. MariaDB refuses the handshake with ERR 1049 (42000) "Unknown
# database" when the schema does not exist and with ERR 1044 (42000) "Access denied ... to
# database" when the account may not use it; sluice used to say OK and let the client find
# out at its first statement (or never). Each refusal is compared with MariaDB's own
# answer to the same login made directly, through pymysql and through the mariadb CLI
# (-D). A good schema still logs in. sluice remembers schemas it saw work for an account
# for a moment only: a schema dropped since is refused again soon (bounded wait).
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

import pymysql  # noqa: E402

lib.require_sandbox()

GOOD = lib.create_schema("t_login_good")
OTHER = lib.create_schema("t_login_other")  # exists; U has no grant on it
GONE = lib.create_schema("t_login_gone")  # dropped during the test
MISSING = "t_login_nosuchdb"
lib.drop_schema(MISSING)
U = lib.Account("t_login_u", "pw-login-u", schemas=[GOOD, GONE])
V = lib.Account("t_login_v", "pw-login-v", schemas=[GOOD])  # COM_CHANGE_USER's target
s = lib.start_sluice([U, V], pool_size=4)
# MariaDB checks the grant before the schema: only an account that could use the missing
# schema hears that it does not exist (1049); any other hears 1044.
lib.root_sql("GRANT SELECT ON `t\\_login\\_nosuch%%`.* TO %s@'%%'", (U.name,))


def login_error(host, port, db):
    """(errno, message) of a pymysql login as U naming db, or None when it logged in (and
    then its first statement answered DATABASE() == db)."""
    try:
        c = pymysql.connect(host=host, port=port, user=U.name, password=U.password,
                            database=db, connect_timeout=10, read_timeout=30,
                            autocommit=None)  # nothing sent at connect: the login alone
    except pymysql.err.MySQLError as e:
        return (e.args[0], str(e.args[1])) if len(e.args) >= 2 else (None, str(e))
    try:
        with c.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            got = cur.fetchone()[0]
        return None if got == db else ("logged in, but DATABASE() is %r" % got,)
    except pymysql.err.MySQLError as e:
        return ("logged in; first statement: %r" % (e.args,),)
    finally:
        c.close()


def direct_error(db):
    return login_error(lib.MARIADB_HOST, lib.MARIADB_PORT, db)


def sluice_error(db):
    return login_error(s.host, s.port, db)


# 1049: the schema does not exist.
want = direct_error(MISSING)
diag("MariaDB directly: %r" % (want,))
ok(want is not None and want[0] == 1049, "directly: a missing schema is ERR 1049 at login")
is_(sluice_error(MISSING), want, "through sluice: the same ERR 1049 and text at login")

# 1044: the schema exists but the account has no grant on it.
want = direct_error(OTHER)
diag("MariaDB directly: %r" % (want,))
ok(want is not None and want[0] == 1044, "directly: a schema without a grant is ERR 1044")
is_(sluice_error(OTHER), want, "through sluice: the same ERR 1044 and text at login")

# Good schemas still log in, repeatedly (the second one may be answered from memory).
for i in range(3):
    is_(sluice_error(GOOD), None, "through sluice: a good schema logs in (%d)" % (i + 1))
is_(sluice_error(None), None, "through sluice: no schema logs in")


def cli_error(host, port, db, *opts):
    r = subprocess.run(["mariadb", "--no-defaults", "-h", host, "-P", str(port), "-u", U.name,
                        "-p" + U.password] + list(opts) +
                       ["-D", db, "-N", "-B", "-e", "SELECT DATABASE()"],
                       capture_output=True, text=True, timeout=30)
    return (r.returncode, r.stdout.strip(), r.stderr.strip())


for db, what, opts in ((MISSING, "missing schema", ()), (OTHER, "schema without a grant", ()),
                       (GOOD, "good schema", ()), (MISSING, "missing schema", ("--compress",)),
                       (GOOD, "good schema", ("--compress",))):
    want = cli_error(lib.MARIADB_HOST, lib.MARIADB_PORT, db, *opts)
    got = cli_error(s.host, s.port, db, *opts)
    diag("mariadb %s-D %s directly: %r; through sluice: %r" % ("".join(o + " " for o in opts),
                                                               db, want, got))
    is_(got, want, "mariadb %s-D %s (%s): sluice answers as MariaDB does"
        % ("".join(o + " " for o in opts), db, what))

# COM_CHANGE_USER naming a schema: MariaDB refuses it with the same errors, and the
# session goes on as the user before, in its schema (a user variable is gone: the session
# was reset), as through libmariadb's mysql_change_user().
prog = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                    "tests", "integration", "changeuser")
if not os.path.exists(prog):
    lib.bail_out("%s is missing: build it with make check" % prog)


def change_user(host, port, user, db):
    r = subprocess.run([prog, host, str(port), U.name, U.password, GOOD, user.name,
                        user.password, db], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout.splitlines(), r.stderr.strip()


for user, db, what in ((V, MISSING, "a missing schema"), (V, OTHER, "a schema without a grant"),
                       (U, MISSING, "a missing schema, same user"), (V, GOOD, "a good schema")):
    want = change_user(lib.MARIADB_HOST, lib.MARIADB_PORT, user, db)
    got = change_user(s.host, s.port, user, db)
    diag("COM_CHANGE_USER to %s, %s: %r" % (user.name, db, got[1]))
    is_(got, want, "COM_CHANGE_USER to %s naming %s: answered, and the session after it, "
        "as MariaDB does" % (user.name, what))

# A schema that worked a moment ago and was dropped since is refused again: sluice's
# memory of good schemas does not outlive the schema (it is bounded in time).
is_(sluice_error(GONE), None, "through sluice: a schema about to be dropped logs in")
lib.drop_schema(GONE)
want = direct_error(GONE)
got = lib.wait_until(lambda: sluice_error(GONE) == want, 10)
ok(got, "through sluice: the dropped schema is refused (ERR 1049) within 10 s",
   lambda: "last answer: %r, MariaDB's: %r" % (sluice_error(GONE), want))

# A login is never made to wait behind the pool's statements: with every backend
# connection busy, a schema not seen lately is not checked (it would show at the first
# statement), and the login is answered at once.
FRESH = lib.create_schema("t_login_fresh")
lib.root_sql("GRANT ALL ON `%s`.* TO %%s@'%%%%'" % FRESH, (U.name,))
busy = [s.connect(U) for _ in range(4)]
sleepers = [threading.Thread(target=lambda c=c: c.cursor().execute("SELECT SLEEP(3)"))
            for c in busy]
for th in sleepers:
    th.start()
lib.wait_until(lambda: len([r for r in lib.backend_threads([U.name]) if r[2] == "Query"
                            and r[4] and "SLEEP" in r[4]]) >= 4, 10)
fresh, secs = lib.timed(lambda: pymysql.connect(
    host=s.host, port=s.port, user=U.name, password=U.password, database=FRESH,
    connect_timeout=10, read_timeout=30, autocommit=None))
ok(secs < 1.5, "with every backend connection busy (4 x SLEEP(3)), a login naming a new "
   "schema is answered at once (%.3f s)" % secs)
for th in sleepers:
    th.join(30)
with fresh.cursor() as cur:
    cur.execute("SELECT DATABASE()")
    is_(cur.fetchone(), (FRESH,), "... and its session is in that schema")
fresh.close()
for c in busy:
    c.close()
lib.drop_schema(FRESH)

# The sessions that logged in work; the refused ones left nothing behind.
c = s.connect(U, database=GOOD)
with c.cursor() as cur:
    cur.execute("SELECT DATABASE(), 1")
    is_(cur.fetchone(), (GOOD, 1), "a session after the refusals runs statements")
c.close()

lib.finish(s)
lib.drop_schema(GOOD)
lib.drop_schema(OTHER)
lib.drop_user(U.name)
lib.drop_user(V.name)
lib.done_testing()
