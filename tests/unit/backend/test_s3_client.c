/*
 * test_s3_client.c — the S3 client without a real S3: its XML parsers on canned bodies
 * (every result type, an <Error> inside a 200, malformed and oversized input, entities
 * never expanded), the one error map and the retry rules, the backoff, the time and ETag
 * formats, the credentials loader on temp files, and the request path (signing, retries,
 * 200-with-Error, range checks, listings, uploads) against a canned-answer HTTP server on
 * loopback run by a thread of this test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/s3_client_int.h"
#include "hubfs/config.h"

#define NS 1000000000LL

static int parse_list(const char *xml, struct s3_list_page *p, struct s3_xml_error *e)
{
	return s3_xml_parse_list(xml, strlen(xml), p, e);
}

/* ---------------------------------------------------------------- XML */

static void test_xml_error(void **state)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Error><Code>InvalidRange</Code><Message>The requested range "
		"&amp; more</Message><RangeRequested>bytes=9-</RangeRequested>"
		"<ActualObjectSize>9</ActualObjectSize><RequestId>4442587FB7D0A2F9"
		"</RequestId></Error>";
	struct s3_xml_error e;

	(void)state;
	assert_int_equal(s3_xml_parse_error(xml, strlen(xml), &e), 0);
	assert_string_equal(e.code, "InvalidRange");
	assert_string_equal(e.message, "The requested range & more");
	assert_string_equal(e.request_id, "4442587FB7D0A2F9");
	assert_true(e.have_size);
	assert_int_equal(e.actual_size, 9);
	/* Not an Error document, or an Error without a Code. */
	assert_int_equal(s3_xml_parse_error("<Foo/>", 6, &e), -EPROTO);
	assert_int_equal(s3_xml_parse_error("<Error><Message>x</Message></Error>", 35, &e),
			 -EPROTO);
	assert_int_equal(s3_xml_parse_error("", 0, &e), -EPROTO);
	assert_int_equal(s3_xml_parse_error(NULL, 0, &e), -EPROTO);
}

static void test_xml_list(void **state)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>v/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>"
		"<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
		"</NextContinuationToken>"
		"<Contents><Key>v/a b.mp4</Key><LastModified>2009-10-12T17:50:30.123Z"
		"</LastModified><ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>"
		"<Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>"
		"<Contents><Key>v/&lt;x&gt; &amp; &#x41;</Key><LastModified>2023-01-02T03:04:05Z"
		"</LastModified><ETag>\"d41d8cd98f00b204e9800998ecf8427e-2\"</ETag><Size>0</Size>"
		"</Contents>"
		"<CommonPrefixes><Prefix>v/sub/</Prefix></CommonPrefixes></ListBucketResult>";
	struct s3_list_page p;
	struct s3_xml_error e;

	(void)state;
	assert_int_equal(parse_list(xml, &p, &e), 0);
	assert_true(p.truncated);
	assert_string_equal(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	assert_int_equal(p.n, 3);
	assert_string_equal(p.items[0].key, "v/a b.mp4");
	assert_false(p.items[0].is_prefix);
	assert_int_equal(p.items[0].obj.size, 434234);
	assert_int_equal(p.items[0].obj.mtime_ns, 1255369830LL * NS + 123000000);
	assert_string_equal(p.items[0].obj.etag, "fba9dede5f27731c9771645a39863328");
	assert_string_equal(p.items[1].key, "v/<x> & A");
	assert_int_equal(p.items[1].obj.size, 0);
	assert_string_equal(p.items[1].obj.etag, "d41d8cd98f00b204e9800998ecf8427e-2");
	assert_true(p.items[2].is_prefix);
	assert_string_equal(p.items[2].key, "v/sub/");
	s3_list_page_release(&p);
	s3_list_page_release(&p); /* released twice: still fine */
	s3_list_page_release(NULL);
}

static void test_xml_list_url_encoded(void **state)
{
	static const char xml[] =
		"<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false"
		"</IsTruncated><Contents><Key>a%20b+c%2B%C3%BC%25</Key><LastModified>"
		"2023-01-02T03:04:05.000Z</LastModified><ETag>\"e\"</ETag><Size>1</Size>"
		"</Contents><CommonPrefixes><Prefix>d%2Fe/</Prefix></CommonPrefixes>"
		"</ListBucketResult>";
	/* Without EncodingType the same text is the key itself: s3rver does not encode. */
	static const char raw[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>100%.bin+x"
		"</Key><LastModified>2023-01-02T03:04:05.000Z</LastModified><ETag>e</ETag>"
		"<Size>1</Size></Contents></ListBucketResult>";
	struct s3_list_page p;
	struct s3_xml_error e;

	(void)state;
	assert_int_equal(parse_list(xml, &p, &e), 0);
	assert_false(p.truncated);
	assert_null(p.next_token);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.items[0].key, "a b c+\xc3\xbc%");
	assert_string_equal(p.items[1].key, "d/e/");
	s3_list_page_release(&p);
	assert_int_equal(parse_list(raw, &p, &e), 0);
	assert_string_equal(p.items[0].key, "100%.bin+x");
	s3_list_page_release(&p);
}

static void test_xml_list_bad(void **state)
{
	static const char *const bad[] = {
		/* truncated with no token: a listing that would never end */
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>12a</Size><LastModified>"
		"2023-01-02T03:04:05Z</LastModified></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size><LastModified>"
		"2023-01-02T03:04:05Z</LastModified></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999999</Size>"
		"<LastModified>2023-01-02T03:04:05Z</LastModified></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>yesterday"
		"</LastModified></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>"
		"2023-01-02T03:04:05Z</LastModified><ETag>"
		"0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
		"</ETag></Contents></ListBucketResult>",
		"<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%00b</Key>"
		"<Size>1</Size><LastModified>2023-01-02T03:04:05Z</LastModified></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%zz</Key>"
		"<Size>1</Size><LastModified>2023-01-02T03:04:05Z</LastModified></Contents>"
		"</ListBucketResult>",
		/* malformed XML */
		"<ListBucketResult><Contents>",
		"<ListBucketResult></ListBucketresult>",
		"<ListBucketResult>&undeclared;</ListBucketResult>",
		"not xml at all",
		"<ListAllMyBucketsResult/>",
		"<?xml version=\"1.0\"?>",
	};
	struct s3_list_page p;
	struct s3_xml_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_list(bad[i], &p, &e);

		if (rc != -EPROTO)
			fail_msg("case %zu: got %d, want -EPROTO", i, rc);
		s3_list_page_release(&p);
	}
	/* Binary garbage with NULs. */
	assert_int_equal(s3_xml_parse_list("\0\1\2<a>", 6, &p, &e), -EPROTO);
	s3_list_page_release(&p);
}

