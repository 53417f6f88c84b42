#!/usr/bin/env python3
r"""s3-verify-proxy.py - an S3 front for s3rver that REJECTS bad AWS SigV4 signatures,
plus run-time fault injection. Python 3 stdlib + botocore only (Debian: python3-botocore;
run it with the interpreter that has botocore, e.g. /usr/bin/python3).

hubfs's copy (tests/s3/), started by scripts/s3-test-server.sh, from the verified testbed
reference. s3rver knows only the access key S3RVER (any other key: 403 InvalidAccessKeyId
from s3rver itself), so the server script runs this proxy with --cred S3RVER:<random secret>
and s3rver with --allow-mismatched-signatures: the secret is checked here, only here.

Why: s3rver 3.7.1 accepts any SigV4 signature, so a broken signer passes every test.
This proxy sits in front of it (127.0.0.1:PORT -> s3rver at --upstream) and, per request:
  * header auth (Authorization: AWS4-HMAC-SHA256 ...): parses Credential/SignedHeaders/
    Signature, rebuilds the request with exactly the signed headers and recomputes the
    signature with botocore's own S3SigV4Auth (canonical request, string to sign, key
    derivation); compared in constant time. The canonical URI is the path as S3 sees it:
    percent-decoded once, then re-encoded like botocore (quote(path, safe='/~')), never
    double-encoded; the query is decoded and re-encoded the same way (safe='-_.~').
  * presigned URLs (X-Amz-Signature in the query): same, via botocore's S3SigV4QueryAuth
    (payload UNSIGNED-PAYLOAD, X-Amz-Expires honoured).
  * x-amz-content-sha256 = hex: the body is hashed and compared (400
    XAmzContentSHA256Mismatch); UNSIGNED-PAYLOAD: not hashed; Content-MD5 checked when
    present (400 BadDigest / InvalidDigest); x-amz-date must be within --max-skew (900 s).
  * STREAMING-AWS4-HMAC-SHA256-PAYLOAD (aws-chunked): the seed signature AND every chunk
    signature are verified (botocore's key derivation signs the chunk string-to-sign), and
    the DECODED body is forwarded (x-amz-content-sha256 rewritten to its sha256, Content-
    Encoding aws-chunked dropped): this also avoids s3rver's bug of storing the chunk
    framing as object data. Verified rather than rejected because it is the only way an
    aws-chunked client can be tested against s3rver at all. Other STREAMING-* variants
    (…-TRAILER, ECDSA) get 501 NotImplemented.
  * also enforced like S3: every x-amz-* header must be signed (403 AccessDenied,
    HeadersNotSigned), host must be signed, credential date == x-amz-date, service s3,
    region == --region when given, unknown access key -> 403 InvalidAccessKeyId,
    SigV2 -> 400 InvalidRequest, anonymous -> 403 AccessDenied (unless --allow-anonymous),
    Transfer-Encoding: chunked request bodies -> 411 MissingContentLength.
  Errors are S3 XML: <Error><Code>SignatureDoesNotMatch</Code><Message>..</Message>
  <AWSAccessKeyId/><StringToSign/><SignatureProvided/><CanonicalRequest/>..</Error>
  (status 403), and each rejection is logged with its reason on stderr.
  Nothing is forwarded to s3rver before the request is fully verified.

Start (s3rver first, e.g. NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER_JS" -d DIR
-a 127.0.0.1 -p 4569 -s --no-vhost-buckets --configure-bucket NAME):
    python3 s3-verify-proxy.py --port 4570 --upstream 127.0.0.1:4569 \
        [--cred S3RVER:S3RVER]... [--region us-east-1] [--max-skew 900] \
        [--allow-anonymous] [--port-file FILE] [--spool-dir DIR] [-q|-v]
  --port 0 picks a free port; it is printed on stderr and written to --port-file.
  Clients: endpoint http://127.0.0.1:PORT, path-style addressing, any region
  (unless --region), access key/secret from --cred (default S3RVER/S3RVER).
  python3 s3-verify-proxy.py --self-test   runs AWS's published SigV4 test vectors
  (GET/PUT/list/lifecycle header auth, presigned GET, aws-chunked PUT) and negatives.

Fault injection API (not forwarded, no auth; the rules apply to requests that passed
authentication, so retries must still be signed correctly):
    GET    /__faults          -> JSON {"rules": [...with "fired"/"left"], "stats": {...}}
    POST   /__faults          body = JSON list of rules (or {"rules": [...]}): replaces
    POST   /__faults?append   appends;   DELETE /__faults   clears all rules
  A rule (first matching rule with budget left wins; one rule per request):
    {"method": "PUT",          regex, full match, case-insensitive (default: any)
     "match": "/bkt/dir/",     regex searched in the decoded path + "?" + raw query,
                               e.g. "/bucket/key?partNumber=2&uploadId=..." (default: any)
     "skip": 0,                let this many matching requests pass first
     "count": 1,               apply to this many requests, -1 = forever (default 1)
     "action": "error" | "delay" | "reset" | "truncate",
     "status": 503, "code": "SlowDown", "message": "..."   (error; 500 -> InternalError)
     "ms": 0,                  sleep before acting (the whole point of "delay")
     "bytes": 0}               reset/truncate: response body bytes sent before
                               the TCP RST (reset) or the clean close (truncate;
                               default half of Content-Length); -1 = cut before the
                               status line (the request was executed, the answer is lost)
  error: answered by the proxy, not forwarded. delay: then forwarded normally.
  reset/truncate: forwarded (s3rver DOES execute it), then the response is cut. With an
  empty body (PUT, HEAD) "bytes": 0 cuts nothing the client needs: use -1. A reset client
  may see fewer than "bytes" bytes (the RST discards data still in flight).
  Example: curl -s -XPOST 127.0.0.1:PORT/__faults -d '[{"method":"PUT","count":2,
           "action":"error","status":503}]'

Limits: only path-style buckets; one upstream; bodies whose hash must be checked
(hex x-amz-content-sha256, Content-MD5, aws-chunked) are spooled (RAM up to 16 MiB, then
a temp file) before forwarding; UNSIGNED-PAYLOAD bodies and all responses are streamed.
No x-amz-checksum-* verification, no POST-policy (browser form) auth, no STS tokens
checks (x-amz-security-token is just another signed header), no vhost-style buckets.
Status codes follow S3: bad signature/creds/time 403, bad body digest 400.
"""

