/*
 * test_videometa.c — unit tests for src/util/videometa.c: the key=value record (round trip,
 * hostile and truncated input) and the user.hub.* xattrs (values, list, size query, ERANGE).
 *
 * Owns nothing; single-threaded; no locks.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hubfs/video.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void sample(struct hubfs_video_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->size = 1234567;
	strcpy(m->sha256, SHA);
	m->media.duration = 5.0;
	m->media.width = 1920;
	m->media.height = 1080;
	m->media.fps = 30000.0 / 1001.0;
	strcpy(m->media.video_codec, "h264");
	strcpy(m->media.audio_codec, "aac");
	strcpy(m->media.container, "mp4");
	m->media.bitrate = 1975307;
	m->uploaded = 1795796588; /* 2026-11-27T16:23:08Z */
	m->mtime_ns = 1795796588123456789LL;
	m->mode = 0644;
	m->uid = 1000;
	m->gid = 100;
	m->file_mtime_ns = -5;
	m->file_size = 1234567;
}

static void assert_meta_equal(const struct hubfs_video_meta *a, const struct hubfs_video_meta *b)
{
	assert_true(a->size == b->size);
	assert_string_equal(a->sha256, b->sha256);
	assert_true(a->media.duration == b->media.duration);
	assert_int_equal(a->media.width, b->media.width);
	assert_int_equal(a->media.height, b->media.height);
	assert_true(a->media.fps == b->media.fps);
	assert_string_equal(a->media.video_codec, b->media.video_codec);
	assert_string_equal(a->media.audio_codec, b->media.audio_codec);
	assert_string_equal(a->media.container, b->media.container);
	assert_true(a->media.bitrate == b->media.bitrate);
	assert_true(a->uploaded == b->uploaded);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_true(a->file_mtime_ns == b->file_mtime_ns);
	assert_true(a->file_size == b->file_size);
}

static void test_format_text(void **state)
{
	struct hubfs_video_meta m;
	char buf[1024];
	int n;

	(void)state;
	sample(&m);
	m.media.fps = 29.97;
	n = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_string_equal(buf,
			    "size=1234567\n"
			    "sha256=" SHA
			    "\n"
			    "duration=5\n"
			    "width=1920\n"
			    "height=1080\n"
			    "fps=29.97\n"
			    "video_codec=h264\n"
			    "audio_codec=aac\n"
			    "container=mp4\n"
			    "bitrate=1975307\n"
			    "uploaded=2026-11-27T16:23:08Z\n"
			    "mtime_ns=1795796588123456789\n"
			    "mode=0644\n"
			    "uid=1000\n"
			    "gid=100\n"
			    "file_mtime_ns=-5\n"
			    "file_size=1234567\n");
}

static void test_round_trip(void **state)
{
	struct hubfs_video_meta m, back;
	char buf[1024];
	int n;

	(void)state;
	sample(&m);
	n = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(hubfs_video_meta_parse(&back, buf, (size_t)n), 0);
	assert_meta_equal(&m, &back);

	/* Extremes: empty strings, zero and huge numbers, the edges of the calendar. */
	memset(&m, 0, sizeof(m));
	m.size = INT64_MAX;
	m.media.duration = 1e9;
	m.media.fps = 0.1 + 0.2; /* needs 17 digits to read back exactly */
	m.media.bitrate = INT64_MAX;
	m.uploaded = -62167219200LL; /* 0000-01-01T00:00:00Z */
	m.mtime_ns = INT64_MIN;
	m.file_mtime_ns = INT64_MAX;
	m.mode = 07777;
	m.uid = UINT32_MAX;
	m.gid = UINT32_MAX;
	strcpy(m.media.video_codec, "0123456789012345678901234567890"); /* 31: fills it */
	strcpy(m.media.container, "matroska,webm");
	n = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(hubfs_video_meta_parse(&back, buf, (size_t)n), 0);
	assert_meta_equal(&m, &back);
	assert_non_null(strstr(buf, "uploaded=0000-01-01T00:00:00Z\n"));

	m.uploaded = 253402300799LL;
	n = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "uploaded=9999-12-31T23:59:59Z\n"));
	assert_int_equal(hubfs_video_meta_parse(&back, buf, (size_t)n), 0);
	assert_true(back.uploaded == m.uploaded);
}

