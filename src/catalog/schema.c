/*
 * schema.c — the catalog's schema: its versions, the migrations between them, and the one
 * map from SQLite result codes to errno.
 *
 * Owns cat_migrations[], the ordered list of schema steps (PRAGMA user_version N - 1 -> N).
 * A step runs in its own BEGIN IMMEDIATE transaction that also re-reads user_version, so two
 * processes opening the same file cannot both apply it, and a failed step leaves the file at
 * the previous version. A file newer than the last step is refused (-EPROTO): an older build
 * must not write a schema it does not understand.
 *
 * Threads: called by hubfs_catalog_open before the catalog is shared (and by the unit test);
 * cat_sqlite_err by any thread holding the catalog mutex. No locks of its own.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include "hubfs/log.h"

#include "catalog/catalog_int.h"

/*
 * Version 1: videos/ (files and directories in one table, keyed by path, with parent and name
 * so a directory lists with one range of videos_by_parent), scan rejects, settings.
 * Paths compare as bytes (BINARY), so a prefix range [p || '/', p || '0') is exactly p's
 * subtree and parents sort before their children.
 */
static const char cat_schema_v1[] =
	"CREATE TABLE videos ("
	" path TEXT PRIMARY KEY NOT NULL CHECK (path <> ''),"
	" parent TEXT NOT NULL,"
	" name TEXT NOT NULL CHECK (name <> ''),"
	" is_dir INTEGER NOT NULL CHECK (is_dir IN (0, 1)),"
	" size INTEGER NOT NULL DEFAULT 0,"
	" sha256 TEXT NOT NULL DEFAULT '',"
	" duration REAL NOT NULL DEFAULT 0,"
	" width INTEGER NOT NULL DEFAULT 0,"
	" height INTEGER NOT NULL DEFAULT 0,"
	" fps REAL NOT NULL DEFAULT 0,"
	" video_codec TEXT NOT NULL DEFAULT '',"
	" audio_codec TEXT NOT NULL DEFAULT '',"
	" container TEXT NOT NULL DEFAULT '',"
	" bitrate INTEGER NOT NULL DEFAULT 0,"
	" uploaded INTEGER NOT NULL DEFAULT 0,"
	" mtime_ns INTEGER NOT NULL DEFAULT 0,"
	" mode INTEGER NOT NULL DEFAULT 0,"
	" uid INTEGER NOT NULL DEFAULT 0,"
	" gid INTEGER NOT NULL DEFAULT 0,"
	" file_mtime_ns INTEGER NOT NULL DEFAULT 0,"
	" file_size INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE UNIQUE INDEX videos_by_parent ON videos (parent, name);"
	"CREATE TABLE scan_rejects ("
	" path TEXT PRIMARY KEY NOT NULL,"
	" size INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL,"
	" reason TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE kv ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" value TEXT NOT NULL"
	") WITHOUT ROWID;";

/*
 * Version 2: the version marker of each video's metadata record in the backend, so a
 * chmod/chown made through another mount (the bytes unchanged) is noticed by the scanner.
 */
static const char cat_schema_v2[] =
	"ALTER TABLE videos ADD COLUMN record_mtime_ns INTEGER NOT NULL DEFAULT 0;";

/*
 * Version 3: notes/ (src/catalog/notes.c). A note row is never removed: a delete records a
 * delete version and sets path NULL, keeping last_path (= path while live; parent and name
 * are last_path's) so the history stays reachable by path. Live paths are unique, and live
 * notes list by the partial index notes_by_parent. Versions are numbered per note (seq 1,
 * 2, ...), content last in the row so listing versions does not read it. The full-text index
 * is external-content over the view notes_fts_src (live notes: title = path, content = the
 * head's content, tags): nothing is stored twice, and notes.c keeps the index equal to the
 * view (deleting a row's terms before a change, adding them after).
 */
static const char cat_schema_v3[] =
	"CREATE TABLE notes ("
	" id INTEGER PRIMARY KEY,"
	" gid TEXT NOT NULL UNIQUE CHECK (gid <> ''),"
	" path TEXT UNIQUE CHECK (path <> ''),"
	" last_path TEXT NOT NULL CHECK (last_path <> ''),"
	" parent TEXT NOT NULL,"
	" name TEXT NOT NULL CHECK (name <> ''),"
	" head TEXT NOT NULL,"
	" nversions INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),"
	" shared INTEGER NOT NULL CHECK (shared IN (0, 1)),"
	" tags TEXT NOT NULL DEFAULT '',"
	" created_ns INTEGER NOT NULL,"
	" updated_ns INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL,"
	" mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" gid_owner INTEGER NOT NULL,"
	" CHECK ((path IS NULL) = (deleted = 1))"
	");"
	"CREATE UNIQUE INDEX notes_by_parent ON notes (parent, name) WHERE path IS NOT NULL;"
	"CREATE INDEX notes_by_last_path ON notes (last_path);"
	"CREATE TABLE note_versions ("
	" note INTEGER NOT NULL REFERENCES notes (id),"
	" seq INTEGER NOT NULL CHECK (seq > 0),"
	" id TEXT NOT NULL,"
	" parent1 TEXT NOT NULL DEFAULT '',"
	" parent2 TEXT NOT NULL DEFAULT '',"
	" origin TEXT NOT NULL,"
	" author TEXT NOT NULL,"
	" time_ns INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),"
	" content BLOB NOT NULL,"
	" PRIMARY KEY (note, seq)"
	");"
	"CREATE INDEX note_versions_by_id ON note_versions (id);"
	"CREATE TABLE note_dirs ("
	" path TEXT PRIMARY KEY NOT NULL CHECK (path <> ''),"
	" parent TEXT NOT NULL,"
	" name TEXT NOT NULL CHECK (name <> ''),"
	" mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" gid INTEGER NOT NULL,"
	" mtime_ns INTEGER NOT NULL"
	");"
	"CREATE UNIQUE INDEX note_dirs_by_parent ON note_dirs (parent, name);"
	"CREATE TABLE note_xattrs ("
	" note INTEGER NOT NULL REFERENCES notes (id),"
	" name TEXT NOT NULL CHECK (name <> ''),"
	" value BLOB NOT NULL,"
	" PRIMARY KEY (note, name)"
	") WITHOUT ROWID;"
	"CREATE VIEW notes_fts_src AS"
	" SELECT n.id AS id, n.path AS title, CAST(v.content AS TEXT) AS content, n.tags AS tags"
	" FROM notes AS n JOIN note_versions AS v ON v.note = n.id AND v.seq = n.nversions"
	" WHERE n.path IS NOT NULL;"
	"CREATE VIRTUAL TABLE notes_fts USING fts5 (title, content, tags,"
	" content = 'notes_fts_src', content_rowid = 'id', tokenize = 'porter unicode61');"
	/* Best first: a hit in the title (the path) outweighs one in tags, then in the text. */
	"INSERT INTO notes_fts (notes_fts, rank) VALUES ('rank', 'bm25(4.0, 1.0, 2.0)');";

