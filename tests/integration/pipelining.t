#!/usr/bin/env python3
# pipelining.t: a client that writes many commands before reading any answer (issue 12,
# symptom 6). Connector/J and the MariaDB Node connector queue COM_STMT_CLOSEs ahead of a
# query; others pipeline pings or whole batches. sluice handles a bounded number of
# packets per wakeup, and used to stop there: 40 COM_PINGs got 16 answers, then nothing.
# Every check here passes against MariaDB directly (SLUICE_TEST_ADDR=its port).
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

A = lib.Account("t_pipe", "pw-pipe")
s = lib.start_sluice([A], pool_size=2)


def packet(payload, seq=0):
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def read_packet(sock):
    """(sequence id, payload) of the next packet, or None on a timeout or EOF."""
    def exact(n):
        buf = b""
        while len(buf) < n:
            try:
                more = sock.recv(n - len(buf))
            except socket.timeout:
                return None
            if not more:
                return None
            buf += more
        return buf

    head = exact(4)
    if head is None:
        return None
    body = exact(int.from_bytes(head[:3], "little"))
    return None if body is None else (head[3], body)


def raw_session():
    c = s.connect(A)
    c._sock.settimeout(5)
    return c, c._sock


# ---- 40 COM_PINGs written at once: 40 OKs
c, sock = raw_session()
sock.sendall(b"".join(packet(b"\x0e") for _ in range(40)))
oks = 0
while oks < 40:
    p = read_packet(sock)
    if p is None or p[1][:1] != b"\x00":
        break
    oks += 1
is_(oks, 40, "40 pipelined COM_PINGs: 40 OK packets")
c.close()

# ---- 20 COM_STMT_CLOSEs (no answers) queued ahead of a query, as Connector/J does
c, sock = raw_session()
closes = b"".join(packet(b"\x19" + (1000 + i).to_bytes(4, "little")) for i in range(20))
sock.sendall(closes + packet(b"\x03SELECT 'after the closes'"))
got = []
while True:
    p = read_packet(sock)
    if p is None:
        break
    got.append(p[1])
    if len(got) >= 5 and p[1][:1] == b"\xfe" and len(p[1]) < 9:
        break  # column count, definition, EOF, row, EOF
row = got[3] if len(got) > 3 else b""
ok(len(got) == 5 and row[1:] == b"after the closes",
   "20 COM_STMT_CLOSEs then a query, written at once: the query's result comes",
   "%d packets: %r" % (len(got), got[:6]))
c.close()

# ---- 40 queries written at once: 40 results, in order
c, sock = raw_session()
sock.sendall(b"".join(packet(b"\x03SELECT %d" % i) for i in range(40)))
values = []
while len(values) < 40:
    pkts = [read_packet(sock) for _ in range(5)]
    if any(p is None for p in pkts):
        break
    values.append(int(pkts[3][1][1:]))
is_(values, list(range(40)), "40 pipelined queries: 40 results in order")
c.close()

diag("sluice served every pipelined command")
lib.finish(s)
lib.done_testing()
