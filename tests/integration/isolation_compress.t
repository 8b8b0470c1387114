#!/usr/bin/env python3
# Tenant isolation (issue 11, section 3): a client on the compressed protocol
# (CLIENT_COMPRESS) is held to the same per-client memory bounds as a plain one.
#  (a) 4 compressed connections run a query returning 3M rows and never read: the
#      output waits in the backend's socket (sluice stops reading it at the 1 MiB cap),
#      not in sluice's memory;
#  (b) 4 compressed connections send zip bombs - one frame that inflates to 16 MiB of
#      pipelined COM_QUERY packets, and 64 frames of 1 KiB that inflate to 1 MiB each:
#      sluice inflates only what it is about to use;
# in every case sluice's RSS grows by less than 16 MiB, a normal client is served
# meanwhile, and the abusive connections close cleanly.
# The client is a raw socket speaking the protocol (no Python library does compression).
import hashlib
import os
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()

SCHEMA = lib.create_schema("t_iso_compress")
A = lib.Account("t_iso_zabuser", "pw-za", schemas=[SCHEMA])
N = lib.Account("t_iso_znormal", "pw-zn", schemas=[SCHEMA])
# 4 stuck connections per case, room for the normal client beside them.
s = lib.Sluice([A, N], pool_size=12)

BOUND = 16 * 1024 * 1024  # RSS growth allowed per case, all 4 connections together
NCONN = 4
BIG_QUERY = ("SELECT seq, MD5(seq) FROM `%s`.seq_1_to_3000000" % SCHEMA).encode()

CLIENT_LONG_PASSWORD = 1
CLIENT_CONNECT_WITH_DB = 8
CLIENT_COMPRESS = 32
CLIENT_PROTOCOL_41 = 512
CLIENT_TRANSACTIONS = 8192
CLIENT_SECURE_CONNECTION = 32768
CLIENT_PLUGIN_AUTH = 1 << 19
COM_QUERY = 3


def u24(n):
    return struct.pack("<I", n)[:3]


def packet(seq, payload):
    return u24(len(payload)) + bytes([seq & 0xFF]) + payload


def frame(seq, data, level=9):
    """One compressed frame carrying data (MySQL packets, or a part of them)."""
    body = zlib.compress(data, level)
    return u24(len(body)) + bytes([seq & 0xFF]) + u24(len(data)) + body


