#!/bin/bash
# The shipped examples work against a real mount: bulk import reports each reject with its
# reason and a summary; the library listing shows duration, size and codec from xattrs.
. "$(dirname "$0")/lib.sh"
hub_mount
EX=$HUBFS_SOURCE_DIR/examples

mkdir -p "$T/in/sub dir"
cp "$MEDIA/faststart.mp4" "$T/in/one.mp4"
cp "$MEDIA/video.mkv" "$T/in/sub dir/two words.mkv"
cp "$MEDIA/text.mp4" "$T/in/fake.mp4"
echo hello >"$T/in/readme.txt"
rc=0
out=$("$EX/import-folder.sh" "$T/in" "$MNT" 2>&1) || rc=$?
assert_eq "$rc" 1 "import exit status with a reject"
echo "$out" | grep -q "fake.mp4" || fail "import did not name the reject: $out"
echo "$out" | grep -qi "unrecognised" || fail "import did not give the reason: $out"
echo "$out" | grep -qiE "imported:? *2" || fail "import summary: $out"
cmp "$MEDIA/video.mkv" "$MNT/videos/sub dir/two words.mkv" || fail "import lost a subfolder"
assert_absent "$MNT/videos/fake.mp4"

out=$("$EX/library-list.sh" "$MNT") || fail "library-list failed: $out"
echo "$out" | grep -q "sub dir/two words.mkv" || fail "listing lacks a video: $out"
echo "$out" | grep "one.mp4" | grep -q "320x240" || fail "listing lacks the resolution: $out"
echo "$out" | grep "one.mp4" | grep -q "h264" || fail "listing lacks the codec: $out"
echo "$out" | tail -1 | grep -qi "total" || fail "listing has no total line: $out"
hub_umount
