/*
 * catalog_notes.h — the catalog's notes tables: notes, their versions, folders, tags, user
 * xattrs and the full-text index (SQLite FTS5). Part of the catalog (same connection, same
 * mutex, same one-transaction-per-change rule); see catalog.h for threads and errors.
 *
 * A note has a local id (stable across renames) and a global id (gid, random, chosen by the
 * caller: peer sync will match notes by it). Its history is a list of versions numbered
 * 1, 2, ... locally (seq); each version carries the id peer sync exchanges: a content-derived
 * hash computed by the caller (src/notes/version.c), its parents, origin node and author.
 * Deleting a note is a version too (deleted, empty content): the note keeps its history and
 * its last path, so notes/.versions/PATH/ still lists it.
 *
 * Paths are relative to notes/ ("todo.md", "work/plan.md"), checked by the caller. Folders
 * are their own rows; save and rename create missing parent folders. Content is stored as a
 * blob per version (notes are small: notes_max_mb); the FTS index (title = path, content of
 * the head, tags; porter unicode61) is updated in the same transaction as the version.
 */
#ifndef HUBFS_CATALOG_NOTES_H
#define HUBFS_CATALOG_NOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hubfs_catalog;

#define HUBFS_NOTE_ID_LEN 64  /* version ids: lower-case hex sha256 */
#define HUBFS_NOTE_GID_LEN 32 /* note global ids: lower-case hex, 128 bits */
#define HUBFS_NOTE_TAGS_MAX 1024

struct hubfs_note_info {
	int64_t id; /* local id */
	char gid[HUBFS_NOTE_GID_LEN + 1];
	char head[HUBFS_NOTE_ID_LEN + 1]; /* current version id */
	unsigned int nversions;           /* = the head's seq */
	uint64_t size;                    /* of the head's content */
	bool deleted;                     /* head is a delete */
	bool shared;
	char tags[HUBFS_NOTE_TAGS_MAX]; /* normalised: lower-case, comma-separated, sorted */
	int64_t created_ns, updated_ns; /* first and latest version */
	int64_t mtime_ns;               /* user-visible (utimens); = updated_ns by default */
	uint32_t mode, uid, gid_owner;
};

struct hubfs_note_version {
	char id[HUBFS_NOTE_ID_LEN + 1];
	char parents[2][HUBFS_NOTE_ID_LEN + 1]; /* "" when absent; sorted for a merge */
	char origin[65];                        /* node_name that made it */
	char author[160];                       /* USER@NODE */
	int64_t time_ns;
	uint64_t size;
	bool deleted;
	unsigned int seq; /* filled by the catalog */
};

struct hubfs_note_dir {
	uint32_t mode, uid, gid;
	int64_t mtime_ns;
};

/* The live note at @path. 0, -ENOENT. */
int hubfs_catalog_note_get(struct hubfs_catalog *cat, const char *path,
			   struct hubfs_note_info *out);

/* The deleted note whose history notes/.versions/@path shows (none live at @path). 0,
 * -ENOENT. Saving at @path with its gid restores it: its history goes on. */
int hubfs_catalog_note_get_deleted(struct hubfs_catalog *cat, const char *path,
				   struct hubfs_note_info *out);

/*
 * Record a new version of the note at @path with @content. When no live note is there, the
 * deleted note with global id @gid is restored there (its history goes on) if there is one,
 * else a note is created with global id @gid and attributes @attrs (mode/uid/gid_owner/shared; the
 * rest is derived). @v carries id, parents, origin, author and time (seq and size are
 * filled). Returns 0 and the updated note in @out (may be NULL); -EALREADY when @content is
 * byte-identical to the head's (nothing written); -ENOTDIR when an ancestor is a note.
 */
int hubfs_catalog_note_save(struct hubfs_catalog *cat, const char *path, const void *content,
			    size_t len, struct hubfs_note_version *v, const char *gid,
			    const struct hubfs_note_info *attrs, struct hubfs_note_info *out);

/* Record a delete version (@v: id, parents, origin, author, time) and free the path. The
 * history stays reachable by the path until another note takes it. 0, -ENOENT. */
int hubfs_catalog_note_delete(struct hubfs_catalog *cat, const char *path,
			      struct hubfs_note_version *v);

/* Move a live note, or a folder with everything in it, to @to (which must be free: the
 * caller turns a rename over a note into save + delete). 0, -ENOENT, -EEXIST, -EINVAL
 * (@to inside @from). The FTS title follows. */
int hubfs_catalog_note_rename(struct hubfs_catalog *cat, const char *from, const char *to);

