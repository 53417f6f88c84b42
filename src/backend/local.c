/*
 * local.c — the local backend: videos as files in data_dir (a local disk or an NFS export).
 *
 * Layout inside data_dir:
 *   PATH                  the video bytes, exactly as written
 *   DIR/.NAME.hubfs       its metadata sidecar (key=value, include/hubfs/video.h)
 *   .hubfs/staging/       uploads being written: INSTANCE-SEQ, same filesystem as the
 *                         videos, so commit is one atomic rename
 * Several mounts may share one data_dir (NFS): staged names carry the mount's instance id,
 * and recover() removes only this instance's leftovers (others' only when a day old).
 *
 * The staged file itself is written by local_stage.c (O_DIRECT on a writer thread for the
 * sequential part). Durability: commit waits for those writes, fsyncs the bytes, renames
 * them into place and fsyncs the directory before it returns; sidecars are written
 * atomically (temp + rename) but not fsynced — a lost or stale sidecar is detected by its
 * recorded size/mtime and the video re-validated. The sidecar's own mtime is the version
 * marker of the record (hubfs_backend_entry.record_mtime_ns).
 *
 * Threads: any. The backend holds only immutable state after open plus an atomic counter;
 * each upload/reader handle is used by one thread at a time (an upload's stage runs a
 * writer thread of its own).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/backend.h"
#include "hubfs/config.h"
#include "hubfs/log.h"
#include "hubfs/names.h"

#include "backend/local_stage.h"

#define LOCAL_STAGING ".hubfs/staging"
#define LOCAL_SIDECAR_SUFFIX ".hubfs"
#define LOCAL_STALE_SECONDS (24 * 3600)

struct local_backend {
	struct hubfs_backend base; /* first member */
	int root_fd;               /* O_DIRECTORY fd of data_dir */
	char *root;                /* data_dir, for messages */
	char instance[64];
	atomic_uint seq;
};

struct hubfs_upload {
	struct local_backend *be;
	struct local_stage *stage; /* the staged file (local_stage.c) */
	char rel[128];             /* staged file, relative to root_fd */
	char staged_path[PATH_MAX];
};

struct hubfs_reader {
	int fd;
};

static struct local_backend *local_of(struct hubfs_backend *be)
{
	return (struct local_backend *)be;
}

