/*
 * catalog_streams.h — the streams/ table of the catalog: each stream's name, its config
 * (the key=value text streams/NAME/config reads, parsed by stream.h) and whether its
 * scheduled start has been acted on. The supervisor (streams.h) is the only user.
 *
 * Same rules as catalog.h: thread-safe, each call one transaction, negative errno.
 */
#ifndef HUBFS_CATALOG_STREAMS_H
#define HUBFS_CATALOG_STREAMS_H

#include <stdbool.h>
#include <stdint.h>

struct hubfs_catalog;

struct hubfs_cat_stream {
	const char *name;   /* borrowed for the callback's duration */
	const char *config; /* borrowed */
	int64_t created_ns;
	bool sched_done;
};

/* Add a stream. 0, -EEXIST. */
int hubfs_catalog_stream_add(struct hubfs_catalog *cat, const char *name, const char *config,
			     int64_t created_ns);
/* Store a stream's config and schedule flag. 0, -ENOENT. */
int hubfs_catalog_stream_update(struct hubfs_catalog *cat, const char *name, const char *config,
				bool sched_done);
/* 0, -ENOENT. */
int hubfs_catalog_stream_delete(struct hubfs_catalog *cat, const char *name);
/* 0, -ENOENT (@from), -EEXIST (@to). */
int hubfs_catalog_stream_rename(struct hubfs_catalog *cat, const char *from, const char *to);
/* Every stream in name order; stops early with @fn's non-zero value. */
typedef int (*hubfs_cat_stream_fn)(void *arg, const struct hubfs_cat_stream *s);
int hubfs_catalog_stream_list(struct hubfs_catalog *cat, hubfs_cat_stream_fn fn, void *arg);

#endif
