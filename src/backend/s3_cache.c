/*
 * s3_cache.c — the S3 backend's disk block cache (s3_cache.h): 1 MiB blocks of objects in
 * state_dir/s3-cache, at most max_bytes of them, least recently used evicted first.
 *
 * DESIGN
 *   - Index: an in-memory hash table of entries keyed by (object key, identity, block),
 *     chained, grown as it fills; the complete entries are also on an LRU list (most recent
 *     at the head). Nothing on disk is trusted across runs: the directory is wiped when the
 *     cache opens (and when it is freed), so there is no on-disk index or block header to
 *     validate, and a block half-written before a crash or a power loss is never served.
 *     A flock on dir/.lock keeps a second mount from wiping a live cache.
 *   - Files: one per block, named "<hash>.<seq>": a 64-bit hash of (key, identity, block)
 *     for a human looking at the directory, and a sequence number unique to the entry.
 *     Because no two entries ever share a file name, an unlink done after the lock was
 *     dropped can only remove its own entry's file, never a newer copy of the same block.
 *   - Writes: "tmp.<seq>", written, closed, renamed to the block's name; the entry becomes
 *     readable (ready) only after the rename. An entry being written is in the hash (a
 *     second put of the same block is a no-op, a read is a miss) but not on the LRU list
 *     (it cannot be evicted); its bytes count against max_bytes from the moment it is
 *     created, so the directory never holds more than max_bytes of blocks plus the files
 *     of evicted blocks that a reader still has open. No fsync: a crash wipes everything.
 *   - Reads: the look-up, LRU touch and counters under the lock; open + pread outside it.
 *     A block evicted in between is a miss (its file is gone); one that is short or
 *     unreadable is dropped and is a miss.
 *   - Forget: entries of a key (or a key prefix) leave the index at once; one being written
 *     is marked dead and its writer removes the file when it is done.
 *
 * Threads: any FUSE thread, and the read-ahead helper threads of s3_readahead.c.
 * Lock: c->lock protects the hash table, the LRU list, every entry's fields, the byte and
 * block counts and the counters. It is never held across disk I/O except for the unlinks
 * of the wipes at open and free, when nothing else runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubfs/log.h"

#include "backend/s3_cache.h"

#define CACHE_LOCK_NAME ".lock"
#define CACHE_BUCKETS_MIN 256
#define CACHE_NAME_MAX 48

struct cache_ent {
	struct cache_ent *hnext;       /* hash chain; also the victims list once out */
	struct cache_ent *prev, *next; /* LRU list, ready entries only */
	uint64_t hash;                 /* of (key, identity, block) */
	uint64_t block;
	uint64_t seq;   /* the file's name: unique to this entry */
	uint32_t len;   /* bytes of the block */
	bool ready;     /* renamed into place: readable, on the LRU list */
	bool dead;      /* dropped while being written: the writer removes its file */
	char *identity; /* points into key[] */
	char key[];     /* "key\0identity\0" */
};

struct s3_cache {
	pthread_mutex_t lock;
	int dirfd, lockfd;
	uint64_t max_bytes;
	/* lock: everything below */
	struct cache_ent **buckets;
	size_t nbuckets, count;
	struct cache_ent lru; /* sentinel: lru.next is the most recent */
	uint64_t seq;
	struct s3_cache_stats st; /* bytes, blocks and the counters */
};

/* FNV-1a over key, identity and block, then a mix so the low bits spread over buckets. */
static uint64_t cache_hash(const char *key, const char *identity, uint64_t block)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL; /* a separator no key byte can forge: 0xff */
	for (p = (const unsigned char *)identity; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= block * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return h;
}

static void cache_name(char name[CACHE_NAME_MAX], const struct cache_ent *e)
{
	snprintf(name, CACHE_NAME_MAX, "%016" PRIx64 ".%" PRIu64, e->hash, e->seq);
}

static void cache_tmp_name(char name[CACHE_NAME_MAX], uint64_t seq)
{
	snprintf(name, CACHE_NAME_MAX, "tmp.%" PRIu64, seq);
}

/* ---- index (c->lock held) ------------------------------------------------------------ */

