#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer entry points (the `fuzz` preset: clang,
# ASan + UBSan + libFuzzer) and run each for a bounded time with its
# dictionary and seeds.
#
#   scripts/fuzz.sh SECONDS [NAME...]
#
# NAME is a fuzzer without its fuzz_ prefix: folded speedscope pprof maps
# perfmap kallsyms pylayout pychain pylocals bpf_record (all of them when
# none is named). Each runs SECONDS seconds (libFuzzer's -max_total_time) with
#   -dict=tests/unit/fuzz/NAME.dict     tokens of its format (when there is one)
#   -max_len=N                          large enough for long lines (below)
#   build/fuzz/corpus/NAME              what it found, kept between runs
#   tests/unit/fuzz/NAME/               the seeds: small files with huge
#                                       numbers, long lines, edge cases
# Its log goes to build/fuzz/logs/NAME.log; an input that crashes it, leaks
# or times out to build/fuzz/artifacts/NAME-*, to be made a unit test.
# One line per fuzzer says how many inputs it ran and what it found.
#
# Exit status: 0 when no fuzzer found anything, 1 when one did, 2 on a
# usage or build error, 77 when clang (with libFuzzer) is missing.
# HOTSPY_FUZZ_BUILD sets another build directory (default build/fuzz).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

all=(folded speedscope pprof maps perfmap kallsyms pylayout pychain pylocals bpf_record)

usage() {
	echo "usage: scripts/fuzz.sh SECONDS [NAME...]   (NAME: ${all[*]})" >&2
	exit 2
}

[[ $# -ge 1 && $1 =~ ^[1-9][0-9]*$ ]] || usage
seconds=$1
shift
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${all[@]}")
for n in "${names[@]}"; do
	[[ " ${all[*]} " == *" $n "* ]] || { echo "fuzz.sh: no fuzzer '$n'" >&2; usage; }
done

# Largest input per fuzzer: the text formats get room for long lines (a
# line of thousands of frames, a name past the 4096-byte cut), the binary
# ones what their parsers read in one piece.
max_len() {
	case $1 in
	folded | speedscope) echo 262144 ;;
	pprof) echo 65536 ;;
	maps | perfmap | kallsyms) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz.sh: clang is missing (apt-get install clang): no fuzzer run" >&2
	exit 77
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
	echo "fuzz.sh: clang has no libFuzzer (-fsanitize=fuzzer): no fuzzer run" >&2
	exit 77
fi

build=${HOTSPY_FUZZ_BUILD:-build/fuzz}
if [[ $build == build/fuzz ]]; then
	cmake --preset fuzz >/dev/null || exit 2
else
	cmake -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
		-DHOTSPY_FUZZ=ON >/dev/null || exit 2
fi
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
nice cmake --build "$build" -j2 --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || {
	tail -20 "$build/fuzz-build.log" >&2
	echo "fuzz.sh: the build failed (log: $build/fuzz-build.log)" >&2
	exit 2
}

mkdir -p "$build/logs" "$build/artifacts"
found=0
for n in "${names[@]}"; do
	corpus=$build/corpus/$n
	mkdir -p "$corpus"
	args=(-max_total_time="$seconds" -max_len="$(max_len "$n")" -timeout=10
	      -rss_limit_mb=2048 -print_final_stats=1
	      -artifact_prefix="$build/artifacts/$n-")
	[[ -f tests/unit/fuzz/$n.dict ]] && args+=(-dict="tests/unit/fuzz/$n.dict")
	dirs=("$corpus")
	[[ -d tests/unit/fuzz/$n ]] && dirs+=("tests/unit/fuzz/$n")
	"$build/tests/unit/fuzz_$n" "${args[@]}" "${dirs[@]}" >"$build/logs/$n.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/logs/$n.log" | tail -1)
	if [[ $rc -eq 0 ]]; then
		echo "fuzz_$n: ${runs:-?} inputs in $seconds s, nothing found"
	else
		found=1
		echo "fuzz_$n: FOUND something (exit $rc) after ${runs:-?} inputs:" \
			"$(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$build/logs/$n.log")"
		ls "$build/artifacts/$n-"* 2>/dev/null | sed 's/^/  input: /'
		echo "  log: $build/logs/$n.log"
	fi
done
exit $found
