#!/bin/bash
# videos/ with everyday tools: rsync, cp -a, mv, rm, mkdir/rmdir, replace, inotify.
. "$(dirname "$0")/lib.sh"
hub_mount

# rsync writes .NAME.XXXXXX then renames: works, and a second run copies nothing
mkdir -p "$T/src/sub"
cp "$MEDIA/faststart.mp4" "$MEDIA/video.mkv" "$T/src/"
cp "$MEDIA/video.webm" "$T/src/sub/"
touch -d '2020-01-02 03:04:05' "$T/src/faststart.mp4"
rsync -a "$T/src/" "$MNT/videos/lib/" || fail "rsync -a failed"
for f in faststart.mp4 video.mkv sub/video.webm; do
	cmp "$T/src/$f" "$MNT/videos/lib/$f" || fail "rsync: $f differs"
done
assert_eq "$(stat -c %Y "$MNT/videos/lib/faststart.mp4")" "$(stat -c %Y "$T/src/faststart.mp4")" "rsync -a mtime"
ls -a "$MNT/videos/lib" | grep -q '^\.faststart' && fail "rsync temp file left visible"
out=$(rsync -a --itemize-changes "$T/src/" "$MNT/videos/lib/")
echo "$out" | grep -q '^>f' && fail "second rsync copied again: $out"
note "rsync ok"

# cp -a keeps mode and mtime
chmod 600 "$T/src/video.mkv"
touch -d '2019-05-06 07:08:09' "$T/src/video.mkv"
cp -a "$T/src/video.mkv" "$MNT/videos/kept.mkv" || fail "cp -a failed"
assert_eq "$(stat -c '%a %Y' "$MNT/videos/kept.mkv")" "$(stat -c '%a %Y' "$T/src/video.mkv")" "cp -a attributes"
chmod 644 "$MNT/videos/kept.mkv" && assert_eq "$(stat -c %a "$MNT/videos/kept.mkv")" 644 chmod
touch -d '2021-01-01 00:00:00' "$MNT/videos/kept.mkv"
assert_eq "$(stat -c %Y "$MNT/videos/kept.mkv")" "$(date -d '2021-01-01 00:00:00' +%s)" "touch -d"

# mv within videos/ (file and directory), rm, mkdir, rmdir
mv "$MNT/videos/kept.mkv" "$MNT/videos/moved.mkv"
assert_absent "$MNT/videos/kept.mkv"
cmp "$MEDIA/video.mkv" "$MNT/videos/moved.mkv" || fail "mv changed content"
assert_eq "$(xattr user.hub.container "$MNT/videos/moved.mkv")" mkv "xattrs follow a rename"
mkdir "$MNT/videos/coll"
expect_fail "File exists" mkdir "$MNT/videos/coll"
mv "$MNT/videos/moved.mkv" "$MNT/videos/coll/"
mv "$MNT/videos/coll" "$MNT/videos/coll2"
cmp "$MEDIA/video.mkv" "$MNT/videos/coll2/moved.mkv" || fail "directory rename lost content"
[ -f "$DATA/coll2/moved.mkv" ] || fail "directory rename not in the backend"
expect_fail "Directory not empty" rmdir "$MNT/videos/coll2"
rm "$MNT/videos/coll2/moved.mkv"
assert_absent "$MNT/videos/coll2/moved.mkv"
[ ! -e "$DATA/coll2/moved.mkv" ] || fail "rm did not delete from the backend"
rmdir "$MNT/videos/coll2"
assert_absent "$MNT/videos/coll2"
events_has "delete deleted 'videos/coll2/moved.mkv'"

