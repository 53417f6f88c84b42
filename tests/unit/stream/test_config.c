/*
 * test_config.c — unit tests for src/stream/config.c (a stream's config file) and the
 * catalog's streams table (src/catalog/streams.c): defaults, every key's good and bad
 * values, all-or-nothing merges, formatting round trips, ISO 8601 times, URL redaction,
 * stream names, and the table's add/update/rename/delete/list.
 *
 * Single-threaded; an in-memory catalog per table test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hubfs/catalog.h"
#include "hubfs/catalog_streams.h"
#include "hubfs/config.h"
#include "hubfs/stream.h"

#define NOW ((int64_t)1800000000) /* 2027-01-15T08:00:00Z */

static int t_apply(struct hubfs_stream_conf *c, const char *text, char *err, size_t len)
{
	return hubfs_stream_conf_apply(c, text, strlen(text), NOW, NULL, err, len);
}

static void t_defaults(struct hubfs_stream_conf *c)
{
	struct hubfs_config cfg = { 0 };

	cfg.default_resolution = (char *)"720p";
	cfg.default_bitrate_kbps = 3000;
	hubfs_stream_conf_defaults(c, &cfg);
}

static void test_defaults_and_format(void **state)
{
	struct hubfs_stream_conf c;
	char *text;

	(void)state;
	t_defaults(&c);
	assert_int_equal(c.width, 1280);
	assert_int_equal(c.height, 720);
	assert_int_equal(c.bitrate_kbps, 3000);
	text = hubfs_stream_conf_format(&c);
	assert_non_null(text);
	assert_string_equal(text,
			    "source=testsrc\nloop=no\nresolution=720p\nfps=30\n"
			    "bitrate=3000k\noutput=hls\nrecord=no\nrestart=no\n"
			    "start_at=\nstop_at=\n");
	free(text);
}

static void test_every_key(void **state)
{
	struct hubfs_stream_conf c, back;
	char err[256];
	char *text;

	(void)state;
	t_defaults(&c);
	assert_int_equal(t_apply(&c,
				 "source=videos/coll/a b.mp4\nloop=yes\nresolution=4K\nfps=25\n"
				 "bitrate=12M\noutput=rtmp://127.0.0.1:1935/live/key\nrecord=yes\n"
				 "restart=on-failure\nstart_at=2027-01-15T09:00:00Z\n"
				 "stop_at=2027-01-15T11:00:00+01:00\n",
				 err, sizeof(err)),
			 0);
	assert_string_equal(c.source, "videos/coll/a b.mp4");
	assert_int_equal(c.source_kind, HUBFS_SRC_VIDEO);
	assert_true(c.loop);
	assert_int_equal(c.width, 3840);
	assert_int_equal(c.fps, 25);
	assert_int_equal(c.bitrate_kbps, 12000);
	assert_true(c.record);
	assert_true(c.restart_on_failure);
	assert_int_equal(c.start_at, NOW + 3600);
	assert_int_equal(c.stop_at, NOW + 7200);
	/* What reading shows, writing takes back unchanged. */
	text = hubfs_stream_conf_format(&c);
	assert_non_null(text);
	t_defaults(&back);
	assert_int_equal(
		hubfs_stream_conf_apply(&back, text, strlen(text), 0, NULL, err, sizeof(err)), 0);
	free(text);
	assert_string_equal(back.source, c.source);
	assert_string_equal(back.output, c.output);
	assert_int_equal(back.start_at, c.start_at);
	assert_int_equal(back.stop_at, c.stop_at);
	assert_int_equal(back.bitrate_kbps, c.bitrate_kbps);
}

