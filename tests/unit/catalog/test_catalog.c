/*
 * test_catalog.c — unit tests of the SQLite catalog (src/catalog/).
 *
 * Covers the videos/ namespace (put, get, delete, list, walk, rename of files and of
 * subtrees with names full of LIKE/GLOB metacharacters), totals, rejects, settings, the
 * integrity check, WAL and persistence of a file catalog, the schema migrations (through the
 * catalog_int.h hook, with a fake version 2), the SQLite error map, -EBUSY and -ENOSPC
 * leaving the catalog unchanged, concurrent callers, and an allocation torture loop that
 * fails SQLite's Nth allocation for N = 1, 2, ... and checks that the failed call changed
 * nothing.
 *
 * Threads: test_threads starts workers; everything else runs on cmocka's thread. The
 * torture test swaps SQLite's allocator (sqlite3_shutdown/sqlite3_config) and restores it.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "hubfs/catalog.h"
#include "hubfs/log.h"

#include "catalog/catalog_int.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static struct hubfs_cat_entry t_video(uint64_t size)
{
	struct hubfs_cat_entry e;

	memset(&e, 0, sizeof(e));
	e.meta.size = size;
	memset(e.meta.sha256, 'a', 64);
	e.meta.media.duration = 12.5;
	e.meta.media.width = 1920;
	e.meta.media.height = 1080;
	e.meta.media.fps = 29.97;
	strcpy(e.meta.media.video_codec, "h264");
	strcpy(e.meta.media.audio_codec, "aac");
	strcpy(e.meta.media.container, "mp4");
	e.meta.media.bitrate = 5000000;
	e.meta.uploaded = 1700000000;
	e.meta.mtime_ns = 1700000000123456789;
	e.meta.mode = 0644;
	e.meta.uid = 1000;
	e.meta.gid = 100;
	e.meta.file_mtime_ns = 1700000000987654321;
	e.meta.file_size = size;
	return e;
}

static struct hubfs_cat_entry t_dir(void)
{
	struct hubfs_cat_entry e;

	memset(&e, 0, sizeof(e));
	e.is_dir = true;
	e.meta.mode = 0750;
	e.meta.uid = 7;
	e.meta.gid = 8;
	e.meta.mtime_ns = 42;
	return e;
}

static void t_put_video(struct hubfs_catalog *cat, const char *path, uint64_t size)
{
	struct hubfs_cat_entry e = t_video(size);

	assert_int_equal(hubfs_catalog_put(cat, path, &e), 0);
}

static void t_put_dir(struct hubfs_catalog *cat, const char *path)
{
	struct hubfs_cat_entry e = t_dir();

	assert_int_equal(hubfs_catalog_put(cat, path, &e), 0);
}

static int t_kind(struct hubfs_catalog *cat, const char *path)
{
	struct hubfs_cat_entry e;
	int rc;

	rc = hubfs_catalog_get(cat, path, &e);
	if (rc)
		return rc;
	return e.is_dir ? 'd' : 'f';
}

static void t_check(struct hubfs_catalog *cat)
{
	char msg[256];

	assert_int_equal(hubfs_catalog_check(cat, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "ok");
}

/* A growing text buffer: the catalog as "kind path\n" lines, for whole-tree comparisons. */
struct t_dump {
	char buf[16384];
	size_t len;
};

static int t_dump_fn(void *arg, const char *path, const struct hubfs_cat_entry *e)
{
	struct t_dump *d = arg;
	int n;

	n = snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "%c %s %llu %o\n",
		     e->is_dir ? 'd' : 'f', path, (unsigned long long)e->meta.size,
		     (unsigned)e->meta.mode);
	assert_true(n > 0 && (size_t)n < sizeof(d->buf) - d->len);
	d->len += (size_t)n;
	return 0;
}

static void t_walk_paths(struct hubfs_catalog *cat, struct t_dump *d)
{
	d->len = 0;
	d->buf[0] = '\0';
	assert_int_equal(hubfs_catalog_walk(cat, t_dump_fn, d), 0);
}

/* Names only, for list order. */
static int t_names_fn(void *arg, const char *name, const struct hubfs_cat_entry *e)
{
	struct t_dump *d = arg;
	int n;

	n = snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "%s%s,", name, e->is_dir ? "/" : "");
	assert_true(n > 0 && (size_t)n < sizeof(d->buf) - d->len);
	d->len += (size_t)n;
	return 0;
}

static void t_list(struct hubfs_catalog *cat, const char *dir, const char *want)
{
	struct t_dump d = { .len = 0 };

	d.buf[0] = '\0';
	assert_int_equal(hubfs_catalog_list(cat, dir, t_names_fn, &d), 0);
	assert_string_equal(d.buf, want);
}

/* A temp directory with a catalog file in it, removed with its WAL files. */
struct t_tmp {
	char dir[64];
	char db[128];
};

