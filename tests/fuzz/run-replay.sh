#!/bin/sh
# run-replay.sh - `make check` entry: replays the fuzz corpus (seeds and every saved
# crash) through the wire fuzz target, built with the ordinary compiler.
# automake runs this from the build directory with $srcdir set.
srcdir=${srcdir:-.}
exec ./tests/fuzz/replay "$srcdir/tests/fuzz/corpus"
