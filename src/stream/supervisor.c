/*
 * supervisor.c — the streams of a mount (include/hubfs/streams.h): configs stored in the
 * catalog, the state machine, one worker process per running stream, and the supervisor
 * thread that reads the workers' reports and logs, runs the watchdog, fires schedules and
 * restarts, and cleans up after each run (finish.c).
 *
 * The streams/ directory and its files (create, remove, config, control, status, log) are
 * files.c's, on the helpers supervisor_int.h shares.
 *
 * Who changes what: FUSE threads create, remove, configure, start and stop streams (a start
 * spawns the worker right away, so the write to control returns with the process running;
 * a stop waits until the worker has ended and its recording is committed, so a script's
 * next command sees the ENDLIST and the video). Only the supervisor thread reaps workers:
 * a stream with a worker (st->proc_live) is never removed or renamed, so the thread may
 * keep pointers to such streams across its unlocked poll().
 *
 * Locks: s->lock guards everything here; s->cond is broadcast on every state change (stop
 * waits on it). Callers of spawn/kill hold the lock. Order: s->lock, then catalog/library/
 * backend locks (they never call back into streams).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/catalog_streams.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/library.h"
#include "hubfs/log.h"
#include "hubfs/stream.h"
#include "hubfs/stream_proto.h"
#include "hubfs/streams.h"

#include "stream/stream_int.h"
#include "stream/supervisor_int.h"

static int64_t sv_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sv_wall(void)
{
	return (int64_t)time(NULL);
}

void sv_wake(struct hubfs_streams *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		hubfs_log(HUBFS_LOG_WARN, "streams: cannot wake the supervisor: %s",
			  strerror(errno));
}

void sv_set_state(struct hubfs_streams *s, struct sv_stream *st, enum sv_state state)
{
	if (st->state != state) {
		st->state = state;
		st->since = sv_wall();
	}
	pthread_cond_broadcast(&s->cond);
}

__attribute__((format(printf, 3, 4))) void sv_error(struct sv_stream *st, const char *kind,
						    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->last_error, sizeof(st->last_error), fmt, ap);
	va_end(ap);
	hubfs_event(kind, "stream '%s': %s", st->name, st->last_error);
}

void sv_unref(struct sv_stream *st)
{
	if (--st->refs)
		return;
	free(st->log);
	free(st);
}

struct sv_stream *sv_find(struct hubfs_streams *s, const char *name)
{
	for (struct sv_stream *st = s->list; st; st = st->next)
		if (!strcmp(st->name, name))
			return st;
	return NULL;
}

void sv_insert(struct hubfs_streams *s, struct sv_stream *st)
{
	struct sv_stream **pp = &s->list;

	while (*pp && strcmp((*pp)->name, st->name) < 0)
		pp = &(*pp)->next;
	st->next = *pp;
	*pp = st;
}

void sv_unlink(struct hubfs_streams *s, struct sv_stream *st)
{
	for (struct sv_stream **pp = &s->list; *pp; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			st->next = NULL;
			return;
		}
	}
}

int sv_path(const struct hubfs_streams *s, const char *name, const char *leaf, char *buf,
	    size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s%s", s->root, name, leaf ? "/" : "", leaf ? leaf : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

unsigned int sv_live_count(struct hubfs_streams *s)
{
	unsigned int n = 0;

	for (struct sv_stream *st = s->list; st; st = st->next)
		n += st->proc_live;
	return n;
}

/* Persist @st's config and schedule flag. */
int sv_store(struct hubfs_streams *s, struct sv_stream *st)
{
	char *text = hubfs_stream_conf_format(&st->conf);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = hubfs_catalog_stream_update(s->cat, st->name, text, st->sched_done);
	free(text);
	return rc;
}