/* The content of the head (malloc'd, caller frees; *len 0 and *buf non-NULL for empty). */
int hubfs_catalog_note_read(struct hubfs_catalog *cat, const char *path, void **buf, size_t *len);

/*
 * History by path: the live note at @path, else the most recently deleted note whose last
 * path was @path. versions: @fn for each version, seq order. version_read: content of
 * version @seq (malloc'd). 0, -ENOENT.
 */
typedef int (*hubfs_note_version_fn)(void *arg, const struct hubfs_note_version *v);
int hubfs_catalog_note_versions(struct hubfs_catalog *cat, const char *path,
				hubfs_note_version_fn fn, void *arg);
int hubfs_catalog_note_version_read(struct hubfs_catalog *cat, const char *path, unsigned int seq,
				    void **buf, size_t *len);
/* The latest version before @before (seq) of the history at @path whose bytes are
 * @content: a save that restores an old version. 0 and *seq, -ENOENT. */
int hubfs_catalog_note_find_content(struct hubfs_catalog *cat, const char *path,
				    const void *content, size_t len, unsigned int before,
				    unsigned int *seq);
/* Contributors of the note's history: distinct authors, in order of first contribution,
 * comma-separated, into @buf. */
int hubfs_catalog_note_contributors(struct hubfs_catalog *cat, const char *path, char *buf,
				    size_t len);

/* Attributes of a live note. A field left alone: mode/uid/gid (uint32_t)-1, mtime INT64_MIN. */
int hubfs_catalog_note_set_attrs(struct hubfs_catalog *cat, const char *path, uint32_t mode,
				 uint32_t uid, uint32_t gid, int64_t mtime_ns);
int hubfs_catalog_note_set_shared(struct hubfs_catalog *cat, const char *path, bool shared);
/* @tags already normalised by the caller; re-indexed for search. */
int hubfs_catalog_note_set_tags(struct hubfs_catalog *cat, const char *path, const char *tags);

/* Other user.* xattrs of a live note. get: length or -ENODATA/-ERANGE (len 0: size query);
 * list: NUL-separated names, length or -ERANGE; remove: 0, -ENODATA. */
int hubfs_catalog_note_xattr_set(struct hubfs_catalog *cat, const char *path, const char *name,
				 const void *value, size_t len);
int hubfs_catalog_note_xattr_get(struct hubfs_catalog *cat, const char *path, const char *name,
				 void *value, size_t len);
int hubfs_catalog_note_xattr_list(struct hubfs_catalog *cat, const char *path, char *list,
				  size_t len);
int hubfs_catalog_note_xattr_remove(struct hubfs_catalog *cat, const char *path, const char *name);

/* Folders. get: 0, -ENOENT ("" is notes/ itself: always there). delete: -ENOTEMPTY if it
 * holds a live note or a folder. */
int hubfs_catalog_note_dir_put(struct hubfs_catalog *cat, const char *path,
			       const struct hubfs_note_dir *d);
int hubfs_catalog_note_dir_get(struct hubfs_catalog *cat, const char *path,
			       struct hubfs_note_dir *d);
int hubfs_catalog_note_dir_delete(struct hubfs_catalog *cat, const char *path);

/* Children of folder @dir: live notes (@n set) and folders (@d set), name order. */
typedef int (*hubfs_note_list_fn)(void *arg, const char *name, const struct hubfs_note_info *n,
				  const struct hubfs_note_dir *d);
int hubfs_catalog_note_list(struct hubfs_catalog *cat, const char *dir, hubfs_note_list_fn fn,
			    void *arg);

/*
 * The .versions tree: names under @dir among the paths of every note that has a history
 * (live or deleted): @is_note when the name is a note's full path, else an intermediate
 * folder (a name can be both; then @fn is called once with is_note true and has_children
 * true). Name order.
 */
typedef int (*hubfs_note_hist_fn)(void *arg, const char *name, bool is_note, bool has_children);
int hubfs_catalog_note_history_list(struct hubfs_catalog *cat, const char *dir,
				    hubfs_note_hist_fn fn, void *arg);

/* FTS5 search, best first (bm25 rank). @query is FTS5 syntax as given; -EINVAL when FTS5
 * refuses it (the caller may retry it quoted). @fn gets each live note's path. */
typedef int (*hubfs_note_path_fn)(void *arg, const char *path);
int hubfs_catalog_note_search(struct hubfs_catalog *cat, const char *query, unsigned int limit,
			      hubfs_note_path_fn fn, void *arg);

/* Live notes and how many are shared. */
int hubfs_catalog_note_totals(struct hubfs_catalog *cat, uint64_t *notes, uint64_t *shared);

#endif
