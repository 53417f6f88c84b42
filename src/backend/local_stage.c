/*
 * local_stage.c — the staged file of one local upload, written off the writer's path.
 *
 * Owns the staged file's descriptors and, while a large file streams in, a writer thread.
 * A sequential write of whole 4 KiB blocks is copied into an aligned chunk and queued; the
 * thread writes it with O_DIRECT, so the bytes go to the disk without passing through the
 * page cache. The FUSE write returns after one memcpy. Why: on these machines the copy
 * into freshly allocated page-cache pages cost more than everything else in a FUSE write,
 * and a buffered file still had to be flushed whole by the fsync at commit. Any other write
 * (out of order, unaligned, the tail) first drains the queue, then goes through the page
 * cache on the ordinary descriptor; the kernel keeps the two coherent and the commit's fsync
 * covers both. A write error on the thread is kept and returned by the next call (a
 * write, sync or truncate), so the upload is refused at close, never committed short.
 * A filesystem without O_DIRECT (or a thread that cannot start) gets buffered writes only.
 *
 * Threads: one caller at a time per stage (the library serialises an upload's calls), plus
 * the stage's writer thread. Locks: s->lock guards the queue, the spare chunks, the error
 * and the stop flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend/local_stage.h"

#define STAGE_ALIGN 4096
#define STAGE_DIRECT_MIN (64u << 10) /* smaller writes are not worth a thread */
#define STAGE_QUEUE_MAX (16u << 20)  /* bytes queued (or being written) before the caller waits */
#define STAGE_CHUNK (1u << 20)       /* chunk capacity (larger writes get their own) */
#define STAGE_SPARE 16 /* chunks kept for reuse (fresh pages fault): the queue's worth */
#define STAGE_WRITEBEHIND (8 << 20) /* buffered bytes between writeback starts */
#define STAGE_BATCH 8               /* chunks per direct write request */

struct stage_chunk {
	struct stage_chunk *next;
	off_t off;
	size_t n, cap;
	unsigned char *data; /* STAGE_ALIGN-aligned */
};

struct local_stage {
	int fd;        /* buffered */
	int dfd;       /* O_DIRECT, or -1 */
	off_t next;    /* where the next sequential direct write must start */
	off_t flushed; /* buffered bytes before this offset were handed to writeback */
	bool threaded; /* the writer runs (caller's view) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct stage_chunk *head, *tail; /* lock */
	size_t queued;                   /* lock: bytes queued or being written */
	struct stage_chunk *spare;       /* lock */
	unsigned int nspare;             /* lock */
	int err;                         /* lock: first write error of the thread */
	bool stop;                       /* lock */
};

int local_stage_open(struct local_stage **out, int dirfd, const char *rel)
{
	struct local_stage *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->fd = openat(dirfd, rel, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	s->dfd = openat(dirfd, rel, O_WRONLY | O_DIRECT | O_CLOEXEC);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = s;
	return 0;
}

static int stage_pwrite_all(int fd, const unsigned char *buf, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, buf + done, n - done, off + (off_t)done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		done += (size_t)w;
	}
	return 0;
}

/* Chunk memory is mapped, not malloc'd: page-aligned as O_DIRECT needs, and returned to
 * the system when the upload ends (a malloc'd 1 MiB may stay in the heap for good). */
static void stage_chunk_free(struct stage_chunk *c)
{
	munmap(c->data, c->cap);
	free(c);
}

static void stage_recycle_locked(struct local_stage *s, struct stage_chunk *c)
{
	if (s->nspare < STAGE_SPARE && c->cap == STAGE_CHUNK) {
		c->next = s->spare;
		s->spare = c;
		s->nspare++;
	} else {
		stage_chunk_free(c);
	}
}

/* Write a run of chunks that follow each other in the file with one pwritev (bigger
 * requests: the disk sees up to STAGE_BATCH MiB at a time rather than 1). */
static int stage_write_run(int fd, struct stage_chunk *first, unsigned int n)
{
	struct iovec iov[STAGE_BATCH];
	struct stage_chunk *c = first;
	size_t total = 0;
	ssize_t w;

	for (unsigned int i = 0; i < n; i++, c = c->next) {
		iov[i].iov_base = c->data;
		iov[i].iov_len = c->n;
		total += c->n;
	}
	do
		w = pwritev(fd, iov, (int)n, first->off);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if ((size_t)w == total)
		return 0;
	/* A short write (rare): finish chunk by chunk from where it stopped. */
	for (c = first; c; c = c->next) {
		size_t skip = (size_t)w > c->n ? c->n : (size_t)w;
		int rc;

		w -= (ssize_t)skip;
		if (skip == c->n)
			continue;
		rc = stage_pwrite_all(fd, c->data + skip, c->n - skip, c->off + (off_t)skip);
		if (rc)
			return rc;
	}
	return 0;
}

