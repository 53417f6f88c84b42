/*
 * s3.c — the S3 backend (backend=s3): videos as objects under s3_prefix in s3_bucket,
 * through our client (s3_client.h: libcurl + our SigV4 signer).
 *
 * DESIGN (first step of issue 5; what is not here yet is listed at the end):
 *   - Keys: object key = s3_prefix + path ("talk.mp4", "coll/b.mkv"). A directory is a
 *     common prefix; mkdir also writes a zero-byte marker "coll/" so an empty directory
 *     exists. prefix + ".hubfs/" is ours (the live check's probe) and never listed.
 *   - Metadata travels on the object as x-amz-meta-* (video.h's record, one header per key:
 *     x-amz-meta-duration, -sha256, -video_codec, ...), so awscli shows it and a second
 *     mount reads it with one HEAD. The record's identity (file_size, file_mtime_ns) is the
 *     object's own size and Last-Modified: metadata cannot go stale against bytes on S3,
 *     because it is replaced atomically with them (a chmod is a server-side copy onto
 *     itself with the new metadata, which also moves Last-Modified).
 *   - Uploads are staged in state_dir/s3-staging/ (the validation gate reads them there);
 *     commit sends them with one PUT (Content-MD5 + signed SHA-256) up to
 *     S3_SINGLE_PUT_MAX, as a multipart upload with parallel parts beyond, and only after
 *     the library's validation passed: an invalid video never exists in the bucket. A failed
 *     multipart upload is aborted.
 *   - Reads are ranged GETs with a per-reader read-ahead window that starts at 128 KiB,
 *     doubles on sequential access up to 8 MiB and resets on a seek (mountpoint-s3's shape).
 *   Not yet (next steps): parts uploaded while the file is written, a global read-ahead
 *   budget and the disk cache (cache_mb), ranged probing of objects without our metadata.
 *
 * Threads: any FUSE thread and the scanner; the client is thread-safe; an upload or reader
 * handle is used by one thread at a time (backend.h). No locks of its own but an atomic.
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

#include "backend/s3_client.h"

#define S3_STAGING "s3-staging"
#define S3_OURS ".hubfs/"
#define S3_SINGLE_PUT_MAX (16u << 20)
#define S3_PART_SIZE (8u << 20)
#define S3_PART_THREADS 4
#define S3_RA_MIN (128u << 10)
#define S3_RA_MAX (8u << 20)
#define S3_RECORD_MAX 2048 /* S3 allows 2 KB of user metadata */
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
};

struct hubfs_upload {
	struct s3_backend *be;
	int fd;
	char path[PATH_MAX];
};

struct hubfs_reader {
	struct s3_backend *be;
	char *key; /* full object key */
	uint64_t size;
	char *ra; /* read-ahead buffer: bytes [ra_off, ra_off + ra_len) of the object */
	size_t ra_cap, ra_len;
	uint64_t ra_off;
	uint64_t next; /* where a sequential reader reads next */
	size_t window;
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

/* ---- uploads ------------------------------------------------------------------------ */

static int s3_upload_begin(struct hubfs_backend *be, const char *key, struct hubfs_upload **out)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_upload *up;

	(void)key;
	*out = NULL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->be = sb;
	snprintf(up->path, sizeof(up->path), "%s/%s-%u", sb->staging, sb->instance,
		 atomic_fetch_add(&sb->seq, 1));
	up->fd = open(up->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (up->fd < 0) {
		int rc = -errno;

		free(up);
		return rc;
	}
	*out = up;
	return 0;
}

static ssize_t s3_upload_write(struct hubfs_upload *up, const void *buf, size_t n, off_t off)
{
	ssize_t w = pwrite(up->fd, buf, n, off);

	return w < 0 ? -errno : w;
}

static int s3_upload_truncate(struct hubfs_upload *up, off_t size)
{
	return ftruncate(up->fd, size) ? -errno : 0;
}

static int s3_upload_sync(struct hubfs_upload *up)
{
	(void)up;
	return 0; /* pwrite is synchronous: the staged path has every byte */
}

static const char *s3_upload_staged_path(struct hubfs_upload *up)
{
	return up->path;
}

static void s3_upload_free(struct hubfs_upload *up)
{
	if (up->fd >= 0)
		close(up->fd);
	unlink(up->path);
	free(up);
}

static void s3_upload_abort(struct hubfs_upload *up)
{
	s3_upload_free(up);
}

struct s3_parts {
	struct s3_backend *sb;
	const char *key, *upload_id;
	int fd;
	uint64_t size;
	struct hubfs_s3_part *parts;
	size_t nparts;
	pthread_mutex_t lock;
	size_t next; /* lock: the next part to send */
	int rc;      /* lock: the first failure */
};

static void *s3_part_main(void *arg)
{
	struct s3_parts *p = arg;
	char *buf = malloc(S3_PART_SIZE);

	for (;;) {
		size_t i;
		uint64_t off;
		size_t len;
		ssize_t n;
		int rc;

		pthread_mutex_lock(&p->lock);
		i = p->next++;
		rc = p->rc;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->nparts || rc)
			break;
		if (!buf) {
			rc = -ENOMEM;
			goto fail;
		}
		off = (uint64_t)i * S3_PART_SIZE;
		len = p->size - off < S3_PART_SIZE ? (size_t)(p->size - off) : S3_PART_SIZE;
		n = pread(p->fd, buf, len, (off_t)off);
		if (n != (ssize_t)len) {
			rc = n < 0 ? -errno : -EIO;
			goto fail;
		}
		p->parts[i].partno = (unsigned int)i + 1;
		rc = hubfs_s3_mpu_part(p->sb->client, p->key, p->upload_id, (unsigned int)i + 1,
				       buf, len, p->parts[i].etag);
		if (!rc)
			continue;
fail:
		pthread_mutex_lock(&p->lock);
		if (!p->rc)
			p->rc = rc;
		pthread_mutex_unlock(&p->lock);
		break;
	}
	free(buf);
	return NULL;
}

