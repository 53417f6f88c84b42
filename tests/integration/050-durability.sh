#!/bin/bash
# Remount keeps everything; kill -9 during a copy leaves no partial video, cleans the
# staging area at the next mount, and the catalog passes integrity_check.
. "$(dirname "$0")/lib.sh"
HUB_EXPECT_ERRORS='cannot stage|Transport endpoint'
hub_mount
mkdir "$MNT/videos/coll"
cp "$MEDIA/faststart.mp4" "$MNT/videos/coll/a.mp4"
cp "$MEDIA/video.mkv" "$MNT/videos/b.mkv"
chmod 600 "$MNT/videos/b.mkv"
touch -d '2020-02-02 02:02:02' "$MNT/videos/b.mkv"
sums_before=$(cd "$MNT/videos" && find . -type f -exec sha256sum {} + | sort)
xattrs_before=$(getfattr -d -R --absolute-names "$MNT/videos" 2>/dev/null | sed "s|$MNT||" | sort)
hub_umount
[ -s "$STATE/catalog.db" ] || fail "no catalog in state_dir"
hub_mount
assert_eq "$(cd "$MNT/videos" && find . -type f -exec sha256sum {} + | sort)" "$sums_before" "content after remount"
assert_eq "$(getfattr -d -R --absolute-names "$MNT/videos" 2>/dev/null | sed "s|$MNT||" | sort)" "$xattrs_before" "xattrs after remount"
assert_eq "$(stat -c '%a %Y' "$MNT/videos/b.mkv")" "600 $(date -d '2020-02-02 02:02:02' +%s)" "attributes after remount"
note "remount ok"

# kill -9 in the middle of a copy of a large valid video
ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i testsrc2=size=640x480:rate=25:duration=10 \
	-c:v rawvideo -pix_fmt yuv420p "$T/big.mkv"
# a writer slow enough to be caught mid-copy
python3 - "$T/big.mkv" "$MNT/videos/big.mkv" <<'PY' 2>/dev/null &
import sys, time
src, dst = sys.argv[1:]
with open(src, "rb") as i, open(dst, "wb") as o:
    while True:
        b = i.read(1 << 20)
        if not b:
            break
        o.write(b)
        o.flush()
        time.sleep(0.05)
PY
dd_pid=$!
wait_for 20 bash -c "ls -A $DATA/.hubfs/staging | grep -q ." || fail "the copy never started staging"
sleep 0.3
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null || true
HUB_PID=
wait "$dd_pid" 2>/dev/null || true
fusermount3 -uz "$MNT" 2>/dev/null || true
[ -n "$(ls -A "$DATA/.hubfs/staging")" ] || fail "expected a staged leftover after kill -9"

hub_mount
assert_absent "$MNT/videos/big.mkv"
[ ! -e "$DATA/big.mkv" ] || fail "a partial video reached data_dir"
wait_for 5 bash -c "! ls -A $DATA/.hubfs/staging | grep -q ." || fail "staging leftovers not cleaned: $(ls -A "$DATA/.hubfs/staging")"
assert_eq "$(sqlite3 "$STATE/catalog.db" 'PRAGMA integrity_check')" ok "catalog integrity"
assert_eq "$(sqlite3 "$STATE/catalog.db" 'PRAGMA journal_mode')" wal "catalog journal mode"
assert_eq "$(cd "$MNT/videos" && find . -type f -exec sha256sum {} + | sort)" "$sums_before" "videos cp had finished are intact"
# and the mount works after the crash
cp "$T/big.mkv" "$MNT/videos/big.mkv" || fail "cp after recovery"
cmp "$T/big.mkv" "$MNT/videos/big.mkv" || fail "content after recovery"
hub_umount