static void *stage_main(void *arg)
{
	struct local_stage *s = arg;
	struct stage_chunk *first, *c;
	size_t bytes;
	unsigned int n;
	int rc;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		first = s->head;
		if (!first)
			break;
		/* Take up to STAGE_BATCH queued chunks that are contiguous in the file. */
		bytes = first->n;
		for (n = 1, c = first;
		     n < STAGE_BATCH && c->next && c->next->off == c->off + (off_t)c->n; n++) {
			c = c->next;
			bytes += c->n;
		}
		s->head = c->next;
		if (!s->head)
			s->tail = NULL;
		c->next = NULL;
		pthread_mutex_unlock(&s->lock);
		rc = stage_write_run(s->dfd, first, n);
		pthread_mutex_lock(&s->lock);
		if (rc && !s->err)
			s->err = rc;
		s->queued -= bytes;
		while (first) {
			c = first;
			first = first->next;
			stage_recycle_locked(s, c);
		}
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Wait for the queue to empty; the thread's first error, or 0. */
int local_stage_sync(struct local_stage *s)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	while (s->queued)
		pthread_cond_wait(&s->cond, &s->lock);
	rc = s->err;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static struct stage_chunk *stage_chunk_get_locked(struct local_stage *s, size_t n)
{
	struct stage_chunk *c = s->spare;
	size_t cap = n > STAGE_CHUNK ? n : STAGE_CHUNK;

	if (c && cap == STAGE_CHUNK) {
		s->spare = c->next;
		s->nspare--;
		return c;
	}
	c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	cap = (cap + STAGE_ALIGN - 1) / STAGE_ALIGN * STAGE_ALIGN;
	c->data = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->data == MAP_FAILED) {
		free(c);
		return NULL;
	}
	c->cap = cap;
	return c;
}

/* Queue a sequential, aligned write for the thread. 1: queued; 0: not taken (write it
 * buffered); -errno: a deferred error. */
static int stage_queue(struct local_stage *s, const void *buf, size_t n, off_t off)
{
	struct stage_chunk *c;
	int rc;

	if (s->dfd < 0 || off != s->next || n < STAGE_DIRECT_MIN || off % STAGE_ALIGN ||
	    n % STAGE_ALIGN)
		return 0;
	if (!s->threaded) {
		if (pthread_create(&s->thread, NULL, stage_main, s))
			return 0;
		s->threaded = true;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->err && s->queued && s->queued + n > STAGE_QUEUE_MAX)
		pthread_cond_wait(&s->cond, &s->lock);
	rc = s->err;
	c = rc ? NULL : stage_chunk_get_locked(s, n);
	if (!rc && !c)
		rc = -ENOMEM;
	if (!rc) {
		memcpy(c->data, buf, n);
		c->n = n;
		c->off = off;
		c->next = NULL;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
		s->queued += n;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return rc;
	s->next = off + (off_t)n;
	return 1;
}

ssize_t local_stage_write(struct local_stage *s, const void *buf, size_t n, off_t off)
{
	int rc = stage_queue(s, buf, n, off);

	if (rc < 0)
		return rc;
	if (rc == 1)
		return (ssize_t)n;
	/* Buffered: after what is queued, so an overwrite lands on top of it. */
	rc = local_stage_sync(s);
	if (!rc)
		rc = stage_pwrite_all(s->fd, buf, n, off);
	if (rc)
		return rc;
	if (off == s->next)
		s->next = off + (off_t)n; /* an unaligned end stops the direct path: fine */
	/* Start writeback of buffered bytes now and then, without waiting, so the fsync at
	 * commit waits for the tail only (when the file cannot take O_DIRECT at all). */
	if (off + (off_t)n - s->flushed >= STAGE_WRITEBEHIND) {
		sync_file_range(s->fd, s->flushed, off + (off_t)n - s->flushed,
				SYNC_FILE_RANGE_WRITE);
		s->flushed = off + (off_t)n;
	}
	return (ssize_t)n;
}

int local_stage_truncate(struct local_stage *s, off_t size)
{
	int rc = local_stage_sync(s);

	if (rc)
		return rc;
	if (ftruncate(s->fd, size))
		return -errno;
	if (s->next > size)
		s->next = size;
	if (s->flushed > size)
		s->flushed = size;
	return 0;
}

int local_stage_fd(struct local_stage *s)
{
	return s->fd;
}

void local_stage_close(struct local_stage *s)
{
	struct stage_chunk *c;

	if (!s)
		return;
	if (s->threaded) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	while (s->head) {
		c = s->head;
		s->head = c->next;
		stage_chunk_free(c);
	}
	while (s->spare) {
		c = s->spare;
		s->spare = c->next;
		stage_chunk_free(c);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	if (s->dfd >= 0)
		close(s->dfd);
	close(s->fd);
	free(s);
}