static struct cache_ent *cache_find(struct s3_cache *c, uint64_t hash, const char *key,
				    const char *identity, uint64_t block)
{
	struct cache_ent *e;

	for (e = c->buckets[hash & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == hash && e->block == block && !strcmp(e->key, key) &&
		    !strcmp(e->identity, identity))
			return e;
	return NULL;
}

static void cache_grow(struct s3_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct cache_ent **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cache_ent *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

static void cache_hash_insert(struct s3_cache *c, struct cache_ent *e)
{
	struct cache_ent **head;

	if (c->count >= c->nbuckets)
		cache_grow(c);
	head = &c->buckets[e->hash & (c->nbuckets - 1)];
	e->hnext = *head;
	*head = e;
	c->count++;
}

static void cache_hash_remove(struct s3_cache *c, struct cache_ent *e)
{
	struct cache_ent **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = e->hnext;
		c->count--;
	}
	e->hnext = NULL;
}

static void cache_lru_unlink(struct cache_ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = NULL;
}

static void cache_lru_push(struct s3_cache *c, struct cache_ent *e)
{
	e->next = c->lru.next;
	e->prev = &c->lru;
	c->lru.next->prev = e;
	c->lru.next = e;
}

/* Take a ready entry out of the index onto @victims (its file is unlinked after unlock). */
static void cache_drop_ready(struct s3_cache *c, struct cache_ent *e, struct cache_ent **victims)
{
	cache_hash_remove(c, e);
	cache_lru_unlink(e);
	c->st.bytes -= e->len;
	c->st.blocks--;
	e->hnext = *victims;
	*victims = e;
}

/* Unlink the victims' files and free them. Called without the lock. */
static void cache_reap(struct s3_cache *c, struct cache_ent *victims)
{
	char name[CACHE_NAME_MAX];

	while (victims) {
		struct cache_ent *e = victims;

		victims = e->hnext;
		cache_name(name, e);
		if (unlinkat(c->dirfd, name, 0) && errno != ENOENT)
			hubfs_log(HUBFS_LOG_WARN, "s3 cache: cannot remove '%s': %s", name,
				  strerror(errno));
		free(e);
	}
}

/* ---- open / free --------------------------------------------------------------------- */

/* Remove every file in the directory but the lock (subdirectories are not ours). */
static int cache_wipe(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, CACHE_LOCK_NAME))
			continue;
		if (de->d_type == DT_DIR)
			continue; /* never ours: leave it */
		if (unlinkat(dirfd, de->d_name, 0) && errno != ENOENT && errno != EISDIR) {
			rc = -errno;
			hubfs_log(HUBFS_LOG_WARN, "s3 cache: cannot remove '%s': %s", de->d_name,
				  strerror(errno));
		}
	}
	closedir(d);
	return rc;
}

