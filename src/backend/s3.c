/*
 * s3.c — the S3 backend (backend=s3): videos as objects under s3_prefix in s3_bucket,
 * through our client (s3_client.h: libcurl + our SigV4 signer).
 *
 * DESIGN (first step of issue 5; what is not here yet is listed at the end):
 *   - Keys: object key = s3_prefix + path ("talk.mp4", "coll/b.mkv"). A directory is a
 *     common prefix; mkdir also writes a zero-byte marker "coll/" so an empty directory
 *     exists. prefix + ".hubfs/" is ours (the live check's probe, uploads in progress) and
 *     never listed.
 *   - Metadata travels on the object as x-amz-meta-* (video.h's record, one header per key:
 *     x-amz-meta-duration, -sha256, -video_codec, ...), so awscli shows it and a second
 *     mount reads it with one HEAD. The record's identity (file_size, file_mtime_ns) is the
 *     object's own size and Last-Modified: metadata cannot go stale against bytes on S3,
 *     because it is replaced atomically with them (a chmod is a server-side copy onto
 *     itself with the new metadata, which also moves Last-Modified).
 *   - Uploads (s3_upload.c) are staged in state_dir/s3-staging/ (the validation gate reads
 *     them there). Past 16 MiB their parts go up while the file is written, as a multipart
 *     upload under a hidden key; commit, only after the library's validation passed, sends
 *     what is left, completes it and copies it onto the video's key with the metadata.
 *     Smaller videos go as one PUT (Content-MD5 + signed SHA-256) at commit. A refused or
 *     failed upload is aborted: an invalid video never exists in the bucket.
 *   - Reads (s3_readahead.c) are ranged GETs with a read-ahead window that starts at
 *     128 KiB, doubles on sequential access up to 8 MiB and resets on a seek (mountpoint-s3's
 *     shape), large windows as 1 MiB GETs four at a time, the bytes in flight bounded for
 *     all readers together (64 MiB), through a disk block cache in state_dir/s3-cache
 *     bounded by cache_mb (LRU; s3_cache.c), keyed by ETag so a replaced object never
 *     serves old bytes.
 *   Not yet (next steps): ranged probing of objects without our metadata.
 *
 * Threads: any FUSE thread and the scanner; the client is thread-safe; an upload or reader
 * handle is used by one thread at a time (backend.h). No locks of its own but an atomic
 * (an upload's part workers and their locks are s3_upload.c's).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/backend.h"
#include "hubfs/config.h"
#include "hubfs/log.h"
#include "hubfs/names.h"
#include "hubfs/video.h"

#include "backend/s3_cache.h"
#include "backend/s3_client.h"
#include "backend/s3_upload.h"

#define S3_STAGING "s3-staging"
#define S3_OURS ".hubfs/"
#define S3_RECORD_MAX 2048                /* S3 allows 2 KB of user metadata */
#define S3_READAHEAD_BUDGET (64ull << 20) /* read-ahead in flight, all readers together */
#define S3_CACHE_MIN_MB 64                /* smaller caches evict read-ahead before use */
#define S3_STALE_UPLOAD_NS (24LL * 3600 * 1000000000)

struct s3_backend {
	struct hubfs_backend base; /* first member */
	struct hubfs_s3_client *client;
	struct hubfs_s3_creds creds;
	char *prefix;  /* "" or "videos/" (ends in '/') */
	char *staging; /* state_dir/s3-staging */
	char *bucket;
	char instance[64];
	atomic_uint seq;
	struct s3_cache *cache;   /* state_dir/s3-cache, cache_mb; NULL: none (thread-safe) */
	struct s3_budget *budget; /* read-ahead bytes in flight, all readers (thread-safe) */
};

struct hubfs_reader {
	struct s3_backend *be;
	char *key;            /* full object key */
	struct s3_stream *st; /* window, parallel GETs, cache (s3_readahead.c) */
};

static int64_t s3_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct s3_backend *s3_of(struct hubfs_backend *be)
{
	return (struct s3_backend *)be;
}

