/*
 * encode.c — from decoded frames to encoded packets: the filter graphs and the encoders.
 *
 * Video: buffer -> fps=FPS -> scale (fit inside WxH, aspect kept) -> pad to WxH -> setsar=1
 * -> yuv420p -> buffersink -> libx264 (veryfast, zerolatency, CBR-ish VBV, no B-frames).
 * Audio: abuffer -> aresample (48 kHz, gaps filled) -> fltp stereo -> abuffersink cut to the
 * encoder's frame size -> AAC 128k. Each graph is built from the first frame it gets and
 * rebuilt when the frames' size or format change (a live source may switch mid-stream).
 *
 * DESIGN: keyframes. x264 gets a GOP of HUBFS_STREAM_GOP_S seconds with scene cuts off, and
 * frames are forced to IDR at 0, at HUBFS_STREAM_HLS_FIRST_MS and every GOP after it
 * (0, 0.5, 2.5, 4.5 s ...): the HLS muxer (hls_init_time 0.5) cuts a short first segment
 * so the playlist lists one about half a second after the start, and every later segment
 * starts with an IDR of its own. Encoded video timestamps are strictly increasing (frames
 * that would repeat one after a graph rebuild are skipped). A video frame more than
 * WK_LIVE_MAX_LAG_US behind the wall clock is dropped before the encoder (the expensive
 * part), so a stream that cannot keep up stays live rather than falling further behind.
 *
 * Threads: main thread only (x264 runs threads of its own inside libavcodec).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "stream/worker/worker.h"

#define ENC_AUDIO_RATE 48000
#define ENC_AUDIO_BITRATE 128000

static const AVRational enc_us = { 1, WK_US_PER_S };

struct enc_graph {
	AVFilterGraph *g; /* NULL until the first frame */
	AVFilterContext *src, *sink;
	bool audio;
	/* what the graph was built for */
	int w, h, format, rate;
	AVRational sar;
	AVChannelLayout layout;
};

struct wk_encode {
	const struct wk_job *job; /* borrowed */
	const struct wk_input_info *info;
	struct wk_stats *stats;
	AVCodecContext *venc, *aenc; /* aenc NULL: no audio */
	struct enc_graph vg, ag;
	AVFrame *filt;
	AVPacket *pkt;
	int64_t first_key; /* frames from the first keyframe to the one ending the short segment */
	int64_t gop;       /* frames between keyframes */
	int64_t key_base;  /* pts of the first encoded frame: the schedule starts there */
	int64_t next_key;  /* pts at or after which the next frame is forced to IDR */
	int64_t last_vpts; /* in the encoder's time base; INT64_MIN: none yet */
	int64_t last_apts;
};

/* ---- graphs ---------------------------------------------------------------------------- */

int wk_graph_chain(AVFilterGraph *g, AVFilterContext *from, const char *const *chain,
		   AVFilterContext *to)
{
	AVFilterContext *prev = from, *f;
	char name[32];
	int rc;

	for (size_t i = 0; chain[i]; i++) {
		const char *eq = strchr(chain[i], '=');
		size_t n = eq ? (size_t)(eq - chain[i]) : strlen(chain[i]);
		const AVFilter *filter;

		if (n >= sizeof(name))
			return AVERROR(EINVAL);
		memcpy(name, chain[i], n);
		name[n] = '\0';
		filter = avfilter_get_by_name(name);
		if (!filter)
			return AVERROR_FILTER_NOT_FOUND;
		rc = avfilter_graph_create_filter(&f, filter, NULL, eq ? eq + 1 : NULL, NULL, g);
		if (rc < 0)
			return rc;
		rc = avfilter_link(prev, 0, f, 0);
		if (rc < 0)
			return rc;
		prev = f;
	}
	return avfilter_link(prev, 0, to, 0);
}

static void enc_graph_free(struct enc_graph *eg)
{
	avfilter_graph_free(&eg->g);
	eg->src = eg->sink = NULL;
	av_channel_layout_uninit(&eg->layout);
}

/* The frame's channel layout, made usable for abuffer (an unordered one -> the default). */
static int enc_frame_layout(const AVFrame *f, AVChannelLayout *out)
{
	if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC ||
	    !av_channel_layout_check(&f->ch_layout)) {
		av_channel_layout_default(
			out, f->ch_layout.nb_channels > 0 ? f->ch_layout.nb_channels : 2);
		return 0;
	}
	return av_channel_layout_copy(out, &f->ch_layout);
}

