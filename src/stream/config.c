/*
 * config.c — a stream's configuration (include/hubfs/stream.h): the key=value lines of
 * streams/NAME/config parsed, validated, merged all or nothing, and formatted back.
 *
 * Pure functions; no state, no I/O. Thread-safe.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hubfs/config.h"
#include "hubfs/names.h"
#include "hubfs/stream.h"

struct sc_resolution {
	const char *name;
	unsigned int width, height;
};

static const struct sc_resolution sc_resolutions[] = {
	{ "480p", 854, 480 }, { "720p", 1280, 720 }, { "1080p", 1920, 1080 },
	{ "2K", 2560, 1440 }, { "4K", 3840, 2160 },
};

#define SC_NRES (sizeof(sc_resolutions) / sizeof(sc_resolutions[0]))

__attribute__((format(printf, 3, 4))) static int sc_fail(char *err, size_t len, const char *fmt,
							 ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

bool hubfs_stream_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > HUBFS_STREAM_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
			return false;
	}
	return true;
}

static const struct sc_resolution *sc_resolution(const char *name)
{
	for (size_t i = 0; i < SC_NRES; i++)
		if (!strcasecmp(name, sc_resolutions[i].name))
			return &sc_resolutions[i];
	return NULL;
}

void hubfs_stream_conf_defaults(struct hubfs_stream_conf *c, const struct hubfs_config *cfg)
{
	const struct sc_resolution *r = NULL;

	memset(c, 0, sizeof(*c));
	snprintf(c->source, sizeof(c->source), "testsrc");
	c->source_kind = HUBFS_SRC_TESTSRC;
	if (cfg && cfg->default_resolution)
		r = sc_resolution(cfg->default_resolution);
	if (!r)
		r = sc_resolution("1080p");
	snprintf(c->resolution, sizeof(c->resolution), "%s", r->name);
	c->width = r->width;
	c->height = r->height;
	c->fps = 30;
	c->bitrate_kbps = cfg && cfg->default_bitrate_kbps ? cfg->default_bitrate_kbps : 5000;
	snprintf(c->output, sizeof(c->output), "hls");
}

static bool sc_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ')
			return true;
	return false;
}

/*
 * scheme://host[:port][/path...]: the scheme one of @schemes, a host of letters, digits,
 * '.', '-' (or an [IPv6] literal), a port 1..65535. @need_path: something after the host
 * (RTMP's application); @need_port: a port (SRT has no default).
 */
