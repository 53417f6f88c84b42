/*
 * videos.c — the videos/ directory type: the library as files.
 *
 * Listing and attributes come from the catalog (ls -l of a large library costs no backend
 * request). Creating a file, or opening one with O_TRUNC, starts an upload in the library;
 * its flush (close) validates and commits, so `cp` sees EINVAL for invalid content and
 * exits 0 only once the video is durable. Reads go straight to the backend, by splice when
 * the backend exposes an fd (direct_io: see vid_open). Opening an existing video for writing
 * without O_TRUNC is allowed (touch does it) but writing into it is EPERM: videos are
 * replaced whole.
 *
 * Only the writer's own close commits: a process that forks while writing (a subprocess, a
 * shell) makes its child close the inherited fd, and that flush carries another owner.
 *
 * A flush with nothing written does not commit: a shell's `> file` closes its own copy of
 * the fd before the command writes. It answers EINVAL ("empty file") so `cp empty.mkv`
 * fails; the upload stays open for writes (and visible: the shell's command fstat()s it),
 * and is refused for good at release if still empty — just after that close returns.
 *
 * Threads: FUSE workers. Handles are per open file; the library locks what they share.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "hubfs/names.h"

enum vid_kind { VID_READ, VID_UPLOAD, VID_NOWRITE };

struct vid_handle {
	struct hubfs_handle base; /* first member */
	enum vid_kind kind;
	struct hubfs_reader *reader;         /* VID_READ (also O_RDWR without O_TRUNC) */
	int staged_fd;                       /* VID_READ of the caller's own upload, or -1 */
	struct hubfs_library_upload *upload; /* VID_UPLOAD */
	bool warned;                         /* VID_NOWRITE: event posted once */
	char path[PATH_MAX];
};

/* Bigger st_blksize: cp and friends size their buffers from it (1 MiB writes). */
#define VID_BLKSIZE (1 << 20)

static void vid_stat_meta(struct stat *st, bool is_dir, const struct hubfs_video_meta *m)
{
	/* Floor division: a time before 1970 (touch -d 1969-...) keeps tv_nsec in [0, 1e9). */
	int64_t sec = m->mtime_ns / 1000000000, nsec = m->mtime_ns % 1000000000;

	if (nsec < 0) {
		sec--;
		nsec += 1000000000;
	}
	if (is_dir) {
		hubfs_fs_fill_dir(st, m->mode ? m->mode : 0755, (time_t)sec);
	} else {
		hubfs_fs_fill_file(st, m->mode ? m->mode : 0644, (off_t)m->size, (time_t)sec);
		st->st_blksize = VID_BLKSIZE;
	}
	st->st_mtim.tv_nsec = nsec;
	st->st_ctim = st->st_mtim;
	if (m->uid || m->gid) {
		st->st_uid = m->uid;
		st->st_gid = m->gid;
	}
}

static int vid_getattr(struct hubfs_fs *fs, const char *sub, struct stat *st)
{
	struct hubfs_cat_entry e;
	struct hubfs_video_meta m;

	if (!*sub) {
		hubfs_fs_fill_dir(st, 0755, fs->started);
		return 0;
	}
	if (!hubfs_catalog_get(fs->cat, sub, &e)) {
		vid_stat_meta(st, e.is_dir, &e.meta);
		return 0;
	}
	if (hubfs_library_upload_find(fs->lib, sub, &m)) {
		vid_stat_meta(st, false, &m);
		return 0;
	}
	return -ENOENT;
}

struct vid_fill {
	void *buf;
	fuse_fill_dir_t fill;
	bool plus;
};

static int vid_fill_cb(void *arg, const char *name, const struct hubfs_cat_entry *e)
{
	struct vid_fill *f = arg;
	struct stat st;

	vid_stat_meta(&st, e->is_dir, &e->meta);
	/* fs.c collects the whole listing; its filler fails only when out of memory. */
	return f->fill(f->buf, name, &st, 0, f->plus ? FUSE_FILL_DIR_PLUS : 0) ? -ENOMEM : 0;
}

