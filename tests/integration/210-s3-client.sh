#!/usr/bin/env bash
# 210-s3-client: hubfs's S3 client (src/backend/s3_client*.c, s3_xml.c, s3_creds.c) against
# a real S3 server. No mount: tests/tools/s3clientprobe drives the client against s3rver
# behind tests/s3/s3-verify-proxy.py, which re-verifies every request's SigV4 signature,
# payload SHA-256 and Content-MD5 with botocore and injects faults on demand (POST /__faults).
#
# Covered: PUT (memory and fd) and GET byte-exact, ranged reads at odd offsets and at the
# end, metadata round trip through HEAD, ListObjectsV2 with prefix, delimiter and small pages
# (continuation tokens), copy keeping or replacing metadata, DELETE, a 3-part multipart upload
# (parts from 4 threads on the handle pool), wrong credentials -> EACCES, the secret never
# in the client's output, injected faults (503 SlowDown on a PUT, a reset and a truncation
# mid-GET, an answer lost after the PUT ran, 5xx on every try -> EIO, a stalled answer ->
# ETIMEDOUT, a failed part retried), and awscli interop both ways.
#
# s3rver 3.7.1 implements neither AbortMultipartUpload (405 MethodNotAllowed) nor
# ListMultipartUploads (501 NotImplemented): here the client must send them signed (the
# proxy forwards them) and map the answers to EOPNOTSUPP; their XML and the abort-on-failure
# path are covered by tests/unit/backend/test_s3_client.c against canned answers.
# Never skips: scripts/s3-test-server.sh installs node/npm/s3rver when missing; awscli comes
# from scripts/deps.sh (test group).
. "$(dirname "$0")/lib.sh"

SRC=${HUBFS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
SRV=$SRC/scripts/s3-test-server.sh
PROBE=${HUBFS_S3CLIENTPROBE:-$(dirname "$HUBFS_BIN")/tests/s3clientprobe}
[ -x "$PROBE" ] || fail "s3clientprobe not built (HUBFS_S3CLIENTPROBE=$PROBE)"
if ! command -v aws >/dev/null; then
	# shellcheck disable=SC1091
	. "$SRC/scripts/deps.sh"
	HUBFS_DEPS_NO_EXTRA=1 hubfs_deps_install test >&2 || fail "installing awscli failed"
fi

S3DIR=$T/s3
BUCKET=hubfs-test
HUB_UNDO+=("'$SRV' stop '$S3DIR'")
"$SRV" start "$S3DIR" "$BUCKET" || fail "S3 test server did not start"
# shellcheck disable=SC1091
. "$S3DIR/env"
note "s3rver $S3_UPSTREAM behind the verifying proxy $S3_ENDPOINT"

# Credentials from the environment only (never argv); no stray profile, token or CA bundle.
export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK AWS_REGION=$S3_REGION
export AWS_DEFAULT_REGION=$S3_REGION AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ACCESS_KEY AWS_SECRET_KEY AWS_CA_BUNDLE

# p [-r N] [-t MS] [-c N] [-k N] [-S] CMD ARGS...: the client under test on our bucket. A
# proxy in the environment must not reach it (it sets CURLOPT_PROXY "").
p() {
	local opts=(-b 10)
	while [ $# -gt 0 ]; do
		case "$1" in
		-S) opts+=("$1") ;;
		-[rtck]) opts+=("$1" "$2") && shift ;;
		*) break ;;
		esac
		shift
	done
	http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
		timeout 60 "$PROBE" "${opts[@]}" "$S3_ENDPOINT" "$BUCKET" "$@"
}
api() { curl -sf --noproxy '*' "$@"; }
faults() { api -XPOST "$S3_ENDPOINT/__faults" -d "$1" >/dev/null || fail "setting faults: $1"; }
fired() {
	api "$S3_ENDPOINT/__faults" |
		python3 -c 'import json,sys; print(sum(r["fired"] for r in json.load(sys.stdin)["rules"]))'
}
aws_() { timeout 60 aws --endpoint-url "$S3_ENDPOINT" "$@"; }
# stat_of NAME FILE: a counter from the probe's -S line in FILE
stat_of() { sed -n "s/^stats .*\b$1=\([0-9]*\).*/\1/p" "$2"; }
# expect_errno ENAME CMD...: CMD fails with exit status 1 and names ENAME.
expect_errno() {
	local want=$1 rc=0
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || { cat "$T/err" >&2; fail "'$*': exit status $rc, want 1 ($want)"; }
	grep -q "($want)" "$T/err" || { cat "$T/err" >&2; fail "'$*': not $want"; }
}
# range_of FILE OFF LEN: those bytes of FILE on stdout
range_of() { { tail -c +$(($2 + 1)) "$1" || true; } | head -c "$3"; }

