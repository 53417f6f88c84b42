/*
 * s3_xml.c — S3's XML answers, parsed with libxml2, and the one XML body the client sends
 * (CompleteMultipartUpload); also the time and ETag formats those answers carry.
 *
 * Owns nothing beyond a call: every libxml2 document is made and freed inside one parser.
 * Any thread may call in at once (libxml2 is initialised once, by s3_xml_init, through
 * pthread_once); no locks, no logging — the caller logs with the request's context.
 *
 * Bodies come from the network and are untrusted: at most S3_XML_MAX bytes; parsed with
 * XML_PARSE_NONET (no network) and without XML_PARSE_NOENT / DTDLOAD (no entity
 * substitution, no external subset); a document that declares a DTD at all is refused
 * (S3 never sends one, and refusing it is simpler than proving no entity is ever
 * expanded); text is gathered from text and CDATA nodes only. Elements are matched by
 * local name, so the S3 namespace (or s3rver's variant of it) does not matter.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "backend/s3_client_int.h"

static pthread_once_t s3_xml_once = PTHREAD_ONCE_INIT;

static void s3_xml_init_once(void)
{
	xmlInitParser();
}

void s3_xml_init(void)
{
	pthread_once(&s3_xml_once, s3_xml_init_once);
}

/* Parse @body into *doc and check its root is @root or Error (*is_error). */
static int s3_xml_open(const char *body, size_t len, const char *root, xmlDocPtr *doc,
		       xmlNodePtr *rootp, bool *is_error)
{
	static const int flags = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				 XML_PARSE_NOCDATA;
	xmlDocPtr d;
	xmlNodePtr r;

	*doc = NULL;
	*is_error = false;
	if (!body || !len || len > S3_XML_MAX)
		return -EPROTO;
	/* Refused before parsing: no DTD means no entity can be declared, let alone expanded. */
	if (memmem(body, len, "<!DOCTYPE", 9) || memmem(body, len, "<!ENTITY", 8))
		return -EPROTO;
	s3_xml_init();
	d = xmlReadMemory(body, (int)len, NULL, NULL, flags);
	if (!d)
		return -EPROTO;
	r = xmlDocGetRootElement(d);
	if (d->intSubset || d->extSubset || !r || r->type != XML_ELEMENT_NODE) {
		xmlFreeDoc(d);
		return -EPROTO;
	}
	if (!xmlStrcmp(r->name, BAD_CAST "Error")) {
		*is_error = true;
	} else if (!root || xmlStrcmp(r->name, BAD_CAST root)) {
		xmlFreeDoc(d);
		return -EPROTO;
	}
	*doc = d;
	*rootp = r;
	return 0;
}

static bool s3_xml_is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name);
}

static const xmlNode *s3_xml_child(const xmlNode *parent, const char *name)
{
	for (const xmlNode *n = parent->children; n; n = n->next)
		if (s3_xml_is(n, name))
			return n;
	return NULL;
}

/*
 * The text of element @n: its text and CDATA children joined (nested elements are
 * skipped). *out malloc'd. -EPROTO when longer than @max bytes or holding a NUL.
 */
static int s3_xml_text(const xmlNode *n, size_t max, char **out)
{
	size_t len = 0, k;
	char *s;

	*out = NULL;
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		len += c->content ? strlen((const char *)c->content) : 0;
		if (len > max)
			return -EPROTO;
	}
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	k = 0;
	for (const xmlNode *c = n->children; c; c = c->next) {
		size_t m;

		if ((c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) || !c->content)
			continue;
		m = strlen((const char *)c->content);
		memcpy(s + k, c->content, m);
		k += m;
	}
	s[k] = '\0';
	*out = s;
	return 0;
}

/* The text of child @name of @parent into @buf (truncated to fit); "" when absent. */
static int s3_xml_child_buf(const xmlNode *parent, const char *name, char *buf, size_t size)
{
	const xmlNode *c = s3_xml_child(parent, name);
	char *s;
	int rc;

	buf[0] = '\0';
	if (!c)
		return 0;
	rc = s3_xml_text(c, S3_XML_MAX, &s);
	if (rc)
		return rc;
	snprintf(buf, size, "%s", s);
	free(s);
	return 0;
}

