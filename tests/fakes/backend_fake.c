/*
 * backend_fake.c — the recording fake backend of the unit tests (see backend_fake.h).
 *
 * Owns two temp dirs (videos, staging) and an in-memory table of metadata records. Each
 * instance carries its own copy of the ops table, so a test can give it other caps. fb->lock
 * guards the call counters, the open-upload count and the records; the files themselves are
 * left to the kernel, like the local backend does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fakes/backend_fake.h"
#include "hubfs/config.h"

enum fake_op {
	FAKE_OPEN,
	FAKE_CLOSE,
	FAKE_CHECK,
	FAKE_STATFS,
	FAKE_RECOVER,
	FAKE_UPLOAD_BEGIN,
	FAKE_UPLOAD_WRITE,
	FAKE_UPLOAD_TRUNCATE,
	FAKE_UPLOAD_SYNC,
	FAKE_UPLOAD_STAGED_PATH,
	FAKE_UPLOAD_COMMIT,
	FAKE_UPLOAD_ABORT,
	FAKE_READ_OPEN,
	FAKE_READ,
	FAKE_READ_FD,
	FAKE_READ_CLOSE,
	FAKE_REMOVE,
	FAKE_RENAME,
	FAKE_MKDIR,
	FAKE_RMDIR,
	FAKE_LIST,
	FAKE_STAT,
	FAKE_META_GET,
	FAKE_META_PUT,
	FAKE_OP_COUNT
};

/* Names as backend.c's fault hook spells them; faultable: the wrapper calls be_fault(). */
static const struct {
	const char *name;
	bool faultable;
} fake_ops[FAKE_OP_COUNT] = {
	[FAKE_OPEN] = { "open", false },
	[FAKE_CLOSE] = { "close", false },
	[FAKE_CHECK] = { "check", true },
	[FAKE_STATFS] = { "statfs", true },
	[FAKE_RECOVER] = { "recover", false },
	[FAKE_UPLOAD_BEGIN] = { "upload_begin", true },
	[FAKE_UPLOAD_WRITE] = { "upload_write", true },
	[FAKE_UPLOAD_TRUNCATE] = { "upload_truncate", true },
	[FAKE_UPLOAD_SYNC] = { "upload_sync", true },
	[FAKE_UPLOAD_STAGED_PATH] = { "upload_staged_path", false },
	[FAKE_UPLOAD_COMMIT] = { "upload_commit", true },
	[FAKE_UPLOAD_ABORT] = { "upload_abort", false },
	[FAKE_READ_OPEN] = { "read_open", true },
	[FAKE_READ] = { "read", true },
	[FAKE_READ_FD] = { "read_fd", true }, /* faulted as "read" */
	[FAKE_READ_CLOSE] = { "read_close", false },
	[FAKE_REMOVE] = { "remove", true },
	[FAKE_RENAME] = { "rename", true },
	[FAKE_MKDIR] = { "mkdir", true },
	[FAKE_RMDIR] = { "rmdir", true },
	[FAKE_LIST] = { "list", true },
	[FAKE_STAT] = { "stat", true },
	[FAKE_META_GET] = { "meta_get", true },
	[FAKE_META_PUT] = { "meta_put", true },
};

struct fake_rec {
	char *key;
	struct hubfs_video_meta meta;
};

struct fake_backend {
	struct hubfs_backend base; /* first member */
	struct hubfs_backend_ops ops;
	char root[PATH_MAX - 64];    /* the temp dir holding the two below */
	char data[PATH_MAX - 32];    /* root/data: the videos */
	char staging[PATH_MAX - 32]; /* root/staging */
	pthread_mutex_t lock;
	unsigned int calls[FAKE_OP_COUNT]; /* lock */
	unsigned int uploads_open;         /* lock */
	unsigned int seq;                  /* lock */
	int64_t rec_version;               /* lock: last record version marker handed out */
	struct fake_rec *recs;             /* lock */
	size_t nrecs, caprecs;             /* lock */
};

