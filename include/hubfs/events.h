/*
 * events.h — the hub's event log, served as .hub/events.
 *
 * One line per event, newest last: "2026-11-27T16:13:08.123Z KIND sentence". The sentence
 * is in git's style: lower case, what happened, the subject quoted
 * ("rejected 'videos/a.mp4': no video stream"). Every event is also logged. The file lives
 * in state_dir, is appended with O_APPEND (so `tail -f` on the mount sees growth), and is
 * rotated to events.log.1 past a size limit. A process-wide singleton: events come from
 * every subsystem and every thread; an internal mutex orders the lines.
 */
#ifndef HUBFS_EVENTS_H
#define HUBFS_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Event kinds, as written in the second column. */
#define HUBFS_EV_UPLOAD "upload"
#define HUBFS_EV_REJECT "reject"
#define HUBFS_EV_DELETE "delete"
#define HUBFS_EV_RENAME "rename"
#define HUBFS_EV_SCAN "scan"
#define HUBFS_EV_STREAM "stream"
#define HUBFS_EV_NOTE "note"
#define HUBFS_EV_SYNC "sync"
#define HUBFS_EV_CONFLICT "conflict"
#define HUBFS_EV_ERROR "error"
#define HUBFS_EV_MOUNT "mount"

/*
 * Open (create) the event log at @path. Returns 0 or -errno. Until it is opened, events
 * only go to the log.
 */
int hubfs_events_open(const char *path);
void hubfs_events_close(void);

/* Append one event. Never fails from the caller's view (a write error is logged). */
void hubfs_event(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Path of the current log file (for serving .hub/events), or NULL before open. */
const char *hubfs_events_path(void);

/*
 * Called after each appended line (outside the events lock), e.g. so the fs can drop the
 * kernel's cached size of .hub/events. One listener; NULL clears it.
 */
void hubfs_events_set_listener(void (*fn)(void *arg), void *arg);

#endif
