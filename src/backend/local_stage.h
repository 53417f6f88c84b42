/*
 * local_stage.h — private to the local backend: the staged file of one upload.
 */
#ifndef HUBFS_LOCAL_STAGE_H
#define HUBFS_LOCAL_STAGE_H

#include <stddef.h>
#include <sys/types.h>

struct local_stage;

/* Create @rel under @dirfd (O_TRUNC). 0 or -errno. */
int local_stage_open(struct local_stage **out, int dirfd, const char *rel);
/* Write @n bytes at @off. Returns @n or -errno (also an earlier write's deferred error). */
ssize_t local_stage_write(struct local_stage *s, const void *buf, size_t n, off_t off);
int local_stage_truncate(struct local_stage *s, off_t size);
/* Wait until every byte written so far is in the file; 0 or the first write error. */
int local_stage_sync(struct local_stage *s);
/* The file's (buffered) descriptor, for fstat, fchmod, futimens, fsync. */
int local_stage_fd(struct local_stage *s);
/* Stop the writer and close; the file itself stays. NULL-safe. */
void local_stage_close(struct local_stage *s);

#endif