struct hubfs_upload {
	struct fake_backend *fb;
	int fd;
	char staged[PATH_MAX];
};

struct hubfs_reader {
	struct fake_backend *fb;
	int fd;
};

static const struct hubfs_backend_ops fake_template;

static struct fake_backend *fake_of(struct hubfs_backend *be)
{
	if (!be || be->ops->close != fake_template.close) {
		fprintf(stderr, "backend_fake: not a fake backend\n");
		abort();
	}
	return (struct fake_backend *)be;
}

static void fake_count(struct fake_backend *fb, enum fake_op op)
{
	pthread_mutex_lock(&fb->lock);
	fb->calls[op]++;
	pthread_mutex_unlock(&fb->lock);
}

static int fake_path(struct fake_backend *fb, const char *key, char *buf, size_t len)
{
	int n = *key ? snprintf(buf, len, "%s/%s", fb->data, key) :
		       snprintf(buf, len, "%s", fb->data);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* ns since the epoch -> timespec, flooring so that tv_nsec is in [0, 1e9) before 1970 too. */
static struct timespec fake_ts(int64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000), .tv_nsec = ns % 1000000000 };

	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

static int64_t fake_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* ---- records (fb->lock held) ------------------------------------------------------------ */

static struct fake_rec *fake_rec_find(struct fake_backend *fb, const char *key)
{
	for (size_t i = 0; i < fb->nrecs; i++)
		if (!strcmp(fb->recs[i].key, key))
			return &fb->recs[i];
	return NULL;
}

static void fake_rec_drop(struct fake_backend *fb, const char *key)
{
	struct fake_rec *r = fake_rec_find(fb, key);

	if (!r)
		return;
	free(r->key);
	*r = fb->recs[--fb->nrecs];
}

/*
 * Store @meta as @key's record. @bump: a new version of the record (a commit, a chmod...):
 * give it a new version marker, reported back in meta->record_mtime_ns and by list/stat, as
 * the local backend does with its sidecar's mtime; a rename keeps the marker.
 */
