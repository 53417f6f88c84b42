/*
 * test_s3_cache.c — the S3 backend's read path without S3 (s3_cache.h): the disk block
 * cache (hits, misses, LRU order, the byte bound, identities, forget, atomic writes, the
 * wipe at open, threads), the global read-ahead budget, and the stream engine over a fake
 * fetch callback serving an in-memory object: random reads compared byte for byte, the
 * window's growth and reset as seen in the fetch calls, parallel GETs, the budget never
 * exceeded while several readers run, and a fetch failing at call N = 1, 2, ...
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/s3_cache.h"

#define KiB (1u << 10)
#define MiB (1u << 20)
#define T_LOG_MAX 4096

struct t_env {
	char dir[64];
	char cdir[96]; /* dir/s3-cache */
};

static int t_setup(void **state)
{
	struct t_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/var/tmp/hubfs-s3c-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->cdir, sizeof(e->cdir), "%s/s3-cache", e->dir);
	*state = e;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_env *e = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t t_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Bytes [start, start + len) of the endless pattern @seed. */
static void t_pattern(void *buf, size_t len, uint64_t seed, uint64_t start)
{
	unsigned char *p = buf;
	uint64_t word = t_mix(seed ^ (start / 8));

	for (size_t i = 0; i < len; i++) {
		uint64_t at = start + i;

		if (i && at % 8 == 0)
			word = t_mix(seed ^ (at / 8));
		p[i] = (unsigned char)(word >> (at % 8 * 8));
	}
}

static uint64_t t_seed(const char *key, const char *identity, uint64_t block)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *s = key; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (const char *s = identity; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return t_mix(h ^ block);
}

/* A block's content in the cache tests: depends on key, identity and block. */
static void t_block(void *buf, size_t len, const char *key, const char *identity, uint64_t block)
{
	t_pattern(buf, len, t_seed(key, identity, block), 0);
}

static int t_put(struct s3_cache *c, const char *key, const char *identity, uint64_t block,
		 size_t len)
{
	void *buf = malloc(len);
	int rc;

	assert_non_null(buf);
	t_block(buf, len, key, identity, block);
	rc = s3_cache_put(c, key, identity, block, buf, len);
	free(buf);
	return rc;
}

/* Read the whole block and compare; returns the length read or the error. */
static ssize_t t_get(struct s3_cache *c, const char *key, const char *identity, uint64_t block)
{
	unsigned char *buf = malloc(S3_CACHE_BLOCK), *want = malloc(S3_CACHE_BLOCK);
	ssize_t n;

	assert_non_null(buf);
	assert_non_null(want);
	n = s3_cache_read(c, key, identity, block, 0, buf, S3_CACHE_BLOCK);
	if (n > 0) {
		t_block(want, (size_t)n, key, identity, block);
		assert_memory_equal(buf, want, (size_t)n);
	}
	free(buf);
	free(want);
	return n;
}

struct t_scan {
	size_t files, tmps, others;
	uint64_t bytes;
};

static struct t_scan t_scan_dir(const char *dir)
{
	struct t_scan s = { 0 };
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[512];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".lock"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		if (!strncmp(de->d_name, "tmp.", 4))
			s.tmps++;
		else if (strchr(de->d_name, '.'))
			s.files++;
		else
			s.others++;
		s.bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return s;
}

/* The cache's own view must match the directory: as many blocks and bytes, no temp. */
static void t_check_disk(struct s3_cache *c, const char *dir)
{
	struct s3_cache_stats cs;
	struct t_scan s = t_scan_dir(dir);

	s3_cache_stats(c, &cs);
	assert_int_equal(s.tmps, 0);
	assert_int_equal(s.others, 0);
	assert_int_equal(s.files, cs.blocks);
	assert_int_equal(s.bytes, cs.bytes);
	assert_true(cs.bytes <= cs.max_bytes);
}

/* ---- the cache ----------------------------------------------------------------------- */