/* Every day boundary across leap years reads back as the same instant. */
static void test_calendar(void **state)
{
	struct hubfs_video_meta m, back;
	char buf[1024];
	int n;

	(void)state;
	sample(&m);
	for (int64_t t = -86400LL * 366 * 3; t < 86400LL * 366 * 60; t += 86400 * 7 + 3601) {
		m.uploaded = t;
		n = hubfs_video_meta_format(&m, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(hubfs_video_meta_parse(&back, buf, (size_t)n), 0);
		assert_true(back.uploaded == t);
	}
	/* A few fixed points. */
	m.uploaded = 951782400; /* 2000-02-29 */
	assert_true(hubfs_video_meta_format(&m, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "uploaded=2000-02-29T00:00:00Z\n"));
	m.uploaded = -1;
	assert_true(hubfs_video_meta_format(&m, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "uploaded=1969-12-31T23:59:59Z\n"));
}

static void test_format_nospc(void **state)
{
	struct hubfs_video_meta m;
	char buf[1024];
	int full, n;

	(void)state;
	sample(&m);
	full = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(full > 0);
	for (size_t len = 0; len <= (size_t)full; len++) {
		char *small = len ? malloc(len) : NULL;

		n = hubfs_video_meta_format(&m, small, len);
		assert_int_equal(n, -ENOSPC);
		free(small);
	}
	assert_int_equal(hubfs_video_meta_format(&m, buf, (size_t)full + 1), full);
}

static void test_format_refuses_unreadable(void **state)
{
	struct hubfs_video_meta m;
	char buf[1024];

	(void)state;
	sample(&m);
	m.media.duration = NAN;
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	m.media.fps = -1;
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	strcpy(m.media.video_codec, "h2\n64");
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	memset(m.media.container, 'x', sizeof(m.media.container)); /* no NUL */
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	m.sha256[3] = 'G';
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	m.mode = 010000;
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	m.uploaded = 253402300800LL; /* year 10000 */
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	m.media.width = -1;
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m);
	m.size = (uint64_t)INT64_MAX + 1;
	assert_int_equal(hubfs_video_meta_format(&m, buf, sizeof(buf)), -EINVAL);
}

/* Replace the value of @key in the formatted sample and parse the result. */
static int parse_with(const char *key, const char *value)
{
	struct hubfs_video_meta m;
	char buf[1024], nl_buf[1100], pat[64], out[2048];
	const char *line, *eol;
	int n, rc;

	sample(&m);
	n = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(n > 0);
	snprintf(nl_buf, sizeof(nl_buf), "\n%s", buf);
	snprintf(pat, sizeof(pat), "\n%s=", key);
	line = strstr(nl_buf, pat);
	assert_non_null(line);
	eol = strchr(line + 1, '\n');
	snprintf(out, sizeof(out), "%.*s%s=%s%s", (int)(line - nl_buf), buf, key, value, eol);
	rc = hubfs_video_meta_parse(&m, out, strlen(out));
	if (rc) {
		/* Left zeroed on failure. */
		assert_true(m.size == 0 && m.sha256[0] == '\0' && m.uid == 0);
	}
	return rc;
}

