#!/usr/bin/env python3
# slowreader.t: a client that reads a big answer slowly, then sends its next statement
# (issue 12, found by drivers.t: Perl, Ruby and Node's mysql2 hung for 60 s on the first
# statement after a 20 MB blob). While more than 1 MiB waits for the client, sluice stops
# reading the backend (backpressure) and reads again once the client has caught up. When
# the chunk that ends the answer was the one that filled that buffer, the statement was
# over and the connection went back to the pool still paused: the next statement on it was
# sent, MariaDB answered, and nobody read the answer. Here the client does not read until
# MariaDB has sent everything, for answers from 1 MiB to 12 MiB (which one ends on the
# threshold depends on the sockets' buffers), each followed by a SELECT 1 that must answer.
# With a pool of one, that SELECT runs on the same backend connection. Every check here
# passes against MariaDB directly (SLUICE_TEST_ADDR=its port).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402
from pymysql.constants import COMMAND  # noqa: E402

lib.require_sandbox()

A = lib.Account("t_slowread", "pw-slowread")
s = lib.start_sluice([A], pool_size=1, extra_args=["--reserve-pool", "0"])


def backend_idle():
    return all(t[2] == "Sleep" for t in lib.backend_threads([A.name]))


stalls = []
# Straight to MariaDB its thread waits for the client to read (it never idles first):
# fewer sizes, a short wait.
sizes = range(1024, 12 * 1024, 512 if lib.DIRECT else 64)  # KiB
for kb in sizes:
    c = s.connect(A, read_timeout=5)
    # Sent, not read: the whole answer piles up in the sockets and in sluice.
    c._execute_command(COMMAND.COM_QUERY, "SELECT REPEAT('x', %d * 1024)" % kb)
    lib.wait_until(backend_idle, 0.3 if lib.DIRECT else 5)
    c._read_query_result()
    got = len(c._result.rows[0][0]) if c._result.rows else None
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            after = cur.fetchone()[0]
    except Exception as e:  # noqa: BLE001 - the failure is what is counted
        after = "%s: %s" % (type(e).__name__, e)
    if got != kb * 1024 or after != 1:
        stalls.append((kb, got, after))
    try:
        c.close()
    except Exception:  # noqa: BLE001 - a stalled connection may be gone already
        pass
diag("%d answers from %d to %d KiB" % (len(sizes), sizes[0], sizes[-1]))
is_(stalls, [], "every statement after a slowly read answer is answered (KiB, read, SELECT 1)")
lib.finish(s)
lib.done_testing()
