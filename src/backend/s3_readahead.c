/*
 * s3_readahead.c — how the S3 backend reads an object (s3_cache.h): the global read-ahead
 * budget and the per-file stream engine on top of the disk block cache (s3_cache.c).
 *
 * DESIGN
 *   - Windows (mountpoint-s3's shape): a stream fetches a window at the first byte a read
 *     cannot get from memory or the cache. The first window is ra_min; each fill doubles
 *     the next one up to ra_max while reads continue where the last read or fill ended; a
 *     fill anywhere else is a seek and starts again at ra_min. A window of at least a block
 *     is stretched to end on a block boundary, so every block after the first is fetched
 *     whole: one GET per block, up to `parallel` at once (the reading thread plus helper
 *     threads started for that fill and joined before it returns). Blocks already in the
 *     cache are not fetched.
 *   - Memory: read-ahead lives in slots, one per block, holding a contiguous valid range of
 *     that block. A whole block fetched is stored in the cache by the thread that fetched
 *     it, and then dropped from memory once the read returns (later reads get it from the
 *     cache, i.e. from the page cache). Without a cache a slot is kept until the reader
 *     has gone past it. A block begun by small windows (the first ones after open or a
 *     seek) is kept and extended by the next sequential fill until it is whole, so the start
 *     of a file (the part every player reads first) is cached too.
 *   - Budget: every byte a slot holds is taken from the global budget before it is
 *     fetched and given back when the slot is dropped. A fill asks for its whole window and
 *     at least its first piece (what the read needs now); when the budget is short the
 *     window shrinks, never below that piece. So memory for read-ahead across all open
 *     files stays within the budget plus one block per reading thread (when starved).
 *   - Consistency: bytes of a stream come from one (key, identity); a GET that returns
 *     fewer bytes than the object had when opened means it was replaced: -EIO, and nothing
 *     of that fill is cached.
 *
 * Threads: a budget is shared by every thread (b->lock protects its counters; takers that
 * wait sleep on b->cond). A stream is used by one thread at a time; during a fill its
 * helper threads write only to their own piece and slot, and the piece counter and the
 * stream's fetch counters are protected by the fill's lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hubfs/log.h"

#include "backend/s3_cache.h"

#define RA_MIN_DEFAULT (128u << 10)
#define RA_MAX_DEFAULT (8u << 20)
#define RA_MAX_LIMIT (16u << 20)
#define RA_PIECES_MAX (RA_MAX_LIMIT / S3_CACHE_BLOCK + 2) /* a window not block-aligned */
#define RA_PARALLEL_DEFAULT 4
#define RA_PARALLEL_MAX 16
#define BUDGET_DEFAULT (64ULL << 20)

/* ---- budget -------------------------------------------------------------------------- */

struct s3_budget {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled when bytes are given back */
	unsigned int wait_ms;
	struct s3_budget_stats st; /* lock */
};

int s3_budget_new(struct s3_budget **out, uint64_t limit, unsigned int wait_ms)
{
	struct s3_budget *b;
	pthread_condattr_t ca;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->st.limit = limit ? limit : BUDGET_DEFAULT;
	b->wait_ms = wait_ms;
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = b;
	return 0;
}

