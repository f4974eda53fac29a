#!/usr/bin/env bash
# setup.sh - install the Debian packages hotspy needs, then configure and
# build it with the CMake preset `dev` (build/dev); with --asan, also the
# preset `asan` (build/asan).
#
# Safe to run again: packages already installed are left alone, and a build
# that is up to date prints one line.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/setup.sh [--tests] [--asan]

Install the Debian packages hotspy needs (as root, or through sudo when it
asks for no password), then configure and build the CMake preset `dev` into
build/dev.

  --tests  also install what the test suite needs (perf, tmux, chromium,
           node, Python headers...) and the tests' npm packages
  --asan   also build the ASan+UBSan preset `asan` into build/asan
  --print-packages
           print the Debian packages it would make sure of, one a line,
           and do nothing else
EOF
}

die() {
	printf 'hotspy: %s\n' "$*" >&2
	exit 1
}

# What building and running the profiler takes: the compiler and CMake, the
# libraries it links (libunwind, elfutils, ncurses, libiberty's demangler),
# python3 (CMake runs it to write the manual page), and libc6-dbg: libc's
# separate debug file (by build-id), so that its internal functions
# (start_thread, clone3) are named, as perf names them. clang, bpftool and
# libbpf-dev: the BPF sampler (--sampler bpf; docs/bpf.md), whose program
# is compiled with clang -target bpf against the running kernel's BTF, and
# loaded through a bpftool skeleton; without them hotspy builds without it.
PACKAGES=(
	build-essential cmake pkg-config python3
	libunwind-dev libelf-dev libdw-dev libncurses-dev libiberty-dev
	libc6-dbg clang bpftool libbpf-dev
)
# What the tests take on top (--tests). linux-perf: profiles compared with
# perf's. libxml2-utils: xmllint, to check SVG output. procps and
# util-linux: the process tools (ps, pgrep, taskset, script) tests use.
# python3-jsonschema: speedscope output checked against its schema. tmux:
# the terminal test of 'hotspy top' (a pane of a fixed size, read back with
# capture-pane). zlib1g-dev: pprof output is gzip'd
# (flamegraph/pprof.c). golang-go: the pprof test checks the files with a
# real decoder, 'go tool pprof'. python3-dev: the system interpreter's headers (Debian 12:
# python3.11-dev), against which tests/python/pylayout_test.py checks
# hotspy's 3.11 layout. groff-base and man-db: the manual page read back.
# chromium, nodejs, npm: the browser test of the SVG flamegraph
# (tests/browser, npm package playwright-core). A nodejs that bundles its
# own npm (NodeSource's) conflicts with Debian's npm package: ask for npm
# only when no npm command is there.
TEST_PACKAGES=(
	linux-perf libxml2-utils procps util-linux python3-jsonschema tmux
	python3-dev groff-base man-db chromium nodejs
)
command -v npm >/dev/null 2>&1 || TEST_PACKAGES+=(npm)

presets=(dev)
tests=false
print_only=false
for arg in "$@"; do
	case "$arg" in
	--asan) presets=(dev asan) ;;
	--tests) tests=true ;;
	--print-packages) print_only=true ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf 'hotspy: setup.sh: unknown argument: %s\n' "$arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

if $tests; then
	PACKAGES+=("${TEST_PACKAGES[@]}")
fi
if $print_only; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

missing_packages() {
	local pkg status
	for pkg in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		[[ "$status" == "install ok installed" ]] || printf '%s\n' "$pkg"
	done
}

install_packages() {
	local missing=("$@") sudo=()
	# The lock timeout rides out an apt run that a fresh machine may start by
	# itself at boot, instead of failing at once.
	local apt=(apt-get -q -o DPkg::Lock::Timeout=300)

	if [[ $EUID -ne 0 ]]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			printf 'hotspy: missing Debian packages: %s\n' "${missing[*]}" >&2
			printf 'hotspy: install them as root, then run this script again:\n' >&2
			printf '  apt-get update && apt-get install -y --no-install-recommends %s\n' \
				"${missing[*]}" >&2
			exit 1
		fi
	fi

	printf 'hotspy: installing %s\n' "${missing[*]}"
	"${sudo[@]}" "${apt[@]}" update ||
		die "apt-get update failed; check the network and /etc/apt/sources.list"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		"${apt[@]}" install -y --no-install-recommends "${missing[@]}" ||
		die "installing ${missing[*]} failed (see apt-get's message above)"
}

command -v dpkg-query >/dev/null ||
	die "dpkg-query not found: this script installs Debian packages; on another system install the equivalents of: ${PACKAGES[*]}"

mapfile -t missing < <(missing_packages)
if ((${#missing[@]})); then
	install_packages "${missing[@]}"
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) ||
		die "still not installed after apt-get: ${missing[*]}"
fi

# Run one step of a build with its output in @log, shown only on failure:
# with -Werror, a step that succeeds has nothing to say.
run_logged() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		die "failed: $* (output above, also in $log)"
	fi
}

# As run_logged, for the build: it takes a minute or more on two cores, so
# say how far it has got ("[ 42%]" in CMake's output), every ten points.
build_logged() {
	local log=$1 pid shown=-10 pct
	shift
	"$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		pct=$(grep -o '^\[ *[0-9]*%\]' "$log" 2>/dev/null | tail -n 1 | tr -dc 0-9)
		if [[ -n "$pct" ]] && ((pct >= shown + 10 && pct < 100)); then
			printf 'hotspy: building %s: %d%%\n' "${log%/*}" "$pct"
			shown=$pct
		fi
	done
	if ! wait "$pid"; then
		cat "$log" >&2
		die "failed: $* (output above, also in $log)"
	fi
}

build_preset() {
	local preset=$1 dir=build/$1

	mkdir -p "$dir"
	run_logged "$dir/setup-configure.log" cmake --preset "$preset"
	build_logged "$dir/setup-build.log" cmake --build --preset "$preset" -j"$(nproc)"
	if grep -Eq 'Building C object|Linking C' "$dir/setup-build.log"; then
		printf 'hotspy: built %s\n' "$dir"
	else
		printf 'hotspy: build up to date in %s\n' "$dir"
	fi
}

# The npm packages of the tests, at the versions package-lock.json names:
# playwright-core (browser test), speedscope (its file format's schema).
if $tests && [[ ! -d tests/browser/node_modules/playwright-core ||
      ! -f tests/browser/node_modules/speedscope/dist/release/file-format-schema.json ]]; then
	printf 'hotspy: installing the npm packages of the tests\n'
	run_logged /tmp/hotspy-npm-ci.log npm ci --prefix tests/browser --no-audit --no-fund
fi

for preset in "${presets[@]}"; do
	build_preset "$preset"
done
