/*
 * finish.c — what happens around a stream's run besides the worker itself: the HLS
 * directory made clean before a run, the playlist ended after one (a worker killed by the
 * watchdog or by SIGKILL cannot write #EXT-X-ENDLIST; ffmpeg and nginx-rtmp leave such a
 * playlist "live" forever, we end it), and a recording committed into videos/ through the
 * library, with the same validation and backend commit as a copied file.
 *
 * Threads: st_hls_end and st_dir_reset run on the supervisor's thread; st_recording_commit
 * on a thread of its own per recording (it may copy gigabytes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hubfs/events.h"
#include "hubfs/library.h"
#include "hubfs/log.h"
#include "hubfs/stream_proto.h"

#include "stream/stream_int.h"

#define ST_ENDLIST "#EXT-X-ENDLIST"
#define ST_COPY_CHUNK (1u << 20)

static int st_read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd, rc = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size > (1 << 20)) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n < 0)
		rc = -errno;
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

bool st_hls_end(const char *dir)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	bool done = false;
	FILE *f = NULL;

	if (snprintf(path, sizeof(path), "%s/%s", dir, HUBFS_STREAM_HLS_PLAYLIST) >=
		    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.end", dir, HUBFS_STREAM_HLS_PLAYLIST) >=
		    (int)sizeof(tmp))
		return false;
	if (st_read_file(path, &text, &len))
		return false;
	if (!len || strstr(text, ST_ENDLIST))
		goto out;
	f = fopen(tmp, "we");
	if (!f)
		goto out;
	if (fwrite(text, 1, len, f) != len || (text[len - 1] != '\n' && fputc('\n', f) == EOF) ||
	    fputs(ST_ENDLIST "\n", f) == EOF || fflush(f) || fsync(fileno(f))) {
		fclose(f);
		unlink(tmp);
		goto out;
	}
	fclose(f);
	done = !rename(tmp, path);
	if (!done)
		unlink(tmp);
out:
	free(text);
	return done;
}

int st_dir_reset(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT && !rc)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

/* Create videos/'s directories above @dest ("recordings/a.mkv" -> "recordings"). */
static int st_parents(struct hubfs_library *lib, const char *dest)
{
	char dir[PATH_MAX];
	int rc;

	snprintf(dir, sizeof(dir), "%s", dest);
	for (char *slash = strchr(dir, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		rc = hubfs_library_mkdir(lib, dir, 0755, getuid(), getgid());
		*slash = '/';
		if (rc && rc != -EEXIST)
			return rc;
	}
	return 0;
}

int st_recording_commit(struct hubfs_library *lib, const char *stream, const char *file,
			const char *dest)
{
	struct hubfs_library_upload *up = NULL;
	char kept[PATH_MAX];
	char *buf = NULL;
	off_t off = 0;
	int fd, rc;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(ST_COPY_CHUNK);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	rc = st_parents(lib, dest);
	if (rc)
		goto out;
	rc = hubfs_library_upload_begin(lib, dest, 0644, getuid(), getgid(), 0, &up);
	if (rc)
		goto out;
	for (;;) {
		ssize_t n = pread(fd, buf, ST_COPY_CHUNK, off), w;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		w = hubfs_library_upload_write(up, buf, (size_t)n, off);
		if (w < 0) {
			rc = (int)w;
			goto out;
		}
		off += n;
	}
	rc = hubfs_library_upload_commit(up);
out:
	hubfs_library_upload_free(up);
	free(buf);
	close(fd);
	if (!rc) {
		unlink(file);
		hubfs_event(HUBFS_EV_STREAM, "'%s': recording saved as 'videos/%s'", stream, dest);
	} else if (rc == -EINVAL) {
		unlink(file);
		hubfs_event(HUBFS_EV_STREAM, "'%s': recording refused (not a valid video)", stream);
	} else if (rc == -EFBIG) {
		snprintf(kept, sizeof(kept), "%s.too-large", file);
		if (rename(file, kept))
			snprintf(kept, sizeof(kept), "%s", file);
		hubfs_event(HUBFS_EV_ERROR,
			    "stream '%s': recording larger than max_upload_mb, kept as '%s'",
			    stream, kept);
	} else {
		hubfs_event(
			HUBFS_EV_ERROR,
			"stream '%s': cannot save the recording as 'videos/%s': %s (kept for the "
			"next mount)",
			stream, dest, strerror(-rc));
	}
	return rc;
}
