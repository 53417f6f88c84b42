#!/usr/bin/env bash
# import-folder.sh SRC_DIR [HUB] — copy every video under SRC_DIR into HUB/videos/.
#
# HUB is a hubfs mountpoint (default /mnt/hub). Subfolders are kept: SRC_DIR/a/b.mp4 becomes
# HUB/videos/a/b.mp4. Each file is copied with plain cp; hubfs validates it when cp closes
# it, and cp fails (EINVAL: "Invalid argument") if the content is not a playable video.
# For each reject the reason is taken from HUB/.hub/events. Files whose names are not video
# names (.mp4 .avi .mov .mkv .webm .flv .wmv .m4v, any case) and hidden files are skipped;
# a file already in the hub with the same content (user.hub.sha256) is left alone.
#
# Exit status: 0 if nothing was rejected or failed, 1 otherwise, 2 on bad usage.
set -uo pipefail

usage()
{
	echo "usage: $0 SRC_DIR [HUB]   (HUB defaults to /mnt/hub)" >&2
	exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
src=${1%/}
[ -n "$src" ] || src=/
hub=${2:-/mnt/hub}
hub=${hub%/}

[ -d "$src" ] || {
	echo "import: $src is not a directory" >&2
	exit 2
}
[ -d "$hub/videos" ] || {
	echo "import: $hub/videos not found: is hubfs mounted at $hub?" >&2
	exit 2
}
events="$hub/.hub/events"

is_video_name()
{
	case "${1,,}" in
	*.mp4 | *.avi | *.mov | *.mkv | *.webm | *.flv | *.wmv | *.m4v) return 0 ;;
	*) return 1 ;;
	esac
}

# The newest event line about videos/$1 that says why it was rejected; empty if none.
reject_reason()
{
	local rel=$1 line

	[ -r "$events" ] || return 0
	line=$(tail -n 2000 "$events" 2>/dev/null | grep -F -- "videos/$rel" | grep -i 'reject' |
		tail -n 1)
	# "... rejected 'videos/a.mp4': no video stream" -> "no video stream"
	case "$line" in
	*"videos/$rel': "*) printf '%s\n' "${line##*"videos/$rel': "}" ;;
	*"videos/$rel: "*) printf '%s\n' "${line##*"videos/$rel: "}" ;;
	*) printf '%s\n' "$line" ;;
	esac
}

imported=0
rejected=0
skipped=0
unchanged=0
skipped_names=()

while IFS= read -r -d '' file; do
	rel=${file#"$src"}
	rel=${rel#/}
	base=${rel##*/}
	if [ "${base#.}" != "$base" ] || ! is_video_name "$base"; then
		skipped=$((skipped + 1))
		skipped_names+=("$rel")
		continue
	fi
	dest="$hub/videos/$rel"
	case "$rel" in
	*/*) mkdir -p -- "${dest%/*}" || {
		echo "FAILED    $rel: cannot create folder ${dest%/*}" >&2
		rejected=$((rejected + 1))
		continue
	} ;;
	esac

	if [ -f "$dest" ]; then
		old=$(getfattr --only-values -n user.hub.sha256 -- "$dest" 2>/dev/null)
		new=$(sha256sum -- "$file" | cut -d' ' -f1)
		if [ -n "$old" ] && [ "$old" = "$new" ]; then
			unchanged=$((unchanged + 1))
			continue
		fi
	fi

	if err=$(cp -- "$file" "$dest" 2>&1); then
		imported=$((imported + 1))
		echo "imported  $rel"
		continue
	fi
	rejected=$((rejected + 1))
	case "$err" in
	*"Invalid argument"*)
		why=$(reject_reason "$rel")
		echo "REJECTED  $rel: ${why:-not a valid video (no reason in $events)}" >&2
		;;
	*)
		# Not a content reject: too large (EFBIG), no space, hub unreachable, ...
		echo "FAILED    $rel: ${err##*: }" >&2
		;;
	esac
done < <(find -H "$src" -type f -print0 | sort -z)

echo
echo "imported $imported, rejected $rejected, skipped $skipped (hidden or not video names)," \
	"unchanged $unchanged (already in the hub)"
if [ "$skipped" -gt 0 ]; then
	echo "skipped:"
	printf '  %s\n' "${skipped_names[@]:0:20}"
	[ "$skipped" -le 20 ] || echo "  ... and $((skipped - 20)) more"
fi
[ "$rejected" -eq 0 ]