static void t_tmp_init(struct t_tmp *t)
{
	strcpy(t->dir, "/tmp/hubfs-cat-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->db, sizeof(t->db), "%s/catalog.db", t->dir);
}

static void t_tmp_release(struct t_tmp *t)
{
	char p[160];

	unlink(t->db);
	snprintf(p, sizeof(p), "%s-wal", t->db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", t->db);
	unlink(p);
	assert_int_equal(rmdir(t->dir), 0);
}

static int t_raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void t_raw_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* ---- namespace --------------------------------------------------------------------------- */

static void test_open_memory(void **state)
{
	struct hubfs_catalog *cat = (void *)1;
	struct hubfs_cat_entry e;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	assert_non_null(cat);
	assert_int_equal(hubfs_catalog_schema_version(cat), HUBFS_CATALOG_SCHEMA);
	assert_int_equal(hubfs_catalog_get(cat, "", &e), 0); /* the implicit root */
	assert_true(e.is_dir);
	t_list(cat, "", "");
	t_check(cat);
	hubfs_catalog_close(cat);
	hubfs_catalog_close(NULL);
}

static void test_put_get_delete(void **state)
{
	struct hubfs_catalog *cat;
	struct hubfs_cat_entry e, got;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);

	/* Every field survives, including u64 values above INT64_MAX. */
	e = t_video(123456789);
	e.meta.file_size = UINT64_MAX;
	e.meta.uid = UINT32_MAX;
	assert_int_equal(hubfs_catalog_put(cat, "a.mp4", &e), 0);
	assert_int_equal(hubfs_catalog_get(cat, "a.mp4", &got), 0);
	assert_memory_equal(&got, &e, sizeof(e));

	/* A video replaces a video. */
	e = t_video(5);
	e.meta.media.audio_codec[0] = '\0';
	e.meta.media.duration = NAN; /* stored as 0, never refused */
	assert_int_equal(hubfs_catalog_put(cat, "a.mp4", &e), 0);
	assert_int_equal(hubfs_catalog_get(cat, "a.mp4", &got), 0);
	assert_int_equal(got.meta.size, 5);
	assert_string_equal(got.meta.media.audio_codec, "");
	assert_true(got.meta.media.duration == 0.0);

	/* Missing ancestors are implied as directories with the entry's owner. */
	t_put_video(cat, "x/y/z.mkv", 10);
	assert_int_equal(hubfs_catalog_get(cat, "x/y", &got), 0);
	assert_true(got.is_dir);
	assert_int_equal(got.meta.mode, 0755);
	assert_int_equal(got.meta.uid, 1000);
	assert_int_equal(got.meta.gid, 100);
	assert_int_equal(t_kind(cat, "x"), 'd');

	/* A directory's attributes update in place (chmod). */
	e = t_dir();
	e.meta.mode = 0700;
	assert_int_equal(hubfs_catalog_put(cat, "x", &e), 0);
	assert_int_equal(hubfs_catalog_get(cat, "x", &got), 0);
	assert_int_equal(got.meta.mode, 0700);
	assert_int_equal(t_kind(cat, "x/y/z.mkv"), 'f');

	/* Kind changes and paths through a video. */
	e = t_video(1);
	assert_int_equal(hubfs_catalog_put(cat, "x", &e), -EISDIR);
	e = t_dir();
	assert_int_equal(hubfs_catalog_put(cat, "a.mp4", &e), -ENOTDIR);
	assert_int_equal(hubfs_catalog_put(cat, "a.mp4/b.mp4", &e), -ENOTDIR);
	assert_int_equal(hubfs_catalog_put(cat, "x/y/z.mkv/deeper/c.mp4", &e), -ENOTDIR);
	assert_int_equal(t_kind(cat, "x/y/z.mkv/deeper"), -ENOENT);

	/* Malformed paths. */
	assert_int_equal(hubfs_catalog_put(cat, "", &e), -EINVAL);
	assert_int_equal(hubfs_catalog_put(cat, "/a", &e), -EINVAL);
	assert_int_equal(hubfs_catalog_put(cat, "a/", &e), -EINVAL);
	assert_int_equal(hubfs_catalog_put(cat, "a//b", &e), -EINVAL);
	assert_int_equal(hubfs_catalog_delete(cat, ""), -EINVAL);

	/* Delete. */
	assert_int_equal(hubfs_catalog_delete(cat, "x"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_delete(cat, "x/y"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_delete(cat, "x/y/z.mkv"), 0);
	assert_int_equal(hubfs_catalog_delete(cat, "x/y/z.mkv"), -ENOENT);
	assert_int_equal(hubfs_catalog_delete(cat, "x/y"), 0);
	assert_int_equal(hubfs_catalog_delete(cat, "x"), 0);
	assert_int_equal(hubfs_catalog_delete(cat, "a.mp4"), 0);
	assert_int_equal(hubfs_catalog_get(cat, "a.mp4", &got), -ENOENT);
	assert_int_equal(hubfs_catalog_delete(cat, "nothing"), -ENOENT);
	t_list(cat, "", "");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static int t_stop_after_two(void *arg, const char *name, const struct hubfs_cat_entry *e)
{
	int *n = arg;

	(void)name;
	(void)e;
	return ++*n == 2 ? 77 : 0;
}

static void test_list(void **state)
{
	struct hubfs_catalog *cat;
	int n = 0;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	t_put_video(cat, "b.mp4", 1);
	t_put_video(cat, "B.mp4", 1);
	t_put_video(cat, "a.mp4", 1);
	t_put_dir(cat, "a");
	t_put_video(cat, "a/inner.mp4", 1);
	t_put_video(cat, "ab.mp4", 1);
	t_put_dir(cat, "empty");
	/* Bytewise name order; children of a/ are not children of the root. */
	t_list(cat, "", "B.mp4,a/,a.mp4,ab.mp4,b.mp4,empty/,");
	t_list(cat, "a", "inner.mp4,");
	t_list(cat, "empty", "");
	assert_int_equal(hubfs_catalog_list(cat, "", t_stop_after_two, &n), 77);
	assert_int_equal(n, 2);
	assert_int_equal(hubfs_catalog_list(cat, "nope", t_names_fn, NULL), -ENOENT);
	assert_int_equal(hubfs_catalog_list(cat, "a.mp4", t_names_fn, NULL), -ENOTDIR);
	/* The statement was reset after the early stop: the catalog is still usable. */
	t_put_video(cat, "c.mp4", 1);
	t_list(cat, "", "B.mp4,a/,a.mp4,ab.mp4,b.mp4,c.mp4,empty/,");
	hubfs_catalog_close(cat);
}

struct t_order {
	char *paths[64];
	int n;
};

static int t_order_fn(void *arg, const char *path, const struct hubfs_cat_entry *e)
{
	struct t_order *o = arg;

	(void)e;
	assert_true(o->n < 64);
	o->paths[o->n] = strdup(path);
	assert_non_null(o->paths[o->n]);
	o->n++;
	return 0;
}

static void test_walk(void **state)
{
	static const char *const videos[] = {
		"z/a/b/c.mp4", "a b/x.mp4",   "a/b.mp4",     "a-b/c.mp4",
		"a.mp4",       "a/b/c/d.mp4", "a/b c/e.mp4", "m/n.mp4",
	};
	struct hubfs_catalog *cat;
	struct t_order o = { .n = 0 };
	int found;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	for (size_t i = 0; i < sizeof(videos) / sizeof(videos[0]); i++)
		t_put_video(cat, videos[i], i);
	assert_int_equal(hubfs_catalog_walk(cat, t_order_fn, &o), 0);
	assert_int_equal(o.n, 8 + 10); /* the videos and their 10 implied directories */
	for (int i = 0; i < o.n; i++) {
		const char *slash = strrchr(o.paths[i], '/');

		if (!slash)
			continue;
		found = 0;
		for (int j = 0; j < i; j++)
			if (strlen(o.paths[j]) == (size_t)(slash - o.paths[i]) &&
			    !strncmp(o.paths[j], o.paths[i], (size_t)(slash - o.paths[i])))
				found = 1;
		assert_true(found); /* its parent came first */
	}
	for (int i = 0; i < o.n; i++)
		free(o.paths[i]);
	o.n = 0;
	assert_int_equal(hubfs_catalog_walk(cat, t_stop_after_two, &o.n), 77);
	hubfs_catalog_close(cat);
}

static void test_rename_file(void **state)
{
	struct hubfs_catalog *cat;
	struct hubfs_cat_entry got;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	t_put_video(cat, "a.mp4", 1);
	t_put_video(cat, "b.mp4", 2);
	t_put_dir(cat, "d");
	t_put_video(cat, ".a.mp4.XyZ123", 3); /* rsync's temp name */

	assert_int_equal(hubfs_catalog_rename(cat, "missing.mp4", "x.mp4"), -ENOENT);
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", "a.mp4"), 0);
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", "d"), -EISDIR);
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", "b.mp4/c.mp4"), -ENOTDIR);
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", ""), -EINVAL);

	/* Onto an existing video: replaces it. */
	assert_int_equal(hubfs_catalog_rename(cat, ".a.mp4.XyZ123", "a.mp4"), 0);
	assert_int_equal(hubfs_catalog_get(cat, "a.mp4", &got), 0);
	assert_int_equal(got.meta.size, 3);
	assert_int_equal(t_kind(cat, ".a.mp4.XyZ123"), -ENOENT);

	/* Into a directory, and into one that does not exist yet (implied). */
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", "d/a.mp4"), 0);
	assert_int_equal(hubfs_catalog_rename(cat, "b.mp4", "new/deep/b.mp4"), 0);
	t_list(cat, "", "d/,new/,");
	t_list(cat, "d", "a.mp4,");
	t_list(cat, "new/deep", "b.mp4,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static void test_rename_dir(void **state)
{
	struct hubfs_catalog *cat;
	struct t_dump d;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	/* a's subtree, and siblings that share its prefix or hold wildcards of LIKE and GLOB. */
	t_put_video(cat, "a/b/c.mp4", 1);
	t_put_video(cat, "a/%_.mp4", 2);
	t_put_video(cat, "a/x.mp4", 3);
	t_put_video(cat, "ab/y.mp4", 4);
	t_put_video(cat, "a%/z.mp4", 5);
	t_put_video(cat, "a_/w.mp4", 6);
	t_put_video(cat, "a*/v.mp4", 7);
	t_put_video(cat, "a.mp4", 8);
	t_put_video(cat, "a0.mp4", 9); /* '0' is the end of a's range: must stay out */
	t_put_video(cat, "a b/q.mp4", 10);
	t_put_video(cat, "A/u.mp4", 11); /* case matters */

	assert_int_equal(hubfs_catalog_rename(cat, "a", "n%_"), 0);
	t_walk_paths(cat, &d);
	assert_string_equal(d.buf,
			    "d A 0 755\n"
			    "f A/u.mp4 11 644\n"
			    "d a b 0 755\n"
			    "f a b/q.mp4 10 644\n"
			    "d a% 0 755\n"
			    "f a%/z.mp4 5 644\n"
			    "d a* 0 755\n"
			    "f a*/v.mp4 7 644\n"
			    "f a.mp4 8 644\n"
			    "f a0.mp4 9 644\n"
			    "d a_ 0 755\n"
			    "f a_/w.mp4 6 644\n"
			    "d ab 0 755\n"
			    "f ab/y.mp4 4 644\n"
			    "d n%_ 0 755\n"
			    "f n%_/%_.mp4 2 644\n"
			    "d n%_/b 0 755\n"
			    "f n%_/b/c.mp4 1 644\n"
			    "f n%_/x.mp4 3 644\n");
	t_list(cat, "n%_", "%_.mp4,b/,x.mp4,");
	t_list(cat, "n%_/b", "c.mp4,");
	t_check(cat);

	/* Kind mismatch, non-empty target, own subtree, ancestor. */
	assert_int_equal(hubfs_catalog_rename(cat, "n%_", "a.mp4"), -ENOTDIR);
	assert_int_equal(hubfs_catalog_rename(cat, "n%_", "ab"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_rename(cat, "n%_", "n%_/b/inside"), -EINVAL);
	assert_int_equal(hubfs_catalog_rename(cat, "n%_/b", "n%_"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_rename(cat, "n%_", "a.mp4/x"), -ENOTDIR);

	/* Onto an empty directory: replaces it. */
	t_put_dir(cat, "empty");
	assert_int_equal(hubfs_catalog_rename(cat, "n%_", "empty"), 0);
	t_list(cat, "empty", "%_.mp4,b/,x.mp4,");
	assert_int_equal(t_kind(cat, "n%_"), -ENOENT);

	/* Deeper, into implied parents; then multi-byte names (substr counts characters). */
	assert_int_equal(hubfs_catalog_rename(cat, "empty", "deep/er/n"), 0);
	t_list(cat, "deep/er/n/b", "c.mp4,");
	t_put_video(cat, "\xc3\xa9/\xc3\xbc/\xc3\xb6.mp4", 12); /* é/ü/ö.mp4 */
	assert_int_equal(hubfs_catalog_rename(cat, "\xc3\xa9", "e"), 0);
	t_list(cat, "e/\xc3\xbc", "\xc3\xb6.mp4,");
	assert_int_equal(hubfs_catalog_rename(cat, "e", "\xe2\x82\xac\xe2\x82\xac"), 0); /* €€ */
	t_list(cat, "\xe2\x82\xac\xe2\x82\xac/\xc3\xbc", "\xc3\xb6.mp4,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static void test_totals(void **state)
{
	struct hubfs_catalog *cat;
	uint64_t videos = 1, bytes = 1;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	assert_int_equal(hubfs_catalog_totals(cat, &videos, &bytes), 0);
	assert_int_equal(videos, 0);
	assert_int_equal(bytes, 0);
	t_put_video(cat, "a.mp4", 100);
	t_put_video(cat, "d/b.mp4", 23);
	t_put_dir(cat, "e");
	assert_int_equal(hubfs_catalog_totals(cat, &videos, &bytes), 0);
	assert_int_equal(videos, 2);
	assert_int_equal(bytes, 123);
	assert_int_equal(hubfs_catalog_delete(cat, "a.mp4"), 0);
	assert_int_equal(hubfs_catalog_totals(cat, &videos, &bytes), 0);
	assert_int_equal(videos, 1);
	assert_int_equal(bytes, 23);
	hubfs_catalog_close(cat);
}

static void test_rejects(void **state)
{
	struct hubfs_catalog *cat;
	char reason[64];

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 10, 20, reason, sizeof(reason)),
			 -ENOENT);
	assert_int_equal(hubfs_catalog_reject_put(cat, "bad.mp4", 10, 20, "no video stream"), 0);
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 10, 20, reason, sizeof(reason)),
			 0);
	assert_string_equal(reason, "no video stream");
	/* Other bytes under the same name are validated again. */
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 11, 20, reason, sizeof(reason)),
			 -ENOENT);
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 10, 21, reason, sizeof(reason)),
			 -ENOENT);
	/* Replaced by a newer reject of the same path; a short buffer truncates. */
	assert_int_equal(hubfs_catalog_reject_put(cat, "bad.mp4", 11, 21, "not a container"), 0);
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 10, 20, reason, sizeof(reason)),
			 -ENOENT);
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 11, 21, reason, 4), 0);
	assert_string_equal(reason, "not");
	assert_int_equal(hubfs_catalog_reject_delete(cat, "bad.mp4"), 0);
	assert_int_equal(hubfs_catalog_reject_delete(cat, "bad.mp4"), 0);
	assert_int_equal(hubfs_catalog_reject_get(cat, "bad.mp4", 11, 21, reason, sizeof(reason)),
			 -ENOENT);
	hubfs_catalog_close(cat);
}

