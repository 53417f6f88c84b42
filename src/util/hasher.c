/*
 * hasher.c — SHA-256 of a stream, inline or on a thread of its own (see hasher.h).
 *
 * Owns an OpenSSL digest context and, once a stream turns large, a thread and a queue of
 * copied chunks. Locks: h->lock guards the queue, its byte count and the stop flag; the
 * digest context belongs to the producer until the thread starts and to the thread from
 * then until it is joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hubfs/hasher.h"

struct hasher_chunk {
	struct hasher_chunk *next;
	size_t n;   /* bytes queued */
	size_t cap; /* bytes allocated */
	unsigned char data[];
};

/*
 * Digested chunks are kept for reuse: first-touch page faults of fresh memory cost more than
 * the digest on these machines. At most HASHER_SPARE are kept (the queue's worth); chunks
 * are mapped, not malloc'd, so their memory goes back to the system with the stream.
 */
#define HASHER_SPARE 8
#define HASHER_CHUNK_MIN (1u << 20)

struct hubfs_hasher {
	EVP_MD_CTX *ctx;
	bool failed; /* an allocation failed: the digest is unusable */

	bool threaded; /* the thread runs (producer's view) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;              /* chunks queued, or room freed */
	struct hasher_chunk *head, *tail; /* lock */
	size_t queued;                    /* lock: bytes in the queue */
	bool stop;                        /* lock: no more chunks will come */
	struct hasher_chunk *spare;       /* lock: digested chunks for reuse */
	unsigned int nspare;              /* lock */
};

static struct hasher_chunk *hasher_chunk_new(size_t cap)
{
	size_t len = sizeof(struct hasher_chunk) + cap;
	struct hasher_chunk *c;

	c = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	c->cap = cap;
	return c;
}

static void hasher_chunk_free(struct hasher_chunk *c)
{
	munmap(c, sizeof(*c) + c->cap);
}

int hubfs_hasher_new(struct hubfs_hasher **out)
{
	struct hubfs_hasher *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	*out = h;
	return 0;
}

static void *hasher_main(void *arg)
{
	struct hubfs_hasher *h = arg;
	struct hasher_chunk *c;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->head && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		c = h->head;
		if (!c)
			break; /* stopped and drained */
		h->head = c->next;
		if (!h->head)
			h->tail = NULL;
		pthread_mutex_unlock(&h->lock);
		EVP_DigestUpdate(h->ctx, c->data, c->n);
		pthread_mutex_lock(&h->lock);
		h->queued -= c->n;
		if (h->nspare < HASHER_SPARE) {
			c->next = h->spare;
			h->spare = c;
			h->nspare++;
		} else {
			hasher_chunk_free(c);
		}
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Join the thread after it has digested everything queued. */
static void hasher_join(struct hubfs_hasher *h)
{
	if (!h->threaded)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	h->threaded = false;
	h->stop = false;
}

int hubfs_hasher_feed(struct hubfs_hasher *h, const void *buf, size_t n)
{
	struct hasher_chunk *c;

	if (h->failed)
		return -ENOMEM;
	if (!h->threaded && n < HUBFS_HASHER_ASYNC_MIN) {
		EVP_DigestUpdate(h->ctx, buf, n);
		return 0;
	}
	if (!h->threaded) {
		if (pthread_create(&h->thread, NULL, hasher_main, h)) {
			EVP_DigestUpdate(h->ctx, buf,
					 n); /* no thread: inline, slower, still right */
			return 0;
		}
		h->threaded = true;
	}
	pthread_mutex_lock(&h->lock);
	while (h->queued && h->queued + n > HUBFS_HASHER_QUEUE_MAX)
		pthread_cond_wait(&h->cond, &h->lock);
	c = h->spare;
	if (c && c->cap >= n) {
		h->spare = c->next;
		h->nspare--;
	} else {
		size_t cap = n > HASHER_CHUNK_MIN ? n : HASHER_CHUNK_MIN;

		pthread_mutex_unlock(&h->lock);
		c = hasher_chunk_new(cap);
		if (!c) {
			h->failed = true;
			return -ENOMEM;
		}
		pthread_mutex_lock(&h->lock);
	}
	/* Copied under the lock: the thread takes it only between chunks, never during one. */
	c->next = NULL;
	c->n = n;
	memcpy(c->data, buf, n);
	if (h->tail)
		h->tail->next = c;
	else
		h->head = c;
	h->tail = c;
	h->queued += n;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int hubfs_hasher_reset(struct hubfs_hasher *h)
{
	hasher_join(h);
	h->failed = false;
	return EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) ? 0 : -ENOMEM;
}

static void hasher_hex(const unsigned char *md, unsigned int len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned int i = 0; i < len; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * len] = '\0';
}

int hubfs_hasher_finish(struct hubfs_hasher *h, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	hasher_join(h);
	if (h->failed || !EVP_DigestFinal_ex(h->ctx, md, &len) || len != 32)
		return -ENOMEM;
	hasher_hex(md, len, hex);
	return 0;
}

void hubfs_hasher_free(struct hubfs_hasher *h)
{
	if (!h)
		return;
	hasher_join(h);
	while (h->spare) {
		struct hasher_chunk *c = h->spare;

		h->spare = c->next;
		hasher_chunk_free(c);
	}
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int hubfs_sha256_file(const char *path, char hex[65])
{
	struct hubfs_hasher *h = NULL;
	char *buf = NULL;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = hubfs_hasher_new(&h);
	if (rc)
		goto out;
	buf = malloc(1 << 20);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, 1 << 20)) > 0)
		EVP_DigestUpdate(h->ctx, buf, (size_t)n); /* one reader: no thread needed */
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	rc = hubfs_hasher_finish(h, hex);
out:
	free(buf);
	hubfs_hasher_free(h);
	close(fd);
	return rc;
}