/* prefix + path into a malloc'd key ("" path: the prefix itself). NULL on ENOMEM. */
static char *s3_key(const struct s3_backend *sb, const char *path, const char *suffix)
{
	char *key = NULL;

	if (asprintf(&key, "%s%s%s", sb->prefix, path, suffix ? suffix : "") < 0)
		return NULL;
	return key;
}

/* ---- metadata: video.h's record <-> x-amz-meta-* ---------------------------------- */

static int s3_meta_from_record(const struct hubfs_video_meta *m, struct hubfs_s3_meta *out)
{
	char text[S3_RECORD_MAX];
	char *line, *save = NULL;
	int n;

	memset(out, 0, sizeof(*out));
	n = hubfs_video_meta_format(m, text, sizeof(text));
	if (n < 0)
		return n;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq || out->n == HUBFS_S3_META_MAX)
			continue;
		*eq = '\0';
		out->kv[out->n].name = strdup(line);
		out->kv[out->n].value = strdup(eq + 1);
		if (!out->kv[out->n].name || !out->kv[out->n].value) {
			out->n++;
			hubfs_s3_meta_release(out);
			return -ENOMEM;
		}
		out->n++;
	}
	return 0;
}

/* The record from an object's metadata; identity from the object itself. -ENOENT when the
 * object carries no record of ours. */
static int s3_record_from_object(const struct hubfs_s3_object *o, struct hubfs_video_meta *m)
{
	char text[S3_RECORD_MAX * 2];
	size_t len = 0;
	int rc;

	if (!o->meta.n)
		return -ENOENT;
	for (size_t i = 0; i < o->meta.n; i++) {
		int w = snprintf(text + len, sizeof(text) - len, "%s=%s\n", o->meta.kv[i].name,
				 o->meta.kv[i].value);

		if (w < 0 || (size_t)w >= sizeof(text) - len)
			return -EINVAL;
		len += (size_t)w;
	}
	rc = hubfs_video_meta_parse(m, text, len);
	if (rc)
		return rc == -EINVAL ? -ENOENT : rc; /* not (all) ours: probe it */
	m->file_size = o->size;
	m->file_mtime_ns = o->mtime_ns;
	m->record_mtime_ns = o->mtime_ns;
	return 0;
}

/* ---- open / close / check ---------------------------------------------------------- */

static void s3_free(struct s3_backend *sb)
{
	if (!sb)
		return;
	s3_cache_free(sb->cache);
	s3_budget_free(sb->budget);
	hubfs_s3_client_free(sb->client);
	hubfs_s3_creds_release(&sb->creds);
	free(sb->prefix);
	free(sb->staging);
	free(sb->bucket);
	free(sb);
}

static int s3_first_cb(void *arg, const char *key, bool is_prefix,
		       const struct hubfs_s3_object *obj)
{
	(void)arg;
	(void)key;
	(void)is_prefix;
	(void)obj;
	return 1; /* one answer is enough: the bucket is there and we may list it */
}

static const char *s3_why(int rc)
{
	switch (rc) {
	case -EACCES:
		return "access denied (check the credentials and the bucket policy)";
	case -ENOENT:
		return "no such bucket";
	case -ETIMEDOUT:
		return "the endpoint did not answer in time";
	case -ECONNREFUSED:
		return "connection refused";
	case -EHOSTUNREACH:
		return "host unreachable or unknown";
	default:
		return strerror(-rc);
	}
}

/* The disk read cache: state_dir/s3-cache, cache_mb. A mount without it still works. */
static void s3_open_cache(struct s3_backend *sb, const struct hubfs_config *cfg)
{
	char *dir = NULL;
	int rc;

	if (cfg->cache_mb < S3_CACHE_MIN_MB) {
		if (cfg->cache_mb)
			hubfs_log(HUBFS_LOG_WARN,
				  "s3: cache_mb=%" PRIu64 " is below %u: no read cache",
				  (uint64_t)cfg->cache_mb, S3_CACHE_MIN_MB);
		return;
	}
	if (asprintf(&dir, "%s/s3-cache", cfg->state_dir) < 0)
		return;
	rc = s3_cache_new(&sb->cache, dir, (uint64_t)cfg->cache_mb << 20);
	if (rc)
		hubfs_log(HUBFS_LOG_WARN, "s3: no read cache in '%s': %s", dir, strerror(-rc));
	free(dir);
}

