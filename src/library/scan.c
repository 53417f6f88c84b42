/*
 * scan.c — reconciliation: keep the catalog a faithful cache of the backend.
 *
 * The backend is the truth. Every LIB_SCAN_INTERVAL_MS the scanner walks the backend and
 * compares each directory with its catalog listing (both sorted by name):
 *  - a file the catalog lacks, or whose bytes changed (size/mtime differ from the identity
 *    recorded at commit): if its metadata record matches the bytes (another mount committed
 *    it), adopt the record; otherwise, once the file has been quiet for LIB_SETTLE_NS,
 *    validate and hash it (a video put there by hand) and store the record — or remember it
 *    as rejected so the same bad bytes are not validated again;
 *  - a catalog entry the backend lacks is forgotten (deleted by another mount or by hand);
 *  - directories are mirrored.
 * Each change is announced (event) and the kernel's cache for the path invalidated.
 *
 * DESIGN: a directory's comparison runs under ns_lock, so this mount's own operations
 * (which hold ns_lock across backend + catalog) are never seen half done. Validation of a
 * hand-placed file runs without the lock, and its result is applied only if the file's
 * identity is unchanged when the lock is taken again. A full walk is deliberately simple and
 * robust on NFS (opendir revalidates; a directory's cached mtime would not): for 10,000
 * videos a pass is one readdir+stat per file and one indexed catalog query per directory.
 *
 * Threads: the scanner thread (and hubfs_library_scan callers). Locks: ns_lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/log.h"
#include "hubfs/names.h"
#include "library/library_int.h"

struct scan_item {
	char *name;
	bool is_dir;
	uint64_t size;    /* backend: bytes; catalog: recorded file_size */
	int64_t mtime_ns; /* backend: mtime; catalog: recorded file_mtime_ns */
	int64_t record;   /* version marker of the metadata record (0: unknown) */
};

struct scan_list {
	struct scan_item *v;
	size_t n, cap;
};

static int scan_push(struct scan_list *l, const char *name, bool is_dir, uint64_t size,
		     int64_t mtime_ns, int64_t record)
{
	struct scan_item *grown;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;

		grown = realloc(l->v, cap * sizeof(*l->v));
		if (!grown)
			return -ENOMEM;
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->v[l->n].is_dir = is_dir;
	l->v[l->n].size = size;
	l->v[l->n].mtime_ns = mtime_ns;
	l->v[l->n].record = record;
	l->n++;
	return 0;
}

static void scan_list_free(struct scan_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int scan_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_item *)a)->name, ((const struct scan_item *)b)->name);
}

static int scan_backend_cb(void *arg, const struct hubfs_backend_entry *e)
{
	int rc = e->is_dir ? hubfs_video_dirname_check(e->name) : hubfs_video_name_check(e->name);

	if (rc)
		return 0; /* not something videos/ can show: ignore */
	return scan_push(arg, e->name, e->is_dir, e->size, e->mtime_ns, e->record_mtime_ns);
}

static int scan_catalog_cb(void *arg, const char *name, const struct hubfs_cat_entry *e)
{
	return scan_push(arg, name, e->is_dir, e->meta.file_size, e->meta.file_mtime_ns,
			 e->meta.record_mtime_ns);
}

/* dir/name into @buf; a path too long for PATH_MAX cannot come from a backend listing of
 * checked names, and is cut (the lookup of the cut path then simply fails). */
static void scan_join(const char *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s%s", dir, *dir ? "/" : "", name);

	if (n < 0 || (size_t)n >= len)
		buf[len - 1] = '\0';
}

/* Forget @path (and its subtree) from the catalog: it is gone from the backend. */
static void scan_forget(struct hubfs_library *lib, const char *path, bool is_dir)
{
	struct scan_list kids = { 0 };
	char child[PATH_MAX];

	if (is_dir && !hubfs_catalog_list(lib->cat, path, scan_catalog_cb, &kids)) {
		for (size_t i = 0; i < kids.n; i++) {
			scan_join(path, kids.v[i].name, child, sizeof(child));
			scan_forget(lib, child, kids.v[i].is_dir);
		}
	}
	scan_list_free(&kids);
	if (hubfs_catalog_delete(lib->cat, path))
		return;
	if (!is_dir)
		hubfs_event(HUBFS_EV_DELETE, "'videos/%s' is gone from the backend", path);
	lib_invalidate(lib, path);
}

static int64_t scan_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A backend file the catalog lacks or has stale: adopt a matching record (0), or ask for a
 * probe (1), or wait (2: still being written, or a known reject).
 */
