/*
 * job.c — the job the daemon sends on fd 0, read and validated before anything is opened.
 *
 * The job is "key=value" lines ended by an empty line (include/hubfs/stream_proto.h). An
 * unknown or repeated key, a line without '=', a missing required key or a bad number is
 * -EINVAL with a sentence naming the key; URL values are never echoed whole (stream keys
 * are secrets). Also the line reader (struct wk_lines) that the control thread goes on
 * using for control words once the job is read, and struct wk_error.
 *
 * Threads: the main thread reads the job; afterwards the control thread owns the reader.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "stream/worker/worker.h"

void wk_error_set(struct wk_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void wk_lines_init(struct wk_lines *lr, int fd)
{
	lr->fd = fd;
	lr->start = 0;
	lr->len = 0;
	lr->overflow = false;
}

char *wk_lines_take(struct wk_lines *lr, bool *too_long)
{
	char *line = lr->buf + lr->start;
	char *nl = memchr(line, '\n', lr->len - lr->start);
	size_t n;

	*too_long = false;
	if (!nl)
		return NULL;
	*nl = '\0';
	lr->start = (size_t)(nl - lr->buf) + 1;
	if (lr->overflow) {
		/* the tail of a line that did not fit: report the whole line as too long */
		lr->overflow = false;
		*too_long = true;
		*line = '\0';
		return line;
	}
	n = strlen(line);
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

