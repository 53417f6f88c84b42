#!/usr/bin/env bash
# 300-stream-worker: the stream worker (hubfs-stream) on its own, driven through its pipe
# protocol (include/hubfs/stream_proto.h) the way the daemon's supervisor drives it — no
# mount. The job goes in through a FIFO on fd 0 that stays open (EOF would be a stop),
# reports are read from fd 1, the log from fd 2 must show no sanitizer report.
#   - bad jobs (unknown key, missing width) and a missing /dev/video99: "error", exit 1
#   - testsrc -> HLS + recording: ready, progress with advancing frames, the first segment
#     listed early, stop -> "done stopped", exit 0, #EXT-X-ENDLIST, 854x480 h264 + aac, a
#     valid Matroska recording
#   - a file on fd 3: loop=no ends with "done source ended"; loop=yes runs past the end
#   - a recording cut by kill -9 still decodes
#   - RTMP push to a real nginx-rtmp, read back with ffprobe; the stream key never shows;
#     the server dying mid-stream, and a closed port: "error", exit 1, quickly
# Environment: HUBFS_STREAM_BIN, HUBFS_TEST_MEDIA, HUBFS_SOURCE_DIR (ctest sets them).
set -euo pipefail

: "${HUBFS_STREAM_BIN:?HUBFS_STREAM_BIN must point to the hubfs-stream binary}"
: "${HUBFS_TEST_MEDIA:?HUBFS_TEST_MEDIA must point to the generated test media}"
SRC=${HUBFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=$HUBFS_STREAM_BIN
MEDIA=$HUBFS_TEST_MEDIA
[ -f "$MEDIA/faststart.mp4" ] || { echo "FAIL: test media missing in $MEDIA"; exit 1; }

T=$(mktemp -d /tmp/hubfs-it.XXXXXX)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
RTMP_DIR=
declare -A W_PID W_FD W_T0
declare -A RUNNING # PIDs of the workers not yet waited for

# Writing to a worker that has exited must not kill the test (EPIPE instead of SIGPIPE).
trap '' PIPE

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

note() { echo "-- $*"; }

cleanup() {
	local rc=$? p
	set +e
	for p in "${!RUNNING[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$RTMP_DIR" ] && "$SRC/scripts/rtmp-test-server.sh" stop "$RTMP_DIR"
	for p in "${!RUNNING[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$rc" = 0 ] && grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T"/*.err \
		2>/dev/null; then
		echo "FAIL: sanitizer report in a worker's log (above)" >&2
		rc=1
	fi
	if [ "$rc" = 0 ]; then
		rm -rf "$T"
		echo "PASS"
	else
		echo "worker outputs kept in $T" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# w_start NAME INPUT_FILE|- KEY=VALUE...: start a worker, its job on a FIFO kept open.
w_start() {
	local name=$1 input=$2 fd
	shift 2
	mkfifo "$T/$name.in"
	W_T0[$name]=$(now_ms)
	if [ "$input" = - ]; then
		"$BIN" "$name" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
	else
		"$BIN" "$name" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" 3<"$input" &
	fi
	W_PID[$name]=$!
	RUNNING[$!]=1
	exec {fd}>"$T/$name.in"
	W_FD[$name]=$fd
	printf '%s\n' "name=$name" "$@" "" >&"$fd" || true
}

# w_wait NAME REGEX SECONDS: until a report line of NAME matches.
w_wait() {
	local name=$1 re=$2 n=$(($3 * 20))
	for _ in $(seq "$n"); do
		grep -qE "$re" "$T/$name.out" && return 0
		if ! kill -0 "${W_PID[$name]}" 2>/dev/null; then
			grep -qE "$re" "$T/$name.out" && return 0
			break
		fi
		sleep 0.05
	done
	cat "$T/$name.out" "$T/$name.err" >&2
	fail "$name: no report matching '$re'"
}

# w_wait_time NAME MS SECONDS: until NAME reports an out_time_ms of at least MS.
w_wait_time() {
	local name=$1 ms=$2 n=$(($3 * 20)) t
	for _ in $(seq "$n"); do
		t=$(progress_field "$name" out_time_ms)
		[ -n "$t" ] && [ "$t" -ge "$ms" ] && return 0
		kill -0 "${W_PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/$name.out" "$T/$name.err" >&2
	fail "$name: out_time_ms did not reach $ms"
}

w_stop() {
	local fd=${W_FD[$1]}
	echo stop >&"$fd" || true
}

