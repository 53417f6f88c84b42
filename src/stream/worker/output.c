/*
 * output.c — the muxers: every encoded packet fanned out to each output of the job.
 *
 *   hls_dir      the hls muxer: DIR/index.m3u8 + DIR/seg-%05d.ts, 2 s segments with a 0.5 s
 *                first one, 6 in the live playlist, old ones deleted, playlist and segments
 *                written to a temp name and renamed (a reader never sees half of one),
 *                #EXT-X-ENDLIST written by the trailer on a clean end.
 *   push_url     rtmp[s]:// -> FLV, srt:// -> MPEG-TS; the connect and every write are
 *                bounded by io_timeout_ms (a deadline in the interrupt callback besides the
 *                protocol's own timeouts), and a stop abandons a connect in progress.
 *   record_path  Matroska, clusters of at most a second flushed as they close, so a
 *                recording cut by a kill is still decodable up to about that second.
 *
 * Packets are written with av_interleaved_write_frame() everywhere, timestamps rescaled to
 * each muxer's stream time base. The first write error of an output is fatal for the
 * stream (its sentence names the output); the other outputs still get their trailers. Every
 * muxer whose header was written gets av_write_trailer() before it is freed, even a failed
 * one (network I/O then no longer waits): FFmpeg 5.1's hls muxer frees its segment buffer
 * only there.
 * URLs are shown redacted (wk_url_redact): stream keys are secrets.
 *
 * Threads: main thread only; FFmpeg calls out_interrupt() from it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "stream/worker/worker.h"

#define OUT_MAX 3
#define OUT_MAX_INTERLEAVE_US (1 * WK_US_PER_S)

struct out_one {
	AVFormatContext *oc;
	char label[256];  /* as it may be shown */
	const char *what; /* "push", "recording", "HLS" */
	int stream[2];    /* index of the video, audio stream */
	bool network;
	bool connecting; /* a stop may abandon the connect */
	bool header;     /* header written, trailer due */
	bool failed;     /* a write failed: no more writes; the trailer only at close */
	int timeout_ms;
	int64_t deadline_ns; /* give up on the current I/O after this; 0: none */
	bool stop_hit;       /* the connect was abandoned for a stop */
};

struct wk_outputs {
	struct out_one o[OUT_MAX];
	int n;
	AVPacket *pkt;
	bool net_init;
};

static int out_interrupt(void *opaque)
{
	struct out_one *o = opaque;

	if (o->connecting && wk_stop_requested()) {
		o->stop_hit = true;
		return 1;
	}
	return o->deadline_ns && wk_now_ns() > o->deadline_ns;
}

static void out_arm(struct out_one *o)
{
	o->deadline_ns = o->network ? wk_now_ns() + o->timeout_ms * WK_NS_PER_MS : 0;
}

static bool out_timed_out(const struct out_one *o)
{
	return o->deadline_ns && wk_now_ns() > o->deadline_ns;
}

