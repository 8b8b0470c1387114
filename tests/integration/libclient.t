#!/usr/bin/env python3
# libclient.t: protocol features through sluice with the real MariaDB client library:
# runs tests/integration/libclient (C, libmariadb) against a fresh sluice with two
# accounts and reports its checks: COM_CHANGE_USER, prepared statements with a cursor
# and COM_STMT_SEND_LONG_DATA, the compressed protocol, a caching_sha2_password client,
# a client that insists on TLS.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

lib.require_sandbox()

SCHEMA = lib.create_schema("t_libclient")
A = lib.Account("t_lc_a", "pw-lc-a", schemas=[SCHEMA])
B = lib.Account("t_lc_b", "pw-lc-b", schemas=[SCHEMA])

prog = os.path.join(os.path.dirname(os.environ.get("SLUICE_BIN", "./sluice")),
                    "tests", "integration", "libclient")
if not os.path.exists(prog):
    lib.bail_out("%s is missing: build it with make check" % prog)

s = lib.start_sluice([A, B], pool_size=4)
r = subprocess.run([prog, s.host, str(s.port), A.name, A.password, B.name, B.password, SCHEMA],
                   capture_output=True, text=True, timeout=120)
lib.relay_tap(r, "libmariadb: ", 19)
lib.finish(s)
lib.done_testing()