import argparse
import base64
import binascii
import calendar
import hashlib
import hmac
import http.client
import io
import json
import logging
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, unquote_to_bytes, urlsplit
from xml.sax.saxutils import escape

try:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    sys.exit("s3-verify-proxy: needs botocore (Debian: apt-get install python3-botocore, "
             "then run with /usr/bin/python3)")

log = logging.getLogger("s3-verify-proxy")

BLOCK = 1 << 20                 # copy block
SPOOL_MEM = 16 << 20            # spooled bodies stay in RAM up to this size
DRAIN_LIMIT = 64 << 20          # unread body of a rejected request: drain up to this, else close
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "expect", "proxy-authorization",
              "proxy-authenticate"}
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class S3Error(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def xml(self, resource="", request_id=""):
        parts = [f"<Code>{escape(self.code)}</Code>", f"<Message>{escape(self.message)}</Message>"]
        for k, v in self.extra.items():
            parts.append(f"<{k}>{escape(str(v))}</{k}>")
        parts.append(f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts)
                + "</Error>").encode()


class ClientGone(Exception):
    pass


# --------------------------------------------------------------------------- signing
class _ExactSignedHeaders:
    """Sign exactly the headers the client listed in SignedHeaders (botocore's default
    would add/skip some, e.g. it never signs user-agent or expect)."""

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name in request.context["signed_headers"]:
            for value in request.context["header_values"][name]:
                hm[name] = value
        return hm


class HeaderSigner(_ExactSignedHeaders, S3SigV4Auth):
    pass


class QuerySigner(_ExactSignedHeaders, S3SigV4QueryAuth):
    pass


class Auth:
    """Result of a successful verification (kind: header | query)."""

    def __init__(self, kind, access_key, signer, request, signature, content_sha256):
        self.kind, self.access_key, self.signer, self.request = kind, access_key, signer, request
        self.signature, self.content_sha256 = signature, content_sha256

    def chunk_signature(self, prev_sig, chunk_sha256_hex):
        ctx = self.request.context
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", ctx["timestamp"],
                         self.signer.credential_scope(self.request), prev_sig,
                         EMPTY_SHA256, chunk_sha256_hex])
        return self.signer.signature(sts, self.request)


class Config:
    def __init__(self, creds=None, region=None, max_skew=900, allow_anonymous=False):
        self.creds = creds if creds is not None else {"S3RVER": "S3RVER"}
        self.region, self.max_skew, self.allow_anonymous = region, max_skew, allow_anonymous


def parse_query(raw_query):
    """[(decoded key, decoded value)] in order; '+' is a literal plus (as in S3)."""
    pairs = []
    for piece in raw_query.split("&") if raw_query else []:
        if piece == "":
            continue
        k, _, v = piece.partition("=")
        pairs.append((unquote(k), unquote(v)))
    return pairs


def canonical_uri(raw_path):
    # decode once, re-encode like botocore builds S3 URLs: no double encoding
    return quote(unquote_to_bytes(raw_path), safe="/~")


def parse_amz_date(value):
    try:
        return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
    except (ValueError, TypeError):
        raise S3Error(403, "AccessDenied",
                      "AWS authentication requires a valid Date or x-amz-date header")


