/*
 * s3_client.c — hubfs's S3 client (s3_client.h): the client's life cycle (endpoint and
 * addressing style, the copied credentials, the pool of curl handles, libcurl's process-
 * wide init), THE error map (s3_errno, s3_retryable: every S3 answer becomes an errno here
 * and only here), and the object operations: PUT from memory or a file, ranged GET, HEAD,
 * DELETE, server-side copy. One request and its retries: s3_client_http.c; listings and
 * multipart uploads: s3_client_mpu.c; XML: s3_xml.c; credentials: s3_creds.c.
 *
 * Owns, per client: the pool of curl easy handles (each keeps its one connection alive
 * between requests), a copy of the credentials (wiped on free), the endpoint strings and the
 * counters; all released by hubfs_s3_client_free().
 *
 * Threads: any number of threads may call the operations at once; c->lock (the pool's) is
 * taken only inside s3_client_http.c. Everything else in the client is read-only after
 * hubfs_s3_client_new(). s3_global_lock guards libcurl's process-wide init and cleanup
 * (first client in, last client out).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "backend/s3_client_int.h"
#include "hubfs/log.h"

#define S3_DEFAULT_CONNS 8
#define S3_MAX_CONNS 64
#define S3_DEFAULT_CONNECT_MS 5000
#define S3_DEFAULT_TIMEOUT_MS 30000
#define S3_DEFAULT_BACKOFF_MS 100

static pthread_mutex_t s3_global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int s3_global_users; /* clients alive; protected by s3_global_lock */

/* ---------------------------------------------------------------- errors */

static bool s3_code_is(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(code, *list))
			return true;
	return false;
}

int s3_errno(CURLcode cc, long status, const char *code)
{
	static const char *const enoent[] = { "NoSuchKey", "NoSuchUpload", "NoSuchBucket",
					      "NoSuchVersion", NULL };
	static const char *const eacces[] = { "AccessDenied",
					      "SignatureDoesNotMatch",
					      "InvalidAccessKeyId",
					      "ExpiredToken",
					      "InvalidToken",
					      "TokenRefreshRequired",
					      "AllAccessDisabled",
					      "AccountProblem",
					      "RequestTimeTooSkewed",
					      "InvalidSecurity",
					      NULL };
	static const char *const eio[] = { "BadDigest",
					   "InvalidDigest",
					   "XAmzContentSHA256Mismatch",
					   "InternalError",
					   "SlowDown",
					   "ServiceUnavailable",
					   "Throttling",
					   "ThrottlingException",
					   "IncompleteBody",
					   NULL };
	static const char *const einval[] = { "InvalidRange",      "InvalidArgument",
					      "InvalidRequest",    "InvalidPart",
					      "InvalidPartOrder",  "EntityTooSmall",
					      "MalformedXML",      "InvalidBucketName",
					      "InvalidObjectName", NULL };

	if (cc != CURLE_OK) {
		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			return -ETIMEDOUT;
		case CURLE_COULDNT_CONNECT:
			return -ECONNREFUSED;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			return -EHOSTUNREACH;
		case CURLE_OUT_OF_MEMORY:
			return -ENOMEM;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_WEIRD_SERVER_REPLY:
			return -EPROTO;
		default: /* resets, truncated bodies, send/receive errors */
			return -EIO;
		}
	}
	if (code && *code) {
		if (s3_code_is(code, enoent))
			return -ENOENT;
		if (s3_code_is(code, eacces))
			return -EACCES;
		if (s3_code_is(code, eio))
			return -EIO;
		if (s3_code_is(code, einval))
			return -EINVAL;
		if (!strcmp(code, "EntityTooLarge"))
			return -EFBIG;
		if (!strcmp(code, "MetadataTooLarge"))
			return -E2BIG;
		if (!strcmp(code, "KeyTooLongError"))
			return -ENAMETOOLONG;
		if (!strcmp(code, "PreconditionFailed"))
			return -EEXIST;
		if (!strcmp(code, "RequestTimeout"))
			return -ETIMEDOUT;
		if (!strcmp(code, "NotImplemented") || !strcmp(code, "MethodNotAllowed"))
			return -EOPNOTSUPP;
		if (!strcmp(code, "PermanentRedirect") ||
		    !strcmp(code, "AuthorizationHeaderMalformed"))
			return -EPROTO; /* wrong region or endpoint for the bucket */
	}
	if (status >= 200 && status < 300)
		return code && *code ? -EIO : 0; /* an <Error> inside a 200 we do not know */
	switch (status) {
	case 400:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 405:
	case 501:
		return -EOPNOTSUPP;
	case 409:
		return -EBUSY;
	case 412:
		return -EEXIST;
	case 413:
		return -EFBIG;
	case 416:
		return -EINVAL;
	default:
		return status >= 300 && status < 400 ? -EPROTO : -EIO;
	}
}