/* The text of child @name of @parent, malloc'd; NULL (and 0) when absent. */
static int s3_xml_child_str(const xmlNode *parent, const char *name, size_t max, char **out)
{
	const xmlNode *c = s3_xml_child(parent, name);

	*out = NULL;
	return c ? s3_xml_text(c, max, out) : 0;
}

/* An unsigned decimal, all digits, no sign or spaces. */
static int s3_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EPROTO;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -EPROTO;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int s3_xml_fill_error(const xmlNode *root, struct s3_xml_error *err)
{
	char size[32];
	int rc;

	memset(err, 0, sizeof(*err));
	rc = s3_xml_child_buf(root, "Code", err->code, sizeof(err->code));
	if (!rc)
		rc = s3_xml_child_buf(root, "Message", err->message, sizeof(err->message));
	if (!rc)
		rc = s3_xml_child_buf(root, "RequestId", err->request_id, sizeof(err->request_id));
	if (!rc)
		rc = s3_xml_child_buf(root, "ActualObjectSize", size, sizeof(size));
	if (rc)
		return rc;
	if (size[0] && !s3_parse_u64(size, &err->actual_size))
		err->have_size = true;
	/* An Error without a Code is not an answer we can act on. */
	return err->code[0] ? 0 : -EPROTO;
}

int s3_xml_parse_error(const char *body, size_t len, struct s3_xml_error *err)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	bool is_error;
	int rc;

	memset(err, 0, sizeof(*err));
	rc = s3_xml_open(body, len, NULL, &doc, &root, &is_error);
	if (rc)
		return rc;
	rc = s3_xml_fill_error(root, err);
	xmlFreeDoc(doc);
	return rc;
}

/* ---------------------------------------------------------------- values */

int s3_etag_copy(char etag[80], const char *in, size_t n)
{
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	if (n >= 80)
		return -EPROTO;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f || in[i] == '"')
			return -EPROTO;
	memcpy(etag, in, n);
	etag[n] = '\0';
	return 0;
}

int s3_url_decode(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%') {
			unsigned int v;
			char hex[3] = { 0 };

			if (!r[1] || !r[2] || !strchr("0123456789abcdefABCDEF", r[1]) ||
			    !strchr("0123456789abcdefABCDEF", r[2]))
				return -EPROTO;
			hex[0] = r[1];
			hex[1] = r[2];
			v = (unsigned int)strtoul(hex, NULL, 16);
			if (!v)
				return -EPROTO;
			*w++ = (char)v;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return 0;
}

/* @n decimal digits at @s. */
static bool s3_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int s3_time_make(int y, int mo, int d, int h, int mi, int sec, int64_t frac_ns,
			int64_t offset_s, int64_t *ns)
{
	struct tm tm = { 0 };
	time_t t;

	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ns = ((int64_t)t - offset_s) * 1000000000 + frac_ns;
	return 0;
}

int s3_time_iso8601(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh, om;
	int64_t frac = 0, scale = 100000000, off = 0;
	const char *p;

	if (!s || strlen(s) < 20 || !s3_digits(s, 4, &y) || s[4] != '-' ||
	    !s3_digits(s + 5, 2, &mo) || s[7] != '-' || !s3_digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !s3_digits(s + 11, 2, &h) || s[13] != ':' ||
	    !s3_digits(s + 14, 2, &mi) || s[16] != ':' || !s3_digits(s + 17, 2, &sec))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale; /* digits past ns are dropped */
			scale /= 10;
		}
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && s3_digits(p + 1, 2, &oh) &&
		   p[3] == ':' && s3_digits(p + 4, 2, &om) && oh < 24 && om < 60) {
		off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	} else {
		return -EINVAL;
	}
	return s3_time_make(y, mo, d, h, mi, sec, frac, off, ns);
}

