/*
 * catalog.c — the hub's SQLite catalog (include/hubfs/catalog.h): the videos/ namespace, the
 * remembered scan rejects and the small settings table. The notes tables are notes.c's, on
 * the same connection and lock (catalog_int.h shares the struct and the helpers).
 *
 * Owns the one connection and its prepared statements. Any thread enters (FUSE workers, the
 * scanner, .hub/ readers): cat->lock serialises every public call, which is why the
 * connection is opened with SQLITE_OPEN_NOMUTEX and the statements, prepared once at open,
 * are shared. Every statement is reset and its bindings cleared before the lock is dropped.
 * Callbacks of list and walk run under the lock.
 *
 * Every change is one transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any error), so
 * a failed call changes nothing. put and rename keep the table a tree: every entry's parent
 * is "" (videos/) or a directory entry, and path is parent "/" name. They create missing
 * ancestor directories rather than refuse, because the catalog follows the backend, which
 * has already made the change. hubfs_catalog_check verifies the tree.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubfs/catalog.h"
#include "hubfs/log.h"

#include "catalog/catalog_int.h"

/* The columns of struct hubfs_video_meta, in the order cat_bind_meta and cat_read_entry use. */
#define CAT_META_COLS                                                                              \
	"size, sha256, duration, width, height, fps, video_codec, audio_codec, container, "        \
	"bitrate, uploaded, mtime_ns, mode, uid, gid, file_mtime_ns, file_size, record_mtime_ns"