bool s3_retryable(CURLcode cc, long status, const char *code)
{
	static const char *const again[] = { "SlowDown",
					     "InternalError",
					     "ServiceUnavailable",
					     "Throttling",
					     "ThrottlingException",
					     "RequestTimeout",
					     "RequestTimeTooSkewed",
					     NULL };

	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR: /* a reset during the handshake */
		return true;
	default:
		return false;
	}
	if (code && *code && s3_code_is(code, again))
		return true;
	return status == 429 || (status >= 500 && status != 501);
}

/* ---------------------------------------------------------------- metadata */

void hubfs_s3_meta_release(struct hubfs_s3_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n && i < HUBFS_S3_META_MAX; i++) {
		free((char *)m->kv[i].name);
		free((char *)m->kv[i].value);
	}
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- the API */

static int s3_put_common(struct hubfs_s3_client *c, struct s3_req *r,
			 const struct hubfs_s3_meta *meta, const char *md5_b64, char etag[80])
{
	struct s3_resp resp = { 0 };
	char *store = NULL;
	int rc;

	r->method = "PUT";
	r->idempotent = true;
	s3_req_header(r, "Content-MD5", md5_b64);
	rc = s3_req_meta(r, meta, &store);
	if (!rc)
		rc = s3_run(c, r, &resp);
	if (!rc && etag)
		snprintf(etag, 80, "%s", resp.etag);
	s3_resp_release(&resp);
	free(store);
	return rc;
}

int hubfs_s3_put(struct hubfs_s3_client *c, const char *key, const void *buf, size_t len,
		 const struct hubfs_s3_meta *meta, char etag[80])
{
	struct s3_req r = { 0 };
	char md5[32];
	int rc;

	rc = s3_check_key(key);
	if (!rc && !buf && len)
		rc = -EINVAL;
	if (!rc)
		rc = s3_req_mem(&r, buf, len, md5);
	if (rc)
		return s3_done(c, rc);
	r.key = key;
	return s3_done(c, s3_put_common(c, &r, meta, md5, etag));
}

int hubfs_s3_put_fd(struct hubfs_s3_client *c, const char *key, int fd, off_t off, uint64_t len,
		    const struct hubfs_s3_meta *meta, char etag[80])
{
	struct s3_req r = { 0 };
	char md5[32];
	int rc;

	rc = s3_check_key(key);
	if (!rc && (fd < 0 || off < 0))
		rc = -EINVAL;
	if (!rc)
		rc = s3_hash_fd(fd, off, len, r.sha256, md5);
	if (rc)
		return s3_done(c, rc);
	r.key = key;
	r.body.fd = fd;
	r.body.off = off;
	r.body.len = len;
	return s3_done(c, s3_put_common(c, &r, meta, md5, etag));
}

