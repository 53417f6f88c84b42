#!/bin/bash
# The backend is the truth: two mounts sharing one data_dir (an NFS export, here a local
# directory) see each other's videos with metadata within seconds; a file put into data_dir
# by hand is validated before it appears; an invalid one never appears; a deletion by one
# mount disappears from the other.
. "$(dirname "$0")/lib.sh"
hub_mount
MNT2=$T/mnt2
hub_mount_at "$MNT2" "$T/state2" "$DATA"
PID2=$HUB_LAST_PID

# A writes, B lists it with the same metadata
mkdir "$MNT/videos/shared"
cp "$MEDIA/faststart.mp4" "$MNT/videos/shared/a.mp4"
wait_for 10 test -f "$MNT2/videos/shared/a.mp4" || fail "B never saw A's video"
cmp "$MEDIA/faststart.mp4" "$MNT2/videos/shared/a.mp4" || fail "B reads different bytes"
for x in sha256 container duration width video_codec uploaded; do
	assert_eq "$(xattr user.hub.$x "$MNT2/videos/shared/a.mp4")" \
		"$(xattr user.hub.$x "$MNT/videos/shared/a.mp4")" "metadata $x on B"
done
grep -q "found 'videos/shared/a.mp4' (stored by another mount)" "$MNT2/.hub/events" ||
	fail "B did not record adopting A's video"

# a valid file placed by hand appears once validated (with metadata), on both mounts
cp "$MEDIA/video.webm" "$DATA/hand.webm"
wait_for 15 test -f "$MNT/videos/hand.webm" || fail "hand-placed video never appeared"
wait_for 15 test -f "$MNT2/videos/hand.webm" || fail "hand-placed video never appeared on B"
assert_eq "$(xattr user.hub.container "$MNT/videos/hand.webm")" webm "hand-placed metadata"
assert_eq "$(xattr user.hub.sha256 "$MNT/videos/hand.webm")" "$(sha256sum <"$MEDIA/video.webm" | cut -d' ' -f1)" "hand-placed sha256"

# an invalid file placed by hand never appears, and the reason is an event
cp "$MEDIA/audio_only.mp4" "$DATA/bad.mp4"
wait_for 15 grep -q "rejected 'videos/bad.mp4' (found in the backend): no video stream" "$MNT/.hub/events" ||
	fail "no reject event for a bad hand-placed file"
assert_absent "$MNT/videos/bad.mp4"
# a name that is not a video is simply not shown
cp "$MEDIA/faststart.mp4" "$DATA/notes.txt"
sleep 3
assert_absent "$MNT/videos/notes.txt"

# deletions and renames by one mount show on the other
rm "$MNT/videos/shared/a.mp4"
wait_for 10 bash -c "! ls '$MNT2/videos/shared' | grep -q a.mp4" || fail "B still lists a deleted video"
wait_for 5 test ! -e "$MNT2/videos/shared/a.mp4" || fail "B still stats a deleted video"
mv "$MNT2/videos/hand.webm" "$MNT2/videos/renamed.webm"
wait_for 10 test -f "$MNT/videos/renamed.webm" || fail "A never saw B's rename"
wait_for 5 test ! -e "$MNT/videos/hand.webm" || fail "A still shows the old name"
assert_eq "$(xattr user.hub.container "$MNT/videos/renamed.webm")" webm "metadata after a rename by the other mount"

# chmod/chown/touch through one mount reach the other (the bytes did not change)
chmod 640 "$MNT/videos/renamed.webm"
chown 123:456 "$MNT/videos/renamed.webm"
wait_for 10 bash -c "[ \"\$(stat -c '%a %u %g' '$MNT2/videos/renamed.webm')\" = '640 123 456' ]" ||
	fail "B did not see A's chmod/chown: $(stat -c '%a %u %g' "$MNT2/videos/renamed.webm")"
touch -d '1969-07-20 20:17:40 UTC' "$MNT2/videos/renamed.webm"
wait_for 10 bash -c "[ \"\$(stat -c %Y '$MNT/videos/renamed.webm')\" = -14182940 ]" ||
	fail "A did not see B's touch to 1969: $(stat -c %Y "$MNT/videos/renamed.webm")"

# a replacement by A reaches B with the new content and metadata
cp "$MEDIA/video.mkv" "$MNT/videos/renamed.webm" || fail "replace"
wait_for 10 bash -c "[ \"\$(getfattr --only-values -n user.hub.container '$MNT2/videos/renamed.webm' 2>/dev/null)\" = mkv ]" ||
	fail "B did not pick up the replacement"
cmp "$MEDIA/video.mkv" "$MNT2/videos/renamed.webm" || fail "B reads stale bytes after a replacement"

hub_umount_at "$MNT2" "$PID2"
hub_umount