static int fake_rec_put(struct fake_backend *fb, const char *key, struct hubfs_video_meta *meta,
			bool bump)
{
	struct fake_rec *r = fake_rec_find(fb, key), *grown;

	if (bump)
		meta->record_mtime_ns = ++fb->rec_version;
	if (r) {
		r->meta = *meta;
		return 0;
	}
	if (fb->nrecs == fb->caprecs) {
		size_t cap = fb->caprecs ? fb->caprecs * 2 : 16;

		grown = realloc(fb->recs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		fb->recs = grown;
		fb->caprecs = cap;
	}
	r = &fb->recs[fb->nrecs];
	r->key = strdup(key);
	if (!r->key)
		return -ENOMEM;
	r->meta = *meta;
	fb->nrecs++;
	return 0;
}

/* Is @key @dir itself or below it? */
static bool fake_under(const char *key, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(key, dir, n) && (key[n] == '\0' || key[n] == '/');
}

/* After a directory rename: records under @from now live under @to. */
static int fake_rec_move_tree(struct fake_backend *fb, const char *from, const char *to)
{
	size_t flen = strlen(from);

	for (size_t i = 0; i < fb->nrecs; i++) {
		char *key;

		if (!fake_under(fb->recs[i].key, from))
			continue;
		if (asprintf(&key, "%s%s", to, fb->recs[i].key + flen) < 0)
			return -ENOMEM;
		free(fb->recs[i].key);
		fb->recs[i].key = key;
	}
	return 0;
}

/* ---- ops -------------------------------------------------------------------------------- */

static int fake_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fake_close(struct hubfs_backend *be)
{
	struct fake_backend *fb = (struct fake_backend *)be;

	if (!fb)
		return;
	if (fb->root[0])
		nftw(fb->root, fake_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < fb->nrecs; i++)
		free(fb->recs[i].key);
	free(fb->recs);
	pthread_mutex_destroy(&fb->lock);
	free(fb);
}

int fake_backend_new(struct hubfs_backend **out, unsigned int caps)
{
	struct fake_backend *fb;
	const char *tmp = getenv("TMPDIR");
	int rc;

	*out = NULL;
	fb = calloc(1, sizeof(*fb));
	if (!fb)
		return -ENOMEM;
	pthread_mutex_init(&fb->lock, NULL);
	fb->ops = fake_template;
	fb->ops.caps = caps;
	fb->base.ops = &fb->ops;
	snprintf(fb->root, sizeof(fb->root), "%s/hubfs-fake-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fb->root)) {
		rc = -errno;
		fb->root[0] = '\0';
		goto out;
	}
	snprintf(fb->data, sizeof(fb->data), "%s/data", fb->root);
	snprintf(fb->staging, sizeof(fb->staging), "%s/staging", fb->root);
	if (mkdir(fb->data, 0755) || mkdir(fb->staging, 0755)) {
		rc = -errno;
		goto out;
	}
	*out = &fb->base;
	return 0;
out:
	fake_close(&fb->base);
	return rc;
}

static int fake_open(struct hubfs_backend **out, const struct hubfs_config *cfg,
		     const char *instance, char *err, size_t errlen)
{
	int rc;

	(void)cfg;
	(void)instance;
	rc = fake_backend_new(out, FAKE_BACKEND_CAPS_LOCAL);
	if (rc)
		snprintf(err, errlen, "fake backend: %s", strerror(-rc));
	else
		fake_count(fake_of(*out), FAKE_OPEN);
	return rc;
}

static int fake_check(struct hubfs_backend *be, char *msg, size_t len)
{
	fake_count(fake_of(be), FAKE_CHECK);
	snprintf(msg, len, "ok");
	return 0;
}

static int fake_statfs(struct hubfs_backend *be, struct statvfs *st)
{
	struct fake_backend *fb = fake_of(be);

	fake_count(fb, FAKE_STATFS);
	return statvfs(fb->data, st) ? -errno : 0;
}

static int fake_recover(struct hubfs_backend *be)
{
	struct fake_backend *fb = fake_of(be);
	struct dirent *de;
	DIR *d;

	fake_count(fb, FAKE_RECOVER);
	d = opendir(fb->staging);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	return 0;
}

static int fake_upload_begin(struct hubfs_backend *be, const char *key, struct hubfs_upload **out)
{
	struct fake_backend *fb = fake_of(be);
	struct hubfs_upload *up;
	unsigned int seq;
	int rc;

	(void)key;
	fake_count(fb, FAKE_UPLOAD_BEGIN);
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->fb = fb;
	pthread_mutex_lock(&fb->lock);
	seq = fb->seq++;
	pthread_mutex_unlock(&fb->lock);
	snprintf(up->staged, sizeof(up->staged), "%s/up-%u", fb->staging, seq);
	up->fd = open(up->staged, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (up->fd < 0) {
		rc = -errno;
		free(up);
		return rc;
	}
	pthread_mutex_lock(&fb->lock);
	fb->uploads_open++;
	pthread_mutex_unlock(&fb->lock);
	*out = up;
	return 0;
}

static ssize_t fake_upload_write(struct hubfs_upload *up, const void *buf, size_t n, off_t off)
{
	ssize_t w;

	fake_count(up->fb, FAKE_UPLOAD_WRITE);
	w = pwrite(up->fd, buf, n, off);
	return w < 0 ? -errno : w;
}

static int fake_upload_truncate(struct hubfs_upload *up, off_t size)
{
	fake_count(up->fb, FAKE_UPLOAD_TRUNCATE);
	return ftruncate(up->fd, size) ? -errno : 0;
}

static int fake_upload_sync(struct hubfs_upload *up)
{
	fake_count(up->fb, FAKE_UPLOAD_SYNC);
	return 0; /* writes are synchronous here */
}

static const char *fake_upload_staged_path(struct hubfs_upload *up)
{
	fake_count(up->fb, FAKE_UPLOAD_STAGED_PATH);
	return up->staged;
}

static void fake_upload_free(struct hubfs_upload *up, bool unlink_staged)
{
	struct fake_backend *fb = up->fb;

	if (unlink_staged)
		unlink(up->staged);
	close(up->fd);
	pthread_mutex_lock(&fb->lock);
	fb->uploads_open--;
	pthread_mutex_unlock(&fb->lock);
	free(up);
}

static int fake_upload_commit(struct hubfs_upload *up, const char *key,
			      struct hubfs_video_meta *meta)
{
	struct fake_backend *fb = up->fb;
	char path[PATH_MAX];
	struct stat st;
	int rc;

	fake_count(fb, FAKE_UPLOAD_COMMIT);
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && meta->mode && fchmod(up->fd, meta->mode & 07777))
		rc = -errno;
	if (!rc && meta->mtime_ns) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, fake_ts(meta->mtime_ns) };

		if (futimens(up->fd, ts))
			rc = -errno;
	}
	if (!rc && fstat(up->fd, &st))
		rc = -errno;
	if (!rc && rename(up->staged, path))
		rc = -errno;
	if (rc) {
		fake_upload_free(up, true);
		return rc;
	}
	meta->file_size = (uint64_t)st.st_size;
	meta->file_mtime_ns = fake_mtime_ns(&st);
	if (!meta->mtime_ns)
		meta->mtime_ns = meta->file_mtime_ns;
	pthread_mutex_lock(&fb->lock);
	rc = fake_rec_put(fb, key, meta, true);
	pthread_mutex_unlock(&fb->lock);
	fake_upload_free(up, false);
	return rc;
}