SECONDS=0
head -c $((3 * 1024 * 1024 + 7)) /dev/urandom >"$T/blob"
SIZE=$(stat -c %s "$T/blob")
KEY="media/a b+c=d ünï (1).bin"

note "PUT from memory with metadata, GET back byte-exact"
p put "$KEY" "$T/blob" color=blue Owner=hubfs "sha256=$(sha256sum <"$T/blob" | cut -c1-64)" >"$T/put" ||
	fail "put failed"
grep -q '^etag=[0-9a-f]\{32\}$' "$T/put" || fail "put printed no ETag: $(cat "$T/put")"
p get "$KEY" >"$T/back" || fail "get failed"
cmp "$T/blob" "$T/back" || fail "GET is not byte-exact"

note "ranged GETs at odd offsets, at the end and past it"
for r in "0 1" "1 4095" "12345 100000" "1048575 1048577" "$((SIZE - 7)) 100" "$((SIZE - 1)) 1"; do
	# shellcheck disable=SC2086
	p get "$KEY" $r >"$T/part" || fail "get $r failed"
	# shellcheck disable=SC2086
	range_of "$T/blob" $r | cmp - "$T/part" || fail "ranged get $r is not byte-exact"
done
p get "$KEY" "$SIZE" 10 >"$T/part" || fail "get at the end of the object failed"
[ ! -s "$T/part" ] || fail "get at the end returned bytes"
expect_errno EINVAL p get "$KEY" $((SIZE + 1)) 10

note "HEAD: size, ETag and metadata round trip (names lower-cased)"
p head "$KEY" >"$T/head" || fail "head failed"
grep -qx "size=$SIZE" "$T/head" || fail "head size: $(cat "$T/head")"
grep -qx "meta.color=blue" "$T/head" || fail "metadata color lost: $(cat "$T/head")"
grep -qx "meta.owner=hubfs" "$T/head" || fail "metadata owner lost: $(cat "$T/head")"
grep -qx "meta.sha256=$(sha256sum <"$T/blob" | cut -c1-64)" "$T/head" || fail "metadata sha256 lost"
grep -qx "$(cat "$T/put")" "$T/head" || fail "HEAD ETag differs from PUT's"
expect_errno ENOENT p head "media/nothing here"

note "PUT streamed from a file (hashed first), awkward keys, an empty object"
for k in "videos/x y/ファイル.mp4" "tilde~dash-dot._underscore" "100% & [2]; (copy).bin"; do
	p putfd "$k" "$T/blob" >/dev/null || fail "putfd '$k' failed"
	p get "$k" | cmp - "$T/blob" || fail "putfd '$k' is not byte-exact"
done
p put "empty" /dev/null >/dev/null || fail "put of an empty object failed"
p head empty >"$T/head" || fail "head of an empty object failed"
grep -qx "size=0" "$T/head" || fail "empty object is not empty"
p get empty >"$T/part" || fail "get of an empty object failed"
[ ! -s "$T/part" ] || fail "empty object returned bytes"

note "ListObjectsV2: prefix, delimiter, 7-key pages (continuation tokens)"
p putn "list/a/" 23 || fail "putn list/a/"
p putn "list/b/" 4 || fail "putn list/b/"
p putn "list/" 3 || fail "putn list/"
before=$(grep -c 'continuation-token=' "$S3DIR/proxy.log" || true)
p -k 7 list list/ >"$T/list" || fail "list failed"
assert_eq "$(grep -c '^obj ' "$T/list")" 30 "objects listed under list/"
assert_eq "$(grep -c '^pre ' "$T/list")" 0 "prefixes listed without a delimiter"
cut -d' ' -f2 "$T/list" | sort -u | diff - <(cut -d' ' -f2 "$T/list") >/dev/null ||
	fail "listing is not sorted and unique"