void s3_budget_free(struct s3_budget *b)
{
	if (!b)
		return;
	if (b->st.used)
		hubfs_log(HUBFS_LOG_WARN, "s3: read-ahead budget freed with %llu bytes taken",
			  (unsigned long long)b->st.used);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

size_t s3_budget_take(struct s3_budget *b, size_t want, size_t min)
{
	struct s3_budget_stats *st = &b->st;
	size_t got;

	if (min > want)
		min = want;
	if (!want)
		return 0;
	pthread_mutex_lock(&b->lock);
	/* Waiting helps only while someone holds bytes that can come back. */
	if (st->used + min > st->limit && st->used && b->wait_ms) {
		struct timespec dl;

		st->waits++;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += b->wait_ms / 1000;
		dl.tv_nsec += (long)(b->wait_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		while (st->used + min > st->limit && st->used)
			if (pthread_cond_timedwait(&b->cond, &b->lock, &dl) == ETIMEDOUT)
				break;
	}
	if (st->used + min <= st->limit) {
		got = st->limit - st->used < want ? (size_t)(st->limit - st->used) : want;
	} else {
		got = min; /* starved: a read must always make progress */
		st->starved++;
	}
	st->used += got;
	if (st->used > st->peak)
		st->peak = st->used;
	pthread_mutex_unlock(&b->lock);
	return got;
}

void s3_budget_give(struct s3_budget *b, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&b->lock);
	if (n > b->st.used) {
		hubfs_log(HUBFS_LOG_ERR, "s3: read-ahead budget: %zu given back, %llu taken", n,
			  (unsigned long long)b->st.used);
		n = (size_t)b->st.used;
	}
	b->st.used -= n;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

void s3_budget_stats(struct s3_budget *b, struct s3_budget_stats *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->st;
	pthread_mutex_unlock(&b->lock);
}

/* ---- stream -------------------------------------------------------------------------- */

struct ra_slot {
	bool used;
	bool cached; /* whole and stored in the cache: memory may let it go */
	uint64_t block;
	uint64_t lo, hi; /* valid bytes [lo, hi) of the object, inside the block */
	char *buf;       /* object bytes [lo, lo + cap) */
	size_t cap;      /* charged to the budget */
};

struct s3_stream {
	char *key, *identity;
	uint64_t size;
	s3_fetch_fn fetch;
	void *fetch_arg;
	struct s3_cache *cache;
	struct s3_budget *budget;
	size_t ra_min, ra_max;
	unsigned int parallel;

	size_t window;     /* the next fill's window */
	uint64_t next;     /* where the last read ended */
	uint64_t fill_end; /* where the last fill ended */
	struct ra_slot *slots;
	size_t nslots;
	struct s3_stream_stats st; /* held, window, counters */
};

/* One GET of a fill: bytes [off, off + len) into slot->buf at off - slot->lo. */
struct ra_piece {
	struct ra_slot *slot;
	uint64_t off;
	size_t len;
	size_t cost;  /* bytes taken from the budget for it */
	bool fresh;   /* the slot was made for this piece */
	bool changed; /* the object ended early: it is not the one opened */
	int rc;
};

struct ra_fill {
	struct s3_stream *st;
	struct ra_piece *pieces;
	size_t n;
	pthread_mutex_t lock;
	size_t next;    /* lock: the next piece to fetch */
	uint64_t calls; /* lock: fetch calls made */
	uint64_t bytes; /* lock: bytes they returned */
};

static uint64_t ra_block_start(uint64_t block)
{
	return block * S3_CACHE_BLOCK;
}

static uint64_t ra_block_end(const struct s3_stream *st, uint64_t block)
{
	uint64_t end = (block + 1) * S3_CACHE_BLOCK;

	return end < st->size ? end : st->size;
}

static bool ra_slot_whole(const struct s3_stream *st, const struct ra_slot *s)
{
	return s->lo == ra_block_start(s->block) && s->hi == ra_block_end(st, s->block);
}

static void ra_give(struct s3_stream *st, size_t n)
{
	if (st->budget)
		s3_budget_give(st->budget, n);
}

static void ra_slot_drop(struct s3_stream *st, struct ra_slot *s)
{
	ra_give(st, s->cap);
	st->st.held -= s->cap;
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static struct ra_slot *ra_slot_of(struct s3_stream *st, uint64_t block)
{
	for (size_t i = 0; i < st->nslots; i++)
		if (st->slots[i].used && st->slots[i].block == block)
			return &st->slots[i];
	return NULL;
}

static struct ra_slot *ra_slot_free(struct s3_stream *st)
{
	for (size_t i = 0; i < st->nslots; i++)
		if (!st->slots[i].used)
			return &st->slots[i];
	return NULL;
}

int s3_stream_new(struct s3_stream **out, const struct s3_stream_opts *o)
{
	struct s3_stream *st;
	int rc = -ENOMEM;

	*out = NULL;
	if (!o->fetch || !o->key || !o->identity)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->size = o->size;
	st->fetch = o->fetch;
	st->fetch_arg = o->fetch_arg;
	st->cache = o->cache;
	st->budget = o->budget;
	st->ra_min = o->ra_min ? o->ra_min : RA_MIN_DEFAULT;
	st->ra_max = o->ra_max ? o->ra_max : RA_MAX_DEFAULT;
	if (st->ra_max > RA_MAX_LIMIT)
		st->ra_max = RA_MAX_LIMIT;
	if (st->ra_min > st->ra_max) {
		rc = -EINVAL;
		goto fail;
	}
	st->parallel = o->parallel ? o->parallel : RA_PARALLEL_DEFAULT;
	if (st->parallel > RA_PARALLEL_MAX)
		st->parallel = RA_PARALLEL_MAX;
	st->window = st->ra_min;
	st->st.window = st->window;
	/* a window's pieces, plus as many slots again still ahead of the reader */
	st->nslots = 2 * (st->ra_max / S3_CACHE_BLOCK + 2) + 2;
	st->key = strdup(o->key);
	st->identity = strdup(o->identity);
	st->slots = calloc(st->nslots, sizeof(*st->slots));
	if (!st->key || !st->identity || !st->slots)
		goto fail;
	*out = st;
	return 0;
fail:
	s3_stream_free(st);
	return rc;
}

void s3_stream_free(struct s3_stream *st)
{
	if (!st)
		return;
	for (size_t i = 0; st->slots && i < st->nslots; i++)
		if (st->slots[i].used)
			ra_slot_drop(st, &st->slots[i]);
	free(st->slots);
	free(st->key);
	free(st->identity);
	free(st);
}

void s3_stream_stats(struct s3_stream *st, struct s3_stream_stats *out)
{
	*out = st->st;
}

/* ---- fill ---------------------------------------------------------------------------- */

/* Fetch one piece; a whole block is then stored in the cache by the same thread. */
static void ra_fetch_piece(struct ra_fill *f, struct ra_piece *p)
{
	struct s3_stream *st = f->st;
	struct ra_slot *s = p->slot;
	size_t got = 0;

	p->rc = st->fetch(st->fetch_arg, p->off, p->len, s->buf + (p->off - s->lo), &got);
	pthread_mutex_lock(&f->lock);
	f->calls++;
	f->bytes += got;
	pthread_mutex_unlock(&f->lock);
	if (!p->rc && got != p->len) {
		hubfs_log(HUBFS_LOG_WARN,
			  "s3: '%s' ended at %llu, before the %llu bytes it had when opened "
			  "(replaced?)",
			  st->key, (unsigned long long)(p->off + got),
			  (unsigned long long)st->size);
		p->rc = -EIO;
		p->changed = true;
	}
	if (p->rc)
		return;
	s->hi = p->off + p->len;
	if (st->cache && ra_slot_whole(st, s))
		s->cached = !s3_cache_put(st->cache, st->key, st->identity, s->block, s->buf,
					  (size_t)(s->hi - s->lo));
}

static void *ra_worker(void *arg)
{
	struct ra_fill *f = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&f->lock);
		i = f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i >= f->n)
			break;
		ra_fetch_piece(f, &f->pieces[i]);
	}
	return NULL;
}

