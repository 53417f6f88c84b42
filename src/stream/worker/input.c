/*
 * input.c — the stream's source, as decoded frames on one timeline that starts at 0.
 *
 *   testsrc  a libavfilter generator: testsrc2 at the target size and fps, and a 1 kHz sine
 *            (so the AAC path is always exercised); endless.
 *   file     the video on fd 3 (the daemon opened it through its backend): read with pread()
 *            through a custom AVIOContext, seekable (AVSEEK_SIZE from fstat); never reopened
 *            by path. loop=yes seeks back to the start at EOF and goes on with timestamps
 *            offset by the duration played so far.
 *   url      rtmp/rtsp/srt/http(s), live; the open and every read are bounded by
 *            io_timeout_ms (protocol options plus a deadline in the interrupt callback,
 *            which also gives up at once when a stop is requested).
 *   device   /dev/videoN through libavdevice's v4l2 demuxer, live.
 *
 * DESIGN
 * - Timeline: a frame's media time is its source time minus the source's start time plus
 *   the loop offset, so the first pass starts at 0 and every pass continues after the
 *   previous one. A jump of the source's clock (back more than 1 s, ahead more than 10 s)
 *   moves the offset so the timeline goes on; other video frames whose time does not
 *   advance are skipped, so filters and encoders only see increasing video timestamps.
 * - Bad input never ends the stream by itself: packets a decoder rejects are skipped and
 *   counted as dropped (video). A pass that yields no video frame at all is an error
 *   (a file of garbage would otherwise loop forever).
 * - Pacing is not done here: main.c waits on the clock with the media time this returns.
 *
 * Threads: main thread only; FFmpeg calls input_interrupt() from it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavdevice/avdevice.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "stream/worker/worker.h"

#define INPUT_AVIO_BUF (64 * 1024)
#define INPUT_FILE_PROBESIZE (2 * 1024 * 1024)
#define INPUT_FILE_ANALYZE_US (1 * WK_US_PER_S)
#define INPUT_LIVE_PROBESIZE (1024 * 1024)
#define INPUT_LIVE_ANALYZE_US (2 * WK_US_PER_S)
#define INPUT_WAITED_NS (5 * WK_NS_PER_MS)     /* a read this slow waited for the source */
#define INPUT_JUMP_BACK_US (1 * WK_US_PER_S)   /* video time going back more: a jump */
#define INPUT_JUMP_AHEAD_US (10 * WK_US_PER_S) /* video time leaping ahead more: a jump */

enum { V = 0, A = 1 }; /* index of the video / audio decoder, stream, generator sink */

struct wk_input {
	const struct wk_job *job; /* borrowed: lives as long as the process */
	struct wk_stats *stats;
	struct wk_input_info info;
	char label[256]; /* the input as it may be shown */

	/* testsrc */
	AVFilterGraph *gen;
	AVFilterContext *gen_sink[2];
	AVFrame *gen_next[2]; /* the next frame of each generator, when gen_have[] */
	bool gen_have[2];

	/* file, url, device */
	AVFormatContext *fmt;
	AVIOContext *avio; /* file: ours (the buffer too), not freed by avformat */
	int fd;
	int64_t pos;
	AVPacket *pkt;
	int idx[2];             /* stream index of video, audio (-1: none) */
	AVCodecContext *dec[2]; /* NULL: no such stream */
	int cur;                /* the decoder to take frames from next, -1: read a packet */
	bool draining;          /* EOF seen: decoders flushed one after the other */
	int drain_k;            /* the decoder being drained */
	int64_t start_us;       /* source time of media time 0 (AV_NOPTS_VALUE: not yet) */
	int64_t offset_us;      /* media time at which this pass started */
	int64_t end_us;         /* media time at the end of the latest frame */
	int64_t next_pts[2];    /* source pts expected next, for frames without one */
	int64_t last_vpts;      /* media pts (stream time base) of the last video frame */
	int64_t pass_vframes;   /* video frames delivered in this pass */
	int64_t deadline_ns;    /* live: give up on the current I/O after this, 0: none */
	bool stop_hit;          /* FFmpeg was interrupted for a stop */
	bool waited;
};

