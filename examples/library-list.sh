#!/usr/bin/env bash
# library-list.sh [HUB] — the video library of a hubfs mount as a table.
#
# HUB is a hubfs mountpoint (default /mnt/hub). One row per video under HUB/videos/: path,
# duration, resolution, video codec and size, read from the user.hub.* xattrs hubfs keeps
# (the same as `getfattr -d`), then a total line. "-" marks a value the hub does not have.
# Names with spaces or other odd characters are fine.
set -uo pipefail

hub=${1:-/mnt/hub}
hub=${hub%/}
[ $# -le 1 ] || {
	echo "usage: $0 [HUB]   (HUB defaults to /mnt/hub)" >&2
	exit 2
}
[ -d "$hub/videos" ] || {
	echo "library: $hub/videos not found: is hubfs mounted at $hub?" >&2
	exit 2
}

xattr()
{
	getfattr --only-values -n "user.hub.$1" -- "$2" 2>/dev/null
}

# seconds (may be fractional) -> H:MM:SS
hms()
{
	awk -v s="$1" 'BEGIN { s = int(s + 0.5); printf "%d:%02d:%02d\n", s / 3600, (s % 3600) / 60, s % 60 }'
}

human()
{
	if [ "$1" -lt 1024 ]; then
		printf '%sB\n' "$1"
	else
		numfmt --to=iec-i --suffix=B --format='%.1f' "$1" 2>/dev/null || printf '%s\n' "$1"
	fi
}

paths=() durs=() ress=() codecs=() sizes=()
total_s=0
total_bytes=0
count=0

while IFS= read -r -d '' file; do
	rel=${file#"$hub/videos/"}
	d=$(xattr duration "$file")
	w=$(xattr width "$file")
	h=$(xattr height "$file")
	c=$(xattr video_codec "$file")
	b=$(stat -c %s -- "$file" 2>/dev/null) || b=0

	paths+=("$rel")
	if [ -n "$d" ]; then
		durs+=("$(hms "$d")")
		total_s=$(awk -v a="$total_s" -v b="$d" 'BEGIN { printf "%.3f\n", a + b }')
	else
		durs+=("-")
	fi
	if [ -n "$w" ] && [ -n "$h" ]; then
		ress+=("${w}x${h}")
	else
		ress+=("-")
	fi
	codecs+=("${c:--}")
	sizes+=("$(human "$b")")
	total_bytes=$((total_bytes + b))
	count=$((count + 1))
done < <(find "$hub/videos" -type f ! -name '.*' -print0 | sort -z)

videos="videos"
[ "$count" -ne 1 ] || videos="video"
total_label="total: $count $videos"
total_dur=$(hms "$total_s")
total_size=$(human "$total_bytes")

# Column widths: the longest cell of each column, headers and total included. ${#x} counts
# characters, so names in UTF-8 line up; the path column is padded by hand for that reason
# (printf pads by bytes).
wp=${#total_label} wd=${#total_dur} wr=10 wc=5 ws=${#total_size}
[ "$wd" -ge 8 ] || wd=8
[ "$ws" -ge 4 ] || ws=4
for ((i = 0; i < count; i++)); do
	[ "${#paths[i]}" -le "$wp" ] || wp=${#paths[i]}
	[ "${#durs[i]}" -le "$wd" ] || wd=${#durs[i]}
	[ "${#ress[i]}" -le "$wr" ] || wr=${#ress[i]}
	[ "${#codecs[i]}" -le "$wc" ] || wc=${#codecs[i]}
	[ "${#sizes[i]}" -le "$ws" ] || ws=${#sizes[i]}
done

row()
{
	printf '%s%*s  %*s  %-*s  %-*s  %*s\n' "$1" $((wp - ${#1})) '' "$wd" "$2" "$wr" "$3" \
		"$wc" "$4" "$ws" "$5"
}

row PATH DURATION RESOLUTION CODEC SIZE
for ((i = 0; i < count; i++)); do
	row "${paths[i]}" "${durs[i]}" "${ress[i]}" "${codecs[i]}" "${sizes[i]}"
done
row "$total_label" "$total_dur" "" "" "$total_size"
