#!/bin/bash
# notes/: a version is durable when close() returns; kill -9 in the middle of an edit leaves
# the previous version intact, never a mix of two saves; the catalog comes back clean.
. "$(dirname "$0")/lib.sh"
HUB_EXPECT_ERRORS='Transport endpoint'
hub_mount
printf 'first\n' >"$MNT/notes/plan.md"
printf 'second\nline two\n' >"$MNT/notes/plan.md"
mkdir "$MNT/notes/work"
printf 'in a folder\n' >"$MNT/notes/work/a.md"
# a saved version survives a kill -9 right after close() returned
printf 'third\n' >"$MNT/notes/work/a.md"
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null || true
HUB_PID=
fusermount3 -uz "$MNT" 2>/dev/null || true
hub_mount
assert_eq "$(cat "$MNT/notes/work/a.md")" "third" "version saved just before kill -9"
assert_eq "$(ls "$MNT/notes/.versions/work/a.md" | tr '\n' ' ')" "1 2 " "history after kill -9"

# kill -9 while an editor is half-way through rewriting the note (the file still open)
python3 - "$MNT/notes/plan.md" "$T/ready" <<'PY' &
import os, sys, time
path, ready = sys.argv[1:]
fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"HALF OF A NEW SAVE ")
open(ready, "w").close()
time.sleep(30)
PY
writer=$!
wait_for 10 test -e "$T/ready" || fail "the writer never started"
kill -9 "$HUB_PID"
wait "$HUB_PID" 2>/dev/null || true
HUB_PID=
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
fusermount3 -uz "$MNT" 2>/dev/null || true

hub_mount
assert_eq "$(cat "$MNT/notes/plan.md")" "$(printf 'second\nline two')" "the previous version, whole"
assert_eq "$(ls "$MNT/notes/.versions/plan.md" | tr '\n' ' ')" "1 2 " "no half version"
assert_eq "$(getfattr --only-values -n user.hub.version "$MNT/notes/plan.md")" 2 "user.hub.version"
assert_eq "$(sqlite3 "$STATE/catalog.db" 'PRAGMA integrity_check')" ok "catalog integrity"
assert_eq "$(sqlite3 "$STATE/catalog.db" 'PRAGMA journal_mode')" wal "journal mode"
# and it works on after the crash
printf 'fourth\n' >>"$MNT/notes/plan.md"
assert_eq "$(ls "$MNT/notes/.versions/plan.md" | tr '\n' ' ')" "1 2 3 " "saving after recovery"
hub_umount