/* The log tail: append one line, dropping the oldest lines past SV_LOG_MAX. */
static void sv_log_line(struct sv_stream *st, const char *line, size_t len)
{
	char stamp[16];
	struct tm tm;
	time_t now = time(NULL);
	size_t need;

	if (!st->log) {
		st->log = malloc(SV_LOG_MAX);
		if (!st->log)
			return;
		st->log_len = 0;
	}
	if (len > SV_LOG_MAX / 4)
		len = SV_LOG_MAX / 4;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S ", &tm);
	need = strlen(stamp) + len + 1;
	if (st->log_len + need > SV_LOG_MAX) {
		size_t drop = st->log_len + need - SV_LOG_MAX;
		char *nl = memchr(st->log + drop, '\n', st->log_len - drop);

		drop = nl ? (size_t)(nl - st->log) + 1 : st->log_len;
		memmove(st->log, st->log + drop, st->log_len - drop);
		st->log_len -= drop;
	}
	memcpy(st->log + st->log_len, stamp, strlen(stamp));
	st->log_len += strlen(stamp);
	memcpy(st->log + st->log_len, line, len);
	st->log_len += len;
	st->log[st->log_len++] = '\n';
}

const char *const sv_state_names[] = {
	[SV_IDLE] = "idle",       [SV_SCHEDULED] = "scheduled", [SV_STARTING] = "starting",
	[SV_RUNNING] = "running", [SV_STOPPING] = "stopping",   [SV_FAILED] = "failed",
};

/* ---- starting a run ---- */

/* The job for the worker (stream_proto.h). */
static int sv_job(struct hubfs_streams *s, struct sv_stream *st, bool with_fd, char **out)
{
	const struct hubfs_stream_conf *c = &st->conf;
	static const char *const kinds[] = { [HUBFS_SRC_TESTSRC] = "testsrc",
					     [HUBFS_SRC_VIDEO] = "file",
					     [HUBFS_SRC_URL] = "url",
					     [HUBFS_SRC_DEVICE] = "device" };
	char hls[PATH_MAX] = "";
	bool live = c->source_kind == HUBFS_SRC_URL || c->source_kind == HUBFS_SRC_DEVICE;
	int rc;

	if (!strcmp(c->output, "hls")) {
		rc = sv_path(s, st->name, "hls", hls, sizeof(hls));
		if (rc)
			return rc;
	}
	rc = asprintf(out,
		      "name=%s\nsource=%s\ninput=%s\n%sloop=%s\nrealtime=%s\nwidth=%u\nheight=%u\n"
		      "fps=%u\nbitrate_kbps=%u\n%s%s%s%s%s%s%s%s%sio_timeout_ms=5000\n",
		      st->name, kinds[c->source_kind],
		      c->source_kind == HUBFS_SRC_TESTSRC ? "" : c->source,
		      with_fd ? "input_fd=3\n" : "", c->loop ? "yes" : "no", live ? "no" : "yes",
		      c->width, c->height, c->fps, c->bitrate_kbps, *hls ? "hls_dir=" : "", hls,
		      *hls ? "\n" : "", *hls ? "" : "push_url=", *hls ? "" : c->output,
		      *hls ? "" : "\n", *st->rec_file ? "record_path=" : "", st->rec_file,
		      *st->rec_file ? "\n" : "");
	return rc < 0 ? -ENOMEM : 0;
}

/* Name this run's recording: videos/recordings/NAME-YYYYmmddTHHMMSSZ.mkv (-2, -3... if
 * taken), and its file in state_dir/streams/NAME/rec/. */
static int sv_recording_paths(struct hubfs_streams *s, struct sv_stream *st)
{
	char stamp[32], dir[PATH_MAX];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	rc = sv_path(s, st->name, "rec", dir, sizeof(dir));
	if (rc)
		return rc;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	for (unsigned int i = 1; i < 100; i++) {
		struct hubfs_cat_entry e;
		char suffix[8] = "";

		if (i > 1)
			snprintf(suffix, sizeof(suffix), "-%u", i);
		snprintf(st->rec_dest, sizeof(st->rec_dest), "recordings/%s-%s%s.mkv", st->name,
			 stamp, suffix);
		if (snprintf(st->rec_file, sizeof(st->rec_file), "%s/%s-%s%s.mkv", dir, st->name,
			     stamp, suffix) >= (int)sizeof(st->rec_file))
			break;
		if (hubfs_catalog_get(s->cat, st->rec_dest, &e) == -ENOENT &&
		    access(st->rec_file, F_OK))
			return 0;
	}
	st->rec_file[0] = st->rec_dest[0] = '\0';
	return -EEXIST;
}

