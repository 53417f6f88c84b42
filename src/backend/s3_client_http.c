/*
 * s3_client_http.c — how the S3 client (s3_client.h) talks HTTP: one request built and
 * signed with the SigV4 signer (s3_sign.c), sent on a libcurl easy handle borrowed from the
 * client's pool, its answer captured (status, ETag, Last-Modified, Content-Length,
 * Content-Range, Retry-After, x-amz-meta-*, x-amz-request-id; the body into memory or the
 * caller's buffer), and retried with full-jitter exponential backoff; plus the helpers that
 * build requests (metadata headers, bodies and their hashes).
 *
 * Owns nothing across calls: the URL, the signed header list and the response buffers of
 * a request are released before s3_run's caller is done with them. The pool is the
 * client's (s3_client.c makes and frees it).
 *
 * Threads: any thread may run requests at once. c->lock protects the pool (idle, nidle,
 * nmade) and is held only to take or return a handle — never across a transfer or a
 * backoff sleep; c->cond wakes a thread waiting for a handle when all max_conns are busy.
 * The counters are C11 atomics. The jitter's random state is per thread.
 *
 * Secrets: the secret key and session token go only to the signer and (the token) into the
 * x-amz-security-token header; CURLOPT_VERBOSE is never set; the debug line
 * (HUBFS_DEBUG=backend) and the warnings name the method, the key, the status, S3's code,
 * message and request id, and the time — never a header.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backend/s3_client_int.h"
#include "hubfs/log.h"

/* No retry waits longer than this, whatever the attempt or the server's Retry-After. */
#define S3_BACKOFF_CAP_MS 20000
#define S3_RETRY_AFTER_MAX_MS 10000
#define S3_KEY_MAX 1024
#define S3_HASH_CHUNK (1u << 20)
#define S3_AUTH_MAX 8192

/* ---------------------------------------------------------------- backoff */

unsigned int s3_backoff_ms(unsigned int n, unsigned int base_ms, unsigned int cap_ms,
			   unsigned int retry_after_ms, uint64_t rnd)
{
	uint64_t top = base_ms, d;

	for (unsigned int i = 1; i < n && top < cap_ms; i++)
		top *= 2;
	if (top > cap_ms)
		top = cap_ms;
	d = rnd % (top + 1);
	if (d < retry_after_ms)
		d = retry_after_ms;
	return (unsigned int)(d > cap_ms ? cap_ms : d);
}

/* A thread's own xorshift64*: jitter only, not security. */
static uint64_t s3_random(void)
{
	static _Thread_local uint64_t state;
	struct timespec ts;

	if (!state) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
			(uint64_t)(uintptr_t)&ts ^ ((uint64_t)getpid() << 40) ^ 0x9e3779b97f4a7c15u;
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1du;
}

static void s3_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A string from a peer or a user, made safe for one log line (control bytes as '?'). */
const char *s3_log_str(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < n; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
	dst[i] = '\0';
	return dst;
}

/* ---------------------------------------------------------------- requests */

void s3_resp_release(struct s3_resp *r)
{
	hubfs_s3_meta_release(&r->meta);
	free(r->mem);
	r->mem = NULL;
	r->mem_len = r->mem_cap = 0;
}

static void s3_resp_reset(struct s3_resp *resp, const struct s3_req *r)
{
	char *mem = resp->mem;
	size_t cap = resp->mem_cap;

	hubfs_s3_meta_release(&resp->meta);
	memset(resp, 0, sizeof(*resp));
	resp->mem = mem;
	resp->mem_cap = cap;
	resp->retry_after_s = -1;
	resp->want_meta = r->want_meta;
	resp->mem_max = r->mem_max ? r->mem_max : S3_ERRBODY_MAX;
	resp->ubuf = r->ubuf;
	resp->ulen = r->ulen;
	resp->range_off = r->range_off;
}

