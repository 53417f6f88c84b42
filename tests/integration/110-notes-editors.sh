#!/bin/bash
# Every editor's save is exactly one new version of the note with the full new content, and
# the note keeps its identity (user.hub.id) and history: vim (default swap/backup settings,
# its 4913 probe and backup-and-rename save), nano (driven for real in tmux), sed -i, a
# Python atomic save, a gedit-style .goutputstream save, VS Code style truncate-and-write,
# cp over, >> appends. Unchanged content makes no version. Editor scratch files work as files
# while they exist and never become versions or search results.
. "$(dirname "$0")/lib.sh"
hub_mount -o node_name=ed-a
N=$MNT/notes
export LC_ALL=C
export HOME=$T/home # vim and nano keep no state of the user's
mkdir -p "$HOME"
TMUX_SOCK=$T/tmux.sock
HUB_UNDO+=("tmux -S $TMUX_SOCK kill-server 2>/dev/null")

# Scratch names (include/hubfs/notes.h) as a regex over one listing line.
SCRATCH_RE='^(\..+\.sw[a-z]|.*~|4913|5036|\.#.*|#.*#|\.goutputstream-.*|sed[A-Za-z0-9]{6}|.*\.tmp)$'

# no_scratch LABEL: no scratch name is listed in notes/, its folders, or .versions/
no_scratch() {
	local where left
	for where in "$N" "$N/dir" "$N/.versions" "$N/.versions/dir"; do
		[ -d "$where" ] || continue
		left=$(ls -A "$where" | grep -E "$SCRATCH_RE" || true)
		[ -z "$left" ] || fail "$1: scratch files left in ${where#"$MNT"/}: $left"
	done
}

