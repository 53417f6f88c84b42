/*
 * main.c — hubfs's entry point: options, startup, the FUSE loop, shutdown.
 *
 *   hubfs [-f] [-d] [-s] [-o OPT[,OPT...]] [--config FILE] [SOURCE] MOUNTPOINT
 *
 * Options come from -o (ours are split off here, FUSE's own are passed to libfuse), the
 * environment and an INI file, applied by config.c in the order defaults < INI < env < -o.
 * Every mount-time error (bad option or value, unwritable state_dir, unusable data_dir) is
 * one line on stderr and exit status 1, before anything is mounted. SOURCE is accepted and
 * ignored so that mount.fuse3 ("mount -t fuse.hubfs hubfs /mnt/hub") works.
 *
 * Threads: only the main thread runs here; FUSE workers and the library's threads start in
 * the filesystem's init callback, after daemonizing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <fuse.h>
#include <fuse_log.h>
#include <fuse_lowlevel.h>
#include <libavformat/version.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "hubfs/backend.h"
#include "hubfs/catalog.h"
#include "hubfs/config.h"
#include "hubfs/events.h"
#include "hubfs/library.h"
#include "hubfs/log.h"
#include "hubfs/media.h"
#include "hubfs/streams.h"

#define MAIN_DEFAULT_INI "/etc/hubfs/hubfs.conf"

struct main_opt {
	char *key;
	char *value;
};

struct main_args {
	char *config_file;
	bool help, version;
	char *s3_cleanup; /* --s3-cleanup[=SECONDS]: "" or the seconds; NULL when not asked */
	char *positional[3];
	int npositional;
	struct main_opt *opts; /* our -o options, in order */
	int nopts;
	char err[HUBFS_CONFIG_ERR_MAX];
};

enum { KEY_HELP, KEY_VERSION, KEY_S3_CLEANUP };

static const struct fuse_opt main_fuse_opts[] = {
	{ "--config=%s", offsetof(struct main_args, config_file), 0 },
	{ "--config %s", offsetof(struct main_args, config_file), 0 },
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("--s3-cleanup", KEY_S3_CLEANUP),
	FUSE_OPT_KEY("--s3-cleanup=", KEY_S3_CLEANUP),
	FUSE_OPT_END,
};

/* Mount options mount(8)/mount.fuse3 may pass that mean nothing to a FUSE daemon. */
static const char *const main_ignored[] = { "_netdev", "nofail",   "auto",   "noauto", "user",
					    "users",   "defaults", "nouser", NULL };

static int main_opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct main_args *a = data;
	const char *eq;
	char name[128];

	(void)out;
	switch (key) {
	case KEY_HELP:
		a->help = true;
		return 0;
	case KEY_VERSION:
		a->version = true;
		return 0;
	case KEY_S3_CLEANUP:
		free(a->s3_cleanup);
		eq = strchr(arg, '=');
		a->s3_cleanup = strdup(eq ? eq + 1 : "");
		return a->s3_cleanup ? 0 : -1;
	case FUSE_OPT_KEY_NONOPT:
		if (a->npositional >= 3)
			return 0;
		a->positional[a->npositional++] = strdup(arg);
		return 0;
	case FUSE_OPT_KEY_OPT:
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - arg) : strlen(arg)),
			 arg);
		for (int i = 0; main_ignored[i]; i++)
			if (!strcmp(name, main_ignored[i]))
				return 0;
		if (!hubfs_config_is_option(name) && strncmp(name, "aws_", 4))
			return 1; /* FUSE's own (allow_other, ro, ...): libfuse checks them */
		struct main_opt *grown =
			realloc(a->opts, sizeof(*a->opts) * (size_t)(a->nopts + 1));
		if (!grown)
			return -1;
		a->opts = grown;
		a->opts[a->nopts].key = strdup(name);
		a->opts[a->nopts].value = strdup(eq ? eq + 1 : "");
		a->nopts++;
		return 0;
	default:
		return 1;
	}
}

static void main_args_free(struct main_args *a)
{
	free(a->config_file);
	free(a->s3_cleanup);
	for (int i = 0; i < a->npositional; i++)
		free(a->positional[i]);
	for (int i = 0; i < a->nopts; i++) {
		free(a->opts[i].key);
		free(a->opts[i].value);
	}
	free(a->opts);
}

