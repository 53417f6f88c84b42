/*
 * s3probe — a tiny S3 client for the tests: signs each request with hubfs's own SigV4
 * signer (src/backend/s3_sign.c) and sends it with libcurl, path-style.
 *
 *   s3probe ENDPOINT AK SK put BUCKET KEY FILE
 *   s3probe ENDPOINT AK SK get BUCKET KEY        (object bytes on stdout)
 *   s3probe ENDPOINT AK SK mkbucket BUCKET
 *
 * ENDPOINT is "http://host:port". The region is $S3_REGION (default us-east-1). The body's
 * sha256 is sent (and signed) as x-amz-content-sha256. Exit status: 0 on a 2xx answer;
 * 1 on any other HTTP status (the status and the response body go to stderr); 2 on a
 * usage, file or transport error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/s3_sign.h"

struct buf {
	char *data;
	size_t len;
	size_t off; /* read position (request bodies) */
};

static int usage(void)
{
	fprintf(stderr,
		"usage: s3probe ENDPOINT AK SK put BUCKET KEY FILE\n"
		"       s3probe ENDPOINT AK SK get BUCKET KEY\n"
		"       s3probe ENDPOINT AK SK mkbucket BUCKET\n");
	return 2;
}

static int read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (!f) {
		fprintf(stderr, "s3probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *p = realloc(b->data, b->len + n);

		if (!p) {
			fclose(f);
			return -1;
		}
		b->data = p;
		memcpy(b->data + b->len, chunk, n);
		b->len += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "s3probe: %s: read error\n", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	char *p = realloc(b->data, b->len + n + 1);

	if (!p)
		return 0;
	b->data = p;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;

	if (n > b->len - b->off)
		n = b->len - b->off;
	if (n)
		memcpy(ptr, b->data + b->off, n);
	b->off += n;
	return n;
}

/* "http://host:port/..." -> "host:port" (the Host header curl sends). */
static char *endpoint_host(const char *endpoint)
{
	const char *p = strstr(endpoint, "://");
	size_t n;

	p = p ? p + 3 : endpoint;
	n = strcspn(p, "/");
	return n ? strndup(p, n) : NULL;
}

int main(int argc, char **argv)
{
	const char *endpoint, *ak, *sk, *op, *bucket, *key = NULL, *file = NULL;
	const char *region = getenv("S3_REGION");
	struct buf body = { 0 }, resp = { 0 };
	char *host = NULL, *path = NULL, *epath = NULL, *url = NULL;
	char sha[HUBFS_S3_SHA256_HEX_LEN], amz_date[HUBFS_S3_AMZ_DATE_LEN], auth[1024];
	char hdr[1200];
	struct curl_slist *headers = NULL;
	struct hubfs_s3_sign_req req = { 0 };
	bool upload;
	long status = 0;
	ssize_t elen;
	size_t plen;
	CURL *curl = NULL;
	CURLcode cc;
	int rc = 2, err;

	if (argc < 6)
		return usage();
	endpoint = argv[1];
	ak = argv[2];
	sk = argv[3];
	op = argv[4];
	bucket = argv[5];
	if (!strcmp(op, "put") && argc == 8) {
		key = argv[6];
		file = argv[7];
		upload = true;
	} else if (!strcmp(op, "get") && argc == 7) {
		key = argv[6];
		upload = false;
	} else if (!strcmp(op, "mkbucket") && argc == 6) {
		upload = true;
	} else {
		return usage();
	}
	if (!region || !*region)
		region = "us-east-1";

	host = endpoint_host(endpoint);
	plen = strlen(bucket) + (key ? strlen(key) : 0) + 3;
	path = malloc(plen);
	epath = malloc(3 * plen + 1);
	if (!host || !path || !epath)
		goto out;
	snprintf(path, plen, "/%s%s%s", bucket, key ? "/" : "", key ? key : "");
	elen = hubfs_s3_uri_encode(epath, 3 * plen + 1, path, true);
	if (elen < 0)
		goto out;
	if (asprintf(&url, "%s%s", endpoint, epath) < 0) {
		url = NULL;
		goto out;
	}

	if (file && read_file(file, &body) < 0)
		goto out;
	if (hubfs_s3_sha256_hex(body.data ? body.data : "", body.len, sha) < 0)
		goto out;

	req.method = upload ? "PUT" : "GET";
	req.host = host;
	req.path = path;
	req.payload_hash = sha;
	req.now = time(NULL);
	req.region = region;
	req.access_key = ak;
	req.secret_key = sk;
	err = hubfs_s3_sign(&req, auth, sizeof(auth), amz_date);
	if (err) {
		fprintf(stderr, "s3probe: signing failed: %s\n", strerror(-err));
		goto out;
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(curl = curl_easy_init()))
		goto out;
	snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
	headers = curl_slist_append(headers, hdr);
	snprintf(hdr, sizeof(hdr), "x-amz-date: %s", amz_date);
	headers = curl_slist_append(headers, hdr);
	snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s", sha);
	headers = curl_slist_append(headers, hdr);
	snprintf(hdr, sizeof(hdr), "Host: %s", host);
	headers = curl_slist_append(headers, hdr);
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, "Accept:");
	if (!headers)
		goto out;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
	if (upload) {
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(curl, CURLOPT_READDATA, &body);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body.len);
	}
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		fprintf(stderr, "s3probe: %s %s: %s\n", req.method, url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		if (!upload && resp.len && fwrite(resp.data, 1, resp.len, stdout) != resp.len) {
			fprintf(stderr, "s3probe: write error on stdout\n");
			goto out;
		}
		rc = fflush(stdout) ? 2 : 0;
	} else {
		fprintf(stderr, "s3probe: %s %s: HTTP %ld\n%s\n", req.method, url, status,
			resp.data ? resp.data : "");
		rc = 1;
	}
out:
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	curl_global_cleanup();
	free(resp.data);
	free(body.data);
	free(url);
	free(epath);
	free(path);
	free(host);
	return rc;
}
