/*
 * notes_int.h — what notes.c (the notes tables: statements, transactions, the tree, history
 * and search) shares with notes_attrs.c (attributes, sharing, tags and user xattrs of a
 * note). Private to src/catalog/.
 *
 * Threads: cat_notes_lock takes cat->lock (preparing the statements on first use); the
 * rest runs with it held.
 */
#ifndef HUBFS_CATALOG_NOTES_INT_H
#define HUBFS_CATALOG_NOTES_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "catalog/catalog_int.h"

/* The notes statements; their SQL is notes.c's n_sql[]. */
enum n_stmt {
	N_GET,
	N_ID,
	N_KIND,
	N_HAS_CHILD,
	N_HEAD,
	N_INSERT,
	N_VERSION_ADD,
	N_SET_HEAD,
	N_SET_DELETED,
	N_XATTR_CLEAR,
	N_FTS_DEL,
	N_FTS_ADD,
	N_FTS_DEL_TREE,
	N_FTS_ADD_TREE,
	N_MOVE,
	N_MOVE_TREE,
	N_DIR_MOVE,
	N_DIR_MOVE_TREE,
	N_READ,
	N_VERSIONS,
	N_VERSION_READ,
	N_CONTRIBUTORS,
	N_SET_ATTRS,
	N_SET_SHARED,
	N_SET_TAGS,
	N_XATTR_SET,
	N_XATTR_GET,
	N_XATTR_LIST,
	N_XATTR_DEL,
	N_DIR_GET,
	N_DIR_UPSERT,
	N_DIR_DELETE,
	N_LIST,
	N_HISTORY_ROOT,
	N_HISTORY,
	N_SEARCH,
	N_TOTALS,
	N_FTS_TOUCH,
	N_FIND_DELETED,
	N_REVIVE,
	N_GET_DELETED,
	N_SAME_CONTENT,
	N_NSTMT
};

/* Take cat->lock with the statements ready: 0, or an error with the lock not held. */
int cat_notes_lock(struct hubfs_catalog *cat);
/* A prepared statement (after cat_notes_lock); reset it with cat_done after use. */
sqlite3_stmt *cat_notes_st(struct hubfs_catalog *cat, enum n_stmt which);
/* BEGIN IMMEDIATE; then cat_notes_finish(cat, rc) commits when @rc is 0, else rolls back,
 * and returns the call's result. */
int cat_notes_begin(struct hubfs_catalog *cat);
int cat_notes_finish(struct hubfs_catalog *cat, int rc);
/* A path to look up: 0 and its length, or -ENOENT ("", malformed, too long). */
/* cat_notes_lookup, then cat_notes_lock: the start of most public calls. */
int cat_notes_enter(struct hubfs_catalog *cat, const char *path, size_t *len);
int cat_notes_lookup(const char *path, size_t *len);
/* Step @st to its one row: 0 (row current), -ENOENT (none), or the mapped error. */
int cat_notes_step_one(struct hubfs_catalog *cat, sqlite3_stmt *st, const char *what);
/* The local id of the live note at @path[0..len): 0, -ENOENT. */
int cat_notes_id(struct hubfs_catalog *cat, const char *path, size_t len, int64_t *id);
/* N_FTS_DEL before and N_FTS_ADD after changing what the index holds of note @id. */
int cat_notes_fts(struct hubfs_catalog *cat, enum n_stmt which, int64_t id);
/* Bind @len bytes at @p as a blob (empty, not NULL, when @len is 0); -EFBIG past SQLite's
 * length limit. */
int cat_notes_bind_blob(struct hubfs_catalog *cat, sqlite3_stmt *st, int idx, const void *p,
			size_t len);

#endif