static int sc_url_check(const char *url, const char *const *schemes, bool need_path, bool need_port,
			const char **why)
{
	const char *p = strstr(url, "://"), *host, *end;
	size_t slen;
	bool known = false;

	*why = "expected scheme://host[:port]/path";
	if (!p || sc_has_ctl(url))
		return -EINVAL;
	slen = (size_t)(p - url);
	for (size_t i = 0; schemes[i]; i++)
		if (strlen(schemes[i]) == slen && !strncasecmp(url, schemes[i], slen))
			known = true;
	if (!known) {
		*why = "unsupported scheme";
		return -EINVAL;
	}
	host = p + 3;
	if (strchr(host, '@')) {
		const char *at = strchr(host, '@'), *slash = strchr(host, '/');

		if (!slash || at < slash)
			host = at + 1; /* user info: allowed, never logged */
	}
	if (*host == '[') {
		end = strchr(host, ']');
		if (!end || end == host + 1)
			return -EINVAL;
		for (const char *q = host + 1; q < end; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return -EINVAL;
		end++;
	} else {
		end = host;
		while (isalnum((unsigned char)*end) || *end == '.' || *end == '-' || *end == '_')
			end++;
		if (end == host) {
			*why = "expected a host name";
			return -EINVAL;
		}
	}
	if (*end == ':') {
		char *stop;
		long port = strtol(end + 1, &stop, 10);

		if (stop == end + 1 || port < 1 || port > 65535 ||
		    (*stop && *stop != '/' && *stop != '?')) {
			*why = "expected a port from 1 to 65535";
			return -EINVAL;
		}
		end = stop;
	} else if (need_port) {
		*why = "expected host:port";
		return -EINVAL;
	}
	if (*end && *end != '/' && *end != '?')
		return -EINVAL;
	if (need_path && (*end != '/' || !end[1])) {
		*why = "expected an application path (rtmp://host/app/key)";
		return -EINVAL;
	}
	return 0;
}

static const char *const sc_source_schemes[] = { "rtmp", "rtmps", "rtsp", "srt",
						 "http", "https", NULL };
static const char *const sc_rtmp_schemes[] = { "rtmp", "rtmps", NULL };
static const char *const sc_srt_schemes[] = { "srt", NULL };

static int sc_source(const char *v, enum hubfs_stream_source *kind, char *err, size_t len)
{
	const char *why = "";

	if (!strcmp(v, "testsrc")) {
		*kind = HUBFS_SRC_TESTSRC;
		return 0;
	}
	if (!strncmp(v, "videos/", 7)) {
		const char *path = v + 7;

		if (!*path || hubfs_path_check(path) ||
		    hubfs_video_name_check(hubfs_path_base(path)))
			return sc_fail(err, len, "bad value '%.300s' for source: not a video path",
				       v);
		*kind = HUBFS_SRC_VIDEO;
		return 0;
	}
	if (!strncmp(v, "/dev/video", 10)) {
		size_t n = strlen(v + 10);

		if (n < 1 || n > 3 || strspn(v + 10, "0123456789") != n)
			return sc_fail(err, len,
				       "bad value '%.300s' for source: expected /dev/videoN", v);
		*kind = HUBFS_SRC_DEVICE;
		return 0;
	}
	if (strstr(v, "://")) {
		char shown[256];

		if (sc_url_check(v, sc_source_schemes, false, false, &why)) {
			hubfs_stream_url_redact(v, shown, sizeof(shown));
			return sc_fail(err, len,
				       "bad value '%s' for source: %s (rtmp, rtmps, rtsp, srt, "
				       "http, https)",
				       shown, why);
		}
		*kind = HUBFS_SRC_URL;
		return 0;
	}
	return sc_fail(
		err, len,
		"bad value '%.300s' for source: expected testsrc, videos/PATH, an rtmp, rtsp, "
		"srt or http URL, or /dev/videoN",
		v);
}

static int sc_output(const char *v, char *err, size_t len)
{
	const char *why = "";
	char shown[256];
	int rc;

	if (!strcmp(v, "hls"))
		return 0;
	if (!strncasecmp(v, "srt://", 6))
		rc = sc_url_check(v, sc_srt_schemes, false, true, &why);
	else if (!strncasecmp(v, "rtmp://", 7) || !strncasecmp(v, "rtmps://", 8))
		rc = sc_url_check(v, sc_rtmp_schemes, true, false, &why);
	else
		return sc_fail(
			err, len,
			"bad value '%.300s' for output: expected hls, an rtmp:// or srt:// URL", v);
	if (rc) {
		hubfs_stream_url_redact(v, shown, sizeof(shown));
		return sc_fail(err, len, "bad value '%s' for output: %s", shown, why);
	}
	return 0;
}

static int sc_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	    !strcasecmp(v, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t sc_days(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int sc_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int hubfs_stream_time_parse(const char *s, int64_t *t)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec = 0, zh = 0, zm = 0, sign = 0;
	const char *p = s;
	bool zone = false;

	if (sc_digits(&p, 4, &y) || *p++ != '-' || sc_digits(&p, 2, &mo) || *p++ != '-' ||
	    sc_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	if (sc_digits(&p, 2, &h) || *p++ != ':' || sc_digits(&p, 2, &mi))
		return -EINVAL;
	if (*p == ':') {
		p++;
		if (sc_digits(&p, 2, &sec))
			return -EINVAL;
		if (*p == '.' || *p == ',') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		zone = true;
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (sc_digits(&p, 2, &zh))
			return -EINVAL;
		if (*p == ':')
			p++;
		if (*p && sc_digits(&p, 2, &zm))
			return -EINVAL;
		zone = true;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60 || zh > 23 || zm > 59)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	if (zone) {
		*t = sc_days(y, (unsigned int)mo, (unsigned int)d) * 86400 + h * 3600 + mi * 60 +
		     sec - sign * (zh * 3600 + zm * 60);
	} else {
		struct tm tm = { .tm_year = y - 1900,
				 .tm_mon = mo - 1,
				 .tm_mday = d,
				 .tm_hour = h,
				 .tm_min = mi,
				 .tm_sec = sec,
				 .tm_isdst = -1 };
		time_t lt = mktime(&tm);

		if (lt == (time_t)-1)
			return -EINVAL;
		*t = lt;
	}
	return 0;
}

void hubfs_stream_time_format(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		if (len)
			out[0] = '\0';
	}
}

void hubfs_stream_url_redact(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://"), *host, *slash, *next;
	int n;

	if (!p) {
		snprintf(out, len, "%s", url);
		return;
	}
	host = p + 3;
	slash = strchr(host, '/');
	if (strchr(host, '@') && (!slash || strchr(host, '@') < slash))
		host = strchr(host, '@') + 1;
	n = (int)(p - url);
	if (!slash) {
		size_t hl = strcspn(host, "?#");

		snprintf(out, len, "%.*s://%.*s%s", n, url, (int)hl, host, host[hl] ? "?..." : "");
		return;
	}
	next = slash + 1 + strcspn(slash + 1, "/?#");
	snprintf(out, len, "%.*s://%.*s%s", n, url, (int)(next - host), host, *next ? "/..." : "");
}

enum sc_key {
	SC_SOURCE,
	SC_LOOP,
	SC_RESOLUTION,
	SC_FPS,
	SC_BITRATE,
	SC_OUTPUT,
	SC_RECORD,
	SC_RESTART,
	SC_START_AT,
	SC_STOP_AT,
	SC_NKEYS
};

static const char *const sc_keys[SC_NKEYS] = {
	[SC_SOURCE] = "source",   [SC_LOOP] = "loop",       [SC_RESOLUTION] = "resolution",
	[SC_FPS] = "fps",         [SC_BITRATE] = "bitrate", [SC_OUTPUT] = "output",
	[SC_RECORD] = "record",   [SC_RESTART] = "restart", [SC_START_AT] = "start_at",
	[SC_STOP_AT] = "stop_at",
};

static int sc_time(const char *key, const char *v, int64_t now, int64_t *out, char *err, size_t len)
{
	int64_t t;

	if (!*v) {
		*out = 0;
		return 0;
	}
	if (hubfs_stream_time_parse(v, &t))
		return sc_fail(err, len,
			       "bad value '%.100s' for %s: expected an ISO 8601 time such as "
			       "2026-01-31T20:00:00Z",
			       v, key);
	if (now && t <= now)
		return sc_fail(err, len, "bad value '%.100s' for %s: the time is in the past", v,
			       key);
	*out = t;
	return 0;
}

/* Apply one "key=value" to @c. */
static int sc_set(struct hubfs_stream_conf *c, const char *key, const char *v, int64_t now,
		  char *err, size_t len)
{
	const struct sc_resolution *r;
	unsigned int kbps;
	char *stop;
	long fps;
	int k;

	for (k = 0; k < SC_NKEYS; k++)
		if (!strcmp(key, sc_keys[k]))
			break;
	switch (k) {
	case SC_SOURCE:
		if (strlen(v) >= sizeof(c->source))
			return sc_fail(err, len, "bad value for source: longer than %zu bytes",
				       sizeof(c->source) - 1);
		if (sc_source(v, &c->source_kind, err, len))
			return -EINVAL;
		snprintf(c->source, sizeof(c->source), "%s", v);
		return 0;
	case SC_LOOP:
		if (sc_bool(v, &c->loop))
			return sc_fail(err, len, "bad value '%.100s' for loop: expected yes or no",
				       v);
		return 0;
	case SC_RESOLUTION:
		r = sc_resolution(v);
		if (!r)
			return sc_fail(
				err, len,
				"bad value '%.100s' for resolution: expected 480p, 720p, 1080p, "
				"2K or 4K",
				v);
		snprintf(c->resolution, sizeof(c->resolution), "%s", r->name);
		c->width = r->width;
		c->height = r->height;
		return 0;
	case SC_FPS:
		fps = strtol(v, &stop, 10);
		if (!*v || *stop || fps < 1 || fps > 60)
			return sc_fail(
				err, len,
				"bad value '%.100s' for fps: expected a whole number from 1 to "
				"60",
				v);
		c->fps = (unsigned int)fps;
		return 0;
	case SC_BITRATE:
		if (hubfs_config_parse_bitrate(v, &kbps))
			return sc_fail(
				err, len,
				"bad value '%.100s' for bitrate: expected 1000k to 12000k (or 1M "
				"to 12M)",
				v);
		c->bitrate_kbps = kbps;
		return 0;
	case SC_OUTPUT:
		if (strlen(v) >= sizeof(c->output))
			return sc_fail(err, len, "bad value for output: longer than %zu bytes",
				       sizeof(c->output) - 1);
		if (sc_output(v, err, len))
			return -EINVAL;
		snprintf(c->output, sizeof(c->output), "%s", v);
		return 0;
	case SC_RECORD:
		if (sc_bool(v, &c->record))
			return sc_fail(err, len,
				       "bad value '%.100s' for record: expected yes or no", v);
		return 0;
	case SC_RESTART:
		if (!strcmp(v, "no"))
			c->restart_on_failure = false;
		else if (!strcmp(v, "on-failure"))
			c->restart_on_failure = true;
		else
			return sc_fail(err, len,
				       "bad value '%.100s' for restart: expected no or on-failure",
				       v);
		return 0;
	case SC_START_AT:
		return sc_time(key, v, now, &c->start_at, err, len);
	case SC_STOP_AT:
		return sc_time(key, v, now, &c->stop_at, err, len);
	default:
		return sc_fail(
			err, len,
			"unknown key '%.64s' (known: source loop resolution fps bitrate output "
			"record restart start_at stop_at)",
			key);
	}
}

static bool sc_equal(const struct hubfs_stream_conf *a, const struct hubfs_stream_conf *b)
{
	return !strcmp(a->source, b->source) && a->loop == b->loop &&
	       !strcmp(a->resolution, b->resolution) && a->fps == b->fps &&
	       a->bitrate_kbps == b->bitrate_kbps && !strcmp(a->output, b->output) &&
	       a->record == b->record && a->restart_on_failure == b->restart_on_failure &&
	       a->start_at == b->start_at && a->stop_at == b->stop_at;
}

static char *sc_trim(char *s, char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

int hubfs_stream_conf_apply(struct hubfs_stream_conf *c, const char *text, size_t len, int64_t now,
			    bool *changed, char *err, size_t errlen)
{
	struct hubfs_stream_conf next = *c;
	char *copy, *line, *nl;
	unsigned int lineno = 0;
	int rc = 0;

	if (changed)
		*changed = false;
	if (memchr(text, '\0', len))
		return sc_fail(err, errlen, "a NUL byte in the config");
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line && *line; line = nl) {
		char *eq, *key, *value, *end;

		nl = strchr(line, '\n');
		end = nl ? nl : line + strlen(line);
		if (nl)
			nl++;
		lineno++;
		line = sc_trim(line, end);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			rc = sc_fail(err, errlen, "line %u: expected key=value, got '%.64s'",
				     lineno, line);
			break;
		}
		key = sc_trim(line, eq);
		value = sc_trim(eq + 1, eq + 1 + strlen(eq + 1));
		rc = sc_set(&next, key, value, now, err, errlen);
		if (rc)
			break;
	}
	free(copy);
	/* A time already past is spent (its schedule ran): it orders nothing. */
	if (!rc && next.start_at && next.stop_at && next.stop_at <= next.start_at &&
	    (!now || (next.start_at > now && next.stop_at > now)))
		rc = sc_fail(err, errlen, "stop_at must come after start_at");
	if (rc)
		return rc;
	if (changed)
		*changed = !sc_equal(&next, c);
	*c = next;
	return 0;
}

char *hubfs_stream_conf_format(const struct hubfs_stream_conf *c)
{
	char start[32] = "", stop[32] = "";
	char *out = NULL;

	if (c->start_at)
		hubfs_stream_time_format(c->start_at, start, sizeof(start));
	if (c->stop_at)
		hubfs_stream_time_format(c->stop_at, stop, sizeof(stop));
	if (asprintf(&out,
		     "source=%s\nloop=%s\nresolution=%s\nfps=%u\nbitrate=%uk\noutput=%s\n"
		     "record=%s\nrestart=%s\nstart_at=%s\nstop_at=%s\n",
		     c->source, c->loop ? "yes" : "no", c->resolution, c->fps, c->bitrate_kbps,
		     c->output, c->record ? "yes" : "no",
		     c->restart_on_failure ? "on-failure" : "no", start, stop) < 0)
		return NULL;
	return out;
}
