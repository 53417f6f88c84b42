/*
 * test_scan.c — unit tests of the library's reconciliation (src/library/scan.c): the
 * catalog follows what the backend holds.
 *
 * Against the recording fake backend (tests/fakes) and a catalog on ":memory:": a file with
 * a matching metadata record (another mount committed it) is adopted with that record, at
 * once; a hand-placed file is validated only once it has been quiet for LIB_SETTLE_NS (its
 * mtime is set into the past instead of sleeping) and then gets a record; an invalid one is
 * rejected once and remembered (the probes are counted through the fake's stat calls: each
 * probe ends in one); bytes changed behind a catalog entry are re-adopted or re-validated;
 * deleted files and directories are forgotten; directories are mirrored; names videos/
 * cannot show are ignored; every change is announced to the invalidate callback, and a pass
 * with nothing to do announces nothing. Also: a backend without HUBFS_BE_CAP_READ_FD is
 * never probed, the scanner thread, a scan under injected faults (never a crash or a leak,
 * and the next clean pass converges), and two libraries sharing one data_dir through the
 * real local backend (its sidecars carry the records between "mounts", chmod included).
 *
 * Samples come from $HUBFS_TEST_MEDIA (tests/make-media.sh). Only test_scanner_thread
 * starts the scanner thread; the invalidate log has its own mutex for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fakes/backend_fake.h"
#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/library.h"
#include "hubfs/log.h"
#include "library/library_int.h" /* LIB_SETTLE_NS */

#define T_SEC 1000000000LL

/* ---- media ------------------------------------------------------------------------------ */

static void t_media(const char *file, char *buf, size_t len)
{
	const char *dir = getenv("HUBFS_TEST_MEDIA");
	struct stat sb;

	if (!dir || !*dir)
		fail_msg("HUBFS_TEST_MEDIA is not set (run via ctest: fixture setup/media)");
	snprintf(buf, len, "%s/%s", dir, file);
	if (stat(buf, &sb))
		fail_msg("sample '%s' is missing (tests/make-media.sh)", buf);
}

static unsigned char *t_slurp(const char *path, size_t *len)
{
	unsigned char *buf;
	struct stat sb;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	assert_non_null(buf);
	n = read(fd, buf, (size_t)sb.st_size);
	assert_int_equal(n, sb.st_size);
	close(fd);
	*len = (size_t)n;
	return buf;
}

static void t_sample_sha(const char *file, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE], *buf;
	unsigned int mdlen = 0;
	char path[PATH_MAX];
	size_t len;

	t_media(file, path, sizeof(path));
	buf = t_slurp(path, &len);
	assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	free(buf);
}

static int64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * T_SEC + ts.tv_nsec;
}

/* A moment long enough ago for a hand-placed file to count as settled. */
static int64_t t_settled(void)
{
	return t_now_ns() - LIB_SETTLE_NS - 5 * T_SEC;
}

/* ---- the library under test ------------------------------------------------------------- */

struct t_env {
	struct hubfs_config cfg;
	struct hubfs_backend *be;
	struct hubfs_catalog *cat;
	struct hubfs_library *lib;
	pthread_mutex_t inval_lock;
	char **inval; /* inval_lock: paths given to the invalidate callback, in order */
	size_t ninval, capinval;
};

static void t_invalidate(void *arg, const char *path)
{
	struct t_env *env = arg;
	char *copy = strdup(path);

	pthread_mutex_lock(&env->inval_lock);
	if (env->ninval == env->capinval) {
		env->capinval = env->capinval ? 2 * env->capinval : 16;
		env->inval = realloc(env->inval, env->capinval * sizeof(*env->inval));
	}
	if (env->inval && copy)
		env->inval[env->ninval++] = copy;
	else
		free(copy);
	pthread_mutex_unlock(&env->inval_lock);
}

static void t_inval_clear(struct t_env *env)
{
	pthread_mutex_lock(&env->inval_lock);
	for (size_t i = 0; i < env->ninval; i++)
		free(env->inval[i]);
	env->ninval = 0;
	pthread_mutex_unlock(&env->inval_lock);
}