static int s3_open(struct hubfs_backend **out, const struct hubfs_config *cfg, const char *instance,
		   char *err, size_t errlen)
{
	struct hubfs_s3_client_opts opts = { 0 };
	struct s3_backend *sb;
	size_t plen;
	int rc;

	*out = NULL;
	if (!cfg->s3_bucket) {
		snprintf(err, errlen, "backend=s3 needs s3_bucket");
		return -EINVAL;
	}
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	sb->base.ops = &hubfs_backend_s3_ops;
	snprintf(sb->instance, sizeof(sb->instance), "%s", instance);
	plen = strlen(cfg->s3_prefix ? cfg->s3_prefix : "");
	if (asprintf(&sb->prefix, "%s%s", cfg->s3_prefix ? cfg->s3_prefix : "",
		     plen && cfg->s3_prefix[plen - 1] != '/' ? "/" : "") < 0)
		sb->prefix = NULL;
	if (asprintf(&sb->staging, "%s/%s", cfg->state_dir, S3_STAGING) < 0)
		sb->staging = NULL;
	sb->bucket = strdup(cfg->s3_bucket);
	if (!sb->prefix || !sb->staging || !sb->bucket) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(sb->staging, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", sb->staging, strerror(errno));
		goto fail;
	}
	rc = hubfs_s3_creds_load(&sb->creds, cfg, err, errlen);
	if (rc)
		goto fail;
	opts.endpoint = cfg->s3_endpoint;
	opts.region = cfg->s3_region;
	opts.bucket = cfg->s3_bucket;
	opts.creds = &sb->creds;
	opts.retries = 4;
	rc = hubfs_s3_client_new(&sb->client, &opts, err, errlen);
	if (rc)
		goto fail;
	/* Mount-time check: a wrong key, a missing bucket or a dead endpoint fails here, once. */
	rc = hubfs_s3_list(sb->client, sb->prefix, "/", s3_first_cb, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "S3 bucket '%s' at %s: %s", cfg->s3_bucket,
			 cfg->s3_endpoint ? cfg->s3_endpoint : "AWS", s3_why(rc));
		goto fail;
	}
	rc = s3_budget_new(&sb->budget, S3_READAHEAD_BUDGET, 100);
	if (rc)
		goto fail;
	s3_open_cache(sb, cfg);
	*out = &sb->base;
	return 0;
fail:
	s3_free(sb);
	return rc;
}

static void s3_close(struct hubfs_backend *be)
{
	s3_free(s3_of(be));
}

static int s3_check(struct hubfs_backend *be, char *msg, size_t len)
{
	struct s3_backend *sb = s3_of(be);
	char probe[128], back[128];
	struct hubfs_s3_object o;
	char *key = NULL;
	size_t got = 0;
	int rc;

	snprintf(probe, sizeof(probe), "hubfs check %s %ld\n", sb->instance, (long)time(NULL));
	if (asprintf(&key, "%s%scheck-%s", sb->prefix, S3_OURS, sb->instance) < 0)
		return -ENOMEM;
	rc = hubfs_s3_list(sb->client, sb->prefix, "/", s3_first_cb, NULL);
	if (rc < 0) {
		snprintf(msg, len, "list: %s", s3_why(rc));
		goto out;
	}
	rc = hubfs_s3_put(sb->client, key, probe, strlen(probe), NULL, NULL);
	if (rc) {
		snprintf(msg, len, "put: %s", s3_why(rc));
		goto out;
	}
	rc = hubfs_s3_get(sb->client, key, 0, sizeof(back), back, &got);
	if (!rc && (got != strlen(probe) || memcmp(back, probe, got)))
		rc = -EIO;
	if (rc) {
		snprintf(msg, len, "get: %s",
			 rc == -EIO ? "the probe came back different" : s3_why(rc));
		goto out;
	}
	rc = hubfs_s3_delete(sb->client, key);
	if (!rc && hubfs_s3_head(sb->client, key, &o) != -ENOENT)
		rc = -EIO;
	if (rc) {
		snprintf(msg, len, "delete: %s", s3_why(rc));
		goto out;
	}
	snprintf(msg, len, "ok");
out:
	free(key);
	return rc;
}

