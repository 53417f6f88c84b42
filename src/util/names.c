/*
 * names.c — the name rules every directory type shares (include/hubfs/names.h).
 *
 * Pure functions over borrowed strings: no state, no allocation, no locks; any thread may
 * call them. Names come from users (FUSE lookups, create, rename, mkdir), so everything
 * here treats its input as untrusted and never reads past the terminating NUL or @len.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "hubfs/names.h"

/* A whole relative path: the kernel never hands us more than PATH_MAX bytes. */
#define NAMES_PATH_MAX 4096

/* The suffix of the backend's sidecar files: ".NAME.hubfs" beside "NAME". */
#define NAMES_SIDECAR_SUFFIX ".hubfs"

static const char *const names_video_exts[] = {
	".mp4", ".avi", ".mov", ".mkv", ".webm", ".flv", ".wmv", ".m4v",
};

int hubfs_name_check(const char *name, size_t len)
{
	if (!name || len == 0)
		return -EINVAL;
	if (len > HUBFS_NAME_MAX)
		return -ENAMETOOLONG;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '/' || c == '\0' || c == '\n' || c == '\r')
			return -EINVAL;
	}
	return 0;
}

int hubfs_path_check(const char *path)
{
	const char *p = path;
	size_t total;

	if (!path)
		return -EINVAL;
	total = strnlen(path, NAMES_PATH_MAX);
	if (total == 0)
		return 0;
	if (total >= NAMES_PATH_MAX)
		return -ENAMETOOLONG;
	for (;;) {
		size_t n = strcspn(p, "/");
		int rc = hubfs_name_check(p, n);

		if (rc)
			return rc;
		if (p[n] == '\0')
			return 0;
		p += n + 1; /* a trailing '/' leaves an empty component: -EINVAL above */
	}
}

const char *hubfs_path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

bool hubfs_name_has_video_ext(const char *name)
{
	const char *dot = strrchr(name, '.');

	/* ".mp4" alone is a hidden file with no stem, not a video name. */
	if (!dot || dot == name)
		return false;
	for (size_t i = 0; i < sizeof(names_video_exts) / sizeof(names_video_exts[0]); i++)
		if (!strcasecmp(dot, names_video_exts[i]))
			return true;
	return false;
}

/* ".hubfs" itself, or a hidden name ending in ".hubfs" (".a.mp4.hubfs"). */
static bool names_is_reserved(const char *name, size_t len)
{
	size_t slen = strlen(NAMES_SIDECAR_SUFFIX);

	if (name[0] != '.' || len < slen)
		return false;
	return !strcmp(name + len - slen, NAMES_SIDECAR_SUFFIX);
}

int hubfs_video_dirname_check(const char *name)
{
	size_t len;
	int rc;

	if (!name)
		return -EINVAL;
	len = strnlen(name, HUBFS_NAME_MAX + 1);
	rc = hubfs_name_check(name, len);
	if (rc)
		return rc;
	if (names_is_reserved(name, len))
		return -EINVAL;
	return 0;
}

int hubfs_video_name_check(const char *name)
{
	int rc = hubfs_video_dirname_check(name);

	if (rc || name[0] == '.')
		return rc; /* hidden: a temporary name, any extension */
	if (!hubfs_name_has_video_ext(name))
		return -EINVAL;
	/* Its sidecar ".NAME.hubfs" must fit in one component of the backend too. */
	if (strlen(name) > HUBFS_VIDEO_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}
