/*
 * streams.c — the catalog's streams table (include/hubfs/catalog_streams.h).
 *
 * Streams change rarely (mkdir, a config write, a schedule firing), so each call prepares
 * its one statement, runs it in its own transaction under cat->lock, and finalizes it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "hubfs/catalog_streams.h"

#include "catalog/catalog_int.h"

/* Prepare @sql, bind @n text parameters and, if @with_int, one integer last; run it. */
static int cst_exec(struct hubfs_catalog *cat, const char *sql, const char *const *texts, int n,
		    bool with_int, int64_t ival, int *changes, const char *what)
{
	sqlite3_stmt *st = NULL;
	int src, rc;

	pthread_mutex_lock(&cat->lock);
	rc = cat_begin(cat);
	if (rc)
		goto out;
	src = sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = cat_sqlite_err(cat->db, src, what);
		goto fin;
	}
	for (int i = 0; i < n && !rc; i++)
		rc = cat_bind_text(cat, st, i + 1, texts[i], strlen(texts[i]));
	if (!rc && with_int && sqlite3_bind_int64(st, n + 1, ival) != SQLITE_OK)
		rc = -ENOMEM;
	if (!rc)
		rc = cat_run(cat, st, what);
	if (!rc && changes)
		*changes = sqlite3_changes(cat->db);
fin:
	sqlite3_finalize(st);
	rc = cat_finish(cat, rc);
out:
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

int hubfs_catalog_stream_add(struct hubfs_catalog *cat, const char *name, const char *config,
			     int64_t created_ns)
{
	const char *t[] = { name, config };

	return cst_exec(cat, "INSERT INTO streams (name, config, created_ns) VALUES (?1, ?2, ?3)",
			t, 2, true, created_ns, NULL, "add stream");
}

int hubfs_catalog_stream_update(struct hubfs_catalog *cat, const char *name, const char *config,
				bool sched_done)
{
	const char *t[] = { name, config };
	int changes = 0, rc;

	rc = cst_exec(cat, "UPDATE streams SET config = ?2, sched_done = ?3 WHERE name = ?1", t, 2,
		      true, sched_done, &changes, "update stream");
	return rc ? rc : changes ? 0 : -ENOENT;
}

int hubfs_catalog_stream_delete(struct hubfs_catalog *cat, const char *name)
{
	const char *t[] = { name };
	int changes = 0, rc;

	rc = cst_exec(cat, "DELETE FROM streams WHERE name = ?1", t, 1, false, 0, &changes,
		      "delete stream");
	return rc ? rc : changes ? 0 : -ENOENT;
}

int hubfs_catalog_stream_rename(struct hubfs_catalog *cat, const char *from, const char *to)
{
	const char *t[] = { from, to };
	int changes = 0, rc;

	rc = cst_exec(cat, "UPDATE streams SET name = ?2 WHERE name = ?1", t, 2, false, 0, &changes,
		      "rename stream");
	return rc ? rc : changes ? 0 : -ENOENT;
}

int hubfs_catalog_stream_list(struct hubfs_catalog *cat, hubfs_cat_stream_fn fn, void *arg)
{
	sqlite3_stmt *st = NULL;
	int src, rc = 0;

	pthread_mutex_lock(&cat->lock);
	src = sqlite3_prepare_v2(cat->db,
				 "SELECT name, config, created_ns, sched_done FROM streams"
				 " ORDER BY name",
				 -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = cat_sqlite_err(cat->db, src, "list streams");
		goto out;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct hubfs_cat_stream s = {
			.name = (const char *)sqlite3_column_text(st, 0),
			.config = (const char *)sqlite3_column_text(st, 1),
			.created_ns = sqlite3_column_int64(st, 2),
			.sched_done = sqlite3_column_int(st, 3) != 0,
		};

		if (!s.name || !s.config) {
			rc = -ENOMEM;
			goto out;
		}
		rc = fn(arg, &s);
		if (rc)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = cat_sqlite_err(cat->db, src, "list streams");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}
