/*
 * video.h — the metadata that travels with a video.
 *
 * The backend is the truth and the catalog its cache: this record is stored with each video
 * in the backend (a sidecar file beside it on local/NFS, x-amz-meta-* on S3) and in the
 * catalog. Its text form is "key=value" lines, the same keys as the user.hub.* xattrs, so
 * one parser serves sidecars, object metadata and xattrs.
 */
#ifndef HUBFS_VIDEO_H
#define HUBFS_VIDEO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hubfs_media_info {
	double duration;      /* seconds, > 0 for a valid video */
	int width, height;    /* of the first video stream */
	double fps;           /* average frame rate, 0 if unknown */
	char video_codec[32]; /* FFmpeg codec name, e.g. "h264" */
	char audio_codec[32]; /* "" when there is no audio */
	char container[16];   /* mp4 mov m4v avi mkv webm flv wmv: what the content is */
	int64_t bitrate;      /* bits per second, whole file */
};

struct hubfs_video_meta {
	uint64_t size;   /* bytes */
	char sha256[65]; /* lower-case hex of the content */
	struct hubfs_media_info media;
	int64_t uploaded;      /* unix seconds when the video was committed */
	int64_t mtime_ns;      /* user-visible mtime (utimens), ns since the epoch */
	uint32_t mode;         /* permission bits (chmod), e.g. 0644 */
	uint32_t uid, gid;     /* owner (chown) */
	int64_t file_mtime_ns; /* identity of the backend bytes: the stored file's mtime... */
	uint64_t file_size;    /* ...and size when this record was written; 0 if unknown */
	/* The backend's version marker of the stored record itself (the sidecar's mtime on
	 * local/NFS), so another mount notices a chmod/chown that left the bytes alone. Filled
	 * by the backend; not part of the text form. 0 if unknown. */
	int64_t record_mtime_ns;
};

/*
 * Write @m as "key=value\n" lines into @buf: size sha256 duration width height fps
 * video_codec audio_codec container bitrate uploaded (ISO 8601 UTC, "2026-11-27T16:13:08Z")
 * mtime_ns mode (octal) uid gid file_mtime_ns file_size, always all of them. Returns the
 * length written (excluding NUL), -ENOSPC when @len is too small, or -EINVAL when @m holds
 * something hubfs_video_meta_parse() would refuse (so a written record always reads back).
 */
int hubfs_video_meta_format(const struct hubfs_video_meta *m, char *buf, size_t len);

/*
 * Parse "key=value" lines from untrusted bytes into @m (zeroed first). Unknown keys are
 * ignored (newer writers); malformed lines or values, a repeated key, a last line without
 * '\n' or a missing key of the list above give -EINVAL (so a truncated record is refused),
 * and @m is left zeroed. Checks everything itself: @buf need not be NUL-terminated.
 */
int hubfs_video_meta_parse(struct hubfs_video_meta *m, const char *buf, size_t len);

/*
 * The value of xattr @name ("user.hub.duration", ...) for @m, formatted into @buf.
 * Returns the length, -ENODATA for an unknown name (or an empty audio codec), -ERANGE if
 * @len is short.
 */
int hubfs_video_meta_xattr(const struct hubfs_video_meta *m, const char *name, char *buf,
			   size_t len);

/*
 * The NUL-separated list of xattr names a video has (listxattr format; audio_codec only when
 * there is audio); length or -ERANGE. Both xattr functions follow getxattr(2): @len == 0
 * returns the length needed without touching @buf.
 */
int hubfs_video_meta_xattr_list(const struct hubfs_video_meta *m, char *buf, size_t len);

#endif
