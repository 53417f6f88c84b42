/*
 * test_names.c — unit tests for src/util/names.c: component and path checks, video
 * extensions, the videos/ file and directory rules and the backend's reserved names.
 *
 * Owns nothing; single-threaded; no locks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hubfs/names.h"

static void test_name_check(void **state)
{
	char long_name[HUBFS_NAME_MAX + 2];

	(void)state;
	assert_int_equal(hubfs_name_check("a", 1), 0);
	assert_int_equal(hubfs_name_check("a b.mp4", 7), 0);
	assert_int_equal(hubfs_name_check(".hidden", 7), 0);
	assert_int_equal(hubfs_name_check("...", 3), 0);
	assert_int_equal(hubfs_name_check("", 0), -EINVAL);
	assert_int_equal(hubfs_name_check(".", 1), -EINVAL);
	assert_int_equal(hubfs_name_check("..", 2), -EINVAL);
	assert_int_equal(hubfs_name_check("a/b", 3), -EINVAL);
	assert_int_equal(hubfs_name_check("a\nb", 3), -EINVAL);
	assert_int_equal(hubfs_name_check("a\rb", 3), -EINVAL);
	assert_int_equal(hubfs_name_check("a\0b", 3), -EINVAL);
	/* @len bounds the check: "ab/c" is fine as its first two bytes. */
	assert_int_equal(hubfs_name_check("ab/c", 2), 0);
	assert_int_equal(hubfs_name_check("../x", 2), -EINVAL);
	assert_int_equal(hubfs_name_check(NULL, 1), -EINVAL);

	memset(long_name, 'x', sizeof(long_name));
	assert_int_equal(hubfs_name_check(long_name, HUBFS_NAME_MAX), 0);
	assert_int_equal(hubfs_name_check(long_name, HUBFS_NAME_MAX + 1), -ENAMETOOLONG);
}

static void test_path_check(void **state)
{
	char path[5000];

	(void)state;
	assert_int_equal(hubfs_path_check(""), 0);
	assert_int_equal(hubfs_path_check("a"), 0);
	assert_int_equal(hubfs_path_check("a/b/c.mp4"), 0);
	assert_int_equal(hubfs_path_check("/a"), -EINVAL);
	assert_int_equal(hubfs_path_check("a/"), -EINVAL);
	assert_int_equal(hubfs_path_check("a//b"), -EINVAL);
	assert_int_equal(hubfs_path_check("a/../b"), -EINVAL);
	assert_int_equal(hubfs_path_check("./a"), -EINVAL);
	assert_int_equal(hubfs_path_check("a/b\n"), -EINVAL);
	assert_int_equal(hubfs_path_check(NULL), -EINVAL);

	memset(path, 'x', 300);
	path[300] = '\0';
	assert_int_equal(hubfs_path_check(path), -ENAMETOOLONG);
	path[100] = '/';
	path[200] = '/';
	assert_int_equal(hubfs_path_check(path), 0);
	memset(path, 'a', sizeof(path) - 1);
	for (size_t i = 100; i < sizeof(path) - 1; i += 101)
		path[i] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(hubfs_path_check(path), -ENAMETOOLONG);
}

static void test_path_base(void **state)
{
	(void)state;
	assert_string_equal(hubfs_path_base("a/b.mp4"), "b.mp4");
	assert_string_equal(hubfs_path_base("b.mp4"), "b.mp4");
	assert_string_equal(hubfs_path_base("x/y/z"), "z");
	assert_string_equal(hubfs_path_base(""), "");
	assert_string_equal(hubfs_path_base("a/"), "");
}

