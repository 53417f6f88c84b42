/*
 * hasher.h — SHA-256 of a byte stream, computed while the bytes arrive.
 *
 * Small feeds are hashed inline. Once a stream is large (HUBFS_HASHER_ASYNC_MIN in one
 * feed), the hasher copies each feed into a bounded queue that a thread of its own digests,
 * so a writer does not wait for the digest (on these machines SHA-256 costs about as much
 * as the rest of a FUSE write). The queue holds at most HUBFS_HASHER_QUEUE_MAX bytes; a
 * feed beyond that waits (backpressure), so memory per stream is bounded.
 *
 * Threads: one producer (feed, reset, finish are called by one thread at a time — the
 * caller serialises), plus the hasher's own thread. Its queue has its own lock.
 */
#ifndef HUBFS_HASHER_H
#define HUBFS_HASHER_H

#include <stddef.h>
#include <stdint.h>

#define HUBFS_HASHER_ASYNC_MIN (256u << 10)
#define HUBFS_HASHER_QUEUE_MAX (8u << 20)

struct hubfs_hasher;

/* 0, -ENOMEM. */
int hubfs_hasher_new(struct hubfs_hasher **out);
void hubfs_hasher_free(struct hubfs_hasher *h); /* NULL-safe; stops its thread */

/* Append @n bytes. 0, or -ENOMEM (the stream is then unusable: the caller hashes otherwise). */
int hubfs_hasher_feed(struct hubfs_hasher *h, const void *buf, size_t n);

/* Start over with an empty stream. */
int hubfs_hasher_reset(struct hubfs_hasher *h);

/* Wait for queued bytes, write the lower-case hex digest (65 bytes with NUL). 0, -ENOMEM. */
int hubfs_hasher_finish(struct hubfs_hasher *h, char hex[65]);

/* SHA-256 of the file at @path, read once. 0 or -errno. */
int hubfs_sha256_file(const char *path, char hex[65]);

#endif
