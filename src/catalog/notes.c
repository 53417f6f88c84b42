/*
 * notes.c — the catalog's notes tables (include/hubfs/catalog_notes.h): notes, their
 * versions, folders, the .versions tree and the full-text index; a note's attributes, tags
 * and xattrs are notes_attrs.c's. Schema: version 3 in schema.c.
 *
 * Owns struct cat_notes: the notes statements (prepared on the first notes call, finalized
 * by hubfs_catalog_close) and the transaction helpers both files use (notes_int.h). Threads
 * and locks are catalog.c's: any thread enters, cat->lock serialises every public call,
 * every statement is reset and its bindings cleared before the lock is dropped, and
 * callbacks (list, versions, history_list, search) run under the lock. Every change is one
 * BEGIN IMMEDIATE transaction, rolled back on any error.
 *
 * DESIGN
 * - A note row lives for ever. Deleting records a delete version (empty content), sets path
 *   NULL (freeing the path) and keeps last_path, the path it had; for a live note last_path
 *   is its path. History by path takes the live note at the path, else the deleted note with
 *   that last path deleted most recently (latest updated_ns, then highest id).
 * - A save at a free path with the gid of a deleted note restores that note there, its
 *   history going on (the caller finds it with get_deleted and makes the new version a
 *   child of the delete); with any other gid it makes a new note, history from 1, which
 *   hides an older note's history at that path from notes/.versions/PATH while it lives.
 * - A folder rename moves live notes and folders under it (a byte range of paths, never
 *   LIKE); deleted notes keep the last path they were deleted at.
 * - The tree: every folder's and live note's parent is "" or a folder; a path is a live
 *   note, a folder or free, never both. save/rename/dir_put create missing parent folders
 *   (mode 0755, the entry's owner and mtime); -ENOTDIR when an ancestor is a note.
 * - The FTS5 index is external-content over the view notes_fts_src (live notes only: title
 *   = path, content = head content, tags). FTS5 removes a row's terms only given its old
 *   values, so every change to a live note's path, tags or head runs N_FTS_DEL (old values,
 *   read from the view) before it and N_FTS_ADD after it, in the same transaction: the index
 *   always equals the view. hubfs_catalog_check verifies that ('integrity-check', 1).
 * - SQLite 3.40's FTS5 can keep a stale row count in memory after a statement that wrote to
 *   it failed with an error that rolls the whole transaction back (out of memory, disk
 *   full): the next commit would then write a wrong count into the index. So after such a
 *   failure the table is made to see a rollback of its own (n_fts_heal: an empty write to
 *   it, then ROLLBACK), retried before the next change until it succeeds. Seen under the
 *   unit test's allocation torture; hubfs_catalog_check would report it.
 * - Search passes the user's query to MATCH as is; FTS5 reports a bad query as a plain
 *   SQLITE_ERROR, which search maps to -EINVAL (a debug line, not an error: user input).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubfs/catalog.h"
#include "hubfs/catalog_notes.h"
#include "hubfs/log.h"

#include "catalog/catalog_int.h"
#include "catalog/notes_int.h"

/* The columns of struct hubfs_note_info, in n_read_info's order. */
#define N_NOTE_COLS                                                                                \
	"id, gid, head, nversions, size, deleted, shared, tags, created_ns, updated_ns, "          \
	"mtime_ns, mode, uid, gid_owner"

/* The note whose history notes/.versions/?1 shows (see DESIGN). */
#define N_BY_HISTORY                                                                               \
	"(SELECT id FROM notes WHERE last_path = ?1"                                               \
	" ORDER BY path IS NULL, updated_ns DESC, id DESC LIMIT 1)"

/* The names under a folder among all notes' last paths, from rows r = the rest of the path
 * after "dir/": the first component, whether it ends there (a note) or goes on (a folder). */
#define N_HISTORY_SQL(rest, where)                                                                 \
	"SELECT name, max(is_note), max(NOT is_note) FROM ("                                       \
	" SELECT CASE WHEN instr(r, '/') > 0 THEN substr(r, 1, instr(r, '/') - 1) ELSE r END"      \
	" AS name, instr(r, '/') = 0 AS is_note FROM (SELECT " rest " AS r FROM notes" where       \
	"))"                                                                                       \
	" GROUP BY name ORDER BY name"

/* The byte range of @path ?1's subtree: [?1 "/", ?1 "0") ('0' follows '/'). */
#define N_UNDER(col) " " col " >= ?1 || '/' AND " col " < ?1 || '0'"
/* Replace the ?3 = strlen(?1) leading bytes of @col by ?2 (substr on text counts characters,
 * so the prefix is cut as a blob). */
#define N_REPREFIX(col) "?2 || CAST(substr(CAST(" col " AS BLOB), ?3 + 1) AS TEXT)"

