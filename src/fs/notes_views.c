/*
 * notes_views.c — the generated parts of notes/: .versions/PATH/N (a note's history as
 * read-only files), .search/QUERY/ (FTS5 results as symlinks, best first) and the xattrs of
 * notes and versions (user.hub.*, user.xdg.tags, other user.*).
 *
 * Threads: FUSE workers, through notes.c's ops; every function here runs with nfs->lock
 * held except the ops themselves (getxattr, listxattr, setxattr, removexattr, readlink),
 * which take it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Is @seq ("3") a version number: digits, no leading zero. */
unsigned int nt_seq(const char *s)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return 0;
	v = strtoul(s, &end, 10);
	return (unsigned int)v;
}

struct nt_vfind {
	unsigned int seq;
	struct hubfs_note_version v;
	bool found;
};

static int nt_vfind_cb(void *arg, const struct hubfs_note_version *v)
{
	struct nt_vfind *f = arg;

	if (v->seq == f->seq) {
		f->v = *v;
		f->found = true;
		return 1;
	}
	return 0;
}

struct nt_hfind {
	const char *name;
	bool is_note, has_children, found;
};

static int nt_hfind_cb(void *arg, const char *name, bool is_note, bool has_children)
{
	struct nt_hfind *f = arg;

	if (strcmp(name, f->name))
		return 0;
	f->is_note = is_note;
	f->has_children = has_children;
	f->found = true;
	return 1;
}

/* Under .versions/: @rel is the part after ".versions/" (or ""). */
int nt_versions_getattr(struct hubfs_fs *fs, const char *rel, struct stat *st)
{
	char parent[PATH_MAX];
	struct nt_vfind vf = { 0 };
	struct nt_hfind hf = { 0 };
	const char *base;
	int rc;

	if (!*rel) {
		hubfs_fs_fill_dir(st, 0555, fs->started);
		return 0;
	}
	base = hubfs_path_base(rel);
	nt_parent(rel, parent, sizeof(parent));
	/* PATH/N: a version of the note PATH */
	vf.seq = nt_seq(base);
	if (vf.seq && base != rel &&
	    hubfs_catalog_note_versions(fs->cat, parent, nt_vfind_cb, &vf) >= 0 && vf.found) {
		hubfs_fs_fill_file(st, 0444, (off_t)vf.v.size, 0);
		nt_fill_ts(&st->st_mtim, vf.v.time_ns);
		st->st_ctim = st->st_atim = st->st_mtim;
		return 0;
	}
	hf.name = base;
	rc = hubfs_catalog_note_history_list(fs->cat, parent, nt_hfind_cb, &hf);
	if (rc < 0 || !hf.found)
		return -ENOENT;
	hubfs_fs_fill_dir(st, 0555, fs->started);
	return 0;
}

int nt_hist_cb(void *arg, const char *name, bool is_note, bool has_children)
{
	struct nt_fill *f = arg;
	struct stat st;

	(void)is_note;
	(void)has_children;
	hubfs_fs_fill_dir(&st, 0555, f->fs->started);
	return f->fill(f->buf, name, &st, 0, FUSE_FILL_DIR_PLUS) ? -ENOMEM : 0;
}

int nt_ver_cb(void *arg, const struct hubfs_note_version *v)
{
	struct nt_fill *f = arg;
	char name[16];
	struct stat st;

	snprintf(name, sizeof(name), "%u", v->seq);
	hubfs_fs_fill_file(&st, 0444, (off_t)v->size, 0);
	nt_fill_ts(&st.st_mtim, v->time_ns);
	st.st_ctim = st.st_atim = st.st_mtim;
	return f->fill(f->buf, name, &st, 0, FUSE_FILL_DIR_PLUS) ? -ENOMEM : 0;
}

/* "work/plan.md" as one directory entry name of a search result: its rank first, so `ls`
 * (which sorts by name) shows the best first; '/' shown as U+2215. */