grep -q '^obj list/a/0022 11 [0-9a-f]\{32\} [0-9]\{19\}$' "$T/list" || fail "list entry: $(grep 0022 "$T/list")"
after=$(grep -c 'continuation-token=' "$S3DIR/proxy.log" || true)
[ $((after - before)) -ge 4 ] || fail "30 keys in 7-key pages took $((after - before)) continued requests"
p -k 2 list list/ / >"$T/list" || fail "list with a delimiter failed"
assert_eq "$(grep -c '^obj ' "$T/list")" 3 "objects directly under list/"
assert_eq "$(grep '^pre ' "$T/list" | sort | tr '\n' ' ')" "pre list/a/ pre list/b/ " "common prefixes"

note "copy keeps the metadata, or replaces it"
# s3rver decodes x-amz-copy-source with JavaScript's decodeURI, which leaves %2B, %3D, %26
# ... encoded (S3 decodes them): the copy source here has spaces and unicode, not those.
SRCKEY="media/copy source ünï (1).bin"
p put "$SRCKEY" "$T/blob" color=blue Owner=hubfs >/dev/null || fail "put of the copy source failed"
p copy "$SRCKEY" "copy/kept" || fail "copy failed"
p head "copy/kept" >"$T/head" || fail "head of the copy failed"
grep -qx "meta.color=blue" "$T/head" || fail "copy lost the metadata: $(cat "$T/head")"
p get "copy/kept" | cmp - "$T/blob" || fail "copy is not byte-exact"
p copy "$SRCKEY" "copy/replaced" color=green || fail "copy with new metadata failed"
p head "copy/replaced" >"$T/head" || fail "head of the copy failed"
grep -qx "meta.color=green" "$T/head" || fail "copy did not replace the metadata"
grep -q "meta.owner" "$T/head" && fail "replaced metadata kept an old key"
expect_errno ENOENT p copy "no such source" "copy/x"

note "DELETE, twice (S3: the second is fine too)"
p delete "copy/replaced" || fail "delete failed"
expect_errno ENOENT p head "copy/replaced"
p delete "copy/replaced" || fail "second delete failed"

note "multipart upload: 3 parts (5 MiB, 5 MiB, the rest) from 4 threads, byte-exact"
head -c $((12 * 1024 * 1024 + 333)) /dev/urandom >"$T/big"
p -c 4 mpu "videos/big.mp4" "$T/big" 5 color=red >"$T/out" || fail "multipart upload failed"
grep -qx "parts=3" "$T/out" || fail "not 3 parts: $(cat "$T/out")"
p get "videos/big.mp4" | cmp - "$T/big" || fail "multipart object is not byte-exact"
p head "videos/big.mp4" >"$T/head" || fail "head of the multipart object failed"
grep -qx "meta.color=red" "$T/head" || fail "multipart object lost its metadata"
assert_eq "$(grep -c 'PUT /hubfs-test/videos/big.mp4?partNumber=.* -> 200 .*payload=sha256' \
	"$S3DIR/proxy.log")" 3 "parts verified (sha256 and Content-MD5) by the proxy"

note "list and abort uploads (s3rver lacks both; the proxy answers them from its upload folders)"
id=$(p mpu-create "videos/aborted.mp4") || fail "mpu-create failed"
[ -n "$id" ] || fail "no upload id"
ups=$(p mpu-list videos/) || fail "mpu-list failed"
grep -q "^videos/aborted.mp4 $id " <<<"$ups" || fail "mpu-list does not show the upload: $ups"
assert_eq "$(p mpu-list other/)" "" "mpu-list outside the prefix"
p mpu-abort "videos/aborted.mp4" "$id" || fail "mpu-abort failed"
grep -q "DELETE /hubfs-test/videos/aborted.mp4?uploadId=$id -> 204 .*emulated=AbortMultipartUpload" \
	"$S3DIR/proxy.log" || fail "abort did not reach the proxy signed"
assert_eq "$(p mpu-list videos/)" "" "mpu-list after the abort"
p mpu-abort "videos/aborted.mp4" "$id" || fail "a second abort (NoSuchUpload) must succeed"

