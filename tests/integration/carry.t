#!/usr/bin/env python3
# carry.t: what a session carries from one pooled connection to the next (issue 12,
# symptoms 3 and 5). LAST_INSERT_ID() and user variables live on the backend connection
# that set them; sluice reads them back when the connection goes back to the pool and
# sets them again where the session's next statement runs that names them, so that
#  - INSERT INTO child (pid) VALUES (LAST_INSERT_ID()) inserts the session's own id (it
#    inserted 0 once the connection had served someone else: silent data corruption),
#    in every form MariaDB defines (multi-row insert, a failed insert, an explicit id,
#    LAST_INSERT_ID(expr), SET last_insert_id);
#  - user variables keep their value, type and character set, and no longer pin: 16
#    sessions running 50 transactions each with SET @x inside, through a pool of 4, all
#    finish (12 of them waited for ever for a connection the pinned ones never freed).
# Values set before a transaction are there inside it (the connection is held from BEGIN
# on). Each step runs straight against MariaDB and through sluice with a pool of ONE
# connection, with another session of the same account and one of another account
# running inserts and SETs on that connection between the steps; every answer (values,
# column names and types) must be the same.
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

SCHEMA = lib.create_schema("t_carry")
A = lib.Account("t_carry_a", "pw-carry-a", schemas=[SCHEMA])
B = lib.Account("t_carry_b", "pw-carry-b", schemas=[SCHEMA])

lib.root_sql("CREATE OR REPLACE TABLE %s.parent (id INT AUTO_INCREMENT PRIMARY KEY, v INT) "
             "AUTO_INCREMENT=1000" % SCHEMA)
lib.root_sql("CREATE OR REPLACE TABLE %s.child (id INT AUTO_INCREMENT PRIMARY KEY, pid BIGINT) "
             "AUTO_INCREMENT=1" % SCHEMA)
lib.root_sql("CREATE OR REPLACE TABLE %s.tx (id INT AUTO_INCREMENT PRIMARY KEY, who INT, n INT)"
             % SCHEMA)

# The steps: (statement, read back?). A step's answer is its rows and the names and
# types of its columns, or its error code; "churn" lets the others use the connection.
STEPS = [
    "INSERT INTO parent (v) VALUES (1)",
    "churn",
    "INSERT INTO child (pid) VALUES (LAST_INSERT_ID())",
    "SELECT pid FROM child ORDER BY id DESC LIMIT 1",
    "churn",
    "SELECT LAST_INSERT_ID()",
    "INSERT INTO parent (v) VALUES (2), (3), (4)",
    "churn",
    "select last_insert_id()",
    "INSERT INTO parent (id, v) VALUES (1000, 9)",  # 1062: keeps the value
    "churn",
    "SELECT LAST_INSERT_ID() AS after_failed_insert",
    "INSERT INTO parent (id, v) VALUES (5000, 1)",  # an explicit id: keeps it too
    "churn",
    "SELECT LAST_INSERT_ID() AS after_explicit_id",
    "UPDATE parent SET v = LAST_INSERT_ID(v + 100) WHERE id = 1000",
    "churn",
    "SELECT LAST_INSERT_ID(), 1 + LAST_INSERT_ID()",
    "SELECT LAST_INSERT_ID(42)",
    "churn",
    "SELECT LAST_INSERT_ID()",
    "SET last_insert_id = 7",
    "churn",
    "INSERT INTO child (pid) VALUES (LAST_INSERT_ID())",
    "SELECT pid FROM child ORDER BY id DESC LIMIT 1",
    # user variables: value, type and character set
    "SET @a = 5, @b = 'h\u00e9llo', @c = 1.50, @d = 0.1e0 + 0.2e0, @e = X'00FF10', "
    "@f = NULL, @g = 18446744073709551615, @h = CONVERT('\u00e9' USING latin1), "
    "@i = -3, @j = 1e300",
    "churn",
    "SELECT @a, @b, @c, @d, HEX(@e), @f, @g, HEX(@h), CHARSET(@h), COLLATION(@b), @i, @j, "
    "@a + 1, @c * 2, CONCAT(@b, '!')",
    "SELECT @s := 'assigned in a select'",
    "churn",
    "SELECT @s, @S",
    "SELECT v INTO @into FROM parent WHERE id = 1000",
    "churn",
    "SELECT @into",
    "SET @a = NULL",
    "churn",
    "SELECT @a, @b",
    # set before a transaction, read inside it (the connection is held from BEGIN on)
    "INSERT INTO parent (v) VALUES (5)",
    "SET @pre = 'before the transaction'",
    "churn",
    "BEGIN",
    "SELECT @pre",
    "INSERT INTO child (pid) VALUES (LAST_INSERT_ID())",
    "SELECT pid FROM child ORDER BY id DESC LIMIT 1",
    "COMMIT",
    "BEGIN",
    "SET @t = 11",
    "INSERT INTO child (pid) VALUES (@t)",
    "COMMIT",
    "churn",
    "SELECT @t, LAST_INSERT_ID()",
    "SELECT @never_set",
    # after the others' SET NAMES: still what this session's handshake said
    "SELECT @@character_set_client, @@character_set_results, @@collation_connection, "
    "'h\u00e9llo \U0001F42C'",
]