static int s3_statfs(struct hubfs_backend *be, struct statvfs *st)
{
	(void)be;
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = st->f_bfree = st->f_bavail = (1ULL << 50) / 4096; /* a bucket has no size */
	st->f_files = st->f_ffree = st->f_favail = 1ULL << 32;
	st->f_namemax = HUBFS_NAME_MAX;
	return 0;
}

struct s3_recover {
	struct s3_backend *sb;
	int64_t now_ns;
	unsigned int aborted;
};

static int s3_recover_cb(void *arg, const char *key, const char *upload_id, int64_t initiated_ns)
{
	struct s3_recover *r = arg;

	if (r->now_ns - initiated_ns < S3_STALE_UPLOAD_NS)
		return 0; /* maybe another mount's upload in progress */
	if (!hubfs_s3_mpu_abort(r->sb->client, key, upload_id))
		r->aborted++;
	return 0;
}

static int s3_recover(struct hubfs_backend *be)
{
	struct s3_backend *sb = s3_of(be);
	struct s3_recover r = { .sb = sb, .now_ns = (int64_t)time(NULL) * 1000000000 };
	size_t ilen = strlen(sb->instance);
	struct dirent *de;
	DIR *d;
	int rc;

	/* Staged leftovers: this instance's (a crash mid-upload), and any a day old. */
	d = opendir(sb->staging);
	while (d && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0))
			continue;
		if ((!strncmp(de->d_name, sb->instance, ilen) && de->d_name[ilen] == '-') ||
		    time(NULL) - st.st_mtime > 24 * 3600)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	/* Multipart uploads nobody completed or aborted (a crash between parts). */
	rc = hubfs_s3_mpu_list(sb->client, sb->prefix, s3_recover_cb, &r);
	if (rc == -ENOTSUP) { /* a store without ListMultipartUploads (s3rver) */
		hubfs_log(HUBFS_LOG_INFO,
			  "s3: the store cannot list multipart uploads; stale "
			  "ones are left to its lifecycle rules");
		rc = 0;
	}
	if (r.aborted)
		hubfs_log(HUBFS_LOG_INFO, "s3: aborted %u stale multipart uploads", r.aborted);
	return rc < 0 ? rc : 0;
}

/* ---- uploads: staging, parts sent while written, commit (s3_upload.c) ---------------- */

static int s3_upload_begin(struct hubfs_backend *be, const char *key, struct hubfs_upload **out)
{
	struct s3_backend *sb = s3_of(be);
	unsigned int seq = atomic_fetch_add(&sb->seq, 1);
	char path[PATH_MAX], *tmp_key = NULL;
	int rc;

	(void)key; /* the name may change before commit: parts go under a key of ours */
	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s-%u", sb->staging, sb->instance, seq);
	if (asprintf(&tmp_key, "%s%supload-%s-%u", sb->prefix, S3_OURS, sb->instance, seq) < 0)
		return -ENOMEM;
	rc = s3_up_new(out, sb, sb->client, path, tmp_key);
	free(tmp_key);
	return rc;
}

static ssize_t s3_upload_write(struct hubfs_upload *up, const void *buf, size_t n, off_t off)
{
	return s3_up_write(up, buf, n, off);
}

static int s3_upload_truncate(struct hubfs_upload *up, off_t size)
{
	return s3_up_truncate(up, size);
}

static int s3_upload_sync(struct hubfs_upload *up)
{
	(void)up;
	return 0; /* pwrite is synchronous: the staged path has every byte */
}

static const char *s3_upload_staged_path(struct hubfs_upload *up)
{
	return s3_up_path(up);
}

static void s3_upload_abort(struct hubfs_upload *up)
{
	s3_up_free(up);
}

