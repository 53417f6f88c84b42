/*
 * test_notes.c — unit tests of the catalog's notes tables (src/catalog/notes.c).
 *
 * Covers save (creation with parent folders, version numbering, -EALREADY for unchanged
 * content), read, list order, rename of notes and folders (with the search index following
 * the title), delete keeping the history by path, re-creation at that path, restoring a
 * deleted note by its gid (history going on), versions and contributors, attributes,
 * sharing, tags, FTS5 query syntax and refusals, totals, user xattrs, folders, the
 * .versions tree, the upgrade of a version-2 catalog file, and an allocation torture loop
 * over the changing calls that checks the failed call changed nothing (the search index
 * included: hubfs_catalog_check runs FTS5's integrity check against the notes).
 *
 * Threads: cmocka's only. The torture test swaps SQLite's allocator and restores it.
 */
#include <errno.h>
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
#include "hubfs/catalog_notes.h"
#include "hubfs/log.h"

#include "catalog/catalog_int.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static int64_t t_clock = 1700000000000000000;

/* A version made by @author at the next tick, with an id derived from @tag. */
static struct hubfs_note_version t_ver(const char *author, unsigned int tag)
{
	struct hubfs_note_version v;

	memset(&v, 0, sizeof(v));
	snprintf(v.id, sizeof(v.id), "%064x", tag);
	snprintf(v.parents[0], sizeof(v.parents[0]), "%064x", tag ? tag - 1 : 0);
	snprintf(v.origin, sizeof(v.origin), "node1");
	snprintf(v.author, sizeof(v.author), "%s", author);
	v.time_ns = t_clock += 1000;
	return v;
}

static unsigned int t_tag;

/* Save @text at @path as a new note's gid "g<path>" when none is live there. */
static int t_save_as(struct hubfs_catalog *cat, const char *path, const char *text,
		     const char *author, struct hubfs_note_info *out)
{
	struct hubfs_note_version v = t_ver(author, ++t_tag);
	struct hubfs_note_info attrs;
	char gid[HUBFS_NOTE_GID_LEN + 1];

	memset(&attrs, 0, sizeof(attrs));
	attrs.mode = 0640;
	attrs.uid = 1000;
	attrs.gid_owner = 100;
	snprintf(gid, sizeof(gid), "%032x", t_tag);
	return hubfs_catalog_note_save(cat, path, text, strlen(text), &v, gid, &attrs, out);
}

static int t_save(struct hubfs_catalog *cat, const char *path, const char *text)
{
	return t_save_as(cat, path, text, "alice@node1", NULL);
}

static int t_delete(struct hubfs_catalog *cat, const char *path)
{
	struct hubfs_note_version v = t_ver("alice@node1", ++t_tag);

	return hubfs_catalog_note_delete(cat, path, &v);
}