static void test_xml_error_in_200(void **state)
{
	static const char err[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n\n"
		"<Error><Code>InternalError</Code><Message>We encountered an "
		"internal error. Please try again.</Message><RequestId>656c76696e"
		"6727732072657175657374</RequestId></Error>";
	static const char ok[] =
		"<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com"
		"/doc/2006-03-01/\"><Location>http://b/k</Location><Bucket>b"
		"</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9"
		"\"</ETag></CompleteMultipartUploadResult>";
	static const char copy[] =
		"<CopyObjectResult><LastModified>2009-10-28T22:32:00.000Z"
		"</LastModified><ETag>\"9b2cf535f27731c974343645a3985328\""
		"</ETag></CopyObjectResult>";
	struct s3_xml_error e;
	char etag[80];
	int64_t mtime;

	(void)state;
	assert_int_equal(s3_xml_parse_complete(ok, strlen(ok), etag, &e), 0);
	assert_string_equal(etag, "3858f62230ac3c915f300c664312c11f-9");
	assert_int_equal(s3_xml_parse_complete(err, strlen(err), etag, &e), S3_XML_DOC_ERROR);
	assert_string_equal(e.code, "InternalError");
	assert_int_equal(s3_xml_parse_copy(copy, strlen(copy), etag, &mtime, &e), 0);
	assert_string_equal(etag, "9b2cf535f27731c974343645a3985328");
	assert_int_equal(mtime, 1256769120LL * NS);
	assert_int_equal(s3_xml_parse_copy(err, strlen(err), etag, &mtime, &e), S3_XML_DOC_ERROR);
	assert_string_equal(e.code, "InternalError");
	/* A complete answer without an ETag, and a copy answer of the wrong type. */
	assert_int_equal(s3_xml_parse_complete("<CompleteMultipartUploadResult/>", 32, etag, &e),
			 -EPROTO);
	assert_int_equal(s3_xml_parse_copy(ok, strlen(ok), etag, &mtime, &e), -EPROTO);
}

static void test_xml_initiate(void **state)
{
	static const char xml[] =
		"<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com"
		"/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>"
		"VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
		"</UploadId></InitiateMultipartUploadResult>";
	struct s3_xml_error e;
	char *id = NULL;

	(void)state;
	assert_int_equal(s3_xml_parse_initiate(xml, strlen(xml), &id, &e), 0);
	assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	free(id);
	assert_int_equal(s3_xml_parse_initiate("<InitiateMultipartUploadResult><UploadId/>"
					       "</InitiateMultipartUploadResult>",
					       75, &id, &e),
			 -EPROTO);
	assert_null(id);
}

static void test_xml_uploads(void **state)
{
	static const char xml[] =
		"<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
		"<NextKeyMarker>my-movie.m2ts</NextKeyMarker><NextUploadIdMarker>YW55IGlkZWEg"
		"</NextUploadIdMarker><MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated>"
		"<Upload><Key>my-divisor</Key><UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5n"
		"</UploadId><Initiator><ID>arn</ID></Initiator><StorageClass>STANDARD"
		"</StorageClass><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
		"<Upload><Key>my-movie.m2ts</Key><UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3Zp"
		"</UploadId><Initiated>2010-11-10T20:48:33.5Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";
	static const char empty[] =
		"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
		"</ListMultipartUploadsResult>";
	struct s3_upload_page p;
	struct s3_xml_error e;

	(void)state;
	assert_int_equal(s3_xml_parse_uploads(xml, strlen(xml), &p, &e), 0);
	assert_true(p.truncated);
	assert_string_equal(p.next_key_marker, "my-movie.m2ts");
	assert_string_equal(p.next_upload_id_marker, "YW55IGlkZWEg");
	assert_int_equal(p.n, 2);
	assert_string_equal(p.items[0].key, "my-divisor");
	assert_string_equal(p.items[0].upload_id, "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5n");
	assert_int_equal(p.items[0].initiated_ns, 1289422113LL * NS);
	assert_int_equal(p.items[1].initiated_ns, 1289422113LL * NS + 500000000);
	s3_upload_page_release(&p);
	assert_int_equal(s3_xml_parse_uploads(empty, strlen(empty), &p, &e), 0);
	assert_int_equal(p.n, 0);
	assert_false(p.truncated);
	s3_upload_page_release(&p);
	/* truncated, nowhere to go on */
	assert_int_equal(s3_xml_parse_uploads("<ListMultipartUploadsResult><IsTruncated>true"
					      "</IsTruncated></ListMultipartUploadsResult>",
					      87, &p, &e),
			 -EPROTO);
	s3_upload_page_release(&p);
}

static void test_xml_entities(void **state)
{
	/* Internal entity, billion laughs, external entity: none is ever expanded. */
	static const char *const evil[] = {
		"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY e \"EXPANDED\">]>"
		"<ListBucketResult><Contents><Key>&e;</Key><Size>1</Size><LastModified>"
		"2023-01-02T03:04:05Z</LastModified></Contents></ListBucketResult>",
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
		"<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
		"<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
		"<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
		"<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
		"<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
		"<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">"
		"]><Error><Code>&lol9;</Code></Error>",
		"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<Error><Code>&x;</Code></Error>",
		"<?xml version=\"1.0\"?><!DOCTYPE r SYSTEM \"http://127.0.0.1:1/evil.dtd\">"
		"<Error><Code>x</Code></Error>",
		"<Error><Code>&x;</Code></Error>",
	};
	struct s3_list_page p;
	struct s3_xml_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		int rc = parse_list(evil[i], &p, &e);

		s3_list_page_release(&p);
		if (rc != -EPROTO)
			fail_msg("list case %zu: got %d, want -EPROTO", i, rc);
		rc = s3_xml_parse_error(evil[i], strlen(evil[i]), &e);
		if (rc != -EPROTO)
			fail_msg("error case %zu: got %d (code '%s'), want -EPROTO", i, rc, e.code);
	}
}