def scramble(password, salt):
    h1 = hashlib.sha1(password.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(salt + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def lenenc_str(b):
    """The length-encoded string at the start of b."""
    if b[0] < 0xFB:
        return b[1:1 + b[0]]
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[b[0]]
    n = int.from_bytes(b[1:1 + size], "little")
    return b[1 + size:1 + size + n]


class ZClient:
    """A MySQL client on a raw socket that logs in with CLIENT_COMPRESS."""

    def __init__(self, acct, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Little room in the kernel for what we will not read.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((s.host, s.port))
        self.zin = b""   # compressed bytes received, not unwrapped
        self.plain = b""  # unwrapped bytes, not yet read as packets
        self.compressed = False
        greeting = self._plain_packet()
        if greeting[0] != 10:
            raise RuntimeError("bad greeting %r" % greeting[:16])
        p = greeting.index(b"\0", 1) + 1 + 4  # version, connection id
        salt = greeting[p:p + 8]
        p += 8 + 1
        caps = struct.unpack("<H", greeting[p:p + 2])[0]
        p += 2 + 1 + 2
        caps |= struct.unpack("<H", greeting[p:p + 2])[0] << 16
        p += 2 + 1 + 10
        salt += greeting[p:p + 12]
        if not caps & CLIENT_COMPRESS:
            raise RuntimeError("the server does not offer compression")
        mine = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_COMPRESS |
                CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                CLIENT_PLUGIN_AUTH)
        answer = scramble(acct.password, salt)
        body = (struct.pack("<IIB23x", mine, 16 * 1024 * 1024, 45) + acct.name.encode() +
                b"\0" + bytes([len(answer)]) + answer + SCHEMA.encode() + b"\0" +
                b"mysql_native_password\0")
        self.sock.sendall(packet(1, body))
        r = self._plain_packet()
        if r[0] == 0xFE:  # an auth switch: answer the new salt
            plugin, _, nsalt = r[1:].partition(b"\0")
            if plugin != b"mysql_native_password":
                raise RuntimeError("auth switch to %r" % plugin)
            self.sock.sendall(packet(3, scramble(acct.password, nsalt.rstrip(b"\0"))))
            r = self._plain_packet()
        if r[0] != 0:
            raise RuntimeError("login refused: %r" % r[:80])
        self.compressed = True

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("closed by sluice")
        return d

    def _plain_packet(self):
        buf = b""
        while len(buf) < 4 or len(buf) < 4 + struct.unpack("<I", buf[:3] + b"\0")[0]:
            buf += self._recv()
        n = struct.unpack("<I", buf[:3] + b"\0")[0]
        if len(buf) != 4 + n:
            raise RuntimeError("more than one packet before compression")
        return buf[4:]

    def _unwrap(self):
        while len(self.zin) >= 7:
            clen = struct.unpack("<I", self.zin[:3] + b"\0")[0]
            ulen = struct.unpack("<I", self.zin[4:7] + b"\0")[0]
            if len(self.zin) < 7 + clen:
                return
            body = self.zin[7:7 + clen]
            self.zin = self.zin[7 + clen:]
            self.plain += zlib.decompress(body) if ulen else body

    def packet(self):
        """The next packet's payload (compressed protocol)."""
        while True:
            if len(self.plain) >= 4:
                n = struct.unpack("<I", self.plain[:3] + b"\0")[0]
                if len(self.plain) >= 4 + n:
                    p = self.plain[4:4 + n]
                    self.plain = self.plain[4 + n:]
                    return p
            self.zin += self._recv()
            self._unwrap()

    def send_query(self, sql):
        self.sock.sendall(frame(0, packet(0, bytes([COM_QUERY]) + sql)))

    def query_one(self, sql):
        """The first column of the first row of a text result, as bytes."""
        self.send_query(sql)
        return self.result_one()

    def result_one(self):
        """Read a text result; the first column of its first row, as bytes."""
        p = self.packet()
        if p[0] == 0xFF:
            raise RuntimeError("ERR %r" % p[3:])
        ncols = p[0]
        for _ in range(ncols):
            self.packet()  # column definitions
        row = self.packet()
        if row[0] in (0xFE, 0xFF) and len(row) < 9:
            row = self.packet()  # the EOF after the columns (no CLIENT_DEPRECATE_EOF)
        value = lenenc_str(row)
        while True:  # to the end of the result
            p = self.packet()
            if p[0] == 0xFE and len(p) < 9:
                return value
            if p[0] == 0xFF:
                raise RuntimeError("ERR %r" % p[3:])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def rss():
    """sluice's resident memory, in bytes."""
    with open("/proc/%d/status" % s.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def mib(n):
    return "%.1f MiB" % (n / 1048576.0)


def normal_select_1():
    conn = s.connect(N, connect_timeout=5, read_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchone()[0] == 1
    finally:
        conn.close()


def abuser_threads(pattern):
    return [t for t in lib.backend_threads([A.name]) if t[4] and pattern in t[4]]


def gone(clients):
    """The abusive clients closed: their backend statements end (the pool keeps its
    connections, idle)."""
    for c in clients:
        c.close()
    return lib.wait_until(lambda: all(t[2] == "Sleep" for t in lib.backend_threads([A.name])),
                          30)


def still_open(c):
    """sluice has not closed this client: unread bytes wait, no EOF."""
    try:
        return len(c.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)) == 1
    except OSError:
        return False


if not lib.sluice_only("compressed protocol memory bounds"):
    lib.done_testing()
    sys.exit(0)

# Under AddressSanitizer freed memory sits in its quarantine (256 MB by default) before
# reuse (and zlib allocates per frame), so RSS grows without a leak: there the bound
# grows by the quarantine's size (as in hardening_storm.t); the plain build is the judge.
with open("/proc/%d/maps" % s.proc.pid) as f:
    if "libasan" in f.read():
        BOUND += 256 * 1024 * 1024
        diag("ASan build: RSS bound 16 MiB + the 256 MiB quarantine")
GIVE_UP = BOUND + 48 * 1024 * 1024  # stop waiting: the bound is clearly broken

# ---- the raw client works: a compressed SELECT round trip
z = ZClient(A)
is_(z.query_one(b"SELECT 40 + 2"), b"42", "raw compressed client: SELECT 40 + 2")
big = z.query_one(b"SELECT REPEAT('ab', 50000)")
ok(big == b"ab" * 50000, "raw compressed client: a 100 kB value in several frames",
   "got %d bytes: %r..." % (len(big), big[:40]))
z.close()
ok(normal_select_1(), "a normal client: SELECT 1")
base = rss()
diag("sluice RSS at start: %s" % mib(base))

# ================================================================ (a) unread results
before = rss()
clients = [ZClient(A, rcvbuf=64 * 1024) for _ in range(NCONN)]
for c in clients:
    c.send_query(BIG_QUERY)
peak = [0]


def a_settled():
    """Either sluice has taken in too much, or every query is stuck sending: MariaDB has
    sent its first rows and stopped (the rest waits on sluice reading)."""
    peak[0] = max(peak[0], rss() - before)
    if peak[0] > GIVE_UP:
        return "grew"
    stuck = [t for t in abuser_threads("seq_1_to_3000000") if t[3] >= 3]
    return "stuck" if len(stuck) == NCONN else None


how = lib.wait_until(a_settled, 40, interval=0.1)
# After the queries are stuck, a moment more: nothing may grow further.
t_end = time.monotonic() + 2
while how == "stuck" and time.monotonic() < t_end:
    peak[0] = max(peak[0], rss() - before)
    time.sleep(0.1)
diag("(a) %d compressed clients not reading a 3M-row result: RSS %s -> %s, growth %s (%s)"
     % (NCONN, mib(before), mib(before + peak[0]), mib(peak[0]), how or "timeout"))
ok(peak[0] < BOUND, "(a) unread compressed results: RSS growth under %s" % mib(BOUND),
   "grew %s" % mib(peak[0]))
ok(normal_select_1(), "(a) a normal client is served meanwhile")
ok(all(still_open(c) for c in clients) and s.alive(), "(a) the abusers are still connected")
ok(gone(clients), "(a) the abusive connections close; their backend work ends")

# ================================================================ (b) zip bombs
# Pipelined statements that each take a while: whatever sluice inflates ahead of the
# running one waits in its memory.
STMT = packet(0, bytes([COM_QUERY]) + b"SELECT SLEEP(2) AS zzbomb")


def stream(total):
    return (STMT * (total // len(STMT) + 1))[:total]


BOMBS = {
    # One frame claiming (and inflating to) 16 MiB - 1 of statements: ~16 KiB sent.
    "one 16 MiB frame": lambda: frame(0, stream(0xFFFFFF)),
    # 64 frames of ~1 KiB that inflate to 1 MiB each, sent at once (64 MiB in all).
    "64 frames of 1 MiB": lambda: b"".join(frame(i, stream(1 << 20)) for i in range(64)),
}
for name, make in BOMBS.items():
    bomb = make()
    clients = [ZClient(A) for _ in range(NCONN)]
    before = rss()
    for c in clients:
        c.sock.sendall(bomb)
    peak = [0]

    def b_settled():
        """Either sluice inflated too much, or every client's first statement runs."""
        peak[0] = max(peak[0], rss() - before)
        if peak[0] > GIVE_UP:
            return "grew"
        return "running" if len(abuser_threads("zzbomb")) == NCONN else None

    how = lib.wait_until(b_settled, 30, interval=0.1)
    peak[0] = max(peak[0], rss() - before)
    diag("(b) %s: %d clients each sent %d bytes: RSS %s -> %s, growth %s (%s)"
         % (name, NCONN, len(bomb), mib(before), mib(before + peak[0]), mib(peak[0]),
            how or "timeout"))
    ok(peak[0] < BOUND, "(b) zip bomb, %s: RSS growth under %s" % (name, mib(BOUND)),
       "grew %s" % mib(peak[0]))
    ok(normal_select_1(), "(b) %s: a normal client is served meanwhile" % name)
    ok(s.alive(), "(b) %s: sluice alive" % name)
    ok(gone(clients), "(b) %s: the abusive connections close; their statements end" % name)

# ---- and the compressed protocol still does what it did (after the RSS cases: the
# 17 MiB statement leaves memory with malloc that would hide growth)
z = ZClient(A)
# Pipelined behind a statement of 100 kB (inflated just that far at first): the second
# one runs once the first is done, with no more bytes from the client.
first = packet(0, bytes([COM_QUERY]) + b"SELECT LENGTH('" + b"y" * 100000 + b"')")
z.sock.sendall(frame(0, first + packet(0, bytes([COM_QUERY]) + b"SELECT 2")))
is_(z.result_one(), b"100000", "pipelined compressed: the 100 kB statement's result")
is_(z.result_one(), b"2", "pipelined compressed: then the statement behind it")
# A statement over 16 MiB: two packets, in two frames of their own.
sql = b"SELECT LENGTH('" + b"x" * (17 * 1024 * 1024) + b"')"
body = bytes([COM_QUERY]) + sql
stream_ = packet(0, body[:0xFFFFFF]) + packet(1, body[0xFFFFFF:])
z.sock.sendall(frame(0, stream_[:0xFFFFFF], level=1) + frame(1, stream_[0xFFFFFF:], level=1))
is_(z.result_one(), str(17 * 1024 * 1024).encode(),
    "raw compressed client: a 17 MiB statement (two packets)")
z.close()
ok(normal_select_1(), "a normal client: SELECT 1 at the end")
diag("sluice RSS at the end: %s" % mib(rss()))
lib.finish(s)
lib.drop_user(A.name)
lib.drop_user(N.name)
lib.drop_schema(SCHEMA)
lib.done_testing()