static void ra_run(struct ra_fill *f, unsigned int parallel)
{
	pthread_t threads[RA_PARALLEL_MAX];
	unsigned int helpers = 0, want;

	want = f->n < parallel ? (unsigned int)f->n : parallel;
	pthread_mutex_init(&f->lock, NULL);
	for (unsigned int t = 1; t < want; t++)
		if (!pthread_create(&threads[helpers], NULL, ra_worker, f))
			helpers++;
	ra_worker(f); /* the reading thread takes pieces too (all of them if no helper) */
	for (unsigned int t = 0; t < helpers; t++)
		pthread_join(threads[t], NULL);
	pthread_mutex_destroy(&f->lock);
}

/*
 * Before a fill at @at: drop what it makes useless. A seek drops all the read-ahead; a
 * sequential fill drops what lies behind @at. Block(@at)'s slot survives only when the fill
 * can extend it (it ends exactly at @at and starts at its block's start).
 */
static void ra_prune(struct s3_stream *st, uint64_t at, bool seq)
{
	uint64_t b0 = at / S3_CACHE_BLOCK;

	for (size_t i = 0; i < st->nslots; i++) {
		struct ra_slot *s = &st->slots[i];

		if (!s->used)
			continue;
		if (s->block == b0) {
			if (s->hi != at || s->lo != ra_block_start(b0))
				ra_slot_drop(st, s);
		} else if (!seq || s->hi <= at) {
			ra_slot_drop(st, s);
		}
	}
}

