/*
 * s3_sign.c — AWS Signature Version 4 for S3 requests (header auth), on OpenSSL's
 * libcrypto: canonical request -> string to sign -> HMAC key chain -> Authorization.
 *
 * Owns nothing beyond one call: every buffer is allocated and freed inside
 * hubfs_s3_sign(), and the derived keys are wiped with OPENSSL_cleanse before return.
 * No globals and no locks; any thread may call in. Nothing here logs, so a secret cannot
 * leak through a log line; errors are returned as -errno for the caller to report.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "backend/s3_sign.h"

#define S3_ALGORITHM "AWS4-HMAC-SHA256"

/* A growing string; the first failure sticks in err and later appends are no-ops. */
struct s3_buf {
	char *p;
	size_t len;
	size_t cap;
	int err;
};

static void s3_buf_add(struct s3_buf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 512;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void s3_buf_str(struct s3_buf *b, const char *s)
{
	s3_buf_add(b, s, strlen(s));
}

static void s3_buf_chr(struct s3_buf *b, char c)
{
	s3_buf_add(b, &c, 1);
}

static bool s3_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Append the S3 URI encoding of @in. */
static void s3_buf_encode(struct s3_buf *b, const char *in, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)in;
	char esc[3];

	for (; *s; s++) {
		if (s3_unreserved(*s) || (keep_slash && *s == '/')) {
			s3_buf_chr(b, (char)*s);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[*s >> 4];
		esc[2] = hex[*s & 15];
		s3_buf_add(b, esc, 3);
	}
}

ssize_t hubfs_s3_uri_encode(char *out, size_t len, const char *in, bool keep_slash)
{
	struct s3_buf b = { 0 };
	ssize_t rc;

	s3_buf_encode(&b, in, keep_slash);
	if (b.err) {
		rc = b.err;
		goto out;
	}
	if (!b.p) {
		/* empty input */
		if (len < 1)
			return -ERANGE;
		out[0] = '\0';
		return 0;
	}
	if (b.len + 1 > len) {
		rc = -ERANGE;
		goto out;
	}
	memcpy(out, b.p, b.len + 1);
	rc = (ssize_t)b.len;
out:
	free(b.p);
	return rc;
}

static void s3_hex(const unsigned char *md, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

int hubfs_s3_sha256_hex(const void *data, size_t n, char out[HUBFS_S3_SHA256_HEX_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;

	if (!EVP_Digest(n ? data : "", n, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != SHA256_DIGEST_LENGTH)
		return -EPROTO;
	s3_hex(md, sizeof(md), out);
	return 0;
}

/* out = HMAC-SHA256(key, msg); 0 or -EPROTO. */
static int s3_hmac(const void *key, size_t keylen, const char *msg, size_t msglen,
		   unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out,
		  &outlen) ||
	    outlen != SHA256_DIGEST_LENGTH)
		return -EPROTO;
	return 0;
}

/* ---------------------------------------------------------------- input checks */

static bool s3_is_token_char(unsigned char c)
{
	return s3_unreserved(c) || (c && strchr("!#$%&'*+^`|", c));
}

static bool s3_valid_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!s3_is_token_char((unsigned char)*s))
			return false;
	return true;
}

/* Header values and the host: no control bytes but tab (no CR/LF header injection). */
static bool s3_valid_value(const char *s)
{
	if (!s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Credential scope parts: they are joined with '/' and sent in the header. */
static bool s3_valid_scope_part(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!s3_unreserved((unsigned char)*s))
			return false;
	return true;
}

static bool s3_valid_method(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < 'A' || *s > 'Z')
			return false;
	return true;
}

