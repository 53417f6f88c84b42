#!/bin/bash
# Mounting: -o > environment > INI > defaults; every bad option or value is one clear line
# on stderr and exit status 1 with nothing mounted; --help, --version; mount -t fuse.hubfs.
. "$(dirname "$0")/lib.sh"

# one line on stderr, exit 1, nothing mounted
bad_mount() {
	local want=$1 rc=0 out
	shift
	out=$("$HUBFS_BIN" -f "$@" "$MNT" 2>&1 >/dev/null) || rc=$?
	assert_eq "$rc" 1 "exit status for: $*"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "expected one line for '$*', got: $out"
	case "$out" in *"$want"*) ;; *) fail "expected '$want' for '$*', got: $out" ;; esac
	mountpoint -q "$MNT" && fail "something got mounted for '$*'"
	return 0
}
base="state_dir=$STATE,data_dir=$DATA"
bad_mount "max_upload_mb" -o "$base,max_upload_mb=lots"
bad_mount "bogus_option" -o "$base,bogus_option=1"
bad_mount "backend" -o "$base,backend=ftp"
bad_mount "p2p" -o "$base,p2p=maybe"
bad_mount "default_bitrate" -o "$base,default_bitrate=50M"
bad_mount "s3_bucket" -o "$base,backend=s3"
bad_mount "credentials" -o "$base,aws_secret_access_key=hunter2"
MAX_UPLOAD_SIZE_MB=-3 bad_mount "MAX_UPLOAD_SIZE_MB" -o "$base"
touch "$T/notadir"
bad_mount "not a directory" -o "state_dir=$STATE,data_dir=$T/notadir"
# an unwritable state_dir (a read-only filesystem: even root cannot write there)
mkdir -p "$T/ro/state"
mount -t tmpfs -o ro,size=1m tmpfs "$T/ro"
HUB_UNDO+=("umount '$T/ro'")
bad_mount "state_dir '$T/ro/state' is not writable" -o "state_dir=$T/ro/state,data_dir=$DATA"
bad_mount "state_dir '$T/ro' is not writable" -o "state_dir=$T/ro,data_dir=$DATA"
bad_mount "data_dir '$T/ro' is not writable" -o "state_dir=$STATE,data_dir=$T/ro"
bad_mount "state_dir" -o "state_dir=$T/notadir/state,data_dir=$DATA"
printf '[hubfs]\nmax_upload_mb = nope\n' >"$T/bad.conf"
bad_mount "bad.conf:2" --config "$T/bad.conf" -o "$base"
bad_mount "does not exist" --config "$T/missing.conf" -o "$base"
out=$("$HUBFS_BIN" 2>&1) && fail "no mountpoint accepted"
echo "$out" | grep -q "mountpoint" || fail "no-mountpoint message: $out"

"$HUBFS_BIN" --help | grep -q "max_upload_mb" || fail "--help"
"$HUBFS_BIN" --version | grep -qE '^hubfs [0-9]+\.[0-9]+' || fail "--version"

# precedence: -o > env > INI > default
printf '[hubfs]\nmax_upload_mb = 111\nnode_name = from-ini\ncache_mb = 7\n' >"$T/hub.conf"
MAX_UPLOAD_SIZE_MB=222 HUBFS_NODE_NAME=from-env AWS_SECRET_ACCESS_KEY=s3cr3t-value \
	AWS_ACCESS_KEY_ID=AKIDEXAMPLE P2P_ENABLED=true \
	hub_mount --config "$T/hub.conf" -o max_upload_mb=333
cfg=$(cat "$MNT/.hub/config")
echo "$cfg" | grep -qx 'max_upload_mb=333' || fail "-o did not win: $cfg"
echo "$cfg" | grep -qx 'node_name=from-env' || fail "env did not beat INI: $cfg"
echo "$cfg" | grep -qx 'cache_mb=7' || fail "INI did not beat the default: $cfg"
echo "$cfg" | grep -qx 'p2p=on' || fail "P2P_ENABLED=true: $cfg"
echo "$cfg" | grep -qx 'max_streams=4' || fail "default: $cfg"
grep -rq 's3cr3t-value' "$MNT/.hub/" "$LOG" "$STATE" && fail "a secret leaked"
grep -q 'node=from-env' "$MNT/.hub/status" || fail "status node name"
# one mount per state_dir: a second one is refused with the first one's pid
mkdir -p "$T/mnt2"
out=$("$HUBFS_BIN" -f -o "state_dir=$STATE,data_dir=$DATA" "$T/mnt2" 2>&1) && fail "second mount on one state_dir"
echo "$out" | grep -q "state_dir '$STATE' is in use by another hubfs (pid $HUB_PID)" || fail "second mount message: $out"
mountpoint -q "$T/mnt2" && fail "second mount is mounted"
hub_umount

# mount.fuse3 / mount -t fuse.hubfs and an fstab line pass our options through. mount(8)
# runs helpers with its own PATH (/usr/local/sbin first), where `make install` puts hubfs:
# put this build there for the test, and put back whatever was there.
inst=/usr/local/sbin/hubfs
if [ -e "$inst" ] || [ -L "$inst" ]; then
	mv "$inst" "$T/hubfs.saved"
	HUB_UNDO+=("rm -f '$inst'; mv '$T/hubfs.saved' '$inst'")
else
	HUB_UNDO+=("rm -f '$inst'")
fi
mkdir -p /usr/local/sbin
ln -s "$HUBFS_BIN" "$inst"
mount -t fuse.hubfs hubfs "$MNT" \
	-o "state_dir=$STATE,data_dir=$DATA,max_upload_mb=77,_netdev" 2>>"$LOG" ||
	fail "mount -t fuse.hubfs failed"
grep -qx 'max_upload_mb=77' "$MNT/.hub/config" || fail "mount -t: option not applied"
findmnt -n -o FSTYPE "$MNT" | grep -qx 'fuse.hubfs' || fail "fstype is not fuse.hubfs"
pid=$(pgrep -f "hubfs hubfs $MNT" | head -1)
umount "$MNT"
wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "daemon did not exit after umount"
printf 'hubfs %s fuse.hubfs state_dir=%s,data_dir=%s,max_upload_mb=78,_netdev,noauto 0 0\n' \
	"$MNT" "$STATE" "$DATA" >"$T/fstab"
mount -T "$T/fstab" "$MNT" 2>>"$LOG" || fail "fstab mount failed"
grep -qx 'max_upload_mb=78' "$MNT/.hub/config" || fail "fstab: option not applied"
pid=$(pgrep -f "hubfs hubfs $MNT" | head -1)
umount "$MNT"
wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "daemon did not exit after umount"
