/*
 * test_config.c — unit tests for src/config/config.c: the option table (every option's
 * validation), precedence defaults < INI < environment < -o, credentials (refused as
 * options, read from the environment, never formatted), the INI parser (with a torture loop
 * over every prefix of a file) and finish()'s derived defaults.
 *
 * Owns its temp files (removed by each test). Single-threaded; the fake environment is a
 * static table. Runs under ASan/LeakSanitizer: every config is released.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hubfs/config.h"

/* ---- a fake environment ---- */

struct fake_var {
	const char *name;
	const char *value;
};

static const struct fake_var *fake_env; /* ends with { NULL, NULL } */

static char *fake_getenv(const char *name)
{
	for (size_t i = 0; fake_env && fake_env[i].name; i++)
		if (!strcmp(fake_env[i].name, name))
			return (char *)fake_env[i].value;
	return NULL;
}

/* ---- helpers ---- */

/* The formatted value of @key ("" when unset), copied into a static buffer. */
static const char *get(const struct hubfs_config *cfg, const char *key)
{
	static char value[4200];
	char *text = hubfs_config_format(cfg);
	char pat[64];
	const char *line, *eol;

	assert_non_null(text);
	snprintf(pat, sizeof(pat), "\n%s=", key);
	if (!strncmp(text, pat + 1, strlen(pat + 1)))
		line = text + strlen(pat + 1);
	else {
		line = strstr(text, pat);
		assert_non_null(line);
		line += strlen(pat);
	}
	eol = strchr(line, '\n');
	assert_non_null(eol);
	snprintf(value, sizeof(value), "%.*s", (int)(eol - line), line);
	free(text);
	return value;
}

