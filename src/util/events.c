/*
 * events.c — the hub's event log (.hub/events), see include/hubfs/events.h.
 *
 * Owns the log file descriptor and its path. Any thread may post an event; ev_lock orders
 * the lines and guards the fd, the path and the rotation. The listener is called after the
 * lock is dropped, so it may take its own locks freely.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/events.h"
#include "hubfs/log.h"

/* Rotate past this size: .hub/events stays small enough to cat. */
#define EV_ROTATE_BYTES (4u << 20)

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int ev_fd = -1; /* ev_lock */
static char *ev_path;  /* ev_lock; set once by open */
static void (*ev_listener)(void *arg);
static void *ev_listener_arg; /* both: ev_lock */

int hubfs_events_open(const char *path)
{
	int fd;
	char *copy;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	copy = strdup(path);
	if (!copy) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&ev_lock);
	if (ev_fd >= 0)
		close(ev_fd);
	free(ev_path);
	ev_fd = fd;
	ev_path = copy;
	pthread_mutex_unlock(&ev_lock);
	return 0;
}

void hubfs_events_close(void)
{
	pthread_mutex_lock(&ev_lock);
	if (ev_fd >= 0)
		close(ev_fd);
	ev_fd = -1;
	free(ev_path);
	ev_path = NULL;
	ev_listener = NULL;
	pthread_mutex_unlock(&ev_lock);
}

const char *hubfs_events_path(void)
{
	return ev_path;
}

void hubfs_events_set_listener(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&ev_lock);
	ev_listener = fn;
	ev_listener_arg = arg;
	pthread_mutex_unlock(&ev_lock);
}

/* Keep the file bounded: the full file moves to PATH.1 (the previous .1 is dropped). */
static void ev_rotate_locked(void)
{
	struct stat st;
	char old[4096];
	int fd;

	if (fstat(ev_fd, &st) || st.st_size < (off_t)EV_ROTATE_BYTES)
		return;
	snprintf(old, sizeof(old), "%s.1", ev_path);
	if (rename(ev_path, old))
		return;
	fd = open(ev_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	close(ev_fd);
	ev_fd = fd;
}

void hubfs_event(const char *kind, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	void (*listener)(void *arg);
	void *listener_arg;
	va_list ap;
	size_t n, ts_len;
	int m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	m = snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	n += (size_t)m;
	ts_len = n;
	m = snprintf(line + n, sizeof(line) - n, "%s ", kind);
	n += (size_t)m;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = (m < 0) ? n : n + (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One event is one line, whatever the message held. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	hubfs_log(strcmp(kind, HUBFS_EV_ERROR) && strcmp(kind, HUBFS_EV_REJECT) ? HUBFS_LOG_INFO :
										  HUBFS_LOG_WARN,
		  "%.*s", (int)(n - ts_len), line + ts_len);
	line[n++] = '\n';

	pthread_mutex_lock(&ev_lock);
	if (ev_fd >= 0) {
		if (write(ev_fd, line, n) != (ssize_t)n)
			hubfs_log(HUBFS_LOG_ERR, "cannot append to the event log '%s': %s", ev_path,
				  strerror(errno));
		ev_rotate_locked();
	}
	listener = ev_listener;
	listener_arg = ev_listener_arg;
	pthread_mutex_unlock(&ev_lock);
	if (listener)
		listener(listener_arg);
}