static void test_xml_oversized(void **state)
{
	static const char item[] =
		"<Contents><Key>k%06zu</Key><Size>1</Size><LastModified>"
		"2023-01-02T03:04:05Z</LastModified><ETag>e</ETag></Contents>";
	struct s3_list_page p;
	struct s3_xml_error e;
	size_t cap = S3_XML_MAX + 64, len = 0;
	char *big = malloc(cap);

	(void)state;
	assert_non_null(big);
	/* Over S3_XML_MAX: refused before parsing. */
	memset(big, ' ', cap);
	memcpy(big, "<ListBucketResult>", 18);
	memcpy(big + S3_XML_MAX - 18, "</ListBucketResult>", 19);
	assert_int_equal(s3_xml_parse_list(big, S3_XML_MAX + 1, &p, &e), -EPROTO);
	s3_list_page_release(&p);
	/* Within the size, but more entries than any S3 page holds. */
	len = (size_t)sprintf(big, "<ListBucketResult><IsTruncated>false</IsTruncated>");
	for (size_t i = 0; i <= S3_XML_ITEMS_MAX; i++)
		len += (size_t)sprintf(big + len, item, i);
	len += (size_t)sprintf(big + len, "</ListBucketResult>");
	assert_true(len < S3_XML_MAX);
	assert_int_equal(s3_xml_parse_list(big, len, &p, &e), -EPROTO);
	s3_list_page_release(&p);
	/* A key longer than S3 allows. */
	len = (size_t)sprintf(big, "<ListBucketResult><Contents><Key>");
	memset(big + len, 'k', 3 * S3_XML_KEY_MAX + 1);
	len += 3 * S3_XML_KEY_MAX + 1;
	len += (size_t)sprintf(big + len,
			       "</Key><Size>1</Size><LastModified>2023-01-02T03:04:05Z"
			       "</LastModified><ETag>e</ETag></Contents>"
			       "</ListBucketResult>");
	assert_int_equal(s3_xml_parse_list(big, len, &p, &e), -EPROTO);
	s3_list_page_release(&p);
	free(big);
}

static void test_xml_complete_body(void **state)
{
	struct hubfs_s3_part parts[3] = { { 1, "a54357aff0632cce46d942af68356b38" },
					  { 2, "0c78aef83f66abc1fa1e8477f296d394" },
					  { 5, "acbd18db4cc2f85cedef654fccc4a4d8-1" } };
	struct hubfs_s3_part bad[2] = { { 2, "x" }, { 1, "y" } };
	char *body = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(s3_xml_complete_body(parts, 3, &body, &len), 0);
	assert_int_equal(len, strlen(body));
	assert_string_equal(body,
			    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
			    "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>"
			    "\"a54357aff0632cce46d942af68356b38\"</ETag></Part><Part><PartNumber>2"
			    "</PartNumber><ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag></Part>"
			    "<Part><PartNumber>5</PartNumber><ETag>"
			    "\"acbd18db4cc2f85cedef654fccc4a4d8-1\"</ETag></Part>"
			    "</CompleteMultipartUpload>");
	free(body);
	assert_int_equal(s3_xml_complete_body(bad, 2, &body, &len), -EINVAL);
	assert_int_equal(s3_xml_complete_body(parts, 0, &body, &len), -EINVAL);
	strcpy(bad[0].etag, "a<b");
	bad[1].partno = 3;
	assert_int_equal(s3_xml_complete_body(bad, 2, &body, &len), -EINVAL);
	strcpy(bad[0].etag, "");
	assert_int_equal(s3_xml_complete_body(bad, 1, &body, &len), -EINVAL);
	parts[0].partno = 0;
	assert_int_equal(s3_xml_complete_body(parts, 3, &body, &len), -EINVAL);
	assert_null(body);
}

/* ---------------------------------------------------------------- values */

