/*
 * s3_client_int.h — the S3 client's private seams, shared by s3_client.c (the client's life
 * cycle, the one error map, the object operations), s3_client_http.c (the handle pool, one
 * request with its retries, request building), s3_client_mpu.c (listings and multipart
 * uploads), s3_xml.c (S3's XML answers and the one body we send) and the unit tests
 * (tests/unit/backend/test_s3_client.c). Not for other code: the S3 backend uses
 * s3_client.h only.
 *
 * Threads: the XML, time, error-map and backoff functions are pure (no globals, no locks,
 * no logging); s3_xml_init() initialises libxml2 once (pthread_once). The client's insides
 * follow struct hubfs_s3_client's locking notes. Input is untrusted: the parsers take a
 * peer's bytes and check sizes, syntax and values.
 */
#ifndef HUBFS_S3_CLIENT_INT_H
#define HUBFS_S3_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "backend/s3_client.h"

/* Largest XML answer we parse (a 1000-key listing of 1 KiB keys is ~1.5 MiB). */
#define S3_XML_MAX (8u << 20)
/* Longest object key or upload id we accept from a peer (S3 keys: 1024 bytes). */
#define S3_XML_KEY_MAX 4096
/* Most entries we accept in one listing page (S3 sends at most 1000). */
#define S3_XML_ITEMS_MAX 10000
/* A result parser met an <Error> document (S3 sends some inside a 200): see @err. */
#define S3_XML_DOC_ERROR 1

/* What an <Error> document says. Strings are NUL-terminated, truncated to fit. */
struct s3_xml_error {
	char code[64];
	char message[256];
	char request_id[64];
	bool have_size; /* <ActualObjectSize> (InvalidRange) */
	uint64_t actual_size;
};

/* One ListObjectsV2 entry: an object or a common prefix (obj is zero then). */
struct s3_list_item {
	char *key; /* malloc'd, URL-decoded when the answer says EncodingType=url */
	bool is_prefix;
	struct hubfs_s3_object obj; /* size, mtime_ns, etag; meta empty */
};

struct s3_list_page {
	struct s3_list_item *items;
	size_t n;
	bool truncated;
	char *next_token; /* NextContinuationToken (malloc'd) or NULL */
};

/* One ListMultipartUploads entry. */
struct s3_upload_item {
	char *key;
	char *upload_id;
	int64_t initiated_ns;
};

struct s3_upload_page {
	struct s3_upload_item *items;
	size_t n;
	bool truncated;
	char *next_key_marker;       /* NULL when absent */
	char *next_upload_id_marker; /* NULL when absent */
};

/* Initialise libxml2 (once per process; thread-safe). */
void s3_xml_init(void);

/*
 * The parsers: @body/@len is a response body. Each returns 0 with its result filled,
 * S3_XML_DOC_ERROR when the document is an <Error> (@err filled, results untouched), or
 * -EPROTO (not well-formed, another root element, a DTD or entity declaration — never
 * expanded —, a missing or malformed required value, more than S3_XML_MAX bytes) or
 * -ENOMEM. Results are the caller's to release, also after a partial failure.
 */
int s3_xml_parse_error(const char *body, size_t len, struct s3_xml_error *err);
int s3_xml_parse_list(const char *body, size_t len, struct s3_list_page *out,
		      struct s3_xml_error *err);
void s3_list_page_release(struct s3_list_page *p); /* NULL-safe */
int s3_xml_parse_uploads(const char *body, size_t len, struct s3_upload_page *out,
			 struct s3_xml_error *err);
void s3_upload_page_release(struct s3_upload_page *p); /* NULL-safe */
/* InitiateMultipartUploadResult: *upload_id malloc'd. */
int s3_xml_parse_initiate(const char *body, size_t len, char **upload_id, struct s3_xml_error *err);
/* CompleteMultipartUploadResult: the object's ETag (quotes stripped). */
int s3_xml_parse_complete(const char *body, size_t len, char etag[80], struct s3_xml_error *err);
/* CopyObjectResult: ETag and LastModified (either may be absent: "" / 0). */
int s3_xml_parse_copy(const char *body, size_t len, char etag[80], int64_t *mtime_ns,
		      struct s3_xml_error *err);

/*
 * The CompleteMultipartUpload request body for @parts (@n >= 1, part numbers strictly
 * ascending in 1..10000, ETags printable without '"', '<', '>', '&'). *out malloc'd.
 * 0, -EINVAL, -ENOMEM.
 */
int s3_xml_complete_body(const struct hubfs_s3_part *parts, size_t n, char **out, size_t *len);

/* "2009-10-12T17:50:30.123Z" (or "+hh:mm"/"-hh:mm") -> ns since the epoch. 0 or -EINVAL. */
int s3_time_iso8601(const char *s, int64_t *ns);
/* "Wed, 12 Oct 2009 17:50:00 GMT" (RFC 7231 IMF-fixdate) -> ns. 0 or -EINVAL. */
int s3_time_http(const char *s, int64_t *ns);
/* Copy an ETag, without surrounding quotes, into @etag. 0, -EPROTO (too long, control bytes). */
int s3_etag_copy(char etag[80], const char *in, size_t n);
/* Decode S3's encoding-type=url (%XX, '+' is a space) in place. 0 or -EPROTO (%00, bad %). */
int s3_url_decode(char *s);

/*
 * THE error map (s3_client.h lists it): a transfer result, an HTTP status and an S3 error
 * code (NULL or "" when there is none: HEAD answers carry no body) -> negative errno.
 * 0 only for CURLE_OK with a 2xx status and no code.
 */
