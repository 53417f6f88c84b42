#!/bin/bash
# make-media.sh DIR — generate the small test media that unit and integration tests use.
#
# Run by ctest as the fixture setup/media (DIR = ${build}/test-media, exported to tests as
# HUBFS_TEST_MEDIA). Idempotent: DIR/.done holds this script's checksum, and a DIR made by
# the same script is left alone. Everything is tiny (160x120 or 320x240, 1-2 s) so the
# whole set takes a few seconds on two cores. Needs the ffmpeg CLI (libx264, libvpx, libopus)
# and openssl (deterministic "random" bytes).
#
# Valid videos (hubfs_media_validate accepts them; the container it reports in brackets):
#   faststart.mp4        h264 320x240 25 fps 2 s + aac, moov first            [mp4]
#   moov_end.mp4         the same streams, moov atom at the end               [mp4]
#   video.mov            h264 + aac, QuickTime brand 'qt  '                   [mov]
#   video.m4v            h264 + aac, brand 'M4V ' (ipod muxer)                [m4v]
#   mjpeg.avi            mjpeg 160x120 2 s: many jpeg frames are a video      [avi]
#   video.mkv            h264 + aac                                           [mkv]
#   video.webm           vp8 160x120 1 s + opus                               [webm]
#   video.flv            h264 + aac                                           [flv]
#   video.wmv            wmv2 160x120 1 s + wmav2 in asf                      [wmv]
#   mkv_named.mp4        Matroska content named .mp4: content decides         [mkv]
#   piped.webm           webm written to a pipe: no duration in its header
#                        (as a browser's MediaRecorder makes)                 [webm]
# Invalid (-EINVAL; the reason says, in brackets):
#   text.mp4             a line of text                    [unrecognised content]
#   empty.mkv            zero bytes                        [empty file]
#   random.webm          64 KiB of pseudo-random bytes     [unrecognised content]
#   truncated_no_moov.mp4    moov_end.mp4 cut in half      [moov atom not found]
#   truncated_with_moov.mp4  faststart.mp4 cut in half: the index survives, the data
#                            does not                      [truncated: media data ends ...]
#   truncated.mkv .avi .wmv .flv   valid samples cut in half: the container's recorded size
#                            (Segment, RIFF, ASF file properties, onMetaData filesize) says so
#                                                          [truncated: the file is shorter ...]
#   audio_only.mp4       aac only                          [no video stream]
#   cover_art.mp4        aac + a png cover (attached pic)  [no video stream]
#   png_named.mp4        a PNG image                       [unrecognised container 'png_pipe']
#   still_png.mkv        one png frame in Matroska         [still image, not a video]
#   still_mjpeg.avi      one jpeg frame in AVI             [still image, not a video]
#   mpegts_named.mp4     MPEG-TS content                   [unrecognised container 'mpegts']
#   corrupt_frames.mp4   faststart video, mdat payload zeroed: the index is intact, every
#                        frame garbage                     [first video frame does not decode]
set -euo pipefail

d=${1:?usage: make-media.sh DIR}
sum=$(sha256sum "$0" | cut -d' ' -f1)
if [[ -f $d/.done && $(cat "$d/.done") == "$sum" ]]; then
	exit 0
fi
mkdir -p "$d"
rm -f "$d/.done"
cd "$d"

ff() { ffmpeg -hide_banner -nostdin -loglevel error -y -threads 1 "$@"; }
vsrc() { echo "testsrc2=size=$1:rate=25:duration=$2"; }
asrc() { echo "sine=frequency=440:sample_rate=48000:duration=$1"; }
x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25)

# --- valid ---------------------------------------------------------------------------------
# The four encodes run in parallel; `wait PID` so that a failed one fails the script.
pids=()
ff -f lavfi -i "$(vsrc 320x240 2)" -f lavfi -i "$(asrc 2)" "${x264[@]}" \
	-c:a aac -b:a 64k -shortest -movflags +faststart faststart.mp4 &
pids+=($!)
ff -f lavfi -i "$(vsrc 160x120 2)" -c:v mjpeg -q:v 8 -pix_fmt yuvj420p mjpeg.avi &
pids+=($!)
ff -f lavfi -i "$(vsrc 160x120 1)" -f lavfi -i "$(asrc 1)" -c:v libvpx -deadline realtime \
	-cpu-used 8 -b:v 200k -c:a libopus -b:a 32k -shortest video.webm &
pids+=($!)
ff -f lavfi -i "$(vsrc 160x120 1)" -f lavfi -i "$(asrc 1)" -c:v wmv2 -b:v 300k \
	-c:a wmav2 -b:a 64k -shortest -f asf video.wmv &
pids+=($!)
for pid in "${pids[@]}"; do
	wait "$pid"
done
ff -i faststart.mp4 -c copy moov_end.mp4
ff -i faststart.mp4 -c copy -f mov video.mov
ff -i faststart.mp4 -c copy -f ipod video.m4v
ff -i faststart.mp4 -c copy video.mkv
ff -i faststart.mp4 -c copy video.flv
cp video.mkv mkv_named.mp4
ff -f lavfi -i "$(vsrc 160x120 1)" -c:v libvpx -deadline realtime -cpu-used 8 -b:v 200k -f webm - >piped.webm

# --- invalid -------------------------------------------------------------------------------
printf 'this is not a video\n' >text.mp4
: >empty.mkv
# AES-CTR of zeros: random-looking, yet the same bytes every run (no flaky probe results).
openssl enc -aes-128-ctr -nosalt -pass pass:hubfs -pbkdf2 </dev/zero 2>/dev/null |
	head -c 65536 >random.webm || true
[[ $(stat -c %s random.webm) -eq 65536 ]]
half() {
	local size
	size=$(stat -c %s "$1")
	head -c $((size / 2)) "$1" >"$2"
}
half moov_end.mp4 truncated_no_moov.mp4
half faststart.mp4 truncated_with_moov.mp4
half video.mkv truncated.mkv
half mjpeg.avi truncated.avi
half video.wmv truncated.wmv
half video.flv truncated.flv
ff -f lavfi -i "$(asrc 2)" -c:a aac -b:a 64k audio_only.mp4
ff -f lavfi -i "$(vsrc 160x120 1)" -frames:v 1 -f image2 -c:v png png_named.mp4
ff -i audio_only.mp4 -i png_named.mp4 -map 0 -map 1 -c copy -disposition:v:0 attached_pic \
	cover_art.mp4
ff -i png_named.mp4 -frames:v 1 -c:v png still_png.mkv
ff -i png_named.mp4 -frames:v 1 -c:v mjpeg -pix_fmt yuvj420p still_mjpeg.avi
ff -i faststart.mp4 -c copy -f mpegts mpegts_named.mp4
# Video only, then zero everything after the mdat header: the index is intact, every frame
# is garbage.
ff -i faststart.mp4 -an -c copy -movflags +faststart corrupt_frames.mp4
size=$(stat -c %s corrupt_frames.mp4)
mdat=$(grep -obUaF mdat corrupt_frames.mp4 | head -n1 | cut -d: -f1)
dd if=/dev/zero of=corrupt_frames.mp4 bs=1 seek=$((mdat + 4)) count=$((size - mdat - 4)) \
	conv=notrunc status=none

echo "$sum" >.done