# w_exit NAME SECONDS WANT_STATUS: the worker exits in time with that status.
w_exit() {
	local name=$1 n=$(($2 * 20)) want=$3 rc=0 fd=${W_FD[$1]}
	for _ in $(seq "$n"); do
		kill -0 "${W_PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "${W_PID[$name]}" 2>/dev/null; then
		cat "$T/$name.out" "$T/$name.err" >&2
		fail "$name: still running after $2 s"
	fi
	exec {fd}>&-
	wait "${W_PID[$name]}" || rc=$?
	unset "RUNNING[${W_PID[$name]}]"
	[ "$rc" = "$want" ] || { cat "$T/$name.out" "$T/$name.err" >&2; fail "$name: exit status $rc, want $want"; }
}

last_line() { tail -n 1 "$T/$1.out"; }

# progress_field NAME FIELD: FIELD of NAME's latest progress line.
progress_field() {
	grep '^progress ' "$T/$1.out" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

probe() { ffprobe -v error -show_entries stream=codec_name,width,height -of compact "$1"; }

video_job=(width=854 height=480 fps=30 bitrate_kbps=1500)
small_job=(width=640 height=360 fps=25 bitrate_kbps=800)

# --- bad jobs --------------------------------------------------------------------------------
note "bad jobs"
bad_job() {
	local want=$1 out rc=0
	shift
	out=$(printf '%s\n' "$@" "" | timeout 10 "$BIN" bad 2>>"$T/bad.err") || rc=$?
	[ "$rc" = 1 ] || fail "bad job ($*): exit status $rc, want 1"
	case "$out" in
	"error "*"$want"*) ;;
	*) fail "bad job ($*): got '$out', want an error about '$want'" ;;
	esac
}
bad_job "unknown job key 'colour'" source=testsrc "${video_job[@]}" hls_dir="$T/x" colour=red
bad_job "missing job key 'width'" source=testsrc height=480 fps=30 bitrate_kbps=1500 hls_dir="$T/x"
bad_job "bad fps" source=testsrc width=854 height=480 fps=fast bitrate_kbps=1500 hls_dir="$T/x"
bad_job "no output" source=testsrc "${video_job[@]}"

note "a missing device"
w_start dev - source=device input=/dev/video99 "${video_job[@]}" hls_dir="$T/dev"
w_exit dev 10 1
case "$(last_line dev)" in
"error "*"/dev/video99"*) ;;
*) fail "missing device: got '$(last_line dev)'" ;;
esac

# --- testsrc -> HLS + recording ----------------------------------------------------------------
note "testsrc -> HLS + recording"
HLS=$T/hls
w_start ts - source=testsrc "${video_job[@]}" realtime=yes hls_dir="$HLS" \
	record_path="$T/ts.mkv"
first_ms=
for _ in $(seq 200); do
	if grep -q '\.ts$' "$HLS/index.m3u8" 2>/dev/null; then
		first_ms=$(($(now_ms) - W_T0[ts]))
		break
	fi
	sleep 0.02
done
[ -n "$first_ms" ] || fail "no HLS segment listed within 4 s"
note "first segment listed $first_ms ms after the worker started (target: 1200 ms)"
[ "$first_ms" -le 2500 ] || fail "first segment listed only after $first_ms ms"
w_wait ts '^ready$' 5
w_wait ts '^progress frames=[1-9]' 5
f1=$(progress_field ts frames)
sleep 1.1
f2=$(progress_field ts frames)
[ "$f2" -gt "$f1" ] || fail "frames did not advance: $f1 -> $f2"
grep -qE '^progress frames=[0-9]+ fps=[0-9.]+ bitrate_kbps=[0-9]+ speed=[0-9.]+ dropped=[0-9]+ out_time_ms=[0-9]+$' \
	"$T/ts.out" || fail "malformed progress line: $(grep '^progress' "$T/ts.out" | head -1)"
w_wait_time ts 2500 10
w_stop ts
w_exit ts 5 0
[ "$(last_line ts)" = "done stopped" ] || fail "testsrc: last report '$(last_line ts)'"
tail -n 1 "$HLS/index.m3u8" | grep -qx '#EXT-X-ENDLIST' || fail "no #EXT-X-ENDLIST after stop"
grep -q 'EXTINF:0.5' "$HLS/index.m3u8" || fail "no short first segment: $(cat "$HLS/index.m3u8")"
probe "$HLS/index.m3u8" >"$T/hls.probe" 2>&1
grep -q 'codec_name=h264|width=854|height=480' "$T/hls.probe" || fail "HLS is not h264 854x480: $(cat "$T/hls.probe")"
grep -q 'codec_name=aac' "$T/hls.probe" || fail "HLS has no AAC audio"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/ts.mkv")
awk -v d="$dur" 'BEGIN { exit !(d > 2) }' || fail "recording duration '$dur'"
ffmpeg -nostdin -v error -i "$T/ts.mkv" -f null - || fail "the recording does not decode"