static int scan_file_locked(struct hubfs_library *lib, const char *path, const struct scan_item *b,
			    bool known)
{
	struct hubfs_cat_entry e = { 0 };
	char why[256];

	if (!hubfs_backend_meta_get(lib->be, path, &e.meta) && e.meta.file_size == b->size &&
	    e.meta.file_mtime_ns == b->mtime_ns && e.meta.sha256[0]) {
		if (hubfs_catalog_put(lib->cat, path, &e))
			return 2;
		hubfs_catalog_reject_delete(lib->cat, path);
		if (known)
			hubfs_event(HUBFS_EV_SCAN, "updated 'videos/%s' (changed by another mount)",
				    path);
		else
			hubfs_event(HUBFS_EV_SCAN, "found 'videos/%s' (stored by another mount)",
				    path);
		lib_invalidate(lib, path);
		return 0;
	}
	if (scan_now_ns() - b->mtime_ns < LIB_SETTLE_NS)
		return 2;
	if (!hubfs_catalog_reject_get(lib->cat, path, b->size, b->mtime_ns, why, sizeof(why)))
		return 2;
	return 1;
}

/*
 * A remote backend's object (S3) has no path to validate: fetch it once into a private
 * file in state_dir (up to max_upload_mb: a bigger one is refused like a bigger upload),
 * validate and hash that, remove it. 0, -EINVAL (refused: @why), or -errno.
 */
static int scan_probe_remote(struct hubfs_library *lib, const char *path, uint64_t size,
			     struct hubfs_video_meta *meta, char *why, size_t len)
{
	struct hubfs_reader *r = NULL;
	char tmp[PATH_MAX], *buf = NULL;
	uint64_t off = 0;
	int fd, rc;

	if (size > lib->cfg->max_upload_mb * 1024 * 1024) {
		snprintf(why, len, "larger than max_upload_mb (%" PRIu64 " MB)",
			 lib->cfg->max_upload_mb);
		return -EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s/probe-XXXXXX", lib->cfg->state_dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, len, "cannot make a probe file: %s", strerror(-rc));
		return rc;
	}
	unlink(tmp); /* reopened below through /proc: nothing is left behind on a crash */
	buf = malloc(1u << 20);
	rc = buf ? hubfs_backend_read_open(lib->be, path, &r) : -ENOMEM;
	while (!rc) {
		ssize_t n = hubfs_backend_read(lib->be, r, buf, 1u << 20, (off_t)off);

		if (n < 0)
			rc = (int)n;
		else if (n == 0)
			break;
		else if (pwrite(fd, buf, (size_t)n, (off_t)off) != n)
			rc = -EIO;
		else
			off += (uint64_t)n;
	}
	if (r)
		hubfs_backend_read_close(lib->be, r);
	free(buf);
	if (rc) {
		snprintf(why, len, "cannot read it: %s", strerror(-rc));
	} else {
		snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d", fd);
		rc = lib_probe_file(tmp, meta, why, len);
	}
	close(fd);
	return rc;
}

/* Validate and hash a hand-placed file (no lock held), then apply under the lock. */
static void scan_probe(struct hubfs_library *lib, const char *path, const struct scan_item *b)
{
	struct hubfs_cat_entry e = { 0 };
	struct hubfs_backend_entry now;
	char abs[PATH_MAX + 64], why[256];
	int rc;

	if (hubfs_backend_caps(lib->be) & HUBFS_BE_CAP_READ_FD) {
		snprintf(abs, sizeof(abs), "%s/%s", lib->cfg->data_dir, path);
		rc = lib_probe_file(abs, &e.meta, why, sizeof(why));
	} else {
		rc = scan_probe_remote(lib, path, b->size, &e.meta, why, sizeof(why));
	}
	pthread_mutex_lock(&lib->ns_lock);
	if (hubfs_backend_stat(lib->be, path, &now) || now.size != b->size ||
	    now.mtime_ns != b->mtime_ns)
		goto out; /* changed meanwhile: next pass */
	if (rc && rc != -EINVAL) {
		/* Not the content's fault (unreadable, out of memory): try again next pass,
		 * and say so once per pass rather than remembering it as bad content. */
		hubfs_log(HUBFS_LOG_WARN, "cannot check 'videos/%s' found in the backend: %s", path,
			  why);
		goto out;
	}
	if (rc) {
		hubfs_catalog_reject_put(lib->cat, path, b->size, b->mtime_ns, why);
		hubfs_event(HUBFS_EV_REJECT, "rejected 'videos/%s' (found in the backend): %s",
			    path, why);
		if (!hubfs_catalog_get(lib->cat, path, &(struct hubfs_cat_entry){ 0 }))
			scan_forget(lib, path, false);
		goto out;
	}
	e.meta.size = b->size;
	e.meta.uploaded = time(NULL);
	e.meta.mode = 0644;
	e.meta.mtime_ns = b->mtime_ns;
	if (hubfs_backend_meta_put(lib->be, path, &e.meta))
		hubfs_log(HUBFS_LOG_WARN, "cannot store metadata beside 'videos/%s'", path);
	e.meta.file_size = b->size;
	e.meta.file_mtime_ns = b->mtime_ns;
	if (hubfs_catalog_put(lib->cat, path, &e))
		goto out;
	hubfs_catalog_reject_delete(lib->cat, path);
	hubfs_event(HUBFS_EV_SCAN, "found 'videos/%s' in the backend: valid %s video", path,
		    e.meta.media.container);
	lib_invalidate(lib, path);
out:
	pthread_mutex_unlock(&lib->ns_lock);
}

