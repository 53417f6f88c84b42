/*
 * test_s3_sign.c — the S3 SigV4 signer: AWS's published SigV4 test-suite vectors that
 * S3's canonicalisation agrees with, AWS's S3 documentation examples, input rejection,
 * and a differential run against botocore's S3SigV4Auth (a failure when python3 or
 * botocore is missing: scripts/deps.sh installs them) on generated requests with odd keys, unicode, query strings,
 * repeated headers and session tokens, compared byte for byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/s3_sign.h"

#define T_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct t_vec {
	const char *name;
	const char *method;
	const char *path; /* raw */
	struct hubfs_s3_query query[4];
	size_t nquery;
	struct hubfs_s3_header headers[6];
	size_t nheaders;
	const char *body; /* NULL: empty */
	const char *signed_headers;
	const char *signature;
};

/*
 * aws-sig-v4-test-suite (service "service", us-east-1, 20150830T123600Z, AKIDEXAMPLE).
 * These sign no x-amz-content-sha256 (the generic SigV4 rule; the signer adds it only
 * for "s3"). Left out because S3 canonicalises differently: get-slash*, get-relative*,
 * get-space (path normalisation, which S3 never does), get-utf8 and get-unreserved as
 * published for the generic services (double-encoded paths; S3 encodes once),
 * get-header-value-multiline (obs-fold; we reject CR/LF in values), and the
 * post-sts-token and normalize-path groups (not S3 requests). Each signature below was
 * also recomputed with botocore 1.43.11's SigV4Auth.
 */