/*
 * Spawn the worker for @st (lock held). 0; -ENOENT (the source video is gone), -EAGAIN
 * (max_streams), -EIO (the worker could not be started); each with last_error and an
 * event, and the stream failed.
 */
int sv_spawn(struct hubfs_streams *s, struct sv_stream *st)
{
	struct hubfs_reader *reader = NULL;
	char err[512], hls[PATH_MAX];
	char *job = NULL;
	int input_fd = -1, rc;

	st->rec_file[0] = st->rec_dest[0] = '\0';
	if (s->stopping)
		return -ESHUTDOWN;
	if (sv_live_count(s) >= s->cfg->max_streams) {
		sv_error(st, HUBFS_EV_ERROR,
			 "cannot start: %u streams already running (max_streams=%u)",
			 sv_live_count(s), s->cfg->max_streams);
		return -EAGAIN;
	}
	if (st->conf.source_kind == HUBFS_SRC_VIDEO) {
		rc = hubfs_backend_read_open(s->be, st->conf.source + 7, &reader);
		if (!rc) {
			input_fd = hubfs_backend_read_fd(s->be, reader);
			if (input_fd < 0)
				rc = input_fd;
		}
		if (rc) {
			sv_error(st, HUBFS_EV_ERROR, "cannot open the source '%s': %s",
				 st->conf.source,
				 rc == -ENOTSUP ? "this backend cannot hand a video to a worker" :
						  strerror(-rc));
			rc = rc == -ENOENT ? -ENOENT : -EIO;
			goto fail;
		}
	}
	if (!strcmp(st->conf.output, "hls")) {
		rc = sv_path(s, st->name, "hls", hls, sizeof(hls));
		if (!rc)
			rc = st_dir_reset(hls);
		if (rc) {
			sv_error(st, HUBFS_EV_ERROR, "cannot prepare the HLS directory: %s",
				 strerror(-rc));
			rc = -EIO;
			goto fail;
		}
	}
	if (st->conf.record) {
		rc = sv_recording_paths(s, st);
		if (rc) {
			sv_error(st, HUBFS_EV_ERROR, "cannot prepare the recording: %s",
				 strerror(-rc));
			rc = -EIO;
			goto fail;
		}
	}
	rc = sv_job(s, st, input_fd >= 0, &job);
	if (rc) {
		sv_error(st, HUBFS_EV_ERROR, "cannot start: %s", strerror(-rc));
		rc = -EIO;
		goto fail;
	}
	rc = st_proc_spawn(&st->proc, s->worker, st->name, job, input_fd, err, sizeof(err));
	if (rc) {
		sv_error(st, HUBFS_EV_ERROR, "%s", err);
		rc = -EIO;
		goto fail;
	}
	free(job);
	hubfs_backend_read_close(s->be, reader);
	st->proc_live = true;
	st->runs++;
	st->run_wall = sv_wall();
	st->spawned_ms = st->advanced_ms = sv_mono_ms();
	st->stop_sent_ms = 0;
	st->ready = st->stop_requested = st->restart_requested = false;
	st->kill_reason[0] = st->worker_error[0] = st->worker_done[0] = '\0';
	st->frames = st->dropped = 0;
	st->fps = st->bitrate_kbps = st->speed = 0;
	st->restart_pending = false;
	st->last_error[0] = '\0';
	sv_set_state(s, st, SV_STARTING);
	hubfs_event(HUBFS_EV_STREAM, "'%s' starting (pid %d)", st->name, (int)st->proc.pid);
	sv_wake(s);
	return 0;
fail:
	free(job);
	if (reader)
		hubfs_backend_read_close(s->be, reader);
	st->rec_file[0] = st->rec_dest[0] = '\0';
	sv_set_state(s, st, SV_FAILED);
	return rc;
}