/* Header names compared case-insensitively; @v is the trimmed value. */
static void s3_resp_header(struct s3_resp *resp, const char *name, size_t nlen, const char *v,
			   size_t vlen)
{
#define S3_HDR_IS(lit) (nlen == sizeof(lit) - 1 && !strncasecmp(name, lit, nlen))
	char tmp[64];

	if (S3_HDR_IS("etag")) {
		if (s3_etag_copy(resp->etag, v, vlen))
			resp->etag[0] = '\0';
	} else if (S3_HDR_IS("x-amz-request-id")) {
		snprintf(resp->request_id, sizeof(resp->request_id), "%.*s", (int)vlen, v);
	} else if (S3_HDR_IS("last-modified")) {
		snprintf(resp->last_modified, sizeof(resp->last_modified), "%.*s", (int)vlen, v);
	} else if (S3_HDR_IS("content-range")) {
		snprintf(resp->content_range, sizeof(resp->content_range), "%.*s", (int)vlen, v);
	} else if (S3_HDR_IS("content-length")) {
		char *end;

		snprintf(tmp, sizeof(tmp), "%.*s", (int)vlen, v);
		errno = 0;
		resp->clen = strtoull(tmp, &end, 10);
		resp->have_clen = !errno && end != tmp && !*end && tmp[0] != '-';
	} else if (S3_HDR_IS("retry-after")) {
		char *end;
		long s;
		int64_t ns;

		snprintf(tmp, sizeof(tmp), "%.*s", (int)vlen, v);
		s = strtol(tmp, &end, 10);
		if (end != tmp && !*end && s >= 0)
			resp->retry_after_s = s;
		else if (!s3_time_http(tmp, &ns))
			resp->retry_after_s = ns / 1000000000 > time(NULL) ?
						      (long)(ns / 1000000000 - time(NULL)) :
						      0;
	} else if (resp->want_meta && nlen > 11 && !strncasecmp(name, "x-amz-meta-", 11)) {
		struct hubfs_s3_header *kv;
		char *k;

		if (resp->meta.n >= HUBFS_S3_META_MAX)
			return; /* more than we keep: S3 allows 2 KiB in all, we keep 32 */
		kv = &resp->meta.kv[resp->meta.n];
		k = strndup(name + 11, nlen - 11);
		kv->value = strndup(v, vlen);
		kv->name = k;
		if (!k || !kv->value) {
			free(k);
			free((char *)kv->value);
			kv->name = kv->value = NULL;
			resp->hdr_err = -ENOMEM;
			return;
		}
		for (; *k; k++)
			if (*k >= 'A' && *k <= 'Z')
				*k = (char)(*k - 'A' + 'a');
		resp->meta.n++;
	}
#undef S3_HDR_IS
}

static size_t s3_on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3_resp *resp = ud;
	size_t n = size * nmemb, e = n, nlen;
	const char *colon, *v;

	while (e && (p[e - 1] == '\r' || p[e - 1] == '\n'))
		e--;
	if (e >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new status line (after a 100 Continue, say): forget what came before. */
		const char *sp = memchr(p, ' ', e);
		bool want_meta = resp->want_meta;

		hubfs_s3_meta_release(&resp->meta);
		resp->want_meta = want_meta;
		resp->etag[0] = resp->request_id[0] = resp->last_modified[0] = '\0';
		resp->content_range[0] = '\0';
		resp->have_clen = false;
		resp->retry_after_s = -1;
		resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	colon = memchr(p, ':', e);
	if (!colon)
		return n;
	nlen = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > (size_t)(v - p) && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	s3_resp_header(resp, p, nlen, v, (size_t)(p + e - v));
	return n;
}

