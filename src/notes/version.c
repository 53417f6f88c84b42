/*
 * version.c — the identities of notes/ (include/hubfs/notes.h): the content-derived id of a
 * version and the random global id of a new note.
 *
 * Owns nothing between calls: each id is computed with its own OpenSSL digest context, freed
 * before returning, so any thread may call in without locks.
 *
 * The version id is what peer sync exchanges: every peer must derive the same id from the
 * same version, forever. The bytes hashed are therefore a fixed, unambiguous encoding that no
 * later change may alter (a new encoding needs a new domain tag):
 *
 *   "hubfs-note-v1" 0x00                      domain tag, 14 bytes
 *   u64 content length, content bytes
 *   u64 number of parents (0..2)
 *   each parent: 64 lower-case hex bytes      sorted ascending (bytewise)
 *   u64 origin length (1..64), origin bytes
 *   u8 deleted (0 or 1)
 *
 * where u64 is 8 bytes big-endian. Every variable-length field is length-prefixed and the
 * parents are fixed-length after a count, so no two versions share an encoding.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "hubfs/notes.h"

#define NOTES_ID_DOMAIN "hubfs-note-v1"
#define NOTES_PARENTS_MAX 2
#define NOTES_ORIGIN_MAX 64 /* = node_name's limit; struct hubfs_note_version.origin */
#define NOTES_GID_BYTES (HUBFS_NOTE_GID_LEN / 2)

static void notes_hex(const unsigned char *b, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* A version id as stored and exchanged: exactly 64 lower-case hex digits. */
static bool notes_is_id(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; i < HUBFS_NOTE_ID_LEN; i++) {
		char c = id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false; /* also stops at a NUL: a short id */
	}
	return id[i] == '\0';
}

static int notes_digest(EVP_MD_CTX *ctx, const void *data, size_t n)
{
	if (n && !EVP_DigestUpdate(ctx, data, n))
		return -EPROTO;
	return 0;
}

static int notes_digest_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	unsigned char be[8];

	for (int i = 7; i >= 0; i--) {
		be[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return notes_digest(ctx, be, sizeof(be));
}

int hubfs_note_version_id(const void *content, size_t len, const char *const *parents,
			  unsigned int nparents, const char *origin, bool deleted,
			  char out[HUBFS_NOTE_ID_LEN + 1])
{
	const char *sorted[NOTES_PARENTS_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char del = deleted ? 1 : 0;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	size_t olen;
	int rc;

	if (out)
		out[0] = '\0';
	if (!out || (!content && len) || nparents > NOTES_PARENTS_MAX || (!parents && nparents))
		return -EINVAL;
	if (!origin)
		return -EINVAL;
	olen = strnlen(origin, NOTES_ORIGIN_MAX + 1);
	if (olen == 0 || olen > NOTES_ORIGIN_MAX)
		return -EINVAL;
	for (unsigned int i = 0; i < nparents; i++) {
		if (!notes_is_id(parents[i]))
			return -EINVAL;
		sorted[i] = parents[i];
	}
	/* A merge's id must not depend on which side merged. Two equal parents are no merge. */
	if (nparents == 2) {
		int cmp = memcmp(sorted[0], sorted[1], HUBFS_NOTE_ID_LEN);

		if (cmp == 0)
			return -EINVAL;
		if (cmp > 0) {
			const char *t = sorted[0];

			sorted[0] = sorted[1];
			sorted[1] = t;
		}
	}

	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = -EPROTO;
		goto out;
	}
	rc = notes_digest(ctx, NOTES_ID_DOMAIN, sizeof(NOTES_ID_DOMAIN)); /* with its NUL */
	if (rc)
		goto out;
	rc = notes_digest_u64(ctx, len);
	if (rc)
		goto out;
	rc = notes_digest(ctx, content, len);
	if (rc)
		goto out;
	rc = notes_digest_u64(ctx, nparents);
	if (rc)
		goto out;
	for (unsigned int i = 0; i < nparents; i++) {
		rc = notes_digest(ctx, sorted[i], HUBFS_NOTE_ID_LEN);
		if (rc)
			goto out;
	}
	rc = notes_digest_u64(ctx, olen);
	if (rc)
		goto out;
	rc = notes_digest(ctx, origin, olen);
	if (rc)
		goto out;
	rc = notes_digest(ctx, &del, 1);
	if (rc)
		goto out;
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen * 2 != HUBFS_NOTE_ID_LEN) {
		rc = -EPROTO;
		goto out;
	}
	notes_hex(md, mdlen, out);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int hubfs_note_new_gid(char out[HUBFS_NOTE_GID_LEN + 1])
{
	unsigned char b[NOTES_GID_BYTES];
	size_t got = 0;

	if (!out)
		return -EINVAL;
	out[0] = '\0';
	/* Blocks only until the kernel's pool is first initialised, early at boot. */
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	notes_hex(b, sizeof(b), out);
	return 0;
}
