/*
 * videometa.c — the "key=value" text form of struct hubfs_video_meta and its user.hub.*
 * xattrs (include/hubfs/video.h).
 *
 * Pure functions over caller-owned buffers: no state, no allocation, no locks; any thread
 * may call them. The text comes back from sidecar files, S3 object metadata and peers, so
 * the parser treats it as hostile: every number is fully consumed and range-checked, every
 * string is bounded by its field and limited to printable ASCII, a line never ends without
 * '\n', and a record missing a key this version writes is refused (a truncated sidecar is
 * -EINVAL, never a record with silently zeroed owner or mode). Numbers are written and read
 * in the C locale's form (the daemon never calls setlocale()).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubfs/video.h"

enum vmeta_key {
	VMETA_SIZE,
	VMETA_SHA256,
	VMETA_DURATION,
	VMETA_WIDTH,
	VMETA_HEIGHT,
	VMETA_FPS,
	VMETA_VIDEO_CODEC,
	VMETA_AUDIO_CODEC,
	VMETA_CONTAINER,
	VMETA_BITRATE,
	VMETA_UPLOADED,
	VMETA_MTIME_NS,
	VMETA_MODE,
	VMETA_UID,
	VMETA_GID,
	VMETA_FILE_MTIME_NS,
	VMETA_FILE_SIZE,
	VMETA_COUNT,
};

static const char *const vmeta_keys[VMETA_COUNT] = {
	[VMETA_SIZE] = "size",
	[VMETA_SHA256] = "sha256",
	[VMETA_DURATION] = "duration",
	[VMETA_WIDTH] = "width",
	[VMETA_HEIGHT] = "height",
	[VMETA_FPS] = "fps",
	[VMETA_VIDEO_CODEC] = "video_codec",
	[VMETA_AUDIO_CODEC] = "audio_codec",
	[VMETA_CONTAINER] = "container",
	[VMETA_BITRATE] = "bitrate",
	[VMETA_UPLOADED] = "uploaded",
	[VMETA_MTIME_NS] = "mtime_ns",
	[VMETA_MODE] = "mode",
	[VMETA_UID] = "uid",
	[VMETA_GID] = "gid",
	[VMETA_FILE_MTIME_NS] = "file_mtime_ns",
	[VMETA_FILE_SIZE] = "file_size",
};

/* The user.hub.* xattrs, in listxattr order. */
static const struct {
	const char *name;
	enum vmeta_key key;
} vmeta_xattrs[] = {
	{ "user.hub.duration", VMETA_DURATION },
	{ "user.hub.width", VMETA_WIDTH },
	{ "user.hub.height", VMETA_HEIGHT },
	{ "user.hub.fps", VMETA_FPS },
	{ "user.hub.video_codec", VMETA_VIDEO_CODEC },
	{ "user.hub.audio_codec", VMETA_AUDIO_CODEC },
	{ "user.hub.container", VMETA_CONTAINER },
	{ "user.hub.bitrate", VMETA_BITRATE },
	{ "user.hub.sha256", VMETA_SHA256 },
	{ "user.hub.uploaded", VMETA_UPLOADED },
};

#define VMETA_NXATTRS (sizeof(vmeta_xattrs) / sizeof(vmeta_xattrs[0]))

/* Sane bounds: anything outside them did not come from a video we validated. */
#define VMETA_DURATION_MAX 1e9 /* seconds, ~31 years */
#define VMETA_FPS_MAX 1e6
#define VMETA_DIM_MAX 1048576
#define VMETA_MODE_MAX 07777
#define VMETA_VALUE_MAX 128 /* longest value of a known key we accept, plus NUL */

/* ISO 8601 timestamps are written for years 0000..9999 only: "YYYY-MM-DDTHH:MM:SSZ". */
#define VMETA_TIME_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define VMETA_TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define VMETA_ISO_LEN 20

/* ---- calendar (proleptic Gregorian, UTC; H. Hinnant's days_from_civil) ---- */

