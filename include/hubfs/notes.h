/*
 * notes.h — the rules of notes/ that are not storage: which names are editor scratch, which
 * are reserved, how a version id is derived, how tags and search queries are normalised.
 * Pure functions over their arguments (no state, any thread); untrusted input (user names,
 * xattr values, queries, later peer bytes) is checked here.
 */
#ifndef HUBFS_NOTES_H
#define HUBFS_NOTES_H

#include <stdbool.h>
#include <stddef.h>

#include "hubfs/catalog_notes.h"

/*
 * Editor scratch files work as plain files but never become versions, never appear in
 * search and never sync: vim swap files (.NAME.swp, .swo, ... = ".*.sw?") and its write
 * probe (4913, 5036, ... = 4913 + 123k), backups ("*~"), emacs locks and autosaves (".#*",
 * "#*#"), GIO/gedit temporaries (".goutputstream-*"), sed -i temporaries ("sed" + 6
 * letters/digits), atomic-save temporaries (".*.tmp", "*.tmp"), LibreOffice locks
 * (".~lock.*#"), rsync temporaries (".NAME.XXXXXX": hidden, ending in '.' + 6 letters/digits).
 */
bool hubfs_note_is_scratch(const char *name);

/* Names notes/ reserves at its top level: ".versions", ".search", ".conflicts". */
bool hubfs_note_is_reserved(const char *name);

/* Name rule for a note or folder in notes/: hubfs_name_check() (EINVAL, ENAMETOOLONG) and,
 * at the top level (@top), not a reserved name (EINVAL). */
int hubfs_note_name_check(const char *name, bool top);

/*
 * The version id: lower-case hex SHA-256 over a domain tag, the content, the parent ids
 * (sorted, so a merge's id does not depend on who merged), the origin node and whether it
 * is a delete. Deterministic: two peers making the same version make the same id.
 * @parents: @nparents ids (0..2). 0 or -EINVAL (a bad parent id).
 */
int hubfs_note_version_id(const void *content, size_t len, const char *const *parents,
			  unsigned int nparents, const char *origin, bool deleted,
			  char out[HUBFS_NOTE_ID_LEN + 1]);

/* A new note's global id: 128 random bits, hex. 0 or -errno. */
int hubfs_note_new_gid(char out[HUBFS_NOTE_GID_LEN + 1]);

/*
 * Tags as user.xdg.tags takes them: comma-separated; each trimmed, lower-cased (ASCII),
 * duplicates and empties dropped, sorted; a tag may hold letters, digits, '-', '_', '.',
 * '/', ':' and non-ASCII UTF-8, at most 64 bytes; at most 64 tags. -EINVAL otherwise,
 * -ERANGE if @len is short.
 */
int hubfs_note_tags_normalize(const char *in, size_t inlen, char *out, size_t len);

/*
 * A search directory name as an FTS5 query: when @raw parses as FTS5 syntax the caller
 * uses it as is; when it does not (v2.1, sync-conflict), this quotes every bare term
 * ("v2.1" "sync-conflict") keeping a trailing '*' as a prefix query. -ERANGE if short.
 */
int hubfs_note_query_quote(const char *raw, char *out, size_t len);

#endif
