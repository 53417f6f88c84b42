/*
 * test_upload.c — unit tests of the library's upload pipeline and namespace operations
 * (src/library/upload.c, library.c) against the recording fake backend (tests/fakes) and a
 * real catalog on ":memory:".
 *
 * Covers: a valid clip written in chunks is committed with its real SHA-256 and media fields;
 * out-of-order writes, rewrites and truncates still hash right; invalid content and EFBIG
 * store nothing and leave no staged bytes; a failed replacement keeps the old video;
 * attributes set on an upload apply at commit; an upload follows renames of itself and of
 * its directory, and is discarded when its name is removed (unless the removal fails);
 * .hub/uploads; the staged bytes are readable only by their writer; remove,
 * rename, mkdir, rmdir and setattr keep the backend and the catalog in step (and their
 * errnos); and a torture loop that fails the Nth call of each backend op (and of any op)
 * and checks a clean -EIO, an unchanged and consistent library, and (under LSan) no leak.
 * One test runs against the real local backend (sidecars, pre-1970 mtimes).
 *
 * The samples come from $HUBFS_TEST_MEDIA (tests/make-media.sh; the ctest fixture makes
 * them). Single-threaded: no scanner thread is started here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define T_LEAVE ((uint32_t)-1)

/* ---- media ------------------------------------------------------------------------------ */

/* $HUBFS_TEST_MEDIA/@file; fails the test when the sample is not there. */
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

/* The bytes of a file (malloc'd, caller frees). */
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

static unsigned char *t_sample(const char *file, size_t *len)
{
	char path[PATH_MAX];

	t_media(file, path, sizeof(path));
	return t_slurp(path, len);
}

static void t_sha256(const void *buf, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void t_sample_sha(const char *file, char hex[65])
{
	size_t len;
	unsigned char *buf = t_sample(file, &len);

	t_sha256(buf, len, hex);
	free(buf);
}

/* ---- the library under test ------------------------------------------------------------- */

struct t_env {
	struct hubfs_config cfg;
	struct hubfs_backend *be;
	struct hubfs_catalog *cat;
	struct hubfs_library *lib;
	bool fake;               /* be is the fake (else the real local backend) */
	char tmp[PATH_MAX - 64]; /* local backend only: its data_dir */
};

static int t_rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* A library on the fake backend (or, @local, the real local backend in a temp dir). */
static struct t_env *t_env_new_opts(uint64_t max_upload_mb, bool local)
{
	struct t_env *env = calloc(1, sizeof(*env));
	char err[256];

	assert_non_null(env);
	assert_int_equal(hubfs_config_init(&env->cfg), 0);
	env->cfg.max_upload_mb = max_upload_mb;
	if (local) {
		snprintf(env->tmp, sizeof(env->tmp), "/tmp/hubfs-lib-XXXXXX");
		assert_non_null(mkdtemp(env->tmp));
		env->cfg.data_dir = strdup(env->tmp);
		assert_non_null(env->cfg.data_dir);
		env->cfg.backend = HUBFS_BACKEND_LOCAL;
		assert_int_equal(hubfs_backend_open(&env->be, &env->cfg, "test", err, sizeof(err)),
				 0);
	} else {
		env->fake = true;
		assert_int_equal(fake_backend_new(&env->be, FAKE_BACKEND_CAPS_LOCAL), 0);
		env->cfg.data_dir = strdup(fake_backend_data_dir(env->be));
		assert_non_null(env->cfg.data_dir);
	}
	assert_int_equal(hubfs_catalog_open(&env->cat, ":memory:"), 0);
	assert_int_equal(hubfs_library_new(&env->lib, &env->cfg, env->be, env->cat), 0);
	return env;
}

static struct t_env *t_env_new(void)
{
	return t_env_new_opts(16, false);
}

static void t_env_free(struct t_env *env)
{
	hubfs_backend_fault_set("*", 0, 0);
	hubfs_library_free(env->lib);
	hubfs_catalog_close(env->cat);
	hubfs_backend_close(env->be);
	if (env->tmp[0])
		t_rm_tree(env->tmp);
	hubfs_config_release(&env->cfg);
	free(env);
}

static int t_setup(void **state)
{
	*state = t_env_new();
	return 0;
}

static int t_teardown(void **state)
{
	t_env_free(*state);
	return 0;
}

/* ---- catalog and backend views ---------------------------------------------------------- */

struct t_ent {
	char path[PATH_MAX];
	struct hubfs_cat_entry e;
};

struct t_ents {
	struct t_ent *v;
	size_t n, cap;
};

static int t_walk_cb(void *arg, const char *path, const struct hubfs_cat_entry *e)
{
	struct t_ents *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			return -ENOMEM;
	}
	snprintf(l->v[l->n].path, sizeof(l->v[l->n].path), "%s", path);
	l->v[l->n].e = *e;
	l->n++;
	return 0;
}

static int t_ent_cmp(const void *a, const void *b)
{
	const struct t_ent *x = a, *y = b;
	char kx[PATH_MAX + 1], ky[PATH_MAX + 1];

	snprintf(kx, sizeof(kx), "%s%s", x->path, x->e.is_dir ? "/" : "");
	snprintf(ky, sizeof(ky), "%s%s", y->path, y->e.is_dir ? "/" : "");
	return strcmp(kx, ky);
}

/* Every catalog entry (collected first: assertions never run inside a catalog callback). */
static struct t_ents t_catalog(struct t_env *env)
{
	struct t_ents l = { 0 };

	assert_int_equal(hubfs_catalog_walk(env->cat, t_walk_cb, &l), 0);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), t_ent_cmp);
	return l;
}

static void t_cat_keys(struct t_env *env, char *buf, size_t len)
{
	struct t_ents l = t_catalog(env);
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s", off ? " " : "", l.v[i].path,
					l.v[i].e.is_dir ? "/" : "");
	free(l.v);
}

static void t_be_keys(struct t_env *env, char *buf, size_t len)
{
	char **keys = fake_backend_keys(env->be);
	size_t off = 0;

	assert_non_null(keys);
	buf[0] = '\0';
	for (size_t i = 0; keys[i]; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "", keys[i]);
	fake_backend_keys_free(keys);
}

/* Everything the catalog holds, as one comparable string. */
static void t_cat_dump(struct t_env *env, char *buf, size_t len)
{
	struct t_ents l = t_catalog(env);
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		const struct hubfs_video_meta *m = &l.v[i].e.meta;

		off += (size_t)snprintf(buf + off, len - off, "%s%s mode=%o uid=%u mtime=%lld",
					l.v[i].path, l.v[i].e.is_dir ? "/" : "", m->mode, m->uid,
					(long long)m->mtime_ns);
		if (!l.v[i].e.is_dir)
			off += (size_t)snprintf(buf + off, len - off, " size=%llu sha=%.12s",
						(unsigned long long)m->size, m->sha256);
		off += (size_t)snprintf(buf + off, len - off, "\n");
	}
	free(l.v);
}

/*
 * The invariant every operation keeps: the catalog lists exactly what the fake backend
 * holds, each video's catalog record equals the one stored with it, the catalog is sound,
 * and no staged bytes exist beyond the uploads in progress.
 */
