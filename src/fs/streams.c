/*
 * streams.c — the streams/ directory type: configfs-style directories over the stream
 * supervisor (include/hubfs/streams.h).
 *
 *   streams/NAME/           mkdir creates a stream, rmdir removes it (EBUSY while it runs),
 *                           mv renames a stopped one
 *   streams/NAME/config     key=value; each write() checked at once, an open's writes
 *                           merged together at close, all or nothing
 *   streams/NAME/control    start | stop | restart, one word per line
 *   streams/NAME/status     key=value, generated at open and whenever a reader rewinds
 *   streams/NAME/log        the tail of the worker's log
 *   streams/NAME/hls/       the live playlist and segments, read from state_dir
 *
 * Every file is served with direct_io: their content changes behind the kernel's back, and
 * a cached size would truncate reads. Shells open with O_TRUNC, so truncating config or
 * control is a no-op; the other names in a stream directory cannot be created (EPERM).
 *
 * Threads: FUSE workers; each handle is private to its open file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "hubfs/events.h"
#include "hubfs/stream.h"
#include "hubfs/streams.h"

enum stm_file { STM_DIR, STM_CONFIG, STM_CONTROL, STM_STATUS, STM_LOG, STM_HLS, STM_HLS_FILE };

static const char *const stm_names[] = {
	[STM_CONFIG] = "config", [STM_CONTROL] = "control", [STM_STATUS] = "status",
	[STM_LOG] = "log",       [STM_HLS] = "hls",
};

/* A path below streams/, split: NAME, the file in it, and for hls/ the segment's name. */
struct stm_path {
	char name[HUBFS_STREAM_NAME_MAX + 1];
	enum stm_file file;
	const char *leaf; /* STM_HLS_FILE: the name inside hls/ */
};

struct stm_handle {
	struct hubfs_handle base; /* first member */
	enum stm_file file;
	char name[HUBFS_STREAM_NAME_MAX + 1];
	char *text; /* config, status, log: generated content */
	size_t len;
	bool served;   /* a read happened: offset 0 again means "read it anew" */
	int fd;        /* hls file */
	char *pending; /* config: this open's writes so far, applied together at close */
	size_t pending_len;
	int refused; /* config: a write of this open was refused (-errno): close applies none */
};

/* One open's config writes, all together (a shell writes line by line). */
#define STM_CONFIG_MAX (64u << 10)

/* Parse @sub ("NAME", "NAME/config", "NAME/hls/seg-00001.ts"). 0 or -ENOENT. */
static int stm_parse(const char *sub, struct stm_path *p)
{
	size_t n = strcspn(sub, "/");
	const char *rest = sub[n] ? sub + n + 1 : NULL;

	memset(p, 0, sizeof(*p));
	if (n == 0 || n > HUBFS_STREAM_NAME_MAX)
		return -ENOENT;
	memcpy(p->name, sub, n);
	if (!rest) {
		p->file = STM_DIR;
		return 0;
	}
	for (int f = STM_CONFIG; f <= STM_HLS; f++) {
		size_t len = strlen(stm_names[f]);

		if (strncmp(rest, stm_names[f], len) || (rest[len] && rest[len] != '/'))
			continue;
		if (!rest[len]) {
			p->file = (enum stm_file)f;
			return 0;
		}
		if (f != STM_HLS || !rest[len + 1] || strchr(rest + len + 1, '/'))
			return -ENOENT;
		p->file = STM_HLS_FILE;
		p->leaf = rest + len + 1;
		return 0;
	}
	return -ENOENT;
}

