/*
 * library.c — the library object and the namespace operations of videos/.
 *
 * Each operation changes the backend first (the truth), then the catalog (its cache), under
 * ns_lock so a scanner pass never observes one without the other, then posts an event.
 * Threads: any FUSE thread. Locks: ns_lock (outer), up_lock (inner, via lib_uploads_*).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/log.h"
#include "library/library_int.h"

int hubfs_library_new(struct hubfs_library **out, const struct hubfs_config *cfg,
		      struct hubfs_backend *be, struct hubfs_catalog *cat)
{
	struct hubfs_library *lib;

	*out = NULL;
	lib = calloc(1, sizeof(*lib));
	if (!lib)
		return -ENOMEM;
	lib->cfg = cfg;
	lib->be = be;
	lib->cat = cat;
	lib->max_upload_bytes = cfg->max_upload_mb * 1024 * 1024;
	pthread_mutex_init(&lib->ns_lock, NULL);
	pthread_mutex_init(&lib->up_lock, NULL);
	pthread_mutex_init(&lib->scan_lock, NULL);
	pthread_cond_init(&lib->scan_cond, NULL);
	*out = lib;
	return 0;
}

void hubfs_library_set_invalidate(struct hubfs_library *lib, hubfs_invalidate_fn fn, void *arg)
{
	lib->invalidate = fn;
	lib->invalidate_arg = arg;
}

void lib_invalidate(struct hubfs_library *lib, const char *path)
{
	if (lib->invalidate)
		lib->invalidate(lib->invalidate_arg, path);
}

void lib_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= 1024ull * 1024 * 1024)
		snprintf(buf, len, "%.1f GB", bytes / (1024.0 * 1024 * 1024));
	else if (bytes >= 1024 * 1024)
		snprintf(buf, len, "%.1f MB", bytes / (1024.0 * 1024));
	else if (bytes >= 1024)
		snprintf(buf, len, "%.1f KB", bytes / 1024.0);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
}

int hubfs_library_remove(struct hubfs_library *lib, const char *path)
{
	struct hubfs_cat_entry e;
	int rc;

	pthread_mutex_lock(&lib->ns_lock);
	rc = hubfs_catalog_get(lib->cat, path, &e);
	if (rc) {
		/* Only an upload in progress has this name: unlinked while open. */
		if (lib_uploads_unlink(lib, path))
			rc = 0;
		goto out;
	}
	if (e.is_dir) {
		rc = -EISDIR;
		goto out;
	}
	rc = hubfs_backend_remove(lib->be, path);
	if (rc && rc != -ENOENT) {
		hubfs_event(HUBFS_EV_ERROR, "cannot delete 'videos/%s': %s", path, strerror(-rc));
		goto out;
	}
	/* A replacement being written goes with the name, once the name is really gone: a
	 * failed rm leaves it, or the writer's close would report success and store nothing. */
	lib_uploads_unlink(lib, path);
	rc = hubfs_catalog_delete(lib->cat, path);
	if (!rc)
		hubfs_event(HUBFS_EV_DELETE, "deleted 'videos/%s'", path);
out:
	pthread_mutex_unlock(&lib->ns_lock);
	return rc;
}

int hubfs_library_rename(struct hubfs_library *lib, const char *from, const char *to)
{
	struct hubfs_cat_entry src, dst;
	bool have_dst;
	int rc;

	pthread_mutex_lock(&lib->ns_lock);
	rc = hubfs_catalog_get(lib->cat, from, &src);
	if (rc) {
		/* Only an upload in progress lives here: it follows the name (and replaces a
		 * video at @to when it commits). A directory at @to would only make that commit
		 * fail at close; refuse now, as rename(2) of a file onto a directory does. */
		if (hubfs_library_upload_find(lib, from, NULL)) {
			if (!hubfs_catalog_get(lib->cat, to, &dst) && dst.is_dir) {
				rc = -EISDIR;
			} else {
				lib_uploads_rename(lib, from, to);
				rc = 0;
			}
		}
		goto out;
	}
	have_dst = !hubfs_catalog_get(lib->cat, to, &dst);
	if (have_dst && src.is_dir && !dst.is_dir) {
		rc = -ENOTDIR;
		goto out;
	}
	if (have_dst && !src.is_dir && dst.is_dir) {
		rc = -EISDIR;
		goto out;
	}
	rc = hubfs_backend_rename(lib->be, from, to);
	if (rc) {
		if (rc != -ENOTEMPTY)
			hubfs_event(HUBFS_EV_ERROR, "cannot rename 'videos/%s' to 'videos/%s': %s",
				    from, to, strerror(-rc));
		goto out;
	}
	rc = hubfs_catalog_rename(lib->cat, from, to);
	if (rc) {
		hubfs_log(HUBFS_LOG_ERR,
			  "catalog rename '%s' -> '%s' failed after the backend's: %s", from, to,
			  strerror(-rc));
		goto out;
	}
	if (src.is_dir)
		lib_uploads_rename(lib, from, to);
	hubfs_event(HUBFS_EV_RENAME, "renamed 'videos/%s' to 'videos/%s'", from, to);
out:
	pthread_mutex_unlock(&lib->ns_lock);
	return rc;
}