static const char *const n_sql[N_NSTMT] = {
	[N_GET] = "SELECT " N_NOTE_COLS " FROM notes WHERE path = ?1",
	[N_ID] = "SELECT id FROM notes WHERE path = ?1",
	[N_KIND] =
		"SELECT 1 FROM notes WHERE path = ?1"
		" UNION ALL SELECT 2 FROM note_dirs WHERE path = ?1 LIMIT 1",
	[N_HAS_CHILD] =
		"SELECT 1 FROM note_dirs WHERE parent = ?1 UNION ALL"
		" SELECT 1 FROM notes WHERE parent = ?1 AND path IS NOT NULL LIMIT 1",
	[N_HEAD] = "SELECT content FROM note_versions WHERE note = ?1 AND seq = ?2",
	[N_INSERT] =
		"INSERT INTO notes (gid, path, last_path, parent, name, head, nversions, size,"
		" deleted, shared, tags, created_ns, updated_ns, mtime_ns, mode, uid,"
		" gid_owner)"
		" VALUES (?1, ?2, ?2, ?3, ?4, '', 0, 0, 0, ?5, '', ?6, ?6, ?6, ?7, ?8, ?9)",
	[N_VERSION_ADD] =
		"INSERT INTO note_versions (note, seq, id, parent1, parent2, origin,"
		" author, time_ns, size, deleted, content)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[N_SET_HEAD] =
		"UPDATE notes SET head = ?2, nversions = ?3, size = ?4, updated_ns = ?5,"
		" mtime_ns = ?5 WHERE id = ?1",
	[N_SET_DELETED] =
		"UPDATE notes SET path = NULL, deleted = 1, head = ?2, nversions = ?3,"
		" size = 0, updated_ns = ?4, mtime_ns = ?4 WHERE id = ?1",
	[N_XATTR_CLEAR] = "DELETE FROM note_xattrs WHERE note = ?1",
	[N_FTS_DEL] =
		"INSERT INTO notes_fts (notes_fts, rowid, title, content, tags)"
		" SELECT 'delete', id, title, content, tags FROM notes_fts_src WHERE id = ?1",
	[N_FTS_ADD] =
		"INSERT INTO notes_fts (rowid, title, content, tags)"
		" SELECT id, title, content, tags FROM notes_fts_src WHERE id = ?1",
	[N_FTS_DEL_TREE] =
		"INSERT INTO notes_fts (notes_fts, rowid, title, content, tags)"
		" SELECT 'delete', id, title, content, tags FROM notes_fts_src"
		" WHERE" N_UNDER("title"),
	[N_FTS_ADD_TREE] =
		"INSERT INTO notes_fts (rowid, title, content, tags)"
		" SELECT id, title, content, tags FROM notes_fts_src WHERE" N_UNDER("title"),
	[N_MOVE] =
		"UPDATE notes SET path = ?2, last_path = ?2, parent = ?3, name = ?4"
		" WHERE path = ?1",
	[N_MOVE_TREE] = "UPDATE notes SET path = " N_REPREFIX("path") ", last_path = " N_REPREFIX(
		"path") ", parent = " N_REPREFIX("parent") " WHERE" N_UNDER("path"),
	[N_DIR_MOVE] = "UPDATE note_dirs SET path = ?2, parent = ?3, name = ?4 WHERE path = ?1",
	[N_DIR_MOVE_TREE] = "UPDATE note_dirs SET path = " N_REPREFIX(
		"path") ", parent = " N_REPREFIX("parent") " WHERE" N_UNDER("path"),
	[N_READ] =
		"SELECT v.content FROM notes AS n JOIN note_versions AS v"
		" ON v.note = n.id AND v.seq = n.nversions WHERE n.path = ?1",
	[N_VERSIONS] =
		"SELECT seq, id, parent1, parent2, origin, author, time_ns, size, deleted"
		" FROM note_versions WHERE note = " N_BY_HISTORY " ORDER BY seq",
	[N_VERSION_READ] = "SELECT content FROM note_versions WHERE note = " N_BY_HISTORY
			   " AND seq = ?2",
	[N_CONTRIBUTORS] = "SELECT author FROM note_versions WHERE note = " N_BY_HISTORY
			   " GROUP BY author ORDER BY min(seq)",
	/* NULL leaves a field alone. */
	[N_SET_ATTRS] =
		"UPDATE notes SET mode = coalesce(?2, mode), uid = coalesce(?3, uid),"
		" gid_owner = coalesce(?4, gid_owner), mtime_ns = coalesce(?5, mtime_ns)"
		" WHERE path = ?1",
	[N_SET_SHARED] = "UPDATE notes SET shared = ?2 WHERE path = ?1",
	[N_SET_TAGS] = "UPDATE notes SET tags = ?2 WHERE id = ?1",
	/* The WHERE also settles the INSERT ... SELECT ... ON CONFLICT parsing ambiguity. */
	[N_XATTR_SET] =
		"INSERT INTO note_xattrs (note, name, value)"
		" SELECT id, ?2, ?3 FROM notes WHERE path = ?1"
		" ON CONFLICT (note, name) DO UPDATE SET value = excluded.value",
	/* A row per live note: x.note NULL when it has no such xattr (or none at all). */
	[N_XATTR_GET] =
		"SELECT x.note, x.value FROM notes AS n LEFT JOIN note_xattrs AS x"
		" ON x.note = n.id AND x.name = ?2 WHERE n.path = ?1",
	[N_XATTR_LIST] =
		"SELECT x.name FROM notes AS n LEFT JOIN note_xattrs AS x"
		" ON x.note = n.id WHERE n.path = ?1 ORDER BY x.name",
	[N_XATTR_DEL] = "DELETE FROM note_xattrs WHERE note = ?1 AND name = ?2",
	[N_DIR_GET] = "SELECT mode, uid, gid, mtime_ns FROM note_dirs WHERE path = ?1",
	[N_DIR_UPSERT] =
		"INSERT INTO note_dirs (path, parent, name, mode, uid, gid, mtime_ns)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (path) DO UPDATE SET mode = excluded.mode,"
		" uid = excluded.uid, gid = excluded.gid, mtime_ns = excluded.mtime_ns",
	[N_DIR_DELETE] = "DELETE FROM note_dirs WHERE path = ?1",
	/*
	 * Folders and live notes of ?1 in one name-ordered stream (SQLite merges the two
	 * index-ordered halves). A folder's mode, uid, gid, mtime_ns sit where a note's mode,
	 * uid, gid_owner, mtime_ns are.
	 */
	[N_LIST] =
		"SELECT name, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
		" mtime_ns, mode, uid, gid FROM note_dirs WHERE parent = ?1"
		" UNION ALL SELECT name, 0, " N_NOTE_COLS
		" FROM notes WHERE parent = ?1 AND path IS NOT NULL ORDER BY 1",
	[N_HISTORY_ROOT] = N_HISTORY_SQL("last_path", ""),
	[N_HISTORY] = N_HISTORY_SQL("CAST(substr(CAST(last_path AS BLOB), ?2 + 2) AS TEXT)",
				    " WHERE" N_UNDER("last_path")),
	/* The index holds live notes only; the LIMIT applies where FTS5 sorts by rank. */
	[N_SEARCH] =
		"SELECT n.path FROM (SELECT rowid AS id, rank AS r FROM notes_fts"
		" WHERE notes_fts MATCH ?1 ORDER BY rank LIMIT ?2) AS m"
		" JOIN notes AS n ON n.id = m.id WHERE n.path IS NOT NULL"
		" ORDER BY m.r, n.path",
	[N_TOTALS] = "SELECT count(*), coalesce(sum(shared), 0) FROM notes WHERE path IS NOT NULL",
	/* Joins the FTS table to the transaction (OP_VBegin) without changing it. */
	[N_FTS_TOUCH] =
		"INSERT INTO notes_fts (rowid, title, content, tags)"
		" SELECT id, title, content, tags FROM notes_fts_src WHERE 0",
	[N_FIND_DELETED] = "SELECT id, nversions FROM notes WHERE gid = ?1 AND path IS NULL",
	[N_REVIVE] =
		"UPDATE notes SET path = ?2, last_path = ?2, parent = ?3, name = ?4, deleted = 0"
		" WHERE id = ?5",
	[N_GET_DELETED] = "SELECT " N_NOTE_COLS " FROM notes WHERE id = " N_BY_HISTORY
			  " AND path IS NULL",
	/* The latest earlier version with these bytes (a restore), by history path. */
	[N_SAME_CONTENT] = "SELECT seq FROM note_versions WHERE note = " N_BY_HISTORY
			   " AND seq < ?3 AND deleted = 0 AND size = ?4 AND content = ?2"
			   " ORDER BY seq DESC LIMIT 1",
};

