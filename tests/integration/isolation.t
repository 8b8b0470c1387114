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
#  2. pins_hold_every_connection: with a pool of 4, alice pins a connection from each of 4
#     sessions (SET @x, GET_LOCK, an open transaction) and goes idle; bob's SELECT 1 must
#     still finish at once (within 100 ms), with and without a reservation; alice's pins
#     beyond max_pinned get ERR 1226 naming the rule; an idle pinned session ends after
#     pinned_idle_timeout_ms, gives its connection back and rolls its transaction back.
#  3. left_mid_statement_state_leaks: alice, autocommit off, sends an INSERT, a SET @leak
#     and a SLEEP(2) in one go and disconnects after 0.5 s. Her backend connection must
#     not go back to the pool with the open transaction and the variable: the next
#     session (whose replay would commit it) sees no row and no @leak.
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
import qoslib  # noqa: E402
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
] + ["%s%s%s" % (chr(b), chr(b), "q") for b in range(1, 128)] + \
    ["%sq" % chr(0xDC00 + b) for b in range(128, 256)]  # raw bytes 128-255 (surrogateescape)


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


def close_all(conns):
    for c in conns:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


def bob_select_ms(s, bob):
    t0 = time.monotonic()
    cur = bob.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    return (time.monotonic() - t0) * 1000


def alice_pins(s, ways):
    """One alice session per statement in ways, all at once; returns (sessions, results)
    where each result is (error or None, seconds it took)."""
    sessions = [s.connect(ALICE, read_timeout=30) for _ in ways]
    results = [None] * len(ways)

    def run(i):
        t0 = time.monotonic()
        cur = sessions[i].cursor()
        err = lib.error_of(lambda: cur.execute(ways[i]))
        if err is None and ways[i] == "BEGIN":
            err = lib.error_of(lambda: cur.execute("INSERT INTO t VALUES (%d)" % i))
        results[i] = (err, time.monotonic() - t0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ways))]
    for t in threads:
        t.start()
    return sessions, results, threads


def long_statements_and_unread_results(s, bob):
    """Attack 2, without pins: alice fills the pool of 4 with long statements and with
    results she never reads. bob, who uses no connection, still starts at once."""
    sleepers = [s.connect(ALICE, read_timeout=30) for _ in range(4)]
    threads = [threading.Thread(target=lambda c=c: lib.error_of(
        lambda: c.cursor().execute("SELECT SLEEP(3)"))) for c in sleepers]
    for t in threads:
        t.start()
    busy = lib.wait_until(lambda: sum(1 for r in lib.backend_threads([ALICE.name])
                                      if r[4] and "SLEEP" in r[4]) == 4, 5)
    time.sleep(0.1)  # stuck: no connection came free for 50 ms (docs/pooling.md)
    ms = bob_select_ms(s, bob)
    ok(busy and ms < 100, "long_statements: bob's SELECT 1 beside 4 of alice's SLEEP(3) on a "
       "pool of 4: %.1f ms (< 100)" % ms)
    for t in threads:
        t.join(10)
    close_all(sleepers)
    # Results nobody reads: 4 clients ask for ~100 MB each and stop reading.
    hogs = []
    q = b"\x03SELECT REPEAT('x', 1000) FROM seq_1_to_100000"
    for _ in range(4):
        c = s.connect(ALICE, read_timeout=30)
        c._sock.sendall(len(q).to_bytes(3, "little") + b"\x00" + q)  # and never read
        hogs.append(c)
    paused = lib.wait_until(lambda: qoslib.stats(s)[ALICE.name]["active"] == 4, 5)
    time.sleep(0.1)  # stuck, as above
    ms = bob_select_ms(s, bob)
    ok(paused and ms < 100, "unread_results: bob's SELECT 1 beside 4 of alice's unread "
       "results on a pool of 4: %.1f ms (< 100)" % ms,
       "alice active: %r" % (qoslib.stats(s)[ALICE.name],))
    for c in hogs:
        try:
            c._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    close_all(hogs)


