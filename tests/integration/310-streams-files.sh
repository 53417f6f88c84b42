#!/bin/bash
# streams/ as files: mkdir/rmdir/mv of stream directories, config (every key, merges,
# all-or-nothing, each bad value with EINVAL and its reason in status and .hub/events),
# control words and their errnos while idle, what cannot be created or removed, and
# configs surviving a remount. The live side (workers) is 320-streams-live.sh.
. "$(dirname "$0")/lib.sh"
hub_mount -o default_resolution=720p,default_bitrate=3000k
S=$MNT/streams

mkdir "$S/cam1"
assert_eq "$(ls "$S/cam1" | tr '\n' ' ')" "config control hls log status " "stream directory"
expect_fail "File exists" mkdir "$S/cam1"
expect_fail "Invalid argument" mkdir "$S/bad name"
expect_fail "Invalid argument" mkdir "$S/$(printf 'a%.0s' $(seq 65))"
expect_fail "Invalid argument" mkdir "$S/caf$(printf '\xc3\xa9')"
expect_fail "Invalid argument" mkdir "$S/$(printf 'a\nb')"
mkdir "$S/$(printf 'a%.0s' $(seq 64))" && rmdir "$S/$(printf 'a%.0s' $(seq 64))"
events_has "error refused 'streams/bad name'"

# config: every key with its effective value (the mount's defaults), in writing's form
want='source=testsrc
loop=no
resolution=720p
fps=30
bitrate=3000k
output=hls
record=no
restart=no
start_at=
stop_at='
assert_eq "$(cat "$S/cam1/config")" "$want" "default config"
# reading it back and writing it whole changes nothing
cat "$S/cam1/config" >"$T/conf" && cp "$T/conf" "$S/cam1/config"
assert_eq "$(cat "$S/cam1/config")" "$want" "config written back"

echo bitrate=1500k >"$S/cam1/config"
grep -qx 'bitrate=1500k' "$S/cam1/config" || fail "one key"
grep -qx 'resolution=720p' "$S/cam1/config" || fail "a merge keeps the other keys"
printf 'fps=25\nresolution=480p\n# comment\n\nbitrate = 2M\n' >"$S/cam1/config"
grep -qx 'fps=25' "$S/cam1/config" && grep -qx 'resolution=480p' "$S/cam1/config" &&
	grep -qx 'bitrate=2000k' "$S/cam1/config" || fail "several lines: $(cat "$S/cam1/config")"
cp "$MEDIA/faststart.mp4" "$MNT/videos/clip.mp4"
echo "source=videos/clip.mp4" >"$S/cam1/config"
future=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
later=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
printf 'loop=yes\nrecord=yes\nrestart=on-failure\noutput=rtmp://127.0.0.1:1935/live/k\n' >"$S/cam1/config"
printf 'start_at=%s\nstop_at=%s\n' "$future" "$later" >"$S/cam1/config"
grep -qx "start_at=$future" "$S/cam1/config" || fail "start_at: $(cat "$S/cam1/config")"
head -1 "$S/cam1/status" | grep -qx 'state=scheduled' || fail "start_at ahead: $(cat "$S/cam1/status")"
echo 'start_at=' >"$S/cam1/config"
head -1 "$S/cam1/status" | grep -qx 'state=idle' || fail "start_at cleared: $(cat "$S/cam1/status")"
echo 'output=hls' >"$S/cam1/config"

