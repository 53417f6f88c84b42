/*
 * notes.c — the notes/ directory type: plain text notes, every save a version.
 *
 * What lives where:
 *   - notes and folders: the catalog (catalog_notes.h); a note's content is its head version;
 *   - a note open for writing: an in-memory buffer shared by its open files (struct
 *     note_open), loaded from the head on first use, committed as a version when its writer
 *     closes it (flush) or fsyncs it, if the bytes changed;
 *   - editor scratch files (hubfs_note_is_scratch: swap files, backups, temporaries): real
 *     files under state_dir/notes-scratch/, mirroring the folders; never versions;
 *   - .versions/PATH/N, .search/QUERY/, .conflicts/ and the xattrs: generated from the
 *     catalog, in notes_views.c. The state both files share is in notes_int.h.
 *
 * Saves of every editor become exactly one version, and a note keeps its identity:
 *   - in place (nano, VS Code, cp, >>): the buffer is committed at close;
 *   - temp file + rename over (sed -i, gedit, Python): the scratch file's bytes become the
 *     next version of the note renamed over;
 *   - vim's backup-and-rename: renaming a note to a scratch name sets it aside (hidden, not
 *     deleted); creating the name again writes the next version of the same note; removing
 *     the backup while the note is still aside deletes it (history kept).
 *
 * Threads: FUSE workers. Locks: nfs->lock guards everything here (open notes, aside
 * entries, and the sequence check-then-change of every operation); it is taken around
 * catalog calls (the catalog has its own lock inside) and never held while calling the
 * kernel (invalidations run after it is dropped).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "hubfs/catalog.h"
#include "hubfs/catalog_notes.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/log.h"
#include "hubfs/names.h"
#include "hubfs/notes.h"

#include "fs/notes_int.h"

/* ---- small helpers -------------------------------------------------------------------- */

static int64_t nt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void nt_parent(const char *path, char *buf, size_t len)
{
	const char *base = hubfs_path_base(path);

	snprintf(buf, len, "%.*s", base == path ? 0 : (int)(base - path - 1), path);
}

void nt_fill_ts(struct timespec *ts, int64_t ns)
{
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	if (ts->tv_nsec < 0) {
		ts->tv_sec--;
		ts->tv_nsec += 1000000000;
	}
}

void nt_iso(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "USER@NODE" for @uid. */
static void nt_author(const struct hubfs_fs *fs, uint32_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (!getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) && res)
		snprintf(buf, len, "%s@%s", res->pw_name, fs->cfg->node_name);
	else
		snprintf(buf, len, "%u@%s", uid, fs->cfg->node_name);
}

bool nt_is_special_top(const char *sub)
{
	size_t n = strcspn(sub, "/");

	return (n == strlen(NOTES_VERSIONS) && !strncmp(sub, NOTES_VERSIONS, n)) ||
	       (n == strlen(NOTES_SEARCH) && !strncmp(sub, NOTES_SEARCH, n)) ||
	       (n == strlen(NOTES_CONFLICTS) && !strncmp(sub, NOTES_CONFLICTS, n));
}

struct note_open *nt_open_find(struct hubfs_notes_fs *nfs, const char *path)
{
	for (struct note_open *no = nfs->open; no; no = no->next)
		if (!no->unlinked && !strcmp(no->path, path))
			return no;
	return NULL;
}