/* An HLS file's real path; only the muxer's own names (no dot files, no temp files). */
static int stm_hls_path(struct hubfs_fs *fs, const struct stm_path *p, char *buf, size_t len)
{
	char dir[PATH_MAX];
	size_t n = strlen(p->leaf);
	int rc;

	if (p->leaf[0] == '.' || (n > 4 && !strcmp(p->leaf + n - 4, ".tmp")))
		return -ENOENT;
	rc = hubfs_streams_hls_dir(fs->streams, p->name, dir, sizeof(dir));
	if (rc)
		return rc;
	if (snprintf(buf, len, "%s/%s", dir, p->leaf) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* The current text of a generated file. */
static int stm_text(struct hubfs_fs *fs, enum stm_file f, const char *name, char **text,
		    size_t *len)
{
	int rc;

	switch (f) {
	case STM_CONFIG:
		rc = hubfs_streams_config_read(fs->streams, name, text);
		break;
	case STM_STATUS:
		rc = hubfs_streams_status(fs->streams, name, text);
		break;
	case STM_LOG:
		rc = hubfs_streams_log(fs->streams, name, text);
		break;
	default:
		*text = strdup("");
		rc = *text ? 0 : -ENOMEM;
		break;
	}
	*len = rc ? 0 : strlen(*text);
	return rc;
}

static int stm_getattr(struct hubfs_fs *fs, const char *sub, struct stat *st)
{
	struct stm_path p;
	char path[PATH_MAX];
	struct stat real;
	size_t len;
	char *text;
	int rc;

	if (!*sub) {
		hubfs_fs_fill_dir(st, 0755, fs->started);
		return 0;
	}
	rc = stm_parse(sub, &p);
	if (rc)
		return rc;
	if (!hubfs_streams_exists(fs->streams, p.name))
		return -ENOENT;
	switch (p.file) {
	case STM_DIR:
	case STM_HLS:
		hubfs_fs_fill_dir(st, 0755, fs->started);
		return 0;
	case STM_HLS_FILE:
		rc = stm_hls_path(fs, &p, path, sizeof(path));
		if (rc)
			return rc;
		if (lstat(path, &real))
			return -errno;
		if (!S_ISREG(real.st_mode))
			return -ENOENT;
		hubfs_fs_fill_file(st, 0444, real.st_size, real.st_mtime);
		st->st_mtim = real.st_mtim;
		return 0;
	case STM_CONTROL:
		hubfs_fs_fill_file(st, 0200, 0, time(NULL));
		return 0;
	default:
		rc = stm_text(fs, p.file, p.name, &text, &len);
		if (rc)
			return rc;
		free(text);
		hubfs_fs_fill_file(st, p.file == STM_CONFIG ? 0600 : 0444, (off_t)len, time(NULL));
		return 0;
	}
}

struct stm_fill {
	struct hubfs_fs *fs;
	void *buf;
	fuse_fill_dir_t fill;
};

static int stm_fill_stream(void *arg, const char *name)
{
	struct stm_fill *f = arg;
	struct stat st;

	hubfs_fs_fill_dir(&st, 0755, f->fs->started);
	return f->fill(f->buf, name, &st, 0, FUSE_FILL_DIR_PLUS) ? 1 : 0;
}

static int stm_readdir_hls(struct hubfs_fs *fs, const struct stm_path *p, void *buf,
			   fuse_fill_dir_t fill)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc;

	rc = hubfs_streams_hls_dir(fs->streams, p->name, dir, sizeof(dir));
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct stm_path leaf = *p;
		struct stat st, real;
		char path[PATH_MAX];

		leaf.file = STM_HLS_FILE;
		leaf.leaf = de->d_name;
		if (stm_hls_path(fs, &leaf, path, sizeof(path)) || lstat(path, &real) ||
		    !S_ISREG(real.st_mode))
			continue;
		hubfs_fs_fill_file(&st, 0444, real.st_size, real.st_mtime);
		st.st_mtim = real.st_mtim;
		if (fill(buf, de->d_name, &st, 0, FUSE_FILL_DIR_PLUS))
			break;
	}
	closedir(d);
	return 0;
}

static int stm_readdir(struct hubfs_fs *fs, const char *sub, void *buf, fuse_fill_dir_t fill,
		       enum fuse_readdir_flags flags)
{
	struct stm_fill f = { fs, buf, fill };
	struct stm_path p;
	struct stat st;
	int rc;

	(void)flags;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	if (!*sub)
		return hubfs_streams_each(fs->streams, stm_fill_stream, &f) < 0 ? -EIO : 0;
	rc = stm_parse(sub, &p);
	if (rc)
		return rc;
	if (!hubfs_streams_exists(fs->streams, p.name))
		return -ENOENT;
	if (p.file == STM_HLS)
		return stm_readdir_hls(fs, &p, buf, fill);
	if (p.file != STM_DIR)
		return -ENOTDIR;
	for (int i = STM_CONFIG; i <= STM_HLS; i++) {
		char child[HUBFS_STREAM_NAME_MAX + 16];

		snprintf(child, sizeof(child), "%s/%s", p.name, stm_names[i]);
		if (!stm_getattr(fs, child, &st))
			fill(buf, stm_names[i], &st, 0, FUSE_FILL_DIR_PLUS);
	}
	return 0;
}

static int stm_refuse(const char *sub, const char *why, int rc)
{
	hubfs_event(HUBFS_EV_ERROR, "refused 'streams/%.200s': %s", sub, why);
	return rc;
}