static void test_times(void **state)
{
	int64_t ns;

	(void)state;
	assert_int_equal(s3_time_iso8601("1970-01-01T00:00:00Z", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(s3_time_iso8601("2009-10-12T17:50:30.000Z", &ns), 0);
	assert_int_equal(ns, 1255369830LL * NS);
	assert_int_equal(s3_time_iso8601("2009-10-12T17:50:30.123456789Z", &ns), 0);
	assert_int_equal(ns, 1255369830LL * NS + 123456789);
	assert_int_equal(s3_time_iso8601("2009-10-12T17:50:30.1234567891Z", &ns), 0);
	assert_int_equal(ns, 1255369830LL * NS + 123456789);
	assert_int_equal(s3_time_iso8601("2009-10-12T19:50:30+02:00", &ns), 0);
	assert_int_equal(ns, 1255369830LL * NS);
	assert_int_equal(s3_time_iso8601("2009-10-12T16:50:30.5-01:00", &ns), 0);
	assert_int_equal(ns, 1255369830LL * NS + 500000000);
	assert_int_equal(s3_time_iso8601("2009-10-12 17:50:30Z", &ns), -EINVAL);
	assert_int_equal(s3_time_iso8601("2009-10-12T17:50:30", &ns), -EINVAL);
	assert_int_equal(s3_time_iso8601("2009-13-12T17:50:30Z", &ns), -EINVAL);
	assert_int_equal(s3_time_iso8601("2009-10-12T17:50:30.Z", &ns), -EINVAL);
	assert_int_equal(s3_time_iso8601("2009-10-12T17:50:30ZZ", &ns), -EINVAL);
	assert_int_equal(s3_time_iso8601("", &ns), -EINVAL);
	assert_int_equal(s3_time_http("Mon, 12 Oct 2009 17:50:30 GMT", &ns), 0);
	assert_int_equal(ns, 1255369830LL * NS);
	assert_int_equal(s3_time_http("Mon, 12 Oct 2009 17:50:30 UTC", &ns), -EINVAL);
	assert_int_equal(s3_time_http("Mon, 12 Foo 2009 17:50:30 GMT", &ns), -EINVAL);
	assert_int_equal(s3_time_http("Monday, 12-Oct-09 17:50:30 GMT", &ns), -EINVAL);
}

static void test_etag_and_decode(void **state)
{
	char etag[80], s[64];

	(void)state;
	assert_int_equal(s3_etag_copy(etag, "\"abc\"", 5), 0);
	assert_string_equal(etag, "abc");
	assert_int_equal(s3_etag_copy(etag, "abc-3", 5), 0);
	assert_string_equal(etag, "abc-3");
	assert_int_equal(s3_etag_copy(etag, "\"", 1), -EPROTO);
	assert_int_equal(s3_etag_copy(etag, "a\nb", 3), -EPROTO);
	memset(s, 'x', 60);
	assert_int_equal(s3_etag_copy(etag, s, 60), 0);
	assert_int_equal(s3_etag_copy(etag,
				      "0123456789012345678901234567890123456789"
				      "0123456789012345678901234567890123456789",
				      80),
			 -EPROTO);
	strcpy(s, "a%2Fb+c%7e");
	assert_int_equal(s3_url_decode(s), 0);
	assert_string_equal(s, "a/b c~");
	strcpy(s, "bad%2");
	assert_int_equal(s3_url_decode(s), -EPROTO);
	strcpy(s, "nul%00");
	assert_int_equal(s3_url_decode(s), -EPROTO);
}

/* ---------------------------------------------------------------- errors, retries */

static void test_error_map(void **state)
{
	static const struct {
		CURLcode cc;
		long status;
		const char *code;
		int want;
		bool retry;
	} t[] = {
		{ CURLE_OK, 200, NULL, 0, false },
		{ CURLE_OK, 204, "", 0, false },
		{ CURLE_OK, 206, NULL, 0, false },
		{ CURLE_OK, 404, "NoSuchKey", -ENOENT, false },
		{ CURLE_OK, 404, "NoSuchUpload", -ENOENT, false },
		{ CURLE_OK, 404, "NoSuchBucket", -ENOENT, false },
		{ CURLE_OK, 404, NULL, -ENOENT, false }, /* HEAD: no body */
		{ CURLE_OK, 403, "AccessDenied", -EACCES, false },
		{ CURLE_OK, 403, "SignatureDoesNotMatch", -EACCES, false },
		{ CURLE_OK, 403, "InvalidAccessKeyId", -EACCES, false },
		{ CURLE_OK, 400, "ExpiredToken", -EACCES, false },
		{ CURLE_OK, 403, NULL, -EACCES, false },
		{ CURLE_OK, 403, "RequestTimeTooSkewed", -EACCES, true },
		{ CURLE_OK, 400, "BadDigest", -EIO, false },
		{ CURLE_OK, 400, "InvalidDigest", -EIO, false },
		{ CURLE_OK, 400, "XAmzContentSHA256Mismatch", -EIO, false },
		{ CURLE_OK, 400, "EntityTooLarge", -EFBIG, false },
		{ CURLE_OK, 400, "EntityTooSmall", -EINVAL, false },
		{ CURLE_OK, 412, "PreconditionFailed", -EEXIST, false },
		{ CURLE_OK, 416, "InvalidRange", -EINVAL, false },
		{ CURLE_OK, 400, "InvalidPart", -EINVAL, false },
		{ CURLE_OK, 400, "MetadataTooLarge", -E2BIG, false },
		{ CURLE_OK, 400, "KeyTooLongError", -ENAMETOOLONG, false },
		{ CURLE_OK, 400, "RequestTimeout", -ETIMEDOUT, true },
		{ CURLE_OK, 400, NULL, -EINVAL, false },
		{ CURLE_OK, 405, "MethodNotAllowed", -EOPNOTSUPP, false },
		{ CURLE_OK, 501, "NotImplemented", -EOPNOTSUPP, false },
		{ CURLE_OK, 301, "PermanentRedirect", -EPROTO, false },
		{ CURLE_OK, 400, "AuthorizationHeaderMalformed", -EPROTO, false },
		{ CURLE_OK, 500, "InternalError", -EIO, true },
		{ CURLE_OK, 500, NULL, -EIO, true },
		{ CURLE_OK, 502, NULL, -EIO, true },
		{ CURLE_OK, 503, "SlowDown", -EIO, true },
		{ CURLE_OK, 503, "ServiceUnavailable", -EIO, true },
		{ CURLE_OK, 429, NULL, -EIO, true },
		{ CURLE_OK, 400, "Throttling", -EIO, true },
		{ CURLE_OK, 200, "InternalError", -EIO, true }, /* an Error inside a 200 */
		{ CURLE_OK, 200, "SomethingNew", -EIO, false },
		{ CURLE_OK, 409, NULL, -EBUSY, false },
		{ CURLE_OPERATION_TIMEDOUT, 0, NULL, -ETIMEDOUT, true },
		{ CURLE_COULDNT_CONNECT, 0, NULL, -ECONNREFUSED, true },
		{ CURLE_COULDNT_RESOLVE_HOST, 0, NULL, -EHOSTUNREACH, false },
		{ CURLE_PARTIAL_FILE, 200, NULL, -EIO, true },
		{ CURLE_RECV_ERROR, 0, NULL, -EIO, true },
		{ CURLE_SEND_ERROR, 0, NULL, -EIO, true },
		{ CURLE_GOT_NOTHING, 0, NULL, -EIO, true },
		{ CURLE_PEER_FAILED_VERIFICATION, 0, NULL, -EPROTO, false },
		{ CURLE_OUT_OF_MEMORY, 0, NULL, -ENOMEM, false },
		{ CURLE_ABORTED_BY_CALLBACK, 0, NULL, -EIO, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = s3_errno(t[i].cc, t[i].status, t[i].code);
		bool retry = s3_retryable(t[i].cc, t[i].status, t[i].code);

		if (got != t[i].want || retry != t[i].retry)
			fail_msg("case %zu (cc %d, HTTP %ld, %s): errno %d retry %d, want %d %d", i,
				 t[i].cc, t[i].status, t[i].code ? t[i].code : "-", got, retry,
				 t[i].want, t[i].retry);
	}
}

static void test_backoff(void **state)
{
	uint64_t x = 88172645463325252u;

	(void)state;
	for (unsigned int n = 1; n <= 12; n++) {
		unsigned int ceil = 100u << (n - 1), seen_max = 0, seen_min = ~0u;

		if (ceil > 20000)
			ceil = 20000;
		for (int i = 0; i < 2000; i++) {
			unsigned int d;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			d = s3_backoff_ms(n, 100, 20000, 0, x);
			assert_true(d <= ceil);
			seen_max = d > seen_max ? d : seen_max;
			seen_min = d < seen_min ? d : seen_min;
		}
		/* full jitter: the whole interval is used */
		assert_true(seen_min < ceil / 10 + 1);
		assert_true(seen_max > ceil - ceil / 10 - 1);
	}
	/* Retry-After is a floor, the cap a ceiling. */
	assert_int_equal(s3_backoff_ms(1, 100, 20000, 1000, 0), 1000);
	assert_true(s3_backoff_ms(1, 100, 20000, 1000, 12345) >= 1000);
	assert_int_equal(s3_backoff_ms(3, 100, 20000, 50000, 7), 20000);
	assert_true(s3_backoff_ms(40, 100, 20000, 0, UINT64_MAX) <= 20000);
	assert_int_equal(s3_backoff_ms(1, 0, 20000, 0, 12345), 0);
}

/* ---------------------------------------------------------------- credentials */

struct creds_env {
	char dir[64];
	char cred[128];
	char conf[128];
	struct hubfs_config cfg;
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int creds_setup(void **state)
{
	struct creds_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	strcpy(e->dir, "/tmp/hubfs-s3creds.XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->cred, sizeof(e->cred), "%s/credentials", e->dir);
	snprintf(e->conf, sizeof(e->conf), "%s/config", e->dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", e->cred, 1);
	setenv("AWS_CONFIG_FILE", e->conf, 1);
	if (hubfs_config_init(&e->cfg))
		return -1;
	*state = e;
	return 0;
}

static int creds_teardown(void **state)
{
	struct creds_env *e = *state;
	char cmd[128];

	hubfs_config_release(&e->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd))
		return -1;
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	free(e);
	return 0;
}

static int load(struct creds_env *e, struct hubfs_s3_creds *c, char *err)
{
	return hubfs_s3_creds_load(c, &e->cfg, err, 512);
}

static void test_creds_env_first(void **state)
{
	struct creds_env *e = *state;
	struct hubfs_s3_creds c;
	char err[512];

	write_text(e->cred,
		   "[default]\naws_access_key_id = FILEKEY\n"
		   "aws_secret_access_key = FILESECRET\n");
	e->cfg.aws_access_key_id = strdup("ENVKEY");
	e->cfg.aws_secret_access_key = strdup("ENVSECRET");
	e->cfg.aws_session_token = strdup("ENVTOKEN");
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "ENVKEY");
	assert_string_equal(c.secret_key, "ENVSECRET");
	assert_string_equal(c.session_token, "ENVTOKEN");
	hubfs_s3_creds_release(&c);
	assert_null(c.secret_key);
	hubfs_s3_creds_release(&c);
	hubfs_s3_creds_release(NULL);
	/* Half a pair in the environment: -EINVAL, and the sentence holds no secret. */
	free(e->cfg.aws_access_key_id);
	e->cfg.aws_access_key_id = NULL;
	assert_int_equal(load(e, &c, err), -EINVAL);
	assert_non_null(strstr(err, "AWS_SECRET_ACCESS_KEY is set"));
	assert_null(strstr(err, "ENVSECRET"));
	assert_null(c.access_key);
}

static void test_creds_files(void **state)
{
	struct creds_env *e = *state;
	struct hubfs_s3_creds c;
	char err[512];

	/* Comments, spaces, CRLF, a BOM, ':' as separator, a nested block, upper-case keys. */
	write_text(e->cred,
		   "\xef\xbb\xbf# a comment\r\n; another\r\n\r\n"
		   "[other]\r\naws_access_key_id=OTHERKEY\r\n"
		   "aws_secret_access_key=OTHERSECRET\r\n"
		   "  [ work ]  \r\n"
		   "\tAWS_ACCESS_KEY_ID   =   WORKKEY  \r\n"
		   "\taws_secret_access_key: WORK/SECRET+x=\r\n"
		   "\ts3 =\r\n\t    max_concurrent_requests = 20\r\n"
		   "\taws_session_token = WORKTOKEN\r\n"
		   "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\n");
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "DEFKEY");
	assert_string_equal(c.secret_key, "DEFSECRET");
	assert_null(c.session_token);
	hubfs_s3_creds_release(&c);
	e->cfg.aws_profile = strdup("work");
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "WORKKEY");
	assert_string_equal(c.secret_key, "WORK/SECRET+x=");
	assert_string_equal(c.session_token, "WORKTOKEN");
	hubfs_s3_creds_release(&c);

	/* A profile only in the config file, as "[profile NAME]"; "[NAME]" there is not it. */
	free(e->cfg.aws_profile);
	e->cfg.aws_profile = strdup("cfgonly");
	write_text(e->conf,
		   "[cfgonly]\naws_access_key_id = WRONG\naws_secret_access_key = W\n"
		   "[profile   cfgonly]\nregion = eu-west-1\n"
		   "aws_access_key_id = CFGKEY\naws_secret_access_key = CFGSECRET\n");
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "CFGKEY");
	assert_string_equal(c.secret_key, "CFGSECRET");
	hubfs_s3_creds_release(&c);

	/* The credentials file wins over the config file for the same profile. */
	free(e->cfg.aws_profile);
	e->cfg.aws_profile = NULL;
	write_text(e->conf, "[default]\naws_access_key_id = CONFDEF\naws_secret_access_key = X\n");
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "DEFKEY");
	hubfs_s3_creds_release(&c);
	/* ... and [default] in the config file serves when the credentials file is gone. */
	unlink(e->cred);
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "CONFDEF");
	hubfs_s3_creds_release(&c);
}