def _iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def verify_request(method, target, headers, cfg, now=None):
    """Verify SigV4 auth of one request. headers: email.message.Message-like (get/get_all,
    keys). Returns an Auth, or None for an allowed anonymous request. Raises S3Error."""
    now = time.time() if now is None else now
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        target = parts.path + ("?" + parts.query if parts.query else "")
    raw_path, _, raw_query = target.partition("?")
    pairs = parse_query(raw_query)
    qnames = {k for k, _ in pairs}
    authz = headers.get("authorization")
    presigned = "X-Amz-Algorithm" in qnames or "X-Amz-Signature" in qnames

    if authz and presigned:
        raise S3Error(400, "InvalidArgument", "Only one auth mechanism allowed; only the "
                      "X-Amz-Algorithm query parameter, Signature query string parameter or "
                      "the Authorization header should be specified")
    if authz:
        authz = authz.strip()
        if authz.startswith("AWS "):
            raise S3Error(400, "InvalidRequest", "The authorization mechanism you have "
                          "provided is not supported. Please use AWS4-HMAC-SHA256.")
        if not authz.startswith("AWS4-HMAC-SHA256 "):
            raise S3Error(400, "InvalidArgument", "Unsupported Authorization Type",
                          ArgumentName="Authorization", ArgumentValue=authz)
        comps = {}
        for item in re.split(r"\s*,\s*", authz[len("AWS4-HMAC-SHA256 "):].strip()):
            k, _, v = item.partition("=")
            comps[k.strip()] = v.strip()
        for k in ("Credential", "SignedHeaders", "Signature"):
            if not comps.get(k):
                raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header "
                              f"is malformed; missing {k}.")
        credential, signed, provided = comps["Credential"], comps["SignedHeaders"], comps["Signature"]
        amz_date = headers.get("x-amz-date")
        if amz_date is None:
            raise S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or "
                          "x-amz-date header (this proxy requires x-amz-date)")
        kind, signer_cls = "header", HeaderSigner
    elif presigned:
        q = dict(pairs)
        need = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                "X-Amz-SignedHeaders", "X-Amz-Expires")
        missing = [k for k in need if not q.get(k)]
        if missing:
            raise S3Error(400, "AuthorizationQueryParametersError", "Query-string "
                          "authentication version 4 requires the X-Amz-Algorithm, "
                          "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                          f"and X-Amz-Expires parameters (missing {', '.join(missing)}).")
        if q["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
            raise S3Error(400, "AuthorizationQueryParametersError",
                          "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        credential, signed, provided = q["X-Amz-Credential"], q["X-Amz-SignedHeaders"], q["X-Amz-Signature"]
        amz_date = q["X-Amz-Date"]
        kind, signer_cls = "query", QuerySigner
    elif "Signature" in qnames and "AWSAccessKeyId" in qnames:
        raise S3Error(400, "InvalidRequest", "The authorization mechanism you have provided "
                      "is not supported. Please use AWS4-HMAC-SHA256.")
    else:
        if cfg.allow_anonymous:
            return None
        raise S3Error(403, "AccessDenied", "Access Denied (anonymous request; this proxy "
                      "only forwards SigV4-signed requests unless started with --allow-anonymous)")

    # credential scope: AK/yyyymmdd/region/service/aws4_request
    cparts = credential.rsplit("/", 4)
    if len(cparts) != 5 or not cparts[0]:
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                      f"malformed; the Credential is mal-formed; expecting "
                      f"\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". ({credential})")
    access_key, scope_date, region, service, term = cparts
    secret = cfg.creds.get(access_key)
    if secret is None:
        raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                      "not exist in our records.", AWSAccessKeyId=access_key)
    if term != "aws4_request" or service != "s3":
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                      f"malformed; incorrect service \"{service}\" or terminal \"{term}\". "
                      "This endpoint belongs to \"s3\".")
    if cfg.region and region != cfg.region:
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                      f"malformed; the region '{region}' is wrong; expecting '{cfg.region}'",
                      Region=cfg.region)
    ts = parse_amz_date(amz_date)
    if scope_date != amz_date[:8]:
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                      "malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
    if kind == "header":
        if abs(now - ts) > cfg.max_skew:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request "
                          "time and the current time is too large.", RequestTime=amz_date,
                          ServerTime=_iso(now), MaxAllowedSkewMilliseconds=cfg.max_skew * 1000)
    else:
        try:
            expires = int(q["X-Amz-Expires"])
        except ValueError:
            expires = -1
        if not 1 <= expires <= 604800:
            raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be "
                          "between 1 and 604800 seconds")
        if now > ts + expires:
            raise S3Error(403, "AccessDenied", "Request has expired", XAmzExpires=expires,
                          Expires=_iso(ts + expires), ServerTime=_iso(now))
        if ts > now + cfg.max_skew:
            raise S3Error(403, "AccessDenied", "Request is not valid yet",
                          ServerTime=_iso(now))

    signed_list = [h.strip().lower() for h in signed.split(";") if h.strip()]
    if "host" not in signed_list:
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is "
                      "malformed; 'host' must be a signed header.")
    present = {k.lower() for k in headers.keys()}
    unsigned_amz = sorted(h for h in present if h.startswith("x-amz-") and h not in signed_list)
    if unsigned_amz:
        raise S3Error(403, "AccessDenied", "There were headers present in the request which "
                      "were not signed", HeadersNotSigned=", ".join(unsigned_amz))
    values = {}
    for name in signed_list:
        v = headers.get_all(name)
        if v is None:
            raise S3Error(403, "SignatureDoesNotMatch", f"The request signature we calculated "
                          f"does not match the signature you provided: signed header '{name}' "
                          "is not in the request.", AWSAccessKeyId=access_key)
        values[name] = v

    req_headers = {}
    content_sha = "UNSIGNED-PAYLOAD"
    if kind == "header":
        content_sha = headers.get("x-amz-content-sha256")
        if content_sha is None:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "x-amz-content-sha256")
        content_sha = content_sha.strip()
        if content_sha.startswith("STREAMING-") and content_sha != STREAMING_SIGNED:
            raise S3Error(501, "NotImplemented", f"x-amz-content-sha256 {content_sha} is not "
                          "supported by s3-verify-proxy (only UNSIGNED-PAYLOAD, a hex sha256 and "
                          f"{STREAMING_SIGNED})", Header="x-amz-content-sha256")
        if content_sha not in ("UNSIGNED-PAYLOAD", STREAMING_SIGNED) and not HEX64.fullmatch(content_sha):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be "
                          "UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid "
                          "sha256 value.", ArgumentName="x-amz-content-sha256",
                          ArgumentValue=content_sha)
        req_headers["X-Amz-Content-SHA256"] = headers.get("x-amz-content-sha256")

    canon_pairs = [(k, v) for k, v in pairs if not (kind == "query" and k == "X-Amz-Signature")]
    request = AWSRequest(method=method.upper(), url="http://proxy" + canonical_uri(raw_path),
                         headers=req_headers, params=canon_pairs or None)
    request.context["timestamp"] = amz_date
    request.context["signed_headers"] = signed_list
    request.context["header_values"] = values
    signer = signer_cls(Credentials(access_key, secret), "s3", region)
    canonical = signer.canonical_request(request)
    sts = signer.string_to_sign(request, canonical)
    calc = signer.signature(sts, request)
    if not hmac.compare_digest(calc.encode(), provided.strip().lower().encode()):
        raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                      "not match the signature you provided. Check your key and signing method.",
                      AWSAccessKeyId=access_key, StringToSign=sts, SignatureProvided=provided,
                      CanonicalRequest=canonical)
    return Auth(kind, access_key, signer, request, calc, content_sha)


# --------------------------------------------------------------------------- bodies
class LimitedReader:
    """Reads at most n bytes of a request body from the client stream."""

    def __init__(self, f, n):
        self.f, self.left = f, n

    def read(self, n):
        n = min(n, self.left)
        if n <= 0:
            return b""
        data = self.f.read(n)
        if not data:
            raise ClientGone("client closed during the request body")
        self.left -= len(data)
        return data

    def read_exact(self, n):
        out = bytearray()
        while len(out) < n:
            d = self.read(n - len(out))
            if not d:
                raise S3Error(400, "IncompleteBody", "The request body terminated unexpectedly")
            out += d
        return bytes(out)

    def readline(self, limit=4096):
        if self.left <= 0:
            raise S3Error(400, "IncompleteBody", "The request body terminated unexpectedly")
        line = self.f.readline(min(limit, self.left))
        if not line:
            raise ClientGone("client closed during the request body")
        self.left -= len(line)
        return line