static bool s3_valid_payload_hash(const char *s)
{
	size_t i;

	if (!s)
		return false;
	if (!strcmp(s, HUBFS_S3_UNSIGNED_PAYLOAD))
		return true;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/* Headers the signer writes itself; a caller copy would be signed twice or disagree. */
static bool s3_signer_owned(const char *lname)
{
	static const char *const owned[] = { "host", "x-amz-date", "x-amz-content-sha256",
					     "x-amz-security-token", "authorization" };

	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (!strcmp(lname, owned[i]))
			return true;
	return false;
}

/* ---------------------------------------------------------------- canonical parts */

struct s3_hdr {
	char *name;  /* lower case, owned */
	char *value; /* trimmed and collapsed, owned */
	size_t order;
};

struct s3_qp {
	char *key;   /* encoded, owned */
	char *value; /* encoded, owned */
};

static int s3_hdr_cmp(const void *a, const void *b)
{
	const struct s3_hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int s3_qp_cmp(const void *a, const void *b)
{
	const struct s3_qp *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

/* Fill @h from a name and value; 0, -EINVAL or -ENOMEM. */
static int s3_hdr_set(struct s3_hdr *h, const char *name, const char *value, size_t order)
{
	size_t n = strlen(name), i, o = 0;
	bool space = false;

	h->order = order;
	h->name = malloc(n + 1);
	h->value = malloc(strlen(value) + 1);
	if (!h->name || !h->value)
		return -ENOMEM;
	for (i = 0; i <= n; i++)
		h->name[i] = (char)tolower((unsigned char)name[i]);
	/* Trimall: drop leading/trailing blanks, collapse inner runs to one space */
	for (i = 0; value[i]; i++) {
		if (value[i] == ' ' || value[i] == '\t') {
			space = o > 0;
			continue;
		}
		if (space)
			h->value[o++] = ' ';
		space = false;
		h->value[o++] = value[i];
	}
	h->value[o] = '\0';
	return 0;
}

static char *s3_encode_dup(const char *in, bool keep_slash, int *err)
{
	struct s3_buf b = { 0 };

	s3_buf_encode(&b, in, keep_slash);
	s3_buf_add(&b, "", 0);
	if (b.err) {
		free(b.p);
		*err = b.err;
		return NULL;
	}
	if (!b.p) {
		b.p = strdup("");
		if (!b.p)
			*err = -ENOMEM;
	}
	return b.p;
}

static int s3_check(const struct hubfs_s3_sign_req *req)
{
	const char *service = req->service ? req->service : "s3";

	if (!s3_valid_method(req->method) || !req->path || req->path[0] != '/' || !req->host ||
	    !*req->host || !s3_valid_value(req->host) || strpbrk(req->host, " \t") ||
	    !s3_valid_payload_hash(req->payload_hash) || !s3_valid_scope_part(req->region) ||
	    !s3_valid_scope_part(service) || !s3_valid_scope_part(req->access_key) ||
	    !req->secret_key || !*req->secret_key)
		return -EINVAL;
	if (req->session_token && (!*req->session_token || !s3_valid_value(req->session_token)))
		return -EINVAL;
	if ((req->nquery && !req->query) || (req->nheaders && !req->headers))
		return -EINVAL;
	for (size_t i = 0; i < req->nquery; i++)
		if (!req->query[i].key)
			return -EINVAL;
	for (size_t i = 0; i < req->nheaders; i++)
		if (!s3_valid_token(req->headers[i].name) || !s3_valid_value(req->headers[i].value))
			return -EINVAL;
	return 0;
}

/* Append "name:value\n" lines and fill @signed_hdrs; @h sorted, duplicates joined by ','. */
static void s3_add_headers(struct s3_buf *cr, struct s3_buf *signed_hdrs, const struct s3_hdr *h,
			   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(h[i].name, h[i - 1].name)) {
			/* the previous line's '\n' was not written yet: continue it */
			s3_buf_chr(cr, ',');
			s3_buf_str(cr, h[i].value);
			continue;
		}
		if (i) {
			s3_buf_chr(cr, '\n');
			s3_buf_chr(signed_hdrs, ';');
		}
		s3_buf_str(cr, h[i].name);
		s3_buf_chr(cr, ':');
		s3_buf_str(cr, h[i].value);
		s3_buf_str(signed_hdrs, h[i].name);
	}
	s3_buf_chr(cr, '\n');
}

int hubfs_s3_sign(const struct hubfs_s3_sign_req *req, char *authorization, size_t len,
		  char amz_date[HUBFS_S3_AMZ_DATE_LEN])
{
	struct s3_buf cr = { 0 }, sh = { 0 }, sts = { 0 }, key = { 0 };
	struct s3_hdr *hdrs = NULL;
	struct s3_qp *qps = NULL;
	size_t nh = 0, nq = 0, cap_h, i;
	unsigned char k1[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH];
	char hex[HUBFS_S3_SHA256_HEX_LEN], date8[9];
	const char *service;
	bool is_s3;
	struct tm tm;
	int rc, n;

	if (!req || !authorization || !amz_date)
		return -EINVAL;
	rc = s3_check(req);
	if (rc)
		return rc;
	service = req->service ? req->service : "s3";
	is_s3 = !strcmp(service, "s3");
	if (!gmtime_r(&req->now, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -EINVAL;
	if (strftime(amz_date, HUBFS_S3_AMZ_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm) !=
	    HUBFS_S3_AMZ_DATE_LEN - 1)
		return -EINVAL;
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';

	/* headers: the caller's plus the ones the signer owns */
	cap_h = req->nheaders + 4;
	hdrs = calloc(cap_h, sizeof(*hdrs));
	if (!hdrs) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < req->nheaders; i++) {
		rc = s3_hdr_set(&hdrs[nh], req->headers[i].name, req->headers[i].value, nh);
		nh++;
		if (rc)
			goto out;
		if (s3_signer_owned(hdrs[nh - 1].name)) {
			rc = -EINVAL;
			goto out;
		}
	}
	rc = s3_hdr_set(&hdrs[nh], "host", req->host, nh);
	nh++;
	if (!rc) {
		rc = s3_hdr_set(&hdrs[nh], "x-amz-date", amz_date, nh);
		nh++;
	}
	if (!rc && is_s3) {
		rc = s3_hdr_set(&hdrs[nh], "x-amz-content-sha256", req->payload_hash, nh);
		nh++;
	}
	if (!rc && req->session_token) {
		rc = s3_hdr_set(&hdrs[nh], "x-amz-security-token", req->session_token, nh);
		nh++;
	}
	if (rc)
		goto out;
	qsort(hdrs, nh, sizeof(*hdrs), s3_hdr_cmp);

	/* query: encode each side, then sort by encoded key, then encoded value */
	if (req->nquery) {
		qps = calloc(req->nquery, sizeof(*qps));
		if (!qps) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < req->nquery; i++) {
		nq++;
		qps[i].key = s3_encode_dup(req->query[i].key, false, &rc);
		if (!rc)
			qps[i].value = s3_encode_dup(req->query[i].value ? req->query[i].value : "",
						     false, &rc);
		if (rc)
			goto out;
	}
	if (nq)
		qsort(qps, nq, sizeof(*qps), s3_qp_cmp);

	/* canonical request */
	s3_buf_str(&cr, req->method);
	s3_buf_chr(&cr, '\n');
	s3_buf_encode(&cr, req->path, true);
	s3_buf_chr(&cr, '\n');
	for (i = 0; i < nq; i++) {
		if (i)
			s3_buf_chr(&cr, '&');
		s3_buf_str(&cr, qps[i].key);
		s3_buf_chr(&cr, '=');
		s3_buf_str(&cr, qps[i].value);
	}
	s3_buf_chr(&cr, '\n');
	s3_add_headers(&cr, &sh, hdrs, nh);
	s3_buf_chr(&cr, '\n');
	s3_buf_str(&cr, sh.p ? sh.p : "");
	s3_buf_chr(&cr, '\n');
	s3_buf_str(&cr, req->payload_hash);
	rc = cr.err ? cr.err : sh.err;
	if (rc)
		goto out;

	/* string to sign */
	rc = hubfs_s3_sha256_hex(cr.p, cr.len, hex);
	if (rc)
		goto out;
	s3_buf_str(&sts, S3_ALGORITHM "\n");
	s3_buf_str(&sts, amz_date);
	s3_buf_chr(&sts, '\n');
	s3_buf_str(&sts, date8);
	s3_buf_chr(&sts, '/');
	s3_buf_str(&sts, req->region);
	s3_buf_chr(&sts, '/');
	s3_buf_str(&sts, service);
	s3_buf_str(&sts, "/aws4_request\n");
	s3_buf_str(&sts, hex);

	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), ...) */
	s3_buf_str(&key, "AWS4");
	s3_buf_str(&key, req->secret_key);
	rc = sts.err ? sts.err : key.err;
	if (rc)
		goto out;
	rc = s3_hmac(key.p, key.len, date8, 8, k1);
	if (!rc)
		rc = s3_hmac(k1, sizeof(k1), req->region, strlen(req->region), k2);
	if (!rc)
		rc = s3_hmac(k2, sizeof(k2), service, strlen(service), k1);
	if (!rc)
		rc = s3_hmac(k1, sizeof(k1), "aws4_request", 12, k2);
	if (!rc)
		rc = s3_hmac(k2, sizeof(k2), sts.p, sts.len, k1);
	if (rc)
		goto out;
	s3_hex(k1, sizeof(k1), hex);

	n = snprintf(authorization, len,
		     S3_ALGORITHM
		     " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
		     "Signature=%s",
		     req->access_key, date8, req->region, service, sh.p, hex);
	if (n < 0 || (size_t)n >= len) {
		rc = -ERANGE;
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	if (key.p)
		OPENSSL_cleanse(key.p, key.cap);
	free(key.p);
	free(sts.p);
	free(cr.p);
	free(sh.p);
	for (i = 0; i < nq; i++) {
		free(qps[i].key);
		free(qps[i].value);
	}
	free(qps);
	for (i = 0; i < nh; i++) {
		free(hdrs[i].name);
		free(hdrs[i].value);
	}
	free(hdrs);
	return rc;
}
