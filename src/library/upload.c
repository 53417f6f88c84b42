/*
 * upload.c — the upload pipeline: stage, hash while written, validate, commit.
 *
 * A video being written lives only in the backend's staging area. Its SHA-256 is computed
 * from the bytes as they arrive in order (no second pass; large uploads are digested on the
 * hasher's own thread, see util/hasher.c, so the writer does not wait); a write that is not
 * the next in
 * sequence (a hole, an overwrite, a shrinking truncate) marks the hash broken, and the file
 * is hashed once at commit instead. Commit validates the staged bytes with the FFmpeg
 * libraries; only valid content is committed to the backend and entered in the catalog, so
 * nothing half-made or invalid is ever listed. A write that fails (EFBIG past max_upload_mb,
 * EIO, ENOSPC), or a truncate the backend fails, poisons the upload: its commit fails with
 * that error and nothing is stored.
 *
 * Threads: FUSE threads. Locks: up->lock serialises one handle's calls; lib->up_lock guards
 * the list of uploads and each upload's path (renames); lib->ns_lock is taken around the
 * backend commit + catalog update. Order: up->lock -> ns_lock -> up_lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/hasher.h"
#include "hubfs/log.h"
#include "hubfs/media.h"
#include "library/library_int.h"

/* After validating an upload this large, return free heap memory to the system. */
#define UP_TRIM_BYTES (16u << 20)

struct hubfs_library_upload {
	struct hubfs_library *lib;
	struct hubfs_upload *bu; /* NULL once committed or aborted */
	pthread_mutex_t lock;
	char path[PATH_MAX];      /* lib->up_lock */
	struct hubfs_hasher *sha; /* fed the bytes written in order */
	uint64_t hashed;          /* bytes fed to sha, in order from 0 */
	bool hash_broken;
	uint64_t size;
	int64_t mtime_ns;      /* last write */
	int64_t user_mtime_ns; /* set by utimens before commit; 0 = none */
	uint32_t mode, uid, gid;
	pid_t owner;   /* the writing process (tgid) */
	bool unlinked; /* lib->up_lock: its name was removed; commit discards it */
	int poison;    /* first write error: commit fails with it */
	bool done;     /* committed or refused */
	int result;    /* commit's result, returned again on a second flush */
	struct timespec started;
	struct hubfs_library_upload *prev, *next; /* lib->up_lock; linked while in progress */
};

static int64_t up_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void up_link(struct hubfs_library *lib, struct hubfs_library_upload *up)
{
	pthread_mutex_lock(&lib->up_lock);
	up->next = lib->uploads;
	if (lib->uploads)
		lib->uploads->prev = up;
	lib->uploads = up;
	pthread_mutex_unlock(&lib->up_lock);
}

static void up_unlink(struct hubfs_library_upload *up)
{
	struct hubfs_library *lib = up->lib;

	pthread_mutex_lock(&lib->up_lock);
	if (up->prev)
		up->prev->next = up->next;
	else if (lib->uploads == up)
		lib->uploads = up->next;
	if (up->next)
		up->next->prev = up->prev;
	up->prev = up->next = NULL;
	pthread_mutex_unlock(&lib->up_lock);
}

int hubfs_library_upload_begin(struct hubfs_library *lib, const char *path, uint32_t mode,
			       uint32_t uid, uint32_t gid, pid_t owner,
			       struct hubfs_library_upload **out)
{
	struct hubfs_library_upload *up;
	int rc;

	*out = NULL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->lib = lib;
	snprintf(up->path, sizeof(up->path), "%s", path);
	up->mode = mode & 07777;
	up->uid = uid;
	up->gid = gid;
	up->owner = owner;
	up->mtime_ns = up_now_ns();
	clock_gettime(CLOCK_MONOTONIC, &up->started);
	pthread_mutex_init(&up->lock, NULL);
	rc = hubfs_hasher_new(&up->sha);
	if (rc)
		goto out;
	rc = hubfs_backend_upload_begin(lib->be, path, &up->bu);
	if (rc) {
		hubfs_event(HUBFS_EV_ERROR, "cannot stage 'videos/%s': %s", path, strerror(-rc));
		goto out;
	}
	up_link(lib, up);
	*out = up;
	return 0;
out:
	hubfs_hasher_free(up->sha);
	pthread_mutex_destroy(&up->lock);
	free(up);
	return rc;
}

static void up_poison(struct hubfs_library_upload *up, int err)
{
	if (!up->poison)
		up->poison = err;
}