static void t_check(struct hubfs_catalog *cat)
{
	char msg[256];

	assert_int_equal(hubfs_catalog_check(cat, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "ok");
}

/* Content of the live note at @path, as a string. */
static void t_read(struct hubfs_catalog *cat, const char *path, const char *want)
{
	void *buf;
	size_t len;

	assert_int_equal(hubfs_catalog_note_read(cat, path, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void t_version_read(struct hubfs_catalog *cat, const char *path, unsigned int seq,
			   const char *want)
{
	void *buf;
	size_t len;

	assert_int_equal(hubfs_catalog_note_version_read(cat, path, seq, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

struct t_buf {
	char s[8192];
	size_t len;
};

static void t_append(struct t_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void t_append(struct t_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, sizeof(b->s) - b->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(b->s) - b->len);
	b->len += (size_t)n;
}

static int t_list_fn(void *arg, const char *name, const struct hubfs_note_info *n,
		     const struct hubfs_note_dir *d)
{
	assert_true(!n != !d);
	t_append(arg, "%s%s,", name, d ? "/" : "");
	return 0;
}

static void t_list(struct hubfs_catalog *cat, const char *dir, const char *want)
{
	struct t_buf b = { .len = 0 };

	b.s[0] = '\0';
	assert_int_equal(hubfs_catalog_note_list(cat, dir, t_list_fn, &b), 0);
	assert_string_equal(b.s, want);
}

static int t_path_fn(void *arg, const char *path)
{
	t_append(arg, "%s,", path);
	return 0;
}

static int t_search_rc(struct hubfs_catalog *cat, const char *query, struct t_buf *b)
{
	b->len = 0;
	b->s[0] = '\0';
	return hubfs_catalog_note_search(cat, query, 0, t_path_fn, b);
}

static void t_search(struct hubfs_catalog *cat, const char *query, const char *want)
{
	struct t_buf b;

	assert_int_equal(t_search_rc(cat, query, &b), 0);
	assert_string_equal(b.s, want);
}

static int t_version_fn(void *arg, const struct hubfs_note_version *v)
{
	t_append(arg, "%u:%s:%llu%s,", v->seq, v->author, (unsigned long long)v->size,
		 v->deleted ? ":del" : "");
	return 0;
}

static void t_versions(struct hubfs_catalog *cat, const char *path, const char *want)
{
	struct t_buf b = { .len = 0 };

	b.s[0] = '\0';
	assert_int_equal(hubfs_catalog_note_versions(cat, path, t_version_fn, &b), 0);
	assert_string_equal(b.s, want);
}

static int t_hist_fn(void *arg, const char *name, bool is_note, bool has_children)
{
	t_append(arg, "%s%s%s,", name, is_note ? "" : "/", is_note && has_children ? "+/" : "");
	return 0;
}

static void t_history(struct hubfs_catalog *cat, const char *dir, const char *want)
{
	struct t_buf b = { .len = 0 };

	b.s[0] = '\0';
	assert_int_equal(hubfs_catalog_note_history_list(cat, dir, t_hist_fn, &b), 0);
	assert_string_equal(b.s, want);
}

/* A temp directory with a catalog file in it, removed with its WAL files. */
struct t_tmp {
	char dir[64];
	char db[128];
};

static void t_tmp_init(struct t_tmp *t)
{
	strcpy(t->dir, "/tmp/hubfs-notes-XXXXXX");
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

static struct hubfs_catalog *t_open(void)
{
	struct hubfs_catalog *cat;

	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	return cat;
}

/* ---- save, read, list -------------------------------------------------------------------- */

static void test_save_read(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_version v;
	struct hubfs_note_info n, got;
	void *buf;
	size_t len;

	(void)state;
	assert_int_equal(hubfs_catalog_note_get(cat, "todo.md", &n), -ENOENT);
	assert_int_equal(hubfs_catalog_note_read(cat, "todo.md", &buf, &len), -ENOENT);

	/* Creation: version 1, attributes from @attrs, times from the version. */
	v = t_ver("alice@node1", ++t_tag);
	{
		struct hubfs_note_info attrs = {
			.mode = 0600, .uid = 7, .gid_owner = 8, .shared = true
		};

		assert_int_equal(hubfs_catalog_note_save(cat, "todo.md", "milk\n", 5, &v,
							 "0123456789abcdef0123456789abcdef", &attrs,
							 &n),
				 0);
	}
	assert_int_equal(v.seq, 1);
	assert_int_equal(v.size, 5);
	assert_false(v.deleted);
	assert_int_equal(n.nversions, 1);
	assert_int_equal(n.size, 5);
	assert_string_equal(n.gid, "0123456789abcdef0123456789abcdef");
	assert_string_equal(n.head, v.id);
	assert_true(n.shared);
	assert_false(n.deleted);
	assert_int_equal(n.mode, 0600);
	assert_int_equal(n.uid, 7);
	assert_int_equal(n.gid_owner, 8);
	assert_int_equal(n.created_ns, v.time_ns);
	assert_int_equal(n.updated_ns, v.time_ns);
	assert_int_equal(n.mtime_ns, v.time_ns);
	assert_string_equal(n.tags, "");
	assert_int_equal(hubfs_catalog_note_get(cat, "todo.md", &got), 0);
	assert_memory_equal(&got, &n, sizeof(n));
	t_read(cat, "todo.md", "milk\n");

	/* Byte-identical content: refused, nothing written. */
	v = t_ver("bob@node2", ++t_tag);
	assert_int_equal(hubfs_catalog_note_save(cat, "todo.md", "milk\n", 5, &v, "other", NULL,
						 &got),
			 -EALREADY);
	assert_int_equal(hubfs_catalog_note_get(cat, "todo.md", &got), 0);
	assert_int_equal(got.nversions, 1);

	/* Same size, other bytes; then longer: versions 2 and 3, the note keeps its gid. */
	assert_int_equal(t_save(cat, "todo.md", "eggs\n"), 0);
	v = t_ver("bob@node2", ++t_tag);
	assert_int_equal(hubfs_catalog_note_save(cat, "todo.md", "eggs\nham\n", 9, &v, "ignored",
						 NULL, &got),
			 0);
	assert_int_equal(v.seq, 3);
	assert_int_equal(got.nversions, 3);
	assert_int_equal(got.id, n.id);
	assert_string_equal(got.gid, n.gid);
	assert_string_equal(got.head, v.id);
	assert_int_equal(got.created_ns, n.created_ns);
	assert_int_equal(got.updated_ns, v.time_ns);
	assert_true(got.shared);
	t_read(cat, "todo.md", "eggs\nham\n");
	t_versions(cat, "todo.md", "1:alice@node1:5,2:alice@node1:5,3:bob@node2:9,");
	t_version_read(cat, "todo.md", 1, "milk\n");
	t_version_read(cat, "todo.md", 2, "eggs\n");
	assert_int_equal(hubfs_catalog_note_version_read(cat, "todo.md", 4, &buf, &len), -ENOENT);
	assert_int_equal(hubfs_catalog_note_version_read(cat, "todo.md", 0, &buf, &len), -ENOENT);

	/* Empty content is a note too; unchanged emptiness is -EALREADY. */
	assert_int_equal(t_save(cat, "empty.md", ""), 0);
	t_read(cat, "empty.md", "");
	assert_int_equal(t_save(cat, "empty.md", ""), -EALREADY);
	assert_int_equal(t_save(cat, "empty.md", "x"), 0);
	assert_int_equal(t_save(cat, "empty.md", ""), 0);
	t_versions(cat, "empty.md", "1:alice@node1:0,2:alice@node1:1,3:alice@node1:0,");

	/* Binary-safe: a NUL inside the content is kept. */
	v = t_ver("alice@node1", ++t_tag);
	assert_int_equal(
		hubfs_catalog_note_save(cat, "nul.md", "a\0b", 3, &v, "nulgid", NULL, NULL), 0);
	assert_int_equal(hubfs_catalog_note_read(cat, "nul.md", &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "a\0b", 3);
	free(buf);
	v = t_ver("alice@node1", ++t_tag);
	assert_int_equal(hubfs_catalog_note_save(cat, "nul.md", "a\0c", 3, &v, "x", NULL, NULL), 0);

	/* A new note needs a gid, and gids are unique. */
	v = t_ver("alice@node1", ++t_tag);
	assert_int_equal(hubfs_catalog_note_save(cat, "new.md", "x", 1, &v, "", NULL, NULL),
			 -EINVAL);
	assert_int_equal(hubfs_catalog_note_save(cat, "new.md", "x", 1, &v, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(hubfs_catalog_note_save(cat, "new.md", "x", 1, &v, "nulgid", NULL, NULL),
			 -EEXIST);
	assert_int_equal(hubfs_catalog_note_get(cat, "new.md", &got), -ENOENT);

	/* Malformed paths. */
	assert_int_equal(t_save(cat, "", "x"), -EINVAL);
	assert_int_equal(t_save(cat, "/a", "x"), -EINVAL);
	assert_int_equal(t_save(cat, "a/", "x"), -EINVAL);
	assert_int_equal(t_save(cat, "a//b", "x"), -EINVAL);
	assert_int_equal(hubfs_catalog_note_get(cat, "", &got), -ENOENT);
	t_check(cat);
	hubfs_catalog_close(cat);
}

static void test_create_parents(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_dir d = { .mode = 0700, .uid = 1, .gid = 2, .mtime_ns = 3 };
	struct hubfs_note_info n;

	(void)state;
	assert_int_equal(t_save(cat, "a/b/c.md", "deep"), 0);
	memset(&d, 0xff, sizeof(d));
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "a", &d), 0);
	assert_int_equal(d.mode, 0755);
	assert_int_equal(d.uid, 1000); /* the note's owner */
	assert_int_equal(d.gid, 100);
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "a/b", &d), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "a/b/c.md", &n), 0);
	assert_int_equal(d.mtime_ns, n.created_ns);
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "", &d), 0);
	assert_int_equal(d.mode, 0755);

	/* A note is not a folder, a folder is not a note. */
	assert_int_equal(t_save(cat, "a/b/c.md/x.md", "no"), -ENOTDIR);
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "a/b/c.md", &d), -ENOENT);
	assert_int_equal(t_save(cat, "a/b", "no"), -EISDIR);
	assert_int_equal(t_save(cat, "a", "no"), -EISDIR);
	d = (struct hubfs_note_dir){ 0700, 1, 2, 3 };
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "a/b/c.md", &d), -EEXIST);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "a/b/c.md/sub", &d), -ENOTDIR);
	t_list(cat, "", "a/,");
	t_list(cat, "a/b", "c.md,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static int t_stop_after_two(void *arg, const char *name, const struct hubfs_note_info *n,
			    const struct hubfs_note_dir *d)
{
	int *count = arg;

	(void)name;
	(void)n;
	(void)d;
	return ++*count == 2 ? 77 : 0;
}