/* "a/b.mp4" -> "a/.b.mp4.hubfs" */
static int local_sidecar(const char *key, char *buf, size_t len)
{
	const char *base = hubfs_path_base(key);
	int n = snprintf(buf, len, "%.*s.%s" LOCAL_SIDECAR_SUFFIX, (int)(base - key), key, base);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

/* fsync the directory holding @key (the root for a top-level key). */
static int local_sync_parent(struct local_backend *lb, const char *key)
{
	const char *base = hubfs_path_base(key);
	char dir[PATH_MAX];
	int fd, rc = 0;

	if (base == key)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(base - key - 1), key);
	fd = openat(lb->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

static int64_t local_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/*
 * ns since the epoch -> timespec for futimens/utimensat. Floors, so that a time before 1970
 * (cp -a, touch -d 1969-...) gets tv_nsec in [0, 1e9) as the kernel requires (C's % would
 * make it negative: EINVAL).
 */
static struct timespec local_ts(int64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000), .tv_nsec = ns % 1000000000 };

	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

static int local_mkdirs(int dirfd, const char *rel)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(dirfd, buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdirat(dirfd, buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* opendir of @rel under data_dir (fd-relative, so a renamed data_dir path cannot race). */
static int local_opendir(struct local_backend *lb, const char *rel, DIR **out)
{
	int fd = openat(lb->root_fd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return -errno;
	*out = fdopendir(fd);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

static int local_open(struct hubfs_backend **out, const struct hubfs_config *cfg,
		      const char *instance, char *err, size_t errlen)
{
	struct local_backend *lb;
	struct stat st;
	int rc;

	*out = NULL;
	if (stat(cfg->data_dir, &st) && errno == ENOENT)
		mkdir(cfg->data_dir, 0755); /* one level, like the original hub's uploads/ */
	if (stat(cfg->data_dir, &st)) {
		rc = -errno;
		snprintf(err, errlen, "data_dir '%s' is not usable: %s", cfg->data_dir,
			 strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data_dir '%s' is not a directory", cfg->data_dir);
		return -ENOTDIR;
	}
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->base.ops = &hubfs_backend_local_ops;
	lb->root_fd = -1;
	lb->root = strdup(cfg->data_dir);
	if (!lb->root) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(lb->instance, sizeof(lb->instance), "%s", instance);
	lb->root_fd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lb->root_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "data_dir '%s' cannot be opened: %s", cfg->data_dir,
			 strerror(errno));
		goto out;
	}
	rc = local_mkdirs(lb->root_fd, LOCAL_STAGING);
	if (rc) {
		snprintf(err, errlen, "data_dir '%s' is not writable: %s", cfg->data_dir,
			 strerror(-rc));
		goto out;
	}
	if (faccessat(lb->root_fd, LOCAL_STAGING, W_OK, AT_EACCESS)) {
		rc = -errno;
		snprintf(err, errlen, "data_dir '%s' is not writable: %s", cfg->data_dir,
			 strerror(errno));
		goto out;
	}
	*out = &lb->base;
	return 0;
out:
	if (lb->root_fd >= 0)
		close(lb->root_fd);
	free(lb->root);
	free(lb);
	return rc;
}

static void local_close(struct hubfs_backend *be)
{
	struct local_backend *lb = local_of(be);

	if (!lb)
		return;
	close(lb->root_fd);
	free(lb->root);
	free(lb);
}

static int local_statfs(struct hubfs_backend *be, struct statvfs *st)
{
	return fstatvfs(local_of(be)->root_fd, st) ? -errno : 0;
}

static int local_check(struct hubfs_backend *be, char *msg, size_t len)
{
	struct local_backend *lb = local_of(be);
	char probe[128];
	int fd, rc = 0;

	snprintf(probe, sizeof(probe), LOCAL_STAGING "/%s-check", lb->instance);
	fd = openat(lb->root_fd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "ok\n", 3) != 3 || fsync(fd))
		rc = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	unlinkat(lb->root_fd, probe, 0);
	if (rc)
		snprintf(msg, len, "data_dir '%s' is not writable: %s", lb->root, strerror(-rc));
	else
		snprintf(msg, len, "ok");
	return rc;
}

static int local_recover(struct hubfs_backend *be)
{
	struct local_backend *lb = local_of(be);
	size_t ilen = strlen(lb->instance);
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int fd, rc, removed = 0;

	rc = local_opendir(lb, LOCAL_STAGING, &d);
	if (rc)
		return rc;
	fd = dirfd(d);
	while ((de = readdir(d))) {
		bool mine = !strncmp(de->d_name, lb->instance, ilen) && de->d_name[ilen] == '-';

		if (de->d_name[0] == '.')
			continue;
		if (!mine && (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			      now - st.st_mtime < LOCAL_STALE_SECONDS))
			continue;
		if (!unlinkat(fd, de->d_name, 0))
			removed++;
	}
	closedir(d);
	if (removed)
		hubfs_log(HUBFS_LOG_INFO, "local: removed %d staged leftover(s) in '%s/%s'",
			  removed, lb->root, LOCAL_STAGING);
	return 0;
}

static int local_upload_begin(struct hubfs_backend *be, const char *key, struct hubfs_upload **out)
{
	struct local_backend *lb = local_of(be);
	struct hubfs_upload *up;
	int rc;

	(void)key;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->be = lb;
	snprintf(up->rel, sizeof(up->rel), LOCAL_STAGING "/%s-%u", lb->instance,
		 atomic_fetch_add(&lb->seq, 1));
	snprintf(up->staged_path, sizeof(up->staged_path), "%s/%s", lb->root, up->rel);
	rc = local_stage_open(&up->stage, lb->root_fd, up->rel);
	if (rc) {
		free(up);
		return rc;
	}
	*out = up;
	return 0;
}

static ssize_t local_upload_write(struct hubfs_upload *up, const void *buf, size_t n, off_t off)
{
	return local_stage_write(up->stage, buf, n, off);
}

static int local_upload_sync(struct hubfs_upload *up)
{
	return local_stage_sync(up->stage);
}

static int local_upload_truncate(struct hubfs_upload *up, off_t size)
{
	return local_stage_truncate(up->stage, size);
}

static const char *local_upload_staged_path(struct hubfs_upload *up)
{
	return up->staged_path;
}

static void local_upload_free(struct hubfs_upload *up, bool unlink_staged)
{
	local_stage_close(up->stage);
	if (unlink_staged)
		unlinkat(up->be->root_fd, up->rel, 0);
	free(up);
}

static void local_upload_abort(struct hubfs_upload *up)
{
	local_upload_free(up, true);
}

/* Write the sidecar of @key atomically (temp in staging, rename beside the video). */
static int local_write_sidecar(struct local_backend *lb, const char *key,
			       struct hubfs_video_meta *meta)
{
	char side[PATH_MAX], tmp[128], text[2048];
	struct stat st;
	int fd, n, rc;

	rc = local_sidecar(key, side, sizeof(side));
	if (rc)
		return rc;
	n = hubfs_video_meta_format(meta, text, sizeof(text));
	if (n < 0)
		return n;
	snprintf(tmp, sizeof(tmp), LOCAL_STAGING "/%s-meta-%u", lb->instance,
		 atomic_fetch_add(&lb->seq, 1));
	fd = openat(lb->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	else if (!fstat(fd, &st))
		meta->record_mtime_ns = local_mtime_ns(&st); /* rename keeps it */
	close(fd);
	if (!rc && renameat(lb->root_fd, tmp, lb->root_fd, side))
		rc = -errno;
	if (rc)
		unlinkat(lb->root_fd, tmp, 0);
	return rc;
}

/* utimensat/futimens arguments that set mtime to @mtime_ns and leave atime alone. */
static void local_times(int64_t mtime_ns, struct timespec ts[2])
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = local_ts(mtime_ns);
}

static void local_identity(struct hubfs_video_meta *meta, const struct stat *st)
{
	meta->file_size = (uint64_t)st->st_size;
	meta->file_mtime_ns = local_mtime_ns(st);
}

static int local_upload_commit(struct hubfs_upload *up, const char *key,
			       struct hubfs_video_meta *meta)
{
	struct timespec ts[2];
	struct local_backend *lb = up->be;
	int fd = local_stage_fd(up->stage);
	struct stat st;
	int rc;

	rc = local_stage_sync(up->stage); /* queued O_DIRECT writes, and their errors */
	if (!rc && meta->mode && fchmod(fd, meta->mode & 07777))
		rc = -errno;
	if (!rc && meta->mtime_ns) {
		local_times(meta->mtime_ns, ts);
		if (futimens(fd, ts))
			rc = -errno;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (!rc && fstat(fd, &st))
		rc = -errno;
	if (!rc && renameat(lb->root_fd, up->rel, lb->root_fd, key))
		rc = -errno;
	if (rc) {
		hubfs_log(HUBFS_LOG_ERR, "local: cannot commit '%s': %s", key, strerror(-rc));
		local_upload_free(up, true);
		return rc;
	}
	local_identity(meta, &st);
	if (!meta->mtime_ns)
		meta->mtime_ns = meta->file_mtime_ns;
	rc = local_sync_parent(lb, key);
	if (rc)
		hubfs_log(HUBFS_LOG_ERR, "local: cannot sync the directory of '%s': %s", key,
			  strerror(-rc));
	if (local_write_sidecar(lb, key, meta))
		hubfs_log(HUBFS_LOG_WARN,
			  "local: no metadata sidecar for '%s' (it will be re-validated)", key);
	local_upload_free(up, false);
	return rc;
}

static int local_read_open(struct hubfs_backend *be, const char *key, struct hubfs_reader **out)
{
	struct hubfs_reader *r;
	int fd;

	fd = openat(local_of(be)->root_fd, key, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = malloc(sizeof(*r));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	*out = r;
	return 0;
}

static ssize_t local_read(struct hubfs_reader *r, void *buf, size_t n, off_t off)
{
	ssize_t got;

	do
		got = pread(r->fd, buf, n, off);
	while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

static int local_read_fd(struct hubfs_reader *r)
{
	return r->fd;
}

static void local_read_close(struct hubfs_reader *r)
{
	close(r->fd);
	free(r);
}

static int local_remove(struct hubfs_backend *be, const char *key)
{
	struct local_backend *lb = local_of(be);
	char side[PATH_MAX];

	if (unlinkat(lb->root_fd, key, 0))
		return -errno;
	if (!local_sidecar(key, side, sizeof(side)))
		unlinkat(lb->root_fd, side, 0);
	return 0;
}

static int local_rename(struct hubfs_backend *be, const char *from, const char *to)
{
	struct local_backend *lb = local_of(be);
	char side_from[PATH_MAX], side_to[PATH_MAX];
	struct stat st;

	if (fstatat(lb->root_fd, from, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (renameat(lb->root_fd, from, lb->root_fd, to))
		return -errno;
	if (!S_ISDIR(st.st_mode) && !local_sidecar(from, side_from, sizeof(side_from)) &&
	    !local_sidecar(to, side_to, sizeof(side_to)) &&
	    renameat(lb->root_fd, side_from, lb->root_fd, side_to) && errno == ENOENT)
		unlinkat(lb->root_fd, side_to, 0); /* no sidecar came: drop the replaced one's */
	return 0;
}

static int local_mkdir(struct hubfs_backend *be, const char *key, uint32_t mode)
{
	return mkdirat(local_of(be)->root_fd, key, mode & 07777) ? -errno : 0;
}

static bool local_is_sidecar(const char *name)
{
	size_t n = strlen(name), s = strlen(LOCAL_SIDECAR_SUFFIX);

	return name[0] == '.' && n > s && !strcmp(name + n - s, LOCAL_SIDECAR_SUFFIX);
}

static int local_rmdir(struct hubfs_backend *be, const char *key)
{
	struct local_backend *lb = local_of(be);
	struct dirent *de;
	DIR *d;
	int fd, rc;

	/* Orphaned sidecars (their video is gone) must not keep the directory alive. */
	rc = local_opendir(lb, key, &d);
	if (rc)
		return rc;
	fd = dirfd(d);
	while ((de = readdir(d))) {
		char video[NAME_MAX + 1];
		size_t n = strlen(de->d_name);

		if (!local_is_sidecar(de->d_name))
			continue;
		snprintf(video, sizeof(video), "%.*s", (int)(n - 1 - strlen(LOCAL_SIDECAR_SUFFIX)),
			 de->d_name + 1);
		if (faccessat(fd, video, F_OK, AT_SYMLINK_NOFOLLOW) && errno == ENOENT)
			unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	return unlinkat(lb->root_fd, key, AT_REMOVEDIR) ? -errno : 0;
}

/* The sidecar's mtime for video @name in directory @dirfd: its record's version marker. */
static int64_t local_record_mtime(int dirfd, const char *name)
{
	char side[NAME_MAX + 16];
	struct stat st;
	int n = snprintf(side, sizeof(side), ".%s" LOCAL_SIDECAR_SUFFIX, name);

	if (n < 0 || (size_t)n >= sizeof(side) || fstatat(dirfd, side, &st, AT_SYMLINK_NOFOLLOW))
		return 0;
	return local_mtime_ns(&st);
}

static int local_list(struct hubfs_backend *be, const char *key, hubfs_backend_list_fn fn,
		      void *arg)
{
	struct local_backend *lb = local_of(be);
	struct hubfs_backend_entry e;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	rc = local_opendir(lb, key, &d);
	if (rc)
		return rc;
	fd = dirfd(d);
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".hubfs") || local_is_sidecar(de->d_name))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue; /* gone meanwhile */
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		e.name = de->d_name;
		e.is_dir = S_ISDIR(st.st_mode);
		e.size = (uint64_t)st.st_size;
		e.mtime_ns = local_mtime_ns(&st);
		e.record_mtime_ns = e.is_dir ? 0 : local_record_mtime(fd, de->d_name);
		rc = fn(arg, &e);
	}
	closedir(d);
	return rc;
}

static int local_stat(struct hubfs_backend *be, const char *key, struct hubfs_backend_entry *e)
{
	struct stat st;

	if (fstatat(local_of(be)->root_fd, *key ? key : ".", &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	e->name = hubfs_path_base(key);
	e->is_dir = S_ISDIR(st.st_mode);
	e->size = (uint64_t)st.st_size;
	e->mtime_ns = local_mtime_ns(&st);
	e->record_mtime_ns = 0;
	if (!e->is_dir) {
		char side[PATH_MAX];

		if (!local_sidecar(key, side, sizeof(side)) &&
		    !fstatat(local_of(be)->root_fd, side, &st, AT_SYMLINK_NOFOLLOW))
			e->record_mtime_ns = local_mtime_ns(&st);
	}
	return 0;
}

static int local_meta_get(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta)
{
	struct local_backend *lb = local_of(be);
	char side[PATH_MAX], text[4096];
	struct stat st;
	ssize_t n;
	int fd, rc;

	rc = local_sidecar(key, side, sizeof(side));
	if (rc)
		return rc;
	fd = openat(lb->root_fd, side, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text));
	rc = n < 0 ? -errno : 0;
	if (!rc && fstat(fd, &st))
		rc = -errno;
	close(fd);
	if (rc)
		return rc;
	if (n == (ssize_t)sizeof(text))
		return -EINVAL; /* no sidecar of ours is that long */
	rc = hubfs_video_meta_parse(meta, text, (size_t)n);
	if (!rc)
		meta->record_mtime_ns = local_mtime_ns(&st);
	return rc;
}

static int local_meta_put(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta)
{
	struct timespec ts[2];
	struct local_backend *lb = local_of(be);
	struct stat st;

	if (meta->mtime_ns) {
		local_times(meta->mtime_ns, ts);
		if (utimensat(lb->root_fd, key, ts, AT_SYMLINK_NOFOLLOW))
			return -errno;
	}
	if (meta->mode && fchmodat(lb->root_fd, key, meta->mode & 07777, 0))
		return -errno;
	if (fstatat(lb->root_fd, key, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	local_identity(meta, &st);
	return local_write_sidecar(lb, key, meta);
}

const struct hubfs_backend_ops hubfs_backend_local_ops = {
	.version = HUBFS_BACKEND_OPS_VERSION,
	.name = "local",
	.caps = HUBFS_BE_CAP_RENAME | HUBFS_BE_CAP_READ_FD | HUBFS_BE_CAP_DIRS,
	.open = local_open,
	.close = local_close,
	.check = local_check,
	.statfs = local_statfs,
	.recover = local_recover,
	.upload_begin = local_upload_begin,
	.upload_write = local_upload_write,
	.upload_truncate = local_upload_truncate,
	.upload_sync = local_upload_sync,
	.upload_staged_path = local_upload_staged_path,
	.upload_commit = local_upload_commit,
	.upload_abort = local_upload_abort,
	.read_open = local_read_open,
	.read = local_read,
	.read_fd = local_read_fd,
	.read_close = local_read_close,
	.remove = local_remove,
	.rename = local_rename,
	.mkdir = local_mkdir,
	.rmdir = local_rmdir,
	.list = local_list,
	.stat = local_stat,
	.meta_get = local_meta_get,
	.meta_put = local_meta_put,
};