static void fake_upload_abort(struct hubfs_upload *up)
{
	fake_count(up->fb, FAKE_UPLOAD_ABORT);
	fake_upload_free(up, true);
}

static int fake_read_open(struct hubfs_backend *be, const char *key, struct hubfs_reader **out)
{
	struct fake_backend *fb = fake_of(be);
	struct hubfs_reader *r;
	char path[PATH_MAX];
	int fd, rc;

	fake_count(fb, FAKE_READ_OPEN);
	rc = fake_path(fb, key, path, sizeof(path));
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = malloc(sizeof(*r));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fb = fb;
	r->fd = fd;
	*out = r;
	return 0;
}

static ssize_t fake_read(struct hubfs_reader *r, void *buf, size_t n, off_t off)
{
	ssize_t got;

	fake_count(r->fb, FAKE_READ);
	got = pread(r->fd, buf, n, off);

	return got < 0 ? -errno : got;
}

static int fake_read_fd(struct hubfs_reader *r)
{
	fake_count(r->fb, FAKE_READ_FD);
	return r->fd;
}

static void fake_read_close(struct hubfs_reader *r)
{
	fake_count(r->fb, FAKE_READ_CLOSE);
	close(r->fd);
	free(r);
}

static int fake_remove(struct hubfs_backend *be, const char *key)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	int rc;

	fake_count(fb, FAKE_REMOVE);
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && unlink(path))
		rc = -errno;
	if (rc)
		return rc;
	pthread_mutex_lock(&fb->lock);
	fake_rec_drop(fb, key);
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static int fake_rename(struct hubfs_backend *be, const char *from, const char *to)
{
	struct fake_backend *fb = fake_of(be);
	char pfrom[PATH_MAX], pto[PATH_MAX];
	struct hubfs_video_meta meta;
	struct fake_rec *r;
	struct stat st;
	int rc;

	fake_count(fb, FAKE_RENAME);
	rc = fake_path(fb, from, pfrom, sizeof(pfrom));
	if (!rc)
		rc = fake_path(fb, to, pto, sizeof(pto));
	if (!rc && lstat(pfrom, &st))
		rc = -errno;
	if (!rc && rename(pfrom, pto))
		rc = -errno;
	if (rc || !strcmp(from, to))
		return rc;
	pthread_mutex_lock(&fb->lock);
	if (S_ISDIR(st.st_mode)) {
		rc = fake_rec_move_tree(fb, from, to);
	} else {
		/* The replaced video's record goes with it; ours follows the bytes. */
		fake_rec_drop(fb, to);
		r = fake_rec_find(fb, from);
		if (r) {
			meta = r->meta;
			fake_rec_drop(fb, from);
			rc = fake_rec_put(fb, to, &meta, false);
		}
	}
	pthread_mutex_unlock(&fb->lock);
	return rc;
}