/* The invalidated paths so far, sorted and space-separated; then the log is cleared. */
static void t_inval_take(struct t_env *env, char *buf, size_t len)
{
	size_t off = 0;

	pthread_mutex_lock(&env->inval_lock);
	for (size_t i = 1; i < env->ninval; i++) { /* insertion sort: a handful of paths */
		char *p = env->inval[i];
		size_t j = i;

		for (; j > 0 && strcmp(env->inval[j - 1], p) > 0; j--)
			env->inval[j] = env->inval[j - 1];
		env->inval[j] = p;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < env->ninval; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", env->inval[i]);
	pthread_mutex_unlock(&env->inval_lock);
	t_inval_clear(env);
}

static struct t_env *t_env_new_caps(unsigned int caps)
{
	struct t_env *env = calloc(1, sizeof(*env));

	assert_non_null(env);
	pthread_mutex_init(&env->inval_lock, NULL);
	assert_int_equal(hubfs_config_init(&env->cfg), 0);
	assert_int_equal(fake_backend_new(&env->be, caps), 0);
	env->cfg.data_dir = strdup(fake_backend_data_dir(env->be));
	assert_non_null(env->cfg.data_dir);
	env->cfg.state_dir = strdup(fake_backend_data_dir(env->be)); /* probe files (S3-like) */
	assert_non_null(env->cfg.state_dir);
	assert_int_equal(hubfs_catalog_open(&env->cat, ":memory:"), 0);
	assert_int_equal(hubfs_library_new(&env->lib, &env->cfg, env->be, env->cat), 0);
	hubfs_library_set_invalidate(env->lib, t_invalidate, env);
	return env;
}

static void t_env_free(struct t_env *env)
{
	hubfs_backend_fault_set("*", 0, 0);
	hubfs_library_free(env->lib);
	hubfs_catalog_close(env->cat);
	hubfs_backend_close(env->be);
	hubfs_config_release(&env->cfg);
	t_inval_clear(env);
	free(env->inval);
	pthread_mutex_destroy(&env->inval_lock);
	free(env);
}

static int t_setup(void **state)
{
	*state = t_env_new_caps(FAKE_BACKEND_CAPS_LOCAL);
	return 0;
}

static int t_teardown(void **state)
{
	t_env_free(*state);
	return 0;
}

/* ---- views ------------------------------------------------------------------------------ */

struct t_keys {
	char buf[8192];
	size_t off;
};

static int t_walk_cb(void *arg, const char *path, const struct hubfs_cat_entry *e)
{
	struct t_keys *k = arg;

	k->off += (size_t)snprintf(k->buf + k->off, sizeof(k->buf) - k->off, "%s%s%s",
				   k->off ? " " : "", path, e->is_dir ? "/" : "");
	return 0;
}

/* The catalog's paths, in walk order (bytewise, parents first), directories with a '/'. */
static void t_cat_keys(struct t_env *env, char *buf, size_t len)
{
	struct t_keys k = { .off = 0 };

	k.buf[0] = '\0';
	assert_int_equal(hubfs_catalog_walk(env->cat, t_walk_cb, &k), 0);
	snprintf(buf, len, "%s", k.buf);
}

static void t_assert_catalog(struct t_env *env, const char *want)
{
	char got[8192], msg[256];

	t_cat_keys(env, got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(hubfs_catalog_check(env->cat, msg, sizeof(msg)), 0);
}

static void t_assert_inval(struct t_env *env, const char *want)
{
	char got[8192];

	t_inval_take(env, got, sizeof(got));
	assert_string_equal(got, want);
}

static void t_get(struct t_env *env, const char *path, struct hubfs_cat_entry *e)
{
	int rc = hubfs_catalog_get(env->cat, path, e);

	if (rc)
		fail_msg("'%s' is not in the catalog: %d", path, rc);
}

static bool t_in_catalog(struct t_env *env, const char *path)
{
	struct hubfs_cat_entry e;

	return hubfs_catalog_get(env->cat, path, &e) == 0;
}

static void t_scan(struct t_env *env)
{
	assert_int_equal(hubfs_library_scan(env->lib), 0);
}

/* How many hand-placed files the last passes validated: each probe ends in one stat. */
static unsigned int t_probes(struct t_env *env)
{
	return fake_backend_calls(env->be, "stat");
}

/* A record as another mount would have stored with sample @file (identity: filled by put). */
static struct hubfs_video_meta t_record(const char *file, const char *container)
{
	struct hubfs_video_meta m;

	memset(&m, 0, sizeof(m));
	t_sample_sha(file, m.sha256);
	m.media.duration = 2.0;
	m.media.width = 320;
	m.media.height = 240;
	m.media.fps = 25;
	snprintf(m.media.video_codec, sizeof(m.media.video_codec), "h264");
	snprintf(m.media.audio_codec, sizeof(m.media.audio_codec), "aac");
	snprintf(m.media.container, sizeof(m.media.container), "%s", container);
	m.media.bitrate = 800000;
	m.uploaded = 1700000000;
	m.mtime_ns = 1600000000123456789;
	m.mode = 0640;
	m.uid = 1234;
	m.gid = 99;
	return m;
}

/* Put sample @file at @key: as another mount (@rec) or by hand (NULL), with mtime @mtime. */
static void t_put(struct t_env *env, const char *key, const char *file,
		  const struct hubfs_video_meta *rec, int64_t mtime)
{
	char path[PATH_MAX];

	t_media(file, path, sizeof(path));
	assert_int_equal(fake_backend_hand_put(env->be, key, path, rec, mtime), 0);
}

/* Commit sample @file at @path through this library (this mount). */
static void t_upload(struct t_env *env, const char *path, const char *file)
{
	struct hubfs_library_upload *up;
	char src[PATH_MAX];
	unsigned char *buf;
	size_t len;

	t_media(file, src, sizeof(src));
	buf = t_slurp(src, &len);
	assert_int_equal(hubfs_library_upload_begin(env->lib, path, 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	free(buf);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_adopt_other_mount(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta rec = t_record("faststart.mp4", "mp4"), stored;
	struct hubfs_cat_entry e;

	/* Just written (not settled): a matching record is adopted at once, without a probe. */
	t_put(env, "a.mp4", "faststart.mp4", &rec, 0);
	t_put(env, "coll/b.mkv", "video.mkv", &rec, 0); /* the record's sha does not matter */
	t_scan(env);
	t_assert_catalog(env, "a.mp4 coll/ coll/b.mkv");
	t_assert_inval(env, "a.mp4 coll coll/b.mkv");
	assert_int_equal(t_probes(env), 0);
	assert_int_equal(fake_backend_calls(env->be, "meta_put"), 0);
	t_get(env, "a.mp4", &e);
	assert_false(e.is_dir);
	assert_int_equal(fake_backend_meta(env->be, "a.mp4", &stored), 0);
	assert_memory_equal(&e.meta, &stored, sizeof(stored));
	assert_string_equal(e.meta.sha256, rec.sha256);
	assert_string_equal(e.meta.media.container, "mp4");
	assert_int_equal(e.meta.mode, 0640);
	assert_int_equal(e.meta.uid, 1234);
	assert_int_equal(e.meta.mtime_ns, rec.mtime_ns);
	t_get(env, "coll", &e);
	assert_true(e.is_dir);

	/* Nothing changed: a pass costs a listing per directory, announces nothing. */
	fake_backend_reset_calls(env->be);
	t_scan(env);
	t_assert_inval(env, "");
	assert_int_equal(fake_backend_calls(env->be, "meta_get"), 0);
	assert_int_equal(fake_backend_calls(env->be, "list"), 2);

	/* The other mount replaces a.mp4: new bytes, new record; adopted. */
	rec = t_record("video.mkv", "mkv");
	rec.mode = 0600;
	t_put(env, "a.mp4", "video.mkv", &rec, t_now_ns() - 3 * T_SEC);
	t_scan(env);
	t_assert_inval(env, "a.mp4");
	t_get(env, "a.mp4", &e);
	assert_string_equal(e.meta.sha256, rec.sha256);
	assert_string_equal(e.meta.media.container, "mkv");
	assert_int_equal(e.meta.mode, 0600);
	assert_int_equal(t_probes(env), 0);
}

static void test_hand_placed_settles(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta stored;
	struct hubfs_cat_entry e;
	char sha[65], reason[128];
	int64_t mtime;

	/* Just copied in: maybe still being written, so not validated yet. */
	t_put(env, "h.mp4", "faststart.mp4", NULL, 0);
	t_scan(env);
	t_assert_catalog(env, "");
	t_assert_inval(env, "");
	assert_int_equal(t_probes(env), 0);
	/* Quiet for a while now: validated, hashed, listed, and given a record. */
	mtime = t_settled();
	assert_int_equal(fake_backend_hand_set_mtime(env->be, "h.mp4", mtime), 0);
	t_scan(env);
	t_assert_catalog(env, "h.mp4");
	t_assert_inval(env, "h.mp4");
	assert_int_equal(t_probes(env), 1);
	t_get(env, "h.mp4", &e);
	t_sample_sha("faststart.mp4", sha);
	assert_string_equal(e.meta.sha256, sha);
	assert_string_equal(e.meta.media.container, "mp4");
	assert_string_equal(e.meta.media.video_codec, "h264");
	assert_int_equal(e.meta.media.width, 320);
	assert_true(e.meta.media.duration > 1.5);
	assert_true(e.meta.size > 0);
	assert_int_equal(e.meta.size, e.meta.file_size);
	assert_int_equal(e.meta.mode, 0644);
	assert_int_equal(e.meta.mtime_ns, mtime);
	assert_int_equal(e.meta.file_mtime_ns, mtime);
	assert_true(e.meta.uploaded > 0);
	assert_int_equal(fake_backend_meta(env->be, "h.mp4", &stored), 0);
	assert_string_equal(stored.sha256, sha);
	assert_int_equal(stored.file_mtime_ns, mtime);
	assert_int_equal(hubfs_catalog_reject_get(env->cat, "h.mp4", e.meta.file_size, mtime,
						  reason, sizeof(reason)),
			 -ENOENT);
	/* Validated once: later passes leave it alone. */
	fake_backend_reset_calls(env->be);
	t_scan(env);
	t_scan(env);
	assert_int_equal(t_probes(env), 0);
	assert_int_equal(fake_backend_calls(env->be, "meta_get"), 0);
	t_assert_inval(env, "");

	/* A stale record (the bytes were changed by hand since) is not trusted: wait, probe. */
	t_put(env, "s.mkv", "video.mkv", NULL, 0);
	assert_int_equal(fake_backend_hand_set_mtime(env->be, "s.mkv", t_settled()), 0);
	t_scan(env);
	t_assert_inval(env, "s.mkv");
	t_put(env, "s.mkv", "faststart.mp4", NULL, 0); /* record of video.mkv now stale */
	fake_backend_reset_calls(env->be);
	t_scan(env);
	assert_int_equal(t_probes(env), 0);
	t_get(env, "s.mkv", &e);
	assert_string_equal(e.meta.media.container, "mkv"); /* the old entry stays meanwhile */
	assert_int_equal(fake_backend_hand_set_mtime(env->be, "s.mkv", t_settled()), 0);
	t_scan(env);
	assert_int_equal(t_probes(env), 1);
	t_get(env, "s.mkv", &e);
	assert_string_equal(e.meta.sha256, sha);
	assert_string_equal(e.meta.media.container, "mp4");
	t_assert_inval(env, "s.mkv");
}

/* Does the event log at @path hold a line containing @needle? */
static bool t_events_have(const char *path, const char *needle)
{
	size_t len;
	unsigned char *buf = t_slurp(path, &len);
	bool found;

	buf[len] = '\0';
	found = strstr((char *)buf, needle) != NULL;
	free(buf);
	return found;
}

static void test_invalid_remembered(void **state)
{
	struct t_env *env = *state;
	char events[] = "/tmp/hubfs-events-XXXXXX", reason[256], sha[65];
	struct hubfs_backend_entry st, bad;
	struct hubfs_cat_entry e;
	int64_t mtime = t_settled();
	int fd;

	fd = mkstemp(events);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hubfs_events_open(events), 0);

	t_put(env, "bad.mp4", "text.mp4", NULL, mtime);
	t_put(env, "noaudio.mp4", "audio_only.mp4", NULL, mtime);
	t_scan(env);
	t_assert_catalog(env, "");
	t_assert_inval(env, "");
	assert_int_equal(t_probes(env), 2);
	assert_int_equal(hubfs_backend_stat(env->be, "bad.mp4", &st), 0);
	assert_int_equal(hubfs_catalog_reject_get(env->cat, "bad.mp4", st.size, mtime, reason,
						  sizeof(reason)),
			 0);
	assert_int_equal(hubfs_backend_stat(env->be, "noaudio.mp4", &st), 0);
	assert_int_equal(hubfs_catalog_reject_get(env->cat, "noaudio.mp4", st.size, mtime, reason,
						  sizeof(reason)),
			 0);
	assert_non_null(strstr(reason, "no video stream"));
	assert_true(t_events_have(events,
				  "rejected 'videos/noaudio.mp4' (found in the backend): "
				  "no video stream"));
	assert_int_equal(fake_backend_calls(env->be, "meta_put"), 0);
	/* Rejected once and remembered: the next passes do not validate the same bytes again. */
	fake_backend_reset_calls(env->be);
	t_scan(env);
	t_scan(env);
	assert_int_equal(t_probes(env), 0);
	t_assert_catalog(env, "");
	/* New bytes under the same name are judged afresh. */
	t_put(env, "bad.mp4", "faststart.mp4", NULL, t_settled());
	t_scan(env);
	assert_int_equal(t_probes(env), 1);
	t_assert_catalog(env, "bad.mp4");
	t_assert_inval(env, "bad.mp4");
	t_get(env, "bad.mp4", &e);
	assert_int_equal(hubfs_catalog_reject_get(env->cat, "bad.mp4", e.meta.file_size,
						  e.meta.file_mtime_ns, reason, sizeof(reason)),
			 -ENOENT);

	/* Invalid bytes put by hand over a listed video: it disappears, as never valid. */
	t_upload(env, "v.webm", "video.webm");
	t_put(env, "v.webm", "random.webm", NULL, t_settled());
	assert_int_equal(hubfs_backend_stat(env->be, "v.webm", &bad), 0);
	fake_backend_reset_calls(env->be);
	t_scan(env);
	assert_int_equal(t_probes(env), 1);
	assert_false(t_in_catalog(env, "v.webm"));
	t_assert_inval(env, "v.webm");
	fake_backend_reset_calls(env->be);
	t_scan(env);
	assert_int_equal(t_probes(env), 0);
	assert_false(t_in_catalog(env, "v.webm"));
	/* ...and a valid upload over a remembered reject clears the reject. */
	t_upload(env, "v.webm", "video.webm");
	t_get(env, "v.webm", &e);
	t_sample_sha("video.webm", sha);
	assert_string_equal(e.meta.sha256, sha);
	assert_int_equal(hubfs_catalog_reject_get(env->cat, "v.webm", bad.size, bad.mtime_ns,
						  reason, sizeof(reason)),
			 -ENOENT);
	t_scan(env);
	assert_true(t_in_catalog(env, "v.webm"));
	hubfs_events_close();
	unlink(events);
}

static void test_deleted(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta rec = t_record("video.webm", "webm");

	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	t_upload(env, "a.webm", "video.webm");
	t_upload(env, "d/b.webm", "video.webm");
	t_put(env, "d/e/c.webm", "video.webm", &rec, 0);
	t_scan(env);
	t_assert_catalog(env, "a.webm d/ d/b.webm d/e/ d/e/c.webm");
	t_inval_clear(env);

	/* Deleted by another mount or by hand: forgotten, announced. */
	assert_int_equal(fake_backend_hand_remove(env->be, "a.webm"), 0);
	t_scan(env);
	t_assert_catalog(env, "d/ d/b.webm d/e/ d/e/c.webm");
	t_assert_inval(env, "a.webm");
	/* A whole directory: its subtree goes too. */
	assert_int_equal(fake_backend_hand_remove(env->be, "d/e/c.webm"), 0);
	assert_int_equal(fake_backend_hand_remove(env->be, "d/e"), 0);
	assert_int_equal(fake_backend_hand_remove(env->be, "d/b.webm"), 0);
	assert_int_equal(fake_backend_hand_remove(env->be, "d"), 0);
	t_scan(env);
	t_assert_catalog(env, "");
	t_assert_inval(env, "d d/b.webm d/e d/e/c.webm");
	assert_int_equal(t_probes(env), 0);
}

static void test_dirs_mirrored(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta rec = t_record("video.webm", "webm");
	struct hubfs_cat_entry e;

	assert_int_equal(fake_backend_hand_mkdir(env->be, "x/y/z"), 0);
	assert_int_equal(fake_backend_hand_mkdir(env->be, "k.mp4"), 0);
	t_scan(env);
	t_assert_catalog(env, "k.mp4/ x/ x/y/ x/y/z/");
	t_assert_inval(env, "k.mp4 x x/y x/y/z");
	t_get(env, "x/y", &e);
	assert_true(e.is_dir);
	assert_int_equal(e.meta.mode, 0755);
	/* A directory that became a video (same name): the catalog follows the kind. */
	assert_int_equal(fake_backend_hand_remove(env->be, "k.mp4"), 0);
	t_put(env, "k.mp4", "video.webm", &rec, 0);
	t_scan(env);
	t_assert_catalog(env, "k.mp4 x/ x/y/ x/y/z/");
	t_get(env, "k.mp4", &e);
	assert_false(e.is_dir);
	assert_string_equal(e.meta.sha256, rec.sha256);
	t_assert_inval(env, "k.mp4 k.mp4");
	/* ...and back. */
	assert_int_equal(fake_backend_hand_remove(env->be, "k.mp4"), 0);
	assert_int_equal(fake_backend_hand_mkdir(env->be, "k.mp4"), 0);
	t_scan(env);
	t_assert_catalog(env, "k.mp4/ x/ x/y/ x/y/z/");
	/* A directory made through this library is not announced again. */
	assert_int_equal(hubfs_library_mkdir(env->lib, "x/w", 0700, 0, 0), 0);
	t_inval_clear(env);
	t_scan(env);
	t_assert_inval(env, "");
	t_get(env, "x/w", &e);
	assert_int_equal(e.meta.mode, 0700);
}

static void test_ignores_non_videos(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta rec = t_record("video.webm", "webm");
	int64_t old = t_settled();

	t_put(env, "readme.txt", "faststart.mp4", NULL, old);
	t_put(env, "d/notes.doc", "faststart.mp4", &rec, old);
	t_put(env, "d/video", "faststart.mp4", NULL, old);
	t_put(env, ".hubfs/staging/x.mp4", "faststart.mp4", NULL, old); /* a backend's own */
	t_put(env, ".a.mp4.hubfs", "text.mp4", NULL, old);              /* a sidecar's name */
	fake_backend_reset_calls(env->be);
	t_scan(env);
	t_assert_catalog(env, "d/");
	t_assert_inval(env, "d");
	assert_int_equal(t_probes(env), 0);
	assert_int_equal(fake_backend_calls(env->be, "meta_get"), 0);
	assert_int_equal(fake_backend_calls(env->be, "list"), 2); /* never into .hubfs */
}

/*
 * A backend without fds (S3) cannot be probed by path: a hand-placed object is read once
 * through the backend into a private file and validated there; a bad one is remembered;
 * records are adopted as ever.
 */
static void test_no_read_fd(void **state)
{
	struct t_env *env = t_env_new_caps(HUBFS_BE_CAP_RENAME | HUBFS_BE_CAP_DIRS);
	struct hubfs_video_meta rec = t_record("video.webm", "webm");
	struct hubfs_cat_entry e;

	(void)state;
	t_put(env, "hand.webm", "video.webm", NULL, t_settled());
	t_put(env, "bad.mp4", "text.mp4", NULL, t_settled());
	t_put(env, "other.webm", "video.webm", &rec, 0);
	t_scan(env);
	t_assert_catalog(env, "hand.webm other.webm");
	assert_true(fake_backend_calls(env->be, "read") >= 1);
	assert_int_equal(fake_backend_calls(env->be, "read_fd"), 0);
	t_get(env, "hand.webm", &e);
	assert_string_equal(e.meta.media.container, "webm");
	assert_int_equal(e.meta.sha256[0] != '\0', 1);
	/* the bad one is remembered: the next pass reads nothing */
	fake_backend_reset_calls(env->be);
	t_scan(env);
	assert_int_equal(fake_backend_calls(env->be, "read"), 0);
	t_env_free(env);
}

static void test_scanner_thread(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta rec = t_record("video.webm", "webm");
	int i;

	t_put(env, "a.webm", "video.webm", &rec, 0);
	assert_int_equal(hubfs_library_start(env->lib), 0);
	assert_int_equal(fake_backend_calls(env->be, "recover"), 1);
	for (i = 0; i < 100 && !t_in_catalog(env, "a.webm"); i++)
		usleep(20000);
	assert_true(t_in_catalog(env, "a.webm")); /* the first pass runs at start */
	hubfs_library_stop(env->lib);
	hubfs_library_stop(env->lib); /* idempotent; free() stops it too */
	t_assert_inval(env, "a.webm");
}

/* What a clean pass over the state t_fault_prepare makes must give. */
#define T_FAULT_FINAL "dir/ dir/sub/ dir/sub/o.webm hand.mp4 other.mp4"

static void t_fault_prepare(struct t_env *env)
{
	struct hubfs_video_meta rec = t_record("video.webm", "webm");

	t_upload(env, "gone.webm", "video.webm");
	t_upload(env, "kept.webm", "video.webm");
	assert_int_equal(fake_backend_hand_remove(env->be, "gone.webm"), 0);
	assert_int_equal(fake_backend_hand_remove(env->be, "kept.webm"), 0);
	t_put(env, "other.mp4", "video.webm", &rec, 0);
	t_put(env, "hand.mp4", "video.webm", NULL, t_settled());
	t_put(env, "bad.mp4", "text.mp4", NULL, t_settled());
	t_put(env, "dir/sub/o.webm", "video.webm", &rec, 0);
}

/*
 * A pass under a failing backend (each faultable call in turn) never crashes or leaks,
 * leaves a sound catalog listing only what the backend holds, and the next clean passes
 * converge to the same catalog as a pass that never failed.
 */
static void test_scan_faults(void **state)
{
	unsigned int calls, n;
	struct t_env *env;
	char msg[256], keys[8192];
	int rc;

	(void)state;
	env = t_env_new_caps(FAKE_BACKEND_CAPS_LOCAL);
	t_fault_prepare(env);
	fake_backend_reset_calls(env->be);
	t_scan(env);
	calls = fake_backend_faultable_calls(env->be);
	t_assert_catalog(env, T_FAULT_FINAL);
	t_env_free(env);
	assert_true(calls >= 10); /* 3 listings, 4 record reads, 2 probes' stats, 1 record write */

	for (n = 1; n <= calls; n++) {
		env = t_env_new_caps(FAKE_BACKEND_CAPS_LOCAL);
		t_fault_prepare(env);
		hubfs_backend_fault_set("*", n, -EIO);
		rc = hubfs_library_scan(env->lib);
		hubfs_backend_fault_set("*", 0, 0);
		if (rc && rc != -EIO)
			fail_msg("fault #%u: scan returned %d", n, rc);
		assert_int_equal(hubfs_catalog_check(env->cat, msg, sizeof(msg)), 0);
		t_cat_keys(env, keys, sizeof(keys));
		/* A failed listing may leave some of the work for the next pass, nothing more. */
		assert_null(strstr(keys, "bad.mp4"));
		t_scan(env);
		t_scan(env);
		t_assert_catalog(env, T_FAULT_FINAL);
		t_env_free(env);
	}
}

/* ---- two mounts, one data_dir (the real local backend) ---------------------------------- */

struct t_mount {
	struct hubfs_backend *be;
	struct hubfs_catalog *cat;
	struct hubfs_library *lib;
};

static void t_mount_open(struct t_mount *m, const struct hubfs_config *cfg, const char *inst)
{
	char err[256];

	assert_int_equal(hubfs_backend_open(&m->be, cfg, inst, err, sizeof(err)), 0);
	assert_int_equal(hubfs_catalog_open(&m->cat, ":memory:"), 0);
	assert_int_equal(hubfs_library_new(&m->lib, cfg, m->be, m->cat), 0);
}

static void t_mount_close(struct t_mount *m)
{
	hubfs_library_free(m->lib);
	hubfs_catalog_close(m->cat);
	hubfs_backend_close(m->be);
}

static void t_mount_upload(struct t_mount *m, const char *path, const char *file)
{
	struct hubfs_library_upload *up;
	char src[PATH_MAX];
	unsigned char *buf;
	size_t len;

	t_media(file, src, sizeof(src));
	buf = t_slurp(src, &len);
	assert_int_equal(hubfs_library_upload_begin(m->lib, path, 0640, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	free(buf);
}

static void t_mount_assert_same(struct t_mount *a, struct t_mount *b, const char *path)
{
	struct hubfs_cat_entry ea, eb;

	memset(&ea, 0, sizeof(ea));
	memset(&eb, 0, sizeof(eb));
	assert_int_equal(hubfs_catalog_get(a->cat, path, &ea), 0);
	assert_int_equal(hubfs_catalog_get(b->cat, path, &eb), 0);
	assert_memory_equal(&ea, &eb, sizeof(ea));
}

static void test_two_mounts_local(void **state)
{
	struct hubfs_config cfg;
	struct t_mount a, b;
	char dir[] = "/tmp/hubfs-scan-XXXXXX", cmd[64], msg[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(hubfs_config_init(&cfg), 0);
	cfg.data_dir = strdup(dir);
	assert_non_null(cfg.data_dir);
	t_mount_open(&a, &cfg, "mount-a");
	t_mount_open(&b, &cfg, "mount-b");

	assert_int_equal(hubfs_library_mkdir(a.lib, "d", 0755, 0, 0), 0);
	t_mount_upload(&a, "d/a.mp4", "faststart.mp4");
	t_mount_upload(&a, "b.mkv", "video.mkv");
	assert_int_equal(hubfs_library_setattr(a.lib, "b.mkv", 0600, 5, 6, 1400000000000000007), 0);
	assert_int_equal(hubfs_library_scan(b.lib), 0);
	/* B lists the same videos with the same records, adopted from A's sidecars. */
	t_mount_assert_same(&a, &b, "d/a.mp4");
	t_mount_assert_same(&a, &b, "b.mkv");
	assert_int_equal(hubfs_catalog_check(b.cat, msg, sizeof(msg)), 0);
	/* A's own pass has nothing to do. */
	assert_int_equal(hubfs_library_scan(a.lib), 0);
	t_mount_assert_same(&a, &b, "b.mkv");

	/* A moves and deletes; B follows. */
	assert_int_equal(hubfs_library_rename(a.lib, "d", "e"), 0);
	assert_int_equal(hubfs_library_remove(a.lib, "b.mkv"), 0);
	assert_int_equal(hubfs_library_scan(b.lib), 0);
	t_mount_assert_same(&a, &b, "e/a.mp4");
	assert_int_equal(hubfs_catalog_get(b.cat, "b.mkv", &(struct hubfs_cat_entry){ 0 }),
			 -ENOENT);
	assert_int_equal(hubfs_catalog_get(b.cat, "d", &(struct hubfs_cat_entry){ 0 }), -ENOENT);
	/* B changes the mtime (so the bytes' identity changes); A follows. */
	assert_int_equal(hubfs_library_setattr(b.lib, "e/a.mp4", (uint32_t)-1, (uint32_t)-1,
					       (uint32_t)-1, 1300000000000000003),
			 0);
	assert_int_equal(hubfs_library_scan(a.lib), 0);
	t_mount_assert_same(&a, &b, "e/a.mp4");

	t_mount_close(&a);
	t_mount_close(&b);
	hubfs_config_release(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * chmod/chown through one mount, seen by the other: the bytes are unchanged, only the
 * record (the local sidecar) is rewritten; the scanner notices through the record's version
 * marker (hubfs_backend_entry.record_mtime_ns).
 */
static void test_two_mounts_chmod(void **state)
{
	struct hubfs_config cfg;
	struct hubfs_cat_entry ea, eb;
	struct t_mount a, b;
	char dir[] = "/tmp/hubfs-scan-XXXXXX", cmd[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(hubfs_config_init(&cfg), 0);
	cfg.data_dir = strdup(dir);
	assert_non_null(cfg.data_dir);
	t_mount_open(&a, &cfg, "mount-a");
	t_mount_open(&b, &cfg, "mount-b");
	t_mount_upload(&a, "a.webm", "video.webm");
	assert_int_equal(hubfs_library_scan(b.lib), 0);
	t_mount_assert_same(&a, &b, "a.webm");
	assert_int_equal(hubfs_library_setattr(b.lib, "a.webm", 0604, 77, (uint32_t)-1, INT64_MIN),
			 0);
	assert_int_equal(hubfs_library_scan(a.lib), 0);
	assert_int_equal(hubfs_catalog_get(a.cat, "a.webm", &ea), 0);
	assert_int_equal(hubfs_catalog_get(b.cat, "a.webm", &eb), 0);
	assert_int_equal(ea.meta.mode, 0604);
	assert_int_equal(ea.meta.uid, 77);
	t_mount_assert_same(&a, &b, "a.webm");
	t_mount_close(&a);
	t_mount_close(&b);
	hubfs_config_release(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_adopt_other_mount, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_hand_placed_settles, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_remembered, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_deleted, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_dirs_mirrored, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_ignores_non_videos, t_setup, t_teardown),
		cmocka_unit_test(test_no_read_fd),
		cmocka_unit_test_setup_teardown(test_scanner_thread, t_setup, t_teardown),
		cmocka_unit_test(test_scan_faults),
		cmocka_unit_test(test_two_mounts_local),
		cmocka_unit_test(test_two_mounts_chmod),
	};

	/* Expected failures log (injected faults, rejects); HUBFS_TEST_LOG=1 shows them. */
	if (!getenv("HUBFS_TEST_LOG"))
		hubfs_log_level = -1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
