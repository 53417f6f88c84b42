#!/usr/bin/env bash
# bench-s3.sh [-n N] [--mib M] [--keep] — hubfs's S3 backend against s3fs and rclone mount
# (Debian's), all on one S3 endpoint in one run: s3rver behind the SigV4-verifying proxy
# (scripts/s3-test-server.sh), each client under its own prefix of one bucket. Called by
# scripts/bench.sh (its S3 part); runs alone too. Needs root (FUSE mounts).
#
# Measures, N times each (default 3), medians, with ratios hubfs / each peer:
#   1. cp in of an M MiB video (default 128; raw 1080p frames in Matroska), until durable in
#      the bucket: hubfs and s3fs upload before close() returns; rclone (vfs-cache-mode
#      writes, the mode its docs recommend for cp) uploads after, so its time runs until the
#      object is visible (HEAD polled every 20 ms);
#   2. cat of it to /dev/null through a freshly mounted client (nothing cached);
#   3. 200 random 64 KiB reads at random offsets (python), fresh mount;
#   4. ls -l of a directory of 500 small videos, the first time after mounting and again;
#   5. what close() reports when the store fails every PUT (503 for 60 s through the
#      proxy's fault injection): cp's exit status and whether an object appeared — the
#      known pain point (rclone #4293, goofys #68: close() succeeds, the data never lands);
#   6. each daemon's peak RSS (VmHWM) at the end.
# mountpoint-s3 is not packaged for Debian and is not measured.
#
# The machine is shared and noisy: read ratios from one run, not absolute numbers.
# Everything started here (s3rver, the proxy, three daemons) is stopped by PID at exit.
set -euo pipefail
export LC_ALL=C

REPS=3
MIB=128
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n)
		REPS=$2
		shift
		;;
	--mib)
		MIB=$2
		shift
		;;
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-s3.sh: unknown argument '$1'" >&2
		exit 1
		;;
	esac
	shift
done
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
bench_setup bench-s3
cmake -S . -B build >/dev/null && cmake --build build --target s3clientprobe -j"$(nproc)" >/dev/null ||
	die "cannot build tests/tools/s3clientprobe"
HUBFS=$repo/build-bench/hubfs
PROBE=$repo/build/tests/s3clientprobe