static void t_assert_consistent(struct t_env *env)
{
	char cat[8192], be[8192], msg[256];
	struct t_ents l;

	assert_int_equal(hubfs_catalog_check(env->cat, msg, sizeof(msg)), 0);
	t_cat_keys(env, cat, sizeof(cat));
	t_be_keys(env, be, sizeof(be));
	assert_string_equal(cat, be);
	l = t_catalog(env);
	for (size_t i = 0; i < l.n; i++) {
		const struct hubfs_video_meta *c = &l.v[i].e.meta;
		struct hubfs_video_meta b;

		if (l.v[i].e.is_dir)
			continue;
		if (fake_backend_meta(env->be, l.v[i].path, &b))
			fail_msg("'%s' has no record in the backend", l.v[i].path);
		assert_string_equal(c->sha256, b.sha256);
		assert_int_equal(c->size, b.size);
		assert_int_equal(c->mode, b.mode);
		assert_int_equal(c->mtime_ns, b.mtime_ns);
		assert_int_equal(c->file_size, b.file_size);
		assert_int_equal(c->file_mtime_ns, b.file_mtime_ns);
		assert_string_equal(c->media.container, b.media.container);
	}
	free(l.v);
	assert_int_equal(fake_backend_uploads_open(env->be), hubfs_library_uploads_count(env->lib));
	assert_int_equal(fake_backend_staged_files(env->be), fake_backend_uploads_open(env->be));
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

/* ---- uploads ---------------------------------------------------------------------------- */

enum t_order {
	T_IN_ORDER,
	T_REVERSE, /* chunks last to first: the hash is computed at commit */
	T_REWRITE, /* in order, then the first chunk again, then garbage past the end + truncate */
	T_TRUNCATE0, /* garbage, truncate to 0, then in order: the running hash restarts */
};

/* Write @len bytes of @buf into @up in @chunk-sized writes. First error, or 0. */
static int t_write_all(struct hubfs_library_upload *up, const unsigned char *buf, size_t len,
		       size_t chunk, enum t_order order)
{
	static const char junk[] = "not part of the video";
	size_t nchunks = (len + chunk - 1) / chunk;
	ssize_t w;
	int rc;

	if (order == T_TRUNCATE0) {
		w = hubfs_library_upload_write(up, junk, sizeof(junk), 0);
		if (w < 0)
			return (int)w;
		rc = hubfs_library_upload_truncate(up, 0);
		if (rc)
			return rc;
	}
	for (size_t k = 0; k < nchunks; k++) {
		size_t i = order == T_REVERSE ? nchunks - 1 - k : k;
		size_t off = i * chunk, n = len - off < chunk ? len - off : chunk;

		w = hubfs_library_upload_write(up, buf + off, n, (off_t)off);
		if (w < 0)
			return (int)w;
		assert_int_equal(w, n);
	}
	if (order == T_REWRITE) {
		w = hubfs_library_upload_write(up, buf, chunk < len ? chunk : len, 0);
		if (w < 0)
			return (int)w;
		w = hubfs_library_upload_write(up, junk, sizeof(junk), (off_t)len);
		if (w < 0)
			return (int)w;
		rc = hubfs_library_upload_truncate(up, (off_t)len);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Upload sample @file to @path like cp: begin, write, commit (also after a failed write,
 * as close() would), free. The first error, or commit's result.
 */
static int t_upload(struct t_env *env, const char *path, const char *file, size_t chunk,
		    enum t_order order)
{
	struct hubfs_library_upload *up;
	unsigned char *buf;
	size_t len;
	int rc, crc;

	buf = t_sample(file, &len);
	rc = hubfs_library_upload_begin(env->lib, path, 0644, 1000, 100, getpid(), &up);
	if (rc) {
		assert_null(up);
		free(buf);
		return rc;
	}
	rc = t_write_all(up, buf, len, chunk, order);
	crc = hubfs_library_upload_commit(up);
	if (rc)
		assert_int_equal(crc, rc); /* a failed write poisons the upload */
	assert_true(hubfs_library_upload_committed(up));
	assert_int_equal(hubfs_library_upload_commit(up), crc); /* a second flush: same answer */
	hubfs_library_upload_free(up);
	free(buf);
	return rc ? rc : crc;
}

/* The catalog entry at @path holds sample @file, committed by t_upload. */
static void t_assert_video(struct t_env *env, const char *path, const char *file,
			   const char *container)
{
	struct hubfs_cat_entry e;
	struct hubfs_video_meta b;
	char sha[65], src[PATH_MAX], dst[PATH_MAX];
	unsigned char *want, *got;
	size_t wlen, glen;

	t_get(env, path, &e);
	assert_false(e.is_dir);
	t_sample_sha(file, sha);
	assert_string_equal(e.meta.sha256, sha);
	t_media(file, src, sizeof(src));
	want = t_slurp(src, &wlen);
	assert_int_equal(e.meta.size, wlen);
	assert_string_equal(e.meta.media.container, container);
	assert_true(e.meta.media.duration > 0);
	assert_true(e.meta.media.width > 0 && e.meta.media.height > 0);
	assert_true(e.meta.media.video_codec[0]);
	assert_true(e.meta.uploaded > 0);
	assert_int_equal(e.meta.file_size, wlen);
	if (env->fake) {
		/* the backend holds the same bytes and record */
		assert_int_equal(fake_backend_meta(env->be, path, &b), 0);
		assert_string_equal(b.sha256, sha);
	}
	snprintf(dst, sizeof(dst), "%s/%s", env->cfg.data_dir, path);
	got = t_slurp(dst, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	free(want);
}

/* ---- tests: the pipeline ---------------------------------------------------------------- */

static void test_upload_valid(void **state)
{
	static const struct {
		const char *file, *path, *container;
		size_t chunk;
	} cases[] = {
		{ "faststart.mp4", "a.mp4", "mp4", 65536 },
		{ "video.mkv", "b.mkv", "mkv", 4093 },
		{ "mkv_named.mp4", "c.mp4", "mkv", 131072 }, /* content decides */
		{ "video.webm", "d.webm", "webm", 1 << 20 },
		{ "moov_end.mp4", "e.mp4", "mp4", 32768 },
	};
	struct t_env *env = *state;
	struct hubfs_cat_entry e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
			t_upload(env, cases[i].path, cases[i].file, cases[i].chunk, T_IN_ORDER), 0);
		t_assert_video(env, cases[i].path, cases[i].file, cases[i].container);
	}
	t_get(env, "a.mp4", &e);
	assert_string_equal(e.meta.media.video_codec, "h264");
	assert_string_equal(e.meta.media.audio_codec, "aac");
	assert_int_equal(e.meta.media.width, 320);
	assert_int_equal(e.meta.media.height, 240);
	assert_true(e.meta.media.duration > 1.5 && e.meta.media.duration < 2.5);
	assert_true(e.meta.media.fps > 24 && e.meta.media.fps < 26);
	assert_true(e.meta.media.bitrate > 0);
	assert_int_equal(e.meta.mode, 0644);
	assert_int_equal(e.meta.uid, 1000);
	assert_int_equal(e.meta.gid, 100);
	assert_true(e.meta.mtime_ns > 0); /* no utimens: the commit time */
	assert_int_equal(hubfs_library_uploads_count(env->lib), 0);
	t_assert_consistent(env);
	/* The upload calls reached the backend, nothing else did. */
	assert_int_equal(fake_backend_calls(env->be, "upload_commit"), 5);
	assert_int_equal(fake_backend_calls(env->be, "upload_abort"), 0);
	assert_int_equal(fake_backend_calls(env->be, "meta_put"), 0);
}

static void test_upload_after_commit(void **state)
{
	struct t_env *env = *state;
	struct hubfs_library_upload *up;
	unsigned char *buf;
	size_t len;

	buf = t_sample("video.webm", &len);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "a.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_upload_size(up), len);
	assert_false(hubfs_library_upload_committed(up));
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	/* Writing into an uploaded video: EPERM (DESIGN §2), and nothing changes. */
	assert_int_equal(hubfs_library_upload_write(up, buf, 10, 0), -EPERM);
	assert_int_equal(hubfs_library_upload_truncate(up, 0), -EPERM);
	assert_int_equal(hubfs_library_upload_staged_fd(up), -EBADF);
	hubfs_library_upload_free(up);
	free(buf);
	t_assert_video(env, "a.webm", "video.webm", "webm");
	t_assert_consistent(env);
}

static void test_upload_out_of_order(void **state)
{
	struct t_env *env = *state;
	unsigned char *buf;
	size_t len;
	struct hubfs_library_upload *up;

	/* Second half first, then the first half. */
	buf = t_sample("faststart.mp4", &len);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "half.mp4", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf + len / 2, len - len / 2,
						    (off_t)(len / 2)),
			 len - len / 2);
	assert_int_equal(hubfs_library_upload_size(up), len);
	assert_int_equal(hubfs_library_upload_write(up, buf, len / 2, 0), len / 2);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	free(buf);
	t_assert_video(env, "half.mp4", "faststart.mp4", "mp4");

	assert_int_equal(t_upload(env, "rev.mp4", "faststart.mp4", 10000, T_REVERSE), 0);
	t_assert_video(env, "rev.mp4", "faststart.mp4", "mp4");
	assert_int_equal(t_upload(env, "rewrite.mkv", "video.mkv", 50000, T_REWRITE), 0);
	t_assert_video(env, "rewrite.mkv", "video.mkv", "mkv");
	assert_int_equal(t_upload(env, "trunc0.webm", "video.webm", 5000, T_TRUNCATE0), 0);
	t_assert_video(env, "trunc0.webm", "video.webm", "webm");
	t_assert_consistent(env);
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

static void test_upload_invalid(void **state)
{
	static const char *bad[] = { "text.mp4", "audio_only.mp4", "empty.mkv",
				     "truncated_with_moov.mp4", "still_png.mkv" };
	struct t_env *env = *state;
	char events[] = "/tmp/hubfs-events-XXXXXX", want[128];
	int fd;

	fd = mkstemp(events);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hubfs_events_open(events), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[64];

		snprintf(path, sizeof(path), "bad%zu.mp4", i);
		if (t_upload(env, path, bad[i], 4096, T_IN_ORDER) != -EINVAL)
			fail_msg("%s was not refused with EINVAL", bad[i]);
		assert_false(t_in_catalog(env, path));
		snprintf(want, sizeof(want), "reject rejected 'videos/%s': ", path);
		if (!t_events_have(events, want))
			fail_msg("no event '%s'", want);
	}
	assert_true(t_events_have(events, "'videos/bad1.mp4': no video stream"));
	hubfs_events_close();
	unlink(events);
	/* Nothing in the catalog or the backend, no staged bytes left. */
	t_assert_consistent(env);
	assert_int_equal(fake_backend_staged_files(env->be), 0);
	assert_int_equal(fake_backend_uploads_open(env->be), 0);
	assert_int_equal(fake_backend_calls(env->be, "upload_commit"), 0);
	assert_int_equal(fake_backend_calls(env->be, "upload_abort"), 5);
}