static void test_list(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_dir d = { .mode = 0750, .uid = 5, .gid = 6, .mtime_ns = 99 };
	int count = 0;

	(void)state;
	assert_int_equal(t_save(cat, "b.md", "1"), 0);
	assert_int_equal(t_save(cat, "B.md", "1"), 0);
	assert_int_equal(t_save(cat, "a.md", "1"), 0);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "a", &d), 0);
	assert_int_equal(t_save(cat, "a/inner.md", "1"), 0);
	assert_int_equal(t_save(cat, "ab.md", "1"), 0);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "empty", &d), 0);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "z/y/x", &d), 0); /* implied z, z/y */
	assert_int_equal(t_save(cat, "gone.md", "1"), 0);
	assert_int_equal(t_delete(cat, "gone.md"), 0);
	/* Bytewise name order, folders and notes merged; deleted notes are not listed. */
	t_list(cat, "", "B.md,a/,a.md,ab.md,b.md,empty/,z/,");
	t_list(cat, "a", "inner.md,");
	t_list(cat, "empty", "");
	t_list(cat, "z", "y/,");
	t_list(cat, "z/y", "x/,");
	assert_int_equal(hubfs_catalog_note_list(cat, "", t_stop_after_two, &count), 77);
	assert_int_equal(count, 2);
	assert_int_equal(hubfs_catalog_note_list(cat, "nope", t_list_fn, NULL), -ENOENT);
	assert_int_equal(hubfs_catalog_note_list(cat, "a.md", t_list_fn, NULL), -ENOTDIR);
	assert_int_equal(hubfs_catalog_note_list(cat, "gone.md", t_list_fn, NULL), -ENOENT);
	/* The statement was reset after the early stop. */
	assert_int_equal(t_save(cat, "c.md", "1"), 0);
	t_list(cat, "", "B.md,a/,a.md,ab.md,b.md,c.md,empty/,z/,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* Folders and notes of the whole tree, for the list callback's attributes. */
static int t_attr_fn(void *arg, const char *name, const struct hubfs_note_info *n,
		     const struct hubfs_note_dir *d)
{
	if (d)
		t_append(arg, "%s/ %o %u %u %lld,", name, (unsigned)d->mode, (unsigned)d->uid,
			 (unsigned)d->gid, (long long)d->mtime_ns);
	else
		t_append(arg, "%s %o %u %u %u,", name, (unsigned)n->mode, (unsigned)n->uid,
			 (unsigned)n->gid_owner, n->nversions);
	return 0;
}

static void test_list_attrs(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_dir d = { .mode = 0750, .uid = 5, .gid = 6, .mtime_ns = 99 };
	struct t_buf b = { .len = 0 };

	(void)state;
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "f", &d), 0);
	assert_int_equal(t_save(cat, "n.md", "1"), 0);
	assert_int_equal(t_save(cat, "n.md", "2"), 0);
	assert_int_equal(hubfs_catalog_note_list(cat, "", t_attr_fn, &b), 0);
	assert_string_equal(b.s, "f/ 750 5 6 99,n.md 640 1000 100 2,");
	/* A folder's attributes update in place. */
	d.mode = 0700;
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "f", &d), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "f", &d), 0);
	assert_int_equal(d.mode, 0700);
	assert_int_equal(d.uid, 5);
	hubfs_catalog_close(cat);
}

/* ---- rename ------------------------------------------------------------------------------ */

static void test_rename_note(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_info before, after;
	struct hubfs_note_dir d = { .mode = 0755 };

	(void)state;
	assert_int_equal(t_save(cat, "draft.md", "quarterly numbers"), 0);
	assert_int_equal(t_save(cat, "draft.md", "quarterly numbers, revised"), 0);
	assert_int_equal(t_save(cat, "other.md", "something else"), 0);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "dir", &d), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "draft.md", &before), 0);
	t_search(cat, "draft", "draft.md,");

	assert_int_equal(hubfs_catalog_note_rename(cat, "missing.md", "x.md"), -ENOENT);
	assert_int_equal(hubfs_catalog_note_rename(cat, "draft.md", "draft.md"), 0);
	assert_int_equal(hubfs_catalog_note_rename(cat, "draft.md", "other.md"), -EEXIST);
	assert_int_equal(hubfs_catalog_note_rename(cat, "draft.md", "dir"), -EEXIST);
	assert_int_equal(hubfs_catalog_note_rename(cat, "draft.md", "other.md/x"), -ENOTDIR);
	assert_int_equal(hubfs_catalog_note_rename(cat, "draft.md", ""), -EINVAL);

	/* Into a folder that does not exist yet: implied; identity and history follow. */
	assert_int_equal(hubfs_catalog_note_rename(cat, "draft.md", "reports/budget.md"), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "draft.md", &after), -ENOENT);
	assert_int_equal(hubfs_catalog_note_get(cat, "reports/budget.md", &after), 0);
	assert_int_equal(after.id, before.id);
	assert_string_equal(after.gid, before.gid);
	assert_int_equal(after.nversions, 2);
	t_versions(cat, "reports/budget.md", "1:alice@node1:17,2:alice@node1:26,");
	t_read(cat, "reports/budget.md", "quarterly numbers, revised");
	t_list(cat, "", "dir/,other.md,reports/,");
	t_list(cat, "reports", "budget.md,");

	/* The title follows: found by its new name, not by the old one. */
	t_search(cat, "budget", "reports/budget.md,");
	t_search(cat, "reports", "reports/budget.md,");
	t_search(cat, "draft", "");
	t_search(cat, "title:budget", "reports/budget.md,");
	t_search(cat, "revised", "reports/budget.md,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static void test_rename_folder(void **state)
{
	static const char *const paths[] = {
		"a/b/c.md", "a/%_.md", "a/x.md", "ab/y.md", "a%/z.md",
		"a_/w.md",  "a*/v.md", "a.md",   "a0.md",   "A/u.md",
	};
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_info n;
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		snprintf(text, sizeof(text), "note number%zu", i);
		assert_int_equal(t_save(cat, paths[i], text), 0);
	}
	assert_int_equal(t_save(cat, "a/gone.md", "deleted before the move"), 0);
	assert_int_equal(t_delete(cat, "a/gone.md"), 0);

	assert_int_equal(hubfs_catalog_note_rename(cat, "a", "a/b/inside"), -EINVAL);
	assert_int_equal(hubfs_catalog_note_rename(cat, "a", "ab"), -EEXIST);
	assert_int_equal(hubfs_catalog_note_rename(cat, "a", "a.md"), -EEXIST);
	assert_int_equal(hubfs_catalog_note_rename(cat, "a", "a.md/sub"), -ENOTDIR);
	assert_int_equal(hubfs_catalog_note_rename(cat, "a", "a"), 0);

	assert_int_equal(hubfs_catalog_note_rename(cat, "a", "new/n%_"), 0);
	t_list(cat, "", "A/,a%/,a*/,a.md,a0.md,a_/,ab/,new/,");
	t_list(cat, "new", "n%_/,");
	t_list(cat, "new/n%_", "%_.md,b/,x.md,");
	t_list(cat, "new/n%_/b", "c.md,");
	assert_int_equal(hubfs_catalog_note_list(cat, "a", t_list_fn, NULL), -ENOENT);
	/* Siblings sharing the prefix stay. */
	t_read(cat, "a0.md", "note number8");
	t_read(cat, "ab/y.md", "note number3");
	t_read(cat, "new/n%_/b/c.md", "note number0");
	/* Titles follow the folder. */
	t_search(cat, "title:new", "new/n%_/%_.md,new/n%_/x.md,new/n%_/b/c.md,"); /* bm25 */
	t_search(cat, "number0", "new/n%_/b/c.md,");
	/* The deleted note keeps the last path it had. */
	t_versions(cat, "a/gone.md", "1:alice@node1:23,2:alice@node1:0:del,");
	t_history(cat, "", "A/,a/,a%/,a*/,a.md,a0.md,a_/,ab/,new/,");
	t_history(cat, "a", "gone.md,");

	/* Multi-byte names: substr() would count characters. */
	assert_int_equal(t_save(cat, "\xc3\xa9/\xc3\xbc/\xc3\xb6.md", "umlaut"), 0);
	assert_int_equal(hubfs_catalog_note_rename(cat, "\xc3\xa9", "e"), 0);
	t_list(cat, "e/\xc3\xbc", "\xc3\xb6.md,");
	assert_int_equal(hubfs_catalog_note_rename(cat, "e", "\xe2\x82\xac\xe2\x82\xac"), 0);
	t_list(cat, "\xe2\x82\xac\xe2\x82\xac/\xc3\xbc", "\xc3\xb6.md,");
	assert_int_equal(
		hubfs_catalog_note_get(cat, "\xe2\x82\xac\xe2\x82\xac/\xc3\xbc/\xc3\xb6.md", &n),
		0);
	t_search(cat, "umlaut", "\xe2\x82\xac\xe2\x82\xac/\xc3\xbc/\xc3\xb6.md,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* ---- delete, history --------------------------------------------------------------------- */

static void test_delete_history(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_version v;
	struct hubfs_note_info first, second;
	uint64_t notes, shared;
	void *buf;
	size_t len;

	(void)state;
	assert_int_equal(t_save(cat, "todo.md", "one"), 0);
	assert_int_equal(t_save(cat, "todo.md", "one two"), 0);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "todo.md", "user.x", "1", 1), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "todo.md", &first), 0);
	t_search(cat, "two", "todo.md,");

	v = t_ver("bob@node2", ++t_tag);
	assert_int_equal(hubfs_catalog_note_delete(cat, "todo.md", &v), 0);
	assert_int_equal(v.seq, 3);
	assert_true(v.deleted);
	assert_int_equal(hubfs_catalog_note_delete(cat, "todo.md", &v), -ENOENT);
	assert_int_equal(hubfs_catalog_note_get(cat, "todo.md", &second), -ENOENT);
	assert_int_equal(hubfs_catalog_note_read(cat, "todo.md", &buf, &len), -ENOENT);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "todo.md", "user.x", NULL, 0), -ENOENT);
	t_search(cat, "two", "");
	t_list(cat, "", "");
	assert_int_equal(hubfs_catalog_note_totals(cat, &notes, &shared), 0);
	assert_int_equal(notes, 0);

	/* The history stays reachable by the path, the delete being a version. */
	t_versions(cat, "todo.md", "1:alice@node1:3,2:alice@node1:7,3:bob@node2:0:del,");
	t_version_read(cat, "todo.md", 2, "one two");
	t_version_read(cat, "todo.md", 3, "");
	t_history(cat, "", "todo.md,");

	/* A save at the free path makes a new note whose history starts at 1... */
	assert_int_equal(t_save_as(cat, "todo.md", "restored", "carol@node1", &second), 0);
	assert_int_not_equal(second.id, first.id);
	assert_string_not_equal(second.gid, first.gid);
	assert_int_equal(second.nversions, 1);
	/* ...and while it lives, history by path is its own. */
	t_versions(cat, "todo.md", "1:carol@node1:8,");
	t_version_read(cat, "todo.md", 1, "restored");
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "todo.md", "user.x", NULL, 0), -ENODATA);
	t_search(cat, "restored", "todo.md,");
	t_history(cat, "", "todo.md,");

	/* Deleted again: the most recently deleted note with that last path. */
	assert_int_equal(t_delete(cat, "todo.md"), 0);
	t_versions(cat, "todo.md", "1:carol@node1:8,2:alice@node1:0:del,");
	/* A note renamed away leaves nothing at the old path. */
	assert_int_equal(t_save(cat, "moved.md", "m"), 0);
	assert_int_equal(hubfs_catalog_note_rename(cat, "moved.md", "there.md"), 0);
	assert_int_equal(hubfs_catalog_note_versions(cat, "moved.md", t_version_fn, NULL), -ENOENT);
	assert_int_equal(hubfs_catalog_note_version_read(cat, "moved.md", 1, &buf, &len), -ENOENT);
	t_history(cat, "", "there.md,todo.md,");
	assert_int_equal(hubfs_catalog_note_versions(cat, "", t_version_fn, NULL), -ENOENT);
	t_check(cat);
	hubfs_catalog_close(cat);
}