static void test_kv(void **state)
{
	struct hubfs_catalog *cat;
	char buf[16];

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	assert_int_equal(hubfs_catalog_kv_get(cat, "instance", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(hubfs_catalog_kv_set(cat, "instance", "abc"), 0);
	assert_int_equal(hubfs_catalog_kv_get(cat, "instance", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(hubfs_catalog_kv_set(cat, "instance", "0123456789abcde"), 0);
	assert_int_equal(hubfs_catalog_kv_get(cat, "instance", buf, 15), -ERANGE);
	assert_int_equal(hubfs_catalog_kv_get(cat, "instance", buf, 16), 0);
	assert_string_equal(buf, "0123456789abcde");
	assert_int_equal(hubfs_catalog_kv_set(cat, "empty", ""), 0);
	assert_int_equal(hubfs_catalog_kv_get(cat, "empty", buf, 1), 0);
	assert_string_equal(buf, "");
	hubfs_catalog_close(cat);
}

static void test_check(void **state)
{
	struct hubfs_catalog *cat;
	char msg[256];

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	t_put_video(cat, "d/a.mp4", 1);
	t_check(cat);
	/* Break the tree behind the catalog's back: an entry whose parent is missing. */
	assert_int_equal(sqlite3_exec(cat_test_db(cat),
				      "INSERT INTO videos (path, parent, name, is_dir)"
				      " VALUES ('x/orphan.mp4', 'x', 'orphan.mp4', 0)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(hubfs_catalog_check(cat, msg, sizeof(msg)), -EIO);
	assert_non_null(strstr(msg, "x/orphan.mp4"));
	assert_int_equal(hubfs_catalog_delete(cat, "x/orphan.mp4"), 0);
	t_check(cat);
	assert_int_equal(hubfs_catalog_check(cat, NULL, 0), 0);
	hubfs_catalog_close(cat);
}

/* ---- files, schema, errors --------------------------------------------------------------- */

static void test_file_wal_persist(void **state)
{
	struct hubfs_catalog *cat;
	struct hubfs_cat_entry e = t_video(99), got;
	struct t_tmp t;
	char mode[16];
	sqlite3 *db;

	(void)state;
	t_tmp_init(&t);
	assert_int_equal(hubfs_catalog_open(&cat, t.db), 0);
	t_raw_text(cat_test_db(cat), "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(t_raw_int(cat_test_db(cat), "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(t_raw_int(cat_test_db(cat), "PRAGMA foreign_keys"), 1);
	assert_int_equal(hubfs_catalog_put(cat, "keep/me.mp4", &e), 0);
	assert_int_equal(hubfs_catalog_kv_set(cat, "instance", "i-1"), 0);
	hubfs_catalog_close(cat);

	/* On disk: WAL stays on, version 1 as written. */
	assert_int_equal(sqlite3_open_v2(t.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(t_raw_int(db, "PRAGMA user_version"), HUBFS_CATALOG_SCHEMA);
	t_raw_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	sqlite3_close(db);

	assert_int_equal(hubfs_catalog_open(&cat, t.db), 0);
	assert_int_equal(hubfs_catalog_schema_version(cat), HUBFS_CATALOG_SCHEMA);
	assert_int_equal(hubfs_catalog_get(cat, "keep/me.mp4", &got), 0);
	assert_memory_equal(&got, &e, sizeof(e));
	assert_int_equal(t_kind(cat, "keep"), 'd');
	t_check(cat);
	hubfs_catalog_close(cat);
	t_tmp_release(&t);
}

static void test_newer_schema(void **state)
{
	struct hubfs_catalog *cat;
	struct t_tmp t;
	char sql[64];
	sqlite3 *db;

	(void)state;
	t_tmp_init(&t);
	assert_int_equal(hubfs_catalog_open(&cat, t.db), 0);
	hubfs_catalog_close(cat);
	assert_int_equal(sqlite3_open(t.db, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", HUBFS_CATALOG_SCHEMA + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cat = (void *)1;
	assert_int_equal(hubfs_catalog_open(&cat, t.db), -EPROTO);
	assert_null(cat);
	t_tmp_release(&t);
}

static int t_v2_calls;

static int t_v2_fn(sqlite3 *db)
{
	t_v2_calls++;
	if (sqlite3_exec(db, "INSERT INTO peers (node) VALUES ('self')", NULL, NULL, NULL))
		return -EIO;
	return 0;
}

static int t_v2_fail_fn(sqlite3 *db)
{
	(void)db;
	return -EIO;
}

static void test_migrations(void **state)
{
	const size_t n = HUBFS_CATALOG_SCHEMA; /* this build's steps; the test adds one more */
	struct cat_migration list[HUBFS_CATALOG_SCHEMA + 1];
	struct hubfs_catalog *cat;
	struct t_tmp t;
	char sql[128];
	sqlite3 *db;
	int version;

	(void)state;
	assert_int_equal(cat_nmigrations, n);
	t_tmp_init(&t);
	assert_int_equal(sqlite3_open(t.db, &db), SQLITE_OK);

	/* Up to version 1 only (the hook runs a prefix), with a row written by a v1 build. */
	assert_int_equal(cat_schema_migrate(db, cat_migrations, 1, &version), 0);
	assert_int_equal(version, 1);
	assert_int_equal(t_raw_int(db, "PRAGMA user_version"), 1);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO videos (path, parent, name, is_dir, size)"
				      " VALUES ('old.mp4', '', 'old.mp4', 0, 42)",
				      NULL, NULL, NULL),
			 SQLITE_OK);

	/* The real upgrade to this build's version keeps the row; v2's column defaults to 0. */
	assert_int_equal(cat_schema_migrate(db, cat_migrations, n, &version), 0);
	assert_int_equal(version, (int)n);
	assert_int_equal(t_raw_int(db, "SELECT size FROM videos WHERE path = 'old.mp4'"), 42);
	assert_int_equal(t_raw_int(db, "SELECT record_mtime_ns FROM videos WHERE path = 'old.mp4'"),
			 0);

	/* A failing next step (bad SQL after a good statement; a failing data step) leaves
	 * this version and no trace of the step. */
	memcpy(list, cat_migrations, n * sizeof(list[0]));
	list[n] = (struct cat_migration){ (int)n + 1,
					  "CREATE TABLE peers (node TEXT); CREATE TABLE (", NULL };
	assert_int_equal(cat_schema_migrate(db, list, n + 1, &version), -EIO);
	assert_int_equal(version, (int)n);
	assert_int_equal(t_raw_int(db, "PRAGMA user_version"), (int)n);
	assert_int_equal(t_raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'peers'"),
			 0);
	list[n] = (struct cat_migration){ (int)n + 1, "CREATE TABLE peers (node TEXT)",
					  t_v2_fail_fn };
	assert_int_equal(cat_schema_migrate(db, list, n + 1, &version), -EIO);
	assert_int_equal(t_raw_int(db, "PRAGMA user_version"), (int)n);
	assert_int_equal(t_raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'peers'"),
			 0);

	/* A good next step: applied once, with its data step. */
	list[n] = (struct cat_migration){ (int)n + 1, "CREATE TABLE peers (node TEXT)", t_v2_fn };
	assert_int_equal(cat_schema_migrate(db, list, n + 1, &version), 0);
	assert_int_equal(version, (int)n + 1);
	assert_int_equal(cat_schema_migrate(db, list, n + 1, &version), 0);
	assert_int_equal(t_v2_calls, 1);
	assert_int_equal(t_raw_int(db, "SELECT count(*) FROM peers"), 1);

	/* This build refuses the newer file. */
	assert_int_equal(cat_schema_migrate(db, cat_migrations, n, &version), -EPROTO);
	assert_int_equal(version, (int)n + 1);
	snprintf(sql, sizeof(sql), "PRAGMA user_version");
	assert_int_equal(t_raw_int(db, sql), (int)n + 1);
	sqlite3_close(db);
	cat = (void *)1;
	assert_int_equal(hubfs_catalog_open(&cat, t.db), -EPROTO);
	assert_null(cat);
	t_tmp_release(&t);
}

static void test_not_a_database(void **state)
{
	struct hubfs_catalog *cat;
	struct t_tmp t;
	char junk[4096];
	FILE *f;

	(void)state;
	t_tmp_init(&t);
	memset(junk, 'j', sizeof(junk));
	f = fopen(t.db, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	cat = (void *)1;
	assert_int_equal(hubfs_catalog_open(&cat, t.db), -EIO);
	assert_null(cat);
	t_tmp_release(&t);
}

static void test_error_map(void **state)
{
	(void)state;
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_BUSY, "t"), -EBUSY);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_BUSY_SNAPSHOT, "t"), -EBUSY);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_LOCKED, "t"), -EBUSY);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_NOMEM, "t"), -ENOMEM);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_FULL, "t"), -ENOSPC);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_CONSTRAINT_UNIQUE, "t"), -EEXIST);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_CORRUPT, "t"), -EIO);
	assert_int_equal(cat_sqlite_err(NULL, SQLITE_IOERR_WRITE, "t"), -EIO);
}