static void test_upload_efbig(void **state)
{
	struct t_env *env = t_env_new_opts(1, false);
	struct hubfs_library_upload *up;
	unsigned char *buf;
	size_t len;

	(void)state;
	buf = t_sample("video.webm", &len);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "big.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	/* Ending exactly at 1 MB is allowed; one byte more is not, and writes nothing. */
	assert_int_equal(hubfs_library_upload_write(up, "x", 1, (1 << 20) - 1), 1);
	assert_int_equal(hubfs_library_upload_write(up, "xy", 2, (1 << 20) - 1), -EFBIG);
	assert_int_equal(hubfs_library_upload_write(up, "x", 1, -1), -EFBIG);
	assert_int_equal(hubfs_library_upload_truncate(up, (1 << 20) + 1), -EFBIG);
	assert_int_equal(hubfs_library_upload_size(up), 1 << 20);
	/* Shrinking back to a valid video does not cure it: the upload is poisoned. */
	assert_int_equal(hubfs_library_upload_truncate(up, (off_t)len), 0);
	assert_int_equal(hubfs_library_upload_commit(up), -EFBIG);
	assert_int_equal(hubfs_library_upload_commit(up), -EFBIG);
	hubfs_library_upload_free(up);
	assert_false(t_in_catalog(env, "big.webm"));
	t_assert_consistent(env);
	assert_int_equal(fake_backend_calls(env->be, "upload_commit"), 0);
	/* A video that fits still goes through. */
	assert_int_equal(t_upload(env, "ok.webm", "video.webm", 8192, T_IN_ORDER), 0);
	t_assert_consistent(env);
	free(buf);
	t_env_free(env);
}

static void test_upload_replace_fails_keeps_old(void **state)
{
	struct t_env *env = *state;
	struct hubfs_cat_entry before, after;

	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	assert_int_equal(t_upload(env, "a.mp4", "faststart.mp4", 65536, T_IN_ORDER), 0);
	t_get(env, "a.mp4", &before);
	/* Invalid content over it: refused, the old video untouched. */
	assert_int_equal(t_upload(env, "a.mp4", "text.mp4", 4096, T_IN_ORDER), -EINVAL);
	t_assert_video(env, "a.mp4", "faststart.mp4", "mp4");
	t_get(env, "a.mp4", &after);
	assert_memory_equal(&before, &after, sizeof(before));
	t_assert_consistent(env);
	/* The backend fails to store it: same. */
	hubfs_backend_fault_set("upload_commit", 1, -EIO);
	assert_int_equal(t_upload(env, "a.mp4", "video.mkv", 65536, T_IN_ORDER), -EIO);
	hubfs_backend_fault_set("*", 0, 0);
	t_assert_video(env, "a.mp4", "faststart.mp4", "mp4");
	t_get(env, "a.mp4", &after);
	assert_memory_equal(&before, &after, sizeof(before));
	t_assert_consistent(env);
	/* A valid replacement replaces. */
	assert_int_equal(t_upload(env, "a.mp4", "video.mkv", 65536, T_IN_ORDER), 0);
	t_assert_video(env, "a.mp4", "video.mkv", "mkv");
	t_assert_consistent(env);
}

