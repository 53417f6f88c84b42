#!/usr/bin/env bash
# bench.sh [--quick] [--notes-only] [-n N] [--keep] — hubfs (local backend) against libfuse's passthrough_ll
# example and the raw disk, in one run, on one disk. Performance is measured here, never in
# the tests.
#
# Needs root (drop_caches, FUSE mounts). Installs what is missing (scripts/deps.sh: build,
# run, bench), builds a release build in build-bench/ (the daemon is build-bench/hubfs) and
# passthrough_ll from libfuse3-dev's examples, generates test media with ffmpeg (cached in
# $BENCH_DIR/media and reused by later runs), mounts both filesystems in the foreground
# (in the background of this script) and measures:
#
#   1. cp of a ~1 GiB valid video (MKV, raw 1080p frames) into each, alone and until durable
#      (cp, then `sync FILE` = fsync). hubfs's cp alone is already durable when it returns
#      (the video is validated and committed before close() returns); it is also timed
#      with the sync, the same way as the others, for fairness;
#   2. cat of that file to /dev/null, page caches dropped;
#   3. the per-file cost of validation: cp of a 1080p faststart MP4 (~100 MB), the same
#      with moov at the end, the same as MKV, and a small clip, into hubfs and into
#      passthrough_ll. The daemon logs no timings, so validation is measured from the
#      outside: hubfs cp − passthrough cp (and − passthrough cp + sync), and directly, in
#      one more traced copy per repetition: cp's close() of the destination (strace on cp;
#      hubfs validates, fsyncs and commits there) and, with strace attached to the daemon,
#      the validator's own open..close of the staged file and the fsync of the staged bytes;
#   4. ls -l of a directory of 10,000 videos, cold (caches dropped) and warm (right after),
#      against the same directory shape through passthrough_ll and on the raw disk; plus how
#      long populating took (cp -r through each mount) and how long hubfs's scanner takes
#      to adopt 10,000 videos put into data_dir by hand, and the daemon's CPU use while
#      idle with that library;
#   5. notes/: 10,000 small notes (text, ~0.5-2.5 KB) populated with cp -r into each (how
#      long, alone and + sync); `ls` and `ls -l` of them, cold and warm, against
#      passthrough_ll and the raw disk; search (`ls notes/.search/QUERY/`, cold and warm) for
#      a word in 1% of the notes, a prefix (projec*, 5%), a tag (tags:urgent, set with
#      setfattr on 1%) and a phrase (1%; its words alone are in many more), against
#      `grep -rlw WORD` of the same word over the same files through passthrough_ll and on
#      the raw disk (the one baseline of every query); save latency of a 4 KiB and a 1 MiB
#      note (open O_TRUNC + write + close, timed per save by a small C helper built into
#      build-bench/notebench; every save has new content, so each is a version), both as
#      write+close and as write+fsync+close on all three (hubfs commits the version in
#      close(), or in fsync() when there is one), 200 saves of 4 KiB and 20 of 1 MiB per
#      repetition, median and p90 per save; the number of versions made is checked, and the
#      daemon's own fsync/fdatasync calls during 10 more saves of each size are counted
#      (strace), to show what "durable at close" costs it;
#   6. peak RSS (VmHWM) of the hubfs daemon and of passthrough_ll at the end of the run;
#   7. streams/ (scripts/bench-streams.sh, run after the rest with its own summary): time to
#      the first HLS segment and to the first RTMP bytes at an nginx-rtmp ingest against
#      `ffmpeg -re` and nginx-rtmp's own HLS, stop -> ENDLIST, SIGKILL -> ENDLIST, encoder
#      speed at 480p/720p/1080p against ffmpeg's CLI, three 720p streams at once and the
#      daemon's CPU meanwhile;
#   8. backend=s3 (scripts/bench-s3.sh, own summary) against s3fs and rclone mount on one
#      s3rver behind the verifying proxy: cp in until stored, cat out, random reads, ls -l,
#      what close() says when the store refuses every PUT, peak RSS.
#
# Every measurement is repeated N times (default 3; the order of the three rotates between
# repetitions) and the median is reported, with ratios, because the machine is shared and
# noisy. Page caches are dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before each
# timed step. A summary block at the end can be pasted into a closing note.
#
# Options:
#   --quick   smaller sizes for a smoke run: 256 MiB video, ~25 MB validation files, 2,000
#             files in the listing, 2,000 notes, 100 saves of 4 KiB and 10 of 1 MiB
#   --notes-only
#             only the notes/ part (5) and the peak RSS (no media, no videos/)
#   --streams-only
#             only the streams/ part (7)
#   --s3-only only the S3 part (8)
#   -n N      repetitions per measurement (default 3)
#   --keep    keep the run's work directory (mounts are always removed)
#
# Environment: BENCH_DIR — work directory on the disk to measure (default
# /var/tmp/hubfs-bench; never tmpfs). The run's files go to BENCH_DIR/run.PID (removed at
# the end unless --keep), the daemons' logs to BENCH_DIR/last-run/.
#
# Everything this script starts (the two daemons) is unmounted and stopped by PID in an
# EXIT trap, on success, failure or Ctrl-C; no mount is left behind.
set -euo pipefail
export LC_ALL=C

die()
{
	echo "bench.sh: $*" >&2
	exit 1
}

say()
{
	echo "bench.sh: $*" >&2
}

usage()
{
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

QUICK=0
NOTES_ONLY=0
STREAMS_ONLY=0
S3_ONLY=0
REPS=3
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--notes-only) NOTES_ONLY=1 ;;
	--streams-only) STREAMS_ONLY=1 ;;
	--s3-only) S3_ONLY=1 ;;
	-n)
		[ $# -ge 2 ] || die "-n needs a number"
		REPS=$2
		shift
		;;
	-n*) REPS=${1#-n} ;;
	--keep) KEEP=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
case "$REPS" in
'' | *[!0-9]*) die "-n wants a positive integer, not '$REPS'" ;;
esac
[ "$REPS" -ge 1 ] || die "-n wants a positive integer"

if [ "$QUICK" = 1 ]; then
	BIG_MIB=256
	VAL_SECS=6 # testsrc2 1080p lossless x264: ~4.2 MB per second
	NFILES=2000
	IDLE_SECS=5
	NEED_GIB=4
	NNOTES=2000
	SAVES_4K=100
	SAVES_1M=10
else
	BIG_MIB=1024
	VAL_SECS=24
	NFILES=10000
	IDLE_SECS=10
	NEED_GIB=9
	NNOTES=10000
	SAVES_4K=200
	SAVES_1M=20
fi
[ "$NOTES_ONLY" = 0 ] || NEED_GIB=1

[ "$(id -u)" -eq 0 ] || die "run as root (it drops page caches and mounts FUSE filesystems)"
[ -e /dev/fuse ] || die "/dev/fuse is missing"

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$repo"
STREAMS_ARGS=(-n "$REPS")
[ "$QUICK" = 0 ] || STREAMS_ARGS=(-n 2)
[ "$KEEP" = 0 ] || STREAMS_ARGS+=(--keep)
if [ "$STREAMS_ONLY" = 1 ]; then
	exec "$repo/scripts/bench-streams.sh" "${STREAMS_ARGS[@]}"
fi
S3_ARGS=(-n "$REPS")
[ "$QUICK" = 0 ] || S3_ARGS=(-n 1 --mib 64)
[ "$KEEP" = 0 ] || S3_ARGS+=(--keep)
if [ "$S3_ONLY" = 1 ]; then
	exec "$repo/scripts/bench-s3.sh" "${S3_ARGS[@]}"
fi

# shellcheck source=scripts/deps.sh source-path=SCRIPTDIR/..
. scripts/deps.sh
hubfs_deps_install build run bench || die "missing packages (see above)"
HAVE_STRACE=0
command -v strace >/dev/null 2>&1 && HAVE_STRACE=1

# --- build -------------------------------------------------------------------------------

say "building the release build (build-bench/)"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DHUBFS_TESTS=OFF >/dev/null ||
	die "cmake configure failed"