/* Ask the worker to end (lock held). */
void sv_request_stop(struct hubfs_streams *s, struct sv_stream *st)
{
	st->stop_requested = true;
	if (!st->proc_live)
		return;
	if (!st->stop_sent_ms) {
		st->stop_sent_ms = sv_mono_ms();
		if (st_proc_send(&st->proc, "stop"))
			kill(st->proc.pid, SIGTERM);
	}
	sv_set_state(s, st, SV_STOPPING);
	sv_wake(s);
}

static void sv_kill(struct sv_stream *st, const char *why)
{
	if (!st->kill_reason[0])
		snprintf(st->kill_reason, sizeof(st->kill_reason), "%s", why);
	kill(st->proc.pid, SIGKILL);
}

/* ---- the worker's reports ---- */

static void sv_report(struct hubfs_streams *s, struct sv_stream *st, char *line)
{
	if (!strcmp(line, "ready")) {
		st->ready = true;
		st->advanced_ms = sv_mono_ms();
		if (st->state == SV_STARTING) {
			sv_set_state(s, st, SV_RUNNING);
			hubfs_event(HUBFS_EV_STREAM, "'%s' running", st->name);
		}
	} else if (!strncmp(line, "progress ", 9)) {
		unsigned long long frames = st->frames, dropped = st->dropped;
		char *save = NULL;

		for (char *kv = strtok_r(line + 9, " ", &save); kv;
		     kv = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(kv, '=');

			if (!eq)
				continue;
			*eq++ = '\0';
			if (!strcmp(kv, "frames"))
				frames = strtoull(eq, NULL, 10);
			else if (!strcmp(kv, "dropped"))
				dropped = strtoull(eq, NULL, 10);
			else if (!strcmp(kv, "fps"))
				st->fps = strtod(eq, NULL);
			else if (!strcmp(kv, "bitrate_kbps"))
				st->bitrate_kbps = strtod(eq, NULL);
			else if (!strcmp(kv, "speed"))
				st->speed = strtod(eq, NULL);
		}
		if (frames > st->frames)
			st->advanced_ms = sv_mono_ms();
		st->frames = frames;
		st->dropped = dropped;
	} else if (!strncmp(line, "error ", 6)) {
		snprintf(st->worker_error, sizeof(st->worker_error), "%s", line + 6);
	} else if (!strncmp(line, "done ", 5)) {
		snprintf(st->worker_done, sizeof(st->worker_done), "%s", line + 5);
	} else {
		hubfs_log(HUBFS_LOG_WARN, "streams: '%s': unexpected report '%.100s'", st->name,
			  line);
	}
}

/* Split what arrived on @fd into lines for @fn; -1 in *fd at EOF. */
static void sv_drain(struct hubfs_streams *s, struct sv_stream *st, int *fd, char *part, size_t cap,
		     size_t *len, bool reports)
{
	char buf[4096];

	while (*fd >= 0) {
		ssize_t n = read(*fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(*fd);
			*fd = -1;
			n = 0;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (*len < cap - 1)
					part[(*len)++] = buf[i];
				continue;
			}
			part[*len] = '\0';
			if (reports)
				sv_report(s, st, part);
			else
				sv_log_line(st, part, *len);
			*len = 0;
		}
		if (*fd < 0 && *len) { /* a last line without its newline */
			part[*len] = '\0';
			if (reports)
				sv_report(s, st, part);
			else
				sv_log_line(st, part, *len);
			*len = 0;
		}
	}
}

/* ---- after a run ---- */

struct sv_commit {
	struct hubfs_streams *s;
	struct sv_stream *st; /* a ref */
	char name[HUBFS_STREAM_NAME_MAX + 1];
	char file[PATH_MAX];
	char dest[PATH_MAX];
};