static void test_upload_setattr(void **state)
{
	struct t_env *env = *state;
	const int64_t mtime = 1500000000123456789;
	struct hubfs_library_upload *up;
	struct hubfs_video_meta m;
	struct hubfs_cat_entry e;
	char file[PATH_MAX];
	unsigned char *buf;
	struct stat sb;
	size_t len;

	buf = t_sample("video.webm", &len);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "a.webm", 0664, 1, 2, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	/* cp -a: chmod, chown, utimens on the open file before close. */
	assert_int_equal(hubfs_library_upload_setattr(up, 0600, T_LEAVE, 7, INT64_MIN), 0);
	assert_int_equal(hubfs_library_upload_setattr_path(env->lib, "a.webm", T_LEAVE, 1000,
							   T_LEAVE, mtime),
			 0);
	assert_int_equal(hubfs_library_upload_setattr_path(env->lib, "nope.webm", 0600, T_LEAVE,
							   T_LEAVE, INT64_MIN),
			 -ENOENT);
	hubfs_library_upload_meta(up, &m);
	assert_int_equal(m.mode, 0600);
	assert_int_equal(m.uid, 1000);
	assert_int_equal(m.gid, 7);
	assert_int_equal(m.mtime_ns, mtime);
	assert_int_equal(m.size, len);
	assert_true(hubfs_library_upload_find(env->lib, "a.webm", &m));
	assert_int_equal(m.mtime_ns, mtime);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	free(buf);

	t_get(env, "a.webm", &e);
	assert_int_equal(e.meta.mode, 0600);
	assert_int_equal(e.meta.uid, 1000);
	assert_int_equal(e.meta.gid, 7);
	assert_int_equal(e.meta.mtime_ns, mtime);
	/* ...and applied to the stored bytes, whose identity the record carries. */
	snprintf(file, sizeof(file), "%s/a.webm", env->cfg.data_dir);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal((int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec, mtime);
	assert_int_equal(e.meta.file_mtime_ns, mtime);
	t_assert_consistent(env);
}

static void test_upload_rename_in_progress(void **state)
{
	struct t_env *env = *state;
	struct hubfs_library_upload *up, *up2;
	unsigned char *buf;
	size_t len;

	buf = t_sample("faststart.mp4", &len);
	/* mv of a file still being written: the upload follows the name. */
	assert_int_equal(hubfs_library_upload_begin(env->lib, "a.mp4", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len / 2, 0), len / 2);
	assert_int_equal(hubfs_library_rename(env->lib, "a.mp4", "b.mp4"), 0);
	assert_false(hubfs_library_upload_find(env->lib, "a.mp4", NULL));
	assert_true(hubfs_library_upload_find(env->lib, "b.mp4", NULL));
	assert_int_equal(hubfs_library_upload_write(up, buf + len / 2, len - len / 2,
						    (off_t)(len / 2)),
			 len - len / 2);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	assert_false(t_in_catalog(env, "a.mp4"));
	t_assert_video(env, "b.mp4", "faststart.mp4", "mp4");
	assert_int_equal(fake_backend_calls(env->be, "rename"), 0);

	/* An upload inside a directory that is renamed lands in the new directory. */
	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "d/x.mp4", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_rename(env->lib, "d", "e"), 0);
	assert_true(hubfs_library_upload_find(env->lib, "e/x.mp4", NULL));
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	t_assert_video(env, "e/x.mp4", "faststart.mp4", "mp4");
	assert_false(t_in_catalog(env, "d"));
	t_assert_consistent(env);

	/* Renamed onto an existing directory: EISDIR now, as rename(2) would, not at close. */
	assert_int_equal(hubfs_library_upload_begin(env->lib, "c.mp4", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_rename(env->lib, "c.mp4", "e"), -EISDIR);
	assert_true(hubfs_library_upload_find(env->lib, "c.mp4", NULL));
	/* Renamed onto a video: it will replace it at commit. */
	assert_int_equal(hubfs_library_rename(env->lib, "c.mp4", "b.mp4"), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "n.mp4", 0644, 0, 0, 0, &up2), 0);
	assert_int_equal(hubfs_library_rename(env->lib, "gone.mp4", "x.mp4"), -ENOENT);
	hubfs_library_upload_free(up2); /* never written, never committed */
	assert_false(hubfs_library_upload_find(env->lib, "n.mp4", NULL));
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	t_assert_video(env, "b.mp4", "faststart.mp4", "mp4");
	assert_false(t_in_catalog(env, "c.mp4"));
	t_assert_consistent(env);
	free(buf);
}

static void test_uploads_format(void **state)
{
	struct t_env *env = *state;
	struct hubfs_library_upload *a, *b;
	char *text;

	text = hubfs_library_uploads_format(env->lib);
	assert_non_null(text);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "a.mp4", 0644, 0, 0, 0, &a), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "d/b.mkv", 0644, 0, 0, 0, &b), 0);
	assert_int_equal(hubfs_library_upload_write(a, "0123456789", 10, 0), 10);
	assert_int_equal(hubfs_library_upload_write(a, "0123456789", 10, 995), 10);
	assert_int_equal(hubfs_library_uploads_count(env->lib), 2);
	text = hubfs_library_uploads_format(env->lib);
	assert_non_null(text);
	assert_non_null(strstr(text, "name=videos/a.mp4 bytes=1005 percent=- rate="));
	assert_non_null(strstr(text, "name=videos/d/b.mkv bytes=0 percent=- rate="));
	free(text);
	/* In progress: found by lookups, not in the catalog (so not listed), not in the backend. */
	assert_true(hubfs_library_upload_find(env->lib, "d/b.mkv", NULL));
	assert_false(t_in_catalog(env, "a.mp4"));
	t_assert_consistent(env);
	/* Committed or dropped: gone from the list. */
	assert_int_equal(hubfs_library_upload_commit(a), -EINVAL);
	hubfs_library_upload_free(a);
	text = hubfs_library_uploads_format(env->lib);
	assert_non_null(text);
	assert_null(strstr(text, "a.mp4"));
	assert_non_null(strstr(text, "d/b.mkv"));
	free(text);
	hubfs_library_upload_free(b);
	assert_int_equal(hubfs_library_uploads_count(env->lib), 0);
	text = hubfs_library_uploads_format(env->lib);
	assert_string_equal(text, "");
	free(text);
	t_assert_consistent(env);
}

