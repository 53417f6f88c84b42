#!/bin/bash
# notes/ history: .versions/PATH/N read-only with author/time/id, restore by cp, deletes
# keep the history, renames and folders keep it, another Unix user is the author of what
# they write; events and status; a remount keeps notes, versions, tags and shared flags.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C
chmod 755 "$T" # another user writes through the mount below
hub_mount -o node_name=hist-a,allow_other
N=$MNT/notes
ME=$(id -un)

versions() { ls "$N/.versions/$1" | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# status_is KEY VALUE: .hub/status says KEY=VALUE
status_is() {
	grep -qx "$1=$2" "$MNT/.hub/status" || fail "status: want $1=$2, got: $(grep -E "^(notes|shared)=" "$MNT/.hub/status" | tr '\n' ' ')"
}
status_is notes 0
status_is shared 0

# ---- three versions, listed and readable ----------------------------------------------------
t0=$(date -u +%s)
echo 'buy milk' >"$N/todo.md"
echo 'buy eggs' >>"$N/todo.md"
printf 'buy milk\nbuy eggs\nbuy bread\n' >"$T/v3"
cp "$T/v3" "$N/todo.md"
assert_eq "$(versions todo.md)" "1 2 3" "versions of todo.md"
ls "$N/.versions" | grep -qx todo.md || fail ".versions does not list todo.md: $(ls "$N/.versions")"
assert_eq "$(cat "$N/.versions/todo.md/1")" "buy milk" "version 1"
assert_eq "$(cat "$N/.versions/todo.md/2")" "buy milk
buy eggs" "version 2"
cmp "$T/v3" "$N/.versions/todo.md/3" || fail "version 3"
assert_eq "$(stat -c '%F %a %s' "$N/.versions/todo.md/1")" "regular file 444 9" "version 1 attributes"
assert_eq "$(stat -c '%F' "$N/.versions/todo.md")" "directory" "a note's history is a folder"
ID=$(xattr user.hub.id "$N/todo.md")
assert_eq "$(xattr user.hub.version "$N/todo.md")" 3 "user.hub.version"

# versions are read-only
expect_fail "" sh -c "echo x > '$N/.versions/todo.md/1'"
expect_fail "" sh -c "echo x >> '$N/.versions/todo.md/1'"
expect_fail "" rm "$N/.versions/todo.md/1"
expect_fail "" mv "$N/.versions/todo.md/1" "$N/.versions/todo.md/9"
expect_fail "" touch "$N/.versions/todo.md/4"
expect_fail "" mkdir "$N/.versions/x"
expect_fail "" truncate -s 0 "$N/.versions/todo.md/2"
expect_fail "" setfattr -n user.hub.author -v someone "$N/.versions/todo.md/1"
assert_eq "$(versions todo.md)" "1 2 3" "versions after refused changes"
assert_eq "$(cat "$N/.versions/todo.md/1")" "buy milk" "version 1 after refused changes"
expect_fail "No such file" cat "$N/.versions/todo.md/4"
expect_fail "No such file" cat "$N/.versions/todo.md/0"
expect_fail "No such file" ls "$N/.versions/nothing.md"

# xattrs of versions: author USER@NODE, time, id
ids=
for i in 1 2 3; do
	v=$N/.versions/todo.md/$i
	assert_eq "$(xattr user.hub.author "$v")" "$ME@hist-a" "author of version $i"
	tm=$(xattr user.hub.time "$v")
	[[ $tm =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$ ]] || fail "user.hub.time of version $i: '$tm'"
	ts=$(date -u -d "$tm" +%s)
	{ [ "$ts" -ge $((t0 - 1)) ] && [ "$ts" -le $(($(date -u +%s) + 1)) ]; } || fail "user.hub.time of version $i is not now: $tm"
	vid=$(xattr user.hub.id "$v")
	[[ $vid =~ ^[0-9a-f]{64}$ ]] || fail "user.hub.id of version $i: '$vid'"
	case " $ids " in *" $vid "*) fail "versions $i repeats an id" ;; esac
	ids="$ids $vid"
	getfattr -d "$v" 2>/dev/null | grep -q "^user.hub.author=\"$ME@hist-a\"" || fail "getfattr -d on version $i: $(getfattr -d "$v" 2>&1)"
done
assert_eq "$(xattr user.hub.contributors "$N/todo.md")" "$ME@hist-a" "contributors"