static void *sv_commit_main(void *arg)
{
	struct sv_commit *job = arg;
	struct hubfs_streams *s = job->s;

	st_recording_commit(s->lib, job->name, job->file, job->dest);
	pthread_mutex_lock(&s->lock);
	if (job->st) {
		job->st->commits--;
		sv_unref(job->st);
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	free(job);
	return NULL;
}

/* Commit a recording on a thread of its own (lock held). Synchronously if no thread. */
static void sv_commit_start(struct hubfs_streams *s, struct sv_stream *st, const char *file,
			    const char *dest)
{
	struct sv_commit *job = calloc(1, sizeof(*job));
	pthread_attr_t attr;
	pthread_t t;
	int rc = -ENOMEM;

	if (!job) {
		hubfs_event(HUBFS_EV_ERROR, "stream '%s': out of memory; recording kept as '%s'",
			    st ? st->name : "?", file);
		return;
	}
	job->s = s;
	job->st = st;
	snprintf(job->name, sizeof(job->name), "%s", st ? st->name : "?");
	snprintf(job->file, sizeof(job->file), "%s", file);
	snprintf(job->dest, sizeof(job->dest), "%s", dest);
	if (st) {
		st->refs++;
		st->commits++;
	}
	if (!pthread_attr_init(&attr)) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, sv_commit_main, job);
		pthread_attr_destroy(&attr);
	}
	if (rc) {
		/* No thread: commit here, without the lock (the job holds a ref). */
		pthread_mutex_unlock(&s->lock);
		sv_commit_main(job);
		pthread_mutex_lock(&s->lock);
	}
}

static const char *sv_signame(int sig)
{
	const char *name = sigabbrev_np(sig);

	return name ? name : "?";
}