static void test_restore(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_version v;
	struct hubfs_note_info first, gone, back;

	(void)state;
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "todo.md", &gone), -ENOENT);
	assert_int_equal(t_save(cat, "todo.md", "one"), 0);
	assert_int_equal(t_save(cat, "todo.md", "one two"), 0);
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "todo.md", "home"), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "todo.md", &first), 0);
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "todo.md", &gone), -ENOENT);
	assert_int_equal(t_delete(cat, "todo.md"), 0);

	/* The deleted note, found by the path it had: its head is the delete. */
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "todo.md", &gone), 0);
	assert_int_equal(gone.id, first.id);
	assert_string_equal(gone.gid, first.gid);
	assert_true(gone.deleted);
	assert_int_equal(gone.nversions, 3);
	assert_int_equal(gone.size, 0);
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "other.md", &gone), -ENOENT);
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "", &gone), -ENOENT);

	/* Saved with its gid: restored, the history goes on, searchable again with its tags. */
	v = t_ver("bob@node2", ++t_tag);
	strcpy(v.parents[0], gone.head);
	assert_int_equal(hubfs_catalog_note_save(cat, "todo.md", "one two", 7, &v, gone.gid, NULL,
						 &back),
			 0);
	assert_int_equal(v.seq, 4);
	assert_int_equal(back.id, first.id);
	assert_false(back.deleted);
	assert_int_equal(back.nversions, 4);
	assert_int_equal(back.created_ns, first.created_ns);
	assert_int_equal(back.mode, first.mode);
	assert_string_equal(back.tags, "home");
	t_versions(cat, "todo.md",
		   "1:alice@node1:3,2:alice@node1:7,3:alice@node1:0:del,4:bob@node2:7,");
	t_search(cat, "two", "todo.md,");
	t_search(cat, "tags:home", "todo.md,");
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "todo.md", &gone), -ENOENT);

	/* Restored at another path (a sync peer, or cp from .versions to a new name). */
	assert_int_equal(t_delete(cat, "todo.md"), 0);
	assert_int_equal(hubfs_catalog_note_get_deleted(cat, "todo.md", &gone), 0);
	v = t_ver("bob@node2", ++t_tag);
	assert_int_equal(hubfs_catalog_note_save(cat, "later/done.md", "done", 4, &v, gone.gid,
						 NULL, &back),
			 0);
	assert_int_equal(back.id, first.id);
	assert_int_equal(back.nversions, 6);
	assert_int_equal(hubfs_catalog_note_versions(cat, "todo.md", t_version_fn, NULL), -ENOENT);
	t_versions(cat, "later/done.md",
		   "1:alice@node1:3,2:alice@node1:7,3:alice@node1:0:del,4:bob@node2:7,"
		   "5:alice@node1:0:del,6:bob@node2:4,");
	t_search(cat, "done", "later/done.md,");
	t_search(cat, "two", "");
	t_history(cat, "", "later/,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static void test_contributors(void **state)
{
	struct hubfs_catalog *cat = t_open();
	char buf[64];

	(void)state;
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(t_save_as(cat, "n.md", "1", "alice@node1", NULL), 0);
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "alice@node1");
	assert_int_equal(t_save_as(cat, "n.md", "2", "bob@node2", NULL), 0);
	assert_int_equal(t_save_as(cat, "n.md", "3", "alice@node1", NULL), 0);
	assert_int_equal(t_save_as(cat, "n.md", "4", "carol@node1", NULL), 0);
	assert_int_equal(t_save_as(cat, "n.md", "5", "bob@node2", NULL), 0);
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "alice@node1,bob@node2,carol@node1");
	/* Exactly fitting, one byte short. */
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, 34), 0);
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, 33), -ERANGE);
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, 0), -ERANGE);
	/* Of a deleted note, by its last path. */
	assert_int_equal(t_delete(cat, "n.md"), 0);
	assert_int_equal(hubfs_catalog_note_contributors(cat, "n.md", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "alice@node1,bob@node2,carol@node1");
	hubfs_catalog_close(cat);
}