int hubfs_library_mkdir(struct hubfs_library *lib, const char *path, uint32_t mode, uint32_t uid,
			uint32_t gid)
{
	struct hubfs_cat_entry e = { .is_dir = true };
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	e.meta.mode = mode & 07777;
	e.meta.uid = uid;
	e.meta.gid = gid;
	e.meta.mtime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	pthread_mutex_lock(&lib->ns_lock);
	if (!hubfs_catalog_get(lib->cat, path, &(struct hubfs_cat_entry){ 0 })) {
		rc = -EEXIST;
		goto out;
	}
	rc = hubfs_backend_mkdir(lib->be, path, e.meta.mode);
	if (rc == -EEXIST) {
		/* There in the backend but not yet scanned: adopt it if it is a directory. A file
		 * the catalog does not list (not a video name, or rejected) is not one: adopting
		 * it would list a directory that the next scan drops again. */
		struct hubfs_backend_entry be_e;

		rc = hubfs_backend_stat(lib->be, path, &be_e);
		if (!rc && !be_e.is_dir)
			rc = -EEXIST;
	}
	if (!rc)
		rc = hubfs_catalog_put(lib->cat, path, &e);
out:
	pthread_mutex_unlock(&lib->ns_lock);
	return rc;
}

int hubfs_library_rmdir(struct hubfs_library *lib, const char *path)
{
	struct hubfs_cat_entry e;
	int rc;

	pthread_mutex_lock(&lib->ns_lock);
	rc = hubfs_catalog_get(lib->cat, path, &e);
	if (!rc && !e.is_dir)
		rc = -ENOTDIR;
	if (!rc && lib_uploads_under(lib, path))
		rc = -ENOTEMPTY;
	if (rc)
		goto out;
	/* The catalog answers ENOTEMPTY first; the backend may still hold files we refused. */
	rc = hubfs_catalog_delete(lib->cat, path);
	if (rc)
		goto out;
	rc = hubfs_backend_rmdir(lib->be, path);
	if (rc && rc != -ENOENT) {
		hubfs_catalog_put(lib->cat, path, &e); /* keep the cache truthful */
		if (rc == -ENOTEMPTY)
			hubfs_event(
				HUBFS_EV_ERROR,
				"cannot remove 'videos/%s': data_dir still holds files that are not videos",
				path);
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&lib->ns_lock);
	return rc;
}

int hubfs_library_setattr(struct hubfs_library *lib, const char *path, uint32_t mode, uint32_t uid,
			  uint32_t gid, int64_t mtime_ns)
{
	struct hubfs_cat_entry e;
	int rc;

	pthread_mutex_lock(&lib->ns_lock);
	rc = hubfs_catalog_get(lib->cat, path, &e);
	if (rc)
		goto out;
	if (mode != (uint32_t)-1)
		e.meta.mode = mode & 07777;
	if (uid != (uint32_t)-1)
		e.meta.uid = uid;
	if (gid != (uint32_t)-1)
		e.meta.gid = gid;
	if (mtime_ns != INT64_MIN)
		e.meta.mtime_ns = mtime_ns;
	if (!e.is_dir) {
		rc = hubfs_backend_meta_put(lib->be, path, &e.meta);
		if (rc) {
			hubfs_event(HUBFS_EV_ERROR, "cannot update metadata of 'videos/%s': %s",
				    path, strerror(-rc));
			goto out;
		}
	}
	rc = hubfs_catalog_put(lib->cat, path, &e);
out:
	pthread_mutex_unlock(&lib->ns_lock);
	return rc;
}

void hubfs_library_stop(struct hubfs_library *lib)
{
	if (!lib || !lib->scan_running)
		return;
	pthread_mutex_lock(&lib->scan_lock);
	lib->scan_stop = true;
	pthread_cond_broadcast(&lib->scan_cond);
	pthread_mutex_unlock(&lib->scan_lock);
	pthread_join(lib->scan_thread, NULL);
	lib->scan_running = false;
}

void hubfs_library_free(struct hubfs_library *lib)
{
	if (!lib)
		return;
	hubfs_library_stop(lib);
	pthread_cond_destroy(&lib->scan_cond);
	pthread_mutex_destroy(&lib->scan_lock);
	pthread_mutex_destroy(&lib->up_lock);
	pthread_mutex_destroy(&lib->ns_lock);
	free(lib);
}