/* The worker exited: account for it, then idle, failed, or a restart (lock held). */
static void sv_reaped(struct hubfs_streams *s, struct sv_stream *st, int status)
{
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !st->kill_reason[0];
	int64_t ran_s = sv_wall() - st->run_wall;
	char why[600], hls[PATH_MAX];

	sv_drain(s, st, &st->proc.rep_fd, st->proc.rep, sizeof(st->proc.rep), &st->proc.rep_len,
		 true);
	sv_drain(s, st, &st->proc.log_fd, st->proc.logp, sizeof(st->proc.logp), &st->proc.logp_len,
		 false);
	st_proc_close(&st->proc);
	st->proc_live = false;
	st->ended++;

	if (st->kill_reason[0])
		snprintf(why, sizeof(why), "%s", st->kill_reason);
	else if (st->worker_error[0])
		snprintf(why, sizeof(why), "%s", st->worker_error);
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "the worker was killed by signal %d (SIG%s)",
			 WTERMSIG(status), sv_signame(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		snprintf(why, sizeof(why), "the worker exited with status %d", WEXITSTATUS(status));
	else
		why[0] = '\0';

	if (!strcmp(st->conf.output, "hls") && !sv_path(s, st->name, "hls", hls, sizeof(hls)) &&
	    st_hls_end(hls))
		hubfs_log(HUBFS_LOG_INFO, "streams: '%s': ended the playlist the worker left open",
			  st->name);
	if (st->rec_file[0]) {
		struct stat sb;

		if (!stat(st->rec_file, &sb) && sb.st_size > 0)
			sv_commit_start(s, st, st->rec_file, st->rec_dest);
		else
			unlink(st->rec_file);
		st->rec_file[0] = st->rec_dest[0] = '\0';
	}

	if (clean || st->stop_requested) {
		if (!clean)
			sv_error(st, HUBFS_EV_ERROR, "stopped uncleanly: %s", why);
		sv_set_state(s, st, SV_IDLE);
		hubfs_event(HUBFS_EV_STREAM, "'%s' %s after %" PRId64 " s", st->name,
			    !strcmp(st->worker_done, "source ended") ? "finished (source ended)" :
								       "stopped",
			    ran_s);
		st->backoff_s = 0;
		if (st->restart_requested && !s->stopping) {
			st->restart_requested = false;
			sv_spawn(s, st);
		}
		return;
	}
	sv_error(st, HUBFS_EV_ERROR, "failed: %s", why);
	sv_set_state(s, st, SV_FAILED);
	if (st->conf.restart_on_failure && !s->stopping) {
		if (ran_s >= SV_STABLE_S)
			st->backoff_s = 0;
		st->backoff_s = st->backoff_s ? st->backoff_s * 2 : 1;
		if (st->backoff_s > SV_BACKOFF_MAX_S)
			st->backoff_s = SV_BACKOFF_MAX_S;
		st->restart_pending = true;
		st->restart_ms = sv_mono_ms() + (int64_t)st->backoff_s * 1000;
		hubfs_event(HUBFS_EV_STREAM, "'%s' restarts in %u s (restart=on-failure)", st->name,
			    st->backoff_s);
	}
}

/* ---- the supervisor thread ---- */

/* Timers of one stream (lock held): watchdog, schedule, restart. Returns the ms until its
 * next deadline (INT64_MAX: none). */
static int64_t sv_timers(struct hubfs_streams *s, struct sv_stream *st, int64_t now_ms)
{
	int64_t now = sv_wall(), next = INT64_MAX;

	if (st->proc_live) {
		if (st->stop_sent_ms && now_ms - st->stop_sent_ms > SV_STOP_MS)
			sv_kill(st, "did not stop within 5 s; killed");
		else if (!st->ready && now_ms - st->spawned_ms > SV_START_MS)
			sv_kill(st, "no output within 15 s of the start; killed");
		else if (st->ready && now_ms - st->advanced_ms > SV_STALL_MS)
			sv_kill(st, "stalled: no new frame for 5 s; killed by the watchdog");
		if (st->conf.stop_at && st->conf.stop_at > st->run_wall && !st->stop_requested) {
			if (now >= st->conf.stop_at) {
				hubfs_event(HUBFS_EV_STREAM, "'%s': stop_at reached", st->name);
				sv_request_stop(s, st);
			} else {
				next = (st->conf.stop_at - now) * 1000;
			}
		}
		return next;
	}
	if (st->state == SV_SCHEDULED) {
		if (now >= st->conf.start_at) {
			st->sched_done = true;
			if (sv_store(s, st))
				hubfs_log(HUBFS_LOG_WARN, "streams: '%s': schedule not stored",
					  st->name);
			hubfs_event(HUBFS_EV_STREAM, "'%s': start_at reached", st->name);
			sv_spawn(s, st);
			return INT64_MAX;
		}
		return (st->conf.start_at - now) * 1000;
	}
	if (st->restart_pending) {
		if (now_ms >= st->restart_ms) {
			st->restart_pending = false;
			st->restarts++;
			if (sv_spawn(s, st) == -EAGAIN) { /* full: try again later */
				st->restart_pending = true;
				st->restart_ms = now_ms + (int64_t)SV_BACKOFF_MAX_S * 1000;
			}
			return INT64_MAX;
		}
		return st->restart_ms - now_ms;
	}
	return INT64_MAX;
}

static void sv_leftovers(struct hubfs_streams *s);

static void *sv_main(void *arg)
{
	struct hubfs_streams *s = arg;
	struct pollfd *pfd = NULL;
	struct sv_stream **owner = NULL;
	size_t cap = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->quit) {
		int64_t now_ms = sv_mono_ms(), timeout = SV_TICK_MS;
		size_t n = 1, need = 1;

		if (s->leftovers_ms && now_ms >= s->leftovers_ms) {
			s->leftovers_ms = 0;
			sv_leftovers(s);
		}
		for (struct sv_stream *st = s->list; st; st = st->next) {
			int64_t t = sv_timers(s, st, now_ms);

			if (t < timeout)
				timeout = t < 0 ? 0 : t;
			need += st->proc_live ? 3 : 0;
		}
		if (need > cap) {
			struct pollfd *np = realloc(pfd, need * sizeof(*pfd));
			struct sv_stream **no = np ? realloc(owner, need * sizeof(*owner)) : NULL;

			if (np)
				pfd = np;
			if (!no) {
				pthread_mutex_unlock(&s->lock);
				usleep(100000);
				pthread_mutex_lock(&s->lock);
				continue;
			}
			owner = no;
			cap = need;
		}
		pfd[0] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		owner[0] = NULL;
		for (struct sv_stream *st = s->list; st; st = st->next) {
			if (!st->proc_live)
				continue;
			pfd[n] = (struct pollfd){ .fd = st->proc.pidfd, .events = POLLIN };
			owner[n++] = st;
			pfd[n] = (struct pollfd){ .fd = st->proc.rep_fd, .events = POLLIN };
			owner[n++] = st;
			pfd[n] = (struct pollfd){ .fd = st->proc.log_fd, .events = POLLIN };
			owner[n++] = st;
		}
		pthread_mutex_unlock(&s->lock);
		poll(pfd, n, (int)timeout);
		pthread_mutex_lock(&s->lock);
		if (pfd[0].revents) {
			uint64_t v;

			if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				hubfs_log(HUBFS_LOG_WARN, "streams: wake: %s", strerror(errno));
		}
		/* Reports and logs first, exits last: a worker's last lines precede its exit. */
		for (size_t i = 1; i < n; i++) {
			struct sv_stream *st = owner[i];

			if (!pfd[i].revents || !st->proc_live)
				continue;
			if (pfd[i].fd == st->proc.rep_fd)
				sv_drain(s, st, &st->proc.rep_fd, st->proc.rep,
					 sizeof(st->proc.rep), &st->proc.rep_len, true);
			else if (pfd[i].fd == st->proc.log_fd)
				sv_drain(s, st, &st->proc.log_fd, st->proc.logp,
					 sizeof(st->proc.logp), &st->proc.logp_len, false);
		}
		for (size_t i = 1; i < n; i++) {
			struct sv_stream *st = owner[i];
			int status = 0;

			if (!pfd[i].revents || !st->proc_live || pfd[i].fd != st->proc.pidfd)
				continue;
			if (waitpid(st->proc.pid, &status, WNOHANG) == st->proc.pid)
				sv_reaped(s, st, status);
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(pfd);
	free(owner);
	return NULL;
}

/* Recordings a crashed run left in state_dir/streams/NAME/rec/ (lock held). */
static void sv_leftovers(struct hubfs_streams *s)
{
	for (struct sv_stream *st = s->list; st; st = st->next) {
		char dir[PATH_MAX], file[PATH_MAX], dest[PATH_MAX];
		struct dirent *de;
		DIR *d;

		if (st->proc_live || st->commits || sv_path(s, st->name, "rec", dir, sizeof(dir)))
			continue;
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			size_t len = strlen(de->d_name);

			if (len < 5 || strcmp(de->d_name + len - 4, ".mkv") || de->d_name[0] == '.')
				continue;
			if (snprintf(file, sizeof(file), "%s/%s", dir, de->d_name) >=
				    (int)sizeof(file) ||
			    snprintf(dest, sizeof(dest), "recordings/%s", de->d_name) >=
				    (int)sizeof(dest))
				continue;
			hubfs_event(HUBFS_EV_STREAM,
				    "'%s': saving a recording an earlier run left behind",
				    st->name);
			sv_commit_start(s, st, file, dest);
		}
		closedir(d);
	}
}

/* ---- construction ---- */

struct sv_load {
	struct hubfs_streams *s;
	int rc;
};

static int sv_load_one(void *arg, const struct hubfs_cat_stream *cs)
{
	struct sv_load *ld = arg;
	struct sv_stream *st;
	char err[512];

	if (!hubfs_stream_name_ok(cs->name)) {
		hubfs_log(HUBFS_LOG_WARN, "streams: ignoring a stored stream with a bad name");
		return 0;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		ld->rc = -ENOMEM;
		return -ENOMEM;
	}
	st->refs = 1;
	snprintf(st->name, sizeof(st->name), "%s", cs->name);
	hubfs_stream_conf_defaults(&st->conf, ld->s->cfg);
	if (hubfs_stream_conf_apply(&st->conf, cs->config, strlen(cs->config), 0, NULL, err,
				    sizeof(err)))
		hubfs_event(HUBFS_EV_ERROR, "stream '%s': stored config ignored: %s", st->name,
			    err);
	st->sched_done = cs->sched_done;
	st->created_ns = cs->created_ns;
	st->since = sv_wall();
	sv_insert(ld->s, st);
	return 0;
}

static void sv_worker_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0) {
		snprintf(buf, len, "%s", HUBFS_STREAM_WORKER);
		return;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if (snprintf(buf, len, "%s/%s", self, HUBFS_STREAM_WORKER) >= (int)len)
		snprintf(buf, len, "%s", HUBFS_STREAM_WORKER); /* from PATH, then */
}