static int fake_mkdir(struct hubfs_backend *be, const char *key, uint32_t mode)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	int rc;

	fake_count(fb, FAKE_MKDIR);
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && mkdir(path, mode & 07777))
		rc = -errno;
	return rc;
}

static int fake_rmdir(struct hubfs_backend *be, const char *key)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	int rc;

	fake_count(fb, FAKE_RMDIR);
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && rmdir(path))
		rc = -errno;
	return rc;
}

/* The version marker of the record of @dir/@name (0: none). */
static int64_t fake_rec_version(struct fake_backend *fb, const char *dir, const char *name)
{
	char key[PATH_MAX];
	struct fake_rec *r;
	int64_t v;

	snprintf(key, sizeof(key), "%s%s%s", dir, *dir ? "/" : "", name);
	pthread_mutex_lock(&fb->lock);
	r = fake_rec_find(fb, key);
	v = r ? r->meta.record_mtime_ns : 0;
	pthread_mutex_unlock(&fb->lock);
	return v;
}

static int fake_list(struct hubfs_backend *be, const char *key, hubfs_backend_list_fn fn, void *arg)
{
	struct fake_backend *fb = fake_of(be);
	struct hubfs_backend_entry e;
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc;

	fake_count(fb, FAKE_LIST);
	rc = fake_path(fb, key, path, sizeof(path));
	if (rc)
		return rc;
	d = opendir(path);
	if (!d)
		return -errno;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		e.name = de->d_name;
		e.is_dir = S_ISDIR(st.st_mode);
		e.size = (uint64_t)st.st_size;
		e.mtime_ns = fake_mtime_ns(&st);
		e.record_mtime_ns = fake_rec_version(fb, key, de->d_name);
		rc = fn(arg, &e);
	}
	closedir(d);
	return rc;
}

static int fake_stat(struct hubfs_backend *be, const char *key, struct hubfs_backend_entry *e)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	struct stat st;
	int rc;

	fake_count(fb, FAKE_STAT);
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && lstat(path, &st))
		rc = -errno;
	if (rc)
		return rc;
	e->name = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
	e->is_dir = S_ISDIR(st.st_mode);
	e->size = (uint64_t)st.st_size;
	e->mtime_ns = fake_mtime_ns(&st);
	e->record_mtime_ns = fake_rec_version(fb, "", key);
	return 0;
}

static int fake_meta_get(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta)
{
	struct fake_backend *fb = fake_of(be);

	fake_count(fb, FAKE_META_GET);
	return fake_backend_meta(be, key, meta);
}

static int fake_meta_put(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	struct stat st;
	int rc;

	fake_count(fb, FAKE_META_PUT);
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && meta->mtime_ns) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, fake_ts(meta->mtime_ns) };

		if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
			rc = -errno;
	}
	if (!rc && meta->mode && chmod(path, meta->mode & 07777))
		rc = -errno;
	if (!rc && lstat(path, &st))
		rc = -errno;
	if (!rc && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (rc)
		return rc;
	meta->file_size = (uint64_t)st.st_size;
	meta->file_mtime_ns = fake_mtime_ns(&st);
	pthread_mutex_lock(&fb->lock);
	rc = fake_rec_put(fb, key, meta, true);
	pthread_mutex_unlock(&fb->lock);
	return rc;
}

