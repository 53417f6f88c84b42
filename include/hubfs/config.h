/*
 * config.h — the effective configuration of one mount (DESIGN.md §1).
 *
 * Every option has one name in -o, the INI file and (as listed) the environment. Sources are
 * applied in order defaults < INI file < environment < -o, each through hubfs_config_set(),
 * which validates and remembers where the value came from. Credentials are never options:
 * they come only from the environment (AWS_*) or ~/.aws, are kept out of every formatted
 * output, and hubfs_config_set() refuses them as -o or INI keys.
 *
 * Not thread-safe while being built; read-only (shared by every thread) once the mount runs.
 */
#ifndef HUBFS_CONFIG_H
#define HUBFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum hubfs_backend_kind { HUBFS_BACKEND_LOCAL = 0, HUBFS_BACKEND_S3 };
enum hubfs_discovery { HUBFS_DISCOVERY_AVAHI = 0, HUBFS_DISCOVERY_OFF };
enum hubfs_config_source {
	HUBFS_SRC_DEFAULT = 0,
	HUBFS_SRC_INI,
	HUBFS_SRC_ENV,
	HUBFS_SRC_OPT, /* -o */
};

#define HUBFS_CONFIG_ERR_MAX 512

struct hubfs_config {
	enum hubfs_backend_kind backend;
	char *data_dir;  /* NULL until finish(): then state_dir/videos unless set */
	char *state_dir; /* NULL until finish(): /var/lib/hubfs (root), ~/.local/state/hubfs */
	uint64_t max_upload_mb;
	char *s3_bucket;   /* NULL if unset */
	char *s3_region;   /* "us-east-1" */
	char *s3_endpoint; /* NULL: AWS; else a http(s) URL, path-style */
	char *s3_prefix;   /* "" */
	uint64_t cache_mb;
	bool p2p;
	char *node_name; /* hostname by default */
	char *listen;    /* "0.0.0.0:7878" */
	char *peers;     /* "" or "host:port,host:port" (validated) */
	enum hubfs_discovery discovery;
	char *network_key_file; /* NULL until finish(): state_dir/network.key */
	bool notes_default_shared;
	uint64_t notes_max_mb;
	char *default_resolution;          /* 480p 720p 1080p 2K 4K */
	unsigned int default_bitrate_kbps; /* 1000..12000 */
	unsigned int max_streams;          /* >= 1 */

	/* Credentials from the environment / ~/.aws only; never formatted. NULL if absent. */
	char *aws_access_key_id;
	char *aws_secret_access_key;
	char *aws_session_token;
	char *aws_profile;

	/* Where each option's value came from (enum hubfs_config_source), indexed like the
	 * option table; see hubfs_config_source_of(). */
	unsigned char source[32];
};

/* Defaults for every option. Cannot fail except -ENOMEM. */
int hubfs_config_init(struct hubfs_config *cfg);
void hubfs_config_release(struct hubfs_config *cfg); /* NULL-safe */

/*
 * Set option @key (the -o / INI name) to @value from @src. Validates the value; on error
 * returns -EINVAL (bad value), -ENOENT (unknown key) or -EPERM (a credential given as -o or
 * INI) and writes one human sentence into @err, e.g.
 * "bad value 'abc' for max_upload_mb (from -o): expected a whole number of MB from 1 to
 * 1048576". The value is always validated, but stored only if @src is at least as strong as
 * the source of the current value (-o > environment > INI > defaults), so the order in which
 * sources are applied does not matter; within one source the last value wins.
 */
int hubfs_config_set(struct hubfs_config *cfg, const char *key, const char *value,
		     enum hubfs_config_source src, char *err, size_t errlen);

/*
 * Is @key ours (for the fuse_opt split)? True for every option name and also for keys that
 * look like credentials (aws_secret_access_key, *_token, *_key...), so that
 * hubfs_config_set() refuses them with -EPERM instead of libfuse calling them unknown.
 */
bool hubfs_config_is_option(const char *key);

/*
 * Apply an INI file: "key = value" lines, optional [hubfs] section (other sections are
 * ignored), '#' and ';' comments. -ENOENT if the file is missing (the caller decides whether
 * a missing default file matters), -EINVAL with @err naming file:line for a bad line
 * (syntax, unknown key, bad value), -EPERM for a credential key, -errno if unreadable.
 * Keys outside any section are accepted; values may be quoted; an unquoted " #" or " ;"
 * starts a comment.
 */
int hubfs_config_load_ini(struct hubfs_config *cfg, const char *path, char *err, size_t errlen);

/*
 * Apply the environment (each option's env names, e.g. STORAGE_BACKEND, UPLOAD_DIR,
 * MAX_UPLOAD_SIZE_MB, P2P_ENABLED...) and read credentials (AWS_ACCESS_KEY_ID or
 * AWS_ACCESS_KEY, AWS_SECRET_ACCESS_KEY or AWS_SECRET_KEY, AWS_SESSION_TOKEN, AWS_PROFILE).
 * @getenv_fn is getenv in production, a fake in tests. An option's variable that is set
 * is validated like -o (empty is a value, usually a bad one); an empty credential variable
 * counts as unset. -EINVAL with @err naming the variable.
 */
int hubfs_config_load_env(struct hubfs_config *cfg, char *(*getenv_fn)(const char *name), char *err,
			  size_t errlen);

/*
 * Derive what depends on other options (state_dir default by uid, data_dir, key file),
 * check combinations (backend=s3 needs s3_bucket), and make paths absolute. -EINVAL + @err.
 * Does not touch the disk: the caller checks that directories exist and are writable.
 * state_dir defaults to /var/lib/hubfs for uid 0, else $XDG_STATE_HOME/hubfs (when
 * absolute) or ~/.local/state/hubfs; a leading "~/" in a path is expanded; node_name
 * defaults to the hostname with characters outside [A-Za-z0-9._-] replaced by '-'. With
 * backend=s3, half an AWS key pair in the environment is -EINVAL too. Idempotent.
 */
int hubfs_config_finish(struct hubfs_config *cfg, char *err, size_t errlen);

/* hubfs_config_finish() as if run by @uid with environment @getenv_fn (HOME, XDG_STATE_HOME). */
int hubfs_config_finish_as(struct hubfs_config *cfg, uid_t uid,
			   char *(*getenv_fn)(const char *name), char *err, size_t errlen);

/* Where @key's current value came from (enum hubfs_config_source), or -ENOENT. */
int hubfs_config_source_of(const struct hubfs_config *cfg, const char *key);

/*
 * The effective configuration as "key=value\n" lines, every option in table order in the
 * form -o takes (unset: empty), then one "aws_credentials=(set)" or "(unset)" line: never
 * a credential's value. Returns a malloc'd string (caller frees) or NULL on ENOMEM.
 */
char *hubfs_config_format(const struct hubfs_config *cfg);

/* Parse a boolean as DESIGN.md §1: on/off true/false yes/no 1/0, any case. 0 or -EINVAL. */
int hubfs_parse_bool(const char *s, bool *out);

/* A bitrate as the options and stream configs take it: 1000k..12000k or 1M..12M (k/M any
 * case). 0 and *kbps, or -EINVAL. */
int hubfs_config_parse_bitrate(const char *in, unsigned int *kbps);

#endif
