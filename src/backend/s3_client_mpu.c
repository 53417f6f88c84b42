/*
 * s3_client_mpu.c — the S3 client's bucket-level listings and multipart uploads
 * (s3_client.h): ListObjectsV2 and ListMultipartUploads, each following its continuation
 * tokens or markers (a server that hands back the same token twice is -EPROTO, not a
 * loop), and CreateMultipartUpload, UploadPart, CompleteMultipartUpload, Abort.
 *
 * Owns nothing across calls: each page is parsed (s3_xml.c), handed to the caller's
 * callback and freed. Any thread may call in; the requests run through s3_run()
 * (s3_client_http.c), which holds the only lock, the pool's, briefly. Create and Complete
 * are never retried here (a retry could make a second upload or act on a completed one):
 * the caller decides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3_client_int.h"
#include "hubfs/log.h"

int hubfs_s3_list(struct hubfs_s3_client *c, const char *prefix, const char *delimiter,
		  hubfs_s3_list_fn fn, void *arg)
{
	struct s3_list_page page = { 0 };
	char *token = NULL, maxkeys[16], klog[256];
	int rc = 0;

	snprintf(maxkeys, sizeof(maxkeys), "%u", c->list_max_keys);
	for (;;) {
		struct s3_req r = { 0 };
		struct s3_resp resp = { 0 };

		r.method = "GET";
		r.idempotent = true;
		r.mem_max = S3_XML_MAX;
		s3_req_query(&r, "list-type", "2");
		s3_req_query(&r, "encoding-type", "url");
		if (prefix && *prefix)
			s3_req_query(&r, "prefix", prefix);
		if (delimiter && *delimiter)
			s3_req_query(&r, "delimiter", delimiter);
		if (c->list_max_keys)
			s3_req_query(&r, "max-keys", maxkeys);
		if (token)
			s3_req_query(&r, "continuation-token", token);
		rc = s3_req_empty(&r);
		if (!rc)
			rc = s3_run(c, &r, &resp);
		if (!rc) {
			rc = s3_xml_parse_list(resp.mem, resp.mem_len, &page, &resp.xerr);
			if (rc == S3_XML_DOC_ERROR)
				rc = s3_errno(CURLE_OK, resp.status, resp.xerr.code);
			else if (rc == -EPROTO)
				hubfs_log(HUBFS_LOG_WARN,
					  "s3: list '%s': malformed ListBucketResult",
					  s3_log_str(klog, sizeof(klog), prefix ? prefix : ""));
		}
		s3_resp_release(&resp);
		for (size_t i = 0; !rc && i < page.n; i++)
			rc = fn(arg, page.items[i].key, page.items[i].is_prefix,
				page.items[i].is_prefix ? NULL : &page.items[i].obj);
		if (rc || !page.truncated)
			break;
		if (token && !strcmp(token, page.next_token)) {
			rc = -EPROTO; /* the same page again: a server loop */
			break;
		}
		free(token);
		token = page.next_token;
		page.next_token = NULL;
		s3_list_page_release(&page);
	}
	s3_list_page_release(&page);
	free(token);
	return s3_done(c, rc);
}

int hubfs_s3_mpu_create(struct hubfs_s3_client *c, const char *key,
			const struct hubfs_s3_meta *meta, char **upload_id)
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	char *store = NULL;
	int rc;

	*upload_id = NULL;
	rc = s3_check_key(key);
	if (rc)
		return s3_done(c, rc);
	r.method = "POST";
	r.key = key;
	r.idempotent = false; /* a retry could leave a second upload behind */
	r.mem_max = S3_XML_MAX;
	s3_req_query(&r, "uploads", NULL);
	rc = s3_req_meta(&r, meta, &store);
	if (!rc)
		rc = s3_req_empty(&r);
	if (!rc)
		rc = s3_run(c, &r, &resp);
	if (!rc) {
		rc = s3_xml_parse_initiate(resp.mem, resp.mem_len, upload_id, &resp.xerr);
		if (rc == S3_XML_DOC_ERROR)
			rc = s3_errno(CURLE_OK, resp.status, resp.xerr.code);
		if (rc == -EPROTO)
			hubfs_log(HUBFS_LOG_WARN,
				  "s3: create upload: malformed InitiateMultipartUploadResult");
	}
	s3_resp_release(&resp);
	free(store);
	return s3_done(c, rc);
}

int hubfs_s3_mpu_part(struct hubfs_s3_client *c, const char *key, const char *upload_id,
		      unsigned int partno, const void *buf, size_t len, char etag[80])
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	char md5[32], num[16];
	int rc;

	rc = s3_check_key(key);
	if (!rc && (!upload_id || !*upload_id || partno < 1 || partno > 10000 || (!buf && len)))
		rc = -EINVAL;
	if (!rc)
		rc = s3_req_mem(&r, buf, len, md5);
	if (rc)
		return s3_done(c, rc);
	snprintf(num, sizeof(num), "%u", partno);
	r.method = "PUT";
	r.key = key;
	r.idempotent = true; /* a part sent twice is the same part */
	s3_req_query(&r, "partNumber", num);
	s3_req_query(&r, "uploadId", upload_id);
	s3_req_header(&r, "Content-MD5", md5);
	rc = s3_run(c, &r, &resp);
	if (!rc && !resp.etag[0]) {
		hubfs_log(HUBFS_LOG_WARN, "s3: part %u of an upload: no ETag in the answer",
			  partno);
		rc = -EPROTO;
	}
	if (!rc)
		memcpy(etag, resp.etag, 80);
	s3_resp_release(&resp);
	return s3_done(c, rc);
}