# replace with O_TRUNC: the old version stays readable (to new readers too) until the new
# one is validated and committed
cp "$MEDIA/faststart.mp4" "$MNT/videos/r.mp4"
python3 - "$MNT/videos/r.mp4" "$MEDIA/video.mov" "$MEDIA/faststart.mp4" <<'PY' || fail "replacement"
import os, sys, subprocess
dst, new, old = sys.argv[1:]
data = open(new, "rb").read()
fd = os.open(dst, os.O_WRONLY | os.O_TRUNC)
os.write(fd, data[: len(data) // 2])
# mid-upload: a new reader sees the old video, whole
if subprocess.call(["cmp", old, dst]) != 0:
    sys.exit("old version not readable during the replacement")
if os.stat(dst).st_size != os.stat(old).st_size:
    sys.exit("stat during the replacement does not show the old size")
os.write(fd, data[len(data) // 2 :])
os.close(fd)
PY
cmp "$MEDIA/video.mov" "$MNT/videos/r.mp4" || fail "replacement content"
assert_eq "$(xattr user.hub.container "$MNT/videos/r.mp4")" mov "replacement metadata"

# ffmpeg writing straight into the mount: mp4 (it seeks back), mp4 faststart (it re-reads
# its own output to move the index; as a new file and as a replacement), mkv
enc() { ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=160x120:rate=25:duration=$1" \
	-c:v libx264 -preset ultrafast -pix_fmt yuv420p "${@:2}"; }
enc 1 "$MNT/videos/ff.mp4" || fail "ffmpeg into the mount (mp4)"
enc 1 -movflags +faststart "$MNT/videos/ff_fast.mp4" || fail "ffmpeg into the mount (faststart)"
enc 2 -movflags +faststart "$MNT/videos/ff_fast.mp4" || fail "ffmpeg replacing a video (faststart)"
enc 1 "$MNT/videos/ff.mkv" || fail "ffmpeg into the mount (mkv)"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$MNT/videos/ff_fast.mp4")
awk -v d="$dur" 'BEGIN { exit !(d > 1.9 && d < 2.1) }' || fail "faststart replacement duration $dur"
head -c 64 "$MNT/videos/ff_fast.mp4" | grep -qa moov || fail "faststart: moov is not at the front"
assert_eq "$(xattr user.hub.sha256 "$MNT/videos/ff.mp4")" "$(sha256sum <"$MNT/videos/ff.mp4" | cut -d' ' -f1)" "sha256 of a file written out of order"

# a shell redirect (the shell closes its copy of the fd before cat writes) works
cat "$MEDIA/video.flv" >"$MNT/videos/redirect.flv" || fail "shell redirect failed"
cmp "$MEDIA/video.flv" "$MNT/videos/redirect.flv" || fail "redirected content"

# inotify sees close_write and moved_to for files written through the mount
inotifywait -q -m -e close_write,moved_to --format '%e %f' "$MNT/videos" >"$T/inotify" 2>&1 &
iw=$!
sleep 0.5
cp "$MEDIA/video.flv" "$MNT/videos/watched.flv"
mv "$MNT/videos/watched.flv" "$MNT/videos/watched2.flv"
sleep 0.5
kill $iw; wait $iw 2>/dev/null || true
grep -q 'CLOSE_WRITE,CLOSE watched.flv' "$T/inotify" || fail "no close_write: $(cat "$T/inotify")"
grep -q 'MOVED_TO watched2.flv' "$T/inotify" || fail "no moved_to: $(cat "$T/inotify")"

# a video unlinked while it is being written is gone, and stays gone after close
python3 - "$MNT/videos/unlinked.mp4" "$MEDIA/faststart.mp4" <<'PY' || fail "unlink while writing"
import os, sys
p, src = sys.argv[1:]
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, open(src, "rb").read())
os.unlink(p)
if os.path.exists(p):
    sys.exit("still there after unlink")
os.close(fd)
if os.path.exists(p) or "unlinked.mp4" in os.listdir(os.path.dirname(p)):
    sys.exit("back after close")
PY
[ ! -e "$DATA/unlinked.mp4" ] || fail "an unlinked upload reached data_dir"

# statfs comes from the backend's filesystem
df "$MNT" >/dev/null || fail "statfs"
assert_eq "$(stat -f -c %b "$MNT")" "$(stat -f -c %b "$DATA")" "statfs blocks"
hub_umount