def churn(s, accounts):
    """Others use the connection: inserts, user variables, LAST_INSERT_ID(expr), and a
    SET NAMES to what their handshake said already, as PHP's set_charset() does (tracked
    as set, so replayed away afterwards: to DEFAULT, the server's latin1, it once was)."""
    for acc in accounts:
        c = s.connect(acc)
        cur = c.cursor()
        cur.execute("SET NAMES utf8mb4")
        cur.execute("INSERT INTO parent (v) VALUES (77), (78)")
        cur.execute("SET @a = 'churn', @b = 'churn', @s = 'churn', @t = 99, @into = 1, "
                    "@never_set = 'churn'")
        cur.execute("SELECT LAST_INSERT_ID(555)")
        cur.fetchall()
        c.close()


def run(port_connect, do_churn):
    c = port_connect(A)
    cur = c.cursor()
    out = []
    for sql in STEPS:
        if sql == "churn":
            do_churn()
            continue
        try:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
            cols = [(d[0], d[1]) for d in cur.description] if cur.description else []
            out.append((sql, repr(cols), repr(rows), c.insert_id()))
        except lib.pymysql.MySQLError as e:
            out.append((sql, "error %d" % e.args[0], "", 0))
    c.close()
    return out


def reset_tables():
    lib.root_sql("DELETE FROM %s.parent" % SCHEMA)
    lib.root_sql("DELETE FROM %s.child" % SCHEMA)
    lib.root_sql("ALTER TABLE %s.parent AUTO_INCREMENT = 1000" % SCHEMA)
    lib.root_sql("ALTER TABLE %s.child AUTO_INCREMENT = 1" % SCHEMA)


class Direct:
    def connect(self, acc, **kw):
        args = dict(host=lib.MARIADB_HOST, port=lib.MARIADB_PORT, user=acc.name,
                    password=acc.password, database=SCHEMA, autocommit=True,
                    charset="utf8mb4", connect_timeout=10, read_timeout=60)
        args.update(kw)
        return lib.pymysql.connect(**args)


s = lib.start_sluice([A, B], pool_size=1, extra_args=["--reserve-pool", "0"])
direct = Direct()
want = run(direct.connect, lambda: churn(direct, [B, A]))
reset_tables()
got = run(s.connect, lambda: churn(s, [B, A]))
for w, g in zip(want, got):
    is_(g[1:], w[1:], "as directly: " + w[0][:70])
is_(len(got), len(want), "every step answered")

# ---- a user variable read by a trigger, not by the statement's own text ----
# (a review found it: a session that never set @app_user inserted with another session's
# value left on the connection)
lib.root_sql("CREATE OR REPLACE TABLE %s.audited (id INT AUTO_INCREMENT PRIMARY KEY, v INT, "
             "who VARCHAR(40))" % SCHEMA)
lib.root_sql("CREATE OR REPLACE TRIGGER %s.audit_who BEFORE INSERT ON %s.audited "
             "FOR EACH ROW SET NEW.who = @app_user" % (SCHEMA, SCHEMA))


def trigger_reads(connect):
    x = connect(A)
    q_ = x.cursor()
    q_.execute("SET @app_user = 'alice'")
    q_.execute("INSERT INTO audited (v) VALUES (1)")
    x.close()
    y = connect(A)
    cur = y.cursor()
    cur.execute("INSERT INTO audited (v) VALUES (2)")
    cur.execute("SET @app_user = 'bob'")
    y2 = connect(A)  # takes the connection bob's SET left, then bob goes on elsewhere
    y2.cursor().execute("SELECT 1")
    cur.execute("INSERT INTO audited (v) VALUES (3)")
    y2.close()
    y.close()
    cur = connect(A).cursor()
    cur.execute("SELECT v, who FROM audited ORDER BY v")
    rows = cur.fetchall()
    lib.root_sql("DELETE FROM %s.audited" % SCHEMA)
    return rows


want = trigger_reads(direct.connect)
got = trigger_reads(s.connect)
is_(got, want, "a trigger reads the session's own user variable, NULL for one that set none")

# ---- 16 sessions x 50 transactions with a user variable, pool of 4 ----
s2 = lib.start_sluice([A], pool_size=4, extra_args=["--reserve-pool", "0"])
lib.root_sql("DELETE FROM %s.tx" % SCHEMA)
errors = []


def worker(k):
    try:
        c = s2.connect(A, read_timeout=30, write_timeout=30)
        cur = c.cursor()
        for n in range(50):
            cur.execute("BEGIN")
            cur.execute("SET @x = %s", (n,))
            cur.execute("INSERT INTO tx (who, n) VALUES (%s, @x)", (k,))
            cur.execute("COMMIT")
        cur.execute("SELECT @x")
        if cur.fetchone()[0] != 49:
            errors.append("session %d: @x is not 49 at the end" % k)
        c.close()
    except Exception as e:  # noqa: BLE001 - reported below
        errors.append("session %d: %s" % (k, e))


threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join(90)
ok(not any(t.is_alive() for t in threads) and not errors,
   "16 sessions x 50 transactions with SET @x through a pool of 4 all finish",
   "; ".join(errors[:5]) or "some sessions still running after 90 s")
rows = lib.root_sql("SELECT COUNT(*), SUM(n), COUNT(DISTINCT who) FROM %s.tx" % SCHEMA)
is_(tuple(int(v) for v in rows[0]), (800, 16 * sum(range(50)), 16),
    "800 rows, each with its own session's @x")
pins = sum(1 for line in open(s2.log_path, errors="replace") if "pinned to its backend" in line)
is_(pins, 0, "no session was pinned for its user variable")
diag("sessions pinned: %d" % pins)

lib.finish(s2)
lib.finish(s)
lib.done_testing()
