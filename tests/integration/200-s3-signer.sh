#!/usr/bin/env bash
# 200-s3-signer: our SigV4 signer (src/backend/s3_sign.c) against a real S3 server. No mount:
# tests/tools/s3probe signs with hubfs_s3_sign() and sends with libcurl to s3rver behind
# tests/s3/s3-verify-proxy.py, which recomputes every signature with botocore and rejects
# any mismatch (s3rver alone accepts any signature). Objects go up and come back byte-exact
# (a generated video, awkward keys; not "a//b": s3rver answers 404 for an empty path
# segment); a wrong secret gets 403 SignatureDoesNotMatch.
# Never skips: scripts/s3-test-server.sh installs node/npm/s3rver when missing.
. "$(dirname "$0")/lib.sh"

SRC=${HUBFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SRV=$SRC/scripts/s3-test-server.sh
PROBE=${HUBFS_S3PROBE:-$(dirname "$HUBFS_BIN")/tests/s3probe}
[ -x "$PROBE" ] || fail "s3probe not built (HUBFS_S3PROBE=$PROBE)"

S3DIR=$T/s3
HUB_UNDO+=("'$SRV' stop '$S3DIR'")
"$SRV" start "$S3DIR" || fail "S3 test server did not start"
# shellcheck disable=SC1091
. "$S3DIR/env"
note "s3rver $S3_UPSTREAM behind the verifying proxy $S3_ENDPOINT"

probe() { "$PROBE" "$S3_ENDPOINT" "$S3_AK" "$S3_SK" "$@"; }
BUCKET=hubfs-test

# put_get KEY FILE: PUT, GET back, compare bytes.
put_get() {
	local key=$1 file=$2
	probe put "$BUCKET" "$key" "$file" || fail "PUT '$key' rejected"
	probe get "$BUCKET" "$key" >"$T/back" || fail "GET '$key' failed"
	cmp "$file" "$T/back" || fail "GET '$key' is not byte-exact"
}

note "the verifying proxy passes AWS's published SigV4 vectors"
/usr/bin/python3 "$SRC/tests/s3/s3-verify-proxy.py" --self-test >"$T/selftest" 2>&1 ||
	{ cat "$T/selftest" >&2; fail "s3-verify-proxy --self-test failed"; }

note "create bucket"
probe mkbucket "$BUCKET" || fail "mkbucket rejected"

note "generated video, PUT + GET byte-exact"
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=640x360:rate=25:duration=4 \
	-f lavfi -i sine=frequency=440:duration=4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
	-c:a aac -shortest -movflags +faststart "$T/clip.mp4" || fail "ffmpeg failed"
[ "$(stat -c %s "$T/clip.mp4")" -gt 100000 ] || fail "generated video is too small"
put_get "videos/clip 1.mp4" "$T/clip.mp4"

note "awkward keys (spaces, unicode, +, =, reserved characters), PUT + GET byte-exact"
head -c 300000 /dev/urandom >"$T/blob"
for key in "notes/a b  c.txt" "ünï cödé/日本語 ファイル.txt" "plus+and=equals.txt" \
	"x/y+z=1 (copy) & [2]; 100%.bin" "tilde~dash-dot._underscore"; do
	put_get "$key" "$T/blob"
done
put_get "empty object" /dev/null

note "test media through the signer too"
put_get "media/faststart.mp4" "$MEDIA/faststart.mp4"

# Every request so far passed botocore's check: the proxy logged no rejection.
if grep -q REJECT "$S3DIR/proxy.log"; then
	grep REJECT "$S3DIR/proxy.log" | cut -c1-300 >&2
	fail "the verifying proxy rejected a request signed with the right secret"
fi
# 1 mkbucket + 8 objects x (PUT + GET), each header-signed with a hex payload sha256
assert_eq "$(grep -c 'auth=header payload=sha256' "$S3DIR/proxy.log" || true)" 17 \
	"header-signed sha256 requests the proxy verified and forwarded"

note "wrong secret: 403 SignatureDoesNotMatch, nothing stored"
for op in put get; do
	args=("$BUCKET" "videos/bad.mp4")
	[ "$op" = put ] && args+=("$T/clip.mp4")
	rc=0
	"$PROBE" "$S3_ENDPOINT" "$S3_AK" "wrong-$S3_SK" "$op" "${args[@]}" >"$T/out" 2>"$T/err" || rc=$?
	assert_eq "$rc" 1 "s3probe $op with a wrong secret: exit status"
	grep -q "HTTP 403" "$T/err" || { cat "$T/err" >&2; fail "$op with a wrong secret: not HTTP 403"; }
	grep -q "<Code>SignatureDoesNotMatch</Code>" "$T/err" ||
		{ cat "$T/err" >&2; fail "$op with a wrong secret: not SignatureDoesNotMatch"; }
done
rc=0
probe get "$BUCKET" "videos/bad.mp4" >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "GET of the object the rejected PUT named"
grep -q "<Code>NoSuchKey</Code>" "$T/err" || { cat "$T/err" >&2; fail "rejected PUT stored an object"; }
assert_eq "$(grep -c 'REJECT.*SignatureDoesNotMatch' "$S3DIR/proxy.log")" 2 "proxy rejections"

note "unknown access key: 403 InvalidAccessKeyId"
rc=0
"$PROBE" "$S3_ENDPOINT" NOTAKEY "$S3_SK" get "$BUCKET" "videos/clip 1.mp4" >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "s3probe with an unknown access key: exit status"
grep -q "<Code>InvalidAccessKeyId</Code>" "$T/err" || { cat "$T/err" >&2; fail "not InvalidAccessKeyId"; }