# another Unix user writing through the mount is the author of that version
chmod 666 "$N/todo.md"
setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "echo 'buy tea' >> '$N/todo.md'" || fail "write as nobody"
assert_eq "$(versions todo.md)" "1 2 3 4" "versions after nobody's save"
assert_eq "$(xattr user.hub.author "$N/.versions/todo.md/4")" "nobody@hist-a" "author of nobody's version"
assert_eq "$(xattr user.hub.contributors "$N/todo.md")" "$ME@hist-a,nobody@hist-a" "contributors after two authors"
assert_eq "$(xattr user.hub.author "$N/.versions/todo.md/3")" "$ME@hist-a" "earlier authors unchanged"

# ---- restore: cp from .versions makes a new version with the old content --------------------
cp "$N/.versions/todo.md/1" "$N/todo.md" || fail "restore by cp"
assert_eq "$(versions todo.md)" "1 2 3 4 5" "versions after the restore"
assert_eq "$(cat "$N/todo.md")" "buy milk" "content after the restore"
cmp "$N/.versions/todo.md/1" "$N/.versions/todo.md/5" || fail "version 5 is not version 1's content"
cmp "$T/v3" "$N/.versions/todo.md/3" || fail "version 3 changed by the restore"
assert_eq "$(xattr user.hub.id "$N/todo.md")" "$ID" "identity after the restore"
[ "$(xattr user.hub.id "$N/.versions/todo.md/5")" != "$(xattr user.hub.id "$N/.versions/todo.md/1")" ] ||
	fail "a restore has the id of the version it restores (ids are content + parents + origin)"
# restoring what is already there is no version
cp "$N/.versions/todo.md/5" "$N/todo.md"
assert_eq "$(versions todo.md)" "1 2 3 4 5" "restoring the current content"

# ---- folders and renames keep the history ------------------------------------------------
mkdir -p "$N/work"
echo 'plan v1' >"$N/work/plan.md"
echo 'plan v2' >"$N/work/plan.md"
assert_eq "$(ls "$N/.versions" | tr '\n' ' ')" "todo.md work " ".versions top level"
assert_eq "$(ls "$N/.versions/work")" "plan.md" ".versions/work"
assert_eq "$(versions work/plan.md)" "1 2" "versions of work/plan.md"
assert_eq "$(cat "$N/.versions/work/plan.md/1")" "plan v1" "work/plan.md version 1"
PID=$(xattr user.hub.id "$N/work/plan.md")
mv "$N/work/plan.md" "$N/work/roadmap.md"
assert_eq "$(versions work/roadmap.md)" "1 2" "history follows a rename"
assert_eq "$(cat "$N/.versions/work/roadmap.md/1")" "plan v1" "renamed note's version 1"
assert_eq "$(xattr user.hub.id "$N/work/roadmap.md")" "$PID" "identity after a rename"
mv "$N/work" "$N/job"
assert_eq "$(versions job/roadmap.md)" "1 2" "history follows a folder rename"
assert_eq "$(xattr user.hub.id "$N/job/roadmap.md")" "$PID" "identity after a folder rename"
echo 'plan v3' >"$N/job/roadmap.md"
assert_eq "$(versions job/roadmap.md)" "1 2 3" "saving after the renames"

# ---- delete keeps the history -------------------------------------------------------------
status_is notes 2
rm "$N/todo.md"
assert_absent "$N/todo.md"
expect_fail "No such file" cat "$N/todo.md"
# the delete is the last version (empty, marked deleted); every earlier one is intact
assert_eq "$(versions todo.md)" "1 2 3 4 5 6" "history after the delete"
assert_eq "$(xattr user.hub.deleted "$N/.versions/todo.md/6")" 1 "the delete version is marked"
assert_eq "$(stat -c %s "$N/.versions/todo.md/6")" 0 "the delete version is empty"
cmp "$T/v3" "$N/.versions/todo.md/3" || fail "version 3 after the delete"
assert_eq "$(cat "$N/.versions/todo.md/5")" "buy milk" "version 5 after the delete"
ls "$N/.versions" | grep -qx todo.md || fail ".versions lists a deleted note"
status_is notes 1
# restore after the delete: the same note comes back, as a new version after the delete
cp "$N/.versions/todo.md/3" "$N/todo.md" || fail "restore a deleted note"
cmp "$T/v3" "$N/todo.md" || fail "restored content"
assert_eq "$(versions todo.md)" "1 2 3 4 5 6 7" "restoring a deleted note continues its history"
assert_eq "$(xattr user.hub.id "$N/todo.md")" "$ID" "a restored note is the same note"
status_is notes 2
# delete again and re-create it by hand: the history is still there, before the new content
rm "$N/todo.md"
echo 'a fresh start' >"$N/todo.md"
assert_eq "$(cat "$N/todo.md")" "a fresh start" "re-created note"
assert_eq "$(cat "$N/.versions/todo.md/1")" "buy milk" "version 1 after delete and re-create"
cmp "$T/v3" "$N/.versions/todo.md/3" || fail "version 3 after delete and re-create"
last=$(versions todo.md | awk '{print $NF}')
assert_eq "$last" 9 "re-created note: versions $(versions todo.md)"
assert_eq "$(cat "$N/.versions/todo.md/9")" "a fresh start" "the re-created content is the last version"

