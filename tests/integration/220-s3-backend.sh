#!/usr/bin/env bash
# 220-s3-backend: videos/ on backend=s3 through the real mount, against s3rver behind the
# SigV4-verifying proxy (scripts/s3-test-server.sh). Every format byte-exact; an invalid
# video never reaches the bucket; metadata on the objects as x-amz-meta-*; reads with seeks;
# mkdir, mv (file and directory), rm, rsync, cp -a; a second mount of the same bucket sees
# the library with its metadata; .hub/check; wrong credentials and a dead endpoint fail at
# mount time with one line. Credentials only from the environment, never in argv.
. "$(dirname "$0")/lib.sh"
SRC=${HUBFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SRV=$SRC/scripts/s3-test-server.sh
PROBE=${HUBFS_S3CLIENTPROBE:?HUBFS_S3CLIENTPROBE must point to tests/tools/s3clientprobe}

S3DIR=$T/s3
HUB_UNDO+=("'$SRV' stop '$S3DIR'")
"$SRV" start "$S3DIR" hubfs-media >/dev/null || fail "S3 test server did not start"
# shellcheck disable=SC1091
. "$S3DIR/env"
export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK AWS_DEFAULT_REGION=$S3_REGION
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_CA_BUNDLE
command -v aws >/dev/null || fail "awscli missing (scripts/deps.sh test installs it)"
aws_() { timeout 60 aws --endpoint-url "$S3_ENDPOINT" "$@"; }
BUCKET=hubfs-media
S3OPTS="backend=s3,s3_bucket=$BUCKET,s3_endpoint=$S3_ENDPOINT,s3_region=$S3_REGION,s3_prefix=lib"
keys() { "$PROBE" "$S3_ENDPOINT" "$BUCKET" list "${1:-lib/}" | awk '$1 == "obj" { print $2 }' | sort; }

hub_mount -o "$S3OPTS"
V=$MNT/videos
ps -o args= -p "$HUB_PID" | grep -q "$S3_SK" && fail "the secret is in the daemon's argv"
grep -q "$S3_SK" "$MNT/.hub/config" && fail "the secret is in .hub/config"
grep -qx 'backend=s3' "$MNT/.hub/status" || fail "status backend: $(cat "$MNT/.hub/status")"
assert_eq "$(cat "$MNT/.hub/check")" ok ".hub/check"

note "every format, byte-exact, metadata on the object"
for f in faststart.mp4 moov_end.mp4 video.mkv video.webm mjpeg.avi video.mov video.flv video.wmv video.m4v; do
	cp "$MEDIA/$f" "$V/$f" || fail "cp $f"
	cmp "$MEDIA/$f" "$V/$f" || fail "$f read back differs"
done
sha=$(sha256sum <"$MEDIA/faststart.mp4" | cut -d' ' -f1)
assert_eq "$(xattr user.hub.sha256 "$V/faststart.mp4")" "$sha" "sha256 xattr"
head=$("$PROBE" "$S3_ENDPOINT" "$BUCKET" head lib/faststart.mp4)
grep -qx "meta.sha256=$sha" <<<"$head" || fail "x-amz-meta-sha256 on the object: $head"
grep -qx "meta.video_codec=h264" <<<"$head" || fail "x-amz-meta-video_codec on the object: $head"

note "an invalid video never reaches the bucket, and leaves no multipart upload"
expect_fail "Invalid argument" cp "$MEDIA/text.mp4" "$V/bad.mp4"
expect_fail "Invalid argument" cp "$MEDIA/truncated_no_moov.mp4" "$V/bad2.mp4"
keys | grep -q 'bad' && fail "a rejected video is in the bucket: $(keys)"
ups=$("$PROBE" "$S3_ENDPOINT" "$BUCKET" mpu-list lib/) || fail "mpu-list"
[ -z "$ups" ] || fail "multipart uploads left over: $ups"

note "a larger video goes up in parts and reads back with seeks"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=25:duration=12 \
	-c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p "$T/big.mkv" || fail "ffmpeg"
[ "$(stat -c %s "$T/big.mkv")" -gt $((17 << 20)) ] || fail "big.mkv is too small for multipart: $(stat -c %s "$T/big.mkv")"
cp "$T/big.mkv" "$V/big.mkv" || fail "cp big.mkv"
cmp "$T/big.mkv" "$V/big.mkv" || fail "big.mkv read back differs"
python3 - "$T/big.mkv" "$V/big.mkv" <<'PY' || fail "seeking reads differ"
import os, random, sys
a, b = (open(p, "rb") for p in sys.argv[1:])
size = os.fstat(a.fileno()).st_size
random.seed(7)
for _ in range(200):
    off = random.randrange(size)
    n = random.choice([1, 100, 4096, 65536, 1 << 20])
    a.seek(off); b.seek(off)
    if a.read(n) != b.read(n):
        sys.exit(f"differs at {off}+{n}")
PY
m=$(cat "$MNT/.hub/metrics")
req=$(awk '/^hubfs_s3_requests_total / { print $2 }' <<<"$m")
hits=$(awk '/^hubfs_s3_cache_reads_total\{result="hit"\} / { print $2 }' <<<"$m")
[ "${req:-0}" -gt 0 ] || fail "no S3 request counter in .hub/metrics: $m"
[ "${hits:-0}" -gt 0 ] || fail "reading big.mkv again hit no cached block: $m"
grep -q '^# TYPE hubfs_s3_cache_bytes gauge' <<<"$m" || fail "cache gauge missing"

# writer.py MODE SRC DST: write SRC into the mount as DST while watching the proxy's log for
# UploadPart (PUT ...?partNumber=N -> 200) of this upload's parts, so what happened BEFORE
# close() is seen from the server's side. Prints key=value lines.
#   slow    1 MiB chunks with small sleeps; before close, wait for 3 parts; time close()
#   patch   first MiB and [15, 16) MiB zeroed; once parts 1 and 2 are sent, seek back and
#           write the real bytes there (ffmpeg patching a header), then close
#   trunc   30 MiB of noise; once 2 parts are sent, ftruncate(0) and write SRC
#   rename  half of SRC; once 2 parts are sent, rename DST to DST.renamed.mkv; the rest
cat >"$T/writer.py" <<'PY'
import os, re, sys, time
mode, src, dst, log = sys.argv[1:5]
data = open(src, "rb").read()
MiB = 1 << 20
start = os.path.getsize(log)
part_re = re.compile(r" PUT /\S*\?partNumber=(\d+)&uploadId=\S* -> 200 ")

def parts():
    with open(log, errors="replace") as f:
        f.seek(start)
        return [int(m.group(1)) for m in map(part_re.search, f) if m]

def wait_parts(want, what):
    for _ in range(400):
        p = parts()
        if want(p):
            return p
        time.sleep(0.05)
    sys.exit(f"{mode}: no {what} while the file was open: parts {parts()}")

def write_all(fd, buf, at=0, pause=0.0):
    for off in range(0, len(buf), MiB):
        os.pwrite(fd, buf[off:off + MiB], at + off)
        time.sleep(pause)

fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
if mode == "slow":
    write_all(fd, data, pause=0.05)
    p = wait_parts(lambda p: len(set(p)) >= 3, "3 parts sent")
    print(f"parts_before_close={len(set(p))}")
elif mode == "patch":
    junk = bytearray(data)
    junk[0:MiB] = bytes(MiB)
    junk[15 * MiB:16 * MiB] = bytes(MiB)
    write_all(fd, junk)
    wait_parts(lambda p: {1, 2} <= set(p), "parts 1 and 2 sent")
    os.pwrite(fd, data[0:MiB], 0)
    os.pwrite(fd, data[15 * MiB:16 * MiB], 15 * MiB)
elif mode == "trunc":
    write_all(fd, os.urandom(30 * MiB))
    wait_parts(lambda p: len(set(p)) >= 2, "2 parts sent")
    os.ftruncate(fd, 0)
    write_all(fd, data)
elif mode == "rename":
    half = len(data) // 2
    write_all(fd, data[:half])
    wait_parts(lambda p: len(set(p)) >= 2, "2 parts sent")
    os.rename(dst, dst + ".renamed.mkv")
    write_all(fd, data[half:], at=half)
t = time.monotonic()
os.close(fd)
print(f"close_s={time.monotonic() - t:.3f}")
print(f"part1_sends={parts().count(1)}")
PY
since() { tail -c +$(($1 + 1)) "$S3DIR/proxy.log"; }
no_leftovers() {
	keys | grep -q '^lib/\.hubfs/' && fail "$1: a hidden upload object is left: $(keys)"
	ups=$("$PROBE" "$S3_ENDPOINT" "$BUCKET" mpu-list lib/) || fail "mpu-list"
	[ -z "$ups" ] || fail "$1: multipart uploads left over: $ups"
}

note "a video written slowly goes up in parts while it is written; close sends the rest"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=25:duration=24 \
	-c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p "$T/x40.mkv" || fail "ffmpeg"
[ "$(stat -c %s "$T/x40.mkv")" -gt $((34 << 20)) ] || fail "x40.mkv is too small: $(stat -c %s "$T/x40.mkv")"
out=$(timeout 120 python3 "$T/writer.py" slow "$T/x40.mkv" "$V/slow.mkv" "$S3DIR/proxy.log") ||
	fail "slow writer: $out"
note "$(tr '\n' ' ' <<<"$out")"
cmp "$T/x40.mkv" "$V/slow.mkv" || fail "slow.mkv read back differs"
xsha=$(sha256sum <"$T/x40.mkv" | cut -d' ' -f1)
assert_eq "$(xattr user.hub.sha256 "$V/slow.mkv")" "$xsha" "sha256 xattr of slow.mkv"
xhead=$("$PROBE" "$S3_ENDPOINT" "$BUCKET" head lib/slow.mkv)
grep -qx "meta.sha256=$xsha" <<<"$xhead" || fail "x-amz-meta-sha256 on slow.mkv: $xhead"
grep -qx "size=$(stat -c %s "$T/x40.mkv")" <<<"$xhead" || fail "size of slow.mkv: $xhead"
no_leftovers "slow.mkv"

note "a part changed after it was sent is sent again (seek back and patch, ffmpeg-style)"
out=$(timeout 120 python3 "$T/writer.py" patch "$T/x40.mkv" "$V/patch.mkv" "$S3DIR/proxy.log") ||
	fail "patch writer: $out"
grep -qx 'part1_sends=[2-9]' <<<"$out" || fail "part 1 was not sent again after its patch: $out"
cmp "$T/x40.mkv" "$V/patch.mkv" || fail "patch.mkv read back differs"
no_leftovers "patch.mkv"

note "a truncate below sent parts, and a rename while written"
out=$(timeout 120 python3 "$T/writer.py" trunc "$T/x40.mkv" "$V/trunc.mkv" "$S3DIR/proxy.log") ||
	fail "trunc writer: $out"
cmp "$T/x40.mkv" "$V/trunc.mkv" || fail "trunc.mkv read back differs"
out=$(timeout 120 python3 "$T/writer.py" rename "$T/x40.mkv" "$V/ren.mkv" "$S3DIR/proxy.log") ||
	fail "rename writer: $out"
cmp "$T/x40.mkv" "$V/ren.mkv.renamed.mkv" || fail "renamed upload read back differs"
keys | grep -qx 'lib/ren.mkv' && fail "the name before the rename is in the bucket"
no_leftovers "trunc.mkv, ren.mkv"

note "ffmpeg -movflags +faststart into the mount (rewrites the whole file at the end)"
ff_faststart() {
	ffmpeg -nostdin -loglevel error -y -i "$T/x40.mkv" -c copy -map_metadata -1 \
		-fflags +bitexact -flags +bitexact -movflags +faststart "$1"
}
ff_faststart "$T/fast-local.mp4" || fail "ffmpeg faststart, local"
ff_faststart "$V/fast.mp4" || fail "ffmpeg faststart into the mount"
cmp "$T/fast-local.mp4" "$V/fast.mp4" || fail "faststart mp4 differs from the same ffmpeg run on a local file"
no_leftovers "fast.mp4"

note "an invalid video streamed in parts is aborted: nothing in the bucket"
head -c $((30 << 20)) /dev/urandom >"$T/noise.mp4"
at=$(stat -c %s "$S3DIR/proxy.log")
expect_fail "Invalid argument" cp "$T/noise.mp4" "$V/noise.mp4"
since "$at" | grep -q ' POST /[^ ]*/lib/\.hubfs/upload-[^ ]*?uploads -> 200' ||
	fail "no multipart upload was started while noise.mp4 was written"
since "$at" | grep -q ' DELETE /[^ ]*/lib/\.hubfs/upload-[^ ]*?uploadId=[^ ]* -> 204' ||
	fail "the multipart upload of noise.mp4 was not aborted"
keys | grep -q 'noise' && fail "a rejected video is in the bucket: $(keys)"
no_leftovers "noise.mp4"

note "UploadPart failing past the client's retries: close() fails with EIO, nothing stored"
# From here on, the daemon's one error line for this upload is expected (lib.sh's exit check).
HUB_EXPECT_ERRORS="s3: cannot commit 'fault\.mkv': Input/output error"
curl -sf -XPOST "$S3_ENDPOINT/__faults" \
	-d '[{"method":"PUT","match":"partNumber=","count":-1,"action":"error","status":500}]' >/dev/null ||
	fail "setting the fault"
rc=0
out=$(cp "$T/x40.mkv" "$V/fault.mkv" 2>&1) || rc=$?
curl -sf -XDELETE "$S3_ENDPOINT/__faults" >/dev/null || fail "clearing the fault"
[ "$rc" -ne 0 ] || fail "cp succeeded while every UploadPart failed"
grep -q 'Input/output error' <<<"$out" || fail "cp did not report EIO: $out"
wait_for 5 grep -q "cannot store 'videos/fault.mkv': Input/output error" "$MNT/.hub/events" ||
	fail "no event for the failed upload"
assert_absent "$V/fault.mkv"
keys | grep -q 'fault' && fail "a failed upload is in the bucket: $(keys)"
no_leftovers "fault.mkv"

note "mkdir, mv (file, directory), rm, rsync, cp -a"
mkdir "$V/coll"
mv "$V/video.mkv" "$V/coll/moved.mkv"
cmp "$MEDIA/video.mkv" "$V/coll/moved.mkv" || fail "moved video differs"
keys | grep -qx 'lib/video.mkv' && fail "mv left the old key"
mv "$V/coll" "$V/coll2"
cmp "$MEDIA/video.mkv" "$V/coll2/moved.mkv" || fail "moved directory"
rm "$V/mjpeg.avi"
keys | grep -qx 'lib/mjpeg.avi' && fail "rm left the key"
mkdir -p "$T/src/trip"
cp "$MEDIA/faststart.mp4" "$T/src/trip/a.mp4"
cp "$MEDIA/video.mkv" "$T/src/trip/b.mkv"
touch -d '2001-02-03 04:05:06' "$T/src/trip/a.mp4"
rsync -a "$T/src/trip/" "$V/trip/" || fail "rsync"
cmp "$T/src/trip/b.mkv" "$V/trip/b.mkv" || fail "rsync content"
assert_eq "$(stat -c %Y "$V/trip/a.mp4")" "$(stat -c %Y "$T/src/trip/a.mp4")" "rsync -a mtime"
out=$(rsync -a --itemize-changes "$T/src/trip/" "$V/trip/")
[ -z "$out" ] || fail "a second rsync copied again: $out"
cp -a "$T/src/trip/a.mp4" "$V/kept.mp4"
assert_eq "$(stat -c %Y "$V/kept.mp4")" "$(stat -c %Y "$T/src/trip/a.mp4")" "cp -a mtime"

note "a second mount of the bucket sees the library, with metadata"
hub_mount_at "$T/mnt2" "$T/state2" "$T/data2" -o "$S3OPTS"
PID2=$HUB_LAST_PID
wait_for 15 test -f "$T/mnt2/videos/big.mkv" || fail "second mount does not list big.mkv: $(ls "$T/mnt2/videos")"
# one scanner pass adopts objects in key order: wait for this one too, not only big.mkv
wait_for 15 test -f "$T/mnt2/videos/faststart.mp4" || fail "second mount does not list faststart.mp4"
assert_eq "$(xattr user.hub.sha256 "$T/mnt2/videos/faststart.mp4")" "$sha" "metadata on the second mount"
cmp "$T/big.mkv" "$T/mnt2/videos/big.mkv" || fail "second mount reads differ"
rm "$T/mnt2/videos/kept.mp4"
wait_for 15 bash -c "! test -e '$V/kept.mp4'" || fail "a delete on the other mount did not show"

note "awscli reads what hubfs wrote: bytes and metadata"
aws_ s3 cp "s3://$BUCKET/lib/faststart.mp4" "$T/aws-back.mp4" >/dev/null || fail "aws s3 cp down"
cmp "$MEDIA/faststart.mp4" "$T/aws-back.mp4" || fail "awscli read different bytes"
aws_ s3api head-object --bucket "$BUCKET" --key lib/faststart.mp4 >"$T/aws-head" || fail "aws head-object"
grep -q "\"sha256\": \"$sha\"" "$T/aws-head" || fail "awscli does not see x-amz-meta-sha256: $(cat "$T/aws-head")"

note "an object awscli puts under the prefix shows up, validated once"
aws_ s3 cp "$MEDIA/video.webm" "s3://$BUCKET/lib/from-aws.webm" >/dev/null || fail "aws s3 cp up"
wait_for 20 test -f "$V/from-aws.webm" || fail "an awscli upload was not adopted: $(ls "$V")"
cmp "$MEDIA/video.webm" "$V/from-aws.webm" || fail "awscli upload read back"
assert_eq "$(xattr user.hub.container "$V/from-aws.webm")" webm "awscli upload metadata"

note "an object another client put under the prefix, without our metadata, is probed once"
"$PROBE" "$S3_ENDPOINT" "$BUCKET" putfd lib/foreign.mkv "$MEDIA/video.mkv" >/dev/null || fail "foreign put"
"$PROBE" "$S3_ENDPOINT" "$BUCKET" putfd lib/foreign-bad.mp4 "$MEDIA/text.mp4" >/dev/null || fail "foreign put"
wait_for 20 test -f "$V/foreign.mkv" || fail "a foreign valid video was not adopted: $(ls "$V")"
assert_eq "$(xattr user.hub.container "$V/foreign.mkv")" mkv "probed metadata"
"$PROBE" "$S3_ENDPOINT" "$BUCKET" head lib/foreign.mkv | grep -q '^meta.sha256=' ||
	fail "the probe's record was not stored on the object"
cmp "$MEDIA/video.mkv" "$V/foreign.mkv" || fail "foreign video bytes"
wait_for 10 grep -q "rejected 'videos/foreign-bad.mp4'" "$MNT/.hub/events" || fail "foreign invalid object not refused"
assert_absent "$V/foreign-bad.mp4"
hub_umount_at "$T/mnt2" "$PID2"
hub_umount

note "hubfs --s3-cleanup aborts stale multipart uploads under the prefix, and only there"
"$PROBE" "$S3_ENDPOINT" "$BUCKET" mpu-create lib/stale.mkv >/dev/null || fail "mpu-create"
"$PROBE" "$S3_ENDPOINT" "$BUCKET" mpu-create elsewhere/other.mkv >/dev/null || fail "mpu-create"
out=$("$HUBFS_BIN" --s3-cleanup -o "$S3OPTS") || fail "--s3-cleanup: $out"
grep -q '^kept     lib/stale.mkv' <<<"$out" || fail "a fresh upload was not kept by --s3-cleanup: $out"
out=$("$HUBFS_BIN" --s3-cleanup=0 -o "$S3OPTS") || fail "--s3-cleanup=0: $out"
grep -q '^aborted  lib/stale.mkv' <<<"$out" || fail "--s3-cleanup=0: $out"
grep -q '1 multipart uploads under s3://hubfs-media/lib/: 1 aborted' <<<"$out" || fail "summary: $out"
assert_eq "$("$PROBE" "$S3_ENDPOINT" "$BUCKET" mpu-list lib/)" "" "uploads after --s3-cleanup"
"$PROBE" "$S3_ENDPOINT" "$BUCKET" mpu-list elsewhere/ | grep -q other.mkv || fail "--s3-cleanup went outside the prefix"
expect_fail "needs backend=s3" "$HUBFS_BIN" --s3-cleanup -o "state_dir=$T/state5"
expect_fail "bad value 'soon' for --s3-cleanup" "$HUBFS_BIN" --s3-cleanup=soon -o "$S3OPTS"

note "wrong credentials and a dead endpoint fail at mount time, one line"
mkdir -p "$T/mnt3" "$T/mnt4"
rc=0
AWS_SECRET_ACCESS_KEY=wrong-$S3_SK "$HUBFS_BIN" -f -o "state_dir=$T/state3,$S3OPTS" "$T/mnt3" >"$T/err3" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "mounting with a wrong secret succeeded"
grep -q 'access denied' "$T/err3" || fail "wrong secret: $(cat "$T/err3")"
grep -q "wrong-$S3_SK" "$T/err3" && fail "the secret is in the error"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rc=0
timeout 60 "$HUBFS_BIN" -f -o "state_dir=$T/state4,backend=s3,s3_bucket=$BUCKET,s3_endpoint=http://127.0.0.1:$port" "$T/mnt4" >"$T/err4" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "mounting a dead endpoint: status $rc"
grep -q 'connection refused' "$T/err4" || fail "dead endpoint: $(cat "$T/err4")"
