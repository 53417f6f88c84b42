/*
 * test_version.c — unit tests for src/notes/version.c: version ids (determinism, parent order,
 * every field counts, argument checks, pinned known answers) and new note global ids.
 *
 * The known answers were computed independently (Python hashlib over the encoding documented
 * in version.c); a change to them is a change of every peer's history: never update them.
 *
 * Owns nothing; single-threaded; no locks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hubfs/notes.h"

/* sha256("a") and sha256("b"): two well-formed parent ids, A > B. */
#define ID_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define ID_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"

static void vid(const char *content, const char *const *parents, unsigned int n, const char *origin,
		bool deleted, char out[HUBFS_NOTE_ID_LEN + 1])
{
	assert_int_equal(hubfs_note_version_id(content, strlen(content), parents, n, origin,
					       deleted, out),
			 0);
	assert_int_equal(strlen(out), HUBFS_NOTE_ID_LEN);
}

static void test_known_answers(void **state)
{
	const char *ab[] = { ID_B, ID_A };
	const char *a[] = { ID_A };
	char id[HUBFS_NOTE_ID_LEN + 1];

	(void)state;
	vid("hello\n", NULL, 0, "node-a", false, id);
	assert_string_equal(id, "a87569fe78f60d0f7d99462fa57f90cf66a66a15635803ea80cee4dfa988a004");
	vid("hello\n", ab, 2, "node-a", false, id);
	assert_string_equal(id, "bae6579b221c80334a1780c69d4bf2b8961d74b258e8ce307436c7e9b19f9d49");
	vid("", a, 1, "node-a", true, id);
	assert_string_equal(id, "4f81da7dd77a681f7fe4e9fd23eccfab7e8717911a4663f15938eaf5dcc8c135");
	/* An empty content may come as NULL. */
	assert_int_equal(hubfs_note_version_id(NULL, 0, a, 1, "node-a", true, id), 0);
	assert_string_equal(id, "4f81da7dd77a681f7fe4e9fd23eccfab7e8717911a4663f15938eaf5dcc8c135");
}

static void test_deterministic(void **state)
{
	const char *ab[] = { ID_A, ID_B };
	const char *ba[] = { ID_B, ID_A };
	char x[HUBFS_NOTE_ID_LEN + 1], y[HUBFS_NOTE_ID_LEN + 1];

	(void)state;
	vid("same", ab, 2, "n1", false, x);
	vid("same", ab, 2, "n1", false, y);
	assert_string_equal(x, y);
	/* A merge's id does not depend on who merged. */
	vid("same", ba, 2, "n1", false, y);
	assert_string_equal(x, y);
}

static void test_every_field_counts(void **state)
{
	const char *a[] = { ID_A }, *b[] = { ID_B }, *ab[] = { ID_A, ID_B };
	char base[HUBFS_NOTE_ID_LEN + 1], id[HUBFS_NOTE_ID_LEN + 1];

	(void)state;
	vid("text", a, 1, "n1", false, base);
	vid("text!", a, 1, "n1", false, id);
	assert_string_not_equal(base, id);
	vid("text", b, 1, "n1", false, id);
	assert_string_not_equal(base, id);
	vid("text", NULL, 0, "n1", false, id);
	assert_string_not_equal(base, id);
	vid("text", ab, 2, "n1", false, id);
	assert_string_not_equal(base, id);
	vid("text", a, 1, "n2", false, id);
	assert_string_not_equal(base, id);
	vid("text", a, 1, "n1", true, id);
	assert_string_not_equal(base, id);

	/* Length prefixes: moving bytes between content and origin changes the id. */
	vid("ab", NULL, 0, "c", false, base);
	vid("a", NULL, 0, "bc", false, id);
	assert_string_not_equal(base, id);
	/* Content bytes past a NUL count. */
	assert_int_equal(hubfs_note_version_id("x\0y", 3, NULL, 0, "n", false, base), 0);
	assert_int_equal(hubfs_note_version_id("x\0z", 3, NULL, 0, "n", false, id), 0);
	assert_string_not_equal(base, id);
}

static void test_bad_arguments(void **state)
{
	const char *upper[] = { "CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB" };
	const char *shortid[] = { "ca978112" };
	const char *longid[] = { ID_A "0" };
	const char *nonhex[] = {
		"ga978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	};
	const char *null[] = { NULL };
	const char *same[] = { ID_A, ID_A };
	const char *three[] = { ID_A, ID_B, ID_A };
	char origin[66];
	char id[HUBFS_NOTE_ID_LEN + 1];

	(void)state;
	assert_int_equal(hubfs_note_version_id("x", 1, upper, 1, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, shortid, 1, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, longid, 1, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, nonhex, 1, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, null, 1, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, same, 2, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, three, 3, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, NULL, 1, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id(NULL, 1, NULL, 0, "n", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, NULL, 0, "", false, id), -EINVAL);
	assert_int_equal(hubfs_note_version_id("x", 1, NULL, 0, NULL, false, id), -EINVAL);
	assert_string_equal(id, "");

	memset(origin, 'o', sizeof(origin));
	origin[64] = '\0';
	assert_int_equal(hubfs_note_version_id("x", 1, NULL, 0, origin, false, id), 0);
	origin[64] = 'o';
	origin[65] = '\0';
	assert_int_equal(hubfs_note_version_id("x", 1, NULL, 0, origin, false, id), -EINVAL);
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

static void test_gid(void **state)
{
	enum { N = 256 };
	static char gids[N][HUBFS_NOTE_GID_LEN + 1];

	(void)state;
	for (int i = 0; i < N; i++) {
		assert_int_equal(hubfs_note_new_gid(gids[i]), 0);
		assert_true(is_lower_hex(gids[i], HUBFS_NOTE_GID_LEN));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(gids[i], gids[j]);
	}
	assert_int_equal(hubfs_note_new_gid(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_every_field_counts),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_gid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
