/*
 * fs.c — the fuse_operations table and the router.
 *
 * A path's first component picks the directory type (videos/, streams/, notes/, .hub/);
 * the rest goes to that type's struct hubfs_dir_ops. The root is answered here. Calls on
 * an open file route through the handle's ops. Renames across directory types are EXDEV.
 *
 * Kernel caching: entries and attributes are cached for FS_CACHE_SECONDS, and readdirplus
 * fills them, so `ls -l` of a large directory is one listing, not a request per file.
 * Changes the kernel did not see (the scanner's, a refused upload, .hub/events growing)
 * are pushed with fuse_invalidate_path(). fuse_destroy() frees libfuse's node table, so
 * every thread that may invalidate is stopped first (hubfs_fs_shutdown) and inval_lock
 * keeps a late notification from racing the teardown.
 *
 * Threads: libfuse's worker threads enter every function here; the library's scanner
 * calls hubfs_fs_invalidate. Locks: fs->inval_lock (see fs.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"
#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/library.h"
#include "hubfs/log.h"
#include "hubfs/streams.h"

/* ---- helpers ------------------------------------------------------------------------- */

void hubfs_fs_invalidate(struct hubfs_fs *fs, const char *mount_path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(mount_path, '/');

	pthread_rwlock_rdlock(&fs->inval_lock);
	if (fs->inval_live) {
		/* -ENOENT: the kernel never looked it up, so it caches nothing. */
		fuse_invalidate_path(fs->fuse, mount_path);
		if (slash && slash != mount_path) {
			snprintf(parent, sizeof(parent), "%.*s", (int)(slash - mount_path),
				 mount_path);
			fuse_invalidate_path(fs->fuse, parent);
		}
	}
	pthread_rwlock_unlock(&fs->inval_lock);
}

static void fs_library_changed(void *arg, const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "/videos/%s", path);
	hubfs_fs_invalidate(arg, buf);
}

/* .hub/events grew: `tail -f` polls the size, which the kernel caches. */
static void fs_events_grew(void *arg)
{
	struct hubfs_fs *fs = arg;

	pthread_rwlock_rdlock(&fs->inval_lock);
	if (fs->inval_live)
		fuse_invalidate_path(fs->fuse, "/.hub/events");
	pthread_rwlock_unlock(&fs->inval_lock);
}

void hubfs_fs_shutdown(struct hubfs_fs *fs)
{
	/* Workers first: their recordings are committed through the library. */
	hubfs_streams_stop(fs->streams);
	hubfs_events_set_listener(NULL, NULL);
	hubfs_library_stop(fs->lib);
	hubfs_library_set_invalidate(fs->lib, NULL, NULL);
	pthread_rwlock_wrlock(&fs->inval_lock);
	fs->inval_live = false;
	pthread_rwlock_unlock(&fs->inval_lock);
}

/* How long the kernel may trust an entry or attributes without asking again. */
#define FS_CACHE_SECONDS 1.0

static struct hubfs_fs *fs_self(void)
{
	return fuse_get_context()->private_data;
}

void hubfs_fs_caller(uint32_t *uid, uint32_t *gid)
{
	struct fuse_context *ctx = fuse_get_context();

	*uid = ctx->uid;
	*gid = ctx->gid;
}

void hubfs_fs_fill_dir(struct stat *st, mode_t mode, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | (mode & 07777);
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
	st->st_blksize = 4096;
}

void hubfs_fs_fill_file(struct stat *st, mode_t mode, off_t size, time_t mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (mode & 07777);
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
	st->st_blksize = 4096;
}

static const struct hubfs_dir_ops *const fs_dirs[] = {
	&hubfs_videos_ops,
	&hubfs_streams_ops,
	&hubfs_notes_ops,
	&hubfs_ctl_ops,
};

#define FS_NDIRS (sizeof(fs_dirs) / sizeof(fs_dirs[0]))

/*
 * Split "/videos/a/b.mp4" into the videos ops and "a/b.mp4". Returns NULL for the root
 * (*sub = NULL) and for an unknown top-level name (*sub = "").
 */
static const struct hubfs_dir_ops *fs_route(const char *path, const char **sub)
{
	const char *p = path + (path[0] == '/');
	size_t n = strcspn(p, "/");

	*sub = NULL;
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < FS_NDIRS; i++) {
		if (strlen(fs_dirs[i]->name) == n && !strncmp(fs_dirs[i]->name, p, n)) {
			*sub = p[n] ? p + n + 1 : "";
			return fs_dirs[i];
		}
	}
	*sub = "";
	return NULL;
}

static struct hubfs_handle *fs_handle(struct fuse_file_info *fi)
{
	return fi ? (struct hubfs_handle *)(uintptr_t)fi->fh : NULL;
}

