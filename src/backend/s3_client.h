/*
 * s3_client.h — private to the S3 backend: our S3 client on libcurl + the SigV4 signer
 * (s3_sign.h). The S3 backend (s3.c, later) is its only user.
 *
 * One client per mount. Thread-safe: any number of threads may issue requests at once; each
 * request borrows an easy handle from a small pool (connection reuse, at most max_conns
 * connections). Every request is signed (header auth); bodies carry their SHA-256 in
 * x-amz-content-sha256 (the proxy and S3 verify it) and PUTs/parts a Content-MD5.
 * Addressing: path style (http(s)://endpoint/bucket/key) when an endpoint is set,
 * virtual-hosted (https://bucket.s3.REGION.amazonaws.com/key) otherwise.
 *
 * Retries: bounded (opts.retries), exponential backoff with full jitter, for 5xx,
 * 429/SlowDown, connection resets, timeouts and truncated bodies, on idempotent requests
 * only (GET, HEAD, PUT of a whole object or part, DELETE, copy, list, abort; never
 * CreateMultipartUpload or CompleteMultipartUpload, whose retry must be decided by the
 * caller).
 *
 * Errors, mapped in one place (s3_client.c): NoSuchKey/NoSuchUpload/404 -> -ENOENT,
 * NoSuchBucket -> -ENOENT, AccessDenied/SignatureDoesNotMatch/InvalidAccessKeyId/403 ->
 * -EACCES, timeouts -> -ETIMEDOUT, connection refused/unresolvable host -> -ECONNREFUSED /
 * -EHOSTUNREACH, 5xx/429 after the last retry -> -EIO, a malformed answer -> -EPROTO,
 * BadDigest/InvalidDigest -> -EIO, EntityTooLarge -> -EFBIG, PreconditionFailed -> -EEXIST.
 * The S3 code and message are logged (hubfs_log, warning) with the method and key; the
 * secret, the Authorization header and the session token never are.
 */
#ifndef HUBFS_S3_CLIENT_H
#define HUBFS_S3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/s3_sign.h"

struct hubfs_config;
struct hubfs_s3_client;

/* Credentials. All strings malloc'd; release wipes them before freeing. */
struct hubfs_s3_creds {
	char *access_key;
	char *secret_key;
	char *session_token; /* NULL: none */
};

/*
 * Find credentials: the ones hubfs_config read from the environment (cfg->aws_*), else the
 * profile cfg->aws_profile (or "default") in $AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials, then ~/.aws/config ($AWS_CONFIG_FILE; "[profile NAME]" sections).
 * 0, -ENOENT (none found: a sentence in @err naming where it looked), -EINVAL (a malformed
 * file or half a key pair: sentence in @err, never a secret), -ENOMEM, or -errno when a
 * file exists but cannot be read (sentence in @err).
 */
int hubfs_s3_creds_load(struct hubfs_s3_creds *out, const struct hubfs_config *cfg, char *err,
			size_t errlen);
void hubfs_s3_creds_release(struct hubfs_s3_creds *c); /* NULL-safe, wipes */

struct hubfs_s3_client_opts {
	const char *endpoint; /* "http://127.0.0.1:9000" (path style) or NULL (AWS) */
	const char *region;   /* "us-east-1" */
	const char *bucket;
	const struct hubfs_s3_creds *creds; /* copied */
	unsigned int max_conns;             /* 0: 8 */
	unsigned int retries;               /* retries after the first try; 0 means 0 */
	unsigned int connect_timeout_ms;    /* 0: 5000 */
	unsigned int timeout_ms;      /* a request without progress this long fails; 0: 30000 */
	unsigned int backoff_base_ms; /* first retry delay cap; 0: 100 (tests use less) */
	unsigned int list_max_keys;   /* page size of list/mpu_list; 0: the server's (1000) */
};

int hubfs_s3_client_new(struct hubfs_s3_client **out, const struct hubfs_s3_client_opts *opts,
			char *err, size_t errlen);
void hubfs_s3_client_free(struct hubfs_s3_client *c); /* NULL-safe */

/* Metadata of an object: what HEAD (and GET) return. x-amz-meta-* without the prefix. */
#define HUBFS_S3_META_MAX 32
struct hubfs_s3_meta {
	size_t n;
	struct hubfs_s3_header kv[HUBFS_S3_META_MAX]; /* malloc'd name/value, lower-case names */
};
void hubfs_s3_meta_release(struct hubfs_s3_meta *m); /* NULL-safe */

