#!/bin/bash
# .hub/: status, events (tail -f), metrics, config, uploads, check; read-only, always current.
. "$(dirname "$0")/lib.sh"
hub_mount -o node_name=hub-a

ls "$MNT/.hub" | sort | tr '\n' ' ' | grep -q '^check config events metrics peers status uploads $' ||
	fail ".hub listing: $(ls "$MNT/.hub")"
st=$(cat "$MNT/.hub/status")
for k in version node backend uptime videos bytes streams running notes shared peers uploads; do
	echo "$st" | grep -qE "^$k=" || fail "status lacks $k: $st"
done
echo "$st" | grep -qx 'node=hub-a' || fail "status node"
echo "$st" | grep -qx 'backend=local' || fail "status backend"
echo "$st" | grep -qx 'videos=0' || fail "status videos"

# tail -f follows the event log as things happen
tail -n 0 -f "$MNT/.hub/events" >"$T/tail" 2>&1 &
tailpid=$!
sleep 0.5
cp "$MEDIA/faststart.mp4" "$MNT/videos/a.mp4"
cp "$MEDIA/text.mp4" "$MNT/videos/b.mp4" 2>/dev/null || true
wait_for 10 grep -q "reject rejected 'videos/b.mp4'" "$T/tail" || fail "tail -f did not see new events: $(cat "$T/tail")"
grep -q "upload stored 'videos/a.mp4'" "$T/tail" || fail "tail -f missed the upload"
kill $tailpid
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [a-z]+ ' "$MNT/.hub/events" || fail "event line format"

# status and metrics are current, with no stale size in the way
grep -qx 'videos=1' "$MNT/.hub/status" || fail "status after an upload: $(cat "$MNT/.hub/status")"
grep -qx "bytes=$(stat -c %s "$MEDIA/faststart.mp4")" "$MNT/.hub/status" || fail "status bytes"
grep -qx 'hubfs_videos 1' "$MNT/.hub/metrics" || fail "metrics: $(cat "$MNT/.hub/metrics")"
grep -q '^# TYPE hubfs_videos gauge' "$MNT/.hub/metrics" || fail "metrics TYPE line"
assert_eq "$(cat "$MNT/.hub/check")" ok "check"
grep -qx "data_dir=$DATA" "$MNT/.hub/config" || fail "config data_dir"

# an upload in progress is listed in .hub/uploads, not in videos/
python3 - "$MEDIA/moov_end.mp4" "$MNT/videos/slow.mp4" "$MNT" <<'PY' || fail "uploads file"
import sys, time, os
src, dst, mnt = sys.argv[1:]
data = open(src, "rb").read()
with open(dst, "wb") as o:
    o.write(data[:65536]); o.flush()
    up = open(os.path.join(mnt, ".hub/uploads")).read()
    if "name=videos/slow.mp4 bytes=65536" not in up:
        sys.exit("uploads shows: %r" % up)
    if "slow.mp4" in os.listdir(os.path.join(mnt, "videos")):
        sys.exit("an upload in progress is listed")
    st = open(os.path.join(mnt, ".hub/status")).read()
    if "uploads=1" not in st:
        sys.exit("status: %r" % st)
    o.write(data[65536:])
PY
[ -z "$(cat "$MNT/.hub/uploads")" ] || fail "uploads not empty after close"

# read-only
expect_fail "Permission denied" sh -c "echo x > '$MNT/.hub/status'"
expect_fail "No such file" cat "$MNT/.hub/nope"
# check reports a broken backend with the reason
mv "$DATA/.hubfs" "$T/hubfs.aside"
grep -q "^error: data_dir '$DATA' is not writable" "$MNT/.hub/check" || fail "check on a broken backend: $(cat "$MNT/.hub/check")"
mv "$T/hubfs.aside" "$DATA/.hubfs"
assert_eq "$(cat "$MNT/.hub/check")" ok "check after repair"
hub_umount