static size_t s3_on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3_resp *resp = ud;
	size_t n = size * nmemb, off = 0, room, m;

	resp->body_bytes += n;
	if (resp->ubuf && resp->status >= 200 && resp->status < 300) {
		if (!resp->body_started) {
			resp->body_started = true;
			/* The whole object although we asked for a range: skip to ours. */
			if (resp->status == 200)
				resp->skip = resp->range_off;
		}
		if (resp->skip) {
			off = n < resp->skip ? n : (size_t)resp->skip;
			resp->skip -= off;
		}
		room = resp->ulen - resp->ugot;
		m = n - off < room ? n - off : room;
		memcpy(resp->ubuf + resp->ugot, p + off, m);
		resp->ugot += m;
		if (n - off > m) {
			/* More than we asked for (the whole object, or a longer range: s3rver
			 * answers bytes=0-0 with all of it): we have ours, stop the rest. A
			 * 206 starting elsewhere is caught by s3_check_range. */
			resp->early_stop = true;
			return 0;
		}
		return n;
	}
	if (resp->mem_len + n > resp->mem_max) {
		if (resp->status >= 200 && resp->status < 300) {
			resp->mem_over = true;
			return 0;
		}
		return n; /* an oversized error body: its status still speaks */
	}
	if (resp->mem_len + n + 1 > resp->mem_cap) {
		size_t cap = resp->mem_cap ? resp->mem_cap : 4096;
		char *q;

		while (cap < resp->mem_len + n + 1)
			cap *= 2;
		q = realloc(resp->mem, cap);
		if (!q) {
			resp->hdr_err = -ENOMEM;
			return 0;
		}
		resp->mem = q;
		resp->mem_cap = cap;
	}
	memcpy(resp->mem + resp->mem_len, p, n);
	resp->mem_len += n;
	resp->mem[resp->mem_len] = '\0';
	return n;
}

static size_t s3_on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct s3_body *b = ud;
	size_t n = size * nmemb;
	ssize_t got;

	if (n > b->len - b->pos)
		n = (size_t)(b->len - b->pos);
	if (!n)
		return 0;
	if (b->buf) {
		memcpy(p, b->buf + b->pos, n);
		b->pos += n;
		return n;
	}
	do {
		got = pread(b->fd, p, n, b->off + (off_t)b->pos);
	} while (got < 0 && errno == EINTR);
	if (got <= 0) {
		b->err = got < 0 ? -errno : -EIO; /* the file shrank under us */
		return CURL_READFUNC_ABORT;
	}
	b->pos += (uint64_t)got;
	return (size_t)got;
}

/* curl rewinds the body when it resends on a connection that died before answering. */
static int s3_on_seek(void *ud, curl_off_t offset, int origin)
{
	struct s3_body *b = ud;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > b->len)
		return CURL_SEEKFUNC_FAIL;
	b->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---------------------------------------------------------------- the pool */