# each bad value: EINVAL, nothing changed, the reason in status and .hub/events
before=$(cat "$S/cam1/config")
bad=(
	'resolution=360p|resolution'
	'bitrate=999k|bitrate'
	'bitrate=13M|bitrate'
	'fps=0|fps'
	'loop=maybe|loop'
	'restart=always|restart'
	'source=nothing|source'
	'source=videos/missing.mp4|no such video'
	'source=ftp://host/x|source'
	'output=rtmp://host|output'
	'output=srt://host|output'
	'output=file.mp4|output'
	'start_at=2020-01-01T00:00:00Z|in the past'
	'start_at=tomorrow|start_at'
	"stop_at=$future
start_at=$later|stop_at must come after start_at"
	'colour=blue|unknown key'
	'no equals|expected key=value'
	"fps=50
resolution=360p|resolution"
)
for b in "${bad[@]}"; do
	line=${b%|*} why=${b##*|}
	expect_fail "Invalid argument" bash -c 'printf "%s\n" "$1" >"$2"' bash "$line" "$S/cam1/config"
	assert_eq "$(cat "$S/cam1/config")" "$before" "config after a refused '$line'"
	grep -q "^last_error=config refused: .*$why" "$S/cam1/status" ||
		fail "status last_error for '$line': $(grep last_error "$S/cam1/status")"
	grep "error stream 'cam1': config refused" "$MNT/.hub/events" | tail -1 | grep -qF "$why" ||
		fail "event for '$line'"
done
# a stream key in a refused URL is never echoed
expect_fail "Invalid argument" bash -c 'echo "output=rtmp://ho st/live/SECRETKEY" >"$1"' bash "$S/cam1/config"
grep -q SECRETKEY "$MNT/.hub/events" "$S/cam1/status" && fail "a stream key leaked into events/status"

# control while idle
expect_fail "Invalid argument" bash -c 'echo bogus >"$1"' bash "$S/cam1/control"
grep -q "^last_error=unknown control word 'bogus'" "$S/cam1/status" || fail "control last_error"
expect_fail "Invalid argument" bash -c 'echo >"$1"' bash "$S/cam1/control"
grep -q "^last_error=empty control word" "$S/cam1/status" || fail "empty control last_error"
echo stop >"$S/cam1/control" # stop while stopped succeeds
printf 'stop\nstop\n' >"$S/cam1/control"
st=$(cat "$S/cam1/status")
assert_eq "$(echo "$st" | head -1)" "state=idle" "first line of status"
for k in state since pid uptime_s frames fps bitrate_kbps speed dropped restarts output last_error; do
	echo "$st" | grep -qE "^$k=" || fail "status lacks $k: $st"
done
[ "$(cat "$S/cam1/control")" = "" ] || fail "control reads empty"

# what a stream directory does not take
expect_fail "Operation not permitted" touch "$S/cam1/extra"
expect_fail "Operation not permitted" rm "$S/cam1/config"
expect_fail "Operation not permitted" rmdir "$S/cam1/hls"
expect_fail "Operation not permitted" mkdir "$S/cam1/sub"
expect_fail "Permission denied" bash -c 'echo x >"$1"' bash "$S/cam1/status"
expect_fail "Operation not permitted" chmod 600 "$S/cam1/config"
touch "$S/cam1/control" # a harmless touch
python3 -c 'import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit(0 if e.errno == 18 else 1)
sys.exit(1)' "$S/cam1" "$MNT/notes/cam1" || fail "rename out of streams/ is not EXDEV"

# mv renames a stopped stream, config and all
mv "$S/cam1" "$S/cam2"
assert_absent "$S/cam1"
grep -qx 'fps=25' "$S/cam2/config" || fail "config after mv"
mkdir "$S/cam3"
expect_fail "File exists" mv -T "$S/cam2" "$S/cam3"
grep -qx 'streams=2' "$MNT/.hub/status" || fail ".hub/status streams: $(cat "$MNT/.hub/status")"
grep -qx 'hubfs_streams 2' "$MNT/.hub/metrics" || fail "metrics streams"

# configs survive a remount; a removed stream stays removed
rmdir "$S/cam3"
hub_umount
hub_mount
grep -qx 'fps=25' "$S/cam2/config" && grep -qx 'source=videos/clip.mp4' "$S/cam2/config" ||
	fail "config after remount: $(cat "$S/cam2/config")"
assert_absent "$S/cam3"
rmdir "$S/cam2"
hub_umount
hub_mount
assert_eq "$(ls "$S")" "" "streams after rmdir and remount"
hub_umount
