/*
 * catalog.h — the hub's SQLite catalog: a cache of what the backend holds, plus the hub's
 * own state (later: streams, note versions, peers).
 *
 * One database file in state_dir, WAL mode, synchronous=NORMAL in WAL (durable across
 * process crashes; the backend stays the truth across power loss), opened once per mount.
 * The schema is versioned with PRAGMA user_version and upgraded by ordered migrations,
 * each in its own transaction. Every change is one transaction.
 *
 * Paths are relative to videos/ ("a.mp4", "coll/b.mkv"); "" is videos/ itself, which is
 * implicit and never stored. Callers pass paths already checked by names.h.
 *
 * Thread-safe: one connection, serialised by an internal mutex (statements are prepared
 * once and shared). Callbacks run with that mutex held and must not call back into the
 * catalog.
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
#define HUBFS_CATALOG_SCHEMA 1

/*
 * Open (creating if needed) the catalog at @path (":memory:" in tests), enable WAL, run
 * migrations. Returns 0, -EIO (with the SQLite message logged), -ENOMEM, or -EPROTO when
 * the file's schema is newer than this build knows. *out is NULL on failure.
 */
int hubfs_catalog_open(struct hubfs_catalog **out, const char *path);
void hubfs_catalog_close(struct hubfs_catalog *cat); /* NULL-safe */

/* PRAGMA integrity_check: 0 when "ok", else -EIO with the first message in @msg. */
int hubfs_catalog_check(struct hubfs_catalog *cat, char *msg, size_t len);

/* The schema version of the open file. */
int hubfs_catalog_schema_version(struct hubfs_catalog *cat);

/* Look up one entry. 0, -ENOENT. */
int hubfs_catalog_get(struct hubfs_catalog *cat, const char *path, struct hubfs_cat_entry *out);

/* Insert or replace the entry at @path (a video replaces a video atomically). 0 / -EIO. */
int hubfs_catalog_put(struct hubfs_catalog *cat, const char *path, const struct hubfs_cat_entry *e);

/* Remove a video or an empty directory. 0, -ENOENT, -ENOTEMPTY. */
int hubfs_catalog_delete(struct hubfs_catalog *cat, const char *path);

/*
 * Rename @from to @to in one transaction: a video (replacing a video at @to), or a
 * directory with its whole subtree (@to must not exist or be an empty directory).
 * 0, -ENOENT (@from missing), -EISDIR / -ENOTDIR (kind mismatch at @to), -ENOTEMPTY.
 */
int hubfs_catalog_rename(struct hubfs_catalog *cat, const char *from, const char *to);

/*
 * Call @fn for each child of directory @dir ("" = videos/), in name order, with the child's
 * name (not the full path). Stops early and returns @fn's value when it is non-zero.
 * -ENOENT if @dir is not a directory in the catalog (the root always exists).
 */
typedef int (*hubfs_cat_list_fn)(void *arg, const char *name, const struct hubfs_cat_entry *e);
int hubfs_catalog_list(struct hubfs_catalog *cat, const char *dir, hubfs_cat_list_fn fn, void *arg);

/* Every entry, full paths, parents before children (for reconciliation). */
int hubfs_catalog_walk(struct hubfs_catalog *cat, hubfs_cat_list_fn fn, void *arg);

/* Number of videos and their total size in bytes. */
int hubfs_catalog_totals(struct hubfs_catalog *cat, uint64_t *videos, uint64_t *bytes);

/*
 * Remembered rejects of files found in the backend, keyed by path with the backend bytes'
 * identity, so the same bad file is validated once, not on every scan.
 * reject_get: 0 and fills @reason when a reject with this exact size and mtime is stored,
 * -ENOENT otherwise.
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