struct cat_notes {
	sqlite3_stmt *st[N_NSTMT]; /* cat->lock */
	bool fts_touched;          /* cat->lock; the open transaction wrote to notes_fts */
	bool fts_suspect;          /* cat->lock; FTS5 may hold stale state: n_fts_heal */
};

/* What is at a path. */
enum n_kind {
	N_NONE = 0,
	N_NOTE = 1,
	N_DIR = 2,
};

/* Prepare the notes statements: on first use, so that opening the catalog for videos/ alone
 * does not pay for them. 0 or the mapped SQLite error (then nothing is kept). */
static int n_prepare(struct hubfs_catalog *cat)
{
	struct cat_notes *notes;
	int src;
	int rc = 0;

	notes = calloc(1, sizeof(*notes));
	if (!notes)
		return -ENOMEM;
	for (int i = 0; i < N_NSTMT; i++) {
		src = sqlite3_prepare_v3(cat->db, n_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					 &notes->st[i], NULL);
		if (src != SQLITE_OK) {
			rc = cat_sqlite_err(cat->db, src, "prepare notes statements");
			break;
		}
	}
	if (rc) {
		cat_notes_finalize(notes);
		return rc;
	}
	cat->notes = notes;
	return 0;
}

/* Take cat->lock with the statements ready: 0, or an error with the lock not held. */
int cat_notes_lock(struct hubfs_catalog *cat)
{
	int rc = 0;

	pthread_mutex_lock(&cat->lock);
	if (!cat->notes)
		rc = n_prepare(cat);
	if (rc)
		pthread_mutex_unlock(&cat->lock);
	return rc;
}

void cat_notes_finalize(struct cat_notes *notes)
{
	if (!notes)
		return;
	for (int i = 0; i < N_NSTMT; i++)
		sqlite3_finalize(notes->st[i]);
	free(notes);
}

sqlite3_stmt *cat_notes_st(struct hubfs_catalog *cat, enum n_stmt which)
{
	return cat->notes->st[which];
}

/* Make FTS5 drop what it cached in a transaction that failed (see DESIGN). */
static void n_fts_heal(struct hubfs_catalog *cat)
{
	int rc;

	if (!cat->notes->fts_suspect)
		return;
	rc = cat_begin(cat);
	if (!rc)
		rc = cat_run(cat, cat_notes_st(cat, N_FTS_TOUCH), "reset search index state");
	cat_rollback(cat);
	if (!rc && sqlite3_get_autocommit(cat->db))
		cat->notes->fts_suspect = false;
}

int cat_notes_begin(struct hubfs_catalog *cat)
{
	n_fts_heal(cat);
	cat->notes->fts_touched = false;
	return cat_begin(cat);
}

/* Commit when @rc is 0, else roll back; returns the call's result. */
int cat_notes_finish(struct hubfs_catalog *cat, int rc)
{
	rc = cat_finish(cat, rc);
	if (rc) {
		if (cat->notes->fts_touched) {
			cat->notes->fts_suspect = true;
			n_fts_heal(cat);
		}
	}
	cat->notes->fts_touched = false;
	return rc;
}

/* A lookup path: "" and anything malformed or too long name nothing. */
int cat_notes_lookup(const char *path, size_t *len)
{
	return cat_path_check(path, len) ? -ENOENT : 0;
}

int cat_notes_enter(struct hubfs_catalog *cat, const char *path, size_t *len)
{
	int rc = cat_notes_lookup(path, len);

	return rc ? rc : cat_notes_lock(cat);
}

int cat_notes_bind_blob(struct hubfs_catalog *cat, sqlite3_stmt *st, int idx, const void *p,
			size_t len)
{
	int src;

	if (len > (size_t)sqlite3_limit(cat->db, SQLITE_LIMIT_LENGTH, -1))
		return -EFBIG;
	/* A NULL pointer would bind NULL, not an empty blob. */
	src = sqlite3_bind_blob64(st, idx, len ? p : "", len, SQLITE_STATIC);
	if (src != SQLITE_OK)
		return cat_sqlite_err(cat->db, src, "bind");
	return 0;
}

/* Column @col of the current row as a malloc'd copy (an empty blob is a 1-byte buffer). */
static int n_blob_copy(struct hubfs_catalog *cat, sqlite3_stmt *st, int col, void **buf,
		       size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	void *b;

	if (!p && (n || (sqlite3_errcode(cat->db) & 0xff) == SQLITE_NOMEM))
		return -ENOMEM;
	b = malloc(n ? n : 1);
	if (!b)
		return -ENOMEM;
	if (n)
		memcpy(b, p, n);
	*buf = b;
	*len = n;
	return 0;
}

/* Fill @n from the row of @st whose column @col starts N_NOTE_COLS. */
static void n_read_info(sqlite3_stmt *st, int col, struct hubfs_note_info *n)
{
	memset(n, 0, sizeof(*n));
	n->id = sqlite3_column_int64(st, col);
	cat_col_copy(n->gid, sizeof(n->gid), st, col + 1);
	cat_col_copy(n->head, sizeof(n->head), st, col + 2);
	n->nversions = (unsigned int)sqlite3_column_int64(st, col + 3);
	n->size = (uint64_t)sqlite3_column_int64(st, col + 4);
	n->deleted = sqlite3_column_int(st, col + 5) != 0;
	n->shared = sqlite3_column_int(st, col + 6) != 0;
	cat_col_copy(n->tags, sizeof(n->tags), st, col + 7);
	n->created_ns = sqlite3_column_int64(st, col + 8);
	n->updated_ns = sqlite3_column_int64(st, col + 9);
	n->mtime_ns = sqlite3_column_int64(st, col + 10);
	n->mode = (uint32_t)sqlite3_column_int64(st, col + 11);
	n->uid = (uint32_t)sqlite3_column_int64(st, col + 12);
	n->gid_owner = (uint32_t)sqlite3_column_int64(st, col + 13);
}

static void n_read_dir(sqlite3_stmt *st, int col, struct hubfs_note_dir *d)
{
	d->mode = (uint32_t)sqlite3_column_int64(st, col);
	d->uid = (uint32_t)sqlite3_column_int64(st, col + 1);
	d->gid = (uint32_t)sqlite3_column_int64(st, col + 2);
	d->mtime_ns = sqlite3_column_int64(st, col + 3);
}

/* Step a one-row lookup bound to @path: 0 with the row current, -ENOENT, or the error. The
 * caller reads the row and then cat_done()s @st. */