# versions PATH: the version numbers listed for PATH, space-separated, in numeric order
versions() { ls "$N/.versions/$1" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# saved LABEL PATH: exactly one more version of PATH than before (NV[PATH]), holding $T/want
# in full, and the note is the same note (user.hub.id)
declare -A NV ID
saved() {
	local label=$1 p=$2
	NV[$p]=$((${NV[$p]:-0} + 1))
	local n=${NV[$p]}
	cmp "$T/want" "$N/$p" || fail "$label: content of notes/$p: $(head -c 300 "$N/$p" | od -c | head -5)"
	assert_eq "$(versions "$p")" "$(seq -s ' ' 1 "$n")" "$label: versions of $p"
	cmp "$T/want" "$N/.versions/$p/$n" || fail "$label: version $n of $p is not the full new content"
	assert_eq "$(xattr user.hub.version "$N/$p")" "$n" "$label: user.hub.version"
	if [ -z "${ID[$p]:-}" ]; then
		ID[$p]=$(xattr user.hub.id "$N/$p")
		[[ ${ID[$p]} =~ ^[0-9a-f]{32}$ ]] || fail "$label: user.hub.id '${ID[$p]}'"
	fi
	assert_eq "$(xattr user.hub.id "$N/$p")" "${ID[$p]}" "$label: identity (user.hub.id) of $p"
	no_scratch "$label"
	note "$label: version $n"
}

# unchanged LABEL PATH: no new version, content still $T/want
unchanged() {
	cmp "$T/want" "$N/$2" || fail "$1: content of $2 changed"
	assert_eq "$(versions "$2")" "$(seq -s ' ' 1 "${NV[$2]}")" "$1: a save without changes made a version of $2"
	assert_eq "$(xattr user.hub.id "$N/$2")" "${ID[$2]}" "$1: identity of $2"
	no_scratch "$1"
	note "$1: no new version"
}

# A note to edit, created by a shell redirect (bash opens the file, dup2()s it to stdout and
# closes the first fd before printf writes: that close must not save an empty version)
printf 'line1\nline2\n' >"$N/ed.md"
printf 'line1\nline2\n' >"$T/want"
saved "create by a shell redirect" ed.md

# ---- vim --------------------------------------------------------------------------------
# vim with its default settings (-u DEFAULTS: no user or system vimrc, 'nocompatible', so
# 'swapfile', 'writebackup' and 'backupcopy=auto' are vim's defaults), Ex mode for batch.
# One exception: the mount lives under /tmp, which vim's default 'backupskip' exempts from
# backups, so it is cleared to get what a user's notes anywhere else get.
# What strace showed it doing on this mount (and what is asserted below): it creates the
# swap file .ed.md.swp (O_EXCL, and a .ed.md.swx probe it removes), then on :w creates and
# removes the probe "4913" (O_CREAT|O_EXCL|O_NOFOLLOW, to see it may create files here with
# the note's owner and mode), renames ed.md to the backup ed.md~, creates ed.md again
# (O_WRONLY|O_CREAT, then ftruncate 0), writes, fsyncs, closes, tries to set
# system.posix_acl_access, removes ed.md~, and at exit removes .ed.md.swp.
vimrun() {
	vim -N -u DEFAULTS -i NONE -es --cmd 'set backupskip=' "$@" </dev/null
}
(cd "$N" && strace -f -qq -o "$T/vim.strace" -e trace=openat,rename,renameat,renameat2,unlink,unlinkat \
	vim -N -u DEFAULTS -i NONE -es --cmd 'set backupskip=' \
	-c "call writefile(readdir('.'), '$T/vim-listing')" \
	-c '%s/line1/LINE1 by vim/' -c 'wq' ed.md </dev/null) || fail "vim failed: $(tail -5 "$T/vim.strace")"
grep -q 'openat(AT_FDCWD, "\.ed\.md\.swp", O_RDWR|O_CREAT|O_EXCL' "$T/vim.strace" || fail "vim made no swap file"
grep -qx '\.ed\.md\.swp' "$T/vim-listing" || fail "the swap file was not listed while vim ran: $(cat "$T/vim-listing")"
grep -q 'openat(AT_FDCWD, "4913", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW.*= [0-9]' "$T/vim.strace" || fail "vim did not probe with 4913"
grep -qE 'rename\("ed\.md", "ed\.md~"\) += 0' "$T/vim.strace" || fail "vim did not save by backup-and-rename"
grep -qE 'unlink\("ed\.md~"\) += 0' "$T/vim.strace" || fail "vim did not remove its backup"
printf 'LINE1 by vim\nline2\n' >"$T/want"
saved "vim (backup-and-rename)" ed.md
# :wq without a change writes the same bytes by the same dance: no new version
vimrun -c 'wq' "$N/ed.md" || fail "vim :wq"
unchanged "vim :wq without changes" ed.md
# a second vim save right after (backup name now free again), in a folder, and a new note
vimrun -c '$d' -c 'wq' "$N/ed.md" || fail "vim delete a line"
printf 'LINE1 by vim\n' >"$T/want"
saved "vim again" ed.md
mkdir "$N/dir"
printf 'in a folder\n' >"$N/dir/v.md"
printf 'in a folder\n' >"$T/want"
saved "create in a folder" dir/v.md
(cd "$N/dir" && vimrun -c 's/$/, edited by vim/' -c 'wq' v.md) || fail "vim in a folder"
printf 'in a folder, edited by vim\n' >"$T/want"
saved "vim in a folder" dir/v.md
vimrun -c 'normal inew from vim' -c 'wq' "$N/vnew.md" || fail "vim on a new note"
printf 'new from vim\n' >"$T/want"
saved "vim on a new note" vnew.md
printf 'LINE1 by vim\n' >"$T/want"

# ---- nano, driven in a terminal ------------------------------------------------------------
# nano writes in place: open O_WRONLY|O_CREAT|O_TRUNC, write, fsync, close.
screen() { tmux -S "$TMUX_SOCK" capture-pane -p -t ed 2>/dev/null; }
screen_has() { screen | grep -qF "$1"; }
tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s ed -x 100 -y 30 \
	"cd '$N' && HOME='$HOME' nano --ignorercfile ed.md" || fail "tmux"
wait_for 10 screen_has "LINE1 by vim" || fail "nano did not show the note: $(screen)"
tmux -S "$TMUX_SOCK" send-keys -t ed 'nano was here' Enter
wait_for 5 screen_has "nano was here" || fail "nano did not take the typing: $(screen)"
tmux -S "$TMUX_SOCK" send-keys -t ed C-s
wait_for 10 screen_has "Wrote 2 lines" || fail "nano did not save: $(screen)"
tmux -S "$TMUX_SOCK" send-keys -t ed C-x
wait_for 10 sh -c "! tmux -S '$TMUX_SOCK' has-session -t ed" || fail "nano did not exit: $(screen)"
printf 'nano was here\nLINE1 by vim\n' >"$T/want"
saved "nano" ed.md

# ---- sed -i: a temporary sedXXXXXX in the same folder, renamed over the note --------------
strace -f -qq -o "$T/sed.strace" -e trace=rename,renameat,renameat2 sed -i 's/nano was here/sed was here/' "$N/ed.md" ||
	fail "sed -i"
grep -qE 'rename(at2?)?\(.*/sed[A-Za-z0-9]{6}", .*ed\.md".*= 0' "$T/sed.strace" || fail "sed -i did not rename a temporary over: $(cat "$T/sed.strace")"
printf 'sed was here\nLINE1 by vim\n' >"$T/want"
saved "sed -i" ed.md
sed -i 's/no such text/x/' "$N/ed.md" || fail "sed -i without a match"
unchanged "sed -i without a match" ed.md
sed -i 's/folder/FOLDER/' "$N/dir/v.md" || fail "sed -i in a folder"
printf 'in a FOLDER, edited by vim\n' >"$T/want"
saved "sed -i in a folder" dir/v.md
printf 'sed was here\nLINE1 by vim\n' >"$T/want"

# ---- Python / gedit style atomic saves ------------------------------------------------------
atomic_save() { # TMPNAME CONTENT: write the temporary, fsync, check, rename over ed.md
	python3 - "$N" "$1" "$2" <<'PY'
import os, sys
d, tmp, content = sys.argv[1], sys.argv[2], sys.argv[3].encode()
before = open(os.path.join(d, "ed.md"), "rb").read()
fd = os.open(os.path.join(d, tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, content)
os.fsync(fd)
os.close(fd)
# while it exists, the temporary is an ordinary file and the note is untouched
if tmp not in os.listdir(d):
    sys.exit("%s not listed while it exists" % tmp)
if open(os.path.join(d, tmp), "rb").read() != content:
    sys.exit("%s does not read back" % tmp)
if open(os.path.join(d, "ed.md"), "rb").read() != before:
    sys.exit("the note changed before the rename")
os.replace(os.path.join(d, tmp), os.path.join(d, "ed.md"))
dfd = os.open(d, os.O_RDONLY)
os.fsync(dfd)
os.close(dfd)
PY
}
atomic_save .ed.md.tmp $'python was here\nLINE1 by vim\n' || fail "python atomic save"
printf 'python was here\nLINE1 by vim\n' >"$T/want"
saved "python atomic save (.ed.md.tmp, fsync, rename over)" ed.md
atomic_save .goutputstream-Q2XW7Z $'gedit was here\nLINE1 by vim\n' || fail "gedit-style save"
printf 'gedit was here\nLINE1 by vim\n' >"$T/want"
saved "gedit-style save (.goutputstream-XXXXXX)" ed.md
atomic_save .ed.md.tmp $'gedit was here\nLINE1 by vim\n' || fail "atomic save of the same bytes"
unchanged "atomic save of the same bytes" ed.md

# ---- VS Code style: truncate and write in place -------------------------------------------
python3 - "$N/ed.md" <<'PY' || fail "O_TRUNC and write"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"code was here\n")
os.write(fd, b"LINE1 by vim\n")
os.close(fd)
PY
printf 'code was here\nLINE1 by vim\n' >"$T/want"
saved "O_TRUNC + write (VS Code)" ed.md
python3 - "$N/ed.md" <<'PY' || fail "ftruncate and pwrite"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.ftruncate(fd, 0)
os.pwrite(fd, b"code again\n", 0)
os.pwrite(fd, b"LINE1 by vim\n", 11)
os.fsync(fd)
os.close(fd)
PY
printf 'code again\nLINE1 by vim\n' >"$T/want"
saved "ftruncate + pwrite + fsync (VS Code)" ed.md

# ---- cp over, >> appends --------------------------------------------------------------------
printf 'copied over\n' >"$T/src.md"
cp "$T/src.md" "$N/ed.md" || fail "cp over"
cp "$T/src.md" "$T/want"
saved "cp over" ed.md
printf 'replaced by >\n' >"$N/ed.md"
printf 'replaced by >\n' >"$T/want"
saved "> over the note (O_TRUNC, dup2, close, write)" ed.md
cp "$T/src.md" "$N/ed.md"
cp "$T/src.md" "$T/want"
saved "cp over again" ed.md
echo 'appended' >>"$N/ed.md"
printf 'copied over\nappended\n' >"$T/want"
saved ">> append" ed.md
echo 'appended again' >>"$N/ed.md"
printf 'copied over\nappended\nappended again\n' >"$T/want"
saved ">> append again" ed.md

# ---- unchanged content makes no version ------------------------------------------------------
cp "$N/ed.md" "$N/ed2.md" && cp "$N/ed2.md" "$N/ed.md" || fail "cp a a2; cp a2 a"
unchanged "cp a a2; cp a2 a" ed.md
cp "$N/ed.md" "$T/copy" && cp "$T/copy" "$N/ed.md" || fail "cp out and back"
unchanged "cp out and back" ed.md
touch "$N/ed.md"
unchanged "touch" ed.md
cat "$N/ed.md" >/dev/null
python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR))' "$N/ed.md"
unchanged "open for writing, close" ed.md

