/*
 * catalog.h — the hub's SQLite catalog: a cache of what the backend holds, plus the hub's
 * own state (note versions, catalog_notes.h; streams, catalog_streams.h; later peers).
 *
 * One database file in state_dir, WAL mode, synchronous=FULL (each commit syncs the WAL:
 * a note's version is the truth, not a cache, and must be durable when close()/fsync()
 * returns, across power loss too), opened once per mount.
 * The schema is versioned with PRAGMA user_version and upgraded by ordered migrations,
 * each in its own transaction. Every change is one transaction.
 *
 * Paths are relative to videos/ ("a.mp4", "coll/b.mkv"); "" is videos/ itself, which is
 * implicit and never stored. Callers pass paths already checked by names.h.
 *
 * Thread-safe: one connection, serialised by an internal mutex (statements are prepared
 * once and shared). Callbacks run with that mutex held and must not call back into the
 * catalog.
 *
 * The namespace is kept a tree: put and rename create missing ancestor directories of their
 * target (mode 0755, owner and mtime_ns of the entry being written), because the catalog
 * follows a backend that has already made the change; -ENOTDIR when an ancestor is a video.
 * Besides the codes listed per function, any call may return -EBUSY (another process holds
 * the database), -ENOMEM, -ENOSPC or -EIO (logged with SQLite's message); a call that fails
 * has changed nothing.
 */
#ifndef HUBFS_CATALOG_H
#define HUBFS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hubfs/video.h"

struct hubfs_catalog;

/* One entry of videos/: a video or a directory (for a directory only mode, uid, gid,
 * mtime_ns of @meta are meaningful). */
struct hubfs_cat_entry {
	bool is_dir;
	struct hubfs_video_meta meta;
};

/* The schema version this build writes (migrations bring older files up to it). */
#define HUBFS_CATALOG_SCHEMA 4

/*
 * Open (creating if needed) the catalog at @path (":memory:" in tests), enable WAL, run
 * migrations. Returns 0, -EIO (with the SQLite message logged), -ENOMEM, or -EPROTO when
 * the file's schema is newer than this build knows. *out is NULL on failure.
 */
int hubfs_catalog_open(struct hubfs_catalog **out, const char *path);
void hubfs_catalog_close(struct hubfs_catalog *cat); /* NULL-safe */

/*
 * PRAGMA integrity_check, then the tree invariant (every entry's parent is a directory):
 * 0 and "ok" in @msg, else -EIO with the first problem in @msg (@msg may be NULL).
 */
int hubfs_catalog_check(struct hubfs_catalog *cat, char *msg, size_t len);

/* The schema version of the open file. */
int hubfs_catalog_schema_version(struct hubfs_catalog *cat);

/* Look up one entry. 0, -ENOENT. "" is the root: a directory, mode 0755, other fields 0. */
int hubfs_catalog_get(struct hubfs_catalog *cat, const char *path, struct hubfs_cat_entry *out);

/*
 * Insert or replace the entry at @path (a video replaces a video atomically; a directory's
 * attributes are updated in place), creating missing ancestors. 0, -EINVAL (@path is "" or
 * has an empty component), -EISDIR (a video onto a directory), -ENOTDIR (a directory onto a
 * video, or an ancestor is a video).
 */
int hubfs_catalog_put(struct hubfs_catalog *cat, const char *path, const struct hubfs_cat_entry *e);

/* Remove a video or an empty directory. 0, -ENOENT, -ENOTEMPTY, -EINVAL (""). */
int hubfs_catalog_delete(struct hubfs_catalog *cat, const char *path);

/*
 * Rename @from to @to in one transaction: a video (replacing a video at @to), or a
 * directory with its whole subtree (@to must not exist or be an empty directory). Missing
 * ancestors of @to are created. @from == @to is a no-op (0).
 * 0, -ENOENT (@from missing), -EISDIR / -ENOTDIR (kind mismatch at @to, or an ancestor of @to
 * is a video), -ENOTEMPTY, -EINVAL (@to inside @from's subtree, or a path is "").
 */
int hubfs_catalog_rename(struct hubfs_catalog *cat, const char *from, const char *to);

/*
 * Call @fn for each child of directory @dir ("" = videos/), in name order, with the child's
 * name (not the full path; bytewise order). Stops early and returns @fn's value when it is
 * non-zero. -ENOENT if @dir is not in the catalog (the root always exists), -ENOTDIR if it
 * is a video. @name and @e are valid only during the call: copy what you keep.
 */
typedef int (*hubfs_cat_list_fn)(void *arg, const char *name, const struct hubfs_cat_entry *e);
int hubfs_catalog_list(struct hubfs_catalog *cat, const char *dir, hubfs_cat_list_fn fn, void *arg);

/* Every entry, full paths, parents before children (bytewise path order; for reconciliation). */
int hubfs_catalog_walk(struct hubfs_catalog *cat, hubfs_cat_list_fn fn, void *arg);

/* Number of videos and their total size in bytes. */
int hubfs_catalog_totals(struct hubfs_catalog *cat, uint64_t *videos, uint64_t *bytes);

/*
 * Remembered rejects of files found in the backend, keyed by path with the backend bytes'
 * identity, so the same bad file is validated once, not on every scan.
 * reject_put replaces any reject stored for @path. reject_get: 0 and fills @reason
 * (truncated to @len) when a reject with this exact size and mtime is stored, -ENOENT
 * otherwise. reject_delete: 0 also when there was none.
 */
int hubfs_catalog_reject_put(struct hubfs_catalog *cat, const char *path, uint64_t size,
			     int64_t mtime_ns, const char *reason);
int hubfs_catalog_reject_get(struct hubfs_catalog *cat, const char *path, uint64_t size,
			     int64_t mtime_ns, char *reason, size_t len);
int hubfs_catalog_reject_delete(struct hubfs_catalog *cat, const char *path);

/* Small persistent settings (e.g. this mount's instance id). get: 0, -ENOENT, -ERANGE. */
int hubfs_catalog_kv_get(struct hubfs_catalog *cat, const char *key, char *buf, size_t len);
int hubfs_catalog_kv_set(struct hubfs_catalog *cat, const char *key, const char *value);

#endif