/* A multipart upload of the staged file, S3_PART_THREADS parts at a time. */
static int s3_put_multipart(struct s3_backend *sb, const char *key, int fd, uint64_t size,
			    const struct hubfs_s3_meta *meta)
{
	struct s3_parts p = { .sb = sb, .key = key, .fd = fd, .size = size };
	pthread_t threads[S3_PART_THREADS];
	unsigned int started = 0;
	char *upload_id = NULL;
	int rc;

	p.nparts = (size_t)((size + S3_PART_SIZE - 1) / S3_PART_SIZE);
	p.parts = calloc(p.nparts, sizeof(*p.parts));
	if (!p.parts)
		return -ENOMEM;
	rc = hubfs_s3_mpu_create(sb->client, key, meta, &upload_id);
	if (rc)
		goto out;
	p.upload_id = upload_id;
	pthread_mutex_init(&p.lock, NULL);
	for (unsigned int t = 0; t < S3_PART_THREADS && t < p.nparts; t++)
		if (!pthread_create(&threads[t], NULL, s3_part_main, &p))
			started++;
	if (!started)
		s3_part_main(&p);
	for (unsigned int t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	pthread_mutex_destroy(&p.lock);
	rc = p.rc;
	if (!rc)
		rc = hubfs_s3_mpu_complete(sb->client, key, upload_id, p.parts, p.nparts, NULL);
	if (rc && hubfs_s3_mpu_abort(sb->client, key, upload_id))
		hubfs_log(HUBFS_LOG_WARN,
			  "s3: could not abort the upload of '%s' (--s3-cleanup "
			  "will)",
			  key);
out:
	free(upload_id);
	free(p.parts);
	return rc;
}

static int s3_upload_commit(struct hubfs_upload *up, const char *path,
			    struct hubfs_video_meta *meta)
{
	struct s3_backend *sb = up->be;
	struct hubfs_s3_meta sm = { 0 };
	struct hubfs_s3_object o = { 0 };
	char *key = s3_key(sb, path, NULL);
	struct stat st;
	int rc;

	if (!key) {
		rc = -ENOMEM;
		goto out;
	}
	if (fstat(up->fd, &st)) {
		rc = -errno;
		goto out;
	}
	meta->file_size = (uint64_t)st.st_size;
	meta->file_mtime_ns = s3_now_ns(); /* the record must format; HEAD gives the real one */
	if (!meta->mtime_ns)
		meta->mtime_ns = meta->file_mtime_ns; /* stored, so every mount shows the same */
	rc = s3_meta_from_record(meta, &sm);
	if (rc)
		goto out;
	if ((uint64_t)st.st_size <= S3_SINGLE_PUT_MAX)
		rc = hubfs_s3_put_fd(sb->client, key, up->fd, 0, (uint64_t)st.st_size, &sm, NULL);
	else
		rc = s3_put_multipart(sb, key, up->fd, (uint64_t)st.st_size, &sm);
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
	s3_upload_free(up);
	return rc;
}

/* ---- reads -------------------------------------------------------------------------- */

static int s3_read_open(struct hubfs_backend *be, const char *path, struct hubfs_reader **out)
{
	struct s3_backend *sb = s3_of(be);
	struct hubfs_s3_object o = { 0 };
	struct hubfs_reader *r;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->be = sb;
	r->key = s3_key(sb, path, NULL);
	if (!r->key) {
		free(r);
		return -ENOMEM;
	}
	rc = hubfs_s3_head(sb->client, r->key, &o);
	hubfs_s3_meta_release(&o.meta);
	if (rc) {
		free(r->key);
		free(r);
		return rc;
	}
	r->size = o.size;
	r->window = S3_RA_MIN;
	*out = r;
	return 0;
}

/*
 * Serve [off, off + n) from the read-ahead buffer, refilling it with one ranged GET of the
 * current window when it misses. The window doubles while reads continue where the last one
 * ended and falls back to the minimum on a seek.
 */
static ssize_t s3_read(struct hubfs_reader *r, void *buf, size_t n, off_t off)
{
	uint64_t o = (uint64_t)off;
	size_t done = 0;

	if (o >= r->size)
		return 0;
	if (o != r->next)
		r->window = S3_RA_MIN;
	while (done < n && o + done < r->size) {
		uint64_t at = o + done;
		size_t take, got = 0, want;
		int rc;

		if (at < r->ra_off || at >= r->ra_off + r->ra_len) {
			want = r->window > n - done ? r->window : n - done;
			if (want > S3_RA_MAX && want > n - done)
				want = S3_RA_MAX;
			if (want > r->size - at)
				want = (size_t)(r->size - at);
			if (want > r->ra_cap) {
				char *grown = realloc(r->ra, want);

				if (!grown)
					return done ? (ssize_t)done : -ENOMEM;
				r->ra = grown;
				r->ra_cap = want;
			}
			rc = hubfs_s3_get(r->be->client, r->key, at, want, r->ra, &got);
			if (rc)
				return done ? (ssize_t)done : rc;
			if (!got)
				break;
			r->ra_off = at;
			r->ra_len = got;
			if (r->window < S3_RA_MAX)
				r->window *= 2;
		}
		take = (size_t)(r->ra_off + r->ra_len - at);
		if (take > n - done)
			take = n - done;
		memcpy((char *)buf + done, r->ra + (at - r->ra_off), take);
		done += take;
	}
	r->next = o + done;
	return (ssize_t)done;
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
	free(r->ra);
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
};