def at_once(conns, sql):
    """Run sql on every connection at the same time; wait for all."""
    threads = [threading.Thread(target=lambda c=c: c.cursor().execute(sql)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)


def abandon_sleep(s):
    """alice sends SELECT SLEEP(20) and disconnects once it runs: (it ran, it is gone from
    the processlist within 10 s, seconds from the disconnect until gone)."""
    def running():
        return [r for r in lib.backend_threads([ALICE.name]) if r[4] and "SLEEP(20)" in r[4]]

    c = s.connect(ALICE)
    q = b"\x03SELECT SLEEP(20)"
    c._sock.sendall(len(q).to_bytes(3, "little") + b"\x00" + q)
    sleeping = lib.wait_until(running, 5)
    t0 = time.monotonic()
    c._sock.shutdown(socket.SHUT_RDWR)
    close_all([c])
    gone = lib.wait_until(lambda: not running(), 10)
    return bool(sleeping), bool(gone), time.monotonic() - t0


def left_statement_killed(s):
    """Attack 3's other half: a statement left behind does not run on. alice starts a
    SLEEP(20) and disconnects; sluice KILLs the query, from an idle connection of hers or
    from another account's switched to her."""
    # The unread results before are drained (or killed) first: the pool is alice's again.
    lib.wait_until(lambda: not [r for r in lib.backend_threads([ALICE.name]) if r[2] != "Sleep"],
                   30)
    warm = [s.connect(ALICE) for _ in range(2)]
    at_once(warm, "SELECT SLEEP(0.3)")  # two idle connections of alice's afterwards
    close_all(warm)
    sleeping, gone, took = abandon_sleep(s)
    ok(sleeping and gone and took < 2,
       "left_statement_killed: the abandoned SLEEP(20) is killed on the backend (%.2f s)"
       % took, "sleeping=%r gone=%r" % (sleeping, gone))
    # Again with only bob's connections idle: one is switched to alice to send the KILL.
    bobs = [s.connect(BOB) for _ in range(4)]
    at_once(bobs, "SELECT SLEEP(0.3)")
    close_all(bobs)
    idle_users = sorted(r[1] for r in lib.backend_threads([ALICE.name, BOB.name]))
    sleeping, gone, took = abandon_sleep(s)
    ok(sleeping and gone and took < 2 and ALICE.name not in idle_users,
       "left_statement_killed: ... also when only another account's connections are idle "
       "(one switched to alice for the KILL: %.2f s)" % took,
       "idle before: %r sleeping=%r gone=%r" % (idle_users, sleeping, gone))


def pins_hold_every_connection(s):
    """Attack 2: alice's pinned sessions try to take the whole pool of 4."""
    lib.root_sql("CREATE TABLE IF NOT EXISTS `%s`.t (v INT)" % ADB)
    st, _ = qoslib.api(s, "PATCH", "/v1/accounts/" + ALICE.name, {"queue_timeout_ms": 1500})
    ok(st == 200, "pins_hold_every_connection: PATCH alice queue_timeout_ms 1500")
    bob = s.connect(BOB, read_timeout=10)
    bob_select_ms(s, bob)  # logged in and warm
    ways = ["SET @`x y` = 1", "SELECT GET_LOCK('t_iso_pin', 0)", "BEGIN",
            "CREATE TEMPORARY TABLE tt (v INT)"]
    sessions, results, threads = alice_pins(s, ways)
    lib.wait_until(lambda: sum(r is not None for r in results) >= 2, 10)
    ms = bob_select_ms(s, bob)
    ok(ms < 100, "pins_hold_every_connection: bob's SELECT 1 beside alice's pins: %.1f ms "
       "(< 100)" % ms)
    for t in threads:
        t.join(30)
    diag("alice's four pins: %r" % (results,))
    held = [r for r in results if r[0] is None]
    refused = [r for r in results if r[0] is not None]
    ok(len(held) == 2 and all(e[0] == 1226 and "max_pinned" in e[1] and ALICE.name in e[1]
                              and secs >= 1.4 for e, secs in refused),
       "pins_hold_every_connection: alice holds 2 of 4 (the automatic cap); the other two "
       "wait queue_timeout_ms, then get ERR 1226 naming the account and max_pinned",
       "results: %r" % (results,))
    # A waiting session goes on as soon as a holding one lets go.
    holder = next(c for c, r in zip(sessions, results) if r[0] is None)
    waiter_box = []
    waiter = s.connect(ALICE, read_timeout=30)

    def wait_then_begin():
        t0 = time.monotonic()
        err = lib.error_of(lambda: waiter.cursor().execute("BEGIN"))
        waiter_box.append((err, time.monotonic() - t0))

    t = threading.Thread(target=wait_then_begin)
    t.start()
    time.sleep(0.3)
    t_release = time.monotonic()
    holder.close()
    t.join(10)
    took = time.monotonic() - t_release
    ok(waiter_box and waiter_box[0][0] is None and took < 0.5,
       "pins_hold_every_connection: a waiting BEGIN runs once a holder leaves (%.0f ms after)"
       % (took * 1000), "%r" % (waiter_box,))
    close_all([waiter] + sessions)
    lib.wait_until(lambda: qoslib.stats(s)[ALICE.name]["pinned"] == 0, 10)
    # With a reservation of 2 for bob, alice may hold 4 - 2 = 2 at most, even with a
    # max_pinned of 4 (the reservation holds against pins).
    st, _ = qoslib.api(s, "PATCH", "/v1/accounts/" + BOB.name, {"reservation": 2})
    st2, body = qoslib.api(s, "PATCH", "/v1/accounts/" + ALICE.name, {"max_pinned": 4})
    ok(st == 200 and st2 == 200 and body.get("max_pinned") == 4,
       "pins_hold_every_connection: PATCH reservation 2 (bob), max_pinned 4 (alice)",
       "%r %r %r" % (st, st2, body))
    sessions, results, threads = alice_pins(s, ["BEGIN"] * 4)
    lib.wait_until(lambda: sum(r is not None for r in results) >= 2, 10)
    ms = max(bob_select_ms(s, bob) for _ in range(5))
    ok(ms < 100, "pins_hold_every_connection: bob's SELECT 1, reservation 2: %.1f ms" % ms)
    for t in threads:
        t.join(30)
    ok(sum(r[0] is None for r in results) == 2,
       "pins_hold_every_connection: bob's reservation of 2 leaves alice 2 transactions",
       "results: %r" % (results,))
    close_all(sessions)
    lib.wait_until(lambda: qoslib.stats(s)[ALICE.name]["pinned"] == 0, 10)
    qoslib.api(s, "PATCH", "/v1/accounts/" + BOB.name, {"reservation": 0})
    st, body = qoslib.api(s, "GET", "/v1/stats")
    rej = [a for a in body["accounts"] if a["name"] == ALICE.name][0]["rejected"]
    ok(rej.get("max_pinned") == 4, "pins_hold_every_connection: /v1/stats counts 4 max_pinned "
       "rejections", "%r" % (rej,))
    # pinned_idle_timeout_ms: an idle transaction gives its connection back.
    st, body = qoslib.api(s, "PATCH", "/v1/accounts/" + ALICE.name,
                          {"max_pinned": 0, "pinned_idle_timeout_ms": 300})
    ok(st == 200 and body.get("pinned_idle_timeout_ms") == 300,
       "pins_hold_every_connection: PATCH pinned_idle_timeout_ms 300", "%r %r" % (st, body))
    long_statements_and_unread_results(s, bob)
    left_statement_killed(s)
    lib.root_sql("DELETE FROM `%s`.t" % ADB)
    idler = s.connect(ALICE, read_timeout=10)
    icur = idler.cursor()
    icur.execute("BEGIN")
    icur.execute("INSERT INTO t VALUES (42)")
    tid = lib.root_sql("SELECT t.trx_mysql_thread_id FROM information_schema.INNODB_TRX t"
                       " JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id"
                       " WHERE p.USER = %s", (ALICE.name,))
    tid = [r[0] for r in tid]
    gone = lib.wait_until(lambda: not (set(tid) & set(r[0] for r in
                                                      lib.backend_threads([ALICE.name]))), 5)
    ok(len(tid) == 1 and gone,
       "pinned_idle_timeout_ms: the idle transaction's backend connection closed",
       "its thread: %r, alice's now: %r" % (tid, lib.backend_threads([ALICE.name])))
    rows = lib.root_sql("SELECT COUNT(*) FROM `%s`.t" % ADB)[0][0]
    is_(rows, 0, "pinned_idle_timeout_ms: its transaction was rolled back")
    err = lib.error_of(lambda: icur.execute("SELECT 1"))
    ok(err is not None and err[0] == 1927 and "pinned_idle_timeout_ms" in err[1],
       "pinned_idle_timeout_ms: its next statement gets ERR 1927 naming the rule",
       "got %r" % (err,))
    qoslib.api(s, "PATCH", "/v1/accounts/" + ALICE.name, {"pinned_idle_timeout_ms": 60000})
    bob.close()


def left_mid_statement_state_leaks(s):
    lib.root_sql("CREATE TABLE IF NOT EXISTS `%s`.t (v INT)" % ADB)
    lib.root_sql("DELETE FROM `%s`.t" % ADB)
    c = s.connect(ALICE, autocommit=False,
                  client_flag=lib.pymysql.constants.CLIENT.MULTI_STATEMENTS)
    cur = c.cursor()
    cur.execute("SELECT @@autocommit")
    is_(cur.fetchone()[0], 0, "left_mid_statement_state_leaks: autocommit is off")
    box = []
    t = threading.Thread(target=lambda: box.append(lib.error_of(lambda: cur.execute(
        "INSERT INTO t VALUES (7); SET @leak = 'left'; SELECT SLEEP(2)"))))
    t.start()
    time.sleep(0.5)
    c._sock.shutdown(socket.SHUT_RDWR)
    t.join(10)
    # The next session of the account, on the pool's one connection once it is free.
    nxt = s.connect(ALICE)
    ncur = nxt.cursor()
    ncur.execute("SELECT @leak, @@autocommit")
    leak, ac = ncur.fetchone()
    ncur.execute("SELECT COUNT(*) FROM t")
    rows = ncur.fetchone()[0]
    root_rows = lib.root_sql("SELECT COUNT(*) FROM `%s`.t" % ADB)[0][0]
    ok(leak is None and ac == 1,
       "left_mid_statement_state_leaks: the next session sees no @leak, autocommit on",
       "@leak=%r autocommit=%r" % (leak, ac))
    ok(rows == 0 and root_rows == 0,
       "left_mid_statement_state_leaks: the abandoned transaction's row is not there",
       "through sluice %r, on MariaDB %r" % (rows, root_rows))
    nxt.close()


s = lib.start_sluice([ALICE, BOB, CAROL], pool_size=1)
lib.check("replayed_value_runs_as_sql: attack runs", lambda: replayed_value_runs_as_sql(s) or True)
lib.check("hostile values", lambda: hostile_values_read_back(s) or True)
lib.check("left_mid_statement_state_leaks: attack runs",
          lambda: left_mid_statement_state_leaks(s) or True)
lib.finish(s)

s = lib.start_sluice([ALICE, BOB], pool_size=4)
lib.check("pins_hold_every_connection: attack runs",
          lambda: pins_hold_every_connection(s) or True)
lib.finish(s)
lib.done_testing()
