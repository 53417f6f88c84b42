/*
 * names.h — the name rules every directory type shares (pure functions, no state).
 *
 * A path component is refused when it is empty, "." or "..", holds '/', NUL, '\n' or '\r'
 * (-EINVAL), or is longer than 255 bytes (-ENAMETOOLONG). Each directory type adds its own
 * rules on top (videos/: extensions; streams/: [A-Za-z0-9._-]{1,64}).
 */
#ifndef HUBFS_NAMES_H
#define HUBFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define HUBFS_NAME_MAX 255
/* A visible video name leaves room for its backend sidecar ".NAME.hubfs" (7 more bytes). */
#define HUBFS_VIDEO_NAME_MAX (HUBFS_NAME_MAX - 7)

/* 0, -EINVAL or -ENAMETOOLONG for one path component of @len bytes. */
int hubfs_name_check(const char *name, size_t len);

/*
 * Check every component of a relative path "a/b/c" ("" is the root: valid). A leading,
 * trailing or doubled '/' is an empty component (-EINVAL); 4096 bytes or more: -ENAMETOOLONG.
 */
int hubfs_path_check(const char *path);

/* The last component of @path ("a/b.mp4" -> "b.mp4"); @path itself when it has no '/'. */
const char *hubfs_path_base(const char *path);

/*
 * True if @name ends in one of the video extensions (.mp4 .avi .mov .mkv .webm .flv .wmv
 * .m4v), any case, after a non-empty stem (".mp4" alone is a hidden name, not a video).
 */
bool hubfs_name_has_video_ext(const char *name);

/*
 * The videos/ rule for a file name: hidden names (leading '.') are allowed as temporary
 * names; other names need a video extension (-EINVAL). Names reserved for the backend's own
 * files (".hubfs" and ".*.hubfs" sidecars) are -EINVAL. A visible name longer than
 * HUBFS_VIDEO_NAME_MAX is -ENAMETOOLONG (its sidecar would not fit). Includes
 * hubfs_name_check().
 */
int hubfs_video_name_check(const char *name);

/* The videos/ rule for a directory name: hubfs_name_check() plus the reserved names. */
int hubfs_video_dirname_check(const char *name);

#endif