/*
 * Plan the pieces of a fill of [@at, @end): one per block, skipping blocks already cached
 * or held, extending a slot that ends where its piece starts. Sets each piece's slot (NULL:
 * a fresh one is needed), off, len, cost. Returns the number of pieces.
 */
static size_t ra_plan(struct s3_stream *st, uint64_t at, uint64_t end, struct ra_piece *p,
		      size_t max)
{
	size_t n = 0;

	for (uint64_t b = at / S3_CACHE_BLOCK; b * S3_CACHE_BLOCK < end && n < max; b++) {
		uint64_t ps = at > ra_block_start(b) ? at : ra_block_start(b);
		uint64_t pe = ra_block_end(st, b) < end ? ra_block_end(st, b) : end;
		struct ra_slot *s = ra_slot_of(st, b);
		bool first = n == 0;

		if (!first && st->cache && !s &&
		    s3_cache_contains(st->cache, st->key, st->identity, b))
			continue;
		if (s && s->lo <= ps && s->hi >= ps) {
			if (s->hi >= pe)
				continue; /* held already */
			ps = s->hi;
		} else if (s) {
			ra_slot_drop(st, s); /* a piece of the block we cannot extend */
			s = NULL;
		}
		memset(&p[n], 0, sizeof(p[n]));
		p[n].slot = s;
		p[n].off = ps;
		p[n].len = (size_t)(pe - ps);
		p[n].cost = p[n].len;
		if (s) /* the slot grows to [lo, pe); a failed fetch may have grown it already */
			p[n].cost = pe - s->lo > s->cap ? (size_t)(pe - s->lo) - s->cap : 0;
		n++;
	}
	return n;
}

/* Give the slots their memory. Returns how many pieces got it (the rest are cut off). */
static size_t ra_alloc(struct s3_stream *st, struct ra_piece *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct ra_slot *s = p[i].slot;

		if (s && p[i].cost) {
			char *grown = realloc(s->buf, s->cap + p[i].cost);

			if (!grown)
				return i;
			s->buf = grown;
			s->cap += p[i].cost;
		} else if (!s) {
			s = ra_slot_free(st);
			if (!s)
				return i;
			s->buf = malloc(p[i].len);
			if (!s->buf)
				return i;
			s->used = true;
			s->cached = false;
			s->block = p[i].off / S3_CACHE_BLOCK;
			s->lo = s->hi = p[i].off;
			s->cap = p[i].len;
			p[i].slot = s;
			p[i].fresh = true;
		}
		st->st.held += p[i].cost;
	}
	return n;
}

/* Fetch a window at @at, the first byte of the read (which wants @need more) that neither
 * memory nor the cache has. 0, or the error of the piece covering @at. */
