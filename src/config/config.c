/*
 * config.c — the option table of DESIGN.md §1 and the effective configuration of a mount
 * (include/hubfs/config.h).
 *
 * Owns the strings of a struct hubfs_config (freed by hubfs_config_release()). One table
 * names every option once — its -o/INI name, its environment name, its default and its
 * validator — and init, set, the INI and environment loaders and format all walk it, so an
 * option cannot exist in one place and be missing from another. Every value remembers its
 * source, and a value never replaces one from a stronger source: -o > environment > INI >
 * defaults holds whatever order main applies them in. Credentials are never options: they
 * are read from the environment only and never formatted.
 *
 * Threads: main's, at startup, before the mount runs; afterwards the struct is read-only.
 * No locks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hubfs/config.h"

enum cfg_id {
	CFG_BACKEND,
	CFG_DATA_DIR,
	CFG_STATE_DIR,
	CFG_MAX_UPLOAD_MB,
	CFG_S3_BUCKET,
	CFG_S3_REGION,
	CFG_S3_ENDPOINT,
	CFG_S3_PREFIX,
	CFG_CACHE_MB,
	CFG_P2P,
	CFG_NODE_NAME,
	CFG_LISTEN,
	CFG_PEERS,
	CFG_DISCOVERY,
	CFG_NETWORK_KEY_FILE,
	CFG_NOTES_DEFAULT,
	CFG_NOTES_MAX_MB,
	CFG_DEFAULT_RESOLUTION,
	CFG_DEFAULT_BITRATE,
	CFG_MAX_STREAMS,
	CFG_COUNT,
};

_Static_assert(CFG_COUNT <= sizeof(((struct hubfs_config *)0)->source),
	       "struct hubfs_config.source[] is too small for the option table");

enum cfg_kind {
	CFG_K_CHOICE,  /* one of .choices, any case: value.u is its index */
	CFG_K_NUMBER,  /* a whole number in [min, max]: value.u */
	CFG_K_BOOL,    /* on/off true/false yes/no 1/0: value.b */
	CFG_K_BITRATE, /* 1000k..12000k or 1M..12M: value.u in kbps */
	CFG_K_TEXT,    /* checked and normalised by .check: value.s, owned, NULL = unset */
};

union cfg_value {
	uint64_t u;
	bool b;
	char *s;
};

struct cfg_option {
	const char *name; /* -o and INI key */
	const char *env;  /* environment name (the original hub's where it had one) */
	const char *def;  /* default, in -o form; NULL: unset, finish() may derive it */
	enum cfg_kind kind;
	const char *const *choices; /* CFG_K_CHOICE: NULL-terminated, canonical spelling */
	uint64_t min, max;          /* CFG_K_NUMBER */
	/* CFG_K_TEXT: 0 and a malloc'd normal form in *out (NULL: unset), -EINVAL, -ENOMEM */
	int (*check)(const char *in, char **out);
	const char *expected; /* ends "bad value 'x' for NAME (from SRC): " */
};

#define CFG_PATH_MAX 4096
#define CFG_NODE_MAX 64
#define CFG_PEERS_MAX 4096
#define CFG_PREFIX_MAX 1024
#define CFG_HOST_MAX 253
#define CFG_SHOWN_MAX 64 /* longest piece of a bad value quoted back in an error */
#define CFG_INI_LINE_MAX 4096

static const char *const cfg_backends[] = { "local", "s3", NULL };       /* enum order */
static const char *const cfg_discoveries[] = { "avahi", "off", NULL };   /* enum order */
static const char *const cfg_sharings[] = { "private", "shared", NULL }; /* false, true */
static const char *const cfg_resolutions[] = { "480p", "720p", "1080p", "2K", "4K", NULL };

static int cfg_check_path(const char *in, char **out);
static int cfg_check_bucket(const char *in, char **out);
static int cfg_check_region(const char *in, char **out);
static int cfg_check_endpoint(const char *in, char **out);
static int cfg_check_prefix(const char *in, char **out);
static int cfg_check_node(const char *in, char **out);
static int cfg_check_listen(const char *in, char **out);
static int cfg_check_peers(const char *in, char **out);

