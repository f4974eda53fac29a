#!/usr/bin/env bash
# demo.sh - build hotspy, profile the bundled `hotspots` fixture for a few
# seconds, draw it as an interactive flamegraph (profile.svg), and print the
# ten functions it spent the most time in.
set -euo pipefail

# Where the profile goes, in the repository root: the folded stacks, and the
# flamegraph drawn from them.
OUTPUT=profile.folded
SVG=profile.svg
# How long the fixture runs, in seconds.
DURATION=3

die() {
	printf 'hotspy: %s\n' "$*" >&2
	exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

bash scripts/setup.sh

hotspy=build/dev/src/hotspy
fixture=build/dev/fixtures/hotspots
[[ -x "$fixture" ]] || die "$fixture was not built; see build/dev/setup-build.log"

printf 'hotspy: profiling %s for %s s into %s\n' "$fixture" "$DURATION" "$OUTPUT"
"$hotspy" record -o "$OUTPUT" -- "$fixture" "$DURATION" ||
	die "recording failed (exit $?); see the message above"
"$hotspy" flamegraph -q "$OUTPUT" -o "$SVG" --title "hotspots" \
	--subtitle "scripts/demo.sh: ${DURATION} s of build/dev/fixtures/hotspots" ||
	die "drawing $SVG failed (exit $?); see the message above"
printf 'hotspy: wrote %s (open it in a browser)\n' "$SVG"

# Self time per function: each folded line is "root;...;leaf COUNT", and a
# walk that stopped early ends in a marker frame, which names no function,
# so the frame before it stands for the leaf. Prints "COUNT<tab>TOTAL<tab>NAME"
# per function, or fails when the profile holds no sample.
self_time() {
	LC_ALL=C awk '
	$NF ~ /^[0-9]+$/ {
		stack = substr($0, 1, length($0) - length($NF))
		sub(/[ \t]+$/, "", stack)
		n = split(stack, frame, ";")
		while (n > 1 && (frame[n] == "[truncated]" || frame[n] == "[unknown]"))
			n--
		self[frame[n]] += $NF
		total += $NF
	}
	END {
		if (total == 0) {
			print "hotspy: no samples in " FILENAME > "/dev/stderr"
			exit 1
		}
		for (name in self)
			printf "%d\t%d\t%s\n", self[name], total, name
	}' "$1"
}

self_time "$OUTPUT" | LC_ALL=C sort -t "$(printf '\t')" -k1,1nr -k3,3 |
	LC_ALL=C awk -F '\t' '
	NR == 1 { printf "hottest functions (self time, %d samples in all):\n", $2 }
	NR <= 10 { printf "%6.1f%%  %s\n", 100 * $1 / $2, $3 }'