int hubfs_s3_get(struct hubfs_s3_client *c, const char *key, uint64_t off, size_t len, void *buf,
		 size_t *got)
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	char range[64];
	int rc;

	*got = 0;
	rc = s3_check_key(key);
	if (!rc && !buf && len)
		rc = -EINVAL;
	if (rc || !len)
		return s3_done(c, rc);
	if (off > UINT64_MAX - len)
		return s3_done(c, -EINVAL);
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
	r.method = "GET";
	r.key = key;
	r.idempotent = true;
	r.ubuf = buf;
	r.ulen = len;
	r.range_off = off;
	s3_req_header(&r, "Range", range);
	rc = s3_req_empty(&r);
	if (!rc)
		rc = s3_run(c, &r, &resp);
	if (!rc) {
		*got = resp.ugot;
	} else if (resp.status == 416) {
		unsigned long long total;

		/* Reading exactly at the end is EOF (like pread); past it is -EINVAL. */
		if ((resp.xerr.have_size && resp.xerr.actual_size == off) ||
		    (sscanf(resp.content_range, "bytes */%llu", &total) == 1 && total == off))
			rc = 0;
	}
	s3_resp_release(&resp);
	return s3_done(c, rc);
}

int hubfs_s3_head(struct hubfs_s3_client *c, const char *key, struct hubfs_s3_object *out)
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s3_check_key(key);
	if (rc)
		return s3_done(c, rc);
	r.method = "HEAD";
	r.key = key;
	r.idempotent = true;
	r.want_meta = true;
	rc = s3_req_empty(&r);
	if (!rc)
		rc = s3_run(c, &r, &resp);
	if (rc)
		goto out;
	if (!resp.have_clen ||
	    (resp.last_modified[0] && s3_time_http(resp.last_modified, &out->mtime_ns))) {
		rc = -EPROTO;
		goto out;
	}
	out->size = resp.clen;
	memcpy(out->etag, resp.etag, sizeof(out->etag));
	out->meta = resp.meta;
	memset(&resp.meta, 0, sizeof(resp.meta));
out:
	s3_resp_release(&resp);
	return s3_done(c, rc);
}

int hubfs_s3_delete(struct hubfs_s3_client *c, const char *key)
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	int rc;

	rc = s3_check_key(key);
	if (rc)
		return s3_done(c, rc);
	r.method = "DELETE";
	r.key = key;
	r.idempotent = true;
	rc = s3_req_empty(&r);
	if (!rc)
		rc = s3_run(c, &r, &resp);
	if (rc == -ENOENT && strcmp(resp.xerr.code, "NoSuchBucket"))
		rc = 0;
	s3_resp_release(&resp);
	return s3_done(c, rc);
}

int hubfs_s3_copy(struct hubfs_s3_client *c, const char *from, const char *to,
		  const struct hubfs_s3_meta *meta)
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	char *src_raw = NULL, *src = NULL, *store = NULL, etag[80], klog[256];
	int64_t mtime;
	size_t n;
	int rc;

	rc = s3_check_key(from);
	if (!rc)
		rc = s3_check_key(to);
	if (rc)
		return s3_done(c, rc);
	/* x-amz-copy-source: "/bucket/key", URL-encoded like the path. */
	if (asprintf(&src_raw, "/%s/%s", c->bucket, from) < 0) {
		src_raw = NULL;
		rc = -ENOMEM;
		goto out;
	}
	n = 3 * strlen(src_raw) + 1;
	src = malloc(n);
	if (!src) {
		rc = -ENOMEM;
		goto out;
	}
	if (hubfs_s3_uri_encode(src, n, src_raw, true) < 0) {
		rc = -EINVAL;
		goto out;
	}
	r.method = "PUT";
	r.key = to;
	r.idempotent = true;
	r.error_in_200 = true;
	r.mem_max = S3_XML_MAX;
	s3_req_header(&r, "x-amz-copy-source", src);
	s3_req_header(&r, "x-amz-metadata-directive", meta ? "REPLACE" : "COPY");
	rc = s3_req_meta(&r, meta, &store);
	if (!rc)
		rc = s3_req_empty(&r);
	if (!rc)
		rc = s3_run(c, &r, &resp);
	if (rc)
		goto out;
	rc = s3_xml_parse_copy(resp.mem, resp.mem_len, etag, &mtime, &resp.xerr);
	if (rc == S3_XML_DOC_ERROR)
		rc = s3_errno(CURLE_OK, resp.status, resp.xerr.code); /* raced past s3_run */
	if (rc == -EPROTO)
		hubfs_log(HUBFS_LOG_WARN, "s3: copy to '%s': malformed CopyObjectResult",
			  s3_log_str(klog, sizeof(klog), to));
