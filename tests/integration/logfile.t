#!/usr/bin/env python3
# logfile.t: --log-file and SIGHUP. sluice logs to the file; after the file is moved away
# (as logrotate does) and sluice gets SIGHUP, it writes to a new file at the same path and
# keeps serving; the old file keeps what was written before.
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("needs a sluice of its own")

SCHEMA = lib.create_schema("t_logfile")
A = lib.Account("t_log_a", "pw-log-a", schemas=[SCHEMA])
s = lib.Sluice([A], pool_size=2, start=False)
path = os.path.join(s.dir, "gateway.log")
s.extra_args = ["--log-file", path]
s.start()

c = s.connect(A)
c.cursor().execute("SELECT 1")
ok(lib.wait_until(lambda: os.path.exists(path) and b"listening on" in open(path, "rb").read(),
                  5), "--log-file: the start-up lines go to the file")
rotated = path + ".1"
os.rename(path, rotated)
s.proc.send_signal(signal.SIGHUP)
ok(lib.wait_until(lambda: os.path.exists(path), 5), "SIGHUP: sluice opens a new file at the path")
ok(lib.wait_until(lambda: b"log reopened" in open(path, "rb").read(), 5),
   "the new file gets the lines after SIGHUP")
c2 = s.connect(A)
cur = c2.cursor()
cur.execute("SELECT 41 + 1")
ok(cur.fetchone() == (42,), "clients are served after SIGHUP")
c.cursor().execute("SELECT 1")
ok(b"listening on" in open(rotated, "rb").read() and
   b"log reopened" not in open(rotated, "rb").read(),
   "the moved file keeps what came before, and only that")
c.close()
c2.close()
lib.finish(s)
lib.done_testing()