static int vid_readdir(struct hubfs_fs *fs, const char *sub, void *buf, fuse_fill_dir_t fill,
		       enum fuse_readdir_flags flags)
{
	struct vid_fill f = { buf, fill, (flags & FUSE_READDIR_PLUS) != 0 };
	struct hubfs_cat_entry e;
	struct stat st;

	if (*sub) {
		if (hubfs_catalog_get(fs->cat, sub, &e))
			return -ENOENT;
		if (!e.is_dir)
			return -ENOTDIR;
	}
	vid_getattr(fs, sub, &st);
	fill(buf, ".", &st, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	return hubfs_catalog_list(fs->cat, sub, vid_fill_cb, &f);
}

/* The parent of @sub must be a directory of videos/. */
static int vid_parent_ok(struct hubfs_fs *fs, const char *sub)
{
	const char *base = hubfs_path_base(sub);
	struct hubfs_cat_entry e;
	char parent[PATH_MAX];

	if (base == sub)
		return 0;
	snprintf(parent, sizeof(parent), "%.*s", (int)(base - sub - 1), sub);
	if (hubfs_catalog_get(fs->cat, parent, &e))
		return -ENOENT;
	return e.is_dir ? 0 : -ENOTDIR;
}

/* Name rules for a new file, with the refusal in .hub/events. */
static int vid_check_new_file(const char *sub)
{
	int rc = hubfs_video_name_check(hubfs_path_base(sub));

	if (rc == -EINVAL)
		hubfs_event(
			HUBFS_EV_REJECT,
			"refused name 'videos/%s': a video needs one of the extensions .mp4 .avi .mov .mkv .webm .flv .wmv .m4v",
			sub);
	else if (rc == -ENAMETOOLONG)
		hubfs_event(HUBFS_EV_REJECT, "refused name in 'videos/': longer than 255 bytes");
	return rc;
}

static struct vid_handle *vid_handle_new(enum vid_kind kind, const char *sub)
{
	struct vid_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->base.ops = &hubfs_videos_ops;
	h->kind = kind;
	h->staged_fd = -1;
	snprintf(h->path, sizeof(h->path), "%s", sub);
	return h;
}

/* The caller's process id: FUSE gives the thread's id, an upload belongs to the process. */
static pid_t vid_caller_tgid(void)
{
	pid_t tid = fuse_get_context()->pid;
	char path[64], line[256];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5)) {
			tgid = (pid_t)atoi(line + 5);
			break;
		}
	}
	fclose(f);
	return tgid;
}

