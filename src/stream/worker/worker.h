/*
 * worker.h — private to the stream worker (hubfs-stream): the pieces main.c wires together.
 *
 * One process per running stream. The data path is single-threaded and runs on the main
 * thread: input (demux + decode, or the test generator) -> encode (filter graph, libx264,
 * AAC) -> outputs (HLS, RTMP/SRT push, Matroska recording). One helper thread (control.c)
 * reads control words from fd 0 and writes the periodic progress lines; it shares only the
 * stop flag (atomic), the ready flag (atomic) and struct wk_stats (its own mutex) with the
 * data path. FFmpeg and x264 start threads of their own; they only ever call our av_log
 * callback (log.c, thread-safe).
 *
 * Errors: functions return 0 (or a count) / -errno. FFmpeg's AVERROR codes are mapped by
 * wk_av_errno() where they are met. A fatal failure also leaves its user-facing sentence
 * (lower case, what failed, subject quoted) in a struct wk_error; main.c prints the first
 * one as the "error" report. See include/hubfs/stream_proto.h for the protocol.
 */
#ifndef HUBFS_STREAM_WORKER_H
#define HUBFS_STREAM_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavutil/frame.h>

#include "hubfs/stream_proto.h"

#define WK_US_PER_S 1000000LL
#define WK_NS_PER_US 1000LL
#define WK_NS_PER_MS 1000000LL
#define WK_LIVE_MAX_LAG_US (1 * WK_US_PER_S)    /* behind real time by more: drop frames */
#define WK_CLOCK_HEADSTART_US (WK_US_PER_S / 2) /* the most a paced start may catch up */
#define WK_IO_TIMEOUT_MS_DEFAULT 5000

/* ---- job.c: the job read from fd 0 ----------------------------------------------------- */

enum wk_source {
	WK_SRC_TESTSRC,
	WK_SRC_FILE,
	WK_SRC_URL,
	WK_SRC_DEVICE,
};

struct wk_job {
	char *name;
	enum wk_source source;
	char *input;       /* "" for testsrc; a URL (secret parts!) for url */
	int input_fd;      /* file sources: the fd holding the video; else -1 */
	bool loop;         /* file sources: start again at the end */
	bool realtime;     /* pace testsrc and files to the wall clock */
	int width, height; /* even */
	int fps;           /* whole frames per second */
	int bitrate_kbps;
	char *hls_dir;     /* NULL: no HLS */
	char *push_url;    /* NULL: no push; rtmp[s]:// or srt:// (secret parts!) */
	char *record_path; /* NULL: no recording */
	int io_timeout_ms;
};

/* A line reader over a file descriptor (fd 0): whole lines out of a fixed buffer. */
struct wk_lines {
	int fd;
	size_t start, len; /* unread bytes are buf[start, len) */
	bool overflow;     /* discarding the rest of a line that did not fit */
	char buf[HUBFS_STREAM_LINE_MAX];
};

void wk_lines_init(struct wk_lines *lr, int fd);
/*
 * The next complete line already buffered ('\n' and a trailing '\r' removed, NUL-terminated,
 * valid until the next call on @lr), or NULL when none is. A line longer than the buffer is
 * skipped whole and returned as "" with *too_long set.
 */
char *wk_lines_take(struct wk_lines *lr, bool *too_long);
/* One read(2) into the buffer: bytes read, 0 at EOF, -errno. Blocks if the fd does. */
ssize_t wk_lines_fill(struct wk_lines *lr);

struct wk_error {
	char msg[512]; /* "" until the first fatal error */
};