ssize_t wk_lines_fill(struct wk_lines *lr)
{
	ssize_t n;

	if (lr->start) {
		memmove(lr->buf, lr->buf + lr->start, lr->len - lr->start);
		lr->len -= lr->start;
		lr->start = 0;
	}
	if (lr->len == sizeof(lr->buf)) {
		/* a line longer than the buffer: drop what we have, remember to drop its tail */
		lr->len = 0;
		lr->overflow = true;
	}
	do {
		n = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	lr->len += (size_t)n;
	return n;
}

/* ---- values ---------------------------------------------------------------------------- */

static int job_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "on", "true", "1" };
	static const char *const no[] = { "no", "off", "false", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int job_int(const char *v, long min, long max, int *out)
{
	char *end;
	long x;

	if (!*v || *v == '+' || *v == ' ')
		return -EINVAL;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*out = (int)x;
	return 0;
}

/* Does @url start with one of the schemes in @schemes (NULL-terminated, "rtmp://")? */
static bool job_scheme_ok(const char *url, const char *const *schemes)
{
	for (; *schemes; schemes++)
		if (!strncasecmp(url, *schemes, strlen(*schemes)) && url[strlen(*schemes)])
			return true;
	return false;
}

/* ---- keys ------------------------------------------------------------------------------ */

enum job_key {
	K_NAME,
	K_SOURCE,
	K_INPUT,
	K_INPUT_FD,
	K_LOOP,
	K_REALTIME,
	K_WIDTH,
	K_HEIGHT,
	K_FPS,
	K_BITRATE,
	K_HLS_DIR,
	K_PUSH_URL,
	K_RECORD_PATH,
	K_IO_TIMEOUT,
	K_COUNT,
};

static const char *const job_keys[K_COUNT] = {
	[K_NAME] = "name",
	[K_SOURCE] = "source",
	[K_INPUT] = "input",
	[K_INPUT_FD] = "input_fd",
	[K_LOOP] = "loop",
	[K_REALTIME] = "realtime",
	[K_WIDTH] = "width",
	[K_HEIGHT] = "height",
	[K_FPS] = "fps",
	[K_BITRATE] = "bitrate_kbps",
	[K_HLS_DIR] = "hls_dir",
	[K_PUSH_URL] = "push_url",
	[K_RECORD_PATH] = "record_path",
	[K_IO_TIMEOUT] = "io_timeout_ms",
};

static int job_dup(char **dst, const char *v)
{
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* A value as it may appear in a message: URLs redacted, long values cut. */
static void job_shown(enum job_key k, const char *v, char *out, size_t len)
{
	if (k == K_PUSH_URL || k == K_INPUT)
		wk_url_redact(v, out, len);
	else
		snprintf(out, len, "%.64s", v);
}

static int job_set(struct wk_job *job, enum job_key k, const char *v, struct wk_error *err)
{
	static const struct {
		long min, max;
		bool even;
	} range[K_COUNT] = {
		[K_INPUT_FD] = { 3, 1023, false },    [K_WIDTH] = { 16, 7680, true },
		[K_HEIGHT] = { 16, 4320, true },      [K_FPS] = { 1, 120, false },
		[K_BITRATE] = { 100, 100000, false }, [K_IO_TIMEOUT] = { 100, 600000, false },
	};
	char shown[160];
	int *num = NULL;
	bool *flag = NULL;
	char **str = NULL;
	int rc = 0;

	switch (k) {
	case K_NAME:
		str = &job->name;
		break;
	case K_SOURCE:
		if (!strcmp(v, "testsrc"))
			job->source = WK_SRC_TESTSRC;
		else if (!strcmp(v, "file"))
			job->source = WK_SRC_FILE;
		else if (!strcmp(v, "url"))
			job->source = WK_SRC_URL;
		else if (!strcmp(v, "device"))
			job->source = WK_SRC_DEVICE;
		else
			rc = -EINVAL;
		break;
	case K_INPUT:
		str = &job->input;
		break;
	case K_INPUT_FD:
		num = &job->input_fd;
		break;
	case K_LOOP:
		flag = &job->loop;
		break;
	case K_REALTIME:
		flag = &job->realtime;
		break;
	case K_WIDTH:
		num = &job->width;
		break;
	case K_HEIGHT:
		num = &job->height;
		break;
	case K_FPS:
		num = &job->fps;
		break;
	case K_BITRATE:
		num = &job->bitrate_kbps;
		break;
	case K_HLS_DIR:
		str = &job->hls_dir;
		break;
	case K_PUSH_URL:
		str = &job->push_url;
		break;
	case K_RECORD_PATH:
		str = &job->record_path;
		break;
	case K_IO_TIMEOUT:
		num = &job->io_timeout_ms;
		break;
	case K_COUNT:
		rc = -EINVAL;
		break;
	}
	if (num) {
		rc = job_int(v, range[k].min, range[k].max, num);
		if (!rc && range[k].even && (*num & 1))
			rc = -EINVAL;
		if (rc) {
			job_shown(k, v, shown, sizeof(shown));
			wk_error_set(err, "bad %s '%s': expected %s number from %ld to %ld",
				     job_keys[k], shown, range[k].even ? "an even" : "a",
				     range[k].min, range[k].max);
		}
		return rc;
	}
	if (flag) {
		rc = job_bool(v, flag);
		if (rc) {
			job_shown(k, v, shown, sizeof(shown));
			wk_error_set(err, "bad %s '%s': expected yes or no", job_keys[k], shown);
		}
		return rc;
	}
	if (str) {
		if (k != K_INPUT && !*v) {
			wk_error_set(err, "empty job key '%s'", job_keys[k]);
			return -EINVAL;
		}
		rc = job_dup(str, v);
		if (rc)
			wk_error_set(err, "out of memory reading the job");
		return rc;
	}
	if (rc) {
		job_shown(k, v, shown, sizeof(shown));
		wk_error_set(err, "bad source '%s': expected testsrc, file, url or device", shown);
	}
	return rc;
}

/* The checks that need the whole job. */
static int job_check(struct wk_job *job, const bool *seen, struct wk_error *err)
{
	static const enum job_key required[] = { K_SOURCE, K_WIDTH, K_HEIGHT, K_FPS, K_BITRATE };
	static const char *const in_schemes[] = { "rtmp://", "rtmps://", "rtsp://",  "rtsps://",
						  "srt://",  "http://",  "https://", NULL };
	static const char *const push_schemes[] = { "rtmp://", "rtmps://", "srt://", NULL };
	char shown[160];

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!seen[required[i]]) {
			wk_error_set(err, "missing job key '%s'", job_keys[required[i]]);
			return -EINVAL;
		}
	}
	if (!job->input && job_dup(&job->input, "")) {
		wk_error_set(err, "out of memory reading the job");
		return -ENOMEM;
	}
	switch (job->source) {
	case WK_SRC_TESTSRC:
		break;
	case WK_SRC_FILE:
		if (job->input_fd < 0) {
			wk_error_set(err, "missing job key 'input_fd' for a file source");
			return -EINVAL;
		}
		break;
	case WK_SRC_URL:
		if (!job_scheme_ok(job->input, in_schemes)) {
			wk_url_redact(job->input, shown, sizeof(shown));
			wk_error_set(
				err,
				"unsupported input url '%s': expected rtmp, rtsp, srt or http(s)",
				shown);
			return -EINVAL;
		}
		break;
	case WK_SRC_DEVICE:
		if (strncmp(job->input, "/dev/", 5) || !job->input[5]) {
			wk_error_set(err, "bad device '%.64s': expected /dev/videoN", job->input);
			return -EINVAL;
		}
		break;
	}
	if (job->source != WK_SRC_FILE && job->input_fd >= 0) {
		wk_error_set(err, "job key 'input_fd' is only for file sources");
		return -EINVAL;
	}
	if (job->push_url && !job_scheme_ok(job->push_url, push_schemes)) {
		wk_url_redact(job->push_url, shown, sizeof(shown));
		wk_error_set(err, "unsupported push url '%s': expected rtmp:// or srt://", shown);
		return -EINVAL;
	}
	if (!job->hls_dir && !job->push_url && !job->record_path) {
		wk_error_set(err, "no output: the job needs hls_dir, push_url or record_path");
		return -EINVAL;
	}
	return 0;
}

