/*
 * control.c — the worker's side of the pipe protocol that is not the media: the stop flag,
 * the control words on fd 0, the report lines on fd 1 and the progress reporter.
 *
 * DESIGN
 * - A stop (control word "stop", EOF on fd 0, SIGTERM/SIGINT) sets an atomic flag and
 *   makes an eventfd readable for good; every wait of the data path (pacing, FFmpeg's
 *   interrupt callbacks) looks at one or the other, so a stop is seen within one frame.
 * - The control thread poll()s fd 0 and a wake eventfd. After "ready" it writes a progress
 *   line every HUBFS_STREAM_PROGRESS_MS on CLOCK_MONOTONIC whether or not frames advanced
 *   (a stalled source shows as a stalled frame count, which is how the daemon detects it).
 * - Report lines go out with one write(2) each (< PIPE_BUF: atomic on the pipe). Ordering:
 *   "ready" is written by the main thread before the reporter may write progress; the main
 *   thread joins the reporter before it writes "done"/"error", so those are always last.
 *
 * Threads: wk_stop_request() from anywhere, signal handlers included; the stats from the
 * main thread (writer) and the control thread (reader) under wk_stats.lock; the rest of
 * struct wk_control belongs to the control thread once started, except the atomics.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "stream/worker/worker.h"

static atomic_bool stop_flag;
static int stop_evfd = -1;

int wk_stop_init(void)
{
	stop_evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return stop_evfd < 0 ? -errno : 0;
}

void wk_stop_release(void)
{
	if (stop_evfd >= 0)
		close(stop_evfd);
	stop_evfd = -1;
}

void wk_stop_request(void)
{
	uint64_t one = 1;
	int saved = errno;

	atomic_store(&stop_flag, true);
	if (stop_evfd >= 0 && write(stop_evfd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow at one per stop; nothing to do */
	}
	errno = saved;
}

bool wk_stop_requested(void)
{
	return atomic_load(&stop_flag);
}

int wk_stop_fd(void)
{
	return stop_evfd;
}

/* ---- stats ----------------------------------------------------------------------------- */

void wk_stats_init(struct wk_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
}

void wk_stats_release(struct wk_stats *st)
{
	pthread_mutex_destroy(&st->lock);
}

void wk_stats_add_frame(struct wk_stats *st, int64_t t_us, int64_t end_us)
{
	int64_t now = wk_now_ns();

	pthread_mutex_lock(&st->lock);
	st->frames++;
	if (end_us > st->out_time_us)
		st->out_time_us = end_us;
	if (!st->first_ns) {
		st->first_ns = now;
		st->first_us = t_us;
	}
	pthread_mutex_unlock(&st->lock);
}

void wk_stats_add_bytes(struct wk_stats *st, int64_t bytes)
{
	pthread_mutex_lock(&st->lock);
	st->bytes += bytes;
	pthread_mutex_unlock(&st->lock);
}

void wk_stats_add_dropped(struct wk_stats *st, int64_t n)
{
	pthread_mutex_lock(&st->lock);
	st->dropped += n;
	pthread_mutex_unlock(&st->lock);
}

/* ---- reports --------------------------------------------------------------------------- */

