/*
 * library_int.h — the library's private state, shared by library.c (namespace), upload.c
 * (the upload pipeline) and scan.c (reconciliation). Not for other subsystems.
 */
#ifndef HUBFS_LIBRARY_INT_H
#define HUBFS_LIBRARY_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "hubfs/library.h"

struct hubfs_library {
	const struct hubfs_config *cfg;
	struct hubfs_backend *be;
	struct hubfs_catalog *cat;
	uint64_t max_upload_bytes;

	hubfs_invalidate_fn invalidate; /* set before start, then read-only */
	void *invalidate_arg;

	/* Serialises namespace mutations (backend + catalog) with scanner passes. */
	pthread_mutex_t ns_lock;

	/* Uploads in progress, for lookups and .hub/uploads. */
	pthread_mutex_t up_lock;
	struct hubfs_library_upload *uploads; /* up_lock: doubly linked list */

	/* Scanner thread. */
	pthread_t scan_thread;
	bool scan_running;
	pthread_mutex_t scan_lock; /* guards scan_stop and the condvar */
	pthread_cond_t scan_cond;
	bool scan_stop;
};

/* Tell the fs that @path (relative to videos/) changed behind the kernel's back. */
void lib_invalidate(struct hubfs_library *lib, const char *path);

/* Rename uploads in progress under @from to @to (file or directory prefix). up_lock inside. */
void lib_uploads_rename(struct hubfs_library *lib, const char *from, const char *to);
/* Mark uploads in progress at @path as removed (their commit discards them). Returns how
 * many there were. up_lock inside. */
int lib_uploads_unlink(struct hubfs_library *lib, const char *path);
/* Is an upload in progress at @dir or below it? */
bool lib_uploads_under(struct hubfs_library *lib, const char *dir);

/* Validate a file at @abs_path found in the backend and hash it: fills @meta (media, sha256,
 * size). 0, -EINVAL with @why. */
int lib_probe_file(const char *abs_path, struct hubfs_video_meta *meta, char *why, size_t len);

/* Human size, "12.3 MB". */
void lib_fmt_size(uint64_t bytes, char *buf, size_t len);

#define LIB_SCAN_INTERVAL_MS 2000
/* A hand-placed file must be this quiet (no mtime change) before it is validated. */
#define LIB_SETTLE_NS (2LL * 1000000000)

#endif