static void test_open_staged(void **state)
{
	struct t_env *env = *state;
	struct hubfs_library_upload *up;
	char back[16];
	int fd;

	assert_int_equal(hubfs_library_upload_begin(env->lib, "a.mp4", 0644, 0, 0, 4242, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, "staged bytes", 12, 0), 12);
	/* The writer reads back its own bytes... */
	fd = hubfs_library_upload_open_staged(env->lib, "a.mp4", 4242);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, sizeof(back), 0), 12);
	assert_memory_equal(back, "staged bytes", 12);
	assert_int_equal(write(fd, "x", 1), -1); /* read-only */
	close(fd);
	fd = hubfs_library_upload_open_staged(env->lib, "a.mp4", 0); /* 0: any process */
	assert_true(fd >= 0);
	close(fd);
	fd = hubfs_library_upload_staged_fd(up);
	assert_true(fd >= 0);
	close(fd);
	/* ...nobody else sees unvalidated bytes. */
	assert_int_equal(hubfs_library_upload_open_staged(env->lib, "a.mp4", 4343), -ENOENT);
	assert_int_equal(hubfs_library_upload_open_staged(env->lib, "b.mp4", 4242), -ENOENT);
	/* After a rename, under the new name only. */
	assert_int_equal(hubfs_library_rename(env->lib, "a.mp4", "b.mp4"), 0);
	assert_int_equal(hubfs_library_upload_open_staged(env->lib, "a.mp4", 4242), -ENOENT);
	fd = hubfs_library_upload_open_staged(env->lib, "b.mp4", 4242);
	assert_true(fd >= 0);
	close(fd);
	/* Once committed (here: refused) the staged bytes are gone for everyone. */
	assert_int_equal(hubfs_library_upload_commit(up), -EINVAL);
	assert_int_equal(hubfs_library_upload_open_staged(env->lib, "b.mp4", 4242), -ENOENT);
	assert_int_equal(hubfs_library_upload_staged_fd(up), -EBADF);
	hubfs_library_upload_free(up);
	t_assert_consistent(env);
}

/* ---- tests: the namespace --------------------------------------------------------------- */

static void test_mkdir_rmdir(void **state)
{
	struct t_env *env = *state;
	struct hubfs_library_upload *up;
	struct hubfs_cat_entry e;
	char file[PATH_MAX];

	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0750, 5, 6), 0);
	t_get(env, "d", &e);
	assert_true(e.is_dir);
	assert_int_equal(e.meta.mode, 0750);
	assert_int_equal(e.meta.uid, 5);
	assert_int_equal(e.meta.gid, 6);
	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), -EEXIST);
	assert_int_equal(hubfs_library_mkdir(env->lib, "d/e", 0755, 0, 0), 0);
	assert_int_equal(hubfs_library_mkdir(env->lib, "x/y", 0755, 0, 0), -ENOENT);
	t_assert_consistent(env);

	/* A directory with a video, or with an upload in progress, is not empty. */
	assert_int_equal(t_upload(env, "d/a.webm", "video.webm", 8192, T_IN_ORDER), 0);
	assert_int_equal(hubfs_library_rmdir(env->lib, "d"), -ENOTEMPTY);
	assert_int_equal(hubfs_library_rmdir(env->lib, "d/a.webm"), -ENOTDIR);
	assert_int_equal(hubfs_library_rmdir(env->lib, "nope"), -ENOENT);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "d/e/b.mp4", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_rmdir(env->lib, "d/e"), -ENOTEMPTY);
	t_assert_consistent(env);
	hubfs_library_upload_free(up);
	assert_int_equal(hubfs_library_rmdir(env->lib, "d/e"), 0);
	assert_false(t_in_catalog(env, "d/e"));
	t_assert_consistent(env);

	/* A directory already in the backend (another mount, not yet scanned) is adopted... */
	assert_int_equal(fake_backend_hand_mkdir(env->be, "h"), 0);
	assert_int_equal(hubfs_library_mkdir(env->lib, "h", 0700, 0, 0), 0);
	t_get(env, "h", &e);
	assert_true(e.is_dir);
	t_assert_consistent(env);
	/* ...but a file there is not a directory: EEXIST, the catalog keeps no phantom dir. */
	t_media("text.mp4", file, sizeof(file));
	assert_int_equal(fake_backend_hand_put(env->be, "notes", file, NULL, 0), 0);
	assert_int_equal(hubfs_library_mkdir(env->lib, "notes", 0755, 0, 0), -EEXIST);
	assert_false(t_in_catalog(env, "notes"));
	assert_int_equal(fake_backend_hand_remove(env->be, "notes"), 0);
	t_assert_consistent(env);

	/* The backend holds a file we do not show: rmdir says ENOTEMPTY, the catalog keeps d/. */
	assert_int_equal(fake_backend_hand_put(env->be, "h/readme.txt", file, NULL, 0), 0);
	assert_int_equal(hubfs_library_rmdir(env->lib, "h"), -ENOTEMPTY);
	t_get(env, "h", &e);
	assert_true(e.is_dir);
	assert_int_equal(e.meta.mode, 0700);
	assert_int_equal(fake_backend_hand_remove(env->be, "h/readme.txt"), 0);
	/* Gone from the backend already (by hand): rmdir still succeeds. */
	assert_int_equal(fake_backend_hand_remove(env->be, "h"), 0);
	assert_int_equal(hubfs_library_rmdir(env->lib, "h"), 0);
	assert_false(t_in_catalog(env, "h"));
	t_assert_consistent(env);
}

static void test_remove(void **state)
{
	struct t_env *env = *state;

	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	assert_int_equal(t_upload(env, "d/a.webm", "video.webm", 8192, T_IN_ORDER), 0);
	assert_int_equal(t_upload(env, "b.webm", "video.webm", 8192, T_IN_ORDER), 0);
	assert_int_equal(hubfs_library_remove(env->lib, "d"), -EISDIR);
	assert_int_equal(hubfs_library_remove(env->lib, "nope.mp4"), -ENOENT);
	assert_int_equal(hubfs_library_remove(env->lib, "d/nope.mp4"), -ENOENT);
	t_assert_consistent(env);
	assert_int_equal(hubfs_library_remove(env->lib, "d/a.webm"), 0);
	assert_false(t_in_catalog(env, "d/a.webm"));
	assert_int_equal(fake_backend_calls(env->be, "remove"), 1);
	t_assert_consistent(env);
	/* Already deleted from the backend (another mount): the catalog follows, no error. */
	assert_int_equal(fake_backend_hand_remove(env->be, "b.webm"), 0);
	assert_int_equal(hubfs_library_remove(env->lib, "b.webm"), 0);
	assert_false(t_in_catalog(env, "b.webm"));
	t_assert_consistent(env);
	/* A failing backend: the video stays in both. */
	assert_int_equal(t_upload(env, "c.webm", "video.webm", 8192, T_IN_ORDER), 0);
	hubfs_backend_fault_set("remove", 1, -EACCES);
	assert_int_equal(hubfs_library_remove(env->lib, "c.webm"), -EACCES);
	hubfs_backend_fault_set("*", 0, 0);
	assert_true(t_in_catalog(env, "c.webm"));
	t_assert_consistent(env);
}

