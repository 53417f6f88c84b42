/*
 * log.c — hubfs_log(): stderr in the foreground, syslog otherwise.
 *
 * Owns the level and category globals. Any thread may log; each line is written with one
 * write(2) (stderr) or one syslog(3) call, so lines from different threads never interleave.
 * The globals are set at startup, before threads exist, and only read afterwards.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hubfs/log.h"

int hubfs_log_level = HUBFS_LOG_INFO;
unsigned int hubfs_log_cats;

static bool log_foreground = true;

static const struct {
	const char *name;
	unsigned int bit;
} log_cat_names[] = {
	{ "fs", HUBFS_CAT_FS },           { "backend", HUBFS_CAT_BACKEND },
	{ "catalog", HUBFS_CAT_CATALOG }, { "media", HUBFS_CAT_MEDIA },
	{ "library", HUBFS_CAT_LIBRARY }, { "config", HUBFS_CAT_CONFIG },
	{ "stream", HUBFS_CAT_STREAM },   { "notes", HUBFS_CAT_NOTES },
	{ "sync", HUBFS_CAT_SYNC },
};

static unsigned int log_parse_cats(const char *spec)
{
	unsigned int cats = 0;
	const char *p = spec;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 3 && !strncmp(p, "all", 3))
			cats = ~0u;
		for (size_t i = 0; i < sizeof(log_cat_names) / sizeof(log_cat_names[0]); i++)
			if (strlen(log_cat_names[i].name) == n &&
			    !strncmp(p, log_cat_names[i].name, n))
				cats |= log_cat_names[i].bit;
		p += n;
		if (*p == ',')
			p++;
	}
	return cats;
}

void hubfs_log_init(const char *ident, bool foreground, bool debug)
{
	const char *spec = getenv("HUBFS_DEBUG");

	log_foreground = foreground;
	hubfs_log_cats = debug ? ~0u : 0;
	if (spec && *spec)
		hubfs_log_cats |= log_parse_cats(spec);
	hubfs_log_level = hubfs_log_cats ? HUBFS_LOG_DEBUG : HUBFS_LOG_INFO;
	if (!foreground)
		openlog(ident ? ident : "hubfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void hubfs_log_write(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[2048];
	va_list ap;
	int n;

	if (level < HUBFS_LOG_ERR)
		level = HUBFS_LOG_ERR;
	if (level > HUBFS_LOG_DEBUG)
		level = HUBFS_LOG_DEBUG;
	va_start(ap, fmt);
	if (!log_foreground) {
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(prio[level], "%s", line);
		return;
	}
	n = snprintf(line, sizeof(line), "hubfs: %s: ", names[level]);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (n > 0 && line[n - 1] != '\n')
		line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}
