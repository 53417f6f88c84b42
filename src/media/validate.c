/*
 * validate.c — hubfs_media_validate(): is this file a video we accept, and what is in it.
 *
 * The checks run cheapest first, and each one that fails gives the reason in words:
 *   1. the file opens and is not empty (our own open(2), so errno survives);
 *   2. the content, never the name, is probed (no file name reaches the probe) and the
 *      demuxer must be one of mov, avi, matroska, flv, asf — anything else is refused
 *      before its demuxer ever parses the file;
 *   3. the header is read; stream details are only analysed (avformat_find_stream_info,
 *      bounded) when the header leaves something out, so a faststart mp4 of any size costs
 *      the moov and one frame;
 *   4. a video stream that is not an attached picture;
 *   5. the data is all there: the index (mov sample tables, cues, ...) ends inside the
 *      file, and so does the size the header records (matroska Segment, AVI RIFF, ASF
 *      file properties, FLV onMetaData) — a copy cut short is refused;
 *   6. the first video frame decodes, and the stream is more than one still picture;
 *   7. a positive duration.
 * The container name is refined beyond the demuxer's: the mov family by major brand, and
 * matroska vs webm by the EBML DocType read from the first bytes.
 *
 * Owns nothing between calls. Any thread may call it concurrently: every call has its own
 * file descriptor, AVIOContext, demuxer and decoder, and touches no global state. FFmpeg's
 * log output goes wherever hubfs_media_init() routed it (see avlog.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>

#include "hubfs/media.h"

/* Bytes read up front: the EBML header, ASF header objects, FLV onMetaData are within. */
#define MEDIA_HEAD_BYTES 4096
/* The AVIOContext buffer; larger reads go straight to the caller's buffer. */
#define MEDIA_IO_BUFFER (64 * 1024)
/* Bounds of avformat_find_stream_info when we need it: a few MB, a couple of seconds. */
#define MEDIA_PROBESIZE (2 * 1024 * 1024)
#define MEDIA_ANALYZE_US (2 * AV_TIME_BASE)
/*
 * Bounds of the first-frame decode: a stream that starts with undecodable frames gets a
 * GOP or two to recover; after that (or that many bytes) it is refused.
 */
#define MEDIA_MAX_VIDEO_PACKETS 600
#define MEDIA_MAX_PACKETS 6000
#define MEDIA_MAX_BYTES (256 * 1024 * 1024)

/* The file as FFmpeg sees it, through our own AVIOContext. */
struct media_io {
	int fd;
	int64_t size; /* fstat at open: the staged file no longer changes */
	int64_t pos;
	int err; /* errno of the first failed read, 0 if none */
};

/* One validation: everything released by media_release(). */
struct media_job {
	struct media_io io;
	uint8_t head[MEDIA_HEAD_BYTES];
	size_t headlen;
	AVIOContext *pb;
	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	char *why;
	size_t whylen;
};

/* What the first-frame decode learned. */
struct media_decoded {
	int width, height;
	bool still; /* the stream ended after one picture */
};