/* A read-only open by the process writing @sub reads its own staged bytes. */
static int vid_open_staged(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi)
{
	struct vid_handle *h;
	int fd;

	fd = hubfs_library_upload_open_staged(fs->lib, sub, vid_caller_tgid());
	if (fd < 0)
		return fd;
	h = vid_handle_new(VID_READ, sub);
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->staged_fd = fd;
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int vid_start_upload(struct hubfs_fs *fs, const char *sub, mode_t mode,
			    struct fuse_file_info *fi)
{
	struct vid_handle *h;
	uint32_t uid, gid;
	int rc;

	h = vid_handle_new(VID_UPLOAD, sub);
	if (!h)
		return -ENOMEM;
	hubfs_fs_caller(&uid, &gid);
	rc = hubfs_library_upload_begin(fs->lib, sub, mode & 07777, uid, gid, vid_caller_tgid(),
					&h->upload);
	if (rc) {
		free(h);
		return rc;
	}
	fi->fh = (uintptr_t)h;
	/* The new bytes bypass the page cache: readers of the old version keep theirs. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	return 0;
}

/* After a commit or a refusal the kernel's cached attributes of the name are wrong (a
 * refused new file must be gone at once, a replaced one has a new size). Flush and release
 * are not operations the kernel blocks invalidation on, so this is done synchronously. */
static void vid_invalidate(struct hubfs_fs *fs, const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/videos/%s", sub);
	hubfs_fs_invalidate(fs, path);
}

static int vid_create(struct hubfs_fs *fs, const char *sub, mode_t mode, struct fuse_file_info *fi)
{
	int rc;

	if (!S_ISREG(mode) && (mode & S_IFMT))
		return -EPERM;
	rc = vid_check_new_file(sub);
	if (!rc)
		rc = vid_parent_ok(fs, sub);
	if (rc)
		return rc;
	return vid_start_upload(fs, sub, mode, fi);
}

static int vid_open(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi)
{
	struct hubfs_cat_entry e;
	struct vid_handle *h;
	int acc = fi->flags & O_ACCMODE;
	int rc;

	rc = hubfs_catalog_get(fs->cat, sub, &e);
	if (rc) {
		/* Only an upload in progress: a new, separate upload replaces it if O_TRUNC. */
		if (!hubfs_library_upload_find(fs->lib, sub, NULL))
			return -ENOENT;
		if (acc != O_RDONLY && (fi->flags & O_TRUNC))
			return vid_start_upload(fs, sub, 0644, fi);
		if (acc == O_RDONLY && vid_open_staged(fs, sub, fi) == 0)
			return 0;
		return -EBUSY; /* not readable by others until it is validated and committed */
	}
	if (e.is_dir)
		return -EISDIR;
	if (acc == O_RDONLY && hubfs_library_upload_find(fs->lib, sub, NULL) &&
	    vid_open_staged(fs, sub, fi) == 0)
		return 0; /* the writer of a replacement reads its new bytes; others the old */
	if (acc != O_RDONLY && (fi->flags & O_TRUNC)) {
		return vid_start_upload(fs, sub, e.meta.mode, fi);
	}
	h = vid_handle_new(acc == O_WRONLY ? VID_NOWRITE : VID_READ, sub);
	if (!h)
		return -ENOMEM;
	if (acc != O_WRONLY) {
		rc = hubfs_backend_read_open(fs->be, sub, &h->reader);
		if (rc) {
			free(h);
			return rc;
		}
	}
	/* direct_io: a video replaced while open (O_TRUNC upload of the same name) shares one
	 * kernel inode with its old version; reads must come from this handle's bytes, not a
	 * page cache the new bytes or the O_TRUNC open have already changed. */
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int vid_fgetattr(struct hubfs_fs *fs, struct hubfs_handle *hh, struct stat *st)
{
	struct vid_handle *h = (struct vid_handle *)hh;
	struct hubfs_video_meta m;

	if (h->kind == VID_UPLOAD && !hubfs_library_upload_committed(h->upload)) {
		hubfs_library_upload_meta(h->upload, &m);
		vid_stat_meta(st, false, &m);
		return 0;
	}
	return vid_getattr(fs, h->path, st);
}

static int vid_read_buf(struct hubfs_fs *fs, struct hubfs_handle *hh, struct fuse_bufvec **bufp,
			size_t size, off_t off)
{
	struct vid_handle *h = (struct vid_handle *)hh;
	struct fuse_bufvec *bv;
	ssize_t got;
	int fd;

	if (h->kind == VID_UPLOAD && h->staged_fd < 0) {
		/* O_RDWR upload reading back what it wrote */
		h->staged_fd = hubfs_library_upload_staged_fd(h->upload);
		if (h->staged_fd < 0) {
			int rc = h->staged_fd;

			h->staged_fd = -1;
			return rc;
		}
	}
	if (h->kind == VID_NOWRITE)
		return -EBADF;
	bv = malloc(sizeof(*bv));
	if (!bv)
		return -ENOMEM;
	*bv = FUSE_BUFVEC_INIT(size);
	fd = h->staged_fd >= 0 ? h->staged_fd : hubfs_backend_read_fd(fs->be, h->reader);
	if (fd >= 0) {
		/* Zero-copy: libfuse splices from the backend's file into /dev/fuse. */
		bv->buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv->buf[0].fd = fd;
		bv->buf[0].pos = off;
		*bufp = bv;
		return 0;
	}
	bv->buf[0].mem = malloc(size ? size : 1);
	if (!bv->buf[0].mem) {
		free(bv);
		return -ENOMEM;
	}
	got = hubfs_backend_read(fs->be, h->reader, bv->buf[0].mem, size, off);
	if (got < 0) {
		free(bv->buf[0].mem);
		free(bv);
		return (int)got;
	}
	bv->buf[0].size = (size_t)got;
	*bufp = bv;
	return 0;
}

static int vid_write(struct hubfs_fs *fs, struct hubfs_handle *hh, const char *buf, size_t size,
		     off_t off)
{
	struct vid_handle *h = (struct vid_handle *)hh;

	(void)fs;
	if (h->kind == VID_UPLOAD)
		return (int)hubfs_library_upload_write(h->upload, buf, size, off);
	if (!h->warned) {
		hubfs_event(
			HUBFS_EV_REJECT,
			"refused a write into 'videos/%s': a stored video is replaced whole (open it with O_TRUNC, as cp does)",
			h->path);
		h->warned = true;
	}
	return -EPERM;
}

static int vid_flush(struct hubfs_fs *fs, struct hubfs_handle *hh, uint64_t owner)
{
	struct vid_handle *h = (struct vid_handle *)hh;

	int rc;

	if (h->kind != VID_UPLOAD || hubfs_library_upload_committed(h->upload))
		return 0;
	if (hubfs_library_upload_size(h->upload) == 0) {
		/* See the header: decided for good at release. */
		return -EINVAL;
	}
	if (owner != hh->write_owner)
		return 0; /* a forked child closing an inherited fd: the writer's close commits */
	rc = hubfs_library_upload_commit(h->upload);
	vid_invalidate(fs, h->path);
	return rc;
}

static int vid_release(struct hubfs_fs *fs, struct hubfs_handle *hh)
{
	struct vid_handle *h = (struct vid_handle *)hh;

	if (h->kind == VID_UPLOAD) {
		if (!hubfs_library_upload_committed(h->upload)) {
			hubfs_library_upload_commit(h->upload); /* refused if empty; logged */
			vid_invalidate(fs, h->path);
		}
		hubfs_library_upload_free(h->upload);
	}
	hubfs_backend_read_close(fs->be, h->reader);
	if (h->staged_fd >= 0)
		close(h->staged_fd);
	free(h);
	return 0;
}

static int vid_truncate(struct hubfs_fs *fs, const char *sub, off_t size, struct hubfs_handle *hh)
{
	struct vid_handle *h = (struct vid_handle *)hh;
	struct stat st;
	int rc;

	if (h && h->kind == VID_UPLOAD && !hubfs_library_upload_committed(h->upload))
		return hubfs_library_upload_truncate(h->upload, size);
	rc = vid_getattr(fs, h ? h->path : sub, &st);
	if (rc)
		return rc;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return st.st_size == size ? 0 : -EPERM;
}

static int vid_setattr(struct hubfs_fs *fs, const char *sub, struct hubfs_handle *hh, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	struct vid_handle *h = (struct vid_handle *)hh;

	if (h && h->kind == VID_UPLOAD && !hubfs_library_upload_committed(h->upload))
		return hubfs_library_upload_setattr(h->upload, mode, uid, gid, mtime_ns);
	if (!h && !*sub)
		return 0;
	if (!hubfs_catalog_get(fs->cat, h ? h->path : sub, &(struct hubfs_cat_entry){ 0 }))
		return hubfs_library_setattr(fs->lib, h ? h->path : sub, mode, uid, gid, mtime_ns);
	return hubfs_library_upload_setattr_path(fs->lib, h ? h->path : sub, mode, uid, gid,
						 mtime_ns);
}

static int vid_unlink(struct hubfs_fs *fs, const char *sub)
{
	return hubfs_library_remove(fs->lib, sub);
}

static int vid_mkdir(struct hubfs_fs *fs, const char *sub, mode_t mode)
{
	uint32_t uid, gid;
	int rc;

	rc = hubfs_video_dirname_check(hubfs_path_base(sub));
	if (rc) {
		hubfs_event(HUBFS_EV_REJECT, "refused directory name 'videos/%.255s'", sub);
		return rc;
	}
	rc = vid_parent_ok(fs, sub);
	if (rc)
		return rc;
	hubfs_fs_caller(&uid, &gid);
	return hubfs_library_mkdir(fs->lib, sub, mode, uid, gid);
}

static int vid_rmdir(struct hubfs_fs *fs, const char *sub)
{
	return hubfs_library_rmdir(fs->lib, sub);
}

static int vid_rename(struct hubfs_fs *fs, const char *from, const char *to, unsigned int flags)
{
	struct hubfs_cat_entry e;
	bool is_dir = false;
	int rc;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (!hubfs_catalog_get(fs->cat, from, &e))
		is_dir = e.is_dir;
	rc = is_dir ? hubfs_video_dirname_check(hubfs_path_base(to)) : vid_check_new_file(to);
	if (!rc)
		rc = vid_parent_ok(fs, to);
	if (rc)
		return rc;
	if ((flags & RENAME_NOREPLACE) && !hubfs_catalog_get(fs->cat, to, &e))
		return -EEXIST;
	if (is_dir && (!strncmp(to, from, strlen(from)) && to[strlen(from)] == '/'))
		return -EINVAL; /* into itself */
	return hubfs_library_rename(fs->lib, from, to);
}

static int vid_getxattr(struct hubfs_fs *fs, const char *sub, const char *name, char *value,
			size_t size)
{
	struct hubfs_cat_entry e;

	if (!*sub)
		return -ENODATA;
	if (hubfs_catalog_get(fs->cat, sub, &e))
		return hubfs_library_upload_find(fs->lib, sub, NULL) ? -ENODATA : -ENOENT;
	if (e.is_dir)
		return -ENODATA;
	return hubfs_video_meta_xattr(&e.meta, name, value, size);
}

static int vid_listxattr(struct hubfs_fs *fs, const char *sub, char *list, size_t size)
{
	struct hubfs_cat_entry e;

	if (!*sub || hubfs_catalog_get(fs->cat, sub, &e) || e.is_dir)
		return 0;
	return hubfs_video_meta_xattr_list(&e.meta, list, size);
}

static int vid_setxattr(struct hubfs_fs *fs, const char *sub, const char *name, const char *value,
			size_t size, int flags)
{
	(void)fs;
	(void)sub;
	(void)value;
	(void)size;
	(void)flags;
	/* user.hub.* is derived from the content; other names are not kept for videos. */
	return strncmp(name, "user.hub.", 9) ? -ENOTSUP : -EPERM;
}

static int vid_removexattr(struct hubfs_fs *fs, const char *sub, const char *name)
{
	return vid_setxattr(fs, sub, name, NULL, 0, 0);
}

const struct hubfs_dir_ops hubfs_videos_ops = {
	.name = "videos",
	.getattr = vid_getattr,
	.readdir = vid_readdir,
	.create = vid_create,
	.open = vid_open,
	.fgetattr = vid_fgetattr,
	.read_buf = vid_read_buf,
	.write = vid_write,
	.flush = vid_flush,
	.release = vid_release,
	.truncate = vid_truncate,
	.setattr = vid_setattr,
	.unlink = vid_unlink,
	.mkdir = vid_mkdir,
	.rmdir = vid_rmdir,
	.rename = vid_rename,
	.getxattr = vid_getxattr,
	.listxattr = vid_listxattr,
	.setxattr = vid_setxattr,
	.removexattr = vid_removexattr,
};