/* Route @path; for the root itself answer @root_rc, for an unknown top level -ENOENT. */
#define FS_ROUTE(path, d, sub, root_rc)                                                            \
	const char *sub;                                                                           \
	const struct hubfs_dir_ops *d = fs_route(path, &sub);                                      \
	if (!d)                                                                                    \
		return sub ? -ENOENT : (root_rc);

/* ---- fuse_operations ----------------------------------------------------------------- */

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct hubfs_fs *fs = fs_self();
	struct hubfs_handle *h = fs_handle(fi);
	const struct hubfs_dir_ops *d;
	const char *sub;

	if (h && h->ops->fgetattr)
		return h->ops->fgetattr(fs, h, st);
	if (!path)
		return -EBADF;
	d = fs_route(path, &sub);
	if (!d && !sub) {
		hubfs_fs_fill_dir(st, 0755, fs->started);
		return 0;
	}
	if (!d)
		return -ENOENT;
	return d->getattr(fs, sub, st);
}

/*
 * Directories are listed once, at opendir (and again when a reader rewinds to 0), and served
 * by offset. Offsets matter: libfuse's high-level readdirplus gives the kernel an entry it
 * can keep (a node id with attributes) only when the filler is called with offsets; in its
 * offset-0 mode it sends attributes without node ids, and `ls -l` then costs a LOOKUP per
 * file however fresh the listing.
 */
struct fs_dirent {
	char *name;
	struct stat st;
	bool has_st;
	enum fuse_fill_dir_flags flags;
};

struct fs_dir {
	struct fs_dirent *v;
	size_t n, cap;
	bool failed; /* ENOMEM while collecting */
	bool served; /* a readdir happened: offset 0 again means "list anew" */
};

static int fs_collect(void *buf, const char *name, const struct stat *st, off_t off,
		      enum fuse_fill_dir_flags flags)
{
	struct fs_dir *dir = buf;
	struct fs_dirent *e;

	(void)off;
	if (dir->n == dir->cap) {
		size_t cap = dir->cap ? dir->cap * 2 : 64;
		struct fs_dirent *grown = realloc(dir->v, cap * sizeof(*grown));

		if (!grown) {
			dir->failed = true;
			return 1;
		}
		dir->v = grown;
		dir->cap = cap;
	}
	e = &dir->v[dir->n];
	e->name = strdup(name);
	if (!e->name) {
		dir->failed = true;
		return 1;
	}
	e->has_st = st != NULL;
	if (st)
		e->st = *st;
	e->flags = flags;
	dir->n++;
	return 0;
}

static void fs_dir_clear(struct fs_dir *dir)
{
	for (size_t i = 0; i < dir->n; i++)
		free(dir->v[i].name);
	dir->n = 0;
	dir->failed = false;
}

/* Collect the listing of @path into @dir (always with attributes). */
static int fs_list(struct hubfs_fs *fs, const char *path, struct fs_dir *dir)
{
	const struct hubfs_dir_ops *d;
	const char *sub;
	struct stat st;
	int rc = 0;

	fs_dir_clear(dir);
	d = fs_route(path, &sub);
	if (d) {
		rc = d->readdir(fs, sub, dir, fs_collect, FUSE_READDIR_PLUS);
	} else if (sub) {
		rc = -ENOENT;
	} else {
		hubfs_fs_fill_dir(&st, 0755, fs->started);
		fs_collect(dir, ".", &st, 0, 0);
		fs_collect(dir, "..", NULL, 0, 0);
		for (size_t i = 0; i < FS_NDIRS; i++) {
			if (fs_dirs[i]->getattr(fs, "", &st) == 0)
				fs_collect(dir, fs_dirs[i]->name, &st, 0, FUSE_FILL_DIR_PLUS);
		}
	}
	if (!rc && dir->failed)
		rc = -ENOMEM;
	return rc;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct fs_dir *dir = calloc(1, sizeof(*dir));
	int rc;

	if (!dir)
		return -ENOMEM;
	rc = fs_list(fs_self(), path, dir);
	if (rc) {
		fs_dir_clear(dir);
		free(dir->v);
		free(dir);
		return rc;
	}
	fi->fh = (uintptr_t)dir;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fs_dir *dir = (struct fs_dir *)(uintptr_t)fi->fh;
	int rc;

	if (off == 0 && dir->served && path) {
		rc = fs_list(fs_self(), path, dir);
		if (rc)
			return rc;
	}
	dir->served = true;
	for (size_t i = (size_t)off; i < dir->n; i++) {
		const struct fs_dirent *e = &dir->v[i];
		enum fuse_fill_dir_flags f = (flags & FUSE_READDIR_PLUS) ? e->flags : 0;

		if (fill(buf, e->name, e->has_st ? &e->st : NULL, (off_t)(i + 1), f))
			break;
	}
	return 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct fs_dir *dir = (struct fs_dir *)(uintptr_t)fi->fh;

	(void)path;
	fs_dir_clear(dir);
	free(dir->v);
	free(dir);
	return 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	FS_ROUTE(path, d, sub, -EACCES);
	if (!*sub)
		return -EEXIST;
	return d->create ? d->create(fs_self(), sub, mode, fi) : -EACCES;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	FS_ROUTE(path, d, sub, -EISDIR);
	if (!*sub)
		return -EISDIR;
	return d->open(fs_self(), sub, fi);
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);

	(void)path;
	if (!h->ops->read)
		return -EBADF;
	return h->ops->read(fs_self(), h, buf, size, off);
}

