/*
 * fs.h — private to src/fs: the mount's shared objects and the directory-type ops table.
 *
 * fs.c owns the fuse_operations table and routes each path by its first component to one
 * struct hubfs_dir_ops (videos.c, streams.c, notes.c, ctl.c). Each directory type receives
 * the path below its own directory ("" for the directory itself) and returns negative errno.
 * Open files carry a handle whose first member is a struct hubfs_handle naming its dir type,
 * so fh-based calls (read, write, flush, release) route without a path.
 */
#ifndef HUBFS_FS_H
#define HUBFS_FS_H

#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

struct hubfs_config;
struct hubfs_catalog;
struct hubfs_backend;
struct hubfs_library;
struct hubfs_notes_fs;
struct hubfs_streams;

/* The mount: built by main.c, read-only once FUSE runs (each object locks itself). */
struct hubfs_fs {
	const struct hubfs_config *cfg;
	struct hubfs_catalog *cat;
	struct hubfs_backend *be;
	struct hubfs_library *lib;
	struct fuse *fuse;
	time_t started;
	struct hubfs_notes_fs *notes;  /* notes/ state (notes.c) */
	struct hubfs_streams *streams; /* streams/: the supervisor (src/stream) */
	pthread_rwlock_t inval_lock;   /* held shared while notifying the kernel */
	bool inval_live;               /* inval_lock: the session can take notifications */
};

struct hubfs_dir_ops;

struct hubfs_handle {
	const struct hubfs_dir_ops *ops; /* first member of every dir type's handle */
	uint64_t write_owner; /* lock owner (the writer's file table) of the latest write */
};

struct hubfs_dir_ops {
	const char *name; /* the top-level directory: "videos", "streams", "notes", ".hub" */

	int (*getattr)(struct hubfs_fs *fs, const char *sub, struct stat *st);
	int (*readdir)(struct hubfs_fs *fs, const char *sub, void *buf, fuse_fill_dir_t fill,
		       enum fuse_readdir_flags flags);
	int (*create)(struct hubfs_fs *fs, const char *sub, mode_t mode, struct fuse_file_info *fi);
	int (*open)(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi);

	/* fh-based: @h is the handle stored in fi->fh by create/open. */
	int (*fgetattr)(struct hubfs_fs *fs, struct hubfs_handle *h, struct stat *st);
	int (*read)(struct hubfs_fs *fs, struct hubfs_handle *h, char *buf, size_t size, off_t off);
	int (*read_buf)(struct hubfs_fs *fs, struct hubfs_handle *h, struct fuse_bufvec **bufp,
			size_t size, off_t off);
	int (*write)(struct hubfs_fs *fs, struct hubfs_handle *h, const char *buf, size_t size,
		     off_t off);
	/* @owner: the closing process's file table; a forked child closing an inherited fd
	 * has another owner than the writer (compare with h->write_owner). */
	int (*flush)(struct hubfs_fs *fs, struct hubfs_handle *h, uint64_t owner);
	int (*fsync)(struct hubfs_fs *fs, struct hubfs_handle *h, int datasync);
	int (*release)(struct hubfs_fs *fs, struct hubfs_handle *h);

	/* @h is non-NULL when the call came through an open file (ftruncate, fchmod...). */
	int (*truncate)(struct hubfs_fs *fs, const char *sub, off_t size, struct hubfs_handle *h);
	int (*setattr)(struct hubfs_fs *fs, const char *sub, struct hubfs_handle *h, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns);

	int (*unlink)(struct hubfs_fs *fs, const char *sub);
	int (*mkdir)(struct hubfs_fs *fs, const char *sub, mode_t mode);
	int (*rmdir)(struct hubfs_fs *fs, const char *sub);
	/* Both paths inside this directory type (the router answers EXDEV otherwise). */
	int (*rename)(struct hubfs_fs *fs, const char *from, const char *to, unsigned int flags);

	int (*getxattr)(struct hubfs_fs *fs, const char *sub, const char *name, char *value,
			size_t size);
	int (*listxattr)(struct hubfs_fs *fs, const char *sub, char *list, size_t size);
	int (*setxattr)(struct hubfs_fs *fs, const char *sub, const char *name, const char *value,
			size_t size, int flags);
	int (*removexattr)(struct hubfs_fs *fs, const char *sub, const char *name);
	int (*readlink)(struct hubfs_fs *fs, const char *sub, char *buf, size_t size);
};

extern const struct hubfs_dir_ops hubfs_videos_ops;
extern const struct hubfs_dir_ops hubfs_streams_ops;
extern const struct hubfs_dir_ops hubfs_notes_ops;
extern const struct hubfs_dir_ops hubfs_ctl_ops;

/* notes/ state: the scratch area in state_dir and the open notes. init: 0 or -errno with a
 * sentence in @err (mount-time error). */
int hubfs_notes_fs_init(struct hubfs_fs *fs, char *err, size_t errlen);
void hubfs_notes_fs_free(struct hubfs_fs *fs);

/* The fuse_operations table (fs.c). */
extern const struct fuse_operations hubfs_fuse_ops;

/*
 * Ask the kernel to drop the cached attributes and pages of @mount_path ("/videos/a.mp4")
 * and of its parent directory. Synchronous. Must not be called while handling a request
 * the kernel blocks invalidation on (lookup/create/mkdir/unlink/rename of the parent;
 * getattr/setattr/read/write of the inode itself); flush, release and other threads are
 * fine. A no-op before init and after hubfs_fs_shutdown().
 */
void hubfs_fs_invalidate(struct hubfs_fs *fs, const char *mount_path);

/* Prepare a mount for teardown: stop the threads that call into libfuse (the scanner's
 * invalidations, the event listener). Call after the loop ends, before fuse_destroy(). */
void hubfs_fs_shutdown(struct hubfs_fs *fs);

/* Shared helpers for directory types. */
void hubfs_fs_fill_dir(struct stat *st, mode_t mode, time_t mtime);
void hubfs_fs_fill_file(struct stat *st, mode_t mode, off_t size, time_t mtime);
void hubfs_fs_caller(uint32_t *uid, uint32_t *gid);

#endif
