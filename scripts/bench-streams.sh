#!/usr/bin/env bash
# bench-streams.sh [-n N] [--keep] — streams/ against ffmpeg and nginx-rtmp, in one run.
# Called by scripts/bench.sh (its streams part); runs alone too. Needs root (FUSE).
#
# Builds the release build (build-bench/: hubfs + hubfs-stream), starts an nginx-rtmp
# ingest on loopback (scripts/rtmp-test-server.sh), mounts hubfs in the background, and
# measures, each N times (default 5) with the median (p50) reported:
#
#   1. first HLS segment: from the moment `echo start > streams/NAME/control` returns to
#      the first segment listed in NAME/hls/index.m3u8 (720p30, 3000k; also from before the
#      write, spawn included); baseline in the same run: `ffmpeg -re` from testsrc2 to HLS
#      with 2 s segments (from its launch), and nginx-rtmp's HLS fed by `ffmpeg -re` over
#      RTMP (from the push's launch to the first fragment in nginx's playlist);
#   2. first RTMP packet at the ingest: from the control write's return to nginx-rtmp's
#      /stat showing bytes in for the stream; baseline: `ffmpeg -re` pushing the same;
#   3. stop -> ENDLIST: how long `echo stop > control` takes (the playlist is checked for
#      #EXT-X-ENDLIST right after it returns); ffmpeg: SIGINT to ENDLIST;
#   4. SIGKILL of the worker -> ENDLIST written by the supervisor; ffmpeg killed the same
#      way never ends its playlist (checked for 5 s);
#   5. encoder speed at 480p, 720p and 1080p: the worker driven directly (realtime=no) for
#      8 s against ffmpeg's CLI with the same settings (testsrc2 + sine, libx264 veryfast
#      zerolatency, AAC, HLS), speed = media seconds per wall second;
#   6. three 720p streams at once through the mount for 15 s: each one's speed and dropped
#      frames, against three `ffmpeg -re` encodes run the same way; and the CPU of the
#      hubfs daemon itself meanwhile (it only supervises: it must stay near zero), with the
#      workers' CPU for scale.
#
# The machine is shared and noisy: read ratios, not absolute numbers. Everything started
# here (daemon, nginx, ffmpeg, workers) is stopped by PID in an EXIT trap.
set -euo pipefail
export LC_ALL=C