static const char *const cat_sql[CAT_NSTMT] = {
	[CAT_BEGIN] = "BEGIN IMMEDIATE",
	[CAT_COMMIT] = "COMMIT",
	[CAT_ROLLBACK] = "ROLLBACK",
	[CAT_GET] = "SELECT is_dir, " CAT_META_COLS " FROM videos WHERE path = ?1",
	[CAT_KIND] = "SELECT is_dir FROM videos WHERE path = ?1",
	[CAT_HAS_CHILD] = "SELECT 1 FROM videos WHERE parent = ?1 LIMIT 1",
	[CAT_UPSERT] = "INSERT INTO videos (path, parent, name, is_dir, " CAT_META_COLS
		       ")"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
		       " ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
		       " ON CONFLICT (path) DO UPDATE SET is_dir = excluded.is_dir,"
		       " size = excluded.size, sha256 = excluded.sha256,"
		       " duration = excluded.duration, width = excluded.width,"
		       " height = excluded.height, fps = excluded.fps,"
		       " video_codec = excluded.video_codec, audio_codec = excluded.audio_codec,"
		       " container = excluded.container, bitrate = excluded.bitrate,"
		       " uploaded = excluded.uploaded, mtime_ns = excluded.mtime_ns,"
		       " mode = excluded.mode, uid = excluded.uid, gid = excluded.gid,"
		       " file_mtime_ns = excluded.file_mtime_ns, file_size = excluded.file_size,"
		       " record_mtime_ns = excluded.record_mtime_ns",
	[CAT_DELETE] = "DELETE FROM videos WHERE path = ?1",
	[CAT_MOVE_ONE] = "UPDATE videos SET path = ?2, parent = ?3, name = ?4 WHERE path = ?1",
	/*
	 * The subtree of ?1 is the byte range [?1 "/", ?1 "0") ('0' follows '/'); no LIKE or
	 * GLOB, so '%', '_', '*' in names are plain bytes. The ?3 = strlen(?1) bytes of the old
	 * prefix are cut as a blob, because substr() on text counts characters.
	 */
	[CAT_MOVE_TREE] =
		"UPDATE videos"
		" SET path = ?2 || CAST(substr(CAST(path AS BLOB), ?3 + 1) AS TEXT),"
		" parent = ?2 || CAST(substr(CAST(parent AS BLOB), ?3 + 1) AS TEXT)"
		" WHERE path >= ?1 || '/' AND path < ?1 || '0'",
	[CAT_LIST] = "SELECT name, is_dir, " CAT_META_COLS
		     " FROM videos WHERE parent = ?1"
		     " ORDER BY name",
	/* Bytewise order puts every parent (a prefix) before its children. */
	[CAT_WALK] = "SELECT path, is_dir, " CAT_META_COLS " FROM videos ORDER BY path",
	[CAT_TOTALS] = "SELECT count(*), coalesce(sum(size), 0) FROM videos WHERE is_dir = 0",
	[CAT_REJ_PUT] =
		"INSERT OR REPLACE INTO scan_rejects (path, size, mtime_ns, reason)"
		" VALUES (?1, ?2, ?3, ?4)",
	[CAT_REJ_GET] =
		"SELECT reason FROM scan_rejects WHERE path = ?1 AND size = ?2"
		" AND mtime_ns = ?3",
	[CAT_REJ_DEL] = "DELETE FROM scan_rejects WHERE path = ?1",
	[CAT_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
	[CAT_KV_SET] =
		"INSERT INTO kv (key, value) VALUES (?1, ?2)"
		" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};

/* What an entry at a path is (cat_kind). */
enum cat_kind {
	CAT_NONE = -1,
	CAT_VIDEO = 0,
	CAT_DIR = 1,
};

sqlite3 *cat_test_db(struct hubfs_catalog *cat)
{
	return cat->db;
}

/* Reset @st and drop its bindings (they point into the caller's strings). */
void cat_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind @len bytes of @s without copying: the statement is reset before @s goes away. */
int cat_bind_text(struct hubfs_catalog *cat, sqlite3_stmt *st, int idx, const char *s, size_t len)
{
	int src;

	if (len > CAT_TEXT_MAX)
		return -E2BIG;
	src = sqlite3_bind_text(st, idx, s, (int)len, SQLITE_STATIC);
	if (src != SQLITE_OK)
		return cat_sqlite_err(cat->db, src, "bind");
	return 0;
}

/* Check a path that names an entry: "a" or "a/b", no empty component, not too long. */
int cat_path_check(const char *path, size_t *len)
{
	*len = strnlen(path, CAT_PATH_MAX + 1);
	if (*len > CAT_PATH_MAX)
		return -ENAMETOOLONG;
	if (*len == 0 || path[0] == '/' || path[*len - 1] == '/' || strstr(path, "//"))
		return -EINVAL;
	return 0;
}

/* The length of @path[0..len)'s parent ("a/b/c" -> 3, "a" -> 0, the root). */
size_t cat_parent_len(const char *path, size_t len)
{
	const char *slash = memrchr(path, '/', len);

	return slash ? (size_t)(slash - path) : 0;
}

/* Copy a text column into @dst (truncating; a NULL reads as ""). */
void cat_col_copy(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	size_t n = text ? (size_t)sqlite3_column_bytes(st, col) : 0;

	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(dst, text, n);
	dst[n] = '\0';
}

/* Fill @e from the row of @st, whose column @col is is_dir, followed by CAT_META_COLS. */
static void cat_read_entry(sqlite3_stmt *st, int col, struct hubfs_cat_entry *e)
{
	struct hubfs_video_meta *m = &e->meta;

	memset(e, 0, sizeof(*e));
	e->is_dir = sqlite3_column_int(st, col) != 0;
	m->size = (uint64_t)sqlite3_column_int64(st, col + 1);
	cat_col_copy(m->sha256, sizeof(m->sha256), st, col + 2);
	m->media.duration = sqlite3_column_double(st, col + 3);
	m->media.width = sqlite3_column_int(st, col + 4);
	m->media.height = sqlite3_column_int(st, col + 5);
	m->media.fps = sqlite3_column_double(st, col + 6);
	cat_col_copy(m->media.video_codec, sizeof(m->media.video_codec), st, col + 7);
	cat_col_copy(m->media.audio_codec, sizeof(m->media.audio_codec), st, col + 8);
	cat_col_copy(m->media.container, sizeof(m->media.container), st, col + 9);
	m->media.bitrate = sqlite3_column_int64(st, col + 10);
	m->uploaded = sqlite3_column_int64(st, col + 11);
	m->mtime_ns = sqlite3_column_int64(st, col + 12);
	m->mode = (uint32_t)sqlite3_column_int64(st, col + 13);
	m->uid = (uint32_t)sqlite3_column_int64(st, col + 14);
	m->gid = (uint32_t)sqlite3_column_int64(st, col + 15);
	m->file_mtime_ns = sqlite3_column_int64(st, col + 16);
	m->file_size = (uint64_t)sqlite3_column_int64(st, col + 17);
	m->record_mtime_ns = sqlite3_column_int64(st, col + 18);
}

/* SQLite stores a NaN as NULL, which the NOT NULL columns refuse. */
static double cat_real(double v)
{
	return isnan(v) ? 0.0 : v;
}

/*
 * Bind @m to parameters @idx.. in CAT_META_COLS order. Numeric binds to a valid index cannot
 * fail; u64 values go in as their i64 bit pattern and come back the same way.
 */
static int cat_bind_meta(struct hubfs_catalog *cat, sqlite3_stmt *st, int idx,
			 const struct hubfs_video_meta *m)
{
	int rc;

	sqlite3_bind_int64(st, idx, (sqlite3_int64)m->size);
	rc = cat_bind_text(cat, st, idx + 1, m->sha256, strnlen(m->sha256, sizeof(m->sha256)));
	if (rc)
		goto out;
	sqlite3_bind_double(st, idx + 2, cat_real(m->media.duration));
	sqlite3_bind_int(st, idx + 3, m->media.width);
	sqlite3_bind_int(st, idx + 4, m->media.height);
	sqlite3_bind_double(st, idx + 5, cat_real(m->media.fps));
	rc = cat_bind_text(cat, st, idx + 6, m->media.video_codec,
			   strnlen(m->media.video_codec, sizeof(m->media.video_codec)));
	if (rc)
		goto out;
	rc = cat_bind_text(cat, st, idx + 7, m->media.audio_codec,
			   strnlen(m->media.audio_codec, sizeof(m->media.audio_codec)));
	if (rc)
		goto out;
	rc = cat_bind_text(cat, st, idx + 8, m->media.container,
			   strnlen(m->media.container, sizeof(m->media.container)));
	if (rc)
		goto out;
	sqlite3_bind_int64(st, idx + 9, m->media.bitrate);
	sqlite3_bind_int64(st, idx + 10, m->uploaded);
	sqlite3_bind_int64(st, idx + 11, m->mtime_ns);
	sqlite3_bind_int64(st, idx + 12, m->mode);
	sqlite3_bind_int64(st, idx + 13, m->uid);
	sqlite3_bind_int64(st, idx + 14, m->gid);
	sqlite3_bind_int64(st, idx + 15, m->file_mtime_ns);
	sqlite3_bind_int64(st, idx + 16, (sqlite3_int64)m->file_size);
	sqlite3_bind_int64(st, idx + 17, m->record_mtime_ns);
out:
	return rc;
}

/* Run a statement that returns no data we need (BEGIN, COMMIT, DELETE ...) once. */
int cat_run(struct hubfs_catalog *cat, sqlite3_stmt *st, const char *what)
{
	int src;
	int rc = 0;

	src = sqlite3_step(st);
	if (src != SQLITE_DONE && src != SQLITE_ROW)
		rc = cat_sqlite_err(cat->db, src, what);
	cat_done(st);
	return rc;
}

/* Undo the open transaction, if any (some errors have already rolled it back). */
void cat_rollback(struct hubfs_catalog *cat)
{
	int src;

	if (sqlite3_get_autocommit(cat->db))
		return;
	src = sqlite3_step(cat->st[CAT_ROLLBACK]);
	if (src != SQLITE_DONE)
		cat_sqlite_err(cat->db, src, "rollback");
	cat_done(cat->st[CAT_ROLLBACK]);
}

int cat_begin(struct hubfs_catalog *cat)
{
	cat_rollback(cat); /* a transaction a failed rollback left behind */
	return cat_run(cat, cat->st[CAT_BEGIN], "begin");
}

int cat_finish(struct hubfs_catalog *cat, int rc)
{
	if (!rc)
		rc = cat_run(cat, cat->st[CAT_COMMIT], "commit");
	if (rc)
		cat_rollback(cat);
	return rc;
}

/* What is at @path[0..len): CAT_NONE, CAT_VIDEO or CAT_DIR in *kind. */
static int cat_kind(struct hubfs_catalog *cat, const char *path, size_t len, enum cat_kind *kind)
{
	sqlite3_stmt *st = cat->st[CAT_KIND];
	int src;
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (rc)
		goto out;
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		*kind = sqlite3_column_int(st, 0) ? CAT_DIR : CAT_VIDEO;
	else if (src == SQLITE_DONE)
		*kind = CAT_NONE;
	else
		rc = cat_sqlite_err(cat->db, src, "look up");
out:
	cat_done(st);
	return rc;
}

static int cat_get_locked(struct hubfs_catalog *cat, const char *path, size_t len,
			  struct hubfs_cat_entry *out)
{
	sqlite3_stmt *st = cat->st[CAT_GET];
	int src;
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (rc)
		goto out;
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		cat_read_entry(st, 0, out);
	else if (src == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = cat_sqlite_err(cat->db, src, "get");
out:
	cat_done(st);
	return rc;
}

/* Whether directory @path[0..len) has any entry in it. */
static int cat_has_child(struct hubfs_catalog *cat, const char *path, size_t len, bool *any)
{
	sqlite3_stmt *st = cat->st[CAT_HAS_CHILD];
	int src;
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (rc)
		goto out;
	src = sqlite3_step(st);
	if (src == SQLITE_ROW || src == SQLITE_DONE)
		*any = src == SQLITE_ROW;
	else
		rc = cat_sqlite_err(cat->db, src, "look up children");
out:
	cat_done(st);
	return rc;
}

/* Insert or update the row of @path[0..len), deriving parent and name from the path. */
static int cat_upsert(struct hubfs_catalog *cat, const char *path, size_t len, bool is_dir,
		      const struct hubfs_video_meta *m)
{
	sqlite3_stmt *st = cat->st[CAT_UPSERT];
	size_t plen = cat_parent_len(path, len);
	size_t name = plen ? plen + 1 : 0;
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (rc)
		goto out;
	rc = cat_bind_text(cat, st, 2, path, plen);
	if (rc)
		goto out;
	rc = cat_bind_text(cat, st, 3, path + name, len - name);
	if (rc)
		goto out;
	sqlite3_bind_int(st, 4, is_dir);
	rc = cat_bind_meta(cat, st, 5, m);
	if (rc)
		goto out;
	rc = cat_run(cat, st, "put");
out:
	cat_done(st);
	return rc;
}

static int cat_delete_row(struct hubfs_catalog *cat, const char *path, size_t len)
{
	sqlite3_stmt *st = cat->st[CAT_DELETE];
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_run(cat, st, "delete");
	cat_done(st);
	return rc;
}

/*
 * Make sure every ancestor of @path[0..len) is a directory, creating the missing ones (mode
 * 0755, owner and mtime of @like). -ENOTDIR when one is a video.
 */
static int cat_ensure_parents(struct hubfs_catalog *cat, const char *path, size_t len,
			      const struct hubfs_video_meta *like)
{
	struct hubfs_video_meta dir = { 0 };
	size_t want = cat_parent_len(path, len);
	size_t have = want;
	const char *slash;
	size_t next;
	enum cat_kind kind;
	int rc = 0;

	/* Up to the deepest ancestor that exists: the tree invariant makes it the parent
	 * itself in the usual case, one lookup. */
	while (have > 0) {
		rc = cat_kind(cat, path, have, &kind);
		if (rc)
			goto out;
		if (kind == CAT_DIR)
			break;
		if (kind == CAT_VIDEO) {
			rc = -ENOTDIR;
			goto out;
		}
		have = cat_parent_len(path, have);
	}
	dir.mode = 0755;
	dir.uid = like->uid;
	dir.gid = like->gid;
	dir.mtime_ns = like->mtime_ns;
	/* Then down again, each missing directory after its parent. */
	while (have < want) {
		next = have ? have + 1 : 0;
		slash = memchr(path + next, '/', want - next);
		next = slash ? (size_t)(slash - path) : want;
		rc = cat_upsert(cat, path, next, true, &dir);
		if (rc)
			goto out;
		hubfs_dbg(HUBFS_CAT_CATALOG, "catalog: implied directory '%.*s'", (int)next, path);
		have = next;
	}
out:
	return rc;
}

void hubfs_catalog_close(struct hubfs_catalog *cat)
{
	int src;

	if (!cat)
		return;
	for (int i = 0; i < CAT_NSTMT; i++)
		sqlite3_finalize(cat->st[i]);
	cat_notes_finalize(cat->notes);
	if (cat->db) {
		src = sqlite3_close(cat->db);
		if (src != SQLITE_OK)
			cat_sqlite_err(cat->db, src, "close");
	}
	pthread_mutex_destroy(&cat->lock);
	free(cat);
}

/* Connection settings; WAL is persistent in the file, the others are per connection. */
static int cat_configure(struct hubfs_catalog *cat, const char *path)
{
	sqlite3_stmt *st = NULL;
	const char *mode;
	int src;
	int rc = 0;

	sqlite3_extended_result_codes(cat->db, 1);
	sqlite3_busy_timeout(cat->db, CAT_BUSY_MS);
	src = sqlite3_exec(cat->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", NULL,
			   NULL, NULL);
	if (src != SQLITE_OK) {
		rc = cat_sqlite_err(cat->db, src, "configure");
		goto out;
	}
	src = sqlite3_prepare_v2(cat->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = cat_sqlite_err(cat->db, src, "enable WAL");
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || (strcmp(mode, "wal") && strcmp(mode, "memory")))
		hubfs_log(HUBFS_LOG_WARN,
			  "catalog: '%s' stays in journal mode '%s', not WAL: is state_dir on a "
			  "local disk?",
			  path, mode ? mode : "?");
out:
	sqlite3_finalize(st);
	return rc;
}

int hubfs_catalog_open(struct hubfs_catalog **out, const char *path)
{
	struct hubfs_catalog *cat;
	int src;
	int rc;

	*out = NULL;
	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return -ENOMEM;
	pthread_mutex_init(&cat->lock, NULL);
	src = sqlite3_open_v2(path, &cat->db,
			      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			      NULL);
	if (src != SQLITE_OK) {
		rc = cat_sqlite_err(cat->db, src, "open");
		goto out;
	}
	rc = cat_configure(cat, path);
	if (rc)
		goto out;
	rc = cat_schema_migrate(cat->db, cat_migrations, cat_nmigrations, &cat->version);
	if (rc)
		goto out;
	for (int i = 0; i < CAT_NSTMT; i++) {
		src = sqlite3_prepare_v3(cat->db, cat_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					 &cat->st[i], NULL);
		if (src != SQLITE_OK) {
			rc = cat_sqlite_err(cat->db, src, "prepare");
			goto out;
		}
	}
	*out = cat;
out:
	if (rc) {
		hubfs_log(HUBFS_LOG_ERR, "catalog: cannot open '%s': %s", path, strerror(-rc));
		hubfs_catalog_close(cat);
	}
	return rc;
}

int hubfs_catalog_schema_version(struct hubfs_catalog *cat)
{
	return cat->version;
}

/* The first row of @sql's first column into @msg; -ENOENT when there is no row. */
static int cat_check_query(struct hubfs_catalog *cat, const char *sql, char *msg, size_t len)
{
	sqlite3_stmt *st = NULL;
	int src;
	int rc;

	src = sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		cat_col_copy(msg, len, st, 0);
		rc = 0;
	} else if (src == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = cat_sqlite_err(cat->db, src, "check");
	}
	sqlite3_finalize(st);
	return rc;
}

int hubfs_catalog_check(struct hubfs_catalog *cat, char *msg, size_t len)
{
	char bad[256] = "";
	char path[CAT_PATH_MAX + 1] = "";
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_check_query(cat, "PRAGMA integrity_check", bad, sizeof(bad));
	if (rc)
		goto out;
	if (strcmp(bad, "ok")) {
		rc = -EIO;
		goto out;
	}
	bad[0] = '\0';
	/* The tree invariant: path = parent "/" name, and every parent a directory. */
	rc = cat_check_query(cat,
			     "SELECT path FROM videos AS v"
			     " WHERE v.path <> (CASE v.parent WHEN '' THEN v.name"
			     " ELSE v.parent || '/' || v.name END)"
			     " OR (v.parent <> '' AND NOT EXISTS (SELECT 1 FROM videos AS p"
			     " WHERE p.path = v.parent AND p.is_dir = 1))"
			     " LIMIT 1",
			     path, sizeof(path));
	if (rc == -ENOENT) {
		rc = cat_notes_check(cat, bad, sizeof(bad));
		goto out;
	}
	if (rc)
		goto out;
	snprintf(bad, sizeof(bad), "entry '%.200s' is not in a directory of the catalog", path);
	rc = -EIO;
out:
	if (rc && bad[0])
		hubfs_log(HUBFS_LOG_ERR, "catalog: check failed: %s", bad);
	if (msg && len)
		snprintf(msg, len, "%s", !rc ? "ok" : bad[0] ? bad : strerror(-rc));
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_get(struct hubfs_catalog *cat, const char *path, struct hubfs_cat_entry *out)
{
	size_t len = strnlen(path, CAT_PATH_MAX + 1);
	int rc;

	if (len == 0) {
		memset(out, 0, sizeof(*out));
		out->is_dir = true;
		out->meta.mode = 0755;
		return 0;
	}
	if (len > CAT_PATH_MAX)
		return -ENOENT;
	pthread_mutex_lock(&cat->lock);
	rc = cat_get_locked(cat, path, len, out);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int cat_put_locked(struct hubfs_catalog *cat, const char *path, size_t len,
			  const struct hubfs_cat_entry *e)
{
	enum cat_kind kind;
	int rc;

	rc = cat_kind(cat, path, len, &kind);
	if (rc)
		goto out;
	if (kind == CAT_DIR && !e->is_dir) {
		rc = -EISDIR;
		goto out;
	}
	if (kind == CAT_VIDEO && e->is_dir) {
		rc = -ENOTDIR;
		goto out;
	}
	if (kind == CAT_NONE) {
		rc = cat_ensure_parents(cat, path, len, &e->meta);
		if (rc)
			goto out;
	}
	rc = cat_upsert(cat, path, len, e->is_dir, &e->meta);
out:
	return rc;
}

int hubfs_catalog_put(struct hubfs_catalog *cat, const char *path, const struct hubfs_cat_entry *e)
{
	size_t len;
	int rc;

	rc = cat_path_check(path, &len);
	if (rc)
		return rc;
	pthread_mutex_lock(&cat->lock);
	rc = cat_begin(cat);
	if (!rc)
		rc = cat_put_locked(cat, path, len, e);
	rc = cat_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int cat_delete_locked(struct hubfs_catalog *cat, const char *path, size_t len)
{
	enum cat_kind kind;
	bool any = false;
	int rc;

	rc = cat_kind(cat, path, len, &kind);
	if (rc)
		goto out;
	if (kind == CAT_NONE) {
		rc = -ENOENT;
		goto out;
	}
	if (kind == CAT_DIR) {
		rc = cat_has_child(cat, path, len, &any);
		if (rc)
			goto out;
		if (any) {
			rc = -ENOTEMPTY;
			goto out;
		}
	}
	rc = cat_delete_row(cat, path, len);
out:
	return rc;
}

int hubfs_catalog_delete(struct hubfs_catalog *cat, const char *path)
{
	size_t len;
	int rc;

	rc = cat_path_check(path, &len);
	if (rc)
		return rc;
	pthread_mutex_lock(&cat->lock);
	rc = cat_begin(cat);
	if (!rc)
		rc = cat_delete_locked(cat, path, len);
	rc = cat_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* Rename the row of @from to @to, then (a directory) every row below it. */
static int cat_move(struct hubfs_catalog *cat, const char *from, size_t flen, const char *to,
		    size_t tlen, bool is_dir)
{
	sqlite3_stmt *st = cat->st[CAT_MOVE_ONE];
	size_t plen = cat_parent_len(to, tlen);
	size_t name = plen ? plen + 1 : 0;
	int rc;

	rc = cat_bind_text(cat, st, 1, from, flen);
	if (!rc)
		rc = cat_bind_text(cat, st, 2, to, tlen);
	if (!rc)
		rc = cat_bind_text(cat, st, 3, to, plen);
	if (!rc)
		rc = cat_bind_text(cat, st, 4, to + name, tlen - name);
	if (!rc)
		rc = cat_run(cat, st, "rename");
	cat_done(st);
	if (rc || !is_dir)
		goto out;
	st = cat->st[CAT_MOVE_TREE];
	rc = cat_bind_text(cat, st, 1, from, flen);
	if (!rc)
		rc = cat_bind_text(cat, st, 2, to, tlen);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)flen);
	if (!rc)
		rc = cat_run(cat, st, "rename subtree");
	cat_done(st);
out:
	return rc;
}

static int cat_rename_locked(struct hubfs_catalog *cat, const char *from, size_t flen,
			     const char *to, size_t tlen)
{
	struct hubfs_cat_entry src;
	enum cat_kind kind;
	bool any = false;
	int rc;

	rc = cat_get_locked(cat, from, flen, &src);
	if (rc)
		goto out;
	if (flen == tlen && !memcmp(from, to, flen))
		goto out; /* rename(2): same entry, nothing to do */
	if (src.is_dir && tlen > flen && !memcmp(to, from, flen) && to[flen] == '/') {
		rc = -EINVAL; /* into its own subtree */
		goto out;
	}
	rc = cat_kind(cat, to, tlen, &kind);
	if (rc)
		goto out;
	if (kind == CAT_DIR && !src.is_dir) {
		rc = -EISDIR;
		goto out;
	}
	if (kind == CAT_VIDEO && src.is_dir) {
		rc = -ENOTDIR;
		goto out;
	}
	if (kind == CAT_DIR) {
		rc = cat_has_child(cat, to, tlen, &any);
		if (rc)
			goto out;
		if (any) {
			rc = -ENOTEMPTY;
			goto out;
		}
	}
	if (kind != CAT_NONE) {
		rc = cat_delete_row(cat, to, tlen);
		if (rc)
			goto out;
	} else {
		rc = cat_ensure_parents(cat, to, tlen, &src.meta);
		if (rc)
			goto out;
	}
	rc = cat_move(cat, from, flen, to, tlen, src.is_dir);
out:
	return rc;
}

int hubfs_catalog_rename(struct hubfs_catalog *cat, const char *from, const char *to)
{
	size_t flen, tlen;
	int rc;

	rc = cat_path_check(from, &flen);
	if (rc)
		return rc;
	rc = cat_path_check(to, &tlen);
	if (rc)
		return rc;
	pthread_mutex_lock(&cat->lock);
	rc = cat_begin(cat);
	if (!rc)
		rc = cat_rename_locked(cat, from, flen, to, tlen);
	rc = cat_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* Step @st (bound already), calling @fn with column 0 as the name and the entry after it. */
static int cat_each(struct hubfs_catalog *cat, sqlite3_stmt *st, hubfs_cat_list_fn fn, void *arg)
{
	struct hubfs_cat_entry e;
	const char *name;
	int src;
	int rc;

	for (;;) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (src != SQLITE_ROW) {
			rc = cat_sqlite_err(cat->db, src, "list");
			break;
		}
		name = (const char *)sqlite3_column_text(st, 0);
		if (!name) {
			rc = -ENOMEM; /* the only way a NOT NULL text column reads as NULL */
			break;
		}
		cat_read_entry(st, 1, &e);
		rc = fn(arg, name, &e);
		if (rc)
			break;
	}
	return rc;
}

int hubfs_catalog_list(struct hubfs_catalog *cat, const char *dir, hubfs_cat_list_fn fn, void *arg)
{
	sqlite3_stmt *st = cat->st[CAT_LIST];
	size_t len = strnlen(dir, CAT_PATH_MAX + 1);
	enum cat_kind kind = CAT_DIR;
	int rc;

	if (len > CAT_PATH_MAX)
		return -ENOENT;
	pthread_mutex_lock(&cat->lock);
	if (len) {
		rc = cat_kind(cat, dir, len, &kind);
		if (rc)
			goto out;
	}
	if (kind == CAT_NONE) {
		rc = -ENOENT;
		goto out;
	}
	if (kind == CAT_VIDEO) {
		rc = -ENOTDIR;
		goto out;
	}
	rc = cat_bind_text(cat, st, 1, dir, len);
	if (rc)
		goto out;
	rc = cat_each(cat, st, fn, arg);
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_walk(struct hubfs_catalog *cat, hubfs_cat_list_fn fn, void *arg)
{
	sqlite3_stmt *st = cat->st[CAT_WALK];
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_each(cat, st, fn, arg);
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_totals(struct hubfs_catalog *cat, uint64_t *videos, uint64_t *bytes)
{
	sqlite3_stmt *st = cat->st[CAT_TOTALS];
	int src;
	int rc = 0;

	pthread_mutex_lock(&cat->lock);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		*videos = (uint64_t)sqlite3_column_int64(st, 0);
		*bytes = (uint64_t)sqlite3_column_int64(st, 1);
	} else {
		rc = cat_sqlite_err(cat->db, src, "totals");
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_reject_put(struct hubfs_catalog *cat, const char *path, uint64_t size,
			     int64_t mtime_ns, const char *reason)
{
	sqlite3_stmt *st = cat->st[CAT_REJ_PUT];
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_bind_text(cat, st, 1, path, strlen(path));
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, mtime_ns);
	rc = cat_bind_text(cat, st, 4, reason, strlen(reason));
	if (rc)
		goto out;
	rc = cat_run(cat, st, "remember reject");
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_reject_get(struct hubfs_catalog *cat, const char *path, uint64_t size,
			     int64_t mtime_ns, char *reason, size_t len)
{
	sqlite3_stmt *st = cat->st[CAT_REJ_GET];
	int src;
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_bind_text(cat, st, 1, path, strlen(path));
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, mtime_ns);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		cat_col_copy(reason, len, st, 0);
	else if (src == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = cat_sqlite_err(cat->db, src, "look up reject");
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_reject_delete(struct hubfs_catalog *cat, const char *path)
{
	sqlite3_stmt *st = cat->st[CAT_REJ_DEL];
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_bind_text(cat, st, 1, path, strlen(path));
	if (!rc)
		rc = cat_run(cat, st, "forget reject");
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_kv_get(struct hubfs_catalog *cat, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st = cat->st[CAT_KV_GET];
	const void *value;
	size_t n;
	int src;
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_bind_text(cat, st, 1, key, strlen(key));
	if (rc)
		goto out;
	src = sqlite3_step(st);
	if (src == SQLITE_DONE) {
		rc = -ENOENT;
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = cat_sqlite_err(cat->db, src, "get setting");
		goto out;
	}
	value = sqlite3_column_text(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 0);
	if (!value) {
		rc = -ENOMEM;
		goto out;
	}
	if (n >= len) {
		rc = -ERANGE;
		goto out;
	}
	memcpy(buf, value, n);
	buf[n] = '\0';
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_kv_set(struct hubfs_catalog *cat, const char *key, const char *value)
{
	sqlite3_stmt *st = cat->st[CAT_KV_SET];
	int rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_bind_text(cat, st, 1, key, strlen(key));
	if (rc)
		goto out;
	rc = cat_bind_text(cat, st, 2, value, strlen(value));
	if (rc)
		goto out;
	rc = cat_run(cat, st, "set setting");
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}