static void test_parse_values(void **state)
{
	static const struct {
		const char *key;
		const char *value;
		int rc;
	} cases[] = {
		{ "size", "0", 0 },
		{ "size", "9223372036854775807", 0 },
		{ "size", "9223372036854775808", -EINVAL },
		{ "size", "18446744073709551616", -EINVAL },
		{ "size", "-1", -EINVAL },
		{ "size", "+1", -EINVAL },
		{ "size", " 1", -EINVAL },
		{ "size", "1 ", -EINVAL },
		{ "size", "0x10", -EINVAL },
		{ "size", "", -EINVAL },
		{ "size", "12abc", -EINVAL },
		{ "sha256", "", 0 },
		{ "sha256", SHA "0", -EINVAL },
		{ "sha256", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
		  -EINVAL },
		{ "sha256", "abc", -EINVAL },
		{ "duration", "0.5", 0 },
		{ "duration", "1e3", 0 },
		{ "duration", "nan", -EINVAL },
		{ "duration", "inf", -EINVAL },
		{ "duration", "-1", -EINVAL },
		{ "duration", "1e400", -EINVAL },
		{ "duration", "0x1p3", -EINVAL },
		{ "duration", "1.5s", -EINVAL },
		{ "duration", "", -EINVAL },
		{ "duration", "2e9", -EINVAL },
		{ "width", "7680", 0 },
		{ "width", "-1", -EINVAL },
		{ "width", "99999999999", -EINVAL },
		{ "height", "1.5", -EINVAL },
		{ "fps", "29.97", 0 },
		{ "fps", "1e7", -EINVAL },
		{ "video_codec", "", 0 },
		{ "video_codec", "0123456789012345678901234567890", 0 },
		{ "video_codec", "01234567890123456789012345678901", -EINVAL },
		{ "video_codec", "h\t264", -EINVAL },
		{ "video_codec", "h\x80", -EINVAL },
		{ "audio_codec", "", 0 },
		{ "container", "matroska,webm", 0 },
		{ "container", "0123456789abcdef", -EINVAL },
		{ "bitrate", "-5", -EINVAL },
		{ "bitrate", "9223372036854775807", 0 },
		{ "bitrate", "9223372036854775808", -EINVAL },
		{ "uploaded", "2026-11-27T16:13:08Z", 0 },
		{ "uploaded", "2024-02-29T00:00:00Z", 0 },
		{ "uploaded", "2023-02-29T00:00:00Z", -EINVAL },
		{ "uploaded", "2026-13-01T00:00:00Z", -EINVAL },
		{ "uploaded", "2026-00-01T00:00:00Z", -EINVAL },
		{ "uploaded", "2026-11-31T00:00:00Z", -EINVAL },
		{ "uploaded", "2026-11-27T24:00:00Z", -EINVAL },
		{ "uploaded", "2026-11-27T16:60:00Z", -EINVAL },
		{ "uploaded", "2026-11-27T16:13:60Z", -EINVAL },
		{ "uploaded", "2026-11-27 16:13:08Z", -EINVAL },
		{ "uploaded", "2026-11-27T16:13:08", -EINVAL },
		{ "uploaded", "2026-11-27T16:13:08+00:00", -EINVAL },
		{ "uploaded", "1795796588", -EINVAL },
		{ "uploaded", "+026-11-27T16:13:08Z", -EINVAL },
		{ "uploaded", "", -EINVAL },
		{ "mtime_ns", "-9223372036854775808", 0 },
		{ "mtime_ns", "-9223372036854775809", -EINVAL },
		{ "mtime_ns", "-", -EINVAL },
		{ "mtime_ns", "--1", -EINVAL },
		{ "mode", "0644", 0 },
		{ "mode", "7777", 0 },
		{ "mode", "10000", -EINVAL },
		{ "mode", "0648", -EINVAL },
		{ "mode", "", -EINVAL },
		{ "mode", "0x1ff", -EINVAL },
		{ "mode", "00000000000000000000000000000644", 0 },
		{ "mode", "7777777777777777777777777777777", -EINVAL },
		{ "uid", "4294967295", 0 },
		{ "uid", "4294967296", -EINVAL },
		{ "gid", "-1", -EINVAL },
		{ "file_mtime_ns", "12", 0 },
		{ "file_size", "abc", -EINVAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse_with(cases[i].key, cases[i].value);

		if (rc != cases[i].rc)
			fail_msg("%s=%s: got %d, expected %d", cases[i].key, cases[i].value, rc,
				 cases[i].rc);
	}
}

static void test_parse_values_stored(void **state)
{
	struct hubfs_video_meta m;
	const char *text =
		"size=10\nsha256=\nduration=2.5\nwidth=640\nheight=480\nfps=25\n"
		"video_codec=vp9\naudio_codec=\ncontainer=webm\nbitrate=800000\n"
		"uploaded=2026-11-27T16:13:08Z\nmtime_ns=7\nmode=0600\nuid=1\n"
		"gid=2\nfile_mtime_ns=3\nfile_size=10\nfuture_key=whatever it is\n\n";

	(void)state;
	assert_int_equal(hubfs_video_meta_parse(&m, text, strlen(text)), 0);
	assert_true(m.size == 10);
	assert_string_equal(m.sha256, "");
	assert_true(m.media.duration == 2.5);
	assert_int_equal(m.media.width, 640);
	assert_string_equal(m.media.video_codec, "vp9");
	assert_string_equal(m.media.audio_codec, "");
	assert_true(m.uploaded == 1795795988);
	assert_int_equal(m.mode, 0600);
	assert_int_equal(m.gid, 2);
}

static void test_parse_malformed(void **state)
{
	struct hubfs_video_meta m;
	char buf[1024], bad[1200];
	int n;

	(void)state;
	sample(&m);
	n = hubfs_video_meta_format(&m, buf, sizeof(buf));
	assert_true(n > 0);

	/* Empty input is not a record. */
	assert_int_equal(hubfs_video_meta_parse(&m, "", 0), -EINVAL);
	assert_int_equal(hubfs_video_meta_parse(&m, NULL, 0), -EINVAL);
	assert_int_equal(hubfs_video_meta_parse(&m, NULL, 5), -EINVAL);
	/* A line without '=', an empty key, a bad key, a repeated key, a NUL, CR. */
	snprintf(bad, sizeof(bad), "%sjunk\n", buf);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	snprintf(bad, sizeof(bad), "%s=x\n", buf);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	snprintf(bad, sizeof(bad), "%sSize=1\n", buf);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	snprintf(bad, sizeof(bad), "%ssize=1\n", buf);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	snprintf(bad, sizeof(bad), "%sx y=1\n", buf);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[5] = '\0'; /* inside "size=1234567" */
	assert_int_equal(hubfs_video_meta_parse(&m, bad, (size_t)n), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	memcpy(bad + n, "x=\0\n", 4); /* NUL in an unknown key's value */
	assert_int_equal(hubfs_video_meta_parse(&m, bad, (size_t)n + 4), -EINVAL);
	snprintf(bad, sizeof(bad), "%s", buf);
	bad[strchr(bad, '\n') - bad] = '\r';
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	/* An overlong value of a known key. */
	snprintf(bad, sizeof(bad), "%ssha256=%0300d\n", strchr(buf, '\n') + 1, 0);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, strlen(bad)), -EINVAL);
	/* Not NUL-terminated: the parser stops at @len. */
	memcpy(bad, buf, (size_t)n);
	memset(bad + n, 'Z', 32);
	assert_int_equal(hubfs_video_meta_parse(&m, bad, (size_t)n), 0);
}