static const struct hubfs_backend_ops fake_template = {
	.version = HUBFS_BACKEND_OPS_VERSION,
	.name = "fake",
	.caps = FAKE_BACKEND_CAPS_LOCAL,
	.open = fake_open,
	.close = fake_close,
	.check = fake_check,
	.statfs = fake_statfs,
	.recover = fake_recover,
	.upload_begin = fake_upload_begin,
	.upload_write = fake_upload_write,
	.upload_truncate = fake_upload_truncate,
	.upload_sync = fake_upload_sync,
	.upload_staged_path = fake_upload_staged_path,
	.upload_commit = fake_upload_commit,
	.upload_abort = fake_upload_abort,
	.read_open = fake_read_open,
	.read = fake_read,
	.read_fd = fake_read_fd,
	.read_close = fake_read_close,
	.remove = fake_remove,
	.rename = fake_rename,
	.mkdir = fake_mkdir,
	.rmdir = fake_rmdir,
	.list = fake_list,
	.stat = fake_stat,
	.meta_get = fake_meta_get,
	.meta_put = fake_meta_put,
};

/* ---- test helpers ----------------------------------------------------------------------- */

const char *fake_backend_data_dir(struct hubfs_backend *be)
{
	return fake_of(be)->data;
}

unsigned int fake_backend_calls(struct hubfs_backend *be, const char *op)
{
	struct fake_backend *fb = fake_of(be);
	unsigned int n;

	for (int i = 0; i < FAKE_OP_COUNT; i++) {
		if (strcmp(fake_ops[i].name, op))
			continue;
		pthread_mutex_lock(&fb->lock);
		n = fb->calls[i];
		pthread_mutex_unlock(&fb->lock);
		return n;
	}
	fprintf(stderr, "backend_fake: no op '%s'\n", op);
	abort();
}

unsigned int fake_backend_faultable_calls(struct hubfs_backend *be)
{
	struct fake_backend *fb = fake_of(be);
	unsigned int n = 0;

	pthread_mutex_lock(&fb->lock);
	for (int i = 0; i < FAKE_OP_COUNT; i++)
		if (fake_ops[i].faultable)
			n += fb->calls[i];
	pthread_mutex_unlock(&fb->lock);
	return n;
}

void fake_backend_reset_calls(struct hubfs_backend *be)
{
	struct fake_backend *fb = fake_of(be);

	pthread_mutex_lock(&fb->lock);
	memset(fb->calls, 0, sizeof(fb->calls));
	pthread_mutex_unlock(&fb->lock);
}

unsigned int fake_backend_uploads_open(struct hubfs_backend *be)
{
	struct fake_backend *fb = fake_of(be);
	unsigned int n;

	pthread_mutex_lock(&fb->lock);
	n = fb->uploads_open;
	pthread_mutex_unlock(&fb->lock);
	return n;
}

unsigned int fake_backend_staged_files(struct hubfs_backend *be)
{
	struct fake_backend *fb = fake_of(be);
	struct dirent *de;
	unsigned int n = 0;
	DIR *d;

	d = opendir(fb->staging);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct fake_keys {
	char **v;
	size_t n, cap;
	bool oom;
};

static void fake_keys_add(struct fake_keys *k, const char *key, bool is_dir)
{
	char **grown, *s;

	if (k->oom)
		return;
	if (k->n + 1 >= k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;

		grown = realloc(k->v, cap * sizeof(*grown));
		if (!grown) {
			k->oom = true;
			return;
		}
		k->v = grown;
		k->cap = cap;
	}
	if (asprintf(&s, "%s%s", key, is_dir ? "/" : "") < 0) {
		k->oom = true;
		return;
	}
	k->v[k->n++] = s;
	k->v[k->n] = NULL;
}

static void fake_keys_walk(struct fake_backend *fb, const char *dir, struct fake_keys *k)
{
	char path[PATH_MAX], key[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fake_path(fb, dir, path, sizeof(path)))
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		snprintf(key, sizeof(key), "%s%s%s", dir, *dir ? "/" : "", de->d_name);
		fake_keys_add(k, key, S_ISDIR(st.st_mode));
		if (S_ISDIR(st.st_mode))
			fake_keys_walk(fb, key, k);
	}
	closedir(d);
}

