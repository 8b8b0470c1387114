#!/usr/bin/env python3
# dashboard.t: the live dashboard (GET /) in headless Chromium against a running sluice
# with load on two accounts. The token is handed over in the URL fragment (#token=...,
# never sent to the server). Checks that the page shows both accounts with their qps, that
# its chart holds data (the canvas exposes data-series and data-points, and the
# screenshot has pixels of both lines' colours), and that without the token it shows
# the refusal and no data. The screenshot and the DOM are saved into the test's kept
# directory (printed with diag) and, under make check, next to the test's log.
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import diag, is_, ok  # noqa: E402

lib.require_sandbox()
if lib.TEST_ADDR is not None:
    lib.skip_all("the dashboard needs a sluice started here (SLUICE_TEST_ADDR is set)")
CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"),
                             "/usr/bin/chromium", shutil.which("chromium-browser"))
                 if p and os.access(p, os.X_OK)), None)
if CHROMIUM is None:
    lib.skip_all("chromium is not installed (apt-get install chromium)")

# The screenshot is what this test leaves behind: keep the directory even when it passes.
os.environ["SLUICE_TEST_KEEP"] = "1"

SCHEMA = lib.create_schema("t_dash")
A = lib.Account("t_dash_a", "pw-dash-a", schemas=[SCHEMA])
B = lib.Account("t_dash_b", "pw-dash-b", schemas=[SCHEMA])
s = lib.Sluice([A, B], pool_size=4)
BASE = "http://127.0.0.1:%d/" % s.admin_port
WIDTH, HEIGHT = 1200, 700
# The page's colours for the first two series (admin/dashboard.c, in the order of
# /v1/stats); the table's colour swatches sit left of x = 60, the chart's lines right of it.
# The hues of the first two series colours of the page, #1f77b4 and #ff7f0e.
LINE_HUES = {"#1f77b4": 205.0, "#ff7f0e": 28.0}


# ---------------------------------------------------------------- load

stop = threading.Event()
done = {A.name: 0, B.name: 0}
errors = []


def load(acct, sql):
    try:
        c = s.connect(acct)
        with c.cursor() as cur:
            while not stop.is_set():
                cur.execute(sql)
                cur.fetchall()
                done[acct.name] += 1
        c.close()
    except Exception as ex:  # noqa: BLE001
        errors.append("%s: %s" % (acct.name, ex))


threads = [threading.Thread(target=load, args=(A, "SELECT SLEEP(0.002)"), daemon=True),
           threading.Thread(target=load, args=(B, "SELECT SLEEP(0.006)"), daemon=True)]
for t in threads:
    t.start()


# ---------------------------------------------------------------- chromium

def chromium(url, name, budget_ms):
    """Open url in headless Chromium; returns (exit code, DOM text, screenshot path,
    stderr). The user-data-dir is fresh and removed afterwards."""
    shot = os.path.join(s.dir, name + ".png")
    profile = tempfile.mkdtemp(prefix="sluice-chromium-")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + profile,
           "--window-size=%d,%d" % (WIDTH, HEIGHT), "--virtual-time-budget=%d" % budget_ms,
           "--dump-dom", "--screenshot=" + shot, url]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the group we started: chromium and its helpers
        out, err = p.communicate()
        err += b"\n(timed out after 60 s)"
    shutil.rmtree(profile, ignore_errors=True)
    dom = out.decode("utf-8", "replace")
    with open(os.path.join(s.dir, name + ".html"), "w") as f:
        f.write(dom)
    return p.returncode, dom, shot, err.decode("utf-8", "replace")