/* Record the fatal error's sentence unless one is recorded already (the first one wins). */
void wk_error_set(struct wk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Read and validate the job from @lr (fd 0): key=value lines up to an empty line. Strings
 * are copied into @job (release with wk_job_release, also after a failure). @argv_name
 * names the stream when the job has no name= line. Returns 0, or -EINVAL (bad job: the
 * sentence is in @err), -EIO / -errno (fd 0 failed or ended early).
 */
int wk_job_read(struct wk_job *job, struct wk_lines *lr, const char *argv_name,
		struct wk_error *err);
void wk_job_release(struct wk_job *job);

/* ---- log.c: fd 2, FFmpeg's log, secrets ------------------------------------------------ */

/* Install the av_log callback (level from HUBFS_DEBUG: "stream"/"all" -> verbose). */
void wk_log_init(void);
/* Hide @url's secret parts (user info, path beyond the app, query) in every log line. */
void wk_log_add_secret(const char *url);
/* Forget the secrets (frees them); call once at exit. */
void wk_log_release(void);
/* One line on fd 2: "LEVEL text". */
void wk_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define wk_info(...) wk_log("info", __VA_ARGS__)
#define wk_warn(...) wk_log("warning", __VA_ARGS__)

/*
 * @url as it may be shown: scheme://host[:port]/first-path-component, without user info,
 * the rest of the path (an RTMP stream key) or the query. A string that is not a URL is
 * copied as it is. Always NUL-terminates @out.
 */
void wk_url_redact(const char *url, char *out, size_t outlen);

/* The negative errno for an FFmpeg error code (AVERROR(e) is -e already). */
int wk_av_errno(int averr);
/* FFmpeg's text for @averr into @buf ("Connection refused"). Returns @buf. */
const char *wk_av_strerror(int averr, char *buf, size_t len);

/* ---- control.c: stop flag, fd 0 control words, reports on fd 1, progress -------------- */

/* Async-signal-safe: mark the stream as stopping and wake every wait on wk_stop_fd(). */
void wk_stop_request(void);
bool wk_stop_requested(void);
/* An eventfd that becomes (and stays) readable once a stop was requested. */
int wk_stop_fd(void);
/* Create the stop eventfd (before any thread or signal handler). 0 or -errno. */
int wk_stop_init(void);
void wk_stop_release(void);

/* Counters of the data path, read by the progress reporter. Protected by @lock. */
struct wk_stats {
	pthread_mutex_t lock;
	int64_t frames;      /* video frames encoded */
	int64_t bytes;       /* encoded bytes, video + audio */
	int64_t dropped;     /* video frames dropped (late on a live source, undecodable) */
	int64_t out_time_us; /* media time at the end of the last encoded video frame */
	int64_t first_ns;    /* monotonic time of the first encoded frame, 0: none yet */
	int64_t first_us;    /* media time of the first encoded frame */
};

void wk_stats_init(struct wk_stats *st);
void wk_stats_release(struct wk_stats *st);
/* A video frame from media time @t_us to @end_us was encoded. */
void wk_stats_add_frame(struct wk_stats *st, int64_t t_us, int64_t end_us);
void wk_stats_add_bytes(struct wk_stats *st, int64_t bytes);
void wk_stats_add_dropped(struct wk_stats *st, int64_t n);

/* One report line on fd 1 with a single write(2) ("\n" added; newlines inside squashed). */
void wk_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct wk_control;

/*
 * Start the control thread: it reads control words from @lr (whose buffer may already hold
 * some) — "stop" or EOF request a stop — and, once wk_control_ready() was called, writes a
 * progress line every HUBFS_STREAM_PROGRESS_MS from @stats. 0 or -errno.
 */
int wk_control_start(struct wk_control **out, struct wk_lines *lr, struct wk_stats *stats);
/* Everything is open: report "ready" and start the progress lines. */
void wk_control_ready(struct wk_control *c);
/*
 * Stop and join the thread, then write a final progress line if ready was reported.
 * NULL-safe. After it, the caller writes the "done"/"error" line: nothing else follows.
 */
void wk_control_stop(struct wk_control *c);

/* ---- clock.c: pacing and lateness on CLOCK_MONOTONIC ---------------------------------- */

int64_t wk_now_ns(void);
/* When the process started (exec, from /proc/self/stat), on wk_now_ns()'s clock; "now" when
 * that cannot be known. */
int64_t wk_process_start_ns(void);

struct wk_clock {
	int64_t start_ns; /* wall time of media time 0; 0: not started */
};

/*
 * Media time 0 is @t0_ns (the process start), but never more than WK_CLOCK_HEADSTART_US ago:
 * a paced source makes up the time its opening took with a short burst, so the first HLS
 * segment closes about HUBFS_STREAM_HLS_FIRST_MS after the process started, not after
 * "ready".
 */
void wk_clock_start(struct wk_clock *c, int64_t t0_ns);
/* Sleep until media time @t_us is due. 0, or -EINTR as soon as a stop is requested. */
int wk_clock_wait(struct wk_clock *c, int64_t t_us);
/* Live sources: a frame at @t_us arrived while we were waiting for the source, so we are
 * not behind: move media time 0 forward to make it due now (never backward). */
void wk_clock_rebase(struct wk_clock *c, int64_t t_us);
/* How far (µs) the wall clock is past media time @t_us (negative: early). */
int64_t wk_clock_lag_us(const struct wk_clock *c, int64_t t_us);

/* ---- input.c: sources ----------------------------------------------------------------- */

/* What the input delivers (the frames themselves carry size and formats). */
struct wk_input_info {
	int width, height;
	enum AVPixelFormat pix_fmt;
	AVRational sar;        /* 0/1 when unknown */
	AVRational time_base;  /* of video frame pts */
	AVRational frame_rate; /* 0/1 when unknown */
	bool has_audio;
	AVRational audio_time_base; /* of audio frame pts */
	bool live;                  /* url/device: never paced; lateness measured against arrival */
};

/* The frame wk_input_read() returned, beside its pts (already shifted to start at 0). */
struct wk_frame_meta {
	bool audio;
	int64_t t_us; /* media time of the frame */
	bool waited;  /* live: the read blocked on the source (we are not behind) */
};

struct wk_input;

/*
 * Open the job's source: demuxer and decoders, or the test generator. Network opens are
 * bounded by the job's io_timeout_ms and abandoned when a stop is requested (-EINTR).
 * Undecodable frames later count into @stats->dropped. Returns 0 or -errno (sentence in
 * @err); *out is NULL on failure.
 */
int wk_input_open(struct wk_input **out, const struct wk_job *job, struct wk_stats *stats,
		  struct wk_error *err);
const struct wk_input_info *wk_input_info(const struct wk_input *in);
/*
 * The next decoded frame into @frame (unref'd by the caller), timestamps monotonic across
 * loops. Returns 1 with a frame, 0 when the source ended, -EINTR when a stop interrupted
 * it, or -errno (sentence in @err).
 */
int wk_input_read(struct wk_input *in, AVFrame *frame, struct wk_frame_meta *meta,
		  struct wk_error *err);
void wk_input_close(struct wk_input *in); /* NULL-safe */

/* ---- output.c: muxers ----------------------------------------------------------------- */

struct wk_outputs;

/*
 * Open every output of @job (HLS directory, push URL, recording) with one video stream like
 * @venc and, when @aenc is not NULL, one audio stream like it; headers are written (a push
 * is connected, bounded by io_timeout_ms). Returns 0 or -errno (sentence in @err).
 */
int wk_outputs_open(struct wk_outputs **out, const struct wk_job *job, const AVCodecContext *venc,
		    const AVCodecContext *aenc, struct wk_error *err);
/*
 * Fan one encoded packet (timestamps in @tb) out to every output. @pkt stays the caller's.
 * 0 or -errno (sentence in @err: the output that failed).
 */
int wk_outputs_write(struct wk_outputs *o, const AVPacket *pkt, bool audio, AVRational tb,
		     struct wk_error *err);
/* Write the trailers (HLS: #EXT-X-ENDLIST) of every output still healthy. 0 or -errno. */
int wk_outputs_finish(struct wk_outputs *o, struct wk_error *err);
void wk_outputs_close(struct wk_outputs *o); /* NULL-safe */

/* ---- encode.c: filter graphs and encoders --------------------------------------------- */

struct wk_encode;

/*
 * Open the encoders (libx264 WxH yuv420p at the job's fps and bitrate; AAC 128k stereo
 * 48 kHz when @info has audio). The filter graphs from the input's frames to them are built
 * from the first frame of each kind, and rebuilt when the frames change size or format.
 * @job, @info and @stats are borrowed for the encoder's lifetime. Returns 0 or -errno
 * (sentence in @err).
 */
int wk_encode_open(struct wk_encode **out, const struct wk_job *job,
		   const struct wk_input_info *info, struct wk_stats *stats, struct wk_error *err);
const AVCodecContext *wk_encode_video(const struct wk_encode *enc);
const AVCodecContext *wk_encode_audio(const struct wk_encode *enc); /* NULL: no audio */
/*
 * Filter and encode one input frame, sending the packets to @outs. A video frame more than
 * WK_LIVE_MAX_LAG_US behind @clock (when not NULL) is dropped instead of encoded.
 * 0 or -errno (sentence in @err).
 */
int wk_encode_frame(struct wk_encode *enc, AVFrame *frame, bool audio, const struct wk_clock *clock,
		    struct wk_outputs *outs, struct wk_error *err);
/* End of input: drain the filters and encoders into @outs. 0 or -errno. */
int wk_encode_flush(struct wk_encode *enc, struct wk_outputs *outs, struct wk_error *err);
void wk_encode_close(struct wk_encode *enc); /* NULL-safe */

/*
 * Create the filters of @chain ("name" or "name=args" each, NULL-terminated) in @g and link
 * @from -> chain -> @to, output pad 0 to input pad 0 (input.c builds the test generator
 * with it). Returns 0 or a negative AVERROR.
 */
int wk_graph_chain(AVFilterGraph *g, AVFilterContext *from, const char *const *chain,
		   AVFilterContext *to);

#endif