struct hubfs_s3_object {
	uint64_t size;
	int64_t mtime_ns;          /* Last-Modified */
	char etag[80];             /* without quotes */
	struct hubfs_s3_meta meta; /* HEAD only; empty from list */
};

/* Keys are full object keys (any prefix already applied), raw (the client encodes). */

/* PUT a whole object from memory (one request; Content-MD5, signed SHA-256) with @meta
 * (x-amz-meta-NAME: VALUE for each kv; names without the prefix). @etag may be NULL. */
int hubfs_s3_put(struct hubfs_s3_client *c, const char *key, const void *buf, size_t len,
		 const struct hubfs_s3_meta *meta, char etag[80]);
/* The same, streaming @len bytes of @fd from @off (hashed first, then sent; the file must
 * not change meanwhile). */
int hubfs_s3_put_fd(struct hubfs_s3_client *c, const char *key, int fd, off_t off, uint64_t len,
		    const struct hubfs_s3_meta *meta, char etag[80]);
/* Ranged GET of [off, off + len) into @buf; *got = bytes received (short at the end of the
 * object; 0 when off is exactly the size, like pread). -ENOENT, -EINVAL (range not
 * satisfiable: off past the end), ... */
int hubfs_s3_get(struct hubfs_s3_client *c, const char *key, uint64_t off, size_t len, void *buf,
		 size_t *got);
/* HEAD: size, mtime, etag, metadata (release out->meta). -ENOENT. */
int hubfs_s3_head(struct hubfs_s3_client *c, const char *key, struct hubfs_s3_object *out);
/* DELETE (0 also when it did not exist: S3's own semantics). */
int hubfs_s3_delete(struct hubfs_s3_client *c, const char *key);
/* Server-side copy @from -> @to, keeping the metadata (x-amz-metadata-directive: COPY), or
 * replacing it with @meta when non-NULL (REPLACE). Objects up to 5 GiB. */
int hubfs_s3_copy(struct hubfs_s3_client *c, const char *from, const char *to,
		  const struct hubfs_s3_meta *meta);

/*
 * ListObjectsV2 of @prefix with @delimiter (NULL: none), following continuation tokens.
 * @fn gets each object (key relative to nothing: the full key) or each common prefix
 * (@is_prefix true, @obj NULL). A non-zero return from @fn stops the listing and is
 * returned.
 */
typedef int (*hubfs_s3_list_fn)(void *arg, const char *key, bool is_prefix,
				const struct hubfs_s3_object *obj);
int hubfs_s3_list(struct hubfs_s3_client *c, const char *prefix, const char *delimiter,
		  hubfs_s3_list_fn fn, void *arg);

/* Multipart upload. create: *upload_id malloc'd (caller frees). part: @partno 1..10000,
 * Content-MD5 checked by the store; @etag out. complete: parts in order. abort: 0 also
 * when the upload is already gone. */
struct hubfs_s3_part {
	unsigned int partno;
	char etag[80];
};
int hubfs_s3_mpu_create(struct hubfs_s3_client *c, const char *key,
			const struct hubfs_s3_meta *meta, char **upload_id);
int hubfs_s3_mpu_part(struct hubfs_s3_client *c, const char *key, const char *upload_id,
		      unsigned int partno, const void *buf, size_t len, char etag[80]);
int hubfs_s3_mpu_complete(struct hubfs_s3_client *c, const char *key, const char *upload_id,
			  const struct hubfs_s3_part *parts, size_t nparts, char etag[80]);
int hubfs_s3_mpu_abort(struct hubfs_s3_client *c, const char *key, const char *upload_id);
/* ListMultipartUploads under @prefix (following markers): @fn(arg, key, upload_id,
 * initiated_ns). */
typedef int (*hubfs_s3_upload_fn)(void *arg, const char *key, const char *upload_id,
				  int64_t initiated_ns);
int hubfs_s3_mpu_list(struct hubfs_s3_client *c, const char *prefix, hubfs_s3_upload_fn fn,
		      void *arg);

/* Counters for .hub/metrics and tests (monotonic since the client was made): requests =
 * HTTP requests sent (each try), retries = tries after the first, failures = calls that
 * returned an error other than -ENOENT, bytes = request and response bodies. */
struct hubfs_s3_stats {
	uint64_t requests, retries, failures, bytes_up, bytes_down;
};
void hubfs_s3_client_stats(struct hubfs_s3_client *c, struct hubfs_s3_stats *out);

#endif