static int s3_upload_commit(struct hubfs_upload *up, const char *path,
			    struct hubfs_video_meta *meta)
{
	struct s3_backend *sb = s3_up_owner(up);
	struct hubfs_s3_meta sm = { 0 };
	struct hubfs_s3_object o = { 0 };
	char *key = s3_key(sb, path, NULL);
	uint64_t size;
	int rc;

	if (!key) {
		rc = -ENOMEM;
		goto out;
	}
	rc = s3_up_size(up, &size);
	if (rc)
		goto out;
	meta->file_size = size;
	meta->file_mtime_ns = s3_now_ns(); /* the record must format; HEAD gives the real one */
	if (!meta->mtime_ns)
		meta->mtime_ns = meta->file_mtime_ns; /* stored, so every mount shows the same */
	rc = s3_meta_from_record(meta, &sm);
	if (rc)
		goto out;
	rc = s3_up_send(up, key, &sm);
	s3_cache_forget(sb->cache, key); /* a replaced video: its old blocks are dead */
	if (rc)
		goto out;
	/* The identity is the object's own: its size and Last-Modified. */
	rc = hubfs_s3_head(sb->client, key, &o);
	if (!rc) {
		meta->file_size = o.size;
		meta->file_mtime_ns = o.mtime_ns;
		meta->record_mtime_ns = o.mtime_ns;
		if (!meta->mtime_ns)
			meta->mtime_ns = o.mtime_ns;
	}
	hubfs_s3_meta_release(&o.meta);
out:
	if (rc)
		hubfs_log(HUBFS_LOG_ERR, "s3: cannot commit '%s': %s", path, strerror(-rc));
	hubfs_s3_meta_release(&sm);
	free(key);
	s3_up_free(up);
	return rc;
}

/* ---- reads -------------------------------------------------------------------------- */

/* The stream engine's fetch: one ranged GET (called from several threads at once). */
static int s3_fetch(void *arg, uint64_t off, size_t len, void *buf, size_t *got)
{
	struct hubfs_reader *r = arg;
	int rc = hubfs_s3_get(r->be->client, r->key, off, len, buf, got);

	return rc == -EINVAL ? -EIO : rc; /* past the end: the object shrank under us */
}

static int s3_read_open(struct hubfs_backend *be, const char *path, struct hubfs_reader **out)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_s3_object o = { 0 };
	struct s3_stream_opts so = { 0 };
	struct hubfs_reader *r;
	char identity[128];
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->be = sb;
	r->key = s3_key(sb, path, NULL);
	if (!r->key) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = hubfs_s3_head(sb->client, r->key, &o);
	hubfs_s3_meta_release(&o.meta);
	if (rc)
		goto fail;
	/* A replaced object has another ETag: cached blocks of the old one never match. */
	snprintf(identity, sizeof(identity), "%s:%" PRIu64, o.etag, o.size);
	so.key = r->key;
	so.identity = identity;
	so.size = o.size;
	so.fetch = s3_fetch;
	so.fetch_arg = r;
	so.cache = sb->cache;
	so.budget = sb->budget;
	rc = s3_stream_new(&r->st, &so);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	free(r->key);
	free(r);
	return rc;
}

static ssize_t s3_read(struct hubfs_reader *r, void *buf, size_t n, off_t off)
{
	return off < 0 ? -EINVAL : s3_stream_read(r->st, buf, n, (uint64_t)off);
}

static int s3_read_fd(struct hubfs_reader *r)
{
	(void)r;
	return -ENOTSUP;
}

static void s3_read_close(struct hubfs_reader *r)
{
	if (!r)
		return;
	s3_stream_free(r->st);
	free(r->key);
	free(r);
}

/* ---- namespace ---------------------------------------------------------------------- */

static int s3_remove(struct hubfs_backend *be, const char *path)
{
	struct s3_backend *sb = s3_of(be);
	char *key = s3_key(sb, path, NULL);
	int rc;

	if (!key)
		return -ENOMEM;
	rc = hubfs_s3_delete(sb->client, key);
	s3_cache_forget(sb->cache, key);
	free(key);
	return rc;
}

