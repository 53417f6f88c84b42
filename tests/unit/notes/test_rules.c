/*
 * test_rules.c — unit tests for src/notes/rules.c: editor scratch names (each tool's pattern
 * and the ordinary names that must stay notes), reserved names, the note name check, tag
 * normalisation and the quoting of search queries, which is checked against SQLite's own FTS5
 * parser on an in-memory index shaped like the catalog's.
 *
 * Owns an in-memory SQLite connection per quoting test; single-threaded; no locks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "hubfs/names.h"
#include "hubfs/notes.h"

static void test_scratch_vim(void **state)
{
	(void)state;
	/* Swap files ".NAME.sw?" */
	assert_true(hubfs_note_is_scratch(".todo.md.swp"));
	assert_true(hubfs_note_is_scratch(".todo.md.swo"));
	assert_true(hubfs_note_is_scratch(".todo.md.swn"));
	assert_true(hubfs_note_is_scratch(".x.swa"));
	assert_true(hubfs_note_is_scratch("..plan.swp"));   /* swap of ".plan" */
	assert_false(hubfs_note_is_scratch("todo.md.swp")); /* not hidden */
	assert_false(hubfs_note_is_scratch(".swp"));
	assert_false(hubfs_note_is_scratch("..swp")); /* no NAME */
	assert_false(hubfs_note_is_scratch(".todo.sw"));
	assert_false(hubfs_note_is_scratch(".todo.swpx"));
	assert_false(hubfs_note_is_scratch(".todo.sw1"));
	assert_false(hubfs_note_is_scratch(".todo.swP"));

	/* The write probe: 4913 + 123k */
	assert_true(hubfs_note_is_scratch("4913"));
	assert_true(hubfs_note_is_scratch("5036"));
	assert_true(hubfs_note_is_scratch("5159"));
	assert_true(hubfs_note_is_scratch("127913")); /* 4913 + 123 * 1000 */
	assert_false(hubfs_note_is_scratch("4914"));
	assert_false(hubfs_note_is_scratch("5035"));
	assert_false(hubfs_note_is_scratch("4790")); /* 4913 - 123 */
	assert_false(hubfs_note_is_scratch("2024"));
	assert_false(hubfs_note_is_scratch("04913"));
	assert_false(hubfs_note_is_scratch("4913.md"));
	assert_false(hubfs_note_is_scratch("4913a"));
	assert_false(hubfs_note_is_scratch("99999999999999999999999")); /* no overflow */
}

static void test_scratch_other_tools(void **state)
{
	(void)state;
	/* Backups */
	assert_true(hubfs_note_is_scratch("todo.md~"));
	assert_true(hubfs_note_is_scratch(".plan~"));
	assert_false(hubfs_note_is_scratch("notes~draft"));
	assert_false(hubfs_note_is_scratch("~todo.md"));

	/* emacs */
	assert_true(hubfs_note_is_scratch(".#todo.md"));
	assert_true(hubfs_note_is_scratch("#todo.md#"));
	assert_true(hubfs_note_is_scratch("##"));
	assert_false(hubfs_note_is_scratch("#"));
	assert_false(hubfs_note_is_scratch("#todo.md"));
	assert_false(hubfs_note_is_scratch("todo#1.md"));
	assert_false(hubfs_note_is_scratch("x.#y"));

	/* GIO / gedit */
	assert_true(hubfs_note_is_scratch(".goutputstream-AB12CD"));
	assert_false(hubfs_note_is_scratch("goutputstream-AB12CD"));
	assert_false(hubfs_note_is_scratch(".goutputstream"));

	/* sed -i */
	assert_true(hubfs_note_is_scratch("sedAb12Cd"));
	assert_true(hubfs_note_is_scratch("sed000000"));
	assert_false(hubfs_note_is_scratch("sed"));
	assert_false(hubfs_note_is_scratch("sedAb12C"));   /* 5 */
	assert_false(hubfs_note_is_scratch("sedAb12Cde")); /* 7 */
	assert_false(hubfs_note_is_scratch("sedimentary.md"));
	assert_false(hubfs_note_is_scratch("sedimen")); /* 4 after "sed" */
	assert_false(hubfs_note_is_scratch("sedAb-2Cd"));
	assert_false(hubfs_note_is_scratch("SedAb12Cd"));

	/* Atomic-save temporaries */
	assert_true(hubfs_note_is_scratch("todo.md.tmp"));
	assert_true(hubfs_note_is_scratch(".todo.md.tmp"));
	assert_true(hubfs_note_is_scratch("x.tmp"));
	assert_false(hubfs_note_is_scratch("a.tmp.md"));
	assert_false(hubfs_note_is_scratch("tmp"));
	assert_false(hubfs_note_is_scratch("notes.tmpl"));
	assert_false(hubfs_note_is_scratch("attmp"));

	/* LibreOffice */
	assert_true(hubfs_note_is_scratch(".~lock.report.odt#"));
	assert_false(hubfs_note_is_scratch(".~lock.report.odt"));

	/* rsync ".NAME.XXXXXX" */
	assert_true(hubfs_note_is_scratch(".todo.md.Ab12Cd"));
	assert_true(hubfs_note_is_scratch(".x.abcdef"));
	assert_false(hubfs_note_is_scratch(".todo.md.backup1")); /* 7 */
	assert_false(hubfs_note_is_scratch(".todo.md.Ab12C"));   /* 5 */
	assert_false(hubfs_note_is_scratch(".todo.md.Ab-2Cd"));
	assert_false(hubfs_note_is_scratch("todo.md.Ab12Cd")); /* not hidden */
	assert_false(hubfs_note_is_scratch("..Ab12Cd"));       /* no NAME */
	assert_false(hubfs_note_is_scratch(".plan"));
	assert_false(hubfs_note_is_scratch(".Ab12Cd"));
}