static int stm_open(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	struct stm_handle *h;
	char path[PATH_MAX];
	struct stm_path p;
	int rc;

	rc = stm_parse(sub, &p);
	if (rc)
		return rc;
	if (!hubfs_streams_exists(fs->streams, p.name))
		return -ENOENT;
	if (p.file == STM_DIR || p.file == STM_HLS)
		return -EISDIR;
	if (acc != O_RDONLY && p.file != STM_CONFIG && p.file != STM_CONTROL)
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->base.ops = &hubfs_streams_ops;
	h->file = p.file;
	h->fd = -1;
	snprintf(h->name, sizeof(h->name), "%s", p.name);
	if (p.file == STM_HLS_FILE) {
		rc = stm_hls_path(fs, &p, path, sizeof(path));
		if (!rc) {
			h->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (h->fd < 0)
				rc = -errno;
		}
	} else if (acc != O_WRONLY) {
		rc = stm_text(fs, p.file, p.name, &h->text, &h->len);
	}
	if (rc) {
		free(h);
		return rc;
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int stm_read(struct hubfs_fs *fs, struct hubfs_handle *hh, char *buf, size_t size, off_t off)
{
	struct stm_handle *h = (struct stm_handle *)hh;
	ssize_t n;

	if (h->fd >= 0) {
		n = pread(h->fd, buf, size, off);
		return n < 0 ? -errno : (int)n;
	}
	if (off == 0 && (h->served || !h->text)) {
		char *text;
		size_t len;
		int rc = stm_text(fs, h->file, h->name, &text, &len);

		if (rc)
			return rc;
		free(h->text);
		h->text = text;
		h->len = len;
	}
	h->served = true;
	if (!h->text || (size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->text + off, size);
	return (int)size;
}

/*
 * config: each write is checked at once against the current config plus this open's
 * earlier writes (so `echo bad=1 > config` fails in write(), where the shell sees it), and
 * the writes of one open are applied together when it is closed: all or nothing, although
 * bash writes `printf 'a=1\nb=2\n'` one line per write().
 */
static int stm_config_write(struct hubfs_fs *fs, struct stm_handle *h, const char *buf, size_t size)
{
	char *grown;
	int rc;

	if (h->refused)
		return h->refused;
	if (h->pending_len + size + 1 > STM_CONFIG_MAX)
		return -EFBIG;
	grown = realloc(h->pending, h->pending_len + size + 1);
	if (!grown)
		return -ENOMEM;
	h->pending = grown;
	memcpy(h->pending + h->pending_len, buf, size);
	/* A write not ending in a newline still ends its line. */
	if (size && buf[size - 1] != '\n')
		h->pending[h->pending_len + size++] = '\n';
	rc = hubfs_streams_config_check(fs->streams, h->name, h->pending, h->pending_len + size);
	if (rc) {
		h->refused = rc;
		return rc;
	}
	h->pending_len += size;
	return 0;
}

/* Apply this open's config writes (at flush: close() reports a failure). */
static int stm_config_apply(struct hubfs_fs *fs, struct stm_handle *h)
{
	int rc = 0;

	if (h->pending_len && !h->refused)
		rc = hubfs_streams_config_write(fs->streams, h->name, h->pending, h->pending_len);
	free(h->pending);
	h->pending = NULL;
	h->pending_len = 0;
	h->refused = 0;
	return rc;
}

static int stm_flush(struct hubfs_fs *fs, struct hubfs_handle *hh, uint64_t owner)
{
	struct stm_handle *h = (struct stm_handle *)hh;

	(void)owner;
	return h->file == STM_CONFIG ? stm_config_apply(fs, h) : 0;
}

static int stm_write(struct hubfs_fs *fs, struct hubfs_handle *hh, const char *buf, size_t size,
		     off_t off)
{
	struct stm_handle *h = (struct stm_handle *)hh;
	int rc;

	(void)off; /* lines, wherever the writer thinks it is */
	if (h->file == STM_CONFIG)
		rc = stm_config_write(fs, h, buf, size);
	else if (h->file == STM_CONTROL)
		rc = hubfs_streams_control(fs->streams, h->name, buf, size);
	else
		rc = -EBADF;
	return rc ? rc : (int)size;
}

static int stm_release(struct hubfs_fs *fs, struct hubfs_handle *hh)
{
	struct stm_handle *h = (struct stm_handle *)hh;

	if (h->file == STM_CONFIG)
		stm_config_apply(fs, h); /* normally flush did it already */
	if (h->fd >= 0)
		close(h->fd);
	free(h->text);
	free(h);
	return 0;
}

static int stm_truncate(struct hubfs_fs *fs, const char *sub, off_t size, struct hubfs_handle *hh)
{
	struct stm_handle *h = (struct stm_handle *)hh;
	enum stm_file f;
	struct stm_path p;

	(void)size;
	if (h) {
		f = h->file;
	} else {
		int rc = stm_parse(sub, &p);

		if (rc)
			return rc;
		if (!hubfs_streams_exists(fs->streams, p.name))
			return -ENOENT;
		f = p.file;
	}
	/* Shells open with O_TRUNC: config and control take it and keep their content. */
	if (f == STM_CONFIG || f == STM_CONTROL)
		return 0;
	return f == STM_DIR || f == STM_HLS ? -EISDIR : -EACCES;
}

static int stm_setattr(struct hubfs_fs *fs, const char *sub, struct hubfs_handle *h, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	struct stm_path p;
	int rc;

	(void)mtime_ns;
	if (!h && *sub) {
		rc = stm_parse(sub, &p);
		if (rc)
			return rc;
		if (!hubfs_streams_exists(fs->streams, p.name))
			return -ENOENT;
	}
	/* touch is harmless (nothing to keep); modes and owners are the hub's. */
	if (mode != (uint32_t)-1 || uid != (uint32_t)-1 || gid != (uint32_t)-1)
		return -EPERM;
	return 0;
}

static int stm_create(struct hubfs_fs *fs, const char *sub, mode_t mode, struct fuse_file_info *fi)
{
	struct stm_path p;

	(void)mode;
	(void)fi;
	if (!strchr(sub, '/'))
		return stm_refuse(sub, "a stream is a directory: use mkdir", -EPERM);
	if (!stm_parse(sub, &p) && hubfs_streams_exists(fs->streams, p.name) && p.file != STM_DIR &&
	    p.file != STM_HLS_FILE)
		return -EEXIST;
	return stm_refuse(sub,
			  "a stream directory holds only config, control, status, log "
			  "and hls/",
			  -EPERM);
}

static int stm_mkdir(struct hubfs_fs *fs, const char *sub, mode_t mode)
{
	(void)mode;
	if (strchr(sub, '/'))
		return stm_refuse(sub,
				  "a stream directory holds only config, control, status, log "
				  "and hls/",
				  -EPERM);
	return hubfs_streams_create(fs->streams, sub);
}

static int stm_rmdir(struct hubfs_fs *fs, const char *sub)
{
	if (strchr(sub, '/'))
		return stm_refuse(sub, "hls/ belongs to the stream", -EPERM);
	return hubfs_streams_remove(fs->streams, sub);
}

static int stm_unlink(struct hubfs_fs *fs, const char *sub)
{
	struct stm_path p;

	if (stm_parse(sub, &p) || !hubfs_streams_exists(fs->streams, p.name))
		return -ENOENT;
	if (p.file == STM_DIR)
		return -EISDIR;
	return stm_refuse(sub, "the files of a stream cannot be removed (rmdir the stream)",
			  -EPERM);
}

static int stm_rename(struct hubfs_fs *fs, const char *from, const char *to, unsigned int flags)
{
	if (strchr(from, '/') || strchr(to, '/'))
		return stm_refuse(from, "only a whole stream can be renamed", -EPERM);
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	return hubfs_streams_rename(fs->streams, from, to);
}

static int stm_getxattr(struct hubfs_fs *fs, const char *sub, const char *name, char *value,
			size_t size)
{
	struct stat st;
	int rc;

	(void)name;
	(void)value;
	(void)size;
	rc = stm_getattr(fs, sub, &st);
	return rc ? rc : -ENODATA;
}

static int stm_listxattr(struct hubfs_fs *fs, const char *sub, char *list, size_t size)
{
	struct stat st;

	(void)list;
	(void)size;
	return stm_getattr(fs, sub, &st);
}

const struct hubfs_dir_ops hubfs_streams_ops = {
	.name = "streams",
	.getattr = stm_getattr,
	.readdir = stm_readdir,
	.create = stm_create,
	.open = stm_open,
	.read = stm_read,
	.write = stm_write,
	.flush = stm_flush,
	.release = stm_release,
	.truncate = stm_truncate,
	.setattr = stm_setattr,
	.unlink = stm_unlink,
	.mkdir = stm_mkdir,
	.rmdir = stm_rmdir,
	.rename = stm_rename,
	.getxattr = stm_getxattr,
	.listxattr = stm_listxattr,
};
