/*
 * test_local_stage.c — the local backend's staged file: whatever mix of queued O_DIRECT
 * writes (sequential, aligned, large) and buffered ones (out of order, unaligned, small,
 * overwrites), truncates and syncs a writer makes, the file ends up byte for byte what a
 * plain file would hold. Each pattern is replayed on a model buffer and compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/local_stage.h"

#define T_MAX (48u << 20)

struct t_env {
	char dir[64];
	int dirfd;
	struct local_stage *s;
	unsigned char *model; /* what the file must hold */
	size_t size;
	unsigned char *src; /* bytes to write from */
};

static int t_setup(void **state)
{
	struct t_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	/* on the disk under test, not tmpfs: /var/tmp */
	snprintf(e->dir, sizeof(e->dir), "/var/tmp/hubfs-stage-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	e->dirfd = open(e->dir, O_RDONLY | O_DIRECTORY);
	assert_true(e->dirfd >= 0);
	e->model = calloc(1, T_MAX);
	e->src = malloc(T_MAX);
	assert_non_null(e->model);
	assert_non_null(e->src);
	for (size_t i = 0; i < T_MAX; i++)
		e->src[i] = (unsigned char)((i * 2654435761u) >> 11);
	assert_int_equal(local_stage_open(&e->s, e->dirfd, "staged"), 0);
	*state = e;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_env *e = *state;
	char cmd[128];

	local_stage_close(e->s);
	close(e->dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e->model);
	free(e->src);
	free(e);
	return 0;
}

static void t_write(struct t_env *e, size_t src_off, size_t n, off_t off)
{
	assert_int_equal(local_stage_write(e->s, e->src + src_off, n, off), (ssize_t)n);
	memcpy(e->model + off, e->src + src_off, n);
	if ((size_t)off + n > e->size)
		e->size = (size_t)off + n;
}

static void t_truncate(struct t_env *e, size_t size)
{
	assert_int_equal(local_stage_truncate(e->s, (off_t)size), 0);
	if (size > e->size)
		memset(e->model + e->size, 0, size - e->size);
	else
		memset(e->model + size, 0, e->size - size); /* a later extension reads zeros */
	e->size = size;
}

/* Sync, then read the file through an ordinary descriptor and compare with the model. */
static void t_check(struct t_env *e)
{
	unsigned char *got = malloc(e->size + 1);
	struct stat st;
	ssize_t n;
	int fd;

	assert_non_null(got);
	assert_int_equal(local_stage_sync(e->s), 0);
	fd = openat(e->dirfd, "staged", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal((size_t)st.st_size, e->size);
	n = pread(fd, got, e->size + 1, 0);
	assert_int_equal((size_t)n, e->size);
	assert_memory_equal(got, e->model, e->size);
	close(fd);
	free(got);
}

/* cp: 1 MiB writes in order, an unaligned tail. */
static void test_sequential(void **state)
{
	struct t_env *e = *state;
	size_t off = 0, total = (20u << 20) + 12345;

	while (off < total) {
		size_t n = total - off < (1u << 20) ? total - off : (1u << 20);

		t_write(e, off, n, (off_t)off);
		off += n;
	}
	t_check(e);
}

/* ffmpeg's mp4 muxer: stream, then seek back and patch the header, then go on. */
static void test_patch_back(void **state)
{
	struct t_env *e = *state;
	size_t off;

	for (off = 0; off < (8u << 20); off += 256u << 10)
		t_write(e, off, 256u << 10, (off_t)off);
	t_write(e, 7, 24, 40);        /* small overwrite inside queued data */
	t_write(e, 9000, 4096, 4096); /* aligned but out of order: buffered */
	for (; off < (16u << 20); off += 1u << 20)
		t_write(e, off, 1u << 20, (off_t)off); /* the direct path does not resume */
	t_check(e);
}

/* Writes of odd sizes from the start (no direct path at all), a hole, growth by truncate. */
static void test_odd_and_holes(void **state)
{
	struct t_env *e = *state;

	t_write(e, 0, 1000, 0);
	t_write(e, 1000, 70000, 1000);
	t_write(e, 5, 4096, (off_t)(3u << 20)); /* leaves a hole */
	t_truncate(e, (5u << 20) + 1);
	t_check(e);
	t_truncate(e, 100);
	t_write(e, 0, 1u << 20, 1u << 20); /* aligned but not where the sequence left off */
	t_check(e);
}

/* O_TRUNC-style restart: truncate to 0, write a new stream through the direct path. */
static void test_restart(void **state)
{
	struct t_env *e = *state;

	for (size_t off = 0; off < (4u << 20); off += 1u << 20)
		t_write(e, off, 1u << 20, (off_t)off);
	t_truncate(e, 0);
	for (size_t off = 0; off < (40u << 20); off += 1u << 20)
		t_write(e, off + 3, 1u << 20, (off_t)off); /* 40 MiB: the queue fills and waits */
	t_check(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sequential, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_patch_back, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_odd_and_holes, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_restart, t_setup, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
