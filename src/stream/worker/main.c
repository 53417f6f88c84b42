/*
 * main.c — hubfs-stream, the stream worker: one process per running stream, started by the
 * daemon's supervisor as `hubfs-stream NAME` and driven over the pipe protocol of
 * include/hubfs/stream_proto.h (job and control words on fd 0, reports on fd 1, log on fd 2,
 * the source video on fd 3 for file sources).
 *
 * Order of things: read and check the job (a bad one: "error ...", exit 1) -> start the
 * control thread (control.c: "stop"/EOF on fd 0, progress lines) -> open the input, the
 * encoders and every output -> "ready" -> the frame loop -> flush the encoders and write
 * the trailers -> "done stopped" / "done source ended" (exit 0) or "error SENTENCE"
 * (exit 1). A stop (control word, EOF on fd 0, SIGTERM, SIGINT) at any point, even during a
 * network open, ends the stream cleanly and quickly.
 *
 * The frame loop (main thread): a decoded frame from the input; for paced sources (testsrc
 * and files with realtime=yes) a sleep until its media time is due on CLOCK_MONOTONIC; for
 * live sources the clock follows arrival; then filtering, encoding and muxing (encode.c,
 * output.c). Everything FFmpeg allocated is freed on every way out (the tests run under
 * LeakSanitizer).
 *
 * Threads: the main thread (all media work), the control thread, FFmpeg/x264's own threads;
 * the signal handler only calls wk_stop_request() (an atomic store and an eventfd write).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/worker/worker.h"

enum worker_end {
	END_STOPPED,
	END_SOURCE,
	END_ERROR,
};

static void worker_on_signal(int sig)
{
	(void)sig;
	wk_stop_request();
}

static int worker_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	sa.sa_handler = worker_on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static const char *worker_source_name(enum wk_source s)
{
	switch (s) {
	case WK_SRC_TESTSRC:
		return "testsrc";
	case WK_SRC_FILE:
		return "file";
	case WK_SRC_URL:
		return "url";
	case WK_SRC_DEVICE:
		return "device";
	}
	return "?";
}

static void worker_log_job(const struct wk_job *job)
{
	char push[256] = "";

	if (job->push_url)
		wk_url_redact(job->push_url, push, sizeof(push));
	wk_info("stream '%s': source %s, %dx%d %d fps %d kbps%s%s%s%s%s%s", job->name,
		worker_source_name(job->source), job->width, job->height, job->fps,
		job->bitrate_kbps, job->hls_dir ? ", hls " : "", job->hls_dir ? job->hls_dir : "",
		job->push_url ? ", push " : "", push, job->record_path ? ", record " : "",
		job->record_path ? job->record_path : "");
}

/*
 * The frame loop, from "ready" to the end of the source or a stop (@t0_ns: when the process
 * started). Returns the end, with the sentence in @err for END_ERROR.
 */
static enum worker_end worker_loop(const struct wk_job *job, int64_t t0_ns, struct wk_input *in,
				   struct wk_encode *enc, struct wk_outputs *outs,
				   struct wk_error *err)
{
	const struct wk_input_info *info = wk_input_info(in);
	bool paced = !info->live && job->realtime;
	struct wk_clock clock = { 0 };
	struct wk_frame_meta meta;
	AVFrame *frame = av_frame_alloc();
	enum worker_end end = END_STOPPED;
	int rc;

	if (!frame) {
		wk_error_set(err, "out of memory starting the stream");
		return END_ERROR;
	}
	if (paced)
		wk_clock_start(&clock, t0_ns);
	for (;;) {
		if (wk_stop_requested())
			break;
		rc = wk_input_read(in, frame, &meta, err);
		if (rc == 0) {
			end = END_SOURCE;
			break;
		}
		if (rc < 0) {
			if (rc == -EINTR && wk_stop_requested())
				break;
			end = END_ERROR;
			break;
		}
		if (paced) {
			rc = wk_clock_wait(&clock, meta.t_us);
			if (rc) {
				av_frame_unref(frame);
				break;
			}
		} else if (info->live && (meta.waited || !clock.start_ns)) {
			wk_clock_rebase(&clock, meta.t_us);
		}
		rc = wk_encode_frame(enc, frame, meta.audio, paced || info->live ? &clock : NULL,
				     outs, err);
		av_frame_unref(frame);
		if (rc) {
			end = END_ERROR;
			break;
		}
	}
	av_frame_free(&frame);
	return end;
}