int s3_time_http(const char *s, int64_t *ns)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, h, mi, sec, mo;
	const char *m;

	/* "Wed, 12 Oct 2009 17:50:00 GMT": fixed width, 29 bytes. */
	if (!s || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || !s3_digits(s + 5, 2, &d) ||
	    s[7] != ' ' || s[11] != ' ' || !s3_digits(s + 12, 4, &y) || s[16] != ' ' ||
	    !s3_digits(s + 17, 2, &h) || s[19] != ':' || !s3_digits(s + 20, 2, &mi) ||
	    s[22] != ':' || !s3_digits(s + 23, 2, &sec) || strcmp(s + 25, " GMT") != 0)
		return -EINVAL;
	m = NULL;
	for (int i = 0; i < 12; i++)
		if (!strncmp(s + 8, months + 3 * i, 3))
			m = months + 3 * i;
	if (!m)
		return -EINVAL;
	mo = (int)((m - months) / 3) + 1;
	return s3_time_make(y, mo, d, h, mi, sec, 0, 0, ns);
}

/* ---------------------------------------------------------------- ListObjectsV2 */

void s3_list_page_release(struct s3_list_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i].key);
	free(p->items);
	free(p->next_token);
	memset(p, 0, sizeof(*p));
}

/* A page's boolean: "true"/"false" (absent: false). */
static int s3_xml_child_bool(const xmlNode *parent, const char *name, bool *out)
{
	char buf[8];
	int rc = s3_xml_child_buf(parent, name, buf, sizeof(buf));

	if (rc)
		return rc;
	if (!buf[0] || !strcmp(buf, "false"))
		*out = false;
	else if (!strcmp(buf, "true"))
		*out = true;
	else
		return -EPROTO;
	return 0;
}

/* Append a slot to @items (n, cap) and return it zeroed. */
static void *s3_grow(void **items, size_t *n, size_t *cap, size_t size)
{
	char *p;

	if (*n == S3_XML_ITEMS_MAX)
		return NULL;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;

		p = realloc(*items, c * size);
		if (!p)
			return NULL;
		*items = p;
		*cap = c;
	}
	p = (char *)*items + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

/* A key from a listing: present, non-empty, decoded when @url. */
static int s3_xml_key(const xmlNode *parent, const char *name, bool url, char **out)
{
	int rc = s3_xml_child_str(parent, name, S3_XML_KEY_MAX * 3, out);

	if (rc)
		return rc;
	if (!*out || !**out)
		return -EPROTO;
	if (url)
		rc = s3_url_decode(*out);
	if (!rc && strlen(*out) > S3_XML_KEY_MAX)
		rc = -EPROTO;
	return rc;
}

static int s3_list_contents(const xmlNode *n, bool url, struct s3_list_item *it)
{
	char buf[96];
	int rc;

	rc = s3_xml_key(n, "Key", url, &it->key);
	if (rc)
		return rc;
	rc = s3_xml_child_buf(n, "Size", buf, sizeof(buf));
	if (!rc)
		rc = s3_parse_u64(buf, &it->obj.size);
	if (!rc)
		rc = s3_xml_child_buf(n, "LastModified", buf, sizeof(buf));
	if (!rc && s3_time_iso8601(buf, &it->obj.mtime_ns))
		rc = -EPROTO;
	if (!rc)
		rc = s3_xml_child_buf(n, "ETag", buf, sizeof(buf));
	if (!rc)
		rc = s3_etag_copy(it->obj.etag, buf, strlen(buf));
	return rc;
}

/*
 * The common head of a listing page: the document opened with root element @root_name (an
 * <Error> document gives its code in @err and S3_XML_DOC_ERROR), then EncodingType (url:
 * keys come URL-encoded) and IsTruncated. On success the caller owns *doc.
 */
static int s3_xml_page_open(const char *body, size_t len, const char *root_name, xmlDocPtr *doc,
			    xmlNodePtr *root, struct s3_xml_error *err, bool *url, bool *truncated)
{
	char enc[16];
	bool is_error;
	int rc;

	rc = s3_xml_open(body, len, root_name, doc, root, &is_error);
	if (rc)
		return rc;
	if (is_error) {
		rc = s3_xml_fill_error(*root, err);
		rc = rc ? rc : S3_XML_DOC_ERROR;
		goto fail;
	}
	rc = s3_xml_child_buf(*root, "EncodingType", enc, sizeof(enc));
	if (rc)
		goto fail;
	*url = !strcmp(enc, "url");
	rc = s3_xml_child_bool(*root, "IsTruncated", truncated);
	if (rc)
		goto fail;
	return 0;
fail:
	xmlFreeDoc(*doc);
	*doc = NULL;
	return rc;
}