REPS=5
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n)
		REPS=$2
		shift
		;;
	-n*) REPS=${1#-n} ;;
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-streams.sh: unknown argument '$1'" >&2
		exit 1
		;;
	esac
	shift
done
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/bench-lib.sh"
bench_setup bench-streams
HUBFS=$repo/build-bench/hubfs
WORKER=$repo/build-bench/hubfs-stream

W=$(mktemp -d /var/tmp/hubfs-bench-streams.XXXXXX)
MNT=$W/mnt
HUB_PID=
PIDS=()
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	if [ -n "$HUB_PID" ]; then
		for _ in $(seq 100); do kill -0 "$HUB_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$HUB_PID" 2>/dev/null
	fi
	"$repo/scripts/rtmp-test-server.sh" stop "$W/rtmp"
	wait 2>/dev/null
	[ "$KEEP" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

"$repo/scripts/rtmp-test-server.sh" start "$W/rtmp" >/dev/null
# shellcheck source=/dev/null
. "$W/rtmp/env"
mkdir -p "$MNT"
"$HUBFS" -f -o "state_dir=$W/state,data_dir=$W/data,max_streams=4" "$MNT" >"$W/hubfs.log" 2>&1 &
HUB_PID=$!
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT" || die "hubfs did not mount: $(cat "$W/hubfs.log")"
S=$MNT/streams

# wait_until TIMEOUT CMD...: poll every 10 ms; prints the time it first held, or fails.
wait_until() {
	local end
	end=$(calc "$(now) + $1")
	shift
	while :; do
		if "$@" >/dev/null 2>&1; then
			now
			return 0
		fi
		awk -v n="$(now)" -v e="$end" 'BEGIN { exit !(n > e) }' && return 1
		sleep 0.01
	done
}
has_segment() { grep -q '\.ts$' "$1" 2>/dev/null; }
has_endlist() { grep -qx '#EXT-X-ENDLIST' "$1" 2>/dev/null; }
stat_bytes_in() {
	curl -s "http://127.0.0.1:$RTMP_HTTP_PORT/stat" |
		awk -v k="<name>$1</name>" 'index($0, k) { f = 1 } f && /<bytes_in>/ { gsub(/[^0-9]/, ""); print; exit }'
}
rtmp_flowing() { [ "$(stat_bytes_in "$1")" -gt 0 ] 2>/dev/null; }
ff_src=(-f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=1000)
ff_enc=(-c:v libx264 -preset veryfast -tune zerolatency -b:v 3000k -maxrate 3000k -bufsize 6000k
	-g 60 -pix_fmt yuv420p -c:a aac -b:a 128k)

mkdir "$S/b1"
printf 'resolution=720p\nbitrate=3000k\nfps=30\n' >"$S/b1/config"
PL=$S/b1/hls/index.m3u8

for rep in $(seq "$REPS"); do
	say "repetition $rep/$REPS"
	# 1. first segment, ours
	t0=$(now)
	echo start >"$S/b1/control"
	t1=$(now)
	t2=$(wait_until 10 has_segment "$PL") || die "no first segment: $(cat "$S/b1/log")"
	add seg.hub "$(calc "$t2 - $t1")"
	add seg.hub.spawn "$(calc "$t2 - $t0")"
	sleep 1
	# 3. stop -> ENDLIST
	t0=$(now)
	echo stop >"$S/b1/control"
	t1=$(now)
	has_endlist "$PL" || die "no ENDLIST when stop returned"
	add stop.hub "$(calc "$t1 - $t0")"
	# 4. SIGKILL -> ENDLIST by the supervisor
	echo start >"$S/b1/control"
	wait_until 10 has_segment "$PL" >/dev/null || die "no segment before kill"
	pid=$(sed -n 's/^pid=//p' "$S/b1/status")
	t0=$(now)
	kill -9 "$pid"
	t1=$(wait_until 5 has_endlist "$PL") || die "the supervisor did not end the playlist"
	add kill.hub "$(calc "$t1 - $t0")"

	# 1. baselines: ffmpeg -re to HLS, nginx-rtmp's HLS
	d=$W/ff$rep
	mkdir -p "$d"
	t0=$(now)
	ffmpeg -hide_banner -nostdin -loglevel error -re "${ff_src[@]}" "${ff_enc[@]}" \
		-f hls -hls_time 2 -hls_list_size 6 "$d/index.m3u8" &
	ff=$!
	PIDS+=("$ff")
	t1=$(wait_until 15 has_segment "$d/index.m3u8") || die "ffmpeg made no segment"
	add seg.ff "$(calc "$t1 - $t0")"
	sleep 0.5
	t0=$(now)
	kill -INT "$ff"
	t1=$(wait_until 5 has_endlist "$d/index.m3u8") && add stop.ff "$(calc "$t1 - $t0")"
	wait "$ff" 2>/dev/null || true
	# ffmpeg killed: its playlist stays open
	ffmpeg -hide_banner -nostdin -loglevel error -re "${ff_src[@]}" "${ff_enc[@]}" \
		-f hls -hls_time 2 -hls_list_size 6 "$d/k.m3u8" &
	ff=$!
	PIDS+=("$ff")
	wait_until 15 has_segment "$d/k.m3u8" >/dev/null || die "ffmpeg made no segment"
	kill -9 "$ff"
	wait "$ff" 2>/dev/null || true
	if wait_until 5 has_endlist "$d/k.m3u8" >/dev/null; then KILL_FF=ended; else KILL_FF="never (5 s)"; fi

	key=ng$rep
	t0=$(now)
	ffmpeg -hide_banner -nostdin -loglevel error -re "${ff_src[@]}" "${ff_enc[@]}" \
		-f flv "$RTMP_URL/$key" &
	ff=$!
	PIDS+=("$ff")
	t1=$(wait_until 10 rtmp_flowing "$key") || die "ffmpeg's push never reached nginx"
	add rtmp.ff "$(calc "$t1 - $t0")"
	t2=$(wait_until 20 has_segment "$W/rtmp/hls/$key.m3u8") || die "nginx made no HLS fragment"
	add seg.nginx "$(calc "$t2 - $t0")"
	kill -INT "$ff"
	wait "$ff" 2>/dev/null || true

	# 2. first RTMP packet, ours
	key=hub$rep
	printf 'output=%s/%s\n' "$RTMP_URL" "$key" >"$S/b1/config"
	echo start >"$S/b1/control"
	t1=$(now)
	t2=$(wait_until 10 rtmp_flowing "$key") || die "our push never reached nginx: $(cat "$S/b1/log")"
	add rtmp.hub "$(calc "$t2 - $t1")"
	echo stop >"$S/b1/control"
	echo output=hls >"$S/b1/config"
done

# 5. encoder speed: the worker with realtime=no vs ffmpeg's CLI
speed_worker() { # W H KBPS -> speed after 8 s
	local out=$W/enc-$1 line
	mkdir -p "$out"
	line=$({
		printf 'name=bench\nsource=testsrc\ninput=\nloop=no\nrealtime=no\nwidth=%s\nheight=%s\nfps=30\nbitrate_kbps=%s\nhls_dir=%s\n\n' \
			"$1" "$2" "$3" "$out"
		sleep 8
		echo stop
	} | "$WORKER" bench 2>/dev/null | grep '^progress' | tail -1)
	sed -n 's/.*speed=\([0-9.]*\).*/\1/p' <<<"$line"
}
speed_ffmpeg() { # W H KBPS -> speed after 8 s
	local out=$W/ffenc-$1 sp
	mkdir -p "$out"
	timeout -s INT 8 ffmpeg -hide_banner -nostdin -loglevel error -progress pipe:1 \
		-f lavfi -i "testsrc2=size=$1x$2:rate=30" -f lavfi -i sine=frequency=1000 \
		-c:v libx264 -preset veryfast -tune zerolatency -b:v "$3k" -maxrate "$3k" \
		-bufsize "$(($3 * 2))k" -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k \
		-f hls -hls_time 2 "$out/index.m3u8" >"$W/ffprog" 2>/dev/null || true
	sp=$(sed -n 's/^speed= *\([0-9.]*\)x/\1/p' "$W/ffprog" | tail -1)
	echo "${sp:--}"
}
for r in "854 480 1500 480p" "1280 720 3000 720p" "1920 1080 5000 1080p"; do
	set -- $r
	say "encoder speed $4"
	add "enc.$4.hub" "$(speed_worker "$1" "$2" "$3")"
	add "enc.$4.ff" "$(speed_ffmpeg "$1" "$2" "$3")"
done

# 6. three 720p streams at once, and the daemon's CPU meanwhile
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
say "three 720p streams through the mount"
for n in c1 c2 c3; do
	mkdir "$S/$n"
	printf 'resolution=720p\nbitrate=3000k\nfps=30\n' >"$S/$n/config"
	echo start >"$S/$n/control"
done
sleep 3
hz=$(getconf CLK_TCK)
d0=$(ticks "$HUB_PID")
w0=0
for n in c1 c2 c3; do w0=$((w0 + $(ticks "$(sed -n 's/^pid=//p' "$S/$n/status")"))); done
t0=$(now)
sleep 12
d1=$(ticks "$HUB_PID")
w1=0
for n in c1 c2 c3; do w1=$((w1 + $(ticks "$(sed -n 's/^pid=//p' "$S/$n/status")"))); done
t1=$(now)
DAEMON_CPU=$(calc "100 * ($d1 - $d0) / $hz / ($t1 - $t0)")
WORKERS_CPU=$(calc "100 * ($w1 - $w0) / $hz / ($t1 - $t0)")
CONC=""
for n in c1 c2 c3; do
	CONC="$CONC $n speed $(sed -n 's/^speed=//p' "$S/$n/status") dropped $(sed -n 's/^dropped=//p' "$S/$n/status");"
	echo stop >"$S/$n/control"
done
say "three ffmpeg -re 720p encodes"
FFC=""
for i in 1 2 3; do
	timeout -s INT 15 ffmpeg -hide_banner -nostdin -loglevel error -progress "$W/ffc$i" -re \
		"${ff_src[@]}" "${ff_enc[@]}" -f hls -hls_time 2 "$W/ffc$i.m3u8" >/dev/null 2>&1 &
	PIDS+=("$!")
done
wait "${PIDS[@]}" 2>/dev/null || true
for i in 1 2 3; do FFC="$FFC $(sed -n 's/^speed= *\([0-9.]*\)x/\1/p' "$W/ffc$i" | tail -1)"; done

echo "----- streams summary (scripts/bench-streams.sh -n $REPS) -----"
echo "hubfs $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) CPUs; medians of $REPS"
printf '%-34s hubfs %s s (%s s with the spawn) | ffmpeg -re %s s | nginx-rtmp %s s | hubfs/ffmpeg %s\n' \
	"first segment listed (720p):" "$(med seg.hub)" "$(med seg.hub.spawn)" "$(med seg.ff)" \
	"$(med seg.nginx)" "$(ratio "$(med seg.hub)" "$(med seg.ff)")"
printf '%-34s hubfs %s s | ffmpeg -re %s s | hubfs/ffmpeg %s\n' "first RTMP bytes at the ingest:" \
	"$(med rtmp.hub)" "$(med rtmp.ff)" "$(ratio "$(med rtmp.hub)" "$(med rtmp.ff)")"
printf '%-34s hubfs %s s (ENDLIST there when stop returns) | ffmpeg SIGINT %s s\n' \
	"stop -> ENDLIST:" "$(med stop.hub)" "$(med stop.ff)"
printf '%-34s hubfs %s s (supervisor) | ffmpeg: %s\n' "SIGKILL -> ENDLIST:" "$(med kill.hub)" "$KILL_FF"
for q in 480p 720p 1080p; do
	printf '%-34s hubfs %sx | ffmpeg %sx | hubfs/ffmpeg %s\n' "encoder speed $q (veryfast):" \
		"$(med "enc.$q.hub")" "$(med "enc.$q.ff")" "$(ratio "$(med "enc.$q.hub")" "$(med "enc.$q.ff")")"
done
printf '%-34s%s\n' "3 x 720p through hubfs:" "$CONC"
printf '%-34s %s\n' "3 x 720p ffmpeg -re speeds:" "$FFC"
printf '%-34s daemon %s%% of a core | workers %s%%\n' "CPU while 3 streams run:" "$DAEMON_CPU" "$WORKERS_CPU"
printf '%-34s first segment <= 1.2 s: %s | stop -> ENDLIST <= 0.1 s: %s | ENDLIST after SIGKILL: %s\n' \
	"targets:" "$(awk -v v="$(med seg.hub)" 'BEGIN { print (v <= 1.2 ? "met" : "missed") }')" \
	"$(awk -v v="$(med stop.hub)" 'BEGIN { print (v <= 0.1 ? "met" : "missed") }')" \
	"$( [ "$(med kill.hub)" != "-" ] && echo met || echo missed)"
echo "-----"
