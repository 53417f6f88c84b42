#!/bin/bash
# streams/ live: real workers through the real mount. testsrc to HLS (playlist within
# seconds, the configured size by ffprobe, frames advancing, ENDLIST at stop), the EBUSY
# rules while running, RTMP push to a real nginx-rtmp read back with ffprobe, an RTMP
# source pulled from it, SRT push to an ffmpeg listener, a videos/
# clip looped as the source with record=yes (a valid recording enters videos/), two streams
# at once, a dead RTMP destination, kill -9 and SIGSTOP of a worker (watchdog, restart),
# start_at/stop_at, max_streams, an unmount that stops workers cleanly, and kill -9 of
# the daemon (the worker ends itself; the next mount commits its recording).
HUB_EXPECT_ERRORS='^$'
. "$(dirname "$0")/lib.sh"
: "${HUBFS_SOURCE_DIR:?}"
: "${HUBFS_STREAM_BIN:?HUBFS_STREAM_BIN must point to the worker}"
[ -x "$(dirname "$HUBFS_BIN")/hubfs-stream" ] || fail "the worker is not beside hubfs"

RTMP_DIR=$T/rtmp
rtmp_stop() { "$HUBFS_SOURCE_DIR/scripts/rtmp-test-server.sh" stop "$RTMP_DIR"; }
HUB_UNDO+=(rtmp_stop)
"$HUBFS_SOURCE_DIR/scripts/rtmp-test-server.sh" start "$RTMP_DIR" >/dev/null
# shellcheck source=/dev/null
. "$RTMP_DIR/env"

hub_mount
S=$MNT/streams

status_of() { sed -n "s/^$2=//p" "$S/$1/status"; }
state_is() { [ "$(status_of "$1" state)" = "$2" ]; }
playlist_has_segment() { grep -q '\.ts$' "$S/$1/hls/index.m3u8" 2>/dev/null; }
ended() { tail -1 "$S/$1/hls/index.m3u8" 2>/dev/null | grep -qx '#EXT-X-ENDLIST'; }
frames_over() { [ "$(status_of "$1" frames)" -gt "$2" ]; }
probe() { timeout 20 ffprobe -v error -rw_timeout 5000000 -show_entries stream=codec_name,width,height -of compact "$1"; }
worker_of() { status_of "$1" pid; }

# ---- testsrc to HLS at 480p
mkdir "$S/live"
printf 'resolution=480p\nbitrate=1000k\nfps=25\n' >"$S/live/config"
echo start >"$S/live/control"
pid=$(worker_of live)
[ -n "$pid" ] && kill -0 "$pid" || fail "no worker after start: $(cat "$S/live/status")"
ps -o args= -p "$pid" | grep -q '^hubfs-stream live$' || fail "worker argv: $(ps -o args= -p "$pid")"
wait_for 10 playlist_has_segment live || fail "no segment listed: $(cat "$S/live/status") $(cat "$S/live/log")"
state_is live running || fail "state: $(cat "$S/live/status")"
out=$(probe "$S/live/hls/index.m3u8")
grep -q 'codec_name=h264|width=854|height=480' <<<"$out" || fail "ffprobe of the playlist: $out"
f1=$(status_of live frames)
sleep 1.5
f2=$(status_of live frames)
[ "$f2" -gt "$f1" ] || fail "frames do not advance ($f1 -> $f2)"
speed=$(status_of live speed)
awk -v s="$speed" 'BEGIN { exit !(s > 0.5 && s < 1.5) }' || fail "speed $speed is not near 1.0"
# while it runs: start, a config change, rmdir, mv are EBUSY; an unchanged config is fine
expect_fail "Device or resource busy" bash -c 'echo start >"$1"' bash "$S/live/control"
expect_fail "Device or resource busy" bash -c 'echo bitrate=2000k >"$1"' bash "$S/live/config"
grep -q '^last_error=config refused: the stream is running' "$S/live/status" || fail "EBUSY last_error"
echo bitrate=1000k >"$S/live/config"
expect_fail "Device or resource busy" rmdir "$S/live"
expect_fail "Device or resource busy" mv "$S/live" "$S/live2"
grep -qx 'running=1' "$MNT/.hub/status" || fail ".hub/status running"
# stop: when the write returns, the playlist is ended and the worker gone
echo stop >"$S/live/control"
ended live || fail "no ENDLIST right after stop: $(tail -3 "$S/live/hls/index.m3u8")"
state_is live idle || fail "state after stop: $(cat "$S/live/status")"
kill -0 "$pid" 2>/dev/null && fail "worker still alive after stop"
[ -n "$(cat "$S/live/log")" ] || fail "empty log"
events_has "stream 'live' stopped"

