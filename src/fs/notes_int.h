/*
 * notes_int.h — private to src/fs/notes*.c: the state of notes/ and what its two files share
 * (notes.c: files, folders, saves; notes_views.c: .versions, .search, xattrs).
 */
#ifndef HUBFS_FS_NOTES_INT_H
#define HUBFS_FS_NOTES_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/fs.h"
#include "hubfs/catalog_notes.h"

#define NOTES_VERSIONS ".versions"
#define NOTES_SEARCH ".search"
#define NOTES_CONFLICTS ".conflicts"
#define NOTES_SEARCH_LIMIT 1000

/* A note open for writing (or read while someone writes it). nfs->lock. */
struct note_open {
	struct note_open *next;
	char path[PATH_MAX];
	unsigned int refs;
	char *buf;
	size_t len, cap;
	bool loaded;   /* buf holds the content (from the head, or written) */
	bool dirty;    /* differs from what is committed */
	bool is_new;   /* not in the catalog yet */
	bool unlinked; /* its name was removed: a commit goes nowhere */
	uint32_t mode, uid, gid;
	uint32_t writer_uid;   /* the Unix user of the latest write, for the author */
	int64_t mtime_ns;      /* of the latest write */
	int64_t user_mtime_ns; /* set by utimens while open; applied after the commit */
	bool attrs_set;        /* chmod/chown while open; applied after the commit */
};

/* A note set aside by a rename to a scratch name (vim's backup). nfs->lock. */
struct note_aside {
	struct note_aside *next;
	char path[PATH_MAX];    /* the note, hidden meanwhile */
	char scratch[PATH_MAX]; /* the backup name */
};

struct hubfs_notes_fs {
	pthread_mutex_t lock;
	struct note_open *open;
	struct note_aside *aside;
	char *scratch_root; /* state_dir/notes-scratch */
	int scratch_fd;     /* O_DIRECTORY on it */
	uint64_t max_bytes;
};

enum nh_kind { NH_NOTE, NH_SCRATCH, NH_VERSION };

struct note_handle {
	struct hubfs_handle base; /* first member */
	enum nh_kind kind;
	struct note_open *no; /* NH_NOTE */
	int fd;               /* NH_SCRATCH */
	char *vbuf;           /* NH_VERSION: the version's bytes */
	size_t vlen;
	bool writable;
	bool wrote; /* this open file wrote: its writer's close commits */
	char path[PATH_MAX];
};

struct nt_fill {
	struct hubfs_fs *fs;
	void *buf;
	fuse_fill_dir_t fill;
	const char *dir;
};

/* A search result listing: entries named by rank so `ls` shows the best first. */
struct nt_search {
	struct nt_fill *f;
	unsigned int rank;
};

/* notes.c */
void nt_parent(const char *path, char *buf, size_t len);
void nt_fill_ts(struct timespec *ts, int64_t ns);
void nt_iso(int64_t ns, char *buf, size_t len);
bool nt_is_special_top(const char *sub);
struct note_open *nt_open_find(struct hubfs_notes_fs *nfs, const char *path);
bool nt_scratch_exists(struct hubfs_notes_fs *nfs, const char *rel, struct stat *st);
struct note_handle *nt_handle_new(enum nh_kind kind, const char *sub);

/* notes_views.c (nfs->lock held unless said) */
unsigned int nt_seq(const char *s);
int nt_versions_getattr(struct hubfs_fs *fs, const char *rel, struct stat *st);
int nt_hist_cb(void *arg, const char *name, bool is_note, bool has_children);
int nt_ver_cb(void *arg, const struct hubfs_note_version *v);
int nt_search_cb(void *arg, const char *path);
int nt_search_run(struct hubfs_fs *fs, const char *query, hubfs_note_path_fn fn, void *arg);
int nt_search_entry(struct hubfs_fs *fs, const char *sub, char *path, size_t len);
int nt_open_version(struct hubfs_fs *fs, const char *sub, const char *rel,
		    struct fuse_file_info *fi);
/* the ops (they take nfs->lock) */
int nt_getxattr(struct hubfs_fs *fs, const char *sub, const char *name, char *value, size_t size);
int nt_listxattr(struct hubfs_fs *fs, const char *sub, char *list, size_t size);
int nt_setxattr(struct hubfs_fs *fs, const char *sub, const char *name, const char *value,
		size_t size, int flags);
int nt_removexattr(struct hubfs_fs *fs, const char *sub, const char *name);
int nt_readlink(struct hubfs_fs *fs, const char *sub, char *buf, size_t size);

#endif
