/*
 * stream_proto.h — the pipe protocol between the daemon's stream supervisor and the
 * stream worker (hubfs-stream), one worker process per running stream.
 *
 * The worker is started as `hubfs-stream NAME` (argv carries only the stream name: URLs
 * may hold stream keys, so everything else comes through stdin). Its file descriptors:
 *
 *   fd 0  job + control, daemon -> worker. First the job: "key=value\n" lines ended by an
 *         empty line (keys below; unknown keys are an error). Then control words, one per
 *         line: "stop" ends the stream cleanly (encoder flushed, trailers written, HLS
 *         playlist ended with #EXT-X-ENDLIST). EOF on fd 0 (the daemon died) is a stop too.
 *   fd 1  reports, worker -> daemon, one line each, at most HUBFS_STREAM_LINE_MAX bytes:
 *           "ready"                       input and every output are open
 *           "progress frames=N fps=F bitrate_kbps=B speed=S dropped=D out_time_ms=T"
 *                                         at least every HUBFS_STREAM_PROGRESS_MS once ready
 *           "error SENTENCE"              the fatal error, just before exiting with 1
 *           "done REASON"                 clean end (REASON: "stopped" or "source ended"),
 *                                         just before exiting with 0
 *   fd 2  the worker's log (its own lines and FFmpeg's), free text, one line each.
 *   fd 3  only when the job has input_fd=3: the source video, read-only and seekable,
 *         opened by the daemon through its backend (the worker never sees the library).
 *
 * SIGTERM and SIGINT are a "stop". Exit status 0 after a clean end, 1 after an error.
 *
 * Job keys (daemon -> worker):
 *   name=NAME              the stream's name (messages only)
 *   source=testsrc|file|url|device
 *   input=...              url: the URL; device: /dev/videoN; file: its videos/ path
 *                          (messages only, bytes come from fd 3); testsrc: empty
 *   input_fd=3             file sources
 *   loop=yes|no            file sources: start again at the end
 *   realtime=yes|no        pace to the wall clock (testsrc and files: yes)
 *   width=W height=H fps=F bitrate_kbps=B
 *   hls_dir=DIR            write index.m3u8 + segments here (output=hls)
 *   push_url=URL           rtmp:// (FLV) or srt:// (MPEG-TS) destination
 *   record_path=FILE       also record (Matroska) into FILE
 *   io_timeout_ms=MS       network connect/read/write timeout (default 5000)
 */
#ifndef HUBFS_STREAM_PROTO_H
#define HUBFS_STREAM_PROTO_H

#define HUBFS_STREAM_WORKER "hubfs-stream" /* installed beside the hubfs binary */
#define HUBFS_STREAM_LINE_MAX 4096
#define HUBFS_STREAM_PROGRESS_MS 500
#define HUBFS_STREAM_INPUT_FD 3

/* HLS as the worker writes it (the daemon serves streams/NAME/hls/ from hls_dir). */
#define HUBFS_STREAM_HLS_PLAYLIST "index.m3u8"
#define HUBFS_STREAM_HLS_SEGMENT_S 2  /* target segment length */
#define HUBFS_STREAM_HLS_FIRST_MS 500 /* the first segment is cut early: fast start */
#define HUBFS_STREAM_HLS_LIST_SIZE 6  /* segments in the live playlist */
#define HUBFS_STREAM_GOP_S 2          /* a keyframe every 2 s */

#endif