out:
	s3_resp_release(&resp);
	free(store);
	free(src);
	free(src_raw);
	return s3_done(c, rc);
}

void hubfs_s3_client_stats(struct hubfs_s3_client *c, struct hubfs_s3_stats *out)
{
	out->requests = atomic_load(&c->requests);
	out->retries = atomic_load(&c->retries_n);
	out->failures = atomic_load(&c->failures);
	out->bytes_up = atomic_load(&c->bytes_up);
	out->bytes_down = atomic_load(&c->bytes_down);
}

/* ---------------------------------------------------------------- life cycle */

/* Bucket names we can address: S3's rules, plus '_' and capitals of legacy buckets. */
static bool s3_bucket_ok(const char *b)
{
	size_t n = b ? strlen(b) : 0;

	if (n < 1 || n > 255)
		return false;
	for (; *b; b++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_",
			    *b))
			return false;
	return true;
}

static bool s3_dns_label_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
		return false;
	for (; *b; b++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *b))
			return false;
	return true;
}

/* Split "http(s)://authority[/]" into base_url and host. */
static int s3_parse_endpoint(struct hubfs_s3_client *c, const char *ep, char *err, size_t errlen)
{
	const char *auth, *slash;
	size_t alen;

	if (!strncmp(ep, "http://", 7))
		auth = ep + 7;
	else if (!strncmp(ep, "https://", 8))
		auth = ep + 8;
	else
		goto bad;
	slash = strchr(auth, '/');
	alen = slash ? (size_t)(slash - auth) : strlen(auth);
	if (!alen || (slash && strcmp(slash, "/")))
		goto bad;
	for (size_t i = 0; i < alen; i++)
		if ((unsigned char)auth[i] <= 0x20 || auth[i] == 0x7f || strchr("@?#\\", auth[i]))
			goto bad;
	c->host = strndup(auth, alen);
	c->base_url = strndup(ep, (size_t)(auth - ep) + alen);
	c->path_base = malloc(strlen(c->bucket) + 2);
	if (!c->host || !c->base_url || !c->path_base)
		return -ENOMEM;
	sprintf(c->path_base, "/%s", c->bucket);
	return 0;
bad:
	snprintf(err, errlen,
		 "bad s3_endpoint '%s': expected http://HOST[:PORT] or https://HOST[:PORT]", ep);
	return -EINVAL;
}

/* Virtual-hosted addressing on AWS: https://bucket.s3.REGION.amazonaws.com/key */
static int s3_vhost(struct hubfs_s3_client *c)
{
	size_t n = strlen(c->bucket) + strlen(c->region) + sizeof(".s3..amazonaws.com");

	c->host = malloc(n);
	c->base_url = malloc(n + strlen("https://"));
	c->path_base = strdup("");
	if (!c->host || !c->base_url || !c->path_base)
		return -ENOMEM;
	snprintf(c->host, n, "%s.s3.%s.amazonaws.com", c->bucket, c->region);
	snprintf(c->base_url, n + strlen("https://"), "https://%s", c->host);
	return 0;
}

