/*
 * library.h — the video library: what videos/ is, independent of FUSE.
 *
 * Owns the path from bytes to a committed video (stage -> hash while written -> validate ->
 * backend commit -> catalog -> event), every namespace change of videos/ (backend first,
 * then catalog, under one lock so the scanner never sees half of it), and the scanner that
 * keeps the catalog a faithful cache of the backend (videos added, replaced or removed by
 * another mount of the same NFS export or bucket, or by hand, appear/disappear within a
 * few seconds; hand-placed files are validated before they appear).
 *
 * The stream recorder (src/stream/finish.c) commits recordings through the same upload calls.
 * Paths are relative to videos/ and already checked by the caller with names.h.
 *
 * Threads: any FUSE thread, plus the scanner thread. Locks: lib->ns_lock serialises
 * namespace mutations and scanner passes; lib->up_lock guards the list of uploads in
 * progress. An upload handle is used by one thread at a time (FUSE serialises per fd
 * closely enough: writes on one fd may come in parallel, so the handle has its own lock).
 */
#ifndef HUBFS_LIBRARY_H
#define HUBFS_LIBRARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hubfs/video.h"

struct hubfs_config;
struct hubfs_backend;
struct hubfs_catalog;
struct hubfs_library;
struct hubfs_library_upload;

/* Called when a path changed behind the kernel's back (scanner, another mount). */
typedef void (*hubfs_invalidate_fn)(void *arg, const char *path);

int hubfs_library_new(struct hubfs_library **out, const struct hubfs_config *cfg,
		      struct hubfs_backend *be, struct hubfs_catalog *cat);
void hubfs_library_free(struct hubfs_library *lib); /* stops the scanner; NULL-safe */
void hubfs_library_set_invalidate(struct hubfs_library *lib, hubfs_invalidate_fn fn, void *arg);

/* Clean staged leftovers (after a crash) and start the scanner thread. */
int hubfs_library_start(struct hubfs_library *lib);
/* Stop and join the scanner (idempotent); free() does it too. */
void hubfs_library_stop(struct hubfs_library *lib);
/* Run one reconciliation pass now, synchronously (startup, tests). */
int hubfs_library_scan(struct hubfs_library *lib);

/*
 * Uploads. begin: stage a new video (or a replacement) for @path. write: -EFBIG when the
 * write would cross max_upload_mb (nothing written). commit: validate, then commit to the
 * backend and catalog; -EINVAL when the content is refused (the staged bytes are gone and an
 * existing video at the path is untouched), -EIO/-ENOSPC... when storing failed. After
 * commit (any result) the handle only accepts free(). free: aborts an uncommitted upload.
 */
int hubfs_library_upload_begin(struct hubfs_library *lib, const char *path, uint32_t mode,
			       uint32_t uid, uint32_t gid, pid_t owner,
			       struct hubfs_library_upload **out);
ssize_t hubfs_library_upload_write(struct hubfs_library_upload *up, const void *buf, size_t n,
				   off_t off);
int hubfs_library_upload_truncate(struct hubfs_library_upload *up, off_t size);
int hubfs_library_upload_commit(struct hubfs_library_upload *up);
void hubfs_library_upload_free(struct hubfs_library_upload *up);
uint64_t hubfs_library_upload_size(struct hubfs_library_upload *up);
bool hubfs_library_upload_committed(struct hubfs_library_upload *up);
/* Attributes of the upload (for fgetattr): mode, uid, gid, size; mtime = last write. */
void hubfs_library_upload_meta(struct hubfs_library_upload *up, struct hubfs_video_meta *out);

/*
 * A read-only fd on the bytes staged so far for @path, for the process that is writing them
 * (@owner, a process id as given to begin; 0 = any). A writer that re-reads its own output
 * (ffmpeg's mp4 faststart pass) must see its own bytes; nobody else sees unvalidated ones.
 * Returns the fd (caller closes), -ENOENT (no upload for this owner), or -errno.
 */
int hubfs_library_upload_open_staged(struct hubfs_library *lib, const char *path, pid_t owner);
int hubfs_library_upload_staged_fd(struct hubfs_library_upload *up);

/* chmod/chown/utimens of an upload in progress: kept and applied at commit (cp -a sets
 * them on the open file before close). Same "leave" values as hubfs_library_setattr. */
int hubfs_library_upload_setattr(struct hubfs_library_upload *up, uint32_t mode, uint32_t uid,
				 uint32_t gid, int64_t mtime_ns);
/* The same by path, for an upload in progress that has no catalog entry; -ENOENT if none. */
int hubfs_library_upload_setattr_path(struct hubfs_library *lib, const char *path, uint32_t mode,
				      uint32_t uid, uint32_t gid, int64_t mtime_ns);

/* An upload in progress at @path (visible to lookups, not listed)? Fills @out if so. */
bool hubfs_library_upload_find(struct hubfs_library *lib, const char *path,
			       struct hubfs_video_meta *out);
/* .hub/uploads: one line per upload in progress. malloc'd, caller frees; NULL on ENOMEM. */
char *hubfs_library_uploads_format(struct hubfs_library *lib);
unsigned int hubfs_library_uploads_count(struct hubfs_library *lib);

/* Namespace of videos/, each: backend, then catalog, then an event. */
int hubfs_library_remove(struct hubfs_library *lib, const char *path);
int hubfs_library_rename(struct hubfs_library *lib, const char *from, const char *to);
int hubfs_library_mkdir(struct hubfs_library *lib, const char *path, uint32_t mode, uint32_t uid,
			uint32_t gid);
int hubfs_library_rmdir(struct hubfs_library *lib, const char *path);

/* chmod / chown / utimens. A NULL-like value leaves the field: mode (uint32_t)-1,
 * uid/gid (uint32_t)-1, mtime_ns INT64_MIN. */
int hubfs_library_setattr(struct hubfs_library *lib, const char *path, uint32_t mode, uint32_t uid,
			  uint32_t gid, int64_t mtime_ns);

#endif