static void test_creds_missing_and_bad(void **state)
{
	struct creds_env *e = *state;
	struct hubfs_s3_creds c;
	char err[512];

	/* Nothing anywhere: -ENOENT naming where it looked. */
	assert_int_equal(load(e, &c, err), -ENOENT);
	assert_non_null(strstr(err, e->cred));
	assert_non_null(strstr(err, e->conf));
	assert_non_null(strstr(err, "'default'"));
	/* The profile asked for is not there. */
	write_text(e->cred, "[default]\naws_access_key_id = A\naws_secret_access_key = B\n");
	e->cfg.aws_profile = strdup("nope");
	assert_int_equal(load(e, &c, err), -ENOENT);
	assert_non_null(strstr(err, "'nope'"));
	free(e->cfg.aws_profile);
	e->cfg.aws_profile = NULL;
	/* Half a pair in a file: -EINVAL without the value. */
	write_text(e->cred, "[default]\naws_secret_access_key = TOPSECRET\n");
	assert_int_equal(load(e, &c, err), -EINVAL);
	assert_non_null(strstr(err, "no aws_access_key_id"));
	assert_null(strstr(err, "TOPSECRET"));
	assert_null(c.secret_key);
	write_text(e->cred, "[default]\naws_access_key_id = AK\naws_secret_access_key =\n");
	assert_int_equal(load(e, &c, err), -EINVAL);
	/* Malformed lines: file:line, never the line's content. */
	write_text(e->cred, "[default]\naws_access_key_id = AK\njunk TOPSECRET\n");
	assert_int_equal(load(e, &c, err), -EINVAL);
	assert_non_null(strstr(err, ":3:"));
	assert_null(strstr(err, "TOPSECRET"));
	write_text(e->cred, "[default\naws_access_key_id = AK\n");
	assert_int_equal(load(e, &c, err), -EINVAL);
	write_text(e->cred, "aws_access_key_id = AK\n[default]\n");
	assert_int_equal(load(e, &c, err), -EINVAL);
	/* Binary data, a directory. */
	write_text(e->cred, "[default]\n");
	{
		FILE *f = fopen(e->cred, "a");

		assert_non_null(f);
		fwrite("x\0y\n", 1, 4, f);
		fclose(f);
	}
	assert_int_equal(load(e, &c, err), -EINVAL);
	unlink(e->cred);
	assert_int_equal(mkdir(e->cred, 0700), 0);
	assert_int_equal(load(e, &c, err), -EISDIR);
	rmdir(e->cred);
	/* An empty file holds nothing. */
	write_text(e->cred, "");
	assert_int_equal(load(e, &c, err), -ENOENT);
}