/* Does @f still fit the graph built for earlier frames? */
static bool enc_graph_fits(const struct enc_graph *eg, const AVFrame *f)
{
	AVChannelLayout l = { 0 };
	bool same;

	if (!eg->g)
		return false;
	if (!eg->audio)
		return f->width == eg->w && f->height == eg->h && f->format == eg->format;
	if (f->sample_rate != eg->rate || f->format != eg->format)
		return false;
	if (enc_frame_layout(f, &l) < 0)
		return false;
	same = !av_channel_layout_compare(&l, &eg->layout);
	av_channel_layout_uninit(&l);
	return same;
}

/* @src (with @args) -> @chain -> @sink in eg->g, configured. 0 or a negative AVERROR. */
static int enc_graph_link(struct enc_graph *eg, const char *src, const char *args, const char *sink,
			  const char *const *chain)
{
	int rc;

	rc = avfilter_graph_create_filter(&eg->src, avfilter_get_by_name(src), "in", args, NULL,
					  eg->g);
	if (rc >= 0)
		rc = avfilter_graph_create_filter(&eg->sink, avfilter_get_by_name(sink), "out",
						  NULL, NULL, eg->g);
	if (rc >= 0)
		rc = wk_graph_chain(eg->g, eg->src, chain, eg->sink);
	if (rc >= 0)
		rc = avfilter_graph_config(eg->g, NULL);
	return rc;
}

static int enc_graph_build_video(struct wk_encode *enc, struct enc_graph *eg, const AVFrame *f)
{
	const struct wk_job *job = enc->job;
	AVRational tb = enc->info->time_base;
	AVRational fr = enc->info->frame_rate;
	AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio : enc->info->sar;
	char args[256], fps[32], scale[128], pad[96], anamorphic[64];
	const char *chain[8];
	size_t n = 0;
	int rc;

	if (!sar.num || !sar.den)
		sar = (AVRational){ 1, 1 };
	snprintf(args, sizeof(args),
		 "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", f->width,
		 f->height, f->format, tb.num, tb.den, sar.num, sar.den);
	if (fr.num > 0 && fr.den > 0)
		snprintf(args + strlen(args), sizeof(args) - strlen(args), ":frame_rate=%d/%d",
			 fr.num, fr.den);
	snprintf(fps, sizeof(fps), "fps=%d", job->fps);
	snprintf(scale, sizeof(scale),
		 "scale=%d:%d:force_original_aspect_ratio=decrease:force_divisible_by=2",
		 job->width, job->height);
	snprintf(pad, sizeof(pad), "pad=%d:%d:(ow-iw)/2:(oh-ih)/2", job->width, job->height);
	snprintf(anamorphic, sizeof(anamorphic), "scale=trunc(iw*sar/2)*2:ih");
	chain[n++] = fps;
	if (av_cmp_q(sar, (AVRational){ 1, 1 })) {
		/* non-square pixels: make them square first so the fit keeps the picture's shape */
		chain[n++] = anamorphic;
		chain[n++] = "setsar=1";
	}
	chain[n++] = scale;
	chain[n++] = pad;
	chain[n++] = "setsar=1";
	chain[n++] = "format=yuv420p";
	chain[n] = NULL;

	rc = enc_graph_link(eg, "buffer", args, "buffersink", chain);
	if (rc < 0)
		return rc;
	eg->w = f->width;
	eg->h = f->height;
	eg->format = f->format;
	eg->sar = sar;
	return 0;
}

static int enc_graph_build_audio(struct wk_encode *enc, struct enc_graph *eg, const AVFrame *f)
{
	AVRational tb = enc->info->audio_time_base;
	const char *fmtname = av_get_sample_fmt_name(f->format);
	char args[256], layout[64];
	const char *const chain[] = {
		"aresample=48000:async=1",
		"aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo",
		NULL,
	};
	int rc;

	if (!fmtname || f->sample_rate <= 0)
		return AVERROR(EINVAL);
	rc = enc_frame_layout(f, &eg->layout);
	if (rc < 0)
		return rc;
	if (av_channel_layout_describe(&eg->layout, layout, sizeof(layout)) < 0)
		return AVERROR(EINVAL);
	snprintf(args, sizeof(args),
		 "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", tb.num, tb.den,
		 f->sample_rate, fmtname, layout);
	rc = enc_graph_link(eg, "abuffer", args, "abuffersink", chain);
	if (rc < 0)
		return rc;
	av_buffersink_set_frame_size(eg->sink, (unsigned int)enc->aenc->frame_size);
	eg->rate = f->sample_rate;
	eg->format = f->format;
	return 0;
}