static int s3_global_get(void)
{
	int rc = 0;

	s3_xml_init();
	pthread_mutex_lock(&s3_global_lock);
	if (!s3_global_users && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		rc = -ENOMEM;
	if (!rc)
		s3_global_users++;
	pthread_mutex_unlock(&s3_global_lock);
	return rc;
}

static void s3_global_put(void)
{
	pthread_mutex_lock(&s3_global_lock);
	if (!--s3_global_users)
		curl_global_cleanup();
	pthread_mutex_unlock(&s3_global_lock);
}

int hubfs_s3_client_new(struct hubfs_s3_client **out, const struct hubfs_s3_client_opts *opts,
			char *err, size_t errlen)
{
	const char *region = opts->region && *opts->region ? opts->region : "us-east-1";
	const char *ca = getenv("AWS_CA_BUNDLE");
	struct hubfs_s3_client *c;
	bool locks = false;
	int rc;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (!s3_bucket_ok(opts->bucket)) {
		snprintf(err, errlen, "bad s3_bucket '%s'", opts->bucket ? opts->bucket : "");
		return -EINVAL;
	}
	for (const char *p = region; *p; p++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-", *p) || p - region >= 64) {
			snprintf(err, errlen, "bad s3_region '%s'", region);
			return -EINVAL;
		}
	}
	if (!opts->creds || !opts->creds->access_key || !*opts->creds->access_key ||
	    !opts->creds->secret_key || !*opts->creds->secret_key) {
		snprintf(err, errlen, "no S3 credentials");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->max_conns = opts->max_conns ? opts->max_conns : S3_DEFAULT_CONNS;
	if (c->max_conns > S3_MAX_CONNS)
		c->max_conns = S3_MAX_CONNS;
	c->retries = opts->retries;
	c->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms :
							   S3_DEFAULT_CONNECT_MS;
	c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : S3_DEFAULT_TIMEOUT_MS;
	c->backoff_base_ms = opts->backoff_base_ms ? opts->backoff_base_ms : S3_DEFAULT_BACKOFF_MS;
	c->list_max_keys = opts->list_max_keys > 1000 ? 1000 : opts->list_max_keys;
	c->region = strdup(region);
	c->bucket = strdup(opts->bucket);
	c->ca_bundle = ca && *ca ? strdup(ca) : NULL;
	c->idle = calloc(c->max_conns, sizeof(*c->idle));
	c->creds.access_key = strdup(opts->creds->access_key);
	c->creds.secret_key = strdup(opts->creds->secret_key);
	if (opts->creds->session_token && *opts->creds->session_token)
		c->creds.session_token = strdup(opts->creds->session_token);
	if (!c->region || !c->bucket || (ca && *ca && !c->ca_bundle) || !c->idle ||
	    !c->creds.access_key || !c->creds.secret_key ||
	    (opts->creds->session_token && *opts->creds->session_token &&
	     !c->creds.session_token)) {
		rc = -ENOMEM;
		goto fail;
	}
	if (opts->endpoint && *opts->endpoint) {
		rc = s3_parse_endpoint(c, opts->endpoint, err, errlen);
	} else if (s3_dns_label_ok(c->bucket)) {
		/* Virtual-hosted: https://bucket.s3.REGION.amazonaws.com/key */
		rc = s3_vhost(c);
	} else {
		/* Dotted or legacy names break TLS on a virtual host: path style on AWS. */
		char ep[128];

		snprintf(ep, sizeof(ep), "https://s3.%s.amazonaws.com", c->region);
		rc = s3_parse_endpoint(c, ep, err, errlen);
	}
	if (rc)
		goto fail;
	if (pthread_mutex_init(&c->lock, NULL)) {
		rc = -ENOMEM;
		goto fail;
	}
	if (pthread_cond_init(&c->cond, NULL)) {
		pthread_mutex_destroy(&c->lock);
		rc = -ENOMEM;
		goto fail;
	}
	locks = true;
	rc = s3_global_get();
	if (rc) {
		snprintf(err, errlen, "libcurl failed to initialise");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (locks) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
	}
	hubfs_s3_creds_release(&c->creds);
	free(c->idle);
	free(c->ca_bundle);
	free(c->bucket);
	free(c->region);
	free(c->path_base);
	free(c->base_url);
	free(c->host);
	free(c);
	return rc;
}

void hubfs_s3_client_free(struct hubfs_s3_client *c)
{
	if (!c)
		return;
	/* Every request has returned (the caller's contract): all handles are idle. */
	assert(c->nidle == c->nmade);
	for (unsigned int i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	s3_global_put();
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	hubfs_s3_creds_release(&c->creds);
	free(c->idle);
	free(c->ca_bundle);
	free(c->bucket);
	free(c->region);
	free(c->path_base);
	free(c->base_url);
	free(c->host);
	free(c);
}