static const AVRational input_us = { 1, WK_US_PER_S };

/* ---- FFmpeg callbacks ----------------------------------------------------------------- */

static int input_interrupt(void *opaque)
{
	struct wk_input *in = opaque;

	if (wk_stop_requested()) {
		in->stop_hit = true;
		return 1;
	}
	return in->deadline_ns && wk_now_ns() > in->deadline_ns;
}

static bool input_timed_out(const struct wk_input *in)
{
	return in->deadline_ns && wk_now_ns() > in->deadline_ns;
}

static int input_fd_read(void *opaque, uint8_t *buf, int size)
{
	struct wk_input *in = opaque;
	ssize_t n;

	do {
		n = pread(in->fd, buf, (size_t)size, in->pos);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return AVERROR(errno);
	if (n == 0)
		return AVERROR_EOF;
	in->pos += n;
	return (int)n;
}

static int64_t input_fd_seek(void *opaque, int64_t offset, int whence)
{
	struct wk_input *in = opaque;
	struct stat st;
	int64_t pos;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		if (fstat(in->fd, &st) < 0)
			return AVERROR(errno);
		return st.st_size;
	case SEEK_SET:
		pos = offset;
		break;
	case SEEK_CUR:
		pos = in->pos + offset;
		break;
	case SEEK_END:
		if (fstat(in->fd, &st) < 0)
			return AVERROR(errno);
		pos = st.st_size + offset;
		break;
	default:
		return AVERROR(EINVAL);
	}
	if (pos < 0)
		return AVERROR(EINVAL);
	in->pos = pos;
	return pos;
}

/* ---- testsrc --------------------------------------------------------------------------- */

