/*
 * notes_attrs.c — the attributes of a live note in the catalog (include/hubfs/catalog_notes.h):
 * mode, owner and mtime, sharing, tags (re-indexed for search) and other user.* xattrs.
 *
 * Owns no state: the statements and transactions are notes.c's (notes_int.h). Threads and
 * locks as notes.c: any thread, every call under cat->lock; a change of several statements
 * is one transaction. Names and values of xattrs are bounded as Linux bounds them
 * (XATTR_NAME_MAX, XATTR_SIZE_MAX); which user.* names are allowed is the caller's rule.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hubfs/catalog_notes.h"

#include "catalog/catalog_int.h"
#include "catalog/notes_int.h"

/* Linux's XATTR_NAME_MAX and XATTR_SIZE_MAX. */
#define N_XATTR_NAME_MAX 255
#define N_XATTR_SIZE_MAX 65536

/* u32 attributes, or NULL for "leave alone" ((uint32_t)-1). */
static void n_bind_u32_opt(sqlite3_stmt *st, int idx, uint32_t v)
{
	if (v == (uint32_t)-1)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_int64(st, idx, v);
}

/* Run the bound one-row UPDATE @st of a live note: -ENOENT when no row matched. */
static int n_update_live(struct hubfs_catalog *cat, sqlite3_stmt *st, const char *what)
{
	int rc;

	rc = cat_run(cat, st, what);
	if (!rc && sqlite3_changes(cat->db) == 0)
		rc = -ENOENT;
	return rc;
}

int hubfs_catalog_note_set_attrs(struct hubfs_catalog *cat, const char *path, uint32_t mode,
				 uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	sqlite3_stmt *st;
	size_t plen;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_SET_ATTRS);
	rc = cat_bind_text(cat, st, 1, path, plen);
	if (rc)
		goto out;
	n_bind_u32_opt(st, 2, mode);
	n_bind_u32_opt(st, 3, uid);
	n_bind_u32_opt(st, 4, gid);
	if (mtime_ns != INT64_MIN)
		sqlite3_bind_int64(st, 5, mtime_ns);
	rc = n_update_live(cat, st, "set note attributes");
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_set_shared(struct hubfs_catalog *cat, const char *path, bool shared)
{
	sqlite3_stmt *st;
	size_t plen;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_SET_SHARED);
	rc = cat_bind_text(cat, st, 1, path, plen);
	sqlite3_bind_int(st, 2, shared);
	if (!rc)
		rc = n_update_live(cat, st, "share note");
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

static int n_set_tags_locked(struct hubfs_catalog *cat, const char *path, size_t plen,
			     const char *tags, size_t tlen)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_SET_TAGS);
	int64_t id;
	int rc;

	rc = cat_notes_id(cat, path, plen, &id);
	if (!rc)
		rc = cat_notes_fts(cat, N_FTS_DEL, id);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = cat_bind_text(cat, st, 2, tags, tlen);
	if (!rc)
		rc = cat_run(cat, st, "set note tags");
	cat_done(st);
	if (!rc)
		rc = cat_notes_fts(cat, N_FTS_ADD, id);
	return rc;
}

