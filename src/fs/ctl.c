/*
 * ctl.c — the .hub/ directory type: the hub's own state as read-only files.
 *
 * status, metrics, config, uploads, peers and check are generated when opened (and again
 * when a reader comes back to offset 0), served with direct_io so a read never returns
 * stale or truncated content. events is the event log file itself, read through, so
 * `tail -f` sees it grow (fs.c invalidates its cached size after each event).
 *
 * Threads: FUSE workers; each handle is private to its open file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/catalog_notes.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/library.h"
#include "hubfs/streams.h"

enum ctl_file {
	CTL_STATUS,
	CTL_EVENTS,
	CTL_METRICS,
	CTL_CONFIG,
	CTL_UPLOADS,
	CTL_PEERS,
	CTL_CHECK
};

static const char *const ctl_names[] = {
	[CTL_STATUS] = "status", [CTL_EVENTS] = "events",   [CTL_METRICS] = "metrics",
	[CTL_CONFIG] = "config", [CTL_UPLOADS] = "uploads", [CTL_PEERS] = "peers",
	[CTL_CHECK] = "check",
};

#define CTL_NFILES (sizeof(ctl_names) / sizeof(ctl_names[0]))

struct ctl_handle {
	struct hubfs_handle base; /* first member */
	enum ctl_file which;
	char *text; /* generated content */
	size_t len;
	bool served; /* a read happened: offset 0 again means "read it anew" */
	int fd;      /* CTL_EVENTS */
};

static int ctl_lookup(const char *sub)
{
	for (size_t i = 0; i < CTL_NFILES; i++)
		if (!strcmp(sub, ctl_names[i]))
			return (int)i;
	return -1;
}