/* ---- attributes, sharing, tags ----------------------------------------------------------- */

static void test_attrs_shared_tags(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_info n;
	uint64_t notes = 9, shared = 9;
	char tags[HUBFS_NOTE_TAGS_MAX + 1];

	(void)state;
	assert_int_equal(hubfs_catalog_note_totals(cat, &notes, &shared), 0);
	assert_int_equal(notes, 0);
	assert_int_equal(shared, 0);
	assert_int_equal(t_save(cat, "plan.md", "the plan"), 0);
	assert_int_equal(t_save(cat, "dir/other.md", "other text"), 0);
	assert_int_equal(t_save(cat, "third.md", "third"), 0);

	/* Attributes: each field alone or all. */
	assert_int_equal(hubfs_catalog_note_set_attrs(cat, "plan.md", 0600, (uint32_t)-1,
						      (uint32_t)-1, INT64_MIN),
			 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "plan.md", &n), 0);
	assert_int_equal(n.mode, 0600);
	assert_int_equal(n.uid, 1000);
	assert_int_equal(n.gid_owner, 100);
	assert_int_equal(hubfs_catalog_note_set_attrs(cat, "plan.md", (uint32_t)-1, 0, 0, 12345),
			 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "plan.md", &n), 0);
	assert_int_equal(n.mode, 0600);
	assert_int_equal(n.uid, 0);
	assert_int_equal(n.gid_owner, 0);
	assert_int_equal(n.mtime_ns, 12345);
	assert_int_not_equal(n.updated_ns, 12345);
	assert_int_equal(n.nversions, 1); /* attributes are not versions */
	assert_int_equal(hubfs_catalog_note_set_attrs(cat, "nope.md", 0600, 0, 0, 0), -ENOENT);
	assert_int_equal(hubfs_catalog_note_set_attrs(cat, "dir", 0600, 0, 0, 0), -ENOENT);

	/* Sharing, counted by totals. */
	assert_int_equal(hubfs_catalog_note_set_shared(cat, "plan.md", true), 0);
	assert_int_equal(hubfs_catalog_note_set_shared(cat, "dir/other.md", true), 0);
	assert_int_equal(hubfs_catalog_note_set_shared(cat, "dir/other.md", true), 0);
	assert_int_equal(hubfs_catalog_note_set_shared(cat, "nope.md", true), -ENOENT);
	assert_int_equal(hubfs_catalog_note_get(cat, "plan.md", &n), 0);
	assert_true(n.shared);
	assert_int_equal(hubfs_catalog_note_totals(cat, &notes, &shared), 0);
	assert_int_equal(notes, 3);
	assert_int_equal(shared, 2);
	assert_int_equal(hubfs_catalog_note_set_shared(cat, "plan.md", false), 0);
	assert_int_equal(t_delete(cat, "dir/other.md"), 0);
	assert_int_equal(hubfs_catalog_note_totals(cat, &notes, &shared), 0);
	assert_int_equal(notes, 2);
	assert_int_equal(shared, 0);

	/* Tags: stored, searchable by column, re-indexed on change. */
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "plan.md", "home,work"), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "plan.md", &n), 0);
	assert_string_equal(n.tags, "home,work");
	t_search(cat, "tags:work", "plan.md,");
	t_search(cat, "tags:home", "plan.md,");
	t_search(cat, "work", "plan.md,");
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "plan.md", "urgent"), 0);
	t_search(cat, "tags:work", "");
	t_search(cat, "tags:urgent", "plan.md,");
	/* A new version keeps the tags indexed. */
	assert_int_equal(t_save(cat, "plan.md", "the new plan"), 0);
	t_search(cat, "tags:urgent", "plan.md,");
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "plan.md", ""), 0);
	t_search(cat, "tags:urgent", "");
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "nope.md", "a"), -ENOENT);
	memset(tags, 'a', HUBFS_NOTE_TAGS_MAX);
	tags[HUBFS_NOTE_TAGS_MAX] = '\0';
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "plan.md", tags), -E2BIG);
	tags[HUBFS_NOTE_TAGS_MAX - 1] = '\0';
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "plan.md", tags), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "plan.md", &n), 0);
	assert_int_equal(strlen(n.tags), HUBFS_NOTE_TAGS_MAX - 1);
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* ---- search ------------------------------------------------------------------------------ */