static void test_creds_home(void **state)
{
	struct creds_env *e = *state;
	struct hubfs_s3_creds c;
	char err[512], path[192], *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	setenv("HOME", e->dir, 1);
	snprintf(path, sizeof(path), "%s/.aws", e->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/.aws/credentials", e->dir);
	write_text(path, "[default]\naws_access_key_id = HOMEKEY\naws_secret_access_key = S\n");
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "HOMEKEY");
	hubfs_s3_creds_release(&c);
	/* "~/" in the variable is the home directory too. */
	snprintf(path, sizeof(path), "%s/.aws/other", e->dir);
	write_text(path, "[default]\naws_access_key_id = TILDE\naws_secret_access_key = S\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/other", 1);
	assert_int_equal(load(e, &c, err), 0);
	assert_string_equal(c.access_key, "TILDE");
	hubfs_s3_creds_release(&c);
	if (old)
		setenv("HOME", old, 1);
	free(old);
}

/* ---------------------------------------------------------------- a canned server */

#define SRV_MAX 16

/* One canned answer: the raw HTTP response (Connection: close is added). */
struct srv {
	int fd;
	int port;
	pthread_t th;
	const char *answers[SRV_MAX];
	size_t n;
	char requests[SRV_MAX][4096]; /* request line + headers, truncated */
	size_t nreq;
	size_t body_len[SRV_MAX];
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		char buf[65536];
		size_t got = 0;
		char *end = NULL, *cl;
		size_t clen = 0;
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			break;
		while (!end && got < sizeof(buf) - 1) {
			ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
		}
		if (end) {
			cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl && cl < end)
				clen = strtoul(cl + 17, NULL, 10);
			/* the head with its last "\r\n", so every header line ends in one */
			snprintf(s->requests[s->nreq], sizeof(s->requests[0]), "%.*s",
				 (int)(end + 2 - buf), buf);
			/* the body: whatever came with the headers, then the rest */
			got -= (size_t)(end + 4 - buf);
			while (got < clen) {
				ssize_t n = read(c, buf, sizeof(buf));

				if (n <= 0)
					break;
				got += (size_t)n;
			}
			s->body_len[s->nreq++] = got;
		}
		if (write(c, s->answers[i], strlen(s->answers[i])) < 0) {
			/* the client went away: its problem */
		}
		shutdown(c, SHUT_WR);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

static struct hubfs_s3_client *srv_client(struct srv *s, unsigned int retries)
{
	struct hubfs_s3_creds creds = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
					NULL };
	struct hubfs_s3_client_opts o = { .region = "us-east-1",
					  .bucket = "bkt",
					  .creds = &creds,
					  .retries = retries,
					  .backoff_base_ms = 1,
					  .timeout_ms = 2000,
					  .max_conns = 2 };
	struct hubfs_s3_client *c = NULL;
	char ep[64], err[256];

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", s->port);
	o.endpoint = ep;
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), 0);
	return c;
}

#define HTTP_CLOSE "Connection: close\r\n"
static char *answer(const char *status, const char *extra, const char *body)
{
	char *s = NULL;

	assert_true(asprintf(&s, "HTTP/1.1 %s\r\n" HTTP_CLOSE "%sContent-Length: %zu\r\n\r\n%s",
			     status, extra, strlen(body), body) > 0);
	return s;
}

static void test_client_new_checks(void **state)
{
	struct hubfs_s3_creds creds = { "AK", "SK", NULL };
	struct hubfs_s3_client_opts o = { .bucket = "bkt", .creds = &creds };
	struct hubfs_s3_client *c = NULL;
	char err[256];

	(void)state;
	o.endpoint = "ftp://host";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "s3_endpoint"));
	assert_null(c);
	o.endpoint = "http://host:9000/prefix";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), -EINVAL);
	o.endpoint = "http://user@host";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), -EINVAL);
	o.endpoint = "http://127.0.0.1:9000/";
	o.bucket = "bad/bucket";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), -EINVAL);
	o.bucket = "bkt";
	o.region = "us east";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), -EINVAL);
	o.region = NULL;
	creds.secret_key = "";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), -EINVAL);
	creds.secret_key = "SK";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), 0);
	hubfs_s3_client_free(c);
	/* AWS addressing, both styles: made without any network. */
	o.endpoint = NULL;
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), 0);
	hubfs_s3_client_free(c);
	o.bucket = "my.dotted.bucket";
	assert_int_equal(hubfs_s3_client_new(&c, &o, err, sizeof(err)), 0);
	hubfs_s3_client_free(c);
	hubfs_s3_client_free(NULL);
}

static void test_client_refused(void **state)
{
	struct srv s = { 0 };
	struct hubfs_s3_client *c;
	struct hubfs_s3_object obj;
	struct hubfs_s3_stats st;

	(void)state;
	srv_start(&s); /* no answers: closed at once, so the port is free and refuses */
	srv_stop(&s);
	c = srv_client(&s, 2);
	assert_int_equal(hubfs_s3_head(c, "k", &obj), -ECONNREFUSED);
	hubfs_s3_client_stats(c, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.failures, 1);
	hubfs_s3_client_free(c);
}