static void test_busy(void **state)
{
	struct hubfs_catalog *cat;
	struct hubfs_cat_entry e = t_video(1), got;
	struct t_tmp t;
	struct t_dump before, after;
	sqlite3 *other;

	(void)state;
	t_tmp_init(&t);
	assert_int_equal(hubfs_catalog_open(&cat, t.db), 0);
	t_put_video(cat, "a.mp4", 1);
	sqlite3_busy_timeout(cat_test_db(cat), 20);
	t_walk_paths(cat, &before);

	/* Another process holds the write lock: changes fail with -EBUSY, reads go on (WAL). */
	assert_int_equal(sqlite3_open(t.db, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(hubfs_catalog_put(cat, "b/c.mp4", &e), -EBUSY);
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", "z.mp4"), -EBUSY);
	assert_int_equal(hubfs_catalog_kv_set(cat, "k", "v"), -EBUSY);
	assert_int_equal(hubfs_catalog_get(cat, "a.mp4", &got), 0);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);

	t_walk_paths(cat, &after);
	assert_string_equal(before.buf, after.buf);
	assert_int_equal(hubfs_catalog_rename(cat, "a.mp4", "z.mp4"), 0);
	t_check(cat);
	hubfs_catalog_close(cat);
	t_tmp_release(&t);
}

static void test_full(void **state)
{
	struct hubfs_catalog *cat;
	struct t_dump before, after;
	char path[512], name[300];
	int rc = 0;
	int i;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "d/%04d.mp4", i);
		t_put_video(cat, path, 1);
	}
	/* No page may be added: a subtree rename to a longer name needs more. */
	assert_int_equal(sqlite3_exec(cat_test_db(cat), "PRAGMA max_page_count = 1", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	t_walk_paths(cat, &before);
	memset(name, 'n', 250);
	name[250] = '\0';
	assert_int_equal(hubfs_catalog_rename(cat, "d", name), -ENOSPC);
	t_walk_paths(cat, &after);
	assert_string_equal(before.buf, after.buf);

	/* A put that implies a directory fails whole: neither the video nor its parent. */
	for (i = 0; i < 1000 && !rc; i++) {
		struct hubfs_cat_entry e = t_video(1);

		snprintf(path, sizeof(path), "fill%04d/%s.mp4", i, name);
		rc = hubfs_catalog_put(cat, path, &e);
	}
	assert_int_equal(rc, -ENOSPC);
	snprintf(path, sizeof(path), "fill%04d", i - 1);
	assert_int_equal(t_kind(cat, path), -ENOENT);
	t_check(cat);

	assert_int_equal(sqlite3_exec(cat_test_db(cat), "PRAGMA max_page_count = 1000000", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(hubfs_catalog_rename(cat, "d", name), 0);
	snprintf(path, sizeof(path), "%s/0299.mp4", name);
	assert_int_equal(t_kind(cat, path), 'f');
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* ---- threads ---------------------------------------------------------------------------- */

#define T_THREADS 4
#define T_PER_THREAD 200

struct t_worker {
	struct hubfs_catalog *cat;
	int id;
	int failures;
};

static int t_count_fn(void *arg, const char *name, const struct hubfs_cat_entry *e)
{
	(void)name;
	(void)e;
	++*(int *)arg;
	return 0;
}

static void *t_worker_main(void *arg)
{
	struct t_worker *w = arg;
	struct hubfs_cat_entry e = t_video(2), got;
	char path[64], to[64], dir[16];
	int n;

	snprintf(dir, sizeof(dir), "t%d", w->id);
	for (int i = 0; i < T_PER_THREAD; i++) {
		snprintf(path, sizeof(path), "%s/v%03d.mp4", dir, i);
		if (hubfs_catalog_put(w->cat, path, &e))
			w->failures++;
		if (hubfs_catalog_get(w->cat, path, &got) || got.meta.size != 2)
			w->failures++;
		n = 0;
		if (hubfs_catalog_list(w->cat, dir, t_count_fn, &n) || n != i + 1)
			w->failures++;
		if (i % 10 == 0) {
			snprintf(to, sizeof(to), "%s/r%03d.mp4", dir, i);
			if (hubfs_catalog_rename(w->cat, path, to))
				w->failures++;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct t_worker w[T_THREADS];
	pthread_t th[T_THREADS];
	struct hubfs_catalog *cat;
	uint64_t videos, bytes;

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	for (int i = 0; i < T_THREADS; i++) {
		w[i] = (struct t_worker){ .cat = cat, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, t_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < T_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(hubfs_catalog_totals(cat, &videos, &bytes), 0);
	assert_int_equal(videos, T_THREADS * T_PER_THREAD);
	assert_int_equal(bytes, 2 * T_THREADS * T_PER_THREAD);
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* ---- allocation torture ------------------------------------------------------------------ */

/*
 * SQLite's allocator, wrapped: allocation number tort_countdown (0-based) fails once. Every
 * catalog call then either succeeds or returns -ENOMEM having changed nothing.
 */
static sqlite3_mem_methods tort_orig;
static long tort_countdown = -1;
static bool tort_fired;

static bool tort_fail(void)
{
	if (tort_countdown < 0)
		return false;
	tort_countdown--;
	if (tort_countdown >= 0)
		return false;
	tort_fired = true; /* once: the countdown stays at -1 */
	return true;
}

static void *tort_malloc(int n)
{
	return tort_fail() ? NULL : tort_orig.xMalloc(n);
}

static void *tort_realloc(void *p, int n)
{
	return tort_fail() ? NULL : tort_orig.xRealloc(p, n);
}

static int tort_op(struct hubfs_catalog *cat, int step)
{
	struct hubfs_cat_entry e = t_video((uint64_t)step + 1);
	struct hubfs_cat_entry d = t_dir();
	uint64_t videos, bytes;
	char buf[64];
	int n = 0;

	switch (step) {
	case 0:
		return hubfs_catalog_put(cat, "a.mp4", &e);
	case 1:
		return hubfs_catalog_put(cat, "coll/sub/b.mkv", &e);
	case 2:
		return hubfs_catalog_put(cat, "coll/c.mp4", &e);
	case 3:
		return hubfs_catalog_rename(cat, "coll", "renamed");
	case 4:
		return hubfs_catalog_rename(cat, "a.mp4", "renamed/sub/b.mkv");
	case 5:
		return hubfs_catalog_list(cat, "renamed", t_count_fn, &n);
	case 6:
		return hubfs_catalog_walk(cat, t_count_fn, &n);
	case 7:
		return hubfs_catalog_delete(cat, "renamed/c.mp4");
	case 8:
		return hubfs_catalog_kv_set(cat, "id", "abc");
	case 9:
		return hubfs_catalog_kv_get(cat, "id", buf, sizeof(buf));
	case 10:
		return hubfs_catalog_reject_put(cat, "bad.mp4", 1, 2, "no video stream");
	case 11:
		return hubfs_catalog_reject_get(cat, "bad.mp4", 1, 2, buf, sizeof(buf));
	case 12:
		return hubfs_catalog_totals(cat, &videos, &bytes);
	case 13:
		return hubfs_catalog_put(cat, "empty", &d);
	case 14:
		return hubfs_catalog_rename(cat, "renamed/sub", "empty");
	case 15:
		return hubfs_catalog_reject_delete(cat, "bad.mp4");
	case 16:
		return hubfs_catalog_check(cat, buf, sizeof(buf));
	default:
		return 1; /* no more steps */
	}
}

/* The catalog's whole visible state, read with failures off. */
static void tort_state(struct hubfs_catalog *cat, struct t_dump *d)
{
	char buf[64];
	int rc;

	t_walk_paths(cat, d);
	rc = hubfs_catalog_kv_get(cat, "id", buf, sizeof(buf));
	d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "kv %d %s\n", rc,
				   rc ? "" : buf);
	rc = hubfs_catalog_reject_get(cat, "bad.mp4", 1, 2, buf, sizeof(buf));
	d->len += (size_t)snprintf(d->buf + d->len, sizeof(d->buf) - d->len, "reject %d\n", rc);
}

static void test_torture_nomem(void **state)
{
	static struct t_dump ref[20], now;
	sqlite3_mem_methods mem;
	struct hubfs_catalog *cat;
	int nsteps = 0;
	int in_open = 0, in_step = 0, benign = 0;
	int saved_level = hubfs_log_level;
	long n;
	int rc;
	int step;

	(void)state;
	assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &tort_orig), SQLITE_OK);
	mem = tort_orig;
	mem.xMalloc = tort_malloc;
	mem.xRealloc = tort_realloc;
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &mem), SQLITE_OK);
	assert_int_equal(sqlite3_initialize(), SQLITE_OK);
	hubfs_log_level = -1; /* thousands of expected failures */

	/* The reference run: the state after each step. */
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	tort_state(cat, &ref[0]);
	for (step = 0;; step++) {
		rc = tort_op(cat, step);
		if (rc == 1)
			break;
		assert_int_equal(rc, 0);
		tort_state(cat, &ref[step + 1]);
	}
	nsteps = step;
	hubfs_catalog_close(cat);

	for (n = 0;; n++) {
		tort_fired = false;
		tort_countdown = n;
		rc = hubfs_catalog_open(&cat, ":memory:");
		if (rc) {
			tort_countdown = -1;
			in_open++;
			assert_true(tort_fired);
			assert_int_equal(rc, -ENOMEM);
			assert_null(cat);
			continue;
		}
		for (step = 0; step < nsteps; step++) {
			rc = tort_op(cat, step);
			if (tort_fired)
				break;
			assert_int_equal(rc, 0);
		}
		tort_countdown = -1;
		if (!tort_fired) {
			hubfs_catalog_close(cat);
			break; /* n is past every allocation of the scenario */
		}
		/* The failed step either succeeded anyway (SQLite retried or the failure was
		 * benign) or changed nothing. */
		tort_state(cat, &now);
		if (rc) {
			in_step++;
			assert_int_equal(rc, -ENOMEM);
			assert_string_equal(now.buf, ref[step].buf);
		} else {
			benign++;
			assert_string_equal(now.buf, ref[step + 1].buf);
		}
		t_check(cat);
		/* ...and the catalog still works. */
		t_put_video(cat, "after/x.mp4", 1);
		assert_int_equal(t_kind(cat, "after/x.mp4"), 'f');
		hubfs_catalog_close(cat);
	}
	print_message(
		"torture: %ld allocations failed in turn: %d failed the open, %d a call, "
		"%d were absorbed\n",
		n, in_open, in_step, benign);
	assert_true(in_open > 0 && in_step > 0);

	hubfs_log_level = saved_level;
	assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &tort_orig), SQLITE_OK);
	assert_int_equal(sqlite3_initialize(), SQLITE_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_memory),
		cmocka_unit_test(test_put_get_delete),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_rename_file),
		cmocka_unit_test(test_rename_dir),
		cmocka_unit_test(test_totals),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_file_wal_persist),
		cmocka_unit_test(test_newer_schema),
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_error_map),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_torture_nomem),
	};

	/* Expected failures log; HUBFS_TEST_LOG=1 shows them. */
	if (!getenv("HUBFS_TEST_LOG"))
		hubfs_log_level = -1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
