/*
 * test_validate.c — hubfs_media_validate() against the samples of tests/make-media.sh.
 *
 * Every generated sample has a row below with its expected verdict: the -E code, a
 * substring of the reason, and for valid videos the container, codecs, size, duration and
 * frame rate. The samples live in $HUBFS_TEST_MEDIA (ctest fixture setup/media); a missing
 * directory is a failure, not a skip. Also: errno from opening, thread safety (all samples
 * at once from several threads), and silence on stderr unless media debugging is on.
 * Single-threaded except test_concurrent, which joins its threads before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hubfs/log.h"
#include "hubfs/media.h"

struct sample {
	const char *file;
	int rc;          /* 0 or -E* */
	const char *why; /* substring of the reason, for failures */
	const char *container;
	const char *vcodec;
	const char *acodec; /* "" for none */
	int width, height;
	double dmin, dmax; /* duration range, seconds */
	double fps;        /* expected within 0.5, 0 = don't check */
};

/* Positional: file, rc, why, container, vcodec, acodec, width, height, dmin, dmax, fps. */
static const struct sample samples[] = {
	{ "faststart.mp4", 0, NULL, "mp4", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "moov_end.mp4", 0, NULL, "mp4", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "video.mov", 0, NULL, "mov", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "video.m4v", 0, NULL, "m4v", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "mjpeg.avi", 0, NULL, "avi", "mjpeg", "", 160, 120, 1.9, 2.1, 25 },
	{ "video.mkv", 0, NULL, "mkv", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "video.webm", 0, NULL, "webm", "vp8", "opus", 160, 120, 0.9, 1.1, 25 },
	{ "video.flv", 0, NULL, "flv", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "video.wmv", 0, NULL, "wmv", "wmv2", "wmav2", 160, 120, 0.9, 1.2, 25 },
	{ "mkv_named.mp4", 0, NULL, "mkv", "h264", "aac", 320, 240, 1.9, 2.1, 25 },
	{ "text.mp4", -EINVAL, "unrecognised" },
	{ "empty.mkv", -EINVAL, "empty file" },
	{ "random.webm", -EINVAL, "unrecognised" },
	{ "truncated_no_moov.mp4", -EINVAL, "moov atom not found" },
	{ "truncated_with_moov.mp4", -EINVAL,
	  "truncated: media data ends past the end of the file" },
	{ "truncated.mkv", -EINVAL, "truncated: the file is shorter than its header says" },
	{ "truncated.avi", -EINVAL, "truncated: the file is shorter than its header says" },
	{ "truncated.wmv", -EINVAL, "truncated: the file is shorter than its header says" },
	{ "truncated.flv", -EINVAL, "truncated: the file is shorter than its header says" },
	{ "audio_only.mp4", -EINVAL, "no video stream" },
	{ "cover_art.mp4", -EINVAL, "no video stream" },
	{ "png_named.mp4", -EINVAL, "unrecognised container 'png_pipe'" },
	{ "still_png.mkv", -EINVAL, "still image, not a video" },
	{ "still_mjpeg.avi", -EINVAL, "still image, not a video" },
	{ "mpegts_named.mp4", -EINVAL, "unrecognised container 'mpegts'" },
	{ "corrupt_frames.mp4", -EINVAL, "first video frame does not decode" },
};

#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

/* $HUBFS_TEST_MEDIA/@file; fails the test when the media directory is not there. */
static void media_path(char *buf, size_t len, const char *file)
{
	const char *dir = getenv("HUBFS_TEST_MEDIA");
	char done[PATH_MAX];
	struct stat sb;

	if (!dir || !*dir)
		fail_msg("HUBFS_TEST_MEDIA is not set (run via ctest: fixture setup/media)");
	snprintf(done, sizeof(done), "%s/.done", dir);
	if (stat(done, &sb))
		fail_msg("no test media in '%s' (tests/make-media.sh did not run)", dir);
	snprintf(buf, len, "%s/%s", dir, file);
	if (stat(buf, &sb))
		fail_msg("sample '%s' is missing", buf);
}

static void check_sample(const struct sample *s)
{
	struct hubfs_media_info info;
	char path[PATH_MAX], why[256];
	int rc;

	media_path(path, sizeof(path), s->file);
	memset(why, 'x', sizeof(why));
	rc = hubfs_media_validate(path, &info, why, sizeof(why));
	if (rc != s->rc)
		fail_msg("%s: rc %d (%s), expected %d", s->file, rc, why, s->rc);
	if (rc) {
		if (!strstr(why, s->why))
			fail_msg("%s: reason '%s' lacks '%s'", s->file, why, s->why);
		return;
	}
	assert_string_equal(why, "");
	assert_string_equal(info.container, s->container);
	assert_string_equal(info.video_codec, s->vcodec);
	assert_string_equal(info.audio_codec, s->acodec);
	assert_int_equal(info.width, s->width);
	assert_int_equal(info.height, s->height);
	if (info.duration < s->dmin || info.duration > s->dmax)
		fail_msg("%s: duration %f not in [%f, %f]", s->file, info.duration, s->dmin,
			 s->dmax);
	if (s->fps && (info.fps < s->fps - 0.5 || info.fps > s->fps + 0.5))
		fail_msg("%s: fps %f, expected %f", s->file, info.fps, s->fps);
	assert_true(info.bitrate > 0);
}

