/*
 * log.h — the one logging macro of hubfs.
 *
 * hubfs_log() checks the level before evaluating its arguments (redis' serverLog), so a
 * debug line on a hot path costs one comparison when debugging is off. Lines go to stderr
 * in the foreground and to syslog otherwise. HUBFS_DEBUG=backend,catalog,... (or "all")
 * turns on debug lines by category. Thread-safe: any thread may log at any time.
 */
#ifndef HUBFS_LOG_H
#define HUBFS_LOG_H

#include <stdbool.h>

enum hubfs_log_level {
	HUBFS_LOG_ERR = 0,
	HUBFS_LOG_WARN,
	HUBFS_LOG_INFO,
	HUBFS_LOG_DEBUG,
};

/* Debug categories (bit flags), named in HUBFS_DEBUG. */
enum hubfs_log_cat {
	HUBFS_CAT_FS = 1u << 0,
	HUBFS_CAT_BACKEND = 1u << 1,
	HUBFS_CAT_CATALOG = 1u << 2,
	HUBFS_CAT_MEDIA = 1u << 3,
	HUBFS_CAT_LIBRARY = 1u << 4,
	HUBFS_CAT_CONFIG = 1u << 5,
	HUBFS_CAT_STREAM = 1u << 6,
	HUBFS_CAT_NOTES = 1u << 7,
	HUBFS_CAT_SYNC = 1u << 8,
};

extern int hubfs_log_level;         /* highest level written; INFO by default */
extern unsigned int hubfs_log_cats; /* debug categories enabled */

/*
 * Start logging. @foreground: stderr instead of syslog. @debug: -d was given (all debug
 * categories). Reads HUBFS_DEBUG. May be called again (e.g. after daemonizing).
 */
void hubfs_log_init(const char *ident, bool foreground, bool debug);

void hubfs_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hubfs_log(level, ...)                                                                      \
	do {                                                                                       \
		if ((level) <= hubfs_log_level)                                                    \
			hubfs_log_write((level), __VA_ARGS__);                                     \
	} while (0)

/* A debug line in category @cat (enum hubfs_log_cat). */
#define hubfs_dbg(cat, ...)                                                                        \
	do {                                                                                       \
		if (hubfs_log_cats & (cat))                                                        \
			hubfs_log_write(HUBFS_LOG_DEBUG, __VA_ARGS__);                             \
	} while (0)

#endif