static struct note_aside *nt_aside_by_path(struct hubfs_notes_fs *nfs, const char *path)
{
	for (struct note_aside *a = nfs->aside; a; a = a->next)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

static struct note_aside *nt_aside_by_scratch(struct hubfs_notes_fs *nfs, const char *scratch)
{
	for (struct note_aside *a = nfs->aside; a; a = a->next)
		if (!strcmp(a->scratch, scratch))
			return a;
	return NULL;
}

static void nt_aside_drop(struct hubfs_notes_fs *nfs, struct note_aside *gone)
{
	for (struct note_aside **p = &nfs->aside; *p; p = &(*p)->next) {
		if (*p == gone) {
			*p = gone->next;
			free(gone);
			return;
		}
	}
}

/* mkdir -p of @rel's parent in the scratch mirror. */
static int nt_scratch_parents(struct hubfs_notes_fs *nfs, const char *rel)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", rel);
	for (char *p = buf; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(nfs->scratch_fd, buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

bool nt_scratch_exists(struct hubfs_notes_fs *nfs, const char *rel, struct stat *st)
{
	struct stat tmp;

	return !fstatat(nfs->scratch_fd, rel, st ? st : &tmp, AT_SYMLINK_NOFOLLOW) &&
	       S_ISREG((st ? st : &tmp)->st_mode);
}

/* Whole content of a scratch file (malloc'd). */
static int nt_scratch_read(struct hubfs_notes_fs *nfs, const char *rel, char **buf, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	*buf = NULL;
	fd = openat(nfs->scratch_fd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > nfs->max_bytes) {
		rc = -EFBIG;
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = pread(fd, *buf, (size_t)st.st_size, 0);
	if (n < 0) {
		rc = -errno;
		free(*buf);
		*buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	close(fd);
	return rc;
}

static int nt_scratch_truncate(struct hubfs_notes_fs *nfs, const char *rel, off_t size)
{
	int fd = openat(nfs->scratch_fd, rel, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size))
		rc = -errno;
	close(fd);
	return rc;
}

/* ---- versions ------------------------------------------------------------------------ */

/*
 * Commit @content as the next version of the note at @path (creating it if needed).
 * nfs->lock held. 0 (also when unchanged), or -errno.
 */
static int nt_commit(struct hubfs_fs *fs, const char *path, const char *content, size_t len,
		     uint32_t writer_uid, const struct note_open *attrs)
{
	struct hubfs_note_info cur, want = { 0 }, out;
	struct hubfs_note_version v = { 0 };
	const char *parents[1];
	char gid[HUBFS_NOTE_GID_LEN + 1] = "";
	unsigned int same;
	bool exists;
	int rc;

	exists = !hubfs_catalog_note_get(fs->cat, path, &cur);
	if (exists) {
		parents[0] = cur.head;
	} else if (!hubfs_catalog_note_get_deleted(fs->cat, path, &cur)) {
		/* a deleted note written again (cp .versions/x/3 x): its history goes on */
		exists = true;
		parents[0] = cur.head;
		snprintf(gid, sizeof(gid), "%s", cur.gid);
	} else {
		rc = hubfs_note_new_gid(gid);
		if (rc)
			return rc;
		want.mode = attrs ? attrs->mode : 0644;
		want.uid = attrs ? attrs->uid : writer_uid;
		want.gid_owner = attrs ? attrs->gid : 0;
		want.shared = fs->cfg->notes_default_shared;
	}
	rc = hubfs_note_version_id(content, len, parents, exists ? 1 : 0, fs->cfg->node_name, false,
				   v.id);
	if (rc)
		return rc;
	if (exists)
		snprintf(v.parents[0], sizeof(v.parents[0]), "%s", cur.head);
	snprintf(v.origin, sizeof(v.origin), "%s", fs->cfg->node_name);
	nt_author(fs, writer_uid, v.author, sizeof(v.author));
	v.time_ns = nt_now_ns();
	rc = hubfs_catalog_note_save(fs->cat, path, content, len, &v, gid, &want, &out);
	if (rc == -EALREADY)
		return 0;
	if (rc) {
		hubfs_event(HUBFS_EV_ERROR, "cannot save 'notes/%s': %s", path, strerror(-rc));
		return rc;
	}
	if (out.nversions > 1 &&
	    !hubfs_catalog_note_find_content(fs->cat, path, content, len, out.nversions - 1, &same))
		hubfs_event(
			HUBFS_EV_NOTE,
			"restored 'notes/%s' to the content of version %u (as version %u, by %s)",
			path, same, out.nversions, v.author);
	else
		hubfs_event(HUBFS_EV_NOTE, "saved 'notes/%s' (version %u, %zu bytes, by %s)", path,
			    out.nversions, len, v.author);
	return 0;
}

/* Record the deletion of the live note at @path (a version: history kept). nfs->lock. */
static int nt_delete(struct hubfs_fs *fs, const char *path, uint32_t uid)
{
	struct hubfs_note_version v = { 0 };
	struct hubfs_note_info cur;
	const char *parents[1];
	int rc;

	rc = hubfs_catalog_note_get(fs->cat, path, &cur);
	if (rc)
		return rc;
	parents[0] = cur.head;
	rc = hubfs_note_version_id("", 0, parents, 1, fs->cfg->node_name, true, v.id);
	if (rc)
		return rc;
	snprintf(v.parents[0], sizeof(v.parents[0]), "%s", cur.head);
	snprintf(v.origin, sizeof(v.origin), "%s", fs->cfg->node_name);
	nt_author(fs, uid, v.author, sizeof(v.author));
	v.time_ns = nt_now_ns();
	v.deleted = true;
	rc = hubfs_catalog_note_delete(fs->cat, path, &v);
	if (!rc)
		hubfs_event(HUBFS_EV_NOTE,
			    "deleted 'notes/%s' (its history is kept in notes/%s/%s/)", path,
			    NOTES_VERSIONS, path);
	return rc;
}

/* Make sure @no's buffer holds the content. nfs->lock. */
static int nt_load(struct hubfs_fs *fs, struct note_open *no)
{
	void *buf;
	size_t len;
	int rc;

	if (no->loaded)
		return 0;
	rc = hubfs_catalog_note_read(fs->cat, no->path, &buf, &len);
	if (rc)
		return rc;
	free(no->buf);
	no->buf = buf;
	no->len = len;
	no->cap = len;
	no->loaded = true;
	return 0;
}

/* Commit an open note's buffer if it changed. nfs->lock. */
static int nt_commit_open(struct hubfs_fs *fs, struct note_open *no)
{
	int rc;

	if (!no->dirty || no->unlinked)
		return 0;
	rc = nt_commit(fs, no->path, no->buf ? no->buf : "", no->len, no->writer_uid, no);
	if (!rc) {
		no->dirty = false;
		no->is_new = false;
		if (no->attrs_set || no->user_mtime_ns)
			hubfs_catalog_note_set_attrs(
				fs->cat, no->path, no->attrs_set ? no->mode : (uint32_t)-1,
				no->attrs_set ? no->uid : (uint32_t)-1,
				no->attrs_set ? no->gid : (uint32_t)-1,
				no->user_mtime_ns ? no->user_mtime_ns : INT64_MIN);
	}
	return rc;
}

static struct note_open *nt_open_get(struct hubfs_notes_fs *nfs, const char *path)
{
	struct note_open *no = nt_open_find(nfs, path);

	if (no) {
		no->refs++;
		return no;
	}
	no = calloc(1, sizeof(*no));
	if (!no)
		return NULL;
	snprintf(no->path, sizeof(no->path), "%s", path);
	no->refs = 1;
	no->mode = 0644;
	no->next = nfs->open;
	nfs->open = no;
	return no;
}

static void nt_open_put(struct hubfs_fs *fs, struct note_open *no)
{
	struct hubfs_notes_fs *nfs = fs->notes;

	if (--no->refs)
		return;
	nt_commit_open(fs, no); /* a writer that never flushed (killed): keep its bytes */
	for (struct note_open **p = &nfs->open; *p; p = &(*p)->next) {
		if (*p == no) {
			*p = no->next;
			break;
		}
	}
	free(no->buf);
	free(no);
}

/* ---- attributes ---------------------------------------------------------------------- */

static void nt_stat_note(struct stat *st, const struct hubfs_note_info *n,
			 const struct note_open *no)
{
	hubfs_fs_fill_file(st, n ? n->mode : no->mode, 0, 0);
	st->st_size = (off_t)(no && no->loaded ? no->len : n ? n->size : 0);
	st->st_blocks = (st->st_size + 511) / 512;
	nt_fill_ts(&st->st_mtim, n ? n->mtime_ns : no->mtime_ns ? no->mtime_ns : nt_now_ns());
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	if (n && (n->uid || n->gid_owner)) {
		st->st_uid = n->uid;
		st->st_gid = n->gid_owner;
	} else if (no && (no->uid || no->gid)) {
		st->st_uid = no->uid;
		st->st_gid = no->gid;
	}
}

static void nt_stat_dir(struct stat *st, const struct hubfs_note_dir *d, time_t fallback)
{
	hubfs_fs_fill_dir(st, d && d->mode ? d->mode : 0755, fallback);
	if (d && d->mtime_ns) {
		nt_fill_ts(&st->st_mtim, d->mtime_ns);
		st->st_ctim = st->st_mtim;
	}
	if (d && (d->uid || d->gid)) {
		st->st_uid = d->uid;
		st->st_gid = d->gid;
	}
}

static int nt_getattr_locked(struct hubfs_fs *fs, const char *sub, struct stat *st)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct hubfs_note_info n;
	struct hubfs_note_dir d;
	struct note_open *no;

	if (!*sub) {
		hubfs_fs_fill_dir(st, 0755, fs->started);
		return 0;
	}
	if (!strncmp(sub, NOTES_VERSIONS, strlen(NOTES_VERSIONS)) &&
	    (sub[strlen(NOTES_VERSIONS)] == '/' || !sub[strlen(NOTES_VERSIONS)]))
		return nt_versions_getattr(
			fs, sub[strlen(NOTES_VERSIONS)] ? sub + strlen(NOTES_VERSIONS) + 1 : "",
			st);
	if (!strcmp(sub, NOTES_SEARCH) || !strcmp(sub, NOTES_CONFLICTS)) {
		hubfs_fs_fill_dir(st, 0555, fs->started);
		return 0;
	}
	if (!strncmp(sub, NOTES_SEARCH "/", strlen(NOTES_SEARCH) + 1)) {
		const char *q = sub + strlen(NOTES_SEARCH) + 1;

		char path[PATH_MAX];
		int rc;

		if (!strchr(q, '/')) {
			hubfs_fs_fill_dir(st, 0555, fs->started);
			return 0;
		}
		/* a result link, if it is a current result */
		rc = nt_search_entry(fs, sub, path, sizeof(path));
		if (rc)
			return rc;
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_uid = getuid();
		st->st_gid = getgid();
		st->st_size = (off_t)(strlen("../../") + strlen(path));
		return 0;
	}
	if (nt_is_special_top(sub))
		return -ENOENT;
	if (nt_scratch_exists(nfs, sub, st)) {
		st->st_nlink = 1;
		return 0;
	}
	if (nt_aside_by_path(nfs, sub) && !nt_open_find(nfs, sub))
		return -ENOENT;
	no = nt_open_find(nfs, sub);
	if (!hubfs_catalog_note_get(fs->cat, sub, &n)) {
		nt_stat_note(st, &n, no);
		return 0;
	}
	if (no) {
		nt_stat_note(st, NULL, no);
		return 0;
	}
	if (!hubfs_catalog_note_dir_get(fs->cat, sub, &d)) {
		nt_stat_dir(st, &d, fs->started);
		return 0;
	}
	return -ENOENT;
}

static int nt_getattr(struct hubfs_fs *fs, const char *sub, struct stat *st)
{
	int rc;

	pthread_mutex_lock(&fs->notes->lock);
	rc = nt_getattr_locked(fs, sub, st);
	pthread_mutex_unlock(&fs->notes->lock);
	return rc;
}

/* ---- listing ------------------------------------------------------------------------- */

static int nt_list_cb(void *arg, const char *name, const struct hubfs_note_info *n,
		      const struct hubfs_note_dir *d)
{
	struct nt_fill *f = arg;
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s%s", f->dir, *f->dir ? "/" : "", name);
	if (n && nt_aside_by_path(f->fs->notes, path) && !nt_open_find(f->fs->notes, path))
		return 0; /* set aside by a rename to a backup name */
	if (n)
		nt_stat_note(&st, n, nt_open_find(f->fs->notes, path));
	else
		nt_stat_dir(&st, d, f->fs->started);
	return f->fill(f->buf, name, &st, 0, FUSE_FILL_DIR_PLUS) ? -ENOMEM : 0;
}

static int nt_readdir(struct hubfs_fs *fs, const char *sub, void *buf, fuse_fill_dir_t fill,
		      enum fuse_readdir_flags flags)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct nt_fill f = { fs, buf, fill, sub };
	struct stat st;
	struct dirent *de;
	DIR *dir;
	int fd, rc = 0;

	(void)flags;
	pthread_mutex_lock(&nfs->lock);
	rc = nt_getattr_locked(fs, sub, &st);
	if (!rc && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	if (rc)
		goto out;
	fill(buf, ".", &st, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	if (!strcmp(sub, NOTES_VERSIONS) ||
	    !strncmp(sub, NOTES_VERSIONS "/", strlen(NOTES_VERSIONS) + 1)) {
		const char *rel = sub[strlen(NOTES_VERSIONS)] ? sub + strlen(NOTES_VERSIONS) + 1 :
								"";

		if (*rel)
			hubfs_catalog_note_versions(fs->cat, rel, nt_ver_cb, &f);
		rc = hubfs_catalog_note_history_list(fs->cat, rel, nt_hist_cb, &f);
		if (rc == -ENOENT)
			rc = 0;
		goto out;
	}
	if (!strcmp(sub, NOTES_SEARCH) || !strcmp(sub, NOTES_CONFLICTS))
		goto out;
	if (!strncmp(sub, NOTES_SEARCH "/", strlen(NOTES_SEARCH) + 1)) {
		struct nt_search s = { &f, 0 };

		rc = nt_search_run(fs, sub + strlen(NOTES_SEARCH) + 1, nt_search_cb, &s);
		rc = rc < 0 ? rc : 0;
		goto out;
	}
	if (!*sub) {
		hubfs_fs_fill_dir(&st, 0555, fs->started);
		fill(buf, NOTES_VERSIONS, &st, 0, FUSE_FILL_DIR_PLUS);
		fill(buf, NOTES_SEARCH, &st, 0, FUSE_FILL_DIR_PLUS);
		fill(buf, NOTES_CONFLICTS, &st, 0, FUSE_FILL_DIR_PLUS);
	}
	rc = hubfs_catalog_note_list(fs->cat, sub, nt_list_cb, &f);
	if (rc)
		goto out;
	/* notes created but not saved yet */
	for (struct note_open *no = nfs->open; no; no = no->next) {
		char parent[PATH_MAX];

		if (!no->is_new || no->unlinked)
			continue;
		nt_parent(no->path, parent, sizeof(parent));
		if (strcmp(parent, sub))
			continue;
		nt_stat_note(&st, NULL, no);
		fill(buf, hubfs_path_base(no->path), &st, 0, FUSE_FILL_DIR_PLUS);
	}
	/* scratch files */
	fd = openat(nfs->scratch_fd, *sub ? sub : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir && fd >= 0)
		close(fd);
	while (dir && (de = readdir(dir))) {
		if (!fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode))
			fill(buf, de->d_name, &st, 0, FUSE_FILL_DIR_PLUS);
	}
	if (dir)
		closedir(dir);
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

/* ---- open files ---------------------------------------------------------------------- */

struct note_handle *nt_handle_new(enum nh_kind kind, const char *sub)
{
	struct note_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->base.ops = &hubfs_notes_ops;
	h->kind = kind;
	h->fd = -1;
	snprintf(h->path, sizeof(h->path), "%s", sub);
	return h;
}

/* The folder that would hold @sub exists (as a folder of notes). nfs->lock. */
static int nt_parent_ok(struct hubfs_fs *fs, const char *sub)
{
	struct hubfs_note_dir d;
	char parent[PATH_MAX];

	nt_parent(sub, parent, sizeof(parent));
	if (!*parent)
		return 0;
	if (nt_is_special_top(parent))
		return -EACCES;
	return hubfs_catalog_note_dir_get(fs->cat, parent, &d) ? -ENOENT : 0;
}

static int nt_name_ok(const char *sub)
{
	int rc = hubfs_note_name_check(hubfs_path_base(sub), !strchr(sub, '/'));

	if (rc)
		hubfs_event(HUBFS_EV_REJECT, "refused name in 'notes/': %s",
			    rc == -ENAMETOOLONG ? "longer than 255 bytes" :
						  "reserved, or holds a newline or a slash");
	return rc;
}

static int nt_open_scratch(struct hubfs_fs *fs, const char *sub, int flags, mode_t mode,
			   struct fuse_file_info *fi)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct note_handle *h;
	int fd, rc;

	rc = nt_scratch_parents(nfs, sub);
	if (rc)
		return rc;
	fd = openat(nfs->scratch_fd, sub, (flags & ~(O_NOFOLLOW | O_EXCL)) | O_CLOEXEC,
		    mode & 07777);
	if (fd < 0)
		return -errno;
	h = nt_handle_new(NH_SCRATCH, sub);
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	fi->fh = (uintptr_t)h;
	return 0;
}

static int nt_create(struct hubfs_fs *fs, const char *sub, mode_t mode, struct fuse_file_info *fi)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct fuse_context *ctx = fuse_get_context();
	struct note_aside *aside;
	struct note_handle *h;
	struct note_open *no;
	int rc;

	pthread_mutex_lock(&nfs->lock);
	rc = nt_name_ok(sub);
	if (!rc)
		rc = nt_parent_ok(fs, sub);
	if (rc)
		goto out;
	if (hubfs_note_is_scratch(hubfs_path_base(sub))) {
		rc = nt_open_scratch(fs, sub, fi->flags | O_CREAT, mode, fi);
		goto out;
	}
	h = nt_handle_new(NH_NOTE, sub);
	no = h ? nt_open_get(nfs, sub) : NULL;
	if (!no) {
		free(h);
		rc = -ENOMEM;
		goto out;
	}
	aside = nt_aside_by_path(nfs, sub);
	if (aside || !hubfs_catalog_note_get(fs->cat, sub, &(struct hubfs_note_info){ 0 })) {
		/* vim writing the note it set aside: the next version of the same note, and its
		 * backup is a plain scratch file from now on */
		no->loaded = true;
		no->len = 0;
		if (aside)
			nt_aside_drop(nfs, aside);
	} else {
		no->is_new = true;
		no->loaded = true;
		no->mode = mode & 07777;
		no->uid = ctx->uid;
		no->gid = ctx->gid;
	}
	no->dirty = true;
	no->writer_uid = ctx->uid;
	no->mtime_ns = nt_now_ns();
	h->no = no;
	h->writable = true;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	rc = 0;
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_open(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct hubfs_note_info n;
	struct note_handle *h;
	struct note_open *no;
	int acc = fi->flags & O_ACCMODE;
	int rc;

	pthread_mutex_lock(&nfs->lock);
	if (!strncmp(sub, NOTES_VERSIONS "/", strlen(NOTES_VERSIONS) + 1)) {
		rc = nt_open_version(fs, sub, sub + strlen(NOTES_VERSIONS) + 1, fi);
		goto out;
	}
	if (nt_is_special_top(sub)) {
		rc = -EISDIR;
		goto out;
	}
	if (nt_scratch_exists(nfs, sub, NULL)) {
		rc = nt_open_scratch(fs, sub, fi->flags, 0644, fi);
		goto out;
	}
	no = nt_open_find(nfs, sub);
	if (!no && (hubfs_catalog_note_get(fs->cat, sub, &n) ||
		    (nt_aside_by_path(nfs, sub) && acc == O_RDONLY))) {
		rc = -ENOENT;
		goto out;
	}
	h = nt_handle_new(NH_NOTE, sub);
	no = h ? nt_open_get(nfs, sub) : NULL;
	if (!no) {
		free(h);
		rc = -ENOMEM;
		goto out;
	}
	h->no = no;
	h->writable = acc != O_RDONLY;
	if (h->writable && (fi->flags & O_TRUNC)) {
		no->loaded = true;
		no->len = 0;
		no->dirty = true;
		no->writer_uid = fuse_get_context()->uid;
		no->mtime_ns = nt_now_ns();
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	rc = 0;
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_read(struct hubfs_fs *fs, struct hubfs_handle *hh, char *buf, size_t size, off_t off)
{
	struct note_handle *h = (struct note_handle *)hh;
	struct hubfs_notes_fs *nfs = fs->notes;
	ssize_t n;
	int rc;

	if (h->kind == NH_SCRATCH) {
		n = pread(h->fd, buf, size, off);
		return n < 0 ? -errno : (int)n;
	}
	if (h->kind == NH_VERSION) {
		if ((size_t)off >= h->vlen)
			return 0;
		if (size > h->vlen - (size_t)off)
			size = h->vlen - (size_t)off;
		memcpy(buf, h->vbuf + off, size);
		return (int)size;
	}
	pthread_mutex_lock(&nfs->lock);
	rc = nt_load(fs, h->no);
	if (!rc) {
		if ((size_t)off >= h->no->len) {
			size = 0;
		} else if (size > h->no->len - (size_t)off) {
			size = h->no->len - (size_t)off;
		}
		if (size)
			memcpy(buf, h->no->buf + off, size);
		rc = (int)size;
	}
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

/* Grow @no's buffer to hold @len bytes (zero-filled). */
static int nt_reserve(struct note_open *no, size_t len)
{
	char *grown;
	size_t cap;

	if (len <= no->cap) {
		if (len > no->len)
			memset(no->buf + no->len, 0, len - no->len);
		return 0;
	}
	cap = no->cap ? no->cap : 4096;
	while (cap < len)
		cap *= 2;
	grown = realloc(no->buf, cap);
	if (!grown)
		return -ENOMEM;
	memset(grown + no->len, 0, cap - no->len);
	no->buf = grown;
	no->cap = cap;
	return 0;
}

static int nt_write(struct hubfs_fs *fs, struct hubfs_handle *hh, const char *buf, size_t size,
		    off_t off)
{
	struct note_handle *h = (struct note_handle *)hh;
	struct hubfs_notes_fs *nfs = fs->notes;
	struct note_open *no = h->no;
	ssize_t n;
	int rc;

	if (h->kind == NH_SCRATCH) {
		if ((uint64_t)off + size > nfs->max_bytes)
			return -EFBIG;
		n = pwrite(h->fd, buf, size, off);
		return n < 0 ? -errno : (int)n;
	}
	if (h->kind != NH_NOTE || !h->writable)
		return -EBADF;
	if (off < 0 || (uint64_t)off + size > nfs->max_bytes) {
		hubfs_event(HUBFS_EV_REJECT,
			    "refused a write to 'notes/%s': larger than notes_max_mb (%" PRIu64
			    " MB)",
			    h->path, fs->cfg->notes_max_mb);
		return -EFBIG;
	}
	pthread_mutex_lock(&nfs->lock);
	rc = nt_load(fs, no);
	if (!rc && (size_t)off + size > no->len)
		rc = nt_reserve(no, (size_t)off + size);
	if (!rc) {
		memcpy(no->buf + off, buf, size);
		if ((size_t)off + size > no->len)
			no->len = (size_t)off + size;
		no->dirty = true;
		no->writer_uid = fuse_get_context()->uid;
		no->mtime_ns = nt_now_ns();
		h->wrote = true;
		rc = (int)size;
	}
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_flush(struct hubfs_fs *fs, struct hubfs_handle *hh, uint64_t owner)
{
	struct note_handle *h = (struct note_handle *)hh;
	int rc = 0;

	if (h->kind != NH_NOTE || !h->wrote)
		return 0; /* a shell's `>` closes its own copy before anything is written */
	if (owner != hh->write_owner)
		return 0; /* a forked child closing an inherited fd: the writer's close commits */
	pthread_mutex_lock(&fs->notes->lock);
	rc = nt_commit_open(fs, h->no);
	pthread_mutex_unlock(&fs->notes->lock);
	return rc;
}

static int nt_fsync(struct hubfs_fs *fs, struct hubfs_handle *hh, int datasync)
{
	struct note_handle *h = (struct note_handle *)hh;
	int rc = 0;

	(void)datasync;
	if (h->kind == NH_SCRATCH)
		return fsync(h->fd) ? -errno : 0;
	if (h->kind != NH_NOTE)
		return 0;
	pthread_mutex_lock(&fs->notes->lock);
	rc = nt_commit_open(fs, h->no);
	pthread_mutex_unlock(&fs->notes->lock);
	return rc;
}

static int nt_release(struct hubfs_fs *fs, struct hubfs_handle *hh)
{
	struct note_handle *h = (struct note_handle *)hh;

	if (h->kind == NH_NOTE) {
		pthread_mutex_lock(&fs->notes->lock);
		nt_open_put(fs, h->no);
		pthread_mutex_unlock(&fs->notes->lock);
	}
	if (h->fd >= 0)
		close(h->fd);
	free(h->vbuf);
	free(h);
	return 0;
}

static int nt_fgetattr(struct hubfs_fs *fs, struct hubfs_handle *hh, struct stat *st)
{
	struct note_handle *h = (struct note_handle *)hh;
	int rc;

	if (h->kind == NH_SCRATCH)
		return fstat(h->fd, st) ? -errno : 0;
	if (h->kind == NH_VERSION)
		return nt_getattr(fs, h->path, st) == 0 ? 0 : -ENOENT;
	pthread_mutex_lock(&fs->notes->lock);
	if (h->no->unlinked) {
		nt_stat_note(st, NULL, h->no);
		st->st_nlink = 0;
		rc = 0;
	} else {
		rc = nt_getattr_locked(fs, h->no->path, st);
		if (rc == -ENOENT) {
			nt_stat_note(st, NULL, h->no);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&fs->notes->lock);
	return rc;
}

/* ---- changes by path ----------------------------------------------------------------- */

static int nt_truncate(struct hubfs_fs *fs, const char *sub, off_t size, struct hubfs_handle *hh)
{
	struct note_handle *h = (struct note_handle *)hh;
	struct hubfs_notes_fs *nfs = fs->notes;
	struct note_open *no;
	int rc;

	if (size < 0 || (uint64_t)size > nfs->max_bytes)
		return -EFBIG;
	if (h && h->kind == NH_SCRATCH)
		return ftruncate(h->fd, size) ? -errno : 0;
	if (h && h->kind != NH_NOTE)
		return -EACCES;
	pthread_mutex_lock(&nfs->lock);
	if (!h && nt_scratch_exists(nfs, sub, NULL)) {
		rc = nt_scratch_truncate(nfs, sub, size);
		goto out;
	}
	if (!h && nt_is_special_top(sub)) {
		rc = -EACCES;
		goto out;
	}
	/* truncate(2) by path: a one-off open of the note */
	no = h ? h->no : nt_open_get(nfs, sub);
	if (!no) {
		rc = -ENOMEM;
		goto out;
	}
	rc = nt_load(fs, no);
	if (!rc && (size_t)size > no->len)
		rc = nt_reserve(no, (size_t)size);
	if (!rc && (size_t)size != no->len) {
		no->len = (size_t)size;
		no->dirty = true;
		no->writer_uid = fuse_get_context()->uid;
		no->mtime_ns = nt_now_ns();
	}
	if (!h) {
		/* nobody will close it: truncate(1) is a save */
		if (!rc)
			rc = nt_commit_open(fs, no);
		nt_open_put(fs, no);
	}
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_setattr(struct hubfs_fs *fs, const char *sub, struct hubfs_handle *hh, uint32_t mode,
		      uint32_t uid, uint32_t gid, int64_t mtime_ns)
{
	struct note_handle *h = (struct note_handle *)hh;
	struct hubfs_notes_fs *nfs = fs->notes;
	struct hubfs_note_dir d;
	struct note_open *no;
	const char *path = h ? h->path : sub;
	int rc = 0;

	if (!h && !*sub)
		return 0;
	if (h && h->kind == NH_VERSION)
		return -EACCES;
	pthread_mutex_lock(&nfs->lock);
	if (nt_is_special_top(path)) {
		rc = -EACCES;
		goto out;
	}
	if ((h && h->kind == NH_SCRATCH) || (!h && nt_scratch_exists(nfs, path, NULL))) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

		if (mode != (uint32_t)-1 && fchmodat(nfs->scratch_fd, path, mode & 07777, 0))
			rc = -errno;
		if (!rc && (uid != (uint32_t)-1 || gid != (uint32_t)-1) &&
		    fchownat(nfs->scratch_fd, path, uid, gid, AT_SYMLINK_NOFOLLOW))
			rc = -errno;
		if (!rc && mtime_ns != INT64_MIN) {
			nt_fill_ts(&ts[1], mtime_ns);
			if (utimensat(nfs->scratch_fd, path, ts, AT_SYMLINK_NOFOLLOW))
				rc = -errno;
		}
		goto out;
	}
	no = h ? h->no : nt_open_find(nfs, path);
	if (no && (no->dirty || no->is_new)) {
		/* cp -a sets them on the open file before close: apply after the commit */
		if (mode != (uint32_t)-1)
			no->mode = mode & 07777;
		if (uid != (uint32_t)-1)
			no->uid = uid;
		if (gid != (uint32_t)-1)
			no->gid = gid;
		if (mode != (uint32_t)-1 || uid != (uint32_t)-1 || gid != (uint32_t)-1)
			no->attrs_set = true;
		if (mtime_ns != INT64_MIN)
			no->user_mtime_ns = mtime_ns;
		goto out;
	}
	rc = hubfs_catalog_note_set_attrs(fs->cat, path, mode, uid, gid, mtime_ns);
	if (rc == -ENOENT && !hubfs_catalog_note_dir_get(fs->cat, path, &d)) {
		if (mode != (uint32_t)-1)
			d.mode = mode & 07777;
		if (uid != (uint32_t)-1)
			d.uid = uid;
		if (gid != (uint32_t)-1)
			d.gid = gid;
		if (mtime_ns != INT64_MIN)
			d.mtime_ns = mtime_ns;
		rc = hubfs_catalog_note_dir_put(fs->cat, path, &d);
	}
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_unlink(struct hubfs_fs *fs, const char *sub)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct note_aside *aside;
	struct note_open *no;
	int rc;

	pthread_mutex_lock(&nfs->lock);
	if (nt_is_special_top(sub)) {
		rc = -EACCES;
		goto out;
	}
	if (nt_scratch_exists(nfs, sub, NULL)) {
		rc = unlinkat(nfs->scratch_fd, sub, 0) ? -errno : 0;
		aside = rc ? NULL : nt_aside_by_scratch(nfs, sub);
		if (aside) {
			/* the backup of a note set aside goes, and no new note came: deleted */
			if (!nt_open_find(nfs, aside->path))
				nt_delete(fs, aside->path, fuse_get_context()->uid);
			nt_aside_drop(nfs, aside);
		}
		goto out;
	}
	no = nt_open_find(nfs, sub);
	if (no) {
		nt_load(fs, no); /* open files keep their bytes; nothing is committed */
		no->unlinked = true;
	}
	rc = nt_delete(fs, sub, fuse_get_context()->uid);
	if (rc == -ENOENT && no && no->is_new)
		rc = 0; /* created, never saved */
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_mkdir(struct hubfs_fs *fs, const char *sub, mode_t mode)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct hubfs_note_dir d = { 0 };
	struct stat st;
	int rc;

	pthread_mutex_lock(&nfs->lock);
	rc = nt_name_ok(sub);
	if (!rc)
		rc = nt_parent_ok(fs, sub);
	if (!rc && !nt_getattr_locked(fs, sub, &st))
		rc = -EEXIST;
	if (rc)
		goto out;
	d.mode = mode & 07777;
	d.uid = fuse_get_context()->uid;
	d.gid = fuse_get_context()->gid;
	d.mtime_ns = nt_now_ns();
	rc = hubfs_catalog_note_dir_put(fs->cat, sub, &d);
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

static int nt_rmdir(struct hubfs_fs *fs, const char *sub)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	struct hubfs_note_dir d;
	int rc;

	pthread_mutex_lock(&nfs->lock);
	if (nt_is_special_top(sub)) {
		rc = -EACCES;
		goto out;
	}
	rc = hubfs_catalog_note_dir_get(fs->cat, sub, &d);
	if (rc)
		goto out;
	/* scratch files count: they are visible */
	if (unlinkat(nfs->scratch_fd, sub, AT_REMOVEDIR) && errno != ENOENT) {
		rc = errno == EEXIST ? -ENOTEMPTY : -errno;
		goto out;
	}
	for (struct note_open *no = nfs->open; no; no = no->next) {
		size_t n = strlen(sub);

		if (no->is_new && !no->unlinked && !strncmp(no->path, sub, n) &&
		    no->path[n] == '/') {
			rc = -ENOTEMPTY;
			goto out;
		}
	}
	rc = hubfs_catalog_note_dir_delete(fs->cat, sub);
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

/* The bytes now at @from, whatever it is (scratch file, open note, saved note). nfs->lock. */
static int nt_content_of(struct hubfs_fs *fs, const char *from, char **buf, size_t *len)
{
	struct note_open *no = nt_open_find(fs->notes, from);
	void *vbuf;
	int rc;

	if (nt_scratch_exists(fs->notes, from, NULL))
		return nt_scratch_read(fs->notes, from, buf, len);
	if (no && no->loaded) {
		*buf = malloc(no->len + 1);
		if (!*buf)
			return -ENOMEM;
		memcpy(*buf, no->buf ? no->buf : "", no->len);
		*len = no->len;
		return 0;
	}
	rc = hubfs_catalog_note_read(fs->cat, from, &vbuf, len);
	*buf = vbuf;
	return rc;
}

/*
 * A rename is about to put other bytes at @path: files still open on the note there keep
 * the bytes they had (as on a local disk, they hold the replaced file) and commit nowhere;
 * new opens see the new note. nfs->lock held.
 */
static void nt_detach(struct hubfs_fs *fs, const char *path)
{
	struct note_open *no = nt_open_find(fs->notes, path);

	if (!no)
		return;
	nt_load(fs, no);
	no->unlinked = true;
}

static void nt_open_rename(struct hubfs_notes_fs *nfs, const char *from, const char *to)
{
	size_t n = strlen(from);
	char buf[PATH_MAX];

	for (struct note_open *no = nfs->open; no; no = no->next) {
		if (!strcmp(no->path, from)) {
			snprintf(no->path, sizeof(no->path), "%s", to);
		} else if (!strncmp(no->path, from, n) && no->path[n] == '/') {
			snprintf(buf, sizeof(buf), "%s%s", to, no->path + n);
			snprintf(no->path, sizeof(no->path), "%s", buf);
		}
	}
}

static int nt_rename_locked(struct hubfs_fs *fs, const char *from, const char *to,
			    unsigned int flags)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	bool to_scratch = hubfs_note_is_scratch(hubfs_path_base(to));
	uint32_t uid = fuse_get_context()->uid;
	struct stat st_from, st_to;
	struct note_aside *aside;
	struct note_open *no;
	bool to_exists;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (nt_is_special_top(from) || nt_is_special_top(to))
		return -EACCES;
	rc = nt_getattr_locked(fs, from, &st_from);
	if (rc)
		return rc;
	rc = nt_name_ok(to);
	if (!rc)
		rc = nt_parent_ok(fs, to);
	if (rc)
		return rc;
	to_exists = !nt_getattr_locked(fs, to, &st_to);
	if (to_exists && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (to_exists && S_ISDIR(st_to.st_mode) != S_ISDIR(st_from.st_mode))
		return S_ISDIR(st_to.st_mode) ? -EISDIR : -ENOTDIR;

	if (S_ISDIR(st_from.st_mode)) {
		if (to_exists) {
			rc = hubfs_catalog_note_dir_delete(fs->cat,
							   to); /* ENOTEMPTY as rename(2) */
			if (rc)
				return rc;
		}
		rc = hubfs_catalog_note_rename(fs->cat, from, to);
		if (rc)
			return rc;
		if (nt_scratch_parents(nfs, to) == 0)
			renameat(nfs->scratch_fd, from, nfs->scratch_fd, to);
		nt_open_rename(nfs, from, to);
		return 0;
	}

	if (nt_scratch_exists(nfs, from, NULL)) {
		if (to_scratch) { /* scratch to scratch: a plain rename */
			rc = nt_scratch_parents(nfs, to);
			if (!rc && renameat(nfs->scratch_fd, from, nfs->scratch_fd, to))
				rc = -errno;
			return rc;
		}
		/* an editor's atomic save: its temporary becomes the note's next version */
		rc = nt_scratch_read(nfs, from, &buf, &len);
		if (rc)
			return rc;
		aside = nt_aside_by_path(nfs, to);
		nt_detach(fs, to);
		rc = nt_commit(fs, to, buf, len, uid, NULL);
		free(buf);
		if (rc)
			return rc;
		if (aside)
			nt_aside_drop(nfs, aside);
		unlinkat(nfs->scratch_fd, from, 0);
		aside = nt_aside_by_scratch(nfs, from);
		if (aside)
			nt_aside_drop(nfs, aside);
		return 0;
	}

	/* from is a note */
	no = nt_open_find(nfs, from);
	if (to_scratch) {
		/* vim's backup: the note goes aside under @to until its name is written again */
		rc = nt_content_of(fs, from, &buf, &len);
		if (rc)
			return rc;
		rc = nt_scratch_parents(nfs, to);
		if (!rc) {
			int fd = openat(nfs->scratch_fd, to,
					O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					st_from.st_mode & 07777);

			if (fd < 0 || (len && write(fd, buf, len) != (ssize_t)len))
				rc = fd < 0 ? -errno : -EIO;
			if (fd >= 0)
				close(fd);
		}
		free(buf);
		if (rc)
			return rc;
		aside = calloc(1, sizeof(*aside));
		if (!aside)
			return -ENOMEM;
		snprintf(aside->path, sizeof(aside->path), "%s", from);
		snprintf(aside->scratch, sizeof(aside->scratch), "%s", to);
		aside->next = nfs->aside;
		nfs->aside = aside;
		if (no)
			no->unlinked = true;
		return 0;
	}
	if (!to_exists || nt_aside_by_path(nfs, to)) {
		if (no && no->is_new) {
			snprintf(no->path, sizeof(no->path), "%s", to);
			return 0;
		}
		if (hubfs_catalog_note_get(fs->cat, to, &(struct hubfs_note_info){ 0 }) == 0) {
			/* set aside @to (hidden): rename over it, keeping its identity */
			goto over;
		}
		rc = hubfs_catalog_note_rename(fs->cat, from, to);
		if (!rc)
			nt_open_rename(nfs, from, to);
		return rc;
	}
over:
	/* a note renamed over a note: the target keeps its history, with this content next */
	rc = nt_content_of(fs, from, &buf, &len);
	if (rc)
		return rc;
	nt_detach(fs, to);
	rc = nt_commit(fs, to, buf, len, uid, NULL);
	free(buf);
	if (!rc)
		rc = nt_delete(fs, from, uid);
	if (rc == -ENOENT && no && no->is_new)
		rc = 0;
	if (no)
		no->unlinked = true;
	aside = nt_aside_by_path(nfs, to);
	if (aside)
		nt_aside_drop(nfs, aside);
	return rc;
}

static int nt_rename(struct hubfs_fs *fs, const char *from, const char *to, unsigned int flags)
{
	int rc;

	pthread_mutex_lock(&fs->notes->lock);
	rc = nt_rename_locked(fs, from, to, flags);
	pthread_mutex_unlock(&fs->notes->lock);
	return rc;
}

/* ---- setup -------------------------------------------------------------------------- */

int hubfs_notes_fs_init(struct hubfs_fs *fs, char *err, size_t errlen)
{
	struct hubfs_notes_fs *nfs = calloc(1, sizeof(*nfs));
	int rc;

	if (!nfs)
		return -ENOMEM;
	pthread_mutex_init(&nfs->lock, NULL);
	nfs->max_bytes = fs->cfg->notes_max_mb * 1024 * 1024;
	if (asprintf(&nfs->scratch_root, "%s/notes-scratch", fs->cfg->state_dir) < 0) {
		nfs->scratch_root = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(nfs->scratch_root, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", nfs->scratch_root, strerror(errno));
		goto out;
	}
	nfs->scratch_fd = open(nfs->scratch_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfs->scratch_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", nfs->scratch_root, strerror(errno));
		goto out;
	}
	fs->notes = nfs;
	return 0;
out:
	free(nfs->scratch_root);
	pthread_mutex_destroy(&nfs->lock);
	free(nfs);
	return rc;
}

void hubfs_notes_fs_free(struct hubfs_fs *fs)
{
	struct hubfs_notes_fs *nfs = fs->notes;

	if (!nfs)
		return;
	while (nfs->open) {
		struct note_open *no = nfs->open;

		nfs->open = no->next;
		free(no->buf);
		free(no);
	}
	while (nfs->aside) {
		struct note_aside *a = nfs->aside;

		nfs->aside = a->next;
		free(a);
	}
	close(nfs->scratch_fd);
	free(nfs->scratch_root);
	pthread_mutex_destroy(&nfs->lock);
	free(nfs);
	fs->notes = NULL;
}

const struct hubfs_dir_ops hubfs_notes_ops = {
	.name = "notes",
	.getattr = nt_getattr,
	.readdir = nt_readdir,
	.create = nt_create,
	.open = nt_open,
	.fgetattr = nt_fgetattr,
	.read = nt_read,
	.write = nt_write,
	.flush = nt_flush,
	.fsync = nt_fsync,
	.release = nt_release,
	.truncate = nt_truncate,
	.setattr = nt_setattr,
	.unlink = nt_unlink,
	.mkdir = nt_mkdir,
	.rmdir = nt_rmdir,
	.rename = nt_rename,
	.getxattr = nt_getxattr,
	.listxattr = nt_listxattr,
	.setxattr = nt_setxattr,
	.removexattr = nt_removexattr,
	.readlink = nt_readlink,
};
