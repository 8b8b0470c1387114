#!/usr/bin/env python3
# isolation.t: what a hostile tenant sends to read, block or outlast another (issue 11).
# Two tenants on one MariaDB: alice, who owns t_iso_adb.secrets, and bob, who may not
# read it. Each attack below once worked against sluice; each check is named after it.
#
#  1. replayed_value_runs_as_sql: bob SETs a session variable whose value starts with
#     "@@global." and goes on as SQL, then changes his own backend password so that the
#     next switch of a connection to bob is refused while it is still logged in as
#     alice. The replayed SET must run nothing (a blind read of alice's secret through
#     GET_LOCK), and hostile values must read back as they were set, on another backend
#     session, under NO_BACKSLASH_ESCAPES and ANSI_QUOTES too, with nothing but the SET
#     in MariaDB's general log.
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

ADB = lib.create_schema("t_iso_adb")
BDB = lib.create_schema("t_iso_bdb")
ALICE = lib.Account("t_iso_alice", "pw-iso-alice", schemas=[ADB])
BOB = lib.Account("t_iso_bob", "pw-iso-bob", schemas=[BDB])
CAROL = lib.Account("t_iso_carol", "pw-iso-carol", schemas=[BDB])
SECRET = "alice-secret-4711"
LOCK = "t_iso_leakbit"

lib.root_sql("DROP TABLE IF EXISTS `%s`.secrets" % ADB)
lib.root_sql("CREATE TABLE `%s`.secrets (s VARCHAR(64))" % ADB)
lib.root_sql("INSERT INTO `%s`.secrets VALUES (%%s)" % ADB, (SECRET,))


def lock_holder():
    return lib.root_sql("SELECT IS_USED_LOCK(%s)", (LOCK,))[0][0]


def replayed_value_runs_as_sql(s):
    """Attack 1: the payload would take LOCK as alice when alice's secret starts with
    'alice-s'. Pool of 1, so every account switch happens on the one connection."""
    payload = ("@@global.version,@z:=IF((SELECT s FROM %s.secrets LIMIT 1) LIKE 'alice-s%%',"
               "GET_LOCK('%s',0)+SLEEP(3),0)" % (ADB, LOCK))
    bob = s.connect(BOB)
    cur = bob.cursor()
    cur.execute("SET SESSION default_master_connection = %s", (payload,))
    cur.execute("SELECT @@default_master_connection")
    is_(cur.fetchone()[0], payload, "replayed_value_runs_as_sql: bob's value as he set it")
    # bob's own backend password changes under sluice: the next switch to bob is refused.
    cur.execute("SET PASSWORD = PASSWORD('pw-iso-bob-changed')")
    alice = s.connect(ALICE)
    acur = alice.cursor()
    acur.execute("SELECT s FROM secrets")  # the connection is alice's now
    err = lib.error_of(lambda: cur.execute("SELECT 1"))
    ok(err is not None and err[0] == 1045,
       "replayed_value_runs_as_sql: the refused switch gives bob a clear error",
       "got %r" % (err,))
    holders = set()
    t_end = time.monotonic() + 1.5
    while time.monotonic() < t_end:
        h = lock_holder()
        if h is not None:
            holders.add(h)
        time.sleep(0.05)
    ok(not holders, "replayed_value_runs_as_sql: nothing of bob's ran as alice (no lock taken)",
       "IS_USED_LOCK(%r) was held by backend thread(s) %r: alice's secret leaked"
       % (LOCK, sorted(holders)))
    # alice's session goes on unharmed.
    acur.execute("SELECT s FROM secrets")
    is_(acur.fetchone()[0], SECRET, "replayed_value_runs_as_sql: alice still served")
    lib.root_sql("SET PASSWORD FOR %s@'%%' = PASSWORD(%s)", (BOB.name, BOB.password))
    for c in (bob, alice):
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


def literal(v):
    """v as a SQL literal that needs no backslash escapes (any sql_mode)."""
    if "\\" in v or any(ord(ch) < 32 or ord(ch) > 126 for ch in v):
        return "X'%s'" % v.encode("utf-8", "surrogateescape").hex()
    return "'" + v.replace("'", "''") + "'"