static const struct t_vec t_suite[] = {
	{ "get-vanilla",
	  "GET",
	  "/",
	  { { 0 } },
	  0,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
	{ "get-vanilla-query-order-key-case",
	  "GET",
	  "/",
	  { { "Param2", "value2" }, { "Param1", "value1" } },
	  2,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
	{ "get-vanilla-query-order-key",
	  "GET",
	  "/",
	  { { "Param1", "value2" }, { "Param1", "Value1" } },
	  2,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1" },
	{ "get-vanilla-query-unreserved",
	  "GET",
	  "/",
	  { { "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
	      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz" } },
	  1,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "c0e2549664ab6caf8a0e49ec520df161cca33ec1de41067db4994a4467d458ff" },
	{ "get-vanilla-utf8-query",
	  "GET",
	  "/",
	  { { "\xe1\x88\xb4", "bar" } },
	  1,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04" },
	{ "get-header-value-trim",
	  "GET",
	  "/",
	  { { 0 } },
	  0,
	  { { "My-Header1", " value1" }, { "My-Header2", " \"a   b   c\"" } },
	  2,
	  NULL,
	  "host;my-header1;my-header2;x-amz-date",
	  "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },
	{ "post-vanilla",
	  "POST",
	  "/",
	  { { 0 } },
	  0,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
	{ "post-vanilla-query",
	  "POST",
	  "/",
	  { { "Param1", "value1" } },
	  1,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-date",
	  "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },
	{ "post-x-www-form-urlencoded",
	  "POST",
	  "/",
	  { { 0 } },
	  0,
	  { { "Content-Type", "application/x-www-form-urlencoded" } },
	  1,
	  "Param1=value1",
	  "content-type;host;x-amz-date",
	  "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a" },
};

/*
 * AWS S3 documentation, "Signature calculations for the Authorization header":
 * examplebucket, us-east-1, 20130524T000000Z, AKIAIOSFODNN7EXAMPLE.
 */
static const struct t_vec t_s3_docs[] = {
	{ "GET object with Range",
	  "GET",
	  "/test.txt",
	  { { 0 } },
	  0,
	  { { "Range", "bytes=0-9" } },
	  1,
	  NULL,
	  "host;range;x-amz-content-sha256;x-amz-date",
	  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" },
	{ "PUT object",
	  "PUT",
	  "/test$file.text",
	  { { 0 } },
	  0,
	  { { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
	    { "x-amz-storage-class", "REDUCED_REDUNDANCY" } },
	  2,
	  "Welcome to Amazon S3.",
	  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	  "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd" },
	{ "GET bucket lifecycle",
	  "GET",
	  "/",
	  { { "lifecycle", NULL } },
	  1,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-content-sha256;x-amz-date",
	  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543" },
	{ "list objects",
	  "GET",
	  "/",
	  { { "prefix", "J" }, { "max-keys", "2" } },
	  2,
	  { { 0 } },
	  0,
	  NULL,
	  "host;x-amz-content-sha256;x-amz-date",
	  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7" },
};

static void t_run(const struct t_vec *v, const char *host, time_t now, const char *region,
		  const char *service, const char *ak, const char *sk, const char *amz_want)
{
	struct hubfs_s3_sign_req req = { 0 };
	char hash[HUBFS_S3_SHA256_HEX_LEN], auth[512], want[512], amz[HUBFS_S3_AMZ_DATE_LEN];
	const char *body = v->body ? v->body : "";

	assert_int_equal(hubfs_s3_sha256_hex(body, strlen(body), hash), 0);
	req.method = v->method;
	req.host = host;
	req.path = v->path;
	req.query = v->query;
	req.nquery = v->nquery;
	req.headers = v->headers;
	req.nheaders = v->nheaders;
	req.payload_hash = hash;
	req.now = now;
	req.region = region;
	req.service = service;
	req.access_key = ak;
	req.secret_key = sk;
	snprintf(want, sizeof(want),
		 "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
		 "Signature=%s",
		 ak, amz_want, region, service ? service : "s3", v->signed_headers, v->signature);
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), 0);
	if (strcmp(auth, want))
		fail_msg("%s:\n got  %s\n want %s", v->name, auth, want);
	assert_string_equal(amz, amz_want);
}

static void test_aws_suite(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(t_suite) / sizeof(t_suite[0]); i++)
		t_run(&t_suite[i], "example.amazonaws.com", 1440938160 /* 20150830T123600Z */,
		      "us-east-1", "service", "AKIDEXAMPLE",
		      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z");
}

static void test_s3_docs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(t_s3_docs) / sizeof(t_s3_docs[0]); i++)
		t_run(&t_s3_docs[i], "examplebucket.s3.amazonaws.com",
		      1369353600 /* 20130524T000000Z */, "us-east-1", NULL, "AKIAIOSFODNN7EXAMPLE",
		      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524T000000Z");
}

static void test_helpers(void **state)
{
	char out[64], hex[HUBFS_S3_SHA256_HEX_LEN];

	(void)state;
	assert_int_equal(hubfs_s3_sha256_hex(NULL, 0, hex), 0);
	assert_string_equal(hex, T_EMPTY_SHA256);
	assert_int_equal(hubfs_s3_sha256_hex("Welcome to Amazon S3.", 21, hex), 0);
	assert_string_equal(hex,
			    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");

	assert_int_equal(hubfs_s3_uri_encode(out, sizeof(out), "/a b/c+d=e~f%", true), 21);
	assert_string_equal(out, "/a%20b/c%2Bd%3De~f%25");
	assert_int_equal(hubfs_s3_uri_encode(out, sizeof(out), "a/b\xc3\xa9", false), 11);
	assert_string_equal(out, "a%2Fb%C3%A9");
	assert_int_equal(hubfs_s3_uri_encode(out, sizeof(out), "", false), 0);
	assert_string_equal(out, "");
	/* exact fit, then one short */
	assert_int_equal(hubfs_s3_uri_encode(out, 4, " ", false), 3);
	assert_int_equal(hubfs_s3_uri_encode(out, 3, " ", false), -ERANGE);
	assert_int_equal(hubfs_s3_uri_encode(out, 0, "", false), -ERANGE);
}

static void t_base(struct hubfs_s3_sign_req *req)
{
	memset(req, 0, sizeof(*req));
	req->method = "GET";
	req->host = "examplebucket.s3.amazonaws.com";
	req->path = "/test.txt";
	req->payload_hash = T_EMPTY_SHA256;
	req->now = 1369353600;
	req->region = "us-east-1";
	req->access_key = "AKIAIOSFODNN7EXAMPLE";
	req->secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
}

static void test_rejects(void **state)
{
	static const struct hubfs_s3_header owned[] = { { "X-Amz-Date", "20130524T000000Z" } };
	static const struct hubfs_s3_header crlf[] = { { "x-amz-meta-a", "b\r\nEvil: 1" } };
	static const struct hubfs_s3_header badname[] = { { "bad name", "v" } };
	static const struct hubfs_s3_header hostdup[] = { { "HOST", "x" } };
	struct hubfs_s3_sign_req req;
	char auth[512], amz[HUBFS_S3_AMZ_DATE_LEN];
	int n;

	(void)state;
	t_base(&req);
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), 0);
	n = (int)strlen(auth);
	assert_int_equal(hubfs_s3_sign(&req, auth, (size_t)n + 1, amz), 0);
	assert_int_equal(hubfs_s3_sign(&req, auth, (size_t)n, amz), -ERANGE);
	assert_null(strstr(auth, "wJalr")); /* the secret never shows */

	req.payload_hash = HUBFS_S3_UNSIGNED_PAYLOAD;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), 0);
	req.payload_hash = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	req.payload_hash = "e3b0";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	req.payload_hash = NULL;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);

	t_base(&req);
	req.headers = owned;
	req.nheaders = 1;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	req.headers = crlf;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	req.headers = badname;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	req.headers = hostdup;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	req.headers = NULL;
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);

	t_base(&req);
	req.path = "test.txt";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	t_base(&req);
	req.method = "get";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	t_base(&req);
	req.region = "us-east-1/x";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	t_base(&req);
	req.host = "a\r\nb";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	t_base(&req);
	req.secret_key = "";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	t_base(&req);
	req.session_token = "tok\nen";
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
	t_base(&req);
	req.now = (time_t)300000000000LL; /* year > 9999 */
	assert_int_equal(hubfs_s3_sign(&req, auth, sizeof(auth), amz), -EINVAL);
}

/* A session token adds x-amz-security-token to the signed headers and the signature. */
static void test_token(void **state)
{
	struct hubfs_s3_sign_req req;
	char a1[512], a2[512], amz[HUBFS_S3_AMZ_DATE_LEN];

	(void)state;
	t_base(&req);
	assert_int_equal(hubfs_s3_sign(&req, a1, sizeof(a1), amz), 0);
	req.session_token = "AQoDYXdzEJr//+token==";
	assert_int_equal(hubfs_s3_sign(&req, a2, sizeof(a2), amz), 0);
	assert_non_null(strstr(
		a2, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
	assert_string_not_equal(a1, a2);
}

/* ------------------------------------------------------------ differential: botocore */

#define T_NREQ 300
#define T_STR 96

struct t_gen {
	char method[8];
	char host[64];
	char path[T_STR * 2];
	char qk[4][T_STR], qv[4][T_STR];
	struct hubfs_s3_query q[4];
	size_t nq;
	char hn[5][40], hv[5][T_STR];
	struct hubfs_s3_header h[5];
	size_t nh;
	unsigned char body[64];
	size_t nbody;
	char token[T_STR];
	bool has_token, unsigned_payload;
	time_t now;
	char ak[24], sk[48], region[24];
};

static uint64_t t_rng = 0x9e3779b97f4a7c15ull;

static unsigned t_rand(unsigned n)
{
	t_rng ^= t_rng << 13;
	t_rng ^= t_rng >> 7;
	t_rng ^= t_rng << 17;
	return (unsigned)(t_rng % n);
}

/* Odd bytes for keys and query strings: spaces, unicode, + = ~ % & ? # / and friends. */
static void t_odd(char *out, size_t cap, bool slashes)
{
	static const char *const pieces[] = {
		"a",
		"Z",
		"0",
		"-",
		"_",
		".",
		"~",
		" ",
		"+",
		"=",
		"&",
		"?",
		"#",
		"%",
		"%20",
		"$",
		"'",
		"!",
		"*",
		"(",
		")",
		",",
		";",
		":",
		"@",
		"[",
		"]",
		"\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac",
		"\xf0\x9f\x8e\xac",
		"video",
		".mp4",
		"\"",
		"<",
		"^",
	};
	size_t len = 0, n = t_rand(12);

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *p = slashes && !t_rand(5) ?
					"/" :
					pieces[t_rand(sizeof(pieces) / sizeof(pieces[0]))];

		if (len + strlen(p) + 1 > cap)
			break;
		memcpy(out + len, p, strlen(p) + 1);
		len += strlen(p);
	}
}

/* Header values: printable ASCII with runs of spaces and tabs, leading and trailing. */
static void t_value(char *out, size_t cap)
{
	static const char chars[] = "  \t\tabcXYZ019-_.,;:=/\"'()+*&%$#@!?~";
	size_t n = t_rand((unsigned)cap - 1);

	for (size_t i = 0; i < n; i++)
		out[i] = chars[t_rand(sizeof(chars) - 1)];
	out[n] = '\0';
}

static void t_generate(struct t_gen *g)
{
	static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "HEAD" };
	static const char *const hosts[] = { "examplebucket.s3.amazonaws.com", "127.0.0.1:4570",
					     "s3.eu-west-3.amazonaws.com", "localhost:9000" };
	static const char *const regions[] = { "us-east-1", "eu-west-3", "ap-southeast-2" };
	static const char *const hnames[] = {
		"Range",       "Content-Type",        "x-amz-meta-Title", "X-Amz-Meta-dup",
		"content-md5", "x-amz-storage-class", "If-None-Match",    "x-amz-meta-dup"
	};
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char b64[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=";
	size_t i;

	memset(g, 0, sizeof(*g));
	snprintf(g->method, sizeof(g->method), "%s", methods[t_rand(5)]);
	snprintf(g->host, sizeof(g->host), "%s", hosts[t_rand(4)]);
	g->path[0] = '/';
	t_odd(g->path + 1, sizeof(g->path) - 1, true);
	g->nq = t_rand(5);
	for (i = 0; i < g->nq; i++) {
		t_odd(g->qk[i], sizeof(g->qk[i]), true);
		if (!g->qk[i][0] || !t_rand(4))
			snprintf(g->qk[i], sizeof(g->qk[i]), "%s", i & 1 ? "uploads" : "prefix");
		if (t_rand(3))
			t_odd(g->qv[i], sizeof(g->qv[i]), true);
		g->q[i].key = g->qk[i];
		g->q[i].value = t_rand(4) ? g->qv[i] : NULL;
	}
	g->nh = t_rand(6);
	for (i = 0; i < g->nh; i++) {
		snprintf(g->hn[i], sizeof(g->hn[i]), "%s", hnames[t_rand(8)]);
		t_value(g->hv[i], 40);
		g->h[i].name = g->hn[i];
		g->h[i].value = g->hv[i];
	}
	g->nbody = t_rand(sizeof(g->body));
	for (i = 0; i < g->nbody; i++)
		g->body[i] = (unsigned char)t_rand(256);
	g->has_token = t_rand(2);
	if (g->has_token) {
		size_t n = 1 + t_rand(60);

		for (i = 0; i < n; i++)
			g->token[i] = b64[t_rand(sizeof(b64) - 1)];
	}
	g->unsigned_payload = !t_rand(4);
	g->now = (time_t)(946684800 + t_rand(1000000000));
	for (i = 0; i < 20; i++)
		g->ak[i] = alnum[t_rand(sizeof(alnum) - 1)];
	for (i = 0; i < 40; i++)
		g->sk[i] = b64[t_rand(sizeof(b64) - 2)]; /* no '=' */
	snprintf(g->region, sizeof(g->region), "%s", regions[t_rand(3)]);
}

static void t_hex(FILE *f, const void *p, size_t n)
{
	const unsigned char *s = p;

	fputc('x', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", s[i]);
}

static void t_hexs(FILE *f, const char *s)
{
	t_hex(f, s, strlen(s));
}

/*
 * Reads one request per line (fields 'x'+hex; lists as comma-joined alternating
 * name,value items or '-'), prints botocore's Authorization per line. Exit 77: no botocore.
 * The clock is pinned both ways botocore has read it (get_current_datetime, utcnow).
 */
static const char t_py[] =
	"import sys, datetime, types\n"
	"from urllib.parse import quote\n"
	"try:\n"
	"    import botocore.auth as A\n"
	"    from botocore.awsrequest import AWSRequest\n"
	"    from botocore.credentials import Credentials\n"
	"except ImportError:\n"
	"    sys.exit(77)\n"
	"def d(f): return bytes.fromhex(f[1:]).decode('utf-8')\n"
	"def pairs(f):\n"
	"    if f == '-': return []\n"
	"    x = [d(i) for i in f.split(',')]\n"
	"    return list(zip(x[0::2], x[1::2]))\n"
	"NOW = [None]\n"
	"class FixedClock(datetime.datetime):\n"
	"    @classmethod\n"
	"    def utcnow(cls): return NOW[0]\n"
	"A.get_current_datetime = lambda: NOW[0]  # botocore >= 1.32\n"
	"A.datetime = types.SimpleNamespace(datetime=FixedClock)  # Debian 12's 1.29\n"
	"for line in sys.stdin:\n"
	"    f = line.split()\n"
	"    NOW[0] = datetime.datetime.fromtimestamp(int(f[8]), datetime.timezone.utc)\n"
	"    NOW[0] = NOW[0].replace(tzinfo=None)\n"
	"    r = AWSRequest(method=d(f[0]), url='https://' + d(f[1]) + quote(d(f[2]), safe='/~'),\n"
	"                   data=bytes.fromhex(f[5][1:]), params=pairs(f[3]))\n"
	"    r.headers['Host'] = d(f[1])\n"
	"    for k, v in pairs(f[4]): r.headers[k] = v\n"
	"    if f[7] == '1':\n"
	"        r.context['client_config'] = types.SimpleNamespace(s3={'payload_signing_enabled': "
	"False})\n"
	"    c = Credentials(d(f[9]), d(f[10]), d(f[6]) or None)\n"
	"    A.S3SigV4Auth(c, 's3', d(f[11])).add_auth(r)\n"
	"    print(r.headers['Authorization'])\n";

static void test_botocore(void **state)
{
	char dir[] = "/tmp/hubfs-s3sign-XXXXXX", py[64], in[64], cmd[256];
	char auth[1024], amz[HUBFS_S3_AMZ_DATE_LEN], hash[HUBFS_S3_SHA256_HEX_LEN];
	char line[1024], (*want)[512] = calloc(T_NREQ, sizeof(*want));
	struct t_gen *g = calloc(T_NREQ, sizeof(*g));
	struct hubfs_s3_sign_req req;
	FILE *f;
	size_t i, k;
	size_t got;
	int status, rc;

	(void)state;
	assert_non_null(g);
	assert_non_null(want);
	assert_non_null(mkdtemp(dir));
	snprintf(py, sizeof(py), "%s/sign.py", dir);
	snprintf(in, sizeof(in), "%s/in.txt", dir);
	f = fopen(py, "w");
	assert_non_null(f);
	fputs(t_py, f);
	fclose(f);

	f = fopen(in, "w");
	assert_non_null(f);
	for (i = 0; i < T_NREQ; i++) {
		t_generate(&g[i]);
		t_hexs(f, g[i].method);
		fputc(' ', f);
		t_hexs(f, g[i].host);
		fputc(' ', f);
		t_hexs(f, g[i].path);
		fputc(' ', f);
		if (!g[i].nq)
			fputc('-', f);
		for (k = 0; k < g[i].nq; k++) {
			fputs(k ? "," : "", f);
			t_hexs(f, g[i].q[k].key);
			fputc(',', f);
			t_hexs(f, g[i].q[k].value ? g[i].q[k].value : "");
		}
		fputc(' ', f);
		if (!g[i].nh)
			fputc('-', f);
		for (k = 0; k < g[i].nh; k++) {
			fputs(k ? "," : "", f);
			t_hexs(f, g[i].h[k].name);
			fputc(',', f);
			t_hexs(f, g[i].h[k].value);
		}
		fputc(' ', f);
		t_hex(f, g[i].body, g[i].nbody);
		fputc(' ', f);
		t_hexs(f, g[i].token);
		fprintf(f, " %d %lld ", g[i].unsigned_payload, (long long)g[i].now);
		t_hexs(f, g[i].ak);
		fputc(' ', f);
		t_hexs(f, g[i].sk);
		fputc(' ', f);
		t_hexs(f, g[i].region);
		fputc('\n', f);
	}
	fclose(f);

	/* botocore's answers first, files removed, then compare: a failure leaves no litter */
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s < %s 2>%s/err.txt", py, in, dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	for (i = 0; i < T_NREQ && fgets(want[i], sizeof(want[i]), f); i++)
		want[i][strcspn(want[i], "\n")] = '\0';
	got = i;
	while (fgets(line, sizeof(line), f))
		;
	status = pclose(f);
	snprintf(cmd, sizeof(cmd), "%s/err.txt", dir);
	f = fopen(cmd, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "python: %s", line);
	if (f)
		fclose(f);
	unlink(cmd);
	unlink(py);
	unlink(in);
	rmdir(dir);
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 77 || WEXITSTATUS(status) == 127)) {
		free(g);
		free(want);
		/* Debian's /usr/bin/python3 with python3-botocore, which scripts/deps.sh installs
		 * for the tests (not whatever python3 is first in PATH): never a silent skip */
		fail_msg(
			"python3 with botocore is not available (scripts/deps.sh test installs it)");
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got, T_NREQ);

	for (i = 0; i < T_NREQ; i++) {
		if (g[i].unsigned_payload)
			snprintf(hash, sizeof(hash), "%s", HUBFS_S3_UNSIGNED_PAYLOAD);
		else
			assert_int_equal(hubfs_s3_sha256_hex(g[i].body, g[i].nbody, hash), 0);
		memset(&req, 0, sizeof(req));
		req.method = g[i].method;
		req.host = g[i].host;
		req.path = g[i].path;
		req.query = g[i].q;
		req.nquery = g[i].nq;
		req.headers = g[i].h;
		req.nheaders = g[i].nh;
		req.payload_hash = hash;
		req.now = g[i].now;
		req.region = g[i].region;
		req.access_key = g[i].ak;
		req.secret_key = g[i].sk;
		req.session_token = g[i].has_token ? g[i].token : NULL;
		rc = hubfs_s3_sign(&req, auth, sizeof(auth), amz);
		if (rc || strcmp(auth, want[i]))
			fail_msg("request %zu (%s %s%s): rc %d\n ours     %s\n botocore %s", i,
				 g[i].method, g[i].host, g[i].path, rc, auth, want[i]);
	}
	free(g);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_suite), cmocka_unit_test(test_s3_docs),
		cmocka_unit_test(test_helpers),   cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_token),     cmocka_unit_test(test_botocore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