static void test_bad_values_change_nothing(void **state)
{
	static const char *const bad[] = {
		"resolution=360p",
		"resolution=",
		"bitrate=999k",
		"bitrate=12001k",
		"bitrate=13M",
		"bitrate=0M",
		"bitrate=5000",
		"fps=0",
		"fps=61",
		"fps=30.5",
		"loop=maybe",
		"record=",
		"restart=always",
		"source=",
		"source=nothing",
		"source=videos/",
		"source=videos/../a.mp4",
		"source=videos/a.txt",
		"source=ftp://host/a",
		"source=rtmp://",
		"source=rtmp://host:99999/a",
		"source=/dev/video",
		"source=/dev/videoX",
		"source=/dev/sda",
		"output=file.mp4",
		"output=rtmp://host",
		"output=rtmp://host/",
		"output=srt://host",
		"output=http://host/a",
		"output=rtmp://ho st/app",
		"start_at=tomorrow",
		"start_at=2020-01-01T00:00:00Z", /* in the past */
		"start_at=2027-02-30T00:00:00Z",
		"start_at=2027-01-15T25:00:00Z",
		"stop_at=2027-01-15T07:00:00Z",
		"colour=blue",
		"no equals sign",
		"=value",
	};
	struct hubfs_stream_conf c, before;
	char err[256];

	(void)state;
	t_defaults(&c);
	before = c;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[300];

		/* A good line first: all or nothing means it is not applied either. */
		snprintf(text, sizeof(text), "bitrate=2000k\n%s\n", bad[i]);
		err[0] = '\0';
		if (t_apply(&c, text, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(err[0] != '\0');
		assert_memory_equal(&c, &before, sizeof(c));
	}
	assert_int_equal(hubfs_stream_conf_apply(&c, "fps=30\0x", 8, NOW, NULL, err, sizeof(err)),
			 -EINVAL);
	/* stop_at before start_at */
	assert_int_equal(t_apply(&c, "start_at=2027-01-15T10:00:00Z\nstop_at=2027-01-15T09:00:00Z",
				 err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "stop_at"));
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_merge_and_changed(void **state)
{
	struct hubfs_stream_conf c;
	bool changed = true;
	char err[256];

	(void)state;
	t_defaults(&c);
	/* Comments, blank lines, spaces and CRLF are fine; one key changes one key. */
	{
		const char *text = "# a comment\n\n  bitrate = 3M \r\n";

		assert_int_equal(hubfs_stream_conf_apply(&c, text, strlen(text), NOW, &changed, err,
							 sizeof(err)),
				 0);
	}
	assert_false(changed); /* 3M is the default 3000k */
	assert_int_equal(hubfs_stream_conf_apply(&c, "bitrate=1500k", 13, NOW, &changed, err,
						 sizeof(err)),
			 0);
	assert_true(changed);
	assert_int_equal(c.bitrate_kbps, 1500);
	assert_int_equal(c.width, 1280);
	/* Clearing a time. */
	assert_int_equal(t_apply(&c, "start_at=2027-01-15T09:00:00Z", err, sizeof(err)), 0);
	assert_int_equal(t_apply(&c, "start_at=", err, sizeof(err)), 0);
	assert_int_equal(c.start_at, 0);
	/* A stored config with a time now in the past loads (now = 0: no check). */
	assert_int_equal(hubfs_stream_conf_apply(&c, "start_at=2020-01-01T00:00:00Z", 29, 0, NULL,
						 err, sizeof(err)),
			 0);
	assert_int_equal(c.start_at, 1577836800);
}

static void test_sources_and_outputs(void **state)
{
	static const char *const sources[] = {
		"testsrc",
		"videos/a.mp4",
		"rtmp://127.0.0.1/live/x",
		"rtmps://example.com:443/app/key?token=1",
		"rtsp://cam.local:554/stream1",
		"srt://10.0.0.1:9000?streamid=x",
		"http://host/a.m3u8",
		"https://user:pw@host/a.mp4",
		"/dev/video0",
		"/dev/video12",
		"rtsp://[::1]:554/s",
	};
	static const char *const outputs[] = {
		"hls",
		"rtmp://127.0.0.1:1935/live/key",
		"rtmp://host/app",
		"srt://host:9000",
		"srt://host:9000?streamid=a",
	};
	struct hubfs_stream_conf c;
	char err[256], line[1200];

	(void)state;
	t_defaults(&c);
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		snprintf(line, sizeof(line), "source=%s", sources[i]);
		if (t_apply(&c, line, err, sizeof(err)))
			fail_msg("refused '%s': %s", sources[i], err);
		assert_string_equal(c.source, sources[i]);
	}
	for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
		snprintf(line, sizeof(line), "output=%s", outputs[i]);
		if (t_apply(&c, line, err, sizeof(err)))
			fail_msg("refused '%s': %s", outputs[i], err);
	}
}

static void test_redact(void **state)
{
	char out[256];

	(void)state;
	hubfs_stream_url_redact("rtmp://127.0.0.1:1935/live/secretkey", out, sizeof(out));
	assert_string_equal(out, "rtmp://127.0.0.1:1935/live/...");
	hubfs_stream_url_redact("rtmp://host/app", out, sizeof(out));
	assert_string_equal(out, "rtmp://host/app");
	hubfs_stream_url_redact("srt://host:9000?passphrase=secret", out, sizeof(out));
	assert_string_equal(out, "srt://host:9000?...");
	hubfs_stream_url_redact("https://user:pw@host/a/b", out, sizeof(out));
	assert_string_equal(out, "https://host/a/...");
	hubfs_stream_url_redact("hls", out, sizeof(out));
	assert_string_equal(out, "hls");
	/* A refused URL is shown redacted in the error too. */
	{
		struct hubfs_stream_conf c;
		char err[256];

		t_defaults(&c);
		assert_int_equal(t_apply(&c, "output=rtmp://ho st/app/secretkey", err, sizeof(err)),
				 -EINVAL);
		assert_null(strstr(err, "secretkey"));
	}
}