static int64_t vmeta_days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t era;
	unsigned int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void vmeta_civil_from_days(int64_t z, int64_t *y, unsigned int *m, unsigned int *d)
{
	int64_t era;
	unsigned int doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned int)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned int vmeta_days_in_month(int64_t y, unsigned int m)
{
	static const unsigned char dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* @t as "2026-11-27T16:13:08Z" into @out (>= 21 bytes). -EINVAL outside years 0..9999. */
static int vmeta_format_time(int64_t t, char *out, size_t outlen)
{
	int64_t days, secs, y;
	unsigned int m, d;

	if (t < VMETA_TIME_MIN || t > VMETA_TIME_MAX)
		return -EINVAL;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	vmeta_civil_from_days(days, &y, &m, &d);
	snprintf(out, outlen, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02uZ", y, m, d,
		 (unsigned int)(secs / 3600), (unsigned int)(secs / 60 % 60),
		 (unsigned int)(secs % 60));
	return 0;
}

static int vmeta_digits(const char *s, size_t n, unsigned int *out)
{
	unsigned int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", every field in range. */
static int vmeta_parse_time(const char *s, int64_t *out)
{
	unsigned int y, mo, d, h, mi, sec;
	int rc;

	if (strlen(s) != VMETA_ISO_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -EINVAL;
	rc = vmeta_digits(s, 4, &y);
	rc = rc ? rc : vmeta_digits(s + 5, 2, &mo);
	rc = rc ? rc : vmeta_digits(s + 8, 2, &d);
	rc = rc ? rc : vmeta_digits(s + 11, 2, &h);
	rc = rc ? rc : vmeta_digits(s + 14, 2, &mi);
	rc = rc ? rc : vmeta_digits(s + 17, 2, &sec);
	if (rc)
		return rc;
	if (mo < 1 || mo > 12 || d < 1 || d > vmeta_days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return -EINVAL;
	*out = vmeta_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

/* ---- numbers and strings from untrusted text ---- */

static bool vmeta_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int vmeta_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull() would accept leading blanks, '+' and a wrapping '-'. */
	if (!vmeta_is_digit(s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int vmeta_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (!vmeta_is_digit(s[0] == '-' ? s[1] : s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int vmeta_parse_double(const char *s, double max, double *out)
{
	double v;
	char *end;

	/* Plain decimal only: no blanks, signs, "inf", "nan" or hex floats. */
	if (!vmeta_is_digit(s[0]) || strspn(s, "0123456789.eE+-") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end != '\0' || !isfinite(v) || v < 0 || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool vmeta_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* A NUL-terminated printable string that fits @size bytes with its NUL. */
static bool vmeta_str_ok(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	return n < size && vmeta_printable(s, n);
}

static bool vmeta_sha_ok(const char *s)
{
	size_t n = strnlen(s, 65);

	return n == 0 || (n == 64 && strspn(s, "0123456789abcdef") == 64);
}

static int vmeta_parse_str(const char *s, char *dst, size_t size)
{
	if (!vmeta_str_ok(s, size))
		return -EINVAL;
	strcpy(dst, s);
	return 0;
}

/* ---- formatting ---- */

/* The shortest of %.15g / %.17g that reads back as exactly @v. */
static void vmeta_format_double(double v, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.15g", v);
	if (strtod(out, NULL) != v)
		snprintf(out, outlen, "%.17g", v);
}

struct vmeta_out {
	char *buf;
	size_t len;
	size_t used;
	bool full;
};

static void vmeta_add(struct vmeta_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vmeta_add(struct vmeta_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used) {
		o->full = true;
		return;
	}
	o->used += (size_t)n;
}

/* Would the parser accept @m? The writer never writes what it cannot read back. */
static bool vmeta_valid(const struct hubfs_video_meta *m)
{
	const struct hubfs_media_info *mi = &m->media;

	return m->size <= INT64_MAX && m->file_size <= INT64_MAX && vmeta_sha_ok(m->sha256) &&
	       isfinite(mi->duration) && mi->duration >= 0 && mi->duration <= VMETA_DURATION_MAX &&
	       isfinite(mi->fps) && mi->fps >= 0 && mi->fps <= VMETA_FPS_MAX && mi->width >= 0 &&
	       mi->width <= VMETA_DIM_MAX && mi->height >= 0 && mi->height <= VMETA_DIM_MAX &&
	       mi->bitrate >= 0 && vmeta_str_ok(mi->video_codec, sizeof(mi->video_codec)) &&
	       vmeta_str_ok(mi->audio_codec, sizeof(mi->audio_codec)) &&
	       vmeta_str_ok(mi->container, sizeof(mi->container)) &&
	       m->uploaded >= VMETA_TIME_MIN && m->uploaded <= VMETA_TIME_MAX &&
	       m->mode <= VMETA_MODE_MAX;
}

int hubfs_video_meta_format(const struct hubfs_video_meta *m, char *buf, size_t len)
{
	struct vmeta_out o = { .buf = buf, .len = len };
	char dur[32], fps[32], when[32];

	if (!vmeta_valid(m))
		return -EINVAL;
	if (!buf || len == 0)
		return -ENOSPC;
	vmeta_format_double(m->media.duration, dur, sizeof(dur));
	vmeta_format_double(m->media.fps, fps, sizeof(fps));
	vmeta_format_time(m->uploaded, when, sizeof(when));
	vmeta_add(&o, "size=%" PRIu64 "\n", m->size);
	vmeta_add(&o, "sha256=%s\n", m->sha256);
	vmeta_add(&o, "duration=%s\n", dur);
	vmeta_add(&o, "width=%d\n", m->media.width);
	vmeta_add(&o, "height=%d\n", m->media.height);
	vmeta_add(&o, "fps=%s\n", fps);
	vmeta_add(&o, "video_codec=%s\n", m->media.video_codec);
	vmeta_add(&o, "audio_codec=%s\n", m->media.audio_codec);
	vmeta_add(&o, "container=%s\n", m->media.container);
	vmeta_add(&o, "bitrate=%" PRId64 "\n", m->media.bitrate);
	vmeta_add(&o, "uploaded=%s\n", when);
	vmeta_add(&o, "mtime_ns=%" PRId64 "\n", m->mtime_ns);
	vmeta_add(&o, "mode=%04" PRIo32 "\n", m->mode);
	vmeta_add(&o, "uid=%" PRIu32 "\n", m->uid);
	vmeta_add(&o, "gid=%" PRIu32 "\n", m->gid);
	vmeta_add(&o, "file_mtime_ns=%" PRId64 "\n", m->file_mtime_ns);
	vmeta_add(&o, "file_size=%" PRIu64 "\n", m->file_size);
	if (o.full || o.used > INT_MAX)
		return -ENOSPC;
	return (int)o.used;
}

/* ---- parsing ---- */

static int vmeta_parse_value(struct hubfs_video_meta *m, enum vmeta_key key, const char *v)
{
	struct hubfs_media_info *mi = &m->media;
	uint64_t u;
	int64_t i;
	int rc;

	switch (key) {
	case VMETA_SIZE:
		return vmeta_parse_u64(v, INT64_MAX, &m->size);
	case VMETA_SHA256:
		if (!vmeta_sha_ok(v) || strlen(v) >= sizeof(m->sha256))
			return -EINVAL;
		strcpy(m->sha256, v);
		return 0;
	case VMETA_DURATION:
		return vmeta_parse_double(v, VMETA_DURATION_MAX, &mi->duration);
	case VMETA_WIDTH:
	case VMETA_HEIGHT:
		rc = vmeta_parse_u64(v, VMETA_DIM_MAX, &u);
		if (rc)
			return rc;
		if (key == VMETA_WIDTH)
			mi->width = (int)u;
		else
			mi->height = (int)u;
		return 0;
	case VMETA_FPS:
		return vmeta_parse_double(v, VMETA_FPS_MAX, &mi->fps);
	case VMETA_VIDEO_CODEC:
		return vmeta_parse_str(v, mi->video_codec, sizeof(mi->video_codec));
	case VMETA_AUDIO_CODEC:
		return vmeta_parse_str(v, mi->audio_codec, sizeof(mi->audio_codec));
	case VMETA_CONTAINER:
		return vmeta_parse_str(v, mi->container, sizeof(mi->container));
	case VMETA_BITRATE:
		return vmeta_parse_i64(v, 0, INT64_MAX, &mi->bitrate);
	case VMETA_UPLOADED:
		return vmeta_parse_time(v, &m->uploaded);
	case VMETA_MTIME_NS:
		return vmeta_parse_i64(v, INT64_MIN, INT64_MAX, &m->mtime_ns);
	case VMETA_MODE:
		/* Octal digits only: strtoull() would also take "0x" and blanks. */
		if (!v[0] || strspn(v, "01234567") != strlen(v))
			return -EINVAL;
		errno = 0;
		u = strtoull(v, NULL, 8);
		if (errno || u > VMETA_MODE_MAX)
			return -EINVAL;
		m->mode = (uint32_t)u;
		return 0;
	case VMETA_UID:
	case VMETA_GID:
		rc = vmeta_parse_u64(v, UINT32_MAX, &u);
		if (rc)
			return rc;
		if (key == VMETA_UID)
			m->uid = (uint32_t)u;
		else
			m->gid = (uint32_t)u;
		return 0;
	case VMETA_FILE_MTIME_NS:
		rc = vmeta_parse_i64(v, INT64_MIN, INT64_MAX, &i);
		if (rc)
			return rc;
		m->file_mtime_ns = i;
		return 0;
	case VMETA_FILE_SIZE:
		return vmeta_parse_u64(v, INT64_MAX, &m->file_size);
	case VMETA_COUNT:
		break;
	}
	return -EINVAL;
}

/* One line without its '\n'. @seen collects the known keys met so far. */
static int vmeta_parse_line(struct hubfs_video_meta *m, const char *line, size_t n, uint32_t *seen)
{
	char value[VMETA_VALUE_MAX];
	const char *eq = memchr(line, '=', n);
	size_t klen, vlen;

	if (!eq || eq == line || memchr(line, '\0', n))
		return -EINVAL;
	klen = (size_t)(eq - line);
	vlen = n - klen - 1;
	if (strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_") < klen)
		return -EINVAL;
	for (int k = 0; k < VMETA_COUNT; k++) {
		if (strlen(vmeta_keys[k]) != klen || memcmp(vmeta_keys[k], line, klen))
			continue;
		if ((*seen & (1u << k)) || vlen >= sizeof(value))
			return -EINVAL;
		*seen |= 1u << k;
		memcpy(value, eq + 1, vlen);
		value[vlen] = '\0';
		return vmeta_parse_value(m, (enum vmeta_key)k, value);
	}
	return 0; /* a newer writer's key */
}

int hubfs_video_meta_parse(struct hubfs_video_meta *m, const char *buf, size_t len)
{
	uint32_t seen = 0;
	size_t pos = 0;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!buf && len) {
		rc = -EINVAL;
		goto out;
	}
	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n;

		/* Every line ends in '\n': a record cut mid-line is not a shorter record. */
		if (!nl) {
			rc = -EINVAL;
			goto out;
		}
		n = (size_t)(nl - line);
		pos += n + 1;
		if (n == 0)
			continue;
		rc = vmeta_parse_line(m, line, n, &seen);
		if (rc)
			goto out;
	}
	if (seen != (1u << VMETA_COUNT) - 1)
		rc = -EINVAL;
out:
	if (rc)
		memset(m, 0, sizeof(*m));
	return rc;
}

/* ---- xattrs ---- */

/* The value of xattr entry @idx into @out (>= 80 bytes): its length, or -ENODATA. */
static int vmeta_xattr_value(const struct hubfs_video_meta *m, size_t idx, char *out, size_t outlen)
{
	const struct hubfs_media_info *mi = &m->media;
	const char *s = NULL;
	size_t size = 0;
	int n;

	switch (vmeta_xattrs[idx].key) {
	case VMETA_DURATION:
		n = snprintf(out, outlen, "%.3f", mi->duration);
		break;
	case VMETA_WIDTH:
		n = snprintf(out, outlen, "%d", mi->width);
		break;
	case VMETA_HEIGHT:
		n = snprintf(out, outlen, "%d", mi->height);
		break;
	case VMETA_FPS:
		n = snprintf(out, outlen, "%.2f", mi->fps);
		break;
	case VMETA_BITRATE:
		n = snprintf(out, outlen, "%" PRId64, mi->bitrate);
		break;
	case VMETA_UPLOADED:
		if (vmeta_format_time(m->uploaded, out, outlen))
			return -ENODATA;
		n = VMETA_ISO_LEN;
		break;
	case VMETA_VIDEO_CODEC:
		s = mi->video_codec;
		size = sizeof(mi->video_codec);
		break;
	case VMETA_AUDIO_CODEC:
		s = mi->audio_codec;
		size = sizeof(mi->audio_codec);
		break;
	case VMETA_CONTAINER:
		s = mi->container;
		size = sizeof(mi->container);
		break;
	case VMETA_SHA256:
		s = m->sha256;
		size = sizeof(m->sha256);
		break;
	default:
		return -ENODATA;
	}
	if (s) {
		/* Bounded by the field: the struct may have come from anywhere. */
		size_t sl = strnlen(s, size);

		if (sl >= outlen)
			sl = outlen - 1;
		memcpy(out, s, sl);
		out[sl] = '\0';
		n = (int)sl;
		if (n == 0 && vmeta_xattrs[idx].key == VMETA_AUDIO_CODEC)
			return -ENODATA;
	}
	if (n < 0 || (size_t)n >= outlen)
		return -ENODATA;
	return n;
}

int hubfs_video_meta_xattr(const struct hubfs_video_meta *m, const char *name, char *buf,
			   size_t len)
{
	char value[80];
	int n;

	for (size_t i = 0; i < VMETA_NXATTRS; i++) {
		if (strcmp(name, vmeta_xattrs[i].name))
			continue;
		n = vmeta_xattr_value(m, i, value, sizeof(value));
		if (n < 0)
			return n;
		if (len == 0)
			return n;
		if (len < (size_t)n)
			return -ERANGE;
		memcpy(buf, value, (size_t)n);
		return n;
	}
	return -ENODATA;
}

int hubfs_video_meta_xattr_list(const struct hubfs_video_meta *m, char *buf, size_t len)
{
	char value[80];
	size_t total = 0;

	for (size_t i = 0; i < VMETA_NXATTRS; i++)
		if (vmeta_xattr_value(m, i, value, sizeof(value)) >= 0)
			total += strlen(vmeta_xattrs[i].name) + 1;
	if (len == 0)
		return (int)total;
	if (len < total)
		return -ERANGE;
	total = 0;
	for (size_t i = 0; i < VMETA_NXATTRS; i++) {
		size_t n = strlen(vmeta_xattrs[i].name) + 1;

		if (vmeta_xattr_value(m, i, value, sizeof(value)) < 0)
			continue;
		memcpy(buf + total, vmeta_xattrs[i].name, n);
		total += n;
	}
	return (int)total;
}