int hubfs_streams_new(struct hubfs_streams **out, const struct hubfs_config *cfg,
		      struct hubfs_catalog *cat, struct hubfs_backend *be,
		      struct hubfs_library *lib, const char *worker)
{
	struct hubfs_streams *s;
	struct sv_load ld;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->cat = cat;
	s->be = be;
	s->lib = lib;
	s->wake_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (worker)
		snprintf(s->worker, sizeof(s->worker), "%s", worker);
	else
		sv_worker_path(s->worker, sizeof(s->worker));
	if (snprintf(s->root, sizeof(s->root), "%s/streams", cfg->state_dir) >=
	    (int)sizeof(s->root)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(s->root, 0700) && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		rc = -errno;
		goto fail;
	}
	ld = (struct sv_load){ .s = s };
	rc = hubfs_catalog_stream_list(cat, sv_load_one, &ld);
	if (ld.rc)
		rc = ld.rc;
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	hubfs_streams_free(s);
	return rc;
}

int hubfs_streams_start(struct hubfs_streams *s)
{
	int64_t now = sv_wall();
	int rc;

	pthread_mutex_lock(&s->lock);
	for (struct sv_stream *st = s->list; st; st = st->next) {
		char hls[PATH_MAX];

		if (!sv_path(s, st->name, "hls", hls, sizeof(hls)))
			st_hls_end(hls); /* a run the daemon's crash cut short */
		if (!st->conf.start_at || st->sched_done)
			continue;
		if (now < st->conf.start_at || !st->conf.stop_at || now < st->conf.stop_at) {
			/* Ahead: armed. Passed while unmounted, window still open: starts now. */
			sv_set_state(s, st, SV_SCHEDULED);
			continue;
		}
		st->sched_done = true;
		sv_store(s, st);
		hubfs_event(HUBFS_EV_STREAM, "'%s': its scheduled window passed while unmounted",
			    st->name);
	}
	s->leftovers_ms = sv_mono_ms() + SV_LEFTOVER_DELAY_S * 1000;
	rc = -pthread_create(&s->thread, NULL, sv_main, s);
	s->thread_live = !rc;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void hubfs_streams_stop(struct hubfs_streams *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (struct sv_stream *st = s->list; st; st = st->next) {
		st->restart_pending = false;
		st->restart_requested = false;
		if (st->proc_live)
			sv_request_stop(s, st);
	}
	for (;;) {
		bool busy = false;

		for (struct sv_stream *st = s->list; st; st = st->next)
			busy |= st->proc_live || st->commits;
		if (!busy || !s->thread_live)
			break;
		pthread_cond_wait(&s->cond, &s->lock);
	}
	s->quit = true;
	pthread_mutex_unlock(&s->lock);
	if (s->thread_live) {
		sv_wake(s);
		pthread_join(s->thread, NULL);
		s->thread_live = false;
	}
}

void hubfs_streams_free(struct hubfs_streams *s)
{
	if (!s)
		return;
	hubfs_streams_stop(s);
	while (s->list) {
		struct sv_stream *st = s->list;

		s->list = st->next;
		if (st->proc_live) { /* never started the thread: nothing else will reap it */
			kill(st->proc.pid, SIGKILL);
			waitpid(st->proc.pid, NULL, 0);
			st_proc_close(&st->proc);
		}
		sv_unref(st);
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
