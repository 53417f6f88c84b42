/*
 * backend.h — where videos are stored: the local directory (also an NFS path) or S3.
 *
 * A const ops table with a version (SQLite VFS, libgit2 odb); each backend embeds
 * struct hubfs_backend as its first member. Only the wrappers in backend.c call ops->x:
 * one place for tracing (HUBFS_DEBUG=backend), counters and the test-only fault hook.
 *
 * Keys are paths relative to videos/ ("a.mp4", "coll/b.mkv"), already checked by names.h.
 * Errors are negative errno, mapped once inside each backend (HTTP 404 -> -ENOENT, ...).
 *
 * Threads: every op may be called from any FUSE thread and the library's scanner at once;
 * a backend protects its own shared state. An upload or reader handle is used by one
 * thread at a time (the caller serialises per handle).
 */
#ifndef HUBFS_BACKEND_H
#define HUBFS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "hubfs/video.h"

struct hubfs_config;
struct hubfs_backend;
struct hubfs_upload; /* staged bytes of one video being written */
struct hubfs_reader; /* one open video being read */

#define HUBFS_BACKEND_OPS_VERSION 1

enum {
	HUBFS_BE_CAP_RENAME = 1u << 0,  /* atomic rename (local); else copy + delete */
	HUBFS_BE_CAP_READ_FD = 1u << 1, /* readers expose an fd for splice (zero-copy) */
	HUBFS_BE_CAP_DIRS = 1u << 2,    /* real directories (else prefixes) */
};

struct hubfs_backend_entry {
	const char *name; /* borrowed for the callback's duration */
	bool is_dir;
	uint64_t size;
	int64_t mtime_ns;
	int64_t record_mtime_ns; /* version marker of its metadata record; 0: none */
};

typedef int (*hubfs_backend_list_fn)(void *arg, const struct hubfs_backend_entry *e);

struct hubfs_backend_ops {
	unsigned int version; /* HUBFS_BACKEND_OPS_VERSION */
	const char *name;     /* "local", "s3" */
	unsigned int caps;

	/* Open and check reachability (mount-time errors: one sentence in @err). */
	int (*open)(struct hubfs_backend **out, const struct hubfs_config *cfg,
		    const char *instance, char *err, size_t errlen);
	void (*close)(struct hubfs_backend *be); /* NULL-safe, cannot fail */

	/* Live check for .hub/check: 0 and "ok", or -errno and the reason, in @msg. */
	int (*check)(struct hubfs_backend *be, char *msg, size_t len);
	int (*statfs)(struct hubfs_backend *be, struct statvfs *st);
	/* Remove staged leftovers of this instance (after a crash) and stale ones of others. */
	int (*recover)(struct hubfs_backend *be);

	/*
	 * Uploads: stage bytes while they are written; commit makes them the video @key
	 * atomically (replacing an existing one) and stores @meta with it, filling the
	 * identity fields (file_size, file_mtime_ns); abort discards and frees. After commit
	 * or abort the handle is freed. @staged_path: a local file holding the staged bytes
	 * (for validation), valid until commit/abort.
	 */
	int (*upload_begin)(struct hubfs_backend *be, const char *key, struct hubfs_upload **out);
	ssize_t (*upload_write)(struct hubfs_upload *up, const void *buf, size_t n, off_t off);
	int (*upload_truncate)(struct hubfs_upload *up, off_t size);
	/* Wait until every byte written so far can be read at the staged path (a backend may
	 * write asynchronously); 0, or the first deferred write error. */
	int (*upload_sync)(struct hubfs_upload *up);
	const char *(*upload_staged_path)(struct hubfs_upload *up);
	int (*upload_commit)(struct hubfs_upload *up, const char *key,
			     struct hubfs_video_meta *meta);
	void (*upload_abort)(struct hubfs_upload *up);

	/* Reads: random access. read_fd: an fd for zero-copy, or -ENOTSUP. */
	int (*read_open)(struct hubfs_backend *be, const char *key, struct hubfs_reader **out);
	ssize_t (*read)(struct hubfs_reader *r, void *buf, size_t n, off_t off);
	int (*read_fd)(struct hubfs_reader *r);
	void (*read_close)(struct hubfs_reader *r);

	/* Namespace. rename replaces a video at @to; a directory moves with its contents. */
	int (*remove)(struct hubfs_backend *be, const char *key);
	int (*rename)(struct hubfs_backend *be, const char *from, const char *to);
	int (*mkdir)(struct hubfs_backend *be, const char *key, uint32_t mode);
	int (*rmdir)(struct hubfs_backend *be, const char *key);
	/* Children of directory @key ("" = root), skipping the backend's own files. */
	int (*list)(struct hubfs_backend *be, const char *key, hubfs_backend_list_fn fn, void *arg);
	int (*stat)(struct hubfs_backend *be, const char *key, struct hubfs_backend_entry *e);

