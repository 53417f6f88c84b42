#!/usr/bin/env bash
# run.sh [MOUNTPOINT] — build hubfs and mount the hub at MOUNTPOINT (default /mnt/hub).
#
# Installs missing Debian packages (scripts/deps.sh), builds a release build in build/,
# unmounts a stale hubfs mount at MOUNTPOINT (only if it is a fuse.hubfs mount), mounts the
# local backend in the background (daemon mode; it logs to syslog) and checks that the
# mount answers. State goes to /var/lib/hubfs as root, ~/.local/state/hubfs otherwise.
#
# Environment: HUBFS_OPTS adds -o options (e.g. HUBFS_OPTS=data_dir=/srv/nfs/videos,allow_other).
# Works from any directory.
set -euo pipefail

die()
{
	echo "run.sh: $*" >&2
	exit 1
}

[ $# -le 1 ] || die "usage: scripts/run.sh [MOUNTPOINT]"
mnt=${1:-/mnt/hub}
# Absolute before the cd below, without touching the path (a dead mount answers stat with
# ENOTCONN).
case "$mnt" in
/*) ;;
*) mnt=$PWD/$mnt ;;
esac
while [ "${#mnt}" -gt 1 ] && [ "${mnt%/}" != "$mnt" ]; do
	mnt=${mnt%/}
done

repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$repo"

# shellcheck source=scripts/deps.sh source-path=SCRIPTDIR/..
. scripts/deps.sh
hubfs_deps_install build run || die "missing packages (see above)"

echo "run.sh: building (build/, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake configure failed"
cmake --build build --target hubfs -j2 || die "build failed"
[ -x build/hubfs ] || die "build/hubfs was not built"

# A stale mount (a previous run, or a daemon that died: "Transport endpoint is not
# connected") is unmounted, but only if it is ours.
fstype=$(findmnt -n -o FSTYPE --mountpoint "$mnt" 2>/dev/null | tail -n 1 || true)
if [ -n "$fstype" ]; then
	[ "$fstype" = "fuse.hubfs" ] || die "$mnt already has a $fstype mount: not touching it"
	echo "run.sh: unmounting the old hubfs mount at $mnt"
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null ||
		umount -l "$mnt" || die "cannot unmount the old hubfs mount at $mnt"
fi
mkdir -p "$mnt" || die "cannot create mountpoint $mnt"

if [ "$(id -u)" -eq 0 ]; then
	state_dir=/var/lib/hubfs
else
	state_dir=${XDG_STATE_HOME:-$HOME/.local/state}/hubfs
fi
mkdir -p "$state_dir" || die "cannot create state_dir $state_dir"

opts="backend=local,state_dir=$state_dir"
[ -z "${HUBFS_OPTS:-}" ] || opts="$opts,$HUBFS_OPTS"

echo "run.sh: mounting: build/hubfs -o $opts $mnt"
if ! build/hubfs -o "$opts" "$mnt"; then
	die "hubfs failed to mount $mnt (its error is above)"
fi

# The daemon returns once the mount exists; give a slow start a few seconds all the same.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	mountpoint -q "$mnt" && break
	sleep 0.5
done
mountpoint -q "$mnt" || die "$mnt is not a mountpoint after starting hubfs (see: journalctl -t hubfs)"
if ! timeout 10 ls "$mnt/.hub/status" >/dev/null; then
	fusermount3 -u "$mnt" 2>/dev/null || true
	die "the mount at $mnt does not answer (.hub/status unreadable; see: journalctl -t hubfs)"
fi

tips=(
	"cp movie.mp4 $mnt/videos/" "validated on close: cp fails (EINVAL) if it is not a video"
	"ls -l $mnt/videos/" ""
	"getfattr -d $mnt/videos/movie.mp4" "duration, resolution, codecs, sha256, ..."
	"cat $mnt/.hub/status" "key=value: version, backend, videos, bytes, ..."
	"tail -f $mnt/.hub/events" "uploads, rejects (with the reason), deletes"
	"$repo/examples/library-list.sh $mnt" "the library as a table"
	"mkdir $mnt/streams/demo" "a live stream (testsrc, HLS by default)"
	"echo resolution=720p > $mnt/streams/demo/config" "every key: cat $mnt/streams/demo/config"
	"echo start > $mnt/streams/demo/control" "then: ffplay $mnt/streams/demo/hls/index.m3u8"
	"cat $mnt/streams/demo/status" "state, frames, fps, speed, last_error"
	"echo stop > $mnt/streams/demo/control" ""
)
width=0
for ((i = 0; i < ${#tips[@]}; i += 2)); do
	[ "${#tips[i]}" -le "$width" ] || width=${#tips[i]}
done

echo
echo "hubfs is mounted at $mnt (local backend, state in $state_dir). Try:"
echo
for ((i = 0; i < ${#tips[@]}; i += 2)); do
	if [ -n "${tips[i + 1]}" ]; then
		printf '  %-*s  # %s\n' "$width" "${tips[i]}" "${tips[i + 1]}"
	else
		printf '  %s\n' "${tips[i]}"
	fi
done
cat <<EOF

Logs go to syslog (journalctl -t hubfs). A foreground run with debug output instead:
  fusermount3 -u $mnt && $repo/build/hubfs -f -d -o $opts $mnt

Unmount:
  fusermount3 -u $mnt
EOF