int s3_errno(CURLcode cc, long status, const char *code);
/* Whether that outcome may succeed on another try (idempotent requests only). */
bool s3_retryable(CURLcode cc, long status, const char *code);
/* The delay before retry @n (1 = first retry): full jitter, random in [0, min(cap,
 * base * 2^(n-1))] ms, at least @retry_after_ms (bounded by the caller). @rnd: 64 random bits. */
unsigned int s3_backoff_ms(unsigned int n, unsigned int base_ms, unsigned int cap_ms,
			   unsigned int retry_after_ms, uint64_t rnd);

/* ---------------------------------------------------------------- the client's insides */

/* The most headers one request signs beyond the signer's own: metadata + a few. */
#define S3_MAX_HEADERS (HUBFS_S3_META_MAX + 8)
/* An error body beyond this is not read into memory (the status still maps it). */
#define S3_ERRBODY_MAX (64u << 10)

/* One client (s3_client.c makes it; s3_client_http.c runs its requests). */
struct hubfs_s3_client {
	char *base_url;  /* "http://127.0.0.1:9000": scheme and authority, no path */
	char *host;      /* the Host header we sign and send: the authority */
	char *path_base; /* "/bucket" (path style) or "" (virtual-hosted) */
	char *region;
	char *bucket;
	char *ca_bundle; /* $AWS_CA_BUNDLE at creation, or NULL */
	struct hubfs_s3_creds creds;
	unsigned int max_conns, retries, connect_timeout_ms, timeout_ms, backoff_base_ms;
	unsigned int list_max_keys;

	pthread_mutex_t lock; /* protects idle, nidle, nmade */
	pthread_cond_t cond;  /* a handle went back to idle */
	CURL **idle;          /* max_conns slots */
	unsigned int nidle;   /* handles in idle[] */
	unsigned int nmade;   /* handles in existence (idle or in use) */

	atomic_uint_fast64_t requests, retries_n, failures, bytes_up, bytes_down;
};

/* Where a request body comes from: memory (@buf), or @len bytes of @fd at @off. */
struct s3_body {
	const char *buf;
	int fd;
	off_t off;
	uint64_t len;
	uint64_t pos; /* handed to curl in this attempt */
	int err;      /* a pread failure: not retried */
};

struct s3_req {
	const char *method;
	const char *key; /* raw; NULL: the bucket itself */
	struct hubfs_s3_query query[8];
	size_t nquery;
	struct hubfs_s3_header hdr[S3_MAX_HEADERS];
	size_t nhdr;
	struct s3_body body;
	char sha256[HUBFS_S3_SHA256_HEX_LEN];
	bool idempotent;
	bool error_in_200; /* copy and complete: S3 may answer 200 with an <Error> */
	/* The response body: into @ubuf (a ranged GET from @range_off), else into memory. */
	void *ubuf;
	size_t ulen;
	uint64_t range_off;
	bool want_meta;
	size_t mem_max;
};

struct s3_resp {
	long status;
	char etag[80];
	char request_id[64];
	char last_modified[40];
	char content_range[96];
	bool have_clen;
	uint64_t clen;
	long retry_after_s; /* -1: none */
	bool want_meta;
	struct hubfs_s3_meta meta;
	int hdr_err;
	/* memory body (XML answers, error bodies) */
	char *mem;
	size_t mem_len, mem_cap, mem_max;
	bool mem_over;
	/* user buffer body (GET) */
	char *ubuf;
	size_t ulen, ugot;
	bool body_started, early_stop;
	uint64_t skip, range_off;
	uint64_t body_bytes;
	struct s3_xml_error xerr;
	char curl_err[CURL_ERROR_SIZE];
};

/*
 * Run @r with retries (s3_client_http.c). 0 on a 2xx answer (the response stays in @resp
 * for the caller: release it with s3_resp_release, also on error), else the mapped -errno;
 * @resp then holds the last answer's status and S3 error. Logs a final failure at warning
 * level (-ENOENT and 416 only at debug: callers expect them). Any thread.
 */
int s3_run(struct hubfs_s3_client *c, struct s3_req *r, struct s3_resp *resp);
void s3_resp_release(struct s3_resp *r);
/* Count a finished call's failure (not -ENOENT: an answer) and return @rc. */
int s3_done(struct hubfs_s3_client *c, int rc);
/* @src (a key, a peer's message) made safe for one log line in @dst: control bytes as '?',
 * truncated to @n - 1 bytes. Returns @dst. */
const char *s3_log_str(char *dst, size_t n, const char *src);
/* A key we send: non-empty (-EINVAL), at most 1024 bytes (-ENAMETOOLONG). */
int s3_check_key(const char *key);
/* Request building: x-amz-meta-* headers (names lower-cased into *store, the caller frees),
 * one header, one query pair (borrowed strings), and the three kinds of body with their
 * SHA-256 (and Content-MD5 into @md5_b64 when non-NULL). */
int s3_req_meta(struct s3_req *r, const struct hubfs_s3_meta *m, char **store);
void s3_req_header(struct s3_req *r, const char *name, const char *value);
void s3_req_query(struct s3_req *r, const char *key, const char *value);
int s3_req_empty(struct s3_req *r);
int s3_req_mem(struct s3_req *r, const void *buf, size_t len, char *md5_b64);
/* Hash @len bytes of @fd from @off: SHA-256 (hex) and MD5 (base64) in one pass. */
int s3_hash_fd(int fd, off_t off, uint64_t len, char sha_hex[HUBFS_S3_SHA256_HEX_LEN],
	       char md5_b64[32]);

#endif