	/* Metadata stored with a video. get: -ENOENT when none is stored. put refreshes the
	 * identity fields of @meta (and applies mtime_ns to the stored bytes where it can). */
	int (*meta_get)(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta);
	int (*meta_put)(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta);

	/* Optional (NULL: none): the backend's own counters as Prometheus text lines for
	 * .hub/metrics, into @buf; the length written, or -ERANGE when @len is short. */
	int (*metrics)(struct hubfs_backend *be, char *buf, size_t len);
};

struct hubfs_backend {
	const struct hubfs_backend_ops *ops; /* first member */
};

/* The backends built in. */
extern const struct hubfs_backend_ops hubfs_backend_local_ops;
extern const struct hubfs_backend_ops hubfs_backend_s3_ops;

/*
 * Open the backend chosen by cfg->backend. @instance names this mount's staged files (so
 * two mounts of one NFS export never touch each other's). -EINVAL / -ENOENT / -EACCES /
 * -ENOTDIR with one sentence in @err for mount-time errors.
 */
int hubfs_backend_open(struct hubfs_backend **out, const struct hubfs_config *cfg,
		       const char *instance, char *err, size_t errlen);
void hubfs_backend_close(struct hubfs_backend *be);
unsigned int hubfs_backend_caps(const struct hubfs_backend *be);
const char *hubfs_backend_name(const struct hubfs_backend *be);

int hubfs_backend_check(struct hubfs_backend *be, char *msg, size_t len);
/* The backend's counters for .hub/metrics ("" when it has none): length, or -ERANGE. */
int hubfs_backend_metrics(struct hubfs_backend *be, char *buf, size_t len);
int hubfs_backend_statfs(struct hubfs_backend *be, struct statvfs *st);
int hubfs_backend_recover(struct hubfs_backend *be);
int hubfs_backend_upload_begin(struct hubfs_backend *be, const char *key,
			       struct hubfs_upload **out);
ssize_t hubfs_backend_upload_write(struct hubfs_backend *be, struct hubfs_upload *up,
				   const void *buf, size_t n, off_t off);
int hubfs_backend_upload_truncate(struct hubfs_backend *be, struct hubfs_upload *up, off_t size);
int hubfs_backend_upload_sync(struct hubfs_backend *be, struct hubfs_upload *up);
const char *hubfs_backend_upload_staged_path(struct hubfs_backend *be, struct hubfs_upload *up);
int hubfs_backend_upload_commit(struct hubfs_backend *be, struct hubfs_upload *up, const char *key,
				struct hubfs_video_meta *meta);
void hubfs_backend_upload_abort(struct hubfs_backend *be, struct hubfs_upload *up);
int hubfs_backend_read_open(struct hubfs_backend *be, const char *key, struct hubfs_reader **out);
ssize_t hubfs_backend_read(struct hubfs_backend *be, struct hubfs_reader *r, void *buf, size_t n,
			   off_t off);
int hubfs_backend_read_fd(struct hubfs_backend *be, struct hubfs_reader *r);
void hubfs_backend_read_close(struct hubfs_backend *be, struct hubfs_reader *r);
int hubfs_backend_remove(struct hubfs_backend *be, const char *key);
int hubfs_backend_rename(struct hubfs_backend *be, const char *from, const char *to);
int hubfs_backend_mkdir(struct hubfs_backend *be, const char *key, uint32_t mode);
int hubfs_backend_rmdir(struct hubfs_backend *be, const char *key);
int hubfs_backend_list(struct hubfs_backend *be, const char *key, hubfs_backend_list_fn fn,
		       void *arg);
int hubfs_backend_stat(struct hubfs_backend *be, const char *key, struct hubfs_backend_entry *e);
int hubfs_backend_meta_get(struct hubfs_backend *be, const char *key,
			   struct hubfs_video_meta *meta);
int hubfs_backend_meta_put(struct hubfs_backend *be, const char *key,
			   struct hubfs_video_meta *meta);

/*
 * `hubfs --s3-cleanup[=SECONDS]`: abort the multipart uploads under the configured bucket
 * and prefix that are older than @older_than_s, one line per upload on @out and a summary.
 * 0, or -errno with one sentence in @err.
 */
int hubfs_backend_s3_cleanup(const struct hubfs_config *cfg, unsigned int older_than_s, FILE *out,
			     char *err, size_t errlen);

/*
 * Test-only fault hook: make the @nth next call (1 = the next one) of op @op ("upload_commit",
 * "read", ... or "*" for any) fail with @err (negative errno). @nth = 0 clears it.
 */
void hubfs_backend_fault_set(const char *op, unsigned int nth, int err);

#endif