static void media_why(struct media_job *job, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void media_why(struct media_job *job, const char *fmt, ...)
{
	va_list ap;

	if (!job->why || !job->whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(job->why, job->whylen, fmt, ap);
	va_end(ap);
}

/* A negative errno for an I/O failure of ours: the errno, -EIO if it has none. */
static int media_io_fail(struct media_job *job, int err, const char *what)
{
	char buf[128];

	if (err <= 0)
		err = EIO;
	media_why(job, "%s: %s", what, strerror_r(err, buf, sizeof(buf)));
	return -err;
}

/*
 * Map an FFmpeg error once, here: a failed read of ours is I/O (its errno), ENOMEM is
 * ENOMEM, anything else is the content's fault (-EINVAL, with @what and FFmpeg's words).
 */
static int media_averr(struct media_job *job, int averr, const char *what)
{
	char msg[AV_ERROR_MAX_STRING_SIZE];

	if (job->io.err)
		return media_io_fail(job, job->io.err, "read error");
	if (averr == AVERROR(ENOMEM)) {
		media_why(job, "out of memory");
		return -ENOMEM;
	}
	if (averr == AVERROR_EOF || averr == AVERROR(EIO)) {
		/* not our read: the demuxer ran out of data where it needed more */
		media_why(job, "%s: unexpected end of data (truncated?)", what);
		return -EINVAL;
	}
	av_strerror(averr, msg, sizeof(msg));
	if (msg[0] >= 'A' && msg[0] <= 'Z')
		msg[0] = (char)(msg[0] - 'A' + 'a');
	media_why(job, "%s: %s", what, msg);
	return -EINVAL;
}

static int media_io_read(void *opaque, uint8_t *buf, int len)
{
	struct media_io *io = opaque;
	ssize_t n;

	do
		n = pread(io->fd, buf, (size_t)len, io->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (!io->err)
			io->err = errno;
		return AVERROR(io->err);
	}
	if (n == 0)
		return AVERROR_EOF;
	io->pos += n;
	return (int)n;
}

static int64_t media_io_seek(void *opaque, int64_t offset, int whence)
{
	struct media_io *io = opaque;
	int64_t pos;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return io->size;
	case SEEK_SET:
		pos = offset;
		break;
	case SEEK_CUR:
		pos = io->pos + offset;
		break;
	case SEEK_END:
		pos = io->size + offset;
		break;
	default:
		return AVERROR(EINVAL);
	}
	if (pos < 0)
		return AVERROR(EINVAL);
	io->pos = pos;
	return pos;
}

/* Demuxers may not open other files (mov drefs, playlists): the file is all there is. */
static int media_io_open_denied(struct AVFormatContext *s, AVIOContext **pb, const char *url,
				int flags, AVDictionary **options)
{
	(void)s;
	(void)pb;
	(void)url;
	(void)flags;
	(void)options;
	return AVERROR(EPERM);
}

enum media_family { MEDIA_OTHER, MEDIA_MOV, MEDIA_AVI, MEDIA_MKV, MEDIA_FLV, MEDIA_ASF };

static enum media_family media_family_of(const char *demuxer)
{
	static const struct {
		const char *name;
		enum media_family family;
	} known[] = {
		{ "mov,mp4,m4a,3gp,3g2,mj2", MEDIA_MOV },
		{ "avi", MEDIA_AVI },
		{ "matroska,webm", MEDIA_MKV },
		{ "flv", MEDIA_FLV },
		{ "live_flv", MEDIA_FLV },
		{ "asf", MEDIA_ASF },
		{ "asf_o", MEDIA_ASF },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(demuxer, known[i].name))
			return known[i].family;
	return MEDIA_OTHER;
}

/*
 * One EBML variable-length number at *@off (an element ID keeps its length marker, a size
 * loses it). Returns 0 and advances *@off, or -1 when it does not fit in @len bytes.
 */
static int media_ebml_num(const uint8_t *p, size_t len, size_t *off, int maxlen, bool is_id,
			  uint64_t *val)
{
	int n = 1;
	uint64_t v;

	if (*off >= len || !p[*off])
		return -1;
	while (n <= 8 && !(p[*off] & (0x80 >> (n - 1))))
		n++;
	if (n > maxlen || (size_t)n > len - *off)
		return -1;
	v = is_id ? p[*off] : (p[*off] & (0xffu >> n));
	for (int i = 1; i < n; i++)
		v = v << 8 | p[*off + (size_t)i];
	*off += (size_t)n;
	*val = v;
	return 0;
}

/*
 * "webm" when the EBML header's DocType says so, else "mkv". The demuxer serves both and
 * does not tell which, so read the header ourselves; it is at offset 0 (the demuxer's own
 * probe insists on that).
 */
static const char *media_matroska_name(const uint8_t *p, size_t len)
{
	size_t off = 0, end;
	uint64_t id, size;

	if (media_ebml_num(p, len, &off, 4, true, &id) || id != 0x1A45DFA3 ||
	    media_ebml_num(p, len, &off, 8, false, &size))
		return "mkv";
	end = size < len - off ? off + (size_t)size : len;
	while (off < end) {
		if (media_ebml_num(p, end, &off, 4, true, &id) ||
		    media_ebml_num(p, end, &off, 8, false, &size) || size > end - off)
			break;
		if (id == 0x4282) { /* DocType, a string, maybe NUL-padded */
			bool webm = size >= 4 && !memcmp(p + off, "webm", 4) &&
				    (size == 4 || !p[off + 4]);

			return webm ? "webm" : "mkv";
		}
		off += (size_t)size;
	}
	return "mkv";
}

static uint32_t media_rl32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t media_rl64(const uint8_t *p)
{
	return (uint64_t)media_rl32(p) | (uint64_t)media_rl32(p + 4) << 32;
}

/*
 * The size the matroska Segment declares, from the first bytes: its end offset, or 0 when
 * unknown (a live or interrupted write leaves the "unknown" size; then nothing is claimed).
 */
static uint64_t media_matroska_end(const uint8_t *p, size_t len)
{
	size_t off = 0;
	uint64_t id, size;

	while (off < len) {
		size_t start = off;

		if (media_ebml_num(p, len, &off, 4, true, &id) ||
		    media_ebml_num(p, len, &off, 8, false, &size))
			return 0;
		if (id == 0x18538067) {             /* Segment */
			size_t n = off - start - 4; /* length of the size field */

			if (size == (UINT64_MAX >> (64 - 7 * n)))
				return 0;
			return off + size;
		}
		if (size > len - off)
			return 0;
		off += (size_t)size; /* EBML header, Void */
	}
	return 0;
}

/* The file size the ASF File Properties object records; 0 when unknown or broadcast. */
static uint64_t media_asf_end(const uint8_t *p, size_t len)
{
	static const uint8_t header_guid[16] = { 0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11,
						 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62, 0xce, 0x6c };
	static const uint8_t props_guid[16] = { 0xa1, 0xdc, 0xab, 0x8c, 0x47, 0xa9, 0xcf, 0x11,
						0x8e, 0xe4, 0x00, 0xc0, 0x0c, 0x20, 0x53, 0x65 };
	size_t off = 30; /* header object: GUID, size, object count, 2 reserved bytes */

	if (len < off || memcmp(p, header_guid, 16))
		return 0;
	while (off + 24 <= len) {
		uint64_t size = media_rl64(p + off + 16);

		if (!memcmp(p + off, props_guid, 16)) {
			if (off + 92 > len || (media_rl32(p + off + 88) & 1)) /* broadcast flag */
				return 0;
			return media_rl64(p + off + 40);
		}
		if (size < 24 || size > len - off)
			return 0;
		off += (size_t)size;
	}
	return 0;
}

/*
 * The "filesize" an FLV's onMetaData records (FFmpeg and most writers put it there when
 * they can seek back); 0 when absent. The script tag comes first, within the first bytes.
 */
static uint64_t media_flv_end(const uint8_t *p, size_t len)
{
	static const uint8_t key[] = { 0x00, 0x08, 'f', 'i', 'l', 'e', 's', 'i', 'z', 'e', 0x00 };
	const uint8_t *hit;
	size_t off, tag;
	uint64_t bits = 0;
	double v;

	if (len < 9 || memcmp(p, "FLV", 3))
		return 0;
	off = (size_t)p[5] << 24 | (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
	off += 4;                                        /* PreviousTagSize0 */
	if (off > len || len - off < 11 || p[off] != 18) /* a script data tag */
		return 0;
	tag = (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
	off += 11;
	if (tag > len - off)
		tag = len - off;
	hit = memmem(p + off, tag, key, sizeof(key));
	if (!hit || (size_t)(p + off + tag - hit) < sizeof(key) + 8)
		return 0;
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | hit[sizeof(key) + (size_t)i];
	memcpy(&v, &bits, sizeof(v));
	return v > 0 && v < 0x1p62 ? (uint64_t)v : 0;
}

/*
 * Is the file shorter than its container says? The matroska Segment, the AVI RIFF chunk,
 * the ASF and FLV file sizes are recorded when the writer finishes; a copy cut short keeps
 * the claim. Placeholder values (unknown size, 0, 0xffffffff) claim nothing.
 */
static bool media_shorter_than_declared(const struct media_job *job, enum media_family family)
{
	const uint8_t *p = job->head;
	uint64_t end = 0;

	switch (family) {
	case MEDIA_MKV:
		end = media_matroska_end(p, job->headlen);
		break;
	case MEDIA_AVI:
		if (job->headlen >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "AVI ", 4) &&
		    media_rl32(p + 4) != 0 && media_rl32(p + 4) != UINT32_MAX)
			end = 8 + (uint64_t)media_rl32(p + 4);
		break;
	case MEDIA_ASF:
		end = media_asf_end(p, job->headlen);
		break;
	case MEDIA_FLV:
		end = media_flv_end(p, job->headlen);
		break;
	default:
		break;
	}
	return end > (uint64_t)job->io.size;
}

/* mov by major brand: 'qt  ' is QuickTime, 'M4V?' is m4v, no ftyp at all is QuickTime. */
static const char *media_mov_name(const AVFormatContext *fmt)
{
	const AVDictionaryEntry *brand = av_dict_get(fmt->metadata, "major_brand", NULL, 0);

	if (!brand)
		return "mov";
	if (!strncmp(brand->value, "qt", 2))
		return "mov";
	if (!strncmp(brand->value, "M4V", 3))
		return "m4v";
	return "mp4";
}

/* Top-level boxes of a mov-family file, for the reason when the demuxer gave up. */
enum media_moov { MEDIA_MOOV_NONE, MEDIA_MOOV_CUT, MEDIA_MOOV_OK };

static enum media_moov media_find_moov(const struct media_io *io)
{
	int64_t off = 0;
	uint8_t b[16];

	for (int i = 0; i < 10000 && off + 8 <= io->size; i++) {
		uint64_t size;
		ssize_t n = pread(io->fd, b, sizeof(b), off);

		if (n < 8)
			break;
		size = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
		if (size == 1) {
			if (n < 16)
				break;
			size = 0;
			for (int k = 8; k < 16; k++)
				size = size << 8 | b[k];
		} else if (size == 0) {
			size = (uint64_t)(io->size - off);
		}
		if (!memcmp(b + 4, "moov", 4))
			return size > (uint64_t)(io->size - off) ? MEDIA_MOOV_CUT : MEDIA_MOOV_OK;
		if (size < 8 || size > (uint64_t)(io->size - off))
			break;
		off += (int64_t)size;
	}
	return MEDIA_MOOV_NONE;
}

/* Codecs whose "video" may be one picture: such a stream must have a second frame. */
static bool media_still_codec(enum AVCodecID id)
{
	switch (id) {
	case AV_CODEC_ID_PNG:
	case AV_CODEC_ID_APNG:
	case AV_CODEC_ID_MJPEG:
	case AV_CODEC_ID_JPEGLS:
	case AV_CODEC_ID_JPEG2000:
	case AV_CODEC_ID_BMP:
	case AV_CODEC_ID_TIFF:
	case AV_CODEC_ID_WEBP:
	case AV_CODEC_ID_GIF:
	case AV_CODEC_ID_JPEGXL:
	case AV_CODEC_ID_QOI:
		return true;
	default:
		return false;
	}
}

/*
 * The video stream to validate: the first that is not an attached picture, preferring a
 * codec that cannot be a still image. -1 when there is none.
 */
static int media_pick_video(const AVFormatContext *fmt)
{
	int first = -1;

	for (unsigned int i = 0; i < fmt->nb_streams; i++) {
		const AVStream *st = fmt->streams[i];

		if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
		    (st->disposition &
		     (AV_DISPOSITION_ATTACHED_PIC | AV_DISPOSITION_TIMED_THUMBNAILS)))
			continue;
		if (!media_still_codec(st->codecpar->codec_id))
			return (int)i;
		if (first < 0)
			first = (int)i;
	}
	return first;
}

static int media_pick_audio(const AVFormatContext *fmt)
{
	for (unsigned int i = 0; i < fmt->nb_streams; i++)
		if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
			return (int)i;
	return -1;
}

/* Seconds, from the container or else the longest stream; 0 when zero, -1 when unknown. */
static double media_duration(const AVFormatContext *fmt)
{
	double best = -1;

	if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
		return (double)fmt->duration / AV_TIME_BASE;
	if (fmt->duration == 0)
		best = 0;
	for (unsigned int i = 0; i < fmt->nb_streams; i++) {
		const AVStream *st = fmt->streams[i];
		double d;

		if (st->duration == AV_NOPTS_VALUE || st->duration < 0 ||
		    (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
			continue;
		d = (double)st->duration * av_q2d(st->time_base);
		if (d > best)
			best = d;
	}
	return best;
}

/*
 * A header without a duration (a browser's MediaRecorder webm, ffmpeg writing to a pipe, an
 * OBS recording cut short): demux the rest of the video stream, without decoding, and take
 * the end of its last packet. Costs one read of the file, only for such files. -1 if no
 * packet carries a timestamp.
 */
static double media_scan_duration(struct media_job *job, int vidx)
{
	const AVStream *st = job->fmt->streams[vidx];
	int64_t first = AV_NOPTS_VALUE, end = AV_NOPTS_VALUE;

	for (;;) {
		int rc = av_read_frame(job->fmt, job->pkt);

		if (rc < 0)
			break;
		if (job->pkt->stream_index == vidx && job->pkt->pts != AV_NOPTS_VALUE) {
			int64_t e =
				job->pkt->pts + (job->pkt->duration > 0 ? job->pkt->duration : 0);

			if (first == AV_NOPTS_VALUE || job->pkt->pts < first)
				first = job->pkt->pts;
			if (end == AV_NOPTS_VALUE || e > end)
				end = e;
		}
		av_packet_unref(job->pkt);
	}
	if (end == AV_NOPTS_VALUE)
		return -1;
	if (st->start_time != AV_NOPTS_VALUE && st->start_time < first)
		first = st->start_time;
	return (double)(end - first) * av_q2d(st->time_base);
}

/*
 * Does the header leave out something we report? Then avformat_find_stream_info must read
 * packets (bounded). FLV has no header at all: its streams appear with their packets.
 */
static bool media_needs_stream_info(const AVFormatContext *fmt, enum media_family family)
{
	int v = media_pick_video(fmt);
	const AVStream *st;

	if ((fmt->ctx_flags & AVFMTCTX_NOHEADER) || family == MEDIA_FLV || v < 0)
		return true;
	st = fmt->streams[v];
	if (!st->codecpar->width || !st->codecpar->height)
		return true;
	/* asf, and matroska without a default duration: the rate comes from timestamps */
	if (st->avg_frame_rate.num <= 0 && st->r_frame_rate.num <= 0)
		return true;
	for (unsigned int i = 0; i < fmt->nb_streams; i++) {
		enum AVMediaType t = fmt->streams[i]->codecpar->codec_type;

		if ((t == AVMEDIA_TYPE_VIDEO || t == AVMEDIA_TYPE_AUDIO) &&
		    fmt->streams[i]->codecpar->codec_id == AV_CODEC_ID_NONE)
			return true;
	}
	return media_duration(fmt) <= 0;
}

/*
 * The index (mov sample tables, matroska cues, flv keyframe lists, avi idx1) must end inside
 * the file, or the data it points at is missing: a faststart mp4 cut short keeps its whole
 * index and still decodes its first frame.
 */
static bool media_index_past_eof(AVFormatContext *fmt, int64_t size)
{
	for (unsigned int i = 0; i < fmt->nb_streams; i++) {
		AVStream *st = fmt->streams[i];
		int n = avformat_index_get_entries_count(st);

		for (int k = 0; k < n; k++) {
			const AVIndexEntry *e = avformat_index_get_entry(st, k);

			if (e && e->pos + e->size > size)
				return true;
		}
	}
	return false;
}

/* Receive what the decoder has; 1 when a frame came out, 0 when none yet, or -E*. */
static int media_receive(struct media_job *job, struct media_decoded *out)
{
	int rc;

	rc = avcodec_receive_frame(job->dec, job->frame);
	if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
		return 0;
	if (rc == AVERROR(ENOMEM))
		return media_averr(job, rc, "decode");
	if (rc < 0) /* a broken frame: the caller keeps trying up to its bound */
		return 0;
	out->width = job->frame->width;
	out->height = job->frame->height;
	av_frame_unref(job->frame);
	return 1;
}

/*
 * A decoder that reorders frames (h264 with B-frames) holds its first picture back until
 * it has seen several more packets: a 1080p stream would cost three or four frame decodes.
 * Drain it right after the first packet instead, which hands that picture out at once. If
 * nothing comes (the stream does not start with a picture that stands alone), reset the
 * decoder and let the caller go on packet by packet. 1 / 0 / -E*, as media_receive().
 */
static int media_drain_first(struct media_job *job, struct media_decoded *out)
{
	int rc;

	rc = avcodec_send_packet(job->dec, NULL);
	if (rc == 0)
		rc = media_receive(job, out);
	if (rc == 0)
		avcodec_flush_buffers(job->dec);
	return rc;
}

/*
 * Decode the first frame of stream @vidx. For a codec that may be a still image, also
 * read on until a second packet of the stream shows up (or it ends: a still).
 */
static int media_decode_first(struct media_job *job, int vidx, struct media_decoded *out)
{
	AVStream *st = job->fmt->streams[vidx];
	const AVCodec *codec;
	/* nb_frames: 0 when the container does not say (matroska) */
	bool count = media_still_codec(st->codecpar->codec_id) && st->nb_frames == 0;
	bool got = false, eof = false;
	int64_t bytes = 0;
	int vpkts = 0, rc;

	out->still = st->nb_frames == 1 && media_still_codec(st->codecpar->codec_id);
	if (st->codecpar->codec_id == AV_CODEC_ID_NONE) {
		media_why(job, "unknown video codec");
		return -EINVAL;
	}
	codec = avcodec_find_decoder(st->codecpar->codec_id);
	if (!codec) {
		media_why(job, "no decoder for video codec '%s'",
			  avcodec_get_name(st->codecpar->codec_id));
		return -EINVAL;
	}
	job->dec = avcodec_alloc_context3(codec);
	if (!job->dec)
		return media_averr(job, AVERROR(ENOMEM), "decoder");
	rc = avcodec_parameters_to_context(job->dec, st->codecpar);
	if (rc < 0)
		return media_averr(job, rc, "video decoder");
	job->dec->thread_count = 1;
	/* Decodability is the question, not picture quality: skip the deblocking work. */
	job->dec->skip_loop_filter = AVDISCARD_ALL;
	job->dec->pkt_timebase = st->time_base;
	rc = avcodec_open2(job->dec, codec, NULL);
	if (rc < 0)
		return media_averr(job, rc, "video decoder does not open");
	/* Only this stream's packets matter now; demuxers skip the others' data. */
	for (unsigned int i = 0; i < job->fmt->nb_streams; i++)
		if ((int)i != vidx)
			job->fmt->streams[i]->discard = AVDISCARD_ALL;

	for (int pkts = 0; pkts < MEDIA_MAX_PACKETS && !(got && (!count || vpkts > 1)); pkts++) {
		rc = av_read_frame(job->fmt, job->pkt);
		if (rc == AVERROR_EOF) {
			eof = true;
			break;
		}
		if (rc < 0) {
			if (job->io.err || rc == AVERROR(ENOMEM))
				return media_averr(job, rc, "read");
			break; /* unreadable from here on: judged by what decoded so far */
		}
		if (job->pkt->stream_index != vidx) {
			av_packet_unref(job->pkt);
			continue;
		}
		vpkts++;
		bytes += job->pkt->size;
		if (!got) {
			rc = avcodec_send_packet(job->dec, job->pkt);
			if (rc == AVERROR(ENOMEM)) {
				av_packet_unref(job->pkt);
				return media_averr(job, rc, "decode");
			}
			rc = media_receive(job, out);
			if (rc == 0 && vpkts == 1)
				rc = media_drain_first(job, out);
			if (rc < 0) {
				av_packet_unref(job->pkt);
				return rc;
			}
			got = rc > 0;
		}
		av_packet_unref(job->pkt);
		if (vpkts >= MEDIA_MAX_VIDEO_PACKETS || bytes >= MEDIA_MAX_BYTES)
			break;
	}
	if (!got) {
		/* Drain: a decoder with reordering delay holds its first frame back. */
		rc = avcodec_send_packet(job->dec, NULL);
		if (rc == 0)
			rc = media_receive(job, out);
		if (rc < 0)
			return rc;
		got = rc > 0;
	}
	if (!got) {
		media_why(job, "first video frame does not decode");
		return -EINVAL;
	}
	if (count && eof && vpkts == 1)
		out->still = true;
	return 0;
}

static void media_release(struct media_job *job)
{
	av_frame_free(&job->frame);
	av_packet_free(&job->pkt);
	avcodec_free_context(&job->dec);
	avformat_close_input(&job->fmt);
	if (job->pb)
		av_freep(&job->pb->buffer);
	avio_context_free(&job->pb);
	if (job->io.fd >= 0)
		close(job->io.fd);
}

/* Open the file ourselves: errno survives, and FFmpeg never sees the name. */
static int media_open_file(struct media_job *job, const char *path)
{
	struct stat sb;
	ssize_t n;

	job->io.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (job->io.fd < 0)
		return media_io_fail(job, errno, "cannot open");
	if (fstat(job->io.fd, &sb))
		return media_io_fail(job, errno, "cannot stat");
	if (S_ISDIR(sb.st_mode)) {
		media_why(job, "is a directory");
		return -EISDIR;
	}
	if (!S_ISREG(sb.st_mode)) {
		media_why(job, "not a regular file");
		return -EINVAL;
	}
	if (sb.st_size == 0) {
		media_why(job, "empty file");
		return -EINVAL;
	}
	job->io.size = sb.st_size;
	do
		n = pread(job->io.fd, job->head, sizeof(job->head), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return media_io_fail(job, errno, "read error");
	job->headlen = (size_t)n;
	return 0;
}

/* Probe the content and read the header, refusing other demuxers before they run. */
static int media_open_input(struct media_job *job, enum media_family *family)
{
	const AVInputFormat *ifmt = NULL;
	uint8_t *buf;
	int rc;

	buf = av_malloc(MEDIA_IO_BUFFER);
	if (!buf)
		return media_averr(job, AVERROR(ENOMEM), "alloc");
	job->pb = avio_alloc_context(buf, MEDIA_IO_BUFFER, 0, &job->io, media_io_read, NULL,
				     media_io_seek);
	if (!job->pb) {
		av_free(buf);
		return media_averr(job, AVERROR(ENOMEM), "alloc");
	}
	rc = av_probe_input_buffer2(job->pb, &ifmt, "", NULL, 0, 0);
	if (rc < 0 || !ifmt) {
		if (job->io.err || rc == AVERROR(ENOMEM))
			return media_averr(job, rc, "probe");
		media_why(job, "unrecognised content, not a video container");
		return -EINVAL;
	}
	*family = media_family_of(ifmt->name);
	if (*family == MEDIA_OTHER) {
		media_why(job, "unrecognised container '%s'", ifmt->name);
		return -EINVAL;
	}

	job->fmt = avformat_alloc_context();
	if (!job->fmt)
		return media_averr(job, AVERROR(ENOMEM), "alloc");
	job->fmt->pb = job->pb;
	job->fmt->io_open = media_io_open_denied;
	job->fmt->probesize = MEDIA_PROBESIZE;
	job->fmt->max_analyze_duration = MEDIA_ANALYZE_US;
	rc = avformat_open_input(&job->fmt, "", ifmt, NULL); /* frees fmt on failure */
	if (rc < 0) {
		if (*family == MEDIA_MOV && !job->io.err && rc != AVERROR(ENOMEM)) {
			switch (media_find_moov(&job->io)) {
			case MEDIA_MOOV_NONE:
				media_why(job, "truncated or incomplete: moov atom not found");
				return -EINVAL;
			case MEDIA_MOOV_CUT:
				media_why(job,
					  "truncated: moov atom ends past the end of the file");
				return -EINVAL;
			case MEDIA_MOOV_OK:
				break;
			}
		}
		return media_averr(job, rc, "unreadable header");
	}
	return 0;
}

static void media_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

int hubfs_media_validate(const char *path, struct hubfs_media_info *info, char *why, size_t whylen)
{
	struct media_job job = { .io = { .fd = -1 }, .why = why, .whylen = whylen };
	struct media_decoded dec = { 0 };
	enum media_family family = MEDIA_OTHER;
	const char *container;
	AVStream *vst;
	double duration;
	int vidx, aidx, rc;

	memset(info, 0, sizeof(*info));
	if (why && whylen)
		why[0] = '\0';
	rc = media_open_file(&job, path);
	if (rc)
		goto out;
	rc = media_open_input(&job, &family);
	if (rc)
		goto out;

	if (media_needs_stream_info(job.fmt, family)) {
		rc = avformat_find_stream_info(job.fmt, NULL);
		if (rc < 0) {
			rc = media_averr(&job, rc, "stream analysis");
			goto out;
		}
	}
	vidx = media_pick_video(job.fmt);
	if (vidx < 0) {
		media_why(&job, "no video stream");
		rc = -EINVAL;
		goto out;
	}
	vst = job.fmt->streams[vidx];
	if (media_index_past_eof(job.fmt, job.io.size)) {
		media_why(&job, "truncated: media data ends past the end of the file");
		rc = -EINVAL;
		goto out;
	}
	if (media_shorter_than_declared(&job, family)) {
		media_why(&job, "truncated: the file is shorter than its header says");
		rc = -EINVAL;
		goto out;
	}

	job.pkt = av_packet_alloc();
	job.frame = av_frame_alloc();
	if (!job.pkt || !job.frame) {
		rc = media_averr(&job, AVERROR(ENOMEM), "alloc");
		goto out;
	}
	rc = media_decode_first(&job, vidx, &dec);
	if (rc)
		goto out;
	if (dec.still) {
		media_why(&job, "still image, not a video");
		rc = -EINVAL;
		goto out;
	}
	duration = media_duration(job.fmt);
	if (duration < 0)
		duration = media_scan_duration(&job, vidx);
	if (!(duration > 0)) {
		media_why(&job, duration < 0 ? "unknown duration" : "zero duration");
		rc = -EINVAL;
		goto out;
	}

	switch (family) {
	case MEDIA_MOV:
		container = media_mov_name(job.fmt);
		break;
	case MEDIA_MKV:
		container = media_matroska_name(job.head, job.headlen);
		break;
	case MEDIA_AVI:
		container = "avi";
		break;
	case MEDIA_FLV:
		container = "flv";
		break;
	default:
		container = "wmv";
		break;
	}
	info->duration = duration;
	info->width = vst->codecpar->width ? vst->codecpar->width : dec.width;
	info->height = vst->codecpar->height ? vst->codecpar->height : dec.height;
	if (vst->avg_frame_rate.num > 0 && vst->avg_frame_rate.den > 0)
		info->fps = av_q2d(vst->avg_frame_rate);
	else if (vst->r_frame_rate.num > 0 && vst->r_frame_rate.den > 0)
		info->fps = av_q2d(vst->r_frame_rate);
	else if (vst->nb_frames > 1 && vst->duration > 0 && vst->duration != AV_NOPTS_VALUE)
		info->fps =
			(double)vst->nb_frames / ((double)vst->duration * av_q2d(vst->time_base));
	media_copy(info->video_codec, sizeof(info->video_codec),
		   avcodec_get_name(vst->codecpar->codec_id));
	aidx = media_pick_audio(job.fmt);
	if (aidx >= 0)
		media_copy(info->audio_codec, sizeof(info->audio_codec),
			   avcodec_get_name(job.fmt->streams[aidx]->codecpar->codec_id));
	media_copy(info->container, sizeof(info->container), container);
	if (job.fmt->bit_rate > 0)
		info->bitrate = job.fmt->bit_rate;
	else
		info->bitrate = (int64_t)((double)job.io.size * 8 / duration);
	rc = 0;
out:
	media_release(&job);
	return rc;
}