cmake --build build-bench --target hubfs -j"$(nproc)" >/dev/null || die "build failed"
HUBFS=$repo/build-bench/hubfs
[ -x "$HUBFS" ] || die "build-bench/hubfs was not built"

EX=/usr/share/doc/libfuse3-dev/examples
PT=$repo/build-bench/passthrough_ll
ptsrc=$EX/passthrough_ll.c
if [ ! -f "$ptsrc" ]; then
	# Some packagings compress the examples.
	[ -f "$ptsrc.gz" ] || die "no passthrough_ll.c(.gz) in $EX (is libfuse3-dev installed?)"
	mkdir -p build-bench/pt-src
	zcat "$ptsrc.gz" >build-bench/pt-src/passthrough_ll.c
	for h in "$EX"/*.h.gz; do
		[ -f "$h" ] || continue
		zcat "$h" >"build-bench/pt-src/$(basename "$h" .gz)"
	done
	ptsrc=$repo/build-bench/pt-src/passthrough_ll.c
fi
if [ ! -x "$PT" ] || [ "$ptsrc" -nt "$PT" ]; then
	say "building passthrough_ll from $ptsrc"
	# shellcheck disable=SC2046 # pkg-config's words are meant to split
	cc -O2 -o "$PT" "$ptsrc" -I "$(dirname "$ptsrc")" -I "$EX" -DHAVE_SETXATTR \
		-DHAVE_UTIMENSAT -DHAVE_COPY_FILE_RANGE -DHAVE_FALLOCATE -DHAVE_POSIX_FALLOCATE \
		$(pkg-config --cflags --libs fuse3) || die "passthrough_ll does not build"
fi

# notebench: the notes part's helper. `gen DIR N` writes N notes of text (note00001.md, ...)
# with the planted words of the searches; `save FILE BYTES COUNT SEED FSYNC` saves FILE COUNT
# times (open O_TRUNC, write, fsync if FSYNC is 1, close), each time with new text, and prints
# the median and p90 seconds per save (the text is made before the clock starts).
NB=$repo/build-bench/notebench
cat >"$NB.c.new" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* CV syllables cannot spell "projec", "zephyrine" or "urgent": only planted words match. */
static const char *const syl[] = { "ba", "de", "fi", "go", "hu", "ka", "le", "mo", "nu", "pi",
				   "ra", "se", "ti", "vo", "wa", "ye", "lu", "ne", "so", "ma",
				   "ri", "ta", "no", "ke", "da", "mi", "to", "su" };
static const char *const common[] = { "the", "and", "note", "meeting", "plan", "list", "idea",
				      "draft", "todo", "call", "review", "budget", "quarterly",
				      "team", "week", "later", "check", "update", "send", "read" };
#define NSYL (sizeof(syl) / sizeof(syl[0]))
#define NCOMMON (sizeof(common) / sizeof(common[0]))
#define VOCAB 10000u

/* Words until at least @len bytes are in @b (from @n); returns the new length. */
static size_t words(char *b, size_t n, size_t len)
{
	unsigned int k = 0, j, last = 0;

	while (n < len) {
		if (rnd() % 4 == 0) {
			/* "quarterly budget" only where the phrase is planted */
			j = rnd() % NCOMMON;
			if (!strcmp(common[last], "quarterly") && !strcmp(common[j], "budget"))
				j = 0;
			n += (size_t)sprintf(b + n, "%s", common[j]);
			last = j;
		} else {
			/* word i of a VOCAB-word vocabulary, low i more often (as in real text,
			 * whose 1 MiB holds some 10,000 distinct words): i in base NSYL, 2-3
			 * syllables */
			j = (rnd() % VOCAB) * (rnd() % VOCAB) / VOCAB + NSYL;
			for (unsigned int d = NSYL * NSYL * NSYL; d; d /= NSYL)
				if (j >= d || d < NSYL * NSYL)
					n += (size_t)sprintf(b + n, "%s", syl[j / d % NSYL]);
			last = 0;
		}
		b[n++] = ++k % 12 ? ' ' : '\n';
	}
	return n;
}