static void test_client_requests(void **state)
{
	static const char err500[] =
		"<Error><Code>InternalError</Code><Message>x</Message>"
		"</Error>";
	static const char copy_ok[] =
		"<CopyObjectResult><LastModified>2009-10-28T22:32:00Z"
		"</LastModified><ETag>\"abc\"</ETag></CopyObjectResult>";
	struct srv s = { 0 };
	struct hubfs_s3_client *c;
	struct hubfs_s3_object obj;
	struct hubfs_s3_stats st;
	struct hubfs_s3_meta meta = { 2, { { "Color", "blue" }, { "empty", "" } } };
	char *a[9], etag[80], buf[16];
	size_t got;

	(void)state;
	a[0] = answer("200 OK", "ETag: \"e1\"\r\n", "");
	/* HEAD: size, time, ETag, metadata (names lower-cased, prefix gone) */
	a[1] = answer("200 OK",
		      "ETag: \"e2\"\r\nLast-Modified: Mon, 12 Oct 2009 17:50:30 GMT\r\n"
		      "x-amz-meta-Color: red\r\nX-Amz-Meta-Sha256: 00ff\r\n",
		      "");
	/* copy: an <Error> inside a 200 is retried, then the copy succeeds */
	a[2] = answer("200 OK", "", err500);
	a[3] = answer("200 OK", "", copy_ok);
	/* GET: a 206 for another range is not our data */
	a[4] = answer("206 Partial Content", "Content-Range: bytes 1-4/10\r\n", "abcd");
	/* GET: the server ignored Range and sent the whole object: we skip to ours */
	a[5] = answer("200 OK", "", "0123456789");
	/* DELETE of a missing key is fine */
	a[6] = answer("404 Not Found", "", "<Error><Code>NoSuchKey</Code></Error>");
	/* GET exactly at the end of the object: EOF, like pread */
	a[7] = answer("416 Requested Range Not Satisfiable", "",
		      "<Error><Code>InvalidRange</Code><ActualObjectSize>10</ActualObjectSize>"
		      "</Error>");
	/* GET: a longer range than asked, starting at ours (s3rver's bytes=0-0): take ours */
	a[8] = answer("206 Partial Content", "Content-Range: bytes 2-9/10\r\n", "23456789");
	for (int i = 0; i < 9; i++)
		s.answers[i] = a[i];
	s.n = 9;
	srv_start(&s);
	c = srv_client(&s, 3);

	assert_int_equal(hubfs_s3_put(c, "dir/a b+c.mp4", "hello", 5, &meta, etag), 0);
	assert_string_equal(etag, "e1");
	assert_int_equal(hubfs_s3_head(c, "dir/a b+c.mp4", &obj), 0);
	assert_int_equal(obj.size, 0);
	assert_int_equal(obj.mtime_ns, 1255369830LL * NS);
	assert_string_equal(obj.etag, "e2");
	assert_int_equal(obj.meta.n, 2);
	assert_string_equal(obj.meta.kv[0].name, "color");
	assert_string_equal(obj.meta.kv[0].value, "red");
	assert_string_equal(obj.meta.kv[1].name, "sha256");
	hubfs_s3_meta_release(&obj.meta);
	assert_int_equal(hubfs_s3_copy(c, "dir/a b+c.mp4", "dir/new", NULL), 0);
	assert_int_equal(hubfs_s3_get(c, "k", 0, 4, buf, &got), -EPROTO);
	assert_int_equal(hubfs_s3_get(c, "k", 3, 4, buf, &got), 0);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "3456", 4);
	assert_int_equal(hubfs_s3_delete(c, "gone"), 0);
	got = 99;
	assert_int_equal(hubfs_s3_get(c, "k", 10, 4, buf, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(hubfs_s3_get(c, "k", 2, 3, buf, &got), 0);
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "234", 3);
	srv_stop(&s);

	/* What went over the wire: path-style, encoded once, signed, with the hashes. */
	assert_int_equal(s.nreq, 9);
	assert_non_null(strstr(s.requests[0], "PUT /bkt/dir/a%20b%2Bc.mp4 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nHost: 127.0.0.1:"));
	assert_non_null(strstr(s.requests[0],
			       "\r\nAuthorization: AWS4-HMAC-SHA256 Credential="
			       "AKIDEXAMPLE/"));
	assert_non_null(strstr(s.requests[0],
			       "\r\nx-amz-content-sha256: 2cf24dba5fb0a30e26e83b2a"
			       "c5b9e29e1b161e5c1fa7425e73043362938b9824\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nContent-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nx-amz-meta-color: blue\r\n"));
	assert_non_null(strstr(s.requests[0], "\r\nx-amz-meta-empty:"));
	assert_null(strstr(s.requests[0], "Expect:"));
	assert_null(strstr(s.requests[0], "wJalrXUtnFEMI")); /* the secret never travels */
	assert_int_equal(s.body_len[0], 5);
	assert_non_null(strstr(s.requests[1], "HEAD /bkt/dir/a%20b%2Bc.mp4 HTTP/1.1\r\n"));
	assert_non_null(strstr(s.requests[2], "\r\nx-amz-copy-source: /bkt/dir/a%20b%2Bc.mp4\r\n"));
	assert_non_null(strstr(s.requests[2], "\r\nx-amz-metadata-directive: COPY\r\n"));
	assert_non_null(strstr(s.requests[4], "\r\nRange: bytes=0-3\r\n"));
	assert_non_null(strstr(s.requests[6], "DELETE /bkt/gone HTTP/1.1\r\n"));
	hubfs_s3_client_stats(c, &st);
	assert_int_equal(st.requests, 9);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.failures, 1); /* the foreign range */
	assert_int_equal(st.bytes_up, 5);
	hubfs_s3_client_free(c);
	for (int i = 0; i < 9; i++)
		free(a[i]);
}

static int collect(void *arg, const char *key, bool is_prefix, const struct hubfs_s3_object *obj)
{
	char *out = arg;

	strcat(out, is_prefix ? "P:" : "O:");
	strcat(out, key);
	if (obj)
		sprintf(out + strlen(out), "=%llu", (unsigned long long)obj->size);
	strcat(out, ";");
	return 0;
}

static int collect_uploads(void *arg, const char *key, const char *id, int64_t ns)
{
	char *out = arg;

	sprintf(out + strlen(out), "%s/%s/%lld;", key, id, (long long)(ns / NS));
	return 0;
}