int main(int argc, char **argv)
{
	int64_t t0_ns = wk_process_start_ns();
	struct wk_error err = { "" };
	struct wk_lines *lr = NULL;
	struct wk_job job;
	struct wk_stats stats;
	struct wk_control *control = NULL;
	struct wk_input *in = NULL;
	struct wk_encode *enc = NULL;
	struct wk_outputs *outs = NULL;
	enum worker_end end = END_ERROR;
	int flags, rc;

	memset(&job, 0, sizeof(job));
	wk_stats_init(&stats);
	wk_log_init();
	rc = wk_stop_init();
	if (!rc)
		rc = worker_signals();
	if (rc) {
		wk_error_set(&err, "could not set up the worker: %s", strerror(-rc));
		goto out;
	}
	if (argc != 2 || !*argv[1]) {
		wk_error_set(&err, "usage: %s NAME (the job comes on stdin)", HUBFS_STREAM_WORKER);
		goto out;
	}
	lr = malloc(sizeof(*lr));
	if (!lr) {
		wk_error_set(&err, "out of memory reading the job");
		goto out;
	}
	/* blocking reads of the job (the control thread polls before it reads) */
	flags = fcntl(STDIN_FILENO, F_GETFL);
	if (flags >= 0 && (flags & O_NONBLOCK))
		fcntl(STDIN_FILENO, F_SETFL, flags & ~O_NONBLOCK);
	wk_lines_init(lr, STDIN_FILENO);
	rc = wk_job_read(&job, lr, argv[1], &err);
	if (rc)
		goto out;
	if (job.source == WK_SRC_URL)
		wk_log_add_secret(job.input);
	wk_log_add_secret(job.push_url);
	worker_log_job(&job);

	rc = wk_control_start(&control, lr, &stats);
	if (rc) {
		wk_error_set(&err, "could not start the control thread: %s", strerror(-rc));
		goto out;
	}
	end = END_STOPPED;
	rc = wk_input_open(&in, &job, &stats, &err);
	if (!rc)
		rc = wk_encode_open(&enc, &job, wk_input_info(in), &stats, &err);
	if (!rc)
		rc = wk_outputs_open(&outs, &job, wk_encode_video(enc), wk_encode_audio(enc), &err);
	if (rc) {
		if (!(rc == -EINTR && wk_stop_requested()))
			end = END_ERROR;
		goto finish;
	}
	wk_control_ready(control);

	end = worker_loop(&job, t0_ns, in, enc, outs, &err);
	if (end != END_ERROR) {
		rc = wk_encode_flush(enc, outs, &err);
		if (rc)
			end = END_ERROR;
	}
finish:
	/* trailers even after an error: a player sees the HLS playlist end */
	rc = wk_outputs_finish(outs, &err);
	if (rc)
		end = END_ERROR;
out:
	wk_control_stop(control);
	wk_outputs_close(outs);
	wk_encode_close(enc);
	wk_input_close(in);
	if (end == END_ERROR) {
		if (!err.msg[0])
			wk_error_set(&err, "the stream failed");
		wk_log("error", "%s", err.msg);
		wk_report("error %s", err.msg);
	} else {
		wk_info("%s", end == END_SOURCE ? "source ended" : "stopped");
		wk_report("done %s", end == END_SOURCE ? "source ended" : "stopped");
	}
	wk_job_release(&job);
	free(lr);
	wk_stats_release(&stats);
	wk_stop_release();
	wk_log_release();
	return end == END_ERROR ? 1 : 0;
}
