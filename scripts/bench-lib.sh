# shellcheck shell=bash
# bench-lib.sh — sourced by scripts/bench-streams.sh and scripts/bench-s3.sh: what every
# part of the benchmark does the same way. Not run on its own.
#
#   bench_setup NAME       root check, cd to the repo ($repo), say/die prefixed with NAME,
#                          packages (build run bench + test's Debian packages), and the
#                          release build in build-bench/ (hubfs + hubfs-stream) unless
#                          BENCH_NO_BUILD=1 and it is there already (bench.sh built it)
#   now / calc EXPR        wall seconds with ns; awk arithmetic, 3 decimals
#   add KEY VALUE          collect one measurement; med KEY: their median ("-" if none)
#   ratio A B              A / B with 2 decimals ("-" if either is missing or B is 0)

bench_setup()
{
	BENCH_NAME=$1
	[ "$(id -u)" -eq 0 ] || {
		echo "$BENCH_NAME: run as root" >&2
		exit 1
	}
	repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
	cd "$repo"
	# shellcheck source=scripts/deps.sh source-path=SCRIPTDIR/..
	. scripts/deps.sh
	hubfs_deps_install build run bench || die "missing packages"
	HUBFS_DEPS_NO_EXTRA=1 hubfs_deps_install test || die "missing packages"
	if [ -z "${BENCH_NO_BUILD:-}" ] || [ ! -x build-bench/hubfs ] ||
		[ ! -x build-bench/hubfs-stream ]; then
		say "building the release build (build-bench/)"
		cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DHUBFS_TESTS=OFF >/dev/null
		cmake --build build-bench --target hubfs -j"$(nproc)" >/dev/null
	fi
}

say() { echo "$BENCH_NAME: $*" >&2; }
die()
{
	say "$*"
	exit 1
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
declare -A V
add() { V[$1]="${V[$1]:-} $2"; }
med()
{
	[ -n "${V[$1]:-}" ] || {
		echo -
		return
	}
	# shellcheck disable=SC2086
	printf '%s\n' ${V[$1]} | sort -g |
		awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2); else print "-" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