int cat_notes_step_one(struct hubfs_catalog *cat, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);

	if (src == SQLITE_ROW)
		return 0;
	if (src == SQLITE_DONE)
		return -ENOENT;
	return cat_sqlite_err(cat->db, src, what);
}

/* The live note at @path[0..len). */
static int n_get_locked(struct hubfs_catalog *cat, const char *path, size_t len,
			struct hubfs_note_info *out)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_GET);
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "get note");
	if (!rc)
		n_read_info(st, 0, out);
	cat_done(st);
	return rc;
}

/* The local id of the live note at @path[0..len): 0, -ENOENT. */
int cat_notes_id(struct hubfs_catalog *cat, const char *path, size_t len, int64_t *id)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_ID);
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "look up note");
	if (!rc)
		*id = sqlite3_column_int64(st, 0);
	cat_done(st);
	return rc;
}

static int n_kind(struct hubfs_catalog *cat, const char *path, size_t len, enum n_kind *kind)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_KIND);
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "look up notes path");
	if (!rc)
		*kind = sqlite3_column_int(st, 0) == 1 ? N_NOTE : N_DIR;
	else if (rc == -ENOENT) {
		*kind = N_NONE;
		rc = 0;
	}
	cat_done(st);
	return rc;
}

/* Whether folder @path[0..len) holds a folder or a live note. */
static int n_has_child(struct hubfs_catalog *cat, const char *path, size_t len, bool *any)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_HAS_CHILD);
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "look up folder");
	*any = rc == 0;
	if (rc == -ENOENT)
		rc = 0;
	cat_done(st);
	return rc;
}

/* Run one of the FTS statements for note @id, or (a _TREE one) for the subtree of @path. */
int cat_notes_fts(struct hubfs_catalog *cat, enum n_stmt which, int64_t id)
{
	sqlite3_stmt *st = cat_notes_st(cat, which);

	cat->notes->fts_touched = true;
	sqlite3_bind_int64(st, 1, id);
	return cat_run(cat, st, "update search index");
}

static int n_fts_tree(struct hubfs_catalog *cat, enum n_stmt which, const char *path, size_t len)
{
	sqlite3_stmt *st = cat_notes_st(cat, which);
	int rc;

	cat->notes->fts_touched = true;
	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_run(cat, st, "update search index");
	cat_done(st);
	return rc;
}

/* Insert or update folder @path[0..len). */
static int n_dir_upsert(struct hubfs_catalog *cat, const char *path, size_t len,
			const struct hubfs_note_dir *d)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_DIR_UPSERT);
	size_t plen = cat_parent_len(path, len);
	size_t name = plen ? plen + 1 : 0;
	int rc;

	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_bind_text(cat, st, 2, path, plen);
	if (!rc)
		rc = cat_bind_text(cat, st, 3, path + name, len - name);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 4, d->mode);
	sqlite3_bind_int64(st, 5, d->uid);
	sqlite3_bind_int64(st, 6, d->gid);
	sqlite3_bind_int64(st, 7, d->mtime_ns);
	rc = cat_run(cat, st, "put folder");
out:
	cat_done(st);
	return rc;
}

/*
 * Make every ancestor of @path[0..len) a folder, creating the missing ones (0755, owner and
 * mtime of @like). -ENOTDIR when one is a note.
 */
static int n_ensure_parents(struct hubfs_catalog *cat, const char *path, size_t len,
			    const struct hubfs_note_dir *like)
{
	struct hubfs_note_dir dir = *like;
	size_t want = cat_parent_len(path, len);
	size_t have = want;
	const char *slash;
	enum n_kind kind;
	size_t next;
	int rc = 0;

	/* Up to the deepest ancestor there is (usually the parent itself: one lookup)... */
	while (have > 0) {
		rc = n_kind(cat, path, have, &kind);
		if (rc)
			return rc;
		if (kind == N_DIR)
			break;
		if (kind == N_NOTE)
			return -ENOTDIR;
		have = cat_parent_len(path, have);
	}
	/* ...then down again, each missing folder after its parent. */
	dir.mode = 0755;
	while (have < want) {
		next = have ? have + 1 : 0;
		slash = memchr(path + next, '/', want - next);
		next = slash ? (size_t)(slash - path) : want;
		rc = n_dir_upsert(cat, path, next, &dir);
		if (rc)
			return rc;
		hubfs_dbg(HUBFS_CAT_CATALOG, "catalog: implied notes folder '%.*s'", (int)next,
			  path);
		have = next;
	}
	return 0;
}

/* Whether @content is byte-identical to the head (seq @seq) of note @id. */
static int n_same_as_head(struct hubfs_catalog *cat, int64_t id, unsigned int seq,
			  const void *content, size_t len, bool *same)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_HEAD);
	const void *p;
	size_t n;
	int rc;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, seq);
	rc = cat_notes_step_one(cat, st, "read note head");
	if (rc == -ENOENT)
		rc = -EIO; /* a head with no version row: hubfs_catalog_check reports it */
	if (rc)
		goto out;
	p = sqlite3_column_blob(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 0);
	if (!p && n) {
		rc = -ENOMEM;
		goto out;
	}
	*same = n == len && (n == 0 || !memcmp(p, content, n));
out:
	cat_done(st);
	return rc;
}

static int n_version_add(struct hubfs_catalog *cat, int64_t id, unsigned int seq,
			 const struct hubfs_note_version *v, bool deleted, const void *content,
			 size_t len)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_VERSION_ADD);
	int rc;

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, seq);
	rc = cat_bind_text(cat, st, 3, v->id, strnlen(v->id, sizeof(v->id)));
	if (!rc)
		rc = cat_bind_text(cat, st, 4, v->parents[0],
				   strnlen(v->parents[0], sizeof(v->parents[0])));
	if (!rc)
		rc = cat_bind_text(cat, st, 5, v->parents[1],
				   strnlen(v->parents[1], sizeof(v->parents[1])));
	if (!rc)
		rc = cat_bind_text(cat, st, 6, v->origin, strnlen(v->origin, sizeof(v->origin)));
	if (!rc)
		rc = cat_bind_text(cat, st, 7, v->author, strnlen(v->author, sizeof(v->author)));
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 8, v->time_ns);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)len);
	sqlite3_bind_int(st, 10, deleted);
	rc = cat_notes_bind_blob(cat, st, 11, content, len);
	if (!rc)
		rc = cat_run(cat, st, "add note version");
out:
	cat_done(st);
	return rc;
}

/* Bind @to[0..tlen) with its parent and name to ?2, ?3, ?4 of @st (the row to move is bound
 * already) and run it. */