static void test_search(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct t_buf b;

	(void)state;
	assert_int_equal(t_save(cat, "budget.md", "numbers for the quarter"), 0);
	assert_int_equal(t_save(cat, "misc.md", "the budget is somewhere else"), 0);
	assert_int_equal(t_save(cat, "work/plan.md", "running plans, exact phrase here"), 0);
	assert_int_equal(t_save(cat, "notes.md", "phrase exact, in the other order"), 0);
	assert_int_equal(t_save(cat, "release.md", "shipping v2.1 soon; see sync-conflict"), 0);
	assert_int_equal(t_save(cat, "alpha.md", "alpha only"), 0);
	assert_int_equal(t_save(cat, "beta.md", "beta only"), 0);
	assert_int_equal(t_save(cat, "gone.md", "budgetary alpha"), 0);
	assert_int_equal(t_delete(cat, "gone.md"), 0);

	/* A hit in the title ranks above one in the text; deleted notes never show. */
	t_search(cat, "budget", "budget.md,misc.md,");
	t_search(cat, "budg*", "budget.md,misc.md,");
	t_search(cat, "alpha OR beta", "alpha.md,beta.md,");
	t_search(cat, "alpha AND beta", "");
	t_search(cat, "\"exact phrase\"", "work/plan.md,");
	t_search(cat, "exact phrase", "notes.md,work/plan.md,");
	t_search(cat, "title:plan", "work/plan.md,");
	t_search(cat, "content:plan", "work/plan.md,"); /* porter: plans -> plan */
	t_search(cat, "title:work", "work/plan.md,");
	t_search(cat, "content:work", "");
	t_search(cat, "{title content}:misc", "misc.md,");
	t_search(cat, "NOTHINGMATCHES", "");
	/* Unicode folding (unicode61): case and diacritics. */
	assert_int_equal(t_save(cat, "cafe.md", "Caf\xc3\xa9 Cr\xc3\xa8me"), 0);
	t_search(cat, "cafe", "cafe.md,");
	t_search(cat, "CREME", "cafe.md,");

	/* What FTS5 refuses is -EINVAL; quoted, the same words are fine. */
	assert_int_equal(t_search_rc(cat, "v2.1", &b), -EINVAL);
	assert_int_equal(t_search_rc(cat, "sync-conflict", &b), -EINVAL);
	assert_int_equal(t_search_rc(cat, "\"unterminated", &b), -EINVAL);
	assert_int_equal(t_search_rc(cat, "nosuchcolumn:x", &b), -EINVAL);
	assert_int_equal(t_search_rc(cat, "AND", &b), -EINVAL);
	assert_int_equal(t_search_rc(cat, "(", &b), -EINVAL);
	t_search(cat, "\"v2.1\"", "release.md,");
	t_search(cat, "\"sync-conflict\"", "release.md,");
	t_search(cat, "\"v2.1\" \"sync-conflict\"", "release.md,");

	/* LIMIT, and an early stop by the callback. */
	b.len = 0;
	b.s[0] = '\0';
	assert_int_equal(hubfs_catalog_note_search(cat, "only", 1, t_path_fn, &b), 0);
	assert_true(!strcmp(b.s, "alpha.md,") || !strcmp(b.s, "beta.md,"));
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* ---- xattrs ------------------------------------------------------------------------------ */

static void test_xattrs(void **state)
{
	struct hubfs_catalog *cat = t_open();
	static char big[65537];
	char buf[64];

	(void)state;
	assert_int_equal(t_save(cat, "n.md", "x"), 0);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", buf, sizeof(buf)), 0);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", NULL, 0), 0);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.a", buf, sizeof(buf)),
			 -ENODATA);

	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.b", "bee", 3), 0);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.a", "ay", 2), 0);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.empty", NULL, 0), 0);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.bin", "\0\1\2", 3), 0);
	/* Replace. */
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.b", "bumblebee", 9), 0);

	/* get: size query, exact, short. */
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.b", NULL, 0), 9);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.b", buf, 9), 9);
	assert_memory_equal(buf, "bumblebee", 9);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.b", buf, 8), -ERANGE);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.empty", buf, sizeof(buf)),
			 0);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.empty", NULL, 0), 0);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.bin", buf, sizeof(buf)),
			 3);
	assert_memory_equal(buf, "\0\1\2", 3);

	/* list: names in order, NUL-separated; size query; short. */
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", NULL, 0), 34);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", buf, sizeof(buf)), 34);
	assert_memory_equal(buf, "user.a\0user.b\0user.bin\0user.empty\0", 34);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", buf, 34), 34);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", buf, 33), -ERANGE);

	/* remove. */
	assert_int_equal(hubfs_catalog_note_xattr_remove(cat, "n.md", "user.a"), 0);
	assert_int_equal(hubfs_catalog_note_xattr_remove(cat, "n.md", "user.a"), -ENODATA);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.a", NULL, 0), -ENODATA);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "n.md", NULL, 0), 27);

	/* Names and values past the kernel's limits; no note. */
	memset(big, 'n', sizeof(big));
	big[256] = '\0';
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", big, "v", 1), -ERANGE);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "", "v", 1), -EINVAL);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.big", big, 65537), -E2BIG);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "n.md", "user.big", big, 65536), 0);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "n.md", "user.big", NULL, 0), 65536);
	assert_int_equal(hubfs_catalog_note_xattr_set(cat, "none.md", "user.a", "v", 1), -ENOENT);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "none.md", "user.a", NULL, 0), -ENOENT);
	assert_int_equal(hubfs_catalog_note_xattr_list(cat, "none.md", NULL, 0), -ENOENT);
	assert_int_equal(hubfs_catalog_note_xattr_remove(cat, "none.md", "user.a"), -ENOENT);

	/* They follow a rename. */
	assert_int_equal(hubfs_catalog_note_rename(cat, "n.md", "m.md"), 0);
	assert_int_equal(hubfs_catalog_note_xattr_get(cat, "m.md", "user.b", NULL, 0), 9);
	t_check(cat);
	hubfs_catalog_close(cat);
}

/* ---- folders, .versions tree ------------------------------------------------------------- */

static void test_dirs(void **state)
{
	struct hubfs_catalog *cat = t_open();
	struct hubfs_note_dir d = { .mode = 0750, .uid = 1, .gid = 2, .mtime_ns = 3 };

	(void)state;
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "f", &d), -ENOENT);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "f", &d), 0);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "f/g", &d), 0);
	assert_int_equal(hubfs_catalog_note_dir_put(cat, "", &d), -EINVAL);
	assert_int_equal(t_save(cat, "f/g/n.md", "x"), 0);

	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "f"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "f/g"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "f/g/n.md"), -ENOTDIR);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "nope"), -ENOENT);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, ""), -EINVAL);
	/* A deleted note does not keep its folder. */
	assert_int_equal(t_delete(cat, "f/g/n.md"), 0);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "f"), -ENOTEMPTY);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "f/g"), 0);
	assert_int_equal(hubfs_catalog_note_dir_delete(cat, "f"), 0);
	assert_int_equal(hubfs_catalog_note_dir_get(cat, "f", &d), -ENOENT);
	t_list(cat, "", "");
	/* Its history is still in the .versions tree. */
	t_history(cat, "", "f/,");
	t_history(cat, "f", "g/,");
	t_history(cat, "f/g", "n.md,");
	t_check(cat);
	hubfs_catalog_close(cat);
}

static int t_stop_hist(void *arg, const char *name, bool is_note, bool has_children)
{
	int *count = arg;

	(void)name;
	(void)is_note;
	(void)has_children;
	return ++*count == 2 ? 77 : 0;
}

static void test_history_list(void **state)
{
	struct hubfs_catalog *cat = t_open();
	int n = 0;

	(void)state;
	t_history(cat, "", "");
	assert_int_equal(t_save(cat, "a.md", "1"), 0);
	assert_int_equal(t_save(cat, "a-b.md", "1"), 0);
	assert_int_equal(t_save(cat, "a/x.md", "1"), 0);
	assert_int_equal(t_save(cat, "a/y/z.md", "1"), 0);
	assert_int_equal(t_save(cat, "b", "a note named like a folder"), 0);
	assert_int_equal(t_delete(cat, "b"), 0);
	assert_int_equal(t_save(cat, "b/c.md", "1"), 0); /* b is now a folder, and was a note */
	assert_int_equal(t_save(cat, "\xc3\xa9t\xc3\xa9/x.md", "1"), 0);

	/* Bytewise name order although "a-b.md" < "a.md" < "a/..." as paths. */
	t_history(cat, "", "a/,a-b.md,a.md,b+/,\xc3\xa9t\xc3\xa9/,");
	t_history(cat, "a", "x.md,y/,");
	t_history(cat, "a/y", "z.md,");
	t_history(cat, "b", "c.md,");
	t_history(cat, "\xc3\xa9t\xc3\xa9", "x.md,");
	assert_int_equal(hubfs_catalog_note_history_list(cat, "nope", t_hist_fn, NULL), -ENOENT);
	assert_int_equal(hubfs_catalog_note_history_list(cat, "a.md", t_hist_fn, NULL), -ENOENT);
	assert_int_equal(hubfs_catalog_note_history_list(cat, "", t_stop_hist, &n), 77);
	hubfs_catalog_close(cat);
}