static int fs_read_buf(const char *path, struct fuse_bufvec **bufp, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);
	struct fuse_bufvec *bv;
	int rc;

	(void)path;
	if (h->ops->read_buf)
		return h->ops->read_buf(fs_self(), h, bufp, size, off);
	if (!h->ops->read)
		return -EBADF;
	bv = malloc(sizeof(*bv));
	if (!bv)
		return -ENOMEM;
	*bv = FUSE_BUFVEC_INIT(size);
	bv->buf[0].mem = malloc(size ? size : 1);
	if (!bv->buf[0].mem) {
		free(bv);
		return -ENOMEM;
	}
	rc = h->ops->read(fs_self(), h, bv->buf[0].mem, size, off);
	if (rc < 0) {
		free(bv->buf[0].mem);
		free(bv);
		return rc;
	}
	bv->buf[0].size = (size_t)rc;
	*bufp = bv;
	return 0;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);

	(void)path;
	if (!h->ops->write)
		return -EBADF;
	h->write_owner = fi->lock_owner;
	return h->ops->write(fs_self(), h, buf, size, off);
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);

	(void)path;
	return h->ops->flush ? h->ops->flush(fs_self(), h, fi->lock_owner) : 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);

	(void)path;
	return h->ops->release ? h->ops->release(fs_self(), h) : 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);

	(void)path;
	return h->ops->fsync ? h->ops->fsync(fs_self(), h, datasync) : 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct hubfs_handle *h = fs_handle(fi);
	const struct hubfs_dir_ops *d;
	const char *sub = NULL;

	d = h ? h->ops : path ? fs_route(path, &sub) : NULL;
	if (!d)
		return sub ? -ENOENT : -EISDIR;
	if (!d->truncate)
		return -EACCES;
	return d->truncate(fs_self(), sub, size, h);
}

static int fs_setattr(const char *path, struct fuse_file_info *fi, uint32_t mode, uint32_t uid,
		      uint32_t gid, int64_t mtime_ns)
{
	struct hubfs_handle *h = fs_handle(fi);
	const struct hubfs_dir_ops *d;
	const char *sub = NULL;

	d = h ? h->ops : path ? fs_route(path, &sub) : NULL;
	if (!d && !sub)
		return 0; /* the root: nothing to keep, but chmod/touch of it should not fail */
	if (!d)
		return -ENOENT;
	if (!d->setattr)
		return -EPERM;
	return d->setattr(fs_self(), sub, h, mode, uid, gid, mtime_ns);
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return fs_setattr(path, fi, mode & 07777, (uint32_t)-1, (uint32_t)-1, INT64_MIN);
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return fs_setattr(path, fi, (uint32_t)-1, uid, gid, INT64_MIN);
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct timespec now;
	int64_t mtime_ns;

	if (tv[1].tv_nsec == UTIME_OMIT)
		return fs_setattr(path, fi, (uint32_t)-1, (uint32_t)-1, (uint32_t)-1, INT64_MIN);
	if (tv[1].tv_nsec == UTIME_NOW) {
		clock_gettime(CLOCK_REALTIME, &now);
		mtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	} else {
		mtime_ns = (int64_t)tv[1].tv_sec * 1000000000 + tv[1].tv_nsec;
	}
	return fs_setattr(path, fi, (uint32_t)-1, (uint32_t)-1, (uint32_t)-1, mtime_ns);
}

static int fs_unlink(const char *path)
{
	FS_ROUTE(path, d, sub, -EISDIR);
	if (!*sub)
		return -EISDIR;
	return d->unlink ? d->unlink(fs_self(), sub) : -EACCES;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	FS_ROUTE(path, d, sub, -EEXIST);
	if (!*sub)
		return -EEXIST;
	return d->mkdir ? d->mkdir(fs_self(), sub, mode) : -EACCES;
}