static int s3_conn_get(struct hubfs_s3_client *c, CURL **out)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	while (!c->nidle && c->nmade >= c->max_conns)
		pthread_cond_wait(&c->cond, &c->lock);
	if (c->nidle) {
		h = c->idle[--c->nidle];
		pthread_mutex_unlock(&c->lock);
		*out = h;
		return 0;
	}
	c->nmade++;
	pthread_mutex_unlock(&c->lock);
	h = curl_easy_init();
	if (!h) {
		pthread_mutex_lock(&c->lock);
		c->nmade--;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

static void s3_conn_put(struct hubfs_s3_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	c->idle[c->nidle++] = h;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- one request */

/* The raw (unencoded) path of @key: "/bucket/key", "/key" (virtual-hosted), or the bucket. */
static char *s3_raw_path(const struct hubfs_s3_client *c, const char *key)
{
	char *p = NULL;

	if (key) {
		if (asprintf(&p, "%s/%s", c->path_base, key) < 0)
			p = NULL;
	} else {
		p = strdup(*c->path_base ? c->path_base : "/");
	}
	return p;
}

static int s3_append_encoded(char **s, size_t *len, size_t *cap, const char *in, bool keep_slash)
{
	size_t need = 3 * strlen(in) + 1;
	ssize_t n;

	if (*len + need + 2 > *cap) {
		size_t c = *cap * 2 + need + 2;
		char *p = realloc(*s, c);

		if (!p)
			return -ENOMEM;
		*s = p;
		*cap = c;
	}
	n = hubfs_s3_uri_encode(*s + *len, *cap - *len, in, keep_slash);
	if (n < 0)
		return (int)n;
	*len += (size_t)n;
	return 0;
}

/* base_url + the path and query encoded exactly as the signer canonicalises them. */
static int s3_build_url(const struct hubfs_s3_client *c, const struct s3_req *r,
			const char *raw_path, char **out)
{
	size_t len = strlen(c->base_url), cap = len + 256;
	char *s = malloc(cap);
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	memcpy(s, c->base_url, len + 1);
	rc = s3_append_encoded(&s, &len, &cap, raw_path, true);
	for (size_t i = 0; !rc && i < r->nquery; i++) {
		s[len++] = i ? '&' : '?';
		s[len] = '\0';
		rc = s3_append_encoded(&s, &len, &cap, r->query[i].key, false);
		if (!rc && r->query[i].value) {
			s[len++] = '=';
			s[len] = '\0';
			rc = s3_append_encoded(&s, &len, &cap, r->query[i].value, false);
		}
	}
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int s3_slist_add(struct curl_slist **l, const char *name, const char *value)
{
	struct curl_slist *n;
	char *line = NULL;

	/* "Name;" sends an empty header; "Name:" would remove it. */
	if (asprintf(&line, *value ? "%s: %s" : "%s;", name, value) < 0)
		return -ENOMEM;
	n = curl_slist_append(*l, line);
	free(line);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

/* Sign @r now and build its header list (signer's headers + ours). */
static int s3_sign_headers(const struct hubfs_s3_client *c, const struct s3_req *r,
			   const char *raw_path, struct curl_slist **out)
{
	struct hubfs_s3_sign_req sr = { 0 };
	char date[HUBFS_S3_AMZ_DATE_LEN];
	struct curl_slist *l = NULL;
	char *auth;
	int rc;

	*out = NULL;
	auth = malloc(S3_AUTH_MAX);
	if (!auth)
		return -ENOMEM;
	sr.method = r->method;
	sr.host = c->host;
	sr.path = raw_path;
	sr.query = r->query;
	sr.nquery = r->nquery;
	sr.headers = r->hdr;
	sr.nheaders = r->nhdr;
	sr.payload_hash = r->sha256;
	sr.now = time(NULL);
	sr.region = c->region;
	sr.access_key = c->creds.access_key;
	sr.secret_key = c->creds.secret_key;
	sr.session_token = c->creds.session_token;
	rc = hubfs_s3_sign(&sr, auth, S3_AUTH_MAX, date);
	if (rc)
		goto out;
	rc = s3_slist_add(&l, "Host", c->host);
	if (!rc)
		rc = s3_slist_add(&l, "x-amz-date", date);
	if (!rc)
		rc = s3_slist_add(&l, "x-amz-content-sha256", r->sha256);
	if (!rc && c->creds.session_token)
		rc = s3_slist_add(&l, "x-amz-security-token", c->creds.session_token);
	if (!rc)
		rc = s3_slist_add(&l, "Authorization", auth);
	for (size_t i = 0; !rc && i < r->nhdr; i++)
		rc = s3_slist_add(&l, r->hdr[i].name, r->hdr[i].value ? r->hdr[i].value : "");
	/* No 100-continue round trip, no Accept: the request is exactly what we signed. */
	if (!rc && !curl_slist_append(l, "Expect:"))
		rc = -ENOMEM;
	if (!rc && !curl_slist_append(l, "Accept:"))
		rc = -ENOMEM;
	if (!rc && !curl_slist_append(l, "Content-Type:"))
		rc = -ENOMEM;
out:
	OPENSSL_cleanse(auth, S3_AUTH_MAX);
	free(auth);
	if (rc) {
		curl_slist_free_all(l);
		return rc;
	}
	*out = l;
	return 0;
}

static CURLcode s3_perform(const struct hubfs_s3_client *c, CURL *h, struct s3_req *r,
			   const char *url, struct curl_slist *hl, struct s3_resp *resp)
{
	long stall_s = (long)((c->timeout_ms + 999) / 1000);

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never $http_proxy: the endpoint is the peer */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keys with "/../" are keys */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	/* No progress (under 1 byte/s) for timeout_ms ends the transfer: a stall, not a size. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s < 1 ? 1L : stall_s);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, resp->curl_err);
	if (c->ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);

	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(r->method, "DELETE")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else { /* PUT, POST: always with a Content-Length, even 0 */
		r->body.pos = 0;
		r->body.err = 0;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body.len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &r->body);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, s3_on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &r->body);
		if (strcmp(r->method, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	return curl_easy_perform(h);
}

/* A 206 must start where we asked and bring all we asked for that exists; *bad = -EPROTO
 * when it starts elsewhere. */
static CURLcode s3_check_range(const struct s3_resp *resp, int *bad)
{
	unsigned long long a, b, total, want;

	if (resp->status != 206)
		return CURLE_OK;
	if (sscanf(resp->content_range, "bytes %llu-%llu/%llu", &a, &b, &total) != 3 || b < a ||
	    a != resp->range_off) {
		*bad = -EPROTO;
		return CURLE_OK;
	}
	want = b - a + 1 < resp->ulen ? b - a + 1 : resp->ulen;
	if (resp->ugot != want)
		return CURLE_PARTIAL_FILE; /* cut short without curl noticing: retry */
	return CURLE_OK;
}

/* The wait before retry @n: jittered backoff, and at least the server's Retry-After. */
static unsigned int s3_retry_delay_ms(const struct hubfs_s3_client *c, const struct s3_resp *resp,
				      unsigned int n)
{
	unsigned int ra = 0;

	if (resp->retry_after_s > S3_RETRY_AFTER_MAX_MS / 1000)
		ra = S3_RETRY_AFTER_MAX_MS;
	else if (resp->retry_after_s > 0)
		ra = (unsigned int)resp->retry_after_s * 1000;
	return s3_backoff_ms(n, c->backoff_base_ms, S3_BACKOFF_CAP_MS, ra, s3_random());
}

/* See s3_client_int.h. */
int s3_run(struct hubfs_s3_client *c, struct s3_req *r, struct s3_resp *resp)
{
	char *raw_path = NULL, *url = NULL, klog[256], mlog[300];
	unsigned int attempt;
	int rc;

	/* What the log lines name: the key, or the bucket for bucket-level requests. */
	s3_log_str(klog, sizeof(klog), r->key ? r->key : c->bucket);
	raw_path = s3_raw_path(c, r->key);
	if (!raw_path) {
		rc = -ENOMEM;
		goto out;
	}
	rc = s3_build_url(c, r, raw_path, &url);
	if (rc)
		goto out;
	for (attempt = 0;; attempt++) {
		struct curl_slist *hl = NULL;
		struct timespec t0, t1;
		const char *code = NULL;
		CURLcode cc;
		CURL *h;
		bool retry;
		double ms;
		int bad = 0;

		s3_resp_reset(resp, r);
		rc = s3_sign_headers(c, r, raw_path, &hl);
		if (rc)
			break;
		rc = s3_conn_get(c, &h);
		if (rc) {
			curl_slist_free_all(hl);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		cc = s3_perform(c, h, r, url, hl, resp);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		s3_conn_put(c, h);
		curl_slist_free_all(hl);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		atomic_fetch_add(&c->requests, 1);
		atomic_fetch_add(&c->bytes_up, r->body.pos);
		atomic_fetch_add(&c->bytes_down, resp->body_bytes);

		/* Our own reasons to stop first: they are not the network's. */
		if (resp->hdr_err || r->body.err || resp->mem_over) {
			rc = resp->hdr_err ? resp->hdr_err : r->body.err ? r->body.err : -EPROTO;
			hubfs_log(HUBFS_LOG_WARN, "s3: %s '%s': %s", r->method, klog,
				  resp->mem_over ? "answer too large" : strerror(-rc));
			break;
		}
		if (cc == CURLE_WRITE_ERROR && resp->early_stop)
			cc = CURLE_OK;
		if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300) {
			if (resp->ubuf)
				cc = s3_check_range(resp, &bad);
			if (bad) {
				hubfs_log(HUBFS_LOG_WARN,
					  "s3: %s '%s': answered range '%s' is not ours", r->method,
					  klog,
					  s3_log_str(mlog, sizeof(mlog), resp->content_range));
				rc = bad;
				break;
			}
			if (cc == CURLE_OK && r->error_in_200 && resp->mem_len &&
			    !s3_xml_parse_error(resp->mem, resp->mem_len, &resp->xerr))
				code = resp->xerr.code;
		} else if (cc == CURLE_OK && resp->mem_len &&
			   !s3_xml_parse_error(resp->mem, resp->mem_len, &resp->xerr)) {
			code = resp->xerr.code;
		}
		rc = s3_errno(cc, resp->status, code);
		if (!resp->request_id[0])
			memcpy(resp->request_id, resp->xerr.request_id, sizeof(resp->request_id));
		hubfs_dbg(HUBFS_CAT_BACKEND, "s3: %s '%s' -> %ld %s id %s %.1f ms (try %u)",
			  r->method, klog, resp->status,
			  cc != CURLE_OK ? curl_easy_strerror(cc) :
			  code           ? code :
					   "",
			  resp->request_id, ms, attempt + 1);
		if (!rc)
			break;
		retry = r->idempotent && attempt < c->retries &&
			s3_retryable(cc, resp->status, code);
		if (!retry) {
			int lvl = (rc == -ENOENT || resp->status == 416) ? HUBFS_LOG_DEBUG :
									   HUBFS_LOG_WARN;

			if (cc != CURLE_OK)
				hubfs_log(lvl, "s3: %s '%s': %s (%s, %u tries)", r->method, klog,
					  curl_easy_strerror(cc),
					  s3_log_str(mlog, sizeof(mlog), resp->curl_err),
					  attempt + 1);
			else
				hubfs_log(lvl, "s3: %s '%s': %s%s%s (HTTP %ld%s%s, %u tries)",
					  r->method, klog, code ? code : "no S3 error code",
					  resp->xerr.message[0] ? ": " : "",
					  s3_log_str(mlog, sizeof(mlog), resp->xerr.message),
					  resp->status, resp->request_id[0] ? ", request id " : "",
					  resp->request_id, attempt + 1);
			break;
		}
		atomic_fetch_add(&c->retries_n, 1);
		s3_sleep_ms(s3_retry_delay_ms(c, resp, attempt + 1));
	}
out:
	free(url);
	free(raw_path);
	return rc;
}

/* Count a finished call's failure (a missing object is an answer, not a failure). */
int s3_done(struct hubfs_s3_client *c, int rc)
{
	if (rc && rc != -ENOENT)
		atomic_fetch_add(&c->failures, 1);
	return rc;
}

int s3_check_key(const char *key)
{
	if (!key || !*key)
		return -EINVAL;
	return strlen(key) > S3_KEY_MAX ? -ENAMETOOLONG : 0;
}

/* ---------------------------------------------------------------- request building */

/* x-amz-meta-NAME headers for @m, names lower-cased into *store (freed by the caller). */
int s3_req_meta(struct s3_req *r, const struct hubfs_s3_meta *m, char **store)
{
	size_t total = 0, k = 0;
	char *s;

	*store = NULL;
	if (!m || !m->n)
		return 0;
	if (m->n > HUBFS_S3_META_MAX || r->nhdr + m->n > S3_MAX_HEADERS)
		return -E2BIG;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->kv[i].name || !*m->kv[i].name)
			return -EINVAL;
		total += strlen("x-amz-meta-") + strlen(m->kv[i].name) + 1;
	}
	s = malloc(total);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		char *name = s + k;

		k += (size_t)sprintf(name, "x-amz-meta-%s", m->kv[i].name) + 1;
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		r->hdr[r->nhdr].name = name;
		r->hdr[r->nhdr].value = m->kv[i].value ? m->kv[i].value : "";
		r->nhdr++;
	}
	*store = s;
	return 0;
}

void s3_req_header(struct s3_req *r, const char *name, const char *value)
{
	r->hdr[r->nhdr].name = name;
	r->hdr[r->nhdr].value = value;
	r->nhdr++;
}

void s3_req_query(struct s3_req *r, const char *key, const char *value)
{
	r->query[r->nquery].key = key;
	r->query[r->nquery].value = value;
	r->nquery++;
}

/* An empty body: nothing to send, the hash of "". */
int s3_req_empty(struct s3_req *r)
{
	r->body.buf = "";
	r->body.len = 0;
	return hubfs_s3_sha256_hex("", 0, r->sha256) ? -EPROTO : 0;
}

static void s3_md5_b64(const unsigned char md5[16], char out[32])
{
	EVP_EncodeBlock((unsigned char *)out, md5, 16);
}

/* A memory body with its SHA-256 and (when @md5_b64) its Content-MD5. */
int s3_req_mem(struct s3_req *r, const void *buf, size_t len, char *md5_b64)
{
	unsigned char md5[16];
	unsigned int n = 0;

	r->body.buf = buf ? buf : "";
	r->body.len = len;
	if (hubfs_s3_sha256_hex(r->body.buf, len, r->sha256))
		return -EPROTO;
	if (!md5_b64)
		return 0;
	if (!EVP_Digest(r->body.buf, len, md5, &n, EVP_md5(), NULL) || n != 16)
		return -EPROTO;
	s3_md5_b64(md5, md5_b64);
	return 0;
}

/* Hash @len bytes of @fd from @off: SHA-256 (hex) and MD5 (base64) in one pass. */
int s3_hash_fd(int fd, off_t off, uint64_t len, char sha_hex[HUBFS_S3_SHA256_HEX_LEN],
	       char md5_b64[32])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char sha[32], md5[16];
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *m = EVP_MD_CTX_new();
	unsigned int n;
	uint64_t done = 0;
	char *buf = malloc(S3_HASH_CHUNK);
	int rc = -EPROTO;

	if (!s || !m || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (!EVP_DigestInit_ex(s, EVP_sha256(), NULL) || !EVP_DigestInit_ex(m, EVP_md5(), NULL))
		goto out;
	while (done < len) {
		size_t want = len - done < S3_HASH_CHUNK ? (size_t)(len - done) : S3_HASH_CHUNK;
		ssize_t got = pread(fd, buf, want, off + (off_t)done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0) {
			rc = -EINVAL; /* the region runs past the end of the file */
			goto out;
		}
		if (!EVP_DigestUpdate(s, buf, (size_t)got) ||
		    !EVP_DigestUpdate(m, buf, (size_t)got))
			goto out;
		done += (uint64_t)got;
	}
	if (!EVP_DigestFinal_ex(s, sha, &n) || n != 32 || !EVP_DigestFinal_ex(m, md5, &n) ||
	    n != 16)
		goto out;
	for (int i = 0; i < 32; i++) {
		sha_hex[2 * i] = hex[sha[i] >> 4];
		sha_hex[2 * i + 1] = hex[sha[i] & 15];
	}
	sha_hex[64] = '\0';
	s3_md5_b64(md5, md5_b64);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(m);
	return rc;
}