W=$(mktemp -d /var/tmp/hubfs-bench-s3.XXXXXX)
declare -A PID MNT DIR
cleanup() {
	set +e
	for c in "${!MNT[@]}"; do
		mountpoint -q "${MNT[$c]}" && { fusermount3 -u "${MNT[$c]}" || umount -l "${MNT[$c]}"; }
	done
	for c in "${!PID[@]}"; do
		for _ in $(seq 50); do kill -0 "${PID[$c]}" 2>/dev/null || break; sleep 0.1; done
		kill -9 "${PID[$c]}" 2>/dev/null
	done
	"$repo/scripts/s3-test-server.sh" stop "$W/s3"
	[ "$KEEP" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

BUCKET=bench
"$repo/scripts/s3-test-server.sh" start "$W/s3" "$BUCKET" >/dev/null
# shellcheck source=/dev/null
. "$W/s3/env"
export AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK AWS_REGION=$S3_REGION
unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN # plain http: rclone refuses a CA bundle
printf '%s:%s\n' "$S3_AK" "$S3_SK" >"$W/s3fs.passwd"
chmod 600 "$W/s3fs.passwd"
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other
export RCLONE_CONFIG_BENCH_ENDPOINT=$S3_ENDPOINT RCLONE_CONFIG_BENCH_REGION=$S3_REGION
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$S3_AK RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$S3_SK
export RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true


# mount_client NAME: hubfs (prefix hub/), s3fs (s3fs/), rclone (rclone/); sets MNT, PID.
mount_client() {
	local c=$1 m=$W/mnt-$1 log=$W/$1.log
	mkdir -p "$m"
	MNT[$c]=$m
	DIR[$c]=$m
	[ "$c" != hubfs ] || DIR[$c]=$m/videos
	case $c in
	hubfs)
		"$HUBFS" -f -o "state_dir=$W/hub-state,backend=s3,s3_bucket=$BUCKET,s3_endpoint=$S3_ENDPOINT,s3_region=$S3_REGION,s3_prefix=hub,max_upload_mb=4096" \
			"$m" >>"$log" 2>&1 &
		;;
	s3fs)
		s3fs "$BUCKET:/s3fs" "$m" -f -o "url=$S3_ENDPOINT,use_path_request_style,passwd_file=$W/s3fs.passwd,endpoint=$S3_REGION,sigv4" \
			>>"$log" 2>&1 &
		;;
	rclone)
		rclone mount "bench:$BUCKET/rclone" "$m" --vfs-cache-mode writes \
			--cache-dir "$W/rclone-cache" >>"$log" 2>&1 &
		;;
	esac
	PID[$c]=$!
	for _ in $(seq 200); do
		mountpoint -q "$m" && return 0
		kill -0 "${PID[$c]}" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	die "$c did not mount"
}
umount_client() {
	local c=$1
	fusermount3 -u "${MNT[$c]}" 2>/dev/null || umount -l "${MNT[$c]}"
	for _ in $(seq 200); do kill -0 "${PID[$c]}" 2>/dev/null || break; sleep 0.05; done
	kill -9 "${PID[$c]}" 2>/dev/null || true
	wait "${PID[$c]}" 2>/dev/null || true
	unset "PID[$c]"
}
prefix_of() { case $1 in hubfs) echo hub ;; s3fs) echo s3fs ;; rclone) echo rclone ;; esac; }
visible() { "$PROBE" "$S3_ENDPOINT" "$BUCKET" head "$1" >/dev/null 2>&1; }
vmhwm() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "-"; }
faults() { curl -s -XPOST "$S3_ENDPOINT/__faults" -d "$1" >/dev/null; }

say "generating a ${MIB} MiB video and 500 small ones"
FRAME=$((1920 * 1080 * 3 / 2))
secs=$(awk -v m="$MIB" -v f="$FRAME" 'BEGIN { printf "%.3f", m * 1048576 / f / 30 }')
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -t "$secs" -c:v rawvideo \
	-pix_fmt yuv420p "$W/big.mkv"
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=10 -t 1 -c:v libx264 \
	-preset ultrafast -pix_fmt yuv420p -movflags +faststart "$W/small.mp4"
for c in hubfs s3fs rclone; do
	p=$(prefix_of "$c")
	"$PROBE" "$S3_ENDPOINT" "$BUCKET" put "$p/.keep" /dev/null >/dev/null
done

CLIENTS=(hubfs s3fs rclone)
for rep in $(seq "$REPS"); do
	say "repetition $rep/$REPS"
	for c in "${CLIENTS[@]}"; do
		p=$(prefix_of "$c")
		# 1. cp in, until durable in the bucket
		mount_client "$c"
		"$PROBE" "$S3_ENDPOINT" "$BUCKET" delete "$p/big$rep.mkv" >/dev/null 2>&1 || true
		sync
		t0=$(now)
		cp "$W/big.mkv" "${DIR[$c]}/big$rep.mkv"
		t1=$(now)
		while ! visible "$p/big$rep.mkv"; do sleep 0.02; done
		t2=$(now)
		add "cp.$c" "$(calc "$t2 - $t0")"
		add "cpret.$c" "$(calc "$t1 - $t0")"
		sleep 1 # rclone: let its upload settle before unmounting
		umount_client "$c"
		# 2. cat out, fresh mount; 3. random reads, fresh mount
		mount_client "$c"
		for _ in $(seq 100); do [ -e "${DIR[$c]}/big$rep.mkv" ] && break; sleep 0.1; done
		t0=$(now)
		cat "${DIR[$c]}/big$rep.mkv" >/dev/null
		t1=$(now)
		add "cat.$c" "$(calc "$t1 - $t0")"
		umount_client "$c"
		mount_client "$c"
		for _ in $(seq 100); do [ -e "${DIR[$c]}/big$rep.mkv" ] && break; sleep 0.1; done
		t0=$(now)
		python3 - "${DIR[$c]}/big$rep.mkv" <<'PY'