static int fs_rmdir(const char *path)
{
	FS_ROUTE(path, d, sub, -EBUSY);
	if (!*sub)
		return -EBUSY; /* a top-level directory is part of the hub */
	return d->rmdir ? d->rmdir(fs_self(), sub) : -EACCES;
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	const struct hubfs_dir_ops *d1, *d2;
	const char *s1, *s2;

	d1 = fs_route(from, &s1);
	d2 = fs_route(to, &s2);
	if (!d1 || !d2)
		return (s1 && s2) ? -ENOENT : -EBUSY;
	if (d1 != d2)
		return -EXDEV;
	if (!*s1 || !*s2)
		return -EBUSY;
	return d1->rename ? d1->rename(fs_self(), s1, s2, flags) : -EACCES;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	FS_ROUTE(path, d, sub, -EINVAL);
	return d->readlink ? d->readlink(fs_self(), sub, buf, size) : -EINVAL;
}

static int fs_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM; /* no hard links: one name per video */
}

static int fs_symlink(const char *target, const char *path)
{
	(void)target;
	(void)path;
	return -EPERM;
}

static int fs_statfs(const char *path, struct statvfs *st)
{
	int rc;

	(void)path;
	rc = hubfs_backend_statfs(fs_self()->be, st);
	if (!rc)
		st->f_namemax = 255;
	return rc;
}

/*
 * hubfs keeps user.* attributes only. Other namespaces (security.selinux, system.posix_acl_*)
 * answer EOPNOTSUPP, not ENODATA: ls and file managers remember "unsupported" per
 * filesystem and stop asking, where ENODATA makes `ls -l` ask twice for every file.
 */
static bool fs_xattr_supported(const char *name)
{
	return !strncmp(name, "user.", 5);
}

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	if (!fs_xattr_supported(name))
		return -EOPNOTSUPP;
	FS_ROUTE(path, d, sub, -ENODATA);
	return d->getxattr ? d->getxattr(fs_self(), sub, name, value, size) : -ENODATA;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	FS_ROUTE(path, d, sub, 0);
	return d->listxattr ? d->listxattr(fs_self(), sub, list, size) : 0;
}

static int fs_setxattr(const char *path, const char *name, const char *value, size_t size,
		       int flags)
{
	if (!fs_xattr_supported(name))
		return -EOPNOTSUPP;
	FS_ROUTE(path, d, sub, -ENOTSUP);
	return d->setxattr ? d->setxattr(fs_self(), sub, name, value, size, flags) : -ENOTSUP;
}

static int fs_removexattr(const char *path, const char *name)
{
	if (!fs_xattr_supported(name))
		return -EOPNOTSUPP;
	FS_ROUTE(path, d, sub, -ENOTSUP);
	return d->removexattr ? d->removexattr(fs_self(), sub, name) : -ENOTSUP;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct hubfs_fs *fs = fs_self();
	int rc;

	/* Big requests both ways; splice replies for reads served from a backend fd. */
	conn->max_write = 1u << 20;
	conn->max_read = 0;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Always readdirplus, never the kernel's "auto" guess: our listing carries every
	 * entry's attributes for free (one catalog query), and the guess falls back to plain
	 * readdir on a second `ls -l`, which then costs a LOOKUP per file. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE; /* errors must reach write() and close() */

	cfg->entry_timeout = FS_CACHE_SECONDS;
	cfg->attr_timeout = FS_CACHE_SECONDS;
	cfg->negative_timeout = 0.0;
	cfg->hard_remove = 1; /* no .fuse_hidden files: unlink means gone */
	cfg->nullpath_ok = 0; /* readdir needs its path; fh calls route by handle anyway */
	cfg->use_ino = 0;
	cfg->auto_cache = 0;

	hubfs_library_set_invalidate(fs->lib, fs_library_changed, fs);
	pthread_rwlock_wrlock(&fs->inval_lock);
	fs->inval_live = true;
	pthread_rwlock_unlock(&fs->inval_lock);
	hubfs_events_set_listener(fs_events_grew, fs);
	rc = hubfs_library_start(fs->lib);
	if (rc)
		hubfs_event(HUBFS_EV_ERROR, "cannot start the library scanner: %s", strerror(-rc));
	rc = fs->streams ? hubfs_streams_start(fs->streams) : 0;
	if (rc)
		hubfs_event(HUBFS_EV_ERROR, "cannot start the stream supervisor: %s",
			    strerror(-rc));
	return fs;
}

static void fs_destroy(void *data)
{
	hubfs_fs_shutdown(data); /* again, harmlessly, if main already did */
}

const struct fuse_operations hubfs_fuse_ops = {
	.getattr = fs_getattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.create = fs_create,
	.open = fs_open,
	.read = fs_read,
	.read_buf = fs_read_buf,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.truncate = fs_truncate,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
	.unlink = fs_unlink,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.readlink = fs_readlink,
	.link = fs_link,
	.symlink = fs_symlink,
	.statfs = fs_statfs,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.setxattr = fs_setxattr,
	.removexattr = fs_removexattr,
	.init = fs_init,
	.destroy = fs_destroy,
};