/* Torture: every prefix and every single-byte corruption parses cleanly or not at all. */
static void test_parse_torture(void **state)
{
	struct hubfs_video_meta m, ref;
	char buf[1024];
	int n;

	(void)state;
	sample(&ref);
	n = hubfs_video_meta_format(&ref, buf, sizeof(buf));
	assert_true(n > 0);
	for (int len = 0; len < n; len++) {
		/* A heap copy of exactly @len bytes: ASan catches any read past the end. */
		char *copy = malloc(len ? (size_t)len : 1);

		memcpy(copy, buf, (size_t)len);
		assert_int_equal(hubfs_video_meta_parse(&m, copy, (size_t)len), -EINVAL);
		free(copy);
	}
	for (int pos = 0; pos < n; pos++) {
		static const char subst[] = { '\0', '\n', '=', '-', '9', 'x', ' ', '\x7f', '\xff' };

		for (size_t s = 0; s < sizeof(subst); s++) {
			char *copy = malloc((size_t)n);
			int rc;

			memcpy(copy, buf, (size_t)n);
			copy[pos] = subst[s];
			rc = hubfs_video_meta_parse(&m, copy, (size_t)n);
			assert_true(rc == 0 || rc == -EINVAL);
			if (rc == 0) {
				char again[1024];

				/* Whatever was accepted is a record that writes back. */
				assert_true(hubfs_video_meta_format(&m, again, sizeof(again)) > 0);
			}
			free(copy);
		}
	}
	assert_int_equal(hubfs_video_meta_parse(&m, buf, (size_t)n), 0);
}