static int n_move_bound(struct hubfs_catalog *cat, sqlite3_stmt *st, const char *to, size_t tlen,
			const char *what)
{
	size_t plen = cat_parent_len(to, tlen);
	size_t name = plen ? plen + 1 : 0;
	int rc;

	rc = cat_bind_text(cat, st, 2, to, tlen);
	if (!rc)
		rc = cat_bind_text(cat, st, 3, to, plen);
	if (!rc)
		rc = cat_bind_text(cat, st, 4, to + name, tlen - name);
	if (!rc)
		rc = cat_run(cat, st, what);
	cat_done(st);
	return rc;
}

/*
 * Bring back the deleted note with global id @gid at @path[0..len) (free, checked by the
 * caller), so that its history goes on. 0 with its id and version count, -ENOENT when no
 * deleted note has that gid.
 */
static int n_revive(struct hubfs_catalog *cat, const char *path, size_t len, const char *gid,
		    int64_t *id, unsigned int *nversions)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_FIND_DELETED);
	int rc;

	rc = cat_bind_text(cat, st, 1, gid, strnlen(gid, HUBFS_NOTE_GID_LEN + 1));
	if (!rc)
		rc = cat_notes_step_one(cat, st, "find deleted note");
	if (!rc) {
		*id = sqlite3_column_int64(st, 0);
		*nversions = (unsigned int)sqlite3_column_int64(st, 1);
	}
	cat_done(st);
	if (rc)
		return rc;
	/* N_MOVE by id: the note has no path to find it by. */
	st = cat_notes_st(cat, N_REVIVE);
	sqlite3_bind_int64(st, 5, *id);
	return n_move_bound(cat, st, path, len, "restore note");
}

/* A new note at @path[0..len) (free, checked by the caller) with no version yet. */
static int n_insert(struct hubfs_catalog *cat, const char *path, size_t len, const char *gid,
		    const struct hubfs_note_info *attrs, int64_t time_ns, int64_t *id)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_INSERT);
	size_t plen = cat_parent_len(path, len);
	size_t name = plen ? plen + 1 : 0;
	int rc;

	rc = cat_bind_text(cat, st, 1, gid, strnlen(gid, HUBFS_NOTE_GID_LEN + 1));
	if (!rc)
		rc = cat_bind_text(cat, st, 2, path, len);
	if (!rc)
		rc = cat_bind_text(cat, st, 3, path, plen);
	if (!rc)
		rc = cat_bind_text(cat, st, 4, path + name, len - name);
	if (rc)
		goto out;
	sqlite3_bind_int(st, 5, attrs ? attrs->shared : 0);
	sqlite3_bind_int64(st, 6, time_ns);
	sqlite3_bind_int64(st, 7, attrs ? attrs->mode : 0644);
	sqlite3_bind_int64(st, 8, attrs ? attrs->uid : 0);
	sqlite3_bind_int64(st, 9, attrs ? attrs->gid_owner : 0);
	rc = cat_run(cat, st, "create note");
	if (!rc)
		*id = sqlite3_last_insert_rowid(cat->db);
out:
	cat_done(st);
	return rc;
}

static int n_set_head(struct hubfs_catalog *cat, enum n_stmt which, int64_t id,
		      const struct hubfs_note_version *v, unsigned int seq, size_t size)
{
	sqlite3_stmt *st = cat_notes_st(cat, which);
	int idx = 2;
	int rc;

	sqlite3_bind_int64(st, 1, id);
	rc = cat_bind_text(cat, st, idx++, v->id, strnlen(v->id, sizeof(v->id)));
	if (rc)
		goto out;
	sqlite3_bind_int64(st, idx++, seq);
	if (which == N_SET_HEAD)
		sqlite3_bind_int64(st, idx++, (sqlite3_int64)size);
	sqlite3_bind_int64(st, idx, v->time_ns);
	rc = cat_run(cat, st, "update note");
out:
	cat_done(st);
	return rc;
}

int hubfs_catalog_note_get(struct hubfs_catalog *cat, const char *path, struct hubfs_note_info *out)
{
	size_t len;
	int rc;

	rc = cat_notes_enter(cat, path, &len);
	if (rc)
		return rc;
	rc = n_get_locked(cat, path, len, out);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int n_save_locked(struct hubfs_catalog *cat, const char *path, size_t plen,
			 const void *content, size_t len, struct hubfs_note_version *v,
			 const char *gid, const struct hubfs_note_info *attrs)
{
	struct hubfs_note_info cur;
	struct hubfs_note_dir like;
	enum n_kind kind;
	unsigned int seq;
	bool same = false;
	int64_t id;
	int rc;

	rc = n_get_locked(cat, path, plen, &cur);
	if (!rc) {
		if (cur.size == len) {
			rc = n_same_as_head(cat, cur.id, cur.nversions, content, len, &same);
			if (rc)
				return rc;
			if (same)
				return -EALREADY;
		}
		id = cur.id;
		seq = cur.nversions + 1;
		rc = cat_notes_fts(cat, N_FTS_DEL, id);
		if (!rc)
			rc = n_version_add(cat, id, seq, v, false, content, len);
		if (!rc)
			rc = n_set_head(cat, N_SET_HEAD, id, v, seq, len);
	} else if (rc == -ENOENT) {
		if (!gid || !gid[0])
			return -EINVAL;
		rc = n_kind(cat, path, plen, &kind);
		if (rc)
			return rc;
		if (kind == N_DIR)
			return -EISDIR;
		like = (struct hubfs_note_dir){ 0755, attrs ? attrs->uid : 0,
						attrs ? attrs->gid_owner : 0, v->time_ns };
		rc = n_ensure_parents(cat, path, plen, &like);
		seq = 1;
		if (!rc) {
			unsigned int had = 0;

			rc = n_revive(cat, path, plen, gid, &id, &had);
			if (!rc)
				seq = had + 1; /* a deleted note restored: its history goes on */
			else if (rc == -ENOENT)
				rc = n_insert(cat, path, plen, gid, attrs, v->time_ns, &id);
		}
		if (!rc)
			rc = n_version_add(cat, id, seq, v, false, content, len);
		if (!rc)
			rc = n_set_head(cat, N_SET_HEAD, id, v, seq, len);
	}
	if (!rc)
		rc = cat_notes_fts(cat, N_FTS_ADD, id);
	if (rc)
		return rc;
	v->seq = seq;
	v->size = len;
	v->deleted = false;
	return 0;
}

int hubfs_catalog_note_get_deleted(struct hubfs_catalog *cat, const char *path,
				   struct hubfs_note_info *out)
{
	sqlite3_stmt *st;
	size_t plen;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_GET_DELETED);
	rc = cat_bind_text(cat, st, 1, path, plen);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "find deleted note");
	if (!rc)
		n_read_info(st, 0, out);
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_find_content(struct hubfs_catalog *cat, const char *path,
				    const void *content, size_t len, unsigned int before,
				    unsigned int *seq)
{
	sqlite3_stmt *st;
	size_t plen;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_SAME_CONTENT);
	rc = cat_bind_text(cat, st, 1, path, plen);
	if (!rc)
		rc = sqlite3_bind_blob(st, 2, len ? content : "", (int)len, SQLITE_STATIC) ==
				     SQLITE_OK ?
			     0 :
			     -ENOMEM;
	if (!rc) {
		sqlite3_bind_int64(st, 3, before);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)len);
		rc = cat_notes_step_one(cat, st, "find a version by content");
	}
	if (!rc)
		*seq = (unsigned int)sqlite3_column_int64(st, 0);
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_save(struct hubfs_catalog *cat, const char *path, const void *content,
			    size_t len, struct hubfs_note_version *v, const char *gid,
			    const struct hubfs_note_info *attrs, struct hubfs_note_info *out)
{
	size_t plen;
	int rc;

	rc = cat_path_check(path, &plen);
	if (rc)
		return rc;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_save_locked(cat, path, plen, content, len, v, gid, attrs);
	if (!rc && out)
		rc = n_get_locked(cat, path, plen, out);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int n_delete_locked(struct hubfs_catalog *cat, const char *path, size_t plen,
			   struct hubfs_note_version *v)
{
	struct hubfs_note_info cur;
	sqlite3_stmt *st;
	int rc;

	rc = n_get_locked(cat, path, plen, &cur);
	if (rc)
		return rc;
	rc = cat_notes_fts(cat, N_FTS_DEL, cur.id);
	if (!rc)
		rc = n_version_add(cat, cur.id, cur.nversions + 1, v, true, NULL, 0);
	if (!rc)
		rc = n_set_head(cat, N_SET_DELETED, cur.id, v, cur.nversions + 1, 0);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_XATTR_CLEAR); /* a deleted file has no xattrs */
	sqlite3_bind_int64(st, 1, cur.id);
	rc = cat_run(cat, st, "delete note xattrs");
	if (rc)
		return rc;
	v->seq = cur.nversions + 1;
	v->size = 0;
	v->deleted = true;
	return 0;
}