static void test_client_listings(void **state)
{
	static const char page1[] =
		"<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t+1/="
		"</NextContinuationToken><Contents><Key>v/a</Key><Size>1</Size><LastModified>"
		"2023-01-02T03:04:05Z</LastModified><ETag>e</ETag></Contents></ListBucketResult>";
	static const char page2[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>v/b</Key>"
		"<Size>2</Size><LastModified>2023-01-02T03:04:05Z</LastModified><ETag>e</ETag>"
		"</Contents><CommonPrefixes><Prefix>v/c/</Prefix></CommonPrefixes>"
		"</ListBucketResult>";
	static const char loop[] =
		"<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>same"
		"</NextContinuationToken></ListBucketResult>";
	static const char ups1[] =
		"<ListMultipartUploadsResult><IsTruncated>true</IsTruncated><NextKeyMarker>k1"
		"</NextKeyMarker><NextUploadIdMarker>u1</NextUploadIdMarker><Upload><Key>k1</Key>"
		"<UploadId>u1</UploadId><Initiated>2010-11-10T20:48:33Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";
	static const char ups2[] =
		"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k2</Key>"
		"<UploadId>u2</UploadId><Initiated>2010-11-10T20:48:34Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";
	static const char init[] =
		"<InitiateMultipartUploadResult><UploadId>UP/1+</UploadId>"
		"</InitiateMultipartUploadResult>";
	static const char done_err[] = "<Error><Code>InternalError</Code></Error>";
	struct srv s = { 0 };
	struct hubfs_s3_client *c;
	struct hubfs_s3_part parts[1] = { { 1, "pe" } };
	char *a[11], out[512] = "", *id = NULL, etag[80];
	int i = 0;

	(void)state;
	a[i++] = answer("200 OK", "", page1);
	a[i++] = answer("200 OK", "", page2);
	a[i++] = answer("200 OK", "", loop);
	a[i++] = answer("200 OK", "", loop);
	a[i++] = answer("200 OK", "", ups1);
	a[i++] = answer("200 OK", "", ups2);
	a[i++] = answer("200 OK", "", init);
	a[i++] = answer("200 OK", "ETag: \"pe\"\r\n", "");
	/* CompleteMultipartUpload: an <Error> in a 200 is an error, and never retried */
	a[i++] = answer("200 OK", "", done_err);
	a[i++] = answer("204 No Content", "", "");
	a[i++] = answer("404 Not Found", "", "<Error><Code>NoSuchUpload</Code></Error>");
	for (int k = 0; k < i; k++)
		s.answers[k] = a[k];
	s.n = (size_t)i;
	srv_start(&s);
	c = srv_client(&s, 3);

	assert_int_equal(hubfs_s3_list(c, "v/", "/", collect, out), 0);
	assert_string_equal(out, "O:v/a=1;O:v/b=2;P:v/c/;");
	assert_int_equal(hubfs_s3_list(c, "x", NULL, collect, out), -EPROTO);
	out[0] = '\0';
	assert_int_equal(hubfs_s3_mpu_list(c, "k", collect_uploads, out), 0);
	assert_string_equal(out, "k1/u1/1289422113;k2/u2/1289422114;");
	assert_int_equal(hubfs_s3_mpu_create(c, "big", NULL, &id), 0);
	assert_string_equal(id, "UP/1+");
	assert_int_equal(hubfs_s3_mpu_part(c, "big", id, 1, "x", 1, parts[0].etag), 0);
	assert_int_equal(hubfs_s3_mpu_complete(c, "big", id, parts, 1, etag), -EIO);
	assert_int_equal(hubfs_s3_mpu_abort(c, "big", id), 0);
	assert_int_equal(hubfs_s3_mpu_abort(c, "big", id), 0); /* already gone */
	srv_stop(&s);

	assert_int_equal(s.nreq, (size_t)i);
	assert_non_null(strstr(s.requests[0], "GET /bkt?"));
	assert_non_null(strstr(s.requests[0], "list-type=2"));
	assert_non_null(strstr(s.requests[0], "prefix=v%2F"));
	assert_non_null(strstr(s.requests[0], "delimiter=%2F"));
	assert_non_null(strstr(s.requests[1], "continuation-token=t%2B1%2F%3D"));
	assert_non_null(strstr(s.requests[5], "key-marker=k1"));
	assert_non_null(strstr(s.requests[5], "upload-id-marker=u1"));
	assert_non_null(strstr(s.requests[6], "POST /bkt/big?uploads HTTP/1.1"));
	assert_non_null(strstr(s.requests[7], "PUT /bkt/big?partNumber=1&uploadId=UP%2F1%2B "));
	assert_non_null(strstr(s.requests[8], "POST /bkt/big?uploadId=UP%2F1%2B "));
	assert_int_equal(s.body_len[8], 155);
	assert_non_null(strstr(s.requests[9], "DELETE /bkt/big?uploadId=UP%2F1%2B "));
	free(id);
	hubfs_s3_client_free(c);
	for (int k = 0; k < i; k++)
		free(a[k]);
}

static void test_client_retries_bounded(void **state)
{
	struct srv s = { 0 };
	struct hubfs_s3_client *c;
	struct hubfs_s3_stats st;
	char *a, *b, buf[8];
	size_t got;

	(void)state;
	a = answer("503 Slow Down", "", "<Error><Code>SlowDown</Code></Error>");
	b = answer("403 Forbidden", "", "<Error><Code>AccessDenied</Code></Error>");
	s.answers[0] = s.answers[1] = s.answers[2] = a;
	s.answers[3] = b;
	s.n = 4;
	srv_start(&s);
	c = srv_client(&s, 2);
	/* 5xx on every try: -EIO after 1 + 2 tries */
	assert_int_equal(hubfs_s3_get(c, "k", 0, 8, buf, &got), -EIO);
	/* 403 is final at once */
	assert_int_equal(hubfs_s3_get(c, "k", 0, 8, buf, &got), -EACCES);
	srv_stop(&s);
	hubfs_s3_client_stats(c, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.failures, 2);
	hubfs_s3_client_free(c);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_error),
		cmocka_unit_test(test_xml_list),
		cmocka_unit_test(test_xml_list_url_encoded),
		cmocka_unit_test(test_xml_list_bad),
		cmocka_unit_test(test_xml_error_in_200),
		cmocka_unit_test(test_xml_initiate),
		cmocka_unit_test(test_xml_uploads),
		cmocka_unit_test(test_xml_entities),
		cmocka_unit_test(test_xml_oversized),
		cmocka_unit_test(test_xml_complete_body),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_etag_and_decode),
		cmocka_unit_test(test_error_map),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test_setup_teardown(test_creds_env_first, creds_setup, creds_teardown),
		cmocka_unit_test_setup_teardown(test_creds_files, creds_setup, creds_teardown),
		cmocka_unit_test_setup_teardown(test_creds_missing_and_bad, creds_setup,
						creds_teardown),
		cmocka_unit_test_setup_teardown(test_creds_home, creds_setup, creds_teardown),
		cmocka_unit_test(test_client_new_checks),
		cmocka_unit_test(test_client_refused),
		cmocka_unit_test(test_client_requests),
		cmocka_unit_test(test_client_listings),
		cmocka_unit_test(test_client_retries_bounded),
	};

	/* No proxy from the environment reaches the client (it sets CURLOPT_PROXY ""). */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
