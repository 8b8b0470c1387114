#!/bin/sh
# run-replay.sh - `make check` entry: replays every fuzz target's corpus (seeds and every
# saved crash) with the ordinary compiler: wire (corpus/), session tracking, SQL scan and
# compressed frames (corpus-session/), the admin API's handlers (corpus-admin/).
# automake runs this from the build directory with $srcdir set.
set -e
srcdir=${srcdir:-.}
./tests/fuzz/replay "$srcdir/tests/fuzz/corpus"
./tests/fuzz/replay_session "$srcdir/tests/fuzz/corpus-session"
./tests/fuzz/replay_admin "$srcdir/tests/fuzz/corpus-admin"
