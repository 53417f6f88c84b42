/*
 * s3_upload.c — one video being written to the S3 backend: its staged file, and its parts
 * sent while it is still being written, so that close() has little left to send.
 *
 * DESIGN
 *   - Every write goes to the staged file (state_dir/s3-staging/): the library validates
 *     the video there at close. The writer's calls also track how far the file has been
 *     written contiguously from 0 (`contig`); a write past a hole is kept as an extent and
 *     joins the prefix when the hole is filled (a bounded list: forgetting one only delays
 *     its parts to the commit).
 *   - Once `contig` passes two parts (S3_SINGLE_PUT_MAX: smaller videos go as one PUT), a
 *     multipart upload is created under a hidden key of ours (prefix/.hubfs/upload-ID, never
 *     listed), without metadata, and each part whose end `contig` has passed is queued for
 *     the upload's part workers (S3_UP_THREADS). A worker takes a slot of the process-wide
 *     budget (S3_UP_BUDGET parts in flight over all uploads, one S3_PART_SIZE buffer each),
 *     preads the part from the staged file and sends it.
 *   - A part may change after it was sent: ffmpeg seeks back to patch a header, a writer
 *     truncates. Every write and truncate bumps the generation of the parts it touches; a
 *     part counts as sent only for the generation the worker read before sending it, so a
 *     changed part is sent again at commit (S3 keeps the last upload of a part number). A
 *     truncate also drops the queued parts it cuts and pulls `contig` back.
 *   - Commit (validation passed): wait for the parts in flight, send the missing and
 *     changed ones (the last may be short), CompleteMultipartUpload, then copy the hidden
 *     object onto the video's key with its metadata (REPLACE: the sha256 and duration exist
 *     only after validation, and S3 metadata is fixed when an object is made), then delete
 *     the hidden object. Why not complete on the video's key and copy it onto itself: the
 *     video's key then goes from its previous version to the new one, metadata included,
 *     in one step; a failure at any point leaves it as it was; a rename while the file was
 *     written needs nothing resent; no other mount ever sees (and probes) a video without
 *     its record.
 *   - Without a useful streamed upload (no part survived unchanged, or it failed to start),
 *     commit sends the whole file: one PUT with the metadata up to S3_SINGLE_PUT_MAX, else a
 *     multipart upload created on the video's key with its metadata, sent by the same
 *     workers. Also beyond S3_COPY_MAX (5 GiB, CopyObject's limit): streaming stops when
 *     the file grows past it, and such a video goes up whole at commit.
 *   - Abort (an invalid video, a name unlinked while written, a failed commit): queued parts
 *     are dropped, the parts in flight waited for, the multipart upload aborted. A multipart
 *     upload is invisible until completed: an invalid video never exists in the bucket. A
 *     crash leaves an incomplete upload for --s3-cleanup / recover (or a hidden object if
 *     it falls between the complete and the delete).
 *   - Errors: the first failure of a part sent while writing is kept (no more parts are
 *     sent) and returned by the commit, so close() reports it: never lost, never retried
 *     into a partial object.
 *
 * Threads: the caller (one thread at a time per upload, backend.h) and the upload's part
 * workers, started with the multipart upload and joined before it is completed or aborted;
 * the committing caller sends parts too. Locks: up->lock guards the part table, the queue
 * counts and the kept error; the writer's position fields, the upload id and the worker
 * list are the caller's alone (the workers read the id and key, set before they start and
 * changed only after they are joined). s3_budget_lock guards the global budget. The two
 * locks are never held together; up->stop is atomic so a worker waiting for budget sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubfs/log.h"

#include "backend/s3_client.h"
#include "backend/s3_upload.h"

#define S3_SINGLE_PUT_MAX (16u << 20)
#define S3_PART_SIZE (8u << 20)
#define S3_PARTS_MAX 10000       /* S3's limit on part numbers */
#define S3_COPY_MAX (5ULL << 30) /* CopyObject's limit on the source */
#define S3_UP_THREADS 4          /* part workers per upload */
#define S3_UP_BUDGET 8           /* parts in flight over all uploads: 64 MiB of buffers */
#define S3_UP_EXTENTS 16         /* written ranges remembered past a hole */