def read_png(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA non-interlaced PNG,
    decoded here (no imaging library needed)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d colour type %d interlace %d"
                         % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 0xff
            elif ft == 2:
                line[i] = (line[i] + b) & 0xff
            elif ft == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xff
            elif ft == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def hue(px):
    """The hue of an (r, g, b) pixel in degrees, or None when it is close to grey (the
    grid, the text, the white background)."""
    r, g, b = px
    mx, mn = max(px), min(px)
    if mx - mn < 50:
        return None
    if mx == r:
        h = 60.0 * (g - b) / (mx - mn)
    elif mx == g:
        h = 60.0 * (b - r) / (mx - mn) + 120
    else:
        h = 60.0 * (r - g) / (mx - mn) + 240
    return h % 360


def count_hues(rows, hues, x_from, y_to, spread=15):
    """How many pixels right of x_from and above y_to have each hue (within spread
    degrees). By hue rather than by exact colour: a line drawn on a scaled canvas is
    blended with the white around it, which lightens it but keeps its hue."""
    n = {k: 0 for k in hues}
    for row in rows[:y_to]:
        for px in row[x_from:]:
            h = hue(px)
            if h is None:
                continue
            for k, want in hues.items():
                if min(abs(h - want), 360 - abs(h - want)) <= spread:
                    n[k] += 1
    return n


def attr(dom, pattern):
    m = re.search(pattern, dom)
    return m.group(1) if m else None


# Let the load run so that the recent qps (the last complete seconds) is above zero.
ok(lib.wait_until(lambda: done[A.name] > 50 and done[B.name] > 50, 15),
   "both accounts run queries through sluice (%d, %d)" % (done[A.name], done[B.name]),
   lambda: repr(errors))
time.sleep(2.0)

t0 = time.monotonic()
rc, dom, shot, err = chromium(BASE + "#token=" + s.admin_token, "dashboard", 10000)
diag("chromium took %.1f s (exit %s)" % (time.monotonic() - t0, rc))
ok(rc == 0 and "<canvas" in dom, "headless Chromium loads GET / and dumps the DOM",
   lambda: "exit %s\n%s" % (rc, err[-2000:]))
status_el = re.search(r'<span id="status"( class="([^"]*)")?>([^<]*)</span>', dom)
ok(status_el and status_el.group(2) != "err" and status_el.group(3).startswith("updated"),
   "the token from the #token= fragment is accepted (status: %r)"
   % (status_el.group(3) if status_el else None))
polls = int(attr(dom, r'<body[^>]* data-polls="(\d+)"') or 0)
ok(polls >= 3, "the page polled /v1/stats %d times" % polls)
for acct in (A, B):
    row = re.search(r'<tr data-account="%s">(.*?)</tr>' % re.escape(acct.name), dom)
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1)) if row else []
    ok(row and acct.name in row.group(1), "the table shows account %s" % acct.name)
    qps = float(cells[0]) if cells and re.match(r"^[0-9.]+$", cells[0]) else 0.0
    ok(qps > 0, "%s: the table shows a qps above zero (%s)" % (acct.name, cells[:1]))
series = int(attr(dom, r'<canvas[^>]* data-series="(\d+)"') or 0)
points = int(attr(dom, r'<canvas[^>]* data-points="(\d+)"') or 0)
ok(series == 2, "the chart has one series per account (%d)" % series)
ok(points >= 2 * 3, "the chart has data: %d points drawn" % points)
ok(s.admin_token not in dom, "the token does not appear in the DOM")

ok(os.path.exists(shot) and os.path.getsize(shot) > 1000, "a screenshot was written")
try:
    w, h, rows = read_png(shot)
    is_((w, h), (WIDTH, HEIGHT), "the screenshot is %dx%d" % (WIDTH, HEIGHT))
    # Right of the axis labels, above the table (whose colour swatches would count).
    n = count_hues(rows, LINE_HUES, 60, 640)
    ok(all(v >= 40 for v in n.values()),
       "the screenshot's chart shows both accounts' lines (pixels per colour: %r)" % n)
except (ValueError, OSError, zlib.error, TypeError) as ex:
    ok(False, "the screenshot can be decoded", repr(ex))
diag("screenshot: %s" % shot)

# Without the token the page says so and shows no data.
rc, dom2, _, err2 = chromium(BASE, "dashboard-no-token", 3000)
status_el = re.search(r'<span id="status"( class="([^"]*)")?>([^<]*)</span>', dom2)
ok(rc == 0 and status_el and status_el.group(2) == "err" and "token" in status_el.group(3),
   "without a token the page shows the refusal (%r)"
   % (status_el.group(3) if status_el else None), lambda: err2[-1000:])
ok("data-account=" not in dom2 and 'data-points="' not in dom2,
   "without a token no account and no chart data are shown")

stop.set()
for t in threads:
    t.join(15)
ok(not errors, "the load ran without errors (%d + %d queries)" % (done[A.name], done[B.name]),
   lambda: "\n".join(errors))

# Under make check: also next to the test's log (tests/integration/dashboard.log).
if os.environ.get("SLUICE_TAP") and os.path.isdir("tests/integration"):
    dst = os.path.abspath("tests/integration/dashboard.png")
    shutil.copyfile(shot, dst)
    diag("screenshot copied to %s" % dst)

lib.finish(s)
lib.done_testing()