ssize_t hubfs_library_upload_write(struct hubfs_library_upload *up, const void *buf, size_t n,
				   off_t off)
{
	struct hubfs_library *lib = up->lib;
	ssize_t rc;

	pthread_mutex_lock(&up->lock);
	if (up->done) {
		rc = -EPERM; /* already committed: writing into an uploaded video */
		goto out;
	}
	if (off < 0 || (uint64_t)off + n > lib->max_upload_bytes) {
		if (up->poison != -EFBIG)
			hubfs_event(HUBFS_EV_REJECT,
				    "rejected 'videos/%s': larger than max_upload_mb (%" PRIu64
				    " MB)",
				    up->path, lib->cfg->max_upload_mb);
		up_poison(up, -EFBIG);
		rc = -EFBIG;
		goto out;
	}
	rc = hubfs_backend_upload_write(lib->be, up->bu, buf, n, off);
	if (rc < 0) {
		hubfs_event(HUBFS_EV_ERROR, "cannot stage 'videos/%s': %s", up->path,
			    strerror((int)-rc));
		up_poison(up, (int)rc);
		goto out;
	}
	if (!up->hash_broken && (uint64_t)off == up->hashed &&
	    !hubfs_hasher_feed(up->sha, buf, (size_t)rc))
		up->hashed += (uint64_t)rc;
	else
		up->hash_broken = true; /* hashed from the staged file at commit instead */
	if ((uint64_t)off + (uint64_t)rc > up->size)
		up->size = (uint64_t)off + (uint64_t)rc;
	up->mtime_ns = up_now_ns();
out:
	pthread_mutex_unlock(&up->lock);
	return rc;
}

int hubfs_library_upload_truncate(struct hubfs_library_upload *up, off_t size)
{
	struct hubfs_library *lib = up->lib;
	int rc;

	pthread_mutex_lock(&up->lock);
	if (up->done) {
		rc = -EPERM;
		goto out;
	}
	if (size < 0 || (uint64_t)size > lib->max_upload_bytes) {
		rc = -EFBIG;
		goto out;
	}
	rc = hubfs_backend_upload_truncate(lib->be, up->bu, size);
	if (rc) {
		/* Like a failed write: the staged bytes are no longer what the writer meant, so
		 * its close must not commit them. (The EFBIG check above changes nothing.) */
		hubfs_event(HUBFS_EV_ERROR, "cannot stage 'videos/%s': %s", up->path,
			    strerror(-rc));
		up_poison(up, rc);
		goto out;
	}
	if (size == 0) {
		up->hashed = 0;
		up->hash_broken = hubfs_hasher_reset(up->sha) != 0;
	} else if ((uint64_t)size != up->hashed) {
		up->hash_broken = true;
	}
	up->size = (uint64_t)size;
	up->mtime_ns = up_now_ns();
out:
	pthread_mutex_unlock(&up->lock);
	return rc;
}

int lib_probe_file(const char *abs_path, struct hubfs_video_meta *meta, char *why, size_t len)
{
	int rc;

	rc = hubfs_media_validate(abs_path, &meta->media, why, len);
	if (rc)
		return rc;
	rc = hubfs_sha256_file(abs_path, meta->sha256);
	if (rc)
		snprintf(why, len, "cannot read it: %s", strerror(-rc));
	return rc;
}

static void up_describe(const struct hubfs_video_meta *m, char *buf, size_t len)
{
	char size[32];

	lib_fmt_size(m->size, size, sizeof(size));
	snprintf(buf, len, "%s, %s %s %dx%d, %.1f s", size, m->media.container,
		 m->media.video_codec, m->media.width, m->media.height, m->media.duration);
}