int s3_xml_parse_list(const char *body, size_t len, struct s3_list_page *out,
		      struct s3_xml_error *err)
{
	size_t cap = 0;
	xmlDocPtr doc;
	xmlNodePtr root;
	bool url;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s3_xml_page_open(body, len, "ListBucketResult", &doc, &root, err, &url,
			      &out->truncated);
	if (rc)
		return rc;
	rc = s3_xml_child_str(root, "NextContinuationToken", S3_XML_KEY_MAX, &out->next_token);
	if (rc)
		goto out;
	if (out->truncated && (!out->next_token || !out->next_token[0])) {
		rc = -EPROTO; /* truncated with nowhere to continue: would loop forever */
		goto out;
	}
	for (const xmlNode *n = root->children; n; n = n->next) {
		struct s3_list_item *it;

		if (!s3_xml_is(n, "Contents") && !s3_xml_is(n, "CommonPrefixes"))
			continue;
		it = s3_grow((void **)&out->items, &out->n, &cap, sizeof(*it));
		if (!it) {
			rc = out->n == S3_XML_ITEMS_MAX ? -EPROTO : -ENOMEM;
			goto out;
		}
		if (s3_xml_is(n, "Contents")) {
			rc = s3_list_contents(n, url, it);
		} else {
			it->is_prefix = true;
			rc = s3_xml_key(n, "Prefix", url, &it->key);
		}
		if (rc)
			goto out;
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

/* ---------------------------------------------------------------- ListMultipartUploads */

void s3_upload_page_release(struct s3_upload_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].key);
		free(p->items[i].upload_id);
	}
	free(p->items);
	free(p->next_key_marker);
	free(p->next_upload_id_marker);
	memset(p, 0, sizeof(*p));
}

static int s3_upload_entry(const xmlNode *n, bool url, struct s3_upload_item *it)
{
	char buf[64];
	int rc;

	rc = s3_xml_key(n, "Key", url, &it->key);
	if (!rc)
		rc = s3_xml_key(n, "UploadId", false, &it->upload_id);
	if (!rc)
		rc = s3_xml_child_buf(n, "Initiated", buf, sizeof(buf));
	if (!rc && s3_time_iso8601(buf, &it->initiated_ns))
		rc = -EPROTO;
	return rc;
}