struct s3_move {
	struct s3_backend *sb;
	const char *from, *to; /* full key prefixes ("a/", "b/") */
	int rc;
};

static int s3_move_cb(void *arg, const char *key, bool is_prefix, const struct hubfs_s3_object *o)
{
	struct s3_move *m = arg;
	char *dst = NULL;
	int rc;

	(void)o;
	if (is_prefix)
		return 0;
	if (asprintf(&dst, "%s%s", m->to, key + strlen(m->from)) < 0)
		return -ENOMEM;
	rc = hubfs_s3_copy(m->sb->client, key, dst, NULL);
	if (!rc)
		rc = hubfs_s3_delete(m->sb->client, key);
	free(dst);
	return rc;
}

/* rename = server-side copy (metadata kept) + delete; a directory moves key by key. */
static int s3_rename(struct hubfs_backend *be, const char *from, const char *to)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_s3_object o = { 0 };
	char *src = s3_key(sb, from, NULL), *dst = s3_key(sb, to, NULL);
	char *srcdir = s3_key(sb, from, "/"), *dstdir = s3_key(sb, to, "/");
	int rc;

	if (!src || !dst || !srcdir || !dstdir) {
		rc = -ENOMEM;
		goto out;
	}
	rc = hubfs_s3_head(sb->client, src, &o);
	hubfs_s3_meta_release(&o.meta);
	if (!rc) {
		rc = hubfs_s3_copy(sb->client, src, dst, NULL);
		if (!rc)
			rc = hubfs_s3_delete(sb->client, src);
	} else if (rc == -ENOENT) {
		struct s3_move m = { .sb = sb, .from = srcdir, .to = dstdir };

		rc = hubfs_s3_list(sb->client, srcdir, NULL, s3_move_cb, &m);
	}
	/* Blocks are keyed by object key: neither name may serve the old bytes. */
	if (src && dst && srcdir && dstdir) {
		s3_cache_forget(sb->cache, src);
		s3_cache_forget(sb->cache, dst);
		s3_cache_forget_prefix(sb->cache, srcdir);
		s3_cache_forget_prefix(sb->cache, dstdir);
	}
out:
	free(src);
	free(dst);
	free(srcdir);
	free(dstdir);
	return rc;
}

static int s3_mkdir(struct hubfs_backend *be, const char *path, uint32_t mode)
{
	struct s3_backend *sb = s3_of(be);
	char *key = s3_key(sb, path, "/");
	int rc;

	(void)mode;
	if (!key)
		return -ENOMEM;
	rc = hubfs_s3_put(sb->client, key, "", 0, NULL, NULL);
	free(key);
	return rc;
}

struct s3_any {
	const char *self; /* the directory's own marker key */
	bool found;
};

static int s3_any_cb(void *arg, const char *key, bool is_prefix, const struct hubfs_s3_object *o)
{
	struct s3_any *a = arg;

	(void)o;
	if (!is_prefix && !strcmp(key, a->self))
		return 0;
	a->found = true;
	return 1;
}

static int s3_rmdir(struct hubfs_backend *be, const char *path)
{
	struct s3_backend *sb = s3_of(be);
	char *dir = s3_key(sb, path, "/");
	struct s3_any any = { 0 };
	int rc;

	if (!dir)
		return -ENOMEM;
	any.self = dir;
	rc = hubfs_s3_list(sb->client, dir, "/", s3_any_cb, &any);
	if (rc >= 0 && any.found)
		rc = -ENOTEMPTY;
	else if (rc >= 0)
		rc = hubfs_s3_delete(sb->client, dir);
	free(dir);
	return rc;
}

struct s3_list {
	const char *dir; /* full key prefix of the directory listed */
	const char *ours;
	hubfs_backend_list_fn fn;
	void *arg;
};