static void test_sample(void **state)
{
	check_sample(*state);
}

static void test_missing_file(void **state)
{
	struct hubfs_media_info info;
	char why[128];

	(void)state;
	assert_int_equal(hubfs_media_validate("/nonexistent/hubfs/a.mp4", &info, why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "cannot open"));
}

static void test_directory(void **state)
{
	struct hubfs_media_info info;
	char path[PATH_MAX], why[128];

	(void)state;
	media_path(path, sizeof(path), ".");
	assert_int_equal(hubfs_media_validate(path, &info, why, sizeof(why)), -EISDIR);
}

/* EACCES reaches the caller as itself (root reads anything: then only the mapping runs). */
static void test_unreadable(void **state)
{
	struct hubfs_media_info info;
	char src[PATH_MAX], tmpl[] = "/tmp/hubfs-media-XXXXXX", why[128];
	int fd, rc;

	(void)state;
	media_path(src, sizeof(src), "faststart.mp4");
	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(tmpl, 0), 0);
	rc = hubfs_media_validate(tmpl, &info, why, sizeof(why));
	if (geteuid() != 0)
		assert_int_equal(rc, -EACCES);
	else
		assert_int_equal(rc, -EINVAL); /* root opened it: an empty file */
	unlink(tmpl);
}

/* A NULL or tiny reason buffer is fine; the reason is truncated, never overrun. */
static void test_small_why(void **state)
{
	struct hubfs_media_info info;
	char path[PATH_MAX], why[8];

	(void)state;
	media_path(path, sizeof(path), "audio_only.mp4");
	assert_int_equal(hubfs_media_validate(path, &info, NULL, 0), -EINVAL);
	memset(why, 'x', sizeof(why));
	assert_int_equal(hubfs_media_validate(path, &info, why, 4), -EINVAL);
	assert_string_equal(why, "no ");
	assert_int_equal(why[4], 'x');
}

static void *concurrent_worker(void *arg)
{
	intptr_t bad = 0;

	(void)arg;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < NSAMPLES; i++) {
			struct hubfs_media_info info;
			char path[PATH_MAX], why[256];

			snprintf(path, sizeof(path), "%s/%s", getenv("HUBFS_TEST_MEDIA"),
				 samples[i].file);
			if (hubfs_media_validate(path, &info, why, sizeof(why)) != samples[i].rc)
				bad++;
		}
	}
	return (void *)bad;
}

/* Stateless and thread-safe: every sample, four threads at once, the same verdicts. */
static void test_concurrent(void **state)
{
	pthread_t th[4];
	char path[PATH_MAX];

	(void)state;
	media_path(path, sizeof(path), "faststart.mp4");
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, concurrent_worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad;

		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
}

/* Run every sample with stderr captured; return how many bytes reached it. */
static long stderr_bytes_during_all_samples(void)
{
	char tmpl[] = "/tmp/hubfs-media-err-XXXXXX";
	int fd, saved;
	struct stat sb;

	fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	unlink(tmpl);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	for (size_t i = 0; i < NSAMPLES; i++) {
		struct hubfs_media_info info;
		char path[PATH_MAX], why[256];

		snprintf(path, sizeof(path), "%s/%s", getenv("HUBFS_TEST_MEDIA"), samples[i].file);
		hubfs_media_validate(path, &info, why, sizeof(why));
	}
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(fstat(fd, &sb), 0);
	close(fd);
	return (long)sb.st_size;
}

/* Broken uploads are routine: FFmpeg stays quiet unless HUBFS_DEBUG=media. */
static void test_quiet_unless_debug(void **state)
{
	char path[PATH_MAX];
	unsigned int cats = hubfs_log_cats;
	int level = hubfs_log_level;

	(void)state;
	media_path(path, sizeof(path), "faststart.mp4");
	assert_int_equal(stderr_bytes_during_all_samples(), 0);

	hubfs_log_cats = HUBFS_CAT_MEDIA;
	hubfs_log_level = HUBFS_LOG_DEBUG;
	hubfs_media_init();
	assert_true(stderr_bytes_during_all_samples() > 0);

	hubfs_log_cats = cats;
	hubfs_log_level = level;
	hubfs_media_init();
	assert_int_equal(stderr_bytes_during_all_samples(), 0);
}

int main(void)
{
	struct CMUnitTest tests[NSAMPLES + 6];
	size_t n = 0;

	unsetenv("HUBFS_DEBUG");
	hubfs_log_init("test_validate", true, false);
	hubfs_media_init();
	for (size_t i = 0; i < NSAMPLES; i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_sample,
									(void *)&samples[i]);
		tests[n++].name = samples[i].file;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_missing_file);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_directory);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unreadable);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_small_why);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_concurrent);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_quiet_unless_debug);
	return _cmocka_run_group_tests("media/validate", tests, n, NULL, NULL);
}
