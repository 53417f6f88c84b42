/*
 * s3_cache.h — private to the S3 backend: how objects are read. Three pieces, used
 * together by s3.c's readers:
 *
 *   struct s3_cache   the disk block cache in state_dir/s3-cache (s3_cache.c): 1 MiB blocks
 *                     of objects, keyed by (object key, identity, block index), LRU-evicted
 *                     to stay within cache_mb. One per mount.
 *   struct s3_budget  the global read-ahead budget (s3_readahead.c): bytes that readers hold
 *                     in memory (in flight and not yet consumed), across every open file.
 *                     One per mount.
 *   struct s3_stream  one open object being read (s3_readahead.c): serves reads from its
 *                     read-ahead, else from the cache, else fetches a window with ranged
 *                     GETs (through a callback, so it is testable without S3) a few at a
 *                     time in parallel, and stores the whole blocks it fetched in the cache.
 *
 * Identity: a cached block is only ever served for the same (key, identity). The identity
 * is a string the caller derives from what HEAD returned; use the ETag plus the size
 * ("<etag>:<size>"): a replaced object has a new ETag, so it can never be served stale
 * bytes, and a copy (rename) keeps the ETag because it keeps the bytes. s3_cache_forget()
 * only gives the space back early; correctness does not depend on it.
 *
 * Threads: a cache and a budget are shared by every thread (each has one mutex; see the
 * .c files). A stream is used by one thread at a time (backend.h's reader contract); while
 * it fetches it runs up to opts.parallel - 1 helper threads of its own, joined before
 * s3_stream_read() returns.
 */
#ifndef HUBFS_S3_CACHE_H
#define HUBFS_S3_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define S3_CACHE_BLOCK (1u << 20) /* bytes per cached block; the last one of an object is short */

/* ---- disk block cache --------------------------------------------------------------- */

struct s3_cache;

struct s3_cache_stats {
	uint64_t hits, misses; /* s3_cache_read() calls that returned bytes / -ENOENT */
	uint64_t puts;         /* blocks written */
	uint64_t put_failures; /* puts refused (-ENOSPC) or failed on disk */
	uint64_t evictions;    /* blocks evicted to stay within max_bytes */
	uint64_t forgotten;    /* blocks dropped by s3_cache_forget*() */
	uint64_t bytes;        /* bytes of blocks on disk or being written (<= max_bytes) */
	uint64_t blocks;       /* blocks on disk or being written */
	uint64_t max_bytes;
};

/*
 * Open the cache in @dir (created 0700 if missing; its parent must exist), holding at most
 * @max_bytes of block data. The directory is locked (flock on dir/.lock) for the cache's
 * lifetime and wiped at open: nothing from an earlier run is trusted, so a crash or a power
 * loss can never serve a half-written block. s3_cache_free() wipes it again.
 * 0, -EINVAL (@max_bytes < one block), -EBUSY (another live mount uses @dir: run without a
 * cache or give it another directory), -ENOMEM, -errno from mkdir/open/readdir.
 * *out is NULL on failure.
 */
int s3_cache_new(struct s3_cache **out, const char *dir, uint64_t max_bytes);

/* Wipe the directory and free. NULL-safe. No other call may be running. */
void s3_cache_free(struct s3_cache *c);

/*
 * Copy up to @len bytes from offset @off inside block @block of (@key, @identity) into
 * @buf, and mark the block recently used. Returns the bytes copied (short only at the
 * block's end, 0 when @off is at or past it), -ENOENT on a miss (also when the block is
 * still being written, or was evicted between the look-up and the read), -EINVAL (@off
 * beyond S3_CACHE_BLOCK). A block whose file turns out unreadable or short is dropped and
 * reported as a miss. Disk I/O happens outside the lock.
 */
ssize_t s3_cache_read(struct s3_cache *c, const char *key, const char *identity, uint64_t block,
		      size_t off, void *buf, size_t len);

/* Whether the block is cached (complete). Does not count as a hit or touch the LRU order. */
bool s3_cache_contains(struct s3_cache *c, const char *key, const char *identity, uint64_t block);

/*
 * Store block @block of (@key, @identity): @len bytes (1..S3_CACHE_BLOCK; less only for an
 * object's last block). Least recently used blocks are evicted first to make room. The
 * block is written to a temporary file and renamed into place, and becomes visible to
 * readers only after the rename. 0 (also when the block is already cached or being
 * written by another thread), -EINVAL (bad @len), -ENOSPC (no room: @len exceeds what can
 * be evicted, e.g. the rest is being written), -ENOMEM, -errno from the disk (the block is
 * then not cached and no file is left behind). Disk I/O happens outside the lock.
 */
int s3_cache_put(struct s3_cache *c, const char *key, const char *identity, uint64_t block,
		 const void *buf, size_t len);