/* ---- files, upgrade ---------------------------------------------------------------------- */

static void test_upgrade_from_v2(void **state)
{
	struct hubfs_catalog *cat;
	struct hubfs_cat_entry e;
	struct hubfs_note_info n;
	struct t_tmp t;
	sqlite3 *db;
	int version;

	(void)state;
	assert_true(HUBFS_CATALOG_SCHEMA >= 3);
	t_tmp_init(&t);

	/* A catalog file as a version-2 build left it, with a video and a setting. */
	assert_int_equal(sqlite3_open(t.db, &db), SQLITE_OK);
	assert_int_equal(cat_schema_migrate(db, cat_migrations, 2, &version), 0);
	assert_int_equal(version, 2);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO videos (path, parent, name, is_dir)"
				      " VALUES ('coll', '', 'coll', 1);"
				      "INSERT INTO videos (path, parent, name, is_dir, size, mode)"
				      " VALUES ('coll/old.mp4', 'coll', 'old.mp4', 0, 42, 420);"
				      "INSERT INTO kv (key, value) VALUES ('instance', 'i-1')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	/* Opened by this build: upgraded, the videos kept, notes usable. */
	assert_int_equal(hubfs_catalog_open(&cat, t.db), 0);
	assert_int_equal(hubfs_catalog_schema_version(cat), HUBFS_CATALOG_SCHEMA);
	assert_int_equal(hubfs_catalog_get(cat, "coll/old.mp4", &e), 0);
	assert_int_equal(e.meta.size, 42);
	assert_int_equal(e.meta.mode, 0644);
	assert_int_equal(t_save(cat, "w/first.md", "persisted words"), 0);
	assert_int_equal(hubfs_catalog_note_set_tags(cat, "w/first.md", "kept"), 0);
	t_check(cat);
	hubfs_catalog_close(cat);

	/* And it all persists. */
	assert_int_equal(hubfs_catalog_open(&cat, t.db), 0);
	assert_int_equal(hubfs_catalog_get(cat, "coll/old.mp4", &e), 0);
	assert_int_equal(hubfs_catalog_note_get(cat, "w/first.md", &n), 0);
	assert_string_equal(n.tags, "kept");
	t_read(cat, "w/first.md", "persisted words");
	t_search(cat, "persisted", "w/first.md,");
	t_search(cat, "tags:kept", "w/first.md,");
	t_list(cat, "", "w/,");
	t_check(cat);
	hubfs_catalog_close(cat);
	t_tmp_release(&t);
}

