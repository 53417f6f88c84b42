/*
 * s3_creds.c — where the S3 client's credentials come from: the ones hubfs_config read from
 * the environment, else a profile of ~/.aws/credentials, else of ~/.aws/config (the AWS
 * CLI's files, parsed the way botocore's INI reader does: '#'/';' comment lines, spaces
 * around '=' or ':', CRLF, a UTF-8 BOM, "[profile NAME]" sections in the config file,
 * indented continuation and nested lines ignored).
 *
 * Owns the strings it returns (struct hubfs_s3_creds) until hubfs_s3_creds_release(),
 * which wipes them. File contents are wiped with OPENSSL_cleanse before they are freed.
 * No globals, no locks; called at mount time from one thread. Nothing here logs, and no
 * error sentence ever holds a value from a file: only paths, line numbers and key names.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "backend/s3_client.h"
#include "hubfs/config.h"

/* A credentials or config file larger than this is not one. */
#define S3_CREDS_FILE_MAX (1u << 20)

static void s3_wipe_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void hubfs_s3_creds_release(struct hubfs_s3_creds *c)
{
	if (!c)
		return;
	s3_wipe_free(c->access_key);
	s3_wipe_free(c->secret_key);
	s3_wipe_free(c->session_token);
	c->access_key = c->secret_key = c->session_token = NULL;
}

/* Read @path whole (NUL-terminated). -ENOENT when missing, -EINVAL when too large. */
static int s3_read_file(const char *path, char **out, size_t *lenp)
{
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	buf = malloc(S3_CREDS_FILE_MAX + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, S3_CREDS_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > S3_CREDS_FILE_MAX) {
			rc = -EFBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

static char *s3_trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* Does section header text @sec name @profile in a credentials (!config) or config file? */
static bool s3_section_matches(const char *sec, const char *profile, bool config)
{
	if (!config)
		return !strcmp(sec, profile);
	if (!strcmp(profile, "default") && !strcmp(sec, "default"))
		return true;
	if (strncmp(sec, "profile", 7) || (sec[7] != ' ' && sec[7] != '\t'))
		return false;
	sec += 7;
	while (*sec == ' ' || *sec == '\t')
		sec++;
	return !strcmp(sec, profile);
}

struct s3_found {
	char *ak, *sk, *token;
};

static void s3_found_release(struct s3_found *f)
{
	s3_wipe_free(f->ak);
	s3_wipe_free(f->sk);
	s3_wipe_free(f->token);
	f->ak = f->sk = f->token = NULL;
}

static int s3_found_set(char **slot, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return -ENOMEM;
	s3_wipe_free(*slot);
	*slot = v;
	return 0;
}

/*
 * Scan INI text @buf (modified in place) for @profile's keys. -EINVAL with @err naming
 * @path:line for a line that is neither a comment, a section, "key = value" nor an indented
 * continuation, or a key before any section.
 */
static int s3_ini_scan(char *buf, const char *path, const char *profile, bool config,
		       struct s3_found *f, char *err, size_t errlen)
{
	bool in_profile = false, have_section = false, have_key = false;
	unsigned int lineno = 0;
	size_t key_indent = 0;
	char *line = buf;

	if (!strncmp(line, "\xef\xbb\xbf", 3))
		line += 3;
	while (line && *line) {
		char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line), *p, *eq;
		char *key, *value;
		size_t indent = strspn(line, " \t");
		int rc;

		lineno++;
		p = s3_trim(line, end);
		line = nl ? nl + 1 : NULL;
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			size_t n = strlen(p);

			if (n < 2 || p[n - 1] != ']') {
				snprintf(err, errlen, "%s:%u: malformed section header", path,
					 lineno);
				return -EINVAL;
			}
			p[n - 1] = '\0';
			p = s3_trim(p + 1, p + n - 1);
			in_profile = s3_section_matches(p, profile, config);
			have_section = true;
			have_key = false;
			continue;
		}
		/* A line indented deeper than the last key continues it or nests under it
		 * ("s3 =\n  max_concurrent_requests = 20"), as in Python's configparser. */
		if (have_key && indent > key_indent)
			continue;
		eq = p + strcspn(p, "=:");
		if (!*eq || eq == p) {
			snprintf(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
			return -EINVAL;
		}
		if (!have_section) {
			snprintf(err, errlen, "%s:%u: a key before any [section]", path, lineno);
			return -EINVAL;
		}
		have_key = true;
		key_indent = indent;
		if (!in_profile)
			continue;
		*eq = '\0';
		key = s3_trim(p, eq);
		value = eq + 1;
		value = s3_trim(value, value + strlen(value));
		for (char *k = key; *k; k++)
			if (*k >= 'A' && *k <= 'Z')
				*k = (char)(*k - 'A' + 'a');
		rc = 0;
		if (!strcmp(key, "aws_access_key_id"))
			rc = s3_found_set(&f->ak, value);
		else if (!strcmp(key, "aws_secret_access_key"))
			rc = s3_found_set(&f->sk, value);
		else if (!strcmp(key, "aws_session_token") || !strcmp(key, "aws_security_token"))
			rc = s3_found_set(&f->token, value);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Look for @profile in file @path. 0 with both keys in *f, -ENOENT when the file or the
 * profile's keys are missing, -EINVAL for a malformed file or half a pair, -errno.
 */
static int s3_creds_from_file(const char *path, const char *profile, bool config,
			      struct s3_found *f, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = s3_read_file(path, &buf, &len);
	if (rc == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %u bytes: not a credentials file", path,
			 S3_CREDS_FILE_MAX);
		return -EINVAL;
	}
	if (rc == -ENOENT || rc == -ENOTDIR)
		return -ENOENT;
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "%s: binary data: not a credentials file", path);
		rc = -EINVAL;
		goto out;
	}
	rc = s3_ini_scan(buf, path, profile, config, f, err, errlen);
	if (rc)
		goto out;
	if (f->ak && !*f->ak) {
		s3_wipe_free(f->ak);
		f->ak = NULL;
	}
	if (f->sk && !*f->sk) {
		s3_wipe_free(f->sk);
		f->sk = NULL;
	}
	if (!f->ak != !f->sk) {
		snprintf(err, errlen, "%s: profile '%s' has %s but no %s", path, profile,
			 f->ak ? "aws_access_key_id" : "aws_secret_access_key",
			 f->ak ? "aws_secret_access_key" : "aws_access_key_id");
		rc = -EINVAL;
	} else if (!f->ak) {
		rc = -ENOENT;
	}
out:
	if (rc)
		s3_found_release(f);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

/* $VAR, else ~/REL; "~/" at the start of $VAR expanded. malloc'd, NULL without a home. */
static char *s3_aws_path(const char *var, const char *rel)
{
	const char *v = getenv(var), *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[1024], *out = NULL;

	if ((!home || !*home) && !getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) && res)
		home = res->pw_dir;
	if (v && *v) {
		if (strncmp(v, "~/", 2))
			return strdup(v);
		if (!home || asprintf(&out, "%s/%s", home, v + 2) < 0)
			return NULL;
		return out;
	}
	if (!home || !*home || asprintf(&out, "%s/%s", home, rel) < 0)
		return NULL;
	return out;
}