int hubfs_library_upload_commit(struct hubfs_library_upload *up)
{
	struct hubfs_library *lib = up->lib;
	struct hubfs_video_meta meta = { 0 };
	struct hubfs_cat_entry entry = { 0 };
	char path[PATH_MAX], why[256], desc[160];
	const char *staged;
	int rc;

	pthread_mutex_lock(&up->lock);
	if (up->done) {
		rc = up->result;
		goto out;
	}
	pthread_mutex_lock(&lib->up_lock);
	snprintf(path, sizeof(path), "%s", up->path);
	pthread_mutex_unlock(&lib->up_lock);

	pthread_mutex_lock(&lib->up_lock);
	if (up->unlinked) {
		/* Removed while open, like an unlinked file: its bytes go nowhere. */
		pthread_mutex_unlock(&lib->up_lock);
		rc = 0;
		goto refuse;
	}
	pthread_mutex_unlock(&lib->up_lock);
	if (up->poison) {
		rc = up->poison;
		goto refuse;
	}
	rc = hubfs_backend_upload_sync(lib->be, up->bu);
	if (rc) {
		hubfs_event(HUBFS_EV_ERROR, "cannot stage 'videos/%s': %s", path, strerror(-rc));
		goto refuse;
	}
	staged = hubfs_backend_upload_staged_path(lib->be, up->bu);
	rc = hubfs_media_validate(staged, &meta.media, why, sizeof(why));
	/* Decoding a large frame leaves megabytes free in this thread's malloc arena; give
	 * them back rather than keep every FUSE thread's high-water mark resident. */
	if (up->size >= UP_TRIM_BYTES)
		malloc_trim(0);
	if (rc == -EINVAL) {
		hubfs_event(HUBFS_EV_REJECT, "rejected 'videos/%s': %s", path, why);
		goto refuse;
	}
	if (rc) {
		hubfs_event(HUBFS_EV_ERROR, "cannot validate 'videos/%s': %s", path, why);
		goto refuse;
	}
	if (up->hash_broken || up->hashed != up->size ||
	    hubfs_hasher_finish(up->sha, meta.sha256)) {
		rc = hubfs_sha256_file(staged, meta.sha256);
		if (rc) {
			hubfs_event(HUBFS_EV_ERROR, "cannot hash 'videos/%s': %s", path,
				    strerror(-rc));
			goto refuse;
		}
	}
	meta.size = up->size;
	meta.uploaded = time(NULL);
	meta.mode = up->mode ? up->mode : 0644;
	meta.uid = up->uid;
	meta.gid = up->gid;
	meta.mtime_ns = up->user_mtime_ns;

	pthread_mutex_lock(&lib->ns_lock);
	/* The name may have moved while we validated; commit under the newest one. */
	pthread_mutex_lock(&lib->up_lock);
	snprintf(path, sizeof(path), "%s", up->path);
	pthread_mutex_unlock(&lib->up_lock);
	rc = hubfs_backend_upload_commit(lib->be, up->bu, path, &meta);
	up->bu = NULL;
	if (!rc) {
		entry.meta = meta;
		rc = hubfs_catalog_put(lib->cat, path, &entry);
		hubfs_catalog_reject_delete(lib->cat, path);
	}
	pthread_mutex_unlock(&lib->ns_lock);
	if (rc) {
		hubfs_event(HUBFS_EV_ERROR, "cannot store 'videos/%s': %s", path, strerror(-rc));
		goto done;
	}
	up_describe(&meta, desc, sizeof(desc));
	hubfs_event(HUBFS_EV_UPLOAD, "stored 'videos/%s': %s", path, desc);
	goto done;
refuse:
	hubfs_backend_upload_abort(lib->be, up->bu);
	up->bu = NULL;
done:
	up->done = true;
	up->result = rc;
	up_unlink(up);
out:
	pthread_mutex_unlock(&up->lock);
	return rc;
}

void hubfs_library_upload_free(struct hubfs_library_upload *up)
{
	if (!up)
		return;
	if (!up->done) {
		up_unlink(up);
		hubfs_backend_upload_abort(up->lib->be, up->bu);
	}
	hubfs_hasher_free(up->sha);
	pthread_mutex_destroy(&up->lock);
	free(up);
}

static void up_setattr_locked(struct hubfs_library_upload *up, uint32_t mode, uint32_t uid,
			      uint32_t gid, int64_t mtime_ns)
{
	if (mode != (uint32_t)-1)
		up->mode = mode & 07777;
	if (uid != (uint32_t)-1)
		up->uid = uid;
	if (gid != (uint32_t)-1)
		up->gid = gid;
	if (mtime_ns != INT64_MIN)
		up->user_mtime_ns = mtime_ns;
}

int hubfs_library_upload_setattr(struct hubfs_library_upload *up, uint32_t mode, uint32_t uid,
				 uint32_t gid, int64_t mtime_ns)
{
	pthread_mutex_lock(&up->lock);
	up_setattr_locked(up, mode, uid, gid, mtime_ns);
	pthread_mutex_unlock(&up->lock);
	return 0;
}

int hubfs_library_upload_setattr_path(struct hubfs_library *lib, const char *path, uint32_t mode,
				      uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	struct hubfs_library_upload *up;
	int rc = -ENOENT;

	/* up_lock keeps the upload alive; its fields are written racily with its own writer,
	 * which only touches size/hash: the attribute fields are ours alone here. */
	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next) {
		if (!up->unlinked && !strcmp(up->path, path)) {
			up_setattr_locked(up, mode, uid, gid, mtime_ns);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&lib->up_lock);
	return rc;
}

