/*
 * clock.c — the wall clock a stream runs against: pacing of testsrc and file sources, and
 * how late a frame is (live sources and paced sources both drop video frames that fall more
 * than WK_LIVE_MAX_LAG_US behind).
 *
 * Media time t is due at start_ns + t on CLOCK_MONOTONIC. A paced source sleeps until each
 * frame is due; the sleep is a ppoll() on the stop eventfd, so a stop ends it at once. A live
 * source is never paced: media time 0 is moved forward whenever a frame came in while we
 * were waiting for the source (wk_clock_rebase), so only a backlog of our own making counts
 * as lateness, never a source that paused.
 *
 * Threads: main thread only (wk_now_ns: any).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stream/worker/worker.h"

int64_t wk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t wk_process_start_ns(void)
{
	int64_t now = wk_now_ns();
	long hz = sysconf(_SC_CLK_TCK);
	unsigned long long start_ticks;
	struct timespec boot;
	char buf[1024], *p;
	int64_t age;
	ssize_t n;
	int fd;

	/* /proc/self/stat field 22: start time in clock ticks since boot (CLOCK_BOOTTIME) */
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return now;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return now;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu",
			 &start_ticks) != 1)
		return now;
	age = ((int64_t)boot.tv_sec * 1000000000LL + boot.tv_nsec) -
	      (int64_t)(start_ticks * (1000000000ULL / (unsigned long long)hz));
	if (age < 0 || age > 10 * 1000000000LL)
		return now; /* implausible: not worth trusting */
	return now - age;
}

void wk_clock_start(struct wk_clock *c, int64_t t0_ns)
{
	int64_t earliest = wk_now_ns() - WK_CLOCK_HEADSTART_US * WK_NS_PER_US;

	c->start_ns = t0_ns > earliest ? t0_ns : earliest;
}

int wk_clock_wait(struct wk_clock *c, int64_t t_us)
{
	int64_t due = c->start_ns + t_us * WK_NS_PER_US;

	for (;;) {
		struct pollfd pfd = { .fd = wk_stop_fd(), .events = POLLIN };
		int64_t left;
		struct timespec ts;

		if (wk_stop_requested())
			return -EINTR;
		left = due - wk_now_ns();
		if (left <= 0)
			return 0;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			return -errno;
	}
}

void wk_clock_rebase(struct wk_clock *c, int64_t t_us)
{
	int64_t start = wk_now_ns() - t_us * WK_NS_PER_US;

	if (!c->start_ns || start > c->start_ns)
		c->start_ns = start;
}

int64_t wk_clock_lag_us(const struct wk_clock *c, int64_t t_us)
{
	if (!c->start_ns)
		return 0;
	return (wk_now_ns() - c->start_ns) / WK_NS_PER_US - t_us;
}