void wk_report(const char *fmt, ...)
{
	char line[HUBFS_STREAM_LINE_MAX];
	size_t n, off = 0;
	va_list ap;
	ssize_t w;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	n = (size_t)len;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	while (off < n) {
		w = write(STDOUT_FILENO, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the daemon is gone (EPIPE: SIGPIPE is ignored) */
		off += (size_t)w;
	}
}

/* ---- the control thread ---------------------------------------------------------------- */

struct wk_control {
	pthread_t thread;
	int wake_fd; /* eventfd: main -> control thread (ready, quit) */
	atomic_bool ready;
	atomic_bool quit;
	struct wk_lines *lr;
	bool in_open; /* fd 0 not at EOF yet */
	struct wk_stats *stats;
	/* the previous progress line, for the recent rates */
	int64_t prev_ns, prev_frames, prev_bytes, prev_out_us;
};

static void control_progress(struct wk_control *c)
{
	struct wk_stats *st = c->stats;
	int64_t now = wk_now_ns();
	int64_t frames, bytes, dropped, out_us, first_ns, first_us;
	double dt, media_dt, fps = 0, kbps = 0, speed = 0;

	pthread_mutex_lock(&st->lock);
	frames = st->frames;
	bytes = st->bytes;
	dropped = st->dropped;
	out_us = st->out_time_us;
	first_ns = st->first_ns;
	first_us = st->first_us;
	pthread_mutex_unlock(&st->lock);

	dt = (double)(now - c->prev_ns) / 1e9;
	media_dt = (double)(out_us - c->prev_out_us) / 1e6;
	if (dt > 0)
		fps = (double)(frames - c->prev_frames) / dt;
	if (media_dt > 0)
		kbps = (double)(bytes - c->prev_bytes) * 8 / media_dt / 1000;
	if (first_ns && now > first_ns)
		speed = ((double)(out_us - first_us) / 1e6) / ((double)(now - first_ns) / 1e9);
	wk_report(
		"progress frames=%lld fps=%.1f bitrate_kbps=%.0f speed=%.2f dropped=%lld "
		"out_time_ms=%lld",
		(long long)frames, fps, kbps, speed, (long long)dropped,
		(long long)(out_us / 1000));
	c->prev_ns = now;
	c->prev_frames = frames;
	c->prev_bytes = bytes;
	c->prev_out_us = out_us;
}

/* Act on the complete control words buffered in fd 0's reader. */
static void control_words(struct wk_control *c)
{
	bool too_long;
	char *line;

	while ((line = wk_lines_take(c->lr, &too_long))) {
		if (!strcmp(line, "stop")) {
			wk_info("stop requested");
			wk_stop_request();
		} else if (too_long) {
			wk_warn("ignored an overlong control line");
		} else if (*line) {
			wk_warn("ignored unknown control word '%.32s'", line);
		}
	}
}

static void *control_main(void *arg)
{
	struct wk_control *c = arg;
	const int64_t period = HUBFS_STREAM_PROGRESS_MS * WK_NS_PER_MS;
	int64_t next_tick = 0;
	uint64_t v;

	control_words(c);
	while (!atomic_load(&c->quit)) {
		struct pollfd pfd[2] = {
			{ .fd = c->wake_fd, .events = POLLIN },
			{ .fd = c->in_open ? c->lr->fd : -1, .events = POLLIN },
		};
		int timeout = -1;
		int rc;

		if (atomic_load(&c->ready)) {
			int64_t now = wk_now_ns();

			if (!next_tick) {
				next_tick = now + period;
				c->prev_ns = now;
			} else if (now >= next_tick) {
				control_progress(c);
				next_tick += period;
				if (next_tick <= now) /* we were late: no burst of lines */
					next_tick = now + period;
			}
			timeout = (int)((next_tick - now + WK_NS_PER_MS - 1) / WK_NS_PER_MS);
		}
		rc = poll(pfd, 2, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			if (read(c->wake_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: someone else drained it; nothing to do */
			}
		}
		if (pfd[1].revents) {
			ssize_t n = wk_lines_fill(c->lr);

			if (n == -EAGAIN)
				continue;
			if (n <= 0) {
				if (!wk_stop_requested())
					wk_info("%s on the control pipe: stopping",
						n ? "read error" : "end of input");
				c->in_open = false;
				wk_stop_request();
			} else {
				control_words(c);
			}
		}
	}
	return NULL;
}

static void control_wake(struct wk_control *c)
{
	uint64_t one = 1;

	if (write(c->wake_fd, &one, sizeof(one)) < 0) {
		/* cannot fail short of a counter overflow */
	}
}

int wk_control_start(struct wk_control **out, struct wk_lines *lr, struct wk_stats *stats)
{
	struct wk_control *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->lr = lr;
	c->stats = stats;
	c->in_open = true;
	atomic_init(&c->ready, false);
	atomic_init(&c->quit, false);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&c->thread, NULL, control_main, c);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c);
	return rc;
}

void wk_control_ready(struct wk_control *c)
{
	wk_report("ready");
	atomic_store(&c->ready, true);
	control_wake(c);
}

void wk_control_stop(struct wk_control *c)
{
	if (!c)
		return;
	atomic_store(&c->quit, true);
	control_wake(c);
	pthread_join(c->thread, NULL);
	if (atomic_load(&c->ready))
		control_progress(c);
	close(c->wake_fd);
	free(c);
}