static int scan_dir(struct hubfs_library *lib, const char *dir, int depth)
{
	struct scan_list be = { 0 }, cat = { 0 }, probe = { 0 }, subdirs = { 0 };
	struct hubfs_cat_entry de = { .is_dir = true };
	char path[PATH_MAX];
	size_t i = 0, j = 0;
	int rc;

	if (depth > 64)
		return -ELOOP;
	pthread_mutex_lock(&lib->ns_lock);
	rc = hubfs_backend_list(lib->be, dir, scan_backend_cb, &be);
	if (rc) {
		pthread_mutex_unlock(&lib->ns_lock);
		goto out;
	}
	rc = hubfs_catalog_list(lib->cat, dir, scan_catalog_cb, &cat);
	if (rc && rc != -ENOENT) {
		pthread_mutex_unlock(&lib->ns_lock);
		goto out;
	}
	if (be.n)
		qsort(be.v, be.n, sizeof(*be.v), scan_cmp);
	if (cat.n)
		qsort(cat.v, cat.n, sizeof(*cat.v), scan_cmp);
	while (i < be.n || j < cat.n) {
		int c = i >= be.n ? 1 : j >= cat.n ? -1 : strcmp(be.v[i].name, cat.v[j].name);
		struct scan_item *b = c <= 0 ? &be.v[i] : NULL;
		struct scan_item *k = c >= 0 ? &cat.v[j] : NULL;

		scan_join(dir, c <= 0 ? b->name : k->name, path, sizeof(path));
		if (b && k && b->is_dir != k->is_dir) {
			scan_forget(lib, path, k->is_dir);
			k = NULL;
		}
		if (!b) {
			scan_forget(lib, path, k->is_dir);
		} else if (b->is_dir) {
			if (!k) {
				de.meta.mode = 0755;
				de.meta.mtime_ns = b->mtime_ns;
				if (!hubfs_catalog_put(lib->cat, path, &de))
					lib_invalidate(lib, path);
			}
			scan_push(&subdirs, b->name, true, 0, 0, 0);
		} else if (!k || k->size != b->size || k->mtime_ns != b->mtime_ns ||
			   (b->record && b->record != k->record)) {
			/* new, new bytes, or a record rewritten elsewhere (chmod, chown) */
			if (scan_file_locked(lib, path, b, k != NULL) == 1)
				scan_push(&probe, b->name, false, b->size, b->mtime_ns, 0);
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	pthread_mutex_unlock(&lib->ns_lock);

	for (i = 0; i < probe.n; i++) {
		scan_join(dir, probe.v[i].name, path, sizeof(path));
		scan_probe(lib, path, &probe.v[i]);
	}
	for (i = 0; i < subdirs.n; i++) {
		scan_join(dir, subdirs.v[i].name, path, sizeof(path));
		scan_dir(lib, path, depth + 1);
	}
	rc = 0;
out:
	scan_list_free(&be);
	scan_list_free(&cat);
	scan_list_free(&probe);
	scan_list_free(&subdirs);
	return rc;
}

int hubfs_library_scan(struct hubfs_library *lib)
{
	int rc = scan_dir(lib, "", 0);

	if (rc)
		hubfs_log(HUBFS_LOG_WARN, "scan of the backend failed: %s", strerror(-rc));
	return rc;
}

static void *scan_main(void *arg)
{
	struct hubfs_library *lib = arg;
	struct timespec deadline;

	pthread_mutex_lock(&lib->scan_lock);
	while (!lib->scan_stop) {
		pthread_mutex_unlock(&lib->scan_lock);
		hubfs_library_scan(lib);
		pthread_mutex_lock(&lib->scan_lock);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += LIB_SCAN_INTERVAL_MS / 1000;
		deadline.tv_nsec += (LIB_SCAN_INTERVAL_MS % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		while (!lib->scan_stop &&
		       pthread_cond_timedwait(&lib->scan_cond, &lib->scan_lock, &deadline) == 0)
			;
	}
	pthread_mutex_unlock(&lib->scan_lock);
	return NULL;
}

int hubfs_library_start(struct hubfs_library *lib)
{
	int rc;

	rc = hubfs_backend_recover(lib->be);
	if (rc)
		hubfs_log(HUBFS_LOG_WARN, "cannot clean staged leftovers: %s", strerror(-rc));
	rc = pthread_create(&lib->scan_thread, NULL, scan_main, lib);
	if (rc)
		return -rc;
	lib->scan_running = true;
	return 0;
}