static int s3_list_cb(void *arg, const char *key, bool is_prefix, const struct hubfs_s3_object *o)
{
	struct s3_list *l = arg;
	struct hubfs_backend_entry e = { 0 };
	char name[HUBFS_NAME_MAX + 2];
	const char *rel = key + strlen(l->dir);
	size_t len = strlen(rel);

	if (!strncmp(key, l->ours, strlen(l->ours)) || !len)
		return 0; /* our own files, and the directory's marker */
	if (is_prefix) {
		if (len < 2 || len - 1 > HUBFS_NAME_MAX)
			return 0;
		memcpy(name, rel, len - 1);
		name[len - 1] = '\0';
		e.is_dir = true;
	} else {
		if (len > HUBFS_NAME_MAX || rel[len - 1] == '/')
			return 0;
		memcpy(name, rel, len + 1);
		e.size = o->size;
		e.mtime_ns = o->mtime_ns;
		e.record_mtime_ns = o->mtime_ns;
	}
	if (hubfs_name_check(name, strlen(name)))
		return 0; /* a key no file name can hold ("a//b", "..") */
	e.name = name;
	return l->fn(l->arg, &e);
}

static int s3_list(struct hubfs_backend *be, const char *path, hubfs_backend_list_fn fn, void *arg)
{
	struct s3_backend *sb = s3_of(be);
	char *dir = *path ? s3_key(sb, path, "/") : strdup(sb->prefix);
	char *ours = s3_key(sb, S3_OURS, NULL);
	struct s3_list l = { .dir = dir, .ours = ours, .fn = fn, .arg = arg };
	int rc;

	if (!dir || !ours) {
		free(dir);
		free(ours);
		return -ENOMEM;
	}
	rc = hubfs_s3_list(sb->client, dir, "/", s3_list_cb, &l);
	free(dir);
	free(ours);
	return rc;
}

static int s3_stat(struct hubfs_backend *be, const char *path, struct hubfs_backend_entry *e)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_s3_object o = { 0 };
	struct s3_any any = { .self = "" };
	char *key, *dir;
	int rc;

	memset(e, 0, sizeof(*e));
	e->name = hubfs_path_base(path);
	if (!*path) {
		e->is_dir = true;
		return 0;
	}
	key = s3_key(sb, path, NULL);
	dir = s3_key(sb, path, "/");
	if (!key || !dir) {
		rc = -ENOMEM;
		goto out;
	}
	rc = hubfs_s3_head(sb->client, key, &o);
	if (!rc) {
		e->size = o.size;
		e->mtime_ns = o.mtime_ns;
		e->record_mtime_ns = o.mtime_ns;
		goto out;
	}
	if (rc != -ENOENT)
		goto out;
	rc = hubfs_s3_list(sb->client, dir, "/", s3_any_cb, &any);
	if (rc >= 0)
		rc = any.found ? 0 : -ENOENT;
	e->is_dir = !rc;
out:
	hubfs_s3_meta_release(&o.meta);
	free(key);
	free(dir);
	return rc;
}

static int s3_meta_get(struct hubfs_backend *be, const char *path, struct hubfs_video_meta *meta)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_s3_object o = { 0 };
	char *key = s3_key(sb, path, NULL);
	int rc;

	if (!key)
		return -ENOMEM;
	rc = hubfs_s3_head(sb->client, key, &o);
	if (!rc)
		rc = s3_record_from_object(&o, meta);
	hubfs_s3_meta_release(&o.meta);
	free(key);
	return rc;
}

/* chmod/chown/touch, or a probed object's first record: the object copied onto itself with
 * the new metadata (which moves its Last-Modified: the identity follows). */
static int s3_meta_put(struct hubfs_backend *be, const char *path, struct hubfs_video_meta *meta)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_s3_meta sm = { 0 };
	struct hubfs_s3_object o = { 0 };
	char *key = s3_key(sb, path, NULL);
	int rc;

	if (!key)
		return -ENOMEM;
	if (!meta->file_mtime_ns)
		meta->file_mtime_ns = (int64_t)time(NULL) * 1000000000;
	rc = s3_meta_from_record(meta, &sm);
	if (!rc)
		rc = hubfs_s3_copy(sb->client, key, key, &sm);
	if (!rc)
		rc = hubfs_s3_head(sb->client, key, &o);
	if (!rc) {
		meta->file_size = o.size;
		meta->file_mtime_ns = o.mtime_ns;
		meta->record_mtime_ns = o.mtime_ns;
	}
	hubfs_s3_meta_release(&o.meta);
	hubfs_s3_meta_release(&sm);
	free(key);
	return rc;
}

