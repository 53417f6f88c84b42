#!/usr/bin/env bash
# deps.sh — the Debian 12 packages hubfs needs, in one place.
#
# Sourced by scripts/run.sh and scripts/test.sh, or run directly:
#
#   scripts/deps.sh [GROUP...]              install what is missing (default: all groups)
#   . scripts/deps.sh; hubfs_deps_install build test
#
# Groups:
#   build   compiler, CMake and the -dev packages CMakeLists.txt looks for
#   test    tools the tests drive the mount with (ffmpeg, inotifywait, rsync, getfattr,
#           vim, nano and tmux to drive it, strace to see what an editor did, ...), the
#           format/lint checkers, python3-botocore (the S3 signer's reference), awscli
#           (the S3 client's interop check) and
#           nodejs (then s3rver, the S3 test server, from npm: scripts/s3-test-server.sh;
#           npm is not listed: NodeSource's nodejs bundles it and conflicts with Debian's
#           npm package, which s3-test-server.sh installs only when no npm command exists),
#           nginx with its RTMP module (the RTMP ingest the stream tests push to:
#           scripts/rtmp-test-server.sh)
#   run     what a mounted hubfs needs at run time (fusermount3, getfattr, findmnt)
#   bench   what scripts/bench.sh adds: ffmpeg (test media), strace (close() timings), s3fs
#           and rclone (the S3 peers scripts/bench-s3.sh measures hubfs against)
#
# Only missing packages are installed: one `apt-get update` and one `apt-get install` per
# call, and none at all when everything is present. Installing needs root; without it the
# function names what is missing and fails.
#
# Adding a group (an S3 test server from npm, nginx with the RTMP module, avahi, ...):
# add a case to hubfs_deps_packages() for its Debian packages and, for anything that is
# not a Debian package, a case to hubfs_deps_extra() (called after apt, once per group).

# Print the Debian packages of group $1, one per line. Unknown group: status 1.
hubfs_deps_packages()
{
	case "$1" in
	build)
		printf '%s\n' build-essential cmake pkg-config libfuse3-dev fuse3 libsqlite3-dev \
			libavformat-dev libavcodec-dev libavutil-dev libswscale-dev \
			libavfilter-dev libavdevice-dev libssl-dev libcmocka-dev libcurl4-openssl-dev \
			libxml2-dev
		;;
	test)
		printf '%s\n' ffmpeg inotify-tools rsync attr sqlite3 vim-nox nano psmisc procps \
			util-linux openssl coreutils clang-format shellcheck git tmux strace \
			python3-botocore nodejs nginx libnginx-mod-rtmp awscli
		;;
	run)
		printf '%s\n' fuse3 attr util-linux psmisc procps
		;;
	bench)
		printf '%s\n' ffmpeg strace procps util-linux coreutils s3fs rclone curl
		;;
	*)
		return 1
		;;
	esac
}

# Non-Debian installs of group $1. Runs after the apt step; must be idempotent.
# HUBFS_DEPS_NO_EXTRA=1 skips them (scripts/s3-test-server.sh, which is the extra itself).
hubfs_deps_extra()
{
	[ -z "${HUBFS_DEPS_NO_EXTRA:-}" ] || return 0
	case "$1" in
	test)
		# s3rver (pinned) into .tooling/, ignored by git
		"$(dirname "${BASH_SOURCE[0]}")/s3-test-server.sh" install
		;;
	*)
		return 0
		;;
	esac
}

# True if Debian package $1 is installed.
hubfs_deps_installed()
{
	local status

	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[ "$status" = "install ok installed" ]
}

# Install whatever the given groups (default: all) lack. Returns 0 when everything is there.
hubfs_deps_install()
{
	local groups=("$@") group pkg pkgs missing=()

	[ ${#groups[@]} -gt 0 ] || groups=(build test run bench)
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: dpkg-query not found: hubfs's scripts expect Debian 12" >&2
		return 1
	fi
	for group in "${groups[@]}"; do
		if ! pkgs=$(hubfs_deps_packages "$group"); then
			echo "deps: unknown group '$group' (known: build test run bench)" >&2
			return 1
		fi
		for pkg in $pkgs; do
			hubfs_deps_installed "$pkg" && continue
			case " ${missing[*]} " in
			*" $pkg "*) ;;
			*) missing+=("$pkg") ;;
			esac
		done
	done

	if [ ${#missing[@]} -gt 0 ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "deps: missing packages: ${missing[*]}" >&2
			echo "deps: installing them needs root; run: sudo apt-get install ${missing[*]}" >&2
			return 1
		fi
		echo "deps: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		if ! apt-get -q -o DPkg::Lock::Timeout=300 update >&2; then
			echo "deps: apt-get update failed" >&2
			return 1
		fi
		# Packages with a service (nginx) must not start it: the tests start what they
		# need and stop it by PID. policy-rc.d 101 = "action forbidden" (invoke-rc.d).
		local policy=/usr/sbin/policy-rc.d ours=0 rc=0
		if [ ! -e "$policy" ]; then
			printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=1
		fi
		apt-get -q -y --no-install-recommends -o DPkg::Lock::Timeout=300 \
			install "${missing[@]}" >&2 || rc=$?
		[ "$ours" -eq 0 ] || rm -f "$policy"
		if [ "$rc" -ne 0 ]; then
			echo "deps: apt-get install failed for: ${missing[*]}" >&2
			return 1
		fi
	fi

	for group in "${groups[@]}"; do
		if ! hubfs_deps_extra "$group"; then
			echo "deps: extra setup of group '$group' failed" >&2
			return 1
		fi
	done
	return 0
}

# Run directly (not sourced): install the groups named on the command line.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	hubfs_deps_install "$@"
fi
