#!/usr/bin/env bash
# test.sh - build both presets (dev and asan) and run the whole test suite in
# each. Exits non-zero when a build or any test fails.
#
# Tests run one at a time: the integration tests measure how CPU time is
# shared between a fixture's functions, and tests running beside them on the
# same two cores would skew those shares.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

# The budget of the whole suite on a 2-core machine.
BUDGET_SECONDS=900

bash scripts/setup.sh --asan

# --no-tests=error: a suite that ran nothing has not passed.
run_tests() {
	local preset=$1 start=$SECONDS

	printf 'hotspy: running the tests of build/%s\n' "$preset"
	if ctest --preset "$preset" --output-on-failure --timeout 300 --no-tests=error; then
		printf 'hotspy: build/%s: all tests passed (%d s)\n' "$preset" $((SECONDS - start))
	else
		printf 'hotspy: build/%s: TESTS FAILED (%d s)\n' "$preset" $((SECONDS - start)) >&2
		return 1
	fi
}

failed=()
run_tests dev || failed+=(dev)
# Leaks are errors, and the first sanitizer report ends the test with a stack.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_tests asan || failed+=(asan)

if ((SECONDS > BUDGET_SECONDS)); then
	printf 'hotspy: warning: the suite took %d s, over its budget of %d s\n' \
		"$SECONDS" "$BUDGET_SECONDS" >&2
fi
if ((${#failed[@]})); then
	printf 'hotspy: tests failed in: %s\n' "${failed[*]/#/build/}" >&2
	exit 1
fi
printf 'hotspy: all tests passed in build/dev and build/asan (%d s)\n' "$SECONDS"