static int write_all(int fd, const char *b, size_t len)
{
	while (len) {
		ssize_t w = write(fd, b, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

static int put(const char *path, const char *b, size_t len, int sync)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write_all(fd, b, len) || (sync && fsync(fd))) {
		fprintf(stderr, "notebench: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (close(fd)) {
		fprintf(stderr, "notebench: close %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int gen(const char *dir, long n)
{
	static char b[8192], path[4096];
	size_t len;

	for (long i = 1; i <= n; i++) {
		len = (size_t)sprintf(b, "# note %ld\n", i);
		len = words(b, len, 250 + rnd() % 1000);
		if (i % 100 == 0)
			len += (size_t)sprintf(b + len, "zephyrine ");
		if (i % 20 == 1)
			len += (size_t)sprintf(b + len, "%s ",
					       (const char *[]){ "project", "projection",
								 "projector" }[i % 3]);
		if (i % 100 == 50)
			len += (size_t)sprintf(b + len, "the quarterly budget review ");
		len = words(b, len, len + 250 + rnd() % 1000);
		b[len - 1] = '\n';
		snprintf(path, sizeof(path), "%s/note%05ld.md", dir, i);
		if (put(path, b, len, 0))
			return 1;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int save(const char *path, size_t bytes, long count, long seed, int sync)
{
	char *b = malloc(bytes + 4096);
	double *d = calloc((size_t)count, sizeof(*d)), t0;
	size_t len;

	if (!b || !d || count < 1)
		return 1;
	for (long k = 0; k < count; k++) {
		rng = 88172645463325252ull ^ ((uint64_t)seed << 20 ^ (uint64_t)k);
		len = (size_t)sprintf(b, "# save %ld.%ld\n", seed, k);
		words(b, len, bytes);
		b[bytes - 1] = '\n';
		t0 = now();
		if (put(path, b, bytes, sync))
			return 1;
		d[k] = now() - t0;
	}
	qsort(d, (size_t)count, sizeof(*d), cmp);
	printf("%.6f %.6f\n", count % 2 ? d[count / 2] : (d[count / 2 - 1] + d[count / 2]) / 2,
	       d[(count * 9 + 9) / 10 - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "gen"))
		return gen(argv[2], atol(argv[3]));
	if (argc == 7 && !strcmp(argv[1], "save"))
		return save(argv[2], (size_t)atol(argv[3]), atol(argv[4]), atol(argv[5]),
			    atoi(argv[6]));
	fprintf(stderr, "usage: notebench gen DIR N | save FILE BYTES COUNT SEED FSYNC\n");
	return 2;
}
EOF
if [ ! -x "$NB" ] || ! cmp -s "$NB.c.new" "$NB.c"; then
	mv -f "$NB.c.new" "$NB.c"
	cc -O2 -Wall -o "$NB" "$NB.c" || die "build-bench/notebench does not build"
else
	rm -f "$NB.c.new"
fi

# --- work directory ----------------------------------------------------------------------

BENCH_DIR=${BENCH_DIR:-/var/tmp/hubfs-bench}
case "$BENCH_DIR" in
*[[:space:]]*) die "BENCH_DIR must not contain spaces" ;;
esac
mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
BENCH_DIR=$(readlink -f "$BENCH_DIR")
FSTYPE=$(findmnt -n -o FSTYPE -T "$BENCH_DIR" | tail -n 1)
case "$FSTYPE" in
tmpfs | ramfs | fuse*) die "$BENCH_DIR is on $FSTYPE: point BENCH_DIR at a real disk" ;;
esac
free_kib=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
[ "$free_kib" -ge $((NEED_GIB * 1024 * 1024)) ] ||
	die "$BENCH_DIR has $((free_kib / 1024 / 1024)) GiB free; this run needs about $NEED_GIB GiB"

MEDIA=$BENCH_DIR/media
W=$BENCH_DIR/run.$$
LOGS=$BENCH_DIR/last-run
RAW=$W/raw
PTSRC=$W/ptsrc
PTMNT=$W/mnt-pt
HUBMNT=$W/mnt-hub
HSTATE=$W/hub-state
HDATA=$W/hub-data
HUBLOG=$W/hubfs.log
PTLOG=$W/passthrough_ll.log
ERR=$W/stderr.txt
HUB_PID=
PT_PID=
TRACE_PID=
HUB_RC=
PROBLEMS=()
HZ=$(getconf CLK_TCK)

is_mounted()
{
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

unmount_one()
{
	local m=$1

	is_mounted "$m" || return 0
	fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
}

# Wait up to 10 s for process $1 to exit after its unmount, then TERM, then KILL.
stop_pid()
{
	local pid=$1

	[ -n "$pid" ] || return 0
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
}

cleanup()
{
	local rc=$? m left=0

	set +e
	trap - EXIT INT TERM
	daemon_trace_stop
	unmount_one "$HUBMNT"
	unmount_one "$PTMNT"
	stop_pid "$HUB_PID"
	stop_pid "$PT_PID"
	wait 2>/dev/null
	while read -r m; do
		umount -l "$m" 2>/dev/null
	done < <(awk -v w="$W/" 'index($2, w) == 1 { print $2 }' /proc/mounts)
	if [ -d "$W" ]; then
		mkdir -p "$LOGS"
		cp -f "$HUBLOG" "$PTLOG" "$ERR" "$LOGS/" 2>/dev/null
		awk -v w="$W/" 'index($2, w) == 1 { f = 1 } END { exit !f }' /proc/mounts && left=1
		if [ "$left" = 1 ]; then
			echo "bench.sh: a mount under $W is still there; not removing $W" >&2
		elif [ "$KEEP" = 1 ]; then
			echo "bench.sh: kept $W" >&2
		else
			rm -rf "$W"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$MEDIA" "$RAW" "$PTSRC" "$PTMNT" "$HUBMNT" "$HSTATE" "$HDATA"
: >"$ERR"

# --- helpers -----------------------------------------------------------------------------

drop_caches()
{
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# timeit CMD...: run CMD (stdout to /dev/null, stderr to $ERR); print its wall time in s.
timeit()
{
	local t0 t1

	t0=$EPOCHREALTIME
	if ! "$@" >/dev/null 2>>"$ERR"; then
		echo "bench.sh: failed: $*" >&2
		tail -n 5 "$ERR" >&2
		return 1
	fi
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}

cat_null()
{
	cat "$1" >/dev/null
}

declare -A RES

# add KEY VALUE: one more sample of KEY.
add()
{
	RES[$1]="${RES[$1]:-} $2"
}

# med KEY: the median of KEY's samples (empty if none).
med()
{
	local s=${RES[$1]:-}

	[ -n "${s// /}" ] || return 0
	tr ' ' '\n' <<<"$s" | grep . | sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR % 2) printf "%.6f", v[(NR + 1) / 2]
			else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# calc EXPR: awk arithmetic on numbers (every operand must be there).
calc()
{
	awk "BEGIN { printf \"%.6f\", $1 }"
}

# minus A B: A − B, or "" when either is missing.
minus()
{
	[ -n "${1:-}" ] && [ -n "${2:-}" ] && calc "$1 - $2"
	return 0
}

# fmt_s SECONDS / fmt_ms SECONDS / ratio A B: formatting, "-" when missing.
fmt_s()
{
	[ -n "${1:-}" ] && awk -v v="$1" 'BEGIN { printf "%.3f s", v }' || printf '-'
}

fmt_ms()
{
	[ -n "${1:-}" ] && awk -v v="$1" 'BEGIN { printf "%.1f ms", v * 1000 }' || printf '-'
}

# fmt_ms2 SECONDS: milliseconds with two decimals (saves, searches).
fmt_ms2()
{
	[ -n "${1:-}" ] && awk -v v="$1" 'BEGIN { printf "%.2f ms", v * 1000 }' || printf '-'
}

ratio()
{
	if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'
	else
		printf '-'
	fi
}

mibps()
{
	[ -n "${2:-}" ] && awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f MiB/s", b / 1048576 / t }' ||
		printf '-'
}

# The order of the three targets in repetition $1: rotated, so no one always goes first.
order()
{
	local t=(raw pt hub) s=$((($1 - 1) % 3))

	echo "${t[s]} ${t[(s + 1) % 3]} ${t[(s + 2) % 3]}"
}

# close_time STRACE_OUT PATH: how long cp's close() of PATH took (seconds).
close_time()
{
	awk -v p="<$2>)" 'index($0, "close(") && index($0, p) {
			if (match($0, /<[0-9.]+>$/)) t = substr($0, RSTART + 1, RLENGTH - 2)
		}
		END { if (t == "") exit 1; print t }' "$1"
}

# traced_close CMD... (the destination last): run CMD under strace, print its close() time.
traced_close()
{
	local out=$W/strace.out dst=${*: -1}

	strace -f --seccomp-bpf -y -T -e trace=close -o "$out" "$@" >/dev/null 2>>"$ERR" || {
		echo "bench.sh: failed under strace: $*" >&2
		tail -n 5 "$ERR" >&2
		return 1
	}
	close_time "$out" "$dst" || echo ""
}

# daemon_trace_start [SYSCALLS]: attach strace to every thread of the hubfs daemon (only
# SYSCALLS, default openat, close and fsync, are recorded, with timestamps) and wait until
# it is attached.
daemon_trace_start()
{
	local all s

	strace -f -p "$HUB_PID" -ttt -T -y -e trace="${1:-openat,close,fsync}" \
		-o "$W/daemon.strace" 2>>"$ERR" &
	TRACE_PID=$!
	for _ in $(seq 1 100); do
		all=1
		for s in /proc/"$HUB_PID"/task/*/status; do
			awk '/^TracerPid:/ { exit !($2 != 0) }' "$s" 2>/dev/null || all=0
		done
		[ "$all" = 1 ] && return 0
		sleep 0.05
	done
	return 1
}

daemon_trace_stop()
{
	[ -n "$TRACE_PID" ] || return 0
	kill "$TRACE_PID" 2>/dev/null
	wait "$TRACE_PID" 2>/dev/null || true
	TRACE_PID=
}

# daemon_times: from the daemon's trace, "VALIDATION FSYNC" in seconds: validation is from
# the validator's own open(O_RDONLY) of the staged file to its close() of it; FSYNC is the
# fsync of the staged bytes before the commit's rename. "-" for what is not found.
daemon_times()
{
	awk '
	function dur(line) { return match(line, /<[0-9.]+>$/) ? substr(line, RSTART + 1, RLENGTH - 2) : "" }
	$3 ~ /^openat\(/ && $0 ~ /\/staging\/[^"]*", O_RDONLY/ && match($0, /\) = [0-9]+</) {
		tid = $1; t0 = $2; fd = substr($0, RSTART + 4, RLENGTH - 5); next
	}
	t0 != "" && val == "" && $1 == tid && index($3, "close(" fd "<") == 1 { val = $2 - t0 }
	$3 ~ /^fsync\(/ && $0 ~ /\/staging\// {
		if ($0 ~ /unfinished/) pend[$1] = 1; else fs = dur($0)
	}
	pend[$1] && $0 ~ /<\.\.\. fsync resumed>/ { fs = dur($0); pend[$1] = 0 }
	END { printf "%s %s\n", (val == "" ? "-" : sprintf("%.6f", val)), (fs == "" ? "-" : fs) }
	' "$W/daemon.strace"
}

wait_mount()
{
	local m=$1 pid=$2 log=$3

	for _ in $(seq 1 100); do
		is_mounted "$m" && return 0
		kill -0 "$pid" 2>/dev/null || {
			cat "$log" >&2
			die "the daemon for $m exited during mount"
		}
		sleep 0.1
	done
	die "$m did not come up within 10 s"
}

# count_entries DIR: visible entries in DIR (0 if it cannot be listed).
count_entries()
{
	{ ls -A "$1" 2>/dev/null || true; } | grep -cv '^\.' || true
}

vmhwm()
{
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null
}

vmrss()
{
	awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null
}

cpu_ticks()
{
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# cpu_split PID: "USER SYS" CPU seconds used so far by process PID.
cpu_split()
{
	awk -v hz="$HZ" '{ printf "%.3f %.3f", $14 / hz, $15 / hz }' "/proc/$1/stat"
}

# pid_of TARGET: the daemon serving target pt or hub.
pid_of()
{
	case "$1" in
	pt) echo "$PT_PID" ;;
	hub) echo "$HUB_PID" ;;
	esac
}

# mem_mark PHASE: note the daemon's RSS and peak RSS after PHASE.
MEM_TRACE=
mem_mark()
{
	MEM_TRACE+="${MEM_TRACE:+, }$1 $(vmrss "$HUB_PID")/$(vmhwm "$HUB_PID")"
}

# --- media (cached) ----------------------------------------------------------------------

gen()
{
	local out=$1
	shift
	[ -s "$out" ] && return 0
	say "generating $(basename "$out")"
	ffmpeg -nostdin -v error -y "$@" "$out.tmp.${out##*.}" || die "ffmpeg failed for $out"
	mv "$out.tmp.${out##*.}" "$out"
}

if [ "$NOTES_ONLY" = 0 ]; then
	FRAME=$((1920 * 1080 * 3 / 2))
	BIG_SECS=$(awk -v m="$BIG_MIB" -v f="$FRAME" 'BEGIN { printf "%.3f", m * 1048576 / f / 30 }')
	BIG=$MEDIA/big-${BIG_MIB}M.mkv
	gen "$BIG" -f lavfi -i testsrc2=size=1920x1080:rate=30 -t "$BIG_SECS" -c:v rawvideo \
		-pix_fmt yuv420p
	VFS=$MEDIA/val-${VAL_SECS}s-faststart.mp4
	VEND=$MEDIA/val-${VAL_SECS}s-moovend.mp4
	VMKV=$MEDIA/val-${VAL_SECS}s.mkv
	gen "$VFS" -f lavfi -i testsrc2=size=1920x1080:rate=30 -t "$VAL_SECS" -c:v libx264 \
		-preset ultrafast -qp 0 -pix_fmt yuv420p -movflags +faststart
	gen "$VEND" -i "$VFS" -c copy
	gen "$VMKV" -i "$VFS" -c copy
	SMALL=$MEDIA/small.mp4
	gen "$SMALL" -f lavfi -i testsrc2=size=320x240:rate=30 -t 1 -c:v libx264 -preset ultrafast \
		-crf 35 -pix_fmt yuv420p -movflags +faststart
	# The two MP4s really differ where the moov is.
	head -c 65536 "$VFS" | grep -qa moov || die "$VFS: no moov near the start (not faststart?)"
	head -c 65536 "$VEND" | grep -qa moov && die "$VEND: moov near the start (not moov-at-end?)"
	BIG_BYTES=$(stat -c %s "$BIG")
fi

# --- mounts ------------------------------------------------------------------------------

say "mounting passthrough_ll (source=$PTSRC) and hubfs (state and data under $W)"
"$PT" -f -o source="$PTSRC" "$PTMNT" >>"$PTLOG" 2>&1 &
PT_PID=$!
wait_mount "$PTMNT" "$PT_PID" "$PTLOG"
"$HUBFS" -f -o "state_dir=$HSTATE,data_dir=$HDATA,max_upload_mb=4096" "$HUBMNT" >>"$HUBLOG" 2>&1 &
HUB_PID=$!
wait_mount "$HUBMNT" "$HUB_PID" "$HUBLOG"
for _ in $(seq 1 50); do
	[ -d "$HUBMNT/videos" ] && break
	sleep 0.1
done
[ -d "$HUBMNT/videos" ] || die "hubfs is mounted but $HUBMNT/videos is not there"

dst_of()
{
	case "$1" in
	raw) echo "$RAW/$2" ;;
	pt) echo "$PTMNT/$2" ;;
	hub) echo "$HUBMNT/videos/$2" ;;
	esac
}

CP=(cp --reflink=never)

# --- 1. cp in, 2. cat out ----------------------------------------------------------------
if [ "$NOTES_ONLY" = 0 ]; then

	say "1/6 cp of a $BIG_MIB MiB video in, until durable ($REPS repetitions)"
	for rep in $(seq 1 "$REPS"); do
		for t in $(order "$rep"); do
			dst=$(dst_of "$t" big.mkv)
			rm -f "$dst"
			drop_caches
			[ "$t" = raw ] || read -r u0 s0 <<<"$(cpu_split "$(pid_of "$t")")"
			tc=$(timeit "${CP[@]}" "$BIG" "$dst") || die "cp into $t failed"
			ts=$(timeit sync "$dst") || die "sync of the copy in $t failed"
			add "cp.$t" "$tc"
			add "cps.$t" "$(calc "$tc + $ts")"
			if [ "$t" != raw ]; then
				read -r u1 s1 <<<"$(cpu_split "$(pid_of "$t")")"
				add "cpu.user.$t" "$(calc "$u1 - $u0")"
				add "cpu.sys.$t" "$(calc "$s1 - $s0")"
			fi
		done
	done

	mem_mark "after cp in"
	say "2/6 cat of it out, caches dropped"
	for rep in $(seq 1 "$REPS"); do
		for t in $(order "$rep"); do
			drop_caches
			tr=$(timeit cat_null "$(dst_of "$t" big.mkv)") || die "reading from $t failed"
			add "cat.$t" "$tr"
		done
	done
	say "checking that the three copies are identical to the source"
	for t in raw pt hub; do
		cmp -s "$BIG" "$(dst_of "$t" big.mkv)" || PROBLEMS+=("the $t copy of big.mkv differs from the source")
	done
	rm -f "$(dst_of raw big.mkv)" "$(dst_of pt big.mkv)" "$(dst_of hub big.mkv)"

	mem_mark "after cat"

	# --- 3. validation cost per file ---------------------------------------------------------

	say "3/6 validation cost per file (hubfs vs passthrough_ll)"
	mkdir -p "$PTMNT/val" "$HUBMNT/videos/val"
	VAL_KINDS=(fs end mkv small)
	declare -A VAL_SRC=([fs]=$VFS [end]=$VEND [mkv]=$VMKV [small]=$SMALL)
	declare -A VAL_NAME=([fs]=faststart.mp4 [end]=moovend.mp4 [mkv]=video.mkv [small]=small.mp4)
	for k in "${VAL_KINDS[@]}"; do
		src=${VAL_SRC[$k]}
		name=${VAL_NAME[$k]}
		for rep in $(seq 1 "$REPS"); do
			pair="pt hub"
			[ $((rep % 2)) = 1 ] || pair="hub pt" # alternate the order
			for t in $pair; do
				dst=$(dst_of "$t" "val/$name")
				rm -f "$dst"
				drop_caches
				cat "$src" >/dev/null # the source is read from memory: only the writes differ
				tc=$(timeit "${CP[@]}" "$src" "$dst") || die "cp of $(basename "$src") into $t failed"
				ts=$(timeit sync "$dst") || die "sync of val/$name in $t failed"
				add "v.$k.cp.$t" "$tc"
				add "v.$k.sync.$t" "$ts"
				add "v.$k.cps.$t" "$(calc "$tc + $ts")"
				if [ "$HAVE_STRACE" = 1 ] && [ "$t" = hub ]; then
					# A second, traced copy: cp's close() from the outside, and the
					# validator's own open..close inside the daemon.
					rm -f "$dst"
					drop_caches
					cat "$src" >/dev/null
					daemon_trace_start || die "strace could not attach to hubfs (pid $HUB_PID)"
					tcl=$(traced_close "${CP[@]}" "$src" "$dst") ||
						die "cp of $(basename "$src") into $t failed under strace"
					daemon_trace_stop
					[ -n "$tcl" ] && add "v.$k.close.hub" "$tcl"
					read -r tv tf <<<"$(daemon_times)" || true
					[ "${tv:--}" = - ] || add "v.$k.val.hub" "$tv"
					[ "${tf:--}" = - ] || add "v.$k.fsync.hub" "$tf"
				fi
			done
		done
		rm -f "$(dst_of pt "val/$name")" "$(dst_of hub "val/$name")"
	done

	mem_mark "after validation"

	# --- 4. ls -l of NFILES videos ------------------------------------------------------------

	say "4/6 ls -l of $NFILES videos: populating"
	mkdir -p "$RAW/lib"
	# shellcheck disable=SC2016 # expanded by the inner sh: one tee writes many copies
	(cd "$RAW/lib" && seq -f 'v%05g.mp4' 1 "$NFILES" | xargs sh -c 'tee "$@" <"$0" >/dev/null' "$SMALL")
	[ "$(count_entries "$RAW/lib")" = "$NFILES" ] || die "could not create $NFILES files in $RAW/lib"
	drop_caches
	POP_RAW=$(timeit "${CP[@]}" -r "$RAW/lib" "$RAW/lib-copy") || die "cp -r on the raw disk failed"
	rm -rf "$RAW/lib-copy"
	drop_caches
	POP_PT=$(timeit "${CP[@]}" -r "$RAW/lib" "$PTMNT/lib") || die "cp -r into passthrough_ll failed"
	drop_caches
	POP_HUB=$(timeit "${CP[@]}" -r "$RAW/lib" "$HUBMNT/videos/lib") || die "cp -r into hubfs failed"
	# cp returned after the last close(), so every video is committed; make sure it is listed.
	LIST_WAIT=0
	t0=$EPOCHREALTIME
	while [ "$(count_entries "$HUBMNT/videos/lib")" != "$NFILES" ]; do
		LIST_WAIT=$(calc "$EPOCHREALTIME - $t0")
		awk -v w="$LIST_WAIT" 'BEGIN { exit !(w > 300) }' && {
			PROBLEMS+=("hubfs lists $(count_entries "$HUBMNT/videos/lib") of $NFILES videos in videos/lib 300 s after cp -r returned")
			break
		}
		sleep 0.2
	done

	mem_mark "after cp -r of $NFILES"
	say "4/6 ls -l of $NFILES videos: timing"
	for rep in $(seq 1 "$REPS"); do
		for t in $(order "$rep"); do
			case "$t" in
			raw) d=$RAW/lib ;;
			pt) d=$PTMNT/lib ;;
			hub) d=$HUBMNT/videos/lib ;;
			esac
			drop_caches
			tc=$(timeit ls -l "$d") || die "ls -l in $t failed"
			tw=$(timeit ls -l "$d") || die "ls -l in $t failed"
			# The same walk with stat only (no xattr lookups), warm: what ls -l adds on top.
			tf=$(timeit find "$d" -printf '%s\n') || die "find in $t failed"
			add "ls.cold.$t" "$tc"
			add "ls.warm.$t" "$tw"
			add "ls.stat.$t" "$tf"
		done
	done
	# What one warm ls -l asks of each filesystem (syscalls that go to the daemon per entry).
	LS_SYSCALLS=
	if [ "$HAVE_STRACE" = 1 ]; then
		for t in hub pt; do
			case "$t" in
			pt) d=$PTMNT/lib ;;
			hub) d=$HUBMNT/videos/lib ;;
			esac
			strace -c -o "$W/ls.$t.strace" ls -l "$d" >/dev/null 2>>"$ERR" || true
			LS_SYSCALLS+="$t: $(awk '$NF ~ /^(statx|lstat|newfstatat|getxattr|lgetxattr|listxattr|llistxattr|getdents64)$/ {
					e = ($5 ~ /^[0-9]+$/ && NF == 6) ? $5 : 0
					printf "%s%s %s%s", s, $NF, $4, (e ? " (" e " failed)" : ""); s = ", "
				}' "$W/ls.$t.strace"); "
		done
	fi

	say "4/6 hubfs's scanner: $NFILES videos put into data_dir by hand"
	t0=$EPOCHREALTIME
	cp --reflink=never -r "$RAW/lib" "$HDATA/lib-scan"
	SCAN_DONE=
	while :; do
		n=$(count_entries "$HUBMNT/videos/lib-scan")
		if [ "$n" = "$NFILES" ]; then
			SCAN_DONE=$(calc "$EPOCHREALTIME - $t0")
			break
		fi
		if awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a > 600) }'; then
			PROBLEMS+=("the scanner adopted $n of $NFILES hand-placed videos in 600 s")
			break
		fi
		sleep 0.5
	done
	sleep 2 # let the pass that adopted the last one finish
	mem_mark "after the scanner adopted $NFILES more"
	c0=$(cpu_ticks "$HUB_PID")
	sleep "$IDLE_SECS"
	c1=$(cpu_ticks "$HUB_PID")
	IDLE_CPU=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v s="$IDLE_SECS" \
		'BEGIN { printf "%.1f", (b - a) / hz / s * 100 }')

fi
# --- 5. notes/ ---------------------------------------------------------------------------

# Where the notes go: the 10,000 at the root of hubfs's notes/, in a directory of their own
# on passthrough_ll and the raw disk; the saved notes in a folder beside them.
nlib_of()
{
	case "$1" in
	raw) echo "$RAW/nlib" ;;
	pt) echo "$PTMNT/nlib" ;;
	hub) echo "$HUBMNT/notes" ;;
	esac
}

nsave_of()
{
	case "$1" in
	raw) echo "$RAW/nsave" ;;
	pt) echo "$PTMNT/nsave" ;;
	hub) echo "$HUBMNT/notes/save" ;;
	esac
}

[ -d "$HUBMNT/notes" ] || die "hubfs is mounted but $HUBMNT/notes is not there"
say "5/6 notes: populating $NNOTES notes"
mkdir -p "$RAW/nlib" "$PTMNT/nlib"
"$NB" gen "$RAW/nlib" "$NNOTES" 2>>"$ERR" || die "could not write $NNOTES notes into $RAW/nlib"
[ "$(count_entries "$RAW/nlib")" = "$NNOTES" ] || die "could not create $NNOTES notes in $RAW/nlib"
for t in raw pt hub; do
	case "$t" in
	raw) dst=$RAW/nlib-copy ;;
	*) dst=$(nlib_of "$t") ;;
	esac
	drop_caches
	# "DIR/." copies the notes into dst itself (hubfs's notes/ exists; the others too).
	mkdir -p "$dst"
	tc=$(timeit "${CP[@]}" -r "$RAW/nlib/." "$dst/") || die "cp -r of the notes into $t failed"
	ts=$(timeit sync) || die "sync after the notes' cp -r into $t failed"
	add "npop.$t" "$tc"
	add "npops.$t" "$(calc "$tc + $ts")"
done
rm -rf "$RAW/nlib-copy"
n=$(count_entries "$HUBMNT/notes")
[ "$n" = "$NNOTES" ] || PROBLEMS+=("hubfs lists $n of $NNOTES notes in notes/ after cp -r returned")
mem_mark "after $NNOTES notes"

# Tags on 1% of the notes (the ones gen planted nothing else in: i % 100 == 25).
NTAGGED=0
t0=$EPOCHREALTIME
for i in $(seq 25 100 "$NNOTES"); do
	f=$HUBMNT/notes/$(printf 'note%05d.md' "$i")
	if setfattr -n user.xdg.tags -v bench,urgent "$f" 2>>"$ERR"; then
		NTAGGED=$((NTAGGED + 1))
	else
		PROBLEMS+=("setfattr user.xdg.tags on $f failed: $(tail -n 1 "$ERR")")
		break
	fi
done
TAG_TIME=$(calc "$EPOCHREALTIME - $t0")

say "5/6 notes: ls of $NNOTES notes"
for rep in $(seq 1 "$REPS"); do
	for t in $(order "$rep"); do
		d=$(nlib_of "$t")
		drop_caches
		tc=$(timeit ls "$d") || die "ls in $t failed"
		tw=$(timeit ls "$d") || die "ls in $t failed"
		add "nls.cold.$t" "$tc"
		add "nls.warm.$t" "$tw"
		drop_caches
		tc=$(timeit ls -l "$d") || die "ls -l in $t failed"
		tw=$(timeit ls -l "$d") || die "ls -l in $t failed"
		add "nlsl.cold.$t" "$tc"
		add "nlsl.warm.$t" "$tw"
	done
done

say "5/6 notes: search over $NNOTES notes"
NQ_KINDS=(word prefix tags phrase)
declare -A NQ=([word]=zephyrine [prefix]='projec*' [tags]='tags:urgent'
	[phrase]='"quarterly budget review"')
declare -A NQ_WANT=([word]=$((NNOTES / 100)) [prefix]=$(((NNOTES + 19) / 20))
	[tags]=$NTAGGED [phrase]=$(((NNOTES + 50) / 100)))
NQ_GOT=
for k in "${NQ_KINDS[@]}"; do
	n=$({ ls "$HUBMNT/notes/.search/${NQ[$k]}/" 2>>"$ERR" || true; } | wc -l)
	NQ_GOT+="${NQ_GOT:+, }${NQ[$k]} $n"
	[ "$n" = "${NQ_WANT[$k]}" ] ||
		PROBLEMS+=("search ${NQ[$k]} lists $n notes, not ${NQ_WANT[$k]}")
done
n=$(grep -rlw zephyrine "$RAW/nlib" | wc -l)
[ "$n" = "${NQ_WANT[word]}" ] || PROBLEMS+=("grep finds zephyrine in $n notes, not ${NQ_WANT[word]}")
for rep in $(seq 1 "$REPS"); do
	# The baseline: grep of the word over the same notes, through passthrough_ll and raw.
	for t in raw pt; do
		drop_caches
		tc=$(timeit grep -rlw zephyrine "$(nlib_of "$t")") || die "grep in $t failed"
		tw=$(timeit grep -rlw zephyrine "$(nlib_of "$t")") || die "grep in $t failed"
		for k in "${NQ_KINDS[@]}"; do
			add "nq.$k.cold.$t" "$tc"
			add "nq.$k.warm.$t" "$tw"
		done
	done
	for k in "${NQ_KINDS[@]}"; do
		d=$HUBMNT/notes/.search/${NQ[$k]}/
		drop_caches
		tc=$(timeit ls "$d") || die "ls of notes/.search/${NQ[$k]}/ failed"
		tw=$(timeit ls "$d") || die "ls of notes/.search/${NQ[$k]}/ failed"
		add "nq.$k.cold.hub" "$tc"
		add "nq.$k.warm.hub" "$tw"
	done
done

say "5/6 notes: save latency ($SAVES_4K x 4 KiB, $SAVES_1M x 1 MiB per repetition)"
NS_KINDS=(4k.close 4k.fsync 1m.close 1m.fsync)
declare -A NS_BYTES=([4k]=4096 [1m]=1048576)
declare -A NS_COUNT=([4k]=$SAVES_4K [1m]=$SAVES_1M)
for t in raw pt hub; do
	mkdir -p "$(nsave_of "$t")"
done
seed=0
for rep in $(seq 1 "$REPS"); do
	for t in $(order "$rep"); do
		for k in "${NS_KINDS[@]}"; do
			sz=${k%.*}
			fs=0
			[ "${k#*.}" = fsync ] && fs=1
			seed=$((seed + 1))
			sync
			out=$("$NB" save "$(nsave_of "$t")/s$k.md" "${NS_BYTES[$sz]}" "${NS_COUNT[$sz]}" \
				"$seed" "$fs" 2>>"$ERR") || {
				tail -n 3 "$ERR" >&2
				die "saving $k notes in $t failed"
			}
			read -r m p90 <<<"$out"
			add "ns.$k.$t" "$m"
			add "ns90.$k.$t" "$p90"
		done
	done
done
# Every save changed the content: one version each.
for k in "${NS_KINDS[@]}"; do
	want=$((REPS * ${NS_COUNT[${k%.*}]}))
	n=$({ ls "$HUBMNT/notes/.versions/save/s$k.md/" 2>>"$ERR" || true; } | wc -l)
	[ "$n" = "$want" ] || PROBLEMS+=("notes/save/s$k.md has $n versions after $want saves")
done
# What the daemon does to make a save durable: its fsync/fdatasync calls during 10 saves.
declare -A NS_FSYNCS
if [ "$HAVE_STRACE" = 1 ]; then
	for sz in 4k 1m; do
		daemon_trace_start fsync,fdatasync,sync_file_range ||
			die "strace could not attach to hubfs (pid $HUB_PID)"
		seed=$((seed + 1))
		"$NB" save "$HUBMNT/notes/save/traced-$sz.md" "${NS_BYTES[$sz]}" 10 "$seed" 0 \
			>/dev/null 2>>"$ERR" || die "traced saves of $sz notes failed"
		daemon_trace_stop
		NS_FSYNCS[$sz]=$(grep -cE '^[0-9]+ +[0-9.]+ (fsync|fdatasync|sync_file_range)\(' \
			"$W/daemon.strace" || true)
	done
fi
mem_mark "after notes"

# --- 6. memory ---------------------------------------------------------------------------

say "6/6 peak RSS"
HUB_HWM=$(vmhwm "$HUB_PID")
HUB_RSS=$(vmrss "$HUB_PID")
PT_HWM=$(vmhwm "$PT_PID")
PT_RSS=$(vmrss "$PT_PID")

# Unmount now, so the daemons' exit status can be checked.
unmount_one "$HUBMNT"
unmount_one "$PTMNT"
for _ in $(seq 1 100); do
	kill -0 "$HUB_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$HUB_PID" 2>/dev/null; then
	PROBLEMS+=("hubfs (pid $HUB_PID) did not exit within 10 s of its unmount")
else
	HUB_RC=0
	wait "$HUB_PID" || HUB_RC=$?
	HUB_PID=
	[ "$HUB_RC" = 0 ] || PROBLEMS+=("hubfs exited with status $HUB_RC after unmount")
fi
stop_pid "$PT_PID"
PT_PID=
while read -r line; do
	PROBLEMS+=("hubfs log: $line")
done < <(grep -E '^hubfs: (error|warning):|AddressSanitizer|runtime error' "$HUBLOG" | sort |
	uniq -c | sort -rn | head -n 10 | sed 's/^ *\([0-9]*\) /(x\1) /')

# --- report ------------------------------------------------------------------------------

REV=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$repo" diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || REV="$REV+dirty"
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
DISK=$(df -Ph "$BENCH_DIR" | awk 'NR == 2 { print $1 ", " $4 " free of " $2 }')
MODE=full
[ "$QUICK" = 1 ] && MODE=quick

row()
{
	printf '%-34s %12s %16s %12s %9s %9s\n' "$@"
}

# pct PART WHOLE: PART as a percentage of WHOLE ("1%").
pct()
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", a * 100 / b; else printf "-" }'
}

# ns_label 4k.close: "4 KiB, write+close".
ns_label()
{
	local l

	case "${1%.*}" in
	4k) l="4 KiB" ;;
	1m) l="1 MiB" ;;
	esac
	case "$1" in
	*.close) l+=", write+close" ;;
	*.fsync) l+=", write+fsync+close" ;;
	esac
	echo "$l"
}

# row3 LABEL HUBKEY PTKEY RAWKEY: like metric_row_ms, from three keys of any names.
row3()
{
	local h p r

	h=$(med "$2")
	p=$(med "$3")
	r=$(med "$4")
	row "$1" "$(fmt_ms2 "$h")" "$(fmt_ms2 "$p")" "$(fmt_ms2 "$r")" "$(ratio "$h" "$p")" \
		"$(ratio "$h" "$r")"
}

# metric_row_ms LABEL KEY: metric_row in milliseconds.
metric_row_ms()
{
	row3 "$1" "$2.hub" "$2.pt" "$2.raw"
}

# metric_row LABEL KEY: the three medians of KEY.{hub,pt,raw} and the time ratios.
metric_row()
{
	local h p r

	h=$(med "$2.hub")
	p=$(med "$2.pt")
	r=$(med "$2.raw")
	row "$1" "$(fmt_s "$h")" "$(fmt_s "$p")" "$(fmt_s "$r")" "$(ratio "$h" "$p")" "$(ratio "$h" "$r")"
}

echo
echo "hubfs bench ($MODE, median of $REPS; ratios are time ours/theirs, lower is better)"
echo
row "metric" "hubfs" "passthrough_ll" "raw" "hubfs/pt" "hubfs/raw"
if [ "$NOTES_ONLY" = 0 ]; then
	metric_row "cp in ${BIG_MIB} MiB (cp alone)" cp
	metric_row "cp in ${BIG_MIB} MiB + sync FILE" cps
	metric_row "cat out ${BIG_MIB} MiB, cold" cat
	metric_row "ls -l $NFILES, cold" ls.cold
	metric_row "ls -l $NFILES, warm" ls.warm
	metric_row "  stat only, warm (find -printf)" ls.stat
	row "populate $NFILES (cp -r)" "$(fmt_s "$POP_HUB")" "$(fmt_s "$POP_PT")" "$(fmt_s "$POP_RAW")" \
		"$(ratio "$POP_HUB" "$POP_PT")" "$(ratio "$POP_HUB" "$POP_RAW")"
fi
metric_row "notes: populate $NNOTES (cp -r)" npop
metric_row "  + sync" npops
metric_row "ls notes/ $NNOTES, cold" nls.cold
metric_row "ls notes/ $NNOTES, warm" nls.warm
metric_row "ls -l notes/ $NNOTES, cold" nlsl.cold
metric_row "ls -l notes/ $NNOTES, warm" nlsl.warm
for k in "${NQ_KINDS[@]}"; do
	for c in cold warm; do
		metric_row_ms "search $k ($(pct "${NQ_WANT[$k]}" "$NNOTES")), $c" "nq.$k.$c"
	done
done
for k in "${NS_KINDS[@]}"; do
	metric_row_ms "save $(ns_label "$k")" "ns.$k"
done
for sz in 4k 1m; do
	row3 "save $(ns_label "$sz"), hubfs close vs fsync" ns.$sz.close.hub ns.$sz.fsync.pt \
		ns.$sz.fsync.raw
done
row "peak RSS (VmHWM), MiB" "$HUB_HWM" "$PT_HWM" "-" "$(ratio "$HUB_HWM" "$PT_HWM")" "-"
echo
if [ "$NOTES_ONLY" = 0 ]; then
	echo "throughput: cp in (durable) hubfs $(mibps "$BIG_BYTES" "$(med cps.hub)"), passthrough_ll" \
		"$(mibps "$BIG_BYTES" "$(med cps.pt)"), raw $(mibps "$BIG_BYTES" "$(med cps.raw)");" \
		"cat hubfs $(mibps "$BIG_BYTES" "$(med cat.hub)"), passthrough_ll" \
		"$(mibps "$BIG_BYTES" "$(med cat.pt)"), raw $(mibps "$BIG_BYTES" "$(med cat.raw)")"
	echo "daemon CPU per cp in: hubfs user $(fmt_s "$(med cpu.user.hub)"), sys" \
		"$(fmt_s "$(med cpu.sys.hub)"); passthrough_ll user $(fmt_s "$(med cpu.user.pt)"), sys" \
		"$(fmt_s "$(med cpu.sys.pt)")"
	echo "hubfs's cp alone is durable when it returns (validated and committed in close());"
	echo "the '+ sync FILE' row times it the same way as the others."
	echo

	echo "validation cost per file (ms; source in page cache, caches dropped before each cp)"
	vrow()
	{
		printf '%-22s %9s %9s %11s %10s %13s %12s %11s %12s\n' "$@"
	}
	vrow "file" "hubfs cp" "pt cp" "pt cp+sync" "hubfs-pt" "hubfs-(pt+s)" "hubfs close" "validation" "hubfs fsync"
	declare -A VAL_EST
	for k in "${VAL_KINDS[@]}"; do
		src=${VAL_SRC[$k]}
		size=$(stat -c %s "$src")
		case "$k" in
		fs) label="faststart mp4" ;;
		end) label="moov-at-end mp4" ;;
		mkv) label="mkv" ;;
		small) label="small mp4" ;;
		esac
		label="$label $(awk -v b="$size" 'BEGIN { if (b >= 1048576) printf "%.0f MB", b / 1e6; else printf "%.0f KB", b / 1e3 }')"
		hc=$(med "v.$k.cp.hub")
		pc=$(med "v.$k.cp.pt")
		pcs=$(med "v.$k.cps.pt")
		VAL_EST[$k]=$(med "v.$k.val.hub")
		vrow "$label" "$(fmt_ms "$hc")" "$(fmt_ms "$pc")" "$(fmt_ms "$pcs")" \
			"$(fmt_ms "$(minus "$hc" "$pc")")" "$(fmt_ms "$(minus "$hc" "$pcs")")" \
			"$(fmt_ms "$(med "v.$k.close.hub")")" "$(fmt_ms "${VAL_EST[$k]}")" \
			"$(fmt_ms "$(med "v.$k.fsync.hub")")"
	done
	echo "hubfs-pt: hubfs cp − passthrough cp; hubfs-(pt+s): hubfs cp − passthrough (cp + sync"
	echo "FILE), the fair one (hubfs's cp is durable). The next three come from one more, traced"
	echo "copy: hubfs close = cp's close() of the destination (strace on cp: hubfs validates, fsyncs"
	echo "and commits there); validation = the validator's own open..close of the staged file and"
	echo "hubfs fsync = the fsync of the staged bytes, both from strace attached to the daemon."
	[ "$HAVE_STRACE" = 1 ] || echo "(strace is not installed: those columns are empty)"
	echo

	echo "scanner: $NFILES videos put into data_dir by hand were listed after" \
		"$(fmt_s "$SCAN_DONE") (files settle 2 s before validation); hubfs idle CPU with" \
		"$((2 * NFILES)) videos: ${IDLE_CPU}% of one core over ${IDLE_SECS} s"
	[ "$LIST_WAIT" = 0 ] || echo "after cp -r returned, hubfs listed all $NFILES after $(fmt_s "$LIST_WAIT")"
	[ -z "$LS_SYSCALLS" ] || echo "one warm ls -l (syscall count): $LS_SYSCALLS"
	echo
fi
echo "notes/: $NNOTES generated text notes (~0.5-2.5 KB); populate = cp -r into hubfs's notes/"
echo "(every note a version), a passthrough_ll and a raw directory; '+ sync' adds a global sync."
echo "search rows: hubfs = ls notes/.search/QUERY/ for the word zephyrine, the prefix projec*,"
echo "tags:urgent (user.xdg.tags set on $NTAGGED notes by setfattr, $(fmt_s "$TAG_TIME") in all) and the"
echo "phrase \"quarterly budget review\" (its words alone are in ~90% of the notes); the"
echo "passthrough_ll and raw columns are grep -rlw zephyrine over the same notes, the baseline"
echo "of every query. Notes listed by the searches: $NQ_GOT."
echo "saves: open(O_TRUNC) + write + [fsync +] close of one note, new content each time,"
NS_P90=
for k in "${NS_KINDS[@]}"; do
	NS_P90+="${NS_P90:+; }$k hubfs $(fmt_ms2 "$(med "ns90.$k.hub")") pt"
	NS_P90+=" $(fmt_ms2 "$(med "ns90.$k.pt")") raw $(fmt_ms2 "$(med "ns90.$k.raw")")"
done
echo "$SAVES_4K x 4 KiB and $SAVES_1M x 1 MiB per repetition; median per save (p90: $NS_P90)."
echo "hubfs commits the version in close() (in fsync() when there is one; the close after it"
echo "has nothing new). The daemon's own fsync/fdatasync/sync_file_range calls during 10 saves:" \
	"4 KiB ${NS_FSYNCS[4k]:-?}, 1 MiB ${NS_FSYNCS[1m]:-?} (strace)."
echo "RSS at the end: hubfs ${HUB_RSS} MiB, passthrough_ll ${PT_RSS} MiB; hubfs RSS/peak (MiB)" \
	"$MEM_TRACE"
echo

# Targets.
verdict()
{
	awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {
		if (v == "" || v == "-") { print "n/a"; exit }
		ok = (op == ">=") ? (v >= t) : (v < t)
		print ok ? "ok" : "MISSED"
	}'
}
if [ "$NOTES_ONLY" = 0 ]; then
	SP_CP=$(ratio "$(med cps.pt)" "$(med cps.hub)")
	SP_CP_ALONE=$(ratio "$(med cps.pt)" "$(med cp.hub)")
	SP_CAT=$(ratio "$(med cat.pt)" "$(med cat.hub)")
	VAL_FS_MS=$(awk -v v="${VAL_EST[fs]:-}" 'BEGIN { if (v != "") printf "%.1f", v * 1000 }')
	LS_WARM=$(med ls.warm.hub)
	echo "targets"
	printf '  %-48s %10s  %-16s %s\n' "cp in, durable: speed vs passthrough" "${SP_CP}x" \
		"(>= 1.0x)" "$(verdict "$SP_CP" 1.0 '>=')"
	printf '  %-48s %10s  %-16s %s\n' "  (hubfs cp alone vs passthrough cp + sync)" "${SP_CP_ALONE}x" \
		"(>= 1.0x)" "$(verdict "$SP_CP_ALONE" 1.0 '>=')"
	printf '  %-48s %10s  %-16s %s\n' "read (cat, cold): speed vs passthrough" "${SP_CAT}x" \
		"(>= 1.0x)" "$(verdict "$SP_CAT" 1.0 '>=')"
	printf '  %-48s %10s  %-16s %s\n' "validation, faststart mp4" "${VAL_FS_MS:--} ms" \
		"(< 50 ms)" "$(verdict "$VAL_FS_MS" 50 '<')"
	printf '  %-48s %10s  %-16s %s\n' "ls -l $NFILES, warm" "$(fmt_s "$LS_WARM")" "(< 0.2 s)" \
		"$(verdict "$LS_WARM" 0.2 '<')"
	echo
fi

echo "problems"
if [ ${#PROBLEMS[@]} -eq 0 ]; then
	echo "  none seen (no error or warning lines in the daemon's log; it exited 0)"
else
	for p in "${PROBLEMS[@]}"; do
		echo "  - $p"
	done
fi
echo "  daemon logs: $LOGS/"
echo

# The block for a closing note.
sline()
{
	local h p r

	h=$(med "$2.hub")
	p=$(med "$2.pt")
	r=$(med "$2.raw")
	printf '%-28s hubfs %s | passthrough_ll %s | raw %s | hubfs/pt %s\n' "$1:" "$(fmt_s "$h")" \
		"$(fmt_s "$p")" "$(fmt_s "$r")" "$(ratio "$h" "$p")"
}
ARGS="-n $REPS"
[ "$QUICK" = 1 ] && ARGS="--quick $ARGS"
[ "$NOTES_ONLY" = 1 ] && ARGS="--notes-only $ARGS"
echo "----- summary (scripts/bench.sh $ARGS) -----"
echo "hubfs $REV, $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) CPUs ($CPU_MODEL), $MEM," \
	"kernel $(uname -r), disk $FSTYPE $DISK"
if [ "$NOTES_ONLY" = 0 ]; then
	sline "cp in ${BIG_MIB} MiB" cp
	sline "cp in ${BIG_MIB} MiB + sync" cps
	sline "cat out ${BIG_MIB} MiB cold" cat
	sline "ls -l $NFILES cold" ls.cold
	sline "ls -l $NFILES warm" ls.warm
	printf '%-28s hubfs %s | passthrough_ll %s | raw %s | hubfs/pt %s\n' "populate $NFILES (cp -r):" \
		"$(fmt_s "$POP_HUB")" "$(fmt_s "$POP_PT")" "$(fmt_s "$POP_RAW")" "$(ratio "$POP_HUB" "$POP_PT")"
	printf '%-28s faststart %s | moov-at-end %s | mkv %s | small %s (daemon, strace)\n' \
		"validation per file:" "$(fmt_ms "${VAL_EST[fs]:-}")" "$(fmt_ms "${VAL_EST[end]:-}")" \
		"$(fmt_ms "${VAL_EST[mkv]:-}")" "$(fmt_ms "${VAL_EST[small]:-}")"
fi
for sz in 4k 1m; do
	printf '%-28s hubfs %s | passthrough_ll %s | raw %s (write+fsync+close; hubfs: write+close,' \
		"save $(ns_label "$sz" | cut -d, -f1) note:" "$(fmt_ms2 "$(med "ns.$sz.close.hub")")" \
		"$(fmt_ms2 "$(med "ns.$sz.fsync.pt")")" "$(fmt_ms2 "$(med "ns.$sz.fsync.raw")")"
	printf ' durable at close) | hubfs/pt %s | no fsync: pt %s, raw %s | hubfs + fsync %s\n' \
		"$(ratio "$(med "ns.$sz.close.hub")" "$(med "ns.$sz.fsync.pt")")" \
		"$(fmt_ms2 "$(med "ns.$sz.close.pt")")" "$(fmt_ms2 "$(med "ns.$sz.close.raw")")" \
		"$(fmt_ms2 "$(med "ns.$sz.fsync.hub")")"
done
sline "populate $NNOTES notes" npop
sline "ls notes/ $NNOTES cold" nls.cold
sline "ls notes/ $NNOTES warm" nls.warm
for c in cold warm; do
	printf '%-28s word %s | prefix %s | tags %s | phrase %s | grep -rlw: raw %s, passthrough_ll %s\n' \
		"search $NNOTES notes $c:" "$(fmt_ms2 "$(med "nq.word.$c.hub")")" \
		"$(fmt_ms2 "$(med "nq.prefix.$c.hub")")" "$(fmt_ms2 "$(med "nq.tags.$c.hub")")" \
		"$(fmt_ms2 "$(med "nq.phrase.$c.hub")")" "$(fmt_ms2 "$(med "nq.word.$c.raw")")" \
		"$(fmt_ms2 "$(med "nq.word.$c.pt")")"
done
printf '%-28s 4 KiB %s | 1 MiB %s (strace)\n' "daemon fsyncs / 10 saves:" "${NS_FSYNCS[4k]:-?}" \
	"${NS_FSYNCS[1m]:-?}"
printf '%-28s hubfs %s MiB | passthrough_ll %s MiB\n' "peak RSS:" "$HUB_HWM" "$PT_HWM"
if [ "$NOTES_ONLY" = 0 ]; then
	printf '%-28s cp %sx (>= 1.0) | read %sx (>= 1.0) | validation %s ms (< 50) | ls warm %s (< 0.2 s)\n' \
		"targets:" "$SP_CP" "$SP_CAT" "${VAL_FS_MS:--}" "$(fmt_s "$LS_WARM")"
	printf '%-28s %s\n' "scanner:" "$NFILES hand-placed listed after $(fmt_s "$SCAN_DONE"); idle CPU ${IDLE_CPU}% with $((2 * NFILES)) videos"
fi
echo "problems: ${#PROBLEMS[@]}"
echo "-----"

# 7. streams/: its own script and summary (it reuses build-bench/).
if [ "$NOTES_ONLY" = 0 ]; then
	echo
	BENCH_NO_BUILD=1 "$repo/scripts/bench-streams.sh" "${STREAMS_ARGS[@]}" ||
		echo "bench.sh: the streams part failed (see above)" >&2
	echo
	BENCH_NO_BUILD=1 "$repo/scripts/bench-s3.sh" "${S3_ARGS[@]}" ||
		echo "bench.sh: the S3 part failed (see above)" >&2
fi