enum s3_part_state {
	S3_PART_NONE,    /* not sent, or what was sent has changed since */
	S3_PART_QUEUED,  /* waiting for a worker */
	S3_PART_SENDING, /* a worker has it */
	S3_PART_SENT,    /* etag: the part as of generation sent_gen */
};

struct s3_part {
	unsigned char state;
	uint32_t gen;      /* bumped by each write or truncate touching the part */
	uint32_t sent_gen; /* SENT: the generation the worker read */
	uint32_t len;      /* QUEUED, SENDING: bytes to send; SENT: bytes sent */
	char etag[80];
};

struct s3_extent {
	uint64_t start, end;
};

struct hubfs_upload {
	struct s3_backend *owner;
	struct hubfs_s3_client *client;
	int fd;
	char path[PATH_MAX];
	char *tmp_key;

	/* The caller's alone (read by the workers only while they run, see above). */
	uint64_t size;                       /* staged size */
	uint64_t contig;                     /* [0, contig) has been written */
	struct s3_extent ext[S3_UP_EXTENTS]; /* written past a hole: sorted, disjoint, > contig */
	size_t n_ext;
	size_t queued_upto;  /* parts below were queued when the prefix passed them */
	bool no_stream;      /* streaming given up: the whole file goes at commit */
	const char *mpu_key; /* tmp_key or the video's key (borrowed during commit); NULL: none */
	char *upload_id;
	pthread_t threads[S3_UP_THREADS];
	unsigned int nthreads;

	pthread_mutex_t lock;
	pthread_cond_t cond;      /* a part was queued or finished; stop */
	struct s3_part *parts;    /* lock */
	size_t nparts;            /* lock: entries in use */
	size_t nqueued, nsending; /* lock */
	int err;                  /* lock: the first failure of a part */
	atomic_bool stop;         /* workers quit; queued parts stay unsent */
};

/* ---- the global budget of parts in flight -------------------------------------------- */

static pthread_mutex_t s3_budget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s3_budget_cond = PTHREAD_COND_INITIALIZER;
static unsigned int s3_budget_used; /* s3_budget_lock */

/* A slot for one part buffer; -ECANCELED when @up is stopped while waiting. */
static int s3_budget_get(struct hubfs_upload *up)
{
	int rc = 0;

	pthread_mutex_lock(&s3_budget_lock);
	while (s3_budget_used >= S3_UP_BUDGET && !atomic_load(&up->stop))
		pthread_cond_wait(&s3_budget_cond, &s3_budget_lock);
	if (atomic_load(&up->stop))
		rc = -ECANCELED;
	else
		s3_budget_used++;
	pthread_mutex_unlock(&s3_budget_lock);
	return rc;
}

static void s3_budget_put(void)
{
	pthread_mutex_lock(&s3_budget_lock);
	s3_budget_used--;
	pthread_cond_broadcast(&s3_budget_cond);
	pthread_mutex_unlock(&s3_budget_lock);
}

/* ---- the part table (up->lock held) ---------------------------------------------------- */

static bool s3_part_clean(const struct s3_part *p, uint32_t len)
{
	return p->state == S3_PART_SENT && p->sent_gen == p->gen && p->len == len;
}

