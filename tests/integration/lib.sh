# lib.sh — shared by the integration tests: each test sources it, gets its own temp dir,
# mounts the real hubfs in the foreground, drives it with ordinary tools and unmounts in a
# trap. A test fails when a check fails or when the daemon's stderr shows a sanitizer report
# or an error line the test did not declare as expected (HUB_EXPECT_ERRORS, a regex).
#
# Environment (from ctest): HUBFS_BIN, HUBFS_TEST_MEDIA, HUBFS_SOURCE_DIR. HUB_KEEP=1 keeps
# the temp dir (daemon log, state) of a passing run for a look.
set -euo pipefail

: "${HUBFS_BIN:?HUBFS_BIN must point to the hubfs binary}"
: "${HUBFS_TEST_MEDIA:?HUBFS_TEST_MEDIA must point to the generated test media}"
[ -f "$HUBFS_TEST_MEDIA/.done" ] || { echo "FAIL: test media missing in $HUBFS_TEST_MEDIA"; exit 1; }

T=$(mktemp -d /tmp/hubfs-it.XXXXXX)
MNT=$T/mnt
STATE=$T/state
DATA=$T/data
LOG=$T/hubfs.log
MEDIA=$HUBFS_TEST_MEDIA
HUB_PID=
HUB_EXPECT_ERRORS=${HUB_EXPECT_ERRORS:-'^$'}
mkdir -p "$MNT" "$STATE" "$DATA"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

note() { echo "-- $*"; }

# hub_mount [MOUNTPOINT [STATE [DATA]]] [-- extra hubfs args]: mount in the foreground.
hub_mount_at() {
	local mnt=$1 state=$2 data=$3
	shift 3
	mkdir -p "$mnt"
	"$HUBFS_BIN" -f -o "state_dir=$state,data_dir=$data" "$@" "$mnt" >>"$LOG" 2>&1 &
	local pid=$!
	for _ in $(seq 1 100); do
		if mountpoint -q "$mnt"; then
			HUB_LAST_PID=$pid
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { cat "$LOG" >&2; fail "hubfs exited during mount"; }
		sleep 0.1
	done
	fail "mount at $mnt did not come up within 10 s"
}

hub_mount() {
	hub_mount_at "$MNT" "$STATE" "$DATA" "$@"
	HUB_PID=$HUB_LAST_PID
}

# Unmount and wait for the daemon to exit cleanly (its status is checked).
hub_umount_at() {
	local mnt=$1 pid=$2 rc=0
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
		fail "hubfs (pid $pid) did not exit after unmount"
	fi
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || { tail -20 "$LOG" >&2; fail "hubfs exited with status $rc"; }
}

hub_umount() {
	[ -n "$HUB_PID" ] || return 0
	hub_umount_at "$MNT" "$HUB_PID"
	HUB_PID=
}

# Sanitizer reports and unexpected error lines in the daemon's output fail the test.
hub_check_log() {
	[ -f "$LOG" ] || return 0
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$LOG"; then
		cat "$LOG" >&2
		fail "sanitizer report in the daemon's output"
	fi
	local bad
	bad=$(grep -E '^hubfs: error:' "$LOG" | grep -vE "$HUB_EXPECT_ERRORS" || true)
	[ -z "$bad" ] || { echo "$bad" >&2; fail "unexpected error lines in the daemon's output"; }
}

# Commands a test registers to undo what it changed outside $T (run first, in order).
HUB_UNDO=()

hub_cleanup() {
	local rc=$?
	set +e
	for u in "${HUB_UNDO[@]}"; do eval "$u"; done
	for m in $(awk -v t="$T" '$2 ~ "^"t {print $2}' /proc/mounts); do
		fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	[ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$rc" = 0 ]; then
		(hub_check_log) || rc=1
	fi
	if [ "$rc" = 0 ] && [ -z "${HUB_KEEP:-}" ]; then
		rm -rf "$T"
		echo "PASS"
	elif [ "$rc" = 0 ]; then
		echo "PASS (kept in $T: HUB_KEEP)"
	else
		echo "daemon log: $LOG (kept in $T)" >&2
	fi
	exit $rc
}
trap hub_cleanup EXIT

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local secs=$1
	shift
	local n=$((secs * 10))
	for _ in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# expect_fail ERRTEXT CMD...: CMD must fail and its stderr must mention ERRTEXT.
expect_fail() {
	local want=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "expected '$*' to fail with '$want', it succeeded"
	fi
	case "$out" in
	*"$want"*) ;;
	*) fail "expected '$*' to fail with '$want', got: $out" ;;
	esac
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', want '$2'"
}

assert_absent() {
	[ ! -e "$1" ] || fail "$1 exists but should not"
	ls -a "$(dirname "$1")" | grep -qxF "$(basename "$1")" && fail "$1 is listed but should not be"
	return 0
}

# events_has REGEX: the event log holds a matching line.
events_has() {
	grep -qE "$1" "$MNT/.hub/events" || { tail -5 "$MNT/.hub/events" >&2; fail "no event matching '$1'"; }
}

xattr() { getfattr --only-values --absolute-names -n "$1" "$2" 2>/dev/null; }
