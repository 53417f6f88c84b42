/*
 * stream_int.h — private to src/stream (the daemon side): the worker process handle
 * (spawn.c), the after-a-run chores (finish.c: end an HLS playlist, commit a recording),
 * shared by the supervisor (supervisor.c).
 *
 * Threads: a struct st_proc belongs to the supervisor's lock holder; finish.c's commit runs
 * on its own thread with copies of everything it needs.
 */
#ifndef HUBFS_STREAM_INT_H
#define HUBFS_STREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct hubfs_library;

/* One running worker process and its three pipes. */
struct st_proc {
	pid_t pid;
	int pidfd;      /* readable when the process has exited */
	int ctl_fd;     /* its stdin: job, then "stop"; -1 once closed */
	int rep_fd;     /* its stdout: reports; -1 at EOF */
	int log_fd;     /* its stderr: log; -1 at EOF */
	char rep[4096]; /* partial report line */
	size_t rep_len;
	char logp[1024]; /* partial log line */
	size_t logp_len;
};

/*
 * Start @worker as `hubfs-stream NAME` with @job written to its stdin and, when @input_fd
 * >= 0, that fd as its fd 3. The worker gets a trimmed environment (no credentials) and no
 * other fd of ours. 0 and *p filled (fds non-blocking, close-on-exec), or -errno with the
 * reason in @err.
 */
int st_proc_spawn(struct st_proc *p, const char *worker, const char *name, const char *job,
		  int input_fd, char *err, size_t errlen);
/* Send one control line ("stop"). 0 or -errno (EPIPE: the worker is gone). */
int st_proc_send(struct st_proc *p, const char *word);
/* Close every fd (the process must have been reaped). */
void st_proc_close(struct st_proc *p);

/* Append #EXT-X-ENDLIST to @dir/index.m3u8 if a playlist is there without one (atomic
 * rename). true if it had to. */
bool st_hls_end(const char *dir);
/* Remove the files of @dir (a previous run's segments); create it if missing. 0 / -errno. */
int st_dir_reset(const char *dir);

/*
 * Commit the recording at @file into videos/@dest through the library (validated like a
 * copied file), creating videos/'s parent directories. On success the file is removed.
 * 0, -EINVAL (refused: the reason is the library's event; the file is removed), -EFBIG
 * (over max_upload_mb: the file is kept as FILE.too-large), or -errno (kept for a retry).
 */
int st_recording_commit(struct hubfs_library *lib, const char *stream, const char *file,
			const char *dest);

#endif