int nt_search_cb(void *arg, const char *path)
{
	struct nt_search *s = arg;
	char name[NAME_MAX + 1], *p = name;
	struct stat st;
	int n;

	n = snprintf(p, sizeof(name), "%03u-", ++s->rank);
	p += n;
	for (const char *c = path; *c && (size_t)(p - name) < sizeof(name) - 4; c++) {
		if (*c == '/') {
			memcpy(p, "\xe2\x88\x95", 3);
			p += 3;
		} else {
			*p++ = *c;
		}
	}
	*p = '\0';
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFLNK | 0777;
	return s->f->fill(s->f->buf, name, &st, 0, 0) ? -ENOMEM : 0;
}

/* Run a search directory's query: as FTS5 syntax, else with every term quoted. */
int nt_search_run(struct hubfs_fs *fs, const char *query, hubfs_note_path_fn fn, void *arg)
{
	char quoted[2048];
	int rc;

	rc = hubfs_catalog_note_search(fs->cat, query, NOTES_SEARCH_LIMIT, fn, arg);
	if (rc != -EINVAL)
		return rc;
	rc = hubfs_note_query_quote(query, quoted, sizeof(quoted));
	if (rc)
		return 0;
	rc = hubfs_catalog_note_search(fs->cat, quoted, NOTES_SEARCH_LIMIT, fn, arg);
	return rc == -EINVAL ? 0 : rc;
}

int nt_open_version(struct hubfs_fs *fs, const char *sub, const char *rel,
		    struct fuse_file_info *fi)
{
	char parent[PATH_MAX];
	struct note_handle *h;
	unsigned int seq = nt_seq(hubfs_path_base(rel));
	void *buf;
	size_t len;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if (!seq || !strchr(rel, '/'))
		return -EISDIR;
	nt_parent(rel, parent, sizeof(parent));
	rc = hubfs_catalog_note_version_read(fs->cat, parent, seq, &buf, &len);
	if (rc)
		return rc;
	h = nt_handle_new(NH_VERSION, sub);
	if (!h) {
		free(buf);
		return -ENOMEM;
	}
	h->vbuf = buf;
	h->vlen = len;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

/* ---- xattrs ------------------------------------------------------------------------- */

static const char *const nt_hub_xattrs[] = {
	"user.hub.version", "user.hub.shared",  "user.xdg.tags", "user.hub.contributors",
	"user.hub.created", "user.hub.updated", "user.hub.id",
};

#define NT_NHUB (sizeof(nt_hub_xattrs) / sizeof(nt_hub_xattrs[0]))

static int nt_put_value(const char *text, char *value, size_t size)
{
	size_t n = strlen(text);

	if (!size)
		return (int)n;
	if (n > size)
		return -ERANGE;
	memcpy(value, text, n);
	return (int)n;
}

/* The generated value of hub xattr @name for the note at @path (nfs->lock). */
static int nt_hub_value(struct hubfs_fs *fs, const char *path, const char *name, char *out,
			size_t len)
{
	struct hubfs_note_info n;
	int rc = hubfs_catalog_note_get(fs->cat, path, &n);

	if (rc)
		return rc;
	if (!strcmp(name, "user.hub.version"))
		snprintf(out, len, "%u", n.nversions);
	else if (!strcmp(name, "user.hub.shared"))
		snprintf(out, len, "%d", n.shared ? 1 : 0);
	else if (!strcmp(name, "user.xdg.tags"))
		snprintf(out, len, "%s", n.tags);
	else if (!strcmp(name, "user.hub.contributors"))
		return hubfs_catalog_note_contributors(fs->cat, path, out, len);
	else if (!strcmp(name, "user.hub.created"))
		nt_iso(n.created_ns, out, len);
	else if (!strcmp(name, "user.hub.updated"))
		nt_iso(n.updated_ns, out, len);
	else if (!strcmp(name, "user.hub.id"))
		snprintf(out, len, "%s", n.gid);
	else
		return -ENODATA;
	return 0;
}

static int nt_version_xattr(struct hubfs_fs *fs, const char *rel, const char *name, char *value,
			    size_t size)
{
	char parent[PATH_MAX], text[256];
	struct nt_vfind vf = { 0 };

	vf.seq = nt_seq(hubfs_path_base(rel));
	if (!vf.seq || !strchr(rel, '/'))
		return -ENODATA;
	nt_parent(rel, parent, sizeof(parent));
	if (hubfs_catalog_note_versions(fs->cat, parent, nt_vfind_cb, &vf) < 0 || !vf.found)
		return -ENOENT;
	if (!strcmp(name, "user.hub.author"))
		snprintf(text, sizeof(text), "%s", vf.v.author);
	else if (!strcmp(name, "user.hub.time"))
		nt_iso(vf.v.time_ns, text, sizeof(text));
	else if (!strcmp(name, "user.hub.id"))
		snprintf(text, sizeof(text), "%s", vf.v.id);
	else if (!strcmp(name, "user.hub.deleted") && vf.v.deleted)
		snprintf(text, sizeof(text), "1");
	else
		return -ENODATA;
	return nt_put_value(text, value, size);
}

int nt_getxattr(struct hubfs_fs *fs, const char *sub, const char *name, char *value, size_t size)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	char text[HUBFS_NOTE_TAGS_MAX + 64];
	int rc;