static const struct cfg_option cfg_options[CFG_COUNT] = {
	[CFG_BACKEND] = { "backend", "STORAGE_BACKEND", "local", CFG_K_CHOICE,
			  .choices = cfg_backends, .expected = "expected local or s3" },
	[CFG_DATA_DIR] = { "data_dir", "UPLOAD_DIR", NULL, CFG_K_TEXT, .check = cfg_check_path,
			   .expected = "expected a non-empty path without line breaks" },
	[CFG_STATE_DIR] = { "state_dir", "HUBFS_STATE_DIR", NULL, CFG_K_TEXT,
			    .check = cfg_check_path,
			    .expected = "expected a non-empty path without line breaks" },
	[CFG_MAX_UPLOAD_MB] = { "max_upload_mb", "MAX_UPLOAD_SIZE_MB", "500", CFG_K_NUMBER,
				.min = 1, .max = 1048576,
				.expected = "expected a whole number of MB from 1 to 1048576" },
	[CFG_S3_BUCKET] = { "s3_bucket", "AWS_S3_BUCKET", NULL, CFG_K_TEXT,
			    .check = cfg_check_bucket,
			    .expected = "expected a bucket name: 3 to 255 of a-z A-Z 0-9 . _ -, "
					"starting and ending with a letter or digit" },
	[CFG_S3_REGION] = { "s3_region", "AWS_REGION", "us-east-1", CFG_K_TEXT,
			    .check = cfg_check_region,
			    .expected = "expected a region name of a-z 0-9 - (e.g. us-east-1)" },
	[CFG_S3_ENDPOINT] = { "s3_endpoint", "AWS_ENDPOINT_URL", NULL, CFG_K_TEXT,
			      .check = cfg_check_endpoint,
			      .expected = "expected an http:// or https:// URL such as "
					  "http://minio:9000, without user:password@" },
	[CFG_S3_PREFIX] = { "s3_prefix", "HUBFS_S3_PREFIX", "", CFG_K_TEXT,
			    .check = cfg_check_prefix,
			    .expected = "expected a key prefix of at most 1024 printable bytes, "
					"not starting with '/'" },
	[CFG_CACHE_MB] = { "cache_mb", "HUBFS_CACHE_MB", "1024", CFG_K_NUMBER, .min = 0,
			   .max = 16777216,
			   .expected = "expected a whole number of MB from 0 to 16777216" },
	[CFG_P2P] = { "p2p", "P2P_ENABLED", "off", CFG_K_BOOL,
		      .expected = "expected on/off, true/false, yes/no or 1/0" },
	[CFG_NODE_NAME] = { "node_name", "HUBFS_NODE_NAME", NULL, CFG_K_TEXT,
			    .check = cfg_check_node,
			    .expected = "expected 1 to 64 of A-Z a-z 0-9 . _ -" },
	[CFG_LISTEN] = { "listen", "HUBFS_LISTEN", "0.0.0.0:7878", CFG_K_TEXT,
			 .check = cfg_check_listen,
			 .expected = "expected host:port (IPv4, [IPv6] or a hostname; "
				     "port 1 to 65535)" },
	[CFG_PEERS] = { "peers", "HUBFS_PEERS", "", CFG_K_TEXT, .check = cfg_check_peers,
			.expected = "expected a comma-separated list of host:port (or nothing)" },
	[CFG_DISCOVERY] = { "discovery", "HUBFS_DISCOVERY", "avahi", CFG_K_CHOICE,
			    .choices = cfg_discoveries, .expected = "expected avahi or off" },
	[CFG_NETWORK_KEY_FILE] = { "network_key_file", "HUBFS_NETWORK_KEY_FILE", NULL, CFG_K_TEXT,
				   .check = cfg_check_path,
				   .expected = "expected a non-empty path without line breaks" },
	[CFG_NOTES_DEFAULT] = { "notes_default", "NOTEPAD_DEFAULT", "private", CFG_K_CHOICE,
				.choices = cfg_sharings, .expected = "expected private or shared" },
	[CFG_NOTES_MAX_MB] = { "notes_max_mb", "NOTEPAD_MAX_SIZE_MB", "10", CFG_K_NUMBER, .min = 1,
			       .max = 1024,
			       .expected = "expected a whole number of MB from 1 to 1024" },
	[CFG_DEFAULT_RESOLUTION] = { "default_resolution", "DEFAULT_RESOLUTION", "1080p",
				     CFG_K_CHOICE, .choices = cfg_resolutions,
				     .expected = "expected 480p, 720p, 1080p, 2K or 4K" },
	[CFG_DEFAULT_BITRATE] = { "default_bitrate", "DEFAULT_BITRATE", "5000k", CFG_K_BITRATE,
				  .expected = "expected 1000k to 12000k, or 1M to 12M" },
	[CFG_MAX_STREAMS] = { "max_streams", "HUBFS_MAX_STREAMS", "4", CFG_K_NUMBER, .min = 1,
			      .max = 64, .expected = "expected a whole number from 1 to 64" },
};

#define CFG_CRED_HINT "use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials"

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* @v as it may be quoted back to a terminal: control bytes as '?', long values cut. */
static void cfg_shown(const char *v, char *out, size_t outlen)
{
	size_t n = 0;

	for (; v[n] && n < CFG_SHOWN_MAX && n + 4 < outlen; n++)
		out[n] = (v[n] >= 0 && v[n] < 0x20) || v[n] == 0x7f ? '?' : v[n];
	out[n] = '\0';
	if (v[n])
		strcpy(out + n, "...");
}

static const char *cfg_source_words(enum hubfs_config_source src)
{
	switch (src) {
	case HUBFS_SRC_DEFAULT:
		return "defaults";
	case HUBFS_SRC_INI:
		return "config file";
	case HUBFS_SRC_ENV:
		return "environment";
	case HUBFS_SRC_OPT:
		return "-o";
	}
	return "?";
}

/* ---- value checks ---- */