static void test_cache_hit_miss(void **state)
{
	struct t_env *e = *state;
	struct s3_cache_stats cs;
	struct s3_cache *c;
	unsigned char buf[5000], want[5000];

	assert_int_equal(s3_cache_new(&c, e->cdir, 8 * MiB), 0);
	assert_int_equal(t_get(c, "a.mp4", "e1:100", 0), -ENOENT);
	assert_false(s3_cache_contains(c, "a.mp4", "e1:100", 0));
	assert_int_equal(t_put(c, "a.mp4", "e1:100", 0, S3_CACHE_BLOCK), 0);
	assert_true(s3_cache_contains(c, "a.mp4", "e1:100", 0));
	assert_int_equal(t_get(c, "a.mp4", "e1:100", 0), S3_CACHE_BLOCK);
	/* a slice in the middle */
	assert_int_equal(s3_cache_read(c, "a.mp4", "e1:100", 0, 1000, buf, sizeof(buf)),
			 sizeof(buf));
	t_pattern(want, sizeof(want), t_seed("a.mp4", "e1:100", 0), 1000);
	assert_memory_equal(buf, want, sizeof(buf));
	/* an object's short last block: reads stop at its end */
	assert_int_equal(t_put(c, "a.mp4", "e1:100", 7, 300000), 0);
	assert_int_equal(t_get(c, "a.mp4", "e1:100", 7), 300000);
	assert_int_equal(s3_cache_read(c, "a.mp4", "e1:100", 7, 299000, buf, sizeof(buf)), 1000);
	assert_int_equal(s3_cache_read(c, "a.mp4", "e1:100", 7, 300000, buf, sizeof(buf)), 0);
	assert_int_equal(s3_cache_read(c, "a.mp4", "e1:100", 7, S3_CACHE_BLOCK + 1, buf, 1),
			 -EINVAL);
	/* a second put of the same block is a no-op; bad lengths are refused */
	assert_int_equal(t_put(c, "a.mp4", "e1:100", 0, S3_CACHE_BLOCK), 0);
	assert_int_equal(s3_cache_put(c, "a.mp4", "e1:100", 1, buf, 0), -EINVAL);
	assert_int_equal(s3_cache_put(c, "a.mp4", "e1:100", 1, buf, S3_CACHE_BLOCK + 1), -EINVAL);
	assert_int_equal(t_get(c, "a.mp4", "e1:100", 1), -ENOENT);

	s3_cache_stats(c, &cs);
	assert_int_equal(cs.puts, 2);
	assert_int_equal(cs.blocks, 2);
	assert_int_equal(cs.bytes, S3_CACHE_BLOCK + 300000);
	assert_int_equal(cs.hits, 5);
	assert_int_equal(cs.misses, 2);
	assert_int_equal(cs.evictions, 0);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

/* A replaced object (new ETag) never gets the old bytes. */
static void test_cache_identity(void **state)
{
	struct t_env *e = *state;
	struct s3_cache *c;

	assert_int_equal(s3_cache_new(&c, e->cdir, 8 * MiB), 0);
	assert_int_equal(t_put(c, "v.mkv", "etag-1:5000000", 2, S3_CACHE_BLOCK), 0);
	assert_int_equal(t_get(c, "v.mkv", "etag-2:5000000", 2), -ENOENT);
	assert_false(s3_cache_contains(c, "v.mkv", "etag-2:5000000", 2));
	assert_int_equal(t_get(c, "v.mkv", "etag-1:5000000", 3), -ENOENT);
	assert_int_equal(t_get(c, "w.mkv", "etag-1:5000000", 2), -ENOENT);
	/* both identities side by side, each with its own bytes */
	assert_int_equal(t_put(c, "v.mkv", "etag-2:5000000", 2, S3_CACHE_BLOCK), 0);
	assert_int_equal(t_get(c, "v.mkv", "etag-1:5000000", 2), S3_CACHE_BLOCK);
	assert_int_equal(t_get(c, "v.mkv", "etag-2:5000000", 2), S3_CACHE_BLOCK);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

/* Least recently used goes first; a read counts as a use. */
static void test_cache_lru(void **state)
{
	struct t_env *e = *state;
	struct s3_cache_stats cs;
	struct s3_cache *c;

	assert_int_equal(s3_cache_new(&c, e->cdir, 4 * MiB), 0);
	for (uint64_t b = 0; b < 4; b++)
		assert_int_equal(t_put(c, "k", "i", b, S3_CACHE_BLOCK), 0);
	assert_int_equal(t_get(c, "k", "i", 0), S3_CACHE_BLOCK); /* 0 is now the most recent */
	assert_int_equal(t_put(c, "k", "i", 4, S3_CACHE_BLOCK), 0);
	assert_int_equal(t_get(c, "k", "i", 1), -ENOENT); /* 1 was the least recent */
	assert_true(s3_cache_contains(c, "k", "i", 0));
	assert_true(s3_cache_contains(c, "k", "i", 2));
	assert_int_equal(t_put(c, "k", "i", 5, S3_CACHE_BLOCK), 0); /* evicts 2 */
	assert_false(s3_cache_contains(c, "k", "i", 2));
	/* a small block needs only its own room: evicts 3 */
	assert_int_equal(t_put(c, "k", "i", 6, 1000), 0);
	assert_false(s3_cache_contains(c, "k", "i", 3));
	assert_true(s3_cache_contains(c, "k", "i", 0));
	assert_true(s3_cache_contains(c, "k", "i", 4));
	assert_true(s3_cache_contains(c, "k", "i", 5));
	s3_cache_stats(c, &cs);
	assert_int_equal(cs.evictions, 3);
	assert_int_equal(cs.bytes, 3 * S3_CACHE_BLOCK + 1000);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

/* Whatever the mix of sizes, the bytes on disk stay within the bound and match the index. */
static void test_cache_bound(void **state)
{
	struct t_env *e = *state;
	struct s3_cache_stats cs;
	struct s3_cache *c;
	uint64_t r = 7;

	assert_int_equal(s3_cache_new(&c, e->cdir, 5 * MiB + 12345), 0);
	for (int i = 0; i < 200; i++) {
		size_t len;

		r = t_mix(r);
		len = r % 3 ? S3_CACHE_BLOCK : 1 + (size_t)(r >> 20) % S3_CACHE_BLOCK;
		assert_int_equal(t_put(c, r % 2 ? "x" : "y", "id", (r >> 8) % 40, len), 0);
		s3_cache_stats(c, &cs);
		assert_true(cs.bytes <= 5 * MiB + 12345);
		if (i % 25 == 0)
			t_check_disk(c, e->cdir);
	}
	s3_cache_stats(c, &cs);
	assert_true(cs.evictions > 100);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

static void test_cache_forget(void **state)
{
	struct t_env *e = *state;
	struct s3_cache_stats cs;
	struct s3_cache *c;

	assert_int_equal(s3_cache_new(&c, e->cdir, 16 * MiB), 0);
	assert_int_equal(t_put(c, "dir/a.mp4", "1", 0, S3_CACHE_BLOCK), 0);
	assert_int_equal(t_put(c, "dir/a.mp4", "1", 1, 1000), 0);
	assert_int_equal(t_put(c, "dir/a.mp4", "2", 0, 2000), 0);
	assert_int_equal(t_put(c, "dir/a.mp4x", "1", 0, 3000), 0);
	assert_int_equal(t_put(c, "dir/b.mp4", "1", 0, 4000), 0);
	assert_int_equal(t_put(c, "other.mp4", "1", 0, 5000), 0);

	s3_cache_forget(c, "dir/a.mp4"); /* every identity of that key, no other key */
	assert_int_equal(t_get(c, "dir/a.mp4", "1", 0), -ENOENT);
	assert_int_equal(t_get(c, "dir/a.mp4", "1", 1), -ENOENT);
	assert_int_equal(t_get(c, "dir/a.mp4", "2", 0), -ENOENT);
	assert_int_equal(t_get(c, "dir/a.mp4x", "1", 0), 3000);
	s3_cache_stats(c, &cs);
	assert_int_equal(cs.forgotten, 3);
	assert_int_equal(cs.blocks, 3);
	t_check_disk(c, e->cdir);

	s3_cache_forget_prefix(c, "dir/");
	assert_int_equal(t_get(c, "dir/a.mp4x", "1", 0), -ENOENT);
	assert_int_equal(t_get(c, "dir/b.mp4", "1", 0), -ENOENT);
	assert_int_equal(t_get(c, "other.mp4", "1", 0), 5000);
	s3_cache_forget(c, "nothing");
	s3_cache_stats(c, &cs);
	assert_int_equal(cs.blocks, 1);
	assert_int_equal(cs.bytes, 5000);
	t_check_disk(c, e->cdir);
	/* a forgotten block can come back */
	assert_int_equal(t_put(c, "dir/a.mp4", "1", 0, S3_CACHE_BLOCK), 0);
	assert_int_equal(t_get(c, "dir/a.mp4", "1", 0), S3_CACHE_BLOCK);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

/*
 * Nothing half-written is ever served: what a crash leaves (a temp file, a truncated block)
 * is wiped at open, a failed write leaves no file and no entry, a second mount cannot wipe
 * a live cache, and free leaves an empty directory.
 */
static void test_cache_atomic(void **state)
{
	struct t_env *e = *state;
	struct s3_cache_stats cs;
	struct s3_cache *c, *c2;
	char path[160], cmd[200];
	struct t_scan s;
	FILE *f;

	assert_int_equal(s3_cache_new(&c, e->cdir, 1000), -EINVAL);
	assert_null(c);
	assert_int_equal(s3_cache_new(&c, e->cdir, 8 * MiB), 0);
	assert_int_equal(t_put(c, "k", "i", 0, S3_CACHE_BLOCK), 0);
	s3_cache_free(c);
	s = t_scan_dir(e->cdir);
	assert_int_equal(s.files + s.tmps + s.others, 0);

	/* a crash: a temp file, a half block under a block's name, a stray file */
	snprintf(path, sizeof(path), "%s/tmp.1", e->cdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("half a block", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/0123456789abcdef.2", e->cdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("the first bytes of a block", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/stray", e->cdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(s3_cache_new(&c, e->cdir, 8 * MiB), 0);
	s = t_scan_dir(e->cdir);
	assert_int_equal(s.files + s.tmps + s.others, 0);
	assert_int_equal(t_get(c, "k", "i", 0), -ENOENT);

	/* one directory, one live cache */
	assert_int_equal(s3_cache_new(&c2, e->cdir, 8 * MiB), -EBUSY);
	assert_null(c2);

	/* puts leave no temp behind */
	for (uint64_t b = 0; b < 6; b++)
		assert_int_equal(t_put(c, "k", "i", b, S3_CACHE_BLOCK - b), 0);
	t_check_disk(c, e->cdir);

	/* a write that fails (the directory is gone) leaves no entry and no file */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->cdir);
	assert_int_equal(system(cmd), 0);
	assert_true(t_put(c, "k", "i", 9, S3_CACHE_BLOCK) < 0);
	assert_int_equal(t_get(c, "k", "i", 9), -ENOENT);
	assert_false(s3_cache_contains(c, "k", "i", 9));
	/* and blocks whose files vanished are misses, then dropped */
	assert_int_equal(t_get(c, "k", "i", 0), -ENOENT);
	s3_cache_stats(c, &cs);
	assert_int_equal(cs.put_failures, 1);
	assert_int_equal(cs.bytes, 5 * S3_CACHE_BLOCK - (1 + 2 + 3 + 4 + 5));
	s3_cache_free(c);

	assert_int_equal(mkdir(e->cdir, 0700), 0);
	assert_int_equal(s3_cache_new(&c, e->cdir, 8 * MiB), 0);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

struct t_cthread {
	struct s3_cache *c;
	uint64_t seed;
	unsigned int bad, hits, puts;
};

static const char *const t_keys[] = { "a.mp4", "b.mkv", "dir/c.webm", "d.mov" };
static const char *const t_ids[] = { "etag1:999", "etag2:999" };

static void *t_cache_worker(void *arg)
{
	struct t_cthread *t = arg;
	unsigned char *buf = malloc(S3_CACHE_BLOCK), *want = malloc(S3_CACHE_BLOCK);
	uint64_t r = t->seed;

	if (!buf || !want) {
		t->bad++;
		goto out;
	}
	for (int i = 0; i < 300; i++) {
		const char *key, *id;
		uint64_t block;
		size_t len;

		r = t_mix(r);
		key = t_keys[r % 4];
		id = t_ids[(r >> 4) % 2];
		block = (r >> 8) % 12;
		len = block == 11 ? 300000 : S3_CACHE_BLOCK; /* the object's last block is short */
		if ((r >> 16) % 10 < 4) {
			int rc;

			t_block(buf, len, key, id, block);
			rc = s3_cache_put(t->c, key, id, block, buf, len);
			if (rc && rc != -ENOSPC) /* no room: every other block is being written */
				t->bad++;
			t->puts++;
		} else if ((r >> 16) % 100 == 99) {
			s3_cache_forget(t->c, key);
		} else {
			size_t off = (size_t)(r >> 24) % len, n = 1 + (size_t)(r >> 44) % len;
			ssize_t got = s3_cache_read(t->c, key, id, block, off, buf, n);

			if (got == -ENOENT)
				continue;
			if (got < 0 || (size_t)got != (off + n > len ? len - off : n)) {
				t->bad++;
				continue;
			}
			t_pattern(want, (size_t)got, t_seed(key, id, block), off);
			if (memcmp(buf, want, (size_t)got))
				t->bad++;
			t->hits++;
		}
	}
out:
	free(buf);
	free(want);
	return NULL;
}

/* Readers, writers and forgetters at once: every hit is exactly the bytes put. */
static void test_cache_threads(void **state)
{
	struct t_env *e = *state;
	struct t_cthread t[6];
	pthread_t th[6];
	struct s3_cache_stats cs;
	struct s3_cache *c;
	unsigned int hits = 0;

	assert_int_equal(s3_cache_new(&c, e->cdir, 10 * MiB), 0);
	for (int i = 0; i < 6; i++) {
		t[i] = (struct t_cthread){ .c = c, .seed = 1000 + (uint64_t)i };
		assert_int_equal(pthread_create(&th[i], NULL, t_cache_worker, &t[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
		hits += t[i].hits;
	}
	assert_true(hits > 0);
	s3_cache_stats(c, &cs);
	assert_true(cs.evictions > 0);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
}

/* ---- the budget ---------------------------------------------------------------------- */

static void test_budget_basic(void **state)
{
	struct s3_budget_stats bs;
	struct s3_budget *b;

	(void)state;
	assert_int_equal(s3_budget_new(&b, 10 * MiB, 0), 0);
	assert_int_equal(s3_budget_take(b, 4 * MiB, MiB), 4 * MiB);
	assert_int_equal(s3_budget_take(b, 8 * MiB, MiB), 6 * MiB); /* what is left */
	assert_int_equal(s3_budget_take(b, 8 * MiB, MiB), MiB);     /* starved: the minimum */
	assert_int_equal(s3_budget_take(b, 0, 0), 0);
	s3_budget_stats(b, &bs);
	assert_int_equal(bs.used, 11 * MiB);
	assert_int_equal(bs.peak, 11 * MiB);
	assert_int_equal(bs.starved, 1);
	s3_budget_give(b, 11 * MiB);
	/* a minimum larger than the whole budget is granted when nobody holds anything */
	assert_int_equal(s3_budget_take(b, 20 * MiB, 12 * MiB), 12 * MiB);
	s3_budget_give(b, 6 * MiB);
	s3_budget_give(b, 6 * MiB);
	s3_budget_stats(b, &bs);
	assert_int_equal(bs.used, 0);
	s3_budget_free(b);
	assert_int_equal(s3_budget_new(&b, 0, 0), 0);
	s3_budget_stats(b, &bs);
	assert_int_equal(bs.limit, 64 * MiB);
	s3_budget_free(b);
}

struct t_giver {
	struct s3_budget *b;
	size_t n;
};

static void *t_give_later(void *arg)
{
	struct t_giver *g = arg;

	usleep(50 * 1000);
	s3_budget_give(g->b, g->n);
	return NULL;
}

/* A take that does not fit waits for a give, then gets what it wanted. */
static void test_budget_wait(void **state)
{
	struct s3_budget_stats bs;
	struct s3_budget *b;
	struct t_giver g;
	pthread_t th;

	(void)state;
	assert_int_equal(s3_budget_new(&b, 4 * MiB, 10000), 0);
	assert_int_equal(s3_budget_take(b, 4 * MiB, 4 * MiB), 4 * MiB);
	g = (struct t_giver){ .b = b, .n = 3 * MiB };
	assert_int_equal(pthread_create(&th, NULL, t_give_later, &g), 0);
	assert_int_equal(s3_budget_take(b, 2 * MiB, 2 * MiB), 2 * MiB);
	pthread_join(th, NULL);
	s3_budget_stats(b, &bs);
	assert_int_equal(bs.waits, 1);
	assert_int_equal(bs.starved, 0);
	assert_int_equal(bs.peak, 4 * MiB);
	s3_budget_give(b, 3 * MiB);
	s3_budget_free(b);

	/* waiting in vain ends with the minimum */
	assert_int_equal(s3_budget_new(&b, 4 * MiB, 30), 0);
	assert_int_equal(s3_budget_take(b, 4 * MiB, 4 * MiB), 4 * MiB);
	assert_int_equal(s3_budget_take(b, 2 * MiB, MiB), MiB);
	s3_budget_stats(b, &bs);
	assert_int_equal(bs.starved, 1);
	s3_budget_give(b, 5 * MiB);
	s3_budget_free(b);
}

/* ---- the stream ---------------------------------------------------------------------- */

/* A fake object behind the fetch callback, with everything a test wants to observe. */
struct t_obj {
	unsigned char *data;
	uint64_t size;
	uint64_t visible; /* what a GET can return: less than size = the object was replaced */
	unsigned int delay_us;
	unsigned int fail_call; /* the call (1-based) that fails with -EIO; 0: none */
	pthread_mutex_t lock;
	unsigned int calls; /* lock: everything below */
	struct {
		uint64_t off;
		size_t len;
	} log[T_LOG_MAX];
	size_t nlog;
	unsigned int inflight, max_inflight;
	uint64_t inflight_bytes, max_inflight_bytes;
};

static void t_obj_init(struct t_obj *o, uint64_t size, uint64_t seed)
{
	memset(o, 0, sizeof(*o));
	o->data = malloc(size);
	assert_non_null(o->data);
	t_pattern(o->data, size, seed, 0);
	o->size = o->visible = size;
	pthread_mutex_init(&o->lock, NULL);
}

static void t_obj_reset(struct t_obj *o)
{
	pthread_mutex_lock(&o->lock);
	o->calls = 0;
	o->nlog = 0;
	o->max_inflight = 0;
	o->max_inflight_bytes = 0;
	pthread_mutex_unlock(&o->lock);
}

static void t_obj_release(struct t_obj *o)
{
	pthread_mutex_destroy(&o->lock);
	free(o->data);
}

static int t_fetch(void *arg, uint64_t off, size_t len, void *buf, size_t *got)
{
	struct t_obj *o = arg;
	unsigned int call;
	int rc = 0;

	*got = 0;
	pthread_mutex_lock(&o->lock);
	call = ++o->calls;
	if (o->nlog < T_LOG_MAX) {
		o->log[o->nlog].off = off;
		o->log[o->nlog].len = len;
		o->nlog++;
	}
	o->inflight++;
	o->inflight_bytes += len;
	if (o->inflight > o->max_inflight)
		o->max_inflight = o->inflight;
	if (o->inflight_bytes > o->max_inflight_bytes)
		o->max_inflight_bytes = o->inflight_bytes;
	pthread_mutex_unlock(&o->lock);

	if (o->delay_us)
		usleep(o->delay_us);
	if (call == o->fail_call) {
		rc = -EIO;
	} else if (off > o->visible) {
		rc = -EINVAL;
	} else {
		*got = o->visible - off < len ? (size_t)(o->visible - off) : len;
		memset(buf, 0xa5, len); /* what was not sent must not look right */
		memcpy(buf, o->data + off, *got);
	}

	pthread_mutex_lock(&o->lock);
	o->inflight--;
	o->inflight_bytes -= len;
	pthread_mutex_unlock(&o->lock);
	return rc;
}

static struct s3_stream *t_stream(struct t_obj *o, const char *identity, struct s3_cache *c,
				  struct s3_budget *b, unsigned int parallel)
{
	struct s3_stream_opts opts = {
		.key = "videos/obj.mp4",
		.identity = identity,
		.size = o->size,
		.fetch = t_fetch,
		.fetch_arg = o,
		.cache = c,
		.budget = b,
		.parallel = parallel,
	};
	struct s3_stream *st;

	assert_int_equal(s3_stream_new(&st, &opts), 0);
	return st;
}

/* Read [off, off + n) through @st and compare with the object. */
static void t_read(struct s3_stream *st, struct t_obj *o, uint64_t off, size_t n)
{
	unsigned char *buf = malloc(n ? n : 1);
	size_t want = off >= o->size ? 0 : (o->size - off < n ? (size_t)(o->size - off) : n);
	ssize_t got;

	assert_non_null(buf);
	got = s3_stream_read(st, buf, n, off);
	assert_int_equal(got, want);
	if (want)
		assert_memory_equal(buf, o->data + off, want);
	free(buf);
}

/* Random reads (runs of sequential ones, seeks back and forth, odd sizes, reads that cross
 * blocks and the end) compared byte for byte; with and without a cache, a cache smaller
 * than the object, and a tiny budget. */
static void test_stream_random(void **state)
{
	struct t_env *e = *state;
	struct t_obj o;
	struct s3_budget *b;
	struct s3_budget_stats bs;

	t_obj_init(&o, 24 * MiB + 12345, 42);
	for (int mode = 0; mode < 4; mode++) {
		uint64_t cache_bytes[] = { 0, 64 * MiB, 3 * MiB, 64 * MiB };
		uint64_t budgets[] = { 16 * MiB, 16 * MiB, 16 * MiB, 256 * KiB };
		struct s3_cache *c = NULL;
		struct s3_stream *st;
		uint64_t r = 99 + (uint64_t)mode, off = 0;

		if (cache_bytes[mode])
			assert_int_equal(s3_cache_new(&c, e->cdir, cache_bytes[mode]), 0);
		assert_int_equal(s3_budget_new(&b, budgets[mode], 0), 0);
		st = t_stream(&o, "etag:1", c, b, 4);
		for (int i = 0; i < 1000; i++) {
			size_t n;

			r = t_mix(r);
			if (r % 8 == 0) /* a seek, sometimes past the end */
				off = (r >> 8) % (o.size + 1000);
			n = r % 3 ? 1 + (size_t)(r >> 40) % (160 * KiB) :
				    128 * KiB; /* FUSE: 128 KiB */
			if (r % 16 == 0)
				n = 1 + (size_t)(r >> 40) % (3 * MiB);
			t_read(st, &o, off, n);
			off += n;
			if (off > o.size)
				off = 0;
		}
		t_read(st, &o, o.size - 10, 100);
		t_read(st, &o, o.size, 100);
		s3_stream_free(st);
		s3_budget_stats(b, &bs);
		assert_int_equal(bs.used, 0);
		if (c) {
			t_check_disk(c, e->cdir);
			s3_cache_free(c);
		}
		s3_budget_free(b);
	}
	t_obj_release(&o);
}

static void t_expect_log(struct t_obj *o, size_t from, const uint64_t (*want)[2], size_t n)
{
	assert_true(o->nlog >= from + n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(o->log[from + i].off, want[i][0]);
		assert_int_equal(o->log[from + i].len, want[i][1]);
	}
}

/*
 * The window as the fetch calls show it: 128 KiB, doubling while reads are sequential,
 * block-aligned 1 MiB GETs from 1 MiB on, capped at 8 MiB, back to 128 KiB after a seek.
 * With a cache, a second reader of the same object fetches nothing, and a new identity
 * fetches again.
 */
static void test_stream_window(void **state)
{
	struct t_env *e = *state;
	static const uint64_t seq[][2] = {
		{ 0, 128 * KiB },         { 128 * KiB, 256 * KiB }, { 384 * KiB, 512 * KiB },
		{ 896 * KiB, 128 * KiB }, { 1 * MiB, MiB },         { 2 * MiB, MiB },
		{ 3 * MiB, MiB },         { 4 * MiB, MiB },         { 5 * MiB, MiB },
		{ 6 * MiB, MiB },         { 7 * MiB, MiB },         { 8 * MiB, MiB },
		{ 9 * MiB, MiB },         { 10 * MiB, MiB },        { 11 * MiB, MiB },
		{ 12 * MiB, MiB },        { 13 * MiB, MiB },        { 14 * MiB, MiB },
		{ 15 * MiB, MiB },
	};
	static const uint64_t after_seek[][2] = {
		{ 20 * MiB, 128 * KiB },
		{ 20 * MiB + 128 * KiB, 256 * KiB },
		{ 20 * MiB + 384 * KiB, 512 * KiB },
		{ 20 * MiB + 896 * KiB, 128 * KiB },
		{ 21 * MiB, MiB },
	};
	struct s3_stream_stats ss;
	struct s3_stream *st;
	struct s3_cache *c;
	struct t_obj o;
	size_t n;

	t_obj_init(&o, 30 * MiB, 7);
	for (int cached = 0; cached < 2; cached++) {
		c = NULL;
		if (cached)
			assert_int_equal(s3_cache_new(&c, e->cdir, 64 * MiB), 0);
		t_obj_reset(&o);
		st = t_stream(&o, "etag:1", c, NULL, 1); /* one at a time: calls in order */
		for (uint64_t off = 0; off < 10 * MiB; off += 128 * KiB)
			t_read(st, &o, off, 128 * KiB);
		n = sizeof(seq) / sizeof(seq[0]);
		assert_int_equal(o.nlog, n);
		t_expect_log(&o, 0, seq, n);
		s3_stream_stats(st, &ss);
		assert_int_equal(ss.window, 8 * MiB);
		if (cached) /* block 0 was fetched in four pieces and cached whole */
			assert_true(s3_cache_contains(c, "videos/obj.mp4", "etag:1", 0));

		/* a seek: back to 128 KiB, then doubling again */
		for (uint64_t off = 20 * MiB; off < 21 * MiB; off += 128 * KiB)
			t_read(st, &o, off, 128 * KiB);
		t_expect_log(&o, n, after_seek, sizeof(after_seek) / sizeof(after_seek[0]));
		s3_stream_stats(st, &ss);
		assert_int_equal(ss.window, 2 * MiB);
		if (cached)
			assert_int_equal(ss.held, 0); /* all it fetched is in the cache */
		s3_stream_free(st);

		if (!cached)
			continue;
		/* a second reader: everything from the cache */
		t_obj_reset(&o);
		st = t_stream(&o, "etag:1", c, NULL, 4);
		for (uint64_t off = 0; off < 16 * MiB; off += 128 * KiB)
			t_read(st, &o, off, 128 * KiB);
		assert_int_equal(o.calls, 0);
		s3_stream_stats(st, &ss);
		assert_int_equal(ss.cache_hits, 128);
		/* past what was cached, it fetches; cached blocks in a window are skipped */
		t_read(st, &o, 16 * MiB, 128 * KiB);
		assert_true(o.calls > 0);
		for (size_t i = 0; i < o.nlog; i++)
			assert_true(o.log[i].off >= 16 * MiB);
		s3_stream_free(st);
		/* the object replaced: the same key with a new identity fetches */
		t_obj_reset(&o);
		st = t_stream(&o, "etag:2", c, NULL, 4);
		t_read(st, &o, 0, 128 * KiB);
		assert_int_equal(o.calls, 1);
		s3_stream_free(st);
		t_check_disk(c, e->cdir);
		s3_cache_free(c);
	}
	t_obj_release(&o);
}

/* Large windows go out as several GETs at once, never more than asked. */
static void test_stream_parallel(void **state)
{
	struct t_env *e = *state;
	struct s3_stream *st;
	struct s3_cache *c;
	struct t_obj o;

	t_obj_init(&o, 20 * MiB, 3);
	o.delay_us = 20000;
	for (unsigned int par = 1; par <= 4; par++) {
		t_obj_reset(&o);
		st = t_stream(&o, "etag:1", NULL, NULL, par);
		for (uint64_t off = 0; off < 16 * MiB; off += 256 * KiB)
			t_read(st, &o, off, 256 * KiB);
		assert_int_equal(o.max_inflight, par);
		s3_stream_free(st);
	}
	/* the same with a cache: each helper thread stores the blocks it fetched */
	assert_int_equal(s3_cache_new(&c, e->cdir, 64 * MiB), 0);
	t_obj_reset(&o);
	st = t_stream(&o, "etag:1", c, NULL, 4);
	for (uint64_t off = 0; off < 16 * MiB; off += 256 * KiB)
		t_read(st, &o, off, 256 * KiB);
	assert_int_equal(o.max_inflight, 4);
	for (uint64_t blk = 0; blk < 16; blk++)
		assert_true(s3_cache_contains(c, "videos/obj.mp4", "etag:1", blk));
	t_check_disk(c, e->cdir);
	s3_stream_free(st);
	s3_cache_free(c);
	t_obj_release(&o);
}

struct t_reader {
	struct t_obj *o;
	struct s3_cache *c;
	struct s3_budget *b;
	uint64_t seed;
	unsigned int bad;
};

static void *t_reader_main(void *arg)
{
	struct t_reader *t = arg;
	struct s3_stream_opts opts = {
		.key = "videos/obj.mp4",
		.identity = "etag:1",
		.size = t->o->size,
		.fetch = t_fetch,
		.fetch_arg = t->o,
		.cache = t->c,
		.budget = t->b,
	};
	unsigned char *buf = malloc(256 * KiB);
	struct s3_stream *st = NULL;
	uint64_t r = t->seed, off = 0;

	if (!buf || s3_stream_new(&st, &opts)) {
		t->bad++;
		goto out;
	}
	for (int i = 0; i < 400; i++) {
		size_t n, want;
		ssize_t got;

		r = t_mix(r);
		if (r % 32 == 0)
			off = (r >> 8) % t->o->size;
		n = r % 3 ? 128 * KiB : 1 + (size_t)(r >> 40) % (256 * KiB);
		want = t->o->size - off < n ? (size_t)(t->o->size - off) : n;
		got = s3_stream_read(st, buf, n, off);
		if (got != (ssize_t)want || memcmp(buf, t->o->data + off, want))
			t->bad++;
		off += n;
		if (off >= t->o->size)
			off = 0;
	}
out:
	s3_stream_free(st);
	free(buf);
	return NULL;
}

/* Several readers at once share the budget: bytes in flight never exceed it. */
static void test_stream_budget(void **state)
{
	struct t_env *e = *state;
	struct s3_budget_stats bs;
	struct t_reader t[4];
	pthread_t th[4];
	struct s3_budget *b;
	struct s3_cache *c;
	struct t_obj o;

	t_obj_init(&o, 40 * MiB, 11);
	o.delay_us = 500;
	for (int mode = 0; mode < 3; mode++) {
		/* 0: no cache; 1: a cache; 2: a budget far too small, no waiting (starved) */
		uint64_t limit = mode == 2 ? 512 * KiB : 6 * MiB;

		c = NULL;
		if (mode == 1)
			assert_int_equal(s3_cache_new(&c, e->cdir, 32 * MiB), 0);
		assert_int_equal(s3_budget_new(&b, limit, mode == 2 ? 0 : 10000), 0);
		t_obj_reset(&o);
		for (int i = 0; i < 4; i++) {
			t[i] = (struct t_reader){ .o = &o, .c = c, .b = b, .seed = 5 + (uint64_t)i };
			assert_int_equal(pthread_create(&th[i], NULL, t_reader_main, &t[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(t[i].bad, 0);
		}
		s3_budget_stats(b, &bs);
		assert_int_equal(bs.used, 0);
		if (mode < 2) {
			assert_int_equal(bs.starved, 0);
			assert_true(bs.peak <= limit);
			assert_true(o.max_inflight_bytes <= limit);
			assert_true(o.max_inflight > 1);
		} else {
			/* starved readers still progress, one block each beyond the limit at most */
			assert_true(bs.starved > 0);
			assert_true(bs.peak <= limit + 4 * S3_CACHE_BLOCK);
		}
		if (c) {
			t_check_disk(c, e->cdir);
			s3_cache_free(c);
		}
		s3_budget_free(b);
	}
	t_obj_release(&o);
}

/* Fetch call N fails, for N = 1, 2, ...: that read fails cleanly (or returns what it had),
 * the next one succeeds, every byte returned is right, nothing leaks, the budget returns
 * to zero. */
static void test_stream_faults(void **state)
{
	struct t_env *e = *state;
	struct s3_budget_stats bs;
	struct s3_budget *b;
	struct t_obj o;
	unsigned char *buf = malloc(512 * KiB);

	assert_non_null(buf);
	t_obj_init(&o, 6 * MiB + 777, 21);
	assert_int_equal(s3_budget_new(&b, 8 * MiB, 0), 0);
	for (unsigned int n = 1;; n++) {
		struct s3_cache *c = NULL;
		struct s3_stream *st;
		uint64_t off = 0, r = n;
		unsigned int failures = 0;

		if (n % 2)
			assert_int_equal(s3_cache_new(&c, e->cdir, 16 * MiB), 0);
		t_obj_reset(&o);
		o.fail_call = n;
		st = t_stream(&o, "etag:1", c, b, 4);
		while (off < o.size) {
			size_t len, want;
			ssize_t got;

			r = t_mix(r);
			if (r % 16 == 0)
				off = (r >> 8) % o.size;
			len = 1 + (size_t)(r >> 20) % (512 * KiB);
			want = o.size - off < len ? (size_t)(o.size - off) : len;
			got = s3_stream_read(st, buf, len, off);
			if (got < 0) {
				assert_int_equal(got, -EIO);
				failures++;
				got = s3_stream_read(st, buf, len, off); /* a retry succeeds */
			}
			assert_true(got > 0 && (size_t)got <= want);
			assert_memory_equal(buf, o.data + off, (size_t)got);
			off += (size_t)got;
		}
		assert_true(failures <= 1);
		s3_stream_free(st);
		s3_budget_stats(b, &bs);
		assert_int_equal(bs.used, 0);
		if (c) {
			t_check_disk(c, e->cdir);
			s3_cache_free(c);
		}
		if (o.calls < n)
			break; /* the failing call was never reached: done */
	}
	s3_budget_free(b);
	t_obj_release(&o);
	free(buf);
}

/* The object was replaced by a shorter one after open: -EIO, never bytes past its end, and
 * the key's blocks leave the cache. */
static void test_stream_changed(void **state)
{
	struct t_env *e = *state;
	struct s3_cache_stats cs;
	struct s3_stream *st;
	struct s3_cache *c;
	struct t_obj o;
	unsigned char *buf = malloc(128 * KiB);
	uint64_t off = 0;
	ssize_t got = 0;

	assert_non_null(buf);
	t_obj_init(&o, 5 * MiB, 8);
	o.visible = 3 * MiB + 5000;
	assert_int_equal(s3_cache_new(&c, e->cdir, 16 * MiB), 0);
	st = t_stream(&o, "etag:1", c, NULL, 4);
	while (off < o.size) {
		got = s3_stream_read(st, buf, 128 * KiB, off);
		if (got < 0)
			break;
		assert_int_equal(got, 128 * KiB);
		assert_memory_equal(buf, o.data + off, 128 * KiB);
		off += 128 * KiB;
	}
	assert_int_equal(got, -EIO);
	assert_true(off <= 3 * MiB + 5000);
	s3_cache_stats(c, &cs);
	assert_true(cs.forgotten > 0);
	assert_int_equal(cs.blocks, 0);
	s3_stream_free(st);
	t_check_disk(c, e->cdir);
	s3_cache_free(c);
	t_obj_release(&o);
	free(buf);
}

static void test_stream_args(void **state)
{
	struct s3_stream_opts opts = { .key = "k", .identity = "i", .size = 10 };
	struct s3_stream *st;
	struct t_obj o;
	unsigned char buf[16];

	(void)state;
	assert_int_equal(s3_stream_new(&st, &opts), -EINVAL); /* no fetch */
	assert_null(st);
	t_obj_init(&o, 10, 1);
	opts.fetch = t_fetch;
	opts.fetch_arg = &o;
	opts.ra_min = 4 * MiB;
	opts.ra_max = 1 * MiB;
	assert_int_equal(s3_stream_new(&st, &opts), -EINVAL);
	opts.ra_min = opts.ra_max = 0;
	assert_int_equal(s3_stream_new(&st, &opts), 0);
	assert_int_equal(s3_stream_read(st, buf, sizeof(buf), 0), 10);
	assert_memory_equal(buf, o.data, 10);
	assert_int_equal(s3_stream_read(st, buf, sizeof(buf), 10), 0);
	assert_int_equal(s3_stream_read(st, buf, 0, 0), 0);
	s3_stream_free(st);
	s3_stream_free(NULL);
	s3_cache_free(NULL);
	s3_cache_forget(NULL, "k");
	s3_cache_forget_prefix(NULL, "k");
	s3_budget_free(NULL);
	t_obj_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_hit_miss, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_identity, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_lru, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_bound, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_forget, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_atomic, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_threads, t_setup, t_teardown),
		cmocka_unit_test(test_budget_basic),
		cmocka_unit_test(test_budget_wait),
		cmocka_unit_test_setup_teardown(test_stream_random, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_stream_window, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_stream_parallel, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_stream_budget, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_stream_faults, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_stream_changed, t_setup, t_teardown),
		cmocka_unit_test(test_stream_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