/* A temp file holding @text; the caller unlinks it. */
static void write_file(char *path, const char *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/hubfs-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static int load_ini_text(struct hubfs_config *cfg, const char *text, char *err, size_t errlen)
{
	char path[64];
	int rc;

	write_file(path, text, strlen(text));
	rc = hubfs_config_load_ini(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

static int set_opt(struct hubfs_config *cfg, const char *key, const char *value)
{
	char err[HUBFS_CONFIG_ERR_MAX];

	return hubfs_config_set(cfg, key, value, HUBFS_SRC_OPT, err, sizeof(err));
}

/* ---- tests ---- */

static void test_defaults(void **state)
{
	static const struct fake_var env[] = {
		{ "HOME", "/home/u" },
		{ NULL, NULL },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];
	char *text;

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(cfg.backend, HUBFS_BACKEND_LOCAL);
	assert_null(cfg.data_dir);
	assert_null(cfg.state_dir);
	assert_true(cfg.max_upload_mb == 500);
	assert_null(cfg.s3_bucket);
	assert_string_equal(cfg.s3_region, "us-east-1");
	assert_null(cfg.s3_endpoint);
	assert_string_equal(cfg.s3_prefix, "");
	assert_true(cfg.cache_mb == 1024);
	assert_false(cfg.p2p);
	assert_null(cfg.node_name);
	assert_string_equal(cfg.listen, "0.0.0.0:7878");
	assert_string_equal(cfg.peers, "");
	assert_int_equal(cfg.discovery, HUBFS_DISCOVERY_AVAHI);
	assert_null(cfg.network_key_file);
	assert_false(cfg.notes_default_shared);
	assert_true(cfg.notes_max_mb == 10);
	assert_string_equal(cfg.default_resolution, "1080p");
	assert_int_equal(cfg.default_bitrate_kbps, 5000);
	assert_int_equal(cfg.max_streams, 4);
	assert_int_equal(hubfs_config_source_of(&cfg, "backend"), HUBFS_SRC_DEFAULT);
	assert_int_equal(hubfs_config_source_of(&cfg, "nope"), -ENOENT);

	fake_env = env;
	assert_int_equal(hubfs_config_finish_as(&cfg, 1000, fake_getenv, err, sizeof(err)), 0);
	fake_env = NULL;
	text = hubfs_config_format(&cfg);
	assert_non_null(text);
	/* Every option, in table order, then the credentials line; node_name varies. */
	assert_non_null(strstr(text,
			       "backend=local\n"
			       "data_dir=/home/u/.local/state/hubfs/videos\n"
			       "state_dir=/home/u/.local/state/hubfs\n"
			       "max_upload_mb=500\n"
			       "s3_bucket=\n"
			       "s3_region=us-east-1\n"
			       "s3_endpoint=\n"
			       "s3_prefix=\n"
			       "cache_mb=1024\n"
			       "p2p=off\n"
			       "node_name="));
	assert_non_null(strstr(text,
			       "\nlisten=0.0.0.0:7878\n"
			       "peers=\n"
			       "discovery=avahi\n"
			       "network_key_file=/home/u/.local/state/hubfs/network.key\n"
			       "notes_default=private\n"
			       "notes_max_mb=10\n"
			       "default_resolution=1080p\n"
			       "default_bitrate=5000k\n"
			       "max_streams=4\n"
			       "aws_credentials=(unset)\n"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	hubfs_config_release(&cfg);
	hubfs_config_release(&cfg); /* released twice: still fine */
	hubfs_config_release(NULL);
}

struct vcase {
	const char *key;
	const char *value;
	int rc;
	const char *stored; /* formatted back; NULL: same as value */
};

static const struct vcase vcases[] = {
	{ "backend", "local", 0, NULL },
	{ "backend", "s3", 0, NULL },
	{ "backend", "S3", 0, "s3" },
	{ "backend", "LOCAL", 0, "local" },
	{ "backend", "nfs", -EINVAL, NULL },
	{ "backend", "", -EINVAL, NULL },
	{ "backend", "s3 ", -EINVAL, NULL },
	{ "data_dir", "/srv/videos", 0, NULL },
	{ "data_dir", "", -EINVAL, NULL },
	{ "data_dir", "/a\nb", -EINVAL, NULL },
	{ "data_dir", "/a\rb", -EINVAL, NULL },
	{ "state_dir", "/var/lib/x", 0, NULL },
	{ "state_dir", "", -EINVAL, NULL },
	{ "network_key_file", "/etc/hubfs/key", 0, NULL },
	{ "network_key_file", "", -EINVAL, NULL },
	{ "max_upload_mb", "1", 0, NULL },
	{ "max_upload_mb", "1048576", 0, NULL },
	{ "max_upload_mb", "0", -EINVAL, NULL },
	{ "max_upload_mb", "1048577", -EINVAL, NULL },
	{ "max_upload_mb", "abc", -EINVAL, NULL },
	{ "max_upload_mb", "-1", -EINVAL, NULL },
	{ "max_upload_mb", "+5", -EINVAL, NULL },
	{ "max_upload_mb", " 5", -EINVAL, NULL },
	{ "max_upload_mb", "5MB", -EINVAL, NULL },
	{ "max_upload_mb", "1.5", -EINVAL, NULL },
	{ "max_upload_mb", "99999999999999999999999", -EINVAL, NULL },
	{ "max_upload_mb", "", -EINVAL, NULL },
	{ "notes_max_mb", "1024", 0, NULL },
	{ "notes_max_mb", "1025", -EINVAL, NULL },
	{ "notes_max_mb", "0", -EINVAL, NULL },
	{ "cache_mb", "0", 0, NULL },
	{ "cache_mb", "16777216", 0, NULL },
	{ "cache_mb", "16777217", -EINVAL, NULL },
	{ "cache_mb", "-0", -EINVAL, NULL },
	{ "s3_bucket", "media", 0, NULL },
	{ "s3_bucket", "my.bucket-01", 0, NULL },
	{ "s3_bucket", "", 0, "" },
	{ "s3_bucket", "ab", -EINVAL, NULL },
	{ "s3_bucket", "-media", -EINVAL, NULL },
	{ "s3_bucket", "media-", -EINVAL, NULL },
	{ "s3_bucket", "me dia", -EINVAL, NULL },
	{ "s3_bucket", "a/b", -EINVAL, NULL },
	{ "s3_region", "eu-west-3", 0, NULL },
	{ "s3_region", "EU-WEST-3", -EINVAL, NULL },
	{ "s3_region", "", -EINVAL, NULL },
	{ "s3_region", "eu_west", -EINVAL, NULL },
	{ "s3_endpoint", "http://minio:9000", 0, NULL },
	{ "s3_endpoint", "https://s3.example.com/", 0, "https://s3.example.com" },
	{ "s3_endpoint", "HTTPS://s3.example.com/base//", 0, "https://s3.example.com/base" },
	{ "s3_endpoint", "http://10.0.0.1:9000", 0, NULL },
	{ "s3_endpoint", "http://[::1]:9000", 0, NULL },
	{ "s3_endpoint", "http://[::1]", 0, NULL },
	{ "s3_endpoint", "", 0, "" },
	{ "s3_endpoint", "minio:9000", -EINVAL, NULL },
	{ "s3_endpoint", "ftp://x", -EINVAL, NULL },
	{ "s3_endpoint", "http://", -EINVAL, NULL },
	{ "s3_endpoint", "http:///x", -EINVAL, NULL },
	{ "s3_endpoint", "http://user:pw@minio:9000", -EINVAL, NULL },
	{ "s3_endpoint", "http://minio:0", -EINVAL, NULL },
	{ "s3_endpoint", "http://minio:99999", -EINVAL, NULL },
	{ "s3_endpoint", "http://mi nio", -EINVAL, NULL },
	{ "s3_endpoint", "http://[::1", -EINVAL, NULL },
	{ "s3_prefix", "", 0, NULL },
	{ "s3_prefix", "hub/videos/", 0, NULL },
	{ "s3_prefix", "/hub", -EINVAL, NULL },
	{ "s3_prefix", "a\tb", -EINVAL, NULL },
	{ "p2p", "on", 0, "on" },
	{ "p2p", "TRUE", 0, "on" },
	{ "p2p", "Yes", 0, "on" },
	{ "p2p", "1", 0, "on" },
	{ "p2p", "OFF", 0, "off" },
	{ "p2p", "false", 0, "off" },
	{ "p2p", "no", 0, "off" },
	{ "p2p", "0", 0, "off" },
	{ "p2p", "enabled", -EINVAL, NULL },
	{ "p2p", "", -EINVAL, NULL },
	{ "p2p", "2", -EINVAL, NULL },
	{ "node_name", "studio-1", 0, NULL },
	{ "node_name", "a.b_c-D9", 0, NULL },
	{ "node_name", "0123456789012345678901234567890123456789012345678901234567890123", 0,
	  NULL },
	{ "node_name", "01234567890123456789012345678901234567890123456789012345678901234", -EINVAL,
	  NULL },
	{ "node_name", "", -EINVAL, NULL },
	{ "node_name", "my host", -EINVAL, NULL },
	{ "node_name", "a/b", -EINVAL, NULL },
	{ "node_name", "..", -EINVAL, NULL },
	{ "node_name", "caf\xc3\xa9", -EINVAL, NULL },
	{ "listen", "0.0.0.0:7878", 0, NULL },
	{ "listen", "127.0.0.1:1", 0, NULL },
	{ "listen", "[::]:7878", 0, NULL },
	{ "listen", "[fe80::1%eth0]:7878", 0, NULL },
	{ "listen", "hub.local:65535", 0, NULL },
	{ "listen", "my_host:80", 0, NULL },
	{ "listen", "7878", -EINVAL, NULL },
	{ "listen", ":7878", -EINVAL, NULL },
	{ "listen", "host:", -EINVAL, NULL },
	{ "listen", "host:0", -EINVAL, NULL },
	{ "listen", "host:65536", -EINVAL, NULL },
	{ "listen", "host:-1", -EINVAL, NULL },
	{ "listen", "host:80x", -EINVAL, NULL },
	{ "listen", "::1:7878", -EINVAL, NULL },
	{ "listen", "[::g]:7878", -EINVAL, NULL },
	{ "listen", "[::1]", -EINVAL, NULL },
	{ "listen", "256.0.0.1:80", -EINVAL, NULL },
	{ "listen", "1.2.3:80", -EINVAL, NULL },
	{ "listen", "-host:80", -EINVAL, NULL },
	{ "listen", "host-:80", -EINVAL, NULL },
	{ "listen", "a..b:80", -EINVAL, NULL },
	{ "listen", "host.:80", -EINVAL, NULL },
	{ "listen", "ho st:80", -EINVAL, NULL },
	{ "peers", "", 0, NULL },
	{ "peers", "a:1", 0, NULL },
	{ "peers", "a:1,10.0.0.2:7878,[::1]:7878", 0, NULL },
	{ "peers", " a:1 , b:2 ", 0, "a:1,b:2" },
	{ "peers", "  ", 0, "" },
	{ "peers", "a:1,", -EINVAL, NULL },
	{ "peers", ",a:1", -EINVAL, NULL },
	{ "peers", "a:1,,b:2", -EINVAL, NULL },
	{ "peers", "a", -EINVAL, NULL },
	{ "peers", "a:1;b:2", -EINVAL, NULL },
	{ "discovery", "avahi", 0, NULL },
	{ "discovery", "OFF", 0, "off" },
	{ "discovery", "mdns", -EINVAL, NULL },
	{ "discovery", "on", -EINVAL, NULL },
	{ "notes_default", "shared", 0, NULL },
	{ "notes_default", "Private", 0, "private" },
	{ "notes_default", "public", -EINVAL, NULL },
	{ "default_resolution", "480p", 0, NULL },
	{ "default_resolution", "720p", 0, NULL },
	{ "default_resolution", "1080p", 0, NULL },
	{ "default_resolution", "2K", 0, NULL },
	{ "default_resolution", "2k", 0, "2K" },
	{ "default_resolution", "4k", 0, "4K" },
	{ "default_resolution", "1440p", -EINVAL, NULL },
	{ "default_resolution", "1080", -EINVAL, NULL },
	{ "default_resolution", "8K", -EINVAL, NULL },
	{ "default_bitrate", "1000k", 0, NULL },
	{ "default_bitrate", "12000k", 0, NULL },
	{ "default_bitrate", "3000K", 0, "3000k" },
	{ "default_bitrate", "1M", 0, "1000k" },
	{ "default_bitrate", "12m", 0, "12000k" },
	{ "default_bitrate", "999k", -EINVAL, NULL },
	{ "default_bitrate", "12001k", -EINVAL, NULL },
	{ "default_bitrate", "0M", -EINVAL, NULL },
	{ "default_bitrate", "13M", -EINVAL, NULL },
	{ "default_bitrate", "5000", -EINVAL, NULL },
	{ "default_bitrate", "2.5M", -EINVAL, NULL },
	{ "default_bitrate", "5000kb", -EINVAL, NULL },
	{ "default_bitrate", "k", -EINVAL, NULL },
	{ "default_bitrate", "-1M", -EINVAL, NULL },
	{ "default_bitrate", "", -EINVAL, NULL },
	{ "max_streams", "1", 0, NULL },
	{ "max_streams", "64", 0, NULL },
	{ "max_streams", "0", -EINVAL, NULL },
	{ "max_streams", "65", -EINVAL, NULL },
};

static void test_validation(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];
		char err[HUBFS_CONFIG_ERR_MAX] = "";
		struct hubfs_config cfg;
		char before[4200];
		int rc;

		assert_int_equal(hubfs_config_init(&cfg), 0);
		snprintf(before, sizeof(before), "%s", get(&cfg, c->key));
		rc = hubfs_config_set(&cfg, c->key, c->value, HUBFS_SRC_OPT, err, sizeof(err));
		if (rc != c->rc)
			fail_msg("%s=%s: got %d (%s), expected %d", c->key, c->value, rc, err,
				 c->rc);
		if (rc == 0) {
			const char *want = c->stored ? c->stored : c->value;

			if (strcmp(get(&cfg, c->key), want))
				fail_msg("%s=%s: stored '%s', expected '%s'", c->key, c->value,
					 get(&cfg, c->key), want);
			assert_int_equal(hubfs_config_source_of(&cfg, c->key), HUBFS_SRC_OPT);
		} else {
			/* A refused value changes nothing and says which option it was. */
			assert_string_equal(get(&cfg, c->key), before);
			assert_int_equal(hubfs_config_source_of(&cfg, c->key), HUBFS_SRC_DEFAULT);
			assert_non_null(strstr(err, c->key));
			assert_non_null(strstr(err, "(from -o)"));
			assert_non_null(strstr(err, "expected"));
		}
		hubfs_config_release(&cfg);
	}
}

/* Every formatted line reads back through -o as the same configuration. */
static void test_format_reparses(void **state)
{
	struct hubfs_config a, b;
	char err[HUBFS_CONFIG_ERR_MAX];
	char *ta, *tb, *line;

	(void)state;
	assert_int_equal(hubfs_config_init(&a), 0);
	assert_int_equal(set_opt(&a, "backend", "s3"), 0);
	assert_int_equal(set_opt(&a, "s3_bucket", "media"), 0);
	assert_int_equal(set_opt(&a, "p2p", "yes"), 0);
	assert_int_equal(set_opt(&a, "default_bitrate", "3M"), 0);
	assert_int_equal(set_opt(&a, "notes_default", "shared"), 0);
	assert_int_equal(set_opt(&a, "discovery", "off"), 0);
	assert_int_equal(set_opt(&a, "peers", "x:1, y:2"), 0);
	assert_int_equal(hubfs_config_finish_as(&a, 0, fake_getenv, err, sizeof(err)), 0);
	ta = hubfs_config_format(&a);
	assert_non_null(ta);

	assert_int_equal(hubfs_config_init(&b), 0);
	for (line = strtok(ta, "\n"); line; line = strtok(NULL, "\n")) {
		char *eq = strchr(line, '=');

		assert_non_null(eq);
		*eq = '\0';
		if (!strcmp(line, "aws_credentials"))
			continue;
		if (!eq[1] && (!strcmp(line, "s3_endpoint") || !strcmp(line, "s3_bucket")))
			continue;
		assert_int_equal(
			hubfs_config_set(&b, line, eq + 1, HUBFS_SRC_OPT, err, sizeof(err)), 0);
	}
	free(ta);
	ta = hubfs_config_format(&a);
	tb = hubfs_config_format(&b);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	hubfs_config_release(&a);
	hubfs_config_release(&b);
}

static void test_parse_bool(void **state)
{
	static const char *const yes[] = { "on",   "ON",  "On",  "true", "TRUE",
					   "True", "yes", "YES", "yEs",  "1" };
	static const char *const no[] = { "off", "OFF", "false", "False", "no", "NO", "0" };
	static const char *const bad[] = { "",  " on", "on ", "y",      "n",   "t",
					   "f", "2",   "-1",  "enable", "onn", "01" };
	bool v;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = false;
		assert_int_equal(hubfs_parse_bool(yes[i], &v), 0);
		assert_true(v);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v = true;
		assert_int_equal(hubfs_parse_bool(no[i], &v), 0);
		assert_false(v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hubfs_parse_bool(bad[i], &v), -EINVAL);
	assert_int_equal(hubfs_parse_bool(NULL, &v), -EINVAL);
}

static void test_error_messages(void **state)
{
	static const struct fake_var env[] = {
		{ "MAX_UPLOAD_SIZE_MB", "abc" },
		{ NULL, NULL },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];
	char longval[300];

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(hubfs_config_set(&cfg, "max_upload_mb", "abc", HUBFS_SRC_OPT, err,
					  sizeof(err)),
			 -EINVAL);
	assert_string_equal(err,
			    "bad value 'abc' for max_upload_mb (from -o): expected a whole "
			    "number of MB from 1 to 1048576");
	fake_env = env;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), -EINVAL);
	fake_env = NULL;
	assert_string_equal(err,
			    "bad value 'abc' for max_upload_mb (from environment "
			    "MAX_UPLOAD_SIZE_MB): expected a whole number of MB from 1 to "
			    "1048576");
	assert_int_equal(hubfs_config_set(&cfg, "backend", "nfs", HUBFS_SRC_INI, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err,
			    "bad value 'nfs' for backend (from config file): expected "
			    "local or s3");
	/* Unknown keys; a hint when it is an env name or a case slip. */
	assert_int_equal(hubfs_config_set(&cfg, "colour", "red", HUBFS_SRC_OPT, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "unknown option 'colour' (from -o)");
	assert_int_equal(hubfs_config_set(&cfg, "MAX_UPLOAD_SIZE_MB", "5", HUBFS_SRC_OPT, err,
					  sizeof(err)),
			 -ENOENT);
	assert_string_equal(err,
			    "unknown option 'MAX_UPLOAD_SIZE_MB' (from -o): did you mean "
			    "max_upload_mb?");
	assert_int_equal(hubfs_config_set(&cfg, "aws_region", "x", HUBFS_SRC_OPT, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "did you mean s3_region?"));
	assert_int_equal(hubfs_config_set(&cfg, "", "x", HUBFS_SRC_OPT, err, sizeof(err)), -EINVAL);
	assert_int_equal(hubfs_config_set(&cfg, NULL, "x", HUBFS_SRC_OPT, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(hubfs_config_set(&cfg, "backend", NULL, HUBFS_SRC_OPT, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "missing value for backend"));
	/* Control bytes are not echoed to the terminal; long values are cut. */
	assert_int_equal(hubfs_config_set(&cfg, "backend", "a\x1b[2Jb", HUBFS_SRC_OPT, err,
					  sizeof(err)),
			 -EINVAL);
	assert_null(strchr(err, '\x1b'));
	assert_non_null(strstr(err, "'a?[2Jb'"));
	memset(longval, 'x', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	assert_int_equal(hubfs_config_set(&cfg, "backend", longval, HUBFS_SRC_OPT, err,
					  sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "xxx...'"));
	assert_true(strlen(err) < 200);
	/* A tiny or absent error buffer is fine. */
	assert_int_equal(hubfs_config_set(&cfg, "backend", "x", HUBFS_SRC_OPT, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(hubfs_config_set(&cfg, "backend", "x", HUBFS_SRC_OPT, NULL, 0), -EINVAL);
	hubfs_config_release(&cfg);
}

static void test_precedence(void **state)
{
	static const struct fake_var env[] = {
		{ "MAX_UPLOAD_SIZE_MB", "300" },
		{ "NOTEPAD_MAX_SIZE_MB", "20" },
		{ "P2P_ENABLED", "true" },
		{ NULL, NULL },
	};
	static const char *const ini =
		"[hubfs]\n"
		"max_upload_mb = 200\n"
		"notes_max_mb = 30\n"
		"cache_mb = 40\n"
		"p2p = no\n";
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];

	(void)state;
	/* The usual order: defaults, INI, environment, -o. */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(load_ini_text(&cfg, ini, err, sizeof(err)), 0);
	fake_env = env;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_int_equal(set_opt(&cfg, "max_upload_mb", "100"), 0);
	assert_true(cfg.max_upload_mb == 100); /* -o */
	assert_true(cfg.notes_max_mb == 20);   /* env over INI */
	assert_true(cfg.cache_mb == 40);       /* INI over default */
	assert_true(cfg.p2p);                  /* env over INI */
	assert_int_equal(cfg.max_streams, 4);  /* default */
	assert_int_equal(hubfs_config_source_of(&cfg, "max_upload_mb"), HUBFS_SRC_OPT);
	assert_int_equal(hubfs_config_source_of(&cfg, "notes_max_mb"), HUBFS_SRC_ENV);
	assert_int_equal(hubfs_config_source_of(&cfg, "cache_mb"), HUBFS_SRC_INI);
	assert_int_equal(hubfs_config_source_of(&cfg, "max_streams"), HUBFS_SRC_DEFAULT);
	hubfs_config_release(&cfg);

	/* The reverse order gives the same result: a weaker source never overrides. */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(set_opt(&cfg, "max_upload_mb", "100"), 0);
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	fake_env = NULL;
	assert_int_equal(load_ini_text(&cfg, ini, err, sizeof(err)), 0);
	assert_true(cfg.max_upload_mb == 100);
	assert_true(cfg.notes_max_mb == 20);
	assert_true(cfg.cache_mb == 40);
	assert_true(cfg.p2p);
	/* ...but a weaker source's bad value is still reported. */
	assert_int_equal(hubfs_config_set(&cfg, "max_upload_mb", "x", HUBFS_SRC_INI, err,
					  sizeof(err)),
			 -EINVAL);
	/* Within one source the last value wins. */
	assert_int_equal(set_opt(&cfg, "max_upload_mb", "7"), 0);
	assert_true(cfg.max_upload_mb == 7);
	/* A weaker source's string value is freed, not leaked, when ignored. */
	assert_int_equal(set_opt(&cfg, "s3_prefix", "opt/"), 0);
	assert_int_equal(
		hubfs_config_set(&cfg, "s3_prefix", "ini/", HUBFS_SRC_INI, err, sizeof(err)), 0);
	assert_string_equal(cfg.s3_prefix, "opt/");
	hubfs_config_release(&cfg);
}

/* Every option is read from its environment name, the original hub's where it had one. */
static void test_env_names(void **state)
{
	static const struct fake_var env[] = {
		{ "STORAGE_BACKEND", "s3" },
		{ "UPLOAD_DIR", "/srv/up" },
		{ "HUBFS_STATE_DIR", "/srv/state" },
		{ "MAX_UPLOAD_SIZE_MB", "700" },
		{ "AWS_S3_BUCKET", "media" },
		{ "AWS_REGION", "eu-central-1" },
		{ "AWS_ENDPOINT_URL", "http://minio:9000" },
		{ "HUBFS_S3_PREFIX", "hub/" },
		{ "HUBFS_CACHE_MB", "64" },
		{ "P2P_ENABLED", "true" },
		{ "HUBFS_NODE_NAME", "studio" },
		{ "HUBFS_LISTEN", "127.0.0.1:9999" },
		{ "HUBFS_PEERS", "a:1,b:2" },
		{ "HUBFS_DISCOVERY", "off" },
		{ "HUBFS_NETWORK_KEY_FILE", "/srv/key" },
		{ "NOTEPAD_DEFAULT", "shared" },
		{ "NOTEPAD_MAX_SIZE_MB", "5" },
		{ "DEFAULT_RESOLUTION", "720p" },
		{ "DEFAULT_BITRATE", "2M" },
		{ "HUBFS_MAX_STREAMS", "8" },
		{ NULL, NULL },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	fake_env = NULL;
	assert_int_equal(cfg.backend, HUBFS_BACKEND_S3);
	assert_string_equal(cfg.data_dir, "/srv/up");
	assert_string_equal(cfg.state_dir, "/srv/state");
	assert_true(cfg.max_upload_mb == 700);
	assert_string_equal(cfg.s3_bucket, "media");
	assert_string_equal(cfg.s3_region, "eu-central-1");
	assert_string_equal(cfg.s3_endpoint, "http://minio:9000");
	assert_string_equal(cfg.s3_prefix, "hub/");
	assert_true(cfg.cache_mb == 64);
	assert_true(cfg.p2p);
	assert_string_equal(cfg.node_name, "studio");
	assert_string_equal(cfg.listen, "127.0.0.1:9999");
	assert_string_equal(cfg.peers, "a:1,b:2");
	assert_int_equal(cfg.discovery, HUBFS_DISCOVERY_OFF);
	assert_string_equal(cfg.network_key_file, "/srv/key");
	assert_true(cfg.notes_default_shared);
	assert_true(cfg.notes_max_mb == 5);
	assert_string_equal(cfg.default_resolution, "720p");
	assert_int_equal(cfg.default_bitrate_kbps, 2000);
	assert_int_equal(cfg.max_streams, 8);
	assert_int_equal(hubfs_config_source_of(&cfg, "max_streams"), HUBFS_SRC_ENV);
	assert_null(cfg.aws_access_key_id);
	hubfs_config_release(&cfg);
}

static void test_credentials_refused(void **state)
{
	static const char *const keys[] = {
		"aws_access_key_id",
		"aws_secret_access_key",
		"aws_session_token",
		"AWS_SECRET_KEY",
		"aws_access_key",
		"secret_key",
		"password",
		"s3_secret",
		"api_token",
		"aws_profile",
		"AWS_ACCESS_KEY_ID",
		"network_key",
		"aws-secret-access-key",
		"credentials",
	};
	const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];
	char ini[256];

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		assert_true(hubfs_config_is_option(keys[i]));
		assert_int_equal(hubfs_config_set(&cfg, keys[i], secret, HUBFS_SRC_OPT, err,
						  sizeof(err)),
				 -EPERM);
		assert_non_null(strstr(err,
				       "credentials are not accepted as -o options (they "
				       "would show in ps): use AWS_ACCESS_KEY_ID/"
				       "AWS_SECRET_ACCESS_KEY or ~/.aws/credentials"));
		assert_null(strstr(err, secret));
		snprintf(ini, sizeof(ini), "[hubfs]\n%s = %s\n", keys[i], secret);
		assert_int_equal(load_ini_text(&cfg, ini, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "credentials are not accepted"));
		assert_non_null(strstr(err, ":2"));
		assert_null(strstr(err, secret));
	}
	assert_null(cfg.aws_access_key_id);
	assert_null(cfg.aws_secret_access_key);
	/* Real options that merely mention "key" are options. */
	assert_int_equal(set_opt(&cfg, "network_key_file", "/k"), 0);
	assert_true(hubfs_config_is_option("network_key_file"));
	assert_true(hubfs_config_is_option("backend"));
	assert_false(hubfs_config_is_option("allow_other"));
	assert_false(hubfs_config_is_option("default_permissions"));
	assert_false(hubfs_config_is_option("fsname"));
	assert_false(hubfs_config_is_option(NULL));
	hubfs_config_release(&cfg);
}

static void test_credentials_env(void **state)
{
	static const struct fake_var env_full[] = {
		{ "AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID0001" },
		{ "AWS_SECRET_ACCESS_KEY", "SECRETVALUE-never-printed" },
		{ "AWS_SESSION_TOKEN", "TOKENVALUE-never-printed" },
		{ "AWS_PROFILE", "profile-never-printed" },
		{ NULL, NULL },
	};
	static const struct fake_var env_alt[] = {
		{ "AWS_ACCESS_KEY_ID", "" }, /* empty: counts as unset */
		{ "AWS_ACCESS_KEY", "AKIAALTERNATIVE" },
		{ "AWS_SECRET_KEY", "ALTSECRET" },
		{ NULL, NULL },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];
	char *text;

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env_full;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.aws_access_key_id, "AKIAEXAMPLEKEYID0001");
	assert_string_equal(cfg.aws_secret_access_key, "SECRETVALUE-never-printed");
	assert_string_equal(cfg.aws_session_token, "TOKENVALUE-never-printed");
	assert_string_equal(cfg.aws_profile, "profile-never-printed");
	/* Loading again replaces, without leaking. */
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	text = hubfs_config_format(&cfg);
	assert_non_null(text);
	assert_non_null(strstr(text, "\naws_credentials=(set)\n"));
	assert_null(strstr(text, "AKIAEXAMPLEKEYID0001"));
	assert_null(strstr(text, "never-printed"));
	free(text);
	hubfs_config_release(&cfg);

	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env_alt;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	fake_env = NULL;
	assert_string_equal(cfg.aws_access_key_id, "AKIAALTERNATIVE");
	assert_string_equal(cfg.aws_secret_access_key, "ALTSECRET");
	assert_null(cfg.aws_session_token);
	assert_null(cfg.aws_profile);
	text = hubfs_config_format(&cfg);
	assert_non_null(text);
	assert_null(strstr(text, "ALTSECRET"));
	assert_null(strstr(text, "AKIAALTERNATIVE"));
	free(text);
	hubfs_config_release(&cfg);
}

static void test_ini(void **state)
{
	static const char *const ini =
		"\xef\xbb\xbf# hubfs.conf\n"
		"; another comment\n"
		"max_streams = 2\n" /* before any section: ours */
		"\n"
		"[other]\n"
		"max_streams = 99\n"
		"whatever line without equals\n"
		"[hubfs]\n"
		"  backend=s3  \n"
		"s3_bucket = \"media\"\n"
		"s3_prefix = 'a b/'\n"
		"listen = 127.0.0.1:1  # inline comment\n"
		"peers = x:1 ; also a comment\n"
		"data_dir = /srv/with#hash\n"
		"state_dir = \"/srv/with ;semicolon\"   # quoted\n"
		"node_name = n1\r\n"
		"\t\n"
		"[ HUBFS ]\n"
		"p2p = Yes\n"
		"[Other.Section]\n"
		"p2p = no\n";
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(load_ini_text(&cfg, ini, err, sizeof(err)), 0);
	assert_int_equal(cfg.max_streams, 2);
	assert_int_equal(cfg.backend, HUBFS_BACKEND_S3);
	assert_string_equal(cfg.s3_bucket, "media");
	assert_string_equal(cfg.s3_prefix, "a b/");
	assert_string_equal(cfg.listen, "127.0.0.1:1");
	assert_string_equal(cfg.peers, "x:1");
	assert_string_equal(cfg.data_dir, "/srv/with#hash");
	assert_string_equal(cfg.state_dir, "/srv/with ;semicolon");
	assert_string_equal(cfg.node_name, "n1");
	assert_true(cfg.p2p);
	assert_int_equal(hubfs_config_source_of(&cfg, "backend"), HUBFS_SRC_INI);
	hubfs_config_release(&cfg);
}

static void test_ini_errors(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *msg;
		size_t len; /* 0: strlen(text) */
	} cases[] = {
		{ "backend = local\nnonsense\n", -EINVAL,
		  ":2: expected 'key = value', got "
		  "'nonsense'" },
		{ "[hubfs\n", -EINVAL, ":1: expected '[section]'" },
		{ "= value\n", -EINVAL, ":1: expected 'key = value'" },
		{ "a = \"unterminated\n", -EINVAL,
		  ":1: expected 'key = value' with matching "
		  "quotes" },
		{ "backend = \"s3\" trailing\n", -EINVAL, ":1:" },
		{ "\n\n\nfoo = 1\n", -EINVAL, "unknown option 'foo' (from " },
		{ "backend = nfs\n", -EINVAL, "bad value 'nfs' for backend (from " },
		{ "max_upload_mb = 0 # none\n", -EINVAL, "bad value '0' for max_upload_mb" },
		{ "backend\t=\tlocal\nbackend = s3\x00junk\n", -EINVAL, ":2: line holds a NUL",
		  34 },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];
	char path[64], big[6000];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		size_t len = cases[i].len ? cases[i].len : strlen(t);
		int rc;

		assert_int_equal(hubfs_config_init(&cfg), 0);
		write_file(path, t, len);
		rc = hubfs_config_load_ini(&cfg, path, err, sizeof(err));
		if (rc != cases[i].rc || !strstr(err, cases[i].msg) || !strstr(err, path))
			fail_msg("case %zu: rc %d, err '%s'", i, rc, err);
		unlink(path);
		hubfs_config_release(&cfg);
	}
	/* Missing and unreadable files. */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(hubfs_config_load_ini(&cfg, "/nonexistent/hubfs.conf", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/hubfs.conf"));
	assert_int_equal(hubfs_config_load_ini(&cfg, "/tmp", err, sizeof(err)), -EISDIR);
	/* An overlong line. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "s3_prefix = ", 12);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(load_ini_text(&cfg, big, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line longer than"));
	/* An empty file is fine. */
	assert_int_equal(load_ini_text(&cfg, "", err, sizeof(err)), 0);
	hubfs_config_release(&cfg);
}

/* Torture: every prefix of a valid file loads cleanly (0) or fails cleanly, no leaks. */
static void test_ini_torture(void **state)
{
	static const char *const ini =
		"# comment\n"
		"[hubfs]\n"
		"backend = s3\n"
		"s3_bucket = \"media-1\"\n"
		"s3_endpoint = 'http://[::1]:9000/'\n"
		"peers = a:1, b:2 ; comment\n"
		"p2p = on\n"
		"[other]\n"
		"x = y\n"
		"[hubfs]\n"
		"default_bitrate = 12M\n"
		"data_dir = /srv/v\n";
	size_t len = strlen(ini);
	int ok = 0, failed = 0;

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		struct hubfs_config cfg;
		char err[HUBFS_CONFIG_ERR_MAX] = "";
		char path[64];
		char *text;
		int rc;

		assert_int_equal(hubfs_config_init(&cfg), 0);
		write_file(path, ini, n);
		rc = hubfs_config_load_ini(&cfg, path, err, sizeof(err));
		unlink(path);
		if (rc == 0) {
			ok++;
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(err, path));
			failed++;
		}
		/* Whatever state it left is a consistent configuration. */
		text = hubfs_config_format(&cfg);
		assert_non_null(text);
		free(text);
		hubfs_config_release(&cfg);
	}
	assert_true(ok > 0 && failed > 0);
}

static void test_finish(void **state)
{
	static const struct fake_var env_home[] = {
		{ "HOME", "/home/u" },
		{ NULL, NULL },
	};
	static const struct fake_var env_xdg[] = {
		{ "HOME", "/home/u" },
		{ "XDG_STATE_HOME", "/xdg/state" },
		{ NULL, NULL },
	};
	static const struct fake_var env_relxdg[] = {
		{ "HOME", "/home/u" },
		{ "XDG_STATE_HOME", "rel" },
		{ NULL, NULL },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];
	char cwd[4096], want[4200];
	char host[256] = "";

	(void)state;
	/* root */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env_home;
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.state_dir, "/var/lib/hubfs");
	assert_string_equal(cfg.data_dir, "/var/lib/hubfs/videos");
	assert_string_equal(cfg.network_key_file, "/var/lib/hubfs/network.key");
	assert_non_null(cfg.node_name);
	assert_true(strlen(cfg.node_name) >= 1 && strlen(cfg.node_name) <= 64);
	assert_true(strspn(cfg.node_name,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789._-") == strlen(cfg.node_name));
	gethostname(host, sizeof(host) - 1);
	if (host[0] && strlen(host) <= 64 && !strpbrk(host, " /"))
		assert_string_equal(cfg.node_name, host);
	/* Idempotent. */
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.data_dir, "/var/lib/hubfs/videos");
	hubfs_config_release(&cfg);

	/* a user: ~/.local/state/hubfs, or $XDG_STATE_HOME/hubfs when absolute */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 1000, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.state_dir, "/home/u/.local/state/hubfs");
	hubfs_config_release(&cfg);
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env_xdg;
	assert_int_equal(hubfs_config_finish_as(&cfg, 1000, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.state_dir, "/xdg/state/hubfs");
	assert_string_equal(cfg.data_dir, "/xdg/state/hubfs/videos");
	hubfs_config_release(&cfg);
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env_relxdg;
	assert_int_equal(hubfs_config_finish_as(&cfg, 1000, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.state_dir, "/home/u/.local/state/hubfs");
	hubfs_config_release(&cfg);

	/* Explicit values are kept; relative paths are made absolute; "~/" is expanded. */
	assert_true(getcwd(cwd, sizeof(cwd)) != NULL);
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = env_home;
	assert_int_equal(set_opt(&cfg, "state_dir", "st/"), 0);
	assert_int_equal(set_opt(&cfg, "data_dir", "~/vids"), 0);
	assert_int_equal(set_opt(&cfg, "node_name", "mine"), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 1000, fake_getenv, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/st", strcmp(cwd, "/") ? cwd : "");
	assert_string_equal(cfg.state_dir, want);
	assert_string_equal(cfg.data_dir, "/home/u/vids");
	snprintf(want, sizeof(want), "%s/st/network.key", strcmp(cwd, "/") ? cwd : "");
	assert_string_equal(cfg.network_key_file, want);
	assert_string_equal(cfg.node_name, "mine");
	assert_int_equal(hubfs_config_source_of(&cfg, "data_dir"), HUBFS_SRC_OPT);
	assert_int_equal(hubfs_config_source_of(&cfg, "network_key_file"), HUBFS_SRC_DEFAULT);
	hubfs_config_release(&cfg);

	/* backend=s3 needs a bucket. */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(set_opt(&cfg, "backend", "s3"), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "backend=s3 needs s3_bucket: set -o s3_bucket=NAME or "
			    "AWS_S3_BUCKET");
	assert_int_equal(set_opt(&cfg, "s3_bucket", "media"), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), 0);
	hubfs_config_release(&cfg);

	/* The real entry point works in this process. */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	assert_int_equal(hubfs_config_finish(&cfg, err, sizeof(err)), 0);
	assert_true(cfg.state_dir[0] == '/' && cfg.data_dir[0] == '/');
	hubfs_config_release(&cfg);
	fake_env = NULL;
}

static void test_finish_credentials(void **state)
{
	static const struct fake_var half[] = {
		{ "AWS_ACCESS_KEY_ID", "AKIAX" },
		{ NULL, NULL },
	};
	static const struct fake_var tok[] = {
		{ "AWS_SESSION_TOKEN", "T" },
		{ NULL, NULL },
	};
	static const struct fake_var none[] = {
		{ "HOME", "/h" },
		{ NULL, NULL },
	};
	struct hubfs_config cfg;
	char err[HUBFS_CONFIG_ERR_MAX];

	(void)state;
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = half;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	/* Harmless while the backend is local. */
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), 0);
	assert_int_equal(set_opt(&cfg, "backend", "s3"), 0);
	assert_int_equal(set_opt(&cfg, "s3_bucket", "media"), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID is set but not AWS_SECRET_ACCESS_KEY"));
	assert_null(strstr(err, "AKIAX"));
	hubfs_config_release(&cfg);

	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = tok;
	assert_int_equal(hubfs_config_load_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_int_equal(set_opt(&cfg, "backend", "s3"), 0);
	assert_int_equal(set_opt(&cfg, "s3_bucket", "media"), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "AWS_SESSION_TOKEN"));
	hubfs_config_release(&cfg);

	/* No credentials at all: ~/.aws or an instance role may provide them. */
	assert_int_equal(hubfs_config_init(&cfg), 0);
	fake_env = none;
	assert_int_equal(set_opt(&cfg, "backend", "s3"), 0);
	assert_int_equal(set_opt(&cfg, "s3_bucket", "media"), 0);
	assert_int_equal(hubfs_config_finish_as(&cfg, 0, fake_getenv, err, sizeof(err)), 0);
	hubfs_config_release(&cfg);
	fake_env = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),        cmocka_unit_test(test_validation),
		cmocka_unit_test(test_format_reparses), cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_error_messages),  cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_env_names),       cmocka_unit_test(test_credentials_refused),
		cmocka_unit_test(test_credentials_env), cmocka_unit_test(test_ini),
		cmocka_unit_test(test_ini_errors),      cmocka_unit_test(test_ini_torture),
		cmocka_unit_test(test_finish),          cmocka_unit_test(test_finish_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