# ---- RTMP push to nginx-rtmp, read back
mkdir "$S/push"
printf 'resolution=480p\nbitrate=1000k\noutput=%s/push1\n' "$RTMP_URL" >"$S/push/config"
echo start >"$S/push/control"
probe "$RTMP_URL/push1" >"$T/rtmp.probe" || true
grep -q 'codec_name=h264|width=854|height=480' "$T/rtmp.probe" || fail "rtmp read back: $(cat "$T/rtmp.probe"); $(cat "$S/push/log")"
grep -q 'codec_name=aac' "$T/rtmp.probe" || fail "no aac in the rtmp stream"
grep -q "^output=$RTMP_URL/\.\.\.$" "$S/push/status" || fail "status output not redacted: $(status_of push output)"
grep -q push1 "$MNT/.hub/events" && fail "the stream key leaked into events"
echo stop >"$S/push/control"
state_is push idle || fail "push state after stop"

# ---- an RTMP source (a live URL, pulled from nginx) to HLS
ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 \
	-f lavfi -i sine -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -c:a aac \
	-f flv "$RTMP_URL/camera" &
feeder=$!
mkdir "$S/relay"
printf 'source=%s/camera\nresolution=480p\nbitrate=1000k\n' "$RTMP_URL" >"$S/relay/config"
sleep 1
echo start >"$S/relay/control"
wait_for 15 playlist_has_segment relay || fail "rtmp source: no segment: $(cat "$S/relay/status"); $(cat "$S/relay/log")"
out=$(probe "$S/relay/hls/index.m3u8")
grep -q 'codec_name=h264|width=854|height=480' <<<"$out" || fail "rtmp source probe: $out"
echo stop >"$S/relay/control"
kill "$feeder"
wait "$feeder" 2>/dev/null || true

# ---- SRT push to a listener (ffmpeg), read back
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 30 ffmpeg -hide_banner -nostdin -loglevel error -i "srt://127.0.0.1:$port?mode=listener" \
	-c copy -t 3 -f mpegts "$T/srt.ts" &
listener=$!
sleep 0.5
printf 'resolution=480p\noutput=srt://127.0.0.1:%s\n' "$port" >"$S/push/config"
echo start >"$S/push/control"
wait "$listener" || fail "the SRT listener got no stream: $(cat "$S/push/log")"
echo stop >"$S/push/control"
out=$(ffprobe -v error -show_entries stream=codec_name,width,height -of compact "$T/srt.ts")
grep -q 'codec_name=h264|width=854|height=480' <<<"$out" || fail "srt read back: $out"

# ---- a dead destination fails within seconds, with a reason
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'resolution=480p\noutput=rtmp://127.0.0.1:%s/live/x\n' "$port" >"$S/push/config"
echo start >"$S/push/control"
wait_for 10 state_is push failed || fail "dead destination: $(cat "$S/push/status")"
[ -n "$(status_of push last_error)" ] || fail "no last_error for a dead destination"
events_has "error stream 'push': failed: "

# ---- a videos/ clip, looped, recorded
cp "$MEDIA/faststart.mp4" "$MNT/videos/clip.mp4" # 2 s, h264 + aac
mkdir "$S/rec"
printf 'source=videos/clip.mp4\nloop=yes\nrecord=yes\nresolution=480p\nbitrate=1000k\nfps=25\n' >"$S/rec/config"
echo start >"$S/rec/control"
wait_for 15 frames_over rec 100 || fail "looped clip did not pass 4 s of frames: $(cat "$S/rec/status")"
echo stop >"$S/rec/control"
rec=$(ls "$MNT/videos/recordings/" | grep '^rec-.*\.mkv$' | head -1)
[ -n "$rec" ] || fail "no recording in videos/recordings: $(ls -R "$MNT/videos"); $(tail -5 "$MNT/.hub/events")"
dur=$(xattr user.hub.duration "$MNT/videos/recordings/$rec")
awk -v d="$dur" 'BEGIN { exit !(d > 3.0) }' || fail "recording duration $dur"
assert_eq "$(xattr user.hub.height "$MNT/videos/recordings/$rec")" 480 "recording height"
ffmpeg -v error -i "$MNT/videos/recordings/$rec" -f null - || fail "the recording does not decode"
events_has "stream 'rec': recording saved as 'videos/recordings/$rec'"
# loop=no: the source ends, the stream finishes by itself
printf 'loop=no\nrecord=no\n' >"$S/rec/config"
echo start >"$S/rec/control"
wait_for 10 state_is rec idle || fail "clip without loop did not finish: $(cat "$S/rec/status")"
events_has "'rec' finished \(source ended\)"
# a source video that has gone: ENOENT at start
echo 'loop=yes' >"$S/rec/config"
rm "$MNT/videos/clip.mp4"
expect_fail "No such file or directory" bash -c 'echo start >"$1"' bash "$S/rec/control"

# ---- two streams at once
mkdir "$S/a" "$S/b"
for n in a b; do printf 'resolution=480p\nbitrate=1000k\nfps=25\n' >"$S/$n/config"; done
echo start >"$S/a/control"
echo start >"$S/b/control"
wait_for 10 playlist_has_segment a || fail "a: no segment"
wait_for 10 playlist_has_segment b || fail "b: no segment"
grep -qx 'running=2' "$MNT/.hub/status" || fail "two running: $(cat "$MNT/.hub/status")"
echo stop >"$S/b/control"

