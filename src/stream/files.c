/*
 * files.c — the streams/ directory and its files over the supervisor (streams.h): mkdir,
 * rmdir and mv of a stream, config (checked per write, applied per open), control words,
 * status and log. supervisor.c owns the state machine and the worker processes; this file
 * only changes a stream through its helpers, under the supervisor's lock.
 *
 * Threads: FUSE workers. Locks: s->lock for every call; a stop waits on s->cond.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubfs/catalog.h"
#include "hubfs/catalog_streams.h"
#include "hubfs/events.h"
#include "hubfs/stream.h"
#include "hubfs/streams.h"

#include "stream/stream_int.h"
#include "stream/supervisor_int.h"

/* ---- the directory ---- */

int hubfs_streams_create(struct hubfs_streams *s, const char *name)
{
	struct hubfs_stream_conf conf;
	struct sv_stream *st;
	char dir[PATH_MAX], hls[PATH_MAX];
	char *text;
	int rc;

	if (!hubfs_stream_name_ok(name)) {
		hubfs_event(
			HUBFS_EV_ERROR,
			"refused 'streams/%.200s': a stream name is 1 to 64 of A-Z a-z 0-9 . _ -",
			name);
		return -EINVAL;
	}
	hubfs_stream_conf_defaults(&conf, s->cfg);
	text = hubfs_stream_conf_format(&conf);
	if (!text)
		return -ENOMEM;
	st = calloc(1, sizeof(*st));
	if (!st) {
		free(text);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (sv_find(s, name)) {
		rc = -EEXIST;
		goto fail;
	}
	rc = sv_path(s, name, NULL, dir, sizeof(dir));
	if (!rc)
		rc = sv_path(s, name, "hls", hls, sizeof(hls));
	if (rc)
		goto fail;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	rc = st_dir_reset(hls);
	if (rc)
		goto fail;
	rc = hubfs_catalog_stream_add(s->cat, name, text, sv_wall() * 1000000000LL);
	if (rc)
		goto fail;
	st->refs = 1;
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->conf = conf;
	st->since = sv_wall();
	sv_insert(s, st);
	pthread_mutex_unlock(&s->lock);
	free(text);
	hubfs_event(HUBFS_EV_STREAM, "'%s' created", name);
	return 0;
fail:
	pthread_mutex_unlock(&s->lock);
	free(text);
	free(st);
	return rc;
}

/* Remove state_dir/streams/NAME/{hls,rec} and the directory (what is left of a stream). */
static void sv_remove_dirs(struct hubfs_streams *s, const char *name)
{
	char path[PATH_MAX];

	if (!sv_path(s, name, "hls", path, sizeof(path)) && !st_dir_reset(path))
		rmdir(path);
	if (!sv_path(s, name, "rec", path, sizeof(path)))
		rmdir(path); /* only if empty: a recording waiting for a retry stays */
	if (!sv_path(s, name, NULL, path, sizeof(path)))
		rmdir(path);
}

int hubfs_streams_remove(struct hubfs_streams *s, const char *name)
{
	struct sv_stream *st;
	int rc;

	pthread_mutex_lock(&s->lock);
	st = sv_find(s, name);
	if (!st) {
		rc = -ENOENT;
		goto out;
	}
	if (st->proc_live || st->commits) {
		sv_error(st, HUBFS_EV_ERROR, "cannot remove a stream while it %s",
			 st->proc_live ? "runs (stop it first)" : "saves its recording");
		rc = -EBUSY;
		goto out;
	}
	rc = hubfs_catalog_stream_delete(s->cat, name);
	if (rc)
		goto out;
	sv_unlink(s, st);
	st->removed = true;
	sv_remove_dirs(s, name);
	hubfs_event(HUBFS_EV_STREAM, "'%s' removed", name);
	sv_unref(st);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int hubfs_streams_rename(struct hubfs_streams *s, const char *from, const char *to)
{
	char src[PATH_MAX], dst[PATH_MAX];
	struct sv_stream *st;
	int rc;

	if (!hubfs_stream_name_ok(to)) {
		hubfs_event(
			HUBFS_EV_ERROR,
			"refused 'streams/%.200s': a stream name is 1 to 64 of A-Z a-z 0-9 . _ -",
			to);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	st = sv_find(s, from);
	if (!st) {
		rc = -ENOENT;
		goto out;
	}
	if (!strcmp(from, to)) {
		rc = 0;
		goto out;
	}
	if (sv_find(s, to)) {
		rc = -EEXIST;
		goto out;
	}
	if (st->proc_live || st->commits || st->restart_pending) {
		sv_error(st, HUBFS_EV_ERROR, "cannot rename a stream while it runs");
		rc = -EBUSY;
		goto out;
	}
	rc = sv_path(s, from, NULL, src, sizeof(src));
	if (!rc)
		rc = sv_path(s, to, NULL, dst, sizeof(dst));
	if (rc)
		goto out;
	if (rename(src, dst) && errno != ENOENT) {
		rc = -errno;
		goto out;
	}
	rc = hubfs_catalog_stream_rename(s->cat, from, to);
	if (rc) {
		rename(dst, src);
		goto out;
	}
	sv_unlink(s, st);
	snprintf(st->name, sizeof(st->name), "%s", to);
	sv_insert(s, st);
	hubfs_event(HUBFS_EV_RENAME, "stream '%s' renamed to '%s'", from, to);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

bool hubfs_streams_exists(struct hubfs_streams *s, const char *name)
{
	bool found;

	pthread_mutex_lock(&s->lock);
	found = sv_find(s, name) != NULL;
	pthread_mutex_unlock(&s->lock);
	return found;
}

int hubfs_streams_each(struct hubfs_streams *s, int (*fn)(void *arg, const char *name), void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (struct sv_stream *st = s->list; st && !rc; st = st->next)
		rc = fn(arg, st->name);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- the files ---- */

/* A file's text, made by @make under the lock: 0, -ENOENT, -ENOMEM. */
static int sv_text(struct hubfs_streams *s, const char *name, char **out,
		   char *(*make)(const struct sv_stream *st))
{
	struct sv_stream *st;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	st = sv_find(s, name);
	*out = st ? make(st) : NULL;
	if (!st)
		rc = -ENOENT;
	else if (!*out)
		rc = -ENOMEM;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static char *sv_config_text(const struct sv_stream *st)
{
	return hubfs_stream_conf_format(&st->conf);
}

int hubfs_streams_config_read(struct hubfs_streams *s, const char *name, char **out)
{
	return sv_text(s, name, out, sv_config_text);
}

/* Check (and with @store, apply and persist) a config write; see streams.h. */
static int sv_config(struct hubfs_streams *s, const char *name, const char *buf, size_t len,
		     bool store)
{
	struct hubfs_stream_conf next;
	struct hubfs_cat_entry e;
	struct sv_stream *st;
	bool changed = false;
	char err[600];
	int rc;

	pthread_mutex_lock(&s->lock);
	st = sv_find(s, name);
	if (!st) {
		rc = -ENOENT;
		goto out;
	}
	next = st->conf;
	rc = hubfs_stream_conf_apply(&next, buf, len, sv_wall(), &changed, err, sizeof(err));
	if (rc == -EINVAL) {
		sv_error(st, HUBFS_EV_ERROR, "config refused: %s", err);
		goto out;
	}
	if (rc || !changed)
		goto out;
	if (st->proc_live) {
		sv_error(st, HUBFS_EV_ERROR, "config refused: the stream is %s (stop it first)",
			 sv_state_names[st->state]);
		rc = -EBUSY;
		goto out;
	}
	if (next.source_kind == HUBFS_SRC_VIDEO && strcmp(next.source, st->conf.source) &&
	    (hubfs_catalog_get(s->cat, next.source + 7, &e) || e.is_dir)) {
		sv_error(st, HUBFS_EV_ERROR,
			 "config refused: bad value '%s' for source: no such "
			 "video",
			 next.source);
		rc = -EINVAL;
		goto out;
	}
	if (!store)
		goto out;
	if (next.start_at != st->conf.start_at)
		st->sched_done = false;
	st->conf = next;
	rc = sv_store(s, st);
	if (rc) {
		hubfs_event(HUBFS_EV_ERROR, "stream '%s': cannot store the config: %s", name,
			    strerror(-rc));
		goto out;
	}
	if (st->conf.start_at && !st->sched_done && st->conf.start_at > sv_wall())
		sv_set_state(s, st, SV_SCHEDULED);
	else if (st->state == SV_SCHEDULED)
		sv_set_state(s, st, SV_IDLE);
	hubfs_event(HUBFS_EV_STREAM, "'%s' configured", name);
	sv_wake(s);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int hubfs_streams_config_check(struct hubfs_streams *s, const char *name, const char *buf,
			       size_t len)
{
	return sv_config(s, name, buf, len, false);
}

int hubfs_streams_config_write(struct hubfs_streams *s, const char *name, const char *buf,
			       size_t len)
{
	return sv_config(s, name, buf, len, true);
}

/* Wait until @st's current worker has ended and its recording is saved (lock held; the
 * caller holds a ref). A restart's next run does not count. */
static void sv_wait_ended(struct hubfs_streams *s, struct sv_stream *st)
{
	uint64_t run = st->runs;

	while (!st->removed && (st->ended < run || st->commits))
		pthread_cond_wait(&s->cond, &s->lock);
}

static int sv_control_word(struct hubfs_streams *s, struct sv_stream *st, const char *w)
{
	if (!strcmp(w, "start")) {
		if (st->proc_live) {
			sv_error(st, HUBFS_EV_ERROR, "cannot start: the stream is already %s",
				 sv_state_names[st->state]);
			return -EBUSY;
		}
		if (st->state == SV_SCHEDULED) {
			st->sched_done = true;
			sv_store(s, st);
		}
		st->restart_pending = false;
		st->restarts = 0;
		st->backoff_s = 0;
		return sv_spawn(s, st);
	}
	if (!strcmp(w, "stop")) {
		if (st->proc_live) {
			sv_request_stop(s, st);
			sv_wait_ended(s, st);
			return 0;
		}
		if (st->state == SV_SCHEDULED) {
			st->sched_done = true;
			sv_store(s, st);
			hubfs_event(HUBFS_EV_STREAM, "'%s': schedule cancelled", st->name);
		}
		st->restart_pending = false;
		sv_set_state(s, st, SV_IDLE);
		return 0;
	}
	if (!strcmp(w, "restart")) {
		if (!st->proc_live)
			return sv_control_word(s, st, "start");
		sv_request_stop(s, st);
		st->restart_requested = true;
		sv_wait_ended(s, st); /* the exit spawns the next run */
		return !st->proc_live && st->state == SV_FAILED ? -EIO : 0;
	}
	sv_error(st, HUBFS_EV_ERROR,
		 "unknown control word '%.32s' (expected start, stop or restart)", w);
	return -EINVAL;
}

int hubfs_streams_control(struct hubfs_streams *s, const char *name, const char *buf, size_t len)
{
	struct sv_stream *st;
	char word[64];
	size_t i = 0;
	int rc = -EINVAL, words = 0;

	pthread_mutex_lock(&s->lock);
	st = sv_find(s, name);
	if (!st) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	st->refs++;
	while (i < len) {
		size_t end = i, n;

		while (end < len && buf[end] != '\n')
			end++;
		n = end - i;
		while (n &&
		       (buf[i + n - 1] == ' ' || buf[i + n - 1] == '\t' || buf[i + n - 1] == '\r'))
			n--;
		while (n && (buf[i] == ' ' || buf[i] == '\t')) {
			i++;
			n--;
		}
		if (n == 0 && end < len) { /* blank line between words */
			i = end + 1;
			continue;
		}
		if (n >= sizeof(word) || memchr(buf + i, '\0', n)) {
			sv_error(st, HUBFS_EV_ERROR,
				 "unknown control word (expected start, stop or restart)");
			rc = -EINVAL;
			break;
		}
		memcpy(word, buf + i, n);
		word[n] = '\0';
		if (!n)
			break;
		words++;
		rc = sv_control_word(s, st, word);
		if (rc || st->removed)
			break;
		i = end + 1;
	}
	if (!words && rc == -EINVAL)
		sv_error(st, HUBFS_EV_ERROR,
			 "empty control word (expected start, stop or restart)");
	sv_unref(st);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static char *sv_status_text(const struct sv_stream *st)
{
	char since[32], pid[16] = "", output[300];
	int64_t uptime = 0;
	char *text;

	hubfs_stream_time_format(st->since, since, sizeof(since));
	if (st->proc_live) {
		snprintf(pid, sizeof(pid), "%d", (int)st->proc.pid);
		uptime = sv_wall() - st->run_wall;
	}
	hubfs_stream_url_redact(st->conf.output, output, sizeof(output));
	if (asprintf(&text,
		     "state=%s\nsince=%s\npid=%s\nuptime_s=%" PRId64 "\nframes=%" PRIu64
		     "\nfps=%.1f\nbitrate_kbps=%.0f\nspeed=%.2f\ndropped=%" PRIu64
		     "\nrestarts=%u\noutput=%s\nlast_error=%s\n",
		     sv_state_names[st->state], since, pid, uptime, st->frames, st->fps,
		     st->bitrate_kbps, st->speed, st->dropped, st->restarts, output,
		     st->last_error) < 0)
		return NULL;
	return text;
}

int hubfs_streams_status(struct hubfs_streams *s, const char *name, char **out)
{
	return sv_text(s, name, out, sv_status_text);
}

static char *sv_log_text(const struct sv_stream *st)
{
	char *text = malloc(st->log_len + 1);

	if (!text)
		return NULL;
	if (st->log_len)
		memcpy(text, st->log, st->log_len);
	text[st->log_len] = '\0';
	return text;
}

int hubfs_streams_log(struct hubfs_streams *s, const char *name, char **out)
{
	return sv_text(s, name, out, sv_log_text);
}

int hubfs_streams_hls_dir(struct hubfs_streams *s, const char *name, char *buf, size_t len)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = sv_find(s, name) ? sv_path(s, name, "hls", buf, len) : -ENOENT;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void hubfs_streams_counts(struct hubfs_streams *s, unsigned int *total, unsigned int *running)
{
	unsigned int n = 0, r = 0;

	if (s) {
		pthread_mutex_lock(&s->lock);
		for (struct sv_stream *st = s->list; st; st = st->next) {
			n++;
			r += st->proc_live;
		}
		pthread_mutex_unlock(&s->lock);
	}
	*total = n;
	*running = r;
}
