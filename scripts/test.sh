#!/usr/bin/env bash
# test.sh [CTEST ARGS...] — the test build and every check CI runs (.ci/run calls this).
#
# Installs missing packages (build + test groups), configures build-test/ as a Debug build
# with ASan+UBSan and -Werror, builds it, checks the formatting of every tracked .c/.h
# file against .clang-format, then runs ctest (unit tests, then integration tests that
# mount the real filesystem). Extra arguments go to ctest, e.g.:
#
#   scripts/test.sh -R unit/            only the unit tests
#   scripts/test.sh -L integration -V   integration tests, verbose
#
# Exit status: ctest's; 1 if ctest passed but the formatting check failed.
set -euo pipefail

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$repo"

# shellcheck source=scripts/deps.sh source-path=SCRIPTDIR/..
. scripts/deps.sh
hubfs_deps_install build test

# Inherited by every ctest child: a leak, an ASan report or UB fails the test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DHUBFS_SANITIZE=ON -DHUBFS_WERROR=ON
cmake --build build-test -j2

# Formatting first, so that ctest's summary stays the last thing printed.
format_rc=0
list_sources()
{
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z '*.c' '*.h'
	else
		find src include tests -name '*.[ch]' -print0 2>/dev/null
	fi
}
echo "test.sh: clang-format check"
if ! list_sources | xargs -0 -r clang-format --dry-run --Werror; then
	format_rc=1
	echo "test.sh: clang-format check FAILED (fix with: clang-format -i FILE...)" >&2
fi

ctest_rc=0
ctest --test-dir build-test --output-on-failure --no-tests=error "$@" || ctest_rc=$?

if [ "$ctest_rc" -ne 0 ]; then
	exit "$ctest_rc"
fi
if [ "$format_rc" -ne 0 ]; then
	echo "test.sh: tests passed but the clang-format check failed (see above)" >&2
	exit 1
fi