static void test_xattr_values(void **state)
{
	static const struct {
		const char *name;
		const char *value;
	} want[] = {
		{ "user.hub.duration", "5.000" },   { "user.hub.width", "1920" },
		{ "user.hub.height", "1080" },      { "user.hub.fps", "29.97" },
		{ "user.hub.video_codec", "h264" }, { "user.hub.audio_codec", "aac" },
		{ "user.hub.container", "mp4" },    { "user.hub.bitrate", "1975307" },
		{ "user.hub.sha256", SHA },         { "user.hub.uploaded", "2026-11-27T16:23:08Z" },
	};
	struct hubfs_video_meta m;
	char buf[128];

	(void)state;
	sample(&m);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t len = strlen(want[i].value);
		int n;

		memset(buf, 'Q', sizeof(buf));
		n = hubfs_video_meta_xattr(&m, want[i].name, buf, sizeof(buf));
		assert_int_equal(n, (int)len);
		assert_memory_equal(buf, want[i].value, len);
		/* Size query: the length, nothing written. */
		memset(buf, 'Q', sizeof(buf));
		assert_int_equal(hubfs_video_meta_xattr(&m, want[i].name, buf, 0), (int)len);
		assert_int_equal(buf[0], 'Q');
		assert_int_equal(hubfs_video_meta_xattr(&m, want[i].name, NULL, 0), (int)len);
		/* One byte short: ERANGE; exactly enough: fine. */
		assert_int_equal(hubfs_video_meta_xattr(&m, want[i].name, buf, len - 1), -ERANGE);
		assert_int_equal(hubfs_video_meta_xattr(&m, want[i].name, buf, len), (int)len);
	}
	m.media.fps = 30;
	assert_int_equal(hubfs_video_meta_xattr(&m, "user.hub.fps", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "30.00", 5);

	assert_int_equal(hubfs_video_meta_xattr(&m, "user.hub.nope", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(hubfs_video_meta_xattr(&m, "user.hub.size", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(hubfs_video_meta_xattr(&m, "user.hub.duration.x", buf, 0), -ENODATA);
	assert_int_equal(hubfs_video_meta_xattr(&m, "", buf, sizeof(buf)), -ENODATA);
	m.media.audio_codec[0] = '\0';
	assert_int_equal(hubfs_video_meta_xattr(&m, "user.hub.audio_codec", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(hubfs_video_meta_xattr(&m, "user.hub.audio_codec", NULL, 0), -ENODATA);
}

static void test_xattr_list(void **state)
{
	static const char all[] =
		"user.hub.duration\0user.hub.width\0user.hub.height\0"
		"user.hub.fps\0user.hub.video_codec\0user.hub.audio_codec\0"
		"user.hub.container\0user.hub.bitrate\0user.hub.sha256\0"
		"user.hub.uploaded";
	static const char noaudio[] =
		"user.hub.duration\0user.hub.width\0user.hub.height\0"
		"user.hub.fps\0user.hub.video_codec\0"
		"user.hub.container\0user.hub.bitrate\0user.hub.sha256\0"
		"user.hub.uploaded";
	struct hubfs_video_meta m;
	char buf[512];

	(void)state;
	sample(&m);
	memset(buf, 'Q', sizeof(buf));
	assert_int_equal(hubfs_video_meta_xattr_list(&m, buf, 0), (int)sizeof(all));
	assert_int_equal(buf[0], 'Q');
	assert_int_equal(hubfs_video_meta_xattr_list(&m, NULL, 0), (int)sizeof(all));
	assert_int_equal(hubfs_video_meta_xattr_list(&m, buf, sizeof(buf)), (int)sizeof(all));
	assert_memory_equal(buf, all, sizeof(all));
	assert_int_equal(hubfs_video_meta_xattr_list(&m, buf, sizeof(all) - 1), -ERANGE);
	assert_int_equal(hubfs_video_meta_xattr_list(&m, buf, 1), -ERANGE);
	assert_int_equal(hubfs_video_meta_xattr_list(&m, buf, sizeof(all)), (int)sizeof(all));

	/* Every listed name has a value; no audio: not listed. */
	m.media.audio_codec[0] = '\0';
	assert_int_equal(hubfs_video_meta_xattr_list(&m, buf, sizeof(buf)), (int)sizeof(noaudio));
	assert_memory_equal(buf, noaudio, sizeof(noaudio));
	for (const char *p = buf; p < buf + sizeof(noaudio); p += strlen(p) + 1)
		assert_true(hubfs_video_meta_xattr(&m, p, NULL, 0) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_text),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_format_nospc),
		cmocka_unit_test(test_format_refuses_unreadable),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_parse_values_stored),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_torture),
		cmocka_unit_test(test_xattr_values),
		cmocka_unit_test(test_xattr_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