static void test_not_scratch(void **state)
{
	static const char *const notes[] = {
		"todo.md",
		"plans.2024.md",
		".plan",
		"2024",
		"README",
		"a",
		".hidden",
		"notes~draft",
		"meeting notes.txt",
		"sync-conflict.md",
		"v2.1.md",
		"x.swp",
		".x.sw",
		"4913x",
		"résumé.md",
		".versions",
		"tmp.md",
		"sed.md",
		".todo.md.bak",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
		if (hubfs_note_is_scratch(notes[i]))
			fail_msg("'%s' taken for scratch", notes[i]);
	}
	assert_false(hubfs_note_is_scratch(""));
	assert_false(hubfs_note_is_scratch(NULL));
}

static void test_reserved(void **state)
{
	(void)state;
	assert_true(hubfs_note_is_reserved(".versions"));
	assert_true(hubfs_note_is_reserved(".search"));
	assert_true(hubfs_note_is_reserved(".conflicts"));
	assert_false(hubfs_note_is_reserved("versions"));
	assert_false(hubfs_note_is_reserved(".Versions"));
	assert_false(hubfs_note_is_reserved(".versions2"));
	assert_false(hubfs_note_is_reserved(".search~"));
	assert_false(hubfs_note_is_reserved(""));
	assert_false(hubfs_note_is_reserved(NULL));
}

static void test_name_check(void **state)
{
	char name[HUBFS_NAME_MAX + 2];

	(void)state;
	assert_int_equal(hubfs_note_name_check("todo.md", true), 0);
	assert_int_equal(hubfs_note_name_check("todo.md", false), 0);
	assert_int_equal(hubfs_note_name_check(".versions", true), -EINVAL);
	assert_int_equal(hubfs_note_name_check(".search", true), -EINVAL);
	assert_int_equal(hubfs_note_name_check(".conflicts", true), -EINVAL);
	/* Below the top level the names are free: work/.versions is a note. */
	assert_int_equal(hubfs_note_name_check(".versions", false), 0);
	assert_int_equal(hubfs_note_name_check(".search", false), 0);
	assert_int_equal(hubfs_note_name_check(".conflicts", false), 0);
	/* Scratch names are valid names. */
	assert_int_equal(hubfs_note_name_check("4913", true), 0);
	assert_int_equal(hubfs_note_name_check(".todo.md.swp", true), 0);

	assert_int_equal(hubfs_note_name_check("", true), -EINVAL);
	assert_int_equal(hubfs_note_name_check(".", false), -EINVAL);
	assert_int_equal(hubfs_note_name_check("..", false), -EINVAL);
	assert_int_equal(hubfs_note_name_check("a/b", false), -EINVAL);
	assert_int_equal(hubfs_note_name_check("a\nb", false), -EINVAL);
	assert_int_equal(hubfs_note_name_check(NULL, false), -EINVAL);

	memset(name, 'n', sizeof(name));
	name[HUBFS_NAME_MAX] = '\0';
	assert_int_equal(hubfs_note_name_check(name, true), 0);
	name[HUBFS_NAME_MAX] = 'n';
	name[HUBFS_NAME_MAX + 1] = '\0';
	assert_int_equal(hubfs_note_name_check(name, true), -ENAMETOOLONG);
	assert_int_equal(hubfs_note_name_check(name, false), -ENAMETOOLONG);
}

static int tags(const char *in, char *out, size_t len)
{
	return hubfs_note_tags_normalize(in, in ? strlen(in) : 0, out, len);
}