static int ra_fill(struct s3_stream *st, uint64_t at, size_t need, bool seq_read)
{
	struct ra_piece pieces[RA_PIECES_MAX];
	size_t maxp = sizeof(pieces) / sizeof(pieces[0]);
	struct ra_fill f = { .st = st, .pieces = pieces };
	bool seq = seq_read || at == st->fill_end;
	size_t n, w, total = 0, granted, used = 0, charged = 0;
	bool changed = false;
	uint64_t end;
	int rc;

	if (!seq)
		st->window = st->ra_min;
	ra_prune(st, at, seq);
	w = need < st->ra_max ? need : st->ra_max;
	w = st->window > w ? st->window : w;
	end = at + w;
	if (st->window >= S3_CACHE_BLOCK)
		end = (end + S3_CACHE_BLOCK - 1) / S3_CACHE_BLOCK * S3_CACHE_BLOCK;
	if (end > st->size)
		end = st->size;
	if (maxp > st->nslots)
		maxp = st->nslots;
	n = ra_plan(st, at, end, pieces, maxp);
	if (!n)
		return -EIO; /* cannot happen: @at is below the size and not held */

	/* The budget: the whole window if it can, never less than the first piece. */
	for (size_t i = 0; i < n; i++)
		total += pieces[i].cost;
	granted = st->budget ? s3_budget_take(st->budget, total, pieces[0].cost) : total;
	for (f.n = 0; f.n < n; f.n++) {
		if (f.n && used + pieces[f.n].cost > granted)
			break;
		used += pieces[f.n].cost;
	}
	f.n = ra_alloc(st, pieces, f.n);
	for (size_t i = 0; i < f.n; i++)
		charged += pieces[i].cost;
	ra_give(st, granted - charged); /* what the cut-off pieces would have used */
	if (!f.n)
		return -ENOMEM;

	ra_run(&f, st->parallel);

	st->st.fetches += f.calls;
	st->st.fetched_bytes += f.bytes;
	rc = 0;
	for (size_t i = 0; i < f.n; i++) {
		struct ra_piece *p = &pieces[i];

		if (!p->rc)
			continue;
		if (!i)
			rc = p->rc;
		changed |= p->changed;
		if (p->fresh)
			ra_slot_drop(st, p->slot);
	}
	for (size_t i = 0; changed && i < f.n; i++)
		if (!pieces[i].rc)
			pieces[i].slot->cached = false; /* forgotten below: keep it in memory */
	if (changed && st->cache) /* the object changed: what this fill cached is suspect */
		s3_cache_forget(st->cache, st->key);
	if (rc)
		return rc;
	st->fill_end = pieces[f.n - 1].off + pieces[f.n - 1].len;
	st->window = st->window * 2 < st->ra_max ? st->window * 2 : st->ra_max;
	st->st.window = st->window;
	return 0;
}

/* ---- read ---------------------------------------------------------------------------- */

/* After a read that ended at st->next: let go of what is cached or behind the reader, but
 * keep a block being assembled from the start by small windows. */
static void ra_trim(struct s3_stream *st)
{
	uint64_t nb = st->next / S3_CACHE_BLOCK;

	for (size_t i = 0; i < st->nslots; i++) {
		struct ra_slot *s = &st->slots[i];

		if (!s->used)
			continue;
		if (st->cache && s->cached) {
			ra_slot_drop(st, s);
		} else if (s->hi <= st->next) {
			bool assembling = st->cache && s->block == nb && s->hi == st->next &&
					  s->lo == ra_block_start(nb);

			if (!assembling)
				ra_slot_drop(st, s);
		}
	}
}

static struct ra_slot *ra_slot_at(struct s3_stream *st, uint64_t at)
{
	struct ra_slot *s = ra_slot_of(st, at / S3_CACHE_BLOCK);

	return s && s->lo <= at && at < s->hi ? s : NULL;
}

ssize_t s3_stream_read(struct s3_stream *st, void *buf, size_t n, uint64_t off)
{
	bool seq_read = off == st->next;
	char *out = buf;
	size_t done = 0;
	int rc = 0;

	if (off >= st->size || !n)
		return 0;
	if (n > st->size - off)
		n = (size_t)(st->size - off);
	while (done < n) {
		uint64_t at = off + done;
		struct ra_slot *s = ra_slot_at(st, at);
		size_t take;

		if (s) {
			take = s->hi - at < n - done ? (size_t)(s->hi - at) : n - done;
			memcpy(out + done, s->buf + (at - s->lo), take);
			done += take;
			st->st.memory_hits++;
			continue;
		}
		if (st->cache) {
			size_t in = (size_t)(at % S3_CACHE_BLOCK);
			size_t len = S3_CACHE_BLOCK - in < n - done ? S3_CACHE_BLOCK - in :
								      n - done;
			ssize_t got = s3_cache_read(st->cache, st->key, st->identity,
						    at / S3_CACHE_BLOCK, in, out + done, len);

			if (got > 0) {
				done += (size_t)got;
				st->st.cache_hits++;
				continue;
			}
		}
		rc = ra_fill(st, at, n - done, seq_read);
		if (rc)
			break;
		if (!ra_slot_at(st, at)) {
			rc = -EIO; /* cannot happen: the first piece covers @at */
			break;
		}
	}
	if (done || !rc) {
		st->next = off + done;
		ra_trim(st);
	}
	return done ? (ssize_t)done : rc;
}
