/*
 * log.c — the worker's log on fd 2: its own lines and FFmpeg's, one write(2) per line.
 *
 * Lines are "LEVEL text" ("info opened input ...", "warning [h264] ..."). FFmpeg's messages
 * at AV_LOG_WARNING or worse are kept (verbose with HUBFS_DEBUG=stream or all); a message
 * FFmpeg logs in pieces is assembled before it is written. URLs can carry secrets (an RTMP
 * stream key, user:password, a query token): our own lines only ever show URLs through
 * wk_url_redact(), and FFmpeg's lines have the registered secrets replaced by "<redacted>".
 * Also the mapping of FFmpeg's error codes to errno.
 *
 * Threads: any thread (FFmpeg's and x264's included) may log. The partial line and the
 * secrets are protected by log_lock; secrets are registered by the main thread before the
 * first FFmpeg call that could log them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "stream/worker/worker.h"

#define LOG_LINE_MAX 1024
#define LOG_SECRETS_MAX 16

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_partial[LOG_LINE_MAX]; /* an FFmpeg message not yet ended by '\n' */
static int log_partial_level;
static char *log_secrets[LOG_SECRETS_MAX]; /* substrings never to print */
static int log_nb_secrets;

/* ---- URLs ------------------------------------------------------------------------------ */

/*
 * Split @url (which holds "://") into what may be shown: [0, scheme_end) is "scheme://",
 * [host, shown_end) is host[:port][/app]; user info sits in [scheme_end, host - 1) when
 * host > scheme_end, and the secret rest (stream key, query) starts at shown_end.
 */
static void url_split(const char *url, const char *sep, size_t *host, size_t *shown_end)
{
	const char *auth = sep + 3;
	const char *end = auth + strcspn(auth, "/?#");
	const char *h = auth;

	for (const char *p = auth; p < end; p++) /* user info ends at the last '@' */
		if (*p == '@')
			h = p + 1;
	if (*end == '/') /* keep the first path component (the RTMP app), not the key */
		end = end + 1 + strcspn(end + 1, "/?#");
	*host = (size_t)(h - url);
	*shown_end = (size_t)(end - url);
}

void wk_url_redact(const char *url, char *out, size_t outlen)
{
	const char *sep = strstr(url, "://");
	size_t host, shown_end;

	if (!outlen)
		return;
	if (!sep) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	url_split(url, sep, &host, &shown_end);
	snprintf(out, outlen, "%.*s%.*s", (int)(sep + 3 - url), url, (int)(shown_end - host),
		 url + host);
}

static void log_secret_add(const char *s, size_t n)
{
	if (n < 4 || log_nb_secrets >= LOG_SECRETS_MAX)
		return; /* too short to hide without mangling ordinary words */
	log_secrets[log_nb_secrets] = strndup(s, n);
	if (log_secrets[log_nb_secrets])
		log_nb_secrets++;
}

void wk_log_add_secret(const char *url)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	const char *rest, *q, *colon;
	size_t host, shown_end, scheme_end;

	if (!sep)
		return;
	url_split(url, sep, &host, &shown_end);
	scheme_end = (size_t)(sep + 3 - url);
	rest = url + shown_end;
	if (*rest == '/' || *rest == '?')
		rest++;
	pthread_mutex_lock(&log_lock);
	/* longest first: the whole URL, then its secret parts alone */
	if (host > scheme_end || *rest)
		log_secret_add(url, strlen(url));
	if (host > scheme_end) {
		log_secret_add(url + scheme_end, host - 1 - scheme_end); /* user:password */
		colon = memchr(url + scheme_end, ':', host - 1 - scheme_end);
		if (colon)
			log_secret_add(colon + 1, (size_t)(url + host - 1 - colon - 1));
	}
	log_secret_add(rest, strlen(rest)); /* stream key and query */
	q = strchr(rest, '?');
	if (q) {
		log_secret_add(rest, (size_t)(q - rest)); /* the key alone */
		log_secret_add(q + 1, strlen(q + 1));     /* the query alone */
	}
	pthread_mutex_unlock(&log_lock);
}

void wk_log_release(void)
{
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < log_nb_secrets; i++) {
		free(log_secrets[i]);
		log_secrets[i] = NULL;
	}
	log_nb_secrets = 0;
	pthread_mutex_unlock(&log_lock);
}

/* Replace the secrets in @line (NUL-terminated, @len bytes of room). Caller holds log_lock. */
static void log_scrub(char *line, size_t len)
{
	static const char mark[] = "<redacted>";

	for (int i = 0; i < log_nb_secrets; i++) {
		size_t slen = strlen(log_secrets[i]);
		char *hit;

		if (!slen)
			continue;
		while ((hit = strstr(line, log_secrets[i]))) {
			size_t tail = strlen(hit + slen);
			size_t room = len - (size_t)(hit - line) - 1;
			size_t m = sizeof(mark) - 1;

			if (m > room)
				m = room;
			if (m + tail > room)
				tail = room - m;
			memmove(hit + m, hit + slen, tail);
			memcpy(hit, mark, m);
			hit[m + tail] = '\0';
		}
	}
}