static void main_usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-s] [-o OPT[,OPT...]] [--config FILE] [SOURCE] MOUNTPOINT\n"
	       "\n"
	       "Mount the media hub at MOUNTPOINT: videos/, streams/, notes/, .hub/.\n"
	       "\n"
	       "  -f              stay in the foreground, log to stderr\n"
	       "  -d              debug: foreground and every debug line (HUBFS_DEBUG=cat,...)\n"
	       "  -s              single-threaded\n"
	       "  --config FILE   INI file (default " MAIN_DEFAULT_INI
	       " if it exists)\n"
	       "  -h, --help      this text;  -V, --version  the version\n"
	       "  --s3-cleanup[=SECONDS]  no mount: abort the S3 multipart uploads under the\n"
	       "                  bucket and prefix older than SECONDS (default 3600)\n"
	       "\n"
	       "Options (-o NAME=VALUE; environment; INI key NAME; -o wins over env over INI):\n"
	       "  backend=local|s3 (STORAGE_BACKEND)      data_dir=DIR (UPLOAD_DIR)\n"
	       "  state_dir=DIR (HUBFS_STATE_DIR)         max_upload_mb=N (MAX_UPLOAD_SIZE_MB)\n"
	       "  s3_bucket, s3_region, s3_endpoint, s3_prefix (AWS_S3_BUCKET, AWS_REGION,\n"
	       "    AWS_ENDPOINT_URL, HUBFS_S3_PREFIX); credentials only from AWS_* or ~/.aws\n"
	       "  cache_mb=N (HUBFS_CACHE_MB)             p2p=on|off (P2P_ENABLED)\n"
	       "  node_name=NAME (HUBFS_NODE_NAME)        listen=HOST:PORT (HUBFS_LISTEN)\n"
	       "  peers=H:P,... (HUBFS_PEERS)             discovery=avahi|off (HUBFS_DISCOVERY)\n"
	       "  network_key_file=F (HUBFS_NETWORK_KEY_FILE)\n"
	       "  notes_default=private|shared (NOTEPAD_DEFAULT)  notes_max_mb=N (NOTEPAD_MAX_SIZE_MB)\n"
	       "  default_resolution=480p|720p|1080p|2K|4K (DEFAULT_RESOLUTION)\n"
	       "  default_bitrate=5000k (DEFAULT_BITRATE)  max_streams=N (HUBFS_MAX_STREAMS)\n"
	       "FUSE options such as allow_other and default_permissions are passed to libfuse.\n",
	       prog);
}

/* libfuse's own messages go through hubfs_log (syslog once daemonized). libfuse writes
 * some messages in pieces: collect them until the newline, so one message is one line. */
__attribute__((format(printf, 2, 0))) static void main_fuse_log(enum fuse_log_level level,
								const char *fmt, va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	int ours = level <= FUSE_LOG_ERR     ? HUBFS_LOG_ERR :
		   level <= FUSE_LOG_WARNING ? HUBFS_LOG_WARN :
		   level <= FUSE_LOG_INFO    ? HUBFS_LOG_INFO :
					       HUBFS_LOG_DEBUG;
	int n;

	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	if (n > 0)
		used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;
	if (used && line[used - 1] != '\n' && used < sizeof(line) - 1)
		return;
	while (used && line[used - 1] == '\n')
		used--;
	line[used] = '\0';
	used = 0;
	if (ours <= hubfs_log_level)
		hubfs_log_write(ours, "%s", line);
}

/* mkdir -p with @mode for the directories it creates. */
static int main_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

__attribute__((format(printf, 1, 2))) static int main_fail(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "hubfs: %s\n", line);
	return 1;
}

/* Load config from INI, env and -o; one sentence in a->err on failure. */
static int main_config(struct hubfs_config *cfg, struct main_args *a)
{
	const char *ini = a->config_file;
	int rc;

	rc = hubfs_config_init(cfg);
	if (rc) {
		snprintf(a->err, sizeof(a->err), "out of memory");
		return rc;
	}
	if (!ini && getenv("HUBFS_CONFIG"))
		ini = getenv("HUBFS_CONFIG");
	rc = hubfs_config_load_ini(cfg, ini ? ini : MAIN_DEFAULT_INI, a->err, sizeof(a->err));
	if (rc == -ENOENT && !ini)
		rc = 0; /* the default file is optional */
	else if (rc == -ENOENT)
		snprintf(a->err, sizeof(a->err), "config file '%s' does not exist", ini);
	if (rc)
		return rc;
	rc = hubfs_config_load_env(cfg, getenv, a->err, sizeof(a->err));
	if (rc)
		return rc;
	for (int i = 0; i < a->nopts; i++) {
		rc = hubfs_config_set(cfg, a->opts[i].key, a->opts[i].value, HUBFS_SRC_OPT, a->err,
				      sizeof(a->err));
		if (rc)
			return rc;
	}
	return hubfs_config_finish(cfg, a->err, sizeof(a->err));
}