/*
 * Drop every block of @key (any identity): the object was removed, renamed away or
 * replaced. A block being written at the time is dropped when its write ends.
 * s3_cache_forget_prefix() drops every key that starts with @prefix (a directory moved).
 * Both are no-ops on a NULL cache, so callers need not check whether a cache runs.
 */
void s3_cache_forget(struct s3_cache *c, const char *key);
void s3_cache_forget_prefix(struct s3_cache *c, const char *prefix);

void s3_cache_stats(struct s3_cache *c, struct s3_cache_stats *out); /* NULL: all zero */

/* ---- global read-ahead budget -------------------------------------------------------- */

struct s3_budget;

struct s3_budget_stats {
	uint64_t limit;
	uint64_t used;    /* bytes granted and not given back */
	uint64_t peak;    /* highest @used seen */
	uint64_t waits;   /* takes that had to wait for others to give back */
	uint64_t starved; /* takes granted @min beyond the limit (waited in vain) */
};

/*
 * A budget of @limit bytes (0: 64 MiB). A take that cannot get its minimum waits up to
 * @wait_ms for others to give back (0: do not wait), then is granted its minimum anyway, so
 * a reader never deadlocks and the excess is bounded by one minimum per reading thread.
 * 0 or -ENOMEM; *out is NULL on failure.
 */
int s3_budget_new(struct s3_budget **out, uint64_t limit, unsigned int wait_ms);
void s3_budget_free(struct s3_budget *b); /* NULL-safe; everything must have been given back */

/*
 * Take up to @want bytes, at least @min (@min <= @want): as much of @want as the budget
 * has left if that is at least @min, else (after waiting, see s3_budget_new) exactly @min.
 * Returns the bytes granted; the caller gives back exactly what it took, in any pieces.
 */
size_t s3_budget_take(struct s3_budget *b, size_t want, size_t min);
void s3_budget_give(struct s3_budget *b, size_t n);

void s3_budget_stats(struct s3_budget *b, struct s3_budget_stats *out);

/* ---- a stream: one open object -------------------------------------------------------- */

struct s3_stream;

/*
 * Fetch bytes [@off, @off + @len) of the object into @buf; *@got = bytes received (short
 * only at the object's end). 0 or -errno (as hubfs_s3_get). Called from the reading thread
 * and from the stream's helper threads at once: it must be thread-safe.
 */
typedef int (*s3_fetch_fn)(void *arg, uint64_t off, size_t len, void *buf, size_t *got);

struct s3_stream_opts {
	const char *key;      /* object key; copied */
	const char *identity; /* see the top of this file; copied */
	uint64_t size;        /* the object's size when it was opened (HEAD) */
	s3_fetch_fn fetch;
	void *fetch_arg;
	/* NULL: no disk cache (read-ahead is kept in memory). A cache holds fetched read-ahead
	 * until it is read, so it should hold a few windows per concurrent reader (64 MiB and
	 * up); a smaller one stays correct but evicts read-ahead before it is read. */
	struct s3_cache *cache;
	struct s3_budget *budget; /* NULL: unbounded (tests) */
	size_t ra_min;            /* first window and window after a seek; 0: 128 KiB */
	size_t ra_max;            /* largest window; 0: 8 MiB; at most 16 MiB */
	unsigned int parallel;    /* GETs at once for one window; 0: 4 */
};

struct s3_stream_stats {
	uint64_t fetches;       /* fetch calls */
	uint64_t fetched_bytes; /* bytes they returned */
	uint64_t cache_hits;    /* reads (or parts) served from the disk cache */
	uint64_t memory_hits;   /* reads (or parts) served from the read-ahead in memory */
	size_t window;          /* the next window */
	size_t held;            /* bytes of read-ahead held now (charged to the budget) */
};

/* A stream over @opts->key. 0, -EINVAL (no fetch callback, ra_min > ra_max), -ENOMEM. */
int s3_stream_new(struct s3_stream **out, const struct s3_stream_opts *opts);

/*
 * Read [@off, @off + @n) like pread: bytes copied (short only at the object's end, 0 at or
 * past it). Windows: the first is ra_min; each window doubles the next one up to ra_max
 * while reads continue where the last fetch or read ended; a read elsewhere (a seek) that
 * misses the read-ahead and the cache resets it to ra_min. A window of at least one block
 * ends on a block boundary and is fetched as one GET per block, @parallel at a time. Whole
 * blocks fetched are stored in the cache (a block fetched in pieces by small windows too);
 * with a cache, memory holds only what is not in it. Errors: -errno from the fetch (when no
 * byte could be read; otherwise the bytes read so far), -EIO when the object is shorter
 * than @size (it changed since it was opened), -ENOMEM.
 */
ssize_t s3_stream_read(struct s3_stream *st, void *buf, size_t n, uint64_t off);

void s3_stream_stats(struct s3_stream *st, struct s3_stream_stats *out);

/* Give back the read-ahead and free. NULL-safe. */
void s3_stream_free(struct s3_stream *st);

#endif