/* rm of a file still being written: like an unlinked open file, its bytes go nowhere. */
static void test_remove_upload_in_progress(void **state)
{
	struct t_env *env = *state;
	struct hubfs_library_upload *up;
	unsigned char *buf, *buf2;
	size_t len, len2;

	buf = t_sample("video.webm", &len);
	buf2 = t_sample("faststart.mp4", &len2);
	/* A new file. */
	assert_int_equal(hubfs_library_upload_begin(env->lib, "a.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len / 2, 0), len / 2);
	assert_int_equal(hubfs_library_remove(env->lib, "a.webm"), 0);
	assert_false(hubfs_library_upload_find(env->lib, "a.webm", NULL));
	assert_int_equal(hubfs_library_remove(env->lib, "a.webm"), -ENOENT);
	assert_int_equal(hubfs_library_upload_write(up, buf + len / 2, len - len / 2,
						    (off_t)(len / 2)),
			 len - len / 2);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	assert_false(t_in_catalog(env, "a.webm"));
	assert_int_equal(fake_backend_calls(env->be, "upload_commit"), 0);
	t_assert_consistent(env);

	/* A replacement of a stored video: both go. */
	assert_int_equal(t_upload(env, "b.webm", "video.webm", 8192, T_IN_ORDER), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "b.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf2, len2, 0), len2);
	assert_int_equal(hubfs_library_remove(env->lib, "b.webm"), 0);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	assert_false(t_in_catalog(env, "b.webm"));
	t_assert_consistent(env);

	/* The rm fails: the name stays, and so does the replacement being written under it. */
	assert_int_equal(t_upload(env, "c.webm", "video.webm", 8192, T_IN_ORDER), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "c.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf2, len2, 0), len2);
	hubfs_backend_fault_set("remove", 1, -EIO);
	assert_int_equal(hubfs_library_remove(env->lib, "c.webm"), -EIO);
	hubfs_backend_fault_set("*", 0, 0);
	assert_true(hubfs_library_upload_find(env->lib, "c.webm", NULL));
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	t_assert_video(env, "c.webm", "faststart.mp4", "mp4");
	t_assert_consistent(env);

	/* An unlinked upload does not keep its directory busy (rm d/x; rmdir d while cp runs). */
	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "d/x.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_rmdir(env->lib, "d"), -ENOTEMPTY);
	assert_int_equal(hubfs_library_remove(env->lib, "d/x.webm"), 0);
	assert_int_equal(hubfs_library_rmdir(env->lib, "d"), 0);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	assert_false(t_in_catalog(env, "d"));
	assert_false(t_in_catalog(env, "d/x.webm"));
	t_assert_consistent(env);
	free(buf);
	free(buf2);
}

static void test_rename(void **state)
{
	struct t_env *env = *state;
	struct hubfs_video_meta m;
	char sha[65];

	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	assert_int_equal(hubfs_library_mkdir(env->lib, "f", 0755, 0, 0), 0);
	assert_int_equal(t_upload(env, "a.mp4", "faststart.mp4", 65536, T_IN_ORDER), 0);
	assert_int_equal(t_upload(env, "b.mkv", "video.mkv", 65536, T_IN_ORDER), 0);
	assert_int_equal(t_upload(env, "f/c.webm", "video.webm", 65536, T_IN_ORDER), 0);

	/* A video over a video: replaces it, the record follows the bytes. */
	assert_int_equal(hubfs_library_rename(env->lib, "a.mp4", "b.mkv"), 0);
	assert_false(t_in_catalog(env, "a.mp4"));
	t_assert_video(env, "b.mkv", "faststart.mp4", "mp4");
	t_sample_sha("faststart.mp4", sha);
	assert_int_equal(fake_backend_meta(env->be, "b.mkv", &m), 0);
	assert_string_equal(m.sha256, sha);
	assert_int_equal(fake_backend_meta(env->be, "a.mp4", &m), -ENOENT);
	t_assert_consistent(env);
	/* Into a directory; to the same name (a no-op). */
	assert_int_equal(hubfs_library_rename(env->lib, "b.mkv", "d/b.mp4"), 0);
	t_assert_video(env, "d/b.mp4", "faststart.mp4", "mp4");
	assert_int_equal(hubfs_library_rename(env->lib, "d/b.mp4", "d/b.mp4"), 0);
	t_assert_video(env, "d/b.mp4", "faststart.mp4", "mp4");
	t_assert_consistent(env);

	/* Kind mismatches and missing sources. */
	assert_int_equal(hubfs_library_rename(env->lib, "d/b.mp4", "f"), -EISDIR);
	assert_int_equal(hubfs_library_rename(env->lib, "f", "d/b.mp4"), -ENOTDIR);
	assert_int_equal(hubfs_library_rename(env->lib, "nope.mp4", "x.mp4"), -ENOENT);
	/* A directory onto a non-empty directory; into itself. */
	assert_int_equal(hubfs_library_rename(env->lib, "d", "f"), -ENOTEMPTY);
	assert_int_equal(hubfs_library_rename(env->lib, "d", "d/sub"), -EINVAL);
	t_assert_consistent(env);

	/* A directory with its subtree, onto an empty directory. */
	assert_int_equal(hubfs_library_mkdir(env->lib, "g", 0755, 0, 0), 0);
	assert_int_equal(hubfs_library_rename(env->lib, "f", "g"), 0);
	assert_false(t_in_catalog(env, "f"));
	t_assert_video(env, "g/c.webm", "video.webm", "webm");
	assert_int_equal(hubfs_library_rename(env->lib, "g", "d/h"), 0);
	t_assert_video(env, "d/h/c.webm", "video.webm", "webm");
	t_assert_consistent(env);
}

static void test_setattr(void **state)
{
	struct t_env *env = *state;
	const int64_t mtime = 1234567890987654321;
	struct hubfs_cat_entry e;
	struct hubfs_video_meta m;

	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
	assert_int_equal(t_upload(env, "d/a.webm", "video.webm", 8192, T_IN_ORDER), 0);
	assert_int_equal(hubfs_library_setattr(env->lib, "d/a.webm", 0600, T_LEAVE, 55, mtime), 0);
	t_get(env, "d/a.webm", &e);
	assert_int_equal(e.meta.mode, 0600);
	assert_int_equal(e.meta.uid, 1000); /* left */
	assert_int_equal(e.meta.gid, 55);
	assert_int_equal(e.meta.mtime_ns, mtime);
	assert_int_equal(fake_backend_meta(env->be, "d/a.webm", &m), 0);
	assert_int_equal(m.mode, 0600);
	assert_int_equal(m.gid, 55);
	assert_int_equal(m.mtime_ns, mtime);
	t_assert_consistent(env);
	/* The record carries the new identity: a scan finds nothing to do. */
	fake_backend_reset_calls(env->be);
	assert_int_equal(hubfs_library_scan(env->lib), 0);
	assert_int_equal(fake_backend_calls(env->be, "meta_get"), 0);
	assert_int_equal(fake_backend_calls(env->be, "stat"), 0);
	t_get(env, "d/a.webm", &e);
	assert_int_equal(e.meta.mtime_ns, mtime);

	/* A directory: the catalog only. */
	assert_int_equal(hubfs_library_setattr(env->lib, "d", 0700, T_LEAVE, T_LEAVE, INT64_MIN),
			 0);
	t_get(env, "d", &e);
	assert_int_equal(e.meta.mode, 0700);
	assert_int_equal(hubfs_library_setattr(env->lib, "nope.mp4", 0600, T_LEAVE, T_LEAVE,
					       INT64_MIN),
			 -ENOENT);
	/* A failing backend: nothing changes. */
	hubfs_backend_fault_set("meta_put", 1, -EROFS);
	assert_int_equal(hubfs_library_setattr(env->lib, "d/a.webm", 0644, T_LEAVE, T_LEAVE,
					       INT64_MIN),
			 -EROFS);
	hubfs_backend_fault_set("*", 0, 0);
	t_get(env, "d/a.webm", &e);
	assert_int_equal(e.meta.mode, 0600);
	t_assert_consistent(env);
}

/* The real local backend: sidecars written by commit and setattr, pre-1970 mtimes. */
static void test_local_backend(void **state)
{
	struct t_env *env = t_env_new_opts(16, true);
	const int64_t old = -1500000000; /* 1969-12-31T23:59:58.5Z */
	struct hubfs_library_upload *up;
	struct hubfs_video_meta side;
	struct hubfs_cat_entry e;
	char file[PATH_MAX];
	unsigned char *buf;
	struct stat sb;
	size_t len;

	(void)state;
	assert_int_equal(t_upload(env, "a.mp4", "faststart.mp4", 65536, T_REVERSE), 0);
	t_assert_video(env, "a.mp4", "faststart.mp4", "mp4");
	t_get(env, "a.mp4", &e);
	assert_int_equal(hubfs_backend_meta_get(env->be, "a.mp4", &side), 0);
	assert_string_equal(side.sha256, e.meta.sha256);
	assert_int_equal(side.file_mtime_ns, e.meta.file_mtime_ns);

	/* cp -a of a file from before 1970. */
	buf = t_sample("video.webm", &len);
	assert_int_equal(hubfs_library_upload_begin(env->lib, "old.webm", 0644, 0, 0, 0, &up), 0);
	assert_int_equal(hubfs_library_upload_write(up, buf, len, 0), len);
	assert_int_equal(hubfs_library_upload_setattr(up, T_LEAVE, T_LEAVE, T_LEAVE, old), 0);
	assert_int_equal(hubfs_library_upload_commit(up), 0);
	hubfs_library_upload_free(up);
	free(buf);
	t_get(env, "old.webm", &e);
	assert_int_equal(e.meta.mtime_ns, old);
	snprintf(file, sizeof(file), "%s/old.webm", env->tmp);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal((int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec, old);
	/* touch -d 1969-...: the same through setattr. */
	assert_int_equal(hubfs_library_setattr(env->lib, "a.mp4", T_LEAVE, T_LEAVE, T_LEAVE, old),
			 0);
	t_get(env, "a.mp4", &e);
	assert_int_equal(e.meta.mtime_ns, old);
	assert_int_equal(e.meta.file_mtime_ns, old);
	assert_int_equal(hubfs_backend_meta_get(env->be, "a.mp4", &side), 0);
	assert_int_equal(side.mtime_ns, old);
	/* rename and remove carry and drop the sidecar. */
	assert_int_equal(hubfs_library_rename(env->lib, "a.mp4", "b.mp4"), 0);
	assert_int_equal(hubfs_backend_meta_get(env->be, "a.mp4", &side), -ENOENT);
	assert_int_equal(hubfs_backend_meta_get(env->be, "b.mp4", &side), 0);
	assert_int_equal(hubfs_library_remove(env->lib, "b.mp4"), 0);
	assert_int_equal(hubfs_backend_meta_get(env->be, "b.mp4", &side), -ENOENT);
	t_env_free(env);
}

/* ---- torture ---------------------------------------------------------------------------- */

struct t_case {
	const char *name;
	void (*prepare)(struct t_env *env); /* the state before the operation (no faults) */
	int (*run)(struct t_env *env);      /* the operation: 0 or the first -errno */
	void (*done)(struct t_env *env);    /* checks after a run that succeeded */
	/* Checks after a run that failed; NULL: the catalog must be as it was before. */
	void (*failed)(struct t_env *env);
};

static void t_prep_dir(struct t_env *env)
{
	assert_int_equal(hubfs_library_mkdir(env->lib, "d", 0755, 0, 0), 0);
}

static void t_prep_video(struct t_env *env)
{
	assert_int_equal(t_upload(env, "a.mp4", "video.webm", 8192, T_IN_ORDER), 0);
}

static void t_prep_two_videos(struct t_env *env)
{
	t_prep_video(env);
	t_prep_dir(env);
	assert_int_equal(t_upload(env, "b.mp4", "video.webm", 16384, T_TRUNCATE0), 0);
}

static void t_prep_dir_video(struct t_env *env)
{
	t_prep_dir(env);
	assert_int_equal(t_upload(env, "d/a.webm", "video.webm", 8192, T_IN_ORDER), 0);
}

static int t_run_upload(struct t_env *env)
{
	return t_upload(env, "d/a.webm", "video.webm", 8192, T_IN_ORDER);
}

static void t_done_upload(struct t_env *env)
{
	t_assert_video(env, "d/a.webm", "video.webm", "webm");
}

static int t_run_upload_rewrite(struct t_env *env)
{
	return t_upload(env, "d/a.webm", "video.webm", 8192, T_REWRITE);
}

static int t_run_replace(struct t_env *env)
{
	return t_upload(env, "a.mp4", "faststart.mp4", 65536, T_REVERSE);
}

static void t_done_replace(struct t_env *env)
{
	t_assert_video(env, "a.mp4", "faststart.mp4", "mp4");
}

/* begin, write half, rename it, rename its directory, write the rest, commit. */
static int t_run_upload_moved(struct t_env *env)
{
	struct hubfs_library_upload *up;
	unsigned char *buf;
	size_t len;
	int rc;

	buf = t_sample("video.webm", &len);
	rc = hubfs_library_upload_begin(env->lib, "d/x.webm", 0644, 0, 0, 0, &up);
	if (rc)
		goto out;
	rc = t_write_all(up, buf, len / 2, 4096, T_IN_ORDER);
	if (!rc)
		rc = hubfs_library_rename(env->lib, "d/x.webm", "d/y.webm");
	if (!rc)
		rc = hubfs_library_rename(env->lib, "d", "e");
	if (!rc) {
		ssize_t w = hubfs_library_upload_write(up, buf + len / 2, len - len / 2,
						       (off_t)(len / 2));

		rc = w < 0 ? (int)w : 0;
	}
	if (!rc)
		rc = hubfs_library_upload_commit(up);
	hubfs_library_upload_free(up); /* aborts it if a step failed */
out:
	free(buf);
	return rc;
}

static void t_done_upload_moved(struct t_env *env)
{
	t_assert_video(env, "e/y.webm", "video.webm", "webm");
	assert_false(t_in_catalog(env, "d"));
}

/* Not atomic as a whole (the directory rename may have happened), but nothing is stored. */
static void t_failed_upload_moved(struct t_env *env)
{
	assert_false(t_in_catalog(env, "d/x.webm"));
	assert_false(t_in_catalog(env, "d/y.webm"));
	assert_false(t_in_catalog(env, "e/y.webm"));
}

static int t_run_remove(struct t_env *env)
{
	return hubfs_library_remove(env->lib, "a.mp4");
}

static void t_done_remove(struct t_env *env)
{
	assert_false(t_in_catalog(env, "a.mp4"));
}

static int t_run_rename_over(struct t_env *env)
{
	return hubfs_library_rename(env->lib, "a.mp4", "b.mp4");
}

static void t_done_rename_over(struct t_env *env)
{
	assert_false(t_in_catalog(env, "a.mp4"));
	assert_true(t_in_catalog(env, "b.mp4"));
}

static int t_run_rename_into(struct t_env *env)
{
	return hubfs_library_rename(env->lib, "a.mp4", "d/c.mp4");
}

static void t_done_rename_into(struct t_env *env)
{
	assert_true(t_in_catalog(env, "d/c.mp4"));
}

static int t_run_rename_dir(struct t_env *env)
{
	return hubfs_library_rename(env->lib, "d", "e");
}

static void t_done_rename_dir(struct t_env *env)
{
	t_assert_video(env, "e/a.webm", "video.webm", "webm");
}

static int t_run_mkdir(struct t_env *env)
{
	return hubfs_library_mkdir(env->lib, "d/e", 0700, 0, 0);
}

static void t_done_mkdir(struct t_env *env)
{
	assert_true(t_in_catalog(env, "d/e"));
}

static int t_run_rmdir(struct t_env *env)
{
	return hubfs_library_rmdir(env->lib, "d");
}

static void t_done_rmdir(struct t_env *env)
{
	assert_false(t_in_catalog(env, "d"));
}

static int t_run_setattr(struct t_env *env)
{
	return hubfs_library_setattr(env->lib, "a.mp4", 0600, T_LEAVE, T_LEAVE,
				     1300000000000000001);
}

static void t_done_setattr(struct t_env *env)
{
	struct hubfs_cat_entry e;

	t_get(env, "a.mp4", &e);
	assert_int_equal(e.meta.mode, 0600);
	assert_int_equal(e.meta.mtime_ns, 1300000000000000001);
}

static const struct t_case t_cases[] = {
	{ "upload", t_prep_dir, t_run_upload, t_done_upload },
	{ "upload_rewrite", t_prep_dir, t_run_upload_rewrite, t_done_upload },
	{ "replace", t_prep_video, t_run_replace, t_done_replace },
	{ "upload_moved", t_prep_dir, t_run_upload_moved, t_done_upload_moved,
	  t_failed_upload_moved },
	{ "remove", t_prep_video, t_run_remove, t_done_remove },
	{ "rename_over", t_prep_two_videos, t_run_rename_over, t_done_rename_over },
	{ "rename_into", t_prep_two_videos, t_run_rename_into, t_done_rename_into },
	{ "rename_dir", t_prep_dir_video, t_run_rename_dir, t_done_rename_dir },
	{ "mkdir", t_prep_dir, t_run_mkdir, t_done_mkdir },
	{ "rmdir", t_prep_dir, t_run_rmdir, t_done_rmdir },
	{ "setattr", t_prep_video, t_run_setattr, t_done_setattr },
};

/* Every op name backend.c's fault hook knows, and "*" (any op). */
static const char *const t_fault_ops[] = {
	"upload_begin", "upload_write",  "upload_truncate",
	"upload_sync",  "upload_commit", "remove",
	"rename",       "mkdir",         "rmdir",
	"list",         "stat",          "meta_get",
	"meta_put",     "read_open",     "read",
	"check",        "statfs",        "*",
};

#define T_NOPS (sizeof(t_fault_ops) / sizeof(t_fault_ops[0]))

/*
 * One run of @tc with the @nth call of @op failing (nth 0: no fault); @calls (if not NULL)
 * gets how many calls of each op of t_fault_ops reached the backend. Returns run's rc.
 */
static int t_torture_run(const struct t_case *tc, const char *op, unsigned int nth,
			 unsigned int calls[T_NOPS])
{
	struct t_env *env = t_env_new();
	char before[8192], after[8192];
	int rc;

	tc->prepare(env);
	t_assert_consistent(env);
	t_cat_dump(env, before, sizeof(before));
	fake_backend_reset_calls(env->be);
	hubfs_backend_fault_set(op, nth, -EIO);
	rc = tc->run(env);
	hubfs_backend_fault_set("*", 0, 0);
	for (size_t o = 0; calls && o < T_NOPS; o++)
		calls[o] = !strcmp(t_fault_ops[o], "*") ?
				   fake_backend_faultable_calls(env->be) :
				   fake_backend_calls(env->be, t_fault_ops[o]);
	t_assert_consistent(env);
	if (rc && tc->failed) {
		tc->failed(env);
	} else if (rc) {
		/* Failed cleanly: the library is as it was. */
		t_cat_dump(env, after, sizeof(after));
		if (strcmp(before, after))
			fail_msg("%s, fault in %s #%u: catalog changed\nbefore:\n%s\nafter:\n%s",
				 tc->name, op, nth, before, after);
	} else {
		tc->done(env);
	}
	t_env_free(env);
	return rc;
}

static void test_torture(void **state)
{
	unsigned int runs = 0;

	(void)state;
	for (size_t c = 0; c < sizeof(t_cases) / sizeof(t_cases[0]); c++) {
		const struct t_case *tc = &t_cases[c];
		unsigned int calls[T_NOPS];
		int rc;

		/* A clean run counts each op's calls; then fail each of them in turn. */
		rc = t_torture_run(tc, "*", 0, calls);
		if (rc)
			fail_msg("%s: fails without a fault: %d", tc->name, rc);
		for (size_t o = 0; o < T_NOPS; o++) {
			const char *op = t_fault_ops[o];
			unsigned int n;

			if (!calls[o])
				continue;
			for (n = 1; n <= calls[o]; n++, runs++) {
				rc = t_torture_run(tc, op, n, NULL);
				if (rc != -EIO)
					fail_msg("%s, fault in %s #%u of %u: rc %d, expected -EIO",
						 tc->name, op, n, calls[o], rc);
			}
			/* One past the last call: the fault is never hit. */
			rc = t_torture_run(tc, op, n, NULL);
			if (rc)
				fail_msg("%s, fault in %s #%u (never reached): rc %d", tc->name, op,
					 n, rc);
		}
	}
	assert_true(runs > 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upload_valid, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_upload_after_commit, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_upload_out_of_order, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_upload_invalid, t_setup, t_teardown),
		cmocka_unit_test(test_upload_efbig),
		cmocka_unit_test_setup_teardown(test_upload_replace_fails_keeps_old, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_upload_setattr, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_upload_rename_in_progress, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_uploads_format, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_open_staged, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_rmdir, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_remove, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_remove_upload_in_progress, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_rename, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_setattr, t_setup, t_teardown),
		cmocka_unit_test(test_local_backend),
		cmocka_unit_test(test_torture),
	};

	/* Expected failures log (injected faults, rejects); HUBFS_TEST_LOG=1 shows them. */
	if (!getenv("HUBFS_TEST_LOG"))
		hubfs_log_level = -1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