def decode_aws_chunked(reader, auth, sink, decoded_len):
    """Verify every chunk signature of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body and pass
    the decoded data to sink(bytes). Returns (sha256 hex, md5 digest, length)."""
    prev, total, n = auth.signature, 0, 0
    sha, md5 = hashlib.sha256(), hashlib.md5()
    while True:
        line = reader.readline()
        m = re.fullmatch(rb"([0-9a-fA-F]+);chunk-signature=([0-9a-fA-F]{64})\r\n", line)
        if not m:
            raise S3Error(400, "InvalidRequest", f"aws-chunked: bad chunk header #{n}: {line[:120]!r}")
        size, sig = int(m.group(1), 16), m.group(2).decode().lower()
        h = hashlib.sha256()
        left = size
        while left:
            d = reader.read(min(BLOCK, left))
            if not d:
                raise S3Error(400, "IncompleteBody", "aws-chunked: body ends inside chunk")
            left -= len(d)
            h.update(d)
            sha.update(d)
            md5.update(d)
            sink(d)
        if reader.read_exact(2) != b"\r\n":
            raise S3Error(400, "InvalidRequest", f"aws-chunked: chunk #{n} not followed by CRLF")
        calc = auth.chunk_signature(prev, h.hexdigest())
        if not hmac.compare_digest(calc.encode(), sig.encode()):
            raise S3Error(403, "SignatureDoesNotMatch", f"The request signature we calculated "
                          f"does not match the signature you provided (aws-chunked chunk #{n}, "
                          f"{size} bytes).", AWSAccessKeyId=auth.access_key,
                          SignatureProvided=sig)
        prev, total, n = calc, total + size, n + 1
        if size == 0:
            break
    if reader.left:
        raise S3Error(400, "InvalidRequest", f"aws-chunked: {reader.left} bytes after the final chunk")
    if decoded_len is not None and total != decoded_len:
        raise S3Error(400, "IncompleteBody", f"x-amz-decoded-content-length {decoded_len} != "
                      f"decoded {total} bytes")
    return sha.hexdigest(), md5.digest(), total


# --------------------------------------------------------------------------- faults
class Faults:
    ACTIONS = ("error", "delay", "reset", "truncate")

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.stats = {"requests": 0, "forwarded": 0, "rejected": {}, "faults": 0}

    @staticmethod
    def _check(rule):
        if not isinstance(rule, dict):
            raise ValueError("a rule must be a JSON object")
        r = dict(rule)
        if r.setdefault("action", "error") not in Faults.ACTIONS:
            raise ValueError(f"unknown action {r['action']!r} (one of {Faults.ACTIONS})")
        r["_method"] = re.compile(r.get("method") or ".*", re.I)
        r["_match"] = re.compile(r.get("match") or "")
        r["count"] = int(r.get("count", 1))
        r["skip"] = int(r.get("skip", 0))
        r["ms"] = float(r.get("ms", 0))
        r["status"] = int(r.get("status", 503))
        if "bytes" in r:
            r["bytes"] = int(r["bytes"])
        r["fired"] = r["seen"] = 0
        return r

    def set(self, rules, append=False):
        if isinstance(rules, dict) and "rules" in rules:
            rules = rules["rules"]
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list):
            raise ValueError("expected a JSON list of rules or {\"rules\": [...]}")
        checked = [self._check(r) for r in rules]
        with self.lock:
            self.rules = (self.rules if append else []) + checked

    def pick(self, method, what):
        with self.lock:
            self.stats["requests"] += 1
            for r in self.rules:
                if r["count"] >= 0 and r["fired"] >= r["count"]:
                    continue
                if not r["_method"].fullmatch(method) or not r["_match"].search(what):
                    continue
                r["seen"] += 1
                if r["seen"] <= r["skip"]:
                    continue
                r["fired"] += 1
                self.stats["faults"] += 1
                return dict(r)
        return None

    def count(self, key, code=None):
        with self.lock:
            if code:
                self.stats["rejected"][code] = self.stats["rejected"].get(code, 0) + 1
            else:
                self.stats[key] += 1

    def snapshot(self):
        with self.lock:
            rules = [{k: v for k, v in r.items() if not k.startswith("_")} for r in self.rules]
            for r in rules:
                r["left"] = -1 if r["count"] < 0 else max(0, r["count"] - r["fired"])
            return {"rules": rules, "stats": json.loads(json.dumps(self.stats))}