static int enc_graph_build(struct wk_encode *enc, struct enc_graph *eg, const AVFrame *f)
{
	int rc;

	eg->g = avfilter_graph_alloc();
	if (!eg->g)
		return AVERROR(ENOMEM);
	/* filtering is cheap next to x264, which gets the cores */
	eg->g->nb_threads = 1;
	rc = eg->audio ? enc_graph_build_audio(enc, eg, f) : enc_graph_build_video(enc, eg, f);
	if (rc < 0)
		enc_graph_free(eg);
	return rc;
}

/* ---- encoders -------------------------------------------------------------------------- */

static int enc_drain(struct wk_encode *enc, AVCodecContext *c, struct wk_outputs *outs,
		     struct wk_error *err)
{
	bool audio = c == enc->aenc;
	char ebuf[128];
	int rc;

	for (;;) {
		rc = avcodec_receive_packet(c, enc->pkt);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return 0;
		if (rc < 0) {
			wk_error_set(err, "the %s encoder failed: %s", audio ? "audio" : "video",
				     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			return wk_av_errno(rc);
		}
		wk_stats_add_bytes(enc->stats, enc->pkt->size);
		rc = wk_outputs_write(outs, enc->pkt, audio, c->time_base, err);
		av_packet_unref(enc->pkt);
		if (rc)
			return rc;
	}
}

/* The first pts at or after which the frame after @pts is forced to IDR. */
static int64_t enc_next_key(const struct wk_encode *enc, int64_t pts)
{
	int64_t rel = pts - enc->key_base;

	if (rel < enc->first_key)
		return enc->key_base + enc->first_key;
	return enc->key_base + enc->first_key + ((rel - enc->first_key) / enc->gop + 1) * enc->gop;
}

static int enc_send(struct wk_encode *enc, AVCodecContext *c, AVFrame *f, struct wk_outputs *outs,
		    struct wk_error *err)
{
	char ebuf[128];
	int rc = avcodec_send_frame(c, f);