/* .hub/metrics: the client's and the cache's counters. */
static int s3_metrics(struct hubfs_backend *be, char *buf, size_t len)
{
	struct s3_backend *sb = s3_of(be);
	struct s3_cache_stats cs = { 0 };
	struct hubfs_s3_stats st;
	int n;

	hubfs_s3_client_stats(sb->client, &st);
	if (sb->cache)
		s3_cache_stats(sb->cache, &cs);
	n = snprintf(
		buf, len,
		"# HELP hubfs_s3_requests_total S3 requests sent (retries included).\n"
		"# TYPE hubfs_s3_requests_total counter\n"
		"hubfs_s3_requests_total %" PRIu64
		"\n"
		"# HELP hubfs_s3_retries_total S3 requests retried after a retryable failure.\n"
		"# TYPE hubfs_s3_retries_total counter\n"
		"hubfs_s3_retries_total %" PRIu64
		"\n"
		"# HELP hubfs_s3_failures_total S3 requests that failed for good.\n"
		"# TYPE hubfs_s3_failures_total counter\n"
		"hubfs_s3_failures_total %" PRIu64
		"\n"
		"# HELP hubfs_s3_bytes_total Bytes sent to and received from S3.\n"
		"# TYPE hubfs_s3_bytes_total counter\n"
		"hubfs_s3_bytes_total{direction=\"up\"} %" PRIu64
		"\n"
		"hubfs_s3_bytes_total{direction=\"down\"} %" PRIu64
		"\n"
		"# HELP hubfs_s3_cache_reads_total Block reads from the disk cache.\n"
		"# TYPE hubfs_s3_cache_reads_total counter\n"
		"hubfs_s3_cache_reads_total{result=\"hit\"} %" PRIu64
		"\n"
		"hubfs_s3_cache_reads_total{result=\"miss\"} %" PRIu64
		"\n"
		"# HELP hubfs_s3_cache_bytes Bytes in the disk cache (cache_mb bounds it).\n"
		"# TYPE hubfs_s3_cache_bytes gauge\n"
		"hubfs_s3_cache_bytes %" PRIu64
		"\n"
		"# HELP hubfs_s3_cache_evictions_total Blocks evicted to stay within cache_mb.\n"
		"# TYPE hubfs_s3_cache_evictions_total counter\n"
		"hubfs_s3_cache_evictions_total %" PRIu64 "\n",
		st.requests, st.retries, st.failures, st.bytes_up, st.bytes_down, cs.hits,
		cs.misses, cs.bytes, cs.evictions);
	return n < 0 || (size_t)n >= len ? -ERANGE : n;
}

const struct hubfs_backend_ops hubfs_backend_s3_ops = {
	.version = HUBFS_BACKEND_OPS_VERSION,
	.name = "s3",
	.caps = 0,
	.open = s3_open,
	.close = s3_close,
	.check = s3_check,
	.statfs = s3_statfs,
	.recover = s3_recover,
	.upload_begin = s3_upload_begin,
	.upload_write = s3_upload_write,
	.upload_truncate = s3_upload_truncate,
	.upload_sync = s3_upload_sync,
	.upload_staged_path = s3_upload_staged_path,
	.upload_commit = s3_upload_commit,
	.upload_abort = s3_upload_abort,
	.read_open = s3_read_open,
	.read = s3_read,
	.read_fd = s3_read_fd,
	.read_close = s3_read_close,
	.remove = s3_remove,
	.rename = s3_rename,
	.mkdir = s3_mkdir,
	.rmdir = s3_rmdir,
	.list = s3_list,
	.stat = s3_stat,
	.meta_get = s3_meta_get,
	.meta_put = s3_meta_put,
	.metrics = s3_metrics,
};