static int fake_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **fake_backend_keys(struct hubfs_backend *be)
{
	struct fake_keys k = { .cap = 16 };

	k.v = calloc(k.cap, sizeof(*k.v)); /* NULL-terminated even when empty */
	if (!k.v)
		return NULL;
	fake_keys_walk(fake_of(be), "", &k);
	if (k.oom) {
		fake_backend_keys_free(k.v);
		return NULL;
	}
	qsort(k.v, k.n, sizeof(*k.v), fake_strcmp);
	return k.v;
}

void fake_backend_keys_free(char **keys)
{
	if (!keys)
		return;
	for (size_t i = 0; keys[i]; i++)
		free(keys[i]);
	free(keys);
}

int fake_backend_meta(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *out)
{
	struct fake_backend *fb = fake_of(be);
	struct fake_rec *r;
	int rc = -ENOENT;

	pthread_mutex_lock(&fb->lock);
	r = fake_rec_find(fb, key);
	if (r) {
		*out = r->meta;
		rc = 0;
	}
	pthread_mutex_unlock(&fb->lock);
	return rc;
}

int fake_backend_hand_mkdir(struct hubfs_backend *be, const char *key)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	char *p;
	int rc;

	rc = fake_path(fb, key, path, sizeof(path));
	if (rc)
		return rc;
	for (p = path + strlen(fb->data) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

static int fake_copy(const char *src, const char *dst)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	}
	if (n < 0)
		rc = -errno;
	close(in);
	close(out);
	return rc;
}

int fake_backend_hand_put(struct hubfs_backend *be, const char *key, const char *src,
			  const struct hubfs_video_meta *meta, int64_t mtime_ns)
{
	struct fake_backend *fb = fake_of(be);
	struct hubfs_video_meta rec;
	char path[PATH_MAX], parent[PATH_MAX];
	const char *slash = strrchr(key, '/');
	struct stat st;
	int rc;

	if (slash) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - key), key);
		rc = fake_backend_hand_mkdir(be, parent);
		if (rc)
			return rc;
	}
	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc)
		rc = fake_copy(src, path);
	if (!rc && mtime_ns)
		rc = fake_backend_hand_set_mtime(be, key, mtime_ns);
	if (!rc && stat(path, &st))
		rc = -errno;
	if (rc || !meta)
		return rc;
	rec = *meta;
	rec.file_size = (uint64_t)st.st_size;
	rec.file_mtime_ns = fake_mtime_ns(&st);
	pthread_mutex_lock(&fb->lock);
	rc = fake_rec_put(fb, key, &rec, true);
	pthread_mutex_unlock(&fb->lock);
	return rc;
}

int fake_backend_hand_set_mtime(struct hubfs_backend *be, const char *key, int64_t mtime_ns)
{
	char path[PATH_MAX];
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, fake_ts(mtime_ns) };
	int rc;

	rc = fake_path(fake_of(be), key, path, sizeof(path));
	if (!rc && utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		rc = -errno;
	return rc;
}

int fake_backend_hand_remove(struct hubfs_backend *be, const char *key)
{
	struct fake_backend *fb = fake_of(be);
	char path[PATH_MAX];
	int rc;

	rc = fake_path(fb, key, path, sizeof(path));
	if (!rc && remove(path))
		rc = -errno;
	if (!rc)
		fake_backend_hand_drop_meta(be, key);
	return rc;
}

void fake_backend_hand_drop_meta(struct hubfs_backend *be, const char *key)
{
	struct fake_backend *fb = fake_of(be);

	pthread_mutex_lock(&fb->lock);
	fake_rec_drop(fb, key);
	pthread_mutex_unlock(&fb->lock);
}