note "a multipart upload whose part keeps failing: EIO, and no object appears"
faults '[{"method":"PUT","match":"/hubfs-test/videos/failed.mp4\\?partNumber=2&","count":-1,"action":"error","status":500}]'
expect_errno EIO p -r 2 mpu "videos/failed.mp4" "$T/big" 5
grep -q "DELETE /hubfs-test/videos/failed.mp4?uploadId=" "$S3DIR/proxy.log" ||
	fail "the failed upload was not aborted"
assert_eq "$(p mpu-list videos/failed.mp4)" "" "uploads left by the failed one"
api -XDELETE "$S3_ENDPOINT/__faults" >/dev/null
expect_errno ENOENT p head "videos/failed.mp4"

# Everything so far (but the injected faults) passed botocore's check, with a hex sha256.
if grep -q REJECT "$S3DIR/proxy.log"; then
	grep REJECT "$S3DIR/proxy.log" | cut -c1-300 >&2
	fail "the verifying proxy rejected a request of the client"
fi
if grep -E ' INFO (GET|PUT|HEAD|POST|DELETE) /hubfs-test.* -> ' "$S3DIR/proxy.log" | grep -qv 'auth=header payload=sha256'; then
	grep -E ' INFO (GET|PUT|HEAD|POST|DELETE) /hubfs-test.* -> ' "$S3DIR/proxy.log" |
		grep -v 'auth=header payload=sha256' | head -5 >&2
	fail "a request went without a header signature over its payload's sha256"
fi

note "wrong secret, unknown access key: EACCES, nothing stored, no secret in the output"
AWS_SECRET_ACCESS_KEY="wrong-$S3_SK" expect_errno EACCES p get "$KEY" 0 10
AWS_SECRET_ACCESS_KEY="wrong-$S3_SK" expect_errno EACCES p put "bad/put" "$T/blob"
AWS_ACCESS_KEY_ID=NOTAKEY expect_errno EACCES p head "$KEY"
expect_errno ENOENT p head "bad/put"
assert_eq "$(grep -c 'REJECT.*SignatureDoesNotMatch' "$S3DIR/proxy.log")" 2 "proxy rejections"
HUBFS_DEBUG=backend p get "$KEY" 0 10 >/dev/null 2>"$T/dbg" || fail "get with debug lines failed"
grep -q "s3: GET 'media/a b+c=d ünï (1).bin' -> 206 " "$T/dbg" || fail "no debug line: $(cat "$T/dbg")"
HUBFS_DEBUG=backend AWS_SECRET_ACCESS_KEY="wrong-$S3_SK" p get "$KEY" 0 10 >/dev/null 2>>"$T/dbg" || true
if grep -qiE "$S3_SK|authorization|signature=|credential=" "$T/dbg"; then
	fail "the client's output shows a secret or a signature"
fi

note "fault: 503 SlowDown on the first PUT is retried (Retry-After honoured)"
faults '[{"method":"PUT","match":"/hubfs-test/fault/slow$","count":1,"action":"error","status":503,"code":"SlowDown"}]'
t0=$(date +%s%N)
p -S put "fault/slow" "$T/blob" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "put through a 503 failed"; }
# the proxy's 503 says Retry-After: 1; the client's own backoff here is at most 10 ms
[ $((($(date +%s%N) - t0) / 1000000)) -ge 1000 ] || fail "the retry did not wait for Retry-After"
assert_eq "$(stat_of retries "$T/err")" 1 "retries after one SlowDown"
assert_eq "$(fired)" 1 "SlowDown faults fired"
p get "fault/slow" | cmp - "$T/blob" || fail "object put through a 503 is not byte-exact"

note "fault: connection reset mid-GET, then a truncated body: retried, bytes exact"
for action in reset truncate; do
	faults '[{"method":"GET","match":"/hubfs-test/fault/slow$","count":1,"action":"'$action'","bytes":100000}]'
	p -S get "fault/slow" >"$T/back" 2>"$T/err" || { cat "$T/err" >&2; fail "get through a $action failed"; }
	cmp "$T/blob" "$T/back" || fail "get through a $action is not byte-exact"
	assert_eq "$(stat_of retries "$T/err")" 1 "retries after a $action"
	assert_eq "$(fired)" 1 "$action faults fired"
done

