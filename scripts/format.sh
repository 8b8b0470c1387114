#!/bin/sh
# format.sh - format the C sources with clang-format 14 and .clang-format (STYLE.md §10).
#
#   scripts/format.sh           rewrite the files in place
#   scripts/format.sh --check   change nothing; exit 1 and list the files that differ
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "format.sh: $cf not found (apt-get install clang-format)" >&2; exit 2; }
case "$("$cf" --version)" in
*"version 14."*) ;;
*) echo "format.sh: needs clang-format 14 (the pinned version), found: $("$cf" --version)" >&2
   exit 2 ;;
esac
files=$(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
	bad=0
	for f in $files; do
		if ! "$cf" "$f" | cmp -s - "$f"; then
			echo "format.sh: $f is not formatted" >&2
			bad=1
		fi
	done
	[ "$bad" -eq 0 ] && echo "format.sh: $(echo "$files" | wc -w) files formatted"
	exit "$bad"
fi
"$cf" -i $files