/*
 * Version 4: streams/. One row per stream: its config as the config file reads (key=value
 * lines, parsed by src/stream/config.c) and whether its start_at has been acted on (fired,
 * cancelled by a stop, or missed), so a remount neither repeats nor forgets a schedule.
 */
static const char cat_schema_v4[] =
	"CREATE TABLE streams ("
	" name TEXT PRIMARY KEY,"
	" config TEXT NOT NULL,"
	" created_ns INTEGER NOT NULL,"
	" sched_done INTEGER NOT NULL DEFAULT 0"
	");";

const struct cat_migration cat_migrations[] = {
	{ 1, cat_schema_v1, NULL },
	{ 2, cat_schema_v2, NULL },
	{ 3, cat_schema_v3, NULL },
	{ 4, cat_schema_v4, NULL },
};
const size_t cat_nmigrations = sizeof(cat_migrations) / sizeof(cat_migrations[0]);

int cat_sqlite_err(sqlite3 *db, int src, const char *what)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(src);
	int rc;

	switch (src & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		rc = -EBUSY;
		break;
	case SQLITE_NOMEM:
		rc = -ENOMEM;
		break;
	case SQLITE_FULL:
		rc = -ENOSPC;
		break;
	case SQLITE_CONSTRAINT:
		rc = -EEXIST;
		break;
	default:
		rc = -EIO;
		break;
	}
	if (rc == -EIO)
		hubfs_log(HUBFS_LOG_ERR, "catalog: %s: %s (sqlite %d)", what, msg, src);
	else
		hubfs_log(HUBFS_LOG_WARN, "catalog: %s: %s (sqlite %d)", what, msg, src);
	return rc;
}

static int cat_exec(sqlite3 *db, const char *sql, const char *what)
{
	int src;

	src = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return cat_sqlite_err(db, src, what);
	return 0;
}

static int cat_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	int src;
	int rc;

	src = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = cat_sqlite_err(db, src, "read schema version");
		goto out;
	}
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = cat_sqlite_err(db, src, "read schema version");
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int cat_schema_migrate(sqlite3 *db, const struct cat_migration *list, size_t n, int *version)
{
	const struct cat_migration *step;
	int target;
	int cur = 0, start = -1; /* start: the file's version before any step (0: new file) */
	char sql[64];
	int rc;

	*version = 0;
	assert(n > 0);
	for (size_t i = 0; i < n; i++)
		assert(list[i].version == (int)i + 1); /* ordered, no gaps */
	target = list[n - 1].version;
	for (;;) {
		rc = cat_exec(db, "BEGIN IMMEDIATE", "start schema migration");
		if (rc)
			goto out;
		rc = cat_user_version(db, &cur);
		if (rc)
			goto out;
		*version = cur;
		if (start < 0)
			start = cur;
		if (cur < 0 || cur > target) {
			hubfs_log(
				HUBFS_LOG_ERR,
				"catalog: schema version %d is not one this hubfs knows (1 to %d): "
				"refusing to open the catalog",
				cur, target);
			rc = -EPROTO;
			goto out;
		}
		if (cur == target)
			break;
		step = &list[cur]; /* versions are index + 1 */
		if (step->sql) {
			rc = cat_exec(db, step->sql, "schema migration");
			if (rc)
				goto out;
		}
		if (step->fn) {
			rc = step->fn(db);
			if (rc)
				goto out;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", step->version);
		rc = cat_exec(db, sql, "set schema version");
		if (rc)
			goto out;
		rc = cat_exec(db, "COMMIT", "commit schema migration");
		if (rc)
			goto out;
		*version = step->version;
	}
	rc = cat_exec(db, "COMMIT", "end schema check");
	if (!rc && start > 0 && start < cur)
		hubfs_log(HUBFS_LOG_INFO, "catalog: schema upgraded from version %d to %d", start,
			  cur); /* a new file is not an upgrade */
out:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}
