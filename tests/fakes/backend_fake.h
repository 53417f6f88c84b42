/*
 * backend_fake.h — a recording fake of struct hubfs_backend_ops for unit tests.
 *
 * Videos are plain files under a private temp dir (fake_backend_data_dir(): point
 * cfg->data_dir there, so the library's scanner can probe hand-placed files by path, as it
 * does for any backend with HUBFS_BE_CAP_READ_FD); staged uploads live in a sibling temp dir,
 * so they never show in a listing; metadata records are kept in memory, keyed like the
 * videos (the fake has no sidecar files). Every op counts its calls, so a test can tell what
 * the library asked of the backend (e.g. how many files the scanner probed: each probe ends
 * in one stat). Calls that the fault hook of backend.c fails never reach the fake and are
 * not counted.
 *
 * The fake follows the contract of backend.h: commit is atomic and fills the identity
 * fields, rename moves a video's record with it, errors are negative errno from the
 * underlying syscalls (ENOENT, EISDIR, ENOTDIR, ENOTEMPTY...).
 *
 * The fake_backend_hand_* helpers change the backend behind the library's back (another
 * mount, or a user in data_dir); they are not counted.
 *
 * Threads: every op and helper may be called from any thread (one mutex guards the counters
 * and the records); an upload or reader handle is used by one thread at a time.
 */
#ifndef HUBFS_TEST_BACKEND_FAKE_H
#define HUBFS_TEST_BACKEND_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "hubfs/backend.h"

/* The caps of the local backend, which the fake imitates by default. */
#define FAKE_BACKEND_CAPS_LOCAL (HUBFS_BE_CAP_RENAME | HUBFS_BE_CAP_READ_FD | HUBFS_BE_CAP_DIRS)

/*
 * A new fake with capabilities @caps, in fresh temp dirs (removed by hubfs_backend_close()).
 * 0, or -errno with *out NULL.
 */
int fake_backend_new(struct hubfs_backend **out, unsigned int caps);

/* The directory holding the videos: cfg->data_dir for the library. Valid until close. */
const char *fake_backend_data_dir(struct hubfs_backend *be);

/* Calls of op @op ("upload_write", "meta_get", ...) that reached the fake since the last
 * reset. An unknown name fails the test (asserts). */
unsigned int fake_backend_calls(struct hubfs_backend *be, const char *op);
/* Calls of every op that passes backend.c's fault hook (what fault "*" counts). */
unsigned int fake_backend_faultable_calls(struct hubfs_backend *be);
void fake_backend_reset_calls(struct hubfs_backend *be);

/* Upload handles open (begun, neither committed nor aborted), and staged files on disk. */
unsigned int fake_backend_uploads_open(struct hubfs_backend *be);
unsigned int fake_backend_staged_files(struct hubfs_backend *be);

/*
 * Every key the backend holds, sorted bytewise, directories with a trailing '/'
 * ("d/", "d/a.mp4"): a NULL-terminated malloc'd array (free with fake_backend_keys_free),
 * or NULL on ENOMEM.
 */
char **fake_backend_keys(struct hubfs_backend *be);
void fake_backend_keys_free(char **keys);

/* The metadata record stored for @key: 0, or -ENOENT when there is none. */
int fake_backend_meta(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *out);

/*
 * Put the bytes of local file @src at @key (parent directories are created), as another
 * mount (@meta non-NULL: its record is stored with the identity fields of the new bytes, as
 * that mount's commit would) or a hand (@meta NULL: an existing record is left as it is,
 * now stale). @mtime_ns: the file's mtime, or 0 for now. 0 or -errno.
 */
int fake_backend_hand_put(struct hubfs_backend *be, const char *key, const char *src,
			  const struct hubfs_video_meta *meta, int64_t mtime_ns);
/* Set the mtime of @key's bytes by hand (the record is not touched). */
int fake_backend_hand_set_mtime(struct hubfs_backend *be, const char *key, int64_t mtime_ns);
/* Delete a file (and its record) or an empty directory by hand. */
int fake_backend_hand_remove(struct hubfs_backend *be, const char *key);
/* Create a directory (and missing parents) by hand. */
int fake_backend_hand_mkdir(struct hubfs_backend *be, const char *key);
/* Drop @key's record, if any. */
void fake_backend_hand_drop_meta(struct hubfs_backend *be, const char *key);

#endif