	pthread_mutex_lock(&nfs->lock);
	if (!strncmp(sub, NOTES_VERSIONS "/", strlen(NOTES_VERSIONS) + 1)) {
		rc = nt_version_xattr(fs, sub + strlen(NOTES_VERSIONS) + 1, name, value, size);
		goto out;
	}
	if (!*sub || nt_is_special_top(sub) || nt_scratch_exists(nfs, sub, NULL)) {
		rc = -ENODATA;
		goto out;
	}
	rc = nt_hub_value(fs, sub, name, text, sizeof(text));
	if (rc == -ENOENT && nt_open_find(nfs, sub))
		rc = -ENODATA; /* created, not saved yet */
	if (!rc)
		rc = nt_put_value(text, value, size);
	else if (rc == -ENODATA && strncmp(name, "user.hub.", 9) && strcmp(name, "user.xdg.tags") &&
		 !nt_open_find(nfs, sub))
		rc = hubfs_catalog_note_xattr_get(fs->cat, sub, name, value, size);
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

int nt_listxattr(struct hubfs_fs *fs, const char *sub, char *list, size_t size)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	char names[4096];
	size_t used = 0;
	int rc = 0, n;

	pthread_mutex_lock(&nfs->lock);
	if (!strncmp(sub, NOTES_VERSIONS "/", strlen(NOTES_VERSIONS) + 1)) {
		if (nt_seq(hubfs_path_base(sub))) {
			static const char vnames[] = "user.hub.author\0user.hub.time\0user.hub.id";

			used = sizeof(vnames);
			memcpy(names, vnames, used);
		}
	} else if (*sub && !nt_is_special_top(sub) && !nt_scratch_exists(nfs, sub, NULL) &&
		   !hubfs_catalog_note_get(fs->cat, sub, &(struct hubfs_note_info){ 0 })) {
		for (size_t i = 0; i < NT_NHUB; i++) {
			memcpy(names + used, nt_hub_xattrs[i], strlen(nt_hub_xattrs[i]) + 1);
			used += strlen(nt_hub_xattrs[i]) + 1;
		}
		n = hubfs_catalog_note_xattr_list(fs->cat, sub, names + used, sizeof(names) - used);
		if (n > 0)
			used += (size_t)n;
	}
	if (!size)
		rc = (int)used;
	else if (used > size)
		rc = -ERANGE;
	else {
		memcpy(list, names, used);
		rc = (int)used;
	}
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

int nt_setxattr(struct hubfs_fs *fs, const char *sub, const char *name, const char *value,
		size_t size, int flags)
{
	struct hubfs_notes_fs *nfs = fs->notes;
	char text[HUBFS_NOTE_TAGS_MAX + 64], norm[HUBFS_NOTE_TAGS_MAX];
	struct hubfs_note_info n;
	int rc;

	(void)flags;
	pthread_mutex_lock(&nfs->lock);
	if (!*sub || nt_is_special_top(sub)) {
		rc = -EACCES;
		goto out;
	}
	if (nt_scratch_exists(nfs, sub, NULL)) {
		rc = -ENOTSUP;
		goto out;
	}
	rc = hubfs_catalog_note_get(fs->cat, sub, &n);
	if (rc)
		goto out;
	if (!strcmp(name, "user.hub.shared")) {
		bool on;

		if (size == 1 && (value[0] == '0' || value[0] == '1')) {
			on = value[0] == '1';
		} else {
			rc = -EINVAL;
			hubfs_event(HUBFS_EV_REJECT,
				    "refused user.hub.shared on 'notes/%s': 0 or 1", sub);
			goto out;
		}
		rc = hubfs_catalog_note_set_shared(fs->cat, sub, on);
		if (!rc && on != n.shared)
			hubfs_event(HUBFS_EV_NOTE, "%s 'notes/%s'", on ? "shared" : "unshared",
				    sub);
		goto out;
	}
	if (!strcmp(name, "user.xdg.tags")) {
		rc = hubfs_note_tags_normalize(value, size, norm, sizeof(norm));
		if (rc) {
			hubfs_event(HUBFS_EV_REJECT, "refused tags on 'notes/%s': %.*s", sub,
				    (int)(size < 80 ? size : 80), value);
			rc = -EINVAL;
			goto out;
		}
		rc = hubfs_catalog_note_set_tags(fs->cat, sub, norm);
		goto out;
	}
	if (!strncmp(name, "user.hub.", 9)) {
		/* generated: setting the same value (cp -a, vim copying xattrs) is fine */
		rc = nt_hub_value(fs, sub, name, text, sizeof(text));
		if (!rc && strlen(text) == size && !memcmp(text, value, size))
			rc = 0;
		else
			rc = -EINVAL;
		goto out;
	}
	rc = hubfs_catalog_note_xattr_set(fs->cat, sub, name, value, size);
out:
	pthread_mutex_unlock(&nfs->lock);
	return rc;
}

int nt_removexattr(struct hubfs_fs *fs, const char *sub, const char *name)
{
	int rc;

	if (!strcmp(name, "user.xdg.tags"))
		return nt_setxattr(fs, sub, name, "", 0, 0);
	if (!strncmp(name, "user.hub.", 9))
		return -EINVAL;
	pthread_mutex_lock(&fs->notes->lock);
	rc = hubfs_catalog_note_xattr_remove(fs->cat, sub, name);
	pthread_mutex_unlock(&fs->notes->lock);
	return rc;
}

/* ---- search results are symlinks ---------------------------------------------------- */

struct nt_member {
	const char *path;
	bool found;
};

static int nt_member_cb(void *arg, const char *path)
{
	struct nt_member *m = arg;

	if (strcmp(path, m->path))
		return 0;
	m->found = true;
	return 1;
}

/*
 * A search result entry ".search/QUERY/NNN-work∕plan.md": the note's path decoded from the
 * name into @path, and only if that note is a current result of QUERY (a stale name is
 * ENOENT, never a link to whatever ranks there now). nfs->lock held.
 */
int nt_search_entry(struct hubfs_fs *fs, const char *sub, char *path, size_t len)
{
	const char *q = sub + strlen(NOTES_SEARCH) + 1, *name = strchr(q, '/'), *c;
	struct nt_member m = { path, false };
	char query[PATH_MAX];
	size_t n = 0;
	int rc;

	if (!name || strchr(name + 1, '/'))
		return -ENOENT;
	snprintf(query, sizeof(query), "%.*s", (int)(name - q), q);
	c = name + 1;
	if (strspn(c, "0123456789") < 3 || c[strspn(c, "0123456789")] != '-')
		return -ENOENT;
	c += strspn(c, "0123456789") + 1;
	while (*c && n < len - 1) {
		if (!strncmp(c, "\xe2\x88\x95", 3)) {
			path[n++] = '/';
			c += 3;
		} else {
			path[n++] = *c++;
		}
	}
	path[n] = '\0';
	rc = nt_search_run(fs, query, nt_member_cb, &m);
	if (rc < 0)
		return rc;
	return m.found ? 0 : -ENOENT;
}

int nt_readlink(struct hubfs_fs *fs, const char *sub, char *buf, size_t size)
{
	char path[PATH_MAX];
	int rc;

	if (strncmp(sub, NOTES_SEARCH "/", strlen(NOTES_SEARCH) + 1))
		return -EINVAL;
	pthread_mutex_lock(&fs->notes->lock);
	rc = nt_search_entry(fs, sub, path, sizeof(path));
	pthread_mutex_unlock(&fs->notes->lock);
	if (rc)
		return rc;
	snprintf(buf, size, "../../%s", path);
	return 0;
}