static void test_video_ext(void **state)
{
	static const char *const good[] = {
		"a.mp4", "a.avi", "a.mov",  "a.mkv",   "a.webm",       "a.flv", "a.wmv",
		"a.m4v", "A.MP4", "b.WebM", "x.y.Mkv", "clip.tar.mp4", "..mp4",
	};
	static const char *const bad[] = {
		"a",  "a.mp3",  "a.mp4.txt", "a.mp", "a.mp44", "mp4", ".mp4",
		"a.", "a.mp4 ", "a.m4a",     "a.ts", "a.mpeg", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(hubfs_name_has_video_ext(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(hubfs_name_has_video_ext(bad[i]));
}

static void test_video_name(void **state)
{
	char name[HUBFS_NAME_MAX + 2];

	(void)state;
	assert_int_equal(hubfs_video_name_check("a.mp4"), 0);
	assert_int_equal(hubfs_video_name_check("Holiday 2024.MOV"), 0);
	assert_int_equal(hubfs_video_name_check("a.txt"), -EINVAL);
	assert_int_equal(hubfs_video_name_check("noext"), -EINVAL);
	/* Hidden names are temporaries: rsync's ".a.mp4.XyZ123", vim-like scratch. */
	assert_int_equal(hubfs_video_name_check(".a.mp4.XyZ123"), 0);
	assert_int_equal(hubfs_video_name_check(".tmp"), 0);
	/* The backend's own files. */
	assert_int_equal(hubfs_video_name_check(".hubfs"), -EINVAL);
	assert_int_equal(hubfs_video_name_check(".a.mp4.hubfs"), -EINVAL);
	assert_int_equal(hubfs_video_name_check(".x.hubfs"), -EINVAL);
	assert_int_equal(hubfs_video_name_check("a.hubfs"), -EINVAL);
	assert_int_equal(hubfs_video_name_check(".a.hubfs.tmp"), 0);
	assert_int_equal(hubfs_video_name_check(".HUBFS"), 0); /* not ours: case matters */
	/* Component rules come first. */
	assert_int_equal(hubfs_video_name_check(""), -EINVAL);
	assert_int_equal(hubfs_video_name_check("."), -EINVAL);
	assert_int_equal(hubfs_video_name_check(".."), -EINVAL);
	assert_int_equal(hubfs_video_name_check("a/b.mp4"), -EINVAL);
	assert_int_equal(hubfs_video_name_check("a\nb.mp4"), -EINVAL);
	assert_int_equal(hubfs_video_name_check(NULL), -EINVAL);

	/* A visible name leaves room for its sidecar; a hidden temporary need not. */
	memset(name, 'v', sizeof(name));
	memcpy(name + HUBFS_VIDEO_NAME_MAX - 4, ".mp4", 5);
	assert_int_equal(hubfs_video_name_check(name), 0);
	memset(name, 'v', sizeof(name));
	memcpy(name + HUBFS_VIDEO_NAME_MAX - 3, ".mp4", 5);
	assert_int_equal(hubfs_video_name_check(name), -ENAMETOOLONG);
	name[0] = '.';
	assert_int_equal(hubfs_video_name_check(name), 0);
	memset(name, 'v', sizeof(name));
	memcpy(name + HUBFS_NAME_MAX + 1 - 4, ".mp4", 5);
	assert_int_equal(hubfs_video_name_check(name), -ENAMETOOLONG);
}

static void test_video_dirname(void **state)
{
	(void)state;
	assert_int_equal(hubfs_video_dirname_check("holidays"), 0);
	assert_int_equal(hubfs_video_dirname_check("2024.mp4"), 0);
	assert_int_equal(hubfs_video_dirname_check(".cache"), 0);
	assert_int_equal(hubfs_video_dirname_check(".hubfs"), -EINVAL);
	assert_int_equal(hubfs_video_dirname_check(".d.hubfs"), -EINVAL);
	assert_int_equal(hubfs_video_dirname_check(".."), -EINVAL);
	assert_int_equal(hubfs_video_dirname_check("a/b"), -EINVAL);
	assert_int_equal(hubfs_video_dirname_check(""), -EINVAL);
	assert_int_equal(hubfs_video_dirname_check(NULL), -EINVAL);
}

/* Every byte value in every position of a short name: only the documented ones refused. */
static void test_every_byte(void **state)
{
	(void)state;
	for (int c = 1; c < 256; c++) {
		char name[8] = "ab?.mp4";
		bool bad = c == '/' || c == '\n' || c == '\r';

		name[2] = (char)c;
		assert_int_equal(hubfs_name_check(name, strlen(name)), bad ? -EINVAL : 0);
		assert_int_equal(hubfs_video_name_check(name), bad ? -EINVAL : 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_check), cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_path_base),  cmocka_unit_test(test_video_ext),
		cmocka_unit_test(test_video_name), cmocka_unit_test(test_video_dirname),
		cmocka_unit_test(test_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
