/*
 * avlog.c — hubfs_media_init(): FFmpeg's av_log routed through hubfs_log.
 *
 * FFmpeg logs through one process-wide callback; hubfs_media_init() installs ours once at
 * startup, before threads exist. Every line goes out at debug level in category media and
 * nothing else is printed, so validating a broken upload never writes to stderr unless
 * HUBFS_DEBUG=media (or -d) is on. The callback may run on any thread that uses FFmpeg; it
 * formats into its own stack buffer and holds no lock.
 */
#include <stdarg.h>
#include <string.h>

#include <libavutil/log.h>

#include "hubfs/log.h"
#include "hubfs/media.h"

static void media_av_log(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[1024];
	int prefix = 1;
	size_t n;

	if (level > av_log_get_level() || !(hubfs_log_cats & HUBFS_CAT_MEDIA))
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &prefix);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n)
		hubfs_dbg(HUBFS_CAT_MEDIA, "ffmpeg: %s", line);
}

void hubfs_media_init(void)
{
	av_log_set_level((hubfs_log_cats & HUBFS_CAT_MEDIA) ? AV_LOG_DEBUG : AV_LOG_QUIET);
	av_log_set_callback(media_av_log);
}