/*
 * One line out: "LEVEL text\n" in a single write. @scrub: the text comes from FFmpeg and may
 * quote a URL (our own lines only ever show redacted ones). Caller holds log_lock.
 */
static void log_emit(const char *level, char *text, bool scrub)
{
	char line[LOG_LINE_MAX + 32];
	size_t n;
	ssize_t w;

	if (scrub)
		log_scrub(text, LOG_LINE_MAX);
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	n = (size_t)snprintf(line, sizeof(line) - 1, "%s %s", level, text);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	do {
		w = write(STDERR_FILENO, line, n);
	} while (w < 0 && errno == EINTR);
}

void wk_log(const char *level, const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	log_emit(level, text, false);
	pthread_mutex_unlock(&log_lock);
}

static const char *log_level_name(int level)
{
	if (level <= AV_LOG_ERROR)
		return "error";
	if (level <= AV_LOG_WARNING)
		return "warning";
	if (level <= AV_LOG_INFO)
		return "info";
	return "debug";
}

static void log_av_callback(void *avcl, int level, const char *fmt, va_list vl)
{
	char piece[LOG_LINE_MAX];
	int print_prefix = 0;
	size_t have, n;

	if (level > av_log_get_level())
		return;
	av_log_format_line2(avcl, level, fmt, vl, piece, sizeof(piece), &print_prefix);

	pthread_mutex_lock(&log_lock);
	have = strlen(log_partial);
	if (!have) {
		/* a new message: its own prefix, "[h264] ", without FFmpeg's pointer */
		AVClass *cls = avcl ? *(AVClass **)avcl : NULL;

		log_partial_level = level;
		if (cls && cls->item_name)
			snprintf(log_partial, sizeof(log_partial), "[%s] ", cls->item_name(avcl));
		have = strlen(log_partial);
	}
	snprintf(log_partial + have, sizeof(log_partial) - have, "%s", piece);
	n = strlen(log_partial);
	if (n && log_partial[n - 1] == '\n') {
		while (n && (log_partial[n - 1] == '\n' || log_partial[n - 1] == '\r'))
			log_partial[--n] = '\0';
		if (n)
			log_emit(log_level_name(log_partial_level), log_partial, true);
		log_partial[0] = '\0';
	} else if (n >= sizeof(log_partial) - 1) {
		log_emit(log_level_name(log_partial_level), log_partial, true);
		log_partial[0] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
}

void wk_log_init(void)
{
	const char *dbg = getenv("HUBFS_DEBUG");
	int level = AV_LOG_WARNING;

	if (dbg && (strstr(dbg, "stream") || strstr(dbg, "all")))
		level = AV_LOG_VERBOSE;
	av_log_set_level(level);
	av_log_set_callback(log_av_callback);
}

/* ---- FFmpeg error codes ---------------------------------------------------------------- */

int wk_av_errno(int averr)
{
	if (averr >= 0)
		return 0;
	switch (averr) {
	case AVERROR_EOF:
		return -ENODATA;
	case AVERROR_EXIT:
		return -EINTR;
	case AVERROR_INVALIDDATA:
	case AVERROR_BUG:
	case AVERROR_BUG2:
		return -EBADMSG;
	case AVERROR_DECODER_NOT_FOUND:
	case AVERROR_DEMUXER_NOT_FOUND:
	case AVERROR_ENCODER_NOT_FOUND:
	case AVERROR_MUXER_NOT_FOUND:
	case AVERROR_PROTOCOL_NOT_FOUND:
	case AVERROR_FILTER_NOT_FOUND:
	case AVERROR_OPTION_NOT_FOUND:
	case AVERROR_PATCHWELCOME:
		return -ENOTSUP;
	case AVERROR_STREAM_NOT_FOUND:
		return -ENOENT;
	case AVERROR_HTTP_NOT_FOUND:
		return -ENOENT;
	case AVERROR_HTTP_FORBIDDEN:
	case AVERROR_HTTP_UNAUTHORIZED:
		return -EACCES;
	default:
		break;
	}
	/* AVERROR(e) is -e on POSIX; FFmpeg's own tags are large negative FOURCCs */
	if (averr > -4096)
		return averr;
	return -EIO;
}

const char *wk_av_strerror(int averr, char *buf, size_t len)
{
	if (av_strerror(averr, buf, len) < 0)
		snprintf(buf, len, "error %d", averr);
	return buf;
}