HOSTILE = [
    "plain",
    "it's",
    "''; SELECT 1; --",
    "\\'; SELECT 2; #",
    "a\\\\b\\",
    "x\"y`z",
    "/* c */ v -- d",
    "; DO SLEEP(5)",
    "@@global.version",
    "@@global.version,@w:=1",
    "x" * 191,
    "é ü ñ",
    "\n\t\r",
    "NULL'",
    "-1 OR 1",
] + ["%s%s%s" % (chr(b), chr(b), "q") for b in range(1, 128)]


def hostile_values_read_back(s):
    """Attack 1's property: every hostile value reads back as MariaDB itself returns it,
    after the connection served another session of the same account (whose sql_mode
    differs, so the replay is parsed under both modes), with only SETs in the log."""
    direct = lib.pymysql.connect(host=lib.MARIADB_HOST, port=lib.MARIADB_PORT, user=CAROL.name,
                                 password=CAROL.password, autocommit=True, charset="utf8mb4")
    dcur = direct.cursor()
    a = s.connect(CAROL)
    b = s.connect(CAROL)
    acur, bcur = a.cursor(), b.cursor()
    acur.execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES'")
    output = lib.root_sql("SELECT @@global.log_output")[0][0]
    lib.root_sql("SET GLOBAL general_log = OFF")
    lib.root_sql("TRUNCATE mysql.general_log")
    lib.root_sql("SET GLOBAL log_output = 'TABLE'")
    lib.root_sql("SET GLOBAL general_log = ON")
    bad = []
    checked = 0
    try:
        for v in HOSTILE:
            w = v + "#b"
            try:
                want = []
                for x in (v, w):
                    dcur.execute("SET SESSION default_master_connection = " + literal(x))
                    dcur.execute("SELECT HEX(@@default_master_connection)")
                    want.append(dcur.fetchone()[0])
            except lib.pymysql.err.MySQLError:
                continue  # MariaDB itself refuses this one
            checked += 1
            acur.execute("SET SESSION default_master_connection = " + literal(v))
            # b's value and sql_mode take the connection over (b's replay parsed under
            # a's NO_BACKSLASH_ESCAPES,ANSI_QUOTES)...
            bcur.execute("SET SESSION default_master_connection = " + literal(w))
            bcur.execute("SELECT HEX(@@default_master_connection), @@sql_mode")
            bv = bcur.fetchone()
            # ... and a's replay (parsed under b's default sql_mode) brings v back.
            acur.execute("SELECT HEX(@@default_master_connection), @@sql_mode")
            av = acur.fetchone()
            if (av[0], bv[0]) != tuple(want) or "ANSI_QUOTES" in bv[1] or \
                    av[1] != "ANSI_QUOTES,NO_BACKSLASH_ESCAPES":
                bad.append((v, want, av, bv))
    finally:
        lib.root_sql("SET GLOBAL general_log = OFF")
    ok(checked >= 100 and not bad,
       "replayed_value_runs_as_sql: %d hostile values read back as set, after a replay"
       % checked, "first mismatches (value, want, a's, b's): %r" % (bad[:3],))
    log = lib.root_sql("SELECT argument FROM mysql.general_log WHERE command_type = 'Query'"
                       " AND user_host LIKE %s", (CAROL.name + "%",))
    others = [r[0] for r in log
              if not (r[0].startswith("SET") or r[0].startswith("SELECT HEX(@@default")
                      or r[0].startswith("SELECT @@default"))]
    ok(len(log) > 0 and not others,
       "replayed_value_runs_as_sql: the general log holds only the SETs and the reads",
       "%d queries, others: %r" % (len(log), others[:5]))
    lib.root_sql("TRUNCATE mysql.general_log")
    lib.root_sql("SET GLOBAL log_output = %s", (output,))
    for c in (a, b, direct):
        c.close()


s = lib.start_sluice([ALICE, BOB, CAROL], pool_size=1)
lib.check("replayed_value_runs_as_sql: attack runs", lambda: replayed_value_runs_as_sql(s) or True)
lib.check("hostile values", lambda: hostile_values_read_back(s) or True)
lib.finish(s)
lib.done_testing()