/* The check notices an index that does not match the notes. */
static void test_check_index(void **state)
{
	struct hubfs_catalog *cat = t_open();
	char msg[256];

	(void)state;
	assert_int_equal(t_save(cat, "n.md", "indexed words"), 0);
	t_check(cat);
	/* Change the title behind the index's back. */
	assert_int_equal(sqlite3_exec(cat_test_db(cat),
				      "UPDATE notes SET path = 'm.md', last_path = 'm.md',"
				      " name = 'm.md' WHERE path = 'n.md'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(hubfs_catalog_check(cat, msg, sizeof(msg)), -EIO);
	assert_non_null(strstr(msg, "search index"));
	hubfs_catalog_close(cat);

	/* A note outside any folder. */
	cat = t_open();
	assert_int_equal(t_save(cat, "f/n.md", "x"), 0);
	assert_int_equal(sqlite3_exec(cat_test_db(cat), "DELETE FROM note_dirs", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(hubfs_catalog_check(cat, msg, sizeof(msg)), -EIO);
	assert_non_null(strstr(msg, "f/n.md"));
	hubfs_catalog_close(cat);
}

/* ---- allocation torture ------------------------------------------------------------------ */

/* SQLite's allocator, wrapped: allocation number tort_countdown (0-based) fails once. */
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
	tort_fired = true;
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

static int t_count_fn(void *arg, const char *name, const struct hubfs_note_info *n,
		      const struct hubfs_note_dir *d)
{
	(void)name;
	(void)n;
	(void)d;
	++*(int *)arg;
	return 0;
}

static int t_count_path_fn(void *arg, const char *path)
{
	(void)path;
	++*(int *)arg;
	return 0;
}

/* Step @step of the scenario; 1 when there are no more. Versions use fixed ids and times
 * so that every run writes the same rows. */
static int tort_op(struct hubfs_catalog *cat, int step)
{
	struct hubfs_note_version v;
	struct hubfs_note_info attrs = { .mode = 0644, .uid = 1, .gid_owner = 2 };
	struct hubfs_note_dir d = { .mode = 0700, .uid = 1, .gid = 2, .mtime_ns = 3 };
	struct hubfs_note_info n;
	uint64_t notes, shared;
	char buf[256];
	void *content;
	size_t len;
	int count = 0;
	int rc;

	memset(&v, 0, sizeof(v));
	snprintf(v.id, sizeof(v.id), "%064d", step);
	strcpy(v.origin, "node1");
	strcpy(v.author, "alice@node1");
	v.time_ns = 1000 + step;
	switch (step) {
	case 0:
		return hubfs_catalog_note_save(cat, "todo.md", "buy milk", 8, &v, "g0", &attrs, &n);
	case 1:
		return hubfs_catalog_note_save(cat, "todo.md", "buy milk and eggs", 17, &v, "gx",
					       &attrs, &n);
	case 2:
		return hubfs_catalog_note_save(cat, "work/q/plan.md", "the quarterly budget", 20,
					       &v, "g2", &attrs, NULL);
	case 3:
		return hubfs_catalog_note_save(cat, "work/other.md", "more budget talk", 16, &v,
					       "g3", &attrs, NULL);
	case 4:
		return hubfs_catalog_note_rename(cat, "todo.md", "work/todo.md");
	case 5:
		return hubfs_catalog_note_rename(cat, "work", "job");
	case 6:
		return hubfs_catalog_note_set_tags(cat, "job/q/plan.md", "money,work");
	case 7:
		return hubfs_catalog_note_xattr_set(cat, "job/todo.md", "user.color", "red", 3);
	case 8:
		return hubfs_catalog_note_set_shared(cat, "job/todo.md", true);
	case 9:
		return hubfs_catalog_note_set_attrs(cat, "job/todo.md", 0600, (uint32_t)-1,
						    (uint32_t)-1, 77);
	case 10:
		return hubfs_catalog_note_delete(cat, "job/todo.md", &v);
	case 11:
		return hubfs_catalog_note_save(cat, "job/todo.md", "again", 5, &v, "g11", &attrs,
					       NULL);
	case 12:
		return hubfs_catalog_note_dir_put(cat, "empty/sub", &d);
	case 13:
		return hubfs_catalog_note_dir_delete(cat, "empty/sub");
	case 14:
		rc = hubfs_catalog_note_search(cat, "budg* OR tags:money", 10, t_count_path_fn,
					       &count);
		return rc ? rc : count == 2 ? 0 : -EPROTO;
	case 15:
		rc = hubfs_catalog_note_list(cat, "job", t_count_fn, &count);
		return rc ? rc : count == 3 ? 0 : -EPROTO;
	case 16:
		rc = hubfs_catalog_note_read(cat, "job/q/plan.md", &content, &len);
		if (!rc)
			free(content);
		return rc;
	case 17:
		return hubfs_catalog_note_contributors(cat, "job/todo.md", buf, sizeof(buf));
	case 18:
		return hubfs_catalog_note_totals(cat, &notes, &shared);
	case 19:
		rc = hubfs_catalog_note_xattr_remove(cat, "job/q/plan.md", "user.none");
		return rc == -ENODATA ? 0 : rc ? rc : -EPROTO;
	case 20:
		return hubfs_catalog_note_rename(cat, "job/q", "q2");
	case 21:
		return hubfs_catalog_note_delete(cat, "job/todo.md", &v);
	case 22: /* the first todo.md, deleted in step 10, restored elsewhere */
		return hubfs_catalog_note_save(cat, "restored.md", "milk again", 10, &v, "g0",
					       &attrs, NULL);
	default:
		return 1;
	}
}

/* Every notes table, read with failures off, as text. */
static void tort_state(struct hubfs_catalog *cat, struct t_buf *b)
{
	static const char *const sql[] = {
		"SELECT group_concat(x, ';') FROM (SELECT gid || ' ' || coalesce(path, '-') || ' '"
		" || last_path || ' ' || parent || ' ' || name || ' ' || head || ' ' || nversions"
		" || ' ' || size || ' ' || deleted || ' ' || shared || ' ' || tags || ' '"
		" || mtime_ns || ' ' || mode AS x FROM notes ORDER BY id)",
		"SELECT group_concat(x, ';') FROM (SELECT note || ' ' || seq || ' ' || id || ' '"
		" || hex(content) AS x FROM note_versions ORDER BY note, seq)",
		"SELECT group_concat(path || ' ' || mode, ';') FROM (SELECT * FROM note_dirs"
		" ORDER BY path)",
		"SELECT group_concat(note || ' ' || name || ' ' || hex(value), ';') FROM"
		" (SELECT * FROM note_xattrs ORDER BY note, name)",
		"SELECT group_concat(rowid, ';') FROM (SELECT rowid FROM notes_fts"
		" WHERE notes_fts MATCH 'budget OR milk OR eggs OR again OR job OR work OR q2"
		" OR restored'"
		" ORDER BY rowid)",
	};
	sqlite3_stmt *st;
	const unsigned char *text;

	b->len = 0;
	b->s[0] = '\0';
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		assert_int_equal(sqlite3_prepare_v2(cat_test_db(cat), sql[i], -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		text = sqlite3_column_text(st, 0);
		t_append(b, "%s\n", text ? (const char *)text : "");
		sqlite3_finalize(st);
	}
}

static void test_torture_nomem(void **state)
{
	static struct t_buf ref[32], now;
	sqlite3_mem_methods mem;
	struct hubfs_catalog *cat;
	int nsteps, step;
	int in_prepare = 0, in_step = 0, benign = 0;
	int saved_level = hubfs_log_level;
	long n;
	int rc;

	(void)state;
	assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &tort_orig), SQLITE_OK);
	mem = tort_orig;
	mem.xMalloc = tort_malloc;
	mem.xRealloc = tort_realloc;
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &mem), SQLITE_OK);
	assert_int_equal(sqlite3_initialize(), SQLITE_OK);
	hubfs_log_level = -1;

	/* The reference run: the state after each step. */
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	tort_state(cat, &ref[0]);
	for (step = 0;; step++) {
		rc = tort_op(cat, step);
		if (rc == 1)
			break;
		assert_int_equal(rc, 0);
		assert_true(step + 1 < 32);
		tort_state(cat, &ref[step + 1]);
	}
	nsteps = step;
	t_check(cat);
	hubfs_catalog_close(cat);

	/* The statements are prepared on the first notes call: a failure there is clean too
	 * (sampled: every allocation would take minutes under the sanitizers). */
	for (n = 0;; n += 97) {
		uint64_t notes, shared;

		assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
		tort_fired = false;
		tort_countdown = n;
		rc = hubfs_catalog_note_totals(cat, &notes, &shared);
		tort_countdown = -1;
		if (!tort_fired) {
			assert_int_equal(rc, 0);
			hubfs_catalog_close(cat);
			break;
		}
		in_prepare++;
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(hubfs_catalog_note_totals(cat, &notes, &shared), 0);
		hubfs_catalog_close(cat);
	}

	/* Then every allocation of the scenario, on a catalog whose statements are ready. */
	for (n = 0;; n++) {
		uint64_t notes, shared;

		tort_fired = false;
		tort_countdown = -1;
		assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
		assert_int_equal(hubfs_catalog_note_totals(cat, &notes, &shared), 0);
		tort_countdown = n;
		for (step = 0; step < nsteps; step++) {
			rc = tort_op(cat, step);
			if (tort_fired)
				break;
			assert_int_equal(rc, 0);
		}
		tort_countdown = -1;
		if (!tort_fired) {
			hubfs_catalog_close(cat);
			break;
		}
		/* The failed step either succeeded anyway or changed nothing, index included. */
		tort_state(cat, &now);
		if (rc) {
			in_step++;
			if (rc != -ENOMEM)
				fail_msg("allocation %ld: step %d returned %d", n, step, rc);
			assert_string_equal(now.s, ref[step].s);
		} else {
			benign++;
			assert_string_equal(now.s, ref[step + 1].s);
		}
		t_check(cat);
		/* ...and the catalog still works. */
		assert_int_equal(t_save(cat, "after/x.md", "after words"), 0);
		t_search(cat, "after", "after/x.md,");
		hubfs_catalog_close(cat);
	}
	print_message(
		"torture: %d failed the first call's prepare; %ld allocations failed in "
		"turn: %d failed a call, %d were absorbed\n",
		in_prepare, n, in_step, benign);
	assert_true(in_prepare > 0 && in_step > 0);

	hubfs_log_level = saved_level;
	assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &tort_orig), SQLITE_OK);
	assert_int_equal(sqlite3_initialize(), SQLITE_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_read),
		cmocka_unit_test(test_create_parents),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_attrs),
		cmocka_unit_test(test_rename_note),
		cmocka_unit_test(test_rename_folder),
		cmocka_unit_test(test_delete_history),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_contributors),
		cmocka_unit_test(test_attrs_shared_tags),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_xattrs),
		cmocka_unit_test(test_dirs),
		cmocka_unit_test(test_history_list),
		cmocka_unit_test(test_upgrade_from_v2),
		cmocka_unit_test(test_check_index),
		cmocka_unit_test(test_torture_nomem),
	};

	/* Expected failures log; HUBFS_TEST_LOG=1 shows them. */
	if (!getenv("HUBFS_TEST_LOG"))
		hubfs_log_level = -1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
