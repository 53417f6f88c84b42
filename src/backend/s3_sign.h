/*
 * s3_sign.h — private to the S3 backend: AWS Signature Version 4 (header auth) for S3
 * requests, plus the two primitives the client needs to build the same request it signs
 * (the S3 URI encoding and a hex SHA-256).
 *
 * Pure functions: no globals, no locks, no I/O, no logging (secrets never reach a log
 * from here); any thread may call them concurrently. Inputs are borrowed.
 */
#ifndef HUBFS_S3_SIGN_H
#define HUBFS_S3_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The payload hash to sign when the caller deliberately does not hash the body. */
#define HUBFS_S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* "YYYYMMDDTHHMMSSZ" + NUL */
#define HUBFS_S3_AMZ_DATE_LEN 17
/* 64 hex digits + NUL */
#define HUBFS_S3_SHA256_HEX_LEN 65

/* One query parameter, raw (NOT encoded): the signer encodes it. value NULL == "". */
struct hubfs_s3_query {
	const char *key;
	const char *value;
};

/* One extra header to sign and send (Range, Content-Type, x-amz-meta-*, ...). */
struct hubfs_s3_header {
	const char *name;
	const char *value;
};

/*
 * What is signed. The signer adds, and signs, these headers itself, so the caller must
 * send exactly them and must not list them in @headers (-EINVAL):
 *   host: @host
 *   x-amz-date: the amz_date hubfs_s3_sign() returns
 *   x-amz-content-sha256: @payload_hash        (service "s3" only; S3 requires it)
 *   x-amz-security-token: @session_token       (when non-NULL)
 */
struct hubfs_s3_sign_req {
	const char *method; /* "GET", "PUT", ... (upper case) */
	const char *host;   /* Host header value, with ":port" when the URL has one */
	const char *path;   /* raw, NOT encoded, starts with '/': "/bucket/a b.mp4" or "/" */
	const struct hubfs_s3_query *query; /* may be NULL when nquery == 0 */
	size_t nquery;
	const struct hubfs_s3_header *headers; /* may be NULL when nheaders == 0 */
	size_t nheaders;
	const char *payload_hash; /* hubfs_s3_sha256_hex() of the body, or UNSIGNED_PAYLOAD */
	time_t now;               /* signing time (UTC seconds) */
	const char *region;       /* "us-east-1" */
	const char *service;      /* NULL means "s3" */
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL when the credentials have none */
};

/*
 * Sign @req. On success writes the Authorization header value (without "Authorization: ")
 * to @authorization and the x-amz-date value to @amz_date, and returns 0.
 *
 * The canonical request follows S3's rules, not the generic SigV4 ones: the path is
 * URI-encoded once, segment by segment ('/' kept), never normalised or double-encoded;
 * query pairs are encoded and sorted by key then value ("key=" when the value is empty);
 * header names are lower-cased, values trimmed with runs of spaces/tabs collapsed to one
 * space, repeated names joined with ',' in the order given.
 *
 * Untrusted input is checked here: a method that is not upper-case letters, a path not
 * starting with '/', a header name that is not an RFC 7230 token, a name or value holding
 * CR, LF or NUL-adjacent control bytes, a malformed payload hash, an empty or ill-formed
 * region/service/access key, a signer-owned header in @headers, or a time that does not
 * format as a 4-digit year all give -EINVAL.
 *
 * Returns 0, -EINVAL (see above), -ERANGE (@len too small for the Authorization value),
 * -ENOMEM, or -EPROTO (OpenSSL failed). Outputs are unspecified on error.
 */
int hubfs_s3_sign(const struct hubfs_s3_sign_req *req, char *authorization, size_t len,
		  char amz_date[HUBFS_S3_AMZ_DATE_LEN]);

/*
 * URI-encode @in (NUL-terminated, bytes as-is, i.e. UTF-8 stays UTF-8) the way S3 signs
 * it: A-Z a-z 0-9 - . _ ~ unchanged, every other byte as %XX (upper-case hex); '/' is
 * kept when @keep_slash (object paths) and encoded otherwise (query keys and values).
 * Writes a NUL-terminated result to @out. Returns its length, or -ERANGE when @len is too
 * small (3 * strlen(in) + 1 always suffices).
 */
ssize_t hubfs_s3_uri_encode(char *out, size_t len, const char *in, bool keep_slash);

/* Lower-case hex SHA-256 of @n bytes at @data into @out. 0 or -EPROTO (OpenSSL failed). */
int hubfs_s3_sha256_hex(const void *data, size_t n, char out[HUBFS_S3_SHA256_HEX_LEN]);

#endif