int hubfs_library_upload_staged_fd(struct hubfs_library_upload *up)
{
	int fd = -EBADF;

	pthread_mutex_lock(&up->lock);
	if (!up->done && up->bu) {
		fd = hubfs_backend_upload_sync(up->lib->be, up->bu);
		if (!fd) {
			fd = open(hubfs_backend_upload_staged_path(up->lib->be, up->bu),
				  O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
		}
	}
	pthread_mutex_unlock(&up->lock);
	return fd;
}

int hubfs_library_upload_open_staged(struct hubfs_library *lib, const char *path, pid_t owner)
{
	struct hubfs_library_upload *up;
	int fd = -ENOENT;

	/* up_lock keeps the upload (and its staged file) alive while we open it. */
	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next) {
		if (up->unlinked || strcmp(up->path, path) || (owner && up->owner != owner) ||
		    !up->bu)
			continue;
		fd = hubfs_backend_upload_sync(lib->be, up->bu);
		if (!fd) {
			fd = open(hubfs_backend_upload_staged_path(lib->be, up->bu),
				  O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
		}
		break;
	}
	pthread_mutex_unlock(&lib->up_lock);
	return fd;
}

uint64_t hubfs_library_upload_size(struct hubfs_library_upload *up)
{
	return up->size;
}

bool hubfs_library_upload_committed(struct hubfs_library_upload *up)
{
	return up->done;
}

static void up_fill_meta(const struct hubfs_library_upload *up, struct hubfs_video_meta *out)
{
	memset(out, 0, sizeof(*out));
	out->size = up->size;
	out->mode = up->mode ? up->mode : 0644;
	out->uid = up->uid;
	out->gid = up->gid;
	out->mtime_ns = up->user_mtime_ns ? up->user_mtime_ns : up->mtime_ns;
}

void hubfs_library_upload_meta(struct hubfs_library_upload *up, struct hubfs_video_meta *out)
{
	pthread_mutex_lock(&up->lock);
	up_fill_meta(up, out);
	pthread_mutex_unlock(&up->lock);
}

bool hubfs_library_upload_find(struct hubfs_library *lib, const char *path,
			       struct hubfs_video_meta *out)
{
	struct hubfs_library_upload *up;
	bool found = false;

	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next) {
		if (up->unlinked || strcmp(up->path, path))
			continue;
		if (out)
			up_fill_meta(up, out); /* size/mtime read racily: fine for a lookup */
		found = true;
		break;
	}
	pthread_mutex_unlock(&lib->up_lock);
	return found;
}

static bool up_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

void lib_uploads_rename(struct hubfs_library *lib, const char *from, const char *to)
{
	struct hubfs_library_upload *up;
	char buf[PATH_MAX];

	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next) {
		if (!strcmp(up->path, from)) {
			snprintf(up->path, sizeof(up->path), "%s", to);
		} else if (up_under(up->path, from)) {
			snprintf(buf, sizeof(buf), "%s%s", to, up->path + strlen(from));
			snprintf(up->path, sizeof(up->path), "%s", buf);
		}
	}
	pthread_mutex_unlock(&lib->up_lock);
}

int lib_uploads_unlink(struct hubfs_library *lib, const char *path)
{
	struct hubfs_library_upload *up;
	int n = 0;

	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next) {
		if (!up->unlinked && !strcmp(up->path, path)) {
			up->unlinked = true;
			n++;
		}
	}
	pthread_mutex_unlock(&lib->up_lock);
	return n;
}

bool lib_uploads_under(struct hubfs_library *lib, const char *dir)
{
	struct hubfs_library_upload *up;
	bool found = false;

	/* An unlinked upload has no name left in @dir (rm d/x; rmdir d while cp still runs). */
	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up && !found; up = up->next)
		found = !up->unlinked && up_under(up->path, dir);
	pthread_mutex_unlock(&lib->up_lock);
	return found;
}

unsigned int hubfs_library_uploads_count(struct hubfs_library *lib)
{
	struct hubfs_library_upload *up;
	unsigned int n = 0;

	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next)
		n++;
	pthread_mutex_unlock(&lib->up_lock);
	return n;
}

char *hubfs_library_uploads_format(struct hubfs_library *lib)
{
	struct hubfs_library_upload *up;
	struct timespec now;
	size_t cap = 4096, len = 0;
	char *out = malloc(cap), *grown;

	if (!out)
		return NULL;
	out[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lib->up_lock);
	for (up = lib->uploads; up; up = up->next) {
		double secs = (double)(now.tv_sec - up->started.tv_sec) +
			      (double)(now.tv_nsec - up->started.tv_nsec) / 1e9;
		double rate = secs > 0 ? (double)up->size / secs / (1024 * 1024) : 0;
		int n;

		/* percent: of what is known; a local upload's total is unknown until close. */
		while (1) {
			n = snprintf(out + len, cap - len,
				     "name=videos/%s bytes=%" PRIu64 " percent=- rate=%.1fMB/s\n",
				     up->path, up->size, rate);
			if (n >= 0 && (size_t)n < cap - len)
				break;
			cap *= 2;
			grown = realloc(out, cap);
			if (!grown) {
				pthread_mutex_unlock(&lib->up_lock);
				free(out);
				return NULL;
			}
			out = grown;
		}
		len += (size_t)n;
	}
	pthread_mutex_unlock(&lib->up_lock);
	return out;
}