# --------------------------------------------------------------------------- server
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3-verify-proxy"
    timeout = 300  # idle keep-alive connections / stalled clients

    # ---- plumbing
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up = None
        self.up_used = 0.0

    def finish(self):
        try:
            super().finish()
        finally:
            self._close_upstream()

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.client_address[0], *args)

    def handle_expect_100(self):
        self.expect_pending = True  # sent only once the headers are verified
        return True

    def _continue(self):
        if getattr(self, "expect_pending", False):
            self.expect_pending = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _close_upstream(self):
        if self.up is not None:
            self.up.close()
            self.up = None

    def _upstream(self, fresh=False):
        if self.up is not None and (fresh or time.monotonic() - self.up_used > 2.0):
            self._close_upstream()  # s3rver (node) drops idle keep-alive after ~5 s
        if self.up is None:
            host, port = self.server.upstream
            self.up = http.client.HTTPConnection(host, port, timeout=self.server.upstream_timeout)
            self.up.connect()
            self.up.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.up

    def do_GET(self): self.handle_s3()
    def do_HEAD(self): self.handle_s3()
    def do_PUT(self): self.handle_s3()
    def do_POST(self): self.handle_s3()
    def do_DELETE(self): self.handle_s3()
    def do_OPTIONS(self): self.handle_s3()

    # ---- responses of our own
    def _discard_body(self):
        """Make the connection reusable after an early answer, or mark it for closing."""
        left = getattr(self, "body_left", 0)
        if left <= 0:
            return
        if getattr(self, "expect_pending", False) or left > DRAIN_LIMIT or left < 0:
            self.close_connection = True
            return
        try:
            while left > 0:
                d = self.rfile.read(min(BLOCK, left))
                if not d:
                    break
                left -= len(d)
        except OSError:
            pass
        self.body_left = 0
        if left > 0:
            self.close_connection = True

    def send_xml_error(self, err):
        self._discard_body()
        rid = uuid.uuid4().hex[:16].upper()
        body = err.xml(urlsplit(self.path).path, rid)
        self.send_response(err.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", rid)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Content-Length", "0")
        if err.status == 503:
            self.send_header("Retry-After", "1")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return len(body)

    def send_json(self, status, obj):
        self._discard_body()
        body = (json.dumps(obj, indent=1) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # ---- /__faults
    def faults_api(self, raw_query):
        faults = self.server.faults
        try:
            if self.command in ("POST", "PUT"):
                self._continue()
                data = self.rfile.read(self.body_left) if self.body_left > 0 else b""
                self.body_left = 0
                faults.set(json.loads(data or b"[]"), append="append" in raw_query)
                log.info("faults set: %s", json.dumps(faults.snapshot()["rules"]))
            elif self.command == "DELETE":
                faults.set([])
                log.info("faults cleared")
            elif self.command != "GET":
                raise ValueError("use GET, POST or DELETE on /__faults")
        except (ValueError, re.error) as e:
            return self.send_json(400, {"error": str(e)})
        self.send_json(200, faults.snapshot())

    # ---- main path
    def handle_s3(self):
        t0 = time.monotonic()
        self.body_left = 0
        raw_path, _, raw_query = self.path.partition("?")
        cl = self.headers.get("content-length")
        te = self.headers.get("transfer-encoding")
        try:
            self.body_left = int(cl) if cl is not None else 0
            if self.body_left < 0:
                raise ValueError
        except ValueError:
            self.body_left, self.close_connection = -1, True
            return self.send_xml_error(S3Error(400, "BadRequest", "bad Content-Length"))
        if te and te.strip().lower() != "identity":
            self.body_left, self.close_connection = -1, True
            return self.finish_log(t0, "-", self.send_xml_error(S3Error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP "
                "header (Transfer-Encoding request bodies are not supported).")))
        if raw_path == "/__faults":
            return self.faults_api(raw_query)

        faults, st = self.server.faults, {}
        what = unquote(raw_path) + ("?" + raw_query if raw_query else "")
        try:
            auth = verify_request(self.command, self.path, self.headers, self.server.cfg)
        except S3Error as e:
            if self.command == "OPTIONS" and not self.headers.get("authorization"):
                auth = None  # CORS preflight is unauthenticated in S3
            else:
                return self.reject(t0, e)
        st["auth"] = auth.kind if auth else "anon"
        if auth and auth.kind == "header":
            cs = auth.content_sha256
            st["payload"] = "sha256" if HEX64.fullmatch(cs) else cs.lower()
        rule = faults.pick(self.command, what)
        if rule:
            st["fault"] = rule["action"]
            if rule["ms"] > 0:
                time.sleep(rule["ms"] / 1000.0)
            if rule["action"] == "error":
                status = rule["status"]
                code = rule.get("code") or {503: "SlowDown", 500: "InternalError"}.get(status, "InjectedFault")
                msg = rule.get("message") or {503: "Please reduce your request rate.",
                                              500: "We encountered an internal error. Please try again."
                                              }.get(status, "injected by s3-verify-proxy /__faults")
                log.info("FAULT %s %s -> %d %s", self.command, self.path, status, code)
                return self.finish_log(t0, st, self.send_xml_error(S3Error(status, code, msg)))
            if rule["action"] == "delay":
                rule = None
        if self.server.s3rver_data and self.emulate_mpu(t0, st, raw_path, raw_query):
            return
        try:
            body = self.prepare_body(auth)
        except S3Error as e:
            return self.reject(t0, e)
        except ClientGone as e:
            log.info("%s %s: %s", self.command, self.path, e)
            self.close_connection = True
            return
        try:
            sent = self.forward(body, rule, st)
        finally:
            if body[0] == "spool":
                body[1].close()
        self.finish_log(t0, st, sent)

    def emulate_mpu(self, t0, st, raw_path, raw_query):
        """ListMultipartUploads (GET /bucket?uploads) and AbortMultipartUpload (DELETE
        /bucket/key?uploadId=X), which s3rver 3.7.1 answers 501/405, served from s3rver's
        own upload folders (DATA/BUCKET/._S3rver_uploads/ID/{key,metadata,N}). The request
        was verified like any other. True if handled."""
        q = parse_qs(raw_query, keep_blank_values=True)
        parts = unquote(raw_path).lstrip("/").split("/", 1)
        bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
        updir = os.path.join(self.server.s3rver_data, bucket, "._S3rver_uploads")
        if self.command == "GET" and "uploads" in q and not key:
            prefix = q.get("prefix", [""])[0]
            items = []
            for uid in sorted(os.listdir(updir)) if os.path.isdir(updir) else []:
                try:
                    with open(os.path.join(updir, uid, "key"), encoding="utf-8") as f:
                        k = f.read()
                    mt = os.stat(os.path.join(updir, uid)).st_mtime
                except OSError:
                    continue
                if k.startswith(prefix):
                    items.append((k, uid, mt))
            esc = lambda x: x.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            xml = ['<?xml version="1.0" encoding="UTF-8"?>',
                   '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                   f"<Bucket>{esc(bucket)}</Bucket><Prefix>{esc(prefix)}</Prefix>",
                   "<IsTruncated>false</IsTruncated>"]
            urlenc = q.get("encoding-type", [""])[0] == "url"
            if urlenc:
                xml.append("<EncodingType>url</EncodingType>")
            for k, uid, mt in items:
                when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(mt))
                k = quote(k, safe="/") if urlenc else k
                xml.append(f"<Upload><Key>{esc(k)}</Key><UploadId>{uid}</UploadId>"
                           f"<Initiated>{when}</Initiated></Upload>")
            xml.append("</ListMultipartUploadsResult>")
            body = "".join(xml).encode()
            self._discard_body()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            st["emulated"] = "ListMultipartUploads"
            self.finish_log(t0, st, len(body))
            return True
        if self.command == "DELETE" and "uploadId" in q and key:
            uid = q["uploadId"][0]
            d = os.path.join(updir, uid)
            if not re.fullmatch(r"[0-9a-f]{1,64}", uid) or not os.path.isdir(d):
                self.finish_log(t0, st, self.send_xml_error(S3Error(
                    404, "NoSuchUpload", "The specified upload does not exist.")))
                return True
            shutil.rmtree(d, ignore_errors=True)
            self._discard_body()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            st["emulated"] = "AbortMultipartUpload"
            self.finish_log(t0, st, 0)
            return True
        return False

    def reject(self, t0, e):
        self.server.faults.count("rejected", e.code)
        detail = ""
        if "CanonicalRequest" in e.extra:
            detail = " canonical_request=%r string_to_sign=%r" % (
                e.extra["CanonicalRequest"], e.extra["StringToSign"])
        log.warning("REJECT %s %s -> %d %s: %s%s", self.command, self.path, e.status, e.code,
                    e.message, detail)
        try:
            self.send_xml_error(e)
        except OSError:
            self.close_connection = True

    def finish_log(self, t0, st, nbytes):
        if isinstance(st, dict):
            extra = " ".join(f"{k}={v}" for k, v in st.items())
        else:
            extra = str(st)
        log.info("%s %s -> %s %s bytes %.1f ms %s", self.command, self.path,
                 getattr(self, "_status", "-"), nbytes, (time.monotonic() - t0) * 1000, extra)

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def prepare_body(self, auth):
        """-> ("none",) | ("stream", n) | ("spool", file, n, header overrides)"""
        n = self.body_left
        mode = auth.content_sha256 if auth else "UNSIGNED-PAYLOAD"
        md5_hdr = self.headers.get("content-md5")
        want_md5 = None
        if md5_hdr is not None:
            try:
                want_md5 = base64.b64decode(md5_hdr.strip(), validate=True)
            except (binascii.Error, ValueError):
                want_md5 = b""
            if len(want_md5) != 16:
                raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
        chunked = mode == STREAMING_SIGNED
        if chunked and self.headers.get("content-length") is None:
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        if mode == "UNSIGNED-PAYLOAD" and want_md5 is None:
            if n == 0:
                return ("none",)
            self._continue()
            return ("stream", n)
        self._continue()
        spool = tempfile.SpooledTemporaryFile(SPOOL_MEM, dir=self.server.spool_dir)
        try:
            reader = LimitedReader(self.rfile, n)
            over = {}
            if chunked:
                dl = self.headers.get("x-amz-decoded-content-length")
                try:
                    dl = int(dl) if dl is not None else None
                except ValueError:
                    dl = None
                if dl is None:
                    raise S3Error(411, "MissingContentLength", "You must provide the "
                                  "x-amz-decoded-content-length header with aws-chunked uploads.")
                sha_hex, md5, size = decode_aws_chunked(reader, auth, spool.write, dl)
                over = {"x-amz-content-sha256": sha_hex, "x-amz-decoded-content-length": None}
                ce = [c.strip() for c in (self.headers.get("content-encoding") or "").split(",")
                      if c.strip() and c.strip().lower() != "aws-chunked"]
                over["content-encoding"] = ",".join(ce) or None
            else:
                sha, md5h, size = hashlib.sha256(), hashlib.md5(), 0
                while reader.left:
                    d = reader.read(BLOCK)
                    sha.update(d)
                    if want_md5 is not None:
                        md5h.update(d)
                    spool.write(d)
                    size += len(d)
                sha_hex, md5 = sha.hexdigest(), md5h.digest()
                if mode != "UNSIGNED-PAYLOAD" and sha_hex != mode.lower():
                    raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided "
                                  "'x-amz-content-sha256' header does not match what was computed.",
                                  ClientComputedContentSHA256=mode, S3ComputedContentSHA256=sha_hex)
            self.body_left = 0
            if want_md5 is not None and not hmac.compare_digest(md5, want_md5):
                raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match "
                              "what we received.", ExpectedDigest=md5_hdr,
                              CalculatedDigest=base64.b64encode(md5).decode())
            spool.seek(0)
            return ("spool", spool, size, over)
        except BaseException:
            self.body_left = reader.left
            spool.close()
            raise

    def _send_upstream(self, body):
        kind = body[0]
        over = body[3] if kind == "spool" else {}
        hdrs = []
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk == "content-length" or lk in over:
                continue
            hdrs.append((k, v))
        for k, v in over.items():
            if v is not None:
                hdrs.append((k, v))
        if kind == "spool":
            hdrs.append(("Content-Length", str(body[2])))
        elif kind == "stream":
            hdrs.append(("Content-Length", str(body[1])))
        elif self.headers.get("content-length") is not None:
            hdrs.append(("Content-Length", "0"))
        replayable = kind != "stream"
        for attempt in (0, 1):
            try:
                conn = self._upstream(fresh=attempt > 0)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in hdrs:
                    conn.putheader(k, v)
                conn.endheaders()
                if kind == "spool":
                    f = body[1]
                    f.seek(0)
                    for d in iter(lambda: f.read(BLOCK), b""):
                        conn.sock.sendall(d)
                elif kind == "stream":
                    reader = LimitedReader(self.rfile, body[1])
                    try:
                        while reader.left:
                            conn.sock.sendall(reader.read(BLOCK))
                    finally:
                        self.body_left = reader.left
                resp = conn.getresponse()
                self.up_used = time.monotonic()
                return resp
            except ClientGone:
                self._close_upstream()
                raise
            except (OSError, http.client.HTTPException) as e:
                self._close_upstream()
                if attempt or not replayable:
                    raise S3Error(502, "BadGateway", f"upstream s3rver: {e!r}")

    def forward(self, body, rule, st):
        try:
            resp = self._send_upstream(body)
        except ClientGone as e:
            log.info("%s %s: %s", self.command, self.path, e)
            self.close_connection = True
            return 0
        except S3Error as e:
            log.error("%s %s: %s", self.command, self.path, e.message)
            return self.send_xml_error(e)
        self.server.faults.count("forwarded")
        if rule and rule["action"] in ("reset", "truncate") and rule.get("bytes", 0) < 0:
            # s3rver executed the request, but the client gets no response at all
            self._status = "none(%s)" % resp.status
            self._close_upstream()
            self._cut(rule["action"], -1)
            return 0
        head_only = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        clen = resp.getheader("content-length")
        chunked_up = (resp.getheader("transfer-encoding") or "").lower() not in ("", "identity")
        self.send_response_only(resp.status, resp.reason)
        self._status = resp.status
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP_BY_HOP or (lk == "content-length" and not head_only):
                continue
            self.send_header(k, v)
        limit = None
        if rule and rule["action"] in ("reset", "truncate"):
            limit = rule.get("bytes")
            if limit is None:
                limit = (int(clen) // 2) if (rule["action"] == "truncate" and clen and not head_only) else 0
        rechunk = False
        if not head_only:
            if clen is not None and not chunked_up:
                self.send_header("Content-Length", clen)
            elif self.request_version == "HTTP/1.1":
                self.send_header("Transfer-Encoding", "chunked")
                rechunk = True
            else:
                self.close_connection = True
        if resp.will_close and not head_only and clen is None and not rechunk:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            if not head_only:
                buf = memoryview(bytearray(BLOCK))
                while True:
                    want = BLOCK if limit is None else min(BLOCK, limit - sent)
                    if want <= 0:
                        break
                    got = resp.readinto(buf[:want])
                    if not got:
                        break
                    if rechunk:
                        self.wfile.write(b"%x\r\n" % got)
                    self.wfile.write(buf[:got])
                    if rechunk:
                        self.wfile.write(b"\r\n")
                    sent += got
                if rechunk and limit is None:
                    self.wfile.write(b"0\r\n\r\n")
            else:
                resp.read()
        except OSError as e:
            log.info("%s %s: client went away after %d bytes (%s)", self.command, self.path, sent, e)
            self.close_connection = True
            self._close_upstream()
            return sent
        if limit is not None:
            self._close_upstream()  # response only partly read
            self._cut(rule["action"], sent)
        elif resp.will_close:
            self._close_upstream()
        return sent

    def _cut(self, action, sent):
        self.close_connection = True
        where = "before the status line" if sent < 0 else f"after {sent} body bytes"
        if action == "reset":
            log.info("FAULT %s %s -> reset %s", self.command, self.path, where)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()  # SO_LINGER 0 -> RST
        else:
            log.info("FAULT %s %s -> connection closed %s", self.command, self.path, where)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        log.exception("unhandled error with client %s", client_address)


# --------------------------------------------------------------------------- self-test
def self_test():
    """AWS's published SigV4 S3 examples (AKIAIOSFODNN7EXAMPLE, 20130524) + negatives."""
    ak, sk = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    cfg = Config({ak: sk}, region="us-east-1")
    now = calendar.timegm((2013, 5, 24, 0, 5, 0))
    cred = f"{ak}/20130524/us-east-1/s3/aws4_request"
    e3b = EMPTY_SHA256

    def hdrs(pairs):
        m = HTTPHeaders()
        for k, v in pairs:
            m[k] = v
        return m

    def authz(signed, sig):
        return f"AWS4-HMAC-SHA256 Credential={cred},SignedHeaders={signed},Signature={sig}"

    ok = True

    def expect(name, fn, code=None):
        nonlocal ok
        try:
            fn()
            got = None
        except S3Error as e:
            got = e.code
        good = got == code
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {name}: {got or 'accepted'}")

    vhost = "examplebucket.s3.amazonaws.com"
    get_obj = [("Host", vhost), ("Range", "bytes=0-9"), ("x-amz-content-sha256", e3b),
               ("x-amz-date", "20130524T000000Z")]
    sig_get = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    expect("GET object (header auth)", lambda: verify_request("GET", "/test.txt", hdrs(
        get_obj + [("Authorization", authz("host;range;x-amz-content-sha256;x-amz-date", sig_get))]), cfg, now))
    expect("GET object, wrong secret", lambda: verify_request("GET", "/test.txt", hdrs(
        get_obj + [("Authorization", authz("host;range;x-amz-content-sha256;x-amz-date", sig_get))]),
        Config({ak: sk + "x"}), now), "SignatureDoesNotMatch")
    expect("GET object, range changed", lambda: verify_request("GET", "/test.txt", hdrs(
        [("Host", vhost), ("Range", "bytes=0-10"), ("x-amz-content-sha256", e3b),
         ("x-amz-date", "20130524T000000Z"),
         ("Authorization", authz("host;range;x-amz-content-sha256;x-amz-date", sig_get))]), cfg, now),
        "SignatureDoesNotMatch")
    expect("GET object, 20 min later", lambda: verify_request("GET", "/test.txt", hdrs(
        get_obj + [("Authorization", authz("host;range;x-amz-content-sha256;x-amz-date", sig_get))]),
        cfg, now + 1200), "RequestTimeTooSkewed")
    expect("GET object, unsigned x-amz-meta header", lambda: verify_request("GET", "/test.txt", hdrs(
        get_obj + [("x-amz-meta-a", "b"),
                   ("Authorization", authz("host;range;x-amz-content-sha256;x-amz-date", sig_get))]),
        cfg, now), "AccessDenied")
    put = [("Host", vhost), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
           ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
           ("x-amz-content-sha256", hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()),
           ("Authorization", authz("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                                   "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))]
    expect("PUT /test%24file.text", lambda: verify_request("PUT", "/test%24file.text", hdrs(put), cfg, now))
    expect("PUT /test$file.text (raw $, same canonical URI)",
           lambda: verify_request("PUT", "/test$file.text", hdrs(put), cfg, now))
    expect("PUT /test%2524file.text (double-encoded: different key)",
           lambda: verify_request("PUT", "/test%2524file.text", hdrs(put), cfg, now), "SignatureDoesNotMatch")
    base = [("Host", vhost), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", e3b)]
    expect("GET ?lifecycle", lambda: verify_request("GET", "/?lifecycle", hdrs(base + [(
        "Authorization", authz("host;x-amz-content-sha256;x-amz-date",
                               "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))]), cfg, now))
    lst = authz("host;x-amz-content-sha256;x-amz-date",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    expect("GET ?max-keys=2&prefix=J", lambda: verify_request(
        "GET", "/?max-keys=2&prefix=J", hdrs(base + [("Authorization", lst)]), cfg, now))
    expect("GET ?prefix=J&max-keys=2 (order irrelevant)", lambda: verify_request(
        "GET", "/?prefix=J&max-keys=2", hdrs(base + [("Authorization", lst)]), cfg, now))
    expect("GET ?max-keys=3&prefix=J", lambda: verify_request(
        "GET", "/?max-keys=3&prefix=J", hdrs(base + [("Authorization", lst)]), cfg, now),
        "SignatureDoesNotMatch")
    pre = ("/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F"
           "20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
           "&X-Amz-SignedHeaders=host&X-Amz-Signature="
           "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    expect("presigned GET", lambda: verify_request("GET", pre, hdrs([("Host", vhost)]), cfg, now))
    expect("presigned GET, other key", lambda: verify_request(
        "GET", pre.replace("/test.txt", "/test2.txt"), hdrs([("Host", vhost)]), cfg, now),
        "SignatureDoesNotMatch")
    expect("presigned GET, expired", lambda: verify_request(
        "GET", pre, hdrs([("Host", vhost)]), cfg, now + 86400), "AccessDenied")

    # aws-chunked PUT: 65536 + 1024 bytes of 'a' in 64 KiB chunks
    chunk_hdrs = [("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
                  ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                  ("x-amz-content-sha256", STREAMING_SIGNED), ("Content-Encoding", "aws-chunked"),
                  ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
                  ("Authorization", authz("content-encoding;content-length;host;x-amz-content-sha256;"
                                          "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
                                          "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"))]
    sigs = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]

    def chunk_body(data=b"a" * 66560):
        out = b""
        for part, sig in zip((data[:65536], data[65536:], b""), sigs):
            out += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(part), sig.encode(), part)
        return out

    def run_chunked(body):
        auth = verify_request("PUT", "/examplebucket/chunkObject.txt", hdrs(chunk_hdrs), cfg, now)
        sink = io.BytesIO()
        decode_aws_chunked(LimitedReader(io.BytesIO(body), len(body)), auth, sink.write, 66560)
        assert sink.getvalue() == b"a" * 66560

    expect("aws-chunked PUT (seed + 3 chunk signatures)", lambda: run_chunked(chunk_body()))
    expect("aws-chunked PUT, one byte changed", lambda: run_chunked(
        chunk_body(b"a" * 65535 + b"b" + b"a" * 1024)), "SignatureDoesNotMatch")
    expect("aws-chunked PUT, wrong secret", lambda: verify_request(
        "PUT", "/examplebucket/chunkObject.txt", hdrs(chunk_hdrs), Config({ak: "nope"}), now),
        "SignatureDoesNotMatch")
    print("self-test:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description="SigV4-verifying, fault-injecting proxy in front "
                                 "of s3rver (see the header of this file)")
    ap.add_argument("--port", type=int, default=4570, help="listen port on --listen (0 = any free)")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--upstream", default="127.0.0.1:4569", help="s3rver HOST:PORT")
    ap.add_argument("--cred", action="append", metavar="AK:SECRET",
                    help="accepted access key and secret (repeatable; default S3RVER:S3RVER)")
    ap.add_argument("--region", help="require this region in the credential scope (default: any)")
    ap.add_argument("--max-skew", type=int, default=900, help="seconds (default 900 = 15 min)")
    ap.add_argument("--allow-anonymous", action="store_true", help="forward unsigned requests")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--spool-dir", help="temp dir for spooled request bodies over 16 MiB")
    ap.add_argument("--upstream-timeout", type=float, default=300)
    ap.add_argument("--s3rver-data", help="s3rver's data directory: answer ListMultipartUploads "
                    "and AbortMultipartUpload (which s3rver 3.7.1 lacks) from its upload folders")
    ap.add_argument("-q", "--quiet", action="store_true", help="log only rejections and faults")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--self-test", action="store_true", help="run AWS test vectors and exit")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.WARNING if a.quiet else logging.INFO,
                        format="%(asctime)s s3-verify-proxy %(levelname)s %(message)s", stream=sys.stderr)
    if a.quiet:
        log.setLevel(logging.WARNING)
    creds = {}
    for c in a.cred or ["S3RVER:S3RVER"]:
        k, sep, s = c.partition(":")
        if not sep:
            ap.error("--cred wants AK:SECRET")
        creds[k] = s
    host, _, port = a.upstream.rpartition(":")
    srv = Server((a.listen, a.port), Handler)
    srv.cfg = Config(creds, a.region, a.max_skew, a.allow_anonymous)
    srv.upstream = (host or "127.0.0.1", int(port))
    srv.upstream_timeout = a.upstream_timeout
    srv.spool_dir = a.spool_dir
    srv.s3rver_data = a.s3rver_data
    srv.faults = Faults()
    bound = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(f"{bound}\n")
        os.replace(a.port_file + ".tmp", a.port_file)
    print(f"s3-verify-proxy: listening on http://{a.listen}:{bound} -> upstream "
          f"http://{srv.upstream[0]}:{srv.upstream[1]}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
