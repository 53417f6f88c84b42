/*
 * spawn.c — start a stream worker process (hubfs-stream) and talk to it over its pipes
 * (include/hubfs/stream_proto.h is the protocol).
 *
 * posix_spawn, not fork: the daemon is multi-threaded (FUSE workers, the scanner), and a
 * forked child of a threaded process may only call async-signal-safe functions anyway.
 * The child gets: stdin = the job and control pipe, stdout = reports, stderr = log, fd 3 =
 * the source video (optional), and nothing else of ours (closefrom 4). Its environment is
 * trimmed to an allow-list, so credentials in the daemon's environment (AWS_*) never reach
 * it. argv carries only the stream name (URLs may hold stream keys: they go on stdin).
 *
 * Writing to a worker that has exited raises SIGPIPE: the daemon ignores it (libfuse's
 * signal handlers), so the write fails with EPIPE instead.
 *
 * Threads: called under the supervisor's lock; the fds are then the supervisor's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hubfs/stream_proto.h"

#include "stream/stream_int.h"

extern char **environ;

/* Environment variables a worker may inherit: locale, time zone, sanitizer settings. */
static bool sp_env_allowed(const char *kv)
{
	static const char *const names[] = {
		"PATH=",         "LANG=",          "LANGUAGE=",     "TZ=",         "HOME=",
		"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "HUBFS_DEBUG="
	};

	if (!strncmp(kv, "LC_", 3))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(kv, names[i], strlen(names[i])))
			return true;
	return false;
}

static void sp_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int sp_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int st_proc_spawn(struct st_proc *p, const char *worker, const char *name, const char *job,
		  int input_fd, char *err, size_t errlen)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, lg[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	bool fa_ready = false;
	char **env = NULL;
	size_t n = 0, k = 0;
	char *argv[3];
	pid_t pid;
	int rc;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->pidfd = p->ctl_fd = p->rep_fd = p->log_fd = -1;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(lg, O_CLOEXEC)) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the worker's pipes: %s", strerror(-rc));
		goto fail;
	}
	while (environ && environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		if (sp_env_allowed(environ[i]))
			env[k++] = environ[i];
	rc = posix_spawn_file_actions_init(&fa);
	if (rc) {
		rc = -rc;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	fa_ready = true;
	rc = posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, lg[1], 2);
	if (!rc && input_fd >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, input_fd, HUBFS_STREAM_INPUT_FD);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(
			&fa, input_fd >= 0 ? HUBFS_STREAM_INPUT_FD + 1 : HUBFS_STREAM_INPUT_FD);
	if (rc) {
		rc = -rc;
		snprintf(err, errlen, "cannot prepare the worker: %s", strerror(-rc));
		goto fail;
	}
	argv[0] = (char *)HUBFS_STREAM_WORKER;
	argv[1] = (char *)name;
	argv[2] = NULL;
	rc = posix_spawn(&pid, worker, &fa, NULL, argv, env);
	if (rc) {
		rc = -rc;
		snprintf(err, errlen, "cannot start the worker '%s': %s", worker, strerror(-rc));
		goto fail;
	}
	p->pid = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		/* Without a pidfd the supervisor cannot see the exit: do not leave it running. */
		rc = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		p->pid = -1;
		snprintf(err, errlen, "cannot watch the worker: %s", strerror(-rc));
		goto fail;
	}
	sp_close(&in[0]);
	sp_close(&out[1]);
	sp_close(&lg[1]);
	p->ctl_fd = in[1];
	p->rep_fd = out[0];
	p->log_fd = lg[0];
	fcntl(p->rep_fd, F_SETFL, O_NONBLOCK);
	fcntl(p->log_fd, F_SETFL, O_NONBLOCK);
	/* The job is small (far below a pipe's 64 KiB), so this write cannot block. */
	rc = sp_write_all(p->ctl_fd, job, strlen(job));
	if (!rc)
		rc = sp_write_all(p->ctl_fd, "\n", 1);
	/* A worker that did not get its job exits with an error line: the exit reports it. */
	(void)rc;
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	return 0;
fail:
	if (fa_ready)
		posix_spawn_file_actions_destroy(&fa);
	free(env);
	for (int i = 0; i < 2; i++) {
		sp_close(&in[i]);
		sp_close(&out[i]);
		sp_close(&lg[i]);
	}
	return rc;
}

int st_proc_send(struct st_proc *p, const char *word)
{
	char line[64];
	int n;

	if (p->ctl_fd < 0)
		return -EPIPE;
	n = snprintf(line, sizeof(line), "%s\n", word);
	return sp_write_all(p->ctl_fd, line, (size_t)n);
}

void st_proc_close(struct st_proc *p)
{
	sp_close(&p->pidfd);
	sp_close(&p->ctl_fd);
	sp_close(&p->rep_fd);
	sp_close(&p->log_fd);
}
