/*
 * stream.h — one stream's configuration (streams/NAME/config): parsing, validation,
 * formatting. Pure functions, no state, no I/O: the supervisor (streams.h) owns the streams.
 *
 * The config file is "key=value" lines. Reading shows every key with its effective value,
 * in the form writing takes. A write is merged into the current config, all or nothing:
 * an unknown key or a bad value refuses the whole write with -EINVAL and a sentence.
 * Blank lines and lines starting with '#' are ignored; spaces around '=' and at the ends
 * of a line are ignored.
 *
 * Keys: source loop resolution fps bitrate output record restart start_at stop_at.
 */
#ifndef HUBFS_STREAM_H
#define HUBFS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct hubfs_config;

#define HUBFS_STREAM_NAME_MAX 64
#define HUBFS_STREAM_URL_MAX 1024

enum hubfs_stream_source {
	HUBFS_SRC_TESTSRC, /* libavfilter testsrc2 + a tone */
	HUBFS_SRC_VIDEO,   /* videos/PATH, read through the backend */
	HUBFS_SRC_URL,     /* rtmp, rtmps, rtsp, srt, http, https */
	HUBFS_SRC_DEVICE,  /* /dev/videoN */
};

struct hubfs_stream_conf {
	char source[HUBFS_STREAM_URL_MAX]; /* as written: "testsrc", "videos/a.mp4", a URL */
	enum hubfs_stream_source source_kind;
	bool loop;
	char resolution[8]; /* 480p 720p 1080p 2K 4K */
	unsigned int width, height;
	unsigned int fps;                  /* 1..60 */
	unsigned int bitrate_kbps;         /* 1000..12000 */
	char output[HUBFS_STREAM_URL_MAX]; /* "hls", rtmp(s)://..., srt://... */
	bool record;
	bool restart_on_failure;
	int64_t start_at; /* Unix seconds; 0: unset */
	int64_t stop_at;  /* Unix seconds; 0: unset */
};

/* The defaults: testsrc, no loop, the mount's default resolution and bitrate, 30 fps, hls,
 * no record, restart=no, no schedule. */
void hubfs_stream_conf_defaults(struct hubfs_stream_conf *c, const struct hubfs_config *cfg);

/*
 * Merge the key=value lines of @text (@len bytes) into @c, all or nothing. @now: the time
 * a start_at/stop_at must lie after (0: do not check, e.g. when loading a stored config).
 * 0, or -EINVAL with a sentence in @err ("bad value 'x' for bitrate: expected ...") and @c
 * unchanged. @changed (may be NULL) tells whether any value differs afterwards.
 */
int hubfs_stream_conf_apply(struct hubfs_stream_conf *c, const char *text, size_t len, int64_t now,
			    bool *changed, char *err, size_t errlen);

/* Every key, one "key=value\n" line each. malloc'd; NULL on ENOMEM. */
char *hubfs_stream_conf_format(const struct hubfs_stream_conf *c);

/* Is @name a valid stream name ([A-Za-z0-9._-]{1,64}, not "." or "..")? */
bool hubfs_stream_name_ok(const char *name);

/* An URL as it may appear in logs and events: scheme://host[:port]/first-path-part, the rest
 * (stream keys, queries, user info) replaced by "...". "hls" and paths are unchanged. */
void hubfs_stream_url_redact(const char *url, char *out, size_t len);

/* ISO 8601 UTC "2026-11-27T19:00:00Z" for @t (Unix seconds). */
void hubfs_stream_time_format(int64_t t, char *out, size_t len);

/* Parse ISO 8601: "YYYY-MM-DDTHH:MM[:SS][.frac](Z|±HH[:MM])", 'T' or ' ' between; without
 * a zone the local time. 0 and *t, or -EINVAL. */
int hubfs_stream_time_parse(const char *s, int64_t *t);

#endif