note "fault: the answer to a PUT is lost (the PUT ran): retried, object intact"
faults '[{"method":"PUT","match":"/hubfs-test/fault/lost$","count":1,"action":"reset","bytes":-1}]'
p -S put "fault/lost" "$T/blob" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "put with a lost answer failed"; }
assert_eq "$(stat_of retries "$T/err")" 1 "retries after a lost answer"
p get "fault/lost" | cmp - "$T/blob" || fail "object is not byte-exact"

note "fault: 500 on every try ends in EIO after the configured retries"
faults '[{"method":"GET","match":"/hubfs-test/fault/slow$","count":-1,"action":"error","status":500}]'
t0=$SECONDS
expect_errno EIO p -r 2 -S get "fault/slow" 0 100
assert_eq "$(stat_of requests "$T/err")" 3 "tries (1 + 2 retries)"
assert_eq "$(fired)" 3 "500s served"
[ $((SECONDS - t0)) -le 10 ] || fail "EIO after retries took $((SECONDS - t0)) s"

note "fault: an answer that never comes is ETIMEDOUT, never a hang"
faults '[{"method":"GET","match":"/hubfs-test/fault/slow$","count":-1,"action":"delay","ms":4000}]'
t0=$SECONDS
expect_errno ETIMEDOUT p -r 1 -t 1000 -S get "fault/slow" 0 100
assert_eq "$(stat_of requests "$T/err")" 2 "tries before ETIMEDOUT"
[ $((SECONDS - t0)) -le 10 ] || fail "ETIMEDOUT took $((SECONDS - t0)) s"

note "fault: one part of a multipart upload gets a 503: retried, object exact"
faults '[{"method":"PUT","match":"/hubfs-test/videos/retried.mp4\\?partNumber=2&","count":1,"action":"error","status":503}]'
p -S mpu "videos/retried.mp4" "$T/big" 5 >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "mpu through a 503 failed"; }
assert_eq "$(stat_of retries "$T/err")" 1 "retries in the multipart upload"
p get "videos/retried.mp4" | cmp - "$T/big" || fail "multipart object is not byte-exact"
api -XDELETE "$S3_ENDPOINT/__faults" >/dev/null

note "awscli reads what the client wrote (bytes and x-amz-meta-*)"
aws_ s3api get-object --bucket "$BUCKET" --key "$KEY" "$T/aws-back" >"$T/aws-get.json" ||
	fail "awscli get-object failed"
cmp "$T/blob" "$T/aws-back" || fail "awscli read different bytes"
aws_ s3api head-object --bucket "$BUCKET" --key "$KEY" --output json >"$T/aws-head.json" ||
	fail "awscli head-object failed"
python3 - "$T/aws-head.json" <<-'EOF' || fail "awscli sees other metadata: $(cat "$T/aws-head.json")"
	import json, sys
	m = json.load(open(sys.argv[1]))["Metadata"]
	sys.exit(0 if m.get("color") == "blue" and m.get("owner") == "hubfs" else 1)
EOF
aws_ s3 cp --only-show-errors "s3://$BUCKET/videos/big.mp4" "$T/aws-big" || fail "awscli cp down failed"
cmp "$T/big" "$T/aws-big" || fail "awscli read different bytes of the multipart object"

note "the client lists and reads what awscli wrote"
aws_ s3 cp --only-show-errors "$T/big" "s3://$BUCKET/aws/up load.bin" || fail "awscli cp up failed"
aws_ s3api put-object --bucket "$BUCKET" --key "aws/meta.bin" --body "$T/blob" \
	--metadata color=purple >/dev/null || fail "awscli put-object failed"
p list aws/ >"$T/list" || fail "list of awscli's objects failed"
grep -q "^obj aws/up load.bin $(stat -c %s "$T/big") " "$T/list" || fail "awscli's object not listed: $(cat "$T/list")"
grep -q "^obj aws/meta.bin $SIZE " "$T/list" || fail "awscli's object not listed: $(cat "$T/list")"
p get "aws/up load.bin" | cmp - "$T/big" || fail "client read different bytes of awscli's object"
p head "aws/meta.bin" >"$T/head" || fail "head of awscli's object failed"
grep -qx "meta.color=purple" "$T/head" || fail "client does not see awscli's metadata"

note "done in $SECONDS s"