/* A growing string; on ENOMEM the text is dropped and NULL returned by ctl_generate. */
struct ctl_buf {
	char *s;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void ctl_printf(struct ctl_buf *b, const char *fmt,
							     ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *grown = realloc(b->s, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->s = grown;
		b->cap = cap;
	}
}

/* Append a malloc'd text (NULL: the producer ran out of memory) and free it. */
static void ctl_take(struct ctl_buf *b, char *text)
{
	if (text)
		ctl_printf(b, "%s", text);
	else
		b->failed = true;
	free(text);
}

static void ctl_status(struct hubfs_fs *fs, struct ctl_buf *b)
{
	uint64_t videos = 0, bytes = 0, notes = 0, shared = 0;
	unsigned int streams, running;

	hubfs_catalog_totals(fs->cat, &videos, &bytes);
	hubfs_streams_counts(fs->streams, &streams, &running);
	ctl_printf(b, "version=%s\n", HUBFS_VERSION);
	ctl_printf(b, "node=%s\n", fs->cfg->node_name);
	ctl_printf(b, "backend=%s\n", hubfs_backend_name(fs->be));
	ctl_printf(b, "uptime=%ld\n", (long)(time(NULL) - fs->started));
	ctl_printf(b, "videos=%" PRIu64 "\n", videos);
	ctl_printf(b, "bytes=%" PRIu64 "\n", bytes);
	hubfs_catalog_note_totals(fs->cat, &notes, &shared);
	ctl_printf(b, "streams=%u\nrunning=%u\n", streams, running);
	ctl_printf(b, "notes=%" PRIu64 "\nshared=%" PRIu64 "\n", notes, shared);
	ctl_printf(b, "peers=0\n");
	ctl_printf(b, "uploads=%u\n", hubfs_library_uploads_count(fs->lib));
}

static void ctl_metrics(struct hubfs_fs *fs, struct ctl_buf *b)
{
	uint64_t videos = 0, bytes = 0, notes = 0, shared = 0;
	unsigned int streams, running;
	char backend[4096];

	hubfs_catalog_totals(fs->cat, &videos, &bytes);
	ctl_printf(b, "# HELP hubfs_up Whether the hub is mounted.\n# TYPE hubfs_up gauge\n");
	ctl_printf(b, "hubfs_up 1\n");
	ctl_printf(b,
		   "# HELP hubfs_uptime_seconds Seconds since mount.\n"
		   "# TYPE hubfs_uptime_seconds gauge\n");
	ctl_printf(b, "hubfs_uptime_seconds %ld\n", (long)(time(NULL) - fs->started));
	ctl_printf(b, "# HELP hubfs_videos Videos in the library.\n# TYPE hubfs_videos gauge\n");
	ctl_printf(b, "hubfs_videos %" PRIu64 "\n", videos);
	ctl_printf(b,
		   "# HELP hubfs_video_bytes Bytes of all videos.\n"
		   "# TYPE hubfs_video_bytes gauge\n");
	ctl_printf(b, "hubfs_video_bytes %" PRIu64 "\n", bytes);
	ctl_printf(b,
		   "# HELP hubfs_uploads_in_progress Videos being written.\n"
		   "# TYPE hubfs_uploads_in_progress gauge\n");
	ctl_printf(b, "hubfs_uploads_in_progress %u\n", hubfs_library_uploads_count(fs->lib));
	hubfs_catalog_note_totals(fs->cat, &notes, &shared);
	ctl_printf(b, "# HELP hubfs_notes Notes (live).\n# TYPE hubfs_notes gauge\n");
	ctl_printf(b, "hubfs_notes %" PRIu64 "\n", notes);
	ctl_printf(b,
		   "# HELP hubfs_notes_shared Notes shared with peers.\n"
		   "# TYPE hubfs_notes_shared gauge\n");
	ctl_printf(b, "hubfs_notes_shared %" PRIu64 "\n", shared);
	if (hubfs_backend_metrics(fs->be, backend, sizeof(backend)) > 0)
		ctl_printf(b, "%s", backend);
	hubfs_streams_counts(fs->streams, &streams, &running);
	ctl_printf(b, "# HELP hubfs_streams Streams defined.\n# TYPE hubfs_streams gauge\n");
	ctl_printf(b, "hubfs_streams %u\n", streams);
	ctl_printf(b,
		   "# HELP hubfs_streams_running Streams with a worker running.\n"
		   "# TYPE hubfs_streams_running gauge\n");
	ctl_printf(b, "hubfs_streams_running %u\n", running);
}

/* Build the text of @which; NULL on ENOMEM. */
static char *ctl_generate(struct hubfs_fs *fs, enum ctl_file which, size_t *len)
{
	struct ctl_buf b = { 0 };
	char msg[512];

	switch (which) {
	case CTL_STATUS:
		ctl_status(fs, &b);
		break;
	case CTL_METRICS:
		ctl_metrics(fs, &b);
		break;
	case CTL_CONFIG:
		ctl_take(&b, hubfs_config_format(fs->cfg));
		break;
	case CTL_UPLOADS:
		ctl_take(&b, hubfs_library_uploads_format(fs->lib));
		break;
	case CTL_PEERS:
		ctl_printf(&b, "%s", ""); /* peer sync arrives with its own issue */
		break;
	case CTL_CHECK:
		if (hubfs_backend_check(fs->be, msg, sizeof(msg)))
			ctl_printf(&b, "error: %s\n", msg);
		else
			ctl_printf(&b, "ok\n");
		break;
	case CTL_EVENTS:
		break;
	}
	if (b.failed) {
		free(b.s);
		return NULL;
	}
	if (!b.s) {
		b.s = strdup("");
		if (!b.s)
			return NULL;
	}
	*len = b.len;
	return b.s;
}

static int ctl_getattr(struct hubfs_fs *fs, const char *sub, struct stat *st)
{
	struct stat est;
	size_t len = 0;
	char *text;
	int which;

	if (!*sub) {
		hubfs_fs_fill_dir(st, 0555, fs->started);
		return 0;
	}
	which = ctl_lookup(sub);
	if (which < 0)
		return -ENOENT;
	if (which == CTL_EVENTS) {
		hubfs_fs_fill_file(st, 0444, 0, time(NULL));
		if (hubfs_events_path() && !stat(hubfs_events_path(), &est)) {
			st->st_size = est.st_size;
			st->st_mtim = est.st_mtim;
		}
		return 0;
	}
	/* The size of what a read would return now (check would run the backend: 0). */
	if (which != CTL_CHECK) {
		text = ctl_generate(fs, which, &len);
		free(text);
	}
	hubfs_fs_fill_file(st, 0444, (off_t)len, time(NULL));
	return 0;
}

static int ctl_readdir(struct hubfs_fs *fs, const char *sub, void *buf, fuse_fill_dir_t fill,
		       enum fuse_readdir_flags flags)
{
	(void)fs;
	(void)flags;
	if (*sub)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (size_t i = 0; i < CTL_NFILES; i++)
		fill(buf, ctl_names[i], NULL, 0, 0);
	return 0;
}

static int ctl_open(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi)
{
	struct ctl_handle *h;
	int which = ctl_lookup(sub);

	if (which < 0)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->base.ops = &hubfs_ctl_ops;
	h->which = (enum ctl_file)which;
	h->fd = -1;
	if (which == CTL_EVENTS) {
		h->fd = hubfs_events_path() ? open(hubfs_events_path(), O_RDONLY | O_CLOEXEC) : -1;
		if (h->fd < 0) {
			free(h);
			return -EIO;
		}
	} else {
		h->text = ctl_generate(fs, h->which, &h->len);
		if (!h->text) {
			free(h);
			return -ENOMEM;
		}
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int ctl_read(struct hubfs_fs *fs, struct hubfs_handle *hh, char *buf, size_t size, off_t off)
{
	struct ctl_handle *h = (struct ctl_handle *)hh;
	ssize_t n;

	if (h->which == CTL_EVENTS) {
		n = pread(h->fd, buf, size, off);
		return n < 0 ? -errno : (int)n;
	}
	if (off == 0 && h->served) {
		size_t len;
		char *text = ctl_generate(fs, h->which, &len);

		if (!text)
			return -ENOMEM;
		free(h->text);
		h->text = text;
		h->len = len;
	}
	h->served = true;
	if ((size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->text + off, size);
	return (int)size;
}

static int ctl_release(struct hubfs_fs *fs, struct hubfs_handle *hh)
{
	struct ctl_handle *h = (struct ctl_handle *)hh;

	(void)fs;
	if (h->fd >= 0)
		close(h->fd);
	free(h->text);
	free(h);
	return 0;
}

static int ctl_truncate(struct hubfs_fs *fs, const char *sub, off_t size, struct hubfs_handle *h)
{
	(void)fs;
	(void)sub;
	(void)size;
	(void)h;
	return -EACCES;
}

const struct hubfs_dir_ops hubfs_ctl_ops = {
	.name = ".hub",
	.getattr = ctl_getattr,
	.readdir = ctl_readdir,
	.open = ctl_open,
	.read = ctl_read,
	.release = ctl_release,
	.truncate = ctl_truncate,
};