# ---- scratch files work as files while they exist, and are never versions or results --------
# a real note with the same word first, so an empty search below means something
echo 'zebraquux in a real note' >"$N/zebra.md"
assert_eq "$(ls "$N/.search/zebraquux/")" "001-zebra.md" "search for the real note"
scratch=(.live.md.swp .live.md.swo live.md~ 4913 5036 .#live.md '#live.md#' .goutputstream-AB12CD sedAb12Cd .live.md.tmp live.md.tmp)
for s in "${scratch[@]}"; do
	echo "zebraquux in scratch $s" >"$N/$s" || fail "cannot create scratch file $s"
	echo "more" >>"$N/$s"
	assert_eq "$(cat "$N/$s")" "zebraquux in scratch $s
more" "scratch file $s reads back"
	ls -A "$N" | grep -qxF -- "$s" || fail "scratch file $s not listed while it exists"
done
echo 'zebraquux deep' >"$N/dir/.v.md.swp"
cp "$N/dir/.v.md.swp" "$N/dir/v.md~"
for s in "${scratch[@]}" dir/.v.md.swp dir/v.md~; do
	[ ! -e "$N/.versions/$s" ] || fail "scratch file $s has a history"
	[ -z "$(xattr user.hub.version "$N/$s")" ] || fail "scratch file $s has a version"
done
left=$(ls -A "$N/.versions" "$N/.versions/dir" | grep -E "$SCRATCH_RE" || true)
[ -z "$left" ] || fail "scratch files in .versions: $left"
assert_eq "$(ls "$N/.search/zebraquux/")" "001-zebra.md" "search with scratch files about"
assert_eq "$(ls "$N/.search/scratch/")" "" "search for a word only scratch files hold"
for s in "${scratch[@]}"; do rm "$N/$s" || fail "rm $s"; done
rm "$N/dir/.v.md.swp" "$N/dir/v.md~"
for s in "${scratch[@]}"; do assert_absent "$N/$s"; done

# ---- after all of it: only the notes are listed, everywhere ----------------------------------
assert_eq "$(ls -A "$N" | tr '\n' ' ')" ".conflicts .search .versions dir ed.md ed2.md vnew.md zebra.md " "notes/ after the editors"
assert_eq "$(ls -A "$N/dir" | tr '\n' ' ')" "v.md " "notes/dir after the editors"
assert_eq "$(ls -A "$N/.versions" | tr '\n' ' ')" "dir ed.md ed2.md vnew.md zebra.md " ".versions after the editors"
assert_eq "$(ls -A "$N/.versions/dir" | tr '\n' ' ')" "v.md " ".versions/dir after the editors"
for q in LINE1 copied vim appended here; do
	left=$(ls "$N/.search/$q/" | grep -E '^[0-9]+-' | sed 's/^[0-9]*-//' | grep -E "$SCRATCH_RE" || true)
	[ -z "$left" ] || fail "scratch files in search results for $q: $left"
done
assert_eq "$(ls "$N/.search/appended/" | sed 's/^[0-9]*-//' | sort | tr '\n' ' ')" "ed.md ed2.md " "search after the editors"
# every version of ed.md is intact, in order
for i in $(seq 1 "${NV[ed.md]}"); do
	[ -f "$N/.versions/ed.md/$i" ] || fail "version $i of ed.md missing"
done
events_has "note saved 'notes/ed.md'"
left=$(grep -oE "note saved 'notes/[^']*'" "$MNT/.hub/events" | sed "s/^note saved 'notes\///; s/'\$//" |
	xargs -n1 basename | grep -E "$SCRATCH_RE" || true)
[ -z "$left" ] || fail "scratch files saved as notes (events): $left"
hub_umount
