/*
 * pending.c — streams/ until its own issue lands: an empty directory that refuses every
 * change with ENOTSUP and says so in .hub/events.
 *
 * Threads: FUSE workers; no state.
 */
#include <errno.h>

#include "fs/fs.h"
#include "hubfs/events.h"

static int pend_getattr(struct hubfs_fs *fs, const char *sub, struct stat *st)
{
	if (*sub)
		return -ENOENT;
	hubfs_fs_fill_dir(st, 0755, fs->started);
	return 0;
}

static int pend_readdir(struct hubfs_fs *fs, const char *sub, void *buf, fuse_fill_dir_t fill,
			enum fuse_readdir_flags flags)
{
	(void)fs;
	(void)flags;
	if (*sub)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	return 0;
}

static int pend_refuse(const char *dir, const char *sub)
{
	hubfs_event(HUBFS_EV_ERROR, "refused '%s/%.200s': %s/ is not available in this version",
		    dir, sub, dir);
	return -ENOTSUP;
}

static int pend_open(struct hubfs_fs *fs, const char *sub, struct fuse_file_info *fi)
{
	(void)fs;
	(void)sub;
	(void)fi;
	return -ENOENT;
}

#define PENDING_DIR(prefix, dirname)                                                               \
	static int prefix##_create(struct hubfs_fs *fs, const char *sub, mode_t mode,              \
				   struct fuse_file_info *fi)                                      \
	{                                                                                          \
		(void)fs;                                                                          \
		(void)mode;                                                                        \
		(void)fi;                                                                          \
		return pend_refuse(dirname, sub);                                                  \
	}                                                                                          \
	static int prefix##_mkdir(struct hubfs_fs *fs, const char *sub, mode_t mode)               \
	{                                                                                          \
		(void)fs;                                                                          \
		(void)mode;                                                                        \
		return pend_refuse(dirname, sub);                                                  \
	}                                                                                          \
	const struct hubfs_dir_ops hubfs_##prefix##_ops = {                                        \
		.name = dirname,                                                                   \
		.getattr = pend_getattr,                                                           \
		.readdir = pend_readdir,                                                           \
		.create = prefix##_create,                                                         \
		.open = pend_open,                                                                 \
		.mkdir = prefix##_mkdir,                                                           \
	}

PENDING_DIR(streams, "streams");
