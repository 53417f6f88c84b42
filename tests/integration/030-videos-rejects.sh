#!/bin/bash
# videos/: every kind of bad input is refused with a precise errno, leaves nothing behind,
# and is explained in .hub/events; a failed replacement keeps the old video.
. "$(dirname "$0")/lib.sh"
hub_mount -o max_upload_mb=1

declare -A why=(
	[text.mp4]="unrecognised"
	[empty.mkv]="empty file"
	[random.webm]="unrecognised"
	[truncated_no_moov.mp4]="moov atom not found"
	[truncated_with_moov.mp4]="truncated"
	[audio_only.mp4]="no video stream"
	[cover_art.mp4]="no video stream"
	[png_named.mp4]="unrecognised container"
	[still_png.mkv]="still image"
	[still_mjpeg.avi]="still image"
	[mpegts_named.mp4]="unrecognised container 'mpegts'"
	[corrupt_frames.mp4]="does not decode"
)
for f in "${!why[@]}"; do
	expect_fail "Invalid argument" cp "$MEDIA/$f" "$MNT/videos/$f"
	# An empty file is refused for good at release, which the kernel sends just after
	# close() returns (a shell's `> f` closes once before anything is written).
	[ "$f" = empty.mkv ] && wait_for 3 test ! -e "$MNT/videos/$f"
	assert_absent "$MNT/videos/$f"
	[ ! -e "$DATA/$f" ] || fail "$f reached data_dir"
	events_has "reject rejected 'videos/$f': .*${why[$f]}"
done
note "content rejects ok"

# nothing staged is left behind
[ -z "$(ls -A "$DATA/.hubfs/staging")" ] || fail "staging not empty: $(ls -A "$DATA/.hubfs/staging")"

# names: a visible name needs a video extension (EINVAL at create and at rename)
expect_fail "Invalid argument" cp "$MEDIA/faststart.mp4" "$MNT/videos/clip.txt"
assert_absent "$MNT/videos/clip.txt"
events_has "refused name 'videos/clip.txt'"
expect_fail "Invalid argument" touch "$MNT/videos/noext"
long=$(printf 'a%.0s' $(seq 1 300)).mp4
expect_fail "File name too long" cp "$MEDIA/faststart.mp4" "$MNT/videos/$long"
expect_fail "Invalid argument" cp "$MEDIA/faststart.mp4" "$MNT/videos/.hubfs"
expect_fail "Invalid argument" cp "$MEDIA/faststart.mp4" "$MNT/videos/$(printf 'new\nline.mp4')"
cp "$MEDIA/faststart.mp4" "$MNT/videos/ok.MP4" || fail "upper-case extension refused"
python3 -c 'import os,sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit(0 if e.errno == 22 else 1)
sys.exit(1)' "$MNT/videos/ok.MP4" "$MNT/videos/ok.doc" || fail "rename to a bad extension is not EINVAL"
[ -e "$MNT/videos/ok.MP4" ] || fail "a refused rename lost the video"

# EFBIG at the write that crosses max_upload_mb (1 MB here); nothing is stored
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/big.mp4"
expect_fail "File too large" cp "$T/big.mp4" "$MNT/videos/big.mp4"
assert_absent "$MNT/videos/big.mp4"
events_has "rejected 'videos/big.mp4': larger than max_upload_mb \(1 MB\)"

# a failed replacement leaves the old video in place, byte for byte
expect_fail "Invalid argument" cp "$MEDIA/text.mp4" "$MNT/videos/ok.MP4"
cmp "$MEDIA/faststart.mp4" "$MNT/videos/ok.MP4" || fail "failed replacement damaged the old video"

# writing into a stored video without O_TRUNC: EPERM at write, content untouched
expect_fail "Operation not permitted" dd if=/dev/zero of="$MNT/videos/ok.MP4" bs=1 count=1 conv=notrunc status=none
cmp "$MEDIA/faststart.mp4" "$MNT/videos/ok.MP4" || fail "write without O_TRUNC changed the video"
events_has "refused a write into 'videos/ok.MP4'"
# truncate to another size is refused; touch (open for write, no write) works
expect_fail "Operation not permitted" truncate -s 10 "$MNT/videos/ok.MP4"
touch "$MNT/videos/ok.MP4" || fail "touch of a stored video failed"

# across top-level directories: EXDEV
python3 -c 'import os,sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit(0 if e.errno == 18 else 1)
sys.exit(1)' "$MNT/videos/ok.MP4" "$MNT/notes/ok.MP4" || fail "rename across top-level directories is not EXDEV"

# streams/ holds stream directories only: a file there is refused
expect_fail "Operation not permitted" touch "$MNT/streams/x"
hub_umount