int hubfs_catalog_note_delete(struct hubfs_catalog *cat, const char *path,
			      struct hubfs_note_version *v)
{
	size_t plen;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_delete_locked(cat, path, plen, v);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* Point the row @which (N_MOVE / N_DIR_MOVE) at @to, with its parent and name. */
static int n_move_one(struct hubfs_catalog *cat, enum n_stmt which, const char *from, size_t flen,
		      const char *to, size_t tlen)
{
	sqlite3_stmt *st = cat_notes_st(cat, which);
	int rc;

	rc = cat_bind_text(cat, st, 1, from, flen);
	if (rc) {
		cat_done(st);
		return rc;
	}
	return n_move_bound(cat, st, to, tlen, "rename");
}

/* Re-prefix every row of @which (N_MOVE_TREE / N_DIR_MOVE_TREE) under @from to @to. */
static int n_move_tree(struct hubfs_catalog *cat, enum n_stmt which, const char *from, size_t flen,
		       const char *to, size_t tlen)
{
	sqlite3_stmt *st = cat_notes_st(cat, which);
	int rc;

	rc = cat_bind_text(cat, st, 1, from, flen);
	if (!rc)
		rc = cat_bind_text(cat, st, 2, to, tlen);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)flen);
	if (!rc)
		rc = cat_run(cat, st, "rename folder");
	cat_done(st);
	return rc;
}

static int n_rename_locked(struct hubfs_catalog *cat, const char *from, size_t flen, const char *to,
			   size_t tlen)
{
	struct hubfs_note_info note;
	struct hubfs_note_dir like = { 0 };
	enum n_kind kind, tkind;
	int64_t id = 0;
	int rc;

	rc = n_kind(cat, from, flen, &kind);
	if (rc)
		return rc;
	if (kind == N_NONE)
		return -ENOENT;
	if (flen == tlen && !memcmp(from, to, flen))
		return 0; /* rename(2): the same entry */
	if (kind == N_DIR && tlen > flen && !memcmp(to, from, flen) && to[flen] == '/')
		return -EINVAL; /* into itself */
	rc = n_kind(cat, to, tlen, &tkind);
	if (rc)
		return rc;
	if (tkind != N_NONE)
		return -EEXIST;
	if (kind == N_NOTE) {
		rc = n_get_locked(cat, from, flen, &note);
		if (rc)
			return rc;
		id = note.id;
		like = (struct hubfs_note_dir){ 0755, note.uid, note.gid_owner, note.mtime_ns };
	} else {
		struct hubfs_note_dir d;
		sqlite3_stmt *st = cat_notes_st(cat, N_DIR_GET);

		rc = cat_bind_text(cat, st, 1, from, flen);
		if (!rc)
			rc = cat_notes_step_one(cat, st, "get folder");
		if (!rc)
			n_read_dir(st, 0, &d);
		cat_done(st);
		if (rc)
			return rc;
		like = d;
	}
	rc = n_ensure_parents(cat, to, tlen, &like);
	if (rc)
		return rc;
	if (kind == N_NOTE) {
		rc = cat_notes_fts(cat, N_FTS_DEL, id);
		if (!rc)
			rc = n_move_one(cat, N_MOVE, from, flen, to, tlen);
		if (!rc)
			rc = cat_notes_fts(cat, N_FTS_ADD, id);
		return rc;
	}
	rc = n_fts_tree(cat, N_FTS_DEL_TREE, from, flen);
	if (!rc)
		rc = n_move_one(cat, N_DIR_MOVE, from, flen, to, tlen);
	if (!rc)
		rc = n_move_tree(cat, N_DIR_MOVE_TREE, from, flen, to, tlen);
	if (!rc)
		rc = n_move_tree(cat, N_MOVE_TREE, from, flen, to, tlen);
	if (!rc)
		rc = n_fts_tree(cat, N_FTS_ADD_TREE, to, tlen);
	return rc;
}