static int s3_parts_grow(struct hubfs_upload *up, size_t n)
{
	struct s3_part *grown;

	if (n <= up->nparts)
		return 0;
	grown = realloc(up->parts, n * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	memset(grown + up->nparts, 0, (n - up->nparts) * sizeof(*grown));
	up->parts = grown;
	up->nparts = n;
	return 0;
}

/* Queue part @i for @len bytes unless it is already sent as such, queued or being sent.
 * Returns whether it was queued now. */
static bool s3_part_queue(struct hubfs_upload *up, size_t i, uint32_t len)
{
	struct s3_part *p = &up->parts[i];

	if (p->state == S3_PART_QUEUED)
		p->len = len; /* a truncate may have moved the end */
	if (p->state == S3_PART_QUEUED || p->state == S3_PART_SENDING || s3_part_clean(p, len))
		return false;
	p->state = S3_PART_QUEUED;
	p->len = len;
	up->nqueued++;
	return true;
}

static void s3_part_unqueue(struct hubfs_upload *up, size_t i)
{
	if (up->parts[i].state == S3_PART_QUEUED) {
		up->parts[i].state = S3_PART_NONE;
		up->nqueued--;
	}
}

/* Bytes [start, end) changed: what was sent of those parts is stale; queued parts cut by
 * a truncate (@cut) are dropped, the commit queues them again with their new length. */
static void s3_parts_touch(struct hubfs_upload *up, uint64_t start, uint64_t end, bool cut)
{
	size_t first = (size_t)(start / S3_PART_SIZE), i;

	pthread_mutex_lock(&up->lock);
	for (i = first; i < up->nparts && (uint64_t)i * S3_PART_SIZE < end; i++) {
		up->parts[i].gen++;
		if (cut)
			s3_part_unqueue(up, i);
	}
	pthread_mutex_unlock(&up->lock);
}

/* ---- the part workers ------------------------------------------------------------------ */

/* The lowest queued part, now being sent; its generation and length into @gen, @len.
 * up->lock held, nqueued > 0. */
static size_t s3_part_take(struct hubfs_upload *up, uint32_t *gen, uint32_t *len)
{
	size_t i;

	for (i = 0; i < up->nparts; i++)
		if (up->parts[i].state == S3_PART_QUEUED)
			break;
	up->parts[i].state = S3_PART_SENDING;
	*gen = up->parts[i].gen;
	*len = up->parts[i].len;
	up->nqueued--;
	up->nsending++;
	return i;
}

/* Send @len bytes of part @i from the staged file (no lock held): a budget slot, a buffer,
 * pread, UploadPart. -ECANCELED when the upload stopped while waiting for the budget. */
static int s3_part_send(struct hubfs_upload *up, size_t i, uint32_t len, char etag[80])
{
	unsigned char *buf;
	ssize_t n;
	int rc;

	rc = s3_budget_get(up);
	if (rc)
		return rc;
	buf = malloc(len);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = pread(up->fd, buf, len, (off_t)i * S3_PART_SIZE);
	if (n != (ssize_t)len) {
		rc = n < 0 ? -errno : -EIO; /* short: cut by a truncate, see s3_part_done() */
		goto out;
	}
	rc = hubfs_s3_mpu_part(up->client, up->mpu_key, up->upload_id, (unsigned int)i + 1, buf,
			       len, etag);
out:
	free(buf);
	s3_budget_put();
	return rc;
}

/*
 * Part @i came back with @rc (up->lock held). @gen is its generation when it was taken, so
 * before the bytes were read: a write or truncate that touched it since makes it unsent
 * again, whatever the send did (its failure included: those bytes are not wanted).
 */
static int s3_part_done(struct hubfs_upload *up, size_t i, uint32_t gen, int rc,
			const char etag[80])
{
	struct s3_part *p = &up->parts[i];

	up->nsending--;
	if (p->gen != gen || rc == -ECANCELED) {
		p->state = S3_PART_NONE;
		return 0;
	}
	if (rc) {
		p->state = S3_PART_NONE;
		hubfs_log(HUBFS_LOG_WARN, "s3: part %zu of '%s' failed: %s", i + 1, up->mpu_key,
			  strerror(-rc));
		return rc;
	}
	p->state = S3_PART_SENT;
	p->sent_gen = gen;
	memcpy(p->etag, etag, sizeof(p->etag));
	hubfs_dbg(HUBFS_CAT_BACKEND, "s3: part %zu of '%s' sent (%u bytes)", i + 1, up->mpu_key,
		  p->len);
	return 0;
}

/*
 * Send queued parts until stopped or a part failed; a worker thread waits for more, the
 * committing caller (@helper) returns when none is queued.
 */
static void s3_work(struct hubfs_upload *up, bool helper)
{
	pthread_mutex_lock(&up->lock);
	for (;;) {
		char etag[80] = "";
		uint32_t gen, len;
		size_t i;
		int rc;

		if (atomic_load(&up->stop) || up->err)
			break;
		if (!up->nqueued) {
			if (helper)
				break;
			pthread_cond_wait(&up->cond, &up->lock);
			continue;
		}
		i = s3_part_take(up, &gen, &len);
		pthread_mutex_unlock(&up->lock);
		rc = s3_part_send(up, i, len, etag);
		pthread_mutex_lock(&up->lock);
		rc = s3_part_done(up, i, gen, rc, etag);
		if (rc && !up->err)
			up->err = rc;
		pthread_cond_broadcast(&up->cond);
	}
	pthread_mutex_unlock(&up->lock);
}

static void *s3_worker_main(void *arg)
{
	s3_work(arg, false);
	return NULL;
}

/* Stop and join the workers; queued parts go back to unsent. */
static void s3_workers_stop(struct hubfs_upload *up)
{
	atomic_store(&up->stop, true);
	pthread_mutex_lock(&s3_budget_lock);
	pthread_cond_broadcast(&s3_budget_cond);
	pthread_mutex_unlock(&s3_budget_lock);
	pthread_mutex_lock(&up->lock);
	pthread_cond_broadcast(&up->cond);
	pthread_mutex_unlock(&up->lock);
	for (unsigned int t = 0; t < up->nthreads; t++)
		pthread_join(up->threads[t], NULL);
	up->nthreads = 0;
	pthread_mutex_lock(&up->lock);
	for (size_t i = 0; i < up->nparts; i++)
		s3_part_unqueue(up, i);
	pthread_mutex_unlock(&up->lock);
	atomic_store(&up->stop, false);
}

/* Create the multipart upload of @key (with @meta, NULL: none) and start the workers. With
 * no worker started, parts go at commit, sent by the committing caller. */
static int s3_mpu_start(struct hubfs_upload *up, const char *key, const struct hubfs_s3_meta *meta)
{
	int rc;

	rc = hubfs_s3_mpu_create(up->client, key, meta, &up->upload_id);
	if (rc) {
		free(up->upload_id);
		up->upload_id = NULL;
		return rc;
	}
	up->mpu_key = key;
	for (unsigned int t = 0; t < S3_UP_THREADS; t++) {
		if (pthread_create(&up->threads[up->nthreads], NULL, s3_worker_main, up))
			break;
		up->nthreads++;
	}
	return 0;
}

/* Stop the workers, abort the multipart upload (if any) and forget its parts and error. */
static void s3_mpu_cancel(struct hubfs_upload *up)
{
	s3_workers_stop(up);
	if (up->upload_id && hubfs_s3_mpu_abort(up->client, up->mpu_key, up->upload_id))
		hubfs_log(HUBFS_LOG_WARN,
			  "s3: could not abort the upload of '%s' (--s3-cleanup will)",
			  up->mpu_key);
	free(up->upload_id);
	up->upload_id = NULL;
	up->mpu_key = NULL;
	up->queued_upto = 0;
	pthread_mutex_lock(&up->lock);
	free(up->parts);
	up->parts = NULL;
	up->nparts = 0;
	up->err = 0;
	pthread_mutex_unlock(&up->lock);
}

/* ---- writing --------------------------------------------------------------------------- */

int s3_up_new(struct hubfs_upload **out, struct s3_backend *owner, struct hubfs_s3_client *client,
	      const char *path, const char *tmp_key)
{
	struct hubfs_upload *up;
	int rc;

	*out = NULL;
	up = calloc(1, sizeof(*up));
	if (!up)
		return -ENOMEM;
	up->owner = owner;
	up->client = client;
	up->fd = -1;
	snprintf(up->path, sizeof(up->path), "%s", path);
	up->tmp_key = strdup(tmp_key);
	if (!up->tmp_key) {
		rc = -ENOMEM;
		goto fail;
	}
	up->fd = open(up->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (up->fd < 0) {
		rc = -errno;
		goto fail;
	}
	pthread_mutex_init(&up->lock, NULL);
	pthread_cond_init(&up->cond, NULL);
	atomic_init(&up->stop, false);
	*out = up;
	return 0;
fail:
	free(up->tmp_key);
	free(up);
	return rc;
}

struct s3_backend *s3_up_owner(const struct hubfs_upload *up)
{
	return up->owner;
}

const char *s3_up_path(const struct hubfs_upload *up)
{
	return up->path;
}

int s3_up_size(struct hubfs_upload *up, uint64_t *size)
{
	struct stat st;

	if (fstat(up->fd, &st))
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* [start, end) was written: move the contiguous prefix, or remember the range past it. */
static void s3_extent_add(struct hubfs_upload *up, uint64_t start, uint64_t end)
{
	struct s3_extent m = { start, end };
	size_t i = 0, j;

	if (start <= up->contig) {
		if (end > up->contig)
			up->contig = end;
	} else {
		while (i < up->n_ext && up->ext[i].end < m.start)
			i++;
		for (j = i; j < up->n_ext && up->ext[j].start <= m.end; j++) {
			if (up->ext[j].start < m.start)
				m.start = up->ext[j].start;
			if (up->ext[j].end > m.end)
				m.end = up->ext[j].end;
		}
		if (i == j) { /* a new range at i; when full, forget the farthest */
			if (up->n_ext == S3_UP_EXTENTS) {
				if (i == up->n_ext)
					return;
				up->n_ext--;
			}
			memmove(&up->ext[i + 1], &up->ext[i], (up->n_ext - i) * sizeof(m));
			up->n_ext++;
		} else { /* ranges i..j-1 merged into i */
			memmove(&up->ext[i + 1], &up->ext[j], (up->n_ext - j) * sizeof(m));
			up->n_ext -= j - i - 1;
		}
		up->ext[i] = m;
	}
	while (up->n_ext && up->ext[0].start <= up->contig) {
		if (up->ext[0].end > up->contig)
			up->contig = up->ext[0].end;
		memmove(&up->ext[0], &up->ext[1], (up->n_ext - 1) * sizeof(m));
		up->n_ext--;
	}
}

/* Queue the parts the contiguous prefix has passed, starting the multipart upload first. */
static void s3_stream(struct hubfs_upload *up)
{
	size_t full = (size_t)(up->contig / S3_PART_SIZE), i;
	bool any = false;
	int rc = 0;

	if (up->no_stream || up->contig <= S3_SINGLE_PUT_MAX || full <= up->queued_upto)
		return;
	if (up->size > S3_COPY_MAX) {
		/* No copy can put the metadata on it: it goes whole, with it, at commit. What
		 * was sent is dropped now rather than sending more of it. */
		hubfs_log(HUBFS_LOG_INFO, "s3: '%s' is larger than 5 GiB: it will be sent at close",
			  up->path);
		s3_mpu_cancel(up);
		up->no_stream = true;
		return;
	}
	if (!up->upload_id) {
		rc = s3_mpu_start(up, up->tmp_key, NULL);
		if (rc) {
			hubfs_log(HUBFS_LOG_WARN,
				  "s3: cannot start sending '%s' while it is written (%s); it will "
				  "be sent at close",
				  up->path, strerror(-rc));
			up->no_stream = true;
			return;
		}
	}
	pthread_mutex_lock(&up->lock);
	rc = s3_parts_grow(up, full);
	for (i = up->queued_upto; !rc && i < full; i++)
		any |= s3_part_queue(up, i, S3_PART_SIZE);
	if (any)
		pthread_cond_broadcast(&up->cond);
	pthread_mutex_unlock(&up->lock);
	if (!rc)
		up->queued_upto = full; /* else: tried again on the next write */
}

ssize_t s3_up_write(struct hubfs_upload *up, const void *buf, size_t n, off_t off)
{
	ssize_t w = pwrite(up->fd, buf, n, off);
	uint64_t start = (uint64_t)off, end;

	if (w < 0)
		return -errno;
	if (!w)
		return 0;
	end = start + (uint64_t)w;
	if (end > up->size)
		up->size = end;
	s3_parts_touch(up, start, end, false);
	s3_extent_add(up, start, end);
	s3_stream(up);
	return w;
}

int s3_up_truncate(struct hubfs_upload *up, off_t size)
{
	uint64_t sz = (uint64_t)size;
	size_t i;

	if (ftruncate(up->fd, size))
		return -errno;
	s3_parts_touch(up, sz, UINT64_MAX, true);
	up->size = sz;
	if (up->contig > sz)
		up->contig = sz;
	for (i = 0; i < up->n_ext && up->ext[i].start < sz; i++)
		if (up->ext[i].end > sz)
			up->ext[i].end = sz;
	up->n_ext = i;
	if (up->queued_upto > sz / S3_PART_SIZE)
		up->queued_upto = (size_t)(sz / S3_PART_SIZE);
	return 0;
}

/* Queue every part of a @size-byte object that is not sent as it is. up->lock held. */
static bool s3_parts_queue_all(struct hubfs_upload *up, uint64_t size, size_t nparts)
{
	bool any = false;

	for (size_t i = 0; i < nparts; i++) {
		uint64_t left = size - (uint64_t)i * S3_PART_SIZE;

		any |= s3_part_queue(up, i, left < S3_PART_SIZE ? (uint32_t)left : S3_PART_SIZE);
	}
	if (any)
		pthread_cond_broadcast(&up->cond);
	return any;
}

/* ---- commit and abort ------------------------------------------------------------------ */

/* Whether any part of the streamed upload can be kept for a @size-byte object. */
static bool s3_stream_useful(struct hubfs_upload *up, uint64_t size)
{
	size_t whole = (size_t)(size / S3_PART_SIZE);
	bool useful = false;

	pthread_mutex_lock(&up->lock);
	for (size_t i = 0; i < whole && i < up->nparts && !useful; i++)
		useful = s3_part_clean(&up->parts[i], S3_PART_SIZE) ||
			 up->parts[i].state == S3_PART_SENDING; /* most likely to be kept */
	pthread_mutex_unlock(&up->lock);
	return useful;
}

/*
 * Send every part of a @size-byte object that is not sent as it now is (the committing
 * caller sends too), then stop the workers. 0 or the first failure of a part.
 */
static int s3_parts_finish(struct hubfs_upload *up, uint64_t size)
{
	size_t nparts = (size_t)((size + S3_PART_SIZE - 1) / S3_PART_SIZE);
	int rc;

	if (nparts > S3_PARTS_MAX)
		return -EFBIG;
	pthread_mutex_lock(&up->lock);
	rc = s3_parts_grow(up, nparts);
	while (!rc && !up->err) {
		/* Parts in flight first: one that changed meanwhile comes back unsent. */
		while (up->nsending && !up->err)
			pthread_cond_wait(&up->cond, &up->lock);
		if (up->err)
			break;
		s3_parts_queue_all(up, size, nparts);
		if (!up->nqueued)
			break; /* every part is sent as it is */
		pthread_mutex_unlock(&up->lock);
		s3_work(up, true);
		pthread_mutex_lock(&up->lock);
	}
	if (!rc)
		rc = up->err;
	pthread_mutex_unlock(&up->lock);
	s3_workers_stop(up);
	return rc;
}

/* CompleteMultipartUpload with the parts of a @size-byte object, all sent by now. */
static int s3_mpu_complete(struct hubfs_upload *up, uint64_t size)
{
	size_t nparts = (size_t)((size + S3_PART_SIZE - 1) / S3_PART_SIZE);
	struct hubfs_s3_part *list;
	int rc;

	list = calloc(nparts, sizeof(*list));
	if (!list)
		return -ENOMEM;
	pthread_mutex_lock(&up->lock);
	for (size_t i = 0; i < nparts; i++) {
		if (up->parts[i].state != S3_PART_SENT ||
		    up->parts[i].sent_gen != up->parts[i].gen) {
			hubfs_log(HUBFS_LOG_ERR, "s3: part %zu of '%s' missing at commit", i + 1,
				  up->mpu_key);
			pthread_mutex_unlock(&up->lock);
			rc = -EIO; /* a bug of ours: never complete a hole */
			goto out;
		}
		list[i].partno = (unsigned int)i + 1;
		memcpy(list[i].etag, up->parts[i].etag, sizeof(list[i].etag));
	}
	pthread_mutex_unlock(&up->lock);
	rc = hubfs_s3_mpu_complete(up->client, up->mpu_key, up->upload_id, list, nparts, NULL);
out:
	free(list);
	return rc;
}

int s3_up_send(struct hubfs_upload *up, const char *key, const struct hubfs_s3_meta *meta)
{
	bool streamed, completing = false;
	uint64_t size;
	int rc, drc;

	/* A part that failed while the file was written fails the commit: close() says so. */
	pthread_mutex_lock(&up->lock);
	rc = up->err;
	pthread_mutex_unlock(&up->lock);
	if (!rc)
		rc = s3_up_size(up, &size);
	if (rc)
		return rc;
	streamed = up->upload_id && !up->no_stream && size > S3_SINGLE_PUT_MAX &&
		   size <= S3_COPY_MAX && s3_stream_useful(up, size);
	if (!streamed) {
		s3_mpu_cancel(up); /* nothing of it is worth keeping */
		if (size <= S3_SINGLE_PUT_MAX)
			return hubfs_s3_put_fd(up->client, key, up->fd, 0, size, meta, NULL);
		if ((size + S3_PART_SIZE - 1) / S3_PART_SIZE > S3_PARTS_MAX)
			return -EFBIG;
		rc = s3_mpu_start(up, key, meta);
		if (rc)
			return rc;
	}
	hubfs_dbg(HUBFS_CAT_BACKEND, "s3: committing '%s' (%s)", key,
		  streamed ? "parts sent while written" : "sent whole");
	rc = s3_parts_finish(up, size);
	if (!rc) {
		completing = true;
		rc = s3_mpu_complete(up, size);
	}
	if (rc) {
		s3_mpu_cancel(up); /* 0 also when a lost answer hid a completion */
		if (streamed && completing && hubfs_s3_delete(up->client, up->tmp_key))
			hubfs_log(HUBFS_LOG_WARN, "s3: could not delete '%s'", up->tmp_key);
		return rc;
	}
	free(up->upload_id); /* completed: nothing to abort */
	up->upload_id = NULL;
	up->mpu_key = NULL;
	if (!streamed)
		return 0;
	rc = hubfs_s3_copy(up->client, up->tmp_key, key, meta);
	drc = hubfs_s3_delete(up->client, up->tmp_key);
	if (drc)
		hubfs_log(HUBFS_LOG_WARN, "s3: could not delete '%s': %s", up->tmp_key,
			  strerror(-drc));
	return rc;
}

void s3_up_free(struct hubfs_upload *up)
{
	if (!up)
		return;
	s3_mpu_cancel(up);
	close(up->fd);
	unlink(up->path);
	pthread_cond_destroy(&up->cond);
	pthread_mutex_destroy(&up->lock);
	free(up->tmp_key);
	free(up);
}