int wk_job_read(struct wk_job *job, struct wk_lines *lr, const char *argv_name,
		struct wk_error *err)
{
	bool seen[K_COUNT] = { false };
	bool too_long;
	char *line;
	ssize_t n;
	int rc;

	memset(job, 0, sizeof(*job));
	job->input_fd = -1;
	job->realtime = true;
	job->io_timeout_ms = WK_IO_TIMEOUT_MS_DEFAULT;
	for (;;) {
		line = wk_lines_take(lr, &too_long);
		if (!line) {
			n = wk_lines_fill(lr);
			if (n < 0) {
				wk_error_set(err, "could not read the job: %s", strerror((int)-n));
				return (int)n;
			}
			if (n == 0) {
				wk_error_set(err, "the job ended before its empty line");
				return -EIO;
			}
			continue;
		}
		if (too_long) {
			wk_error_set(err, "a job line is longer than %d bytes",
				     HUBFS_STREAM_LINE_MAX);
			return -EINVAL;
		}
		if (!*line)
			break;

		char *eq = strchr(line, '=');
		enum job_key k;

		if (!eq) {
			wk_error_set(err, "bad job line '%.64s': expected key=value", line);
			return -EINVAL;
		}
		*eq = '\0';
		for (k = 0; k < K_COUNT; k++)
			if (!strcmp(line, job_keys[k]))
				break;
		if (k == K_COUNT) {
			wk_error_set(err, "unknown job key '%.64s'", line);
			return -EINVAL;
		}
		if (seen[k]) {
			wk_error_set(err, "repeated job key '%s'", job_keys[k]);
			return -EINVAL;
		}
		seen[k] = true;
		rc = job_set(job, k, eq + 1, err);
		if (rc)
			return rc;
	}
	if (!job->name) {
		rc = job_dup(&job->name, argv_name);
		if (rc) {
			wk_error_set(err, "out of memory reading the job");
			return rc;
		}
	}
	return job_check(job, seen, err);
}

void wk_job_release(struct wk_job *job)
{
	free(job->name);
	free(job->input);
	free(job->hls_dir);
	free(job->push_url);
	free(job->record_path);
	memset(job, 0, sizeof(*job));
}