int hubfs_catalog_note_set_tags(struct hubfs_catalog *cat, const char *path, const char *tags)
{
	size_t plen, tlen;
	int rc;

	rc = cat_notes_lookup(path, &plen);
	if (rc)
		return rc;
	tlen = strnlen(tags, HUBFS_NOTE_TAGS_MAX);
	if (tlen >= HUBFS_NOTE_TAGS_MAX)
		return -E2BIG; /* would not fit struct hubfs_note_info */
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_set_tags_locked(cat, path, plen, tags, tlen);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* An xattr name: not empty, at most XATTR_NAME_MAX bytes. */
static int n_xattr_name(const char *name, size_t *len)
{
	*len = strnlen(name, N_XATTR_NAME_MAX + 1);
	if (*len == 0)
		return -EINVAL;
	if (*len > N_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

int hubfs_catalog_note_xattr_set(struct hubfs_catalog *cat, const char *path, const char *name,
				 const void *value, size_t len)
{
	sqlite3_stmt *st;
	size_t plen, nlen;
	int rc;

	rc = cat_notes_lookup(path, &plen);
	if (rc)
		return rc;
	rc = n_xattr_name(name, &nlen);
	if (rc)
		return rc;
	if (len > N_XATTR_SIZE_MAX)
		return -E2BIG;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_XATTR_SET);
	rc = cat_bind_text(cat, st, 1, path, plen);
	if (!rc)
		rc = cat_bind_text(cat, st, 2, name, nlen);
	if (!rc)
		rc = cat_notes_bind_blob(cat, st, 3, value, len);
	if (!rc)
		rc = n_update_live(cat, st, "set note xattr");
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_xattr_get(struct hubfs_catalog *cat, const char *path, const char *name,
				 void *value, size_t len)
{
	sqlite3_stmt *st;
	const void *p;
	size_t plen, nlen, n;
	int rc;

	rc = cat_notes_lookup(path, &plen);
	if (rc)
		return rc;
	if (n_xattr_name(name, &nlen))
		return -ENODATA;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_XATTR_GET);
	rc = cat_bind_text(cat, st, 1, path, plen);
	if (!rc)
		rc = cat_bind_text(cat, st, 2, name, nlen);
	if (!rc)
		rc = cat_notes_step_one(cat, st, "get note xattr");
	if (rc)
		goto out;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		rc = -ENODATA;
		goto out;
	}
	p = sqlite3_column_blob(st, 1);
	n = (size_t)sqlite3_column_bytes(st, 1);
	if (!p && n) {
		rc = -ENOMEM;
		goto out;
	}
	if (len && n > len) {
		rc = -ERANGE;
		goto out;
	}
	if (len && n)
		memcpy(value, p, n);
	rc = (int)n;
out:
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_note_xattr_list(struct hubfs_catalog *cat, const char *path, char *list,
				  size_t len)
{
	sqlite3_stmt *st;
	const unsigned char *name;
	bool found = false;
	size_t plen, used = 0, n;
	int src;
	int rc;

	rc = cat_notes_enter(cat, path, &plen);
	if (rc)
		return rc;
	st = cat_notes_st(cat, N_XATTR_LIST);
	rc = cat_bind_text(cat, st, 1, path, plen);
	while (!rc) {
		src = sqlite3_step(st);
		if (src == SQLITE_DONE) {
			rc = found ? 0 : -ENOENT;
			break;
		}
		if (src != SQLITE_ROW) {
			rc = cat_sqlite_err(cat->db, src, "list note xattrs");
			break;
		}
		found = true;
		if (sqlite3_column_type(st, 0) == SQLITE_NULL)
			continue; /* the note, without xattrs */
		name = sqlite3_column_text(st, 0);
		n = (size_t)sqlite3_column_bytes(st, 0);
		if (!name) {
			rc = -ENOMEM;
			break;
		}
		if (len && used + n + 1 > len) {
			rc = -ERANGE;
			break;
		}
		if (len)
			memcpy(list + used, name, n + 1);
		used += n + 1;
	}
	cat_done(st);
	pthread_mutex_unlock(&cat->lock);
	if (rc)
		return rc;
	if (used > INT32_MAX)
		return -E2BIG;
	return (int)used;
}

static int n_xattr_remove_locked(struct hubfs_catalog *cat, const char *path, size_t plen,
				 const char *name, size_t nlen)
{
	sqlite3_stmt *st = cat_notes_st(cat, N_XATTR_DEL);
	int64_t id;
	int rc;

	rc = cat_notes_id(cat, path, plen, &id);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = cat_bind_text(cat, st, 2, name, nlen);
	if (!rc)
		rc = cat_run(cat, st, "remove note xattr");
	cat_done(st);
	if (!rc && sqlite3_changes(cat->db) == 0)
		rc = -ENODATA;
	return rc;
}

int hubfs_catalog_note_xattr_remove(struct hubfs_catalog *cat, const char *path, const char *name)
{
	size_t plen, nlen;
	int rc;

	rc = cat_notes_lookup(path, &plen);
	if (rc)
		return rc;
	if (n_xattr_name(name, &nlen))
		return -ENODATA;
	rc = cat_notes_lock(cat);
	if (rc)
		return rc;
	rc = cat_notes_begin(cat);
	if (!rc)
		rc = n_xattr_remove_locked(cat, path, plen, name, nlen);
	rc = cat_notes_finish(cat, rc);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}
