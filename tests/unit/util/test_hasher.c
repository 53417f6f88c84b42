/*
 * test_hasher.c — the streaming SHA-256: published vectors inline, large streams through the
 * hasher's thread (with its queue full, so the writer waits), reset, and the file helper.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "hubfs/hasher.h"

static void t_oneshot(const unsigned char *buf, size_t n, char hex[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	assert_true(EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL));
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_vectors(void **state)
{
	struct hubfs_hasher *h;
	char hex[65];

	(void)state;
	assert_int_equal(hubfs_hasher_new(&h), 0);
	assert_int_equal(hubfs_hasher_finish(h, hex), 0);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(hubfs_hasher_reset(h), 0);
	assert_int_equal(hubfs_hasher_feed(h, "a", 1), 0);
	assert_int_equal(hubfs_hasher_feed(h, "bc", 2), 0);
	assert_int_equal(hubfs_hasher_finish(h, hex), 0);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hubfs_hasher_free(h);
}

/* 48 MiB in chunks of every size class: inline first, then the thread, with the queue
 * (16 MiB) overrun several times; the digest must equal a one-shot digest. */
static void test_large_async(void **state)
{
	const size_t total = 48u << 20;
	unsigned char *buf = malloc(total);
	struct hubfs_hasher *h;
	char want[65], got[65];
	size_t off = 0, step = 1000;

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < total; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	t_oneshot(buf, total, want);
	assert_int_equal(hubfs_hasher_new(&h), 0);
	while (off < total) {
		size_t n = step < total - off ? step : total - off;

		assert_int_equal(hubfs_hasher_feed(h, buf + off, n), 0);
		off += n;
		step = step < (3u << 20) ? step * 3 : (1u << 20) + 7;
	}
	assert_int_equal(hubfs_hasher_finish(h, got), 0);
	assert_string_equal(got, want);

	/* reset in the middle of a threaded stream, then a fresh stream */
	assert_int_equal(hubfs_hasher_reset(h), 0);
	assert_int_equal(hubfs_hasher_feed(h, buf, 4u << 20), 0);
	assert_int_equal(hubfs_hasher_reset(h), 0);
	assert_int_equal(hubfs_hasher_feed(h, buf, 5u << 20), 0);
	assert_int_equal(hubfs_hasher_finish(h, got), 0);
	t_oneshot(buf, 5u << 20, want);
	assert_string_equal(got, want);
	hubfs_hasher_free(h);

	/* freed while its thread still has work queued: no leak, no hang */
	assert_int_equal(hubfs_hasher_new(&h), 0);
	assert_int_equal(hubfs_hasher_feed(h, buf, 8u << 20), 0);
	hubfs_hasher_free(h);
	free(buf);
}

static void test_file(void **state)
{
	char path[] = "/tmp/hubfs-hasher-XXXXXX", hex[65], want[65];
	unsigned char data[300000];
	FILE *f;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i % 251);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, sizeof(data), f), sizeof(data));
	fclose(f);
	t_oneshot(data, sizeof(data), want);
	assert_int_equal(hubfs_sha256_file(path, hex), 0);
	assert_string_equal(hex, want);
	unlink(path);
	assert_int_equal(hubfs_sha256_file(path, hex), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_large_async),
		cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
