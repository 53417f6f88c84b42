/*
 * supervisor_int.h — private to src/stream: the streams and the supervisor's state, shared
 * by supervisor.c (the state machine, worker processes, the supervisor thread) and files.c
 * (the streams/ directory and its files: create, remove, rename, config, control, status,
 * log).
 *
 * Locks: everything here is guarded by hubfs_streams.lock; every function below expects the
 * caller to hold it (sv_wall excepted).
 */
#ifndef HUBFS_STREAM_SUPERVISOR_INT_H
#define HUBFS_STREAM_SUPERVISOR_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hubfs/stream.h"

#include "stream/stream_int.h"

struct hubfs_config;
struct hubfs_catalog;
struct hubfs_backend;
struct hubfs_library;

#define SV_STALL_MS 5000       /* running, and no new frame for this long: killed */
#define SV_START_MS 15000      /* spawned, and not ready for this long: killed */
#define SV_STOP_MS 5000        /* asked to stop, and still there after this long: killed */
#define SV_TICK_MS 250         /* the watchdog's resolution */
#define SV_BACKOFF_MAX_S 30    /* restart delays: 1, 2, 4, ... 30 s */
#define SV_STABLE_S 30         /* a run this long resets the backoff */
#define SV_LOG_MAX (32u << 10) /* the tail of the worker's log kept for streams/NAME/log */
#define SV_LEFTOVER_DELAY_S 2  /* wait before adopting a crashed run's recordings */

enum sv_state { SV_IDLE, SV_SCHEDULED, SV_STARTING, SV_RUNNING, SV_STOPPING, SV_FAILED };

extern const char *const sv_state_names[];

struct sv_stream {
	struct sv_stream *next;
	unsigned int refs; /* the list holds one; a waiting stop or a commit thread one each */
	bool removed;      /* unlinked from the list; freed with the last ref */
	char name[HUBFS_STREAM_NAME_MAX + 1];
	struct hubfs_stream_conf conf;
	bool sched_done;
	int64_t created_ns;

	enum sv_state state;
	int64_t since; /* wall clock of the last state change */

	bool proc_live; /* proc is a process not yet reaped */
	struct st_proc proc;
	int64_t run_wall;        /* wall clock of this run's spawn */
	int64_t spawned_ms;      /* monotonic ms of the spawn */
	int64_t advanced_ms;     /* monotonic ms the frame count last grew */
	int64_t stop_sent_ms;    /* monotonic ms "stop" was sent; 0: not asked */
	bool ready;              /* the worker said "ready" */
	bool stop_requested;     /* user, schedule or unmount asked this run to end */
	bool restart_requested;  /* control "restart": start again once it ended */
	char kill_reason[256];   /* the watchdog's, if it killed the worker */
	char worker_error[512];  /* the worker's "error" line */
	char worker_done[64];    /* the worker's "done" reason */
	char rec_file[PATH_MAX]; /* this run's recording file; "" none */
	char rec_dest[PATH_MAX]; /* its videos/ path */

	uint64_t frames, dropped;
	double fps, bitrate_kbps, speed;
	unsigned int restarts;
	unsigned int backoff_s;
	bool restart_pending;
	int64_t restart_ms;   /* monotonic ms of the pending restart */
	unsigned int commits; /* recordings of this stream being committed */
	uint64_t runs, ended; /* workers spawned / reaped so far */
	char last_error[512];

	char *log; /* the tail of the worker's log (SV_LOG_MAX) */
	size_t log_len;
};

struct hubfs_streams {
	const struct hubfs_config *cfg;
	struct hubfs_catalog *cat;
	struct hubfs_backend *be;
	struct hubfs_library *lib;
	char worker[PATH_MAX];
	char root[PATH_MAX]; /* state_dir/streams */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sv_stream *list; /* lock; in name order */
	pthread_t thread;
	bool thread_live;
	bool quit;            /* lock: the thread should end */
	bool stopping;        /* lock: unmount: no new starts */
	int wake_fd;          /* eventfd: wakes the thread's poll */
	int64_t leftovers_ms; /* monotonic ms to look for a crashed run's recordings; 0: done */
};

/* supervisor.c's helpers for files.c (lock held). sv_error: last_error and an event of
 * @kind. sv_spawn: start a run (see supervisor.c); sv_request_stop: ask the worker to end. */
int64_t sv_wall(void);
void sv_wake(struct hubfs_streams *s);
void sv_set_state(struct hubfs_streams *s, struct sv_stream *st, enum sv_state state);
void sv_error(struct sv_stream *st, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void sv_unref(struct sv_stream *st);
struct sv_stream *sv_find(struct hubfs_streams *s, const char *name);
void sv_insert(struct hubfs_streams *s, struct sv_stream *st);
void sv_unlink(struct hubfs_streams *s, struct sv_stream *st);
int sv_path(const struct hubfs_streams *s, const char *name, const char *leaf, char *buf,
	    size_t len);
unsigned int sv_live_count(struct hubfs_streams *s);
int sv_store(struct hubfs_streams *s, struct sv_stream *st);
int sv_spawn(struct hubfs_streams *s, struct sv_stream *st);
void sv_request_stop(struct hubfs_streams *s, struct sv_stream *st);

#endif