	if (f)
		av_frame_unref(f);
	if (rc < 0 && rc != AVERROR_EOF) {
		wk_error_set(err, "the %s encoder refused a frame: %s",
			     c == enc->aenc ? "audio" : "video",
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	return enc_drain(enc, c, outs, err);
}

/* A filtered video frame (enc->filt) to the encoder, or dropped when too late. */
static int enc_video_frame(struct wk_encode *enc, const struct wk_clock *clock,
			   struct wk_outputs *outs, struct wk_error *err)
{
	AVFrame *f = enc->filt;
	AVRational stb = av_buffersink_get_time_base(enc->vg.sink);
	int64_t pts, t_us;
	int rc;

	if (f->pts == AV_NOPTS_VALUE) {
		av_frame_unref(f);
		return 0;
	}
	pts = av_rescale_q(f->pts, stb, enc->venc->time_base);
	if (pts <= enc->last_vpts) {
		av_frame_unref(f);
		return 0;
	}
	t_us = av_rescale_q(pts, enc->venc->time_base, enc_us);
	if (clock && wk_clock_lag_us(clock, t_us) > WK_LIVE_MAX_LAG_US) {
		wk_stats_add_dropped(enc->stats, 1);
		av_frame_unref(f);
		return 0;
	}
	if (enc->last_vpts == INT64_MIN) {
		/* the schedule counts from the first frame (a live stream may start late) */
		enc->key_base = pts;
		enc->next_key = pts;
	}
	enc->last_vpts = pts;
	f->pts = pts;
	if (pts >= enc->next_key) {
		f->pict_type = AV_PICTURE_TYPE_I;
		enc->next_key = enc_next_key(enc, pts);
	} else {
		f->pict_type = AV_PICTURE_TYPE_NONE; /* never the source's picture types */
	}
	rc = enc_send(enc, enc->venc, f, outs, err);
	if (rc)
		return rc;
	wk_stats_add_frame(enc->stats, t_us, av_rescale_q(pts + 1, enc->venc->time_base, enc_us));
	return 0;
}

static int enc_audio_frame(struct wk_encode *enc, struct wk_outputs *outs, struct wk_error *err)
{
	AVFrame *f = enc->filt;
	AVRational stb = av_buffersink_get_time_base(enc->ag.sink);

	if (f->pts == AV_NOPTS_VALUE) {
		av_frame_unref(f);
		return 0;
	}
	f->pts = av_rescale_q(f->pts, stb, enc->aenc->time_base);
	if (f->pts <= enc->last_apts) {
		av_frame_unref(f);
		return 0;
	}
	enc->last_apts = f->pts;
	return enc_send(enc, enc->aenc, f, outs, err);
}

/* Take every frame the graph has ready to the encoder. */
static int enc_pull(struct wk_encode *enc, struct enc_graph *eg, const struct wk_clock *clock,
		    struct wk_outputs *outs, struct wk_error *err)
{
	char ebuf[128];
	int rc;

	for (;;) {
		rc = av_buffersink_get_frame(eg->sink, enc->filt);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return 0;
		if (rc < 0) {
			wk_error_set(err, "%s filtering failed: %s", eg->audio ? "audio" : "video",
				     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			return wk_av_errno(rc);
		}
		rc = eg->audio ? enc_audio_frame(enc, outs, err) :
				 enc_video_frame(enc, clock, outs, err);
		if (rc)
			return rc;
	}
}

/* End of a graph's input: its last frames to the encoder. */
static int enc_graph_close(struct wk_encode *enc, struct enc_graph *eg,
			   const struct wk_clock *clock, struct wk_outputs *outs,
			   struct wk_error *err)
{
	char ebuf[128];
	int rc;

	if (!eg->g)
		return 0;
	rc = av_buffersrc_add_frame_flags(eg->src, NULL, 0);
	if (rc < 0) {
		wk_error_set(err, "%s filtering failed at the end: %s",
			     eg->audio ? "audio" : "video", wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	return enc_pull(enc, eg, clock, outs, err);
}

static int enc_open_video(struct wk_encode *enc, struct wk_error *err)
{
	const struct wk_job *job = enc->job;
	const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
	AVDictionary *opts = NULL;
	AVCodecContext *c;
	char ebuf[128];
	int rc;

	if (!codec) {
		wk_error_set(err, "the libx264 encoder is not available");
		return -ENOTSUP;
	}
	c = enc->venc = avcodec_alloc_context3(codec);
	if (!c)
		return -ENOMEM;
	c->width = job->width;
	c->height = job->height;
	c->pix_fmt = AV_PIX_FMT_YUV420P;
	c->sample_aspect_ratio = (AVRational){ 1, 1 };
	c->time_base = (AVRational){ 1, job->fps };
	c->framerate = (AVRational){ job->fps, 1 };
	c->bit_rate = (int64_t)job->bitrate_kbps * 1000;
	c->rc_max_rate = c->bit_rate;
	c->rc_buffer_size = (int)(2 * c->bit_rate);
	c->gop_size = (int)enc->gop;
	c->keyint_min = 1;
	c->max_b_frames = 0;
	/* Matroska and FLV want SPS/PPS as extradata; MPEG-TS (HLS, SRT) gets them again in
	 * front of every IDR from the muxer, so segments stay independently decodable. */
	c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	av_dict_set(&opts, "preset", "veryfast", 0);
	av_dict_set(&opts, "tune", "zerolatency", 0);
	av_dict_set(&opts, "forced-idr", "1", 0);
	av_dict_set(&opts, "x264-params", "scenecut=0", 0); /* keyframes only where we say */
	rc = avcodec_open2(c, codec, &opts);
	av_dict_free(&opts);
	if (rc < 0) {
		wk_error_set(err, "could not open the video encoder: %s",
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	return 0;
}

static int enc_open_audio(struct wk_encode *enc, struct wk_error *err)
{
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
	AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
	AVCodecContext *c;
	char ebuf[128];
	int rc;

	if (!codec) {
		wk_error_set(err, "the AAC encoder is not available");
		return -ENOTSUP;
	}
	c = enc->aenc = avcodec_alloc_context3(codec);
	if (!c)
		return -ENOMEM;
	c->sample_fmt = AV_SAMPLE_FMT_FLTP;
	c->sample_rate = ENC_AUDIO_RATE;
	rc = av_channel_layout_copy(&c->ch_layout, &stereo);
	if (rc < 0)
		return wk_av_errno(rc);
	c->bit_rate = ENC_AUDIO_BITRATE;
	c->time_base = (AVRational){ 1, ENC_AUDIO_RATE };
	c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	rc = avcodec_open2(c, codec, NULL);
	if (rc < 0) {
		wk_error_set(err, "could not open the audio encoder: %s",
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	return 0;
}

/* ---- the interface --------------------------------------------------------------------- */

int wk_encode_open(struct wk_encode **out, const struct wk_job *job,
		   const struct wk_input_info *info, struct wk_stats *stats, struct wk_error *err)
{
	struct wk_encode *enc;
	int rc;

	*out = NULL;
	enc = calloc(1, sizeof(*enc));
	if (!enc) {
		wk_error_set(err, "out of memory opening the encoders");
		return -ENOMEM;
	}
	enc->job = job;
	enc->info = info;
	enc->stats = stats;
	enc->ag.audio = true;
	enc->gop = (int64_t)job->fps * HUBFS_STREAM_GOP_S;
	enc->first_key = ((int64_t)job->fps * HUBFS_STREAM_HLS_FIRST_MS + 999) / 1000;
	if (enc->first_key < 1)
		enc->first_key = 1;
	enc->next_key = 0;
	enc->last_vpts = INT64_MIN;
	enc->last_apts = INT64_MIN;
	enc->filt = av_frame_alloc();
	enc->pkt = av_packet_alloc();
	if (!enc->filt || !enc->pkt) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = enc_open_video(enc, err);
	if (!rc && info->has_audio)
		rc = enc_open_audio(enc, err);
	if (rc)
		goto fail;
	*out = enc;
	return 0;
fail:
	if (rc == -ENOMEM)
		wk_error_set(err, "out of memory opening the encoders");
	wk_encode_close(enc);
	return rc;
}

const AVCodecContext *wk_encode_video(const struct wk_encode *enc)
{
	return enc->venc;
}

const AVCodecContext *wk_encode_audio(const struct wk_encode *enc)
{
	return enc->aenc;
}

int wk_encode_frame(struct wk_encode *enc, AVFrame *frame, bool audio, const struct wk_clock *clock,
		    struct wk_outputs *outs, struct wk_error *err)
{
	struct enc_graph *eg = audio ? &enc->ag : &enc->vg;
	char ebuf[128];
	int rc;

	if (audio && !enc->aenc)
		return 0;
	if (!enc_graph_fits(eg, frame)) {
		if (eg->g) {
			wk_info("the source's %s format changed: rebuilding its filters",
				audio ? "audio" : "video");
			rc = enc_graph_close(enc, eg, clock, outs, err);
			if (rc)
				return rc;
			enc_graph_free(eg);
		}
		rc = enc_graph_build(enc, eg, frame);
		if (rc < 0) {
			wk_error_set(err, "could not set up the %s filters: %s",
				     audio ? "audio" : "video",
				     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			return wk_av_errno(rc);
		}
	}
	rc = av_buffersrc_add_frame_flags(eg->src, frame, 0);
	if (rc < 0) {
		wk_error_set(err, "%s filtering failed: %s", audio ? "audio" : "video",
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	return enc_pull(enc, eg, clock, outs, err);
}

int wk_encode_flush(struct wk_encode *enc, struct wk_outputs *outs, struct wk_error *err)
{
	int rc;

	rc = enc_graph_close(enc, &enc->vg, NULL, outs, err);
	if (!rc && enc->aenc)
		rc = enc_graph_close(enc, &enc->ag, NULL, outs, err);
	if (!rc)
		rc = enc_send(enc, enc->venc, NULL, outs, err);
	if (!rc && enc->aenc)
		rc = enc_send(enc, enc->aenc, NULL, outs, err);
	return rc;
}

void wk_encode_close(struct wk_encode *enc)
{
	if (!enc)
		return;
	enc_graph_free(&enc->vg);
	enc_graph_free(&enc->ag);
	avcodec_free_context(&enc->venc);
	avcodec_free_context(&enc->aenc);
	av_frame_free(&enc->filt);
	av_packet_free(&enc->pkt);
	free(enc);
}
