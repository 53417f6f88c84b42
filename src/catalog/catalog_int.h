/*
 * catalog_int.h — the catalog's private seams, shared by catalog.c (the API), schema.c (the
 * migrations and the SQLite error map) and the unit test. Not for other subsystems.
 *
 * Threads: everything here runs on a connection the caller owns exclusively (at open, before
 * the catalog is shared, or under the catalog's mutex); nothing here locks.
 */
#ifndef HUBFS_CATALOG_INT_H
#define HUBFS_CATALOG_INT_H

#include <stddef.h>

#include <sqlite3.h>

#include "hubfs/catalog.h"

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