/*
 * One mount per state_dir: the catalog, spool and instance id belong to it. An flock on
 * state_dir/lock (held by the daemon for its lifetime, across daemonizing) refuses a second
 * mount with a clear line instead of two daemons writing one catalog. Returns the fd or -1.
 */
static int main_lock_state(const char *state_dir)
{
	char path[4096], pid[32];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		main_fail("cannot create '%s': %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		main_fail("state_dir '%s' is in use by another hubfs (pid %s)", state_dir,
			  *pid ? pid : "unknown");
		close(fd);
		return -1;
	}
	return fd;
}

/* Record the daemon's pid in the lock file (after daemonizing). */
static void main_lock_note_pid(int fd)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n)
		hubfs_log(HUBFS_LOG_WARN, "cannot record the pid in the state_dir lock");
}

/* This mount's instance id: names its staged files in a shared data_dir. */
static void main_instance(struct hubfs_catalog *cat, char *buf, size_t len)
{
	unsigned char raw[8];
	int fd;

	if (!hubfs_catalog_kv_get(cat, "instance", buf, len))
		return;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
		unsigned long long t = (unsigned long long)time(NULL) ^
				       (unsigned long long)getpid();

		memcpy(raw, &t, sizeof(raw));
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	hubfs_catalog_kv_set(cat, "instance", buf);
}