# --- files on fd 3, and a recording killed midway (in parallel) --------------------------------
note "file on fd 3: loop=no, loop=yes; a recording cut by kill -9"
w_start once "$MEDIA/faststart.mp4" source=file input=videos/faststart.mp4 input_fd=3 \
	loop=no "${small_job[@]}" hls_dir="$T/once"
w_start loop "$MEDIA/faststart.mp4" source=file input=videos/faststart.mp4 input_fd=3 \
	loop=yes "${small_job[@]}" hls_dir="$T/loop"
w_start kill9 - source=testsrc "${small_job[@]}" record_path="$T/kill9.mkv"
w_exit once 10 0
[ "$(last_line once)" = "done source ended" ] || fail "loop=no: last report '$(last_line once)'"
tail -n 1 "$T/once/index.m3u8" | grep -qx '#EXT-X-ENDLIST' || fail "loop=no: no ENDLIST"
w_wait_time loop 3500 10 # well past the clip's 2 s
w_stop loop
w_exit loop 5 0
[ "$(last_line loop)" = "done stopped" ] || fail "loop=yes: last report '$(last_line loop)'"
w_wait_time kill9 3000 10
# kill and reap at once (2>/dev/null: no "Killed" notice from bash)
kill -KILL "${W_PID[kill9]}"
rc=0
wait "${W_PID[kill9]}" 2>/dev/null || rc=$?
unset "RUNNING[${W_PID[kill9]}]"
fd=${W_FD[kill9]}
exec {fd}>&-
[ "$rc" = 137 ] || fail "kill -9: exit status $rc"
ffmpeg -nostdin -v error -i "$T/kill9.mkv" -f null - 2>"$T/kill9.decode" ||
	fail "a recording cut by kill -9 does not decode: $(cat "$T/kill9.decode")"
frames=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
	-of csv=p=0 "$T/kill9.mkv")
[ "${frames:-0}" -ge 25 ] || fail "a recording cut by kill -9 kept only '$frames' frames"

# --- RTMP --------------------------------------------------------------------------------------
note "RTMP push to nginx-rtmp"
RTMP_DIR=$T/rtmp
"$SRC/scripts/rtmp-test-server.sh" start "$RTMP_DIR" >/dev/null || fail "nginx-rtmp did not start"
RTMP_URL=$(sed -n 's/^RTMP_URL=//p' "$RTMP_DIR/env")
RTMP_PID=$(sed -n 's/^RTMP_PID=//p' "$RTMP_DIR/env")
KEY=secret-key-4711
w_start push - source=testsrc "${small_job[@]}" push_url="$RTMP_URL/$KEY"
w_wait push '^ready$' 10
timeout 20 ffprobe -v error -rw_timeout 5000000 -show_entries stream=codec_name,width,height \
	-of compact "$RTMP_URL/$KEY" >"$T/rtmp.probe" 2>&1 || true
grep -q 'codec_name=h264|width=640|height=360' "$T/rtmp.probe" ||
	fail "RTMP read-back: $(cat "$T/rtmp.probe")"
grep -q 'codec_name=aac' "$T/rtmp.probe" || fail "RTMP read-back has no AAC"
w_stop push
w_exit push 5 0
[ "$(last_line push)" = "done stopped" ] || fail "push: last report '$(last_line push)'"
! grep -q "$KEY" "$T/push.out" "$T/push.err" || fail "the stream key shows in the worker's output"

note "RTMP server gone mid-stream"
w_start lost - source=testsrc "${small_job[@]}" push_url="$RTMP_URL/other"
w_wait lost '^progress frames=[1-9]' 10
# shellcheck disable=SC2046
kill -KILL $(pgrep -P "$RTMP_PID") "$RTMP_PID"
w_exit lost 5 1
case "$(last_line lost)" in
"error could not write to 'rtmp://"*) ;;
*) fail "server gone: got '$(last_line lost)'" ;;
esac

note "dead RTMP destination"
port=$(free_port)
t0=$(now_ms)
w_start dead - source=testsrc "${small_job[@]}" push_url="rtmp://127.0.0.1:$port/live/$KEY"
w_exit dead 5 1
case "$(last_line dead)" in
"error could not connect to 'rtmp://127.0.0.1:$port/live': Connection refused") ;;
*) fail "dead destination: got '$(last_line dead)'" ;;
esac
note "dead destination reported after $(($(now_ms) - t0)) ms"
! grep -q "$KEY" "$T/dead.out" "$T/dead.err" || fail "the stream key shows in the worker's output"