# ---- kill -9 of a worker: detected, failed, playlist ended by the supervisor
pid=$(worker_of a)
kill -9 "$pid"
wait_for 5 state_is a failed || fail "kill -9 not detected: $(cat "$S/a/status")"
status_of a last_error | grep -q 'signal 9' || fail "last_error after kill -9: $(status_of a last_error)"
ended a || fail "the supervisor did not end the playlist of a killed worker"
# with restart=on-failure it comes back, counted
echo restart=on-failure >"$S/a/config"
echo start >"$S/a/control"
wait_for 10 state_is a running || fail "a did not start again"
pid=$(worker_of a)
kill -9 "$pid"
wait_for 10 frames_over a 10 || true
wait_for 10 state_is a running || fail "no restart after kill -9: $(cat "$S/a/status")"
assert_eq "$(status_of a restarts)" 1 "restarts"
[ "$(worker_of a)" != "$pid" ] || fail "same pid after restart"
events_has "'a' restarts in 1 s"
# a stalled worker (SIGSTOP): no frame progress -> killed by the watchdog, restarted
pid=$(worker_of a)
kill -STOP "$pid"
wait_for 12 grep -q 'stalled: no new frame' "$MNT/.hub/events" || fail "stall not detected: $(cat "$S/a/status")"
wait_for 10 state_is a running || fail "no restart after a stall"
assert_eq "$(status_of a restarts)" 2 "restarts after the stall"
echo stop >"$S/a/control"
state_is a idle || fail "a after stop"

# ---- restart while running: a new worker
echo start >"$S/b/control"
pid=$(worker_of b)
echo restart >"$S/b/control"
state_is b starting || state_is b running || fail "b after restart: $(cat "$S/b/status")"
[ "$(worker_of b)" != "$pid" ] || fail "restart kept the same worker"
echo stop >"$S/b/control"

# ---- scheduling: start 3 s ahead, stop 6 s ahead
start=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)
stop=$(date -u -d '+6 sec' +%Y-%m-%dT%H:%M:%SZ)
printf 'start_at=%s\nstop_at=%s\n' "$start" "$stop" >"$S/b/config"
state_is b scheduled || fail "not scheduled: $(cat "$S/b/status")"
wait_for 6 state_is b running || fail "start_at did not start it: $(cat "$S/b/status")"
wait_for 8 state_is b idle || fail "stop_at did not stop it: $(cat "$S/b/status")"
ended b || fail "no ENDLIST after stop_at"
events_has "'b': start_at reached"
events_has "'b': stop_at reached"

# ---- a schedule survives a remount
start=$(date -u -d '+4 sec' +%Y-%m-%dT%H:%M:%SZ)
stop=$(date -u -d '+8 sec' +%Y-%m-%dT%H:%M:%SZ)
printf 'start_at=%s\nstop_at=%s\n' "$start" "$stop" >"$S/b/config"
hub_umount
hub_mount -o max_streams=1
state_is b scheduled || fail "schedule lost over a remount: $(cat "$S/b/status")"
wait_for 8 state_is b running || fail "remounted schedule did not start"
# max_streams=1: another start is EAGAIN
expect_fail "Resource temporarily unavailable" bash -c 'echo start >"$1"' bash "$S/a/control"
wait_for 8 state_is b idle || fail "remounted schedule did not stop"

# ---- unmount stops workers cleanly: trailers, ENDLIST, recording committed
printf 'record=yes\nstart_at=\nstop_at=\n' >"$S/b/config"
echo start >"$S/b/control"
wait_for 10 playlist_has_segment b || fail "b: no segment before unmount"
pid=$(worker_of b)
hub_umount
kill -0 "$pid" 2>/dev/null && fail "worker survived the unmount"
hub_mount
ended b || fail "no ENDLIST after unmount"
ls "$MNT/videos/recordings/" | grep -q '^b-.*\.mkv$' || fail "recording not committed at unmount: $(ls "$MNT/videos/recordings")"
state_is b idle || fail "b after remount: $(cat "$S/b/status")"

# ---- kill -9 of the daemon: the worker sees its pipe close and ends cleanly by itself; the
# next mount finds the playlist ended and commits the recording it left
nrec=$(ls "$MNT/videos/recordings/" | grep -c '^b-')
echo start >"$S/b/control"
wait_for 10 playlist_has_segment b || fail "b: no segment before kill -9"
pid=$(worker_of b)
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null || true
HUB_PID=
wait_for 5 bash -c "! kill -0 $pid" || fail "the worker outlived its daemon"
fusermount3 -uz "$MNT" 2>/dev/null || true
hub_mount
ended b || fail "no ENDLIST after the daemon's kill -9"
wait_for 10 bash -c "[ \$(ls '$MNT/videos/recordings/' | grep -c '^b-') -gt $nrec ]" ||
	fail "the recording of a crashed run was not committed: $(ls "$MNT/videos/recordings")"
events_has "'b': saving a recording an earlier run left behind"
assert_eq "$(sqlite3 "$STATE/catalog.db" 'PRAGMA integrity_check')" ok "catalog integrity"
hub_umount
