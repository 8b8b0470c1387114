"""Shared by the Python driver programs of drivers.t (mysqldb.py, sqla.py): the check
runner, the typed values and the expected forms. Each program prints one line per check,
"ok NAME" or "not ok NAME: REASON"."""

import datetime
import decimal
import sys
import threading
import time

sys.stdout.reconfigure(line_buffering=True)
HOST, PORT, USER, PASSWORD, DB, DB2 = sys.argv[1:7]
PORT = int(PORT)


def check(name, fn):
    """fn() returns None when the check passes, else the reason; an exception fails it."""
    try:
        why = fn()
    except Exception as e:  # noqa: BLE001 - every failure is a line of output
        why = "%s: %s" % (type(e).__name__, str(e)[:300])
    if why is None:
        print("ok %s" % name)
    else:
        print("not ok %s: %s" % (name, str(why).replace("\n", " ")[:400]))


# Column, SQL type, the value bound as a parameter, the value read back.
TYPES = [
    ("tinyint", "TINYINT", -128, -128),
    ("smallint", "SMALLINT", -32768, -32768),
    ("int", "INT", -2147483648, -2147483648),
    ("bigint_max", "BIGINT", 9223372036854775807, 9223372036854775807),
    ("bigint_unsigned_max", "BIGINT UNSIGNED", 18446744073709551615, 18446744073709551615),
    ("decimal", "DECIMAL(20,6)", decimal.Decimal("12345678901234.123456"),
     decimal.Decimal("12345678901234.123456")),
    ("float", "FLOAT", 1.5, 1.5),
    ("double", "DOUBLE", 3.141592653589793, 3.141592653589793),
    ("date", "DATE", datetime.date(2024, 2, 29), datetime.date(2024, 2, 29)),
    ("datetime6", "DATETIME(6)", datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
     datetime.datetime(2024, 2, 29, 13, 14, 15, 123456)),
    ("time", "TIME", datetime.timedelta(hours=13, minutes=14, seconds=15),
     datetime.timedelta(hours=13, minutes=14, seconds=15)),
    ("timestamp", "TIMESTAMP NULL", datetime.datetime(2024, 2, 29, 13, 14, 15),
     datetime.datetime(2024, 2, 29, 13, 14, 15)),
    ("varchar_emoji", "VARCHAR(50) CHARACTER SET utf8mb4", "h\u00e9llo \U0001F42C w\u00f6rld",
     "h\u00e9llo \U0001F42C w\u00f6rld"),
    ("char", "CHAR(10) CHARACTER SET utf8mb4", "abc", "abc"),
    ("blob256", "BLOB", bytes(range(256)), bytes(range(256))),
    ("null", "INT NULL", None, None),
    ("json", "JSON", '{"a": [1, 2, "\u00e9"]}', '{"a": [1, 2, "\u00e9"]}'),
]
BIG = bytes(range(256))[::-1] * (20 * 1024 * 1024 // 256)  # 20 MiB


def parallel(n_conn, n_txn, one_txn, stall=5.0, deadline=60.0):
    """n_conn threads, each one_txn(thread, i) n_txn times; None, or why not all ended: one
    raised, no transaction ended for `stall` seconds (a hang: they wait for connections
    that never free), or the deadline passed."""
    errors = []
    done = [0]
    lock = threading.Lock()

    def worker(t):
        try:
            for i in range(n_txn):
                one_txn(t, i)
                with lock:
                    done[0] += 1
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (type(e).__name__, e))

    ths = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n_conn)]
    for th in ths:
        th.start()
    start = last = time.monotonic()
    seen = 0
    while any(th.is_alive() for th in ths) and not errors:
        time.sleep(0.05)
        now = time.monotonic()
        if done[0] != seen:
            seen, last = done[0], now
        if now - last > stall or now - start > deadline:
            return "%d of %d transactions done, none in the last %.0f s" % (
                done[0], n_conn * n_txn, now - last)
    if errors:
        return errors[0]
    return None
