#!/usr/bin/env bash
# s3-test-server.sh — a real S3 endpoint on loopback for the tests: s3rver (npm, pinned)
# behind tests/s3/s3-verify-proxy.py, which re-verifies every request's SigV4 signature with
# botocore (s3rver itself accepts any signature) and injects faults on demand.
#
#   scripts/s3-test-server.sh install           install s3rver into REPO/.tooling/s3rver
#   scripts/s3-test-server.sh start DIR [BUCKET...]
#   scripts/s3-test-server.sh stop DIR
#
# start: installs what is missing (node/npm/python3-botocore via scripts/deps.sh, s3rver via
# npm), starts s3rver on 127.0.0.1 (free port, data in DIR/data, BUCKETs pre-created) and the
# proxy (free port) with a fresh random credential pair, then writes DIR/env (sourceable):
#   S3_ENDPOINT=http://127.0.0.1:PORT   the proxy: the only endpoint clients should use
#   S3_AK, S3_SK, S3_REGION             the credentials the proxy accepts (S3RVER and a
#                                       random secret: s3rver itself only knows that key)
#   S3_UPSTREAM=http://127.0.0.1:PORT   s3rver directly (unverified: for inspection only)
#   S3_SERVER_PID, S3_PROXY_PID
# Logs: DIR/s3rver.log, DIR/proxy.log (rejections are logged with their reason).
# s3rver 3.7.1 has no ListMultipartUploads or AbortMultipartUpload; the proxy answers both
# from s3rver's upload folders (--s3rver-data), signatures verified like every request.
# stop: kills exactly those two PIDs (TERM, then KILL after 5 s). Callers pair every start
# with a stop in their trap; a failed start stops what it had started.
set -euo pipefail

S3RVER_VERSION=3.7.1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TOOLING=${HUBFS_TOOLING_DIR:-$REPO/.tooling}
S3RVER_DIR=$TOOLING/s3rver
S3RVER_JS=$S3RVER_DIR/node_modules/s3rver/bin/s3rver.js
PROXY=$REPO/tests/s3/s3-verify-proxy.py
PYTHON=/usr/bin/python3 # Debian's, for python3-botocore

die() {
	echo "s3-test-server: $*" >&2
	exit 1
}

s3rver_installed() {
	[ -f "$S3RVER_JS" ] &&
		grep -q "\"version\": *\"$S3RVER_VERSION\"" "$S3RVER_DIR/node_modules/s3rver/package.json"
}

# node, npm and botocore from Debian (scripts/deps.sh), s3rver from npm; each only if missing.
install_tools() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null ||
		! "$PYTHON" -c 'import botocore' 2>/dev/null; then
		# shellcheck source=scripts/deps.sh
		. "$HERE/deps.sh"
		HUBFS_DEPS_NO_EXTRA=1 hubfs_deps_install test || die "installing nodejs/python3-botocore failed"
	fi
	# Debian's nodejs has no npm (NodeSource's bundles it): add Debian's npm only then.
	if ! command -v npm >/dev/null; then
		[ "$(id -u)" = 0 ] || die "npm missing; run: sudo apt-get install npm"
		DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
			-o DPkg::Lock::Timeout=300 install npm >&2 || die "apt-get install npm failed"
	fi
	s3rver_installed && return 0
	mkdir -p "$TOOLING"
	(
		flock 9
		s3rver_installed && exit 0
		echo "s3-test-server: installing s3rver@$S3RVER_VERSION into $S3RVER_DIR" >&2
		mkdir -p "$S3RVER_DIR"
		npm install --prefix "$S3RVER_DIR" --no-audit --no-fund --loglevel=error \
			"s3rver@$S3RVER_VERSION" >&2
	) 9>"$TOOLING/.s3rver.lock" || die "npm install s3rver@$S3RVER_VERSION failed"
	s3rver_installed || die "s3rver $S3RVER_VERSION not found at $S3RVER_JS after npm install"
}

# Kill one PID we started: TERM, wait up to 5 s, then KILL.
kill_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop() {
	local dir=$1 S3_SERVER_PID='' S3_PROXY_PID=''
	[ -f "$dir/env" ] || [ -f "$dir/pids" ] || return 0
	# shellcheck disable=SC1091
	[ -f "$dir/pids" ] && . "$dir/pids"
	kill_pid "$S3_PROXY_PID"
	kill_pid "$S3_SERVER_PID"
	rm -f "$dir/pids"
}

start() {
	local dir=$1 b spid ppid sport pport ak sk
	shift
	install_tools
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ ! -f "$dir/pids" ] || die "$dir already has a running server (stop it first)"
	rm -f "$dir/env" "$dir/proxy.port"
	mkdir -p "$dir/data"
	local cfg=()
	for b in "$@"; do cfg+=(--configure-bucket "$b"); done

	# --openssl-legacy-provider: s3rver's ListObjectsV2 continuation tokens use DES, which
	# Node >= 17 refuses without it (every truncated listing would be a 500).
	NODE_OPTIONS=--openssl-legacy-provider nohup node "$S3RVER_JS" -d "$dir/data" \
		-a 127.0.0.1 -p 0 -s --no-vhost-buckets --allow-mismatched-signatures "${cfg[@]}" \
		</dev/null >"$dir/s3rver.log" 2>&1 &
	spid=$!
	echo "S3_SERVER_PID=$spid" >"$dir/pids"
	for _ in $(seq 150); do
		sport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/s3rver.log")
		[ -n "$sport" ] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$sport" ]; then
		cat "$dir/s3rver.log" >&2
		stop "$dir"
		die "s3rver did not start"
	fi

	# s3rver knows one access key, S3RVER (any other: 403 InvalidAccessKeyId), and never
	# checks the secret; the proxy checks the signature with this run's random secret.
	ak=S3RVER
	sk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	nohup "$PYTHON" "$PROXY" --port 0 --port-file "$dir/proxy.port" \
		--upstream "127.0.0.1:$sport" --cred "$ak:$sk" --spool-dir "$dir" \
		--s3rver-data "$dir/data" \
		</dev/null >"$dir/proxy.log" 2>&1 &
	ppid=$!
	echo "S3_PROXY_PID=$ppid" >>"$dir/pids"
	for _ in $(seq 150); do
		[ -s "$dir/proxy.port" ] && break
		kill -0 "$ppid" 2>/dev/null || break
		sleep 0.1
	done
	pport=$(cat "$dir/proxy.port" 2>/dev/null || true)
	if [ -z "$pport" ]; then
		cat "$dir/proxy.log" >&2
		stop "$dir"
		die "s3-verify-proxy did not start"
	fi

	cat >"$dir/env.tmp" <<-EOF
		S3_ENDPOINT=http://127.0.0.1:$pport
		S3_AK=$ak
		S3_SK=$sk
		S3_REGION=us-east-1
		S3_UPSTREAM=http://127.0.0.1:$sport
		S3_SERVER_PID=$spid
		S3_PROXY_PID=$ppid
	EOF
	chmod 600 "$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

case "${1:-}" in
install)
	install_tools
	;;
start)
	[ $# -ge 2 ] || die "usage: $0 start DIR [BUCKET...]"
	shift
	start "$@"
	;;
stop)
	[ $# -eq 2 ] || die "usage: $0 stop DIR"
	stop "$2"
	;;
*)
	echo "usage: $0 install | start DIR [BUCKET...] | stop DIR" >&2
	exit 2
	;;
esac
