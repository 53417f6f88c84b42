/*
 * streams.h — the streams/ supervisor: every stream of the mount, its config (stored in the
 * catalog), its state, and the worker process (hubfs-stream, stream_proto.h) that encodes
 * and publishes it while it runs. Independent of FUSE: src/fs/streams.c maps files onto it.
 *
 * States: idle, scheduled (start_at ahead), starting (worker spawned, not yet producing),
 * running (frames flowing), stopping (stop sent, waiting for trailers), failed.
 * One supervisor thread reads every worker's reports and log, runs the watchdog (a worker
 * whose frame count stops advancing is killed and reported; restart=on-failure restarts it
 * with backoff), fires schedules, and after a worker ends: ends an HLS playlist a killed
 * worker left open (#EXT-X-ENDLIST) and commits a recording to videos/ through the library,
 * the same validation and backend commit as a copied file.
 *
 * Threads: FUSE workers call the public functions; the supervisor thread; a thread per
 * recording being committed. One mutex guards every stream's state (streams->lock).
 * Errors: negative errno; the reason of a refused config or control word goes to the
 * stream's last_error and .hub/events.
 */
#ifndef HUBFS_STREAMS_H
#define HUBFS_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct hubfs_config;
struct hubfs_catalog;
struct hubfs_backend;
struct hubfs_library;
struct hubfs_streams;

/*
 * @worker: the worker executable's path (NULL: beside /proc/self/exe). Loads the streams
 * stored in the catalog. 0, -ENOMEM, or a catalog error.
 */
int hubfs_streams_new(struct hubfs_streams **out, const struct hubfs_config *cfg,
		      struct hubfs_catalog *cat, struct hubfs_backend *be,
		      struct hubfs_library *lib, const char *worker);
/* Start the supervisor thread (after daemonizing): schedules are armed, leftover recordings
 * of a crashed run are committed. */
int hubfs_streams_start(struct hubfs_streams *s);
/* Stop every worker cleanly (trailers, ENDLIST, recordings committed), join the thread.
 * Idempotent. */
void hubfs_streams_stop(struct hubfs_streams *s);
void hubfs_streams_free(struct hubfs_streams *s); /* stops first; NULL-safe */

/* mkdir / rmdir / rename of streams/NAME. create: 0, -EEXIST, -EINVAL (name). remove: 0,
 * -ENOENT, -EBUSY (running). rename: 0, -ENOENT, -EEXIST, -EBUSY, -EINVAL. */
int hubfs_streams_create(struct hubfs_streams *s, const char *name);
int hubfs_streams_remove(struct hubfs_streams *s, const char *name);
int hubfs_streams_rename(struct hubfs_streams *s, const char *from, const char *to);

/* Does the stream exist? */
bool hubfs_streams_exists(struct hubfs_streams *s, const char *name);
/* Names of every stream, in order: calls @fn for each (under the lock: do not call back). */
int hubfs_streams_each(struct hubfs_streams *s, int (*fn)(void *arg, const char *name), void *arg);

/*
 * The files. Each text getter returns a malloc'd string in *@out (caller frees): 0,
 * -ENOENT, -ENOMEM. config_write: merge @len bytes of key=value lines all or nothing: 0,
 * -EINVAL (bad line; the reason in last_error and an event), -EBUSY (a change while
 * running). control: one word per line (start stop restart): 0, -EINVAL, -EBUSY, -EAGAIN
 * (max_streams), -EIO (the worker could not be started).
 */
int hubfs_streams_config_read(struct hubfs_streams *s, const char *name, char **out);
int hubfs_streams_config_write(struct hubfs_streams *s, const char *name, const char *buf,
			       size_t len);
/* The same checks as config_write (EINVAL with the reason, EBUSY), changing nothing: an
 * open file checks each write as it comes and applies them all at close. */
int hubfs_streams_config_check(struct hubfs_streams *s, const char *name, const char *buf,
			       size_t len);
int hubfs_streams_control(struct hubfs_streams *s, const char *name, const char *buf, size_t len);
int hubfs_streams_status(struct hubfs_streams *s, const char *name, char **out);
int hubfs_streams_log(struct hubfs_streams *s, const char *name, char **out);

/* The directory the stream's HLS output lives in (state_dir/streams/NAME/hls). 0, -ENOENT,
 * -ENAMETOOLONG. */
int hubfs_streams_hls_dir(struct hubfs_streams *s, const char *name, char *buf, size_t len);

/* For .hub/status and metrics. */
void hubfs_streams_counts(struct hubfs_streams *s, unsigned int *total, unsigned int *running);

#endif
