/*
 * s3_upload.h — private to the S3 backend (s3.c): one video being written, staged in a
 * local file and sent in parts while it is still being written (s3_upload.c, whose header
 * comment holds the design). s3.c keeps the ops table, the keys and the metadata record;
 * this file owns the bytes and the multipart upload.
 *
 * Threads: an upload's calls come from one thread at a time (backend.h); its part workers
 * are internal. Every function here is for that calling thread, but s3_up_path(), which
 * any thread may call while the upload exists.
 */
#ifndef HUBFS_S3_UPLOAD_H
#define HUBFS_S3_UPLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct s3_backend;
struct hubfs_s3_client;
struct hubfs_s3_meta;
struct hubfs_upload;

/*
 * Stage a new upload in @path (created, O_EXCL). @tmp_key: a key of ours, never listed,
 * that a multipart upload started while the file is written is completed under (copied onto
 * the video's key at commit). @owner is only handed back by s3_up_owner(); @client must
 * outlive the upload. Strings are copied. 0, -ENOMEM or -errno of open(2).
 */
int s3_up_new(struct hubfs_upload **out, struct s3_backend *owner, struct hubfs_s3_client *client,
	      const char *path, const char *tmp_key);
struct s3_backend *s3_up_owner(const struct hubfs_upload *up);

/* Write to the staged file (and queue the parts it completes): @n or a short count, or
 * -errno. Never fails because of a part: such errors are kept for s3_up_send(). */
ssize_t s3_up_write(struct hubfs_upload *up, const void *buf, size_t n, off_t off);
/* Truncate the staged file; parts sent past @size count as changed. 0 or -errno. */
int s3_up_truncate(struct hubfs_upload *up, off_t size);
/* The staged file; it holds every byte written (writes are synchronous). */
const char *s3_up_path(const struct hubfs_upload *up);
/* The staged size. 0 or -errno of fstat(2). */
int s3_up_size(struct hubfs_upload *up, uint64_t *size);

/*
 * Make the staged bytes the object @key with the metadata @meta (x-amz-meta-*), after the
 * library validated them: the parts sent while writing plus the missing or changed ones,
 * completed and copied onto @key with @meta; or, without a useful streamed upload, one PUT
 * (up to 16 MiB) or a multipart upload created on @key with @meta. @key is untouched on
 * failure (no partial object, the multipart upload aborted). 0, an error kept from a part
 * sent while writing, or the client's -E code (-EIO after retries, -EACCES, -ENOMEM,
 * -EFBIG past 10,000 parts, ...). The upload stays to be freed by s3_up_free().
 */
int s3_up_send(struct hubfs_upload *up, const char *key, const struct hubfs_s3_meta *meta);

/* Drop queued parts, wait for those in flight, abort a multipart upload not completed,
 * remove the staged file and free. NULL-safe; cannot fail (a failed abort is logged). */
void s3_up_free(struct hubfs_upload *up);

#endif