/* hubfs --s3-cleanup[=SECONDS] -o backend=s3,...: no mount, just the cleanup. */
static int main_s3_cleanup(struct hubfs_config *cfg, struct main_args *a, bool *cfg_ready)
{
	char err[HUBFS_CONFIG_ERR_MAX];
	unsigned long secs = 3600;
	char *end;
	int rc;

	if (*a->s3_cleanup) {
		errno = 0;
		secs = strtoul(a->s3_cleanup, &end, 10);
		if (errno || *end || end == a->s3_cleanup || secs > 10UL * 365 * 24 * 3600)
			return main_fail("bad value '%s' for --s3-cleanup: expected seconds",
					 a->s3_cleanup);
	}
	rc = main_config(cfg, a);
	*cfg_ready = true;
	if (rc)
		return main_fail("%s", a->err);
	rc = hubfs_backend_s3_cleanup(cfg, (unsigned int)secs, stdout, err, sizeof(err));
	return rc ? main_fail("%s", err) : 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct fuse_loop_config *loop = NULL;
	struct main_args a = { 0 };
	struct hubfs_config cfg = { 0 };
	struct hubfs_fs fs = { 0 };
	char path[4096], instance[32], err[HUBFS_CONFIG_ERR_MAX];
	const char *mountpoint;
	bool cfg_ready = false, mounted = false;
	int rc, status = 1, lock_fd = -1;

	pthread_rwlock_init(&fs.inval_lock, NULL);
	hubfs_log_init("hubfs", true, false);
	fuse_set_log_func(main_fuse_log);
	if (fuse_opt_parse(&args, &a, main_fuse_opts, main_opt_proc)) {
		status = main_fail("%s", "cannot parse the command line");
		goto out;
	}
	if (a.help) {
		main_usage(argv[0]);
		status = 0;
		goto out;
	}
	if (a.version) {
		printf("hubfs %s (libfuse %d, libavformat %s, SQLite %s)\n", HUBFS_VERSION,
		       fuse_version(), LIBAVFORMAT_IDENT + 11, sqlite3_libversion());
		status = 0;
		goto out;
	}
	if (a.s3_cleanup) {
		status = main_s3_cleanup(&cfg, &a, &cfg_ready);
		goto out;
	}
	if (a.npositional < 1 || a.npositional > 2) {
		status = main_fail(
			"%s", a.npositional ? "too many arguments (expected [SOURCE] MOUNTPOINT)" :
					      "no mountpoint given (try --help)");
		goto out;
	}
	mountpoint = a.positional[a.npositional - 1];
	fuse_opt_add_arg(&args, mountpoint);
	if (fuse_parse_cmdline(&args, &cmd)) {
		status = main_fail("%s", "cannot parse the command line");
		goto out;
	}
	if (!cmd.mountpoint) {
		status = main_fail("%s", "no mountpoint given (try --help)");
		goto out;
	}
	hubfs_log_init("hubfs", true, cmd.debug);

	rc = main_config(&cfg, &a);
	cfg_ready = true;
	if (rc) {
		status = main_fail("%s", a.err);
		goto out;
	}
	rc = main_mkdirs(cfg.state_dir, 0700);
	if (rc || access(cfg.state_dir, W_OK)) {
		status = main_fail("state_dir '%s' is not writable: %s", cfg.state_dir,
				   strerror(rc ? -rc : errno));
		goto out;
	}
	lock_fd = main_lock_state(cfg.state_dir);
	if (lock_fd < 0)
		goto out;

	/* libfuse checks its own options here: an unknown one fails before anything opens. */
	fs.cfg = &cfg;
	fs.started = time(NULL);
	fs.fuse = fuse_new(&args, &hubfs_fuse_ops, sizeof(hubfs_fuse_ops), &fs);
	if (!fs.fuse)
		goto out; /* libfuse printed the reason */

	hubfs_media_init();
	snprintf(path, sizeof(path), "%s/catalog.db", cfg.state_dir);
	rc = hubfs_catalog_open(&fs.cat, path);
	if (rc) {
		status = main_fail("cannot open the catalog '%s': %s", path, strerror(-rc));
		goto out;
	}
	main_instance(fs.cat, instance, sizeof(instance));
	snprintf(path, sizeof(path), "%s/events.log", cfg.state_dir);
	rc = hubfs_events_open(path);
	if (rc) {
		status = main_fail("cannot open the event log '%s': %s", path, strerror(-rc));
		goto out;
	}
	rc = hubfs_backend_open(&fs.be, &cfg, instance, err, sizeof(err));
	if (rc) {
		status = main_fail("%s", err);
		goto out;
	}
	rc = hubfs_library_new(&fs.lib, &cfg, fs.be, fs.cat);
	if (rc) {
		status = main_fail("%s", "out of memory");
		goto out;
	}
	rc = hubfs_streams_new(&fs.streams, &cfg, fs.cat, fs.be, fs.lib, NULL);
	if (rc) {
		status = main_fail("cannot load the streams: %s", strerror(-rc));
		goto out;
	}
	rc = hubfs_notes_fs_init(&fs, err, sizeof(err));
	if (rc) {
		status = main_fail("%s", rc == -ENOMEM ? "out of memory" : err);
		goto out;
	}

	if (fuse_mount(fs.fuse, cmd.mountpoint)) {
		status = 1; /* libfuse printed the reason */
		goto out;
	}
	mounted = true;
	if (fuse_set_signal_handlers(fuse_get_session(fs.fuse))) {
		status = main_fail("%s", "cannot install signal handlers");
		goto out;
	}
	if (fuse_daemonize(cmd.foreground)) {
		status = main_fail("%s", "cannot daemonize");
		goto out;
	}
	if (!cmd.foreground)
		hubfs_log_init("hubfs", false, cmd.debug);
	main_lock_note_pid(lock_fd);
	hubfs_event(HUBFS_EV_MOUNT, "mounted at '%s' (backend %s, node %s)", cmd.mountpoint,
		    hubfs_backend_name(fs.be), cfg.node_name);

	if (cmd.singlethread) {
		rc = fuse_loop(fs.fuse);
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop) {
			rc = -ENOMEM;
		} else {
			fuse_loop_cfg_set_clone_fd(loop, cmd.clone_fd);
			if (cmd.max_threads > 0 && cmd.max_threads <= 100000)
				fuse_loop_cfg_set_max_threads(loop, cmd.max_threads);
			if (cmd.max_idle_threads != UINT_MAX)
				fuse_loop_cfg_set_idle_threads(loop, cmd.max_idle_threads);
			rc = fuse_loop_mt(fs.fuse, loop);
		}
	}
	status = rc ? 1 : 0;
	hubfs_fs_shutdown(&fs);
	hubfs_event(HUBFS_EV_MOUNT, "unmounted '%s'", cmd.mountpoint);
	fuse_remove_signal_handlers(fuse_get_session(fs.fuse));
out:
	if (loop)
		fuse_loop_cfg_destroy(loop);
	if (mounted)
		fuse_unmount(fs.fuse);
	if (fs.fuse)
		fuse_destroy(fs.fuse);
	hubfs_notes_fs_free(&fs);
	hubfs_streams_free(fs.streams);
	hubfs_library_free(fs.lib);
	hubfs_backend_close(fs.be);
	hubfs_events_close();
	hubfs_catalog_close(fs.cat);
	if (cfg_ready)
		hubfs_config_release(&cfg);
	pthread_rwlock_destroy(&fs.inval_lock);
	if (lock_fd >= 0)
		close(lock_fd);
	free(cmd.mountpoint);
	main_args_free(&a);
	fuse_opt_free_args(&args);
	return status;
}