static void expect_tags(const char *in, const char *want)
{
	char out[HUBFS_NOTE_TAGS_MAX];

	memset(out, 'X', sizeof(out));
	if (tags(in, out, sizeof(out)))
		fail_msg("'%s' refused", in);
	if (strcmp(out, want))
		fail_msg("'%s' -> '%s', want '%s'", in, out, want);
}

static void test_tags_normalize(void **state)
{
	(void)state;
	expect_tags("", "");
	expect_tags(" , ,, ", "");
	expect_tags("work", "work");
	expect_tags("c,b,a", "a,b,c");
	expect_tags(" Work , home,WORK ,  ", "home,work");
	expect_tags("a , b ,c", "a,b,c");
	expect_tags("\tproj/x:y\n,v2.1,snake_case,kebab-case",
		    "kebab-case,proj/x:y,snake_case,v2.1");
	/* Non-ASCII UTF-8 is kept as is (no Unicode case folding) and sorts bytewise. */
	expect_tags("Ünïcode,zeta,été", "zeta,Ünïcode,été");
	expect_tags("日本語,work", "work,日本語");
	assert_int_equal(tags(NULL, (char[4]){ 0 }, 4), 0);
}

static void test_tags_errors(void **state)
{
	char out[HUBFS_NOTE_TAGS_MAX], big[8192], tag[80];
	size_t pos = 0;

	(void)state;
	assert_int_equal(tags("two words", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("a;b", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("a\"b", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("a*", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("ok,\x01", out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	/* Malformed UTF-8: stray continuation, truncated, overlong, surrogate, > U+10FFFF. */
	assert_int_equal(tags("a\x80", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xc3", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xc3,x", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xc0\xaf", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xe0\x80\xaf", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xed\xa0\x80", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xf4\x90\x80\x80", out, sizeof(out)), -EINVAL);
	assert_int_equal(tags("\xff", out, sizeof(out)), -EINVAL);
	/* An embedded NUL is not a separator. */
	assert_int_equal(hubfs_note_tags_normalize("a\0b", 3, out, sizeof(out)), -EINVAL);
	/* @inlen bounds the input. */
	assert_int_equal(hubfs_note_tags_normalize("b,a,c", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "a,b");
	assert_int_equal(hubfs_note_tags_normalize(NULL, 1, out, sizeof(out)), -EINVAL);

	/* 64 bytes per tag, counted after trimming. */
	memset(tag, 't', 64);
	tag[64] = '\0';
	assert_int_equal(tags(tag, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 64);
	tag[64] = 't';
	tag[65] = '\0';
	assert_int_equal(tags(tag, out, sizeof(out)), -EINVAL);
	/* 64 distinct tags, duplicates not counted. */
	for (int i = 0; i < 64; i++)
		pos += (size_t)snprintf(big + pos, sizeof(big) - pos, "t%02d,T%02d,", i, i);
	assert_int_equal(tags(big, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 64 * 4 - 1);
	assert_memory_equal(out, "t00,t01,", 8);
	snprintf(big + pos, sizeof(big) - pos, "t64");
	assert_int_equal(tags(big, out, sizeof(out)), -EINVAL);

	/* A short buffer: -ERANGE, empty output. */
	assert_int_equal(tags("abc,def", out, 8), 0);
	assert_int_equal(tags("abc,def", out, 7), -ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(tags("", out, 1), 0);
	assert_int_equal(tags("", out, 0), -ERANGE);
	assert_int_equal(tags("a", NULL, 0), -ERANGE);
}

/* An index shaped like the catalog's notes FTS table, with a few rows. */
static int fts_setup(void **state)
{
	static const char *const sql =
		"CREATE VIRTUAL TABLE t USING fts5(title, content, tags,"
		" tokenize = 'porter unicode61');"
		"INSERT INTO t VALUES('release.md', 'shipping v2.1 today', 'work');"
		"INSERT INTO t VALUES('budget.md', 'the budgeting plan', 'work-x,money');"
		"INSERT INTO t VALUES('sync.md', 'a sync-conflict happened', 'misc');"
		"INSERT INTO t VALUES('quote.md', 'he said \"hi\" there', '');"
		"INSERT INTO t VALUES('and.md', 'cats and dogs (pets)', '');";
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	*state = db;
	return 0;
}

static int fts_teardown(void **state)
{
	sqlite3_close(*state);
	return 0;
}

/* Rows matching @query, or -1 when FTS5 refuses it. */
static int fts_count(sqlite3 *db, const char *query)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?", -1, &st,
					    NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, query, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		n++;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? n : -1;
}

/* @raw quotes to @want, which FTS5 parses and which matches @rows rows. */
static void expect_quote(sqlite3 *db, const char *raw, const char *want, int rows)
{
	char out[256];
	int n;

	memset(out, 'X', sizeof(out));
	if (hubfs_note_query_quote(raw, out, sizeof(out)))
		fail_msg("'%s' refused", raw);
	if (strcmp(out, want))
		fail_msg("'%s' -> '%s', want '%s'", raw, out, want);
	if (!*out)
		return; /* the caller lists nothing for an empty query: MATCH '' is an error */
	n = fts_count(db, out);
	if (n < 0)
		fail_msg("'%s' -> '%s': FTS5 error: %s", raw, out, sqlite3_errmsg(db));
	if (rows >= 0 && n != rows)
		fail_msg("'%s' -> '%s': %d rows, want %d", raw, out, n, rows);
}

static void test_query_quote(void **state)
{
	sqlite3 *db = *state;

	expect_quote(db, "v2.1", "\"v2.1\"", 1);
	expect_quote(db, "sync-conflict", "\"sync-conflict\"", 1);
	expect_quote(db, "budget*", "\"budget\"*", 1);
	expect_quote(db, "tags:work-x", "tags:\"work-x\"", 1);
	expect_quote(db, "tags:work", "tags:\"work\"", 2);
	expect_quote(db, "TAGS:money", "TAGS:\"money\"", 1);
	expect_quote(db, "title:release content:v2.1", "title:\"release\" content:\"v2.1\"", 1);
	expect_quote(db, "tags:budg*", "tags:\"budg\"*", 0);
	expect_quote(db, "content:budg*", "content:\"budg\"*", 1);
	expect_quote(db, "said\"hi", "\"said\"\"hi\"", 1);
	expect_quote(db, "\"hi\"", "\"\"\"hi\"\"\"", 1);
	expect_quote(db, "  v2.1\t work \n", "\"v2.1\" \"work\"", 1);
	/* Operators and parentheses are text here: the raw query already failed to parse. */
	expect_quote(db, "cats AND (pets", "\"cats\" \"AND\" \"(pets\"", 1);
	expect_quote(db, "dogs OR", "\"dogs\" \"OR\"", 0);
	expect_quote(db, "NOT", "\"NOT\"", 0);
	/* Not a column of the index: the whole term is text. */
	expect_quote(db, "foo:bar", "\"foo:bar\"", 0);
	expect_quote(db, "tags:", "\"tags:\"", -1);
	expect_quote(db, "titles:x", "\"titles:x\"", 0);
	/* A lone or doubled star, punctuation only, a leading '-' or '^'. */
	expect_quote(db, "*", "\"*\"", -1);
	expect_quote(db, "**", "\"*\"*", -1);
	expect_quote(db, "-", "\"-\"", -1);
	expect_quote(db, "-budget", "\"-budget\"", -1);
	expect_quote(db, "^shipping", "\"^shipping\"", -1);
	expect_quote(db, "NEAR(a b)", "\"NEAR(a\" \"b)\"", -1);
	expect_quote(db, "été", "\"été\"", 0);
	expect_quote(db, "", "", 0);
	expect_quote(db, "   ", "", 0);
}

static void test_query_quote_bounds(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(hubfs_note_query_quote("v2.1", out, 7), 0);
	assert_string_equal(out, "\"v2.1\"");
	assert_int_equal(hubfs_note_query_quote("v2.1", out, 6), -ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(hubfs_note_query_quote("a\"", out, 5), -ERANGE); /* "a""" */
	assert_int_equal(hubfs_note_query_quote("a\"", out, 6), 0);
	assert_string_equal(out, "\"a\"\"\"");
	assert_int_equal(hubfs_note_query_quote("a b", out, 8), 0);
	assert_int_equal(hubfs_note_query_quote("a b", out, 7), -ERANGE);
	assert_int_equal(hubfs_note_query_quote("b*", out, 5), 0);
	assert_int_equal(hubfs_note_query_quote("b*", out, 4), -ERANGE);
	assert_int_equal(hubfs_note_query_quote("", out, 1), 0);
	assert_int_equal(hubfs_note_query_quote("", out, 0), -ERANGE);
	assert_int_equal(hubfs_note_query_quote(NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(hubfs_note_query_quote("x", NULL, 0), -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scratch_vim),
		cmocka_unit_test(test_scratch_other_tools),
		cmocka_unit_test(test_not_scratch),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_tags_normalize),
		cmocka_unit_test(test_tags_errors),
		cmocka_unit_test_setup_teardown(test_query_quote, fts_setup, fts_teardown),
		cmocka_unit_test(test_query_quote_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