static int input_gen_open(struct wk_input *in, struct wk_error *err)
{
	const struct wk_job *job = in->job;
	const char *const vchain[] = { "format=yuv420p", NULL };
	const char *const achain[] = { "aformat=sample_fmts=fltp:channel_layouts=stereo", NULL };
	AVFilterContext *vsrc, *asrc;
	char args[128], ebuf[128];
	int rc;

	in->gen = avfilter_graph_alloc();
	in->gen_next[V] = av_frame_alloc();
	in->gen_next[A] = av_frame_alloc();
	if (!in->gen || !in->gen_next[V] || !in->gen_next[A]) {
		rc = AVERROR(ENOMEM);
		goto out;
	}
	in->gen->nb_threads = 1;
	snprintf(args, sizeof(args), "size=%dx%d:rate=%d", job->width, job->height, job->fps);
	rc = avfilter_graph_create_filter(&vsrc, avfilter_get_by_name("testsrc2"), "video", args,
					  NULL, in->gen);
	if (rc < 0)
		goto out;
	rc = avfilter_graph_create_filter(&asrc, avfilter_get_by_name("sine"), "audio",
					  "frequency=1000:sample_rate=48000", NULL, in->gen);
	if (rc < 0)
		goto out;
	rc = avfilter_graph_create_filter(&in->gen_sink[V], avfilter_get_by_name("buffersink"),
					  "vout", NULL, NULL, in->gen);
	if (rc < 0)
		goto out;
	rc = avfilter_graph_create_filter(&in->gen_sink[A], avfilter_get_by_name("abuffersink"),
					  "aout", NULL, NULL, in->gen);
	if (rc < 0)
		goto out;
	rc = wk_graph_chain(in->gen, vsrc, vchain, in->gen_sink[V]);
	if (rc < 0)
		goto out;
	rc = wk_graph_chain(in->gen, asrc, achain, in->gen_sink[A]);
	if (rc < 0)
		goto out;
	rc = avfilter_graph_config(in->gen, NULL);
	if (rc < 0)
		goto out;

	in->info.width = job->width;
	in->info.height = job->height;
	in->info.pix_fmt = AV_PIX_FMT_YUV420P;
	in->info.sar = (AVRational){ 1, 1 };
	in->info.time_base = av_buffersink_get_time_base(in->gen_sink[V]);
	in->info.frame_rate = (AVRational){ job->fps, 1 };
	in->info.has_audio = true;
	in->info.audio_time_base = av_buffersink_get_time_base(in->gen_sink[A]);
	snprintf(in->label, sizeof(in->label), "testsrc");
	wk_info("opened input 'testsrc': testsrc2 %dx%d %d fps, sine 1 kHz", job->width,
		job->height, job->fps);
out:
	if (rc < 0)
		wk_error_set(err, "could not start the test source: %s",
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
	return rc < 0 ? wk_av_errno(rc) : 0;
}

static int input_gen_read(struct wk_input *in, AVFrame *frame, struct wk_frame_meta *meta,
			  struct wk_error *err)
{
	int64_t t[2];
	char ebuf[128];
	int k, rc;

	for (k = V; k <= A; k++) {
		if (in->gen_have[k])
			continue;
		rc = av_buffersink_get_frame(in->gen_sink[k], in->gen_next[k]);
		if (rc < 0) {
			wk_error_set(err, "the test source failed: %s",
				     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			return wk_av_errno(rc);
		}
		in->gen_have[k] = true;
	}
	t[V] = av_rescale_q(in->gen_next[V]->pts, in->info.time_base, input_us);
	t[A] = av_rescale_q(in->gen_next[A]->pts, in->info.audio_time_base, input_us);
	k = t[A] < t[V] ? A : V;
	av_frame_move_ref(frame, in->gen_next[k]);
	in->gen_have[k] = false;
	meta->audio = k == A;
	meta->t_us = t[k];
	meta->waited = false;
	return 1;
}

/* ---- demuxed sources ------------------------------------------------------------------- */

/* Protocol options bounding network I/O by the job's timeout (names differ per protocol). */
static void input_net_options(const struct wk_job *job, AVDictionary **opts)
{
	char us[32], ms[32];

	/* a little longer than the deadline of input_interrupt(), which then speaks first */
	snprintf(us, sizeof(us), "%lld", ((long long)job->io_timeout_ms + 1000) * 1000);
	snprintf(ms, sizeof(ms), "%d", job->io_timeout_ms + 1000);
	if (!strncasecmp(job->input, "rtsp", 4)) {
		av_dict_set(opts, "rtsp_transport", "tcp", 0);
		av_dict_set(opts, "timeout", us, 0); /* rtsp: socket I/O timeout (µs) */
	} else if (!strncasecmp(job->input, "srt", 3)) {
		av_dict_set(opts, "timeout", us, 0);
		av_dict_set(opts, "connect_timeout", ms, 0);
	} else {
		/* rtmp: "timeout" would mean listen mode; http: rw_timeout is generic */
		av_dict_set(opts, "rw_timeout", us, 0);
	}
}

static int input_open_decoder(struct wk_input *in, int k, struct wk_error *err)
{
	AVStream *st = in->fmt->streams[in->idx[k]];
	const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
	char ebuf[128];
	int rc;

	if (!codec) {
		wk_error_set(err, "no decoder for %s in '%s'",
			     avcodec_get_name(st->codecpar->codec_id), in->label);
		return -ENOTSUP;
	}
	in->dec[k] = avcodec_alloc_context3(codec);
	if (!in->dec[k])
		return -ENOMEM;
	rc = avcodec_parameters_to_context(in->dec[k], st->codecpar);
	if (rc >= 0) {
		in->dec[k]->pkt_timebase = st->time_base;
		rc = avcodec_open2(in->dec[k], codec, NULL);
	}
	if (rc < 0) {
		avcodec_free_context(&in->dec[k]);
		wk_error_set(err, "could not open the %s decoder for '%s': %s", codec->name,
			     in->label, wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	return 0;
}

/* Pick the streams: the first real video stream (not a cover picture), the best audio. */
static int input_pick_streams(struct wk_input *in, struct wk_error *err)
{
	AVFormatContext *fmt = in->fmt;
	struct wk_error aerr = { "" };
	int rc;

	in->idx[V] = in->idx[A] = -1;
	for (unsigned int i = 0; i < fmt->nb_streams; i++) {
		AVStream *st = fmt->streams[i];

		if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
		    !(st->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
			in->idx[V] = (int)i;
			break;
		}
	}
	if (in->idx[V] < 0) {
		wk_error_set(err, "no video stream in '%s'", in->label);
		return -ENOENT;
	}
	rc = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, in->idx[V], NULL, 0);
	if (rc >= 0 && fmt->streams[rc]->codecpar->sample_rate > 0)
		in->idx[A] = rc;
	for (unsigned int i = 0; i < fmt->nb_streams; i++)
		if ((int)i != in->idx[V] && (int)i != in->idx[A])
			fmt->streams[i]->discard = AVDISCARD_ALL;

	rc = input_open_decoder(in, V, err);
	if (rc)
		return rc;
	if (in->idx[A] >= 0 && input_open_decoder(in, A, &aerr)) {
		/* a stream we cannot decode the audio of still streams its video */
		wk_warn("%s: going on without audio", aerr.msg);
		fmt->streams[in->idx[A]]->discard = AVDISCARD_ALL;
		in->idx[A] = -1;
	}
	return 0;
}

static void input_describe(struct wk_input *in)
{
	AVCodecContext *vd = in->dec[V];
	char audio[64] = "no audio";
	AVRational fr = in->info.frame_rate;

	if (in->dec[A])
		snprintf(audio, sizeof(audio), "%s", avcodec_get_name(in->dec[A]->codec_id));
	wk_info("opened input '%s': %s %dx%d %.3g fps, %s", in->label,
		avcodec_get_name(vd->codec_id), vd->width, vd->height,
		fr.num && fr.den ? av_q2d(fr) : 0.0, audio);
}

static int input_demux_open(struct wk_input *in, struct wk_error *err)
{
	const struct wk_job *job = in->job;
	const AVInputFormat *ifmt = NULL;
	AVDictionary *opts = NULL;
	const char *url = job->input;
	char ebuf[128];
	struct stat st;
	uint8_t *buf;
	AVStream *vst;
	int rc;

	in->pkt = av_packet_alloc();
	in->fmt = avformat_alloc_context();
	if (!in->pkt || !in->fmt)
		return -ENOMEM;
	in->fmt->interrupt_callback.callback = input_interrupt;
	in->fmt->interrupt_callback.opaque = in;

	switch (job->source) {
	case WK_SRC_FILE:
		if (fstat(job->input_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			wk_error_set(err, "input fd %d is not an open file", job->input_fd);
			return -EBADF;
		}
		in->fd = job->input_fd;
		buf = av_malloc(INPUT_AVIO_BUF);
		if (!buf)
			return -ENOMEM;
		in->avio = avio_alloc_context(buf, INPUT_AVIO_BUF, 0, in, input_fd_read, NULL,
					      input_fd_seek);
		if (!in->avio) {
			av_free(buf);
			return -ENOMEM;
		}
		in->fmt->pb = in->avio;
		in->fmt->probesize = INPUT_FILE_PROBESIZE;
		in->fmt->max_analyze_duration = INPUT_FILE_ANALYZE_US;
		break;
	case WK_SRC_URL:
		input_net_options(job, &opts);
		in->fmt->probesize = INPUT_LIVE_PROBESIZE;
		in->fmt->max_analyze_duration = INPUT_LIVE_ANALYZE_US;
		in->info.live = true;
		break;
	case WK_SRC_DEVICE:
		ifmt = av_find_input_format("video4linux2");
		if (!ifmt) {
			wk_error_set(err, "could not open device '%s': no v4l2 support", in->label);
			return -ENOTSUP;
		}
		in->info.live = true;
		break;
	case WK_SRC_TESTSRC:
		return -EINVAL;
	}

	in->deadline_ns = in->info.live ? wk_now_ns() + job->io_timeout_ms * WK_NS_PER_MS : 0;
	rc = avformat_open_input(&in->fmt, url, ifmt, &opts); /* frees fmt on failure */
	av_dict_free(&opts);
	if (rc >= 0) {
		in->deadline_ns = in->info.live ? wk_now_ns() + job->io_timeout_ms * WK_NS_PER_MS :
						  0;
		rc = avformat_find_stream_info(in->fmt, NULL);
	}
	if (rc < 0) {
		if (in->stop_hit)
			return -EINTR; /* abandoned for a stop, not failed */
		if (input_timed_out(in))
			wk_error_set(err, "could not open %s '%s': no answer within %d ms",
				     job->source == WK_SRC_DEVICE ? "device" : "input", in->label,
				     job->io_timeout_ms);
		else
			wk_error_set(err, "could not open %s '%s': %s",
				     job->source == WK_SRC_DEVICE ? "device" : "input", in->label,
				     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	in->deadline_ns = 0;

	rc = input_pick_streams(in, err);
	if (rc)
		return rc;
	vst = in->fmt->streams[in->idx[V]];
	if (!in->dec[V]->width || !in->dec[V]->height) {
		wk_error_set(err, "no video size in '%s'", in->label);
		return -EBADMSG;
	}
	in->info.width = in->dec[V]->width;
	in->info.height = in->dec[V]->height;
	in->info.pix_fmt = in->dec[V]->pix_fmt;
	in->info.sar = av_guess_sample_aspect_ratio(in->fmt, vst, NULL);
	in->info.time_base = vst->time_base;
	in->info.frame_rate = av_guess_frame_rate(in->fmt, vst, NULL);
	if (in->dec[A]) {
		in->info.has_audio = true;
		in->info.audio_time_base = in->fmt->streams[in->idx[A]]->time_base;
	}
	/* media time 0: the file's start (AV_TIME_BASE is µs); a live stream joined midway
	 * starts at its first frame */
	in->start_us = in->info.live ? AV_NOPTS_VALUE : in->fmt->start_time;
	in->next_pts[V] = in->next_pts[A] = AV_NOPTS_VALUE;
	in->last_vpts = AV_NOPTS_VALUE;
	in->cur = -1;
	input_describe(in);
	return 0;
}

/*
 * Put @f on the media timeline. Returns true to deliver it, false to skip it (before the
 * start, or a video frame whose time does not advance).
 */
static bool input_stamp(struct wk_input *in, int k, AVFrame *f, struct wk_frame_meta *meta)
{
	AVStream *st = in->fmt->streams[in->idx[k]];
	AVRational tb = st->time_base;
	int64_t pts = f->best_effort_timestamp;
	int64_t dur, t_us, mpts;

	if (pts == AV_NOPTS_VALUE)
		pts = in->next_pts[k];
	if (pts == AV_NOPTS_VALUE)
		pts = in->start_us == AV_NOPTS_VALUE ? 0 : av_rescale_q(in->start_us, input_us, tb);
	if (k == A) {
		if (f->sample_rate <= 0)
			return false;
		dur = av_rescale_q(f->nb_samples, (AVRational){ 1, f->sample_rate }, tb);
	} else if (f->pkt_duration > 0) {
		dur = f->pkt_duration;
	} else if (in->info.frame_rate.num > 0) {
		dur = av_rescale_q(1, av_inv_q(in->info.frame_rate), tb);
	} else {
		dur = av_rescale_q(40000, input_us, tb); /* 25 fps */
	}
	in->next_pts[k] = pts + dur;
	if (in->start_us == AV_NOPTS_VALUE) {
		/* a live stream joined midway starts at its first video frame (nginx-rtmp, for
		 * one, sends a new reader audio at once but video only from a keyframe) */
		if (k == A)
			return false;
		in->start_us = av_rescale_q(pts, tb, input_us);
	}

	mpts = pts - av_rescale_q(in->start_us, input_us, tb) +
	       av_rescale_q(in->offset_us, input_us, tb);
	t_us = av_rescale_q(mpts, tb, input_us);
	if (k == V && in->last_vpts != AV_NOPTS_VALUE) {
		int64_t last_us = av_rescale_q(in->last_vpts, tb, input_us);
		int64_t dur_us = av_rescale_q(dur, tb, input_us);

		if (t_us < last_us - INPUT_JUMP_BACK_US || t_us > last_us + INPUT_JUMP_AHEAD_US) {
			/* the source's clock jumped (a live stream restarted, a wrap): our
			 * timeline goes on right after the last frame */
			wk_warn("timestamps of '%s' jumped by %.1f s: going on", in->label,
				(double)(t_us - last_us) / 1e6);
			in->offset_us += last_us + dur_us - t_us;
			mpts = pts - av_rescale_q(in->start_us, input_us, tb) +
			       av_rescale_q(in->offset_us, input_us, tb);
			t_us = av_rescale_q(mpts, tb, input_us);
		}
	}
	if (t_us < 0)
		return false; /* pre-roll before the start */
	if (k == V) {
		if (in->last_vpts != AV_NOPTS_VALUE && mpts <= in->last_vpts)
			return false;
		in->last_vpts = mpts;
		in->pass_vframes++;
	}
	if (t_us + av_rescale_q(dur, tb, input_us) > in->end_us)
		in->end_us = t_us + av_rescale_q(dur, tb, input_us);
	f->pts = mpts;
	meta->audio = k == A;
	meta->t_us = t_us;
	meta->waited = in->waited;
	in->waited = false;
	return true;
}

/* loop=yes at the end of a pass: back to the start, the timeline going on. */
static int input_rewind(struct wk_input *in, struct wk_error *err)
{
	int64_t ts = in->fmt->start_time == AV_NOPTS_VALUE ? 0 : in->fmt->start_time;
	char ebuf[128];
	int rc;

	for (int k = V; k <= A; k++)
		if (in->dec[k])
			avcodec_flush_buffers(in->dec[k]);
	rc = avformat_seek_file(in->fmt, -1, INT64_MIN, ts, ts, 0);
	if (rc < 0)
		rc = av_seek_frame(in->fmt, -1, 0, AVSEEK_FLAG_BYTE);
	if (rc < 0) {
		wk_error_set(err, "could not loop '%s': %s", in->label,
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	in->offset_us = in->end_us;
	in->next_pts[V] = in->next_pts[A] = AV_NOPTS_VALUE;
	in->draining = false;
	in->cur = -1;
	in->pass_vframes = 0;
	return 0;
}

/* The end of the data: flush the decoders, then loop or end. */
static int input_at_end(struct wk_input *in, struct wk_error *err)
{
	if (!in->draining) {
		for (int k = V; k <= A; k++)
			if (in->dec[k])
				avcodec_send_packet(in->dec[k], NULL);
		in->draining = true;
		in->drain_k = V;
		in->cur = V;
		return 1;
	}
	if (in->drain_k == V && in->dec[A]) {
		in->drain_k = A;
		in->cur = A;
		return 1;
	}
	if (!in->pass_vframes) {
		wk_error_set(err, "no decodable video in '%s'", in->label);
		return -EBADMSG;
	}
	if (in->job->loop && in->job->source == WK_SRC_FILE) {
		int rc = input_rewind(in, err);

		return rc ? rc : 1;
	}
	return 0;
}

static int input_demux_read(struct wk_input *in, AVFrame *frame, struct wk_frame_meta *meta,
			    struct wk_error *err)
{
	char ebuf[128];
	int64_t t0;
	int k, rc;

	for (;;) {
		if (wk_stop_requested())
			return -EINTR;
		if (in->cur >= 0) {
			k = in->cur;
			rc = avcodec_receive_frame(in->dec[k], frame);
			if (rc >= 0) {
				if (input_stamp(in, k, frame, meta))
					return 1;
				av_frame_unref(frame);
				continue;
			}
			if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
				in->cur = -1;
			} else if (rc == AVERROR(ENOMEM)) {
				wk_error_set(err, "out of memory decoding '%s'", in->label);
				return -ENOMEM;
			} else if (k == V) {
				wk_stats_add_dropped(in->stats, 1);
			}
			continue;
		}
		if (in->draining) {
			rc = input_at_end(in, err);
			if (rc <= 0)
				return rc;
			continue;
		}

		t0 = wk_now_ns();
		in->deadline_ns = in->info.live ? t0 + in->job->io_timeout_ms * WK_NS_PER_MS : 0;
		rc = av_read_frame(in->fmt, in->pkt);
		if (in->info.live && wk_now_ns() - t0 > INPUT_WAITED_NS)
			in->waited = true;
		if (rc == AVERROR(EAGAIN)) {
			struct wk_clock nap = { wk_now_ns() };

			wk_clock_wait(&nap, 10000);
			continue;
		}
		if (rc < 0) {
			if (wk_stop_requested())
				return -EINTR;
			if (input_timed_out(in)) {
				wk_error_set(err, "no data from '%s' for %d ms", in->label,
					     in->job->io_timeout_ms);
				return -ETIMEDOUT;
			}
			if (rc != AVERROR_EOF && (in->info.live || rc != AVERROR_INVALIDDATA)) {
				wk_error_set(err, "could not read '%s': %s", in->label,
					     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
				return wk_av_errno(rc);
			}
			/* EOF (a damaged tail of a file counts as its end) */
			rc = input_at_end(in, err);
			if (rc <= 0)
				return rc;
			continue;
		}
		in->deadline_ns = 0;
		if (in->pkt->stream_index == in->idx[V]) {
			k = V;
		} else if (in->pkt->stream_index == in->idx[A]) {
			k = A;
		} else {
			av_packet_unref(in->pkt);
			continue;
		}
		rc = avcodec_send_packet(in->dec[k], in->pkt);
		av_packet_unref(in->pkt);
		if (rc == AVERROR(ENOMEM)) {
			wk_error_set(err, "out of memory decoding '%s'", in->label);
			return -ENOMEM;
		}
		if (rc < 0 && rc != AVERROR(EAGAIN)) {
			/* a packet the decoder rejects: skip it, count it */
			if (k == V)
				wk_stats_add_dropped(in->stats, 1);
			continue;
		}
		in->cur = k;
	}
}

/* ---- the interface --------------------------------------------------------------------- */

int wk_input_open(struct wk_input **out, const struct wk_job *job, struct wk_stats *stats,
		  struct wk_error *err)
{
	struct wk_input *in;
	int rc;

	*out = NULL;
	in = calloc(1, sizeof(*in));
	if (!in) {
		wk_error_set(err, "out of memory opening the input");
		return -ENOMEM;
	}
	in->job = job;
	in->stats = stats;
	in->fd = -1;
	in->cur = -1;
	in->idx[V] = in->idx[A] = -1;
	in->start_us = AV_NOPTS_VALUE;
	switch (job->source) {
	case WK_SRC_TESTSRC:
		rc = input_gen_open(in, err);
		break;
	case WK_SRC_FILE:
		snprintf(in->label, sizeof(in->label), "%s",
			 *job->input ? job->input : "the input file");
		rc = input_demux_open(in, err);
		break;
	case WK_SRC_DEVICE:
		avdevice_register_all();
		snprintf(in->label, sizeof(in->label), "%s", job->input);
		rc = input_demux_open(in, err);
		break;
	case WK_SRC_URL:
	default:
		avformat_network_init();
		wk_url_redact(job->input, in->label, sizeof(in->label));
		rc = input_demux_open(in, err);
		break;
	}
	if (rc) {
		if (rc == -ENOMEM)
			wk_error_set(err, "out of memory opening '%s'", in->label);
		wk_input_close(in);
		return rc;
	}
	*out = in;
	return 0;
}

const struct wk_input_info *wk_input_info(const struct wk_input *in)
{
	return &in->info;
}

int wk_input_read(struct wk_input *in, AVFrame *frame, struct wk_frame_meta *meta,
		  struct wk_error *err)
{
	if (in->gen)
		return input_gen_read(in, frame, meta, err);
	return input_demux_read(in, frame, meta, err);
}

void wk_input_close(struct wk_input *in)
{
	if (!in)
		return;
	for (int k = V; k <= A; k++) {
		avcodec_free_context(&in->dec[k]);
		av_frame_free(&in->gen_next[k]);
	}
	avformat_close_input(&in->fmt);
	if (in->avio) {
		av_freep(&in->avio->buffer);
		avio_context_free(&in->avio);
	}
	av_packet_free(&in->pkt);
	avfilter_graph_free(&in->gen);
	if (in->job->source == WK_SRC_URL)
		avformat_network_deinit();
	free(in);
}