import os, random, sys
f = open(sys.argv[1], "rb", buffering=0)
size = os.fstat(f.fileno()).st_size
random.seed(1)
for _ in range(200):
    f.seek(random.randrange(size - 65536)); f.read(65536)
PY
		t1=$(now)
		add "seek.$c" "$(calc "$t1 - $t0")"
		umount_client "$c"
	done
done

say "ls -l of 500 small videos"
for c in "${CLIENTS[@]}"; do
	mount_client "$c"
	mkdir -p "${DIR[$c]}/ls"
	for i in $(seq -w 1 500); do cp "$W/small.mp4" "${DIR[$c]}/ls/clip$i.mp4"; done
	umount_client "$c"
	for rep in $(seq "$REPS"); do
		mount_client "$c"
		for _ in $(seq 300); do
			[ "$(ls "${DIR[$c]}/ls" 2>/dev/null | wc -l)" -ge 500 ] && break
			sleep 0.1
		done
		umount_client "$c"
		mount_client "$c"
		t0=$(now)
		n=$(ls -l "${DIR[$c]}/ls" | wc -l)
		t1=$(now)
		ls -l "${DIR[$c]}/ls" >/dev/null
		t2=$(now)
		[ "$n" -ge 500 ] || say "$c listed $n entries"
		add "ls1.$c" "$(calc "$t1 - $t0")"
		add "ls2.$c" "$(calc "$t2 - $t1")"
		umount_client "$c"
	done
done

say "close() when the store refuses every PUT"
declare -A CLOSE HWM
for c in "${CLIENTS[@]}"; do
	p=$(prefix_of "$c")
	mount_client "$c"
	faults '[{"method": "PUT", "count": 100000, "action": "error", "status": 503}]'
	rc=0
	timeout 120 cp "$W/small.mp4" "${DIR[$c]}/failing.mp4" 2>/dev/null || rc=$?
	sleep 3
	faults '[]'
	sleep 3
	if visible "$p/failing.mp4"; then landed=yes; else landed=no; fi
	CLOSE[$c]="cp exit $rc, object stored: $landed"
	HWM[$c]=$(vmhwm "${PID[$c]}")
	umount_client "$c"
done

echo "----- S3 summary (scripts/bench-s3.sh -n $REPS --mib $MIB) -----"
echo "hubfs $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) CPUs; s3rver behind the verifying proxy; medians of $REPS"
row() {
	printf '%-34s hubfs %s | s3fs %s | rclone %s | hubfs/s3fs %s | hubfs/rclone %s\n' "$1" \
		"$(med "$2.hubfs")" "$(med "$2.s3fs")" "$(med "$2.rclone")" \
		"$(ratio "$(med "$2.hubfs")" "$(med "$2.s3fs")")" "$(ratio "$(med "$2.hubfs")" "$(med "$2.rclone")")"
}
row "cp in ${MIB} MiB until stored (s):" cp
row "  ... cp's own time (s):" cpret
row "cat out ${MIB} MiB, fresh mount (s):" cat
row "200 random 64 KiB reads (s):" seek
row "ls -l 500, first after mount (s):" ls1
row "ls -l 500, again (s):" ls2
for c in "${CLIENTS[@]}"; do
	printf '%-34s %s\n' "store refuses PUTs, $c:" "${CLOSE[$c]}"
done
printf '%-34s hubfs %s MiB | s3fs %s MiB | rclone %s MiB\n' "peak RSS:" "${HWM[hubfs]}" "${HWM[s3fs]}" "${HWM[rclone]}"
echo "-----"