static int s3_creds_take(struct hubfs_s3_creds *out, const char *ak, const char *sk,
			 const char *token)
{
	out->access_key = strdup(ak);
	out->secret_key = strdup(sk);
	out->session_token = token && *token ? strdup(token) : NULL;
	if (!out->access_key || !out->secret_key || (token && *token && !out->session_token)) {
		hubfs_s3_creds_release(out);
		return -ENOMEM;
	}
	return 0;
}

int hubfs_s3_creds_load(struct hubfs_s3_creds *out, const struct hubfs_config *cfg, char *err,
			size_t errlen)
{
	const char *ak = cfg->aws_access_key_id, *sk = cfg->aws_secret_access_key;
	const char *profile = cfg->aws_profile && *cfg->aws_profile ? cfg->aws_profile : "default";
	char *cred_path = NULL, *conf_path = NULL;
	struct s3_found f = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (ak && !*ak)
		ak = NULL;
	if (sk && !*sk)
		sk = NULL;
	if (ak || sk) {
		if (!ak || !sk) {
			snprintf(err, errlen, "%s is set in the environment but %s is not",
				 ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				 ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
			return -EINVAL;
		}
		return s3_creds_take(out, ak, sk, cfg->aws_session_token);
	}

	cred_path = s3_aws_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
	conf_path = s3_aws_path("AWS_CONFIG_FILE", ".aws/config");
	rc = -ENOENT;
	if (cred_path)
		rc = s3_creds_from_file(cred_path, profile, false, &f, err, errlen);
	if (rc == -ENOENT && conf_path)
		rc = s3_creds_from_file(conf_path, profile, true, &f, err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen,
			 "no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not "
			 "set and profile '%s' has no keys in %s or %s",
			 profile, cred_path ? cred_path : "~/.aws/credentials",
			 conf_path ? conf_path : "~/.aws/config");
		goto out;
	}
	if (rc)
		goto out;
	rc = s3_creds_take(out, f.ak, f.sk, f.token);
out:
	s3_found_release(&f);
	free(cred_path);
	free(conf_path);
	return rc;
}
