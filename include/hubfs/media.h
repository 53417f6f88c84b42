/*
 * media.h — validation and metadata of video content with the FFmpeg libraries.
 *
 * Content decides, not the name: a file is a valid video when FFmpeg recognises its
 * container as one of mp4/mov/m4v, avi, mkv/webm, flv, wmv (asf); it has a video stream
 * that is not a still image (attached picture, single-frame png/mjpeg/bmp/...); the
 * duration is positive; the media data the index points at is present (a truncated file
 * whose index survives is refused); and the first video frame decodes.
 *
 * Stateless and thread-safe: each call opens its own FFmpeg contexts. FFmpeg's own log
 * output is routed to hubfs_log at debug level (category media).
 */
#ifndef HUBFS_MEDIA_H
#define HUBFS_MEDIA_H

#include <stddef.h>

#include "hubfs/video.h"

/*
 * Validate the file at @path and fill @info. Returns 0 when valid. Otherwise -EINVAL with
 * a short lower-case reason in @why ("no video stream", "unrecognised container 'mp3'",
 * "empty file", "truncated: media data ends past the end of the file", "first video
 * frame does not decode", "still image, not a video", ...), or -EIO / -ENOMEM for failures
 * that are not the content's fault (with the reason in @why too). A file that cannot be
 * opened gives open(2)'s errno (-ENOENT, -EACCES, ...), a directory -EISDIR. @why may be
 * NULL; the reason is truncated to @whylen. @info is zeroed unless the call succeeds. The
 * file's bytes are untrusted and checked here; @path is the caller's (a staged file).
 */
int hubfs_media_validate(const char *path, struct hubfs_media_info *info, char *why, size_t whylen);

/*
 * Route FFmpeg's log through hubfs_log (call once at startup, after hubfs_log_init(): it
 * reads the media debug category). Without it FFmpeg prints its own errors on stderr.
 */
void hubfs_media_init(void);

#endif