static void test_times(void **state)
{
	int64_t t;
	char out[32];

	(void)state;
	assert_int_equal(hubfs_stream_time_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(hubfs_stream_time_parse("2026-11-27T19:00:00Z", &t), 0);
	assert_int_equal(t, 1795806000);
	assert_int_equal(hubfs_stream_time_parse("2026-11-27 20:00:00+01:00", &t), 0);
	assert_int_equal(t, 1795806000);
	assert_int_equal(hubfs_stream_time_parse("2026-11-27T18:30-0030", &t), 0);
	assert_int_equal(t, 1795806000);
	assert_int_equal(hubfs_stream_time_parse("2026-11-27T19:00:00.250Z", &t), 0);
	assert_int_equal(t, 1795806000);
	assert_int_equal(hubfs_stream_time_parse("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(hubfs_stream_time_parse("2023-02-29T00:00:00Z", &t), -EINVAL);
	assert_int_equal(hubfs_stream_time_parse("2026-11-27", &t), -EINVAL);
	assert_int_equal(hubfs_stream_time_parse("2026-11-27T19:00:00Zjunk", &t), -EINVAL);
	assert_int_equal(hubfs_stream_time_parse("", &t), -EINVAL);
	hubfs_stream_time_format(1795806000, out, sizeof(out));
	assert_string_equal(out, "2026-11-27T19:00:00Z");
}

static void test_names(void **state)
{
	char long_name[70];

	(void)state;
	assert_true(hubfs_stream_name_ok("cam1"));
	assert_true(hubfs_stream_name_ok("a.b_c-D9"));
	assert_false(hubfs_stream_name_ok(""));
	assert_false(hubfs_stream_name_ok("."));
	assert_false(hubfs_stream_name_ok(".."));
	assert_false(hubfs_stream_name_ok("a b"));
	assert_false(hubfs_stream_name_ok("a/b"));
	assert_false(hubfs_stream_name_ok("a\nb"));
	assert_false(hubfs_stream_name_ok("caf\xc3\xa9"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	assert_true(hubfs_stream_name_ok(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	assert_false(hubfs_stream_name_ok(long_name));
}

struct t_rows {
	char names[8][80];
	char configs[8][80];
	bool done[8];
	int n;
};

static int t_collect(void *arg, const struct hubfs_cat_stream *s)
{
	struct t_rows *r = arg;

	snprintf(r->names[r->n], sizeof(r->names[0]), "%s", s->name);
	snprintf(r->configs[r->n], sizeof(r->configs[0]), "%s", s->config);
	r->done[r->n] = s->sched_done;
	r->n++;
	return 0;
}

static void test_catalog_table(void **state)
{
	struct hubfs_catalog *cat;
	struct t_rows rows = { 0 };

	(void)state;
	assert_int_equal(hubfs_catalog_open(&cat, ":memory:"), 0);
	assert_int_equal(hubfs_catalog_stream_add(cat, "b", "fps=30\n", 1), 0);
	assert_int_equal(hubfs_catalog_stream_add(cat, "a", "fps=25\n", 2), 0);
	assert_int_equal(hubfs_catalog_stream_add(cat, "a", "fps=25\n", 2), -EEXIST);
	assert_int_equal(hubfs_catalog_stream_update(cat, "b", "fps=50\n", true), 0);
	assert_int_equal(hubfs_catalog_stream_update(cat, "zz", "fps=50\n", true), -ENOENT);
	assert_int_equal(hubfs_catalog_stream_rename(cat, "a", "b"), -EEXIST);
	assert_int_equal(hubfs_catalog_stream_rename(cat, "a", "c"), 0);
	assert_int_equal(hubfs_catalog_stream_rename(cat, "a", "d"), -ENOENT);
	assert_int_equal(hubfs_catalog_stream_list(cat, t_collect, &rows), 0);
	assert_int_equal(rows.n, 2);
	assert_string_equal(rows.names[0], "b");
	assert_string_equal(rows.configs[0], "fps=50\n");
	assert_true(rows.done[0]);
	assert_string_equal(rows.names[1], "c");
	assert_false(rows.done[1]);
	assert_int_equal(hubfs_catalog_stream_delete(cat, "c"), 0);
	assert_int_equal(hubfs_catalog_stream_delete(cat, "c"), -ENOENT);
	hubfs_catalog_close(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_format),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_bad_values_change_nothing),
		cmocka_unit_test(test_merge_and_changed),
		cmocka_unit_test(test_sources_and_outputs),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_catalog_table),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