/* mkdir -p @dir. 0 or -errno. */
static int out_mkdirs(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);
	struct stat st;

	if (n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int out_add_stream(struct out_one *o, const AVCodecContext *c, int *index)
{
	AVStream *st = avformat_new_stream(o->oc, NULL);
	int rc;

	if (!st)
		return AVERROR(ENOMEM);
	rc = avcodec_parameters_from_context(st->codecpar, c);
	if (rc < 0)
		return rc;
	st->time_base = c->time_base;
	if (c->codec_type == AVMEDIA_TYPE_VIDEO)
		st->avg_frame_rate = c->framerate;
	*index = st->index;
	return 0;
}

/*
 * Open one output: muxer @fmtname writing @url, with @mux_opts for the header.
 * 0 or -errno, the sentence in @err.
 */
static int out_open_one(struct wk_outputs *os, const struct wk_job *job, const char *fmtname,
			const char *url, AVDictionary **mux_opts, const AVCodecContext *venc,
			const AVCodecContext *aenc, struct wk_error *err)
{
	struct out_one *o = &os->o[os->n];
	AVDictionary *io_opts = NULL;
	char ebuf[128], us[32], ms[32];
	int rc;

	rc = avformat_alloc_output_context2(&o->oc, NULL, fmtname, url);
	if (rc < 0 || !o->oc) {
		o->oc = NULL;
		wk_error_set(err, "could not set up the %s '%s': %s", o->what, o->label,
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	os->n++;
	o->oc->interrupt_callback.callback = out_interrupt;
	o->oc->interrupt_callback.opaque = o;
	/* a source whose audio ends early must not hold video back for FFmpeg's default 10 s */
	o->oc->max_interleave_delta = OUT_MAX_INTERLEAVE_US;
	o->stream[0] = o->stream[1] = -1;
	rc = out_add_stream(o, venc, &o->stream[0]);
	if (rc >= 0 && aenc)
		rc = out_add_stream(o, aenc, &o->stream[1]);
	if (rc < 0) {
		wk_error_set(err, "could not set up the %s '%s': %s", o->what, o->label,
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}

	if (!(o->oc->oformat->flags & AVFMT_NOFILE)) {
		if (o->network) {
			/* longer than our deadline (out_interrupt), which then speaks first */
			snprintf(us, sizeof(us), "%lld",
				 ((long long)job->io_timeout_ms + 1000) * 1000);
			snprintf(ms, sizeof(ms), "%d", job->io_timeout_ms + 1000);
			av_dict_set(&io_opts, "rw_timeout", us, 0);
			if (!strncasecmp(url, "srt:", 4)) {
				av_dict_set(&io_opts, "timeout", us, 0);
				av_dict_set(&io_opts, "connect_timeout", ms, 0);
			}
		}
		o->connecting = true;
		out_arm(o);
		rc = avio_open2(&o->oc->pb, url, AVIO_FLAG_WRITE, &o->oc->interrupt_callback,
				&io_opts);
		o->connecting = false;
		av_dict_free(&io_opts);
		if (rc < 0) {
			if (o->stop_hit)
				return -EINTR; /* abandoned for a stop, not failed */
			if (!o->network)
				wk_error_set(err, "could not open '%s' for the %s: %s", o->label,
					     o->what, wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			else if (out_timed_out(o))
				wk_error_set(err,
					     "could not connect to '%s': no answer within %d ms",
					     o->label, o->timeout_ms);
			else
				wk_error_set(err, "could not connect to '%s': %s", o->label,
					     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			return wk_av_errno(rc);
		}
	}
	out_arm(o);
	rc = avformat_write_header(o->oc, mux_opts);
	if (rc < 0) {
		o->failed = true;
		if (o->stop_hit)
			return -EINTR;
		wk_error_set(err, "could not start the %s '%s': %s", o->what, o->label,
			     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
		return wk_av_errno(rc);
	}
	o->header = true;
	wk_info("opened %s '%s' (%s)", o->what, o->label, o->oc->oformat->name);
	return 0;
}

static int out_open_hls(struct wk_outputs *os, const struct wk_job *job, const AVCodecContext *venc,
			const AVCodecContext *aenc, struct wk_error *err)
{
	struct out_one *o = &os->o[os->n];
	AVDictionary *opts = NULL;
	char playlist[4096], segments[8192], v[32];
	size_t j = 0;
	int rc;

	o->what = "HLS output";
	snprintf(o->label, sizeof(o->label), "%s", job->hls_dir);
	rc = out_mkdirs(job->hls_dir);
	if (rc) {
		wk_error_set(err, "could not create the HLS directory '%s': %s", o->label,
			     strerror(-rc));
		return rc;
	}
	if ((size_t)snprintf(playlist, sizeof(playlist), "%s/%s", job->hls_dir,
			     HUBFS_STREAM_HLS_PLAYLIST) >= sizeof(playlist)) {
		wk_error_set(err, "the HLS directory '%.64s...' is too long", job->hls_dir);
		return -ENAMETOOLONG;
	}
	/* the segment name is a printf template: a '%' of the directory must be doubled */
	for (const char *p = job->hls_dir; *p && j < sizeof(segments) - 64; p++) {
		if (*p == '%')
			segments[j++] = '%';
		segments[j++] = *p;
	}
	snprintf(segments + j, sizeof(segments) - j, "/seg-%%05d.ts");

	snprintf(v, sizeof(v), "%d", HUBFS_STREAM_HLS_SEGMENT_S);
	av_dict_set(&opts, "hls_time", v, 0);
	snprintf(v, sizeof(v), "%d.%03d", HUBFS_STREAM_HLS_FIRST_MS / 1000,
		 HUBFS_STREAM_HLS_FIRST_MS % 1000);
	av_dict_set(&opts, "hls_init_time", v, 0);
	snprintf(v, sizeof(v), "%d", HUBFS_STREAM_HLS_LIST_SIZE);
	av_dict_set(&opts, "hls_list_size", v, 0);
	av_dict_set(&opts, "hls_flags", "delete_segments+temp_file+independent_segments", 0);
	av_dict_set(&opts, "hls_segment_type", "mpegts", 0);
	av_dict_set(&opts, "hls_segment_filename", segments, 0);
	rc = out_open_one(os, job, "hls", playlist, &opts, venc, aenc, err);
	av_dict_free(&opts);
	return rc;
}

static int out_open_push(struct wk_outputs *os, const struct wk_job *job,
			 const AVCodecContext *venc, const AVCodecContext *aenc,
			 struct wk_error *err)
{
	struct out_one *o = &os->o[os->n];
	bool srt = !strncasecmp(job->push_url, "srt:", 4);
	AVDictionary *opts = NULL;
	int rc;

	o->what = "push";
	o->network = true;
	o->timeout_ms = job->io_timeout_ms;
	wk_url_redact(job->push_url, o->label, sizeof(o->label));
	if (!os->net_init) {
		avformat_network_init();
		os->net_init = true;
	}
	if (!srt)
		av_dict_set(&opts, "flvflags", "no_duration_filesize", 0);
	rc = out_open_one(os, job, srt ? "mpegts" : "flv", job->push_url, &opts, venc, aenc, err);
	av_dict_free(&opts);
	return rc;
}

static int out_open_record(struct wk_outputs *os, const struct wk_job *job,
			   const AVCodecContext *venc, const AVCodecContext *aenc,
			   struct wk_error *err)
{
	struct out_one *o = &os->o[os->n];
	AVDictionary *opts = NULL;
	int rc;

	o->what = "recording";
	snprintf(o->label, sizeof(o->label), "%s", job->record_path);
	av_dict_set(&opts, "cluster_time_limit", "1000", 0);
	rc = out_open_one(os, job, "matroska", job->record_path, &opts, venc, aenc, err);
	if (!rc)
		o->oc->flush_packets = 1; /* clusters reach the file as they close */
	av_dict_free(&opts);
	return rc;
}

int wk_outputs_open(struct wk_outputs **out, const struct wk_job *job, const AVCodecContext *venc,
		    const AVCodecContext *aenc, struct wk_error *err)
{
	struct wk_outputs *os;
	int rc = 0;

	*out = NULL;
	os = calloc(1, sizeof(*os));
	if (!os) {
		wk_error_set(err, "out of memory opening the outputs");
		return -ENOMEM;
	}
	os->pkt = av_packet_alloc();
	if (!os->pkt) {
		rc = -ENOMEM;
		goto fail;
	}
	/* the likeliest to fail first: a dead destination then leaves nothing half-made */
	if (job->push_url)
		rc = out_open_push(os, job, venc, aenc, err);
	if (!rc && job->record_path)
		rc = out_open_record(os, job, venc, aenc, err);
	if (!rc && job->hls_dir)
		rc = out_open_hls(os, job, venc, aenc, err);
	if (rc)
		goto fail;
	*out = os;
	return 0;
fail:
	if (rc == -ENOMEM)
		wk_error_set(err, "out of memory opening the outputs");
	wk_outputs_close(os);
	return rc;
}

int wk_outputs_write(struct wk_outputs *os, const AVPacket *pkt, bool audio, AVRational tb,
		     struct wk_error *err)
{
	char ebuf[128];
	int rc;

	for (int i = 0; i < os->n; i++) {
		struct out_one *o = &os->o[i];
		int idx = o->stream[audio ? 1 : 0];
		AVStream *st;

		if (o->failed || !o->header || idx < 0)
			continue;
		st = o->oc->streams[idx];
		rc = av_packet_ref(os->pkt, pkt);
		if (rc < 0) {
			wk_error_set(err, "out of memory writing the %s", o->what);
			return -ENOMEM;
		}
		os->pkt->stream_index = idx;
		os->pkt->pos = -1;
		av_packet_rescale_ts(os->pkt, tb, st->time_base);
		out_arm(o);
		rc = av_interleaved_write_frame(o->oc, os->pkt);
		av_packet_unref(os->pkt);
		if (rc < 0) {
			o->failed = true;
			if (out_timed_out(o))
				wk_error_set(err, "could not write to '%s': no progress for %d ms",
					     o->label, o->timeout_ms);
			else
				wk_error_set(err, "could not write to '%s': %s", o->label,
					     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			return wk_av_errno(rc);
		}
	}
	return 0;
}

int wk_outputs_finish(struct wk_outputs *os, struct wk_error *err)
{
	char ebuf[128];
	int first = 0, rc;

	if (!os)
		return 0;
	for (int i = 0; i < os->n; i++) {
		struct out_one *o = &os->o[i];

		if (!o->header || o->failed)
			continue; /* a failed one: wk_outputs_close() */
		out_arm(o);
		rc = av_write_trailer(o->oc);
		o->header = false;
		if (rc < 0) {
			o->failed = true;
			wk_error_set(err, "could not finish the %s '%s': %s", o->what, o->label,
				     wk_av_strerror(rc, ebuf, sizeof(ebuf)));
			if (!first)
				first = wk_av_errno(rc);
		}
	}
	return first;
}

void wk_outputs_close(struct wk_outputs *os)
{
	if (!os)
		return;
	for (int i = 0; i < os->n; i++) {
		struct out_one *o = &os->o[i];

		if (!o->oc)
			continue;
		/* a failed or unfinished network output gets no more waiting */
		o->deadline_ns = o->network ? 1 : 0;
		if (o->header) {
			/* failed or never finished: the trailer, whatever it manages to write,
			 * is what releases a muxer's state (hls frees its segment buffer there) */
			o->header = false;
			av_write_trailer(o->oc);
		}
		if (!(o->oc->oformat->flags & AVFMT_NOFILE))
			avio_closep(&o->oc->pb);
		avformat_free_context(o->oc);
		o->oc = NULL;
	}
	av_packet_free(&os->pkt);
	if (os->net_init)
		avformat_network_deinit();
	free(os);
}
