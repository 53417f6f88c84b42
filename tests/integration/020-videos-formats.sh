#!/bin/bash
# videos/: every one of the eight containers is accepted byte-exact, with its metadata as
# xattrs, served from the catalog by ls -l, and read back at random offsets.
. "$(dirname "$0")/lib.sh"
hub_mount

declare -A want=(
	[faststart.mp4]=mp4 [moov_end.mp4]=mp4 [video.mov]=mov [video.m4v]=m4v
	[mjpeg.avi]=avi [video.mkv]=mkv [video.webm]=webm [video.flv]=flv [video.wmv]=wmv
	[mkv_named.mp4]=mkv [piped.webm]=webm
)
for f in "${!want[@]}"; do
	cp "$MEDIA/$f" "$MNT/videos/$f" || fail "cp $f was refused"
	cmp "$MEDIA/$f" "$MNT/videos/$f" || fail "$f reads back different"
	assert_eq "$(xattr user.hub.container "$MNT/videos/$f")" "${want[$f]}" "container of $f"
	assert_eq "$(xattr user.hub.sha256 "$MNT/videos/$f")" "$(sha256sum <"$MEDIA/$f" | cut -d' ' -f1)" "sha256 of $f"
	# the bytes are in data_dir under the same name (local backend)
	cmp "$MEDIA/$f" "$DATA/$f" || fail "$f is not stored in data_dir"
done
note "eight containers stored"

# metadata agrees with ffprobe
f=$MNT/videos/faststart.mp4
assert_eq "$(xattr user.hub.width "$f")" 320 width
assert_eq "$(xattr user.hub.height "$f")" 240 height
assert_eq "$(xattr user.hub.video_codec "$f")" h264 video_codec
assert_eq "$(xattr user.hub.audio_codec "$f")" aac audio_codec
dur=$(xattr user.hub.duration "$f")
awk -v d="$dur" 'BEGIN { exit !(d > 1.8 && d < 2.3) }' || fail "duration $dur"
fps=$(xattr user.hub.fps "$f")
awk -v d="$fps" 'BEGIN { exit !(d > 24.9 && d < 25.1) }' || fail "fps $fps"
[ "$(xattr user.hub.bitrate "$f")" -gt 0 ] || fail "bitrate"
xattr user.hub.uploaded "$f" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' || fail "uploaded"
getfattr -d "$f" | grep -q 'user.hub.sha256=' || fail "getfattr -d does not list the metadata"
xattr user.hub.audio_codec "$MNT/videos/mjpeg.avi" && fail "a video without audio has an audio codec"
assert_eq "$(xattr user.hub.video_codec "$MNT/videos/video.webm")" vp8 "webm codec"
# (captured first: `ffprobe | grep -q` fails under pipefail when grep exits before ffprobe's
# last line and ffprobe dies of SIGPIPE)
widths=$(ffprobe -v error -show_entries stream=width -of csv=p=0 "$MNT/videos/video.mkv")
grep -qx 320 <<<"$widths" || fail "ffprobe cannot read a video through the mount: $widths"

# ls -l shows sizes from the catalog
size=$(stat -c %s "$MNT/videos/moov_end.mp4")
assert_eq "$size" "$(stat -c %s "$MEDIA/moov_end.mp4")" "size"
assert_eq "$(ls "$MNT/videos" | wc -l)" 11 "listing"
dur=$(xattr user.hub.duration "$MNT/videos/piped.webm")
awk -v d="$dur" 'BEGIN { exit !(d > 0.9 && d < 1.1) }' || fail "duration of a webm without one in its header: $dur"

# random access: a few reads at odd offsets match the source
for off in 0 1 4095 4097 100000 $((size - 7)); do
	a=$(dd if="$MNT/videos/moov_end.mp4" bs=1 skip="$off" count=64 status=none | od -An -tx1)
	b=$(dd if="$MEDIA/moov_end.mp4" bs=1 skip="$off" count=64 status=none | od -An -tx1)
	assert_eq "$a" "$b" "bytes at offset $off"
done

# the events say what was stored
events_has "upload stored 'videos/video.wmv'"
hub_umount