int s3_cache_new(struct s3_cache **out, const char *dir, uint64_t max_bytes)
{
	struct s3_cache *c;
	int rc;

	*out = NULL;
	if (max_bytes < S3_CACHE_BLOCK)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dirfd = c->lockfd = -1;
	c->max_bytes = c->st.max_bytes = max_bytes;
	c->lru.next = c->lru.prev = &c->lru;
	c->nbuckets = CACHE_BUCKETS_MIN;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	c->lockfd = openat(c->dirfd, CACHE_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lockfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(c->lockfd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	rc = cache_wipe(c->dirfd);
	if (rc)
		goto fail;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
fail:
	if (c->lockfd >= 0)
		close(c->lockfd);
	if (c->dirfd >= 0)
		close(c->dirfd);
	free(c->buckets);
	free(c);
	return rc;
}

void s3_cache_free(struct s3_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cache_ent *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	cache_wipe(c->dirfd);
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	close(c->lockfd); /* releases the flock */
	close(c->dirfd);
	free(c);
}

/* ---- read ---------------------------------------------------------------------------- */

/*
 * Reading entry @seq of (key, identity, block) failed: count a miss, and drop the entry if it
 * is still indexed (then its file was lost or damaged: an eviction or a forget takes the
 * entry out of the index before it unlinks the file, and a new put gets a new seq).
 */
static void cache_read_failed(struct s3_cache *c, uint64_t hash, const char *key,
			      const char *identity, uint64_t block, uint64_t seq)
{
	struct cache_ent *victims = NULL, *e;

	pthread_mutex_lock(&c->lock);
	c->st.hits--;
	c->st.misses++;
	e = cache_find(c, hash, key, identity, block);
	if (e && e->seq == seq && e->ready)
		cache_drop_ready(c, e, &victims);
	pthread_mutex_unlock(&c->lock);
	cache_reap(c, victims);
}

ssize_t s3_cache_read(struct s3_cache *c, const char *key, const char *identity, uint64_t block,
		      size_t off, void *buf, size_t len)
{
	uint64_t hash = cache_hash(key, identity, block);
	char name[CACHE_NAME_MAX];
	struct cache_ent *e;
	size_t want, done = 0;
	uint64_t seq;
	uint32_t blen;
	int fd;

	if (off > S3_CACHE_BLOCK)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	e = cache_find(c, hash, key, identity, block);
	if (!e || !e->ready) {
		c->st.misses++;
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	cache_lru_unlink(e);
	cache_lru_push(c, e);
	c->st.hits++;
	seq = e->seq;
	blen = e->len;
	cache_name(name, e);
	pthread_mutex_unlock(&c->lock);

	if (off >= blen)
		return 0;
	want = blen - off < len ? blen - off : len;
	fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cache_read_failed(c, hash, key, identity, block, seq);
		return -ENOENT;
	}
	while (done < want) {
		ssize_t n = pread(fd, (char *)buf + done, want - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (done < want) {
		hubfs_log(HUBFS_LOG_WARN, "s3 cache: block file '%s' is short or unreadable", name);
		cache_read_failed(c, hash, key, identity, block, seq);
		return -ENOENT;
	}
	return (ssize_t)done;
}

bool s3_cache_contains(struct s3_cache *c, const char *key, const char *identity, uint64_t block)
{
	uint64_t hash = cache_hash(key, identity, block);
	struct cache_ent *e;
	bool yes;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, hash, key, identity, block);
	yes = e && e->ready;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

/* ---- put ----------------------------------------------------------------------------- */

/* Write @len bytes to a new temporary file and rename it to @e's name. No file is left on
 * failure. */
static int cache_write(struct s3_cache *c, const struct cache_ent *e, const void *buf, size_t len)
{
	char tmp[CACHE_NAME_MAX], name[CACHE_NAME_MAX];
	size_t done = 0;
	int fd, rc = 0;

	cache_tmp_name(tmp, e->seq);
	cache_name(name, e);
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0) {
			rc = -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(c->dirfd, tmp, c->dirfd, name))
		rc = -errno;
	if (rc)
		unlinkat(c->dirfd, tmp, 0);
	return rc;
}

int s3_cache_put(struct s3_cache *c, const char *key, const char *identity, uint64_t block,
		 const void *buf, size_t len)
{
	size_t klen = strlen(key), ilen = strlen(identity);
	struct cache_ent *e, *victims = NULL;
	bool dead;
	int rc;

	if (!len || len > S3_CACHE_BLOCK)
		return -EINVAL;
	e = calloc(1, sizeof(*e) + klen + ilen + 2);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, klen + 1);
	e->identity = e->key + klen + 1;
	memcpy(e->identity, identity, ilen + 1);
	e->hash = cache_hash(key, identity, block);
	e->block = block;
	e->len = (uint32_t)len;

	pthread_mutex_lock(&c->lock);
	if (cache_find(c, e->hash, key, identity, block)) {
		pthread_mutex_unlock(&c->lock);
		free(e);
		return 0; /* cached, or being written by another thread */
	}
	while (c->st.bytes + len > c->max_bytes && c->lru.prev != &c->lru) {
		cache_drop_ready(c, c->lru.prev, &victims);
		c->st.evictions++;
	}
	if (c->st.bytes + len > c->max_bytes) {
		c->st.put_failures++;
		pthread_mutex_unlock(&c->lock);
		cache_reap(c, victims);
		free(e);
		return -ENOSPC;
	}
	e->seq = ++c->seq;
	cache_hash_insert(c, e);
	c->st.bytes += len;
	c->st.blocks++;
	pthread_mutex_unlock(&c->lock);

	cache_reap(c, victims);
	rc = cache_write(c, e, buf, len);

	pthread_mutex_lock(&c->lock);
	dead = e->dead;
	if (rc || dead) {
		if (!dead)
			cache_hash_remove(c, e);
		c->st.bytes -= len;
		c->st.blocks--;
		if (rc)
			c->st.put_failures++;
	} else {
		e->ready = true;
		cache_lru_push(c, e);
		c->st.puts++;
	}
	pthread_mutex_unlock(&c->lock);

	if (rc) {
		hubfs_log(HUBFS_LOG_WARN, "s3 cache: cannot store a block of '%s': %s", key,
			  strerror(-rc));
		free(e);
	} else if (dead) {
		e->hnext = NULL;
		cache_reap(c, e); /* forgotten while it was written */
	}
	return rc;
}

/* ---- forget, stats ------------------------------------------------------------------- */

static void cache_forget(struct s3_cache *c, const char *key, bool prefix)
{
	struct cache_ent *victims = NULL;
	size_t klen = strlen(key);

	if (!c)
		return; /* running without a cache */
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cache_ent *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			if (prefix ? strncmp(e->key, key, klen) : strcmp(e->key, key))
				continue;
			c->st.forgotten++;
			if (e->ready) {
				cache_drop_ready(c, e, &victims);
			} else {
				cache_hash_remove(c, e);
				e->dead = true;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
	cache_reap(c, victims);
}

void s3_cache_forget(struct s3_cache *c, const char *key)
{
	cache_forget(c, key, false);
}

void s3_cache_forget_prefix(struct s3_cache *c, const char *prefix)
{
	cache_forget(c, prefix, true);
}

void s3_cache_stats(struct s3_cache *c, struct s3_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
}