static bool cfg_only(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

static bool cfg_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A whole decimal number: digits only (strtoull() would take blanks, '+' and '-'). */
static int cfg_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || !cfg_only(s, "0123456789"))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int hubfs_config_parse_bitrate(const char *in, unsigned int *kbps)
{
	char digits[16];
	size_t n = strlen(in);
	uint64_t u;
	char unit;

	if (n < 2 || n >= sizeof(digits))
		return -EINVAL;
	unit = in[n - 1];
	memcpy(digits, in, n - 1);
	digits[n - 1] = '\0';
	if (cfg_parse_u64(digits, &u))
		return -EINVAL;
	if (unit == 'm' || unit == 'M') {
		if (u < 1 || u > 12)
			return -EINVAL;
		u *= 1000;
	} else if (unit == 'k' || unit == 'K') {
		if (u < 1000 || u > 12000)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	*kbps = (unsigned int)u;
	return 0;
}

int hubfs_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int cfg_dup(const char *in, char **out)
{
	*out = strdup(in);
	return *out ? 0 : -ENOMEM;
}

static int cfg_check_path(const char *in, char **out)
{
	if (!*in || strpbrk(in, "\n\r") || strlen(in) >= CFG_PATH_MAX)
		return -EINVAL;
	return cfg_dup(in, out);
}

static int cfg_check_bucket(const char *in, char **out)
{
	size_t n = strlen(in);

	*out = NULL;
	if (n == 0)
		return 0; /* unset */
	if (n < 3 || n > 255 || !cfg_is_alnum(in[0]) || !cfg_is_alnum(in[n - 1]) ||
	    !cfg_only(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"))
		return -EINVAL;
	return cfg_dup(in, out);
}

static int cfg_check_region(const char *in, char **out)
{
	size_t n = strlen(in);

	if (n == 0 || n > 64 || !cfg_only(in, "abcdefghijklmnopqrstuvwxyz0123456789-"))
		return -EINVAL;
	return cfg_dup(in, out);
}

static int cfg_check_prefix(const char *in, char **out)
{
	size_t n = strlen(in);

	if (n > CFG_PREFIX_MAX || in[0] == '/')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((in[i] >= 0 && in[i] < 0x20) || in[i] == 0x7f)
			return -EINVAL;
	return cfg_dup(in, out);
}

static int cfg_check_node(const char *in, char **out)
{
	size_t n = strlen(in);

	if (n == 0 || n > CFG_NODE_MAX || !strcmp(in, ".") || !strcmp(in, "..") ||
	    !cfg_only(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"))
		return -EINVAL;
	return cfg_dup(in, out);
}

/* A DNS name (labels of letters, digits, '-' and, for container names, '_'), or IPv4. */
static bool cfg_host_ok(const char *h, size_t n)
{
	char buf[CFG_HOST_MAX + 1];
	struct in_addr a4;
	size_t label = 0;

	if (n == 0 || n > CFG_HOST_MAX)
		return false;
	memcpy(buf, h, n);
	buf[n] = '\0';
	/* All digits and dots is an IPv4 address or nothing ("999.1.1.1" is not a name). */
	if (cfg_only(buf, "0123456789."))
		return inet_pton(AF_INET, buf, &a4) == 1;
	for (size_t i = 0; i <= n; i++) {
		char c = buf[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || buf[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!cfg_is_alnum(c) && c != '-' && c != '_')
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return true;
}

/* "[v6addr]" with an optional "%zone". */
static bool cfg_host6_ok(const char *h, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 64];
	struct in6_addr a6;
	char *zone;

	if (n < 2 || n - 2 >= sizeof(buf) || h[0] != '[' || h[n - 1] != ']')
		return false;
	memcpy(buf, h + 1, n - 2);
	buf[n - 2] = '\0';
	zone = strchr(buf, '%');
	if (zone) {
		*zone++ = '\0';
		if (!*zone || !cfg_only(zone,
					"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"0123456789._-"))
			return false;
	}
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

static bool cfg_port_ok(const char *p, size_t n)
{
	unsigned int port = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		port = port * 10 + (unsigned int)(p[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* @n bytes of "host:port": IPv4, [IPv6] or a hostname, and a port 1..65535. */
static bool cfg_hostport_ok(const char *s, size_t n)
{
	const char *colon;
	size_t hn;

	if (n == 0)
		return false;
	colon = memrchr(s, ':', n);
	if (!colon)
		return false;
	hn = (size_t)(colon - s);
	if (!cfg_port_ok(colon + 1, n - hn - 1))
		return false;
	if (s[0] == '[')
		return cfg_host6_ok(s, hn);
	return cfg_host_ok(s, hn);
}

static int cfg_check_listen(const char *in, char **out)
{
	if (!cfg_hostport_ok(in, strlen(in)))
		return -EINVAL;
	return cfg_dup(in, out);
}

/* "a:1, b:2" is stored as "a:1,b:2"; an empty entry ("a:1,,b:2", "a:1,") is refused. */
static int cfg_check_peers(const char *in, char **out)
{
	const char *blanks = " \t";
	char *norm;
	size_t used = 0, len = strlen(in);
	const char *p = in;

	*out = NULL;
	if (len > CFG_PEERS_MAX)
		return -EINVAL;
	if (in[strspn(in, blanks)] == '\0')
		return cfg_dup("", out);
	norm = malloc(len + 1);
	if (!norm)
		return -ENOMEM;
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t lead = strspn(p, blanks);
		size_t end = n;

		while (end > lead && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			end--;
		if (lead >= n || !cfg_hostport_ok(p + lead, end - lead)) {
			free(norm);
			return -EINVAL;
		}
		if (used)
			norm[used++] = ',';
		memcpy(norm + used, p + lead, end - lead);
		used += end - lead;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	norm[used] = '\0';
	*out = norm;
	return 0;
}

static int cfg_check_endpoint(const char *in, char **out)
{
	const char *rest, *auth_end;
	size_t n, hn;
	char *s;

	*out = NULL;
	if (!*in)
		return 0; /* unset: AWS */
	if (!strncasecmp(in, "http://", 7))
		rest = in + 7;
	else if (!strncasecmp(in, "https://", 8))
		rest = in + 8;
	else
		return -EINVAL;
	for (const char *c = rest; *c; c++)
		if (*c <= 0x20 || *c == 0x7f)
			return -EINVAL;
	auth_end = rest + strcspn(rest, "/?#");
	hn = (size_t)(auth_end - rest);
	/* user:password@ would put a secret where ps shows it. */
	if (hn == 0 || memchr(rest, '@', hn))
		return -EINVAL;
	if (rest[0] == '[') {
		const char *close = memchr(rest, ']', hn);

		if (!close)
			return -EINVAL;
		if (close + 1 < auth_end && !cfg_hostport_ok(rest, hn))
			return -EINVAL;
		if (close + 1 == auth_end && !cfg_host6_ok(rest, hn))
			return -EINVAL;
	} else if (memchr(rest, ':', hn)) {
		if (!cfg_hostport_ok(rest, hn))
			return -EINVAL;
	} else if (!cfg_host_ok(rest, hn)) {
		return -EINVAL;
	}
	s = strdup(in);
	if (!s)
		return -ENOMEM;
	/* The scheme in lower case, no trailing '/': the backend appends "/bucket/key". */
	for (char *c = s; c < s + (rest - in); c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	n = strlen(s);
	while (n > (size_t)(auth_end - in) && s[n - 1] == '/')
		s[--n] = '\0';
	*out = s;
	return 0;
}

/* ---- the table ---- */

static int cfg_lookup(const char *key)
{
	for (int i = 0; i < CFG_COUNT; i++)
		if (!strcmp(key, cfg_options[i].name))
			return i;
	return -1;
}

/* Keys that look like a secret: refused as options rather than passed on or ignored. */
static bool cfg_is_credential(const char *key)
{
	static const char *const words[] = {
		"secret",     "passw",     "token",       "credential",  "access_key",
		"access-key", "accesskey", "aws_profile", "aws-profile",
	};
	size_t n = strlen(key);

	if (cfg_lookup(key) >= 0)
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]))
			return true;
	/* api_key, network_key, aws_secret_key...: a value that is itself a key. */
	return n >= 3 && !strcasecmp(key + n - 3, "key");
}

static int cfg_parse(const struct cfg_option *opt, const char *in, union cfg_value *val)
{
	uint64_t u;
	int rc;

	switch (opt->kind) {
	case CFG_K_CHOICE:
		for (size_t i = 0; opt->choices[i]; i++) {
			if (!strcasecmp(in, opt->choices[i])) {
				val->u = i;
				return 0;
			}
		}
		return -EINVAL;
	case CFG_K_NUMBER:
		rc = cfg_parse_u64(in, &u);
		if (rc || u < opt->min || u > opt->max)
			return -EINVAL;
		val->u = u;
		return 0;
	case CFG_K_BOOL:
		return hubfs_parse_bool(in, &val->b);
	case CFG_K_BITRATE: {
		unsigned int kbps;

		if (hubfs_config_parse_bitrate(in, &kbps))
			return -EINVAL;
		val->u = kbps;
		return 0;
	}
	case CFG_K_TEXT:
		return opt->check(in, &val->s);
	}
	return -EINVAL;
}

/* Store @val as option @id; takes ownership of val->s. */
static void cfg_commit(struct hubfs_config *cfg, enum cfg_id id, union cfg_value *val)
{
	char **field = NULL;

	switch (id) {
	case CFG_BACKEND:
		cfg->backend = val->u ? HUBFS_BACKEND_S3 : HUBFS_BACKEND_LOCAL;
		break;
	case CFG_DISCOVERY:
		cfg->discovery = val->u ? HUBFS_DISCOVERY_OFF : HUBFS_DISCOVERY_AVAHI;
		break;
	case CFG_NOTES_DEFAULT:
		cfg->notes_default_shared = val->u == 1;
		break;
	case CFG_MAX_UPLOAD_MB:
		cfg->max_upload_mb = val->u;
		break;
	case CFG_CACHE_MB:
		cfg->cache_mb = val->u;
		break;
	case CFG_NOTES_MAX_MB:
		cfg->notes_max_mb = val->u;
		break;
	case CFG_MAX_STREAMS:
		cfg->max_streams = (unsigned int)val->u;
		break;
	case CFG_DEFAULT_BITRATE:
		cfg->default_bitrate_kbps = (unsigned int)val->u;
		break;
	case CFG_P2P:
		cfg->p2p = val->b;
		break;
	case CFG_DEFAULT_RESOLUTION:
		/* A choice, kept as its canonical string ("2k" -> "2K"): cannot fail. */
		free(cfg->default_resolution);
		cfg->default_resolution = strdup(cfg_resolutions[val->u]);
		break;
	case CFG_DATA_DIR:
		field = &cfg->data_dir;
		break;
	case CFG_STATE_DIR:
		field = &cfg->state_dir;
		break;
	case CFG_S3_BUCKET:
		field = &cfg->s3_bucket;
		break;
	case CFG_S3_REGION:
		field = &cfg->s3_region;
		break;
	case CFG_S3_ENDPOINT:
		field = &cfg->s3_endpoint;
		break;
	case CFG_S3_PREFIX:
		field = &cfg->s3_prefix;
		break;
	case CFG_NODE_NAME:
		field = &cfg->node_name;
		break;
	case CFG_LISTEN:
		field = &cfg->listen;
		break;
	case CFG_PEERS:
		field = &cfg->peers;
		break;
	case CFG_NETWORK_KEY_FILE:
		field = &cfg->network_key_file;
		break;
	case CFG_COUNT:
		break;
	}
	if (field) {
		free(*field);
		*field = val->s;
		val->s = NULL;
	}
}

/* The common path of every source; @from names the source in errors. */
static int cfg_set(struct hubfs_config *cfg, const char *key, const char *value,
		   enum hubfs_config_source src, const char *from, char *err, size_t errlen)
{
	union cfg_value val = { 0 };
	char shown[CFG_SHOWN_MAX + 8];
	const struct cfg_option *opt = NULL;
	int id;
	int rc;

	if (!key || !*key) {
		cfg_err(err, errlen, "empty option name (from %s)", from);
		rc = -EINVAL;
		goto out;
	}
	if (cfg_is_credential(key)) {
		/* Never the value: it is the secret. */
		cfg_shown(key, shown, sizeof(shown));
		if (src == HUBFS_SRC_OPT)
			cfg_err(err, errlen,
				"refused -o %s: credentials are not accepted as -o options (they "
				"would show in ps): %s",
				shown, CFG_CRED_HINT);
		else
			cfg_err(err, errlen,
				"refused %s (from %s): credentials are not accepted as options: %s",
				shown, from, CFG_CRED_HINT);
		rc = -EPERM;
		goto out;
	}
	id = cfg_lookup(key);
	if (id < 0) {
		const char *hint = NULL;

		for (int i = 0; i < CFG_COUNT && !hint; i++)
			if (!strcasecmp(key, cfg_options[i].name) ||
			    !strcasecmp(key, cfg_options[i].env))
				hint = cfg_options[i].name;
		cfg_shown(key, shown, sizeof(shown));
		if (hint)
			cfg_err(err, errlen, "unknown option '%s' (from %s): did you mean %s?",
				shown, from, hint);
		else
			cfg_err(err, errlen, "unknown option '%s' (from %s)", shown, from);
		rc = -ENOENT;
		goto out;
	}
	opt = &cfg_options[id];
	if (!value) {
		cfg_err(err, errlen, "missing value for %s (from %s): %s", key, from,
			opt->expected);
		rc = -EINVAL;
		goto out;
	}
	rc = cfg_parse(opt, value, &val);
	if (rc == -EINVAL) {
		cfg_shown(value, shown, sizeof(shown));
		cfg_err(err, errlen, "bad value '%s' for %s (from %s): %s", shown, key, from,
			opt->expected);
		goto out;
	}
	if (rc) {
		cfg_err(err, errlen, "cannot set %s (from %s): %s", key, from, strerror(-rc));
		goto out;
	}
	/* Checked either way (a bad line is reported), stored only if not overridden. */
	if (src < cfg->source[id])
		goto out;
	cfg_commit(cfg, (enum cfg_id)id, &val);
	cfg->source[id] = (unsigned char)src;
	if (id == CFG_DEFAULT_RESOLUTION && !cfg->default_resolution) {
		cfg_err(err, errlen, "cannot set %s: out of memory", key);
		rc = -ENOMEM;
	}
out:
	if (opt && opt->kind == CFG_K_TEXT)
		free(val.s);
	return rc;
}

int hubfs_config_set(struct hubfs_config *cfg, const char *key, const char *value,
		     enum hubfs_config_source src, char *err, size_t errlen)
{
	return cfg_set(cfg, key, value, src, cfg_source_words(src), err, errlen);
}

bool hubfs_config_is_option(const char *key)
{
	return key && (cfg_lookup(key) >= 0 || cfg_is_credential(key));
}

int hubfs_config_source_of(const struct hubfs_config *cfg, const char *key)
{
	int id = key ? cfg_lookup(key) : -1;

	return id < 0 ? -ENOENT : cfg->source[id];
}

int hubfs_config_init(struct hubfs_config *cfg)
{
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < CFG_COUNT && !rc; i++)
		if (cfg_options[i].def)
			rc = cfg_set(cfg, cfg_options[i].name, cfg_options[i].def,
				     HUBFS_SRC_DEFAULT, "defaults", NULL, 0);
	if (rc)
		hubfs_config_release(cfg);
	return rc;
}

void hubfs_config_release(struct hubfs_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->data_dir);
	free(cfg->state_dir);
	free(cfg->s3_bucket);
	free(cfg->s3_region);
	free(cfg->s3_endpoint);
	free(cfg->s3_prefix);
	free(cfg->node_name);
	free(cfg->listen);
	free(cfg->peers);
	free(cfg->network_key_file);
	free(cfg->default_resolution);
	/* Secrets: wiped before the memory goes back to malloc. */
	if (cfg->aws_secret_access_key)
		explicit_bzero(cfg->aws_secret_access_key, strlen(cfg->aws_secret_access_key));
	if (cfg->aws_session_token)
		explicit_bzero(cfg->aws_session_token, strlen(cfg->aws_session_token));
	free(cfg->aws_access_key_id);
	free(cfg->aws_secret_access_key);
	free(cfg->aws_session_token);
	free(cfg->aws_profile);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- INI ---- */

static char *cfg_trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/*
 * The value part of "key = value": surrounding quotes stripped; unquoted, a '#' or ';'
 * after a blank starts a comment. NULL for an unterminated quote or text after one.
 */
static char *cfg_ini_value(char *v)
{
	char *close, *after;

	v = cfg_trim(v);
	if (v[0] == '"' || v[0] == '\'') {
		close = strchr(v + 1, v[0]);
		if (!close)
			return NULL;
		*close = '\0';
		after = close + 1 + strspn(close + 1, " \t");
		if (*after && *after != '#' && *after != ';')
			return NULL;
		return v + 1;
	}
	for (char *c = v; *c; c++) {
		if ((*c == '#' || *c == ';') && c > v && (c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			break;
		}
	}
	return cfg_trim(v);
}

static int cfg_ini_line(struct hubfs_config *cfg, const char *path, unsigned int lineno, char *line,
			bool *in_scope, char *err, size_t errlen)
{
	char from[CFG_PATH_MAX + 32];
	char shown[CFG_SHOWN_MAX + 8];
	char *s, *eq, *key, *value;
	int rc;

	s = cfg_trim(line);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);

		if (s[n - 1] != ']') {
			cfg_shown(s, shown, sizeof(shown));
			cfg_err(err, errlen, "%s:%u: expected '[section]', got '%s'", path, lineno,
				shown);
			return -EINVAL;
		}
		s[n - 1] = '\0';
		*in_scope = !strcasecmp(cfg_trim(s + 1), "hubfs");
		return 0;
	}
	if (!*in_scope)
		return 0; /* another program's section */
	eq = strchr(s, '=');
	if (!eq) {
		cfg_shown(s, shown, sizeof(shown));
		cfg_err(err, errlen, "%s:%u: expected 'key = value', got '%s'", path, lineno,
			shown);
		return -EINVAL;
	}
	*eq = '\0';
	key = cfg_trim(s);
	value = cfg_ini_value(eq + 1);
	if (!*key || !value) {
		cfg_err(err, errlen, "%s:%u: expected 'key = value'%s", path, lineno,
			value ? " with a key" : " with matching quotes");
		return -EINVAL;
	}
	snprintf(from, sizeof(from), "%s:%u", path, lineno);
	rc = cfg_set(cfg, key, value, HUBFS_SRC_INI, from, err, errlen);
	/* -ENOENT means a missing file to the caller: an unknown key is a bad line. */
	return rc == -ENOENT ? -EINVAL : rc;
}

int hubfs_config_load_ini(struct hubfs_config *cfg, const char *path, char *err, size_t errlen)
{
	bool in_scope = true; /* keys before any [section] are ours */
	unsigned int lineno = 0;
	int read_errno = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	ssize_t n;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		cfg_err(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		char *s;

		errno = 0;
		n = getline(&line, &cap, f);
		if (n < 0) {
			read_errno = errno;
			break;
		}
		lineno++;
		s = line;
		if (lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
			s += 3; /* a UTF-8 byte order mark from a Windows editor */
		if ((size_t)n != strlen(line)) {
			cfg_err(err, errlen, "%s:%u: line holds a NUL byte", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		if (n > CFG_INI_LINE_MAX) {
			cfg_err(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
				CFG_INI_LINE_MAX);
			rc = -EINVAL;
			goto out;
		}
		rc = cfg_ini_line(cfg, path, lineno, s, &in_scope, err, errlen);
		if (rc)
			goto out;
	}
	if (ferror(f)) {
		rc = read_errno ? -read_errno : -EIO;
		cfg_err(err, errlen, "cannot read config file '%s': %s", path, strerror(-rc));
	}
out:
	free(line);
	if (f)
		fclose(f);
	return rc;
}

/* ---- environment ---- */

/* The first of @names that is set and not empty, copied into *@field. */
static int cfg_take_env(char **field, char *(*getenv_fn)(const char *name), const char *name1,
			const char *name2)
{
	const char *v = getenv_fn(name1);

	if ((!v || !*v) && name2)
		v = getenv_fn(name2);
	if (!v || !*v)
		return 0;
	free(*field);
	*field = strdup(v);
	return *field ? 0 : -ENOMEM;
}

int hubfs_config_load_env(struct hubfs_config *cfg, char *(*getenv_fn)(const char *name), char *err,
			  size_t errlen)
{
	char from[64];
	int rc = 0;

	for (int i = 0; i < CFG_COUNT; i++) {
		const char *v = getenv_fn(cfg_options[i].env);

		if (!v)
			continue;
		snprintf(from, sizeof(from), "environment %s", cfg_options[i].env);
		rc = cfg_set(cfg, cfg_options[i].name, v, HUBFS_SRC_ENV, from, err, errlen);
		if (rc)
			goto out;
	}
	rc = cfg_take_env(&cfg->aws_access_key_id, getenv_fn, "AWS_ACCESS_KEY_ID",
			  "AWS_ACCESS_KEY");
	if (!rc)
		rc = cfg_take_env(&cfg->aws_secret_access_key, getenv_fn, "AWS_SECRET_ACCESS_KEY",
				  "AWS_SECRET_KEY");
	if (!rc)
		rc = cfg_take_env(&cfg->aws_session_token, getenv_fn, "AWS_SESSION_TOKEN", NULL);
	if (!rc)
		rc = cfg_take_env(&cfg->aws_profile, getenv_fn, "AWS_PROFILE", NULL);
	if (rc)
		cfg_err(err, errlen, "cannot read AWS credentials from the environment: %s",
			strerror(-rc));
out:
	return rc;
}

/* ---- finish ---- */

static int cfg_join(char **out, const char *a, const char *b)
{
	size_t la = strlen(a);

	/* "/" + "x" is "/x", not "//x". */
	while (la > 1 && a[la - 1] == '/')
		la--;
	if (asprintf(out, "%.*s/%s", (int)la, a, b) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* $HOME if absolute, else the password database's home of @uid; NULL if neither. */
static char *cfg_home(uid_t uid, char *(*getenv_fn)(const char *name))
{
	const char *home = getenv_fn("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (home && home[0] == '/')
		return strdup(home);
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) || !res || !res->pw_dir ||
	    res->pw_dir[0] != '/')
		return NULL;
	return strdup(res->pw_dir);
}

/* Make *@path absolute: "~/x" against @home, "x" against @cwd; trailing '/'s dropped. */
static int cfg_absolute(char **path, const char *home, const char *cwd)
{
	char *p = *path, *abs = NULL;
	size_t n;
	int rc = 0;

	if (!p)
		return 0;
	if ((p[0] == '~' && p[1] == '/') || !strcmp(p, "~")) {
		if (!home)
			return -ENOENT;
		rc = p[1] ? cfg_join(&abs, home, p + 2) : cfg_dup(home, &abs);
	} else if (p[0] != '/') {
		rc = cfg_join(&abs, cwd, p);
	}
	if (rc)
		return rc;
	if (abs) {
		free(p);
		p = abs;
		*path = p;
	}
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	return 0;
}

/* gethostname(), reduced to the node_name alphabet: "my host" -> "my-host". */
static int cfg_default_node(char **out)
{
	char host[256];
	size_t n;

	if (gethostname(host, sizeof(host)))
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	host[CFG_NODE_MAX] = '\0';
	for (n = 0; host[n]; n++)
		if (!cfg_is_alnum(host[n]) && host[n] != '.' && host[n] != '_' && host[n] != '-')
			host[n] = '-';
	if (n == 0 || !strcmp(host, ".") || !strcmp(host, ".."))
		return cfg_dup("hubfs", out);
	return cfg_dup(host, out);
}

int hubfs_config_finish_as(struct hubfs_config *cfg, uid_t uid,
			   char *(*getenv_fn)(const char *name), char *err, size_t errlen)
{
	const struct {
		enum cfg_id id;
		char **field;
	} paths[] = {
		{ CFG_STATE_DIR, &cfg->state_dir },
		{ CFG_DATA_DIR, &cfg->data_dir },
		{ CFG_NETWORK_KEY_FILE, &cfg->network_key_file },
	};
	char *home = cfg_home(uid, getenv_fn);
	const char *xdg = getenv_fn("XDG_STATE_HOME");
	char *cwd = NULL;
	int rc = 0;

	if (!cfg->state_dir) {
		if (uid == 0)
			rc = cfg_dup("/var/lib/hubfs", &cfg->state_dir);
		else if (xdg && xdg[0] == '/') /* the XDG spec: a relative value is ignored */
			rc = cfg_join(&cfg->state_dir, xdg, "hubfs");
		else if (home)
			rc = cfg_join(&cfg->state_dir, home, ".local/state/hubfs");
		else
			rc = -ENOENT;
		if (rc == -ENOENT) {
			cfg_err(err, errlen,
				"cannot find a home directory for uid %u to keep "
				"state_dir in: set state_dir (or HUBFS_STATE_DIR)",
				(unsigned int)uid);
			rc = -EINVAL;
		}
		if (rc)
			goto out;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		rc = -errno;
		cfg_err(err, errlen, "cannot make paths absolute: current directory: %s",
			strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		rc = cfg_absolute(paths[i].field, home, cwd);
		if (rc == -ENOENT) {
			cfg_err(err, errlen, "cannot expand '~' in %s: no home directory",
				cfg_options[paths[i].id].name);
			rc = -EINVAL;
		}
		if (rc)
			goto out;
	}
	if (!cfg->data_dir)
		rc = cfg_join(&cfg->data_dir, cfg->state_dir, "videos");
	if (!rc && !cfg->network_key_file)
		rc = cfg_join(&cfg->network_key_file, cfg->state_dir, "network.key");
	if (!rc && !cfg->node_name)
		rc = cfg_default_node(&cfg->node_name);
	if (rc)
		goto out;
	if (cfg->backend == HUBFS_BACKEND_S3 && !cfg->s3_bucket) {
		cfg_err(err, errlen,
			"backend=s3 needs s3_bucket: set -o s3_bucket=NAME or "
			"AWS_S3_BUCKET");
		rc = -EINVAL;
		goto out;
	}
	/* Half a key pair is a typo, not a choice: say so now rather than 403 later. */
	if (cfg->backend == HUBFS_BACKEND_S3 &&
	    !cfg->aws_access_key_id != !cfg->aws_secret_access_key) {
		cfg_err(err, errlen,
			"incomplete AWS credentials in the environment: %s is set "
			"but not %s",
			cfg->aws_access_key_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			cfg->aws_access_key_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		rc = -EINVAL;
		goto out;
	}
	if (cfg->backend == HUBFS_BACKEND_S3 && cfg->aws_session_token && !cfg->aws_access_key_id) {
		cfg_err(err, errlen,
			"incomplete AWS credentials in the environment: "
			"AWS_SESSION_TOKEN is set without AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
		rc = -EINVAL;
		goto out;
	}
out:
	if (rc == -ENOMEM)
		cfg_err(err, errlen, "cannot finish the configuration: out of memory");
	free(cwd);
	free(home);
	return rc;
}

static char *cfg_getenv(const char *name)
{
	return getenv(name);
}

int hubfs_config_finish(struct hubfs_config *cfg, char *err, size_t errlen)
{
	return hubfs_config_finish_as(cfg, getuid(), cfg_getenv, err, errlen);
}

/* ---- format ---- */

static void cfg_format_value(const struct hubfs_config *cfg, enum cfg_id id, FILE *f)
{
	const char *s = NULL;

	switch (id) {
	case CFG_BACKEND:
		s = cfg_backends[cfg->backend == HUBFS_BACKEND_S3];
		break;
	case CFG_DISCOVERY:
		s = cfg_discoveries[cfg->discovery == HUBFS_DISCOVERY_OFF];
		break;
	case CFG_NOTES_DEFAULT:
		s = cfg_sharings[cfg->notes_default_shared];
		break;
	case CFG_P2P:
		s = cfg->p2p ? "on" : "off";
		break;
	case CFG_MAX_UPLOAD_MB:
		fprintf(f, "%" PRIu64, cfg->max_upload_mb);
		return;
	case CFG_CACHE_MB:
		fprintf(f, "%" PRIu64, cfg->cache_mb);
		return;
	case CFG_NOTES_MAX_MB:
		fprintf(f, "%" PRIu64, cfg->notes_max_mb);
		return;
	case CFG_MAX_STREAMS:
		fprintf(f, "%u", cfg->max_streams);
		return;
	case CFG_DEFAULT_BITRATE:
		fprintf(f, "%uk", cfg->default_bitrate_kbps);
		return;
	case CFG_DEFAULT_RESOLUTION:
		s = cfg->default_resolution;
		break;
	case CFG_DATA_DIR:
		s = cfg->data_dir;
		break;
	case CFG_STATE_DIR:
		s = cfg->state_dir;
		break;
	case CFG_S3_BUCKET:
		s = cfg->s3_bucket;
		break;
	case CFG_S3_REGION:
		s = cfg->s3_region;
		break;
	case CFG_S3_ENDPOINT:
		s = cfg->s3_endpoint;
		break;
	case CFG_S3_PREFIX:
		s = cfg->s3_prefix;
		break;
	case CFG_NODE_NAME:
		s = cfg->node_name;
		break;
	case CFG_LISTEN:
		s = cfg->listen;
		break;
	case CFG_PEERS:
		s = cfg->peers;
		break;
	case CFG_NETWORK_KEY_FILE:
		s = cfg->network_key_file;
		break;
	case CFG_COUNT:
		break;
	}
	if (s)
		fputs(s, f);
}

char *hubfs_config_format(const struct hubfs_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	bool creds;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (int i = 0; i < CFG_COUNT; i++) {
		fprintf(f, "%s=", cfg_options[i].name);
		cfg_format_value(cfg, (enum cfg_id)i, f);
		fputc('\n', f);
	}
	creds = cfg->aws_access_key_id || cfg->aws_secret_access_key || cfg->aws_session_token ||
		cfg->aws_profile;
	fprintf(f, "aws_credentials=%s\n", creds ? "(set)" : "(unset)");
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
