/*
 * catalog_int.h — the catalog's private seams, shared by catalog.c (the API, the connection
 * and its statements), notes.c and notes_attrs.c (the notes tables), schema.c (the
 * migrations and the SQLite error map) and the unit tests. Not for other subsystems.
 *
 * Threads: everything here runs on a connection the caller owns exclusively (at open, before
 * the catalog is shared, or under cat->lock); nothing here locks.
 */
#ifndef HUBFS_CATALOG_INT_H
#define HUBFS_CATALOG_INT_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include <sqlite3.h>

#include "hubfs/catalog.h"

/* Another process (a second mount on the same state_dir) holding the write lock. */
#define CAT_BUSY_MS 5000
#define CAT_PATH_MAX PATH_MAX
/* Longest value bound as text (kv values, reasons): far below SQLITE_MAX_LENGTH. */
#define CAT_TEXT_MAX (1u << 20)

/* catalog.c's statements, prepared at open (the SQL is in catalog.c's cat_sql[]). */
enum cat_stmt {
	CAT_BEGIN,
	CAT_COMMIT,
	CAT_ROLLBACK,
	CAT_GET,
	CAT_KIND,
	CAT_HAS_CHILD,
	CAT_UPSERT,
	CAT_DELETE,
	CAT_MOVE_ONE,
	CAT_MOVE_TREE,
	CAT_LIST,
	CAT_WALK,
	CAT_TOTALS,
	CAT_REJ_PUT,
	CAT_REJ_GET,
	CAT_REJ_DEL,
	CAT_KV_GET,
	CAT_KV_SET,
	CAT_NSTMT
};

struct cat_notes; /* notes.c's prepared statements */

struct hubfs_catalog {
	pthread_mutex_t lock;
	sqlite3 *db;                 /* lock */
	sqlite3_stmt *st[CAT_NSTMT]; /* lock; prepared at open, reset after each use */
	struct cat_notes *notes;     /* lock; notes.c's statements, NULL until first used */
	int version;                 /* set by open, then read-only */
};

/*
 * Helpers catalog.c shares with notes.c and notes_attrs.c; all run under cat->lock.
 * cat_done: reset @st and drop its bindings (they point into the caller's strings).
 * cat_bind_text: bind @len bytes of @s without copying (the statement is reset before @s goes
 * away); -E2BIG past CAT_TEXT_MAX. cat_run: step a statement whose rows are not needed, then
 * cat_done it. cat_begin: BEGIN IMMEDIATE (rolling back a transaction a failed rollback left
 * behind). cat_rollback: undo the open transaction, if any.
 * cat_path_check: "a" or "a/b", no empty component: 0, -EINVAL, -ENAMETOOLONG; *len set.
 * cat_parent_len: length of @path[0..len)'s parent ("a/b/c" -> 3, "a" -> 0).
 * cat_col_copy: a text column into @dst, truncating; NULL reads as "".
 */
void cat_done(sqlite3_stmt *st);
int cat_bind_text(struct hubfs_catalog *cat, sqlite3_stmt *st, int idx, const char *s, size_t len);
int cat_run(struct hubfs_catalog *cat, sqlite3_stmt *st, const char *what);
int cat_begin(struct hubfs_catalog *cat);
/* End the transaction cat_begin opened: commit when @rc is 0, else roll back. Returns @rc,
 * or the commit's error. */
int cat_finish(struct hubfs_catalog *cat, int rc);
void cat_rollback(struct hubfs_catalog *cat);
int cat_path_check(const char *path, size_t *len);
size_t cat_parent_len(const char *path, size_t len);
void cat_col_copy(char *dst, size_t len, sqlite3_stmt *st, int col);

/*
 * notes.c's side of close and check (its statements are prepared on first use). finalize:
 * NULL-safe. check: the notes tree and the search index against the notes; 0, -EIO with the
 * first problem in @bad, or the mapped SQLite error.
 */
void cat_notes_finalize(struct cat_notes *notes);
int cat_notes_check(struct hubfs_catalog *cat, char *bad, size_t len);

/*
 * One schema step: the file's PRAGMA user_version goes from @version - 1 to @version by
 * running @sql and then @fn (either may be NULL), in one BEGIN IMMEDIATE transaction.
 * Steps are listed in order, versions 1, 2, 3, ... without gaps; adding a version is one
 * entry at the end of cat_migrations[] and a bump of HUBFS_CATALOG_SCHEMA.
 */
struct cat_migration {
	int version;
	const char *sql;
	int (*fn)(sqlite3 *db); /* data step after @sql: 0 or -errno */
};

extern const struct cat_migration cat_migrations[];
extern const size_t cat_nmigrations;

/*
 * Bring @db up to @list[n - 1].version, one transaction per step (a failed step is rolled
 * back and leaves the file at the previous version). *version is the file's version
 * afterwards (also on failure, when known; 0 otherwise). Returns 0, -EPROTO (logged) when
 * the file is newer than @list knows, or the mapped SQLite error.
 * The catalog passes cat_migrations; tests pass their own lists (a prefix, or extra steps).
 */
int cat_schema_migrate(sqlite3 *db, const struct cat_migration *list, size_t n, int *version);

/*
 * The one map from SQLite result codes to negative errno: BUSY/LOCKED -> -EBUSY, NOMEM ->
 * -ENOMEM, FULL -> -ENOSPC, CONSTRAINT -> -EEXIST, anything else -> -EIO. Logs @what with
 * sqlite3_errmsg(@db) (@db may be NULL). Call it before the statement is reset.
 */
int cat_sqlite_err(sqlite3 *db, int src, const char *what);

/* Tests only: the catalog's connection (e.g. to shorten busy_timeout or cap the size). */
sqlite3 *cat_test_db(struct hubfs_catalog *cat);

#endif