int hubfs_catalog_note_rename(struct hubfs_catalog *cat, const char *from, const char *to)
{
	size_t flen, tlen;
	int rc;

	rc = cat_path_check(from, &flen);
	if (!rc)
		rc = cat_path_check(to, &tlen);
	if (rc)
		return rc;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_rename_locked(cat, from, flen, to, tlen);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* Bind @path to ?1 of @which, step to its one row, and copy column 0 out as a blob. */
static int n_read_blob(struct hubfs_catalog *cat, enum n_stmt which, const char *path, size_t plen,
		       unsigned int seq, void **buf, size_t *len)
{
	sqlite3_stmt *st = cat_notes_st(cat, which);
	int rc;

	rc = cat_bind_text(cat, st, 1, path, plen);
	if (rc)
		goto out;
	if (which == N_VERSION_READ)
		sqlite3_bind_int64(st, 2, seq);
	rc = cat_notes_step_one(cat, st, "read note");
	if (!rc)
		rc = n_blob_copy(cat, st, 0, buf, len);
out:
	cat_done(st);
	return rc;
}

int hubfs_catalog_note_read(struct hubfs_catalog *cat, const char *path, void **buf, size_t *len)
{
	size_t plen;
	int rc;

	*buf = NULL;
	*len = 0;
	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	rc = n_read_blob(cat, N_READ, path, plen, 0, buf, len);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_versions(struct hubfs_catalog *cat, const char *path,
				hubfs_note_version_fn fn, void *arg)
{
	sqlite3_stmt *st;
	struct hubfs_note_version v;
	bool any = false;
	size_t plen;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_VERSIONS);
	rc = cat_bind_text(cat, st, 1, path, plen);
	while (!rc) {
		rc = cat_notes_step_one(cat, st, "list note versions");
		if (rc) {
			if (rc == -ENOENT)
				rc = any ? 0 : -ENOENT; /* the end of the rows */
			break;
		}
		any = true;
		memset(&v, 0, sizeof(v));
		v.seq = (unsigned int)sqlite3_column_int64(st, 0);
		cat_col_copy(v.id, sizeof(v.id), st, 1);
		cat_col_copy(v.parents[0], sizeof(v.parents[0]), st, 2);
		cat_col_copy(v.parents[1], sizeof(v.parents[1]), st, 3);
		cat_col_copy(v.origin, sizeof(v.origin), st, 4);
		cat_col_copy(v.author, sizeof(v.author), st, 5);
		v.time_ns = sqlite3_column_int64(st, 6);
		v.size = (uint64_t)sqlite3_column_int64(st, 7);
		v.deleted = sqlite3_column_int(st, 8) != 0;
		rc = fn(arg, &v);
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_version_read(struct hubfs_catalog *cat, const char *path, unsigned int seq,
				    void **buf, size_t *len)
{
	size_t plen;
	int rc;

	*buf = NULL;
	*len = 0;
	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	rc = n_read_blob(cat, N_VERSION_READ, path, plen, seq, buf, len);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_contributors(struct hubfs_catalog *cat, const char *path, char *buf,
				    size_t len)
{
	sqlite3_stmt *st;
	const unsigned char *author;
	size_t used = 0, n;
	bool any = false;
	size_t plen;
	int rc;

	rc = cat_notes_lookup(path, &plen);
	if (rc)
		return rc;
	if (len == 0)
		return -ERANGE;
	buf[0] = '\0';
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_CONTRIBUTORS);
	rc = cat_bind_text(cat, st, 1, path, plen);
	while (!rc) {
		rc = cat_notes_step_one(cat, st, "list contributors");
		if (rc) {
			if (rc == -ENOENT)
				rc = any ? 0 : -ENOENT; /* the end of the rows */
			break;
		}
		author = sqlite3_column_text(st, 0);
		n = (size_t)sqlite3_column_bytes(st, 0);
		if (!author) {
			rc = -ENOMEM; /* the only way a NOT NULL text column reads as NULL */
			break;
		}
		if (used + (any ? 1 : 0) + n >= len) {
			rc = -ERANGE;
			break;
		}
		if (any)
			buf[used++] = ',';
		memcpy(buf + used, author, n);
		used += n;
		buf[used] = '\0';
		any = true;
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	if (rc)
		buf[0] = '\0';
	return rc;
}

static int n_dir_put_locked(struct hubfs_catalog *cat, const char *path, size_t len,
			    const struct hubfs_note_dir *d)
{
	enum n_kind kind;
	int rc;

	rc = n_kind(cat, path, len, &kind);
	if (rc)
		return rc;
	if (kind == N_NOTE)
		return -EEXIST;
	if (kind == N_NONE) {
		rc = n_ensure_parents(cat, path, len, d);
		if (rc)
			return rc;
	}
	return n_dir_upsert(cat, path, len, d);
}

int hubfs_catalog_note_dir_put(struct hubfs_catalog *cat, const char *path,
			       const struct hubfs_note_dir *d)
{
	size_t len;
	int rc;

	rc = cat_path_check(path, &len);
	if (rc)
		return rc;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_dir_put_locked(cat, path, len, d);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_dir_get(struct hubfs_catalog *cat, const char *path,
			       struct hubfs_note_dir *d)
{
	sqlite3_stmt *st;
	size_t len;
	int rc;

	if (!path[0]) {
		*d = (struct hubfs_note_dir){ .mode = 0755 };
		return 0;
	}
	rc = cat_notes_enter(cat, path, &len);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_DIR_GET);
	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "get folder");
	if (!rc)
		n_read_dir(st, 0, d);
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int n_dir_delete_locked(struct hubfs_catalog *cat, const char *path, size_t len)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_DIR_DELETE);
	enum n_kind kind;
	bool any;
	int rc;

	rc = n_kind(cat, path, len, &kind);
	if (rc)
		return rc;
	if (kind == N_NONE)
		return -ENOENT;
	if (kind == N_NOTE)
		return -ENOTDIR;
	rc = n_has_child(cat, path, len, &any);
	if (rc)
		return rc;
	if (any)
		return -ENOTEMPTY;
	rc = cat_bind_text(cat, st, 1, path, len);
	if (!rc)
		rc = cat_run(cat, st, "delete folder");
	cat_done(st);
	return rc;
}

int hubfs_catalog_note_dir_delete(struct hubfs_catalog *cat, const char *path)
{
	size_t len;
	int rc;

	rc = cat_path_check(path, &len);
	if (rc)
		return rc;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_dir_delete_locked(cat, path, len);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* @dir is "" (notes/ itself) or a folder: 0, -ENOENT, -ENOTDIR. */
static int n_check_folder(struct hubfs_catalog *cat, const char *dir, size_t *len)
{
	enum n_kind kind;
	int rc;

	*len = 0;
	if (!dir[0])
		return 0;
	rc = cat_notes_lookup(dir, len);
	if (!rc)
		rc = n_kind(cat, dir, *len, &kind);
	if (rc)
		return rc;
	if (kind == N_NONE)
		return -ENOENT;
	return kind == N_NOTE ? -ENOTDIR : 0;
}

int hubfs_catalog_note_list(struct hubfs_catalog *cat, const char *dir, hubfs_note_list_fn fn,
			    void *arg)
{
	sqlite3_stmt *st;
	struct hubfs_note_info n;
	struct hubfs_note_dir d;
	const char *name;
	size_t len;
	int src;
	int rc;

	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_LIST);
	rc = n_check_folder(cat, dir, &len);
	if (!rc)
		rc = cat_bind_text(cat, st, 1, dir, len);
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = cat_sqlite_err(cat->db, src, "list notes");
			break;
		}
		name = (const char *)sqlite3_column_text(st, 0);
		if (!name) {
			rc = -ENOMEM;
			break;
		}
		if (sqlite3_column_int(st, 1)) {
			/* A folder's columns sit where a note's mtime_ns, mode, uid, gid are. */
			d.mtime_ns = sqlite3_column_int64(st, 2 + 10);
			d.mode = (uint32_t)sqlite3_column_int64(st, 2 + 11);
			d.uid = (uint32_t)sqlite3_column_int64(st, 2 + 12);
			d.gid = (uint32_t)sqlite3_column_int64(st, 2 + 13);
			rc = fn(arg, name, NULL, &d);
		} else {
			n_read_info(st, 2, &n);
			rc = fn(arg, name, &n, NULL);
		}
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_history_list(struct hubfs_catalog *cat, const char *dir,
				    hubfs_note_hist_fn fn, void *arg)
{
	sqlite3_stmt *st;
	const char *name;
	bool any = false;
	size_t len = 0;
	int src;
	int rc = 0;

	if (dir[0]) {
		rc = cat_notes_lookup(dir, &len);
		if (rc)
			return rc;
	}
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, len ? N_HISTORY : N_HISTORY_ROOT);
	if (len) {
		rc = cat_bind_text(cat, st, 1, dir, len);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
	}
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE) {
			/* A folder of .versions exists while some note's path is under it. */
			rc = any || !len ? 0 : -ENOENT;
			break;
		}
		if (src != SQLITE_ROW) {
			rc = cat_sqlite_err(cat->db, src, "list note history");
			break;
		}
		any = true;
		name = (const char *)sqlite3_column_text(st, 0);
		if (!name) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(arg, name, sqlite3_column_int(st, 1) != 0, sqlite3_column_int(st, 2) != 0);
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_search(struct hubfs_catalog *cat, const char *query, unsigned int limit,
			      hubfs_note_path_fn fn, void *arg)
{
	sqlite3_stmt *st;
	const char *path;
	int src;
	int rc;

	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_SEARCH);
	rc = cat_bind_text(cat, st, 1, query, strlen(query));
	sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1); /* 0: no limit */
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE)
			break;
		if (src == SQLITE_ROW) {
			path = (const char *)sqlite3_column_text(st, 0);
			rc = path ? fn(arg, path) : -ENOMEM;
			continue;
		}
		if ((src & 0xff) == SQLITE_ERROR) {
			/* FTS5's answer to a query it cannot parse: the user's input, not ours. */
			hubfs_dbg(HUBFS_CAT_CATALOG, "catalog: search '%s' refused: %s", query,
				  sqlite3_errmsg(cat->db));
			rc = -EINVAL;
			break;
		}
		rc = cat_sqlite_err(cat->db, src, "search notes");
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_totals(struct hubfs_catalog *cat, uint64_t *notes, uint64_t *shared)
{
	sqlite3_stmt *st;
	int rc;

	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_TOTALS);
	rc = cat_notes_step_one(cat, st, "count notes");
	if (!rc) {
		*notes = (uint64_t)sqlite3_column_int64(st, 0);
		*shared = (uint64_t)sqlite3_column_int64(st, 1);
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* A row of @sql is a problem: its first column goes into @bad ("@what 'COLUMN': @why"),
 * -EIO. 0 when there is none. */
static int n_check_query(struct hubfs_catalog *cat, const char *sql, const char *what_kind,
			 const char *why, char *bad, size_t len)
{
	sqlite3_stmt *st = NULL;
	char what[256];
	int src;
	int rc = 0;

	src = sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		cat_col_copy(what, sizeof(what), st, 0);
		snprintf(bad, len, "%s '%.200s' %s", what_kind, what, why);
		rc = -EIO;
	} else if (src != SQLITE_DONE) {
		rc = cat_sqlite_err(cat->db, src, "check notes");
	}
	sqlite3_finalize(st);
	return rc;
}