int s3_xml_parse_uploads(const char *body, size_t len, struct s3_upload_page *out,
			 struct s3_xml_error *err)
{
	size_t cap = 0;
	xmlDocPtr doc;
	xmlNodePtr root;
	bool url;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s3_xml_page_open(body, len, "ListMultipartUploadsResult", &doc, &root, err, &url,
			      &out->truncated);
	if (rc)
		return rc;
	rc = s3_xml_child_str(root, "NextKeyMarker", S3_XML_KEY_MAX * 3, &out->next_key_marker);
	if (!rc)
		rc = s3_xml_child_str(root, "NextUploadIdMarker", S3_XML_KEY_MAX,
				      &out->next_upload_id_marker);
	if (!rc && url && out->next_key_marker)
		rc = s3_url_decode(out->next_key_marker);
	if (rc)
		goto out;
	if (out->truncated && (!out->next_key_marker || !out->next_key_marker[0])) {
		rc = -EPROTO;
		goto out;
	}
	for (const xmlNode *n = root->children; n; n = n->next) {
		struct s3_upload_item *it;

		if (!s3_xml_is(n, "Upload"))
			continue;
		it = s3_grow((void **)&out->items, &out->n, &cap, sizeof(*it));
		if (!it) {
			rc = out->n == S3_XML_ITEMS_MAX ? -EPROTO : -ENOMEM;
			goto out;
		}
		rc = s3_upload_entry(n, url, it);
		if (rc)
			goto out;
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

/* ---------------------------------------------------------------- multipart, copy */

int s3_xml_parse_initiate(const char *body, size_t len, char **upload_id, struct s3_xml_error *err)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	bool is_error;
	char *id = NULL;
	int rc;

	*upload_id = NULL;
	rc = s3_xml_open(body, len, "InitiateMultipartUploadResult", &doc, &root, &is_error);
	if (rc)
		return rc;
	if (is_error) {
		rc = s3_xml_fill_error(root, err);
		rc = rc ? rc : S3_XML_DOC_ERROR;
		goto out;
	}
	rc = s3_xml_child_str(root, "UploadId", S3_XML_KEY_MAX, &id);
	if (rc)
		goto out;
	if (!id || !id[0]) {
		rc = -EPROTO;
		goto out;
	}
	*upload_id = id;
	id = NULL;
out:
	free(id);
	xmlFreeDoc(doc);
	return rc;
}

int s3_xml_parse_complete(const char *body, size_t len, char etag[80], struct s3_xml_error *err)
{
	char buf[96];
	xmlDocPtr doc;
	xmlNodePtr root;
	bool is_error;
	int rc;

	etag[0] = '\0';
	rc = s3_xml_open(body, len, "CompleteMultipartUploadResult", &doc, &root, &is_error);
	if (rc)
		return rc;
	if (is_error) {
		rc = s3_xml_fill_error(root, err);
		rc = rc ? rc : S3_XML_DOC_ERROR;
		goto out;
	}
	rc = s3_xml_child_buf(root, "ETag", buf, sizeof(buf));
	if (!rc)
		rc = buf[0] ? s3_etag_copy(etag, buf, strlen(buf)) : -EPROTO;
out:
	xmlFreeDoc(doc);
	return rc;
}

int s3_xml_parse_copy(const char *body, size_t len, char etag[80], int64_t *mtime_ns,
		      struct s3_xml_error *err)
{
	char buf[96];
	xmlDocPtr doc;
	xmlNodePtr root;
	bool is_error;
	int rc;

	etag[0] = '\0';
	*mtime_ns = 0;
	rc = s3_xml_open(body, len, "CopyObjectResult", &doc, &root, &is_error);
	if (rc)
		return rc;
	if (is_error) {
		rc = s3_xml_fill_error(root, err);
		rc = rc ? rc : S3_XML_DOC_ERROR;
		goto out;
	}
	rc = s3_xml_child_buf(root, "ETag", buf, sizeof(buf));
	if (!rc)
		rc = s3_etag_copy(etag, buf, strlen(buf));
	if (!rc)
		rc = s3_xml_child_buf(root, "LastModified", buf, sizeof(buf));
	if (!rc && buf[0] && s3_time_iso8601(buf, mtime_ns))
		rc = -EPROTO;
out:
	xmlFreeDoc(doc);
	return rc;
}

static bool s3_etag_sendable(const char *e)
{
	if (!*e)
		return false;
	for (; *e; e++)
		if ((unsigned char)*e < 0x20 || (unsigned char)*e > 0x7e || strchr("\"<>&", *e))
			return false;
	return true;
}

int s3_xml_complete_body(const struct hubfs_s3_part *parts, size_t n, char **out, size_t *len)
{
	static const char head[] =
		"<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
	static const char tail[] = "</CompleteMultipartUpload>";
	/* <Part><PartNumber>10000</PartNumber><ETag>"79 bytes"</ETag></Part> */
	const size_t per = 160;
	size_t cap, k;
	char *s;

	*out = NULL;
	*len = 0;
	if (!parts || !n || n > 10000)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].partno < 1 || parts[i].partno > 10000 ||
		    (i && parts[i].partno <= parts[i - 1].partno) ||
		    !memchr(parts[i].etag, '\0', sizeof(parts[i].etag)) ||
		    !s3_etag_sendable(parts[i].etag))
			return -EINVAL;
	}
	cap = sizeof(head) + sizeof(tail) + n * per;
	s = malloc(cap);
	if (!s)
		return -ENOMEM;
	k = (size_t)snprintf(s, cap, "%s", head);
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(s + k, cap - k,
				      "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>",
				      parts[i].partno, parts[i].etag);
	k += (size_t)snprintf(s + k, cap - k, "%s", tail);
	*out = s;
	*len = k;
	return 0;
}