# ---- shared, tags, events, status -------------------------------------------------------------
echo 'shared note' >"$N/pub.md"
setfattr -n user.hub.shared -v 1 "$N/pub.md"
setfattr -n user.xdg.tags -v 'Work,home' "$N/pub.md"
setfattr -n user.color -v blue "$N/pub.md"
setfattr -n user.xdg.tags -v 'old' "$N/todo.md"
setfattr -n user.hub.shared -v 1 "$N/todo.md"
setfattr -n user.hub.shared -v 0 "$N/todo.md"
status_is notes 3
status_is shared 1
grep -qx 'hubfs_notes 3' "$MNT/.hub/metrics" || fail "metrics hubfs_notes: $(grep notes "$MNT/.hub/metrics")"
grep -qx 'hubfs_notes_shared 1' "$MNT/.hub/metrics" || fail "metrics hubfs_notes_shared"
events_has "note saved 'notes/todo.md'"
events_has "note deleted 'notes/todo.md'"
events_has "note saved 'notes/job/roadmap.md'"
events_has "note shared 'notes/pub.md'"
events_has "note shared 'notes/todo.md'"
events_has "note unshared 'notes/todo.md'"
# a restore says so; one "saved" or "restored" line per version that is not a delete
events_has "note restored 'notes/todo.md' to the content of version 1 \(as version 5"
events_has "note restored 'notes/todo.md' to the content of version 3 "
assert_eq "$(grep -cE "note (saved|restored) 'notes/todo.md'" "$MNT/.hub/events")" 7 "saved events for todo.md"
assert_eq "$(grep -c "note deleted 'notes/todo.md'" "$MNT/.hub/events")" 2 "deleted events for todo.md"

# ---- a remount keeps everything -----------------------------------------------------------
snap() {
	(
		cd "$N" || exit 1
		find . -path ./.search -prune -o -path ./.conflicts -prune -o -type f -print | sort | while read -r f; do
			printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -c1-16)"
		done
		for f in todo.md pub.md job/roadmap.md; do
			getfattr -d "$f" 2>/dev/null | grep -v '^#' | grep -v '^$'
			for v in $(ls ".versions/$f"); do
				printf '%s/%s %s %s %s\n' "$f" "$v" "$(xattr user.hub.author ".versions/$f/$v")" \
					"$(xattr user.hub.time ".versions/$f/$v")" "$(xattr user.hub.id ".versions/$f/$v")"
			done
		done
		stat -c '%n %a %s %Y' todo.md pub.md job job/roadmap.md
	)
}
snap >"$T/before"
grep -q '^user.hub.shared="1"' "$T/before" || fail "snapshot lacks the shared flag: $(cat "$T/before")"
hub_umount
hub_mount -o node_name=hist-a,allow_other
snap >"$T/after"
diff -u "$T/before" "$T/after" >&2 || fail "a remount changed notes/ (above: - before, + after)"
assert_eq "$(xattr user.hub.shared "$N/pub.md")" 1 "shared flag after the remount"
assert_eq "$(xattr user.xdg.tags "$N/pub.md")" "home,work" "tags after the remount"
assert_eq "$(xattr user.color "$N/pub.md")" blue "user xattr after the remount"
assert_eq "$(versions todo.md)" "1 2 3 4 5 6 7 8 9" "history after the remount"
assert_eq "$(xattr user.hub.id "$N/todo.md")" "$ID" "identity after the remount"
status_is notes 3
status_is shared 1
# and it goes on from there
echo 'after the remount' >>"$N/todo.md"
assert_eq "$(versions todo.md)" "1 2 3 4 5 6 7 8 9 10" "saving after the remount"
assert_eq "$(cat "$N/.versions/todo.md/10")" "a fresh start
after the remount" "version 10"
hub_umount