/* Called by hubfs_catalog_check with cat->lock held. */
int cat_notes_check(struct hubfs_catalog *cat, char *bad, size_t len)
{
	int src;
	int rc;

	if (cat->notes)
		n_fts_heal(cat);
	rc = n_check_query(cat,
			   "SELECT path FROM note_dirs AS d"
			   " WHERE d.path <> (CASE d.parent WHEN '' THEN d.name"
			   " ELSE d.parent || '/' || d.name END)"
			   " OR (d.parent <> '' AND NOT EXISTS"
			   " (SELECT 1 FROM note_dirs AS p WHERE p.path = d.parent))"
			   " OR EXISTS (SELECT 1 FROM notes AS n WHERE n.path = d.path)"
			   " LIMIT 1",
			   "notes folder", "is not in a folder", bad, len);
	if (rc)
		return rc;
	rc = n_check_query(cat,
			   "SELECT last_path FROM notes AS n"
			   " WHERE n.last_path <> (CASE n.parent WHEN '' THEN n.name"
			   " ELSE n.parent || '/' || n.name END)"
			   " OR (n.path IS NOT NULL AND (n.path <> n.last_path"
			   " OR (n.parent <> '' AND NOT EXISTS"
			   " (SELECT 1 FROM note_dirs AS p WHERE p.path = n.parent))))"
			   " OR n.nversions <> (SELECT count(*) FROM note_versions AS v"
			   " WHERE v.note = n.id)"
			   " OR n.head <> (SELECT v.id FROM note_versions AS v"
			   " WHERE v.note = n.id AND v.seq = n.nversions)"
			   " LIMIT 1",
			   "note", "is not in a folder or its history is broken", bad, len);
	if (rc)
		return rc;
	/* The index against its content (the view), term by term. */
	src = sqlite3_exec(cat->db,
			   "INSERT INTO notes_fts (notes_fts, rank) VALUES ('integrity-check', 1)",
			   NULL, NULL, NULL);
	if ((src & 0xff) == SQLITE_CORRUPT) {
		snprintf(bad, len, "the notes search index does not match the notes");
		return -EIO;
	}
	if (src != SQLITE_OK)
		return cat_sqlite_err(cat->db, src, "check notes search index");
	return 0;
}