int hubfs_s3_mpu_complete(struct hubfs_s3_client *c, const char *key, const char *upload_id,
			  const struct hubfs_s3_part *parts, size_t nparts, char etag[80])
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	char *body = NULL, tag[80], klog[256];
	size_t blen = 0;
	int rc;

	rc = s3_check_key(key);
	if (!rc && (!upload_id || !*upload_id))
		rc = -EINVAL;
	if (!rc)
		rc = s3_xml_complete_body(parts, nparts, &body, &blen);
	if (!rc)
		rc = s3_req_mem(&r, body, blen, NULL);
	if (rc)
		goto out;
	r.method = "POST";
	r.key = key;
	r.idempotent = false; /* the caller decides (the upload may be complete already) */
	r.error_in_200 = true;
	r.mem_max = S3_XML_MAX;
	s3_req_query(&r, "uploadId", upload_id);
	rc = s3_run(c, &r, &resp);
	if (rc)
		goto out;
	rc = s3_xml_parse_complete(resp.mem, resp.mem_len, tag, &resp.xerr);
	if (rc == S3_XML_DOC_ERROR)
		rc = s3_errno(CURLE_OK, resp.status, resp.xerr.code);
	if (rc == -EPROTO)
		hubfs_log(HUBFS_LOG_WARN, "s3: complete upload of '%s': malformed answer",
			  s3_log_str(klog, sizeof(klog), key));
	if (!rc && etag)
		memcpy(etag, tag, 80);
out:
	s3_resp_release(&resp);
	free(body);
	return s3_done(c, rc);
}

int hubfs_s3_mpu_abort(struct hubfs_s3_client *c, const char *key, const char *upload_id)
{
	struct s3_req r = { 0 };
	struct s3_resp resp = { 0 };
	int rc;

	rc = s3_check_key(key);
	if (!rc && (!upload_id || !*upload_id))
		rc = -EINVAL;
	if (rc)
		return s3_done(c, rc);
	r.method = "DELETE";
	r.key = key;
	r.idempotent = true;
	s3_req_query(&r, "uploadId", upload_id);
	rc = s3_req_empty(&r);
	if (!rc)
		rc = s3_run(c, &r, &resp);
	if (rc == -ENOENT && strcmp(resp.xerr.code, "NoSuchBucket"))
		rc = 0; /* already gone: completed or aborted */
	s3_resp_release(&resp);
	return s3_done(c, rc);
}

int hubfs_s3_mpu_list(struct hubfs_s3_client *c, const char *prefix, hubfs_s3_upload_fn fn,
		      void *arg)
{
	struct s3_upload_page page = { 0 };
	char *key_marker = NULL, *id_marker = NULL, maxup[16];
	int rc = 0;

	snprintf(maxup, sizeof(maxup), "%u", c->list_max_keys);
	for (;;) {
		struct s3_req r = { 0 };
		struct s3_resp resp = { 0 };

		r.method = "GET";
		r.idempotent = true;
		r.mem_max = S3_XML_MAX;
		s3_req_query(&r, "uploads", NULL);
		s3_req_query(&r, "encoding-type", "url");
		if (prefix && *prefix)
			s3_req_query(&r, "prefix", prefix);
		if (c->list_max_keys)
			s3_req_query(&r, "max-uploads", maxup);
		if (key_marker)
			s3_req_query(&r, "key-marker", key_marker);
		if (id_marker)
			s3_req_query(&r, "upload-id-marker", id_marker);
		rc = s3_req_empty(&r);
		if (!rc)
			rc = s3_run(c, &r, &resp);
		if (!rc) {
			rc = s3_xml_parse_uploads(resp.mem, resp.mem_len, &page, &resp.xerr);
			if (rc == S3_XML_DOC_ERROR)
				rc = s3_errno(CURLE_OK, resp.status, resp.xerr.code);
			else if (rc == -EPROTO)
				hubfs_log(HUBFS_LOG_WARN,
					  "s3: list uploads: malformed ListMultipartUploadsResult");
		}
		s3_resp_release(&resp);
		for (size_t i = 0; !rc && i < page.n; i++)
			rc = fn(arg, page.items[i].key, page.items[i].upload_id,
				page.items[i].initiated_ns);
		if (rc || !page.truncated)
			break;
		if (key_marker && !strcmp(key_marker, page.next_key_marker) &&
		    !strcmp(id_marker ? id_marker : "",
			    page.next_upload_id_marker ? page.next_upload_id_marker : "")) {
			rc = -EPROTO;
			break;
		}
		free(key_marker);
		free(id_marker);
		key_marker = page.next_key_marker;
		id_marker = page.next_upload_id_marker;
		page.next_key_marker = page.next_upload_id_marker = NULL;
		s3_upload_page_release(&page);
	}
	s3_upload_page_release(&page);
	free(key_marker);
	free(id_marker);
	return s3_done(c, rc);
}
